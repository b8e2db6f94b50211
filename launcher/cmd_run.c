/* SPDX-License-Identifier: MIT */
/*
 * vmrun PROFILE: check, lock, detach the GPU, start QEMU (no shell), supervise it over QMP,
 * stop it gracefully on request, and always give the GPU back when it ends.
 *
 *   1. plan (as --dry-run) and pre-flight checks; nothing is changed before they pass
 *   2. the instance lock in the runtime dir: one vmrun per profile name
 *   3. the VM's own NVRAM copy in its state dir (created once, never overwritten)
 *   4. detach each passed-through group (switch.c: journaled, rolled back on failure)
 *   5. QEMU in its own process group, killed if vmrun dies (PR_SET_PDEATHSIG)
 *   6. QMP: events drive the timeline; SIGINT/SIGTERM or `vmrun stop` ask for a powerdown,
 *      then quit after shutdown_timeout, then SIGTERM, then SIGKILL
 *   7. attach the groups back, whatever the ending; the exit code says how the VM ended
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../qmp/qmp.h"
#include "journal.h"
#include "log.h"
#include "notify.h"
#include "plan.h"
#include "privhelper.h"
#include "switch.h"
#include "vmdir.h"

enum stage { RUNNING, POWERDOWN, QUIT, TERM, KILLED };

struct run {
	struct cli *c;
	struct plan *pl;
	struct timespec t0;
	struct vm_info vi;
	int lock_fd, sig_fd, pid_fd, state_fd;
	pid_t qemu;
	struct qmp *q;
	enum stage stage;
	uint64_t deadline_ms; /* 0: none */
	bool guest_shutdown, forced, requested, exited;
	char reason[64];
	int status; /* QEMU's wait status */
	struct pci_addr groups_gpu[VM_MAX_GROUPS];
};

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* The timeline: "[  1.23s] message" for people, one JSON object a line with --json. */
_printf_(3, 4) static void say(struct run *r, const char *event, const char *fmt, ...)
{
	struct timespec t;
	char msg[1024];
	double s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_MONOTONIC, &t);
	s = (double)(t.tv_sec - r->t0.tv_sec) + (double)(t.tv_nsec - r->t0.tv_nsec) / 1e9;
	/* For a desktop launcher there is no terminal: the milestones go to notifications, and
	 * systemd (Type=notify) hears the status line. */
	if (r->c->notify && (streq(event, "running") || streq(event, "stopped") ||
			     streq(event, "forced") || streq(event, "qemu-died")))
		(void)desktop_notify(r->pl->p->name, msg, !streq(event, "running") && !streq(event, "stopped"));
	(void)sd_notify_status(msg);
	if (r->c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "t", json_object_new_double(s));
		json_object_object_add(o, "event", json_object_new_string(event));
		json_object_object_add(o, "vm", json_object_new_string(r->pl->p->name));
		json_object_object_add(o, "message", json_object_new_string(msg));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		printf("[%7.2fs] %s\n", s, msg);
	}
	fflush(stdout);
}

static void switch_progress(void *data, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say(data, "switch", "%s", msg);
}

/* ---- 1. pre-flight ---- */

static bool in_path(const char *bin)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(bin, '/'))
		return access(bin, X_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; p && *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);

		if (n && (size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, bin) < sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		p = colon ? colon + 1 : NULL;
	}
	return false;
}

static int preflight(struct run *r)
{
	const struct vm_profile *p = r->pl->p;
	struct rlimit rl;

	for (size_t i = 0; i < p->n_extra_args; i++)
		if (streq(p->extra_args[i], "-daemonize") || streq(p->extra_args[i], "--daemonize")) {
			log_err("%s: extra_args: -daemonize would let QEMU escape vmrun's supervision",
				p->source);
			return EXIT_USAGE;
		}
	if (!in_path(r->pl->argv[0])) {
		log_err("%s not found: install the Debian package qemu-system-x86", r->pl->argv[0]);
		return EXIT_NOT_READY;
	}
	if (p->accel == VM_ACCEL_KVM && access("/dev/kvm", R_OK | W_OK) < 0) {
		log_err("/dev/kvm is not usable (%m): enable VT-x/AMD-V, load kvm_intel or kvm_amd, "
			"or set accel: tcg");
		return EXIT_NOT_READY;
	}
	(void)rl;
	return 0;
}

