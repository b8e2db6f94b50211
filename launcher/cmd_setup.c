/* SPDX-License-Identifier: MIT */
/*
 * vmrun setup [--yes] [--undo] [--json] [PROFILE]: the host configuration passthrough needs,
 * proposed as unified diffs and applied only when asked. Four items:
 *   1. IOMMU kernel options (GRUB, kernel-install, or a printed manual step);
 *   2. an Xorg snippet keeping X off the passthrough GPU (and the NVIDIA PrimaryGPU trap);
 *   3. Wayland compositors (a udev rule for mutter; KWin and wlroots as manual steps);
 *   4. the allow-file entry for the invoking user.
 * Every file is written atomically; before one is touched its original is copied to
 * var/lib/vmrun/setup/ and recorded in a manifest there, so --undo restores it byte for byte
 * and removes what setup created. All paths are relative to the system root (--root).
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "cli.h"
#include "iommu.h"
#include "log.h"
#include "pcidev.h"
#include "setup_diff.h"
#include "setup_edit.h"

#define SETUP_DIR "var/lib/vmrun/setup"
#define MANIFEST SETUP_DIR "/manifest.json"
#define FILE_MAX (1 << 20)
#define MAX_PASS 16

#define GRUB_FILE "etc/default/grub"
#define KERNEL_CMDLINE_FILE "etc/kernel/cmdline"
#define XORG_SNIPPET "etc/X11/xorg.conf.d/10-vmrun-passthrough.conf"
#define NVIDIA_CONF "10-nvidia-drm-outputclass.conf"
#define MUTTER_RULE "etc/udev/rules.d/61-vmrun-mutter-ignore.rules"
#define ALLOW_FILE "etc/vmrun/allow.yaml"

enum item_status { IS_DONE, IS_PROPOSED, IS_APPLIED, IS_MANUAL, IS_SKIPPED };
static const char *const status_name[] = { "already-done", "proposed", "applied", "manual",
					   "skipped" };

struct change {
	char *path;     /* relative to the root */
	char *old;      /* NULL: the file does not exist yet */
	char *new_text;
	mode_t mode;    /* the old file's, or 0644 for a new one */
	char *diff;
};

struct item {
	const char *id, *title;
	enum item_status status;
	char notes[2048]; /* lines, each ending in \n */
	char then[512];   /* what to do after applying */
	struct change ch[2];
	size_t n_ch;
	bool regen_grub;
};

struct setup {
	struct cli *c;
	const struct vm_profile *p;
	struct item items[4];
	struct pci_function *fns;
	size_t n_fns;
	const struct pci_function *pass[MAX_PASS];
	size_t n_pass;
	const struct pci_function *host;
	char host_card[32]; /* "card0", "" when the host GPU has no DRM card */
};

_printf_(2, 3) static void note(struct item *it, const char *fmt, ...)
{
	size_t len = strlen(it->notes);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(it->notes + len, sizeof(it->notes) - len, fmt, ap);
	va_end(ap);
	len = strlen(it->notes);
	if (len + 1 < sizeof(it->notes))
		strcat(it->notes, "\n");
}

/* --- files under the root ---------------------------------------------------------------- */

/*
 * A whole small regular file. -ENOENT when absent; -ELOOP for a symlink (setup replaces files
 * by rename, which would replace the link, so it leaves those to the user); -EFBIG, -EBADMSG.
 */
static int load_file(int dirfd, const char *path, char **ret, struct stat *ret_st)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > FILE_MAX)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	n = read_full(fd, buf, (size_t)st.st_size);
	if (n < 0)
		return (int)n;
	len = (size_t)n;
	buf[len] = '\0';
	if (strlen(buf) != len)
		return -EBADMSG; /* a NUL: not a text file we should edit */
	*ret = TAKE_PTR(buf);
	if (ret_st)
		*ret_st = st;
	return 0;
}

/* The temp file next to path: ".NAME.vmrun-PID.tmp", which the ".conf" and ".rules"
 * globs of Xorg and udev do not match. */
static int temp_name(const char *path, char *buf, size_t cap)
{
	const char *slash = strrchr(path, '/');
	int dlen = slash ? (int)(slash - path + 1) : 0;
	int n = snprintf(buf, cap, "%.*s.%s.vmrun-%d.tmp", dlen, path, slash ? slash + 1 : path,
			 (int)getpid());

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Write data to path atomically (temp + fsync + rename); owner set when uid != -1 and root. */
static int write_atomic(int dirfd, const char *path, const char *data, size_t len, mode_t mode,
			uid_t uid, gid_t gid)
{
	char tmp[4096];
	int fd, r;

	r = temp_name(path, tmp, sizeof(tmp));
	if (r < 0)
		return r;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (!r && uid != (uid_t)-1 && geteuid() == 0 && fchown(fd, uid, gid) < 0)
		r = -errno;
	if (!r && fchmod(fd, mode) < 0) /* after fchown, which may clear set-id bits */
		r = -errno;
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && renameat(dirfd, tmp, dirfd, path) < 0)
		r = -errno;
	if (r)
		(void)unlinkat(dirfd, tmp, 0);
	return r;
}

static bool exists_at(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, 0) == 0;
}

/* --- the manifest ------------------------------------------------------------------------ */

/*
 * {"entries": [{"path": P, "existed": true, "backup": "N", "mode": M, "uid": U, "gid": G},
 *              {"path": P, "existed": false}, {"dir": D}]}, in the order things were done;
 * undo walks it backwards. Written (atomically) before each change it describes.
 */
