/* SPDX-License-Identifier: MIT */
/*
 * The helper's boundary with its caller, tried the way an attacker would set it up: the fd it
 * reports on (read-only, O_PATH, a directory, another owner's file: never written, never
 * reopened), every parse error's report through such an fd, and the scheduling a caller can
 * hand over (SCHED_IDLE, one CPU, idle I/O, a huge timer slack, an OOM score), reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/ioprio.h>
#include <pty.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "helper.h"
#include "testskip.h"
#include "util.h"

static char helper_bin[PATH_MAX];

/* A caller as the helper sees one: uid, gid, one supplementary group. */
static struct caller caller_of(uid_t uid, gid_t gid, gid_t extra)
{
	static gid_t gids[2];

	gids[0] = extra;
	gids[1] = gid;
	return (struct caller){ .uid = uid, .gid = gid, .gids = gids, .n_gids = 2 };
}

static char *tmpfile_with(const char *content, mode_t mode)
{
	char *path = strdup("/tmp/vmrun-boundary-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, content, strlen(content)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* Which fds the report may go to, and which it must never touch. */
static void test_report_fd_rules(void **state)
{
	struct caller me = caller_of(geteuid(), getegid(), getegid());
	struct caller other = caller_of(4242, 4242, 4243);
	char *path = tmpfile_with("root's file\n", 0644);
	int p[2], sv[2], fd;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(report_check_fd(p[1], &me), 0);
	assert_int_equal(report_check_fd(p[0], &me), -EBADF); /* the read end */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(report_check_fd(sv[0], &me), 0);
	fd = open(path, O_PATH | O_CLOEXEC);
	assert_int_equal(report_check_fd(fd, &me), -EBADF);
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(report_check_fd(fd, &me), -EBADF);
	close(fd);
	fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(report_check_fd(fd, &me), -EBADF);
	close(fd);
	fd = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(report_check_fd(fd, &me), -EBADF);
	close(fd);
	/* Open for writing: the owner may be told there, another user (whose ids do not open
	 * the file) may not, even holding a write fd a root process leaked to them. */
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_int_equal(report_check_fd(fd, &me), 0);
	assert_int_equal(report_check_fd(fd, &other), -EACCES);
	/* Group-writable: a member of the group may, through a supplementary group too. */
	assert_int_equal(fchmod(fd, 0664), 0);
	if (fchown(fd, 0, 4243) == 0)
		assert_int_equal(report_check_fd(fd, &other), 0);
	close(fd);
	/* A character device that is not a terminal. */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_int_equal(report_check_fd(fd, &me), -ENOTTY);
	close(fd);
	/* A terminal. */
	{
		int master, slave;

		if (openpty(&master, &slave, NULL, NULL, NULL) == 0) {
			assert_int_equal(report_check_fd(slave, &me), 0);
			close(master);
			close(slave);
		}
	}
	assert_int_equal(report_check_fd(99, &me), -EBADF); /* closed */
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	unlink(path);
	free(path);
}

/* Run the helper with stdout on fd; its exit status. */
static int run_helper_on(int fd, const char *const *args)
{
	char *argv[8] = { (char *)"vmrun-helper" };
	int status;
	pid_t pid;

	for (size_t i = 0; args[i] && i < 6; i++)
		argv[i + 1] = (char *)args[i];
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (dup2(fd, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0)
			_exit(99);
		execv(helper_bin, argv);
		_exit(98);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 98);
	return WEXITSTATUS(status);
}

static const char *const hostile[][6] = {
	{ "detach", "$(sh /tmp/x)", NULL },
	{ "detach", NULL },
	{ "frobnicate", "0000:01:00.0", NULL },
	{ "detach", "0000:01:00.0", "extra", NULL },
	{ "memlock", "12abc", NULL },
	{ "hugepages", "2048:0", NULL },
	{ "input", "/etc/shadow", NULL },
	{ "attach", "0000:99:00.0", "--dry-run", NULL },
	{ "restore", "0000:99:00.0", "--holder=1", "--dry-run", NULL },
	{ "hugepages-free", "2048:1", "--dry-run", NULL },
	{ "input-revoke", "/dev/input/event999", "--dry-run", NULL },
};

/*
 * The hole this closes: stdout read-only or O_PATH on a file the caller may not write, which
 * the helper used to reopen through /proc/self/fd/1 for appending, as root. For every hostile
 * request and parse error, the file stays byte for byte what it was.
 */
static void test_report_never_reopens(void **state)
{
	const char *content = "# /etc/bash.bashrc stand-in\n";
	char *path = tmpfile_with(content, 0444);
	int modes[] = { O_RDONLY, O_PATH, O_RDONLY | O_DIRECTORY };

	(void)state;
	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
			int fd = open(modes[m] & O_DIRECTORY ? "/tmp" : path, modes[m] | O_CLOEXEC);
			_cleanup_free_ char *now = NULL;

			assert_true(fd >= 0);
			(void)run_helper_on(fd, hostile[i]);
			close(fd);
			assert_int_equal(read_file_at(AT_FDCWD, path, 4096, 0, &now, NULL, NULL), 0);
			if (strcmp(now, content) != 0)
				fail_msg("mode %zu, request %zu (%s): the file changed to '%s'", m, i,
					 hostile[i][0], now);
		}
	}
	unlink(path);
	free(path);
}

