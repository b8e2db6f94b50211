/* SPDX-License-Identifier: MIT */
/* How a run tells its caller what happens (run.h, runctx.h). */
#pragma once

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
