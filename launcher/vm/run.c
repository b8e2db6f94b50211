/* SPDX-License-Identifier: MIT */
/*
 * vmrun PROFILE, after the plan and the pre-flight checks:
 *
 *   1. the runtime directory and the instance lock: one vmrun per profile name
 *   2. the VM's own NVRAM copy in its state directory (created once, never overwritten), and
 *      with tpm: swtpm, its state beside the NVRAM (swtpm.h)
 *   3. detach each passed-through group (priv.h: root itself or vmrun-helper; journaled,
 *      rolled back on failure), and check that what went to vfio-pci is what QEMU gets
 *   4. a user's locked-memory limit, raised for QEMU (VFIO pins all guest RAM)
 *   5. QEMU in its own process group, killed if vmrun dies (PR_SET_PDEATHSIG)
 *   6. QMP: events drive the stop state machine below; SIGINT/SIGTERM or `vmrun stop` ask
 *      for a powerdown, then quit after shutdown_timeout, then SIGTERM, then SIGKILL
 *   7. attach the groups back, whatever the ending; the exit code says how the VM ended
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "fileio.h"
#include "guard.h"
#include "isolate.h"
#include "log.h"
#include "notify.h"
#include "priv.h"
#include "qmp.h"
#include "recover.h"
#include "swtpm.h"
#include "timeutil.h"
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

struct run {
	struct plan *pl;
	const struct run_ui *ui;
	struct priv priv;
	struct vm_info vi;
	struct pci_addr group_gpu[VM_MAX_GROUPS];
	int run_fd, state_fd, lock_fd, sig_fd, pid_fd;
	pid_t qemu;
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
	struct input_dev {
		const char *path, *id, *what; /* the profile's path, the QOM id, "keyboard" */
		bool present, granted;
		dev_t rdev;       /* the node it is now (st_rdev and inode): a replug may reuse */
		ino_t ino;        /* the same name, even the same number, for a new device */
	} inputs[2];
	size_t n_inputs;
	unsigned keys_left, keys_sent; /* install: key presses still to send, and sent */
	char pin_text[512], emu_text[256]; /* cpu.pin and cpu.emulator, as "2,6,3,7" */
	bool setup_failed;    /* QEMU was stopped before the guest ran: a step of ours failed */
	uint64_t next_key_ms;
	struct guard guard;   /* gives everything back if this vmrun dies (guard.h) */
	struct guard_cfg guard_cfg;
};

_printf_(3, 4) static void say(struct run *r, const char *event, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* systemd (Type=notify) hears every line as the unit's status. */
	(void)sd_notify_status(msg);
	if (r->ui && r->ui->event)
		r->ui->event(r->ui->data, event, msg);
}

static void switch_progress(void *data, const char *msg)
{
	say(data, "switch", "%s", msg);
}

/* vm.json, before and after each change on the host: what the guard would give back. */
static void sync_info(struct run *r)
{
	if (r->run_fd >= 0 && vm_info_write(r->run_fd, &r->vi) < 0)
		log_debug("cannot write %s/vm.json: %m", r->pl->runtime_dir);
}

static void recover_say(void *data, const char *msg)
{
	say(data, "recover", "%s", msg);
}

/*
 * Under the lock, a vm.json is a run's whose vmrun is gone, and its guard too: what it lists
 * is given back before this run changes anything. A group that will not go back stops the run.
 */
static int recover_stale(struct run *r)
{
	struct vm_info vi;
	int code;

	if (vm_info_read(r->run_fd, &vi) < 0 || !vm_info_has_changes(&vi)) {
		vm_dir_remove_stale(r->run_fd);
		return 0;
	}
	say(r, "recover", "the last run of %s (vmrun pid %d) did not give back what it changed: "
	    "doing it now", r->pl->p->name, (int)vi.pid);
	code = vm_recover(&r->priv, r->run_fd, &vi, recover_say, r);
	if (code) {
		log_err("%s: what its last run left could not all be given back (above); fix that, "
			"then `vmrun restore %s`", r->pl->p->name, r->pl->p->name);
		return code;
	}
	return 0;
}

/* A guard for this run; without one (fork failed) the run goes on, as before there was one. */
static void start_guard(struct run *r)
{
	int e;

	r->guard_cfg = (struct guard_cfg){ .s = r->pl->s, .run_fd = r->run_fd, .lock_fd = r->lock_fd,
					   .name = r->pl->p->name,
					   .runtime_dir = r->pl->runtime_dir };
	e = guard_start(&r->guard, &r->guard_cfg);
	if (e < 0) {
		log_warn("no guard for this run (%s): if vmrun is killed, `vmrun restore %s` gives "
			 "the GPU back", strerror(-e), r->pl->p->name);
		return;
	}
	r->vi.guard_pid = r->guard.pid;
}

/* ---- 1./2. runtime and state directories ---- */

static int open_dir(const char *path, int *ret_fd)
{
	const char *why = "";
	int r = vm_dir_open(path, true, ret_fd, &why);

	if (r < 0)
		log_err("Cannot use %s: %s", path, why[0] ? why : strerror(-r));
	return r < 0 ? EXIT_ERROR : 0;
}

