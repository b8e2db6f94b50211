#!/bin/bash
# lab-timeout: 1500
# lab-cost: 170
# Issue 11 (self-healing) in the lab, nested QEMU: vmrun is killed with SIGKILL at several points
# of a run (during the detach, once QEMU has started, while the guest runs, during the hand-back)
# as root and as alice (through vmrun-helper); each time the GPU is back on bochs-drm and
# snd_hda_intel within 10 s with no command typed, no QEMU and no journal are left, and the
# guard's log says what it did. With the guard killed too the journal stays: `vmrun status` says
# so, and the next run gives the GPU back by itself before it starts; a `vmrun detach`'s group is
# never taken back.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
HELPER=/usr/local/libexec/vmrun/vmrun-helper
GPU=0000:01:00.0 AUDIO=0000:01:00.1
G=$(group_of $GPU)
HOME_STATE="bochs-drm snd_hda_intel"
home() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }
no_qemu() { ! pgrep -f '^qemu-system-x86_64' >/dev/null; }
whole() { [[ $(home) == "$HOME_STATE" && ! -e /run/vmrun/switch/group-$G.json ]] && no_qemu; }
tmp=$(mktemp -d)
chmod 0755 "$tmp"

useradd -m alice || { fail "user alice made"; finish; }
install -d -m 0755 /usr/local/libexec/vmrun
install -m 4755 -o root -g root "$VMRUN_BUILD/vmrun-helper" "$HELPER"
install -d -m 0755 -o root /etc/vmrun
printf -- '- {device: "%s", users: [alice]}\n' $GPU >/etc/vmrun/allow.yaml
chmod 0644 /etc/vmrun/allow.yaml
mkdir -p /tmp/alice-run && chown alice /tmp/alice-run && chmod 0700 /tmp/alice-run
as_alice() {
    setpriv --reuid=alice --regid=alice --init-groups env -i PATH="$PATH" HOME=/home/alice \
        USER=alice XDG_RUNTIME_DIR=/tmp/alice-run "$@"
}
as_alice_exec() { # as a background job that is the command itself: $! is its pid
    exec setpriv --reuid=alice --regid=alice --init-groups env -i PATH="$PATH" HOME=/home/alice \
        USER=alice XDG_RUNTIME_DIR=/tmp/alice-run "$@"
}
tests/lab/tiny-guest "$tmp/hang" labhang hang 5
tests/lab/tiny-guest "$tmp/off" labhang off 20
chmod -R a+rX "$tmp"
rundir() { [[ $1 == root ]] && echo /run/vmrun/vm/labhang || echo /tmp/alice-run/vmrun/labhang; }

# start WHO: the hanging guest's run in the background, its output in $tmp/run.out, pid in $vpid.
start() {
    : >"$tmp/run.out"
    chmod 0666 "$tmp/run.out"
    if [[ $1 == root ]]; then
        "$VMRUN" "$tmp/hang/labhang.yaml" >"$tmp/run.out" 2>&1 &
    else
        as_alice_exec "$VMRUN" "$tmp/hang/labhang.yaml" >"$tmp/run.out" 2>&1 &
    fi
    vpid=$!
}
guest_running() { grep -q "the guest is running" "$tmp/run.out"; }

# killed WHO WHERE: vmrun was just killed; the GPU must come back by itself within 10 s.
killed() {
    local who=$1 where=$2 t0 ms log
    t0=$(date +%s%N)
    wait "$vpid" 2>/dev/null
    if wait_until 10 whole; then
        ms=$((($(date +%s%N) - t0) / 1000000))
        ok "$who, vmrun killed $where: the GPU is back on $HOME_STATE after ${ms} ms, nothing typed"
    else
        fail "$who, vmrun killed $where: the GPU is back within 10 s, nothing typed"
        diag "drivers: $(home); journal: $(cat /run/vmrun/switch/group-$G.json 2>&1 | head -c 600)"
        diag "$(cat "$(rundir "$who")/guard.log" 2>&1)" "$(tail -n 8 "$tmp/run.out")"
        "$VMRUN" restore >/dev/null 2>&1
    fi
    log=$(cat "$(rundir "$who")/guard.log" 2>/dev/null)
    grep -q "QEMU ended unexpectedly" "$tmp/run.out" && diag "the run had ended by itself: $(tail -n 4 "$tmp/run.out")"
    check "$who, $where: guard.log names the dead vmrun (pid $vpid)" \
        grep -q "its vmrun (pid $vpid) ended without giving back" <<<"$log"
    check "$who, $where: guard.log says it is all back" grep -q "everything is back on the host" <<<"$log"
    check "$who, $where: no vm.json left" test ! -e "$(rundir "$who")/vm.json"
    check "$who, $where: no guard left" sh -c "! pgrep -x vmrun-guard >/dev/null"
    rm -f "$(rundir "$who")/guard.log"
}

