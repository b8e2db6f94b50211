/* SPDX-License-Identifier: MIT */
/*
 * The plan of a switch, as planned, journaled and walked: the group's members with their
 * roles and original drivers, the phase each one has reached, the vendor modules unloaded.
 * Its own module so that the journal (which stores it) and the switch (which walks it) both
 * build on it without including each other.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "console.h"
#include "holders.h"
#include "iommu.h"
#include "pcidev.h"
#include "swctx.h"

/*
 * How far one device has got. The names are the journal's and the timeline's. Detach goes
 * PLANNED -> OVERRIDE -> UNBOUND -> VFIO; the way back VFIO -> RELEASED -> HOST.
 */
enum switch_phase {
	PHASE_PLANNED,  /* nothing done yet */
	PHASE_OVERRIDE, /* driver_override set to vfio-pci (written before the write lands) */
	PHASE_UNBOUND,  /* taken off its host driver */
	PHASE_VFIO,     /* bound to vfio-pci and verified */
	PHASE_RELEASED, /* off vfio-pci, pinned to its original driver, waiting for its modules */
	PHASE_HOST,     /* back on its original driver and override, verified */
	PHASE_MAX = PHASE_HOST,
};

const char *switch_phase_name(enum switch_phase p);
/* -EBADMSG for an unknown name. */
int switch_phase_parse(const char *name, enum switch_phase *ret);

struct switch_dev {
	struct pci_function fn;      /* as read when planned */
	enum group_role role;
	char orig_driver[64];        /* "" when it had none */
	char orig_override[64];
	bool ours;                   /* false: already on vfio-pci before us, left alone */
	enum switch_phase phase;
	bool reset_wanted;           /* planned: vendor-reset's device_specific for the run */
	bool reset_set;              /* journaled before the write: reset_method is ours to put
	                              * back, to orig_reset */
	char orig_reset[128];        /* reset_method as it was (the kernel's "default" if empty) */
};

#define SWITCH_MAX_MODULES 4
#define SWITCH_MAX_SERVICES 4
#define SWITCH_MAX_CARDS 4

struct switch_plan {
	int group;
	struct pci_function gpu;
	struct switch_dev *devs;     /* group members except bridges, by address */
	size_t n_devs;
	char modules[SWITCH_MAX_MODULES][32]; /* vendor modules to unload (and reload on attach) */
	size_t n_modules;
	struct holder_set holders;   /* everything found holding the group's nodes */
	struct console_move console; /* text consoles on the group's framebuffers, moved away */
	char services[SWITCH_MAX_SERVICES][128]; /* vendor services holding it, stopped for the
	                                         * switch and started again on the way back */
	size_t n_services;
	bool services_stopped;       /* journaled before the first stop */
	char cards[SWITCH_MAX_CARDS][16];   /* DESK_CARD_NAME */ /* the group's DRM cards ("card1"), */
	size_t n_cards;
	bool release;                /* ... which the desktop is asked to let go of (swdesk.h) */
	char monitors[128];          /* then: the connected monitors on them, "HDMI-A-1, DP-2" */
	bool released;               /* journaled before the first is: offered back on the way
	                              * home when the card never left its driver */
	unsigned long long cards_ino[SWITCH_MAX_CARDS]; /* each card's sysfs directory when it
	                              * was released: a card the kernel removed and added again
	                              * has a new one (and was announced by the kernel) */
};

void switch_plan_clear(struct switch_plan *p);

struct switch_ctx;
struct switch_opts;

/* Plan a detach without changing anything: members, roles, refusals, holders, modules. The
 * plan is filled even when refused (the holders are the answer then). */
enum switch_status switch_plan_detach(struct switch_ctx *c, const struct pci_addr *gpu,
				      const struct switch_opts *o, struct switch_plan *ret);
/* Its parts, for an attach without a journal: the GPU and its group; the group's members (only
 * those on vfio-pci, with only_vfio), their roles and refusals, their nodes into nodes. */
enum switch_status swplan_gpu(struct switch_ctx *c, const struct pci_addr *gpu,
			      struct switch_plan *p);
struct devnode_set;
enum switch_status swplan_members(struct switch_ctx *c, const struct switch_opts *o,
				  struct switch_plan *p, bool only_vfio, struct devnode_set *nodes);