static int prepare_dirs(struct run *r)
{
	int e = open_dir(r->pl->runtime_dir, &r->run_fd);

	if (e)
		return e;
	e = vm_lock(r->run_fd, &r->lock_fd);
	if (e == -EBUSY) {
		struct vm_info vi;

		if (vm_info_read(r->run_fd, &vi) == 0 && streq(vi.state, "recovering"))
			log_err("VM '%s' is being recovered: its vmrun (pid %d) ended without stopping "
				"it, and the guard (pid %d) is giving its GPU back; try again in a few "
				"seconds", r->pl->p->name, (int)vi.pid, (int)vi.guard_pid);
		else
			log_err("VM '%s' is already running (lock held in %s)", r->pl->p->name,
				r->pl->runtime_dir);
		return EXIT_BUSY;
	}
	if (e < 0) {
		log_err("Cannot lock %s: %s", r->pl->runtime_dir, strerror(-e));
		return EXIT_ERROR;
	}
	/* Under the lock, whatever a crashed run left is stale: given back, then removed. */
	e = recover_stale(r);
	if (e)
		return e;
	return r->pl->p->firmware.type == VM_FW_UEFI || r->pl->p->tpm ?
		       open_dir(r->pl->state_dir, &r->state_fd) : 0;
}

static int prepare_nvram(struct run *r)
{
	_cleanup_free_ char *name = NULL;
	bool created = false;
	int e;

	if (r->pl->p->firmware.type != VM_FW_UEFI)
		return 0;
	e = fw_vars_ensure(r->state_fd, r->pl->s->root_fd, r->pl->p->name, &r->pl->fw, &name, &created);
	if (e < 0) {
		log_err("NVRAM %s: %s%s", r->pl->vars_path, strerror(-e),
			e == -EMEDIUMTYPE ? " (it does not match the firmware's flash size: move it "
					    "aside to start with fresh NVRAM)" : "");
		return EXIT_ERROR;
	}
	if (created)
		say(r, "nvram", "created the VM's NVRAM %s from %s", r->pl->vars_path,
		    r->pl->fw.vars_template);
	return 0;
}

static int start_tpm(struct run *r)
{
	char err[512];
	int e;

	if (!r->pl->p->tpm)
		return 0;
	e = swtpm_start(r->state_fd, r->pl->state_dir, r->run_fd, r->pl->runtime_dir, 10000, &r->tpm,
			err, sizeof(err));
	if (e < 0) {
		log_err("Cannot start the TPM: %s (log: %s/%s)", err, r->pl->runtime_dir, SWTPM_LOG);
		return e == -ENOENT ? EXIT_NOT_READY : EXIT_ERROR;
	}
	guard_watch(&r->guard, r->tpm.pidfd);
	say(r, "tpm", "TPM 2.0: swtpm started, pid %d (state %s %s/%s)", (int)r->tpm.pid,
	    r->tpm.state_created ? "created in" : "kept in", r->pl->state_dir, SWTPM_STATE_DIR);
	return 0;
}

/* The Looking Glass shared memory: the user's, 0660 (the client runs as them), the frame's size;
 * left by a crashed run of ours, it is used again. Removed on every ending. */
