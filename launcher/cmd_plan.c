/* SPDX-License-Identifier: MIT */
/*
 * vmrun --dry-run PROFILE: everything a run would do, resolved against this host, and the
 * exact QEMU argv, without touching anything (no directory, no NVRAM copy, no binding).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../firmware/firmware.h"
#include "cli.h"
#include "log.h"
#include "paths.h"
#include "plan.h"
#include "qemu_argv.h"

void plan_clear(struct plan *pl)
{
	fw_choice_clear(&pl->fw);
	free(pl->runtime_dir);
	free(pl->state_dir);
	free(pl->vars_path);
	free(pl->hostdevs);
	gpu_snapshot_clear(&pl->snap);
	strv_free(pl->argv);
	profile_free(pl->p);
	memset(pl, 0, sizeof(*pl));
}

static int plan_firmware(struct cli *c, struct plan *pl)
{
	const struct vm_profile *p = pl->p;
	struct fw_request req = { .arch = "x86_64", .machine = p->machine,
				  .secure_boot = p->firmware.secure_boot };
	_cleanup_free_ char *xdg = NULL, *vars_name = NULL;
	char err[512] = "";
	int r;

	if (p->firmware.type != VM_FW_UEFI)
		return 0;
	(void)user_config_home(c->uid, &xdg);
	r = p->firmware.code ? fw_from_paths(c->root->root_fd, p->firmware.code, p->firmware.vars,
					     &pl->fw, err, sizeof(err)) :
			       fw_select(c->root->root_fd, xdg, &req, &pl->fw, err, sizeof(err));
	if (r < 0) {
		log_err("%s: firmware: %s", p->source, err);
		return EXIT_NOT_READY;
	}
	r = fw_vars_name(p->name, &vars_name);
	if (r < 0 || asprintf(&pl->vars_path, "%s/%s", pl->state_dir, vars_name) < 0)
		return EXIT_ERROR;
	return 0;
}

static int add_hostdev(struct plan *pl, const struct pci_function *f, const char *rom)
{
	struct qemu_hostdev *nv;

	for (size_t i = 0; i < pl->n_hostdevs; i++)
		if (pci_addr_eq(&pl->hostdevs[i].host, &f->addr)) {
			if (rom)
				pl->hostdevs[i].rom = rom;
			return 0;
		}
	nv = reallocarray(pl->hostdevs, pl->n_hostdevs + 1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	pl->hostdevs = nv;
	nv[pl->n_hostdevs++] = (struct qemu_hostdev){ .host = f->addr, .rom = rom };
	return 0;
}

static int cmp_hostdev(const void *a, const void *b)
{
	return pci_addr_cmp(&((const struct qemu_hostdev *)a)->host,
			    &((const struct qemu_hostdev *)b)->host);
}

/* Each profile device brings its whole IOMMU group (bridges stay), unless group: false. */
static int plan_devices(struct cli *c, struct plan *pl)
{
	_cleanup_(pci_names_freep) struct pci_names *names = NULL;
	_cleanup_free_ struct pci_addr *addrs = NULL;
	const struct vm_profile *p = pl->p;
	int r;

	addrs = calloc(p->n_pci + 1, sizeof(*addrs));
	if (!addrs)
		return EXIT_ERROR;
	for (size_t i = 0; i < p->n_pci; i++) {
		struct pci_function f;
		char a[PCI_ADDR_STR_MAX];

		addrs[i] = p->pci[i].address;
		if (pci_function_read(c->root, &addrs[i], &f) < 0) {
			log_err("%s: pci[%zu].address: no PCI device %s on this host (see `vmrun gpus`)",
				p->source, i, pci_addr_format(&addrs[i], a));
			return EXIT_NOT_READY;
		}
	}
	(void)pci_names_open(c->root, &names);
	r = gpu_snapshot_of(c->root, names, addrs, p->n_pci, &pl->snap);
	if (r < 0) {
		log_err("Failed to read the profile's PCI devices: %s", strerror(-r));
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < pl->snap.n_gpus; i++) {
		const struct gpu_entry *e = &pl->snap.gpus[i];

		r = add_hostdev(pl, &e->gpu, p->pci[i].rom);
		for (size_t j = 0; r >= 0 && p->pci[i].whole_group && j < e->group.n_members; j++)
			if (e->roles[j] != ROLE_BRIDGE)
				r = add_hostdev(pl, &e->group.members[j], NULL);
		if (r < 0)
			return EXIT_ERROR;
	}
	if (pl->n_hostdevs)
		qsort(pl->hostdevs, pl->n_hostdevs, sizeof(*pl->hostdevs), cmp_hostdev);
	return 0;
}