/* ---- 2./3. runtime and state directories ---- */

static void remove_stale(const char *dir)
{
	static const char *const names[] = { "qmp.sock", "control.sock", "qemu.pid", "vm.json" };
	char path[PATH_MAX];

	/* We hold the instance lock: anything left here belongs to a vmrun that is gone. */
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)unlink(path);
	}
}

static int prepare_dirs(struct run *r)
{
	struct plan *pl = r->pl;
	int e;

	e = vm_dir_create(pl->runtime_dir);
	if (e < 0) {
		log_err("Cannot create the runtime directory %s: %s", pl->runtime_dir, strerror(-e));
		return EXIT_ERROR;
	}
	e = vm_lock(pl->runtime_dir, &r->lock_fd);
	if (e == -EBUSY) {
		struct vm_info vi;

		log_err("VM '%s' is already running%s", pl->p->name,
			vm_info_read(pl->runtime_dir, &vi) == 0 ? " (see `vmrun status`)" : "");
		return EXIT_BUSY;
	}
	if (e < 0) {
		log_err("Cannot lock %s: %s", pl->runtime_dir, strerror(-e));
		return EXIT_ERROR;
	}
	remove_stale(pl->runtime_dir);
	e = vm_dir_create(pl->state_dir);
	if (e < 0) {
		log_err("Cannot create the state directory %s: %s", pl->state_dir, strerror(-e));
		return EXIT_ERROR;
	}
	return 0;
}

