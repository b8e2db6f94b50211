/* SPDX-License-Identifier: MIT */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "exitcodes.h"
#include "gpu.h"
#include "iommu.h"
#include "modules.h"
#include "priv.h"
#include "util.h"
#include "vmdir.h"
#include "xdg.h"

const char *verdict_name(enum verdict v)
{
	static const char *const names[] = { "ok", "warn", "fail" };

	return (unsigned)v < ARRAY_SIZE(names) ? names[v] : "?";
}

_printf_(6, 7) static void item(struct checks *c, const char *id, enum verdict v, int exit_code,
				const char *fix, const char *fmt, ...)
{
	struct check_item *nv, *it;
	va_list ap;

	nv = reallocarray(c->v, c->n + 1, sizeof(*nv));
	if (!nv) {
		c->oom = true;
		return;
	}
	c->v = nv;
	it = &c->v[c->n++];
	memset(it, 0, sizeof(*it));
	snprintf(it->id, sizeof(it->id), "%s", id);
	it->verdict = v;
	it->exit_code = v == VERDICT_FAIL ? exit_code : 0;
	snprintf(it->fix, sizeof(it->fix), "%s", fix ? fix : "");
	va_start(ap, fmt);
	vsnprintf(it->msg, sizeof(it->msg), fmt, ap);
	va_end(ap);
	c->count[v]++;
}

#define ok(c, id, ...) item(c, id, VERDICT_OK, 0, NULL, __VA_ARGS__)

/* ---- the host ---- */

static void check_kvm(struct checks *c, const struct sysroot *s, const struct iommu_info *info,
		      const struct vm_profile *p)
{
	/* Without KVM the VM still runs (TCG), only far too slowly for a desktop. */
	enum verdict miss = p && p->accel == VM_ACCEL_TCG ? VERDICT_WARN : VERDICT_FAIL;
	bool present = s->dev_fd >= 0 && faccessat(s->dev_fd, "kvm", F_OK, 0) == 0;
	bool usable = present && faccessat(s->dev_fd, "kvm", R_OK | W_OK, 0) == 0;

	/* /dev/kvm working is the proof; a guest of another hypervisor may hide vmx/svm. */
	if (usable)
		ok(c, "kvm", "KVM: /dev/kvm is usable%s", info->cpu_virt ? (streq(info->cpu_vendor,
		   "amd") ? " (AMD-V)" : " (VT-x)") : "");
	else if (!info->cpu_virt)
		item(c, "kvm", miss, EXIT_NOT_READY, "enable VT-x / AMD-V (SVM) in the firmware setup",
		     "KVM: no vmx/svm flag in /proc/cpuinfo and no usable /dev/kvm");
	else if (!present)
		item(c, "kvm", miss, EXIT_NOT_READY, "load kvm_intel or kvm_amd (modprobe kvm_intel)",
		     "KVM: /dev/kvm is missing");
	else
		item(c, "kvm", miss, EXIT_NOT_READY, "add yourself to group 'kvm' (usermod -aG kvm "
		     "$USER, then log in again)", "KVM: /dev/kvm is not accessible to you");
}

static void check_iommu(struct checks *c, const struct iommu_info *info)
{
	const char *opt = streq(info->cpu_vendor, "amd") ?
				  "enable the IOMMU (AMD-Vi) in the firmware setup and add iommu=pt "
				  "to the kernel command line (vmrun setup proposes it)" :
				  "add intel_iommu=on iommu=pt to the kernel command line and enable "
				  "VT-d in the firmware setup (vmrun setup proposes it)";

	if (!info->active) {
		item(c, "iommu", VERDICT_FAIL, EXIT_NOT_READY, opt, "IOMMU: not active (no IOMMU groups)");
		return;
	}
	ok(c, "iommu", "IOMMU: active (%s, %u groups%s)", info->vendor[0] ? info->vendor :
	   "unknown vendor", info->n_groups, info->passthrough ? ", passthrough mode" : "");
	if (info->irq_remap == 1)
		ok(c, "interrupt-remapping", "interrupt remapping: on");
	else if (info->irq_remap == 0)
		item(c, "interrupt-remapping", VERDICT_FAIL, EXIT_NOT_READY,
		     "enable interrupt remapping in the firmware setup (VFIO refuses devices without "
		     "it unless vfio_iommu_type1.allow_unsafe_interrupts=1, which is unsafe)",
		     "interrupt remapping: off");
	else
		item(c, "interrupt-remapping", VERDICT_WARN, 0, NULL,
		     "interrupt remapping: unknown (/proc/interrupts unreadable)");
}

