/* SPDX-License-Identifier: MIT */
/*
 * The vmrun binary end to end against a fake host (--root): gpus --json, check, --dry-run,
 * and bad input (exit 2, one line naming what is wrong, nothing written).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fakekernel.h"
#include "fakesys.h"
#include "paths.h"
#include "profile.h"
#include "sysroot.h"
#include "util.h"

static char vmrun[PATH_MAX + 16];

struct fx {
	char *root;
	char profile[PATH_MAX];
	char *out, *err;
};

static void add_firmware(const char *root)
{
	static const char *const files[] = { "60-edk2-x86_64.json", "40-edk2-x86_64-secure-enrolled.json" };
	static const struct { const char *name; off_t size; } images[] = {
		{ "usr/share/OVMF/OVMF_CODE_4M.fd", 3653632 }, { "usr/share/OVMF/OVMF_VARS_4M.fd", 540672 },
		{ "usr/share/OVMF/OVMF_CODE_4M.secboot.fd", 3653632 },
		{ "usr/share/OVMF/OVMF_VARS_4M.ms.fd", 540672 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char src[256], dst[256], buf[8192];
		FILE *f;
		size_t n;

		snprintf(src, sizeof(src), "tests/unit/fixtures/firmware/debian/usr/share/qemu/firmware/%s", files[i]);
		f = fopen(src, "re");
		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		snprintf(dst, sizeof(dst), "usr/share/qemu/firmware/%s", files[i]);
		fake_write(root, dst, buf);
	}
	for (size_t i = 0; i < ARRAY_SIZE(images); i++) {
		char p[PATH_MAX];

		fake_write(root, images[i].name, "");
		snprintf(p, sizeof(p), "%s/%s", root, images[i].name);
		assert_int_equal(truncate(p, images[i].size), 0);
	}
	fake_symlink(root, "usr/share/OVMF/OVMF_CODE_4M.ms.fd", "OVMF_CODE_4M.secboot.fd");
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->root = fake_root_new();
	fake_lab_host(f->root);
	fk_prepare_root(f->root); /* vfio-pci is there, as on every Debian kernel */
	add_firmware(f->root);
	fake_add_proc(f->root, 4242, "sleep", 0, "0::/system.slice/holder.service\n",
		      (const char *const[]){ "/dev/dri/card1", NULL });
	snprintf(f->profile, sizeof(f->profile), "%s/lab.yaml", f->root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fake_root_free(f->root);
	free(f->out);
	free(f->err);
	free(f);
	return 0;
}

static int run(struct fx *f, const char *const *args)
{
	char *argv[32] = { vmrun, (char *)"--root", f->root };
	size_t n = 3;

	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	free(f->out);
	free(f->err);
	return run_capture(argv, &f->out, &f->err);
}

static void write_profile(struct fx *f, const char *yaml)
{
	FILE *p = fopen(f->profile, "we");

	assert_non_null(p);
	fputs(yaml, p);
	fclose(p);
}

static const char lab_yaml[] =
	"name: lab\nos: linux\naccel: tcg\nmemory: 512M\n"
	"cpu: {model: max, sockets: 1, cores: 2, threads: 1}\n"
	"hide_kvm: true\nhyperv_vendor_id: vmrunlab\n"
	"pci:\n  - address: \"01:00.0\"\n"
	"usb:\n  - {vendor: \"046d\", product: \"c31c\"}\n"
	"network: {type: none}\ndisplay: none\n";

