/* SPDX-License-Identifier: MIT */
/*
 * VM profiles: libcyaml does the structural work (types of nodes, unknown keys, required keys),
 * we do the values (enums, sizes, ids, paths) and the rules between keys.
 *
 * libcyaml keeps no positions once the data is loaded, and the line numbers in its own backtraces
 * describe the last event it handled, not the offending key. So each load first walks libyaml's
 * event stream once and records, for every node, its dotted path and the lines of its key and
 * value. Every error, ours or libcyaml's, is then reported at the line found in that index.
 */
#include "../launcher/fileio.h"
#include "profile.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <yaml.h>

#include "log.h"
#include "util.h"

#define PROFILE_MAX_SIZE (1024 * 1024)
#define INDEX_MAX_NODES 4096 /* a real profile has a few dozen */
#define INDEX_MAX_DEPTH 16   /* the schema needs 3 */
#define KEY_MAX_LEN 64
#define PATH_MAX_LEN 128 /* sizeof(struct profile_error.key) */
#define MEMORY_MIN (16ULL << 20)

/* ---------------------------------------------------------------------------------------------
 * Errors
 */

enum node_kind { NODE_SCALAR, NODE_MAPPING, NODE_SEQUENCE };

struct pos_entry {
	char *path;
	unsigned key_line;   /* line of the key, of the "- " item, or of the document */
	unsigned value_line; /* line where the value node starts */
	enum node_kind kind;
	bool null; /* plain "", "~" or "null": libcyaml would hand us the text */
};

struct pos_index {
	struct pos_entry *v;
	size_t n;
	size_t cap;
};

struct load_ctx {
	const char *name;
	struct pos_index idx;
	struct profile_error err;
	/* What libcyaml said, captured from its log callback. */
	char cy_msg[256];
	char cy_bt[INDEX_MAX_DEPTH + 4][KEY_MAX_LEN + 2]; /* innermost first; "" = "in mapping" */
	size_t cy_n_bt;
};

static void copy_str(char *dst, size_t cap, const char *src)
{
	(void)snprintf(dst, cap, "%s", src);
}

