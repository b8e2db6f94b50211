/* SPDX-License-Identifier: MIT */
/* Text from elsewhere (another user's process name, a file), made safe to print. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/*
 * in with every control character written as \xNN: C0 controls and DEL, the C1 controls
 * (U+0080..U+009F, which terminals obey as escape sequences too), and any byte that is not
 * part of valid UTF-8; a backslash becomes \\ so the result is unambiguous. Printable ASCII
 * and valid UTF-8 stay as they are. Truncated to fit cap (which must be at least 1); returns
 * buf.
 */
const char *text_escape(const char *in, char *buf, size_t cap);

/* Printable UTF-8 only: no control character (C0, DEL, C1) and nothing that is not UTF-8. */
bool text_is_printable(const char *s);

/*
 * A message into a fixed buffer, truncated when it does not fit (messages only: never a path
 * or anything parsed again). Returns whether it fit.
 */
_printf_(3, 4) bool text_format(char *buf, size_t cap, const char *fmt, ...);
