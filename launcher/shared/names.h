/* SPDX-License-Identifier: MIT */
/* Names that become file names: the one rule for a VM's name, and for a safe path component. */
#pragma once

#include <stdbool.h>

#define VM_NAME_MAX 64
/* What a VM name may be, for error messages. */
#define VM_NAME_RULE "letters, digits, '.', '_' and '-', 1 to 64 characters, not \".\" or \"..\""

/*
 * A VM name: [A-Za-z0-9._-]{1,64}, and not "." or "..". It names the VM's runtime and state
 * directories (/run/vmrun/vm/NAME, /var/lib/vmrun/NAME), its NVRAM and QEMU's -name, so "."
 * or ".." would make those the parent directories.
 */
bool names_vm_valid(const char *s);

/* A single path component that is safe to join: non-empty, no '/', not "." or "..". */
bool name_is_safe(const char *name);
