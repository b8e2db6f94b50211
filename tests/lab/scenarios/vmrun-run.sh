#!/bin/bash
# lab-timeout: 1200
# lab-cost: 330
# Issue 4 in the lab, nested QEMU: `vmrun PROFILE` runs a tiny guest with the bochs+HDA group,
# the guest sees 1234:1111 and 8086:293e and powers off, and the GPU is back with Xorg still up;
# SIGTERM (guest ignoring ACPI), QEMU killed, vmrun killed, a second instance, a held GPU and
# `vmrun stop --force` all end with the GPU on the host and no QEMU left.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
GPU=0000:01:00.0 AUDIO=0000:01:00.1
tmp=$(mktemp -d)
home() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }
no_qemu() { ! pgrep -x qemu-system-x86 >/dev/null && ! pgrep -f '^qemu-system-x86_64' >/dev/null; }
# The main job's guest is a real OS (Linux, busybox), as in make demo; the others are bare.
TINY_GUEST=linux tests/lab/tiny-guest "$tmp/off" labrun off 20
tests/lab/tiny-guest "$tmp/hang" labhang hang 5
vm_state() { "$VMRUN" status --json 2>/dev/null | jq -r --arg n "$1" ".vms[] | select(.name == \$n) | $2"; }
vm_running() { [[ $(vm_state "$1" .qmp_status) == running ]]; }
# start_hang: the ACPI-ignoring guest in the background; sets $vpid once QMP says running.
start_hang() {
    "$VMRUN" "$tmp/hang/labhang.yaml" >"$tmp/hang.out" 2>&1 &
    vpid=$!
    if wait_until 300 vm_running labhang; then
        ok "labhang ($1) reached running"
    else
        fail "labhang ($1) reached running"
        diag "$(cat "$tmp/hang.out")"
    fi
}

# --- a held GPU: refused before QEMU starts, named, untouched ---
card=$(card_of $GPU) || fail "the GPU $GPU has a DRM card"
sleep 600 3<"$card" &
holder=$!
wait_until 5 test -e /proc/$holder/fd/3
"$VMRUN" "$tmp/off/labrun.yaml" >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 3 "a profile whose GPU is held exits 3"
check "the holder pid $holder is named" grep -q "pid $holder sleep (user root) holds $card" "$tmp/out"
check "QEMU was never started" test ! -e /run/vmrun/vm/labrun/qemu.log
assert_eq "$(home)" "bochs-drm snd_hda_intel" "held: GPU untouched"
kill $holder; wait $holder 2>/dev/null

# --- the main job: the guest sees the card and powers off; Xorg keeps running ---
xpid=$(xorg_start safe) || fail "Xorg (safe) started"
"$VMRUN" "$tmp/off/labrun.yaml" >"$tmp/run.out" 2>&1; rc=$?
assert_eq "$rc" 0 "vmrun labrun.yaml exits 0 after the guest powers itself off"
[[ $rc == 0 ]] || diag "$(tail -n 20 "$tmp/run.out")"
check "the guest saw the GPU: 0000:01:00.0 1234:1111" grep -q "GUEST-PCI 0000:01:00.0 1234:1111" "$tmp/off/serial.log"
check "the guest saw its audio function: 0000:01:00.1 8086:293e" grep -q "GUEST-PCI 0000:01:00.1 8086:293e" "$tmp/off/serial.log"
check "the timeline logs the guest's shutdown" grep -q "SHUTDOWN (guest, guest-shutdown)" "$tmp/run.out"
check "the timeline logs the GPU restored" grep -q "back on its host drivers" "$tmp/run.out"
assert_eq "$(home)" "bochs-drm snd_hda_intel" "after the run: bochs-drm and snd_hda_intel"
check "Xorg kept pid $xpid and answers" xorg_alive "$xpid"
check "no QEMU left" no_qemu

# --- a second instance, then SIGTERM with a guest that ignores ACPI: powerdown, timeout, quit ---
start_hang "for the second instance and SIGTERM"
"$VMRUN" "$tmp/hang/labhang.yaml" >"$tmp/second.out" 2>&1; rc=$?
assert_eq "$rc" 3 "a second vmrun of the same profile exits 3"
check "it says the VM is already running" grep -q "VM 'labhang' is already running" "$tmp/second.out"
assert_eq "$(vm_state labhang '.gpu_groups | length')" 1 "status shows the VM holding one GPU group"
kill -TERM $vpid; wait $vpid; rc=$?
assert_eq "$rc" 6 "SIGTERM with a guest ignoring ACPI exits 6 (forced)"
check "it asked for a powerdown first" grep -q "asked the guest to power down" "$tmp/hang.out"
check "then quit after the timeout" grep -q "the guest did not power down within 5s: told QEMU to quit" "$tmp/hang.out"
assert_eq "$(home)" "bochs-drm snd_hda_intel" "after SIGTERM: GPU back"
check "no QEMU left after SIGTERM" wait_until 10 no_qemu

