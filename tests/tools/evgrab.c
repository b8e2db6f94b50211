/* SPDX-License-Identifier: MIT */
/*
 * evgrab PATH: can this process grab the event device (EVIOCGRAB)? Exit 0 when it could (the
 * grab is given back at once), 1 when someone else holds it (EBUSY), 2 on any other error.
 * For the lab: while QEMU's input-linux holds a device, nobody else can grab it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: evgrab PATH\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		perror(argv[1]);
		return 2;
	}
	if (ioctl(fd, EVIOCGRAB, 1) < 0) {
		int e = errno;

		close(fd);
		if (e == EBUSY)
			return 1;
		fprintf(stderr, "evgrab: %s\n", strerror(e));
		return 2;
	}
	ioctl(fd, EVIOCGRAB, 0);
	close(fd);
	return 0;
}
