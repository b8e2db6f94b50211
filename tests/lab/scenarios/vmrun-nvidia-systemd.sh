#!/bin/bash
# lab-init: systemd
# lab-devices: second-gpu
# lab-timeout: 1500
# lab-cost: 270
# Issue 19 in the lab booted with systemd: the model of NVIDIA's stack with nvidia-persistenced
# as packaged (a system unit of that name holding /dev/nvidiactl and the GPUs' nodes, started by
# a udev rule whenever nvidia loads). check reports the NVIDIA facts; a VM run stops the daemon
# (checked gone) and unloads the stack, nothing brings the daemon back while the VM has the GPU,
# and on the way back the stack is loaded, the GPU rebound and the daemon running again. A
# second GPU on nvidia keeps the stack loaded, and the switch goes on; with it, an unbind that
# hangs in nvidia's remove (a hidden holder, the 595 series) is reported by vmrun's deadline
# and restore finishes once the kernel lets go.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
GPU=0000:01:00.0 AUDIO=0000:01:00.1 GPU2=0000:02:00.0
tmp=$(mktemp -d)
UNIT=nvidia-persistenced.service
RULE=/etc/udev/rules.d/71-nvidia-model.rules
state() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }
active() { systemctl is-active $UNIT 2>/dev/null; }
daemon_pid() { systemctl show -P MainPID $UNIT; }
# holds_nodes PID: the nvidia nodes the process has open, sorted.
holds_nodes() { ls -l /proc/"$1"/fd 2>/dev/null | grep -o '/dev/nvidia[a-z0-9-]*' | sort | xargs; }

assert_eq "$(ps -p 1 -o comm=)" systemd "PID 1 is systemd"
check "the model's modules are installed" nvidia_model_install

