/* SPDX-License-Identifier: MIT */
/* From what the user typed to a loaded profile: a path, or a VM name looked up in the config dir. */
#pragma once

#include "profile.h"

/*
 * An argument containing '/' or ending in ".yaml"/".yml" is a path and comes back as given.
 * A VM name (names.h) becomes $XDG_CONFIG_HOME/vmrun/NAME.yaml, never a file of that name in
 * the current directory (./NAME says that). *ret_path is malloc'd and untouched on failure:
 * -EINVAL for a bad name, -ENOENT when there is no home directory.
 */
int profile_resolve(const char *arg, char **ret_path);

/*
 * May root run the profile at path? A profile is code as root (extra_args, a tap script): it
 * must be root's, or the sudo or pkexec caller's (SUDO_UID, PKEXEC_UID), writable by no one
 * else, in a directory no one else can write (a sticky one like /tmp is fine). -EPERM with
 * why; 0 otherwise (a missing file too: loading it says so).
 */
int profile_check_trust(const char *path, char *why, size_t cap);

/* Resolve and load (as root, only a trusted profile: exit 4 otherwise), reporting
 * "FILE:LINE: KEY: MESSAGE" once; 0 or an exit code. */
int profile_path_load(const char *arg, struct vm_profile **ret);
