/* SPDX-License-Identifier: MIT */
/*
 * uinput-dev NAME: a virtual keyboard and mouse (uinput), for the lab's input tests. Prints
 * "kbd /dev/input/eventN" and "mouse /dev/input/eventM", then reads commands on stdin:
 *   chord      press and release both Ctrl keys on the keyboard (QEMU's ctrl-ctrl toggle)
 *   recreate   unplug both and plug them in again (new event nodes; the lines again)
 *   quit
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/uinput.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void emit(int fd, int type, int code, int value)
{
	struct input_event ev = { .type = (unsigned short)type, .code = (unsigned short)code,
				  .value = value };

	if (write(fd, &ev, sizeof(ev)) != (ssize_t)sizeof(ev))
		perror("uinput-dev: write");
}

static int make(const char *name, const char *what, int mouse)
{
	struct uinput_setup us = { .id = { .bustype = BUS_USB, .vendor = 0x1d6b, .product = mouse ? 2 : 1 } };
	int fd = open("/dev/uinput", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	char sys[64], path[128];

	if (fd < 0) {
		perror("uinput-dev: /dev/uinput");
		exit(1);
	}
	ioctl(fd, UI_SET_EVBIT, EV_KEY);
	if (mouse) {
		ioctl(fd, UI_SET_KEYBIT, BTN_LEFT);
		ioctl(fd, UI_SET_KEYBIT, BTN_RIGHT);
		ioctl(fd, UI_SET_EVBIT, EV_REL);
		ioctl(fd, UI_SET_RELBIT, REL_X);
		ioctl(fd, UI_SET_RELBIT, REL_Y);
	} else {
		for (int k = KEY_ESC; k <= KEY_MICMUTE; k++)
			ioctl(fd, UI_SET_KEYBIT, k);
	}
	snprintf(us.name, sizeof(us.name), "%s %s", name, what);
	if (ioctl(fd, UI_DEV_SETUP, &us) < 0 || ioctl(fd, UI_DEV_CREATE) < 0 ||
	    ioctl(fd, UI_GET_SYSNAME(sizeof(sys)), sys) < 0) {
		perror("uinput-dev: create");
		exit(1);
	}
	/* The event node of the input device just made. */
	snprintf(path, sizeof(path), "/sys/devices/virtual/input/%s", sys);
	for (int tries = 0; tries < 100; tries++) {
		DIR *d = opendir(path);
		struct dirent *e;

		while (d && (e = readdir(d)))
			if (strncmp(e->d_name, "event", 5) == 0) {
				printf("%s /dev/input/%s\n", what, e->d_name);
				fflush(stdout);
				closedir(d);
				return fd;
			}
		if (d)
			closedir(d);
		usleep(10000);
	}
	fprintf(stderr, "uinput-dev: no event node for %s\n", sys);
	exit(1);
}

int main(int argc, char **argv)
{
	char line[64];
	int kbd, mouse;

	if (argc != 2) {
		fprintf(stderr, "usage: uinput-dev NAME\n");
		return 2;
	}
	kbd = make(argv[1], "kbd", 0);
	mouse = make(argv[1], "mouse", 1);
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "chord", 5) == 0) {
			emit(kbd, EV_KEY, KEY_LEFTCTRL, 1);
			emit(kbd, EV_KEY, KEY_RIGHTCTRL, 1);
			emit(kbd, EV_SYN, SYN_REPORT, 0);
			usleep(50000);
			emit(kbd, EV_KEY, KEY_RIGHTCTRL, 0);
			emit(kbd, EV_KEY, KEY_LEFTCTRL, 0);
			emit(kbd, EV_SYN, SYN_REPORT, 0);
			printf("chorded\n");
		} else if (strncmp(line, "recreate", 8) == 0) {
			ioctl(kbd, UI_DEV_DESTROY);
			ioctl(mouse, UI_DEV_DESTROY);
			close(kbd);
			close(mouse);
			usleep(300000);
			kbd = make(argv[1], "kbd", 0);
			mouse = make(argv[1], "mouse", 1);
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		}
		fflush(stdout);
	}
	ioctl(kbd, UI_DEV_DESTROY);
	ioctl(mouse, UI_DEV_DESTROY);
	return 0;
}
