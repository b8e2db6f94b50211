/* SPDX-License-Identifier: MIT */
/*
 * The desktop's hold on a GPU (desktop.c, deskhold.c, swdesk.c, loginenv.c) on fake hosts
 * with a model of the kernel: Wayland compositors, logind and PID 1's fd store named for what
 * they are, with their own fixes; --release asking a compositor to let go, waiting, offering
 * the card back; never a compositor's primary GPU, never another user's desktop; and the next
 * login read from its configuration. Every switch test compares the tree itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakekernel.h"
#include "fakesys.h"
#include "holders.h"
#include "journal.h"
#include "loginenv.h"
#include "switch.h"
#include "testskip.h"
#include "util.h"

#define GPU "0000:01:00.0"
#define AUDIO "0000:01:00.1"
#define KWIN 960
#define LOGIND 402

static const struct switch_opts O = {
	.write_timeout_ms = 1000, .probe_timeout_ms = 200, .lock_timeout_ms = 500,
	.release_timeout_ms = 500,
};

struct fx {
	char *root;
	struct sysroot *s;
	struct fake_kernel *k;
	struct switch_ctx c;
	char progress[8192];
};

static void on_progress(void *data, const char *msg)
{
	struct fx *f = data;
	size_t len = strlen(f->progress);

	if (len + strlen(msg) + 2 < sizeof(f->progress))
		snprintf(f->progress + len, sizeof(f->progress) - len, "%s\n", msg);
}

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr(hay, needle))                                                          \
			fail_msg("missing '%s' in:\n%s", needle, hay);                             \
	} while (0)
#define assert_lacks(hay, needle)                                                                  \
	do {                                                                                       \
		if (strstr(hay, needle))                                                           \
			fail_msg("unexpected '%s' in:\n%s", needle, hay);                          \
	} while (0)

/* A process's environment, NUL-separated as /proc/PID/environ has it. */
static void write_environ(const char *root, int pid, const char *const *vars)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/%d/environ", root, pid);
	f = fopen(path, "we");
	assert_non_null(f);
	for (size_t i = 0; vars[i]; i++)
		fwrite(vars[i], 1, strlen(vars[i]) + 1, f);
	fclose(f);
}

/* logind's record of a session, as /run/systemd/sessions/ID. */
static void write_session(const char *root, const char *id, unsigned uid, const char *user,
			  const char *devices)
{
	char path[64], text[512];

	snprintf(path, sizeof(path), "run/systemd/sessions/%s", id);
	snprintf(text, sizeof(text), "# This is private data. Do not parse.\nUID=%u\nUSER=%s\n"
		 "ACTIVE=1\nSTATE=active\nTYPE=wayland\nSEAT=seat0\nVTNR=2\nDEVICES=%s\n", uid, user,
		 devices);
	fake_write(root, path, text);
}

/*
 * The lab's host with a desktop: KWin in alice's session 3 on seat0 holding both cards (the
 * host's card0 and the passthrough card1) through logind, which keeps a copy of each, and PID
 * 1 one more in logind's fd store.
 */
static void desk_host(const char *root, const char *comm, unsigned uid, const char *user)
{
	char cgroup[128];

	fake_lab_host(root);
	snprintf(cgroup, sizeof(cgroup), "0::/user.slice/user-%u.slice/session-3.scope\n", uid);
	fake_add_proc(root, KWIN, comm, uid, cgroup,
		      (const char *const[]){ "/dev/dri/card0", "/dev/dri/card1", NULL });
	fake_add_proc(root, LOGIND, "systemd-logind", 0, "0::/system.slice/systemd-logind.service\n",
		      (const char *const[]){ "/dev/dri/card0", "/dev/dri/card1", NULL });
	fake_add_proc(root, 1, "systemd", 0, "0::/init.scope\n",
		      (const char *const[]){ "/dev/dri/card0", "/dev/dri/card1", NULL });
	write_session(root, "3", uid, user, "226:0 226:1 13:64");
	write_environ(root, KWIN, (const char *const[]){ "XDG_SESSION_ID=3", "HOME=/home/alice", NULL });
	/* Its monitor on the passthrough card. */
	fake_write(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card1/card1-Virtual-1/status",
		   "connected\n");
	fake_symlink(root, "sys/class/drm/card1-Virtual-1",
		     "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card1/card1-Virtual-1");
}

static void kwin_host(const char *root)
{
	desk_host(root, "kwin_wayland", 1000, "alice");
}

