/* SPDX-License-Identifier: MIT */
/*
 * A parsed command line, asked by the commands: was an option given, and with what value. Apart
 * from the table of commands (opts.c), which names the commands' functions.
 */
#include "cli.h"

#include "util.h"

bool args_has(const struct cli_args *a, enum opt_id id)
{
	for (size_t i = 0; i < a->n_set; i++)
		if (a->set[i].id == id)
			return true;
	return false;
}

const char *args_value(const struct cli_args *a, enum opt_id id)
{
	const char *v = NULL;

	for (size_t i = 0; i < a->n_set; i++)
		if (a->set[i].id == id)
			v = a->set[i].value; /* the last one given wins */
	return v;
}
