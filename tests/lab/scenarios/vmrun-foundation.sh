#!/bin/bash
# Issue 2 in the lab, on the real kernel: vmrun gpus/check --json and --dry-run see the two-GPU
# topology, name holders (a plain process and Xorg with its defaults), and change nothing.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VMRUN=$VMRUN_BUILD/vmrun
HOST=0000:00:02.0 GPU=0000:01:00.0 AUDIO=0000:01:00.1
tmp=$(mktemp -d)
card=$(card_of $GPU)

# --- gpus --json, with a process holding the bochs card ---
sleep 600 3<"$card" &
holder=$!
wait_until 5 test -e "/proc/$holder/fd/3"
out=$("$VMRUN" gpus --json 2>"$tmp/err"); rc=$?
assert_eq "$rc" 0 "vmrun gpus --json exits 0"
gpu() { jq -r --arg a "$1" ".gpus[] | select(.address == \$a) | $2" <<<"$out"; }
assert_eq "$(gpu $GPU .driver)" bochs-drm "gpus: $GPU is on bochs-drm"
assert_eq "$(gpu $GPU '[.group.members[].address] | join(" ")')" "$GPU $AUDIO" \
    "gpus: $GPU and $AUDIO are its group's members"
assert_eq "$(gpu $GPU '.group.members[] | select(.address == "'$AUDIO'") | .driver')" snd_hda_intel \
    "gpus: $AUDIO is on snd_hda_intel"
assert_eq "$(gpu $GPU '.group.members[] | select(.address == "'$AUDIO'") | .role')" gpu-audio \
    "gpus: $AUDIO is the GPU's audio function"
assert_eq "$(gpu $GPU .group.id)" "$(group_of $GPU)" "gpus: group id matches sysfs"
assert_ne "$(gpu $HOST .group.id)" "$(gpu $GPU .group.id)" "gpus: $HOST is in another group"
assert_eq "$(gpu $GPU '.holders[] | select(.pid == '$holder') | .node')" "$card" \
    "gpus: the sleep process (pid $holder) is named as holder of $card"
assert_eq "$(gpu $GPU '.holders[] | select(.pid == '$holder') | .command')" sleep \
    "gpus: the holder's command is reported"
assert_eq "$(gpu $GPU '[.nodes[].path] | map(select(startswith("/dev/dri/"))) | sort | join(" ")')" \
    "$(ls /sys/bus/pci/devices/$GPU/drm | sed 's|^|/dev/dri/|' | sort | tr '\n' ' ' | sed 's/ $//')" \
    "gpus: the GPU's DRM nodes are listed"

# --- check with the lab profile: the holder makes it not ready (exit 4), named ---
out=$("$VMRUN" check --json profiles/examples/lab.yaml 2>"$tmp/err"); rc=$?
assert_eq "$rc" 4 "check exits 4 (not ready) while $card is held"
assert_eq "$(jq -r '.checks[] | select(.id == "holders" and .status == "fail") | .message' <<<"$out" | grep -c "pid $holder sleep")" 1 \
    "check names the holder pid $holder"
assert_eq "$(jq -r '.checks[] | select(.id == "iommu") | .status' <<<"$out")" ok "check: IOMMU active"
assert_eq "$(jq -r '.checks[] | select(.id == "iommu") | .message' <<<"$out" | grep -c 'active (intel')" 1 \
    "check: IOMMU is Intel VT-d"
assert_eq "$(jq -r '.checks[] | select(.id == "interrupt-remapping") | .status' <<<"$out")" ok \
    "check: interrupt remapping on"
assert_eq "$(jq -r '[.checks[] | select(.id == "vfio-modules") | .status] | unique | join(",")' <<<"$out")" ok \
    "check: vfio modules present"
assert_eq "$(jq -r '.checks[] | select(.id == "group-viable") | .status' <<<"$out")" ok \
    "check: the GPU's group holds only GPU functions"
assert_eq "$(jq -r '.checks[] | select(.id == "firmware") | .status' <<<"$out")" ok "check: OVMF found"
kill "$holder"; wait "$holder" 2>/dev/null

