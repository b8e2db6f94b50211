/* SPDX-License-Identifier: MIT */
#include "desktop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

static const struct display_server_info servers[] = {
	[DS_NONE] = { "", false, false, NULL },
	[DS_XORG] = { "Xorg", false, false, NULL },
	[DS_XWAYLAND] = { "Xwayland", false, false, NULL },
	[DS_MUTTER] = { "GNOME (mutter)", true, false, NULL },
	[DS_KWIN] = { "KWin", true, true, "KWIN_DRM_DEVICES" },
	[DS_WLROOTS] = { "a wlroots compositor", true, true, "WLR_DRM_DEVICES" },
	[DS_HYPRLAND] = { "Hyprland", true, true, "AQ_DRM_DEVICES" },
	[DS_WESTON] = { "weston", true, false, NULL },
	[DS_LOGIND] = { "systemd-logind", false, false, NULL },
	[DS_FDSTORE] = { "PID 1 (logind's fd store)", false, false, NULL },
};

_Static_assert(ARRAY_SIZE(servers) == DS_MAX + 1, "a display server without its facts");

const struct display_server_info *display_server_info(enum display_server ds)
{
	return &servers[(unsigned)ds <= DS_MAX ? ds : DS_NONE];
}

/* Process names (comm, at most 15 characters) of each; wlroots compositors are many. */
static const struct {
	const char *comm;
	enum display_server ds;
} names[] = {
	{ "Xorg", DS_XORG },          { "X", DS_XORG },
	{ "Xwayland", DS_XWAYLAND },  { "gnome-shell", DS_MUTTER },
	{ "mutter", DS_MUTTER },      { "kwin_wayland", DS_KWIN },
	{ "kwin_wayland_wr", DS_KWIN }, { "sway", DS_WLROOTS },
	{ "labwc", DS_WLROOTS },      { "wayfire", DS_WLROOTS },
	{ "river", DS_WLROOTS },      { "cage", DS_WLROOTS },
	{ "hikari", DS_WLROOTS },     { "dwl", DS_WLROOTS },
	{ "Hyprland", DS_HYPRLAND },  { "weston", DS_WESTON },
	{ "systemd-logind", DS_LOGIND },
};

enum display_server display_server_of(const char *comm, pid_t pid)
{
	if (pid == 1)
		return DS_FDSTORE;
	for (size_t i = 0; comm && i < ARRAY_SIZE(names); i++)
		if (streq(comm, names[i].comm))
			return names[i].ds;
	return DS_NONE;
}

/* ---- logind's sessions ---- */

/* KEY=value of a session file, into buf ("" when absent). */
static void session_value(const char *text, const char *key, char *buf, size_t cap)
{
	size_t klen = strlen(key);

	buf[0] = '\0';
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, key, klen) == 0 && l[klen] == '=') {
			snprintf(buf, cap, "%.*s", (int)strcspn(l + klen + 1, "\n"), l + klen + 1);
			return;
		}
}

static bool session_id_ok(const char *id)
{
	return id[0] && strlen(id) < 32 && strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789") == strlen(id);
}

void session_read(const struct sysroot *s, const char *id, struct session_info *ret)
{
	_cleanup_free_ char *text = NULL;
	char path[64], uid[16];

	memset(ret, 0, sizeof(*ret));
	snprintf(ret->id, sizeof(ret->id), "%s", id);
	ret->uid = (uid_t)-1;
	snprintf(path, sizeof(path), "systemd/sessions/%s", id);
	if (!session_id_ok(id) || s->run_fd < 0 ||
	    read_file_at(s->run_fd, path, 16384, READ_REGULAR | READ_TEXT, &text, NULL, NULL) < 0) {
		ret->gone = true;
		return;
	}
	session_value(text, "UID", uid, sizeof(uid));
	if (uid[0])
		ret->uid = (uid_t)strtoul(uid, NULL, 10);
	session_value(text, "USER", ret->user, sizeof(ret->user));
	session_value(text, "SEAT", ret->seat, sizeof(ret->seat));
	session_value(text, "TYPE", ret->type, sizeof(ret->type));
	session_value(text, "STATE", ret->state, sizeof(ret->state));
}

/* "session-3.scope" in a /proc/PID/cgroup text: "3". */
static bool session_from_cgroup(const char *text, char *id, size_t cap)
{
	const char *at = strstr(text, "/session-");
	size_t n;

	if (!at)
		return false;
	at += 9;
	n = strcspn(at, ".\n/");
	if (!n || n >= cap || strncmp(at + n, ".scope", 6) != 0)
		return false;
	snprintf(id, cap, "%.*s", (int)n, at);
	return true;
}

/* NAME's value in a process's environment (root may read any). */
static bool environ_value(const struct sysroot *s, pid_t pid, const char *name, char *buf,
			  size_t cap)
{
	_cleanup_free_ char *env = NULL;
	size_t len = 0, nlen = strlen(name);
	char path[64];

	snprintf(path, sizeof(path), "%d/environ", (int)pid);
	if (s->proc_fd < 0 || read_file_at(s->proc_fd, path, 1 << 20, READ_TRUNCATE, &env, &len, NULL) < 0)
		return false;
	for (size_t i = 0; i < len; i += strlen(env + i) + 1)
		if (strncmp(env + i, name, nlen) == 0 && env[i + nlen] == '=') {
			snprintf(buf, cap, "%s", env + i + nlen + 1);
			return true;
		}
	return false;
}

