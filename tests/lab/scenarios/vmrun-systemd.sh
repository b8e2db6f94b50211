#!/bin/bash
# lab-init: systemd
# lab-timeout: 1800
# lab-cost: 190
# Issue 11 in the lab booted with systemd as PID 1 (udev, journald, logind, D-Bus): the text
# console on the bochs GPU (udev may load bochs first; else it is put there), which check reports
# and detach moves to the virtio GPU's framebuffer and back; alice's vmrun@lab user service,
# started by her lingering manager as at boot: active only once the guest runs (READY), its
# STATUS shown, `systemctl --user stop` powering the guest down with the GPU home before the unit
# is inactive; a guest ignoring ACPI stopped within TimeoutStopSec; vmrun killed inside the unit
# and the GPU back with nothing typed; the timeline in her journal.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
CON2FB=$VMRUN_BUILD/tools/con2fb
GPU=0000:01:00.0 AUDIO=0000:01:00.1 HOST=0000:00:02.0
HOME_STATE="bochs-drm snd_hda_intel"
home() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }
gpu_home() { [[ $(home) == "$HOME_STATE" ]]; }
fb_of() { # the framebuffer number of a PCI device, "" when it has none
    local f
    for f in /sys/class/graphics/fb*; do
        [[ $(basename "$(readlink -f "$f/device")") == "$1" ]] && { echo "${f##*/fb}"; return; }
    done
}

assert_eq "$(ps -p 1 -o comm=)" systemd "PID 1 is systemd"
check "logind runs" systemctl is-active --quiet systemd-logind
check "journald runs" systemctl is-active --quiet systemd-journald

# --- the text console on the passthrough GPU -----------------------------------------------
wait_until 20 sh -c "[ -n \"\$(ls /sys/class/graphics/ | grep fb)\" ]"
bfb=$(fb_of $GPU) hfb=$(fb_of $HOST)
diag "framebuffers: bochs fb${bfb:-?}, virtio fb${hfb:-?}; console 1 on fb$($CON2FB "${bfb:-0}" 1)"
if [[ -z $bfb || -z $hfb ]]; then
    fail "both GPUs have a framebuffer"; finish
fi
if [[ $($CON2FB "$bfb" 1) == "$bfb" ]]; then
    ok "fbcon is on the bochs GPU's fb$bfb at boot (its driver probed first)"
else
    "$CON2FB" "$bfb" all "$bfb"
    assert_eq "$($CON2FB "$bfb" 1)" "$bfb" "fbcon put on the bochs GPU's fb$bfb (virtio probed first here)"
fi
tests/lab/tiny-guest /tmp/console labcon off 20 >/dev/null
out=$("$VMRUN" check /tmp/console/labcon.yaml 2>&1)
check "check reports the console and where it goes" grep -q "the text console (fbcon, consoles 1-63) is on its framebuffer fb$bfb: it moves to fb$hfb ($HOST) while the VM runs" <<<"$out"
check "...with the permanent fix" grep -q "fbcon=map:$hfb" <<<"$out"
"$VMRUN" detach $GPU >/tmp/d.out 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:vfio-pci vfio-pci" "detach with fbcon on the GPU works"
check "...saying it moved the consoles" grep -q "text consoles 1-63 moved from fb$bfb ($GPU) to fb$hfb ($HOST)" /tmp/d.out
assert_eq "$($CON2FB "$hfb" 1) $($CON2FB "$hfb" 63)" "$hfb $hfb" "consoles 1 and 63 are on the virtio GPU's fb$hfb"
"$VMRUN" attach $GPU >/tmp/a.out 2>&1; rc=$?
assert_eq "$rc:$(home)" "0:$HOME_STATE" "attach gives the GPU back"
bfb2=$(fb_of $GPU)
check "...and the consoles back on the bochs GPU's framebuffer (fb${bfb2:-none})" grep -q "text consoles 1-63 back on fb$bfb2 ($GPU)" /tmp/a.out
assert_eq "$($CON2FB "$hfb" 1)" "${bfb2:-x}" "console 1 is on the bochs GPU's fb again"
setup_out=$(SUDO_USER=root "$VMRUN" setup /tmp/console/labcon.yaml 2>&1)
check "setup proposes fbcon=map:$hfb" grep -q "fbcon=map:$hfb keeps it on fb$hfb" <<<"$setup_out"

