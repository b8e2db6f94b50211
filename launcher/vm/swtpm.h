/* SPDX-License-Identifier: MIT */
/*
 * A VM's TPM 2.0: swtpm (Debian package swtpm), run by the user that runs QEMU, as a child of
 * the run. Its state lives in the VM's state directory (tpm/, created once and never replaced,
 * like the NVRAM); its control socket, log and pid file in the runtime directory, beside QEMU's.
 * It dies with vmrun (PR_SET_PDEATHSIG) and is stopped after QEMU on every other ending.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct swtpm {
	pid_t pid;  /* 0 when not running */
	int pidfd;  /* -1 when not running */
	bool state_created; /* this start made tpm/ (a first run) */
};

#define SWTPM_STATE_DIR "tpm"
#define SWTPM_SOCKET "swtpm.sock"
#define SWTPM_LOG "swtpm.log"

/*
 * Start swtpm and return once its socket accepts connections (polled, at most timeout_ms).
 * state_fd/run_fd are the VM's state and runtime directories, state_dir/run_dir their paths
 * (swtpm is given paths). On failure nothing is left running; err says why, with the end of
 * swtpm's log when it said something.
 */
int swtpm_start(int state_fd, const char *state_dir, int run_fd, const char *run_dir,
		unsigned timeout_ms, struct swtpm *t, char *err, size_t errlen);
/* SIGTERM, at most 5 s, then SIGKILL; reaped. A no-op when it is not running. */
void swtpm_stop(struct swtpm *t);
/* Is swtpm on PATH? */
bool swtpm_available(void);
