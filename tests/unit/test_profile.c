/* SPDX-License-Identifier: MIT */
/*
 * Profile loading: the examples, the value parsers, and one case per error, each checking the
 * exact key, the exact line and the gist of the message. Run from the repository root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "profile.h"
#include "util.h"

#define FIXTURES "tests/unit/fixtures/profiles"
#define EXAMPLES "profiles/examples"

static struct vm_profile *load_ok(const char *path)
{
	struct profile_error err = { 0 };
	struct vm_profile *p = NULL;
	char buf[512];
	int r = profile_load(path, &p, &err);

	if (r < 0)
		print_error("%s\n", profile_error_format(&err, buf, sizeof(buf)));
	assert_int_equal(r, 0);
	assert_non_null(p);
	return p;
}

static struct vm_profile *load_str_ok(const char *yaml)
{
	struct profile_error err = { 0 };
	struct vm_profile *p = NULL;
	char buf[512];
	int r = profile_load_buffer("t.yaml", yaml, strlen(yaml), &p, &err);

	if (r < 0)
		print_error("%s\n", profile_error_format(&err, buf, sizeof(buf)));
	assert_int_equal(r, 0);
	return p;
}

/* ---- examples ---- */

static void test_example_win10(void **state)
{
	struct vm_profile *p = load_ok(EXAMPLES "/win10.yaml");
	char a[PCI_ADDR_STR_MAX];

	assert_string_equal(p->source, EXAMPLES "/win10.yaml");
	assert_string_equal(p->name, "win10");
	assert_int_equal(p->os, VM_OS_WINDOWS);
	assert_int_equal(p->memory, 16ULL << 30);
	assert_string_equal(p->machine, "q35");
	assert_int_equal(p->accel, VM_ACCEL_KVM);
	assert_string_equal(p->cpu.model, "host");
	assert_int_equal(p->cpu.sockets, 1);
	assert_int_equal(p->cpu.cores, 6);
	assert_int_equal(p->cpu.threads, 2);
	assert_int_equal(p->firmware.type, VM_FW_UEFI);
	assert_false(p->firmware.secure_boot);
	assert_null(p->firmware.code);
	assert_true(p->hide_kvm);
	assert_string_equal(p->hyperv_vendor_id, "0123456789ab");
	assert_true(p->hyperv); /* default for windows */
	assert_int_equal(p->n_disks, 2);
	assert_string_equal(p->disks[0].path, "/var/lib/vmrun/win10.qcow2");
	assert_null(p->disks[0].device);
	assert_string_equal(p->disks[0].format, "qcow2");
	assert_int_equal(p->disks[0].interface, VM_DISK_VIRTIO);
	assert_null(p->disks[1].path);
	assert_true(strncmp(p->disks[1].device, "/dev/disk/by-id/", 16) == 0);
	assert_string_equal(p->disks[1].format, "raw");
	assert_int_equal(p->disks[1].interface, VM_DISK_SATA);
	assert_int_equal(p->n_usb, 1);
	assert_int_equal(p->usb[0].vendor, 0x046d);
	assert_int_equal(p->usb[0].product, 0xc31c);
	assert_int_equal(p->n_pci, 1);
	assert_string_equal(pci_addr_format(&p->pci[0].address, a), "0000:01:00.0");
	assert_null(p->pci[0].rom);
	assert_true(p->pci[0].whole_group);
	assert_int_equal(p->pci[0].after, VM_AFTER_AUTO);
	assert_int_equal(p->rtc, VM_RTC_LOCALTIME);
	assert_int_equal(p->network.type, VM_NET_USER);
	assert_string_equal(p->network.model, "virtio-net-pci");
	assert_null(p->network.mac);
	assert_int_equal(p->display, VM_DISPLAY_NONE);
	assert_int_equal(p->shutdown_timeout, 60);
	assert_null(p->boot.kernel);
	assert_null(p->extra_args);
	assert_int_equal(p->n_extra_args, 0);
	profile_free(p);
}

static void test_example_win11(void **state)
{
	struct vm_profile *p = load_ok(EXAMPLES "/win11.yaml");

	assert_string_equal(p->name, "win11");
	assert_true(p->firmware.secure_boot);
	assert_int_equal(p->firmware.type, VM_FW_UEFI);
	assert_int_equal(p->disks[0].interface, VM_DISK_NVME);
	/* The GPU only: its HDMI audio is in its group and comes along by itself. */
	assert_int_equal(p->n_pci, 1);
	assert_int_equal(p->pci[0].address.fn, 0);
	assert_true(p->pci[0].whole_group);
	assert_int_equal(p->shutdown_timeout, 120);
	assert_int_equal(p->cpu.sockets, 1);
	assert_int_equal(p->cpu.cores, 4);
	profile_free(p);
}

static void test_example_headless(void **state)
{
	struct vm_profile *p = load_ok(EXAMPLES "/headless.yaml");

	assert_string_equal(p->name, "headless");
	assert_int_equal(p->os, VM_OS_LINUX);
	assert_false(p->hyperv); /* default for linux */
	assert_false(p->hide_kvm);
	assert_null(p->hyperv_vendor_id);
	assert_int_equal(p->memory, 4ULL << 30);
	assert_int_equal(p->n_pci, 0);
	assert_null(p->pci);
	assert_int_equal(p->n_usb, 0);
	assert_string_equal(p->disks[0].format, "raw"); /* .img */
	assert_int_equal(p->network.type, VM_NET_BRIDGE);
	assert_string_equal(p->network.bridge, "br0");
	assert_string_equal(p->network.mac, "52:54:00:12:34:56");
	assert_int_equal(p->display, VM_DISPLAY_NONE);
	assert_int_equal(p->rtc, VM_RTC_UTC);
	assert_int_equal(p->shutdown_timeout, 30);
	profile_free(p);
}

static void test_example_lab(void **state)
{
	struct vm_profile *p = load_ok(EXAMPLES "/lab.yaml");

	assert_string_equal(p->name, "lab");
	assert_int_equal(p->os, VM_OS_LINUX);
	assert_int_equal(p->accel, VM_ACCEL_TCG);
	assert_string_equal(p->cpu.model, "max");
	assert_int_equal(p->cpu.sockets, 1);
	assert_int_equal(p->cpu.cores, 2);
	assert_int_equal(p->cpu.threads, 1);
	assert_int_equal(p->memory, 512ULL << 20);
	assert_true(p->hide_kvm);
	assert_string_equal(p->hyperv_vendor_id, "vmrunlab");
	assert_int_equal(p->n_pci, 1);
	assert_int_equal(p->pci[0].address.bus, 1);
	assert_int_equal(p->n_usb, 1);
	assert_int_equal(p->usb[0].vendor, 0x046d);
	assert_int_equal(p->usb[0].product, 0xc31c);
	assert_int_equal(p->display, VM_DISPLAY_NONE);
	assert_int_equal(p->network.type, VM_NET_NONE);
	assert_int_equal(p->shutdown_timeout, 30);
	profile_free(p);
}

