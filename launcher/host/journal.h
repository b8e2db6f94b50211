/* SPDX-License-Identifier: MIT */
/*
 * The switch journal: the plan and every device's original state, written before the first
 * change and after each step, so that `vmrun restore` can finish or undo any switch after a
 * crash. One file per IOMMU group in a root-only directory (run/vmrun/switch); nothing read
 * back is trusted without re-validation.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "swctx.h"
#include "swplan.h"

#define JOURNAL_MAX_DEVS 32
#define JOURNAL_MAX_SIZE (64 * 1024)

enum journal_op { JOURNAL_DETACH, JOURNAL_ATTACH };
enum journal_state { JOURNAL_IN_PROGRESS, JOURNAL_DONE };

struct journal {
	enum journal_op op;
	enum journal_state state;
	pid_t pid;       /* the process that switched (vmrun as root, or the helper) */
	pid_t holder;    /* the vmrun the group was detached for, which gives it back; = pid
	                  * when root's vmrun switched it itself */
	uint64_t holder_start; /* the holder's start time (/proc/PID/stat, clock ticks since
	                        * boot; 0: unknown): a reused pid is not the holder */
	bool for_run;    /* detached for a run (vmrun NAME), which gives it back when it ends;
	                  * a run that died without doing so left it stale. Not for `vmrun detach`,
	                  * whose group stays on vfio-pci by design */
	bool kept;       /* kept on vfio-pci between runs (a profile's pci[N].after, or a driver
	                  * that cannot take the GPU back): the owner's runs use it as it is,
	                  * nothing gives it back but `vmrun attach` or `vmrun restore` */
	uid_t owner;     /* who the group was detached for: only they (or root) give it back */
	int64_t started; /* epoch seconds */
	struct switch_plan plan; /* group, gpu.name, devs[].fn.{addr,name,vendor,device}, modules */
};

const char *journal_op_name(enum journal_op op);
const char *journal_state_name(enum journal_state st);

/* Atomically (temporary file, fsync, rename, fsync of the directory). 0 or -errno. */
int journal_write(int dirfd, const struct journal *j);
/* -ENOENT when there is none; -EBADMSG when it is malformed or fails validation. */
int journal_read(int dirfd, int group, struct journal *ret);
int journal_remove(int dirfd, int group);
/* Groups that have a journal, sorted. */
int journal_list(int dirfd, int **ret, size_t *ret_n);
void journal_clear(struct journal *j);

/* ---- the switch's use of it (swctx.h) ---- */

/* Write j now: SW_FAILED with why in c when it cannot be. */
enum switch_status journal_sync(struct switch_ctx *c, struct journal *j);
/* A new journal for op, by this process, for c's owner and holder, written. */
enum switch_status journal_begin(struct switch_ctx *c, struct journal *j, enum journal_op op,
				 bool for_run, bool kept);
/* The vmrun a group was detached for still runs (the same process: its start time). */
bool journal_holder_alive(const struct switch_ctx *c, const struct journal *j);
/*
 * What a vmrun that died left behind, for its owner (or root) to take back unasked: a switch
 * it was in the middle of, or a run's group it never gave back. A `vmrun detach` is not
 * stale: its group stays on vfio-pci by design.
 */
bool journal_stale(const struct switch_ctx *c, const struct journal *j);
/* "was interrupted", "was never given back". */
const char *journal_stale_what(const struct journal *j);
