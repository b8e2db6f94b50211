/* SPDX-License-Identifier: MIT */
/*
 * QEMU, with the plan's argv and no shell: in its own process group (a Ctrl-C for vmrun must
 * not reach it before the graceful path runs), killed if vmrun dies (PR_SET_PDEATHSIG), its
 * output in qemu.log, supervised through a pidfd and QMP. Given back: stopped (if a later step
 * failed) and waited for; the QMP connection closed.
 */
#include "res.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcodes.h"
#include "isolate.h"
#include "log.h"
#include "notify.h"
#include "supervise.h"
#include "spawn.h"
#include "timeutil.h"

/* QEMU's argv inside its own scope (cpu.isolate: outside the slices kept off its CPUs), made in
 * the parent: after fork only async-signal-safe calls. */
static char **scoped_argv(const struct run *r)
{
	const char *const *pre = isolate_scope_prefix(r->pl->p->name);
	size_t np = 0, na = 0;
	char **v;

	while (pre[np])
		np++;
	while (r->pl->argv[na])
		na++;
	v = calloc(np + na + 1, sizeof(*v));
	if (v) {
		memcpy(v, pre, np * sizeof(*v));
		memcpy(v + np, r->pl->argv, (na + 1) * sizeof(*v));
	}
	return v;
}

struct qemu_child {
	char **scoped; /* NULL: not isolated */
};

/* In the child, last before exec: root may lift the locked-memory limit (VFIO pins guest RAM);
 * an isolated QEMU is started in its scope, and without one (no systemd-run) as it is. */
static void qemu_child_setup(void *data)
{
	const struct qemu_child *qc = data;

	if (geteuid() == 0)
		(void)setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY });
	if (qc->scoped)
		execvp(qc->scoped[0], qc->scoped);
}

static int spawn_qemu(struct run *r)
{
	struct spawn_opts o = spawn_opts_default();
	struct qemu_child qc = { .scoped = r->isolated ? scoped_argv(r) : NULL };
	int logfd, e;

	logfd = openat(r->run_fd, "qemu.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (logfd < 0) {
		free(qc.scoped);
		return log_err("Cannot create %s/qemu.log: %m", r->pl->runtime_dir), EXIT_ERROR;
	}
	/* Its own process group: a Ctrl-C for vmrun must not reach QEMU before the graceful path
	 * runs; never outliving vmrun; readiness is vmrun's to report, not QEMU's. */
	o.out = o.err = logfd;
	o.new_pgroup = true;
	o.die_with_parent = true;
	o.unset_env = "NOTIFY_SOCKET";
	o.child_setup = qemu_child_setup;
	o.data = &qc;
	e = spawn_start(r->pl->argv, &o, &r->qemu);
	safe_close(logfd);
	free(qc.scoped);
	if (e < 0) {
		r->qemu = 0;
		return log_err("Cannot start QEMU: %s", strerror(-e)), EXIT_ERROR;
	}
	r->pid_fd = (int)syscall(SYS_pidfd_open, r->qemu, 0);
	if (r->pid_fd < 0) {
		/* Unsupervised it must not run: stop it now, so the GPU can go back. */
		log_err("pidfd_open: %m; stopping QEMU");
		(void)kill(r->qemu, SIGKILL);
		(void)run_qemu_reap(r, 0);
		return EXIT_ERROR;
	}
	guard_watch(&r->guard, r->pid_fd);
	r->state = ST_STARTING;
	r->vi.qemu_pid = r->qemu;
	(void)vmdir_info_write(r->run_fd, &r->vi);
	run_say(r, "qemu-started", "QEMU started, pid %d (log: %s/qemu.log)", (int)r->qemu,
		r->pl->runtime_dir);
	return 0;
}

/* QEMU creates its QMP socket early; keep trying while it is alive. */
static int connect_qmp(struct run *r)
{
	char path[PATH_MAX];
	uint64_t end = now_ms() + 120000;

	snprintf(path, sizeof(path), "%s/qmp.sock", r->pl->runtime_dir);
	while (now_ms() < end) {
		struct pollfd p = { r->sig_fd, POLLIN, 0 };

		if (run_qemu_reap(r, WNOHANG))
			return -ECHILD;
		if (poll(&p, 1, 0) > 0)
			return -EINTR; /* asked to stop while QEMU was starting */
		if (qmp_connect(path, 500, &r->q) == 0)
			return 0;
	}
	return -ETIMEDOUT;
}

/* QEMU started, and QMP connected. A QEMU that starts but cannot be reached over QMP is stopped
 * and waited for here, and how it ended is the run's exit code. */
int res_qemu_take(struct run *r)
{
	int e, code;

	if (res_signals_pending(r))
		return EXIT_ERROR;
	code = spawn_qemu(r);
	if (code)
		return code;
	e = connect_qmp(r);
	if (e == 0)
		return 0;
	if (e == -EINTR)
		run_on_signal(r); /* a stop request: QEMU is told to quit */
	else if (!r->exited) {
		run_say(r, "qmp-lost", "cannot connect to QMP (%s); stopping QEMU", strerror(-e));
		run_to_term(r);
	}
	run_supervise(r);
	code = run_ending(r);
	return code ? code : EXIT_VM_DIED;
}

/* A QEMU still running here was started, but a step after it failed: stopped, and waited for. */
void res_qemu_give(struct run *r, int *code)
{
	(void)code;
	if (r->qemu > 0 && !run_qemu_reap(r, WNOHANG)) {
		if (r->state < ST_QUIT)
			run_to_quit(r, "a step after QEMU's start failed");
		run_supervise(r);
	}
	qmp_close(r->q);
	r->q = NULL;
	r->pid_fd = safe_close(r->pid_fd);
	(void)sd_notify_stopping();
}
