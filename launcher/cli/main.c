/* SPDX-License-Identifier: MIT */
/* vmrun: run a QEMU VM with a passed-through GPU and give the GPU back afterwards. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "notify.h"
#include "util.h"

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

int main(int argc, char **argv)
{
	_cleanup_(sysroot_freep) struct sysroot *root = NULL;
	struct cli c = { .uid = geteuid() };
	struct cli_args a;
	const char *root_path;
	int r;

	/* An inherited "ignore SIGCHLD" would make every wait for a child fail (the sysfs
	 * writes, the helper, QEMU): children are reaped by us, always. */
	(void)signal(SIGCHLD, SIG_DFL);
	/* A closed stdout (`vmrun ... | head`) must not kill vmrun halfway through a switch or a
	 * run: the write fails, the work goes on and the GPU still comes back. */
	(void)signal(SIGPIPE, SIG_IGN);
	/* The shells' completion: the words typed so far are data, not options to parse. */
	if (argc > 1 && streq(argv[1], "__complete"))
		return cli_complete(argc - 2, argv + 2);
	r = cli_parse(argc, argv, &c, &a);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (c.verbose)
		log_set_max_level(LOG_LVL_DEBUG);
	if (c.notify)
		(void)log_set_fn(log_with_notify);
	root_path = args_value(&a, OPT_ROOT) ? args_value(&a, OPT_ROOT) : "/";
	r = sysroot_open(root_path, &root);
	if (r < 0) {
		log_err("Cannot open the system root '%s': %s", root_path, strerror(-r));
		free(a.pos);
		return EXIT_USAGE;
	}
	c.root = root;
	r = a.cmd->fn(&c, &a);
	free(a.pos);
	return r;
}
