/* SPDX-License-Identifier: MIT */
/*
 * The pre-flight (preflight.h) against fixture hosts: each thing a run needs is a check with
 * its verdict, its message (where the profile says it: FILE:LINE: KEY) and the exit code a run
 * stopping there has. What passes must pass too, so no check can fail everything.
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fakekernel.h"
#include "fakesys.h"
#include "plan.h"
#include "preflight.h"
#include "testskip.h"
#include "vmdir.h"
#include "util.h"

struct fx {
	char *root;
	char profile[PATH_MAX];
	struct sysroot *s;
	struct plan pl;
	struct checks ck;
	bool planned;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->root = fake_root_new();
	fake_lab_host(f->root);
	fk_prepare_root(f->root);
	fake_write(f->root, "proc/meminfo", "MemTotal:       16384000 kB\nMemFree: 1 kB\n");
	fake_write(f->root, "proc/self/mountinfo", "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n");
	fake_write(f->root, "dev/kvm", "");
	snprintf(f->profile, sizeof(f->profile), "%s/t.yaml", f->root);
	assert_int_equal(sysroot_open(f->root, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	checks_clear(&f->ck);
	if (f->planned)
		plan_clear(&f->pl);
	sysroot_free(f->s);
	fake_root_free(f->root);
	free(f);
	return 0;
}

/* Plan and check the profile text as uid (0: root, so no memlock limit applies). */
static void check_as(struct fx *f, uid_t uid, const char *yaml)
{
	FILE *p = fopen(f->profile, "we");

	assert_non_null(p);
	fputs(yaml, p);
	fclose(p);
	checks_clear(&f->ck);
	if (f->planned)
		plan_clear(&f->pl);
	assert_int_equal(plan_build(f->s, uid, f->profile, NULL, &f->pl), 0);
	f->planned = true;
	preflight(f->s, uid, &f->pl, &f->ck);
}

/* The same in a child that has become uid 4242: no cmocka assertion may run there. */
static bool child_finds(struct fx *f, const char *yaml, const char *id, enum verdict v,
			const char *part);

static void check(struct fx *f, const char *yaml)
{
	check_as(f, 0, yaml);
}

static const struct check_item *find(const struct fx *f, const char *id, enum verdict v,
				     const char *part)
{
	for (size_t i = 0; i < f->ck.n; i++)
		if (streq(check_id_name(f->ck.v[i].id), id) && f->ck.v[i].verdict == v &&
		    (!part || strstr(f->ck.v[i].msg, part)))
			return &f->ck.v[i];
	return NULL;
}

static void dump(const struct fx *f)
{
	for (size_t i = 0; i < f->ck.n; i++)
		fprintf(stderr, "  %s %s: %s | %s\n", checks_verdict_name(f->ck.v[i].verdict), check_id_name(f->ck.v[i].id),
			f->ck.v[i].msg, f->ck.v[i].fix);
}

/* The item exists with this verdict and message part; FAILs also with their exit code. */
static const struct check_item *expect(const struct fx *f, const char *id, enum verdict v,
				       const char *part, int exit_code)
{
	const struct check_item *it = find(f, id, v, part);

	if (!it) {
		dump(f);
		fail_msg("no %s item '%s' with \"%s\"", checks_verdict_name(v), id, part ? part : "");
	}
	if (v == VERDICT_FAIL)
		assert_int_equal(it->exit_code, exit_code);
	return it;
}

