/* SPDX-License-Identifier: MIT */
#include "swdesk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deskhold.h"
#include "devnodes.h"
#include "holders.h"
#include "swdev.h"
#include "util.h"

#define POLL_MS 100

/* Whatever still holds a node of the group that must be free: how many, and who, in why. */
static size_t still_held(struct switch_ctx *c, const struct switch_plan *p, char *who, size_t cap)
{
	struct devnode_set nodes = { 0 };
	struct holder_set hs = { 0 };
	size_t n = 0, o = 0;
	char one[256];

	who[0] = '\0';
	for (size_t i = 0; i < p->n_devs; i++)
		(void)devnodes_collect(c->s, &p->devs[i].fn, &nodes);
	if (holders_find(c->s, &nodes, &hs) == 0)
		for (size_t i = 0; i < hs.n; i++) {
			if (!holder_blocks(&hs.v[i], p->n_modules > 0))
				continue;
			if (o < cap)
				o += (size_t)snprintf(who + o, cap - o, "%s%s holds %s", n ? "; " : "",
						      holder_describe(&hs.v[i], one, sizeof(one)),
						      hs.v[i].node);
			n++;
		}
	holder_set_clear(&hs);
	devnode_set_clear(&nodes);
	return n;
}

/* The inode of the card's sysfs directory, 0 when it has none. */
static unsigned long long card_ino(const struct sysroot *s, const char *card)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "class/drm/%s", card);
	return fstatat(s->sys_fd, path, &st, 0) < 0 ? 0 : (unsigned long long)st.st_ino;
}

static int card_event(struct switch_ctx *c, const struct switch_opts *o, const char *card,
		      const char *action)
{
	char path[64];

	snprintf(path, sizeof(path), "class/drm/%s/uevent", card);
	return swdev_write(c, o, path, action);
}

enum switch_status swdesk_release(struct switch_ctx *c, const struct switch_opts *o, struct journal *j)
{
	struct switch_plan *p = &j->plan;
	unsigned timeout = sw_or_default(o->release_timeout_ms, 15000), waited = 0;
	char who[768];
	enum switch_status st;

	if (!p->release || !p->n_cards)
		return SW_OK;
	sw_progress(c, "asking the desktop to let go of /dev/dri/%s%s%s%s", p->cards[0],
		    p->n_cards > 1 ? " and the group's other cards" : "",
		    p->monitors[0] ? "; its monitors go with it for the run: " : "", p->monitors);
	for (size_t i = 0; i < p->n_cards; i++)
		p->cards_ino[i] = card_ino(c->s, p->cards[i]);
	p->released = true;
	st = journal_sync(c, j);
	for (size_t i = 0; !st && i < p->n_cards; i++) {
		int r = card_event(c, o, p->cards[i], "remove");

		if (r < 0)
			st = swdev_write_failed(c, r, p->cards[i], "uevent");
	}
	while (!st && still_held(c, p, who, sizeof(who))) {
		if (waited >= timeout) {
			st = sw_fail(c, SW_HELD, "%s: not let go within %.1f s, so nothing was switched "
				     "and the card is offered back", who, timeout / 1000.0);
			swdesk_offer_back(c, o, j);
			c->check = CHECK_HOLDERS;
			return st;
		}
		c->k->sleep_ms(c->k->data, POLL_MS);
		waited += POLL_MS;
	}
	if (!st)
		sw_progress(c, "the desktop let go of /dev/dri/%s (%u ms)", p->cards[0], waited);
	return st;
}

void swdesk_offer_back(struct switch_ctx *c, const struct switch_opts *o, struct journal *j)
{
	struct switch_plan *p = &j->plan;

	if (!p->released)
		return;
	for (size_t i = 0; i < p->n_cards; i++) {
		/* Gone with its driver, or back as a new device the kernel announced itself: an
		 * `add` of our own would be a second one. */
		if (!p->cards_ino[i] || card_ino(c->s, p->cards[i]) != p->cards_ino[i])
			continue;
		if (card_event(c, o, p->cards[i], "add") < 0)
			sw_progress(c, "offering /dev/dri/%s back to the desktop failed, ignoring",
				    p->cards[i]);
		else
			sw_progress(c, "/dev/dri/%s offered back to the desktop", p->cards[i]);
	}
	p->released = false;
	(void)journal_sync(c, j);
}
