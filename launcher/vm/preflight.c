/* SPDX-License-Identifier: MIT */
#include "preflight.h"
#include "quirks.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deskhold.h"
#include "exitcodes.h"
#include "gpu.h"
#include "iommu.h"
#include "modules.h"
#include "priv.h"
#include "util.h"
#include "vmdir.h"
#include "xdg.h"

/* ---- the host ---- */

/* "add yourself to group 'kvm'": the group /dev/kvm really has, and the user by name. */
static void kvm_group_fix(const struct sysroot *s, uid_t uid, char *buf, size_t cap)
{
	struct stat st;
	struct group *g = NULL;
	struct passwd *pw = getpwuid(uid);

	if (fstatat(s->dev_fd, "kvm", &st, 0) == 0)
		g = getgrgid(st.st_gid);
	snprintf(buf, cap, "add yourself to group '%s' (sudo usermod -aG %s %s), then log in again",
		 g ? g->gr_name : "kvm", g ? g->gr_name : "kvm", pw ? pw->pw_name : "$USER");
}

static void check_kvm(struct checks *c, const struct sysroot *s, uid_t uid,
		      const struct iommu_info *info, const struct vm_profile *p)
{
	bool present = s->dev_fd >= 0 && faccessat(s->dev_fd, "kvm", F_OK, 0) == 0;
	bool usable = present && faccessat(s->dev_fd, "kvm", R_OK | W_OK, 0) == 0;
	char fix[256];

	if (p && p->accel == VM_ACCEL_TCG) {
		CHECK_OK(c, CHECK_KVM, "KVM: not used (accel: tcg; QEMU emulates the CPU, slowly)");
		return;
	}
	/* /dev/kvm working is the proof; a guest of another hypervisor may hide vmx/svm. */
	if (usable)
		CHECK_OK(c, CHECK_KVM, "KVM: /dev/kvm is usable%s", info->cpu_virt ? (streq(info->cpu_vendor,
		   "amd") ? " (AMD-V)" : " (VT-x)") : "");
	else if (present) {
		kvm_group_fix(s, uid, fix, sizeof(fix));
		checks_add(c, CHECK_KVM, VERDICT_FAIL, EXIT_NOT_READY, fix,
			   "KVM: /dev/kvm is there but not accessible to you (uid %u)", (unsigned)uid);
	} else if (!info->cpu_virt)
		checks_add(c, CHECK_KVM, VERDICT_FAIL, EXIT_NOT_READY, "enable VT-x / AMD-V (SVM) in the "
			   "firmware setup, or set accel: tcg (slow)",
			   "KVM: no /dev/kvm, and the CPU shows no vmx/svm flag");
	else
		checks_add(c, CHECK_KVM, VERDICT_FAIL, EXIT_NOT_READY, "load kvm_intel or kvm_amd "
			   "(sudo modprobe kvm_intel)", "KVM: /dev/kvm is missing");
}

static void check_iommu(struct checks *c, const struct iommu_info *info)
{
	const char *opt = streq(info->cpu_vendor, "amd") ?
				  "enable the IOMMU (AMD-Vi) in the firmware setup and add iommu=pt "
				  "to the kernel command line (vmrun setup proposes it)" :
				  "add intel_iommu=on iommu=pt to the kernel command line and enable "
				  "VT-d in the firmware setup (vmrun setup proposes it)";

	if (!info->active) {
		checks_add(c, CHECK_IOMMU, VERDICT_FAIL, EXIT_NOT_READY, opt, "IOMMU: not active (no IOMMU groups)");
		return;
	}
	CHECK_OK(c, CHECK_IOMMU, "IOMMU: active (%s, %u groups%s)", info->vendor[0] ? info->vendor :
	   "unknown vendor", info->n_groups, info->passthrough ? ", passthrough mode" : "");
	if (info->irq_remap == 1)
		CHECK_OK(c, CHECK_INTERRUPT_REMAPPING, "interrupt remapping: on");
	else if (info->irq_remap == 0)
		checks_add(c, CHECK_INTERRUPT_REMAPPING, VERDICT_FAIL, EXIT_NOT_READY,
		     "enable interrupt remapping in the firmware setup (VFIO refuses devices without "
		     "it unless vfio_iommu_type1.allow_unsafe_interrupts=1, which is unsafe)",
		     "interrupt remapping: off");
	else
		checks_add(c, CHECK_INTERRUPT_REMAPPING, VERDICT_WARN, 0, NULL,
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
			checks_add(c, CHECK_VFIO_MODULES, VERDICT_WARN, 0, NULL, "%s: cannot tell (%s)", mods[i],
			     strerror(-r));
		else if (st == MODULE_MISSING)
			checks_add(c, CHECK_VFIO_MODULES, VERDICT_FAIL, EXIT_NOT_READY,
			     "install a kernel built with VFIO (Debian's linux-image-amd64 has it)",
			     "%s: not in this kernel", mods[i]);
		else
			CHECK_OK(c, CHECK_VFIO_MODULES, "%s: %s", real, module_state_name(st));
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
		CHECK_OK(c, CHECK_FIRMWARE, "firmware: BIOS (SeaBIOS, built into QEMU)");
		return;
	}
	if (pl) {
		if (pl->fw_err[0])
			checks_add(c, CHECK_FIRMWARE, VERDICT_FAIL, EXIT_NOT_READY, "apt install ovmf",
			     "firmware: %s", pl->fw_err);
		else
			CHECK_OK(c, CHECK_FIRMWARE, "firmware: %s%s (%s)", pl->fw.code, pl->fw.secure_boot ?
			   " with Secure Boot" : "", pl->fw.descriptor ? pl->fw.descriptor : "profile");
		return;
	}
	if (uid != 0)
		(void)xdg_dir(XDG_CONFIG, uid, &xdg);
	if (fw_select(s->root_fd, xdg, &req, &fw, err, sizeof(err)) < 0) {
		checks_add(c, CHECK_FIRMWARE, VERDICT_FAIL, EXIT_NOT_READY, "apt install ovmf", "firmware: %s", err);
		return;
	}
	CHECK_OK(c, CHECK_FIRMWARE, "firmware: %s (%s)", fw.code, fw.descriptor);
	fw_choice_clear(&fw);
}

