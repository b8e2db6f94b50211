/* SPDX-License-Identifier: MIT */
/* The input devices' replugs while the VM runs (res_inputs.c), for the supervisor. */
#pragma once

#include "runctx.h"

/* Something changed in an input device's directory: each device gone, back, or replaced. */
void run_inputs_changed(struct run *r);
