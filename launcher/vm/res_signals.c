/* SPDX-License-Identifier: MIT */
/*
 * Stop requests (SIGINT, SIGTERM, SIGHUP) as events on a signalfd from here on: one that comes
 * while the GPU is being prepared is held, and QEMU is then not started at all; once it runs,
 * each one stops it a step harder (supervise.h).
 */
#include "res.h"

#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"

int res_signals_take(struct run *r)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (r->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return log_err("signalfd: %m"), EXIT_ERROR;
	return 0;
}

void res_signals_give(struct run *r, int *code)
{
	(void)code;
	r->sig_fd = safe_close(r->sig_fd);
}

/* A SIGINT/SIGTERM that arrived while the GPU was being prepared: do not start QEMU at all. */
bool res_signals_pending(struct run *r)
{
	struct signalfd_siginfo si;

	if (read(r->sig_fd, &si, sizeof(si)) != sizeof(si))
		return false;
	run_say(r, "signal", "%s received before QEMU started: not starting it", strsignal((int)si.ssi_signo));
	return true;
}
