/* SPDX-License-Identifier: MIT */
/* vmrun stop NAME [--force], and the running VMs part of vmrun status. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../qmp/qmp.h"
#include "cli.h"
#include "journal.h"
#include "log.h"
#include "paths.h"
#include "vmdir.h"

static bool vm_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && name_is_safe(s) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int control(const char *dir, const char *cmd, json_object **ret, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct qmp *q;
	int r;

	snprintf(path, sizeof(path), "%s/control.sock", dir);
	r = qmp_connect(path, 3000, &q);
	if (r < 0) {
		snprintf(err, errlen, "cannot connect to %.200s: %s", path, strerror(-r));
		return r;
	}
	r = qmp_execute(q, cmd, NULL, 5000, ret, err, errlen);
	qmp_close(q);
	return r;
}

/* Wait for the supervising vmrun to finish giving the GPU back. */
static bool wait_pid_gone(pid_t pid, unsigned timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p = { fd, POLLIN, 0 };
	bool gone;

	if (fd < 0)
		return errno == ESRCH;
	gone = poll(&p, 1, (int)timeout_ms) > 0;
	close(fd);
	return gone;
}

int cmd_stop(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "force", no_argument, NULL, 'f' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	_cleanup_free_ char *dir = NULL;
	struct vm_info vi;
	bool force = false;
	char err[512] = "";
	int o;

	while ((o = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		if (o == 'f')
			force = true;
		else if (o == 'h') {
			printf("vmrun stop NAME [--force]\n  Ask the VM to power down (ACPI); --force "
			       "makes QEMU quit at once. Waits until its vmrun has given the GPU back.\n");
			return EXIT_OK;
		} else
			return EXIT_USAGE;
	}
	if (argc - optind != 1 || !vm_name_ok(argv[optind])) {
		log_err("stop: expected one VM name ([A-Za-z0-9._-], at most 64 characters)");
		return EXIT_USAGE;
	}
	if (vm_runtime_dir(argv[optind], c->uid, &dir) < 0)
		return EXIT_ERROR;
	if (!vm_is_running(dir) || vm_info_read(dir, &vi) < 0) {
		log_err("VM '%s' is not running", argv[optind]);
		return EXIT_NOT_READY;
	}
	if (control(dir, force ? "quit" : "system_powerdown", NULL, err, sizeof(err)) < 0 &&
	    !force) {
		log_err("stop %s: %s", vi.name, err);
		return EXIT_ERROR;
	}
	printf("%s: %s; waiting for vmrun (pid %d) to give the GPU back\n", vi.name,
	       force ? "QEMU told to quit" : "power-down requested", (int)vi.pid);
	fflush(stdout);
	if (!wait_pid_gone(vi.pid, 15 * 60 * 1000)) {
		log_err("%s: vmrun pid %d is still running after 15 minutes", vi.name, (int)vi.pid);
		return EXIT_ERROR;
	}
	printf("%s: stopped\n", vi.name);
	return EXIT_OK;
}

static json_object *vm_entry(const char *dir, const struct vm_info *vi, int state_fd, bool *pending)
{
	json_object *e = json_object_new_object(), *groups = json_object_new_array(), *ret = NULL;
	bool running = vm_is_running(dir);
	char err[256];

	json_object_object_add(e, "name", json_object_new_string(vi->name));
	json_object_object_add(e, "pid", json_object_new_int(vi->pid));
	json_object_object_add(e, "qemu_pid", json_object_new_int(vi->qemu_pid));
	json_object_object_add(e, "running", json_object_new_boolean(running));
	json_object_object_add(e, "uptime", json_object_new_int64(running ? time(NULL) - vi->started : 0));
	json_object_object_add(e, "profile", json_object_new_string(vi->profile));
	if (running && control(dir, "query-status", &ret, err, sizeof(err)) == 0 && ret) {
		json_object *st;

		if (json_object_object_get_ex(ret, "status", &st))
			json_object_object_add(e, "qmp_status", json_object_get(st));
		json_object_put(ret);
	}
	for (size_t i = 0; i < vi->n_groups; i++) {
		struct journal j;
		bool journaled = state_fd >= 0 && journal_read(state_fd, vi->groups[i], &j) == 0;

		if (journaled)
			journal_clear(&j);
		/* A dead vmrun that still has a group on vfio-pci: `vmrun restore` finishes it.
		 * Users cannot read the journals; a vm.json left behind says the same. */
		if (!running && (journaled || state_fd < 0))
			*pending = true;
		json_object_array_add(groups, json_object_new_int(vi->groups[i]));
	}
	json_object_object_add(e, "gpu_groups", groups);
	json_object_object_add(e, "restore_pending", json_object_new_boolean(!running && *pending));
	return e;
}

json_object *vm_list(struct cli *c, int state_fd, bool *pending)
{
	json_object *arr = json_object_new_array();
	_cleanup_free_ char *one = NULL;
	char parent[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (vm_runtime_dir("x", c->uid, &one) < 0)
		return arr;
	snprintf(parent, sizeof(parent), "%.*s", (int)(strlen(one) - 2), one);
	d = opendir(parent);
	while (d && (de = readdir(d))) {
		char dir[PATH_MAX + 256];
		struct vm_info vi;
		bool p = false;

		if (!vm_name_ok(de->d_name))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", parent, de->d_name);
		if (vm_info_read(dir, &vi) < 0)
			continue;
		json_object_array_add(arr, vm_entry(dir, &vi, state_fd, &p));
		*pending |= p;
	}
	if (d)
		closedir(d);
	return arr;
}
