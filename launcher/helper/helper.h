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
	char **groups;   /* names of the primary and every supplementary group, NULL-terminated */
};

/*
 * Everything the caller could have set that would disturb the switch, reset. Called first,
 * before the caller's identity is read. In order:
 *   - every signal blocked for the whole run (Ctrl-C, Ctrl-\, Ctrl-Z from the terminal, and
 *     SIGPIPE/SIGXFSZ/SIGALRM/SIGCHLD raised by what the caller arranged), and every handler
 *     reset to default, so SIGCHLD is not "ignored" (which would break every wait);
 *   - the three interval timers cleared;
 *   - limits that could make a step fail midway set to sane values: FSIZE, CPU, DATA, AS,
 *     NPROC, RTTIME unlimited, NOFILE 4096, STACK 8 MiB, CORE 0; priority 0;
 *   - fds 0-2 open (on /dev/null when closed, so nothing we open becomes "stdout"), every
 *     other fd closed; cwd "/"; umask 022; not dumpable (no core, no ptrace by the caller).
 * The report's own channel, stdout, is made unable to block us or kill us: see report_init().
 */
void helper_sanitize(void);

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
 * logout may kill). Best effort: 0, or -errno when there is no cgroup2 hierarchy. */
int helper_leave_cgroup(void);

/*
 * The request from argv, strictly: OP ARG [--dry-run], OP one of detach attach restore
 * memlock, ARG a PCI address or a decimal byte count; lengths capped. EXIT_USAGE-style
 * refusals say why in why[]. 0 or -EINVAL.
 */
int helper_parse(int argc, char **argv, struct priv_request *rq, char *why, size_t cap);

/*
 * May the caller do it? Root may. A switch: the device must be in the live IOMMU group of a
 * device the allow file lists for the caller (by user name, or a group they are in). Memlock:
 * the caller must be listed for some device. 0, or -EPERM with why.
 */
int helper_authorize(const struct sysroot *s, const struct caller *c, const struct allow_list *l,
		     const struct priv_request *rq, char *why, size_t cap);

/*
 * The report on stdout: one line per record (privop.h). Never blocks and never raises
 * SIGPIPE: a socket is written with MSG_DONTWAIT|MSG_NOSIGNAL, anything else through a new
 * non-blocking open of the same file; a record that does not fit at once is dropped (the
 * exit code still carries the status).
 */
void report_init(void);
void report_line(const char *line);
void report_progress(void *data, const char *msg);
