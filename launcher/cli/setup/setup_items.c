/* SPDX-License-Identifier: MIT */
/* What setup proposes: which GPUs go to VMs and which one the host keeps, and the four items. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pwd.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "setup.h"
#include "gpu.h"
#include "util.h"
#include "console.h"
#include "devnodes.h"
#include "iommu.h"
#include "kernel.h"
#include "setup_edit.h"

/* GRUB's defaults file: 1 proposed or settled (it), 0 there is none, <0 an error. */
static int iommu_grub(struct setup *s, struct item *it, const char *const *opts, const char *want)
{
	_cleanup_free_ char *grub = NULL, *new_text = NULL;
	struct stat st;
	int r = read_file_at(s->c->root->root_fd, GRUB_FILE, FILE_MAX, READ_REGULAR | READ_TEXT,
			     &grub, NULL, &st);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = setup_grub_add(grub, opts, &new_text);
	if (r == -EINVAL) {
		it->status = IS_MANUAL;
		item_note(it, "/%s: GRUB_CMDLINE_LINUX_DEFAULT is too unusual to edit safely: add %s to it "
			 "by hand, run %s and reboot", GRUB_FILE, want, setup_regen_command(s, NULL));
		return 1;
	}
	if (r < 0)
		return r;
	if (!new_text) {
		it->status = IS_DONE;
		item_note(it, "/%s has %s, but the running kernel does not: run %s (if not done) and reboot",
		     GRUB_FILE, want, setup_regen_command(s, NULL));
		return 1;
	}
	item_note(it, "GRUB: add %s to GRUB_CMDLINE_LINUX_DEFAULT in /%s", want, GRUB_FILE);
	snprintf(it->then, sizeof(it->then), "%s, then reboot", setup_regen_command(s, NULL));
	it->regen_grub = true;
	r = item_add_change(it, GRUB_FILE, TAKE_PTR(grub), TAKE_PTR(new_text), st.st_mode & 07777);
	return r < 0 ? r : 1;
}

/* kernel-install's /etc/kernel/cmdline: as iommu_grub(). */
static int iommu_kernel_install(struct setup *s, struct item *it, const char *const *opts,
				const char *want)
{
	_cleanup_free_ char *kcmd = NULL, *new_text = NULL;
	struct stat st;
	int r = read_file_at(s->c->root->root_fd, KERNEL_CMDLINE_FILE, FILE_MAX,
			     READ_REGULAR | READ_TEXT, &kcmd, NULL, &st);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = setup_kernel_cmdline_add(kcmd, opts, &new_text);
	if (r < 0)
		return r;
	if (!new_text) {
		it->status = IS_DONE;
		item_note(it, "/%s has %s, but the running kernel does not: reinstall the boot entry "
			 "(kernel-install add) and reboot", KERNEL_CMDLINE_FILE, want);
		return 1;
	}
	item_note(it, "kernel-install: add %s to /%s", want, KERNEL_CMDLINE_FILE);
	snprintf(it->then, sizeof(it->then),
		 "kernel-install add \"$(uname -r)\" \"/boot/vmlinuz-$(uname -r)\", then reboot");
	r = item_add_change(it, KERNEL_CMDLINE_FILE, TAKE_PTR(kcmd), TAKE_PTR(new_text), st.st_mode & 07777);
	return r < 0 ? r : 1;
}

/* The options the IOMMU needs: an IOMMU the kernel already drives names its vendor (dmar/ivhd);
 * else the CPU's tells. NULL when neither says. */
static const char *const *iommu_opts(const struct setup *s)
{
	static const char *const intel[] = { "intel_iommu=on", "iommu=pt", NULL };
	static const char *const amd[] = { "amd_iommu=on", "iommu=pt", NULL };
	struct iommu_info info;
	const char *vendor;

	(void)iommu_info_read(s->c->root, &info);
	vendor = info.vendor[0] ? info.vendor : info.cpu_vendor;
	return streq(vendor, "amd") ? amd : streq(vendor, "intel") ? intel : NULL;
}

/*
 * fbcon=map:N when the text console is on a passthrough GPU's framebuffer (the card probed
 * first, or the firmware boots on it): the switch moves it for each run, this keeps it on the
 * host GPU's framebuffer from boot. "" when not needed (or the command line maps it already).
 */
