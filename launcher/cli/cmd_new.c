/* SPDX-License-Identifier: MIT */
/*
 * vmrun new NAME: choose (newvm.h), validate the rendered profile, create the disk, write the
 * profile (never over an existing file), say what was chosen. Nothing is left behind on
 * failure: a disk made here is removed again when the profile cannot be written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "log.h"
#include "newvm.h"
#include "output.h"
#include "profile.h"
#include "text.h"
#include "util.h"
#include "xdg.h"

static int output_path(const struct cli *c, const struct cli_args *a, const char *name, char **ret)
{
	_cleanup_free_ char *cfg = NULL;

	if (args_value(a, OPT_OUTPUT))
		return (*ret = strdup(args_value(a, OPT_OUTPUT))) ? 0 : -ENOMEM;
	if (xdg_dir(XDG_CONFIG, c->uid, &cfg) < 0)
		return -ENOENT;
	return asprintf(ret, "%s/vmrun/%s.yaml", cfg, name) < 0 ? -ENOMEM : 0;
}

static int parse_request(const struct cli_args *a, struct new_request *rq)
{
	const char *cores = args_value(a, OPT_CORES), *x = getenv("DISPLAY"),
		   *w = getenv("WAYLAND_DISPLAY");
	char *end;

	*rq = (struct new_request){
		.name = a->pos[0], .gpu = args_value(a, OPT_GPU), .iso = args_value(a, OPT_ISO),
		.drivers = args_value(a, OPT_DRIVERS), .disk = args_value(a, OPT_DISK),
		.disk_size = args_value(a, OPT_DISK_SIZE), .memory = args_value(a, OPT_MEMORY),
		.accel = args_value(a, OPT_ACCEL), .desktop = (x && *x) || (w && *w),
	};
	if (args_value(a, OPT_OS) && new_os_parse(args_value(a, OPT_OS), &rq->os) < 0) {
		log_err("--os %s: expected windows11, windows10 or linux", args_value(a, OPT_OS));
		return EXIT_USAGE;
	}
	if (cores) {
		unsigned long n = strtoul(cores, &end, 10);

		if (!*cores || *end || n < 1 || n > 256) {
			log_err("--cores %s: expected a whole number from 1 to 256", cores);
			return EXIT_USAGE;
		}
		rq->cores = (unsigned)n;
	}
	return 0;
}

/* The directory made 0755 as needed (~/.config/vmrun), the file created, never replaced. */
static int write_new(const char *path, const char *text, char *why, size_t cap)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 16];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				(void)mkdir(dir, 0755);
				*p = '/';
			}
		(void)mkdir(dir, 0755);
	}
	/* Written whole, then linked into place: an existing profile makes link() fail. */
	snprintf(tmp, sizeof(tmp), "%s.new-XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return text_format(why, cap, "%s: %m", path), -errno;
	if (write_all(fd, text, strlen(text)) < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0 ||
	    close(fd) < 0) {
		text_format(why, cap, "%s: %m", tmp);
		unlink(tmp);
		return -EIO;
	}
	if (link(tmp, path) < 0) {
		int e = errno;

		text_format(why, cap, "%s: %s", path, e == EEXIST ? "exists; it is not overwritten "
			 "(give --output FILE, or remove it)" : strerror(e));
		unlink(tmp);
		return -e;
	}
	unlink(tmp);
	return 0;
}

static void report(const struct cli *c, const struct new_vm *vm, const char *path)
{
	char addr[PCI_ADDR_STR_MAX];

	if (c->json) {
		json_object *o = json_object_new_object(), *notes = json_object_new_array();

		json_object_object_add(o, "profile", json_object_new_string(path));
		json_object_object_add(o, "name", json_object_new_string(vm->name));
		json_object_object_add(o, "os", json_object_new_string(new_os_name(vm->os)));
		json_object_object_add(o, "gpu", vm->have_gpu ? json_object_new_string(
			pci_addr_format(&vm->gpu, addr)) : NULL);
		json_object_object_add(o, "memory", json_object_new_int64((int64_t)vm->memory));
		json_object_object_add(o, "cores", json_object_new_int((int)vm->cores));
		json_object_object_add(o, "threads", json_object_new_int((int)vm->threads));
		json_object_object_add(o, "accel", json_object_new_string(vm->kvm ? "kvm" : "tcg"));
		json_object_object_add(o, "disk", json_object_new_string(vm->disk));
		json_object_object_add(o, "disk_created", json_object_new_boolean(!vm->disk_exists));
		for (size_t i = 0; i < vm->n_notes; i++)
			json_object_array_add(notes, json_object_new_string(vm->notes[i]));
		json_object_object_add(o, "notes", notes);
		json_print(o);
		json_object_put(o);
		return;
	}
	printf("wrote %s\n", path);
	printf("  GPU:     %s\n", vm->have_gpu ? vm->gpu_desc : "none");
	printf("  memory:  %.1f GiB (of the host's %.1f GiB)\n", (double)vm->memory / (1 << 30),
	       (double)vm->host_memory / (1 << 30));
	printf("  CPU:     %u cores x %u threads (of the host's %u CPUs)\n", vm->cores, vm->threads,
	       vm->host_cpus);
	printf("  accel:   %s%s%s\n", vm->kvm ? "kvm" : "tcg", vm->accel_note[0] ? ": " : "",
	       vm->accel_note);
	printf("  disk:    %s (%s)\n", vm->disk, vm->disk_exists ? "existing, used as it is" :
	       "created, qcow2");
	for (size_t i = 0; i < vm->n_notes; i++)
		printf("  note:    %s\n", vm->notes[i]);
	printf("next: vmrun check %s; then vmrun install %s\n", vm->name, vm->name);
}

int cmd_new(struct cli *c, const struct cli_args *a)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct new_request rq;
	struct new_vm vm = { 0 };
	struct profile_error err;
	struct vm_profile *check = NULL;
	char why[1024], msg[768];
	int r = parse_request(a, &rq);

	if (r)
		return r;
	if (output_path(c, a, rq.name, &path) < 0) {
		log_err("cannot tell where the profile goes: set HOME or give --output FILE");
		return EXIT_USAGE;
	}
	if (access(path, F_OK) == 0) {
		log_err("%s exists; it is not overwritten (give --output FILE, or remove it)", path);
		return EXIT_USAGE;
	}
	r = new_vm_choose(c->root, c->uid, &rq, &vm, why, sizeof(why));
	if (r) {
		log_err("%s", why);
		return r;
	}
	/* What is written is what vmrun reads back: validated before anything is created. */
	text = new_vm_render(&vm);
	if (!text || profile_load_buffer(path, text, strlen(text), &check, &err) < 0) {
		log_err("the profile vmrun new wrote is invalid (a bug): %s",
			text ? profile_error_format(&err, msg, sizeof(msg)) : "out of memory");
		new_vm_clear(&vm);
		return EXIT_ERROR;
	}
	profile_free(check);
	r = new_vm_create_disk(&vm, why, sizeof(why));
	if (!r && write_new(path, text, why, sizeof(why)) < 0) {
		if (!vm.disk_exists)
			(void)unlink(vm.disk); /* made just now: nothing is left behind */
		r = EXIT_USAGE;
	}
	if (r)
		log_err("%s", why);
	else
		report(c, &vm, path);
	new_vm_clear(&vm);
	return r;
}
