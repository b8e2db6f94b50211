/* SPDX-License-Identifier: MIT */
#include "paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "names.h"
#include "util.h"
#include "xdg.h"

/* Root's system paths follow --root, so a test never reaches the host's /run or /var/lib. */
static const char *prefix(const struct sysroot *s)
{
	return streq(s->path, "/") ? "" : s->path;
}

int paths_runtime_parent(const struct sysroot *s, uid_t uid, char **ret)
{
	_cleanup_free_ char *x = NULL;
	int r;

	if (uid == 0)
		return asprintf(ret, "%s/run/vmrun/vm", prefix(s)) < 0 ? -ENOMEM : 0;
	r = xdg_dir(XDG_RUNTIME, uid, &x);
	if (r < 0)
		return r;
	return asprintf(ret, "%s/vmrun", x) < 0 ? -ENOMEM : 0;
}

int paths_runtime_dir(const struct sysroot *s, const char *name, uid_t uid, char **ret)
{
	_cleanup_free_ char *parent = NULL;
	int r;

	if (!names_vm_valid(name))
		return -EINVAL;
	r = paths_runtime_parent(s, uid, &parent);
	if (r < 0)
		return r;
	return asprintf(ret, "%s/%s", parent, name) < 0 ? -ENOMEM : 0;
}

int paths_state_dir(const struct sysroot *s, const char *name, uid_t uid, char **ret)
{
	_cleanup_free_ char *x = NULL;
	int r;

	if (!names_vm_valid(name))
		return -EINVAL;
	if (uid == 0)
		return asprintf(ret, "%s/var/lib/vmrun/%s", prefix(s), name) < 0 ? -ENOMEM : 0;
	r = xdg_dir(XDG_DATA, uid, &x);
	if (r < 0)
		return r;
	return asprintf(ret, "%s/vmrun/%s", x, name) < 0 ? -ENOMEM : 0;
}
