/* SPDX-License-Identifier: MIT */
/*
 * A small QMP (QEMU Machine Protocol) client: one connection, no threads, blocking calls with a
 * timeout plus a non-blocking input pump for a poll() loop. See qmp/README.md.
 *
 * Every function returns a negative errno on failure and fills its ret out-parameter only on
 * success. The library never prints; reasons for -EPROTO are logged at debug level.
 *
 * Once the stream is broken (-ECONNRESET, -EPROTO, -ENOMEM while reading) the error is sticky:
 * later qmp_execute()/qmp_process_input() calls return it again, but events queued before the
 * break (typically SHUTDOWN right before QEMU closes the socket) stay retrievable.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Largest single message accepted from the server (bytes, including leading whitespace). */
#define QMP_MAX_MESSAGE (16u * 1024 * 1024)

struct qmp;

struct qmp_event {
	char name[64];     /* e.g. "SHUTDOWN"; longer names are truncated */
	json_object *data; /* the event's "data" member, or NULL; owned by the event */
	int64_t seconds, micros; /* QEMU's timestamp; -1/-1 when absent or QEMU had no clock */
};

/*
 * Connect to QEMU's QMP unix socket, retrying while the socket does not exist yet or refuses
 * connections, then do the handshake (greeting, qmp_capabilities, {"return":{}}). The whole
 * thing, connect retries included, is bounded by timeout_ms.
 * -ETIMEDOUT, -EPROTO, -ECONNRESET, -ENAMETOOLONG, -ENOMEM, or the connect() error.
 */
int qmp_connect(const char *socket_path, unsigned timeout_ms, struct qmp **ret);

/*
 * The handshake on an already-connected stream socket. The fd is made non-blocking and
 * close-on-exec. On success the connection owns fd (qmp_close() closes it); on failure the fd
 * is left open and stays the caller's.
 */
int qmp_connect_fd(int fd, unsigned timeout_ms, struct qmp **ret);

/* Close the socket, drop queued events. NULL is fine. */
void qmp_close(struct qmp *q);

/* The socket, for poll(POLLIN); then call qmp_process_input(). */
int qmp_fd(const struct qmp *q);

/*
 * Send {"execute":cmd,"arguments":args,"id":N} and wait up to timeout_ms for the reply with id N.
 * args may be NULL; it must be an object otherwise; its reference is taken in every case.
 * Events that arrive meanwhile are queued. Replies carrying the id of an earlier command that
 * timed out are stale: they are dropped (debug log) and the wait goes on.
 *   0            {"return":...}; *ret_return (optional) gets a reference: json_object_put() it
 *   -EREMOTEIO   {"error":{"class","desc"}}; desc copied to errbuf (optional)
 *   -ETIMEDOUT   no reply in time; the connection stays usable (the late reply will be stale)
 *   -ECONNRESET  the server closed the socket (also in the middle of a message)
 *   -EPROTO      garbage, a message over QMP_MAX_MESSAGE, a reply without id (QEMU answers
 *                input it could not parse with an id-less error; its desc goes to errbuf), or
 *                a reply with an id this connection never sent
 *   -EINVAL      bad arguments
 */
int qmp_execute(struct qmp *q, const char *cmd, json_object *args, unsigned timeout_ms,
		json_object **ret_return, char *errbuf, size_t errlen);

/*
 * Non-blocking: read what the socket has (call when poll() says readable) and queue the events
 * in it. 0 (also when nothing was there), -ECONNRESET on EOF, -EPROTO on garbage.
 */
int qmp_process_input(struct qmp *q);

/* Pop the oldest queued event: 1 and *ret filled (clear it with qmp_event_clear()), 0 if none. */
int qmp_next_event(struct qmp *q, struct qmp_event *ret);

/* Release the event's data and zero it. NULL is fine. */
void qmp_event_clear(struct qmp_event *e);

/*
 * Wait up to timeout_ms for an event called name, already queued or arriving; other events stay
 * queued in their order. 1 found (*ret filled), 0 timed out, <0 error (-ECONNRESET when QEMU
 * closed the socket and no such event was queued).
 */
int qmp_wait_event(struct qmp *q, const char *name, unsigned timeout_ms, struct qmp_event *ret);

/*
 * Feed bytes to the message parser exactly as if they had been read from the socket (split
 * across calls any way you like). For the fuzzer and tests; the launcher has no use for it.
 * 0, -EPROTO, -ENOMEM.
 */
int qmp_feed(struct qmp *q, const void *buf, size_t len);