# --- alice's user service -------------------------------------------------------------------
useradd -m alice || { fail "user alice made"; finish; }
uid=$(id -u alice)
install -m 0755 "$VMRUN" /usr/local/bin/vmrun
install -d -m 0755 /usr/local/libexec/vmrun /usr/local/lib/systemd/user
install -m 4755 -o root -g root "$VMRUN_BUILD/vmrun-helper" /usr/local/libexec/vmrun/vmrun-helper
sed 's|@BINDIR@|/usr/local/bin|g' launcher/systemd/vmrun@.service >/usr/local/lib/systemd/user/vmrun@.service
install -d -m 0755 /etc/vmrun
printf -- '- {device: "%s", users: [alice]}\n' $GPU >/etc/vmrun/allow.yaml
as_alice() { setpriv --reuid=alice --regid=alice --init-groups env -i PATH="$PATH" HOME=/home/alice \
                 USER=alice XDG_RUNTIME_DIR=/run/user/$uid DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus \
                 VMRUN_BUILD="$VMRUN_BUILD" "$@"; }
uctl() { as_alice systemctl --user "$@"; }
prop() { uctl show -p "$2" --value "$1" 2>/dev/null; }
cfg=/home/alice/.config/vmrun
as_alice mkdir -p "$cfg" /home/alice/.config/systemd/user/default.target.wants /home/alice/vm
as_alice tests/lab/tiny-guest /home/alice/vm/lab lab acpi 30 >/dev/null
as_alice tests/lab/tiny-guest /home/alice/vm/labhang labhang hang 5 >/dev/null
as_alice cp /home/alice/vm/lab/lab.yaml /home/alice/vm/labhang/labhang.yaml "$cfg/"
# Enabled the way `systemctl --user enable vmrun@lab` does it, before her manager exists.
as_alice ln -s /usr/local/lib/systemd/user/vmrun@.service \
    /home/alice/.config/systemd/user/default.target.wants/vmrun@lab.service
loginctl enable-linger alice
check "lingering starts alice's manager" wait_until 60 systemctl is-active --quiet "user@$uid.service"

# READY only once the guest runs: every state seen until active, and the guest then.
seen="" st=""
for _ in $(seq 1 1200); do
    st=$(prop vmrun@lab.service ActiveState)
    [[ $seen == *" $st"* ]] || seen+=" $st"
    [[ $st == active || $st == failed ]] && break
    sleep 0.1
done
guest=$(as_alice vmrun status --json 2>/dev/null | jq -r '.vms[] | select(.name == "lab") | .qmp_status')
assert_eq "$st" active "vmrun@lab became active (states seen:$seen)"
if [[ $st != active ]]; then
    diag "$(journalctl --no-pager -o cat _UID="$uid" 2>&1 | grep -v pulseaudio | tail -n 40)"
    finish
fi
check "it was activating before (Type=notify: READY comes later)" grep -q activating <<<"$seen"
assert_eq "$guest" running "when it became active the guest was running"
status=$(prop vmrun@lab.service StatusText)
check "systemctl --user status shows vmrun's STATUS ($status)" test -n "$status"
check "...which is vmrun's own line" grep -q "the guest is running\|QMP connected" <<<"$status"
assert_eq "$(home)" "vfio-pci vfio-pci" "the GPU is the guest's"
assert_eq "$($CON2FB "$hfb" 1)" "$hfb" "the consoles moved to the virtio GPU while it runs"
check "the tiny guest booted (it waits for the power button)" wait_until 600 grep -q GUEST-ACPI /home/alice/vm/lab/serial.log

# stop: the guest powers down; the GPU is home before the unit is inactive.
t0=$SECONDS
uctl stop vmrun@lab.service
stopped_home=$(home)
assert_eq "$stopped_home" "$HOME_STATE" "systemctl --user stop returned with the GPU home ($((SECONDS - t0))s)"
assert_eq "$(prop vmrun@lab.service ActiveState)" inactive "vmrun@lab is inactive (not failed: a clean stop)"
check "the guest saw the power button" grep -q GUEST-POWER-BUTTON /home/alice/vm/lab/serial.log
assert_eq "$($CON2FB "$hfb" 1)" "$(fb_of $GPU)" "the consoles are back on the bochs GPU"
tl=$(journalctl --no-pager -o cat _UID="$uid" _SYSTEMD_USER_UNIT=vmrun@lab.service 2>&1)
for line in "QEMU started" "the guest is running" "asked the guest to power down" \
            "the guest shut down" "is back on its host drivers"; do
    check "the journal has the timeline: \"$line\"" grep -q "$line" <<<"$tl"