static int manifest_load(int root_fd, json_object **ret)
{
	_cleanup_free_ char *txt = NULL;
	json_object *o, *e;
	int r = load_file(root_fd, MANIFEST, &txt, NULL);

	if (r < 0)
		return r;
	o = json_tokener_parse(txt);
	if (!o || !json_object_object_get_ex(o, "entries", &e) ||
	    !json_object_is_type(e, json_type_array)) {
		json_object_put(o);
		return -EBADMSG;
	}
	*ret = o;
	return 0;
}

static int manifest_save(int root_fd, json_object *m)
{
	const char *s = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE);

	return write_atomic(root_fd, MANIFEST, s, strlen(s), 0600, (uid_t)-1, (gid_t)-1);
}

static json_object *manifest_entries(json_object *m)
{
	json_object *e = NULL;

	(void)json_object_object_get_ex(m, "entries", &e);
	return e;
}

static bool manifest_has(json_object *m, const char *key, const char *path)
{
	json_object *e = manifest_entries(m), *v;

	for (size_t i = 0; i < json_object_array_length(e); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(e, i), key, &v) &&
		    streq(json_object_get_string(v), path))
			return true;
	return false;
}

/* mkdir -p for the setup directory: root-only, since backups may be of root-only files. */
static int ensure_setup_dir(int root_fd)
{
	static const char *const dirs[] = { "var", "var/lib", "var/lib/vmrun", SETUP_DIR };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdirat(root_fd, dirs[i], i + 1 == ARRAY_SIZE(dirs) ? 0700 : 0755) < 0 &&
		    errno != EEXIST)
			return -errno;
	return fchmodat(root_fd, SETUP_DIR, 0700, 0) < 0 ? -errno : 0;
}