int session_of_pid(const struct sysroot *s, pid_t pid, struct session_info *ret)
{
	_cleanup_free_ char *cgroup = NULL;
	char path[64], id[32] = "";

	snprintf(path, sizeof(path), "%d/cgroup", (int)pid);
	if (s->proc_fd >= 0 &&
	    read_file_at(s->proc_fd, path, 16384, READ_TRUNCATE, &cgroup, NULL, NULL) >= 0)
		(void)session_from_cgroup(cgroup, id, sizeof(id));
	if (!id[0] && !environ_value(s, pid, "XDG_SESSION_ID", id, sizeof(id)))
		return -ENOENT;
	if (!session_id_ok(id))
		return -ENOENT;
	session_read(s, id, ret);
	return 0;
}

/* Does a session file's DEVICES= list rdev ("226:1 13:64")? */
static bool lists_device(const char *devices, dev_t rdev)
{
	char want[32];
	size_t n;

	snprintf(want, sizeof(want), "%u:%u", major(rdev), minor(rdev));
	n = strlen(want);
	for (const char *p = devices; (p = strstr(p, want)); p += n)
		if ((p == devices || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

int session_holding(const struct sysroot *s, dev_t rdev, struct session_info *ret)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (s->run_fd < 0 || (fd = openat(s->run_fd, "systemd/sessions", O_RDONLY | O_DIRECTORY |
					  O_CLOEXEC)) < 0)
		return -ENOENT;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOENT;
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *text = NULL;
		char devices[1024];

		if (!session_id_ok(de->d_name) ||
		    read_file_at(dirfd(d), de->d_name, 16384, READ_REGULAR | READ_TEXT, &text, NULL, NULL) < 0)
			continue;
		session_value(text, "DEVICES", devices, sizeof(devices));
		if (lists_device(devices, rdev)) {
			session_read(s, de->d_name, ret);
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- fixes ---- */

void display_server_fix(enum display_server ds, char *buf, size_t cap)
{
	const struct display_server_info *i = display_server_info(ds);

	switch (ds) {
	case DS_XORG:
		snprintf(buf, cap, "Xorg: Option \"AutoAddGPU\" \"off\" and a kmsdev for the host GPU's "
			 "card (vmrun setup writes both), then restart X");
		break;
	case DS_MUTTER:
		snprintf(buf, cap, "GNOME: tag the card mutter-device-ignore (vmrun setup writes the "
			 "udev rule), then log out and in");
		break;
	case DS_KWIN:
	case DS_WLROOTS:
	case DS_HYPRLAND:
		snprintf(buf, cap, "%s: %s=/dev/dri/vmrun-host, the host GPU (vmrun setup writes it), "
			 "then log out and in", i->name, i->env);
		break;
	case DS_WESTON:
		snprintf(buf, cap, "weston: start it with --drm-device= the host GPU's card");
		break;
	case DS_XWAYLAND:
		snprintf(buf, cap, "Xwayland: keep its compositor off this GPU");
		break;
	case DS_LOGIND:
	case DS_FDSTORE:
		snprintf(buf, cap, "logind lets go when the session's compositor does, or the session "
			 "ends");
		break;
	default:
		snprintf(buf, cap, "stop it, or keep it off this GPU");
	}
}

/* ---- a compositor's primary GPU ---- */

/* The card of the boot display (boot_vga=1): "card0". */
static int boot_vga_card(const struct sysroot *s, char *buf, size_t cap)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = opendir_at(s->sys_fd, "class/drm", &d);

	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		char path[96], val[8];

		if (strncmp(de->d_name, "card", 4) != 0 || strchr(de->d_name, '-') ||
		    strlen(de->d_name) >= cap)
			continue;
		snprintf(path, sizeof(path), "class/drm/%.32s/device/boot_vga", de->d_name);
		if (read_attr_at(s->sys_fd, path, val, sizeof(val)) < 0 || !streq(val, "1"))
			continue;
		memcpy(buf, de->d_name, strlen(de->d_name) + 1);
		return 0;
	}
	return -ENOENT;
}

int display_server_primary(const struct sysroot *s, enum display_server ds, pid_t pid,
			   struct stat *ret)
{
	const struct display_server_info *i = display_server_info(ds);
	char list[1024], card[64], path[80];
	int fd, r;

	if (i->env && environ_value(s, pid, i->env, list, sizeof(list))) {
		/* The first device listed; KWin's list may escape a colon as "\\:". */
		size_t n = 0;

		while (list[n] && !(list[n] == ':' && (n == 0 || list[n - 1] != '\\')))
			n++;
		list[n] = '\0';
		/* The user's to choose: only a node under /dev (root's), never a path that could
		 * lead root into a filesystem the user serves. */
		if (strncmp(list, "/dev/", 5) != 0 || (fd = open_in_root(s->dev_fd, list + 5, true)) < 0)
			return -ENOENT;
		r = fstat(fd, ret) < 0 ? -errno : 0;
		close(fd);
		return r;
	}
	r = boot_vga_card(s, card, sizeof(card));
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "dri/%s", card);
	return fstatat(s->dev_fd, path, ret, 0) < 0 ? -errno : 0;
}
