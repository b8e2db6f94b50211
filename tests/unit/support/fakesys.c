/* SPDX-License-Identifier: MIT */
#include "fakesys.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fakesys: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

char *fake_root_new(void)
{
	char tmpl[] = "/tmp/vmrun-fake-XXXXXX";

	if (!mkdtemp(tmpl))
		die("mkdtemp", tmpl);
	return strdup(tmpl);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

void fake_root_free(char *root)
{
	if (root && strncmp(root, "/tmp/vmrun-fake-", 16) == 0)
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(root);
}

static void mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			die("mkdir", path);
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die("mkdir", path);
}

static char *full(const char *root, const char *rel)
{
	char *p;

	if (asprintf(&p, "%s/%s", root, rel) < 0)
		abort();
	return p;
}

static void mkparent(const char *path)
{
	char *d = strdup(path), *slash = strrchr(d, '/');

	*slash = '\0';
	mkdir_p(d);
	free(d);
}

void fake_mkdir(const char *root, const char *rel)
{
	char *p = full(root, rel);

	mkdir_p(p);
	free(p);
}

void fake_write(const char *root, const char *rel, const char *content)
{
	char *p = full(root, rel);
	FILE *f;

	mkparent(p);
	f = fopen(p, "we");
	if (!f)
		die("fopen", p);
	fputs(content, f);
	fclose(f);
	free(p);
}

void fake_symlink(const char *root, const char *rel, const char *target)
{
	char *p = full(root, rel);

	mkparent(p);
	(void)unlink(p);
	if (symlink(target, p) < 0)
		die("symlink", p);
	free(p);
}

/* "../" repeated so a link at sys/<rel> climbs back to sys/. */
static char *up_to_sys(const char *rel_in_sys)
{
	size_t depth = 0;
	char *s;

	for (const char *c = rel_in_sys; *c; c++)
		depth += *c == '/';
	s = calloc(depth * 3 + 1, 1);
	for (size_t i = 0; i < depth; i++)
		strcat(s, "../");
	return s;
}

static char *dev_path(const char *root, const char *addr)
{
	/* Resolve the parent chain through the bus/pci/devices link we made for it. */
	char link[256], target[512], *out;
	ssize_t n;

	snprintf(link, sizeof(link), "%s/sys/bus/pci/devices/%s", root, addr);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		die("readlink", link);
	target[n] = '\0';
	out = strdup(strstr(target, "devices/"));
	return out;
}

void fake_add_dev(const char *root, const struct fake_dev *d)
{
	char rel[512], attr[640], buf[64], *up, *parent = NULL;

	if (d->parent) {
		parent = dev_path(root, d->parent);
		snprintf(rel, sizeof(rel), "%s/%s", parent, d->addr);
	} else {
		snprintf(rel, sizeof(rel), "devices/pci%.7s/%s", d->addr, d->addr);
	}
	free(parent);
#define ATTR(name, fmt, ...)                                                                      \
	do {                                                                                       \
		snprintf(attr, sizeof(attr), "sys/%s/" name, rel);                                 \
		snprintf(buf, sizeof(buf), fmt, __VA_ARGS__);                                      \
		fake_write(root, attr, buf);                                                       \
	} while (0)
	ATTR("vendor", "0x%04x\n", d->vendor);
	ATTR("device", "0x%04x\n", d->device);
	ATTR("class", "0x%06x\n", d->class_code);
	ATTR("subsystem_vendor", "0x%04x\n", 0x1af4);
	ATTR("subsystem_device", "0x%04x\n", 0x1100);
	ATTR("driver_override", "%s\n", "(null)");
	if (d->boot_vga >= 0)
		ATTR("boot_vga", "%d\n", d->boot_vga);
	if (d->reset_method)
		ATTR("reset_method", "%s\n", d->reset_method);
#undef ATTR
	/* bus/pci/devices/X -> ../../../devices/... */
	snprintf(attr, sizeof(attr), "sys/bus/pci/devices/%s", d->addr);
	snprintf(buf, sizeof(buf), "%s", "");
	{
		char target[700];

		snprintf(target, sizeof(target), "../../../%s", rel);
		fake_symlink(root, attr, target);
		up = up_to_sys(rel);
		if (d->driver) {
			snprintf(attr, sizeof(attr), "sys/bus/pci/drivers/%s", d->driver);
			fake_mkdir(root, attr);
			snprintf(attr, sizeof(attr), "sys/%s/driver", rel);
			snprintf(target, sizeof(target), "%sbus/pci/drivers/%s", up, d->driver);
			fake_symlink(root, attr, target);
		}
		if (d->group >= 0) {
			snprintf(attr, sizeof(attr), "sys/%s/iommu_group", rel);
			snprintf(target, sizeof(target), "%skernel/iommu_groups/%d", up, d->group);
			fake_symlink(root, attr, target);
			snprintf(attr, sizeof(attr), "sys/kernel/iommu_groups/%d/devices/%s", d->group,
				 d->addr);
			snprintf(target, sizeof(target), "../../../../%s", rel);
			fake_symlink(root, attr, target);
		}
		free(up);
	}
}

