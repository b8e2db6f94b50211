/* SPDX-License-Identifier: MIT */
/* vmrun gpus [--json]: each display device, its IOMMU group, drivers, nodes and holders. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gpu.h"
#include "log.h"
#include "output.h"
#include "util.h"

static json_object *json_gpu(const struct gpu_snapshot *snap, const struct gpu_entry *e)
{
	json_object *o = json_function(&e->gpu), *members = json_object_new_array();
	json_object *nodes = json_object_new_array(), *holders = json_object_new_array();
	json_object *group = NULL;

	if (e->group.id >= 0) {
		group = json_object_new_object();
		json_object_object_add(group, "id", json_object_new_int(e->group.id));
		for (size_t i = 0; i < e->group.n_members; i++) {
			json_object *m = json_function(&e->group.members[i]);

			json_object_object_add(m, "role",
					       json_object_new_string(group_role_name(e->roles[i])));
			json_object_array_add(members, m);
		}
		json_object_object_add(group, "members", members);
		json_object_object_add(group, "non_pci_members",
				       json_object_new_int((int)e->group.n_non_pci));
	} else {
		json_object_put(members);
	}
	json_object_object_add(o, "group", group);
	/* Nodes and holders of every function in the group (the audio too), not only the GPU's. */
	for (size_t i = 0; i < snap->nodes.n; i++) {
		const struct devnode *d = &snap->nodes.v[i];
		bool mine = streq(d->function, e->gpu.name);

		for (size_t j = 0; !mine && j < e->group.n_members; j++)
			mine = streq(d->function, e->group.members[j].name);
		if (!mine)
			continue;
		json_object *n = json_object_new_object();
		json_object_object_add(n, "path", json_object_new_string(d->path));
		json_object_object_add(n, "function", json_object_new_string(d->function));
		json_object_object_add(n, "kind", json_object_new_string(node_kind_name(d->kind)));
		json_object_object_add(n, "shared", json_object_new_boolean(d->shared));
		json_object_array_add(nodes, n);
		for (size_t k = 0; k < snap->holders.n; k++)
			if (streq(snap->holders.v[k].node, d->path))
				json_object_array_add(holders, json_holder(&snap->holders.v[k]));
	}
	json_object_object_add(o, "nodes", nodes);
	json_object_object_add(o, "holders", holders);
	return o;
}

static void print_function_line(const struct pci_function *f, const char *role)
{
	printf("    %s  %-10s %-14s %s [%04x:%04x]%s%s\n", f->name, role,
	       f->driver[0] ? f->driver : "(no driver)", f->class_name, f->vendor, f->device,
	       f->device_name[0] ? " " : "", f->device_name);
}

static void print_gpu(const struct gpu_snapshot *snap, const struct gpu_entry *e)
{
	const struct pci_function *g = &e->gpu;
	char buf[256];

	printf("%s  %s%s%s%s%s [%04x:%04x]\n", g->name, g->class_name,
	       g->vendor_name[0] || g->device_name[0] ? ": " : "", g->vendor_name,
	       g->vendor_name[0] && g->device_name[0] ? " " : "", g->device_name, g->vendor, g->device);
	printf("  driver: %s%s%s   boot_vga: %s   reset: %s\n", g->driver[0] ? g->driver : "none",
	       g->driver_override[0] ? "   driver_override: " : "", g->driver_override,
	       g->boot_vga == 1 ? "yes" : g->boot_vga == 0 ? "no" : "n/a",
	       g->reset_method[0] ? g->reset_method : "none");
	if (e->group.id < 0) {
		printf("  IOMMU group: none (the IOMMU is off)\n");
	} else {
		printf("  IOMMU group %d:\n", e->group.id);
		for (size_t i = 0; i < e->group.n_members; i++)
			print_function_line(&e->group.members[i], group_role_name(e->roles[i]));
		if (e->group.n_non_pci)
			printf("    (+%zu non-PCI member(s))\n", e->group.n_non_pci);
	}
	for (size_t i = 0; i < snap->nodes.n; i++) {
		const struct devnode *d = &snap->nodes.v[i];
		bool mine = streq(d->function, g->name);

		for (size_t j = 0; !mine && j < e->group.n_members; j++)
			mine = streq(d->function, e->group.members[j].name);
		if (!mine)
			continue;
		printf("  %-22s %s", d->path, d->function);
		for (size_t k = 0; k < snap->holders.n; k++)
			if (streq(snap->holders.v[k].node, d->path))
				printf("\n    held by %s", holder_describe(&snap->holders.v[k], buf, sizeof(buf)));
		putchar('\n');
	}
}

int cmd_gpus(struct cli *c, const struct cli_args *a)
{
	_cleanup_(pci_names_freep) struct pci_names *names = NULL;
	struct gpu_snapshot snap = { 0 };
	struct pci_addr only;
	bool filter = a->n_pos > 0;
	int r;

	if (filter) {
		r = cli_parse_addr(a->pos[0], &only);
		if (r)
			return r;
	}
	(void)pci_names_open(c->root, &names);
	r = filter ? gpu_snapshot_of(c->root, names, &only, 1, &snap) :
		     gpu_snapshot_all(c->root, names, &snap);
	if (r == -ENOENT && filter) {
		char name[PCI_ADDR_STR_MAX];

		log_err("no PCI device %s on this host", pci_addr_format(&only, name));
		return EXIT_NOT_READY;
	}
	if (r < 0) {
		log_err("Failed to read PCI devices under %s/sys: %s", c->root->path, strerror(-r));
		return EXIT_ERROR;
	}
	if (c->json) {
		json_object *root = json_object_new_object(), *arr = json_object_new_array();

		for (size_t i = 0; i < snap.n_gpus; i++)
			json_object_array_add(arr, json_gpu(&snap, &snap.gpus[i]));
		json_object_object_add(root, "gpus", arr);
		json_object_object_add(root, "holder_scan_partial",
				       json_object_new_boolean(snap.holders.unreadable > 0));
		json_print(root);
		json_object_put(root);
	} else {
		if (snap.n_gpus == 0)
			printf("No display devices found.\n");
		for (size_t i = 0; i < snap.n_gpus; i++) {
			if (i)
				putchar('\n');
			print_gpu(&snap, &snap.gpus[i]);
		}
		if (snap.holders.unreadable)
			printf("\nnote: %u process(es) could not be inspected (run as root to see "
			       "every holder)\n", snap.holders.unreadable);
	}
	gpu_snapshot_clear(&snap);
	return EXIT_OK;
}
