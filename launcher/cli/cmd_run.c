/* SPDX-License-Identifier: MIT */
/*
 * vmrun [--dry-run] PROFILE: one plan (plan.h) and one pre-flight (preflight.h); --dry-run
 * prints them with the exact QEMU argv, the run refuses on a FAIL before anything changes and
 * otherwise hands the plan to run_vm(). Only the printing is here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "log.h"
#include "notify.h"
#include "output.h"
#include "plan.h"
#include "preflight.h"
#include "qemu_argv.h"
#include "run.h"
#include "timeutil.h"
#include "util.h"

struct timeline {
	struct cli *c;
	const char *vm;
	struct timespec t0;
};

/* "[  1.23s] message" for people, one JSON object a line with --json; the milestones also as
 * desktop notifications with --notify (a launcher has no terminal). */
static void on_event(void *data, const char *event, const char *msg)
{
	struct timeline *t = data;
	double s = seconds_since(&t->t0);

	if (t->c->notify && (streq(event, "running") || streq(event, "stopped") ||
			     streq(event, "forced") || streq(event, "qemu-died")))
		(void)desktop_notify(t->vm, msg, !streq(event, "running") && !streq(event, "stopped"));
	if (t->c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "t", json_object_new_double(s));
		json_object_object_add(o, "event", json_object_new_string(event));
		json_object_object_add(o, "vm", json_object_new_string(t->vm));
		json_object_object_add(o, "message", json_object_new_string(msg));
		json_print_line(o);
		json_object_put(o);
	} else {
		printf("[%7.2fs] %s\n", s, msg);
		fflush(stdout);
	}
}

static void print_argv_human(char **argv)
{
	printf("\nQEMU command (an argv, run without a shell; quoted here for copying):\n");
	for (char **v = argv; *v; v++) {
		_cleanup_free_ char *q = shell_quote(*v), *q2 = NULL;
		/* An option and its value on one line: "-machine q35,...". */
		bool pair = v != argv && (*v)[0] == '-' && v[1] && v[1][0] != '-';

		if (pair)
			q2 = shell_quote(*++v);
		printf("  %s%s%s%s\n", q ? q : "", pair ? " " : "", q2 ? q2 : "", v[1] ? " \\" : "");
	}
}

static void print_plan_human(const struct plan *pl, const struct checks *ck)
{
	const struct vm_profile *p = pl->p;
	char a[PCI_ADDR_STR_MAX];

	printf("Plan for VM '%s' (%s) — dry run, nothing is changed\n", p->name, p->source);
	printf("  runtime dir:  %s (QMP socket qmp.sock, pid file)\n", pl->runtime_dir);
	printf("  state dir:    %s\n", pl->state_dir);
	if (p->firmware.type == VM_FW_UEFI && !pl->fw_err[0]) {
		printf("  firmware:     %s%s (%s)\n", pl->fw.code, pl->fw.secure_boot ? ", Secure Boot" : "",
		       pl->fw.descriptor ? pl->fw.descriptor : "profile override");
		printf("  NVRAM:        %s (copied once from %s)\n", pl->vars_path, pl->fw.vars_template);
	} else if (p->firmware.type == VM_FW_BIOS) {
		printf("  firmware:     BIOS\n");
	}
	for (size_t i = 0; i < pl->n_hostdevs; i++) {
		const struct pci_function *f = plan_function(pl, &pl->hostdevs[i].host);

		printf("  passthrough:  %s %s [%s -> vfio-pci]\n", pci_addr_format(&pl->hostdevs[i].host, a),
		       f ? f->class_name : "", f && f->driver[0] ? f->driver : "no driver");
	}
	printf("\nChecks (as vmrun check %s):\n", p->source);
	print_checks(ck);
	if (pl->argv)
		print_argv_human(pl->argv);
}

static json_object *json_firmware(const struct plan *pl)
{
	json_object *fw;

	if (pl->p->firmware.type != VM_FW_UEFI || pl->fw_err[0])
		return NULL;
	fw = json_object_new_object();
	json_object_object_add(fw, "code", json_object_new_string(pl->fw.code));
	json_object_object_add(fw, "vars_template", json_object_new_string(pl->fw.vars_template));
	json_object_object_add(fw, "vars", json_object_new_string(pl->vars_path));
	json_object_object_add(fw, "descriptor", json_str_or_null(pl->fw.descriptor));
	json_object_object_add(fw, "secure_boot", json_object_new_boolean(pl->fw.secure_boot));
	json_object_object_add(fw, "requires_smm", json_object_new_boolean(pl->fw.requires_smm));
	return fw;
}

