/* SPDX-License-Identifier: MIT */
/* libcyaml's schema of a profile, and its messages turned into errors at the right line and key. */
#include "profload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "log.h"

#define MAX_DISKS 32
#define MAX_USB 32
#define MAX_PCI 16
#define MAX_EXTRA_ARGS 256

#define STR_REQ(key, type, member)                                                                 \
	CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER, type, member, 0, CYAML_UNLIMITED)
#define STR_OPT(key, type, member)                                                                 \
	CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, type, member, 0,     \
			       CYAML_UNLIMITED)
#define MAP_OPT(key, type, member, fields)                                                         \
	CYAML_FIELD_MAPPING_PTR(key, CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, type, member, fields)
#define SEQ_OPT(key, type, member, entry, max)                                                     \
	CYAML_FIELD_SEQUENCE(key, CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, type, member, entry, 0, \
			     max)

static const cyaml_schema_value_t number_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};
static const cyaml_schema_field_t cpu_fields[] = {
	STR_OPT("model", struct cy_cpu, model),	    STR_OPT("sockets", struct cy_cpu, sockets),
	STR_OPT("cores", struct cy_cpu, cores),	    STR_OPT("threads", struct cy_cpu, threads),
	SEQ_OPT("pin", struct cy_cpu, pin, &number_entry, VM_CPU_LIST_MAX),
	SEQ_OPT("emulator", struct cy_cpu, emulator, &number_entry, VM_CPU_LIST_MAX),
	STR_OPT("isolate", struct cy_cpu, isolate),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t firmware_fields[] = {
	STR_OPT("type", struct cy_firmware, type),
	STR_OPT("secure_boot", struct cy_firmware, secure_boot),
	STR_OPT("code", struct cy_firmware, code),
	STR_OPT("vars", struct cy_firmware, vars),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t disk_fields[] = {
	STR_OPT("path", struct cy_disk, path),
	STR_OPT("device", struct cy_disk, device),
	STR_OPT("format", struct cy_disk, format),
	STR_OPT("interface", struct cy_disk, interface),
	STR_OPT("readonly", struct cy_disk, readonly),
	STR_OPT("media", struct cy_disk, media),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t usb_fields[] = {
	STR_OPT("vendor", struct cy_usb, vendor),
	STR_OPT("product", struct cy_usb, product),
	STR_OPT("bus", struct cy_usb, bus),
	STR_OPT("port", struct cy_usb, port),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t input_fields[] = {
	STR_OPT("keyboard", struct cy_input, keyboard),
	STR_OPT("mouse", struct cy_input, mouse),
	STR_OPT("toggle", struct cy_input, toggle),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t looking_glass_fields[] = {
	STR_OPT("resolution", struct cy_looking_glass, resolution),
	STR_OPT("hdr", struct cy_looking_glass, hdr),
	STR_OPT("size", struct cy_looking_glass, size),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t pci_fields[] = {
	STR_REQ("address", struct cy_pci, address),
	STR_OPT("rom", struct cy_pci, rom),
	STR_OPT("group", struct cy_pci, group),
	STR_OPT("after", struct cy_pci, after),
	STR_OPT("release", struct cy_pci, release),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t network_fields[] = {
	STR_OPT("type", struct cy_network, type),
	STR_OPT("bridge", struct cy_network, bridge),
	STR_OPT("mac", struct cy_network, mac),
	STR_OPT("model", struct cy_network, model),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t boot_fields[] = {
	STR_OPT("kernel", struct cy_boot, kernel),
	STR_OPT("initrd", struct cy_boot, initrd),
	STR_OPT("cmdline", struct cy_boot, cmdline),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t string_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};
static const cyaml_schema_field_t install_fields[] = {
	SEQ_OPT("media", struct cy_install, media, &string_entry, VM_INSTALL_MEDIA_MAX),
	STR_OPT("display", struct cy_install, display),
	STR_OPT("boot_keys", struct cy_install, boot_keys),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t disk_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_disk, disk_fields),
};
static const cyaml_schema_value_t usb_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_usb, usb_fields),
};
static const cyaml_schema_value_t pci_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_pci, pci_fields),
};
static const cyaml_schema_field_t profile_fields[] = {
	STR_REQ("name", struct cy_profile, name),
	STR_OPT("os", struct cy_profile, os),
	STR_REQ("memory", struct cy_profile, memory),
	STR_OPT("machine", struct cy_profile, machine),
	STR_OPT("accel", struct cy_profile, accel),
	MAP_OPT("cpu", struct cy_profile, cpu, cpu_fields),
	MAP_OPT("firmware", struct cy_profile, firmware, firmware_fields),
	STR_OPT("hide_kvm", struct cy_profile, hide_kvm),
	STR_OPT("hyperv_vendor_id", struct cy_profile, hyperv_vendor_id),
	STR_OPT("hyperv", struct cy_profile, hyperv),
	SEQ_OPT("disks", struct cy_profile, disks, &disk_entry, MAX_DISKS),
	SEQ_OPT("usb", struct cy_profile, usb, &usb_entry, MAX_USB),
	SEQ_OPT("pci", struct cy_profile, pci, &pci_entry, MAX_PCI),
	STR_OPT("rtc", struct cy_profile, rtc),
	MAP_OPT("network", struct cy_profile, network, network_fields),
	STR_OPT("display", struct cy_profile, display),
	STR_OPT("shutdown_timeout", struct cy_profile, shutdown_timeout),
	MAP_OPT("boot", struct cy_profile, boot, boot_fields),
	SEQ_OPT("extra_args", struct cy_profile, extra_args, &string_entry, MAX_EXTRA_ARGS),
	STR_OPT("tpm", struct cy_profile, tpm),
	MAP_OPT("install", struct cy_profile, install, install_fields),
	MAP_OPT("input", struct cy_profile, input, input_fields),
	MAP_OPT("looking_glass", struct cy_profile, looking_glass, looking_glass_fields),
	CYAML_FIELD_IGNORE("audio", CYAML_FLAG_OPTIONAL),
	STR_OPT("hugepages", struct cy_profile, hugepages),
	CYAML_FIELD_END,
};
const cyaml_schema_value_t profile_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct cy_profile, profile_fields),
};

/* The fields of the mapping at a dotted path ("disks[2]" is a disk), or NULL. */
static const cyaml_schema_field_t *fields_at(const char *path)
{
	const cyaml_schema_value_t *v = &profile_schema;

	while (*path) {
		char key[KEY_MAX_LEN + 1];
		size_t n = strcspn(path, ".[");

		if (*path == '[') { /* an entry of the list we are at */
			if (v->type != CYAML_SEQUENCE)
				return NULL;
			v = v->sequence.entry;
			path += strcspn(path, "]");
			path += *path == ']';
			path += *path == '.';
			continue;
		}
		if (v->type != CYAML_MAPPING || n > KEY_MAX_LEN)
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		const cyaml_schema_field_t *f = v->mapping.fields;

		while (f->key && !streq(f->key, key))
			f++;
		if (!f->key)
			return NULL;
		v = &f->value;
		path += n;
		path += *path == '.';
	}
	return v->type == CYAML_MAPPING ? v->mapping.fields : NULL;
}

size_t schema_keys_at(const char *path, const char **ret, size_t cap)
{
	const cyaml_schema_field_t *f = fields_at(path);
	size_t n = 0;

	for (; f && f->key && n + 1 < cap; f++)
		ret[n++] = f->key;
	ret[n] = NULL;
	return n;
}

/* "unknown key", and what it may have meant: the closest key, or the keys there are. */
static int unknown_key(struct load_ctx *c, const char *mapping, const char *full, const char *key)
{
	const char *keys[64], *near;
	size_t n = schema_keys_at(mapping, keys, ARRAY_SIZE(keys));
	char list[200] = "";

	near = hint_closest(key, keys, n);
	if (near)
		return pfail(c, posindex_line(c, full, false), full, "unknown key; did you mean \"%s\"?",
			     near);
	for (size_t i = 0, o = 0; i < n && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", keys[i]);
	if (n && strlen(list) + 1 < sizeof(list))
		return pfail(c, posindex_line(c, full, false), full, "unknown key; %s takes %s",
			     mapping[0] ? mapping : "the top level", list);
	return pfail(c, posindex_line(c, full, false), full, "unknown key (see profiles/SCHEMA.md)");
}

/* A USB entry written "vendor: 046d:c31c": the error is in vendor, not a missing product. */
static int usb_pair_in_vendor(struct load_ctx *c, const char *entry)
{
	char vkey[PATH_MAX_LEN], vendor[5], product[5];
	const struct pos_entry *e;

	schema_key_join(vkey, sizeof(vkey), entry, "vendor");
	e = posindex_find(&c->idx, vkey);
	if (!e || !hint_usb_pair(e->value, vendor, product))
		return 0;
	return pfail(c, e->value_line, vkey, "\"%s\" is vendor and product together; write "
		     "{vendor: \"%s\", product: \"%s\"}", e->value, vendor, product);
}

/* "expected a mapping, got a scalar value", with the form the value takes. */
static int wrong_kind(struct load_ctx *c, const char *path, const char *want, const char *got)
{
	const struct pos_entry *e = posindex_find(&c->idx, path);
	const char *form = hint_form(path);
	char vendor[5], product[5];

	if (e && e->value && hint_usb_pair(e->value, vendor, product) && startswith(path, "usb["))
		return pfail(c, posindex_line(c, path, true), path, "expected a mapping, got \"%s\"; "
			     "write {vendor: \"%s\", product: \"%s\"}", e->value, vendor, product);
	if (form)
		return pfail(c, posindex_line(c, path, true), path, "expected %s, got %s; write it as %s",
			     want, got, form);
	return pfail(c, posindex_line(c, path, true), path, "expected %s, got %s", want, got);
}

/* ---- libcyaml's messages, turned into a struct profile_error ---- */

/* One backtrace line: "  in mapping field 'disks' (line..." / "  in sequence entry '2' (..." */
static void cyaml_capture_bt(struct load_ctx *c, const char *line)
{
	char *bt;

	if (c->cy_n_bt >= ARRAY_SIZE(c->cy_bt))
		return;
	bt = c->cy_bt[c->cy_n_bt++];
	bt[0] = '\0';
	if (startswith(line, "  in mapping field '")) {
		const char *s = line + strlen("  in mapping field '");
		const char *e = strstr(s, "' (line");
		size_t n = e ? (size_t)(e - s) : 0;

		if (n > KEY_MAX_LEN)
			n = KEY_MAX_LEN;
		bt[0] = '.';
		memcpy(bt + 1, s, n);
		bt[n + 1] = '\0';
	} else if (startswith(line, "  in sequence entry '")) {
		/* libcyaml counts entries from 1; our paths count from 0 like every other tool. */
		unsigned long n = strtoul(line + strlen("  in sequence entry '"), NULL, 10);

		(void)snprintf(bt, KEY_MAX_LEN + 2, "[%lu]", n ? n - 1 : 0);
	}
}

void schema_capture(cyaml_log_t level, void *ctx, const char *fmt, va_list ap)
{
	struct load_ctx *c = ctx;
	char line[256];

	(void)vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("profile %s: libcyaml: %s", c->name, line);
	if (level < CYAML_LOG_ERROR)
		return;
	if (startswith(line, "  in "))
		cyaml_capture_bt(c, line);
	else if (!c->cy_msg[0] && !streq(line, "Load: Backtrace:"))
		copy_str(c->cy_msg, sizeof(c->cy_msg),
			 startswith(line, "Load: ") ? line + strlen("Load: ") : line);
}

/* Dotted path from the backtrace, outermost first; skip drops the innermost `skip` entries. */
static void cyaml_bt_path(const struct load_ctx *c, size_t skip, char *path, size_t cap)
{
	size_t o = 0;

	path[0] = '\0';
	for (size_t i = c->cy_n_bt; i > skip; i--) {
		const char *comp = c->cy_bt[i - 1];

		if (comp[0] == '.' && o == 0)
			comp++;
		o += (size_t)snprintf(path + o, cap - o, "%s", comp);
		if (o >= cap) {
			path[cap - 1] = '\0';
			return;
		}
	}
}

static const char *cyaml_kind_name(const char *s)
{
	if (startswith(s, "STRING") || startswith(s, "SCALAR"))
		return "a scalar value";
	if (startswith(s, "MAPPING"))
		return "a mapping";
	if (startswith(s, "SEQUENCE"))
		return "a list";
	return s;
}

/* "base.key", or "key" at the top; cut short rather than overflow (keys are capped anyway). */
void schema_key_join(char *out, size_t cap, const char *base, const char *key)
{
	size_t o = strlen(base);

	if (o > cap - 1)
		o = cap - 1;
	memmove(out, base, o);
	if (o > 0 && o < cap - 1)
		out[o++] = '.';
	out[o] = '\0';
	copy_str(out + o, cap - o, key);
}

int schema_fail(struct load_ctx *c, cyaml_err_t e)
{
	char path[PATH_MAX_LEN], full[PATH_MAX_LEN];
	const char *m = c->cy_msg, *arg;

	if (e == CYAML_ERR_OOM)
		return pfail_errno(c, -ENOMEM);
	if (startswith(m, "Unexpected key: ")) {
		arg = m + strlen("Unexpected key: ");
		cyaml_bt_path(c, 0, path, sizeof(path));
		schema_key_join(full, sizeof(full), path, arg);
		return unknown_key(c, path, full, arg);
	}
	if (startswith(m, "Missing required mapping field: ")) {
		/* The innermost backtrace entry names a field of the mapping, not the mapping. */
		size_t skip = c->cy_n_bt > 0 && c->cy_bt[0][0] == '.';

		arg = m + strlen("Missing required mapping field: ");
		cyaml_bt_path(c, skip, path, sizeof(path));
		schema_key_join(full, sizeof(full), path, arg);
		if (startswith(path, "usb[") && usb_pair_in_vendor(c, path))
			return -EINVAL;
		return pfail(c, posindex_line(c, path, false), full, "required key is missing");
	}
	cyaml_bt_path(c, 0, path, sizeof(path));
	if (startswith(m, "Expecting ")) {
		char want[32] = "";
		const char *got = strstr(m, "got event: ");

		copy_str(want, sizeof(want), m + strlen("Expecting "));
		want[strcspn(want, ",")] = '\0';
		return wrong_kind(c, path, cyaml_kind_name(want),
				  got ? cyaml_kind_name(got + strlen("got event: ")) : "something else");
	}
	if (startswith(m, "Excessive entries (")) {
		/* Reported from inside the entry that overflowed; the key is the list's. */
		cyaml_bt_path(c, c->cy_n_bt > 0 && c->cy_bt[0][0] == '[', path, sizeof(path));
		return pfail(c, posindex_line(c, path, false), path, "too many entries (at most %lu)",
			    strtoul(m + strlen("Excessive entries ("), NULL, 10));
	}
	return pfail(c, posindex_line(c, path, true), path, "%s", m[0] ? m : cyaml_strerror(e));
}
