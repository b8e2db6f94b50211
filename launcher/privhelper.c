/* SPDX-License-Identifier: MIT */
#include "privhelper.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"
#include "util.h"

#ifndef VMRUN_LIBEXECDIR
#define VMRUN_LIBEXECDIR "/usr/local/libexec/vmrun"
#endif

bool privhelper_needed(const struct sysroot *s)
{
	return geteuid() != 0 && streq(s->path, "/");
}

/*
 * The helper configured at build time; then the one installed beside this vmrun
 * (BINDIR/../libexec/vmrun, so an install under another PREFIX still finds it); then the one
 * built next to it (a build tree).
 */
static int helper_path(char *buf, size_t cap)
{
	char self[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(buf, cap, "%s/vmrun-helper", VMRUN_LIBEXECDIR);
	if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
		return 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	dirname(self);
	if ((size_t)snprintf(buf, cap, "%.3900s/../libexec/vmrun/vmrun-helper", self) < cap &&
	    stat(buf, &st) == 0 && S_ISREG(st.st_mode))
		return 0;
	if ((size_t)snprintf(buf, cap, "%.3900s/vmrun-helper", self) < cap && stat(buf, &st) == 0 &&
	    S_ISREG(st.st_mode))
		return 0;
	return -ENOENT;
}

int privhelper_run(const char *op, const char *arg)
{
	char path[PATH_MAX];
	int status;
	pid_t pid;

	if (helper_path(path, sizeof(path)) < 0) {
		log_err("this needs root: run vmrun as root, or install vmrun-helper (make install) and "
			"have the administrator list the device in /etc/vmrun/allow.yaml");
		return EXIT_ERROR;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return log_err("fork: %m"), EXIT_ERROR;
	if (pid == 0) {
		execl(path, "vmrun-helper", op, arg, (char *)NULL);
		fprintf(stderr, "vmrun: cannot execute %s: %s\n", path, strerror(errno));
		_exit(EXIT_ERROR);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return log_err("waitpid: %m"), EXIT_ERROR;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_ERROR;
}
