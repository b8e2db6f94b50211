/* SPDX-License-Identifier: MIT */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devacl.h"
#include "exitcodes.h"
#include "fileio.h"
#include "iommu.h"
#include "pcidev.h"
#include "util.h"

/* ---- who calls ---- */

void caller_clear(struct caller *c)
{
	strv_free(c->groups);
	c->groups = NULL;
	free(c->gids);
	c->gids = NULL;
	c->n_gids = 0;
}

/* The kernel's facts first (ids, groups, parent), so that a caller without a passwd entry
 * still has them for the report's check; then the names the allow file uses. */
int helper_identify(struct caller *c)
{
	long max = sysconf(_SC_NGROUPS_MAX);
	struct passwd *pw;
	size_t k = 0;
	int n;

	memset(c, 0, sizeof(*c));
	c->uid = getuid();
	c->gid = getgid();
	c->pid = getppid();
	if (max <= 0 || max > 65536)
		max = 65536;
	c->gids = calloc((size_t)max + 1, sizeof(*c->gids));
	c->groups = calloc((size_t)max + 2, sizeof(*c->groups));
	if (!c->gids || !c->groups)
		return -ENOMEM;
	n = getgroups((int)max, c->gids);
	if (n < 0)
		return -errno;
	c->gids[n++] = c->gid; /* the primary group counts too */
	c->n_gids = (size_t)n;
	pw = getpwuid(c->uid);
	if (!pw || !pw->pw_name || strlen(pw->pw_name) >= sizeof(c->user))
		return -ENOENT;
	snprintf(c->user, sizeof(c->user), "%s", pw->pw_name);
	for (size_t i = 0; i < c->n_gids; i++) {
		struct group *gr = getgrgid(c->gids[i]);

		if (gr && gr->gr_name && !(c->groups[k] = strdup(gr->gr_name)))
			return -ENOMEM;
		k += gr && gr->gr_name;
	}
	return 0;
}

/* ---- the request ---- */

/* --dry-run (any operation), --run (detach: for a run), --keep (detach: kept on vfio-pci
 * between runs), --release (detach: the desktop asked to let go), --holder=PID (restore: only that
 * vmrun's journal), each at most once. */
static int parse_flag(const char *arg, struct priv_request *rq, char *why, size_t cap)
{
	unsigned long pid;
	char *end;

	if (strcmp(arg, "--dry-run") == 0 && !rq->opts.dry_run) {
		rq->opts.dry_run = true;
		return 0;
	}
	if (strcmp(arg, "--run") == 0 && rq->op == PRIV_DETACH && !rq->opts.for_run) {
		rq->opts.for_run = true;
		return 0;
	}
	if (strcmp(arg, "--keep") == 0 && rq->op == PRIV_DETACH && !rq->opts.keep) {
		rq->opts.keep = true;
		return 0;
	}
	if (strcmp(arg, "--release") == 0 && rq->op == PRIV_DETACH && !rq->opts.release) {
		rq->opts.release = true;
		return 0;
	}
	if (strncmp(arg, "--holder=", 9) == 0 && rq->op == PRIV_RESTORE && !rq->opts.only_holder &&
	    arg[9] >= '1' && arg[9] <= '9') {
		errno = 0;
		pid = strtoul(arg + 9, &end, 10);
		if (!errno && !*end && pid <= 4194304) {
			rq->opts.only_holder = (pid_t)pid;
			return 0;
		}
	}
	snprintf(why, cap, "'%.32s' is not an option of %s", arg, priv_op_name(rq->op));
	return -EINVAL;
}

/* KIB:COUNT, both decimal, COUNT at least 1 and at most 2^32. */
static int parse_pages(const char *arg, struct priv_request *rq, char *why, size_t cap)
{
	unsigned long long kib, count;
	int used = 0;

	if (sscanf(arg, "%llu:%llu%n", &kib, &count, &used) != 2 || arg[used] || arg[0] < '0' ||
	    arg[0] > '9' || strlen(arg) > 32 || !count || count > (1ULL << 32)) {
		snprintf(why, cap, "'%.32s' is not KIB:COUNT (2048:512)", arg);
		return -EINVAL;
	}
	rq->bytes = kib << 10;
	rq->count = (unsigned long)count;
	return 0;
}

