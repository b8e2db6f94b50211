/* SPDX-License-Identifier: MIT */
#include "profile_path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	if (!names_vm_valid(arg))
		return -EINVAL;
	r = xdg_dir(XDG_CONFIG, getuid(), &dir);
	if (r < 0)
		return r;
	/* Never a file of that name in the current directory: `vmrun win10` typed in /tmp must
	 * not run whatever another user left there (as root, with its extra_args). */
	if (asprintf(&p, "%s/vmrun/%s.yaml", dir, arg) < 0)
		return -ENOMEM;
	*ret_path = p;
	return 0;
}

/* Who may have written a profile that root runs: root, or the user root is acting for through
 * sudo or pkexec (who could run anything as root already). */
static bool trusted_owner(uid_t uid)
{
	static const char *const vars[] = { "SUDO_UID", "PKEXEC_UID" };

	if (uid == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
		const char *v = getenv(vars[i]);
		char *end;
		unsigned long n;

		if (!v || !*v)
			continue;
		errno = 0;
		n = strtoul(v, &end, 10);
		if (!errno && !*end && n == uid)
			return true;
	}
	return false;
}

/* Nobody but a trusted owner can change it: its owner trusted, no write for others, none for
 * a group other than root's; a directory likewise, unless sticky (others cannot replace a
 * file in /tmp). */
static const char *untrusted(const struct stat *st, bool dir)
{
	bool sticky = dir && (st->st_mode & S_ISVTX);

	if (!trusted_owner(st->st_uid) && !sticky)
		return "belongs to another user";
	if ((st->st_mode & S_IWOTH) && !sticky)
		return "is writable by anyone";
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0 && !sticky)
		return "is writable by its group";
	return NULL;
}

int profile_check_trust(const char *path, char *why, size_t cap)
{
	_cleanup_free_ char *real = realpath(path, NULL), *dir = NULL;
	const char *bad;
	struct stat st;

	if (!real)
		return 0; /* missing: loading it says so */
	if (stat(real, &st) == 0 && (bad = untrusted(&st, false)))
		return snprintf(why, cap, "%s %s, and root runs what a profile says (extra_args, "
				"scripts): make it root's, or run vmrun as that user", path, bad), -EPERM;
	dir = strdup(real);
	if (!dir)
		return -ENOMEM;
	*strrchr(dir, '/') = '\0';
	if (stat(dir[0] ? dir : "/", &st) == 0 && (bad = untrusted(&st, true)))
		return snprintf(why, cap, "%s is in %s, which %s: whoever can write there can swap "
				"the profile root runs", path, dir[0] ? dir : "/", bad), -EPERM;
	return 0;
}

int profile_path_load(const char *arg, struct vm_profile **ret)
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
	if (geteuid() == 0 && profile_check_trust(resolved, msg, sizeof(msg)) < 0) {
		log_err("%s", msg);
		return EXIT_NOT_READY;
	}
	r = profile_load(resolved, ret, &err);
	if (r < 0) {
		log_err("%s", profile_error_format(&err, msg, sizeof(msg)));
		return EXIT_USAGE; /* unreadable or invalid: either way the input is at fault */
	}
	return 0;
}
