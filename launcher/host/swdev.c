/* SPDX-License-Identifier: MIT */
/*
 * One device's steps, each way: driver_override, unbind, drivers_probe, each write's effect
 * verified in sysfs with a bounded wait (a write the kernel never returns from is a stuck
 * step, never a hang); the journal follows each phase; vendor-reset's reset_method for the
 * run, and back.
 */
#include "swdev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define VFIO "vfio-pci"

int swdev_driver(const struct switch_ctx *c, const struct pci_function *f, char *buf, size_t cap)
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
	/* Its show takes the device's lock: read within a deadline (kernel.h). */
	r = sysfs_read_bounded(c->s, path, buf, cap, 3000);
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
		int r = swdev_driver(c, f, got, cap);

		if (r < 0)
			return r;
		if (streq(got, want))
			return 0;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		c->k->sleep_ms(c->k->data, step);
	}
}

int swdev_write(struct switch_ctx *c, const struct switch_opts *o, const char *path,
		  const char *value)
{
	int pid = 0, r;

	r = c->k->sysfs_write(c->k->data, c->s, path, value, sw_or_default(o->write_timeout_ms, 10000), &pid);
	if (r == -ETIMEDOUT)
		c->stuck_pid = pid;
	log_debug("write '%s' to /sys/%s: %s", value, path, r < 0 ? strerror(-r) : "ok");
	return r;
}

enum switch_status swdev_write_failed(struct switch_ctx *c, int r, const char *what, const char *path)
{
	if (r == -ETIMEDOUT)
		return sw_fail(c, SW_STUCK, "%s: the kernel did not return from writing /sys/%s%s%d%s", what,
			    path, c->stuck_pid ? " (process " : "", c->stuck_pid,
			    c->stuck_pid ? " is stuck in it)" : "");
	return sw_fail(c, SW_FAILED, "%s: writing /sys/%s failed: %s", what, path, strerror(-r));
}

static enum switch_status set_override(struct switch_ctx *c, const struct switch_opts *o,
				       const struct pci_function *f, const char *drv)
{
	char path[96], got[64] = "";
	int r;

	snprintf(path, sizeof(path), "bus/pci/devices/%s/driver_override", f->name);
	/* A lone newline clears it; an empty write is refused by some kernels. */
	r = swdev_write(c, o, path, *drv ? drv : "\n");
	if (r < 0)
		return swdev_write_failed(c, r, f->name, path);
	r = cur_override(c, f, got, sizeof(got));
	if (r < 0 || !streq(got, drv))
		return sw_fail(c, SW_FAILED, "%s: driver_override reads '%s' after writing '%s'", f->name,
			    got, drv);
	return SW_OK;
}

static enum switch_status unbind(struct switch_ctx *c, const struct switch_opts *o,
				 const struct pci_function *f, const char *drv)
{
	char path[128], got[64];
	int r;

	snprintf(path, sizeof(path), "bus/pci/drivers/%s/unbind", drv);
	r = swdev_write(c, o, path, f->name);
	if (r < 0)
		return swdev_write_failed(c, r, f->name, path);
	r = wait_driver(c, f, "", sw_or_default(o->probe_timeout_ms, 10000), got, sizeof(got));
	if (r < 0)
		return sw_fail(c, SW_FAILED, "%s: still bound to %s after unbinding", f->name, got);
	return SW_OK;
}

