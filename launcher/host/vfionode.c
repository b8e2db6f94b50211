/* SPDX-License-Identifier: MIT */
#include "vfionode.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

static void names(int group, char *node, size_t node_cap, char *rec, size_t rec_cap)
{
	snprintf(node, node_cap, "vfio/%d", group);
	snprintf(rec, rec_cap, "vfio-%d.json", group);
}

static int record_write(int state_fd, const char *rec, const struct stat *st, uid_t uid)
{
	json_object *o = json_object_new_object();
	const char *text;
	int r;

	json_object_object_add(o, "uid", json_object_new_int64(uid));
	json_object_object_add(o, "prev_uid", json_object_new_int64(st->st_uid));
	json_object_object_add(o, "prev_gid", json_object_new_int64(st->st_gid));
	json_object_object_add(o, "prev_mode", json_object_new_int64(st->st_mode & 07777));
	json_object_object_add(o, "major", json_object_new_int64(major(st->st_rdev)));
	json_object_object_add(o, "minor", json_object_new_int64(minor(st->st_rdev)));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	r = text ? write_file_atomic_at(state_fd, rec, text, strlen(text), 0600, (uid_t)-1, (gid_t)-1) :
		   -ENOMEM;
	json_object_put(o);
	return r;
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ?
		       json_object_get_int64(v) : -1;
}

/* Is there a record of a give of this very node to uid? */
static bool record_is(int state_fd, const char *rec, uid_t uid, dev_t rdev)
{
	_cleanup_free_ char *text = NULL;
	json_object *o;
	bool same;

	if (read_file_at(state_fd, rec, 4096, READ_REGULAR | READ_TEXT, &text, NULL, NULL) < 0)
		return false;
	o = json_tokener_parse(text);
	same = o && get_int(o, "uid") == (int64_t)uid &&
	       get_int(o, "major") == (int64_t)major(rdev) && get_int(o, "minor") == (int64_t)minor(rdev);
	json_object_put(o);
	return same;
}

int vfio_node_give(const struct sysroot *s, int state_fd, int group, uid_t uid)
{
	char node[32], rec[40];
	struct stat st;
	int r;

	names(group, node, sizeof(node), rec, sizeof(rec));
	if (fstatat(s->dev_fd, node, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENODEV;
	/* Recorded first, and only once per give: a second detach for the same user of the same
	 * node must not record their own ownership as the one to go back to. */
	if (!record_is(state_fd, rec, uid, st.st_rdev)) {
		r = record_write(state_fd, rec, &st, uid);
		if (r < 0)
			return r;
	}
	if (fchownat(s->dev_fd, node, uid, (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(s->dev_fd, node, 0600, 0) < 0)
		return -errno;
	return 0;
}

int vfio_node_take_back(const struct sysroot *s, int state_fd, int group)
{
	_cleanup_free_ char *text = NULL;
	char node[32], rec[40];
	json_object *o;
	struct stat st;
	int r;

	names(group, node, sizeof(node), rec, sizeof(rec));
	r = read_file_at(state_fd, rec, 4096, READ_REGULAR | READ_TEXT, &text, NULL, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	o = json_tokener_parse(text);
	r = 0;
	/* Gone with its devices (a group off vfio-pci has no node), or a new node since: there
	 * is nothing of the user's left to take back. */
	if (o && get_int(o, "prev_uid") >= 0 && get_int(o, "prev_gid") >= 0 &&
	    get_int(o, "prev_mode") >= 0 &&
	    fstatat(s->dev_fd, node, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
	    st.st_rdev == makedev((unsigned)get_int(o, "major"), (unsigned)get_int(o, "minor"))) {
		if (fchownat(s->dev_fd, node, (uid_t)get_int(o, "prev_uid"),
			     (gid_t)get_int(o, "prev_gid"), AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(s->dev_fd, node, (mode_t)get_int(o, "prev_mode"), 0) < 0)
			r = -errno;
		else
			r = 1;
	}
	json_object_put(o);
	if (r >= 0 && unlinkat(state_fd, rec, 0) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}
