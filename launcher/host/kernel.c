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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmodlib.h"
#include "log.h"
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
 * unbind while QEMU holds the device, snd_hda_intel with the card open). It is done in a
 * child so that vmrun itself always gets control back and can say what hung.
 */
static int real_sysfs_write(void *data, const struct sysroot *s, const char *path,
			    const char *value, unsigned timeout_ms, int *ret_stuck_pid)
{
	_cleanup_close_ int pidfd = -1;
	struct pollfd pfd;
	int status, r;
	pid_t pid;

	if (s->sys_fd < 0)
		return -ENOENT;
	debug_delay();
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		size_t len = strlen(value);
		int fd = openat(s->sys_fd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		ssize_t n;

		if (fd < 0)
			_exit(errno & 0xff);
		n = write(fd, value, len);
		if (n < 0)
			_exit(errno & 0xff);
		_exit((size_t)n == len ? 0 : EIO);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		r = -errno;
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		return r;
	}
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	do
		r = poll(&pfd, 1, (int)timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		/* Still in the kernel: SIGKILL is delivered when (if) the write returns. */
		(void)kill(pid, SIGKILL);
		if (ret_stuck_pid)
			*ret_stuck_pid = pid;
		return -ETIMEDOUT;
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status))
		return -EINTR;
	return -WEXITSTATUS(status);
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
	int status = 0, devnull;
	pid_t pid;

	(void)data;
	(void)s;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execvp("systemctl", argv);
		_exit(127);
	}
	for (int waited = 0; waited < 30000; waited += 20) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 :
			       WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -EIO;
		if (r < 0 && errno != EINTR)
			return -errno;
		real_sleep_ms(NULL, 20);
	}
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	return -ETIMEDOUT;
}

const struct kernel_ops kernel_real = {
	.sysfs_write = real_sysfs_write,
	.module_unload = real_module_unload,
	.module_load = real_module_load,
	.sleep_ms = real_sleep_ms,
	.con2fb_get = real_con2fb_get,
	.con2fb_set = real_con2fb_set,
	.service = real_service,
};
