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

#include "devnodes.h"
#include "exitcodes.h"
#include "fileio.h"
#include "grouplock.h"
#include "journal.h"
#include "log.h"
#include "modules.h"
#include "procstat.h"
#include "swaside.h"
#include "swdesk.h"
#include "swdev.h"
#include "swhome.h"
#include "holders.h"
#include "util.h"

#define VFIO "vfio-pci"

/* ---- what an earlier switch left ---- */

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Under the group lock, a journal still "in-progress" was left by a vmrun that died. */
static enum switch_status check_interrupted(struct switch_ctx *c, const struct journal *j)
{
	if (j->state != JOURNAL_IN_PROGRESS)
		return SW_OK;
	return sw_fail(c, SW_NEEDS_RESTORE, "IOMMU group %d: an earlier %s by pid %d was interrupted%s; "
		    "run `vmrun restore` first", j->plan.group, journal_op_name(j->op), (int)j->pid,
		    pid_alive(j->pid) ? " (it is still alive)" : "");
}

/* ---- detach ---- */

static enum switch_status verify_vfio_node(struct switch_ctx *c, const struct switch_opts *o, int group)
{
	char name[32];
	struct stat st;

	snprintf(name, sizeof(name), "vfio/%d", group);
	for (unsigned waited = 0;; waited += 20) {
		if (c->s->dev_fd >= 0 && fstatat(c->s->dev_fd, name, &st, 0) == 0 && S_ISCHR(st.st_mode))
			return SW_OK;
		if (waited >= sw_or_default(o->probe_timeout_ms, 10000))
			return sw_fail(c, SW_FAILED, "/dev/vfio/%d did not appear", group);
		c->k->sleep_ms(c->k->data, 20);
	}
}

static enum switch_status detach_steps(struct switch_ctx *c, const struct switch_opts *o,
				       struct journal *j)
{
	enum switch_status st;

