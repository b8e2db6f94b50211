/* SPDX-License-Identifier: MIT */
/*
 * tpm: true: swtpm, its state beside the NVRAM (swtpm.h), started before QEMU (its only client)
 * and stopped after it. A dead run's swtpm dies with it (PR_SET_PDEATHSIG): the guard waits.
 */
#include "res.h"

#include <errno.h>

#include "exitcodes.h"
#include "log.h"

int res_tpm_take(struct run *r)
{
	char err[512];
	int e;

	if (!r->pl->p->tpm)
		return 0;
	e = swtpm_start(r->state_fd, r->pl->state_dir, r->run_fd, r->pl->runtime_dir, 10000, &r->tpm,
			err, sizeof(err));
	if (e < 0) {
		log_err("Cannot start the TPM: %s (log: %s/%s)", err, r->pl->runtime_dir, SWTPM_LOG);
		return e == -ENOENT ? EXIT_NOT_READY : EXIT_ERROR;
	}
	guard_watch(&r->guard, r->tpm.pidfd);
	run_say(r, "tpm", "TPM 2.0: swtpm started, pid %d (state %s %s/%s)", (int)r->tpm.pid,
	    r->tpm.state_created ? "created in" : "kept in", r->pl->state_dir, SWTPM_STATE_DIR);
	return 0;
}

void res_tpm_give(struct run *r, int *code)
{
	(void)code;
	swtpm_stop(&r->tpm);
}
