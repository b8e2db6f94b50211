/* SPDX-License-Identifier: MIT */
/* Helpers shared by the firmware module's files; not part of the public contract. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * open() a host path (absolute or relative) inside root_fd: the leading '/' is stripped and,
 * where the kernel has openat2(), symlinks resolve inside the root (RESOLVE_IN_ROOT), so
 * Debian's "OVMF_CODE_4M.ms.fd -> OVMF_CODE_4M.secboot.fd" works in a fixture tree too. Without
 * openat2 a path with a ".." component is refused. Returns an fd or a negative errno.
 */
int fw_open_in_root(int root_fd, const char *path, int flags);

/* The flash-generation rule for raw images; see firmware/README.md. */
bool fw_raw_sizes_fit(uint64_t code_size, uint64_t vars_size);