/* Whatever is added to profiles/examples/ must load. */
static void test_every_example_loads(void **state)
{
	DIR *d = opendir(EXAMPLES);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[512];
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		(void)snprintf(path, sizeof(path), EXAMPLES "/%s", de->d_name);
		profile_free(load_ok(path));
		n++;
	}
	closedir(d);
	assert_true(n >= 4);
}

static void test_defaults(void **state)
{
	struct vm_profile *p = load_str_ok("name: m\nmemory: 16M\n");

	assert_int_equal(p->memory, 16ULL << 20);
	assert_int_equal(p->os, VM_OS_WINDOWS);
	assert_true(p->hyperv);
	assert_string_equal(p->machine, "q35");
	assert_int_equal(p->accel, VM_ACCEL_KVM);
	assert_string_equal(p->cpu.model, "host");
	assert_int_equal(p->cpu.sockets, 1);
	assert_int_equal(p->cpu.cores, 2);
	assert_int_equal(p->cpu.threads, 1);
	assert_int_equal(p->firmware.type, VM_FW_UEFI);
	assert_false(p->firmware.secure_boot);
	assert_false(p->hide_kvm);
	assert_int_equal(p->rtc, VM_RTC_UTC);
	assert_int_equal(p->network.type, VM_NET_USER);
	assert_string_equal(p->network.model, "virtio-net-pci");
	assert_int_equal(p->display, VM_DISPLAY_NONE);
	assert_int_equal(p->shutdown_timeout, 60);
	assert_int_equal(p->n_disks + p->n_usb + p->n_pci + p->n_extra_args, 0);
	profile_free(p);

	/* tcg's default model is max; hyperv can be forced on for linux. */
	p = load_str_ok("name: m\nmemory: 1G\naccel: tcg\nos: linux\nhyperv: true\n");
	assert_string_equal(p->cpu.model, "max");
	assert_true(p->hyperv);
	profile_free(p);
}

static void test_everything_else(void **state)
{
	struct vm_profile *p = load_str_ok(
		"name: all.of-it_1\nmemory: 2T\nos: other\nmachine: pc\n"
		"firmware: {type: uefi, code: /fw/CODE.fd, vars: /fw/VARS.fd}\n"
		"disks:\n  - {device: /dev/sdb, format: qcow2, readonly: true}\n"
		"  - {path: /img/x.raw.qcow2.img}\n"
		"pci:\n  - {address: \"01:00.1\", rom: /roms/gpu.rom, group: false, after: vfio-pci}\n"
		"network: {type: bridge, bridge: br1, mac: \"52:54:00:AB:CD:EF\", model: e1000}\n"
		"display: spice\nrtc: localtime\n"
		"boot: {kernel: /boot/vmlinuz, initrd: /boot/initrd, cmdline: \"console=ttyS0,115200\"}\n"
		"extra_args: [-nodefaults, \"-device\", \"pci-bridge,id=b1\"]\n");
	char a[PCI_ADDR_STR_MAX];

	assert_int_equal(p->memory, 2ULL << 40);
	assert_int_equal(p->os, VM_OS_OTHER);
	assert_false(p->hyperv);
	assert_string_equal(p->machine, "pc");
	assert_string_equal(p->firmware.code, "/fw/CODE.fd");
	assert_string_equal(p->firmware.vars, "/fw/VARS.fd");
	assert_string_equal(p->disks[0].format, "qcow2");
	assert_true(p->disks[0].readonly);
	assert_string_equal(p->disks[1].format, "raw");
	assert_false(p->disks[1].readonly);
	assert_string_equal(pci_addr_format(&p->pci[0].address, a), "0000:01:00.1");
	assert_string_equal(p->pci[0].rom, "/roms/gpu.rom");
	assert_false(p->pci[0].whole_group);
	assert_int_equal(p->pci[0].after, VM_AFTER_VFIO);
	assert_string_equal(p->network.mac, "52:54:00:ab:cd:ef");
	assert_string_equal(p->network.model, "e1000");
	assert_int_equal(p->display, VM_DISPLAY_SPICE);
	assert_string_equal(p->boot.cmdline, "console=ttyS0,115200");
	assert_int_equal(p->n_extra_args, 3);
	assert_string_equal(p->extra_args[2], "pci-bridge,id=b1");
	assert_null(p->extra_args[3]);
	profile_free(p);
}

/* ---- value parsers ---- */

static void test_memory_sizes(void **state)
{
	static const struct {
		const char *s;
		int r;
		uint64_t v;
	} t[] = {
		{ "8G", 0, 8ULL << 30 },
		{ "512M", 0, 512ULL << 20 },
		{ "1024K", 0, 1024ULL << 10 },
		{ "2T", 0, 2ULL << 40 },
		{ "16777216", 0, 16777216 },
		{ "0", 0, 0 },
		{ "08G", 0, 8ULL << 30 },
		{ "16777215T", 0, 16777215ULL << 40 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "16777216T", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "G", -EINVAL, 0 },
		{ "8X", -EINVAL, 0 },
		{ "8g", -EINVAL, 0 },
		{ "8GB", -EINVAL, 0 },
		{ "8 G", -EINVAL, 0 },
		{ " 8G", -EINVAL, 0 },
		{ "-8G", -EINVAL, 0 },
		{ "+8G", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		uint64_t v = 0xdead;
		int r = val_memory_size(t[i].s, &v);

		if (r != t[i].r)
			print_error("val_memory_size(\"%s\") = %d\n", t[i].s, r);
		assert_int_equal(r, t[i].r);
		assert_int_equal(v, t[i].r == 0 ? t[i].v : 0xdead); /* untouched on failure */
	}
}

static void test_usb_id_forms(void **state)
{
	static const struct {
		const char *yaml;
		uint16_t v;
	} t[] = {
		{ "\"046d\"", 0x046d }, { "046d", 0x046d },	{ "0x046d", 0x046d },
		{ "0X046D", 0x046d },	{ "C31C", 0xc31c },	{ "1234", 0x1234 }, /* a YAML int */
		{ "0000", 0x0000 },	{ "ffff", 0xffff },	{ "1e10", 0x1e10 }, /* a YAML float */
	};
	static const char *const bad[] = { "46d", "0x46d", "12345", "0x12345", "g46d",
					   "-123", "\"04 6d\"", "0x", "\"\"" };
	char yaml[256];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct vm_profile *p;

		(void)snprintf(yaml, sizeof(yaml),
			       "name: u\nmemory: 1G\nusb:\n  - vendor: %s\n    product: %s\n",
			       t[i].yaml, t[i].yaml);
		p = load_str_ok(yaml);
		assert_int_equal(p->usb[0].vendor, t[i].v);
		assert_int_equal(p->usb[0].product, t[i].v);
		profile_free(p);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct profile_error err = { 0 };
		struct vm_profile *p = NULL;

		(void)snprintf(yaml, sizeof(yaml),
			       "name: u\nmemory: 1G\nusb:\n  - vendor: \"046d\"\n    product: %s\n",
			       bad[i]);
		assert_int_equal(profile_load_buffer("t.yaml", yaml, strlen(yaml), &p, &err),
				 -EINVAL);
		assert_null(p);
		assert_string_equal(err.key, "usb[0].product");
		assert_int_equal(err.line, 5);
	}
}

