/* SPDX-License-Identifier: MIT */
/*
 * QMP client (QEMU docs/interop/qmp-spec.rst).
 *
 * Framing. QEMU ends every message with CRLF, but we do not split on newlines: the bytes go
 * straight into one json_tokener kept for the whole connection, which is itself a resumable
 * state machine. Each parse_ex call either finishes an object (json_tokener_get_parse_end()
 * says where it ended, the rest of the read is parsed next) or consumes everything and waits
 * for more. So:
 *   - a message split over any number of reads, several messages in one read, and messages
 *     with or without CRLF between them are all the same case;
 *   - garbage is reported as soon as it is seen (`{"QMP": ]]]` fails at the first `]`), not
 *     after a timeout waiting for a newline that may never come;
 *   - no second copy of a partial message: the tokener's own buffer holds only the pending
 *     token, and we count the bytes fed to the unfinished message to enforce QMP_MAX_MESSAGE
 *     exactly (we never feed past the cap).
 * Strict mode (no comments, single quotes, ...), trailing characters allowed (they are the next
 * message), nesting capped at 64 levels.
 *
 * Replies. Ids are a per-connection integer counter from 1. qmp_capabilities is sent without
 * an id, so its reply is the one id-less reply we expect. Later, a reply whose id is one we
 * sent earlier (its command timed out) is stale and dropped; an id we never sent, or a reply
 * without id (QEMU's answer to input it could not parse), is a protocol error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "qmp.h"
#include "timeutil.h"
#include "util.h"

#define QMP_MAX_DEPTH 64
#define QMP_READ_CHUNK 65536
#define QMP_READS_PER_CALL 64 /* qmp_process_input: at most 4 MiB per call, poll() calls again */
#define QMP_CONNECT_RETRY_MS 20

/* qmp->awaiting: 0 nobody waits for a reply, >0 that command id, or: */
#define AWAIT_NOID (-1) /* the id-less qmp_capabilities */

enum qmp_state { QMP_GREETING, QMP_CAPS, QMP_READY };

struct qmp_event_node {
	struct qmp_event_node *next;
	struct qmp_event ev;
};

struct qmp {
	int fd;
	enum qmp_state state;
	int broken;          /* sticky negative errno once the stream is unusable */
	json_tokener *tok;
	size_t msg_bytes;    /* bytes fed to the message being parsed */
	int64_t next_id;     /* the id the next command gets */
	int64_t awaiting;    /* see AWAIT_NOID */
	json_object *reply;  /* the awaited reply, once it came */
	struct qmp_event_node *head, **tailp;
	char rbuf[QMP_READ_CHUNK];
};

static void json_object_putp(json_object **o)
{
	if (*o)
		json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* ---- time ---- */

static uint64_t deadline_after(unsigned timeout_ms)
{
	return now_ms() + timeout_ms;
}

/* Milliseconds left, for poll(); 0 once the deadline passed. */
static int ms_left(uint64_t deadline)
{
	uint64_t now = now_ms();

	if (now >= deadline)
		return 0;
	return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}

/* ---- events ---- */

void qmp_event_clear(struct qmp_event *e)
{
	if (!e)
		return;
	if (e->data)
		json_object_put(e->data);
	memset(e, 0, sizeof(*e));
}

static int64_t json_get_int64_member(json_object *o, const char *key, int64_t fallback)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return fallback;
	return json_object_get_int64(v);
}

