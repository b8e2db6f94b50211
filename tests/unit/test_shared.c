/* SPDX-License-Identifier: MIT */
/*
 * The shared layer's small rules, each one the only place it is decided: escaping another
 * user's text for the terminal, the VM name and path-component rules, PCI addresses, the
 * exit codes' meanings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "exitcodes.h"
#include "fakesys.h"
#include "procstat.h"
#include "cpulist.h"
#include "names.h"
#include "pciaddr.h"
#include "text.h"
#include "util.h"

static void test_text_escape(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "Xorg", "Xorg" },
		{ "a\tb", "a\\x09b" },
		{ "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07" },  /* OSC: retitles the terminal */
		{ "\x7f", "\\x7f" },
		{ "back\\slash", "back\\\\slash" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },               /* valid UTF-8 stays */
		{ "\xc2\x9b" "31m", "\\xc2\\x9b31m" },          /* C1 CSI, as UTF-8 */
		{ "\xc2\x85", "\\xc2\\x85" },                   /* C1 NEL */
		{ "\xc2\xa0", "\xc2\xa0" },                     /* U+00A0 is printable */
		{ "\xff\xfe", "\\xff\\xfe" },                   /* not UTF-8 */
		{ "\xe2\x82", "\\xe2\\x82" },                   /* truncated sequence */
		{ "\xc0\xaf", "\\xc0\\xaf" },                   /* overlong '/' */
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },          /* a UTF-16 surrogate */
		{ "", "" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		text_escape(cases[i].in, buf, sizeof(buf));
		if (!streq(buf, cases[i].out))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, buf, cases[i].out);
		/* Escaped text is printable, and printable text escapes to itself (but '\'). */
		assert_true(text_is_printable(buf));
		if (!strchr(cases[i].in, '\\'))
			assert_int_equal(text_is_printable(cases[i].in), streq(buf, cases[i].in));
	}
	/* Truncation never splits an escape and always terminates. */
	text_escape("\x1b\x1b\x1b", buf, 6);
	assert_string_equal(buf, "\\x1b");
	text_escape("abc", buf, 1);
	assert_string_equal(buf, "");
}

static void test_text_format(void **state)
{
	char buf[8];

	(void)state;
	assert_true(text_format(buf, sizeof(buf), "%s", "1234567"));
	assert_false(text_format(buf, sizeof(buf), "%s-%d", "abcdef", 42));
	assert_string_equal(buf, "abcdef-");
}

static void test_names(void **state)
{
	char longest[VM_NAME_MAX + 2];

	(void)state;
	assert_true(names_vm_valid("win10"));
	assert_true(names_vm_valid("a.b_c-D9"));
	assert_true(names_vm_valid("..."));
	static const char *const bad[] = { "", ".", "..", "a/b", "a b", "w\n", "\xc3\xbc", "a:b", NULL };

	for (size_t i = 0; bad[i]; i++)
		if (names_vm_valid(bad[i]))
			fail_msg("\"%s\" accepted as a VM name", bad[i]);
	assert_false(names_vm_valid(NULL));
	memset(longest, 'a', VM_NAME_MAX);
	longest[VM_NAME_MAX] = '\0';
	assert_true(names_vm_valid(longest));
	longest[VM_NAME_MAX] = 'a';
	longest[VM_NAME_MAX + 1] = '\0';
	assert_false(names_vm_valid(longest));
	assert_true(name_is_safe("group-2.json"));
	assert_false(name_is_safe(".."));
	assert_false(name_is_safe("."));
	assert_false(name_is_safe("a/.."));
	assert_false(name_is_safe(""));
	assert_false(name_is_safe(NULL));
}

static void test_pci_addr(void **state)
{
	static const char *const good[][2] = {
		{ "0000:01:00.0", "0000:01:00.0" }, { "01:00.1", "0000:01:00.1" },
		{ "ffff:ff:1f.7", "ffff:ff:1f.7" }, { "0001:0a:1B.3", "0001:0a:1b.3" },
	};
	static const char *const bad[] = { "1:00.0", "01:0.0", " 01:00.0", "01:00.0 ", "01:20.0",
					   "01:00.8", "0000:01:00", "00000:01:00.0", "01:00.0\n",
					   "g1:00.0", "", "0000-01:00.0", NULL };
	struct pci_addr a, b;
	char buf[PCI_ADDR_STR_MAX];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(pci_addr_parse(good[i][0], &a), 0);
		assert_string_equal(pci_addr_format(&a, buf), good[i][1]);
	}
	for (size_t i = 0; bad[i]; i++)
		if (pci_addr_parse(bad[i], &a) != -EINVAL)
			fail_msg("\"%s\" parsed as a PCI address", bad[i]);
	assert_int_equal(pci_addr_parse("01:00.0", &a), 0);
	assert_int_equal(pci_addr_parse("01:00.1", &b), 0);
	assert_false(pci_addr_eq(&a, &b));
	assert_true(pci_addr_same_slot(&a, &b));
	assert_true(pci_addr_cmp(&a, &b) < 0);
	assert_int_equal(pci_addr_parse("02:00.0", &b), 0);
	assert_false(pci_addr_same_slot(&a, &b));
}

