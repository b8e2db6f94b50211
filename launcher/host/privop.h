/* SPDX-License-Identifier: MIT */
/*
 * The privileged operations, one implementation for both ways they are done: by a root vmrun
 * for itself, and by the setuid vmrun-helper for an allowed user. And the report the helper
 * sends back, so that the caller prints progress in its own format (its --json stays JSON),
 * knows "already detached", and exits with the same code either way.
 *
 *   detach ADDR    the group to vfio-pci; for a user, /dev/vfio/N becomes theirs (0600)
 *   attach ADDR    the group back to its host drivers (its owner, or root)
 *   restore ADDR   finish or undo an interrupted switch of the group (its owner, or root)
 *   memlock BYTES  raise the calling vmrun's RLIMIT_MEMLOCK to BYTES (never lower it)
 *
 * The report: one JSON object per line, {"progress": MSG} any number of times, then exactly
 * one {"result": {"status": NAME, "exit": N, "message": WHY, "already": B, "group": G,
 * "vfio": [ADDR, ...]}}.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal.h"
#include "kernel.h"
#include "pciaddr.h"
#include "switch.h"
#include "sysroot.h"

enum priv_op {
	PRIV_DETACH, PRIV_ATTACH, PRIV_RESTORE, PRIV_MEMLOCK,
	PRIV_HUGEPAGES,      /* at least count free pages of bytes each: the pool grown as needed */
	PRIV_HUGEPAGES_FREE, /* give back up to count pages this uid's runs added */
	PRIV_INPUT,          /* the caller may read and write the event device at path (an ACL) */
	PRIV_INPUT_REVOKE,   /* and no longer */
	PRIV_OP_MAX = PRIV_INPUT_REVOKE,
};

const char *priv_op_name(enum priv_op op);
int priv_op_parse(const char *name, enum priv_op *ret);

struct priv_request {
	enum priv_op op;
	struct pci_addr addr;  /* detach, attach, restore */
	bool all_groups;       /* restore without an address: every journal (root only) */
	bool dry_run;          /* plan and report, change nothing */
	uint64_t bytes;        /* memlock; hugepages: the page size */
	unsigned long count;   /* hugepages: pages */
	uint64_t huge_quota;   /* hugepages: the caller's cap in bytes, all sizes (0: none) */
	char path[256];        /* input: the event device, as the profile names it */
	dev_t input_rdev;      /* input: the device number it was authorised as (0: not checked) */
	struct {               /* input: the vmrun binary a run's process must be (the helper's */
		bool set;      /* sibling); a caller that is not one is refused */
		dev_t dev;
		ino_t ino;
	} run_exe;
	uid_t caller;          /* who it is for (0: root itself) */
	gid_t caller_gid;      /* their primary group (memlock checks the target's gids) */
	pid_t caller_pid;      /* the vmrun it is for: the journal's holder, memlock's target */
	struct switch_opts opts;
};

struct priv_result {
	enum switch_status status;
	char why[1024];
	bool already;          /* detach: the group was already on vfio-pci; nothing was done */
	bool kept;             /* detach: the group is kept on vfio-pci between runs */
	int group;             /* -1 when none was reached */
	struct pci_addr vfio[JOURNAL_MAX_DEVS]; /* detach: the group's functions now on vfio-pci */
	size_t n_vfio;
	unsigned long count;   /* hugepages: pages added (or given back) */
};

typedef void (*priv_progress_fn)(void *data, const char *msg);

/*
 * Do it, here (as root). The result is always filled; its status is the answer. s and k are
 * the system root and the kernel to act on (tests pass fixtures). The caller decides who may
 * ask (vmrun-helper: /etc/vmrun/allow.yaml); this checks what the operation itself requires:
 * the journal's owner for attach and restore, the target's identity for memlock.
 */
void privop_run(const struct sysroot *s, const struct kernel_ops *k, const struct priv_request *rq,
		priv_progress_fn progress, void *data, struct priv_result *res);

/* The report's lines, without the newline; malloc'd. */
char *priv_report_progress(const char *msg);
char *priv_report_result(const struct priv_result *res);
/*
 * One line of a report: 1 progress (msg filled), 2 result (res filled), -EBADMSG for
 * anything else. The result's exit code must be its status's.
 */
int priv_report_parse(const char *line, char *msg, size_t cap, struct priv_result *res);
