/* SPDX-License-Identifier: MIT */
/*
 * Where a VM's files live: its runtime directory (QMP sockets, pid file, vm.json, the
 * instance lock, QEMU's log) and its state directory (its own NVRAM). The one place that
 * decides it, for the run, --dry-run, status, stop and check.
 *
 *   root:   /run/vmrun/vm/NAME and /var/lib/vmrun/NAME (under --root DIR in tests);
 *           /run/vmrun/switch holds the switch journals
 *   a user: $XDG_RUNTIME_DIR/vmrun/NAME (or /run/user/UID/vmrun/NAME) and
 *           $XDG_DATA_HOME/vmrun/NAME (or ~/.local/share/vmrun/NAME)
 */
#pragma once

#include <sys/types.h>

#include "sysroot.h"

/* The directory that holds every VM's runtime directory; malloc'd. */
int paths_runtime_parent(const struct sysroot *s, uid_t uid, char **ret);
/* name must be a valid VM name (names.h); -EINVAL otherwise. Strings are malloc'd. */
int paths_runtime_dir(const struct sysroot *s, const char *name, uid_t uid, char **ret);
int paths_state_dir(const struct sysroot *s, const char *name, uid_t uid, char **ret);
