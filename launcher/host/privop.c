/* SPDX-License-Identifier: MIT */
#include "privop.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devacl.h"
#include "exitcodes.h"
#include "fileio.h"
#include "hugepages.h"
#include "inputgrant.h"
#include "iommu.h"
#include "procstat.h"
#include "util.h"
#include "vfionode.h"

static const char *const op_names[] = {
	[PRIV_DETACH] = "detach", [PRIV_ATTACH] = "attach", [PRIV_RESTORE] = "restore",
	[PRIV_MEMLOCK] = "memlock", [PRIV_HUGEPAGES] = "hugepages",
	[PRIV_HUGEPAGES_FREE] = "hugepages-free", [PRIV_INPUT] = "input",
	[PRIV_INPUT_REVOKE] = "input-revoke",
};

const char *priv_op_name(enum priv_op op)
{
	return (unsigned)op <= PRIV_OP_MAX ? op_names[op] : "?";
}

int priv_op_parse(const char *name, enum priv_op *ret)
{
	for (unsigned i = 0; name && i <= PRIV_OP_MAX; i++)
		if (streq(name, op_names[i])) {
			*ret = (enum priv_op)i;
			return 0;
		}
	return -EINVAL;
}

_printf_(3, 4) static void result(struct priv_result *res, enum switch_status st, const char *fmt, ...)
{
	va_list ap;

	res->status = st;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
}

/* ---- the calling vmrun, held while it is checked ---- */

/* Every uid (real, effective, saved, fs) the caller's and every gid its primary group's, as
 * the kernel's own prlimit() check: a parent that exec'd something setuid is not the caller. */
static bool ids_are(int procfd, uid_t uid, gid_t gid)
{
	_cleanup_free_ char *status = NULL;
	bool seen_uid = false, seen_gid = false;

	if (read_file_at(procfd, "status", 16384, READ_TRUNCATE, &status, NULL, NULL) < 0)
		return false;
	for (char *line = status; line && *line;) {
		char *eol = strchr(line, '\n');
		bool u = strncmp(line, "Uid:", 4) == 0, g = strncmp(line, "Gid:", 4) == 0;
		unsigned long ids[4];

		if (eol)
			*eol = '\0';
		if (u || g) {
			if (sscanf(line + 4, "%lu %lu %lu %lu", &ids[0], &ids[1], &ids[2], &ids[3]) != 4)
				return false;
			for (int i = 0; i < 4; i++)
				if (ids[i] != (u ? (unsigned long)uid : (unsigned long)gid))
					return false;
			seen_uid |= u;
			seen_gid |= g;
		}
		line = eol ? eol + 1 : NULL;
	}
	return seen_uid && seen_gid;
}

static bool pidfd_alive(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 0; /* readable = the process has exited */
}

/* The calling vmrun, held by a pidfd and its /proc directory while it is checked. */
struct held_process {
	int pidfd, procfd;
	uint64_t start;
};

static void held_process_close(struct held_process *h)
{
	h->pidfd = safe_close(h->pidfd);
	h->procfd = safe_close(h->procfd);
}

/* Hold rq->caller_pid and check that it is the caller's alone (for root: any process). */
static int hold_process(const struct sysroot *s, const struct priv_request *rq,
			struct held_process *h, struct priv_result *res)
{
	char name[32];

	h->pidfd = (int)syscall(SYS_pidfd_open, rq->caller_pid, 0);
	snprintf(name, sizeof(name), "%d", (int)rq->caller_pid);
	h->procfd = s->proc_fd < 0 ? -1 : openat(s->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->pidfd < 0 || h->procfd < 0 || proc_start_time(s->proc_fd, rq->caller_pid, &h->start) < 0 ||
	    !pidfd_alive(h->pidfd)) {
		result(res, SW_FAILED, "the calling process %d went away", (int)rq->caller_pid);
		return -ESRCH;
	}
	if (rq->caller != 0 && !ids_are(h->procfd, rq->caller, rq->caller_gid)) {
		result(res, SW_REFUSED, "process %d is not uid %u's alone", (int)rq->caller_pid,
		       (unsigned)rq->caller);
		return -EPERM;
	}
	return 0;
}

