#!/bin/bash
# lab-timeout: 2400
# lab-cost: 750
# Issues 8 and 17 in the lab, on the real kernel: the setuid helper's boundary, attacked the way
# a local user can. alice and carol are allowed the bochs+HDA group, bob is not. Each attack on a
# switch (terminal signals in a pty at several moments, a closed or full stdout, an inherited
# interval timer, file-size and fd limits, an ignored SIGCHLD) must end with the group whole: on
# its host drivers, or wholly on vfio-pci and then given back whole by alice's restore; and
# root's attach is never blocked. Hidden holders (a bind mount in alice's own mount namespace, a
# root mknod alias, a bare VFIO device fd) are found and named; bob and carol cannot touch
# alice's switch; memlock only raises and only for its caller; the allow file's guards hold;
# another user's process name reaches root's terminal escaped. Then (issue 17): no request or
# parse error writes anything through a read-only, O_PATH or directory fd, or another user's
# terminal; the switch never runs under the caller's idle scheduling; concurrent hugepage
# requests never take the pool below the administrator's nor credit anyone more than was made;
# input ACLs only for a run, and none outlives it.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
HELPER=/usr/local/libexec/vmrun/vmrun-helper
SIGENV=$VMRUN_BUILD/tools/sigenv
GPU=0000:01:00.0 AUDIO=0000:01:00.1
G=$(group_of $GPU)
card=$(card_of $GPU)
[[ -n $card ]] || { fail "the bochs GPU has a DRM card"; finish; }
home() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }
HOME_STATE="bochs-drm snd_hda_intel"
tmp=$(mktemp -d)
chmod 0755 "$tmp"

groupadd vmrun
useradd -m alice && useradd -m bob && useradd -m carol || { fail "users made"; finish; }
useradd -m -g vmrun dave && useradd -m -G vmrun erin || { fail "group users made"; finish; }
install -d -m 0755 /usr/local/libexec/vmrun
install -m 4755 -o root -g root "$VMRUN_BUILD/vmrun-helper" "$HELPER"
install -d -m 0755 -o root /etc/vmrun
allow() { printf -- '- {device: "%s", users: [alice, carol]}\n' $GPU >/etc/vmrun/allow.yaml
          chmod 0644 /etc/vmrun/allow.yaml; }
allow
as() { # as USER CMD...: the user's uid, gid and groups, a clean environment
    local u=$1; shift
    mkdir -p "/tmp/$u-run" && chown "$u" "/tmp/$u-run" && chmod 0700 "/tmp/$u-run"
    setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups env -i PATH="$PATH" \
        HOME="/home/$u" USER="$u" XDG_RUNTIME_DIR="/tmp/$u-run" "$@"
}
as_exec() { # as_exec USER CMD... &: as `as`, but the background job becomes CMD, so $! is its pid
    local u=$1; shift
    mkdir -p "/tmp/$u-run" && chown "$u" "/tmp/$u-run" && chmod 0700 "/tmp/$u-run"
    exec setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups env -i PATH="$PATH" \
        HOME="/home/$u" USER="$u" XDG_RUNTIME_DIR="/tmp/$u-run" "$@"
}
as_cmd() { # the same as a command line for script(1)
    printf 'setpriv --reuid=%s --regid=%s --init-groups env -i PATH=%q HOME=/home/%s USER=%s XDG_RUNTIME_DIR=/tmp/%s-run %s' \
        "$1" "$(id -g "$1")" "$PATH" "$1" "$1" "$1" "$2"
}