/* ---- the GPUs ---- */

/* The group as the switch planned it: its verdict goes to the check that refused. */
/* How the kernel resets the GPU between runs; none at all is the AMD "reset bug". */
static void check_reset(struct checks *c, const struct plan_group *g)
{
	const struct switch_plan *sw = &g->sw;

	for (size_t i = 0; i < sw->n_devs; i++) {
		const struct switch_dev *d = &sw->devs[i];

		if (d->role != ROLE_GPU)
			continue;
		if (d->reset_wanted)
			CHECK_OK(c, CHECK_RESET, "%s: reset by vendor-reset during runs (reset_method "
			   "device_specific; now %s)", d->fn.name, d->fn.reset_method[0] ?
			   d->fn.reset_method : "none");
		else if (d->fn.has_reset_method && !d->fn.reset_method[0])
			checks_add(c, CHECK_RESET, VERDICT_WARN, 0, "AMD Polaris, Vega, Navi 10: load the "
				   "vendor-reset module (vmrun then uses its device_specific reset); "
				   "else keep the GPU on vfio-pci between runs (pci[N].after: vfio-pci) "
				   "and reboot to reset it", "%s: the kernel has no way to reset it "
				   "(reset_method is empty): a guest reboot or the next run may find it "
				   "hung", d->fn.name);
		else if (d->fn.reset_method[0])
			CHECK_OK(c, CHECK_RESET, "%s: the kernel resets it by %s", d->fn.name, d->fn.reset_method);
	}
}

/* Each process holding a node of the group: a FAIL when it blocks the switch, a warning when it
 * only loses the device, or when a vendor service of the system's is stopped for the run.
 * Whether any blocks. */
static bool check_holders(struct checks *c, const struct switch_plan *sw)
{
	bool blocking = false;
	char who[256];

	for (size_t k = 0; k < sw->holders.n; k++) {
		const struct holder *h = &sw->holders.v[k];
		bool blocks = holder_blocks(h, sw->n_modules > 0);

		if (blocks && quirk_holder_service(h)) {
			checks_add(c, CHECK_HOLDERS, VERDICT_WARN, 0, NULL, "%s: %s holds %s: %s is stopped "
				   "for the run and started again after", h->function,
				   holder_describe(h, who, sizeof(who)), h->node, quirk_holder_service(h));
			continue;
		}
		if (blocks && sw->release && h->releasable) {
			checks_add(c, CHECK_HOLDERS, VERDICT_WARN, 0, NULL, "%s: %s holds %s: it is asked to "
				   "let go for the run (release), and offered it back after%s%s",
				   h->function, holder_describe(h, who, sizeof(who)), h->node,
				   sw->monitors[0] && display_server_info(h->ds)->compositor ?
				   "; these monitors go dark for the run: " : "",
				   display_server_info(h->ds)->compositor ? sw->monitors : "");
			continue;
		}
		blocking |= blocks;
		if (blocks) {
			char fix[512];

			deskhold_fix(h, fix, sizeof(fix));
			checks_add(c, CHECK_HOLDERS, VERDICT_FAIL, EXIT_BUSY, fix, "%s: %s holds %s",
				   h->function, holder_describe(h, who, sizeof(who)), h->node);
		} else
			checks_add(c, CHECK_HOLDERS, VERDICT_WARN, 0, NULL, "%s: %s has %s open (it will lose the "
			     "device)", h->function, holder_describe(h, who, sizeof(who)), h->node);
	}
	return blocking;
}

