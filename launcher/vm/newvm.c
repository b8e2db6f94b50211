/* SPDX-License-Identifier: MIT */
#include "newvm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcodes.h"
#include "fileio.h"
#include "gpu.h"
#include "names.h"
#include "paths.h"
#include "profile.h"
#include "program.h"
#include "text.h"
#include "cpulist.h"
#include "meminfo.h"
#include "spawn.h"
#include "util.h"

#define GIB (1ULL << 30)

static const char *const os_names[] = { [NEW_WINDOWS11] = "windows11",
					[NEW_WINDOWS10] = "windows10", [NEW_LINUX] = "linux" };

const char *new_os_name(enum new_os os)
{
	return (unsigned)os < ARRAY_SIZE(os_names) ? os_names[os] : "?";
}

int new_os_parse(const char *s, enum new_os *ret)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(os_names); i++)
		if (streq(s, os_names[i])) {
			*ret = (enum new_os)i;
			return 0;
		}
	return -EINVAL;
}

_printf_(2, 3) static void note(struct new_vm *vm, const char *fmt, ...)
{
	va_list ap;

	if (vm->n_notes >= ARRAY_SIZE(vm->notes))
		return;
	va_start(ap, fmt);
	vsnprintf(vm->notes[vm->n_notes++], sizeof(vm->notes[0]), fmt, ap);
	va_end(ap);
}

_printf_(4, 5) static int refuse(char *why, size_t cap, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return code;
}

/* ---- the GPU ---- */

static void describe(const struct pci_function *f, char *buf, size_t cap)
{
	text_format(buf, cap, "%s %s%s%s [%04x:%04x]", f->name, f->vendor_name,
		    f->vendor_name[0] ? " " : "", f->device_name[0] ? f->device_name : "display device",
		    f->vendor, f->device);
}

/* --gpu ADDRESS: that device, which must be a GPU. */
static int named_gpu(const struct new_request *rq, const struct pci_function *all, size_t n,
		     const struct pci_function **ret, char *why, size_t cap)
{
	struct pci_addr a;

	if (pci_addr_parse(rq->gpu, &a) < 0)
		return refuse(why, cap, EXIT_USAGE, "--gpu %s: expected a PCI address like "
			      "0000:01:00.0, or none", rq->gpu);
	for (size_t i = 0; i < n && !*ret; i++)
		if (pci_addr_eq(&all[i].addr, &a))
			*ret = &all[i];
	if (!*ret)
		return refuse(why, cap, EXIT_USAGE, "--gpu %s: no such PCI device on this host "
			      "(see `vmrun gpus`)", rq->gpu);
	if (!pci_is_display(*ret))
		return refuse(why, cap, EXIT_USAGE, "--gpu %s: not a display device (class %06x): "
			      "give a GPU; its audio comes along", rq->gpu, (*ret)->class_code);
	return 0;
}

/* Without --gpu: the one GPU that is not the host's display; refused when there are several. */
static int only_gpu(const struct sysroot *s, const struct pci_function *all, size_t n,
		    const struct pci_function **ret, char *why, size_t cap)
{
	const struct pci_function *host = gpu_host_display(s, all, n);
	size_t candidates = 0, o = 0, displays = 0;
	char list[512] = "", one[160];

	for (size_t k = 0; k < n; k++)
		displays += pci_is_display(&all[k]);
	for (size_t i = 0; i < n; i++) {
		/* Not knowing the host's display, a lone GPU is the host's own. */
		if (!pci_is_display(&all[i]) || &all[i] == host || (!host && displays == 1))
			continue;
		candidates++;
		*ret = &all[i];
		describe(&all[i], one, sizeof(one));
		o += (size_t)snprintf(list + o, o < sizeof(list) ? sizeof(list) - o : 0, "%s%s",
				      o ? "; " : "", one);
	}
	if (candidates > 1)
		return refuse(why, cap, EXIT_USAGE, "%s GPUs could go to the VM (%s): choose one with "
			      "--gpu ADDRESS, or --gpu none", host ? "several" :
			      "cannot tell the host's display, and", list);
	return 0;
}