/* Create the missing parents of path (0755), each recorded before it is made. */
static int make_parents(int root_fd, json_object *m, const char *path)
{
	char dir[4096];

	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		int r;

		snprintf(dir, sizeof(dir), "%.*s", (int)(s - path), path);
		if (exists_at(root_fd, dir))
			continue;
		json_object *e = json_object_new_object();

		json_object_object_add(e, "dir", json_object_new_string(dir));
		json_object_array_add(manifest_entries(m), e);
		r = manifest_save(root_fd, m);
		if (r < 0)
			return r;
		if (mkdirat(root_fd, dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		(void)fchmodat(root_fd, dir, 0755, 0); /* whatever the umask */
	}
	return 0;
}

/* Back up (once: the first original is the one undo restores), record, then write. */
static int apply_change(int root_fd, json_object *m, const struct change *ch)
{
	struct stat st = { .st_uid = (uid_t)-1, .st_gid = (gid_t)-1 };
	int r;

	if (ch->old && fstatat(root_fd, ch->path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* Parents first, so undo (walking backwards) removes the file before its directories. */
	r = make_parents(root_fd, m, ch->path);
	if (r < 0)
		return r;
	if (!manifest_has(m, "path", ch->path)) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "path", json_object_new_string(ch->path));
		json_object_object_add(e, "existed", json_object_new_boolean(ch->old != NULL));
		if (ch->old) {
			char name[32], bpath[64];

			snprintf(name, sizeof(name), "%zu.orig", json_object_array_length(manifest_entries(m)));
			snprintf(bpath, sizeof(bpath), SETUP_DIR "/%s", name);
			r = write_atomic(root_fd, bpath, ch->old, strlen(ch->old), 0600, (uid_t)-1,
					 (gid_t)-1);
			if (r < 0) {
				json_object_put(e);
				return r;
			}
			json_object_object_add(e, "backup", json_object_new_string(name));
			json_object_object_add(e, "mode", json_object_new_int((int)(st.st_mode & 07777)));
			json_object_object_add(e, "uid", json_object_new_int64(st.st_uid));
			json_object_object_add(e, "gid", json_object_new_int64(st.st_gid));
		}
		json_object_array_add(manifest_entries(m), e);
		r = manifest_save(root_fd, m);
		if (r < 0)
			return r;
	}
	/* New files are root's (we run as root on a real host); edited ones keep their owner. */
	return write_atomic(root_fd, ch->path, ch->new_text, strlen(ch->new_text), ch->mode,
			    ch->old ? st.st_uid : 0, ch->old ? st.st_gid : 0);
}

/* --- proposals --------------------------------------------------------------------------- */

/* Record old -> new_text as a change of it (taking both); equal texts are not a change. */
static int add_change(struct item *it, const char *path, char *old, char *new_text, mode_t mode)
{
	struct change *ch = &it->ch[it->n_ch];
	int r;

	if (!new_text || (old && streq(old, new_text))) {
		free(old);
		free(new_text);
		return 0;
	}
	r = setup_udiff(path, old, new_text, &ch->diff);
	if (r < 0) {
		free(old);
		free(new_text);
		return r;
	}
	ch->path = strdup(path);
	ch->old = old;
	ch->new_text = new_text;
	ch->mode = mode;
	it->n_ch++;
	it->status = IS_PROPOSED;
	return ch->path ? 0 : -ENOMEM;
}

static void item_free(struct item *it)
{
	for (size_t i = 0; i < it->n_ch; i++) {
		free(it->ch[i].path);
		free(it->ch[i].old);
		free(it->ch[i].new_text);
		free(it->ch[i].diff);
	}
}

static const char *regen_command(const struct setup *s, char *const **ret_argv)
{
	static char *const update[] = { (char *)"/usr/sbin/update-grub", NULL };
	static char *const mkconfig[] = { (char *)"/usr/sbin/grub-mkconfig", (char *)"-o",
					  (char *)"/boot/grub/grub.cfg", NULL };
	bool have = faccessat(s->c->root->root_fd, "usr/sbin/update-grub", X_OK, 0) == 0;

	if (ret_argv)
		*ret_argv = have ? update : mkconfig;
	return have ? "update-grub" : "grub-mkconfig -o /boot/grub/grub.cfg";
}

static int item_iommu(struct setup *s, struct item *it)
{
	static const char *const intel[] = { "intel_iommu=on", "iommu=pt", NULL };
	static const char *const amd[] = { "amd_iommu=on", "iommu=pt", NULL };
	_cleanup_free_ char *cmdline = NULL, *grub = NULL, *kcmd = NULL, *new_text = NULL;
	int fd = s->c->root->root_fd;
	const char *const *opts;
	struct iommu_info info;
	struct stat st;
	char want[64];
	int r;

	it->id = "iommu";
	it->title = "IOMMU kernel options";
	(void)iommu_info_read(s->c->root, &info);
	/* An IOMMU the kernel already drives names its vendor (dmar/ivhd); else the CPU's tells. */
	if (info.vendor[0])
		snprintf(info.cpu_vendor, sizeof(info.cpu_vendor), "%s", info.vendor);
	if (!streq(info.cpu_vendor, "intel") && !streq(info.cpu_vendor, "amd")) {
		it->status = IS_MANUAL;
		note(it, "cannot tell the CPU vendor from /proc/cpuinfo: add intel_iommu=on iommu=pt "
			 "(Intel) or amd_iommu=on iommu=pt (AMD) to the kernel command line");
		return 0;
	}
	opts = streq(info.cpu_vendor, "amd") ? amd : intel;
	snprintf(want, sizeof(want), "%s %s", opts[0], opts[1]);
	if (read_text_at(s->c->root->proc_fd, "cmdline", 65536, &cmdline) >= 0 &&
	    setup_tokens_have_all(cmdline, opts)) {
		it->status = IS_DONE;
		note(it, "the running kernel has %s (/proc/cmdline)", want);
		return 0;
	}
	r = load_file(fd, GRUB_FILE, &grub, &st);
	if (r == 0) {
		r = setup_grub_add(grub, opts, &new_text);
		if (r == -EINVAL) {
			it->status = IS_MANUAL;
			note(it, "/%s: GRUB_CMDLINE_LINUX_DEFAULT is too unusual to edit safely: add "
				 "%s to it by hand, run %s and reboot", GRUB_FILE, want,
			     regen_command(s, NULL));
			return 0;
		}
		if (r < 0)
			return r;
		if (!new_text) {
			it->status = IS_DONE;
			note(it, "/%s has %s, but the running kernel does not: run %s (if not done) "
				 "and reboot", GRUB_FILE, want, regen_command(s, NULL));
			return 0;
		}
		note(it, "GRUB: add %s to GRUB_CMDLINE_LINUX_DEFAULT in /%s", want, GRUB_FILE);
		snprintf(it->then, sizeof(it->then), "%s, then reboot", regen_command(s, NULL));
		it->regen_grub = true;
		return add_change(it, GRUB_FILE, TAKE_PTR(grub), TAKE_PTR(new_text), st.st_mode & 07777);
	}
	if (r != -ENOENT)
		goto manual;
	r = load_file(fd, KERNEL_CMDLINE_FILE, &kcmd, &st);
	if (r == 0) {
		r = setup_kernel_cmdline_add(kcmd, opts, &new_text);
		if (r < 0)
			return r;
		if (!new_text) {
			it->status = IS_DONE;
			note(it, "/%s has %s, but the running kernel does not: reinstall the boot "
				 "entry (kernel-install add) and reboot", KERNEL_CMDLINE_FILE, want);
			return 0;
		}
		note(it, "kernel-install: add %s to /%s", want, KERNEL_CMDLINE_FILE);
		snprintf(it->then, sizeof(it->then),
			 "kernel-install add \"$(uname -r)\" \"/boot/vmlinuz-$(uname -r)\", then reboot");
		return add_change(it, KERNEL_CMDLINE_FILE, TAKE_PTR(kcmd), TAKE_PTR(new_text),
				  st.st_mode & 07777);
	}
	if (r != -ENOENT)
		goto manual;
	it->status = IS_MANUAL;
	note(it, "no GRUB (/%s) or kernel-install (/%s) configuration found: add this to your boot "
		 "loader's kernel command line and reboot:", GRUB_FILE, KERNEL_CMDLINE_FILE);
	note(it, "    %s", want);
	return 0;
manual:
	it->status = IS_MANUAL;
	note(it, "cannot edit the boot loader configuration (%s): add %s to the kernel command line "
		 "by hand", strerror(-r), want);
	return 0;
}

/* "card0" of a PCI display device, "" when it has no DRM card. */
static void drm_card_of(const struct sysroot *root, const char *addr, char *buf, size_t cap)
{
	char path[128];
	struct dirent *de;
	DIR *d;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "bus/pci/devices/%s/drm", addr);
	fd = root->sys_fd < 0 ? -1 : openat(root->sys_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		safe_close(fd);
		return;
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;

		if (strncmp(n, "card", 4) == 0 && isdigit((unsigned char)n[4]) &&
		    strspn(n + 4, "0123456789") == strlen(n + 4) &&
		    strlen(n) < cap && (!buf[0] || strcmp(n, buf) < 0))
			memcpy(buf, n, strlen(n) + 1);
	}
	closedir(d);
}

