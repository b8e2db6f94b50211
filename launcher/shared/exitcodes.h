/* SPDX-License-Identifier: MIT */
/*
 * vmrun's exit codes, one meaning each: the same for root and for users (whose privileged
 * steps the helper does), documented in --help, vmrun(1) and the README from this table.
 */
#pragma once

enum {
	EXIT_OK = 0,        /* done; for check: nothing failed */
	EXIT_ERROR = 1,     /* an operation failed on the host (I/O, a kernel step); rolled back */
	EXIT_USAGE = 2,     /* bad input: usage, a profile, a PCI address; nothing was touched */
	EXIT_BUSY = 3,      /* a process holds the device, or another vmrun switches the group */
	EXIT_NOT_READY = 4, /* refused or not ready: a check failed, unsafe group, missing pieces */
	EXIT_RECOVER = 5,   /* an interrupted or stuck switch is pending: run `vmrun restore` */
	EXIT_FORCED = 6,    /* the VM was stopped by force: it did not power down in time */
	EXIT_VM_DIED = 7,   /* QEMU failed to start or ended unexpectedly (crash, killed) */
	EXIT_MAX = EXIT_VM_DIED,
};

/* One line saying what the code means ("" for codes vmrun never uses). */
const char *exit_code_meaning(int code);
