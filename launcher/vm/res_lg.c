/* SPDX-License-Identifier: MIT */
/*
 * The Looking Glass shared memory file in /dev/shm: made by the run (the user's, 0660, the
 * frame's size), removed on every ending; a dead run's is removed by name and owner.
 */
#include "res.h"
#include "recovery.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"

/* The Looking Glass shared memory: the user's, 0660 (the client runs as them), the frame's size;
 * left by a crashed run of ours, it is used again. Removed on every ending. */
int res_lg_take(struct run *r)
{
	const struct plan *pl = r->pl;
	struct stat st;
	int fd;

	if (!pl->p->looking_glass.on || pl->lg_kvmfr)
		return 0;
	fd = open(pl->looking_glass, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0660);
	if (fd < 0)
		return log_err("Looking Glass: cannot create %s: %m", pl->looking_glass), EXIT_ERROR;
	/* A second link is someone else's file under our name (a hard link, where the kernel's
	 * protected_hardlinks is off): never ours to truncate and chmod. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1) {
		log_err("Looking Glass: %s exists and is not a file of yours: remove it",
			pl->looking_glass);
		safe_close(fd);
		return EXIT_NOT_READY;
	}
	r->lg_made = true;
	snprintf(r->vi.looking_glass, sizeof(r->vi.looking_glass), "%s", pl->looking_glass);
	r->vi.looking_glass_made = true;
	run_sync_info(r);
	if (fchmod(fd, 0660) < 0 || ftruncate(fd, (off_t)pl->p->looking_glass.size) < 0) {
		log_err("Looking Glass: %s: %m", pl->looking_glass);
		safe_close(fd);
		return EXIT_ERROR;
	}
	safe_close(fd);
	run_say(r, "looking-glass", "Looking Glass: %s, %llu MiB; its client: looking-glass-client -f %s",
	    pl->looking_glass, (unsigned long long)(pl->p->looking_glass.size >> 20),
	    pl->looking_glass);
	return 0;
}

void res_lg_give(struct run *r, int *code)
{
	(void)code;
	if (!r->lg_made)
		return;
	if (unlink(r->pl->looking_glass) < 0 && errno != ENOENT)
		log_warn("Looking Glass: cannot remove %s: %m", r->pl->looking_glass);
	else
		r->vi.looking_glass_made = false;
	r->lg_made = false;
	run_sync_info(r);
}

/* Only a regular file of ours: vm.json is the user's to write, so the name is checked. */
void res_lg_recover(struct recovery *c)
{
	struct vmdir_info *vi = c->vi;
	struct stat st;

	if (!vi->looking_glass_made)
		return;
	if (strncmp(vi->looking_glass, "/dev/shm/looking-glass-", 23) != 0 ||
	    strchr(vi->looking_glass + 23, '/') ||
	    (lstat(vi->looking_glass, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_uid != geteuid()))) {
		recovery_say(c, "Looking Glass: %.200s is not a file the run made: left alone", vi->looking_glass);
	} else if (unlink(vi->looking_glass) < 0 && errno != ENOENT) {
		recovery_say(c, "Looking Glass: cannot remove %.200s: %s", vi->looking_glass, strerror(errno));
		c->left = true;
		return;
	} else {
		recovery_say(c, "Looking Glass: removed %.200s", vi->looking_glass);
	}
	vi->looking_glass_made = false;
}
