/* SPDX-License-Identifier: MIT */
/*
 * Moving a GPU's IOMMU group between its host drivers and vfio-pci.
 *
 * Detach, in numbered steps (each journaled before it acts; a failure undoes the completed
 * ones in reverse, and a journal that cannot be written is a failure like any other):
 *   1. lock the group; an interrupted switch in the journal means `restore` first
 *   2. plan: the group's members and roles, refusals (IOMMU, non-GPU members, SR-IOV, D3cold,
 *      console), holders of every node; nothing is changed before this passes
 *   3. journal the plan, its owner and every device's original driver and override
 *   4. make sure vfio-pci is loaded
 *   5. unload the vendor's modules when this was their last device (NVIDIA)
 *   6. per device: driver_override=vfio-pci, unbind, drivers_probe, verify vfio-pci
 *   7. verify /dev/vfio/<group>, mark the journal done
 * Attach runs 5 and 6 backwards from the journal, refusing while anything holds the group's
 * VFIO nodes, and only for the journal's owner (or root).
 */
#include "switch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "devnodes.h"
#include "exitcodes.h"
#include "fileio.h"
#include "grouplock.h"
#include "journal.h"
#include "kmsg.h"
#include "log.h"
#include "modules.h"
#include "procstat.h"
#include "quirks.h"
#include "util.h"

#define VFIO "vfio-pci"

static const char *const nvidia_stack[] = { "nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia" };

/* ---- statuses: the one table of names and exit codes ---- */

static const struct {
	const char *name;
	int exit;
} statuses[] = {
	[SW_OK] = { "ok", EXIT_OK },
	[SW_HELD] = { "held", EXIT_BUSY },
	[SW_REFUSED] = { "refused", EXIT_NOT_READY },
	[SW_NEEDS_RESTORE] = { "needs-restore", EXIT_RECOVER },
	[SW_FAILED] = { "failed", EXIT_ERROR },
	/* A write the kernel never returned from: the journal waits for `vmrun restore`. */
	[SW_STUCK] = { "stuck", EXIT_RECOVER },
	[SW_BUSY] = { "busy", EXIT_BUSY },
	[SW_BAD_INPUT] = { "bad-input", EXIT_USAGE },
};

const char *switch_status_name(enum switch_status st)
{
	return (unsigned)st <= SW_STATUS_MAX ? statuses[st].name : "?";
}

int switch_status_parse(const char *name, enum switch_status *ret)
{
	for (unsigned i = 0; name && i <= SW_STATUS_MAX; i++)
		if (streq(name, statuses[i].name)) {
			*ret = (enum switch_status)i;
			return 0;
		}
	return -EINVAL;
}

int switch_status_exit(enum switch_status st)
{
	return (unsigned)st <= SW_STATUS_MAX ? statuses[st].exit : EXIT_ERROR;
}

_printf_(3, 4) static enum switch_status fail(struct switch_ctx *c, enum switch_status st,
					      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return st;
}

/* A refusal by one of the planning checks: which one is kept for `vmrun check`. */
_printf_(4, 5) static enum switch_status refuse(struct switch_ctx *c, enum switch_status st,
						enum check_id check, const char *fmt, ...)
{
	va_list ap;

	c->check = check;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return st;
}