static json_object *find_gpu(json_object *gpus, const char *addr)
{
	for (size_t i = 0; i < json_object_array_length(gpus); i++) {
		json_object *g = json_object_array_get_idx(gpus, i), *a;

		if (json_object_object_get_ex(g, "address", &a) && streq(json_object_get_string(a), addr))
			return g;
	}
	return NULL;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static int jint(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int(v) : -12345;
}

static void test_gpus_json(void **state)
{
	struct fx *f = *state;
	json_object *root, *gpus, *bochs, *virtio, *group, *members, *holders, *h;

	assert_int_equal(run(f, (const char *const[]){ "gpus", "--json", NULL }), 0);
	root = json_tokener_parse(f->out);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "gpus", &gpus));
	assert_int_equal(json_object_array_length(gpus), 2);
	bochs = find_gpu(gpus, "0000:01:00.0");
	virtio = find_gpu(gpus, "0000:00:02.0");
	assert_non_null(bochs);
	assert_non_null(virtio);
	assert_string_equal(jstr(bochs, "driver"), "bochs-drm");
	assert_true(json_object_object_get_ex(bochs, "group", &group));
	assert_true(json_object_object_get_ex(group, "members", &members));
	assert_int_equal(json_object_array_length(members), 3);
	assert_string_equal(jstr(json_object_array_get_idx(members, 2), "address"), "0000:01:00.1");
	assert_string_equal(jstr(json_object_array_get_idx(members, 2), "driver"), "snd_hda_intel");
	assert_string_equal(jstr(json_object_array_get_idx(members, 2), "role"), "gpu-audio");
	assert_int_equal(jint(bochs, "iommu_group"), 2);
	assert_int_equal(jint(virtio, "iommu_group"), 1);
	assert_true(json_object_object_get_ex(bochs, "holders", &holders));
	assert_int_equal(json_object_array_length(holders), 1);
	h = json_object_array_get_idx(holders, 0);
	assert_int_equal(jint(h, "pid"), 4242);
	assert_string_equal(jstr(h, "command"), "sleep");
	assert_string_equal(jstr(h, "node"), "/dev/dri/card1");
	assert_string_equal(jstr(h, "unit"), "holder.service");
	json_object_put(root);
}

static void test_gpus_human_and_filter(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, (const char *const[]){ "gpus", "01:00.0", NULL }), 0);
	assert_non_null(strstr(f->out, "IOMMU group 2:"));
	assert_non_null(strstr(f->out, "0000:01:00.1  gpu-audio  snd_hda_intel"));
	assert_non_null(strstr(f->out, "held by pid 4242 sleep (user root, unit holder.service)"));
	assert_null(strstr(f->out, "0000:00:02.0  "));
	assert_int_equal(run(f, (const char *const[]){ "gpus", "0000:07:00.0", NULL }), 4);
	assert_string_equal(f->err, "vmrun: error: no PCI device 0000:07:00.0 on this host\n");
}

static void test_bad_addresses(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "1:00.0", "0000:01:00.8", "01:00.0x", "", "../x" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(run(f, (const char *const[]){ "gpus", bad[i], NULL }), 2);
		assert_string_equal(f->out, "");
		assert_non_null(strstr(f->err, "is not a PCI address"));
		assert_null(strchr(strchr(f->err, '\n') + 1, '\n')); /* one line */
	}
}

static void test_check(void **state)
{
	struct fx *f = *state;
	json_object *root, *checks, *ready;
	bool iommu_ok = false, irq_ok = false, holder_fail = false;

	write_profile(f, lab_yaml);
	/* The holder of /dev/dri/card1 makes the GPU not ready: exit 4, named. */
	assert_int_equal(run(f, (const char *const[]){ "check", "--json", f->profile, NULL }), 4);
	root = json_tokener_parse(f->out);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "checks", &checks));
	for (size_t i = 0; i < json_object_array_length(checks); i++) {
		json_object *c = json_object_array_get_idx(checks, i);
		const char *id = jstr(c, "id"), *st = jstr(c, "status"), *msg = jstr(c, "message");

		iommu_ok |= streq(id, "iommu") && streq(st, "ok") && strstr(msg, "active");
		irq_ok |= streq(id, "interrupt-remapping") && streq(st, "ok");
		holder_fail |= streq(id, "holders") && streq(st, "fail") && strstr(msg, "pid 4242 sleep");
	}
	assert_true(iommu_ok);
	assert_true(irq_ok);
	assert_true(holder_fail);
	assert_true(json_object_object_get_ex(root, "ready", &ready));
	assert_false(json_object_get_boolean(ready));
	json_object_put(root);
}

