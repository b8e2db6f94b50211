/* SPDX-License-Identifier: MIT */
/*
 * The pre-flight's checks of what one profile needs from this host, beyond the GPU: its disks,
 * its network bridge, its ROM files, its memory, its name, QEMU and the locked-memory limit.
 * Each FAIL is something QEMU would otherwise find out only after the GPU left the host.
 * Files are looked up under the sysroot (its root_fd), so tests use fixture trees.
 */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "exitcodes.h"
#include "fileio.h"
#include "log.h"
#include "profile_path.h"
#include "program.h"
#include "swtpm.h"
#include "meminfo.h"
#include "util.h"
#include "vmdir.h"
#include "vmctl.h"
#include "xdg.h"


/* A host path from the profile, relative to the sysroot (always absolute: profiles.h). */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

/* ---- disks ---- */

/*
 * A running QEMU holds OFD locks on bytes 100..299 of each image it opened (file-posix's
 * permission and shared-permission bytes), whichever user runs it. Asking for a write lock
 * over them finds any of them; our own probe takes none.
 */
static bool qemu_holds(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 200 };

	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

static bool is_qcow2(int fd)
{
	unsigned char magic[4];

	return pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	       memcmp(magic, "QFI\xfb", 4) == 0;
}

/* Where the profile names disk i, for every message about it. */
static void disk_where(const struct vm_profile *p, size_t i, char *buf, size_t cap)
{
	char key[48];

	snprintf(key, sizeof(key), "disks[%zu].%s", i, p->disks[i].device ? "device" : "path");
	snprintf(buf, cap, "%s:%u: %s: %s", p->source, profile_line(p, key), key,
		 p->disks[i].device ? p->disks[i].device : p->disks[i].path);
}

/* The device and its partitions (sysfs: each partition is a subdirectory with a "partition"). */
static size_t device_and_parts(const struct sysroot *s, dev_t dev, dev_t *out, size_t cap)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char dir[64];
	struct dirent *e;
	size_t n = 0;

	out[n++] = dev;
	snprintf(dir, sizeof(dir), "dev/block/%u:%u", major(dev), minor(dev));
	if (s->sys_fd < 0 || opendir_at(s->sys_fd, dir, &d) < 0)
		return n;
	while ((e = readdir(d)) && n < cap) {
		char attr[600], val[32];
		unsigned maj, mi;

		if (e->d_name[0] == '.')
			continue;
		snprintf(attr, sizeof(attr), "%s/%s/partition", dir, e->d_name);
		if (faccessat(s->sys_fd, attr, F_OK, 0) < 0)
			continue;
		snprintf(attr, sizeof(attr), "%s/%s/dev", dir, e->d_name);
		if (read_attr_at(s->sys_fd, attr, val, sizeof(val)) >= 0 &&
		    sscanf(val, "%u:%u", &maj, &mi) == 2)
			out[n++] = makedev(maj, mi);
	}
	return n;
}

/* A block device the host has mounted (or a partition of it) must not reach a guest. */
static bool mounted(const struct sysroot *s, dev_t dev, char *where, size_t cap)
{
	_cleanup_free_ char *txt = NULL;
	dev_t devs[64];
	size_t n = device_and_parts(s, dev, devs, ARRAY_SIZE(devs));
	char *save = NULL;

	if (s->proc_fd < 0 || read_file_at(s->proc_fd, "self/mountinfo", 4 << 20, READ_TRUNCATE,
					   &txt, NULL, NULL) < 0)
		return false;
	for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned maj, mi;
		char point[512];

		/* "36 35 98:0 / /mnt rw ...": the device, then (after the root) the mount point */
		if (sscanf(l, "%*u %*u %u:%u %*s %511s", &maj, &mi, point) != 3)
			continue;
		for (size_t i = 0; i < n; i++)
			if (devs[i] == makedev(maj, mi)) {
				snprintf(where, cap, "%s", point);
				return true;
			}
	}
	return false;
}

/* LVM, dm-crypt and md build on a device by holding it: /sys/dev/block/M:m/holders/. */
static bool held_by_kernel(const struct sysroot *s, dev_t dev, char *who, size_t cap)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char dir[80];
	struct dirent *e;

	snprintf(dir, sizeof(dir), "dev/block/%u:%u/holders", major(dev), minor(dev));
	if (s->sys_fd < 0 || opendir_at(s->sys_fd, dir, &d) < 0)
		return false;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(who, cap, "%s", e->d_name);
			return true;
		}
	return false;
}

