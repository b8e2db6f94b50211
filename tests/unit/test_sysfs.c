/* SPDX-License-Identifier: MIT */
/* PCI addresses, attribute reads and sysfs links, including hostile trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fakesys.h"
#include "kernel.h"
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

/* This thread's children, from /proc/self/task/TID/children: their pids, one space after each. */
static void children(char *buf, size_t cap)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
	buf[0] = '\0';
	f = fopen(path, "re");
	if (f) {
		if (!fgets(buf, (int)cap, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

/* The real writes: one writer child for a switch's writes, a deadline for a write that blocks
 * (a FIFO with no reader blocks its open as a stuck unbind would), gone when the switch is. */
static void test_real_writer(void **state)
{
	char *root = fake_root_new(), path[PATH_MAX], first[32], again[32], buf[16] = "";
	struct sysroot *s;
	int stuck = 0, fd, st;
	FILE *f;

	(void)state;
	fake_write(root, "sys/dev/attr", "");
	assert_int_equal(sysroot_open(root, &s), 0);
	assert_int_equal(kernel_real.sysfs_write(NULL, s, "dev/attr", "vfio-pci", 5000, &stuck), 0);
	snprintf(path, sizeof(path), "%s/sys/dev/attr", root);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "vfio-pci");
	children(first, sizeof(first));
	assert_true(first[0] != '\0');
	assert_int_equal(kernel_real.sysfs_write(NULL, s, "dev/attr", "x", 5000, &stuck), 0);
	children(again, sizeof(again));
	assert_string_equal(again, first); /* the same writer, and only it, zombies included */
	assert_int_equal(kernel_real.sysfs_write(NULL, s, "dev/none", "x", 5000, &stuck), -ENOENT);

	snprintf(path, sizeof(path), "%s/sys/dev/fifo", root);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(kernel_real.sysfs_write(NULL, s, "dev/fifo", "x", 200, &stuck), -ETIMEDOUT);
	assert_true(stuck > 0);
	/* The next write has a writer of its own at once. */
	assert_int_equal(kernel_real.sysfs_write(NULL, s, "dev/attr", "y", 5000, NULL), 0);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* lets the stuck open return */
	assert_true(fd >= 0);
	assert_int_equal(waitpid(stuck, &st, 0), stuck);
	assert_true(WIFSIGNALED(st));
	close(fd);

	kernel_real.idle(NULL);
	errno = 0;
	assert_int_equal(waitpid(-1, &st, WNOHANG), -1); /* no writer, no zombie */
	assert_int_equal(errno, ECHILD);
	sysroot_free(s);
	fake_root_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_accepts), cmocka_unit_test(test_addr_rejects),
		cmocka_unit_test(test_read_attr),    cmocka_unit_test(test_links),
		cmocka_unit_test(test_names),       cmocka_unit_test(test_real_writer),
	};
	return cmocka_run_group_tests_name("sysfs", tests, NULL, NULL);
}
