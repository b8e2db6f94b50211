/* SPDX-License-Identifier: MIT */
/*
 * The vendor's stack, before the first run: for a GPU on NVIDIA's driver, what will hold it
 * (modeset and fbdev), nvidia-persistenced and the udev rule that brings it back, and whether
 * the modules go for the run or stay for another GPU. The holders check says who has it now.
 */
#include "preflight.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nvfacts.h"
#include "util.h"

static void vendor_params(struct checks *c, const struct switch_plan *sw, const struct nv_facts *f)
{
	const char *gpu = sw->gpu.name;

	if (f->param_err == -EACCES)
		CHECK_OK(c, CHECK_VENDOR, "%s: nvidia_drm's modeset and fbdev are readable by root only: "
			 "`sudo vmrun check` shows them", gpu);
	else if (f->param_err == -ENOENT)
		CHECK_OK(c, CHECK_VENDOR, "%s: nvidia_drm is not loaded: no DRM card and no console on "
			 "it, only /dev/nvidia*", gpu);
	else if (f->modeset == 1 && f->fbdev == 1)
		CHECK_WARN(c, CHECK_VENDOR, "for good: boot with nvidia-drm.fbdev=0 (or `options "
			   "nvidia-drm fbdev=0` in /etc/modprobe.d)", "%s: nvidia_drm has modeset=1 and "
			   "fbdev=1 (the defaults since the 560 and 570 series): the text console can be "
			   "drawn on it and compositors open it; vmrun moves the consoles away and names "
			   "whatever has it open before it unbinds anything", gpu);
	else if (f->modeset == 1)
		CHECK_OK(c, CHECK_VENDOR, "%s: nvidia_drm has modeset=1, fbdev=0: compositors and X "
			 "open it through DRM; no console on it", gpu);
	else if (f->modeset == 0)
		CHECK_OK(c, CHECK_VENDOR, "%s: nvidia_drm has modeset=0: only X's nvidia driver and "
			 "programs using the GPU open it (/dev/nvidia*)", gpu);
}

static void vendor_persistenced(struct checks *c, const struct switch_plan *sw,
				const struct nv_facts *f)
{
	const char *gpu = sw->gpu.name;

	if (f->masked)
		CHECK_OK(c, CHECK_VENDOR, "%s: nvidia-persistenced is masked: nothing starts it", gpu);
	else if (f->unit[0])
		CHECK_OK(c, CHECK_VENDOR, "%s: nvidia-persistenced (%s) keeps /dev/nvidia* open while "
			 "it runs: vmrun stops it before the switch and starts it again after%s%s%s", gpu,
			 f->unit, f->rule[0] ? "; " : "", f->rule, f->rule[0] ? " starts it when "
			 "nvidia loads, so it is back once the stack is loaded again" : "");
	else if (f->rule[0])
		CHECK_OK(c, CHECK_VENDOR, "%s: %s starts nvidia-persistenced when nvidia loads (no "
			 "unit for it is installed)", gpu, f->rule);
}

static void vendor_modules(struct checks *c, const struct switch_plan *sw, const struct nv_facts *f)
{
	char list[SWITCH_MAX_MODULES * 34] = "";

	if (f->n_others) {
		CHECK_OK(c, CHECK_VENDOR, "%s: nvidia stays loaded for the run: %s%s uses it too", sw->gpu.name,
			 f->others[0], f->n_others > 1 ? " (and more)" : "");
		return;
	}
	for (size_t i = 0; i < sw->n_modules; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 sw->modules[i]);
	if (sw->n_modules)
		CHECK_OK(c, CHECK_VENDOR, "%s: no other device uses nvidia: %s are unloaded for the run, "
			 "in that order, and loaded again after", sw->gpu.name, list);
}

void preflight_vendor(const struct sysroot *s, const struct switch_plan *sw, struct checks *c)
{
	struct nv_facts f;

	if (sw->group < 0 || !streq(sw->gpu.driver, "nvidia") || nvfacts_read(s, sw->gpu.name, &f) < 0)
		return;
	vendor_params(c, sw, &f);
	vendor_persistenced(c, sw, &f);
	vendor_modules(c, sw, &f);
}
