/* SPDX-License-Identifier: MIT */
#include "inputgrant.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devacl.h"
#include "fileio.h"
#include "grouplock.h"
#include "procstat.h"
#include "sysroot.h"
#include "util.h"

#define LOCK_WAIT_MS 10000

static void record_name(uid_t uid, dev_t rdev, char *buf, size_t cap)
{
	snprintf(buf, cap, "input-%u-%u-%u.json", (unsigned)uid, major(rdev), minor(rdev));
}

static int record_write(int state_fd, const struct input_grant *g)
{
	json_object *o = json_object_new_object();
	char name[80];
	const char *text;
	int r;

	json_object_object_add(o, "uid", json_object_new_int64(g->uid));
	json_object_object_add(o, "node", json_object_new_string(g->node));
	json_object_object_add(o, "major", json_object_new_int64(major(g->rdev)));
	json_object_object_add(o, "minor", json_object_new_int64(minor(g->rdev)));
	json_object_object_add(o, "holder", json_object_new_int64(g->holder));
	json_object_object_add(o, "start", json_object_new_int64((int64_t)g->start));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	record_name(g->uid, g->rdev, name, sizeof(name));
	r = text ? write_file_atomic_at(state_fd, name, text, strlen(text), 0600, (uid_t)-1,
					(gid_t)-1) : -ENOMEM;
	json_object_put(o);
	return r;
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ?
		       json_object_get_int64(v) : -1;
}

/* A record as written by record_write, its name matching its content: -EBADMSG otherwise. */
static int record_read(int state_fd, const char *name, struct input_grant *g)
{
	_cleanup_free_ char *text = NULL;
	json_object *o, *node;
	char want[80];
	int r = read_file_at(state_fd, name, 4096, READ_REGULAR | READ_TEXT, &text, NULL, NULL);

	if (r < 0)
		return r;
	o = json_tokener_parse(text);
	r = -EBADMSG;
	if (o && json_object_object_get_ex(o, "node", &node) && json_object_is_type(node, json_type_string) &&
	    strncmp(json_object_get_string(node), "input/event", 11) == 0 &&
	    !strchr(json_object_get_string(node) + 6, '/') && get_int(o, "uid") >= 0 &&
	    get_int(o, "major") >= 0 && get_int(o, "minor") >= 0 && get_int(o, "holder") > 0 &&
	    get_int(o, "start") >= 0) {
		*g = (struct input_grant){ .uid = (uid_t)get_int(o, "uid"),
					   .rdev = makedev((unsigned)get_int(o, "major"),
							   (unsigned)get_int(o, "minor")),
					   .holder = (pid_t)get_int(o, "holder"),
					   .start = (uint64_t)get_int(o, "start") };
		snprintf(g->node, sizeof(g->node), "%s", json_object_get_string(node));
		record_name(g->uid, g->rdev, want, sizeof(want));
		r = streq(want, name) ? 0 : -EBADMSG;
	}
	json_object_put(o);
	return r;
}

/* One change of the event devices' ACLs by vmrun at a time: each is a read, modify, write of
 * the node's whole ACL. */
static int lock_acls(int state_fd, int *ret_fd)
{
	return state_lock(state_fd, "input.lock", LOCK_WAIT_MS, ret_fd);
}

int input_grant_give(const struct sysroot *s, int state_fd, const struct input_grant *g)
{
	_cleanup_close_ int lock = -1;
	char name[80];
	int r;

	if (!g->rdev || strncmp(g->node, "input/event", 11) != 0)
		return -EINVAL;
	r = lock_acls(state_fd, &lock);
	if (r < 0)
		return r;
	/* Recorded before it is made: a crash in between leaves a record with no entry, which
	 * the sweep clears; never an entry nobody knows of. */
	r = record_write(state_fd, g);
	if (r < 0)
		return r;
	r = devacl_grant(s, g->node, g->rdev, g->uid);
	if (r < 0) {
		record_name(g->uid, g->rdev, name, sizeof(name));
		(void)unlinkat(state_fd, name, 0);
	}
	return r;
}

int input_grant_take(const struct sysroot *s, int state_fd, uid_t uid, const char *node, dev_t rdev)
{
	_cleanup_close_ int lock = -1;
	char name[80];
	int r;

	/* Only what vmrun gave: an entry logind (uaccess) or an administrator made is theirs. */
	record_name(uid, rdev, name, sizeof(name));
	if (faccessat(state_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	r = lock_acls(state_fd, &lock);
	if (r < 0)
		return r;
	r = devacl_revoke(s, node, rdev, uid);
	if (r < 0)
		return r;
	if (unlinkat(state_fd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

_printf_(3, 4) static void tell(input_note_fn note, void *data, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	note(data, msg);
}

int input_grant_sweep(const struct sysroot *s, int state_fd, input_note_fn note, void *data)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int n = 0, r = opendir_at(state_fd, ".", &d);

	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		struct input_grant g;

		if (strncmp(de->d_name, "input-", 6) != 0 || !strstr(de->d_name, ".json"))
			continue;
		if (record_read(state_fd, de->d_name, &g) < 0) {
			(void)unlinkat(state_fd, de->d_name, 0); /* not ours to keep: root wrote it whole */
			continue;
		}
		if (proc_is_alive(s->proc_fd, g.holder, g.start))
			continue;
		r = input_grant_take(s, state_fd, g.uid, g.node, g.rdev);
		if (r < 0) {
			tell(note, data, "/dev/%s: cannot take back uid %u's access: %s", g.node,
			     (unsigned)g.uid, strerror(-r));
			continue;
		}
		tell(note, data, "/dev/%s: uid %u's access taken back (its run, pid %d, is over)",
		     g.node, (unsigned)g.uid, (int)g.holder);
		n++;
	}
	return n;
}
