/* SPDX-License-Identifier: MIT */
/*
 * vmrun setup against fake roots: each item proposed as a diff, --yes applies, a second --yes
 * changes nothing, --undo restores byte for byte; the boot-loader variants, the NVIDIA trap,
 * the allow file, bad input. Plus the diff generator and the text edits on their own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakesys.h"
#include "setup_diff.h"
#include "setup_edit.h"
#include "util.h"
#include "testskip.h"

static char vmrun[PATH_MAX + 16];
static char user[64]; /* whom setup allows: SUDO_USER under root, else ourselves */

struct fx {
	char *root;
	char profile[PATH_MAX];
	char *out, *err;
};

static const char grub_default[] =
	"# If you change this file, run 'update-grub' afterwards to update\n"
	"# /boot/grub/grub.cfg.\n"
	"\n"
	"GRUB_DEFAULT=0\n"
	"GRUB_TIMEOUT=5\n"
	"GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
	"GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
	"GRUB_CMDLINE_LINUX=\"\"\n"
	"\n"
	"# Uncomment to disable graphical terminal (grub-pc only)\n"
	"#GRUB_TERMINAL=console\n";

static const char lab_yaml[] = "name: lab\nos: linux\naccel: tcg\nmemory: 512M\n"
			       "pci:\n  - address: \"01:00.0\"\n"
			       "network: {type: none}\ndisplay: none\n";

static char *path_in(const struct fx *f, const char *rel)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", f->root, rel) > 0);
	return p;
}

static char *slurp(const struct fx *f, const char *rel)
{
	char *p = path_in(f, rel), *buf = NULL;
	size_t len = 0;
	FILE *in = fopen(p, "re"), *out;

	free(p);
	if (!in)
		return NULL;
	out = open_memstream(&buf, &len);
	for (int c; (c = fgetc(in)) != EOF;)
		fputc(c, out);
	fclose(out);
	fclose(in);
	return buf;
}

static bool exists(const struct fx *f, const char *rel)
{
	char *p = path_in(f, rel);
	struct stat st;
	bool r = lstat(p, &st) == 0;

	free(p);
	return r;
}

static unsigned mode_of(const struct fx *f, const char *rel)
{
	char *p = path_in(f, rel);
	struct stat st;

	assert_int_equal(lstat(p, &st), 0);
	free(p);
	return st.st_mode & 07777;
}

/* --- a whole-tree snapshot: every path under a prefix with its mode and content, sorted --- */

static char **snap_v;
static size_t snap_n;
static size_t snap_skip;

static int snap_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	char *e = NULL, *content = NULL;
	size_t len = 0;

	(void)flag;
	(void)ftw;
	if (S_ISREG(st->st_mode)) {
		FILE *in = fopen(p, "re"), *out = open_memstream(&content, &len);

		for (int c; in && (c = fgetc(in)) != EOF;)
			fputc(c, out);
		fclose(out);
		if (in)
			fclose(in);
	}
	assert_true(asprintf(&e, "%s %o\n%s", p + snap_skip, st->st_mode & 07777,
			     content ? content : "") > 0);
	free(content);
	snap_v = realloc(snap_v, (snap_n + 1) * sizeof(*snap_v));
	snap_v[snap_n++] = e;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything under root/sub ("" for the whole tree) as one string. */
static char *snapshot(const struct fx *f, const char *sub)
{
	char *dir = path_in(f, sub), *all = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&all, &len);

	snap_v = NULL;
	snap_n = 0;
	snap_skip = strlen(f->root);
	(void)nftw(dir, snap_one, 16, FTW_PHYS);
	qsort(snap_v, snap_n, sizeof(*snap_v), cmp_str);
	for (size_t i = 0; i < snap_n; i++) {
		fputs(snap_v[i], out);
		fputs("\n--\n", out);
		free(snap_v[i]);
	}
	free(snap_v);
	fclose(out);
	free(dir);
	return all;
}

/* --- fixtures ------------------------------------------------------------------------------ */

