/* SPDX-License-Identifier: MIT */
#include "plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpulist.h"
#include "exitcodes.h"
#include "log.h"
#include "paths.h"
#include "profile_path.h"
#include "quirks.h"
#include "text.h"
#include "util.h"
#include "xdg.h"

void plan_clear(struct plan *pl)
{
	fw_choice_clear(&pl->fw);
	free(pl->runtime_dir);
	free(pl->state_dir);
	free(pl->vars_path);
	free(pl->looking_glass);
	free(pl->pulse_server);
	free(pl->hostdevs);
	for (size_t i = 0; i < pl->n_groups; i++)
		switch_plan_clear(&pl->groups[i].sw);
	free(pl->groups);
	strv_free(pl->argv);
	profile_free(pl->p);
	memset(pl, 0, sizeof(*pl));
}

static int plan_firmware(struct plan *pl)
{
	const struct vm_profile *p = pl->p;
	struct fw_request req = { .arch = "x86_64", .machine = p->machine,
				  .secure_boot = p->firmware.secure_boot };
	_cleanup_free_ char *xdg = NULL, *vars_name = NULL;
	char err[512] = "";
	int r;

	if (p->firmware.type != VM_FW_UEFI)
		return 0;
	/* Root uses the system's descriptors only; a user's own come first for them. */
	if (pl->uid != 0)
		(void)xdg_dir(XDG_CONFIG, pl->uid, &xdg);
	r = p->firmware.code ? fw_from_paths(pl->s->root_fd, p->firmware.code, p->firmware.vars,
					     &pl->fw, err, sizeof(err)) :
			       fw_select(pl->s->root_fd, xdg, &req, &pl->fw, err, sizeof(err));
	if (r < 0) {
		snprintf(pl->fw_err, sizeof(pl->fw_err), "%s", err[0] ? err : strerror(-r));
		return 0;
	}
	r = fw_vars_name(p->name, &vars_name);
	if (r < 0 || asprintf(&pl->vars_path, "%s/%s", pl->state_dir, vars_name) < 0)
		return EXIT_ERROR;
	return 0;
}

static struct plan_group *group_for(struct plan *pl, int group)
{
	for (size_t i = 0; i < pl->n_groups; i++)
		if (pl->groups[i].sw.group == group)
			return &pl->groups[i];
	return NULL;
}

/* pci[N].after: the profile's word, else whether the GPU's host driver can take it back. */
static void plan_keep(const struct plan *pl, const struct vm_pci *d, struct plan_group *g)
{
	char rel[128] = "";

	g->keep = false;
	g->keep_why = NULL;
	if (d->after == VM_AFTER_VFIO) {
		g->keep = true;
		g->keep_why = "the profile asks for it (after: vfio-pci)";
		return;
	}
	if (d->after == VM_AFTER_HOST)
		return;
	(void)read_attr_at(pl->s->proc_fd, "sys/kernel/osrelease", rel, sizeof(rel));
	for (size_t k = 0; k < g->sw.n_devs; k++)
		if (pci_addr_eq(&g->sw.devs[k].fn.addr, &g->gpu) &&
		    quirk_keep_on_vfio(g->sw.devs[k].orig_driver, rel, &g->keep_why))
			g->keep = true;
}

/* Each IOMMU group of the profile's devices, planned by the switch itself (dry). */
static int plan_groups(struct plan *pl)
{
	_cleanup_(pci_names_freep) struct pci_names *names = NULL;
	const struct vm_profile *p = pl->p;

	pl->groups = calloc(p->n_pci ? p->n_pci : 1, sizeof(*pl->groups));
	if (!pl->groups)
		return EXIT_ERROR;
	(void)pci_names_open(pl->s, &names);
	for (size_t i = 0; i < p->n_pci; i++) {
		struct switch_ctx c = { .s = pl->s, .state_fd = -1, .owner = pl->uid };
		struct plan_group *g = &pl->groups[pl->n_groups];
		struct switch_opts o = { .dry_run = true,
					 .release = p->pci[i].release || pl->opts.release };
		struct pci_function f;

		if (pci_function_read(pl->s, &p->pci[i].address, &f) == 0 && f.iommu_group >= 0 &&
		    group_for(pl, f.iommu_group))
			continue; /* another device of the profile brought this group already */
		g->gpu = p->pci[i].address;
		g->pci_index = i;
		g->release = o.release;
		g->status = switch_plan_detach(&c, &g->gpu, &o, &g->sw);
		g->check = c.check;
		snprintf(g->why, sizeof(g->why), "%s", g->status ? c.why : "");
		/* A device this host lacks: the profile is fine, the host is not ready; said where
		 * the profile names it. */
		if (g->status == SW_REFUSED && c.check == CHECK_DEVICES) {
			char key[48];

			snprintf(key, sizeof(key), "pci[%zu].address", i);
			text_format(g->why, sizeof(g->why), "%s:%u: %s: %s", p->source,
				    profile_line(p, key), key, c.why);
		}
		if (g->status == SW_BAD_INPUT) {
			char key[48];

			snprintf(key, sizeof(key), "pci[%zu].address", i);
			text_format(g->why, sizeof(g->why), "%s:%u: %s: %s (see `vmrun gpus`)",
				    p->source, profile_line(p, key), key, c.why);
			g->status = SW_REFUSED;
		}
		for (size_t k = 0; k < g->sw.n_devs; k++)
			pci_names_fill(names, &g->sw.devs[k].fn);
		pci_names_fill(names, &g->sw.gpu);
		plan_keep(pl, &p->pci[i], g);
		pl->n_groups++;
	}
	return 0;
}

