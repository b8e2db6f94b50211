/* SPDX-License-Identifier: MIT */
/* Whole reads and writes on an fd, retrying on EINTR and short counts. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Read until len bytes or end of file: the byte count, or -errno. */
ssize_t read_full(int fd, void *buf, size_t len);
/* Write all of buf: 0, or -errno (-EIO when the fd stops taking bytes). */
int write_all(int fd, const void *buf, size_t len);