static int make_looking_glass(struct run *r)
{
	const struct plan *pl = r->pl;
	struct stat st;
	int fd;

	if (!pl->p->looking_glass.on || pl->lg_kvmfr)
		return 0;
	fd = open(pl->looking_glass, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0660);
	if (fd < 0)
		return log_err("Looking Glass: cannot create %s: %m", pl->looking_glass), EXIT_ERROR;
	/* A second link is someone else's file under our name (a hard link, where the kernel's
	 * protected_hardlinks is off): never ours to truncate and chmod. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1) {
		log_err("Looking Glass: %s exists and is not a file of yours: remove it",
			pl->looking_glass);
		safe_close(fd);
		return EXIT_NOT_READY;
	}
	r->lg_made = true;
	snprintf(r->vi.looking_glass, sizeof(r->vi.looking_glass), "%s", pl->looking_glass);
	r->vi.looking_glass_made = true;
	sync_info(r);
	if (fchmod(fd, 0660) < 0 || ftruncate(fd, (off_t)pl->p->looking_glass.size) < 0) {
		log_err("Looking Glass: %s: %m", pl->looking_glass);
		safe_close(fd);
		return EXIT_ERROR;
	}
	safe_close(fd);
	say(r, "looking-glass", "Looking Glass: %s, %llu MiB; its client: looking-glass-client -f %s",
	    pl->looking_glass, (unsigned long long)(pl->p->looking_glass.size >> 20),
	    pl->looking_glass);
	return 0;
}

static void remove_looking_glass(struct run *r)
{
	if (!r->lg_made)
		return;
	if (unlink(r->pl->looking_glass) < 0 && errno != ENOENT)
		log_warn("Looking Glass: cannot remove %s: %m", r->pl->looking_glass);
	else
		r->vi.looking_glass_made = false;
	r->lg_made = false;
	sync_info(r);
}

/* ---- cpu.isolate ---- */

static int isolate_host(struct run *r)
{
	char why[512];

	if (!r->pl->p->cpu.isolate)
		return 0;
	if (!r->pl->host_cpus[0])
		return log_err("cpu.isolate: no CPU would be left to the host"), EXIT_NOT_READY;
	r->vi.isolated = true; /* before: giving back what was never taken is harmless */
	sync_info(r);
	if (isolate_apply(r->pl->s, r->pl->host_cpus, why, sizeof(why)) < 0) {
		r->vi.isolated = isolate_pending(r->pl->s);
		sync_info(r);
		return log_err("cpu.isolate: %s", why), EXIT_ERROR;
	}
	r->isolated = true;
	say(r, "isolated", "cpu.isolate: the host's slices (system.slice, user.slice, init.scope) "
	    "kept to CPUs %s while the VM runs", r->pl->host_cpus);
	return 0;
}

static void unisolate_host(struct run *r)
{
	char why[512];

	if (!r->isolated)
		return;
	if (isolate_restore(r->pl->s, why, sizeof(why)) < 0) {
		log_warn("cpu.isolate: %s", why);
	} else {
		say(r, "isolated", "cpu.isolate: the host's slices have all their CPUs again");
		r->vi.isolated = false;
		sync_info(r);
	}
	r->isolated = false;
}

/* ---- hugepages: made before anything else changes, given back after ---- */

static int make_hugepages(struct run *r)
{
	const struct vm_profile *p = r->pl->p;
	struct priv_request rq = { .op = PRIV_HUGEPAGES, .bytes = vm_hugepage_bytes(p->hugepages) };
	struct priv_result res;

	if (!p->hugepages)
		return 0;
	rq.count = (unsigned long)(p->memory / rq.bytes);
	priv_call(&r->priv, &rq, &res);
	if (res.status) {
		log_err("hugepages: %s", res.why);
		return switch_status_exit(res.status);
	}
	r->huge_added = res.count;
	r->vi.huge_page = rq.bytes;
	r->vi.huge_added = res.count;
	sync_info(r);
	return 0;
}

static void free_hugepages(struct run *r)
{
	struct priv_request rq = { .op = PRIV_HUGEPAGES_FREE,
				   .bytes = vm_hugepage_bytes(r->pl->p->hugepages),
				   .count = r->huge_added };
	struct priv_result res;

	if (!r->huge_added)
		return;
	priv_call(&r->priv, &rq, &res);
	if (res.status) {
		log_warn("hugepages: %s (`vmrun restore %s` gives them back)", res.why, r->pl->p->name);
	} else {
		r->vi.huge_added = 0;
		sync_info(r);
	}
	r->huge_added = 0;
}

/* ---- input: the user's access to the event devices, and their unplugging and replugging ---- */

/* The device node a path leads to now: false when there is none. */
static bool input_identity(const char *path, dev_t *rdev, ino_t *ino)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode))
		return false;
	*rdev = st.st_rdev;
	*ino = st.st_ino;
	return true;
}

/* vm.json lists an input device from before its ACL is given until after it is taken back. */
static void note_input(struct run *r, const char *path, bool on)
{
	struct vm_info *vi = &r->vi;
	size_t i = 0;

	while (i < vi->n_inputs && !streq(vi->inputs[i], path))
		i++;
	if (on && i == vi->n_inputs && i < VM_MAX_INPUTS)
		snprintf(vi->inputs[vi->n_inputs++], sizeof(vi->inputs[0]), "%s", path);
	else if (!on && i < vi->n_inputs)
		memmove(vi->inputs[i], vi->inputs[i + 1], (--vi->n_inputs - i) * sizeof(vi->inputs[0]));
	else
		return;
	sync_info(r);
}

static bool input_access(struct run *r, struct input_dev *d, bool grant)
{
	struct priv_request rq = { .op = grant ? PRIV_INPUT : PRIV_INPUT_REVOKE };
	struct priv_result res;

	if (geteuid() == 0 || (!grant && !d->granted))
		return true;
	if (grant)
		note_input(r, d->path, true);
	snprintf(rq.path, sizeof(rq.path), "%s", d->path);
	priv_call(&r->priv, &rq, &res);
	if (res.status) {
		log_err("%s %s: %s", d->what, d->path, res.why);
		return false;
	}
	d->granted = grant;
	if (!grant)
		note_input(r, d->path, false);
	return true;
}

static int prepare_inputs(struct run *r)
{
	const struct vm_profile *p = r->pl->p;

	if (p->input.keyboard)
		r->inputs[r->n_inputs++] = (struct input_dev){ .path = p->input.keyboard, .id = "vmrun-kbd",
								 .what = "keyboard" };
	if (p->input.mouse)
		r->inputs[r->n_inputs++] = (struct input_dev){ .path = p->input.mouse, .id = "vmrun-mouse",
								 .what = "mouse" };
	for (size_t i = 0; i < r->n_inputs; i++) {
		struct input_dev *d = &r->inputs[i];
		char dir[PATH_MAX], *slash;

		d->present = input_identity(d->path, &d->rdev, &d->ino);
		if (!input_access(r, d, true))
			return EXIT_NOT_READY;
		if (r->inotify_fd < 0)
			r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		snprintf(dir, sizeof(dir), "%s", d->path);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		/* udev replaces the by-id link on a replug; the event node itself comes and goes,
		 * in its own directory: both are watched. */
		if (r->inotify_fd >= 0)
			(void)inotify_add_watch(r->inotify_fd, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO |
						IN_MOVED_FROM | IN_ATTRIB);
		if (r->inotify_fd >= 0 && realpath(d->path, dir) && (slash = strrchr(dir, '/'))) {
			*slash = '\0';
			(void)inotify_add_watch(r->inotify_fd, dir, IN_CREATE | IN_DELETE | IN_ATTRIB);
		}
	}
	return 0;
}

