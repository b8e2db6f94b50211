/* SPDX-License-Identifier: MIT */
/* What a run will do, resolved against this host: shared by --dry-run and the run itself. */
#pragma once

#include "../firmware/firmware.h"
#include "cli.h"
#include "gpu.h"
#include "qemu_argv.h"

struct plan {
	struct vm_profile *p;
	struct fw_choice fw;
	char *runtime_dir, *state_dir, *vars_path;
	struct qemu_hostdev *hostdevs;
	size_t n_hostdevs;
	struct gpu_snapshot snap; /* the profile's devices, their groups, holders */
	char **argv;
};

/* Load the profile and resolve everything; 0 or an exit code (the error is reported). */
int plan_build(struct cli *c, struct plan *pl, const char *path);
void plan_clear(struct plan *pl);

/* vmrun PROFILE: run and supervise the VM (cmd_run.c). */
int cmd_run(struct cli *c, const char *profile);
