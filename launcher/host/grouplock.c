/* SPDX-License-Identifier: MIT */
#include "grouplock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int state_lock(int dirfd, const char *name, unsigned timeout_ms, int *ret_fd)
{
	struct timespec tick = { 0, 50 * 1000000L };
	unsigned waited = 0;
	int fd;

	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK || waited >= timeout_ms) {
			int r = errno == EWOULDBLOCK ? -EBUSY : -errno;

			safe_close(fd);
			return r;
		}
		nanosleep(&tick, NULL);
		waited += 50;
	}
	*ret_fd = fd;
	return 0;
}

int group_lock(int dirfd, int group, unsigned timeout_ms, int *ret_fd)
{
	char name[64];

	snprintf(name, sizeof(name), "group-%d.lock", group);
	return state_lock(dirfd, name, timeout_ms, ret_fd);
}
