/* SPDX-License-Identifier: MIT */
/*
 * What each fuzz entry point shares with the replay driver (tests/fuzz/driver.c): after every
 * input, fuzz_outcome() says in one line what the code under test did with it (accepted,
 * refused with which error, which QMP results and events), so a corpus file's expected
 * outcome (tests/fuzz/expect/TARGET) is checked on every replay, not just "did not crash".
 */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct fuzz_outcome {
	char text[1024];
	size_t len;
};

/* Defined by each fuzz target: the outcome of the last LLVMFuzzerTestOneInput() call. */
const char *fuzz_outcome(void);

static inline void fuzz_outcome_reset(struct fuzz_outcome *o)
{
	o->text[0] = '\0';
	o->len = 0;
}

__attribute__((format(printf, 2, 3))) static inline void fuzz_outcome_add(struct fuzz_outcome *o,
									    const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= sizeof(o->text) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->text + o->len, sizeof(o->text) - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < sizeof(o->text) - o->len ? (size_t)n : sizeof(o->text) - o->len - 1;
	/* One line: a newline or tab from the input would break the expectations file. */
	for (char *p = o->text; *p; p++)
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
}

/* "ok" for 0, else the errno's name ("EPROTO"): stable across libc versions and locales. */
static inline const char *fuzz_errname(int r)
{
	const char *n;

	if (r >= 0)
		return "ok";
	n = strerrorname_np(-r);
	return n ? n : "E?";
}
