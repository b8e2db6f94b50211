#!/bin/bash
# Runs inside the lab (see tests/lab/demo): what vmrun sees, what a run would start, and the
# GPU handed to vfio-pci and back while Xorg keeps running on the other GPU.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMRUN=$VMRUN_BUILD/vmrun
step() { printf '\n$ %s\n' "${*#"$VMRUN_BUILD/"}"; "$@"; echo "(exit $?)"; }
step "$VMRUN" gpus
step "$VMRUN" check profiles/examples/lab.yaml
step "$VMRUN" --dry-run profiles/examples/lab.yaml
xpid=$(xorg_start safe) || exit 1
printf '\n# Xorg runs on the virtio GPU (00:02.0), pid %s\n' "$xpid"
step "$VMRUN" detach 0000:01:00.0
step "$VMRUN" status
step "$VMRUN" attach 0000:01:00.0
if xorg_alive "$xpid"; then printf '\n# Xorg pid %s still answers\n' "$xpid"; else echo "# Xorg died"; exit 1; fi
xorg_stop "$xpid"
exit 0
