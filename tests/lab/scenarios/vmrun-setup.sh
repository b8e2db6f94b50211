#!/bin/bash
# vmrun setup in the lab: Xorg started like a real desktop (its own configuration, no
# overrides) grabs the bochs GPU too, so detach is refused; `vmrun setup --yes` writes the
# Xorg snippet, one X restart later the GPU goes to vfio-pci and back under a running Xorg;
# a second setup changes nothing; --undo restores /etc byte for byte.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
PROFILE=$LAB_REPO/profiles/examples/lab.yaml
GPU=0000:01:00.0 AUDIO=0000:01:00.1
SNIPPET=/etc/X11/xorg.conf.d/10-vmrun-passthrough.conf
tmp=$(mktemp -d)
card=$(card_of $GPU) || { fail "the passthrough GPU $GPU has a DRM card"; finish; }
state() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }
HOME_STATE="bochs-drm snd_hda_intel"
# Every path, mode and content under the directories setup may touch, as one hash.
etc_sum() {
    local d
    for d in /etc/X11 /etc/default /etc/kernel /etc/udev /etc/vmrun; do
        [[ -e $d ]] || { echo "$d absent"; continue; }
        find "$d" -printf '%p %m %y\n' | sort
        find "$d" -type f -print0 | sort -z | xargs -0 -r sha256sum
    done | sha256sum | cut -d' ' -f1
}
sum0=$(etc_sum)
assert_eq "$(state)" "$HOME_STATE" "the group starts on its host drivers"

# --- before setup: a desktop-like Xorg holds the passthrough GPU ---
if xpid=$(xorg_start system); then
    ok "Xorg (system configuration) runs, pid $xpid"
    "$VMRUN" detach $GPU >"$tmp/out" 2>&1; rc=$?
    assert_eq "$rc" 3 "before setup: detach $GPU exits 3 (held)"
    check "before setup: the refusal names Xorg pid $xpid" grep -q "pid $xpid Xorg" "$tmp/out"
    assert_eq "$(state)" "$HOME_STATE" "before setup: nothing changed"

    # --- setup proposes, then applies ---
    "$VMRUN" setup "$PROFILE" >"$tmp/propose" 2>&1; rc=$?
    assert_eq "$rc" 0 "setup (no --yes) exits 0"
    check "setup proposes the Xorg snippet as a diff" grep -q "^+++ b/etc/X11/xorg.conf.d/10-vmrun-passthrough.conf" "$tmp/propose"
    check "setup without --yes writes nothing" test ! -e $SNIPPET
    "$VMRUN" setup --yes "$PROFILE" >"$tmp/apply" 2>&1; rc=$?
    assert_eq "$rc" 0 "setup --yes exits 0"
    [[ $rc == 0 ]] || diag "$(cat "$tmp/apply")"
    check "the Xorg snippet is written" test -f $SNIPPET
    check "it pins the host GPU by BusID" grep -q 'BusID "PCI:0:2:0"' $SNIPPET
    # The lab boots with intel_iommu=on iommu=pt: the running kernel has the options.
    check "the IOMMU item is already done (options on the lab's command line)" \
        grep -q '^\[already-done\] IOMMU kernel options' "$tmp/apply"
    check "it says where it saw them" grep -q "the running kernel has intel_iommu=on iommu=pt (/proc/cmdline)" "$tmp/apply"
    diag "$(sed -n '1,/^$/p' "$tmp/apply")"
    sum1=$(etc_sum)
    assert_ne "$sum1" "$sum0" "setup changed /etc"

    # --- one X restart ---
    xorg_stop "$xpid"
    if xpid=$(xorg_start system); then
        ok "Xorg restarted with the system configuration, pid $xpid"
        check "Xorg does not hold $card" test -z "$(holders_of "$card")"
        "$VMRUN" detach $GPU >"$tmp/out" 2>&1; rc=$?
        assert_eq "$rc" 0 "after setup: detach $GPU exits 0"
        [[ $rc == 0 ]] || diag "$(cat "$tmp/out")"
        assert_eq "$(state)" "vfio-pci vfio-pci" "after setup: both functions on vfio-pci"
        check "Xorg pid $xpid still answers after detach" xorg_alive "$xpid"
        "$VMRUN" attach $GPU >"$tmp/out" 2>&1; rc=$?
        assert_eq "$rc" 0 "after setup: attach $GPU exits 0"
        [[ $rc == 0 ]] || diag "$(cat "$tmp/out")"
        assert_eq "$(state)" "$HOME_STATE" "back on bochs-drm and snd_hda_intel"
        check "Xorg pid $xpid still answers after attach" xorg_alive "$xpid"
        xorg_stop "$xpid"
    else
        fail "Xorg restarted with the system configuration"
        diag "$(tail -n 30 /tmp/lab-xorg-system.log 2>/dev/null)"
    fi
else
    fail "Xorg (system configuration) started"
fi

# --- a second setup changes nothing ---
"$VMRUN" setup --yes "$PROFILE" >"$tmp/again" 2>&1; rc=$?
assert_eq "$rc" 0 "a second setup --yes exits 0"
check "the second setup says there is nothing to do" grep -q "^Nothing to do" "$tmp/again"
assert_eq "$(etc_sum)" "${sum1:-x}" "the second setup changed nothing"

# --- undo ---
"$VMRUN" setup --undo >"$tmp/undo" 2>&1; rc=$?
assert_eq "$rc" 0 "setup --undo exits 0"
[[ $rc == 0 ]] || diag "$(cat "$tmp/undo")"
assert_eq "$(etc_sum)" "$sum0" "--undo restores /etc byte for byte"
check "the snippet is gone" test ! -e $SNIPPET
check "the backups are gone" test ! -e /var/lib/vmrun/setup
"$VMRUN" setup --undo >"$tmp/undo" 2>&1; rc=$?
assert_eq "$rc" 0 "a second --undo exits 0"
check "it says there is nothing to undo" grep -q "^Nothing to undo" "$tmp/undo"
rm -rf "$tmp"
finish
