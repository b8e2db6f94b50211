/* SPDX-License-Identifier: MIT */
/*
 * A user's access to one input event device for the length of a run, as a POSIX ACL entry
 * (user:UID:rw-) on the node, the way systemd-logind gives a seat's user its devices: nobody's
 * group membership changes, and taking the entry away leaves the node as it was.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sysroot.h"

/*
 * The event node path names (a /dev/input/by-id or by-path link, or /dev/input/eventN),
 * resolved under the sysroot: "input/eventN" relative to dev, and its device number.
 * -ENODEV when it is not an input event device.
 */
int devacl_input_node(const struct sysroot *s, const char *path, char *rel, size_t cap, dev_t *rdev);
/*
 * Give uid rw- on dev/rel, which must be the character device rdev: -ESTALE when the name is
 * now another device (replugged between the check and the grant), and nothing is changed.
 */
int devacl_grant(const struct sysroot *s, const char *rel, dev_t rdev, uid_t uid);
/* Remove uid's entry (when dev/rel is still rdev; 0 when the node is gone); with no named
 * entry left the ACL goes and the mode is what it was. */
int devacl_revoke(const struct sysroot *s, const char *rel, dev_t rdev, uid_t uid);
/* Whether uid has its own entry (for tests and checks). */
bool devacl_has(const struct sysroot *s, const char *rel, uid_t uid);
