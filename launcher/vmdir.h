/* SPDX-License-Identifier: MIT */
/*
 * A running VM's runtime directory: the instance lock (one vmrun per profile name), the
 * sockets, and vm.json describing the run for `vmrun status` and `vmrun stop`.
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
};

/* mkdir -p with mode 0700 for the last component; the directory must be ours. */
int vm_dir_create(const char *path);
/* Take the instance lock in dir (flock on dir/lock); -EBUSY when another vmrun holds it. */
int vm_lock(const char *dir, int *ret_fd);
/* Is the lock in dir held by someone (a running vmrun)? */
bool vm_is_running(const char *dir);
int vm_info_write(const char *dir, const struct vm_info *vi);
int vm_info_read(const char *dir, struct vm_info *ret);
