/* SPDX-License-Identifier: MIT */
/*
 * The pre-flight's checks of what using the host and the VM at once needs: the input devices
 * (and the user's access to them), Looking Glass's shared memory, the sound server, the CPUs
 * cpu.pin names (and a layout when they are not good ones), hugepages, CPU isolation.
 */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "allow.h"
#include "devacl.h"
#include "cpulist.h"
#include "exitcodes.h"
#include "fileio.h"
#include "hugepages.h"
#include "program.h"
#include "util.h"


/* ---- input ---- */

/* The allow file lists this event device for the user (the helper will decide; this says). */
static bool allow_lists_input(const struct sysroot *s, const char *path, dev_t want)
{
	struct allow_list l = { 0 };
	char err[256], rel[128];
	bool found = false;
	dev_t listed;
	int dir = s->etc_fd < 0 ? -1 : openat(s->etc_fd, "vmrun", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir < 0 || allow_load(dir, "allow.yaml", &l, err, sizeof(err)) < 0) {
		safe_close(dir);
		return false;
	}
	for (size_t i = 0; i < l.n && !found; i++)
		found = l.v[i].input && devacl_input_node(s, l.v[i].input, rel, sizeof(rel), &listed) == 0 &&
			listed == want;
	allow_list_clear(&l);
	safe_close(dir);
	(void)path;
	return found;
}

static void check_input_dev(struct checks *c, const struct sysroot *s, uid_t uid, bool helper,
			    const struct vm_profile *p, const char *key, const char *path)
{
	char where[PATH_MAX + 128], rel[128], fix[PATH_MAX + 160];
	dev_t rdev;
	int r;

	snprintf(where, sizeof(where), "%s:%u: %s: %s", p->source, profile_line(p, key), key, path);
	r = devacl_input_node(s, path, rel, sizeof(rel), &rdev);
	if (r < 0) {
		CHECK_FAIL(c, CHECK_INPUT, EXIT_NOT_READY, "name one of ls -l /dev/input/by-id (the -event- "
		     "links)", "%s: %s", where, r == -ENOENT ? "no such device (plugged in?)" :
		     "not an input event device");
		return;
	}
	if (!strstr(path, "/by-id/") && !strstr(path, "/by-path/"))
		CHECK_WARN(c, CHECK_INPUT, "use its /dev/input/by-id link: eventN numbers change on replug and "
		     "reboot", "%s: is /dev/%s by number", where, rel);
	if (uid == 0 || faccessat(s->dev_fd, rel, R_OK | W_OK, 0) == 0) {
		CHECK_OK(c, CHECK_INPUT, "%s: /dev/%s, yours to open", where, rel);
		return;
	}
	if (helper && allow_lists_input(s, path, rdev)) {
		CHECK_OK(c, CHECK_INPUT, "%s: /dev/%s: vmrun-helper gives you access for the run", where, rel);
		return;
	}
	snprintf(fix, sizeof(fix), "ask the administrator to add - {input: %s, users: [you]} to "
		 "/etc/vmrun/allow.yaml (vmrun-helper then gives you this device for your runs only)",
		 path);
	CHECK_FAIL(c, CHECK_INPUT, EXIT_NOT_READY, fix, "%s: /dev/%s is not yours to open (uid %u)", where, rel,
	     (unsigned)uid);
}

static void check_input(struct checks *c, const struct sysroot *s, uid_t uid, bool helper,
			const struct vm_profile *p)
{
	if (p->input.keyboard)
		check_input_dev(c, s, uid, helper, p, "input.keyboard", p->input.keyboard);
	if (p->input.mouse)
		check_input_dev(c, s, uid, helper, p, "input.mouse", p->input.mouse);
}

/* ---- Looking Glass, sound ---- */

static void check_looking_glass(struct checks *c, const struct plan *pl)
{
	const struct vm_profile *p = pl->p;
	struct statvfs vfs;
	struct stat st;
	unsigned long long free_bytes;

	if (!p->looking_glass.on)
		return;
	if (pl->lg_kvmfr) {
		CHECK_OK(c, CHECK_LOOKING_GLASS, "Looking Glass: /dev/kvmfr0 (the kvmfr module), %llu MiB",
		   (unsigned long long)(p->looking_glass.size >> 20));
		return;
	}
	if (lstat(pl->looking_glass, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_uid != getuid())) {
		CHECK_FAIL(c, CHECK_LOOKING_GLASS, EXIT_NOT_READY, "remove it (a client or another VM of "
		     "someone else's may use it)", "Looking Glass: %s exists and is not a file of "
		     "yours", pl->looking_glass);
		return;
	}
	if (statvfs("/dev/shm", &vfs) < 0) {
		CHECK_FAIL(c, CHECK_LOOKING_GLASS, EXIT_NOT_READY, "mount a tmpfs on /dev/shm", "Looking Glass: "
		     "/dev/shm: %m");
		return;
	}
	free_bytes = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	if (free_bytes < p->looking_glass.size)
		CHECK_FAIL(c, CHECK_LOOKING_GLASS, EXIT_NOT_READY, "free some /dev/shm, or give a smaller "
		     "resolution", "Looking Glass: %llu MiB needed in /dev/shm, %llu MiB free",
		     (unsigned long long)(p->looking_glass.size >> 20), free_bytes >> 20);
	else
		CHECK_OK(c, CHECK_LOOKING_GLASS, "Looking Glass: %s, %llu MiB (client: looking-glass-client -f %s)",
		   pl->looking_glass, (unsigned long long)(p->looking_glass.size >> 20),
		   pl->looking_glass);
}

