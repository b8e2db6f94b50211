/* SPDX-License-Identifier: MIT */
#include "hugepages.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "grouplock.h"
#include "meminfo.h"
#include "util.h"

#define JOURNAL "hugepages.json"
#define LOCK "hugepages.lock"
#define LOCK_WAIT_MS 120000 /* another request may be compacting memory for its pages */
#define WRITE_WAIT_MS 120000
#define MIB(bytes) ((unsigned long long)((bytes) >> 20))

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

/* The pool's size, through the kernel's one seam (a write may take long: the kernel finds and
 * clears the pages first). */
static int write_total(const struct sysroot *s, const struct kernel_ops *k, uint64_t page_bytes,
		       unsigned long total)
{
	char path[96], text[32];
	int stuck = 0;

	pool_path(page_bytes, "nr_hugepages", path, sizeof(path));
	snprintf(text, sizeof(text), "%lu", total);
	return k->sysfs_write(k->data, s, path, text, WRITE_WAIT_MS, &stuck);
}

/* ---- the journal: {"2048": {"floor": 100, "users": {"1000": 512}}, ...} ---- */

static void size_key(uint64_t page_bytes, char *buf, size_t cap)
{
	snprintf(buf, cap, "%llu", (unsigned long long)(page_bytes >> 10));
}

static json_object *journal_load(int state_fd)
{
	_cleanup_free_ char *text = NULL;
	json_object *o = NULL;

	/* Root's own file, written atomically: one that does not parse credits nobody, so a
	 * give-back takes nothing (never too much). */
	if (read_file_at(state_fd, JOURNAL, 65536, READ_REGULAR | READ_TEXT, &text, NULL, NULL) >= 0)
		o = json_tokener_parse(text);
	if (o && json_object_is_type(o, json_type_object))
		return o;
	json_object_put(o);
	return json_object_new_object();
}

static int journal_save(int state_fd, json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	return text ? write_file_atomic_at(state_fd, JOURNAL, text, strlen(text), 0600, (uid_t)-1,
					   (gid_t)-1) : -ENOMEM;
}

/* The entry of one page size, made when asked to. */
static json_object *size_entry(json_object *j, uint64_t page_bytes, bool make)
{
	json_object *e = NULL, *users;
	char key[32];

	size_key(page_bytes, key, sizeof(key));
	if (json_object_object_get_ex(j, key, &e) && json_object_is_type(e, json_type_object) &&
	    json_object_object_get_ex(e, "users", &users) && json_object_is_type(users, json_type_object))
		return e;
	if (!make)
		return NULL;
	e = json_object_new_object();
	json_object_object_add(e, "floor", json_object_new_int64(0));
	json_object_object_add(e, "users", json_object_new_object());
	json_object_object_add(j, key, e);
	return e;
}

static unsigned long get_count(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0)
		return 0;
	return (unsigned long)json_object_get_int64(v);
}

static json_object *users_of(json_object *e)
{
	json_object *u = NULL;

	return e && json_object_object_get_ex(e, "users", &u) ? u : NULL;
}

static unsigned long credit_of(json_object *e, uid_t uid)
{
	char key[16];

	snprintf(key, sizeof(key), "%u", (unsigned)uid);
	return get_count(users_of(e), key);
}

static unsigned long credits_total(json_object *e)
{
	json_object *users = users_of(e);
	unsigned long sum = 0;

	if (!users)
		return 0;
	json_object_object_foreach(users, key, v) {
		(void)v;
		sum += get_count(users, key);
	}
	return sum;
}

static void set_credit(json_object *e, uid_t uid, unsigned long n)
{
	char key[16];

	snprintf(key, sizeof(key), "%u", (unsigned)uid);
	if (n)
		json_object_object_add(users_of(e), key, json_object_new_int64((int64_t)n));
	else
		json_object_object_del(users_of(e), key);
}

/* What uid has been credited, all page sizes together, in bytes. */
static uint64_t credited_bytes(json_object *j, uid_t uid)
{
	uint64_t sum = 0;

	json_object_object_foreach(j, key, e) {
		unsigned long long kib = strtoull(key, NULL, 10);

		if (json_object_is_type(e, json_type_object))
			sum += (uint64_t)credit_of(e, uid) * (kib << 10);
	}
	return sum;
}

/*
 * Journals of an older vmrun (hugepages-UID.json, {"2048": N}: credits with no floor) folded
 * in, so that a run started before an upgrade still gets its pages back; their floor is taken
 * as the pool now less every credit.
 */