static void check_disk_file(struct checks *c, const struct sysroot *s, const struct vm_disk *d,
			    int fd, const struct stat *st, const char *where)
{
	bool want_qcow2 = streq(d->format, "qcow2"), qcow2;

	if (!S_ISREG(st->st_mode)) {
		CHECK_FAIL(c, CHECK_DISK, EXIT_NOT_READY, "give an image file here, or a block device as "
		     "device: /dev/...", "%s: not a regular file", where);
		return;
	}
	qcow2 = is_qcow2(fd);
	if (qcow2 && !want_qcow2)
		CHECK_FAIL(c, CHECK_DISK, EXIT_NOT_READY, "set format: qcow2 (as raw, the guest would see the "
		     "qcow2 structure, not the disk)", "%s: is a qcow2 image, the profile says %s",
		     where, d->format);
	else if (!qcow2 && want_qcow2)
		CHECK_FAIL(c, CHECK_DISK, EXIT_NOT_READY, "set format: raw, or convert it (qemu-img convert -O "
		     "qcow2)", "%s: is not a qcow2 image (no QFI\\xfb header)", where);
	else
		CHECK_OK(c, CHECK_DISK, "%s: %s image, %s", where, d->format, d->readonly ? "read-only" :
		   "read-write");
	(void)s;
}

static void check_disk_device(struct checks *c, const struct sysroot *s, const struct stat *st,
			      const char *where)
{
	char point[512];

	if (!S_ISBLK(st->st_mode)) {
		CHECK_FAIL(c, CHECK_DISK, EXIT_NOT_READY, "name a block device (ls -l /dev/disk/by-id/)",
		     "%s: not a block device", where);
		return;
	}
	if (mounted(s, st->st_rdev, point, sizeof(point))) {
		CHECK_FAIL(c, CHECK_DISK, EXIT_NOT_READY, "unmount it first (a guest writing to a disk the "
		     "host has mounted corrupts it)", "%s: is mounted on the host at %s", where, point);
		return;
	}
	if (held_by_kernel(s, st->st_rdev, point, sizeof(point))) {
		CHECK_FAIL(c, CHECK_DISK, EXIT_NOT_READY, "stop using it on the host first (vgchange -an, "
		     "cryptsetup close, mdadm --stop)", "%s: is in use by %s on the host (LVM, "
		     "dm-crypt or RAID)", where, point);
		return;
	}
	CHECK_OK(c, CHECK_DISK, "%s: block device %u:%u", where, major(st->st_rdev), minor(st->st_rdev));
}

static void check_disk(struct checks *c, const struct sysroot *s, uid_t uid,
		       const struct vm_profile *p, size_t i)
{
	const struct vm_disk *d = &p->disks[i];
	const char *path = d->device ? d->device : d->path;
	char where[PATH_MAX + 160], fix[PATH_MAX + 96];
	int fd = -1, mode = d->readonly ? R_OK : R_OK | W_OK;
	struct stat st;

	disk_where(p, i, where, sizeof(where));
	if (fstatat(s->root_fd, rel(path), &st, 0) < 0) {
		snprintf(fix, sizeof(fix), d->device ? "correct the path (ls -l /dev/disk/by-id/)" :
			 "create it (qemu-img create -f %s %s 128G), or correct the path", d->format,
			 path);
		CHECK_FAIL(c, CHECK_DISK, EXIT_NOT_READY, errno == ENOENT ? fix : NULL, "%s: %s", where,
		     errno == ENOENT ? "does not exist" : strerror(errno));
		return;
	}
	/* Opened as QEMU will be, by the same user: readable, and writable unless read-only. */
	if (faccessat(s->root_fd, rel(path), mode, 0) < 0) {
		CHECK_FAIL(c, CHECK_DISK, EXIT_NOT_READY, d->readonly ? "make it readable by you" :
		     "make it writable by you (chown/chmod, or the disk group for a device), or set "
		     "readonly: true", "%s: not %s by you (uid %u): %m", where,
		     d->readonly ? "readable" : "readable and writable", (unsigned)uid);
		return;
	}
	if (d->device) { /* not opened: a block device may spin up, or refuse a second opener */
		check_disk_device(c, s, &st, where);
		return;
	}
	fd = openat(s->root_fd, rel(path), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		CHECK_FAIL(c, CHECK_DISK, EXIT_NOT_READY, NULL, "%s: %m", where);
	else if (qemu_holds(fd))
		CHECK_FAIL(c, CHECK_DISK, EXIT_BUSY, "stop the VM that uses it (vmrun status), or give this "
		     "VM its own disk", "%s: is in use by a running QEMU (it holds QEMU's image lock)",
		     where);
	else
		check_disk_file(c, s, d, fd, &st, where);
	safe_close(fd);
}

/* ---- the network bridge ---- */

/*
 * qemu-bridge-helper's ACL: "allow NAME|all", "deny NAME|all", "include FILE"; a bridge is
 * allowed when some rule allows it and none denies it. Files are read under the sysroot.
 */
static void bridge_acl(const struct sysroot *s, const char *file, const char *br, int depth,
		       bool *allowed, bool *denied, bool *found)
{
	_cleanup_free_ char *txt = NULL;
	char *save = NULL;

	if (depth > 8 || read_file_at(s->root_fd, rel(file), 1 << 20, READ_TRUNCATE | READ_TEXT,
				      &txt, NULL, NULL) < 0)
		return;
	if (depth == 0)
		*found = true;
	for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char cmd[16], arg[PATH_MAX];

		if (sscanf(l, " %15s %4095s", cmd, arg) != 2 || cmd[0] == '#')
			continue;
		if (streq(cmd, "allow") && (streq(arg, "all") || streq(arg, br)))
			*allowed = true;
		else if (streq(cmd, "deny") && (streq(arg, "all") || streq(arg, br)))
			*denied = true;
		else if (streq(cmd, "include"))
			bridge_acl(s, arg, br, depth + 1, allowed, denied, found);
	}
}

