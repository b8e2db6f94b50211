/* SPDX-License-Identifier: MIT */
/*
 * cpu.pin: QEMU was started paused (-S); each vCPU thread goes to its CPU, the rest of QEMU's
 * threads to cpu.emulator, then the guest runs. Nothing to give back: the threads end with QEMU.
 */
#include "res.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"
#include "supervise.h"

static int set_affinity(pid_t tid, const unsigned *cpus, size_t n)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (size_t i = 0; i < n; i++)
		CPU_SET(cpus[i], &set);
	return sched_setaffinity(tid, sizeof(set), &set) < 0 ? -errno : 0;
}

/* The vCPU threads (query-cpus-fast's thread-id, by cpu-index) into tids. */
static int vcpu_threads(struct run *r, pid_t *tids, size_t n)
{
	json_object *ret = NULL, *v;
	char err[256];
	size_t got = 0;

	if (qmp_execute(r->q, "query-cpus-fast", NULL, 10000, &ret, err, sizeof(err)) < 0)
		return log_err("cpu.pin: query-cpus-fast: %s", err), -EIO;
	for (size_t i = 0; i < json_object_array_length(ret); i++) {
		json_object *c = json_object_array_get_idx(ret, i);
		int idx = json_object_object_get_ex(c, "cpu-index", &v) ? json_object_get_int(v) : -1;

		if (idx >= 0 && (size_t)idx < n && json_object_object_get_ex(c, "thread-id", &v)) {
			tids[idx] = (pid_t)json_object_get_int(v);
			got++;
		}
	}
	json_object_put(ret);
	return got == n ? 0 : (log_err("cpu.pin: QEMU reported %zu vCPU threads of %zu", got, n),
			       -EPROTO);
}

static bool is_vcpu(const pid_t *tids, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (tids[i] == tid)
			return true;
	return false;
}

/* QEMU's other threads (its main loop, I/O, RCU, the VNC and SPICE servers) to cpu.emulator. */
static int pin_emulator(struct run *r, const pid_t *tids, size_t n, unsigned *count)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char path[64];
	struct dirent *e;
	int e2 = 0;

	*count = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)r->qemu);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);

		if (tid <= 0 || is_vcpu(tids, n, tid))
			continue;
		if (set_affinity(tid, r->pl->p->cpu.emulator, r->pl->p->cpu.n_emulator) < 0 &&
		    errno != ESRCH)
			e2 = -errno;
		else
			(*count)++;
	}
	return e2;
}

static void list_text(char *buf, size_t cap, const unsigned *v, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%u", i ? "," : "", v[i]);
}

/* Each vCPU thread to its CPU, the others to cpu.emulator: 0, or -errno (said). */
static int pin_threads(struct run *r)
{
	const struct vm_cpu *cpu = &r->pl->p->cpu;
	pid_t tids[VM_CPU_LIST_MAX] = { 0 };
	unsigned others = 0;
	int e = vcpu_threads(r, tids, cpu->n_pin);

	for (size_t i = 0; !e && i < cpu->n_pin; i++) {
		e = set_affinity(tids[i], &cpu->pin[i], 1);
		if (e < 0)
			log_err("cpu.pin: vCPU %zu (thread %d) to CPU %u: %s", i, (int)tids[i],
				cpu->pin[i], strerror(-e));
	}
	if (!e && cpu->n_emulator && (e = pin_emulator(r, tids, cpu->n_pin, &others)) < 0)
		log_err("cpu.emulator: %s", strerror(-e));
	return e;
}

int res_pinning_take(struct run *r)
{
	const struct vm_cpu *cpu = &r->pl->p->cpu;
	char err[256];
	int e;

	if (!cpu->n_pin)
		return 0;
	list_text(r->pin_text, sizeof(r->pin_text), cpu->pin, cpu->n_pin);
	list_text(r->emu_text, sizeof(r->emu_text), cpu->emulator, cpu->n_emulator);
	e = pin_threads(r);
	if (!e)
		run_say(r, "pinned", "pinned %zu vCPU threads to CPUs %s%s%s", cpu->n_pin,
			r->pin_text, cpu->n_emulator ? "; QEMU's other threads to " : "",
			cpu->n_emulator ? r->emu_text : "");
	if (!e && qmp_execute(r->q, "cont", NULL, 10000, NULL, err, sizeof(err)) < 0) {
		log_err("cpu.pin: cont: %s", err);
		e = -EIO;
	}
	if (e < 0) {
		run_to_quit(r, "cpu.pin could not be applied");
		return EXIT_ERROR;
	}
	return 0;
}