/* A typical Debian desktop: GRUB, update-grub, GNOME, quiet kernel without IOMMU options. */
static int setup_debian(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *p;

	f->root = fake_root_new();
	fake_lab_host(f->root);
	fake_write(f->root, "proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.1.0 root=/dev/sda1 ro quiet\n");
	fake_write(f->root, "etc/default/grub", grub_default);
	p = path_in(f, "etc/default/grub");
	assert_int_equal(chmod(p, 0640), 0); /* an unusual mode, to see it kept */
	free(p);
	fake_write(f->root, "usr/sbin/update-grub", "#!/bin/sh\nexit 0\n");
	p = path_in(f, "usr/sbin/update-grub");
	assert_int_equal(chmod(p, 0755), 0);
	free(p);
	fake_write(f->root, "usr/bin/gnome-shell", "");
	fake_write(f->root, "usr/share/X11/xorg.conf.d/10-quirks.conf", "# quirks\n");
	snprintf(f->profile, sizeof(f->profile), "%s/lab.yaml", f->root);
	fake_write(f->root, "lab.yaml", lab_yaml);
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
	char *argv[32] = { vmrun, (char *)"--root", f->root, (char *)"setup" };
	size_t n = 4;

	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	free(f->out);
	free(f->err);
	return run_capture(argv, &f->out, &f->err);
}

#define RUN(f, ...) run(f, (const char *const[]){ __VA_ARGS__, NULL })
#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr(hay, needle))                                                          \
			fail_msg("missing '%s' in:\n%s", needle, hay);                             \
	} while (0)

/* --- the binary against fake roots -------------------------------------------------------- */

static void test_propose_intel(void **state)
{
	struct fx *f = *state;
	char *before = snapshot(f, ""), *after, allow[128];

	assert_int_equal(RUN(f, f->profile), 0);
	assert_string_equal(f->err, "");
	assert_contains(f->out, "[proposed] IOMMU kernel options\n");
	assert_contains(f->out, "--- a/etc/default/grub\n+++ b/etc/default/grub\n@@ -4,7 +4,7 @@\n");
	assert_contains(f->out, "-GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
				"+GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt\"\n");
	assert_contains(f->out, "  then: update-grub, then reboot\n");
	assert_contains(f->out, "--- /dev/null\n+++ b/etc/X11/xorg.conf.d/10-vmrun-passthrough.conf\n");
	assert_contains(f->out, "+Section \"ServerFlags\"\n+    Option \"AutoAddGPU\" \"off\"\n+EndSection\n");
	assert_contains(f->out, "+    Driver \"modesetting\"\n+    BusID \"PCI:0:2:0\"\n"
				"+    Option \"kmsdev\" \"/dev/dri/card0\"\n");
	/* The host card by a name of vmrun's own, not cardN; mutter's tag on the passthrough GPU. */
	assert_contains(f->out, "--- /dev/null\n+++ b/etc/udev/rules.d/61-vmrun-gpus.rules\n");
	assert_contains(f->out, "+SUBSYSTEM==\"drm\", KERNEL==\"card[0-9]*\", KERNELS==\"0000:00:02.0\", "
				"SYMLINK+=\"dri/vmrun-host\"\n");
	assert_contains(f->out, "+SUBSYSTEM==\"drm\", KERNELS==\"0000:01:00.0\", "
				"TAG+=\"mutter-device-ignore\"\n");
	assert_contains(f->out, "--- /dev/null\n+++ b/etc/profile.d/vmrun-gpu.sh\n");
	assert_contains(f->out, "+if [ -c /dev/dri/vmrun-host ]; then\n"
				"+\texport KWIN_DRM_DEVICES=/dev/dri/vmrun-host\n"
				"+\texport WLR_DRM_DEVICES=/dev/dri/vmrun-host\n"
				"+\texport AQ_DRM_DEVICES=/dev/dri/vmrun-host\n+fi\n");
	/* Plasma is not installed here: no script of its own. */
	assert_null(strstr(f->out, "plasma-workspace"));
	snprintf(allow, sizeof(allow), "+- {device: \"0000:01:00.0\", users: [%s]}\n", user);
	assert_contains(f->out, allow);
	assert_contains(f->out, "5 files would change.");
	after = snapshot(f, "");
	assert_string_equal(before, after); /* proposing writes nothing */
	free(before);
	free(after);
}

static void test_propose_amd(void **state)
{
	struct fx *f = *state;

	char *p = path_in(f, "sys/class/iommu/dmar0");

	/* IOMMU off (no sys/class/iommu entry): the CPU vendor decides. */
	assert_int_equal(rmdir(p), 0);
	free(p);
	fake_write(f->root, "proc/cpuinfo", "vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm sse\n\n");
	assert_int_equal(RUN(f, f->profile), 0);
	assert_contains(f->out, "+GRUB_CMDLINE_LINUX_DEFAULT=\"quiet amd_iommu=on iommu=pt\"\n");
	assert_null(strstr(f->out, "intel_iommu"));
}