static void console_opt(struct setup *s, const char *cmdline, struct item *it, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (cmdline && strstr(cmdline, "fbcon=map:"))
		return; /* the administrator's own map stays */
	for (size_t i = 0; i < s->n_pass && !buf[0]; i++) {
		struct devnode_set nodes = { 0 };
		struct console_move m;

		if (devnodes_collect(s->c->root, s->pass[i], &nodes) == 0 &&
		    console_plan(s->c->root, &kernel_real, &nodes, &m) == 0 && m.needed) {
			if (m.to_fb >= 0) {
				snprintf(buf, cap, "fbcon=map:%d", m.to_fb);
				item_note(it, "the text console is on %s's framebuffer fb%u: fbcon=map:%d keeps "
					 "it on fb%d (%s) from boot (framebuffer numbers follow the order "
					 "the GPU drivers load in)", s->pass[i]->name, m.v[0].fb, m.to_fb,
				     m.to_fb, m.to_dev);
			} else {
				item_note(it, "the text console is on %s's framebuffer and no other "
					 "framebuffer exists to take it: load the host GPU's driver first",
				     s->pass[i]->name);
			}
		}
		devnode_set_clear(&nodes);
	}
}

int item_iommu(struct setup *s, struct item *it)
{
	_cleanup_free_ char *cmdline = NULL;
	const char *const *iommu = iommu_opts(s);
	const char *opts[4] = { NULL };
	char want[96], fbcon[32];
	int r;

	it->id = "iommu";
	it->title = "IOMMU kernel options";
	if (!iommu) {
		it->status = IS_MANUAL;
		item_note(it, "cannot tell the CPU vendor from /proc/cpuinfo: add intel_iommu=on iommu=pt "
			 "(Intel) or amd_iommu=on iommu=pt (AMD) to the kernel command line");
		return 0;
	}
	(void)read_file_at(s->c->root->proc_fd, "cmdline", 65536, READ_TRUNCATE, &cmdline, NULL, NULL);
	console_opt(s, cmdline, it, fbcon, sizeof(fbcon));
	opts[0] = iommu[0];
	opts[1] = iommu[1];
	opts[2] = fbcon[0] ? fbcon : NULL;
	if (fbcon[0])
		it->title = "Kernel options (IOMMU, text console)";
	snprintf(want, sizeof(want), "%s %s%s%s", opts[0], opts[1], fbcon[0] ? " " : "", fbcon);
	if (cmdline && setup_tokens_have_all(cmdline, opts)) {
		it->status = IS_DONE;
		item_note(it, "the running kernel has %s (/proc/cmdline)", want);
		return 0;
	}
	r = iommu_grub(s, it, opts, want);
	if (r == 0)
		r = iommu_kernel_install(s, it, opts, want);
	if (r > 0 || r == -ENOMEM)
		return r > 0 ? 0 : r;
	it->status = IS_MANUAL;
	if (r < 0) {
		item_note(it, "cannot edit the boot loader configuration (%s): add %s to the kernel "
			 "command line by hand", strerror(-r), want);
		return 0;
	}
	item_note(it, "no GRUB (/%s) or kernel-install (/%s) configuration found: add this to your boot "
		 "loader's kernel command line and reboot:", GRUB_FILE, KERNEL_CMDLINE_FILE);
	item_note(it, "    %s", want);
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

	r = read_file_at(fd, "etc/X11/xorg.conf.d/" NVIDIA_CONF, FILE_MAX, READ_REGULAR | READ_TEXT, &etc, NULL, &st);
	if (r == 0) {
		if (!setup_xorg_has_primary_gpu(etc))
			return 0;
		r = setup_xorg_drop_primary_gpu(etc, strstr(etc, "vmrun setup") ? "" : nvidia_header,
						&new_text);
		if (r < 0)
			return r;
		item_note(it, "/etc/X11/xorg.conf.d/%s sets PrimaryGPU: dropped", NVIDIA_CONF);
		return item_add_change(it, "etc/X11/xorg.conf.d/" NVIDIA_CONF, TAKE_PTR(etc),
				  TAKE_PTR(new_text), st.st_mode & 07777);
	}
	if (r != -ENOENT)
		return r;
	if (read_file_at(fd, "usr/share/X11/xorg.conf.d/" NVIDIA_CONF, FILE_MAX, READ_REGULAR | READ_TEXT, &usr, NULL, NULL) < 0 ||
	    !setup_xorg_has_primary_gpu(usr))
		return 0;
	r = setup_xorg_drop_primary_gpu(usr, nvidia_header, &new_text);
	if (r < 0)
		return r;
	item_note(it, "/usr/share/X11/xorg.conf.d/%s makes NVIDIA cards the primary GPU: shadowed "
		 "without PrimaryGPU", NVIDIA_CONF);
	return item_add_change(it, "etc/X11/xorg.conf.d/" NVIDIA_CONF, NULL, TAKE_PTR(new_text), 0644);
}

