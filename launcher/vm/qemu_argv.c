/* SPDX-License-Identifier: MIT */
#include "qemu_argv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct argv {
	char **v;
	size_t n, cap;
	int err;
};

static void add(struct argv *a, const char *s)
{
	char **nv;

	if (a->err)
		return;
	if (a->n + 2 > a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 64;

		nv = reallocarray(a->v, ncap, sizeof(*nv));
		if (!nv) {
			a->err = -ENOMEM;
			return;
		}
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n] = strdup(s);
	if (!a->v[a->n]) {
		a->err = -ENOMEM;
		return;
	}
	a->v[++a->n] = NULL;
}

_printf_(2, 3) static void addf(struct argv *a, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		a->err = -ENOMEM;
		return;
	}
	add(a, s);
	free(s);
}

static void add2(struct argv *a, const char *opt, const char *val)
{
	add(a, opt);
	add(a, val);
}

static bool machine_is_q35(const char *m)
{
	return vm_machine_is_q35(m);
}

static void add_machine(struct argv *a, const struct vm_profile *p, const struct host_facts *h)
{
	bool smm = h->firmware && h->firmware->requires_smm;
	bool windows = p->os == VM_OS_WINDOWS;

	/* vmport is a VMware backdoor nobody passes a GPU through for; HPET off is what Windows
	 * guests want for timer accuracy (quickemu, virt-manager's Windows defaults). */
	addf(a, "%s,vmport=off%s%s%s", p->machine, smm ? ",smm=on" : "", windows ? ",hpet=off" : "",
	     p->hugepages ? ",memory-backend=vmrun-ram" : "");
	/* Pinned vCPUs under TCG need one thread each (MTTCG). */
	add2(a, "-accel", p->accel == VM_ACCEL_KVM ? "kvm" : p->cpu.n_pin ? "tcg,thread=multi" : "tcg");
	if (smm) /* Secure Boot firmware protects its variable store through SMM. */
		add2(a, "-global", "driver=cfi.pflash01,property=secure,value=on");
	if (windows && machine_is_q35(p->machine)) {
		add2(a, "-global", "ICH9-LPC.disable_s3=1");
		add2(a, "-global", "ICH9-LPC.disable_s4=1");
	}
}

/* Hyper-V enlightenments as libvirt and Proxmox enable them for Windows; they need KVM. */
static const char hyperv_set[] = ",hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime"
				 ",hv-synic,hv-stimer,hv-reset,hv-frequencies,hv-time";

static void add_cpu(struct argv *a, const struct vm_profile *p)
{
	unsigned n = p->cpu.sockets * p->cpu.cores * p->cpu.threads;
	bool hv = p->hyperv && p->accel == VM_ACCEL_KVM;

	/* kvm=off hides the KVM signature; hv-vendor-id replaces "Microsoft Hv" so NVIDIA's
	 * driver does not refuse to start in a VM (code 43). */
	addf(a, "%s%s%s%s%s", p->cpu.model, p->hide_kvm ? ",kvm=off" : "",
	     p->hyperv_vendor_id ? ",hv-vendor-id=" : "", p->hyperv_vendor_id ? p->hyperv_vendor_id : "",
	     hv ? hyperv_set : "");
	add(a, "-smp");
	addf(a, "%u,sockets=%u,cores=%u,threads=%u", n, p->cpu.sockets, p->cpu.cores, p->cpu.threads);
	add(a, "-m");
	if (p->memory % (1024 * 1024) == 0)
		addf(a, "%" PRIu64 "M", p->memory / (1024 * 1024));
	else
		addf(a, "%" PRIu64 "K", (p->memory + 1023) / 1024);
	/* Guest RAM on hugepages: a hugetlb memfd needs no hugetlbfs mount, and prealloc fails the
	 * start (not a guest page fault later) when pages are short. */
	if (p->hugepages) {
		add(a, "-object");
		addf(a, "memory-backend-memfd,id=vmrun-ram,size=%" PRIu64 "M,hugetlb=on,"
		     "hugetlbsize=%s,prealloc=on", p->memory >> 20, vm_hugepages_name(p->hugepages));
	}
}

