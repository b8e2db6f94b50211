/* SPDX-License-Identifier: MIT */
/*
 * con2fb FB                 which framebuffer text console 1 is on (any registered /dev/fbFB
 *                           answers), printed as a number
 * con2fb FB CONSOLE         the same for CONSOLE (1..63)
 * con2fb FB CONSOLE TO      put CONSOLE on framebuffer TO ("all" for 1..63)
 * For the lab (fbset's con2fbmap does the same; it is not installed there): where fbcon draws
 * before, during and after a switch, and a console put on the passthrough GPU on purpose.
 */
#include <fcntl.h>
#include <linux/fb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int put(int fd, unsigned console, unsigned to)
{
	struct fb_con2fbmap m = { .console = console, .framebuffer = to };

	if (ioctl(fd, FBIOPUT_CON2FBMAP, &m) < 0) {
		fprintf(stderr, "con2fb: console %u to fb%u: ", console, to);
		perror("FBIOPUT_CON2FBMAP");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fb_con2fbmap m = { .console = 1 };
	char path[32];
	int fd, rc = 0;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: con2fb FB [CONSOLE|all [TO]]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/dev/fb%s", argv[1]);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return 2;
	}
	if (argc == 4) {
		unsigned to = (unsigned)strtoul(argv[3], NULL, 10);

		if (strcmp(argv[2], "all") == 0)
			for (unsigned c = 1; c <= 63; c++)
				rc |= put(fd, c, to);
		else
			rc = put(fd, (unsigned)strtoul(argv[2], NULL, 10), to);
		close(fd);
		return rc;
	}
	if (argc == 3)
		m.console = (unsigned)strtoul(argv[2], NULL, 10);
	if (ioctl(fd, FBIOGET_CON2FBMAP, &m) < 0) {
		perror("FBIOGET_CON2FBMAP");
		close(fd);
		return 1;
	}
	printf("%u\n", m.framebuffer);
	close(fd);
	return 0;
}
