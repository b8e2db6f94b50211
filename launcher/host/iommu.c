/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "iommu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static int cmp_function(const void *a, const void *b)
{
	return pci_addr_cmp(&((const struct pci_function *)a)->addr,
			    &((const struct pci_function *)b)->addr);
}

static int group_add(struct iommu_group *g, size_t *cap, const struct pci_function *f)
{
	if (g->n_members == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct pci_function *nv = reallocarray(g->members, ncap, sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		g->members = nv;
		*cap = ncap;
	}
	g->members[g->n_members++] = *f;
	return 0;
}

int iommu_group_read(const struct sysroot *s, int id, struct iommu_group *ret)
{
	struct iommu_group g = { .id = id };
	struct dirent *de;
	char path[64];
	size_t cap = 0;
	DIR *d;
	int r = 0;

	if (id < 0)
		return -EINVAL;
	if (s->sys_fd < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "kernel/iommu_groups/%d/devices", id);
	r = opendir_at(s->sys_fd, path, &d);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		struct pci_function f;
		struct pci_addr a;

		if (de->d_name[0] == '.')
			continue;
		if (pci_addr_parse(de->d_name, &a) < 0 || pci_function_read(s, &a, &f) < 0) {
			/* Counted, not dropped: an unknown member makes the group unsafe to hand over. */
			g.n_non_pci++;
			continue;
		}
		/* A member whose own link names another group is a forged or racing tree. */
		if (f.iommu_group != id) {
			g.n_non_pci++;
			continue;
		}
		r = group_add(&g, &cap, &f);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0) {
		iommu_group_clear(&g);
		return r;
	}
	if (g.n_members)
		qsort(g.members, g.n_members, sizeof(*g.members), cmp_function);
	*ret = g;
	return 0;
}

void iommu_group_clear(struct iommu_group *g)
{
	free(g->members);
	g->members = NULL;
	g->n_members = 0;
}

enum group_role group_role_of(const struct pci_function *gpu, const struct pci_function *f)
{
	unsigned sub = f->class_code >> 8;

	if (pci_is_bridge(f))
		return ROLE_BRIDGE;
	if (pci_is_display(f))
		return ROLE_GPU;
	/* Companion functions count as the GPU only in its own slot: a card's HDMI audio, USB-C
	 * and UCSI controller share the slot; the same classes elsewhere belong to the board. */
	if (!pci_addr_same_slot(&gpu->addr, &f->addr))
		return ROLE_OTHER;
	if (sub == 0x0403)
		return ROLE_GPU_AUDIO;
	if (sub == 0x0c03)
		return ROLE_GPU_USB;
	if (sub == 0x0c80)
		return ROLE_GPU_SERIAL;
	return ROLE_OTHER;
}

const char *group_role_name(enum group_role r)
{
	static const char *const names[] = {
		[ROLE_GPU] = "gpu",         [ROLE_GPU_AUDIO] = "gpu-audio",
		[ROLE_GPU_USB] = "gpu-usb", [ROLE_GPU_SERIAL] = "gpu-serial",
		[ROLE_BRIDGE] = "bridge",   [ROLE_OTHER] = "other",
	};
	return names[r];
}

static unsigned count_groups(const struct sysroot *s)
{
	unsigned n = 0;
	struct dirent *de;
	DIR *d;

	if (opendir_at(s->sys_fd, "kernel/iommu_groups", &d) < 0)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
			n++;
	closedir(d);
	return n;
}

static void read_iommu_vendor(const struct sysroot *s, struct iommu_info *info)
{
	struct dirent *de;
	DIR *d;

	if (opendir_at(s->sys_fd, "class/iommu", &d) < 0)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "dmar", 4) == 0)
			snprintf(info->vendor, sizeof(info->vendor), "intel");
		else if (strncmp(de->d_name, "ivhd", 4) == 0)
			snprintf(info->vendor, sizeof(info->vendor), "amd");
	}
	closedir(d);
}

/* Remapped interrupts show up in /proc/interrupts as "IR-PCI-MSI", "IR-IO-APIC", ... */
static void read_irq_remap(const struct sysroot *s, struct iommu_info *info)
{
	_cleanup_free_ char *txt = NULL;

	info->irq_remap = -1;
	if (read_file_at(s->proc_fd, "interrupts", 1 << 20, READ_TRUNCATE, &txt, NULL, NULL) < 0)
		return;
	info->irq_remap = strstr(txt, " IR-") || strstr(txt, "\tIR-") ? 1 : 0;
}

static bool has_flag(const char *flags_line, const char *flag)
{
	size_t n = strlen(flag);

	for (const char *p = flags_line; (p = strstr(p, flag)); p += n)
		if ((p == flags_line || p[-1] == ' ' || p[-1] == '\t') &&
		    (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void read_cpu(const struct sysroot *s, struct iommu_info *info)
{
	_cleanup_free_ char *txt = NULL;
	const char *flags;

	if (read_file_at(s->proc_fd, "cpuinfo", 1 << 20, READ_TRUNCATE, &txt, NULL, NULL) < 0)
		return;
	if (strstr(txt, "GenuineIntel"))
		snprintf(info->cpu_vendor, sizeof(info->cpu_vendor), "intel");
	else if (strstr(txt, "AuthenticAMD"))
		snprintf(info->cpu_vendor, sizeof(info->cpu_vendor), "amd");
	flags = strstr(txt, "\nflags");
	if (flags) {
		_cleanup_free_ char *line = strndup(flags + 1, strcspn(flags + 1, "\n"));

		info->cpu_virt = line && (has_flag(line, "vmx") || has_flag(line, "svm"));
	}
}

int iommu_info_read(const struct sysroot *s, struct iommu_info *ret)
{
	struct iommu_info info = { .irq_remap = -1 };
	_cleanup_free_ char *cmdline = NULL;

	info.n_groups = count_groups(s);
	info.active = info.n_groups > 0;
	read_iommu_vendor(s, &info);
	read_irq_remap(s, &info);
	read_cpu(s, &info);
	if (read_file_at(s->proc_fd, "cmdline", 8192, READ_TRUNCATE, &cmdline, NULL, NULL) >= 0)
		info.passthrough = strstr(cmdline, "iommu=pt") != NULL;
	*ret = info;
	return 0;
}
