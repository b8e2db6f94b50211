/* SPDX-License-Identifier: MIT */
#include "nvfacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

#define RULE_MAX (256 * 1024)

/* A module parameter: 1 for Y or 1, 0 for N or 0; -errno when it cannot be read. */
static int bool_param(const struct sysroot *s, const char *param)
{
	char path[96], v[8];
	int r;

	snprintf(path, sizeof(path), "module/nvidia_drm/parameters/%s", param);
	r = read_attr_at(s->sys_fd, path, v, sizeof(v));
	if (r < 0)
		return r;
	return streq(v, "Y") || streq(v, "1");
}

static void read_params(const struct sysroot *s, struct nv_facts *f)
{
	int m = bool_param(s, "modeset"), b = bool_param(s, "fbdev");

	f->modeset = m < 0 ? -1 : m;
	/* fbdev only exists since the 545 series; without it there is no console on the card. */
	f->fbdev = b < 0 ? (m >= 0 && b == -ENOENT ? 0 : -1) : b;
	f->param_err = m < 0 ? m : (b < 0 && b != -ENOENT ? b : 0);
}

static void find_unit(const struct sysroot *s, struct nv_facts *f)
{
	static const char *const dirs[] = { "etc/systemd/system", "usr/lib/systemd/system",
					    "lib/systemd/system" };

	/* The first found wins, as systemd's search path; a link to /dev/null there masks it (a
	 * link is never followed: an absolute one would leave the tree). */
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char path[96], target[16] = "";
		struct stat st;

		snprintf(path, sizeof(path), "%s/nvidia-persistenced.service", dirs[i]);
		if (fstatat(s->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode) &&
		    readlinkat(s->root_fd, path, target, sizeof(target) - 1) == 9 &&
		    streq(target, "/dev/null")) {
			f->masked = true;
			return;
		}
		snprintf(f->unit, sizeof(f->unit), "/%s", path);
		return;
	}
}

/* A line that is not a comment and names the daemon: the packaged rule runs or starts it. */
static bool names_daemon(const char *text)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		size_t n = strcspn(l, "\n");

		if (l[strspn(l, " \t")] != '#' && memmem(l, n, "nvidia-persistenced", 19))
			return true;
	}
	return false;
}

static void find_rule(const struct sysroot *s, struct nv_facts *f)
{
	static const char *const dirs[] = { "etc/udev/rules.d", "run/udev/rules.d",
					    "usr/lib/udev/rules.d", "lib/udev/rules.d" };

	for (size_t i = 0; i < ARRAY_SIZE(dirs) && !f->rule[0]; i++) {
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;

		if (opendir_at(s->root_fd, dirs[i], &d) < 0)
			continue;
		while (!f->rule[0] && (de = readdir(d))) {
			_cleanup_free_ char *text = NULL;
			char path[320];

			snprintf(path, sizeof(path), "%s/%.255s", dirs[i], de->d_name);
			if (de->d_name[0] != '.' &&
			    read_file_at(s->root_fd, path, RULE_MAX, READ_REGULAR | READ_TEXT, &text, NULL,
					 NULL) >= 0 && names_daemon(text))
				snprintf(f->rule, sizeof(f->rule), "/%s", path);
		}
	}
}

/* The other functions on nvidia, from each one's driver link. */
static void find_others(const struct sysroot *s, const char *pci, struct nv_facts *f)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (opendir_at(s->sys_fd, "bus/pci/devices", &d) < 0)
		return;
	while ((de = readdir(d)) && f->n_others < NVFACTS_OTHERS) {
		char path[320], drv[64];

		if (de->d_name[0] == '.' || streq(de->d_name, pci) ||
		    strlen(de->d_name) >= sizeof(f->others[0]))
			continue;
		snprintf(path, sizeof(path), "bus/pci/devices/%.255s/driver", de->d_name);
		if (read_link_name_at(s->sys_fd, path, drv, sizeof(drv)) == 0 && streq(drv, "nvidia"))
			snprintf(f->others[f->n_others++], sizeof(f->others[0]), "%s", de->d_name);
	}
}

int nvfacts_read(const struct sysroot *s, const char *pci, struct nv_facts *f)
{
	memset(f, 0, sizeof(*f));
	if (s->sys_fd < 0)
		return -ENOENT;
	read_params(s, f);
	find_unit(s, f);
	find_rule(s, f);
	find_others(s, pci, f);
	return 0;
}
