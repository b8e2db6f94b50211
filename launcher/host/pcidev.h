/* SPDX-License-Identifier: MIT */
/*
 * One PCI function as sysfs shows it: ids, class, driver, override, IOMMU group, boot_vga,
 * reset_method, and the upstream port. Everything is read relative to a struct sysroot.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "pciaddr.h"
#include "sysroot.h"

#define PCI_NAME_MAX 160

struct pci_function {
	struct pci_addr addr;
	char name[PCI_ADDR_STR_MAX];    /* canonical address */
	unsigned vendor, device;
	unsigned subsys_vendor, subsys_device; /* 0 when absent */
	unsigned class_code;            /* 0xCCSSPP */
	char driver[64];                /* "" when no driver is bound */
	char driver_override[64];       /* "" when none (or when locked) */
	bool locked;                    /* reading driver_override did not return: a driver change
	                                 * of it is stuck in the kernel, holding the device's lock */
	int iommu_group;                /* -1 when the device has none (IOMMU off) */
	int boot_vga;                   /* 1, 0, or -1 when the attribute is absent */
	char reset_method[128];         /* "" when absent (old kernel or no method) */
	bool has_reset_method;          /* the attribute exists (Linux 5.15+): "" means none */
	char devpath[512];              /* path under /sys, e.g. devices/pci0000:00/.../0000:01:00.0 */
	char parent[PCI_ADDR_STR_MAX];  /* upstream PCI function (a port or bridge), "" on a root bus */
	char vendor_name[PCI_NAME_MAX]; /* from pci.ids, "" when unknown */
	char device_name[PCI_NAME_MAX];
	char class_name[PCI_NAME_MAX];
};

static inline unsigned pci_base_class(const struct pci_function *f)
{
	return f->class_code >> 16;
}
static inline bool pci_is_display(const struct pci_function *f)
{
	return pci_base_class(f) == 0x03;
}
/* Bridges and ports (class 06): they stay on the host; VFIO does not need them. */
static inline bool pci_is_bridge(const struct pci_function *f)
{
	return pci_base_class(f) == 0x06;
}

/* Read one function. -ENOENT if it does not exist, -EBADMSG on malformed attributes. */
int pci_function_read(const struct sysroot *s, const struct pci_addr *a, struct pci_function *ret);

/*
 * Every function under bus/pci/devices, sorted by address. Names with bad syntax are skipped;
 * functions that cannot be read are skipped and counted in *ret_unreadable (optional).
 */
int pci_function_list(const struct sysroot *s, struct pci_function **ret, size_t *ret_n,
		      unsigned *ret_unreadable);

/* Fill vendor/device/class names from the sysroot's pci.ids (usr/share/misc/pci.ids). */
struct pci_names;
int pci_names_open(const struct sysroot *s, struct pci_names **ret);
void pci_names_free(struct pci_names *n);
static inline void pci_names_freep(struct pci_names **n)
{
	pci_names_free(*n);
}
void pci_names_fill(struct pci_names *n, struct pci_function *f);

/* A short human role: "VGA compatible controller" style fallback when pci.ids lacks it. */
const char *pci_class_fallback(unsigned class_code);
