#!/bin/bash
# lab-timeout: 1200
# lab-cost: 140
# Issue 5 in the lab: an unprivileged user listed in /etc/vmrun/allow.yaml runs the VM with the
# GPU through the setuid vmrun-helper (QEMU runs as that user); users and devices not allowed,
# a group-writable allow file and hostile requests are refused with nothing changed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
HELPER=/usr/local/libexec/vmrun/vmrun-helper
GPU=0000:01:00.0 AUDIO=0000:01:00.1 HOST=0000:00:02.0
G=$(group_of $GPU)
home() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }
HOME_STATE="bochs-drm snd_hda_intel"

# Users, the installed helper (setuid root) and the administrator's allow file.
useradd -m alice && useradd -m bob || { fail "users alice and bob created"; finish; }
install -d -m 0755 /usr/local/libexec/vmrun
install -m 4755 -o root -g root "$VMRUN_BUILD/vmrun-helper" "$HELPER"
install -d -m 0755 -o root /etc/vmrun
printf -- '- {device: "%s", users: [alice]}\n' $GPU >/etc/vmrun/allow.yaml
chmod 0644 /etc/vmrun/allow.yaml
as() { # as USER CMD...: run with the user's uid, gid and groups, a clean user environment
    local u=$1; shift
    mkdir -p "/tmp/$u-run" && chown "$u" "/tmp/$u-run" && chmod 0700 "/tmp/$u-run"
    setpriv --reuid="$u" --regid="$u" --init-groups env -i PATH="$PATH" HOME="/home/$u" \
        USER="$u" XDG_RUNTIME_DIR="/tmp/$u-run" VMRUN_BUILD="$VMRUN_BUILD" "$@"
}
out=$(mktemp); chmod 0644 "$out"
chown alice "$out" # the helper reports only into files its caller may write

# --- alice may: detach gives her /dev/vfio/N; attach gives it back ---
as alice "$VMRUN" detach $GPU >"$out" 2>&1; rc=$?
assert_eq "$rc" 0 "alice: vmrun detach exits 0 through the helper"
[[ $rc == 0 ]] || diag "$(cat "$out")"
assert_eq "$(home)" "vfio-pci vfio-pci" "alice: both functions on vfio-pci"
assert_eq "$(stat -c %U /dev/vfio/$G)" alice "/dev/vfio/$G belongs to alice"
as alice "$VMRUN" attach $GPU >"$out" 2>&1; rc=$?
assert_eq "$rc" 0 "alice: vmrun attach exits 0"
assert_eq "$(home)" "$HOME_STATE" "alice: back on the host drivers"

# --- --json is JSON, line by line, as root and as alice, through the helper too ---
# json_lines FILE: every line of FILE parses as JSON (jq -e . on each).
json_lines() {
    local line n=0
    while IFS= read -r line; do
        n=$((n + 1))
        jq -e . <<<"$line" >/dev/null 2>&1 || { echo "line $n is not JSON: $line"; return 1; }
    done <"$1"
    ((n > 0))
}
for who in root alice; do
    for op in detach attach; do
        if [[ $who == root ]]; then "$VMRUN" --json $op $GPU >"$out" 2>"$out.err"; rc=$?
        else as alice "$VMRUN" $op --json $GPU >"$out" 2>"$out.err"; rc=$?; fi
        assert_eq "$rc" 0 "$who: vmrun $op --json exits 0"
        check "$who: vmrun $op --json prints only JSON" jq -e '.status == "ok" and (.steps | length) > 0' "$out"
        check "$who: vmrun $op --json writes nothing else" test ! -s "$out.err"
    done
    "$VMRUN" --json status >"$out"
    check "after $who's round trip, root's vmrun --json status shows no switched group" jq -e '.switches == []' "$out"
    as alice "$VMRUN" status --json >"$out"
    check "after $who's round trip, alice's vmrun status --json parses" jq -e '.vms == [] and .restore_pending == false' "$out"
done
assert_eq "$(home)" "$HOME_STATE" "after the --json round trips: home"

# --- the same failure exits alike for root and for alice: a held GPU is 3 for both ---
card=$(card_of $GPU) || fail "the GPU $GPU has a DRM card"
sleep 600 3<"$card" &
holder=$!
wait_until 5 test -e /proc/$holder/fd/3
"$VMRUN" detach $GPU >"$out" 2>&1; root_rc=$?
as alice "$VMRUN" detach $GPU >"$out.alice" 2>&1; alice_rc=$?
assert_eq "$root_rc $alice_rc" "3 3" "a held GPU: root and alice both exit 3"
check "alice is told which process holds it (the helper scans as root)" grep -q "pid $holder sleep (user root) holds $card" "$out.alice"
as alice "$VMRUN" --json detach $GPU >"$out" 2>/dev/null
check "alice's --json says held" jq -e '.status == "held" and .exit_code == 3' "$out"
kill $holder; wait $holder 2>/dev/null
assert_eq "$(home)" "$HOME_STATE" "held: nothing changed"