static void add_firmware(struct argv *a, const struct vm_profile *p, const struct host_facts *h)
{
	const struct fw_choice *fw = h->firmware;

	if (p->firmware.type != VM_FW_UEFI)
		return;
	/* Code is mapped read-only and shared; the vars are the VM's own copy, never the template. */
	add(a, "-drive");
	addf(a, "if=pflash,unit=0,format=%s,readonly=on,file=%s",
	     fw->code_format ? fw->code_format : "raw", fw->code);
	add(a, "-drive");
	addf(a, "if=pflash,unit=1,format=%s,file=%s", fw->vars_format ? fw->vars_format : "raw",
	     h->vars_path);
}

/* The next free SATA port: q35's AHCI has ide.0-5, one unit each; i440fx's IDE two buses of two. */
static void sata_bus(const struct vm_profile *p, unsigned *port, char *buf, size_t cap)
{
	unsigned n = (*port)++;

	if (machine_is_q35(p->machine))
		snprintf(buf, cap, "bus=ide.%u", n);
	else
		snprintf(buf, cap, "bus=ide.%u,unit=%u", n / 2, n % 2);
}

static void add_disk(struct argv *a, const struct vm_profile *p, size_t i, unsigned *sata_port,
		     int bootindex)
{
	const struct vm_disk *d = &p->disks[i];
	bool raw_dev = d->device != NULL, cd = d->media == VM_MEDIA_CDROM;
	char bus[32], boot[24] = "";

	if (bootindex >= 0)
		snprintf(boot, sizeof(boot), ",bootindex=%d", bootindex);
	add(a, "-drive");
	/* Raw block devices bypass the host page cache (cache=none + native AIO), as libvirt does. */
	addf(a, "if=none,id=vmrun-disk%zu,file=%s,format=%s%s%s%s", i, raw_dev ? d->device : d->path,
	     d->format, raw_dev ? ",cache=none,aio=native" : "", cd ? ",media=cdrom" : "",
	     d->readonly ? ",readonly=on" : "");
	add(a, "-device");
	switch (d->interface) {
	case VM_DISK_VIRTIO:
		addf(a, "virtio-blk-pci,drive=vmrun-disk%zu,id=vmrun-disk%zu-dev%s", i, i, boot);
		break;
	case VM_DISK_SATA:
		sata_bus(p, sata_port, bus, sizeof(bus));
		addf(a, "%s,drive=vmrun-disk%zu,id=vmrun-disk%zu-dev,%s%s", cd ? "ide-cd" : "ide-hd", i,
		     i, bus, boot);
		break;
	case VM_DISK_NVME:
		addf(a, "nvme,drive=vmrun-disk%zu,id=vmrun-disk%zu-dev,serial=vmrun%zu%s", i, i, i, boot);
		break;
	}
}

/*
 * The disks, and in an install run the installation media after them: the first medium boots
 * (bootindex 1), then the first hard disk (2), so the installer's reboots come back to it.
 * Not 0: a direct kernel boot's option ROM (linuxboot) has that one, and QEMU refuses a second.
 */
static void add_disks(struct argv *a, const struct vm_profile *p, const struct host_facts *h)
{
	unsigned sata_port = 0;
	bool first_hd = true;

	for (size_t i = 0; i < p->n_disks; i++) {
		bool hd = p->disks[i].media == VM_MEDIA_DISK;

		add_disk(a, p, i, &sata_port, h->install && hd && first_hd ? 2 : -1);
		first_hd &= !hd;
	}
	for (size_t i = 0; h->install && i < p->install.n_media; i++) {
		char bus[32];

		add(a, "-drive");
		addf(a, "if=none,id=vmrun-install%zu,file=%s,format=raw,media=cdrom,readonly=on", i,
		     p->install.media[i]);
		sata_bus(p, &sata_port, bus, sizeof(bus));
		add(a, "-device");
		addf(a, "ide-cd,drive=vmrun-install%zu,id=vmrun-install%zu-dev,%s%s", i, i, bus,
		     i == 0 ? ",bootindex=1" : "");
	}
}

