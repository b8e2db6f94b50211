/* SPDX-License-Identifier: MIT */
/*
 * The run's directories: the runtime directory and its instance lock (one vmrun per VM name),
 * and the state directory when there is NVRAM or a TPM to keep. Given back last: vm.json goes
 * (unless something is left to restore: it is what tells `vmrun status` so), the fds close.
 */
#include "res.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"

static int open_dir(const char *path, int *ret_fd)
{
	const char *why = "";
	int r = vmdir_open(path, true, ret_fd, &why);

	if (r < 0)
		log_err("Cannot use %s: %s", path, why[0] ? why : strerror(-r));
	return r < 0 ? EXIT_ERROR : 0;
}

static int lock_busy(struct run *r)
{
	struct vmdir_info vi;

	if (vmdir_info_read(r->run_fd, &vi) == 0 && streq(vi.state, "recovering"))
		log_err("VM '%s' is being recovered: its vmrun (pid %d) ended without stopping it, "
			"and the guard (pid %d) is giving its GPU back; try again in a few seconds",
			r->pl->p->name, (int)vi.pid, (int)vi.guard_pid);
	else
		log_err("VM '%s' is already running (lock held in %s)", r->pl->p->name,
			r->pl->runtime_dir);
	return EXIT_BUSY;
}

int res_dirs_take(struct run *r)
{
	int e = open_dir(r->pl->runtime_dir, &r->run_fd);

	if (e)
		return e;
	e = vmdir_lock(r->run_fd, &r->lock_fd);
	if (e == -EBUSY)
		return lock_busy(r);
	if (e < 0) {
		log_err("Cannot lock %s: %s", r->pl->runtime_dir, strerror(-e));
		return EXIT_ERROR;
	}
	snprintf(r->vi.name, sizeof(r->vi.name), "%s", r->pl->p->name);
	snprintf(r->vi.profile, sizeof(r->vi.profile), "%s", r->pl->p->source);
	snprintf(r->vi.state, sizeof(r->vi.state), "starting");
	r->vi.pid = getpid();
	r->vi.started = (int64_t)time(NULL);
	return r->pl->p->firmware.type == VM_FW_UEFI || r->pl->p->tpm ?
		       open_dir(r->pl->state_dir, &r->state_fd) : 0;
}

void res_dirs_give(struct run *r, int *code)
{
	/* Only a run that held the lock speaks for the VM, and owns what is in its directory. */
	if (r->lock_fd >= 0) {
		run_say(r, "exit", "vmrun exits with %d", *code);
		if (*code != EXIT_RECOVER)
			vmdir_remove_stale(r->run_fd);
	}
	r->state_fd = safe_close(r->state_fd);
	r->lock_fd = safe_close(r->lock_fd);
	r->run_fd = safe_close(r->run_fd);
}
