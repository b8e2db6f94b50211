/* SPDX-License-Identifier: MIT */
#include "vmdir.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int vm_dir_create(const char *path)
{
	char buf[PATH_MAX];
	struct stat st;

	if (strlen(path) >= sizeof(buf) || path[0] != '/')
		return -EINVAL;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* The sockets and NVRAM live here: a directory someone else owns is refused. */
	if (lstat(buf, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

static int lock_fd(const char *dir, int flags)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/lock", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	return open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
}

int vm_lock(const char *dir, int *ret_fd)
{
	int fd = lock_fd(dir, O_RDWR | O_CREAT);

	if (fd < 0)
		return -errno;
	/* flock dies with its holder: a killed vmrun never leaves the profile locked. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? -EBUSY : -errno;

		safe_close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

bool vm_is_running(const char *dir)
{
	int fd = lock_fd(dir, O_RDONLY);
	bool held;

	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	safe_close(fd);
	return held;
}

int vm_info_write(const char *dir, const struct vm_info *vi)
{
	json_object *o = json_object_new_object(), *g = json_object_new_array();
	char path[PATH_MAX], tmp[PATH_MAX];
	const char *text;
	FILE *f;
	int r = 0;

	json_object_object_add(o, "name", json_object_new_string(vi->name));
	json_object_object_add(o, "pid", json_object_new_int(vi->pid));
	json_object_object_add(o, "qemu_pid", json_object_new_int(vi->qemu_pid));
	json_object_object_add(o, "started", json_object_new_int64(vi->started));
	json_object_object_add(o, "profile", json_object_new_string(vi->profile));
	for (size_t i = 0; i < vi->n_groups; i++)
		json_object_array_add(g, json_object_new_int(vi->groups[i]));
	json_object_object_add(o, "groups", g);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	snprintf(path, sizeof(path), "%s/vm.json", dir);
	snprintf(tmp, sizeof(tmp), "%s/.vm.json.tmp", dir);
	f = fopen(tmp, "wex");
	if (!f) {
		(void)unlink(tmp);
		f = fopen(tmp, "wex");
	}
	if (!f)
		r = -errno;
	else {
		if (fputs(text, f) < 0)
			r = -EIO;
		if (fclose(f) != 0 && !r)
			r = -errno;
		if (!r && rename(tmp, path) < 0)
			r = -errno;
	}
	json_object_put(o);
	return r;
}

int vm_info_read(const char *dir, struct vm_info *ret)
{
	struct vm_info vi = { 0 };
	char path[PATH_MAX];
	json_object *o, *v, *g;

	snprintf(path, sizeof(path), "%s/vm.json", dir);
	o = json_object_from_file(path);
	if (!o)
		return -ENOENT;
#define GETINT(key, dst)                                                                          \
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))        \
		dst = json_object_get_int64(v);
	GETINT("pid", vi.pid);
	GETINT("qemu_pid", vi.qemu_pid);
	GETINT("started", vi.started);
#undef GETINT
	if (json_object_object_get_ex(o, "name", &v) && json_object_is_type(v, json_type_string))
		snprintf(vi.name, sizeof(vi.name), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "profile", &v) && json_object_is_type(v, json_type_string))
		snprintf(vi.profile, sizeof(vi.profile), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "groups", &g) && json_object_is_type(g, json_type_array))
		for (size_t i = 0; i < json_object_array_length(g) && vi.n_groups < VM_MAX_GROUPS; i++)
			vi.groups[vi.n_groups++] = json_object_get_int(json_object_array_get_idx(g, i));
	json_object_put(o);
	if (vi.pid <= 0 || !vi.name[0])
		return -EBADMSG;
	*ret = vi;
	return 0;
}