static int add_hostdev(struct plan *pl, const struct pci_addr *a, const char *rom)
{
	struct qemu_hostdev *nv;

	for (size_t i = 0; i < pl->n_hostdevs; i++)
		if (pci_addr_eq(&pl->hostdevs[i].host, a)) {
			if (rom)
				pl->hostdevs[i].rom = rom;
			return 0;
		}
	nv = reallocarray(pl->hostdevs, pl->n_hostdevs + 1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	pl->hostdevs = nv;
	nv[pl->n_hostdevs++] = (struct qemu_hostdev){ .host = *a, .rom = rom };
	return 0;
}

static int cmp_hostdev(const void *a, const void *b)
{
	return pci_addr_cmp(&((const struct qemu_hostdev *)a)->host,
			    &((const struct qemu_hostdev *)b)->host);
}

/* What QEMU gets: each profile device, and with group: true (the default) the members of its
 * group the switch moves (bridges stay); the whole group goes to vfio-pci either way. */
static int plan_hostdevs(struct plan *pl)
{
	const struct vm_profile *p = pl->p;
	int r = 0;

	for (size_t i = 0; i < p->n_pci && r >= 0; i++) {
		struct pci_function f;
		const struct plan_group *g = NULL;

		if (pci_function_read(pl->s, &p->pci[i].address, &f) == 0 && f.iommu_group >= 0)
			g = group_for(pl, f.iommu_group);
		r = add_hostdev(pl, &p->pci[i].address, p->pci[i].rom);
		for (size_t k = 0; r >= 0 && g && p->pci[i].whole_group && k < g->sw.n_devs; k++)
			r = add_hostdev(pl, &g->sw.devs[k].fn.addr, NULL);
	}
	if (r < 0)
		return EXIT_ERROR;
	if (pl->n_hostdevs)
		qsort(pl->hostdevs, pl->n_hostdevs, sizeof(*pl->hostdevs), cmp_hostdev);
	return 0;
}

const struct pci_function *plan_function(const struct plan *pl, const struct pci_addr *a)
{
	for (size_t i = 0; i < pl->n_groups; i++) {
		const struct switch_plan *sw = &pl->groups[i].sw;

		if (sw->gpu.name[0] && pci_addr_eq(&sw->gpu.addr, a))
			return &sw->gpu;
		for (size_t j = 0; j < sw->n_devs; j++)
			if (pci_addr_eq(&sw->devs[j].fn.addr, a))
				return &sw->devs[j].fn;
	}
	return NULL;
}

/* What `vmrun install` changes: the media are a must, the display is resolved, and with
 * --no-gpu the profile's devices are left out (so nothing is switched). */
static int plan_mode(struct plan *pl)
{
	struct vm_profile *p = pl->p;
	const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");

	if (pl->opts.accel) {
		if (!streq(pl->opts.accel, "kvm") && !streq(pl->opts.accel, "tcg")) {
			log_err("--accel %s: expected kvm or tcg", pl->opts.accel);
			return EXIT_USAGE;
		}
		p->accel = streq(pl->opts.accel, "kvm") ? VM_ACCEL_KVM : VM_ACCEL_TCG;
		if (p->accel == VM_ACCEL_TCG && streq(p->cpu.model, "host")) { /* host needs KVM */
			free(p->cpu.model);
			p->cpu.model = strdup("max");
			if (!p->cpu.model)
				return EXIT_ERROR;
		}
	}
	if (pl->opts.no_gpu) {
		for (size_t i = 0; i < p->n_pci; i++)
			free(p->pci[i].rom);
		free(p->pci);
		p->pci = NULL;
		p->n_pci = 0;
	}
	if (!pl->opts.install)
		return 0;
	if (!p->install.n_media) {
		log_err("%s: install.media: none given: add the installer's ISO, e.g. install: "
			"{media: [/isos/Win11.iso, /isos/virtio-win.iso]}", p->source);
		return EXIT_USAGE;
	}
	pl->install.display = p->install.display;
	if (pl->install.display == VM_INSTALL_AUTO) /* a desktop session can show a window */
		pl->install.display = (x && *x) || (w && *w) ? VM_INSTALL_GTK : VM_INSTALL_VNC;
	return 0;
}

/* kvmfr (Looking Glass's kernel module) when it is loaded and its device is big enough; else
 * a file in /dev/shm, the user's, made for the run. */
static int plan_looking_glass(struct plan *pl)
{
	const struct vm_profile *p = pl->p;
	unsigned long mb = 0;
	struct stat st;

	if (!p->looking_glass.on)
		return 0;
	if (pl->s->dev_fd >= 0 && fstatat(pl->s->dev_fd, "kvmfr0", &st, 0) == 0 && S_ISCHR(st.st_mode) &&
	    read_attr_ulong_at(pl->s->sys_fd, "module/kvmfr/parameters/static_size_mb", &mb) == 0 &&
	    (uint64_t)mb << 20 >= p->looking_glass.size) {
		pl->lg_kvmfr = true;
		return (pl->looking_glass = strdup("/dev/kvmfr0")) ? 0 : EXIT_ERROR;
	}
	return asprintf(&pl->looking_glass, "/dev/shm/looking-glass-%s", p->name) < 0 ? EXIT_ERROR : 0;
}

/* The session's sound server: PULSE_SERVER, else the socket in the user's runtime directory
 * (for root, the invoking user's via SUDO_UID). When there is none, the reason, for check. */
static int plan_audio(struct plan *pl)
{
	const char *env = getenv("PULSE_SERVER"), *sudo = getenv("SUDO_UID");
	_cleanup_free_ char *rt = NULL;
	uid_t who = pl->uid;
	struct stat st;

	if (!pl->p->audio)
		return 0;
	if (env && *env && !strchr(env, ','))
		return (pl->pulse_server = strdup(env)) ? 0 : EXIT_ERROR;
	if (who == 0 && sudo && *sudo)
		who = (uid_t)strtoul(sudo, NULL, 10);
	if (who == 0 || (who == pl->uid ? xdg_dir(XDG_RUNTIME, who, &rt) :
			 asprintf(&rt, "/run/user/%u", (unsigned)who)) < 0)
		rt = strdup("/run/user/0");
	if (!rt || asprintf(&pl->pulse_server, "unix:%s/pulse/native", rt) < 0)
		return EXIT_ERROR;
	if (who == 0)
		snprintf(pl->pulse_err, sizeof(pl->pulse_err), "run as root outside a user's session "
			 "(no SUDO_UID): the sound server is a user's; run vmrun as that user, or set "
			 "PULSE_SERVER");
	else if (stat(pl->pulse_server + 5, &st) < 0 || !S_ISSOCK(st.st_mode))
		snprintf(pl->pulse_err, sizeof(pl->pulse_err), "no sound server at %s (PulseAudio, or "
			 "PipeWire with pipewire-pulse, in uid %u's session)", pl->pulse_server + 5,
			 (unsigned)who);
	return 0;
}

/* cpu.isolate: the online CPUs that are not the vCPUs', as a list for AllowedCPUs. */
static void plan_isolation(struct plan *pl)
{
	const struct vm_cpu *cpu = &pl->p->cpu;
	struct cpuset host = { 0 };
	char online[1024];

	if (!cpu->isolate || read_attr_at(pl->s->sys_fd, "devices/system/cpu/online", online,
					  sizeof(online)) < 0)
		return;
	(void)cpulist_parse(online, &host);
	for (size_t i = 0; i < cpu->n_pin; i++)
		cpuset_remove(&host, cpu->pin[i]);
	if (!cpulist_format(&host, pl->host_cpus, sizeof(pl->host_cpus)))
		pl->host_cpus[0] = '\0'; /* too long to say: as if none were left, refused */
}

int plan_build(const struct sysroot *s, uid_t uid, const char *profile, const struct plan_opts *o,
	       struct plan *pl)
{
	struct host_facts facts;
	int r;

	memset(pl, 0, sizeof(*pl));
	pl->s = s;
	pl->uid = uid;
	if (o)
		pl->opts = *o;
	r = profile_path_load(profile, &pl->p);
	if (!r)
		r = plan_mode(pl);
	if (r)
		return r;
	if (paths_runtime_dir(s, pl->p->name, uid, &pl->runtime_dir) < 0 ||
	    paths_state_dir(s, pl->p->name, uid, &pl->state_dir) < 0) {
		log_err("Cannot tell where %s's files go: set HOME or XDG_DATA_HOME", pl->p->name);
		return EXIT_ERROR;
	}
	r = plan_firmware(pl);
	if (!r)
		r = plan_looking_glass(pl);
	if (!r)
		r = plan_audio(pl);
	if (!r)
		plan_isolation(pl);
	if (!r)
		r = plan_groups(pl);
	if (!r)
		r = plan_hostdevs(pl);
	if (r || pl->fw_err[0])
		return r;
	facts = (struct host_facts){ .firmware = &pl->fw, .vars_path = pl->vars_path,
				     .runtime_dir = pl->runtime_dir, .hostdevs = pl->hostdevs,
				     .n_hostdevs = pl->n_hostdevs,
				     .install = pl->opts.install ? &pl->install : NULL,
				     .looking_glass = pl->looking_glass, .pulse_server = pl->pulse_server };
	r = qemu_argv_build(pl->p, &facts, &pl->argv);
	if (r < 0) {
		log_err("Failed to build the QEMU command line: %s", strerror(-r));
		return EXIT_ERROR;
	}
	return 0;
}
