/* SPDX-License-Identifier: MIT */
/* The monotonic clock in milliseconds: deadlines, timeouts and the run's timeline. */
#pragma once

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ms(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Seconds since t0 (CLOCK_MONOTONIC). */
static inline double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}