static void release_inputs(struct run *r)
{
	for (size_t i = 0; i < r->n_inputs; i++)
		(void)input_access(r, &r->inputs[i], false);
	r->inotify_fd = safe_close(r->inotify_fd);
}

static void input_add(struct run *r, struct input_dev *d)
{
	json_object *args = json_object_new_object();
	bool kbd = streq(d->id, "vmrun-kbd");
	char err[256];

	json_object_object_add(args, "qom-type", json_object_new_string("input-linux"));
	json_object_object_add(args, "id", json_object_new_string(d->id));
	json_object_object_add(args, "evdev", json_object_new_string(d->path));
	if (kbd) {
		json_object_object_add(args, "grab_all", json_object_new_boolean(true));
		json_object_object_add(args, "repeat", json_object_new_boolean(true));
		json_object_object_add(args, "grab-toggle", json_object_new_string(
			vm_toggle_name(r->pl->p->input.toggle)));
	}
	if (!input_access(r, d, true) || !r->q) {
		json_object_put(args);
		return;
	}
	if (qmp_execute(r->q, "object-add", args, 5000, NULL, err, sizeof(err)) == 0)
		say(r, "input", "%s %s is back: given to the guest again", d->what, d->path);
	else
		say(r, "input", "%s %s is back, but QEMU would not take it: %s", d->what, d->path, err);
}

static void input_del(struct run *r, struct input_dev *d)
{
	json_object *args = json_object_new_object();
	char err[256];

	json_object_object_add(args, "id", json_object_new_string(d->id));
	if (r->q && qmp_execute(r->q, "object-del", args, 5000, NULL, err, sizeof(err)) < 0)
		log_debug("object-del %s: %s", d->id, err);
	say(r, "input", "%s %s is gone (unplugged?): taken from the guest until it is back", d->what,
	    d->path);
}

/* Something changed in an input device's directory: each device gone, back, or replaced (gone
 * and back before we looked: the same path, another node). */
static void inputs_changed(struct run *r)
{
	char buf[4096];

	while (r->inotify_fd >= 0 && read(r->inotify_fd, buf, sizeof(buf)) > 0)
		;
	if (r->state != ST_RUNNING)
		return;
	for (size_t i = 0; i < r->n_inputs; i++) {
		struct input_dev *d = &r->inputs[i];
		dev_t rdev = 0;
		ino_t ino = 0;
		bool now = input_identity(d->path, &rdev, &ino);
		bool replaced = now && d->present && (rdev != d->rdev || ino != d->ino);

		if (now == d->present && !replaced)
			continue;
		if (d->present)
			input_del(r, d);
		d->present = now;
		d->rdev = rdev;
		d->ino = ino;
		if (now)
			input_add(r, d);
	}
}

/* ---- cpu.pin: QEMU started paused; each vCPU thread to its CPU, the rest to cpu.emulator ---- */

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

static int pin_cpus(struct run *r)
{
	const struct vm_cpu *cpu = &r->pl->p->cpu;
	pid_t tids[VM_CPU_LIST_MAX] = { 0 };
	unsigned others = 0;
	char err[256];
	int e;

	if (!cpu->n_pin)
		return 0;
	list_text(r->pin_text, sizeof(r->pin_text), cpu->pin, cpu->n_pin);
	list_text(r->emu_text, sizeof(r->emu_text), cpu->emulator, cpu->n_emulator);
	e = vcpu_threads(r, tids, cpu->n_pin);
	for (size_t i = 0; !e && i < cpu->n_pin; i++) {
		e = set_affinity(tids[i], &cpu->pin[i], 1);
		if (e < 0)
			log_err("cpu.pin: vCPU %zu (thread %d) to CPU %u: %s", i, (int)tids[i],
				cpu->pin[i], strerror(-e));
	}
	if (!e && cpu->n_emulator && (e = pin_emulator(r, tids, cpu->n_pin, &others)) < 0)
		log_err("cpu.emulator: %s", strerror(-e));
	if (e < 0)
		return EXIT_ERROR;
	say(r, "pinned", "pinned %zu vCPU threads to CPUs %s%s%s", cpu->n_pin, r->pin_text,
	    cpu->n_emulator ? "; QEMU's other threads to " : "", cpu->n_emulator ? r->emu_text : "");
	(void)others;
	if (qmp_execute(r->q, "cont", NULL, 10000, NULL, err, sizeof(err)) < 0)
		return log_err("cpu.pin: cont: %s", err), EXIT_ERROR;
	return 0;
}

/* ---- 3./4. the GPU and the locked-memory limit ---- */

static void attach_all(struct run *r, int *worst)
{
	bool whole = true;

	for (size_t i = r->vi.n_groups; i-- > 0;) {
		struct priv_request rq = { .op = PRIV_ATTACH, .addr = r->group_gpu[i] };
		struct priv_result res;

		priv_call(&r->priv, &rq, &res);
		if (res.status) {
			log_err("Giving IOMMU group %d back failed: %s; run `vmrun restore`",
				r->vi.groups[i], res.why);
			whole = false;
			if (worst)
				*worst = EXIT_RECOVER;
		} else {
			say(r, "gpu-restored", "IOMMU group %d is back on its host drivers", r->vi.groups[i]);
		}
	}
	/* What failed stays in vm.json, for `vmrun restore NAME`. */
	if (whole) {
		r->vi.n_groups = 0;
		r->vi.n_gpus = 0;
	} else {
		snprintf(r->vi.state, sizeof(r->vi.state), "needs-restore");
	}
	sync_info(r);
}