_printf_(4, 5) static int fail(struct load_ctx *c, unsigned line, const char *key, const char *fmt,
			       ...)
{
	va_list ap;

	c->err.line = line;
	copy_str(c->err.key, sizeof(c->err.key), key);
	va_start(ap, fmt);
	(void)vsnprintf(c->err.message, sizeof(c->err.message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fail_errno(struct load_ctx *c, int r)
{
	c->err.line = 0;
	c->err.key[0] = '\0';
	copy_str(c->err.message, sizeof(c->err.message), strerror(-r));
	return r;
}

/* User text inside a message: shortened, and never a control character that could fool a terminal. */
static const char *quote(const char *s, char *buf, size_t cap)
{
	size_t o = 0, max = cap < 52 ? cap - 4 : 48;

	buf[o++] = '"';
	for (; *s && o < max; s++)
		buf[o++] = (*s >= 0x20 && *s != 0x7f) ? *s : '?';
	if (*s) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
#define QUOTE(s) quote((s), (char[64]){ 0 }, 64)

const char *profile_error_format(const struct profile_error *e, char *buf, size_t cap)
{
	char line[16] = "";

	if (!buf || cap == 0)
		return buf;
	if (e->line > 0)
		(void)snprintf(line, sizeof(line), ":%u", e->line);
	(void)snprintf(buf, cap, "%s%s: %s%s%s", e->file[0] ? e->file : "<profile>", line, e->key,
		       e->key[0] ? ": " : "", e->message);
	return buf;
}

/* ---------------------------------------------------------------------------------------------
 * Position index, from libyaml's event stream
 */

struct frame {
	size_t entry; /* index entry of this mapping or sequence */
	bool mapping;
	bool want_key;
	char key[KEY_MAX_LEN + 1];
	unsigned key_line;
	size_t next_item;
};

static void index_free(struct pos_index *idx)
{
	for (size_t i = 0; i < idx->n; i++)
		free(idx->v[i].path);
	free(idx->v);
	*idx = (struct pos_index){ 0 };
}

static const struct pos_entry *index_find(const struct pos_index *idx, const char *path)
{
	for (size_t i = 0; i < idx->n; i++)
		if (streq(idx->v[i].path, path))
			return &idx->v[i];
	return NULL;
}

/* The parent of "a.b[2].c" is "a.b[2]", of "a.b[2]" is "a.b", of "a" is "". */
static void path_parent(char *path)
{
	char *p = path + strlen(path);

	while (p > path && p[-1] != '.' && p[-1] != '[')
		p--;
	if (p > path && p[-1] == '[')
		p--;
	else if (p > path)
		p--;
	*p = '\0';
}

/* Line of the node at path, or of its nearest ancestor that exists (e.g. a missing key's mapping). */
static unsigned line_of(const struct load_ctx *c, const char *path, bool value)
{
	char buf[PATH_MAX_LEN];

	copy_str(buf, sizeof(buf), path);
	for (;;) {
		const struct pos_entry *e = index_find(&c->idx, buf);

		if (e)
			return value ? e->value_line : e->key_line;
		if (!buf[0])
			return 0;
		path_parent(buf);
		value = false; /* an ancestor is named by its key: "network:", "- path:" */
	}
}

static bool scalar_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return streq(v, "") || streq(v, "~") || streq(v, "null") || streq(v, "Null") ||
	       streq(v, "NULL");
}

static const char *event_kind_name(yaml_event_type_t t)
{
	return t == YAML_MAPPING_START_EVENT	? "a mapping"
	       : t == YAML_SEQUENCE_START_EVENT ? "a list"
						: "a scalar";
}

static int index_add(struct load_ctx *c, const char *path, unsigned key_line, const yaml_event_t *ev)
{
	struct pos_entry *e;

	if (c->idx.n >= INDEX_MAX_NODES)
		return fail(c, key_line, path, "too many entries (more than %d nodes)", INDEX_MAX_NODES);
	if (c->idx.n == c->idx.cap) {
		size_t cap = c->idx.cap ? c->idx.cap * 2 : 64;
		struct pos_entry *v = reallocarray(c->idx.v, cap, sizeof(*v));

		if (!v)
			return fail_errno(c, -ENOMEM);
		c->idx.v = v;
		c->idx.cap = cap;
	}
	e = &c->idx.v[c->idx.n];
	*e = (struct pos_entry){
		.path = strdup(path),
		.key_line = key_line,
		.value_line = (unsigned)ev->start_mark.line + 1,
		.kind = ev->type == YAML_MAPPING_START_EVENT	? NODE_MAPPING
			: ev->type == YAML_SEQUENCE_START_EVENT ? NODE_SEQUENCE
								: NODE_SCALAR,
		.null = ev->type == YAML_SCALAR_EVENT && scalar_is_null(ev),
	};
	if (!e->path)
		return fail_errno(c, -ENOMEM);
	c->idx.n++;
	return 0;
}

/* A key of the mapping on top of the stack. */
static int index_key(struct load_ctx *c, struct frame *top, const yaml_event_t *ev)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	const char *parent = c->idx.v[top->entry].path;

	if (ev->type != YAML_SCALAR_EVENT)
		return fail(c, line, parent, "mapping keys must be plain strings, got %s",
			    event_kind_name(ev->type));
	if (ev->data.scalar.length > KEY_MAX_LEN)
		return fail(c, line, parent, "unknown key %s", QUOTE((const char *)ev->data.scalar.value));
	copy_str(top->key, sizeof(top->key), (const char *)ev->data.scalar.value);
	top->key_line = line;
	top->want_key = false;
	return 0;
}

/* A value node: a scalar, or the start of a mapping or sequence. */
static int index_node(struct load_ctx *c, struct frame *stack, size_t *depth, const yaml_event_t *ev)
{
	struct frame *top = *depth ? &stack[*depth - 1] : NULL;
	unsigned line = (unsigned)ev->start_mark.line + 1;
	char path[PATH_MAX_LEN] = "";
	unsigned key_line = line;
	int r;

	if (top && top->mapping && top->want_key)
		return index_key(c, top, ev);
	if (top) {
		const char *parent = c->idx.v[top->entry].path;

		if (top->mapping) {
			r = snprintf(path, sizeof(path), "%s%s%s", parent, parent[0] ? "." : "", top->key);
			key_line = top->key_line;
			top->want_key = true;
		} else {
			r = snprintf(path, sizeof(path), "%s[%zu]", parent, top->next_item++);
		}
		if (r < 0 || (size_t)r >= sizeof(path))
			return fail(c, line, parent, "keys nested too deeply");
	}
	if (ev->type == YAML_ALIAS_EVENT)
		return fail(c, line, path, "YAML aliases are not supported");
	if (ev->type == YAML_SCALAR_EVENT && memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
		return fail(c, line, path, "NUL characters are not allowed");
	if (top && top->mapping && index_find(&c->idx, path))
		return fail(c, key_line, path, "duplicate key (first given on line %u)",
			    index_find(&c->idx, path)->key_line);
	if (!top && ev->type != YAML_MAPPING_START_EVENT) {
		if (ev->type == YAML_SCALAR_EVENT && scalar_is_null(ev))
			return fail(c, 0, "", "the profile is empty; expected a mapping of keys");
		return fail(c, line, "", "expected a mapping of keys at the top level, got %s",
			    event_kind_name(ev->type));
	}
	r = index_add(c, path, key_line, ev);
	if (r < 0)
		return r;
	if (ev->type == YAML_SCALAR_EVENT)
		return 0;
	if (*depth >= INDEX_MAX_DEPTH)
		return fail(c, line, path, "nested too deeply (more than %d levels)", INDEX_MAX_DEPTH);
	stack[(*depth)++] = (struct frame){
		.entry = c->idx.n - 1,
		.mapping = ev->type == YAML_MAPPING_START_EVENT,
		.want_key = true,
	};
	return 0;
}

static int index_event(struct load_ctx *c, struct frame *stack, size_t *depth, unsigned *docs,
		       const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return fail(c, (unsigned)ev->start_mark.line + 1, "",
				    "only one YAML document is allowed");
		return 0;
	case YAML_SCALAR_EVENT:
	case YAML_ALIAS_EVENT:
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		return index_node(c, stack, depth, ev);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		if (*depth > 0)
			(*depth)--;
		return 0;
	default:
		return 0;
	}
}

static unsigned line_at_offset(const char *data, size_t len, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off && i < len; i++)
		line += data[i] == '\n';
	return line;
}

static int index_syntax_error(struct load_ctx *c, const yaml_parser_t *p, const char *data,
			      size_t len)
{
	unsigned line;

	if (p->error == YAML_MEMORY_ERROR)
		return fail_errno(c, -ENOMEM);
	/* Reader errors (bad encoding, control characters) carry an offset, not a mark. */
	if (p->error == YAML_READER_ERROR)
		line = line_at_offset(data, len, p->problem_offset);
	else
		line = (unsigned)p->problem_mark.line + 1;
	if (p->context)
		return fail(c, line, "", "invalid YAML: %s %s", p->problem ? p->problem : "error",
			    p->context);
	return fail(c, line, "", "invalid YAML: %s", p->problem ? p->problem : "error");
}

/* Also rejects what the index could not describe faithfully: aliases, duplicate keys, depth. */
static int index_build(struct load_ctx *c, const char *data, size_t len)
{
	struct frame stack[INDEX_MAX_DEPTH];
	yaml_parser_t parser;
	size_t depth = 0;
	unsigned docs = 0;
	bool done = false;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return fail_errno(c, -ENOMEM);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			r = index_syntax_error(c, &parser, data, len);
			break;
		}
		r = index_event(c, stack, &depth, &docs, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (r < 0)
			break;
	}
	yaml_parser_delete(&parser);
	if (r == 0 && c->idx.n == 0)
		r = fail(c, 0, "", "the profile is empty; expected a mapping of keys");
	return r;
}

