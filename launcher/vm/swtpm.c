/* SPDX-License-Identifier: MIT */
#include "swtpm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "program.h"
#include "text.h"
#include "timeutil.h"
#include "spawn.h"
#include "util.h"

bool swtpm_available(void)
{
	return program_find("swtpm", NULL, 0);
}

/* tpm/ in the state directory: made once (0700); an existing one must be ours alone. */
static int state_dir_ensure(int state_fd, bool *created, char *err, size_t errlen)
{
	struct stat st;

	*created = false;
	if (mkdirat(state_fd, SWTPM_STATE_DIR, 0700) == 0)
		*created = true;
	else if (errno != EEXIST)
		return snprintf(err, errlen, "cannot create the TPM state directory: %m"), -errno;
	if (fstatat(state_fd, SWTPM_STATE_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return snprintf(err, errlen, "cannot stat the TPM state directory: %m"), -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, errlen, "the TPM state directory %s", !S_ISDIR(st.st_mode) ?
			 "is not a directory" : st.st_uid != geteuid() ? "belongs to another user" :
			 "is writable by others (chmod 700 it)");
		return -EPERM;
	}
	return 0;
}

/* swtpm in its own process group (a Ctrl-C is for vmrun, which stops QEMU first), never
 * outliving vmrun, its output in its log. */
static int exec_swtpm(int run_fd, const char *state_dir, const char *run_dir, pid_t *ret_pid)
{
	char state[PATH_MAX + 32], ctrl[PATH_MAX + 48], log[PATH_MAX + 48], pid[PATH_MAX + 32];
	struct spawn_opts o = spawn_opts_default();
	_cleanup_close_ int logfd = openat(run_fd, SWTPM_LOG, O_WRONLY | O_CREAT | O_APPEND |
					   O_CLOEXEC | O_NOFOLLOW, 0600);

	if (logfd < 0)
		return -errno;
	snprintf(state, sizeof(state), "dir=%s/%s,mode=0600", state_dir, SWTPM_STATE_DIR);
	snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s/%s,mode=0600", run_dir, SWTPM_SOCKET);
	snprintf(log, sizeof(log), "file=%s/%s,level=2", run_dir, SWTPM_LOG);
	snprintf(pid, sizeof(pid), "file=%s/swtpm.pid", run_dir);
	o.out = o.err = logfd;
	o.new_pgroup = true;
	o.die_with_parent = true;
	return spawn_start((char *const[]){ (char *)"swtpm", (char *)"socket", (char *)"--tpm2",
					    (char *)"--tpmstate", state, (char *)"--ctrl", ctrl,
					    (char *)"--log", log, (char *)"--pid", pid, NULL },
			   &o, ret_pid);
}

/* Does the control socket accept a connection yet? */
static bool accepts(const char *run_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	bool ok;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", run_dir, SWTPM_SOCKET) >=
	    sizeof(sa.sun_path))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* The last line swtpm wrote to its log, for the error message. */
static void log_tail(int run_fd, char *buf, size_t cap)
{
	_cleanup_free_ char *text = NULL;
	char *last = NULL, *save = NULL;

	buf[0] = '\0';
	if (read_file_at(run_fd, SWTPM_LOG, 1 << 20, READ_TRUNCATE, &text, NULL, NULL) < 0)
		return;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		last = l;
	if (last)
		text_escape(last, buf, cap);
}

static int wait_ready(struct swtpm *t, int run_fd, const char *run_dir, unsigned timeout_ms,
		      char *err, size_t errlen)
{
	uint64_t end = now_ms() + timeout_ms;
	char tail[256];
	int status;

	while (now_ms() < end) {
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = 0;
			log_tail(run_fd, tail, sizeof(tail));
			snprintf(err, errlen, "swtpm exited at once (status %d)%s%s",
				 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
				 tail[0] ? ": " : "", tail);
			return -ECHILD;
		}
		if (accepts(run_dir))
			return 0;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	snprintf(err, errlen, "swtpm's socket did not accept connections within %u ms", timeout_ms);
	return -ETIMEDOUT;
}

int swtpm_start(int state_fd, const char *state_dir, int run_fd, const char *run_dir,
		unsigned timeout_ms, struct swtpm *t, char *err, size_t errlen)
{
	int r;

	*t = (struct swtpm){ .pidfd = -1 };
	if (!swtpm_available())
		return snprintf(err, errlen, "swtpm is not installed (apt install swtpm)"), -ENOENT;
	r = state_dir_ensure(state_fd, &t->state_created, err, errlen);
	if (r < 0)
		return r;
	(void)unlinkat(run_fd, SWTPM_SOCKET, 0); /* a crashed run's, under the instance lock */
	r = exec_swtpm(run_fd, state_dir, run_dir, &t->pid);
	if (r < 0) {
		t->pid = 0;
		return snprintf(err, errlen, "cannot start swtpm: %s", strerror(-r)), r;
	}
	t->pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
	r = wait_ready(t, run_fd, run_dir, timeout_ms, err, errlen);
	if (r < 0)
		swtpm_stop(t);
	return r;
}

/* Through the pidfd, so a reused pid is never hit; our unreaped child's pid cannot be reused. */
static void signal_swtpm(const struct swtpm *t, int sig)
{
	if (t->pidfd < 0 || syscall(SYS_pidfd_send_signal, t->pidfd, sig, NULL, 0) < 0)
		(void)kill(t->pid, sig);
}

void swtpm_stop(struct swtpm *t)
{
	int status;

	if (t->pid > 0) {
		signal_swtpm(t, SIGTERM);
		for (int i = 0; i < 500; i++) {
			if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
				t->pid = 0;
				break;
			}
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
		}
		if (t->pid > 0) {
			signal_swtpm(t, SIGKILL);
			(void)waitpid(t->pid, &status, 0);
		}
	}
	t->pid = 0;
	t->pidfd = safe_close(t->pidfd);
}
