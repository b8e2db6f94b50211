/* SPDX-License-Identifier: MIT */
#include "deskhold.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

void deskhold_monitors(const struct sysroot *s, const char (*cards)[DESK_CARD_NAME], size_t n_cards,
		       char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n_cards; i++) {
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;
		size_t n = strlen(cards[i]);

		if (opendir_at(s->sys_fd, "class/drm", &d) < 0)
			return;
		/* Connectors are class/drm/card1-HDMI-A-1, their status "connected". */
		while ((de = readdir(d))) {
			char status[32], attr[128];

			if (strncmp(de->d_name, cards[i], n) != 0 || de->d_name[n] != '-')
				continue;
			snprintf(attr, sizeof(attr), "class/drm/%.64s/status", de->d_name);
			if (read_attr_at(s->sys_fd, attr, status, sizeof(status)) < 0 ||
			    !streq(status, "connected") || o >= cap)
				continue;
			o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", de->d_name + n + 1);
		}
	}
}

/* Is /dev/dri/CARD the node st is (by device number; in a test tree by inode)? */
static bool card_is(const struct sysroot *s, const char *card, const struct stat *st)
{
	char path[48];
	struct stat c;

	snprintf(path, sizeof(path), "dri/%s", card);
	if (fstatat(s->dev_fd, path, &c, 0) < 0)
		return false;
	if (S_ISCHR(c.st_mode) || S_ISCHR(st->st_mode))
		return S_ISCHR(c.st_mode) && S_ISCHR(st->st_mode) && c.st_rdev == st->st_rdev;
	return c.st_dev == st->st_dev && c.st_ino == st->st_ino;
}

/* Why h cannot be asked to let go of the group's cards ("" when it can). */
static void judge(const struct sysroot *s, const char (*cards)[DESK_CARD_NAME], size_t n_cards,
		  const struct holder *h, char *why, size_t cap)
{
	const struct display_server_info *i = display_server_info(h->ds);
	struct stat primary;

	why[0] = '\0';
	if (h->ds == DS_LOGIND || h->ds == DS_FDSTORE) {
		if (!h->session.id[0])
			snprintf(why, cap, "a copy kept for a session that has ended (a logind leak, "
				 "systemd issue 6908): nothing vmrun can ask lets go of it; a reboot does");
		return; /* a live session's copy goes at the same udev event as the compositor's */
	}
	if (!i->releasable) {
		snprintf(why, cap, "%s", h->ds == DS_MUTTER ? "GNOME (mutter 43) cannot let go of a GPU "
			 "while it runs" : h->ds == DS_WESTON ? "weston cannot let go of its GPU while it "
			 "runs" : "it cannot be asked to let go while it runs");
		return;
	}
	if (display_server_primary(s, h->ds, h->pid, &primary) < 0) {
		snprintf(why, cap, "which GPU is %s's primary cannot be told (no boot_vga, no %s): "
			 "no GPU is taken from it", i->name, i->env);
		return;
	}
	for (size_t k = 0; k < n_cards; k++)
		if (card_is(s, cards[k], &primary)) {
			snprintf(why, cap, "/dev/dri/%s is %s's primary GPU (it would lose every "
				 "output): never taken from it", cards[k], i->name);
			return;
		}
}

/* Whose desktop it is: its session's user, else the process's. */
static uid_t whose(const struct holder *h)
{
	return h->session.id[0] && h->session.uid != (uid_t)-1 ? h->session.uid : h->uid;
}

void deskhold_judge(const struct sysroot *s, const char (*cards)[DESK_CARD_NAME], size_t n_cards,
		    uid_t caller, struct holder *h)
{
	h->releasable = false;
	h->not_releasable[0] = '\0';
	if (h->ds == DS_NONE || h->ds == DS_XORG)
		return;
	if (!n_cards)
		snprintf(h->not_releasable, sizeof(h->not_releasable), "the group has no DRM card "
			 "to unplug");
	else
		judge(s, cards, n_cards, h, h->not_releasable, sizeof(h->not_releasable));
	if (!h->not_releasable[0] && caller != 0 && whose(h) != caller) {
		const char *user = h->session.user[0] ? h->session.user : h->user[0] ? h->user : "?";

		snprintf(h->not_releasable, sizeof(h->not_releasable), "it works for %s's desktop: "
			 "only root or %s may ask it to let go", user, user);
	}
	h->releasable = !h->not_releasable[0];
}

void deskhold_fix(const struct holder *h, char *buf, size_t cap)
{
	const struct display_server_info *i = display_server_info(h->ds);
	char fix[256];

	display_server_fix(h->ds, fix, sizeof(fix));
	if (h->releasable && i->releasable)
		snprintf(buf, cap, "%s lets go of a GPU that is not its primary: `--release` (or the "
			 "profile's pci[N].release: true) asks it to, for the run; for good, %s", i->name,
			 fix);
	else if (h->not_releasable[0])
		snprintf(buf, cap, "%s; for good, %s", h->not_releasable, fix);
	else
		snprintf(buf, cap, "%s", fix);
}
