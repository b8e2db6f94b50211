/* SPDX-License-Identifier: MIT */
/* The /dev nodes through which processes reach a PCI function: what must be free to move it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "pcidev.h"
#include "sysroot.h"

enum node_kind {
	NODE_DRM_CARD,   /* /dev/dri/cardN (and legacy controlDN): what display servers hold */
	NODE_DRM_RENDER, /* /dev/dri/renderDN: compute and offload clients */
	NODE_FB,         /* /dev/fbN: fbcon or an fbdev emulation */
	NODE_NVIDIA,     /* /dev/nvidiaN of this GPU */
	NODE_NVIDIA_CTL, /* /dev/nvidiactl, -modeset, -uvm: shared by every NVIDIA GPU */
	NODE_KFD,        /* /dev/kfd: shared by every amdgpu compute device */
	NODE_SND,        /* /dev/snd/controlCN, pcmCNDM*, hwCNDM: the card's HDMI audio */
	NODE_I2C,        /* /dev/i2c-N on the card's DDC/aux buses: RGB and monitor tools */
	NODE_VFIO,       /* /dev/vfio/<group> or /dev/vfio/devices/vfioN while on vfio-pci */
};

struct devnode {
	char path[64];                  /* "/dev/dri/card1" */
	char function[PCI_ADDR_STR_MAX]; /* owning PCI function */
	enum node_kind kind;
	bool shared;                    /* also used by other devices of the same driver */
};

struct devnode_set {
	struct devnode *v;
	size_t n;
};

/* Append the nodes of f to set. Missing sysfs subdirectories are normal and not errors. */
int devnodes_collect(const struct sysroot *s, const struct pci_function *f, struct devnode_set *set);
void devnode_set_clear(struct devnode_set *set);
const char *node_kind_name(enum node_kind k);
