/* SPDX-License-Identifier: MIT */
#include "loginenv.h"

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
#include "text.h"
#include "util.h"

#define TEXT_MAX (256 * 1024)

/* Where a login's environment comes from, most specific first: the first that sets a
 * variable is taken. "~" is the user's home; a directory's files are read in name order. */
static const struct {
	const char *path;
	const char *suffix;       /* a directory's files ending so; NULL: path is one file */
	enum display_server only; /* read for this compositor only (DS_NONE: all) */
	bool hyprland_conf;       /* "env = NAME,value" lines */
} sources[] = {
	{ "~/.config/hypr/hyprland.conf", NULL, DS_HYPRLAND, true },
	{ "~/.config/plasma-workspace/env", ".sh", DS_KWIN, false },
	{ "etc/xdg/plasma-workspace/env", ".sh", DS_KWIN, false },
	{ "~/.config/environment.d", ".conf", DS_NONE, false },
	{ "~/.profile", NULL, DS_NONE, false },
	{ "~/.bash_profile", NULL, DS_NONE, false },
	{ "etc/profile.d", ".sh", DS_NONE, false },
	{ "etc/profile", NULL, DS_NONE, false },
	{ "etc/environment", NULL, DS_NONE, false },
	{ "etc/environment.d", ".conf", DS_NONE, false },
	{ "usr/lib/environment.d", ".conf", DS_NONE, false },
};

/* The programs that say a compositor is installed. */
static const struct {
	enum display_server ds;
	const char *bins[6];
} installed[] = {
	{ DS_MUTTER, { "usr/bin/gnome-shell", "usr/bin/mutter", NULL } },
	{ DS_KWIN, { "usr/bin/kwin_wayland", NULL } },
	{ DS_WLROOTS, { "usr/bin/sway", "usr/bin/labwc", "usr/bin/wayfire", "usr/bin/river",
			"usr/bin/cage", NULL } },
	{ DS_HYPRLAND, { "usr/bin/Hyprland", NULL } },
};

/* A line setting name: "export NAME=v", "NAME=v", "NAME=\"v\"" (sh, environment.d), or
 * "env = NAME,v" (hyprland.conf). The value into buf, quotes removed. */
static bool line_sets(const char *line, const char *name, bool hypr, char *buf, size_t cap)
{
	size_t n = strlen(name), len;
	const char *v;

	line += strspn(line, " \t");
	if (hypr) {
		if (strncmp(line, "env", 3) != 0)
			return false;
		line += 3 + strspn(line + 3, " \t");
		if (*line++ != '=')
			return false;
		line += strspn(line, " \t");
		if (strncmp(line, name, n) != 0 || line[n + strspn(line + n, " \t")] != ',')
			return false;
		v = line + n + strspn(line + n, " \t") + 1;
		v += strspn(v, " \t");
	} else {
		if (strncmp(line, "export", 6) == 0 && (line[6] == ' ' || line[6] == '\t'))
			line += 6 + strspn(line + 6, " \t");
		if (strncmp(line, name, n) != 0 || line[n] != '=')
			return false;
		v = line + n + 1;
	}
	if (*v == '"' || *v == '\'') {
		const char *end = strchr(v + 1, *v);

		len = end ? (size_t)(end - v - 1) : strcspn(v + 1, "\n");
		v++;
	} else {
		len = strcspn(v, " \t\n;#");
	}
	if (!len || len >= cap)
		return false;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return true;
}

static bool text_sets(const char *text, const char *name, bool hypr, char *buf, size_t cap)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (line_sets(l, name, hypr, buf, cap))
			return true;
	return false;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first file of a directory (in name order) that sets name; its path into where. */
