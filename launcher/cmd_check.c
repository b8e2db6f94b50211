/* SPDX-License-Identifier: MIT */
/* vmrun check [PROFILE] [--json]: is this host ready to pass a GPU through? */
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../firmware/firmware.h"
#include "cli.h"
#include "log.h"
#include "modules.h"
#include "paths.h"

enum status { ST_OK, ST_WARN, ST_FAIL };

struct report {
	bool json;
	json_object *items;
	unsigned count[3];
};

_printf_(5, 6) static void item(struct report *rep, const char *id, enum status st,
				const char *fix, const char *fmt, ...)
{
	static const char *const tag[] = { "ok", "warn", "fail" };
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rep->count[st]++;
	if (rep->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_string(id));
		json_object_object_add(o, "status", json_object_new_string(tag[st]));
		json_object_object_add(o, "message", json_object_new_string(msg));
		json_object_object_add(o, "fix", json_str_or_null(fix));
		json_object_array_add(rep->items, o);
		return;
	}
	printf("%-5s %s\n", st == ST_OK ? "ok" : st == ST_WARN ? "warn" : "FAIL", msg);
	if (fix && st != ST_OK)
		printf("      fix: %s\n", fix);
}

static void check_cpu(struct report *rep, const struct cli *c, const struct iommu_info *info,
		      const struct vm_profile *p)
{
	/* Without KVM the VM still runs (TCG), only far too slowly for a desktop. */
	enum status miss = p && p->accel == VM_ACCEL_TCG ? ST_WARN : ST_FAIL;

	if (info->cpu_virt)
		item(rep, "cpu-virtualization", ST_OK, NULL, "CPU virtualisation: %s present",
		     streq(info->cpu_vendor, "amd") ? "AMD-V (svm)" : "VT-x (vmx)");
	else
		item(rep, "cpu-virtualization", miss,
		     "enable VT-x / AMD-V (SVM) in the firmware setup",
		     "CPU virtualisation: no vmx/svm flag in /proc/cpuinfo");
	if (c->root->dev_fd >= 0 && faccessat(c->root->dev_fd, "kvm", R_OK | W_OK, 0) == 0)
		item(rep, "kvm", ST_OK, NULL, "/dev/kvm: usable");
	else
		item(rep, "kvm", miss, "load kvm_intel or kvm_amd, and add yourself to group 'kvm'",
		     "/dev/kvm: %s", c->root->dev_fd >= 0 && faccessat(c->root->dev_fd, "kvm", F_OK, 0) == 0 ?
					     "present but not accessible" : "missing");
}

static void check_iommu(struct report *rep, const struct iommu_info *info)
{
	const char *opt = streq(info->cpu_vendor, "amd") ?
				  "enable the IOMMU (AMD-Vi) in the firmware setup and add iommu=pt "
				  "to the kernel command line" :
				  "add intel_iommu=on iommu=pt to the kernel command line and enable "
				  "VT-d in the firmware setup";

	if (!info->active) {
		item(rep, "iommu", ST_FAIL, opt, "IOMMU: not active (no IOMMU groups)");
		return;
	}
	item(rep, "iommu", ST_OK, NULL, "IOMMU: active (%s, %u groups%s)",
	     info->vendor[0] ? info->vendor : "unknown vendor", info->n_groups,
	     info->passthrough ? ", passthrough mode" : "");
	if (info->irq_remap == 1)
		item(rep, "interrupt-remapping", ST_OK, NULL, "interrupt remapping: on");
	else if (info->irq_remap == 0)
		item(rep, "interrupt-remapping", ST_FAIL,
		     "enable interrupt remapping in the firmware setup (VFIO refuses devices "
		     "without it unless vfio_iommu_type1.allow_unsafe_interrupts=1, which is unsafe)",
		     "interrupt remapping: off");
	else
		item(rep, "interrupt-remapping", ST_WARN, NULL,
		     "interrupt remapping: unknown (/proc/interrupts unreadable)");
}

static void check_modules(struct report *rep, const struct cli *c)
{
	static const char *const mods[] = { "vfio-pci", "vfio_iommu_type1" };

	for (size_t i = 0; i < ARRAY_SIZE(mods); i++) {
		char real[64];
		enum module_state st;
		int r = module_state_of(c->root, mods[i], &st, real, sizeof(real));

		if (r < 0)
			item(rep, "vfio-modules", ST_WARN, NULL, "%s: cannot tell (%s)", mods[i],
			     strerror(-r));
		else if (st == MODULE_MISSING)
			item(rep, "vfio-modules", ST_FAIL,
			     "install a kernel built with VFIO (Debian's linux-image-amd64 has it)",
			     "%s: not in this kernel", mods[i]);
		else
			item(rep, "vfio-modules", ST_OK, NULL, "%s: %s", real, module_state_name(st));
	}
}

