#!/bin/bash
# Smoke scenario: the lab's topology is what every other scenario relies on.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

HOST=0000:00:02.0   # virtio-gpu, the GPU the host keeps
GPU=0000:01:00.0    # bochs-display, the "discrete GPU"
AUDIO=0000:01:00.1  # ich9-intel-hda, its HDMI-audio function

# --- PCI devices and drivers ---
assert_eq "$(pci_id $GPU)" 1234:1111 "$GPU is the bochs display (1234:1111)"
assert_eq "$(driver_of $GPU)" bochs-drm "$GPU is bound to bochs-drm"
assert_eq "$(pci_id $AUDIO)" 8086:293e "$AUDIO is the ICH9 HDA controller (8086:293e)"
assert_eq "$(driver_of $AUDIO)" snd_hda_intel "$AUDIO is bound to snd_hda_intel"
assert_eq "$(pci_id $HOST)" 1af4:1050 "$HOST is a virtio GPU (1af4:1050)"
vdrv=none
for v in /sys/bus/pci/devices/"$HOST"/virtio*/driver; do [[ -e $v ]] && vdrv=$(basename "$(readlink -f "$v")"); done
assert_eq "$vdrv" virtio_gpu "$HOST's virtio device is driven by virtio_gpu"

# --- IOMMU groups ---
check "/sys/kernel/iommu_groups is not empty" test -n "$(ls -A /sys/kernel/iommu_groups)"
g=$(group_of $GPU)
assert_ne "$g" none "$GPU has an IOMMU group"
assert_eq "$(group_of $AUDIO)" "$g" "$AUDIO is in the same IOMMU group ($g)"
assert_eq "$(group_devices $GPU | tr '\n' ' ')" "$GPU $AUDIO " "the GPU's group holds exactly its two functions"
assert_ne "$(group_of $HOST)" "$g" "$HOST is in another IOMMU group ($(group_of $HOST))"
check "/dev/vfio/vfio is a character device" test -c /dev/vfio/vfio

# --- interrupt remapping: the DMAR unit advertises IR (ECAP bit 3) and the kernel uses it ---
ecap=$(cat /sys/class/iommu/dmar*/intel-iommu/ecap 2>/dev/null | head -n1)
if [[ -n $ecap ]] && (((0x$ecap >> 3) & 1)); then ok "VT-d ECAP $ecap has interrupt remapping (IR)"
else fail "VT-d ECAP '$ecap' lacks interrupt remapping (IR)"; fi
check "interrupts are remapped (IR- chips in /proc/interrupts)" grep -q ' IR-' /proc/interrupts

# --- DRM nodes ---
hc=$(card_of $HOST) || hc=""
gc=$(card_of $GPU) || gc=""
check "$HOST has a DRM node ($hc)" test -c "$hc"
check "$GPU has a DRM node ($gc)" test -c "$gc"

# --- Xorg, safe mode: only the virtio card; the bochs card stays free ---
if pid=$(xorg_start safe); then
    ok "Xorg (safe) started, pid $pid"
    check "Xorg (safe) answers xset" xorg_alive "$pid"
    holders=$(holders_of "$gc" | tr '\n' ' ')
    if [[ " $holders " == *" $pid "* ]]; then fail "Xorg (safe) keeps $gc open (holders: $holders)"
    else ok "Xorg (safe) leaves $gc alone"; fi
    holders=$(holders_of "$hc" | tr '\n' ' ')
    if [[ " $holders " == *" $pid "* ]]; then ok "Xorg (safe) drives $hc"
    else fail "Xorg (safe) does not hold $hc (holders: $holders)"; fi
    check "Xorg (safe) stops" xorg_stop "$pid"
else
    fail "Xorg (safe) started"
fi

# --- Xorg, default mode: grabs the bochs card too (the trap vmrun must detect) ---
if pid=$(xorg_start default); then
    ok "Xorg (default) started, pid $pid"
    holders=$(holders_of "$gc" | tr '\n' ' ')
    if [[ " $holders " == *" $pid "* ]]; then ok "Xorg (default) holds $gc open"
    else fail "Xorg (default) does not hold $gc (holders: $holders)"; fi
    check "Xorg (default) stops" xorg_stop "$pid"
else
    fail "Xorg (default) started"
fi

finish
