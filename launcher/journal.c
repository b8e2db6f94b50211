/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Driver and module names: what the kernel allows, and nothing that could walk a path. */
static bool name_ok(const char *s, size_t cap)
{
	size_t n = strlen(s);

	if (n >= cap || (n && !name_is_safe(s)))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

static json_object *dev_to_json(const struct switch_dev *d)
{
	json_object *o = json_object_new_object();
	char id[8];

	json_object_object_add(o, "address", json_object_new_string(d->fn.name));
	snprintf(id, sizeof(id), "%04x", d->fn.vendor);
	json_object_object_add(o, "vendor", json_object_new_string(id));
	snprintf(id, sizeof(id), "%04x", d->fn.device);
	json_object_object_add(o, "device", json_object_new_string(id));
	json_object_object_add(o, "role", json_object_new_string(group_role_name(d->role)));
	json_object_object_add(o, "driver", json_object_new_string(d->orig_driver));
	json_object_object_add(o, "override", json_object_new_string(d->orig_override));
	json_object_object_add(o, "ours", json_object_new_boolean(d->ours));
	json_object_object_add(o, "phase", json_object_new_string(d->phase));
	return o;
}

int journal_write(int dirfd, const struct journal *j)
{
	json_object *o = json_object_new_object(), *devs = json_object_new_array();
	json_object *mods = json_object_new_array();
	char name[64], tmp[80];
	const char *text;
	int fd, r;

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "group", json_object_new_int(j->plan.group));
	json_object_object_add(o, "gpu", json_object_new_string(j->plan.gpu.name));
	json_object_object_add(o, "op", json_object_new_string(j->op));
	json_object_object_add(o, "state", json_object_new_string(j->state));
	json_object_object_add(o, "pid", json_object_new_int(j->pid));
	json_object_object_add(o, "started", json_object_new_int64(j->started));
	for (size_t i = 0; i < j->plan.n_devs; i++)
		json_object_array_add(devs, dev_to_json(&j->plan.devs[i]));
	json_object_object_add(o, "devices", devs);
	for (size_t i = 0; i < j->plan.n_modules; i++)
		json_object_array_add(mods, json_object_new_string(j->plan.modules[i]));
	json_object_object_add(o, "modules_unloaded", mods);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	snprintf(name, sizeof(name), "group-%d.json", j->plan.group);
	snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", name, (int)getpid());
	/* Write aside, fsync, then rename over: a crash leaves the old or the new, never half. */
	(void)unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		json_object_put(o);
		return -errno;
	}
	r = write_all(fd, text, strlen(text));
	json_object_put(o);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	safe_close(fd);
	if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dirfd, tmp, 0);
	else
		(void)fsync(dirfd);
	return r;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool get_int(json_object *o, const char *key, int64_t *ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*ret = json_object_get_int64(v);
	return true;
}

static int parse_hex16(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!s || strlen(s) != 4)
		return -EBADMSG;
	v = strtoul(s, &end, 16);
	if (*end)
		return -EBADMSG;
	*ret = (unsigned)v;
	return 0;
}

static int parse_role(const char *s, enum group_role *ret)
{
	for (int r = ROLE_GPU; r <= ROLE_OTHER; r++)
		if (s && streq(s, group_role_name((enum group_role)r))) {
			*ret = (enum group_role)r;
			return 0;
		}
	return -EBADMSG;
}

static int dev_from_json(json_object *o, struct switch_dev *d)
{
	const char *addr = get_str(o, "address"), *drv = get_str(o, "driver");
	const char *ovr = get_str(o, "override"), *phase = get_str(o, "phase");
	json_object *ours;

	memset(d, 0, sizeof(*d));
	if (!addr || pci_addr_parse(addr, &d->fn.addr) < 0 || !drv || !ovr || !phase ||
	    !name_ok(drv, sizeof(d->orig_driver)) || !name_ok(ovr, sizeof(d->orig_override)) ||
	    !name_ok(phase, sizeof(d->phase)) ||
	    parse_hex16(get_str(o, "vendor"), &d->fn.vendor) < 0 ||
	    parse_hex16(get_str(o, "device"), &d->fn.device) < 0 ||
	    parse_role(get_str(o, "role"), &d->role) < 0 ||
	    !json_object_object_get_ex(o, "ours", &ours) || !json_object_is_type(ours, json_type_boolean))
		return -EBADMSG;
	pci_addr_format(&d->fn.addr, d->fn.name);
	snprintf(d->orig_driver, sizeof(d->orig_driver), "%s", drv);
	snprintf(d->orig_override, sizeof(d->orig_override), "%s", ovr);
	snprintf(d->phase, sizeof(d->phase), "%s", phase);
	d->ours = json_object_get_boolean(ours);
	return 0;
}

