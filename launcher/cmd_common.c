/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "profile_path.h"

int cli_load_profile(const char *path, struct vm_profile **ret)
{
	struct profile_error err = { 0 };
	char msg[768];
	int r;

	_cleanup_free_ char *resolved = NULL;

	/* "win10" means ~/.config/vmrun/win10.yaml; anything with a '/' or .yaml is a path. */
	if (profile_resolve(path, &resolved) < 0) {
		log_err("'%s' is neither a profile file nor a VM name ([A-Za-z0-9._-], at most 64 "
			"characters)", path);
		return EXIT_USAGE;
	}
	r = profile_load(resolved, ret, &err);
	if (r < 0) {
		log_err("%s", profile_error_format(&err, msg, sizeof(msg)));
		return EXIT_USAGE; /* unreadable or invalid: either way the input is at fault */
	}
	return 0;
}

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
	json_object_object_add(o, "function", json_object_new_string(h->function));
	json_object_object_add(o, "kind", json_object_new_string(node_kind_name(h->kind)));
	return o;
}

void json_print(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}
