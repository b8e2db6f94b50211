/* SPDX-License-Identifier: MIT */
/* An unprivileged vmrun asks the setuid helper (vmrun-helper) for the few root steps. */
#pragma once

#include <stdbool.h>

#include "sysroot.h"

/* True when this vmrun must go through the helper: not root, on the real host. */
bool privhelper_needed(const struct sysroot *s);
/*
 * Run `vmrun-helper OP ARG`, its output passing through; returns its exit status (vmrun's exit
 * codes), or EXIT_ERROR with a message when it cannot be run.
 */
int privhelper_run(const char *op, const char *arg);
