/* SPDX-License-Identifier: MIT */
/*
 * The pre-flight's verdicts: a list of ok / warn / FAIL items, each filed under a check id
 * (checkid.h) with its message and fix. It fails closed: a verdict that could not be recorded
 * (no memory) counts as a FAIL of its own, so a run never goes on past a lost one.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "checkid.h"
#include "util.h"

enum verdict { VERDICT_OK, VERDICT_WARN, VERDICT_FAIL };

struct check_item {
	enum check_id id;  /* CHECK_IOMMU, CHECK_HOLDERS, CHECK_DISK, ... */
	enum verdict verdict;
	int exit_code;     /* what a run that stops on this FAIL exits with (3 held, 4 refused) */
	char msg[1024];
	char fix[512];     /* "" when there is nothing to do */
};

struct checks {
	struct check_item *v;
	size_t n;
	unsigned count[3];
	bool lost;         /* a verdict could not be recorded: counted as a FAIL */
};

const char *checks_verdict_name(enum verdict v);

/* Add one item (the fix may be NULL); FAIL items carry the exit code a run stopping there has. */
_printf_(6, 7) void checks_add(struct checks *c, enum check_id id, enum verdict v, int exit_code,
			       const char *fix, const char *fmt, ...);
#define CHECK_OK(c, id, ...) checks_add(c, id, VERDICT_OK, 0, NULL, __VA_ARGS__)
#define CHECK_WARN(c, id, fix, ...) checks_add(c, id, VERDICT_WARN, 0, fix, __VA_ARGS__)
#define CHECK_FAIL(c, id, code, fix, ...) checks_add(c, id, VERDICT_FAIL, code, fix, __VA_ARGS__)

/* Has a FAIL been filed under id? */
bool checks_failed(const struct checks *c, enum check_id id);
/* The first FAIL, or NULL: a run stops there with its exit code. With a lost verdict, an item
 * saying so (exit 4), whatever else the list holds. */
const struct check_item *checks_first_fail(const struct checks *c);
void checks_clear(struct checks *c);
