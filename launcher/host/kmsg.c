/* SPDX-License-Identifier: MIT */
#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* One /dev/kmsg record: "prio,seq,usec,flags;text\n" plus continuation lines. */
static int format_record(const char *rec, char *out, size_t cap)
{
	unsigned long long usec = 0;
	const char *semi = strchr(rec, ';');
	size_t n;

	if (!semi || sscanf(rec, "%*u,%*u,%llu", &usec) != 1)
		return -EBADMSG;
	n = strcspn(semi + 1, "\n");
	snprintf(out, cap, "[%5llu.%06llu] %.*s", usec / 1000000, usec % 1000000, (int)n, semi + 1);
	return 0;
}

int kmsg_tail(const struct sysroot *s, unsigned lines, char **ret)
{
	char rec[8192], **ring;
	_cleanup_close_ int fd = -1;
	size_t total = 1, n = 0;
	char *out;

	if (s->dev_fd < 0 || lines == 0)
		return -ENOENT;
	fd = openat(s->dev_fd, "kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ring = calloc(lines, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	/* Each read returns one record; EAGAIN means we are at the end. */
	for (;;) {
		ssize_t len = read(fd, rec, sizeof(rec) - 1);
		char line[600];

		if (len < 0 && errno == EPIPE)
			continue; /* overwritten while reading: skip ahead */
		if (len <= 0)
			break;
		rec[len] = '\0';
		if (format_record(rec, line, sizeof(line)) < 0)
			continue;
		free(ring[n % lines]);
		ring[n % lines] = strdup(line);
		n++;
	}
	for (size_t i = n > lines ? n - lines : 0; i < n; i++)
		total += ring[i % lines] ? strlen(ring[i % lines]) + 1 : 0;
	out = calloc(1, total);
	for (size_t i = n > lines ? n - lines : 0; out && i < n; i++)
		if (ring[i % lines]) {
			strcat(out, ring[i % lines]);
			strcat(out, "\n");
		}
	for (size_t i = 0; i < lines; i++)
		free(ring[i]);
	free(ring);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}
