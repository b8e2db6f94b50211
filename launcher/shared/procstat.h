/* SPDX-License-Identifier: MIT */
/*
 * Who a pid is: a process's start time (field 22 of /proc/PID/stat, clock ticks after boot),
 * recorded with its pid, tells it apart from a later process that reused the number.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The start time of pid, read through proc_fd (an open /proc): 0, or -ESRCH when it is gone,
 * -EBADMSG when its stat cannot be read as one. */
int proc_start_time(int proc_fd, pid_t pid, uint64_t *ret);

/* Is pid alive and, when start is not 0, the process that started then? A zombie counts as
 * gone: it holds nothing any more. A pid whose stat cannot be read (hidepid) is taken as
 * alive when kill(pid, 0) says it exists. */
bool proc_is_alive(int proc_fd, pid_t pid, uint64_t start);
