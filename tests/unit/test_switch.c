/* SPDX-License-Identifier: MIT */
/*
 * The GPU hand-over (switch.c, journal.c) against a model of the kernel (fakekernel.c) on fake
 * hosts: a clean round trip, a failure / hang / lost write at every position of detach, attach
 * and restore, refusals that must change nothing, the NVIDIA module stack, tampered journals
 * and the group lock. Every test compares the tree itself (driver links, driver_override,
 * /dev/vfio, loaded modules), not just the status.
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
#include <sys/wait.h>
#include <unistd.h>

#include "fakekernel.h"
#include "fakesys.h"
#include "grouplock.h"
#include "journal.h"
#include "quirks.h"
#include "switch.h"
#include "util.h"
#include "testskip.h"

#define GPU "0000:01:00.0"
#define AUDIO "0000:01:00.1"
#define PORT "0000:00:01.0"

/* Short timeouts: the fake sleeps are free, but each poll still reads the tree. */
static const struct switch_opts O = {
	.write_timeout_ms = 1000, .probe_timeout_ms = 200, .lock_timeout_ms = 500,
};

struct fx {
	char *root;
	struct sysroot *s;
	struct fake_kernel *k;
	struct switch_ctx c;
	char progress[8192];
};

typedef void (*build_fn)(const char *root);

static void on_progress(void *data, const char *msg)
{
	struct fx *f = data;
	size_t len = strlen(f->progress);

	if (len + 2 >= sizeof(f->progress))
		return;
	(void)snprintf(f->progress + len, sizeof(f->progress) - len - 1, "%s", msg);
	strcat(f->progress, "\n");
}

/* A fresh switch_ctx, as a new vmrun process would have it (the state dir reopened). */
static void fx_ctx(struct fx *f)
{
	int fd = -1;

	if (f->c.state_fd >= 0)
		safe_close(f->c.state_fd);
	assert_int_equal(switch_state_open(f->s, true, &fd), 0);
	f->c = (struct switch_ctx){ .s = f->s, .k = &f->k->ops, .state_fd = fd,
				    .progress = on_progress, .progress_data = f };
	f->progress[0] = '\0';
}

static struct fx *fx_new(build_fn build)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->root = fake_root_new();
	build(f->root);
	fk_prepare_root(f->root);
	if (!fk_can_mknod(f->root)) {
		fake_root_free(f->root);
		free(f);
		test_skip("mknod is refused here (not root, or a container): /dev/vfio/<group> cannot be modelled");
	}
	/* This process is the vmrun that switches: alive in the tree's /proc. */
	fake_proc_stat(f->root, (int)getpid(), "vmrun", 5000);
	assert_int_equal(sysroot_open(f->root, &f->s), 0);
	f->k = fk_new(f->root);
	f->c.state_fd = -1;
	fx_ctx(f);
	return f;
}

static void fx_free(struct fx *f)
{
	safe_close(f->c.state_fd);
	sysroot_free(f->s);
	fk_free(f->k);
	fake_root_free(f->root);
	free(f);
}

static struct pci_addr A(const char *s)
{
	struct pci_addr a;

	assert_int_equal(pci_addr_parse(s, &a), 0);
	return a;
}

static enum switch_status detach(struct fx *f, const char *addr, const struct switch_opts *o)
{
	struct pci_addr a = A(addr);

	return switch_detach(&f->c, &a, o);
}

static enum switch_status attach(struct fx *f, const char *addr, const struct switch_opts *o)
{
	struct pci_addr a = A(addr);

	return switch_attach(&f->c, &a, o);
}

static bool has_journal(const struct fx *f, int group)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/run/vmrun/switch/group-%d.json", f->root, group);
	return lstat(p, &st) == 0;
}

static void assert_driver(const struct fx *f, const char *addr, const char *want)
{
	char got[64];

	fk_driver_of(f->k, addr, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("%s: driver '%s', expected '%s'", addr, got, want);
}

/* The raw attribute, newline stripped: "(null)" when cleared. */
static void assert_attr_raw(const struct fx *f, const char *addr, const char *attr,
			    const char *want)
{
	char p[PATH_MAX], buf[128] = "";
	FILE *fp;

	snprintf(p, sizeof(p), "%s/sys/bus/pci/devices/%s/%s", f->root, addr, attr);
	fp = fopen(p, "re");
	assert_non_null(fp);
	if (!fgets(buf, sizeof(buf), fp))
		buf[0] = '\0';
	fclose(fp);
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, want) != 0)
		fail_msg("%s: %s '%s', expected '%s'", addr, attr, buf, want);
}

#define assert_override_raw(f, addr, want) assert_attr_raw(f, addr, "driver_override", want)

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' does not contain '%s'", hay, needle);
}

static void assert_snapshot(const struct fx *f, const char *want, const char *what)
{
	char *now = fk_snapshot(f->root);

	if (strcmp(now, want) != 0) {
		fprintf(stderr, "--- expected (%s)\n%s--- got\n%s--- writes\n%s", what, want, now,
			f->k->wlog);
		free(now);
		fail_msg("%s: the tree differs from the expected state", what);
	}
	free(now);
}

static const char *fault_name(enum fk_fault m)
{
	static const char *const n[] = { "none", "EIO", "hang", "hang-after-effect", "silent" };
	return n[m];
}

/* ---- 1. the round trip ---- */

static void test_round_trip(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root);
	struct journal j = { 0 };

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_driver(f, GPU, "vfio-pci");
	assert_driver(f, AUDIO, "vfio-pci");
	assert_override_raw(f, GPU, "vfio-pci");
	assert_override_raw(f, AUDIO, "vfio-pci");
	assert_true(fk_vfio_node(f->k, 2));
	assert_true(has_journal(f, 2));
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_int_equal(j.op, JOURNAL_DETACH);
	assert_int_equal(j.state, JOURNAL_DONE);
	assert_int_equal(j.pid, getpid());
	assert_int_equal(j.plan.n_devs, 2);
	assert_string_equal(j.plan.devs[0].fn.name, GPU);
	assert_string_equal(j.plan.devs[0].orig_driver, "bochs-drm");
	assert_string_equal(j.plan.devs[1].fn.name, AUDIO);
	assert_string_equal(j.plan.devs[1].orig_driver, "snd_hda_intel");
	assert_int_equal(j.plan.n_modules, 0);
	journal_clear(&j);
	/* override, unbind, probe for each of the two functions; nothing else. */
	assert_int_equal(f->k->writes, 6);
	assert_int_equal(f->k->bad_writes, 0);
	assert_int_equal(f->k->unloads + f->k->loads, 0);
	assert_driver(f, PORT, "pcieport");
	assert_override_raw(f, PORT, "(null)");
	assert_driver(f, "0000:00:02.0", "virtio-pci");
	assert_driver(f, "0000:00:03.0", "e1000e");

	/* Detaching again is a no-op that says so. */
	fk_reset_counters(f->k);
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_int_equal(f->k->writes, 0);
	assert_contains(f->progress, "already detached");

	fk_reset_counters(f->k);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_driver(f, GPU, "bochs-drm");
	assert_driver(f, AUDIO, "snd_hda_intel");
	assert_override_raw(f, GPU, "(null)");
	assert_override_raw(f, AUDIO, "(null)");
	assert_false(fk_vfio_node(f->k, 2));
	assert_false(has_journal(f, 2));
	/* unbind, pin the override, probe, clear the override for each. */
	assert_int_equal(f->k->writes, 8);
	assert_int_equal(f->k->bad_writes, 0);
	assert_driver(f, PORT, "pcieport");
	assert_override_raw(f, PORT, "(null)");
	assert_snapshot(f, before, "after attach");
	assert_null(strstr(f->k->wlog, PORT));
	free(before);
	fx_free(f);
}

static void test_dry_run(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root);
	struct switch_opts o = O;

	(void)state;
	o.dry_run = true;
	assert_int_equal(detach(f, GPU, &o), SW_OK);
	assert_int_equal(f->k->writes + f->k->loads + f->k->unloads, 0);
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "dry run");
	free(before);
	fx_free(f);
}

/* A user's own driver_override is put back as it was, not cleared. */
static void lab_host_with_override(const char *root)
{
	fake_lab_host(root);
	fake_write(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/driver_override",
		   "snd_hda_intel\n");
}

static void test_user_override_kept(void **state)
{
	struct fx *f = fx_new(lab_host_with_override);
	char *before = fk_snapshot(f->root);

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_override_raw(f, AUDIO, "vfio-pci");
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_override_raw(f, AUDIO, "snd_hda_intel");
	assert_snapshot(f, before, "after attach");
	free(before);
	fx_free(f);
}

/* A function with no driver at all (its module not loaded, or none exists) goes back to none. */
static void lab_host_audio_unbound(const char *root)
{
	char p[PATH_MAX];

	fake_lab_host(root);
	snprintf(p, sizeof(p), "%s/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/driver", root);
	if (unlink(p) < 0)
		abort();
}

static void test_unbound_function_round_trip(void **state)
{
	struct fx *f = fx_new(lab_host_audio_unbound);
	char *before = fk_snapshot(f->root);

	(void)state;
	assert_driver(f, AUDIO, "");
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_driver(f, AUDIO, "vfio-pci");
	if (attach(f, GPU, &O) != SW_OK)
		fail_msg("attach: %s", f->c.why);
	assert_driver(f, AUDIO, "");
	assert_driver(f, GPU, "bochs-drm");
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "after attach");
	free(before);
	fx_free(f);
}

