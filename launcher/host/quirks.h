/* SPDX-License-Identifier: MIT */
/*
 * What vmrun knows about vendors' drivers and services, in one table each: the services that
 * hold a GPU only to keep it initialised and are safe to stop around a switch (and must be
 * started again after), and the drivers whose GPUs should stay on vfio-pci between runs
 * because they do not survive being unbound and bound again.
 */
#pragma once

#include <stdbool.h>

/* nvidia-persistenced keeps /dev/nvidia* open so that the driver stays initialised: stopped, it
 * lets go, and started again it takes the GPUs it finds. */
bool quirk_stoppable_unit(const char *unit);
/* The service to stop for a switch when h is what holds the GPU: the system unit it runs in
 * when that is a stoppable one, else NULL. A user's own unit of the same name never is: a
 * user must not make root stop or start a system service. */
struct holder;
const char *quirk_holder_service(const struct holder *h);

/*
 * Whether a GPU on driver should stay on vfio-pci after a run rather than go back to it: a
 * driver that cannot be unbound from a card and bound again safely (no hot-unplug support) on
 * the running kernel (osrelease, "6.1.0-13-amd64"). why, when given, says why in a few words.
 */
bool quirk_keep_on_vfio(const char *driver, const char *osrelease, const char **why);
