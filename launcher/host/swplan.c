/* SPDX-License-Identifier: MIT */
#include "swplan.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devnodes.h"
#include "modules.h"
#include "quirks.h"
#include "deskhold.h"
#include "util.h"

#define VFIO "vfio-pci"

static const char *const phase_names[] = {
	[PHASE_PLANNED] = "planned", [PHASE_OVERRIDE] = "override", [PHASE_UNBOUND] = "unbound",
	[PHASE_VFIO] = "vfio",       [PHASE_RELEASED] = "released", [PHASE_HOST] = "host",
};

const char *switch_phase_name(enum switch_phase p)
{
	return (unsigned)p <= PHASE_MAX ? phase_names[p] : "?";
}

int switch_phase_parse(const char *name, enum switch_phase *ret)
{
	for (unsigned i = 0; name && i <= PHASE_MAX; i++)
		if (streq(name, phase_names[i])) {
			*ret = (enum switch_phase)i;
			return 0;
		}
	return -EBADMSG;
}

void switch_plan_clear(struct switch_plan *p)
{
	free(p->devs);
	holder_set_clear(&p->holders);
	memset(p, 0, sizeof(*p));
	p->group = -1;
}

/* ---- planning a detach ---- */

static const char *const nvidia_stack[] = { "nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia" };

/*
 * AMD's Polaris, Vega and Navi 10 have no FLR, and a bus reset leaves them hung for the next
 * run; the vendor-reset module resets them through the kernel's device_specific method, which
 * since Linux 5.15 the device's reset_method must name (vendor-reset's README). Chosen for the
 * run when vendor-reset is loaded, and what was there put back after.
 */
static bool wants_vendor_reset(const struct switch_ctx *c, const struct pci_function *f,
			       enum group_role role)
{
	char path[96];

	if (role != ROLE_GPU || f->vendor != 0x1002 || strncmp(f->reset_method, "device_specific", 15) == 0)
		return false;
	snprintf(path, sizeof(path), "bus/pci/devices/%s/reset_method", f->name);
	return faccessat(c->s->sys_fd, "module/vendor_reset", F_OK, 0) == 0 &&
	       faccessat(c->s->sys_fd, path, F_OK, 0) == 0;
}

static int read_ulong_attr(const struct switch_ctx *c, const struct pci_function *f,
			   const char *attr, unsigned long *ret)
{
	char path[96];

	snprintf(path, sizeof(path), "bus/pci/devices/%s/%s", f->name, attr);
	return read_attr_ulong_at(c->s->sys_fd, path, ret);
}

/* SR-IOV and power state: an attribute that is absent is fine; one that cannot be read is not. */
static enum switch_status check_device_state(struct switch_ctx *c, const struct pci_function *f)
{
	char path[96], power[32];
	unsigned long vfs = 0;
	int r;

	r = read_ulong_attr(c, f, "sriov_numvfs", &vfs);
	if (r < 0 && r != -ENOENT)
		return sw_refuse(c, SW_REFUSED, CHECK_DEVICE_STATE, "%s: cannot read sriov_numvfs (%s): refusing rather than "
			    "guessing that no virtual function is enabled", f->name, strerror(-r));
	if (r == 0 && vfs > 0)
		return sw_refuse(c, SW_REFUSED, CHECK_DEVICE_STATE, "%s has %lu SR-IOV virtual functions enabled; disable them "
			    "first (echo 0 > /sys/bus/pci/devices/%s/sriov_numvfs)", f->name, vfs, f->name);
	snprintf(path, sizeof(path), "bus/pci/devices/%s/power_state", f->name);
	r = read_attr_at(c->s->sys_fd, path, power, sizeof(power));
	if (r < 0 && r != -ENOENT)
		return sw_refuse(c, SW_REFUSED, CHECK_DEVICE_STATE, "%s: cannot read its power state (%s)", f->name,
			      strerror(-r));
	if (r >= 0 && streq(power, "D3cold"))
		return sw_refuse(c, SW_REFUSED, CHECK_DEVICE_STATE, "%s is in D3cold and its config space is unreadable; wake "
			    "it (echo on > /sys/bus/pci/devices/%s/power/control) and retry", f->name,
			    f->name);
	return SW_OK;
}

/* What a group member may be to be handed over with the GPU; the same rule with or without a
 * journal. */
