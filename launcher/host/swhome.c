/* SPDX-License-Identifier: MIT */
/*
 * The way home, for attach, restore and a failed detach's rollback alike: every device of
 * ours off vfio-pci and pinned to its driver, the vendor's modules back, each device probed
 * and verified, then the consoles and services back. And the kernel log's tail kept when a
 * step failed.
 */
#include "swhome.h"

#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "kmsg.h"
#include "swaside.h"
#include "swdesk.h"
#include "swdev.h"

static bool skip_dev(const struct switch_dev *d, bool only_moved)
{
	return !d->ours || (only_moved && d->phase == PHASE_PLANNED);
}

/* Every device of ours back home, in reverse; the journal follows each step. */
enum switch_status sw_all_to_host(struct switch_ctx *c, const struct switch_opts *o,
				      struct journal *j, bool only_moved)
{
	enum switch_status st = SW_OK;

	for (size_t i = j->plan.n_devs; !st && i-- > 0;) {
		if (skip_dev(&j->plan.devs[i], only_moved))
			continue;
		swdev_reset_back(c, o, &j->plan.devs[i]);
		st = swdev_release(c, o, &j->plan.devs[i]);
		if (!st)
			st = journal_sync(c, j);
	}
	if (!st)
		st = swaside_reload_modules(c, &j->plan);
	if (st)
		return st;
	/* Each function goes home even when another would not: one driver refusing its device
	 * must not leave the rest without theirs. The first failure is what is said. */
	for (size_t i = j->plan.n_devs; i-- > 0;) {
		struct switch_dev *d = &j->plan.devs[i];
		enum switch_status one;
		char why[sizeof(c->why)];

		if (skip_dev(d, only_moved))
			continue;
		if (st)
			snprintf(why, sizeof(why), "%s", c->why);
		one = swdev_bind(c, o, d);
		if (!one)
			sw_progress(c, "%s: back on %s", d->fn.name, d->orig_driver[0] ? d->orig_driver :
				 "its default driver");
		if (!one)
			one = journal_sync(c, j);
		if (st)
			snprintf(c->why, sizeof(c->why), "%s", why);
		else
			st = one;
	}
	if (!st)
		swaside_consoles_back(c, j);
	swaside_start_services(c, j);
	swdesk_offer_back(c, o, j);
	return st;
}

/*
 * When a kernel step fails, the reason is usually in the kernel log: keep its tail next to the
 * journal (group-N.kmsg) and point to it, before later messages push it out.
 */
void sw_keep_kernel_log(struct switch_ctx *c, int group)
{
	_cleanup_free_ char *tail = NULL;
	char name[64];
	size_t len = strlen(c->why);

	if (kmsg_tail(c->s, 25, &tail) < 0)
		return;
	snprintf(name, sizeof(name), "group-%d.kmsg", group);
	if (write_file_atomic_at(c->state_fd, name, tail, strlen(tail), 0600, (uid_t)-1, (gid_t)-1) == 0)
		snprintf(c->why + len, sizeof(c->why) - len,
			 " (kernel log tail: /run/vmrun/switch/%s)", name);
}
