/* SPDX-License-Identifier: MIT */
/*
 * schedwatch NAME SECONDS: for SECONDS, as often as it can, look at every process called NAME
 * that runs as root (real uid 0: vmrun-helper once it has become root, before it takes any
 * lock) and print each state seen once, as
 *   "seen pid P policy N nice N cpus N/M ioprio CLASS/LEVEL slack NS"
 * then "samples N". Run as root, in the lab, beside attacks that hand the helper a bad
 * scheduling state: every line must show the state the helper resets to.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

#define PF_EXITING 0x4 /* the kernel's task flag: it has begun to exit */

/* Fields of /proc/PID/stat after the comm: flags is field 9, nice 19, policy 41. */
static int stat_fields(int pid, unsigned long *flags, long *nice, long *policy)
{
	char path[64], buf[2048], *p;
	int field = 3;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return -1;
	p += 2;
	while (p && field < 41) {
		if (field == 9)
			*flags = strtoul(p, NULL, 10);
		if (field == 19)
			*nice = strtol(p, NULL, 10);
		p = strchr(p, ' ');
		if (p)
			p++;
		field++;
	}
	if (!p)
		return -1;
	*policy = strtol(p, NULL, 10);
	return 0;
}

static void look(int pid, char seen[][160], size_t *n_seen, unsigned long *samples)
{
	char path[64], buf[4096], line[160], slack[32], *uid;
	long nice = -99, policy = -1;
	unsigned long flags = 0;
	cpu_set_t cpus;
	int prio;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, buf, sizeof(buf)) < 0 || !(uid = strstr(buf, "\nUid:")) ||
	    strtol(uid + 5, NULL, 10) != 0)
		return;
	prio = (int)syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, pid);
	/* Read after the rest: an exiting process has given up its I/O context already (and
	 * reads as the default class), so its sample would say nothing of how it ran. */
	if (sched_getaffinity(pid, sizeof(cpus), &cpus) < 0 || prio < 0 ||
	    stat_fields(pid, &flags, &nice, &policy) < 0 || (flags & PF_EXITING))
		return;
	/* Read the uid again: a sample counts only when the process was root throughout. */
	if (read_file(path, buf, sizeof(buf)) < 0 || !(uid = strstr(buf, "\nUid:")) ||
	    strtol(uid + 5, NULL, 10) != 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/timerslack_ns", pid);
	if (read_file(path, slack, sizeof(slack)) < 0)
		return;
	slack[strcspn(slack, "\n")] = '\0';
	(*samples)++;
	snprintf(line, sizeof(line), "policy %ld nice %ld cpus %d/%ld ioprio %d/%d slack %s", policy,
		 nice, CPU_COUNT(&cpus), sysconf(_SC_NPROCESSORS_ONLN), (int)IOPRIO_PRIO_CLASS(prio),
		 (int)IOPRIO_PRIO_DATA(prio), slack);
	for (size_t i = 0; i < *n_seen; i++)
		if (strcmp(seen[i], line) == 0)
			return;
	if (*n_seen < 64) {
		snprintf(seen[(*n_seen)++], 160, "%s", line);
		printf("seen pid %d %s\n", pid, line);
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	static char seen[64][160];
	unsigned long samples = 0;
	size_t n_seen = 0;
	struct timespec start, now;

	if (argc != 3) {
		fprintf(stderr, "usage: schedwatch NAME SECONDS\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		DIR *d = opendir("/proc");
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char path[300], comm[64];
			int pid = atoi(de->d_name);

			if (pid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/comm", pid);
			if (read_file(path, comm, sizeof(comm)) == 0 &&
			    strncmp(comm, argv[1], strlen(argv[1])) == 0 && comm[strlen(argv[1])] == '\n')
				look(pid, seen, &n_seen, &samples);
		}
		if (d)
			closedir(d);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < atol(argv[2]));
	printf("samples %lu\n", samples);
	return 0;
}
