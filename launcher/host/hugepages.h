/* SPDX-License-Identifier: MIT */
/*
 * The host's hugepage pools (/sys/kernel/mm/hugepages/hugepages-NkB): how many pages there are
 * and are free, and growing a pool for a user's run and shrinking it after.
 *
 * Who grew a pool by how much is root's to know, not the caller's: root's journal
 * (/run/vmrun/switch/hugepages.json) keeps, per page size, each uid's credit (the pages the
 * pool actually grew by for them) and the floor (the pool's size before any vmrun grew it).
 * Every change of a pool and of the journal happens under one lock (hugepages.lock), so
 * concurrent requests see each other's pages; a give-back is never more than the caller's
 * credit and never takes the pool below the floor, so the pages an administrator reserved at
 * boot (1 GiB pages cannot be had again once memory is fragmented) stay.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "kernel.h"
#include "sysroot.h"

struct hugepage_pool {
	unsigned long total, free;
};

int hugepages_read(const struct sysroot *s, uint64_t page_bytes, struct hugepage_pool *ret);

/* What a request may take: quota_bytes is the most the pools may be grown by for this uid at
 * once, all page sizes together (0: no quota, only the memory available). */
struct hugepage_request {
	uid_t uid;
	uint64_t page_bytes;
	unsigned long count; /* grow: free pages needed; give back: at most this many */
	uint64_t quota_bytes;
};

/*
 * At least count free pages: the pool grown by what is missing, under the lock, the growth
 * credited to uid and journaled before this returns. *added is what the pool grew by (0 when
 * enough were free). Refused (-ENOMEM, -EDQUOT) with why, nothing changed, when the growth
 * would take more than the memory available to the host (MemAvailable, less a reserve), or
 * more than the quota, or memory would not give the pages. -EBUSY when another request held
 * the lock too long.
 */
int hugepages_grow(const struct sysroot *s, const struct kernel_ops *k, int state_fd,
		   const struct hugepage_request *rq, unsigned long *added, char *why, size_t cap);
/*
 * Up to count of uid's credited pages given back: the credit goes down by that much, the pool
 * by as much as it can without going below the floor. *given: the credit taken.
 */
int hugepages_give_back(const struct sysroot *s, const struct kernel_ops *k, int state_fd,
			const struct hugepage_request *rq, unsigned long *given, char *why,
			size_t cap);
/* uid's credit for one page size (0 when none), and the floor (0 when no vmrun grew it). */
int hugepages_credit(int state_fd, uid_t uid, uint64_t page_bytes, unsigned long *ret);
int hugepages_floor(int state_fd, uint64_t page_bytes, unsigned long *ret);
