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
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The argv arrays below point at literals: the helper takes char *argv[] as main() does. */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

#include "devacl.h"
#include "fakekernel.h"
#include "fakesys.h"
#include "helper.h"
#include "hugepages.h"
#include "inputgrant.h"
#include "vfionode.h"
#include "plan.h"
#include "priv.h"
#include "resource.h"
#include "vmdir.h"
#include "exitcodes.h"
#include "fileio.h"
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

#define EV0 makedev(13, 64)
#define HP (2ULL << 20)

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
	assert_int_equal(devacl_input_node(f->s, "/dev/input/by-id/usb-Test_Keyboard-event-kbd", rel,
				    sizeof(rel), &rdev), 0);
	assert_string_equal(rel, "input/event0");
	assert_int_equal(major(rdev), 13);
	assert_int_equal(devacl_input_node(f->s, "/dev/input/event0", rel, sizeof(rel), &rdev), 0);
	/* An absolute link resolves inside the host's root (here: the fixture's), not outside. */
	fake_symlink(f->root, "dev/input/by-id/abs-event-kbd", "/dev/input/event0");
	assert_int_equal(devacl_input_node(f->s, "/dev/input/by-id/abs-event-kbd", rel, sizeof(rel), &rdev), 0);
	assert_string_equal(rel, "input/event0");
	/* Climbing out stops at the root: the fixture's dev/null, which is not there. */
	fake_symlink(f->root, "dev/input/by-id/out", "../../../../../../../../dev/null");
	assert_int_equal(devacl_input_node(f->s, "/dev/input/by-id/out", rel, sizeof(rel), &rdev), -ENOENT);
	assert_int_equal(devacl_input_node(f->s, "/dev/input/by-id/none", rel, sizeof(rel), &rdev), -ENOENT);
	assert_int_equal(devacl_input_node(f->s, "/dev/kvm", rel, sizeof(rel), &rdev), -ENODEV);
	assert_int_equal(devacl_input_node(f->s, "/dev/input/../kvm", rel, sizeof(rel), &rdev), -ENODEV);
	/* A device that is not an input event device, under /dev/input: refused. */
	fake_write(f->root, "dev/input/mice", "");
	assert_int_equal(devacl_input_node(f->s, "/dev/input/mice", rel, sizeof(rel), &rdev), -ENODEV);
}

static void test_acl_grant_revoke(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], buf[512];
	struct stat st;

	make_event(f, "event0", 0660);
	snprintf(path, sizeof(path), "%s/dev/input/event0", f->root);
	if (devacl_grant(f->s, "input/event0", EV0, 4242) == -EOPNOTSUPP)
		test_skip_not_on_ci("this file system has no POSIX ACLs");
	assert_true(devacl_has(f->s, "input/event0", 4242));
	assert_false(devacl_has(f->s, "input/event0", 4243));
	assert_true(getxattr(path, "system.posix_acl_access", buf, sizeof(buf)) > 0);
	/* A second user's entry beside the first; the first taken back keeps the second. */
	assert_int_equal(devacl_grant(f->s, "input/event0", EV0, 4243), 0);
	assert_int_equal(devacl_revoke(f->s, "input/event0", EV0, 4242), 0);
	assert_false(devacl_has(f->s, "input/event0", 4242));
	assert_true(devacl_has(f->s, "input/event0", 4243));
	/* The last one taken back: no ACL, and the mode is what it was (not the mask's). */
	assert_int_equal(devacl_revoke(f->s, "input/event0", EV0, 4243), 0);
	assert_true(getxattr(path, "system.posix_acl_access", buf, sizeof(buf)) < 0);
	assert_int_equal(errno, ENODATA);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	/* An owning group with read only: the grant's rw mask must not be left in the mode. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(devacl_grant(f->s, "input/event0", EV0, 4242), 0);
	assert_int_equal(devacl_revoke(f->s, "input/event0", EV0, 4242), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* Another device at the name by now (replugged): nothing given, nothing taken. */
	assert_int_equal(devacl_grant(f->s, "input/event0", makedev(13, 65), 4242), -ESTALE);
	assert_false(devacl_has(f->s, "input/event0", 4242));
	assert_int_equal(devacl_grant(f->s, "input/event0", EV0, 4242), 0);
	assert_int_equal(devacl_revoke(f->s, "input/event0", makedev(13, 65), 4242), 0);
	assert_true(devacl_has(f->s, "input/event0", 4242));
	assert_int_equal(devacl_revoke(f->s, "input/event0", EV0, 4242), 0);
	/* Unplugged meanwhile: nothing to take back is no error. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(devacl_revoke(f->s, "input/event0", EV0, 4242), 0);
}

/* ---- input grants: recorded on root's side, tied to their run, swept when it is gone ---- */

