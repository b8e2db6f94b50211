/* SPDX-License-Identifier: MIT */
/*
 * The guard: a process forked by the run that outlives its vmrun. Whatever ends vmrun without
 * its own cleanup (SIGKILL, a crash, the OOM killer), the guard sees its end of a socket close
 * without the run's "done", waits for the processes it was told to (QEMU, swtpm: they die with
 * vmrun, PR_SET_PDEATHSIG), and gives back what vm.json says the run changed (cfg->recover: the
 * run's own resources, walked back, resource.h), within
 * seconds and with nobody typing a command; then it tells the user's desktop, when there is
 * one. It runs as the run's user (a user's guard restores through vmrun-helper, as the run
 * would), in a session of its own (a terminal's hangup or a Ctrl-C does not reach it), ignores
 * the signals a session sends, and keeps the VM's instance lock, so no new run of the VM
 * starts before it is done. Its log: guard.log in the VM's runtime directory.
 *
 * A guard killed too leaves vm.json and the journals for `vmrun restore` (a user unit runs it as
 * ExecStopPost=), and for the next run of the VM, which does the same first.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "priv.h"
#include "sysroot.h"
#include "vmdir.h"

struct guard {
	pid_t pid; /* 0: none */
	int sock;  /* the run's end: closed without "done", the guard acts */
};

struct guard_cfg {
	const struct sysroot *s;
	int run_fd;          /* the VM's runtime directory (vm.json, guard.log) */
	int lock_fd;         /* the instance lock, kept while the guard works */
	const char *name;    /* the VM's, for messages */
	const char *runtime_dir;
	/* Give back what vi lists (run_recover, which the run passes in: the guard is one of the
	 * run's resources and must not depend on their list): EXIT_OK or EXIT_RECOVER. */
	int (*recover)(struct priv *priv, int run_fd, struct vmdir_info *vi,
		       void (*say)(void *data, const char *msg), void *data);
};

/* Fork the guard. 0, or -errno (the run goes on without one, saying so). */
int guard_start(struct guard *g, const struct guard_cfg *cfg);
/* The guard waits for this process (a pidfd, dup'd to it) to be gone before it acts. */
void guard_watch(struct guard *g, int pidfd);
/* The run gave everything back itself: the guard exits, and is waited for. */
void guard_release(struct guard *g);