/* ---- detach, attach, restore ---- */

/* After a detach: which of the group's functions are on vfio-pci now (the caller compares this
 * with what it planned to give QEMU). */
static void list_vfio(const struct sysroot *s, int group, struct priv_result *res)
{
	struct iommu_group g;

	if (iommu_group_read(s, group, &g) < 0)
		return;
	for (size_t i = 0; i < g.n_members && res->n_vfio < JOURNAL_MAX_DEVS; i++)
		if (streq(g.members[i].driver, "vfio-pci"))
			res->vfio[res->n_vfio++] = g.members[i].addr;
	iommu_group_clear(&g);
}

/* Only the caller's QEMU opens the group: /dev/vfio/N owner the caller, mode 0600, until the
 * group's attach or restore gives it back (vfionode.h). */
static void give_vfio_node(const struct sysroot *s, int state_fd, uid_t caller, int group,
			   struct priv_result *res, priv_progress_fn progress, void *data)
{
	char msg[96];
	int r = vfio_node_give(s, state_fd, group, caller);

	if (r < 0) {
		result(res, SW_FAILED, "cannot give /dev/vfio/%d to uid %u: %s", group,
		       (unsigned)caller, strerror(-r));
		return;
	}
	snprintf(msg, sizeof(msg), "/dev/vfio/%d now belongs to uid %u", group, (unsigned)caller);
	if (progress)
		progress(data, msg);
}

/* After a group's attach or restore: its node is no user's any more. */
static void take_back_vfio_node(const struct sysroot *s, int state_fd, int group,
				priv_progress_fn progress, void *data)
{
	char msg[96];

	if (vfio_node_take_back(s, state_fd, group) > 0 && progress) {
		snprintf(msg, sizeof(msg), "/dev/vfio/%d: its owner and mode are what they were", group);
		progress(data, msg);
	}
}

static int group_of(const struct sysroot *s, const struct pci_addr *a, struct priv_result *res)
{
	struct pci_function f;
	char name[PCI_ADDR_STR_MAX];

	if (pci_function_read(s, a, &f) < 0) {
		result(res, SW_BAD_INPUT, "no PCI device %s on this host", pci_addr_format(a, name));
		return -1;
	}
	if (f.iommu_group < 0) {
		result(res, SW_REFUSED, "%s is in no IOMMU group: the IOMMU is off", f.name);
		return -1;
	}
	return f.iommu_group;
}

static void do_switch(const struct sysroot *s, const struct kernel_ops *k,
		      const struct priv_request *rq, priv_progress_fn progress, void *data,
		      struct priv_result *res)
{
	struct switch_ctx c = { .s = s, .k = k, .state_fd = -1, .progress = progress,
				.progress_data = data, .owner = rq->caller, .holder = rq->caller_pid };
	int r;

