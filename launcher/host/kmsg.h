/* SPDX-License-Identifier: MIT */
/* The kernel log's tail, kept when a kernel step of a switch fails. */
#pragma once

#include <stddef.h>

#include "sysroot.h"

/*
 * The last `lines` kernel messages from dev/kmsg (read without blocking), one per line, as
 * "[seconds] message", into a malloc'd string. -errno when the log cannot be read.
 */
int kmsg_tail(const struct sysroot *s, unsigned lines, char **ret);
