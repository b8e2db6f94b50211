/* SPDX-License-Identifier: MIT */
/*
 * vmrun-helper's parts (helper.c) and the privileged operations' report (privop.c): the clean
 * state it puts itself in whatever the caller left it (checked in a child process set up the
 * way an attacker would), the strict request, the authorization against an allow list on a
 * fake host, the report's round trip, and memlock that never lowers a limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allow.h"
#include "fakesys.h"
#include "helper.h"
#include "privop.h"
#include "testskip.h"
#include "util.h"

static int parse(const char *const *args, struct priv_request *rq, char *why)
{
	int argc = 0;

	while (args[argc])
		argc++;
	return helper_parse(argc, (char **)args, rq, why, 256);
}

static void test_parse(void **state)
{
	static const struct { const char *args[9]; const char *why; } bad[] = {
		{ { "h", "detach", NULL }, "usage" },
		{ { "h", "detach", "0000:01:00.0", "extra", NULL }, "is not an option of detach" },
		{ { "h", "detach", "0000:01:00.0", "--dry-run", "x", NULL }, "is not an option" },
		{ { "h", "detach", "0000:01:00.0", "--dry-run", "--dry-run", NULL }, "is not an option" },
		{ { "h", "detach", "0000:01:00.0", "--run", "--dry-run", "x", NULL }, "is not an option" },
		{ { "h", "detach", "0000:01:00.0", "--run", "--keep", "--dry-run", "x", NULL },
		  "is not an option" },
		{ { "h", "detach", "0000:01:00.0", "--run", "--keep", "--release", "--dry-run", "x" },
		  "usage" },
		{ { "h", "detach", "0000:01:00.0", "--release", "--release", NULL }, "is not an option" },
		{ { "h", "attach", "0000:01:00.0", "--release", NULL }, "is not an option of attach" },
		{ { "h", "detach", "0000:01:00.0", "--keep", "--keep", NULL }, "is not an option" },
		{ { "h", "attach", "0000:01:00.0", "--keep", NULL }, "is not an option of attach" },
		{ { "h", "restore", "0000:01:00.0", "--keep", NULL }, "is not an option of restore" },
		{ { "h", "attach", "0000:01:00.0", "--run", NULL }, "is not an option of attach" },
		{ { "h", "detach", "0000:01:00.0", "--holder=5", NULL }, "is not an option" },
		{ { "h", "restore", "0000:01:00.0", "--holder=0", NULL }, "is not an option" },
		{ { "h", "restore", "0000:01:00.0", "--holder=05", NULL }, "is not an option" },
		{ { "h", "restore", "0000:01:00.0", "--holder=4194305", NULL }, "is not an option" },
		{ { "h", "restore", "0000:01:00.0", "--holder=12x", NULL }, "is not an option" },
		{ { "h", "memlock", "1024", "--run", NULL }, "is not an option of memlock" },
		{ { "h", "detach", "1:00.0", NULL }, "is not a PCI address" },
		{ { "h", "detach", "0000:01:00.0x", NULL }, "is not a PCI address" },
		{ { "h", "restore", "../../etc", NULL }, "is not a PCI address" },
		{ { "h", "frobnicate", "0000:01:00.0", NULL }, "unknown operation" },
		{ { "h", "", "", NULL }, "unknown operation" },
		{ { "h", "memlock", "-1", NULL }, "not a number of bytes" },
		{ { "h", "memlock", "12abc", NULL }, "not a number of bytes" },
		{ { "h", "memlock", "+5", NULL }, "not a number of bytes" },
		{ { "h", "memlock", "999999999999999999999", NULL }, "not a number of bytes" },
		{ { "h", "memlock", "123456789012345678901234567890123", NULL }, "usage" },
		{ { "h", "detachdetachdetach", "0000:01:00.0", NULL }, "usage" },
	};
	struct priv_request rq;
	char why[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why[0] = '\0';
		assert_int_equal(parse(bad[i].args, &rq, why), -EINVAL);
		if (!strstr(why, bad[i].why))
			fail_msg("case %zu: '%s' lacks '%s'", i, why, bad[i].why);
	}
	assert_int_equal(parse((const char *const[]){ "h", "detach", "01:00.0", NULL }, &rq, why), 0);
	assert_int_equal(rq.op, PRIV_DETACH);
	assert_int_equal(rq.addr.bus, 1);
	assert_false(rq.opts.dry_run);
	assert_int_equal(parse((const char *const[]){ "h", "restore", "0000:01:00.1", "--dry-run",
						NULL }, &rq, why), 0);
	assert_int_equal(rq.op, PRIV_RESTORE);
	assert_int_equal(rq.addr.fn, 1);
	assert_true(rq.opts.dry_run);
	assert_int_equal(parse((const char *const[]){ "h", "detach", "01:00.0", "--run", "--dry-run",
						NULL }, &rq, why), 0);
	assert_true(rq.opts.for_run);
	assert_true(rq.opts.dry_run);
	assert_false(rq.opts.keep);
	assert_int_equal(parse((const char *const[]){ "h", "detach", "01:00.0", "--run", "--keep",
						"--dry-run", NULL }, &rq, why), 0);
	assert_true(rq.opts.for_run);
	assert_true(rq.opts.keep);
	assert_false(rq.opts.release);
	assert_int_equal(parse((const char *const[]){ "h", "detach", "01:00.0", "--run", "--keep",
						"--release", "--dry-run", NULL }, &rq, why), 0);
	assert_true(rq.opts.release);
	assert_true(rq.opts.keep);
	assert_true(rq.opts.dry_run);
	assert_int_equal(parse((const char *const[]){ "h", "restore", "01:00.0", "--holder=4194304",
						NULL }, &rq, why), 0);
	assert_int_equal(rq.opts.only_holder, 4194304);
	assert_false(rq.opts.for_run);
	assert_int_equal(parse((const char *const[]){ "h", "memlock", "1073741824", NULL }, &rq, why), 0);
	assert_int_equal(rq.op, PRIV_MEMLOCK);
	assert_int_equal(rq.bytes, 1073741824ULL);
}

struct fx {
	char *root;
	struct sysroot *s;
	struct allow_list l;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	f->root = fake_root_new();
	fake_lab_host(f->root);
	assert_int_equal(sysroot_open(f->root, &f->s), 0);
	static const char text[] = "- {device: \"0000:01:00.0\", users: [alice]}\n"
				   "- {device: \"0000:00:03.0\", groups: [net]}\n";

	assert_int_equal(allow_parse(text, strlen(text), &f->l, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	allow_list_clear(&f->l);
	sysroot_free(f->s);
	fake_root_free(f->root);
	free(f);
	return 0;
}

static int authorize(struct fx *f, const char *user, const char *group, enum priv_op op,
		     const char *addr, char *why)
{
	char *groups[] = { (char *)group, NULL };
	struct caller c = { .uid = 1000, .gid = 1000, .groups = group ? groups : (char *[]){ NULL } };
	struct priv_request rq = { .op = op };

	snprintf(c.user, sizeof(c.user), "%s", user);
	if (addr)
		assert_int_equal(pci_addr_parse(addr, &rq.addr), 0);
	return helper_authorize(f->s, &c, &f->l, &rq, why, 256);
}

/* A listed device allows its whole live IOMMU group to the listed user, and nothing else. */
static void test_authorize(void **state)
{
	struct fx *f = *state;
	char why[256];

	assert_int_equal(authorize(f, "alice", NULL, PRIV_DETACH, "0000:01:00.0", why), 0);
	/* the audio function shares the GPU's group */
	assert_int_equal(authorize(f, "alice", NULL, PRIV_ATTACH, "0000:01:00.1", why), 0);
	/* the host GPU is in another group */
	assert_int_equal(authorize(f, "alice", NULL, PRIV_DETACH, "0000:00:02.0", why), -EPERM);
	assert_non_null(strstr(why, "user alice may not use 0000:00:02.0"));
	assert_int_equal(authorize(f, "bob", NULL, PRIV_DETACH, "0000:01:00.0", why), -EPERM);
	assert_non_null(strstr(why, "user bob may not use 0000:01:00.0"));
	/* by group: the NIC's entry is for group "net" */
	assert_int_equal(authorize(f, "carol", "net", PRIV_RESTORE, "0000:00:03.0", why), 0);
	assert_int_equal(authorize(f, "carol", "video", PRIV_RESTORE, "0000:00:03.0", why), -EPERM);
	/* a device that is not there */
	assert_int_equal(authorize(f, "alice", NULL, PRIV_DETACH, "0000:09:00.0", why), -EPERM);
	assert_non_null(strstr(why, "no PCI device 0000:09:00.0"));
	/* memlock: for anyone listed at all */
	assert_int_equal(authorize(f, "alice", NULL, PRIV_MEMLOCK, NULL, why), 0);
	assert_int_equal(authorize(f, "carol", "net", PRIV_MEMLOCK, NULL, why), 0);
	assert_int_equal(authorize(f, "bob", NULL, PRIV_MEMLOCK, NULL, why), -EPERM);
	assert_non_null(strstr(why, "user bob is not in /etc/vmrun/allow.yaml"));
}

