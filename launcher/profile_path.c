/* SPDX-License-Identifier: MIT */
#include "profile_path.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define VM_NAME_MAX 64

bool vm_name_is_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= VM_NAME_MAX && !streq(s, ".") && !streq(s, "..") &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && streq(s + n - m, suffix);
}

/* The XDG base directory: $VAR when absolute (relative values are ignored, as the spec says),
 * else $HOME/FALLBACK, else the passwd entry's home/FALLBACK. */
static int config_home(char **ret)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct passwd *pw;

	if (x && x[0] == '/')
		return asprintf(ret, "%s", x) < 0 ? -ENOMEM : 0;
	if (!home || home[0] != '/') {
		pw = getpwuid(getuid());
		home = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
	}
	if (!home)
		return -ENOENT;
	return asprintf(ret, "%s/.config", home) < 0 ? -ENOMEM : 0;
}

int profile_resolve(const char *arg, char **ret_path)
{
	_cleanup_free_ char *dir = NULL;
	char *p;
	int r;

	if (!arg || !*arg)
		return -EINVAL;
	if (strchr(arg, '/') || ends_with(arg, ".yaml") || ends_with(arg, ".yml")) {
		p = strdup(arg);
		if (!p)
			return -ENOMEM;
		*ret_path = p;
		return 0;
	}
	if (!vm_name_is_valid(arg))
		return -EINVAL;
	r = config_home(&dir);
	if (r < 0)
		return r;
	if (asprintf(&p, "%s/vmrun/%s.yaml", dir, arg) < 0)
		return -ENOMEM;
	*ret_path = p;
	return 0;
}
