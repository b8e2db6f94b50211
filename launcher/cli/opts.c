/* SPDX-License-Identifier: MIT */
/*
 * The command line's one table: every command with its arguments and options, and every
 * option. The parser, `vmrun --help`, each `vmrun COMMAND --help`, and the tests that hold
 * the man page and the shell completions to it all read this table.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define VMRUN_VERSION "0.2.0"

const struct cli_opt cli_options[] = {
	{ OPT_HELP, "help", 'h', NULL, "this text" },
	{ OPT_VERSION, "version", 0, NULL, "print the version" },
	{ OPT_JSON, "json", 'j', NULL, "machine-readable output (a run: one JSON object per line)" },
	{ OPT_VERBOSE, "verbose", 'v', NULL, "more detail (debug messages)" },
	{ OPT_NOTIFY, "notify", 0, NULL, "also report a run's progress and failure as desktop "
					 "notifications (for launcher entries)" },
	{ OPT_ROOT, "root", 0, "DIR", "read the host from DIR instead of / (for tests)" },
	{ OPT_DRY_RUN, "dry-run", 'n', NULL, "resolve and check everything, print what would be "
					     "done, change nothing" },
	{ OPT_ALLOW_NON_GPU, "allow-non-gpu", 0, NULL, "also hand over group members that are not "
						      "part of the GPU" },
	{ OPT_TIMEOUT, "timeout", 't', "SECS", "give up on a sysfs write or a driver probe after "
					       "SECS seconds (default 10)" },
	{ OPT_FORCE, "force", 'f', NULL, "make QEMU quit at once instead of an ACPI power-down" },
	{ OPT_YES, "yes", 'y', NULL, "apply the proposed changes (backups kept)" },
	{ OPT_UNDO, "undo", 'u', NULL, "restore every file setup changed, byte for byte" },
	{ OPT_REMOVE, "remove", 'r', NULL, "remove the launcher instead" },
	{ OPT_NAME, "name", 'N', "NAME", "the name shown in the menu (default: \"VM (VM)\")" },
	{ OPT_NO_GPU, "no-gpu", 0, NULL, "install without the profile's passthrough GPU (the "
					 "installer's display only)" },
	{ OPT_OS, "os", 0, "OS", "windows11 (default), windows10 or linux" },
	{ OPT_GPU, "gpu", 0, "ADDRESS", "the GPU to pass through (default: the one GPU that is not "
				       "the host's display); \"none\" for none" },
	{ OPT_ISO, "iso", 0, "PATH", "the installer's ISO (install.media)" },
	{ OPT_DRIVERS, "drivers", 0, "PATH", "the virtio-win driver ISO (install.media)" },
	{ OPT_DISK, "disk", 0, "PATH", "the disk image (default: NAME.qcow2 in the VM's state "
				      "directory)" },
	{ OPT_DISK_SIZE, "disk-size", 0, "SIZE", "create the disk image with qemu-img, this big "
						"(default 128G); never overwrites" },
	{ OPT_MEMORY, "memory", 0, "SIZE", "guest memory (default: from the host's, leaving it enough)" },
	{ OPT_CORES, "cores", 0, "N", "guest cores (default: from the host's, leaving it some)" },
	{ OPT_ACCEL, "accel", 0, "kvm|tcg", "the accelerator (new: default kvm when /dev/kvm is "
					    "usable; a run: instead of the profile's)" },
	{ OPT_OUTPUT, "output", 'o', "FILE", "where to write the profile (default: "
					    "~/.config/vmrun/NAME.yaml); never overwrites" },
	{ OPT_RELEASE, "release", 0, NULL, "a Wayland compositor holding the GPU as a secondary GPU "
					  "(KWin, sway, Hyprland) is asked to let go of it for the run, "
					  "and gets it back after; its monitors on it go dark" },
	{ OPT_NONE, NULL, 0, NULL, NULL },
};

const enum opt_id cli_global_opts[] = { OPT_HELP, OPT_VERSION, OPT_JSON, OPT_VERBOSE,
					OPT_NOTIFY, OPT_ROOT, OPT_NONE };

static const enum opt_id run_opts[] = { OPT_DRY_RUN, OPT_ACCEL, OPT_RELEASE, OPT_NONE };
static const enum opt_id detach_opts[] = { OPT_DRY_RUN, OPT_ALLOW_NON_GPU, OPT_TIMEOUT, OPT_RELEASE,
						OPT_NONE };
static const enum opt_id attach_opts[] = { OPT_DRY_RUN, OPT_TIMEOUT, OPT_NONE };
static const enum opt_id stop_opts[] = { OPT_FORCE, OPT_NONE };
static const enum opt_id setup_opts[] = { OPT_YES, OPT_UNDO, OPT_NONE };
static const enum opt_id desktop_opts[] = { OPT_REMOVE, OPT_NAME, OPT_NONE };
static const enum opt_id no_opts[] = { OPT_NONE };
static const enum opt_id install_opts[] = { OPT_DRY_RUN, OPT_NO_GPU, OPT_ACCEL, OPT_NONE };
static const enum opt_id new_opts[] = { OPT_OS, OPT_GPU, OPT_ISO, OPT_DRIVERS, OPT_DISK,
					OPT_DISK_SIZE, OPT_MEMORY, OPT_CORES, OPT_ACCEL, OPT_OUTPUT,
					OPT_NONE };

const struct cli_cmd cli_commands[] = {
	{ NULL, "PROFILE", 1, 1, "run the VM a profile describes (a path, or NAME for "
				 "~/.config/vmrun/NAME.yaml)", run_opts, cmd_run,
	  "Checks the host (as `vmrun check PROFILE`), detaches the GPU, starts QEMU, supervises\n"
	  "it over QMP and gives the GPU back however it ends. SIGINT/SIGTERM ask the guest to\n"
	  "power down. With --dry-run: the plan, the checks and the exact QEMU argv." },
	{ "new", "NAME", 1, 1, "write a commented profile for a new VM (and create its disk)",
	  new_opts, cmd_new,
	  "Chooses the GPU, memory and cores from this host and says what it chose; for Windows 11\n"
	  "turns on the TPM and Secure Boot. The profile is validated before it is written." },
	{ "install", "PROFILE", 1, 1, "run the VM with its install.media attached and booted, and "
				      "an installer display", install_opts, cmd_install,
	  "The first of install.media boots (the others, like virtio-win, are CD-ROMs too); the\n"
	  "installer's display is install.display (default: gtk in a desktop session, else VNC\n"
	  "on localhost). Space is pressed in the first seconds for \"Press any key to boot from\n"
	  "CD\". A plain `vmrun PROFILE` afterwards boots the disk, without the media." },
	{ "gpus", "[ADDRESS]", 0, 1, "show display devices, IOMMU groups, drivers and holders",
	  no_opts, cmd_gpus, NULL },
	{ "check", "[PROFILE]", 0, 1, "readiness report for this host (and a profile)", no_opts,
	  cmd_check, "Each line ok, warn or FAIL with the fix. Exit 0 when nothing fails, 4 otherwise." },
	{ "detach", "ADDRESS", 1, 1, "hand a GPU's whole IOMMU group to vfio-pci", detach_opts,
	  cmd_detach, NULL },
	{ "attach", "ADDRESS", 1, 1, "give the group back to its host drivers", attach_opts,
	  cmd_attach, NULL },
	{ "restore", "[ADDRESS|NAME]", 0, 1, "finish or undo an interrupted switch; give back what "
	  "a VM's dead run left", attach_opts, cmd_restore, "ADDRESS: that GPU's group, from its "
	  "journal. NAME: everything the VM's last run changed and did not give back (its GPUs, "
	  "hugepages, input ACLs, isolation, Looking Glass file). Neither (root only): every group "
	  "with a journal, and a CPU isolation left in force." },
	{ "status", NULL, 0, 0, "running VMs, switched groups and pending restores", no_opts,
	  cmd_status, NULL },
	{ "stop", "NAME", 1, 1, "ask a running VM to power down (--force: quit now)", stop_opts,
	  cmd_stop, "Waits until its vmrun has given the GPU back." },
	{ "setup", "[PROFILE]", 0, 1, "propose (and with --yes apply) the host set-up, as diffs; "
				      "--undo reverts", setup_opts, cmd_setup,
	  "Proposes the IOMMU kernel options, an Xorg snippet keeping X off the passthrough GPU,\n"
	  "the Wayland compositors' settings and the allow-file entry, as diffs. --yes applies\n"
	  "them (backups in /var/lib/vmrun/setup), --undo restores every file it changed." },
	{ "desktop-entry", "PROFILE", 1, 1, "write (or --remove) a desktop launcher for a profile",
	  desktop_opts, cmd_desktop_entry,
	  "Writes $XDG_DATA_HOME/applications/vmrun-VM.desktop (~/.local/share/applications by\n"
	  "default); PROFILE is a file or a VM name ($XDG_CONFIG_HOME/vmrun/NAME.yaml)." },
};
const size_t cli_n_commands = ARRAY_SIZE(cli_commands);

static const struct cli_opt *opt_by_id(enum opt_id id)
{
	for (const struct cli_opt *o = cli_options; o->name; o++)
		if (o->id == id)
			return o;
	return NULL;
}

static const struct cli_opt *opt_by_long(const char *name, size_t len)
{
	for (const struct cli_opt *o = cli_options; o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static const struct cli_opt *opt_by_short(char c)
{
	for (const struct cli_opt *o = cli_options; o->name; o++)
		if (o->shortname && o->shortname == c)
			return o;
	return NULL;
}

static bool in_list(const enum opt_id *list, enum opt_id id)
{
	for (; list && *list; list++)
		if (*list == id)
			return true;
	return false;
}

static const char *cmd_name(const struct cli_cmd *cmd)
{
	return cmd && cmd->name ? cmd->name : "PROFILE";
}

static void print_opt(FILE *f, const struct cli_opt *o)
{
	char left[48];

	snprintf(left, sizeof(left), "%c%c%c --%s%s%s", o->shortname ? '-' : ' ',
		 o->shortname ? o->shortname : ' ', o->shortname ? ',' : ' ', o->name,
		 o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(f, "  %-22s %s\n", left, o->help);
}

void cli_command_help(FILE *f, const struct cli_cmd *cmd)
{
	if (cmd->name)
		fprintf(f, "Usage: vmrun %s [OPTIONS]%s%s\n", cmd->name, cmd->args ? " " : "",
			cmd->args ? cmd->args : "");
	else
		fprintf(f, "Usage: vmrun [OPTIONS] %s\n", cmd->args);
	fprintf(f, "  %s.\n", cmd->summary);
	if (cmd->details)
		fprintf(f, "\n%s\n", cmd->details);
	if (cmd->opts && *cmd->opts) {
		fprintf(f, "\nOptions:\n");
		for (const enum opt_id *id = cmd->opts; *id; id++)
			if (opt_by_id(*id))
				print_opt(f, opt_by_id(*id));
	}
	fprintf(f, "\nGlobal options:\n");
	for (const enum opt_id *id = cli_global_opts; *id; id++)
		if (opt_by_id(*id))
			print_opt(f, opt_by_id(*id));
}

void cli_usage(FILE *f)
{
	fprintf(f, "Usage: vmrun [OPTIONS] PROFILE         run the VM a profile describes (a path,\n"
		   "                                       or NAME for ~/.config/vmrun/NAME.yaml)\n"
		   "       vmrun --dry-run PROFILE         print the plan, the checks and the QEMU argv\n"
		   "       vmrun COMMAND [OPTIONS] [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < cli_n_commands; i++)
		if (cli_commands[i].name)
			fprintf(f, "  %-14s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fprintf(f, "\nOptions (anywhere; `vmrun COMMAND --help` lists each command's own):\n");
	for (const enum opt_id *id = cli_global_opts; *id; id++)
		if (opt_by_id(*id))
			print_opt(f, opt_by_id(*id));
	for (const enum opt_id *id = cli_commands[0].opts; *id; id++) /* the run form's own */
		if (opt_by_id(*id))
			print_opt(f, opt_by_id(*id));
	fprintf(f, "\nExit codes:\n");
	for (int code = 0; code <= EXIT_MAX; code++)
		fprintf(f, "  %d  %s\n", code, exit_code_meaning(code));
}