static void check_audio(struct checks *c, const struct plan *pl)
{
	const struct vm_profile *p = pl->p;

	if (!p->audio)
		return;
	/* Debian builds QEMU's PulseAudio driver as a module, in qemu-system-gui. */
	/* QEMU's module directory as Debian installs it (multiarch), or as QEMU's own build does:
	 * under the sysroot, like everything the pre-flight reads. */
	if (faccessat(pl->s->root_fd, "usr/lib/x86_64-linux-gnu/qemu/audio-pa.so", F_OK, 0) < 0 &&
	    faccessat(pl->s->root_fd, "usr/lib/qemu/audio-pa.so", F_OK, 0) < 0)
		CHECK_FAIL(c, CHECK_AUDIO, EXIT_NOT_READY, "apt install qemu-system-gui", "%s:%u: audio: QEMU's "
		     "PulseAudio driver (audio-pa) is not installed", p->source, profile_line(p, "audio"));
	else if (pl->pulse_err[0])
		CHECK_FAIL(c, CHECK_AUDIO, EXIT_NOT_READY, "run vmrun in the desktop session whose sound it "
		     "should use (PipeWire's pipewire-pulse or PulseAudio), or set PULSE_SERVER",
		     "%s:%u: audio: %s", p->source, profile_line(p, "audio"), pl->pulse_err);
	else
		CHECK_OK(c, CHECK_AUDIO, "sound: the guest's HDA %s to %s", p->audio_input ? "output and input" :
		   "output", pl->pulse_server);
}

/* ---- CPUs ---- */

static bool cpu_in(unsigned cpu, const unsigned *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == cpu)
			return true;
	return false;
}

/* CPU cpu's SMT siblings (itself included). */
static void siblings(const struct sysroot *s, unsigned cpu, struct cpuset *set)
{
	char path[96], buf[256];

	memset(set, 0, sizeof(*set));
	snprintf(path, sizeof(path), "devices/system/cpu/cpu%u/topology/thread_siblings_list", cpu);
	if (read_attr_at(s->sys_fd, path, buf, sizeof(buf)) >= 0)
		(void)cpulist_parse(buf, set);
}

