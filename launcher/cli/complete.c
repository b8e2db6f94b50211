/* SPDX-License-Identifier: MIT */
/*
 * vmrun __complete WORD... CURRENT: the shell completions' one engine. The bash and zsh
 * scripts (launcher/completion/) pass the words typed after "vmrun" and print what this says,
 * so commands, options and which option belongs to which command come from the same table as
 * the parser and --help (opts.c), and can never disagree with them.
 *
 * Output, one candidate a line: "WORD<TAB>DESCRIPTION", or a request to the shell:
 * "@files .yaml" (complete file names ending in .yaml, and directories), "@dirs".
 * Only candidates starting with CURRENT are printed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "names.h"
#include "paths.h"
#include "pcidev.h"
#include "util.h"
#include "xdg.h"

struct ctx {
	const char *cur;
	const char *root;           /* a --root DIR typed on the line, for the PCI devices */
	const struct cli_cmd *cmd;  /* NULL until a command (or the run form's profile) */
	size_t npos;                /* positional words before the current one */
	const struct cli_opt *need; /* the previous word is this option, waiting for its value */
	bool no_more_options;       /* after "--" */
};

static void put(const struct ctx *x, const char *word, const char *desc)
{
	if (strncmp(word, x->cur, strlen(x->cur)) == 0)
		printf("%s\t%s\n", word, desc ? desc : "");
}

static const struct cli_opt *opt_long(const char *w)
{
	size_t n = strcspn(w, "=");

	for (const struct cli_opt *o = cli_options; o->name; o++)
		if (strlen(o->name) == n && strncmp(o->name, w, n) == 0)
			return o;
	return NULL;
}

static const struct cli_opt *opt_short(char c)
{
	for (const struct cli_opt *o = cli_options; o->name; o++)
		if (o->shortname && o->shortname == c)
			return o;
	return NULL;
}

static const struct cli_cmd *command(const char *w)
{
	for (size_t i = 0; i < cli_n_commands; i++)
		if (cli_commands[i].name && streq(cli_commands[i].name, w))
			return &cli_commands[i];
	return NULL;
}

/* An option word: the option now waiting for its value, if any. */
static void take_option(struct ctx *x, const char *w)
{
	const struct cli_opt *o;

	if (w[1] == '-') {
		o = opt_long(w + 2);
		if (o && o->id == OPT_ROOT && strchr(w, '='))
			x->root = strchr(w, '=') + 1;
		if (o && o->arg && !strchr(w, '='))
			x->need = o;
		return;
	}
	/* -jv: flags in one word; one that takes a value takes the rest, or the next word. */
	for (const char *c = w + 1; *c; c++) {
		o = opt_short(*c);
		if (o && o->arg) {
			if (!c[1])
				x->need = o;
			return;
		}
	}
}

/* One word before the current one, as the parser would take it. */
static void take(struct ctx *x, const char *w)
{
	if (x->need) {
		if (x->need->id == OPT_ROOT)
			x->root = w;
		x->need = NULL;
	} else if (!x->no_more_options && streq(w, "--")) {
		x->no_more_options = true;
	} else if (!x->no_more_options && w[0] == '-' && w[1]) {
		take_option(x, w);
	} else if (!x->cmd && !x->npos && command(w)) {
		x->cmd = command(w);
	} else {
		if (!x->cmd)
			x->cmd = &cli_commands[0]; /* the run form: this word is its profile */
		x->npos++;
	}
}

static void options(const struct ctx *x)
{
	const struct cli_cmd *cmd = x->cmd ? x->cmd : &cli_commands[0];
	char word[64];

	for (const struct cli_opt *o = cli_options; o->name; o++) {
		bool mine = false;

		for (const enum opt_id *id = cli_global_opts; *id && !mine; id++)
			mine = *id == o->id;
		for (const enum opt_id *id = cmd->opts; id && *id && !mine; id++)
			mine = *id == o->id;
		if (!mine)
			continue;
		snprintf(word, sizeof(word), "--%s", o->name);
		put(x, word, o->help);
	}
}

static void commands(const struct ctx *x)
{
	for (size_t i = 0; i < cli_n_commands; i++)
		if (cli_commands[i].name)
			put(x, cli_commands[i].name, cli_commands[i].summary);
}

static void profile_names(const struct ctx *x)
{
	_cleanup_free_ char *cfg = NULL, *dir = NULL;
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *e;

	if (xdg_dir(XDG_CONFIG, getuid(), &cfg) == 0 && asprintf(&dir, "%s/vmrun", cfg) >= 0)
		d = opendir(dir);
	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char name[VM_NAME_MAX + 1];

		if (n <= 5 || n - 5 > VM_NAME_MAX || !streq(e->d_name + n - 5, ".yaml"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 5), e->d_name);
		if (names_vm_valid(name))
			put(x, name, "profile in ~/.config/vmrun");
	}
}

/* A profile: a name from ~/.config/vmrun, or a .yaml file. */
static void profiles(const struct ctx *x)
{
	profile_names(x);
	printf("@files .yaml\n");
}

static void gpus(const struct ctx *x, const struct sysroot *s)
{
	_cleanup_free_ struct pci_function *all = NULL;
	size_t n = 0;
	char desc[96];

	if (!s || pci_function_list(s, &all, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!pci_is_display(&all[i]))
			continue;
		snprintf(desc, sizeof(desc), "display device [%04x:%04x] on %s", all[i].vendor,
			 all[i].device, all[i].driver[0] ? all[i].driver : "no driver");
		put(x, all[i].name, desc);
	}
}

static void running(const struct ctx *x, const struct sysroot *s)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *e;

	if (!s || paths_runtime_parent(s, geteuid(), &dir) < 0 || !(d = opendir(dir)))
		return;
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && names_vm_valid(e->d_name))
			put(x, e->d_name, "a VM with a runtime directory");
}

/* The kind of the positional argument at index pos, from the synopsis ("[ADDRESS]"). */
static const char *arg_kind(const struct cli_cmd *cmd, size_t pos)
{
	static char kind[32];
	const char *a = cmd->args;

	if (!a || pos >= cmd->max_args)
		return NULL;
	a += strspn(a, "[");
	snprintf(kind, sizeof(kind), "%.*s", (int)strcspn(a, "] "), a);
	return kind;
}

static void arguments(const struct ctx *x, const struct sysroot *s)
{
	const char *kind;

	if (!x->cmd) {
		commands(x);
		profiles(x);
		return;
	}
	kind = arg_kind(x->cmd, x->npos);
	if (!kind)
		return;
	if (streq(kind, "PROFILE"))
		profiles(x);
	else if (streq(kind, "ADDRESS"))
		gpus(x, s);
	else if (streq(kind, "NAME")) { /* a VM name: running ones, and those of the profiles */
		running(x, s);
		profile_names(x);
	}
}

int cli_complete(int argc, char **argv)
{
	_cleanup_(sysroot_freep) struct sysroot *s = NULL;
	struct ctx x = { .cur = argc > 0 ? argv[argc - 1] : "" };

	for (int i = 0; i + 1 < argc; i++)
		take(&x, argv[i]);
	(void)sysroot_open(x.root ? x.root : "/", &s);
	if (x.need) {
		if (x.need->arg && streq(x.need->arg, "DIR"))
			printf("@dirs\n");
		return 0;
	}
	if (!x.no_more_options && x.cur[0] == '-')
		options(&x);
	else
		arguments(&x, s);
	return 0;
}
