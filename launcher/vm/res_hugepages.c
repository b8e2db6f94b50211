/* SPDX-License-Identifier: MIT */
/*
 * hugepages: the pool grown for the run by what is missing (through root: the helper credits
 * the caller only what the pool grew by), before anything else changes; given back after.
 */
#include "res.h"
#include "recovery.h"

#include "exitcodes.h"
#include "log.h"

int res_hugepages_take(struct run *r)
{
	const struct vm_profile *p = r->pl->p;
	struct priv_request rq = { .op = PRIV_HUGEPAGES, .bytes = vm_hugepage_bytes(p->hugepages) };
	struct priv_result res;

	if (!p->hugepages)
		return 0;
	rq.count = (unsigned long)(p->memory / rq.bytes);
	priv_call(&r->priv, &rq, &res);
	if (res.status) {
		log_err("hugepages: %s", res.why);
		return switch_status_exit(res.status);
	}
	r->huge_added = res.count;
	r->vi.huge_page = rq.bytes;
	r->vi.huge_added = res.count;
	run_sync_info(r);
	return 0;
}

void res_hugepages_give(struct run *r, int *code)
{
	struct priv_request rq = { .op = PRIV_HUGEPAGES_FREE,
				   .bytes = vm_hugepage_bytes(r->pl->p->hugepages),
				   .count = r->huge_added };
	struct priv_result res;

	(void)code;
	if (!r->huge_added)
		return;
	priv_call(&r->priv, &rq, &res);
	if (res.status) {
		log_warn("hugepages: %s (`vmrun restore %s` gives them back)", res.why, r->pl->p->name);
	} else {
		r->vi.huge_added = 0;
		run_sync_info(r);
	}
	r->huge_added = 0;
}

void res_hugepages_recover(struct recovery *c)
{
	struct vmdir_info *vi = c->vi;
	struct priv_request rq = { .op = PRIV_HUGEPAGES_FREE, .bytes = vi->huge_page,
				   .count = vi->huge_added };
	struct priv_result res;

	if (!vi->huge_added || !vi->huge_page)
		return;
	priv_call(c->priv, &rq, &res);
	if (res.status) {
		recovery_say(c, "hugepages: %s", res.why);
		c->left = true;
		return;
	}
	vi->huge_added = 0;
}
