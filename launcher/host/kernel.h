/* SPDX-License-Identifier: MIT */
/*
 * Every change vmrun makes to the host goes through these operations, so the switching logic
 * can be run against a model of the kernel in unit tests, with any step made to fail or hang.
 */
#pragma once

#include <stdbool.h>

#include "sysroot.h"

/*
 * Read a sysfs attribute whose show takes the device's lock (driver_override), which a stuck
 * remove holds for ever: through the writer child, so that vmrun gets control back after
 * timeout_ms (-ETIMEDOUT; that child is left to the kernel). 0 and the value, NUL-terminated
 * and its newline stripped, or -errno.
 */
int sysfs_read_bounded(const struct sysroot *s, const char *path, char *buf, size_t cap,
		       unsigned timeout_ms);

struct kernel_ops {
	/*
	 * Write `value` to the sysfs attribute `path` (relative to /sys). Must return within
	 * timeout_ms whatever the kernel does: -ETIMEDOUT when the write is still blocked (the
	 * real implementation leaves a child process stuck in the kernel and says so through
	 * *ret_stuck_pid), else 0 or the write's negative errno.
	 */
	int (*sysfs_write)(void *data, const struct sysroot *s, const char *path, const char *value,
			   unsigned timeout_ms, int *ret_stuck_pid);
	/* Unload / load one module (no dependencies are touched by unload). */
	int (*module_unload)(void *data, const struct sysroot *s, const char *module);
	int (*module_load)(void *data, const struct sysroot *s, const char *module);
	/* Sleep between polls of sysfs (tests make it advance a fake clock). */
	void (*sleep_ms)(void *data, unsigned ms);
	/*
	 * fbcon's map of text consoles (1..63) to framebuffers, through the ioctls on /dev/fbN
	 * (FBIOGET_CON2FBMAP / FBIOPUT_CON2FBMAP), any registered framebuffer's node: 0 or -errno.
	 */
	int (*con2fb_get)(void *data, const struct sysroot *s, unsigned console, int *ret_fb);
	int (*con2fb_set)(void *data, const struct sysroot *s, unsigned console, int fb);
	/* Stop or start a systemd unit of the host's (systemctl, waited for): 0 or -errno. */
	int (*service)(void *data, const struct sysroot *s, const char *unit, bool start);
	/* A switch is over: what it kept for its writes (the real writer process) can go.
	 * Optional. */
	void (*idle)(void *data);
	void *data;
};

/* The real kernel: writes by a child with a deadline, libkmod for modules. */
extern const struct kernel_ops kernel_real;