static const char *pass_list(const struct setup *s, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_pass && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", s->pass[i]->name);
	return buf;
}

static int xorg_snippet(const struct setup *s, char **ret)
{
	const struct pci_function *h = s->host;
	bool nvidia = streq(h->driver, "nvidia");
	char busid[48], pass[256];

	/* Xorg's BusID is decimal, with the domain after an @ when it is not 0. */
	if (h->addr.domain)
		snprintf(busid, sizeof(busid), "PCI:%u@%u:%u:%u", h->addr.bus, h->addr.domain,
			 h->addr.dev, h->addr.fn);
	else
		snprintf(busid, sizeof(busid), "PCI:%u:%u:%u", h->addr.bus, h->addr.dev, h->addr.fn);
	return asprintf(ret,
			"# Written by `vmrun setup` (`vmrun setup --undo` removes it).\n"
			"# Keeps Xorg off the GPU(s) passed through to VMs (%s), so they can go to\n"
			"# vfio-pci and back while X keeps running on the host GPU %s.\n"
			"# AutoAddGPU off: X does not add the other GPUs as secondary (PRIME) screens.\n"
			"Section \"ServerFlags\"\n"
			"    Option \"AutoAddGPU\" \"off\"\n"
			"EndSection\n"
			"\n"
			"Section \"Device\"\n"
			"    Identifier \"vmrun-host-gpu\"\n"
			"    Driver \"%s\"\n"
			"    BusID \"%s\"\n"
			"%s%s%s"
			"EndSection\n",
			pass_list(s, pass, sizeof(pass)), h->name, nvidia ? "nvidia" : "modesetting",
			busid, !nvidia && s->host_card[0] ? "    Option \"kmsdev\" \"/dev/dri/" : "",
			!nvidia && s->host_card[0] ? s->host_card : "",
			!nvidia && s->host_card[0] ? "\"\n" : "") < 0 ?
		       -ENOMEM :
		       0;
}

static const char nvidia_header[] =
	"# Written by `vmrun setup` (`vmrun setup --undo` removes it).\n"
	"# It shadows /usr/share/X11/xorg.conf.d/" NVIDIA_CONF ": Xorg reads only\n"
	"# the /etc/X11/xorg.conf.d one of two same-named files. The same OutputClass, without\n"
	"# Option \"PrimaryGPU\" \"yes\": with it, Xorg makes an NVIDIA card its primary GPU even\n"
	"# when that card is the one passed through to VMs, holds it, and it cannot be detached.\n";

static int item_nvidia(struct setup *s, struct item *it)
{
	_cleanup_free_ char *etc = NULL, *usr = NULL, *new_text = NULL;
	int fd = s->c->root->root_fd;
	struct stat st;
	int r;

	r = load_file(fd, "etc/X11/xorg.conf.d/" NVIDIA_CONF, &etc, &st);
	if (r == 0) {
		if (!setup_xorg_has_primary_gpu(etc))
			return 0;
		r = setup_xorg_drop_primary_gpu(etc, strstr(etc, "vmrun setup") ? "" : nvidia_header,
						&new_text);
		if (r < 0)
			return r;
		note(it, "/etc/X11/xorg.conf.d/%s sets PrimaryGPU: dropped", NVIDIA_CONF);
		return add_change(it, "etc/X11/xorg.conf.d/" NVIDIA_CONF, TAKE_PTR(etc),
				  TAKE_PTR(new_text), st.st_mode & 07777);
	}
	if (r != -ENOENT)
		return r;
	if (load_file(fd, "usr/share/X11/xorg.conf.d/" NVIDIA_CONF, &usr, NULL) < 0 ||
	    !setup_xorg_has_primary_gpu(usr))
		return 0;
	r = setup_xorg_drop_primary_gpu(usr, nvidia_header, &new_text);
	if (r < 0)
		return r;
	note(it, "/usr/share/X11/xorg.conf.d/%s makes NVIDIA cards the primary GPU: shadowed "
		 "without PrimaryGPU", NVIDIA_CONF);
	return add_change(it, "etc/X11/xorg.conf.d/" NVIDIA_CONF, NULL, TAKE_PTR(new_text), 0644);
}

static int item_xorg(struct setup *s, struct item *it)
{
	_cleanup_free_ char *old = NULL, *new_text = NULL;
	struct stat st = { .st_mode = 0644 };
	char pass[256];
	int r;

	it->id = "xorg";
	it->title = "Xorg: keep X off the passthrough GPU";
	it->status = IS_DONE;
	if (!s->n_pass) {
		it->status = IS_SKIPPED;
		note(it, "no display device to pass through%s", s->p ? " in the profile" : "");
		return 0;
	}
	if (!s->host) {
		it->status = IS_MANUAL;
		note(it, "no display device left for the host%s: give a PROFILE naming the GPU the "
			 "VM gets", s->p ? "" : " (no boot_vga=1 GPU)");
		return 0;
	}
	note(it, "passthrough: %s; host display: %s%s%s", pass_list(s, pass, sizeof(pass)),
	     s->host->name, s->host_card[0] ? " /dev/dri/" : " (no DRM card)", s->host_card);
	r = load_file(s->c->root->root_fd, XORG_SNIPPET, &old, &st);
	if (r < 0 && r != -ENOENT) {
		it->status = IS_MANUAL;
		note(it, "cannot edit /%s: %s", XORG_SNIPPET, strerror(-r));
		return 0;
	}
	r = xorg_snippet(s, &new_text);
	if (r < 0)
		return r;
	r = add_change(it, XORG_SNIPPET, TAKE_PTR(old), TAKE_PTR(new_text), st.st_mode & 07777);
	if (r < 0)
		return r;
	r = item_nvidia(s, it);
	if (r < 0)
		return r;
	if (it->n_ch)
		snprintf(it->then, sizeof(it->then), "restart X (log out and in) once");
	return 0;
}