static void test_pci_address_forms(void **state)
{
	static const char *const bad[] = { "1:0.0",	"0000:01:00.8", "0000:01:20.0",
					   "zz:00.0",	"\" 01:00.0\"", "01:00.0 x",
					   "0000:01:00", "00000:01:00.0" };
	char yaml[256], a[PCI_ADDR_STR_MAX];
	struct vm_profile *p;

	p = load_str_ok("name: p\nmemory: 1G\npci:\n  - address: 01:00.0\n"
			"  - address: \"0001:0A:1f.7\"\n");
	assert_string_equal(pci_addr_format(&p->pci[0].address, a), "0000:01:00.0");
	assert_string_equal(pci_addr_format(&p->pci[1].address, a), "0001:0a:1f.7");
	profile_free(p);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct profile_error err = { 0 };

		(void)snprintf(yaml, sizeof(yaml),
			       "name: p\nmemory: 1G\npci:\n  - address: \"0000:02:00.0\"\n"
			       "  - address: %s\n",
			       bad[i]);
		p = NULL;
		assert_int_equal(profile_load_buffer("t.yaml", yaml, strlen(yaml), &p, &err),
				 -EINVAL);
		assert_null(p);
		assert_string_equal(err.key, "pci[1].address");
		assert_int_equal(err.line, 5);
		assert_non_null(strstr(err.message, "expected a PCI address"));
	}
}

static void test_enum_names(void **state)
{
	assert_string_equal(vm_disk_if_name(VM_DISK_NVME), "nvme");
	assert_string_equal(vm_display_name(VM_DISPLAY_SPICE), "spice");
	assert_string_equal(vm_os_name(VM_OS_LINUX), "linux");
	assert_string_equal(vm_accel_name(VM_ACCEL_TCG), "tcg");
	assert_string_equal(vm_fw_type_name(VM_FW_BIOS), "bios");
	assert_string_equal(vm_rtc_name(VM_RTC_LOCALTIME), "localtime");
	assert_string_equal(vm_net_type_name(VM_NET_BRIDGE), "bridge");
	assert_null(vm_display_name((enum vm_display)42));
}

/* ---- errors, one inline document each ---- */

struct error_case {
	const char *name;
	const char *yaml;
	const char *key;
	unsigned line;
	const char *message; /* a part of it */
};

#define HEAD "name: t\nmemory: 1G\n" /* lines 1-2 */