	st = swdesk_release(c, o, j);
	if (!st)
		st = swaside_ensure_vfio(c);
	if (!st)
		st = swaside_consoles_away(c, j);
	if (!st)
		st = swaside_stop_services(c, j);
	if (!st)
		st = swaside_unload_modules(c, j);
	for (size_t i = 0; !st && i < j->plan.n_devs; i++) {
		struct switch_dev *d = &j->plan.devs[i];

		if (!d->ours) {
			sw_progress(c, "%s: already on vfio-pci, left alone", d->fn.name);
			continue;
		}
		st = swdev_to_vfio(c, o, j, d);
		if (!st)
			sw_progress(c, "%s: %s -> vfio-pci", d->fn.name, d->orig_driver[0] ? d->orig_driver :
				 "no driver");
		if (!st && d->reset_wanted)
			st = swdev_reset_for_run(c, o, j, d);
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
	sw_progress(c, "failed: %s; rolling back", why);
	if (sw_all_to_host(c, o, j, true) == SW_OK) {
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
	sw_progress(c, "IOMMU group %d is kept on vfio-pci between runs: using it as it is",
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
		return sw_fail(c, SW_HELD, "IOMMU group %d is already on vfio-pci for another user's VM "
			    "(uid %u); it is not handed over", j->plan.group, (unsigned)j->owner);
	if (j->kept && o->for_run)
		return use_kept(c, j);
	sw_progress(c, "IOMMU group %d is already detached (since pid %d)", j->plan.group, (int)j->holder);
	return SW_OK;
}

static enum switch_status attach_locked(struct switch_ctx *c, const struct switch_opts *o,
					const struct pci_addr *gpu, int group, bool restoring);

/* A dead vmrun's group, given back before it is detached afresh for this caller. */
static enum switch_status heal(struct switch_ctx *c, const struct switch_opts *o,
			       const struct journal *j)
{
	enum switch_status st;

	sw_progress(c, "IOMMU group %d: the %s by pid %d %s (that vmrun is gone): %s it back first",
		 j->plan.group, journal_op_name(j->op), (int)j->holder, journal_stale_what(j),
		 o->dry_run ? "would give" : "giving");
	if (o->dry_run)
		return SW_OK;
	st = attach_locked(c, o, NULL, j->plan.group, true);
	if (st) {
		char why[sizeof(c->why)];

		snprintf(why, sizeof(why), "%s", c->why);
		return sw_fail(c, st, "IOMMU group %d was left by pid %d, and giving it back failed: %.900s",
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
		return sw_fail(c, SW_FAILED, "the journal for IOMMU group %d is unreadable or invalid (%s); "
			    "check /run/vmrun/switch/group-%d.json", group, strerror(-r), group);
	if (r == 0 && journal_stale(c, &j)) {
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
		sw_keep_kernel_log(c, group);
	if (st && st != SW_STUCK)
		st = roll_back(c, o, &j, st);
	switch_plan_clear(&j.plan);
	return st;
}

static enum switch_status with_group_lock(struct switch_ctx *c, const struct switch_opts *o,
					  int group, int *ret_fd)
{
	int r = group_lock(c->state_fd, group, sw_or_default(o->lock_timeout_ms, 60000), ret_fd);

	if (r == -EBUSY)
		return sw_fail(c, SW_BUSY, "IOMMU group %d is being switched by another vmrun", group);
	if (r < 0)
		return sw_fail(c, SW_FAILED, "cannot lock IOMMU group %d: %s", group, strerror(-r));
	return SW_OK;
}

static enum switch_status group_of(struct switch_ctx *c, const struct pci_addr *a, int *ret)
{
	struct pci_function f;
	char s[PCI_ADDR_STR_MAX];

	if (pci_function_read(c->s, a, &f) < 0)
		return sw_fail(c, SW_BAD_INPUT, "no PCI device %s on this host", pci_addr_format(a, s));
	if (f.iommu_group < 0)
		return sw_fail(c, SW_REFUSED, "%s is in no IOMMU group: the IOMMU is off", f.name);
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
		return sw_fail(c, SW_REFUSED, "IOMMU group %d was not detached by vmrun (no journal): only "
			    "root can give it to the host drivers", group);
	st = swplan_gpu(c, gpu, &j->plan);
	if (!st)
		st = swplan_members(c, o, &j->plan, true, NULL);
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
			st = sw_fail(c, SW_FAILED, "%s: cannot list its device nodes", f.name);
	}
	if (!st && holders_find(c->s, &nodes, &hs) < 0)
		st = sw_fail(c, SW_FAILED, "cannot scan /proc for holders");
	for (size_t i = 0; !st && i < hs.n; i++)
		if (hs.v[i].kind == NODE_VFIO)
			st = sw_fail(c, SW_HELD, "%s holds %s (a VM is using the GPU); stop it first",
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
			return sw_fail(c, SW_FAILED, "%s from the journal is gone from this host", d->fn.name);
		if (f.vendor != d->fn.vendor || f.device != d->fn.device || f.iommu_group != j->plan.group)
			return sw_fail(c, SW_FAILED, "%s is not the device the journal recorded "
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
	return sw_fail(c, SW_REFUSED, "IOMMU group %d was detached for another user (uid %u); only "
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
		sw_progress(c, "IOMMU group %d is pid %d's, not pid %d's: left alone", j->plan.group,
			 (int)j->holder, (int)o->only_holder);
		*skip = true;
		return SW_OK;
	}
	/* A kept group stays on vfio-pci when its run ends, however it ends. */
	if (o->only_holder > 0 && j->kept && j->op == JOURNAL_DETACH && j->state == JOURNAL_DONE) {
		sw_progress(c, "IOMMU group %d is kept on vfio-pci between runs: left there", j->plan.group);
		*skip = true;
		return SW_OK;
	}
	if (j->for_run && j->state == JOURNAL_DONE && journal_holder_alive(c, j) &&
	    j->holder != (c->holder > 0 ? c->holder : getpid()))
		return sw_fail(c, SW_BUSY, "IOMMU group %d belongs to a running VM (vmrun pid %d), which "
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
		return sw_fail(c, SW_FAILED, "the journal for IOMMU group %d is unreadable or invalid (%s); "
			    "check /run/vmrun/switch/group-%d.json", group, strerror(-r), group);
	if (check_owner(c, j))
		return SW_REFUSED;
	if (restoring)
		return may_restore(c, o, j, skip);
	if (j->state == JOURNAL_IN_PROGRESS && journal_stale(c, j)) {
		sw_progress(c, "IOMMU group %d: the %s by pid %d was interrupted (that vmrun is gone): "
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
		sw_progress(c, "IOMMU group %d: nothing is on vfio-pci", group);
	if (st || o->dry_run || j.plan.n_devs == 0) {
		journal_clear(&j);
		return st;
	}
	st = journal_begin(c, &j, JOURNAL_ATTACH, false, false);
	if (!st) {
		st = sw_all_to_host(c, o, &j, false);
		if (st == SW_FAILED || st == SW_STUCK)
			sw_keep_kernel_log(c, group);
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
			return sw_fail(c, SW_FAILED, "out of memory");
		groups[n++] = group;
	} else if (journal_list(c->state_fd, &groups, &n) < 0) {
		return sw_fail(c, SW_FAILED, "cannot list /run/vmrun/switch");
	}
	/* Every group is tried: one that is busy (a running VM's) or fails does not keep the
	 * others, another user's crashed switch among them, from being restored. The first
	 * failure is the answer. */
	for (size_t i = 0; i < n; i++) {
		enum switch_status one;
		int lock = -1;

		one = with_group_lock(c, o, groups[i], &lock);
		if (!one) {
			sw_progress(c, "IOMMU group %d: %s from the journal", groups[i],
				 o->dry_run ? "would restore" : "restoring");
			one = attach_locked(c, o, NULL, groups[i], true);
		}
		safe_close(lock);
		if (one && !st) {
			st = one;
			snprintf(first_why, sizeof(first_why), "%s", c->why);
			first_check = c->check;
		} else if (one) {
			sw_progress(c, "IOMMU group %d: %s", groups[i], c->why);
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