/* A layout for n vCPUs: whole cores from the last down, core 0 left to the host. */
static void suggest(const struct sysroot *s, const struct cpuset *online, unsigned n, char *buf,
		    size_t cap)
{
	struct cpuset used, sib;
	unsigned picked[VM_CPU_LIST_MAX], k = 0;
	size_t o = 0;

	siblings(s, 0, &used); /* core 0 is the host's */
	for (unsigned cpu = CPULIST_MAX; cpu-- > 0 && k < n;) {
		if (!cpuset_has(online, cpu) || cpuset_has(&used, cpu))
			continue;
		siblings(s, cpu, &sib);
		for (unsigned i = 0; i < CPULIST_MAX && k < n; i++)
			if (cpuset_has(&sib, i) && cpuset_has(online, i) && !cpuset_has(&used, i)) {
				picked[k++] = i;
				cpuset_add(&used, i);
			}
	}
	buf[0] = '\0';
	if (k < n)
		return;
	o += (size_t)snprintf(buf, cap, "cpu.pin: [");
	for (unsigned i = 0; i < n && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%u", i ? ", " : "", picked[i]);
	if (o < cap)
		snprintf(buf + o, cap - o, "], cpu.emulator: [0]");
}

static void check_pinning(struct checks *c, const struct sysroot *s, uid_t uid,
			  const struct vm_profile *p)
{
	const struct vm_cpu *cpu = &p->cpu;
	struct cpuset online = { 0 }, sib;
	char buf[4096], where[300], layout[600];
	bool good = true;

	if (!cpu->n_pin)
		return;
	snprintf(where, sizeof(where), "%s:%u: cpu.pin", p->source, profile_line(p, "cpu.pin"));
	if (read_attr_at(s->sys_fd, "devices/system/cpu/online", buf, sizeof(buf)) < 0) {
		CHECK_WARN(c, CHECK_CPU_PIN, NULL, "%s: cannot read the host's online CPUs", where);
		return;
	}
	(void)cpulist_parse(buf, &online);
	suggest(s, &online, (unsigned)cpu->n_pin, layout, sizeof(layout));
	for (size_t i = 0; i < cpu->n_pin; i++)
		if (!cpuset_has(&online, cpu->pin[i])) {
			CHECK_FAIL(c, CHECK_CPU_PIN, EXIT_NOT_READY, layout[0] ? layout : NULL, "%s: CPU %u is not "
			     "online on this host (online: %s)", where, cpu->pin[i], buf);
			return;
		}
	for (size_t i = 0; i < cpu->n_emulator; i++)
		if (!cpuset_has(&online, cpu->emulator[i])) {
			CHECK_FAIL(c, CHECK_CPU_PIN, EXIT_NOT_READY, NULL, "%s:%u: cpu.emulator: CPU %u is not "
			     "online (online: %s)", p->source, profile_line(p, "cpu.emulator"),
			     cpu->emulator[i], buf);
			return;
		}
	for (size_t i = 0; i < cpu->n_pin && good; i++) {
		siblings(s, cpu->pin[i], &sib);
		for (unsigned k = 0; k < CPULIST_MAX && good; k++)
			if (cpuset_has(&sib, k) && cpuset_has(&online, k) && !cpu_in(k, cpu->pin, cpu->n_pin)) {
				CHECK_WARN(c, CHECK_CPU_PIN, layout[0] ? layout : NULL, "%s: CPU %u's SMT sibling %u "
				     "is not the guest's: the host shares that core", where, cpu->pin[i], k);
				good = false;
			}
	}
	if (cpu_in(0, cpu->pin, cpu->n_pin)) {
		CHECK_WARN(c, CHECK_CPU_PIN, layout[0] ? layout : NULL, "%s: CPU 0 is best left to the host (its "
		     "interrupts and housekeeping)", where);
		good = false;
	}
	if (good)
		CHECK_OK(c, CHECK_CPU_PIN, "vCPUs pinned to whole cores the host keeps its hands off%s",
		   cpu->isolate ? " (isolated while it runs)" : "");
	if (cpu->isolate && uid != 0)
		CHECK_FAIL(c, CHECK_CPU_ISOLATE, EXIT_NOT_READY, "run it as root (or leave cpu.isolate out: the "
		     "pinning alone works for you)", "%s:%u: cpu.isolate: changes the host's systemd "
		     "slices, which only root may", p->source, profile_line(p, "cpu.isolate"));
	else if (cpu->isolate && (s->run_fd < 0 || faccessat(s->run_fd, "systemd/system", F_OK, 0) < 0 ||
				  !program_find("systemctl", NULL, 0)))
		CHECK_FAIL(c, CHECK_CPU_ISOLATE, EXIT_NOT_READY, "boot with systemd, or leave cpu.isolate out",
		     "%s:%u: cpu.isolate: needs systemd as PID 1 (its slices' AllowedCPUs)", p->source,
		     profile_line(p, "cpu.isolate"));
}

/* ---- hugepages ---- */

static void check_hugepages(struct checks *c, const struct sysroot *s, const struct vm_profile *p)
{
	uint64_t page = vm_hugepage_bytes(p->hugepages);
	unsigned long need;
	struct hugepage_pool pool;
	char where[300];

	if (!page)
		return;
	need = (unsigned long)(p->memory / page);
	snprintf(where, sizeof(where), "%s:%u: hugepages: %s", p->source,
		 profile_line(p, "hugepages"), vm_hugepages_name(p->hugepages));
	if (hugepages_read(s, page, &pool) < 0) {
		CHECK_FAIL(c, CHECK_HUGEPAGES, EXIT_NOT_READY, page == (1ULL << 30) ? "1G pages need a CPU with "
		     "pdpe1gb and hugepagesz=1G on the kernel command line" : NULL,
		     "%s: this kernel has no %s hugepage pool", where, vm_hugepages_name(p->hugepages));
		return;
	}
	if (pool.free >= need)
		CHECK_OK(c, CHECK_HUGEPAGES, "%s: %lu free of %lu needed", where, pool.free, need);
	else if (page == (1ULL << 30))
		CHECK_WARN(c, CHECK_HUGEPAGES, "reserve them at boot: hugepagesz=1G hugepages=N on the kernel "
		     "command line", "%s: %lu free of %lu needed: vmrun will try to make the rest, "
		     "which for 1G pages rarely works after boot", where, pool.free, need);
	else
		CHECK_OK(c, CHECK_HUGEPAGES, "%s: %lu free of %lu needed: vmrun makes the rest for the run "
		   "(compacting memory first) and gives them back after", where, pool.free, need);
}

void preflight_share(const struct sysroot *s, uid_t uid, const struct plan *pl, bool helper,
		     struct checks *c)
{
	check_input(c, s, uid, helper, pl->p);
	check_looking_glass(c, pl);
	check_audio(c, pl);
	check_pinning(c, s, uid, pl->p);
	check_hugepages(c, s, pl->p);
}