/* The calling vmrun as the fixture's /proc shows it: this very process (a pidfd needs a real
 * pid), uid 4242 alone, its exe the fixture's usr/bin/vmrun (or, bogus, usr/bin/sh). */
static void caller_proc(struct fx *f, unsigned long long start, bool bogus)
{
	char path[64], text[PATH_MAX];

	snprintf(path, sizeof(path), "proc/%d/status", (int)getpid());
	snprintf(text, sizeof(text), "Name:\tvmrun\nUid:\t4242\t4242\t4242\t4242\nGid:\t4242\t4242\t4242\t4242\n");
	fake_write(f->root, path, text);
	fake_proc_stat(f->root, (int)getpid(), "vmrun", start);
	fake_write(f->root, "usr/bin/vmrun", "ELF");
	fake_write(f->root, "usr/bin/sh", "ELF");
	snprintf(path, sizeof(path), "proc/%d/exe", (int)getpid());
	snprintf(text, sizeof(text), "%s/usr/bin/%s", f->root, bogus ? "sh" : "vmrun");
	{
		char full[PATH_MAX];

		snprintf(full, sizeof(full), "%s/%s", f->root, path);
		(void)unlink(full);
	}
	fake_symlink(f->root, path, text);
}

static void input_request(struct fx *f, struct priv_request *rq, enum priv_op op)
{
	struct stat st;
	char exe[PATH_MAX];

	*rq = (struct priv_request){ .op = op, .caller = 4242, .caller_gid = 4242,
				     .caller_pid = getpid(), .input_rdev = EV0 };
	snprintf(rq->path, sizeof(rq->path), "/dev/input/by-id/usb-Test_Keyboard-event-kbd");
	snprintf(exe, sizeof(exe), "%s/usr/bin/vmrun", f->root);
	assert_int_equal(stat(exe, &st), 0);
	rq->run_exe.set = true;
	rq->run_exe.dev = st.st_dev;
	rq->run_exe.ino = st.st_ino;
}

static bool has_record(int state_fd)
{
	return faccessat(state_fd, "input-4242-13-64.json", F_OK, 0) == 0;
}

static void test_input_grants(void **state)
{
	struct fx *f = *state;
	struct priv_request rq;
	struct priv_result res;
	int state_fd = -1;

	make_event(f, "event0", 0660);
	if (devacl_grant(f->s, "input/event0", EV0, 4242) == -EOPNOTSUPP)
		test_skip_not_on_ci("this file system has no POSIX ACLs");
	assert_int_equal(devacl_revoke(f->s, "input/event0", EV0, 4242), 0);
	assert_int_equal(switch_state_open(f->s, true, &state_fd), 0);
	/* A process that is not a vmrun run (a shell calling the helper): refused, nothing kept. */
	caller_proc(f, 5000, true);
	input_request(f, &rq, PRIV_INPUT);
	privop_run(f->s, NULL, &rq, NULL, NULL, &res);
	assert_int_equal(res.status, SW_REFUSED);
	assert_non_null(strstr(res.why, "input devices are given only to a vmrun run of uid 4242's"));
	assert_false(devacl_has(f->s, "input/event0", 4242));
	assert_false(has_record(state_fd));
	/* Authorised as another device than the path is now: refused. */
	caller_proc(f, 5000, false);
	input_request(f, &rq, PRIV_INPUT);
	rq.input_rdev = makedev(13, 65);
	privop_run(f->s, NULL, &rq, NULL, NULL, &res);
	assert_int_equal(res.status, SW_REFUSED);
	assert_non_null(strstr(res.why, "is another device than the one authorised"));
	assert_false(devacl_has(f->s, "input/event0", 4242));
	/* A run: granted, and recorded on root's side with the run's start time. */
	input_request(f, &rq, PRIV_INPUT);
	privop_run(f->s, NULL, &rq, NULL, NULL, &res);
	assert_int_equal(res.status, SW_OK);
	assert_true(devacl_has(f->s, "input/event0", 4242));
	assert_true(has_record(state_fd));
	/* While the run lives the sweep keeps it; taken back by the run, both go. */
	assert_int_equal(input_grant_sweep(f->s, state_fd, NULL, NULL), 0);
	assert_true(devacl_has(f->s, "input/event0", 4242));
	input_request(f, &rq, PRIV_INPUT_REVOKE);
	privop_run(f->s, NULL, &rq, NULL, NULL, &res);
	assert_int_equal(res.status, SW_OK);
	assert_false(devacl_has(f->s, "input/event0", 4242));
	assert_false(has_record(state_fd));
	/* Given again, then the run dies (its pid now another process, started later): the next
	 * privileged operation of anyone's takes it back before doing its own. */
	input_request(f, &rq, PRIV_INPUT);
	privop_run(f->s, NULL, &rq, NULL, NULL, &res);
	assert_int_equal(res.status, SW_OK);
	caller_proc(f, 9999, false);
	rq = (struct priv_request){ .op = PRIV_HUGEPAGES_FREE, .bytes = HP, .count = 1, .caller = 77 };
	privop_run(f->s, NULL, &rq, NULL, NULL, &res);
	assert_false(devacl_has(f->s, "input/event0", 4242));
	assert_false(has_record(state_fd));
	close(state_fd);
}

