/* SPDX-License-Identifier: MIT */
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcodes.h"
#include "kernel.h"
#include "spawn.h"
#include "util.h"

#ifndef VMRUN_LIBEXECDIR
#define VMRUN_LIBEXECDIR "/usr/local/libexec/vmrun"
#endif

#define REPORT_MAX (64 * 1024)

void priv_init(struct priv *p, const struct sysroot *s, priv_progress_fn progress, void *data)
{
	*p = (struct priv){ .s = s, .helper = geteuid() != 0 && streq(s->path, "/"),
			    .progress = progress, .progress_data = data };
}

static bool regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int priv_helper_path(char *buf, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n;

	snprintf(buf, cap, "%s/vmrun-helper", VMRUN_LIBEXECDIR);
	if (regular(buf))
		return 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	dirname(self);
	if ((size_t)snprintf(buf, cap, "%.3900s/../libexec/vmrun/vmrun-helper", self) < cap && regular(buf))
		return 0;
	if ((size_t)snprintf(buf, cap, "%.3900s/vmrun-helper", self) < cap && regular(buf))
		return 0;
	return -ENOENT;
}

static void fail(struct priv_result *res, enum switch_status st, const char *why)
{
	res->status = st;
	snprintf(res->why, sizeof(res->why), "%s", why);
}

/* The helper's argv: OP ARG [--run] [--keep] | [--holder=PID] [--dry-run]; only what it parses
 * strictly, nothing else. */
static void helper_args(const struct priv_request *rq, char *arg, size_t cap, char *flag,
			size_t flag_cap, char *argv[8])
{
	size_t n = 3;

	if (rq->op == PRIV_MEMLOCK)
		snprintf(arg, cap, "%llu", (unsigned long long)rq->bytes);
	else if (rq->op == PRIV_HUGEPAGES || rq->op == PRIV_HUGEPAGES_FREE)
		snprintf(arg, cap, "%llu:%lu", (unsigned long long)(rq->bytes >> 10), rq->count);
	else if (rq->op == PRIV_INPUT || rq->op == PRIV_INPUT_REVOKE)
		snprintf(arg, cap, "%s", rq->path);
	else
		pci_addr_format(&rq->addr, arg);
	argv[0] = (char *)"vmrun-helper";
	argv[1] = (char *)priv_op_name(rq->op);
	argv[2] = arg;
	if (rq->op == PRIV_DETACH && rq->opts.for_run)
		argv[n++] = (char *)"--run";
	if (rq->op == PRIV_DETACH && rq->opts.keep)
		argv[n++] = (char *)"--keep";
	if (rq->op == PRIV_DETACH && rq->opts.release)
		argv[n++] = (char *)"--release";
	if (rq->op == PRIV_RESTORE && rq->opts.only_holder > 0) {
		snprintf(flag, flag_cap, "--holder=%d", (int)rq->opts.only_holder);
		argv[n++] = flag;
	}
	if (rq->opts.dry_run)
		argv[n++] = (char *)"--dry-run";
	argv[n] = NULL;
}

/* Each line the helper reports: progress to the callback, the result kept. */
static void read_report(struct priv *p, int fd, struct priv_result *res, bool *got)
{
	_cleanup_free_ char *buf = malloc(REPORT_MAX + 1);
	size_t len = 0;

	if (!buf)
		return;
	for (;;) {
		ssize_t n = read(fd, buf + len, REPORT_MAX - len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = memchr(buf, '\n', len))) {
			char msg[1024];

			*nl = '\0';
			switch (priv_report_parse(buf, msg, sizeof(msg), res)) {
			case 1:
				if (p->progress)
					p->progress(p->progress_data, msg);
				break;
			case 2:
				*got = true;
				break;
			default:
				break; /* not ours to print: the result decides */
			}
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		if (len == REPORT_MAX)
			len = 0; /* a line that long is not a report */
	}
}

static void via_helper(struct priv *p, const struct priv_request *rq, struct priv_result *res)
{
	char path[PATH_MAX], arg[272], flag[32], *argv[8];
	struct spawn_opts o = spawn_opts_default();
	bool got = false;
	int sv[2], status, r;
	pid_t pid;

	if (priv_helper_path(path, sizeof(path)) < 0)
		return fail(res, SW_REFUSED, "this needs root: run vmrun as root, or install "
			    "vmrun-helper (make install) and have the administrator list the device "
			    "in /etc/vmrun/allow.yaml");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail(res, SW_FAILED, "socketpair failed");
	helper_args(rq, arg, sizeof(arg), flag, sizeof(flag), argv);
	fflush(stdout);
	/* Its report on stdout; stdin and stderr are ours (it puts /dev/null there itself). */
	o.in = o.err = SPAWN_INHERIT;
	o.out = sv[1];
	o.search_path = false;
	o.program = path;
	r = spawn_start(argv, &o, &pid);
	safe_close(sv[1]);
	if (r < 0) {
		safe_close(sv[0]);
		return fail(res, SW_FAILED, "cannot start vmrun-helper");
	}
	read_report(p, sv[0], res, &got);
	safe_close(sv[0]);
	if (spawn_wait(pid, 0, &status) < 0)
		return fail(res, SW_FAILED, "waitpid for vmrun-helper failed");
	if (!got) {
		char why[160];

		snprintf(why, sizeof(why), "vmrun-helper (%.80s) ended without a result (%s %d)", path,
			 WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return fail(res, SW_FAILED, why);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != switch_status_exit(res->status))
		return fail(res, SW_FAILED, "vmrun-helper's exit code does not match its result");
}

/* SIG_IGN for sig unless it is blocked (a blocked one is the caller's to read later, and
 * ignoring it would discard it); true when it was set and must be put back. */
static bool ignore(int sig, struct sigaction *old)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigset_t cur;

	if (sigprocmask(SIG_BLOCK, NULL, &cur) < 0 || sigismember(&cur, sig))
		return false;
	sigemptyset(&ign.sa_mask);
	return sigaction(sig, &ign, old) == 0;
}

void priv_call(struct priv *p, struct priv_request *rq, struct priv_result *res)
{
	struct sigaction old_int, old_hup;
	bool i, h;

	memset(res, 0, sizeof(*res));
	res->group = -1;
	rq->caller = geteuid();
	rq->caller_gid = getegid();
	rq->caller_pid = getpid();
	i = ignore(SIGINT, &old_int);
	h = ignore(SIGHUP, &old_hup);
	if (p->helper && rq->all_groups)
		fail(res, SW_BAD_INPUT, "restore: as a user, name the GPU: vmrun restore ADDRESS");
	else if (p->helper)
		via_helper(p, rq, res);
	else
		privop_run(p->s, &kernel_real, rq, p->progress, p->progress_data, res);
	if (i)
		(void)sigaction(SIGINT, &old_int, NULL);
	if (h)
		(void)sigaction(SIGHUP, &old_hup, NULL);
}