/*
 * The exit of a dry run of lab_yaml, whose GPU's card is held (a FAIL, 3). As a user, under
 * --root there is no helper to raise the locked-memory limit, so the memlock FAIL (4) comes
 * first unless the limit already covers the VM's 512 MiB + 1 GiB. Either way the outcome is
 * asserted, with the check that decides it.
 */
static int dry_run_exit(const struct fx *f)
{
	struct rlimit rl;

	if (geteuid() == 0) {
		assert_null(strstr(f->out, "locked memory: limit"));
		return 3;
	}
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (1536ULL << 20)) {
		assert_non_null(strstr(f->out, "locked memory: limit"));
		return 4;
	}
	return 3;
}

static void test_dry_run(void **state)
{
	struct fx *f = *state;
	json_object *root, *argv, *fw;
	char *all = NULL, vars[PATH_MAX + 64];
	size_t len = 0;
	FILE *m;
	int rc;

	write_profile(f, lab_yaml);
	/* The holder of the GPU's card is a FAIL the run would stop on: --dry-run says so in its
	 * checks and exits as the run would (3), and still shows the whole plan. */
	rc = run(f, (const char *const[]){ "--dry-run", "--json", f->profile, NULL });
	assert_int_equal(rc, dry_run_exit(f));
	assert_non_null(strstr(f->out, "holds /dev/dri/card1"));
	root = json_tokener_parse(f->out);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "argv", &argv));
	m = open_memstream(&all, &len);
	for (size_t i = 0; i < json_object_array_length(argv); i++)
		fprintf(m, "%s\n", json_object_get_string(json_object_array_get_idx(argv, i)));
	fclose(m);
	assert_non_null(strstr(all, "vfio-pci,host=0000:01:00.0,id=vmrun-hostdev0,bus=vmrun-rp0,addr=00.0,multifunction=on\n"));
	assert_non_null(strstr(all, "vfio-pci,host=0000:01:00.1,id=vmrun-hostdev1,bus=vmrun-rp0,addr=00.1\n"));
	assert_null(strstr(all, "host=0000:00:01.0")); /* the root port stays on the host */
	assert_non_null(strstr(all, "max,kvm=off,hv-vendor-id=vmrunlab\n"));
	assert_non_null(strstr(all, "-smp\n2,sockets=1,cores=2,threads=1\n"));
	assert_non_null(strstr(all, "readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd\n"));
	/* The VM's own NVRAM, exactly where its state directory is. */
	assert_true(json_object_object_get_ex(root, "firmware", &fw));
	snprintf(vars, sizeof(vars), "%s/lab_VARS.fd", jstr(root, "state_dir"));
	assert_string_equal(jstr(fw, "vars"), vars);
	snprintf(vars, sizeof(vars), "if=pflash,unit=1,format=raw,file=%s/lab_VARS.fd\n",
		 jstr(root, "state_dir"));
	assert_non_null(strstr(all, vars));
	assert_non_null(strstr(all, "usb-host,id=vmrun-usb0,bus=vmrun-xhci.0,vendorid=0x046d,productid=0xc31c\n"));
	free(all);
	json_object_put(root);
	/* Human form names the holder among the checks, and the plan. */
	rc = run(f, (const char *const[]){ "--dry-run", f->profile, NULL });
	assert_int_equal(rc, dry_run_exit(f));
	assert_non_null(strstr(f->out, "passthrough:  0000:01:00.1 Audio device [snd_hda_intel -> vfio-pci]"));
	assert_non_null(strstr(f->out, "FAIL  0000:01:00.0: pid 4242 sleep (user root, unit holder.service) holds /dev/dri/card1"));
}