/* drivers_probe, then the driver link must be `want`; want NULL: whatever the kernel picks. */
static enum switch_status probe(struct switch_ctx *c, const struct switch_opts *o,
				const struct pci_function *f, const char *want)
{
	char got[64] = "";
	int r, w = swdev_write(c, o, "bus/pci/drivers_probe", f->name);

	/* drivers_probe answers ENODEV/EINVAL when no driver took it; the link says the rest. */
	if (w == -ETIMEDOUT)
		return swdev_write_failed(c, w, f->name, "bus/pci/drivers_probe");
	/*
	 * No driver to go back to (the device had none, or the journal was lost): whatever the
	 * kernel picks, nothing included, is home. Waiting for "a driver" failed every attach and
	 * restore of a function that started unbound (test_unbound_function_round_trip).
	 */
	if (!want)
		return SW_OK;
	r = wait_driver(c, f, want, sw_or_default(o->probe_timeout_ms, 10000), got, sizeof(got));
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
		sw_progress(c, "%s: no driver took it; binding it to %s again", f->name, want);
		r = swdev_write(c, o, bind, f->name);
		if (r != -ETIMEDOUT)
			r = wait_driver(c, f, want, sw_or_default(o->probe_timeout_ms, 10000), got,
					sizeof(got));
	}
	if (r < 0)
		return sw_fail(c, SW_FAILED, "%s: bound to %s after probing, expected %s", f->name,
			    got[0] ? got : "no driver", want);
	return SW_OK;
}

enum switch_status swdev_to_vfio(struct switch_ctx *c, const struct switch_opts *o,
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
	if (swdev_driver(c, &d->fn, drv, sizeof(drv)) < 0)
		return sw_fail(c, SW_FAILED, "%s: cannot read its driver", d->fn.name);
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
enum switch_status swdev_release(struct switch_ctx *c, const struct switch_opts *o,
				      struct switch_dev *d)
{
	char drv[64];
	enum switch_status st;

	if (swdev_driver(c, &d->fn, drv, sizeof(drv)) < 0)
		return sw_fail(c, SW_FAILED, "%s: cannot read its driver", d->fn.name);
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

enum switch_status swdev_bind(struct switch_ctx *c, const struct switch_opts *o,
				   struct switch_dev *d)
{
	char drv[64];
	enum switch_status st = SW_OK;

	if (swdev_driver(c, &d->fn, drv, sizeof(drv)) < 0)
		return sw_fail(c, SW_FAILED, "%s: cannot read its driver", d->fn.name);
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

static int read_reset(const struct switch_ctx *c, const struct switch_dev *d, char *buf, size_t cap)
{
	char path[96];

	snprintf(path, sizeof(path), "bus/pci/devices/%s/reset_method", d->fn.name);
	return read_attr_at(c->s->sys_fd, path, buf, cap);
}

/* Not a reason to stop the run: the kernel's own reset stays, and check said what it is. */
enum switch_status swdev_reset_for_run(struct switch_ctx *c, const struct switch_opts *o,
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
	r = swdev_write(c, o, path, "device_specific");
	if (r == -ETIMEDOUT)
		return swdev_write_failed(c, r, d->fn.name, path);
	if (r >= 0 && read_reset(c, d, got, sizeof(got)) >= 0 && streq(got, "device_specific")) {
		sw_progress(c, "%s: reset by vendor-reset while the VM has it (reset_method "
			 "device_specific, was %s)", d->fn.name, d->orig_reset);
		return SW_OK;
	}
	sw_progress(c, "%s: vendor-reset is loaded, but the kernel did not take device_specific for "
		 "reset_method (%s): its own reset (%s) stays", d->fn.name, r < 0 ? strerror(-r) :
		 got, d->orig_reset);
	d->reset_set = false;
	return journal_sync(c, j);
}

/* On every way back: reset_method as it was. A failure is said, not fatal: the GPU matters. */
void swdev_reset_back(struct switch_ctx *c, const struct switch_opts *o, struct switch_dev *d)
{
	char path[96], got[128] = "";
	int r;

	if (!d->reset_set)
		return;
	snprintf(path, sizeof(path), "bus/pci/devices/%s/reset_method", d->fn.name);
	r = swdev_write(c, o, path, d->orig_reset);
	if (r >= 0 && (streq(d->orig_reset, "default") ||
		       (read_reset(c, d, got, sizeof(got)) >= 0 && streq(got, d->orig_reset)))) {
		d->reset_set = false;
		return;
	}
	sw_progress(c, "%s: reset_method could not be put back to '%s' (%s), ignoring", d->fn.name,
		 d->orig_reset, r < 0 ? strerror(-r) : got);
	d->reset_set = false;
}
