/* SPDX-License-Identifier: MIT */
/* /etc/vmrun/allow.yaml: parsing, refusals, ownership rules, who it permits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allow.h"
#include "fakesys.h"
#include "util.h"
#include "testskip.h"

static int parse(const char *text, struct allow_list *l, char *err)
{
	return allow_parse(text, strlen(text), l, err, 256);
}

static void test_parse_good(void **state)
{
	static const char text[] = "# who may pass what\n"
				   "- {device: \"0000:01:00.0\", users: [alice, bob], groups: [vmrun]}\n"
				   "- device: \"02:00.0\"\n  groups: [gamers]\n";
	const char *const alice_groups[] = { "users", NULL }, *const gamer[] = { "gamers", NULL };
	struct allow_list l;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &l, err), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0].device.bus, 1);
	assert_int_equal(l.v[1].device.bus, 2);
	assert_true(allow_entry_permits(&l.v[0], "alice", alice_groups));
	assert_true(allow_entry_permits(&l.v[0], "carol", (const char *const[]){ "vmrun", NULL }));
	assert_false(allow_entry_permits(&l.v[0], "carol", alice_groups));
	assert_false(allow_entry_permits(&l.v[1], "alice", alice_groups));
	assert_true(allow_entry_permits(&l.v[1], "dave", gamer));
	allow_list_clear(&l);
	assert_int_equal(parse("", &l, err), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(parse("\n  \n", &l, err), 0);
	assert_int_equal(l.n, 0);
	/* Comments only, as the package installs it: nobody. */
	assert_int_equal(parse("# nobody yet\n\n  # indented\r\n#", &l, err), 0);
	assert_int_equal(l.n, 0);
	/* One real line among them is parsed (and here refused). */
	assert_int_equal(parse("# nobody\nx: 1\n", &l, err), -EINVAL);
}

