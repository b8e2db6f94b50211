/* SPDX-License-Identifier: MIT */
/* One change of a shared thing at a time: lock files beside the journals in root's state
 * directory (one per IOMMU group for its switch; one for the hugepage pools). */
#pragma once

/*
 * Exclusive flock on dirfd/name, waiting up to timeout_ms; the fd is the lock (close it to
 * release; the kernel releases it when the holder dies, so a crash never leaves it taken).
 * -EBUSY on timeout.
 */
int state_lock(int dirfd, const char *name, unsigned timeout_ms, int *ret_fd);
/* The same for dirfd/group-N.lock: one switch of an IOMMU group at a time. */
int group_lock(int dirfd, int group, unsigned timeout_ms, int *ret_fd);