# whole WHAT: the group is whole after an attack. On vfio-pci, alice's restore (she owns the
# switch) must bring it back whole; root's attach must never be blocked by a leftover lock.
whole() {
    local what=$1 state
    wait_until 10 sh -c "! pgrep -x vmrun-helper >/dev/null"
    state=$(home)
    case $state in
    "$HOME_STATE") ok "$what: the group is on its host drivers" ;;
    "vfio-pci vfio-pci")
        as alice "$VMRUN" restore $GPU >"$tmp/restore.out" 2>&1
        if [[ $(home) == "$HOME_STATE" ]]; then
            ok "$what: the group was wholly on vfio-pci; alice's restore gave it back whole"
        else
            fail "$what: alice's restore gave it back whole"
            diag "after restore: $(home)" "$(cat "$tmp/restore.out")"
        fi
        ;;
    *) fail "$what: the group is whole"; diag "drivers: $state (01:00.0 01:00.1)"
       diag "$(dmesg | tail -n 12)"
       ls /run/vmrun/switch/*.kmsg >/dev/null 2>&1 && diag "$(tail -n 12 /run/vmrun/switch/*.kmsg)" ;;
    esac
    if ! timeout 20 "$VMRUN" attach $GPU >"$tmp/rootattach.out" 2>&1; then
        fail "$what: root's attach afterwards is not blocked"
        diag "$(cat "$tmp/rootattach.out")"
    fi
    [[ $(home) == "$HOME_STATE" ]] || { "$VMRUN" restore >/dev/null 2>&1; "$VMRUN" attach $GPU >/dev/null 2>&1; }
    check "$what: no journal left behind" test ! -e /run/vmrun/switch/group-$G.json
}

# --- terminal signals in a pty, at several moments of the switch ---------------------------
# key OP CHAR DELAY: alice runs `vmrun OP` in a pty (script(1)); after DELAY the terminal gets
# CHAR (^C, ^\ or ^Z), which the line discipline turns into a signal to the foreground group.
key() {
    local op=$1 char=$2 delay=$3 cmd
    [[ $op == attach ]] && as alice "$VMRUN" detach $GPU >/dev/null 2>&1
    cmd=$(as_cmd alice "$VMRUN $op $GPU")
    { sleep "$delay"; printf '%b' "$char"; sleep 1;
      [[ $char == '\032' ]] && pkill -CONT -f "vmrun $op"; sleep 2; } |
        timeout 60 script -qefc "$cmd" /dev/null >"$tmp/pty.out" 2>&1
}
for op in detach attach; do
    for c in '\003' '\034' '\032'; do
        for d in 0.02 0.08 0.2 0.5; do
            key $op "$c" $d
            whole "$op, ${c/\\0/0} in the terminal after ${d}s"
        done
    done
done

# --- stdout closed, stdout full ---------------------------------------------------------------
as alice "$VMRUN" detach $GPU | true
whole "vmrun detach | true"
as alice "$HELPER" detach $GPU | true
whole "vmrun-helper detach | true"
mkfifo "$tmp/fifo"
exec 7<>"$tmp/fifo"
head -c 65536 /dev/zero >&7   # the pipe is full; nobody reads it
timeout 30 setpriv --reuid=alice --regid=alice --init-groups env -i PATH="$PATH" "$HELPER" detach $GPU >&7 2>/dev/null
rc=$?
assert_ne "$rc" 124 "vmrun-helper with stdout on a full pipe does not block"
exec 7>&-
whole "stdout on a full pipe"

# --- inherited limits and timers ----------------------------------------------------------------
for ms in 1 20 100 300; do
    as alice "$SIGENV" --itimer $ms --vtimer $ms -- "$VMRUN" detach $GPU >/dev/null 2>&1
    whole "an inherited interval timer of ${ms} ms (detach)"
done
as alice "$VMRUN" detach $GPU >/dev/null 2>&1
jsize=$(stat -c %s /run/vmrun/switch/group-$G.json 2>/dev/null || echo 1024)
as alice "$VMRUN" attach $GPU >/dev/null 2>&1
for fs in 1 $((jsize / 2)) $((jsize - 1)) $jsize 4096; do
    as alice prlimit --fsize=$fs -- "$VMRUN" detach $GPU >/dev/null 2>&1
    whole "prlimit --fsize=$fs (the journal is $jsize bytes)"
done
for nf in 3 4 5 6 8 12 16; do
    as alice prlimit --nofile=$nf -- "$VMRUN" detach $GPU >/dev/null 2>&1
    whole "prlimit --nofile=$nf"
done
# An ignored SIGCHLD: every wait for a child would fail.
as alice "$SIGENV" --ignore CHLD -- "$VMRUN" detach $GPU >"$tmp/chld.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:vfio-pci vfio-pci" "alice's detach with SIGCHLD ignored works"
as alice "$SIGENV" --ignore CHLD -- "$VMRUN" attach $GPU >"$tmp/chld.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:$HOME_STATE" "alice's attach with SIGCHLD ignored works"
"$SIGENV" --ignore CHLD -- "$VMRUN" detach $GPU >"$tmp/chld.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:vfio-pci vfio-pci" "root's detach with SIGCHLD ignored works"
"$SIGENV" --ignore CHLD -- "$VMRUN" attach $GPU >"$tmp/chld.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:$HOME_STATE" "root's attach with SIGCHLD ignored works"
whole "SIGCHLD ignored"
tests/lab/tiny-guest "$tmp/vm" chldrun off 20
chmod -R a+rX "$tmp/vm"
"$SIGENV" --ignore CHLD --block INT -- "$VMRUN" "$tmp/vm/chldrun.yaml" >"$tmp/chldrun.out" 2>&1; rc=$?
assert_eq "$rc" 0 "a full run with SIGCHLD ignored: the guest powers off, exit 0"
[[ $rc == 0 ]] || diag "$(tail -n 20 "$tmp/chldrun.out")"
check "...and QEMU's exit was seen at once (no SIGTERM to a dead pid)" \
    sh -c "! grep -q 'sending SIG' '$tmp/chldrun.out'"
whole "a full run with SIGCHLD ignored"

# --- hidden holders -----------------------------------------------------------------------------
if [[ ! -e $card ]]; then
    "$VMRUN" restore >/dev/null 2>&1
    "$VMRUN" attach $GPU >/dev/null 2>&1
fi
check "the GPU's card $card is there for the holder tests" test -e "$card"
chmod 0666 "$card"   # so alice can hold it, as a desktop user in group video would
as_exec alice unshare -rm sh -c "touch /tmp/alias-a; mount --bind $card /tmp/alias-a; exec sleep 300 </tmp/alias-a" &
upid=$!
wait_until 5 sh -c "ls -l /proc/$upid/fd 2>/dev/null | grep -q alias-a"
as alice "$VMRUN" detach $GPU >"$tmp/h.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "3:$HOME_STATE" "a holder through a bind mount in alice's own mount namespace: refused (3), nothing changed"
check "...naming the pid ($upid)" grep -q "pid $upid" "$tmp/h.out" || diag "$(cat "$tmp/h.out")"
kill "$upid"; wait "$upid" 2>/dev/null
read -r maj min < <(stat -c '%t %T' "$card")
mknod /tmp/alias-r c $((16#$maj)) $((16#$min))
sleep 300 </tmp/alias-r &
rpid=$!
"$VMRUN" detach $GPU >"$tmp/h.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "3:$HOME_STATE" "a holder through a root mknod alias: refused (3), nothing changed"
check "...naming the pid ($rpid)" grep -q "pid $rpid" "$tmp/h.out" || diag "$(cat "$tmp/h.out")"
kill "$rpid"; wait "$rpid" 2>/dev/null; rm -f /tmp/alias-r
chmod 0660 "$card"
"$VMRUN" detach $GPU >"$tmp/d.out" 2>&1 || diag "detach for vfio-hold: $(cat "$tmp/d.out")"
"$VMRUN_BUILD/tools/vfio-hold" "$G" $GPU >"$tmp/vfio.out" 2>&1 &
vpid=$!
wait_until 10 grep -q holding "$tmp/vfio.out" || diag "vfio-hold: $(cat "$tmp/vfio.out")"
check "vfio-hold holds only a device fd (no /dev/vfio/$G)" \
    sh -c "! ls -l /proc/$vpid/fd | grep -q '/dev/vfio/$G'"
"$VMRUN" attach $GPU >"$tmp/h.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "3:vfio-pci vfio-pci" "a process holding only the VFIO device fd: attach refused (3)"
check "...naming the pid ($vpid)" grep -q "pid $vpid" "$tmp/h.out" || diag "$(cat "$tmp/h.out")"
kill "$vpid"; wait "$vpid" 2>/dev/null
"$VMRUN" attach $GPU >/dev/null 2>&1
assert_eq "$(home)" "$HOME_STATE" "after the device fd is closed, attach works"

# --- another user's switch --------------------------------------------------------------------
as alice "$VMRUN" detach $GPU >/dev/null 2>&1
for op in attach restore; do
    as bob "$VMRUN" $op $GPU >"$tmp/o.out" 2>&1; rc=$?
    assert_eq "$rc:$(home)" "4:vfio-pci vfio-pci" "bob (not allowed): $op of alice's group refused"
    as carol "$VMRUN" $op $GPU >"$tmp/o.out" 2>&1; rc=$?
    assert_eq "$rc:$(home)" "4:vfio-pci vfio-pci" "carol (allowed too): $op of alice's group refused"
    check "...saying it is alice's" grep -q "detached for another user (uid $(id -u alice))" "$tmp/o.out"
done
as bob "$HELPER" memlock 1048576 >"$tmp/o.out" 2>&1; rc=$?
assert_eq "$rc" 4 "bob: memlock refused"
as alice "$VMRUN" attach $GPU >/dev/null 2>&1
assert_eq "$(home)" "$HOME_STATE" "alice gives her group back"

# --- memlock --------------------------------------------------------------------------------------
# The helper's parent here is this root shell, not a process of alice's: refused.
setpriv --reuid=alice --regid=alice --init-groups "$HELPER" memlock 1048576 2>&1 | cat >"$tmp/m.out"
rc=${PIPESTATUS[0]}
assert_eq "$rc" 4 "memlock for a parent that is not alice's is refused"
check "...saying whose it is" grep -q "is not uid $(id -u alice)'s alone" "$tmp/m.out"
before=$(as alice sh -c "prlimit --memlock --raw --noheadings --output=SOFT --pid \$\$")
after=$(as alice sh -c "$HELPER memlock 0 >/dev/null; prlimit --memlock --raw --noheadings --output=SOFT --pid \$\$")
assert_eq "$after" "$before" "memlock 0 lowers nothing (soft limit $before)"
after=$(as alice sh -c "$HELPER memlock 268435456 >/dev/null; prlimit --memlock --raw --noheadings --output=SOFT --pid \$\$")
assert_eq "$after" 268435456 "memlock 256 MiB raises alice's own shell's limit"

# --- the allow file's groups and guards -------------------------------------------------------------
printf -- '- {device: "%s", groups: [vmrun]}\n' $GPU >/etc/vmrun/allow.yaml
for u in dave erin; do
    as $u "$VMRUN" detach $GPU >"$tmp/u.out" 2>&1; rc=$?
    [[ $rc == 0 ]] || diag "$(cat "$tmp/u.out")"
    assert_eq "$rc:$(home)" "0:vfio-pci vfio-pci" "$u (group vmrun, $( [[ $u == dave ]] && echo primary || echo supplementary)) may detach"
    as $u "$VMRUN" attach $GPU >/dev/null 2>&1
done
as bob "$VMRUN" detach $GPU >/dev/null 2>&1; rc=$?
assert_eq "$rc:$(home)" "4:$HOME_STATE" "bob (not in vmrun) may not"
allow
if command -v setfacl >/dev/null; then
    setfacl -m u:bob:rw /etc/vmrun/allow.yaml
    as alice "$VMRUN" detach $GPU >"$tmp/a.out" 2>&1; rc=$?
    assert_eq "$rc:$(home)" "4:$HOME_STATE" "an ACL giving bob write on allow.yaml: the helper refuses everything"
    setfacl -b /etc/vmrun/allow.yaml
else
    skip "an ACL on allow.yaml" "setfacl is not installed (package acl)"
fi
mv /etc/vmrun /etc/vmrun.real && ln -s /etc/vmrun.real /etc/vmrun
as alice "$VMRUN" detach $GPU >"$tmp/a.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "4:$HOME_STATE" "a symlinked /etc/vmrun: refused"
rm /etc/vmrun && mv /etc/vmrun.real /etc/vmrun
chown alice /etc/vmrun
as alice "$VMRUN" detach $GPU >"$tmp/a.out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "4:$HOME_STATE" "an /etc/vmrun that is not root's: refused"
chown root /etc/vmrun

# --- setup and allow files it cannot round-trip ------------------------------------------------------
for form in flow indented dashes; do
    case $form in
    flow) printf -- '[{device: "0000:05:00.0", users: [zed]}]\n' ;;
    indented) printf -- '  - device: "0000:05:00.0"\n    users: [zed]\n' ;;
    dashes) printf -- '- {device: "0000:05:00.0", users: [zed]}\n---\n' ;;
    esac >/etc/vmrun/allow.yaml
    cp /etc/vmrun/allow.yaml "$tmp/allow.before"
    SUDO_USER=alice "$VMRUN" setup --yes "$tmp/vm/chldrun.yaml" >"$tmp/s.out" 2>&1
    check "setup leaves a $form allow file it cannot round-trip as it was" cmp -s /etc/vmrun/allow.yaml "$tmp/allow.before"
done
allow

# --- another user's process name, escaped ------------------------------------------------------------
esc=$'\e]2;owned\a'
cp /bin/sleep "/tmp/$esc"
chmod 0755 "/tmp/$esc"
chmod 0666 "$card"
as_exec bob "/tmp/$esc" 300 <"$card" &
bpid=$!
wait_until 5 grep -qF "$esc" "/proc/$bpid/comm"
"$VMRUN" gpus $GPU >"$tmp/g.out" 2>&1
check "bob's escape-laden process name is printed escaped" grep -qF '\x1b]2;owned\x07' "$tmp/g.out" ||
    diag "$(cat -v "$tmp/g.out")"
check "...and no escape character reaches the terminal" sh -c "! grep -q \$'\\e' '$tmp/g.out'"
kill "$bpid"; wait "$bpid" 2>/dev/null
chmod 0660 "$card"

# === Issue 17: the helper's boundary, second pass ==============================================
HOSTILE=$VMRUN_BUILD/tools/hostile
VMRUN_INST=/usr/local/bin/vmrun
install -m 0755 "$VMRUN" "$VMRUN_INST" # input devices are given only to a run of the vmrun beside the helper
allow_all() { printf -- '- {device: "%s", users: [alice, carol]}\n- {input: %s, users: [alice]}\n%s' \
                  $GPU "${KBD:-/dev/input/none}" "${1:-}" >/etc/vmrun/allow.yaml; }

# --- the report: never a write as root through an fd the caller hands over ---------------------
# Files a local user must never get root's write on: the first line of the reported attack.
[[ -e /etc/sudoers ]] || install -m 0440 /dev/null /etc/sudoers
printf 'cp /bin/bash /tmp/rs; chmod 4755 /tmp/rs\n' >/tmp/x
chmod 0644 /tmp/x
# bob's terminal: a pty of his (script logs all that reaches it, into a file of his).
install -d -m 0700 -o bob /tmp/bob-tty
as_exec bob script -qfc "sleep 600" /tmp/bob-tty/log </dev/null >/dev/null 2>&1 &
bobscript=$!
wait_until 10 sh -c "pgrep -u bob -x sleep >/dev/null"
bobtty=$(readlink "/proc/$(pgrep -u bob -x sleep | head -n 1)/fd/0")
check "bob has a terminal of his own (${bobtty:-none})" test -c "${bobtty:-/nonexistent}"
watched=(/etc/bash.bashrc /etc/shadow /etc/sudoers /etc/vmrun/allow.yaml /tmp/bob-tty/log)
sums() { sha256sum "${watched[@]}" 2>&1; }
sums_before=$(sums)
# Every operation and parse error, each with the three standard fds on what alice may not
# write: read-only, O_PATH (even a file she cannot read), a directory, bob's terminal.
requests=("detach $GPU" "attach $GPU" "restore $GPU" "detach $GPU --run" "memlock 1048576"
          "hugepages 2048:1" "hugepages-free 2048:1" "input /dev/input/event0"
          "input-revoke /dev/input/event0" 'detach $(sh /tmp/x)' "frobnicate $GPU"
          "detach $GPU extra" "memlock 12abc" "hugepages 2048:0" "input /etc/shadow" "detach"
          "restore $GPU --holder=0")
fdsets=("--fd 1:rdonly:/etc/bash.bashrc --fd 2:path:/etc/shadow --fd 0:path:${bobtty:-/dev/null}"
        "--fd 1:path:/etc/shadow --fd 2:path:${bobtty:-/dev/null} --fd 0:rdonly:/etc/bash.bashrc"
        "--fd 1:path:${bobtty:-/dev/null} --fd 2:dir:/etc --fd 0:path:/etc/sudoers"
        "--fd 1:dir:/etc --fd 2:rdonly:/etc/bash.bashrc --fd 0:path:/etc/vmrun/allow.yaml"
        "--fd 1:path:/etc/sudoers --fd 2:path:/etc/sudoers --fd 0:dir:/etc")
n=0
for u in alice bob; do
    for fds in "${fdsets[@]}"; do
        for rq in "${requests[@]}"; do
            [[ $u == bob && $fds != "${fdsets[0]}" && $rq != *'$('* ]] && continue
            # shellcheck disable=SC2086 # the fd options and each request are words
            as $u "$HOSTILE" $fds -- "$HELPER" $rq
            n=$((n + 1))
        done
    done
done
assert_eq "$(sums)" "$sums_before" "$n requests as alice and bob, stdin, stdout and stderr read-only, O_PATH or a directory on root's files or bob's terminal: none changed"
check "...and no setuid shell appeared" test ! -e /tmp/rs
whole "after the fd attacks"
# A pipe or a file alice may write still gets the report.
out=$(as alice "$HELPER" detach '$(sh /tmp/x)' 2>/dev/null)
check "through a pipe the report still arrives" grep -q '"status":"bad-input"' <<<"$out"
install -m 0644 -o alice /dev/null "$tmp/alice.out"
as alice "$HELPER" detach '$(sh /tmp/x)' >"$tmp/alice.out" 2>/dev/null
check "...and into a file of alice's" grep -q '"status":"bad-input"' "$tmp/alice.out"
install -m 0644 /dev/null "$tmp/root.out"
as alice "$HELPER" detach '$(sh /tmp/x)' >"$tmp/root.out" 2>/dev/null
check "...but not into root's file opened for her (she may not write it)" test ! -s "$tmp/root.out"
pkill -u bob -x sleep; wait "$bobscript" 2>/dev/null

# --- scheduling: the switch never runs under what the caller set --------------------------------
"$VMRUN_BUILD/tools/schedwatch" vmrun-helper 25 >"$tmp/sched.out" &
wpid=$!
sleep 0.5
for _ in 1 2 3; do
    as alice "$HOSTILE" --idle --cpu 0 --ioidle --nice 19 --slack 1000000000 --oom 1000 -- \
        "$VMRUN" detach $GPU >/dev/null 2>&1
    as alice "$HOSTILE" --idle --cpu 0 --ioidle --nice 19 -- "$VMRUN" attach $GPU >/dev/null 2>&1
done
wait "$wpid"
ncpu=$(nproc --all)
samples=$(sed -n 's/^samples //p' "$tmp/sched.out")
check "the helper was seen running as root (${samples:-0} samples)" test "${samples:-0}" -gt 0
check "...always SCHED_OTHER, nice 0, all $ncpu CPUs, I/O best-effort 4, default timer slack" \
    sh -c "! grep '^seen' '$tmp/sched.out' | grep -v 'policy 0 nice 0 cpus $ncpu/$ncpu ioprio 2/4 slack 50000\$'"
grep '^seen' "$tmp/sched.out" | head -n 5 | while read -r l; do diag "$l"; done
whole "after the scheduling attacks"

# --- hugepages: one lock, credited what was made, never below the administrator's pool -----------
huge_total() { sed -n 's/^HugePages_Total: *//p' /proc/meminfo; }
echo 16 >/proc/sys/vm/nr_hugepages # the administrator's reservation
start=$(huge_total)
credit() { jq -r --arg u "$(id -u "$1")" '.["2048"].users[$u] // 0' /run/vmrun/switch/hugepages.json 2>/dev/null || echo 0; }
as alice "$HELPER" hugepages 2048:40 >/dev/null 2>&1; rc=$?
assert_eq "$rc:$(huge_total):$(credit alice)" "0:40:24" "alice asks for 40 free with 16 there: the pool grows by 24, she is credited 24"
for _ in 1 2 3; do as alice "$HELPER" hugepages-free 2048:100000 >/dev/null 2>&1; done
assert_eq "$(huge_total):$(credit alice)" "$start:0" "her repeated give-backs of 100000 take the pool back to $start, no lower"
as carol "$HELPER" hugepages-free 2048:100000 >/dev/null 2>&1
assert_eq "$(huge_total)" "$start" "carol, who was never credited, gives back nothing"
(while :; do huge_total; sleep 0.02; done) >"$tmp/pool.log" 2>/dev/null &
watcher=$!
jobs_=()
for i in 1 2 3 4; do
    for u in alice carol; do
        (as $u "$HELPER" hugepages 2048:$((20 + i * 8)) >/dev/null 2>&1
         as $u "$HELPER" hugepages-free 2048:100000 >/dev/null 2>&1) &
        jobs_+=($!)
    done
