/* SPDX-License-Identifier: MIT */
#include "allow.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "util.h"

/* libcyaml's view of the file; converted to struct allow_list after validation. */
struct raw_entry {
	char *device;
	char *input;
	char *hugepages;
	char **users;
	unsigned users_count;
	char **groups;
	unsigned groups_count;
};

static const cyaml_schema_value_t name_schema = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};

static const cyaml_schema_field_t entry_fields[] = {
	CYAML_FIELD_STRING_PTR("device", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_entry,
			       device, 1, 64),
	CYAML_FIELD_STRING_PTR("input", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_entry,
			       input, 1, 255),
	CYAML_FIELD_STRING_PTR("hugepages", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			       struct raw_entry, hugepages, 1, 24),
	CYAML_FIELD_SEQUENCE("users", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_entry,
			     users, &name_schema, 0, ALLOW_MAX_NAMES),
	CYAML_FIELD_SEQUENCE("groups", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_entry,
			     groups, &name_schema, 0, ALLOW_MAX_NAMES),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t entry_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_entry, entry_fields),
};

static const cyaml_schema_value_t top_schema = {
	CYAML_VALUE_SEQUENCE(CYAML_FLAG_POINTER, struct raw_entry, &entry_schema, 0, ALLOW_MAX_ENTRIES),
};

struct log_ctx {
	char *err;
	size_t len;
};

/* Keep libcyaml's first error line as the reason; nothing reaches stderr. */
static void cyaml_logger(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct log_ctx *lc = ctx;
	char line[256];

	if (level < CYAML_LOG_ERROR || !lc || lc->err[0])
		return;
	vsnprintf(line, sizeof(line), fmt, args);
	line[strcspn(line, "\n")] = '\0';
	snprintf(lc->err, lc->len, "%s", line);
}

static bool user_name_ok(const char *s)
{
	/* The characters useradd accepts; anything else cannot match a real account. */
	return s[0] && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-$") == strlen(s);
}

static char **copy_names(char **src, unsigned n, const char *what, char *err, size_t errlen)
{
	char **v = calloc(n + 1, sizeof(*v));

	for (unsigned i = 0; v && i < n; i++) {
		if (!user_name_ok(src[i])) {
			snprintf(err, errlen, "'%s' is not a valid %s name", src[i], what);
			strv_free(v);
			return NULL;
		}
		v[i] = strdup(src[i]);
		if (!v[i]) {
			strv_free(v);
			return NULL;
		}
	}
	if (!v)
		snprintf(err, errlen, "out of memory");
	return v;
}

/* One entry, validated; its names copied. -EINVAL with the reason ("entry N: ..."). */
static int convert_entry(const struct raw_entry *raw, unsigned i, struct allow_entry *a, char *err,
			 size_t errlen)
{
	if (!raw->device == !raw->input)
		return snprintf(err, errlen, "entry %u: give a device (a PCI address) or an input "
				"(/dev/input/...), exactly one", i + 1), -EINVAL;
	if (raw->device && pci_addr_parse(raw->device, &a->device) < 0)
		return snprintf(err, errlen, "entry %u: '%s' is not a PCI address", i + 1,
				raw->device), -EINVAL;
	a->has_device = raw->device != NULL;
	if (raw->input && (strncmp(raw->input, "/dev/input/", 11) != 0 ||
			   strstr(raw->input, "/..") || !(a->input = strdup(raw->input))))
		return snprintf(err, errlen, "entry %u: input '%s' is not a path under /dev/input/",
				i + 1, raw->input), -EINVAL;
	if (raw->hugepages && (allow_parse_size(raw->hugepages, &a->hugepages) < 0 || !a->hugepages))
		return snprintf(err, errlen, "entry %u: hugepages '%s' is not a size like 16G or 512M",
				i + 1, raw->hugepages), -EINVAL;
	a->users = copy_names(raw->users, raw->users_count, "user", err, errlen);
	a->groups = a->users ? copy_names(raw->groups, raw->groups_count, "group", err, errlen) : NULL;
	return a->users && a->groups ? 0 : -EINVAL;
}

