/* SPDX-License-Identifier: MIT */
/*
 * Giving back what a run changed on the host when its vmrun could not (it was killed, it
 * crashed): from the run's vm.json (vmdir.h), which the run keeps current. The GPUs go back
 * through their switch journals (restore, only the journals that dead vmrun held), hugepages
 * the pool grew by are given back, the user's input ACLs taken back, cpu.isolate's slices get
 * their CPUs, the Looking Glass file is removed. Used by the guard (guard.h) the moment the
 * vmrun dies, by `vmrun restore NAME` (the user unit's ExecStopPost=), and by the next run of
 * the same VM. Whatever cannot be given back stays in vm.json for the next try.
 */
#pragma once

#include "priv.h"
#include "sysroot.h"
#include "vmdir.h"

typedef void (*recover_say_fn)(void *data, const char *msg);

/*
 * Undo what vi lists (the run's vmrun must be gone: the caller holds the VM's lock, or is its
 * guard), each step even when an earlier one failed. vi is updated to what is left; vm.json
 * is removed when nothing is, else rewritten ("needs-restore"). EXIT_OK, or EXIT_RECOVER when
 * something is left (each failure said through say).
 */
int vm_recover(struct priv *priv, int run_fd, struct vm_info *vi, recover_say_fn say, void *data);
