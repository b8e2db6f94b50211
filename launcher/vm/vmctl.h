/* SPDX-License-Identifier: MIT */
/* Running VMs from the outside: the list for `vmrun status`, and `vmrun stop`. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "sysroot.h"
#include "vmdir.h"

struct vmctl_entry {
	struct vmdir_info vi;
	bool running;          /* its vmrun holds the instance lock */
	bool restore_pending;  /* its vmrun is gone and a group may still be on vfio-pci */
	char guest[32];        /* QMP's status of the guest ("running", "paused"), "" unknown */
};

/*
 * Every VM with a runtime directory of this user's (root: /run/vmrun/vm). switch_fd is the
 * switch journal directory when readable (root), else -1: then a vm.json left behind by a
 * dead vmrun with GPU groups counts as a pending restore.
 */
int vmctl_list(const struct sysroot *s, uid_t uid, int switch_fd, struct vmctl_entry **ret, size_t *ret_n);

/* One QMP command on the VM's control socket (dir is its runtime directory). */
int vmctl_control(const char *dir, const char *cmd, json_object **ret, char *err, size_t errlen);

/* Wait until pid is gone (its vmrun giving the GPU back); false on timeout. */
bool vmctl_wait_gone(pid_t pid, unsigned timeout_ms);