static void test_apply_twice_then_undo(void **state)
{
	struct fx *f = *state;
	char *etc0 = snapshot(f, "etc"), *etc1, *etc2, *etc3, *grub, *snippet, *allow, want[128];

	assert_int_equal(RUN(f, "--yes", f->profile), 0);
	assert_contains(f->out, "[applied] IOMMU kernel options\n");
	assert_contains(f->out, "then: not run on a --root tree: update-grub");
	assert_contains(f->out, "Applied: 5 files changed");
	assert_contains(f->out, "then: not run on a --root tree: udevadm control --reload; udevadm "
				"trigger --action=change --subsystem-match=drm\n");
	grub = slurp(f, "etc/default/grub");
	assert_non_null(strstr(grub, "\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt\"\n"
				     "GRUB_CMDLINE_LINUX=\"\"\n"));
	assert_int_equal(strlen(grub), strlen(grub_default) + strlen(" intel_iommu=on iommu=pt"));
	assert_int_equal(mode_of(f, "etc/default/grub"), 0640);
	snippet = slurp(f, "etc/X11/xorg.conf.d/10-vmrun-passthrough.conf");
	assert_non_null(snippet);
	assert_non_null(strstr(snippet, "Option \"kmsdev\" \"/dev/dri/card0\""));
	assert_int_equal(mode_of(f, "etc/X11/xorg.conf.d/10-vmrun-passthrough.conf"), 0644);
	assert_int_equal(mode_of(f, "etc/udev/rules.d/61-vmrun-gpus.rules"), 0644);
	assert_int_equal(mode_of(f, "etc/profile.d/vmrun-gpu.sh"), 0644);
	allow = slurp(f, "etc/vmrun/allow.yaml");
	snprintf(want, sizeof(want), "- {device: \"0000:01:00.0\", users: [%s]}\n", user);
	assert_string_equal(allow, want);
	assert_int_equal(mode_of(f, "etc/vmrun/allow.yaml"), 0644);
	assert_int_equal(mode_of(f, "etc/vmrun"), 0755);
	assert_int_equal(mode_of(f, "var/lib/vmrun/setup"), 0700);
	assert_true(exists(f, "var/lib/vmrun/setup/manifest.json"));
	/* No temp files left behind. */
	etc1 = snapshot(f, "etc");
	assert_null(strstr(etc1, ".tmp"));

	/* Second run: nothing to do, nothing touched. */
	assert_int_equal(RUN(f, "--yes", f->profile), 0);
	assert_contains(f->out, "Nothing to do");
	assert_null(strstr(f->out, "[proposed]"));
	assert_null(strstr(f->out, "[applied]"));
	assert_contains(f->out, "[already-done] Xorg");
	etc2 = snapshot(f, "etc");
	assert_string_equal(etc1, etc2);

	/* Undo: byte for byte, modes included, created files and directories gone. */
	assert_int_equal(RUN(f, "--undo"), 0);
	assert_contains(f->out, "restored         /etc/default/grub\n");
	assert_contains(f->out, "removed          /etc/X11/xorg.conf.d/10-vmrun-passthrough.conf\n");
	assert_contains(f->out, "removed          /etc/udev/rules.d/61-vmrun-gpus.rules\n");
	assert_contains(f->out, "removed          /etc/profile.d/vmrun-gpu.sh\n");
	assert_contains(f->out, "; not run on a --root tree: udevadm control --reload");
	etc3 = snapshot(f, "etc");
	assert_string_equal(etc0, etc3);
	assert_false(exists(f, "etc/vmrun"));
	assert_false(exists(f, "etc/X11"));
	assert_false(exists(f, "var/lib/vmrun/setup"));
	assert_int_equal(RUN(f, "--undo"), 0);
	assert_contains(f->out, "Nothing to undo");
	free(etc0);
	free(etc1);
	free(etc2);
	free(etc3);
	free(grub);
	free(snippet);
	free(allow);
}