static void check_bridge(struct checks *c, const struct sysroot *s, uid_t uid,
			 const struct vm_profile *p)
{
	const char *br = p->network.bridge, *helper = "usr/lib/qemu/qemu-bridge-helper";
	bool allowed = false, denied = false, found = false;
	char path[PATH_MAX], where[512];
	struct stat st;

	if (p->network.type != VM_NET_BRIDGE)
		return;
	snprintf(where, sizeof(where), "%s:%u: network.bridge: %s", p->source,
		 profile_line(p, "network.bridge"), br);
	snprintf(path, sizeof(path), "class/net/%s/bridge", br);
	if (s->sys_fd < 0 || fstatat(s->sys_fd, path, &st, 0) < 0) {
		snprintf(path, sizeof(path), "class/net/%s", br);
		CHECK_FAIL(c, CHECK_BRIDGE, EXIT_NOT_READY, "create it (ip link add NAME type bridge; or in "
		     "NetworkManager / systemd-networkd), or use network: {type: user}", "%s: %s",
		     where, s->sys_fd >= 0 && fstatat(s->sys_fd, path, &st, 0) == 0 ?
		     "is a network interface but not a bridge" : "no such bridge on this host");
		return;
	}
	bridge_acl(s, "/etc/qemu/bridge.conf", br, 0, &allowed, &denied, &found);
	if (!found || !allowed || denied) {
		CHECK_FAIL(c, CHECK_BRIDGE, EXIT_NOT_READY, "add the line \"allow BRIDGE\" to /etc/qemu/bridge.conf",
		     "%s: QEMU's bridge helper would refuse it (%s)", where, !found ?
		     "/etc/qemu/bridge.conf does not exist" : denied ? "denied in /etc/qemu/bridge.conf" :
		     "not allowed in /etc/qemu/bridge.conf");
		return;
	}
	/* A user's QEMU needs the helper to be setuid root to add a tap to the bridge. */
	if (uid != 0 && (fstatat(s->root_fd, helper, &st, 0) < 0 || !(st.st_mode & S_ISUID) ||
			      st.st_uid != 0)) {
		CHECK_FAIL(c, CHECK_BRIDGE, EXIT_NOT_READY, "sudo chmod u+s /usr/lib/qemu/qemu-bridge-helper "
		     "(Debian ships it without the setuid bit)", "%s: /usr/lib/qemu/qemu-bridge-helper "
		     "is %s, so it cannot attach your VM to the bridge", where,
		     fstatat(s->root_fd, helper, &st, 0) < 0 ? "missing" : "not setuid root");
		return;
	}
	CHECK_OK(c, CHECK_BRIDGE, "%s: a bridge, allowed in /etc/qemu/bridge.conf", where);
}

/* ---- ROM files ---- */

