/* SPDX-License-Identifier: MIT */
#include "xdg.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *abs_env(const char *var)
{
	const char *v = getenv(var);

	return v && v[0] == '/' ? v : NULL;
}

int xdg_home(uid_t uid, char **ret)
{
	const char *h = abs_env("HOME");
	struct passwd *pw;
	char *s;

	if (!h) {
		pw = getpwuid(uid);
		h = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
	}
	if (!h)
		return -ENOENT;
	s = strdup(h);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int xdg_dir(enum xdg_dir which, uid_t uid, char **ret)
{
	static const struct { const char *var, *fallback; } dirs[] = {
		[XDG_CONFIG] = { "XDG_CONFIG_HOME", ".config" },
		[XDG_DATA] = { "XDG_DATA_HOME", ".local/share" },
		[XDG_RUNTIME] = { "XDG_RUNTIME_DIR", NULL },
	};
	const char *v = abs_env(dirs[which].var);
	char *home = NULL;
	int r, n;

	if (v)
		n = asprintf(ret, "%s", v);
	else if (which == XDG_RUNTIME)
		n = asprintf(ret, "/run/user/%u", (unsigned)uid);
	else {
		r = xdg_home(uid, &home);
		if (r < 0)
			return r;
		n = asprintf(ret, "%s/%s", home, dirs[which].fallback);
		free(home);
	}
	return n < 0 ? -ENOMEM : 0;
}
