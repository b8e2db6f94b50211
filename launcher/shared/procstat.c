/* SPDX-License-Identifier: MIT */
#include "procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so the
 * fields are counted from the last ')'. */
static int read_stat(int proc_fd, pid_t pid, char *state, uint64_t *start)
{
	char path[32], buf[1024], *p, *end;
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (pid <= 0 || proc_fd < 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "%d/stat", (int)pid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 && errno == ESRCH ? -ESRCH : -EBADMSG;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EBADMSG;
	*state = p[2];
	p += 2; /* at field 3 (state): field 22 is 19 fields on */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EBADMSG;
		p++;
	}
	errno = 0;
	*start = strtoull(p, &end, 10);
	if (errno || end == p || (*end != ' ' && *end != '\n' && *end))
		return -EBADMSG;
	return 0;
}

int proc_start_time(int proc_fd, pid_t pid, uint64_t *ret)
{
	char state;

	return read_stat(proc_fd, pid, &state, ret);
}

bool proc_is_alive(int proc_fd, pid_t pid, uint64_t start)
{
	uint64_t now = 0;
	char state = 0;

	int r = read_stat(proc_fd, pid, &state, &now);

	if (r == -ESRCH)
		return false;
	if (r < 0) /* unreadable is not gone: when in doubt a process holds what it holds */
		return kill(pid, 0) == 0 || errno == EPERM;
	return state != 'Z' && state != 'X' && (start == 0 || now == start);
}
