/* SPDX-License-Identifier: MIT */
/*
 * The one way into every privileged step (detach, attach, restore, memlock, and with them
 * the user's /dev/vfio/N): root does it here, a user through the setuid vmrun-helper. Which
 * one is decided once, in priv_init(); the result is the same structure either way, progress
 * arrives through the same callback, and the exit code is the status's, so the CLI prints
 * and exits alike for root and users (and --json stays JSON).
 */
#pragma once

#include <stdbool.h>

#include "privop.h"
#include "sysroot.h"

struct priv {
	const struct sysroot *s;
	bool helper;       /* not root, on the real host: vmrun-helper does the work */
	priv_progress_fn progress;
	void *progress_data;
};

void priv_init(struct priv *p, const struct sysroot *s, priv_progress_fn progress, void *data);

/*
 * Run one operation for this process (caller and caller_pid are filled in here). res is
 * always filled: its status says how it went, its why says why not. While it runs, SIGINT and
 * SIGHUP are ignored unless the caller already blocks them: a Ctrl-C must not leave a group
 * half-moved, and a switch is short.
 */
void priv_call(struct priv *p, struct priv_request *rq, struct priv_result *res);

/* The helper to run: configured at build time, else installed beside this vmrun, else built
 * next to it. -ENOENT when there is none. */
int priv_helper_path(char *buf, size_t cap);