_printf_(2, 3) static void progress(struct switch_ctx *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!c->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->progress(c->progress_data, msg);
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

/* ---- sysfs state of one device ---- */

static int cur_driver(const struct switch_ctx *c, const struct pci_function *f, char *buf, size_t cap)
{
	char path[80];
	int r;

	snprintf(path, sizeof(path), "bus/pci/devices/%s/driver", f->name);
	r = read_link_name_at(c->s->sys_fd, path, buf, cap);
	if (r == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return r;
}

static int cur_override(const struct switch_ctx *c, const struct pci_function *f, char *buf, size_t cap)
{
	char path[80];
	int r;

	snprintf(path, sizeof(path), "bus/pci/devices/%s/driver_override", f->name);
	r = read_attr_at(c->s->sys_fd, path, buf, cap);
	if (r >= 0 && streq(buf, "(null)"))
		buf[0] = '\0';
	return r < 0 ? r : 0;
}

/* Poll until the device's driver is `want` ("" = none); every write's effect is verified. */
static int wait_driver(struct switch_ctx *c, const struct pci_function *f, const char *want,
		       unsigned timeout_ms, char *got, size_t cap)
{
	/* Binding is usually done when the write returns: poll soon, then back off to 20 ms. */
	for (unsigned waited = 0, step = 1;; waited += step, step = step * 2 > 20 ? 20 : step * 2) {
		int r = cur_driver(c, f, got, cap);

		if (r < 0)
			return r;
		if (streq(got, want))
			return 0;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		c->k->sleep_ms(c->k->data, step);
	}
}

static int kwrite(struct switch_ctx *c, const struct switch_opts *o, const char *path,
		  const char *value)
{
	int pid = 0, r;

	r = c->k->sysfs_write(c->k->data, c->s, path, value, or_default(o->write_timeout_ms, 10000), &pid);
	if (r == -ETIMEDOUT)
		c->stuck_pid = pid;
	log_debug("write '%s' to /sys/%s: %s", value, path, r < 0 ? strerror(-r) : "ok");
	return r;
}

static enum switch_status write_failed(struct switch_ctx *c, int r, const char *what, const char *path)
{
	if (r == -ETIMEDOUT)
		return fail(c, SW_STUCK, "%s: the kernel did not return from writing /sys/%s%s%d%s", what,
			    path, c->stuck_pid ? " (process " : "", c->stuck_pid,
			    c->stuck_pid ? " is stuck in it)" : "");
	return fail(c, SW_FAILED, "%s: writing /sys/%s failed: %s", what, path, strerror(-r));
}

static enum switch_status set_override(struct switch_ctx *c, const struct switch_opts *o,
				       const struct pci_function *f, const char *drv)
{
	char path[96], got[64] = "";
	int r;

	snprintf(path, sizeof(path), "bus/pci/devices/%s/driver_override", f->name);
	/* A lone newline clears it; an empty write is refused by some kernels. */
	r = kwrite(c, o, path, *drv ? drv : "\n");
	if (r < 0)
		return write_failed(c, r, f->name, path);
	r = cur_override(c, f, got, sizeof(got));
	if (r < 0 || !streq(got, drv))
		return fail(c, SW_FAILED, "%s: driver_override reads '%s' after writing '%s'", f->name,
			    got, drv);
	return SW_OK;
}

static enum switch_status unbind(struct switch_ctx *c, const struct switch_opts *o,
				 const struct pci_function *f, const char *drv)
{
	char path[128], got[64];
	int r;

	snprintf(path, sizeof(path), "bus/pci/drivers/%s/unbind", drv);
	r = kwrite(c, o, path, f->name);
	if (r < 0)
		return write_failed(c, r, f->name, path);
	r = wait_driver(c, f, "", or_default(o->probe_timeout_ms, 10000), got, sizeof(got));
	if (r < 0)
		return fail(c, SW_FAILED, "%s: still bound to %s after unbinding", f->name, got);
	return SW_OK;
}

/* drivers_probe, then the driver link must be `want`; want NULL: whatever the kernel picks. */
static enum switch_status probe(struct switch_ctx *c, const struct switch_opts *o,
				const struct pci_function *f, const char *want)
{
	char got[64] = "";
	int r, w = kwrite(c, o, "bus/pci/drivers_probe", f->name);

	/* drivers_probe answers ENODEV/EINVAL when no driver took it; the link says the rest. */
	if (w == -ETIMEDOUT)
		return write_failed(c, w, f->name, "bus/pci/drivers_probe");
	/*
	 * No driver to go back to (the device had none, or the journal was lost): whatever the
	 * kernel picks, nothing included, is home. Waiting for "a driver" failed every attach and
	 * restore of a function that started unbound (test_unbound_function_round_trip).
	 */
	if (!want)
		return SW_OK;
	r = wait_driver(c, f, want, or_default(o->probe_timeout_ms, 10000), got, sizeof(got));
	/*
	 * Going home and left with no driver although the probe was taken: a host driver's probe
	 * can fail while the function settles after its reset (snd_hda_intel's does). Once more,
	 * straight to that driver. Not for vfio-pci (a failed detach rolls back), not after the
	 * write itself failed, not when another driver took it.
	 */
	if (r == -ETIMEDOUT && !got[0] && !streq(want, "vfio-pci") &&
	    (w == 0 || w == -ENODEV || w == -EINVAL)) {
		char bind[96];

		snprintf(bind, sizeof(bind), "bus/pci/drivers/%s/bind", want);
		progress(c, "%s: no driver took it; binding it to %s again", f->name, want);
		r = kwrite(c, o, bind, f->name);
		if (r != -ETIMEDOUT)
			r = wait_driver(c, f, want, or_default(o->probe_timeout_ms, 10000), got,
					sizeof(got));
	}
	if (r < 0)
		return fail(c, SW_FAILED, "%s: bound to %s after probing, expected %s", f->name,
			    got[0] ? got : "no driver", want);
	return SW_OK;
}

/* ---- the journal, written after (and, where it matters, before) every step ---- */

static enum switch_status journal_sync(struct switch_ctx *c, struct journal *j)
{
	int r = journal_write(c->state_fd, j);

	if (r < 0)
		return fail(c, SW_FAILED, "cannot write the journal /run/vmrun/switch/group-%d.json: %s",
			    j->plan.group, strerror(-r));
	return SW_OK;
}

static enum switch_status journal_begin(struct switch_ctx *c, struct journal *j, enum journal_op op,
					bool for_run, bool kept)
{
	j->op = op;
	j->state = JOURNAL_IN_PROGRESS;
	j->pid = getpid();
	j->holder = c->holder > 0 ? c->holder : j->pid;
	j->holder_start = 0;
	(void)proc_start_time(c->s->proc_fd, j->holder, &j->holder_start);
	j->for_run = for_run && !kept; /* a kept group is not the run's to give back */
	j->kept = kept;
	j->owner = c->owner;
	j->started = (int64_t)time(NULL);
	return journal_sync(c, j);
}

/* ---- one device, each way ---- */

static enum switch_status dev_to_vfio(struct switch_ctx *c, const struct switch_opts *o,
				      struct journal *j, struct switch_dev *d)
{
	char drv[64];
	enum switch_status st;

	/* Journaled as touched before the first write: a write that lands but fails its check
	 * must still be undone by the rollback, and by restore after a crash. */
	d->phase = PHASE_OVERRIDE;
	st = journal_sync(c, j);
	if (!st)
		st = set_override(c, o, &d->fn, VFIO);
	if (st)
		return st;
	if (cur_driver(c, &d->fn, drv, sizeof(drv)) < 0)
		return fail(c, SW_FAILED, "%s: cannot read its driver", d->fn.name);
	if (drv[0] && !streq(drv, VFIO)) {
		st = unbind(c, o, &d->fn, drv);
		if (st)
			return st;
		d->phase = PHASE_UNBOUND;
		st = journal_sync(c, j);
		if (st)
			return st;
	}
	if (!streq(drv, VFIO)) {
		st = probe(c, o, &d->fn, VFIO);
		if (st)
			return st;
	}
	d->phase = PHASE_VFIO;
	return journal_sync(c, j);
}

/*
 * Back to the original driver happens in two halves, with the vendor's modules reloaded in
 * between: nvidia.ko refuses to load while no GPU is free for it to probe, so every function
 * is first taken off vfio-pci and pinned to its original driver, then modules load (and bind
 * what is pinned to them), then each function is probed and verified.
 */
static enum switch_status dev_release(struct switch_ctx *c, const struct switch_opts *o,
				      struct switch_dev *d)
{
	char drv[64];
	enum switch_status st;

	if (cur_driver(c, &d->fn, drv, sizeof(drv)) < 0)
		return fail(c, SW_FAILED, "%s: cannot read its driver", d->fn.name);
	if (drv[0] && d->orig_driver[0] && streq(drv, d->orig_driver))
		return SW_OK; /* already home: only the override may need restoring */
	if (drv[0]) {
		st = unbind(c, o, &d->fn, drv);
		if (st)
			return st;
	}
	/* Pin the original driver, so that no other match can win when it probes. */
	st = set_override(c, o, &d->fn, d->orig_driver);
	if (!st)
		d->phase = PHASE_RELEASED;
	return st;
}

static enum switch_status dev_bind(struct switch_ctx *c, const struct switch_opts *o,
				   struct switch_dev *d)
{
	char drv[64];
	enum switch_status st = SW_OK;

	if (cur_driver(c, &d->fn, drv, sizeof(drv)) < 0)
		return fail(c, SW_FAILED, "%s: cannot read its driver", d->fn.name);
	if (!(drv[0] && d->orig_driver[0] && streq(drv, d->orig_driver))) {
		st = probe(c, o, &d->fn, d->orig_driver[0] ? d->orig_driver : NULL);
		if (st == SW_FAILED && d->orig_driver[0])
			snprintf(c->why + strlen(c->why), sizeof(c->why) - strlen(c->why),
				 "; if %s will not take it again, the kernel's remove-and-rescan may "
				 "(echo 1 > /sys/bus/pci/devices/%s/remove; echo 1 > /sys/bus/pci/rescan), "
				 "though it loses devices on some boards", d->orig_driver, d->fn.name);
		if (st)
			return st;
	}
	st = set_override(c, o, &d->fn, d->orig_override);
	if (!st)
		d->phase = PHASE_HOST;
	return st;
}

/* ---- the GPU's reset: vendor-reset ---- */

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

static int read_reset(const struct switch_ctx *c, const struct switch_dev *d, char *buf, size_t cap)
{
	char path[96];

	snprintf(path, sizeof(path), "bus/pci/devices/%s/reset_method", d->fn.name);
	return read_attr_at(c->s->sys_fd, path, buf, cap);
}

/* Not a reason to stop the run: the kernel's own reset stays, and check said what it is. */
static enum switch_status reset_for_run(struct switch_ctx *c, const struct switch_opts *o,
					struct journal *j, struct switch_dev *d)
{
	char path[96], got[128] = "";
	enum switch_status st;
	int r;

	snprintf(d->orig_reset, sizeof(d->orig_reset), "%s",
		 d->fn.reset_method[0] ? d->fn.reset_method : "default");
	d->reset_set = true;
	st = journal_sync(c, j);
	if (st)
		return st;
	snprintf(path, sizeof(path), "bus/pci/devices/%s/reset_method", d->fn.name);
	r = kwrite(c, o, path, "device_specific");
	if (r == -ETIMEDOUT)
		return write_failed(c, r, d->fn.name, path);
	if (r >= 0 && read_reset(c, d, got, sizeof(got)) >= 0 && streq(got, "device_specific")) {
		progress(c, "%s: reset by vendor-reset while the VM has it (reset_method "
			 "device_specific, was %s)", d->fn.name, d->orig_reset);
		return SW_OK;
	}
	progress(c, "%s: vendor-reset is loaded, but the kernel did not take device_specific for "
		 "reset_method (%s): its own reset (%s) stays", d->fn.name, r < 0 ? strerror(-r) :
		 got, d->orig_reset);
	d->reset_set = false;
	return journal_sync(c, j);
}

/* On every way back: reset_method as it was. A failure is said, not fatal: the GPU matters. */
static void reset_back(struct switch_ctx *c, const struct switch_opts *o, struct switch_dev *d)
{
	char path[96], got[128] = "";
	int r;

	if (!d->reset_set)
		return;
	snprintf(path, sizeof(path), "bus/pci/devices/%s/reset_method", d->fn.name);
	r = kwrite(c, o, path, d->orig_reset);
	if (r >= 0 && (streq(d->orig_reset, "default") ||
		       (read_reset(c, d, got, sizeof(got)) >= 0 && streq(got, d->orig_reset)))) {
		d->reset_set = false;
		return;
	}
	progress(c, "%s: reset_method could not be put back to '%s' (%s), ignoring", d->fn.name,
		 d->orig_reset, r < 0 ? strerror(-r) : got);
	d->reset_set = false;
}

/* ---- planning ---- */

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
		return refuse(c, SW_REFUSED, CHECK_DEVICE_STATE, "%s: cannot read sriov_numvfs (%s): refusing rather than "
			    "guessing that no virtual function is enabled", f->name, strerror(-r));
	if (r == 0 && vfs > 0)
		return refuse(c, SW_REFUSED, CHECK_DEVICE_STATE, "%s has %lu SR-IOV virtual functions enabled; disable them "
			    "first (echo 0 > /sys/bus/pci/devices/%s/sriov_numvfs)", f->name, vfs, f->name);
	snprintf(path, sizeof(path), "bus/pci/devices/%s/power_state", f->name);
	r = read_attr_at(c->s->sys_fd, path, power, sizeof(power));
	if (r < 0 && r != -ENOENT)
		return refuse(c, SW_REFUSED, CHECK_DEVICE_STATE, "%s: cannot read its power state (%s)", f->name,
			      strerror(-r));
	if (r >= 0 && streq(power, "D3cold"))
		return refuse(c, SW_REFUSED, CHECK_DEVICE_STATE, "%s is in D3cold and its config space is unreadable; wake "
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
		return refuse(c, SW_REFUSED, CHECK_GROUP_VIABLE, "IOMMU group %d also holds %s (%s, driver %s), which is not "
			    "part of the GPU: handing the group over would take it from the host",
			    f->iommu_group, f->name, f->class_name[0] ? f->class_name :
			    pci_class_fallback(f->class_code), f->driver[0] ? f->driver : "none");
	/* Disk controllers and virtio transports may carry the host's own filesystems. */
	if (role == ROLE_OTHER && (pci_base_class(f) == 0x01 || f->vendor == 0x1af4))
		return refuse(c, SW_REFUSED, CHECK_GROUP_VIABLE, "%s in the group is a storage or virtio device; it may "
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

static enum switch_status check_holders(struct switch_ctx *c, struct switch_plan *p)
{
	size_t len = 0, n = 0;
	char who[256];

	for (size_t i = 0; i < p->holders.n; i++) {
		const struct holder *h = &p->holders.v[i];

		if (!holder_blocks(h, p->n_modules > 0)) {
			progress(c, "note: %s has %s open; it will lose the device, ignoring",
				 holder_describe(h, who, sizeof(who)), h->node);
			continue;
		}
		if (quirk_holder_service(h) && plan_service(p, quirk_holder_service(h))) {
			progress(c, "note: %s holds %s: %s is stopped for the switch and started "
				 "again after", holder_describe(h, who, sizeof(who)), h->node,
				 quirk_holder_service(h));
			continue;
		}
		if (len < sizeof(c->why))
			len += (size_t)snprintf(c->why + len, sizeof(c->why) - len, "%s%s holds %s",
						n++ ? "; " : "", holder_describe(h, who, sizeof(who)),
						h->node);
	}
	if (!n)
		return SW_OK;
	if (len < sizeof(c->why))
		snprintf(c->why + len, sizeof(c->why) - len, "; stop %s or keep it off this GPU "
			 "(Xorg: Option \"AutoAddGPU\" \"off\")", n > 1 ? "them" : "it");
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
		return fail(c, SW_FAILED, "cannot list PCI devices");
	/* "No other device uses nvidia" cannot be decided from a list with holes in it. */
	if (unreadable)
		return refuse(c, SW_REFUSED, CHECK_MODULES, "%u PCI device(s) could not be read: cannot tell whether "
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
static enum switch_status plan_members(struct switch_ctx *c, const struct switch_opts *o,
				       struct switch_plan *p, bool only_vfio, struct devnode_set *nodes)
{
	struct iommu_group g;
	enum switch_status st = SW_OK;

	if (iommu_group_read(c->s, p->group, &g) < 0)
		return refuse(c, SW_REFUSED, CHECK_GROUP_VIABLE, "cannot read IOMMU group %d", p->group);
	if (g.n_non_pci)
		st = refuse(c, SW_REFUSED, CHECK_GROUP_VIABLE, "IOMMU group %d holds %zu device(s) that are not PCI functions "
			  "of the GPU", p->group, g.n_non_pci);
	p->devs = calloc(g.n_members ? g.n_members : 1, sizeof(*p->devs));
	for (size_t i = 0; !st && p->devs && i < g.n_members; i++) {
		struct pci_function *f = &g.members[i];
		struct switch_dev *d = &p->devs[p->n_devs];
		enum group_role role = group_role_of(&p->gpu, f);
		bool on_vfio = streq(f->driver, VFIO) || streq(f->driver_override, VFIO);

		if (role == ROLE_BRIDGE || (only_vfio && !on_vfio))
			continue; /* bridges and ports stay with the host; VFIO does not need them */
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
			st = fail(c, SW_FAILED, "%s: cannot list its device nodes", f->name);
		p->n_devs++;
	}
	iommu_group_clear(&g);
	if (!p->devs)
		return fail(c, SW_FAILED, "out of memory");
	return st;
}

/* The function the user named: a display device in an IOMMU group. */
static enum switch_status plan_gpu(struct switch_ctx *c, const struct pci_addr *gpu,
				   struct switch_plan *p)
{
	char a[PCI_ADDR_STR_MAX];

	if (pci_function_read(c->s, gpu, &p->gpu) < 0)
		return refuse(c, SW_BAD_INPUT, CHECK_DEVICES, "no PCI device %s on this host",
			      pci_addr_format(gpu, a));
	if (!pci_is_display(&p->gpu))
		return refuse(c, SW_REFUSED, CHECK_DEVICES, "%s is not a display device (class %06x): vmrun hands over "
			    "GPUs and their companion functions", p->gpu.name, p->gpu.class_code);
	if (p->gpu.iommu_group < 0)
		return refuse(c, SW_REFUSED, CHECK_IOMMU, "%s is in no IOMMU group: the IOMMU is off (add "
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
	st = plan_gpu(c, gpu, &p);
	if (st)
		return st;
	if (module_state_of(c->s, VFIO, &vfio, NULL, 0) < 0 || vfio == MODULE_MISSING)
		return refuse(c, SW_REFUSED, CHECK_VFIO_MODULES, "vfio-pci is not available in this kernel");
	st = plan_members(c, o, &p, false, &nodes);
	if (!st)
		st = plan_modules(c, &p);
	if (!st && holders_find(c->s, &nodes, &p.holders) < 0)
		st = fail(c, SW_FAILED, "cannot scan /proc for holders");
	/* Holders first: naming the display server on the GPU is the most useful answer. */
	if (!st)
		st = check_holders(c, &p);
	/* A plan made for `vmrun check` has no kernel_ops of its own: it only reads. */
	if (!st && (r = console_plan(c->s, c->k ? c->k : &kernel_real, &nodes, &p.console)) < 0)
		st = refuse(c, SW_REFUSED, CHECK_CONSOLE, "cannot tell whether %s drives the text console (%s)",
			  p.gpu.name, strerror(-r));
	if (!st && p.console.needed && p.console.to_fb < 0)
		st = refuse(c, SW_REFUSED, CHECK_CONSOLE, "%s drives the text console (fbcon on /dev/fb%u) "
			    "and no other framebuffer can take it: boot with the console on the host "
			    "GPU's framebuffer (the fbcon=map: kernel option; `vmrun setup` proposes it), "
			    "or unbind fbcon (echo 0 > /sys/class/vtconsole/vtcon1/bind)", p.gpu.name,
			    p.console.v[0].fb);
	devnode_set_clear(&nodes);
	*ret = p; /* even when refused: the caller shows the holders */
	return st;
}

/* ---- rollback and the shared "to host" walk ---- */

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* The vmrun a group was detached for still runs (the same process: its start time). */
static bool holder_alive(const struct switch_ctx *c, const struct journal *j)
{
	return proc_is_alive(c->s->proc_fd, j->holder, j->holder_start);
}

/*
 * What a vmrun that died left behind, for its owner (or root) to take back unasked: a switch
 * it was in the middle of, or a run's group it never gave back. A `vmrun detach` is not
 * stale: its group stays on vfio-pci by design.
 */
static bool stale(const struct switch_ctx *c, const struct journal *j)
{
	if (c->owner != 0 && j->owner != c->owner)
		return false;
	if (j->state == JOURNAL_IN_PROGRESS)
		return !proc_is_alive(c->s->proc_fd, j->pid, 0) && !holder_alive(c, j);
	return j->op == JOURNAL_DETACH && j->for_run && !holder_alive(c, j);
}

static const char *stale_what(const struct journal *j)
{
	return j->state == JOURNAL_IN_PROGRESS ? "was interrupted" : "was never given back";
}

/* Under the group lock, a journal still "in-progress" was left by a vmrun that died. */
static enum switch_status check_interrupted(struct switch_ctx *c, const struct journal *j)
{
	if (j->state != JOURNAL_IN_PROGRESS)
		return SW_OK;
	return fail(c, SW_NEEDS_RESTORE, "IOMMU group %d: an earlier %s by pid %d was interrupted%s; "
		    "run `vmrun restore` first", j->plan.group, journal_op_name(j->op), (int)j->pid,
		    pid_alive(j->pid) ? " (it is still alive)" : "");
}

static enum switch_status reload_modules(struct switch_ctx *c, struct switch_plan *p)
{
	for (size_t i = p->n_modules; i-- > 0;) {
		int r = c->k->module_load(c->k->data, c->s, p->modules[i]);

		if (r < 0)
			return fail(c, SW_FAILED, "reloading module %s failed: %s", p->modules[i], strerror(-r));
		progress(c, "reloaded module %s", p->modules[i]);
	}
	return SW_OK;
}

/* The consoles back on the GPU's framebuffer once it is home. A GPU whose driver made no
 * framebuffer leaves them where they are, which is said, not failed: the text console works. */
static void consoles_back(struct switch_ctx *c, struct journal *j)
{
	struct console_move *m = &j->plan.console;
	char why[256], list[192];
	int fb = -1, r;

	if (!m->moved)
		return;
	console_list_text(m, list, sizeof(list));
	r = console_move_back(c->s, c->k, m, 3000, &fb, why, sizeof(why));
	if (r == 0)
		progress(c, "text consoles %s back on fb%d (%s)", list, fb, m->from_dev);
	else
		progress(c, "text consoles %s stay on fb%d: %s", list, m->to_fb, why);
	m->moved = false;
	(void)journal_sync(c, j);
}

/* Started again on every way back, after the devices: it takes the GPUs it finds. */
static void start_services(struct switch_ctx *c, struct journal *j)
{
	if (!j->plan.services_stopped)
		return;
	for (size_t i = 0; i < j->plan.n_services; i++) {
		int r = c->k->service(c->k->data, c->s, j->plan.services[i], true);

		if (r < 0)
			progress(c, "starting %s again failed: %s (systemctl start %s)", j->plan.services[i],
				 strerror(-r), j->plan.services[i]);
		else
			progress(c, "started %s again", j->plan.services[i]);
	}
	j->plan.services_stopped = false;
	(void)journal_sync(c, j);
}

static bool skip_dev(const struct switch_dev *d, bool only_moved)
{
	return !d->ours || (only_moved && d->phase == PHASE_PLANNED);
}

/* Every device of ours back home, in reverse; the journal follows each step. */
static enum switch_status all_to_host(struct switch_ctx *c, const struct switch_opts *o,
				      struct journal *j, bool only_moved)
{
	enum switch_status st = SW_OK;

	for (size_t i = j->plan.n_devs; !st && i-- > 0;) {
		if (skip_dev(&j->plan.devs[i], only_moved))
			continue;
		reset_back(c, o, &j->plan.devs[i]);
		st = dev_release(c, o, &j->plan.devs[i]);
		if (!st)
			st = journal_sync(c, j);
	}
	if (!st)
		st = reload_modules(c, &j->plan);
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
		one = dev_bind(c, o, d);
		if (!one)
			progress(c, "%s: back on %s", d->fn.name, d->orig_driver[0] ? d->orig_driver :
				 "its default driver");
		if (!one)
			one = journal_sync(c, j);
		if (st)
			snprintf(c->why, sizeof(c->why), "%s", why);
		else
			st = one;
	}
	if (!st)
		consoles_back(c, j);
	start_services(c, j);
	return st;
}

/*
 * When a kernel step fails, the reason is usually in the kernel log: keep its tail next to the
 * journal (group-N.kmsg) and point to it, before later messages push it out.
 */
static void keep_kernel_log(struct switch_ctx *c, int group)
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

/* ---- detach ---- */

static enum switch_status unload_modules(struct switch_ctx *c, struct journal *j)
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
			return fail(c, SW_FAILED, "unloading %s failed: %s (is something still using "
				    "the NVIDIA driver? see `vmrun gpus`)", j->plan.modules[i], strerror(-r));
		}
		progress(c, "unloaded module %s", j->plan.modules[i]);
	}
	return SW_OK;
}

static enum switch_status ensure_vfio(struct switch_ctx *c)
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
			return fail(c, SW_FAILED, "loading %s failed: %s", mods[i], strerror(-r));
		progress(c, "loaded module %s", mods[i]);
	}
	return SW_OK;
}

static enum switch_status verify_vfio_node(struct switch_ctx *c, const struct switch_opts *o, int group)
{
	char name[32];
	struct stat st;

	snprintf(name, sizeof(name), "vfio/%d", group);
	for (unsigned waited = 0;; waited += 20) {
		if (c->s->dev_fd >= 0 && fstatat(c->s->dev_fd, name, &st, 0) == 0 && S_ISCHR(st.st_mode))
			return SW_OK;
		if (waited >= or_default(o->probe_timeout_ms, 10000))
			return fail(c, SW_FAILED, "/dev/vfio/%d did not appear", group);
		c->k->sleep_ms(c->k->data, 20);
	}
}

/* The text consoles off the GPU's framebuffer, before its driver lets go of it. Journaled as
 * moved first: a crash halfway through still moves them back. */
static enum switch_status consoles_away(struct switch_ctx *c, struct journal *j)
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
		return fail(c, SW_FAILED, "moving the text console off %s: %s", j->plan.gpu.name, why);
	console_list_text(m, list, sizeof(list));
	progress(c, "text consoles %s moved from fb%u (%s) to fb%d (%s)", list, m->v[0].fb,
		 m->from_dev, m->to_fb, m->to_dev);
	return SW_OK;
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
static enum switch_status stop_services(struct switch_ctx *c, struct journal *j)
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
			return fail(c, SW_FAILED, "stopping %s failed: %s", unit, strerror(-r));
		if (unit_still_holds(c, j, unit, &pid))
			return fail(c, SW_HELD, "%s was stopped, but its pid %d still holds the GPU", unit,
				    (int)pid);
		progress(c, "stopped %s (it held the GPU); it starts again when the GPU is back", unit);
	}
	return st;
}

