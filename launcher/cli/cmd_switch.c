/* SPDX-License-Identifier: MIT */
/*
 * vmrun detach|attach ADDRESS, vmrun restore [ADDRESS]: the hand-over, done through priv.h
 * (root itself, or vmrun-helper for a user), printed the same way for both.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "iommu.h"
#include "log.h"
#include "output.h"
#include "priv.h"
#include "timeutil.h"
#include "util.h"

struct out {
	bool json;
	json_object *steps;
	struct timespec t0;
};

static void on_progress(void *data, const char *msg)
{
	struct out *o = data;

	if (o->json)
		json_object_array_add(o->steps, json_object_new_string(msg));
	else
		printf("[%6.2fs] %s\n", seconds_since(&o->t0), msg);
	fflush(stdout);
}

static int finish(struct cli *c, struct out *o, const char *cmd, bool dry_run,
		  const struct priv_result *res)
{
	int code = switch_status_exit(res->status);

	if (!res->status && dry_run)
		on_progress(o, "dry run: the checks passed; nothing was changed");
	if (o->json) {
		json_object *r = json_object_new_object();

		json_object_object_add(r, "command", json_object_new_string(cmd));
		json_object_object_add(r, "status", json_object_new_string(switch_status_name(res->status)));
		json_object_object_add(r, "exit_code", json_object_new_int(code));
		json_object_object_add(r, "message", json_str_or_null(res->status ? res->why : NULL));
		json_object_object_add(r, "already", json_object_new_boolean(res->already));
		json_object_object_add(r, "dry_run", json_object_new_boolean(dry_run));
		json_object_object_add(r, "steps", json_object_get(o->steps));
		json_object_object_add(r, "group", res->group >= 0 ? json_object_new_int(res->group) : NULL);
		json_object_object_add(r, "devices", json_group_drivers(c->root, res->group));
		json_print(r);
		json_object_put(r);
	} else if (res->status) {
		log_err("%s: %s", cmd, res->why);
	} else {
		printf("[%6.2fs] %s: done\n", seconds_since(&o->t0), cmd);
	}
	json_object_put(o->steps);
	return code;
}

static int parse_timeout(const struct cli_args *a, struct switch_opts *so)
{
	const char *v = args_value(a, OPT_TIMEOUT);
	unsigned long secs;
	char *end;

	if (!v)
		return 0;
	secs = strtoul(v, &end, 10);
	if (*end || !*v || secs == 0 || secs > 3600) {
		log_err("--timeout: expected seconds between 1 and 3600, got '%s'", v);
		return EXIT_USAGE;
	}
	so->write_timeout_ms = so->probe_timeout_ms = (unsigned)secs * 1000;
	return 0;
}

static int run_op(struct cli *c, const struct cli_args *a, enum priv_op op, const char *cmd)
{
	struct priv_request rq = { .op = op, .all_groups = op == PRIV_RESTORE && a->n_pos == 0 };
	struct out o = { .json = c->json, .steps = json_object_new_array() };
	struct priv_result res;
	struct priv priv;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &o.t0);
	r = a->n_pos ? cli_parse_addr(a->pos[0], &rq.addr) : 0;
	if (!r)
		r = parse_timeout(a, &rq.opts);
	if (r) {
		json_object_put(o.steps);
		return r;
	}
	rq.opts.dry_run = args_has(a, OPT_DRY_RUN);
	rq.opts.allow_non_gpu = args_has(a, OPT_ALLOW_NON_GPU);
	priv_init(&priv, c->root, on_progress, &o);
	if (priv.helper && (rq.opts.allow_non_gpu || rq.opts.write_timeout_ms)) {
		log_err("%s: --%s is root's only: the helper hands over GPU functions alone, with its "
			"default timeouts", cmd, rq.opts.allow_non_gpu ? "allow-non-gpu" : "timeout");
		json_object_put(o.steps);
		return EXIT_USAGE;
	}
	priv_call(&priv, &rq, &res);
	return finish(c, &o, cmd, rq.opts.dry_run, &res);
}

int cmd_detach(struct cli *c, const struct cli_args *a)
{
	return run_op(c, a, PRIV_DETACH, "detach");
}

int cmd_attach(struct cli *c, const struct cli_args *a)
{
	return run_op(c, a, PRIV_ATTACH, "attach");
}

int cmd_restore(struct cli *c, const struct cli_args *a)
{
	return run_op(c, a, PRIV_RESTORE, "restore");
}
