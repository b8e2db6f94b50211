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
#include "isolate.h"
#include "log.h"
#include "names.h"
#include "paths.h"
#include "profile_path.h"
#include "resource.h"
#include <unistd.h>
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

/* Root's restore of everything: a cpu.isolate a killed run left in force goes too. */
static void restore_isolation(struct cli *c, struct out *o, bool dry_run, struct priv_result *res)
{
	char why[512];

	if (!isolate_pending(c->root))
		return;
	if (dry_run) {
		on_progress(o, "cpu.isolate: would give the host's slices all their CPUs again");
		return;
	}
	if (isolate_restore(c->root, why, sizeof(why)) < 0) {
		if (!res->status) {
			res->status = SW_FAILED;
			snprintf(res->why, sizeof(res->why), "cpu.isolate: %s", why);
		}
		return;
	}
	on_progress(o, "cpu.isolate: the host's slices have all their CPUs again");
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
	rq.opts.release = args_has(a, OPT_RELEASE);
	priv_init(&priv, c->root, on_progress, &o);
	if (priv.helper && (rq.opts.allow_non_gpu || rq.opts.write_timeout_ms)) {
		log_err("%s: --%s is root's only: the helper hands over GPU functions alone, with its "
			"default timeouts", cmd, rq.opts.allow_non_gpu ? "allow-non-gpu" : "timeout");
		json_object_put(o.steps);
		return EXIT_USAGE;
	}
	priv_call(&priv, &rq, &res);
	if (rq.all_groups && !priv.helper)
		restore_isolation(c, &o, rq.opts.dry_run, &res);
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

/* ---- vmrun restore NAME: what a VM's dead run left, from its vm.json ---- */

static void vm_progress(void *data, const char *msg)
{
	on_progress(data, msg);
}

/* The VM's runtime directory, by its name, or by the name in the profile NAME resolves to
 * (a unit's %i is the profile's). -ENOENT when neither has one (*known: a profile says there is
 * such a VM). */
static int open_vm_dir(struct cli *c, const char *arg, char **ret_name, int *ret_fd, bool *known)
{
	_cleanup_free_ char *dir = NULL;
	struct vm_profile *p = NULL;
	log_fn_t old;
	int fd = -1;

	if (names_vm_valid(arg) && paths_runtime_dir(c->root, arg, c->uid, &dir) == 0 &&
	    vmdir_open(dir, false, &fd, NULL) == 0) {
		*ret_fd = fd;
		return (*ret_name = strdup(arg)) ? 0 : -ENOMEM;
	}
	old = log_set_fn(NULL); /* not a profile either: the caller says so */
	*known = profile_path_load(arg, &p) == 0;
	if (*known && paths_runtime_dir(c->root, p->name, c->uid, &dir) == 0 &&
	    vmdir_open(dir, false, &fd, NULL) == 0)
		*ret_name = strdup(p->name);
	(void)log_set_fn(old);
	profile_free(p);
	*ret_fd = fd;
	return fd < 0 ? -ENOENT : *ret_name ? 0 : -ENOMEM;
}

/* A guard giving the VM back holds its lock; it is done within a minute or two. */
static bool wait_unlocked(int fd, struct out *o)
{
	uint64_t end = now_ms() + 180000;

	on_progress(o, "its guard is giving back what its vmrun left; waiting for it");
	while (vmdir_is_running(fd) && now_ms() < end)
		(void)usleep(200000);
	return !vmdir_is_running(fd);
}

static int restore_vm(struct cli *c, const struct cli_args *a, const char *arg)
{
	struct out o = { .json = c->json, .steps = json_object_new_array() };
	struct priv_result res = { .group = -1 };
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int fd = -1, lock = -1;
	bool known = false;
	struct vmdir_info vi;
	struct priv priv;
	char msg[128];
	int r;

	clock_gettime(CLOCK_MONOTONIC, &o.t0);
	r = open_vm_dir(c, arg, &name, &fd, &known);
	if (r == -ENOENT && !known) {
		json_object_put(o.steps);
		log_err("restore: '%s' is neither a PCI address nor a VM (no run of it, no profile)", arg);
		return EXIT_USAGE;
	}
	if (r == -ENOENT || (r == 0 && vmdir_info_read(fd, &vi) == -ENOENT)) {
		on_progress(&o, "nothing to give back: no run of it left anything");
		return finish(c, &o, "restore", false, &res);
	}
	if (r < 0 || vmdir_info_read(fd, &vi) < 0) {
		json_object_put(o.steps);
		log_err("restore: %s: %s", arg, r < 0 ? strerror(-r) : "its vm.json is unreadable");
		return EXIT_ERROR;
	}
	if (vmdir_is_running(fd) && !(streq(vi.state, "recovering") && wait_unlocked(fd, &o))) {
		json_object_put(o.steps);
		log_err("restore: VM '%s' is running (vmrun pid %d): `vmrun stop %s` stops it and gives "
			"everything back", name, (int)vi.pid, name);
		return EXIT_BUSY;
	}
	/* Locked, as a run would: none starts while this gives back its predecessor's. */
	if (vmdir_lock(fd, &lock) < 0 || vmdir_info_read(fd, &vi) < 0 || !vmdir_info_has_changes(&vi)) {
		on_progress(&o, lock < 0 ? "a run of it started meanwhile: it gives back what is left" :
				"nothing to give back: no run of it left anything");
		return finish(c, &o, "restore", false, &res);
	}
	if (args_has(a, OPT_DRY_RUN)) {
		snprintf(msg, sizeof(msg), "would give back what its last run (vmrun pid %d) left",
			 (int)vi.pid);
		on_progress(&o, msg);
		return finish(c, &o, "restore", true, &res);
	}
	priv_init(&priv, c->root, vm_progress, &o);
	if (run_recover(&priv, fd, &vi, vm_progress, &o) != 0) {
		res.status = SW_NEEDS_RESTORE;
		snprintf(res.why, sizeof(res.why), "%s: not everything its last run left could be "
			 "given back (above)", name);
	}
	return finish(c, &o, "restore", false, &res);
}

int cmd_restore(struct cli *c, const struct cli_args *a)
{
	struct pci_addr addr;

	/* A VM name has no ':'; a mistyped address is said to be one, not looked up as a VM. */
	if (a->n_pos && !strchr(a->pos[0], ':') && pci_addr_parse(a->pos[0], &addr) < 0)
		return restore_vm(c, a, a->pos[0]);
	return run_op(c, a, PRIV_RESTORE, "restore");
}
