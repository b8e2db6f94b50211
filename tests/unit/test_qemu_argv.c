/* SPDX-License-Identifier: MIT */
/*
 * The QEMU argv, two ways, for every case below (each a YAML profile read by profile_load):
 *
 *   golden/NAME  the argv built with fixed host facts, one argument per line, must equal
 *                tests/unit/golden/NAME.argv. VMRUN_UPDATE_GOLDEN=1 rewrites the file and
 *                then fails, so an update is never a pass: review the diff, run again.
 *   qemu/NAME    the argv built with this machine's facts (its OVMF, images made for the test)
 *                is started by Debian's qemu-system-x86_64 with -S, and QMP must show what the
 *                profile asked for: name, vCPUs and topology, memory, each disk (file, format,
 *                read-only), the firmware flash, PCI devices, NIC and MAC, display, RTC base,
 *                direct kernel boot, SMM. Only what this machine cannot have is changed first,
 *                each said where it is done (adapt_for_this_machine).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "firmware.h"
#include "qemu_argv.h"
#include "realqemu.h"
#include "swtpm.h"
#include "testskip.h"
#include "util.h"

/* The fixed firmware facts point their (normally owned) strings at literals, never freed. */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

#define MAX(a, b) ((a) > (b) ? (a) : (b))

enum fw_kind { FW_NONE, FW_PLAIN, FW_SECURE };

struct gcase {
	const char *name;    /* golden/NAME.argv */
	const char *profile; /* the YAML */
	enum fw_kind fw;     /* the golden facts' firmware */
	const char *vars_path, *runtime_dir;
	const struct qemu_hostdev *hostdevs; /* the golden facts' functions (left out in qemu/) */
	size_t n_hostdevs;
	enum vm_install_display install;     /* an install run with this display, or AUTO: none */
};

static const struct qemu_hostdev gpu4[] = {
	{ .host = { 0, 1, 0, 0 }, .rom = "/vm/gpu.rom" },
	{ .host = { 0, 1, 0, 1 } },
	{ .host = { 0, 1, 0, 2 } },
	{ .host = { 0, 1, 0, 3 } },
};
static const struct qemu_hostdev gpu2[] = { { .host = { 0, 1, 0, 0 } }, { .host = { 0, 1, 0, 1 } } };
static const struct qemu_hostdev two_slots[] = {
	{ .host = { 0, 2, 0, 0 } }, { .host = { 0, 2, 0, 1 } }, { .host = { 0, 3, 0, 0 } },
};

static const struct gcase cases[] = {
	{ "win10", "tests/unit/golden/win10.yaml", FW_PLAIN, "/var/lib/vmrun/win10/win10_VARS.fd",
	  "/run/vmrun/win10", gpu4, 4, VM_INSTALL_AUTO },
	{ "win11-secure", "tests/unit/golden/win11-secure.yaml", FW_SECURE,
	  "/home/a/.local/share/vmrun/w11/w11_VARS.fd", "/run/user/1000/vmrun/w11", gpu4, 2, VM_INSTALL_AUTO },
	{ "linux-bios", "tests/unit/golden/linux-bios.yaml", FW_NONE, NULL, "/run/vmrun/lin",
	  two_slots, 3, VM_INSTALL_AUTO },
	{ "lab", "profiles/examples/lab.yaml", FW_PLAIN, "/var/lib/vmrun/lab/lab_VARS.fd",
	  "/run/vmrun/lab", gpu2, 2, VM_INSTALL_AUTO },
	{ "example-win10", "profiles/examples/win10.yaml", FW_PLAIN,
	  "/var/lib/vmrun/win10/win10_VARS.fd", "/run/vmrun/win10", gpu2, 2, VM_INSTALL_AUTO },
	{ "example-win11", "profiles/examples/win11.yaml", FW_SECURE,
	  "/var/lib/vmrun/win11/win11_VARS.fd", "/run/vmrun/win11", gpu2, 2, VM_INSTALL_AUTO },
	{ "example-headless", "profiles/examples/headless.yaml", FW_PLAIN,
	  "/var/lib/vmrun/headless/headless_VARS.fd", "/run/vmrun/headless", NULL, 0, VM_INSTALL_AUTO },
	{ "install-w11", "tests/unit/golden/install-w11.yaml", FW_SECURE,
	  "/home/a/.local/share/vmrun/w11i/w11i_VARS.fd", "/run/user/1000/vmrun/w11i", gpu2, 2,
	  VM_INSTALL_VNC },
	{ "plain-w11", "tests/unit/golden/install-w11.yaml", FW_SECURE,
	  "/home/a/.local/share/vmrun/w11i/w11i_VARS.fd", "/run/user/1000/vmrun/w11i", gpu2, 2, VM_INSTALL_AUTO },
	{ "matrix-pc", "tests/unit/golden/matrix-pc.yaml", FW_NONE, NULL, "/run/vmrun/matrix", gpu4, 1, VM_INSTALL_AUTO },
	{ "share", "tests/unit/golden/share.yaml", FW_NONE, NULL, "/run/user/1000/vmrun/share", NULL, 0,
	  VM_INSTALL_AUTO },
	{ "install-kernel", "tests/unit/golden/install-kernel.yaml", FW_NONE, NULL, "/run/vmrun/ik",
	  NULL, 0, VM_INSTALL_VNC },
};

