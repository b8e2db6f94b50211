#!/bin/bash
# lab-timeout: 1500
# lab-cost: 250
# Issue 19 in the lab: the discrete GPU on the model of NVIDIA's stack (tests/lab/nvidia-model:
# nvidia, nvidia_modeset, nvidia_drm, nvidia_uvm, built against this kernel's headers). The
# model's unbind waits while any node is open, as the real one's; vmrun must name every holder
# and refuse before it starts one, unload the stack in order and load it again on the way back,
# run a VM, survive kill -9 at any instant, and stop before any unbind when a holder no scan
# can see keeps nvidia loaded.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
CON2FB=$VMRUN_BUILD/tools/con2fb
GPU=0000:01:00.0 AUDIO=0000:01:00.1
G=$(group_of $GPU)
KVER=$(uname -r)
tmp=$(mktemp -d)
STACK=$LAB_NV_STACK
state() { echo "$(driver_of $GPU) $(driver_of $AUDIO) $(cat /sys/bus/pci/devices/$GPU/driver_override) $(cat /sys/bus/pci/devices/$AUDIO/driver_override)"; }
loaded() { nvidia_loaded; }
removes() { dmesg | grep -c "NVRM: Attempting to remove device $GPU"; }
NV_HOME="nvidia snd_hda_intel nvidia (null)"
VFIO_STATE="vfio-pci vfio-pci vfio-pci vfio-pci"

# --- the model, built for this kernel; the GPU on it, as a user's machine has it ---
check "the model's modules are installed for $KVER" nvidia_model_install
check "01:00.0 pinned to nvidia, the stack loaded (modprobe nvidia_drm nvidia_uvm)" nvidia_model_bind $GPU
assert_eq "$(state)" "$NV_HOME" "the GPU is on the model nvidia"
assert_eq "$(loaded)" "$STACK" "all four modules are loaded"
assert_eq "$(ls /sys/module/nvidia/holders | xargs)" "nvidia_modeset nvidia_uvm" "nvidia is used by nvidia_modeset and nvidia_uvm"
assert_eq "$(ls /sys/module/nvidia_modeset/holders | xargs)" "nvidia_drm" "nvidia_modeset is used by nvidia_drm"
for n in nvidia0 nvidiactl nvidia-modeset nvidia-uvm; do
    check "/dev/$n exists" wait_until 10 test -c /dev/$n
done
check "/proc/driver/nvidia/gpus/$GPU names minor 0" grep -q "Device Minor:.*0" /proc/driver/nvidia/gpus/$GPU/information
card=$(card_of $GPU) || fail "nvidia_drm made a DRM card for $GPU"
render=/dev/dri/$(basename "$(ls -d /sys/bus/pci/devices/$GPU/drm/renderD* 2>/dev/null | head -n1)")
check "...and a render node ($render)" test -c "$render"
nfb=$(for f in /sys/class/graphics/fb*; do [[ $(basename "$(readlink -f "$f/device")") == "$GPU" ]] && echo "${f##*/fb}"; done)
check "nvidia_drm (modeset=1 fbdev=1) made a framebuffer (fb$nfb)" test -n "$nfb"

# --- the model behaves as the driver: its unbind waits while a node is open ---
sleep 600 3</dev/nvidia0 &
h=$!
wait_until 5 test -e /proc/$h/fd/3
before=$(removes)
(echo $GPU >/sys/bus/pci/drivers/nvidia/unbind) &
u=$!
sleep 3
check "with /dev/nvidia0 open, a plain unbind waits" pid_alive $u
check "...printing NVRM's line" test "$(removes)" -gt "$before"
assert_eq "$(awk '{print $3}' /proc/$u/stat 2>/dev/null)" D "...in an uninterruptible sleep"
kill $h; wait $h 2>/dev/null
check "once it is closed, the unbind ends" wait_until 15 pid_gone $u
echo $GPU >/sys/bus/pci/drivers/nvidia/bind
assert_eq "$(state)" "$NV_HOME" "bound again (by hand)"
card=$(card_of $GPU) || fail "the DRM card is back"

# --- every holder class: named and refused before any unbind ---
# refused DESC CMD...: start CMD (it holds something), detach must exit 3 naming its pid, with
# the GPU, the modules and the kernel's log as they were.
refused() {
    local desc=$1 pid rc before
    shift
    "$@" &
    pid=$!
    wait_until 5 test -n "$(ls /proc/$pid/fd 2>/dev/null | sed -n 4p)"
    before=$(removes)
    "$VMRUN" detach $GPU >"$tmp/out" 2>&1; rc=$?
    assert_eq "$rc" 3 "$desc: detach exits 3"
    check "$desc: it names pid $pid" grep -q "pid $pid" "$tmp/out"
    [[ $rc == 3 ]] || diag "$(cat "$tmp/out")"
    assert_eq "$(state) | $(loaded) | $(removes)" "$NV_HOME | $STACK | $before" "$desc: nothing changed, no unbind started"
    kill $pid; wait $pid 2>/dev/null
}
refused "a process on /dev/nvidia0 (GL/EGL/Vulkan)" sleep 600 3</dev/nvidia0
refused "a CUDA process (/dev/nvidia-uvm and /dev/nvidia0)" sleep 600 3</dev/nvidia-uvm 4</dev/nvidia0
refused "CUDA's /dev/nvidia-uvm alone (nvidia_uvm cannot go)" sleep 600 3</dev/nvidia-uvm
refused "/dev/nvidiactl (nvidia cannot go)" sleep 600 3</dev/nvidiactl
refused "/dev/nvidia-modeset (nvidia_modeset cannot go)" sleep 600 3</dev/nvidia-modeset
refused "the DRM card ($card)" sleep 600 3<"$card"
refused "the render node ($render)" sleep 600 3<"$render"
refused "the framebuffer (/dev/fb$nfb)" sleep 600 3<"/dev/fb$nfb"