/* Nothing but blank lines and "#" comments. */
static bool only_comments(const char *text, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t line = i, end;

		while (i < len && text[i] != '\n')
			i++;
		end = i++;
		while (line < end && (text[line] == ' ' || text[line] == '\t' || text[line] == '\r'))
			line++;
		if (line < end && text[line] != '#')
			return false;
	}
	return true;
}

int allow_parse(const char *text, size_t len, struct allow_list *ret, char *err, size_t errlen)
{
	struct log_ctx lc = { err, errlen };
	const cyaml_config_t cfg = { .log_fn = cyaml_logger, .log_ctx = &lc, .mem_fn = cyaml_mem,
				     .log_level = CYAML_LOG_ERROR, .flags = CYAML_CFG_DEFAULT };
	struct allow_list l = { 0 };
	struct raw_entry *raw = NULL;
	unsigned n = 0;
	cyaml_err_t e;
	int r = 0;

	err[0] = '\0';
	if (only_comments(text, len)) {
		*ret = l; /* an empty file allows nothing; so does one of comments only (as packaged) */
		return 0;
	}
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "contains a NUL byte");
		return -EINVAL;
	}
	e = cyaml_load_data((const uint8_t *)text, len, &cfg, &top_schema, (cyaml_data_t **)&raw, &n);
	if (e != CYAML_OK) {
		if (!err[0])
			snprintf(err, errlen, "%s", cyaml_strerror(e));
		return -EINVAL;
	}
	l.v = calloc(n ? n : 1, sizeof(*l.v));
	for (unsigned i = 0; l.v && i < n && !r; i++, l.n++)
		r = convert_entry(&raw[i], i, &l.v[i], err, errlen);
	if (!l.v)
		r = -ENOMEM;
	cyaml_free(&cfg, &top_schema, raw, n);
	if (r < 0) {
		allow_list_clear(&l);
		return r;
	}
	*ret = l;
	return 0;
}

void allow_list_clear(struct allow_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		strv_free(l->v[i].users);
		strv_free(l->v[i].groups);
		free(l->v[i].input);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool root_only(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int allow_load(int dir_fd, const char *name, struct allow_list *ret, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct stat dst, fst;
	size_t len = 0;
	int n;

	if (fstat(dir_fd, &dst) < 0)
		return snprintf(err, errlen, "cannot stat its directory: %s", strerror(errno)), -errno;
	if (!root_only(&dst))
		return snprintf(err, errlen, "its directory is writable by someone other than root"), -EPERM;
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return snprintf(err, errlen, "%s", errno == ELOOP ? "it is a symlink" : strerror(errno)), -errno;
	if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode))
		return snprintf(err, errlen, "it is not a regular file"), -EPERM;
	if (!root_only(&fst))
		return snprintf(err, errlen, "it is writable by someone other than root (or not owned "
				"by root)"), -EPERM;
	if (fst.st_size > ALLOW_MAX_SIZE)
		return snprintf(err, errlen, "it is larger than %d bytes", ALLOW_MAX_SIZE), -EFBIG;
	n = read_fd(fd, ALLOW_MAX_SIZE, 0, &buf, &len);
	if (n < 0)
		return snprintf(err, errlen, "cannot read it: %s", strerror((int)-n)), (int)n;
	return allow_parse(buf, len, ret, err, errlen);
}

bool allow_entry_permits(const struct allow_entry *e, const char *user, const char *const *groups)
{
	for (char **u = e->users; u && *u; u++)
		if (streq(*u, user))
			return true;
	for (char **g = e->groups; g && *g; g++)
		for (const char *const *mine = groups; mine && *mine; mine++)
			if (streq(*g, *mine))
				return true;
	return false;
}

uint64_t allow_hugepages_quota(const struct allow_list *l, const char *user,
			       const char *const *groups)
{
	uint64_t max = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].hugepages > max && allow_entry_permits(&l->v[i], user, groups))
			max = l->v[i].hugepages;
	return max;
}

int allow_parse_size(const char *text, uint64_t *ret)
{
	static const char units[] = "KMGT";
	unsigned long long n;
	const char *u;
	char *end;

	if (!text || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		if (end[1] || !(u = strchr(units, *end)))
			return -EINVAL;
		for (const char *p = units; p <= u; p++) {
			if (n > (UINT64_MAX >> 10))
				return -EINVAL;
			n <<= 10;
		}
	}
	*ret = n;
	return 0;
}
