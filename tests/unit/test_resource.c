/* SPDX-License-Identifier: MIT */
/*
 * The run as a list of resources (resource.h): the order a run takes them in, that it gives
 * back exactly what it took, last first, also when a take fails halfway, and that a dead run's
 * changes are recovered last first too — by the same list the guard and `restore NAME` use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "exitcodes.h"
#include "resource.h"
#include "util.h"

/* ---- the driver, over a list of fakes that log what is done to them ---- */

static char trail[512];
static const char *fail_take; /* the fake whose take fails (EXIT_BUSY) */

static void note(const char *what, const char *name)
{
	size_t n = strlen(trail);

	snprintf(trail + n, sizeof(trail) - n, "%s%s %s", n ? ", " : "", what, name);
}

#define FAKE(x)                                                                                    \
	_unused_ static int take_##x(struct run *r)                                                       \
	{                                                                                          \
		(void)r;                                                                           \
		note("take", #x);                                                                  \
		return fail_take && streq(fail_take, #x) ? EXIT_BUSY : 0;                          \
	}                                                                                          \
	_unused_ static void give_##x(struct run *r, int *code)                                    \
	{                                                                                          \
		(void)r;                                                                           \
		(void)code;                                                                        \
		note("give", #x);                                                                  \
	}                                                                                          \
	_unused_ static void recover_##x(struct recovery *c)                                       \
	{                                                                                          \
		(void)c;                                                                           \
		note("recover", #x);                                                               \
	}
FAKE(a)
FAKE(b)
FAKE(c)
FAKE(d)

static const struct run_resource fakes[] = {
	{ "a", take_a, give_a, recover_a },
	{ "b", take_b, NULL, NULL },
	{ "c", take_c, give_c, recover_c },
	{ "d", take_d, give_d, recover_d },
};

static void walk(const char *failing, int want_code, const char *want)
{
	size_t taken = 99;
	int code;

	trail[0] = '\0';
	fail_take = failing;
	code = resources_take(fakes, ARRAY_SIZE(fakes), NULL, &taken);
	assert_int_equal(code, want_code);
	resources_give(fakes, taken, NULL, &code);
	assert_string_equal(trail, want);
}

static void test_take_and_give_back(void **state)
{
	(void)state;
	walk(NULL, 0, "take a, take b, take c, take d, give d, give c, give a");
	/* A take that fails: nothing after it is taken; it and everything before it given back,
	 * last first (it may have taken part of what it takes). */
	walk("c", EXIT_BUSY, "take a, take b, take c, give c, give a");
	walk("a", EXIT_BUSY, "take a, give a");
}

static void test_recover_last_first(void **state)
{
	struct recovery c = { 0 };

	(void)state;
	trail[0] = '\0';
	resources_recover(fakes, ARRAY_SIZE(fakes), &c);
	assert_string_equal(trail, "recover d, recover c, recover a");
}

/* ---- the run's own list ---- */

static size_t index_of(const char *name)
{
	for (size_t i = 0; i < run_n_resources; i++)
		if (streq(run_resources[i].name, name))
			return i;
	fail_msg("no resource '%s'", name);
	return 0;
}

static void test_run_order(void **state)
{
	static const char *const order[] = { "dirs", "leftovers", "guard", "nvram", "tpm",
					     "looking-glass", "hugepages", "inputs", "isolation",
					     "signals", "gpus", "memlock", "qemu", "pinning" };
	/* What changes the host outside the run's own directories: each has a recover. */
	static const char *const host[] = { "looking-glass", "hugepages", "inputs", "isolation",
					    "gpus" };

	(void)state;
	assert_int_equal(run_n_resources, ARRAY_SIZE(order));
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (!streq(run_resources[i].name, order[i]))
			fail_msg("resource %zu is '%s', not '%s'", i, run_resources[i].name, order[i]);
	for (size_t i = 0; i < run_n_resources; i++) {
		bool changes_host = false;

		for (size_t k = 0; k < ARRAY_SIZE(host); k++)
			changes_host |= streq(run_resources[i].name, host[k]);
		assert_true(run_resources[i].take != NULL);
		if (changes_host != (run_resources[i].recover != NULL))
			fail_msg("'%s': a recover iff it changes the host", run_resources[i].name);
		/* Every change of the host comes after the lock, what a dead run left, and the
		 * guard: a vmrun killed right after it leaves it to the guard. */
		if (changes_host && (i < index_of("guard") || !run_resources[i].give))
			fail_msg("'%s' changes the host before the guard, or has no give",
				 run_resources[i].name);
	}
	/* Stop requests are held before the GPU leaves the host; QEMU starts after the GPU and
	 * the TPM, and is pinned once it runs. */
	assert_true(index_of("signals") < index_of("gpus"));
	assert_true(index_of("gpus") < index_of("memlock"));
	assert_true(index_of("memlock") < index_of("qemu"));
	assert_true(index_of("tpm") < index_of("qemu"));
	assert_true(index_of("qemu") < index_of("pinning"));
	assert_int_equal(index_of("dirs"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_and_give_back),
		cmocka_unit_test(test_recover_last_first),
		cmocka_unit_test(test_run_order),
	};

	return cmocka_run_group_tests_name("resource", tests, NULL, NULL);
}