static const struct error_case error_cases[] = {
	/* syntax and structure */
	{ "syntax", HEAD "cpu:\n  cores: 2\n   threads: : 1\n", "", 5, "invalid YAML" },
	{ "bad_utf8", HEAD "os: \xff\xfe\n", "", 3, "invalid YAML" },
	{ "top_list", "- name: a\n", "", 1, "expected a mapping of keys at the top level" },
	{ "top_scalar", "\n\njust text\n", "", 3, "expected a mapping of keys at the top level" },
	{ "null_document", "---\n...\n", "", 0, "empty" },
	{ "two_documents", HEAD "---\nname: u\n", "", 3, "only one YAML document" },
	{ "duplicate_key", HEAD "os: linux\nos: windows\n", "os", 4, "duplicate key (first given on line 3)" },
	{ "duplicate_nested", HEAD "disks:\n  - path: /a\n    readonly: true\n    path: /b\n", "disks[0].path", 6, "duplicate key" },
	{ "alias", HEAD "cpu: &c\n  cores: 2\nfirmware: *c\n", "firmware", 5, "aliases" },
	{ "complex_key", HEAD "? [a, b]\n: c\n", "", 3, "mapping keys must be plain strings" },
	{ "unknown_key", HEAD "\n# comment\ncolour: blue\n", "colour", 5, "unknown key" },
	{ "unknown_nested", HEAD "cpu:\n  cores: 2\n  turbo: true\n", "cpu.turbo", 5, "unknown key" },
	{ "unknown_in_list", HEAD "disks:\n  - path: /a\n  - path: /b\n    cache: none\n", "disks[1].cache", 6, "unknown key" },
	{ "case_sensitive_key", HEAD "Display: gtk\n", "Display", 3, "unknown key" },
	{ "missing_name", "# profile\nmemory: 1G\nos: linux\n", "name", 2, "required key is missing" },
	{ "missing_memory", "\nname: t\n", "memory", 2, "required key is missing" },
	{ "empty_mapping", "{}\n", "name", 1, "required key is missing" },
	{ "missing_usb_product", HEAD "usb:\n  - vendor: \"046d\"\n    # no product\n", "usb[0].product", 4, "required key is missing" },
	{ "missing_pci_address", HEAD "pci:\n  - rom: /x.rom\n", "pci[0].address", 4, "required key is missing" },
	{ "mapping_for_scalar", HEAD "os:\n  kind: linux\n", "os", 4, "expected a scalar value, got a mapping" },
	{ "list_for_mapping", HEAD "cpu: [1, 2]\n", "cpu", 3, "expected a mapping, got a list" },
	{ "scalar_for_list", HEAD "disks: /a.qcow2\n", "disks", 3, "expected a list, got a scalar" },
	{ "mapping_in_args", HEAD "extra_args:\n  - -S\n  - {a: 1}\n", "extra_args[1]", 5, "expected a scalar value, got a mapping" },
#define PCI4(b) "{address: " b ".0}, {address: " b ".1}, {address: " b ".2}, {address: " b ".3}, "
	{ "too_many_pci", HEAD "\npci: [" PCI4("01:00") PCI4("02:00") PCI4("03:00") PCI4("04:00") "{address: 05:00.0}]\n", "pci", 4, "too many entries" },
	{ "empty_value", HEAD "os:\n", "os", 3, "expected a value, got nothing" },
	{ "null_value", HEAD "machine: ~\n", "machine", 3, "expected a value, got nothing" },
	/* name and memory */
	{ "name_chars", "name: my vm\nmemory: 1G\n", "name", 1, "expected letters, digits, '.', '_' and '-', 1 to 64 characters, not \".\" or \"..\", got \"my vm\"" },
	{ "name_long", "name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nmemory: 1G\n", "name", 1, "1 to 64 characters" },
	{ "name_empty", "name: \"\"\nmemory: 1G\n", "name", 1, "1 to 64 characters" },
	/* "." and ".." would name the parent of every VM's directory (/run/vmrun/vm/..). */
	{ "name_dotdot", "memory: 1G\nname: \"..\"\n", "name", 2, "not \".\" or \"..\", got \"..\"" },
	{ "name_dot", "name: .\nmemory: 1G\n", "name", 1, "not \".\" or \"..\", got \".\"" },
	{ "memory_suffix", "name: t\nmemory: 8X\n", "memory", 2, "expected a size like 8G, 512M, 1024K, 2T or a number of bytes, got \"8X\"" },
	{ "memory_small", "name: t\n\nmemory: 15M\n", "memory", 3, "must be at least 16M" },
	{ "memory_overflow", "name: t\nmemory: 99999999999T\n", "memory", 2, "too large" },
	{ "memory_on_next_line", "name: t\nmemory:\n  8Q\n", "memory", 3, "expected a size" },
	/* enums */
	{ "os_enum", HEAD "os: macos\n", "os", 3, "expected one of windows, linux, other, got \"macos\"" },
	{ "os_case", HEAD "os: Linux\n", "os", 3, "expected one of windows, linux, other, got \"Linux\"" },
	{ "accel_enum", HEAD "accel: hvf\n", "accel", 3, "expected one of kvm, tcg" },
	{ "rtc_enum", HEAD "rtc: local\n", "rtc", 3, "expected one of utc, localtime" },
	{ "display_enum", HEAD "display: sdl\n", "display", 3, "expected one of none, gtk, spice, vnc, got \"sdl\"" },
	{ "interface_enum", HEAD "disks:\n  - path: /a\n  - path: /b\n    interface: ide\n", "disks[1].interface", 6, "expected one of virtio, sata, nvme, got \"ide\"" },
	{ "format_enum", HEAD "disks:\n  - path: /a\n    format: vmdk\n", "disks[0].format", 5, "expected one of raw, qcow2, got \"vmdk\"" },
	{ "firmware_type_enum", HEAD "firmware:\n  type: efi\n", "firmware.type", 4, "expected one of uefi, bios" },
	{ "network_type_enum", HEAD "network:\n  type: tap\n", "network.type", 4, "expected one of none, user, bridge" },
	/* booleans and numbers */
	{ "bool_word", HEAD "hide_kvm: yes\n", "hide_kvm", 3, "expected true or false, got \"yes\"" },
	{ "bool_nested", HEAD "disks:\n  - path: /a\n    readonly: 1\n", "disks[0].readonly", 5, "expected true or false" },
	{ "pci_after_enum", HEAD "pci:\n  - address: 01:00.0\n    after: vfio\n", "pci[0].after", 5, "expected one of auto, host, vfio-pci, got \"vfio\"" },
	{ "pci_group_bool", HEAD "pci:\n  - address: 01:00.0\n    group: maybe\n", "pci[0].group", 5, "expected true or false" },
	{ "cores_zero", HEAD "cpu:\n  cores: 0\n", "cpu.cores", 4, "expected a whole number from 1 to 1024, got \"0\"" },
	{ "sockets_negative", HEAD "cpu:\n  sockets: -1\n", "cpu.sockets", 4, "expected a whole number" },
	{ "threads_text", HEAD "cpu:\n  threads: two\n", "cpu.threads", 4, "expected a whole number" },
	{ "cpu_product", HEAD "cpu:\n  sockets: 4\n  cores: 64\n  threads: 8\n", "cpu", 3, "2048, at most 1024" },
	{ "timeout_zero", HEAD "shutdown_timeout: 0\n", "shutdown_timeout", 3, "from 1 to 3600" },
	{ "timeout_big", HEAD "shutdown_timeout: 3601\n", "shutdown_timeout", 3, "from 1 to 3600" },
	{ "timeout_huge", HEAD "shutdown_timeout: 99999999999999999999999\n", "shutdown_timeout", 3, "from 1 to 3600" },
	/* hyper-v vendor id */
	{ "vendor_id_long", HEAD "hyperv_vendor_id: \"0123456789abc\"\n", "hyperv_vendor_id", 3, "expected 1 to 12 characters, got 13" },
	{ "vendor_id_empty", HEAD "hyperv_vendor_id: \"\"\n", "hyperv_vendor_id", 3, "expected 1 to 12 characters, got 0" },
	{ "vendor_id_comma", HEAD "hyperv_vendor_id: \"ab,cd\"\n", "hyperv_vendor_id", 3, "without ','" },
	{ "vendor_id_unicode", HEAD "hyperv_vendor_id: \"caf\xc3\xa9\"\n", "hyperv_vendor_id", 3, "printable ASCII" },
	/* firmware rules */
	{ "vars_without_code", HEAD "firmware:\n  vars: /v.fd\n", "firmware.vars", 4, "needs firmware.code" },
	{ "code_without_vars", HEAD "firmware:\n  type: uefi\n  code: /c.fd\n", "firmware.code", 5, "needs firmware.vars" },
	{ "secure_boot_bios", HEAD "firmware:\n  type: bios\n  secure_boot: true\n", "firmware.secure_boot", 5, "needs firmware type uefi" },
	{ "firmware_comma", HEAD "firmware:\n  code: /a,b.fd\n  vars: /v.fd\n", "firmware.code", 4, "must not contain ','" },
	/* disks */
	{ "disk_neither", HEAD "disks:\n  - path: /a\n  - interface: sata\n", "disks[1]", 5, "needs exactly one of path or device" },
	{ "disk_both", HEAD "disks:\n  - path: /a\n    device: /dev/sda\n", "disks[0].device", 5, "exactly one" },
	{ "device_not_dev", HEAD "disks:\n  - device: /tmp/sda\n", "disks[0].device", 4, "expected a path under /dev/" },
	{ "disk_path_comma", HEAD "disks:\n  - path: \"/a,format=raw\"\n", "disks[0].path", 4, "must not contain ','" },
	{ "disk_path_empty", HEAD "disks:\n  - path: \"\"\n", "disks[0].path", 4, "must not be empty" },
	/* pci */
	{ "pci_duplicate", HEAD "pci:\n  - address: \"0000:01:00.0\"\n  - address: \"0000:02:00.0\"\n  - address: 01:00.0\n", "pci[2].address", 6, "already pci[0]" },
	{ "pci_rom_comma", HEAD "pci:\n  - address: 01:00.0\n    rom: \"/r.rom,x=y\"\n", "pci[0].rom", 5, "must not contain ','" },
	/* network */
	{ "bridge_missing", HEAD "network:\n  type: bridge\n", "network.bridge", 3, "required when network.type is bridge" },
	{ "bridge_without_type", HEAD "network:\n  bridge: br0\n", "network.bridge", 4, "only valid when network.type is bridge" },
	{ "bridge_comma", HEAD "network:\n  type: bridge\n  bridge: \"br0,helper=/x\"\n", "network.bridge", 5, "must not contain ','" },
	{ "model_comma", HEAD "network:\n  model: \"e1000,romfile=\"\n", "network.model", 4, "must not contain ','" },
	{ "mac_format", HEAD "network:\n  mac: 52:54:00:12:34\n", "network.mac", 4, "expected xx:xx:xx:xx:xx:xx" },
	{ "mac_bad_hex", HEAD "network:\n  mac: \"52:54:00:12:34:zz\"\n", "network.mac", 4, "expected xx:xx:xx:xx:xx:xx" },
	{ "mac_multicast", HEAD "network:\n  mac: \"01:00:5e:00:00:01\"\n", "network.mac", 4, "unicast" },
	/* boot */
	{ "initrd_without_kernel", HEAD "boot:\n  initrd: /i\n", "boot.initrd", 4, "needs boot.kernel" },
	{ "cmdline_without_kernel", HEAD "boot:\n  cmdline: quiet\n", "boot.cmdline", 4, "needs boot.kernel" },
	/* other option strings */
	{ "machine_comma", HEAD "machine: \"q35,accel=tcg\"\n", "machine", 3, "must not contain ','" },
	{ "cpu_model_comma", HEAD "cpu:\n  model: \"host,kvm=off\"\n", "cpu.model", 4, "must not contain ','" },
	{ "control_char", HEAD "machine: \"q\\t35\"\n", "machine", 3, "control characters" },
	{ "nul_in_string", HEAD "machine: \"q\\0\"\n", "machine", 3, "NUL" },
	/* media, TPM, installation */
	{ "sata_readonly", HEAD "disks:\n  - path: /a\n    interface: sata\n    readonly: true\n", "disks[0].readonly", 6, "QEMU cannot make a SATA hard disk read-only (ide-hd refuses it): use interface: virtio or nvme, or media: cdrom" },
	{ "cdrom_virtio", HEAD "disks:\n  - {path: /a.iso, media: cdrom, interface: nvme}\n", "disks[0].interface", 4, "a CD-ROM is on SATA" },
	{ "cdrom_writable", HEAD "disks:\n  - path: /a.iso\n    media: cdrom\n    readonly: false\n", "disks[0].readonly", 6, "a CD-ROM is always read-only" },
	{ "media_enum", HEAD "disks:\n  - {path: /a.iso, media: dvd}\n", "disks[0].media", 4, "expected one of disk, cdrom, got \"dvd\"" },
	{ "sata_ports_q35", HEAD "disks: [{path: /1, interface: sata}, {path: /2, interface: sata}, {path: /3, interface: sata}, {path: /4, interface: sata}, {path: /5, interface: sata}, {path: /6, media: cdrom}, {path: /7, media: cdrom}]\n", "disks[6]", 3, "one SATA disk or CD-ROM too many: the q35 machine has 6 SATA ports" },
	{ "install_ports", HEAD "machine: pc\ndisks: [{path: /1, interface: sata}, {path: /2, interface: sata}, {path: /3, media: cdrom}]\ninstall:\n  media:\n    - /i.iso\n    - /d.iso\n", "install.media[1]", 8, "no SATA port left for it: the pc machine has 4 and the disks use 3" },
	{ "install_empty", HEAD "install:\n  media: []\n", "install.media", 4, "lists no installation media" },
	{ "install_display", HEAD "install:\n  media: [/i.iso]\n  display: sdl\n", "install.display", 5, "expected one of vnc, gtk, spice, got \"sdl\"" },
	{ "install_media_scalar", HEAD "install:\n  media: /i.iso\n", "install.media", 4, "write it as a list of ISO files" },
	{ "install_too_many", HEAD "install:\n  media: [/1, /2, /3, /4, /5]\n", "install.media", 4, "too many entries (at most 4)" },
	{ "tpm_bool", HEAD "tpm: yes\n", "tpm", 3, "expected true or false" },
	{ "boot_keys_bool", HEAD "install:\n  media: [/i.iso]\n  boot_keys: 0\n", "install.boot_keys", 5, "expected true or false" },
	/* sharing the host: pinning, input, Looking Glass, audio, hugepages, USB by port */
	{ "pin_count", HEAD "cpu:\n  cores: 2\n  pin: [1]\n", "cpu.pin", 5, "lists 1 host CPUs for 2 vCPUs" },
	{ "pin_dup", HEAD "cpu:\n  cores: 2\n  pin: [1, 1]\n", "cpu.pin[1]", 5, "CPU 1 is already cpu.pin[0]" },
	{ "pin_text", HEAD "cpu:\n  cores: 1\n  pin: [one]\n", "cpu.pin[0]", 5, "expected a whole number" },
	{ "emulator_alone", HEAD "cpu:\n  emulator: [0]\n", "cpu.emulator", 4, "needs cpu.pin" },
	{ "isolate_alone", HEAD "cpu:\n  isolate: true\n", "cpu.isolate", 4, "needs cpu.pin" },
	{ "isolate_overlap", HEAD "cpu:\n  cores: 2\n  pin: [2, 3]\n  emulator: [3]\n  isolate: true\n", "cpu.emulator[0]", 6, "CPU 3 is a vCPU's (cpu.pin[1])" },
	{ "input_path", HEAD "input:\n  keyboard: /tmp/kbd\n", "input.keyboard", 4, "expected an event device under /dev/input/" },
	{ "input_empty", HEAD "input:\n  toggle: ctrl-ctrl\n", "input", 3, "needs a keyboard or a mouse" },
	{ "input_toggle", HEAD "input:\n  keyboard: /dev/input/event3\n  toggle: ctrl-alt\n", "input.toggle", 5, "expected one of ctrl-ctrl, alt-alt, shift-shift, meta-meta, scrolllock, ctrl-scrolllock" },
	{ "input_toggle_mouse", HEAD "input:\n  mouse: /dev/input/event4\n  toggle: alt-alt\n", "input.toggle", 5, "give input.keyboard" },
	{ "input_same", HEAD "input:\n  keyboard: /dev/input/event3\n  mouse: /dev/input/event3\n", "input.mouse", 5, "is the keyboard's device" },
	{ "lg_both", HEAD "looking_glass:\n  resolution: 1920x1080\n  size: 32M\n", "looking_glass.size", 5, "exactly one" },
	{ "lg_neither", HEAD "looking_glass:\n  hdr: true\n", "looking_glass", 3, "exactly one" },
	{ "lg_resolution", HEAD "looking_glass:\n  resolution: 1920*1080\n", "looking_glass.resolution", 4, "expected WIDTHxHEIGHT like 2560x1440" },
	{ "lg_size_pow2", HEAD "looking_glass:\n  size: 48M\n", "looking_glass.size", 4, "expected a power of two" },
	{ "lg_hdr_size", HEAD "looking_glass:\n  size: 64M\n  hdr: true\n", "looking_glass.hdr", 5, "only with resolution" },
	{ "audio_word", HEAD "audio: yes\n", "audio", 3, "expected true or false" },
	{ "audio_key", HEAD "audio:\n  output: true\n", "audio.output", 4, "unknown key; audio takes input" },
	{ "audio_list", HEAD "audio: [input]\n", "audio", 3, "expected true, false or {input: true}" },
	{ "huge_enum", HEAD "hugepages: 4M\n", "hugepages", 3, "expected one of 2M, 1G, got \"4M\"" },
	{ "huge_whole", "name: t\nmemory: 1536M\nhugepages: 1G\n", "hugepages", 3, "not a whole number of 1G pages" },
	{ "usb_both", HEAD "usb:\n  - {vendor: \"046d\", product: c31c, bus: 1}\n", "usb[0].bus", 4, "by vendor and product, or by bus and port, not both" },
	{ "usb_port_form", HEAD "usb:\n  - {bus: 1, port: 2-3}\n", "usb[0].port", 4, "expected a port path like 2 or 2.3" },
	{ "usb_port_only", HEAD "usb:\n  - {port: \"2.3\"}\n", "usb[0].bus", 4, "needs bus and port" },
	{ "usb_bus_range", HEAD "usb:\n  - {bus: 0, port: \"1\"}\n", "usb[0].bus", 4, "from 1 to 255" },
	/* mistakes that teach: the message says what to write */
	{ "typo_key", "name: t\nmemroy: 1G\n", "memroy", 2, "unknown key; did you mean \"memory\"?" },
	{ "typo_nested", HEAD "cpu:\n  cors: 2\n", "cpu.cors", 4, "did you mean \"cores\"?" },
	{ "typo_swap_short", "name: t\nmemory: 1G\nso: linux\n", "so", 3, "did you mean \"os\"?" },
	{ "typo_swap", HEAD "disks:\n  - path: /a\n    readnoly: true\n", "disks[0].readnoly", 5, "did you mean \"readonly\"?" },
	{ "far_key_lists", HEAD "cpu:\n  turbo: true\n", "cpu.turbo", 4, "unknown key; cpu takes model, sockets, cores, threads" },
	{ "typo_enum", HEAD "os: windwos\n", "os", 3, "got \"windwos\"; did you mean \"windows\"?" },
	{ "case_enum", HEAD "display: VNC\n", "display", 3, "did you mean \"vnc\"?" },
	{ "memory_no_unit", "name: t\nmemory: 512\n", "memory", 2, "\"512\" is a number of bytes, less than the 16M minimum; give the unit: 512M or 512G" },
	{ "memory_gb", "name: t\nmemory: 8GB\n", "memory", 2, "did you mean \"8G\"?" },
	{ "memory_space", "name: t\nmemory: 16 G\n", "memory", 2, "did you mean \"16G\"?" },
	{ "memory_lower", "name: t\nmemory: 4gib\n", "memory", 2, "did you mean \"4G\"?" },
	{ "usb_as_string", HEAD "usb: [\"046d:c31c\"]\n", "usb[0]", 3, "got \"046d:c31c\"; write {vendor: \"046d\", product: \"c31c\"}" },
	{ "usb_pair_in_vendor", HEAD "usb:\n  - {vendor: \"046d:c31c\"}\n", "usb[0].vendor", 4, "is vendor and product together; write {vendor: \"046d\", product: \"c31c\"}" },
	{ "usb_pair_with_product", HEAD "usb:\n  - vendor: \"046d:c31c\"\n    product: c31c\n", "usb[0].vendor", 4, "vendor and product together" },
	{ "usb_scalar_list", HEAD "usb: 046d\n", "usb", 3, "write it as a list: usb: [{vendor:" },
	{ "disk_scalar", HEAD "disks: [/a.qcow2]\n", "disks[0]", 3, "write it as {path: /var/lib/vmrun/win10.qcow2}" },
	{ "pci_scalar", HEAD "pci: [\"01:00.0\"]\n", "pci[0]", 3, "write it as {address: \"0000:01:00.0\"}" },
	{ "tab_indent", HEAD "cpu:\n\tcores: 2\n", "", 4, "line 4 has a tab; YAML indents with spaces only" },
};