static int prepare_nvram(struct run *r)
{
	struct plan *pl = r->pl;
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int fd = -1;
	bool created = false;
	int e;

	if (pl->p->firmware.type != VM_FW_UEFI)
		return 0;
	fd = open(pl->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_err("Cannot open %s: %m", pl->state_dir), EXIT_ERROR;
	e = fw_vars_ensure(fd, r->c->root->root_fd, pl->p->name, &pl->fw, &name, &created);
	if (e < 0) {
		log_err("NVRAM %s: %s%s", pl->vars_path, strerror(-e),
			e == -EMEDIUMTYPE ? " (its size does not fit the firmware; it was left untouched)" : "");
		return EXIT_NOT_READY;
	}
	say(r, "nvram", "NVRAM %s %s", pl->vars_path, created ? "created from the template" : "kept");
	return 0;
}

/* ---- 4. the GPU ---- */

static struct switch_ctx switch_ctx_for(struct run *r)
{
	return (struct switch_ctx){ .s = r->c->root, .k = &kernel_real, .state_fd = r->state_fd,
				    .progress = switch_progress, .progress_data = r };
}

static int switch_exit(enum switch_status st)
{
	switch (st) {
	case SW_OK: return 0;
	case SW_HELD:
	case SW_BUSY: return EXIT_BUSY;
	case SW_REFUSED: return EXIT_NOT_READY;
	case SW_NEEDS_RESTORE: return EXIT_RECOVER;
	case SW_BAD_INPUT: return EXIT_USAGE;
	default: return EXIT_ERROR;
	}
}

/* As a user, the helper switches the group; its exit code maps like ours. */
static enum switch_status via_helper(const char *op, const struct pci_addr *a, struct switch_ctx *sc)
{
	char name[PCI_ADDR_STR_MAX];
	int code = privhelper_run(op, pci_addr_format(a, name));

	snprintf(sc->why, sizeof(sc->why), "vmrun-helper %s %s exited with %d", op, name, code);
	switch (code) {
	case EXIT_OK: return SW_OK;
	case EXIT_BUSY: return SW_HELD;
	case EXIT_NOT_READY: return SW_REFUSED;
	case EXIT_RECOVER: return SW_NEEDS_RESTORE;
	case EXIT_USAGE: return SW_BAD_INPUT;
	default: return SW_FAILED;
	}
}

static int attach_all(struct run *r)
{
	struct switch_opts so = { 0 };
	int worst = 0;

	for (size_t i = r->vi.n_groups; i-- > 0;) {
		struct switch_ctx sc = switch_ctx_for(r);
		enum switch_status st = privhelper_needed(r->c->root) ?
						via_helper("attach", &r->groups_gpu[i], &sc) :
						switch_attach(&sc, &r->groups_gpu[i], &so);

		if (st) {
			log_err("Giving IOMMU group %d back failed: %s; run `vmrun restore`",
				r->vi.groups[i], sc.why);
			worst = EXIT_RECOVER;
		} else {
			say(r, "gpu-restored", "IOMMU group %d is back on its host drivers", r->vi.groups[i]);
		}
	}
	return worst;
}

static size_t count_groups(const struct plan *pl)
{
	size_t n = 0;

	for (size_t i = 0; i < pl->snap.n_gpus; i++) {
		bool seen = false;

		for (size_t k = 0; k < i; k++)
			seen |= pl->snap.gpus[k].gpu.iommu_group == pl->snap.gpus[i].gpu.iommu_group;
		n += !seen;
	}
	return n;
}

static int detach_all(struct run *r)
{
	struct switch_opts so = { 0 };
	bool helper = privhelper_needed(r->c->root);
	int e = helper ? 0 : switch_state_open(r->c->root, &r->state_fd);

	if (r->pl->snap.n_gpus == 0)
		return 0;
	if (count_groups(r->pl) > VM_MAX_GROUPS) {
		log_err("%s passes devices from %zu IOMMU groups; at most %d are supported",
			r->pl->p->name, count_groups(r->pl), VM_MAX_GROUPS);
		return EXIT_USAGE;
	}
	if (e < 0) {
		log_err("Cannot open /run/vmrun/switch: %s (switching drivers needs root)", strerror(-e));
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < r->pl->snap.n_gpus; i++) {
		const struct pci_function *f = &r->pl->snap.gpus[i].gpu;
		struct switch_ctx sc = switch_ctx_for(r);
		enum switch_status st;
		bool seen = false;

		for (size_t k = 0; k < r->vi.n_groups; k++)
			seen |= r->vi.groups[k] == f->iommu_group;
		if (seen)
			continue;
		st = helper ? via_helper("detach", &f->addr, &sc) : switch_detach(&sc, &f->addr, &so);
		/* A group someone else detached is theirs to give back, not this run's. */
		if (!st && sc.already) {
			st = SW_HELD;
			snprintf(sc.why, sizeof(sc.why), "IOMMU group %d is already on vfio-pci (another "
				 "VM, or `vmrun detach`); `vmrun attach %s` first", f->iommu_group, f->name);
		}
		if (st) {
			log_err("%s: %s", f->name, sc.why);
			(void)attach_all(r); /* the groups detached so far go back */
			r->vi.n_groups = 0;
			return switch_exit(st);
		}
		if (r->vi.n_groups < VM_MAX_GROUPS) {
			r->groups_gpu[r->vi.n_groups] = f->addr;
			r->vi.groups[r->vi.n_groups++] = f->iommu_group;
		}
	}
	return 0;
}

/* ---- 5. QEMU ---- */

static bool qemu_reap(struct run *r, int flags);

static int spawn_qemu(struct run *r, const sigset_t *blocked)
{
	char log_path[PATH_MAX];
	pid_t parent = getpid();
	int logfd;

	snprintf(log_path, sizeof(log_path), "%s/qemu.log", r->pl->runtime_dir);
	logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (logfd < 0)
		return log_err("Cannot create %s: %m", log_path), EXIT_ERROR;
	r->qemu = fork();
	if (r->qemu < 0) {
		safe_close(logfd);
		return log_err("fork: %m"), EXIT_ERROR;
	}
	if (r->qemu == 0) {
		sigset_t none;
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

		/* Own process group: a Ctrl-C for vmrun must not reach QEMU before the graceful
		 * path runs; PDEATHSIG: QEMU must never outlive vmrun. */
		(void)setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		/* Whatever vmrun itself inherited stays out of QEMU. */
		(void)close_range(3, ~0U, 0);
		unsetenv("NOTIFY_SOCKET"); /* readiness is vmrun's to report, not QEMU's */
		if (geteuid() == 0) /* VFIO pins guest RAM; root may lift the limit for QEMU */
			(void)setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY });
		execvp(r->pl->argv[0], r->pl->argv);
		fprintf(stderr, "vmrun: cannot execute %s: %s\n", r->pl->argv[0], strerror(errno));
		_exit(127);
	}
	(void)blocked;
	safe_close(logfd);
	r->pid_fd = (int)syscall(SYS_pidfd_open, r->qemu, 0);
	if (r->pid_fd < 0) {
		/* Unsupervised it must not run: stop it now, so the GPU can go back. */
		log_err("pidfd_open: %m; stopping QEMU");
		(void)kill(r->qemu, SIGKILL);
		(void)qemu_reap(r, 0);
		return EXIT_ERROR;
	}
	r->vi.qemu_pid = r->qemu;
	(void)vm_info_write(r->pl->runtime_dir, &r->vi);
	say(r, "qemu-started", "QEMU started, pid %d (log: %s)", (int)r->qemu, log_path);
	return 0;
}

