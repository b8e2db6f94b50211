/* SPDX-License-Identifier: MIT */
/*
 * hostile [--fd N:MODE:PATH]... [--idle] [--cpu N] [--ioidle] [--nice N] [--slack NS]
 *         [--oom N] -- COMMAND [ARG]...
 * Run COMMAND with what a hostile caller can hand a setuid program besides signals (sigenv):
 *   --fd N:MODE:PATH   PATH opened onto fd N, MODE rdonly, path (O_PATH: even a file the
 *                      caller cannot read), dir (a directory), wronly, append
 *   --idle             SCHED_IDLE
 *   --cpu N            affinity to CPU N alone
 *   --ioidle           I/O priority class idle
 *   --nice N, --slack NS, --oom N   nice, timer slack (ns), oom_score_adj
 * For the lab's attacks on vmrun-helper, which must neither write through such fds nor run
 * its switch in such a state.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "hostile: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void put_fd(const char *spec)
{
	char mode[16], path[4096];
	int n, fd, flags;

	if (sscanf(spec, "%d:%15[^:]:%4095s", &n, mode, path) != 3) {
		fprintf(stderr, "hostile: --fd N:MODE:PATH, not %s\n", spec);
		exit(2);
	}
	if (strcmp(mode, "rdonly") == 0)
		flags = O_RDONLY;
	else if (strcmp(mode, "path") == 0)
		flags = O_PATH;
	else if (strcmp(mode, "dir") == 0)
		flags = O_RDONLY | O_DIRECTORY;
	else if (strcmp(mode, "wronly") == 0)
		flags = O_WRONLY;
	else if (strcmp(mode, "append") == 0)
		flags = O_WRONLY | O_APPEND;
	else {
		fprintf(stderr, "hostile: unknown fd mode %s\n", mode);
		exit(2);
	}
	fd = open(path, flags | O_NOCTTY);
	if (fd < 0)
		die(path);
	if (fd != n && (dup2(fd, n) < 0 || close(fd) < 0))
		die("dup2");
}

static void write_self(const char *file, const char *value)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/%s", file);
	f = fopen(path, "we");
	if (!f || fprintf(f, "%s\n", value) < 0 || fclose(f) != 0)
		die(path);
}

int main(int argc, char **argv)
{
	struct sched_param none = { 0 };
	int i = 1;

	for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--idle") == 0) {
			if (sched_setscheduler(0, SCHED_IDLE, &none) < 0)
				die("SCHED_IDLE");
		} else if (strcmp(a, "--ioidle") == 0) {
			if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
				    IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) < 0)
				die("ioprio_set");
		} else if (strcmp(a, "--cpu") == 0) {
			cpu_set_t one;

			CPU_ZERO(&one);
			CPU_SET(atoi(argv[++i]), &one);
			if (sched_setaffinity(0, sizeof(one), &one) < 0)
				die("sched_setaffinity");
		} else if (strcmp(a, "--nice") == 0) {
			if (setpriority(PRIO_PROCESS, 0, atoi(argv[++i])) < 0)
				die("setpriority");
		} else if (strcmp(a, "--slack") == 0) {
			if (prctl(PR_SET_TIMERSLACK, strtoul(argv[++i], NULL, 10), 0, 0, 0) < 0)
				die("PR_SET_TIMERSLACK");
		} else if (strcmp(a, "--oom") == 0) {
			write_self("oom_score_adj", argv[++i]);
		} else if (strcmp(a, "--fd") == 0) {
			put_fd(argv[++i]);
		} else {
			break;
		}
	}
	if (i >= argc - 1 || strcmp(argv[i], "--") != 0) {
		fprintf(stderr, "usage: hostile [--fd N:MODE:PATH]... [--idle] [--cpu N] [--ioidle] "
				"[--nice N] [--slack NS] [--oom N] -- COMMAND [ARG]...\n");
		return 2;
	}
	execvp(argv[i + 1], argv + i + 1);
	perror("hostile: exec");
	return 127;
}
