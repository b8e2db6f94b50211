/* SPDX-License-Identifier: MIT */
/*
 * vmrun-helper: the root steps of an unprivileged vmrun, and nothing else. Installed setuid
 * root (like fusermount3); one operation per run, taken from argv alone:
 *
 *   vmrun-helper detach ADDRESS [--run] [--keep] [--release] [--dry-run]
 *                                             ADDRESS's IOMMU group to vfio-pci; the caller
 *                                             gets /dev/vfio/N; --release: the caller's own
 *                                             Wayland compositor asked to let go first
 *   vmrun-helper attach ADDRESS [--dry-run]   the group back to its host drivers (its owner)
 *   vmrun-helper restore ADDRESS [--dry-run]  finish or undo an interrupted switch (its owner)
 *   vmrun-helper memlock BYTES                raise the calling vmrun's RLIMIT_MEMLOCK
 *
 * Who may do what is decided only by root, in /etc/vmrun/allow.yaml (allow.h); the work is
 * done by the same code as a root vmrun's (privop.h), and the report goes back to the caller
 * on stdout, one JSON object a line, the exit code the result's. Everything the caller could
 * have set up is reset first (helper_sanitize). See README.md, "Running as a user", for the
 * threat model.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allow.h"
#include "helper.h"
#include "kernel.h"
#include "log.h"
#include "privop.h"
#include "sysroot.h"
#include "util.h"

#define ALLOW_DIR "/etc/vmrun"
#define ALLOW_FILE "allow.yaml"

static int finish(struct priv_result *res)
{
	_cleanup_free_ char *line = priv_report_result(res);

	if (line)
		report_line(line);
	return switch_status_exit(res->status);
}

static enum switch_status load_allow(struct allow_list *l, char *why, size_t cap)
{
	char err[256] = "";
	int dfd, r;

	dfd = open(ALLOW_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(why, cap, "%s/%s: %s: no device is allowed to users (the administrator "
			 "lists them there)", ALLOW_DIR, ALLOW_FILE, strerror(errno));
		return SW_REFUSED;
	}
	r = allow_load(dfd, ALLOW_FILE, l, err, sizeof(err));
	safe_close(dfd);
	if (r < 0) {
		snprintf(why, cap, "%s/%s: %s; refusing everything", ALLOW_DIR, ALLOW_FILE, err);
		return SW_REFUSED;
	}
	return SW_OK;
}

/* Who asks, and may they; the request from argv. */
static enum switch_status admit(int argc, char **argv, struct caller *c, struct allow_list *l,
				struct priv_request *rq, const struct sysroot *s, char *why, size_t cap)
{
	enum switch_status st;

	if (helper_parse(argc, argv, rq, why, cap) < 0)
		return SW_BAD_INPUT;
	if (c->uid != 0) {
		st = load_allow(l, why, cap);
		if (st)
			return st;
	}
	if (helper_authorize(s, c, l, rq, why, cap) < 0)
		return SW_REFUSED;
	if (rq->op == PRIV_INPUT)
		(void)helper_find_vmrun(rq); /* none: every input request is refused */
	rq->caller = c->uid;
	rq->caller_gid = c->gid;
	rq->caller_pid = c->pid;
	return SW_OK;
}

int main(int argc, char **argv)
{
	_cleanup_(sysroot_freep) struct sysroot *s = NULL;
	struct priv_result res = { .status = SW_FAILED, .group = -1 };
	struct allow_list l = { 0 };
	struct priv_request rq;
	struct caller c;
	int r;

	helper_sanitize();
	log_set_fn(NULL);
	/* The caller's identity comes from the kernel, before we change our own; the report goes
	 * through a relay with the caller's own rights, or nowhere. */
	r = helper_identify(&c);
	report_init(c.gids ? &c : NULL);
	if (r < 0) {
		snprintf(res.why, sizeof(res.why), "cannot tell who is calling (uid %u): %s",
			 (unsigned)getuid(), strerror(-r));
		return finish(&res);
	}
	if (geteuid() != 0) {
		snprintf(res.why, sizeof(res.why), "must be installed setuid root (install -m 4755 -o root)");
		caller_clear(&c);
		return finish(&res);
	}
	/* Fully root from here: the caller can no longer signal us mid-switch (and its terminal's
	 * signals are blocked), and nothing we start drops back to the caller's ids. */
	if (helper_become_root() < 0 || clearenv() != 0 ||
	    setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1) < 0) {
		snprintf(res.why, sizeof(res.why), "cannot become root: %s", strerror(errno));
		caller_clear(&c);
		return finish(&res);
	}
	r = helper_leave_cgroup();
	helper_sanitize_sched(); /* the caller's cgroup may have narrowed the CPUs */
	if (r < 0) {
		snprintf(res.why, sizeof(res.why), "cannot leave the caller's cgroup (which they "
			 "could freeze halfway through a switch): refusing");
	} else if (sysroot_open("/", &s) < 0) {
		snprintf(res.why, sizeof(res.why), "cannot open /");
	} else {
		res.status = admit(argc, argv, &c, &l, &rq, s, res.why, sizeof(res.why));
		if (res.status == SW_OK)
			privop_run(s, &kernel_real, &rq, report_progress, NULL, &res);
	}
	allow_list_clear(&l);
	caller_clear(&c);
	return finish(&res);
}
