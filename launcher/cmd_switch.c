/* SPDX-License-Identifier: MIT */
/* vmrun detach|attach ADDR, vmrun restore [ADDR], vmrun status: the GPU hand-over. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "journal.h"
#include "log.h"
#include "privhelper.h"
#include "switch.h"

struct out {
	bool json;
	json_object *steps;
	struct timespec t0;
};

static double elapsed(const struct out *o)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - o->t0.tv_sec) + (double)(t.tv_nsec - o->t0.tv_nsec) / 1e9;
}

static void on_progress(void *data, const char *fmt, ...)
{
	struct out *o = data;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o->json)
		json_object_array_add(o->steps, json_object_new_string(msg));
	else
		printf("[%6.2fs] %s\n", elapsed(o), msg);
	fflush(stdout);
}

static int exit_code(enum switch_status st)
{
	switch (st) {
	case SW_OK: return EXIT_OK;
	case SW_HELD:
	case SW_BUSY: return EXIT_BUSY;
	case SW_REFUSED: return EXIT_NOT_READY;
	case SW_NEEDS_RESTORE: return EXIT_RECOVER;
	case SW_BAD_INPUT: return EXIT_USAGE;
	case SW_STUCK: return EXIT_RECOVER; /* a write hung: the journal waits for restore */
	case SW_FAILED: break;
	}
	return EXIT_ERROR;
}

static const char *status_name(enum switch_status st)
{
	static const char *const names[] = {
		[SW_OK] = "ok",           [SW_HELD] = "held",     [SW_REFUSED] = "refused",
		[SW_NEEDS_RESTORE] = "needs-restore", [SW_FAILED] = "failed", [SW_STUCK] = "stuck",
		[SW_BUSY] = "busy",       [SW_BAD_INPUT] = "bad-input",
	};
	return names[st];
}

/* After the fact, what each function of the group is bound to: the outcome, not the intent. */
static json_object *group_state(const struct sysroot *s, const struct pci_addr *a)
{
	json_object *arr = json_object_new_array();
	struct pci_function f;
	struct iommu_group g;

	if (pci_function_read(s, a, &f) < 0 || iommu_group_read(s, f.iommu_group, &g) < 0)
		return arr;
	for (size_t i = 0; i < g.n_members; i++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "address", json_object_new_string(g.members[i].name));
		json_object_object_add(d, "driver", json_str_or_null(g.members[i].driver));
		json_object_array_add(arr, d);
	}
	iommu_group_clear(&g);
	return arr;
}

static int finish(struct cli *c, struct out *o, struct switch_ctx *ctx, const char *cmd,
		  const struct pci_addr *a, enum switch_status st)
{
	if (o->json) {
		json_object *r = json_object_new_object();

		json_object_object_add(r, "command", json_object_new_string(cmd));
		json_object_object_add(r, "status", json_object_new_string(status_name(st)));
		json_object_object_add(r, "exit_code", json_object_new_int(exit_code(st)));
		json_object_object_add(r, "message", json_str_or_null(st ? ctx->why : NULL));
		json_object_object_add(r, "steps", o->steps);
		if (a)
			json_object_object_add(r, "devices", group_state(c->root, a));
		json_print(r);
		json_object_put(r);
	} else {
		json_object_put(o->steps);
		if (st)
			log_err("%s: %s", cmd, ctx->why);
		else
			printf("[%6.2fs] %s: done\n", elapsed(o), cmd);
	}
	return exit_code(st);
}

static int parse_opts(int argc, char **argv, struct cli *c, struct switch_opts *so, bool *rescan_unused)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },          { "dry-run", no_argument, NULL, 'n' },
		{ "allow-non-gpu", no_argument, NULL, 'A' }, { "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },          {}
	};
	int o;

	(void)rescan_unused;
	while ((o = getopt_long(argc, argv, "+jnht:", opts, NULL)) != -1) {
		switch (o) {
		case 'j': c->json = true; break;
		case 'n': so->dry_run = true; break;
		case 'A': so->allow_non_gpu = true; break;
		case 't': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || v == 0 || v > 3600) {
				log_err("--timeout: expected seconds between 1 and 3600, got '%s'", optarg);
				return EXIT_USAGE;
			}
			so->write_timeout_ms = so->probe_timeout_ms = (unsigned)v * 1000;
			break;
		}
		case 'h':
			printf("vmrun %s [--json] [--dry-run] [--timeout SECS]%s\n", argv[0],
			       streq(argv[0], "restore") ? " [ADDRESS]" : " ADDRESS");
			return -1;
		default: return EXIT_USAGE;
		}
	}
	return 0;
}

