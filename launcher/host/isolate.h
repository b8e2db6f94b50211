/* SPDX-License-Identifier: MIT */
/*
 * cpu.isolate: while a VM runs, the host's own slices (system.slice, user.slice, init.scope)
 * are kept off the vCPUs' CPUs with systemd's AllowedCPUs (runtime only, never persistent), and
 * QEMU runs in a scope of its own outside them (vmrun.slice). What each slice had is journaled
 * (root's /run/vmrun/switch/isolate.json) before it is changed, so every ending, a crash
 * included, gives it back (isolate_restore; `vmrun restore`).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sysroot.h"

/* The units kept off the guest's CPUs. */
extern const char *const isolate_units[];

/* host_cpus: "0-1,8-9", the CPUs the host keeps. 0, or -errno with why. */
int isolate_apply(const struct sysroot *s, const char *host_cpus, char *why, size_t cap);
/* Give each slice back what the journal says it had; 0 when there is nothing to give back. */
int isolate_restore(const struct sysroot *s, char *why, size_t cap);
/* Whether a journal says an isolation is in force (or was left by a crash). */
bool isolate_pending(const struct sysroot *s);
/* The argv prefix that starts a command in its own scope under vmrun.slice (NULL-terminated,
 * static); name is the scope's unit name. */
const char *const *isolate_scope_prefix(const char *name);