static enum switch_status check_member(struct switch_ctx *c, const struct switch_opts *o,
				       const struct pci_function *f, enum group_role role)
{
	if (role == ROLE_OTHER && !o->allow_non_gpu)
		return sw_refuse(c, SW_REFUSED, CHECK_GROUP_VIABLE, "IOMMU group %d also holds %s (%s, driver %s), which is not "
			    "part of the GPU: handing the group over would take it from the host",
			    f->iommu_group, f->name, f->class_name[0] ? f->class_name :
			    pci_class_fallback(f->class_code), f->driver[0] ? f->driver : "none");
	/* Disk controllers and virtio transports may carry the host's own filesystems. */
	if (role == ROLE_OTHER && (pci_base_class(f) == 0x01 || f->vendor == 0x1af4))
		return sw_refuse(c, SW_REFUSED, CHECK_GROUP_VIABLE, "%s in the group is a storage or virtio device; it may "
			    "carry the host's filesystems and is never handed over", f->name);
	return check_device_state(c, f);
}

/* A vendor service to stop for the switch, listed once; false when the list is full. */
static bool plan_service(struct switch_plan *p, const char *unit)
{
	for (size_t i = 0; i < p->n_services; i++)
		if (streq(p->services[i], unit))
			return true;
	if (p->n_services == SWITCH_MAX_SERVICES)
		return false;
	snprintf(p->services[p->n_services++], sizeof(p->services[0]), "%s", unit);
	return true;
}

/* The group's DRM cards ("card1"), from its functions' drm/ directories. */
static void find_cards(const struct sysroot *s, struct switch_plan *p)
{
	p->n_cards = 0;
	for (size_t i = 0; i < p->n_devs; i++) {
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;
		char path[96];

		snprintf(path, sizeof(path), "bus/pci/devices/%s/drm", p->devs[i].fn.name);
		if (opendir_at(s->sys_fd, path, &d) < 0)
			continue;
		while ((de = readdir(d)) && p->n_cards < SWITCH_MAX_CARDS)
			if (strncmp(de->d_name, "card", 4) == 0 && strlen(de->d_name) < sizeof(p->cards[0]))
				snprintf(p->cards[p->n_cards++], sizeof(p->cards[0]), "%s", de->d_name);
	}
}

/* Each fix once: "KWin ...; GNOME: ..." into buf; its length. */
static size_t holder_fixes(const struct holder_set *hs, bool unloading, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < hs->n; i++) {
		char fix[512];

		if (!holder_blocks(&hs->v[i], unloading) || quirk_holder_service(&hs->v[i]) ||
		    ((hs->v[i].ds == DS_LOGIND || hs->v[i].ds == DS_FDSTORE) && hs->v[i].releasable))
			continue; /* a session's copies go with its compositor: its fix says it */
		deskhold_fix(&hs->v[i], fix, sizeof(fix));
		if (!strstr(buf, fix) && len < cap)
			len += (size_t)snprintf(buf + len, cap - len, "; %s", fix);
	}
	if (!buf[0])
		snprintf(buf, cap, "; %s", "logind lets go of a session's copy when the session's "
			 "compositor does, or the session ends: `--release` asks it to");
	return strlen(buf);
}

/*
 * Who holds the group's nodes: nothing, a vendor service stopped for the switch, the desktop
 * asked to let go (o->release, when every holder can), or a refusal naming each holder and
 * its own fix.
 */
static enum switch_status check_holders(struct switch_ctx *c, const struct switch_opts *o,
					struct switch_plan *p)
{
	bool unloading = p->n_modules > 0, all_releasable = true;
	char who[256], fixes[640];
	size_t len = 0, n = 0;

