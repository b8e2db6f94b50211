/* SPDX-License-Identifier: MIT */
/*
 * Whole-file reads and atomic replacement (fileio.c), which the journal, vm.json, setup and
 * desktop entries all write through. fsync and renameat are wrapped (-Wl,--wrap, see the
 * Makefile) so the order of the durable steps is seen and each can be made to fail: a crash
 * must leave the old file or the new one, and that needs the data on disk before the rename.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakesys.h"
#include "fileio.h"
#include "journal.h"
#include "util.h"

/* What happened, in order: "fsync:FILE" (the inode's current name, or "dir"), "rename:A>B". */
static char calls[2048];
static int fail_fsync_at, fail_rename; /* 1-based call to fail with EIO; 0: none */
static int n_fsync;
static int dir_fd = -1;
static ino_t dir_ino;

int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __real_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __real_unlinkat(int dirfd, const char *path, int flags);
int __wrap_unlinkat(int dirfd, const char *path, int flags);

static void note(const char *fmt, ...)
{
	size_t len = strlen(calls);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(calls + len, sizeof(calls) - len, fmt, ap);
	va_end(ap);
}

/* The name fd has in dir_fd (by inode), "dir" for the directory itself. */
static void name_of(int fd, char *buf, size_t cap)
{
	struct stat st, e;
	const char *list[] = { "x.json", ".x.json.vmrun-0.tmp", "group-3.json", NULL };
	char tmp[64];

	snprintf(buf, cap, "?");
	if (fstat(fd, &st) < 0)
		return;
	if (st.st_ino == dir_ino) {
		snprintf(buf, cap, "dir");
		return;
	}
	snprintf(tmp, sizeof(tmp), ".x.json.vmrun-%d.tmp", (int)getpid());
	list[1] = tmp;
	for (int i = 0; list[i]; i++)
		if (fstatat(dir_fd, list[i], &e, 0) == 0 && e.st_ino == st.st_ino) {
			snprintf(buf, cap, "%s", strstr(list[i], ".tmp") ? "tmp" : list[i]);
			return;
		}
	snprintf(tmp, sizeof(tmp), ".group-3.json.vmrun-%d.tmp", (int)getpid());
	if (fstatat(dir_fd, tmp, &e, 0) == 0 && e.st_ino == st.st_ino)
		snprintf(buf, cap, "tmp");
}

int __wrap_fsync(int fd)
{
	char name[64];

	name_of(fd, name, sizeof(name));
	note("fsync:%s ", name);
	if (++n_fsync == fail_fsync_at) {
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}

int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	note("rename:%s>%s ", strstr(oldpath, ".tmp") ? "tmp" : oldpath, newpath);
	if (fail_rename) {
		errno = EIO;
		return -1;
	}
	return __real_renameat(olddirfd, oldpath, newdirfd, newpath);
}

/* Someone else's file to plant at the temporary name the moment after it is cleared. */
static const char *plant_link_to;

int __wrap_unlinkat(int dirfd, const char *path, int flags)
{
	int r = __real_unlinkat(dirfd, path, flags);

	/* A racing writer of the directory: a hard link to their file where ours is to be. */
	if (plant_link_to && strstr(path, ".vmrun-") && strstr(path, ".tmp"))
		(void)linkat(dirfd, plant_link_to, dirfd, path, 0);
	return r;
}

struct fx {
	char *root;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct stat st;

	f->root = fake_root_new();
	dir_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dir_fd >= 0);
	assert_int_equal(fstat(dir_fd, &st), 0);
	dir_ino = st.st_ino;
	calls[0] = '\0';
	fail_fsync_at = fail_rename = n_fsync = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close(dir_fd);
	fake_root_free(f->root);
	free(f);
	return 0;
}

static char *slurp(const char *name)
{
	char *buf = NULL;

	if (read_file_at(dir_fd, name, 1 << 20, 0, &buf, NULL, NULL) < 0)
		return NULL;
	return buf;
}

static size_t entries(void)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdopendir(fd);
	struct dirent *de;
	size_t n = 0;

	while ((de = readdir(d)))
		n += de->d_name[0] != '.' || strstr(de->d_name, ".tmp");
	closedir(d);
	return n;
}

/* The data is on disk before the rename makes it the file, and the rename itself after. */
static void test_atomic_order(void **state)
{
	char *s;

	(void)state;
	assert_int_equal(write_file_atomic_at(dir_fd, "x.json", "new", 3, 0640, (uid_t)-1, (gid_t)-1), 0);
	assert_string_equal(calls, "fsync:tmp rename:tmp>x.json fsync:dir ");
	s = slurp("x.json");
	assert_string_equal(s, "new");
	free(s);
	assert_int_equal(entries(), 1);
}