static bool child_finds(struct fx *f, const char *yaml, const char *id, enum verdict v,
			const char *part)
{
	pid_t pid;
	int st = 0;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct plan pl;
		struct checks ck = { 0 };
		bool found = false;

		if (setresgid(4242, 4242, 4242) || setresuid(4242, 4242, 4242))
			_exit(3);
		setenv("HOME", "/nonexistent", 1);
		unsetenv("XDG_CONFIG_HOME");
		if (plan_build(f->s, 4242, f->profile, NULL, &pl))
			_exit(4);
		preflight(f->s, 4242, &pl, &ck);
		for (size_t i = 0; i < ck.n; i++)
			found |= streq(check_id_name(ck.v[i].id), id) && ck.v[i].verdict == v &&
				 strstr(ck.v[i].msg, part) && (v != VERDICT_FAIL || ck.v[i].exit_code);
		for (size_t i = 0; !found && i < ck.n; i++)
			fprintf(stderr, "  child: %s %s: %s | %s\n", checks_verdict_name(ck.v[i].verdict),
				check_id_name(ck.v[i].id), ck.v[i].msg, ck.v[i].fix);
		_exit(found ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_not_equal(WEXITSTATUS(st), 3);
	assert_int_not_equal(WEXITSTATUS(st), 4);
	return WEXITSTATUS(st) == 0;
}

static void write_profile(struct fx *f, const char *yaml)
{
	FILE *p = fopen(f->profile, "we");

	assert_non_null(p);
	fputs(yaml, p);
	fclose(p);
}

static void expect_no_fail(const struct fx *f)
{
	if (f->ck.count[VERDICT_FAIL]) {
		dump(f);
		fail_msg("%u FAIL(s) where none was expected", f->ck.count[VERDICT_FAIL]);
	}
}

/* Lines 1-6; BIOS, so the fixture host needs no OVMF. */
#define HEAD "name: t\nos: linux\naccel: tcg\nmemory: 1G\nnetwork: {type: none}\nfirmware: {type: bios}\n"

static void image(const struct fx *f, const char *rel, const char *head, off_t size)
{
	char p[PATH_MAX];

	fake_write(f->root, rel, head);
	snprintf(p, sizeof(p), "%s/%s", f->root, rel);
	assert_int_equal(truncate(p, size), 0);
}

static void test_disks(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], want[PATH_MAX + 64];
	const struct check_item *it;
	int fd;

	check(f, HEAD "disks:\n  - path: /vm/none.qcow2\n");
	snprintf(want, sizeof(want), "%s:8: disks[0].path: /vm/none.qcow2: does not exist", f->profile);
	it = expect(f, "disk", VERDICT_FAIL, want, 4);
	assert_string_equal(it->fix, "create it (qemu-img create -f qcow2 /vm/none.qcow2 128G), or "
				     "correct the path");
	assert_int_equal(checks_first_fail(&f->ck)->exit_code, 4);

	image(f, "vm/a.qcow2", "QFI\xfb", 1 << 20);
	image(f, "vm/b.img", "", 1 << 20);
	check(f, HEAD "disks:\n  - path: /vm/a.qcow2\n  - path: /vm/b.img\n    readonly: true\n");
	expect(f, "disk", VERDICT_OK, "disks[0].path: /vm/a.qcow2: qcow2 image, read-write", 0);
	expect(f, "disk", VERDICT_OK, "disks[1].path: /vm/b.img: raw image, read-only", 0);
	expect_no_fail(f);

	/* The format is what the file is, not what its name suggests. */
	check(f, HEAD "disks:\n  - {path: /vm/a.qcow2, format: raw}\n  - {path: /vm/b.img, format: qcow2}\n");
	expect(f, "disk", VERDICT_FAIL, "disks[0].path: /vm/a.qcow2: is a qcow2 image, the profile says raw", 4);
	expect(f, "disk", VERDICT_FAIL, "disks[1].path: /vm/b.img: is not a qcow2 image", 4);

	/* A directory is no image; a file is no block device. */
	fake_mkdir(f->root, "vm/dir");
	check(f, HEAD "disks:\n  - path: /vm/dir\n  - device: /dev/kvm\n");
	expect(f, "disk", VERDICT_FAIL, "/vm/dir: not a regular file", 4);
	expect(f, "disk", VERDICT_FAIL, "disks[1].device: /dev/kvm: not a block device", 4);

	/* Another QEMU has it open: it holds QEMU's image lock (bytes 100..299). */
	snprintf(path, sizeof(path), "%s/vm/a.qcow2", f->root);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_OFD_SETLK, &(struct flock){ .l_type = F_RDLCK,
		.l_whence = SEEK_SET, .l_start = 101, .l_len = 1 }), 0);
	check(f, HEAD "disks:\n  - path: /vm/a.qcow2\n");
	expect(f, "disk", VERDICT_FAIL, "is in use by a running QEMU", 3);
	close(fd);
	check(f, HEAD "disks:\n  - path: /vm/a.qcow2\n");
	expect_no_fail(f);
}

/* A user may not write what root owns 0644; read-only is enough for readonly: true. */
static void test_disk_access_as_user(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];

	if (geteuid() != 0)
		test_skip("not root: a file this user cannot write cannot be made");
	assert_int_equal(chmod(f->root, 0755), 0); /* the user may look in, not write */
	image(f, "vm/c.img", "", 1 << 20);
	snprintf(path, sizeof(path), "%s/vm/c.img", f->root);
	assert_int_equal(chmod(path, 0644), 0);
	write_profile(f, HEAD "disks:\n  - path: /vm/c.img\n");
	assert_true(child_finds(f, HEAD "disks:\n  - path: /vm/c.img\n", "disk", VERDICT_FAIL,
				"/vm/c.img: not readable and writable by you (uid 4242): Permission denied"));
	write_profile(f, HEAD "disks:\n  - {path: /vm/c.img, readonly: true}\n");
	assert_true(child_finds(f, NULL, "disk", VERDICT_OK, "/vm/c.img: raw image, read-only"));
}