/* The audio function already on vfio-pci before vmrun (someone bound it there): not ours. */
static void lab_host_audio_on_vfio(const char *root)
{
	char p[PATH_MAX];

	fake_lab_host(root);
	snprintf(p, sizeof(p), "%s/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/driver", root);
	if (unlink(p) < 0 || symlink("../../../../bus/pci/drivers/vfio-pci", p) < 0)
		abort();
	fake_mkdir(root, "sys/bus/pci/drivers/vfio-pci");
}

/* A member that was on vfio-pci before is journaled as not ours, and a later attach (another
 * vmrun, reading the journal back) leaves it there, untouched. */
static void test_member_already_on_vfio(void **state)
{
	struct fx *f = fx_new(lab_host_audio_on_vfio);
	struct journal j = { 0 };

	(void)state;
	assert_driver(f, AUDIO, "vfio-pci");
	if (detach(f, GPU, &O) != SW_OK)
		fail_msg("detach: %s", f->c.why);
	assert_contains(f->progress, "0000:01:00.1: already on vfio-pci, left alone");
	assert_driver(f, GPU, "vfio-pci");
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_int_equal(j.plan.n_devs, 2);
	assert_true(j.plan.devs[0].ours);
	assert_false(j.plan.devs[1].ours);
	journal_clear(&j);
	fx_ctx(f); /* a new vmrun: only the journal tells what was ours */
	fk_reset_counters(f->k);
	f->k->wlog[0] = '\0';
	if (attach(f, GPU, &O) != SW_OK)
		fail_msg("attach: %s", f->c.why);
	assert_driver(f, GPU, "bochs-drm");
	assert_driver(f, AUDIO, "vfio-pci");
	if (strstr(f->k->wlog, "0000:01:00.1"))
		fail_msg("attach wrote for the function that was not ours:\n%s", f->k->wlog);
	fx_free(f);
}

/* Without a journal (it was lost), attach hands the vfio-pci functions to the kernel's choice. */
static void test_attach_without_journal(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root);

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_int_equal(journal_remove(f->c.state_fd, 2), 0);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_snapshot(f, before, "attach without a journal");
	fx_free(f);
	free(before);
}

/* ---- 2. a failure at every step is rolled back ---- */

static void detach_fails_everywhere(enum fk_fault mode, bool probes_only)
{
	unsigned total;

	{
		struct fx *f = fx_new(fake_lab_host);

		assert_int_equal(detach(f, GPU, &O), SW_OK);
		total = probes_only ? f->k->probes : f->k->writes;
		fx_free(f);
	}
	assert_int_equal(total, probes_only ? 2 : 6);
	for (unsigned n = 1; n <= total; n++) {
		struct fx *f = fx_new(fake_lab_host);
		char *before = fk_snapshot(f->root);
		enum switch_status st;

		if (probes_only)
			fk_fail_probe(f->k, n, mode);
		else
			fk_fail_write(f->k, n, mode);
		st = detach(f, GPU, &O);
		if (st != SW_FAILED || f->k->faults_hit != 1)
			fail_msg("detach, %s at %s %u: status %d (%s)", fault_name(mode),
				 probes_only ? "probe" : "write", n, st, f->c.why);
		assert_contains(f->progress, "rolling back");
		assert_false(has_journal(f, 2));
		assert_int_equal(f->k->bad_writes, 0);
		assert_snapshot(f, before, "after a failed detach");
		free(before);
		fx_free(f);
	}
}

static void test_detach_eio_everywhere(void **state)
{
	(void)state;
	detach_fails_everywhere(FK_EIO, false);
}

static void test_detach_lost_write_everywhere(void **state)
{
	(void)state;
	detach_fails_everywhere(FK_SILENT, false);
}

static void test_detach_probe_binds_nothing(void **state)
{
	(void)state;
	detach_fails_everywhere(FK_SILENT, true);
}

/* The nth write (1-based) of the fake kernel's log went to a path containing part. */
static bool nth_write_is(const struct fx *f, unsigned n, const char *part)
{
	const char *line = f->k->wlog;

	for (unsigned i = 1; line && i < n; i++) {
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	if (!line)
		return false;
	const char *end = strstr(line, " <- ");

	return end && memmem(line, (size_t)(end - line), part, strlen(part));
}

/*
 * A failed attach is NOT rolled back to vfio-pci: the journal stays ("attach", "in-progress"),
 * another attach is refused with NEEDS_RESTORE, and restore finishes the way home.
 */
static void attach_fails_everywhere(enum fk_fault mode)
{
	unsigned total;

	{
		struct fx *f = fx_new(fake_lab_host);

		assert_int_equal(detach(f, GPU, &O), SW_OK);
		fk_reset_counters(f->k);
		assert_int_equal(attach(f, GPU, &O), SW_OK);
		total = f->k->writes;
		fx_free(f);
	}
	assert_int_equal(total, 8);
	for (unsigned n = 1; n <= total; n++) {
		struct fx *f = fx_new(fake_lab_host);
		char *before = fk_snapshot(f->root);
		struct journal j = { 0 };
		enum switch_status st;

		assert_int_equal(detach(f, GPU, &O), SW_OK);
		fk_reset_counters(f->k);
		fk_fail_write(f->k, n, mode);
		st = attach(f, GPU, &O);
		/* A host driver's probe that took nothing is tried once more, straight to the
		 * driver: a lost drivers_probe write is recovered, and the attach is whole. */
		if (mode == FK_SILENT && st == SW_OK && nth_write_is(f, n, "drivers_probe")) {
			assert_contains(f->progress, "no driver took it; binding it to");
			assert_snapshot(f, before, "after an attach whose probe was retried");
			free(before);
			fx_free(f);
			continue;
		}
		/* Not rolled back: the journal waits for restore, and the status says so. */
		if (st != SW_NEEDS_RESTORE || f->k->faults_hit != 1)
			fail_msg("attach, %s at write %u: status %d (%s)\n%s", fault_name(mode), n, st,
				 f->c.why, f->k->wlog);
		assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
		assert_int_equal(j.op, JOURNAL_ATTACH);
		assert_int_equal(j.state, JOURNAL_IN_PROGRESS);
		journal_clear(&j);
		fk_reset_counters(f->k);
		assert_int_equal(attach(f, GPU, &O), SW_NEEDS_RESTORE);
		assert_int_equal(f->k->writes, 0);
		if (switch_restore(&f->c, 2, &O) != SW_OK)
			fail_msg("restore after attach %s at %u: %s", fault_name(mode), n, f->c.why);
		assert_false(has_journal(f, 2));
		assert_snapshot(f, before, "after restore");
		free(before);
		fx_free(f);
	}
}

static void test_attach_eio_everywhere(void **state)
{
	(void)state;
	attach_fails_everywhere(FK_EIO);
}

static void test_attach_lost_write_everywhere(void **state)
{
	(void)state;
	attach_fails_everywhere(FK_SILENT);
}

/* ---- 3. a hang keeps the journal; a later vmrun must restore ---- */

static pid_t dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void test_hang_then_restore(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root);
	struct journal j = { 0 };
	pid_t gone;

	(void)state;
	fk_fail_write(f->k, 3, FK_HANG); /* the GPU's drivers_probe */
	assert_int_equal(detach(f, GPU, &O), SW_STUCK);
	assert_int_equal(f->c.stuck_pid, 4242);
	assert_contains(f->c.why, "4242");
	assert_contains(f->c.why, "drivers_probe");
	/* Not rolled back: the GPU is off its driver, pinned to vfio-pci, and journaled. */
	assert_driver(f, GPU, "");
	assert_override_raw(f, GPU, "vfio-pci");
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_int_equal(j.op, JOURNAL_DETACH);
	assert_int_equal(j.state, JOURNAL_IN_PROGRESS);

	/* The vmrun that wrote it is gone; a new one comes along. */
	gone = dead_pid();
	j.pid = gone;
	assert_int_equal(journal_write(f->c.state_fd, &j), 0);
	journal_clear(&j);
	fx_ctx(f);
	fk_reset_counters(f->k);
	/* Another user's interrupted switch is not taken back unasked. */
	f->c.owner = 1000;
	assert_int_equal(detach(f, GPU, &O), SW_NEEDS_RESTORE);
	assert_contains(f->c.why, "interrupted");
	assert_null(strstr(f->c.why, "still alive"));
	assert_int_equal(f->k->writes, 0);
	f->c.owner = 0;

	assert_int_equal(switch_restore(&f->c, 2, &O), SW_OK);
	assert_false(has_journal(f, 2));
	assert_driver(f, GPU, "bochs-drm");
	assert_driver(f, AUDIO, "snd_hda_intel");
	assert_snapshot(f, before, "after restore");

	/* Idempotent: nothing left to do, nothing written. */
	fk_reset_counters(f->k);
	assert_int_equal(switch_restore(&f->c, 2, &O), SW_OK);
	assert_int_equal(switch_restore(&f->c, -1, &O), SW_OK);
	assert_int_equal(f->k->writes, 0);
	assert_snapshot(f, before, "after a second restore");
	free(before);
	fx_free(f);
}

/* ---- 4. killed after any write: restore always brings the group home ---- */

static void crash_everywhere(bool during_attach, enum fk_fault mode)
{
	unsigned total = during_attach ? 8 : 6;

	for (unsigned n = 1; n <= total; n++) {
		struct fx *f = fx_new(fake_lab_host);
		char *before = fk_snapshot(f->root);
		enum switch_status st;

		if (during_attach) {
			assert_int_equal(detach(f, GPU, &O), SW_OK);
			fk_reset_counters(f->k);
		}
		fk_fail_write(f->k, n, mode);
		st = during_attach ? attach(f, GPU, &O) : detach(f, GPU, &O);
		if (st != SW_STUCK)
			fail_msg("%s, %s at write %u: status %d (%s)", during_attach ? "attach" : "detach",
				 fault_name(mode), n, st, f->c.why);
		assert_true(has_journal(f, 2));
		fx_ctx(f);
		if (switch_restore(&f->c, -1, &O) != SW_OK)
			fail_msg("restore after %s at write %u (%s): %s", during_attach ? "attach" :
				 "detach", n, fault_name(mode), f->c.why);
		assert_false(has_journal(f, 2));
		assert_override_raw(f, GPU, "(null)");
		assert_override_raw(f, AUDIO, "(null)");
		assert_snapshot(f, before, "after restore");
		free(before);
		fx_free(f);
	}
}

