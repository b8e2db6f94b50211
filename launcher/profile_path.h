/* SPDX-License-Identifier: MIT */
/* From what the user typed to a profile file: a path, or a VM name looked up in the config dir. */
#pragma once

#include <stdbool.h>

/* A VM name: [A-Za-z0-9._-]{1,64}, and not "." or "..". */
bool vm_name_is_valid(const char *s);

/*
 * An argument containing '/' or ending in ".yaml"/".yml" is a path and comes back as given;
 * anything else must be a VM name and becomes $XDG_CONFIG_HOME/vmrun/NAME.yaml (XDG_CONFIG_HOME
 * only when absolute, else $HOME/.config, else the passwd home). The file is not opened.
 * 0 with *ret_path malloc'd; -EINVAL for a bad name, -ENOENT when there is no home directory,
 * -ENOMEM. *ret_path is untouched on failure.
 */
int profile_resolve(const char *arg, char **ret_path);
