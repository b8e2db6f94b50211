/* SPDX-License-Identifier: MIT */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"
#include "util.h"

/* How long desktop_notify waits for notify-send, in 10 ms steps. */
#define NOTIFY_WAIT_STEPS 200

int sd_notify_send(const char *message)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	socklen_t len;
	size_t n;

	if (!e || !*e)
		return 0;
	n = strlen(e);
	if (e[0] != '/' && e[0] != '@')
		return -EAFNOSUPPORT; /* e.g. "vsock:CID:PORT", which vmrun has no use for */
	if (n > sizeof(sa.sun_path) - (e[0] == '/') || n < 2)
		return -EINVAL;
	memcpy(sa.sun_path, e, n);
	if (e[0] == '@') {
		sa.sun_path[0] = '\0'; /* abstract: the name is the bytes after the NUL, no terminator */
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = strlen(message);
	if (sendto(fd, message, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, len) != (ssize_t)n)
		return errno ? -errno : -EIO;
	return 1;
}

static int notify_with_status(const char *prefix, const char *status)
{
	_cleanup_free_ char *msg = NULL;

	if (asprintf(&msg, "%s%s%s", prefix, status ? "STATUS=" : "", status ? status : "") < 0)
		return -ENOMEM;
	for (char *p = msg + strlen(prefix); *p; p++)
		if (*p == '\n')
			*p = ' ';
	return sd_notify_send(msg);
}

int sd_notify_ready(const char *status)
{
	return notify_with_status(status ? "READY=1\n" : "READY=1", status);
}

int sd_notify_status(const char *status)
{
	return status ? notify_with_status("", status) : 0;
}

int sd_notify_stopping(void)
{
	return sd_notify_send("STOPPING=1");
}

static bool env_set(const char *var)
{
	const char *v = getenv(var);

	return v && *v;
}

static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	struct stat st;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path, *end; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (end == p || (size_t)(end - p) + strlen(prog) + 2 > sizeof(buf))
			continue;
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - p), p, prog);
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return true;
	}
	return false;
}

/* Exit codes of the middle process, which reports how notify-send did. */
enum { MID_OK, MID_FAILED, MID_LEFT_RUNNING, MID_NOT_RUN };

/*
 * Runs in the forked middle process (async-signal-safe calls only, the parent may have threads):
 * start notify-send, wait for it up to the limit, exit. A notify-send still running is then
 * inherited by init (or a subreaper), which reaps it; the caller only ever waits for us.
 */
static _Noreturn void notify_middle(char *const argv[])
{
	struct spawn_opts o = spawn_opts_default();
	int status, r;
	pid_t pid;

	/* The caller may ignore SIGCHLD: this wait must work. notify-send gets defaults (spawn),
	 * and its own session: a Ctrl-C in the caller's terminal is not for it. */
	(void)signal(SIGCHLD, SIG_DFL);
	o.new_session = true;
	if (spawn_start(argv, &o, &pid) < 0)
		_exit(MID_NOT_RUN);
	r = spawn_wait(pid, NOTIFY_WAIT_STEPS * 10, &status);
	if (r == -ETIMEDOUT)
		_exit(MID_LEFT_RUNNING);
	if (r < 0)
		_exit(MID_FAILED);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		_exit(MID_OK);
	_exit(WIFEXITED(status) && WEXITSTATUS(status) == 127 ? MID_NOT_RUN : MID_FAILED);
}

int desktop_notify(const char *summary, const char *body, bool critical)
{
	char *argv[] = { (char *)"notify-send",
			 (char *)"--app-name=vmrun",
			 (char *)"--icon=computer",
			 (char *)(critical ? "--urgency=critical" : "--urgency=normal"),
			 (char *)"--",
			 (char *)summary,
			 (char *)body,
			 NULL };
	int status;
	pid_t pid, w;

	if (!summary || !*summary)
		return -EINVAL;
	if (!env_set("DISPLAY") && !env_set("WAYLAND_DISPLAY"))
		return -ENOENT;
	if (!on_path("notify-send"))
		return -ENOENT;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		notify_middle(argv);
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return 0; /* a SIGCHLD handler of the caller reaped it first: the outcome is unknown */
	if (!WIFEXITED(status))
		return -EIO;
	switch (WEXITSTATUS(status)) {
	case MID_OK:
	case MID_LEFT_RUNNING:
		return 0;
	case MID_NOT_RUN:
		return -ENOENT;
	default:
		return -EIO;
	}
}
