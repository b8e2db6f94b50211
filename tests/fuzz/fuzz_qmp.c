/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the QMP message splitter and parser (qmp/qmp.c) as the server's side of the stream.
 *
 * The first byte picks the way in; the rest is what the "server" says:
 *   bit 0 clear  the bytes sit in a socketpair before qmp_connect_fd(): greeting, handshake,
 *                then one qmp_execute() (id 1) and qmp_process_input() read the rest; bit 1
 *                also hangs up the server end, so EOF lands anywhere in the input.
 *   bit 0 set    a canned handshake, then the bytes go to qmp_feed() in chunks of
 *                (first byte >> 2) + 1 bytes, so message boundaries fall at every offset.
 * Either way every queued event is popped and cleared.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char handshake[] = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n"
				"{\"return\": {}}\r\n";

static void drain_events(struct qmp *q)
{
	struct qmp_event e;

	if (qmp_wait_event(q, "SHUTDOWN", 0, &e) > 0)
		qmp_event_clear(&e);
	while (qmp_next_event(q, &e) > 0) {
		if (e.data)
			(void)json_object_to_json_string(e.data);
		qmp_event_clear(&e);
	}
}

/* Put as much of buf as the socket takes without blocking. */
static void put(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp *q = NULL;
	json_object *ret = NULL;
	char err[128];
	uint8_t mode;
	int sv[2];

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;

	if (!(mode & 1)) {
		put(sv[1], data, size);
		if (mode & 2)
			sv[1] = (close(sv[1]), -1);
		if (qmp_connect_fd(sv[0], 0, &q) < 0) {
			close(sv[0]);
			goto out;
		}
		if (qmp_execute(q, "query-status", NULL, 0, &ret, err, sizeof(err)) == 0 && ret)
			json_object_put(ret);
		(void)qmp_process_input(q);
	} else {
		size_t chunk = (size_t)(mode >> 2) + 1;

		put(sv[1], handshake, sizeof(handshake) - 1);
		if (qmp_connect_fd(sv[0], 1000, &q) < 0) {
			close(sv[0]);
			goto out;
		}
		for (size_t off = 0; off < size; off += chunk)
			if (qmp_feed(q, data + off, size - off < chunk ? size - off : chunk) < 0)
				break;
	}
	drain_events(q);
	qmp_close(q);
out:
	if (sv[1] >= 0)
		close(sv[1]);
	return 0;
}
