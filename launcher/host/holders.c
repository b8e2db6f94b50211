/* SPDX-License-Identifier: MIT */
#include "holders.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fileio.h"
#include "iommu.h"
#include "log.h"
#include "text.h"
#include "util.h"

/* What a node is: its device number, or for anything but a device (test trees) its inode. */
struct ident {
	bool have, chr;
	dev_t rdev, dev;
	ino_t ino;
};

/* Mapped files already looked at in this scan, by (st_dev, st_ino): libraries are mapped by
 * every process, and each is stat'ed once. Open addressing, grown at half full. */
struct seen {
	dev_t dev;
	ino_t ino;
	int node; /* index into the node set, -1 for "none of ours", -2 for an empty slot */
};

struct scan {
	const struct sysroot *s;
	const struct devnode_set *nodes;
	struct ident *ids;
	struct holder_set set;
	pid_t *vfio_unknown; /* processes with a VFIO device fd we could not place */
	size_t n_vfio_unknown;
	bool map_files;      /* /proc/PID/map_files is readable (root) */
	pthread_mutex_t lock; /* set and vfio_unknown, shared by the workers */
	pid_t *pids;          /* every process, read once; the workers take them in turn */
	size_t n_pids;
	atomic_size_t next;
};

/* One worker's own state: its mapped-file cache and its buffers, so workers share nothing. */
struct worker {
	struct scan *sc;
	struct seen *seen;
	size_t n_seen, cap_seen;
	char *buf;      /* /proc/PID/maps, grown as needed */
	size_t cap;
	char dents[16384];
	unsigned scanned, unreadable;
	int err;
	pthread_t thread;
};

static bool is_pid_name(const char *s)
{
	if (!*s || *s == '0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void identify_nodes(struct scan *sc)
{
	for (size_t i = 0; i < sc->nodes->n; i++) {
		const char *p = sc->nodes->v[i].path;
		struct ident *id = &sc->ids[i];
		struct stat st;

		if (strncmp(p, "/dev/", 5) != 0 || sc->s->dev_fd < 0 ||
		    fstatat(sc->s->dev_fd, p + 5, &st, 0) < 0)
			continue;
		id->have = true;
		id->chr = S_ISCHR(st.st_mode);
		id->rdev = st.st_rdev;
		id->dev = st.st_dev;
		id->ino = st.st_ino;
	}
}

/* The node a stat'ed file is, or -1. */
/*
 * What another process's fd or mapping is, without asking its file system: a FUSE daemon of
 * the user's could otherwise leave the scan (and with it root's switch, holding the group's
 * lock) waiting for ever on a GETATTR it never answers. The type, device and inode numbers
 * the kernel has cached are all the scan compares.
 */
static int stat_cached(int dirfd, const char *name, struct stat *st)
{
	struct statx sx;

	if (statx(dirfd, name, AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO, &sx) < 0)
		return -errno;
	memset(st, 0, sizeof(*st));
	st->st_mode = sx.stx_mode;
	st->st_ino = sx.stx_ino;
	st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	st->st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
	return 0;
}

static int match_stat(const struct scan *sc, const struct stat *st)
{
	bool chr = S_ISCHR(st->st_mode);

	if (!chr && !S_ISREG(st->st_mode))
		return -1;
	for (size_t i = 0; i < sc->nodes->n; i++) {
		const struct ident *id = &sc->ids[i];

		if (!id->have || id->chr != chr)
			continue;
		if (chr ? id->rdev == st->st_rdev : id->dev == st->st_dev && id->ino == st->st_ino)
			return (int)i;
	}
	return -1;
}

static bool already_listed(const struct holder_set *set, pid_t pid, const char *node)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].pid == pid && streq(set->v[i].node, node))
			return true;
	return false;
}

