/* SPDX-License-Identifier: MIT */
#include "gpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "util.h"

static int entry_fill(const struct sysroot *s, struct pci_names *names, struct gpu_entry *e)
{
	int r;

	pci_names_fill(names, &e->gpu);
	e->group = (struct iommu_group){ .id = -1 };
	if (e->gpu.iommu_group < 0)
		return 0;
	r = iommu_group_read(s, e->gpu.iommu_group, &e->group);
	if (r < 0)
		return r;
	e->roles = calloc(e->group.n_members ? e->group.n_members : 1, sizeof(*e->roles));
	if (!e->roles)
		return -ENOMEM;
	for (size_t i = 0; i < e->group.n_members; i++) {
		pci_names_fill(names, &e->group.members[i]);
		e->roles[i] = group_role_of(&e->gpu, &e->group.members[i]);
	}
	return 0;
}

static int collect_nodes(const struct sysroot *s, struct gpu_snapshot *snap)
{
	for (size_t i = 0; i < snap->n_gpus; i++) {
		struct gpu_entry *e = &snap->gpus[i];
		int r;

		if (e->group.n_members == 0) {
			r = devnodes_collect(s, &e->gpu, &snap->nodes);
			if (r < 0)
				return r;
		}
		for (size_t j = 0; j < e->group.n_members; j++) {
			r = devnodes_collect(s, &e->group.members[j], &snap->nodes);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int finish(const struct sysroot *s, struct pci_names *names, struct gpu_snapshot *snap)
{
	int r = 0;

	for (size_t i = 0; i < snap->n_gpus && r >= 0; i++)
		r = entry_fill(s, names, &snap->gpus[i]);
	if (r >= 0)
		r = collect_nodes(s, snap);
	if (r >= 0 && s->proc_fd >= 0)
		r = holders_find(s, &snap->nodes, &snap->holders);
	return r;
}

int gpu_snapshot_all(const struct sysroot *s, struct pci_names *names, struct gpu_snapshot *ret)
{
	struct gpu_snapshot snap = { 0 };
	_cleanup_free_ struct pci_function *all = NULL;
	size_t n = 0;
	int r;

	r = pci_function_list(s, &all, &n, NULL);
	if (r < 0)
		return r;
	snap.gpus = calloc(n ? n : 1, sizeof(*snap.gpus));
	if (!snap.gpus)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (pci_is_display(&all[i]))
			snap.gpus[snap.n_gpus++].gpu = all[i];
	r = finish(s, names, &snap);
	if (r < 0) {
		gpu_snapshot_clear(&snap);
		return r;
	}
	*ret = snap;
	return 0;
}

int gpu_snapshot_of(const struct sysroot *s, struct pci_names *names, const struct pci_addr *addrs,
		    size_t n, struct gpu_snapshot *ret)
{
	struct gpu_snapshot snap = { 0 };
	int r = 0;

	snap.gpus = calloc(n ? n : 1, sizeof(*snap.gpus));
	if (!snap.gpus)
		return -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = pci_function_read(s, &addrs[i], &snap.gpus[i].gpu);
		if (r >= 0)
			snap.n_gpus++;
	}
	if (r >= 0)
		r = finish(s, names, &snap);
	if (r < 0) {
		gpu_snapshot_clear(&snap);
		return r;
	}
	*ret = snap;
	return 0;
}

void gpu_snapshot_clear(struct gpu_snapshot *snap)
{
	for (size_t i = 0; i < snap->n_gpus; i++) {
		iommu_group_clear(&snap->gpus[i].group);
		free(snap->gpus[i].roles);
	}
	free(snap->gpus);
	devnode_set_clear(&snap->nodes);
	holder_set_clear(&snap->holders);
	memset(snap, 0, sizeof(*snap));
}

const struct pci_function *gpu_host_display(const struct sysroot *s, const struct pci_function *fns,
					    size_t n)
{
	const struct pci_function *console = NULL;

	for (size_t i = 0; i < n; i++) {
		struct devnode_set nodes = { 0 };
		bool on = false;

		if (!pci_is_display(&fns[i]))
			continue;
		if (fns[i].boot_vga == 1)
			return &fns[i];
		if (!console && devnodes_collect(s, &fns[i], &nodes) == 0 &&
		    console_on_nodes(s, &nodes, &on) == 0 && on)
			console = &fns[i];
		devnode_set_clear(&nodes);
	}
	return console;
}
