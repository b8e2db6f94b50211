/* SPDX-License-Identifier: MIT */
/*
 * A profile's errors: where (line, dotted key) and what, one line each, with the user's own text
 * quoted harmlessly.
 */
#include "profile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "profload.h"

int pfail(struct load_ctx *c, unsigned line, const char *key, const char *fmt, ...)
{
	va_list ap;

	c->err.line = line;
	copy_str(c->err.key, sizeof(c->err.key), key);
	va_start(ap, fmt);
	(void)vsnprintf(c->err.message, sizeof(c->err.message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int pfail_errno(struct load_ctx *c, int r)
{
	c->err.line = 0;
	c->err.key[0] = '\0';
	copy_str(c->err.message, sizeof(c->err.message), strerror(-r));
	return r;
}

/* User text inside a message: shortened, and never a control character that could fool a terminal. */
const char *pquote(const char *s, char *buf, size_t cap)
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