/* /dev/vfio/N: the caller's after a detach for them, and what it was after the attach; a second
 * give to the same user keeps the first record (never their own ownership as the one to go back
 * to). Also a detach --run for a parent that is not the caller's: refused before anything. */
static void test_vfio_node(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];
	struct priv_request rq;
	struct priv_result res;
	struct stat st;
	int state_fd = -1;

	fake_mkdir(f->root, "dev/vfio");
	snprintf(path, sizeof(path), "%s/dev/vfio/7", f->root);
	if (mknod(path, S_IFCHR | 0660, makedev(10, 200)) < 0)
		test_skip("mknod is refused here (not root, or a container): no /dev/vfio/7");
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(chmod(path, 0660), 0);
	assert_int_equal(switch_state_open(f->s, true, &state_fd), 0);
	assert_int_equal(vfio_node_give(f->s, state_fd, 7, 4242), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 4242);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(vfio_node_give(f->s, state_fd, 7, 4242), 0);
	assert_int_equal(vfio_node_take_back(f->s, state_fd, 7), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(faccessat(state_fd, "vfio-7.json", F_OK, 0), -1);
	assert_int_equal(vfio_node_take_back(f->s, state_fd, 7), 0);
	/* Given, then the node went with its devices: the record goes, nothing else. */
	assert_int_equal(vfio_node_give(f->s, state_fd, 7, 4242), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(vfio_node_take_back(f->s, state_fd, 7), 0);
	assert_int_equal(faccessat(state_fd, "vfio-7.json", F_OK, 0), -1);
	/* --run for a parent of another uid's (an orphaned helper's is init): refused. */
	caller_proc(f, 5000, false);
	rq = (struct priv_request){ .op = PRIV_DETACH, .caller = 4243, .caller_gid = 4243,
				    .caller_pid = getpid(), .opts.for_run = true };
	assert_int_equal(pci_addr_parse("0000:01:00.0", &rq.addr), 0);
	privop_run(f->s, NULL, &rq, NULL, NULL, &res);
	assert_int_equal(res.status, SW_REFUSED);
	assert_non_null(strstr(res.why, "is not uid 4243's alone"));
	close(state_fd);
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

/* A host with mem MiB, avail MiB of it available. */
static void meminfo(struct fx *f, unsigned long mem, unsigned long avail)
{
	char text[128];

	snprintf(text, sizeof(text), "MemTotal: %lu kB\nMemFree: 1 kB\nMemAvailable: %lu kB\n",
		 mem << 10, avail << 10);
	fake_write(f->root, "proc/meminfo", text);
}

static int grow(struct fx *f, struct fake_kernel *k, int fd, uid_t uid, unsigned long n,
		uint64_t quota, unsigned long *added, char *why)
{
	struct hugepage_request rq = { .uid = uid, .page_bytes = HP, .count = n, .quota_bytes = quota };

	why[0] = '\0';
	return hugepages_grow(f->s, &k->ops, fd, &rq, added, why, 512);
}

static int give(struct fx *f, struct fake_kernel *k, int fd, uid_t uid, unsigned long n,
		unsigned long *given)
{
	struct hugepage_request rq = { .uid = uid, .page_bytes = HP, .count = n };
	char why[512];

	return hugepages_give_back(f->s, &k->ops, fd, &rq, given, why, sizeof(why));
}

static unsigned long credit(int fd, uid_t uid)
{
	unsigned long n = 99;

	assert_int_equal(hugepages_credit(fd, uid, HP, &n), 0);
	return n;
}

/* Growing a pool credits the caller with what it grew by, no more; giving back never takes
 * more than that credit, nor the pool below the floor the administrator reserved. */
static void test_hugepages(void **state)
{
	struct fx *f = *state;
	struct fake_kernel *k = fk_new(f->root);
	unsigned long added = 99, given = 99, floor = 99;
	char why[512] = "";
	int fd = -1;

	meminfo(f, 16384, 8192);
	assert_int_equal(switch_state_open(f->s, true, &fd), 0);
	pool(f, 100, 100); /* reserved at boot */
	assert_int_equal(grow(f, k, fd, 1000, 64, 0, &added, why), 0);
	assert_int_equal(added, 0); /* enough free: nothing touched, nothing credited */
	assert_int_equal(total_now(f), 100);
	assert_int_equal(credit(fd, 1000), 0);
	/* 40 of them in use (another VM): 64 more needed, 4 of them there. */
	pool(f, 100, 60);
	assert_int_equal(grow(f, k, fd, 1000, 64, 0, &added, why), 0);
	assert_int_equal(added, 4);
	assert_int_equal(total_now(f), 104);
	assert_int_equal(credit(fd, 1000), 4);
	assert_int_equal(hugepages_floor(fd, HP, &floor), 0);
	assert_int_equal(floor, 100);
	/* A second user needs 264 free: the 64 there count, 200 more are made and credited. */
	assert_int_equal(grow(f, k, fd, 1001, 264, 0, &added, why), 0);
	assert_int_equal(added, 200);
	assert_int_equal(credit(fd, 1001), 200);
	assert_int_equal(total_now(f), 304);
	/* Asking to give back more than one was credited gives back the credit, no more. */
	assert_int_equal(give(f, k, fd, 1000, 9999, &given), 0);
	assert_int_equal(given, 4);
	assert_int_equal(credit(fd, 1000), 0);
	assert_int_equal(total_now(f), 300);
	assert_int_equal(give(f, k, fd, 1000, 9999, &given), 0);
	assert_int_equal(given, 0);
	assert_int_equal(total_now(f), 300);
	/* The administrator shrank the pool meanwhile: 1001's give-back stops at the floor. */
	pool(f, 150, 150);
	assert_int_equal(give(f, k, fd, 1001, 200, &given), 0);
	assert_int_equal(given, 200);
	assert_int_equal(total_now(f), 100);
	assert_int_equal(credit(fd, 1001), 0);
	assert_int_equal(hugepages_floor(fd, HP, &floor), 0);
	assert_int_equal(floor, 0); /* nobody's pages left: no floor to keep */
	/* Memory would not give them: the pool is put back, nothing credited. */
	k->huge_obtainable = 10;
	assert_int_equal(grow(f, k, fd, 1000, 512, 0, &added, why), -ENOMEM);
	assert_non_null(strstr(why, "got 110 of the 512 free 2048 kB pages needed: 804 MiB short"));
	assert_int_equal(total_now(f), 100);
	assert_int_equal(added, 0);
	assert_int_equal(credit(fd, 1000), 0);
	k->huge_obtainable = -1;
	assert_int_equal(hugepages_read(f->s, 1ULL << 30, &(struct hugepage_pool){ 0 }), -ENOENT);
	close(fd);
	fk_free(k);
}

/* Growth is bounded by what the host has available (less its reserve) and by the quota. */
static void test_hugepages_bounds(void **state)
{
	struct fx *f = *state;
	struct fake_kernel *k = fk_new(f->root);
	unsigned long added = 99;
	char why[512];
	int fd = -1;

	assert_int_equal(switch_state_open(f->s, true, &fd), 0);
	pool(f, 0, 0);
	/* 4 GiB host, 1 GiB available, a reserve of 256 MiB: 384 pages (768 MiB) fit, 385 not. */
	meminfo(f, 4096, 1024);
	assert_int_equal(grow(f, k, fd, 1000, 385, 0, &added, why), -ENOMEM);
	assert_non_null(strstr(why, "385 more 2 MiB pages (770 MiB) would leave the host less than "
				    "256 MiB of the 1024 MiB it has available"));
	assert_int_equal(total_now(f), 0);
	assert_int_equal(grow(f, k, fd, 1000, 384, 0, &added, why), 0);
	assert_int_equal(added, 384);
	/* The whole of RAM is never had, however it is asked for. */
	meminfo(f, 4096, 4096);
	assert_int_equal(grow(f, k, fd, 1001, 2048 + 384, 0, &added, why), -ENOMEM);
	/* A quota of 1 GiB: 768 MiB credited, 512 more would be over it. */
	meminfo(f, 16384, 8192);
	assert_int_equal(grow(f, k, fd, 1000, 384 + 256, 1ULL << 30, &added, why), -EDQUOT);
	assert_non_null(strstr(why, "would make 1280 MiB of hugepages for uid 1000, over the 1024 "
				    "MiB /etc/vmrun/allow.yaml allows them"));
	assert_int_equal(total_now(f), 384);
	assert_int_equal(grow(f, k, fd, 1000, 384 + 128, 1ULL << 30, &added, why), 0);
	assert_int_equal(added, 128);
	assert_int_equal(credit(fd, 1000), 512);
	close(fd);
	fk_free(k);
}

/*
 * Concurrent requests, as processes (each its own helper): every growth is seen by the next,
 * no caller is credited more than the pool grew for them, and when all have given back the
 * pool is where it started, never below.
 */
static void test_hugepages_concurrent(void **state)
{
	struct fx *f = *state;
	unsigned long floor = 99;
	pid_t pids[6];
	int fd = -1, go[2];

	meminfo(f, 65536, 32768);
	pool(f, 50, 50);
	assert_int_equal(switch_state_open(f->s, true, &fd), 0);
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	for (size_t i = 0; i < ARRAY_SIZE(pids); i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct fake_kernel *k = fk_new(f->root);
			unsigned long added, given, total = 0;
			char why[512], c;
			int rc = 0;

			close(go[1]);
			(void)!read(go[0], &c, 1); /* all start at once */
			for (int round = 0; round < 60 && !rc; round++) {
				if (grow(f, k, fd, 2000 + (uid_t)i, 100, 0, &added, why) < 0)
					rc = 1;
				total += added;
				if (credit(fd, 2000 + (uid_t)i) != total)
					rc = 2;
				if (give(f, k, fd, 2000 + (uid_t)i, 1000, &given) < 0 || given != total)
					rc = 3;
				total = 0;
			}
			_exit(rc);
		}
	}
	close(go[0]);
	close(go[1]);
	for (size_t i = 0; i < ARRAY_SIZE(pids); i++) {
		int status;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status))
			fail_msg("process %zu: check %d failed", i, WEXITSTATUS(status));
	}
	assert_int_equal(total_now(f), 50);
	for (size_t i = 0; i < ARRAY_SIZE(pids); i++)
		assert_int_equal(credit(fd, 2000 + (uid_t)i), 0);
	assert_int_equal(hugepages_floor(fd, HP, &floor), 0);
	assert_int_equal(floor, 0);
	close(fd);
}

