/* SPDX-License-Identifier: MIT */
/*
 * The supervision of a started QEMU (runctx.h): QMP events and stop requests drive the stop
 * state machine, each state's deadline moves it to the next harder one, and QEMU's exit in a
 * state says how the VM ended. An install run also presses the key that boots from CD.
 */
#include "supervise.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcodes.h"
#include "fileio.h"
#include "log.h"
#include "notify.h"
#include "res_inputs.h"
#include "timeutil.h"

bool run_qemu_reap(struct run *r, int flags)
{
	if (r->exited)
		return true;
	if (waitpid(r->qemu, &r->status, flags) == r->qemu)
		r->exited = true;
	return r->exited;
}

/* Signals go through the pidfd: a QEMU that is gone cannot be confused with a reused pid. */
void run_qemu_signal(struct run *r, int sig)
{
	(void)syscall(SYS_pidfd_send_signal, r->pid_fd, sig, NULL, 0);
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

static bool qmp_do(struct run *r, const char *cmd)
{
	char err[256];

	return r->q && qmp_execute(r->q, cmd, NULL, 5000, NULL, err, sizeof(err)) == 0;
}

void run_show_installer(struct run *r)
{
	json_object *v = NULL, *port;
	char err[256];

	if (!r->pl->opts.install || !r->q)
		return;
	if (r->pl->install.display == VM_INSTALL_VNC) {
		if (qmp_execute(r->q, "query-vnc", NULL, 5000, &v, err, sizeof(err)) == 0 &&
		    json_object_object_get_ex(v, "service", &port))
			run_say(r, "installer", "installer display: VNC on 127.0.0.1:%s (vncviewer "
			    "127.0.0.1::%s)", json_object_get_string(port), json_object_get_string(port));
		json_object_put(v);
	} else if (r->pl->install.display == VM_INSTALL_SPICE) {
		run_say(r, "installer", "installer display: SPICE (remote-viewer spice+unix://%s/spice.sock)",
		    r->pl->runtime_dir);
	} else {
		run_say(r, "installer", "installer display: a GTK window");
	}
	if (!r->pl->p->install.boot_keys)
		return;
	/* Windows' CD boot loader waits a few seconds for a key, then falls back to the next
	 * boot entry (the empty disk, then the EFI shell). Space does nothing in the installer
	 * that follows. Under TCG the firmware takes far longer to get there. */
	r->keys_left = r->pl->p->accel == VM_ACCEL_TCG ? 90 : 12;
	r->next_key_ms = now_ms() + 1000;
	run_say(r, "boot-keys", "pressing Space once a second for %us, for the installer's \"Press any "
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
		run_say(r, "boot-keys", "pressed Space %u times in the guest's first seconds", r->keys_sent);
}

static void enter(struct run *r, enum run_state st, unsigned deadline_s)
{
	r->state = st;
	r->deadline_ms = deadline_s ? now_ms() + deadline_s * 1000ULL : 0;
}

static void to_kill(struct run *r)
{
	enter(r, ST_KILL, 10);
	run_say(r, "sigkill", "sending SIGKILL to QEMU");
	run_qemu_signal(r, SIGKILL);
}

void run_to_term(struct run *r)
{
	if (!r->forced[0])
		snprintf(r->forced, sizeof(r->forced), "QEMU did not quit");
	enter(r, ST_TERM, 10);
	run_say(r, "sigterm", "sending SIGTERM to QEMU");
	run_qemu_signal(r, SIGTERM);
}

/* Quit by force: the guest did not power off (in time, or at all). Without QMP, SIGTERM. */
void run_to_quit(struct run *r, const char *why)
{
	enter(r, ST_QUIT, 10);
	snprintf(r->forced, sizeof(r->forced), "%s", why);
	if (qmp_do(r, "quit"))
		run_say(r, "quit", "%s: told QEMU to quit", why);
	else
		run_to_term(r);
}

/* The guest is off (-no-shutdown keeps QEMU): now QEMU may go. */
static void to_guest_off(struct run *r)
{
	enter(r, ST_GUEST_OFF, 10);
	if (qmp_do(r, "quit"))
		run_say(r, "quit", "guest is off: told QEMU to quit");
	else
		run_to_term(r);
}

static void to_powerdown(struct run *r)
{
	enter(r, ST_POWERDOWN, r->pl->p->shutdown_timeout);
	if (qmp_do(r, "system_powerdown"))
		run_say(r, "powerdown", "asked the guest to power down (ACPI); waiting up to %us",
		    r->pl->p->shutdown_timeout);
	else /* no QMP: there is no gentler way left */
		run_to_quit(r, "no QMP connection");
}

/* A stop request (signal): each one goes a step harder. */
static void escalate(struct run *r)
{
	switch (r->state) {
	case ST_STARTING:
		run_to_quit(r, "asked to stop while QEMU was starting");
		break;
	case ST_RUNNING:
		to_powerdown(r);
		break;
	case ST_POWERDOWN:
		run_to_quit(r, "asked again to stop before the guest powered down");
		break;
	case ST_GUEST_OFF:
	case ST_QUIT:
		run_to_term(r);
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
	run_say(r, "shutdown", "SHUTDOWN (%s, %s)", guest ? "guest" : "host", reason);
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
			run_say(r, "powerdown", "power-down requested; waiting up to %us",
			    r->pl->p->shutdown_timeout);
		}
	} else if (streq(ev->name, "RESET") || streq(ev->name, "STOP") || streq(ev->name, "RESUME") ||
		   streq(ev->name, "GUEST_PANICKED") || strstr(ev->name, "ERROR")) {
		run_say(r, "qmp-event", "%s%s%s", ev->name, ev->data ? " " : "",
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
		if (!run_qemu_reap(r, WNOHANG) && r->state < ST_GUEST_OFF) {
			run_say(r, "qmp-lost", "lost the QMP connection; stopping QEMU");
			run_to_term(r);
		}
	}
}

void run_on_signal(struct run *r)
{
	struct signalfd_siginfo si;

	while (read(r->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		run_say(r, "signal", "%s received%s", strsignal((int)si.ssi_signo),
		    r->state == ST_RUNNING ? "" : ": stopping harder");
		escalate(r);
	}
}

void run_supervise(struct run *r)
{
	while (!run_qemu_reap(r, WNOHANG)) {
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
			run_inputs_changed(r);
		if (fds[1].revents)
			run_on_signal(r);
		if (r->q && fds[2].revents)
			drain_qmp(r);
		if (r->keys_left && r->state == ST_RUNNING && now_ms() >= r->next_key_ms)
			press_key(r);
		if (r->deadline_ms && now_ms() >= r->deadline_ms && !run_qemu_reap(r, WNOHANG)) {
			if (r->state == ST_POWERDOWN) {
				char why[96];

				snprintf(why, sizeof(why), "the guest did not power down within %us",
					 r->pl->p->shutdown_timeout);
				run_to_quit(r, why);
			}
			else
				escalate(r);
		}
	}
	(void)run_qemu_reap(r, 0);
}

int run_ending(struct run *r)
{
	int st = r->status;

	switch (r->state) {
	case ST_GUEST_OFF:
	case ST_POWERDOWN:
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			run_say(r, "stopped", "the guest shut down (%s)", r->reason[0] ? r->reason : "powered off");
			return EXIT_OK;
		}
		break;
	case ST_QUIT:
	case ST_TERM:
	case ST_KILL:
		run_say(r, "forced", "the VM was stopped by force: %s", r->forced);
		return EXIT_FORCED;
	case ST_STARTING:
	case ST_RUNNING:
		break;
	}
	if (WIFSIGNALED(st)) {
		run_say(r, "qemu-died", "QEMU was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
		return EXIT_VM_DIED;
	}
	run_say(r, "qemu-died", "QEMU ended unexpectedly (exit status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	show_qemu_log(r);
	return EXIT_VM_DIED;
}
