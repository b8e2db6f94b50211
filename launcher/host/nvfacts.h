/* SPDX-License-Identifier: MIT */
/*
 * What a user needs to know about NVIDIA's stack before the first switch, read from the host:
 * how nvidia_drm was loaded (modeset, fbdev: who will hold the card), whether
 * nvidia-persistenced is installed and which udev rule starts it when nvidia loads (so it
 * comes back when the stack is loaded again), and which other devices keep nvidia loaded.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sysroot.h"

#define NVFACTS_OTHERS 4

struct nv_facts {
	int modeset, fbdev;     /* 1 on, 0 off, -1 unknown (see param_err) */
	int param_err;          /* 0, -ENOENT (nvidia_drm not loaded), -EACCES (root-only, 0400) */
	char unit[128];         /* nvidia-persistenced's unit file ("/usr/lib/..."), "" if none */
	bool masked;            /* its unit is masked (a link to /dev/null): nothing starts it */
	char rule[330];         /* a udev rule file that starts it, "" if none */
	char others[NVFACTS_OTHERS][16]; /* other PCI functions on nvidia */
	size_t n_others;
};

/* The facts for the GPU at pci ("0000:01:00.0"); 0, or -errno when /sys cannot be read. */
int nvfacts_read(const struct sysroot *s, const char *pci, struct nv_facts *f);
