/* SPDX-License-Identifier: MIT */
#include "log.h"

static void log_to_stderr(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };

	fprintf(stderr, "vmrun: %s", prefix[lvl]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static log_fn_t log_fn = log_to_stderr;
static enum log_level log_max = LOG_LVL_INFO;

log_fn_t log_set_fn(log_fn_t fn)
{
	log_fn_t old = log_fn;

	log_fn = fn;
	return old;
}

void log_set_max_level(enum log_level lvl)
{
	log_max = lvl;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;
	int saved = errno; /* so "%m" and the caller's errno both survive */

	if (!log_fn || lvl > log_max)
		return;
	va_start(ap, fmt);
	errno = saved;
	log_fn(lvl, fmt, ap);
	va_end(ap);
	errno = saved;
}
