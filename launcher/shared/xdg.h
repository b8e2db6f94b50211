/* SPDX-License-Identifier: MIT */
/*
 * The XDG base directories of the user vmrun runs for, looked up in one place:
 * $XDG_CONFIG_HOME, $XDG_DATA_HOME and $XDG_RUNTIME_DIR when set to an absolute path (the
 * spec says relative values are ignored), else their defaults under the home directory
 * ($HOME when absolute, else the passwd entry's) or /run/user/UID.
 */
#pragma once

#include <sys/types.h>

enum xdg_dir {
	XDG_CONFIG,  /* ~/.config */
	XDG_DATA,    /* ~/.local/share */
	XDG_RUNTIME, /* /run/user/UID */
};

/* The directory, malloc'd. -ENOENT when there is no home directory to put it under. */
int xdg_dir(enum xdg_dir which, uid_t uid, char **ret);
/* The home directory, malloc'd; -ENOENT when there is none. */
int xdg_home(uid_t uid, char **ret);
