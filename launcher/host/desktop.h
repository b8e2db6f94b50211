/* SPDX-License-Identifier: MIT */
/*
 * The desktop side of a GPU's holders: which display server a process is (Xorg, a Wayland
 * compositor, logind or PID 1 keeping a session's device), the logind session it works for,
 * whether it can let go of a secondary GPU while it runs, and the fix for each.
 *
 * What the compositors do (their sources, Debian 12's versions): KWin 5.27, wlroots 0.15 (sway
 * and others) and Hyprland's aquamarine close a secondary GPU on a udev `remove` and take it
 * again on an `add`, and quit (or lose every output) when it is their primary; mutter 43 never
 * lets go of a GPU while it runs, and leaves alone a card tagged mutter-device-ignore; weston
 * opens only one device. systemd-logind keeps its own copy of each device a session took (and
 * PID 1 one more, in logind's fd store), and drops both on the device's udev `remove`.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "sysroot.h"

enum display_server {
	DS_NONE = 0,
	DS_XORG,
	DS_XWAYLAND,
	DS_MUTTER,   /* gnome-shell, mutter */
	DS_KWIN,     /* kwin_wayland */
	DS_WLROOTS,  /* sway, labwc, wayfire, river, cage, ... */
	DS_HYPRLAND, /* Hyprland (aquamarine) */
	DS_WESTON,
	DS_LOGIND,   /* systemd-logind: its copy of a session's device */
	DS_FDSTORE,  /* PID 1: logind's fd store, one more copy */
	DS_MAX = DS_FDSTORE,
};

struct display_server_info {
	const char *name;        /* "KWin" */
	bool compositor;         /* a Wayland compositor */
	bool releasable;         /* lets go of a secondary GPU on its udev remove, at run time */
	const char *env;         /* the variable that limits the GPUs it opens, or NULL */
};

const struct display_server_info *display_server_info(enum display_server ds);
/* Which one a process is, by its name (/proc/PID/comm) and pid. */
enum display_server display_server_of(const char *comm, pid_t pid);

/* A logind session, as /run/systemd/sessions/ID says. */
struct session_info {
	char id[32];
	uid_t uid;
	char user[64];
	char seat[32];
	char type[16];    /* "wayland", "x11", "tty" */
	char state[16];   /* "active", "online", "closing" */
	bool gone;        /* logind has no such session any more */
};

/* The session a process works for: its cgroup's session-ID.scope, else XDG_SESSION_ID in its
 * environment (gnome-shell runs as a user unit). 0, or -ENOENT. */
int session_of_pid(const struct sysroot *s, pid_t pid, struct session_info *ret);
/* The first session logind holds the device rdev for (its DEVICES=). 0, or -ENOENT. */
int session_holding(const struct sysroot *s, dev_t rdev, struct session_info *ret);
/* A session by id; ret->gone when logind has no file for it. */
void session_read(const struct sysroot *s, const char *id, struct session_info *ret);

/* The permanent fix for a display server holding a GPU it should leave alone:
 * "KWin: KWIN_DRM_DEVICES=/dev/dri/vmrun-host, ... then log out and in". */
void display_server_fix(enum display_server ds, char *buf, size_t cap);

/*
 * A compositor's primary GPU, as it chose it: the first device in its *_DRM_DEVICES (read
 * from its environment), else the boot display (boot_vga). The node's stat, 0 or -errno
 * (-ENOENT when it cannot be told: then no card is safe to take from it).
 */
int display_server_primary(const struct sysroot *s, enum display_server ds, pid_t pid,
			   struct stat *ret);