/*
 * A block device node in the fixture, with the numbers of the block device this machine's
 * root file system is on (so opening it read-only works); the fixture's sysfs and mountinfo
 * describe its partitions and mounts.
 */
static void test_block_device_mounted(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], rel[64], want[96];
	struct stat root;
	dev_t dev;

	if (!fk_can_mknod(f->root))
		test_skip("mknod is refused here (not root, or a container): no block device node");
	assert_int_equal(stat("/", &root), 0);
	if (major(root.st_dev) == 0)
		test_skip_not_on_ci("/ is not on a block device (overlay, btrfs subvolume)");
	dev = root.st_dev;
	snprintf(path, sizeof(path), "%s/dev/sdb", f->root);
	assert_int_equal(mknod(path, S_IFBLK | 0600, dev), 0);
	snprintf(rel, sizeof(rel), "sys/dev/block/%u:%u/sdb1/partition", major(dev), minor(dev));
	fake_write(f->root, rel, "1\n");
	snprintf(rel, sizeof(rel), "sys/dev/block/%u:%u/sdb1/dev", major(dev), minor(dev));
	fake_write(f->root, rel, "250:17\n");
	check(f, HEAD "disks:\n  - device: /dev/sdb\n");
	snprintf(want, sizeof(want), "disks[0].device: /dev/sdb: block device %u:%u", major(dev),
		 minor(dev));
	expect(f, "disk", VERDICT_OK, want, 0);
	/* A partition of it mounted on the host. */
	fake_write(f->root, "proc/self/mountinfo", "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n"
						    "40 22 250:17 / /srv/data rw - ext4 /dev/sdb1 rw\n");
	check(f, HEAD "disks:\n  - device: /dev/sdb\n");
	expect(f, "disk", VERDICT_FAIL, "/dev/sdb: is mounted on the host at /srv/data", 4);
	/* Built on by device-mapper (LVM, dm-crypt). */
	fake_write(f->root, "proc/self/mountinfo", "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n");
	snprintf(rel, sizeof(rel), "sys/dev/block/%u:%u/holders/dm-0", major(dev), minor(dev));
	fake_mkdir(f->root, rel);
	check(f, HEAD "disks:\n  - device: /dev/sdb\n");
	expect(f, "disk", VERDICT_FAIL, "/dev/sdb: is in use by dm-0 on the host", 4);
}

static void test_bridge(void **state)
{
	struct fx *f = *state;
	const char *yaml = "name: t\nos: linux\naccel: tcg\nmemory: 1G\n"
			   "network: {type: bridge, bridge: br0}\nfirmware: {type: bios}\n";
	char want[PATH_MAX + 64];

	check(f, yaml);
	snprintf(want, sizeof(want), "%s:5: network.bridge: br0: no such bridge on this host", f->profile);
	expect(f, "bridge", VERDICT_FAIL, want, 4);
	fake_mkdir(f->root, "sys/class/net/br0");
	check(f, yaml);
	expect(f, "bridge", VERDICT_FAIL, "is a network interface but not a bridge", 4);
	fake_mkdir(f->root, "sys/class/net/br0/bridge");
	check(f, yaml);
	expect(f, "bridge", VERDICT_FAIL, "/etc/qemu/bridge.conf does not exist", 4);
	fake_write(f->root, "etc/qemu/bridge.conf", "# ours\nallow br1\n");
	check(f, yaml);
	expect(f, "bridge", VERDICT_FAIL, "not allowed in /etc/qemu/bridge.conf", 4);
	fake_write(f->root, "etc/qemu/bridge.conf", "include /etc/qemu/more.conf\n");
	fake_write(f->root, "etc/qemu/more.conf", "allow br0\n");
	check(f, yaml);
	expect(f, "bridge", VERDICT_OK, "br0: a bridge, allowed in /etc/qemu/bridge.conf", 0);
	fake_write(f->root, "etc/qemu/bridge.conf", "allow all\ndeny br0\n");
	check(f, yaml);
	expect(f, "bridge", VERDICT_FAIL, "denied in /etc/qemu/bridge.conf", 4);
	/* A user's QEMU needs the helper setuid root. */
	fake_write(f->root, "etc/qemu/bridge.conf", "allow br0\n");
	fake_write(f->root, "usr/lib/qemu/qemu-bridge-helper", "");
	check_as(f, 4242, yaml);
	expect(f, "bridge", VERDICT_FAIL, "qemu-bridge-helper is not setuid root", 4);
}