static const struct pci_function *find_function(const struct plan *pl, const struct pci_addr *a)
{
	for (size_t i = 0; i < pl->snap.n_gpus; i++) {
		const struct gpu_entry *e = &pl->snap.gpus[i];

		if (pci_addr_eq(&e->gpu.addr, a))
			return &e->gpu;
		for (size_t j = 0; j < e->group.n_members; j++)
			if (pci_addr_eq(&e->group.members[j].addr, a))
				return &e->group.members[j];
	}
	return NULL;
}

static void print_human(const struct plan *pl)
{
	const struct vm_profile *p = pl->p;
	char a[PCI_ADDR_STR_MAX], buf[256];

	printf("Plan for VM '%s' (%s) — dry run, nothing is changed\n", p->name, p->source);
	printf("  runtime dir:  %s (QMP socket qmp.sock, pid file)\n", pl->runtime_dir);
	printf("  state dir:    %s\n", pl->state_dir);
	if (p->firmware.type == VM_FW_UEFI) {
		printf("  firmware:     %s%s (%s)\n", pl->fw.code, pl->fw.secure_boot ? ", Secure Boot" : "",
		       pl->fw.descriptor ? pl->fw.descriptor : "profile override");
		printf("  NVRAM:        %s (copied once from %s)\n", pl->vars_path, pl->fw.vars_template);
	} else {
		printf("  firmware:     BIOS\n");
	}
	for (size_t i = 0; i < pl->n_hostdevs; i++) {
		const struct pci_function *f = find_function(pl, &pl->hostdevs[i].host);

		printf("  passthrough:  %s %s [%s -> vfio-pci]\n", pci_addr_format(&pl->hostdevs[i].host, a),
		       f ? f->class_name : "", f && f->driver[0] ? f->driver : "no driver");
	}
	for (size_t i = 0; i < pl->snap.n_gpus; i++) {
		const struct gpu_entry *e = &pl->snap.gpus[i];

		if (e->group.id < 0)
			printf("  warning:      %s is in no IOMMU group: the IOMMU is off\n", e->gpu.name);
		for (size_t j = 0; j < e->group.n_members; j++)
			if (e->roles[j] == ROLE_OTHER)
				printf("  warning:      group %d also holds %s (%s), not part of the GPU\n",
				       e->group.id, e->group.members[j].name, e->group.members[j].class_name);
	}
	for (size_t k = 0; k < pl->snap.holders.n; k++)
		printf("  held:         %s by %s\n", pl->snap.holders.v[k].node,
		       holder_describe(&pl->snap.holders.v[k], buf, sizeof(buf)));
	printf("\nQEMU command (an argv, run without a shell; quoted here for copying):\n");
	for (char **v = pl->argv; *v; v++) {
		_cleanup_free_ char *q = shell_quote(*v), *q2 = NULL;
		/* An option and its value on one line: "-machine q35,...". */
		bool pair = v != pl->argv && (*v)[0] == '-' && v[1] && v[1][0] != '-';

		if (pair)
			q2 = shell_quote(*++v);
		printf("  %s%s%s%s\n", q ? q : "", pair ? " " : "", q2 ? q2 : "", v[1] ? " \\" : "");
	}
}

