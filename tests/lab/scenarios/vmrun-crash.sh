#!/bin/bash
# lab-timeout: 1200
# lab-cost: 250
# Issue 3 in the lab: vmrun killed with SIGKILL at many instants of a detach and of an attach,
# then `vmrun restore`, always ends with the group whole on its original drivers; two
# detaches (and two attaches) started together end consistent.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
GPU=0000:01:00.0 AUDIO=0000:01:00.1
G=$(group_of $GPU)
state() { echo "$(driver_of $GPU) $(driver_of $AUDIO) $(cat /sys/bus/pci/devices/$GPU/driver_override) $(cat /sys/bus/pci/devices/$AUDIO/driver_override)"; }
HOME_STATE="bochs-drm snd_hda_intel (null) (null)"
VFIO_STATE="vfio-pci vfio-pci vfio-pci vfio-pci"
# Each sysfs write waits this long first, so the kills below land inside every step.
DELAY=60
export VMRUN_DEBUG_WRITE_DELAY_MS=$DELAY

# kill_at OP MS: run `vmrun OP` and SIGKILL it after MS milliseconds.
kill_at() {
    "$VMRUN" "$1" $GPU >/dev/null 2>&1 &
    local pid=$!
    sleep "$(printf '%d.%03d' $(($2 / 1000)) $(($2 % 1000)))"
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
}

journal() { jq -r '"\(.op) \(.state)"' /run/vmrun/switch/group-$G.json 2>/dev/null || echo none; }
# phase OP: where the killed OP stopped, from the drivers and the journal at that instant:
# "before" (nothing of OP done yet), "after" (OP complete) or "during" (anything in between).
phase() {
    local s j
    s=$(state) j=$(journal)
    case $1 in
        detach) [[ $s == "$HOME_STATE" && $j == none ]] && { echo before; return; }
                [[ $s == "$VFIO_STATE" && $j == "detach done" ]] && { echo after; return; } ;;
        attach) [[ $s == "$VFIO_STATE" && $j == "detach done" ]] && { echo before; return; }
                [[ $s == "$HOME_STATE" && $j == none ]] && { echo after; return; } ;;
    esac
    echo during
}

bad=0 runs=0
declare -A landed=()
for op in detach attach; do
    # The last offsets land after the switch even on a slow run (each write waits DELAY first).
    for ms in 0 20 40 60 80 100 130 160 190 220 260 300 340 380 420 480 540 600 700 900 1200 1800 2600; do
        if [[ $op == attach ]]; then
            "$VMRUN" detach $GPU >/dev/null 2>&1 || { fail "setup detach before killing attach at ${ms}ms"; continue; }
        fi
        kill_at $op $ms
        runs=$((runs + 1))
        mid=$(state) where=$(phase $op)
        landed[$op-$where]=$((${landed[$op-$where]:-0} + 1))
        if ! "$VMRUN" restore >/tmp/restore.out 2>&1; then
            bad=$((bad + 1)); diag "restore after $op killed at ${ms}ms ($where) failed: $(cat /tmp/restore.out)"
        fi
        if [[ $(state) != "$HOME_STATE" ]] || [[ -e /run/vmrun/switch/group-$G.json ]]; then
            bad=$((bad + 1)); diag "$op killed at ${ms}ms ($where; state then: $mid) -> after restore: $(state)"
        fi
    done
done
assert_eq "$bad" 0 "$runs kills mid-detach/attach, each followed by restore, all end whole on the host drivers"
# The kills must have hit every part of each switch, or the test above proves nothing.
for op in detach attach; do
    for where in before during after; do
        assert_ne "${landed[$op-$where]:-0}" 0 "kills landed $where the $op (${landed[$op-$where]:-0} of them)"
    done
done
check "no vmrun left running" test -z "$(pgrep -x vmrun)"

# --- concurrency: two detaches together, then two attaches together ---
unset VMRUN_DEBUG_WRITE_DELAY_MS
export VMRUN_DEBUG_WRITE_DELAY_MS=20
"$VMRUN" detach $GPU >/tmp/d1 2>&1 & p1=$!
"$VMRUN" detach $GPU >/tmp/d2 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
assert_eq "$r1 $r2" "0 0" "two concurrent detaches both exit 0 (one switches, one finds it done)"
assert_eq "$(state)" "$VFIO_STATE" "after concurrent detaches: whole group on vfio-pci"
check "exactly one of them did the switch" test "$(grep -l 'bochs-drm -> vfio-pci' /tmp/d1 /tmp/d2 | wc -l)" = 1
"$VMRUN" attach $GPU >/tmp/a1 2>&1 & p1=$!
"$VMRUN" attach $GPU >/tmp/a2 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
assert_eq "$r1 $r2" "0 0" "two concurrent attaches both exit 0"
assert_eq "$(state)" "$HOME_STATE" "after concurrent attaches: whole group on its host drivers"
check "no journal left" test ! -e /run/vmrun/switch/group-$G.json
finish