static bool qemu_reap(struct run *r, int flags)
{
	if (r->exited)
		return true;
	if (waitpid(r->qemu, &r->status, flags) == r->qemu)
		r->exited = true;
	return r->exited;
}

static void show_qemu_log(struct run *r)
{
	char path[PATH_MAX], line[512];
	char *lines[8] = { 0 };
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/qemu.log", r->pl->runtime_dir);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		free(lines[n % 8]);
		lines[n % 8] = strdup(line);
		n++;
	}
	fclose(f);
	for (size_t i = n > 8 ? n - 8 : 0; i < n; i++) {
		fprintf(stderr, "  qemu: %s", lines[i % 8] ? lines[i % 8] : "\n");
		free(lines[i % 8]);
		lines[i % 8] = NULL;
	}
}

/* QEMU creates its QMP socket early; keep trying while it is alive. */
static int connect_qmp(struct run *r)
{
	char path[PATH_MAX];
	uint64_t end = now_ms() + 120000;

	snprintf(path, sizeof(path), "%s/qmp.sock", r->pl->runtime_dir);
	while (now_ms() < end) {
		struct pollfd p = { r->sig_fd, POLLIN, 0 };

		if (qemu_reap(r, WNOHANG))
			return -ECHILD;
		if (poll(&p, 1, 0) > 0)
			return -EINTR; /* asked to stop while QEMU was starting */
		if (qmp_connect(path, 500, &r->q) == 0)
			return 0;
	}
	return -ETIMEDOUT;
}

/* ---- 6. supervision ---- */

static void escalate(struct run *r)
{
	char err[256];

	switch (r->stage) {
	case RUNNING:
		r->stage = POWERDOWN;
		r->deadline_ms = now_ms() + r->pl->p->shutdown_timeout * 1000ULL;
		if (r->q && qmp_execute(r->q, "system_powerdown", NULL, 5000, NULL, err, sizeof(err)) == 0) {
			say(r, "powerdown", "asked the guest to power down (ACPI); waiting up to %us",
			    r->pl->p->shutdown_timeout);
			break;
		}
		/* No QMP: straight to killing, as there is no gentler way left. */
		/* fall through */
	case POWERDOWN:
		r->forced = !r->guest_shutdown;
		r->stage = QUIT;
		r->deadline_ms = now_ms() + 10000;
		if (r->q && qmp_execute(r->q, "quit", NULL, 5000, NULL, err, sizeof(err)) == 0) {
			say(r, "quit", "%s: told QEMU to quit", r->guest_shutdown ? "guest is off" :
			    "the guest did not power down in time");
			break;
		}
		/* fall through */
	case QUIT:
		r->forced = true;
		r->stage = TERM;
		r->deadline_ms = now_ms() + 10000;
		say(r, "sigterm", "sending SIGTERM to QEMU");
		(void)kill(r->qemu, SIGTERM);
		break;
	case TERM:
	case KILLED:
		r->stage = KILLED;
		r->deadline_ms = now_ms() + 10000;
		say(r, "sigkill", "sending SIGKILL to QEMU");
		(void)kill(r->qemu, SIGKILL);
		break;
	}
}