# --- refused, nothing changed ---
as bob "$VMRUN" detach $GPU >"$out" 2>&1; rc=$?
assert_eq "$rc" 4 "bob (not listed) is refused with exit 4"
check "the refusal names bob" grep -q "user bob may not use $GPU" "$out"
ninep=$(for d in /sys/bus/pci/devices/*; do [[ $(cat "$d/vendor"):$(cat "$d/device") == 0x1af4:0x1009 ]] && basename "$d"; done | head -n1)
as alice "$VMRUN" detach "$ninep" >"$out" 2>&1; rc=$?
assert_eq "$rc" 4 "alice asking for the 9p root's virtio device ($ninep) is refused"
check "the refusal names the device" grep -q "may not use $ninep" "$out"
as alice "$VMRUN" detach $HOST >"$out" 2>&1; rc=$?
assert_eq "$rc" 4 "alice asking for the host GPU (outside the allowed group) is refused"
check "the refusal names the host GPU" grep -q "user alice may not use $HOST" "$out"
assert_eq "$(home) $(driver_of "$ninep") $(driver_of $HOST)" "$HOME_STATE virtio-pci virtio-pci" "refusals changed nothing"
chmod 0664 /etc/vmrun/allow.yaml
as alice "$VMRUN" detach $GPU >"$out" 2>&1; rc=$?
assert_eq "$rc" 4 "a group-writable allow.yaml makes the helper refuse everything"
check "it says why" grep -q "writable by someone other than root" "$out"
chmod 0644 /etc/vmrun/allow.yaml
chmod 0775 /etc/vmrun
as alice "$VMRUN" detach $GPU >"$out" 2>&1; rc=$?
assert_eq "$rc" 4 "a group-writable /etc/vmrun makes the helper refuse everything"
chmod 0755 /etc/vmrun
assert_eq "$(home)" "$HOME_STATE" "still nothing changed"

# --- hostile requests straight to the helper: each refused with exit 2 and one report line ---
# hostile WANT_MSG ARGS...: one line on stdout, a JSON result saying why, exit 2 (bad input).
long=$(printf 'A%.0s' $(seq 1 5000))
hostile() {
    local want=$1 rc msg; shift
    as alice "$HELPER" "$@" >"$out" 2>"$out.err"; rc=$?
    msg=$(jq -r '.result.message' "$out" 2>/dev/null)
    if [[ $rc == 2 && $(wc -l <"$out") == 1 && ! -s $out.err && $msg == *"$want"* &&
          $(jq -r '.result.exit' "$out") == 2 ]]; then
        ok "hostile request '$1 $(cut -c1-40 <<<"${2:-}")' refused: $want"
    else
        fail "hostile request '$1 $(cut -c1-40 <<<"${2:-}")' refused: $want"
        diag "exit $rc; stdout: $(head -c 300 "$out"); stderr: $(head -c 300 "$out.err")"
    fi
}
hostile "is not a PCI address" detach 1:00.0
hostile "is not a PCI address" detach 0000:01:00.0x
hostile "usage: vmrun-helper" detach "$long"
hostile "is not a number of bytes" memlock -1
hostile "is not a number of bytes" memlock 99999999999999999999999
hostile "is not a number of bytes" memlock 12abc
hostile "more than this machine's memory" memlock 99999999999999999
hostile "unknown operation 'frobnicate'" frobnicate $GPU
hostile "usage: vmrun-helper" detach
hostile "'extra' is not an option of detach" detach $GPU extra
hostile "usage: vmrun-helper" detach $GPU --run --keep --release --dry-run extra
hostile "is not a PCI address" restore ../../etc
hostile "unknown operation ''" "" ""
assert_eq "$(home)" "$HOME_STATE" "hostile requests changed nothing"

# --- alice runs the VM: QEMU runs as alice; the guest sees the card; the GPU comes back ---
# The guest waits for the power button, so QEMU is there to look at until alice stops it.
as alice tests/lab/tiny-guest /tmp/alice-vm labrun acpi 20
as alice "$VMRUN" /tmp/alice-vm/labrun.yaml >"$out" 2>&1 &
vpid=$!
qpid=""
wait_until 60 eval 'qpid=$(pgrep -f "^qemu-system-x86_64 -name guest=labrun" | head -n1); [[ -n $qpid ]]'
assert_eq "$(stat -c %U /proc/"$qpid" 2>/dev/null)" alice "QEMU (pid $qpid) runs as alice"
check "the guest is up, waiting for the power button" wait_until 300 grep -q GUEST-ACPI /tmp/alice-vm/serial.log
as alice "$VMRUN" stop labrun >/dev/null 2>&1
wait $vpid; rc=$?
assert_eq "$rc" 0 "alice: vmrun labrun.yaml exits 0 after vmrun stop powers the guest off"
check "the guest saw the power button" grep -q GUEST-POWER-BUTTON /tmp/alice-vm/serial.log
[[ $rc == 0 ]] || diag "$(tail -n 15 "$out")"
check "the guest saw 1234:1111" grep -q "GUEST-PCI 0000:01:00.0 1234:1111" /tmp/alice-vm/serial.log
check "the timeline shows the memlock raised by the helper" grep -q "locked-memory limit of pid" "$out"
assert_eq "$(home)" "$HOME_STATE" "after alice's run: GPU back on bochs-drm and snd_hda_intel"
finish
