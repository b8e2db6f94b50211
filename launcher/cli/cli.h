/* SPDX-License-Identifier: MIT */
/*
 * The command line: one table of commands and options (opts.c) that the parser, every
 * --help, the man page test and the completion test all read; one file per command.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "exitcodes.h"
#include "sysroot.h"

struct cli {
	struct sysroot *root; /* "/" or --root DIR */
	bool json;
	int verbose;
	bool notify; /* --notify: desktop notifications for a run (launcher entries) */
	uid_t uid;
};

/* Every option of every command; a command lists the ids it takes (global ones always). */
enum opt_id {
	OPT_NONE,
	/* global */
	OPT_HELP, OPT_VERSION, OPT_JSON, OPT_VERBOSE, OPT_NOTIFY, OPT_ROOT,
	/* per command */
	OPT_DRY_RUN, OPT_ALLOW_NON_GPU, OPT_TIMEOUT, OPT_FORCE, OPT_YES, OPT_UNDO, OPT_REMOVE,
	OPT_NAME, OPT_NO_GPU,
	/* vmrun new */
	OPT_OS, OPT_GPU, OPT_ISO, OPT_DRIVERS, OPT_DISK, OPT_DISK_SIZE, OPT_MEMORY, OPT_CORES,
	OPT_ACCEL, OPT_OUTPUT, OPT_RELEASE,
	OPT_MAX,
};

struct cli_opt {
	enum opt_id id;
	const char *name; /* long name, without "--" */
	char shortname;   /* 0 when none */
	const char *arg;  /* the value's name ("SECS"), NULL for a flag */
	const char *help;
};

struct cli_args;

struct cli_cmd {
	const char *name;   /* NULL: the run form, `vmrun [OPTIONS] PROFILE` */
	const char *args;   /* positional arguments, for the synopsis: "ADDRESS", "[PROFILE]" */
	unsigned min_args, max_args;
	const char *summary;
	const enum opt_id *opts; /* its own options, OPT_NONE-terminated */
	int (*fn)(struct cli *c, const struct cli_args *a);
	const char *details; /* more help text, or NULL */
};

#define CLI_MAX_SET 32

struct cli_args {
	const struct cli_cmd *cmd;
	char **pos;
	size_t n_pos;
	struct {
		enum opt_id id;
		const char *value;
	} set[CLI_MAX_SET];
	size_t n_set;
};

extern const struct cli_cmd cli_commands[];
extern const size_t cli_n_commands;
extern const struct cli_opt cli_options[];
extern const enum opt_id cli_global_opts[];

bool args_has(const struct cli_args *a, enum opt_id id);
const char *args_value(const struct cli_args *a, enum opt_id id);

/*
 * Parse argv: options anywhere after (and global ones also before) the command, "--" ends
 * them; values as "--opt V", "--opt=V", "-o V" or "-oV". 0 with *ret filled; EXIT_USAGE after
 * saying what is wrong (an unknown option, one that does not apply to the command, a missing
 * value, too many or too few arguments); -1 when --help or --version was answered.
 */
int cli_parse(int argc, char **argv, struct cli *c, struct cli_args *ret);
/* vmrun __complete WORD... CURRENT (complete.c): the candidates for CURRENT, for the shells. */
int cli_complete(int argc, char **argv);
/* `vmrun --help`, and `vmrun COMMAND --help`. */
void cli_usage(FILE *f);
void cli_command_help(FILE *f, const struct cli_cmd *cmd);

/* Commands (cmd_*.c). */
int cmd_run(struct cli *c, const struct cli_args *a);     /* vmrun [--dry-run] PROFILE */
int cmd_install(struct cli *c, const struct cli_args *a); /* vmrun install [--no-gpu] PROFILE */
int cmd_new(struct cli *c, const struct cli_args *a);     /* vmrun new NAME */
int cmd_gpus(struct cli *c, const struct cli_args *a);
int cmd_check(struct cli *c, const struct cli_args *a);
int cmd_detach(struct cli *c, const struct cli_args *a);
int cmd_attach(struct cli *c, const struct cli_args *a);
int cmd_restore(struct cli *c, const struct cli_args *a);
int cmd_status(struct cli *c, const struct cli_args *a);
int cmd_stop(struct cli *c, const struct cli_args *a);
int cmd_setup(struct cli *c, const struct cli_args *a);
int cmd_desktop_entry(struct cli *c, const struct cli_args *a);
