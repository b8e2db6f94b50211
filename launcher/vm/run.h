/* SPDX-License-Identifier: MIT */
/*
 * Running a planned VM: lock, NVRAM, detach the GPU, start QEMU (no shell), supervise it over
 * QMP, stop it gracefully on request, and always give the GPU back when it ends.
 */
#pragma once

#include "plan.h"
#include "runui.h"

/* Run the VM the plan describes (its groups already judged fit): the exit code. */
int run_vm(struct plan *pl, const struct run_ui *ui);
