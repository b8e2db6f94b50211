# shellcheck shell=bash
# Helpers for lab scenarios (tests/lab/scenarios/*.sh). Source it:
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# Scenarios run inside the lab VM as root (see tests/lab/README.md). Output is TAP-like:
#   ok 1 - message / not ok 2 - message / # diagnostics, and `finish` ends with "1..N" and
# exits non-zero if any assertion failed.

if [[ ${LAB:-} != 1 ]]; then
    echo "lab/lib.sh: not inside the lab VM (LAB=1 unset); run via tests/lab/lab SCENARIO" >&2
    exit 125
fi

LAB_TESTS=0
LAB_FAILED=0
LAB_SKIPPED=0

# need_arg FUNC VALUE...: a helper given an empty pid or path is a broken test, not a pass:
# `pid_alive ""` would read /proc//stat (= /proc/stat) and say yes.
need_arg() {
    local fn=$1 v
    shift
    for v in "$@"; do
        if [[ -z $v ]]; then
            echo "lab/lib.sh: $fn: empty argument (a pid or path that was never found)" >&2
            return 2
        fi
    done
}

# --- TAP -----------------------------------------------------------------------------------
ok() {
    LAB_TESTS=$((LAB_TESTS + 1))
    echo "ok $LAB_TESTS - $*"
}
fail() {
    LAB_TESTS=$((LAB_TESTS + 1))
    LAB_FAILED=$((LAB_FAILED + 1))
    echo "not ok $LAB_TESTS - $*"
}
diag() { printf '# %s\n' "$@"; }
# skip MSG WHY: reported as "skip N - MSG: WHY"; under CI (CI=true) a skip is a failure.
skip() {
    LAB_TESTS=$((LAB_TESTS + 1))
    LAB_SKIPPED=$((LAB_SKIPPED + 1))
    if [[ ${CI:-} == true || ${CI:-} == 1 ]]; then
        LAB_FAILED=$((LAB_FAILED + 1))
        echo "not ok $LAB_TESTS - $1 (skipped under CI: $2)"
    else
        echo "skip $LAB_TESTS - $1: $2"
    fi
}

# assert_eq GOT WANT MSG
assert_eq() {
    if [[ $1 == "$2" ]]; then
        ok "$3"
    else
        fail "$3"
        diag "  got:  '$1'" "  want: '$2'"
    fi
}
# assert_ne GOT UNWANTED MSG
assert_ne() {
    if [[ $1 != "$2" ]]; then
        ok "$3"
    else
        fail "$3"
        diag "  got '$1', which it must not be"
    fi
}
# check MSG CMD [ARGS...]: ok if the command succeeds (its output is shown as diagnostics on failure).
check() {
    local msg=$1 out
    shift
    if out=$("$@" 2>&1); then
        ok "$msg"
    else
        fail "$msg"
        [[ -n $out ]] && diag "$(printf '%s\n' "$out" | tail -n 20)"
        diag "  command: $*"
    fi
}
# finish: print the plan and exit 0 if every assertion passed (and at least one ran), else 1.
finish() {
    echo "1..$LAB_TESTS"
    ((LAB_SKIPPED > 0)) && diag "$LAB_SKIPPED skipped"
    if ((LAB_FAILED > 0)); then
        diag "$LAB_FAILED of $LAB_TESTS failed"
        exit 1
    fi
    if ((LAB_TESTS == 0)); then
        diag "no assertions ran"
        exit 1
    fi
    exit 0
}

# --- PCI / IOMMU / DRM ---------------------------------------------------------------------
# ADDR is a full PCI address like 0000:01:00.0.
pci_dev() { echo "/sys/bus/pci/devices/$1"; }

