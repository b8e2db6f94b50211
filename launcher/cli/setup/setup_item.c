/* SPDX-License-Identifier: MIT */
/*
 * What every part of `vmrun setup` works with: an item (one thing to set up), its notes and
 * its proposed changes as diffs; and the command that regenerates the boot loader's
 * configuration, which the items name and apply runs.
 */
#include "setup.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "setup_diff.h"
#include "util.h"

const char *const setup_status_name[] = { "already-done", "proposed", "applied", "manual",
					 "skipped" };

void item_note(struct item *it, const char *fmt, ...)
{
	size_t len = strlen(it->notes);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(it->notes + len, sizeof(it->notes) - len, fmt, ap);
	va_end(ap);
	len = strlen(it->notes);
	if (len + 1 < sizeof(it->notes))
		strcat(it->notes, "\n");
}

bool setup_exists_at(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, 0) == 0;
}

/* --- proposals --------------------------------------------------------------------------- */

/* Record old -> new_text as a change of it (taking both); equal texts are not a change. */
int item_add_change(struct item *it, const char *path, char *old, char *new_text, mode_t mode)
{
	struct change *ch = &it->ch[it->n_ch];
	int r;

	if (!new_text || (old && streq(old, new_text))) {
		free(old);
		free(new_text);
		return 0;
	}
	r = setup_udiff(path, old, new_text, &ch->diff);
	if (r < 0) {
		free(old);
		free(new_text);
		return r;
	}
	ch->path = strdup(path);
	ch->old = old;
	ch->new_text = new_text;
	ch->mode = mode;
	it->n_ch++;
	it->status = IS_PROPOSED;
	return ch->path ? 0 : -ENOMEM;
}

void item_free(struct item *it)
{
	for (size_t i = 0; i < it->n_ch; i++) {
		free(it->ch[i].path);
		free(it->ch[i].old);
		free(it->ch[i].new_text);
		free(it->ch[i].diff);
	}
}

/* --- the boot loader ------------------------------------------------------------------------- */

const char *setup_regen_command(const struct setup *s, char *const **ret_argv)
{
	static char *const update[] = { (char *)"/usr/sbin/update-grub", NULL };
	static char *const mkconfig[] = { (char *)"/usr/sbin/grub-mkconfig", (char *)"-o",
					  (char *)"/boot/grub/grub.cfg", NULL };
	bool have = faccessat(s->c->root->root_fd, "usr/sbin/update-grub", X_OK, 0) == 0;

	if (ret_argv)
		*ret_argv = have ? update : mkconfig;
	return have ? "update-grub" : "grub-mkconfig -o /boot/grub/grub.cfg";
}