static void test_cmdline_has_options(void **state)
{
	struct fx *f = *state;

	fake_write(f->root, "proc/cmdline", "root=/dev/sda1 ro quiet intel_iommu=on iommu=pt\n");
	assert_int_equal(RUN(f, "--yes", f->profile), 0);
	assert_contains(f->out, "[already-done] IOMMU kernel options\n  the running kernel has "
				"intel_iommu=on iommu=pt");
	assert_null(strstr(f->out, "etc/default/grub\n"));
	{
		char *g = slurp(f, "etc/default/grub");

		assert_string_equal(g, grub_default);
		free(g);
	}
}

/* The text console on the passthrough GPU's framebuffer: fbcon=map: goes with the IOMMU options,
 * unless the command line maps the consoles itself. */
static void test_console_map(void **state)
{
	struct fx *f = *state;

	fake_add_devchild(f->root, "0000:01:00.0", "graphics/fb0");
	fake_add_devchild(f->root, "0000:00:02.0", "graphics/fb2");
	fake_write(f->root, "sys/class/vtconsole/vtcon1/name", "(M) frame buffer device\n");
	fake_write(f->root, "sys/class/vtconsole/vtcon1/bind", "1\n");
	assert_int_equal(RUN(f, f->profile), 0);
	assert_contains(f->out, "[proposed] Kernel options (IOMMU, text console)\n");
	assert_contains(f->out, "the text console is on 0000:01:00.0's framebuffer fb0: fbcon=map:2 "
				"keeps it on fb2 (0000:00:02.0) from boot");
	assert_contains(f->out, "+GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt fbcon=map:2\"\n");
	fake_write(f->root, "proc/cmdline", "root=/dev/sda1 ro quiet intel_iommu=on iommu=pt fbcon=map:0\n");
	assert_int_equal(RUN(f, f->profile), 0);
	assert_contains(f->out, "[already-done] IOMMU kernel options\n");
	assert_null(strstr(f->out, "fbcon=map:2"));
}

static void test_kernel_install(void **state)
{
	struct fx *f = *state;
	char *p = path_in(f, "etc/default/grub"), *k;

	assert_int_equal(unlink(p), 0);
	free(p);
	fake_write(f->root, "etc/kernel/cmdline", "root=UUID=1234 ro quiet\n");
	assert_int_equal(RUN(f, f->profile), 0);
	assert_contains(f->out, "-root=UUID=1234 ro quiet\n+root=UUID=1234 ro quiet intel_iommu=on "
				"iommu=pt\n");
	assert_contains(f->out, "then: kernel-install add");
	assert_int_equal(RUN(f, "--yes", f->profile), 0);
	k = slurp(f, "etc/kernel/cmdline");
	assert_string_equal(k, "root=UUID=1234 ro quiet intel_iommu=on iommu=pt\n");
	free(k);
	assert_int_equal(RUN(f, "--undo"), 0);
	k = slurp(f, "etc/kernel/cmdline");
	assert_string_equal(k, "root=UUID=1234 ro quiet\n");
	free(k);
}

static void test_unknown_loader(void **state)
{
	struct fx *f = *state;
	char *p = path_in(f, "etc/default/grub");

	assert_int_equal(unlink(p), 0);
	free(p);
	assert_int_equal(RUN(f, "--yes", f->profile), 0);
	assert_contains(f->out, "[manual] IOMMU kernel options\n  no GRUB");
	assert_contains(f->out, "\n      intel_iommu=on iommu=pt\n");
	assert_false(exists(f, "etc/default/grub"));
	assert_false(exists(f, "etc/kernel/cmdline"));
	assert_contains(f->out, "Applied: 4 files changed");
}

static const char nvidia_conf[] = "Section \"OutputClass\"\n"
				  "    Identifier \"nvidia\"\n"
				  "    MatchDriver \"nvidia-drm\"\n"
				  "    Driver \"nvidia\"\n"
				  "    Option \"AllowEmptyInitialConfiguration\"\n"
				  "    Option \"PrimaryGPU\" \"yes\"\n"
				  "    ModulePath \"/usr/lib/x86_64-linux-gnu/nvidia/xorg\"\n"
				  "EndSection\n";

