/* SPDX-License-Identifier: MIT */
#include "helper.h"

#include "devacl.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "devacl.h"
#include "exitcodes.h"
#include "fileio.h"
#include "iommu.h"
#include "pcidev.h"
#include "util.h"

/* ---- the clean state ---- */

static void sanitize_signals(void)
{
	sigset_t all;

	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL); /* SIGKILL/SIGSTOP and the libc-internal ones refuse: fine */
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
	(void)setpriority(PRIO_PROCESS, 0, 0);
}

static void sanitize_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0) {
			int n = open("/dev/null", O_RDWR);

			if (n >= 0 && n != fd) {
				(void)dup2(n, fd);
				(void)close(n);
			}
		}
	(void)close_range(3, ~0U, 0);
}

void helper_sanitize(void)
{
	sanitize_signals();
	sanitize_limits();
	sanitize_fds();
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

int helper_leave_cgroup(void)
{
	char pid[24];
	int fd = open("/sys/fs/cgroup/cgroup.procs", O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (write(fd, pid, strlen(pid)) < 0)
		r = -errno;
	safe_close(fd);
	return r;
}

/* ---- who calls ---- */

void caller_clear(struct caller *c)
{
	strv_free(c->groups);
	c->groups = NULL;
}

int helper_identify(struct caller *c)
{
	long max = sysconf(_SC_NGROUPS_MAX);
	_cleanup_free_ gid_t *gids = NULL;
	struct passwd *pw;
	size_t k = 0;
	int n;

	memset(c, 0, sizeof(*c));
	c->uid = getuid();
	c->gid = getgid();
	c->pid = getppid();
	pw = getpwuid(c->uid);
	if (!pw || !pw->pw_name || strlen(pw->pw_name) >= sizeof(c->user))
		return -ENOENT;
	snprintf(c->user, sizeof(c->user), "%s", pw->pw_name);
	if (max <= 0 || max > 65536)
		max = 65536;
	gids = calloc((size_t)max + 1, sizeof(*gids));
	c->groups = calloc((size_t)max + 2, sizeof(*c->groups));
	if (!gids || !c->groups)
		return -ENOMEM;
	n = getgroups((int)max, gids);
	if (n < 0)
		return -errno;
	gids[n++] = c->gid; /* the primary group counts too */
	for (int i = 0; i < n; i++) {
		struct group *gr = getgrgid(gids[i]);

		if (gr && gr->gr_name && !(c->groups[k] = strdup(gr->gr_name)))
			return -ENOMEM;
		k += gr && gr->gr_name;
	}
	return 0;
}

/* ---- the request ---- */

/* --dry-run (any operation), --run (detach: for a run), --keep (detach: kept on vfio-pci
 * between runs), --holder=PID (restore: only that
 * vmrun's journal), each at most once. */
static int parse_flag(const char *arg, struct priv_request *rq, char *why, size_t cap)
{
	unsigned long pid;
	char *end;

	if (strcmp(arg, "--dry-run") == 0 && !rq->opts.dry_run) {
		rq->opts.dry_run = true;
		return 0;
	}
	if (strcmp(arg, "--run") == 0 && rq->op == PRIV_DETACH && !rq->opts.for_run) {
		rq->opts.for_run = true;
		return 0;
	}
	if (strcmp(arg, "--keep") == 0 && rq->op == PRIV_DETACH && !rq->opts.keep) {
		rq->opts.keep = true;
		return 0;
	}
	if (strncmp(arg, "--holder=", 9) == 0 && rq->op == PRIV_RESTORE && !rq->opts.only_holder &&
	    arg[9] >= '1' && arg[9] <= '9') {
		errno = 0;
		pid = strtoul(arg + 9, &end, 10);
		if (!errno && !*end && pid <= 4194304) {
			rq->opts.only_holder = (pid_t)pid;
			return 0;
		}
	}
	snprintf(why, cap, "'%.32s' is not an option of %s", arg, priv_op_name(rq->op));
	return -EINVAL;
}

int helper_parse(int argc, char **argv, struct priv_request *rq, char *why, size_t cap)
{
	char *end;

	memset(rq, 0, sizeof(*rq));
	if (argc < 3 || argc > 6 || strlen(argv[1]) > 16 || strlen(argv[2]) > 255) {
		snprintf(why, cap, "usage: vmrun-helper detach ADDRESS [--run] [--keep] [--dry-run] | attach "
			 "ADDRESS [--dry-run] | restore ADDRESS [--holder=PID] [--dry-run] | memlock "
			 "BYTES | hugepages|hugepages-free KIB:COUNT | input|input-revoke PATH");
		return -EINVAL;
	}
	if (priv_op_parse(argv[1], &rq->op) < 0) {
		snprintf(why, cap, "unknown operation '%.16s'", argv[1]);
		return -EINVAL;
	}
	for (int i = 3; i < argc; i++)
		if (parse_flag(argv[i], rq, why, cap) < 0)
			return -EINVAL;
	if (rq->op == PRIV_INPUT || rq->op == PRIV_INPUT_REVOKE) {
		if (strncmp(argv[2], "/dev/input/", 11) != 0 || strstr(argv[2], "/..") ||
		    strspn(argv[2], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			   "/._:-+@") != strlen(argv[2])) {
			snprintf(why, cap, "'%.64s' is not an input device path (/dev/input/...)", argv[2]);
			return -EINVAL;
		}
		snprintf(rq->path, sizeof(rq->path), "%s", argv[2]);
		return 0;
	}
	if (rq->op == PRIV_HUGEPAGES || rq->op == PRIV_HUGEPAGES_FREE) {
		unsigned long long kib, count;
		int used = 0;

		if (sscanf(argv[2], "%llu:%llu%n", &kib, &count, &used) != 2 || argv[2][used] ||
		    argv[2][0] < '0' || argv[2][0] > '9' || strlen(argv[2]) > 32 || !count ||
		    count > (1ULL << 32)) {
			snprintf(why, cap, "'%.32s' is not KIB:COUNT (2048:512)", argv[2]);
			return -EINVAL;
		}
		rq->bytes = kib << 10;
		rq->count = (unsigned long)count;
		return 0;
	}
	if (strlen(argv[2]) > 32) {
		snprintf(why, cap, "usage: vmrun-helper detach|attach|restore ADDRESS [--dry-run] | "
			 "memlock BYTES");
		return -EINVAL;
	}
	if (rq->op == PRIV_MEMLOCK) {
		errno = 0;
		rq->bytes = strtoull(argv[2], &end, 10);
		if (errno || *end || argv[2][0] < '0' || argv[2][0] > '9' || strlen(argv[2]) > 20) {
			snprintf(why, cap, "'%.32s' is not a number of bytes", argv[2]);
			return -EINVAL;
		}
		return 0;
	}
	if (pci_addr_parse(argv[2], &rq->addr) < 0) {
		snprintf(why, cap, "'%.32s' is not a PCI address", argv[2]);
		return -EINVAL;
	}
	return 0;
}

/* An input device is allowed when an entry naming the same event device permits the caller. */
static int authorize_input(const struct sysroot *s, const struct caller *c,
			   const struct allow_list *l, const struct priv_request *rq, char *why,
			   size_t cap)
{
	const char *const *groups = (const char *const *)c->groups;
	char rel[128], lrel[128];
	dev_t want, listed;

	if (input_node(s, rq->path, rel, sizeof(rel), &want) < 0) {
		snprintf(why, cap, "%.200s is not an input event device on this host", rq->path);
		return -EPERM;
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].input && allow_entry_permits(&l->v[i], c->user, groups) &&
		    input_node(s, l->v[i].input, lrel, sizeof(lrel), &listed) == 0 && listed == want)
			return 0;
	snprintf(why, cap, "user %s may not use %.200s: /etc/vmrun/allow.yaml lists no such input "
		 "device for them (an administrator adds - {input: %.200s, users: [%s]})", c->user,
		 rq->path, rq->path, c->user);
	return -EPERM;
}

int helper_authorize(const struct sysroot *s, const struct caller *c, const struct allow_list *l,
		     const struct priv_request *rq, char *why, size_t cap)
{
	const char *const *groups = (const char *const *)c->groups;
	char name[PCI_ADDR_STR_MAX];
	struct pci_function f;

	if (c->uid == 0 || rq->op == PRIV_INPUT_REVOKE) /* taking back one's own entry is harmless */
		return 0;
	if (rq->op == PRIV_MEMLOCK || rq->op == PRIV_HUGEPAGES || rq->op == PRIV_HUGEPAGES_FREE) {
		for (size_t i = 0; i < l->n; i++)
			if (allow_entry_permits(&l->v[i], c->user, groups))
				return 0;
		snprintf(why, cap, "user %s is not in /etc/vmrun/allow.yaml", c->user);
		return -EPERM;
	}
	if (rq->op == PRIV_INPUT)
		return authorize_input(s, c, l, rq, why, cap);
	if (pci_function_read(s, &rq->addr, &f) < 0 || f.iommu_group < 0) {
		snprintf(why, cap, "no PCI device %s in an IOMMU group", pci_addr_format(&rq->addr, name));
		return -EPERM;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct pci_function listed;

		if (!allow_entry_permits(&l->v[i], c->user, groups))
			continue;
		if (l->v[i].has_device && pci_function_read(s, &l->v[i].device, &listed) == 0 &&
		    listed.iommu_group >= 0 &&
		    listed.iommu_group == f.iommu_group)
			return 0;
	}
	snprintf(why, cap, "user %s may not use %s: it is not in the IOMMU group of a device "
		 "/etc/vmrun/allow.yaml allows them", c->user, f.name);
	return -EPERM;
}

/* ---- the report ---- */

static int out_fd = -1;
static bool out_socket;

void report_init(void)
{
	struct stat st;
	int fd;

	if (fstat(STDOUT_FILENO, &st) < 0)
		return;
	if (S_ISSOCK(st.st_mode)) {
		out_fd = STDOUT_FILENO;
		out_socket = true;
		return;
	}
	/* A new open file description of the same pipe, terminal or file, non-blocking: the
	 * caller's own (shared) description keeps its flags. A pipe nobody reads opens ENXIO:
	 * then there is nobody to tell. */
	fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_APPEND | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0)
		out_fd = fd;
}

void report_line(const char *line)
{
	size_t len = strlen(line);
	char buf[4096];

	if (out_fd < 0 || len + 1 > sizeof(buf))
		return;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	/* One write: it lands whole or (a full pipe, ^S on a terminal) not at all. */
	if (out_socket)
		(void)send(out_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		(void)write(out_fd, buf, len);
}

void report_progress(void *data, const char *msg)
{
	_cleanup_free_ char *line = priv_report_progress(msg);

	(void)data;
	if (line)
		report_line(line);
}
