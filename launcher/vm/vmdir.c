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

#include "fileio.h"
#include "util.h"

/* mkdir -p for the parents; they may be symlinks (a home on another disk), the VM's own
 * directory may not. */
static int make_parents(const char *path)
{
	char buf[PATH_MAX];

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
	return 0;
}

int vm_dir_open(const char *path, bool create, int *ret_fd, const char **why)
{
	struct stat st;
	int fd, r;
	const char *dummy;

	why = why ? why : &dummy;
	*why = "";
	if (create) {
		r = make_parents(path);
		if (r < 0)
			return r;
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		/* O_DIRECTORY|O_NOFOLLOW on a symlink says ENOTDIR: tell the two apart. */
		if (r == -ENOTDIR && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			r = -ELOOP;
		if (r == -ELOOP || r == -ENOTDIR)
			*why = r == -ELOOP ? "it is a symlink" : "it is not a directory";
		return r;
	}
	/* The sockets and the NVRAM live here: a directory someone else owns or can write into
	 * is refused, not repaired. */
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		*why = st.st_uid != geteuid() ? "it belongs to another user" :
					      "others can write into it (chmod 700 it)";
		safe_close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	return 0;
}

int vm_lock(int dirfd, int *ret_fd)
{
	int fd = openat(dirfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

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

bool vm_is_running(int dirfd)
{
	int fd = openat(dirfd, "lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	bool held;

	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	safe_close(fd);
	return held;
}

int vm_info_write(int dirfd, const struct vm_info *vi)
{
	json_object *o = json_object_new_object(), *g = json_object_new_array();
	const char *text;
	int r;

	json_object_object_add(o, "name", json_object_new_string(vi->name));
	json_object_object_add(o, "pid", json_object_new_int(vi->pid));
	json_object_object_add(o, "qemu_pid", json_object_new_int(vi->qemu_pid));
	json_object_object_add(o, "started", json_object_new_int64(vi->started));
	json_object_object_add(o, "profile", json_object_new_string(vi->profile));
	if (vi->looking_glass[0])
		json_object_object_add(o, "looking_glass", json_object_new_string(vi->looking_glass));
	for (size_t i = 0; i < vi->n_groups; i++)
		json_object_array_add(g, json_object_new_int(vi->groups[i]));
	json_object_object_add(o, "groups", g);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	r = text ? write_file_atomic_at(dirfd, "vm.json", text, strlen(text), 0600, (uid_t)-1,
					(gid_t)-1) : -ENOMEM;
	json_object_put(o);
	return r;
}

static bool get_int(json_object *o, const char *key, int64_t *ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*ret = json_object_get_int64(v);
	return true;
}

int vm_info_read(int dirfd, struct vm_info *ret)
{
	_cleanup_free_ char *text = NULL;
	struct vm_info vi = { 0 };
	json_object *o, *v, *g;
	int64_t pid = 0, qpid = 0, started = 0;
	int r = read_file_at(dirfd, "vm.json", 64 * 1024, READ_REGULAR | READ_TEXT, &text, NULL, NULL);

	if (r < 0)
		return r == -ENOENT ? r : -EBADMSG;
	o = json_tokener_parse(text);
	if (!o)
		return -EBADMSG;
	(void)get_int(o, "pid", &pid);
	(void)get_int(o, "qemu_pid", &qpid);
	(void)get_int(o, "started", &started);
	vi.pid = pid > 0 && pid <= 4194304 ? (pid_t)pid : 0;
	vi.qemu_pid = qpid > 0 && qpid <= 4194304 ? (pid_t)qpid : 0;
	vi.started = started;
	if (json_object_object_get_ex(o, "name", &v) && json_object_is_type(v, json_type_string))
		snprintf(vi.name, sizeof(vi.name), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "profile", &v) && json_object_is_type(v, json_type_string))
		snprintf(vi.profile, sizeof(vi.profile), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "looking_glass", &v) && json_object_is_type(v, json_type_string))
		snprintf(vi.looking_glass, sizeof(vi.looking_glass), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "groups", &g) && json_object_is_type(g, json_type_array))
		for (size_t i = 0; i < json_object_array_length(g) && vi.n_groups < VM_MAX_GROUPS; i++)
			vi.groups[vi.n_groups++] = json_object_get_int(json_object_array_get_idx(g, i));
	json_object_put(o);
	if (vi.pid <= 0 || !vi.name[0])
		return -EBADMSG;
	*ret = vi;
	return 0;
}

void vm_dir_remove_stale(int dirfd)
{
	static const char *const names[] = { "qmp.sock", "control.sock", "qemu.pid", "vm.json" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		(void)unlinkat(dirfd, names[i], 0);
}
