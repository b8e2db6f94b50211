/* SPDX-License-Identifier: MIT */
/*
 * cpu.isolate: the host's slices (system.slice, user.slice, init.scope) kept off the VM's CPUs
 * while it runs; all of them given back after.
 */
#include "res.h"
#include "recovery.h"

#include "exitcodes.h"
#include "isolate.h"
#include "log.h"

int res_isolate_take(struct run *r)
{
	char why[512];

	if (!r->pl->p->cpu.isolate)
		return 0;
	if (!r->pl->host_cpus[0])
		return log_err("cpu.isolate: no CPU would be left to the host"), EXIT_NOT_READY;
	r->vi.isolated = true; /* before: giving back what was never taken is harmless */
	run_sync_info(r);
	if (isolate_apply(r->pl->s, r->pl->host_cpus, why, sizeof(why)) < 0) {
		r->vi.isolated = isolate_pending(r->pl->s);
		run_sync_info(r);
		return log_err("cpu.isolate: %s", why), EXIT_ERROR;
	}
	r->isolated = true;
	run_say(r, "isolated", "cpu.isolate: the host's slices (system.slice, user.slice, init.scope) "
	    "kept to CPUs %s while the VM runs", r->pl->host_cpus);
	return 0;
}

void res_isolate_give(struct run *r, int *code)
{
	char why[512];

	(void)code;
	if (!r->isolated)
		return;
	if (isolate_restore(r->pl->s, why, sizeof(why)) < 0) {
		log_warn("cpu.isolate: %s", why);
	} else {
		run_say(r, "isolated", "cpu.isolate: the host's slices have all their CPUs again");
		r->vi.isolated = false;
		run_sync_info(r);
	}
	r->isolated = false;
}

void res_isolate_recover(struct recovery *c)
{
	char why[512];

	if (!c->vi->isolated)
		return;
	if (isolate_restore(c->priv->s, why, sizeof(why)) < 0) {
		recovery_say(c, "cpu.isolate: %s", why);
		c->left = true;
		return;
	}
	recovery_say(c, "cpu.isolate: the host's slices have all their CPUs again");
	c->vi->isolated = false;
}
