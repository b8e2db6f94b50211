#!/bin/bash
# lab-cost: 75
# Issue 10 in the lab, nested QEMU, as the allowed user alice: a uinput keyboard and mouse go to
# the guest (QEMU holds their grab: ours fails), the Ctrl+Ctrl chord gives them back to the host
# and takes them again, and unplugged and plugged in again they are the guest's again without a
# restart; alice has them only through an ACL for the run. Looking Glass's shared memory is
# hers, 0660, the ivshmem BAR its size, gone after; hugepages are made for the run and given
# back; the vCPU threads run where cpu.pin says. A hugepage shortfall is refused, nothing kept.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=/usr/local/bin/vmrun # input devices are given only to a run of the vmrun beside the helper
HELPER=/usr/local/libexec/vmrun/vmrun-helper
TOOLS=$VMRUN_BUILD/tools
GPU=0000:01:00.0 AUDIO=0000:01:00.1
home() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }
HOME_STATE="bochs-drm snd_hda_intel"
tmp=$(mktemp -d)
chmod 0755 "$tmp"
huge_total() { sed -n 's/^HugePages_Total: *//p' /proc/meminfo; }

modprobe uinput && modprobe evdev || { fail "uinput and evdev load"; finish; }
useradd -m alice || { fail "alice"; finish; }
install -d -m 0755 /usr/local/libexec/vmrun
install -m 4755 -o root -g root "$VMRUN_BUILD/vmrun-helper" "$HELPER"
install -m 0755 "$VMRUN_BUILD/vmrun" "$VMRUN"
install -d -m 0755 -o root /etc/vmrun
as() {
    local u=$1; shift
    mkdir -p "/tmp/$u-run" && chown "$u" "/tmp/$u-run" && chmod 0700 "/tmp/$u-run"
    setpriv --reuid="$u" --regid="$u" --init-groups env -i PATH="$PATH" HOME="/home/$u" \
        USER="$u" XDG_RUNTIME_DIR="/tmp/$u-run" "$@"
}

# The devices, and the by-id links udev would make (there is no udev in the lab).
mkfifo "$tmp/cmd"
"$TOOLS/uinput-dev" vmrun-test <"$tmp/cmd" >"$tmp/dev.out" 2>&1 &
upid=$!
exec 8>"$tmp/cmd"
wait_until 5 sh -c "grep -q '^mouse ' '$tmp/dev.out'"
links() { # make the by-id links point at the newest nodes
    mkdir -p /dev/input/by-id
    ln -sfn "$(grep '^kbd ' "$tmp/dev.out" | tail -1 | cut -d' ' -f2)" /dev/input/by-id/usb-vmrun-test-event-kbd
    ln -sfn "$(grep '^mouse ' "$tmp/dev.out" | tail -1 | cut -d' ' -f2)" /dev/input/by-id/usb-vmrun-test-event-mouse
}
links
KBD=/dev/input/by-id/usb-vmrun-test-event-kbd MOUSE=/dev/input/by-id/usb-vmrun-test-event-mouse
chmod 0600 "$(readlink -f $KBD)" "$(readlink -f $MOUSE)"
printf -- '- {device: "%s", users: [alice]}\n- {input: %s, users: [alice]}\n- {input: %s, users: [alice]}\n' \
    $GPU $KBD $MOUSE >/etc/vmrun/allow.yaml
chmod 0644 /etc/vmrun/allow.yaml

tests/lab/tiny-guest "$tmp/vm" share hang 3
chmod -R a+rX "$tmp/vm"
chown alice "$tmp/vm"   # QEMU, as alice, writes the guest's serial log there
cat >>"$tmp/vm/share.yaml" <<YAML
input: {keyboard: $KBD, mouse: $MOUSE, toggle: ctrl-ctrl}
looking_glass: {size: 32M}
hugepages: 2M
YAML
sed -i 's/^cpu: .*/cpu: {model: max, sockets: 1, cores: 2, threads: 1, pin: [1, 0], emulator: [0]}/' "$tmp/vm/share.yaml"
sed -i "s|serial.log|alice-serial.log|" "$tmp/vm/share.yaml"
before_huge=$(huge_total)

as alice "$VMRUN" "$tmp/vm/share.yaml" >"$tmp/run.out" 2>&1 &
vpid=$!
running() { as alice "$VMRUN" status --json 2>/dev/null | jq -e '.vms[] | select(.name == "share") | .qmp_status == "running"' >/dev/null; }
if ! wait_until 300 running; then
    fail "the VM runs"
    diag "$(cat "$tmp/run.out")"
    finish
fi
ok "the VM runs, as alice, with input, Looking Glass, hugepages and pinning"
ctl=/tmp/alice-run/vmrun/share/control.sock
qmp() { "$TOOLS/qmpq" "$ctl" "$@"; }

# --- input ---
grab() { "$TOOLS/evgrab" "$(readlink -f "$1")"; echo $?; }
assert_eq "$(grab $KBD) $(grab $MOUSE)" "1 1" "QEMU holds the keyboard and the mouse (our EVIOCGRAB fails)"
check "alice has the keyboard through an ACL entry" sh -c "getfacl -p '$(readlink -f $KBD)' 2>/dev/null | grep -q '^user:alice:rw-'"
echo chord >&8
sleep 1
assert_eq "$(grab $KBD) $(grab $MOUSE)" "0 0" "after Ctrl+Ctrl the host has them back (our grab works)"
echo chord >&8
sleep 1
assert_eq "$(grab $KBD) $(grab $MOUSE)" "1 1" "Ctrl+Ctrl again: the guest has them again"
old=$(readlink -f $KBD) old_ino=$(stat -Lc %i $KBD)
echo recreate >&8
wait_until 5 sh -c "[ \$(grep -c '^mouse ' '$tmp/dev.out') -ge 2 ]"
links
if wait_until 10 sh -c "grep -q 'keyboard $KBD is back' '$tmp/run.out'"; then
    ok "unplugged and plugged in again: vmrun gives the keyboard back to the guest"