/* A TPM 2.0: swtpm (started by the run) on a socket in the runtime directory. */
static void add_tpm(struct argv *a, const struct vm_profile *p, const struct host_facts *h)
{
	if (!p->tpm)
		return;
	add(a, "-chardev");
	addf(a, "socket,id=vmrun-tpm-chr,path=%s/swtpm.sock", h->runtime_dir);
	add2(a, "-tpmdev", "emulator,id=vmrun-tpm,chardev=vmrun-tpm-chr");
	/* CRB is what Windows 11 and libvirt use on q35; i440fx has the older TIS interface. */
	add2(a, "-device", machine_is_q35(p->machine) ? "tpm-crb,tpmdev=vmrun-tpm" :
							  "tpm-tis,tpmdev=vmrun-tpm");
}

static void add_usb(struct argv *a, const struct vm_profile *p)
{
	if (p->n_usb == 0)
		return;
	add2(a, "-device", "qemu-xhci,id=vmrun-xhci");
	for (size_t i = 0; i < p->n_usb; i++) {
		add(a, "-device");
		if (p->usb[i].bus)
			addf(a, "usb-host,id=vmrun-usb%zu,bus=vmrun-xhci.0,hostbus=%u,hostport=%s", i,
			     p->usb[i].bus, p->usb[i].port);
		else
			addf(a, "usb-host,id=vmrun-usb%zu,bus=vmrun-xhci.0,vendorid=0x%04x,"
			     "productid=0x%04x", i, p->usb[i].vendor, p->usb[i].product);
	}
}

static size_t slot_functions(const struct host_facts *h, size_t first)
{
	size_t n = 1;

	while (first + n < h->n_hostdevs &&
	       pci_addr_same_slot(&h->hostdevs[first].host, &h->hostdevs[first + n].host))
		n++;
	return n;
}

/*
 * Each host slot becomes one guest slot with the same function numbers, so the guest sees one
 * multi-function card (driver installers look for the GPU's audio at function 1). On q35 each
 * slot sits behind its own PCIe root port, as on real hardware.
 */
static void add_hostdevs(struct argv *a, const struct vm_profile *p, const struct host_facts *h)
{
	bool q35 = machine_is_q35(p->machine);
	unsigned slot = 0;

	for (size_t i = 0; i < h->n_hostdevs; slot++) {
		size_t n = slot_functions(h, i);

		if (q35) {
			add(a, "-device");
			addf(a, "pcie-root-port,id=vmrun-rp%u,chassis=%u,bus=pcie.0", slot, slot + 1);
		}
		for (size_t j = i; j < i + n; j++) {
			const struct qemu_hostdev *d = &h->hostdevs[j];
			char host[PCI_ADDR_STR_MAX], bus[32];

			if (q35)
				snprintf(bus, sizeof(bus), "vmrun-rp%u,addr=00.%x", slot, d->host.fn);
			else
				snprintf(bus, sizeof(bus), "pci.0,addr=%02x.%x", 0x10 + slot, d->host.fn);
			add(a, "-device");
			addf(a, "vfio-pci,host=%s,id=vmrun-hostdev%zu,bus=%s%s%s%s",
			     pci_addr_format(&d->host, host), j, bus,
			     n > 1 && j == i ? ",multifunction=on" : "", d->rom ? ",romfile=" : "",
			     d->rom ? d->rom : "");
		}
		i += n;
	}
}