static void test_nvidia_trap(void **state)
{
	struct fx *f = *state;
	char *etc, *usr, *rest;

	fake_write(f->root, "usr/share/X11/xorg.conf.d/10-nvidia-drm-outputclass.conf", nvidia_conf);
	assert_int_equal(RUN(f, "--yes", f->profile), 0);
	assert_contains(f->out, "+++ b/etc/X11/xorg.conf.d/10-nvidia-drm-outputclass.conf\n");
	etc = slurp(f, "etc/X11/xorg.conf.d/10-nvidia-drm-outputclass.conf");
	assert_non_null(etc);
	assert_non_null(strstr(etc, "# It shadows /usr/share/X11/xorg.conf.d/10-nvidia-drm-outputclass.conf"));
	rest = strstr(etc, "Section \"OutputClass\"\n");
	assert_non_null(rest);
	assert_string_equal(rest, "Section \"OutputClass\"\n"
				  "    Identifier \"nvidia\"\n"
				  "    MatchDriver \"nvidia-drm\"\n"
				  "    Driver \"nvidia\"\n"
				  "    Option \"AllowEmptyInitialConfiguration\"\n"
				  "    ModulePath \"/usr/lib/x86_64-linux-gnu/nvidia/xorg\"\n"
				  "EndSection\n");
	assert_int_equal(mode_of(f, "etc/X11/xorg.conf.d/10-nvidia-drm-outputclass.conf"), 0644);
	usr = slurp(f, "usr/share/X11/xorg.conf.d/10-nvidia-drm-outputclass.conf");
	assert_string_equal(usr, nvidia_conf);
	assert_int_equal(RUN(f, "--yes", f->profile), 0);
	assert_contains(f->out, "Nothing to do");
	assert_int_equal(RUN(f, "--undo"), 0);
	assert_false(exists(f, "etc/X11/xorg.conf.d/10-nvidia-drm-outputclass.conf"));
	free(etc);
	free(usr);
}

static void test_allow_existing(void **state)
{
	struct fx *f = *state;
	static const char old[] = "# who may switch what\n"
				  "- {device: \"0000:03:00.0\", users: [bob], groups: [vmrun]}\n"
				  "- {device: \"0000:01:00.0\", groups: [video]}";
	char *p = path_in(f, "etc/vmrun/allow.yaml"), *a, want[512];

	fake_write(f->root, "etc/vmrun/allow.yaml", old);
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(RUN(f, "--yes", f->profile), 0);
	a = slurp(f, "etc/vmrun/allow.yaml");
	/* Structurally: the user joins the device's entry, the header comment stays. */
	snprintf(want, sizeof(want), "# who may switch what\n"
		 "- {device: \"0000:03:00.0\", users: [bob], groups: [vmrun]}\n"
		 "- {device: \"0000:01:00.0\", users: [%s], groups: [video]}\n", user);
	assert_string_equal(a, want);
	free(a);
	assert_int_equal(RUN(f, "--yes", f->profile), 0);
	assert_contains(f->out, "may already switch 0000:01:00.0");
	a = slurp(f, "etc/vmrun/allow.yaml");
	assert_string_equal(a, want);
	free(a);
	assert_int_equal(RUN(f, "--undo"), 0);
	a = slurp(f, "etc/vmrun/allow.yaml");
	assert_string_equal(a, old);
	free(a);

	/* An entry naming the user among others, short address form: already there. */
	snprintf(want, sizeof(want), "- device: \"01:00.0\"\n  users: [carol, %s]\n", user);
	fake_write(f->root, "etc/vmrun/allow.yaml", want);
	assert_int_equal(RUN(f, f->profile), 0);
	assert_contains(f->out, "[already-done] Allow-file entry");
	free(p);
}

static void test_allow_root_skipped(void **state)
{
	struct fx *f = *state;
	char *saved = getenv("SUDO_USER") ? strdup(getenv("SUDO_USER")) : NULL;

	if (getuid() != 0) {
		free(saved);
		test_skip("not root: setup's root-only allow-file path");
	}
	unsetenv("SUDO_USER");
	assert_int_equal(RUN(f, "--yes", f->profile), 0);
	if (saved)
		setenv("SUDO_USER", saved, 1);
	free(saved);
	assert_contains(f->out, "[skipped] Allow-file entry");
	assert_contains(f->out, "- {device: \"0000:01:00.0\", users: [NAME]}");
	assert_false(exists(f, "etc/vmrun/allow.yaml"));
}

