/* SPDX-License-Identifier: MIT */
/* vmrun's exit codes: one meaning each, documented in --help and the README. */
#pragma once

enum {
	EXIT_OK = 0,        /* done; for check: nothing failed */
	EXIT_ERROR = 1,     /* an operation failed on the host (I/O, a kernel step, QEMU) */
	EXIT_USAGE = 2,     /* bad input: usage, a profile, a PCI address; nothing was touched */
	EXIT_BUSY = 3,      /* a process holds the device, or another vmrun switches the group */
	EXIT_NOT_READY = 4, /* refused or not ready: check failed, unsafe group, missing pieces */
	EXIT_RECOVER = 5,   /* an interrupted switch is pending: run `vmrun restore` */
	EXIT_FORCED = 6,    /* the VM was stopped by force: it did not power down in time */
	EXIT_VM_DIED = 7,   /* QEMU failed to start or ended unexpectedly (crash, killed) */
};
