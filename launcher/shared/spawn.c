/* SPDX-License-Identifier: MIT */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct spawn_opts spawn_opts_default(void)
{
	return (struct spawn_opts){ .in = SPAWN_NULL, .out = SPAWN_NULL, .err = SPAWN_NULL,
				    .search_path = true };
}

/* fd onto target (target itself when inherited); /dev/null for SPAWN_NULL. */
static int place(int fd, int target, int null)
{
	if (fd == SPAWN_INHERIT || fd == target)
		return fcntl(target, F_SETFD, 0) < 0 && errno != EBADF ? -1 : 0;
	return dup2(fd == SPAWN_NULL ? null : fd, target) < 0 ? -1 : 0;
}

/* "vmrun: cannot execute PROG" on the child's stderr (a log, or the terminal), with write()
 * alone: after fork, in a process that may have had threads. */
static void cannot_execute(const char *prog)
{
	static const char head[] = "vmrun: cannot execute ";
	size_t n = 0;

	while (prog[n])
		n++;
	(void)!write(STDERR_FILENO, head, sizeof(head) - 1);
	(void)!write(STDERR_FILENO, prog, n);
	(void)!write(STDERR_FILENO, "\n", 1);
}

/* The kernel's struct sigaction (x86-64 and the others with SA_RESTORER). */
struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

void signals_default_all(void)
{
	for (int sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	/*
	 * glibc keeps the signals between 31 and SIGRTMIN for itself (thread cancellation, setxid)
	 * and refuses them to sigaction; one inherited as ignored stays ignored across every exec.
	 * Set back to default when ignored, through the kernel: never over a handler glibc put.
	 */
	for (int sig = 32; sig < SIGRTMIN; sig++) {
		struct ksigaction old, dfl = { .handler = SIG_DFL };

		if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(old.mask)) == 0 &&
		    old.handler == SIG_IGN)
			(void)syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
	}
}

static _Noreturn void child(char *const argv[], const struct spawn_opts *o, pid_t parent)
{
	sigset_t none;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (o->die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
		_exit(127);
	if (o->new_session)
		(void)setsid();
	else if (o->new_pgroup)
		(void)setpgid(0, 0);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	signals_default_all();
	/* The stdio fds may be among each other's sources: each is duplicated from above 2 first. */
	int in = o->in >= 0 ? fcntl(o->in, F_DUPFD_CLOEXEC, 3) : o->in;
	int out = o->out >= 0 ? fcntl(o->out, F_DUPFD_CLOEXEC, 3) : o->out;
	int err = o->err >= 0 ? fcntl(o->err, F_DUPFD_CLOEXEC, 3) : o->err;

	if (null < 0 || place(in, 0, null) < 0 || place(out, 1, null) < 0 || place(err, 2, null) < 0)
		_exit(127);
	(void)close_range(3, ~0U, 0);
	if (o->unset_env)
		(void)unsetenv(o->unset_env);
	if (o->child_setup)
		o->child_setup(o->data);
	if (o->search_path)
		execvp(o->program ? o->program : argv[0], argv);
	else
		execv(o->program ? o->program : argv[0], argv);
	cannot_execute(o->program ? o->program : argv[0]);
	_exit(127);
}

int spawn_start(char *const argv[], const struct spawn_opts *o, pid_t *ret_pid)
{
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child(argv, o, parent);
	*ret_pid = pid;
	return 0;
}

int spawn_wait(pid_t pid, unsigned timeout_ms, int *ret_status)
{
	const struct timespec step = { 0, 10 * 1000 * 1000 };
	unsigned waited = 0;

	for (;;) {
		pid_t w = waitpid(pid, ret_status, timeout_ms ? WNOHANG : 0);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (w == 0) {
			if (waited >= timeout_ms)
				return -ETIMEDOUT;
			(void)nanosleep(&step, NULL);
			waited += 10;
		}
	}
}

void spawn_kill(pid_t pid)
{
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int spawn_run(char *const argv[], const struct spawn_opts *o, unsigned timeout_ms)
{
	int status = 0, r;
	pid_t pid = 0;

	r = spawn_start(argv, o, &pid);
	if (r < 0)
		return r;
	r = spawn_wait(pid, timeout_ms, &status);
	if (r == -ETIMEDOUT)
		spawn_kill(pid);
	if (r < 0)
		return r;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status) == 127 ? -ENOENT : WEXITSTATUS(status);
}