static void check_error(const char *name, int r, int want_r, const struct profile_error *err,
			const char *file, const char *key, unsigned line, const char *message)
{
	char buf[700];

	print_message("%s: %s\n", name, profile_error_format(err, buf, sizeof(buf)));
	assert_int_equal(r, want_r);
	assert_string_equal(err->file, file);
	assert_string_equal(err->key, key);
	assert_int_equal(err->line, line);
	if (!strstr(err->message, message))
		fail_msg("message \"%s\" lacks \"%s\"", err->message, message);
}

static void test_error_case(void **state)
{
	const struct error_case *t = *state;
	struct profile_error err;
	struct vm_profile *p = (struct vm_profile *)&err; /* must stay untouched */
	int r;

	memset(&err, 0, sizeof(err));
	r = profile_load_buffer("case.yaml", t->yaml, strlen(t->yaml), &p, &err);
	check_error(t->name, r, -EINVAL, &err, "case.yaml", t->key, t->line, t->message);
	assert_ptr_equal(p, (struct vm_profile *)&err);
}

/* ---- media, TPM, installation ---- */

static void test_install_keys(void **state)
{
	static const char yaml[] = "name: w\nmemory: 4G\ntpm: true\n"
				   "disks:\n  - path: w.qcow2\n  - {path: tools.iso, media: cdrom}\n"
				   "install:\n  media: [Win11.iso, /isos/virtio-win.iso]\n  display: spice\n"
				   "  boot_keys: false\n";
	struct profile_error err;
	struct vm_profile *p = NULL;

	(void)state;
	assert_int_equal(profile_load_buffer("/vms/w.yaml", yaml, strlen(yaml), &p, &err), 0);
	assert_true(p->tpm);
	assert_int_equal(p->disks[0].media, VM_MEDIA_DISK);
	assert_int_equal(p->disks[0].interface, VM_DISK_VIRTIO);
	assert_false(p->disks[0].readonly);
	/* A CD-ROM: SATA and read-only without being told. */
	assert_int_equal(p->disks[1].media, VM_MEDIA_CDROM);
	assert_int_equal(p->disks[1].interface, VM_DISK_SATA);
	assert_true(p->disks[1].readonly);
	assert_string_equal(p->disks[1].format, "raw");
	assert_string_equal(p->disks[1].path, "/vms/tools.iso");
	assert_int_equal(p->install.n_media, 2);
	assert_string_equal(p->install.media[0], "/vms/Win11.iso");
	assert_string_equal(p->install.media[1], "/isos/virtio-win.iso");
	assert_null(p->install.media[2]);
	assert_int_equal(p->install.display, VM_INSTALL_SPICE);
	assert_false(p->install.boot_keys);
	assert_string_equal(vm_media_name(VM_MEDIA_CDROM), "cdrom");
	assert_string_equal(vm_install_display_name(VM_INSTALL_VNC), "vnc");
	assert_null(vm_install_display_name(VM_INSTALL_AUTO));
	profile_free(p);
	/* The defaults: no TPM, no installation, keys pressed, display chosen at install time. */
	assert_int_equal(profile_load_buffer("d.yaml", "name: d\nmemory: 1G\n", 19, &p, &err), 0);
	assert_false(p->tpm);
	assert_int_equal(p->install.n_media, 0);
	assert_null(p->install.media);
	assert_true(p->install.boot_keys);
	assert_int_equal(p->install.display, VM_INSTALL_AUTO);
	profile_free(p);
	assert_int_equal(vm_sata_ports("q35"), 6);
	assert_int_equal(vm_sata_ports("pc-q35-7.2"), 6);
	assert_int_equal(vm_sata_ports("pc"), 4);
}