static void check_group(struct checks *c, const struct plan_group *g)
{
	const struct switch_plan *sw = &g->sw;
	char list[768] = "";
	size_t len = 0;
	bool blocking = false;

	for (size_t i = 0; i < sw->n_devs && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s %s (%s)", i ? ", " : "",
					sw->devs[i].fn.name, group_role_name(sw->devs[i].role),
					sw->devs[i].fn.driver[0] ? sw->devs[i].fn.driver : "no driver");
	if (g->status && g->check == CHECK_GROUP_VIABLE)
		checks_add(c, CHECK_GROUP_VIABLE, VERDICT_FAIL, EXIT_NOT_READY, "move the card to another slot, or "
		     "pass the other devices too (detach --allow-non-gpu; they leave the host)", "%s", g->why);
	else if (sw->group >= 0)
		CHECK_OK(c, CHECK_GROUP_VIABLE, "%s: IOMMU group %d: %s", sw->gpu.name, sw->group, list);
	blocking = check_holders(c, sw);
	if (!blocking && sw->group >= 0 && !(g->status && g->check == CHECK_HOLDERS))
		CHECK_OK(c, CHECK_HOLDERS, "%s: no process holds the group's device nodes%s", sw->gpu.name,
		   sw->holders.unreadable ? " (partial scan: not root)" : "");
	if (g->status && g->check != CHECK_GROUP_VIABLE && g->check != CHECK_HOLDERS)
		checks_add(c, g->check ? g->check : CHECK_SWITCH, VERDICT_FAIL, switch_status_exit(g->status),
			   g->check == CHECK_DEVICES ? "list only GPUs under pci: (their "
			   "audio and USB functions come along by themselves); `vmrun gpus` shows them" :
			   NULL, "%s", g->why);
	if (!g->status && sw->console.needed && sw->console.to_fb >= 0) {
		char fix[128], cons[192];

		console_list_text(&sw->console, cons, sizeof(cons));
		snprintf(fix, sizeof(fix), "for good: boot with fbcon=map:%d (`vmrun setup` proposes it)",
			 sw->console.to_fb);
		checks_add(c, CHECK_CONSOLE, VERDICT_WARN, 0, fix, "%s: the text console (fbcon, consoles "
			   "%s) is on its framebuffer fb%u: it moves to fb%d (%s) while the VM runs, and "
			   "back after", sw->gpu.name, cons, sw->console.v[0].fb, sw->console.to_fb,
			   sw->console.to_dev);
	}
	check_reset(c, g);
	if (g->keep)
		CHECK_OK(c, CHECK_AFTER, "%s stays on vfio-pci after each run (%s); `vmrun attach %s` gives it "
		   "back", sw->gpu.name, g->keep_why, sw->gpu.name);
	if (sw->gpu.boot_vga == 1)
		checks_add(c, CHECK_BOOT_VGA, VERDICT_WARN, 0, "use the other GPU as the boot display in the "
		     "firmware setup", "%s: is the boot display (boot_vga=1): the console and a boot "
		     "framebuffer may use it", sw->gpu.name);
}

/* Without a profile: every GPU but the host's display, as a candidate. */
static void check_all_gpus(struct checks *c, const struct sysroot *s, uid_t uid)
{
	_cleanup_free_ struct pci_function *all = NULL;
	size_t n = 0;

	if (pci_function_list(s, &all, &n, NULL) < 0) {
		checks_add(c, CHECK_DEVICES, VERDICT_FAIL, EXIT_NOT_READY, NULL, "cannot read PCI devices");
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
		preflight_next_login(s, uid, &g.sw, c);
		preflight_vendor(s, &g.sw, c);
		switch_plan_clear(&g.sw);
	}
}

/* A check the host part already failed (IOMMU off, VFIO missing) is not said again per group. */
void preflight(const struct sysroot *s, uid_t uid, const struct plan *pl, struct checks *out)
{
	/* Without pci: no VFIO, so neither the IOMMU nor its modules matter to this VM. */
	bool vfio = !pl || pl->p->n_pci > 0;
	struct iommu_info info;
	struct priv priv;

	memset(out, 0, sizeof(*out));
	priv_init(&priv, s, NULL, NULL);
	(void)iommu_info_read(s, &info);
	check_kvm(out, s, uid, &info, pl ? pl->p : NULL);
	if (vfio) {
		check_iommu(out, &info);
		check_modules(out, s);
	}
	check_firmware(out, s, uid, pl);
	if (!pl) {
		check_all_gpus(out, s, uid);
		return;
	}
	preflight_profile(s, uid, pl, priv.helper, out);
	preflight_share(s, uid, pl, priv.helper, out);
	for (size_t i = 0; i < pl->n_groups; i++)
		if (!pl->groups[i].check || !checks_failed(out, pl->groups[i].check)) {
			check_group(out, &pl->groups[i]);
			preflight_next_login(s, uid, &pl->groups[i].sw, out);
			preflight_vendor(s, &pl->groups[i].sw, out);
		}
}
