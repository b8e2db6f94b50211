/* SPDX-License-Identifier: MIT */
/* Where a VM's files live: runtime (QMP socket, pid file) and state (its own NVRAM). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/*
 * Root: /run/vmrun/vm/NAME (run/vmrun/switch holds switch journals) and /var/lib/vmrun/NAME. A user: $XDG_RUNTIME_DIR/vmrun/NAME
 * (or /run/user/UID/vmrun/NAME) and $XDG_DATA_HOME/vmrun/NAME (or ~/.local/share/vmrun/NAME).
 * Relative XDG values are ignored, as the XDG spec says. Strings are malloc'd.
 */
int vm_runtime_dir(const char *name, uid_t uid, char **ret);
int vm_state_dir(const char *name, uid_t uid, char **ret);
/* $XDG_CONFIG_HOME or ~/.config for a user; NULL for root (system descriptors only). */
int user_config_home(uid_t uid, char **ret);