static void test_dry_run_changes_nothing(void **state)
{
	struct fx *f = *state;
	char home[PATH_MAX], want[PATH_MAX + 64];
	json_object *root;
	const char *dirs[2];
	struct stat st;
	int rc;

	snprintf(home, sizeof(home), "%s/xdg-data", f->root);
	setenv("XDG_DATA_HOME", home, 1);
	write_profile(f, lab_yaml);
	rc = run(f, (const char *const[]){ "--dry-run", "--json", f->profile, NULL });
	assert_int_equal(rc, dry_run_exit(f));
	root = json_tokener_parse(f->out);
	assert_non_null(root);
	dirs[0] = jstr(root, "state_dir");
	dirs[1] = jstr(root, "runtime_dir");
	assert_non_null(dirs[0]);
	assert_non_null(dirs[1]);
	/* Root's directories follow --root; a user's are the XDG ones. Neither is created. */
	if (geteuid() == 0) {
		snprintf(want, sizeof(want), "%s/var/lib/vmrun/lab", f->root);
		assert_string_equal(dirs[0], want);
		snprintf(want, sizeof(want), "%s/run/vmrun/vm/lab", f->root);
		assert_string_equal(dirs[1], want);
	} else {
		snprintf(want, sizeof(want), "%s/vmrun/lab", home);
		assert_string_equal(dirs[0], want);
		if (getenv("XDG_RUNTIME_DIR") && getenv("XDG_RUNTIME_DIR")[0] == '/')
			snprintf(want, sizeof(want), "%s/vmrun/lab", getenv("XDG_RUNTIME_DIR"));
		else
			snprintf(want, sizeof(want), "/run/user/%u/vmrun/lab", (unsigned)geteuid());
		assert_string_equal(dirs[1], want);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(stat(dirs[i], &st), -1);
	assert_int_equal(stat(home, &st), -1);
	snprintf(want, sizeof(want), "%s/var/lib/vmrun", f->root);
	assert_int_equal(stat(want, &st), -1);
	snprintf(want, sizeof(want), "%s/run/vmrun", f->root);
	assert_int_equal(stat(want, &st), -1);
	json_object_put(root);
	unsetenv("XDG_DATA_HOME");
}

/* The run stops where --dry-run said it would, with the same exit, before changing anything. */
static void test_run_refuses_like_dry_run(void **state)
{
	struct fx *f = *state;
	char *before, *after, want[PATH_MAX + 64];
	int dry, rc;

	write_profile(f, lab_yaml);
	dry = run(f, (const char *const[]){ "--dry-run", f->profile, NULL });
	assert_int_equal(dry, dry_run_exit(f));
	before = fk_snapshot(f->root);
	rc = run(f, (const char *const[]){ f->profile, NULL });
	assert_int_equal(rc, dry);
	assert_non_null(strstr(f->err, "holds /dev/dri/card1"));
	assert_non_null(strstr(f->err, "; fix: stop it"));
	assert_null(strstr(f->err, "checks passed"));
	after = fk_snapshot(f->root);
	assert_string_equal(after, before);
	snprintf(want, sizeof(want), "%s/run/vmrun", f->root);
	assert_int_equal(access(want, F_OK), -1);
	free(before);
	free(after);
}

/*
 * Both identities' directories, whoever runs the test (CI runs it as root, developers as
 * themselves): root's follow --root, a user's follow XDG and fall back to ~ and /run/user/UID.
 */
static void test_paths_both_identities(void **state)
{
	struct fx *f = *state;
	struct sysroot *s = NULL;
	char want[PATH_MAX + 64], *got = NULL;
	const char *saved[3] = { getenv("XDG_DATA_HOME"), getenv("XDG_RUNTIME_DIR"), getenv("HOME") };
	char *keep[3];

	for (int i = 0; i < 3; i++)
		keep[i] = saved[i] ? strdup(saved[i]) : NULL;
	assert_int_equal(sysroot_open(f->root, &s), 0);
	snprintf(want, sizeof(want), "%s/var/lib/vmrun/w", f->root);
	assert_int_equal(paths_state_dir(s, "w", 0, &got), 0);
	assert_string_equal(got, want);
	free(got);
	snprintf(want, sizeof(want), "%s/run/vmrun/vm/w", f->root);
	assert_int_equal(paths_runtime_dir(s, "w", 0, &got), 0);
	assert_string_equal(got, want);
	free(got);
	setenv("XDG_DATA_HOME", "/x/data", 1);
	setenv("XDG_RUNTIME_DIR", "/x/run", 1);
	assert_int_equal(paths_state_dir(s, "w", 4242, &got), 0);
	assert_string_equal(got, "/x/data/vmrun/w");
	free(got);
	assert_int_equal(paths_runtime_dir(s, "w", 4242, &got), 0);
	assert_string_equal(got, "/x/run/vmrun/w");
	free(got);
	/* Relative XDG values are ignored, as the spec says. */
	setenv("XDG_DATA_HOME", "rel", 1);
	unsetenv("XDG_RUNTIME_DIR");
	setenv("HOME", "/home/alice", 1);
	assert_int_equal(paths_state_dir(s, "w", 4242, &got), 0);
	assert_string_equal(got, "/home/alice/.local/share/vmrun/w");
	free(got);
	assert_int_equal(paths_runtime_dir(s, "w", 4242, &got), 0);
	assert_string_equal(got, "/run/user/4242/vmrun/w");
	free(got);
	got = (char *)0x1;
	assert_int_equal(paths_state_dir(s, "..", 4242, &got), -EINVAL);
	assert_int_equal(paths_runtime_dir(s, "a/b", 0, &got), -EINVAL);
	assert_ptr_equal(got, (char *)0x1);
	const char *vars[3] = { "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "HOME" };
	for (int i = 0; i < 3; i++) {
		if (keep[i])
			setenv(vars[i], keep[i], 1);
		else
			unsetenv(vars[i]);
		free(keep[i]);
	}
	sysroot_free(s);
}

static void test_bad_profiles(void **state)
{
	struct fx *f = *state;
	char want[PATH_MAX + 64];

	write_profile(f, "name: lab\nmemory: 512M\npci:\n  - address: \"1:00.0\"\n");
	assert_int_equal(run(f, (const char *const[]){ "--dry-run", f->profile, NULL }), 2);
	snprintf(want, sizeof(want), "vmrun: error: %s:4: pci[0].address:", f->profile);
	assert_memory_equal(f->err, want, strlen(want));
	assert_string_equal(f->out, "");
	write_profile(f, "name: lab\nmemory: 512M\nbogus_key: 1\n");
	assert_int_equal(run(f, (const char *const[]){ "check", f->profile, NULL }), 2);
	snprintf(want, sizeof(want), "vmrun: error: %s:3: ", f->profile);
	assert_memory_equal(f->err, want, strlen(want));
	assert_non_null(strstr(f->err, "bogus_key"));
	assert_int_equal(run(f, (const char *const[]){ "--dry-run", "/nonexistent/p.yaml", NULL }), 2);
	assert_non_null(strstr(f->err, "/nonexistent/p.yaml"));
	/* A device that is not on this host: not bad input, the host is not ready; named at its
	 * line, by the run and by --dry-run alike. */
	write_profile(f, "name: lab\nmemory: 512M\npci:\n  - address: \"0000:05:00.0\"\n");
	snprintf(want, sizeof(want), "%s:4: pci[0].address: no PCI device 0000:05:00.0 on this host",
		 f->profile);
	assert_int_equal(run(f, (const char *const[]){ "--dry-run", f->profile, NULL }), 4);
	if (!strstr(f->out, want))
		fail_msg("no '%s' in:\n%s", want, f->out);
	assert_int_equal(run(f, (const char *const[]){ f->profile, NULL }), 4);
	assert_non_null(strstr(f->err, want));
}

/* vmrun new: the one GPU that is not the host's, the host's memory and CPUs, a valid profile. */
static void test_new(void **state)
{
	struct fx *f = *state;
	char out[PATH_MAX], disk[PATH_MAX], dres[PATH_MAX + 64], *before;
	struct vm_profile *p = NULL;
	struct profile_error err;
	struct stat st;

	fake_write(f->root, "proc/meminfo", "MemTotal:       33554432 kB\n");
	fake_write(f->root, "sys/devices/system/cpu/online", "0-15\n");
	fake_write(f->root, "sys/devices/system/cpu/cpu0/topology/thread_siblings_list", "0,8\n");
	snprintf(out, sizeof(out), "%s/new/w.yaml", f->root);
	snprintf(disk, sizeof(disk), "%s/new/w.qcow2", f->root);
	assert_int_equal(run(f, (const char *const[]){ "new", "w", "--output", out, "--disk", disk,
						       "--disk-size", "64M", NULL }), 0);
	assert_non_null(strstr(f->out, "wrote "));
	assert_non_null(strstr(f->out, "GPU:     0000:01:00.0")); /* not the boot VGA 00:02.0 */
	assert_non_null(strstr(f->out, "memory:  16.0 GiB (of the host's 32.0 GiB)"));
	assert_non_null(strstr(f->out, "CPU:     6 cores x 2 threads (of the host's 16 CPUs)"));
	assert_int_equal(profile_load(out, &p, &err), 0);
	assert_int_equal(p->n_pci, 1);
	assert_int_equal(p->pci[0].address.bus, 1);
	assert_true(p->tpm);
	assert_true(p->firmware.secure_boot);
	assert_int_equal(p->memory, 16ULL << 30);
	assert_string_equal(p->disks[0].path, disk);
	assert_int_equal(p->disks[0].interface, VM_DISK_NVME); /* no --drivers: Windows' own NVMe */
	assert_string_equal(p->network.model, "e1000e");
	assert_true(p->hide_kvm);
	profile_free(p);
	assert_int_equal(stat(disk, &st), 0);
	assert_true(st.st_size > 0);
	/* Nothing is overwritten: not the profile, not the disk. */
	before = fk_snapshot(f->root);
	assert_int_equal(run(f, (const char *const[]){ "new", "w", "--output", out, NULL }), 2);
	assert_non_null(strstr(f->err, "exists; it is not overwritten"));
	snprintf(dres, sizeof(dres), "%s/new/w2.yaml", f->root);
	assert_int_equal(run(f, (const char *const[]){ "new", "w2", "--output", dres, "--disk", disk,
						       "--disk-size", "1G", NULL }), 2);
	assert_non_null(strstr(f->err, "exists; it is not overwritten: leave out --disk-size"));
	/* Two GPUs besides the host's: which one is the user's to say. */
	fake_add_dev(f->root, &(struct fake_dev){ "0000:03:00.0", NULL, 0x10de, 0x2204, 0x030000,
						  "nouveau", 7, 0, NULL });
	assert_int_equal(run(f, (const char *const[]){ "new", "w3", "--output", dres, NULL }), 2);
	assert_non_null(strstr(f->err, "several GPUs could go to the VM"));
	assert_non_null(strstr(f->err, "0000:01:00.0"));
	assert_non_null(strstr(f->err, "0000:03:00.0"));
	assert_non_null(strstr(f->err, "--gpu ADDRESS"));
	assert_int_equal(run(f, (const char *const[]){ "new", "w3", "--output", dres, "--gpu",
						       "00:03.0", NULL }), 2);
	assert_non_null(strstr(f->err, "--gpu 00:03.0: not a display device"));
	free(before);
	/* --gpu none, Linux, an existing disk used as it is. */
	assert_int_equal(run(f, (const char *const[]){ "new", "lin", "--os", "linux", "--gpu", "none",
						       "--output", dres, "--disk", disk, "--memory", "2G",
						       "--cores", "3", "--accel", "tcg", NULL }), 0);
	assert_non_null(strstr(f->out, "existing, used as it is"));
	assert_int_equal(profile_load(dres, &p, &err), 0);
	assert_int_equal(p->n_pci, 0);
	assert_false(p->tpm);
	assert_int_equal(p->os, VM_OS_LINUX);
	assert_int_equal(p->accel, VM_ACCEL_TCG);
	assert_int_equal(p->cpu.cores, 3);
	assert_int_equal(p->memory, 2ULL << 30);
	assert_int_equal(p->disks[0].interface, VM_DISK_VIRTIO);
	profile_free(p);
	assert_int_equal(run(f, (const char *const[]){ "new", "x", "--os", "macos", NULL }), 2);
	assert_non_null(strstr(f->err, "--os macos: expected windows11, windows10 or linux"));
}

/* The option parser: each wrong use is refused with exit 2 and a line naming what is wrong. */
static void test_option_errors(void **state)
{
	static const struct { const char *args[6]; const char *err; } bad[] = {
		{ { "gpus", "--dry-run" }, "vmrun: error: option '--dry-run' does not apply to vmrun gpus" },
		{ { "stop", "--timeout", "3", "x" }, "option '--timeout' does not apply to vmrun stop" },
		{ { "--json=yes", "gpus" }, "vmrun: error: option '--json' takes no value" },
		{ { "-x", "gpus" }, "vmrun: error: unknown option '-x'" },
		{ { "--bogus" }, "vmrun: error: unknown option '--bogus'" },
		{ { "detach", "--timeout" }, "option '--timeout' needs a value (SECS)" },
		{ { "detach" }, "detach" },
		{ { "gpus", "01:00.0", "02:00.0" }, "gpus" },
	};
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int rc = run(f, bad[i].args);

		if (rc != 2 || !strstr(f->err, bad[i].err) || f->out[0])
			fail_msg("case %zu: exit %d, stderr \"%s\", stdout \"%s\"; want 2 and \"%s\"", i,
				 rc, f->err, f->out, bad[i].err);
	}
	/* Options go anywhere, short flags combine, and "--" ends them. */
	assert_int_equal(run(f, (const char *const[]){ "gpus", "01:00.0", "--json", NULL }), 0);
	assert_memory_equal(f->out, "{\n  \"gpus\": [", 11);
	assert_int_equal(run(f, (const char *const[]){ "-jv", "gpus", NULL }), 0);
	assert_memory_equal(f->out, "{\n  \"gpus\": [", 11);
	assert_int_equal(run(f, (const char *const[]){ "--", "--dry-run", NULL }), 2);
	assert_non_null(strstr(f->err, "--dry-run"));
	assert_null(strstr(f->err, "unknown option"));
}

static void test_usage(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, (const char *const[]){ "--bogus", NULL }), 2);
	assert_int_equal(run(f, (const char *const[]){ "gpus", "a", "b", NULL }), 2);
	assert_int_equal(run(f, (const char *const[]){ "--help", NULL }), 0);
	assert_non_null(strstr(f->out, "Exit codes:"));
	assert_non_null(strstr(f->out, "  2  bad input"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gpus_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpus_human_and_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_refuses_like_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_both_identities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_profiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_option_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
	};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)argc;
	(void)argv;
	if (n <= 0)
		return 1;
	self[n] = '\0';
	/* build/tests/test_cli -> build/vmrun: the binary of the same build (plain or ASan). */
	snprintf(vmrun, sizeof(vmrun), "%s/../vmrun", dirname(self));
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