static void check_firmware(struct report *rep, const struct cli *c, const struct vm_profile *p)
{
	struct fw_request req = { .arch = "x86_64", .machine = p ? p->machine : "q35",
				  .secure_boot = p && p->firmware.secure_boot };
	_cleanup_free_ char *xdg = NULL;
	struct fw_choice fw = { 0 };
	char err[512] = "";
	int r;

	if (p && p->firmware.type == VM_FW_BIOS) {
		item(rep, "firmware", ST_OK, NULL, "firmware: BIOS (SeaBIOS, built into QEMU)");
		return;
	}
	(void)user_config_home(c->uid, &xdg);
	if (p && p->firmware.code)
		r = fw_from_paths(c->root->root_fd, p->firmware.code, p->firmware.vars, &fw, err,
				  sizeof(err));
	else
		r = fw_select(c->root->root_fd, xdg, &req, &fw, err, sizeof(err));
	if (r < 0) {
		item(rep, "firmware", ST_FAIL, "apt install ovmf", "firmware: %s", err);
		return;
	}
	item(rep, "firmware", ST_OK, NULL, "firmware: %s%s (%s)", fw.code,
	     fw.secure_boot ? " with Secure Boot" : "", fw.descriptor ? fw.descriptor : "profile");
	fw_choice_clear(&fw);
}

static void check_memlock(struct report *rep, const struct cli *c, const struct vm_profile *p)
{
	struct rlimit rl;
	/* VFIO pins all guest RAM; libvirt adds 1 GiB for QEMU's own pinned pages. */
	unsigned long long need = p ? p->memory + (1ULL << 30) : 0;

	if (!p)
		return;
	if (c->uid == 0) {
		item(rep, "memlock", ST_OK, NULL,
		     "locked memory: running as root (CAP_IPC_LOCK), no limit applies");
		return;
	}
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 ||
	    (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)) {
		char fix[256];

		snprintf(fix, sizeof(fix), "raise RLIMIT_MEMLOCK to at least %llu KiB "
			 "(/etc/security/limits.d/, or LimitMEMLOCK= in a systemd unit)", need >> 10);
		item(rep, "memlock", ST_FAIL, fix, "locked memory: limit %llu KiB < %llu KiB needed "
		     "to pin %s's RAM", (unsigned long long)rl.rlim_cur >> 10, need >> 10, p->name);
		return;
	}
	item(rep, "memlock", ST_OK, NULL, "locked memory: limit covers %llu KiB", need >> 10);
}

static void check_group(struct report *rep, const struct gpu_entry *e)
{
	char list[768] = "";
	size_t len = 0;
	bool other = false;

	for (size_t i = 0; i < e->group.n_members; i++) {
		const struct pci_function *m = &e->group.members[i];

		if (e->roles[i] == ROLE_OTHER)
			other = true;
		len += (size_t)snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0,
					"%s%s %s (%s)", i ? ", " : "", m->name,
					group_role_name(e->roles[i]), m->driver[0] ? m->driver : "no driver");
		if (len >= sizeof(list))
			len = sizeof(list) - 1;
	}
	if (other || e->group.n_non_pci)
		item(rep, "group-viable", ST_FAIL,
		     "move the card to another slot, or pass the other devices too (they leave the host)",
		     "%s: IOMMU group %d also holds devices that are not part of the GPU: %s%s", e->gpu.name,
		     e->group.id, list, e->group.n_non_pci ? " and non-PCI devices" : "");
	else
		item(rep, "group-viable", ST_OK, NULL, "%s: IOMMU group %d: %s", e->gpu.name, e->group.id,
		     list);
}

static void check_holders(struct report *rep, const struct gpu_snapshot *snap,
			  const struct gpu_entry *e)
{
	bool held = false;
	char buf[256];

	for (size_t k = 0; k < snap->holders.n; k++) {
		const struct holder *h = &snap->holders.v[k];
		bool mine = streq(h->function, e->gpu.name);

		for (size_t j = 0; !mine && j < e->group.n_members; j++)
			mine = streq(h->function, e->group.members[j].name);
		if (!mine)
			continue;
		held = true;
		/* ALSA survives hot-unplug; a DRM device pulled from a display server does not. */
		if (h->kind == NODE_SND)
			item(rep, "holders", ST_WARN, NULL, "%s: %s has %s open (sound; it will lose "
			     "the device)", h->function, holder_describe(h, buf, sizeof(buf)), h->node);
		else
			item(rep, "holders", ST_FAIL,
			     "stop it, or keep the display server off this GPU (Xorg: "
			     "Option \"AutoAddGPU\" \"off\" and a kmsdev for the other card)",
			     "%s: %s holds %s", h->function, holder_describe(h, buf, sizeof(buf)), h->node);
	}
	if (!held)
		item(rep, "holders", ST_OK, NULL, "%s: no process holds the GPU's device nodes%s",
		     e->gpu.name, snap->holders.unreadable ? " (partial scan: not root)" : "");
	if (e->gpu.boot_vga == 1)
		item(rep, "boot-vga", ST_WARN, "use the other GPU as the boot display in firmware setup",
		     "%s: is the boot display (boot_vga=1): the console and a boot framebuffer may "
		     "use it", e->gpu.name);
}

