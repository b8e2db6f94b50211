/* SPDX-License-Identifier: MIT */
/*
 * Skipping a test, visibly. cmocka's own skip() says nothing about why, and a suite whose every
 * case skipped still "passes"; these say why on a "# skip: " line that tests/run-unit reports
 * by name, and under CI (CI=true) run-unit fails a suite that skipped anything, unless the
 * test declared that the thing it needs can never be there on a CI machine.
 *
 *   test_skip("mknod is not allowed here: /dev/vfio/<group> cannot be modelled");
 *   test_skip_not_on_ci("needs a second NUMA node");
 *
 * Both return from the test (they jump out through cmocka), so use them before allocating
 * anything the test would have to free.
 */
#pragma once

#include <stdio.h>

#define test_skip(why)                                                                             \
	do {                                                                                       \
		printf("# skip: %s\n", (why));                                                     \
		fflush(stdout);                                                                    \
		skip();                                                                            \
	} while (0)

#define test_skip_not_on_ci(why)                                                                   \
	do {                                                                                       \
		printf("# skip (never available on CI machines): %s\n", (why));                   \
		fflush(stdout);                                                                    \
		skip();                                                                            \
	} while (0)
