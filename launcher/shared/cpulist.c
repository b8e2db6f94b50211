/* SPDX-License-Identifier: MIT */
#include "cpulist.h"

#include <stdio.h>

unsigned cpulist_parse(const char *text, struct cpuset *set)
{
	unsigned n = 0, a, b;
	int used;

	while (*text && sscanf(text, "%u%n", &a, &used) == 1) {
		text += used;
		b = a;
		if (*text == '-' && sscanf(text + 1, "%u%n", &b, &used) == 1)
			text += 1 + used;
		if (b < a)
			b = a - 1; /* "5-3" names nothing */
		n += b - a + 1;
		for (unsigned i = a; i <= b && i < CPULIST_MAX; i++)
			cpuset_add(set, i);
		text += *text == ',';
	}
	return n;
}

bool cpuset_has(const struct cpuset *set, unsigned cpu)
{
	return cpu < CPULIST_MAX && (set->bits[cpu / 8] & (1u << (cpu % 8)));
}

void cpuset_add(struct cpuset *set, unsigned cpu)
{
	if (cpu < CPULIST_MAX)
		set->bits[cpu / 8] |= (unsigned char)(1u << (cpu % 8));
}

void cpuset_remove(struct cpuset *set, unsigned cpu)
{
	if (cpu < CPULIST_MAX)
		set->bits[cpu / 8] &= (unsigned char)~(1u << (cpu % 8));
}

bool cpulist_format(const struct cpuset *set, char *buf, size_t cap)
{
	size_t o = 0;

	if (!cap)
		return false;
	buf[0] = '\0';
	for (unsigned c = 0; c < CPULIST_MAX; c++) {
		unsigned end = c;
		int n;

		if (!cpuset_has(set, c))
			continue;
		while (end + 1 < CPULIST_MAX && cpuset_has(set, end + 1))
			end++;
		n = end > c ? snprintf(buf + o, cap - o, "%s%u-%u", o ? "," : "", c, end) :
			      snprintf(buf + o, cap - o, "%s%u", o ? "," : "", c);
		if (n < 0 || (size_t)n >= cap - o)
			return false;
		o += (size_t)n;
		c = end;
	}
	return true;
}
