/* SPDX-License-Identifier: MIT */
#include "paths.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *abs_env(const char *var)
{
	const char *v = getenv(var);

	return v && v[0] == '/' ? v : NULL;
}

static int home_dir(uid_t uid, const char **ret)
{
	const char *h = abs_env("HOME");
	struct passwd *pw;

	if (!h) {
		pw = getpwuid(uid);
		h = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
	}
	if (!h)
		return -ENOENT;
	*ret = h;
	return 0;
}

int vm_runtime_dir(const char *name, uid_t uid, char **ret)
{
	const char *x = abs_env("XDG_RUNTIME_DIR");
	int n;

	if (uid == 0)
		n = asprintf(ret, "/run/vmrun/vm/%s", name);
	else if (x)
		n = asprintf(ret, "%s/vmrun/%s", x, name);
	else
		n = asprintf(ret, "/run/user/%u/vmrun/%s", (unsigned)uid, name);
	return n < 0 ? -ENOMEM : 0;
}

int vm_state_dir(const char *name, uid_t uid, char **ret)
{
	const char *x = abs_env("XDG_DATA_HOME"), *home;
	int n, r;

	if (uid == 0)
		n = asprintf(ret, "/var/lib/vmrun/%s", name);
	else if (x)
		n = asprintf(ret, "%s/vmrun/%s", x, name);
	else {
		r = home_dir(uid, &home);
		if (r < 0)
			return r;
		n = asprintf(ret, "%s/.local/share/vmrun/%s", home, name);
	}
	return n < 0 ? -ENOMEM : 0;
}

int user_config_home(uid_t uid, char **ret)
{
	const char *x = abs_env("XDG_CONFIG_HOME"), *home;
	int n;

	*ret = NULL;
	if (uid == 0)
		return 0;
	if (x)
		n = asprintf(ret, "%s", x);
	else if (home_dir(uid, &home) == 0)
		n = asprintf(ret, "%s/.config", home);
	else
		return 0;
	return n < 0 ? -ENOMEM : 0;
}