static enum switch_status detach_steps(struct switch_ctx *c, const struct switch_opts *o,
				       struct journal *j)
{
	enum switch_status st;

	st = ensure_vfio(c);
	if (!st)
		st = consoles_away(c, j);
	if (!st)
		st = stop_services(c, j);
	if (!st)
		st = unload_modules(c, j);
	for (size_t i = 0; !st && i < j->plan.n_devs; i++) {
		struct switch_dev *d = &j->plan.devs[i];

		if (!d->ours) {
			progress(c, "%s: already on vfio-pci, left alone", d->fn.name);
			continue;
		}
		st = dev_to_vfio(c, o, j, d);
		if (!st)
			progress(c, "%s: %s -> vfio-pci", d->fn.name, d->orig_driver[0] ? d->orig_driver :
				 "no driver");
		if (!st && d->reset_wanted)
			st = reset_for_run(c, o, j, d);
	}
	if (!st)
		st = verify_vfio_node(c, o, j->plan.group);
	if (!st) {
		j->state = JOURNAL_DONE;
		st = journal_sync(c, j);
	}
	return st;
}

/* Undo a failed detach in reverse; the journal stays if the undo itself fails, for restore. */
static enum switch_status roll_back(struct switch_ctx *c, const struct switch_opts *o,
				    struct journal *j, enum switch_status st)
{
	char why[sizeof(c->why)];