done

# A guest ignoring ACPI: forced after its shutdown_timeout, well within TimeoutStopSec.
uctl start vmrun@labhang.service
assert_eq "$(prop vmrun@labhang.service ActiveState)" active "vmrun@labhang is active"
t0=$SECONDS
uctl stop vmrun@labhang.service
t=$((SECONDS - t0))
check "stopping the ACPI-ignoring guest took ${t}s, within TimeoutStopSec (150 s)" test "$t" -lt 150
assert_eq "$(home)" "$HOME_STATE" "...and the GPU is home"
check "the journal says it was stopped by force" sh -c "journalctl --no-pager -o cat _UID=$uid _SYSTEMD_USER_UNIT=vmrun@labhang.service | grep -q 'stopped by force'"

# vmrun killed inside the unit: the GPU comes back, nothing typed.
uctl start vmrun@labhang.service
main=$(prop vmrun@labhang.service MainPID)
assert_ne "${main:-0}" 0 "vmrun@labhang runs (vmrun pid $main)"
kill -KILL "$main"
check "vmrun killed in the unit: the GPU is back within 10 s" wait_until 10 gpu_home
check "...no QEMU left" wait_until 10 sh -c "! pgrep -f '^qemu-system-x86_64' >/dev/null"
unit_down() { [[ $(prop vmrun@labhang.service ActiveState) != active ]]; }
check "...the unit is not active" wait_until 30 unit_down
wait_until 30 sh -c "! pgrep -u alice -f 'vmrun restore' >/dev/null"
tl=$(journalctl --no-pager -o cat _UID="$uid" _SYSTEMD_USER_UNIT=vmrun@labhang.service 2>&1)
check "the journal shows who gave the GPU back (the guard or ExecStopPost's vmrun restore)" \
    grep -q "everything is back on the host\|restore: done\|nothing to give back" <<<"$tl"
[[ $(home) == "$HOME_STATE" ]] || diag "$tl"
check "no journal left" test ! -e /run/vmrun/switch/group-"$(group_of $GPU)".json

# --- a user's unit named like the vendor service is not the system's service -----------------
# A stand-in for NVIDIA's persistence daemon as a system unit, and alice's own user unit of the
# same name holding the GPU: her detach is refused with her pid named, and the system's unit is
# neither stopped nor started for her.
cat >/etc/systemd/system/nvidia-persistenced.service <<'UNIT'
[Unit]
Description=Stand-in for NVIDIA's persistence daemon (the lab has no NVIDIA driver)
[Service]
ExecStart=/bin/sleep infinity
UNIT
systemctl daemon-reload
systemctl start nvidia-persistenced.service
inv=$(systemctl show -p InvocationID --value nvidia-persistenced.service)
card=$(card_of $GPU)
chmod 0666 "$card"
as_alice systemd-run --user --quiet --unit=nvidia-persistenced sh -c "exec sleep 300 <$card"
user_unit_up() { [[ $(prop nvidia-persistenced.service MainPID) != 0 ]]; }
wait_until 10 user_unit_up
upid=$(prop nvidia-persistenced.service MainPID)
wait_until 10 sh -c "ls -l /proc/$upid/fd 2>/dev/null | grep -q '$card'"
check "alice's user unit nvidia-persistenced.service holds the GPU (pid $upid)" \
    sh -c "ls -l /proc/$upid/fd | grep -q '$card'"
as_alice vmrun detach $GPU >/tmp/p.out 2>&1; rc=$?
assert_eq "$rc:$(home)" "3:$HOME_STATE" "her detach is refused (3), nothing changed"
check "...naming her process (pid $upid)" grep -q "pid $upid" /tmp/p.out || diag "$(cat /tmp/p.out)"
check "...stopping no service" sh -c "! grep -q 'stopped nvidia-persistenced' /tmp/p.out"
assert_eq "$(systemctl show -p InvocationID --value nvidia-persistenced.service)" "$inv" \
    "the system's nvidia-persistenced.service was neither stopped nor started"
assert_eq "$(systemctl is-active nvidia-persistenced.service)" active "...and still runs"
uctl stop nvidia-persistenced.service
systemctl stop nvidia-persistenced.service
chmod 0660 "$card"

loginctl disable-linger alice
finish