static void add_network(struct argv *a, const struct vm_profile *p)
{
	const struct vm_network *n = &p->network;

	if (n->type == VM_NET_NONE)
		return;
	add(a, "-netdev");
	if (n->type == VM_NET_USER)
		add(a, "user,id=vmrun-net0");
	else
		addf(a, "bridge,id=vmrun-net0,br=%s", n->bridge);
	add(a, "-device");
	addf(a, "%s,id=vmrun-nic0,netdev=vmrun-net0%s%s", n->model, n->mac ? ",mac=" : "", n->mac ? n->mac : "");
}

static enum vm_display display_of(const struct vm_profile *p, const struct host_facts *h)
{
	if (!h->install)
		return p->display;
	return h->install->display == VM_INSTALL_GTK	 ? VM_DISPLAY_GTK
	       : h->install->display == VM_INSTALL_SPICE ? VM_DISPLAY_SPICE
							 : VM_DISPLAY_VNC;
}

static void add_display(struct argv *a, const struct vm_profile *p, const struct host_facts *h)
{
	switch (display_of(p, h)) {
	case VM_DISPLAY_NONE:
		add2(a, "-display", "none");
		break;
	case VM_DISPLAY_GTK:
		add2(a, "-device", "virtio-vga");
		add2(a, "-display", "gtk");
		break;
	case VM_DISPLAY_SPICE:
		add2(a, "-device", "qxl-vga");
		add(a, "-spice");
		addf(a, "unix=on,addr=%s/spice.sock,disable-ticketing=on", h->runtime_dir);
		break;
	case VM_DISPLAY_VNC:
		add2(a, "-device", "VGA");
		add(a, "-vnc");
		/* The installer's VNC is for a viewer on this machine: the first free port from
		 * 5900 on localhost. A profile's own VNC stays a socket only its user can open. */
		if (h->install)
			add(a, "127.0.0.1:0,to=99");
		else
			addf(a, "unix:%s/vnc.sock", h->runtime_dir);
		break;
	}
}

/* Keyboard and mouse through evdev: the toggle moves both between host and guest. */
static void add_input(struct argv *a, const struct vm_profile *p)
{
	if (p->input.keyboard) {
		add(a, "-object");
		addf(a, "input-linux,id=vmrun-kbd,evdev=%s,grab_all=on,repeat=on,grab-toggle=%s",
		     p->input.keyboard, vm_toggle_name(p->input.toggle));
	}
	if (p->input.mouse) {
		add(a, "-object");
		addf(a, "input-linux,id=vmrun-mouse,evdev=%s", p->input.mouse);
	}
}

/* The guest's frames for the host's Looking Glass client: ivshmem on a shared file. */
static void add_looking_glass(struct argv *a, const struct vm_profile *p, const struct host_facts *h)
{
	if (!p->looking_glass.on)
		return;
	add(a, "-object");
	addf(a, "memory-backend-file,id=vmrun-lg,share=on,mem-path=%s,size=%" PRIu64,
	     h->looking_glass, p->looking_glass.size);
	add2(a, "-device", "ivshmem-plain,id=vmrun-lg-dev,memdev=vmrun-lg");
}

/* HDA to the session's sound server, through the PulseAudio protocol (QEMU 7.2 has no
 * PipeWire backend; pipewire-pulse serves it). */
static void add_audio(struct argv *a, const struct vm_profile *p, const struct host_facts *h)
{
	if (!p->audio)
		return;
	add(a, "-audiodev");
	addf(a, "pa,id=vmrun-audio,server=%s", h->pulse_server);
	add2(a, "-device", machine_is_q35(p->machine) ? "ich9-intel-hda,id=vmrun-hda" :
							  "intel-hda,id=vmrun-hda");
	add2(a, "-device", p->audio_input ? "hda-duplex,bus=vmrun-hda.0,audiodev=vmrun-audio" :
					    "hda-output,bus=vmrun-hda.0,audiodev=vmrun-audio");
}