static void test_crash_during_detach(void **state)
{
	(void)state;
	crash_everywhere(false, FK_HANG);
	crash_everywhere(false, FK_HANG_DONE);
}

static void test_crash_during_attach(void **state)
{
	(void)state;
	crash_everywhere(true, FK_HANG);
	crash_everywhere(true, FK_HANG_DONE);
}

/* One function's driver refusing it does not keep the others from going home. */
static void test_attach_goes_on_after_one_failure(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root), path[PATH_MAX], cmd[2 * PATH_MAX + 32];

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	/* snd_hda_intel is gone meanwhile: the audio function cannot go back. */
	snprintf(path, sizeof(path), "%s/sys/bus/pci/drivers/snd_hda_intel", f->root);
	snprintf(cmd, sizeof(cmd), "mv '%s' '%s.gone'", path, path);
	assert_int_equal(system(cmd), 0);
	fx_ctx(f);
	assert_int_equal(attach(f, GPU, &O), SW_NEEDS_RESTORE);
	assert_contains(f->c.why, AUDIO);
	assert_contains(f->c.why, "expected snd_hda_intel");
	assert_contains(f->progress, "no driver took it; binding it to snd_hda_intel again");
	assert_driver(f, GPU, "bochs-drm"); /* the GPU went home all the same */
	assert_driver(f, AUDIO, "");
	assert_true(has_journal(f, 2));
	snprintf(cmd, sizeof(cmd), "mv '%s.gone' '%s'", path, path);
	assert_int_equal(system(cmd), 0);
	fx_ctx(f);
	assert_int_equal(switch_restore(&f->c, 2, &O), SW_OK);
	assert_snapshot(f, before, "after the restore");
	assert_false(has_journal(f, 2));
	free(before);
	fx_free(f);
}

/* A dry-run restore of an interrupted switch says what it would do and changes nothing. */
static void test_restore_dry_run(void **state)
{
	struct switch_opts dry = O;

	(void)state;
	dry.dry_run = true;
	for (unsigned n = 1; n <= 4; n++) {
		struct fx *f = fx_new(fake_lab_host);
		char *before = fk_snapshot(f->root), *stuck;

		fk_fail_write(f->k, n, FK_HANG_DONE);
		assert_int_equal(detach(f, GPU, &O), SW_STUCK);
		fk_clear_faults(f->k);
		stuck = fk_snapshot(f->root);
		fk_reset_counters(f->k);
		assert_int_equal(switch_restore(&f->c, 2, &dry), SW_OK);
		assert_contains(f->progress, "IOMMU group 2: would restore from the journal");
		assert_int_equal(f->k->writes, 0);
		assert_snapshot(f, stuck, "after restore --dry-run");
		assert_true(has_journal(f, 2));
		assert_int_equal(switch_restore(&f->c, 2, &O), SW_OK);
		assert_snapshot(f, before, "after the real restore");
		free(stuck);
		free(before);
		fx_free(f);
	}
}

/* A restore that is itself interrupted at any write can be restored again. */
static void test_crash_during_restore(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= 6; n++)
		for (unsigned m = 1;; m++) {
			struct fx *f = fx_new(fake_lab_host);
			char *before = fk_snapshot(f->root);
			enum switch_status st;
			bool done;

			fk_fail_write(f->k, n, FK_HANG_DONE);
			assert_int_equal(detach(f, GPU, &O), SW_STUCK);
			fk_reset_counters(f->k);
			fk_fail_write(f->k, m, FK_HANG_DONE);
			st = switch_restore(&f->c, 2, &O);
			done = f->k->faults_hit == 0; /* restore needed fewer than m writes */
			if (done ? st != SW_OK : st != SW_STUCK)
				fail_msg("detach hang at %u, restore hang at %u: status %d (%s)", n, m, st,
					 f->c.why);
			fk_clear_faults(f->k);
			if (switch_restore(&f->c, 2, &O) != SW_OK)
				fail_msg("second restore (detach %u, restore %u): %s", n, m, f->c.why);
			assert_false(has_journal(f, 2));
			assert_snapshot(f, before, "after the second restore");
			free(before);
			fx_free(f);
			if (done)
				break;
		}
}

/* ---- 5. refusals change nothing ---- */

static void expect_nothing_changed(struct fx *f, const char *before)
{
	assert_int_equal(f->k->writes, 0);
	assert_int_equal(f->k->loads + f->k->unloads, 0);
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "after a refusal");
}

static void expect_refusal(build_fn build, const char *addr, const struct switch_opts *o,
			   enum switch_status want, const char *const *why)
{
	struct fx *f = fx_new(build);
	char *before = fk_snapshot(f->root);
	enum switch_status st = detach(f, addr, o);

	if (st != want)
		fail_msg("%s: status %d, expected %d (%s)", addr, st, want, f->c.why);
	for (size_t i = 0; why && why[i]; i++)
		assert_contains(f->c.why, why[i]);
	expect_nothing_changed(f, before);
	free(before);
	fx_free(f);
}

static void host_xorg_on_card1(const char *root)
{
	fake_lab_host(root);
	fake_add_proc(root, 812, "Xorg", 0, "0::/system.slice/display-manager.service\n",
		      (const char *const[]){ "/dev/null", "/dev/dri/card1", NULL });
}

static void host_nic_in_group(const char *root)
{
	fake_lab_host(root);
	fake_add_dev(root, &(struct fake_dev){ "0000:01:01.0", PORT, 0x8086, 0x10d3, 0x020000,
					       "e1000e", 2, -1, NULL });
}

static void host_nvme_in_group(const char *root)
{
	fake_lab_host(root);
	fake_add_dev(root, &(struct fake_dev){ "0000:01:01.0", PORT, 0x144d, 0xa808, 0x010802,
					       "nvme", 2, -1, NULL });
}

static void host_virtio_net_in_group(const char *root)
{
	fake_lab_host(root);
	fake_add_dev(root, &(struct fake_dev){ "0000:01:01.0", PORT, 0x1af4, 0x1041, 0x020000,
					       "virtio-pci", 2, -1, NULL });
}