static void print_json_plan(const struct plan *pl)
{
	json_object *o = json_object_new_object(), *argv = json_object_new_array();
	json_object *devs = json_object_new_array(), *holders = json_object_new_array();
	const struct vm_profile *p = pl->p;
	char a[PCI_ADDR_STR_MAX];

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "profile", json_object_new_string(p->source));
	json_object_object_add(o, "runtime_dir", json_object_new_string(pl->runtime_dir));
	json_object_object_add(o, "state_dir", json_object_new_string(pl->state_dir));
	json_object_object_add(o, "qmp_socket", NULL);
	if (p->firmware.type == VM_FW_UEFI) {
		json_object *fw = json_object_new_object();

		json_object_object_add(fw, "code", json_object_new_string(pl->fw.code));
		json_object_object_add(fw, "vars_template", json_object_new_string(pl->fw.vars_template));
		json_object_object_add(fw, "vars", json_object_new_string(pl->vars_path));
		json_object_object_add(fw, "descriptor", json_str_or_null(pl->fw.descriptor));
		json_object_object_add(fw, "secure_boot", json_object_new_boolean(pl->fw.secure_boot));
		json_object_object_add(fw, "requires_smm", json_object_new_boolean(pl->fw.requires_smm));
		json_object_object_add(o, "firmware", fw);
	} else {
		json_object_object_add(o, "firmware", NULL);
	}
	for (size_t i = 0; i < pl->n_hostdevs; i++) {
		const struct pci_function *f = find_function(pl, &pl->hostdevs[i].host);
		json_object *d = f ? json_function(f) : json_object_new_object();

		if (!f)
			json_object_object_add(d, "address", json_object_new_string(
					       pci_addr_format(&pl->hostdevs[i].host, a)));
		json_object_object_add(d, "rom", json_str_or_null(pl->hostdevs[i].rom));
		json_object_array_add(devs, d);
	}
	json_object_object_add(o, "passthrough", devs);
	for (size_t k = 0; k < pl->snap.holders.n; k++)
		json_object_array_add(holders, json_holder(&pl->snap.holders.v[k]));
	json_object_object_add(o, "holders", holders);
	for (char **v = pl->argv; *v; v++)
		json_object_array_add(argv, json_object_new_string(*v));
	json_object_object_add(o, "argv", argv);
	{
		char *qmp = NULL;

		if (asprintf(&qmp, "%s/qmp.sock", pl->runtime_dir) >= 0) {
			json_object_object_add(o, "qmp_socket", json_object_new_string(qmp));
			free(qmp);
		}
	}
	json_print(o);
	json_object_put(o);
}

int plan_build(struct cli *c, struct plan *pl, const char *path)
{
	struct host_facts facts = { 0 };
	int r;

	r = cli_load_profile(path, &pl->p);
	if (r)
		return r;
	if (vm_runtime_dir(pl->p->name, c->uid, &pl->runtime_dir) < 0 ||
	    vm_state_dir(pl->p->name, c->uid, &pl->state_dir) < 0) {
		log_err("Cannot tell where %s's files go: set HOME or XDG_DATA_HOME", pl->p->name);
		return EXIT_ERROR;
	}
	r = plan_firmware(c, pl);
	if (!r)
		r = plan_devices(c, pl);
	if (r)
		return r;
	facts = (struct host_facts){ .firmware = &pl->fw, .vars_path = pl->vars_path,
				     .runtime_dir = pl->runtime_dir, .hostdevs = pl->hostdevs,
				     .n_hostdevs = pl->n_hostdevs };
	r = qemu_argv_build(pl->p, &facts, &pl->argv);
	if (r < 0) {
		log_err("Failed to build the QEMU command line: %s", strerror(-r));
		return EXIT_ERROR;
	}
	return 0;
}

int cmd_plan(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "dry-run", no_argument, NULL, 'n' },
					      {} };
	struct plan pl = { 0 };
	bool dry = false;
	int o, r;

	while ((o = getopt_long(argc, argv, "+jn", opts, NULL)) != -1) {
		if (o == 'j')
			c->json = true;
		else if (o == 'n')
			dry = true;
		else
			return EXIT_USAGE;
	}
	if (argc - optind != 1) {
		log_err("expected one profile (see vmrun --help)");
		return EXIT_USAGE;
	}
	if (!dry)
		return cmd_run(c, argv[optind]);
	r = plan_build(c, &pl, argv[optind]);
	if (!r) {
		if (c->json)
			print_json_plan(&pl);
		else
			print_human(&pl);
	}
	plan_clear(&pl);
	return r;
}