	res->group = rq->all_groups ? -1 : group_of(s, &rq->addr, res);
	if (!rq->all_groups && res->group < 0)
		return;
	if (rq->all_groups && rq->caller != 0) {
		result(res, SW_BAD_INPUT, "restore without an address restores every group: only "
		       "root can; name the GPU");
		return;
	}
	/* A run's switch lives as long as its vmrun: that must be the caller's own process, not
	 * whatever adopted an orphaned helper (init would keep the group "in use" for ever). */
	if (rq->op == PRIV_DETACH && rq->opts.for_run && rq->caller != 0 && !rq->opts.dry_run) {
		struct held_process h = { -1, -1, 0 };

		r = hold_process(s, rq, &h, res);
		held_process_close(&h);
		if (r < 0)
			return;
	}
	r = switch_state_open(s, !rq->opts.dry_run, &c.state_fd);
	if (r == -ENOENT && rq->opts.dry_run && rq->op != PRIV_DETACH) {
		res->status = SW_OK; /* no journal directory: nothing to attach or restore */
		return;
	}
	if (r < 0 && !(r == -ENOENT && rq->opts.dry_run)) {
		result(res, SW_FAILED, "cannot open /run/vmrun/switch: %s%s", strerror(-r),
		       r == -EPERM ? " (it must be root's alone, mode 0700)" : "");
		return;
	}
	if (rq->op == PRIV_DETACH)
		res->status = switch_detach(&c, &rq->addr, &rq->opts);
	else if (rq->op == PRIV_ATTACH)
		res->status = switch_attach(&c, &rq->addr, &rq->opts);
	else
		res->status = switch_restore(&c, res->group, &rq->opts);
	snprintf(res->why, sizeof(res->why), "%s", res->status ? c.why : "");
	res->already = c.already;
	res->kept = c.kept || (rq->op == PRIV_DETACH && rq->opts.keep && !res->status);
	if (!res->status && !rq->opts.dry_run && rq->op != PRIV_DETACH && res->group >= 0)
		take_back_vfio_node(s, c.state_fd, res->group, progress, data);
	if (!res->status && !rq->opts.dry_run && rq->op == PRIV_DETACH) {
		if (rq->caller != 0)
			give_vfio_node(s, c.state_fd, rq->caller, res->group, res, progress, data);
		list_vfio(s, res->group, res);
	}
	safe_close(c.state_fd);
}

/* ---- memlock ---- */

/*
 * RLIMIT_MEMLOCK of the calling vmrun (QEMU inherits it), raised to bytes and never lowered.
 * The target is held by a pidfd and by its /proc directory while it is checked, and checked
 * again after: a pid that was reused in between gets its own limit back.
 */
static void do_memlock(const struct sysroot *s, const struct priv_request *rq,
		       priv_progress_fn progress, void *data, struct priv_result *res)
{
	struct held_process h = { -1, -1, 0 };
	struct rlimit cur, want, old;
	char msg[128];
	/* More than the machine's RAM (+1 GiB for QEMU itself) can never be needed. */
	unsigned long long cap = (unsigned long long)sysconf(_SC_PHYS_PAGES) *
				 (unsigned long long)sysconf(_SC_PAGESIZE) + (1ULL << 30);

	if (rq->caller != 0 && rq->bytes > cap) {
		result(res, SW_BAD_INPUT, "%llu bytes is more than this machine's memory",
		       (unsigned long long)rq->bytes);
		return;
	}
	if (hold_process(s, rq, &h, res) < 0)
		goto out;
	if (prlimit(rq->caller_pid, RLIMIT_MEMLOCK, NULL, &cur) < 0) {
		result(res, SW_FAILED, "reading the memlock limit of %d: %s", (int)rq->caller_pid,
		       strerror(errno));
		goto out;
	}
	want = cur;
	if (want.rlim_cur != RLIM_INFINITY && want.rlim_cur < rq->bytes)
		want.rlim_cur = rq->bytes;
	if (want.rlim_max != RLIM_INFINITY && want.rlim_max < want.rlim_cur)
		want.rlim_max = want.rlim_cur;
	if (!rq->opts.dry_run && prlimit(rq->caller_pid, RLIMIT_MEMLOCK, &want, &old) < 0) {
		result(res, SW_FAILED, "raising the memlock limit of %d: %s", (int)rq->caller_pid,
		       strerror(errno));
		goto out;
	}
	if (!rq->opts.dry_run && !pidfd_alive(h.pidfd)) {
		(void)prlimit(rq->caller_pid, RLIMIT_MEMLOCK, &old, NULL);
		result(res, SW_FAILED, "the calling process %d went away", (int)rq->caller_pid);
		goto out;
	}
	res->status = SW_OK;
	if (want.rlim_cur == RLIM_INFINITY)
		snprintf(msg, sizeof(msg), "locked-memory limit of pid %d: unlimited already",
			 (int)rq->caller_pid);
	else
		snprintf(msg, sizeof(msg), "locked-memory limit of pid %d %s %llu KiB",
			 (int)rq->caller_pid, want.rlim_cur > cur.rlim_cur ? "raised to" : "stays at",
			 (unsigned long long)want.rlim_cur >> 10);
	if (progress)
		progress(data, msg);
out:
	held_process_close(&h);
}