	snprintf(why, sizeof(why), "%s", c->why);
	progress(c, "failed: %s; rolling back", why);
	if (all_to_host(c, o, j, true) == SW_OK) {
		(void)journal_remove(c->state_fd, j->plan.group);
	} else {
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
			 "; rollback failed too (%.300s): run `vmrun restore`", c->why);
		st = SW_NEEDS_RESTORE;
	}
	snprintf(c->why, sizeof(c->why), "%s", why);
	return st;
}

static enum switch_status check_vfio_holders(struct switch_ctx *c, const struct journal *j);

/* A run's detach of a kept group: it is the run's to use unless a VM has it open now. */
static enum switch_status use_kept(struct switch_ctx *c, const struct journal *j)
{
	enum switch_status st = check_vfio_holders(c, j);

	if (st)
		return st;
	progress(c, "IOMMU group %d is kept on vfio-pci between runs: using it as it is",
		 j->plan.group);
	return SW_OK;
}

/* A journal we have: an interrupted switch waits for restore; a finished detach is "already". */
static enum switch_status detach_journaled(struct switch_ctx *c, const struct switch_opts *o,
					   const struct journal *j)
{
	enum switch_status st = check_interrupted(c, j);

	if (st || j->op != JOURNAL_DETACH)
		return st;
	c->already = true;
	c->kept = j->kept;
	if (c->owner != 0 && j->owner != c->owner)
		return fail(c, SW_HELD, "IOMMU group %d is already on vfio-pci for another user's VM "
			    "(uid %u); it is not handed over", j->plan.group, (unsigned)j->owner);
	if (j->kept && o->for_run)
		return use_kept(c, j);
	progress(c, "IOMMU group %d is already detached (since pid %d)", j->plan.group, (int)j->holder);
	return SW_OK;
}

