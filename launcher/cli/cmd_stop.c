/* SPDX-License-Identifier: MIT */
/* vmrun stop NAME [--force]: over the VM's control socket, then wait for the GPU to be back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "names.h"
#include "paths.h"
#include "util.h"
#include "vmctl.h"

int cmd_stop(struct cli *c, const struct cli_args *a)
{
	_cleanup_free_ char *dir = NULL;
	const char *name = a->pos[0];
	bool force = args_has(a, OPT_FORCE);
	struct vmdir_info vi;
	char err[512] = "";
	int fd = -1;

	if (!names_vm_valid(name)) {
		log_err("stop: '%s' is not a VM name (%s)", name, VM_NAME_RULE);
		return EXIT_USAGE;
	}
	if (paths_runtime_dir(c->root, name, c->uid, &dir) < 0)
		return EXIT_ERROR;
	if (vmdir_open(dir, false, &fd, NULL) < 0 || !vmdir_is_running(fd) || vmdir_info_read(fd, &vi) < 0) {
		safe_close(fd);
		log_err("VM '%s' is not running", name);
		return EXIT_NOT_READY;
	}
	safe_close(fd);
	if (vmctl_control(dir, force ? "quit" : "system_powerdown", NULL, err, sizeof(err)) < 0 && !force) {
		log_err("stop %s: %s", vi.name, err);
		return EXIT_ERROR;
	}
	printf("%s: %s; waiting for vmrun (pid %d) to give the GPU back\n", vi.name,
	       force ? "QEMU told to quit" : "power-down requested", (int)vi.pid);
	fflush(stdout);
	if (!vmctl_wait_gone(vi.pid, 15 * 60 * 1000)) {
		log_err("%s: vmrun pid %d is still running after 15 minutes", vi.name, (int)vi.pid);
		return EXIT_ERROR;
	}
	printf("%s: stopped\n", vi.name);
	return EXIT_OK;
}
