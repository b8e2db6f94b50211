/* SPDX-License-Identifier: MIT */
#include "program.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool program_find(const char *name, char *buf, size_t cap)
{
	const char *path = getenv("PATH");
	char tmp[PATH_MAX];

	if (!name || !*name)
		return false;
	if (strchr(name, '/')) {
		if (access(name, X_OK) < 0)
			return false;
		if (buf)
			snprintf(buf, cap, "%s", name);
		return true;
	}
	for (const char *p = path && *path ? path : "/usr/bin:/bin"; p && *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);

		if (n && (size_t)snprintf(tmp, sizeof(tmp), "%.*s/%s", (int)n, p, name) < sizeof(tmp) &&
		    access(tmp, X_OK) == 0) {
			if (buf)
				snprintf(buf, cap, "%s", tmp);
			return true;
		}
		p = colon ? colon + 1 : NULL;
	}
	return false;
}