static void host_sriov(const char *root)
{
	fake_lab_host(root);
	fake_write(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/sriov_numvfs", "2\n");
}

static void host_sriov_one(const char *root)
{
	fake_lab_host(root);
	fake_write(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/sriov_numvfs", "1\n");
}

static void host_sriov_none(const char *root)
{
	fake_lab_host(root);
	fake_write(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/sriov_numvfs", "0\n");
}

static void host_d3cold(const char *root)
{
	fake_lab_host(root);
	fake_write(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/power_state", "D3cold\n");
}

static void host_gpu_without_group(const char *root)
{
	fake_lab_host(root);
	fake_add_dev(root, &(struct fake_dev){ "0000:00:04.0", NULL, 0x1234, 0x1111, 0x030000,
					       "bochs-drm", -1, 0, NULL });
}

static void host_fbcon(const char *root)
{
	fake_lab_host(root);
	fake_add_devchild(root, GPU, "graphics/fb0");
	fake_write(root, "sys/class/vtconsole/vtcon0/name", "(S) dummy device\n");
	fake_write(root, "sys/class/vtconsole/vtcon0/bind", "0\n");
	fake_write(root, "sys/class/vtconsole/vtcon1/name", "(M) frame buffer device\n");
	fake_write(root, "sys/class/vtconsole/vtcon1/bind", "1\n");
}

static void host_fbcon_unbound(const char *root)
{
	host_fbcon(root);
	fake_write(root, "sys/class/vtconsole/vtcon1/bind", "0\n");
}

static void host_pipewire(const char *root)
{
	fake_lab_host(root);
	fake_add_proc(root, 200, "pipewire", 1000,
		      "0::/user.slice/user-1000.slice/user@1000.service/session.slice/pipewire.service\n",
		      (const char *const[]){ "/dev/snd/pcmC0D3p", "socket:[123]", NULL });
}

static void test_refuse_holder(void **state)
{
	(void)state;
	expect_refusal(host_xorg_on_card1, GPU, &O, SW_HELD,
		       (const char *const[]){ "pid 812", "Xorg", "/dev/dri/card1", NULL });
}

static void test_refuse_non_gpu_member(void **state)
{
	struct switch_opts allow = O;

	(void)state;
	expect_refusal(host_nic_in_group, GPU, &O, SW_REFUSED,
		       (const char *const[]){ "0000:01:01.0", "e1000e", NULL });
	allow.allow_non_gpu = true;
	expect_refusal(host_nvme_in_group, GPU, &allow, SW_REFUSED,
		       (const char *const[]){ "0000:01:01.0", "storage", NULL });
	expect_refusal(host_virtio_net_in_group, GPU, &allow, SW_REFUSED,
		       (const char *const[]){ "0000:01:01.0", "virtio", NULL });
}

static void test_allow_non_gpu(void **state)
{
	struct fx *f = fx_new(host_nic_in_group);
	char *before = fk_snapshot(f->root);
	struct switch_opts allow = O;

	(void)state;
	allow.allow_non_gpu = true;
	assert_int_equal(detach(f, GPU, &allow), SW_OK);
	assert_driver(f, "0000:01:01.0", "vfio-pci");
	assert_driver(f, GPU, "vfio-pci");
	assert_int_equal(attach(f, GPU, &allow), SW_OK);
	assert_driver(f, "0000:01:01.0", "e1000e");
	assert_snapshot(f, before, "after attach");
	free(before);
	fx_free(f);
}

static void test_refuse_device_state(void **state)
{
	(void)state;
	expect_refusal(host_sriov, GPU, &O, SW_REFUSED,
		       (const char *const[]){ GPU, "SR-IOV", NULL });
	expect_refusal(host_sriov_one, GPU, &O, SW_REFUSED,
		       (const char *const[]){ GPU, "1 SR-IOV", NULL });
	expect_refusal(host_d3cold, GPU, &O, SW_REFUSED,
		       (const char *const[]){ AUDIO, "D3cold", NULL });
	expect_refusal(fake_lab_host, "0000:00:03.0", &O, SW_REFUSED,
		       (const char *const[]){ "not a display device", NULL });
	expect_refusal(host_gpu_without_group, "0000:00:04.0", &O, SW_REFUSED,
		       (const char *const[]){ "no IOMMU group", NULL });
	expect_refusal(fake_lab_host, "0000:05:00.0", &O, SW_BAD_INPUT,
		       (const char *const[]){ "0000:05:00.0", NULL });
	expect_refusal(host_fbcon, GPU, &O, SW_REFUSED,
		       (const char *const[]){ "drives the text console (fbcon on /dev/fb0)",
					      "no other framebuffer can take it", "fbcon=map:", NULL });
}

/* The counterparts: what must NOT be refused. */
static void test_not_refused(void **state)
{
	build_fn ok[] = { host_pipewire, host_fbcon_unbound, host_sriov_none };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct fx *f = fx_new(ok[i]);

		if (detach(f, GPU, &O) != SW_OK)
			fail_msg("case %zu: %s", i, f->c.why);
		assert_driver(f, GPU, "vfio-pci");
		assert_driver(f, AUDIO, "vfio-pci");
		if (i == 0) {
			assert_contains(f->progress, "pipewire");
			assert_contains(f->progress, "ignoring");
		}
		fx_free(f);
	}
}

/* Attach refuses while a VM has the group open; nothing moves. */
static void test_attach_refused_while_vm_runs(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *detached;

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	detached = fk_snapshot(f->root);
	fake_add_proc(f->root, 4000, "qemu-system-x86", 0, "0::/machine.slice/vm.scope\n",
		      (const char *const[]){ "/dev/vfio/vfio", "/dev/vfio/2", NULL });
	fk_reset_counters(f->k);
	assert_int_equal(attach(f, GPU, &O), SW_HELD);
	assert_contains(f->c.why, "pid 4000");
	assert_contains(f->c.why, "/dev/vfio/2");
	assert_int_equal(f->k->writes, 0);
	assert_snapshot(f, detached, "after a refused attach");
	free(detached);
	fx_free(f);
}

/* ---- 6. NVIDIA: the module stack ---- */

static void add_nvidia_gpu(const char *root, const char *port, const char *gpu, const char *audio,
			   int group)
{
	fake_add_dev(root, &(struct fake_dev){ port, NULL, 0x8086, 0xa70d, 0x060400, "pcieport",
					       group, -1, NULL });
	fake_add_dev(root, &(struct fake_dev){ gpu, port, 0x10de, 0x2204, 0x030000, "nvidia", group,
					       0, "flr bus" });
	if (audio)
		fake_add_dev(root, &(struct fake_dev){ audio, port, 0x10de, 0x1aef, 0x040300,
						       "snd_hda_intel", group, -1, "flr bus" });
}

static const char *const nvidia_nodes[] = { "dev/nvidia0", "dev/nvidiactl", "dev/nvidia-modeset",
					    "dev/nvidia-uvm", "dev/nvidia-uvm-tools" };

static void nvidia_host(const char *root)
{
	static const char *const mods[] = { "nvidia", "nvidia_modeset", "nvidia_uvm", "nvidia_drm",
					    "snd_hda_intel" };

	fake_add_dev(root, &(struct fake_dev){ "0000:00:02.0", NULL, 0x1af4, 0x1050, 0x030000,
					       "virtio-pci", 1, 1, NULL });
	add_nvidia_gpu(root, PORT, GPU, AUDIO, 2);
	fake_add_devchild(root, AUDIO, "sound/card1/controlC1");
	for (size_t i = 0; i < ARRAY_SIZE(mods); i++) {
		char p[64];

		snprintf(p, sizeof(p), "sys/module/%s", mods[i]);
		fake_mkdir(root, p);
	}
	fake_write(root, "proc/driver/nvidia/gpus/0000:01:00.0/information", "Device Minor: \t 0\n");
	/* The NVIDIA driver's nodes have no sysfs links: they are only in /dev. */
	for (size_t i = 0; i < ARRAY_SIZE(nvidia_nodes); i++)
		fake_write(root, nvidia_nodes[i], "");
	fake_write(root, "proc/sys/kernel/osrelease", "6.1.0-fake\n");
	fake_write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
}

static void two_nvidia_host(const char *root)
{
	nvidia_host(root);
	add_nvidia_gpu(root, "0000:00:1c.0", "0000:02:00.0", NULL, 3);
}

static void nvidia_persistenced(const char *root)
{
	nvidia_host(root);
	fake_add_proc(root, 900, "nvidia-persiste", 0,
		      "0::/system.slice/nvidia-persistenced.service\n",
		      (const char *const[]){ "/dev/nvidiactl", "/dev/nvidia0", NULL });
}

static void two_nvidia_persistenced(const char *root)
{
	two_nvidia_host(root);
	fake_add_proc(root, 900, "nvidia-persiste", 0,
		      "0::/system.slice/nvidia-persistenced.service\n",
		      (const char *const[]){ "/dev/nvidiactl", NULL });
}

/* Module -> driver and dependencies as in the NVIDIA packages. */
static struct fx *nvidia_fx(build_fn build)
{
	struct fx *f = fx_new(build);

	fk_module_provides(f->k, "nvidia", "nvidia");
	fk_module_depends(f->k, "nvidia_modeset", "nvidia");
	fk_module_depends(f->k, "nvidia_uvm", "nvidia");
	fk_module_depends(f->k, "nvidia_drm", "nvidia_modeset");
	fk_module_depends(f->k, "nvidia_drm", "nvidia");
	return f;
}

static const char *const nv_stack[] = { "nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia" };

static void assert_stack_loaded(const struct fx *f, bool loaded)
{
	for (size_t i = 0; i < ARRAY_SIZE(nv_stack); i++)
		if (fk_module_loaded(f->k, nv_stack[i]) != loaded)
			fail_msg("module %s is %s", nv_stack[i], loaded ? "not loaded" : "loaded");
}

static void test_nvidia_single(void **state)
{
	struct fx *f = nvidia_fx(nvidia_host);
	char *before = fk_snapshot(f->root);
	struct journal j = { 0 };

	(void)state;
	if (detach(f, GPU, &O) != SW_OK)
		fail_msg("detach: %s", f->c.why);
	assert_string_equal(f->k->modlog, "-nvidia_drm -nvidia_modeset -nvidia_uvm -nvidia");
	assert_stack_loaded(f, false);
	assert_driver(f, GPU, "vfio-pci");
	assert_driver(f, AUDIO, "vfio-pci");
	assert_true(fk_vfio_node(f->k, 2));
	/* The GPU lost its driver with the module: override + probe only; 3 for the audio. */
	assert_int_equal(f->k->writes, 5);
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_int_equal(j.plan.n_modules, 4);
	assert_string_equal(j.plan.modules[3], "nvidia");
	journal_clear(&j);

	fk_reset_counters(f->k);
	if (attach(f, GPU, &O) != SW_OK)
		fail_msg("attach: %s", f->c.why);
	assert_string_equal(f->k->modlog, "+nvidia +nvidia_uvm +nvidia_modeset +nvidia_drm");
	assert_driver(f, GPU, "nvidia");
	assert_driver(f, AUDIO, "snd_hda_intel");
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "after attach");
	free(before);
	fx_free(f);
}

static void test_nvidia_two_gpus(void **state)
{
	build_fn builds[] = { two_nvidia_host, two_nvidia_persistenced };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(builds); i++) {
		struct fx *f = nvidia_fx(builds[i]);
		char *before = fk_snapshot(f->root);

		/* The other GPU still needs the driver: nothing is unloaded, so nvidiactl is fine. */
		if (detach(f, GPU, &O) != SW_OK)
			fail_msg("case %zu: detach: %s", i, f->c.why);
		assert_int_equal(f->k->unloads, 0);
		assert_stack_loaded(f, true);
		assert_driver(f, GPU, "vfio-pci");
		assert_driver(f, "0000:02:00.0", "nvidia");
		assert_int_equal(attach(f, GPU, &O), SW_OK);
		assert_int_equal(f->k->loads, 0);
		assert_snapshot(f, before, "after attach");
		free(before);
		fx_free(f);
	}
}

/* nvidia-persistenced alone keeps the stack busy: it is stopped, the modules go, and on the
 * way back it is started once the modules and the GPU are back. */
static void test_nvidia_persistenced_stopped(void **state)
{
	struct fx *f = nvidia_fx(nvidia_persistenced);

	(void)state;
	if (detach(f, GPU, &O) != SW_OK)
		fail_msg("detach: %s", f->c.why);
	assert_string_equal(f->k->svclog, "stop nvidia-persistenced.service");
	assert_contains(f->progress, "note: pid 900");
	assert_true(f->k->unloads > 0);
	assert_stack_loaded(f, false);
	assert_driver(f, GPU, "vfio-pci");
	fx_ctx(f);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_stack_loaded(f, true);
	assert_driver(f, GPU, "nvidia");
	assert_string_equal(f->k->svclog, "stop nvidia-persistenced.service, start nvidia-persistenced.service");
	/* Started after the modules came back: the last line of the way back. */
	assert_non_null(strstr(strstr(f->progress, "reloaded module"), "started nvidia-persistenced.service again"));
	fx_free(f);
}

/* Another program on /dev/nvidiactl (not a service vmrun may stop): the modules cannot go, so the
 * detach is refused, naming it, with nothing changed. */
static void nvidia_smi_holds_ctl(const char *root)
{
	nvidia_host(root);
	fake_add_proc(root, 901, "nvidia-smi", 1000, "0::/user.slice/user-1000.slice/session-2.scope\n",
		      (const char *const[]){ "/dev/nvidiactl", NULL });
}

static void test_nvidia_ctl_holder_blocks(void **state)
{
	struct fx *f = nvidia_fx(nvidia_smi_holds_ctl);
	char *before = fk_snapshot(f->root);

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_HELD);
	assert_contains(f->c.why, "pid 901");
	assert_contains(f->c.why, "/dev/nvidiactl");
	assert_int_equal(f->k->writes, 0);
	assert_int_equal(f->k->unloads, 0);
	assert_string_equal(f->k->svclog, "");
	assert_snapshot(f, before, "after a refused detach");
	free(before);
	fx_free(f);
}

