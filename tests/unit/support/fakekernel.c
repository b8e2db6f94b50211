/* SPDX-License-Identifier: MIT */
#include "fakekernel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fakesys.h"

#define VFIO "vfio-pci"

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fakekernel: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

static void pathf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "fakekernel: path too long: %s\n", buf);
		abort();
	}
}

static void logf_(char *log, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(char *log, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(log);
	va_list ap;

	if (len + 1 >= cap)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(log + len, cap - len, fmt, ap);
	va_end(ap);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void module_dirname(const char *module, char *buf, size_t cap)
{
	pathf(buf, cap, "%s", module);
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
}

/* ---- the device tree ---- */

/* devices/... path of a device, from the bus/pci/devices/X link fakesys made. */
static int dev_rel(const char *root, const char *addr, char *buf, size_t cap)
{
	char link[PATH_MAX], target[PATH_MAX];
	const char *p;
	ssize_t n;

	if (strchr(addr, '/') || strstr(addr, ".."))
		return -EINVAL;
	pathf(link, sizeof(link), "%s/sys/bus/pci/devices/%s", root, addr);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -ENODEV;
	target[n] = '\0';
	p = strstr(target, "devices/");
	if (!p)
		return -ENODEV;
	pathf(buf, cap, "%s", p);
	return 0;
}

static void attr_path(const char *root, const char *addr, const char *attr, char *buf, size_t cap)
{
	char rel[PATH_MAX];

	if (dev_rel(root, addr, rel, sizeof(rel)) < 0)
		pathf(buf, cap, "%s/sys/nonexistent", root);
	else
		pathf(buf, cap, "%s/sys/%s/%s", root, rel, attr);
}

static void link_base(const char *path, char *buf, size_t cap)
{
	char target[PATH_MAX];
	const char *b;
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	buf[0] = '\0';
	if (n < 0)
		return;
	target[n] = '\0';
	b = strrchr(target, '/');
	pathf(buf, cap, "%s", b ? b + 1 : target);
}

void fk_driver_of(const struct fake_kernel *k, const char *addr, char *buf, size_t cap)
{
	char p[PATH_MAX];

	attr_path(k->root, addr, "driver", p, sizeof(p));
	link_base(p, buf, cap);
}

void fk_override_of(const struct fake_kernel *k, const char *addr, char *buf, size_t cap)
{
	char p[PATH_MAX];
	FILE *f;

	buf[0] = '\0';
	attr_path(k->root, addr, "driver_override", p, sizeof(p));
	f = fopen(p, "re");
	if (!f)
		return;
	if (!fgets(buf, (int)cap, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "(null)") == 0)
		buf[0] = '\0';
}

static int group_of(const struct fake_kernel *k, const char *addr)
{
	char p[PATH_MAX], name[32];

	attr_path(k->root, addr, "iommu_group", p, sizeof(p));
	link_base(p, name, sizeof(name));
	return name[0] ? atoi(name) : -1;
}

bool fk_vfio_node(const struct fake_kernel *k, int group)
{
	char p[PATH_MAX];
	struct stat st;

	pathf(p, sizeof(p), "%s/dev/vfio/%d", k->root, group);
	return stat(p, &st) == 0 && S_ISCHR(st.st_mode);
}

static bool driver_exists(const struct fake_kernel *k, const char *drv)
{
	char p[PATH_MAX];

	if (!*drv || strchr(drv, '/') || strstr(drv, ".."))
		return false;
	pathf(p, sizeof(p), "%s/sys/bus/pci/drivers/%s", k->root, drv);
	return is_dir(p);
}

/* Calls fn for every device under bus/pci/devices (or every member of a group). */
static void for_each_dev(const struct fake_kernel *k, int group,
			 void (*fn)(struct fake_kernel *k, const char *addr, void *data), void *data)
{
	char p[PATH_MAX];
	struct dirent **v;
	int n;

	if (group >= 0)
		pathf(p, sizeof(p), "%s/sys/kernel/iommu_groups/%d/devices", k->root, group);
	else
		pathf(p, sizeof(p), "%s/sys/bus/pci/devices", k->root);
	n = scandir(p, &v, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (v[i]->d_name[0] != '.')
			fn((struct fake_kernel *)k, v[i]->d_name, data);
		free(v[i]);
	}
	if (n >= 0)
		free(v);
}

static void count_vfio(struct fake_kernel *k, const char *addr, void *data)
{
	char drv[64];

	fk_driver_of(k, addr, drv, sizeof(drv));
	*(int *)data += strcmp(drv, VFIO) == 0;
}

/* A DRM driver's unbind: the device's cards and render nodes are unregistered. */
static void drm_away(struct fake_kernel *k, const char *addr, const char *rel)
{
	char dir[PATH_MAX], p[PATH_MAX];
	struct dirent *de;
	DIR *d;

	pathf(dir, sizeof(dir), "%s/sys/%s/drm", k->root, rel);
	d = opendir(dir);
	if (!d || k->n_drm_gone == 8) {
		if (d)
			closedir(d);
		return;
	}
	snprintf(k->drm_gone[k->n_drm_gone].addr, sizeof(k->drm_gone[0].addr), "%s", addr);
	k->drm_gone[k->n_drm_gone].n = 0;
	while ((de = readdir(d))) {
		unsigned *n = &k->drm_gone[k->n_drm_gone].n;
		char sub[PATH_MAX + 300];

		if (de->d_name[0] == '.' || *n == 4 || strlen(de->d_name) >= 16)
			continue;
		snprintf(k->drm_gone[k->n_drm_gone].names[(*n)++], 16, "%s", de->d_name);
		snprintf(sub, sizeof(sub), "sys/%s/drm/%s", rel, de->d_name);
		fake_rm_rf(k->root, sub);
		pathf(p, sizeof(p), "%s/sys/class/drm/%s", k->root, de->d_name);
		(void)unlink(p);
	}
	closedir(d);
	k->n_drm_gone++;
}

/* Its bind registers them again: new sysfs directories. */
static void drm_back(struct fake_kernel *k, const char *addr)
{
	for (unsigned i = 0; i < k->n_drm_gone; i++) {
		if (strcmp(k->drm_gone[i].addr, addr) != 0)
			continue;
		for (unsigned n = 0; n < k->drm_gone[i].n; n++) {
			char sub[32];

			snprintf(sub, sizeof(sub), "drm/%s", k->drm_gone[i].names[n]);
			fake_add_devchild(k->root, addr, sub);
		}
		k->drm_gone[i] = k->drm_gone[--k->n_drm_gone];
		return;
	}
}

static void do_bind(struct fake_kernel *k, const char *addr, const char *drv)
{
	char rel[PATH_MAX], link[PATH_MAX], target[PATH_MAX], up[PATH_MAX] = "";
	int group;

	if (dev_rel(k->root, addr, rel, sizeof(rel)) < 0)
		return;
	/* Exactly the target fakesys writes: one "../" per '/' in the device's path. */
	for (const char *c = rel; *c; c++)
		if (*c == '/')
			strcat(up, "../");
	pathf(link, sizeof(link), "sys/%s/driver", rel);
	pathf(target, sizeof(target), "%sbus/pci/drivers/%s", up, drv);
	fake_symlink(k->root, link, target);
	if (strcmp(drv, VFIO) != 0)
		drm_back(k, addr);
	group = group_of(k, addr);
	if (strcmp(drv, VFIO) == 0 && group >= 0 && !fk_vfio_node(k, group)) {
		char node[PATH_MAX];

		fake_mkdir(k->root, "dev/vfio");
		pathf(node, sizeof(node), "%s/dev/vfio/%d", k->root, group);
		if (mknod(node, S_IFCHR | 0600, makedev(243, (unsigned)group)) < 0) {
			if (errno != EPERM)
				die("mknod", node);
			k->mknod_failed = true;
		}
	}
}

static void do_unbind(struct fake_kernel *k, const char *addr)
{
	char p[PATH_MAX], drv[64];
	int group = group_of(k, addr), left = 0;

	fk_driver_of(k, addr, drv, sizeof(drv));
	attr_path(k->root, addr, "driver", p, sizeof(p));
	if (unlink(p) < 0)
		die("unlink", p);
	if (strcmp(drv, VFIO) != 0) {
		char rel[PATH_MAX];

		if (dev_rel(k->root, addr, rel, sizeof(rel)) == 0)
			drm_away(k, addr, rel);
	}
	if (strcmp(drv, VFIO) != 0 || group < 0)
		return;
	for_each_dev(k, group, count_vfio, &left);
	if (!left) {
		pathf(p, sizeof(p), "%s/dev/vfio/%d", k->root, group);
		(void)unlink(p);
	}
}

static const char *default_of(const struct fake_kernel *k, const char *addr)
{
	for (unsigned i = 0; i < k->n_defaults; i++)
		if (strcmp(k->defaults[i].addr, addr) == 0)
			return k->defaults[i].driver[0] ? k->defaults[i].driver : NULL;
	return NULL;
}

/* What the PCI core does on drivers_probe for an unbound device. */
static int probe_dev(struct fake_kernel *k, const char *addr)
{
	char drv[64], ovr[64];
	const char *def;

	fk_driver_of(k, addr, drv, sizeof(drv));
	if (drv[0])
		return 0;
	fk_override_of(k, addr, ovr, sizeof(ovr));
	if (ovr[0]) {
		/* driver_override matches only that driver; if it is absent nothing binds. */
		if (!driver_exists(k, ovr))
			return -ENODEV;
		do_bind(k, addr, ovr);
		return 0;
	}
	def = default_of(k, addr);
	if (def && driver_exists(k, def))
		do_bind(k, addr, def);
	return 0;
}

/* ---- sysfs writes ---- */

static int write_override(struct fake_kernel *k, const char *addr, const char *value)
{
	char p[PATH_MAX], v[128];

	pathf(v, sizeof(v), "%s", value);
	v[strcspn(v, "\n")] = '\0';
	attr_path(k->root, addr, "driver_override", p, sizeof(p));
	if (access(p, F_OK) < 0)
		return -ENOENT;
	/* "\n" (or "") clears; the attribute then reads "(null)". */
	{
		FILE *f = fopen(p, "we");

		if (!f)
			die("fopen", p);
		fprintf(f, "%s\n", v[0] ? v : "(null)");
		fclose(f);
	}
	return 0;
}

static int write_reset_method(struct fake_kernel *k, const char *addr, const char *value)
{
	char p[PATH_MAX], v[128];
	FILE *f;

	pathf(v, sizeof(v), "%s", value);
	v[strcspn(v, "\n")] = '\0';
	attr_path(k->root, addr, "reset_method", p, sizeof(p));
	if (access(p, F_OK) < 0)
		return -ENOENT;
	if (!v[0] || (strstr(v, "device_specific") && !k->vendor_reset))
		return -EINVAL; /* the kernel: "Unsupported reset method" */
	f = fopen(p, "we");
	if (!f)
		die("fopen", p);
	fprintf(f, "%s\n", v);
	fclose(f);
	return 0;
}

static int write_unbind(struct fake_kernel *k, const char *drv, const char *addr)
{
	char cur[64], rel[PATH_MAX];

	if (!driver_exists(k, drv))
		return -ENOENT; /* no such file */
	if (dev_rel(k->root, addr, rel, sizeof(rel)) < 0)
		return -ENODEV;
	fk_driver_of(k, addr, cur, sizeof(cur));
	if (strcmp(cur, drv) != 0)
		return -ENODEV;
	do_unbind(k, addr);
	return 0;
}

static int write_bind(struct fake_kernel *k, const char *drv, const char *addr)
{
	char cur[64], ovr[64], rel[PATH_MAX];

	if (!driver_exists(k, drv))
		return -ENOENT;
	if (dev_rel(k->root, addr, rel, sizeof(rel)) < 0)
		return -ENODEV;
	fk_driver_of(k, addr, cur, sizeof(cur));
	if (cur[0])
		return -EBUSY;
	fk_override_of(k, addr, ovr, sizeof(ovr));
	if (ovr[0] && strcmp(ovr, drv) != 0)
		return -ENODEV;
	do_bind(k, addr, drv);
	return 0;
}

static int write_probe(struct fake_kernel *k, const char *addr)
{
	char rel[PATH_MAX];

	if (dev_rel(k->root, addr, rel, sizeof(rel)) < 0)
		return -ENODEV;
	return probe_dev(k, addr);
}

/* Each desk_pids process closes its fds of /dev/dri/CARD. */
static void desk_let_go(struct fake_kernel *k, const char *card)
{
	char want[PATH_MAX];

	pathf(want, sizeof(want), "%s/dev/dri/%s", k->root, card);
	for (size_t i = 0; i < sizeof(k->desk_pids) / sizeof(k->desk_pids[0]) && k->desk_pids[i]; i++) {
		char dir[PATH_MAX];
		struct dirent *de;
		DIR *d;

		pathf(dir, sizeof(dir), "%s/proc/%d/fd", k->root, k->desk_pids[i]);
		if (!(d = opendir(dir)))
			continue;
		while ((de = readdir(d))) {
			char link[PATH_MAX + 300], target[PATH_MAX];
			ssize_t n;

			snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
			n = readlink(link, target, sizeof(target) - 1);
			if (n > 0 && (target[n] = '\0', strcmp(target, want) == 0))
				(void)unlink(link);
		}
		closedir(d);
	}
}

/* A synthetic udev event on a card: it must exist (the kernel's -ENOENT otherwise). */
static int write_uevent(struct fake_kernel *k, const char *card, const char *action)
{
	char p[PATH_MAX];

	pathf(p, sizeof(p), "%s/sys/class/drm/%s", k->root, card);
	if (!is_dir(p))
		return -ENOENT;
	if (strcmp(action, "remove") == 0) {
		k->uevent_removes++;
		if (!k->desk_deaf)
			desk_let_go(k, card);
		return 0;
	}
	if (strcmp(action, "add") == 0) {
		k->uevent_adds++;
		return 0;
	}
	return -EINVAL;
}

/* Parse and apply; -EPERM (counted in bad_writes) for anything that is not a bind file. */
/* A pool's nr_hugepages: the kernel makes free pages as memory gives them (huge_obtainable,
 * < 0 without limit), and a smaller pool frees only pages nobody uses. Read and written as
 * files, so processes sharing the tree see one pool. */
static int write_hugepages(struct fake_kernel *k, const char *dir, const char *v)
{
	unsigned long want, total = 0, free = 0, grow, drop;
	char p[PATH_MAX], text[32];
	char *end;
	FILE *f;

	errno = 0;
	want = strtoul(v, &end, 10);
	if (errno || *end || end == v)
		return -EINVAL;
	pathf(p, sizeof(p), "%s/sys/%s/nr_hugepages", k->root, dir);
	if ((f = fopen(p, "re"))) {
		if (fscanf(f, "%lu", &total) != 1)
			total = 0;
		fclose(f);
	}
	pathf(p, sizeof(p), "%s/sys/%s/free_hugepages", k->root, dir);
	if ((f = fopen(p, "re"))) {
		if (fscanf(f, "%lu", &free) != 1)
			free = 0;
		fclose(f);
	}
	if (want >= total) {
		grow = want - total;
		if (k->huge_obtainable >= 0 && grow > (unsigned long)k->huge_obtainable)
			grow = (unsigned long)k->huge_obtainable;
		total += grow;
		free += grow;
	} else {
		drop = total - want < free ? total - want : free;
		total -= drop;
		free -= drop;
	}
	snprintf(text, sizeof(text), "%lu\n", total);
	pathf(p, sizeof(p), "sys/%s/nr_hugepages", dir);
	fake_write(k->root, p, text);
	snprintf(text, sizeof(text), "%lu\n", free);
	pathf(p, sizeof(p), "sys/%s/free_hugepages", dir);
	fake_write(k->root, p, text);
	return 0;
}

static int apply_write(struct fake_kernel *k, const char *path, const char *value)
{
	char a[64], d[64], file[32], v[128], pool[96];

	pathf(v, sizeof(v), "%s", value);
	v[strcspn(v, "\n")] = '\0';
	if (strcmp(path, "bus/pci/drivers_probe") == 0)
		return write_probe(k, v);
	if (sscanf(path, "kernel/mm/hugepages/%95[^/]/%31s", pool, file) == 2 &&
	    strcmp(file, "nr_hugepages") == 0) {
		char dir[128];

		snprintf(dir, sizeof(dir), "kernel/mm/hugepages/%s", pool);
		return write_hugepages(k, dir, v);
	}
	if (sscanf(path, "class/drm/%63[^/]/%31s", a, file) == 2 && strcmp(file, "uevent") == 0)
		return write_uevent(k, a, v);
	if (sscanf(path, "bus/pci/devices/%63[^/]/%31s", a, file) == 2 &&
	    strcmp(file, "driver_override") == 0)
		return write_override(k, a, value);
	if (sscanf(path, "bus/pci/devices/%63[^/]/%31s", a, file) == 2 &&
	    strcmp(file, "reset_method") == 0)
		return write_reset_method(k, a, value);
	if (sscanf(path, "bus/pci/drivers/%63[^/]/%31s", d, file) == 2) {
		if (strcmp(file, "unbind") == 0)
			return write_unbind(k, d, v);
		if (strcmp(file, "bind") == 0)
			return write_bind(k, d, v);
	}
	k->bad_writes++;
	return -EPERM;
}

static int fault(struct fake_kernel *k, enum fk_fault f, const char *path, const char *value,
		 int *ret_stuck_pid)
{
	k->faults_hit++;
	switch (f) {
	case FK_EIO:
		return -EIO;
	case FK_HANG_DONE:
		(void)apply_write(k, path, value);
		/* fall through */
	case FK_HANG:
		if (ret_stuck_pid)
			*ret_stuck_pid = k->stuck_pid;
		return -ETIMEDOUT;
	case FK_SILENT:
	case FK_NONE:
		break;
	}
	return 0;
}

static int fk_sysfs_write(void *data, const struct sysroot *s, const char *path, const char *value,
			  unsigned timeout_ms, int *ret_stuck_pid)
{
	struct fake_kernel *k = data;
	bool is_probe = strcmp(path, "bus/pci/drivers_probe") == 0;

	(void)s;
	(void)timeout_ms;
	k->writes++;
	k->probes += is_probe;
	/* One line per write, whatever the value ends with. */
	logf_(k->wlog, sizeof(k->wlog), "%s <- %s%s", path, strcmp(value, "\n") ? value : "\\n",
	      strcmp(value, "\n") && value[0] && value[strlen(value) - 1] == '\n' ? "" : "\n");
	/* One-shot: once fired, a fault is gone (resetting the counters cannot re-arm it). */
	if (k->fail_write_at && k->writes == k->fail_write_at) {
		k->fail_write_at = 0;
		return fault(k, k->write_fault, path, value, ret_stuck_pid);
	}
	if (is_probe && k->fail_probe_at && k->probes == k->fail_probe_at) {
		k->fail_probe_at = 0;
		return fault(k, k->probe_fault, path, value, ret_stuck_pid);
	}
	return apply_write(k, path, value);
}

/* ---- modules ---- */

bool fk_module_loaded(const struct fake_kernel *k, const char *module)
{
	char name[64], p[PATH_MAX];

	module_dirname(module, name, sizeof(name));
	pathf(p, sizeof(p), "%s/sys/module/%s", k->root, name);
	return is_dir(p);
}

static const char *driver_of_module(const struct fake_kernel *k, const char *name)
{
	for (unsigned i = 0; i < k->n_provides; i++)
		if (strcmp(k->provides[i].module, name) == 0)
			return k->provides[i].driver;
	return NULL;
}

struct drv_arg {
	const char *drv;
	unsigned bound; /* counted by count_on */
};

static void count_on(struct fake_kernel *k, const char *addr, void *data)
{
	struct drv_arg *a = data;
	char cur[64];

	fk_driver_of(k, addr, cur, sizeof(cur));
	a->bound += strcmp(cur, a->drv) == 0;
}

static void unbind_if_on(struct fake_kernel *k, const char *addr, void *data)
{
	const struct drv_arg *a = data;
	char cur[64];

	fk_driver_of(k, addr, cur, sizeof(cur));
	if (strcmp(cur, a->drv) == 0)
		do_unbind(k, addr);
}

static void rebind_default(struct fake_kernel *k, const char *addr, void *data)
{
	const struct drv_arg *a = data;
	const char *def = default_of(k, addr);
	char cur[64], ovr[64];

	fk_driver_of(k, addr, cur, sizeof(cur));
	fk_override_of(k, addr, ovr, sizeof(ovr));
	if (!cur[0] && def && strcmp(def, a->drv) == 0 && (!ovr[0] || strcmp(ovr, a->drv) == 0))
		do_bind(k, addr, a->drv);
}

static int unload_one(struct fake_kernel *k, const char *name)
{
	const char *drv = driver_of_module(k, name);
	char p[PATH_MAX];

	if (!fk_module_loaded(k, name))
		return -ENOENT;
	for (unsigned i = 0; i < k->n_deps; i++)
		if (strcmp(k->deps[i].needs, name) == 0 && fk_module_loaded(k, k->deps[i].module))
			return -EBUSY;
	if (drv) {
		struct drv_arg a = { drv, 0 };

		for_each_dev(k, -1, unbind_if_on, &a);
		pathf(p, sizeof(p), "%s/sys/bus/pci/drivers/%s", k->root, drv);
		if (rmdir(p) < 0 && errno != ENOENT)
			die("rmdir", p);
	}
	pathf(p, sizeof(p), "%s/sys/module/%s", k->root, name);
	if (rmdir(p) < 0)
		die("rmdir", p);
	logf_(k->modlog, sizeof(k->modlog), "%s-%s", k->modlog[0] ? " " : "", name);
	return 0;
}

static int load_one(struct fake_kernel *k, const char *name, unsigned depth)
{
	const char *drv = driver_of_module(k, name);
	char p[PATH_MAX];

	if (fk_module_loaded(k, name))
		return 0;
	if (depth > 8)
		return -ELOOP;
	/* Like modprobe: what it needs first. */
	for (unsigned i = 0; i < k->n_deps; i++)
		if (strcmp(k->deps[i].module, name) == 0) {
			int r = load_one(k, k->deps[i].needs, depth + 1);

			if (r < 0)
				return r;
		}
	pathf(p, sizeof(p), "sys/module/%s", name);
	fake_mkdir(k->root, p);
	if (drv) {
		struct drv_arg a = { drv, 0 };

		pathf(p, sizeof(p), "sys/bus/pci/drivers/%s", drv);
		fake_mkdir(k->root, p);
		for_each_dev(k, -1, rebind_default, &a);
		/* Like the real nvidia.ko ("NVRM: No NVIDIA devices probed"): no free GPU, no load. */
		for_each_dev(k, -1, count_on, &a);
		if (strcmp(name, "nvidia") == 0 && a.bound == 0) {
			char full[PATH_MAX];

			pathf(full, sizeof(full), "%s/sys/bus/pci/drivers/%s", k->root, drv);
			(void)rmdir(full);
			pathf(full, sizeof(full), "%s/sys/module/%s", k->root, name);
			(void)rmdir(full);
			return -ENODEV;
		}
	}
	logf_(k->modlog, sizeof(k->modlog), "%s+%s", k->modlog[0] ? " " : "", name);
	return 0;
}

static int fk_module_unload(void *data, const struct sysroot *s, const char *module)
{
	struct fake_kernel *k = data;
	char name[64];

	(void)s;
	k->unloads++;
	if (k->fail_unload_at && k->unloads == k->fail_unload_at) {
		k->fail_unload_at = 0;
		k->faults_hit++;
		return k->unload_err;
	}
	module_dirname(module, name, sizeof(name));
	return unload_one(k, name);
}

static int fk_module_load(void *data, const struct sysroot *s, const char *module)
{
	struct fake_kernel *k = data;
	char name[64];

	(void)s;
	k->loads++;
	if (k->fail_load_at && k->loads == k->fail_load_at) {
		k->fail_load_at = 0;
		k->faults_hit++;
		return k->load_err;
	}
	module_dirname(module, name, sizeof(name));
	return load_one(k, name, 0);
}

static void fk_sleep_ms(void *data, unsigned ms)
{
	struct fake_kernel *k = data;

	k->sleeps++;
	k->slept_ms += ms;
}

static int fk_con2fb_get(void *data, const struct sysroot *s, unsigned console, int *ret_fb)
{
	struct fake_kernel *k = data;

	(void)s;
	if (k->con2fb_get_err)
		return k->con2fb_get_err;
	if (console < 1 || console > 63)
		return -EINVAL;
	*ret_fb = k->con2fb[console];
	return 0;
}

static int fk_con2fb_set(void *data, const struct sysroot *s, unsigned console, int fb)
{
	struct fake_kernel *k = data;
	char p[PATH_MAX];

	(void)s;
	if (k->con2fb_set_err)
		return k->con2fb_set_err;
	pathf(p, sizeof(p), "%s/sys/class/graphics/fb%d", k->root, fb);
	if (console < 1 || console > 63 || access(p, F_OK) < 0)
		return -EINVAL;
	k->con2fb[console] = fb;
	k->con2fb_sets++;
	return 0;
}

/* The processes whose cgroup names unit, gone with it. */
static void kill_unit(struct fake_kernel *k, const char *unit)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	pathf(dir, sizeof(dir), "%s/proc", k->root);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char path[PATH_MAX], buf[1024] = "", cmd[PATH_MAX + 16];
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		pathf(path, sizeof(path), "%s/%s/cgroup", dir, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		if (strstr(buf, unit)) {
			pathf(cmd, sizeof(cmd), "rm -rf '%s/%s'", dir, de->d_name);
			if (system(cmd) != 0)
				abort();
		}
	}
	if (d)
		closedir(d);
}

static int fk_service(void *data, const struct sysroot *s, const char *unit, bool start)
{
	struct fake_kernel *k = data;
	size_t len = strlen(k->svclog);

	(void)s;
	snprintf(k->svclog + len, sizeof(k->svclog) - len, "%s%s %s", len ? ", " : "",
		 start ? "start" : "stop", unit);
	if (k->service_err)
		return k->service_err;
	if (!start && !k->service_keeps)
		kill_unit(k, unit);
	return 0;
}

/* ---- setup ---- */

void fk_prepare_root(const char *root)
{
	char p[PATH_MAX], release[64] = "";
	FILE *f;

	pathf(p, sizeof(p), "%s/proc/sys/kernel/osrelease", root);
	f = fopen(p, "re");
	if (f) {
		if (!fgets(release, sizeof(release), f))
			release[0] = '\0';
		fclose(f);
	}
	release[strcspn(release, "\n")] = '\0';
	if (!release[0]) {
		snprintf(release, sizeof(release), "6.1.0-fake");
		fake_write(root, "proc/sys/kernel/osrelease", "6.1.0-fake\n");
	}
	pathf(p, sizeof(p), "lib/modules/%s", release);
	fake_mkdir(root, p);
	fake_mkdir(root, "run");
	fake_mkdir(root, "dev");
	fake_mkdir(root, "proc");
	fake_mkdir(root, "sys/bus/pci/drivers/" VFIO);
	fake_mkdir(root, "sys/module/vfio_pci");
	fake_mkdir(root, "sys/module/vfio_iommu_type1");
}

bool fk_can_mknod(const char *root)
{
	char p[PATH_MAX];
	bool ok;

	pathf(p, sizeof(p), "%s/.mknod-probe", root);
	ok = mknod(p, S_IFCHR | 0600, makedev(243, 99)) == 0;
	(void)unlink(p);
	return ok;
}

static void seed_default(struct fake_kernel *k, const char *addr, void *data)
{
	char drv[64];

	(void)data;
	fk_driver_of(k, addr, drv, sizeof(drv));
	fk_set_default(k, addr, drv[0] ? drv : NULL);
}

struct fake_kernel *fk_new(const char *root)
{
	struct fake_kernel *k = calloc(1, sizeof(*k));

	if (!k)
		abort();
	k->root = strdup(root);
	k->ops = (struct kernel_ops){ .sysfs_write = fk_sysfs_write,
				      .module_unload = fk_module_unload,
				      .module_load = fk_module_load,
				      .sleep_ms = fk_sleep_ms,
				      .con2fb_get = fk_con2fb_get,
				      .con2fb_set = fk_con2fb_set,
				      .service = fk_service,
				      .data = k };
	k->stuck_pid = 4242;
	k->huge_obtainable = -1;
	fk_module_provides(k, "vfio_pci", VFIO);
	for_each_dev(k, -1, seed_default, NULL);
	return k;
}

void fk_free(struct fake_kernel *k)
{
	if (!k)
		return;
	free(k->root);
	free(k);
}

void fk_reset_counters(struct fake_kernel *k)
{
	k->writes = k->probes = k->unloads = k->loads = k->sleeps = k->bad_writes = 0;
	k->slept_ms = 0;
	k->faults_hit = 0;
	k->wlog[0] = k->modlog[0] = '\0';
}

void fk_set_default(struct fake_kernel *k, const char *addr, const char *driver)
{
	unsigned i;

	for (i = 0; i < k->n_defaults; i++)
		if (strcmp(k->defaults[i].addr, addr) == 0)
			break;
	if (i == FK_MAX)
		abort();
	if (i == k->n_defaults)
		k->n_defaults++;
	pathf(k->defaults[i].addr, sizeof(k->defaults[i].addr), "%s", addr);
	pathf(k->defaults[i].driver, sizeof(k->defaults[i].driver), "%s", driver ? driver : "");
}

void fk_module_provides(struct fake_kernel *k, const char *module, const char *driver)
{
	if (k->n_provides == sizeof(k->provides) / sizeof(k->provides[0]))
		abort();
	module_dirname(module, k->provides[k->n_provides].module, sizeof(k->provides[0].module));
	pathf(k->provides[k->n_provides].driver, sizeof(k->provides[0].driver), "%s", driver);
	k->n_provides++;
}

void fk_module_depends(struct fake_kernel *k, const char *module, const char *needs)
{
	if (k->n_deps == sizeof(k->deps) / sizeof(k->deps[0]))
		abort();
	module_dirname(module, k->deps[k->n_deps].module, sizeof(k->deps[0].module));
	module_dirname(needs, k->deps[k->n_deps].needs, sizeof(k->deps[0].needs));
	k->n_deps++;
}

void fk_fail_write(struct fake_kernel *k, unsigned nth, enum fk_fault f)
{
	k->fail_write_at = nth;
	k->write_fault = f;
}

void fk_fail_probe(struct fake_kernel *k, unsigned nth, enum fk_fault f)
{
	k->fail_probe_at = nth;
	k->probe_fault = f;
}

void fk_fail_unload(struct fake_kernel *k, unsigned nth, int err)
{
	k->fail_unload_at = nth;
	k->unload_err = err;
}

void fk_fail_load(struct fake_kernel *k, unsigned nth, int err)
{
	k->fail_load_at = nth;
	k->load_err = err;
}

void fk_clear_faults(struct fake_kernel *k)
{
	k->fail_write_at = k->fail_probe_at = k->fail_unload_at = k->fail_load_at = 0;
}

/* ---- snapshots ---- */

struct snap {
	char *buf;
	size_t len, cap;
};

static void snap_add(struct snap *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void snap_add(struct snap *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (s->len + (size_t)n + 1 > s->cap) {
		s->cap = (s->len + (size_t)n + 1) * 2;
		s->buf = realloc(s->buf, s->cap);
		if (!s->buf)
			abort();
	}
	va_start(ap, fmt);
	(void)vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

static void snap_dir(struct snap *s, const char *root, const char *rel)
{
	char p[PATH_MAX];
	struct dirent **v;
	int n;

	pathf(p, sizeof(p), "%s/%s", root, rel);
	n = scandir(p, &v, NULL, alphasort);
	snap_add(s, "%s:", rel);
	for (int i = 0; i < n; i++) {
		if (v[i]->d_name[0] != '.')
			snap_add(s, " %s", v[i]->d_name);
		free(v[i]);
	}
	if (n >= 0)
		free(v);
	snap_add(s, "\n");
}

char *fk_snapshot(const char *root)
{
	struct snap s = { 0 };
	char p[PATH_MAX], rel[PATH_MAX];
	struct dirent **v;
	int n;

	pathf(p, sizeof(p), "%s/sys/bus/pci/devices", root);
	n = scandir(p, &v, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *a = v[i]->d_name;

		if (a[0] != '.' && dev_rel(root, a, rel, sizeof(rel)) == 0) {
			char target[PATH_MAX] = "-", ovr[256] = "";
			ssize_t len;
			FILE *f;

			pathf(p, sizeof(p), "%s/sys/%s/driver", root, rel);
			len = readlink(p, target, sizeof(target) - 1);
			target[len < 0 ? 1 : len] = '\0';
			pathf(p, sizeof(p), "%s/sys/%s/driver_override", root, rel);
			f = fopen(p, "re");
			if (f) {
				size_t m = fread(ovr, 1, sizeof(ovr) - 1, f);

				ovr[m] = '\0';
				fclose(f);
			}
			/* The raw bytes, newline included: "(null)\n" and "\n" differ. */
			for (char *c = ovr; *c; c++)
				if (*c == '\n')
					*c = '$';
			snap_add(&s, "%s driver=%s override=%s\n", a, target, ovr);
		}
		free(v[i]);
	}
	if (n >= 0)
		free(v);
	snap_dir(&s, root, "dev/vfio");
	snap_dir(&s, root, "sys/module");
	snap_dir(&s, root, "sys/bus/pci/drivers");
	return s.buf;
}
