/* SPDX-License-Identifier: MIT */
/* One device's steps of a switch (swdev.c). */
#pragma once

#include "journal.h"
#include "swctx.h"

/* The device's driver now ("" when none): 0 or -errno. */
int swdev_driver(const struct switch_ctx *c, const struct pci_function *f, char *buf, size_t cap);
/* A sysfs write with the options' deadline; a stuck one's process is kept in c->stuck_pid. */
int swdev_write(struct switch_ctx *c, const struct switch_opts *o, const char *path,
		const char *value);
/* The status for a failed write: stuck (restore pending) or failed, said. */
enum switch_status swdev_write_failed(struct switch_ctx *c, int r, const char *what,
				      const char *path);
/* To vfio-pci: override, unbind, probe, verified, each phase journaled before the next. */
enum switch_status swdev_to_vfio(struct switch_ctx *c, const struct switch_opts *o,
				 struct journal *j, struct switch_dev *d);
/*
 * Back in two halves, with the vendor's modules reloaded in between (nvidia.ko refuses to
 * load while no GPU is free for it): release takes it off vfio-pci and pins its original
 * driver; bind probes it there and puts its override back.
 */
enum switch_status swdev_release(struct switch_ctx *c, const struct switch_opts *o,
				 struct switch_dev *d);
enum switch_status swdev_bind(struct switch_ctx *c, const struct switch_opts *o,
			      struct switch_dev *d);
/* vendor-reset's device_specific for the run (journaled first; not fatal), and back. */
enum switch_status swdev_reset_for_run(struct switch_ctx *c, const struct switch_opts *o,
				       struct journal *j, struct switch_dev *d);
void swdev_reset_back(struct switch_ctx *c, const struct switch_opts *o, struct switch_dev *d);
