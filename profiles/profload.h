/* SPDX-License-Identifier: MIT */
/*
 * Inside the profile loader (not part of profile.h): the load context every part shares, the
 * position index (posindex.c), libcyaml's schema and messages (schema.c), the interpretation
 * of each scalar (values.c) and the conversion of each section (convert.c).
 *
 * libcyaml does the structural work (types of nodes, unknown keys, required keys), we do the
 * values (enums, sizes, ids, paths) and the rules between keys. libcyaml keeps no positions
 * once the data is loaded, and the line numbers in its own backtraces describe the last event
 * it handled, not the offending key. So each load first walks libyaml's event stream once and
 * records, for every node, its dotted path and the lines of its key and value. Every error,
 * ours or libcyaml's, is then reported at the line found in that index.
 */
#pragma once

#include <cyaml/cyaml.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "profile.h"
#include "util.h"

#define PROFILE_MAX_SIZE (1024 * 1024)
#define INDEX_MAX_NODES 4096 /* a real profile has a few dozen */
#define INDEX_MAX_DEPTH 16   /* the schema needs 3 */
#define KEY_MAX_LEN 64
#define PATH_MAX_LEN 128 /* sizeof(struct profile_error.key) */
#define MEMORY_MIN (16ULL << 20)

/* ---- the load context and its errors ---- */

enum pos_kind { POS_SCALAR, POS_MAPPING, POS_SEQUENCE };

struct pos_entry {
	char *path;
	unsigned key_line;   /* line of the key, of the "- " item, or of the document */
	unsigned value_line; /* line where the value node starts */
	enum pos_kind kind;
	bool null; /* plain "", "~" or "null": libcyaml would hand us the text */
	char *value; /* a scalar's text (at most 128 bytes), for hints; NULL otherwise */
};

struct pos_index {
	struct pos_entry *v;
	size_t n;
	size_t cap;
};

struct load_ctx {
	const char *name;
	char base_dir[4096]; /* relative paths in the profile are relative to this (its directory) */
	const char *data; /* the text being loaded, for messages that show what was written */
	size_t len;
	struct pos_index idx;
	struct profile_error err;
	/* What libcyaml said, captured from its log callback. */
	char cy_msg[256];
	char cy_bt[INDEX_MAX_DEPTH + 4][KEY_MAX_LEN + 2]; /* innermost first; "" = "in mapping" */
	size_t cy_n_bt;
};

static inline void copy_str(char *dst, size_t cap, const char *src)
{
	(void)snprintf(dst, cap, "%s", src);
}

static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- errors (perror.c) ---- */

/* Record the error (line, dotted key, message); returns -EINVAL. */
_printf_(4, 5) int pfail(struct load_ctx *c, unsigned line, const char *key, const char *fmt, ...);
/* An error without a position (I/O, memory); returns r. */
int pfail_errno(struct load_ctx *c, int r);
/* User text inside a message: shortened, and never a control character that could fool a
 * terminal. */
const char *pquote(const char *s, char *buf, size_t cap);
#define QUOTE(s) pquote((s), (char[64]){ 0 }, 64)
/* The name of v in a table of names indexed by an enum, NULL past its end. */
#define NAME_OF(table, v) ((unsigned)(v) < ARRAY_SIZE(table) ? table[v] : NULL)

/* "base.key", or "key" at the top; cut short rather than overflow (keys are capped anyway). */
void schema_key_join(char *out, size_t cap, const char *base, const char *key);

/* ---- hints (hint.c): what to write instead ---- */

/* The name closest to got (a typo, a case slip), or NULL when none is close. */
const char *hint_closest(const char *got, const char *const *names, size_t n);
/* The form the mapping or list at path takes, as an example; NULL when none is known. */
const char *hint_form(const char *path);
/* "046d:c31c", as lsusb prints an id pair, split in two. */
bool hint_usb_pair(const char *s, char vendor[5], char product[5]);
/* The 1-based line of data has a tab in it. */
bool hint_line_has_tab(const char *data, size_t len, unsigned line);

/* ---- the position index (posindex.c) ---- */

/* Also rejects what the index could not describe faithfully: aliases, duplicate keys, depth. */
int posindex_build(struct load_ctx *c, const char *data, size_t len);
void posindex_free(struct pos_index *idx);
const struct pos_entry *posindex_find(const struct pos_index *idx, const char *path);
/* Line of the node at path (its value's line, or its key's), or of its nearest ancestor that
 * exists (e.g. a missing key's mapping). */
unsigned posindex_line(const struct load_ctx *c, const char *path, bool value);

/* ---- libcyaml (schema.c) ---- */