export VMRUN_DEBUG_WRITE_DELAY_MS=60 # root's own sysfs writes: a kill lands inside a switch
for who in root alice; do
    # QEMU runs as the run's user and writes the guest's serial log.
    rm -f "$tmp"/hang/serial.log "$tmp"/off/serial.log
    # The run's user's files (root runs only profiles no one else can change).
    chown -R "$who" "$tmp/hang" "$tmp/off"
    # During the detach: root's writes are slowed, so 300 ms in is mid-switch; alice's helper
    # finishes a switch it started on its own, and the guard waits for the group's lock.
    start "$who"
    wait_until 10 grep -q "IOMMU group $G\|unbind\|0000:01:00" "$tmp/run.out"
    sleep 0.3
    kill -KILL "$vpid"
    killed "$who" "during the detach"

    start "$who"
    wait_until 60 grep -q "QEMU started" "$tmp/run.out" || diag "$(cat "$tmp/run.out")"
    kill -KILL "$vpid"
    killed "$who" "once QEMU had started"

    start "$who"
    if wait_until 300 guest_running; then
        kill -KILL "$vpid"
        killed "$who" "while the guest ran"
    else
        fail "$who: the guest runs"; diag "$(cat "$tmp/run.out")"; kill -KILL "$vpid"; wait "$vpid"
    fi

    # During the hand-back: stopped by force, killed as soon as QEMU has gone.
    start "$who"
    if wait_until 300 guest_running; then
        if [[ $who == root ]]; then "$VMRUN" stop --force labhang >/dev/null 2>&1 &
        else as_alice "$VMRUN" stop --force labhang >/dev/null 2>&1 & fi
        wait_until 30 grep -q "stopped by force" "$tmp/run.out"
        kill -KILL "$vpid"
        check "$who: killed during the hand-back (the GPU was not back yet)" \
            sh -c "! grep -q 'is back on its host drivers' '$tmp/run.out'"
        killed "$who" "during the hand-back"
        wait
    else
        fail "$who: the guest runs"; diag "$(cat "$tmp/run.out")"; kill -KILL "$vpid"; wait "$vpid"
    fi
done
unset VMRUN_DEBUG_WRITE_DELAY_MS

