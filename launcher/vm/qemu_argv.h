/* SPDX-License-Identifier: MIT */
/*
 * The QEMU command line: a pure function from a validated profile and the host's facts to an
 * argv (never a shell string). It reads nothing and changes nothing, so it is golden-tested.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "firmware.h"
#include "profile.h"
#include "pciaddr.h"

/* One host function to pass through, in the order the guest should see them. */
struct qemu_hostdev {
	struct pci_addr host;
	const char *rom; /* romfile, or NULL */
};

/* An install run (`vmrun install`): the profile's install.media attached and booted first. */
struct qemu_install {
	enum vm_install_display display; /* resolved: VNC, GTK or SPICE, never AUTO */
};

struct host_facts {
	const char *qemu_binary;           /* "qemu-system-x86_64" */
	const struct fw_choice *firmware;  /* NULL with BIOS */
	const char *vars_path;             /* the VM's own NVRAM copy (UEFI) */
	const char *runtime_dir;           /* QMP socket, pid file, display sockets */
	const struct qemu_hostdev *hostdevs;
	size_t n_hostdevs;
	const struct qemu_install *install; /* NULL: a plain run, without the installation media */
	const char *looking_glass;         /* the shared memory's file (looking_glass) */
	const char *pulse_server;          /* "unix:/run/user/UID/pulse/native" (audio) */
};

/*
 * NULL-terminated argv in *ret (free with strv_free). -EINVAL when facts are missing. With
 * cpu.pin the VM starts paused (-S): the run pins its threads, then continues it.
 */
int qemu_argv_build(const struct vm_profile *p, const struct host_facts *h, char ***ret);

/* Quote one argument for display to a POSIX shell (the argv itself is never run by a shell). */
char *shell_quote(const char *arg);