static int choose_gpu(const struct sysroot *s, const struct new_request *rq, struct new_vm *vm,
		      char *why, size_t cap)
{
	_cleanup_(pci_names_freep) struct pci_names *names = NULL;
	_cleanup_free_ struct pci_function *all = NULL;
	const struct pci_function *pick = NULL;
	size_t n = 0;
	int code;

	if (rq->gpu && streq(rq->gpu, "none"))
		return 0;
	(void)pci_names_open(s, &names);
	if (pci_function_list(s, &all, &n, NULL) < 0)
		n = 0;
	for (size_t i = 0; i < n; i++)
		pci_names_fill(names, &all[i]);
	code = rq->gpu ? named_gpu(rq, all, n, &pick, why, cap) : only_gpu(s, all, n, &pick, why, cap);
	if (code)
		return code;
	if (!pick) {
		note(vm, "no GPU besides the host's display: the profile has no pci: entry "
			 "(add one later, see `vmrun gpus`)");
		return 0;
	}
	vm->have_gpu = true;
	vm->gpu = pick->addr;
	describe(pick, vm->gpu_desc, sizeof(vm->gpu_desc));
	return 0;
}

/* ---- memory and CPUs ---- */

static uint64_t host_memory(const struct sysroot *s)
{
	struct meminfo m;

	return meminfo_read(s, &m) == 0 ? m.total : 0;
}

static void host_cpus(const struct sysroot *s, unsigned *cpus, unsigned *smt)
{
	char buf[256];

	*cpus = 0;
	*smt = 1;
	if (s->sys_fd >= 0 && read_attr_at(s->sys_fd, "devices/system/cpu/online", buf, sizeof(buf)) >= 0)
		*cpus = cpulist_parse(buf, &(struct cpuset){ 0 });
	if (s->sys_fd >= 0 && read_attr_at(s->sys_fd, "devices/system/cpu/cpu0/topology/"
				       "thread_siblings_list", buf, sizeof(buf)) >= 0 &&
	    cpulist_parse(buf, &(struct cpuset){ 0 }) >= 2)
		*smt = 2;
	if (!*cpus) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		*cpus = n > 0 ? (unsigned)n : 1;
	}
}

static int choose_size(const struct sysroot *s, const struct new_request *rq, struct new_vm *vm,
		       char *why, size_t cap)
{
	uint64_t min = vm->os == NEW_WINDOWS11 ? 4 * GIB : 2 * GIB, want;
	unsigned cores, smt;

	vm->host_memory = host_memory(s);
	if (rq->memory) {
		if (val_memory_size(rq->memory, &vm->memory) < 0 || vm->memory < (16ULL << 20))
			return refuse(why, cap, EXIT_USAGE, "--memory %s: expected a size like 8G or "
				      "512M, at least 16M", rq->memory);
	} else {
		/* Half the host's, whole GiB, at most 16G: the host keeps the rest. */
		want = vm->host_memory / 2 / GIB * GIB;
		vm->memory = want > 16 * GIB ? 16 * GIB : want < min ? min : want;
		if (vm->host_memory && vm->memory + 2 * GIB > vm->host_memory)
			note(vm, "this host has only %.1f GiB: %llu GiB leaves it little",
			     (double)vm->host_memory / GIB, (unsigned long long)(vm->memory / GIB));
	}
	host_cpus(s, &vm->host_cpus, &smt);
	vm->threads = smt;
	/* Leave the host a core (two on larger hosts); at most 8 cores for the guest. */
	cores = vm->host_cpus / smt;
	cores = cores > 4 ? cores - 2 : cores > 1 ? cores - 1 : 1;
	vm->cores = rq->cores ? rq->cores : cores > 8 ? 8 : cores;
	if (!rq->cores && vm->os == NEW_WINDOWS11 && vm->cores * vm->threads < 2) {
		vm->cores = 2; /* Windows 11's setup refuses fewer than two */
		note(vm, "Windows 11 needs 2 CPUs: the guest gets 2 of this host's %u", vm->host_cpus);
	}
	if (rq->cores && (rq->cores > 256 || rq->cores * smt > 1024))
		return refuse(why, cap, EXIT_USAGE, "--cores %u: at most 256", rq->cores);
	return 0;
}

static void choose_accel(const struct sysroot *s, const struct new_request *rq, struct new_vm *vm)
{
	bool usable = s->dev_fd >= 0 && faccessat(s->dev_fd, "kvm", R_OK | W_OK, 0) == 0;

	vm->kvm = rq->accel ? streq(rq->accel, "kvm") : usable;
	if (!rq->accel && !usable)
		snprintf(vm->accel_note, sizeof(vm->accel_note), "no usable /dev/kvm: accel tcg, "
			 "emulated and slow (`vmrun check` says why)");
}

/* ---- files ---- */

static int absolute(const char *path, char **ret)
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return (*ret = strdup(path)) ? 0 : -ENOMEM;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	return asprintf(ret, "%s/%s", cwd, path) < 0 ? -ENOMEM : 0;
}

static int choose_files(const struct sysroot *s, uid_t uid, const struct new_request *rq,
			struct new_vm *vm, char *why, size_t cap)
{
	_cleanup_free_ char *state = NULL;
	const char *media[2] = { rq->iso, rq->drivers }, *opt[2] = { "--iso", "--drivers" };
	char **out[2] = { &vm->iso, &vm->drivers };
	struct stat st;

