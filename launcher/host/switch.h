/* SPDX-License-Identifier: MIT */
/*
 * Handing a GPU's IOMMU group to vfio-pci and back: detach, attach, restore (the plan is
 * swplan.h's). The steps are in switch.c, numbered, each journaled before it acts (journal.c):
 * one device's (swdev.h), what is put aside for the switch (swaside.h), the way home
 * (swhome.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "swctx.h"
#include "swplan.h"
#include "sysroot.h"

/* Open (with create, creating it root-only) the state directory run/vmrun/switch under the
 * sysroot; -ENOENT without create when there is none; -EPERM when it is not ours alone. */
int switch_state_open(const struct sysroot *s, bool create, int *ret_fd);

enum switch_status switch_detach(struct switch_ctx *c, const struct pci_addr *gpu,
				 const struct switch_opts *o);
enum switch_status switch_attach(struct switch_ctx *c, const struct pci_addr *gpu,
				 const struct switch_opts *o);
/* Finish or undo whatever the journals of group (or of every group when group < 0) say. */
enum switch_status switch_restore(struct switch_ctx *c, int group, const struct switch_opts *o);