int helper_parse(int argc, char **argv, struct priv_request *rq, char *why, size_t cap)
{
	char *end;

	memset(rq, 0, sizeof(*rq));
	if (argc < 3 || argc > 7 || strlen(argv[1]) > 16 || strlen(argv[2]) > 255) {
		snprintf(why, cap, "usage: vmrun-helper detach ADDRESS [--run] [--keep] [--release] "
			 "[--dry-run] | attach ADDRESS [--dry-run] | restore ADDRESS [--holder=PID] [--dry-run] | memlock "
			 "BYTES | hugepages|hugepages-free KIB:COUNT | input|input-revoke PATH");
		return -EINVAL;
	}
	if (priv_op_parse(argv[1], &rq->op) < 0) {
		snprintf(why, cap, "unknown operation '%.16s'", argv[1]);
		return -EINVAL;
	}
	for (int i = 3; i < argc; i++)
		if (parse_flag(argv[i], rq, why, cap) < 0)
			return -EINVAL;
	if (rq->op == PRIV_INPUT || rq->op == PRIV_INPUT_REVOKE) {
		if (strncmp(argv[2], "/dev/input/", 11) != 0 || strstr(argv[2], "/..") ||
		    strspn(argv[2], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			   "/._:-+@") != strlen(argv[2])) {
			snprintf(why, cap, "'%.64s' is not an input device path (/dev/input/...)", argv[2]);
			return -EINVAL;
		}
		snprintf(rq->path, sizeof(rq->path), "%s", argv[2]);
		return 0;
	}
	if (rq->op == PRIV_HUGEPAGES || rq->op == PRIV_HUGEPAGES_FREE)
		return parse_pages(argv[2], rq, why, cap);
	if (strlen(argv[2]) > 32) {
		snprintf(why, cap, "usage: vmrun-helper detach|attach|restore ADDRESS [--dry-run] | "
			 "memlock BYTES");
		return -EINVAL;
	}
	if (rq->op == PRIV_MEMLOCK) {
		errno = 0;
		rq->bytes = strtoull(argv[2], &end, 10);
		if (errno || *end || argv[2][0] < '0' || argv[2][0] > '9' || strlen(argv[2]) > 20) {
			snprintf(why, cap, "'%.32s' is not a number of bytes", argv[2]);
			return -EINVAL;
		}
		return 0;
	}
	if (pci_addr_parse(argv[2], &rq->addr) < 0) {
		snprintf(why, cap, "'%.32s' is not a PCI address", argv[2]);
		return -EINVAL;
	}
	return 0;
}

/* An input device is allowed when an entry naming the same event device permits the caller;
 * the device number it was allowed as goes with the request, to be checked again at the
 * grant (a replug in between may put another device at the path). */
static int authorize_input(const struct sysroot *s, const struct caller *c,
			   const struct allow_list *l, struct priv_request *rq, char *why,
			   size_t cap)
{
	const char *const *groups = (const char *const *)c->groups;
	char rel[128], lrel[128];
	dev_t want, listed;

	if (devacl_input_node(s, rq->path, rel, sizeof(rel), &want) < 0) {
		snprintf(why, cap, "%.200s is not an input event device on this host", rq->path);
		return -EPERM;
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].input && allow_entry_permits(&l->v[i], c->user, groups) &&
		    devacl_input_node(s, l->v[i].input, lrel, sizeof(lrel), &listed) == 0 && listed == want) {
			rq->input_rdev = want;
			return 0;
		}
	snprintf(why, cap, "user %s may not use %.200s: /etc/vmrun/allow.yaml lists no such input "
		 "device for them (an administrator adds - {input: %.200s, users: [%s]})", c->user,
		 rq->path, rq->path, c->user);
	return -EPERM;
}

int helper_authorize(const struct sysroot *s, const struct caller *c, const struct allow_list *l,
		     struct priv_request *rq, char *why, size_t cap)
{
	const char *const *groups = (const char *const *)c->groups;
	char name[PCI_ADDR_STR_MAX];
	struct pci_function f;

	if (c->uid == 0 || rq->op == PRIV_INPUT_REVOKE) /* taking back one's own entry is harmless */
		return 0;
	if (rq->op == PRIV_HUGEPAGES || rq->op == PRIV_HUGEPAGES_FREE)
		rq->huge_quota = allow_hugepages_quota(l, c->user, groups);
	if (rq->op == PRIV_MEMLOCK || rq->op == PRIV_HUGEPAGES || rq->op == PRIV_HUGEPAGES_FREE) {
		for (size_t i = 0; i < l->n; i++)
			if (allow_entry_permits(&l->v[i], c->user, groups))
				return 0;
		snprintf(why, cap, "user %s is not in /etc/vmrun/allow.yaml", c->user);
		return -EPERM;
	}
	if (rq->op == PRIV_INPUT)
		return authorize_input(s, c, l, rq, why, cap);
	if (pci_function_read(s, &rq->addr, &f) < 0 || f.iommu_group < 0) {
		snprintf(why, cap, "no PCI device %s in an IOMMU group", pci_addr_format(&rq->addr, name));
		return -EPERM;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct pci_function listed;

		if (!allow_entry_permits(&l->v[i], c->user, groups))
			continue;
		if (l->v[i].has_device && pci_function_read(s, &l->v[i].device, &listed) == 0 &&
		    listed.iommu_group >= 0 &&
		    listed.iommu_group == f.iommu_group)
			return 0;
	}
	snprintf(why, cap, "user %s may not use %s: it is not in the IOMMU group of a device "
		 "/etc/vmrun/allow.yaml allows them", c->user, f.name);
	return -EPERM;
}


/* ---- the vmrun a run's requests come from ---- */

/* A file root installed: owned by root, writable by nobody else. */
static bool root_installed(const char *path, struct stat *st)
{
	return stat(path, st) == 0 && S_ISREG(st->st_mode) && st->st_uid == 0 &&
	       !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int helper_find_vmrun(struct priv_request *rq)
{
	static const char *const beside[] = { "/../../bin/vmrun", "/vmrun" };
	char self[PATH_MAX], path[PATH_MAX + 32], *slash;
	struct stat st;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(beside); i++) {
		snprintf(path, sizeof(path), "%s%s", self, beside[i]);
		if (root_installed(path, &st)) {
			rq->run_exe.set = true;
			rq->run_exe.dev = st.st_dev;
			rq->run_exe.ino = st.st_ino;
			return 0;
		}
	}
	return -ENOENT;
}
