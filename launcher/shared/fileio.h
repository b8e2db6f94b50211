/* SPDX-License-Identifier: MIT */
/*
 * Files: whole reads with a size cap, whole writes, and atomic replacement. Every file vmrun
 * reads whole (profiles, journals, descriptors, /proc texts, the allow file, setup's targets)
 * and every file it replaces (journals, vm.json, setup's edits, desktop entries) goes through
 * here, with the same rules.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Read until len bytes or end of file: the byte count, or -errno. Retries EINTR. */
ssize_t read_full(int fd, void *buf, size_t len);
/* Write all of buf: 0, or -errno (-EIO when the fd stops taking bytes). Retries EINTR. */
int write_all(int fd, const void *buf, size_t len);

enum read_flags {
	READ_REGULAR = 1 << 0,  /* only a regular file: a symlink is -ELOOP (O_NOFOLLOW), a
	                         * directory, FIFO or device -EINVAL */
	READ_TEXT = 1 << 1,     /* an embedded NUL byte is -EBADMSG */
	READ_TRUNCATE = 1 << 2, /* a longer file is cut at cap bytes (for /proc texts); without
	                         * it, more than cap bytes is -EFBIG */
};

/*
 * The whole file dirfd/path, at most cap bytes, in a malloc'd buffer with a NUL after the
 * content. ret_len and ret_st (the opened file's fstat) are optional. Nothing is returned on
 * failure. dirfd may be AT_FDCWD; -ENOENT when it is -1 (a root without that directory).
 */
int read_file_at(int dirfd, const char *path, size_t cap, unsigned flags, char **ret,
		 size_t *ret_len, struct stat *ret_st);
/* The same on an open fd, read from its current offset. */
int read_fd(int fd, size_t cap, unsigned flags, char **ret, size_t *ret_len);

/*
 * An O_PATH fd of root_fd/rel resolved inside root_fd (an absolute symlink stays in it, ".."
 * stops at it), never through a /proc magic link; with same_mount, never into another mount
 * (a path a user chose cannot lead into a filesystem the user serves). -errno.
 */
int open_in_root(int root_fd, const char *rel, bool same_mount);

/*
 * Replace dirfd/path with data, atomically: a crash leaves the old file or the new one, never
 * half of either. The data goes to a temporary file beside it (".NAME.vmrun-PID.tmp", which
 * no ".conf", ".rules", ".json" or ".desktop" glob matches), is fsync'd, gets mode (after
 * the owner, which may clear set-id bits) and, when uid is not -1 and we are root, uid:gid,
 * and is renamed over path; then the directory is fsync'd. The temporary file never survives
 * a failure. 0 or -errno.
 */
int write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
			 uid_t uid, gid_t gid);
