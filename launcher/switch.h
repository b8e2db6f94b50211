/* SPDX-License-Identifier: MIT */
/*
 * Handing a GPU's IOMMU group to vfio-pci and back: plan, detach, attach, restore.
 * The steps are in switch.c, numbered, each journaled before it acts (journal.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "holders.h"
#include "iommu.h"
#include "kernel.h"
#include "pcidev.h"
#include "sysroot.h"

/* Why a switch was refused or failed: the CLI maps these to exit codes. */
enum switch_status {
	SW_OK = 0,
	SW_HELD,         /* a process holds a node that must be free (exit 3) */
	SW_REFUSED,      /* unsafe or impossible on this host: nothing changed (exit 4) */
	SW_NEEDS_RESTORE,/* an interrupted switch is pending: run restore (exit 5) */
	SW_FAILED,       /* a kernel step failed; rolled back (exit 1) */
	SW_STUCK,        /* a kernel step hung; the journal is kept for restore (exit 1) */
	SW_BUSY,         /* another vmrun holds the group's lock too long (exit 3) */
	SW_BAD_INPUT,    /* the address is not a PCI device we can act on (exit 2) */
};

struct switch_dev {
	struct pci_function fn;      /* as read when planned */
	enum group_role role;
	char orig_driver[64];        /* "" when it had none */
	char orig_override[64];
	bool ours;                   /* false: already on vfio-pci before us, left alone */
	char phase[16];              /* journal: "planned", "unbound", "vfio", "host" */
};

struct switch_plan {
	int group;
	struct pci_function gpu;
	struct switch_dev *devs;     /* group members except bridges, by address */
	size_t n_devs;
	char modules[4][32];         /* vendor modules to unload (and reload on attach) */
	size_t n_modules;
	struct holder_set holders;   /* everything found holding the group's nodes */
};

struct switch_opts {
	bool dry_run;
	bool allow_non_gpu;          /* the profile lets non-GPU group members go too */
	unsigned write_timeout_ms;   /* per sysfs write; default 10000 */
	unsigned probe_timeout_ms;   /* bounded wait for a driver link; default 10000 */
	unsigned lock_timeout_ms;    /* waiting for another vmrun on the same group; default 60000 */
};

/* Progress for the CLI: one call per step, and the reason when something is refused. */
typedef void (*switch_progress_fn)(void *data, const char *fmt, ...);

struct switch_ctx {
	const struct sysroot *s;
	const struct kernel_ops *k;
	int state_fd;                /* directory for journals and locks (run/vmrun/switch) */
	switch_progress_fn progress;
	void *progress_data;
	char why[1024];              /* one line: the reason for a non-OK status */
	bool already;                /* detach found the group already detached: nothing was done */
	int stuck_pid;
};

/* Open (creating, root-only) the state directory run/vmrun/switch under the sysroot. */
int switch_state_open(const struct sysroot *s, int *ret_fd);

enum switch_status switch_plan_detach(struct switch_ctx *c, const struct pci_addr *gpu,
				      const struct switch_opts *o, struct switch_plan *ret);
enum switch_status switch_detach(struct switch_ctx *c, const struct pci_addr *gpu,
				 const struct switch_opts *o);
enum switch_status switch_attach(struct switch_ctx *c, const struct pci_addr *gpu,
				 const struct switch_opts *o);
/* Finish or undo whatever the journals of group (or of every group when group < 0) say. */
enum switch_status switch_restore(struct switch_ctx *c, int group, const struct switch_opts *o);
void switch_plan_clear(struct switch_plan *p);
