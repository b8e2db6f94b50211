/* SPDX-License-Identifier: MIT */
/*
 * The host's side of sharing it with a VM, against fixture trees: input devices and their
 * per-run ACL entries (devacl.h), the hugepage pools (hugepages.h), the helper's requests for
 * them (helper_parse), and the pre-flight's checks of cpu.pin, input and hugepages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The argv arrays below point at literals: the helper takes char *argv[] as main() does. */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

#include "devacl.h"
#include "fakekernel.h"
#include "fakesys.h"
#include "helper.h"
#include "hugepages.h"
#include "plan.h"
#include "priv.h"
#include "recover.h"
#include "vmdir.h"
#include "exitcodes.h"
#include "preflight.h"
#include "testskip.h"
#include "util.h"

struct fx {
	char *root;
	struct sysroot *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->root = fake_root_new();
	fake_lab_host(f->root);
	fk_prepare_root(f->root);
	assert_int_equal(sysroot_open(f->root, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sysroot_free(f->s);
	fake_root_free(f->root);
	free(f);
	return 0;
}

/* An input event node (13:64) in the fixture, and a by-id link to it, as udev makes them. */
static void make_event(struct fx *f, const char *name, mode_t mode)
{
	char path[PATH_MAX];

	fake_mkdir(f->root, "dev/input/by-id");
	snprintf(path, sizeof(path), "%s/dev/input/%s", f->root, name);
	if (mknod(path, S_IFCHR | mode, makedev(13, 64)) < 0)
		test_skip("mknod is refused here (not root, or a container): no event node");
	assert_int_equal(chmod(path, mode), 0);
	fake_symlink(f->root, "dev/input/by-id/usb-Test_Keyboard-event-kbd", "../event0");
}

static void test_input_node(void **state)
{
	struct fx *f = *state;
	char rel[128];
	dev_t rdev;

	make_event(f, "event0", 0660);
	assert_int_equal(input_node(f->s, "/dev/input/by-id/usb-Test_Keyboard-event-kbd", rel,
				    sizeof(rel), &rdev), 0);
	assert_string_equal(rel, "input/event0");
	assert_int_equal(major(rdev), 13);
	assert_int_equal(input_node(f->s, "/dev/input/event0", rel, sizeof(rel), &rdev), 0);
	assert_int_equal(input_node(f->s, "/dev/input/by-id/none", rel, sizeof(rel), &rdev), -ENOENT);
	assert_int_equal(input_node(f->s, "/dev/kvm", rel, sizeof(rel), &rdev), -ENODEV);
	assert_int_equal(input_node(f->s, "/dev/input/../kvm", rel, sizeof(rel), &rdev), -ENODEV);
	/* A device that is not an input event device, under /dev/input: refused. */
	fake_write(f->root, "dev/input/mice", "");
	assert_int_equal(input_node(f->s, "/dev/input/mice", rel, sizeof(rel), &rdev), -ENODEV);
}

static void test_acl_grant_revoke(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], buf[512];
	struct stat st;

	make_event(f, "event0", 0660);
	snprintf(path, sizeof(path), "%s/dev/input/event0", f->root);
	if (devacl_grant(f->s, "input/event0", 4242) == -EOPNOTSUPP)
		test_skip_not_on_ci("this file system has no POSIX ACLs");
	assert_true(devacl_has(f->s, "input/event0", 4242));
	assert_false(devacl_has(f->s, "input/event0", 4243));
	assert_true(getxattr(path, "system.posix_acl_access", buf, sizeof(buf)) > 0);
	/* A second user's entry beside the first; the first taken back keeps the second. */
	assert_int_equal(devacl_grant(f->s, "input/event0", 4243), 0);
	assert_int_equal(devacl_revoke(f->s, "input/event0", 4242), 0);
	assert_false(devacl_has(f->s, "input/event0", 4242));
	assert_true(devacl_has(f->s, "input/event0", 4243));
	/* The last one taken back: no ACL, and the mode is what it was (not the mask's). */
	assert_int_equal(devacl_revoke(f->s, "input/event0", 4243), 0);
	assert_true(getxattr(path, "system.posix_acl_access", buf, sizeof(buf)) < 0);
	assert_int_equal(errno, ENODATA);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	/* An owning group with read only: the grant's rw mask must not be left in the mode. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(devacl_grant(f->s, "input/event0", 4242), 0);
	assert_int_equal(devacl_revoke(f->s, "input/event0", 4242), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* Unplugged meanwhile: nothing to take back is no error. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(devacl_revoke(f->s, "input/event0", 4242), 0);
}

/* ---- hugepages, on fixture pools: the fake kernel does not allocate ---- */

static void pool(struct fx *f, unsigned long total, unsigned long free_pages)
{
	char v[32];

	snprintf(v, sizeof(v), "%lu\n", total);
	fake_write(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", v);
	snprintf(v, sizeof(v), "%lu\n", free_pages);
	fake_write(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", v);
	fake_write(f->root, "proc/sys/vm/compact_memory", "");
}

static unsigned long total_now(struct fx *f)
{
	struct hugepage_pool p;

	assert_int_equal(hugepages_read(f->s, 2ULL << 20, &p), 0);
	return p.total;
}

static void test_hugepages(void **state)
{
	struct fx *f = *state;
	unsigned long added = 99, n = 0;
	char why[512] = "";
	int fd = -1;

	pool(f, 100, 100);
	assert_int_equal(hugepages_reserve(f->s, 2ULL << 20, 64, &added, why, sizeof(why)), 0);
	assert_int_equal(added, 0); /* enough free: nothing touched */
	assert_int_equal(total_now(f), 100);
	/* Short, and memory would not give them (the fixture's free count does not move): the
	 * pool is put back and the shortfall said. */
	pool(f, 10, 10);
	assert_int_equal(hugepages_reserve(f->s, 2ULL << 20, 512, &added, why, sizeof(why)), -ENOMEM);
	assert_non_null(strstr(why, "got 10 of the 512 free 2048 kB pages needed: 1004 MiB short"));
	assert_int_equal(total_now(f), 10);
	assert_int_equal(added, 0);
	/* Given back: never below zero. */
	pool(f, 600, 600);
	assert_int_equal(hugepages_release(f->s, 2ULL << 20, 512), 0);
	assert_int_equal(total_now(f), 88);
	assert_int_equal(hugepages_release(f->s, 2ULL << 20, 512), 0);
	assert_int_equal(total_now(f), 0);
	assert_int_equal(hugepages_read(f->s, 1ULL << 30, &(struct hugepage_pool){ 0 }), -ENOENT);
	/* The journal: per uid and size, never negative. */
	assert_int_equal(switch_state_open(f->s, true, &fd), 0);
	assert_int_equal(hugepages_journal_add(fd, 4242, 2ULL << 20, 300), 0);
	assert_int_equal(hugepages_journal_add(fd, 4242, 2ULL << 20, -100), 0);
	assert_int_equal(hugepages_journal_get(fd, 4242, 2ULL << 20, &n), 0);
	assert_int_equal(n, 200);
	assert_int_equal(hugepages_journal_get(fd, 4243, 2ULL << 20, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(hugepages_journal_add(fd, 4242, 2ULL << 20, -999), 0);
	assert_int_equal(hugepages_journal_get(fd, 4242, 2ULL << 20, &n), 0);
	assert_int_equal(n, 0);
	close(fd);
}

/* ---- the helper's new requests, parsed strictly ---- */

static void test_helper_requests(void **state)
{
	struct priv_request rq;
	char why[256];

	(void)state;
	assert_int_equal(helper_parse(3, (char *[]){ "h", "hugepages", "2048:512", NULL }, &rq, why,
				      sizeof(why)), 0);
	assert_int_equal(rq.op, PRIV_HUGEPAGES);
	assert_int_equal(rq.bytes, 2ULL << 20);
	assert_int_equal(rq.count, 512);
	assert_int_equal(helper_parse(3, (char *[]){ "h", "hugepages-free", "1048576:2", NULL }, &rq,
				      why, sizeof(why)), 0);
	assert_int_equal(rq.op, PRIV_HUGEPAGES_FREE);
	assert_int_equal(rq.bytes, 1ULL << 30);
	static const char *const bad_pages[] = { "2048", "2048:", ":5", "2048:0", "-1:5", "2048:5x",
						 " 2048:5", NULL };
	for (size_t i = 0; bad_pages[i]; i++)
		if (helper_parse(3, (char *[]){ "h", "hugepages", (char *)bad_pages[i], NULL }, &rq, why,
				 sizeof(why)) != -EINVAL)
			fail_msg("hugepages '%s' accepted", bad_pages[i]);
	assert_int_equal(helper_parse(3, (char *[]){ "h", "input",
				      "/dev/input/by-id/usb-Logitech_USB_Keyboard-event-kbd", NULL },
				      &rq, why, sizeof(why)), 0);
	assert_int_equal(rq.op, PRIV_INPUT);
	assert_string_equal(rq.path, "/dev/input/by-id/usb-Logitech_USB_Keyboard-event-kbd");
	static const char *const bad_paths[] = { "/dev/kvm", "/dev/input/../kvm", "input/event0",
						 "/dev/input/event0;rm", "/dev/input/a b", NULL };
	for (size_t i = 0; bad_paths[i]; i++)
		if (helper_parse(3, (char *[]){ "h", "input", (char *)bad_paths[i], NULL }, &rq, why,
				 sizeof(why)) != -EINVAL)
			fail_msg("input '%s' accepted", bad_paths[i]);
}

/* ---- what a dead run left, from its vm.json, given back ---- */

static void said(void *data, const char *msg)
{
	char *buf = data;
	size_t len = strlen(buf);

	snprintf(buf + len, 8192 - len, "%s\n", msg);
}

static int vm_dir(struct fx *f)
{
	char path[PATH_MAX];
	int fd;

	fake_mkdir(f->root, "run/vmrun/vm/t");
	snprintf(path, sizeof(path), "%s/run/vmrun/vm/t", f->root);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void test_vm_info_round_trip(void **state)
{
	struct fx *f = *state;
	struct vm_info vi = { .pid = 4321, .qemu_pid = 4322, .guard_pid = 4323, .started = 7,
			      .n_groups = 1, .groups = { 2 }, .n_gpus = 2,
			      .gpus = { "0000:01:00.0", "0000:02:00.0" }, .looking_glass_made = true,
			      .huge_page = 2ULL << 20, .huge_added = 64, .n_inputs = 1, .isolated = true };
	struct vm_info back;
	int fd = vm_dir(f);

	(void)state;
	snprintf(vi.name, sizeof(vi.name), "t");
	snprintf(vi.state, sizeof(vi.state), "running");
	snprintf(vi.looking_glass, sizeof(vi.looking_glass), "/dev/shm/looking-glass-t");
	snprintf(vi.inputs[0], sizeof(vi.inputs[0]), "/dev/input/by-id/kbd");
	assert_true(vm_info_has_changes(&vi));
	assert_int_equal(vm_info_write(fd, &vi), 0);
	assert_int_equal(vm_info_read(fd, &back), 0);
	assert_int_equal(back.guard_pid, 4323);
	assert_string_equal(back.state, "running");
	assert_int_equal(back.n_gpus, 2);
	assert_string_equal(back.gpus[1], "0000:02:00.0");
	assert_true(back.looking_glass_made);
	assert_int_equal(back.huge_page, 2ULL << 20);
	assert_int_equal(back.huge_added, 64);
	assert_int_equal(back.n_inputs, 1);
	assert_string_equal(back.inputs[0], "/dev/input/by-id/kbd");
	assert_true(back.isolated);
	/* Nothing changed: nothing to give back. */
	vi = (struct vm_info){ .pid = 1 };
	snprintf(vi.name, sizeof(vi.name), "t");
	assert_false(vm_info_has_changes(&vi));
	/* A hostile page size or count is dropped, not acted on. */
	fake_write(f->root, "run/vmrun/vm/t/vm.json", "{\"name\": \"t\", \"pid\": 5, \"huge_page_bytes\": "
		   "4096, \"huge_pages_added\": 99, \"gpus\": [\"0000:01:00.0\", 7, \"a-very-long-"
		   "string-that-is-no-address\"]}");
	assert_int_equal(vm_info_read(fd, &back), 0);
	assert_int_equal(back.huge_added, 0);
	assert_int_equal(back.n_gpus, 1);
	close(fd);
}

static void test_recover(void **state)
{
	struct fx *f = *state;
	struct vm_info vi = { .pid = 4321, .n_gpus = 1, .gpus = { "0000:01:00.0" },
			      .huge_page = 2ULL << 20, .huge_added = 64, .looking_glass_made = true };
	char lg[128], out[8192] = "";
	struct priv priv;
	int fd = vm_dir(f), state_fd = -1, lgfd;

	if (geteuid() != 0)
		test_skip("as a user priv goes to vmrun-helper only on the real host; root runs it here");
	snprintf(vi.name, sizeof(vi.name), "t");
	snprintf(lg, sizeof(lg), "/dev/shm/looking-glass-vmrun-test-%d", (int)getpid());
	snprintf(vi.looking_glass, sizeof(vi.looking_glass), "%s", lg);
	lgfd = open(lg, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(lgfd >= 0);
	close(lgfd);
	/* The pool grew by 64 for the run, journaled as root's. */
	pool(f, 164, 164);
	assert_int_equal(switch_state_open(f->s, true, &state_fd), 0);
	assert_int_equal(hugepages_journal_add(state_fd, 0, 2ULL << 20, 64), 0);
	assert_int_equal(vm_info_write(fd, &vi), 0);
	priv_init(&priv, f->s, said, out);
	/* The GPU has no journal (the run died before it was detached): nothing to do for it. */
	assert_int_equal(vm_recover(&priv, fd, &vi, said, out), EXIT_OK);
	assert_int_equal(access(lg, F_OK), -1);
	assert_non_null(strstr(out, "Looking Glass: removed"));
	assert_non_null(strstr(out, "hugepages: 64 2 MiB pages given back"));
	assert_int_equal(total_now(f), 100);
	assert_int_equal(faccessat(fd, "vm.json", F_OK, 0), -1);

	/* What cannot be given back stays, and vm.json says so; a file that is not the run's is
	 * left alone without counting as left over. */
	vi = (struct vm_info){ .pid = 4321, .n_gpus = 2, .gpus = { "0000:09:00.0", "bogus" },
			       .looking_glass_made = true };
	snprintf(vi.name, sizeof(vi.name), "t");
	snprintf(vi.looking_glass, sizeof(vi.looking_glass), "/etc/passwd");
	out[0] = '\0';
	assert_int_equal(vm_recover(&priv, fd, &vi, said, out), EXIT_RECOVER);
	assert_non_null(strstr(out, "no PCI device 0000:09:00.0"));
	assert_non_null(strstr(out, "bogus, which is not a PCI address: skipped"));
	assert_non_null(strstr(out, "/etc/passwd is not a file the run made: left alone"));
	assert_int_equal(access("/etc/passwd", F_OK), 0);
	assert_int_equal(vm_info_read(fd, &vi), 0);
	assert_string_equal(vi.state, "needs-restore");
	assert_int_equal(vi.n_gpus, 1);
	assert_string_equal(vi.gpus[0], "0000:09:00.0");
	assert_false(vi.looking_glass_made);
	close(state_fd);
	close(fd);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_input_node), T(test_acl_grant_revoke), T(test_hugepages),
		T(test_vm_info_round_trip), T(test_recover),
		cmocka_unit_test(test_helper_requests),
	};
	return cmocka_run_group_tests_name("hostshare", tests, NULL, NULL);
}
