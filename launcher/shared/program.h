/* SPDX-License-Identifier: MIT */
/* Finding a program as execvp() will: in $PATH (or /usr/bin:/bin), or a path given as such. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Whether name is an executable; its full path into buf when buf is given. */
bool program_find(const char *name, char *buf, size_t cap);
