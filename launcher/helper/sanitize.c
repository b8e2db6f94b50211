/* SPDX-License-Identifier: MIT */
/*
 * The clean state vmrun-helper puts itself in before it reads its request. A setuid program
 * keeps what its caller set up: signal mask and dispositions, interval timers, resource limits,
 * open fds, cwd, umask, and the scheduling it runs under (policy, nice, CPU affinity, I/O
 * priority, utilization clamps, timer slack, NUMA policy, OOM score). Each of them could make
 * a switch fail midway, or crawl while it holds a group's lock; each is reset here.
 */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/ioprio.h>
#include <linux/mempolicy.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "fileio.h"
#include "spawn.h"
#include "util.h"

/* The kernel's struct sched_attr, version 1 (with the utilization clamps): glibc 2.36 has no
 * wrapper for sched_setattr(). */
struct helper_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
};

#define HELPER_SCHED_UTIL_CLAMP 0x60 /* SCHED_FLAG_UTIL_CLAMP_MIN | _MAX */
#define HELPER_TIMER_SLACK_NS 50000  /* the kernel's default for a normal task */
#define HELPER_AFFINITY_BITS 8192    /* more than any kernel's NR_CPUS: all of them */

static void sanitize_signals(void)
{
	sigset_t all;

	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	signals_default_all(); /* SIGKILL and SIGSTOP refuse: fine */
}

static void sanitize_limits(void)
{
	static const struct { int res; rlim_t value; } limits[] = {
		{ RLIMIT_FSIZE, RLIM_INFINITY }, { RLIMIT_CPU, RLIM_INFINITY },
		{ RLIMIT_DATA, RLIM_INFINITY },  { RLIMIT_AS, RLIM_INFINITY },
		{ RLIMIT_NPROC, RLIM_INFINITY }, { RLIMIT_RTTIME, RLIM_INFINITY },
		{ RLIMIT_NOFILE, 4096 },         { RLIMIT_STACK, 8 << 20 },
		{ RLIMIT_CORE, 0 },
	};
	const struct itimerval off = { 0 };

	(void)setitimer(ITIMER_REAL, &off, NULL);
	(void)setitimer(ITIMER_VIRTUAL, &off, NULL);
	(void)setitimer(ITIMER_PROF, &off, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
		struct rlimit rl = { limits[i].value, limits[i].value }, cur;

		/* Without CAP_SYS_RESOURCE (a restricted container) a hard limit cannot be
		 * raised: then at least the soft one goes up to it. */
		if (setrlimit(limits[i].res, &rl) < 0 && getrlimit(limits[i].res, &cur) == 0) {
			rl.rlim_max = cur.rlim_max;
			rl.rlim_cur = limits[i].value < cur.rlim_max ? limits[i].value : cur.rlim_max;
			(void)setrlimit(limits[i].res, &rl);
		}
	}
}

static void sanitize_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0) {
			int n = open("/dev/null", O_RDWR | O_CLOEXEC);

			if (n >= 0 && n != fd) {
				(void)dup2(n, fd);
				(void)close(n);
			} else if (n == fd) {
				(void)fcntl(fd, F_SETFD, 0);
			}
		}
	(void)close_range(3, ~0U, 0);
}

/* Policy SCHED_OTHER at nice 0, no reset-on-fork, and no utilization clamp: the caller's
 * SCHED_IDLE (`chrt --idle 0`) or a uclamp_max of 0 would let any other load starve the
 * switch. Kernels without utilization clamping refuse the clamp flags: then without them. */
static void sanitize_policy(void)
{
	struct helper_sched_attr a = { .size = sizeof(a), .policy = SCHED_OTHER,
				       .flags = HELPER_SCHED_UTIL_CLAMP, .util_min = UINT32_MAX,
				       .util_max = UINT32_MAX };
	struct sched_param none = { 0 };

	if (syscall(SYS_sched_setattr, 0, &a, 0) == 0)
		return;
	a.flags = 0;
	if (syscall(SYS_sched_setattr, 0, &a, 0) == 0)
		return;
	(void)sched_setscheduler(0, SCHED_OTHER, &none);
	(void)setpriority(PRIO_PROCESS, 0, 0);
}

void helper_sanitize_sched(void)
{
	cpu_set_t *all = CPU_ALLOC(HELPER_AFFINITY_BITS);
	size_t size = CPU_ALLOC_SIZE(HELPER_AFFINITY_BITS);
	_cleanup_close_ int oom = -1;

	sanitize_policy();
	/* Every CPU the cgroup allows (the kernel intersects): not just the one `taskset` chose. */
	if (all) {
		memset(all, 0xff, size);
		(void)sched_setaffinity(0, size, all);
		CPU_FREE(all);
	}
	(void)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
		      IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, IOPRIO_BE_NORM));
	(void)prctl(PR_SET_TIMERSLACK, HELPER_TIMER_SLACK_NS, 0, 0, 0);
	(void)syscall(SYS_set_mempolicy, MPOL_DEFAULT, NULL, 0);
	/* Not the OOM killer's first choice because the caller asked to be: a kill midway is
	 * recoverable, but it is not ours to invite. Our own /proc entry, by our own pid. */
	oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (oom >= 0)
		(void)write_all(oom, "0\n", 2);
}

void helper_sanitize(void)
{
	sanitize_signals();
	sanitize_limits();
	sanitize_fds();
	helper_sanitize_sched();
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (chdir("/") < 0)
		_exit(EXIT_ERROR);
	umask(022);
}

int helper_become_root(void)
{
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -errno;
	return 0;
}

/* The cgroup v2 path /proc/self/cgroup gives ("0::PATH"), or "" when there is none. */
static void own_cgroup(char *buf, size_t cap)
{
	_cleanup_free_ char *text = NULL;
	const char *line;

	buf[0] = '\0';
	if (read_file_at(AT_FDCWD, "/proc/self/cgroup", 16384, READ_TRUNCATE, &text, NULL, NULL) < 0)
		return;
	for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(buf, cap, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
			return;
		}
}

int helper_leave_cgroup(void)
{
	/* The unified hierarchy: /sys/fs/cgroup itself, or beside the v1 ones on a hybrid host. */
	static const char *const procs[] = { "/sys/fs/cgroup/cgroup.procs",
					     "/sys/fs/cgroup/unified/cgroup.procs" };
	char pid[24], now[512];

	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	for (size_t i = 0; i < ARRAY_SIZE(procs); i++) {
		_cleanup_close_ int fd = open(procs[i], O_WRONLY | O_CLOEXEC);

		if (fd >= 0 && write(fd, pid, strlen(pid)) > 0)
			break;
	}
	/* Still in a cgroup the caller's manager delegated to them, they could freeze it (or a
	 * logout kill it) halfway through a switch: refused. No cgroup v2, no such control. */
	own_cgroup(now, sizeof(now));
	if (strncmp(now, "/user.slice/", 12) == 0 || strstr(now, "/user@"))
		return -EPERM;
	return 0;
}
