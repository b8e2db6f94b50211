/* SPDX-License-Identifier: MIT */
/*
 * What a run will do, resolved against this host: the one plan builder behind `vmrun PROFILE`,
 * `vmrun --dry-run PROFILE` and `vmrun check PROFILE`. The QEMU devices and the functions the
 * switch moves come from one read of each IOMMU group (the switch's own plan), so what QEMU
 * is given and what goes to vfio-pci cannot disagree.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "firmware.h"
#include "profile.h"
#include "qemu_argv.h"
#include "switch.h"
#include "sysroot.h"

struct plan_group {
	struct pci_addr gpu;       /* the profile's device that brings the group */
	size_t pci_index;          /* its pci[N] in the profile */
	struct switch_plan sw;     /* the group as the switch plans it: members, holders, modules */
	enum switch_status status; /* the switch's verdict: SW_OK, or why it would refuse */
	enum check_id check;       /* the check that refused (CHECK_HOLDERS, ...; or none) */
	char why[1024];
	bool keep;                 /* stays on vfio-pci after the run (pci[N].after, or a quirk) */
	const char *keep_why;      /* why, in a few words: the quirk's reason, or the profile's key */
	bool release;              /* the desktop is asked to let go of it (--release, pci[N].release) */
};

/* How the run is asked for: `vmrun PROFILE` (all false), `vmrun install [--no-gpu] PROFILE`. */
struct plan_opts {
	bool install; /* attach install.media and boot the first; the installer's display */
	bool no_gpu;  /* leave the profile's pci devices out (and so the switch) */
	const char *accel; /* "kvm" or "tcg" for this run instead of the profile's, or NULL */
	bool release; /* --release: a compositor holding a GPU is asked to let go (pci[N].release) */
};

struct plan {
	const struct sysroot *s;
	uid_t uid;
	struct vm_profile *p;       /* with --no-gpu, without its pci devices */
	struct plan_opts opts;
	struct qemu_install install; /* the installer's display, resolved (opts.install) */
	struct fw_choice fw;
	char fw_err[512];          /* why no firmware fits ("" when one does): no argv then */
	char *looking_glass;       /* the shared memory file (/dev/shm/looking-glass-NAME or kvmfr) */
	bool lg_kvmfr;             /* it is /dev/kvmfr0: nothing to create or remove */
	char *pulse_server;        /* "unix:PATH" of the session's sound server (audio) */
	char pulse_err[256];       /* why there is none ("" when there is) */
	char host_cpus[512];       /* cpu.isolate: the online CPUs the host keeps ("0-1,8-9") */
	char *runtime_dir, *state_dir, *vars_path;
	struct qemu_hostdev *hostdevs;
	size_t n_hostdevs;
	struct plan_group *groups;
	size_t n_groups;
	char **argv;               /* NULL when the firmware could not be chosen */
};

/*
 * Load the profile (a path or a VM name) and resolve everything, changing nothing; 0 or an
 * exit code (the error is reported): a profile that does not load. What the host lacks is not
 * an error here (a group the switch would refuse, firmware that does not fit): the plan says
 * so, for the pre-flight (preflight.h) to report or refuse on.
 */
int plan_build(const struct sysroot *s, uid_t uid, const char *profile, const struct plan_opts *o,
	       struct plan *pl);
void plan_clear(struct plan *pl);

/* The group member at a, as planned (with pci.ids names), or NULL. */
const struct pci_function *plan_function(const struct plan *pl, const struct pci_addr *a);