/* An unload failing at any module of the stack: what was unloaded is reloaded, GPU back. */
static void test_nvidia_unload_fails(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= 4; n++) {
		struct fx *f = nvidia_fx(nvidia_host);
		char *before = fk_snapshot(f->root);

		fk_fail_unload(f->k, n, -EBUSY);
		assert_int_equal(detach(f, GPU, &O), SW_FAILED);
		assert_contains(f->c.why, nv_stack[n - 1]);
		assert_int_equal(f->k->loads, n - 1);
		assert_int_equal(f->k->writes, 0);
		assert_stack_loaded(f, true);
		assert_driver(f, GPU, "nvidia");
		assert_false(has_journal(f, 2));
		assert_snapshot(f, before, "after a failed unload");
		free(before);
		fx_free(f);
	}
	/* The same from the model itself: a module the plan does not know still uses nvidia. */
	{
		struct fx *f = nvidia_fx(nvidia_host);
		char *before;

		fake_mkdir(f->root, "sys/module/nvidia_peermem");
		fk_module_depends(f->k, "nvidia_peermem", "nvidia");
		before = fk_snapshot(f->root);
		assert_int_equal(detach(f, GPU, &O), SW_FAILED);
		assert_contains(f->c.why, "unloading nvidia failed");
		assert_snapshot(f, before, "after nvidia refused to unload");
		free(before);
		fx_free(f);
	}
}

/* The rollback's reload fails too: the journal is kept, and restore finishes the job. */
static void test_nvidia_reload_fails(void **state)
{
	struct fx *f = nvidia_fx(nvidia_host);
	char *before = fk_snapshot(f->root);
	struct journal j = { 0 };

	(void)state;
	fk_fail_unload(f->k, 4, -EBUSY);
	fk_fail_load(f->k, 1, -EIO);
	assert_int_equal(detach(f, GPU, &O), SW_NEEDS_RESTORE);
	assert_contains(f->c.why, "rollback failed too");
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_int_equal(j.state, JOURNAL_IN_PROGRESS);
	assert_int_equal(j.plan.n_modules, 3);
	journal_clear(&j);
	fk_clear_faults(f->k);
	assert_int_equal(switch_restore(&f->c, 2, &O), SW_OK);
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "after restore");
	free(before);
	fx_free(f);
}

/* Every write of an NVIDIA detach failing, then hanging: rolled back / restored, modules too. */
static void test_nvidia_fails_everywhere(void **state)
{
	(void)state;
	for (int hang = 0; hang < 2; hang++)
		for (unsigned n = 1; n <= 5; n++) {
			struct fx *f = nvidia_fx(nvidia_host);
			char *before = fk_snapshot(f->root);
			enum switch_status st;

			fk_fail_write(f->k, n, hang ? FK_HANG_DONE : FK_EIO);
			st = detach(f, GPU, &O);
			if (st != (hang ? SW_STUCK : SW_FAILED))
				fail_msg("%s at write %u: status %d (%s)", hang ? "hang" : "EIO", n, st,
					 f->c.why);
			if (hang && switch_restore(&f->c, 2, &O) != SW_OK)
				fail_msg("restore after a hang at write %u: %s", n, f->c.why);
			assert_false(has_journal(f, 2));
			assert_stack_loaded(f, true);
			assert_snapshot(f, before, "after rollback or restore");
			free(before);
			fx_free(f);
		}
}

/* ---- 7. tampered journals ---- */

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "re");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

static void spit(const char *path, const char *text)
{
	FILE *fp = fopen(path, "we");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Replace the first `from` in the journal with `to`; the replacement must happen. */
static void tamper(const struct fx *f, const char *from, const char *to)
{
	char p[PATH_MAX], *text, *hit, *out;

	snprintf(p, sizeof(p), "%s/run/vmrun/switch/group-2.json", f->root);
	text = slurp(p);
	hit = strstr(text, from);
	if (!hit)
		fail_msg("'%s' not in the journal:\n%s", from, text);
	out = calloc(1, strlen(text) + strlen(to) + 1);
	assert_non_null(out);
	memcpy(out, text, (size_t)(hit - text));
	strcat(out, to);
	strcat(out, hit + strlen(from));
	spit(p, out);
	free(text);
	free(out);
}

enum tampering { T_ADDRESS, T_DRIVER_SLASH, T_DRIVER_DOTDOT, T_GROUP, T_OVERSIZED, T_SYMLINK,
		 T_OWNER, T_NOT_JSON, T_MODULE, T_COUNT };

static int apply_tampering(const struct fx *f, enum tampering t)
{
	char p[PATH_MAX], q[PATH_MAX];

	snprintf(p, sizeof(p), "%s/run/vmrun/switch/group-2.json", f->root);
	switch (t) {
	case T_ADDRESS:
		tamper(f, "\"0000:01:00.1\"", "\"0000:zz:00.1\"");
		return -EBADMSG;
	case T_DRIVER_SLASH:
		tamper(f, "\"bochs-drm\"", "\"../../../../bin\"");
		return -EBADMSG;
	case T_DRIVER_DOTDOT:
		tamper(f, "\"snd_hda_intel\"", "\"..\"");
		return -EBADMSG;
	case T_GROUP:
		tamper(f, "\"group\":2", "\"group\":3");
		return -EBADMSG;
	case T_MODULE:
		tamper(f, "\"modules_unloaded\":[", "\"modules_unloaded\":[ \"ext4/../x\"");
		return -EBADMSG;
	case T_NOT_JSON:
		tamper(f, "{", "{{");
		return -EBADMSG;
	case T_OVERSIZED: {
		/* Still valid JSON: only the size check can refuse it. */
		char *text = slurp(p), *big = calloc(1, strlen(text) + JOURNAL_MAX_SIZE + 2);

		assert_non_null(big);
		strcpy(big, text);
		memset(big + strlen(text), ' ', JOURNAL_MAX_SIZE);
		spit(p, big);
		free(text);
		free(big);
		return -EBADMSG;
	}
	case T_SYMLINK:
		snprintf(q, sizeof(q), "%s/run/vmrun/switch/elsewhere.json", f->root);
		assert_int_equal(rename(p, q), 0);
		assert_int_equal(symlink("elsewhere.json", p), 0);
		return -ELOOP;
	case T_OWNER:
		assert_int_equal(chown(p, 1000, 1000), 0);
		return geteuid() == 1000 ? 0 : -EBADMSG;
	case T_COUNT:
		break;
	}
	return 0;
}

static void test_journal_tampered(void **state)
{
	(void)state;
	for (int t = 0; t < T_COUNT; t++) {
		struct fx *f = fx_new(fake_lab_host);
		struct journal j = { 0 };
		char *detached;
		int want;

		assert_int_equal(detach(f, GPU, &O), SW_OK);
		want = apply_tampering(f, (enum tampering)t);
		detached = fk_snapshot(f->root);
		fk_reset_counters(f->k);
		if (journal_read(f->c.state_fd, 2, &j) != want)
			fail_msg("tampering %d: journal_read did not return %d", t, want);
		assert_int_equal(switch_restore(&f->c, 2, &O), SW_FAILED);
		assert_contains(f->c.why, "unreadable or invalid");
		assert_int_equal(attach(f, GPU, &O), SW_FAILED);
		assert_int_equal(switch_restore(&f->c, -1, &O), SW_FAILED);
		assert_int_equal(f->k->writes + f->k->loads + f->k->unloads, 0);
		assert_snapshot(f, detached, "after refusing a tampered journal");
		free(detached);
		fx_free(f);
	}
}

/* A journal in a directory others could write is never trusted: the state dir is refused. */
/* Only the user a group was detached for, or root, gives it back or shares it. */
static void test_owner(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root);
	struct journal j = { 0 };

	(void)state;
	f->c.owner = 1000;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_int_equal(j.owner, 1000);
	journal_clear(&j);
	fx_ctx(f);
	f->c.owner = 2000;
	assert_int_equal(attach(f, GPU, &O), SW_REFUSED);
	assert_contains(f->c.why, "detached for another user (uid 1000)");
	assert_int_equal(switch_restore(&f->c, 2, &O), SW_REFUSED);
	assert_int_equal(detach(f, GPU, &O), SW_HELD);
	assert_contains(f->c.why, "another user's VM (uid 1000)");
	assert_driver(f, GPU, "vfio-pci");
	assert_driver(f, AUDIO, "vfio-pci");
	fx_ctx(f);
	f->c.owner = 1000;
	assert_int_equal(detach(f, GPU, &O), SW_OK); /* already theirs */
	assert_true(f->c.already);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_snapshot(f, before, "after the owner's attach");
	/* Root gives back anyone's group. */
	fx_ctx(f);
	f->c.owner = 1000;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	fx_ctx(f);
	f->c.owner = 0;
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_snapshot(f, before, "after root's attach");
	free(before);
	fx_free(f);
}