static void test_rom(void **state)
{
	struct fx *f = *state;
	const char *yaml = HEAD "pci:\n  - {address: \"01:00.0\", rom: /vm/gpu.rom}\n";

	check(f, yaml);
	expect(f, "rom", VERDICT_FAIL, "pci[0].rom: /vm/gpu.rom: No such file", 4);
	image(f, "vm/gpu.rom", "NVIDIA dump header", 128 << 10);
	check(f, yaml);
	expect(f, "rom", VERDICT_FAIL, "does not start with the PCI option ROM signature 55 AA", 4);
	image(f, "vm/gpu.rom", "\x55\xaa", 128 << 10);
	check(f, yaml);
	expect(f, "rom", VERDICT_OK, "/vm/gpu.rom: 128 KiB option ROM", 0);
}

static void test_memory(void **state)
{
	struct fx *f = *state;
	char want[PATH_MAX + 64];

	check(f, "name: t\nos: linux\naccel: tcg\nmemory: 99999T\nfirmware: {type: bios}\n");
	snprintf(want, sizeof(want), "%s:4: memory: ", f->profile);
	expect(f, "memory", VERDICT_FAIL, want, 4);
	expect(f, "memory", VERDICT_FAIL, "is more than this host has (15.6 GiB)", 4);
	check(f, "name: t\nos: linux\naccel: tcg\nmemory: 14G\nfirmware: {type: bios}\n");
	expect(f, "memory", VERDICT_WARN, "14.0 GiB leaves the host 1.6 GiB of its 15.6 GiB", 0);
	check(f, HEAD);
	expect(f, "memory", VERDICT_OK, "1.0 GiB of the host's 15.6 GiB", 0);
}

/* reallocarray, wrapped (the Makefile links this test with --wrap=reallocarray): the Nth
 * growth of a verdict list fails, as it would with no memory left. */
void *__real_reallocarray(void *p, size_t n, size_t size);
void *__wrap_reallocarray(void *p, size_t n, size_t size);
static unsigned fail_verdict_at, verdict_allocs;

void *__wrap_reallocarray(void *p, size_t n, size_t size)
{
	if (size == sizeof(struct check_item) && fail_verdict_at && ++verdict_allocs == fail_verdict_at)
		return NULL;
	return __real_reallocarray(p, n, size);
}

/*
 * The pre-flight fails closed: whichever verdict is lost to a failed allocation (a FAIL among
 * them), the run is refused, `vmrun check` counts it, and says why. Without it the list would
 * just be shorter, and a lost FAIL a pass.
 */
static void test_lost_verdict_fails(void **state)
{
	struct fx *f = *state;
	const struct check_item *first;
	size_t n;

	check(f, "name: t\nos: linux\naccel: tcg\nmemory: 99999T\nfirmware: {type: bios}\n");
	n = f->ck.n;
	assert_true(n > 3);
	for (unsigned k = 1; k <= n; k++) {
		verdict_allocs = 0;
		fail_verdict_at = k;
		checks_clear(&f->ck);
		preflight(f->s, 0, &f->pl, &f->ck);
		fail_verdict_at = 0;
		first = checks_first_fail(&f->ck);
		if (!first || !f->ck.lost)
			fail_msg("verdict %u lost: the pre-flight passed", k);
		assert_int_equal(first->id, CHECK_VERDICTS);
		assert_int_equal(first->exit_code, 4);
		assert_non_null(strstr(first->msg, "lost a verdict"));
		assert_true(f->ck.count[VERDICT_FAIL] >= 1);
	}
	/* The same profile, nothing lost: refused for its memory, as before. */
	checks_clear(&f->ck);
	preflight(f->s, 0, &f->pl, &f->ck);
	assert_false(f->ck.lost);
	assert_int_equal(checks_first_fail(&f->ck)->id, CHECK_MEMORY);
	/* A profile that passes, with one verdict lost: refused all the same. */
	check(f, HEAD);
	assert_null(checks_first_fail(&f->ck));
	verdict_allocs = 0;
	fail_verdict_at = 2;
	checks_clear(&f->ck);
	preflight(f->s, 0, &f->pl, &f->ck);
	fail_verdict_at = 0;
	assert_non_null(checks_first_fail(&f->ck));
}

