/* SPDX-License-Identifier: MIT */
#include "guard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"
#include "notify.h"
#include "priv.h"
#include "timeutil.h"
#include "util.h"
#include "vmdir.h"

#define MAX_WATCHED 8
#define WAIT_MS 10000 /* for the watched processes to die with vmrun; then SIGKILL, as long again */

enum { MSG_WATCH = 'W', MSG_DONE = 'D' };

/* ---- the run's side ---- */

static int send_msg(int sock, char tag, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = &tag, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), &fd, sizeof(int));
	}
	while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

void guard_watch(struct guard *g, int pidfd)
{
	if (g->pid > 0 && pidfd >= 0 && send_msg(g->sock, MSG_WATCH, pidfd) < 0)
		log_debug("guard: cannot hand it pidfd %d: %m", pidfd);
}

void guard_release(struct guard *g)
{
	if (g->pid <= 0)
		return;
	(void)send_msg(g->sock, MSG_DONE, -1);
	g->sock = safe_close(g->sock);
	/* It exits at once; waited for, so that the VM's lock is free when vmrun returns. */
	while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
		;
	g->pid = 0;
}

/* ---- the guard ---- */

struct gd {
	const struct guard_cfg *cfg;
	int sock, log_fd;
	bool to_stderr;
	int watched[MAX_WATCHED];
	size_t n_watched;
	bool done;
	pid_t vmrun;
	struct timespec t0;
};

static struct gd *the_guard; /* for the log sink */

static void gd_write(struct gd *g, const char *line)
{
	char buf[1400];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	localtime_r(&now, &tm);
	n = snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d vmrun-guard[%d]: %s: %s\n",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (int)getpid(), g->cfg->name, line);
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (g->log_fd >= 0)
		(void)!write(g->log_fd, buf, (size_t)n);
	/* The terminal or the journal vmrun wrote to, without the date the journal adds. */
	if (g->to_stderr)
		(void)!write(STDERR_FILENO, buf + 20, (size_t)n - 20);
}

_printf_(2, 3) static void gsay(struct gd *g, const char *fmt, ...)
{
	char line[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	gd_write(g, line);
}

static void gd_log(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[1200];

	if (!the_guard || lvl == LOG_LVL_DEBUG)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	gd_write(the_guard, line);
}

static void gd_progress(void *data, const char *msg)
{
	gsay(data, "%s", msg);
}

/* Journald's stream, as systemd describes it to its services in JOURNAL_STREAM=DEV:INO. */
static bool is_journal(int fd)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(fd, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Every fd but these closed: a pipe vmrun's launcher reads must see its end when vmrun's does,
 * and nothing vmrun inherited stays open for as long as the guard lives. */
static void close_all_but(int *keep, size_t n)
{
	int from = 0;

	qsort(keep, n, sizeof(*keep), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < from)
			continue;
		if (keep[i] > from)
			(void)close_range((unsigned)from, (unsigned)keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	(void)close_range((unsigned)from, ~0U, 0);
}

static void detach_from_session(struct gd *g)
{
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU,
				       SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF,
				       SIGXFSZ, SIGXCPU };
	const struct sysroot *s = g->cfg->s;
	int devnull, keep[16];
	size_t n = 0;
	sigset_t none;

	(void)setsid();
	(void)prctl(PR_SET_NAME, "vmrun-guard");
	/* Root's guard is the last thing the OOM killer should pick: it frees the GPU. */
	if (geteuid() == 0) {
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			(void)!write(fd, "-1000", 5);
			safe_close(fd);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
		(void)signal(ignored[i], SIG_IGN);
	(void)signal(SIGCHLD, SIG_DFL); /* the helper is waited for */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (chdir("/") < 0)
		log_debug("guard: chdir /: %m");
	g->to_stderr = isatty(STDERR_FILENO) || is_journal(STDERR_FILENO);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		(void)dup2(devnull, STDIN_FILENO);
		(void)dup2(devnull, STDOUT_FILENO);
		if (!g->to_stderr)
			(void)dup2(devnull, STDERR_FILENO);
		safe_close(devnull);
	}
	g->log_fd = openat(g->cfg->run_fd, "guard.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
			   O_NOFOLLOW, 0600);
	keep[n++] = STDIN_FILENO;
	keep[n++] = STDOUT_FILENO;
	keep[n++] = STDERR_FILENO;
	keep[n++] = g->sock;
	keep[n++] = g->cfg->run_fd;
	keep[n++] = g->cfg->lock_fd;
	keep[n++] = g->log_fd;
	keep[n++] = s->root_fd;
	keep[n++] = s->sys_fd;
	keep[n++] = s->proc_fd;
	keep[n++] = s->dev_fd;
	keep[n++] = s->etc_fd;
	keep[n++] = s->usr_fd;
	keep[n++] = s->run_fd;
	close_all_but(keep, n);
}

static void add_watched(struct gd *g, struct msghdr *m)
{
	for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
		int fd;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS ||
		    h->cmsg_len != CMSG_LEN(sizeof(int)))
			continue;
		memcpy(&fd, CMSG_DATA(h), sizeof(int));
		if (g->n_watched < MAX_WATCHED)
			g->watched[g->n_watched++] = fd;
		else
			safe_close(fd);
	}
}

