/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the QMP message splitter and parser (qmp/qmp.c) as the server's side of the stream.
 *
 * The first byte picks the way in; the rest is what the "server" says:
 *   bit 0 clear  a conversation over a socketpair. The bytes up to and including the second
 *                newline (normally the greeting and the reply to qmp_capabilities) are in the
 *                socket before qmp_connect_fd(); the rest is written once the handshake is
 *                done and before one qmp_execute() (id 1) sends its command, so it is read as
 *                the answer to it; then qmp_process_input() reads what is left. Bit 1 also
 *                hangs up the server end after the second part, so EOF lands anywhere.
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

#include "fuzz.h"
#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the last input did, for the replay's expected outcomes (tests/fuzz/expect/qmp). */
static struct fuzz_outcome out;

const char *fuzz_outcome(void)
{
	return out.text;
}

static const char handshake[] = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n"
				"{\"return\": {}}\r\n";

static void drain_events(struct qmp *q)
{
	struct qmp_event e;
	size_t n = 0;

	fuzz_outcome_add(&out, " events=");
	if (qmp_wait_event(q, "SHUTDOWN", 0, &e) > 0) {
		fuzz_outcome_add(&out, "%s%s", n++ ? "," : "", e.name);
		qmp_event_clear(&e);
	}
	while (qmp_next_event(q, &e) > 0) {
		if (e.data)
			(void)json_object_to_json_string(e.data);
		fuzz_outcome_add(&out, "%s%s", n++ ? "," : "", e.name);
		qmp_event_clear(&e);
	}
	if (!n)
		fuzz_outcome_add(&out, "none");
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
	int sv[2], r;

	if (size < 1)
		return 0;
	fuzz_outcome_reset(&out);
	mode = data[0];
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;

	if (!(mode & 1)) {
		size_t first = 0;

		for (int lines = 0; first < size && lines < 2; first++)
			lines += data[first] == '\n';
		put(sv[1], data, first);
		r = qmp_connect_fd(sv[0], 0, &q);
		put(sv[1], data + first, size - first);
		if (mode & 2)
			sv[1] = (close(sv[1]), -1);
		fuzz_outcome_add(&out, "connect=%s", fuzz_errname(r));
		if (r < 0) {
			close(sv[0]);
			goto out;
		}
		err[0] = '\0';
		r = qmp_execute(q, "query-status", NULL, 100, &ret, err, sizeof(err));
		fuzz_outcome_add(&out, " execute=%s", fuzz_errname(r));
		if (r == -EREMOTEIO || (r == -EPROTO && err[0]))
			fuzz_outcome_add(&out, "(%s)", err);
		if (r == 0 && ret)
			json_object_put(ret);
		fuzz_outcome_add(&out, " input=%s", fuzz_errname(qmp_process_input(q)));
	} else {
		size_t chunk = (size_t)(mode >> 2) + 1;

		put(sv[1], handshake, sizeof(handshake) - 1);
		r = qmp_connect_fd(sv[0], 1000, &q);
		if (r < 0) {
			fuzz_outcome_add(&out, "connect=%s", fuzz_errname(r));
			close(sv[0]);
			goto out;
		}
		r = 0;
		for (size_t off = 0; off < size && r == 0; off += chunk)
			r = qmp_feed(q, data + off, size - off < chunk ? size - off : chunk);
		fuzz_outcome_add(&out, "feed=%s", fuzz_errname(r));
	}
	drain_events(q);
	qmp_close(q);
out:
	if (sv[1] >= 0)
		close(sv[1]);
	return 0;
}
