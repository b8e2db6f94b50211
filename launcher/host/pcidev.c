/* SPDX-License-Identifier: MIT */
#include "pcidev.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pci/pci.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "log.h"
#include "util.h"

static int dev_dir_open(const struct sysroot *s, const char *name)
{
	char path[64];
	int fd;

	if (s->sys_fd < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "bus/pci/devices/%s", name);
	fd = openat(s->sys_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Optional attributes: absence is normal (older kernels, no driver), anything else is not. */
static int read_optional(int dfd, const char *attr, char *buf, size_t cap)
{
	int r = read_attr_at(dfd, attr, buf, cap);

	if (r == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return r < 0 ? r : 0;
}

static int read_ids(int dfd, struct pci_function *f)
{
	unsigned long v;
	int r;

	r = read_attr_hex_at(dfd, "vendor", &v);
	if (r < 0 || v > 0xffff)
		return r < 0 ? r : -EBADMSG;
	f->vendor = (unsigned)v;
	r = read_attr_hex_at(dfd, "device", &v);
	if (r < 0 || v > 0xffff)
		return r < 0 ? r : -EBADMSG;
	f->device = (unsigned)v;
	r = read_attr_hex_at(dfd, "class", &v);
	if (r < 0 || v > 0xffffff)
		return r < 0 ? r : -EBADMSG;
	f->class_code = (unsigned)v;
	if (read_attr_hex_at(dfd, "subsystem_vendor", &v) == 0 && v <= 0xffff)
		f->subsys_vendor = (unsigned)v;
	if (read_attr_hex_at(dfd, "subsystem_device", &v) == 0 && v <= 0xffff)
		f->subsys_device = (unsigned)v;
	return 0;
}

static int read_group(int dfd, struct pci_function *f)
{
	char name[32], *end;
	long g;
	int r;

	f->iommu_group = -1;
	r = read_link_name_at(dfd, "iommu_group", name, sizeof(name));
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	errno = 0;
	g = strtol(name, &end, 10);
	if (errno || *end || end == name || g < 0 || g > INT_MAX)
		return -EBADMSG;
	f->iommu_group = (int)g;
	return 0;
}

/* The link in bus/pci/devices points into devices/; keep that path, refusing anything outside. */
static int read_topology(const struct sysroot *s, struct pci_function *f)
{
	char link[64];
	const char *slash, *parent;
	struct pci_addr pa;
	int r;

	snprintf(link, sizeof(link), "bus/pci/devices/%s", f->name);
	r = resolve_sys_link(s, link, f->devpath, sizeof(f->devpath));
	if (r < 0)
		return r;
	if (strncmp(f->devpath, "devices/", 8) != 0)
		return -EXDEV;
	slash = strrchr(f->devpath, '/');
	/* The parent component names the upstream port unless it is the root "pci0000:00". */
	f->parent[0] = '\0';
	for (parent = slash - 1; parent > f->devpath && *parent != '/'; parent--)
		;
	if (parent > f->devpath) {
		char comp[PCI_ADDR_STR_MAX + 1];
		size_t n = (size_t)(slash - parent - 1);

		if (n < sizeof(comp)) {
			memcpy(comp, parent + 1, n);
			comp[n] = '\0';
			if (pci_addr_parse(comp, &pa) == 0)
				pci_addr_format(&pa, f->parent);
		}
	}
	return 0;
}

static int read_driver(int dfd, struct pci_function *f)
{
	int r = read_link_name_at(dfd, "driver", f->driver, sizeof(f->driver));

	if (r == -ENOENT) {
		f->driver[0] = '\0';
		return 0;
	}
	return r;
}

/*
 * driver_override's show takes the device's lock, which a remove stuck in a driver (NVIDIA's
 * with a GPU in use) holds for ever: read within a deadline, or every command listing devices
 * would hang with it. A device that does not answer is marked locked.
 */
#define LOCKED_READ_MS 3000

static int read_override(const struct sysroot *s, struct pci_function *f)
{
	char path[96];
	int r;

	snprintf(path, sizeof(path), "bus/pci/devices/%s/driver_override", f->name);
	r = sysfs_read_bounded(s, path, f->driver_override, sizeof(f->driver_override), LOCKED_READ_MS);
	if (r == -ETIMEDOUT) {
		log_debug("%s: reading driver_override did not return: its lock is held", f->name);
		f->driver_override[0] = '\0';
		f->locked = true;
		return 0;
	}
	if (r == -ENOENT) /* before Linux 3.16 */
		f->driver_override[0] = '\0';
	return r == -ENOENT ? 0 : r;
}

static int read_misc(const struct sysroot *s, int dfd, struct pci_function *f)
{
	char buf[16];
	int r;

	r = read_override(s, f);
	if (r < 0)
		return r;
	if (streq(f->driver_override, "(null)"))
		f->driver_override[0] = '\0';
	r = read_optional(dfd, "reset_method", f->reset_method, sizeof(f->reset_method));
	if (r < 0)
		return r;
	f->has_reset_method = faccessat(dfd, "reset_method", F_OK, 0) == 0;
	f->boot_vga = -1;
	r = read_optional(dfd, "boot_vga", buf, sizeof(buf));
	if (r < 0)
		return r;
	if (buf[0])
		f->boot_vga = streq(buf, "1") ? 1 : 0;
	return 0;
}

int pci_function_read(const struct sysroot *s, const struct pci_addr *a, struct pci_function *ret)
{
	struct pci_function f = { .addr = *a };
	_cleanup_close_ int dfd = -1;
	int r;

	pci_addr_format(a, f.name);
	dfd = dev_dir_open(s, f.name);
	if (dfd < 0)
		return dfd;
	r = read_ids(dfd, &f);
	if (r >= 0)
		r = read_topology(s, &f);
	if (r >= 0)
		r = read_driver(dfd, &f);
	if (r >= 0)
		r = read_group(dfd, &f);
	if (r >= 0)
		r = read_misc(s, dfd, &f);
	if (r < 0) {
		log_debug("%s: unreadable: %s", f.name, strerror(-r));
		return r;
	}
	*ret = f;
	return 0;
}

static int cmp_function(const void *a, const void *b)
{
	return pci_addr_cmp(&((const struct pci_function *)a)->addr,
			    &((const struct pci_function *)b)->addr);
}

int pci_function_list(const struct sysroot *s, struct pci_function **ret, size_t *ret_n,
		      unsigned *ret_unreadable)
{
	unsigned unreadable = 0;
	_cleanup_free_ struct pci_function *v = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	int r;
	struct dirent *de;

	if (s->sys_fd < 0)
		return -ENOENT;
	r = opendir_at(s->sys_fd, "bus/pci/devices", &d);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		struct pci_addr a;

		if (de->d_name[0] == '.' || pci_addr_parse(de->d_name, &a) < 0)
			continue;
		if (n == cap) {
			struct pci_function *nv;

			cap = cap ? cap * 2 : 32;
			nv = reallocarray(v, cap, sizeof(*v));
			if (!nv) {
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		/* One unreadable device must not hide the others; it is counted and skipped, and
		 * a caller deciding something safety-relevant from the list refuses on it. */
		if (pci_function_read(s, &a, &v[n]) == 0)
			n++;
		else
			unreadable++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_function);
	*ret = TAKE_PTR(v);
	*ret_n = n;
	if (ret_unreadable)
		*ret_unreadable = unreadable;
	return 0;
}

/* ---- names from pci.ids through libpci ---- */

struct pci_names {
	struct pci_access *pacc;
};

static void names_warning(char *msg, ...)
{
	va_list ap;
	char buf[256];

	va_start(ap, msg);
	vsnprintf(buf, sizeof(buf), msg, ap);
	va_end(ap);
	log_debug("libpci: %s", buf);
}

/* libpci calls this only when out of memory; its own default would exit(1) quietly. */
_Noreturn static void names_error(char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	fputs("vmrun: libpci: ", stderr);
	vfprintf(stderr, msg, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

int pci_names_open(const struct sysroot *s, struct pci_names **ret)
{
	struct pci_names *n;
	char *ids;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (asprintf(&ids, "%s/usr/share/misc/pci.ids", streq(s->path, "/") ? "" : s->path) < 0) {
		free(n);
		return -ENOMEM;
	}
	/* Only the database is used: no pci_init(), no access method, no hwdb or network lookups. */
	n->pacc = pci_alloc();
	if (!n->pacc) {
		free(ids);
		free(n);
		return -ENOMEM;
	}
	n->pacc->warning = names_warning;
	n->pacc->debug = names_warning;
	n->pacc->error = names_error;
	pci_set_name_list_path(n->pacc, ids, 1);
	*ret = n;
	return 0;
}

void pci_names_free(struct pci_names *n)
{
	if (!n)
		return;
	pci_cleanup(n->pacc);
	free(n);
}

static void lookup(struct pci_names *n, char *buf, size_t cap, int flags, ...)
{
	char tmp[PCI_NAME_MAX];
	const char *r;
	va_list ap;

	va_start(ap, flags);
	/* libpci reads the variadic ids itself; pass them through explicitly per kind. */
	if (flags & PCI_LOOKUP_CLASS) {
		int cls = va_arg(ap, int);
		r = pci_lookup_name(n->pacc, tmp, sizeof(tmp),
				    flags | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, cls);
	} else if (flags & PCI_LOOKUP_DEVICE) {
		int ven = va_arg(ap, int), dev = va_arg(ap, int);
		r = pci_lookup_name(n->pacc, tmp, sizeof(tmp),
				    flags | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, ven, dev);
	} else {
		int ven = va_arg(ap, int);
		r = pci_lookup_name(n->pacc, tmp, sizeof(tmp),
				    flags | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, ven);
	}
	va_end(ap);
	snprintf(buf, cap, "%s", r ? r : "");
}

void pci_names_fill(struct pci_names *n, struct pci_function *f)
{
	if (!n)
		return;
	lookup(n, f->vendor_name, sizeof(f->vendor_name), PCI_LOOKUP_VENDOR, (int)f->vendor);
	lookup(n, f->device_name, sizeof(f->device_name), PCI_LOOKUP_DEVICE, (int)f->vendor,
	       (int)f->device);
	lookup(n, f->class_name, sizeof(f->class_name), PCI_LOOKUP_CLASS,
	       (int)(f->class_code >> 8));
	if (!f->class_name[0])
		snprintf(f->class_name, sizeof(f->class_name), "%s",
			 pci_class_fallback(f->class_code));
}

const char *pci_class_fallback(unsigned class_code)
{
	switch (class_code >> 8) {
	case 0x0300: return "VGA compatible controller";
	case 0x0302: return "3D controller";
	case 0x0380: return "Display controller";
	case 0x0403: return "Audio device";
	case 0x0c03: return "USB controller";
	case 0x0c80: return "Serial bus controller";
	case 0x0604: return "PCI bridge";
	default: break;
	}
	switch (class_code >> 16) {
	case 0x01: return "Mass storage controller";
	case 0x02: return "Network controller";
	case 0x03: return "Display controller";
	case 0x04: return "Multimedia controller";
	case 0x06: return "Bridge";
	case 0x0c: return "Serial bus controller";
	default: return "Device";
	}
}
