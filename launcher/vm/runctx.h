/* SPDX-License-Identifier: MIT */
/*
 * A run's state, shared by the run's driver (run.c), its resources (res_*.c, resource.h) and
 * its supervisor (supervise.c); and the two things every one of them does: say what happened
 * (the timeline, and a service manager's STATUS), and keep vm.json current before and after
 * each change on the host, for whoever gives it back when the run cannot (the guard, `vmrun
 * restore NAME`, the next run).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "guard.h"
#include "plan.h"
#include "priv.h"
#include "qmp.h"
#include "runui.h"
#include "swtpm.h"
#include "util.h"
#include "vmdir.h"

/*
 * How far stopping the VM has got: one state, whose value at QEMU's exit says how the VM
 * ended. Each state's deadline (when it has one) moves it to the next harder one.
 */
enum run_state {
	ST_STARTING,   /* QEMU started, QMP not connected yet */
	ST_RUNNING,    /* the guest runs */
	ST_POWERDOWN,  /* ACPI power-down asked for (by a signal or `vmrun stop`): up to
	                * shutdown_timeout for the guest to power off */
	ST_GUEST_OFF,  /* the guest powered itself off; QEMU was told to quit: a clean end */
	ST_QUIT,       /* QEMU told to quit before the guest powered off (it did not in time,
	                * or `vmrun stop --force`): the VM was stopped by force */
	ST_TERM,       /* QEMU did not quit: SIGTERM */
	ST_KILL,       /* nor on SIGTERM: SIGKILL, every 10 s until it is gone */
};

#define RUN_MAX_INPUTS 2

struct run_input {
	const char *path, *id, *what; /* the profile's path, the QOM id, "keyboard" */
	bool present, granted;
	dev_t rdev;       /* the node it is now (st_rdev and inode): a replug may reuse */
	ino_t ino;        /* the same name, even the same number, for a new device */
};

struct run {
	struct plan *pl;
	const struct run_ui *ui;
	struct priv priv;
	struct vmdir_info vi;
	struct pci_addr group_gpu[VMDIR_MAX_GROUPS];
	int run_fd, state_fd, lock_fd, sig_fd, pid_fd;
	pid_t qemu;           /* 0 before it is started */
	struct qmp *q;
	enum run_state state;
	uint64_t deadline_ms; /* 0: none */
	char reason[64];      /* the first SHUTDOWN's reason: how the VM ended */
	char forced[96];      /* why it was stopped by force (ST_QUIT and later) */
	bool exited;
	int status;           /* QEMU's wait status */
	struct swtpm tpm;
	bool lg_made;         /* the Looking Glass file is ours to remove */
	unsigned long huge_added; /* hugepages the pool grew by for this run: given back after */
	bool isolated;        /* cpu.isolate is in force: given back after */
	int inotify_fd;       /* the input devices' directories, for unplug and replug */
	struct run_input inputs[RUN_MAX_INPUTS];
	size_t n_inputs;
	unsigned keys_left, keys_sent; /* install: key presses still to send, and sent */
	char pin_text[512], emu_text[256]; /* cpu.pin and cpu.emulator, as "2,6,3,7" */
	uint64_t next_key_ms;
	struct guard guard;   /* gives everything back if this vmrun dies (guard.h) */
	struct guard_cfg guard_cfg;
};

/* One event of the timeline: to the caller's ui, and as the service manager's STATUS. */
_printf_(3, 4) void run_say(struct run *r, const char *event, const char *fmt, ...);
/* vm.json as r->vi says, now. */
void run_sync_info(struct run *r);
/* The switch's progress lines, as "switch" events. */
void run_switch_progress(void *data, const char *msg);
