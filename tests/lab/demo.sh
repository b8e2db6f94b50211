#!/bin/bash
# Runs inside the lab (see tests/lab/demo): what vmrun sees and what it would run.
set -uo pipefail
VMRUN=$VMRUN_BUILD/vmrun
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; echo "(exit $?)"; }
step "$VMRUN" gpus
step "$VMRUN" check profiles/examples/lab.yaml
step "$VMRUN" --dry-run profiles/examples/lab.yaml
exit 0
