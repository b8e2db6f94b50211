/* SPDX-License-Identifier: MIT */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int read_fd(int fd, size_t cap, unsigned flags, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = malloc(cap + 2);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	/* One byte past the cap tells "too large" apart from "exactly the cap". */
	n = read_full(fd, buf, cap + 1);
	if (n < 0)
		return (int)n;
	if ((size_t)n > cap) {
		if (!(flags & READ_TRUNCATE))
			return -EFBIG;
		n = (ssize_t)cap;
	}
	buf[n] = '\0';
	if ((flags & READ_TEXT) && memchr(buf, '\0', (size_t)n))
		return -EBADMSG;
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = (size_t)n;
	return 0;
}

int read_file_at(int dirfd, const char *path, size_t cap, unsigned flags, char **ret,
		 size_t *ret_len, struct stat *ret_st)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (dirfd < 0 && dirfd != AT_FDCWD)
		return -ENOENT; /* a root without that directory (a test tree) */
	/* O_NONBLOCK: a FIFO planted where a file should be must not hang us before fstat. */
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
			(flags & READ_REGULAR ? O_NOFOLLOW | O_NONBLOCK : 0));
	if (fd < 0)
		return -errno;
	if ((flags & READ_REGULAR || ret_st) && fstat(fd, &st) < 0)
		return -errno;
	if ((flags & READ_REGULAR) && !S_ISREG(st.st_mode))
		return -EINVAL;
	if ((flags & READ_REGULAR) && (uint64_t)st.st_size > cap && !(flags & READ_TRUNCATE))
		return -EFBIG;
	r = read_fd(fd, cap, flags, ret, ret_len);
	if (r == 0 && ret_st)
		*ret_st = st;
	return r;
}

/* ".NAME.vmrun-PID.tmp" beside path (which may have directories in it). */
static int temp_name(const char *path, char *buf, size_t cap)
{
	const char *slash = strrchr(path, '/');
	int dlen = slash ? (int)(slash - path + 1) : 0;
	int n = snprintf(buf, cap, "%.*s.%s.vmrun-%d.tmp", dlen, path, slash ? slash + 1 : path,
			 (int)getpid());

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* The directory holding path, for the fsync that makes the rename itself durable. */
static void fsync_parent(int dirfd, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd;

	if (!slash) {
		(void)fsync(dirfd);
		return;
	}
	if ((size_t)(slash - path) >= sizeof(dir))
		return;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = openat(dirfd, dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		safe_close(fd);
	}
}

int write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
			 uid_t uid, gid_t gid)
{
	char tmp[4096];
	int fd, r;

	r = temp_name(path, tmp, sizeof(tmp));
	if (r < 0)
		return r;
	(void)unlinkat(dirfd, tmp, 0); /* left by a crashed earlier run with our pid */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (!r && uid != (uid_t)-1 && geteuid() == 0 && fchown(fd, uid, gid) < 0)
		r = -errno;
	if (!r && fchmod(fd, mode) < 0)
		r = -errno;
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && renameat(dirfd, tmp, dirfd, path) < 0)
		r = -errno;
	if (r)
		(void)unlinkat(dirfd, tmp, 0);
	else
		fsync_parent(dirfd, path);
	return r;
}

int open_in_root(int root_fd, const char *rel, bool same_mount)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
					   (same_mount ? RESOLVE_NO_XDEV : 0) };
	int fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));

	/* Before Linux 5.6 there is no openat2: the callers' checks on the result still hold. */
	if (fd < 0 && errno == ENOSYS)
		fd = openat(root_fd, rel, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