/* ---- the text console on the GPU: moved to the host GPU's framebuffer and back ---- */

/* fbcon on the GPU's fb0 (it probed first), and the host GPU's framebuffer fb2. */
static void host_fbcon_movable(const char *root)
{
	host_fbcon(root);
	fake_add_devchild(root, "0000:00:02.0", "graphics/fb2");
}

static bool all_consoles_on(const struct fx *f, int fb, unsigned from, unsigned to)
{
	for (unsigned c = from; c <= to; c++)
		if (f->k->con2fb[c] != fb)
			return false;
	return true;
}

static void test_console_moved_and_back(void **state)
{
	struct fx *f = fx_new(host_fbcon_movable);
	char *before = fk_snapshot(f->root);
	struct journal j = { 0 };

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_contains(f->progress, "text consoles 1-63 moved from fb0 (0000:01:00.0) to fb2 (0000:00:02.0)");
	assert_true(all_consoles_on(f, 2, 1, 63));
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_true(j.plan.console.moved);
	assert_int_equal(j.plan.console.n, 63);
	assert_string_equal(j.plan.console.from_dev, "0000:01:00.0");
	journal_clear(&j);
	/* Moved before the GPU's driver let go: the first change of the switch. */
	assert_int_equal(f->k->writes > 0, true);
	fx_ctx(f); /* a new vmrun gives it back: only the journal tells */
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_contains(f->progress, "text consoles 1-63 back on fb0 (0000:01:00.0)");
	assert_true(all_consoles_on(f, 0, 1, 63));
	assert_snapshot(f, before, "after the console went and came back");
	free(before);
	fx_free(f);
}

/* A user's check cannot open /dev/fb*: the kernel's default map (all on fb0) is assumed, not
 * "cannot tell" (which refused the user unit's run in the systemd lab). */
static void test_console_map_unreadable(void **state)
{
	struct fx *f = fx_new(host_fbcon_movable);
	struct pci_addr gpu = A(GPU);
	struct switch_plan p;

	(void)state;
	f->k->con2fb_get_err = -EACCES;
	assert_int_equal(switch_plan_detach(&f->c, &gpu, &O, &p), SW_OK);
	assert_true(p.console.needed);
	assert_int_equal(p.console.n, 63);
	assert_int_equal(p.console.to_fb, 2);
	switch_plan_clear(&p);
	f->k->con2fb_get_err = -EIO; /* any other failure: the safety check cannot look */
	assert_int_equal(switch_plan_detach(&f->c, &gpu, &O, &p), SW_REFUSED);
	assert_contains(f->c.why, "cannot tell whether 0000:01:00.0 drives the text console");
	switch_plan_clear(&p);
	fx_free(f);
}

/* Only the consoles on the GPU move (fbcon=map: put 7-63 on the host GPU already). */
static void test_console_only_those_on_the_gpu(void **state)
{
	struct fx *f = fx_new(host_fbcon_movable);

	(void)state;
	for (unsigned c = 7; c <= 63; c++)
		f->k->con2fb[c] = 2;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_contains(f->progress, "text consoles 1-6 moved from fb0");
	assert_int_equal(f->k->con2fb_sets, 6);
	assert_true(all_consoles_on(f, 2, 1, 63));
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_true(all_consoles_on(f, 0, 1, 6));
	assert_true(all_consoles_on(f, 2, 7, 63));
	fx_free(f);
}

/* A console that will not move fails the detach, which is rolled back whole; a crash after the
 * move is undone by restore; a GPU that comes back without a framebuffer leaves them moved. */
static void test_console_failures(void **state)
{
	struct fx *f = fx_new(host_fbcon_movable);
	char *before = fk_snapshot(f->root);
	char path[PATH_MAX];

	(void)state;
	f->k->con2fb_set_err = -EBUSY;
	assert_int_equal(detach(f, GPU, &O), SW_FAILED);
	assert_contains(f->c.why, "moving the text console off 0000:01:00.0: console 1 would not move to fb2");
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "after a console that would not move");
	f->k->con2fb_set_err = 0;

	fx_ctx(f);
	fk_reset_counters(f->k);
	fk_fail_write(f->k, 3, FK_HANG);
	assert_int_equal(detach(f, GPU, &O), SW_STUCK);
	assert_true(all_consoles_on(f, 2, 1, 63));
	fx_ctx(f);
	assert_int_equal(switch_restore(&f->c, 2, &O), SW_OK);
	assert_true(all_consoles_on(f, 0, 1, 63));
	assert_snapshot(f, before, "after restore");

	/* The GPU's framebuffer comes back under another number: found by its device. */
	fx_ctx(f);
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	snprintf(path, sizeof(path), "%s/sys/class/graphics/fb0", f->root);
	assert_int_equal(unlink(path), 0);
	fx_ctx(f);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_contains(f->progress, "text consoles 1-63 back on fb1 (0000:01:00.0)");
	assert_true(all_consoles_on(f, 1, 1, 63));
	/* ... or with none at all: the consoles stay where they are, and it is said. */
	fx_ctx(f);
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_contains(f->progress, "text consoles 1-63 moved from fb1 (0000:01:00.0) to fb2");
	snprintf(path, sizeof(path), "%s/sys/class/graphics/fb1", f->root);
	assert_int_equal(unlink(path), 0);
	fx_ctx(f);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_contains(f->progress, "text consoles 1-63 stay on fb2: 0000:01:00.0 has no framebuffer now");
	assert_true(all_consoles_on(f, 2, 1, 63));
	free(before);
	fx_free(f);
}

/* ---- a vendor service holding the GPU: stopped for the switch, started again ---- */

static void host_persistenced(const char *root)
{
	fake_lab_host(root);
	fake_add_proc(root, 300, "nvidia-persiste", 0, "0::/system.slice/nvidia-persistenced.service\n",
		      (const char *const[]){ "/dev/dri/card1", NULL });
}

static void host_persistenced_and_xorg(const char *root)
{
	host_persistenced(root);
	fake_add_proc(root, 812, "Xorg", 0, "0::/system.slice/display-manager.service\n",
		      (const char *const[]){ "/dev/dri/card1", NULL });
}

/* alice's own unit of that name (systemd-run --user --unit=nvidia-persistenced ...). */
static void host_user_persistenced(const char *root)
{
	fake_lab_host(root);
	fake_add_proc(root, 4100, "sleep", 1000,
		      "0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
		      "nvidia-persistenced.service\n",
		      (const char *const[]){ "/dev/dri/card1", NULL });
}

/* A user's process in a unit named like the vendor service is a holder like any other: named,
 * refused, and no system unit is stopped or started for it. */
static void test_user_unit_is_no_service(void **state)
{
	struct fx *f = fx_new(host_user_persistenced);
	char *before = fk_snapshot(f->root);

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_HELD);
	assert_contains(f->c.why, "pid 4100 sleep");
	assert_string_equal(f->k->svclog, "");
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "after a user's unit named nvidia-persistenced.service");
	free(before);
	fx_free(f);
}

static void test_service_stopped_and_started(void **state)
{
	struct fx *f = fx_new(host_persistenced);
	struct journal j = { 0 };

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_string_equal(f->k->svclog, "stop nvidia-persistenced.service");
	assert_contains(f->progress, "stopped nvidia-persistenced.service (it held the GPU)");
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_int_equal(j.plan.n_services, 1);
	assert_true(j.plan.services_stopped);
	journal_clear(&j);
	fx_ctx(f);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_string_equal(f->k->svclog, "stop nvidia-persistenced.service, start nvidia-persistenced.service");
	assert_contains(f->progress, "started nvidia-persistenced.service again");
	fx_free(f);
}

static void test_service_failures(void **state)
{
	struct fx *f = fx_new(host_persistenced);
	char *before = fk_snapshot(f->root);
	struct journal j = { 0 };

	(void)state;
	/* It stops, but its process stays: refused, rolled back, and started again. */
	f->k->service_keeps = true;
	assert_int_equal(detach(f, GPU, &O), SW_HELD);
	assert_contains(f->c.why, "nvidia-persistenced.service was stopped, but its pid 300 still holds the GPU");
	assert_string_equal(f->k->svclog, "stop nvidia-persistenced.service, start nvidia-persistenced.service");
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "after a service that would not let go");
	/* Another holder as well: refused for that one alone, and nothing is stopped. */
	fx_free(f);
	f = fx_new(host_persistenced_and_xorg);
	assert_int_equal(detach(f, GPU, &O), SW_HELD);
	assert_contains(f->c.why, "pid 812 Xorg");
	assert_null(strstr(f->c.why, "nvidia-persiste"));
	assert_string_equal(f->k->svclog, "");
	/* A journal naming any other unit is not one of ours: nothing would start it as root. */
	fx_free(f);
	f = fx_new(host_persistenced);
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	snprintf(j.plan.services[0], sizeof(j.plan.services[0]), "evil.service");
	assert_int_equal(journal_write(f->c.state_fd, &j), 0);
	journal_clear(&j);
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), -EBADMSG);
	free(before);
	fx_free(f);
}

