/* SPDX-License-Identifier: MIT */
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_FB 32 /* the kernel's FB_MAX */

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

/* "/dev/fb3" -> 3; -1 for any other node. */
static int fb_of_node(const char *path)
{
	char *end;
	long n;

	if (strncmp(path, "/dev/fb", 7) != 0 || path[7] < '0' || path[7] > '9')
		return -1;
	n = strtol(path + 7, &end, 10);
	return *end || n >= MAX_FB ? -1 : (int)n;
}

/* The device a registered framebuffer belongs to: -ENOENT when fbN is not registered. */
static int fb_device(const struct sysroot *s, int fb, char *buf, size_t cap)
{
	char path[64];

	snprintf(path, sizeof(path), "class/graphics/fb%d/device", fb);
	return read_link_name_at(s->sys_fd, path, buf, cap);
}

int console_plan(const struct sysroot *s, const struct kernel_ops *k, const struct devnode_set *nodes,
		 struct console_move *ret)
{
	bool ours[MAX_FB] = { false }, any = false, bound;
	int r = fbcon_bound(s, &bound);

	memset(ret, 0, sizeof(*ret));
	ret->to_fb = -1;
	if (r < 0)
		return r;
	for (size_t i = 0; bound && i < nodes->n; i++) {
		int fb = fb_of_node(nodes->v[i].path);

		if (fb >= 0) {
			ours[fb] = any = true;
			if (!ret->from_dev[0])
				(void)fb_device(s, fb, ret->from_dev, sizeof(ret->from_dev));
		}
	}
	if (!any)
		return 0;
	for (unsigned c = 1; c <= CONSOLE_MAX; c++) {
		int fb = -1;

		r = k->con2fb_get(k->data, s, c, &fb);
		/* A user cannot open /dev/fb* (nor can anyone read a node that is no framebuffer's,
		 * as in a test's tree): the kernel's default map is assumed, every console on fb0,
		 * the first framebuffer fbcon took; the switch itself, as root, reads the real one. */
		if (r == -EACCES || r == -EPERM || r == -ENOTTY) {
			fb = 0;
			r = 0;
		}
		if (r < 0)
			return r;
		if (fb >= 0 && fb < MAX_FB && ours[fb]) {
			ret->v[ret->n].console = (unsigned char)c;
			ret->v[ret->n++].fb = (unsigned char)fb;
		}
	}
	ret->needed = ret->n > 0;
	for (int fb = 0; ret->needed && fb < MAX_FB && ret->to_fb < 0; fb++)
		if (!ours[fb] && fb_device(s, fb, ret->to_dev, sizeof(ret->to_dev)) == 0)
			ret->to_fb = fb;
	return 0;
}

static int move_all(const struct sysroot *s, const struct kernel_ops *k, const struct console_move *m,
		    int to, char *why, size_t cap)
{
	for (size_t i = 0; i < m->n; i++) {
		int now = -1, r = k->con2fb_set(k->data, s, m->v[i].console, to);

		if (r == 0)
			r = k->con2fb_get(k->data, s, m->v[i].console, &now);
		if (r == 0 && now != to)
			r = -EIO;
		if (r < 0) {
			snprintf(why, cap, "console %u would not move to fb%d: %s", m->v[i].console, to,
				 r == -EIO ? "it is still elsewhere" : strerror(-r));
			return r;
		}
	}
	return 0;
}

int console_move_away(const struct sysroot *s, const struct kernel_ops *k,
		      const struct console_move *m, char *why, size_t cap)
{
	if (m->to_fb < 0) {
		snprintf(why, cap, "no framebuffer to move the text console to");
		return -ENODEV;
	}
	return move_all(s, k, m, m->to_fb, why, cap);
}

int console_move_back(const struct sysroot *s, const struct kernel_ops *k,
		      const struct console_move *m, unsigned wait_ms, int *ret_fb, char *why,
		      size_t cap)
{
	/* Its driver registers the framebuffer as it probes, or a moment after. */
	for (unsigned waited = 0;; waited += 100) {
		for (int fb = 0; fb < MAX_FB; fb++) {
			char dev[64];

			if (fb_device(s, fb, dev, sizeof(dev)) == 0 && streq(dev, m->from_dev)) {
				*ret_fb = fb;
				return move_all(s, k, m, fb, why, cap);
			}
		}
		if (waited >= wait_ms)
			break;
		k->sleep_ms(k->data, 100);
	}
	snprintf(why, cap, "%s has no framebuffer now", m->from_dev);
	return -ENOENT;
}

void console_list_text(const struct console_move *m, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < m->n && len < cap;) {
		size_t j = i;

		while (j + 1 < m->n && m->v[j + 1].console == m->v[j].console + 1)
			j++;
		if (j > i)
			len += (size_t)snprintf(buf + len, cap - len, "%s%u-%u", i ? "," : "",
						m->v[i].console, m->v[j].console);
		else
			len += (size_t)snprintf(buf + len, cap - len, "%s%u", i ? "," : "",
						m->v[i].console);
		i = j + 1;
	}
}
