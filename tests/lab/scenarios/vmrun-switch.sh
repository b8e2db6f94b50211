#!/bin/bash
# Issue 3 in the lab: the bochs+HDA group goes to vfio-pci and back three times while Xorg
# keeps running on the virtio GPU; holders, non-GPU devices and the console GPU are refused
# with nothing changed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
HOST=0000:00:02.0 GPU=0000:01:00.0 AUDIO=0000:01:00.1
G=$(group_of $GPU)
tmp=$(mktemp -d)
card=$(card_of $GPU) || fail "the GPU $GPU has a DRM card"
state() { echo "$(driver_of $GPU) $(driver_of $AUDIO) $(cat /sys/bus/pci/devices/$GPU/driver_override) $(cat /sys/bus/pci/devices/$AUDIO/driver_override)"; }
HOME_STATE="bochs-drm snd_hda_intel (null) (null)"
assert_eq "$(state)" "$HOME_STATE" "the group starts on its host drivers"

# --- three round trips under a running Xorg on the other GPU ---
if xpid=$(xorg_start safe); then
    ok "Xorg (safe) runs on $HOST, pid $xpid"
    for i in 1 2 3; do
        "$VMRUN" detach $GPU >"$tmp/out" 2>&1; rc=$?
        assert_eq "$rc" 0 "round $i: detach exits 0"
        [[ $rc == 0 ]] || diag "$(cat "$tmp/out")"
        assert_eq "$(state)" "vfio-pci vfio-pci vfio-pci vfio-pci" "round $i: both functions on vfio-pci"
        check "round $i: /dev/vfio/$G exists" test -c /dev/vfio/$G
        check "round $i: Xorg pid $xpid still answers after detach" xorg_alive "$xpid"
        "$VMRUN" attach $GPU >"$tmp/out" 2>&1; rc=$?
        assert_eq "$rc" 0 "round $i: attach exits 0"
        [[ $rc == 0 ]] || diag "$(cat "$tmp/out")"
        assert_eq "$(state)" "$HOME_STATE" "round $i: back on bochs-drm and snd_hda_intel"
        check "round $i: $card is back" wait_until 10 test -c "$card"
        check "round $i: Xorg pid $xpid still answers after attach" xorg_alive "$xpid"
    done
    # The GPU Xorg drives is held by it: refused, untouched.
    "$VMRUN" detach $HOST >"$tmp/out" 2>&1; rc=$?
    assert_eq "$rc" 3 "detaching the virtio GPU under Xorg exits 3 (held)"
    check "the refusal names Xorg" grep -q "pid $xpid Xorg" "$tmp/out"
    assert_eq "$(driver_of $HOST)" virtio-pci "the virtio GPU stays on virtio-pci"
    check "Xorg survived the refusal" xorg_alive "$xpid"
    xorg_stop "$xpid"
else
    fail "Xorg (safe) started"
fi

# --- the console GPU without Xorg, and no other framebuffer to take the console: refused,
# untouched (with the bochs GPU's framebuffer there, detach moves the consoles to it instead:
# vmrun-systemd tests that way round) ---
"$VMRUN" detach $GPU >/dev/null 2>&1
others=$(for f in /sys/class/graphics/fb*; do [[ -e $f/device && $(basename "$(readlink -f "$f/device")") != "$HOST" ]] && basename "$f"; done)
assert_eq "$others" "" "with the bochs GPU on vfio-pci, the virtio GPU's is the only framebuffer"
"$VMRUN" detach $HOST >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 4 "detaching the GPU that carries the console exits 4"
check "the refusal says it drives the console" grep -q "drives the text console" "$tmp/out"
assert_eq "$(driver_of $HOST)" virtio-pci "the console GPU stays on virtio-pci"
"$VMRUN" attach $GPU >/dev/null 2>&1
assert_eq "$(state)" "$HOME_STATE" "the bochs GPU is back for what follows"

# --- the virtio device behind the 9p root: refused, untouched ---
ninep=$(for d in /sys/bus/pci/devices/*; do [[ $(cat "$d/device") == 0x1009 && $(cat "$d/vendor") == 0x1af4 ]] && basename "$d"; done | head -n1)
"$VMRUN" detach "$ninep" >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 4 "detaching the 9p root's virtio device ($ninep) exits 4"
check "the refusal says it is not a display device" grep -q "is not a display device" "$tmp/out"
assert_eq "$(driver_of "$ninep")" virtio-pci "the 9p device stays on virtio-pci"
check "the root filesystem still answers" test -r /usr/bin/env

# --- a process holding the card: exit 3, named, nothing changed ---
sleep 600 3<"$card" &
holder=$!
wait_until 5 test -e /proc/$holder/fd/3
"$VMRUN" detach $GPU >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 3 "detach with $card held exits 3"
check "the error names pid $holder and its command" grep -q "pid $holder sleep (user root) holds $card" "$tmp/out"
assert_eq "$(state)" "$HOME_STATE" "held: nothing changed"
check "held: no journal left" test ! -e /run/vmrun/switch/group-$G.json
kill $holder; wait $holder 2>/dev/null

# --- Xorg with its defaults grabs the bochs GPU: named as the holder ---
if xpid=$(xorg_start default); then
    "$VMRUN" detach --json $GPU >"$tmp/out" 2>/dev/null; rc=$?
    assert_eq "$rc" 3 "detach with Xorg (defaults) holding the GPU exits 3"
    assert_eq "$(jq -r .status "$tmp/out")" held "--json says held"
    jq -r .message "$tmp/out" >"$tmp/msg"
    check "--json names Xorg pid $xpid" grep -q "pid $xpid Xorg" "$tmp/msg"
    assert_eq "$(state)" "$HOME_STATE" "Xorg trap: nothing changed"
    check "Xorg (defaults) survived" xorg_alive "$xpid"
    xorg_stop "$xpid"
else
    fail "Xorg (default) started"
fi

# --- a VM holding /dev/vfio/N blocks attach ---
"$VMRUN" detach $GPU >/dev/null 2>&1
sleep 600 3</dev/vfio/$G &
vm=$!
wait_until 5 test -e /proc/$vm/fd/3
"$VMRUN" attach $GPU >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 3 "attach while /dev/vfio/$G is open exits 3"
check "attach names the process holding /dev/vfio/$G" grep -q "pid $vm sleep (user root) holds /dev/vfio/$G" "$tmp/out"
assert_eq "$(state)" "vfio-pci vfio-pci vfio-pci vfio-pci" "still on vfio-pci"
kill $vm; wait $vm 2>/dev/null
"$VMRUN" status --json >"$tmp/out"
assert_eq "$(jq -r '.switches[0].state' "$tmp/out")" detached "status shows the group detached"
assert_eq "$(jq -r '.restore_pending' "$tmp/out")" false "status: no restore pending"
"$VMRUN" restore >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 0 "restore returns a detached group"
assert_eq "$(state)" "$HOME_STATE" "restore: back on the host drivers"
"$VMRUN" restore >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 0 "restore with nothing to do exits 0"
"$VMRUN" detach --dry-run $GPU >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 0 "detach --dry-run exits 0"
assert_eq "$(state)" "$HOME_STATE" "--dry-run changed nothing"
"$VMRUN" detach 0000:01:00.9 >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 2 "a malformed address exits 2"
rm -rf "$tmp"
finish