/* ---- what a dead vmrun left: taken back by the next command, unasked ---- */

/* A journal as a run (holder) left it: detached for a run, and the run is gone (or not). */
static void left_by_run(struct fx *f, pid_t holder, uint64_t holder_start, uid_t owner)
{
	struct switch_opts run = O;
	struct journal j = { 0 };

	run.for_run = true;
	f->c.owner = owner;
	assert_int_equal(detach(f, GPU, &run), SW_OK);
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_true(j.for_run);
	assert_int_equal(j.holder, getpid());
	assert_int_equal(j.holder_start, 5000); /* read from /proc/PID/stat */
	j.holder = holder;
	j.holder_start = holder_start;
	assert_int_equal(journal_write(f->c.state_fd, &j), 0);
	journal_clear(&j);
	fx_ctx(f);
	fk_reset_counters(f->k);
}

static void test_stale_run_healed_by_next_detach(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root);
	struct journal j = { 0 };

	(void)state;
	left_by_run(f, dead_pid(), 0, 1000);
	f->c.owner = 1000;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_false(f->c.already);
	assert_contains(f->progress, "was never given back (that vmrun is gone): giving it back first");
	assert_driver(f, GPU, "vfio-pci");
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_int_equal(j.holder, getpid()); /* this caller's now */
	assert_false(j.for_run);
	journal_clear(&j);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_snapshot(f, before, "after the heal, a fresh detach and an attach");
	free(before);
	fx_free(f);
}

static void test_stale_run_not_healed_when_alive_or_not_ours(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root);

	(void)state;
	/* The run is alive: its group is its own; nothing is written. */
	fake_proc_stat(f->root, 4321, "vmrun", 777);
	left_by_run(f, 4321, 777, 1000);
	f->c.owner = 1000;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_true(f->c.already);
	assert_int_equal(f->k->writes, 0);
	/* ... and restore leaves a running VM's group alone. */
	fx_ctx(f);
	assert_int_equal(switch_restore(&f->c, 2, &O), SW_BUSY);
	assert_contains(f->c.why, "belongs to a running VM (vmrun pid 4321)");
	assert_int_equal(f->k->writes, 0);
	/* The same pid, another process (its start time differs): the run is gone. */
	fake_proc_stat(f->root, 4321, "bash", 999);
	fx_ctx(f);
	f->c.owner = 2000; /* but not another user's to take */
	assert_int_equal(detach(f, GPU, &O), SW_HELD);
	assert_contains(f->c.why, "another user's VM (uid 1000)");
	assert_int_equal(f->k->writes, 0);
	fx_ctx(f);
	f->c.owner = 0; /* root's restore now gives it back */
	assert_int_equal(switch_restore(&f->c, 2, &O), SW_OK);
	assert_snapshot(f, before, "after root's restore of a dead run's group");
	free(before);
	fx_free(f);
}

/* A manual `vmrun detach` stays detached after its process is gone: that is what it is for. */
static void test_manual_detach_is_not_stale(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	struct journal j = { 0 };

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_false(j.for_run);
	j.holder = dead_pid();
	assert_int_equal(journal_write(f->c.state_fd, &j), 0);
	journal_clear(&j);
	fx_ctx(f);
	fk_reset_counters(f->k);
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_true(f->c.already);
	assert_int_equal(f->k->writes, 0);
	fx_free(f);
}

/* An attach finds an interrupted attach of a vmrun that died: it finishes it. */
static void test_interrupted_attach_finished_by_next_attach(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root);
	struct journal j = { 0 };

	(void)state;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	fk_reset_counters(f->k);
	fk_fail_write(f->k, 2, FK_HANG);
	assert_int_equal(attach(f, GPU, &O), SW_STUCK);
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_int_equal(j.state, JOURNAL_IN_PROGRESS);
	/* While its vmrun lives, it is its to finish. */
	fx_ctx(f);
	fk_reset_counters(f->k);
	assert_int_equal(attach(f, GPU, &O), SW_NEEDS_RESTORE);
	assert_contains(f->c.why, "(it is still alive)");
	j.pid = j.holder = dead_pid();
	assert_int_equal(journal_write(f->c.state_fd, &j), 0);
	journal_clear(&j);
	fx_ctx(f);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_contains(f->progress, "was interrupted (that vmrun is gone): finishing it");
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "after the next attach finished it");
	free(before);
	fx_free(f);
}

/* The guard's restore takes back only what its run left. */
static void test_restore_only_holder(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root);
	struct switch_opts only = O;
	pid_t gone = dead_pid();

	(void)state;
	left_by_run(f, gone, 0, 0);
	only.only_holder = gone + 100000 > 4194304 ? 1 : gone + 100000;
	assert_int_equal(switch_restore(&f->c, 2, &only), SW_OK);
	assert_contains(f->progress, "not pid");
	assert_true(has_journal(f, 2));
	assert_driver(f, GPU, "vfio-pci");
	only.only_holder = gone;
	assert_int_equal(switch_restore(&f->c, 2, &only), SW_OK);
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "after the holder's restore");
	free(before);
	fx_free(f);
}

/* A kept group (pci[N].after): on vfio-pci after its run, however the run ends; the owner's next
 * run uses it as it is, unless a VM has it open; attach gives it back. */
static void test_kept_between_runs(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root), *kept;
	struct switch_opts run = O, only = O;
	struct journal j = { 0 };

	(void)state;
	run.for_run = true;
	run.keep = true;
	f->c.owner = 1000;
	assert_int_equal(detach(f, GPU, &run), SW_OK);
	assert_false(f->c.already);
	assert_driver(f, GPU, "vfio-pci");
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_true(j.kept);
	assert_false(j.for_run); /* not the run's to give back, so never stale */
	j.holder = dead_pid();
	assert_int_equal(journal_write(f->c.state_fd, &j), 0);
	/* The run died: its guard's restore leaves a kept group where it is. */
	fx_ctx(f);
	only.only_holder = j.holder;
	assert_int_equal(switch_restore(&f->c, 2, &only), SW_OK);
	assert_contains(f->progress, "kept on vfio-pci between runs: left there");
	assert_driver(f, GPU, "vfio-pci");
	journal_clear(&j);
	kept = fk_snapshot(f->root);
	/* The next run (the profile now says nothing) uses it: nothing is written. */
	fx_ctx(f);
	f->c.owner = 1000;
	fk_reset_counters(f->k);
	run.keep = false;
	assert_int_equal(detach(f, GPU, &run), SW_OK);
	assert_true(f->c.already);
	assert_true(f->c.kept);
	assert_contains(f->progress, "kept on vfio-pci between runs: using it as it is");
	assert_int_equal(f->k->writes, 0);
	/* Another user's run does not get it. */
	fx_ctx(f);
	f->c.owner = 2000;
	assert_int_equal(detach(f, GPU, &run), SW_HELD);
	assert_contains(f->c.why, "another user's VM (uid 1000)");
	/* A VM has it open: the next run is refused, naming it. */
	fake_add_proc(f->root, 4000, "qemu-system-x86", 0, "0::/machine.slice/vm.scope\n",
		      (const char *const[]){ "/dev/vfio/vfio", "/dev/vfio/2", NULL });
	fx_ctx(f);
	f->c.owner = 1000;
	assert_int_equal(detach(f, GPU, &run), SW_HELD);
	assert_contains(f->c.why, "pid 4000");
	assert_int_equal(f->k->writes, 0);
	assert_snapshot(f, kept, "after runs that used the kept group or were refused it");
	fake_remove_proc(f->root, 4000);
	/* The owner's attach gives it back. */
	fx_ctx(f);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_false(has_journal(f, 2));
	assert_snapshot(f, before, "after the kept group was given back");
	free(kept);
	free(before);
	fx_free(f);
}

/* ---- vendor-reset: reset_method device_specific for the run ---- */

static void amd_host(const char *root)
{
	fake_add_dev(root, &(struct fake_dev){ "0000:00:02.0", NULL, 0x1af4, 0x1050, 0x030000,
					       "virtio-pci", 1, 1, NULL });
	fake_add_dev(root, &(struct fake_dev){ PORT, NULL, 0x1022, 0x1483, 0x060400, "pcieport", 2,
					       -1, NULL });
	fake_add_dev(root, &(struct fake_dev){ GPU, PORT, 0x1002, 0x67df, 0x030000, "amdgpu", 2, 0,
					       "bus" });
	fake_add_dev(root, &(struct fake_dev){ AUDIO, PORT, 0x1002, 0xaaf0, 0x040300,
					       "snd_hda_intel", 2, -1, "flr bus" });
	fake_add_devchild(root, GPU, "drm/card1");
	fake_write(root, "proc/sys/kernel/osrelease", "6.1.0-fake\n");
	fake_mkdir(root, "dev");
	fake_write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
}

static void amd_vendor_reset_host(const char *root)
{
	amd_host(root);
	fake_mkdir(root, "sys/module/vendor_reset");
}

static const struct switch_dev *journal_dev(const struct journal *j, const char *addr)
{
	for (size_t i = 0; i < j->plan.n_devs; i++)
		if (strcmp(j->plan.devs[i].fn.name, addr) == 0)
			return &j->plan.devs[i];
	static const struct switch_dev none;

	fail_msg("%s is not in the journal", addr);
	return &none;
}

