/* SPDX-License-Identifier: MIT */
#include "checks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"

const char *checks_verdict_name(enum verdict v)
{
	static const char *const names[] = { "ok", "warn", "fail" };

	return (unsigned)v < ARRAY_SIZE(names) ? names[v] : "?";
}

void checks_add(struct checks *c, enum check_id id, enum verdict v, int exit_code, const char *fix,
		const char *fmt, ...)
{
	struct check_item *nv, *it;
	va_list ap;

	nv = reallocarray(c->v, c->n + 1, sizeof(*nv));
	if (!nv) {
		/* Whatever it said, it is not known: the run must not go on as if it had passed. */
		if (!c->lost)
			c->count[VERDICT_FAIL]++;
		c->lost = true;
		return;
	}
	c->v = nv;
	it = &c->v[c->n++];
	memset(it, 0, sizeof(*it));
	it->id = id;
	it->verdict = v;
	it->exit_code = v == VERDICT_FAIL ? exit_code : 0;
	snprintf(it->fix, sizeof(it->fix), "%s", fix ? fix : "");
	va_start(ap, fmt);
	vsnprintf(it->msg, sizeof(it->msg), fmt, ap);
	va_end(ap);
	c->count[v]++;
}

bool checks_failed(const struct checks *c, enum check_id id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].verdict == VERDICT_FAIL && c->v[i].id == id)
			return true;
	return false;
}

const struct check_item *checks_first_fail(const struct checks *c)
{
	static const struct check_item lost = {
		.id = CHECK_VERDICTS, .verdict = VERDICT_FAIL, .exit_code = EXIT_NOT_READY,
		.msg = "the pre-flight lost a verdict (out of memory): not knowing that a check "
		       "passed, the run does not start",
		.fix = "free some memory and try again",
	};

	if (c->lost)
		return &lost;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].verdict == VERDICT_FAIL)
			return &c->v[i];
	return NULL;
}

void checks_clear(struct checks *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}