/* ---- hugepages: grown for a run, given back after it; root's journal credits them ---- */

static void do_hugepages(const struct sysroot *s, const struct kernel_ops *k,
			 const struct priv_request *rq, priv_progress_fn progress, void *data,
			 struct priv_result *res)
{
	const struct hugepage_request hq = { .uid = rq->caller, .page_bytes = rq->bytes,
					     .count = rq->count, .quota_bytes = rq->huge_quota };
	_cleanup_close_ int state = -1;
	char why[768] = "", msg[160];
	bool grow = rq->op == PRIV_HUGEPAGES;
	int r;

	if (rq->bytes != (2ULL << 20) && rq->bytes != (1ULL << 30)) {
		result(res, SW_BAD_INPUT, "hugepages are 2 MiB or 1 GiB, not %llu bytes",
		       (unsigned long long)rq->bytes);
		return;
	}
	if (rq->opts.dry_run) {
		res->status = SW_OK;
		return;
	}
	r = switch_state_open(s, true, &state);
	if (r < 0) {
		result(res, SW_FAILED, "cannot open /run/vmrun/switch: %s", strerror(-r));
		return;
	}
	r = grow ? hugepages_grow(s, k, state, &hq, &res->count, why, sizeof(why)) :
		   hugepages_give_back(s, k, state, &hq, &res->count, why, sizeof(why));
	if (r < 0) {
		result(res, r == -ENOMEM || r == -EDQUOT ? SW_REFUSED : r == -EBUSY ? SW_BUSY :
		       SW_FAILED, "%s", why);
		return;
	}
	res->status = SW_OK;
	if (grow)
		snprintf(msg, sizeof(msg), "hugepages: %lu of %llu MiB free (%lu made for this run)",
			 rq->count, (unsigned long long)(rq->bytes >> 20), res->count);
	else
		snprintf(msg, sizeof(msg), "hugepages: %lu %llu MiB pages given back", res->count,
			 (unsigned long long)(rq->bytes >> 20));
	if (progress)
		progress(data, msg);
}

/* ---- input: an ACL entry on the event device, for the run of the caller's that asked ---- */

/*
 * The run's vmrun, held while it is checked and the grant is made: the caller's alone, and
 * the vmrun binary installed beside the helper (a shell that runs the helper is no run: the
 * entry would outlive any VM). Its start time goes into root's record, so the grant ends
 * with it.
 */
static bool input_holder_ok(const struct sysroot *s, const struct priv_request *rq,
			    struct held_process *h, struct priv_result *res)
{
	struct stat st;

	if (hold_process(s, rq, h, res) < 0)
		return false;
	if (!rq->run_exe.set || fstatat(h->procfd, "exe", &st, 0) < 0 ||
	    st.st_dev != rq->run_exe.dev || st.st_ino != rq->run_exe.ino) {
		result(res, SW_REFUSED, "input devices are given only to a vmrun run of uid %u's: "
		       "process %d is not one", (unsigned)rq->caller, (int)rq->caller_pid);
		return false;
	}
	return true;
}