static void check_modules(struct checks *c, const struct sysroot *s)
{
	static const char *const mods[] = { "vfio-pci", "vfio_iommu_type1" };

	for (size_t i = 0; i < ARRAY_SIZE(mods); i++) {
		char real[64];
		enum module_state st;
		int r = module_state_of(s, mods[i], &st, real, sizeof(real));

		if (r < 0)
			item(c, "vfio-modules", VERDICT_WARN, 0, NULL, "%s: cannot tell (%s)", mods[i],
			     strerror(-r));
		else if (st == MODULE_MISSING)
			item(c, "vfio-modules", VERDICT_FAIL, EXIT_NOT_READY,
			     "install a kernel built with VFIO (Debian's linux-image-amd64 has it)",
			     "%s: not in this kernel", mods[i]);
		else
			ok(c, "vfio-modules", "%s: %s", real, module_state_name(st));
	}
}

static void check_firmware(struct checks *c, const struct sysroot *s, uid_t uid,
			   const struct plan *pl)
{
	const struct vm_profile *p = pl ? pl->p : NULL;
	struct fw_request req = { .arch = "x86_64", .machine = "q35" };
	_cleanup_free_ char *xdg = NULL;
	struct fw_choice fw = { 0 };
	char err[512] = "";

	if (p && p->firmware.type == VM_FW_BIOS) {
		ok(c, "firmware", "firmware: BIOS (SeaBIOS, built into QEMU)");
		return;
	}
	if (pl) {
		if (pl->fw_err[0])
			item(c, "firmware", VERDICT_FAIL, EXIT_NOT_READY, "apt install ovmf",
			     "firmware: %s", pl->fw_err);
		else
			ok(c, "firmware", "firmware: %s%s (%s)", pl->fw.code, pl->fw.secure_boot ?
			   " with Secure Boot" : "", pl->fw.descriptor ? pl->fw.descriptor : "profile");
		return;
	}
	if (uid != 0)
		(void)xdg_dir(XDG_CONFIG, uid, &xdg);
	if (fw_select(s->root_fd, xdg, &req, &fw, err, sizeof(err)) < 0) {
		item(c, "firmware", VERDICT_FAIL, EXIT_NOT_READY, "apt install ovmf", "firmware: %s", err);
		return;
	}
	ok(c, "firmware", "firmware: %s (%s)", fw.code, fw.descriptor);
	fw_choice_clear(&fw);
}

/* ---- what a profile needs ---- */

static bool in_path(const char *bin)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(bin, '/'))
		return access(bin, X_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; p && *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);

		if (n && (size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, bin) < sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		p = colon ? colon + 1 : NULL;
	}
	return false;
}

/* One vmrun per VM name: a running one holds the instance lock in its runtime directory. */
static void check_instance(struct checks *c, const struct plan *pl)
{
	struct vm_info vi;
	int fd;

	if (vm_dir_open(pl->runtime_dir, false, &fd, NULL) < 0)
		return; /* never ran, or not ours: the run will say so when it creates it */
	if (vm_is_running(fd))
		item(c, "instance", VERDICT_FAIL, EXIT_BUSY, "vmrun stop NAME, or pick another name",
		     "VM '%s' is already running (vmrun pid %d)", pl->p->name,
		     vm_info_read(fd, &vi) == 0 ? (int)vi.pid : 0);
	safe_close(fd);
}

static void check_qemu(struct checks *c, const struct plan *pl)
{
	const struct vm_profile *p = pl->p;
	const char *qemu = pl->argv ? pl->argv[0] : "qemu-system-x86_64";

	for (size_t i = 0; i < p->n_extra_args; i++)
		if (streq(p->extra_args[i], "-daemonize") || streq(p->extra_args[i], "--daemonize"))
			item(c, "extra-args", VERDICT_FAIL, EXIT_USAGE, "remove it from extra_args",
			     "%s: extra_args: -daemonize would let QEMU escape vmrun's supervision",
			     p->source);
	if (in_path(qemu))
		ok(c, "qemu", "QEMU: %s", qemu);
	else
		item(c, "qemu", VERDICT_FAIL, EXIT_NOT_READY, "apt install qemu-system-x86",
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
		ok(c, "memlock", "locked memory: running as root (CAP_IPC_LOCK), no limit applies");
		return;
	}
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)) {
		ok(c, "memlock", "locked memory: the limit covers %llu KiB", need >> 10);
		return;
	}
	if (helper) {
		ok(c, "memlock", "locked memory: vmrun-helper raises the limit to %llu KiB for the run",
		   need >> 10);
		return;
	}
	item(c, "memlock", VERDICT_FAIL, EXIT_NOT_READY, "install vmrun-helper (make install), or "
	     "raise RLIMIT_MEMLOCK (/etc/security/limits.d/, LimitMEMLOCK= in a unit)",
	     "locked memory: limit %llu KiB < %llu KiB needed to pin %s's RAM",
	     (unsigned long long)rl.rlim_cur >> 10, need >> 10, pl->p->name);
}