static const struct fw_choice fw_plain = {
	.code = "/usr/share/OVMF/OVMF_CODE_4M.fd", .code_format = "raw",
	.vars_template = "/usr/share/OVMF/OVMF_VARS_4M.fd", .vars_format = "raw",
};
static const struct fw_choice fw_secure = {
	.code = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", .code_format = "raw",
	.vars_template = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", .vars_format = "raw",
	.secure_boot = true, .enrolled_keys = true, .requires_smm = true,
};

static struct vm_profile *load(const char *path)
{
	struct profile_error err;
	struct vm_profile *p = NULL;
	char msg[512];

	if (profile_load(path, &p, &err) < 0)
		fail_msg("%s", profile_error_format(&err, msg, sizeof(msg)));
	return p;
}

static char *join(char **argv)
{
	size_t n = 1;
	char *s;

	for (char **v = argv; *v; v++)
		n += strlen(*v) + 1;
	s = calloc(n, 1);
	assert_non_null(s);
	for (char **v = argv; *v; v++) {
		strcat(s, *v);
		strcat(s, "\n");
	}
	return s;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc((size_t)n + 1, 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

static void check_golden(const char *name, char **argv)
{
	char path[256], *got = join(argv), *want;
	FILE *f;

	snprintf(path, sizeof(path), "tests/unit/golden/%s.argv", name);
	if (getenv("VMRUN_UPDATE_GOLDEN")) {
		want = read_text(path);
		if (!want || !streq(want, got)) {
			f = fopen(path, "we");
			assert_non_null(f);
			fputs(got, f);
			assert_int_equal(fclose(f), 0);
			free(want);
			free(got);
			/* An update is never a pass: the new file must be reviewed and run again. */
			fail_msg("rewrote %s: review `git diff %s`, then run without VMRUN_UPDATE_GOLDEN",
				 path, path);
		}
		free(want);
	}
	want = read_text(path);
	if (!want)
		fail_msg("missing golden file %s (VMRUN_UPDATE_GOLDEN=1 writes it)", path);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

static void test_golden(void **state)
{
	const struct gcase *c = *state;
	struct vm_profile *p = load(c->profile);
	struct host_facts h = { .vars_path = c->vars_path, .runtime_dir = c->runtime_dir,
				.hostdevs = c->hostdevs, .n_hostdevs = c->n_hostdevs,
				.looking_glass = "/dev/shm/looking-glass-share",
				.pulse_server = "unix:/run/user/1000/pulse/native" };
	struct qemu_install inst = { .display = c->install };
	char **argv = NULL;

	if (c->install)
		h.install = &inst;
	h.firmware = c->fw == FW_PLAIN ? &fw_plain : c->fw == FW_SECURE ? &fw_secure : NULL;
	assert_int_equal(qemu_argv_build(p, &h, &argv), 0);
	check_golden(c->name, argv);
	strv_free(argv);
	profile_free(p);
}

/* ---- qemu/: the real QEMU ------------------------------------------------------------- */

struct real {
	char dir[PATH_MAX];     /* images, NVRAM, QEMU's log */
	char run[PATH_MAX + 8]; /* the runtime directory: sockets, pid file */
	struct fw_choice fw;
	char vars[2 * PATH_MAX];
	char *image[64];        /* per disk */
	char *media[VM_INSTALL_MEDIA_MAX]; /* install.media */
	char *kernel, *initrd;
	struct swtpm tpm;
};

/* The RTC base is checked by the offset between UTC and QEMU's local time: TZ is 3 h east. */
#define TEST_TZ "VMRUN-3"
#define TEST_TZ_OFFSET (3 * 3600)

static void make_image(const struct vm_disk *d, const char *path)
{
	if (streq(d->format, "qcow2")) {
		char cmd[PATH_MAX + 64];

		snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' 64M", path);
		assert_int_equal(system(cmd), 0);
	} else {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, 64 << 20), 0);
		close(fd);
	}
}

/* Replace a profile string it owns. */
static void set_str(char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
	assert_non_null(*field);
}

/* The profile's files become files made for the test, in the same roles. */
static void real_files(struct real *r, struct vm_profile *p)
{
	assert_true(p->n_disks <= ARRAY_SIZE(r->image));
	for (size_t i = 0; i < p->n_disks; i++) {
		struct vm_disk *d = &p->disks[i];

		assert_true(asprintf(&r->image[i], "%s/disk%zu.%s", r->dir, i, d->format) > 0);
		make_image(d, r->image[i]);
		set_str(d->device ? &d->device : &d->path, r->image[i]);
	}
	for (size_t i = 0; i < p->install.n_media; i++) {
		struct vm_disk iso = { .format = "raw" };

		assert_true(asprintf(&r->media[i], "%s/install%zu.iso", r->dir, i) > 0);
		make_image(&iso, r->media[i]);
		set_str(&p->install.media[i], r->media[i]);
	}
	if (p->boot.kernel) {
		r->kernel = rq_first_file("/boot/vmlinuz-*");
		if (!r->kernel)
			fail_msg("no readable /boot/vmlinuz-* (package linux-image-amd64)");
		set_str(&p->boot.kernel, r->kernel);
	}
	if (p->boot.initrd) {
		assert_true(asprintf(&r->initrd, "%s/initrd", r->dir) > 0);
		FILE *f = fopen(r->initrd, "we");
		assert_non_null(f);
		fputs("070701 not really a cpio, QEMU only loads it\n", f);
		fclose(f);
		set_str(&p->boot.initrd, r->initrd);
	}
}

/* This machine's OVMF, chosen as a run chooses it, and the VM's own NVRAM copy. */
static void real_firmware(struct real *r, const struct vm_profile *p)
{
	struct fw_request req = { .arch = "x86_64", .machine = p->machine,
				  .secure_boot = p->firmware.secure_boot };
	char err[512] = "", *name = NULL;
	int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), dir;
	bool created = false;

	if (p->firmware.type != VM_FW_UEFI)
		return;
	assert_true(root >= 0);
	if (fw_select(root, NULL, &req, &r->fw, err, sizeof(err)) < 0)
		fail_msg("this machine's firmware: %s (package ovmf)", err);
	dir = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dir >= 0);
	assert_int_equal(fw_vars_ensure(dir, root, p->name, &r->fw, &name, &created), 0);
	assert_true(created);
	snprintf(r->vars, sizeof(r->vars), "%s/%s", r->dir, name);
	free(name);
	close(dir);
	close(root);
}