static struct fx *fx_new(void (*build)(const char *root))
{
	struct fx *f = calloc(1, sizeof(*f));
	int fd = -1;

	assert_non_null(f);
	f->root = fake_root_new();
	build(f->root);
	fk_prepare_root(f->root);
	if (!fk_can_mknod(f->root)) {
		fake_root_free(f->root);
		free(f);
		test_skip("mknod is refused here (not root, or a container): /dev/vfio/<group> cannot be modelled");
	}
	fake_proc_stat(f->root, (int)getpid(), "vmrun", 5000);
	assert_int_equal(sysroot_open(f->root, &f->s), 0);
	f->k = fk_new(f->root);
	/* The desktop's processes let go of a card on its udev remove. */
	f->k->desk_pids[0] = KWIN;
	f->k->desk_pids[1] = LOGIND;
	f->k->desk_pids[2] = 1;
	assert_int_equal(switch_state_open(f->s, true, &fd), 0);
	f->c = (struct switch_ctx){ .s = f->s, .k = &f->k->ops, .state_fd = fd,
				    .progress = on_progress, .progress_data = f };
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

static enum switch_status detach(struct fx *f, const struct switch_opts *o)
{
	struct pci_addr a;

	assert_int_equal(pci_addr_parse(GPU, &a), 0);
	return switch_detach(&f->c, &a, o);
}

static enum switch_status attach(struct fx *f)
{
	struct pci_addr a;

	assert_int_equal(pci_addr_parse(GPU, &a), 0);
	return switch_attach(&f->c, &a, &O);
}

static void assert_driver(const struct fx *f, const char *addr, const char *want)
{
	char got[64];

	fk_driver_of(f->k, addr, got, sizeof(got));
	assert_string_equal(got, want);
}

static bool has_journal(const struct fx *f)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/run/vmrun/switch/group-2.json", f->root);
	return lstat(p, &st) == 0;
}

static void assert_unchanged(struct fx *f, const char *before)
{
	char *now = fk_snapshot(f->root);

	if (strcmp(now, before) != 0)
		fail_msg("the tree changed:\n%s\n--- writes\n%s", now, f->k->wlog);
	free(now);
	assert_false(has_journal(f));
}