/* The /dev node a sysfs child names: drm/card1 -> dev/dri/card1, graphics/fb0 -> dev/fb0,
 * sound/card1/pcmC1D0p -> dev/snd/pcmC1D0p, i2c-3 -> dev/i2c-3, vfio-dev/vfio0 ->
 * dev/vfio/devices/vfio0; NULL for a child without one. */
static const char *node_dir(const char *sub, const char **ret_name)
{
	const char *slash = strrchr(sub, '/');

	*ret_name = slash ? slash + 1 : sub;
	if (strncmp(*ret_name, "i2c-", 4) == 0)
		return "dev";
	if (strncmp(sub, "drm/", 4) == 0)
		return "dev/dri";
	if (strncmp(sub, "graphics/", 9) == 0)
		return "dev";
	if (strncmp(sub, "sound/card", 10) == 0 && slash && strchr(sub + 6, '/') == slash)
		return "dev/snd";
	if (strncmp(sub, "vfio-dev/", 9) == 0)
		return "dev/vfio/devices";
	return NULL;
}

void fake_add_devchild(const char *root, const char *addr, const char *sub)
{
	char *rel = dev_path(root, addr), path[700];
	const char *dir, *name;

	snprintf(path, sizeof(path), "sys/%s/%s", rel, sub);
	fake_mkdir(root, path);
	/* A DRM node is registered in its class, names its device and has its number (226:N). */
	if (strncmp(sub, "drm/", 4) == 0 && !strchr(sub + 4, '/')) {
		char cls[64], target[700], num[16];
		const char *digits = sub + 4 + strcspn(sub + 4, "0123456789");

		snprintf(path, sizeof(path), "sys/%s/%s/device", rel, sub);
		snprintf(target, sizeof(target), "../../../%s", addr);
		fake_symlink(root, path, target);
		snprintf(path, sizeof(path), "sys/%s/%s/dev", rel, sub);
		snprintf(num, sizeof(num), "226:%d\n", atoi(digits));
		fake_write(root, path, num);
		snprintf(cls, sizeof(cls), "sys/class/drm/%s", sub + 4);
		snprintf(target, sizeof(target), "../../%s/%s", rel, sub);
		fake_symlink(root, cls, target);
	}
	/* A framebuffer is registered in its class, and names its device, as sysfs has it. */
	if (strncmp(sub, "graphics/fb", 11) == 0 && !strchr(sub + 9, '/')) {
		char cls[64], target[700];

		snprintf(path, sizeof(path), "sys/%s/%s/device", rel, sub);
		snprintf(target, sizeof(target), "../../../%s", addr);
		fake_symlink(root, path, target);
		snprintf(cls, sizeof(cls), "sys/class/graphics/%s", sub + 9);
		snprintf(target, sizeof(target), "../../%s/%s", rel, sub);
		fake_symlink(root, cls, target);
	}
	free(rel);
	/* Its node, a plain file standing in for the device: holders are matched by identity. */
	dir = node_dir(sub, &name);
	if (dir) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		fake_write(root, path, "");
	}
}

void fake_add_proc(const char *root, int pid, const char *comm, uid_t uid, const char *cgroup,
		   const char *const *fd_targets)
{
	char path[256], buf[512];

	snprintf(path, sizeof(path), "proc/%d/comm", pid);
	snprintf(buf, sizeof(buf), "%s\n", comm);
	fake_write(root, path, buf);
	snprintf(path, sizeof(path), "proc/%d/cmdline", pid);
	{
		char *p = full(root, path);
		FILE *f;

		mkparent(p);
		f = fopen(p, "we");
		fwrite(comm, 1, strlen(comm) + 1, f);
		fwrite("-arg", 1, 5, f);
		fclose(f);
		free(p);
	}
	snprintf(path, sizeof(path), "proc/%d/status", pid);
	snprintf(buf, sizeof(buf), "Name:\t%s\nPid:\t%d\nUid:\t%u\t%u\t%u\t%u\n", comm, pid, uid, uid,
		 uid, uid);
	fake_write(root, path, buf);
	snprintf(path, sizeof(path), "proc/%d/cgroup", pid);
	fake_write(root, path, cgroup);
	fake_proc_stat(root, pid, comm, 1000ULL + (unsigned)pid);
	snprintf(path, sizeof(path), "proc/%d/fd", pid);
	fake_mkdir(root, path);
	for (int i = 0; fd_targets && fd_targets[i]; i++) {
		char target[700];

		/* A /dev path points into the tree, as the kernel's magic link would into the
		 * process's own root. */
		snprintf(target, sizeof(target), "%s%s", strncmp(fd_targets[i], "/dev/", 5) == 0 ?
			 root : "", fd_targets[i]);
		snprintf(path, sizeof(path), "proc/%d/fd/%d", pid, i + 3);
		fake_symlink(root, path, target);
	}
}