	find_cards(c->s, p);
	for (size_t i = 0; i < p->holders.n; i++) {
		struct holder *h = &p->holders.v[i];

		deskhold_judge(c->s, p->cards, p->n_cards, c->owner, h);
		if (!holder_blocks(h, unloading)) {
			sw_progress(c, "note: %s has %s open; it will lose the device, ignoring",
				 holder_describe(h, who, sizeof(who)), h->node);
			continue;
		}
		if (quirk_holder_service(h) && plan_service(p, quirk_holder_service(h))) {
			sw_progress(c, "note: %s holds %s: %s is stopped for the switch and started "
				 "again after", holder_describe(h, who, sizeof(who)), h->node,
				 quirk_holder_service(h));
			continue;
		}
		all_releasable &= h->releasable;
		n++;
	}
	if (!n)
		return SW_OK;
	if (o->release && all_releasable) {
		p->release = true;
		deskhold_monitors(c->s, p->cards, p->n_cards, p->monitors, sizeof(p->monitors));
		for (size_t i = 0; i < p->holders.n; i++)
			if (p->holders.v[i].releasable && holder_blocks(&p->holders.v[i], unloading))
				sw_progress(c, "note: %s holds %s: it is asked to let go (--release)",
					    holder_describe(&p->holders.v[i], who, sizeof(who)),
					    p->holders.v[i].node);
		return SW_OK;
	}
	/* The fixes are the point of the message: the list of holders gives way to them. */
	holder_fixes(&p->holders, unloading, fixes, sizeof(fixes));
	for (size_t i = 0, k = 0; i < p->holders.n; i++) {
		const struct holder *h = &p->holders.v[i];
		size_t room = sizeof(c->why) - strlen(fixes) - 1;

		if (!holder_blocks(h, unloading) || (quirk_holder_service(h) &&
						     plan_service(p, quirk_holder_service(h))))
			continue;
		if (len < room)
			len += (size_t)snprintf(c->why + len, room - len, "%s%s holds %s", k++ ? "; " : "",
						holder_describe(h, who, sizeof(who)), h->node);
	}
	snprintf(c->why + strlen(c->why), sizeof(c->why) - strlen(c->why), "%s", fixes);
	c->check = CHECK_HOLDERS;
	return SW_HELD;
}

/* Unload NVIDIA's modules only when no device outside the group still uses them. */
static enum switch_status plan_modules(struct switch_ctx *c, struct switch_plan *p)
{
	_cleanup_free_ struct pci_function *all = NULL;
	unsigned unreadable = 0;
	size_t n = 0;

	if (!streq(p->gpu.driver, "nvidia"))
		return SW_OK;
	if (pci_function_list(c->s, &all, &n, &unreadable) < 0)
		return sw_fail(c, SW_FAILED, "cannot list PCI devices");
	/* "No other device uses nvidia" cannot be decided from a list with holes in it. */
	if (unreadable)
		return sw_refuse(c, SW_REFUSED, CHECK_MODULES, "%u PCI device(s) could not be read: cannot tell whether "
			    "another GPU still uses the NVIDIA driver", unreadable);
	for (size_t i = 0; i < n; i++)
		if (streq(all[i].driver, "nvidia") && all[i].iommu_group != p->group)
			return SW_OK;
	for (size_t i = 0; i < ARRAY_SIZE(nvidia_stack) && p->n_modules < SWITCH_MAX_MODULES; i++) {
		enum module_state st;

		if (module_state_of(c->s, nvidia_stack[i], &st, NULL, 0) == 0 && st == MODULE_LOADED)
			snprintf(p->modules[p->n_modules++], sizeof(p->modules[0]), "%s", nvidia_stack[i]);
	}
	return SW_OK;
}

/* The group's members, as switch devices, with detach's checks; bridges stay on the host. */
enum switch_status swplan_members(struct switch_ctx *c, const struct switch_opts *o,
				  struct switch_plan *p, bool only_vfio, struct devnode_set *nodes)
{
	struct iommu_group g;
	enum switch_status st = SW_OK;

	if (iommu_group_read(c->s, p->group, &g) < 0)
		return sw_refuse(c, SW_REFUSED, CHECK_GROUP_VIABLE, "cannot read IOMMU group %d", p->group);
	if (g.n_non_pci)
		st = sw_refuse(c, SW_REFUSED, CHECK_GROUP_VIABLE, "IOMMU group %d holds %zu device(s) that are not PCI functions "
			  "of the GPU", p->group, g.n_non_pci);
	p->devs = calloc(g.n_members ? g.n_members : 1, sizeof(*p->devs));
	for (size_t i = 0; !st && p->devs && i < g.n_members; i++) {
		struct pci_function *f = &g.members[i];
		struct switch_dev *d = &p->devs[p->n_devs];
		enum group_role role = group_role_of(&p->gpu, f);
		bool on_vfio = streq(f->driver, VFIO) || streq(f->driver_override, VFIO);

		if (role == ROLE_BRIDGE || (only_vfio && !on_vfio))
			continue; /* bridges and ports stay with the host; VFIO does not need them */
		if (f->locked) {
			st = sw_fail(c, SW_STUCK, "%s: a driver change of it is stuck in the kernel (it holds "
				     "the device's lock: driver_override does not answer); nothing can be "
				     "done with it until the kernel lets go, then `vmrun restore`", f->name);
			break;
		}
		st = check_member(c, o, f, role);
		if (st)
			break;
		*d = (struct switch_dev){ .fn = *f, .role = role, .ours = !streq(f->driver, VFIO),
					  .phase = PHASE_PLANNED,
					  .reset_wanted = wants_vendor_reset(c, f, role) };
		snprintf(d->orig_driver, sizeof(d->orig_driver), "%s", f->driver);
		snprintf(d->orig_override, sizeof(d->orig_override), "%s", f->driver_override);
		/* An override of vfio-pci is ours to clear, not the user's to keep. */
		if (streq(d->orig_override, VFIO))
			d->orig_override[0] = '\0';
		if (nodes && devnodes_collect(c->s, f, nodes) < 0)
			st = sw_fail(c, SW_FAILED, "%s: cannot list its device nodes", f->name);
		p->n_devs++;
	}
	iommu_group_clear(&g);
	if (!p->devs)
		return sw_fail(c, SW_FAILED, "out of memory");
	return st;
}