/* Through a pipe the report still arrives, whole, with the exit code its status's. */
static void test_report_through_pipe(void **state)
{
	char buf[4096] = "";
	int p[2], rc;
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(p), 0);
	rc = run_helper_on(p[1], (const char *const[]){ "detach", "$(sh /tmp/x)", NULL });
	close(p[1]);
	n = read_full(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(rc, 2);
	assert_non_null(strstr(buf, "{\"result\":{\"status\":\"bad-input\",\"exit\":2"));
	assert_non_null(strstr(buf, "is not a PCI address"));
}

/* The relay's ids, read from /proc in a process that plays the helper: 0 when they are the
 * caller's alone (uid, gid 4242, no supplementary groups). */
static int relay_child(void)
{
	static gid_t none[1] = { 4242 };
	struct caller c = { .uid = 4242, .gid = 4242, .gids = none, .n_gids = 1 };
	int p[2];

	if (pipe(p) < 0 || dup2(p[1], STDOUT_FILENO) < 0)
		return 90;
	report_init(&c);
	report_line("{\"progress\": \"x\"}");
	for (int tries = 0; tries < 200; tries++) {
		char path[64], status[4096] = "";
		DIR *d = opendir("/proc");
		struct dirent *de;
		int fd;

		while (d && (de = readdir(d))) {
			int pid = atoi(de->d_name), ppid = -1;
			char stat[512], *rp;
			ssize_t n;

			if (pid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/stat", pid);
			fd = open(path, O_RDONLY);
			n = fd >= 0 ? read(fd, stat, sizeof(stat) - 1) : -1;
			if (fd >= 0)
				close(fd);
			if (n <= 0)
				continue;
			stat[n] = '\0';
			rp = strrchr(stat, ')');
			if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1 || ppid != getpid())
				continue;
			snprintf(path, sizeof(path), "/proc/%d/status", pid);
			fd = open(path, O_RDONLY);
			n = fd >= 0 ? read(fd, status, sizeof(status) - 1) : -1;
			if (fd >= 0)
				close(fd);
			if (n > 0)
				status[n] = '\0';
			closedir(d);
			if (!strstr(status, "\nUid:\t4242\t4242\t4242\t4242"))
				return 1;
			if (!strstr(status, "\nGid:\t4242\t4242\t4242\t4242"))
				return 2;
			{
				const char *g = strstr(status, "\nGroups:");

				if (!g || strcspn(g + 8, "0123456789\n") != strcspn(g + 8, "\n"))
					return 3; /* a supplementary group */
			}
			return 0;
		}
		if (d)
			closedir(d);
		usleep(10000);
	}
	return 4; /* no relay found */
}

/* The report's relay writes with the caller's rights alone: their uid and gid, no groups. */
static void test_relay_is_the_caller(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		test_skip("as a user, the relay cannot take another uid");
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(relay_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status))
		fail_msg("the relay: check %d failed (1 uid, 2 gid, 3 groups, 4 none found)",
			 WEXITSTATUS(status));
}

/* ---- the scheduling a caller hands over ---- */

static int ioprio_now(void)
{
	return (int)syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
}

/* In a child: the worst a user may set, then helper_sanitize(), then each checked; the exit
 * code says which check failed. */
static int sched_child(const cpu_set_t *all)
{
	struct sched_param none = { 0 };
	cpu_set_t one, now;
	char buf[16] = "";
	int fd;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
	if (sched_setaffinity(0, sizeof(one), &one) < 0 || sched_setscheduler(0, SCHED_IDLE, &none) < 0)
		return 90;
	(void)setpriority(PRIO_PROCESS, 0, 19);
	(void)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0));
	(void)prctl(PR_SET_TIMERSLACK, 1000000000UL, 0, 0, 0);
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd >= 0) {
		(void)write_all(fd, "900\n", 4);
		close(fd);
	}
	helper_sanitize();
	if (sched_getscheduler(0) != SCHED_OTHER)
		return 1;
	if (geteuid() == 0 && getpriority(PRIO_PROCESS, 0) != 0)
		return 2;
	if (sched_getaffinity(0, sizeof(now), &now) < 0 || !CPU_EQUAL(&now, all))
		return 3;
	if (ioprio_now() != IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, IOPRIO_BE_NORM))
		return 4;
	if (prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) != 50000)
		return 5;
	fd = open("/proc/self/oom_score_adj", O_RDONLY);
	if (geteuid() == 0 && (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0 || atoi(buf) != 0))
		return 6;
	return 0;
}

static void test_sched_reset(void **state)
{
	cpu_set_t all;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	if (CPU_COUNT(&all) < 2)
		test_skip_not_on_ci("one CPU: a narrowed affinity cannot be told from a reset one");
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(sched_child(&all));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status))
		fail_msg("after helper_sanitize(), scheduling check %d failed", WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_fd_rules),
		cmocka_unit_test(test_report_never_reopens),
		cmocka_unit_test(test_report_through_pipe),
		cmocka_unit_test(test_relay_is_the_caller),
		cmocka_unit_test(test_sched_reset),
	};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)argc;
	(void)argv;
	if (n <= 0)
		return 1;
	self[n] = '\0';
	/* build/tests/test_boundary -> build/vmrun-helper: the helper of the same build. */
	snprintf(helper_bin, sizeof(helper_bin), "%s/../vmrun-helper", dirname(self));
	return cmocka_run_group_tests_name("boundary", tests, NULL, NULL);
}