static const struct cli_cmd *find_command(const char *word)
{
	for (size_t i = 0; i < cli_n_commands; i++)
		if (cli_commands[i].name && streq(cli_commands[i].name, word))
			return &cli_commands[i];
	return NULL;
}

static int add_set(struct cli_args *a, const struct cli_opt *o, const char *value)
{
	if (a->n_set >= CLI_MAX_SET) {
		log_err("too many options");
		return EXIT_USAGE;
	}
	a->set[a->n_set].id = o->id;
	a->set[a->n_set++].value = value;
	return 0;
}

/* One option word at argv[*i] (and maybe its value in the next); EXIT_USAGE when wrong. */
static int parse_option(int argc, char **argv, int *i, struct cli_args *a)
{
	const char *w = argv[*i], *value = NULL;
	const struct cli_opt *o;

	if (w[1] == '-') {
		const char *eq = strchr(w + 2, '=');

		o = opt_by_long(w + 2, eq ? (size_t)(eq - w - 2) : strlen(w + 2));
		if (!o) {
			log_err("unknown option '%s' (see vmrun --help)", w);
			return EXIT_USAGE;
		}
		if (eq && !o->arg) {
			log_err("option '--%s' takes no value", o->name);
			return EXIT_USAGE;
		}
		value = eq ? eq + 1 : NULL;
	} else {
		/* -jv: flags in one word; the last may take a value, glued on or next. */
		for (const char *c = w + 1; *c; c++) {
			o = opt_by_short(*c);
			if (!o) {
				log_err("unknown option '-%c' (see vmrun --help)", *c);
				return EXIT_USAGE;
			}
			if (o->arg) {
				value = c[1] ? c + 1 : NULL;
				break;
			}
			if (c[1] && add_set(a, o, NULL))
				return EXIT_USAGE;
		}
	}
	if (o->arg && !value) {
		if (*i + 1 >= argc) {
			log_err("option '--%s' needs a value (%s)", o->name, o->arg);
			return EXIT_USAGE;
		}
		value = argv[++*i];
	}
	return add_set(a, o, value);
}