static void fold_old_journals(const struct sysroot *s, int state_fd, json_object *j)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = openat(state_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || !(d = fdopendir(fd))) {
		safe_close(fd);
		return;
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *text = NULL;
		unsigned uid;
		int used = 0;
		json_object *o;

		if (sscanf(de->d_name, "hugepages-%u.json%n", &uid, &used) != 1 || de->d_name[used] ||
		    read_file_at(state_fd, de->d_name, 16384, READ_REGULAR | READ_TEXT, &text, NULL, NULL) < 0)
			continue;
		o = json_tokener_parse(text);
		json_object_object_foreach(o, key, v) {
			uint64_t page = strtoull(key, NULL, 10) << 10;
			json_object *e = page ? size_entry(j, page, true) : NULL;
			struct hugepage_pool now;

			if (!e || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0)
				continue;
			set_credit(e, (uid_t)uid, credit_of(e, (uid_t)uid) + (unsigned long)json_object_get_int64(v));
			if (hugepages_read(s, page, &now) == 0)
				json_object_object_add(e, "floor", json_object_new_int64(
					(int64_t)(now.total > credits_total(e) ? now.total - credits_total(e) : 0)));
		}
		json_object_put(o);
		if (journal_save(state_fd, j) == 0)
			(void)unlinkat(state_fd, de->d_name, 0);
	}
}

/* ---- growing and giving back, under the lock ---- */

/* The memory the host keeps whatever a VM asks: a sixteenth of it, at most 1 GiB. */
static uint64_t host_reserve(uint64_t total)
{
	return total / 16 < (1ULL << 30) ? total / 16 : (1ULL << 30);
}

/* May uid's pools grow by missing pages? The memory the host has available (less its reserve)
 * and the administrator's quota both bound it. */
static int growth_allowed(const struct sysroot *s, json_object *j, const struct hugepage_request *rq,
			  unsigned long missing, char *why, size_t cap)
{
	uint64_t want = (uint64_t)missing * rq->page_bytes, avail, keep, had;
	struct meminfo m;
	int r = meminfo_read(s, &m);

	if (r < 0)
		return snprintf(why, cap, "cannot read /proc/meminfo: %s", strerror(-r)), r;
	avail = m.available;
	keep = host_reserve(m.total);
	if (want + keep > avail)
		return snprintf(why, cap, "%lu more %llu MiB pages (%llu MiB) would leave the host "
				"less than %llu MiB of the %llu MiB it has available: free memory "
				"first, or reserve them at boot (hugepages=N on the kernel command "
				"line)", missing, MIB(rq->page_bytes), MIB(want), MIB(keep), MIB(avail)),
		       -ENOMEM;
	had = credited_bytes(j, rq->uid);
	if (rq->quota_bytes && had + want > rq->quota_bytes)
		return snprintf(why, cap, "%lu more %llu MiB pages (%llu MiB) would make %llu MiB "
				"of hugepages for uid %u, over the %llu MiB /etc/vmrun/allow.yaml "
				"allows them", missing, MIB(rq->page_bytes), MIB(want),
				MIB(had + want), (unsigned)rq->uid, MIB(rq->quota_bytes)),
		       -EDQUOT;
	return 0;
}

/* Free contiguous memory first: hugepages need it, and a fragmented host has none. */
static void compact(const struct sysroot *s)
{
	_cleanup_close_ int fd = s->proc_fd < 0 ? -1 :
		openat(s->proc_fd, "sys/vm/compact_memory", O_WRONLY | O_CLOEXEC);

	if (fd >= 0)
		(void)write_all(fd, "1\n", 2);
}

/* The pool from before.total to before.total + missing; *added what it really grew by. On a
 * shortfall it is put back and nothing is added. */
static int grow_pool(const struct sysroot *s, const struct kernel_ops *k,
		     const struct hugepage_request *rq, const struct hugepage_pool *before,
		     unsigned long *added, char *why, size_t cap)
{
	unsigned long missing = rq->count - before->free;
	struct hugepage_pool after;
	int r;

	compact(s);
	r = write_total(s, k, rq->page_bytes, before->total + missing);
	if (r >= 0)
		r = hugepages_read(s, rq->page_bytes, &after);
	if (r < 0) {
		(void)write_total(s, k, rq->page_bytes, before->total);
		return snprintf(why, cap, "cannot grow the hugepage pool: %s", strerror(-r)), r;
	}
	if (after.free < rq->count) {
		(void)write_total(s, k, rq->page_bytes, before->total);
		return snprintf(why, cap, "got %lu of the %lu free %llu kB pages needed: %llu MiB "
				"short (memory is fragmented or too small; for 1G pages the kernel "
				"option hugepagesz=1G hugepages=N reserves them at boot)", after.free,
				rq->count, (unsigned long long)(rq->page_bytes >> 10),
				MIB((rq->count - after.free) * rq->page_bytes)), -ENOMEM;
	}
	/* Only what the pool grew by, and never more than was missing: pages someone else
	 * added meanwhile are not this caller's. */
	*added = after.total > before->total ? after.total - before->total : 0;
	if (*added > missing)
		*added = missing;
	return 0;
}

