/* SPDX-License-Identifier: MIT */
/*
 * The run's resources, one file each (res_*.c), in the order run_resources[] takes them
 * (resource.c). Each take returns 0 or the run's exit code; each give is safe when its take
 * stopped halfway or never got far; each recover works from a dead run's vm.json.
 */
#pragma once

#include <stdbool.h>

#include "recovery.h"
#include "runctx.h"

int res_dirs_take(struct run *r);        /* runtime dir, instance lock, state dir */
void res_dirs_give(struct run *r, int *code);
int res_guard_take(struct run *r);       /* the guard (guard.h) */
void res_guard_give(struct run *r, int *code);
int res_nvram_take(struct run *r);       /* the VM's own NVRAM */
int res_tpm_take(struct run *r);         /* swtpm */
void res_tpm_give(struct run *r, int *code);
int res_lg_take(struct run *r);          /* the Looking Glass file */
void res_lg_give(struct run *r, int *code);
void res_lg_recover(struct recovery *c);
int res_hugepages_take(struct run *r);   /* hugepages made for the run */
void res_hugepages_give(struct run *r, int *code);
void res_hugepages_recover(struct recovery *c);
int res_inputs_take(struct run *r);      /* the user's ACL on the input devices */
void res_inputs_give(struct run *r, int *code);
void res_inputs_recover(struct recovery *c);
int res_isolate_take(struct run *r);     /* cpu.isolate */
void res_isolate_give(struct run *r, int *code);
void res_isolate_recover(struct recovery *c);
int res_signals_take(struct run *r);     /* stop requests held on a signalfd */
void res_signals_give(struct run *r, int *code);
/* A stop request that came before QEMU started (said): then it is not started. */
bool res_signals_pending(struct run *r);
int res_gpus_take(struct run *r);        /* the groups on vfio-pci */
void res_gpus_give(struct run *r, int *code);
void res_gpus_recover(struct recovery *c);
int res_memlock_take(struct run *r);     /* the locked-memory limit for QEMU */
int res_qemu_take(struct run *r);        /* QEMU started, QMP connected */
void res_qemu_give(struct run *r, int *code);
int res_pinning_take(struct run *r);     /* cpu.pin, then the guest runs */