/* Which drivers cannot take a GPU back, on which kernels. */
static void test_keep_quirks(void **state)
{
	const char *why = NULL;

	(void)state;
	assert_true(quirk_keep_on_vfio("amdgpu", "5.10.0-26-amd64", &why));
	assert_non_null(strstr(why, "before Linux 5.14"));
	assert_false(quirk_keep_on_vfio("amdgpu", "5.14.0", NULL));
	assert_false(quirk_keep_on_vfio("amdgpu", "6.1.0-13-amd64", NULL));
	assert_false(quirk_keep_on_vfio("amdgpu", "weird", NULL)); /* not kept by guesswork */
	assert_true(quirk_keep_on_vfio("radeon", "6.1.0", NULL));
	assert_false(quirk_keep_on_vfio("nvidia", "4.19.0", NULL));
	assert_false(quirk_keep_on_vfio(NULL, "4.19.0", NULL));
	assert_true(quirk_stoppable_unit("nvidia-persistenced.service"));
	assert_false(quirk_stoppable_unit("display-manager.service"));
}

static void test_vendor_reset(void **state)
{
	struct fx *f = fx_new(amd_vendor_reset_host);
	char *before = fk_snapshot(f->root);
	struct journal j = { 0 };

	(void)state;
	f->k->vendor_reset = true;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_attr_raw(f, GPU, "reset_method", "device_specific");
	assert_attr_raw(f, AUDIO, "reset_method", "flr bus"); /* only the GPU's */
	assert_contains(f->progress, "reset by vendor-reset while the VM has it");
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_true(journal_dev(&j, GPU)->reset_set);
	assert_string_equal(journal_dev(&j, GPU)->orig_reset, "bus");
	assert_false(journal_dev(&j, AUDIO)->reset_set);
	journal_clear(&j);
	/* Restore, as after a crash, reads it from the journal and puts it back. */
	fx_ctx(f);
	assert_int_equal(switch_restore(&f->c, 2, &O), SW_OK);
	assert_attr_raw(f, GPU, "reset_method", "bus");
	assert_snapshot(f, before, "after the vendor-reset run's restore");

	/* The kernel does not take it (vendor-reset does not know this card): the run goes on
	 * with the kernel's own reset, and nothing is left to put back. */
	fx_ctx(f);
	f->k->vendor_reset = false;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_contains(f->progress, "did not take device_specific for reset_method");
	assert_attr_raw(f, GPU, "reset_method", "bus");
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_false(journal_dev(&j, GPU)->reset_set);
	journal_clear(&j);
	fx_ctx(f);
	assert_int_equal(attach(f, GPU, &O), SW_OK);
	assert_snapshot(f, before, "after a refused device_specific");
	free(before);
	fx_free(f);

	/* Without vendor-reset, reset_method is never written; nor for another vendor's GPU. */
	f = fx_new(amd_host);
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_null(strstr(f->k->wlog, "reset_method"));
	fx_free(f);
	f = fx_new(fake_lab_host);
	fake_mkdir(f->root, "sys/module/vendor_reset");
	f->k->vendor_reset = true;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	assert_null(strstr(f->k->wlog, "reset_method"));
	fx_free(f);
}

/* The one table of statuses: each name round-trips and exits as the README documents. */
static void test_status_exits(void **state)
{
	static const struct { enum switch_status st; const char *name; int exit; } want[] = {
		{ SW_OK, "ok", 0 },           { SW_HELD, "held", 3 },
		{ SW_REFUSED, "refused", 4 }, { SW_NEEDS_RESTORE, "needs-restore", 5 },
		{ SW_FAILED, "failed", 1 },   { SW_STUCK, "stuck", 5 },
		{ SW_BUSY, "busy", 3 },       { SW_BAD_INPUT, "bad-input", 2 },
	};
	enum switch_status st;

	(void)state;
	assert_int_equal(ARRAY_SIZE(want), SW_STATUS_MAX + 1);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_string_equal(switch_status_name(want[i].st), want[i].name);
		assert_int_equal(switch_status_exit(want[i].st), want[i].exit);
		assert_int_equal(switch_status_parse(want[i].name, &st), 0);
		assert_int_equal(st, want[i].st);
	}
	assert_int_equal(switch_status_parse("OK", &st), -EINVAL);
	assert_int_equal(switch_status_exit((enum switch_status)99), 1);
}

static void test_state_dir_checked(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char p[PATH_MAX];
	int fd = -1;

	(void)state;
	snprintf(p, sizeof(p), "%s/run/vmrun/switch", f->root);
	assert_int_equal(chmod(p, 0770), 0);
	assert_int_equal(switch_state_open(f->s, true, &fd), -EPERM);
	assert_int_equal(chmod(p, 0700), 0);
	assert_int_equal(chown(p, 1000, 0), 0);
	assert_int_equal(switch_state_open(f->s, true, &fd), -EPERM);
	assert_int_equal(fd, -1);
	fx_free(f);
}

/* ---- 8. the group lock ---- */

static void test_lock_busy(void **state)
{
	struct fx *f = fx_new(fake_lab_host);
	char *before = fk_snapshot(f->root);
	struct switch_opts o = O;
	int lock = -1;

	(void)state;
	o.lock_timeout_ms = 100;
	assert_int_equal(group_lock(f->c.state_fd, 2, 0, &lock), 0);
	assert_int_equal(detach(f, GPU, &o), SW_BUSY);
	assert_contains(f->c.why, "IOMMU group 2");
	assert_int_equal(attach(f, GPU, &o), SW_BUSY);
	assert_int_equal(switch_restore(&f->c, 2, &o), SW_BUSY);
	expect_nothing_changed(f, before);
	safe_close(lock);
	/* Released: the same call goes through. */
	assert_int_equal(detach(f, GPU, &o), SW_OK);
	free(before);
	fx_free(f);
}

/* Root's restore of every journal: a group that is busy (a running VM's, or locked by a switch
 * in progress) does not keep the others from being restored; the busy one is the answer. */
static void test_restore_all_past_busy(void **state)
{
	struct fx *f = nvidia_fx(two_nvidia_host);
	struct switch_opts o = O;
	int lock = -1;

	(void)state;
	o.lock_timeout_ms = 100;
	assert_int_equal(detach(f, GPU, &O), SW_OK);
	fx_ctx(f);
	assert_int_equal(detach(f, "0000:02:00.0", &O), SW_OK);
	assert_true(has_journal(f, 2) && has_journal(f, 3));
	fx_ctx(f);
	assert_int_equal(group_lock(f->c.state_fd, 2, 0, &lock), 0);
	assert_int_equal(switch_restore(&f->c, -1, &o), SW_BUSY);
	assert_contains(f->c.why, "IOMMU group 2");
	assert_false(has_journal(f, 3)); /* restored although group 2 came first and was busy */
	assert_driver(f, "0000:02:00.0", "nvidia");
	assert_true(has_journal(f, 2));
	assert_driver(f, GPU, "vfio-pci");
	safe_close(lock);
	fx_ctx(f);
	assert_int_equal(switch_restore(&f->c, -1, &o), SW_OK);
	assert_false(has_journal(f, 2));
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_user_override_kept),
		cmocka_unit_test(test_unbound_function_round_trip),
		cmocka_unit_test(test_attach_without_journal),
		cmocka_unit_test(test_member_already_on_vfio),
		cmocka_unit_test(test_detach_eio_everywhere),
		cmocka_unit_test(test_detach_lost_write_everywhere),
		cmocka_unit_test(test_detach_probe_binds_nothing),
		cmocka_unit_test(test_attach_eio_everywhere),
		cmocka_unit_test(test_attach_lost_write_everywhere),
		cmocka_unit_test(test_hang_then_restore),
		cmocka_unit_test(test_crash_during_detach),
		cmocka_unit_test(test_crash_during_attach),
		cmocka_unit_test(test_crash_during_restore),
		cmocka_unit_test(test_refuse_holder),
		cmocka_unit_test(test_refuse_non_gpu_member),
		cmocka_unit_test(test_allow_non_gpu),
		cmocka_unit_test(test_refuse_device_state),
		cmocka_unit_test(test_not_refused),
		cmocka_unit_test(test_attach_refused_while_vm_runs),
		cmocka_unit_test(test_nvidia_single),
		cmocka_unit_test(test_nvidia_two_gpus),
		cmocka_unit_test(test_nvidia_persistenced_stopped),
		cmocka_unit_test(test_nvidia_ctl_holder_blocks),
		cmocka_unit_test(test_nvidia_unload_fails),
		cmocka_unit_test(test_nvidia_reload_fails),
		cmocka_unit_test(test_nvidia_fails_everywhere),
		cmocka_unit_test(test_journal_tampered),
		cmocka_unit_test(test_state_dir_checked),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_restore_dry_run),
		cmocka_unit_test(test_attach_goes_on_after_one_failure),
		cmocka_unit_test(test_console_moved_and_back),
		cmocka_unit_test(test_console_only_those_on_the_gpu),
		cmocka_unit_test(test_console_map_unreadable),
		cmocka_unit_test(test_console_failures),
		cmocka_unit_test(test_service_stopped_and_started),
		cmocka_unit_test(test_user_unit_is_no_service),
		cmocka_unit_test(test_service_failures),
		cmocka_unit_test(test_stale_run_healed_by_next_detach),
		cmocka_unit_test(test_stale_run_not_healed_when_alive_or_not_ours),
		cmocka_unit_test(test_manual_detach_is_not_stale),
		cmocka_unit_test(test_interrupted_attach_finished_by_next_attach),
		cmocka_unit_test(test_restore_only_holder),
		cmocka_unit_test(test_kept_between_runs),
		cmocka_unit_test(test_vendor_reset),
		cmocka_unit_test(test_keep_quirks),
		cmocka_unit_test(test_status_exits),
		cmocka_unit_test(test_lock_busy),
		cmocka_unit_test(test_restore_all_past_busy),
	};
	return cmocka_run_group_tests_name("switch", tests, NULL, NULL);
}