void fake_rm_rf(const char *root, const char *rel)
{
	char *p = full(root, rel);

	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(p);
}

void fake_remove_proc(const char *root, int pid)
{
	char rel[64], *p;

	snprintf(rel, sizeof(rel), "proc/%d", pid);
	p = full(root, rel);
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(p);
}

void fake_proc_stat(const char *root, int pid, const char *comm, unsigned long long start)
{
	char path[64], buf[512];

	/* Fields 1-3, then 4-21 (ppid ... itrealvalue), then 22: starttime; a comm with a space
	 * and a ')' as the kernel would print it. */
	snprintf(path, sizeof(path), "proc/%d/stat", pid);
	snprintf(buf, sizeof(buf), "%d (%s) S 1 %d %d 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %llu "
		 "1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n", pid,
		 comm, pid, pid, start);
	fake_write(root, path, buf);
}

void fake_lab_host(const char *root)
{
	static const struct fake_dev devs[] = {
		{ "0000:00:01.0", NULL, 0x1b36, 0x000c, 0x060400, "pcieport", 2, -1, NULL },
		{ "0000:00:02.0", NULL, 0x1af4, 0x1050, 0x030000, "virtio-pci", 1, 1, NULL },
		{ "0000:00:03.0", NULL, 0x8086, 0x10d3, 0x020000, "e1000e", 3, -1, "flr" },
		{ "0000:01:00.0", "0000:00:01.0", 0x1234, 0x1111, 0x038000, "bochs-drm", 2, 0, "bus" },
		{ "0000:01:00.1", "0000:00:01.0", 0x8086, 0x293e, 0x040300, "snd_hda_intel", 2, -1,
		  "flr bus" },
	};

	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		fake_add_dev(root, &devs[i]);
	fake_add_devchild(root, "0000:01:00.0", "drm/card1");
	fake_add_devchild(root, "0000:01:00.0", "drm/renderD129");
	fake_add_devchild(root, "0000:01:00.0", "drm/card1/card1-Virtual-1");
	fake_add_devchild(root, "0000:01:00.0", "drm/card1/card1-Virtual-1/i2c-4");
	fake_add_devchild(root, "0000:01:00.0", "graphics/fb1");
	fake_add_devchild(root, "0000:01:00.1", "sound/card0/controlC0");
	fake_add_devchild(root, "0000:01:00.1", "sound/card0/pcmC0D3p");
	fake_add_devchild(root, "0000:01:00.1", "sound/card0/hwC0D0");
	fake_add_devchild(root, "0000:00:02.0", "drm/card0");
	fake_write(root, "proc/cpuinfo", "vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx sse\n\n");
	fake_write(root, "proc/interrupts", "  0:  10  IR-IO-APIC  2-edge  timer\n");
	fake_write(root, "proc/cmdline", "root=/dev/vda intel_iommu=on iommu=pt\n");
	fake_write(root, "proc/sys/kernel/osrelease", "6.1.0-fake\n");
	fake_mkdir(root, "sys/class/iommu/dmar0");
	fake_mkdir(root, "dev");
	fake_write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
				       "alice:x:1000:1000::/home/alice:/bin/sh\n");
	fake_write(root, "usr/share/misc/pci.ids",
		   "1234  Technical Corp.\n\t1111  Emulated VGA Display Controller\n"
		   "8086  Intel Corporation\n\t293e  82801I (ICH9 Family) HD Audio Controller\n"
		   "C 03  Display controller\n\t00  VGA compatible controller\n"
		   "\t80  Display controller\n"
		   "C 04  Multimedia controller\n\t03  Audio device\n");
}

int run_capture(char *const argv[], char **out, char **err)
{
	char tout[] = "/tmp/vmrun-out-XXXXXX", terr[] = "/tmp/vmrun-err-XXXXXX";
	int fo = mkstemp(tout), fe = mkstemp(terr), status = -1;
	pid_t pid;

	if (fo < 0 || fe < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		dup2(fo, 1);
		dup2(fe, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	for (int i = 0; i < 2; i++) {
		int fd = i ? fe : fo;
		off_t n = lseek(fd, 0, SEEK_END);
		char *s = calloc((size_t)n + 1, 1);

		if (pread(fd, s, (size_t)n, 0) != n)
			abort();
		if (i)
			*err = s;
		else
			*out = s;
		close(fd);
	}
	unlink(tout);
	unlink(terr);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