static void test_share_keys(void **state)
{
	static const char yaml[] = "name: s\nmemory: 4G\n"
				   "cpu: {cores: 2, threads: 2, pin: [2, 6, 3, 7], emulator: [0, 4], isolate: true}\n"
				   "input: {keyboard: /dev/input/by-id/k-event-kbd, mouse: /dev/input/by-id/m-event-mouse}\n"
				   "looking_glass: {resolution: 2560x1440}\naudio: true\nhugepages: 1G\n"
				   "usb: [{bus: 3, port: \"1.4.2\"}]\n";
	struct profile_error err;
	struct vm_profile *p = NULL;

	(void)state;
	if (profile_load_buffer("s.yaml", yaml, strlen(yaml), &p, &err) < 0) {
		char msg[512];

		fail_msg("%s", profile_error_format(&err, msg, sizeof(msg)));
	}
	assert_int_equal(p->cpu.n_pin, 4);
	assert_int_equal(p->cpu.pin[1], 6);
	assert_int_equal(p->cpu.n_emulator, 2);
	assert_true(p->cpu.isolate);
	assert_string_equal(p->input.keyboard, "/dev/input/by-id/k-event-kbd");
	assert_int_equal(p->input.toggle, VM_TOGGLE_CTRL_CTRL);
	assert_string_equal(vm_toggle_name(p->input.toggle), "ctrl-ctrl");
	assert_true(p->looking_glass.on);
	assert_int_equal(p->looking_glass.width, 2560);
	/* 2560 x 1440 x 4 x 2 + 10 MiB = 39.98 MiB: 64 MiB. */
	assert_int_equal(p->looking_glass.size, 64ULL << 20);
	assert_true(p->audio);
	assert_false(p->audio_input);
	assert_int_equal(p->hugepages, VM_HUGEPAGES_1G);
	assert_int_equal(p->usb[0].bus, 3);
	assert_string_equal(p->usb[0].port, "1.4.2");
	profile_free(p);
	/* The documented formula, including HDR and the 1080p example Looking Glass gives. */
	assert_int_equal(vm_looking_glass_size(1920, 1080, false), 32ULL << 20);
	assert_int_equal(vm_looking_glass_size(1920, 1080, true), 64ULL << 20);
	assert_int_equal(vm_looking_glass_size(3840, 2160, false), 128ULL << 20);
	assert_int_equal(vm_hugepage_bytes(VM_HUGEPAGES_2M), 2ULL << 20);
	assert_int_equal(vm_hugepage_bytes(VM_HUGEPAGES_NONE), 0);
	static const char a1[] = "name: a\nmemory: 1G\naudio: {input: true}\n",
			  a2[] = "name: a\nmemory: 1G\naudio: false\n";

	assert_int_equal(profile_load_buffer("a.yaml", a1, strlen(a1), &p, &err), 0);
	assert_true(p->audio && p->audio_input);
	profile_free(p);
	assert_int_equal(profile_load_buffer("a.yaml", a2, strlen(a2), &p, &err), 0);
	assert_false(p->audio);
	profile_free(p);
}