static enum switch_status attach_locked(struct switch_ctx *c, const struct switch_opts *o,
					const struct pci_addr *gpu, int group, bool restoring);

/* A dead vmrun's group, given back before it is detached afresh for this caller. */
static enum switch_status heal(struct switch_ctx *c, const struct switch_opts *o,
			       const struct journal *j)
{
	enum switch_status st;

	progress(c, "IOMMU group %d: the %s by pid %d %s (that vmrun is gone): %s it back first",
		 j->plan.group, journal_op_name(j->op), (int)j->holder, stale_what(j),
		 o->dry_run ? "would give" : "giving");
	if (o->dry_run)
		return SW_OK;
	st = attach_locked(c, o, NULL, j->plan.group, true);
	if (st) {
		char why[sizeof(c->why)];

		snprintf(why, sizeof(why), "%s", c->why);
		return fail(c, st, "IOMMU group %d was left by pid %d, and giving it back failed: %.900s",
			    j->plan.group, (int)j->holder, why);
	}
	return SW_OK;
}

static enum switch_status detach_locked(struct switch_ctx *c, const struct pci_addr *gpu,
					const struct switch_opts *o, int group)
{
	struct journal j = { 0 };
	enum switch_status st;
	int r;

	r = journal_read(c->state_fd, group, &j);
	/* A journal we cannot read may be the only record of an interrupted switch: keep it. */
	if (r < 0 && r != -ENOENT)
		return fail(c, SW_FAILED, "the journal for IOMMU group %d is unreadable or invalid (%s); "
			    "check /run/vmrun/switch/group-%d.json", group, strerror(-r), group);
	if (r == 0 && stale(c, &j)) {
		st = heal(c, o, &j);
		journal_clear(&j);
		if (st || o->dry_run)
			return st;
		j = (struct journal){ 0 };
	} else if (r == 0) {
		st = detach_journaled(c, o, &j);
		journal_clear(&j);
		return st;
	}
	st = switch_plan_detach(c, gpu, o, &j.plan);
	if (!st)
		st = journal_begin(c, &j, JOURNAL_DETACH, o->for_run, o->keep);
	if (st) {
		switch_plan_clear(&j.plan);
		return st;
	}
	st = detach_steps(c, o, &j);
	if (st == SW_FAILED || st == SW_STUCK)
		keep_kernel_log(c, group);
	if (st && st != SW_STUCK)
		st = roll_back(c, o, &j, st);
	switch_plan_clear(&j.plan);
	return st;
}