static int item_wayland(struct setup *s, struct item *it)
{
	int fd = s->c->root->root_fd;
	const char *card = s->host_card[0] ? s->host_card : "cardN";

	it->id = "wayland";
	it->title = "Wayland compositors";
	it->status = IS_MANUAL;
	if (!s->n_pass || !s->host) {
		it->status = IS_SKIPPED;
		note(it, "no passthrough GPU and host GPU to tell apart (see the Xorg item)");
		return 0;
	}
	if (exists_at(fd, "usr/bin/gnome-shell") || exists_at(fd, "usr/bin/mutter")) {
		_cleanup_free_ char *old = NULL, *new_text = NULL;
		struct stat st = { .st_mode = 0644 };
		size_t len = 0;
		FILE *f = open_memstream(&new_text, &len);
		int r;

		if (!f)
			return -ENOMEM;
		fputs("# Written by `vmrun setup` (`vmrun setup --undo` removes it).\n"
		      "# GNOME's mutter leaves DRM devices tagged mutter-device-ignore alone (releases\n"
		      "# since 2022; older ones ignore the tag): the GPU(s) passed through to VMs can go to\n"
		      "# vfio-pci and back during a Wayland session. Applies from the next boot (or udevadm trigger).\n",
		      f);
		for (size_t i = 0; i < s->n_pass; i++)
			fprintf(f, "SUBSYSTEM==\"drm\", KERNELS==\"%s\", TAG+=\"mutter-device-ignore\"\n",
				s->pass[i]->name);
		if (fclose(f) != 0)
			return -ENOMEM;
		r = load_file(fd, MUTTER_RULE, &old, &st);
		if (r < 0 && r != -ENOENT) {
			note(it, "cannot edit /%s: %s", MUTTER_RULE, strerror(-r));
		} else {
			note(it, "GNOME (mutter): a udev rule tags the passthrough card mutter-device-ignore");
			r = add_change(it, MUTTER_RULE, TAKE_PTR(old), TAKE_PTR(new_text), st.st_mode & 07777);
			if (r < 0)
				return r;
			if (!it->n_ch)
				it->status = IS_DONE;
		}
	} else {
		note(it, "GNOME (mutter): not installed; no udev rule written");
	}
	/*
	 * KWin is started by startplasma-wayland from the display manager's session, not from
	 * the systemd user manager, so /etc/environment.d is not known to reach it: a manual step.
	 * Both variables are colon-separated lists, so /dev/dri/by-path names cannot be used.
	 */
	note(it, "KWin (Plasma): manual step: export KWIN_DRM_DEVICES=/dev/dri/%s in "
		 "~/.config/plasma-workspace/env/vmrun.sh", card);
	note(it, "wlroots (sway, ...): manual step: start it with WLR_DRM_DEVICES=/dev/dri/%s", card);
	note(it, "(cardN numbers follow probe order: check them after kernel or hardware changes)");
	return 0;
}

/* The user to allow: SUDO_USER under sudo, else the real user; NULL for plain root. */
static const char *invoking_user(void)
{
	const char *su = getenv("SUDO_USER");
	struct passwd *pw;

	if (getuid() == 0)
		return su && *su && !streq(su, "root") ? su : NULL;
	pw = getpwuid(getuid());
	return pw ? pw->pw_name : NULL;
}

