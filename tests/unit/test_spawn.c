/* SPDX-License-Identifier: MIT */
/*
 * The one way vmrun starts a program (spawn.h), checked from the child's side: what it gets on
 * 0, 1 and 2, that nothing else leaks into it, that it starts with no signal blocked or ignored
 * whatever the caller set, its process group or session, that it dies with its parent when
 * asked, that a deadline is kept, and how its ending is said.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileio.h"
#include "spawn.h"
#include "timeutil.h"
#include "util.h"

/* Run sh -c SCRIPT with o, its stdout (unless o says otherwise) into a buffer. */
static int argv_out(char *const argv[], struct spawn_opts o, char *buf, size_t cap)
{
	int p[2], status = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	if (o.out == SPAWN_NULL)
		o.out = p[1];
	assert_int_equal(spawn_start(argv, &o, &pid), 0);
	close(p[1]);
	n = read_full(p[0], buf, cap - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	assert_int_equal(spawn_wait(pid, 10000, &status), 0);
	return status;
}

static int sh_out(const char *script, struct spawn_opts o, char *buf, size_t cap)
{
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };

	return argv_out(argv, o, buf, cap);
}

/* Only 0, 1, 2 (and the listing's own fd), whatever the caller holds; 0 and 2 on /dev/null. */
static void test_fds(void **state)
{
	struct spawn_opts o = spawn_opts_default();
	char out[4096];
	int leak = open("/", O_RDONLY); /* not O_CLOEXEC: a careless fd of the caller's */

	(void)state;
	assert_true(leak > 2);
	/* ls lists its own fds: 0, 1, 2, and the directory it reads (the lowest free one, 3). */
	sh_out("exec ls /proc/self/fd", o, out, sizeof(out));
	if (!streq(out, "0\n1\n2\n3\n"))
		fail_msg("the child has fds besides 0, 1 and 2:\n%s", out);
	sh_out("readlink /proc/$$/fd/0 /proc/$$/fd/2", o, out, sizeof(out));
	if (!streq(out, "/dev/null\n/dev/null\n"))
		fail_msg("stdin and stderr are not /dev/null:\n%s", out);
	close(leak);
	/* SPAWN_INHERIT: stderr as the caller has it. */
	o.err = SPAWN_INHERIT;
	sh_out("readlink /proc/self/fd/2", o, out, sizeof(out));
	{
		char mine[256];
		ssize_t n = readlink("/proc/self/fd/2", mine, sizeof(mine) - 1);

		assert_true(n > 0);
		mine[n] = '\0';
		assert_non_null(strstr(out, mine));
	}
}

/* Signals: the caller blocks some (for a signalfd) and ignores others; the child has neither. */
static void raw_disposition(int sig, void (*handler)(int))
{
	struct { void (*handler)(int); unsigned long flags; void (*restorer)(void); unsigned long mask; }
		sa = { .handler = handler };

	assert_int_equal(syscall(SYS_rt_sigaction, sig, &sa, NULL, sizeof(sa.mask)), 0);
}

static void test_signals_reset(void **state)
{
	struct spawn_opts o = spawn_opts_default();
	sigset_t block, old;
	char out[1024];

	(void)state;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old), 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* glibc's own 32 and 33, ignored the only way they can be: through the kernel (as a
	 * parent that is not a glibc program may leave them). */
	raw_disposition(32, SIG_IGN);
	raw_disposition(33, SIG_IGN);
	/* grep itself, not through sh: dash unblocks every signal at start, and would hide a
	 * mask the child kept. */
	char *grep[] = { (char *)"grep", (char *)"-E", (char *)"^Sig(Blk|Ign):",
			 (char *)"/proc/self/status", NULL };

	argv_out(grep, o, out, sizeof(out));
	raw_disposition(32, SIG_DFL);
	raw_disposition(33, SIG_DFL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (!strstr(out, "SigBlk:\t0000000000000000") || !strstr(out, "SigIgn:\t0000000000000000"))
		fail_msg("the child inherited a blocked or ignored signal:\n%s", out);
}

