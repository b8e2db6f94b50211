/* SPDX-License-Identifier: MIT */
/*
 * vmrun-helper's report to its caller, and the rule that keeps it from being a root write.
 *
 * The caller chooses the helper's stdout, and a setuid program that opens, reopens or writes
 * "its stdout" as root writes wherever the caller points it: a read-only or O_PATH fd on
 * /etc/bash.bashrc reopened through /proc/self/fd/1 becomes a root append. So the helper never
 * opens anything for the report, and never writes to the caller's fd itself:
 *   - fd 1 is used only when it is already open for writing, and is a pipe, a socket, a
 *     terminal, or a regular file the caller's own ids may write;
 *   - it is handed to a relay: a child that drops to the caller's uid, gid and no groups before
 *     it writes a byte, and copies the report from a pipe of ours to fd 1. What it writes is
 *     written with the caller's rights, and however it blocks (a full pipe, ^S, a FUSE file
 *     that never answers) it blocks the relay, not the switch;
 *   - the helper itself then has /dev/null as stdin, stdout and stderr, so nothing else it runs
 *     (libkmod's log, libpci's errors, modprobe, systemctl) reaches the caller's fds as root.
 * Our end of the relay's pipe is non-blocking and every line fits in one atomic write: a line
 * that does not fit now is dropped (the exit code still carries the status).
 */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

static int out_fd = -1;

/* The permission bits that apply to the caller, the kernel's way: owner, else group, else
 * other. ACL entries are not read: a file only an ACL opens gets no report. */
static bool caller_may_write(const struct stat *st, const struct caller *c)
{
	if (st->st_uid == c->uid)
		return st->st_mode & S_IWUSR;
	if (st->st_gid == c->gid)
		return st->st_mode & S_IWGRP;
	for (size_t i = 0; i < c->n_gids; i++)
		if (st->st_gid == c->gids[i])
			return st->st_mode & S_IWGRP;
	return st->st_mode & S_IWOTH;
}

int report_check_fd(int fd, const struct caller *c)
{
	int fl = fcntl(fd, F_GETFL);
	struct stat st;

	if (fl < 0)
		return -EBADF;
	if ((fl & O_PATH) || ((fl & O_ACCMODE) != O_WRONLY && (fl & O_ACCMODE) != O_RDWR))
		return -EBADF; /* not open for writing: reopening it is exactly the hole */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		return 0;
	if (S_ISCHR(st.st_mode))
		return isatty(fd) ? 0 : -ENOTTY;
	if (S_ISREG(st.st_mode))
		return caller_may_write(&st, c) ? 0 : -EACCES;
	return -EINVAL; /* a directory, a block device, ... */
}

/* Nothing of the caller's stays on 0, 1 and 2. */
static void detach_stdio(void)
{
	int n = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (n < 0)
		return;
	for (int fd = 0; fd <= 2; fd++)
		(void)dup2(n, fd);
	if (n > 2)
		(void)close(n);
}

/* The relay: the caller's ids alone, then pipe -> fd 1 until the helper closes its end. */
_noreturn_ static void relay(int in, const struct caller *c)
{
	char buf[PIPE_BUF];
	ssize_t n;

	if ((geteuid() == 0 && setgroups(0, NULL) < 0) ||
	    setresgid(c->gid, c->gid, c->gid) < 0 || setresuid(c->uid, c->uid, c->uid) < 0 ||
	    getuid() != c->uid || geteuid() != c->uid)
		_exit(1);
	for (;;) {
		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
			_exit(0);
	}
}

void report_init(const struct caller *c)
{
	int p[2];
	pid_t pid;

	if (!c || report_check_fd(STDOUT_FILENO, c) < 0 || pipe2(p, O_CLOEXEC) < 0) {
		detach_stdio();
		return;
	}
	pid = fork();
	if (pid == 0) {
		(void)close(p[1]);
		relay(p[0], c);
	}
	(void)close(p[0]);
	if (pid < 0) {
		(void)close(p[1]);
	} else {
		(void)fcntl(p[1], F_SETFL, O_NONBLOCK);
		out_fd = p[1];
	}
	detach_stdio();
}

void report_line(const char *line)
{
	size_t len = strlen(line);
	char buf[PIPE_BUF];

	if (out_fd < 0 || len + 1 > sizeof(buf))
		return;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	/* One write of at most PIPE_BUF bytes: it lands whole or not at all. */
	(void)!write(out_fd, buf, len);
}

void report_progress(void *data, const char *msg)
{
	_cleanup_free_ char *line = priv_report_progress(msg);

	(void)data;
	if (line)
		report_line(line);
}