static void test_kvm(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];

	check(f, HEAD);
	expect(f, "kvm", VERDICT_OK, "not used (accel: tcg", 0);
	check(f, "name: t\nos: linux\nmemory: 1G\nfirmware: {type: bios}\n");
	expect(f, "kvm", VERDICT_OK, "/dev/kvm is usable (VT-x)", 0);
	snprintf(path, sizeof(path), "%s/dev/kvm", f->root);
	unlink(path);
	check(f, "name: t\nos: linux\nmemory: 1G\nfirmware: {type: bios}\n");
	expect(f, "kvm", VERDICT_FAIL, "KVM: /dev/kvm is missing", 4);
	fake_write(f->root, "proc/cpuinfo", "vendor_id\t: GenuineIntel\nflags\t\t: fpu sse\n\n");
	check(f, "name: t\nos: linux\nmemory: 1G\nfirmware: {type: bios}\n");
	expect(f, "kvm", VERDICT_FAIL, "no /dev/kvm, and the CPU shows no vmx/svm flag", 4);
}

/* The group the fix names is the one /dev/kvm has, and the user by name. */
static void test_kvm_group(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];

	if (geteuid() != 0)
		test_skip("not root: /dev/kvm cannot be made inaccessible to another uid");
	assert_int_equal(chmod(f->root, 0755), 0);
	snprintf(path, sizeof(path), "%s/dev/kvm", f->root);
	assert_int_equal(chmod(path, 0660), 0);
	assert_int_equal(chown(path, 0, 0), 0);
	write_profile(f, "name: t\nos: linux\nmemory: 1G\nfirmware: {type: bios}\n");
	assert_true(child_finds(f, NULL, "kvm", VERDICT_FAIL, "not accessible to you (uid 4242)"));
}

/* Without pci: the IOMMU and VFIO do not matter, so they are not checked. */
static void test_iommu_only_with_pci(void **state)
{
	struct fx *f = *state;

	fake_write(f->root, "proc/interrupts", "  0:  10  IO-APIC  2-edge  timer\n");
	check(f, HEAD);
	assert_null(find(f, "iommu", VERDICT_OK, NULL));
	assert_null(find(f, "interrupt-remapping", VERDICT_FAIL, NULL));
	expect_no_fail(f);
	check(f, HEAD "pci:\n  - address: \"01:00.0\"\n");
	expect(f, "iommu", VERDICT_OK, "IOMMU: active", 0);
	expect(f, "interrupt-remapping", VERDICT_FAIL, "interrupt remapping: off", 4);
}

static void test_not_a_gpu(void **state)
{
	struct fx *f = *state;
	char want[PATH_MAX + 64];
	const struct check_item *it;

	check(f, HEAD "pci:\n  - address: \"00:03.0\"\n");
	snprintf(want, sizeof(want), "%s:8: pci[0].address: 0000:00:03.0 is not a display device",
		 f->profile);
	it = expect(f, "devices", VERDICT_FAIL, want, 4);
	assert_non_null(strstr(it->fix, "list only GPUs under pci:"));
	assert_int_equal(f->ck.count[VERDICT_FAIL], 1); /* not also "pass it too" */
}

/* The text console on the GPU: check says it moves (not "ready" with a detach that refuses),
 * and without another framebuffer it fails as the detach would. */
static void test_console_on_gpu(void **state)
{
	struct fx *f = *state;
	const struct check_item *it;

	fake_add_devchild(f->root, "0000:01:00.0", "graphics/fb0");
	fake_write(f->root, "sys/class/vtconsole/vtcon1/name", "(M) frame buffer device\n");
	fake_write(f->root, "sys/class/vtconsole/vtcon1/bind", "1\n");
	check(f, HEAD "pci:\n  - address: \"01:00.0\"\n");
	it = expect(f, "console", VERDICT_FAIL, "0000:01:00.0 drives the text console (fbcon on "
		    "/dev/fb0) and no other framebuffer can take it", 4);
	(void)it;
	fake_add_devchild(f->root, "0000:00:02.0", "graphics/fb2");
	check(f, HEAD "pci:\n  - address: \"01:00.0\"\n");
	it = expect(f, "console", VERDICT_WARN, "0000:01:00.0: the text console (fbcon, consoles "
		    "1-63) is on its framebuffer fb0: it moves to fb2 (0000:00:02.0) while the VM "
		    "runs, and back after", 0);
	assert_non_null(strstr(it->fix, "fbcon=map:2"));
}

/* How the GPU is reset between runs; none is said with its fix. A kept GPU is said too. */
static void test_reset_and_after(void **state)
{
	struct fx *f = *state;
	const struct check_item *it;

	check(f, HEAD "pci:\n  - address: \"01:00.0\"\n");
	expect(f, "reset", VERDICT_OK, "0000:01:00.0: the kernel resets it by bus", 0);
	assert_null(find(f, "after", VERDICT_OK, NULL));
	fake_write(f->root, "sys/bus/pci/devices/0000:01:00.0/reset_method", "\n");
	check(f, HEAD "pci:\n  - address: \"01:00.0\"\n    after: vfio-pci\n");
	it = expect(f, "reset", VERDICT_WARN, "0000:01:00.0: the kernel has no way to reset it "
		    "(reset_method is empty)", 0);
	assert_non_null(strstr(it->fix, "vendor-reset"));
	expect(f, "after", VERDICT_OK, "0000:01:00.0 stays on vfio-pci after each run (the profile "
	       "asks for it (after: vfio-pci)); `vmrun attach 0000:01:00.0` gives it back", 0);
	expect_no_fail(f);
}

