/* SPDX-License-Identifier: MIT */
/*
 * The host's GPUs as one snapshot: each display function, its IOMMU group with the role of
 * every member, their /dev nodes, and the processes holding them (one /proc pass for all).
 */
#pragma once

#include <stddef.h>

#include "devnodes.h"
#include "holders.h"
#include "iommu.h"
#include "pcidev.h"
#include "sysroot.h"

struct gpu_entry {
	struct pci_function gpu;
	struct iommu_group group;  /* empty (id -1) when the IOMMU is off */
	enum group_role *roles;    /* per group member */
};

struct gpu_snapshot {
	struct gpu_entry *gpus;
	size_t n_gpus;
	struct devnode_set nodes;  /* of every member of every listed group */
	struct holder_set holders;
};

/* Every display-class function on the host. */
int gpu_snapshot_all(const struct sysroot *s, struct pci_names *names, struct gpu_snapshot *ret);
/* Just the given functions (profile devices, need not be display class). -ENOENT if absent. */
int gpu_snapshot_of(const struct sysroot *s, struct pci_names *names, const struct pci_addr *addrs,
		    size_t n, struct gpu_snapshot *ret);
void gpu_snapshot_clear(struct gpu_snapshot *snap);

/*
 * Of fns (pci_function_list), the display device the host displays on: the boot VGA device,
 * else the one the text console is on. NULL when neither tells (then no GPU may be presumed
 * free for a VM). The one rule, for setup and `vmrun new`.
 */
const struct pci_function *gpu_host_display(const struct sysroot *s, const struct pci_function *fns,
					    size_t n);
