/* SPDX-License-Identifier: MIT */
/*
 * `vmrun new NAME`: a new VM's profile, chosen from this host (its GPUs, memory, CPUs, KVM)
 * and a few answers, rendered as commented YAML that profile_load() accepts, and its disk image.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pciaddr.h"
#include "sysroot.h"

enum new_os { NEW_WINDOWS11, NEW_WINDOWS10, NEW_LINUX };

/* What was asked for; NULL / 0 fields take the host's defaults. */
struct new_request {
	const char *name;
	enum new_os os;
	const char *gpu;       /* an address, "none", or NULL: the one GPU not the host's display */
	const char *iso, *drivers;
	const char *disk;      /* NULL: NAME.qcow2 in the VM's state directory */
	const char *disk_size; /* NULL: 128G */
	const char *memory;
	unsigned cores;
	const char *accel;     /* "kvm", "tcg" or NULL */
	bool desktop;          /* a desktop session: gtk displays are possible */
};

/* What was chosen, and why, for the user to read. */
struct new_vm {
	char name[65];
	enum new_os os;
	bool have_gpu;
	struct pci_addr gpu;
	char gpu_desc[160];
	uint64_t memory, host_memory;
	unsigned cores, threads, host_cpus;
	bool kvm;
	char accel_note[160];
	char *disk;            /* absolute */
	uint64_t disk_size;
	bool disk_exists;      /* an existing image is used, not created */
	char *iso, *drivers;   /* absolute, or NULL */
	char notes[4][256];    /* what the user should know about the choices */
	size_t n_notes;
};

/*
 * Choose. 0, or an exit code with the one-line reason in why (2: the request is wrong or
 * ambiguous, e.g. two candidate GPUs; 4: the host lacks something).
 */
int new_vm_choose(const struct sysroot *s, uid_t uid, const struct new_request *rq,
		  struct new_vm *ret, char *why, size_t cap);
/* The profile's text, commented; malloc'd. */
char *new_vm_render(const struct new_vm *vm);
/* qemu-img create -f qcow2 (never over an existing file); 0, or an exit code and why. */
int new_vm_create_disk(const struct new_vm *vm, char *why, size_t cap);
void new_vm_clear(struct new_vm *vm);
const char *new_os_name(enum new_os os);
int new_os_parse(const char *s, enum new_os *ret);
