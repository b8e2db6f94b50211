#!/bin/bash
# lab-init: systemd
# lab-timeout: 2700
# lab-cost: 720
# Issue 21 in the lab booted with systemd (udev, logind, user managers real): KWin 5.27
# (kwin_wayland, QPainter on both cards) in alice's logind session on seat0, holding the host's
# virtio card and the "discrete" bochs card through logind, with logind's and PID 1's copies.
# vmrun names it with KWin's own fix; `vmrun --release` runs a VM with the card while KWin keeps
# running (same pid, answering, its host output unchanged) and gets the card back; a KWin that
# does not let go in time, and one whose primary GPU the card is, are refused with nothing
# changed; `vmrun setup` keeps a new session off the card, `check` says so, and --undo restores
# every file.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
HELPER=/usr/local/libexec/vmrun/vmrun-helper
GPU=0000:01:00.0 AUDIO=0000:01:00.1 HOST=0000:00:02.0
HOME_STATE="bochs-drm snd_hda_intel"
home() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }

assert_eq "$(ps -p 1 -o comm=)" systemd "PID 1 is systemd"
useradd -m -G video,render,input alice || { fail "user alice made"; finish; }
uid=$(id -u alice)
install -d -m 0755 /usr/local/libexec/vmrun
install -m 4755 -o root -g root "$VMRUN_BUILD/vmrun-helper" "$HELPER"
install -d -m 0755 /etc/vmrun
printf -- '- {device: "%s", users: [alice]}\n' $GPU >/etc/vmrun/allow.yaml
as_alice() {
    setpriv --reuid=alice --regid=alice --init-groups env -i PATH="$PATH" HOME=/home/alice USER=alice \
        XDG_RUNTIME_DIR=/run/user/$uid VMRUN_BUILD="$VMRUN_BUILD" "$@"
}
# Alice's output file, in a directory that is not sticky (fs.protected_regular keeps root from
# opening another user's file in /tmp).
outdir=$(mktemp -d) && chmod 0755 "$outdir" && out=$outdir/out && : >"$out" && chown alice "$out"
host=$(card_of $HOST) dgpu=$(card_of $GPU)
diag "host GPU $HOST is $host; the discrete $GPU is $dgpu"

# --- KWin in a logind session of alice's on seat0 (tty2) ------------------------------------
# kwin_start UNIT [VAR=VALUE...] -- CMD...: a PAM login session (pam_systemd: session scope,
# XDG_SESSION_ID, /run/user/UID), made the active one; echoes KWin's pid once it answers.
kwin_start() {
    local unit=$1 envs=() pid=""
    shift
    while [[ $1 != -- ]]; do envs+=(-E "$1"); shift; done
    shift
    systemd-run --quiet --unit="$unit" -p PAMName=login -p User=alice -p TTYPath=/dev/tty2 \
        -p StandardInput=tty -p StandardOutput=journal -p StandardError=journal \
        -E XDG_SESSION_TYPE=wayland -E KWIN_COMPOSE=Q "${envs[@]}" "$@" || return 1
    busybox chvt 2 2>/dev/null
    wait_until 120 eval 'pid=$(pgrep -u alice -x kwin_wayland); [[ -n $pid ]] && outputs >/dev/null' || return 1
    echo "$pid"
}
# The compositor answering: its outputs as a client sees them, "NAME@X,Y" each (wayland-info).
outputs() {
    as_alice env WAYLAND_DISPLAY=wayland-lab timeout 60 wayland-info 2>/dev/null |
        awk '/^interface: .wl_output/ { o = 1; next } o && /name: / { n = $2 }
             o && /x: .*y: / { gsub(",", "", $2); gsub(",", "", $4); print n "@" $2 "," $4; o = 0 }' |
        sort | tr '\n' ' '
}
kwin_stop() {
    systemctl stop "$1"
    wait_until 30 sh -c '! pgrep -u alice -x kwin_wayland >/dev/null'
}
holds() { holders_of "$2" | grep -qx "$1"; } # holds PID NODE
holds_not() { ! holds "$@"; }
logind=$(pgrep -x systemd-logind)

