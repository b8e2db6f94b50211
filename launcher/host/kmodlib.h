/* SPDX-License-Identifier: MIT */
/*
 * libkmod, opened the first time a module has to be looked up, loaded or removed. Linked
 * directly it costs every vmrun start most of its loading time (it brings libcrypto, libzstd
 * and liblzma along; see README's "Speed"), while most commands never need it: whether a
 * module is loaded is read from /sys/module (modules.c). systemd opens libkmod the same way.
 */
#pragma once

#include <libkmod.h>

struct kmodlib {
	__typeof__(&kmod_new) new;
	__typeof__(&kmod_unref) unref;
	__typeof__(&kmod_set_log_fn) set_log_fn;
	__typeof__(&kmod_module_new_from_lookup) module_new_from_lookup;
	__typeof__(&kmod_module_new_from_name) module_new_from_name;
	__typeof__(&kmod_module_get_module) module_get_module;
	__typeof__(&kmod_module_get_name) module_get_name;
	__typeof__(&kmod_module_get_path) module_get_path;
	__typeof__(&kmod_module_unref) module_unref;
	__typeof__(&kmod_module_unref_list) module_unref_list;
	__typeof__(&kmod_module_remove_module) module_remove_module;
	__typeof__(&kmod_module_probe_insert_module) module_probe_insert_module;
	__typeof__(&kmod_list_next) list_next;
};

/* The library's functions, or NULL (-errno in *err, if given) when it cannot be opened. */
const struct kmodlib *kmodlib_get(int *err);