# driver_of ADDR: name of the bound driver, or "none".
driver_of() {
    need_arg driver_of "${1:-}" || return 2
    local l=/sys/bus/pci/devices/$1/driver
    if [[ -e $l ]]; then basename "$(readlink -f "$l")"; else echo none; fi
}
# group_of ADDR: IOMMU group number, or "none".
group_of() {
    need_arg group_of "${1:-}" || return 2
    local l=/sys/bus/pci/devices/$1/iommu_group
    if [[ -e $l ]]; then basename "$(readlink -f "$l")"; else echo none; fi
}
# group_devices ADDR: the addresses in ADDR's IOMMU group, one a line, sorted.
group_devices() {
    local g
    g=$(group_of "$1")
    [[ $g != none ]] || return 1
    local d
    for d in /sys/kernel/iommu_groups/"$g"/devices/*; do echo "${d##*/}"; done | sort
}
# pci_id ADDR: vendor:device in lowercase hex without 0x, e.g. 1234:1111.
pci_id() {
    need_arg pci_id "${1:-}" || return 2
    local d=/sys/bus/pci/devices/$1 v dv
    v=$(<"$d/vendor") dv=$(<"$d/device")
    echo "${v#0x}:${dv#0x}"
}
# card_of ADDR: the /dev/dri/cardN node of a PCI device's DRM card (fails if it has none).
card_of() {
    need_arg card_of "${1:-}" || return 2
    local c
    for c in /sys/bus/pci/devices/"$1"/drm/card*; do
        [[ -e $c ]] || continue
        echo "/dev/dri/${c##*/}"
        return 0
    done
    return 1
}
# holders_of PATH: pids that have PATH open (via /proc/*/fd), one a line.
holders_of() {
    need_arg holders_of "${1:-}" || return 2
    local target fd pid
    target=$(readlink -f "$1")
    for fd in /proc/[0-9]*/fd/*; do
        [[ $(readlink "$fd" 2>/dev/null) == "$target" ]] || continue
        pid=${fd#/proc/}
        echo "${pid%%/*}"
    done | sort -un
}

# wait_until SECS CMD [ARGS...]: poll CMD every 0.1 s until it succeeds; fail after SECS.
wait_until() {
    local secs=$1 end
    shift
    end=$((SECONDS + secs))
    until "$@"; do
        ((SECONDS < end)) || return 1
        sleep 0.1
    done
}

# --- Xorg ----------------------------------------------------------------------------------
LAB_XORG_DISPLAY=${LAB_XORG_DISPLAY:-:0}
LAB_XORG_TIMEOUT=${LAB_XORG_TIMEOUT:-60}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
    need_arg pid_alive "${1:-}" || return 2
    local state
    [[ -r /proc/$1/stat ]] || return 1
    state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}
# pid_gone PID: the process no longer exists (or is a zombie); an empty PID is an error, not "gone".
pid_gone() {
    need_arg pid_gone "${1:-}" || return 2
    ! pid_alive "$1"
}
xorg_answers() { xset -display "$LAB_XORG_DISPLAY" q >/dev/null 2>&1; }

# xorg_start safe|default: start Xorg on :0 and echo its pid once `xset q` answers.
#   safe:    ServerFlags AutoAddGPU off, modesetting on the virtio card (00:02.0) via kmsdev;
#            the bochs GPU (01:00.0) stays free to go to vfio-pci and back.
#   default: no configuration at all: Xorg grabs both GPUs (bochs as GPU screen G0), the
#            real-world trap.
#   system:  no -config/-configdir at all: Xorg reads /etc/X11/xorg.conf(.d) and
#            /usr/share/X11/xorg.conf.d like a real desktop's (for `vmrun setup`).
# Log: /tmp/lab-xorg-MODE.log (Xorg's own) and /tmp/lab-xorg-MODE.out (stdout/stderr).
xorg_start() {
    local mode=${1:-} conf=/tmp/lab-xorg-$1.conf confdir=/tmp/lab-xorg.d card pid log out
    log=/tmp/lab-xorg-$mode.log out=/tmp/lab-xorg-$mode.out
    mkdir -p "$confdir"   # empty: keeps /etc/X11/xorg.conf.d out of it
    case $mode in
        safe)
            card=$(card_of 0000:00:02.0) || { echo "xorg_start: no DRM card for 0000:00:02.0" >&2; return 1; }
            cat >"$conf" <<EOF
Section "ServerFlags"
    Option "AutoAddGPU" "off"
EndSection
Section "Device"
    Identifier "host-gpu"
    Driver "modesetting"
    Option "kmsdev" "$card"
EndSection
EOF
            ;;
        default) : >"$conf" ;;   # an empty file, so no /etc/X11/xorg.conf either
        system) ;;               # the system's own configuration, no overrides
        *) echo "xorg_start: mode must be safe, default or system, got '$mode'" >&2; return 1 ;;
    esac
    local cfg=(-config "$conf" -configdir "$confdir")
    [[ $mode == system ]] && cfg=()
    if xorg_answers; then
        echo "xorg_start: something already answers on $LAB_XORG_DISPLAY" >&2
        return 1
    fi
    rm -f "/tmp/.X${LAB_XORG_DISPLAY#:}-lock" "/tmp/.X11-unix/X${LAB_XORG_DISPLAY#:}"
    # No real VT in the VM: share vt1 and never switch. setsid: own session, no tty.
    setsid Xorg "$LAB_XORG_DISPLAY" "${cfg[@]}" -nolisten tcp \
        -noreset -novtswitch -sharevts vt1 -logfile "$log" </dev/null >"$out" 2>&1 &
    pid=$!
    local end=$((SECONDS + LAB_XORG_TIMEOUT))
    until xorg_answers; do
        if ! pid_alive "$pid"; then
            echo "xorg_start: Xorg ($mode) exited before answering; last lines of $log:" >&2
            tail -n 15 "$log" "$out" >&2 2>/dev/null
            return 1
        fi
        if ((SECONDS >= end)); then
            echo "xorg_start: Xorg ($mode, pid $pid) did not answer within ${LAB_XORG_TIMEOUT}s" >&2
            tail -n 15 "$log" >&2 2>/dev/null
            kill -KILL "$pid" 2>/dev/null
            return 1
        fi
        sleep 0.2
    done
    echo "$pid"
}

# xorg_alive PID: the server process is alive and `xset q` answers.
xorg_alive() { need_arg xorg_alive "${1:-}" || return 2; pid_alive "$1" && xorg_answers; }

# xorg_stop PID: terminate the server and wait (up to 15 s) until it is gone.
xorg_stop() {
    need_arg xorg_stop "${1:-}" || return 2
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    if ! wait_until 15 pid_gone "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        wait_until 5 pid_gone "$pid" || return 1
    fi
    rm -f "/tmp/.X${LAB_XORG_DISPLAY#:}-lock"
}

# --- the model of NVIDIA's stack (nvidia-model/, README.md) --------------------------------
LAB_NV_STACK="nvidia nvidia_drm nvidia_modeset nvidia_uvm"

# nvidia_model_install: the model's four modules for this kernel (make check-lab builds them
# into $VMRUN_BUILD/nvidia-model; else they are built here), where modprobe finds them.
nvidia_model_install() {
    local kver models repo
    kver=$(uname -r)
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    models=$VMRUN_BUILD/nvidia-model
    if [[ $(cat "$models/kernel-version" 2>/dev/null) != "$kver" ]]; then
        models=$(mktemp -d)/nvidia-model
        echo "# building the model for $kver in the lab"
        "$repo/tests/lab/nvidia-model/build" "$models" "$kver" || return 1
    fi
    mkdir -p "/lib/modules/$kver/updates/nvidia-model" &&
        cp "$models"/*.ko "/lib/modules/$kver/updates/nvidia-model/" &&
        depmod -a "$kver"
}

# nvidia_model_bind ADDR: ADDR pinned to nvidia (the model has no id table, like a card the
# real driver takes) and the stack loaded the way the packages load it.
nvidia_model_bind() {
    need_arg nvidia_model_bind "${1:-}" || return 2
    local drv
    echo nvidia >"/sys/bus/pci/devices/$1/driver_override" || return 1
    drv=$(driver_of "$1")
    [[ -z $drv ]] || echo "$1" >"/sys/bus/pci/drivers/$drv/unbind" || return 1
    modprobe nvidia_drm && modprobe nvidia_uvm || return 1
    # Loaded before (another GPU on it): the kernel probes a device only when asked.
    [[ $(driver_of "$1") == nvidia ]] || echo "$1" >/sys/bus/pci/drivers_probe 2>/dev/null
    [[ $(driver_of "$1") == nvidia ]]
}

# nvidia_loaded: which of the stack's modules are loaded, in LAB_NV_STACK's order.
nvidia_loaded() {
    local m out=""
    for m in $LAB_NV_STACK; do [[ -d /sys/module/$m ]] && out+="$m "; done
    echo "${out% }"
}

# nvidia_hidden_holder NODE READY_FILE: a holder no scan can see, in the background ($! is it):
# NODE opened and its fd sent over a unix socket that nobody reads, then closed, so only the
# socket's queue holds it (in no /proc/*/fd). "ready" goes to READY_FILE once that is so.
nvidia_hidden_holder() {
    need_arg nvidia_hidden_holder "${1:-}" || return 2
    python3 - "$1" >"$2" 2>&1 <<'PY' &
import os, socket, sys, time
a, b = socket.socketpair()
fd = os.open(sys.argv[1], os.O_RDONLY)
socket.send_fds(a, [b"x"], [fd])
os.close(fd)
print("ready", flush=True)
time.sleep(900)
PY
}
