/* SPDX-License-Identifier: MIT */
/*
 * vmrun-helper: the root steps of an unprivileged vmrun, and nothing else. Installed setuid
 * root (like fusermount3); one operation per run, taken from argv alone:
 *
 *   vmrun-helper detach ADDRESS   ADDRESS's IOMMU group to vfio-pci; the caller gets /dev/vfio/N
 *   vmrun-helper attach ADDRESS   the group back to its host drivers
 *   vmrun-helper restore ADDRESS  finish or undo an interrupted switch of the group
 *   vmrun-helper memlock BYTES    raise the calling vmrun's RLIMIT_MEMLOCK (QEMU inherits it)
 *
 * Who may do what is decided only by root, in /etc/vmrun/allow.yaml: a listed device allows
 * its whole IOMMU group to the listed users and groups; anything else is refused. The file and
 * /etc/vmrun must be root's alone, or everything is refused. The environment is discarded, no
 * shell is run, every input is re-validated, and the work is done by the same library as
 * `vmrun detach` as root. See README.md, "Running as a user", for the threat model.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allow.h"
#include "exitcodes.h"
#include "iommu.h"
#include "log.h"
#include "pcidev.h"
#include "switch.h"
#include "sysroot.h"
#include "util.h"

#define ALLOW_DIR "/etc/vmrun"
#define ALLOW_FILE "allow.yaml"

struct caller {
	uid_t uid;
	gid_t gid;
	char user[64];
	char *groups[NGROUPS_MAX + 2];
};

static int refuse(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("vmrun-helper: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void progress(void *data, const char *fmt, ...)
{
	va_list ap;

	(void)data;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* The caller's identity comes from the kernel (real uid, groups), never from the request. */
static int identify(struct caller *c)
{
	gid_t gids[NGROUPS_MAX + 1];
	struct passwd *pw;
	int n;

	c->uid = getuid();
	c->gid = getgid();
	pw = getpwuid(c->uid);
	if (!pw || !pw->pw_name || strlen(pw->pw_name) >= sizeof(c->user))
		return -ENOENT;
	snprintf(c->user, sizeof(c->user), "%s", pw->pw_name);
	n = getgroups(NGROUPS_MAX, gids);
	if (n < 0)
		return -errno;
	gids[n++] = getgid();
	for (int i = 0, k = 0; i < n; i++) {
		struct group *gr = getgrgid(gids[i]);

		if (gr && gr->gr_name)
			c->groups[k++] = strdup(gr->gr_name);
	}
	return 0;
}

