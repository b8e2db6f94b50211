/* SPDX-License-Identifier: MIT */
/*
 * Handing a GPU's IOMMU group to vfio-pci and back: plan, detach, attach, restore.
 * The steps are in switch.c, numbered, each journaled before it acts (journal.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "checkid.h"
#include "kernel.h"
#include "swplan.h"
#include "sysroot.h"

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

/* Open (with create, creating it root-only) the state directory run/vmrun/switch under the
 * sysroot; -ENOENT without create when there is none; -EPERM when it is not ours alone. */
int switch_state_open(const struct sysroot *s, bool create, int *ret_fd);

/* Plan a detach without changing anything: members, roles, refusals, holders, modules. The
 * plan is filled even when refused (the holders are the answer then). */
enum switch_status switch_plan_detach(struct switch_ctx *c, const struct pci_addr *gpu,
				      const struct switch_opts *o, struct switch_plan *ret);
enum switch_status switch_detach(struct switch_ctx *c, const struct pci_addr *gpu,
				 const struct switch_opts *o);
enum switch_status switch_attach(struct switch_ctx *c, const struct pci_addr *gpu,
				 const struct switch_opts *o);
/* Finish or undo whatever the journals of group (or of every group when group < 0) say. */
enum switch_status switch_restore(struct switch_ctx *c, int group, const struct switch_opts *o);