static enum switch_status with_group_lock(struct switch_ctx *c, const struct switch_opts *o,
					  int group, int *ret_fd)
{
	int r = group_lock(c->state_fd, group, or_default(o->lock_timeout_ms, 60000), ret_fd);

	if (r == -EBUSY)
		return fail(c, SW_BUSY, "IOMMU group %d is being switched by another vmrun", group);
	if (r < 0)
		return fail(c, SW_FAILED, "cannot lock IOMMU group %d: %s", group, strerror(-r));
	return SW_OK;
}

static enum switch_status group_of(struct switch_ctx *c, const struct pci_addr *a, int *ret)
{
	struct pci_function f;
	char s[PCI_ADDR_STR_MAX];

	if (pci_function_read(c->s, a, &f) < 0)
		return fail(c, SW_BAD_INPUT, "no PCI device %s on this host", pci_addr_format(a, s));
	if (f.iommu_group < 0)
		return fail(c, SW_REFUSED, "%s is in no IOMMU group: the IOMMU is off", f.name);
	*ret = f.iommu_group;
	return SW_OK;
}

static void switch_idle(struct switch_ctx *c)
{
	if (c->k && c->k->idle)
		c->k->idle(c->k->data);
}

enum switch_status switch_detach(struct switch_ctx *c, const struct pci_addr *gpu,
				 const struct switch_opts *o)
{
	enum switch_status st;
	int group = -1, lock = -1;

	c->already = false;
	st = group_of(c, gpu, &group);
	if (!st && o->dry_run) {
		struct switch_plan p;

		st = switch_plan_detach(c, gpu, o, &p);
		switch_plan_clear(&p);
		return st;
	}
	if (!st)
		st = with_group_lock(c, o, group, &lock);
	if (!st)
		st = detach_locked(c, gpu, o, group);
	safe_close(lock);
	switch_idle(c);
	return st;
}

