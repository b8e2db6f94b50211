/* SPDX-License-Identifier: MIT */
/*
 * The one pre-flight: every check a run needs before anything on the host changes, as a list
 * of verdicts (ok / warn / FAIL, each with its fix). `vmrun check` prints it, `vmrun --dry-run`
 * shows it, and the run refuses on any FAIL with nothing changed: the three cannot disagree.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "checks.h"
#include "plan.h"
#include "sysroot.h"
#include "util.h"

/*
 * The host's readiness for passthrough, and with a plan everything that run needs: p may be
 * NULL (plain `vmrun check`: every GPU but the host's display is looked at instead).
 */
void preflight(const struct sysroot *s, uid_t uid, const struct plan *pl, struct checks *out);
/* The checks of what the profile needs besides its GPUs (preflight_vm.c): its name, QEMU,
 * memory, disks, bridge, ROM files, the locked-memory limit (helper: vmrun-helper raises it). */
void preflight_profile(const struct sysroot *s, uid_t uid, const struct plan *pl, bool helper,
		       struct checks *c);
/* And of using the host and the VM at once (preflight_share.c): input devices, Looking Glass,
 * sound, cpu.pin and cpu.isolate, hugepages. */
void preflight_share(const struct sysroot *s, uid_t uid, const struct plan *pl, bool helper,
		     struct checks *c);
/* And of the desktop's next login (preflight_desk.c): which Wayland compositor installed will
 * open the group's cards when it starts. */
/* For a GPU on NVIDIA's driver: modeset and fbdev, nvidia-persistenced and its udev rule, the
 * modules (preflight_vendor.c). */
void preflight_vendor(const struct sysroot *s, const struct switch_plan *sw, struct checks *c);
void preflight_next_login(const struct sysroot *s, uid_t uid, const struct switch_plan *sw,
			  struct checks *c);