static int input_change(const struct sysroot *s, const struct priv_request *rq, int state,
			const char *rel, dev_t rdev, struct priv_result *res)
{
	struct held_process h = { -1, -1, 0 };
	struct input_grant g = { .uid = rq->caller, .rdev = rdev, .holder = rq->caller_pid };
	int r;

	if (rq->op == PRIV_INPUT_REVOKE)
		return input_grant_take(s, state, rq->caller, rel, rdev);
	if (!input_holder_ok(s, rq, &h, res)) {
		held_process_close(&h);
		return 1;
	}
	g.start = h.start;
	snprintf(g.node, sizeof(g.node), "%s", rel);
	r = input_grant_give(s, state, &g);
	/* The run went away while it was given: its grant goes with it. */
	if (r == 0 && !pidfd_alive(h.pidfd)) {
		(void)input_grant_take(s, state, rq->caller, rel, rdev);
		result(res, SW_FAILED, "the calling process %d went away", (int)rq->caller_pid);
		r = 1;
	}
	held_process_close(&h);
	return r;
}

static void do_input(const struct sysroot *s, const struct priv_request *rq,
		     priv_progress_fn progress, void *data, struct priv_result *res)
{
	_cleanup_close_ int state = -1;
	char rel[128], msg[512];
	dev_t rdev;
	int r = devacl_input_node(s, rq->path, rel, sizeof(rel), &rdev);

	if (r < 0) {
		result(res, r == -ENOENT ? SW_REFUSED : SW_BAD_INPUT, "%s: %s", rq->path, r == -ENOENT ?
		       "no such input device (unplugged?)" : "not an input event device");
		return;
	}
	if (rq->input_rdev && rq->input_rdev != rdev) {
		result(res, SW_REFUSED, "%s is another device than the one authorised (replugged?): "
		       "nothing given", rq->path);
		return;
	}
	if (rq->caller == 0 || rq->opts.dry_run) {
		res->status = SW_OK; /* root needs no entry */
		return;
	}
	r = switch_state_open(s, true, &state);
	if (r == 0)
		r = input_change(s, rq, state, rel, rdev, res);
	if (r > 0) /* refused, and said why */
		return;
	if (r < 0) {
		result(res, r == -ESTALE ? SW_REFUSED : SW_FAILED, "%s: cannot %s /dev/%s: %s",
		       rq->path, rq->op == PRIV_INPUT ? "give uid access to" : "take back", rel,
		       r == -ESTALE ? "it became another device meanwhile" : strerror(-r));
		return;
	}
	res->status = SW_OK;
	snprintf(msg, sizeof(msg), "%s (/dev/%s): %s uid %u", rq->path, rel,
		 rq->op == PRIV_INPUT ? "readable and writable by" : "no longer open to",
		 (unsigned)rq->caller);
	if (progress)
		progress(data, msg);
}

/* Before anything else: what dead runs left (input ACL entries) is taken back. */
static void sweep(const struct sysroot *s, priv_progress_fn progress, void *data)
{
	_cleanup_close_ int state = -1;

	if (switch_state_open(s, false, &state) == 0)
		(void)input_grant_sweep(s, state, progress, data);
}

void privop_run(const struct sysroot *s, const struct kernel_ops *k, const struct priv_request *rq,
		priv_progress_fn progress, void *data, struct priv_result *res)
{
	memset(res, 0, sizeof(*res));
	res->group = -1;
	if (!rq->opts.dry_run)
		sweep(s, progress, data);
	switch (rq->op) {
	case PRIV_MEMLOCK:
		do_memlock(s, rq, progress, data, res);
		break;
	case PRIV_HUGEPAGES:
	case PRIV_HUGEPAGES_FREE:
		do_hugepages(s, k, rq, progress, data, res);
		break;
	case PRIV_INPUT:
	case PRIV_INPUT_REVOKE:
		do_input(s, rq, progress, data, res);
		break;
	default:
		do_switch(s, k, rq, progress, data, res);
	}
}

/* ---- the report ---- */

static char *line_of(json_object *o)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE);
	char *s = t ? strdup(t) : NULL;

	json_object_put(o);
	return s;
}

char *priv_report_progress(const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "progress", json_object_new_string(msg));
	return line_of(o);
}