/* Every option given must be global or the command's own. */
static int check_applies(const struct cli_args *a)
{
	for (size_t i = 0; i < a->n_set; i++) {
		enum opt_id id = a->set[i].id;

		if (in_list(cli_global_opts, id) || in_list(a->cmd->opts, id))
			continue;
		const struct cli_opt *o = opt_by_id(id);

		log_err("option '--%s' does not apply to vmrun %s (see vmrun %s --help)",
			o ? o->name : "?", cmd_name(a->cmd), a->cmd->name ? a->cmd->name : "--help");
		return EXIT_USAGE;
	}
	return 0;
}

static int check_counts(const struct cli_args *a)
{
	const struct cli_cmd *cmd = a->cmd;

	if (a->n_pos >= cmd->min_args && a->n_pos <= cmd->max_args)
		return 0;
	if (a->n_pos > cmd->max_args)
		log_err("vmrun %s: unexpected argument '%s' (usage: vmrun %s%s%s)", cmd_name(cmd),
			a->pos[cmd->max_args], cmd->name ? cmd->name : "[OPTIONS] ",
			cmd->args && cmd->name ? " " : "", cmd->args ? cmd->args : "");
	else
		log_err("vmrun %s: expected %s (see vmrun %s --help)", cmd_name(cmd), cmd->args,
			cmd->name ? cmd->name : "");
	return EXIT_USAGE;
}