static void add_boot(struct argv *a, const struct vm_profile *p)
{
	if (!p->boot.kernel)
		return;
	add2(a, "-kernel", p->boot.kernel);
	if (p->boot.initrd)
		add2(a, "-initrd", p->boot.initrd);
	if (p->boot.cmdline)
		add2(a, "-append", p->boot.cmdline);
}

static void add_control(struct argv *a, const struct vm_profile *p, const struct host_facts *h)
{
	add(a, "-chardev");
	addf(a, "socket,id=vmrun-qmp,path=%s/qmp.sock,server=on,wait=off", h->runtime_dir);
	add2(a, "-mon", "chardev=vmrun-qmp,mode=control");
	/* A second monitor for `vmrun stop` and `vmrun status`: the first belongs to the supervisor. */
	add(a, "-chardev");
	addf(a, "socket,id=vmrun-ctl,path=%s/control.sock,server=on,wait=off", h->runtime_dir);
	add2(a, "-mon", "chardev=vmrun-ctl,mode=control");
	add(a, "-pidfile");
	addf(a, "%s/qemu.pid", h->runtime_dir);
	/* The guest powering off stops QEMU but keeps it: vmrun sees SHUTDOWN and decides. */
	add(a, "-no-shutdown");
	/* Pinned: paused until the run has put each vCPU thread where cpu.pin says. */
	if (p->cpu.n_pin)
		add(a, "-S");
	/* QEMU's seccomp filter; spawning stays allowed only for the bridge helper. */
	add2(a, "-sandbox", p->network.type == VM_NET_BRIDGE ?
				    "on,obsolete=deny,elevateprivileges=deny,resourcecontrol=deny" :
				    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
}

int qemu_argv_build(const struct vm_profile *p, const struct host_facts *h, char ***ret)
{
	struct argv a = { 0 };

	if (!p || !h || !h->runtime_dir || (p->firmware.type == VM_FW_UEFI &&
					    (!h->firmware || !h->firmware->code || !h->vars_path)) ||
	    (p->looking_glass.on && !h->looking_glass) || (p->audio && !h->pulse_server))
		return -EINVAL;
	add(&a, h->qemu_binary ? h->qemu_binary : "qemu-system-x86_64");
	add(&a, "-name");
	addf(&a, "guest=%s,debug-threads=on", p->name);
	/* No default NIC, VGA, serial, parallel or CD: the VM has exactly what the profile says. */
	add(&a, "-nodefaults");
	add(&a, "-no-user-config");
	add(&a, "-machine");
	add_machine(&a, p, h);
	add(&a, "-cpu");
	add_cpu(&a, p);
	add_firmware(&a, p, h);
	add2(&a, "-rtc", p->rtc == VM_RTC_UTC ? "base=utc,driftfix=slew" : "base=localtime,driftfix=slew");
	add_disks(&a, p, h);
	add_tpm(&a, p, h);
	add_usb(&a, p);
	add_hostdevs(&a, p, h);
	add_network(&a, p);
	add_display(&a, p, h);
	add_input(&a, p);
	add_looking_glass(&a, p, h);
	add_audio(&a, p, h);
	add_boot(&a, p);
	add_control(&a, p, h);
	for (size_t i = 0; i < p->n_extra_args; i++)
		add(&a, p->extra_args[i]);
	if (a.err) {
		strv_free(a.v);
		return a.err;
	}
	*ret = a.v;
	return 0;
}

char *shell_quote(const char *arg)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				   "@%+=:,./-_";
	size_t n = 2, len = strlen(arg);
	char *out, *o;

	if (len && strspn(arg, safe) == len)
		return strdup(arg);
	for (const char *c = arg; *c; c++)
		n += *c == '\'' ? 4 : 1;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	o = out;
	*o++ = '\'';
	for (const char *c = arg; *c; c++) {
		if (*c == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *c;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}
