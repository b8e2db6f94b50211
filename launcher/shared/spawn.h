/* SPDX-License-Identifier: MIT */
/*
 * The one way vmrun starts a program: no shell; in the child every signal unblocked and at its
 * default (the caller may block some for a signalfd, or ignore SIGCHLD), stdin, stdout and
 * stderr where asked (/dev/null by default), every other fd closed (nothing vmrun holds leaks
 * into it: not a lock, not a journal, not a pidfd); optionally its own process group or
 * session, and killed when its parent dies. Waiting has a deadline.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define SPAWN_NULL (-1)    /* the stdio fd on /dev/null (the default) */
#define SPAWN_INHERIT (-2) /* the stdio fd as the caller has it */

struct spawn_opts {
	int in, out, err;       /* an fd to put there, SPAWN_NULL or SPAWN_INHERIT; all three 0
	                         * in a zeroed struct mean stdin, stdout, stderr inherited: use
	                         * spawn_opts_default() */
	bool new_pgroup;        /* its own process group: a terminal's Ctrl-C is not for it */
	bool new_session;       /* its own session (and no controlling terminal) */
	bool die_with_parent;   /* SIGKILL when the parent dies (and never runs if it already has) */
	bool search_path;       /* the program looked up in PATH (execvp) */
	const char *program;    /* what to execute, when it is not argv[0] */
	const char *unset_env;  /* one variable not passed on (NOTIFY_SOCKET), or NULL */
	/* Last in the child before exec, async-signal-safe only (the parent may have threads). */
	void (*child_setup)(void *data);
	void *data;
};

/* Everything on /dev/null, no group, no session, argv[0] looked up in PATH. */
struct spawn_opts spawn_opts_default(void);

/* Start argv[0]: 0 and *ret_pid, or -errno (fork failed). An exec that fails exits 127. */
int spawn_start(char *const argv[], const struct spawn_opts *o, pid_t *ret_pid);
/*
 * Wait for pid up to timeout_ms (0: no deadline): 0 and *ret_status (waitpid's), or
 * -ETIMEDOUT with pid still running (the caller decides: spawn_kill, or leave it).
 */
int spawn_wait(pid_t pid, unsigned timeout_ms, int *ret_status);
/* SIGKILL and reap. */
void spawn_kill(pid_t pid);
/*
 * Start, wait up to timeout_ms (killed after it), and say how it ended: its exit status
 * (0-255), 128+N for signal N, -ENOENT when it could not be executed (127), -ETIMEDOUT, or
 * -errno when it could not be started.
 */
int spawn_run(char *const argv[], const struct spawn_opts *o, unsigned timeout_ms);
/*
 * Every signal's disposition back to default, glibc's own (32, 33) too when they were
 * inherited as ignored: what a child gets before its exec, and the helper at its start.
 */
void signals_default_all(void);
