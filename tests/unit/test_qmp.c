/* SPDX-License-Identifier: MIT */
/*
 * The QMP client against a fake QMP server, and once against a real QEMU.
 *
 * Most tests fork a fake server on the other end of a socketpair and give it a script: send
 * these bytes (at once, or one byte per write with a pause so the client really sees 1-byte
 * reads), expect exactly these bytes from the client, sleep, close. The child checks what the
 * client sent and reports through its exit status, which every test asserts; after its script
 * it waits for the client to hang up, so no EOF sneaks into a test that did not ask for one.
 * A few tests drive the socketpair from this process instead, to assert bytes directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "qmp.h"
#include "util.h"
#include "testskip.h"

#define GREETING                                                                                   \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "         \
	"\"package\": \"Debian 1:7.2+dfsg-7\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define CAPS "{\"execute\":\"qmp_capabilities\"}\r\n"
#define CAPS_OK "{\"return\": {}}\r\n"
#define QUERY_STATUS(id) "{\"execute\":\"query-status\",\"id\":" #id "}\r\n"
#define STATUS_REPLY(id)                                                                           \
	"{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, "      \
	"\"id\": " #id "}\r\n"
#define EVENT(name, data)                                                                          \
	"{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 123456}, \"event\": \"" name   \
	"\", \"data\": " data "}\r\n"
#define SHUTDOWN_EVENT EVENT("SHUTDOWN", "{\"guest\": true, \"reason\": \"guest-shutdown\"}")

/* ---- the fake server ---- */

enum step_kind { END, SEND, SEND_BYTES, EXPECT, SLEEP_MS, SEND_BIG, CLOSE };

struct step {
	enum step_kind kind;
	const char *s; /* SEND, SEND_BYTES, EXPECT */
	size_t n;      /* SLEEP_MS: ms; SEND_BIG: length of the returned string */
};

#define HANDSHAKE { SEND, GREETING, 0 }, { EXPECT, CAPS, 0 }, { SEND, CAPS_OK, 0 }

struct fixture {
	pid_t pid;
	int fd;       /* the client's end until a struct qmp owns it */
	struct qmp *q;
	char dir[64]; /* for tests with a socket path */
};

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fake server: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	_exit(2);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int srv_write(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void srv_expect(int fd, const char *want)
{
	size_t len = strlen(want), got = 0;
	char *buf = malloc(len + 1);

	if (!buf)
		die("out of memory");
	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 3000) <= 0)
			die("expected '%s', got only '%.*s'", want, (int)got, buf);
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			die("expected '%s', got '%.*s' and EOF", want, (int)got, buf);
		got += (size_t)n;
	}
	if (memcmp(buf, want, len) != 0)
		die("expected '%s', got '%.*s'", want, (int)len, buf);
	free(buf);
}

/* {"return": "xxx...", "id": 1} with n x's. */
static char *big_reply(size_t n, size_t *len)
{
	static const char head[] = "{\"return\": \"", tail[] = "\", \"id\": 1}\r\n";
	char *buf = malloc(sizeof(head) + n + sizeof(tail));

	if (!buf)
		return NULL;
	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, 'x', n);
	memcpy(buf + sizeof(head) - 1 + n, tail, sizeof(tail));
	*len = sizeof(head) - 1 + n + sizeof(tail) - 1;
	return buf;
}

static _Noreturn void run_script(int fd, const struct step *script)
{
	for (const struct step *s = script; s->kind != END; s++) {
		switch (s->kind) {
		case SEND:
			if (srv_write(fd, s->s, strlen(s->s)) < 0)
				die("write: %s", strerror(errno));
			break;
		case SEND_BYTES:
			for (const char *p = s->s; *p; p++) {
				/* The client may hang up once it has the closing brace. */
				if (srv_write(fd, p, 1) < 0 && strspn(p, "\r\n") != strlen(p))
					die("write: %s", strerror(errno));
				sleep_ms(1);
			}
			break;
		case EXPECT:
			srv_expect(fd, s->s);
			break;
		case SLEEP_MS:
			sleep_ms((unsigned)s->n);
			break;
		case SEND_BIG: {
			size_t len;
			char *buf = big_reply(s->n, &len);

			if (!buf)
				die("out of memory");
			/* Over the cap the client gives up and hangs up: that is the point. */
			if (srv_write(fd, buf, len) < 0 && s->n <= QMP_MAX_MESSAGE)
				die("write: %s", strerror(errno));
			free(buf);
			break;
		}
		case CLOSE:
			close(fd);
			_exit(0);
		case END:
			break;
		}
	}
	/* Wait for the client to hang up (anything it still sends is not checked). */
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char buf[4096];

		if (poll(&pfd, 1, 5000) <= 0)
			die("client did not hang up");
		if (read(fd, buf, sizeof(buf)) <= 0)
			_exit(0);
	}
}