/* ---- relative paths: the profile's directory, not the caller's ---- */

static void test_relative_paths(void **state)
{
	static const char yaml[] = "name: rel\nmemory: 1G\n"
				   "disks:\n  - path: win.qcow2\n  - path: ./sub/data.img\n"
				   "  - path: /abs/x.img\n  - device: /dev/sdb\n"
				   "firmware: {code: fw/CODE.fd, vars: fw/VARS.fd}\n"
				   "pci:\n  - {address: 01:00.0, rom: gpu.rom}\n"
				   "boot: {kernel: k/vmlinuz, initrd: k/initrd}\n";
	struct profile_error err;
	struct vm_profile *p = NULL;
	char cwd[4096], want[4200];

	(void)state;
	/* An absolute profile path: its directory. */
	assert_int_equal(profile_load_buffer("/srv/vms/rel.yaml", yaml, strlen(yaml), &p, &err), 0);
	assert_string_equal(p->disks[0].path, "/srv/vms/win.qcow2");
	assert_string_equal(p->disks[0].format, "qcow2");
	assert_string_equal(p->disks[1].path, "/srv/vms/sub/data.img");
	assert_string_equal(p->disks[2].path, "/abs/x.img");
	assert_string_equal(p->disks[3].device, "/dev/sdb");
	assert_string_equal(p->firmware.code, "/srv/vms/fw/CODE.fd");
	assert_string_equal(p->firmware.vars, "/srv/vms/fw/VARS.fd");
	assert_string_equal(p->pci[0].rom, "/srv/vms/gpu.rom");
	assert_string_equal(p->boot.kernel, "/srv/vms/k/vmlinuz");
	assert_string_equal(p->boot.initrd, "/srv/vms/k/initrd");
	profile_free(p);
	/* A relative profile path: its directory under the current one. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(profile_load_buffer("vms/rel.yaml", yaml, strlen(yaml), &p, &err), 0);
	snprintf(want, sizeof(want), "%s/vms/win.qcow2", cwd);
	assert_string_equal(p->disks[0].path, want);
	profile_free(p);
	assert_int_equal(profile_load_buffer("rel.yaml", yaml, strlen(yaml), &p, &err), 0);
	snprintf(want, sizeof(want), "%s/win.qcow2", cwd);
	assert_string_equal(p->disks[0].path, want);
	profile_free(p);
	/* A directory QEMU could not take in an option string: said, not mangled. */
	p = NULL;
	assert_int_equal(profile_load_buffer("/a,b/rel.yaml", yaml, strlen(yaml), &p, &err), -EINVAL);
	assert_string_equal(err.key, "firmware.code"); /* the first relative path, in load order */
	assert_non_null(strstr(err.message, "give an absolute path"));
	assert_null(p);
}

