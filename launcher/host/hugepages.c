/* SPDX-License-Identifier: MIT */
#include "hugepages.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

static void pool_path(uint64_t page_bytes, const char *attr, char *buf, size_t cap)
{
	snprintf(buf, cap, "kernel/mm/hugepages/hugepages-%llukB/%s",
		 (unsigned long long)(page_bytes >> 10), attr);
}

int hugepages_read(const struct sysroot *s, uint64_t page_bytes, struct hugepage_pool *ret)
{
	char path[96];
	int r;

	pool_path(page_bytes, "nr_hugepages", path, sizeof(path));
	r = read_attr_ulong_at(s->sys_fd, path, &ret->total);
	if (r < 0)
		return r;
	pool_path(page_bytes, "free_hugepages", path, sizeof(path));
	return read_attr_ulong_at(s->sys_fd, path, &ret->free);
}

static int write_total(const struct sysroot *s, uint64_t page_bytes, unsigned long total)
{
	char path[96], text[32];
	int fd, r = 0;

	pool_path(page_bytes, "nr_hugepages", path, sizeof(path));
	snprintf(text, sizeof(text), "%lu\n", total);
	fd = openat(s->sys_fd, path, O_WRONLY | O_TRUNC | O_CLOEXEC); /* O_TRUNC: a test tree's file */
	if (fd < 0)
		return -errno;
	if (write_all(fd, text, strlen(text)) < 0)
		r = -errno;
	safe_close(fd);
	return r;
}

int hugepages_reserve(const struct sysroot *s, uint64_t page_bytes, unsigned long need,
		      unsigned long *added, char *why, size_t cap)
{
	struct hugepage_pool before, after;
	unsigned long missing;
	int fd, r = hugepages_read(s, page_bytes, &before);

	*added = 0;
	if (r < 0)
		return snprintf(why, cap, "cannot read the %llu kB hugepage pool: %s",
				(unsigned long long)(page_bytes >> 10), strerror(-r)), r;
	if (before.free >= need)
		return 0;
	missing = need - before.free;
	/* Free contiguous memory first: hugepages need it, and a fragmented host has none. */
	fd = s->proc_fd < 0 ? -1 : openat(s->proc_fd, "sys/vm/compact_memory", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)write_all(fd, "1\n", 2);
		safe_close(fd);
	}
	r = write_total(s, page_bytes, before.total + missing);
	if (r >= 0)
		r = hugepages_read(s, page_bytes, &after);
	if (r < 0) {
		(void)write_total(s, page_bytes, before.total);
		return snprintf(why, cap, "cannot grow the hugepage pool: %s", strerror(-r)), r;
	}
	if (after.free < need) {
		/* Not enough: none of it is kept. */
		(void)write_total(s, page_bytes, before.total);
		snprintf(why, cap, "got %lu of the %lu free %llu kB pages needed: %llu MiB short "
			 "(memory is fragmented or too small; for 1G pages the kernel option "
			 "hugepagesz=1G hugepages=N reserves them at boot)", after.free, need,
			 (unsigned long long)(page_bytes >> 10),
			 (unsigned long long)((need - after.free) * page_bytes >> 20));
		return -ENOMEM;
	}
	*added = after.total > before.total ? after.total - before.total : 0;
	return 0;
}

int hugepages_release(const struct sysroot *s, uint64_t page_bytes, unsigned long count)
{
	struct hugepage_pool now;
	int r = hugepages_read(s, page_bytes, &now);

	if (r < 0 || !count)
		return r;
	return write_total(s, page_bytes, now.total > count ? now.total - count : 0);
}

/* ---- the journal: {"2048": 512, "1048576": 0}, per uid ---- */

static void journal_name(uid_t uid, char *buf, size_t cap)
{
	snprintf(buf, cap, "hugepages-%u.json", (unsigned)uid);
}

static json_object *journal_load(int state_fd, uid_t uid)
{
	_cleanup_free_ char *text = NULL;
	char name[64];
	json_object *o;

	journal_name(uid, name, sizeof(name));
	if (read_file_at(state_fd, name, 16384, READ_REGULAR | READ_TEXT, &text, NULL, NULL) < 0 ||
	    !(o = json_tokener_parse(text)) || !json_object_is_type(o, json_type_object))
		return json_object_new_object();
	return o;
}

int hugepages_journal_get(int state_fd, uid_t uid, uint64_t page_bytes, unsigned long *ret)
{
	json_object *o = journal_load(state_fd, uid), *v;
	char key[32];

	snprintf(key, sizeof(key), "%llu", (unsigned long long)(page_bytes >> 10));
	*ret = json_object_object_get_ex(o, key, &v) && json_object_get_int64(v) > 0 ?
		       (unsigned long)json_object_get_int64(v) : 0;
	json_object_put(o);
	return 0;
}

int hugepages_journal_add(int state_fd, uid_t uid, uint64_t page_bytes, long delta)
{
	json_object *o = journal_load(state_fd, uid), *v;
	char key[32], name[64];
	int64_t n = 0;
	const char *text;
	int r;

	snprintf(key, sizeof(key), "%llu", (unsigned long long)(page_bytes >> 10));
	if (json_object_object_get_ex(o, key, &v))
		n = json_object_get_int64(v);
	n = n + delta > 0 ? n + delta : 0;
	json_object_object_add(o, key, json_object_new_int64(n));
	journal_name(uid, name, sizeof(name));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	r = text ? write_file_atomic_at(state_fd, name, text, strlen(text), 0600, (uid_t)-1,
					(gid_t)-1) : -ENOMEM;
	json_object_put(o);
	return r;
}
