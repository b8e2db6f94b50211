/* SPDX-License-Identifier: MIT */
#include "kmodlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

#include "log.h"
#include "util.h"

static struct kmodlib lib;
static int state; /* 0: not tried, 1: loaded, -errno: failed */

#define SYM(field, name) { offsetof(struct kmodlib, field), name }

static const struct {
	size_t offset;
	const char *name;
} syms[] = {
	SYM(new, "kmod_new"),
	SYM(unref, "kmod_unref"),
	SYM(set_log_fn, "kmod_set_log_fn"),
	SYM(module_new_from_lookup, "kmod_module_new_from_lookup"),
	SYM(module_new_from_name, "kmod_module_new_from_name"),
	SYM(module_get_module, "kmod_module_get_module"),
	SYM(module_get_name, "kmod_module_get_name"),
	SYM(module_get_path, "kmod_module_get_path"),
	SYM(module_unref, "kmod_module_unref"),
	SYM(module_unref_list, "kmod_module_unref_list"),
	SYM(module_remove_module, "kmod_module_remove_module"),
	SYM(module_probe_insert_module, "kmod_module_probe_insert_module"),
	SYM(list_next, "kmod_list_next"),
};

static int load(void)
{
	/* The soname the headers were built against; never unloaded once open. */
	void *h = dlopen("libkmod.so.2", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);

	if (!h) {
		log_debug("cannot open libkmod.so.2: %s", dlerror());
		return -ENOPKG;
	}
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
		void *p = dlsym(h, syms[i].name);

		if (!p) {
			log_debug("libkmod.so.2 lacks %s", syms[i].name);
			return -ENOSYS;
		}
		/* Function pointers in a struct of them, each the type of its symbol. */
		*(void **)((char *)&lib + syms[i].offset) = p;
	}
	return 1;
}

const struct kmodlib *kmodlib_get(int *err)
{
	if (!state)
		state = load();
	if (state < 0) {
		if (err)
			*err = state;
		return NULL;
	}
	return &lib;
}