static int queue_event(struct qmp *q, json_object *msg, json_object *name)
{
	struct qmp_event_node *n;
	json_object *data = NULL, *ts = NULL;

	if (!json_object_is_type(name, json_type_string)) {
		log_debug("qmp: event name is not a string");
		return -EPROTO;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (json_object_get_string_len(name) >= (int)sizeof(n->ev.name))
		log_debug("qmp: event name '%s' truncated", json_object_get_string(name));
	snprintf(n->ev.name, sizeof(n->ev.name), "%s", json_object_get_string(name));
	if (json_object_object_get_ex(msg, "data", &data) && data)
		n->ev.data = json_object_get(data);
	(void)json_object_object_get_ex(msg, "timestamp", &ts);
	n->ev.seconds = json_get_int64_member(ts, "seconds", -1);
	n->ev.micros = json_get_int64_member(ts, "microseconds", -1);
	*q->tailp = n;
	q->tailp = &n->next;
	return 0;
}

/* Unlink the first queued event called name (any event if name is NULL). */
static struct qmp_event_node *unqueue_event(struct qmp *q, const char *name)
{
	for (struct qmp_event_node **pp = &q->head; *pp; pp = &(*pp)->next) {
		struct qmp_event_node *n = *pp;

		if (name && !streq(n->ev.name, name))
			continue;
		*pp = n->next;
		if (q->tailp == &n->next)
			q->tailp = pp;
		n->next = NULL;
		return n;
	}
	return NULL;
}

static int pop_event(struct qmp *q, const char *name, struct qmp_event *ret)
{
	struct qmp_event_node *n = unqueue_event(q, name);

	if (!n)
		return 0;
	*ret = n->ev;
	free(n);
	return 1;
}

int qmp_next_event(struct qmp *q, struct qmp_event *ret)
{
	if (!q || !ret)
		return -EINVAL;
	return pop_event(q, NULL, ret);
}

/* ---- incoming messages ---- */

static int handle_reply(struct qmp *q, json_object *msg)
{
	json_object *id;

	if (!json_object_object_get_ex(msg, "id", &id)) {
		if (q->awaiting == 0) {
			log_debug("qmp: reply without id while no command is pending");
			return -EPROTO;
		}
		/* qmp_capabilities' reply, or QEMU could not parse our command: the waiter decides. */
	} else {
		int64_t v;

		if (!json_object_is_type(id, json_type_int)) {
			log_debug("qmp: reply with an id we never sent: %s",
				  json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN));
			return -EPROTO;
		}
		v = json_object_get_int64(id);
		if (v != q->awaiting || q->awaiting <= 0) {
			if (v >= 1 && v < q->next_id) {
				log_debug("qmp: dropping stale reply to command %" PRId64, v);
				return 0;
			}
			log_debug("qmp: reply with an id we never sent: %" PRId64, v);
			return -EPROTO;
		}
	}
	if (q->reply) {
		log_debug("qmp: second reply to the pending command");
		return -EPROTO;
	}
	q->reply = json_object_get(msg);
	return 0;
}

