/* SPDX-License-Identifier: MIT */
/*
 * What a switch puts aside and gives back: vfio-pci loaded; the text consoles moved off the
 * GPU's framebuffer and back; the vendor services that held it stopped and started again; the
 * vendor's modules unloaded (when this was their last device) and reloaded. Each journaled
 * before it acts, so a crash halfway still gives it back.
 */
#include "swaside.h"

#include <errno.h>
#include <string.h>

#include "console.h"
#include "devnodes.h"
#include "holders.h"
#include "modules.h"

enum switch_status swaside_ensure_vfio(struct switch_ctx *c)
{
	static const char *const mods[] = { "vfio-pci", "vfio_iommu_type1" };

	for (size_t i = 0; i < ARRAY_SIZE(mods); i++) {
		enum module_state st;
		int r;

		if (module_state_of(c->s, mods[i], &st, NULL, 0) == 0 &&
		    (st == MODULE_LOADED || st == MODULE_BUILTIN))
			continue;
		r = c->k->module_load(c->k->data, c->s, mods[i]);
		if (r < 0)
			return sw_fail(c, SW_FAILED, "loading %s failed: %s", mods[i], strerror(-r));
		sw_progress(c, "loaded module %s", mods[i]);
	}
	return SW_OK;
}

enum switch_status swaside_unload_modules(struct switch_ctx *c, struct journal *j)
{
	size_t wanted = j->plan.n_modules;

	/* The journal lists each module before it goes, so restore reloads every one that may
	 * have gone (loading one that is still there is harmless). */
	j->plan.n_modules = 0;
	for (size_t i = 0; i < wanted; i++) {
		enum switch_status st;
		int r;

		j->plan.n_modules++;
		st = journal_sync(c, j);
		if (st)
			return st;
		r = c->k->module_unload(c->k->data, c->s, j->plan.modules[i]);
		if (r < 0) {
			j->plan.n_modules--;
			(void)journal_write(c->state_fd, j); /* the rollback rewrites it anyway */
			return sw_fail(c, SW_FAILED, "unloading %s failed: %s (is something still using "
				    "the NVIDIA driver? see `vmrun gpus`)", j->plan.modules[i], strerror(-r));
		}
		sw_progress(c, "unloaded module %s", j->plan.modules[i]);
	}
	return SW_OK;
}

enum switch_status swaside_reload_modules(struct switch_ctx *c, struct switch_plan *p)
{
	for (size_t i = p->n_modules; i-- > 0;) {
		int r = c->k->module_load(c->k->data, c->s, p->modules[i]);

		if (r < 0)
			return sw_fail(c, SW_FAILED, "reloading module %s failed: %s", p->modules[i], strerror(-r));
		sw_progress(c, "reloaded module %s", p->modules[i]);
	}
	return SW_OK;
}

/* The text consoles off the GPU's framebuffer, before its driver lets go of it. Journaled as
 * moved first: a crash halfway through still moves them back. */
enum switch_status swaside_consoles_away(struct switch_ctx *c, struct journal *j)
{
	struct console_move *m = &j->plan.console;
	char why[256], list[192];
	enum switch_status st;

	if (!m->needed)
		return SW_OK;
	m->moved = true;
	st = journal_sync(c, j);
	if (st)
		return st;
	if (console_move_away(c->s, c->k, m, why, sizeof(why)) < 0)
		return sw_fail(c, SW_FAILED, "moving the text console off %s: %s", j->plan.gpu.name, why);
	console_list_text(m, list, sizeof(list));
	sw_progress(c, "text consoles %s moved from fb%u (%s) to fb%d (%s)", list, m->v[0].fb,
		 m->from_dev, m->to_fb, m->to_dev);
	return SW_OK;
}

/* The consoles back on the GPU's framebuffer once it is home. A GPU whose driver made no
 * framebuffer leaves them where they are, which is said, not failed: the text console works. */
void swaside_consoles_back(struct switch_ctx *c, struct journal *j)
{
	struct console_move *m = &j->plan.console;
	char why[256], list[192];
	int fb = -1, r;

	if (!m->moved)
		return;
	console_list_text(m, list, sizeof(list));
	r = console_move_back(c->s, c->k, m, 3000, &fb, why, sizeof(why));
	if (r == 0)
		sw_progress(c, "text consoles %s back on fb%d (%s)", list, fb, m->from_dev);
	else
		sw_progress(c, "text consoles %s stay on fb%d: %s", list, m->to_fb, why);
	m->moved = false;
	(void)journal_sync(c, j);
}

/* Whether a process of unit still holds one of the group's nodes. */
static bool unit_still_holds(struct switch_ctx *c, const struct journal *j, const char *unit,
			     pid_t *ret_pid)
{
	struct devnode_set nodes = { 0 };
	struct holder_set hs = { 0 };
	bool held = false;

	for (size_t i = 0; i < j->plan.n_devs; i++)
		(void)devnodes_collect(c->s, &j->plan.devs[i].fn, &nodes);
	if (holders_find(c->s, &nodes, &hs) == 0)
		for (size_t i = 0; i < hs.n && !held; i++)
			if (streq(hs.v[i].system_unit, unit) &&
			    holder_blocks(&hs.v[i], j->plan.n_modules > 0)) {
				held = true;
				*ret_pid = hs.v[i].pid;
			}
	holder_set_clear(&hs);
	devnode_set_clear(&nodes);
	return held;
}

/* The vendor services that held the GPU, stopped; journaled as stopped first, so that a crash
 * in between still starts them again. */
enum switch_status swaside_stop_services(struct switch_ctx *c, struct journal *j)
{
	enum switch_status st;

	if (!j->plan.n_services)
		return SW_OK;
	j->plan.services_stopped = true;
	st = journal_sync(c, j);
	for (size_t i = 0; !st && i < j->plan.n_services; i++) {
		const char *unit = j->plan.services[i];
		pid_t pid = 0;
		int r = c->k->service(c->k->data, c->s, unit, false);

		if (r < 0)
			return sw_fail(c, SW_FAILED, "stopping %s failed: %s", unit, strerror(-r));
		if (unit_still_holds(c, j, unit, &pid))
			return sw_fail(c, SW_HELD, "%s was stopped, but its pid %d still holds the GPU", unit,
				    (int)pid);
		sw_progress(c, "stopped %s (it held the GPU); it starts again when the GPU is back", unit);
	}
	return st;
}

/* Started again on every way back, after the devices: it takes the GPUs it finds. */
void swaside_start_services(struct switch_ctx *c, struct journal *j)
{
	if (!j->plan.services_stopped)
		return;
	for (size_t i = 0; i < j->plan.n_services; i++) {
		int r = c->k->service(c->k->data, c->s, j->plan.services[i], true);

		if (r < 0)
			sw_progress(c, "starting %s again failed: %s (systemctl start %s)", j->plan.services[i],
				 strerror(-r), j->plan.services[i]);
		else
			sw_progress(c, "started %s again", j->plan.services[i]);
	}
	j->plan.services_stopped = false;
	(void)journal_sync(c, j);
}