static void on_event(struct run *r, const struct qmp_event *ev)
{
	json_object *v;

	if (streq(ev->name, "SHUTDOWN")) {
		bool guest = ev->data && json_object_object_get_ex(ev->data, "guest", &v) &&
			     json_object_get_boolean(v);

		const char *reason = ev->data && json_object_object_get_ex(ev->data, "reason", &v) ?
					     json_object_get_string(v) : "unknown";

		/* The first SHUTDOWN says how the VM ended; the one our `quit` causes does not. */
		if (!r->reason[0])
			snprintf(r->reason, sizeof(r->reason), "%s", reason);
		say(r, "shutdown", "SHUTDOWN (%s, %s)", guest ? "guest" : "host", reason);
		if (guest)
			r->guest_shutdown = true;
		/* Stopped from outside before we asked (`vmrun stop --force`, a signal to QEMU). */
		if (!guest && r->stage < QUIT) {
			r->forced = true;
			r->requested = true;
		}
		/* -no-shutdown keeps QEMU after the guest powers off: now it may go. */
		if (r->stage < QUIT) {
			r->stage = POWERDOWN;
			escalate(r);
		}
	} else if (streq(ev->name, "POWERDOWN")) {
		if (r->stage == RUNNING) { /* asked through the control socket (`vmrun stop`) */
			r->stage = POWERDOWN;
			r->requested = true;
			r->deadline_ms = now_ms() + r->pl->p->shutdown_timeout * 1000ULL;
			say(r, "powerdown", "power-down requested; waiting up to %us",
			    r->pl->p->shutdown_timeout);
		}
	} else if (streq(ev->name, "RESET") || streq(ev->name, "STOP") || streq(ev->name, "RESUME") ||
		   streq(ev->name, "GUEST_PANICKED") || strstr(ev->name, "ERROR")) {
		say(r, "qmp-event", "%s%s%s", ev->name, ev->data ? " " : "",
		    ev->data ? json_object_to_json_string_ext(ev->data, JSON_C_TO_STRING_PLAIN) : "");
	}
}

static void drain_qmp(struct run *r)
{
	struct qmp_event ev;
	int e = qmp_process_input(r->q);

	while (qmp_next_event(r->q, &ev) == 1) {
		on_event(r, &ev);
		qmp_event_clear(&ev);
	}
	if (e < 0) {
		struct pollfd p = { r->pid_fd, POLLIN, 0 };

		qmp_close(r->q);
		r->q = NULL;
		/* The socket closes a moment before QEMU can be reaped: a dead QEMU is not a hung one. */
		(void)poll(&p, 1, 2000);
		/* After `quit` the connection closing is QEMU going away as asked. */
		if (!qemu_reap(r, WNOHANG) && r->stage < QUIT) {
			say(r, "qmp-lost", "lost the QMP connection; stopping QEMU");
			r->stage = QUIT;
			escalate(r);
		}
	}
}