static void test_bad_profile(void **state)
{
	struct fx *f = *state;
	char *before = snapshot(f, ""), *after;

	fake_write(f->root, "lab.yaml", "name: lab\nmemory: lots\n");
	free(before);
	before = snapshot(f, "");
	assert_int_equal(RUN(f, "--yes", f->profile), 2);
	assert_string_equal(f->out, "");
	assert_null(strchr(strchr(f->err, '\n') + 1, '\n')); /* one line */
	after = snapshot(f, "");
	assert_string_equal(before, after); /* the bad profile changed nothing */
	free(after);
	fake_write(f->root, "lab.yaml", "name: lab\nmemory: 1G\npci:\n  - address: \"07:00.0\"\n");
	free(before);
	before = snapshot(f, "");
	assert_int_equal(RUN(f, "--yes", f->profile), 2);
	assert_contains(f->err, "no PCI device 0000:07:00.0 on this host");
	assert_int_equal(RUN(f, "--yes", "/nonexistent/x.yaml"), 2);
	assert_int_equal(RUN(f, "--bogus"), 2);
	assert_int_equal(RUN(f, "a.yaml", "b.yaml"), 2);
	after = snapshot(f, "");
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static json_object *item_of(json_object *root, const char *id)
{
	json_object *items, *v;

	assert_true(json_object_object_get_ex(root, "items", &items));
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);

		if (json_object_object_get_ex(it, "id", &v) && streq(json_object_get_string(v), id))
			return it;
	}
	fail_msg("no item %s", id);
	return NULL;
}

static const char *status_of(json_object *root, const char *id)
{
	json_object *v;

	assert_true(json_object_object_get_ex(item_of(root, id), "status", &v));
	return json_object_get_string(v);
}

static void test_json(void **state)
{
	struct fx *f = *state;
	json_object *root, *diffs, *d, *v;

	assert_int_equal(RUN(f, "--json", f->profile), 0);
	root = json_tokener_parse(f->out);
	assert_non_null(root);
	assert_string_equal(status_of(root, "iommu"), "proposed");
	assert_string_equal(status_of(root, "xorg"), "proposed");
	assert_string_equal(status_of(root, "wayland"), "proposed");
	assert_string_equal(status_of(root, "allow"), "proposed");
	assert_true(json_object_object_get_ex(item_of(root, "iommu"), "diffs", &diffs));
	d = json_object_array_get_idx(diffs, 0);
	assert_true(json_object_object_get_ex(d, "path", &v));
	assert_string_equal(json_object_get_string(v), "/etc/default/grub");
	assert_true(json_object_object_get_ex(d, "diff", &v));
	assert_non_null(strstr(json_object_get_string(v), "+GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel"));
	json_object_put(root);
	assert_false(exists(f, "etc/vmrun"));

	assert_int_equal(RUN(f, "--json", "--yes", f->profile), 0);
	root = json_tokener_parse(f->out);
	assert_non_null(root);
	assert_string_equal(status_of(root, "iommu"), "applied");
	assert_string_equal(status_of(root, "allow"), "applied");
	json_object_put(root);
	assert_int_equal(RUN(f, "--json", "--yes", f->profile), 0);
	root = json_tokener_parse(f->out);
	assert_string_equal(status_of(root, "xorg"), "already-done");
	assert_true(json_object_object_get_ex(root, "pending", &v));
	assert_int_equal(json_object_get_int(v), 0);
	json_object_put(root);
}

/* Without a profile: every display device that is not the boot GPU is a candidate. */
static void test_no_profile(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, (const char *const[]){ NULL }), 0);
	assert_contains(f->out, "passthrough: 0000:01:00.0; host display: 0000:00:02.0 /dev/dri/card0");
	assert_contains(f->out, "Run `vmrun setup --yes` to apply");
}

/*
 * No GPU has boot_vga (as in the lab, and on some boards): the host's display is the one the
 * console is on, and only the other GPU is proposed; when nothing tells, none is.
 */
static void test_no_boot_vga(void **state)
{
	struct fx *f = *state;
	char *p;

	for (const char *const *a = (const char *const[]){ "0000:00:02.0", "0000:01:00.0", NULL }; *a; a++) {
		char rel[160];

		snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/boot_vga", *a);
		p = path_in(f, rel);
		assert_int_equal(unlink(p), 0);
		free(p);
	}
	fake_add_devchild(f->root, "0000:00:02.0", "graphics/fb0");
	fake_write(f->root, "sys/class/vtconsole/vtcon1/name", "(M) frame buffer device\n");
	fake_write(f->root, "sys/class/vtconsole/vtcon1/bind", "1\n");
	assert_int_equal(RUN(f, "--json"), 0);
	assert_contains(f->out, "passthrough: 0000:01:00.0; host display: 0000:00:02.0");
	assert_contains(f->out, "allow ");
	assert_contains(f->out, " to switch 0000:01:00.0");
	assert_null(strstr(f->out, "to switch 0000:00:02.0"));
	/* Neither boot_vga nor the console: nothing is guessed. */
	fake_write(f->root, "sys/class/vtconsole/vtcon1/bind", "0\n");
	assert_int_equal(RUN(f, "--json"), 0);
	assert_contains(f->out, "cannot tell which GPU the host displays on");
	assert_null(strstr(f->out, "to switch 0000:"));
	assert_null(strstr(f->out, "10-vmrun-passthrough.conf"));
}