static bool dir_sets(int root_fd, const char *dir, const char *suffix, const char *name, char *buf,
		     size_t cap, char *where, size_t wcap)
{
	_cleanup_closedir_ DIR *d = NULL;
	char *files[64];
	size_t n = 0;
	struct dirent *de;
	bool found = false;

	if (opendir_at(root_fd, dir, &d) < 0)
		return false;
	while ((de = readdir(d)) && n < ARRAY_SIZE(files)) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);

		if (de->d_name[0] != '.' && l > sl && streq(de->d_name + l - sl, suffix))
			files[n++] = strdup(de->d_name);
	}
	qsort(files, n, sizeof(files[0]), cmp_names);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *text = NULL;
		char path[512];

		text_format(path, sizeof(path), "%s/%s", dir, files[i] ? files[i] : "");
		if (!found && files[i] &&
		    read_file_at(root_fd, path, TEXT_MAX, READ_REGULAR | READ_TEXT, &text, NULL, NULL) >= 0 &&
		    text_sets(text, name, false, buf, cap)) {
			snprintf(where, wcap, "/%s", path);
			found = true;
		}
		free(files[i]);
	}
	return found;
}

/* name's value at the next login of ds, and the file that sets it. */
static bool login_value(const struct sysroot *s, const char *home, enum display_server ds,
			const char *name, char *buf, size_t cap, char *where, size_t wcap)
{
	for (size_t i = 0; i < ARRAY_SIZE(sources); i++) {
		_cleanup_free_ char *text = NULL;
		char path[512];

		if (sources[i].only != DS_NONE && sources[i].only != ds)
			continue;
		if (sources[i].path[0] == '~') {
			if (!home || home[0] != '/')
				continue;
			snprintf(path, sizeof(path), "%s%s", home + 1, sources[i].path + 1);
		} else {
			snprintf(path, sizeof(path), "%s", sources[i].path);
		}
		if (sources[i].suffix) {
			if (dir_sets(s->root_fd, path, sources[i].suffix, name, buf, cap, where, wcap))
				return true;
			continue;
		}
		if (read_file_at(s->root_fd, path, TEXT_MAX, READ_REGULAR | READ_TEXT, &text, NULL, NULL) >= 0 &&
		    text_sets(text, name, sources[i].hyprland_conf, buf, cap)) {
			snprintf(where, wcap, "/%s", path);
			return true;
		}
	}
	return false;
}

/* Which of the cards /dev/... is: its index, -1 for none, -2 when it is not there now. */
static int which_card(const struct sysroot *s, const char *dev, const char (*cards)[16],
		      size_t n_cards)
{
	struct stat st, c;
	int fd;

	if (strncmp(dev, "/dev/", 5) != 0 || (fd = open_in_root(s->dev_fd, dev + 5, true)) < 0)
		return -2;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -2;
	}
	close(fd);
	for (size_t i = 0; i < n_cards; i++) {
		char path[48];

		snprintf(path, sizeof(path), "dri/%s", cards[i]);
		if (fstatat(s->dev_fd, path, &c, 0) < 0)
			continue;
		if (S_ISCHR(c.st_mode) ? S_ISCHR(st.st_mode) && c.st_rdev == st.st_rdev :
					 c.st_dev == st.st_dev && c.st_ino == st.st_ino)
			return (int)i;
	}
	return -1;
}

/* KWin, wlroots, Hyprland: their *_DRM_DEVICES at login, against the cards. */
static void judge_env(const struct sysroot *s, const char *home, const char (*cards)[16],
		      size_t n_cards, struct login_verdict *v)
{
	const char *name = display_server_info(v->ds)->env;
	char list[512], where[600], *save = NULL;
	bool first = true;

	if (!login_value(s, home, v->ds, name, list, sizeof(list), where, sizeof(where))) {
		v->grabs = true;
		text_format(v->how, sizeof(v->how), "no %s in the login environment: it opens every GPU",
			 name);
		return;
	}
	for (char *dev = strtok_r(list, ":", &save); dev; dev = strtok_r(NULL, ":", &save)) {
		int k = which_card(s, dev, cards, n_cards);

		if (k >= 0) {
			v->grabs = true;
			text_format(v->how, sizeof(v->how), "%s (%s) lists %s, which is /dev/dri/%s%s", name,
				 where, dev, cards[k], first ? ", as its primary GPU" : "");
			return;
		}
		if (k == -2) {
			v->unsure = true;
			text_format(v->how, sizeof(v->how), "%s (%s) lists %s, which is not there now (has "
				 "the udev rule that names it run? udevadm trigger, or reboot)", name, where,
				 dev);
			return;
		}
		first = false;
	}
	text_format(v->how, sizeof(v->how), "%s is set (%s) to GPUs other than this one", name, where);
}

