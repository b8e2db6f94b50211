/* SPDX-License-Identifier: MIT */
#include "recovery.h"

#include <stdarg.h>
#include <stdio.h>

void recovery_say(struct recovery *c, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->say)
		c->say(c->data, msg);
}