static void check_rom(struct checks *c, const struct sysroot *s, const struct vm_profile *p,
		      size_t i)
{
	char key[32], where[PATH_MAX + 128];
	unsigned char sig[2];
	struct stat st;
	int fd;

	snprintf(key, sizeof(key), "pci[%zu].rom", i);
	snprintf(where, sizeof(where), "%s:%u: %s: %s", p->source, profile_line(p, key), key,
		 p->pci[i].rom);
	fd = openat(s->root_fd, rel(p->pci[i].rom), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		CHECK_FAIL(c, CHECK_ROM, EXIT_NOT_READY, "correct the path, or leave rom: out to use the card's "
		     "own", "%s: %m", where);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20))
		CHECK_FAIL(c, CHECK_ROM, EXIT_NOT_READY, NULL, "%s: not a ROM image (a regular file of at most "
		     "16 MiB)", where);
	else if (pread(fd, sig, 2, 0) != 2 || sig[0] != 0x55 || sig[1] != 0xaa)
		CHECK_FAIL(c, CHECK_ROM, EXIT_NOT_READY, "a dump with a header (nvflash, GPU-Z) must be cut to "
		     "start at the bytes 55 AA", "%s: does not start with the PCI option ROM "
		     "signature 55 AA", where);
	else
		CHECK_OK(c, CHECK_ROM, "%s: %lld KiB option ROM", where, (long long)st.st_size / 1024);
	safe_close(fd);
}

/* ---- memory ---- */

static uint64_t host_memory(const struct sysroot *s)
{
	struct meminfo m;

	return meminfo_read(s, &m) == 0 ? m.total : 0;
}

static void check_memory(struct checks *c, const struct sysroot *s, const struct vm_profile *p)
{
	uint64_t host = host_memory(s);
	char where[300];

	snprintf(where, sizeof(where), "%s:%u: memory", p->source, profile_line(p, "memory"));
	if (!host) {
		CHECK_WARN(c, CHECK_MEMORY, NULL, "%s: cannot read this host's memory (/proc/meminfo)", where);
		return;
	}
	if (p->memory > host)
		CHECK_FAIL(c, CHECK_MEMORY, EXIT_NOT_READY, "give the VM less (the host needs some too)",
		     "%s: %.1f GiB is more than this host has (%.1f GiB)", where,
		     (double)p->memory / (1 << 30), (double)host / (1 << 30));
	else if (host - p->memory < (2ULL << 30))
		CHECK_WARN(c, CHECK_MEMORY, "give the VM less, or expect the host to swap",
		     "%s: %.1f GiB leaves the host %.1f GiB of its %.1f GiB", where,
		     (double)p->memory / (1 << 30), (double)(host - p->memory) / (1 << 30),
		     (double)host / (1 << 30));
	else
		CHECK_OK(c, CHECK_MEMORY, "memory: %.1f GiB of the host's %.1f GiB",
		   (double)p->memory / (1 << 30), (double)host / (1 << 30));
}

/* ---- the VM's name ---- */

/* One vmrun per VM name: a running one holds the instance lock in its runtime directory. */
static void check_instance(struct checks *c, const struct plan *pl)
{
	struct vmdir_info vi = { 0 };
	int fd;

	if (vmdir_open(pl->runtime_dir, false, &fd, NULL) < 0)
		return; /* never ran, or not ours: the run will say so when it creates it */
	if (vmdir_is_running(fd)) {
		(void)vmdir_info_read(fd, &vi);
		CHECK_FAIL(c, CHECK_INSTANCE, EXIT_BUSY, "stop it (vmrun stop NAME), or give this profile "
		     "another name:", "VM '%s' is already running from %s (vmrun pid %d)",
		     pl->p->name, vi.profile[0] ? vi.profile : "another profile", (int)vi.pid);
	}
	safe_close(fd);
}