done
wait "${jobs_[@]}"
kill "$watcher"; wait "$watcher" 2>/dev/null
lowest=$(sort -n "$tmp/pool.log" | head -n 1)
check "8 concurrent grow-and-give-backs: the pool never went below $start (lowest ${lowest:-?})" test "${lowest:-0}" -ge "$start"
assert_eq "$(huge_total):$(credit alice):$(credit carol)" "$start:0:0" "...ends at $start with nobody credited"
as alice "$HELPER" hugepages 2048:1000000 2>/dev/null | cat >"$tmp/hp.out"; rc=${PIPESTATUS[0]}
assert_eq "$rc:$(huge_total)" "4:$start" "2 TB of hugepages: refused (4), the pool untouched"
check "...saying the host would be left too little" grep -q "would leave the host less than" "$tmp/hp.out"
allow_all "- {device: \"$GPU\", users: [carol], hugepages: 32M}"$'\n'
as carol "$HELPER" hugepages 2048:40 2>/dev/null | cat >"$tmp/hp.out"; rc=${PIPESTATUS[0]}
assert_eq "$rc:$(huge_total)" "4:$start" "carol's quota of 32M: 24 pages (48 MiB) more refused (4)"
check "...naming the quota" grep -q "over the 32 MiB /etc/vmrun/allow.yaml allows them" "$tmp/hp.out"
echo 0 >/proc/sys/vm/nr_hugepages