/* Every function QEMU is given must be on vfio-pci now: the switch re-read the group under
 * its lock, and a group that changed since the plan is not started on. */
static bool switched_as_planned(const struct plan *pl, const struct priv_result *res)
{
	for (size_t i = 0; i < pl->n_hostdevs; i++) {
		struct pci_function f;
		bool found = false;

		if (pci_function_read(pl->s, &pl->hostdevs[i].host, &f) < 0 || f.iommu_group != res->group)
			continue;
		for (size_t k = 0; k < res->n_vfio; k++)
			found |= pci_addr_eq(&res->vfio[k], &pl->hostdevs[i].host);
		if (!found)
			return false;
	}
	return true;
}

static int detach_group(struct run *r, const struct plan_group *g)
{
	struct priv_request rq = { .op = PRIV_DETACH, .addr = g->gpu, .opts.for_run = true,
				   .opts.keep = g->keep };
	struct priv_result res;
	char a[PCI_ADDR_STR_MAX];

	pci_addr_format(&g->gpu, a);
	priv_call(&r->priv, &rq, &res);
	if (res.status) {
		log_err("%s: %s", a, res.why);
		return switch_status_exit(res.status);
	}
	/* A kept group is used as it is and left on vfio-pci after: not this run's to give back. */
	if (res.kept) {
		if (!switched_as_planned(r->pl, &res)) {
			log_err("%s: IOMMU group %d is kept on vfio-pci, but not every function QEMU "
				"would get is on it", a, res.group);
			return EXIT_NOT_READY;
		}
		say(r, "gpu-kept", "IOMMU group %d stays on vfio-pci after the run: %s; `vmrun attach "
		    "%s` gives it back", res.group, g->keep_why ? g->keep_why : "it was kept", a);
		return 0;
	}
	/* A group someone else detached is theirs to give back, not this run's. */
	if (res.already) {
		log_err("%s: IOMMU group %d is already on vfio-pci (another VM, or `vmrun detach`); "
			"`vmrun attach %s` first", a, res.group, a);
		return EXIT_BUSY;
	}
	r->group_gpu[r->vi.n_groups] = g->gpu;
	r->vi.groups[r->vi.n_groups++] = res.group;
	if (!switched_as_planned(r->pl, &res)) {
		log_err("%s: IOMMU group %d changed since the plan: not every function QEMU would get "
			"is on vfio-pci", a, res.group);
		return EXIT_NOT_READY;
	}
	return 0;
}

static int detach_all(struct run *r)
{
	if (r->pl->n_groups > VM_MAX_GROUPS) {
		log_err("%s passes devices from %zu IOMMU groups; at most %d are supported",
			r->pl->p->name, r->pl->n_groups, VM_MAX_GROUPS);
		return EXIT_USAGE;
	}
	/* Recorded before the first is detached: a vmrun killed in the middle of a switch leaves
	 * the group to its guard. */
	for (size_t i = 0; i < r->pl->n_groups; i++)
		pci_addr_format(&r->pl->groups[i].gpu, r->vi.gpus[r->vi.n_gpus++]);
	sync_info(r);
	for (size_t i = 0; i < r->pl->n_groups; i++) {
		int code = detach_group(r, &r->pl->groups[i]);

		if (code) {
			attach_all(r, NULL); /* the groups detached so far go back */
			return code;
		}
	}
	return 0;
}

/* VFIO pins all guest RAM (+1 GiB for QEMU's own, as libvirt counts); QEMU inherits ours. */
static int raise_memlock(struct run *r)
{
	struct priv_request rq = { .op = PRIV_MEMLOCK, .bytes = r->pl->p->memory + (1ULL << 30) };
	struct priv_result res;

	if (!r->pl->n_groups)
		return 0;
	priv_call(&r->priv, &rq, &res);
	if (res.status) {
		log_err("Cannot raise the locked-memory limit for QEMU: %s", res.why);
		return switch_status_exit(res.status);
	}
	return 0;
}

/* ---- 5. QEMU ---- */

static bool qemu_reap(struct run *r, int flags)
{
	if (r->exited)
		return true;
	if (waitpid(r->qemu, &r->status, flags) == r->qemu)
		r->exited = true;
	return r->exited;
}

/* Signals go through the pidfd: a QEMU that is gone cannot be confused with a reused pid. */
static void qemu_signal(struct run *r, int sig)
{
	(void)syscall(SYS_pidfd_send_signal, r->pid_fd, sig, NULL, 0);
}