int item_xorg(struct setup *s, struct item *it)
{
	_cleanup_free_ char *old = NULL, *new_text = NULL;
	struct stat st = { .st_mode = 0644 };
	char pass[256];
	int r;

	it->id = "xorg";
	it->title = "Xorg: keep X off the passthrough GPU";
	it->status = IS_DONE;
	if (s->host_unknown) {
		it->status = IS_MANUAL;
		item_note(it, "cannot tell which GPU the host displays on (no boot_vga=1 GPU, none drives "
			 "the console): give a PROFILE naming the GPU the VM gets");
		return 0;
	}
	if (!s->n_pass) {
		it->status = IS_SKIPPED;
		item_note(it, "no display device to pass through%s", s->p ? " in the profile" : "");
		return 0;
	}
	if (!s->host) {
		it->status = IS_MANUAL;
		item_note(it, "no display device left for the host%s: give a PROFILE naming the GPU the "
			 "VM gets", s->p ? "" : " (no boot_vga=1 GPU)");
		return 0;
	}
	item_note(it, "passthrough: %s; host display: %s%s%s", pass_list(s, pass, sizeof(pass)),
	     s->host->name, s->host_card[0] ? " /dev/dri/" : " (no DRM card)", s->host_card);
	r = read_file_at(s->c->root->root_fd, XORG_SNIPPET, FILE_MAX, READ_REGULAR | READ_TEXT, &old, NULL, &st);
	if (r < 0 && r != -ENOENT) {
		it->status = IS_MANUAL;
		item_note(it, "cannot edit /%s: %s", XORG_SNIPPET, strerror(-r));
		return 0;
	}
	r = xorg_snippet(s, &new_text);
	if (r < 0)
		return r;
	r = item_add_change(it, XORG_SNIPPET, TAKE_PTR(old), TAKE_PTR(new_text), st.st_mode & 07777);
	if (r < 0)
		return r;
	r = item_nvidia(s, it);
	if (r < 0)
		return r;
	if (it->n_ch)
		snprintf(it->then, sizeof(it->then), "restart X (log out and in) once");
	return 0;
}

/* The udev rule: the host card's name of vmrun's own, and mutter's tag on the passthrough GPUs. */
static int gpu_rule_text(const struct setup *s, char **ret)
{
	size_t len = 0;
	FILE *f = open_memstream(ret, &len);

	if (!f)
		return -ENOMEM;
	fputs("# Written by `vmrun setup` (`vmrun setup --undo` removes it).\n"
	      "# The host GPU's card gets a name of vmrun's own that does not change with probe order,\n"
	      "# /dev/dri/" HOST_CARD_LINK ", for the compositors' *_DRM_DEVICES (/" ENV_SCRIPT ").\n", f);
	fprintf(f, "SUBSYSTEM==\"drm\", KERNEL==\"card[0-9]*\", KERNELS==\"%s\", SYMLINK+=\"dri/"
		HOST_CARD_LINK "\"\n", s->host->name);
	fputs("# GNOME's mutter leaves DRM devices tagged mutter-device-ignore alone (mutter 42 and\n"
	      "# later): the GPUs passed through to VMs can go to vfio-pci and back in a GNOME session.\n", f);
	for (size_t i = 0; i < s->n_pass; i++)
		fprintf(f, "SUBSYSTEM==\"drm\", KERNELS==\"%s\", TAG+=\"mutter-device-ignore\"\n",
			s->pass[i]->name);
	return fclose(f) == 0 ? 0 : -ENOMEM;
}