/* ---- attach ---- */

/*
 * No journal (vfio-pci was bound by someone else, or the journal was lost): the group's
 * vfio-pci functions go to whatever the kernel picks, after the same checks detach makes.
 * Without a journal there is no owner, so only root does this.
 */
static enum switch_status journal_from_sysfs(struct switch_ctx *c, const struct switch_opts *o,
					     const struct pci_addr *gpu, int group, struct journal *j)
{
	enum switch_status st;

	if (c->owner != 0)
		return fail(c, SW_REFUSED, "IOMMU group %d was not detached by vmrun (no journal): only "
			    "root can give it to the host drivers", group);
	st = plan_gpu(c, gpu, &j->plan);
	if (!st)
		st = plan_members(c, o, &j->plan, true, NULL);
	for (size_t i = 0; !st && i < j->plan.n_devs; i++) {
		j->plan.devs[i].ours = true;
		j->plan.devs[i].orig_driver[0] = '\0';
		j->plan.devs[i].phase = PHASE_VFIO;
	}
	return st;
}

static enum switch_status check_vfio_holders(struct switch_ctx *c, const struct journal *j)
{
	struct devnode_set nodes = { 0 };
	struct holder_set hs = { 0 };
	enum switch_status st = SW_OK;
	char who[256];

	for (size_t i = 0; i < j->plan.n_devs; i++) {
		struct pci_function f;

		if (pci_function_read(c->s, &j->plan.devs[i].fn.addr, &f) == 0 &&
		    devnodes_collect(c->s, &f, &nodes) < 0)
			st = fail(c, SW_FAILED, "%s: cannot list its device nodes", f.name);
	}
	if (!st && holders_find(c->s, &nodes, &hs) < 0)
		st = fail(c, SW_FAILED, "cannot scan /proc for holders");
	for (size_t i = 0; !st && i < hs.n; i++)
		if (hs.v[i].kind == NODE_VFIO)
			st = fail(c, SW_HELD, "%s holds %s (a VM is using the GPU); stop it first",
				  holder_describe(&hs.v[i], who, sizeof(who)), hs.v[i].node);
	holder_set_clear(&hs);
	devnode_set_clear(&nodes);
	return st;
}

/* Devices must still be the ones journaled: a different card in the slot is not ours. */
static enum switch_status validate_devices(struct switch_ctx *c, struct journal *j)
{
	for (size_t i = 0; i < j->plan.n_devs; i++) {
		struct switch_dev *d = &j->plan.devs[i];
		struct pci_function f;

		if (pci_function_read(c->s, &d->fn.addr, &f) < 0)
			return fail(c, SW_FAILED, "%s from the journal is gone from this host", d->fn.name);
		if (f.vendor != d->fn.vendor || f.device != d->fn.device || f.iommu_group != j->plan.group)
			return fail(c, SW_FAILED, "%s is not the device the journal recorded "
				    "(%04x:%04x in group %d)", d->fn.name, d->fn.vendor, d->fn.device,
				    j->plan.group);
		d->fn = f;
	}
	return SW_OK;
}

/* Only the user the group was detached for (or root) gives it back. */
static enum switch_status check_owner(struct switch_ctx *c, const struct journal *j)
{
	if (c->owner == 0 || j->owner == c->owner)
		return SW_OK;
	return fail(c, SW_REFUSED, "IOMMU group %d was detached for another user (uid %u); only "
		    "they or root can give it back", j->plan.group, (unsigned)j->owner);
}

/*
 * restore leaves a running VM's group alone: its vmrun gives it back when the VM stops (and a
 * restore under it would pull the GPU from the guest's feet, or from between the switch and
 * QEMU's start). With only_holder, a journal of another vmrun's is skipped, not refused.
 */