int hugepages_grow(const struct sysroot *s, const struct kernel_ops *k, int state_fd,
		   const struct hugepage_request *rq, unsigned long *added, char *why, size_t cap)
{
	_cleanup_close_ int lock = -1;
	struct hugepage_pool before;
	json_object *j = NULL, *e;
	int r;

	*added = 0;
	r = state_lock(state_fd, LOCK, LOCK_WAIT_MS, &lock);
	if (r < 0)
		return snprintf(why, cap, "the hugepage pools: %s", r == -EBUSY ? "another request "
				"is still changing them" : strerror(-r)), r;
	r = hugepages_read(s, rq->page_bytes, &before);
	if (r < 0)
		return snprintf(why, cap, "cannot read the %llu kB hugepage pool: %s",
				(unsigned long long)(rq->page_bytes >> 10), strerror(-r)), r;
	if (before.free >= rq->count)
		return 0;
	j = journal_load(state_fd);
	fold_old_journals(s, state_fd, j);
	r = growth_allowed(s, j, rq, rq->count - before.free, why, cap);
	if (r == 0)
		r = grow_pool(s, k, rq, &before, added, why, cap);
	if (r == 0 && *added) {
		e = size_entry(j, rq->page_bytes, true);
		if (!credits_total(e)) /* the first growth by any vmrun: what was there stays */
			json_object_object_add(e, "floor", json_object_new_int64((int64_t)before.total));
		set_credit(e, rq->uid, credit_of(e, rq->uid) + *added);
		/* Journaled before it is said: a crash now still gives them back. */
		r = journal_save(state_fd, j);
		if (r < 0) {
			(void)write_total(s, k, rq->page_bytes, before.total);
			snprintf(why, cap, "cannot journal the hugepages: %s", strerror(-r));
			*added = 0;
		}
	}
	json_object_put(j);
	return r;
}

int hugepages_give_back(const struct sysroot *s, const struct kernel_ops *k, int state_fd,
			const struct hugepage_request *rq, unsigned long *given, char *why,
			size_t cap)
{
	_cleanup_close_ int lock = -1;
	struct hugepage_pool now;
	unsigned long credit, floor, target;
	json_object *j, *e;
	int r;

	*given = 0;
	r = state_lock(state_fd, LOCK, LOCK_WAIT_MS, &lock);
	if (r < 0)
		return snprintf(why, cap, "the hugepage pools: %s", r == -EBUSY ? "another request "
				"is still changing them" : strerror(-r)), r;
	j = journal_load(state_fd);
	fold_old_journals(s, state_fd, j);
	e = size_entry(j, rq->page_bytes, false);
	credit = credit_of(e, rq->uid);
	*given = rq->count < credit ? rq->count : credit;
	if (!*given) {
		json_object_put(j);
		return 0;
	}
	floor = get_count(e, "floor");
	r = hugepages_read(s, rq->page_bytes, &now);
	if (r == 0) {
		target = now.total > *given ? now.total - *given : 0;
		if (target < floor)
			target = floor;
		if (target < now.total)
			r = write_total(s, k, rq->page_bytes, target);
	}
	if (r < 0 && r != -ENOENT) {
		snprintf(why, cap, "cannot shrink the hugepage pool: %s", strerror(-r));
		*given = 0;
		json_object_put(j);
		return r;
	}
	/* The credit goes either way: a pool that is gone or already at its floor has nothing
	 * of this caller's left in it. */
	set_credit(e, rq->uid, credit - *given);
	if (!credits_total(e))
		json_object_object_add(e, "floor", json_object_new_int64(0));
	r = journal_save(state_fd, j);
	if (r < 0)
		snprintf(why, cap, "cannot journal the hugepages: %s", strerror(-r));
	json_object_put(j);
	return r;
}

int hugepages_credit(int state_fd, uid_t uid, uint64_t page_bytes, unsigned long *ret)
{
	json_object *j = journal_load(state_fd);

	*ret = credit_of(size_entry(j, page_bytes, false), uid);
	json_object_put(j);
	return 0;
}

int hugepages_floor(int state_fd, uint64_t page_bytes, unsigned long *ret)
{
	json_object *j = journal_load(state_fd);

	*ret = get_count(size_entry(j, page_bytes, false), "floor");
	json_object_put(j);
	return 0;
}