int cli_parse(int argc, char **argv, struct cli *c, struct cli_args *ret)
{
	struct cli_args a = { 0 };
	bool options = true;
	int r;

	a.pos = calloc((size_t)argc + 1, sizeof(*a.pos));
	if (!a.pos)
		return EXIT_ERROR;
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];

		if (options && streq(w, "--")) {
			options = false;
		} else if (options && w[0] == '-' && w[1]) {
			r = parse_option(argc, argv, &i, &a);
			if (r)
				goto fail;
		} else if (!a.cmd && find_command(w)) {
			a.cmd = find_command(w);
		} else {
			a.pos[a.n_pos++] = argv[i];
			/* The first other word is the run form's profile. */
			if (!a.cmd)
				a.cmd = &cli_commands[0];
		}
	}
	if (args_has(&a, OPT_VERSION)) {
		printf("vmrun %s\n", VMRUN_VERSION);
		r = -1;
		goto fail;
	}
	if (args_has(&a, OPT_HELP)) {
		if (a.cmd && a.cmd->name)
			cli_command_help(stdout, a.cmd);
		else
			cli_usage(stdout);
		r = -1;
		goto fail;
	}
	if (!a.cmd) {
		cli_usage(stderr);
		r = EXIT_USAGE;
		goto fail;
	}
	r = check_applies(&a);
	if (!r)
		r = check_counts(&a);
	if (r)
		goto fail;
	c->json = args_has(&a, OPT_JSON);
	c->notify = args_has(&a, OPT_NOTIFY);
	for (size_t i = 0; i < a.n_set; i++)
		c->verbose += a.set[i].id == OPT_VERBOSE;
	*ret = a;
	return 0;
fail:
	free(a.pos);
	return r;
}