static void print_plan_json(const struct plan *pl, const struct checks *ck)
{
	json_object *o = json_object_new_object(), *argv = NULL, *devs = json_object_new_array();
	json_object *holders = json_object_new_array();
	char a[PCI_ADDR_STR_MAX], qmp[4200];

	json_object_object_add(o, "name", json_object_new_string(pl->p->name));
	json_object_object_add(o, "profile", json_object_new_string(pl->p->source));
	json_object_object_add(o, "runtime_dir", json_object_new_string(pl->runtime_dir));
	json_object_object_add(o, "state_dir", json_object_new_string(pl->state_dir));
	snprintf(qmp, sizeof(qmp), "%s/qmp.sock", pl->runtime_dir);
	json_object_object_add(o, "qmp_socket", json_object_new_string(qmp));
	json_object_object_add(o, "firmware", json_firmware(pl));
	for (size_t i = 0; i < pl->n_hostdevs; i++) {
		const struct pci_function *f = plan_function(pl, &pl->hostdevs[i].host);
		json_object *d = f ? json_function(f) : json_object_new_object();

		if (!f)
			json_object_object_add(d, "address", json_object_new_string(
					       pci_addr_format(&pl->hostdevs[i].host, a)));
		json_object_object_add(d, "rom", json_str_or_null(pl->hostdevs[i].rom));
		json_object_array_add(devs, d);
	}
	json_object_object_add(o, "passthrough", devs);
	for (size_t g = 0; g < pl->n_groups; g++)
		for (size_t k = 0; k < pl->groups[g].sw.holders.n; k++)
			json_object_array_add(holders, json_holder(&pl->groups[g].sw.holders.v[k]));
	json_object_object_add(o, "holders", holders);
	json_object_object_add(o, "checks", json_checks(ck));
	json_object_object_add(o, "ready", json_object_new_boolean(!ck->count[VERDICT_FAIL]));
	if (pl->argv) {
		argv = json_object_new_array();
		for (char **v = pl->argv; *v; v++)
			json_object_array_add(argv, json_object_new_string(*v));
	}
	json_object_object_add(o, "argv", argv);
	json_print(o);
	json_object_put(o);
}

/* A run stops at the pre-flight's FAILs, each said with its fix; nothing has changed. */
static int refuse(struct timeline *t, const struct checks *ck)
{
	const struct check_item *first = checks_first_fail(ck);
	char msg[1600];

	for (size_t i = 0; i < ck->n; i++) {
		const struct check_item *it = &ck->v[i];

		if (it->verdict != VERDICT_FAIL)
			continue;
		snprintf(msg, sizeof(msg), "%s%s%s", it->msg, it->fix[0] ? "; fix: " : "", it->fix);
		if (t->c->json)
			on_event(t, "check-failed", msg);
		log_err("%s", msg);
	}
	return first->exit_code ? first->exit_code : EXIT_NOT_READY;
}

static int run_or_install(struct cli *c, const struct cli_args *a, const struct plan_opts *o)
{
	struct timeline t = { .c = c };
	struct run_ui ui = { .event = on_event, .data = &t };
	struct checks ck = { 0 };
	struct plan pl;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t.t0);
	r = plan_build(c->root, c->uid, a->pos[0], o, &pl);
	if (r) {
		plan_clear(&pl);
		return r;
	}
	t.vm = pl.p->name;
	preflight(c->root, c->uid, &pl, &ck);
	if (args_has(a, OPT_DRY_RUN)) {
		if (c->json)
			print_plan_json(&pl, &ck);
		else
			print_plan_human(&pl, &ck);
		r = checks_first_fail(&ck) ? checks_first_fail(&ck)->exit_code : EXIT_OK;
	} else if (checks_first_fail(&ck)) {
		r = refuse(&t, &ck);
	} else {
		char msg[4200];

		snprintf(msg, sizeof(msg), "profile %s: checks passed", pl.p->source);
		on_event(&t, "checks", msg);
		r = run_vm(&pl, &ui);
	}
	checks_clear(&ck);
	plan_clear(&pl);
	return r;
}

int cmd_run(struct cli *c, const struct cli_args *a)
{
	const struct plan_opts o = { .accel = args_value(a, OPT_ACCEL),
				     .release = args_has(a, OPT_RELEASE) };

	return run_or_install(c, a, &o);
}

int cmd_install(struct cli *c, const struct cli_args *a)
{
	const struct plan_opts o = { .install = true, .no_gpu = args_has(a, OPT_NO_GPU),
				     .accel = args_value(a, OPT_ACCEL) };

	return run_or_install(c, a, &o);
}