else
    fail "unplugged and plugged in again: vmrun gives the keyboard back to the guest"
    diag "$(tail -n 8 "$tmp/run.out")"
fi
# The kernel may give the new device the old number: a new node all the same (its inode).
check "...the event node is a new one ($old, inode $old_ino -> $(readlink -f $KBD), inode $(stat -Lc %i $KBD))" \
    test "$old_ino" != "$(stat -Lc %i $KBD)"
wait_until 5 sh -c "[ \$('$TOOLS/evgrab' \$(readlink -f $MOUSE); echo \$?) = 1 ]"
assert_eq "$(grab $KBD) $(grab $MOUSE)" "1 1" "...and QEMU holds the new keyboard and mouse"
check "alice has the new keyboard through an ACL entry" sh -c "getfacl -p '$(readlink -f $KBD)' 2>/dev/null | grep -q '^user:alice:rw-'"

# --- Looking Glass ---
lg=/dev/shm/looking-glass-share
assert_eq "$(stat -c '%U %a %s' $lg 2>&1)" "alice 660 33554432" "Looking Glass: $lg is alice's, 0660, 32 MiB"
bar=$(qmp query-pci | jq -r '[.. | objects | select((.id | type) == "object" and .id.vendor == 6900 and .id.device == 4368)][0].regions[] | select(.bar == 2) | .size')
assert_eq "$bar" 33554432 "the ivshmem device (1af4:1110) has a 32 MiB BAR"
as alice "$VMRUN" status >"$tmp/status.out" 2>&1
check "vmrun status: looking-glass-client -f $lg" grep -qF "looking-glass-client -f $lg" "$tmp/status.out"

# --- hugepages, pinning ---
during=$(huge_total)
check "hugepages: the pool grew for the run ($before_huge -> $during, 128 needed)" test "$during" -ge $((before_huge + 128))
qpid=$(as alice "$VMRUN" status --json | jq -r '.vms[] | select(.name == "share") | .qemu_pid')
tids=$(qmp query-cpus-fast | jq -r '.[] | "\(.["cpu-index"]) \(.["thread-id"])"')
while read -r idx tid; do
    want=$([[ $idx == 0 ]] && echo 1 || echo 0)
    assert_eq "$(sed -n 's/^Cpus_allowed_list:\s*//p' /proc/$qpid/task/$tid/status)" "$want" "vCPU $idx (thread $tid) runs on CPU $want"
done <<<"$tids"
main_cpus=$(sed -n 's/^Cpus_allowed_list:\s*//p' /proc/$qpid/task/$qpid/status)
assert_eq "$main_cpus" 0 "QEMU's main thread runs on cpu.emulator's CPU 0"

# --- the end: nothing left ---
as alice "$VMRUN" stop --force share >/dev/null 2>&1
wait "$vpid"; rc=$?
assert_eq "$rc" 6 "stopped by force: exit 6"
check "the Looking Glass file is gone" test ! -e $lg
assert_eq "$(huge_total)" "$before_huge" "the hugepages made for the run are given back"
check "alice's ACL entry on the keyboard is gone" sh -c "! getfacl -p '$(readlink -f $KBD)' 2>/dev/null | grep -q '^user:alice'"
assert_eq "$(home)" "$HOME_STATE" "the GPU is back on its host drivers"

# --- a hugepage shortfall: refused before anything changes, nothing kept ---
# Memory the kernel cannot reclaim (tmpfs, no swap) leaves about 300 MiB: 512 MiB of hugepages
# are more than the host has available, refused before the pool is touched.
# The fill is a tmpfs of its own, sized to it: /dev/shm's is capped at half the memory.
avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
fill=$((avail > 400 ? avail - 300 : 0))
mkdir -p "$tmp/fill"
mount -t tmpfs -o size=$((fill + 16))m vmrun-fill "$tmp/fill"
dd if=/dev/zero of="$tmp/fill/zero" bs=1M count="$fill" status=none
diag "MemAvailable: $avail MiB before, $(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo) MiB after filling $fill MiB"
# Without Looking Glass: its file needs room in /dev/shm, which this test is not about.
sed -e 's/^memory: .*/memory: 512M/' -e 's/^name: share/name: short/' -e '/^looking_glass:/d' \
    "$tmp/vm/share.yaml" >"$tmp/vm/short.yaml"
t0=$SECONDS
# Bounded: a run that is not refused would otherwise run its guest until the lab's timeout.
as alice timeout 120 "$VMRUN" "$tmp/vm/short.yaml" >"$tmp/short.out" 2>&1; rc=$?
umount "$tmp/fill"
assert_eq "$rc" 4 "512M of 2M hugepages with about 300 MiB available: refused (4) after $((SECONDS - t0))s"
check "...naming the shortfall" grep -q "hugepages: 256 more 2 MiB pages (512 MiB) would leave the host less than" "$tmp/short.out" ||
    diag "$(cat "$tmp/short.out")"
[[ $rc == 4 ]] || diag "$(tail -n 5 "$tmp/short.out")"
assert_eq "$(huge_total)" "$before_huge" "...and none of the pages are kept"
assert_eq "$(home)" "$HOME_STATE" "...and the GPU was never touched"

echo quit >&8
exec 8>&-
wait "$upid" 2>/dev/null
rm -rf "$tmp"
finish
