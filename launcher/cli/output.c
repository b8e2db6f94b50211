/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <stdio.h>

#include "exitcodes.h"
#include "iommu.h"
#include "log.h"

int cli_parse_addr(const char *s, struct pci_addr *ret)
{
	if (pci_addr_parse(s, ret) < 0) {
		log_err("'%s' is not a PCI address: expected DDDD:BB:DD.F or BB:DD.F in hex, e.g. "
			"0000:01:00.0", s);
		return EXIT_USAGE;
	}
	return 0;
}

json_object *json_str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

static json_object *hex_id(unsigned v, int digits)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%0*x", digits, v);
	return json_object_new_string(buf);
}

json_object *json_function(const struct pci_function *f)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "address", json_object_new_string(f->name));
	json_object_object_add(o, "vendor", hex_id(f->vendor, 4));
	json_object_object_add(o, "device", hex_id(f->device, 4));
	json_object_object_add(o, "class", hex_id(f->class_code, 6));
	json_object_object_add(o, "vendor_name", json_str_or_null(f->vendor_name));
	json_object_object_add(o, "device_name", json_str_or_null(f->device_name));
	json_object_object_add(o, "class_name", json_str_or_null(f->class_name));
	json_object_object_add(o, "driver", json_str_or_null(f->driver));
	json_object_object_add(o, "driver_override", json_str_or_null(f->driver_override));
	json_object_object_add(o, "iommu_group",
			       f->iommu_group >= 0 ? json_object_new_int(f->iommu_group) : NULL);
	json_object_object_add(o, "boot_vga",
			       f->boot_vga >= 0 ? json_object_new_boolean(f->boot_vga) : NULL);
	json_object_object_add(o, "reset_method", json_str_or_null(f->reset_method));
	json_object_object_add(o, "parent", json_str_or_null(f->parent));
	return o;
}

json_object *json_holder(const struct holder *h)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pid", json_object_new_int(h->pid));
	json_object_object_add(o, "command", json_str_or_null(h->comm));
	json_object_object_add(o, "cmdline", json_str_or_null(h->cmdline));
	json_object_object_add(o, "uid", h->uid == (uid_t)-1 ? NULL : json_object_new_int64(h->uid));
	json_object_object_add(o, "user", json_str_or_null(h->user));
	json_object_object_add(o, "unit", json_str_or_null(h->unit));
	json_object_object_add(o, "node", json_object_new_string(h->node));
	json_object_object_add(o, "via", json_str_or_null(h->via));
	json_object_object_add(o, "function", json_object_new_string(h->function));
	json_object_object_add(o, "kind", json_object_new_string(node_kind_name(h->kind)));
	return o;
}

void json_print(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
}

void json_print_line(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
}

void print_checks(const struct checks *ck)
{
	for (size_t i = 0; i < ck->n; i++) {
		const struct check_item *it = &ck->v[i];

		printf("%-5s %s\n", it->verdict == VERDICT_OK ? "ok" : it->verdict == VERDICT_WARN ?
		       "warn" : "FAIL", it->msg);
		if (it->fix[0] && it->verdict != VERDICT_OK)
			printf("      fix: %s\n", it->fix);
	}
}

json_object *json_checks(const struct checks *ck)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < ck->n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_string(check_id_name(ck->v[i].id)));
		json_object_object_add(o, "status", json_object_new_string(checks_verdict_name(ck->v[i].verdict)));
		json_object_object_add(o, "message", json_object_new_string(ck->v[i].msg));
		json_object_object_add(o, "fix", json_str_or_null(ck->v[i].fix));
		json_object_array_add(arr, o);
	}
	return arr;
}

json_object *json_group_drivers(const struct sysroot *s, int group)
{
	json_object *arr = json_object_new_array();
	struct iommu_group g;

	if (group < 0 || iommu_group_read(s, group, &g) < 0)
		return arr;
	for (size_t i = 0; i < g.n_members; i++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "address", json_object_new_string(g.members[i].name));
		json_object_object_add(d, "driver", json_str_or_null(g.members[i].driver));
		json_object_array_add(arr, d);
	}
	iommu_group_clear(&g);
	return arr;
}