static int open_ctx(struct cli *c, struct switch_ctx *ctx, struct out *o)
{
	int r;

	*ctx = (struct switch_ctx){ .s = c->root, .k = &kernel_real, .state_fd = -1,
				    .progress = on_progress, .progress_data = o };
	r = switch_state_open(c->root, &ctx->state_fd);
	if (r == -EACCES || r == -EPERM || (r == 0 && geteuid() != 0 && streq(c->root->path, "/"))) {
		log_err("switching drivers needs root: run vmrun as root%s",
			r == -EPERM ? " (and /run/vmrun/switch must be root's alone, mode 0700)" : "");
		safe_close(ctx->state_fd);
		return EXIT_ERROR;
	}
	if (r < 0) {
		log_err("Cannot open /run/vmrun/switch: %s", strerror(-r));
		return EXIT_ERROR;
	}
	return 0;
}

static int cmd_move(struct cli *c, int argc, char **argv, bool detach)
{
	struct switch_opts so = { 0 };
	struct out o = { .json = c->json };
	struct switch_ctx ctx;
	struct pci_addr a;
	enum switch_status st;
	int r;

	r = parse_opts(argc, argv, c, &so, NULL);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (argc - optind != 1) {
		log_err("%s: expected one PCI address (see vmrun gpus)", argv[0]);
		return EXIT_USAGE;
	}
	r = cli_parse_addr(argv[optind], &a);
	if (r)
		return r;
	if (!so.dry_run && privhelper_needed(c->root)) {
		char name[PCI_ADDR_STR_MAX];

		return privhelper_run(detach ? "detach" : "attach", pci_addr_format(&a, name));
	}
	o.json = c->json;
	o.steps = json_object_new_array();
	clock_gettime(CLOCK_MONOTONIC, &o.t0);
	r = open_ctx(c, &ctx, &o);
	if (r) {
		json_object_put(o.steps);
		return r;
	}
	/* A Ctrl-C mid-switch must not leave the group half-moved: finish, then report. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	st = detach ? switch_detach(&ctx, &a, &so) : switch_attach(&ctx, &a, &so);
	if (so.dry_run && !st)
		on_progress(&o, "dry run: the checks passed; nothing was changed");
	r = finish(c, &o, &ctx, argv[0], &a, st);
	safe_close(ctx.state_fd);
	return r;
}

int cmd_detach(struct cli *c, int argc, char **argv)
{
	return cmd_move(c, argc, argv, true);
}

int cmd_attach(struct cli *c, int argc, char **argv)
{
	return cmd_move(c, argc, argv, false);
}

int cmd_restore(struct cli *c, int argc, char **argv)
{
	struct switch_opts so = { 0 };
	struct out o = { .json = c->json };
	struct switch_ctx ctx;
	struct pci_addr a;
	struct pci_function f;
	int r, group = -1;
	enum switch_status st;

	r = parse_opts(argc, argv, c, &so, NULL);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (argc - optind > 1) {
		log_err("restore: expected at most one PCI address");
		return EXIT_USAGE;
	}
	if (optind < argc) {
		r = cli_parse_addr(argv[optind], &a);
		if (r)
			return r;
		if (pci_function_read(c->root, &a, &f) < 0 || f.iommu_group < 0) {
			log_err("restore: no PCI device %s in an IOMMU group", argv[optind]);
			return EXIT_NOT_READY;
		}
		group = f.iommu_group;
	}
	if (privhelper_needed(c->root)) {
		if (group < 0) {
			log_err("restore: as a user, name the GPU: vmrun restore ADDRESS");
			return EXIT_USAGE;
		}
		return privhelper_run("restore", f.name);
	}
	o.json = c->json;
	o.steps = json_object_new_array();
	clock_gettime(CLOCK_MONOTONIC, &o.t0);
	r = open_ctx(c, &ctx, &o);
	if (r) {
		json_object_put(o.steps);
		return r;
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	st = switch_restore(&ctx, group, &so);
	r = finish(c, &o, &ctx, "restore", group >= 0 ? &a : NULL, st);
	safe_close(ctx.state_fd);
	return r;
}

static bool alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	_cleanup_free_ int *groups = NULL;
	json_object *arr = json_object_new_array();
	struct switch_ctx ctx;
	struct out o = { 0 };
	size_t n = 0;
	int r, pending = 0;

	if (argc > 1 && (streq(argv[1], "--json") || streq(argv[1], "-j")))
		c->json = true;
	/* A user sees their VMs; the switch journals are root's alone. */
	if (privhelper_needed(c->root)) {
		ctx = (struct switch_ctx){ .state_fd = -1 };
	} else {
		r = open_ctx(c, &ctx, &o);
		if (r) {
			json_object_put(arr);
			return r;
		}
		(void)journal_list(ctx.state_fd, &groups, &n);
	}
	for (size_t i = 0; i < n; i++) {
		struct journal j;
		json_object *e = json_object_new_object();
		const char *state;

		if (journal_read(ctx.state_fd, groups[i], &j) < 0) {
			json_object_object_add(e, "group", json_object_new_int(groups[i]));
			json_object_object_add(e, "state", json_object_new_string("invalid-journal"));
			json_object_array_add(arr, e);
			pending++;
			continue;
		}
		if (streq(j.state, "in-progress"))
			state = alive(j.pid) ? (streq(j.op, "detach") ? "detaching" : "attaching") :
					       "restore-pending";
		else
			state = "detached";
		pending += streq(state, "restore-pending");
		json_object_object_add(e, "group", json_object_new_int(groups[i]));
		json_object_object_add(e, "gpu", json_object_new_string(j.plan.gpu.name));
		json_object_object_add(e, "state", json_object_new_string(state));
		json_object_object_add(e, "pid", json_object_new_int(j.pid));
		json_object_object_add(e, "devices", group_state(c->root, &j.plan.gpu.addr));
		json_object_array_add(arr, e);
		if (!c->json)
			printf("IOMMU group %d (%s): %s%s\n", groups[i], j.plan.gpu.name, state,
			       streq(state, "restore-pending") ? " — run `vmrun restore`" : "");
		journal_clear(&j);
	}
	bool vm_pending = false;
	json_object *vms = vm_list(c, ctx.state_fd, &vm_pending);

	pending += vm_pending;
	if (c->json) {
		json_object *root = json_object_new_object();

		json_object_object_add(root, "vms", vms);
		json_object_object_add(root, "switches", arr);
		json_object_object_add(root, "restore_pending", json_object_new_boolean(pending > 0));
		json_print(root);
		json_object_put(root);
	} else {
		for (size_t i = 0; i < json_object_array_length(vms); i++) {
			json_object *v = json_object_array_get_idx(vms, i), *x;
			const char *st = json_object_object_get_ex(v, "qmp_status", &x) ?
						 json_object_get_string(x) : "unknown";
			bool running = json_object_object_get_ex(v, "running", &x) && json_object_get_boolean(x);

			json_object_object_get_ex(v, "name", &x);
			printf("VM %s: ", json_object_get_string(x));
			if (running) {
				json_object *pid, *up, *gg;

				json_object_object_get_ex(v, "pid", &pid);
				json_object_object_get_ex(v, "uptime", &up);
				json_object_object_get_ex(v, "gpu_groups", &gg);
				printf("running (vmrun pid %d, up %llds, guest %s, GPU groups %s)\n",
				       json_object_get_int(pid), (long long)json_object_get_int64(up), st,
				       json_object_to_json_string_ext(gg, JSON_C_TO_STRING_PLAIN));
			} else {
				printf("not running%s\n", json_object_object_get_ex(v, "restore_pending", &x) &&
				       json_object_get_boolean(x) ? "; its GPU is still on vfio-pci: run `vmrun restore`" : "");
			}
		}
		if (!n && !pending && json_object_array_length(vms) == 0)
			printf("No VM is running and no GPU is switched to vfio-pci by vmrun.\n");
		json_object_put(vms);
		json_object_put(arr);
	}
	safe_close(ctx.state_fd);
	return EXIT_OK;
}