	for (int i = 0; i < 2; i++) {
		if (!media[i])
			continue;
		if (stat(media[i], &st) < 0 || !S_ISREG(st.st_mode))
			return refuse(why, cap, EXIT_USAGE, "%s %s: %s", opt[i], media[i],
				      errno == ENOENT ? "no such file" : "not a file");
		if (absolute(media[i], out[i]) < 0 || strchr(*out[i], ','))
			return refuse(why, cap, EXIT_USAGE, "%s %s: give an absolute path without ','",
				      opt[i], media[i]);
	}
	if (rq->disk) {
		if (absolute(rq->disk, &vm->disk) < 0)
			return refuse(why, cap, EXIT_ERROR, "--disk %s: %m", rq->disk);
	} else if (paths_state_dir(s, vm->name, uid, &state) < 0 ||
		   asprintf(&vm->disk, "%s/%s.qcow2", state, vm->name) < 0) {
		return refuse(why, cap, EXIT_ERROR, "cannot tell where the disk goes: set HOME");
	}
	if (strchr(vm->disk, ','))
		return refuse(why, cap, EXIT_USAGE, "--disk %s: QEMU cannot take a ',' in it", vm->disk);
	vm->disk_exists = stat(vm->disk, &st) == 0;
	if (vm->disk_exists && rq->disk_size)
		return refuse(why, cap, EXIT_USAGE, "%s exists; it is not overwritten: leave out "
			      "--disk-size to use it, or give another --disk", vm->disk);
	if (val_memory_size(rq->disk_size ? rq->disk_size : "128G", &vm->disk_size) < 0 ||
	    vm->disk_size < (1ULL << 20))
		return refuse(why, cap, EXIT_USAGE, "--disk-size %s: expected a size like 128G",
			      rq->disk_size);
	if (!vm->disk_exists && !program_find("qemu-img", NULL, 0))
		return refuse(why, cap, EXIT_NOT_READY, "qemu-img is needed to create the disk "
			      "(apt install qemu-utils)");
	return 0;
}

int new_vm_choose(const struct sysroot *s, uid_t uid, const struct new_request *rq,
		  struct new_vm *ret, char *why, size_t cap)
{
	struct new_vm vm = { .os = rq->os };
	int r;

	if (!rq->name || !names_vm_valid(rq->name))
		return refuse(why, cap, EXIT_USAGE, "'%s' is not a VM name (%s)", rq->name ? rq->name :
			      "", VM_NAME_RULE);
	if (rq->accel && !streq(rq->accel, "kvm") && !streq(rq->accel, "tcg"))
		return refuse(why, cap, EXIT_USAGE, "--accel %s: expected kvm or tcg", rq->accel);
	snprintf(vm.name, sizeof(vm.name), "%s", rq->name);
	r = choose_gpu(s, rq, &vm, why, cap);
	if (!r)
		r = choose_size(s, rq, &vm, why, cap);
	if (!r)
		r = choose_files(s, uid, rq, &vm, why, cap);
	if (r) {
		new_vm_clear(&vm);
		return r;
	}
	choose_accel(s, rq, &vm);
	if (vm.os != NEW_LINUX && !vm.drivers)
		note(&vm, "no --drivers (virtio-win ISO): the disk is NVMe and the network e1000e, "
			  "which Windows has drivers for");
	*ret = vm;
	return 0;
}

/* ---- the profile's text ---- */