/* --- the library pieces on their own ------------------------------------------------------ */

static void test_udiff(void **state)
{
	char *d = NULL;

	(void)state;
	assert_int_equal(setup_udiff("x", "a\nb\n", "a\nb\n", &d), 0);
	assert_string_equal(d, "");
	free(d);
	assert_int_equal(setup_udiff("x", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n",
				     "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n",
				     &d), 0);
	assert_string_equal(d, "--- a/x\n+++ b/x\n"
			       "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
			       "@@ -14,3 +14,4 @@\n 14\n 15\n 16\n+17\n");
	free(d);
	assert_int_equal(setup_udiff("x", "a\nb", "a\nb\n", &d), 0);
	assert_string_equal(d, "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
	free(d);
	assert_int_equal(setup_udiff("x", NULL, "new\n", &d), 0);
	assert_string_equal(d, "--- /dev/null\n+++ b/x\n@@ -0,0 +1 @@\n+new\n");
	free(d);
	assert_int_equal(setup_udiff("x", "old\n", "", &d), 0);
	assert_string_equal(d, "--- a/x\n+++ b/x\n@@ -1 +0,0 @@\n-old\n");
	free(d);
}

static void test_grub_edits(void **state)
{
	static const char *const o[] = { "intel_iommu=on", "iommu=pt", NULL };
	char *n = NULL;

	(void)state;
	assert_int_equal(setup_grub_add("GRUB_CMDLINE_LINUX_DEFAULT='quiet splash'\n", o, &n), 0);
	assert_string_equal(n, "GRUB_CMDLINE_LINUX_DEFAULT='quiet splash intel_iommu=on iommu=pt'\n");
	free(n);
	assert_int_equal(setup_grub_add("GRUB_CMDLINE_LINUX_DEFAULT=quiet # x\n", o, &n), 0);
	assert_string_equal(n, "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt\" # x\n");
	free(n);
	assert_int_equal(setup_grub_add("GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n", o, &n), 0);
	assert_string_equal(n, "GRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on iommu=pt\"\n");
	free(n);
	/* Already on GRUB_CMDLINE_LINUX (token-wise): nothing; a partial match is not a match. */
	assert_int_equal(setup_grub_add("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
					"GRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt\"\n", o, &n), 0);
	assert_null(n);
	assert_int_equal(setup_grub_add("GRUB_CMDLINE_LINUX_DEFAULT=\"xintel_iommu=on iommu=pt\"\n",
					o, &n), 0);
	assert_string_equal(n, "GRUB_CMDLINE_LINUX_DEFAULT=\"xintel_iommu=on iommu=pt intel_iommu=on\"\n");
	free(n);
	assert_int_equal(setup_grub_add("GRUB_TIMEOUT=5", o, &n), 0);
	assert_string_equal(n, "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on iommu=pt\"\n");
	free(n);
	/* The last assignment is the one that counts; comments are not assignments. */
	assert_int_equal(setup_grub_add("#GRUB_CMDLINE_LINUX_DEFAULT=\"a\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"b\"\n",
					o, &n), 0);
	assert_string_equal(n, "#GRUB_CMDLINE_LINUX_DEFAULT=\"a\"\n"
			       "GRUB_CMDLINE_LINUX_DEFAULT=\"b intel_iommu=on iommu=pt\"\n");
	free(n);
	assert_int_equal(setup_grub_add("GRUB_CMDLINE_LINUX_DEFAULT=\"$X quiet\"\n", o, &n), -EINVAL);
	assert_int_equal(setup_grub_add("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\n", o, &n), -EINVAL);
}

static void test_allow_edits(void **state)
{
	char *n = NULL;

	(void)state;
	assert_int_equal(setup_allow_has("- {device: \"0000:01:00.0\", users: [a, alice]}\n",
					 "0000:01:00.0", "alice"), 1);
	/* What the helper would refuse is not appended to: it is fixed by hand first. */
	assert_int_equal(setup_allow_has("- {device: \"1:00.0\", users: [a]}\n", "0000:01:00.0", "a"),
			 -EBADMSG);
	assert_int_equal(setup_allow_add("- {device: \"0000:01:00.0\", bogus: 1}\n", "0000:01:00.0",
					 "alice", &n), -EBADMSG);
	assert_false(setup_allow_has("- {device: \"0000:01:00.0\", users: [alicex]}\n",
				     "0000:01:00.0", "alice"));
	assert_false(setup_allow_has("- {device: \"0000:02:00.0\", users: [alice]}\n",
				     "0000:01:00.0", "alice"));
	assert_true(setup_allow_has("- device: 0000:01:00.0\n  users:\n    - bob\n    - alice\n",
				    "0000:01:00.0", "alice"));
	assert_int_equal(setup_allow_add("", "0000:01:00.0", "bad name", &n), -EINVAL);
	assert_int_equal(setup_allow_add("", "0000:01:00.0", "alice", &n), 0);
	assert_string_equal(n, "- {device: \"0000:01:00.0\", users: [alice]}\n");
	free(n);
}

/*
 * Files the helper reads fine but that setup cannot rewrite without changing what the
 * administrator wrote: never appended to (a flow list or an indented one would become
 * invalid, an entry after "---" would land in an ignored second document), only a manual step.
 */
static void test_allow_forms_refused(void **state)
{
	static const char *const forms[] = {
		"[{device: \"0000:02:00.0\", users: [bob]}]\n",
		"  - {device: \"0000:02:00.0\", users: [bob]}\n",
		"- {device: \"0000:02:00.0\", users: [bob]}\n---\n",
		"- device: \"0000:02:00.0\"\n  users: [bob]\n",
		"- {device: \"0000:02:00.0\", users: [bob]}\n# bob's card\n",
		"- {device: \"0000:02:00.0\", users: [bob]}   # bob's card\n",
	};
	char *n = NULL;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		assert_int_equal(setup_allow_has(forms[i], "0000:02:00.0", "bob"), 1);
		if (setup_allow_add(forms[i], "0000:01:00.0", "alice", &n) != -EMEDIUMTYPE)
			fail_msg("form %zu was rewritten: %s", i, n ? n : "(null)");
	}
	/* Comments at the top and a missing last newline are kept and tolerated. */
	assert_int_equal(setup_allow_add("# ours\n\n- {device: \"0000:02:00.0\", users: [bob]}",
					 "0000:01:00.0", "alice", &n), 0);
	assert_string_equal(n, "# ours\n\n- {device: \"0000:02:00.0\", users: [bob]}\n"
			       "- {device: \"0000:01:00.0\", users: [alice]}\n");
	free(n);
	/* The packaged file, comments that allow nobody: the entry goes after them. */
	assert_int_equal(setup_allow_add("# allows nobody\n#\n# see vmrun(1)\n", "0000:01:00.0",
					 "alice", &n), 0);
	assert_string_equal(n, "# allows nobody\n#\n# see vmrun(1)\n"
			       "- {device: \"0000:01:00.0\", users: [alice]}\n");
	free(n);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_forms_refused),
		cmocka_unit_test_setup_teardown(test_no_boot_vga, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_propose_intel, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_propose_amd, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_console_map, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_apply_twice_then_undo, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_has_options, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_install, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_loader, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_nvidia_trap, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_allow_existing, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_allow_root_skipped, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_bad_profile, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup_debian, teardown),
		cmocka_unit_test_setup_teardown(test_no_profile, setup_debian, teardown),
		cmocka_unit_test(test_udiff),
		cmocka_unit_test(test_grub_edits),
		cmocka_unit_test(test_allow_edits),
	};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)argc;
	(void)argv;
	if (n <= 0)
		return 1;
	self[n] = '\0';
	snprintf(vmrun, sizeof(vmrun), "%s/../vmrun", dirname(self));
	if (getuid() == 0) {
		setenv("SUDO_USER", "alice", 1);
		snprintf(user, sizeof(user), "alice");
	} else {
		struct passwd *pw = getpwuid(getuid());

		snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "nobody");
	}
	return cmocka_run_group_tests_name("setup", tests, NULL, NULL);
}
