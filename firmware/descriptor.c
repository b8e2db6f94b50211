/* SPDX-License-Identifier: MIT */
/*
 * One QEMU firmware descriptor (docs/interop/firmware.json): parsing with json-c, and whether it
 * offers what a VM asks for. Files named by the descriptor are not looked at here.
 */
#include <errno.h>
#include <fnmatch.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "firmware.h"
#include "util.h"

static void json_putp(json_object **o)
{
	if (*o)
		(void)json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

static void tokener_freep(json_tokener **t)
{
	if (*t)
		json_tokener_free(*t);
}

void fw_descriptor_clear(struct fw_descriptor *d)
{
	if (!d)
		return;
	strv_free(d->interface_types);
	free(d->device);
	free(d->mode);
	free(d->executable);
	free(d->executable_format);
	free(d->nvram_template);
	free(d->nvram_template_format);
	for (size_t i = 0; i < d->n_targets; i++) {
		free(d->targets[i].architecture);
		strv_free(d->targets[i].machines);
	}
	free(d->targets);
	strv_free(d->features);
	memset(d, 0, sizeof(*d));
}

static void fw_descriptor_clearp(struct fw_descriptor *d)
{
	fw_descriptor_clear(d);
}

/* Optional string member: absent leaves *ret NULL, present but not a string is malformed. */
static int get_string(json_object *obj, const char *key, char **ret)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EBADMSG;
	/* json-c strings may hold NULs; a file name or keyword with one is not ours to pass on. */
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return -EBADMSG;
	*ret = strdup(json_object_get_string(v));
	return *ret ? 0 : -ENOMEM;
}

/* Optional array of strings: absent gives an empty (but non-NULL) vector. */
static int get_strv(json_object *obj, const char *key, char ***ret)
{
	_cleanup_strv_free_ char **v = NULL;
	json_object *a;
	size_t n = 0;

	if (json_object_object_get_ex(obj, key, &a) && !json_object_is_type(a, json_type_null)) {
		if (!json_object_is_type(a, json_type_array))
			return -EBADMSG;
		n = json_object_array_length(a);
	}
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);

		if (!json_object_is_type(e, json_type_string) ||
		    strlen(json_object_get_string(e)) != (size_t)json_object_get_string_len(e))
			return -EBADMSG;
		v[i] = strdup(json_object_get_string(e));
		if (!v[i])
			return -ENOMEM;
	}
	*ret = TAKE_PTR(v);
	return 0;
}

/* mapping.executable / mapping.nvram-template: {"filename": ..., "format": ...}. */
static int get_file(json_object *mapping, const char *key, char **ret_name, char **ret_format)
{
	json_object *f;
	int r;

	if (!json_object_object_get_ex(mapping, key, &f) || json_object_is_type(f, json_type_null))
		return 0;
	if (!json_object_is_type(f, json_type_object))
		return -EBADMSG;
	r = get_string(f, "filename", ret_name);
	if (r < 0)
		return r;
	return get_string(f, "format", ret_format);
}

static int parse_mapping(json_object *root, struct fw_descriptor *d)
{
	json_object *m;
	int r;

	if (!json_object_object_get_ex(root, "mapping", &m) || json_object_is_type(m, json_type_null))
		return 0;
	if (!json_object_is_type(m, json_type_object))
		return -EBADMSG;
	r = get_string(m, "device", &d->device);
	if (r < 0)
		return r;
	r = get_string(m, "mode", &d->mode);
	if (r < 0)
		return r;
	/* "memory" and "kernel" devices name their image directly. */
	if (d->device && !streq(d->device, "flash"))
		return get_string(m, "filename", &d->executable);
	r = get_file(m, "executable", &d->executable, &d->executable_format);
	if (r < 0)
		return r;
	return get_file(m, "nvram-template", &d->nvram_template, &d->nvram_template_format);
}

static int parse_targets(json_object *root, struct fw_descriptor *d)
{
	json_object *a;
	size_t n;

	if (!json_object_object_get_ex(root, "targets", &a) || json_object_is_type(a, json_type_null))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return -EBADMSG;
	n = json_object_array_length(a);
	if (n == 0)
		return 0;
	d->targets = calloc(n, sizeof(*d->targets));
	if (!d->targets)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(a, i);
		int r;

		if (!json_object_is_type(t, json_type_object))
			return -EBADMSG;
		d->n_targets = i + 1; /* so clear() frees what was filled so far */
		r = get_string(t, "architecture", &d->targets[i].architecture);
		if (r < 0)
			return r;
		r = get_strv(t, "machines", &d->targets[i].machines);
		if (r < 0)
			return r;
	}
	return 0;
}

