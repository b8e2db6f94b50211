/* SPDX-License-Identifier: MIT */
/*
 * A VM's runtime and state directories, held as directory fds: opened once, their owner and
 * mode verified, and everything inside (the instance lock, vm.json, QEMU's log, the NVRAM)
 * reached with *at() calls, so nobody can swap a directory under the run. vm.json describes
 * a run for `vmrun status` and `vmrun stop`.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define VM_MAX_GROUPS 8

struct vm_info {
	char name[65];
	pid_t pid;       /* the supervising vmrun */
	pid_t qemu_pid;  /* 0 before QEMU starts */
	int64_t started; /* epoch seconds */
	int groups[VM_MAX_GROUPS];
	size_t n_groups;
	char profile[4096];
	char looking_glass[256]; /* the shared memory file for the Looking Glass client, or "" */
};

/*
 * Open path as a VM directory: with create, missing parents are made 0755 and the directory
 * itself 0700. It must be a directory (not a symlink), ours, and writable by nobody else:
 * -ENOTDIR, -ELOOP, -EPERM otherwise (why, when given, says which in a few words).
 */
int vm_dir_open(const char *path, bool create, int *ret_fd, const char **why);

/* The instance lock in the directory (flock on "lock"): -EBUSY when another vmrun holds it. */
int vm_lock(int dirfd, int *ret_fd);
/* Is the lock held by someone (a running vmrun)? */
bool vm_is_running(int dirfd);
int vm_info_write(int dirfd, const struct vm_info *vi);
int vm_info_read(int dirfd, struct vm_info *ret);
/* What a run leaves that would confuse the next one: sockets, the pid file, vm.json. */
void vm_dir_remove_stale(int dirfd);