/* Fork a fake server running script; f->fd is the client's end. */
static void start_server(struct fixture *f, const struct step *script)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(sv[0]);
		run_script(sv[1], script);
	}
	close(sv[1]);
	f->fd = sv[0];
}

/* Hang up and assert the server saw everything it expected. */
static void finish_server(struct fixture *f)
{
	int status;

	if (f->q) {
		qmp_close(f->q);
		f->q = NULL;
		f->fd = -1;
	}
	f->fd = safe_close(f->fd);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	f->pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Server plus handshake: the state most tests start from. */
static void connect_server(struct fixture *f, const struct step *script)
{
	start_server(f, script);
	assert_int_equal(qmp_connect_fd(f->fd, 2000, &f->q), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->fd = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->q)
		qmp_close(f->q);
	else
		safe_close(f->fd);
	if (f->pid > 0) {
		(void)kill(f->pid, SIGKILL);
		(void)waitpid(f->pid, NULL, 0);
	}
	if (f->dir[0]) {
		char path[128];

		snprintf(path, sizeof(path), "%s/qmp.sock", f->dir);
		(void)unlink(path);
		(void)rmdir(f->dir);
	}
	free(f);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *member_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void assert_next_event(struct qmp *q, const char *name)
{
	struct qmp_event ev;

	assert_int_equal(qmp_next_event(q, &ev), 1);
	assert_string_equal(ev.name, name);
	qmp_event_clear(&ev);
}

static void assert_no_event(struct qmp *q)
{
	struct qmp_event ev;

	assert_int_equal(qmp_next_event(q, &ev), 0);
}

/* query-status must come back with status "running". */
static void assert_query_status(struct qmp *q)
{
	json_object *ret = NULL;
	char err[256] = "";

	assert_int_equal(qmp_execute(q, "query-status", NULL, 2000, &ret, err, sizeof(err)), 0);
	assert_non_null(ret);
	assert_string_equal(member_string(ret, "status"), "running");
	json_object_put(ret);
}

/* ---- in-process: the exact bytes ---- */

static void test_handshake_bytes(void **state)
{
	struct fixture *f = *state;
	int sv[2];
	char buf[256];
	ssize_t n;
	json_object *args, *ret = NULL;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fd = sv[1];
	/* Both answers are there before the client asks: it must still send, in order. */
	assert_int_equal(srv_write(sv[1], GREETING CAPS_OK, strlen(GREETING CAPS_OK)), 0);
	assert_int_equal(qmp_connect_fd(sv[0], 1000, &f->q), 0);
	assert_int_equal(qmp_fd(f->q), sv[0]);
	assert_true(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	n = read(sv[1], buf, sizeof(buf));
	assert_int_equal(n, (ssize_t)strlen(CAPS));
	assert_memory_equal(buf, CAPS, strlen(CAPS));

	/* A command with arguments: its exact line, id 1; slashes not escaped. */
	static const char reply[] = "{\"return\": {}, \"id\": 1}\r\n";
	static const char want[] =
		"{\"execute\":\"blockdev-add\",\"arguments\":{\"node-name\":\"d0\","
		"\"filename\":\"/var/lib/vm/disk.img\"},\"id\":1}\r\n";
	assert_int_equal(srv_write(sv[1], reply, strlen(reply)), 0);
	args = json_object_new_object();
	json_object_object_add(args, "node-name", json_object_new_string("d0"));
	json_object_object_add(args, "filename", json_object_new_string("/var/lib/vm/disk.img"));
	assert_int_equal(qmp_execute(f->q, "blockdev-add", args, 1000, &ret, NULL, 0), 0);
	assert_non_null(ret);
	assert_true(json_object_is_type(ret, json_type_object));
	json_object_put(ret);
	n = read(sv[1], buf, sizeof(buf));
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, strlen(want));

	/* Ids count up per connection. */
	static const char reply2[] = "{\"return\": {}, \"id\": 2}\r\n";
	assert_int_equal(srv_write(sv[1], reply2, strlen(reply2)), 0);
	assert_int_equal(qmp_execute(f->q, "cont", NULL, 1000, NULL, NULL, 0), 0);
	n = read(sv[1], buf, sizeof(buf));
	assert_int_equal(n, (ssize_t)strlen("{\"execute\":\"cont\",\"id\":2}\r\n"));
	assert_memory_equal(buf, "{\"execute\":\"cont\",\"id\":2}\r\n", (size_t)n);
	close(sv[1]);
}

/* Events fed one byte per read through qmp_process_input(), as a poll() loop would. */
static void test_process_input_bytewise(void **state)
{
	struct fixture *f = *state;
	static const char ev[] = EVENT("STOP", "{}") EVENT("RESUME", "{}");
	struct qmp_event e;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fd = sv[1];
	assert_int_equal(srv_write(sv[1], GREETING CAPS_OK, strlen(GREETING CAPS_OK)), 0);
	assert_int_equal(qmp_connect_fd(sv[0], 1000, &f->q), 0);
	assert_int_equal(qmp_process_input(f->q), 0); /* nothing there: not an error */
	for (size_t i = 0; i < sizeof(ev) - 1; i++) {
		assert_int_equal(srv_write(sv[1], ev + i, 1), 0);
		assert_int_equal(qmp_process_input(f->q), 0);
		if (i < strlen(EVENT("STOP", "{}")) - 3) /* the CRLF is not needed to finish it */
			assert_no_event(f->q);
	}
	assert_int_equal(qmp_next_event(f->q, &e), 1);
	assert_string_equal(e.name, "STOP");
	assert_int_equal(e.seconds, 1700000000);
	assert_int_equal(e.micros, 123456);
	assert_non_null(e.data);
	qmp_event_clear(&e);
	assert_null(e.data);
	assert_next_event(f->q, "RESUME");
	assert_no_event(f->q);
	close(sv[1]);
	f->fd = -1;
	assert_int_equal(qmp_process_input(f->q), -ECONNRESET);
	assert_int_equal(qmp_process_input(f->q), -ECONNRESET); /* sticky */
}

/* ---- against the forked fake server ---- */

static void test_command_reply(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, QUERY_STATUS(1), 0 },
		{ SEND, STATUS_REPLY(1), 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;

	connect_server(f, script);
	assert_query_status(f->q);
	assert_no_event(f->q);
	finish_server(f);
}

static void test_reply_bytewise(void **state)
{
	static const struct step script[] = {
		{ SEND_BYTES, GREETING, 0 },
		{ EXPECT, CAPS, 0 },
		{ SEND_BYTES, CAPS_OK, 0 },
		{ EXPECT, QUERY_STATUS(1), 0 },
		{ SEND_BYTES, EVENT("STOP", "{}") STATUS_REPLY(1) EVENT("RESUME", "{}"), 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	struct qmp_event e;

	connect_server(f, script);
	assert_query_status(f->q);
	assert_int_equal(qmp_wait_event(f->q, "RESUME", 2000, &e), 1);
	qmp_event_clear(&e);
	assert_next_event(f->q, "STOP");
	assert_no_event(f->q);
	finish_server(f);
}

static void test_merged_messages(void **state)
{
	/* Greeting and capabilities reply in one write; then messages with no CRLF between. */
	static const struct step script[] = {
		{ SEND, GREETING CAPS_OK, 0 },
		{ EXPECT, CAPS, 0 },
		{ EXPECT, QUERY_STATUS(1), 0 },
		{ SEND, "{\"event\": \"STOP\"}{\"return\": {\"status\": \"running\"}, \"id\": 1}"
			"{\"event\": \"RESUME\"}\r\n", 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	struct qmp_event e;

	connect_server(f, script);
	assert_query_status(f->q);
	/* The event after the reply came in the same read: queued too. */
	assert_int_equal(qmp_next_event(f->q, &e), 1);
	assert_string_equal(e.name, "STOP");
	assert_null(e.data);
	assert_int_equal(e.seconds, -1);
	qmp_event_clear(&e);
	assert_next_event(f->q, "RESUME");
	assert_no_event(f->q);
	finish_server(f);
}

static void test_events_between(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, QUERY_STATUS(1), 0 },
		{ SEND, EVENT("RTC_CHANGE", "{\"offset\": 1}"), 0 },
		{ SLEEP_MS, NULL, 20 },
		{ SEND, EVENT("POWERDOWN", "{}"), 0 },
		{ SLEEP_MS, NULL, 20 },
		{ SEND, STATUS_REPLY(1), 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	struct qmp_event e;

	connect_server(f, script);
	assert_query_status(f->q);
	assert_int_equal(qmp_next_event(f->q, &e), 1);
	assert_string_equal(e.name, "RTC_CHANGE");
	assert_int_equal(json_object_get_int(json_object_object_get(e.data, "offset")), 1);
	qmp_event_clear(&e);
	assert_next_event(f->q, "POWERDOWN");
	assert_no_event(f->q);
	finish_server(f);
}

/*
 * A command that timed out leaves its reply to come late: that reply (id 1) is stale and
 * dropped while the next command (id 2) waits for its own.
 */
static void test_stale_reply(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, "{\"execute\":\"slow\",\"id\":1}\r\n", 0 },
		{ EXPECT, "{\"execute\":\"fast\",\"id\":2}\r\n", 0 },
		{ SEND, "{\"return\": {\"which\": \"slow\"}, \"id\": 1}\r\n", 0 },
		{ SEND, "{\"return\": {\"which\": \"fast\"}, \"id\": 2}\r\n", 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	json_object *ret = NULL;
	uint64_t t0;

	connect_server(f, script);
	t0 = now_ms();
	assert_int_equal(qmp_execute(f->q, "slow", NULL, 100, &ret, NULL, 0), -ETIMEDOUT);
	assert_null(ret);
	assert_true(now_ms() - t0 >= 100);
	assert_int_equal(qmp_execute(f->q, "fast", NULL, 2000, &ret, NULL, 0), 0);
	assert_string_equal(member_string(ret, "which"), "fast");
	json_object_put(ret);
	finish_server(f);
}

/* An id this connection never sent is not stale: it is a protocol error. */
static void test_foreign_id(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, QUERY_STATUS(1), 0 },
		{ SEND, STATUS_REPLY(99), 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	json_object *ret = NULL;

	connect_server(f, script);
	assert_int_equal(qmp_execute(f->q, "query-status", NULL, 2000, &ret, NULL, 0), -EPROTO);
	assert_null(ret);
	finish_server(f);
}

static void test_error_reply(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, "{\"execute\":\"foo\",\"id\":1}\r\n", 0 },
		{ SEND, "{\"id\": 1, \"error\": {\"class\": \"CommandNotFound\", \"desc\": "
			"\"The command foo has not been found\"}}\r\n", 0 },
		{ EXPECT, "{\"execute\":\"foo\",\"id\":2}\r\n", 0 },
		{ SEND, "{\"id\": 2, \"error\": {\"class\": \"CommandNotFound\", \"desc\": "
			"\"The command foo has not been found\"}}\r\n", 0 },
		{ EXPECT, QUERY_STATUS(3), 0 },
		{ SEND, STATUS_REPLY(3), 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	json_object *ret = NULL;
	char err[256] = "", small[10];

	connect_server(f, script);
	assert_int_equal(qmp_execute(f->q, "foo", NULL, 2000, &ret, err, sizeof(err)), -EREMOTEIO);
	assert_null(ret);
	assert_string_equal(err, "The command foo has not been found");
	assert_int_equal(qmp_execute(f->q, "foo", NULL, 2000, NULL, small, sizeof(small)),
			 -EREMOTEIO);
	assert_string_equal(small, "The comma"); /* truncated, terminated */
	assert_query_status(f->q);               /* the connection goes on */
	finish_server(f);
}

/* An error without id is QEMU's answer to input it could not parse: a protocol error. */
static void test_error_without_id(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, QUERY_STATUS(1), 0 },
		{ SEND, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, "
			"invalid keyword 'x'\"}}\r\n", 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	char err[256] = "";

	connect_server(f, script);
	assert_int_equal(qmp_execute(f->q, "query-status", NULL, 2000, NULL, err, sizeof(err)),
			 -EPROTO);
	assert_string_equal(err, "JSON parse error, invalid keyword 'x'");
	finish_server(f);
}

static void test_close_mid_message(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, QUERY_STATUS(1), 0 },
		{ SEND, "{\"return\": {\"sta", 0 },
		{ CLOSE, NULL, 0 },
	};
	struct fixture *f = *state;
	json_object *ret = NULL;

	connect_server(f, script);
	assert_int_equal(qmp_execute(f->q, "query-status", NULL, 2000, &ret, NULL, 0), -ECONNRESET);
	assert_null(ret);
	assert_int_equal(qmp_process_input(f->q), -ECONNRESET);
	assert_int_equal(qmp_execute(f->q, "query-status", NULL, 2000, NULL, NULL, 0), -ECONNRESET);
	finish_server(f);
}

/* QEMU gone before the command: EPIPE must not kill us (MSG_NOSIGNAL). */
static void test_send_to_closed(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ SEND, SHUTDOWN_EVENT, 0 },
		{ CLOSE, NULL, 0 },
	};
	struct fixture *f = *state;
	struct qmp_event e;

	connect_server(f, script);
	sleep_ms(50); /* let the server go */
	assert_int_equal(qmp_execute(f->q, "query-status", NULL, 2000, NULL, NULL, 0), -ECONNRESET);
	/* What QEMU said before it went is kept. */
	assert_int_equal(qmp_wait_event(f->q, "SHUTDOWN", 100, &e), 1);
	qmp_event_clear(&e);
	assert_int_equal(qmp_wait_event(f->q, "SHUTDOWN", 100, &e), -ECONNRESET);
	finish_server(f);
}

static void test_garbage_greeting(void **state)
{
	static const struct step script[] = {
		{ SEND, "{\"QMP\": ", 0 },
		{ SLEEP_MS, NULL, 20 },
		{ SEND, "]]]", 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	struct qmp *q = NULL;
	uint64_t t0 = now_ms();

	start_server(f, script);
	assert_int_equal(qmp_connect_fd(f->fd, 5000, &q), -EPROTO);
	assert_null(q);
	assert_true(now_ms() - t0 < 2000); /* seen at once, not after the timeout */
	assert_true(fcntl(f->fd, F_GETFD) >= 0); /* still the caller's */
	finish_server(f);
}

static void test_garbage_after_handshake(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, QUERY_STATUS(1), 0 },
		{ SEND, "{\"return\": {}, \"id\": 1, ]]]\r\n", 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;

	connect_server(f, script);
	assert_int_equal(qmp_execute(f->q, "query-status", NULL, 2000, NULL, NULL, 0), -EPROTO);
	assert_int_equal(qmp_process_input(f->q), -EPROTO);
	finish_server(f);
}

static void test_not_a_greeting(void **state)
{
	static const struct step script[] = {
		{ SEND, CAPS_OK, 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	struct qmp *q = NULL;

	start_server(f, script);
	assert_int_equal(qmp_connect_fd(f->fd, 2000, &q), -EPROTO);
	finish_server(f);
}

static void test_capabilities_refused(void **state)
{
	static const struct step script[] = {
		{ SEND, GREETING, 0 },
		{ EXPECT, CAPS, 0 },
		{ SEND, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}}\r\n", 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	struct qmp *q = NULL;

	start_server(f, script);
	assert_int_equal(qmp_connect_fd(f->fd, 2000, &q), -EPROTO);
	finish_server(f);
}

static void test_large_message(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, "{\"execute\":\"big\",\"id\":1}\r\n", 0 },
		{ SEND_BIG, NULL, 1024 * 1024 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	json_object *ret = NULL;
	const char *s;

	connect_server(f, script);
	assert_int_equal(qmp_execute(f->q, "big", NULL, 5000, &ret, NULL, 0), 0);
	assert_true(json_object_is_type(ret, json_type_string));
	assert_int_equal(json_object_get_string_len(ret), 1024 * 1024);
	s = json_object_get_string(ret);
	assert_int_equal(s[0], 'x');
	assert_int_equal(s[1024 * 1024 - 1], 'x');
	json_object_put(ret);
	finish_server(f);
}

static void test_over_cap(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, "{\"execute\":\"big\",\"id\":1}\r\n", 0 },
		{ SEND_BIG, NULL, QMP_MAX_MESSAGE + 1024 * 1024 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	json_object *ret = NULL;

	connect_server(f, script);
	assert_int_equal(qmp_execute(f->q, "big", NULL, 10000, &ret, NULL, 0), -EPROTO);
	assert_null(ret);
	finish_server(f);
}

static void test_greeting_timeout(void **state)
{
	static const struct step script[] = { { END, NULL, 0 } };
	struct fixture *f = *state;
	struct qmp *q = NULL;
	uint64_t t0 = now_ms(), dt;

	start_server(f, script);
	assert_int_equal(qmp_connect_fd(f->fd, 200, &q), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 200 && dt < 1500);
	assert_null(q);
	finish_server(f);
}

static void test_capabilities_timeout(void **state)
{
	static const struct step script[] = {
		{ SEND, GREETING, 0 },
		{ EXPECT, CAPS, 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	struct qmp *q = NULL;

	start_server(f, script);
	assert_int_equal(qmp_connect_fd(f->fd, 200, &q), -ETIMEDOUT);
	finish_server(f);
}

static void test_wait_event(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ SEND, EVENT("RTC_CHANGE", "{\"offset\": 0}"), 0 },
		{ SLEEP_MS, NULL, 20 },
		{ SEND, EVENT("STOP", "{}"), 0 },
		{ SLEEP_MS, NULL, 20 },
		{ SEND, SHUTDOWN_EVENT, 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	struct qmp_event e;
	json_object *guest;

	connect_server(f, script);
	assert_int_equal(qmp_wait_event(f->q, "SHUTDOWN", 2000, &e), 1);
	assert_string_equal(e.name, "SHUTDOWN");
	assert_int_equal(e.seconds, 1700000000);
	assert_int_equal(e.micros, 123456);
	assert_true(json_object_object_get_ex(e.data, "guest", &guest));
	assert_true(json_object_is_type(guest, json_type_boolean));
	assert_true(json_object_get_boolean(guest));
	assert_string_equal(member_string(e.data, "reason"), "guest-shutdown");
	qmp_event_clear(&e);
	/* The two before it are still there, in order. */
	assert_next_event(f->q, "RTC_CHANGE");
	assert_next_event(f->q, "STOP");
	assert_no_event(f->q);
	finish_server(f);
}

static void test_wait_event_timeout(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ SEND, EVENT("STOP", "{}"), 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	struct qmp_event e;
	uint64_t t0;

	connect_server(f, script);
	t0 = now_ms();
	assert_int_equal(qmp_wait_event(f->q, "SHUTDOWN", 150, &e), 0);
	assert_true(now_ms() - t0 >= 150);
	assert_int_equal(qmp_wait_event(f->q, "STOP", 0, &e), 1); /* already queued */
	qmp_event_clear(&e);
	assert_no_event(f->q);
	finish_server(f);
}

/* ---- qmp_connect() on a path ---- */

static void make_dir(struct fixture *f, char *path, size_t len)
{
	strcpy(f->dir, "/tmp/test-qmp-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, len, "%s/qmp.sock", f->dir);
}

static void test_connect_missing_socket(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct qmp *q = NULL;
	uint64_t t0;
	int fd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	make_dir(f, path, sizeof(path));
	t0 = now_ms();
	assert_int_equal(qmp_connect(path, 150, &q), -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 150);
	assert_null(q);

	/* A stale socket nobody listens on: refused until the timeout. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(qmp_connect(path, 150, &q), -ETIMEDOUT);
	assert_int_equal(qmp_connect("/tmp/" "a-very-long-name-that-does-not-fit-in-sun-path-because-"
				     "it-goes-on-and-on-and-on-for-more-than-108-bytes.sock",
				     100, &q),
			 -ENAMETOOLONG);
}

/* The server binds its socket only after a while: qmp_connect() keeps trying. */
static void test_connect_retries(void **state)
{
	static const struct step script[] = {
		HANDSHAKE,
		{ EXPECT, QUERY_STATUS(1), 0 },
		{ SEND, STATUS_REPLY(1), 0 },
		{ END, NULL, 0 },
	};
	struct fixture *f = *state;
	char path[128];
	int status;

	make_dir(f, path, sizeof(path));
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int l, c;

		sleep_ms(150);
		l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		strcpy(sa.sun_path, path);
		if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0)
			die("listen: %s", strerror(errno));
		c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			die("accept: %s", strerror(errno));
		close(l);
		run_script(c, script);
	}
	assert_int_equal(qmp_connect(path, 3000, &f->q), 0);
	assert_query_status(f->q);
	qmp_close(f->q);
	f->q = NULL;
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	f->pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- qmp_feed(), the parser alone ---- */

static void test_feed_rejects(void **state)
{
#define B(s) { s, sizeof(s) - 1 }
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
		B("[1, 2]\r\n"),                       /* not an object */
		B("null\r\n"),                         /* json-c returns NULL for it */
		B("{'event': 'STOP'}\r\n"),            /* strict JSON only */
		B("{\"event\": 3}\r\n"),               /* event name not a string */
		B("{\"return\": {}}\r\n"),             /* a reply nobody waits for */
		B("{\"return\": {}, \"id\": 7}\r\n"),  /* an id never sent */
		B("{\"return\": {}, \"id\": \"x\"}\r\n"), /* nor a string id */
		B(GREETING),                           /* a second greeting */
		B("\r\n\0{}"),                        /* NUL */
		B("{\"event\": \"A\0\"}"),            /* NUL in a string */
	};
#undef B
	static const struct step script[] = { HANDSHAKE, { END, NULL, 0 } };
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		connect_server(f, script);
		assert_int_equal(qmp_feed(f->q, bad[i].s, bad[i].len), -EPROTO);
		assert_int_equal(qmp_process_input(f->q), -EPROTO);
		finish_server(f);
	}

	/* Unknown kinds of message are ignored; nesting deeper than 64 is refused. */
	connect_server(f, script);
	assert_int_equal(qmp_feed(f->q, "{\"something-new\": 1}\r\n", 22), 0);
	{
		char deep[256] = "{\"event\": \"X\", \"data\": ";
		size_t n = strlen(deep);

		for (int i = 0; i < 70; i++)
			deep[n++] = '[';
		deep[n] = '\0';
		assert_int_equal(qmp_feed(f->q, deep, n), -EPROTO);
	}
	finish_server(f);
}

/*
 * The size cap is per message: two messages that each take most of QMP_MAX_MESSAGE, both
 * arriving in many reads (as large ones do), are each accepted; only one message over the cap
 * is refused.
 */
static void test_cap_per_message(void **state)
{
	static const struct step script[] = { HANDSHAKE, { END, NULL, 0 } };
	static const char head[] = "{\"event\": \"BIG\", \"data\": {\"x\": \"";
	static const char tail[] = "\"}}\r\n";
	size_t fill = QMP_MAX_MESSAGE / 10 * 6, len = sizeof(head) - 1 + fill + sizeof(tail) - 1;
	struct fixture *f = *state;
	char *msg = malloc(len);
	struct qmp_event e;

	assert_non_null(msg);
	memcpy(msg, head, sizeof(head) - 1);
	memset(msg + sizeof(head) - 1, 'x', fill);
	memcpy(msg + sizeof(head) - 1 + fill, tail, sizeof(tail) - 1);
	connect_server(f, script);
	for (int m = 0; m < 2; m++)
		for (size_t off = 0; off < len; off += 1 << 20)
			if (qmp_feed(f->q, msg + off, len - off < (1 << 20) ? len - off : 1 << 20) != 0)
				fail_msg("message %d refused at offset %zu", m + 1, off);
	for (int m = 0; m < 2; m++) {
		assert_int_equal(qmp_next_event(f->q, &e), 1);
		assert_string_equal(e.name, "BIG");
		qmp_event_clear(&e);
	}
	assert_int_equal(qmp_next_event(f->q, &e), 0);
	finish_server(f);
	free(msg);
}

/* ---- a real QEMU ---- */

static bool find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, name);
		if (access(buf, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

static void test_real_qemu(void **state)
{
	struct fixture *f = *state;
	char path[128], chardev[256];
	json_object *ret = NULL;
	struct qmp_event e;
	const char *status;
	int wstatus = 0;
	pid_t r = 0;

	if (!find_in_path("qemu-system-x86_64"))
		test_skip("no qemu-system-x86_64 (package qemu-system-x86)");
	make_dir(f, path, sizeof(path));
	snprintf(chardev, sizeof(chardev), "socket,id=m,path=%s,server=on,wait=off", path);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-machine", "none", "-nodefaults",
		       "-display", "none", "-chardev", chardev, "-mon", "chardev=m,mode=control",
		       "-S", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(qmp_connect(path, 5000, &f->q), 0);
	assert_int_equal(qmp_execute(f->q, "query-status", NULL, 5000, &ret, NULL, 0), 0);
	status = member_string(ret, "status");
	assert_non_null(status);
	assert_true(streq(status, "prelaunch") || streq(status, "paused"));
	json_object_put(ret);

	{
		char err[256] = "";

		assert_int_equal(qmp_execute(f->q, "no-such-command", NULL, 5000, NULL, err,
					     sizeof(err)),
				 -EREMOTEIO);
		assert_string_equal(err, "The command no-such-command has not been found");
	}

	assert_int_equal(qmp_execute(f->q, "quit", NULL, 5000, NULL, NULL, 0), 0);
	assert_int_equal(qmp_wait_event(f->q, "SHUTDOWN", 5000, &e), 1);
	assert_false(json_object_get_boolean(json_object_object_get(e.data, "guest")));
	assert_string_equal(member_string(e.data, "reason"), "host-qmp-quit");
	qmp_event_clear(&e);

	for (int i = 0; i < 500 && (r = waitpid(f->pid, &wstatus, WNOHANG)) == 0; i++)
		sleep_ms(10);
	assert_int_equal(r, f->pid);
	f->pid = 0;
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
	assert_int_equal(qmp_process_input(f->q), -ECONNRESET);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_handshake_bytes),
		T(test_process_input_bytewise),
		T(test_command_reply),
		T(test_reply_bytewise),
		T(test_merged_messages),
		T(test_events_between),
		T(test_stale_reply),
		T(test_foreign_id),
		T(test_error_reply),
		T(test_error_without_id),
		T(test_close_mid_message),
		T(test_send_to_closed),
		T(test_garbage_greeting),
		T(test_garbage_after_handshake),
		T(test_not_a_greeting),
		T(test_capabilities_refused),
		T(test_large_message),
		T(test_over_cap),
		T(test_greeting_timeout),
		T(test_capabilities_timeout),
		T(test_wait_event),
		T(test_wait_event_timeout),
		T(test_connect_missing_socket),
		T(test_connect_retries),
		T(test_cap_per_message),
		T(test_feed_rejects),
		T(test_real_qemu),
	};

	if (getenv("QMP_TEST_DEBUG")) /* the library's reasons, on stderr */
		log_set_max_level(LOG_LVL_DEBUG);
	return cmocka_run_group_tests_name("qmp", tests, NULL, NULL);
}
