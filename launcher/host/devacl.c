/* SPDX-License-Identifier: MIT */
#include "devacl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

/* The kernel's POSIX ACL xattr (include/uapi/linux/posix_acl_xattr.h), little-endian. */
#define ACL_XATTR "system.posix_acl_access"
#define ACL_VERSION 2
#define ACL_USER_OBJ 0x01
#define ACL_USER 0x02
#define ACL_GROUP_OBJ 0x04
#define ACL_GROUP 0x08
#define ACL_MASK 0x10
#define ACL_OTHER 0x20
#define ACL_UNDEFINED_ID 0xffffffffu
#define INPUT_MAJOR 13
#define MAX_ENTRIES 64

struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};

struct acl {
	struct acl_entry e[MAX_ENTRIES];
	size_t n;
};

int devacl_input_node(const struct sysroot *s, const char *path, char *rel, size_t cap, dev_t *rdev)
{
	char buf[PATH_MAX], *real;
	struct stat st;
	int fd;

	if (strncmp(path, "/dev/input/", 11) != 0 || strstr(path, "/.."))
		return -ENODEV;
	/* Resolved inside the sysroot, absolute links too (udev's are relative, ../eventN; an
	 * administrator's may be absolute), never through a /proc magic link. */
	fd = open_in_root(s->root_fd, path + 1, false);
	if (fd < 0)
		return fd;
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
	real = realpath(buf, NULL);
	if (fstat(fd, &st) < 0 || !real) {
		safe_close(fd);
		free(real);
		return -ENODEV;
	}
	safe_close(fd);
	const char *name = strrchr(real, '/');

	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != INPUT_MAJOR || !name ||
	    strncmp(name + 1, "event", 5) != 0) {
		free(real);
		return -ENODEV;
	}
	snprintf(rel, cap, "input/%s", name + 1);
	*rdev = st.st_rdev;
	free(real);
	return 0;
}

/* The *xattr calls go through the O_PATH fd's /proc link: the device is never opened. */
static void proc_path(int fd, char *buf, size_t cap)
{
	snprintf(buf, cap, "/proc/self/fd/%d", fd);
}

static int acl_read(int fd, const struct stat *st, struct acl *a)
{
	unsigned char buf[4 + MAX_ENTRIES * 8];
	char p[64];
	ssize_t n;

	proc_path(fd, p, sizeof(p));
	n = getxattr(p, ACL_XATTR, buf, sizeof(buf));

	a->n = 0;
	if (n < 0 && (errno == ENODATA || errno == ENOTSUP)) {
		/* No ACL: the three entries the mode is. */
		a->e[a->n++] = (struct acl_entry){ ACL_USER_OBJ, (st->st_mode >> 6) & 7, ACL_UNDEFINED_ID };
		a->e[a->n++] = (struct acl_entry){ ACL_GROUP_OBJ, (st->st_mode >> 3) & 7, ACL_UNDEFINED_ID };
		a->e[a->n++] = (struct acl_entry){ ACL_OTHER, st->st_mode & 7, ACL_UNDEFINED_ID };
		return errno == ENOTSUP ? -ENOTSUP : 0;
	}
	if (n < 4 || (n - 4) % 8 || buf[0] != ACL_VERSION)
		return -EBADMSG;
	for (ssize_t off = 4; off < n; off += 8) {
		struct acl_entry *e = &a->e[a->n++];

		e->tag = (uint16_t)(buf[off] | buf[off + 1] << 8);
		e->perm = (uint16_t)(buf[off + 2] | buf[off + 3] << 8);
		e->id = (uint32_t)buf[off + 4] | (uint32_t)buf[off + 5] << 8 |
			(uint32_t)buf[off + 6] << 16 | (uint32_t)buf[off + 7] << 24;
	}
	return 0;
}

static int cmp_entry(const void *x, const void *y)
{
	const struct acl_entry *a = x, *b = y;

	return a->tag != b->tag ? a->tag - b->tag : a->id < b->id ? -1 : a->id > b->id;
}

static struct acl_entry *find(struct acl *a, uint16_t tag, uint32_t id)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].tag == tag && (tag != ACL_USER && tag != ACL_GROUP ? true : a->e[i].id == id))
			return &a->e[i];
	return NULL;
}