/* ---------------------------------------------------------------------------------------------
 * libcyaml schema: every scalar is loaded as text and interpreted by us, so each message can say
 * what was expected. libcyaml's own bool, for one, takes "maybe" as true.
 */

struct cy_cpu {
	char *model, *sockets, *cores, *threads;
};
struct cy_firmware {
	char *type, *secure_boot, *code, *vars;
};
struct cy_disk {
	char *path, *device, *format, *interface, *readonly;
};
struct cy_usb {
	char *vendor, *product;
};
struct cy_pci {
	char *address, *rom, *group;
};
struct cy_network {
	char *type, *bridge, *mac, *model;
};
struct cy_boot {
	char *kernel, *initrd, *cmdline;
};
struct cy_profile {
	char *name, *os, *memory, *machine, *accel;
	struct cy_cpu *cpu;
	struct cy_firmware *firmware;
	char *hide_kvm, *hyperv_vendor_id, *hyperv;
	struct cy_disk *disks;
	unsigned disks_count;
	struct cy_usb *usb;
	unsigned usb_count;
	struct cy_pci *pci;
	unsigned pci_count;
	char *rtc;
	struct cy_network *network;
	char *display, *shutdown_timeout;
	struct cy_boot *boot;
	char **extra_args;
	unsigned extra_args_count;
};

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

static const cyaml_schema_field_t cpu_fields[] = {
	STR_OPT("model", struct cy_cpu, model),	    STR_OPT("sockets", struct cy_cpu, sockets),
	STR_OPT("cores", struct cy_cpu, cores),	    STR_OPT("threads", struct cy_cpu, threads),
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
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t usb_fields[] = {
	STR_REQ("vendor", struct cy_usb, vendor),
	STR_REQ("product", struct cy_usb, product),
	CYAML_FIELD_END,
};
static const cyaml_schema_field_t pci_fields[] = {
	STR_REQ("address", struct cy_pci, address),
	STR_OPT("rom", struct cy_pci, rom),
	STR_OPT("group", struct cy_pci, group),
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
static const cyaml_schema_value_t disk_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_disk, disk_fields),
};
static const cyaml_schema_value_t usb_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_usb, usb_fields),
};
static const cyaml_schema_value_t pci_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cy_pci, pci_fields),
};
static const cyaml_schema_value_t string_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
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
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t profile_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct cy_profile, profile_fields),
};

/* ---------------------------------------------------------------------------------------------
 * libcyaml's messages, turned into a struct profile_error
 */

static bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

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

__attribute__((format(printf, 3, 0))) static void cyaml_capture(cyaml_log_t level, void *ctx,
								const char *fmt, va_list ap)
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
static void path_join(char *out, size_t cap, const char *base, const char *key)
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

static int cyaml_fail(struct load_ctx *c, cyaml_err_t e)
{
	char path[PATH_MAX_LEN], full[PATH_MAX_LEN];
	const char *m = c->cy_msg, *arg;

	if (e == CYAML_ERR_OOM)
		return fail_errno(c, -ENOMEM);
	if (startswith(m, "Unexpected key: ")) {
		arg = m + strlen("Unexpected key: ");
		cyaml_bt_path(c, 0, path, sizeof(path));
		path_join(full, sizeof(full), path, arg);
		return fail(c, line_of(c, full, false), full, "unknown key");
	}
	if (startswith(m, "Missing required mapping field: ")) {
		/* The innermost backtrace entry names a field of the mapping, not the mapping. */
		size_t skip = c->cy_n_bt > 0 && c->cy_bt[0][0] == '.';

		arg = m + strlen("Missing required mapping field: ");
		cyaml_bt_path(c, skip, path, sizeof(path));
		path_join(full, sizeof(full), path, arg);
		return fail(c, line_of(c, path, false), full, "required key is missing");
	}
	cyaml_bt_path(c, 0, path, sizeof(path));
	if (startswith(m, "Expecting ")) {
		char want[32] = "";
		const char *got = strstr(m, "got event: ");

		copy_str(want, sizeof(want), m + strlen("Expecting "));
		want[strcspn(want, ",")] = '\0';
		return fail(c, line_of(c, path, true), path, "expected %s, got %s",
			    cyaml_kind_name(want),
			    got ? cyaml_kind_name(got + strlen("got event: ")) : "something else");
	}
	if (startswith(m, "Excessive entries (")) {
		/* Reported from inside the entry that overflowed; the key is the list's. */
		cyaml_bt_path(c, c->cy_n_bt > 0 && c->cy_bt[0][0] == '[', path, sizeof(path));
		return fail(c, line_of(c, path, false), path, "too many entries (at most %lu)",
			    strtoul(m + strlen("Excessive entries ("), NULL, 10));
	}
	return fail(c, line_of(c, path, true), path, "%s", m[0] ? m : cyaml_strerror(e));
}

