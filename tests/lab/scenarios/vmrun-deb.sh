#!/bin/bash
# lab-timeout: 1200
# lab-cost: 160
# Issue 20 in the lab: the Debian package (built by tests/packaging/deb into BUILD/deb) installed
# with apt, not `make install`: its files and modes; an allowed user's VM run with the GPU from
# the installed /usr/bin/vmrun and its setuid /usr/libexec/vmrun/vmrun-helper; removal refused
# while a GPU is still switched; `apt purge` leaves nothing of the package, and the user's
# profile and VM state where they were.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

GPU=0000:01:00.0 AUDIO=0000:01:00.1
HOME_STATE="bochs-drm snd_hda_intel"
home() { echo "$(driver_of $GPU) $(driver_of $AUDIO)"; }
deb=$(ls "$VMRUN_BUILD"/deb/vmrun_*.deb 2>/dev/null | head -n1)
if [[ -z $deb ]]; then
    fail "the package was built (tests/packaging/deb $VMRUN_BUILD)"
    finish
fi
diag "installing $(basename "$deb")"

# --- apt install ./vmrun_*.deb (everything it depends on is already there: no network) ---
cp "$deb" /tmp/ && deb=/tmp/$(basename "$deb")
# Not --no-download: with it, apt 2.6 stops at a local .deb ("Internal Error, Pathname to install
# is not absolute"); there is no network here, and every dependency is installed already.
# man-db's trigger would rebuild the whole manual index, minutes under TCG: off in this lab.
rm -f /var/lib/man-db/auto-update
apt-get install -y -q "$deb" >/tmp/apt.log 2>&1; rc=$?
assert_eq "$rc" 0 "apt-get install ./$(basename "$deb")"
[[ $rc == 0 ]] || { diag "$(tail -n 20 /tmp/apt.log)"; finish; }
check "dpkg has it installed" sh -c "dpkg-query -W -f='\${Status}' vmrun | grep -q 'install ok installed'"
dpkg -L vmrun | sort >/tmp/files
assert_eq "$(stat -c '%a %U:%G' /usr/libexec/vmrun/vmrun-helper)" "4755 root:root" "the helper is setuid root, as packaged"
assert_eq "$(command -v vmrun)" /usr/bin/vmrun "vmrun is /usr/bin/vmrun"
check "man vmrun is there" test -s /usr/share/man/man1/vmrun.1.gz
check "the user unit is there" test -s /usr/lib/systemd/user/vmrun@.service
check "the allow file allows nobody as installed" sh -c "! grep -v '^#' /etc/vmrun/allow.yaml | grep -q ."

# --- an allowed user's run with the GPU, from the installed files ---
useradd -m alice || { fail "user alice"; finish; }
as() { # as USER CMD...: the user's ids and groups, a clean environment
    local u=$1; shift
    mkdir -p "/tmp/$u-run" && chown "$u" "/tmp/$u-run" && chmod 0700 "/tmp/$u-run"
    setpriv --reuid="$u" --regid="$u" --init-groups env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME="/home/$u" VMRUN_BUILD="$VMRUN_BUILD" \
        USER="$u" XDG_RUNTIME_DIR="/tmp/$u-run" "$@"
}
out=/home/alice/out && : >"$out" && chown alice "$out"
as alice vmrun detach $GPU >"$out" 2>&1; rc=$?
assert_eq "$rc:$(home)" "4:$HOME_STATE" "before the administrator allows her: alice is refused (4)"
printf -- '- {device: "%s", users: [alice]}\n' $GPU >>/etc/vmrun/allow.yaml
as alice tests/lab/tiny-guest /home/alice/vm labrun off 20 >/dev/null
as alice mkdir -p /home/alice/.config/vmrun
as alice cp /home/alice/vm/labrun.yaml /home/alice/.config/vmrun/
as alice vmrun labrun >"$out" 2>&1; rc=$?
assert_eq "$rc" 0 "alice runs her VM with the GPU (/usr/bin/vmrun, the packaged helper)"
[[ $rc == 0 ]] || diag "$(tail -n 20 "$out")"
check "...the guest saw the card" grep -q "GUEST-PCI 0000:01:00.0 1234:1111" /home/alice/vm/serial.log
check "...through the packaged helper" grep -q "locked-memory limit of pid" "$out"
assert_eq "$(home)" "$HOME_STATE" "...and the GPU is back on its host drivers"

# --- removal waits for a switched GPU to come back ---
as alice vmrun detach $GPU >"$out" 2>&1
apt-get remove -y -q vmrun >/tmp/apt.log 2>&1; rc=$?
assert_ne "$rc" 0 "apt remove is refused while alice's GPU is on vfio-pci"
check "...saying why" grep -q "a GPU is still switched by vmrun" /tmp/apt.log
check "...and vmrun is still installed" test -x /usr/bin/vmrun
as alice vmrun attach $GPU >"$out" 2>&1
assert_eq "$(home)" "$HOME_STATE" "alice gives it back"

# --- apt purge: nothing of the package is left; alice's files are hers ---
apt-get purge -y -q vmrun >/tmp/apt.log 2>&1; rc=$?
assert_eq "$rc" 0 "apt purge vmrun"
[[ $rc == 0 ]] || diag "$(tail -n 20 /tmp/apt.log)"
left=$(while read -r f; do [[ -f $f || -L $f ]] && echo "$f"; done </tmp/files)
assert_eq "$left" "" "every file the package installed is gone"
check "/etc/vmrun (the conffile, edited) is gone" test ! -e /etc/vmrun
check "/usr/libexec/vmrun is gone" test ! -e /usr/libexec/vmrun
check "dpkg no longer knows it" sh -c "! dpkg-query -W vmrun >/dev/null 2>&1 || dpkg-query -W -f='\${Status}' vmrun | grep -q not-installed"
check "alice's profile is hers still" test -s /home/alice/.config/vmrun/labrun.yaml
check "...and her VM's files (its profile, its console log)" test -s /home/alice/vm/labrun.yaml -a -s /home/alice/vm/serial.log
finish
