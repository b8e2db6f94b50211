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

#define VMDIR_MAX_GROUPS 8

#define VMDIR_MAX_INPUTS 2

/*
 * A run as vm.json tells it: for `vmrun status` and `vmrun stop`, and what the run has changed
 * on the host so far (kept current before and after each change), for whoever gives it back
 * when the run could not: the guard (guard.h), `vmrun restore NAME`, the next run.
 */
struct vmdir_info {
	char name[65];
	pid_t pid;       /* the supervising vmrun */
	pid_t qemu_pid;  /* 0 before QEMU starts */
	pid_t guard_pid; /* the guard watching the vmrun; 0: none */
	int64_t started; /* epoch seconds */
	char state[16];  /* "starting", "running", "stopping"; "recovering" while the guard gives
	                  * back what a dead vmrun left; "needs-restore" when something could not */
	int groups[VMDIR_MAX_GROUPS]; /* detached for this run */
	size_t n_groups;
	char gpus[VMDIR_MAX_GROUPS][16]; /* every GPU the run detaches, recorded before it does */
	size_t n_gpus;
	char profile[4096];
	char looking_glass[256]; /* the shared memory file for the Looking Glass client, or "" */
	bool looking_glass_made; /* ... made by the run: removed after it */
	uint64_t huge_page;      /* hugepages the pool grew by for the run: their size, */
	unsigned long huge_added; /* and how many */
	char inputs[VMDIR_MAX_INPUTS][256]; /* event devices the user was given an ACL on */
	size_t n_inputs;
	bool isolated;           /* cpu.isolate applied: the slices' CPUs to give back */
};

/* Something on the host left to give back. */
bool vmdir_info_has_changes(const struct vmdir_info *vi);

/*
 * Open path as a VM directory: with create, missing parents are made 0755 and the directory
 * itself 0700. It must be a directory (not a symlink), ours, and writable by nobody else:
 * -ENOTDIR, -ELOOP, -EPERM otherwise (why, when given, says which in a few words).
 */
int vmdir_open(const char *path, bool create, int *ret_fd, const char **why);

/* The instance lock in the directory (flock on "lock"): -EBUSY when another vmrun holds it. */
int vmdir_lock(int dirfd, int *ret_fd);
/* Is the lock held by someone (a running vmrun)? */
bool vmdir_is_running(int dirfd);
int vmdir_info_write(int dirfd, const struct vmdir_info *vi);
int vmdir_info_read(int dirfd, struct vmdir_info *ret);
/* What a run leaves that would confuse the next one: sockets, the pid file, vm.json. */
void vmdir_remove_stale(int dirfd);
