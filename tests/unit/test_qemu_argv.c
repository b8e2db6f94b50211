/* SPDX-License-Identifier: MIT */
/*
 * Golden tests of the QEMU argv: each case's argv, one argument per line, must equal
 * tests/unit/golden/<case>.argv. VMRUN_UPDATE_GOLDEN=1 rewrites them (review the diff!).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_argv.h"
#include "util.h"

/* The profiles below point their (normally owned) strings at literals and are never freed. */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

static char *join(char **argv)
{
	size_t n = 1;
	char *s;

	for (char **v = argv; *v; v++)
		n += strlen(*v) + 1;
	s = calloc(n, 1);
	for (char **v = argv; *v; v++) {
		strcat(s, *v);
		strcat(s, "\n");
	}
	return s;
}

static void check_golden(const char *name, char **argv)
{
	char path[256], *got = join(argv), *want = NULL;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "tests/unit/golden/%s.argv", name);
	if (getenv("VMRUN_UPDATE_GOLDEN")) {
		f = fopen(path, "we");
		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	f = fopen(path, "re");
	if (!f)
		fail_msg("missing golden file %s", path);
	else {
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		want = calloc((size_t)n + 1, 1);
		assert_int_equal(fread(want, 1, (size_t)n, f), (size_t)n);
		fclose(f);
		assert_string_equal(got, want);
	}
	free(want);
	free(got);
}

static const struct fw_choice fw_plain = {
	.code = "/usr/share/OVMF/OVMF_CODE_4M.fd", .code_format = "raw",
	.vars_template = "/usr/share/OVMF/OVMF_VARS_4M.fd", .vars_format = "raw",
};
static const struct fw_choice fw_secure = {
	.code = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", .code_format = "raw",
	.vars_template = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", .vars_format = "raw",
	.secure_boot = true, .enrolled_keys = true, .requires_smm = true,
};

static struct vm_profile windows_profile(void)
{
	static struct vm_disk disks[] = {
		{ .path = "/vm/win10.qcow2", .format = "qcow2", .interface = VM_DISK_VIRTIO },
		{ .device = "/dev/disk/by-id/ata-SSD_1", .format = "raw", .interface = VM_DISK_SATA },
		{ .path = "/vm/scratch.img", .format = "raw", .interface = VM_DISK_NVME, .readonly = true },
	};
	static struct vm_usb usb[] = { { 0x046d, 0xc31c } };
	static char *extra[] = { "-device", "ivshmem-plain,memdev=looking-glass", NULL };
	struct vm_profile p = {
		.source = "win10.yaml", .name = "win10", .os = VM_OS_WINDOWS,
		.memory = 16ULL << 30, .machine = "q35", .accel = VM_ACCEL_KVM,
		.cpu = { "host", 1, 6, 2 }, .firmware = { .type = VM_FW_UEFI },
		.hide_kvm = true, .hyperv_vendor_id = "0123456789ab", .hyperv = true,
		.disks = disks, .n_disks = 3, .usb = usb, .n_usb = 1,
		.rtc = VM_RTC_LOCALTIME,
		.network = { .type = VM_NET_BRIDGE, .bridge = "br0", .mac = "52:54:00:12:34:56",
			     .model = "virtio-net-pci" },
		.display = VM_DISPLAY_NONE, .shutdown_timeout = 60,
		.extra_args = extra, .n_extra_args = 2,
	};
	return p;
}

static const struct qemu_hostdev gpu_hostdevs[] = {
	{ .host = { 0, 1, 0, 0 }, .rom = "/vm/gpu.rom" },
	{ .host = { 0, 1, 0, 1 } },
	{ .host = { 0, 1, 0, 2 } },
	{ .host = { 0, 1, 0, 3 } },
};

static void test_windows_desktop(void **state)
{
	struct vm_profile p = windows_profile();
	struct host_facts h = { .firmware = &fw_plain, .vars_path = "/var/lib/vmrun/win10/win10_VARS.fd",
				.runtime_dir = "/run/vmrun/win10", .hostdevs = gpu_hostdevs,
				.n_hostdevs = 4 };
	char **argv = NULL;

	(void)state;
	assert_int_equal(qemu_argv_build(&p, &h, &argv), 0);
	check_golden("win10", argv);
	strv_free(argv);
}