/* The login environment: every compositor that takes a device list gets the host card only. */
static char *env_script_text(void)
{
	return strdup("# Written by `vmrun setup` (`vmrun setup --undo` removes it).\n"
		      "# Wayland compositors open every GPU they find. These keep KWin, wlroots compositors\n"
		      "# (sway, labwc, wayfire, ...) and Hyprland on the host GPU, named by\n"
		      "# /" GPU_RULE ", so the GPUs passed through to VMs can\n"
		      "# go to vfio-pci and back while they run. From the next login.\n"
		      "if [ -c /dev/dri/" HOST_CARD_LINK " ]; then\n"
		      "\texport KWIN_DRM_DEVICES=/dev/dri/" HOST_CARD_LINK "\n"
		      "\texport WLR_DRM_DEVICES=/dev/dri/" HOST_CARD_LINK "\n"
		      "\texport AQ_DRM_DEVICES=/dev/dri/" HOST_CARD_LINK "\n"
		      "fi\n");
}

/* One file of the item: proposed as new_text (taken), or a note when it cannot be read. */
static int wayland_file(struct setup *s, struct item *it, const char *path, char *new_text)
{
	_cleanup_free_ char *old = NULL;
	struct stat st = { .st_mode = 0644 };
	int r;

	if (!new_text)
		return -ENOMEM;
	r = read_file_at(s->c->root->root_fd, path, FILE_MAX, READ_REGULAR | READ_TEXT, &old, NULL, &st);
	if (r < 0 && r != -ENOENT) {
		free(new_text);
		it->status = IS_MANUAL;
		item_note(it, "cannot edit /%s: %s", path, strerror(-r));
		return 0;
	}
	return item_add_change(it, path, TAKE_PTR(old), new_text, st.st_mode & 07777);
}

int item_wayland(struct setup *s, struct item *it)
{
	char *rule = NULL;
	int r;

	it->id = "wayland";
	it->title = "Wayland compositors: keep them off the passthrough GPU";
	it->status = IS_DONE;
	if (!s->n_pass || !s->host) {
		it->status = IS_SKIPPED;
		item_note(it, "no passthrough GPU and host GPU to tell apart (see the Xorg item)");
		return 0;
	}
	item_note(it, "the host GPU %s is /dev/dri/" HOST_CARD_LINK " (a udev rule; cardN numbers "
		  "follow probe order)", s->host->name);
	item_note(it, "GNOME (mutter): the passthrough GPU tagged mutter-device-ignore");
	item_note(it, "KWin, wlroots compositors (sway, ...), Hyprland: KWIN_DRM_DEVICES, "
		  "WLR_DRM_DEVICES, AQ_DRM_DEVICES at login");
	r = gpu_rule_text(s, &rule);
	if (r == 0)
		r = wayland_file(s, it, GPU_RULE, rule);
	if (r == 0)
		r = wayland_file(s, it, ENV_SCRIPT, env_script_text());
	/* Plasma's startup reads its own env scripts, whatever the display manager does. */
	if (r == 0 && setup_exists_at(s->c->root->root_fd, "usr/bin/startplasma-wayland"))
		r = wayland_file(s, it, PLASMA_ENV_SCRIPT, env_script_text());
	if (r < 0)
		return r;
	if (it->n_ch)
		snprintf(it->then, sizeof(it->then), "udev applies the rule (setup runs `udevadm "
			 "trigger`); log out and in once");
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

/* The devices to allow: the profile's display devices (every device when it names none), or
 * without a profile every GPU the host does not keep. */
static size_t allow_devices(const struct setup *s, char devs[][PCI_ADDR_STR_MAX])
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_pass && n < MAX_PASS; i++)
		snprintf(devs[n++], PCI_ADDR_STR_MAX, "%s", s->pass[i]->name);
	for (size_t i = 0; s->p && !s->n_pass && i < s->p->n_pci && n < MAX_PASS; i++)
		pci_addr_format(&s->p->pci[i].address, devs[n++]);
	return n;
}

