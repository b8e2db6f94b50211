/* SPDX-License-Identifier: MIT */
/*
 * A started QEMU's supervision (supervise.c): the stop state machine, driven by QMP events,
 * stop requests (signals, `vmrun stop`) and deadlines, and the ending it says.
 */
#pragma once

#include <stdbool.h>

#include "runctx.h"

/* Has QEMU exited (waitpid with flags: WNOHANG, or 0 to wait)? Its status is r->status. */
bool run_qemu_reap(struct run *r, int flags);
/* A signal to QEMU through its pidfd (a reused pid is never hit). */
void run_qemu_signal(struct run *r, int sig);
/* Stop harder: quit by force (why is said, and is how the VM ended), or SIGTERM. */
void run_to_quit(struct run *r, const char *why);
void run_to_term(struct run *r);
/* The stop requests waiting on the signalfd: each one a step harder. */
void run_on_signal(struct run *r);
/* An install run: where the installer's display is, and Space pressed for the CD's prompt. */
void run_show_installer(struct run *r);
/* Until QEMU is gone (reaped): events, stop requests, deadlines, input replugs. */
void run_supervise(struct run *r);
/* How the VM ended, from the state QEMU exited in: the run's exit code, said once. */
int run_ending(struct run *r);