/* Until the run's end of the socket closes: the pidfds to wait for, and whether it was "done". */
static void listen_to_run(struct gd *g)
{
	for (;;) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} u;
		char tag;
		struct iovec iov = { .iov_base = &tag, .iov_len = 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				    .msg_controllen = sizeof(u.buf) };
		ssize_t n = recvmsg(g->sock, &m, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		add_watched(g, &m);
		if (tag == MSG_DONE)
			g->done = true;
	}
}

static bool all_gone(struct gd *g, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	for (size_t i = 0; i < g->n_watched; i++) {
		struct pollfd p = { .fd = g->watched[i], .events = POLLIN };
		uint64_t now = now_ms();
		int left = now < end ? (int)(end - now) : 0;

		while (poll(&p, 1, left) < 0 && errno == EINTR)
			;
		if (!(p.revents & POLLIN))
			return false;
	}
	return true;
}

/* QEMU and swtpm die with vmrun (PR_SET_PDEATHSIG); one that has not in time is killed. */
static void wait_watched(struct gd *g)
{
	if (all_gone(g, WAIT_MS))
		return;
	for (size_t i = 0; i < g->n_watched; i++) {
		struct pollfd p = { .fd = g->watched[i], .events = POLLIN };

		if (poll(&p, 1, 0) == 0) {
			gsay(g, "a process of the run is still alive after %d s: killing it", WAIT_MS / 1000);
			(void)syscall(SYS_pidfd_send_signal, g->watched[i], SIGKILL, NULL, 0);
		}
	}
	if (!all_gone(g, WAIT_MS))
		gsay(g, "a process of the run survived SIGKILL (stuck in the kernel?); giving back "
		     "what can be");
}

static void tell_desktop(struct gd *g, bool whole)
{
	char body[512];

	snprintf(body, sizeof(body), whole ? "vmrun ended without stopping the VM; its GPU is back "
		 "on the host." : "vmrun ended without stopping the VM, and its GPU could not be given "
		 "back: run `vmrun restore %s` (log: %s/guard.log).", g->cfg->name,
		 g->cfg->runtime_dir);
	(void)desktop_notify(whole ? "VM stopped unexpectedly" : "VM stopped: GPU not restored",
			     body, !whole);
}

static _Noreturn void guard_main(const struct guard_cfg *cfg, int sock)
{
	struct gd g = { .cfg = cfg, .sock = sock, .log_fd = -1, .vmrun = getppid() };
	struct vmdir_info vi;
	struct priv priv;
	int code;

	detach_from_session(&g);
	the_guard = &g;
	(void)log_set_fn(gd_log);
	listen_to_run(&g);
	if (g.done)
		_exit(EXIT_OK);
	clock_gettime(CLOCK_MONOTONIC, &g.t0);
	gsay(&g, "its vmrun (pid %d) ended without giving back what the run changed; the guard "
	     "(pid %d) does it", (int)g.vmrun, (int)getpid());
	wait_watched(&g);
	if (vmdir_info_read(cfg->run_fd, &vi) < 0) {
		gsay(&g, "no vm.json to act on: nothing was changed yet");
		_exit(EXIT_OK);
	}
	if (!vmdir_info_has_changes(&vi)) {
		vmdir_remove_stale(cfg->run_fd);
		gsay(&g, "nothing on the host was left changed");
		_exit(EXIT_OK);
	}
	vi.guard_pid = getpid();
	snprintf(vi.state, sizeof(vi.state), "recovering");
	(void)vmdir_info_write(cfg->run_fd, &vi);
	priv_init(&priv, cfg->s, gd_progress, &g);
	code = cfg->recover(&priv, cfg->run_fd, &vi, gd_progress, &g);
	if (code == EXIT_OK)
		gsay(&g, "everything is back on the host, %.2fs after vmrun ended", seconds_since(&g.t0));
	else
		gsay(&g, "not everything could be given back: run `vmrun restore %s`", cfg->name);
	tell_desktop(&g, code == EXIT_OK);
	_exit(code);
}

int guard_start(struct guard *g, const struct guard_cfg *cfg)
{
	int sv[2];
	pid_t pid;

	g->pid = 0;
	g->sock = -1;
	/* SEQPACKET: one message per send, each with its fd, and the end of the run's side seen
	 * as end-of-file. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		safe_close(sv[0]);
		safe_close(sv[1]);
		return r;
	}
	if (pid == 0) {
		safe_close(sv[0]);
		guard_main(cfg, sv[1]);
	}
	safe_close(sv[1]);
	g->pid = pid;
	g->sock = sv[0];
	return 0;
}