static void check_devices(struct report *rep, const struct cli *c, const struct vm_profile *p)
{
	_cleanup_(pci_names_freep) struct pci_names *names = NULL;
	struct gpu_snapshot snap = { 0 };
	int r;

	(void)pci_names_open(c->root, &names);
	if (p) {
		_cleanup_free_ struct pci_addr *addrs = calloc(p->n_pci + 1, sizeof(*addrs));

		if (!addrs)
			return;
		for (size_t i = 0; i < p->n_pci; i++)
			addrs[i] = p->pci[i].address;
		r = gpu_snapshot_of(c->root, names, addrs, p->n_pci, &snap);
	} else {
		r = gpu_snapshot_all(c->root, names, &snap);
	}
	if (r < 0) {
		char a[PCI_ADDR_STR_MAX] = "";

		for (size_t i = 0; p && i < p->n_pci; i++) {
			struct pci_function f;

			if (pci_function_read(c->root, &p->pci[i].address, &f) < 0) {
				pci_addr_format(&p->pci[i].address, a);
				break;
			}
		}
		item(rep, "devices", ST_FAIL, "check the address with `vmrun gpus`",
		     "%s%s%s", a[0] ? "no PCI device " : "cannot read PCI devices: ", a[0] ? a : strerror(-r),
		     a[0] ? " on this host" : "");
		return;
	}
	for (size_t i = 0; i < snap.n_gpus; i++) {
		const struct gpu_entry *e = &snap.gpus[i];

		if (!p && e->gpu.boot_vga == 1)
			continue; /* without a profile, the host's own display GPU is not a candidate */
		if (e->group.id < 0)
			item(rep, "group-viable", ST_FAIL, "enable the IOMMU (see above)",
			     "%s: in no IOMMU group", e->gpu.name);
		else
			check_group(rep, e);
		check_holders(rep, &snap, e);
	}
	gpu_snapshot_clear(&snap);
}

int cmd_check(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	struct vm_profile *p = NULL;
	struct report rep = { .json = c->json };
	struct iommu_info info;
	int o, r;

	while ((o = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		if (o == 'j')
			rep.json = true;
		else if (o == 'h') {
			printf("vmrun check [PROFILE] [--json]\n  Readiness report: each line ok, warn "
			       "or FAIL with the fix. Exit 0 when nothing fails, 4 otherwise.\n");
			return EXIT_OK;
		} else
			return EXIT_USAGE;
	}
	if (argc - optind > 1) {
		log_err("check: expected at most one profile");
		return EXIT_USAGE;
	}
	if (optind < argc) {
		r = cli_load_profile(argv[optind], &p);
		if (r)
			return r;
	}
	rep.items = json_object_new_array();
	(void)iommu_info_read(c->root, &info);
	check_cpu(&rep, c, &info, p);
	check_iommu(&rep, &info);
	check_modules(&rep, c);
	check_firmware(&rep, c, p);
	check_memlock(&rep, c, p);
	check_devices(&rep, c, p);
	if (rep.json) {
		json_object *root = json_object_new_object(), *sum = json_object_new_object();

		json_object_object_add(root, "profile", p ? json_object_new_string(p->name) : NULL);
		json_object_object_add(root, "checks", rep.items);
		json_object_object_add(sum, "ok", json_object_new_int((int)rep.count[ST_OK]));
		json_object_object_add(sum, "warn", json_object_new_int((int)rep.count[ST_WARN]));
		json_object_object_add(sum, "fail", json_object_new_int((int)rep.count[ST_FAIL]));
		json_object_object_add(root, "summary", sum);
		json_object_object_add(root, "ready", json_object_new_boolean(!rep.count[ST_FAIL]));
		json_print(root);
		json_object_put(root);
	} else {
		json_object_put(rep.items);
		printf("\n%u ok, %u warnings, %u failures: %s\n", rep.count[ST_OK], rep.count[ST_WARN],
		       rep.count[ST_FAIL], rep.count[ST_FAIL] ? "not ready" : "ready");
	}
	profile_free(p);
	return rep.count[ST_FAIL] ? EXIT_NOT_READY : EXIT_OK;
}
