/* SPDX-License-Identifier: MIT */
/*
 * The one pre-flight: every check a run needs before anything on the host changes, as a list
 * of verdicts (ok / warn / FAIL, each with its fix). `vmrun check` prints it, `vmrun --dry-run`
 * shows it, and the run refuses on any FAIL with nothing changed: the three cannot disagree.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "plan.h"
#include "sysroot.h"
#include "util.h"

enum verdict { VERDICT_OK, VERDICT_WARN, VERDICT_FAIL };

struct check_item {
	char id[24];       /* "iommu", "holders", "disk", ... */
	enum verdict verdict;
	int exit_code;     /* what a run that stops on this FAIL exits with (3 held, 4 refused) */
	char msg[1024];
	char fix[512];     /* "" when there is nothing to do */
};

struct checks {
	struct check_item *v;
	size_t n;
	unsigned count[3];
	bool oom;
};

const char *verdict_name(enum verdict v);

/*
 * The host's readiness for passthrough, and with a plan everything that run needs: p may be
 * NULL (plain `vmrun check`: every GPU but the host's display is looked at instead).
 */
void preflight(const struct sysroot *s, uid_t uid, const struct plan *pl, struct checks *out);
void checks_clear(struct checks *c);

/* Add one item (the fix may be NULL); FAIL items carry the exit code a run stopping there has. */
_printf_(6, 7) void checks_add(struct checks *c, const char *id, enum verdict v, int exit_code,
			       const char *fix, const char *fmt, ...);
/* The checks of what the profile needs besides its GPUs (preflight_vm.c): its name, QEMU,
 * memory, disks, bridge, ROM files, the locked-memory limit (helper: vmrun-helper raises it). */
void preflight_profile(const struct sysroot *s, uid_t uid, const struct plan *pl, bool helper,
		       struct checks *c);
/* And of using the host and the VM at once (preflight_share.c): input devices, Looking Glass,
 * sound, cpu.pin and cpu.isolate, hugepages. */
void preflight_share(const struct sysroot *s, uid_t uid, const struct plan *pl, bool helper,
		     struct checks *c);

/* The first FAIL, or NULL: a run stops there with its exit code. */
const struct check_item *checks_first_fail(const struct checks *c);
