/* SPDX-License-Identifier: MIT */
/*
 * The text edits behind `vmrun setup`, as pure functions from old content to new content so
 * they are tested without a file system. Each returns 0 with *ret the new text, or *ret NULL
 * when the text already has what is asked (nothing to change); -ENOMEM, or -EINVAL where noted.
 */
#pragma once

#include <stdbool.h>

/* Every one of opts (NULL-terminated) is a whitespace-separated token of s. */
bool setup_tokens_have_all(const char *s, const char *const *opts);

/*
 * /etc/default/grub: add the opts missing from both GRUB_CMDLINE_LINUX_DEFAULT and
 * GRUB_CMDLINE_LINUX to the last GRUB_CMDLINE_LINUX_DEFAULT assignment, keeping its quoting
 * (an unquoted value gets double quotes); when there is none, a new line is appended.
 * -EINVAL when the value is too unusual to edit safely (shell expansions, unterminated quote).
 */
int setup_grub_add(const char *text, const char *const *opts, char **ret);

/* /etc/kernel/cmdline: the missing opts appended to its first line. */
int setup_kernel_cmdline_add(const char *text, const char *const *opts, char **ret);

/* An uncommented Option "PrimaryGPU" with a true value (yes/true/on/1). */
bool setup_xorg_has_primary_gpu(const char *text);
/* The same file without its PrimaryGPU options, after a comment (header) saying why. */
int setup_xorg_drop_primary_gpu(const char *text, const char *header, char **ret);

/*
 * /etc/vmrun/allow.yaml, a YAML sequence of {device: "ADDR", users: [..], groups: [..]}, read
 * with the helper's own parser (allow.c), so setup and vmrun-helper never disagree about it.
 * setup_allow_has: 1 when an entry for device lists user, 0 when none, -EBADMSG when the file
 * is not valid. setup_allow_add: the file with user added to device's entry (or a new entry),
 * *ret NULL when already there. It is edited structurally: parsed, changed, written in vmrun's
 * form (one "- {device: ..., users: [...]}" line per entry, the leading comments kept), and
 * only when the file already is in that form, so nothing of the administrator's is lost:
 * -EMEDIUMTYPE when it is not (a flow list, another indentation, comments between entries, a
 * "---"), -EBADMSG when it is not valid, -EINVAL for a user name that is not a plain POSIX
 * name. The result is read back with the helper's parser before it is returned.
 */
int setup_allow_has(const char *text, const char *device, const char *user);
int setup_allow_add(const char *text, const char *device, const char *user, char **ret);