/* Each documented exit code has its one meaning; codes vmrun never uses have none. */
static void test_exit_codes(void **state)
{
	static const struct { int code; const char *word; } codes[] = {
		{ EXIT_OK, "" },        { EXIT_ERROR, "failed" }, { EXIT_USAGE, "input" },
		{ EXIT_BUSY, "holds" }, { EXIT_NOT_READY, "ready" }, { EXIT_RECOVER, "restore" },
		{ EXIT_FORCED, "force" }, { EXIT_VM_DIED, "QEMU" },
	};

	(void)state;
	assert_int_equal(EXIT_MAX, 7);
	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		assert_int_equal(codes[i].code, (int)i);
		if (!strstr(exit_code_meaning(codes[i].code), codes[i].word))
			fail_msg("exit %d means \"%s\": no \"%s\"", codes[i].code,
				 exit_code_meaning(codes[i].code), codes[i].word);
	}
	assert_string_equal(exit_code_meaning(8), "");
	assert_string_equal(exit_code_meaning(-1), "");
}

/* procstat: the start time from the right field, whatever the comm holds; zombies are gone. */
static void test_procstat(void **state)
{
	char *root = fake_root_new(), dir[4200];
	uint64_t start = 0;
	int proc;

	(void)state;
	fake_proc_stat(root, 100, "a (b) c", 123456);
	fake_proc_stat(root, 101, ")", 7);
	fake_write(root, "proc/102/stat", "102 (zz) Z 1 102 102 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n");
	fake_write(root, "proc/103/stat", "103 (short) S 1 2 3\n");
	fake_write(root, "proc/104/stat", "104 no-parens S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n");
	snprintf(dir, sizeof(dir), "%s/proc", root);
	proc = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(proc >= 0);
	assert_int_equal(proc_start_time(proc, 100, &start), 0);
	assert_int_equal(start, 123456);
	assert_int_equal(proc_start_time(proc, 101, &start), 0);
	assert_int_equal(start, 7);
	assert_int_equal(proc_start_time(proc, 105, &start), -ESRCH);
	assert_int_equal(proc_start_time(proc, 103, &start), -EBADMSG);
	assert_int_equal(proc_start_time(proc, 104, &start), -EBADMSG);
	assert_int_equal(proc_start_time(proc, 0, &start), -ESRCH);
	assert_true(proc_is_alive(proc, 100, 0));
	assert_true(proc_is_alive(proc, 100, 123456));
	assert_false(proc_is_alive(proc, 100, 123457)); /* the pid was reused */
	assert_false(proc_is_alive(proc, 102, 0));      /* a zombie holds nothing */
	assert_false(proc_is_alive(proc, 105, 0));
	close(proc);
	fake_root_free(root);
}

/* The kernel's CPU lists, both ways. */
static void test_cpulist(void **state)
{
	struct cpuset set = { 0 };
	char buf[64];

	(void)state;
	assert_int_equal(cpulist_parse("0-3,8-11\n", &set), 8);
	assert_true(cpuset_has(&set, 0) && cpuset_has(&set, 3) && cpuset_has(&set, 8));
	assert_false(cpuset_has(&set, 4) || cpuset_has(&set, 12) || cpuset_has(&set, 99999));
	cpuset_remove(&set, 2);
	cpuset_add(&set, 15);
	assert_true(cpulist_format(&set, buf, sizeof(buf)));
	assert_string_equal(buf, "0-1,3,8-11,15");
	assert_false(cpulist_format(&set, buf, 6)); /* does not fit: said, not cut */
	memset(&set, 0, sizeof(set));
	assert_int_equal(cpulist_parse("", &set), 0);
	assert_true(cpulist_format(&set, buf, sizeof(buf)));
	assert_string_equal(buf, "");
	assert_int_equal(cpulist_parse("5", &set), 1);
	assert_int_equal(cpulist_parse("4095,4096-4100", &set), 6); /* named, past the set: left out */
	assert_true(cpuset_has(&set, 4095));
	assert_true(cpulist_format(&set, buf, sizeof(buf)));
	assert_string_equal(buf, "5,4095");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_escape), cmocka_unit_test(test_text_format),
		cmocka_unit_test(test_names),       cmocka_unit_test(test_pci_addr),
		cmocka_unit_test(test_exit_codes),  cmocka_unit_test(test_procstat),
		cmocka_unit_test(test_cpulist),
	};
	return cmocka_run_group_tests_name("shared", tests, NULL, NULL);
}
