/* SPDX-License-Identifier: MIT */
/*
 * The system root: every file vmrun reads about the host goes through the directory fds
 * held here with *at() calls, so tests point the whole program at a fixture tree.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sysroot {
	char *path;  /* "/" on a real host */
	int root_fd; /* O_PATH|O_DIRECTORY on path */
	int sys_fd;  /* path/sys, -1 when absent */
	int proc_fd; /* path/proc, -1 when absent */
	int dev_fd;  /* path/dev, -1 when absent */
	int etc_fd;  /* path/etc, -1 when absent */
	int usr_fd;  /* path/usr, -1 when absent */
	int run_fd;  /* path/run, -1 when absent */
};

/* Attribute reads are capped; anything longer is malformed for sysfs. */
#define ATTR_MAX 4096

int sysroot_open(const char *path, struct sysroot **ret);
void sysroot_free(struct sysroot *s);
static inline void sysroot_freep(struct sysroot **s)
{
	sysroot_free(*s);
}

/*
 * Read a small attribute relative to dirfd: at most cap-1 bytes (else -EFBIG), NUL-terminated,
 * one trailing newline stripped, embedded NULs refused (-EBADMSG). Never follows a final
 * symlink out of the tree: O_NOFOLLOW is not used because sysfs attributes are regular files,
 * but the path must be relative and free of "..".
 */
int read_attr_at(int dirfd, const char *path, char *buf, size_t cap);
/* Parse "0x1234" / "1234" hex attribute with an exact size cap. */
int read_attr_hex_at(int dirfd, const char *path, unsigned long *ret);
int read_attr_ulong_at(int dirfd, const char *path, unsigned long *ret);

/*
 * readlinkat() + basename: for sysfs links like "driver" and "iommu_group". -ENOENT when the
 * link is absent. The target's last component must be a plain name (no "/" or "..").
 */
int read_link_name_at(int dirfd, const char *path, char *buf, size_t cap);

/*
 * Resolve a sysfs link relative to its directory and require that it stays under /sys
 * (e.g. ".../devices/pci0000:00/0000:00:01.0/0000:01:00.0" from bus/pci/devices/X).
 * ret gets the path relative to sys (without "/sys/"). -EXDEV when it escapes.
 */
int resolve_sys_link(const struct sysroot *s, const char *linkpath, char *buf, size_t cap);

/* opendir() relative to dirfd (-ENOENT when dirfd is -1): the DIR owns its own fd. */
#include <dirent.h>
int opendir_at(int dirfd, const char *path, DIR **ret);


/* "%s/%s" into a fixed buffer; -ENAMETOOLONG if it does not fit. */
int path_join(char *buf, size_t cap, const char *a, const char *b);