static int item_allow(struct setup *s, struct item *it)
{
	_cleanup_free_ char *old = NULL, *text = NULL;
	struct stat st = { .st_mode = 0644 };
	const char *user = invoking_user();
	char devs[MAX_PASS][PCI_ADDR_STR_MAX];
	size_t n = 0;
	int r;

	it->id = "allow";
	it->title = "Allow-file entry (/" ALLOW_FILE ")";
	it->status = IS_DONE;
	if (s->p) {
		/* The profile's display devices; every device when it names none. */
		for (size_t i = 0; i < s->n_pass && n < MAX_PASS; i++)
			snprintf(devs[n++], PCI_ADDR_STR_MAX, "%s", s->pass[i]->name);
		for (size_t i = 0; !s->n_pass && i < s->p->n_pci && n < MAX_PASS; i++)
			pci_addr_format(&s->p->pci[i].address, devs[n++]);
	} else {
		for (size_t i = 0; i < s->n_pass && n < MAX_PASS; i++)
			snprintf(devs[n++], PCI_ADDR_STR_MAX, "%s", s->pass[i]->name);
	}
	if (!n) {
		it->status = IS_SKIPPED;
		note(it, "no device to allow");
		return 0;
	}
	if (!user) {
		it->status = IS_SKIPPED;
		note(it, "run as root without sudo: no user to allow; add a line like this one to "
			 "/%s:", ALLOW_FILE);
		note(it, "    - {device: \"%s\", users: [NAME]}", devs[0]);
		return 0;
	}
	r = load_file(s->c->root->root_fd, ALLOW_FILE, &old, &st);
	if (r < 0 && r != -ENOENT) {
		it->status = IS_MANUAL;
		note(it, "cannot edit /%s: %s", ALLOW_FILE, strerror(-r));
		return 0;
	}
	text = strdup(old ? old : "");
	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char *next = NULL;

		r = setup_allow_add(text, devs[i], user, &next);
		if (r == -EINVAL) {
			it->status = IS_MANUAL;
			note(it, "user name '%s' is not a plain POSIX name: edit /%s by hand", user,
			     ALLOW_FILE);
			return 0;
		}
		if (r == -EBADMSG) {
			it->status = IS_MANUAL;
			note(it, "/%s is not valid (see `vmrun-helper`'s rules in vmrun(1)): fix it by "
			     "hand, then run setup again", ALLOW_FILE);
			return 0;
		}
		if (r < 0)
			return r;
		if (next) {
			note(it, "allow %s to switch %s", user, devs[i]);
			free(text);
			text = next;
		} else {
			note(it, "%s may already switch %s", user, devs[i]);
		}
	}
	/* Root-owned and world-readable, in a root-owned directory: the helper refuses it otherwise. */
	return add_change(it, ALLOW_FILE, TAKE_PTR(old), TAKE_PTR(text),
			  old ? st.st_mode & 07777 : 0644);
}

/* Which display devices go to VMs and which one the host keeps. EXIT_USAGE if the profile
 * names a device this host does not have. */
static int find_gpus(struct setup *s)
{
	int r = pci_function_list(s->c->root, &s->fns, &s->n_fns);

	if (r < 0) {
		s->fns = NULL;
		s->n_fns = 0;
	}
	for (size_t i = 0; s->p && i < s->p->n_pci; i++) {
		struct pci_function f;
		char a[PCI_ADDR_STR_MAX];

		if (pci_function_read(s->c->root, &s->p->pci[i].address, &f) < 0) {
			log_err("%s: no PCI device %s on this host (see `vmrun gpus`)", s->p->source,
				pci_addr_format(&s->p->pci[i].address, a));
			return EXIT_USAGE;
		}
	}
	for (size_t i = 0; i < s->n_fns; i++) {
		const struct pci_function *f = &s->fns[i];
		bool pass = false;

		if (!pci_is_display(f))
			continue;
		if (s->p)
			for (size_t k = 0; k < s->p->n_pci; k++)
				pass |= pci_addr_eq(&s->p->pci[k].address, &f->addr);
		else
			pass = f->boot_vga != 1;
		if (pass && s->n_pass < MAX_PASS)
			s->pass[s->n_pass++] = f;
		else if (!pass && (!s->host || (f->boot_vga == 1 && s->host->boot_vga != 1)))
			s->host = f;
	}
	if (s->host)
		drm_card_of(s->c->root, s->host->name, s->host_card, sizeof(s->host_card));
	return 0;
}

/* --- running the boot loader's regenerate command ----------------------------------------- */

/* fork/exec without a shell; its output goes to stderr so stdout stays ours (--json). */
static int run_command(char *const argv[])
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		(void)dup2(STDERR_FILENO, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* On the real root, regenerate grub.cfg; on a fake one, only say what would run. */
static int regen_grub(const struct setup *s, char *msg, size_t cap)
{
	char *const *argv;
	const char *cmd = regen_command(s, &argv);
	int r;

	if (!streq(s->c->root->path, "/")) {
		snprintf(msg, cap, "not run on a --root tree: %s", cmd);
		return 0;
	}
	r = run_command(argv);
	if (r == 0) {
		snprintf(msg, cap, "ran %s: ok; reboot to use the new options", cmd);
		return 0;
	}
	snprintf(msg, cap, "%s failed (%s %d): run it yourself", cmd, r < 0 ? "error" : "exit",
		 r < 0 ? -r : r);
	log_err("%s failed (%s %d): run it yourself, then reboot", cmd, r < 0 ? "error" : "exit",
		r < 0 ? -r : r);
	return -EIO;
}

/* --- output ------------------------------------------------------------------------------ */

static void print_text(const struct setup *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(s->items); i++) {
		const struct item *it = &s->items[i];

		printf("[%s] %s\n", status_name[it->status], it->title);
		for (const char *l = it->notes; *l;) {
			const char *e = strchr(l, '\n');

			printf("  %.*s\n", (int)(e ? e - l : (long)strlen(l)), l);
			l = e ? e + 1 : l + strlen(l);
		}
		for (size_t k = 0; k < it->n_ch; k++)
			fputs(it->ch[k].diff, stdout);
		if (it->then[0] && (it->status == IS_PROPOSED || it->status == IS_APPLIED))
			printf("  then: %s\n", it->then);
		putchar('\n');
	}
}

static json_object *notes_json(const char *notes)
{
	json_object *a = json_object_new_array();

	for (const char *l = notes; *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);

		json_object_array_add(a, json_object_new_string_len(l, (int)n));
		l += n + (e != NULL);
	}
	return a;
}

