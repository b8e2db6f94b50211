/* SPDX-License-Identifier: MIT */
#include "holders.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu.h"
#include "log.h"
#include "util.h"

static bool is_pid_name(const char *s)
{
	if (!*s || *s == '0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static const struct devnode *match_node(const struct devnode_set *nodes, const char *target)
{
	for (size_t i = 0; i < nodes->n; i++)
		if (streq(nodes->v[i].path, target))
			return &nodes->v[i];
	return NULL;
}

static bool already_listed(const struct holder_set *set, pid_t pid, const char *node)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].pid == pid && streq(set->v[i].node, node))
			return true;
	return false;
}

static int add_holder(struct holder_set *set, pid_t pid, const struct devnode *node)
{
	struct holder *nv;

	if (already_listed(set, pid, node->path))
		return 0;
	nv = reallocarray(set->v, set->n + 1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	set->v = nv;
	nv = &set->v[set->n++];
	memset(nv, 0, sizeof(*nv));
	nv->pid = pid;
	nv->kind = node->kind;
	memcpy(nv->node, node->path, sizeof(nv->node));
	snprintf(nv->function, sizeof(nv->function), "%s", node->function);
	return 0;
}

/* Scan one process's fd directory; -EACCES when it is not ours to read. */
static int scan_pid(const struct sysroot *s, const char *pidname, const struct devnode_set *nodes,
		    struct holder_set *set)
{
	char path[64], target[80];
	struct dirent *de;
	int r = 0;
	DIR *d;

	if ((size_t)snprintf(path, sizeof(path), "%s/fd", pidname) >= sizeof(path))
		return -ENAMETOOLONG;
	r = opendir_at(s->proc_fd, path, &d);
	if (r < 0)
		return r;
	while (r >= 0 && (de = readdir(d))) {
		const struct devnode *node;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		if (n <= 5 || (size_t)n >= sizeof(target) - 1)
			continue; /* gone, or too long to be one of ours */
		target[n] = '\0';
		if (strncmp(target, "/dev/", 5) != 0)
			continue;
		node = match_node(nodes, target);
		if (node)
			r = add_holder(set, (pid_t)strtol(pidname, NULL, 10), node);
	}
	closedir(d);
	return r;
}

void cgroup_unit(const char *text, char *buf, size_t cap)
{
	const char *line = text, *best = NULL;
	size_t best_len = 0;

	buf[0] = '\0';
	/* cgroup v2 is the "0::" line; on hybrid hosts the name=systemd line has the same path. */
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *p = line, *end = line + len;

		if ((len > 3 && strncmp(line, "0::", 3) == 0) || memmem(line, len, ":name=systemd:", 14)) {
			while (p < end) {
				const char *slash = memchr(p, '/', (size_t)(end - p));
				const char *cend = slash ? slash : end;
				size_t clen = (size_t)(cend - p);

				if ((clen > 8 && memcmp(cend - 8, ".service", 8) == 0) ||
				    (clen > 6 && memcmp(cend - 6, ".scope", 6) == 0)) {
					best = p;
					best_len = clen;
				}
				p = cend + 1;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	if (best && best_len < cap) {
		memcpy(buf, best, best_len);
		buf[best_len] = '\0';
	}
}

static void user_name(const struct sysroot *s, uid_t uid, char *buf, size_t cap)
{
	_cleanup_fclose_ FILE *f = NULL;
	struct passwd *pw;
	int fd;

	snprintf(buf, cap, "%u", (unsigned)uid);
	fd = s->etc_fd < 0 ? -1 : openat(s->etc_fd, "passwd", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	f = fdopen(fd, "re");
	if (!f) {
		safe_close(fd);
		return;
	}
	while ((pw = fgetpwent(f)))
		if (pw->pw_uid == uid) {
			snprintf(buf, cap, "%s", pw->pw_name);
			return;
		}
}

static void fill_details(const struct sysroot *s, struct holder *h)
{
	_cleanup_free_ char *status = NULL, *cmdline = NULL, *cgroup = NULL;
	char path[64], comm[sizeof(h->comm)];
	const char *uid;
	int n;

	snprintf(path, sizeof(path), "%d/comm", (int)h->pid);
	if (read_attr_at(s->proc_fd, path, comm, sizeof(comm)) >= 0)
		memcpy(h->comm, comm, sizeof(h->comm));
	snprintf(path, sizeof(path), "%d/cmdline", (int)h->pid);
	n = read_text_at(s->proc_fd, path, sizeof(h->cmdline) - 1, &cmdline);
	if (n > 0) {
		for (int i = 0; i < n - 1; i++)
			if (cmdline[i] == '\0')
				cmdline[i] = ' ';
		snprintf(h->cmdline, sizeof(h->cmdline), "%s", cmdline);
	}
	snprintf(path, sizeof(path), "%d/status", (int)h->pid);
	h->uid = (uid_t)-1;
	if (read_text_at(s->proc_fd, path, 16384, &status) >= 0 && (uid = strstr(status, "\nUid:")))
		h->uid = (uid_t)strtoul(uid + 5, NULL, 10);
	if (h->uid != (uid_t)-1)
		user_name(s, h->uid, h->user, sizeof(h->user));
	snprintf(path, sizeof(path), "%d/cgroup", (int)h->pid);
	if (read_text_at(s->proc_fd, path, 16384, &cgroup) >= 0)
		cgroup_unit(cgroup, h->unit, sizeof(h->unit));
}

int holders_find(const struct sysroot *s, const struct devnode_set *nodes, struct holder_set *ret)
{
	struct holder_set set = { 0 };
	struct dirent *de;
	int r = 0;
	DIR *d;

	if (s->proc_fd < 0)
		return -ENOENT;
	r = opendir_at(s->proc_fd, ".", &d);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		if (!is_pid_name(de->d_name) || nodes->n == 0)
			continue;
		set.scanned++;
		r = scan_pid(s, de->d_name, nodes, &set);
		if (r == -EACCES || r == -EPERM)
			set.unreadable++;
		else if (r < 0 && r != -ENOENT && r != -ESRCH)
			break; /* fail closed: a scan that could not look must not say "nobody" */
		r = 0; /* a process that exited meanwhile is simply gone */
	}
	closedir(d);
	if (r < 0) {
		holder_set_clear(&set);
		return r;
	}
	for (size_t i = 0; i < set.n; i++)
		fill_details(s, &set.v[i]);
	*ret = set;
	return 0;
}

void holder_set_clear(struct holder_set *set)
{
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

const char *holder_describe(const struct holder *h, char *buf, size_t cap)
{
	snprintf(buf, cap, "pid %d %s (user %s%s%s)", (int)h->pid, h->comm[0] ? h->comm : "?",
		 h->user[0] ? h->user : "?", h->unit[0] ? ", unit " : "", h->unit);
	return buf;
}
