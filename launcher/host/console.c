/* SPDX-License-Identifier: MIT */
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* fbcon is one of the vtconsole drivers; bound (bind 1), it owns the VTs. */
static int fbcon_bound(const struct sysroot *s, bool *ret)
{
	char name[64], bind[8], path[64];

	*ret = false;
	for (int i = 0; i < 8; i++) {
		int r;

		snprintf(path, sizeof(path), "class/vtconsole/vtcon%d/name", i);
		r = read_attr_at(s->sys_fd, path, name, sizeof(name));
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (!strstr(name, "frame buffer"))
			continue;
		snprintf(path, sizeof(path), "class/vtconsole/vtcon%d/bind", i);
		r = read_attr_at(s->sys_fd, path, bind, sizeof(bind));
		if (r < 0)
			return r;
		*ret |= streq(bind, "1");
	}
	return 0;
}

int console_on_nodes(const struct sysroot *s, const struct devnode_set *nodes, bool *ret)
{
	bool bound;
	int r = fbcon_bound(s, &bound);

	if (r < 0)
		return r;
	*ret = false;
	for (size_t j = 0; bound && j < nodes->n; j++)
		if (streq(nodes->v[j].path, "/dev/fb0"))
			*ret = true;
	return 0;
}
