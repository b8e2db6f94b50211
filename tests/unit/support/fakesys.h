/* SPDX-License-Identifier: MIT */
/*
 * Builds fake system roots in a temp dir at test time (fixtures stay pristine): PCI devices
 * with the real sysfs link layout, IOMMU groups, DRM/sound nodes, /proc processes with fd
 * links, and the hostile cases (dangling links, links out of /sys, oversized attributes).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct fake_dev {
	const char *addr;   /* "0000:01:00.0" */
	const char *parent; /* upstream port "0000:00:01.0", or NULL for the root bus */
	unsigned vendor, device, class_code;
	const char *driver; /* NULL: unbound */
	int group;          /* -1: no iommu_group link */
	int boot_vga;       /* -1: no attribute */
	const char *reset_method;
};

/* A new empty root (mkdtemp); returns a malloc'd path. Aborts the test on failure. */
char *fake_root_new(void);
void fake_root_free(char *root); /* rm -rf */

void fake_write(const char *root, const char *rel, const char *content);
void fake_symlink(const char *root, const char *rel, const char *target);
void fake_mkdir(const char *root, const char *rel);
void fake_add_dev(const char *root, const struct fake_dev *d);
/* Adds drm/<name> (card1, renderD129), graphics/fbN, sound/cardN/<node>, i2c-N or vfio-dev/vfioN
 * under a device, and its /dev node (a regular file standing in for the device). */
void fake_add_devchild(const char *root, const char *addr, const char *sub);
/* A process with comm/cmdline/status(uid)/cgroup and fd links to the given targets ("/dev/..."
 * targets point into the tree). */
/* rm -rf root/rel. */
void fake_rm_rf(const char *root, const char *rel);
/* The process is gone: its /proc/PID directory with it. */
void fake_remove_proc(const char *root, int pid);
void fake_add_proc(const char *root, int pid, const char *comm, uid_t uid, const char *cgroup,
		   const char *const *fd_targets);
/* /proc/PID/stat for a running process that started start clock ticks after boot (what
 * procstat.h reads): the process is alive in the tree. */
void fake_proc_stat(const char *root, int pid, const char *comm, unsigned long long start);
/* A typical two-GPU host: virtio GPU at 00:02.0 (group 1, boot_vga 1), root port 00:01.0
 * (group 2) with bochs 01:00.0 + HDA 01:00.1 (group 2), a NIC 00:03.0 (group 3). */
void fake_lab_host(const char *root);

/* Run argv with stdout/stderr captured into malloc'd strings; returns the exit status. */
int run_capture(char *const argv[], char **out, char **err);
