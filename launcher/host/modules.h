/* SPDX-License-Identifier: MIT */
/* Kernel modules through libkmod, against the sysroot's /lib/modules and /sys/module. */
#pragma once

#include "sysroot.h"

enum module_state {
	MODULE_MISSING,   /* neither built in nor installed */
	MODULE_AVAILABLE, /* installed, not loaded */
	MODULE_LOADED,
	MODULE_BUILTIN,
};

/*
 * State of the module behind `name` (a module name or alias such as "vfio-pci"). ret_module
 * (optional, cap bytes) gets the module's real name.
 */
int module_state_of(const struct sysroot *s, const char *name, enum module_state *ret,
		    char *ret_module, size_t cap);
const char *module_state_name(enum module_state st);
