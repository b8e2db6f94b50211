/* SPDX-License-Identifier: MIT */
/* The value of every scalar: enums, booleans, numbers, sizes, ids, option strings. */
#include "profload.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Every scalar goes through here: absent → 0 with *ret NULL (the caller keeps its default);
 * written but empty ("key:" or "key: ~") → an error, since libcyaml would hand us the text "~".
 */
int val_scalar(struct load_ctx *c, const char *path, const char *v, const char **ret)
{
	const struct pos_entry *e;

	*ret = NULL;
	if (!v)
		return 0;
	e = posindex_find(&c->idx, path);
	if (e && e->null)
		return pfail(c, e->value_line, path, "expected a value, got nothing");
	*ret = v;
	return 0;
}

/* libcyaml enforces required keys; this keeps a schema slip from becoming a NULL dereference. */
int val_required(struct load_ctx *c, const char *path, const char *v, const char **ret)
{
	int r = val_scalar(c, path, v, ret);

	if (r == 0 && !*ret)
		return pfail(c, posindex_line(c, path, false), path, "required key is missing");
	return r;
}

int val_enum(struct load_ctx *c, const char *path, const char *v, const char *const *names,
		    size_t n, unsigned *ret)
{
	char list[128] = "";
	const char *s, *near;
	int r = val_scalar(c, path, v, &s);

	if (r < 0 || !s)
		return r;
	for (size_t i = 0; i < n; i++) /* a NULL name: a value only the default has */
		if (names[i] && streq(s, names[i])) {
			*ret = (unsigned)i;
			return 0;
		}
	for (size_t i = 0, o = 0; i < n && o < sizeof(list); i++)
		if (names[i])
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "",
					      names[i]);
	near = hint_closest(s, names, n);
	if (near)
		return pfail(c, posindex_line(c, path, true), path, "expected one of %s, got %s; did you "
			     "mean \"%s\"?", list, QUOTE(s), near);
	return pfail(c, posindex_line(c, path, true), path, "expected one of %s, got %s", list, QUOTE(s));
}

/* YAML 1.2 booleans only: YAML 1.1's yes/no/on/off surprise people ("NO" for Norway). */
int val_bool(struct load_ctx *c, const char *path, const char *v, bool *ret)
{
	const char *s;
	int r = val_scalar(c, path, v, &s);

	if (r < 0 || !s)
		return r;
	if (streq(s, "true") || streq(s, "false")) {
		*ret = streq(s, "true");
		return 0;
	}
	return pfail(c, posindex_line(c, path, true), path, "expected true or false, got %s", QUOTE(s));
}

int val_uint(struct load_ctx *c, const char *path, const char *v, unsigned min, unsigned max,
		    unsigned *ret)
{
	unsigned long long n = 0;
	const char *s;
	int r = val_scalar(c, path, v, &s);

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
		return pfail(c, posindex_line(c, path, true), path,
			    "expected a whole number from %u to %u, got %s", min, max, QUOTE(s));
	*ret = (unsigned)n;
	return 0;
}

/* Text that lands inside a QEMU option string ("-drive file=PATH,format=raw"). */
int val_option_string(struct load_ctx *c, const char *path, const char *v, const char **ret)
{
	const char *s;
	int r = val_scalar(c, path, v, &s);

	*ret = NULL;
	if (r < 0 || !s)
		return r;
	if (!s[0])
		return pfail(c, posindex_line(c, path, true), path, "must not be empty");
	/* QEMU would read a comma as the start of the next option; doubling it is too subtle. */
	if (strchr(s, ','))
		return pfail(c, posindex_line(c, path, true), path,
			    "must not contain ',' (it would split the QEMU option), got %s", QUOTE(s));
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return pfail(c, posindex_line(c, path, true), path,
				    "must not contain control characters");
	*ret = s;
	return 0;
}

int val_path(struct load_ctx *c, const char *path, const char *v, bool in_option, char **ret)
{
	const char *s;
	int r = in_option ? val_option_string(c, path, v, &s) : val_scalar(c, path, v, &s);

	*ret = NULL;
	if (r < 0 || !s)
		return r;
	if (!s[0])
		return pfail(c, posindex_line(c, path, true), path, "must not be empty");
	if (s[0] == '/')
		return val_dup(c, s, ret);
	while (startswith(s, "./"))
		s += 2;
	/* Relative to the profile, not to wherever vmrun was started from. */
	if (in_option && strchr(c->base_dir, ','))
		return pfail(c, posindex_line(c, path, true), path, "is relative, and the profile's "
			     "directory %s has a ',' QEMU cannot take: give an absolute path",
			     QUOTE(c->base_dir));
	if (asprintf(ret, "%s/%s", c->base_dir, s) < 0) {
		*ret = NULL;
		return pfail_errno(c, -ENOMEM);
	}
	return 0;
}

int val_memory_size(const char *s, uint64_t *ret)
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
int val_usb_id(const char *s, uint16_t *ret)
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

/* xx:xx:xx:xx:xx:xx, and unicast: a multicast source address would be dropped by the bridge. */
int val_mac(const char *s, char ret[static 18])
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

int val_dup(struct load_ctx *c, const char *s, char **ret)
{
	char *d;

	if (!s)
		return 0;
	d = strdup(s);
	if (!d)
		return pfail_errno(c, -ENOMEM);
	*ret = d;
	return 0;
}
