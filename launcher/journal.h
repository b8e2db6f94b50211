/* SPDX-License-Identifier: MIT */
/*
 * The switch journal: the plan and every device's original state, written before the first
 * change and after each step, so that `vmrun restore` can finish or undo any switch after a
 * crash. One file per IOMMU group in a root-only directory; nothing read back is trusted
 * without re-validation. A per-group lock file serialises concurrent switches.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "switch.h"

#define JOURNAL_MAX_DEVS 32
#define JOURNAL_MAX_SIZE (64 * 1024)

struct journal {
	char op[8];     /* "detach" or "attach" */
	char state[16]; /* "in-progress" or "done" */
	pid_t pid;      /* the vmrun that wrote it */
	int64_t started;
	struct switch_plan plan; /* group, gpu.name, devs[].fn.{addr,name,vendor,device}, modules */
};

int journal_write(int dirfd, const struct journal *j);
/* -ENOENT when there is none; -EBADMSG when it is malformed or fails validation. */
int journal_read(int dirfd, int group, struct journal *ret);
int journal_remove(int dirfd, int group);
/* Groups that have a journal, sorted. */
int journal_list(int dirfd, int **ret, size_t *ret_n);
void journal_clear(struct journal *j);

/* Exclusive lock on the group, waiting up to timeout_ms; the fd is the lock. -EBUSY on timeout. */
int group_lock(int dirfd, int group, unsigned timeout_ms, int *ret_fd);