/* Each durable step failing: the old file stays, whole, and no temporary file is left. */
static void test_atomic_failures(void **state)
{
	char *s;

	(void)state;
	assert_int_equal(write_file_atomic_at(dir_fd, "x.json", "old", 3, 0600, (uid_t)-1, (gid_t)-1), 0);
	fail_fsync_at = n_fsync + 1;
	assert_int_equal(write_file_atomic_at(dir_fd, "x.json", "new", 3, 0600, (uid_t)-1, (gid_t)-1), -EIO);
	fail_fsync_at = 0;
	fail_rename = 1;
	assert_int_equal(write_file_atomic_at(dir_fd, "x.json", "new", 3, 0600, (uid_t)-1, (gid_t)-1), -EIO);
	fail_rename = 0;
	s = slurp("x.json");
	assert_string_equal(s, "old");
	free(s);
	assert_int_equal(entries(), 1);
}

/* The journal goes through the same durable steps. */
static void test_journal_durable(void **state)
{
	struct switch_dev dev = { .fn.name = "0000:01:00.0", .role = ROLE_GPU, .ours = true,
				  .orig_driver = "bochs-drm" };
	struct journal j = { .op = JOURNAL_DETACH, .pid = 42, .holder = 42,
			     .plan = { .group = 3, .devs = &dev, .n_devs = 1 } };

	(void)state;
	snprintf(j.plan.gpu.name, sizeof(j.plan.gpu.name), "0000:01:00.0");
	assert_int_equal(journal_write(dir_fd, &j), 0);
	assert_string_equal(calls, "fsync:tmp rename:tmp>group-3.json fsync:dir ");
	calls[0] = '\0';
	fail_fsync_at = n_fsync + 1;
	assert_int_equal(journal_write(dir_fd, &j), -EIO);
	assert_int_equal(entries(), 1);
}

/*
 * The temporary file is created, never opened as found: a file that appears at its name between
 * the clearing and the open (a hard link to someone else's, planted by whoever can write the
 * directory) is refused, not truncated and written with our data.
 */
static void test_atomic_exclusive(void **state)
{
	char *victim;

	(void)state;
	assert_int_equal(write_file_atomic_at(dir_fd, "victim", "theirs\n", 7, 0644, (uid_t)-1,
					      (gid_t)-1), 0);
	plant_link_to = "victim";
	assert_int_equal(write_file_atomic_at(dir_fd, "x.json", "ours\n", 5, 0600, (uid_t)-1,
					      (gid_t)-1), -EEXIST);
	plant_link_to = NULL;
	victim = slurp("victim");
	assert_string_equal(victim, "theirs\n");
	free(victim);
	assert_null(slurp("x.json"));
}

static void test_read_rules(void **state)
{
	char *buf = NULL, big[5000];
	size_t len = 0;
	struct stat st;

	(void)state;
	memset(big, 'a', sizeof(big));
	assert_int_equal(write_file_atomic_at(dir_fd, "big", big, sizeof(big), 0600, (uid_t)-1, (gid_t)-1), 0);
	assert_int_equal(read_file_at(dir_fd, "big", 4999, 0, &buf, &len, NULL), -EFBIG);
	assert_null(buf);
	assert_int_equal(read_file_at(dir_fd, "big", 5000, 0, &buf, &len, &st), 0);
	assert_int_equal(len, 5000);
	assert_int_equal(st.st_size, 5000);
	assert_int_equal(buf[5000], '\0');
	free(buf);
	assert_int_equal(read_file_at(dir_fd, "big", 10, READ_TRUNCATE, &buf, &len, NULL), 0);
	assert_int_equal(len, 10);
	free(buf);
	assert_int_equal(write_file_atomic_at(dir_fd, "nul", "a\0b", 3, 0600, (uid_t)-1, (gid_t)-1), 0);
	assert_int_equal(read_file_at(dir_fd, "nul", 100, READ_TEXT, &buf, &len, NULL), -EBADMSG);
	assert_int_equal(symlinkat("big", dir_fd, "link"), 0);
	assert_int_equal(read_file_at(dir_fd, "link", 1 << 20, READ_REGULAR, &buf, &len, NULL), -ELOOP);
	assert_int_equal(mkfifoat(dir_fd, "fifo", 0600), 0);
	/* A FIFO where a file should be: refused at once, never waited on. */
	assert_int_equal(read_file_at(dir_fd, "fifo", 100, READ_REGULAR, &buf, &len, NULL), -EINVAL);
	assert_int_equal(read_file_at(-1, "big", 100, 0, &buf, &len, NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_atomic_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_exclusive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_rules, setup, teardown),
	};

	return cmocka_run_group_tests_name("fileio", tests, NULL, NULL);
}