# --- QEMU killed: vmrun notices, restores, says why ---
start_hang "for QEMU killed"
qpid=$(vm_state labhang .qemu_pid)
assert_ne "${qpid:-0}" 0 "status names the running QEMU's pid"
kill -KILL "${qpid:-$vpid}"; wait $vpid; rc=$?
assert_eq "$rc" 7 "QEMU killed with SIGKILL: vmrun exits 7"
check "it names the signal" grep -q "QEMU was killed by signal 9" "$tmp/hang.out"
assert_eq "$(home)" "bochs-drm snd_hda_intel" "after QEMU was killed: GPU back"

# --- vmrun killed: QEMU does not survive it; its guard gives the GPU back (vmrun-guard.sh) ---
start_hang "for vmrun killed"
qpid=$(vm_state labhang .qemu_pid)
assert_ne "${qpid:-0}" 0 "status names the running QEMU's pid"
kill -KILL $vpid; wait $vpid 2>/dev/null
check "QEMU (pid $qpid) died with vmrun" wait_until 10 pid_gone "$qpid"
gpu_home() { [[ $(home) == "bochs-drm snd_hda_intel" ]]; }
check "the guard gave the GPU back, nothing typed" wait_until 10 gpu_home
"$VMRUN" restore >"$tmp/out" 2>&1; rc=$?
assert_eq "$rc" 0 "vmrun restore afterwards exits 0 (nothing left to do)"
assert_eq "$(home)" "bochs-drm snd_hda_intel" "after vmrun was killed: GPU back"

# --- vmrun stop --force from another terminal ---
start_hang "for stop --force"
"$VMRUN" stop --force labhang >"$tmp/stop.out" 2>&1; rc=$?
assert_eq "$rc" 0 "vmrun stop --force exits 0 once the GPU is back"
wait $vpid; rc=$?
assert_eq "$rc" 6 "the stopped vmrun exits 6 (forced)"
assert_eq "$(home)" "bochs-drm snd_hda_intel" "after stop: GPU back"
# --- vmrun install with the GPU: passed through as a run does, with the media and VNC ---
sed 's/^name: labhang/name: labinst/' "$tmp/hang/labhang.yaml" >"$tmp/hang/labinst.yaml"
head -c 1048576 /dev/zero >"$tmp/installer.iso"
printf 'install:\n  media: [%s]\n  display: vnc\n  boot_keys: false\n' "$tmp/installer.iso" \
    >>"$tmp/hang/labinst.yaml"
"$VMRUN" install "$tmp/hang/labinst.yaml" >"$tmp/install.out" 2>&1 &
ipid=$!
if wait_until 300 vm_running labinst; then
    ok "vmrun install with the GPU reached running"
    ctl=/run/vmrun/vm/labinst/control.sock
    pci=$("$VMRUN_BUILD/tools/qmpq" "$ctl" query-pci | jq -r '[.. | objects | select(has("vendor") and has("device") and (.vendor|type) == "number") | "\(.vendor):\(.device)"] | join(" ")')
    case " $pci " in
    *" 4660:4369 "*) ok "install: QEMU has the passed-through GPU (1234:1111)" ;;
    *) fail "install: QEMU has the passed-through GPU (1234:1111)"; diag "query-pci ids: $pci" ;;
    esac
    assert_eq "$(driver_of $GPU) $(driver_of $AUDIO)" "vfio-pci vfio-pci" "install: the group is on vfio-pci"
    blk=$("$VMRUN_BUILD/tools/qmpq" "$ctl" query-block | jq -r '.[] | select(.device == "vmrun-install0") | "\(.inserted.file) \(.inserted.ro)"')
    assert_eq "$blk" "$tmp/installer.iso true" "install: the installer ISO is a read-only CD-ROM"
    assert_eq "$("$VMRUN_BUILD/tools/qmpq" "$ctl" query-vnc | jq -r '.enabled')" "true" "install: the installer's VNC is on"
else
    fail "vmrun install with the GPU reached running"
    diag "$(cat "$tmp/install.out")"
fi
"$VMRUN" stop --force labinst >/dev/null 2>&1
wait $ipid; rc=$?
assert_eq "$rc" 6 "install: stopped by force: exit 6"
assert_eq "$(home)" "bochs-drm snd_hda_intel" "after the install run: GPU back"
check "no QEMU left at the end" wait_until 10 no_qemu
check "Xorg still pid $xpid at the end" xorg_alive "$xpid"
xorg_stop "$xpid"
rm -rf "$tmp"
finish
