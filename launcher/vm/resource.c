/* SPDX-License-Identifier: MIT */
#include "resource.h"

#include <stdio.h>

#include "exitcodes.h"
#include "log.h"
#include "res.h"

static int take_leftovers(struct run *r);

/*
 * What a run takes, in this order; given back from the bottom up. What changes the host has a
 * recover too, for a run that died.
 */
const struct run_resource run_resources[] = {
	{ "dirs",          res_dirs_take,      res_dirs_give,      NULL },
	{ "leftovers",     take_leftovers,     NULL,               NULL },
	{ "guard",         res_guard_take,     res_guard_give,     NULL },
	{ "nvram",         res_nvram_take,     NULL,               NULL },
	{ "tpm",           res_tpm_take,       res_tpm_give,       NULL },
	{ "looking-glass", res_lg_take,        res_lg_give,        res_lg_recover },
	{ "hugepages",     res_hugepages_take, res_hugepages_give, res_hugepages_recover },
	{ "inputs",        res_inputs_take,    res_inputs_give,    res_inputs_recover },
	{ "isolation",     res_isolate_take,   res_isolate_give,   res_isolate_recover },
	{ "signals",       res_signals_take,   res_signals_give,   NULL },
	{ "gpus",          res_gpus_take,      res_gpus_give,      res_gpus_recover },
	{ "memlock",       res_memlock_take,   NULL,               NULL },
	{ "qemu",          res_qemu_take,      res_qemu_give,      NULL },
	{ "pinning",       res_pinning_take,   NULL,               NULL },
};
const size_t run_n_resources = ARRAY_SIZE(run_resources);

int resources_take(const struct run_resource *v, size_t n, struct run *r, size_t *taken)
{
	int code = 0;

	*taken = 0;
	for (size_t i = 0; i < n && !code; i++) {
		*taken = i + 1;
		if (v[i].take)
			code = v[i].take(r);
	}
	return code;
}

void resources_give(const struct run_resource *v, size_t taken, struct run *r, int *code)
{
	for (size_t i = taken; i-- > 0;)
		if (v[i].give)
			v[i].give(r, code);
}

void resources_recover(const struct run_resource *v, size_t n, struct recovery *c)
{
	for (size_t i = n; i-- > 0;)
		if (v[i].recover)
			v[i].recover(c);
}

int run_recover(struct priv *priv, int run_fd, struct vmdir_info *vi, recover_say_fn say, void *data)
{
	struct recovery c = { .priv = priv, .vi = vi, .say = say, .data = data };

	resources_recover(run_resources, run_n_resources, &c);
	if (!c.left) {
		vmdir_remove_stale(run_fd);
		return EXIT_OK;
	}
	snprintf(vi->state, sizeof(vi->state), "needs-restore");
	(void)vmdir_info_write(run_fd, vi);
	return EXIT_RECOVER;
}

static void leftovers_say(void *data, const char *msg)
{
	run_say(data, "recover", "%s", msg);
}

/*
 * Under the lock, a vm.json is a run's whose vmrun is gone, and its guard too: what it lists
 * is given back before this run changes anything. What will not go back stops the run.
 */
static int take_leftovers(struct run *r)
{
	struct vmdir_info vi;
	int code;

	if (vmdir_info_read(r->run_fd, &vi) < 0 || !vmdir_info_has_changes(&vi)) {
		vmdir_remove_stale(r->run_fd);
		return 0;
	}
	run_say(r, "recover", "the last run of %s (vmrun pid %d) did not give back what it "
		"changed: doing it now", r->pl->p->name, (int)vi.pid);
	code = run_recover(&r->priv, r->run_fd, &vi, leftovers_say, r);
	if (code)
		log_err("%s: what its last run left could not all be given back (above); fix that, "
			"then `vmrun restore %s`", r->pl->p->name, r->pl->p->name);
	return code;
}
