#!/bin/bash
# The main job, inside the lab (see tests/lab/demo): the desktop (Xorg) runs on the virtio GPU;
# `vmrun lab.yaml` hands the bochs+HDA card to a tiny guest, which lists its PCI devices and
# powers itself off; the card comes back and Xorg never noticed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMRUN=$VMRUN_BUILD/vmrun
step() { printf '\n$ %s\n' "${*#"$VMRUN_BUILD/"}"; "$@"; rc=$?; echo "(exit $rc)"; return $rc; }
vm=/tmp/vmrun-demo
# The main job boots a real guest OS: Linux with a busybox initrd (tests/lab/tiny-guest).
TINY_GUEST=linux tests/lab/tiny-guest "$vm" lab off 30 || exit 1
step "$VMRUN" gpus
step "$VMRUN" check "$vm/lab.yaml"
xpid=$(xorg_start safe) || exit 1
printf '\n# Xorg runs on the virtio GPU (0000:00:02.0), pid %s\n' "$xpid"
step "$VMRUN" "$vm/lab.yaml"; rc=$?
printf '\n# what the guest printed on its serial console:\n'
grep GUEST "$vm/serial.log"
printf '\n# after the run: 0000:01:00.0 on %s, 0000:01:00.1 on %s\n' "$(driver_of 0000:01:00.0)" "$(driver_of 0000:01:00.1)"
if xorg_alive "$xpid"; then printf '# Xorg pid %s still answers\n' "$xpid"; else echo "# Xorg died"; rc=1; fi
xorg_stop "$xpid"
exit "$rc"