static int add_holder_locked(struct scan *sc, pid_t pid, int node, const char *via)
{
	const struct devnode *d = &sc->nodes->v[node];
	struct holder *nv;

	if (already_listed(&sc->set, pid, d->path))
		return 0;
	nv = reallocarray(sc->set.v, sc->set.n + 1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	sc->set.v = nv;
	nv = &sc->set.v[sc->set.n++];
	memset(nv, 0, sizeof(*nv));
	nv->pid = pid;
	nv->kind = d->kind;
	memcpy(nv->node, d->path, sizeof(nv->node));
	snprintf(nv->function, sizeof(nv->function), "%s", d->function);
	text_escape(via ? via : "", nv->via, sizeof(nv->via));
	return 0;
}

static int add_holder(struct scan *sc, pid_t pid, int node, const char *via)
{
	int r;

	pthread_mutex_lock(&sc->lock);
	r = add_holder_locked(sc, pid, node, via);
	pthread_mutex_unlock(&sc->lock);
	return r;
}

/* How an fd reaches the node, when its path is not the node's own ("" when it is). */
static void fd_via(const struct scan *sc, int fddir, const char *fd, int node, char *buf, size_t cap)
{
	char target[256];
	const char *t = target;
	size_t root = strlen(sc->s->path);
	ssize_t n = readlinkat(fddir, fd, target, sizeof(target) - 1);

	buf[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	/* In a test tree the kernel shows the tree's own path. */
	if (!streq(sc->s->path, "/") && strncmp(t, sc->s->path, root) == 0 && t[root] == '/')
		t += root;
	if (!streq(t, sc->nodes->v[node].path))
		snprintf(buf, cap, "%.72s (fd %.8s)", t, fd);
}

/* A VFIO device fd (an anon inode): whose device, from fdinfo (Linux 6.8+ names its sysfs
 * path); -1 when the kernel does not say, -2 when it is none of ours. */
static int vfio_device_node(const struct scan *sc, int piddir, const char *fd)
{
	_cleanup_free_ char *info = NULL;
	char path[64], addr[PCI_ADDR_STR_MAX];
	const char *p, *slash;
	struct pci_addr a;

	snprintf(path, sizeof(path), "fdinfo/%.32s", fd);
	if (read_file_at(piddir, path, 8192, READ_TRUNCATE, &info, NULL, NULL) < 0 ||
	    !(p = strstr(info, "vfio-device-syspath:")))
		return -1;
	p += strcspn(p, "\n");
	for (slash = p; slash > info && slash[-1] != '/'; slash--)
		;
	snprintf(addr, sizeof(addr), "%.*s", (int)(p - slash), slash);
	if (pci_addr_parse(addr, &a) < 0)
		return -1;
	pci_addr_format(&a, addr);
	for (size_t i = 0; i < sc->nodes->n; i++)
		if (sc->nodes->v[i].kind == NODE_VFIO && streq(sc->nodes->v[i].function, addr) &&
		    strncmp(sc->nodes->v[i].path, "/dev/vfio/devices/", 18) != 0)
			return (int)i;
	return -2;
}

static int note_vfio_unknown(struct scan *sc, pid_t pid)
{
	pid_t *nv;
	int r = 0;

	pthread_mutex_lock(&sc->lock);
	for (size_t i = 0; i < sc->n_vfio_unknown; i++)
		if (sc->vfio_unknown[i] == pid)
			goto out;
	nv = reallocarray(sc->vfio_unknown, sc->n_vfio_unknown + 1, sizeof(*nv));
	if (!nv) {
		r = -ENOMEM;
		goto out;
	}
	sc->vfio_unknown = nv;
	nv[sc->n_vfio_unknown++] = pid;
out:
	pthread_mutex_unlock(&sc->lock);
	return r;
}

static int anon_fd(struct scan *sc, pid_t pid, int piddir, int fddir, const char *fd)
{
	char target[64];
	ssize_t n = readlinkat(fddir, fd, target, sizeof(target) - 1);
	int node;

	if (n <= 0)
		return 0;
	target[n] = '\0';
	if (!streq(target, "anon_inode:[vfio-device]"))
		return 0;
	node = vfio_device_node(sc, piddir, fd);
	if (node >= 0)
		return add_holder(sc, pid, node, "a VFIO device fd");
	return node == -1 ? note_vfio_unknown(sc, pid) : 0;
}

/* The fds of one process, by raw getdents64 into the worker's buffer (no DIR to allocate per
 * process); -EACCES when they are not ours to read. */
static int scan_fds(struct worker *w, pid_t pid, int piddir)
{
	struct scan *sc = w->sc;
	_cleanup_close_ int fddir = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;
	long n;

	if (fddir < 0)
		return -errno;
	while (r >= 0 && (n = syscall(SYS_getdents64, fddir, w->dents, sizeof(w->dents))) > 0) {
		for (long off = 0; off < n && r >= 0;) {
			struct dirent64 *de = (struct dirent64 *)(w->dents + off);
			struct stat st;
			char via[96];
			int node;

			off += de->d_reclen;
			if (de->d_name[0] == '.' || stat_cached(fddir, de->d_name, &st) < 0)
				continue; /* closed meanwhile */
			if ((st.st_mode & S_IFMT) == 0) {
				r = anon_fd(sc, pid, piddir, fddir, de->d_name);
				continue;
			}
			node = match_stat(sc, &st);
			if (node < 0)
				continue;
			fd_via(sc, fddir, de->d_name, node, via, sizeof(via));
			r = add_holder(sc, pid, node, via);
		}
	}
	return n < 0 ? -errno : r;
}

static size_t seen_slot(const struct worker *w, dev_t dev, ino_t ino)
{
	size_t h = ((size_t)dev * 0x9e3779b97f4a7c15ULL) ^ (size_t)ino;

	for (h &= w->cap_seen - 1;; h = (h + 1) & (w->cap_seen - 1))
		if (w->seen[h].node == -2 || (w->seen[h].dev == dev && w->seen[h].ino == ino))
			return h;
}

static int seen_grow(struct worker *w)
{
	struct seen *old = w->seen;
	size_t old_cap = w->cap_seen;

	w->cap_seen = old_cap ? old_cap * 2 : 1024;
	w->seen = malloc(w->cap_seen * sizeof(*w->seen));
	if (!w->seen) {
		w->seen = old;
		w->cap_seen = old_cap;
		return -ENOMEM;
	}
	for (size_t i = 0; i < w->cap_seen; i++)
		w->seen[i].node = -2;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].node != -2)
			w->seen[seen_slot(w, old[i].dev, old[i].ino)] = old[i];
	free(old);
	return 0;
}