/* Does pid still have an fd of /dev/dri/CARD in the tree? */
static bool holds(const struct fx *f, int pid, const char *card)
{
	char dir[PATH_MAX], want[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/proc/%d/fd", f->root, pid);
	snprintf(want, sizeof(want), "%s/dev/dri/%s", f->root, card);
	for (int fd = 3; fd < 8; fd++) {
		char link[PATH_MAX + 8], t[PATH_MAX];
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%d", dir, fd);
		n = readlink(link, t, sizeof(t) - 1);
		if (n > 0 && (t[n] = '\0', strcmp(t, want) == 0))
			return true;
	}
	return false;
}

/* ---- naming the desktop's holders ---- */

static void test_holders_named(void **state)
{
	struct fx *f = fx_new(kwin_host);
	char *before = fk_snapshot(f->root);

	(void)state;
	assert_int_equal(detach(f, &O), SW_HELD);
	assert_int_equal(f->c.check, CHECK_HOLDERS);
	assert_contains(f->c.why, "pid 960 kwin_wayland (KWin, user alice, session 3 on seat0) holds "
				  "/dev/dri/card1");
	assert_contains(f->c.why, "pid 402 systemd-logind (logind: its copy of session 3 on seat0's "
				  "device, alice's) holds /dev/dri/card1");
	assert_contains(f->c.why, "pid 1 systemd (logind's fd store in PID 1: its copy of session 3 "
				  "on seat0's device, alice's)");
	/* KWin's own fix, for the run and for good; never Xorg's. */
	assert_contains(f->c.why, "KWin lets go of a GPU that is not its primary: `--release`");
	assert_contains(f->c.why, "KWIN_DRM_DEVICES=/dev/dri/vmrun-host");
	assert_lacks(f->c.why, "AutoAddGPU");
	assert_int_equal(f->k->writes, 0);
	assert_unchanged(f, before);
	free(before);
	fx_free(f);
}

static void mutter_host(const char *root)
{
	desk_host(root, "gnome-shell", 1000, "alice");
	/* gnome-shell runs as a user unit: its session only in its environment. */
	fake_write(root, "proc/960/cgroup",
		   "0::/user.slice/user-1000.slice/user@1000.service/session.slice/"
		   "org.gnome.Shell@wayland.service\n");
}

static void test_mutter_refused_with_its_fix(void **state)
{
	struct fx *f = fx_new(mutter_host);
	char *before = fk_snapshot(f->root);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	assert_int_equal(detach(f, &o), SW_HELD);
	assert_contains(f->c.why, "pid 960 gnome-shell (GNOME (mutter), user alice, session 3 on "
				  "seat0) holds /dev/dri/card1");
	assert_contains(f->c.why, "GNOME (mutter 43) cannot let go of a GPU while it runs; for good, "
				  "GNOME: tag the card mutter-device-ignore");
	assert_lacks(f->c.why, "AutoAddGPU");
	assert_lacks(f->c.why, "--release");
	/* Nothing was asked of anyone. */
	assert_int_equal(f->k->uevent_removes, 0);
	assert_unchanged(f, before);
	free(before);
	fx_free(f);
}

static void xorg_host(const char *root)
{
	fake_lab_host(root);
	fake_add_proc(root, 812, "Xorg", 0, "0::/system.slice/display-manager.service\n",
		      (const char *const[]){ "/dev/dri/card1", NULL });
}

static void test_xorg_keeps_its_fix(void **state)
{
	struct fx *f = fx_new(xorg_host);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	assert_int_equal(detach(f, &o), SW_HELD);
	assert_contains(f->c.why, "pid 812 Xorg (user root, unit display-manager.service) holds "
				  "/dev/dri/card1; Xorg: Option \"AutoAddGPU\" \"off\"");
	assert_int_equal(f->k->uevent_removes, 0);
	fx_free(f);
}

static void gone_session_host(const char *root)
{
	fake_lab_host(root);
	/* Only logind and PID 1 hold it, for a session no file lists any more. */
	fake_add_proc(root, LOGIND, "systemd-logind", 0, "0::/system.slice/systemd-logind.service\n",
		      (const char *const[]){ "/dev/dri/card1", NULL });
	fake_add_proc(root, 1, "systemd", 0, "0::/init.scope\n",
		      (const char *const[]){ "/dev/dri/card1", NULL });
	write_session(root, "5", 1000, "alice", "226:0");
}

static void test_gone_session_said(void **state)
{
	struct fx *f = fx_new(gone_session_host);
	char *before = fk_snapshot(f->root);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	assert_int_equal(detach(f, &o), SW_HELD);
	assert_contains(f->c.why, "pid 402 systemd-logind (logind: its copy of a device no live "
				  "session has: the session that took it has ended) holds /dev/dri/card1");
	assert_contains(f->c.why, "a logind leak, systemd issue 6908");
	assert_int_equal(f->k->uevent_removes, 0);
	assert_unchanged(f, before);
	free(before);
	fx_free(f);
}

/* ---- --release ---- */

static void test_release_round_trip(void **state)
{
	struct fx *f = fx_new(kwin_host);
	struct switch_opts o = O;
	struct journal j = { 0 };

	(void)state;
	o.release = true;
	assert_int_equal(detach(f, &o), SW_OK);
	assert_driver(f, GPU, "vfio-pci");
	assert_driver(f, AUDIO, "vfio-pci");
	assert_int_equal(f->k->uevent_removes, 1);
	assert_contains(f->k->wlog, "class/drm/card1/uevent <- remove\n");
	/* Said before it was done: who is asked, and the monitor that goes dark. */
	assert_contains(f->progress, "note: pid 960 kwin_wayland (KWin, user alice, session 3 on "
				     "seat0) holds /dev/dri/card1: it is asked to let go (--release)");
	assert_contains(f->progress, "asking the desktop to let go of /dev/dri/card1; its monitors go "
				     "with it for the run: Virtual-1");
	assert_contains(f->progress, "the desktop let go of /dev/dri/card1");
	/* The host's card stays with everyone. */
	assert_true(holds(f, KWIN, "card0"));
	assert_true(holds(f, LOGIND, "card0"));
	assert_false(holds(f, KWIN, "card1"));
	/* The journal knows the card was released, for a restore. */
	assert_int_equal(journal_read(f->c.state_fd, 2, &j), 0);
	assert_true(j.plan.released);
	assert_int_equal(j.plan.n_cards, 1);
	assert_string_equal(j.plan.cards[0], "card1");
	journal_clear(&j);
	/* Back: the kernel announces the card itself; no second `add` of vmrun's. */
	f->progress[0] = '\0';
	assert_int_equal(attach(f), SW_OK);
	assert_driver(f, GPU, "bochs-drm");
	assert_driver(f, AUDIO, "snd_hda_intel");
	assert_int_equal(f->k->uevent_adds, 0);
	assert_false(has_journal(f));
	fx_free(f);
}

static void test_release_timeout_offers_back(void **state)
{
	struct fx *f = fx_new(kwin_host);
	char *before = fk_snapshot(f->root);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	f->k->desk_deaf = true; /* it does not let go */
	assert_int_equal(detach(f, &o), SW_HELD);
	assert_contains(f->c.why, "pid 960 kwin_wayland (KWin, user alice, session 3 on seat0) holds "
				  "/dev/dri/card1");
	assert_contains(f->c.why, "not let go within 0.5 s, so nothing was switched and the card is "
				  "offered back");
	assert_int_equal(f->c.check, CHECK_HOLDERS);
	assert_int_equal(f->k->uevent_removes, 1);
	assert_int_equal(f->k->uevent_adds, 1);
	assert_contains(f->k->wlog, "class/drm/card1/uevent <- remove\nclass/drm/card1/uevent <- add\n");
	assert_contains(f->progress, "/dev/dri/card1 offered back to the desktop");
	assert_unchanged(f, before);
	free(before);
	fx_free(f);
}

static void test_release_failure_after_rolls_back_and_offers(void **state)
{
	struct fx *f = fx_new(kwin_host);
	char *before = fk_snapshot(f->root);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	/* The first write after the udev remove (the GPU's driver_override) fails. */
	fk_fail_write(f->k, 2, FK_EIO);
	assert_int_equal(detach(f, &o), SW_FAILED);
	assert_driver(f, GPU, "bochs-drm");
	/* The card never left its driver: vmrun offers it back itself. */
	assert_int_equal(f->k->uevent_adds, 1);
	assert_unchanged(f, before);
	free(before);
	fx_free(f);
}

static void test_restore_offers_back(void **state)
{
	struct fx *f = fx_new(kwin_host);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	/* vmrun is killed in the write after the udev remove (the kernel never ran it). */
	fk_fail_write(f->k, 2, FK_HANG);
	assert_int_equal(detach(f, &o), SW_STUCK);
	assert_true(has_journal(f));
	assert_int_equal(f->k->uevent_adds, 0);
	fk_clear_faults(f->k);
	assert_int_equal(switch_restore(&f->c, 2, &O), SW_OK);
	assert_driver(f, GPU, "bochs-drm");
	assert_int_equal(f->k->uevent_adds, 1);
	assert_false(has_journal(f));
	fx_free(f);
}

static void kwin_primary_on_card1(const char *root)
{
	kwin_host(root);
	write_environ(root, KWIN, (const char *const[]){ "XDG_SESSION_ID=3",
		      "KWIN_DRM_DEVICES=/dev/dri/card1:/dev/dri/card0", NULL });
}

static void test_primary_never_taken(void **state)
{
	struct fx *f = fx_new(kwin_primary_on_card1);
	char *before = fk_snapshot(f->root);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	assert_int_equal(detach(f, &o), SW_HELD);
	assert_contains(f->c.why, "/dev/dri/card1 is KWin's primary GPU (it would lose every output): "
				  "never taken from it");
	assert_int_equal(f->k->uevent_removes, 0);
	assert_unchanged(f, before);
	free(before);
	fx_free(f);
}

static void kwin_primary_card0_by_env(const char *root)
{
	kwin_host(root);
	/* Not the boot display's order: its list says card0 first, through a udev name. */
	fake_write(root, "sys/devices/pci0000:00/0000:00:02.0/boot_vga", "0\n");
	fake_symlink(root, "dev/dri/vmrun-host", "card0");
	write_environ(root, KWIN, (const char *const[]){ "XDG_SESSION_ID=3",
		      "KWIN_DRM_DEVICES=/dev/dri/vmrun-host:/dev/dri/card1", NULL });
}

static void test_primary_from_env(void **state)
{
	struct fx *f = fx_new(kwin_primary_card0_by_env);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	assert_int_equal(detach(f, &o), SW_OK);
	assert_driver(f, GPU, "vfio-pci");
	assert_int_equal(attach(f), SW_OK);
	fx_free(f);
}

static void kwin_env_outside_dev(const char *root)
{
	kwin_host(root);
	fake_write(root, "sys/devices/pci0000:00/0000:00:02.0/boot_vga", "0\n");
	/* A path the user chose that leads out of /dev: never followed as root. */
	fake_symlink(root, "dev/shm/x", "/dev/dri/card0");
	write_environ(root, KWIN, (const char *const[]){ "XDG_SESSION_ID=3",
		      "KWIN_DRM_DEVICES=/tmp/card0", NULL });
}

static void test_primary_unknown_refused(void **state)
{
	struct fx *f = fx_new(kwin_env_outside_dev);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	assert_int_equal(detach(f, &o), SW_HELD);
	assert_contains(f->c.why, "which GPU is KWin's primary cannot be told");
	assert_int_equal(f->k->uevent_removes, 0);
	fx_free(f);
}

static void bob_host(const char *root)
{
	desk_host(root, "sway", 1001, "bob");
}

static void test_other_users_desktop(void **state)
{
	struct fx *f = fx_new(bob_host);
	char *before = fk_snapshot(f->root);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	f->c.owner = 1000; /* alice asks, through the helper */
	assert_int_equal(detach(f, &o), SW_HELD);
	assert_contains(f->c.why, "it works for bob's desktop: only root or bob may ask it to let go");
	assert_int_equal(f->k->uevent_removes, 0);
	assert_unchanged(f, before);
	free(before);
	fx_free(f);
}

static void cuda_host(const char *root)
{
	kwin_host(root);
	fake_add_proc(root, 3000, "blender", 1000, "0::/user.slice/user-1000.slice/session-3.scope\n",
		      (const char *const[]){ "/dev/dri/renderD129", NULL });
}

static void test_release_needs_every_holder(void **state)
{
	struct fx *f = fx_new(cuda_host);
	char *before = fk_snapshot(f->root);
	struct switch_opts o = O;

	(void)state;
	o.release = true;
	assert_int_equal(detach(f, &o), SW_HELD);
	assert_contains(f->c.why, "pid 3000 blender (user alice, unit session-3.scope) holds "
				  "/dev/dri/renderD129");
	assert_contains(f->c.why, "stop it, or keep it off this GPU");
	assert_int_equal(f->k->uevent_removes, 0);
	assert_unchanged(f, before);
	free(before);
	fx_free(f);
}

/* ---- the journal ---- */

static void test_journal_card_names(void **state)
{
	struct fx *f = fx_new(kwin_host);
	static const char *const bad[] = { "../../kernel/x", "card", "card1x", "renderD129", "" };
	char text[1024];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct journal j = { 0 };
		char path[PATH_MAX];

		snprintf(text, sizeof(text), "{\"op\":\"detach\",\"state\":\"in-progress\",\"pid\":1,"
			 "\"holder\":1,\"holder_start\":0,\"for_run\":false,\"kept\":false,"
			 "\"owner_uid\":0,\"started\":0,\"devices\":[{\"address\":\"" GPU "\","
			 "\"role\":\"gpu\",\"orig_driver\":\"bochs-drm\",\"orig_override\":\"\","
			 "\"ours\":true,\"phase\":\"planned\"}],\"modules_unloaded\":[],"
			 "\"released_cards\":[{\"name\":\"%s\",\"ino\":5}]}", bad[i]);
		snprintf(path, sizeof(path), "%s/run/vmrun/switch/group-2.json", f->root);
		fake_write(f->root, "run/vmrun/switch/group-2.json", text);
		(void)path;
		if (journal_read(f->c.state_fd, 2, &j) != -EBADMSG)
			fail_msg("a released card named '%s' was taken", bad[i]);
		journal_clear(&j);
	}
	fx_free(f);
}