kpid=$(kwin_start kwin-a KWIN_DRM_DEVICES=$host:$dgpu -- /usr/bin/kwin_wayland --socket wayland-lab)
if [[ -z $kpid ]]; then
    fail "KWin starts in alice's session"
    journalctl -u kwin-a --no-pager | tail -n 30 | while read -r l; do diag "$l"; done
    finish
fi
sid=$(tr '\0' '\n' </proc/$kpid/environ | sed -n 's/^XDG_SESSION_ID=//p')
ok "KWin (pid $kpid) runs in alice's logind session $sid on seat0"
check "...which is active on seat0" grep -qx ACTIVE=1 /run/systemd/sessions/$sid
both=$(outputs)
diag "KWin's outputs: $both"
assert_eq "$(wc -w <<<"$both")" 2 "KWin has an output on each card"
check "KWin holds the discrete card" holds $kpid $dgpu
check "...and so does logind (pid $logind), its copy" holds "$logind" $dgpu
check "...and PID 1, logind's fd store" holds 1 $dgpu

# --- named for what it is, with its own fix -------------------------------------------------
as_alice tests/lab/tiny-guest /home/alice/vm lab acpi 30 >/dev/null
prof=/home/alice/vm/lab.yaml
as_alice "$VMRUN" check $prof >"$out" 2>&1
check "check names KWin, its session and user" grep -q "pid $kpid kwin_wayland (KWin, user alice, session $sid on seat0) holds $dgpu" "$out"
check "...with KWin's fix: --release for the run" grep -q "fix: KWin lets go of a GPU that is not its primary: \`--release\`" "$out"
check "...and for good, KWIN_DRM_DEVICES" grep -q "KWIN_DRM_DEVICES=/dev/dri/vmrun-host" "$out"
check "...never Xorg's" sh -c "! grep -q AutoAddGPU $out"
check "check says KWin will open the card at its next login" grep -q "KWin will open it at its next login: no KWIN_DRM_DEVICES in the login environment" "$out"
as_alice "$VMRUN" detach $GPU >"$out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "3:$HOME_STATE" "detach without --release: busy (3), nothing changed"
check "...naming KWin and its fix" grep -q "kwin_wayland (KWin, user alice, session $sid on seat0) holds $dgpu.*--release" "$out"
# The helper (root) sees what alice's own scan cannot: logind's and PID 1's copies.
check "...and logind's copy, for that session" grep -q "pid $logind systemd-logind (logind: its copy of session $sid on seat0's device, alice's) holds $dgpu" "$out"
check "...and PID 1's" grep -q "pid 1 systemd (logind's fd store in PID 1: its copy of session $sid on seat0's device, alice's) holds $dgpu" "$out"