/* Has udev tagged the card mutter-device-ignore (its database, "G:" or "Q:" lines)? -1 when
 * udev keeps no database here. */
static int udev_tagged(const struct sysroot *s, const char *card)
{
	_cleanup_free_ char *text = NULL;
	char path[64], dev[32];
	unsigned maj, min;

	snprintf(path, sizeof(path), "class/drm/%s/dev", card);
	if (read_attr_at(s->sys_fd, path, dev, sizeof(dev)) < 0 || sscanf(dev, "%u:%u", &maj, &min) != 2)
		return -1;
	snprintf(path, sizeof(path), "udev/data/c%u:%u", maj, min);
	if (s->run_fd < 0 || read_file_at(s->run_fd, path, TEXT_MAX, READ_REGULAR | READ_TEXT, &text,
					  NULL, NULL) < 0)
		return -1;
	return strstr(text, "\nG:mutter-device-ignore\n") || strstr(text, "\nQ:mutter-device-ignore\n") ||
	       strncmp(text, "G:mutter-device-ignore\n", 23) == 0;
}

/* A rule file that tags pci's cards for mutter (udev not confirming it here). */
static bool rule_tags(const struct sysroot *s, const char *pci, char *where, size_t cap)
{
	static const char *const dirs[] = { "etc/udev/rules.d", "usr/lib/udev/rules.d" };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;

		if (opendir_at(s->root_fd, dirs[i], &d) < 0)
			continue;
		while ((de = readdir(d))) {
			_cleanup_free_ char *text = NULL;
			char path[320];

			snprintf(path, sizeof(path), "%s/%.255s", dirs[i], de->d_name);
			if (de->d_name[0] == '.' ||
			    read_file_at(s->root_fd, path, TEXT_MAX, READ_REGULAR | READ_TEXT, &text, NULL, NULL) < 0)
				continue;
			for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
				size_t n = strcspn(l, "\n");

				if (memmem(l, n, pci, strlen(pci)) && memmem(l, n, "mutter-device-ignore", 20) &&
				    l[strspn(l, " \t")] != '#') {
					snprintf(where, cap, "/%s", path);
					return true;
				}
			}
		}
	}
	return false;
}

static void judge_mutter(const struct sysroot *s, const char *pci, const char (*cards)[16],
			 size_t n_cards, struct login_verdict *v)
{
	char where[340];
	int tagged = 1;

	for (size_t i = 0; i < n_cards && tagged == 1; i++)
		tagged = udev_tagged(s, cards[i]);
	if (n_cards && tagged == 1) {
		text_format(v->how, sizeof(v->how), "udev has tagged it mutter-device-ignore: GNOME leaves "
			 "it alone");
		return;
	}
	if (rule_tags(s, pci, where, sizeof(where))) {
		v->unsure = tagged == 0;
		text_format(v->how, sizeof(v->how), tagged == 0 ? "%s tags it mutter-device-ignore, but udev "
			 "has not applied it yet (udevadm trigger --action=change --subsystem-match=drm, "
			 "or reboot)" : "%s tags it mutter-device-ignore", where);
		return;
	}
	v->grabs = true;
	text_format(v->how, sizeof(v->how), "not tagged mutter-device-ignore: GNOME opens it");
}

size_t login_judge(const struct sysroot *s, const char *home, const char *pci,
		   const char (*cards)[16], size_t n_cards, struct login_verdict *out)
{
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(installed) && n < LOGIN_MAX; i++) {
		bool here = false;

		for (size_t b = 0; installed[i].bins[b] && !here; b++)
			here = faccessat(s->root_fd, installed[i].bins[b], F_OK, 0) == 0;
		if (!here)
			continue;
		out[n] = (struct login_verdict){ .ds = installed[i].ds };
		if (installed[i].ds == DS_MUTTER)
			judge_mutter(s, pci, cards, n_cards, &out[n]);
		else
			judge_env(s, home, cards, n_cards, &out[n]);
		n++;
	}
	return n;
}
