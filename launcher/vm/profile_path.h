/* SPDX-License-Identifier: MIT */
/* From what the user typed to a loaded profile: a path, or a VM name looked up in the config dir. */
#pragma once

#include "profile.h"

/*
 * An argument containing '/' or ending in ".yaml"/".yml" is a path and comes back as given.
 * A VM name (names.h) becomes $XDG_CONFIG_HOME/vmrun/NAME.yaml when that file exists, else
 * the file NAME in the current directory when that exists, else (neither exists) the config
 * path, so the error names where a profile of that name belongs. *ret_path is malloc'd and
 * untouched on failure: -EINVAL for a bad name, -ENOENT when there is no home directory.
 */
int profile_resolve(const char *arg, char **ret_path);

/* Resolve and load, reporting "FILE:LINE: KEY: MESSAGE" once; 0 or an exit code. */
int vm_profile_load(const char *arg, struct vm_profile **ret);
