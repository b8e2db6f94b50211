/* SPDX-License-Identifier: MIT */
/*
 * Giving back a dead run's changes from its vm.json (the guard, `vmrun restore NAME`, the next
 * run): what each resource's recover works with (resource.h walks them).
 */
#pragma once

#include <stdbool.h>

#include "priv.h"
#include "util.h"
#include "vmdir.h"

typedef void (*recover_say_fn)(void *data, const char *msg);

/* Giving back a dead run's changes, from its vm.json. */
struct recovery {
	struct priv *priv;
	struct vmdir_info *vi;  /* updated to what is left */
	recover_say_fn say;
	void *data;
	bool left;           /* something could not be given back */
};

_printf_(2, 3) void recovery_say(struct recovery *c, const char *fmt, ...);
