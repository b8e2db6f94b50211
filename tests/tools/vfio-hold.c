/* SPDX-License-Identifier: MIT */
/*
 * vfio-hold GROUP ADDRESS: take a VFIO device the way QEMU does (container, type-1 IOMMU,
 * the group's device fd), then close the group and the container and keep only the device fd
 * open, until killed. Prints "holding" when it does. For the lab: a holder that has no
 * /dev/vfio/GROUP open, only an anonymous [vfio-device] fd, must still be found.
 */
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int container, group, device;

	if (argc != 3) {
		fprintf(stderr, "usage: vfio-hold GROUP ADDRESS\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%s", argv[1]);
	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	group = open(path, O_RDWR | O_CLOEXEC);
	if (container < 0 || group < 0) {
		perror("vfio-hold: open");
		return 1;
	}
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0 ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		fprintf(stderr, "vfio-hold: group %s is not viable\n", argv[1]);
		return 1;
	}
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0 ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0) {
		perror("vfio-hold: container");
		return 1;
	}
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
	if (device < 0) {
		perror("vfio-hold: VFIO_GROUP_GET_DEVICE_FD");
		return 1;
	}
	close(group);
	close(container);
	printf("holding\n");
	fflush(stdout);
	for (;;)
		pause();
}