/* The mask is the union of the group class (the owning group, named users and groups). */
static void fix_mask(struct acl *a, bool named)
{
	struct acl_entry *m = find(a, ACL_MASK, 0);
	uint16_t perm = 0;

	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].tag == ACL_USER || a->e[i].tag == ACL_GROUP || a->e[i].tag == ACL_GROUP_OBJ)
			perm |= a->e[i].perm;
	if (!named) {
		if (m) /* no named entry left: no mask either */
			*m = a->e[--a->n];
		return;
	}
	if (!m && a->n < MAX_ENTRIES)
		m = &a->e[a->n++];
	if (m)
		*m = (struct acl_entry){ ACL_MASK, perm, ACL_UNDEFINED_ID };
}

static int acl_write(int fd, struct acl *a)
{
	unsigned char buf[4 + MAX_ENTRIES * 8] = { ACL_VERSION, 0, 0, 0 };
	size_t off = 4;

	qsort(a->e, a->n, sizeof(a->e[0]), cmp_entry);
	for (size_t i = 0; i < a->n; i++, off += 8) {
		buf[off] = (unsigned char)a->e[i].tag;
		buf[off + 1] = (unsigned char)(a->e[i].tag >> 8);
		buf[off + 2] = (unsigned char)a->e[i].perm;
		buf[off + 3] = (unsigned char)(a->e[i].perm >> 8);
		for (int b = 0; b < 4; b++)
			buf[off + 4 + b] = (unsigned char)(a->e[i].id >> (8 * b));
	}
	char p[64];

	proc_path(fd, p, sizeof(p));
	return setxattr(p, ACL_XATTR, buf, off, 0) < 0 ? -errno : 0;
}

static bool has_named(const struct acl *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].tag == ACL_USER || a->e[i].tag == ACL_GROUP)
			return true;
	return false;
}

/* The node itself, not following a link: an O_PATH fd, on the device rdev (any when 0). */
static int open_node(const struct sysroot *s, const char *rel, dev_t rdev, struct stat *st)
{
	int fd = openat(s->dev_fd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISCHR(st->st_mode)) {
		safe_close(fd);
		return -ENODEV;
	}
	if (rdev && st->st_rdev != rdev) {
		safe_close(fd);
		return -ESTALE;
	}
	return fd;
}

int devacl_grant(const struct sysroot *s, const char *rel, dev_t rdev, uid_t uid)
{
	struct acl a;
	struct acl_entry *e;
	struct stat st;
	int fd = open_node(s, rel, rdev, &st), r;

	if (fd < 0)
		return fd;
	r = acl_read(fd, &st, &a);
	if (r == 0) {
		e = find(&a, ACL_USER, uid);
		if (!e && a.n < MAX_ENTRIES - 1)
			e = &a.e[a.n++];
		if (!e)
			r = -E2BIG;
		else
			*e = (struct acl_entry){ ACL_USER, 6, (uint32_t)uid };
	}
	if (r == 0) {
		fix_mask(&a, true);
		r = acl_write(fd, &a);
	}
	safe_close(fd);
	return r;
}

int devacl_revoke(const struct sysroot *s, const char *rel, dev_t rdev, uid_t uid)
{
	struct acl a;
	struct acl_entry *e, *g;
	struct stat st;
	int fd = open_node(s, rel, rdev, &st), r;

	/* Unplugged, or the name is another device now: the entry went with the node. */
	if (fd == -ENOENT || fd == -ESTALE)
		return 0;
	if (fd < 0)
		return fd;
	r = acl_read(fd, &st, &a);
	if (r == 0 && (e = find(&a, ACL_USER, uid))) {
		*e = a.e[--a.n];
		if (has_named(&a)) {
			fix_mask(&a, true);
			r = acl_write(fd, &a);
		} else {
			/* Back to a plain mode, whose group bits are the owning group's, not the mask. */
			char p[64];

			g = find(&a, ACL_GROUP_OBJ, 0);
			proc_path(fd, p, sizeof(p));
			r = removexattr(p, ACL_XATTR) < 0 && errno != ENODATA ? -errno : 0;
			if (!r && g && chmod(p, (st.st_mode & 07777 & ~(mode_t)070) | (mode_t)(g->perm << 3)) < 0)
				r = -errno;
		}
	}
	safe_close(fd);
	return r;
}

bool devacl_has(const struct sysroot *s, const char *rel, uid_t uid)
{
	struct acl a;
	struct stat st;
	int fd = open_node(s, rel, 0, &st);
	bool has;

	if (fd < 0)
		return false;
	has = acl_read(fd, &st, &a) == 0 && find(&a, ACL_USER, uid);
	safe_close(fd);
	return has;
}