static enum switch_status may_restore(struct switch_ctx *c, const struct switch_opts *o,
				      const struct journal *j, bool *skip)
{
	if (o->only_holder > 0 && j->holder != o->only_holder) {
		progress(c, "IOMMU group %d is pid %d's, not pid %d's: left alone", j->plan.group,
			 (int)j->holder, (int)o->only_holder);
		*skip = true;
		return SW_OK;
	}
	/* A kept group stays on vfio-pci when its run ends, however it ends. */
	if (o->only_holder > 0 && j->kept && j->op == JOURNAL_DETACH && j->state == JOURNAL_DONE) {
		progress(c, "IOMMU group %d is kept on vfio-pci between runs: left there", j->plan.group);
		*skip = true;
		return SW_OK;
	}
	if (j->for_run && j->state == JOURNAL_DONE && holder_alive(c, j) &&
	    j->holder != (c->holder > 0 ? c->holder : getpid()))
		return fail(c, SW_BUSY, "IOMMU group %d belongs to a running VM (vmrun pid %d), which "
			    "gives it back when the VM stops: `vmrun stop` it instead", j->plan.group,
			    (int)j->holder);
	return SW_OK;
}

static enum switch_status load_for_attach(struct switch_ctx *c, const struct switch_opts *o,
					  const struct pci_addr *gpu, int group, bool restoring,
					  struct journal *j, bool *skip)
{
	int r = journal_read(c->state_fd, group, j);

	if (r == -ENOENT)
		return gpu ? journal_from_sysfs(c, o, gpu, group, j) : SW_OK;
	if (r < 0)
		return fail(c, SW_FAILED, "the journal for IOMMU group %d is unreadable or invalid (%s); "
			    "check /run/vmrun/switch/group-%d.json", group, strerror(-r), group);
	if (check_owner(c, j))
		return SW_REFUSED;
	if (restoring)
		return may_restore(c, o, j, skip);
	if (j->state == JOURNAL_IN_PROGRESS && stale(c, j)) {
		progress(c, "IOMMU group %d: the %s by pid %d was interrupted (that vmrun is gone): "
			 "finishing it by giving the group back", group, journal_op_name(j->op),
			 (int)j->pid);
		return SW_OK;
	}
	return check_interrupted(c, j);
}

static enum switch_status attach_locked(struct switch_ctx *c, const struct switch_opts *o,
					const struct pci_addr *gpu, int group, bool restoring)
{
	struct journal j = { .plan.group = -1 };
	enum switch_status st;
	bool skip = false;

	st = load_for_attach(c, o, gpu, group, restoring, &j, &skip);
	if (!st && skip) {
		journal_clear(&j);
		return SW_OK;
	}
	if (!st)
		st = validate_devices(c, &j);
	if (!st)
		st = check_vfio_holders(c, &j);
	if (!st && j.plan.n_devs == 0 && !restoring)
		progress(c, "IOMMU group %d: nothing is on vfio-pci", group);
	if (st || o->dry_run || j.plan.n_devs == 0) {
		journal_clear(&j);
		return st;
	}
	st = journal_begin(c, &j, JOURNAL_ATTACH, false, false);
	if (!st) {
		st = all_to_host(c, o, &j, false);
		if (st == SW_FAILED || st == SW_STUCK)
			keep_kernel_log(c, group);
		/* The journal stays "in-progress": the GPU is not back until restore finishes. */
		if (st == SW_FAILED) {
			size_t len = strlen(c->why);

			snprintf(c->why + len, sizeof(c->why) - len, "; run `vmrun restore`");
			st = SW_NEEDS_RESTORE;
		}
	}
	if (!st)
		(void)journal_remove(c->state_fd, group);
	journal_clear(&j);
	return st;
}

enum switch_status switch_attach(struct switch_ctx *c, const struct pci_addr *gpu,
				 const struct switch_opts *o)
{
	enum switch_status st;
	int group = -1, lock = -1;

	st = group_of(c, gpu, &group);
	if (!st)
		st = with_group_lock(c, o, group, &lock);
	if (!st)
		st = attach_locked(c, o, gpu, group, false);
	safe_close(lock);
	switch_idle(c);
	return st;
}

enum switch_status switch_restore(struct switch_ctx *c, int group, const struct switch_opts *o)
{
	_cleanup_free_ int *groups = NULL;
	enum switch_status st = SW_OK;
	enum check_id first_check = CHECK_NONE;
	char first_why[sizeof(c->why)] = "";
	size_t n = 0;

	if (group >= 0) {
		groups = malloc(sizeof(int));
		if (!groups)
			return fail(c, SW_FAILED, "out of memory");
		groups[n++] = group;
	} else if (journal_list(c->state_fd, &groups, &n) < 0) {
		return fail(c, SW_FAILED, "cannot list /run/vmrun/switch");
	}
	/* Every group is tried: one that is busy (a running VM's) or fails does not keep the
	 * others, another user's crashed switch among them, from being restored. The first
	 * failure is the answer. */
	for (size_t i = 0; i < n; i++) {
		enum switch_status one;
		int lock = -1;

		one = with_group_lock(c, o, groups[i], &lock);
		if (!one) {
			progress(c, "IOMMU group %d: %s from the journal", groups[i],
				 o->dry_run ? "would restore" : "restoring");
			one = attach_locked(c, o, NULL, groups[i], true);
		}
		safe_close(lock);
		if (one && !st) {
			st = one;
			snprintf(first_why, sizeof(first_why), "%s", c->why);
			first_check = c->check;
		} else if (one) {
			progress(c, "IOMMU group %d: %s", groups[i], c->why);
		}
	}
	if (st) {
		snprintf(c->why, sizeof(c->why), "%s", first_why);
		c->check = first_check;
	}
	switch_idle(c);
	return st;
}

int switch_state_open(const struct sysroot *s, bool create, int *ret_fd)
{
	struct stat st;
	int fd;

	if (s->run_fd < 0)
		return -ENOENT;
	if (create && mkdirat(s->run_fd, "vmrun", 0755) < 0 && errno != EEXIST)
		return -errno;
	if (create && mkdirat(s->run_fd, "vmrun/switch", 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(s->run_fd, "vmrun/switch", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Ours alone: a directory someone else could write would let them forge journals. */
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		safe_close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	return 0;
}
