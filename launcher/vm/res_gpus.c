/* SPDX-License-Identifier: MIT */
/*
 * The passed-through GPUs' IOMMU groups: each to vfio-pci (priv.h: root itself or vmrun-helper;
 * journaled, rolled back on failure), checked to be what QEMU gets; back to their host drivers
 * whatever the ending, the last detached first. A dead run's go back through their journals.
 */
#include "res.h"
#include "recovery.h"

#include <stdio.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"

static void attach_all(struct run *r, int *worst)
{
	bool whole = true;

	for (size_t i = r->vi.n_groups; i-- > 0;) {
		struct priv_request rq = { .op = PRIV_ATTACH, .addr = r->group_gpu[i] };
		struct priv_result res;

		priv_call(&r->priv, &rq, &res);
		if (res.status) {
			log_err("Giving IOMMU group %d back failed: %s; run `vmrun restore`",
				r->vi.groups[i], res.why);
			whole = false;
			if (worst)
				*worst = EXIT_RECOVER;
		} else {
			run_say(r, "gpu-restored", "IOMMU group %d is back on its host drivers", r->vi.groups[i]);
		}
	}
	/* What failed stays in vm.json, for `vmrun restore NAME`. */
	if (whole) {
		r->vi.n_groups = 0;
		r->vi.n_gpus = 0;
	} else {
		snprintf(r->vi.state, sizeof(r->vi.state), "needs-restore");
	}
	run_sync_info(r);
}

/* Every function QEMU is given must be on vfio-pci now: the switch re-read the group under
 * its lock, and a group that changed since the plan is not started on. */
static bool switched_as_planned(const struct plan *pl, const struct priv_result *res)
{
	for (size_t i = 0; i < pl->n_hostdevs; i++) {
		struct pci_function f;
		bool found = false;

		if (pci_function_read(pl->s, &pl->hostdevs[i].host, &f) < 0 || f.iommu_group != res->group)
			continue;
		for (size_t k = 0; k < res->n_vfio; k++)
			found |= pci_addr_eq(&res->vfio[k], &pl->hostdevs[i].host);
		if (!found)
			return false;
	}
	return true;
}

static int detach_group(struct run *r, const struct plan_group *g)
{
	struct priv_request rq = { .op = PRIV_DETACH, .addr = g->gpu, .opts.for_run = true,
				   .opts.keep = g->keep, .opts.release = g->release };
	struct priv_result res;
	char a[PCI_ADDR_STR_MAX];

	pci_addr_format(&g->gpu, a);
	priv_call(&r->priv, &rq, &res);
	if (res.status) {
		log_err("%s: %s", a, res.why);
		return switch_status_exit(res.status);
	}
	/* A kept group is used as it is and left on vfio-pci after: not this run's to give back. */
	if (res.kept) {
		if (!switched_as_planned(r->pl, &res)) {
			log_err("%s: IOMMU group %d is kept on vfio-pci, but not every function QEMU "
				"would get is on it", a, res.group);
			return EXIT_NOT_READY;
		}
		run_say(r, "gpu-kept", "IOMMU group %d stays on vfio-pci after the run: %s; `vmrun attach "
		    "%s` gives it back", res.group, g->keep_why ? g->keep_why : "it was kept", a);
		return 0;
	}
	/* A group someone else detached is theirs to give back, not this run's. */
	if (res.already) {
		log_err("%s: IOMMU group %d is already on vfio-pci (another VM, or `vmrun detach`); "
			"`vmrun attach %s` first", a, res.group, a);
		return EXIT_BUSY;
	}
	r->group_gpu[r->vi.n_groups] = g->gpu;
	r->vi.groups[r->vi.n_groups++] = res.group;
	if (!switched_as_planned(r->pl, &res)) {
		log_err("%s: IOMMU group %d changed since the plan: not every function QEMU would get "
			"is on vfio-pci", a, res.group);
		return EXIT_NOT_READY;
	}
	return 0;
}

int res_gpus_take(struct run *r)
{
	if (r->pl->n_groups > VMDIR_MAX_GROUPS) {
		log_err("%s passes devices from %zu IOMMU groups; at most %d are supported",
			r->pl->p->name, r->pl->n_groups, VMDIR_MAX_GROUPS);
		return EXIT_USAGE;
	}
	/* Recorded before the first is detached: a vmrun killed in the middle of a switch leaves
	 * the group to its guard. */
	for (size_t i = 0; i < r->pl->n_groups; i++)
		pci_addr_format(&r->pl->groups[i].gpu, r->vi.gpus[r->vi.n_gpus++]);
	run_sync_info(r);
	for (size_t i = 0; i < r->pl->n_groups; i++) {
		int code = detach_group(r, &r->pl->groups[i]);

		if (code)
			return code; /* the groups detached so far go back: the give follows */
	}
	(void)vmdir_info_write(r->run_fd, &r->vi);
	return 0;
}

void res_gpus_give(struct run *r, int *code)
{
	int back = 0;

	attach_all(r, &back);
	if (back)
		*code = back;
}

/* Each GPU the run detached (or was about to): its group's journal, if that vmrun's, restored.
 * A journal of another vmrun's is left alone by the switch (only_holder). */
void res_gpus_recover(struct recovery *c)
{
	struct vmdir_info *vi = c->vi;
	size_t keep = 0;

	for (size_t i = 0; i < vi->n_gpus; i++) {
		struct priv_request rq = { .op = PRIV_RESTORE, .opts.only_holder = vi->pid };
		struct priv_result res;

		if (pci_addr_parse(vi->gpus[i], &rq.addr) < 0) {
			recovery_say(c, "vm.json names %.20s, which is not a PCI address: skipped", vi->gpus[i]);
			continue;
		}
		priv_call(c->priv, &rq, &res);
		if (res.status) {
			recovery_say(c, "%s: %s", vi->gpus[i], res.why);
			memmove(vi->gpus[keep++], vi->gpus[i], sizeof(vi->gpus[i]));
			c->left = true;
		}
	}
	vi->n_gpus = keep;
	if (!keep)
		vi->n_groups = 0;
}