/* swtpm, started as a run starts it (swtpm.h), its state beside the images. */
static void real_tpm(struct real *r)
{
	char err[512] = "";
	int dir = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int run = open(r->run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(dir >= 0 && run >= 0);
	if (!swtpm_available())
		fail_msg("tpm: true needs swtpm (package swtpm)");
	if (swtpm_start(dir, r->dir, run, r->run, 10000, &r->tpm, err, sizeof(err)) < 0)
		fail_msg("swtpm: %s", err);
	assert_true(r->tpm.state_created);
	close(dir);
	close(run);
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void strip(char *s, const char *part)
{
	char *at = strstr(s, part);

	if (at)
		memmove(at, at + strlen(part), strlen(at + strlen(part)) + 1);
}

/*
 * The changes made before starting: only what this machine (and CI's) cannot have.
 *   -accel kvm   -> tcg: guests hang on this machine's /dev/kvm and CI may have none; with -S
 *                   nothing runs, so the rest of the machine is built exactly as asked.
 *   -cpu host    -> max: "host" needs KVM. hv-vpindex is dropped: TCG refuses to set it
 *                   ("kernel doesn't allow setting HyperV VP_INDEX"); every other flag stays.
 *   vfio-pci: no such host device here (the lab starts vfio-pci on real devices). usb-host
 *                   stays: QEMU takes one for a device that is not plugged in.
 *   -netdev bridge -> user, same id: no bridge or bridge helper in a unit test.
 *   input-linux: no event device here (tests/lab/scenarios/vmrun-share.sh, with uinput).
 *   hugepages: hugetlb=on and prealloc left out (no pages here; the lab allocates them).
 *   -audiodev pa -> none, same id: no sound server here (tests/vm/run starts one).
 * The result is a new argv; the strings are malloc'd.
 */
static char **adapt_for_this_machine(char **argv)
{
	size_t n = 0, k = 0;
	char **out;

	while (argv[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		const char *a = argv[i], *next = i + 1 < n ? argv[i + 1] : "";
		char *v;

		if ((streq(a, "-device") && starts(next, "vfio-pci,")) ||
		    (streq(a, "-object") && starts(next, "input-linux,"))) {
			i++;
			continue;
		}
		if (i > 0 && streq(argv[i - 1], "-accel") && streq(a, "kvm"))
			a = "tcg";
		v = strdup(a);
		assert_non_null(v);
		if (i > 0 && streq(argv[i - 1], "-cpu")) {
			if (starts(v, "host"))
				memcpy(v, "max", 3), memmove(v + 3, v + 4, strlen(v + 4) + 1);
			strip(v, ",hv-vpindex");
		}
		if (i > 0 && streq(argv[i - 1], "-object") && starts(v, "memory-backend-memfd,")) {
			strip(v, ",hugetlb=on");
			strip(v, ",hugetlbsize=2M");
			strip(v, ",hugetlbsize=1G");
			strip(v, ",prealloc=on");
		}
		if (i > 0 && streq(argv[i - 1], "-audiodev") && starts(v, "pa,")) {
			free(v);
			v = strdup("none,id=vmrun-audio");
			assert_non_null(v);
		}
		if (i > 0 && streq(argv[i - 1], "-netdev") && starts(v, "bridge,")) {
			char *id = strstr(v, "id="), *end;

			assert_non_null(id);
			end = strchr(id, ',');
			if (end)
				*end = '\0';
			char *u = NULL;
			assert_true(asprintf(&u, "user,%s", id) > 0);
			free(v);
			v = u;
		}
		out[k++] = v;
	}
	return out;
}

static bool has_arg_pair(char **argv, const char *opt, const char *val)
{
	for (size_t i = 0; argv[i] && argv[i + 1]; i++)
		if (streq(argv[i], opt) && streq(argv[i + 1], val))
			return true;
	return false;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static bool jbool(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return json_object_get_boolean(v);
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static void expect_qom_bool(struct rq *q, const char *path, const char *prop, bool want)
{
	json_object *v = rq_qom_get(q, path, prop);

	if (json_object_get_boolean(v) != want)
		fail_msg("%s %s is %s, the profile asks for %s", path, prop,
			 json_object_to_json_string(v), want ? "true" : "false");
	json_object_put(v);
}

static void expect_qom_string(struct rq *q, const char *path, const char *prop, const char *want)
{
	json_object *v = rq_qom_get(q, path, prop);

	if (!streq(json_object_get_string(v), want))
		fail_msg("%s %s is %s, the profile asks for \"%s\"", path, prop,
			 json_object_to_json_string(v), want);
	json_object_put(v);
}

static void check_identity(struct rq *q, const struct vm_profile *p)
{
	json_object *v = rq_query(q, "query-status", NULL);

	assert_string_equal(jstr(v, "status"), "prelaunch");
	json_object_put(v);
	v = rq_query(q, "query-name", NULL);
	assert_string_equal(jstr(v, "name"), p->name);
	json_object_put(v);
	v = rq_query(q, "query-memory-size-summary", NULL);
	assert_int_equal(jint(v, "base-memory"), (p->memory + 1023) / 1024 * 1024);
	json_object_put(v);
}

/* vCPUs and topology, and the CPU flags the profile set. */
static void check_cpus(struct rq *q, const struct vm_profile *p)
{
	json_object *v = rq_query(q, "query-cpus-fast", NULL), *props;
	unsigned n = p->cpu.sockets * p->cpu.cores * p->cpu.threads, max_sock = 0, max_core = 0,
		 max_thread = 0;
	char cpu0[256];
	bool hv = p->hyperv && p->accel == VM_ACCEL_KVM;

	assert_int_equal(json_object_array_length(v), n);
	for (size_t i = 0; i < n; i++) {
		assert_true(json_object_object_get_ex(json_object_array_get_idx(v, i), "props", &props));
		max_sock = MAX(max_sock, (unsigned)jint(props, "socket-id"));
		max_core = MAX(max_core, (unsigned)jint(props, "core-id"));
		max_thread = MAX(max_thread, (unsigned)jint(props, "thread-id"));
	}
	assert_int_equal(max_sock + 1, p->cpu.sockets);
	assert_int_equal(max_core + 1, p->cpu.cores);
	assert_int_equal(max_thread + 1, p->cpu.threads);
	snprintf(cpu0, sizeof(cpu0), "%s", jstr(json_object_array_get_idx(v, 0), "qom-path"));
	json_object_put(v);
	expect_qom_bool(q, cpu0, "kvm", !p->hide_kvm);
	expect_qom_string(q, cpu0, "hv-vendor-id", p->hyperv_vendor_id ? p->hyperv_vendor_id : "Microsoft Hv");
	expect_qom_bool(q, cpu0, "hv-relaxed", hv);
	expect_qom_bool(q, cpu0, "hv-time", hv);
	expect_qom_bool(q, cpu0, "hv-synic", hv);
}

static json_object *find_block(json_object *blocks, const char *device)
{
	for (size_t i = 0; i < json_object_array_length(blocks); i++) {
		json_object *b = json_object_array_get_idx(blocks, i);
		const char *d = jstr(b, "device");

		if (d && streq(d, device))
			return b;
	}
	return NULL;
}

static void expect_block(json_object *blocks, const char *device, const char *file,
			 const char *format, bool ro, bool attached)
{
	json_object *b = find_block(blocks, device), *ins;

	if (!b)
		fail_msg("no block device %s in %s", device, json_object_to_json_string(blocks));
	if (!json_object_object_get_ex(b, "inserted", &ins))
		fail_msg("%s has no medium", device);
	assert_string_equal(jstr(ins, "file"), file);
	assert_string_equal(jstr(ins, "drv"), format);
	if (jbool(ins, "ro") != ro)
		fail_msg("%s is %s, the profile asks for %s", device, ro ? "writable" : "read-only",
			 ro ? "read-only" : "writable");
	/* Attached to a guest device, not a dangling -drive. */
	const char *qdev = jstr(b, "qdev");

	if (attached && (!qdev || !*qdev))
		fail_msg("%s is not attached to a device", device);
}

static void check_blocks(struct rq *q, const struct vm_profile *p, const struct real *r,
			 bool install)
{
	json_object *v = rq_query(q, "query-block", NULL);
	size_t want = p->n_disks;

	for (size_t i = 0; i < p->n_disks; i++) {
		char id[48];

		snprintf(id, sizeof(id), "vmrun-disk%zu", i);
		expect_block(v, id, r->image[i], p->disks[i].format, p->disks[i].readonly, true);
		/* A CD-ROM is a removable drive; a disk is not. */
		if (jbool(find_block(v, id), "removable") != (p->disks[i].media == VM_MEDIA_CDROM))
			fail_msg("%s: removable is not what media: %s says", id,
				 vm_media_name(p->disks[i].media));
	}
	for (size_t i = 0; install && i < p->install.n_media; i++) {
		char id[48];

		snprintf(id, sizeof(id), "vmrun-install%zu", i);
		expect_block(v, id, r->media[i], "raw", true, true);
		assert_true(jbool(find_block(v, id), "removable"));
		want++;
	}
	if (p->firmware.type == VM_FW_UEFI) {
		expect_block(v, "pflash0", r->fw.code, r->fw.code_format, true, false);
		expect_block(v, "pflash1", r->vars, r->fw.vars_format, false, false);
		want += 2;
	}
	/* Nothing the profile did not ask for (-nodefaults: no default CD-ROM or floppy). */
	assert_int_equal(json_object_array_length(v), want);
	json_object_put(v);
}

static size_t count_id(char ids[][10], size_t n, const char *id)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += streq(ids[i], id);
	return k;
}

static const char *nic_pci_id(const char *model)
{
	static const struct { const char *model, *id; } nics[] = {
		{ "virtio-net-pci", "1af4:1000" }, { "e1000e", "8086:10d3" }, { "e1000", "8086:100e" },
		{ "rtl8139", "10ec:8139" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(nics); i++)
		if (streq(nics[i].model, model))
			return nics[i].id;
	return NULL;
}

static size_t host_slots(const struct gcase *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_hostdevs; i++)
		n += i == 0 || !pci_addr_same_slot(&c->hostdevs[i - 1].host, &c->hostdevs[i].host);
	return n;
}

/* The PCI devices the profile implies, by vendor:device. */
static enum vm_display effective_display(const struct vm_profile *p, const struct gcase *c)
{
	return c->install == VM_INSTALL_AUTO	? p->display
	       : c->install == VM_INSTALL_GTK	? VM_DISPLAY_GTK
	       : c->install == VM_INSTALL_SPICE ? VM_DISPLAY_SPICE
						: VM_DISPLAY_VNC;
}

static void check_pci(struct rq *q, const struct vm_profile *p, const struct gcase *c)
{
	enum vm_display display = effective_display(p, c);
	char ids[128][10];
	size_t n = rq_pci_ids(q, ids, ARRAY_SIZE(ids)), want_virtio_blk = 0, want_nvme = 0;
	bool q35 = streq(p->machine, "q35") || starts(p->machine, "pc-q35-");
	const char *nic = p->network.type == VM_NET_NONE ? NULL : nic_pci_id(p->network.model);
	static const char *const vga[] = {
		[VM_DISPLAY_GTK] = "1af4:1050", [VM_DISPLAY_SPICE] = "1b36:0100",
		[VM_DISPLAY_VNC] = "1234:1111",
	};

	for (size_t i = 0; i < p->n_disks; i++) {
		want_virtio_blk += p->disks[i].interface == VM_DISK_VIRTIO;
		want_nvme += p->disks[i].interface == VM_DISK_NVME;
	}
	assert_int_equal(count_id(ids, n, q35 ? "8086:29c0" : "8086:1237"), 1);
	assert_int_equal(count_id(ids, n, "1af4:1001"), want_virtio_blk);
	assert_int_equal(count_id(ids, n, "1b36:0010"), want_nvme);
	assert_int_equal(count_id(ids, n, "1b36:000d"), p->n_usb ? 1 : 0);
	/* One PCIe root port per host slot on q35, even with the functions left out here. */
	assert_int_equal(count_id(ids, n, "1b36:000c"), q35 ? host_slots(c) : 0);
	if (nic)
		assert_int_equal(count_id(ids, n, nic), 1);
	assert_int_equal(count_id(ids, n, "1af4:1110"), p->looking_glass.on ? 1 : 0);
	if (p->audio)
		assert_int_equal(count_id(ids, n, q35 ? "8086:293e" : "8086:2668"), 1);
	if (display != VM_DISPLAY_NONE)
		assert_int_equal(count_id(ids, n, vga[display]), 1);
}

static void check_network(struct rq *q, const struct vm_profile *p)
{
	if (p->network.type == VM_NET_NONE || !p->network.mac)
		return;
	expect_qom_string(q, "/machine/peripheral/vmrun-nic0", "mac", p->network.mac);
}

static void check_display(struct rq *q, const struct vm_profile *p, const struct gcase *c,
			  const struct real *r)
{
	enum vm_display display = effective_display(p, c);
	json_object *v;
	char sock[2 * PATH_MAX];

	if (display == VM_DISPLAY_VNC) {
		v = rq_query(q, "query-vnc", NULL);
		assert_true(jbool(v, "enabled"));
		if (c->install) { /* the installer's: TCP on localhost, for a viewer */
			assert_string_equal(jstr(v, "family"), "ipv4");
			assert_string_equal(jstr(v, "host"), "127.0.0.1");
			assert_true(atoi(jstr(v, "service")) >= 5900 && atoi(jstr(v, "service")) <= 5999);
		} else {
			snprintf(sock, sizeof(sock), "%s/vnc.sock", r->run);
			assert_string_equal(jstr(v, "family"), "unix");
			assert_string_equal(jstr(v, "service"), sock);
		}
		json_object_put(v);
	}
	if (display == VM_DISPLAY_SPICE) {
		v = rq_query(q, "query-spice", NULL);
		assert_true(jbool(v, "enabled"));
		json_object_put(v);
		snprintf(sock, sizeof(sock), "%s/spice.sock", r->run);
		assert_int_equal(access(sock, F_OK), 0);
	}
}

/* The RTC's base: under TZ (3 h east of UTC) localtime reads 3 h ahead of UTC. */
static void check_rtc(struct rq *q, const struct vm_profile *p)
{
	json_object *v = rq_qom_get(q, "/machine", "rtc-time");
	struct tm tm = { .tm_year = (int)jint(v, "tm_year"), .tm_mon = (int)jint(v, "tm_mon"),
			 .tm_mday = (int)jint(v, "tm_mday"), .tm_hour = (int)jint(v, "tm_hour"),
			 .tm_min = (int)jint(v, "tm_min"), .tm_sec = (int)jint(v, "tm_sec") };
	long ahead = (long)(timegm(&tm) - time(NULL));
	long want = p->rtc == VM_RTC_LOCALTIME ? TEST_TZ_OFFSET : 0;

	json_object_put(v);
	if (labs(ahead - want) > 120)
		fail_msg("the RTC is %ld s ahead of UTC; with rtc: %s it should be %ld", ahead,
			 vm_rtc_name(p->rtc), want);
}

static void check_machine(struct rq *q, const struct vm_profile *p, const struct real *r)
{
	json_object *v;

	if (p->boot.kernel) {
		expect_qom_string(q, "/machine", "kernel", r->kernel);
		expect_qom_string(q, "/machine", "initrd", p->boot.initrd ? r->initrd : "");
		expect_qom_string(q, "/machine", "append", p->boot.cmdline ? p->boot.cmdline : "");
	}
	v = rq_qom_get(q, "/machine", "vmport");
	assert_string_equal(json_object_get_string(v), "off");
	json_object_put(v);
	v = rq_qom_get(q, "/machine", "smm");
	if (r->fw.requires_smm)
		assert_string_equal(json_object_get_string(v), "on");
	json_object_put(v);
	if (r->fw.requires_smm) /* the variable store is writable through SMM only */
		expect_qom_bool(q, "/machine/system.flash1", "secure", true);
}

/* An install boots its first medium (1), then the first hard disk (2); a plain run sets no order. */
static void check_boot_order(struct rq *q, const struct vm_profile *p, bool install)
{
	bool first_hd = true;

	for (size_t i = 0; i < p->n_disks; i++) {
		char path[96];
		json_object *v;
		bool hd = p->disks[i].media == VM_MEDIA_DISK;

		snprintf(path, sizeof(path), "/machine/peripheral/vmrun-disk%zu-dev", i);
		v = rq_qom_get(q, path, "bootindex");
		assert_int_equal(json_object_get_int(v), install && hd && first_hd ? 2 : -1);
		json_object_put(v);
		first_hd &= !hd;
	}
	for (size_t i = 0; install && i < p->install.n_media; i++) {
		char path[96];
		json_object *v;

		snprintf(path, sizeof(path), "/machine/peripheral/vmrun-install%zu-dev", i);
		v = rq_qom_get(q, path, "bootindex");
		assert_int_equal(json_object_get_int(v), i == 0 ? 1 : -1);
		json_object_put(v);
	}
}

static void check_tpm(struct rq *q, const struct vm_profile *p)
{
	json_object *v = rq_query(q, "query-tpm", NULL), *t, *opts;
	bool q35 = vm_machine_is_q35(p->machine);

	assert_int_equal(json_object_array_length(v), p->tpm ? 1 : 0);
	if (p->tpm) {
		t = json_object_array_get_idx(v, 0);
		assert_string_equal(jstr(t, "model"), q35 ? "tpm-crb" : "tpm-tis");
		assert_true(json_object_object_get_ex(t, "options", &opts));
		assert_string_equal(jstr(opts, "type"), "emulator");
	}
	json_object_put(v);
}

/* The size of BAR bar of the first device vendor:device, from query-pci; -1 when none. */
static long long bar_size(json_object *devices, unsigned vendor, unsigned device, int bar)
{
	for (size_t i = 0; i < json_object_array_length(devices); i++) {
		json_object *d = json_object_array_get_idx(devices, i), *id, *v, *regions, *br, *sub;

		if (json_object_object_get_ex(d, "id", &id) &&
		    json_object_object_get_ex(id, "vendor", &v) && (unsigned)json_object_get_int(v) == vendor &&
		    json_object_object_get_ex(id, "device", &v) && (unsigned)json_object_get_int(v) == device &&
		    json_object_object_get_ex(d, "regions", &regions))
			for (size_t k = 0; k < json_object_array_length(regions); k++) {
				json_object *rg = json_object_array_get_idx(regions, k);

				if (jint(rg, "bar") == bar)
					return jint(rg, "size");
			}
		if (json_object_object_get_ex(d, "pci_bridge", &br) &&
		    json_object_object_get_ex(br, "devices", &sub)) {
			long long sz = bar_size(sub, vendor, device, bar);

			if (sz >= 0)
				return sz;
		}
	}
	return -1;
}

/* What the sharing keys asked for: the Looking Glass BAR, the RAM backend, sound, USB. */
static void check_share(struct rq *q, const struct vm_profile *p)
{
	json_object *v, *buses, *devs;
	char path[96];

	if (p->looking_glass.on) {
		buses = rq_query(q, "query-pci", NULL);
		assert_true(json_object_object_get_ex(json_object_array_get_idx(buses, 0), "devices",
						      &devs));
		/* ivshmem-plain's shared memory is its BAR 2. */
		assert_int_equal(bar_size(devs, 0x1af4, 0x1110, 2), (long long)p->looking_glass.size);
		json_object_put(buses);
	}
	if (p->hugepages) {
		v = rq_qom_get(q, "/objects/vmrun-ram", "size");
		assert_int_equal(json_object_get_int64(v), (int64_t)p->memory);
		json_object_put(v);
	}
	if (p->audio)
		json_object_put(rq_qom_get(q, "/machine/peripheral/vmrun-hda", "type"));
	for (size_t i = 0; i < p->n_usb; i++) {
		snprintf(path, sizeof(path), "/machine/peripheral/vmrun-usb%zu", i);
		if (p->usb[i].bus) {
			v = rq_qom_get(q, path, "hostbus");
			assert_int_equal(json_object_get_int(v), p->usb[i].bus);
			json_object_put(v);
			expect_qom_string(q, path, "hostport", p->usb[i].port);
		} else {
			v = rq_qom_get(q, path, "vendorid");
			assert_int_equal(json_object_get_int(v), p->usb[i].vendor);
			json_object_put(v);
			v = rq_qom_get(q, path, "productid");
			assert_int_equal(json_object_get_int(v), p->usb[i].product);
			json_object_put(v);
		}
	}
}

static void check_pidfile(const struct real *r, pid_t pid)
{
	char path[2 * PATH_MAX], *s;

	snprintf(path, sizeof(path), "%s/qemu.pid", r->run);
	s = read_text(path);
	assert_non_null(s);
	assert_int_equal(atoi(s), pid);
	free(s);
}

/* A gtk display needs an X or Wayland session: without one QEMU must get as far as opening it. */
static void check_gtk_refused_here(char **argv, const struct real *r)
{
	char log[2 * PATH_MAX], *err = NULL;
	int status;

	snprintf(log, sizeof(log), "%s/gtk.log", r->dir);
	status = rq_run_to_exit(argv, log, 20000, &err);
	if (!strstr(err, "gtk initialization failed"))
		fail_msg("-display gtk without a session: expected \"gtk initialization failed\", "
			 "QEMU exited %d: %s", status, err);
	free(err);
}

static void real_free(struct real *r, struct vm_profile *p)
{
	char cmd[2 * PATH_MAX];

	swtpm_stop(&r->tpm);
	for (size_t i = 0; i < ARRAY_SIZE(r->image); i++)
		free(r->image[i]);
	for (size_t i = 0; i < ARRAY_SIZE(r->media); i++)
		free(r->media[i]);
	free(r->kernel);
	free(r->initrd);
	fw_choice_clear(&r->fw);
	profile_free(p);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	(void)system(cmd);
}

static void test_real_qemu(void **state)
{
	const struct gcase *c = *state;
	struct real r = { .tpm = { .pidfd = -1 } };
	struct vm_profile *p;
	struct host_facts h;
	struct qemu_install inst = { .display = c->install };
	char **argv = NULL, **run_argv, sock[2 * PATH_MAX], log[2 * PATH_MAX], *err = NULL;
	char lg[2 * PATH_MAX];
	struct rq q;
	int rc;

	if (!rq_have_program("qemu-system-x86_64"))
		test_skip("no qemu-system-x86_64 (package qemu-system-x86)");
	if (!rq_have_program("qemu-img"))
		test_skip("no qemu-img (package qemu-utils)");
	p = load(c->profile);
	/* Images on a disk-backed directory: raw devices are opened with O_DIRECT (cache=none). */
	snprintf(r.dir, sizeof(r.dir), "/var/tmp/vmrun-qemu-%s.XXXXXX", c->name);
	assert_non_null(mkdtemp(r.dir));
	snprintf(r.run, sizeof(r.run), "%s/run", r.dir);
	assert_int_equal(mkdir(r.run, 0700), 0);
	real_files(&r, p);
	real_firmware(&r, p);
	snprintf(lg, sizeof(lg), "%s/looking-glass", r.dir);
	h = (struct host_facts){ .firmware = p->firmware.type == VM_FW_UEFI ? &r.fw : NULL,
				 .vars_path = r.vars, .runtime_dir = r.run, .hostdevs = c->hostdevs,
				 .n_hostdevs = c->n_hostdevs, .install = c->install ? &inst : NULL,
				 .looking_glass = lg, .pulse_server = "unix:/nonexistent/native" };
	if (p->tpm)
		real_tpm(&r);
	assert_int_equal(qemu_argv_build(p, &h, &argv), 0);
	run_argv = adapt_for_this_machine(argv);
	if (has_arg_pair(run_argv, "-display", "gtk") && !getenv("DISPLAY") &&
	    !getenv("WAYLAND_DISPLAY")) {
		check_gtk_refused_here(run_argv, &r);
		for (size_t i = 0; run_argv[i]; i++)
			if (streq(run_argv[i], "gtk") && i > 0 && streq(run_argv[i - 1], "-display"))
				set_str(&run_argv[i], "none");
	}
	snprintf(sock, sizeof(sock), "%s/qmp.sock", r.run);
	snprintf(log, sizeof(log), "%s/qemu.log", r.dir);
	rc = rq_start(run_argv, sock, log, TEST_TZ, &q, &err);
	if (rc < 0)
		fail_msg("QEMU refused %s's command line (%s): %s", c->name, strerror(-rc), err);
	check_identity(&q, p);
	check_cpus(&q, p);
	check_blocks(&q, p, &r, c->install);
	check_boot_order(&q, p, c->install);
	check_tpm(&q, p);
	check_pci(&q, p, c);
	check_network(&q, p);
	check_display(&q, p, c, &r);
	check_share(&q, p);
	check_rtc(&q, p);
	check_machine(&q, p, &r);
	check_pidfile(&r, q.pid);
	rq_stop(&q);
	strv_free(run_argv);
	strv_free(argv);
	real_free(&r, p);
}

static void test_missing_facts(void **state)
{
	struct vm_profile *p = load("tests/unit/golden/win10.yaml");
	struct host_facts h = { .runtime_dir = "/run/vmrun/x" };
	char **argv = (char **)0x1;

	(void)state;
	/* UEFI without firmware facts is a caller bug, refused without touching *ret. */
	assert_int_equal(qemu_argv_build(p, &h, &argv), -EINVAL);
	assert_ptr_equal(argv, (char **)0x1);
	h = (struct host_facts){ .firmware = &fw_plain, .vars_path = "/v" };
	assert_int_equal(qemu_argv_build(p, &h, &argv), -EINVAL);
	assert_ptr_equal(argv, (char **)0x1);
	profile_free(p);
}

static void test_shell_quote(void **state)
{
	static const struct { const char *in, *out; } quotes[] = {
		{ "plain-arg,x=1", "plain-arg,x=1" }, { "a b", "'a b'" },
		{ "it's", "'it'\\''s'" },             { "", "''" }, { "$HOME", "'$HOME'" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(quotes); i++) {
		char *s = shell_quote(quotes[i].in);

		assert_string_equal(s, quotes[i].out);
		free(s);
	}
}

int main(void)
{
	struct CMUnitTest tests[2 * ARRAY_SIZE(cases) + 2];
	char names[2 * ARRAY_SIZE(cases)][64];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(names[2 * i], sizeof(names[0]), "golden/%s", cases[i].name);
		snprintf(names[2 * i + 1], sizeof(names[0]), "qemu/%s", cases[i].name);
		tests[n++] = (struct CMUnitTest){ names[2 * i], test_golden, NULL, NULL,
						  (void *)&cases[i] };
		tests[n++] = (struct CMUnitTest){ names[2 * i + 1], test_real_qemu, NULL, NULL,
						  (void *)&cases[i] };
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_missing_facts);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_shell_quote);
	return _cmocka_run_group_tests("qemu_argv", tests, n, NULL, NULL);
}
