/* SPDX-License-Identifier: MIT */
/*
 * The host's hugepage pools (/sys/kernel/mm/hugepages/hugepages-NkB): how many pages there are
 * and are free, and making room for a VM: compact memory, raise the pool by what is missing,
 * and on a shortfall give back what was taken. What a run added it gives back after the run;
 * root's journal of it (/run/vmrun/switch/hugepages-UID.json) makes that survive a crash.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "sysroot.h"

struct hugepage_pool {
	unsigned long total, free;
};

int hugepages_read(const struct sysroot *s, uint64_t page_bytes, struct hugepage_pool *ret);
/*
 * At least need free pages of page_bytes: *added says how many the pool grew by. -ENOMEM with
 * why ("got 300 of 512 pages: 424 MiB short") when memory would not give them, the pool then
 * back where it was.
 */
int hugepages_reserve(const struct sysroot *s, uint64_t page_bytes, unsigned long need,
		      unsigned long *added, char *why, size_t cap);
/* Shrink the pool by count pages (never below 0); the kernel frees them as they are freed. */
int hugepages_release(const struct sysroot *s, uint64_t page_bytes, unsigned long count);

/* What a uid's runs added and have not given back yet, per page size (root's journal). */
int hugepages_journal_add(int state_fd, uid_t uid, uint64_t page_bytes, long delta);
int hugepages_journal_get(int state_fd, uid_t uid, uint64_t page_bytes, unsigned long *ret);