# --- the guard killed too: the journal stays; the next run gives the GPU back first ---------
for who in root alice; do
    rm -f "$tmp"/hang/serial.log "$tmp"/off/serial.log
    # The run's user's files (root runs only profiles no one else can change).
    chown -R "$who" "$tmp/hang" "$tmp/off"
    start "$who"
    if wait_until 300 guest_running; then
        gpid=$(jq -r .guard_pid "$(rundir "$who")/vm.json")
        kill -KILL "$gpid" "$vpid"
        wait "$vpid" 2>/dev/null
        wait_until 10 no_qemu
        assert_eq "$(home)" "vfio-pci vfio-pci" "$who, guard killed too: the group stays on vfio-pci"
        if [[ $who == root ]]; then st=$("$VMRUN" status 2>&1); else st=$(as_alice "$VMRUN" status 2>&1); fi
        check "$who: status says to restore" grep -q "VM labhang: not running; its last run left its GPU on vfio-pci: run \`vmrun restore labhang\`" <<<"$st"
        [[ $who == alice ]] && rm -f "$(rundir alice)/vm.json" # as a logout wiping /run/user would
        if [[ $who == root ]]; then "$VMRUN" "$tmp/off/labhang.yaml" >"$tmp/next.out" 2>&1; rc=$?
        else as_alice "$VMRUN" "$tmp/off/labhang.yaml" >"$tmp/next.out" 2>&1; rc=$?; fi
        assert_eq "$rc" 0 "$who: the next run (a guest that powers off) exits 0"
        if [[ $who == root ]]; then
            check "root: the next run gave back what the last one left (from vm.json)" \
                grep -q "the last run of labhang (vmrun pid $vpid) did not give back what it changed" "$tmp/next.out"
        else
            check "alice: with vm.json gone, the next run's detach gave the group back first (the journal)" \
                grep -q "was never given back (that vmrun is gone): giving it back first" "$tmp/next.out"
        fi
        [[ $rc == 0 ]] || diag "$(tail -n 15 "$tmp/next.out")"
        check "$who: after the next run, the GPU is home and nothing is left" whole
    else
        fail "$who: the guest runs"; diag "$(cat "$tmp/run.out")"; kill -KILL "$vpid"; wait "$vpid"
    fi
done

# --- a `vmrun detach` is not a dead run's: nobody takes it back -----------------------------
as_alice "$VMRUN" detach $GPU >/dev/null 2>&1
sleep 1
assert_eq "$(home)" "vfio-pci vfio-pci" "alice's vmrun detach stays detached after it exits"
as_alice "$VMRUN" detach $GPU >"$tmp/d.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:vfio-pci vfio-pci" "a second detach finds it already detached, and leaves it"
check "...saying so" grep -q "already detached" "$tmp/d.out"
as_alice "$VMRUN" attach $GPU >/dev/null 2>&1
assert_eq "$(home)" "$HOME_STATE" "alice's attach gives it back"

# --- kept on vfio-pci between runs (pci[0].after: vfio-pci) ------------------------------------
# The run leaves the group on vfio-pci, however it ends (its guard too); the next run uses it as
# it is; only `vmrun attach` gives it back.
chown -R root "$tmp/hang"
sed -i 's|^  - address: "0000:01:00.0"$|&\n    after: vfio-pci|' "$tmp/hang/labhang.yaml"
start root
if wait_until 60 guest_running; then
    check "kept: the run says the group stays on vfio-pci" grep -q "IOMMU group $G stays on vfio-pci after the run" "$tmp/run.out"
    "$VMRUN" stop --force labhang >/dev/null 2>&1
    wait "$vpid"; rc=$?
    assert_eq "$rc:$(home)" "6:vfio-pci vfio-pci" "kept: after the run (stopped by force), the group is still on vfio-pci"
    check "kept: ...and status says so" sh -c "'$VMRUN' status | grep -q 'kept on vfio-pci between runs'"
    check "kept: no QEMU left" no_qemu
else
    fail "kept: the guest runs"; diag "$(cat "$tmp/run.out")"; kill -KILL "$vpid"; wait "$vpid"
fi
start root
if wait_until 60 guest_running; then
    check "kept: the next run uses the kept group as it is" grep -q "kept on vfio-pci between runs: using it as it is" "$tmp/run.out"
    check "kept: ...without switching anything" sh -c "! grep -q -- '-> vfio-pci' '$tmp/run.out'"
    kill -KILL "$vpid"; wait "$vpid" 2>/dev/null
    sleep 3
    assert_eq "$(home)" "vfio-pci vfio-pci" "kept: vmrun killed: its guard leaves the kept group on vfio-pci"
    check "kept: ...and QEMU went with vmrun" no_qemu
else
    fail "kept: the guest runs again"; diag "$(cat "$tmp/run.out")"; kill -KILL "$vpid"; wait "$vpid"
fi
"$VMRUN" attach $GPU >"$tmp/a.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:$HOME_STATE" "kept: vmrun attach gives it back"
[[ $rc == 0 ]] || diag "$(cat "$tmp/a.out")"
check "nothing left at the end" whole
rm -rf "$tmp"
finish