/* A path as a YAML double-quoted scalar: whatever it holds reads back as itself. */
static void yaml_path(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void yaml_size(FILE *f, uint64_t bytes)
{
	if (bytes % GIB == 0)
		fprintf(f, "%lluG", (unsigned long long)(bytes / GIB));
	else
		fprintf(f, "%lluM", (unsigned long long)(bytes >> 20));
}

/* What `vmrun install` attaches: the installer ISO, then the drivers' ISO. */
static void render_install(FILE *f, const struct new_vm *vm)
{
	if (!vm->iso && !vm->drivers)
		return;
	fprintf(f, "# What `vmrun install` attaches as CD-ROMs (the first one boots) and its "
		   "display.\ninstall:\n  media:\n");
	if (vm->iso) {
		fprintf(f, "    - ");
		yaml_path(f, vm->iso);
		fprintf(f, "   # the installer\n");
	}
	if (vm->drivers) {
		fprintf(f, "    - ");
		yaml_path(f, vm->drivers);
		fprintf(f, "   # virtio drivers: the installer's \"Load driver\" finds them\n");
	}
}

char *new_vm_render(const struct new_vm *vm)
{
	bool win = vm->os != NEW_LINUX, w11 = vm->os == NEW_WINDOWS11, virtio = !win || vm->drivers;
	char addr[PCI_ADDR_STR_MAX];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "# %s: written by `vmrun new` (%s); the keys are in vmrun.yaml(5).\n", vm->name,
		new_os_name(vm->os));
	fprintf(f, "# Install with `vmrun install %s`, then run with `vmrun %s`.\n", vm->name, vm->name);
	fprintf(f, "name: %s\nos: %s\n", vm->name, win ? "windows" : "linux");
	fprintf(f, "# Of this host's %.1f GiB.\nmemory: ", (double)vm->host_memory / GIB);
	yaml_size(f, vm->memory);
	fputc('\n', f);
	fprintf(f, "accel: %s\n", vm->kvm ? "kvm" : "tcg");
	fprintf(f, "# Of this host's %u CPUs; the host keeps the rest.\n", vm->host_cpus);
	fprintf(f, "cpu:\n  cores: %u\n  threads: %u\n", vm->cores, vm->threads);
	fprintf(f, "firmware:\n  type: uefi\n");
	if (w11)
		fprintf(f, "  secure_boot: true     # Windows 11 requires it\ntpm: true              "
			   "# a TPM 2.0 (swtpm), which Windows 11 requires\n");
	if (vm->have_gpu && win)
		fprintf(f, "# NVIDIA's driver refuses to start (code 43) when it sees a hypervisor.\n"
			   "hide_kvm: true\nhyperv_vendor_id: vmrun\n");
	fprintf(f, "disks:\n  - path: ");
	yaml_path(f, vm->disk);
	fprintf(f, "\n    interface: %s%s\n", virtio ? "virtio" : "nvme",
		virtio ? "" : "      # Windows has an NVMe driver of its own");
	if (vm->have_gpu)
		fprintf(f, "pci:\n  - address: \"%s\"   # %s; its group (HDMI audio) comes along\n",
			pci_addr_format(&vm->gpu, addr), vm->gpu_desc);
	else
		fprintf(f, "# No GPU passed through: add one with pci: [{address: \"0000:01:00.0\"}]\n");
	fprintf(f, "# USB devices passed through, as lsusb shows them:\n"
		   "# usb: [{vendor: \"046d\", product: \"c31c\"}]\n");
	fprintf(f, "network:\n  type: user\n  model: %s\n", virtio ? "virtio-net-pci" : "e1000e");
	if (win)
		fprintf(f, "rtc: localtime         # what Windows expects\n");
	fprintf(f, "display: %s\n", vm->have_gpu ? "none                 # the GPU drives its own monitor" :
		"vnc");
	fprintf(f, "shutdown_timeout: %u\n", win ? 120 : 60);
	render_install(f, vm);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- the disk ---- */

int new_vm_create_disk(const struct new_vm *vm, char *why, size_t cap)
{
	char size[32], *dir = strdup(vm->disk), *slash;
	struct spawn_opts o = spawn_opts_default();
	int r;

	if (vm->disk_exists) {
		free(dir);
		return 0;
	}
	if (!dir)
		return refuse(why, cap, EXIT_ERROR, "out of memory");
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++) /* the state directory and its parents */
			if (*p == '/') {
				*p = '\0';
				(void)mkdir(dir, 0755);
				*p = '/';
			}
		(void)mkdir(dir, 0700);
	}
	free(dir);
	/* Claimed first: qemu-img would truncate a file that appeared since it was looked for. */
	int fd = open(vm->disk, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return refuse(why, cap, errno == EEXIST ? EXIT_USAGE : EXIT_ERROR, "%s: %m%s", vm->disk,
			      errno == EEXIST ? " (it is not overwritten)" : "");
	close(fd);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)vm->disk_size);
	o.err = SPAWN_INHERIT; /* its complaint is the user's to read */
	r = spawn_run((char *const[]){ (char *)"qemu-img", (char *)"create", (char *)"-q",
					(char *)"-f", (char *)"qcow2", vm->disk, size, NULL }, &o, 120000);
	if (r != 0) {
		(void)unlink(vm->disk); /* ours, from the O_EXCL above */
		return refuse(why, cap, EXIT_ERROR, "qemu-img create %s failed (%s %d)", vm->disk,
			      r < 0 ? "error" : "status", r < 0 ? -r : r);
	}
	return 0;
}

void new_vm_clear(struct new_vm *vm)
{
	free(vm->disk);
	free(vm->iso);
	free(vm->drivers);
	memset(vm, 0, sizeof(*vm));
}