static void test_memlock_need(void **state)
{
	struct fx *f = *state;
	struct rlimit saved, low;

	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &saved), 0);
	low = saved;
	low.rlim_cur = 1 << 20;
	if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < low.rlim_cur)
		low.rlim_cur = saved.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
	/* A user under --root has no helper: the limit must cover the RAM and 1 GiB for QEMU. */
	check_as(f, 4242, HEAD "pci:\n  - address: \"01:00.0\"\n");
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &saved), 0);
	expect(f, "memlock", VERDICT_FAIL, "< 2097152 KiB needed to pin t's RAM", 4);
	check(f, HEAD "pci:\n  - address: \"01:00.0\"\n");
	expect(f, "memlock", VERDICT_OK, "running as root", 0);
}

static void test_name_clash(void **state)
{
	struct fx *f = *state;
	char cfg[PATH_MAX], other[PATH_MAX + 32], want[2 * PATH_MAX + 96];
	char *saved = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;

	snprintf(cfg, sizeof(cfg), "%s/cfg", f->root);
	fake_write(f->root, "cfg/vmrun/old.yaml", "name: t\nmemory: 2G\n");
	fake_write(f->root, "cfg/vmrun/other.yaml", "name: u\nmemory: 2G\n");
	setenv("XDG_CONFIG_HOME", cfg, 1);
	check(f, HEAD);
	snprintf(other, sizeof(other), "%s/vmrun/old.yaml", cfg);
	snprintf(want, sizeof(want), "%s:1: name: 't' is also the name of %s", f->profile, other);
	expect(f, "name", VERDICT_WARN, want, 0);
	assert_null(find(f, "name", VERDICT_WARN, "other.yaml"));
	/* The profile itself, found there, is no clash. */
	snprintf(f->profile, sizeof(f->profile), "%s/cfg/vmrun/old.yaml", f->root);
	check(f, "name: t\nmemory: 2G\nos: linux\naccel: tcg\nfirmware: {type: bios}\n");
	assert_null(find(f, "name", VERDICT_WARN, NULL));
	if (saved)
		setenv("XDG_CONFIG_HOME", saved, 1);
	else
		unsetenv("XDG_CONFIG_HOME");
	free(saved);
}

/* Two cores of two threads: CPUs 0 and 2 share a core, so do 1 and 3. */
static void cpus(struct fx *f)
{
	fake_write(f->root, "sys/devices/system/cpu/online", "0-3\n");
	for (int c = 0; c < 4; c++) {
		char rel[96];

		snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", c);
		fake_write(f->root, rel, c % 2 ? "1,3\n" : "0,2\n");
	}
}

static void test_pinning(void **state)
{
	struct fx *f = *state;
	const struct check_item *it;

	cpus(f);
	check(f, HEAD "cpu: {cores: 2, pin: [1, 3], emulator: [0]}\n");
	expect(f, "cpu-pin", VERDICT_OK, "vCPUs pinned to whole cores", 0);
	check(f, HEAD "cpu: {cores: 2, pin: [1, 2]}\n");
	it = expect(f, "cpu-pin", VERDICT_WARN, "CPU 1's SMT sibling 3 is not the guest's", 0);
	assert_string_equal(it->fix, "cpu.pin: [1, 3], cpu.emulator: [0]");
	check(f, HEAD "cpu: {cores: 2, pin: [0, 2]}\n");
	expect(f, "cpu-pin", VERDICT_WARN, "CPU 0 is best left to the host", 0);
	check(f, HEAD "cpu: {cores: 2, pin: [1, 5]}\n");
	expect(f, "cpu-pin", VERDICT_FAIL, "CPU 5 is not online on this host (online: 0-3)", 4);
	check(f, HEAD "cpu: {cores: 1, pin: [1], emulator: [7]}\n");
	expect(f, "cpu-pin", VERDICT_FAIL, "cpu.emulator: CPU 7 is not online", 4);
	/* cpu.isolate: root's, and systemd's. */
	check(f, HEAD "cpu: {cores: 2, pin: [1, 3], isolate: true}\n");
	expect(f, "cpu-isolate", VERDICT_FAIL, "needs systemd as PID 1", 4);
	check_as(f, 4242, HEAD "cpu: {cores: 2, pin: [1, 3], isolate: true}\n");
	expect(f, "cpu-isolate", VERDICT_FAIL, "changes the host's systemd slices, which only root may", 4);
}