_Noreturn static void exec_qemu(struct run *r, int logfd, pid_t parent)
{
	sigset_t none;
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* Own process group: a Ctrl-C for vmrun must not reach QEMU before the graceful path
	 * runs; PDEATHSIG: QEMU must never outlive vmrun. */
	(void)setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(logfd, 1);
	dup2(logfd, 2);
	/* Whatever vmrun itself inherited stays out of QEMU. */
	(void)close_range(3, ~0U, 0);
	unsetenv("NOTIFY_SOCKET"); /* readiness is vmrun's to report, not QEMU's */
	if (geteuid() == 0) /* VFIO pins guest RAM; root may lift the limit for QEMU */
		(void)setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY });
	if (r->isolated) { /* QEMU in its own scope, outside the slices kept off its CPUs */
		const char *const *pre = isolate_scope_prefix(r->pl->p->name);
		size_t np = 0, na = 0;

		while (pre[np])
			np++;
		while (r->pl->argv[na])
			na++;
		char **v = calloc(np + na + 1, sizeof(*v));

		if (v) {
			memcpy(v, pre, np * sizeof(*v));
			memcpy(v + np, r->pl->argv, (na + 1) * sizeof(*v));
			execvp(v[0], v);
		}
	}
	execvp(r->pl->argv[0], r->pl->argv);
	fprintf(stderr, "vmrun: cannot execute %s: %s\n", r->pl->argv[0], strerror(errno));
	_exit(127);
}