/* ---------------------------------------------------------------------------------------------
 * Values
 */

static const char *const os_names[] = { [VM_OS_WINDOWS] = "windows", [VM_OS_LINUX] = "linux",
					[VM_OS_OTHER] = "other" };
static const char *const accel_names[] = { [VM_ACCEL_KVM] = "kvm", [VM_ACCEL_TCG] = "tcg" };
static const char *const fw_names[] = { [VM_FW_UEFI] = "uefi", [VM_FW_BIOS] = "bios" };
static const char *const disk_if_names[] = { [VM_DISK_VIRTIO] = "virtio", [VM_DISK_SATA] = "sata",
					     [VM_DISK_NVME] = "nvme" };
static const char *const rtc_names[] = { [VM_RTC_UTC] = "utc", [VM_RTC_LOCALTIME] = "localtime" };
static const char *const display_names[] = { [VM_DISPLAY_NONE] = "none",
					     [VM_DISPLAY_GTK] = "gtk",
					     [VM_DISPLAY_SPICE] = "spice",
					     [VM_DISPLAY_VNC] = "vnc" };
static const char *const net_names[] = { [VM_NET_NONE] = "none", [VM_NET_USER] = "user",
					 [VM_NET_BRIDGE] = "bridge" };
static const char *const format_names[] = { "raw", "qcow2" };

#define NAME_OF(table, v) ((unsigned)(v) < ARRAY_SIZE(table) ? table[v] : NULL)

const char *vm_os_name(enum vm_os o)
{
	return NAME_OF(os_names, o);
}
const char *vm_accel_name(enum vm_accel a)
{
	return NAME_OF(accel_names, a);
}
const char *vm_fw_type_name(enum vm_fw_type t)
{
	return NAME_OF(fw_names, t);
}
const char *vm_disk_if_name(enum vm_disk_if i)
{
	return NAME_OF(disk_if_names, i);
}
const char *vm_rtc_name(enum vm_rtc r)
{
	return NAME_OF(rtc_names, r);
}
const char *vm_display_name(enum vm_display d)
{
	return NAME_OF(display_names, d);
}
const char *vm_net_type_name(enum vm_net_type t)
{
	return NAME_OF(net_names, t);
}

/*
 * Every scalar goes through here: absent → 0 with *ret NULL (the caller keeps its default);
 * written but empty ("key:" or "key: ~") → an error, since libcyaml would hand us the text "~".
 */
static int scalar(struct load_ctx *c, const char *path, const char *v, const char **ret)
{
	const struct pos_entry *e;

	*ret = NULL;
	if (!v)
		return 0;
	e = index_find(&c->idx, path);
	if (e && e->null)
		return fail(c, e->value_line, path, "expected a value, got nothing");
	*ret = v;
	return 0;
}

/* libcyaml enforces required keys; this keeps a schema slip from becoming a NULL dereference. */
static int required(struct load_ctx *c, const char *path, const char *v, const char **ret)
{
	int r = scalar(c, path, v, ret);

	if (r == 0 && !*ret)
		return fail(c, line_of(c, path, false), path, "required key is missing");
	return r;
}

static int get_enum(struct load_ctx *c, const char *path, const char *v, const char *const *names,
		    size_t n, unsigned *ret)
{
	char list[128] = "";
	const char *s;
	int r = scalar(c, path, v, &s);

	if (r < 0 || !s)
		return r;
	for (size_t i = 0; i < n; i++)
		if (streq(s, names[i])) {
			*ret = (unsigned)i;
			return 0;
		}
	for (size_t i = 0, o = 0; i < n && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", names[i]);
	return fail(c, line_of(c, path, true), path, "expected one of %s, got %s", list, QUOTE(s));
}
#define GET_ENUM(c, path, v, table, ret)                                                          \
	({                                                                                         \
		unsigned _e_ = (unsigned)*(ret);                                                   \
		int _r_ = get_enum(c, path, v, table, ARRAY_SIZE(table), &_e_);                    \
		*(ret) = _e_;                                                                      \
		_r_;                                                                               \
	})

/* YAML 1.2 booleans only: YAML 1.1's yes/no/on/off surprise people ("NO" for Norway). */
static int get_bool(struct load_ctx *c, const char *path, const char *v, bool *ret)
{
	const char *s;
	int r = scalar(c, path, v, &s);

	if (r < 0 || !s)
		return r;
	if (streq(s, "true") || streq(s, "false")) {
		*ret = streq(s, "true");
		return 0;
	}
	return fail(c, line_of(c, path, true), path, "expected true or false, got %s", QUOTE(s));
}

static int get_uint(struct load_ctx *c, const char *path, const char *v, unsigned min, unsigned max,
		    unsigned *ret)
{
	unsigned long long n = 0;
	const char *s;
	int r = scalar(c, path, v, &s);

	if (r < 0 || !s)
		return r;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || n > max) {
			n = ~0ULL;
			break;
		}
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (!s[0] || n < min || n > max)
		return fail(c, line_of(c, path, true), path,
			    "expected a whole number from %u to %u, got %s", min, max, QUOTE(s));
	*ret = (unsigned)n;
	return 0;
}

