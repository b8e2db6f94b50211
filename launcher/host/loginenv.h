/* SPDX-License-Identifier: MIT */
/*
 * The next login, read from its configuration: for each Wayland compositor installed, whether
 * it will open a passthrough GPU's card when it starts. mutter opens every card not tagged
 * mutter-device-ignore in udev's database; KWin, wlroots compositors and Hyprland every card,
 * unless their *_DRM_DEVICES in the login environment lists others (then only those, the first
 * being the primary). The environment is read where logins take it from: the user's Plasma
 * env scripts, environment.d and ~/.profile, and the system's /etc/xdg/plasma-workspace/env,
 * /etc/profile.d, /etc/environment and environment.d.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "desktop.h"
#include "sysroot.h"

#define LOGIN_MAX 4

struct login_verdict {
	enum display_server ds;
	bool grabs;      /* it will open one of the cards */
	bool unsure;     /* it is set up, but cannot be confirmed now (a device that is not there) */
	char how[320];   /* why: "KWIN_DRM_DEVICES=/dev/dri/vmrun-host (/etc/profile.d/vmrun-gpu.sh)
	                  * is 0000:00:02.0, not the passthrough GPU" */
};

/*
 * Each compositor installed under s (at most LOGIN_MAX: mutter, KWin, wlroots, Hyprland), for
 * the cards ("card1") of a passthrough GPU at pci (its address, for udev rules). home: the
 * user's home directory (absolute, read under s), or NULL. The number of verdicts.
 */
size_t login_judge(const struct sysroot *s, const char *home, const char *pci,
		   const char (*cards)[16], size_t n_cards, struct login_verdict *out);