int fw_descriptor_parse(const char *json, size_t len, struct fw_descriptor *ret)
{
	_cleanup_(fw_descriptor_clearp) struct fw_descriptor d = { 0 };
	_cleanup_(tokener_freep) json_tokener *tok = NULL;
	_cleanup_json_ json_object *root = NULL;
	size_t end;
	int r;

	if (!json || !ret)
		return -EINVAL;
	if (len > FW_DESCRIPTOR_MAX)
		return -EFBIG;
	if (memchr(json, '\0', len))
		return -EBADMSG;

	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success)
		return -EBADMSG;
	/* One object and nothing after it but white space. */
	end = json_tokener_get_parse_end(tok);
	for (; end < len; end++)
		if (!strchr(" \t\r\n", json[end]))
			return -EBADMSG;
	if (!json_object_is_type(root, json_type_object))
		return -EBADMSG;

	r = get_strv(root, "interface-types", &d.interface_types);
	if (r < 0)
		return r;
	r = parse_mapping(root, &d);
	if (r < 0)
		return r;
	r = parse_targets(root, &d);
	if (r < 0)
		return r;
	r = get_strv(root, "features", &d.features);
	if (r < 0)
		return r;

	*ret = d;
	memset(&d, 0, sizeof(d));
	return 0;
}

static bool strv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (streq(*v, s))
			return true;
	return false;
}

/*
 * Descriptors list versioned machine types ("pc-q35-*"), while a profile usually says "q35", the
 * alias QEMU resolves to its newest pc-q35-X.Y. So the alias is tried as itself and as a
 * versioned name with a version newer than any release ("pc-q35-99.0"): a glob that accepts
 * every q35 version accepts it, one pinned to old versions ("pc-q35-2.*") does not, and
 * "pc-i440fx-*" never does. Same for "pc" → "pc-i440fx-99.0".
 */
static bool machine_matches(char *const *globs, const char *machine)
{
	const char *versioned = NULL;

	if (streq(machine, "q35"))
		versioned = "pc-q35-99.0";
	else if (streq(machine, "pc"))
		versioned = "pc-i440fx-99.0";

	for (; globs && *globs; globs++) {
		if (fnmatch(*globs, machine, 0) == 0)
			return true;
		if (versioned && fnmatch(*globs, versioned, 0) == 0)
			return true;
	}
	return false;
}

bool fw_descriptor_matches(const struct fw_descriptor *d, const struct fw_request *req,
			   const char **ret_why)
{
	const char *why = NULL;
	bool target = false;

	if (!d || !req || !req->arch || !req->machine)
		why = "invalid request";
	else if (!strv_contains(d->interface_types, "uefi"))
		why = "not UEFI";
	else if (!d->device || !streq(d->device, "flash"))
		why = "not mapped as flash";
	else if (d->mode && !streq(d->mode, "split"))
		why = "flash mode is not split";
	else if (!d->executable || !*d->executable)
		why = "no executable";
	else if (!d->nvram_template || !*d->nvram_template)
		why = "no NVRAM template";

	if (!why) {
		for (size_t i = 0; i < d->n_targets && !target; i++)
			target = d->targets[i].architecture &&
				 streq(d->targets[i].architecture, req->arch) &&
				 machine_matches(d->targets[i].machines, req->machine);
		if (!target)
			why = "no target for this architecture and machine";
	}

	if (!why) {
		bool sb = strv_contains(d->features, "secure-boot");
		bool keys = strv_contains(d->features, "enrolled-keys");

		if (req->secure_boot && !sb)
			why = "no secure boot";
		else if (req->secure_boot && !keys)
			why = "no enrolled keys";
		else if (!req->secure_boot && sb)
			why = "secure boot not wanted";
		else if (!req->secure_boot && keys)
			why = "enrolled keys not wanted";
	}

	if (why && ret_why)
		*ret_why = why;
	return !why;
}