/* A journal an older vmrun wrote (credits per uid, no floor) is folded in, not lost. */
static void test_hugepages_old_journal(void **state)
{
	struct fx *f = *state;
	struct fake_kernel *k = fk_new(f->root);
	unsigned long given = 0;
	int fd = -1;

	meminfo(f, 16384, 8192);
	pool(f, 164, 164);
	assert_int_equal(switch_state_open(f->s, true, &fd), 0);
	assert_int_equal(write_file_atomic_at(fd, "hugepages-1000.json", "{\"2048\": 64}", 12, 0600,
					      (uid_t)-1, (gid_t)-1), 0);
	assert_int_equal(give(f, k, fd, 1000, 64, &given), 0);
	assert_int_equal(given, 64);
	assert_int_equal(total_now(f), 100);
	assert_int_equal(faccessat(fd, "hugepages-1000.json", F_OK, 0), -1);
	close(fd);
	fk_free(k);
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
	struct vmdir_info vi = { .pid = 4321, .qemu_pid = 4322, .guard_pid = 4323, .started = 7,
			      .n_groups = 1, .groups = { 2 }, .n_gpus = 2,
			      .gpus = { "0000:01:00.0", "0000:02:00.0" }, .looking_glass_made = true,
			      .huge_page = 2ULL << 20, .huge_added = 64, .n_inputs = 1, .isolated = true };
	struct vmdir_info back;
	int fd = vm_dir(f);

	(void)state;
	snprintf(vi.name, sizeof(vi.name), "t");
	snprintf(vi.state, sizeof(vi.state), "running");
	snprintf(vi.looking_glass, sizeof(vi.looking_glass), "/dev/shm/looking-glass-t");
	snprintf(vi.inputs[0], sizeof(vi.inputs[0]), "/dev/input/by-id/kbd");
	assert_true(vmdir_info_has_changes(&vi));
	assert_int_equal(vmdir_info_write(fd, &vi), 0);
	assert_int_equal(vmdir_info_read(fd, &back), 0);
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
	vi = (struct vmdir_info){ .pid = 1 };
	snprintf(vi.name, sizeof(vi.name), "t");
	assert_false(vmdir_info_has_changes(&vi));
	/* A hostile page size or count is dropped, not acted on. */
	fake_write(f->root, "run/vmrun/vm/t/vm.json", "{\"name\": \"t\", \"pid\": 5, \"huge_page_bytes\": "
		   "4096, \"huge_pages_added\": 99, \"gpus\": [\"0000:01:00.0\", 7, \"a-very-long-"
		   "string-that-is-no-address\"]}");
	assert_int_equal(vmdir_info_read(fd, &back), 0);
	assert_int_equal(back.huge_added, 0);
	assert_int_equal(back.n_gpus, 1);
	close(fd);
}

