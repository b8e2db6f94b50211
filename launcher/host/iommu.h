/* SPDX-License-Identifier: MIT */
/* IOMMU groups and what their members are to a GPU; the host's IOMMU state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "pcidev.h"
#include "sysroot.h"

/* What a group member is, seen from the GPU the user asked for. */
enum group_role {
	ROLE_GPU,       /* a display function (class 03) */
	ROLE_GPU_AUDIO, /* HDMI/DP audio in the GPU's slot */
	ROLE_GPU_USB,   /* USB-C controller in the GPU's slot */
	ROLE_GPU_SERIAL,/* UCSI / serial-bus function in the GPU's slot */
	ROLE_BRIDGE,    /* bridges and ports: stay on the host */
	ROLE_OTHER,     /* not part of the GPU: a NIC, a disk controller, ... */
};

struct iommu_group {
	int id;
	struct pci_function *members; /* sorted by address; non-PCI members are not listed */
	size_t n_members;
	size_t n_non_pci;             /* members that are not PCI functions */
};

/* Read group `id` (sys/kernel/iommu_groups/<id>/devices). -ENOENT when absent. */
int iommu_group_read(const struct sysroot *s, int id, struct iommu_group *ret);
void iommu_group_clear(struct iommu_group *g);

/* The role of f for a GPU whose function is gpu (normally function 0 of the card). */
enum group_role group_role_of(const struct pci_function *gpu, const struct pci_function *f);
const char *group_role_name(enum group_role r);
static inline bool group_role_is_gpu(enum group_role r)
{
	return r == ROLE_GPU || r == ROLE_GPU_AUDIO || r == ROLE_GPU_USB || r == ROLE_GPU_SERIAL;
}

struct iommu_info {
	bool active;          /* sys/kernel/iommu_groups has groups */
	unsigned n_groups;
	char vendor[16];      /* "intel", "amd" or "" from sys/class/iommu */
	int irq_remap;        /* 1 on, 0 off, -1 unknown */
	bool passthrough;     /* "iommu=pt" or amd_iommu=pt... seen on the command line */
	char cpu_vendor[16];  /* "intel", "amd" or "" from /proc/cpuinfo */
	bool cpu_virt;        /* vmx or svm in /proc/cpuinfo */
};

int iommu_info_read(const struct sysroot *s, struct iommu_info *ret);