/* The function the user named: a display device in an IOMMU group. */
enum switch_status swplan_gpu(struct switch_ctx *c, const struct pci_addr *gpu,
			      struct switch_plan *p)
{
	char a[PCI_ADDR_STR_MAX];

	if (pci_function_read(c->s, gpu, &p->gpu) < 0)
		return sw_refuse(c, SW_BAD_INPUT, CHECK_DEVICES, "no PCI device %s on this host",
			      pci_addr_format(gpu, a));
	if (!pci_is_display(&p->gpu))
		return sw_refuse(c, SW_REFUSED, CHECK_DEVICES, "%s is not a display device (class %06x): vmrun hands over "
			    "GPUs and their companion functions", p->gpu.name, p->gpu.class_code);
	if (p->gpu.iommu_group < 0)
		return sw_refuse(c, SW_REFUSED, CHECK_IOMMU, "%s is in no IOMMU group: the IOMMU is off (add "
			    "intel_iommu=on iommu=pt, or amd_iommu=on iommu=pt, to the kernel command "
			    "line)", p->gpu.name);
	p->group = p->gpu.iommu_group;
	return SW_OK;
}

enum switch_status switch_plan_detach(struct switch_ctx *c, const struct pci_addr *gpu,
				      const struct switch_opts *o, struct switch_plan *ret)
{
	struct switch_plan p = { .group = -1 };
	struct devnode_set nodes = { 0 };
	enum module_state vfio;
	enum switch_status st;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->group = -1;
	st = swplan_gpu(c, gpu, &p);
	if (st)
		return st;
	if (module_state_of(c->s, VFIO, &vfio, NULL, 0) < 0 || vfio == MODULE_MISSING)
		return sw_refuse(c, SW_REFUSED, CHECK_VFIO_MODULES, "vfio-pci is not available in this kernel");
	st = swplan_members(c, o, &p, false, &nodes);
	if (!st)
		st = plan_modules(c, &p);
	if (!st && holders_find(c->s, &nodes, &p.holders) < 0)
		st = sw_fail(c, SW_FAILED, "cannot scan /proc for holders");
	/* Holders first: naming the display server on the GPU is the most useful answer. */
	if (!st)
		st = check_holders(c, o, &p);
	/* A plan made for `vmrun check` has no kernel_ops of its own: it only reads. */
	if (!st && (r = console_plan(c->s, c->k ? c->k : &kernel_real, &nodes, &p.console)) < 0)
		st = sw_refuse(c, SW_REFUSED, CHECK_CONSOLE, "cannot tell whether %s drives the text console (%s)",
			  p.gpu.name, strerror(-r));
	if (!st && p.console.needed && p.console.to_fb < 0)
		st = sw_refuse(c, SW_REFUSED, CHECK_CONSOLE, "%s drives the text console (fbcon on /dev/fb%u) "
			    "and no other framebuffer can take it: boot with the console on the host "
			    "GPU's framebuffer (the fbcon=map: kernel option; `vmrun setup` proposes it), "
			    "or unbind fbcon (echo 0 > /sys/class/vtconsole/vtcon1/bind)", p.gpu.name,
			    p.console.v[0].fb);
	devnode_set_clear(&nodes);
	*ret = p; /* even when refused: the caller shows the holders */
	return st;
}
