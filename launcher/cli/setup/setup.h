/* SPDX-License-Identifier: MIT */
/*
 * vmrun setup: the host configuration passthrough needs, proposed as unified diffs and applied
 * only when asked. Four items (setup_items.c):
 *   1. IOMMU kernel options (GRUB, kernel-install, or a printed manual step);
 *   2. an Xorg snippet keeping X off the passthrough GPU (and the NVIDIA PrimaryGPU trap);
 *   3. Wayland compositors: a udev rule naming the host card /dev/dri/vmrun-host and tagging
 *      the passthrough GPU for mutter; the login environment's *_DRM_DEVICES for KWin, wlroots
 *      compositors and Hyprland;
 *   4. the allow-file entry for the invoking user.
 * Every file is written atomically; before one is touched its original is copied to
 * var/lib/vmrun/setup/ and recorded in a manifest there (setup_apply.c), so --undo
 * (setup_undo.c) restores it byte for byte and removes what setup created. All paths are
 * relative to the system root (--root).
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cli.h"
#include "pcidev.h"
#include "profile.h"
#include "util.h"

#define SETUP_DIR "var/lib/vmrun/setup"
#define MANIFEST SETUP_DIR "/manifest.json"
#define FILE_MAX (1 << 20)
#define MAX_PASS 16

#define GRUB_FILE "etc/default/grub"
#define KERNEL_CMDLINE_FILE "etc/kernel/cmdline"
#define XORG_SNIPPET "etc/X11/xorg.conf.d/10-vmrun-passthrough.conf"
#define NVIDIA_CONF "10-nvidia-drm-outputclass.conf"
#define GPU_RULE "etc/udev/rules.d/61-vmrun-gpus.rules"
#define HOST_CARD_LINK "vmrun-host" /* /dev/dri/vmrun-host: the host GPU's card */
#define ENV_SCRIPT "etc/profile.d/vmrun-gpu.sh"
#define PLASMA_ENV_SCRIPT "etc/xdg/plasma-workspace/env/vmrun-gpu.sh"
#define ALLOW_FILE "etc/vmrun/allow.yaml"

enum item_status { IS_DONE, IS_PROPOSED, IS_APPLIED, IS_MANUAL, IS_SKIPPED };
extern const char *const setup_status_name[];

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
	struct change ch[4];
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
	bool host_unknown;  /* no profile, and nothing tells which GPU the host displays on */
	char host_card[32]; /* "card0", "" when the host GPU has no DRM card */
};

/* Append one line to the item's notes. */
_printf_(2, 3) void item_note(struct item *it, const char *fmt, ...);
/* Record old -> new_text as a change of it (taking both); equal texts are not a change. */
int item_add_change(struct item *it, const char *path, char *old, char *new_text, mode_t mode);
void item_free(struct item *it);
bool setup_exists_at(int dirfd, const char *path);

/* setup_items.c: which GPUs go to VMs and which one the host keeps; then each item. */
int find_gpus(struct setup *s);
int item_iommu(struct setup *s, struct item *it);
int item_xorg(struct setup *s, struct item *it);
int item_wayland(struct setup *s, struct item *it);
int item_allow(struct setup *s, struct item *it);
/* The boot loader's regenerate command ("update-grub"), and its argv. */
const char *setup_regen_command(const struct setup *s, char *const **ret_argv);

/* setup_apply.c */
int manifest_load(int root_fd, json_object **ret);
json_object *manifest_entries(json_object *m);
/* Apply every proposed change (backing up and recording each first). */
int apply_all(struct setup *s, size_t *ret_applied, char *regen_msg, size_t cap);
/* On the real root, udev reads its rules again and applies them to the DRM devices; on a fake
 * one, only says what would run. The outcome in msg. */
int setup_reload_udev(const struct cli *c, char *msg, size_t cap);
/* On the real root, regenerate grub.cfg; on a fake one, only say what would run. */
int regen_grub(const struct cli *c, char *msg, size_t cap);

/* setup_undo.c: vmrun setup --undo */
int setup_undo(struct cli *c, bool json);