static void test_group_session_env(void **state)
{
	struct spawn_opts o = spawn_opts_default();
	char out[256];
	int pid, pgid, sid;

	(void)state;
	o.new_pgroup = true;
	sh_out("echo $$ $(ps -o pgid= -p $$) $(ps -o sid= -p $$)", o, out, sizeof(out));
	assert_int_equal(sscanf(out, "%d %d %d", &pid, &pgid, &sid), 3);
	assert_int_equal(pgid, pid);
	assert_int_not_equal(sid, pid);
	o.new_pgroup = false;
	o.new_session = true;
	sh_out("echo $$ $(ps -o pgid= -p $$) $(ps -o sid= -p $$)", o, out, sizeof(out));
	assert_int_equal(sscanf(out, "%d %d %d", &pid, &pgid, &sid), 3);
	assert_int_equal(sid, pid);
	o.new_session = false;
	setenv("NOTIFY_SOCKET", "/run/x", 1);
	o.unset_env = "NOTIFY_SOCKET";
	sh_out("echo ${NOTIFY_SOCKET-unset}", o, out, sizeof(out));
	assert_string_equal(out, "unset\n");
	o.unset_env = NULL;
	sh_out("echo ${NOTIFY_SOCKET-unset}", o, out, sizeof(out));
	assert_string_equal(out, "/run/x\n");
	unsetenv("NOTIFY_SOCKET");
	/* The program, when it is not argv[0]. */
	o.program = "/bin/sh";
	o.search_path = false;
	{
		char *argv[] = { (char *)"not-a-program", (char *)"-c", (char *)"exit 7", NULL };

		assert_int_equal(spawn_run(argv, &o, 10000), 7);
	}
}

static void child_setup_marks(void *data)
{
	(void)data;
	(void)setenv("SPAWN_SETUP", "ran", 1);
}

/* How it ended: an exit status, 128+N for a signal, -ENOENT when it could not run, and a
 * deadline that kills and reaps it. */
static void test_endings(void **state)
{
	struct spawn_opts o = spawn_opts_default();
	uint64_t t0;
	char out[64];

	(void)state;
	assert_int_equal(spawn_run((char *const[]){ (char *)"sh", (char *)"-c", (char *)"exit 3", NULL },
				   &o, 10000), 3);
	assert_int_equal(spawn_run((char *const[]){ (char *)"sh", (char *)"-c", (char *)"kill -9 $$",
						    NULL }, &o, 10000), 128 + 9);
	assert_int_equal(spawn_run((char *const[]){ (char *)"/nonexistent/prog", NULL }, &o, 10000),
			 -ENOENT);
	t0 = now_ms();
	assert_int_equal(spawn_run((char *const[]){ (char *)"sleep", (char *)"30", NULL }, &o, 300),
			 -ETIMEDOUT);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* reaped: no child left */
	assert_int_equal(errno, ECHILD);
	o.child_setup = child_setup_marks;
	sh_out("echo ${SPAWN_SETUP-no}", o, out, sizeof(out));
	assert_string_equal(out, "ran\n");
}

/* die_with_parent: the parent killed, the child follows; without it, it does not. */
static void test_dies_with_parent(void **state)
{
	int p[2];

	(void)state;
	for (int with = 1; with >= 0; with--) {
		pid_t mid, child = 0;

		assert_int_equal(pipe(p), 0);
		mid = fork();
		assert_true(mid >= 0);
		if (mid == 0) {
			struct spawn_opts o = spawn_opts_default();
			pid_t c;

			o.die_with_parent = with;
			if (spawn_start((char *const[]){ (char *)"sleep", (char *)"30", NULL }, &o, &c) < 0)
				_exit(1);
			(void)!write(p[1], &c, sizeof(c));
			pause();
			_exit(0);
		}
		close(p[1]);
		assert_int_equal(read(p[0], &child, sizeof(child)), (ssize_t)sizeof(child));
		close(p[0]);
		kill(mid, SIGKILL);
		waitpid(mid, NULL, 0);
		for (int i = 0; i < 200 && kill(child, 0) == 0; i++)
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		if (with)
			assert_int_equal(kill(child, 0), -1);
		else {
			assert_int_equal(kill(child, 0), 0);
			kill(child, SIGKILL);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fds),
		cmocka_unit_test(test_signals_reset),
		cmocka_unit_test(test_group_session_env),
		cmocka_unit_test(test_endings),
		cmocka_unit_test(test_dies_with_parent),
	};

	return cmocka_run_group_tests_name("spawn", tests, NULL, NULL);
}