/* In a child: the state an attacker would hand over, then helper_sanitize(), then each reset
 * checked; the exit code says which check failed (0: all held). */
static int sanitized_child(void)
{
	struct itimerval it = { .it_value = { 100, 0 } }, got;
	struct rlimit rl = { 4096, 4096 };
	struct sigaction sa;
	sigset_t mask;
	char cwd[64];

	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	setitimer(ITIMER_REAL, &it, NULL);
	setitimer(ITIMER_PROF, &it, NULL);
	setrlimit(RLIMIT_FSIZE, &rl);
	rl = (struct rlimit){ 5, 5 };
	setrlimit(RLIMIT_CORE, &rl);
	(void)nice(5);
	(void)dup2(1, 37);
	(void)dup2(1, 100);
	(void)close(0);
	if (chdir("/tmp") < 0)
		return 99;
	helper_sanitize();
	if (sigprocmask(SIG_BLOCK, NULL, &mask) < 0 || !sigismember(&mask, SIGINT) ||
	    !sigismember(&mask, SIGTSTP) || !sigismember(&mask, SIGPIPE) || !sigismember(&mask, SIGXFSZ) ||
	    !sigismember(&mask, SIGALRM) || !sigismember(&mask, SIGQUIT) || !sigismember(&mask, SIGHUP))
		return 1;
	if (sigaction(SIGCHLD, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
		return 2;
	if (sigaction(SIGPIPE, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
		return 3;
	if (getitimer(ITIMER_REAL, &got) < 0 || got.it_value.tv_sec || got.it_value.tv_usec)
		return 4;
	if (getitimer(ITIMER_PROF, &got) < 0 || got.it_value.tv_sec || got.it_value.tv_usec)
		return 5;
	/* Raising a hard limit needs CAP_SYS_RESOURCE (a setuid helper has it); without it the
	 * soft limit must at least be up to the hard one. */
	if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 6;
	if (rl.rlim_cur != RLIM_INFINITY) {
		struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };

		if (setrlimit(RLIMIT_FSIZE, &inf) == 0 || rl.rlim_cur != rl.rlim_max)
			return 6;
	}
	if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0)
		return 7;
	if (fcntl(37, F_GETFD) >= 0 || fcntl(100, F_GETFD) >= 0)
		return 8;
	if (fcntl(0, F_GETFD) < 0) /* a closed stdin is reopened (on /dev/null) */
		return 9;
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/") != 0)
		return 10;
	if (prctl(PR_GET_DUMPABLE) != 0)
		return 11;
	if (geteuid() == 0 && getpriority(PRIO_PROCESS, 0) != 0)
		return 12;
	return 0;
}

static void test_sanitize(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(sanitized_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status))
		fail_msg("after helper_sanitize(), check %d failed", WEXITSTATUS(status));
}

/* The report: what the helper sends is what the caller reads; anything else is refused. */
static void test_report_round_trip(void **state)
{
	struct priv_result res = { .status = SW_HELD, .already = true, .kept = true, .group = 7,
				   .n_vfio = 2 }, got;
	char msg[64], *line;

	(void)state;
	snprintf(res.why, sizeof(res.why), "pid 812 Xorg (user root) holds /dev/dri/card1");
	assert_int_equal(pci_addr_parse("0000:01:00.0", &res.vfio[0]), 0);
	assert_int_equal(pci_addr_parse("0000:01:00.1", &res.vfio[1]), 0);
	line = priv_report_result(&res);
	assert_non_null(line);
	assert_null(strchr(line, '\n'));
	assert_int_equal(priv_report_parse(line, msg, sizeof(msg), &got), 2);
	assert_int_equal(got.status, SW_HELD);
	assert_true(got.already);
	assert_true(got.kept);
	assert_int_equal(got.group, 7);
	assert_string_equal(got.why, res.why);
	assert_int_equal(got.n_vfio, 2);
	assert_int_equal(got.vfio[1].fn, 1);
	free(line);
	line = priv_report_progress("0000:01:00.0: bochs-drm -> vfio-pci");
	assert_int_equal(priv_report_parse(line, msg, sizeof(msg), &got), 1);
	assert_string_equal(msg, "0000:01:00.0: bochs-drm -> vfio-pci");
	free(line);
	/* A result whose exit code is not its status's, and other shapes, are not reports. */
	static const char *const bad[] = {
		"{\"result\": {\"status\": \"held\", \"exit\": 0, \"message\": \"\", \"already\": false, "
		"\"group\": 1, \"vfio\": []}}",
		"{\"result\": {\"status\": \"fine\", \"exit\": 0, \"message\": \"\", \"already\": false, "
		"\"group\": 1, \"vfio\": []}}",
		"{\"result\": {\"status\": \"ok\", \"exit\": 0}}",
		"{\"progress\": 5}",
		"{\"progress\": \"a\", \"result\": {}}",
		"[]",
		"not json",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (priv_report_parse(bad[i], msg, sizeof(msg), &got) != -EBADMSG)
			fail_msg("case %zu was taken for a report", i);
}

/* memlock only ever raises: asked for less than the limit, the limit stays. */
static void test_memlock_never_lowers(void **state)
{
	struct sysroot *s;
	struct rlimit before, after;
	struct priv_request rq = { .op = PRIV_MEMLOCK, .bytes = 0, .caller = geteuid(),
				   .caller_gid = getegid(), .caller_pid = getpid() };
	struct priv_result res;

	(void)state;
	assert_int_equal(sysroot_open("/", &s), 0);
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &before), 0);
	privop_run(s, NULL, &rq, NULL, NULL, &res);
	if (res.status)
		fail_msg("memlock 0: %s", res.why);
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &after), 0);
	assert_true(after.rlim_cur == before.rlim_cur);
	assert_true(after.rlim_max == before.rlim_max);
	/* Up to the hard limit a user may raise even without the helper. */
	if (before.rlim_cur != RLIM_INFINITY && before.rlim_cur >= 4096) {
		rq.bytes = before.rlim_cur - 4096;
		privop_run(s, NULL, &rq, NULL, NULL, &res);
		assert_int_equal(res.status, SW_OK);
		assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &after), 0);
		assert_true(after.rlim_cur == before.rlim_cur);
	}
	sysroot_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_authorize, setup, teardown),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_report_round_trip),
		cmocka_unit_test(test_memlock_never_lowers),
	};

	return cmocka_run_group_tests_name("helper", tests, NULL, NULL);
}