static void on_signal(struct run *r)
{
	struct signalfd_siginfo si;

	while (read(r->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		say(r, "signal", "%s received%s", strsignal((int)si.ssi_signo),
		    r->stage == RUNNING ? "" : ": stopping harder");
		r->requested = true;
		escalate(r);
	}
}

static void supervise(struct run *r)
{
	while (!qemu_reap(r, WNOHANG)) {
		struct pollfd fds[3] = { { r->pid_fd, POLLIN, 0 }, { r->sig_fd, POLLIN, 0 },
					 { r->q ? qmp_fd(r->q) : -1, POLLIN, 0 } };
		int timeout = -1;

		if (r->deadline_ms) {
			uint64_t now = now_ms();

			timeout = r->deadline_ms > now ? (int)(r->deadline_ms - now) : 0;
		}
		if (poll(fds, 3, timeout) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			on_signal(r);
		if (r->q && fds[2].revents)
			drain_qmp(r);
		if (r->deadline_ms && now_ms() >= r->deadline_ms && !qemu_reap(r, WNOHANG))
			escalate(r);
	}
	(void)qemu_reap(r, 0);
}

/* ---- 7. the ending ---- */

static int ending(struct run *r)
{
	int st = r->status;

	if (WIFSIGNALED(st) && !r->forced) {
		say(r, "qemu-died", "QEMU was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
		return EXIT_VM_DIED;
	}
	if (r->forced) {
		say(r, "forced", "the VM was stopped by force: the guest did not power down within %us",
		    r->pl->p->shutdown_timeout);
		return EXIT_FORCED;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && (r->guest_shutdown || r->requested)) {
		say(r, "stopped", "the guest shut down (%s)", r->reason[0] ? r->reason : "powered off");
		return EXIT_OK;
	}
	say(r, "qemu-died", "QEMU ended unexpectedly (exit status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	show_qemu_log(r);
	return EXIT_VM_DIED;
}

static int setup_signals(struct run *r, sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		return -errno;
	r->sig_fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
	return r->sig_fd < 0 ? -errno : 0;
}

/* A SIGINT/SIGTERM that arrived while the GPU was being prepared: do not start QEMU at all. */
static bool interrupted(struct run *r)
{
	struct signalfd_siginfo si;

	if (read(r->sig_fd, &si, sizeof(si)) != sizeof(si))
		return false;
	say(r, "signal", "%s received before QEMU started: not starting it", strsignal((int)si.ssi_signo));
	return true;
}

static int run_vm(struct run *r)
{
	sigset_t set;
	int e, code;

	if (setup_signals(r, &set) < 0)
		return log_err("signalfd: %m"), EXIT_ERROR;
	code = detach_all(r);
	if (code)
		return code;
	(void)vm_info_write(r->pl->runtime_dir, &r->vi);
	/* VFIO pins all guest RAM: a user's QEMU inherits the limit the helper raised for us. */
	if (r->vi.n_groups && privhelper_needed(r->c->root)) {
		char bytes[32];

		snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)r->pl->p->memory + (1ULL << 30));
		code = privhelper_run("memlock", bytes);
		if (code) {
			log_err("cannot raise the locked-memory limit for QEMU (vmrun-helper exited with %d)", code);
			(void)attach_all(r);
			return code;
		}
	}
	if (interrupted(r)) {
		(void)attach_all(r);
		return EXIT_ERROR;
	}
	code = spawn_qemu(r, &set);
	if (!code) {
		e = connect_qmp(r);
		if (e == 0) {
			say(r, "running", "QMP connected; the guest is running");
			(void)sd_notify_ready("the guest is running");
		}
		else if (!r->exited)
			say(r, "qmp-lost", "cannot connect to QMP (%s); stopping QEMU", strerror(-e));
		if (e == -EINTR) {
			on_signal(r); /* counted as a stop request; QEMU is told to quit */
			r->stage = QUIT;
			escalate(r);
		} else if (e < 0 && !r->exited) {
			r->stage = QUIT;
			escalate(r);
		}
		supervise(r);
		code = ending(r);
	}
	qmp_close(r->q);
	r->q = NULL;
	(void)sd_notify_stopping();
	e = attach_all(r);
	return e ? e : code;
}

int cmd_run(struct cli *c, const char *profile)
{
	struct plan pl = { 0 };
	struct run r = { .c = c, .pl = &pl, .lock_fd = -1, .sig_fd = -1, .pid_fd = -1, .state_fd = -1 };
	int code;

	clock_gettime(CLOCK_MONOTONIC, &r.t0);
	code = plan_build(c, &pl, profile);
	if (!code)
		code = preflight(&r);
	if (!code) {
		say(&r, "checks", "profile %s: checks passed", profile);
		code = prepare_dirs(&r);
	}
	if (!code) {
		snprintf(r.vi.name, sizeof(r.vi.name), "%s", pl.p->name);
		snprintf(r.vi.profile, sizeof(r.vi.profile), "%s", profile);
		r.vi.pid = getpid();
		r.vi.started = (int64_t)time(NULL);
		code = prepare_nvram(&r);
		if (!code)
			code = run_vm(&r);
		say(&r, "exit", "vmrun exits with %d", code);
		/* vm.json is what tells a user's `vmrun status` that a restore is pending. */
		if (code != EXIT_RECOVER)
			remove_stale(pl.runtime_dir);
	}
	safe_close(r.sig_fd);
	safe_close(r.pid_fd);
	safe_close(r.state_fd);
	safe_close(r.lock_fd);
	plan_clear(&pl);
	return code;
}