# --- --release: a VM run with the card while KWin keeps running -----------------------------
as_alice "$VMRUN" --release $prof >"$out" 2>&1 &
vpid=$!
guest_up_or_run_gone() { grep -qs GUEST-ACPI /home/alice/vm/serial.log || pid_gone $vpid; }
wait_until 600 guest_up_or_run_gone
assert_eq "$(home)" "vfio-pci vfio-pci" "during the run: the group is on vfio-pci"
check "the run said who was asked, before asking" grep -q "kwin_wayland (KWin, user alice, session $sid on seat0) holds $dgpu: it is asked to let go (--release)" "$out"
check "...and that the desktop let go" grep -q "the desktop let go of $dgpu" "$out"
check "KWin (pid $kpid) is alive during the run" pid_alive $kpid
during=$(outputs)
assert_eq "$(wc -w <<<"$during")" 1 "KWin answers, with one output left ($during)"
check "...its host output, unchanged (name and place)" grep -qw -- "${during% }" <<<"$both"
# The output that went away is the card's (KWin numbers them in the order it found the cards).
gone=$(for o in $both; do grep -qw -- "$o" <<<"$during" || echo "${o%@*}"; done)
check "the run said the card's monitor goes dark ($gone)" grep -q "its monitors go with it for the run: $gone$" "$out"
check "the guest sees the card" grep -q "GUEST-PCI .* 1234:1111" /home/alice/vm/serial.log
as_alice "$VMRUN" stop lab >/dev/null 2>&1
wait $vpid; rc=$?
assert_eq "$rc" 0 "the run ends (exit 0) when the guest powers off"
[[ $rc == 0 ]] || diag "$(tail -n 20 "$out")"
assert_eq "$(home)" "$HOME_STATE" "after the run: the group is back on its host drivers"
dgpu2=$(card_of $GPU)
check "KWin (same pid $kpid) took the card back" wait_until 60 holds $kpid "$dgpu2"
check "...alive" pid_alive $kpid
assert_eq "$(outputs)" "$both" "KWin answers, with both outputs as before the run"
left=$(for p in $(holders_of "$dgpu2"); do [[ $p == "$kpid" || $p == "$logind" || $p == 1 ]] || echo "$p"; done)
assert_eq "$left" "" "nothing but the desktop holds the card (no vmrun, no QEMU)"

# --- a compositor that does not let go in time ----------------------------------------------
kill -STOP $kpid
as_alice "$VMRUN" detach --release $GPU >"$out" 2>&1; rc=$?
kill -CONT $kpid
assert_eq "$rc:$(home)" "3:$HOME_STATE" "a stopped KWin: refused (3), nothing switched"
check "...saying who kept it and that the card is offered back" grep -q "kwin_wayland (KWin, user alice, session $sid on seat0) holds $dgpu2.*not let go within 15.0 s, so nothing was switched and the card is offered back" "$out"
check "KWin, running again, holds the card" wait_until 60 holds $kpid "$dgpu2"
assert_eq "$(wc -w <<<"$(outputs)")" 2 "...and answers with both outputs"

# --- never the primary GPU ------------------------------------------------------------------
kwin_stop kwin-a
kpid=$(kwin_start kwin-b KWIN_DRM_DEVICES=$dgpu2:$host -- /usr/bin/kwin_wayland --socket wayland-lab)
check "KWin with the discrete card as its primary runs (pid ${kpid:-none})" test -n "$kpid"
n=$(outputs)
as_alice "$VMRUN" detach --release $GPU >"$out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "3:$HOME_STATE" "its primary GPU: refused (3), nothing changed"
check "...saying it is KWin's primary" grep -q "$dgpu2 is KWin's primary GPU (it would lose every output): never taken from it" "$out"
check "...and KWin was never asked (it holds the card)" holds "$kpid" "$dgpu2"
assert_eq "$(outputs)" "$n" "...its outputs unchanged"
kwin_stop kwin-b