/* Two profiles with one name share a runtime and a state directory (the NVRAM). */
static void check_name_clash(struct checks *c, const struct plan *pl)
{
	_cleanup_free_ char *dir = NULL, *self = realpath(pl->p->source, NULL), *vmdir = NULL;
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *e;

	if (xdg_dir(XDG_CONFIG, pl->uid, &dir) < 0 || asprintf(&vmdir, "%s/vmrun", dir) < 0)
		return;
	d = opendir(vmdir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		_cleanup_free_ char *path = NULL, *real = NULL;
		struct vm_profile *other = NULL;
		struct profile_error err;
		size_t n = strlen(e->d_name);

		if (n < 6 || !streq(e->d_name + n - 5, ".yaml") ||
		    asprintf(&path, "%s/vmrun/%s", dir, e->d_name) < 0)
			continue;
		real = realpath(path, NULL);
		if (self && real && streq(self, real))
			continue;
		if (profile_load(path, &other, &err) == 0 && streq(other->name, pl->p->name))
			CHECK_WARN(c, CHECK_NAME, "give one of them another name: (they would share the NVRAM "
			     "and could not run together)", "%s:%u: name: '%s' is also the name of %s",
			     pl->p->source, profile_line(pl->p, "name"), pl->p->name, path);
		profile_free(other);
	}
}

/* ---- the TPM and the installation ---- */

static void check_tpm(struct checks *c, const struct plan *pl)
{
	char path[PATH_MAX + 16];
	struct stat st;

	if (!pl->p->tpm)
		return;
	if (!swtpm_available()) {
		CHECK_FAIL(c, CHECK_TPM, EXIT_NOT_READY, "apt install swtpm swtpm-tools", "%s:%u: tpm: swtpm is "
		     "not installed", pl->p->source, profile_line(pl->p, "tpm"));
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", pl->state_dir, SWTPM_STATE_DIR);
	if (lstat(path, &st) < 0) {
		CHECK_OK(c, CHECK_TPM, "TPM 2.0: swtpm; its state will be created in %s", path);
		return;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022))
		CHECK_FAIL(c, CHECK_TPM, EXIT_NOT_READY, "it must be a directory of yours that only you can "
		     "write (chmod 700)", "TPM state %s: %s", path, !S_ISDIR(st.st_mode) ?
		     "is not a directory" : st.st_uid != getuid() ? "belongs to another user" :
		     "is writable by others");
	else
		CHECK_OK(c, CHECK_TPM, "TPM 2.0: swtpm; its state is kept in %s", path);
}

static bool is_iso9660(int fd)
{
	char id[5];

	/* The primary volume descriptor: sector 16, "CD001" after its type byte. */
	return pread(fd, id, sizeof(id), 16 * 2048 + 1) == (ssize_t)sizeof(id) &&
	       memcmp(id, "CD001", 5) == 0;
}

