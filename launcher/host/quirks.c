/* SPDX-License-Identifier: MIT */
#include "quirks.h"

#include <stdio.h>
#include <string.h>

#include "holders.h"
#include "util.h"

static const char *const stoppable_units[] = {
	"nvidia-persistenced.service",
};

bool quirk_stoppable_unit(const char *unit)
{
	for (size_t i = 0; unit && i < ARRAY_SIZE(stoppable_units); i++)
		if (streq(unit, stoppable_units[i]))
			return true;
	return false;
}

const char *quirk_holder_service(const struct holder *h)
{
	return quirk_stoppable_unit(h->system_unit) ? h->system_unit : NULL;
}

/* Kernels before major.minor lack the driver's hot-unplug support. */
static const struct {
	const char *driver;
	unsigned major, minor; /* 0, 0: never had it */
	const char *why;
} keep[] = {
	/* DRM device removal for amdgpu ("hot unplug") came with Linux 5.14; before it, a
	 * rebind after unbinding is known to oops or hang the card. */
	{ "amdgpu", 5, 14, "amdgpu before Linux 5.14 cannot let go of a card and take it again" },
	{ "radeon", 0, 0, "radeon cannot let go of a card and take it again (no hot-unplug)" },
};

static bool older(const char *osrelease, unsigned major, unsigned minor)
{
	unsigned a = 0, b = 0;

	if (!major)
		return true;
	if (!osrelease || sscanf(osrelease, "%u.%u", &a, &b) != 2)
		return false; /* unknown: not kept by guesswork */
	return a < major || (a == major && b < minor);
}

bool quirk_keep_on_vfio(const char *driver, const char *osrelease, const char **why)
{
	for (size_t i = 0; driver && i < ARRAY_SIZE(keep); i++)
		if (streq(driver, keep[i].driver) && older(osrelease, keep[i].major, keep[i].minor)) {
			if (why)
				*why = keep[i].why;
			return true;
		}
	return false;
}