static void test_windows11_secure(void **state)
{
	struct vm_profile p = windows_profile();
	struct host_facts h = { .firmware = &fw_secure, .vars_path = "/home/a/.local/share/vmrun/w11/w11_VARS.fd",
				.runtime_dir = "/run/user/1000/vmrun/w11", .hostdevs = gpu_hostdevs,
				.n_hostdevs = 2 };
	char **argv = NULL;

	(void)state;
	p.name = "w11";
	p.firmware.secure_boot = true;
	p.n_disks = 1;
	p.n_usb = 0;
	p.n_extra_args = 0;
	p.network = (struct vm_network){ .type = VM_NET_USER, .model = "e1000e" };
	p.display = VM_DISPLAY_SPICE;
	p.memory = (4ULL << 30) + 512 * 1024; /* not a whole MiB: -m in KiB */
	assert_int_equal(qemu_argv_build(&p, &h, &argv), 0);
	check_golden("win11-secure", argv);
	strv_free(argv);
}

/* Two slots in one group, i440fx, BIOS, TCG, direct kernel boot, no hyperv. */
static void test_linux_bios_two_slots(void **state)
{
	static const struct qemu_hostdev devs[] = {
		{ .host = { 0, 2, 0, 0 } }, { .host = { 0, 2, 0, 1 } }, { .host = { 0, 3, 0, 0 } },
	};
	struct vm_profile p = {
		.source = "l.yaml", .name = "lin", .os = VM_OS_LINUX, .memory = 512ULL << 20,
		.machine = "pc", .accel = VM_ACCEL_TCG, .cpu = { "max", 1, 2, 1 },
		.firmware = { .type = VM_FW_BIOS }, .rtc = VM_RTC_UTC,
		.network = { .type = VM_NET_NONE }, .display = VM_DISPLAY_VNC,
		.boot = { "/boot/vmlinuz", "/tmp/initrd", "console=ttyS0 panic=-1" },
	};
	struct host_facts h = { .runtime_dir = "/run/vmrun/lin", .hostdevs = devs, .n_hostdevs = 3 };
	char **argv = NULL;

	(void)state;
	assert_int_equal(qemu_argv_build(&p, &h, &argv), 0);
	check_golden("linux-bios", argv);
	strv_free(argv);
}

static void test_missing_facts(void **state)
{
	struct vm_profile p = windows_profile();
	struct host_facts h = { .runtime_dir = "/run/vmrun/x" };
	char **argv = (char **)0x1;

	(void)state;
	/* UEFI without firmware facts is a caller bug, refused without touching *ret. */
	assert_int_equal(qemu_argv_build(&p, &h, &argv), -EINVAL);
	assert_ptr_equal(argv, (char **)0x1);
	h = (struct host_facts){ .firmware = &fw_plain, .vars_path = "/v" };
	assert_int_equal(qemu_argv_build(&p, &h, &argv), -EINVAL);
}

static void test_lab_example(void **state)
{
	struct profile_error err;
	struct vm_profile *p = NULL;
	const struct qemu_hostdev devs[] = { { .host = { 0, 1, 0, 0 } }, { .host = { 0, 1, 0, 1 } } };
	struct host_facts h = { .firmware = &fw_plain, .vars_path = "/var/lib/vmrun/lab/lab_VARS.fd",
				.runtime_dir = "/run/vmrun/lab", .hostdevs = devs, .n_hostdevs = 2 };
	char **argv = NULL;
	char msg[512];

	(void)state;
	if (profile_load("profiles/examples/lab.yaml", &p, &err) < 0)
		fail_msg("%s", profile_error_format(&err, msg, sizeof(msg)));
	assert_int_equal(qemu_argv_build(p, &h, &argv), 0);
	check_golden("lab", argv);
	strv_free(argv);
	profile_free(p);
}

static void test_shell_quote(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain-arg,x=1", "plain-arg,x=1" }, { "a b", "'a b'" },
		{ "it's", "'it'\\''s'" },             { "", "''" }, { "$HOME", "'$HOME'" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *q = shell_quote(cases[i].in);

		assert_string_equal(q, cases[i].out);
		free(q);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows_desktop), cmocka_unit_test(test_windows11_secure),
		cmocka_unit_test(test_linux_bios_two_slots), cmocka_unit_test(test_missing_facts),
		cmocka_unit_test(test_lab_example), cmocka_unit_test(test_shell_quote),
	};
	return cmocka_run_group_tests_name("qemu_argv", tests, NULL, NULL);
}
