/* SPDX-License-Identifier: MIT */
/* The text console: which framebuffer fbcon draws on, so a switch never takes it away. */
#pragma once

#include <stdbool.h>

#include "devnodes.h"
#include "sysroot.h"

/*
 * Whether fbcon is bound to the consoles and one of nodes is the framebuffer it draws on
 * (fb0, unless the consoles were moved). A read error other than absence is returned as
 * -errno: a safety check that could not look must not say "no".
 */
int console_on_nodes(const struct sysroot *s, const struct devnode_set *nodes, bool *ret);
