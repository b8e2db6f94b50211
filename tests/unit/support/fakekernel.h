/* SPDX-License-Identifier: MIT */
/*
 * A model of the kernel behind struct kernel_ops, acting on a fake root (fake_root_new): writes
 * to driver_override, drivers/D/{bind,unbind} and drivers_probe change the driver links and
 * /dev/vfio/<group> the way Linux does; modules are directories under sys/module, and
 * unloading a driver's module unbinds its devices. Any write, probe, unload or load can be
 * made to fail, hang or silently do nothing, and everything is counted, so a test can run a
 * clean switch once and then break it at every position.
 */
#pragma once

#include <stdbool.h>

#include "kernel.h"

enum fk_fault {
	FK_NONE,
	FK_EIO,       /* the write returns -EIO and has no effect */
	FK_HANG,      /* -ETIMEDOUT with a stuck pid, no effect (vmrun gave up, the kernel never ran it) */
	FK_HANG_DONE, /* -ETIMEDOUT with a stuck pid, but the write took effect (vmrun died after it) */
	FK_SILENT,    /* returns 0 and does nothing (a probe no driver took, a lost write) */
};

#define FK_MAX 64

struct fake_kernel {
	struct kernel_ops ops; /* ops.data points here */
	char *root;

	/* Counters since fk_new (or fk_reset_counters). */
	unsigned writes, probes, unloads, loads, sleeps, bad_writes;
	unsigned long slept_ms;

	/* One-shot injection (disarmed when it fires): the Nth write (1-based, among all writes) / Nth drivers_probe. */
	unsigned fail_write_at;
	enum fk_fault write_fault;
	unsigned fail_probe_at;
	enum fk_fault probe_fault;
	unsigned fail_unload_at, fail_load_at;
	int unload_err, load_err; /* negative errno */
	int stuck_pid;            /* reported with FK_HANG*; default 4242 */
	unsigned faults_hit;

	/* Hugepages memory can still give: a pool grows by at most this many (-1: any). */
	long huge_obtainable;

	bool mknod_failed; /* mknod of dev/vfio/<group> was refused (EPERM): test must skip */

	/* fbcon's console -> framebuffer map (index 1..63; all 0 at first, as the kernel's
	 * default); a set to a framebuffer not registered in the tree is -EINVAL. */
	int con2fb[64];
	unsigned con2fb_sets;
	int con2fb_get_err, con2fb_set_err; /* negative errno to return, 0: none */

	/* systemctl: "stop U" / "start U" per call; a stop removes the unit's processes from the
	 * tree's /proc (their cgroup names it) unless service_keeps is set. */
	char svclog[512];
	int service_err;
	bool service_keeps;

	/* reset_method: "device_specific" is taken only while vendor_reset is set (vendor-reset
	 * loaded, hooking the device); other method lists are taken as written. */
	bool vendor_reset;

	/* DRM cards: a driver's unbind takes a device's drm/ nodes away (their sysfs directories)
	 * and a bind registers them anew, as the kernel does. "remove" written to a card's
	 * class/drm/CARD/uevent (a synthetic udev event) makes each process in desk_pids close its
	 * fds of /dev/dri/CARD — a compositor letting go, logind's and PID 1's copies with it —
	 * unless desk_deaf (one that does not); each event is counted. */
	int desk_pids[8];
	bool desk_deaf;
	unsigned uevent_removes, uevent_adds;
	struct { char addr[16]; char names[4][16]; unsigned n; } drm_gone[8];
	unsigned n_drm_gone;

	char wlog[16384];  /* "path <- value" per write */
	char modlog[1024]; /* "-nvidia_drm -nvidia +nvidia ..." */

	/* Model tables. */
	struct { char addr[16], driver[64]; } defaults[FK_MAX];
	unsigned n_defaults;
	struct { char module[32], driver[64]; } provides[16];
	unsigned n_provides;
	struct { char module[32], needs[32]; } deps[16];
	unsigned n_deps;
};

/*
 * What switch.c needs in any fake root besides the devices: lib/modules/<osrelease> (so module
 * states can be read), run/, the vfio-pci driver and the vfio_pci + vfio_iommu_type1 modules.
 */
void fk_prepare_root(const char *root);
/* Whether mknod works here (not in every container); tests call skip() when it does not. */
bool fk_can_mknod(const char *root);

/* A model over root; every device's current driver becomes its default (what probe picks). */
struct fake_kernel *fk_new(const char *root);
void fk_free(struct fake_kernel *k);
void fk_reset_counters(struct fake_kernel *k);

/* Table edits: default driver of a device (NULL: none), module -> driver, module needs module. */
void fk_set_default(struct fake_kernel *k, const char *addr, const char *driver);
void fk_module_provides(struct fake_kernel *k, const char *module, const char *driver);
void fk_module_depends(struct fake_kernel *k, const char *module, const char *needs);

void fk_fail_write(struct fake_kernel *k, unsigned nth, enum fk_fault f);
void fk_fail_probe(struct fake_kernel *k, unsigned nth, enum fk_fault f);
void fk_fail_unload(struct fake_kernel *k, unsigned nth, int err);
void fk_fail_load(struct fake_kernel *k, unsigned nth, int err);
void fk_clear_faults(struct fake_kernel *k);

/* Queries on the tree ("" when unbound / when no override). */
void fk_driver_of(const struct fake_kernel *k, const char *addr, char *buf, size_t cap);
void fk_override_of(const struct fake_kernel *k, const char *addr, char *buf, size_t cap);
bool fk_module_loaded(const struct fake_kernel *k, const char *module);
bool fk_vfio_node(const struct fake_kernel *k, int group);

/*
 * Everything the switch may change, as text: per device the raw driver link target and the raw
 * driver_override bytes; the dev/vfio entries; the loaded modules; the driver directories.
 * Two snapshots are equal iff those are byte for byte the same. malloc'd.
 */
char *fk_snapshot(const char *root);