/* One complete message from the server. Does not take msg. */
static int dispatch(struct qmp *q, json_object *msg)
{
	json_object *v;

	if (!json_object_is_type(msg, json_type_object)) {
		log_debug("qmp: message is not a JSON object");
		return -EPROTO;
	}
	if (q->state == QMP_GREETING) {
		if (!json_object_object_get_ex(msg, "QMP", &v) ||
		    !json_object_is_type(v, json_type_object)) {
			log_debug("qmp: expected the {\"QMP\":{...}} greeting, got %.200s",
				  json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
			return -EPROTO;
		}
		/* The capabilities command is sent right after this; its reply is due from now on. */
		q->state = QMP_CAPS;
		q->awaiting = AWAIT_NOID;
		return 0;
	}
	if (json_object_object_get_ex(msg, "event", &v))
		return queue_event(q, msg, v);
	if (json_object_object_get_ex(msg, "return", NULL) ||
	    json_object_object_get_ex(msg, "error", NULL))
		return handle_reply(q, msg);
	if (json_object_object_get_ex(msg, "QMP", NULL)) {
		log_debug("qmp: second greeting");
		return -EPROTO;
	}
	/* Unknown kinds of message may come with newer QEMUs: not ours to fail on. */
	log_debug("qmp: ignoring unknown message %.200s",
		  json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
	return 0;
}

static int set_broken(struct qmp *q, int r)
{
	if (!q->broken)
		q->broken = r;
	return q->broken;
}

int qmp_feed(struct qmp *q, const void *buf, size_t len)
{
	const char *p = buf;

	if (!q || (!buf && len))
		return -EINVAL;
	if (q->broken)
		return q->broken;
	while (len > 0) {
		_cleanup_json_ json_object *obj = NULL;
		size_t room = QMP_MAX_MESSAGE - q->msg_bytes, n = len, used;
		enum json_tokener_error jerr;
		int r;

		if (room == 0) {
			log_debug("qmp: message larger than %u bytes", QMP_MAX_MESSAGE);
			return set_broken(q, -EPROTO);
		}
		if (n > room)
			n = room;
		obj = json_tokener_parse_ex(q->tok, p, (int)n); /* n <= 16 MiB */
		jerr = json_tokener_get_error(q->tok);
		if (jerr == json_tokener_continue) {
			q->msg_bytes += n;
			p += n;
			len -= n;
			continue;
		}
		if (jerr != json_tokener_success) {
			log_debug("qmp: bad JSON from the server: %s", json_tokener_error_desc(jerr));
			return set_broken(q, -EPROTO);
		}
		used = json_tokener_get_parse_end(q->tok);
		json_tokener_reset(q->tok);
		q->msg_bytes = 0;
		if (used == 0 || used > n) /* cannot happen; never loop without progress */
			return set_broken(q, -EPROTO);
		p += used;
		len -= used;
		r = dispatch(q, obj); /* NULL (a top-level `null`) is refused there */
		if (r < 0)
			return set_broken(q, r);
	}
	return 0;
}

/* One non-blocking read. 1 bytes were read (or EINTR: try again), 0 nothing there, <0 broken. */
static int fill(struct qmp *q)
{
	ssize_t n;

	if (q->broken)
		return q->broken;
	n = read(q->fd, q->rbuf, sizeof(q->rbuf));
	if (n < 0) {
		if (errno == EINTR)
			return 1;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		log_debug("qmp: read: %m");
		return set_broken(q, errno == ECONNRESET ? -ECONNRESET : -errno);
	}
	if (n == 0) {
		if (q->msg_bytes > 0)
			log_debug("qmp: server closed the connection after %zu bytes of a message",
				  q->msg_bytes);
		else
			log_debug("qmp: server closed the connection");
		return set_broken(q, -ECONNRESET);
	}
	return qmp_feed(q, q->rbuf, (size_t)n) < 0 ? q->broken : 1;
}

/* Read everything available right now; only events end up anywhere. */
static void drain(struct qmp *q)
{
	for (unsigned i = 0; i < QMP_READS_PER_CALL && fill(q) > 0; i++)
		;
}

int qmp_process_input(struct qmp *q)
{
	if (!q)
		return -EINVAL;
	for (unsigned i = 0; i < QMP_READS_PER_CALL; i++) {
		int r = fill(q);

		if (r <= 0)
			return r;
	}
	return 0;
}

/*
 * Read until done(q, userdata) or the deadline. done is checked before anything is read and
 * after every read, so what was already queued counts and a break after it does not hide it.
 * 1 done, 0 timed out, <0 error.
 */
static int wait_for(struct qmp *q, uint64_t deadline, bool (*done)(struct qmp *, void *),
		    void *userdata)
{
	for (;;) {
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		int r;

		if (done(q, userdata))
			return 1;
		r = fill(q);
		if (r < 0) {
			if (done(q, userdata))
				return 1;
			return r;
		}
		if (r > 0)
			continue;
		if (ms_left(deadline) == 0)
			return 0;
		r = poll(&pfd, 1, ms_left(deadline));
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static bool have_reply(struct qmp *q, void *userdata)
{
	return q->reply != NULL;
}

static bool have_greeting(struct qmp *q, void *userdata)
{
	return q->state != QMP_GREETING;
}

/* ---- outgoing ---- */

static int write_all(struct qmp *q, const char *buf, size_t len, uint64_t deadline)
{
	size_t done = 0;
	int r = 0;

	while (done < len) {
		/* MSG_NOSIGNAL: a QEMU that died must not SIGPIPE the launcher. */
		ssize_t n = send(q->fd, buf + done, len - done, MSG_NOSIGNAL);

		if (n >= 0) {
			done += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			struct pollfd pfd = { .fd = q->fd, .events = POLLOUT };

			if (ms_left(deadline) == 0) {
				r = -ETIMEDOUT;
				break;
			}
			if (poll(&pfd, 1, ms_left(deadline)) < 0 && errno != EINTR) {
				r = -errno;
				break;
			}
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET) {
			log_debug("qmp: server gone while sending");
			/* Keep what QEMU said before it went (SHUTDOWN ...) for qmp_next_event(). */
			drain(q);
			return set_broken(q, -ECONNRESET);
		}
		r = -errno;
		log_debug("qmp: send: %m");
		break;
	}
	/* Half a command went out: the stream cannot carry another one. */
	if (r < 0 && done > 0)
		(void)set_broken(q, -EIO);
	return r;
}

static int send_command(struct qmp *q, const char *cmd, json_object *args, int64_t id,
			uint64_t deadline)
{
	_cleanup_json_ json_object *msg = json_object_new_object();
	_cleanup_free_ char *line = NULL;
	const char *s;
	int len;

	if (!msg)
		return -ENOMEM;
	if (json_object_object_add(msg, "execute", json_object_new_string(cmd)) < 0)
		return -ENOMEM;
	if (args && json_object_object_add(msg, "arguments", json_object_get(args)) < 0)
		return -ENOMEM;
	if (id > 0 && json_object_object_add(msg, "id", json_object_new_int64(id)) < 0)
		return -ENOMEM;
	s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	len = asprintf(&line, "%s\r\n", s);
	if (len < 0) {
		line = NULL;
		return -ENOMEM;
	}
	return write_all(q, line, (size_t)len, deadline);
}

static void copy_error(json_object *reply, char *errbuf, size_t errlen)
{
	json_object *err = NULL, *desc = NULL, *cls = NULL;
	const char *text = "(no description)";

	if (json_object_object_get_ex(reply, "error", &err) &&
	    json_object_is_type(err, json_type_object)) {
		if (json_object_object_get_ex(err, "desc", &desc) &&
		    json_object_is_type(desc, json_type_string))
			text = json_object_get_string(desc);
		else if (json_object_object_get_ex(err, "class", &cls) &&
			 json_object_is_type(cls, json_type_string))
			text = json_object_get_string(cls);
	}
	if (errbuf && errlen > 0)
		snprintf(errbuf, errlen, "%s", text);
}

/* ---- connection ---- */

static struct qmp *qmp_new(int fd)
{
	struct qmp *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->tok = json_tokener_new_ex(QMP_MAX_DEPTH);
	if (!q->tok) {
		free(q);
		return NULL;
	}
	json_tokener_set_flags(q->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	q->fd = fd;
	q->state = QMP_GREETING;
	q->next_id = 1;
	q->tailp = &q->head;
	return q;
}

static void qmp_free(struct qmp *q)
{
	struct qmp_event_node *n;

	while ((n = unqueue_event(q, NULL))) {
		qmp_event_clear(&n->ev);
		free(n);
	}
	if (q->reply)
		json_object_put(q->reply);
	json_tokener_free(q->tok);
	free(q);
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	safe_close(q->fd);
	qmp_free(q);
}

static void qmp_freep(struct qmp **q)
{
	if (*q)
		qmp_free(*q); /* the fd stays with the caller */
}

int qmp_fd(const struct qmp *q)
{
	return q ? q->fd : -EINVAL;
}

static int handshake(int fd, uint64_t deadline, struct qmp **ret)
{
	_cleanup_(qmp_freep) struct qmp *q = NULL;
	_cleanup_json_ json_object *reply = NULL;
	int flags, r;

	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	flags = fcntl(fd, F_GETFD);
	if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -errno;
	q = qmp_new(fd);
	if (!q)
		return -ENOMEM;

	r = wait_for(q, deadline, have_greeting, NULL);
	if (r == 0) {
		log_debug("qmp: no greeting from the server in time");
		return -ETIMEDOUT;
	}
	if (r < 0)
		return r;

	r = send_command(q, "qmp_capabilities", NULL, 0, deadline);
	if (r < 0)
		return r;
	r = wait_for(q, deadline, have_reply, NULL);
	if (r == 0) {
		log_debug("qmp: no reply to qmp_capabilities in time");
		return -ETIMEDOUT;
	}
	if (r < 0)
		return r;
	reply = TAKE_PTR(q->reply);
	q->awaiting = 0;
	if (!json_object_object_get_ex(reply, "return", NULL)) {
		char desc[256];

		copy_error(reply, desc, sizeof(desc));
		log_debug("qmp: qmp_capabilities refused: %s", desc);
		return -EPROTO;
	}
	q->state = QMP_READY;
	*ret = TAKE_PTR(q);
	return 0;
}

int qmp_connect_fd(int fd, unsigned timeout_ms, struct qmp **ret)
{
	if (fd < 0 || !ret)
		return -EINVAL;
	return handshake(fd, deadline_after(timeout_ms), ret);
}

int qmp_connect(const char *socket_path, unsigned timeout_ms, struct qmp **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = deadline_after(timeout_ms);
	_cleanup_close_ int fd = -1;
	int r;

	if (!socket_path || !*socket_path || !ret)
		return -EINVAL;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, socket_path);

	for (;;) {
		struct timespec ts;
		int left;

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		r = -errno;
		fd = safe_close(fd);
		/* QEMU has not created the socket yet, or not listen()ed yet. */
		if (r != -ENOENT && r != -ECONNREFUSED && r != -EAGAIN && r != -EINTR) {
			log_debug("qmp: connect to %s: %s", socket_path, strerror(-r));
			return r;
		}
		left = ms_left(deadline);
		if (left == 0) {
			log_debug("qmp: %s not accepting connections in time: %s", socket_path,
				  strerror(-r));
			return -ETIMEDOUT;
		}
		if (left > QMP_CONNECT_RETRY_MS)
			left = QMP_CONNECT_RETRY_MS;
		ts = (struct timespec){ .tv_nsec = (long)left * 1000000L };
		(void)nanosleep(&ts, NULL);
	}

	r = handshake(fd, deadline, ret);
	if (r < 0)
		return r;
	TAKE_FD(fd);
	return 0;
}

/* ---- commands and events ---- */

int qmp_execute(struct qmp *q, const char *cmd, json_object *args, unsigned timeout_ms,
		json_object **ret_return, char *errbuf, size_t errlen)
{
	_cleanup_json_ json_object *args_ref = args; /* we own it, whatever happens */
	_cleanup_json_ json_object *reply = NULL;
	uint64_t deadline = deadline_after(timeout_ms);
	json_object *err = NULL, *ret = NULL, *id = NULL;
	int64_t my_id;
	int r;

	if (!q || !cmd || !*cmd || (args && !json_object_is_type(args, json_type_object)))
		return -EINVAL;
	if (q->broken)
		return q->broken;
	if (q->state != QMP_READY || q->awaiting != 0)
		return -EBUSY;

	my_id = q->next_id++;
	q->awaiting = my_id;
	r = send_command(q, cmd, args_ref, my_id, deadline);
	if (r >= 0)
		r = wait_for(q, deadline, have_reply, NULL);
	q->awaiting = 0;
	if (r == 0) {
		log_debug("qmp: no reply to %s (id %" PRId64 ") in time", cmd, my_id);
		return -ETIMEDOUT;
	}
	if (r < 0)
		return r;

	reply = TAKE_PTR(q->reply);
	if (!json_object_object_get_ex(reply, "id", &id)) {
		/* QEMU answers input it could not parse this way; we only send what it should parse. */
		copy_error(reply, errbuf, errlen);
		log_debug("qmp: reply to %s without id", cmd);
		return -EPROTO;
	}
	if (json_object_object_get_ex(reply, "error", &err)) {
		if (!json_object_is_type(err, json_type_object)) {
			log_debug("qmp: malformed error reply to %s", cmd);
			return -EPROTO;
		}
		copy_error(reply, errbuf, errlen);
		return -EREMOTEIO;
	}
	(void)json_object_object_get_ex(reply, "return", &ret);
	if (ret_return)
		*ret_return = ret ? json_object_get(ret) : NULL;
	return 0;
}

static bool have_named_event(struct qmp *q, void *userdata)
{
	for (struct qmp_event_node *n = q->head; n; n = n->next)
		if (streq(n->ev.name, userdata))
			return true;
	return false;
}

int qmp_wait_event(struct qmp *q, const char *name, unsigned timeout_ms, struct qmp_event *ret)
{
	int r;

	if (!q || !name || !ret)
		return -EINVAL;
	r = wait_for(q, deadline_after(timeout_ms), have_named_event, (void *)name);
	if (r <= 0)
		return r;
	return pop_event(q, name, ret);
}