static void test_recover(void **state)
{
	struct fx *f = *state;
	struct vmdir_info vi = { .pid = 4321, .n_gpus = 1, .gpus = { "0000:01:00.0" },
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
	{
		const char *j = "{\"2048\": {\"floor\": 100, \"users\": {\"0\": 64}}}";

		assert_int_equal(write_file_atomic_at(state_fd, "hugepages.json", j, strlen(j), 0600,
						      (uid_t)-1, (gid_t)-1), 0);
	}
	assert_int_equal(vmdir_info_write(fd, &vi), 0);
	priv_init(&priv, f->s, said, out);
	/* The GPU has no journal (the run died before it was detached): nothing to do for it. */
	assert_int_equal(run_recover(&priv, fd, &vi, said, out), EXIT_OK);
	assert_int_equal(access(lg, F_OK), -1);
	assert_non_null(strstr(out, "Looking Glass: removed"));
	assert_non_null(strstr(out, "hugepages: 64 2 MiB pages given back"));
	/* Last taken, first given back: the hugepages (taken after the file) go first. */
	assert_true(strstr(out, "hugepages: 64") < strstr(out, "Looking Glass: removed"));
	assert_int_equal(total_now(f), 100);
	assert_int_equal(faccessat(fd, "vm.json", F_OK, 0), -1);

	/* What cannot be given back stays, and vm.json says so; a file that is not the run's is
	 * left alone without counting as left over. */
	vi = (struct vmdir_info){ .pid = 4321, .n_gpus = 2, .gpus = { "0000:09:00.0", "bogus" },
			       .looking_glass_made = true };
	snprintf(vi.name, sizeof(vi.name), "t");
	snprintf(vi.looking_glass, sizeof(vi.looking_glass), "/etc/passwd");
	out[0] = '\0';
	assert_int_equal(run_recover(&priv, fd, &vi, said, out), EXIT_RECOVER);
	assert_non_null(strstr(out, "no PCI device 0000:09:00.0"));
	assert_non_null(strstr(out, "bogus, which is not a PCI address: skipped"));
	assert_non_null(strstr(out, "/etc/passwd is not a file the run made: left alone"));
	assert_true(strstr(out, "no PCI device 0000:09:00.0") < strstr(out, "/etc/passwd is not"));
	assert_int_equal(access("/etc/passwd", F_OK), 0);
	assert_int_equal(vmdir_info_read(fd, &vi), 0);
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
		T(test_input_node), T(test_acl_grant_revoke), T(test_input_grants),
		T(test_vfio_node), T(test_hugepages),
		T(test_hugepages_bounds), T(test_hugepages_concurrent), T(test_hugepages_old_journal),
		T(test_vm_info_round_trip), T(test_recover),
		cmocka_unit_test(test_helper_requests),
	};
	return cmocka_run_group_tests_name("hostshare", tests, NULL, NULL);
}
