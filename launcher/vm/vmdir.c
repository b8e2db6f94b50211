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

int vmdir_open(const char *path, bool create, int *ret_fd, const char **why)
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

int vmdir_lock(int dirfd, int *ret_fd)
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

bool vmdir_is_running(int dirfd)
{
	int fd = openat(dirfd, "lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	bool held;

	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	safe_close(fd);
	return held;
}

bool vmdir_info_has_changes(const struct vmdir_info *vi)
{
	return vi->n_groups || vi->n_gpus || vi->looking_glass_made || vi->huge_added ||
	       vi->n_inputs || vi->isolated;
}

static json_object *strings(const char (*v)[16], size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

int vmdir_info_write(int dirfd, const struct vmdir_info *vi)
{
	json_object *o = json_object_new_object(), *g = json_object_new_array();
	json_object *in = json_object_new_array();
	const char *text;
	int r;

	json_object_object_add(o, "name", json_object_new_string(vi->name));
	json_object_object_add(o, "pid", json_object_new_int(vi->pid));
	json_object_object_add(o, "qemu_pid", json_object_new_int(vi->qemu_pid));
	json_object_object_add(o, "guard_pid", json_object_new_int(vi->guard_pid));
	json_object_object_add(o, "started", json_object_new_int64(vi->started));
	json_object_object_add(o, "state", json_object_new_string(vi->state[0] ? vi->state : "starting"));
	json_object_object_add(o, "profile", json_object_new_string(vi->profile));
	if (vi->looking_glass[0])
		json_object_object_add(o, "looking_glass", json_object_new_string(vi->looking_glass));
	json_object_object_add(o, "looking_glass_made", json_object_new_boolean(vi->looking_glass_made));
	for (size_t i = 0; i < vi->n_groups; i++)
		json_object_array_add(g, json_object_new_int(vi->groups[i]));
	json_object_object_add(o, "groups", g);
	json_object_object_add(o, "gpus", strings(vi->gpus, vi->n_gpus));
	json_object_object_add(o, "huge_page_bytes", json_object_new_int64((int64_t)vi->huge_page));
	json_object_object_add(o, "huge_pages_added", json_object_new_int64((int64_t)vi->huge_added));
	for (size_t i = 0; i < vi->n_inputs; i++)
		json_object_array_add(in, json_object_new_string(vi->inputs[i]));
	json_object_object_add(o, "inputs", in);
	json_object_object_add(o, "isolated", json_object_new_boolean(vi->isolated));
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

static bool get_bool(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

static size_t get_strings(json_object *o, const char *key, char *v, size_t each, size_t max)
{
	json_object *a;
	size_t n = 0;

	if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(a) && n < max; i++) {
		json_object *e = json_object_array_get_idx(a, i);

		if (json_object_is_type(e, json_type_string) &&
		    (size_t)snprintf(v + n * each, each, "%s", json_object_get_string(e)) < each)
			n++;
	}
	return n;
}

/* What the run changed. Whoever acts on it re-checks each item (the helper trusts none of it:
 * this file is the user's). */
static void read_changes(json_object *o, struct vmdir_info *vi)
{
	int64_t v = 0;
	json_object *s;

	if (json_object_object_get_ex(o, "state", &s) && json_object_is_type(s, json_type_string))
		snprintf(vi->state, sizeof(vi->state), "%s", json_object_get_string(s));
	if (get_int(o, "guard_pid", &v) && v > 0 && v <= 4194304)
		vi->guard_pid = (pid_t)v;
	vi->looking_glass_made = get_bool(o, "looking_glass_made") && vi->looking_glass[0];
	vi->isolated = get_bool(o, "isolated");
	vi->n_gpus = get_strings(o, "gpus", &vi->gpus[0][0], sizeof(vi->gpus[0]), VMDIR_MAX_GROUPS);
	vi->n_inputs = get_strings(o, "inputs", &vi->inputs[0][0], sizeof(vi->inputs[0]),
				   VMDIR_MAX_INPUTS);
	v = 0;
	if (get_int(o, "huge_page_bytes", &v) && (v == 2LL << 20 || v == 1LL << 30)) {
		int64_t n = 0;

		vi->huge_page = (uint64_t)v;
		if (get_int(o, "huge_pages_added", &n) && n > 0 && n <= (1LL << 32))
			vi->huge_added = (unsigned long)n;
	}
}

int vmdir_info_read(int dirfd, struct vmdir_info *ret)
{
	_cleanup_free_ char *text = NULL;
	struct vmdir_info vi = { 0 };
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
		for (size_t i = 0; i < json_object_array_length(g) && vi.n_groups < VMDIR_MAX_GROUPS; i++)
			vi.groups[vi.n_groups++] = json_object_get_int(json_object_array_get_idx(g, i));
	read_changes(o, &vi);
	json_object_put(o);
	if (vi.pid <= 0 || !vi.name[0])
		return -EBADMSG;
	*ret = vi;
	return 0;
}

void vmdir_remove_stale(int dirfd)
{
	static const char *const names[] = { "qmp.sock", "control.sock", "qemu.pid", "vm.json" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		(void)unlinkat(dirfd, names[i], 0);
}
