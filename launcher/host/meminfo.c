/* SPDX-License-Identifier: MIT */
#include "meminfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "util.h"

/* "KEY:   N kB" in text, in bytes; 0 when it is not there. */
static uint64_t field(const char *text, const char *key)
{
	const char *at = strstr(text, key);
	unsigned long long kib;

	if (!at || sscanf(at + strlen(key), " %llu kB", &kib) != 1)
		return 0;
	return (uint64_t)kib << 10;
}

int meminfo_read(const struct sysroot *s, struct meminfo *ret)
{
	_cleanup_free_ char *text = NULL;
	int r;

	if (s->proc_fd < 0)
		return -ENOENT;
	r = read_file_at(s->proc_fd, "meminfo", 1 << 16, READ_TRUNCATE, &text, NULL, NULL);
	if (r < 0)
		return r;
	ret->total = field(text, "MemTotal:");
	ret->available = field(text, "MemAvailable:");
	return ret->total ? 0 : -EBADMSG;
}