static void check_install_media(struct checks *c, const struct sysroot *s, const struct plan *pl)
{
	const struct vm_profile *p = pl->p;
	enum verdict missing = pl->opts.install ? VERDICT_FAIL : VERDICT_WARN;

	for (size_t i = 0; i < p->install.n_media; i++) {
		char key[40], where[PATH_MAX + 128];
		int fd;

		snprintf(key, sizeof(key), "install.media[%zu]", i);
		snprintf(where, sizeof(where), "%s:%u: %s: %s", p->source, profile_line(p, key), key,
			 p->install.media[i]);
		fd = openat(s->root_fd, rel(p->install.media[i]), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			checks_add(c, CHECK_INSTALL, missing, EXIT_NOT_READY, "correct the path, or download "
				   "the ISO there", "%s: %m%s", where, pl->opts.install ? "" :
				   " (vmrun install needs it)");
		else if (!is_iso9660(fd))
			CHECK_WARN(c, CHECK_INSTALL, NULL, "%s: not an ISO 9660 image (attached as a CD-ROM anyway)",
			     where);
		else
			CHECK_OK(c, CHECK_INSTALL, "%s: ISO 9660 image, a CD-ROM%s", where, i ? "" :
			   " (booted by vmrun install)");
		safe_close(fd);
	}
	if (pl->opts.install && pl->install.display == VM_INSTALL_GTK && !getenv("DISPLAY") &&
	    !getenv("WAYLAND_DISPLAY"))
		CHECK_FAIL(c, CHECK_INSTALL, EXIT_NOT_READY, "run it in a desktop session, or set install.display: "
		     "vnc", "%s:%u: install.display: gtk needs a desktop session (no DISPLAY or "
		     "WAYLAND_DISPLAY)", p->source, profile_line(p, "install.display"));
}

/* virtio-win's ISO: by its name, or by its volume label ("virtio-win-0.1.262"). */
static bool is_virtio_win(const struct sysroot *s, const char *path)
{
	const char *base = strrchr(path, '/');
	char label[33] = "";
	int fd;

	if (strcasestr(base ? base + 1 : path, "virtio"))
		return true;
	fd = openat(s->root_fd, rel(path), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	if (is_iso9660(fd) && pread(fd, label, 32, 16 * 2048 + 40) != 32)
		label[0] = '\0';
	safe_close(fd);
	return strcasestr(label, "virtio") != NULL;
}

/* Windows has no driver for virtio disks: without virtio-win its installer sees no disk. */
static void check_windows_drivers(struct checks *c, const struct sysroot *s,
				  const struct vm_profile *p)
{
	bool virtio = false, drivers = false;

	if (p->os != VM_OS_WINDOWS)
		return;
	for (size_t i = 0; i < p->n_disks; i++)
		virtio |= p->disks[i].media == VM_MEDIA_DISK && p->disks[i].interface == VM_DISK_VIRTIO;
	for (size_t i = 0; i < p->install.n_media; i++)
		drivers |= is_virtio_win(s, p->install.media[i]);
	if (virtio && !drivers)
		CHECK_WARN(c, CHECK_DRIVERS, "add the virtio-win ISO (Fedora's virtio-win project: "
		     "https://fedorapeople.org/groups/virt/virtio-win/direct-downloads/stable-virtio/"
		     "virtio-win.iso) to install.media, or use interface: nvme or sata",
		     "%s: Windows has no driver for virtio disks, and install.media has no "
		     "virtio-win ISO: its installer will find no disk", p->source);
}

/* ---- QEMU and its limits ---- */

static void check_qemu(struct checks *c, const struct plan *pl)
{
	const struct vm_profile *p = pl->p;
	const char *qemu = pl->argv ? pl->argv[0] : "qemu-system-x86_64";

	for (size_t i = 0; i < p->n_extra_args; i++)
		if (streq(p->extra_args[i], "-daemonize") || streq(p->extra_args[i], "--daemonize"))
			CHECK_FAIL(c, CHECK_EXTRA_ARGS, EXIT_USAGE, "remove it from extra_args",
			     "%s: extra_args: -daemonize would let QEMU escape vmrun's supervision",
			     p->source);
	if (program_find(qemu, NULL, 0))
		CHECK_OK(c, CHECK_QEMU, "QEMU: %s", qemu);
	else
		CHECK_FAIL(c, CHECK_QEMU, EXIT_NOT_READY, "apt install qemu-system-x86",
		     "QEMU: %s not found on PATH", qemu);
}

static void check_memlock(struct checks *c, uid_t uid, const struct plan *pl, bool helper)
{
	/* VFIO pins all guest RAM; libvirt adds 1 GiB for QEMU's own pinned pages. */
	unsigned long long need = pl->p->memory + (1ULL << 30);
	struct rlimit rl;

	if (!pl->p->n_pci)
		return;
	if (uid == 0) {
		CHECK_OK(c, CHECK_MEMLOCK, "locked memory: running as root (CAP_IPC_LOCK), no limit applies");
		return;
	}
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)) {
		CHECK_OK(c, CHECK_MEMLOCK, "locked memory: the limit covers %llu KiB", need >> 10);
		return;
	}
	if (helper) {
		CHECK_OK(c, CHECK_MEMLOCK, "locked memory: vmrun-helper raises the limit to %llu KiB for the run",
		   need >> 10);
		return;
	}
	CHECK_FAIL(c, CHECK_MEMLOCK, EXIT_NOT_READY, "install vmrun-helper (make install), or raise "
	     "RLIMIT_MEMLOCK (/etc/security/limits.d/, LimitMEMLOCK= in a unit)",
	     "locked memory: limit %llu KiB < %llu KiB needed to pin %s's RAM",
	     (unsigned long long)rl.rlim_cur >> 10, need >> 10, pl->p->name);
}

void preflight_profile(const struct sysroot *s, uid_t uid, const struct plan *pl, bool helper,
		       struct checks *c)
{
	const struct vm_profile *p = pl->p;

	check_instance(c, pl);
	check_name_clash(c, pl);
	check_qemu(c, pl);
	check_memory(c, s, p);
	for (size_t i = 0; i < p->n_disks; i++)
		check_disk(c, s, uid, p, i);
	check_bridge(c, s, uid, p);
	check_tpm(c, pl);
	check_install_media(c, s, pl);
	check_windows_drivers(c, s, p);
	for (size_t i = 0; i < p->n_pci; i++)
		if (p->pci[i].rom)
			check_rom(c, s, p, i);
	check_memlock(c, uid, pl, helper);
}