char *priv_report_result(const struct priv_result *res)
{
	json_object *o = json_object_new_object(), *r = json_object_new_object();
	json_object *vfio = json_object_new_array();
	char a[PCI_ADDR_STR_MAX];

	json_object_object_add(r, "status", json_object_new_string(switch_status_name(res->status)));
	json_object_object_add(r, "exit", json_object_new_int(switch_status_exit(res->status)));
	json_object_object_add(r, "message", json_object_new_string(res->why));
	json_object_object_add(r, "already", json_object_new_boolean(res->already));
	json_object_object_add(r, "kept", json_object_new_boolean(res->kept));
	json_object_object_add(r, "group", json_object_new_int(res->group));
	for (size_t i = 0; i < res->n_vfio; i++)
		json_object_array_add(vfio, json_object_new_string(pci_addr_format(&res->vfio[i], a)));
	json_object_object_add(r, "vfio", vfio);
	json_object_object_add(r, "count", json_object_new_int64((int64_t)res->count));
	json_object_object_add(o, "result", r);
	return line_of(o);
}

static int parse_result(json_object *r, struct priv_result *res)
{
	json_object *st, *ex, *msg, *al, *gr, *vfio, *cnt;

	if (!json_object_is_type(r, json_type_object) ||
	    !json_object_object_get_ex(r, "status", &st) || !json_object_is_type(st, json_type_string) ||
	    switch_status_parse(json_object_get_string(st), &res->status) < 0 ||
	    !json_object_object_get_ex(r, "exit", &ex) || !json_object_is_type(ex, json_type_int) ||
	    json_object_get_int(ex) != switch_status_exit(res->status) ||
	    !json_object_object_get_ex(r, "message", &msg) || !json_object_is_type(msg, json_type_string) ||
	    !json_object_object_get_ex(r, "already", &al) || !json_object_is_type(al, json_type_boolean) ||
	    !json_object_object_get_ex(r, "group", &gr) || !json_object_is_type(gr, json_type_int) ||
	    !json_object_object_get_ex(r, "vfio", &vfio) || !json_object_is_type(vfio, json_type_array) ||
	    json_object_array_length(vfio) > JOURNAL_MAX_DEVS)
		return -EBADMSG;
	snprintf(res->why, sizeof(res->why), "%s", json_object_get_string(msg));
	res->already = json_object_get_boolean(al);
	res->kept = json_object_object_get_ex(r, "kept", &al) && json_object_is_type(al, json_type_boolean) &&
		    json_object_get_boolean(al);
	res->group = json_object_get_int(gr);
	if (json_object_object_get_ex(r, "count", &cnt) && json_object_is_type(cnt, json_type_int) &&
	    json_object_get_int64(cnt) >= 0)
		res->count = (unsigned long)json_object_get_int64(cnt);
	res->n_vfio = 0;
	for (size_t i = 0; i < json_object_array_length(vfio); i++) {
		json_object *a = json_object_array_get_idx(vfio, i);

		if (!json_object_is_type(a, json_type_string) ||
		    pci_addr_parse(json_object_get_string(a), &res->vfio[res->n_vfio++]) < 0)
			return -EBADMSG;
	}
	return 0;
}

int priv_report_parse(const char *line, char *msg, size_t cap, struct priv_result *res)
{
	json_object *o = json_tokener_parse(line), *v;
	int r = -EBADMSG;

	if (!o || !json_object_is_type(o, json_type_object) || json_object_object_length(o) != 1) {
		json_object_put(o);
		return -EBADMSG;
	}
	if (json_object_object_get_ex(o, "progress", &v) && json_object_is_type(v, json_type_string)) {
		snprintf(msg, cap, "%s", json_object_get_string(v));
		r = 1;
	} else if (json_object_object_get_ex(o, "result", &v)) {
		memset(res, 0, sizeof(*res));
		r = parse_result(v, res) < 0 ? -EBADMSG : 2;
	}
	json_object_put(o);
	return r;
}
