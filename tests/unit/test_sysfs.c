/* SPDX-License-Identifier: MIT */
/* PCI addresses, attribute reads and sysfs links, including hostile trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fakesys.h"
#include "pciaddr.h"
#include "names.h"
#include "sysroot.h"
#include "util.h"

static void test_addr_accepts(void **state)
{
	static const struct { const char *in, *canon; } ok[] = {
		{ "0000:01:00.0", "0000:01:00.0" }, { "01:00.0", "0000:01:00.0" },
		{ "0001:ff:1f.7", "0001:ff:1f.7" }, { "0A:1B.3", "0000:0a:1b.3" },
	};
	char buf[PCI_ADDR_STR_MAX];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct pci_addr a;

		assert_int_equal(pci_addr_parse(ok[i].in, &a), 0);
		assert_string_equal(pci_addr_format(&a, buf), ok[i].canon);
	}
}

static void test_addr_rejects(void **state)
{
	static const char *const bad[] = { "", "1:00.0", "01:0.0", "01:00", "0000:01:00.8",
					   "0000:01:20.0", "zz:00.0", " 01:00.0", "01:00.0 ",
					   "0000-01:00.0", "00000:01:00.0", "01:00.0\n", "+1:00.0",
					   "0000:01:00.0.0", "../01:00.0", "01:00:0" };
	struct pci_addr a = { 9, 9, 9, 1 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(pci_addr_parse(bad[i], &a), -EINVAL);
		assert_int_equal(a.domain, 9); /* untouched on failure */
	}
	assert_int_equal(pci_addr_parse(NULL, &a), -EINVAL);
}

static void test_read_attr(void **state)
{
	char *root = fake_root_new(), big[ATTR_MAX + 10], buf[64];
	struct sysroot *s;
	unsigned long v;

	(void)state;
	fake_write(root, "sys/a/plain", "bochs-drm\n");
	fake_write(root, "sys/a/hex", "0x1234\n");
	fake_write(root, "sys/a/badhex", "0x12zz\n");
	fake_write(root, "sys/a/neg", "-1\n");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fake_write(root, "sys/a/big", big);
	{
		char *p;
		int fd;

		assert_true(asprintf(&p, "%s/sys/a/nul", root) > 0);
		fd = open(p, O_WRONLY | O_CREAT, 0644);
		assert_int_equal(write(fd, "ab\0cd", 5), 5);
		close(fd);
		free(p);
	}
	assert_int_equal(sysroot_open(root, &s), 0);
	assert_int_equal(read_attr_at(s->sys_fd, "a/plain", buf, sizeof(buf)), 9);
	assert_string_equal(buf, "bochs-drm");
	assert_int_equal(read_attr_hex_at(s->sys_fd, "a/hex", &v), 0);
	assert_int_equal(v, 0x1234);
	assert_int_equal(read_attr_hex_at(s->sys_fd, "a/badhex", &v), -EBADMSG);
	assert_int_equal(read_attr_hex_at(s->sys_fd, "a/neg", &v), -EBADMSG);
	assert_int_equal(read_attr_at(s->sys_fd, "a/big", buf, sizeof(buf)), -EFBIG);
	assert_int_equal(read_attr_at(s->sys_fd, "a/nul", buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(read_attr_at(s->sys_fd, "a/missing", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(read_attr_at(s->sys_fd, "../etc/passwd", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(read_attr_at(s->sys_fd, "/etc/passwd", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(read_attr_at(s->sys_fd, "a/../a/plain", buf, sizeof(buf)), -EINVAL);
	sysroot_free(s);
	fake_root_free(root);
}

static void test_links(void **state)
{
	char *root = fake_root_new(), buf[256];
	struct sysroot *s;

	(void)state;
	fake_mkdir(root, "sys/devices/pci0000:00/0000:00:02.0");
	fake_symlink(root, "sys/bus/pci/devices/0000:00:02.0", "../../../devices/pci0000:00/0000:00:02.0");
	fake_symlink(root, "sys/bus/pci/devices/0000:00:03.0", "../../../../../etc");
	fake_symlink(root, "sys/bus/pci/devices/0000:00:04.0", "/etc");
	fake_symlink(root, "sys/x/driver", "../../bus/pci/drivers/..");
	fake_symlink(root, "sys/x/dangling", "../bus/pci/drivers/gone-driver");
	assert_int_equal(sysroot_open(root, &s), 0);
	assert_int_equal(resolve_sys_link(s, "bus/pci/devices/0000:00:02.0", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "devices/pci0000:00/0000:00:02.0");
	assert_int_equal(resolve_sys_link(s, "bus/pci/devices/0000:00:03.0", buf, sizeof(buf)), -EXDEV);
	assert_int_equal(resolve_sys_link(s, "bus/pci/devices/0000:00:04.0", buf, sizeof(buf)), -EXDEV);
	assert_int_equal(read_link_name_at(s->sys_fd, "x/driver", buf, sizeof(buf)), -EBADMSG);
	/* A dangling link still names its driver: readlink does not follow it. */
	assert_int_equal(read_link_name_at(s->sys_fd, "x/dangling", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "gone-driver");
	assert_int_equal(read_link_name_at(s->sys_fd, "x/none", buf, sizeof(buf)), -ENOENT);
	sysroot_free(s);
	fake_root_free(root);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(name_is_safe("card1"));
	assert_false(name_is_safe(".."));
	assert_false(name_is_safe("."));
	assert_false(name_is_safe("a/b"));
	assert_false(name_is_safe(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_accepts), cmocka_unit_test(test_addr_rejects),
		cmocka_unit_test(test_read_attr),    cmocka_unit_test(test_links),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests_name("sysfs", tests, NULL, NULL);
}