# --- input ACLs: only for a run, recorded by root, gone when the run is ----------------------------
modprobe uinput && modprobe evdev
mkfifo "$tmp/ucmd"
"$VMRUN_BUILD/tools/uinput-dev" vmrun-attack <"$tmp/ucmd" >"$tmp/udev.out" 2>&1 &
uipid=$!
exec 9>"$tmp/ucmd"
wait_until 5 grep -q '^kbd ' "$tmp/udev.out"
mkdir -p /dev/input/by-id
KBD=/dev/input/by-id/usb-vmrun-attack-event-kbd
ln -sfn "$(grep '^kbd ' "$tmp/udev.out" | cut -d' ' -f2)" "$KBD"
node=$(readlink -f "$KBD")
chmod 0600 "$node"
allow_all
acl_alice() { getfacl -p "$node" 2>/dev/null | grep -q '^user:alice'; }
records() { ls /run/vmrun/switch/input-*.json 2>/dev/null | wc -l; }
as alice sh -c "'$HELPER' input $KBD" 2>/dev/null | cat >"$tmp/in.out"; rc=${PIPESTATUS[0]}
assert_eq "$rc" 4 "alice calls the helper for her keyboard from a shell, no VM running: refused (4)"
check "...saying it is given only to a vmrun run" grep -q "input devices are given only to a vmrun run" "$tmp/in.out"
check "...and she has no ACL entry on it" sh -c "! getfacl -p '$node' | grep -q '^user:alice'"
as alice "$HELPER" input $KBD >/dev/null 2>&1; rc=$?
assert_eq "$rc:$(records)" "4:0" "...nor with root's shell as the parent"
tests/lab/tiny-guest "$tmp/ivm" inrun hang 3 >/dev/null
sed -i -e '/^pci:/,/address:/d' -e "s|serial.log|alice-serial.log|" "$tmp/ivm/inrun.yaml"
printf 'input: {keyboard: %s}\n' "$KBD" >>"$tmp/ivm/inrun.yaml"
chmod -R a+rX "$tmp/ivm"; chown alice "$tmp/ivm"
# killed KILLS: a run of alice's with her keyboard, killed (vmrun, or vmrun and its guard) once
# she has the ACL entry.
start_run() {
    as alice "$VMRUN_INST" "$tmp/ivm/inrun.yaml" >"$tmp/inrun.out" 2>&1 &
    wait_until 60 acl_alice
}
run_pids() { pgrep -u alice -x 'vmrun|vmrun-guard'; }
start_run
check "a run of alice's with her keyboard: she has an ACL entry on it" acl_alice ||
    diag "$(tail -n 5 "$tmp/inrun.out")"