# --- the permanent set-up, and a fresh session ----------------------------------------------
snap() { # what setup may touch, with modes and contents
    find /etc/udev /etc/profile.d /etc/X11 /etc/xdg /etc/vmrun /etc/default -printf '%p %m %y\n' 2>/dev/null | sort
    find /etc/udev /etc/profile.d /etc/X11 /etc/xdg /etc/vmrun /etc/default -type f -exec sha256sum {} + 2>/dev/null | sort
}
before=$(snap)
SUDO_USER=alice SUDO_UID=$uid "$VMRUN" setup --yes $prof >"$out" 2>&1; rc=$?
assert_eq "$rc" 0 "setup --yes applies"
check "...the udev rule naming the host card" grep -q "KERNELS==\"$HOST\", SYMLINK+=\"dri/vmrun-host\"" /etc/udev/rules.d/61-vmrun-gpus.rules
check "...which udev applied: /dev/dri/vmrun-host is $host" test "$(readlink -f /dev/dri/vmrun-host)" = "$host"
check "...and the login environment" grep -q "export KWIN_DRM_DEVICES=/dev/dri/vmrun-host" /etc/profile.d/vmrun-gpu.sh
# A new session the way a display manager's session script starts one: a login shell.
kpid=$(kwin_start kwin-c -- /bin/bash -lc 'exec /usr/bin/kwin_wayland --socket wayland-lab')
check "a new KWin session runs (pid ${kpid:-none})" test -n "$kpid"
check "...with KWIN_DRM_DEVICES from the set-up" grep -qz "^KWIN_DRM_DEVICES=/dev/dri/vmrun-host$" /proc/"$kpid"/environ
check "...holding the host card" holds "$kpid" "$host"
check "...and not the discrete one" holds_not "$kpid" "$dgpu2"
assert_eq "$(wc -w <<<"$(outputs)")" 1 "...one output, on the host card"
as_alice "$VMRUN" check $prof >"$out" 2>&1
check "check: KWin leaves it alone at its next login" grep -q "KWin leaves it alone at its next login: KWIN_DRM_DEVICES is set (/etc/profile.d/vmrun-gpu.sh)" "$out"
check "check: so do wlroots compositors (sway)" grep -q "a wlroots compositor leaves it alone at its next login" "$out"
as_alice "$VMRUN" detach $GPU >"$out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:vfio-pci vfio-pci" "detach (no --release) while the new session runs"
as_alice "$VMRUN" attach $GPU >"$out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:$HOME_STATE" "attach"
check "KWin (pid $kpid) still runs" pid_alive "$kpid"
assert_eq "$(wc -w <<<"$(outputs)")" 1 "...and answers, with its one output"
kwin_stop kwin-c
"$VMRUN" setup --undo >"$out" 2>&1; rc=$?
assert_eq "$rc" 0 "setup --undo"
assert_eq "$(snap | sha256sum)" "$(sha256sum <<<"$before")" "...every file back byte for byte, modes included"
check "...and udev dropped the name" wait_until 20 test ! -e /dev/dri/vmrun-host

# --- sway 1.7 (wlroots 0.15), as far as the lab lets it -------------------------------------
# Its pixman renderer is the only one the lab's cards allow, and with it wlroots never opens a
# second card: sway runs on the host card, and the GPU goes to vfio-pci and back under it.
sway_answers() { as_alice swaymsg -s "/run/user/$uid/sway-ipc.$uid.$1.sock" -t get_version >/dev/null 2>&1; }
systemd-run --quiet --unit=sway-a -p PAMName=login -p User=alice -p TTYPath=/dev/tty2 \
    -p StandardInput=tty -p StandardOutput=journal -p StandardError=journal \
    -E XDG_SESSION_TYPE=wayland -E WLR_RENDERER=pixman -E WLR_LIBINPUT_NO_DEVICES=1 /usr/bin/sway
busybox chvt 2 2>/dev/null
spid=""
wait_until 120 eval 'spid=$(pgrep -u alice -x sway) && sway_answers "$spid"'
if [[ -n $spid ]] && sway_answers "$spid"; then
    ok "sway (pid $spid) runs in alice's logind session and answers swaymsg"
    dgpu3=$(card_of $GPU)
    check "...on the host card" holds "$spid" "$(card_of $HOST)"
    check "...not the discrete one (pixman)" holds_not "$spid" "$dgpu3"
    as_alice "$VMRUN" detach $GPU >"$out" 2>&1; rc=$?
    assert_eq "$rc:$(home)" "0:vfio-pci vfio-pci" "detach under sway"
    as_alice "$VMRUN" attach $GPU >"$out" 2>&1; rc=$?
    assert_eq "$rc:$(home)" "0:$HOME_STATE" "attach under sway"
    check "sway (same pid $spid) still answers" sway_answers "$spid"
else
    fail "sway runs in alice's logind session"
    journalctl -u sway-a --no-pager | tail -n 20 | while read -r l; do diag "$l"; done
fi
systemctl stop sway-a
finish
