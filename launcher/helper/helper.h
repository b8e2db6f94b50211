/* SPDX-License-Identifier: MIT */
/*
 * vmrun-helper's parts, each testable on its own: the clean state it puts itself in before
 * anything else (a setuid program inherits its caller's signals, timers, limits, fds, cwd,
 * terminal and cgroup), who the caller is, the strict request, the authorization against
 * /etc/vmrun/allow.yaml, and the report it sends back. main.c strings them together.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "allow.h"
#include "privop.h"
#include "sysroot.h"

struct caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;       /* the process that ran us: the vmrun the request is for */
	char user[64];
	gid_t *gids;     /* the primary and every supplementary group, */
	size_t n_gids;
	char **groups;   /* and their names, NULL-terminated */
};

/*
 * Everything the caller could have set that would disturb the switch, reset (sanitize.c).
 * Called first, before the caller's identity is read. In order:
 *   - every signal blocked for the whole run (Ctrl-C, Ctrl-\, Ctrl-Z from the terminal, and
 *     SIGPIPE/SIGXFSZ/SIGALRM/SIGCHLD raised by what the caller arranged), and every handler
 *     reset to default, so SIGCHLD is not "ignored" (which would break every wait);
 *   - the three interval timers cleared;
 *   - limits that could make a step fail midway set to sane values: FSIZE, CPU, DATA, AS,
 *     NPROC, RTTIME unlimited, NOFILE 4096, STACK 8 MiB, CORE 0;
 *   - fds 0-2 open (on /dev/null when closed, so nothing we open becomes "stdout"), every
 *     other fd closed; cwd "/"; umask 022; not dumpable (no core, no ptrace by the caller);
 *   - the scheduling, as helper_sanitize_sched().
 * The report's own channel, stdout, is never written by us: see report_init().
 */
void helper_sanitize(void);
/*
 * The scheduling a caller could have made slow: SCHED_OTHER at nice 0, no reset-on-fork, no
 * utilization clamp; every CPU (as `taskset` had not run); I/O priority best-effort 4; the
 * default timer slack; the default NUMA policy; an OOM score adjustment of 0. Again after
 * leaving the caller's cgroup, whose cpuset may have narrowed the CPUs.
 */
void helper_sanitize_sched(void);

/*
 * The caller from the kernel: real uid and gid, the supplementary groups, the parent pid.
 * Names from the passwd and group databases. -ENOENT when the uid has no passwd entry.
 */
int helper_identify(struct caller *c);
void caller_clear(struct caller *c);

/* Fully root: no supplementary groups, real = effective = saved = 0 for uid and gid. From here
 * the caller can no longer signal us at all (the kernel's kill() permission check). */
int helper_become_root(void);

/* Move this process into the root cgroup, out of the caller's (which a user may freeze, or a
 * logout may kill): the unified hierarchy's root, on a pure or a hybrid host. -EPERM when it
 * is still in a user's delegated cgroup after trying (the caller then gets a refusal). */
int helper_leave_cgroup(void);

/*
 * The request from argv, strictly: OP ARG [--dry-run], OP one of detach attach restore
 * memlock, ARG a PCI address or a decimal byte count; lengths capped. EXIT_USAGE-style
 * refusals say why in why[]. 0 or -EINVAL.
 */
int helper_parse(int argc, char **argv, struct priv_request *rq, char *why, size_t cap);

/*
 * May the caller do it? Root may. A switch: the device must be in the live IOMMU group of a
 * device the allow file lists for the caller (by user name, or a group they are in). Memlock
 * and hugepages: the caller must be listed for something; hugepages get the caller's quota.
 * Input: an entry must name the same event device for the caller; the device number it was
 * allowed as goes into rq. 0, or -EPERM with why.
 */
int helper_authorize(const struct sysroot *s, const struct caller *c, const struct allow_list *l,
		     struct priv_request *rq, char *why, size_t cap);

/*
 * The vmrun binary installed beside the helper (PREFIX/bin/vmrun for PREFIX/libexec/vmrun/,
 * or the same directory in a build tree), owned by root and writable by nobody else, into
 * rq->run_exe: input devices are given only to a process running it. -ENOENT when there is
 * none.
 */
int helper_find_vmrun(struct priv_request *rq);

/*
 * The report (report.c): one line per record (privop.h), to the caller's stdout only when it
 * is already open for writing and is a pipe, a socket, a terminal or a regular file the
 * caller may write (report_check_fd: 0, or -errno saying why not), and only through a relay
 * child that has dropped to the caller's ids. report_init() starts it, or not, and leaves the
 * helper /dev/null on 0, 1 and 2 either way; c is NULL when the caller is not known (no
 * report then). report_line() never blocks: a line that does not fit at once is dropped.
 */
int report_check_fd(int fd, const struct caller *c);
void report_init(const struct caller *c);
void report_line(const char *line);
void report_progress(void *data, const char *msg);
