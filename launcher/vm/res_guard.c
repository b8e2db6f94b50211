/* SPDX-License-Identifier: MIT */
/*
 * The run's guard (guard.h): forked before anything on the host changes, so that a vmrun killed
 * at any moment after leaves everything to it; released at the run's end, when everything is
 * back (or, with EXIT_RECOVER, in vm.json for `vmrun restore`).
 */
#include "res.h"

#include <string.h>

#include "log.h"

int res_guard_take(struct run *r)
{
	int e;

	r->guard_cfg.s = r->pl->s;
	r->guard_cfg.run_fd = r->run_fd;
	r->guard_cfg.lock_fd = r->lock_fd;
	r->guard_cfg.name = r->pl->p->name;
	r->guard_cfg.runtime_dir = r->pl->runtime_dir;
	e = guard_start(&r->guard, &r->guard_cfg);
	/* Without one (fork failed) the run goes on, as before there was one. */
	if (e < 0)
		log_warn("no guard for this run (%s): if vmrun is killed, `vmrun restore %s` gives "
			 "the GPU back", strerror(-e), r->pl->p->name);
	else
		r->vi.guard_pid = r->guard.pid;
	(void)vmdir_info_write(r->run_fd, &r->vi);
	return 0;
}

void res_guard_give(struct run *r, int *code)
{
	(void)code;
	guard_release(&r->guard);
}