out=$("$VMRUN" check --json profiles/examples/lab.yaml 2>"$tmp/err"); rc=$?
assert_eq "$rc" 0 "check exits 0 once nothing holds the GPU"
[[ $rc == 0 ]] || diag "$(jq -c '.checks[] | select(.status == "fail")' <<<"$out")"

# --- Xorg with its defaults grabs the bochs card: named as holder ---
if xpid=$(xorg_start default); then
    out=$("$VMRUN" gpus --json 2>/dev/null)
    assert_eq "$(gpu $GPU '.holders[] | select(.pid == '$xpid') | .command')" Xorg \
        "gpus: Xorg with its defaults (pid $xpid) is named as holder of the bochs GPU"
    "$VMRUN" check profiles/examples/lab.yaml >"$tmp/check.txt" 2>&1; rc=$?
    assert_eq "$rc" 4 "check exits 4 while Xorg holds the GPU"
    check "check's text names Xorg as holder" grep -q "^FAIL .* pid $xpid Xorg (user root.*) holds $card" "$tmp/check.txt"
    check "check's text gives the Xorg fix" grep -q '^      fix: .*Option "AutoAddGPU" "off"' "$tmp/check.txt"
    xorg_stop "$xpid"
else
    fail "Xorg (default) started"
fi

# --- --dry-run of the lab profile ---
out=$("$VMRUN" --dry-run --json profiles/examples/lab.yaml 2>"$tmp/err"); rc=$?
assert_eq "$rc" 0 "--dry-run exits 0"
args=$(jq -r '.argv[]' <<<"$out")
has() { grep -qxF -- "$1" <<<"$args"; }
check "argv: vfio-pci for $GPU (function 0, multifunction)" \
    has "vfio-pci,host=$GPU,id=vmrun-hostdev0,bus=vmrun-rp0,addr=00.0,multifunction=on"
check "argv: vfio-pci for $AUDIO (function 1, same slot)" \
    has "vfio-pci,host=$AUDIO,id=vmrun-hostdev1,bus=vmrun-rp0,addr=00.1"
check "argv: kvm=off and the Hyper-V vendor id" has "max,kvm=off,hv-vendor-id=vmrunlab"
check "argv: -smp topology" has "2,sockets=1,cores=2,threads=1"
code=$(jq -r .firmware.code <<<"$out") vars=$(jq -r .firmware.vars <<<"$out")
check "argv: OVMF code read-only ($code)" has "if=pflash,unit=0,format=raw,readonly=on,file=$code"
check "argv: the VM's own vars copy ($vars)" has "if=pflash,unit=1,format=raw,file=$vars"
assert_eq "$vars" /var/lib/vmrun/lab/lab_VARS.fd "vars copy lives in root's state dir"
check "argv: a usb-host device" has "usb-host,id=vmrun-usb0,bus=vmrun-xhci.0,vendorid=0x046d,productid=0xc31c"
check "argv: QMP socket in the runtime dir" has "socket,id=vmrun-qmp,path=/run/vmrun/vm/lab/qmp.sock,server=on,wait=off"
check "dry run created no state dir" test ! -e /var/lib/vmrun
check "dry run created no runtime dir" test ! -e /run/vmrun

# --- bad input: exit 2, the line named, nothing touched ---
printf 'name: lab\nmemory: 512M\naccel: tcg\npci:\n  - address: "1:00.0"\n' >"$tmp/bad.yaml"
"$VMRUN" --dry-run "$tmp/bad.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
assert_eq "$rc" 2 "malformed PCI address in a profile exits 2"
check "the error names file, line 5 and the key" grep -q "^vmrun: error: $tmp/bad.yaml:5: pci\[0\].address: " "$tmp/err"
"$VMRUN" gpus 01:00 >"$tmp/out" 2>"$tmp/err"; rc=$?
assert_eq "$rc" 2 "a malformed address on the command line exits 2"
check "the error names the address" grep -q "'01:00' is not a PCI address" "$tmp/err"

# --- nothing changed ---
assert_eq "$(driver_of $GPU) $(driver_of $AUDIO)" "bochs-drm snd_hda_intel" "drivers unchanged throughout"
rm -rf "$tmp"
finish