/* ---- errors from files ---- */

static void test_file_errors(void **state)
{
	static const struct {
		const char *path;
		int r;
		const char *key;
		unsigned line;
		const char *message;
	} t[] = {
		{ FIXTURES "/bad-interface.yaml", -EINVAL, "disks[1].interface", 6, "got \"ide\"" },
		{ FIXTURES "/duplicate-key.yaml", -EINVAL, "cpu.cores", 6, "duplicate key" },
		{ FIXTURES "/unknown-key.yaml", -EINVAL, "network.speed", 5, "unknown key" },
		{ FIXTURES "/empty.yaml", -EINVAL, "", 0, "empty" },
		{ FIXTURES "/comments-only.yaml", -EINVAL, "", 0, "empty" },
		{ FIXTURES "/list.yaml", -EINVAL, "", 1, "top level, got a list" },
		{ FIXTURES "/binary.bin", -EINVAL, "", 1, "invalid YAML" },
		{ FIXTURES, -EISDIR, "", 0, "Is a directory" },
		{ FIXTURES "/does-not-exist.yaml", -ENOENT, "", 0, "No such file" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct profile_error err;
		struct vm_profile *p = NULL;
		int r;

		memset(&err, 0x55, sizeof(err));
		r = profile_load(t[i].path, &p, &err);
		check_error(t[i].path, r, t[i].r, &err, t[i].path, t[i].key, t[i].line, t[i].message);
		assert_null(p);
	}
	profile_free(load_ok(FIXTURES "/minimal.yaml"));
}

static void test_huge_file(void **state)
{
	char path[] = "/tmp/vmrun-test-profile-XXXXXX";
	size_t size = 1024 * 1024 + 1, len;
	_cleanup_free_ char *big = malloc(size);
	struct profile_error err = { 0 };
	struct vm_profile *p = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_non_null(big);
	len = (size_t)snprintf(big, size, "name: big\nmemory: 1G\n");
	memset(big + len, '#', size - len);
	assert_int_equal(write(fd, big, size), (ssize_t)size);
	close(fd);
	check_error("huge", profile_load(path, &p, &err), -EFBIG, &err, path, "", 0, "larger than");
	unlink(path);
	assert_null(p);

	/* The buffer entry point caps too. */
	check_error("huge buffer", profile_load_buffer("b.yaml", big, size, &p, &err), -EFBIG, &err,
		    "b.yaml", "", 0, "larger than");
	/* One byte less is a valid profile full of comment. */
	big[size - 2] = '\n';
	p = NULL;
	assert_int_equal(profile_load_buffer("b.yaml", big, size - 1, &p, &err), 0);
	profile_free(p);
}

static void test_error_format(void **state)
{
	struct profile_error e = { .file = "a.yaml", .line = 7, .key = "disks[1].interface",
				   .message = "expected one of virtio, sata, nvme, got \"ide\"" };
	char buf[300], small[10];

	assert_string_equal(profile_error_format(&e, buf, sizeof(buf)),
			    "a.yaml:7: disks[1].interface: expected one of virtio, sata, nvme, got \"ide\"");
	e.line = 0;
	e.key[0] = '\0';
	assert_string_equal(profile_error_format(&e, buf, sizeof(buf)),
			    "a.yaml: expected one of virtio, sata, nvme, got \"ide\"");
	assert_string_equal(profile_error_format(&e, small, sizeof(small)), "a.yaml: e");
	profile_free(NULL);
}

#define N_FIXED 17
static struct CMUnitTest tests[N_FIXED + ARRAY_SIZE(error_cases)];

int main(void)
{
	static const struct CMUnitTest fixed[N_FIXED] = {
		cmocka_unit_test(test_example_win10),
		cmocka_unit_test(test_example_win11),
		cmocka_unit_test(test_example_headless),
		cmocka_unit_test(test_example_lab),
		cmocka_unit_test(test_every_example_loads),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_everything_else),
		cmocka_unit_test(test_memory_sizes),
		cmocka_unit_test(test_usb_id_forms),
		cmocka_unit_test(test_pci_address_forms),
		cmocka_unit_test(test_enum_names),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_install_keys),
		cmocka_unit_test(test_share_keys),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_huge_file),
		cmocka_unit_test(test_error_format),
	};

	/* One cmocka test per error case, named after it, so a failure says which. */
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++)
		tests[N_FIXED + i] = (struct CMUnitTest){
			.name = error_cases[i].name,
			.test_func = test_error_case,
			.initial_state = (void *)&error_cases[i],
		};
	return cmocka_run_group_tests_name("profile", tests, NULL, NULL);
}
