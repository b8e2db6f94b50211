/* SPDX-License-Identifier: MIT */
/* One switch of an IOMMU group at a time: a per-group lock file beside the journals. */
#pragma once

/*
 * Exclusive flock on dirfd/group-N.lock, waiting up to timeout_ms; the fd is the lock (close
 * it to release; the kernel releases it when the holder dies, so a crash never leaves it
 * taken). -EBUSY on timeout.
 */
int group_lock(int dirfd, int group, unsigned timeout_ms, int *ret_fd);
