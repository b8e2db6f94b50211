/* SPDX-License-Identifier: MIT */
/*
 * A run is the resources it takes, in one order, and gives back in the reverse: each a name,
 * its take, its give (for the run's own end) and its recover (for a run that died: from its
 * vm.json, by the guard, `vmrun restore NAME` or the next run), each in a file of its own
 * (res_*.c). The run walks the list forward taking and back giving (run.c); the guard and
 * `restore NAME` walk it back recovering (resources_recover). A new resource is one file and
 * one line in run_resources[].
 *
 * A give runs for every resource whose take ran, finished or not, and is safe when the take
 * stopped halfway. What a take has changed on the host is in vm.json before it changes it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "priv.h"
#include "recovery.h"
#include "runctx.h"
#include "vmdir.h"

struct run_resource {
	const char *name;
	int (*take)(struct run *r);             /* 0, or the exit code the run ends with */
	void (*give)(struct run *r, int *code); /* may make *code worse (EXIT_RECOVER) */
	void (*recover)(struct recovery *c);
};

/* In the order a run takes them. */
extern const struct run_resource run_resources[];
extern const size_t run_n_resources;

/*
 * The walks, over any list (tests give their own). Take in order until one fails: its exit
 * code, *taken how many takes ran (the failed one included: it may have taken part). Give
 * back the first `taken`, last first. Recover every one that can, last first.
 */
int resources_take(const struct run_resource *v, size_t n, struct run *r, size_t *taken);
void resources_give(const struct run_resource *v, size_t taken, struct run *r, int *code);
void resources_recover(const struct run_resource *v, size_t n, struct recovery *c);

/*
 * Undo what vi lists (the run's vmrun must be gone: the caller holds the VM's lock, or is its
 * guard) by the run's own resources, last first, each even when an earlier one failed. vi is
 * updated to what is left; vm.json is removed when nothing is, else rewritten
 * ("needs-restore"). EXIT_OK, or EXIT_RECOVER when something is left (said through say).
 */
int run_recover(struct priv *priv, int run_fd, struct vmdir_info *vi, recover_say_fn say, void *data);
