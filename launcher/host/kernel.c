/* SPDX-License-Identifier: MIT */
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmodlib.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

/*
 * VMRUN_DEBUG_WRITE_DELAY_MS=N sleeps before every sysfs write: the lab's crash tests use it
 * to widen the windows between steps so that a SIGKILL lands inside each of them.
 */
static void debug_delay(void)
{
	const char *v = getenv("VMRUN_DEBUG_WRITE_DELAY_MS");
	char *end;
	unsigned long ms;

	if (!v)
		return;
	ms = strtoul(v, &end, 10);
	if (*end || ms == 0 || ms > 10000)
		return;
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * A sysfs write can block in the kernel for ever (NVIDIA unbind with clients left, vfio-pci
 * unbind while QEMU holds the device, snd_hda_intel with the card open; even driver_override
 * takes the device's lock, which a stuck remove holds). So every write is made by a writer
 * child, and vmrun waits for its answer with a deadline: one that hangs is left to the kernel
 * and vmrun gets control back to say what hung. One writer serves a whole switch and leaves
 * after WRITER_IDLE_MS without work: a process start costs more than all of a switch's writes
 * on a slow machine (`make bench`).
 */
#define WRITER_IDLE_MS 2000
#define WRITER_REQ_MAX 4352 /* a path under /sys and a value, with their NULs */

static struct writer {
	pid_t pid;
	int pidfd, sock, sys_fd; /* sys_fd: the tree it writes in, as the caller passed it */
	dev_t sys_dev;           /* ...and that tree's identity: an fd number is reused once closed */
	ino_t sys_ino;
	pid_t owner;             /* the process it writes for: a forked child (the guard) has none */
} w = { .pid = 0, .pidfd = -1, .sock = -1, .sys_fd = -1 };

static void remember_tree(int sys_fd)
{
	struct stat st;

	w.sys_fd = sys_fd;
	if (fstat(sys_fd, &st) == 0) {
		w.sys_dev = st.st_dev;
		w.sys_ino = st.st_ino;
	}
}

static bool same_tree(int sys_fd)
{
	struct stat st;

	return w.sys_fd == sys_fd && fstat(sys_fd, &st) == 0 && st.st_dev == w.sys_dev &&
	       st.st_ino == w.sys_ino;
}

/* In a process forked since (the guard), the parent's writer is not ours: forgotten, its fds
 * (closed or not by then) left alone. */
static void writer_forget_inherited(void)
{
	if (w.pid > 0 && w.owner != getpid())
		w = (struct writer){ .pid = 0, .pidfd = -1, .sock = -1, .sys_fd = -1 };
}

static int write_attr(int sys_fd, const char *path, const char *value, size_t len)
{
	_cleanup_close_ int fd = openat(sys_fd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/*
 * Reads too: driver_override's show takes the device's lock, which a stuck remove holds for
 * ever, so a plain read of it would leave vmrun itself in D state (the lab's NVIDIA model hung
 * `vmrun attach` that way). Such reads go through the writer as well, with the same deadline.
 */
static void writer_read(int sock, int sys_fd, const char *path)
{
	char out[sizeof(int) + ATTR_MAX];
	int r = read_attr_at(sys_fd, path, out + sizeof(int), ATTR_MAX);
	size_t len = sizeof(int) + (r >= 0 ? strlen(out + sizeof(int)) + 1 : 0);

	memcpy(out, &r, sizeof(r));
	if (send(sock, out, len, MSG_NOSIGNAL) != (ssize_t)len)
		_exit(0);
}

/* Requests are "wPATH\0VALUE" (a write) or "rPATH\0" (a read), one per packet; a write's answer
 * is its 0 or -errno, a read's that and the value. */
static _Noreturn void writer_main(int sock, int sys_fd)
{
	char buf[WRITER_REQ_MAX + 1];

	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		int r = poll(&p, 1, WRITER_IDLE_MS);
		size_t plen;
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(0); /* idle: the parent starts another when it needs one */
		n = recv(sock, buf, WRITER_REQ_MAX, 0);
		if (n <= 0)
			_exit(0);
		buf[n] = '\0';
		plen = strlen(buf + 1) + 1; /* the op and the path */
		if (buf[0] == 'r' && (size_t)n == plen + 1) {
			writer_read(sock, sys_fd, buf + 1);
			continue;
		}
		r = buf[0] == 'w' && (size_t)n > plen ?
			    write_attr(sys_fd, buf + 1, buf + plen + 1, (size_t)n - plen - 1) : -EINVAL;
		if (send(sock, &r, sizeof(r), MSG_NOSIGNAL) != sizeof(r))
			_exit(0);
	}
}

static void writer_drop(bool kill_it)
{
	if (w.pid > 0 && kill_it)
		(void)kill(w.pid, SIGKILL); /* delivered when (if) the write returns */
	else if (w.pid > 0)
		(void)waitpid(w.pid, NULL, WNOHANG);
	w.sock = safe_close(w.sock);
	w.pidfd = safe_close(w.pidfd);
	w.pid = 0;
	w.sys_fd = -1;
}

static int writer_start(int sys_fd)
{
	int sv[2], keep_a, keep_b;
	pid_t parent = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	w.pid = fork();
	if (w.pid < 0) {
		w.pid = 0;
		safe_close(sv[0]);
		safe_close(sv[1]);
		return -errno;
	}
	if (w.pid == 0) {
		/* Nothing of the parent's but the tree and the socket: a group lock's fd kept
		 * here would hold the lock after the parent let it go. */
		keep_a = sys_fd < sv[1] ? sys_fd : sv[1];
		keep_b = sys_fd < sv[1] ? sv[1] : sys_fd;
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		if (keep_a > 3)
			(void)close_range(3, (unsigned)keep_a - 1, 0);
		if (keep_b > keep_a + 1)
			(void)close_range((unsigned)keep_a + 1, (unsigned)keep_b - 1, 0);
		(void)close_range((unsigned)keep_b + 1, ~0U, 0);
		writer_main(sv[1], sys_fd);
	}
	safe_close(sv[1]);
	w.sock = sv[0];
	remember_tree(sys_fd);
	w.owner = parent;
	w.pidfd = (int)syscall(SYS_pidfd_open, w.pid, 0);
	return 0;
}

/* The writer for this tree, alive: a new one when there is none, it left, or the tree changed. */
static int writer_get(int sys_fd)
{
	struct pollfd p;

	writer_forget_inherited();
	p = (struct pollfd){ .fd = w.pidfd, .events = POLLIN };
	if (w.pid > 0 && (!same_tree(sys_fd) || (w.pidfd >= 0 && poll(&p, 1, 0) > 0)))
		writer_drop(!same_tree(sys_fd));
	return w.pid > 0 ? 0 : writer_start(sys_fd);
}

/* One request (op 'w' with a value, 'r' without); the answer, at least its int, in ans. */
static int writer_request(char op, const char *path, const char *value, unsigned timeout_ms,
			  void *ans, size_t cap, size_t *ret_len)
{
	char req[WRITER_REQ_MAX];
	size_t plen = strlen(path), vlen = value ? strlen(value) : 0;
	struct pollfd p = { .fd = w.sock, .events = POLLIN };
	ssize_t n;
	int r;

	if (1 + plen + 1 + vlen > sizeof(req))
		return -ENAMETOOLONG;
	req[0] = op;
	memcpy(req + 1, path, plen + 1);
	if (vlen)
		memcpy(req + 1 + plen + 1, value, vlen);
	if (send(w.sock, req, 1 + plen + 1 + vlen, MSG_NOSIGNAL) < 0)
		return -EPIPE;
	do
		r = poll(&p, 1, (int)timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	n = recv(w.sock, ans, cap, 0);
	if (n < (ssize_t)sizeof(int))
		return -EPIPE;
	*ret_len = (size_t)n;
	return 0;
}

/* A request to the tree's writer, asked again of a new one if the old one had just left; a
 * request past its deadline leaves the writer to the kernel (*ret_stuck_pid). */
static int writer_ask(const struct sysroot *s, char op, const char *path, const char *value,
		      unsigned timeout_ms, void *ans, size_t cap, size_t *ret_len, int *ret_stuck_pid)
{
	int r;

	if (s->sys_fd < 0)
		return -ENOENT;
	for (int attempt = 0; attempt < 2; attempt++) {
		r = writer_get(s->sys_fd);
		if (r < 0)
			return r;
		r = writer_request(op, path, value, timeout_ms, ans, cap, ret_len);
		if (r == -ETIMEDOUT) {
			if (ret_stuck_pid)
				*ret_stuck_pid = w.pid;
			writer_drop(true);
			return r;
		}
		if (r == 0)
			return 0;
		writer_drop(false);
		if (r != -EPIPE)
			return r;
	}
	return -EPIPE;
}

int sysfs_read_bounded(const struct sysroot *s, const char *path, char *buf, size_t cap,
		       unsigned timeout_ms)
{
	char ans[sizeof(int) + ATTR_MAX];
	size_t len = 0;
	int r = writer_ask(s, 'r', path, NULL, timeout_ms, ans, sizeof(ans), &len, NULL), v;

	if (r < 0)
		return r;
	memcpy(&v, ans, sizeof(v));
	if (v < 0)
		return v;
	if (len <= sizeof(int) || ans[len - 1] != '\0' || len - sizeof(int) > cap)
		return len - sizeof(int) > cap ? -EFBIG : -EPIPE;
	memcpy(buf, ans + sizeof(int), len - sizeof(int));
	return 0;
}

/* The end of a switch: the writer is told to leave (its socket closes) and is reaped. */
static void real_idle(void *data)
{
	struct pollfd p;

	writer_forget_inherited();
	if (w.pid <= 0)
		return;
	p = (struct pollfd){ .fd = w.pidfd, .events = POLLIN };
	w.sock = safe_close(w.sock);
	if (w.pidfd >= 0)
		while (poll(&p, 1, 1000) < 0 && errno == EINTR)
			;
	writer_drop(false);
}

static int real_sysfs_write(void *data, const struct sysroot *s, const char *path,
			    const char *value, unsigned timeout_ms, int *ret_stuck_pid)
{
	size_t len = 0;
	int answer = 0, r;

	debug_delay();
	r = writer_ask(s, 'w', path, value, timeout_ms, &answer, sizeof(answer), &len, ret_stuck_pid);
	return r < 0 ? r : answer;
}

static void kmod_quiet(void *data, int priority, const char *file, int line, const char *fn,
		       const char *format, va_list args)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), format, args);
	log_debug("libkmod: %s", buf);
}

static struct kmod_ctx *kmod_for(const struct sysroot *s, const struct kmodlib **ret)
{
	struct kmod_ctx *ctx;

	/* libkmod works on the running kernel only; a test root never reaches here. */
	*ret = streq(s->path, "/") ? kmodlib_get(NULL) : NULL;
	if (!*ret)
		return NULL;
	ctx = (*ret)->new(NULL, NULL);
	if (ctx)
		(*ret)->set_log_fn(ctx, kmod_quiet, NULL);
	return ctx;
}

static int real_module_unload(void *data, const struct sysroot *s, const char *module)
{
	const struct kmodlib *lib;
	struct kmod_ctx *ctx = kmod_for(s, &lib);
	struct kmod_module *m = NULL;
	int r;

	if (!ctx)
		return -EOPNOTSUPP;
	r = lib->module_new_from_name(ctx, module, &m);
	if (r >= 0)
		r = lib->module_remove_module(m, 0);
	lib->module_unref(m);
	lib->unref(ctx);
	return r;
}

static int real_module_load(void *data, const struct sysroot *s, const char *module)
{
	const struct kmodlib *lib;
	struct kmod_ctx *ctx = kmod_for(s, &lib);
	struct kmod_list *list = NULL;
	int r;

	if (!ctx)
		return -EOPNOTSUPP;
	r = lib->module_new_from_lookup(ctx, module, &list);
	if (r >= 0 && !list)
		r = -ENOENT;
	for (struct kmod_list *l = list; l; l = lib->list_next(list, l)) {
		struct kmod_module *m = lib->module_get_module(l);

		if (r >= 0)
			r = lib->module_probe_insert_module(m, 0, NULL, NULL, NULL, NULL);
		lib->module_unref(m);
	}
	lib->module_unref_list(list);
	lib->unref(ctx);
	return r == -EEXIST ? 0 : r;
}

static void real_sleep_ms(void *data, unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A registered framebuffer's node: fb (>= 0) itself, else the first one there is. */
static int open_fb(const struct sysroot *s, int fb)
{
	int first_err = -ENODEV;
	char name[32];

	for (int i = fb >= 0 ? fb : 0; i < 32; i++) {
		int fd;

		snprintf(name, sizeof(name), "fb%d", i);
		fd = s->dev_fd < 0 ? -1 : openat(s->dev_fd, name, O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			return fd;
		if (fb >= 0)
			return -errno;
		/* A node there that this process may not open (a user's, /dev/fb* being the video
		 * group's) says more than "none" would. */
		if (errno != ENOENT && errno != ENXIO && errno != ENODEV && first_err == -ENODEV)
			first_err = -errno;
	}
	return first_err;
}

static int real_con2fb_get(void *data, const struct sysroot *s, unsigned console, int *ret_fb)
{
	struct fb_con2fbmap m = { .console = console };
	int fd = open_fb(s, -1), r = 0;

	(void)data;
	if (fd < 0)
		return fd;
	if (ioctl(fd, FBIOGET_CON2FBMAP, &m) < 0)
		r = -errno;
	else
		*ret_fb = (int)m.framebuffer;
	safe_close(fd);
	return r;
}

static int real_con2fb_set(void *data, const struct sysroot *s, unsigned console, int fb)
{
	struct fb_con2fbmap m = { .console = console, .framebuffer = (unsigned)fb };
	int fd = open_fb(s, fb), r = 0;

	(void)data;
	if (fd < 0)
		return fd;
	if (ioctl(fd, FBIOPUT_CON2FBMAP, &m) < 0)
		r = -errno;
	safe_close(fd);
	return r;
}

/* systemctl stop|start UNIT, at most 30 s (a service's own stop timeout is longer: the switch
 * must not hang on one); its output is the caller's to ignore. */
static int real_service(void *data, const struct sysroot *s, const char *unit, bool start)
{
	char *argv[] = { (char *)"systemctl", (char *)(start ? "start" : "stop"), (char *)"--",
			 (char *)unit, NULL };
	const struct spawn_opts o = spawn_opts_default();
	int r;

	(void)data;
	(void)s;
	r = spawn_run(argv, &o, 30000);
	return r <= 0 ? r : -EIO; /* an exit status, or a signal: it failed */
}

const struct kernel_ops kernel_real = {
	.sysfs_write = real_sysfs_write,
	.idle = real_idle,
	.module_unload = real_module_unload,
	.module_load = real_module_load,
	.sleep_ms = real_sleep_ms,
	.con2fb_get = real_con2fb_get,
	.con2fb_set = real_con2fb_set,
	.service = real_service,
};
