/* SPDX-License-Identifier: MIT */
#include "realqemu.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void nap_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = calloc(64 * 1024, 1);
	size_t n = 0;

	if (!s)
		abort();
	if (f) {
		n = fread(s, 1, 64 * 1024 - 1, f);
		fclose(f);
	}
	s[n] = '\0';
	return s;
}

static pid_t spawn(char *const argv[], const char *logpath, const char *tz)
{
	size_t n = 0;
	char **v;
	pid_t pid;

	while (argv[n])
		n++;
	v = calloc(n + 2, sizeof(*v));
	if (!v)
		abort();
	memcpy(v, argv, n * sizeof(*v));
	v[n] = (char *)"-S";
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		/* Never outliving the test, whatever ends it (a failed assertion longjmps past
		 * rq_stop). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(126);
		if (null < 0 || log < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(log, 2) < 0)
			_exit(126);
		if (tz)
			setenv("TZ", tz, 1);
		execvp(v[0], v);
		_exit(127);
	}
	free(v);
	return pid;
}

static int reap(pid_t pid, unsigned timeout_ms)
{
	int status = 0;

	for (unsigned waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -errno;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return status;
		}
		nap_ms(10);
	}
}

int rq_start(char *const argv[], const char *qmp_sock, const char *logpath, const char *tz,
	     struct rq *ret, char **ret_stderr)
{
	struct rq r = { .log = strdup(logpath) };
	int status;

	*ret_stderr = NULL;
	r.pid = spawn(argv, logpath, tz);
	if (r.pid < 0)
		return -errno;
	/* The socket appears once QEMU has parsed everything and created the machine's devices;
	 * QEMU exiting first means it refused the command line. */
	for (unsigned waited = 0; waited < 20000; waited += 20) {
		if (waitpid(r.pid, &status, WNOHANG) == r.pid) {
			*ret_stderr = slurp(logpath);
			free(r.log);
			return -ECHILD;
		}
		if (access(qmp_sock, F_OK) == 0 && qmp_connect(qmp_sock, 5000, &r.q) == 0) {
			*ret = r;
			return 0;
		}
		nap_ms(20);
	}
	kill(r.pid, SIGKILL);
	waitpid(r.pid, &status, 0);
	*ret_stderr = slurp(logpath);
	free(r.log);
	return -ETIMEDOUT;
}

int rq_run_to_exit(char *const argv[], const char *logpath, unsigned timeout_ms, char **ret_stderr)
{
	pid_t pid = spawn(argv, logpath, NULL);
	int status;

	if (pid < 0)
		return -errno;
	status = reap(pid, timeout_ms);
	*ret_stderr = slurp(logpath);
	return status;
}

json_object *rq_query(struct rq *r, const char *cmd, json_object *args)
{
	json_object *ret = NULL;
	char err[512] = "";

	if (qmp_execute(r->q, cmd, args, 10000, &ret, err, sizeof(err)) < 0)
		fail_msg("QMP %s: %s", cmd, err);
	return ret;
}

json_object *rq_qom_get(struct rq *r, const char *path, const char *prop)
{
	json_object *args = json_object_new_object();

	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "property", json_object_new_string(prop));
	return rq_query(r, "qom-get", args);
}

void rq_stop(struct rq *r)
{
	if (r->q) {
		(void)qmp_execute(r->q, "quit", NULL, 5000, NULL, NULL, 0);
		qmp_close(r->q);
	}
	if (r->pid > 0)
		(void)reap(r->pid, 5000);
	free(r->log);
	*r = (struct rq){ 0 };
}

char *rq_first_file(const char *pattern)
{
	glob_t g;
	char *found = NULL;
	struct stat st;

	if (glob(pattern, 0, NULL, &g) != 0)
		return NULL;
	for (size_t i = 0; i < g.gl_pathc && !found; i++)
		if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode) && access(g.gl_pathv[i], R_OK) == 0)
			found = strdup(g.gl_pathv[i]);
	globfree(&g);
	return found;
}

bool rq_have_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	for (path = path ? path : "/usr/bin:/bin"; *path;) {
		size_t len = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, name);
		if (access(buf, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

static size_t add_bus(json_object *devices, char ids[][10], size_t n, size_t cap)
{
	for (size_t i = 0; i < json_object_array_length(devices); i++) {
		json_object *d = json_object_array_get_idx(devices, i), *id, *v, *dv, *br, *sub;

		if (json_object_object_get_ex(d, "id", &id) &&
		    json_object_object_get_ex(id, "vendor", &v) &&
		    json_object_object_get_ex(id, "device", &dv) && n < cap)
			snprintf(ids[n++], 10, "%04x:%04x", (unsigned)json_object_get_int(v),
				 (unsigned)json_object_get_int(dv));
		if (json_object_object_get_ex(d, "pci_bridge", &br) &&
		    json_object_object_get_ex(br, "devices", &sub))
			n = add_bus(sub, ids, n, cap);
	}
	return n;
}

size_t rq_pci_ids(struct rq *r, char ids[][10], size_t cap)
{
	json_object *buses = rq_query(r, "query-pci", NULL), *devs;
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(buses); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(buses, i), "devices", &devs))
			n = add_bus(devs, ids, n, cap);
	json_object_put(buses);
	return n;
}