/* Why an edit of the allow file is left to the administrator, as the item's notes. */
static int allow_manual(struct item *it, int r, const char *user, const char *dev)
{
	it->status = IS_MANUAL;
	if (r == -EINVAL)
		item_note(it, "user name '%s' is not a plain POSIX name: edit /%s by hand", user, ALLOW_FILE);
	else if (r == -EBADMSG)
		item_note(it, "/%s is not valid (see the allow-file rules in vmrun(1)): fix it by hand, "
			 "then run setup again", ALLOW_FILE);
	else if (r == -EMEDIUMTYPE)
		item_note(it, "/%s is written in a form setup does not rewrite (a flow list, another "
			 "indentation, comments between entries, \"---\"); add this line yourself:",
		     ALLOW_FILE);
	else
		item_note(it, "cannot edit /%s: %s", ALLOW_FILE, strerror(-r));
	item_note(it, "    - {device: \"%s\", users: [%s]}", dev, user ? user : "NAME");
	return 0;
}

int item_allow(struct setup *s, struct item *it)
{
	_cleanup_free_ char *old = NULL, *text = NULL;
	struct stat st = { .st_mode = 0644 };
	const char *user = invoking_user();
	char devs[MAX_PASS][PCI_ADDR_STR_MAX];
	size_t n = allow_devices(s, devs);
	int r;

	it->id = "allow";
	it->title = "Allow-file entry (/" ALLOW_FILE ")";
	it->status = n ? IS_DONE : IS_SKIPPED;
	if (!n)
		return item_note(it, s->host_unknown ? "which GPU the VM gets is not known (see the Xorg "
			    "item): give a PROFILE" : "no device to allow"), 0;
	if (!user) {
		it->status = IS_SKIPPED;
		item_note(it, "run as root without sudo: no user to allow; add a line like this one to "
			 "/%s:", ALLOW_FILE);
		item_note(it, "    - {device: \"%s\", users: [NAME]}", devs[0]);
		return 0;
	}
	r = read_file_at(s->c->root->root_fd, ALLOW_FILE, FILE_MAX, READ_REGULAR | READ_TEXT, &old,
			 NULL, &st);
	if (r < 0 && r != -ENOENT)
		return allow_manual(it, r, user, devs[0]);
	text = strdup(old ? old : "");
	for (size_t i = 0; text && i < n; i++) {
		char *next = NULL;

		r = setup_allow_add(text, devs[i], user, &next);
		if (r < 0 && r != -ENOMEM)
			return allow_manual(it, r, user, devs[i]);
		if (r < 0)
			return r;
		item_note(it, next ? "allow %s to switch %s" : "%s may already switch %s", user, devs[i]);
		if (next) {
			free(text);
			text = next;
		}
	}
	if (!text)
		return -ENOMEM;
	/* Root-owned and world-readable, in a root-owned directory: the helper refuses it otherwise. */
	return item_add_change(it, ALLOW_FILE, TAKE_PTR(old), TAKE_PTR(text),
			  old ? st.st_mode & 07777 : 0644);
}

/* Which display devices go to VMs and which one the host keeps. EXIT_USAGE if the profile
 * names a device this host does not have. */
int find_gpus(struct setup *s)
{
	int r = pci_function_list(s->c->root, &s->fns, &s->n_fns, NULL);

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
	if (!s->p)
		s->host = gpu_host_display(s->c->root, s->fns, s->n_fns);
	for (size_t i = 0; i < s->n_fns; i++) {
		const struct pci_function *f = &s->fns[i];
		bool pass = false;

		if (!pci_is_display(f))
			continue;
		if (s->p)
			for (size_t k = 0; k < s->p->n_pci; k++)
				pass |= pci_addr_eq(&s->p->pci[k].address, &f->addr);
		else
			pass = s->host && f != s->host; /* an unknown host display: none is taken */
		if (pass && s->n_pass < MAX_PASS)
			s->pass[s->n_pass++] = f;
		else if (!pass && s->p && (!s->host || (f->boot_vga == 1 && s->host->boot_vga != 1)))
			s->host = f;
	}
	s->host_unknown = !s->p && !s->host;
	if (s->host)
		drm_card_of(s->c->root, s->host->name, s->host_card, sizeof(s->host_card));
	return 0;
}