# nvidia-persistenced as packaged: its unit (here a stand-in holding what the daemon holds) and
# the udev rule that starts it when nvidia loads.
cat >/etc/systemd/system/$UNIT <<'UNIT'
[Unit]
Description=NVIDIA Persistence Daemon (the lab's stand-in: holds what the daemon holds)
[Service]
ExecStart=/bin/bash -c 'for i in $(seq 50); do [ -e /dev/nvidia0 ] && break; sleep 0.1; done; exec 3</dev/nvidiactl; for n in /dev/nvidia[0-9]*; do exec {fd}<"$n"; done; exec sleep infinity'
UNIT
echo "ACTION==\"add\", SUBSYSTEM==\"module\", KERNEL==\"nvidia\", RUN+=\"/usr/bin/systemctl --no-block start $UNIT\"" >$RULE
systemctl daemon-reload
udevadm control --reload

check "01:00.0 on nvidia, the stack loaded" nvidia_model_bind $GPU
check "the udev rule started $UNIT when nvidia loaded" wait_until 30 eval '[[ $(active) == active ]]'
pid=$(daemon_pid)
check "the daemon holds /dev/nvidiactl and /dev/nvidia0" wait_until 10 eval '[[ $(holds_nodes $pid) == "/dev/nvidia0 /dev/nvidiactl" ]]'

# --- check: the NVIDIA facts, before the first run ---
"$VMRUN" check >"$tmp/check" 2>&1
check "check: modeset=1 fbdev=1, with the fix for good" grep -q "nvidia_drm has modeset=1 and fbdev=1" "$tmp/check"
check "...fix: nvidia-drm.fbdev=0" grep -q "nvidia-drm.fbdev=0" "$tmp/check"
check "check: the daemon's unit and the rule that starts it" grep -q "nvidia-persistenced (/etc/systemd/system/$UNIT) keeps /dev/nvidia\* open while it runs: vmrun stops it before the switch and starts it again after; $RULE starts it when nvidia loads" "$tmp/check"
check "check: the daemon is named as holding the card, stopped for the run" grep -q "pid $pid .*holds /dev/nvidia.*$UNIT is stopped for the run and started again after" "$tmp/check"
check "check: the stack goes for the run, in order" grep -q "no other device uses nvidia: nvidia_drm, nvidia_modeset, nvidia_uvm, nvidia are unloaded for the run" "$tmp/check"
grep -q "nvidia_drm has modeset" "$tmp/check" || diag "$(cat "$tmp/check")"

# --- a VM run: the daemon stopped and gone, the stack unloaded, nothing brings them back while
# the guest has the GPU; after it, all of it back ---
tests/lab/tiny-guest "$tmp/g" nvsd acpi 20 >/dev/null
"$VMRUN" "$tmp/g/nvsd.yaml" >"$tmp/run.out" 2>&1 &
vpid=$!
check "the VM has the GPU" wait_until 120 eval '[[ $(state) == "vfio-pci vfio-pci" ]]'
check "the daemon is stopped" test "$(active)" != active
check "...and gone (pid $pid)" pid_gone "$pid"
assert_eq "$(nvidia_loaded)" "" "the stack is unloaded"
check "the tiny guest booted with the GPU" wait_until 600 grep -q GUEST-ACPI "$tmp/g/serial.log"
sleep 3
check "while the guest has it, nothing started the daemon again" test "$(active)" != active
"$VMRUN" stop nvsd >/dev/null 2>&1
wait $vpid; rc=$?
assert_eq "$rc" 0 "the run ends (exit 0) when the guest powers off"
[[ $rc == 0 ]] || diag "$(tail -n 25 "$tmp/run.out")"
assert_eq "$(state) | $(nvidia_loaded)" "nvidia snd_hda_intel | $LAB_NV_STACK" "after the run: on nvidia, the stack loaded"
check "the daemon is running again" wait_until 30 eval '[[ $(active) == active ]]'
pid=$(daemon_pid)
check "...holding the card again" wait_until 10 eval '[[ $(holds_nodes $pid) == "/dev/nvidia0 /dev/nvidiactl" ]]'
check "the run said it stopped and started the daemon" grep -q "$UNIT" "$tmp/run.out"

# --- a second GPU on nvidia: the stack stays, the switch goes on ---
if [[ -e /sys/bus/pci/devices/$GPU2 ]]; then
    check "a second GPU ($GPU2) on nvidia too" nvidia_model_bind $GPU2
    systemctl restart $UNIT
    # Holding both GPUs' nodes before the switch starts (a daemon that opens them while a switch
    # runs is a race no scan can win: its unbind would hang, as below).
    check "the daemon holds both GPUs' nodes" wait_until 10 eval '[[ $(holds_nodes $(daemon_pid)) == "/dev/nvidia0 /dev/nvidia1 /dev/nvidiactl" ]]'
    "$VMRUN" detach $GPU >"$tmp/out" 2>&1; rc=$?
    assert_eq "$rc" 0 "detach of 01:00.0 with $GPU2 on nvidia exits 0"
    [[ $rc == 0 ]] || diag "$(cat "$tmp/out")"
    assert_eq "$(state)" "vfio-pci vfio-pci" "01:00.0 is on vfio-pci"
    assert_eq "$(nvidia_loaded)" "$LAB_NV_STACK" "the stack stays loaded for $GPU2"
    assert_eq "$(driver_of $GPU2)" nvidia "$GPU2 stays on nvidia"
    check "$GPU2's DRM card stays" card_of $GPU2
    "$VMRUN" attach $GPU >"$tmp/out" 2>&1; rc=$?
    assert_eq "$rc" 0 "attach exits 0"
    assert_eq "$(state) | $(driver_of $GPU2)" "nvidia snd_hda_intel | nvidia" "both GPUs on nvidia"
    check "the daemon runs after the switch" wait_until 30 eval '[[ $(active) == active ]]'

    # A holder no scan can see (its fd in flight in a unix socket), the stack kept for $GPU2, and
    # the 595 series' remove that never ends: the unbind hangs in the kernel, not vmrun.
    systemctl stop $UNIT
    nvidia_hidden_holder /dev/nvidia0 "$tmp/hidden"
    hid=$!
    wait_until 10 grep -q ready "$tmp/hidden"
    echo 1 >/sys/module/nvidia/parameters/hang_forever
    t0=$SECONDS
    timeout 300 "$VMRUN" detach $GPU >"$tmp/out" 2>&1; rc=$?
    took=$((SECONDS - t0))
    assert_eq "$rc" 5 "a hung unbind: detach exits 5 (restore pending) after ${took}s"
    check "it says the kernel did not return from the unbind" grep -q "did not return from writing /sys/bus/pci/drivers/nvidia/unbind" "$tmp/out"
    [[ $rc == 5 ]] || diag "$(cat "$tmp/out")"
    check "vmrun returned by its write deadline (${took}s < 90s)" test "$took" -lt 90
    check "the kernel is waiting in nvidia's remove" grep -q "NVRM: Attempting to remove device $GPU" <(dmesg)
    check "the host goes on: $GPU2 still answers" grep -q "Device Minor" /proc/driver/nvidia/gpus/$GPU2/information
    "$VMRUN" status >"$tmp/status" 2>&1
    check "vmrun status answers and says a restore is pending" grep -qi "restore" "$tmp/status"
    # The holder goes; the 595 series' remove still does not end. restore says so, by its deadline.
    kill $hid; wait $hid 2>/dev/null
    t0=$SECONDS
    timeout 300 "$VMRUN" restore >"$tmp/out" 2>&1; rc=$?
    took=$((SECONDS - t0))
    assert_eq "$rc" 5 "restore while the remove still hangs: exit 5 after ${took}s, nothing hangs"
    [[ $rc == 5 ]] || diag "$(cat "$tmp/out")"
    # The lab's own way out (not NVIDIA's): the remove ends; restore finishes the job.
    echo 1 >/sys/module/nvidia/parameters/lab_release
    wait_until 30 test ! -e /sys/bus/pci/devices/$GPU/driver
    echo 0 >/sys/module/nvidia/parameters/lab_release
    echo 0 >/sys/module/nvidia/parameters/hang_forever
    wait_until 30 eval '[[ -z $(pgrep -f "vmrun" | xargs -r ps -o stat= -p | grep D) ]]'
    "$VMRUN" restore >"$tmp/out" 2>&1; rc=$?
    assert_eq "$rc" 0 "once the kernel let go, restore exits 0"
    [[ $rc == 0 ]] || diag "$(cat "$tmp/out")"
    assert_eq "$(state) | $(driver_of $GPU2) | $(nvidia_loaded)" "nvidia snd_hda_intel | nvidia | $LAB_NV_STACK" "both GPUs on nvidia, the stack loaded"
    check "no journal left" test ! -e /run/vmrun/switch/group-$(group_of $GPU).json
else
    fail "the lab has a second GPU at $GPU2 (# lab-devices: second-gpu)"
fi

finish