/* An entry's hugepages cap: the largest of a user's entries; none without one. */
static void test_hugepages_quota(void **state)
{
	static const char text[] =
		"- {device: \"0000:01:00.0\", users: [alice, bob], hugepages: 8G}\n"
		"- {input: /dev/input/by-id/kbd, users: [alice], hugepages: 16384M}\n"
		"- {device: \"0000:02:00.0\", groups: [vmrun]}\n";
	const char *const none[] = { NULL }, *const vmrun[] = { "vmrun", NULL };
	struct allow_list l;
	uint64_t n = 0;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &l, err), 0);
	assert_true(allow_hugepages_quota(&l, "alice", none) == 16ULL << 30);
	assert_true(allow_hugepages_quota(&l, "bob", none) == 8ULL << 30);
	assert_true(allow_hugepages_quota(&l, "carol", vmrun) == 0);
	allow_list_clear(&l);
	static const struct { const char *text; uint64_t bytes; } sizes[] = {
		{ "16G", 16ULL << 30 }, { "512M", 512ULL << 20 }, { "1048576K", 1ULL << 30 },
		{ "2147483648", 2ULL << 30 }, { "1T", 1ULL << 40 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		assert_int_equal(allow_parse_size(sizes[i].text, &n), 0);
		assert_true(n == sizes[i].bytes);
	}
	static const char *const bad[] = { "", "G", "-1G", "1.5G", "16GB", "16g ", "99999999999999999999",
					   "17179869184T" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (allow_parse_size(bad[i], &n) == 0)
			fail_msg("size '%s' accepted", bad[i]);
	assert_int_equal(parse("- {device: \"0000:01:00.0\", users: [a], hugepages: lots}\n", &l, err),
			 -EINVAL);
	assert_non_null(strstr(err, "entry 1: hugepages 'lots' is not a size like 16G or 512M"));
	assert_int_equal(parse("- {device: \"0000:01:00.0\", users: [a], hugepages: 0}\n", &l, err),
			 -EINVAL);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = calloc(1 << 20, 1);
	size_t n;

	assert_non_null(f);
	assert_non_null(s);
	n = fread(s, 1, (1 << 20) - 1, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* The text after marker up to end (exclusive), unescaped for man's \- and \(dq. */
static char *between(const char *doc, const char *marker, const char *end)
{
	const char *a = strstr(doc, marker), *b;
	char *out, *o;

	if (!a)
		fail_msg("no \"%s\" in the document", marker);
	a += strlen(marker);
	b = strstr(a, end);
	assert_non_null(b);
	out = calloc((size_t)(b - a) + 1, 1);
	assert_non_null(out);
	for (o = out; a < b; a++) {
		if (a[0] == '\\' && a[1] == '-')
			a++;
		*o++ = *a;
	}
	return out;
}

/* Every allow.yaml the documentation shows, and the shipped example, is one the helper takes. */
static void test_documented_examples(void **state)
{
	char *readme = slurp("README.md"), *man = slurp("launcher/man/vmrun.1");
	char *example = slurp("launcher/helper/allow.yaml.example");
	char *texts[3] = { between(readme, "```yaml\n# /etc/vmrun/allow.yaml", "```"), /* after its #... */
			   between(man, ".EX\n", ".EE"), example };
	char err[256];

	(void)state;
	texts[0][0] = '#'; /* ...the rest of that comment line stays a comment */
	for (size_t i = 0; i < 3; i++) {
		struct allow_list l;

		if (parse(texts[i], &l, err) != 0)
			fail_msg("example %zu: %s\n%s", i, err, texts[i]);
		assert_true(l.n >= 1); /* the GPU first; the README adds an input device */
		assert_int_equal(l.v[0].device.bus, 1);
		assert_true(allow_entry_permits(&l.v[0], "alice", (const char *const[]){ NULL }));
		assert_true(allow_entry_permits(&l.v[0], "bob", (const char *const[]){ "vmrun", NULL }));
		allow_list_clear(&l);
		free(texts[i]);
	}
	free(readme);
	free(man);
}

static void test_parse_refusals(void **state)
{
	static const struct { const char *text, *why; } bad[] = {
		{ "- {device: \"1:00.0\", users: [a]}\n", "not a PCI address" },
		{ "- {device: \"0000:01:00.0\", users: [a], sudo: yes}\n", "sudo" },
		{ "- {device: \"0000:01:00.0\", users: [\"a b\"]}\n", "not a valid user name" },
		{ "- {device: \"0000:01:00.0\", users: [\"-rf\"]}\n", "not a valid user name" },
		{ "- {device: \"0000:01:00.0\", groups: [\"../x\"]}\n", "not a valid group name" },
		{ "device: \"0000:01:00.0\"\n", "" },
		{ "- {users: [a]}\n", "" },
		{ "- [1, 2]\n", "" },
		{ "- {device: \"0000:01:00.0\", users: alice}\n", "" },
		{ "- {device: \"0000:01:00.0000000000000\"}\n", "" },
	};
	struct allow_list l = { 0 };
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(parse(bad[i].text, &l, err), -EINVAL);
		assert_true(err[0] != '\0');
		if (!strstr(err, bad[i].why))
			fail_msg("case %zu: '%s' does not mention '%s'", i, err, bad[i].why);
		assert_int_equal(l.n, 0);
	}
	assert_int_equal(allow_parse("- {}\0", 5, &l, err, sizeof(err)), -EINVAL);
}

/* Ownership: root's alone, or nothing is allowed. Needs root to make root-owned files. */
static void test_load_ownership(void **state)
{
	char *root = fake_root_new(), path[512];
	struct allow_list l;
	char err[256];
	int dfd;

	(void)state;
	if (geteuid() != 0) {
		fake_root_free(root);
		test_skip("not root: root-owned allow files cannot be made");
	}
	fake_write(root, "etc/vmrun/allow.yaml", "- {device: \"0000:01:00.0\", users: [alice]}\n");
	snprintf(path, sizeof(path), "%s/etc/vmrun", root);
	assert_int_equal(chmod(path, 0755), 0);
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	assert_int_equal(allow_load(dfd, "allow.yaml", &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 1);
	allow_list_clear(&l);
	/* group-writable file */
	snprintf(path, sizeof(path), "%s/etc/vmrun/allow.yaml", root);
	assert_int_equal(chmod(path, 0664), 0);
	assert_int_equal(allow_load(dfd, "allow.yaml", &l, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "writable by someone other than root"));
	/* owned by someone else */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(chown(path, 1000, 0), 0);
	assert_int_equal(allow_load(dfd, "allow.yaml", &l, err, sizeof(err)), -EPERM);
	assert_int_equal(chown(path, 0, 0), 0);
	/* a symlink in its place */
	fake_symlink(root, "etc/vmrun/link.yaml", "allow.yaml");
	assert_int_equal(allow_load(dfd, "link.yaml", &l, err, sizeof(err)), -ELOOP);
	/* a writable directory */
	snprintf(path, sizeof(path), "%s/etc/vmrun", root);
	assert_int_equal(chmod(path, 0775), 0);
	assert_int_equal(allow_load(dfd, "allow.yaml", &l, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "directory"));
	close(dfd);
	fake_root_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_hugepages_quota),
		cmocka_unit_test(test_documented_examples),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_load_ownership),
	};
	return cmocka_run_group_tests_name("allow", tests, NULL, NULL);
}