assert_eq "$(records)" 1 "...recorded on root's side"
pkill -KILL -u alice -x vmrun
check "vmrun killed: its guard takes the entry back" wait_until 30 sh -c "! getfacl -p '$node' | grep -q '^user:alice'"
wait_until 20 sh -c "! pgrep -u alice -x vmrun >/dev/null"
assert_eq "$(records)" 0 "...and root's record with it"
for who in restore sweep; do
    start_run
    # The guard first, then the run: nothing of alice's is left to take it back.
    for p in $(run_pids); do kill -STOP "$p"; done
    for p in $(run_pids); do kill -KILL "$p"; done
    wait_until 20 sh -c "! pgrep -u alice -f '^qemu-system' >/dev/null"
    check "run and guard killed ($who): the entry is still there, recorded" sh -c "getfacl -p '$node' | grep -q '^user:alice' && ls /run/vmrun/switch/input-*.json >/dev/null"
    if [[ $who == restore ]]; then
        "$VMRUN" restore >"$tmp/r.out" 2>&1
        check "root's vmrun restore takes it back" sh -c "! getfacl -p '$node' | grep -q '^user:alice'" ||
            diag "$(cat "$tmp/r.out")"
    else
        as carol sh -c "'$HELPER' memlock 0 >/dev/null 2>&1"
        check "carol's next use of the helper (anything) takes it back first" sh -c "! getfacl -p '$node' | grep -q '^user:alice'"
    fi
    assert_eq "$(records)" 0 "...and the record"
    as alice "$VMRUN_INST" restore inrun >/dev/null 2>&1
done
exec 9>&-
kill "$uipid" 2>/dev/null; wait "$uipid" 2>/dev/null
allow

assert_eq "$(home)" "$HOME_STATE" "at the end: the GPU is on its host drivers"
rm -rf "$tmp"
finish