/* libcyaml's view: every scalar as text, interpreted in values.c and convert.c. */
struct cy_cpu {
	char *model, *sockets, *cores, *threads, *isolate;
	char **pin;
	unsigned pin_count;
	char **emulator;
	unsigned emulator_count;
};
struct cy_firmware {
	char *type, *secure_boot, *code, *vars;
};
struct cy_disk {
	char *path, *device, *format, *interface, *readonly, *media;
};
struct cy_install {
	char **media;
	unsigned media_count;
	char *display, *boot_keys;
};
struct cy_usb {
	char *vendor, *product, *bus, *port;
};
struct cy_input {
	char *keyboard, *mouse, *toggle;
};
struct cy_looking_glass {
	char *resolution, *hdr, *size;
};
struct cy_pci {
	char *address, *rom, *group, *after, *release;
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
	char *tpm;
	struct cy_install *install;
	struct cy_input *input;
	struct cy_looking_glass *looking_glass;
	char *hugepages;
	/* audio is true/false or a mapping ({input: true}): read from the position index. */
};

extern const cyaml_schema_value_t profile_schema;
/* libcyaml's log, captured into the context (never printed). */
__attribute__((format(printf, 3, 0))) void schema_capture(cyaml_log_t level, void *ctx,
							  const char *fmt, va_list ap);
/* What libcyaml refused, as an error at the right line and key. */
int schema_fail(struct load_ctx *c, cyaml_err_t e);
/* The keys the mapping at path may have (list indexes ignored), NULL-terminated, in *ret. */
size_t schema_keys_at(const char *path, const char **ret, size_t cap);

/* ---- values (values.c): every scalar is read as text and interpreted here ---- */

/* Absent → 0 with *ret NULL (the caller keeps its default); written but empty → an error. */
int val_scalar(struct load_ctx *c, const char *path, const char *v, const char **ret);
int val_required(struct load_ctx *c, const char *path, const char *v, const char **ret);
int val_enum(struct load_ctx *c, const char *path, const char *v, const char *const *names,
	     size_t n, unsigned *ret);
#define GET_ENUM(c, path, v, table, ret)                                                          \
	({                                                                                         \
		unsigned _e_ = (unsigned)*(ret);                                                   \
		int _r_ = val_enum(c, path, v, table, ARRAY_SIZE(table), &_e_);                    \
		*(ret) = _e_;                                                                      \
		_r_;                                                                               \
	})
int val_bool(struct load_ctx *c, const char *path, const char *v, bool *ret);
int val_uint(struct load_ctx *c, const char *path, const char *v, unsigned min, unsigned max,
	     unsigned *ret);
/* Text that lands inside a QEMU option string ("-drive file=PATH,format=raw"). */
int val_option_string(struct load_ctx *c, const char *path, const char *v, const char **ret);
/* A file name: a relative one is made absolute against the profile's directory (c->base_dir).
 * in_option: it lands inside a QEMU option string (the rules of val_option_string apply).
 * *ret is malloc'd (NULL when absent). */
int val_path(struct load_ctx *c, const char *path, const char *v, bool in_option, char **ret);
int val_dup(struct load_ctx *c, const char *s, char **ret);
int val_usb_id(const char *s, uint16_t *ret);
int val_mac(const char *s, char ret[static 18]);

/* ---- sections (convert.c) ---- */

/* The whole profile, from libcyaml's struct to ours, with defaults and the rules between keys. */
int convert_profile(struct load_ctx *c, const struct cy_profile *y, struct vm_profile **ret);
/* Its sections: the devices (convert_devices.c), how it starts (convert_run.c). */
int convert_disks(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p);
int convert_usb(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p);
int convert_pci(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p);
int convert_network(struct load_ctx *c, const struct cy_network *y, struct vm_profile *p);
int convert_boot(struct load_ctx *c, const struct cy_boot *y, struct vm_profile *p);
int convert_extra_args(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p);
int convert_tpm(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p);
int convert_install(struct load_ctx *c, const struct cy_install *y, struct vm_profile *p);
/* Sharing with the host desktop (convert_share.c): input, Looking Glass, audio, hugepages,
 * CPU pinning. */
int convert_cpu_pinning(struct load_ctx *c, const struct cy_cpu *y, struct vm_profile *p);
int convert_input(struct load_ctx *c, const struct cy_input *y, struct vm_profile *p);
int convert_looking_glass(struct load_ctx *c, const struct cy_looking_glass *y, struct vm_profile *p);
int convert_audio(struct load_ctx *c, struct vm_profile *p);
int convert_hugepages(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p);
