/* SPDX-License-Identifier: MIT */
/* vmrun: run a QEMU VM with a passed-through GPU and give the GPU back afterwards. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "notify.h"

#define VMRUN_VERSION "0.1.0"

static const struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *help;
} commands[] = {
	{ "gpus", cmd_gpus, "show display devices, IOMMU groups, drivers and holders" },
	{ "check", cmd_check, "readiness report for this host (and a profile)" },
	{ "detach", cmd_detach, "hand a GPU's whole IOMMU group to vfio-pci" },
	{ "attach", cmd_attach, "give the group back to its host drivers" },
	{ "restore", cmd_restore, "finish or undo an interrupted switch from its journal" },
	{ "status", cmd_status, "running VMs, switched groups and pending restores" },
	{ "stop", cmd_stop, "ask a running VM to power down (--force: quit now)" },
	{ "setup", cmd_setup, "propose (and with --yes apply) the host set-up, as diffs; --undo reverts" },
	{ "desktop-entry", cmd_desktop_entry, "write (or --remove) a desktop launcher for a profile" },
};

/* With --notify (desktop launchers have no terminal), errors also become notifications. */
static void log_with_notify(enum log_level lvl, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "vmrun: %s%s\n", lvl == LOG_LVL_ERR ? "error: " : lvl == LOG_LVL_WARN ?
		"warning: " : "", msg);
	if (lvl == LOG_LVL_ERR)
		(void)desktop_notify("vmrun", msg, true);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vmrun [OPTIONS] PROFILE            run the VM a profile describes (a path, or\n"
		"                                          NAME for ~/.config/vmrun/NAME.yaml)\n"
		"       vmrun --dry-run [--json] PROFILE   print the plan and QEMU argv, change nothing\n"
		"       vmrun COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
	fprintf(f,
		"\nOptions:\n"
		"  -n, --dry-run   resolve everything, print the plan, touch nothing\n"
		"  -j, --json      machine-readable output\n"
		"  -v, --verbose   more detail (debug messages)\n"
		"      --notify    also report a run's progress and failure as desktop notifications\n"
		"      --root DIR  read the host from DIR instead of / (for tests)\n"
		"  -h, --help      this text\n"
		"      --version   print the version\n"
		"\nExit codes:\n"
		"  0  success; for check: nothing failed\n"
		"  1  an operation failed on the host\n"
		"  2  bad input: usage, a profile, a PCI address (nothing was touched)\n"
		"  3  busy: a process holds the device (named), or another vmrun switches it\n"
		"  4  refused or not ready: a check failed, IOMMU off, a non-GPU device in the\n"
		"     group, the GPU drives the console, a device or firmware is missing\n"
		"  5  an interrupted switch is pending, or the GPU could not be given back:\n"
		"     run `vmrun restore`\n"
		"  6  the VM was stopped by force (it did not power down within shutdown_timeout)\n"
		"  7  QEMU failed to start or ended unexpectedly (crashed, killed)\n");
}

int main(int argc, char **argv)
{
	_cleanup_(sysroot_freep) struct sysroot *root = NULL;
	const char *root_path = "/";
	struct cli c = { .uid = geteuid() };
	int i, r;

	/* Global options come before the command; stop at the first non-option. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (streq(argv[i], "--version")) {
			printf("vmrun %s\n", VMRUN_VERSION);
			return EXIT_OK;
		} else if (streq(argv[i], "-v") || streq(argv[i], "--verbose")) {
			c.verbose++;
		} else if (streq(argv[i], "--notify")) {
			c.notify = true;
		} else if (streq(argv[i], "--root") && i + 1 < argc) {
			root_path = argv[++i];
		} else if (strncmp(argv[i], "--root=", 7) == 0) {
			root_path = argv[i] + 7;
		} else if (streq(argv[i], "-j") || streq(argv[i], "--json") ||
			   streq(argv[i], "-n") || streq(argv[i], "--dry-run")) {
			break; /* options of the run/plan form */
		} else {
			log_err("unknown option '%s' (see vmrun --help)", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (c.verbose)
		log_set_max_level(LOG_LVL_DEBUG);
	if (c.notify)
		(void)log_set_fn(log_with_notify);
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	r = sysroot_open(root_path, &root);
	if (r < 0) {
		log_err("Cannot open the system root '%s': %s", root_path, strerror(-r));
		return EXIT_USAGE;
	}
	c.root = root;
	optind = 0; /* reset getopt for the subcommand, which sees argv[i..] */
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
		if (streq(argv[i], commands[k].name))
			return commands[k].fn(&c, argc - i, argv + i);
	/* Otherwise the run form: vmrun [--dry-run] [--json] PROFILE; argv[i-1] plays argv[0]. */
	return cmd_plan(&c, argc - i + 1, argv + i - 1);
}
