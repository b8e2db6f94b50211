/* SPDX-License-Identifier: MIT */
/*
 * The VM's own NVRAM: <state_dir>/<vm>_VARS.fd, copied once from the descriptor's template and
 * never overwritten. Losing it loses boot entries and enrolled keys, so every path here prefers
 * refusing to touching.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "firmware.h"
#include "fw-internal.h"
#include "log.h"
#include "names.h"
#include "util.h"

#define VARS_SUFFIX "_VARS.fd"
/* ".<name>.tmp-0123456789abcdef": the temp name must fit NAME_MAX too. */
#define TMP_EXTRA (1 + 5 + 16)
#define COPY_BUF (64 * 1024)

int fw_vars_name(const char *vm_name, char **ret_name)
{
	char *name;

	if (!name_is_safe(vm_name) || !ret_name)
		return -EINVAL;
	if (strlen(vm_name) + strlen(VARS_SUFFIX) + TMP_EXTRA > NAME_MAX)
		return -ENAMETOOLONG;
	if (asprintf(&name, "%s" VARS_SUFFIX, vm_name) < 0)
		return -ENOMEM;
	*ret_name = name;
	return 0;
}

/*
 * 1: name is a regular file of the template's size, keep it. 0: absent. -ELOOP: a symlink,
 * -EINVAL: something else that is not a regular file; -EMEDIUMTYPE: a regular file whose size
 * is not the template's, i.e. made for another flash generation; starting QEMU with it would
 * lose (or corrupt) NVRAM, and replacing it would destroy it, so the caller must decide.
 */
static int check_existing(int dir_fd, const char *name, uint64_t template_size)
{
	struct stat st;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size != template_size) {
		log_debug("firmware vars %s: %llu bytes, template has %llu, refusing", name,
			  (unsigned long long)st.st_size, (unsigned long long)template_size);
		return -EMEDIUMTYPE;
	}
	return 1;
}

static int copy_fd(int from, int to, uint64_t expect)
{
	_cleanup_free_ char *buf = malloc(COPY_BUF);
	uint64_t total = 0;

	if (!buf)
		return -ENOMEM;

	for (;;) {
		ssize_t n = read_full(from, buf, COPY_BUF);
		int r;

		if (n <= 0) {
			if (n < 0)
				return (int)n;
			break;
		}
		r = write_all(to, buf, (size_t)n);
		if (r < 0)
			return r;
		total += (uint64_t)n;
	}
	/* The template changed size while we copied: a torn copy is worse than none. */
	return total == expect ? 0 : -EIO;
}

/* Create a fresh temp file next to the destination; never reuses an existing name. */
static int open_temp(int dir_fd, const char *vm_name, char *tmp, size_t cap)
{
	for (int attempt = 0; attempt < 64; attempt++) {
		unsigned long long rnd;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = ((unsigned long long)getpid() << 32) ^ (unsigned long long)attempt ^
			      (unsigned long long)(uintptr_t)tmp;
		(void)snprintf(tmp, cap, ".%s.tmp-%016llx", vm_name, rnd);
		fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST && errno != EINTR)
			return -errno;
	}
	return -EEXIST;
}

/*
 * Put tmp in place as name without ever replacing name: linkat fails with EEXIST, and so does
 * renameat2(RENAME_NOREPLACE), used where the file system has no hard links.
 * Returns 0 when linked (tmp still exists), 1 when renamed (tmp is gone), negative errno.
 */
static int publish(int dir_fd, const char *tmp, const char *name)
{
	if (linkat(dir_fd, tmp, dir_fd, name, 0) == 0)
		return 0;
	if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS && errno != EMLINK)
		return -errno;
	if (renameat2(dir_fd, tmp, dir_fd, name, RENAME_NOREPLACE) == 0)
		return 1;
	return -errno;
}

static int fsync_dir(int dir_fd)
{
	_cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return fsync(fd) < 0 ? -errno : 0;
}

/* The template, copied whole into a new temporary file (exactly 0600: NVRAM holds secrets,
 * keys and boot credentials) that is fsync'd and closed; its name in tmp. */
static int copy_to_temp(int state_dir_fd, const char *vm_name, int template_fd, uint64_t size,
			char *tmp, size_t cap)
{
	_cleanup_close_ int out = open_temp(state_dir_fd, vm_name, tmp, cap);
	int r;

	if (out < 0)
		return out;
	r = fchmod(out, 0600) < 0 ? -errno : 0;
	if (r == 0)
		r = copy_fd(template_fd, out, size);
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	if (r == 0)
		r = close(TAKE_FD(out)) < 0 ? -errno : 0;
	if (r < 0)
		(void)unlinkat(state_dir_fd, tmp, 0);
	return r;
}

/* The temporary copy becomes name, unless name appeared meanwhile (then that one is kept when it
 * is sane). 1 created, 0 kept someone else's; the temporary file is gone either way. */
static int install(int state_dir_fd, const char *tmp, const char *name, uint64_t size)
{
	int r = publish(state_dir_fd, tmp, name);
	bool created = r >= 0;

	/* Linked (0) or refused: the temporary name is still there; renamed (1): it is not. */
	if (r != 1 && unlinkat(state_dir_fd, tmp, 0) < 0)
		log_debug("firmware vars: cannot remove %s: %m, ignoring", tmp);
	if (r == -EEXIST) {
		r = check_existing(state_dir_fd, name, size);
		if (r == 0)
			r = -EEXIST; /* gone again: too racy to guess, let the caller retry */
	}
	if (r < 0)
		return r;
	r = fsync_dir(state_dir_fd);
	return r < 0 ? r : created;
}

int fw_vars_ensure(int state_dir_fd, int root_fd, const char *vm_name, const struct fw_choice *c,
		   char **ret_name, bool *ret_created)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int template_fd = -1;
	char tmp[NAME_MAX + 1];
	struct stat st;
	int r;

	if (!c || !c->vars_template || !ret_name || !ret_created)
		return -EINVAL;
	r = fw_vars_name(vm_name, &name);
	if (r < 0)
		return r;
	template_fd = fw_open_in_root(root_fd, c->vars_template, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (template_fd < 0)
		return template_fd;
	if (fstat(template_fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/* An existing NVRAM is the VM's: kept as it is, never overwritten. */
	r = check_existing(state_dir_fd, name, (uint64_t)st.st_size);
	if (r == 0) {
		r = copy_to_temp(state_dir_fd, vm_name, template_fd, (uint64_t)st.st_size, tmp, sizeof(tmp));
		if (r == 0)
			r = install(state_dir_fd, tmp, name, (uint64_t)st.st_size);
		if (r < 0)
			return r;
		*ret_created = r == 1;
	} else if (r > 0) {
		*ret_created = false;
	} else {
		return r;
	}
	log_debug("firmware vars %s: %s", name, *ret_created ? "created from template" : "kept");
	*ret_name = TAKE_PTR(name);
	return 0;
}
