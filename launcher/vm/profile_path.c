/* SPDX-License-Identifier: MIT */
#include "profile_path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"
#include "names.h"
#include "util.h"
#include "xdg.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && streq(s + n - m, suffix);
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
	r = xdg_dir(XDG_CONFIG, getuid(), &dir);
	if (r < 0)
		return r;
	if (asprintf(&p, "%s/vmrun/%s.yaml", dir, arg) < 0)
		return -ENOMEM;
	/* `vmrun okfile` with ./okfile there and no profile of that name: the file it names. */
	if (access(p, F_OK) < 0 && access(arg, F_OK) == 0) {
		free(p);
		p = strdup(arg);
		if (!p)
			return -ENOMEM;
	}
	*ret_path = p;
	return 0;
}

int vm_profile_load(const char *arg, struct vm_profile **ret)
{
	_cleanup_free_ char *resolved = NULL;
	struct profile_error err = { 0 };
	char msg[768];
	int r;

	r = profile_resolve(arg, &resolved);
	if (r == -EINVAL) {
		log_err("'%s' is neither a profile file nor a VM name (%s)", arg, VM_NAME_RULE);
		return EXIT_USAGE;
	}
	if (r < 0) {
		log_err("Cannot locate the profile '%s': %s (set HOME or XDG_CONFIG_HOME)", arg,
			strerror(-r));
		return EXIT_USAGE;
	}
	r = profile_load(resolved, ret, &err);
	if (r < 0) {
		log_err("%s", profile_error_format(&err, msg, sizeof(msg)));
		return EXIT_USAGE; /* unreadable or invalid: either way the input is at fault */
	}
	return 0;
}
