/* SPDX-License-Identifier: MIT */
#include "swctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "exitcodes.h"

/* ---- statuses: the one table of names and exit codes ---- */

static const struct {
	const char *name;
	int exit;
} statuses[] = {
	[SW_OK] = { "ok", EXIT_OK },
	[SW_HELD] = { "held", EXIT_BUSY },
	[SW_REFUSED] = { "refused", EXIT_NOT_READY },
	[SW_NEEDS_RESTORE] = { "needs-restore", EXIT_RECOVER },
	[SW_FAILED] = { "failed", EXIT_ERROR },
	/* A write the kernel never returned from: the journal waits for `vmrun restore`. */
	[SW_STUCK] = { "stuck", EXIT_RECOVER },
	[SW_BUSY] = { "busy", EXIT_BUSY },
	[SW_BAD_INPUT] = { "bad-input", EXIT_USAGE },
};

const char *switch_status_name(enum switch_status st)
{
	return (unsigned)st <= SW_STATUS_MAX ? statuses[st].name : "?";
}

int switch_status_parse(const char *name, enum switch_status *ret)
{
	for (unsigned i = 0; name && i <= SW_STATUS_MAX; i++)
		if (streq(name, statuses[i].name)) {
			*ret = (enum switch_status)i;
			return 0;
		}
	return -EINVAL;
}

int switch_status_exit(enum switch_status st)
{
	return (unsigned)st <= SW_STATUS_MAX ? statuses[st].exit : EXIT_ERROR;
}

_printf_(3, 4) enum switch_status sw_fail(struct switch_ctx *c, enum switch_status st,
					      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return st;
}

_printf_(4, 5) enum switch_status sw_refuse(struct switch_ctx *c, enum switch_status st,
						enum check_id check, const char *fmt, ...)
{
	va_list ap;

	c->check = check;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return st;
}

_printf_(2, 3) void sw_progress(struct switch_ctx *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!c->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->progress(c->progress_data, msg);
}

unsigned sw_or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}
