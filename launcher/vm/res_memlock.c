/* SPDX-License-Identifier: MIT */
/*
 * A user's locked-memory limit, raised for QEMU (it inherits ours): VFIO pins all guest RAM.
 * Nothing to give back: the limit is this vmrun's own and ends with it.
 */
#include "res.h"

#include "log.h"

/* VFIO pins all guest RAM (+1 GiB for QEMU's own, as libvirt counts); QEMU inherits ours. */
int res_memlock_take(struct run *r)
{
	struct priv_request rq = { .op = PRIV_MEMLOCK, .bytes = r->pl->p->memory + (1ULL << 30) };
	struct priv_result res;

	if (!r->pl->n_groups)
		return 0;
	priv_call(&r->priv, &rq, &res);
	if (res.status) {
		log_err("Cannot raise the locked-memory limit for QEMU: %s", res.why);
		return switch_status_exit(res.status);
	}
	return 0;
}