static void print_json(const struct setup *s, size_t pending, size_t applied)
{
	json_object *root = json_object_new_object(), *items = json_object_new_array();

	for (size_t i = 0; i < ARRAY_SIZE(s->items); i++) {
		const struct item *it = &s->items[i];
		json_object *o = json_object_new_object(), *diffs = json_object_new_array();

		json_object_object_add(o, "id", json_object_new_string(it->id));
		json_object_object_add(o, "title", json_object_new_string(it->title));
		json_object_object_add(o, "status", json_object_new_string(status_name[it->status]));
		json_object_object_add(o, "notes", notes_json(it->notes));
		for (size_t k = 0; k < it->n_ch; k++) {
			json_object *d = json_object_new_object();
			char path[4200];

			snprintf(path, sizeof(path), "/%s", it->ch[k].path);
			json_object_object_add(d, "path", json_object_new_string(path));
			json_object_object_add(d, "created", json_object_new_boolean(!it->ch[k].old));
			json_object_object_add(d, "diff", json_object_new_string(it->ch[k].diff));
			json_object_array_add(diffs, d);
		}
		json_object_object_add(o, "diffs", diffs);
		json_object_object_add(o, "then", json_str_or_null(it->then));
		json_object_array_add(items, o);
	}
	json_object_object_add(root, "items", items);
	json_object_object_add(root, "pending", json_object_new_int((int)pending));
	json_object_object_add(root, "applied", json_object_new_int((int)applied));
	json_print(root);
	json_object_put(root);
}

static bool ask(void)
{
	char line[16];

	printf("Apply? [y/N] ");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

/* --- apply and undo ---------------------------------------------------------------------- */

static int apply_all(struct setup *s, size_t *ret_applied, char *regen_msg, size_t cap)
{
	int fd = s->c->root->root_fd, r;
	json_object *m = NULL;
	size_t applied = 0;

	r = ensure_setup_dir(fd);
	if (r < 0) {
		log_err("Cannot create /%s: %s", SETUP_DIR, strerror(-r));
		return EXIT_ERROR;
	}
	r = manifest_load(fd, &m);
	if (r == -ENOENT) {
		m = json_object_new_object();
		json_object_object_add(m, "entries", json_object_new_array());
	} else if (r < 0) {
		log_err("Cannot read /%s: %s", MANIFEST, strerror(-r));
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < ARRAY_SIZE(s->items); i++) {
		struct item *it = &s->items[i];

		for (size_t k = 0; k < it->n_ch; k++) {
			r = apply_change(fd, m, &it->ch[k]);
			if (r < 0) {
				log_err("Cannot write /%s: %s%s (applied so far: %zu; `vmrun setup "
					"--undo` reverts them)", it->ch[k].path, strerror(-r),
					r == -EACCES || r == -EPERM ? ", run as root" : "", applied);
				json_object_put(m);
				*ret_applied = applied;
				return EXIT_ERROR;
			}
			applied++;
		}
		if (it->n_ch)
			it->status = IS_APPLIED;
	}
	json_object_put(m);
	*ret_applied = applied;
	if (s->items[0].regen_grub && s->items[0].status == IS_APPLIED) {
		r = regen_grub(s, regen_msg, cap);
		snprintf(s->items[0].then, sizeof(s->items[0].then), "%s", regen_msg);
		if (r < 0)
			return EXIT_ERROR;
	}
	return EXIT_OK;
}

static int undo(struct cli *c, bool json)
{
	int fd = c->root->root_fd, r, rc = EXIT_OK;
	json_object *m = NULL, *e, *out = json_object_new_array();
	bool grub = false;
	char regen[512] = "";

	r = manifest_load(fd, &m);
	if (r == -ENOENT) {
		json_object_put(out);
		if (json) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "undone", json_object_new_array());
			json_print(o);
			json_object_put(o);
		} else {
			printf("Nothing to undo: vmrun setup has not changed anything here.\n");
		}
		return EXIT_OK;
	}
	if (r < 0) {
		json_object_put(out);
		log_err("Cannot read /%s: %s", MANIFEST, strerror(-r));
		return EXIT_ERROR;
	}
	e = manifest_entries(m);
	for (size_t i = json_object_array_length(e); i-- > 0;) {
		json_object *en = json_object_array_get_idx(e, i), *v, *o = json_object_new_object();
		const char *path, *action;
		char full[4200];

		if (json_object_object_get_ex(en, "dir", &v)) {
			path = json_object_get_string(v);
			action = unlinkat(fd, path, AT_REMOVEDIR) == 0 || errno == ENOENT ? "removed" :
				 errno == ENOTEMPTY || errno == EEXIST		   ? "kept (not empty)" :
											     "failed";
		} else if (json_object_object_get_ex(en, "path", &v)) {
			json_object *b;

			path = json_object_get_string(v);
			if (json_object_object_get_ex(en, "backup", &b)) {
				_cleanup_free_ char *data = NULL;
				char bpath[128];
				json_object *jm, *ju, *jg;

				snprintf(bpath, sizeof(bpath), SETUP_DIR "/%s", json_object_get_string(b));
				(void)json_object_object_get_ex(en, "mode", &jm);
				(void)json_object_object_get_ex(en, "uid", &ju);
				(void)json_object_object_get_ex(en, "gid", &jg);
				r = load_file(fd, bpath, &data, NULL);
				if (r == 0)
					r = write_atomic(fd, path, data, strlen(data),
							 (mode_t)json_object_get_int(jm),
							 (uid_t)json_object_get_int64(ju),
							 (gid_t)json_object_get_int64(jg));
				action = r == 0 ? "restored" : "failed";
				grub |= r == 0 && streq(path, GRUB_FILE);
			} else {
				action = unlinkat(fd, path, 0) == 0 || errno == ENOENT ? "removed" : "failed";
				r = -errno;
			}
		} else {
			json_object_put(o);
			continue;
		}
		if (streq(action, "failed")) {
			log_err("Cannot undo /%s: %s", path, strerror(r < 0 ? -r : errno));
			rc = EXIT_ERROR;
		}
		snprintf(full, sizeof(full), "/%s", path);
		json_object_object_add(o, "path", json_object_new_string(full));
		json_object_object_add(o, "action", json_object_new_string(action));
		json_object_array_add(out, o);
		if (!json)
			printf("%-16s %s\n", action, full);
	}
	if (rc == EXIT_OK) {
		/* Everything is back: the backups and the manifest go too. */
		for (size_t i = 0; i < json_object_array_length(e); i++) {
			json_object *b;
			char bpath[128];

			if (!json_object_object_get_ex(json_object_array_get_idx(e, i), "backup", &b))
				continue;
			snprintf(bpath, sizeof(bpath), SETUP_DIR "/%s", json_object_get_string(b));
			(void)unlinkat(fd, bpath, 0);
		}
		(void)unlinkat(fd, MANIFEST, 0);
		(void)unlinkat(fd, SETUP_DIR, AT_REMOVEDIR);
	}
	json_object_put(m);
	if (grub) {
		struct setup s = { .c = c };

		if (regen_grub(&s, regen, sizeof(regen)) < 0)
			rc = EXIT_ERROR;
	}
	if (json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "undone", out);
		json_object_object_add(o, "then", json_str_or_null(regen));
		json_print(o);
		json_object_put(o);
	} else {
		json_object_put(out);
		if (regen[0])
			printf("then: %s\n", regen);
		printf(rc ? "Undo incomplete: see the errors above; the manifest is kept in /%s.\n" :
			    "Undone: every file vmrun setup changed is back as it was.\n",
		       SETUP_DIR);
	}
	return rc;
}