static int journal_from_json(json_object *o, int group, struct journal *j)
{
	const char *op = get_str(o, "op"), *state = get_str(o, "state"), *gpu = get_str(o, "gpu");
	json_object *devs, *mods;
	int64_t v, g, pid;
	size_t n;

	if (!get_int(o, "version", &v) || v != 1 || !get_int(o, "group", &g) || g != group ||
	    !get_int(o, "pid", &pid) || pid <= 0 || pid > 4194304 || !op || !state || !gpu ||
	    (!streq(op, "detach") && !streq(op, "attach")) ||
	    (!streq(state, "in-progress") && !streq(state, "done")) ||
	    pci_addr_parse(gpu, &j->plan.gpu.addr) < 0 || !get_int(o, "started", &j->started))
		return -EBADMSG;
	snprintf(j->op, sizeof(j->op), "%s", op);
	snprintf(j->state, sizeof(j->state), "%s", state);
	j->pid = (pid_t)pid;
	j->plan.group = group;
	pci_addr_format(&j->plan.gpu.addr, j->plan.gpu.name);
	if (!json_object_object_get_ex(o, "devices", &devs) || !json_object_is_type(devs, json_type_array) ||
	    (n = json_object_array_length(devs)) == 0 || n > JOURNAL_MAX_DEVS)
		return -EBADMSG;
	j->plan.devs = calloc(n, sizeof(*j->plan.devs));
	if (!j->plan.devs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (dev_from_json(json_object_array_get_idx(devs, i), &j->plan.devs[i]) < 0)
			return -EBADMSG;
		j->plan.n_devs++;
	}
	if (!json_object_object_get_ex(o, "modules_unloaded", &mods) ||
	    !json_object_is_type(mods, json_type_array) ||
	    json_object_array_length(mods) > ARRAY_SIZE(j->plan.modules))
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(mods); i++) {
		json_object *m = json_object_array_get_idx(mods, i);
		const char *s = json_object_is_type(m, json_type_string) ? json_object_get_string(m) : NULL;

		if (!s || !*s || !name_ok(s, sizeof(j->plan.modules[0])))
			return -EBADMSG;
		snprintf(j->plan.modules[j->plan.n_modules++], sizeof(j->plan.modules[0]), "%s", s);
	}
	return 0;
}

int journal_read(int dirfd, int group, struct journal *ret)
{
	struct journal j = { 0 };
	char name[64], *buf;
	json_object *o;
	struct stat st;
	ssize_t n;
	int fd, r;

	snprintf(name, sizeof(name), "group-%d.json", group);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	/* Only a regular file of ours, of a sane size, is read at all. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_size > JOURNAL_MAX_SIZE) {
		safe_close(fd);
		return -EBADMSG;
	}
	buf = calloc(1, (size_t)st.st_size + 1);
	if (!buf) {
		safe_close(fd);
		return -ENOMEM;
	}
	n = pread(fd, buf, (size_t)st.st_size, 0);
	safe_close(fd);
	o = n == st.st_size ? json_tokener_parse(buf) : NULL;
	free(buf);
	if (!o)
		return -EBADMSG;
	r = journal_from_json(o, group, &j);
	json_object_put(o);
	if (r < 0) {
		journal_clear(&j);
		return r;
	}
	*ret = j;
	return 0;
}

int journal_remove(int dirfd, int group)
{
	char name[64];

	snprintf(name, sizeof(name), "group-%d.json", group);
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	(void)fsync(dirfd);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int journal_list(int dirfd, int **ret, size_t *ret_n)
{
	int *v = NULL, r;
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	r = opendir_at(dirfd, ".", &d);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		int g, len = 0;

		if (sscanf(de->d_name, "group-%d.json%n", &g, &len) != 1 || len == 0 ||
		    de->d_name[len] || g < 0)
			continue;
		int *nv = reallocarray(v, n + 1, sizeof(*v));
		if (!nv) {
			free(v);
			closedir(d);
			return -ENOMEM;
		}
		v = nv;
		v[n++] = g;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_int);
	*ret = v;
	*ret_n = n;
	return 0;
}

void journal_clear(struct journal *j)
{
	free(j->plan.devs);
	j->plan.devs = NULL;
	j->plan.n_devs = 0;
}

int group_lock(int dirfd, int group, unsigned timeout_ms, int *ret_fd)
{
	struct timespec tick = { 0, 50 * 1000000L };
	char name[64];
	unsigned waited = 0;
	int fd;

	snprintf(name, sizeof(name), "group-%d.lock", group);
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* flock is released by the kernel when the holder dies: a crash never leaves it taken. */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK || waited >= timeout_ms) {
			int r = errno == EWOULDBLOCK ? -EBUSY : -errno;

			safe_close(fd);
			return r;
		}
		nanosleep(&tick, NULL);
		waited += 50;
	}
	*ret_fd = fd;
	return 0;
}
