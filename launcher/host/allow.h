/* SPDX-License-Identifier: MIT */
/*
 * /etc/vmrun/allow.yaml: which devices unprivileged users may hand to their VMs. Decided by the
 * administrator alone: the privileged helper refuses everything when the file or its directory
 * can be written by anyone but root. Example:
 *   - {device: "0000:01:00.0", users: [alice], groups: [vmrun]}
 *   - {input: /dev/input/by-id/usb-Logitech_USB_Keyboard-event-kbd, users: [alice]}
 * A listed device allows its whole IOMMU group; a listed input device, access to that event
 * device during the user's runs (input: in a profile); nothing else is allowed. Every entry
 * also lets its users have their VM's memory locked and hugepages made; an entry's
 * `hugepages: 16G` caps how much the hugepage pools may be grown for each of its users at
 * once (a user in several entries gets the largest cap; with none, only the memory the host
 * has available bounds it).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pciaddr.h"

#define ALLOW_MAX_SIZE (64 * 1024)
#define ALLOW_MAX_ENTRIES 64
#define ALLOW_MAX_NAMES 64

struct allow_entry {
	struct pci_addr device; /* a GPU, when has_device */
	bool has_device;
	char *input;            /* or an input event device's path (/dev/input/...) */
	uint64_t hugepages;     /* bytes; 0: the entry sets no cap */
	char **users;  /* NULL-terminated */
	char **groups; /* NULL-terminated */
};

struct allow_list {
	struct allow_entry *v;
	size_t n;
};

/* Parse the file's text. -EINVAL with a one-line reason in err on anything unexpected. */
int allow_parse(const char *text, size_t len, struct allow_list *ret, char *err, size_t errlen);
/*
 * Open and parse dir_fd/name with the ownership rules: both the directory and the file owned by
 * root, neither writable by group or others, the file regular and not a symlink. -EPERM with
 * the reason otherwise.
 */
int allow_load(int dir_fd, const char *name, struct allow_list *ret, char *err, size_t errlen);
void allow_list_clear(struct allow_list *l);
/* Does the entry let this user (name, and the groups they are in) use it? */
bool allow_entry_permits(const struct allow_entry *e, const char *user, const char *const *groups);
/* The user's hugepage cap in bytes: the largest of their entries' (0: no entry sets one). */
uint64_t allow_hugepages_quota(const struct allow_list *l, const char *user,
			       const char *const *groups);
/* "16G", "512M", "1048576K", "2147483648": bytes in *ret (binary units). -EINVAL otherwise. */
int allow_parse_size(const char *text, uint64_t *ret);