/* Text that lands inside a QEMU option string ("-drive file=PATH,format=raw"). */
static int get_option_string(struct load_ctx *c, const char *path, const char *v, const char **ret)
{
	const char *s;
	int r = scalar(c, path, v, &s);

	*ret = NULL;
	if (r < 0 || !s)
		return r;
	if (!s[0])
		return fail(c, line_of(c, path, true), path, "must not be empty");
	/* QEMU would read a comma as the start of the next option; doubling it is too subtle. */
	if (strchr(s, ','))
		return fail(c, line_of(c, path, true), path,
			    "must not contain ',' (it would split the QEMU option), got %s", QUOTE(s));
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(c, line_of(c, path, true), path,
				    "must not contain control characters");
	*ret = s;
	return 0;
}

int parse_memory_size(const char *s, uint64_t *ret)
{
	uint64_t n = 0;
	unsigned shift = 0;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (n > (UINT64_MAX - d) / 10)
			return -ERANGE;
		n = n * 10 + d;
	}
	switch (*p) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*p && p[1])
		return -EINVAL;
	if (shift && n > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = n << shift;
	return 0;
}

/* "046d", "0x046d", or 1234 read by YAML as a number: always the four hex digits of lsusb. */
static int parse_usb_id(const char *s, uint16_t *ret)
{
	unsigned v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (strlen(s) != 4)
		return -EINVAL;
	for (size_t i = 0; i < 4; i++) {
		char ch = s[i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return -EINVAL;
		v = v << 4 | d;
	}
	*ret = (uint16_t)v;
	return 0;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* xx:xx:xx:xx:xx:xx, and unicast: a multicast source address would be dropped by the bridge. */
static int parse_mac(const char *s, char ret[static 18])
{
	static const char hex[] = "0123456789abcdefABCDEF";

	if (strlen(s) != 17)
		return -EINVAL;
	for (size_t i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !strchr(hex, s[i]) || !s[i])
			return -EINVAL;
		ret[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
	}
	ret[17] = '\0';
	return 0;
}

static int dup_str(struct load_ctx *c, const char *s, char **ret)
{
	char *d;

	if (!s)
		return 0;
	d = strdup(s);
	if (!d)
		return fail_errno(c, -ENOMEM);
	*ret = d;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * From libcyaml's struct to ours, one section at a time
 */

static int convert_top(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	char size_text[64] = "";
	const char *s;
	int r;

	r = required(c, "name", y->name, &s);
	if (r < 0)
		return r;
	if (!valid_name(s))
		return fail(c, line_of(c, "name", true), "name",
			    "expected 1 to 64 of A-Z a-z 0-9 . _ -, got %s", QUOTE(s));
	r = dup_str(c, s, &p->name);
	if (r < 0)
		return r;

	r = GET_ENUM(c, "os", y->os, os_names, &p->os);
	if (r < 0)
		return r;
	p->hyperv = p->os == VM_OS_WINDOWS;

	r = required(c, "memory", y->memory, &s);
	if (r < 0)
		return r;
	r = parse_memory_size(s, &p->memory);
	copy_str(size_text, sizeof(size_text), s);
	if (r == -ERANGE)
		return fail(c, line_of(c, "memory", true), "memory", "size %s is too large",
			    QUOTE(size_text));
	if (r < 0)
		return fail(c, line_of(c, "memory", true), "memory",
			    "expected a size like 8G, 512M, 1024K, 2T or a number of bytes, got %s",
			    QUOTE(size_text));
	if (p->memory < MEMORY_MIN)
		return fail(c, line_of(c, "memory", true), "memory", "must be at least 16M, got %s",
			    QUOTE(size_text));

	r = get_option_string(c, "machine", y->machine, &s);
	if (r < 0 || (r = dup_str(c, s ? s : "q35", &p->machine)) < 0)
		return r;
	r = GET_ENUM(c, "accel", y->accel, accel_names, &p->accel);
	if (r < 0)
		return r;
	r = get_bool(c, "hide_kvm", y->hide_kvm, &p->hide_kvm);
	if (r < 0)
		return r;
	r = get_bool(c, "hyperv", y->hyperv, &p->hyperv);
	if (r < 0)
		return r;
	r = GET_ENUM(c, "rtc", y->rtc, rtc_names, &p->rtc);
	if (r < 0)
		return r;
	r = GET_ENUM(c, "display", y->display, display_names, &p->display);
	if (r < 0)
		return r;
	p->shutdown_timeout = 60;
	return get_uint(c, "shutdown_timeout", y->shutdown_timeout, 1, 3600, &p->shutdown_timeout);
}

static int convert_vendor_id(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	const char *s;
	size_t n;
	int r = scalar(c, "hyperv_vendor_id", y->hyperv_vendor_id, &s);

	if (r < 0 || !s)
		return r;
	n = strlen(s);
	if (n < 1 || n > 12)
		return fail(c, line_of(c, "hyperv_vendor_id", true), "hyperv_vendor_id",
			    "expected 1 to 12 characters, got %zu", n);
	for (const char *q = s; *q; q++)
		if (*q < 0x20 || *q > 0x7e || *q == ',')
			return fail(c, line_of(c, "hyperv_vendor_id", true), "hyperv_vendor_id",
				    "expected printable ASCII without ',', got %s", QUOTE(s));
	return dup_str(c, s, &p->hyperv_vendor_id);
}

static int convert_cpu(struct load_ctx *c, const struct cy_cpu *y, struct vm_profile *p)
{
	const char *model = NULL;
	int r;

	p->cpu.sockets = 1;
	p->cpu.cores = 2;
	p->cpu.threads = 1;
	if (y) {
		if ((r = get_option_string(c, "cpu.model", y->model, &model)) < 0 ||
		    (r = get_uint(c, "cpu.sockets", y->sockets, 1, 1024, &p->cpu.sockets)) < 0 ||
		    (r = get_uint(c, "cpu.cores", y->cores, 1, 1024, &p->cpu.cores)) < 0 ||
		    (r = get_uint(c, "cpu.threads", y->threads, 1, 1024, &p->cpu.threads)) < 0)
			return r;
		if ((uint64_t)p->cpu.sockets * p->cpu.cores * p->cpu.threads > 1024)
			return fail(c, line_of(c, "cpu", false), "cpu",
				    "sockets * cores * threads is %llu, at most 1024 vCPUs",
				    (unsigned long long)p->cpu.sockets * p->cpu.cores *
					    p->cpu.threads);
	}
	if (!model)
		model = p->accel == VM_ACCEL_TCG ? "max" : "host";
	return dup_str(c, model, &p->cpu.model);
}

static int convert_firmware(struct load_ctx *c, const struct cy_firmware *y, struct vm_profile *p)
{
	const char *code = NULL, *vars = NULL;
	int r;

	if (!y)
		return 0;
	if ((r = GET_ENUM(c, "firmware.type", y->type, fw_names, &p->firmware.type)) < 0 ||
	    (r = get_bool(c, "firmware.secure_boot", y->secure_boot, &p->firmware.secure_boot)) < 0 ||
	    (r = get_option_string(c, "firmware.code", y->code, &code)) < 0 ||
	    (r = get_option_string(c, "firmware.vars", y->vars, &vars)) < 0)
		return r;
	if (p->firmware.secure_boot && p->firmware.type == VM_FW_BIOS)
		return fail(c, line_of(c, "firmware.secure_boot", true), "firmware.secure_boot",
			    "secure boot needs firmware type uefi, not bios");
	/* A vars template belongs to one code image: mixing ours and theirs loses NVRAM. */
	if (vars && !code)
		return fail(c, line_of(c, "firmware.vars", false), "firmware.vars",
			    "needs firmware.code too: a vars template only fits its own code image");
	if (code && !vars)
		return fail(c, line_of(c, "firmware.code", false), "firmware.code",
			    "needs firmware.vars too: a code image needs its matching vars template");
	if ((r = dup_str(c, code, &p->firmware.code)) < 0)
		return r;
	return dup_str(c, vars, &p->firmware.vars);
}

static bool endswith(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && streq(s + n - m, suffix);
}

static int convert_disk(struct load_ctx *c, size_t i, const struct cy_disk *y, struct vm_disk *d)
{
	char base[32], path[PATH_MAX_LEN], dev[PATH_MAX_LEN], fmt[PATH_MAX_LEN], ifc[PATH_MAX_LEN],
		ro[PATH_MAX_LEN];
	const char *file = NULL, *device = NULL, *format = NULL;
	int r;

	(void)snprintf(base, sizeof(base), "disks[%zu]", i);
	path_join(path, sizeof(path), base, "path");
	path_join(dev, sizeof(dev), base, "device");
	path_join(fmt, sizeof(fmt), base, "format");
	path_join(ifc, sizeof(ifc), base, "interface");
	path_join(ro, sizeof(ro), base, "readonly");
	if ((r = get_option_string(c, path, y->path, &file)) < 0 ||
	    (r = get_option_string(c, dev, y->device, &device)) < 0 ||
	    (r = GET_ENUM(c, ifc, y->interface, disk_if_names, &d->interface)) < 0 ||
	    (r = get_bool(c, ro, y->readonly, &d->readonly)) < 0)
		return r;
	if (!file && !device)
		return fail(c, line_of(c, base, false), base, "needs exactly one of path or device");
	if (file && device)
		return fail(c, line_of(c, dev, false), dev,
			    "path and device exclude each other: give exactly one");
	if (device && !startswith(device, "/dev/"))
		return fail(c, line_of(c, dev, true), dev, "expected a path under /dev/, got %s",
			    QUOTE(device));
	if (y->format) {
		unsigned f = 0;

		if ((r = get_enum(c, fmt, y->format, format_names, ARRAY_SIZE(format_names), &f)) < 0)
			return r;
		format = format_names[f];
	} else {
		format = file && endswith(file, ".qcow2") ? "qcow2" : "raw";
	}
	if ((r = dup_str(c, file, &d->path)) < 0 || (r = dup_str(c, device, &d->device)) < 0)
		return r;
	return dup_str(c, format, &d->format);
}

static int convert_disks(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	if (y->disks_count == 0)
		return 0;
	p->disks = calloc(y->disks_count, sizeof(*p->disks));
	if (!p->disks)
		return fail_errno(c, -ENOMEM);
	for (size_t i = 0; i < y->disks_count; i++) {
		int r = convert_disk(c, i, &y->disks[i], &p->disks[i]);

		p->n_disks = i + 1; /* so profile_free sees what was filled in so far */
		if (r < 0)
			return r;
	}
	return 0;
}

static int convert_usb_id(struct load_ctx *c, size_t i, const char *key, const char *v,
			  uint16_t *ret)
{
	char path[PATH_MAX_LEN];
	const char *s;
	int r;

	(void)snprintf(path, sizeof(path), "usb[%zu].%s", i, key);
	r = required(c, path, v, &s);
	if (r < 0)
		return r;
	if (parse_usb_id(s, ret) < 0)
		return fail(c, line_of(c, path, true), path,
			    "expected 4 hex digits like 046d or 0x046d, got %s", QUOTE(s));
	return 0;
}

static int convert_usb(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	if (y->usb_count == 0)
		return 0;
	p->usb = calloc(y->usb_count, sizeof(*p->usb));
	if (!p->usb)
		return fail_errno(c, -ENOMEM);
	p->n_usb = y->usb_count;
	for (size_t i = 0; i < y->usb_count; i++) {
		int r = convert_usb_id(c, i, "vendor", y->usb[i].vendor, &p->usb[i].vendor);

		if (r < 0 || (r = convert_usb_id(c, i, "product", y->usb[i].product,
						 &p->usb[i].product)) < 0)
			return r;
	}
	return 0;
}

static int convert_pci_one(struct load_ctx *c, size_t i, const struct cy_pci *y, struct vm_pci *d,
			   const struct vm_pci *before)
{
	char addr[PATH_MAX_LEN], rom[PATH_MAX_LEN], grp[PATH_MAX_LEN];
	const char *s, *romfile = NULL;
	int r;

	(void)snprintf(addr, sizeof(addr), "pci[%zu].address", i);
	(void)snprintf(rom, sizeof(rom), "pci[%zu].rom", i);
	(void)snprintf(grp, sizeof(grp), "pci[%zu].group", i);
	if ((r = required(c, addr, y->address, &s)) < 0)
		return r;
	if (pci_addr_parse(s, &d->address) < 0)
		return fail(c, line_of(c, addr, true), addr,
			    "expected a PCI address like 0000:01:00.0 or 01:00.0, got %s", QUOTE(s));
	for (size_t j = 0; j < i; j++)
		if (pci_addr_eq(&before[j].address, &d->address))
			return fail(c, line_of(c, addr, true), addr,
				    "duplicate PCI address %s, already pci[%zu]", QUOTE(s), j);
	d->whole_group = true;
	if ((r = get_bool(c, grp, y->group, &d->whole_group)) < 0 ||
	    (r = get_option_string(c, rom, y->rom, &romfile)) < 0)
		return r;
	return dup_str(c, romfile, &d->rom);
}

static int convert_pci(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	if (y->pci_count == 0)
		return 0;
	p->pci = calloc(y->pci_count, sizeof(*p->pci));
	if (!p->pci)
		return fail_errno(c, -ENOMEM);
	for (size_t i = 0; i < y->pci_count; i++) {
		int r = convert_pci_one(c, i, &y->pci[i], &p->pci[i], p->pci);

		p->n_pci = i + 1;
		if (r < 0)
			return r;
	}
	return 0;
}

static int convert_network(struct load_ctx *c, const struct cy_network *y, struct vm_profile *p)
{
	const char *bridge = NULL, *model = NULL, *mac = NULL;
	char mac_buf[18];
	int r;

	p->network.type = VM_NET_USER;
	if (y) {
		if ((r = GET_ENUM(c, "network.type", y->type, net_names, &p->network.type)) < 0 ||
		    (r = get_option_string(c, "network.bridge", y->bridge, &bridge)) < 0 ||
		    (r = get_option_string(c, "network.model", y->model, &model)) < 0 ||
		    (r = scalar(c, "network.mac", y->mac, &mac)) < 0)
			return r;
		if (mac && parse_mac(mac, mac_buf) < 0)
			return fail(c, line_of(c, "network.mac", true), "network.mac",
				    "expected xx:xx:xx:xx:xx:xx in hex, got %s", QUOTE(mac));
		if (mac && (strtoul((char[3]){ mac_buf[0], mac_buf[1], 0 }, NULL, 16) & 1))
			return fail(c, line_of(c, "network.mac", true), "network.mac",
				    "must be a unicast address (even first octet), got %s",
				    QUOTE(mac));
	}
	if (p->network.type == VM_NET_BRIDGE && !bridge)
		return fail(c, line_of(c, "network.bridge", false), "network.bridge",
			    "required when network.type is bridge");
	if (p->network.type != VM_NET_BRIDGE && bridge)
		return fail(c, line_of(c, "network.bridge", false), "network.bridge",
			    "only valid when network.type is bridge");
	if ((r = dup_str(c, bridge, &p->network.bridge)) < 0 ||
	    (r = dup_str(c, mac ? mac_buf : NULL, &p->network.mac)) < 0)
		return r;
	return dup_str(c, model ? model : "virtio-net-pci", &p->network.model);
}

static int convert_boot(struct load_ctx *c, const struct cy_boot *y, struct vm_profile *p)
{
	const char *kernel, *initrd, *cmdline;
	int r;

	if (!y)
		return 0;
	if ((r = scalar(c, "boot.kernel", y->kernel, &kernel)) < 0 ||
	    (r = scalar(c, "boot.initrd", y->initrd, &initrd)) < 0 ||
	    (r = scalar(c, "boot.cmdline", y->cmdline, &cmdline)) < 0)
		return r;
	if (kernel && !kernel[0])
		return fail(c, line_of(c, "boot.kernel", true), "boot.kernel", "must not be empty");
	if (!kernel && initrd)
		return fail(c, line_of(c, "boot.initrd", false), "boot.initrd",
			    "needs boot.kernel: an initrd is only used with direct kernel boot");
	if (!kernel && cmdline)
		return fail(c, line_of(c, "boot.cmdline", false), "boot.cmdline",
			    "needs boot.kernel: a command line is only used with direct kernel boot");
	if ((r = dup_str(c, kernel, &p->boot.kernel)) < 0 ||
	    (r = dup_str(c, initrd, &p->boot.initrd)) < 0)
		return r;
	return dup_str(c, cmdline, &p->boot.cmdline);
}

static int convert_extra_args(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	if (y->extra_args_count == 0)
		return 0;
	p->extra_args = calloc(y->extra_args_count + 1, sizeof(char *));
	if (!p->extra_args)
		return fail_errno(c, -ENOMEM);
	for (size_t i = 0; i < y->extra_args_count; i++) {
		char path[PATH_MAX_LEN];
		const char *s;
		int r;

		(void)snprintf(path, sizeof(path), "extra_args[%zu]", i);
		if ((r = required(c, path, y->extra_args[i], &s)) < 0 ||
		    (r = dup_str(c, s, &p->extra_args[i])) < 0)
			return r;
		p->n_extra_args = i + 1;
	}
	return 0;
}

static void profile_freep(struct vm_profile **p)
{
	profile_free(*p);
}

static int convert(struct load_ctx *c, const struct cy_profile *y, struct vm_profile **ret)
{
	_cleanup_(profile_freep) struct vm_profile *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return fail_errno(c, -ENOMEM);
	if ((r = dup_str(c, c->name, &p->source)) < 0 || (r = convert_top(c, y, p)) < 0 ||
	    (r = convert_cpu(c, y->cpu, p)) < 0 || (r = convert_firmware(c, y->firmware, p)) < 0 ||
	    (r = convert_vendor_id(c, y, p)) < 0 || (r = convert_disks(c, y, p)) < 0 ||
	    (r = convert_usb(c, y, p)) < 0 || (r = convert_pci(c, y, p)) < 0 ||
	    (r = convert_network(c, y->network, p)) < 0 || (r = convert_boot(c, y->boot, p)) < 0 ||
	    (r = convert_extra_args(c, y, p)) < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Entry points
 */

static int load(struct load_ctx *c, const char *data, size_t len, struct vm_profile **ret)
{
	const cyaml_config_t config = {
		.log_fn = cyaml_capture, /* never cyaml_log: that one writes to stderr */
		.log_ctx = c,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_WARNING, /* its debug chatter costs a vsnprintf per event */
		.flags = CYAML_CFG_NO_ALIAS,
	};
	struct cy_profile *y = NULL;
	cyaml_err_t e;
	int r;

	if (len > PROFILE_MAX_SIZE) {
		(void)fail(c, 0, "", "larger than the %d KiB a profile may have",
			   PROFILE_MAX_SIZE / 1024);
		return -EFBIG;
	}
	r = index_build(c, data, len);
	if (r < 0)
		return r;
	e = cyaml_load_data((const uint8_t *)data, len, &config, &profile_schema,
			    (cyaml_data_t **)&y, NULL);
	if (e != CYAML_OK) {
		r = cyaml_fail(c, e);
		(void)cyaml_free(&config, &profile_schema, y, 0);
		return r;
	}
	r = convert(c, y, ret);
	(void)cyaml_free(&config, &profile_schema, y, 0);
	return r;
}

int profile_load_buffer(const char *name, const char *data, size_t len, struct vm_profile **ret,
			struct profile_error *err)
{
	struct load_ctx c = { .name = name ? name : "<profile>" };
	struct vm_profile *p = NULL;
	int r;

	copy_str(c.err.file, sizeof(c.err.file), c.name);
	if (!data && len > 0)
		r = fail_errno(&c, -EINVAL);
	else
		r = load(&c, data ? data : "", len, &p);
	index_free(&c.idx);
	if (r < 0) {
		if (err)
			*err = c.err;
		return r;
	}
	*ret = p;
	return 0;
}

/* The whole file, at most PROFILE_MAX_SIZE bytes; one more byte read tells us it is too big. */
static int read_capped(int fd, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = malloc(PROFILE_MAX_SIZE + 1);
	ssize_t n;
	size_t len;

	if (!buf)
		return -ENOMEM;
	/* One byte past the cap tells "too large" apart from "exactly the cap". */
	n = read_full(fd, buf, PROFILE_MAX_SIZE + 1);
	if (n < 0)
		return (int)n;
	len = (size_t)n;
	if (len > PROFILE_MAX_SIZE)
		return -EFBIG;
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int profile_load(const char *path, struct vm_profile **ret, struct profile_error *err)
{
	struct load_ctx c = { .name = path ? path : "<profile>" };
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *data = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	copy_str(c.err.file, sizeof(c.err.file), c.name);
	if (!path)
		r = -EINVAL;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		r = -errno;
	else if (fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR;
	else
		r = read_capped(fd, &data, &len);
	if (r == -EFBIG) {
		(void)fail(&c, 0, "", "larger than the %d KiB a profile may have",
			   PROFILE_MAX_SIZE / 1024);
	} else if (r < 0) {
		(void)fail_errno(&c, r);
	}
	if (r < 0) {
		if (err)
			*err = c.err;
		return r;
	}
	return profile_load_buffer(path, data, len, ret, err);
}

void profile_free(struct vm_profile *p)
{
	if (!p)
		return;
	free(p->source);
	free(p->name);
	free(p->machine);
	free(p->cpu.model);
	free(p->firmware.code);
	free(p->firmware.vars);
	free(p->hyperv_vendor_id);
	for (size_t i = 0; i < p->n_disks; i++) {
		free(p->disks[i].path);
		free(p->disks[i].device);
		free(p->disks[i].format);
	}
	free(p->disks);
	free(p->usb);
	for (size_t i = 0; i < p->n_pci; i++)
		free(p->pci[i].rom);
	free(p->pci);
	free(p->network.bridge);
	free(p->network.mac);
	free(p->network.model);
	free(p->boot.kernel);
	free(p->boot.initrd);
	free(p->boot.cmdline);
	strv_free(p->extra_args);
	free(p);
}
