/* SPDX-License-Identifier: MIT */
/*
 * A user's ownership of a group's /dev/vfio/N, given by a detach for them and taken back by the
 * group's attach or restore. The node's owner and mode before the first give are recorded in
 * root's state directory (vfio-N.json) before it changes, so that the give-back restores them
 * even for a group vmrun did not move (already on vfio-pci: the devices stay, the node must not
 * stay the user's), and after a crash.
 */
#pragma once

#include <sys/types.h>

#include "sysroot.h"

/* /dev/vfio/group to uid, mode 0600; the first give records what it was. */
int vfio_node_give(const struct sysroot *s, int state_fd, int group, uid_t uid);
/*
 * The owner and mode recorded for the group put back (when the node is still the one that
 * was given: same device number), and the record removed. 0 when there was nothing to take
 * back; 1 when it was taken back.
 */
int vfio_node_take_back(const struct sysroot *s, int state_fd, int group);
