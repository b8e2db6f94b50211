/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "sysroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "names.h"
#include "util.h"

static int open_subdir(int root_fd, const char *name)
{
	int fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -1 : fd;
}

int sysroot_open(const char *path, struct sysroot **ret)
{
	struct sysroot *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->path = strdup(path);
	s->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!s->path || s->root_fd < 0) {
		int r = s->path ? -errno : -ENOMEM;

		sysroot_free(s);
		return r;
	}
	s->sys_fd = open_subdir(s->root_fd, "sys");
	s->proc_fd = open_subdir(s->root_fd, "proc");
	s->dev_fd = open_subdir(s->root_fd, "dev");
	s->etc_fd = open_subdir(s->root_fd, "etc");
	s->usr_fd = open_subdir(s->root_fd, "usr");
	s->run_fd = open_subdir(s->root_fd, "run");
	*ret = s;
	return 0;
}

void sysroot_free(struct sysroot *s)
{
	if (!s)
		return;
	safe_close(s->root_fd);
	safe_close(s->sys_fd);
	safe_close(s->proc_fd);
	safe_close(s->dev_fd);
	safe_close(s->etc_fd);
	safe_close(s->usr_fd);
	safe_close(s->run_fd);
	free(s->path);
	free(s);
}

int opendir_at(int dirfd, const char *path, DIR **ret)
{
	DIR *d;
	int fd;

	if (dirfd < 0)
		return -ENOENT;
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int r = -errno;

		safe_close(fd);
		return r;
	}
	*ret = d;
	return 0;
}

static bool relpath_is_safe(const char *p)
{
	const char *c = p;

	if (!p || !*p || *p == '/')
		return false;
	while (c) {
		const char *next = strchr(c, '/');
		size_t n = next ? (size_t)(next - c) : strlen(c);

		if (n == 0 || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c = next ? next + 1 : NULL;
	}
	return true;
}

int path_join(char *buf, size_t cap, const char *a, const char *b)
{
	int n = snprintf(buf, cap, "%s/%s", a, b);

	return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

int read_attr_at(int dirfd, const char *path, char *buf, size_t cap)
{
	_cleanup_close_ int fd = -1;
	size_t len = 0;
	ssize_t n;

	if (cap < 2 || !relpath_is_safe(path))
		return -EINVAL;
	if (dirfd < 0)
		return -ENOENT;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	/* Read up to cap bytes: filling the buffer means the attribute is too long for it. */
	n = read_full(fd, buf, cap);
	if (n < 0)
		return (int)n;
	len = (size_t)n;
	if (len == cap)
		return -EFBIG;
	if (memchr(buf, '\0', len))
		return -EBADMSG;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	return (int)len;
}

/* A number attribute: digits only (the base's, after an optional 0x for 16), nothing else. */
static int read_attr_number_at(int dirfd, const char *path, int base, unsigned long *ret)
{
	char buf[32], *end;
	unsigned long v;
	int r;

	r = read_attr_at(dirfd, path, buf, sizeof(buf));
	if (r < 0)
		return r;
	if (buf[0] == '-' || buf[0] == '+' || buf[0] == ' ' || buf[0] == '\0' ||
	    (base == 10 && (buf[0] < '0' || buf[0] > '9')))
		return -EBADMSG;
	errno = 0;
	v = strtoul(buf, &end, base);
	if (errno || *end)
		return -EBADMSG;
	*ret = v;
	return 0;
}

int read_attr_hex_at(int dirfd, const char *path, unsigned long *ret)
{
	return read_attr_number_at(dirfd, path, 16, ret);
}

int read_attr_ulong_at(int dirfd, const char *path, unsigned long *ret)
{
	return read_attr_number_at(dirfd, path, 10, ret);
}

int read_link_name_at(int dirfd, const char *path, char *buf, size_t cap)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t n;

	if (!relpath_is_safe(path))
		return -EINVAL;
	if (dirfd < 0)
		return -ENOENT;
	n = readlinkat(dirfd, path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!name_is_safe(base))
		return -EBADMSG;
	if (strlen(base) >= cap)
		return -ENAMETOOLONG;
	strcpy(buf, base);
	return 0;
}

/* Fold a relative link target onto the directory it lives in, refusing to climb above "". */
static int fold_path(char *dir, size_t cap, const char *target)
{
	const char *c = target;

	while (*c) {
		const char *next = strchr(c, '/');
		size_t n = next ? (size_t)(next - c) : strlen(c);

		if (n == 0 || (n == 1 && c[0] == '.')) {
			/* skip */
		} else if (n == 2 && c[0] == '.' && c[1] == '.') {
			char *slash = strrchr(dir, '/');

			if (!*dir)
				return -EXDEV; /* climbed out of /sys */
			if (slash)
				*slash = '\0';
			else
				*dir = '\0';
		} else {
			size_t len = strlen(dir);

			if (len + 1 + n + 1 > cap)
				return -ENAMETOOLONG;
			if (len)
				dir[len++] = '/';
			memcpy(dir + len, c, n);
			dir[len + n] = '\0';
		}
		c = next ? next + 1 : c + n;
	}
	return 0;
}

int resolve_sys_link(const struct sysroot *s, const char *linkpath, char *buf, size_t cap)
{
	char target[PATH_MAX], dir[PATH_MAX];
	char *slash;
	ssize_t n;
	int r;

	if (!relpath_is_safe(linkpath) || s->sys_fd < 0)
		return s->sys_fd < 0 ? -ENOENT : -EINVAL;
	n = readlinkat(s->sys_fd, linkpath, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	/* Absolute targets never appear in sysfs; one that does is hostile. */
	if (target[0] == '/')
		return -EXDEV;
	if (strlen(linkpath) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, linkpath);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	r = fold_path(dir, sizeof(dir), target);
	if (r < 0)
		return r;
	if (!*dir)
		return -EXDEV;
	if (strlen(dir) >= cap)
		return -ENAMETOOLONG;
	strcpy(buf, dir);
	return 0;
}
