#!/bin/bash
# Issue 8 in the lab, on the real kernel: the setuid helper's boundary, attacked the way a
# local user can. alice and carol are allowed the bochs+HDA group, bob is not. Each attack on a
# switch (terminal signals in a pty at several moments, a closed or full stdout, an inherited
# interval timer, file-size and fd limits, an ignored SIGCHLD) must end with the group whole: on
# its host drivers, or wholly on vfio-pci and then given back whole by alice's restore; and
# root's attach is never blocked. Hidden holders (a bind mount in alice's own mount namespace, a
# root mknod alias, a bare VFIO device fd) are found and named; bob and carol cannot touch
# alice's switch; memlock only raises and only for its caller; the allow file's guards hold;
# another user's process name reaches root's terminal escaped.
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
setpriv --reuid=alice --regid=alice --init-groups "$HELPER" memlock 1048576 >"$tmp/m.out" 2>&1; rc=$?
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

assert_eq "$(home)" "$HOME_STATE" "at the end: the GPU is on its host drivers"
rm -rf "$tmp"
finish
