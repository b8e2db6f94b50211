/* SPDX-License-Identifier: MIT */
/*
 * vmrun PROFILE, after the plan and the pre-flight checks: the run's resources (resource.h)
 * taken in order — its directories and lock, what a dead run left, the guard, NVRAM, TPM,
 * Looking Glass, hugepages, inputs, CPU isolation, stop requests, the GPU groups, the
 * locked-memory limit, QEMU, CPU pinning — then the guest runs under supervision
 * (supervise.h) until it ends, and everything is given back in the reverse order, whatever
 * the ending. The exit code says how the VM ended (or what stopped it from starting).
 */
#include "run.h"

#include <stdio.h>

#include "exitcodes.h"
#include "notify.h"
#include "resource.h"
#include "runctx.h"
#include "supervise.h"

/* Every resource taken: the guest runs until QEMU is gone. */
static int run_guest(struct run *r)
{
	r->state = ST_RUNNING;
	snprintf(r->vi.state, sizeof(r->vi.state), "running");
	run_sync_info(r);
	run_say(r, "running", "QMP connected; the guest is running");
	(void)sd_notify_ready("the guest is running");
	run_show_installer(r);
	run_supervise(r);
	return run_ending(r);
}

int run_vm(struct plan *pl, const struct run_ui *ui)
{
	struct run r = { .pl = pl, .ui = ui, .run_fd = -1, .state_fd = -1, .lock_fd = -1,
			 .sig_fd = -1, .pid_fd = -1, .tpm = { .pidfd = -1 }, .inotify_fd = -1,
			 .guard = { .sock = -1 }, .guard_cfg = { .recover = run_recover } };
	size_t taken = 0;
	int code;

	priv_init(&r.priv, pl->s, run_switch_progress, &r);
	code = resources_take(run_resources, run_n_resources, &r, &taken);
	if (!code)
		code = run_guest(&r);
	resources_give(run_resources, taken, &r, &code);
	return code;
}