# --- fbcon on the GPU's framebuffer: moved off, then the switch goes on ---
[[ -n $nfb ]] && "$CON2FB" "$nfb" 1 "$nfb"
assert_eq "$("$CON2FB" "${nfb:-0}" 1)" "$nfb" "console 1 is drawn on the model's framebuffer"

# --- the round trip: the stack unloaded in order (no other GPU uses it), and loaded again ---
"$VMRUN" detach $GPU >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 0 "detach from the model nvidia exits 0"
[[ $rc == 0 ]] || diag "$(cat "$tmp/out")"
assert_eq "$(state)" "$VFIO_STATE" "both functions on vfio-pci"
assert_eq "$(loaded)" "" "the whole stack is unloaded (no other GPU uses nvidia)"
check "the consoles left the GPU first" test "$("$CON2FB" 0 1)" != "$nfb"
check "detach says which modules it unloaded" grep -q "nvidia_drm" "$tmp/out"
"$VMRUN" attach $GPU >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 0 "attach exits 0"
[[ $rc == 0 ]] || diag "$(cat "$tmp/out")"
assert_eq "$(state)" "$NV_HOME" "back on nvidia, its override as it was"
assert_eq "$(loaded)" "$STACK" "the stack is loaded again, nvidia_uvm included"
check "/dev/nvidia0 is back" wait_until 10 test -c /dev/nvidia0
check "the DRM card is back" wait_until 10 eval 'card_of $GPU >/dev/null'

# --- a VM with the GPU: back on nvidia at the end ---
tests/lab/tiny-guest "$tmp/off" nvrun off 20 >/dev/null
"$VMRUN" "$tmp/off/nvrun.yaml" >"$tmp/run.out" 2>&1; rc=$?
assert_eq "$rc" 0 "vmrun nvrun.yaml exits 0 after the guest powers itself off"
[[ $rc == 0 ]] || diag "$(tail -n 20 "$tmp/run.out")"
check "the guest saw the GPU (1234:1111)" grep -q "GUEST-PCI .* 1234:1111" "$tmp/off/serial.log"
assert_eq "$(state) | $(loaded)" "$NV_HOME | $STACK" "after the run: on nvidia, the stack loaded"

# --- kill -9 at any instant of a detach or an attach: vmrun restore brings the stack back ---
export VMRUN_DEBUG_WRITE_DELAY_MS=60
bad=0 runs=0
for op in detach attach; do
    for ms in 0 50 120 200 300 450 650 900 1400; do
        [[ $op == attach ]] && { "$VMRUN" detach $GPU >/dev/null 2>&1 || fail "detach before killing attach at ${ms}ms"; }
        "$VMRUN" $op $GPU >/dev/null 2>&1 &
        p=$!
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        kill -KILL $p 2>/dev/null; wait $p 2>/dev/null
        runs=$((runs + 1))
        "$VMRUN" restore >"$tmp/restore" 2>&1 || { bad=$((bad + 1)); diag "restore after $op killed at ${ms}ms: $(cat "$tmp/restore")"; }
        if [[ "$(state) | $(loaded)" != "$NV_HOME | $STACK" ]]; then
            bad=$((bad + 1)); diag "after $op killed at ${ms}ms and restore: $(state) | $(loaded)"
        fi
    done
done
unset VMRUN_DEBUG_WRITE_DELAY_MS
assert_eq "$bad" 0 "$runs kills during detach and attach: each time restore gave back the GPU on nvidia with the stack loaded"

# --- a holder no scan can see (its fd in flight in a unix socket): with no other GPU on nvidia
# the stack must go, and the fd keeps nvidia loaded, so the switch stops there and rolls back
# before any unbind (the hung unbind itself, with a second GPU keeping the stack, is in
# vmrun-nvidia-systemd) ---
nvidia_hidden_holder /dev/nvidia0 "$tmp/hidden"
hid=$!
wait_until 10 grep -q ready "$tmp/hidden"
check "the hidden holder's fd is in no /proc/*/fd" test -z "$(ls -l /proc/[0-9]*/fd 2>/dev/null | grep -F /dev/nvidia0)"
before=$(removes)
timeout 300 "$VMRUN" detach $GPU >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 1 "a hidden holder: detach exits 1 (failed, rolled back)"
check "it says nvidia could not be unloaded, something still uses it" grep -q "unloading nvidia failed: .*is something still using the NVIDIA driver" "$tmp/out"
[[ $rc == 1 ]] || diag "$(cat "$tmp/out")"
assert_eq "$(state) | $(loaded) | $(removes)" "$NV_HOME | $STACK | $before" "rolled back: on nvidia, the stack loaded again, no unbind started"
check "no journal left" test ! -e /run/vmrun/switch/group-$G.json
kill $hid; wait $hid 2>/dev/null
"$VMRUN" detach $GPU >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 0 "once it is gone, detach exits 0"
"$VMRUN" attach $GPU >/dev/null 2>&1
assert_eq "$(state) | $(loaded)" "$NV_HOME | $STACK" "and attach brings it all back"

finish
