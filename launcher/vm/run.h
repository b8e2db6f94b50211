/* SPDX-License-Identifier: MIT */
/*
 * Running a planned VM: lock, NVRAM, detach the GPU, start QEMU (no shell), supervise it over
 * QMP, stop it gracefully on request, and always give the GPU back when it ends.
 */
#pragma once

#include "plan.h"

/*
 * The timeline, for the caller to show: one call per event ("checks", "switch", "qemu-started",
 * "running", "powerdown", "shutdown", "stopped", "forced", "qemu-died", "gpu-restored",
 * "exit", ...) with its one-line message. The run also keeps a service manager's STATUS
 * current (notify.h) and says READY once the guest runs.
 */
struct run_ui {
	void (*event)(void *data, const char *event, const char *msg);
	void *data;
};

/* Run the VM the plan describes (its groups already judged fit): the exit code. */
int vm_run(struct plan *pl, const struct run_ui *ui);
