/* SPDX-License-Identifier: MIT */
#include "modules.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmodlib.h"
#include "log.h"
#include "names.h"
#include "util.h"

static void kmod_log(void *data, int priority, const char *file, int line, const char *fn,
		     const char *format, va_list args)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), format, args);
	log_debug("libkmod: %s", buf);
}

static int kernel_release(const struct sysroot *s, char *buf, size_t cap)
{
	int r = read_attr_at(s->proc_fd, "sys/kernel/osrelease", buf, cap);

	if (r < 0)
		return r;
	return name_is_safe(buf) ? 0 : -EBADMSG;
}

/* /sys/module/NAME exists for loaded modules and for built-ins with parameters. */
static bool sys_module_present(const struct sysroot *s, const char *module)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "module/%s", module);
	return s->sys_fd >= 0 && fstatat(s->sys_fd, path, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

static bool loaded_by_name(const struct sysroot *s, const char *module)
{
	char path[128];

	snprintf(path, sizeof(path), "module/%s/initstate", module);
	return s->sys_fd >= 0 && faccessat(s->sys_fd, path, F_OK, 0) == 0;
}

static void underscores(char *name)
{
	for (char *p = name; *p; p++)
		if (*p == '-')
			*p = '_';
}

int module_state_of(const struct sysroot *s, const char *name, enum module_state *ret,
		    char *ret_module, size_t cap)
{
	char release[128], dir[4096], module[64];
	const char *const root = streq(s->path, "/") ? "" : s->path;
	struct kmod_list *list = NULL;
	const struct kmodlib *lib;
	struct kmod_ctx *ctx;
	enum module_state st = MODULE_MISSING;
	int r;

	snprintf(module, sizeof(module), "%s", name);
	underscores(module);
	/* The common case, without libkmod: a loadable module that is loaded has an initstate
	 * under its own name (builtins have none, and aliases need the lookup below). */
	if (loaded_by_name(s, module)) {
		if (ret_module && cap)
			snprintf(ret_module, cap, "%s", module);
		*ret = MODULE_LOADED;
		return 0;
	}
	lib = kmodlib_get(&r);
	if (!lib)
		return r;
	r = kernel_release(s, release, sizeof(release));
	if (r < 0)
		return r;
	snprintf(dir, sizeof(dir), "%s/lib/modules/%s", root, release);
	/* Without the running kernel's modules directory nothing can be said (not "missing"). */
	if (faccessat(s->root_fd, dir + strlen(root) + 1, R_OK | X_OK, 0) < 0)
		return -errno;
	/* No configuration: aliases and blacklists in modprobe.d do not change what exists. */
	ctx = lib->new(dir, (const char *const[]){ NULL });
	if (!ctx)
		return -ENOMEM;
	lib->set_log_fn(ctx, kmod_log, NULL);
	r = lib->module_new_from_lookup(ctx, name, &list);
	if (r >= 0 && list) {
		struct kmod_module *m = lib->module_get_module(list);

		snprintf(module, sizeof(module), "%s", lib->module_get_name(m));
		st = lib->module_get_path(m) ? MODULE_AVAILABLE : MODULE_BUILTIN;
		lib->module_unref(m);
		lib->module_unref_list(list);
	}
	lib->unref(ctx);
	if (st != MODULE_BUILTIN && sys_module_present(s, module))
		st = MODULE_LOADED;
	if (ret_module && cap)
		snprintf(ret_module, cap, "%s", module);
	*ret = st;
	return 0;
}

const char *module_state_name(enum module_state st)
{
	static const char *const names[] = { "missing", "available", "loaded", "built in" };
	return names[st];
}
