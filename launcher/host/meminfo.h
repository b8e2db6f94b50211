/* SPDX-License-Identifier: MIT */
/* The host's memory, from /proc/meminfo (through the sysroot). */
#pragma once

#include <stdint.h>

#include "sysroot.h"

struct meminfo {
	uint64_t total;     /* MemTotal, bytes */
	uint64_t available; /* MemAvailable, bytes (0 on kernels before 3.14) */
};

/* 0, or -errno (-EBADMSG when MemTotal is not there). */
int meminfo_read(const struct sysroot *s, struct meminfo *ret);
