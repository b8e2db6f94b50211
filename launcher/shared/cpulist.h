/* SPDX-License-Identifier: MIT */
/*
 * The kernel's CPU lists ("0-3,8-11", as devices/system/cpu/online and thread_siblings_list
 * print them) as a set of CPUs, and back.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CPULIST_MAX 4096 /* CPUs a set holds: more than any kernel's NR_CPUS default */

struct cpuset {
	unsigned char bits[CPULIST_MAX / 8];
};

/* The CPUs text names, added to set (CPUs past CPULIST_MAX are left out): how many it named. */
unsigned cpulist_parse(const char *text, struct cpuset *set);
bool cpuset_has(const struct cpuset *set, unsigned cpu);
void cpuset_add(struct cpuset *set, unsigned cpu);
void cpuset_remove(struct cpuset *set, unsigned cpu);
/* "0-1,8-9", as the kernel and systemd's AllowedCPUs= write them; false when it did not fit. */
bool cpulist_format(const struct cpuset *set, char *buf, size_t cap);
