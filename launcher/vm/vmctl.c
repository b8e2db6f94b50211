/* SPDX-License-Identifier: MIT */
#include "vmctl.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "journal.h"
#include "names.h"
#include "paths.h"
#include "qmp.h"
#include "util.h"

int vmctl_control(const char *dir, const char *cmd, json_object **ret, char *err, size_t errlen)
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

bool vmctl_wait_gone(pid_t pid, unsigned timeout_ms)
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

static void fill_entry(const char *dir, int dfd, int switch_fd, struct vmctl_entry *e)
{
	json_object *ret = NULL, *st;
	char err[256];

	e->running = vmdir_is_running(dfd);
	if (e->running && vmctl_control(dir, "query-status", &ret, err, sizeof(err)) == 0 && ret) {
		if (json_object_object_get_ex(ret, "status", &st))
			snprintf(e->guest, sizeof(e->guest), "%s", json_object_get_string(st));
		json_object_put(ret);
	}
	for (size_t i = 0; !e->running && i < e->vi.n_groups; i++) {
		struct journal j;
		bool journaled = switch_fd >= 0 && journal_read(switch_fd, e->vi.groups[i], &j) == 0;

		if (journaled)
			journal_clear(&j);
		/* A dead vmrun that still has a group on vfio-pci: `vmrun restore` finishes it.
		 * Users cannot read the journals; a vm.json left behind says the same. */
		e->restore_pending |= journaled || switch_fd < 0;
	}
	/* Hugepages, input ACLs, an isolation, a Looking Glass file: the same. */
	e->restore_pending |= !e->running && vmdir_info_has_changes(&e->vi) && !e->vi.n_groups;
}

int vmctl_list(const struct sysroot *s, uid_t uid, int switch_fd, struct vmctl_entry **ret, size_t *ret_n)
{
	_cleanup_free_ char *parent = NULL;
	struct vmctl_entry *v = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = paths_runtime_parent(s, uid, &parent);
	if (r < 0)
		return r;
	d = opendir(parent);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char dir[PATH_MAX];
		struct vmctl_entry e = { 0 };
		struct vmctl_entry *nv;
		int dfd;

		if (!names_vm_valid(de->d_name))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", parent, de->d_name);
		if (vmdir_open(dir, false, &dfd, NULL) < 0)
			continue;
		if (vmdir_info_read(dfd, &e.vi) == 0) {
			fill_entry(dir, dfd, switch_fd, &e);
			nv = reallocarray(v, n + 1, sizeof(*v));
			if (nv) {
				v = nv;
				v[n++] = e;
			}
		}
		safe_close(dfd);
	}
	closedir(d);
	*ret = v;
	*ret_n = n;
	return 0;
}
