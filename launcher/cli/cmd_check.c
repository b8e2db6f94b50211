/* SPDX-License-Identifier: MIT */
/* vmrun check [PROFILE]: the pre-flight (preflight.h), printed. Exit 0 when nothing fails. */
#include <stdio.h>

#include "cli.h"
#include "output.h"
#include "plan.h"
#include "preflight.h"

static void print_json(const struct plan *pl, const struct checks *ck)
{
	json_object *root = json_object_new_object(), *items = json_checks(ck);
	json_object *sum = json_object_new_object();

	json_object_object_add(root, "profile", pl ? json_object_new_string(pl->p->name) : NULL);
	json_object_object_add(root, "checks", items);
	json_object_object_add(sum, "ok", json_object_new_int((int)ck->count[VERDICT_OK]));
	json_object_object_add(sum, "warn", json_object_new_int((int)ck->count[VERDICT_WARN]));
	json_object_object_add(sum, "fail", json_object_new_int((int)ck->count[VERDICT_FAIL]));
	json_object_object_add(root, "summary", sum);
	json_object_object_add(root, "ready", json_object_new_boolean(!ck->count[VERDICT_FAIL]));
	json_print(root);
	json_object_put(root);
}

static void print_text(const struct checks *ck)
{
	print_checks(ck);
	printf("\n%u ok, %u warnings, %u failures: %s\n", ck->count[VERDICT_OK],
	       ck->count[VERDICT_WARN], ck->count[VERDICT_FAIL],
	       ck->count[VERDICT_FAIL] ? "not ready" : "ready");
}

int cmd_check(struct cli *c, const struct cli_args *a)
{
	struct checks ck;
	struct plan pl;
	int r;

	if (a->n_pos) {
		r = plan_build(c->root, c->uid, a->pos[0], NULL, &pl);
		if (r) {
			plan_clear(&pl);
			return r;
		}
	}
	preflight(c->root, c->uid, a->n_pos ? &pl : NULL, &ck);
	if (c->json)
		print_json(a->n_pos ? &pl : NULL, &ck);
	else
		print_text(&ck);
	r = ck.count[VERDICT_FAIL] ? EXIT_NOT_READY : EXIT_OK;
	checks_clear(&ck);
	if (a->n_pos)
		plan_clear(&pl);
	return r;
}