/* The group as the switch planned it: its verdict goes to the check that refused. */
static void check_group(struct checks *c, const struct plan_group *g)
{
	const struct switch_plan *sw = &g->sw;
	char list[768] = "", who[256];
	size_t len = 0;
	bool blocking = false;

	for (size_t i = 0; i < sw->n_devs && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s %s (%s)", i ? ", " : "",
					sw->devs[i].fn.name, group_role_name(sw->devs[i].role),
					sw->devs[i].fn.driver[0] ? sw->devs[i].fn.driver : "no driver");
	if (g->status && g->check && streq(g->check, "group-viable"))
		item(c, "group-viable", VERDICT_FAIL, EXIT_NOT_READY, "move the card to another slot, or "
		     "pass the other devices too (detach --allow-non-gpu; they leave the host)", "%s", g->why);
	else if (sw->group >= 0)
		ok(c, "group-viable", "%s: IOMMU group %d: %s", sw->gpu.name, sw->group, list);
	for (size_t k = 0; k < sw->holders.n; k++) {
		const struct holder *h = &sw->holders.v[k];
		bool blocks = holder_blocks(h, sw->n_modules > 0);

		blocking |= blocks;
		if (blocks)
			item(c, "holders", VERDICT_FAIL, EXIT_BUSY, "stop it, or keep the display server "
			     "off this GPU (Xorg: Option \"AutoAddGPU\" \"off\" and a kmsdev for the other "
			     "card; vmrun setup proposes it)", "%s: %s holds %s", h->function,
			     holder_describe(h, who, sizeof(who)), h->node);
		else
			item(c, "holders", VERDICT_WARN, 0, NULL, "%s: %s has %s open (it will lose the "
			     "device)", h->function, holder_describe(h, who, sizeof(who)), h->node);
	}
	if (!blocking && sw->group >= 0 && !(g->status && g->check && streq(g->check, "holders")))
		ok(c, "holders", "%s: no process holds the group's device nodes%s", sw->gpu.name,
		   sw->holders.unreadable ? " (partial scan: not root)" : "");
	if (g->status && (!g->check || (!streq(g->check, "group-viable") && !streq(g->check, "holders"))))
		item(c, g->check ? g->check : "switch", VERDICT_FAIL, switch_status_exit(g->status),
		     NULL, "%s", g->why);
	if (sw->gpu.boot_vga == 1)
		item(c, "boot-vga", VERDICT_WARN, 0, "use the other GPU as the boot display in the "
		     "firmware setup", "%s: is the boot display (boot_vga=1): the console and a boot "
		     "framebuffer may use it", sw->gpu.name);
}

/* Without a profile: every GPU but the host's display, as a candidate. */
static void check_all_gpus(struct checks *c, const struct sysroot *s, uid_t uid)
{
	_cleanup_free_ struct pci_function *all = NULL;
	size_t n = 0;

	if (pci_function_list(s, &all, &n, NULL) < 0) {
		item(c, "devices", VERDICT_FAIL, EXIT_NOT_READY, NULL, "cannot read PCI devices");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct switch_ctx sc = { .s = s, .state_fd = -1, .owner = uid };
		struct switch_opts o = { .dry_run = true };
		struct plan_group g = { .gpu = all[i].addr };

		if (!pci_is_display(&all[i]) || all[i].boot_vga == 1)
			continue;
		g.status = switch_plan_detach(&sc, &g.gpu, &o, &g.sw);
		g.check = sc.check;
		snprintf(g.why, sizeof(g.why), "%s", g.status ? sc.why : "");
		check_group(c, &g);
		switch_plan_clear(&g.sw);
	}
}

void preflight(const struct sysroot *s, uid_t uid, const struct plan *pl, struct checks *out)
{
	struct iommu_info info;
	struct priv priv;

	memset(out, 0, sizeof(*out));
	priv_init(&priv, s, NULL, NULL);
	(void)iommu_info_read(s, &info);
	check_kvm(out, s, &info, pl ? pl->p : NULL);
	check_iommu(out, &info);
	check_modules(out, s);
	check_firmware(out, s, uid, pl);
	if (!pl) {
		check_all_gpus(out, s, uid);
		return;
	}
	check_instance(out, pl);
	check_qemu(out, pl);
	check_memlock(out, uid, pl, priv.helper);
	for (size_t i = 0; i < pl->n_groups; i++)
		check_group(out, &pl->groups[i]);
}

void checks_clear(struct checks *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

const struct check_item *checks_first_fail(const struct checks *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].verdict == VERDICT_FAIL)
			return &c->v[i];
	return NULL;
}
