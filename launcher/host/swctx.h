/* SPDX-License-Identifier: MIT */
/*
 * A switch's context, shared by its planning (swplan.c), its steps (swdev.c, swaside.c,
 * swhome.c) and its driver (switch.c): the statuses with their one table of names and exit
 * codes, the options, and how a switch says why it stopped and what it did.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "checkid.h"
#include "kernel.h"
#include "sysroot.h"
#include "util.h"

/* Why a switch was refused or failed; switch_status_exit() is the one map to exit codes. */
enum switch_status {
	SW_OK = 0,
	SW_HELD,          /* a process holds a node that must be free (exit 3) */
	SW_REFUSED,       /* unsafe, impossible or not allowed here: nothing changed (exit 4) */
	SW_NEEDS_RESTORE, /* an interrupted switch is pending, or a failure left one: restore (5) */
	SW_FAILED,        /* a kernel step failed; rolled back (exit 1) */
	SW_STUCK,         /* a kernel step hung; the journal is kept for restore (exit 5) */
	SW_BUSY,          /* another vmrun holds the group's lock too long (exit 3) */
	SW_BAD_INPUT,     /* the address is not a PCI device we can act on (exit 2) */
	SW_STATUS_MAX = SW_BAD_INPUT,
};

/* "ok", "held", ... for --json and the helper's reports; -EINVAL for an unknown name. */
const char *switch_status_name(enum switch_status st);
int switch_status_parse(const char *name, enum switch_status *ret);
/* The exit code for a status, for root and users alike. */
int switch_status_exit(enum switch_status st);

struct switch_opts {
	bool dry_run;
	bool allow_non_gpu;          /* the profile lets non-GPU group members go too */
	unsigned write_timeout_ms;   /* per sysfs write; default 10000 */
	unsigned probe_timeout_ms;   /* bounded wait for a driver link; default 10000 */
	unsigned lock_timeout_ms;    /* waiting for another vmrun on the same group; default 60000 */
	bool for_run;                /* detach: for a run, which gives the group back when it ends
	                              * (journal.h's for_run) */
	bool keep;                   /* detach: the group stays on vfio-pci after the run (journal.h's
	                              * kept); a run's detach of a kept group uses it as it is */
	pid_t only_holder;           /* restore: only a journal whose holder is this pid (a run
	                              * that died); another's is left alone. 0: any */
	bool release;                /* detach: a compositor holding the group's card (as a
	                              * secondary GPU) is asked to let go (swdesk.h) */
	unsigned release_timeout_ms; /* ... and given this long; default 15000 */
};

/* Progress for the caller: one line per step, and notes ("…, ignoring"). */
typedef void (*switch_progress_fn)(void *data, const char *msg);

struct switch_ctx {
	const struct sysroot *s;
	const struct kernel_ops *k;
	int state_fd;                /* directory for journals and locks (run/vmrun/switch) */
	switch_progress_fn progress;
	void *progress_data;
	uid_t owner;                 /* who the switch is for: recorded by detach, checked by the
	                              * caller (privop) before a non-root attach or restore */
	pid_t holder;                /* the vmrun it is for (0: this process) */
	char why[1024];              /* one line: the reason for a non-OK status */
	enum check_id check;         /* which check refused (CHECK_HOLDERS, CHECK_CONSOLE, ...:
	                              * the ids `vmrun check` reports), CHECK_NONE otherwise */
	bool already;                /* detach found the group already detached: nothing was done */
	bool kept;                   /* detach: the group is kept on vfio-pci (journal.h's kept) */
	int stuck_pid;
};

/* A failure: its status, and why (a line) in c->why. */
_printf_(3, 4) enum switch_status sw_fail(struct switch_ctx *c, enum switch_status st,
					  const char *fmt, ...);
/* A refusal by one of the planning checks: which one is kept for `vmrun check`. */
_printf_(4, 5) enum switch_status sw_refuse(struct switch_ctx *c, enum switch_status st,
					    enum check_id check, const char *fmt, ...);
/* One line of progress for the caller. */
_printf_(2, 3) void sw_progress(struct switch_ctx *c, const char *fmt, ...);
/* An option's value, or its default when it is 0. */
unsigned sw_or_default(unsigned v, unsigned def);