static void test_share_checks(void **state)
{
	struct fx *f = *state;
	char *saved = getenv("PULSE_SERVER") ? strdup(getenv("PULSE_SERVER")) : NULL;

	fake_write(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "10\n");
	fake_write(f->root, "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "10\n");
	check(f, HEAD "hugepages: 2M\n");
	expect(f, "hugepages", VERDICT_OK, "10 free of 512 needed: vmrun makes the rest", 0);
	check(f, "name: t\nos: linux\naccel: tcg\nmemory: 2G\nfirmware: {type: bios}\nhugepages: 1G\n");
	expect(f, "hugepages", VERDICT_FAIL, "this kernel has no 1G hugepage pool", 4);
	/* QEMU's PulseAudio driver, as the fixture host has it or not. */
	unsetenv("PULSE_SERVER");
	unsetenv("SUDO_UID");
	check(f, HEAD "audio: true\n");
	expect(f, "audio", VERDICT_FAIL, "QEMU's PulseAudio driver (audio-pa) is not installed", 4);
	fake_write(f->root, "usr/lib/x86_64-linux-gnu/qemu/audio-pa.so", "");
	/* No sound server for root outside a session. */
	check(f, HEAD "audio: true\n");
	expect(f, "audio", VERDICT_FAIL, "run as root outside a user's session", 4);
	setenv("PULSE_SERVER", "unix:/run/pulse.sock", 1);
	check(f, HEAD "audio: {input: true}\n");
	expect(f, "audio", VERDICT_OK, "the guest's HDA output and input to unix:/run/pulse.sock", 0);
	if (saved)
		setenv("PULSE_SERVER", saved, 1);
	else
		unsetenv("PULSE_SERVER");
	free(saved);
	/* An input device that is not there, and one by number. */
	check(f, HEAD "input: {keyboard: /dev/input/by-id/nothing-event-kbd}\n");
	expect(f, "input", VERDICT_FAIL, "no such device (plugged in?)", 4);
	check(f, HEAD "looking_glass: {size: 32M}\n");
	expect(f, "looking-glass", VERDICT_OK, "/dev/shm/looking-glass-t, 32 MiB", 0);
}

/* A VM directory (sockets, NVRAM) is used only when it is ours alone. */
static void test_vm_dir(void **state)
{
	struct fx *f = *state;
	char dir[PATH_MAX], link[PATH_MAX + 8];
	const char *why = "";
	int fd = -1;

	snprintf(dir, sizeof(dir), "%s/var/lib/vmrun/t", f->root);
	assert_int_equal(vmdir_open(dir, true, &fd, &why), 0);
	close(fd);
	struct stat st;

	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	for (mode_t m = 0; m < 2; m++) {
		assert_int_equal(chmod(dir, m ? 0702 : 0720), 0);
		fd = -1;
		assert_int_equal(vmdir_open(dir, false, &fd, &why), -EPERM);
		assert_string_equal(why, "others can write into it (chmod 700 it)");
		assert_int_equal(fd, -1);
	}
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(vmdir_open(dir, false, &fd, &why), 0);
	close(fd);
	snprintf(link, sizeof(link), "%s.l", dir);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(vmdir_open(link, false, &fd, &why), -ELOOP);
	assert_string_equal(why, "it is a symlink");
}

/* ---- NVIDIA's stack: what check says before the first run ---- */

/* The lab host's bochs GPU, moved to nvidia with the stack loaded as the packages load it. */
static void to_nvidia(const struct fx *f, const char *addr)
{
	static const char *const mods[] = { "nvidia", "nvidia_modeset", "nvidia_uvm", "nvidia_drm" };
	char p[PATH_MAX + 16], dev[PATH_MAX], drv[PATH_MAX];

	snprintf(p, sizeof(p), "%s/sys/bus/pci/devices/%s", f->root, addr);
	assert_non_null(realpath(p, dev));
	snprintf(p, sizeof(p), "%s/driver", dev);
	assert_int_equal(unlink(p), 0);
	fake_mkdir(f->root, "sys/bus/pci/drivers/nvidia");
	snprintf(drv, sizeof(drv), "%s/sys/bus/pci/drivers/nvidia", f->root);
	assert_int_equal(symlink(drv, p), 0);
	for (size_t i = 0; i < ARRAY_SIZE(mods); i++) {
		snprintf(p, sizeof(p), "sys/module/%s", mods[i]);
		fake_mkdir(f->root, p);
	}
	fake_write(f->root, "sys/module/nvidia_drm/parameters/modeset", "Y\n");
	fake_write(f->root, "sys/module/nvidia_drm/parameters/fbdev", "Y\n");
}

static void test_nvidia_facts(void **state)
{
	struct fx *f = *state;
	const char *yaml = HEAD "pci:\n  - address: \"01:00.0\"\n";
	const struct check_item *it;
	char p[PATH_MAX];

	to_nvidia(f, "0000:01:00.0");
	fake_write(f->root, "usr/lib/systemd/system/nvidia-persistenced.service", "[Service]\n");
	fake_write(f->root, "usr/lib/udev/rules.d/71-nvidia.rules",
		   "# nvidia-persistenced is started by this rule\n"
		   "ACTION==\"add\", DEVPATH==\"/module/nvidia\", SUBSYSTEM==\"module\", "
		   "RUN+=\"/usr/bin/systemctl start nvidia-persistenced.service\"\n");
	check(f, yaml);
	it = expect(f, "vendor", VERDICT_WARN, "0000:01:00.0: nvidia_drm has modeset=1 and fbdev=1 "
		    "(the defaults since the 560 and 570 series)", 0);
	assert_non_null(strstr(it->fix, "nvidia-drm.fbdev=0"));
	expect(f, "vendor", VERDICT_OK, "nvidia-persistenced (/usr/lib/systemd/system/nvidia-"
	       "persistenced.service) keeps /dev/nvidia* open while it runs: vmrun stops it before "
	       "the switch and starts it again after; /usr/lib/udev/rules.d/71-nvidia.rules starts "
	       "it when nvidia loads", 0);
	expect(f, "vendor", VERDICT_OK, "no other device uses nvidia: nvidia_drm, nvidia_modeset, "
	       "nvidia_uvm, nvidia are unloaded for the run, in that order", 0);

	/* The parameters are root's (0400): a user is told how to see them. */
	if (geteuid() != 0)
		test_skip("not root: a file another uid cannot read cannot be made");
	assert_int_equal(chmod(f->root, 0755), 0);
	snprintf(p, sizeof(p), "%s/t.yaml", f->root);
	assert_int_equal(chmod(p, 0644), 0);
	snprintf(p, sizeof(p), "%s/sys/module/nvidia_drm/parameters/modeset", f->root);
	assert_int_equal(chmod(p, 0400), 0);
	assert_true(child_finds(f, yaml, "vendor", VERDICT_OK, "readable by root only: `sudo vmrun "
				"check` shows them"));

	/* modeset=0 and a driver without fbdev; the unit masked; another GPU on nvidia. */
	fake_write(f->root, "sys/module/nvidia_drm/parameters/modeset", "N\n");
	fake_rm_rf(f->root, "sys/module/nvidia_drm/parameters/fbdev");
	fake_symlink(f->root, "etc/systemd/system/nvidia-persistenced.service", "/dev/null");
	fake_add_dev(f->root, &(struct fake_dev){ "0000:00:05.0", NULL, 0x10de, 0x1c82, 0x030000,
						  "nvidia", 5, 0, NULL });
	check(f, yaml);
	expect(f, "vendor", VERDICT_OK, "nvidia_drm has modeset=0", 0);
	expect(f, "vendor", VERDICT_OK, "nvidia-persistenced is masked: nothing starts it", 0);
	expect(f, "vendor", VERDICT_OK, "nvidia stays loaded for the run: 0000:00:05.0 uses it too", 0);
	assert_null(find(f, "vendor", VERDICT_WARN, NULL));

	/* nvidia_drm not loaded: the card has only /dev/nvidia*. */
	fake_rm_rf(f->root, "sys/module/nvidia_drm");
	check(f, HEAD "pci:\n  - address: \"00:05.0\"\n");
	expect(f, "vendor", VERDICT_OK, "nvidia_drm is not loaded", 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_disks),       T(test_disk_access_as_user), T(test_block_device_mounted),
		T(test_bridge),      T(test_rom),                 T(test_memory), T(test_lost_verdict_fails),
		T(test_kvm),         T(test_kvm_group),           T(test_iommu_only_with_pci),
		T(test_not_a_gpu),   T(test_memlock_need),        T(test_name_clash),
		T(test_console_on_gpu),
		T(test_reset_and_after),
		T(test_vm_dir),      T(test_pinning),             T(test_share_checks),
		T(test_nvidia_facts),
	};
	return cmocka_run_group_tests_name("preflight", tests, NULL, NULL);
}
