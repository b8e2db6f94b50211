/* SPDX-License-Identifier: MIT */
/*
 * Unified diffs of small text files, for `vmrun setup` to show what it would change.
 * Written here rather than run as `diff -u`: the files are a few hundred lines at most, the
 * output must not depend on what is installed on the host or on its locale, and tests on fake
 * roots compare it byte for byte.
 */
#pragma once

#include <stddef.h>

/*
 * The unified diff (3 lines of context, GNU diff's format) turning old into new, labelled
 * a/PATH and b/PATH; old NULL: a created file (--- /dev/null), new NULL: a removed one.
 * *ret is "" when the texts are equal. 0 or -ENOMEM.
 */
int setup_udiff(const char *path, const char *old, const char *new_text, char **ret);
