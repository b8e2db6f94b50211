/* SPDX-License-Identifier: MIT */
#include "exitcodes.h"

#include "util.h"

const char *exit_code_meaning(int code)
{
	static const char *const meaning[] = {
		[EXIT_OK] = "success; for check: nothing failed",
		[EXIT_ERROR] = "an operation failed on the host (a kernel step, I/O); a switch was "
			       "rolled back",
		[EXIT_USAGE] = "bad input: usage, a profile, a PCI address; nothing was touched",
		[EXIT_BUSY] = "busy: a process holds the device (it is named), or another vmrun is "
			      "switching the group",
		[EXIT_NOT_READY] = "refused or not ready: a check failed (IOMMU off, a non-GPU device "
				   "in the group, the GPU drives the console, a device, disk or "
				   "firmware is missing); nothing was changed",
		[EXIT_RECOVER] = "an interrupted or stuck switch is pending, or the GPU could not be "
				 "given back: run `vmrun restore`",
		[EXIT_FORCED] = "the VM was stopped by force: it did not power down within "
				"shutdown_timeout, or `stop --force`",
		[EXIT_VM_DIED] = "QEMU failed to start or ended unexpectedly (crashed, killed)",
	};

	return code >= 0 && (size_t)code < ARRAY_SIZE(meaning) && meaning[code] ? meaning[code] : "";
}
