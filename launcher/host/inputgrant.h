/* SPDX-License-Identifier: MIT */
/*
 * A user's access to an input event device, tied to the run that asked for it and recorded on
 * root's side: an ACL entry (devacl.h) that outlives its run is a silent keylogger of whoever
 * types on the keyboard next, root included. So each grant is first written to root's state
 * directory (/run/vmrun/switch/input-UID-MAJ-MIN.json: the uid, the node, its device number,
 * and the run's vmrun as pid and start time), then made; taking it back undoes both. What a
 * dead run left is taken back by the run's end, its guard, root's `vmrun restore`, and, at the
 * latest, by the sweep every privileged operation starts with.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sysroot.h"

struct input_grant {
	uid_t uid;
	char node[128];  /* "input/eventN", relative to /dev */
	dev_t rdev;      /* the node's device number when it was authorised */
	pid_t holder;    /* the run's vmrun */
	uint64_t start;  /* its start time (procstat.h) */
};

/*
 * Record the grant, then give uid its entry on the node, which must still be the character
 * device g->rdev (-ESTALE otherwise: replugged since it was authorised). On failure nothing is
 * left: the record goes again.
 */
int input_grant_give(const struct sysroot *s, int state_fd, const struct input_grant *g);
/* uid's entry taken off the node (if it is still rdev) and its record removed; without a
 * record there is nothing of vmrun's to take back (0), and the ACL is left alone. Gives and
 * takes serialise on a lock: each rewrites the node's whole ACL. */
int input_grant_take(const struct sysroot *s, int state_fd, uid_t uid, const char *node, dev_t rdev);
/*
 * Every recorded grant whose run is gone taken back: its entry off the node when the node is
 * still that device, and the record removed. Returns how many were taken back, or -errno when
 * the state directory cannot be read; note() is told of each.
 */
typedef void (*input_note_fn)(void *data, const char *msg);
int input_grant_sweep(const struct sysroot *s, int state_fd, input_note_fn note, void *data);