/* --- the command ------------------------------------------------------------------------- */

int cmd_setup(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "yes", no_argument, NULL, 'y' },
					      { "undo", no_argument, NULL, 'u' },
					      { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	struct vm_profile *p = NULL;
	struct setup s = { .c = c };
	bool yes = false, do_undo = false, json = c->json, shown = false;
	size_t pending = 0, applied = 0;
	char regen[512] = "";
	int o, r, rc = EXIT_OK;
	int (*const steps[])(struct setup *, struct item *) = { item_iommu, item_xorg, item_wayland,
								 item_allow };

	while ((o = getopt_long(argc, argv, "+yujh", opts, NULL)) != -1) {
		if (o == 'y')
			yes = true;
		else if (o == 'u')
			do_undo = true;
		else if (o == 'j')
			json = true;
		else if (o == 'h') {
			printf("vmrun setup [--yes] [--undo] [--json] [PROFILE]\n"
			       "  Propose the host set-up for GPU passthrough as diffs: IOMMU kernel "
			       "options, an Xorg\n  snippet, Wayland compositors, the allow-file entry. "
			       "--yes applies them (backups in\n  /%s), --undo restores every file "
			       "it changed.\n", SETUP_DIR);
			return EXIT_OK;
		} else
			return EXIT_USAGE;
	}
	if (argc - optind > 1) {
		log_err("setup: expected at most one profile");
		return EXIT_USAGE;
	}
	if (do_undo)
		return undo(c, json);
	if (optind < argc) {
		r = cli_load_profile(argv[optind], &p);
		if (r)
			return r;
	}
	s.p = p;
	rc = find_gpus(&s);
	for (size_t i = 0; rc == EXIT_OK && i < ARRAY_SIZE(steps); i++) {
		r = steps[i](&s, &s.items[i]);
		if (r < 0) {
			log_err("setup: %s: %s", s.items[i].title, strerror(-r));
			rc = EXIT_ERROR;
		}
		pending += s.items[i].n_ch;
	}
	if (rc != EXIT_OK)
		goto out;
	if (pending && !yes && !json && isatty(STDIN_FILENO)) {
		print_text(&s);
		shown = true;
		yes = ask();
		if (!yes) {
			printf("Nothing changed.\n");
			goto out;
		}
	} else if (!json && (!pending || !yes)) {
		print_text(&s);
	}
	if (pending && yes)
		rc = apply_all(&s, &applied, regen, sizeof(regen));
	if (json) {
		print_json(&s, pending, applied);
	} else if (pending && yes) {
		if (rc == EXIT_OK) {
			if (!shown)
				print_text(&s);
			printf("Applied: %zu file%s changed; originals in /%s (`vmrun setup --undo` "
			       "reverts).\n", applied, applied == 1 ? "" : "s", SETUP_DIR);
		}
	} else if (!pending) {
		printf("Nothing to do: everything vmrun setup can change is already set up%s.\n",
		       s.items[0].status == IS_MANUAL || s.items[2].status == IS_MANUAL ?
			       " (the manual steps above are yours)" : "");
	} else {
		printf("%zu file%s would change. Run `vmrun setup --yes%s%s` to apply "
		       "(`vmrun setup --undo` reverts).\n", pending, pending == 1 ? "" : "s",
		       p ? " " : "", p ? p->source : "");
	}
out:
	for (size_t i = 0; i < ARRAY_SIZE(s.items); i++)
		item_free(&s.items[i]);
	free(s.fns);
	profile_free(p);
	return rc;
}