static int spawn_qemu(struct run *r)
{
	pid_t parent = getpid();
	int logfd;

	logfd = openat(r->run_fd, "qemu.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (logfd < 0)
		return log_err("Cannot create %s/qemu.log: %m", r->pl->runtime_dir), EXIT_ERROR;
	r->qemu = fork();
	if (r->qemu < 0) {
		safe_close(logfd);
		return log_err("fork: %m"), EXIT_ERROR;
	}
	if (r->qemu == 0)
		exec_qemu(r, logfd, parent);
	safe_close(logfd);
	r->pid_fd = (int)syscall(SYS_pidfd_open, r->qemu, 0);
	if (r->pid_fd < 0) {
		/* Unsupervised it must not run: stop it now, so the GPU can go back. */
		log_err("pidfd_open: %m; stopping QEMU");
		(void)kill(r->qemu, SIGKILL);
		(void)qemu_reap(r, 0);
		return EXIT_ERROR;
	}
	guard_watch(&r->guard, r->pid_fd);
	r->state = ST_STARTING;
	r->vi.qemu_pid = r->qemu;
	(void)vm_info_write(r->run_fd, &r->vi);
	say(r, "qemu-started", "QEMU started, pid %d (log: %s/qemu.log)", (int)r->qemu,
	    r->pl->runtime_dir);
	return 0;
}

static void show_qemu_log(struct run *r)
{
	_cleanup_free_ char *text = NULL;
	const char *lines[8] = { 0 };
	size_t n = 0;
	char *save = NULL;

	if (read_file_at(r->run_fd, "qemu.log", 1 << 20, READ_TRUNCATE, &text, NULL, NULL) < 0)
		return;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		lines[n++ % 8] = l;
	for (size_t i = n > 8 ? n - 8 : 0; i < n; i++)
		fprintf(stderr, "  qemu: %s\n", lines[i % 8]);
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

/* ---- 6. the stop state machine ---- */

static bool qmp_do(struct run *r, const char *cmd)
{
	char err[256];

	return r->q && qmp_execute(r->q, cmd, NULL, 5000, NULL, err, sizeof(err)) == 0;
}

/* ---- an install run: the installer's display, and the key that boots from CD ---- */

static void show_installer(struct run *r)
{
	json_object *v = NULL, *port;
	char err[256];

	if (!r->pl->opts.install || !r->q)
		return;
	if (r->pl->install.display == VM_INSTALL_VNC) {
		if (qmp_execute(r->q, "query-vnc", NULL, 5000, &v, err, sizeof(err)) == 0 &&
		    json_object_object_get_ex(v, "service", &port))
			say(r, "installer", "installer display: VNC on 127.0.0.1:%s (vncviewer "
			    "127.0.0.1::%s)", json_object_get_string(port), json_object_get_string(port));
		json_object_put(v);
	} else if (r->pl->install.display == VM_INSTALL_SPICE) {
		say(r, "installer", "installer display: SPICE (remote-viewer spice+unix://%s/spice.sock)",
		    r->pl->runtime_dir);
	} else {
		say(r, "installer", "installer display: a GTK window");
	}
	if (!r->pl->p->install.boot_keys)
		return;
	/* Windows' CD boot loader waits a few seconds for a key, then falls back to the next
	 * boot entry (the empty disk, then the EFI shell). Space does nothing in the installer
	 * that follows. Under TCG the firmware takes far longer to get there. */
	r->keys_left = r->pl->p->accel == VM_ACCEL_TCG ? 90 : 12;
	r->next_key_ms = now_ms() + 1000;
	say(r, "boot-keys", "pressing Space once a second for %us, for the installer's \"Press any "
	    "key to boot from CD or DVD\"", r->keys_left);
}

static void press_key(struct run *r)
{
	json_object *args = json_object_new_object(), *keys = json_object_new_array(),
		    *k = json_object_new_object();
	char err[256];

	json_object_object_add(k, "type", json_object_new_string("qcode"));
	json_object_object_add(k, "data", json_object_new_string("spc"));
	json_object_array_add(keys, k);
	json_object_object_add(args, "keys", keys);
	/* qmp_execute takes args' reference, in every case. */
	if (r->q && qmp_execute(r->q, "send-key", args, 5000, NULL, err, sizeof(err)) == 0)
		r->keys_sent++;
	else if (!r->q)
		json_object_put(args);
	r->next_key_ms = now_ms() + 1000;
	if (--r->keys_left == 0)
		say(r, "boot-keys", "pressed Space %u times in the guest's first seconds", r->keys_sent);
}

static void enter(struct run *r, enum run_state st, unsigned deadline_s)
{
	r->state = st;
	r->deadline_ms = deadline_s ? now_ms() + deadline_s * 1000ULL : 0;
}

static void to_kill(struct run *r)
{
	enter(r, ST_KILL, 10);
	say(r, "sigkill", "sending SIGKILL to QEMU");
	qemu_signal(r, SIGKILL);
}

static void to_term(struct run *r)
{
	if (!r->forced[0])
		snprintf(r->forced, sizeof(r->forced), "QEMU did not quit");
	enter(r, ST_TERM, 10);
	say(r, "sigterm", "sending SIGTERM to QEMU");
	qemu_signal(r, SIGTERM);
}

/* Quit by force: the guest did not power off (in time, or at all). Without QMP, SIGTERM. */
static void to_quit(struct run *r, const char *why)
{
	enter(r, ST_QUIT, 10);
	snprintf(r->forced, sizeof(r->forced), "%s", why);
	if (qmp_do(r, "quit"))
		say(r, "quit", "%s: told QEMU to quit", why);
	else
		to_term(r);
}

/* The guest is off (-no-shutdown keeps QEMU): now QEMU may go. */
static void to_guest_off(struct run *r)
{
	enter(r, ST_GUEST_OFF, 10);
	if (qmp_do(r, "quit"))
		say(r, "quit", "guest is off: told QEMU to quit");
	else
		to_term(r);
}

static void to_powerdown(struct run *r)
{
	enter(r, ST_POWERDOWN, r->pl->p->shutdown_timeout);
	if (qmp_do(r, "system_powerdown"))
		say(r, "powerdown", "asked the guest to power down (ACPI); waiting up to %us",
		    r->pl->p->shutdown_timeout);
	else /* no QMP: there is no gentler way left */
		to_quit(r, "no QMP connection");
}

/* A stop request (signal): each one goes a step harder. */
static void escalate(struct run *r)
{
	switch (r->state) {
	case ST_STARTING:
		to_quit(r, "asked to stop while QEMU was starting");
		break;
	case ST_RUNNING:
		to_powerdown(r);
		break;
	case ST_POWERDOWN:
		to_quit(r, "asked again to stop before the guest powered down");
		break;
	case ST_GUEST_OFF:
	case ST_QUIT:
		to_term(r);
		break;
	case ST_TERM:
	case ST_KILL:
		to_kill(r);
		break;
	}
}

static void on_shutdown(struct run *r, json_object *data)
{
	json_object *v;
	bool guest = data && json_object_object_get_ex(data, "guest", &v) && json_object_get_boolean(v);
	const char *reason = data && json_object_object_get_ex(data, "reason", &v) ?
				     json_object_get_string(v) : "unknown";

	/* The first SHUTDOWN says how the VM ended; the one our `quit` causes does not. */
	if (!r->reason[0])
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
	say(r, "shutdown", "SHUTDOWN (%s, %s)", guest ? "guest" : "host", reason);
	if (r->state >= ST_GUEST_OFF)
		return; /* our own quit, or later */
	if (guest)
		to_guest_off(r);
	else { /* stopped from outside before we asked: `vmrun stop --force`, a signal to QEMU */
		enter(r, ST_QUIT, 10);
		snprintf(r->forced, sizeof(r->forced), "QEMU was told to quit from outside (%s)", reason);
	}
}

static void on_event(struct run *r, const struct qmp_event *ev)
{
	if (streq(ev->name, "SHUTDOWN")) {
		on_shutdown(r, ev->data);
	} else if (streq(ev->name, "POWERDOWN")) {
		if (r->state == ST_RUNNING) { /* asked through the control socket (`vmrun stop`) */
			enter(r, ST_POWERDOWN, r->pl->p->shutdown_timeout);
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
		/* After a quit the connection closing is QEMU going away as asked. */
		if (!qemu_reap(r, WNOHANG) && r->state < ST_GUEST_OFF) {
			say(r, "qmp-lost", "lost the QMP connection; stopping QEMU");
			to_term(r);
		}
	}
}

static void on_signal(struct run *r)
{
	struct signalfd_siginfo si;

	while (read(r->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		say(r, "signal", "%s received%s", strsignal((int)si.ssi_signo),
		    r->state == ST_RUNNING ? "" : ": stopping harder");
		escalate(r);
	}
}

static void supervise(struct run *r)
{
	while (!qemu_reap(r, WNOHANG)) {
		struct pollfd fds[4] = { { r->pid_fd, POLLIN, 0 }, { r->sig_fd, POLLIN, 0 },
					 { r->q ? qmp_fd(r->q) : -1, POLLIN, 0 },
					 { r->inotify_fd, POLLIN, 0 } };
		int timeout = -1;

		if (r->deadline_ms || r->keys_left) {
			uint64_t now = now_ms(), next = r->deadline_ms;

			if (r->keys_left && r->state == ST_RUNNING && (!next || r->next_key_ms < next))
				next = r->next_key_ms;
			timeout = next > now ? (int)(next - now) : 0;
		}
		/* Replugs are also polled every 2 s: inotify misses a directory made anew. */
		if (r->n_inputs && (timeout < 0 || timeout > 2000))
			timeout = 2000;
		if (poll(fds, 4, timeout) < 0 && errno != EINTR)
			break;
		if (r->n_inputs)
			inputs_changed(r);
		if (fds[1].revents)
			on_signal(r);
		if (r->q && fds[2].revents)
			drain_qmp(r);
		if (r->keys_left && r->state == ST_RUNNING && now_ms() >= r->next_key_ms)
			press_key(r);
		if (r->deadline_ms && now_ms() >= r->deadline_ms && !qemu_reap(r, WNOHANG)) {
			if (r->state == ST_POWERDOWN) {
				char why[96];

				snprintf(why, sizeof(why), "the guest did not power down within %us",
					 r->pl->p->shutdown_timeout);
				to_quit(r, why);
			}
			else
				escalate(r);
		}
	}
	(void)qemu_reap(r, 0);
}

/* ---- 7. the ending: the state QEMU exited in, and how ---- */

static int ending(struct run *r)
{
	int st = r->status;

	switch (r->state) {
	case ST_GUEST_OFF:
	case ST_POWERDOWN:
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			say(r, "stopped", "the guest shut down (%s)", r->reason[0] ? r->reason : "powered off");
			return EXIT_OK;
		}
		break;
	case ST_QUIT:
	case ST_TERM:
	case ST_KILL:
		say(r, "forced", "the VM was stopped by force: %s", r->forced);
		return EXIT_FORCED;
	case ST_STARTING:
	case ST_RUNNING:
		break;
	}
	if (WIFSIGNALED(st)) {
		say(r, "qemu-died", "QEMU was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
		return EXIT_VM_DIED;
	}
	say(r, "qemu-died", "QEMU ended unexpectedly (exit status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	show_qemu_log(r);
	return EXIT_VM_DIED;
}

static int setup_signals(struct run *r)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	r->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
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

static int start_and_supervise(struct run *r)
{
	int e, code = spawn_qemu(r);

	if (code)
		return code;
	e = connect_qmp(r);
	if (e == 0 && pin_cpus(r)) {
		to_quit(r, "cpu.pin could not be applied");
		r->setup_failed = true;
		e = 1;
	}
	if (e == 0) {
		r->state = ST_RUNNING;
		snprintf(r->vi.state, sizeof(r->vi.state), "running");
		sync_info(r);
		say(r, "running", "QMP connected; the guest is running");
		(void)sd_notify_ready("the guest is running");
		show_installer(r);
	} else if (e == -EINTR) {
		on_signal(r); /* a stop request: QEMU is told to quit */
	} else if (e < 0 && !r->exited) {
		say(r, "qmp-lost", "cannot connect to QMP (%s); stopping QEMU", strerror(-e));
		to_term(r);
	}
	supervise(r);
	code = ending(r);
	return r->setup_failed ? EXIT_ERROR : code;
}

static int run_vm(struct run *r)
{
	int code, back = 0;

	if (setup_signals(r) < 0)
		return log_err("signalfd: %m"), EXIT_ERROR;
	code = detach_all(r);
	if (code)
		return code;
	(void)vm_info_write(r->run_fd, &r->vi);
	code = raise_memlock(r);
	if (!code && interrupted(r))
		code = EXIT_ERROR;
	if (!code)
		code = start_and_supervise(r);
	swtpm_stop(&r->tpm); /* after QEMU, which is its only client */
	qmp_close(r->q);
	r->q = NULL;
	(void)sd_notify_stopping();
	attach_all(r, &back);
	return back ? back : code;
}

int vm_run(struct plan *pl, const struct run_ui *ui)
{
	struct run r = { .pl = pl, .ui = ui, .run_fd = -1, .state_fd = -1, .lock_fd = -1,
			 .sig_fd = -1, .pid_fd = -1, .tpm = { .pidfd = -1 }, .inotify_fd = -1,
			 .guard = { .sock = -1 } };
	int code;

	priv_init(&r.priv, pl->s, switch_progress, &r);
	code = prepare_dirs(&r);
	if (!code) {
		snprintf(r.vi.name, sizeof(r.vi.name), "%s", pl->p->name);
		snprintf(r.vi.profile, sizeof(r.vi.profile), "%s", pl->p->source);
		snprintf(r.vi.state, sizeof(r.vi.state), "starting");
		r.vi.pid = getpid();
		r.vi.started = (int64_t)time(NULL);
		start_guard(&r);
		(void)vm_info_write(r.run_fd, &r.vi);
		code = prepare_nvram(&r);
		if (!code)
			code = start_tpm(&r);
		if (!code)
			code = make_looking_glass(&r);
		if (!code)
			code = make_hugepages(&r);
		if (!code)
			code = prepare_inputs(&r);
		if (!code)
			code = isolate_host(&r);
		if (!code)
			code = run_vm(&r);
		unisolate_host(&r);
		swtpm_stop(&r.tpm);
		remove_looking_glass(&r);
		release_inputs(&r);
		free_hugepages(&r);
		/* Everything this run changed is back (or, with EXIT_RECOVER, in vm.json): the
		 * guard has nothing to do. */
		guard_release(&r.guard);
		say(&r, "exit", "vmrun exits with %d", code);
		/* vm.json is what tells a user's `vmrun status` that a restore is pending. */
		if (code != EXIT_RECOVER)
			vm_dir_remove_stale(r.run_fd);
	}
	safe_close(r.sig_fd);
	safe_close(r.pid_fd);
	safe_close(r.state_fd);
	safe_close(r.lock_fd);
	safe_close(r.run_fd);
	return code;
}
