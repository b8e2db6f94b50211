#!/bin/bash
# lab-timeout: 1200
# lab-cost: 60
# Issue 11 (3) in the lab: a desktop session of alice's (Xorg kept off the bochs GPU, a D-Bus
# session bus, the notification daemon a desktop has): `vmrun desktop-entry` writes her launcher
# entry, and `gio launch` starts it the way a desktop's menu does. The VM runs with the GPU, and
# the notifications she would see are on the bus: the guest running, stopped, and, with the GPU
# held by one of her programs, the error naming the holder.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=/usr/local/bin/vmrun
GPU=0000:01:00.0 AUDIO=0000:01:00.1
HOME_STATE="bochs-drm snd_hda_intel"
home() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }
for t in gio dbus-run-session dbus-monitor notify-send /usr/lib/notification-daemon/notification-daemon; do
    command -v "$t" >/dev/null || { fail "$t is installed (tests/install-deps)"; finish; }
done

useradd -m alice || { fail "alice"; finish; }
install -m 0755 "$VMRUN_BUILD/vmrun" "$VMRUN"
install -d -m 0755 /usr/local/libexec/vmrun /etc/vmrun
install -m 4755 -o root -g root "$VMRUN_BUILD/vmrun-helper" /usr/local/libexec/vmrun/vmrun-helper
printf -- '- {device: "%s", users: [alice]}\n' $GPU >/etc/vmrun/allow.yaml
mkdir -p /tmp/alice-run && chown alice /tmp/alice-run && chmod 0700 /tmp/alice-run

xpid=$(xorg_start safe) || { fail "Xorg (safe) started"; finish; }
DISPLAY=$LAB_XORG_DISPLAY xhost +si:localuser:alice >/dev/null
session() { # the same session bus for every step: its address in /tmp/alice-bus
    setpriv --reuid=alice --regid=alice --init-groups env -i PATH="$PATH" HOME=/home/alice \
        USER=alice XDG_RUNTIME_DIR=/tmp/alice-run DISPLAY="$LAB_XORG_DISPLAY" VMRUN_BUILD="$VMRUN_BUILD" \
        DBUS_SESSION_BUS_ADDRESS="$(cat /tmp/alice-bus 2>/dev/null)" "$@"
}
session_exec() { # as session, for a background job that is the command itself ($! its pid)
    exec setpriv --reuid=alice --regid=alice --init-groups env -i PATH="$PATH" HOME=/home/alice \
        USER=alice XDG_RUNTIME_DIR=/tmp/alice-run DISPLAY="$LAB_XORG_DISPLAY" \
        DBUS_SESSION_BUS_ADDRESS="$(cat /tmp/alice-bus 2>/dev/null)" "$@"
}
# A session bus that lives for the whole scenario, as a desktop session's does.
setpriv --reuid=alice --regid=alice --init-groups env -i PATH="$PATH" HOME=/home/alice \
    dbus-daemon --session --fork --nopidfile --print-address=1 >/tmp/alice-bus
check "alice's session bus runs" test -s /tmp/alice-bus
session /usr/lib/notification-daemon/notification-daemon >/tmp/notifyd.log 2>&1 &
ndpid=$!
session dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \
    >/tmp/notify.log 2>&1 &
mpid=$!
owned() { session dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
              org.freedesktop.DBus.GetNameOwner string:org.freedesktop.Notifications >/dev/null 2>&1; }
check "the notification daemon owns org.freedesktop.Notifications" wait_until 20 owned
session notify-send "probe" "the bus works" && wait_until 5 grep -q '"the bus works"' /tmp/notify.log
check "a notification is seen on the bus (dbus-monitor)" grep -q '"the bus works"' /tmp/notify.log

# alice's profile and her launcher entry.
session mkdir -p /home/alice/.config/vmrun /home/alice/vm
session tests/lab/tiny-guest /home/alice/vm/lab lab acpi 30 >/dev/null
session cp /home/alice/vm/lab/lab.yaml /home/alice/.config/vmrun/lab.yaml
session "$VMRUN" desktop-entry lab >/tmp/entry.out 2>&1; rc=$?
entry=/home/alice/.local/share/applications/vmrun-lab.desktop
assert_eq "$rc" 0 "vmrun desktop-entry lab exits 0"
check "it wrote $entry" test -f "$entry"
check "its Exec runs vmrun --notify" grep -q '^Exec=.*vmrun.* --notify' "$entry"

# dbus-monitor prints the call, then one argument a line: app, id, icon, summary, body, ...
notified() { grep -A6 'member=Notify' /tmp/notify.log | grep -q "$1"; }
running() { session "$VMRUN" status --json 2>/dev/null | jq -e '.vms[] | select(.name == "lab") | .qmp_status == "running"' >/dev/null; }

# Launched as a desktop's menu launches it.
session gio launch "$entry" >/tmp/gio.out 2>&1; rc=$?
assert_eq "$rc" 0 "gio launch $entry exits 0"
check "the VM runs (started by the launcher)" wait_until 300 running
assert_eq "$(home)" "vfio-pci vfio-pci" "the GPU is the guest's"
check "a notification says the guest is running" wait_until 20 notified "the guest is running"
check "the tiny guest booted" wait_until 600 grep -q GUEST-ACPI /home/alice/vm/lab/serial.log
session "$VMRUN" stop lab >/tmp/stop.out 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:$HOME_STATE" "vmrun stop: the guest powered down and the GPU is home"
check "a notification says the guest shut down" wait_until 20 notified "the guest shut down"

# The GPU held by one of alice's programs: the launcher's run refuses, and says who holds it.
card=$(card_of $GPU)
chmod 0666 "$card"
session_exec sleep 600 <"$card" &
hpid=$!
wait_until 5 grep -qx sleep /proc/$hpid/comm
session gio launch "$entry" >/tmp/gio2.out 2>&1
check "a notification names the holder (pid $hpid sleep)" wait_until 30 notified "pid $hpid sleep"
check "...as an error (critical urgency)" sh -c "grep -B2 -A12 'pid $hpid sleep' /tmp/notify.log | grep -q 'byte 2'"
assert_eq "$(home)" "$HOME_STATE" "the GPU was never touched"
kill "$hpid"; wait "$hpid" 2>/dev/null
chmod 0660 "$card"
[[ $LAB_FAILED == 0 ]] || diag "$(cat /tmp/notify.log | head -c 4000)"

kill "$mpid" "$ndpid" 2>/dev/null
check "Xorg kept running throughout (pid $xpid)" xorg_alive "$xpid"
xorg_stop "$xpid"
finish