/* ---- the next login ---- */

static void login_host(const char *root)
{
	fake_lab_host(root);
	fake_write(root, "usr/bin/kwin_wayland", "");
	fake_write(root, "usr/bin/gnome-shell", "");
	fake_write(root, "usr/bin/sway", "");
}

static const struct login_verdict *verdict(const struct login_verdict *v, size_t n,
					   enum display_server ds)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ds == ds)
			return &v[i];
	fail_msg("no verdict for %s", display_server_info(ds)->name);
	abort();
}

static size_t judge(const struct fx *f, const char *home, struct login_verdict *v)
{
	static const char cards[1][16] = { "card1" };

	return login_judge(f->s, home, GPU, cards, 1, v);
}

static void test_next_login(void **state)
{
	struct fx *f = fx_new(login_host);
	struct login_verdict v[LOGIN_MAX];

	(void)state;
	/* Nothing set up: every compositor installed opens the card. */
	assert_int_equal(judge(f, "/home/alice", v), 3);
	assert_true(verdict(v, 3, DS_KWIN)->grabs);
	assert_contains(verdict(v, 3, DS_KWIN)->how, "no KWIN_DRM_DEVICES in the login environment");
	assert_true(verdict(v, 3, DS_WLROOTS)->grabs);
	assert_true(verdict(v, 3, DS_MUTTER)->grabs);

	/* vmrun setup's files, before udev ran the rule: set up, not confirmed. */
	fake_write(f->root, "etc/profile.d/vmrun-gpu.sh", "if [ -c /dev/dri/vmrun-host ]; then\n"
		   "\texport KWIN_DRM_DEVICES=/dev/dri/vmrun-host\n"
		   "\texport WLR_DRM_DEVICES=/dev/dri/vmrun-host\nfi\n");
	fake_write(f->root, "etc/udev/rules.d/61-vmrun-gpus.rules",
		   "SUBSYSTEM==\"drm\", KERNELS==\"" GPU "\", TAG+=\"mutter-device-ignore\"\n");
	fake_write(f->root, "run/udev/data/c226:1", "E:ID_PATH=pci-0000:01:00.0\nG:seat\n");
	assert_int_equal(judge(f, NULL, v), 3);
	assert_true(verdict(v, 3, DS_KWIN)->unsure);
	assert_contains(verdict(v, 3, DS_KWIN)->how, "KWIN_DRM_DEVICES (/etc/profile.d/vmrun-gpu.sh) "
						     "lists /dev/dri/vmrun-host, which is not there now");
	assert_true(verdict(v, 3, DS_MUTTER)->unsure);
	assert_contains(verdict(v, 3, DS_MUTTER)->how, "but udev has not applied it yet");

	/* udev ran it: the name, and the tag. */
	fake_symlink(f->root, "dev/dri/vmrun-host", "card0");
	fake_write(f->root, "run/udev/data/c226:1", "E:ID_PATH=pci-0000:01:00.0\nG:seat\n"
		   "G:mutter-device-ignore\nQ:mutter-device-ignore\n");
	assert_int_equal(judge(f, NULL, v), 3);
	for (size_t i = 0; i < 3; i++)
		if (v[i].grabs || v[i].unsure)
			fail_msg("%s: %s", display_server_info(v[i].ds)->name, v[i].how);
	assert_contains(verdict(v, 3, DS_KWIN)->how, "is set (/etc/profile.d/vmrun-gpu.sh) to GPUs "
						     "other than this one");

	/* The user's Plasma env script comes first, and lists the passthrough card as primary. */
	fake_write(f->root, "home/alice/.config/plasma-workspace/env/gpu.sh",
		   "export KWIN_DRM_DEVICES=\"/dev/dri/card1:/dev/dri/card0\"\n");
	assert_int_equal(judge(f, "/home/alice", v), 3);
	assert_true(verdict(v, 3, DS_KWIN)->grabs);
	assert_contains(verdict(v, 3, DS_KWIN)->how, "KWIN_DRM_DEVICES (/home/alice/.config/plasma-"
						     "workspace/env/gpu.sh) lists /dev/dri/card1, which "
						     "is /dev/dri/card1, as its primary GPU");
	/* sway does not read Plasma's scripts. */
	assert_false(verdict(v, 3, DS_WLROOTS)->grabs);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_holders_named),
		cmocka_unit_test(test_mutter_refused_with_its_fix),
		cmocka_unit_test(test_xorg_keeps_its_fix),
		cmocka_unit_test(test_gone_session_said),
		cmocka_unit_test(test_release_round_trip),
		cmocka_unit_test(test_release_timeout_offers_back),
		cmocka_unit_test(test_release_failure_after_rolls_back_and_offers),
		cmocka_unit_test(test_restore_offers_back),
		cmocka_unit_test(test_primary_never_taken),
		cmocka_unit_test(test_primary_from_env),
		cmocka_unit_test(test_primary_unknown_refused),
		cmocka_unit_test(test_other_users_desktop),
		cmocka_unit_test(test_release_needs_every_holder),
		cmocka_unit_test(test_journal_card_names),
		cmocka_unit_test(test_next_login),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