/* Which of our nodes the mapped file (st_dev, st_ino) is: -1 for none. */
static int mapped_node(struct worker *w, int piddir, const char *range, dev_t dev, ino_t ino)
{
	struct scan *sc = w->sc;
	struct stat st;
	char path[80];
	size_t slot;
	int node = -1;

	if (w->n_seen * 2 >= w->cap_seen && seen_grow(w) < 0)
		return -1;
	slot = seen_slot(w, dev, ino);
	if (w->seen[slot].node != -2)
		return w->seen[slot].node;
	for (size_t i = 0; i < sc->nodes->n && node < 0; i++)
		if (sc->ids[i].have && sc->ids[i].dev == dev && sc->ids[i].ino == ino)
			node = (int)i;
	/* Not the node's own inode: map_files says what device it is (an alias of ours?). */
	snprintf(path, sizeof(path), "map_files/%s", range);
	if (node < 0 && sc->map_files && stat_cached(piddir, path, &st) == 0)
		node = match_stat(sc, &st);
	w->seen[slot] = (struct seen){ dev, ino, node };
	w->n_seen++;
	return node;
}

/* /proc/PID/maps whole, into the worker's buffer (grown as needed); its length, or -errno. */
static ssize_t read_maps(struct worker *w, int piddir)
{
	_cleanup_close_ int fd = openat(piddir, "maps", O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (len + 4096 >= w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 1 << 16;
			char *nb = cap <= (64u << 20) ? realloc(w->buf, cap) : NULL;

			if (!nb)
				return -ENOMEM;
			w->buf = nb;
			w->cap = cap;
		}
		n = read(fd, w->buf + len, w->cap - len - 1);
		if (n < 0)
			return errno == EINTR ? (ssize_t)len : -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	w->buf[len] = '\0';
	return (ssize_t)len;
}

static const char *skip_field(const char *p)
{
	while (*p && *p != ' ')
		p++;
	while (*p == ' ')
		p++;
	return p;
}

/*
 * One maps line, "start-end perms offset maj:min inode path", parsed by hand (sscanf per line
 * was a third of a scan): the range, the device and the inode; false for anonymous mappings.
 */
static bool parse_map(const char *line, char range[64], dev_t *dev, unsigned long long *ino)
{
	const char *p = line, *q;
	char *end;
	unsigned long maj, min;
	size_t n;

	q = strchr(p, ' ');
	if (!q || (n = (size_t)(q - p)) >= 64)
		return false;
	memcpy(range, p, n);
	range[n] = '\0';
	p = skip_field(skip_field(q + 1)); /* perms, offset */
	maj = strtoul(p, &end, 16);
	if (*end != ':')
		return false;
	min = strtoul(end + 1, &end, 16);
	*ino = strtoull(end, NULL, 10);
	*dev = makedev(maj, min);
	return *ino != 0;
}

/* One process's mappings: a node mapped and then closed is still held. */
static int scan_maps(struct worker *w, pid_t pid, int piddir)
{
	ssize_t len = read_maps(w, piddir);
	int r = 0;

	if (len < 0)
		return (int)len;
	for (char *line = w->buf; line && *line && r >= 0;) {
		char *eol = strchr(line, '\n'), range[64];
		unsigned long long ino;
		dev_t dev;
		int node;

		if (eol)
			*eol = '\0';
		if (parse_map(line, range, &dev, &ino)) {
			node = mapped_node(w, piddir, range, dev, (ino_t)ino);
			if (node >= 0)
				r = add_holder(w->sc, pid, node, "a memory mapping");
		}
		line = eol ? eol + 1 : NULL;
	}
	return r;
}

static int scan_pid(struct worker *w, pid_t pid)
{
	char name[16];
	_cleanup_close_ int piddir = -1;
	int r;

	snprintf(name, sizeof(name), "%d", (int)pid);
	piddir = openat(w->sc->s->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (piddir < 0)
		return -errno;
	r = scan_fds(w, pid, piddir);
	if (r >= 0) {
		int m = scan_maps(w, pid, piddir);

		r = m == -ENOENT ? 0 : m; /* a test tree's process has no maps */
	}
	return r;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct scan *sc = w->sc;
	size_t i;

	while (!w->err && (i = atomic_fetch_add(&sc->next, 1)) < sc->n_pids) {
		int r = scan_pid(w, sc->pids[i]);

		w->scanned++;
		if (r == -EACCES || r == -EPERM)
			w->unreadable++;
		else if (r < 0 && r != -ENOENT && r != -ESRCH)
			w->err = r; /* fail closed: a scan that could not look must not say "nobody" */
	}
	return NULL;
}

/*
 * A VFIO device fd the kernel did not tie to a device (before Linux 6.8): its process holds
 * a device of some group. Device fds keep their group's file open, so a group of ours that
 * cannot be opened now is held, and those processes are named as holding it.
 */
static int place_vfio_unknown(struct scan *sc)
{
	for (size_t i = 0; i < sc->nodes->n && sc->n_vfio_unknown; i++) {
		const struct devnode *d = &sc->nodes->v[i];
		int fd, r;

		if (d->kind != NODE_VFIO || strncmp(d->path, "/dev/vfio/", 10) != 0 ||
		    strchr(d->path + 10, '/') || sc->s->dev_fd < 0)
			continue;
		fd = openat(sc->s->dev_fd, d->path + 5, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd >= 0) {
			safe_close(fd);
			continue;
		}
		if (errno != EBUSY)
			continue;
		for (size_t k = 0; k < sc->n_vfio_unknown; k++) {
			r = add_holder(sc, sc->vfio_unknown[k], (int)i,
				       "a VFIO device fd (this kernel does not say of which device)");
			if (r < 0)
				return r;
		}
	}
	return 0;
}

void cgroup_unit(const char *text, char *buf, size_t cap)
{
	const char *line = text, *best = NULL;
	size_t best_len = 0;

	buf[0] = '\0';
	/* cgroup v2 is the "0::" line; on hybrid hosts the name=systemd line has the same path. */
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *p = line, *end = line + len;

		if ((len > 3 && strncmp(line, "0::", 3) == 0) || memmem(line, len, ":name=systemd:", 14)) {
			while (p < end) {
				const char *slash = memchr(p, '/', (size_t)(end - p));
				const char *cend = slash ? slash : end;
				size_t clen = (size_t)(cend - p);

				if ((clen > 8 && memcmp(cend - 8, ".service", 8) == 0) ||
				    (clen > 6 && memcmp(cend - 6, ".scope", 6) == 0)) {
					best = p;
					best_len = clen;
				}
				p = cend + 1;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	if (best && best_len < cap) {
		memcpy(buf, best, best_len);
		buf[best_len] = '\0';
	}
}

void cgroup_system_unit(const char *text, char *buf, size_t cap)
{
	static const char prefix[] = "/system.slice/";
	const char *line = text;

	buf[0] = '\0';
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *path = NULL, *unit, *end;

		if (len > 3 && strncmp(line, "0::", 3) == 0)
			path = line + 3;
		else if ((path = memmem(line, len, ":name=systemd:", 14)))
			path += 14;
		if (path && (size_t)(line + len - path) > sizeof(prefix) - 1 &&
		    strncmp(path, prefix, sizeof(prefix) - 1) == 0) {
			unit = path + sizeof(prefix) - 1;
			end = memchr(unit, '/', (size_t)(line + len - unit));
			if (!end)
				end = line + len;
			if ((size_t)(end - unit) > 8 && (size_t)(end - unit) < cap &&
			    memcmp(end - 8, ".service", 8) == 0) {
				memcpy(buf, unit, (size_t)(end - unit));
				buf[end - unit] = '\0';
				return;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
}

static void user_name(const struct sysroot *s, uid_t uid, char *buf, size_t cap)
{
	_cleanup_fclose_ FILE *f = NULL;
	struct passwd *pw;
	int fd;

	snprintf(buf, cap, "%u", (unsigned)uid);
	fd = s->etc_fd < 0 ? -1 : openat(s->etc_fd, "passwd", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	f = fdopen(fd, "re");
	if (!f) {
		safe_close(fd);
		return;
	}
	while ((pw = fgetpwent(f)))
		if (pw->pw_uid == uid) {
			text_escape(pw->pw_name, buf, cap);
			return;
		}
}

/* A node's device number: a DRM node's from sysfs (class/drm/NAME/dev), others' by stat. */
static int node_rdev(const struct sysroot *s, const char *node, dev_t *ret)
{
	unsigned maj, min;
	char path[96], val[32];
	struct stat st;

	if (strncmp(node, "/dev/dri/", 9) == 0 && !strchr(node + 9, '/')) {
		snprintf(path, sizeof(path), "class/drm/%.64s/dev", node + 9);
		if (read_attr_at(s->sys_fd, path, val, sizeof(val)) < 0 ||
		    sscanf(val, "%u:%u", &maj, &min) != 2)
			return -ENOENT;
		*ret = makedev(maj, min);
		return 0;
	}
	if (strncmp(node, "/dev/", 5) != 0 || fstatat(s->dev_fd, node + 5, &st, AT_NO_AUTOMOUNT) < 0 ||
	    !S_ISCHR(st.st_mode))
		return -ENOENT;
	*ret = st.st_rdev;
	return 0;
}

/* What it is on the desktop, and the session it holds the node for. */
static void desktop_details(const struct sysroot *s, struct holder *h)
{
	dev_t rdev;

	h->ds = display_server_of(h->comm, h->pid);
	if (h->ds == DS_LOGIND || h->ds == DS_FDSTORE) {
		/* Whose copy: the session logind lists the node's device for. */
		if (node_rdev(s, h->node, &rdev) < 0 || session_holding(s, rdev, &h->session) < 0) {
			/* No live session lists it: a copy kept for one that has ended. */
			memset(&h->session, 0, sizeof(h->session));
			h->session.gone = true;
		}
	} else if (h->ds != DS_NONE && session_of_pid(s, h->pid, &h->session) < 0) {
		h->session.id[0] = '\0';
	}
}

/* Everything here is the holder's to choose (it may be another user): escaped when read. */
static void fill_details(const struct sysroot *s, struct holder *h)
{
	_cleanup_free_ char *status = NULL, *cmdline = NULL, *cgroup = NULL, *comm = NULL;
	char path[64], unit[128];
	const char *uid;
	size_t n = 0;

	snprintf(path, sizeof(path), "%d/comm", (int)h->pid);
	if (read_file_at(s->proc_fd, path, 64, READ_TRUNCATE, &comm, NULL, NULL) >= 0) {
		comm[strcspn(comm, "\n")] = '\0';
		text_escape(comm, h->comm, sizeof(h->comm));
	}
	snprintf(path, sizeof(path), "%d/cmdline", (int)h->pid);
	if (read_file_at(s->proc_fd, path, 200, READ_TRUNCATE, &cmdline, &n, NULL) >= 0 && n) {
		for (size_t i = 0; i + 1 < n; i++)
			if (cmdline[i] == '\0')
				cmdline[i] = ' ';
		text_escape(cmdline, h->cmdline, sizeof(h->cmdline));
	}
	snprintf(path, sizeof(path), "%d/status", (int)h->pid);
	h->uid = (uid_t)-1;
	if (read_file_at(s->proc_fd, path, 16384, READ_TRUNCATE, &status, NULL, NULL) >= 0 &&
	    (uid = strstr(status, "\nUid:")))
		h->uid = (uid_t)strtoul(uid + 5, NULL, 10);
	if (h->uid != (uid_t)-1)
		user_name(s, h->uid, h->user, sizeof(h->user));
	desktop_details(s, h);
	snprintf(path, sizeof(path), "%d/cgroup", (int)h->pid);
	if (read_file_at(s->proc_fd, path, 16384, READ_TRUNCATE, &cgroup, NULL, NULL) >= 0) {
		cgroup_unit(cgroup, unit, sizeof(unit));
		text_escape(unit, h->unit, sizeof(h->unit));
		cgroup_system_unit(cgroup, unit, sizeof(unit));
		text_escape(unit, h->system_unit, sizeof(h->system_unit));
	}
}

static void scan_clear(struct scan *sc)
{
	free(sc->ids);
	free(sc->pids);
	free(sc->vfio_unknown);
	holder_set_clear(&sc->set);
}

/* Every process, once: the workers share the list, not the /proc directory. */
static int list_pids(struct scan *sc)
{
	struct dirent *de;
	DIR *d = NULL;
	size_t cap = 0;
	int r = opendir_at(sc->s->proc_fd, ".", &d);

	while (r >= 0 && (de = readdir(d))) {
		if (!is_pid_name(de->d_name))
			continue;
		if (sc->n_pids == cap) {
			pid_t *nv = reallocarray(sc->pids, cap ? cap * 2 : 512, sizeof(*nv));

			if (!nv) {
				r = -ENOMEM;
				break;
			}
			sc->pids = nv;
			cap = cap ? cap * 2 : 512;
		}
		sc->pids[sc->n_pids++] = (pid_t)strtol(de->d_name, NULL, 10);
	}
	if (d)
		closedir(d);
	return r;
}

/*
 * The scan is the kernel's work (a stat per fd, each process's maps rendered), so it is spread
 * over the CPUs: one worker per online CPU, at most 8, taking processes in turn.
 */
static int scan_all(struct scan *sc)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = cpus < 1 ? 1 : cpus > 8 ? 8 : (size_t)cpus;
	struct worker *w;
	int r = list_pids(sc);

	if (r < 0)
		return r;
	if (n > sc->n_pids / 64 + 1) /* a handful of processes (a test tree) needs no threads */
		n = sc->n_pids / 64 + 1;
	w = calloc(n, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		w[i].sc = sc;
		if (i > 0 && pthread_create(&w[i].thread, NULL, work, &w[i]) != 0)
			w[i].err = -EAGAIN;
	}
	work(&w[0]);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && w[i].err != -EAGAIN)
			pthread_join(w[i].thread, NULL);
		if (w[i].err == -EAGAIN) /* its share was taken by the others */
			w[i].err = 0;
		sc->set.scanned += w[i].scanned;
		sc->set.unreadable += w[i].unreadable;
		if (w[i].err && !r)
			r = w[i].err;
		free(w[i].seen);
		free(w[i].buf);
	}
	free(w);
	return r < 0 ? r : place_vfio_unknown(sc);
}

int holders_find(const struct sysroot *s, const struct devnode_set *nodes, struct holder_set *ret)
{
	struct scan sc = { .s = s, .nodes = nodes, .map_files = geteuid() == 0,
			   .lock = PTHREAD_MUTEX_INITIALIZER };
	int r = 0;

	if (s->proc_fd < 0)
		return -ENOENT;
	sc.ids = calloc(nodes->n ? nodes->n : 1, sizeof(*sc.ids));
	if (!sc.ids)
		return -ENOMEM;
	identify_nodes(&sc);
	if (nodes->n)
		r = scan_all(&sc);
	if (r < 0) {
		scan_clear(&sc);
		return r;
	}
	for (size_t i = 0; i < sc.set.n; i++)
		fill_details(s, &sc.set.v[i]);
	*ret = sc.set;
	sc.set = (struct holder_set){ 0 };
	scan_clear(&sc);
	return 0;
}

void holder_set_clear(struct holder_set *set)
{
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

bool holder_blocks(const struct holder *h, bool unloading_modules)
{
	switch (h->kind) {
	case NODE_SND:
		return false;
	case NODE_NVIDIA_CTL:
	case NODE_KFD:
		return unloading_modules;
	default:
		return true;
	}
}

/* "session 3 on seat0", "session 3, which has ended". */
static const char *session_text(const struct session_info *si, char *buf, size_t cap)
{
	if (si->gone)
		snprintf(buf, cap, "session %s, which has ended", si->id);
	else
		snprintf(buf, cap, "session %s%s%s", si->id, si->seat[0] ? " on " : "", si->seat);
	return buf;
}

const char *holder_describe(const struct holder *h, char *buf, size_t cap)
{
	const char *comm = h->comm[0] ? h->comm : "?", *user = h->user[0] ? h->user : "?";
	char sess[96], owner[80] = "";

	if ((h->ds == DS_LOGIND || h->ds == DS_FDSTORE) && !h->session.id[0]) {
		snprintf(buf, cap, "pid %d %s (%s: its copy of a device no live session has: the "
			 "session that took it has ended)", (int)h->pid, comm, h->ds == DS_LOGIND ?
			 "logind" : "logind's fd store in PID 1");
		return buf;
	}
	if (h->ds == DS_NONE || !h->session.id[0]) {
		bool named = display_server_info(h->ds)->compositor;

		snprintf(buf, cap, "pid %d %s (%s%suser %s%s%s)%s%s", (int)h->pid, comm,
			 named ? display_server_info(h->ds)->name : "", named ? ", " : "", user,
			 h->unit[0] ? ", unit " : "", h->unit, h->via[0] ? " through " : "", h->via);
		return buf;
	}
	session_text(&h->session, sess, sizeof(sess));
	if (h->session.user[0])
		snprintf(owner, sizeof(owner), ", %s's", h->session.user);
	if (h->ds == DS_LOGIND || h->ds == DS_FDSTORE)
		snprintf(buf, cap, "pid %d %s (%s: its copy of %s's device%s)", (int)h->pid, comm,
			 h->ds == DS_LOGIND ? "logind" : "logind's fd store in PID 1", sess, owner);
	else
		snprintf(buf, cap, "pid %d %s (%s, user %s, %s)%s%s", (int)h->pid, comm,
			 display_server_info(h->ds)->name, user, sess, h->via[0] ? " through " : "",
			 h->via);
	return buf;
}