static int load_allow(struct allow_list *l)
{
	char err[256] = "";
	int dfd, r;

	dfd = open(ALLOW_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return refuse(EXIT_NOT_READY, "%s/%s: %s: no device is allowed to users (the "
			      "administrator lists them there)", ALLOW_DIR, ALLOW_FILE, strerror(errno));
	r = allow_load(dfd, ALLOW_FILE, l, err, sizeof(err));
	safe_close(dfd);
	if (r < 0)
		return refuse(EXIT_NOT_READY, "%s/%s: %s; refusing everything", ALLOW_DIR, ALLOW_FILE, err);
	return 0;
}

/* ADDRESS is allowed when it shares the IOMMU group of a device listed for the caller. */
static int authorize_device(const struct sysroot *s, const struct caller *c,
			    const struct allow_list *l, const struct pci_function *f)
{
	if (c->uid == 0)
		return 0;
	for (size_t i = 0; i < l->n; i++) {
		struct pci_function listed;

		if (!allow_entry_permits(&l->v[i], c->user, (const char *const *)c->groups))
			continue;
		if (pci_function_read(s, &l->v[i].device, &listed) == 0 && listed.iommu_group >= 0 &&
		    listed.iommu_group == f->iommu_group)
			return 0;
	}
	return refuse(EXIT_NOT_READY, "user %s may not use %s: it is not in the IOMMU group of a "
		      "device %s/%s allows them", c->user, f->name, ALLOW_DIR, ALLOW_FILE);
}

static bool vfio_node_is_callers(const struct sysroot *s, const struct caller *c, int group)
{
	char name[32];
	struct stat st;

	snprintf(name, sizeof(name), "vfio/%d", group);
	return fstatat(s->dev_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == c->uid;
}

static int give_vfio_node(const struct sysroot *s, const struct caller *c, int group)
{
	char name[32];

	snprintf(name, sizeof(name), "vfio/%d", group);
	/* Only the caller's QEMU opens the group: owner the caller, mode 0600. */
	if (fchownat(s->dev_fd, name, c->uid, (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(s->dev_fd, name, 0600, 0) < 0)
		return refuse(EXIT_ERROR, "cannot give /dev/%s to %s: %s", name, c->user, strerror(errno));
	printf("/dev/%s now belongs to %s\n", name, c->user);
	return 0;
}

static int exit_for(enum switch_status st)
{
	static const int codes[] = {
		[SW_OK] = EXIT_OK,          [SW_HELD] = EXIT_BUSY,   [SW_REFUSED] = EXIT_NOT_READY,
		[SW_NEEDS_RESTORE] = EXIT_RECOVER, [SW_FAILED] = EXIT_ERROR, [SW_STUCK] = EXIT_RECOVER,
		[SW_BUSY] = EXIT_BUSY,      [SW_BAD_INPUT] = EXIT_USAGE,
	};
	return codes[st];
}

static int do_switch(const char *op, const char *arg, const struct caller *c,
		     const struct allow_list *l)
{
	_cleanup_(sysroot_freep) struct sysroot *s = NULL;
	struct switch_opts so = { 0 };
	struct switch_ctx ctx = { .k = &kernel_real, .state_fd = -1, .progress = progress };
	struct pci_function f;
	struct pci_addr a;
	enum switch_status st;
	int r;

	if (pci_addr_parse(arg, &a) < 0)
		return refuse(EXIT_USAGE, "'%.40s' is not a PCI address", arg);
	if (sysroot_open("/", &s) < 0)
		return refuse(EXIT_ERROR, "cannot open /");
	if (pci_function_read(s, &a, &f) < 0 || f.iommu_group < 0)
		return refuse(EXIT_NOT_READY, "no PCI device %s in an IOMMU group", arg);
	r = authorize_device(s, c, l, &f);
	if (r)
		return r;
	r = switch_state_open(s, &ctx.state_fd);
	if (r < 0)
		return refuse(EXIT_ERROR, "cannot open /run/vmrun/switch: %s", strerror(-r));
	ctx.s = s;
	if (streq(op, "detach"))
		st = switch_detach(&ctx, &a, &so);
	else if (streq(op, "attach"))
		st = switch_attach(&ctx, &a, &so);
	else
		st = switch_restore(&ctx, f.iommu_group, &so);
	safe_close(ctx.state_fd);
	if (st)
		return refuse(exit_for(st), "%s: %s", op, ctx.why);
	if (streq(op, "detach") && c->uid != 0) {
		if (ctx.already && !vfio_node_is_callers(s, c, f.iommu_group))
			return refuse(EXIT_BUSY, "IOMMU group %d is already on vfio-pci for someone else's "
				      "VM; it is not handed over", f.iommu_group);
		return give_vfio_node(s, c, f.iommu_group);
	}
	return EXIT_OK;
}

static int do_memlock(const char *arg, const struct caller *c, const struct allow_list *l)
{
	unsigned long long bytes, cap;
	struct rlimit rl;
	char *end;
	bool listed = c->uid == 0;
	pid_t target = getppid();
	char path[64], buf[4096];
	FILE *f;

	for (size_t i = 0; i < l->n && !listed; i++)
		listed = allow_entry_permits(&l->v[i], c->user, (const char *const *)c->groups);
	if (!listed)
		return refuse(EXIT_NOT_READY, "user %s is not in %s/%s", c->user, ALLOW_DIR, ALLOW_FILE);
	errno = 0;
	bytes = strtoull(arg, &end, 10);
	if (errno || *end || arg[0] < '0' || arg[0] > '9' || strlen(arg) > 20)
		return refuse(EXIT_USAGE, "'%.40s' is not a number of bytes", arg);
	/* More than the machine's RAM (+1 GiB for QEMU itself) can never be needed. */
	cap = (unsigned long long)sysconf(_SC_PHYS_PAGES) * (unsigned long long)sysconf(_SC_PAGESIZE);
	cap += 1ULL << 30;
	if (bytes > cap)
		return refuse(EXIT_USAGE, "%llu bytes is more than this machine's memory", bytes);
	/* The target is the caller's own process, checked by its real uid. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)target);
	f = fopen(path, "re");
	if (!f)
		return refuse(EXIT_ERROR, "cannot read %s", path);
	/* As the kernel's own prlimit check: every uid (real, effective, saved, fs) is the caller's
	 * and every gid the caller's group, so a parent that exec'd something setuid is refused. */
	while (fgets(buf, sizeof(buf), f)) {
		unsigned long ids[4];
		bool uid = strncmp(buf, "Uid:", 4) == 0, gid = strncmp(buf, "Gid:", 4) == 0;

		if (!uid && !gid)
			continue;
		if (sscanf(buf + 4, "%lu %lu %lu %lu", &ids[0], &ids[1], &ids[2], &ids[3]) != 4)
			ids[0] = (unsigned long)-1;
		for (int i = 0; i < 4; i++)
			if (ids[i] != (uid ? (unsigned long)c->uid : (unsigned long)c->gid)) {
				fclose(f);
				return refuse(EXIT_NOT_READY, "process %d is not %s's alone", (int)target,
					      c->user);
			}
	}
	fclose(f);
	rl.rlim_cur = rl.rlim_max = bytes;
	if (getppid() != target)
		return refuse(EXIT_ERROR, "the calling process went away");
	if (prlimit(target, RLIMIT_MEMLOCK, &rl, NULL) < 0)
		return refuse(EXIT_ERROR, "raising the memlock limit of %d: %s", (int)target, strerror(errno));
	printf("locked-memory limit of pid %d raised to %llu KiB\n", (int)target, bytes >> 10);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct caller c = { 0 };
	struct allow_list l = { 0 };
	int r;

	/* Nothing from the caller's environment is trusted or even kept. */
	if (clearenv() != 0)
		return refuse(EXIT_ERROR, "cannot clear the environment");
	(void)setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	umask(022);
	log_set_fn(NULL);
	if (geteuid() != 0)
		return refuse(EXIT_ERROR, "must be installed setuid root (install -m 4755 -o root)");
	if (argc != 3 || strlen(argv[1]) > 16 || strlen(argv[2]) > 32)
		return refuse(EXIT_USAGE, "usage: vmrun-helper detach|attach|restore ADDRESS | memlock BYTES");
	if (!streq(argv[1], "detach") && !streq(argv[1], "attach") && !streq(argv[1], "restore") &&
	    !streq(argv[1], "memlock"))
		return refuse(EXIT_USAGE, "unknown operation '%.16s'", argv[1]);
	if (identify(&c) < 0)
		return refuse(EXIT_ERROR, "cannot tell who is calling (uid %u)", (unsigned)getuid());
	if (c.uid != 0 && (r = load_allow(&l)) != 0)
		return r;
	/* Fully root from here: the caller can no longer signal us mid-switch, and nothing we
	 * start (modprobe's install hooks) drops back to the caller's ids. */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return refuse(EXIT_ERROR, "cannot become root: %s", strerror(errno));
	r = streq(argv[1], "memlock") ? do_memlock(argv[2], &c, &l) : do_switch(argv[1], argv[2], &c, &l);
	allow_list_clear(&l);
	for (char **g = c.groups; *g; g++)
		free(*g);
	return r;
}
