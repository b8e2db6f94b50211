/* SPDX-License-Identifier: MIT */
/* Each section of a profile, from libcyaml's struct to ours: defaults and the rules between keys. */
#include "profload.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "names.h"

static const char *const os_names[] = { [VM_OS_WINDOWS] = "windows", [VM_OS_LINUX] = "linux",
					[VM_OS_OTHER] = "other" };
static const char *const accel_names[] = { [VM_ACCEL_KVM] = "kvm", [VM_ACCEL_TCG] = "tcg" };
static const char *const fw_names[] = { [VM_FW_UEFI] = "uefi", [VM_FW_BIOS] = "bios" };
static const char *const disk_if_names[] = { [VM_DISK_VIRTIO] = "virtio", [VM_DISK_SATA] = "sata",
					     [VM_DISK_NVME] = "nvme" };
static const char *const rtc_names[] = { [VM_RTC_UTC] = "utc", [VM_RTC_LOCALTIME] = "localtime" };
static const char *const display_names[] = { [VM_DISPLAY_NONE] = "none",
					     [VM_DISPLAY_GTK] = "gtk",
					     [VM_DISPLAY_SPICE] = "spice",
					     [VM_DISPLAY_VNC] = "vnc" };
static const char *const net_names[] = { [VM_NET_NONE] = "none", [VM_NET_USER] = "user",
					 [VM_NET_BRIDGE] = "bridge" };
static const char *const format_names[] = { "raw", "qcow2" };

#define NAME_OF(table, v) ((unsigned)(v) < ARRAY_SIZE(table) ? table[v] : NULL)

const char *vm_os_name(enum vm_os o)
{
	return NAME_OF(os_names, o);
}
const char *vm_accel_name(enum vm_accel a)
{
	return NAME_OF(accel_names, a);
}
const char *vm_fw_type_name(enum vm_fw_type t)
{
	return NAME_OF(fw_names, t);
}
const char *vm_disk_if_name(enum vm_disk_if i)
{
	return NAME_OF(disk_if_names, i);
}
const char *vm_rtc_name(enum vm_rtc r)
{
	return NAME_OF(rtc_names, r);
}
const char *vm_display_name(enum vm_display d)
{
	return NAME_OF(display_names, d);
}
const char *vm_net_type_name(enum vm_net_type t)
{
	return NAME_OF(net_names, t);
}

/* "8GB", "8 G", "8g", "8GiB": what was meant is plain to see; say how to write it. */
static int memory_mistake(struct load_ctx *c, const char *s)
{
	char digits[24] = "", unit = 0;
	size_t n = strspn(s, "0123456789");
	const char *rest = s + n;

	if (n > 0 && n < sizeof(digits)) {
		memcpy(digits, s, n);
		rest += strspn(rest, " ");
		if (strchr("kKmMgGtT", *rest) && *rest) {
			unit = (char)toupper((unsigned char)*rest);
			rest++;
			if (streq(rest, "") || streq(rest, "B") || streq(rest, "b") || streq(rest, "iB") ||
			    streq(rest, "ib"))
				return pfail(c, line_of(c, "memory", true), "memory", "expected a size "
					     "like 8G, got %s; did you mean \"%s%c\"? (upper-case unit, "
					     "no space, no B; powers of 1024)", QUOTE(s), digits, unit);
		}
	}
	return pfail(c, line_of(c, "memory", true), "memory",
		     "expected a size like 8G, 512M, 1024K, 2T or a number of bytes, got %s", QUOTE(s));
}

static int convert_top(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	char size_text[64] = "";
	const char *s;
	int r;

	r = val_required(c, "name", y->name, &s);
	if (r < 0)
		return r;
	if (!vm_name_is_valid(s))
		return pfail(c, line_of(c, "name", true), "name", "expected %s, got %s", VM_NAME_RULE,
			     QUOTE(s));
	r = val_dup(c, s, &p->name);
	if (r < 0)
		return r;

	r = GET_ENUM(c, "os", y->os, os_names, &p->os);
	if (r < 0)
		return r;
	p->hyperv = p->os == VM_OS_WINDOWS;

	r = val_required(c, "memory", y->memory, &s);
	if (r < 0)
		return r;
	r = parse_memory_size(s, &p->memory);
	copy_str(size_text, sizeof(size_text), s);
	if (r == -ERANGE)
		return pfail(c, line_of(c, "memory", true), "memory", "size %s is too large",
			    QUOTE(size_text));
	if (r < 0)
		return memory_mistake(c, size_text);
	if (p->memory < MEMORY_MIN && strspn(size_text, "0123456789") == strlen(size_text))
		return pfail(c, line_of(c, "memory", true), "memory", "%s is a number of bytes, "
			     "less than the 16M minimum; give the unit: %sM or %sG", QUOTE(size_text),
			     size_text, size_text);
	if (p->memory < MEMORY_MIN)
		return pfail(c, line_of(c, "memory", true), "memory", "must be at least 16M, got %s",
			    QUOTE(size_text));

	r = val_option_string(c, "machine", y->machine, &s);
	if (r < 0 || (r = val_dup(c, s ? s : "q35", &p->machine)) < 0)
		return r;
	r = GET_ENUM(c, "accel", y->accel, accel_names, &p->accel);
	if (r < 0)
		return r;
	r = val_bool(c, "hide_kvm", y->hide_kvm, &p->hide_kvm);
	if (r < 0)
		return r;
	r = val_bool(c, "hyperv", y->hyperv, &p->hyperv);
	if (r < 0)
		return r;
	r = GET_ENUM(c, "rtc", y->rtc, rtc_names, &p->rtc);
	if (r < 0)
		return r;
	r = GET_ENUM(c, "display", y->display, display_names, &p->display);
	if (r < 0)
		return r;
	p->shutdown_timeout = 60;
	return val_uint(c, "shutdown_timeout", y->shutdown_timeout, 1, 3600, &p->shutdown_timeout);
}

static int convert_vendor_id(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	const char *s;
	size_t n;
	int r = val_scalar(c, "hyperv_vendor_id", y->hyperv_vendor_id, &s);

	if (r < 0 || !s)
		return r;
	n = strlen(s);
	if (n < 1 || n > 12)
		return pfail(c, line_of(c, "hyperv_vendor_id", true), "hyperv_vendor_id",
			    "expected 1 to 12 characters, got %zu", n);
	for (const char *q = s; *q; q++)
		if (*q < 0x20 || *q > 0x7e || *q == ',')
			return pfail(c, line_of(c, "hyperv_vendor_id", true), "hyperv_vendor_id",
				    "expected printable ASCII without ',', got %s", QUOTE(s));
	return val_dup(c, s, &p->hyperv_vendor_id);
}

static int convert_cpu(struct load_ctx *c, const struct cy_cpu *y, struct vm_profile *p)
{
	const char *model = NULL;
	int r;

	p->cpu.sockets = 1;
	p->cpu.cores = 2;
	p->cpu.threads = 1;
	if (y) {
		if ((r = val_option_string(c, "cpu.model", y->model, &model)) < 0 ||
		    (r = val_uint(c, "cpu.sockets", y->sockets, 1, 1024, &p->cpu.sockets)) < 0 ||
		    (r = val_uint(c, "cpu.cores", y->cores, 1, 1024, &p->cpu.cores)) < 0 ||
		    (r = val_uint(c, "cpu.threads", y->threads, 1, 1024, &p->cpu.threads)) < 0)
			return r;
		if ((uint64_t)p->cpu.sockets * p->cpu.cores * p->cpu.threads > 1024)
			return pfail(c, line_of(c, "cpu", false), "cpu",
				    "sockets * cores * threads is %llu, at most 1024 vCPUs",
				    (unsigned long long)p->cpu.sockets * p->cpu.cores *
					    p->cpu.threads);
	}
	if (!model)
		model = p->accel == VM_ACCEL_TCG ? "max" : "host";
	return val_dup(c, model, &p->cpu.model);
}

static int convert_firmware(struct load_ctx *c, const struct cy_firmware *y, struct vm_profile *p)
{
	int r;

	if (!y)
		return 0;
	if ((r = GET_ENUM(c, "firmware.type", y->type, fw_names, &p->firmware.type)) < 0 ||
	    (r = val_bool(c, "firmware.secure_boot", y->secure_boot, &p->firmware.secure_boot)) < 0 ||
	    (r = val_path(c, "firmware.code", y->code, true, &p->firmware.code)) < 0 ||
	    (r = val_path(c, "firmware.vars", y->vars, true, &p->firmware.vars)) < 0)
		return r;
	const char *code = p->firmware.code, *vars = p->firmware.vars;

	if (p->firmware.secure_boot && p->firmware.type == VM_FW_BIOS)
		return pfail(c, line_of(c, "firmware.secure_boot", true), "firmware.secure_boot",
			    "secure boot needs firmware type uefi, not bios");
	/* A vars template belongs to one code image: mixing ours and theirs loses NVRAM. */
	if (vars && !code)
		return pfail(c, line_of(c, "firmware.vars", false), "firmware.vars",
			    "needs firmware.code too: a vars template only fits its own code image");
	if (code && !vars)
		return pfail(c, line_of(c, "firmware.code", false), "firmware.code",
			    "needs firmware.vars too: a code image needs its matching vars template");
	return 0;
}

static bool endswith(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && streq(s + n - m, suffix);
}

static int convert_disk(struct load_ctx *c, size_t i, const struct cy_disk *y, struct vm_disk *d)
{
	char base[32], path[PATH_MAX_LEN], dev[PATH_MAX_LEN], fmt[PATH_MAX_LEN], ifc[PATH_MAX_LEN],
		ro[PATH_MAX_LEN];
	const char *device = NULL, *format = NULL;
	char *file = NULL;
	int r;

	(void)snprintf(base, sizeof(base), "disks[%zu]", i);
	key_join(path, sizeof(path), base, "path");
	key_join(dev, sizeof(dev), base, "device");
	key_join(fmt, sizeof(fmt), base, "format");
	key_join(ifc, sizeof(ifc), base, "interface");
	key_join(ro, sizeof(ro), base, "readonly");
	if ((r = val_path(c, path, y->path, true, &d->path)) < 0 ||
	    (r = val_option_string(c, dev, y->device, &device)) < 0 ||
	    (r = GET_ENUM(c, ifc, y->interface, disk_if_names, &d->interface)) < 0 ||
	    (r = val_bool(c, ro, y->readonly, &d->readonly)) < 0)
		return r;
	file = d->path;
	if (!file && !device)
		return pfail(c, line_of(c, base, false), base, "needs exactly one of path or device");
	if (file && device)
		return pfail(c, line_of(c, dev, false), dev,
			    "path and device exclude each other: give exactly one");
	if (device && !startswith(device, "/dev/"))
		return pfail(c, line_of(c, dev, true), dev, "expected a path under /dev/, got %s",
			    QUOTE(device));
	if (y->format) {
		unsigned f = 0;

		if ((r = val_enum(c, fmt, y->format, format_names, ARRAY_SIZE(format_names), &f)) < 0)
			return r;
		format = format_names[f];
	} else {
		format = file && endswith(file, ".qcow2") ? "qcow2" : "raw";
	}
	if ((r = val_dup(c, device, &d->device)) < 0)
		return r;
	return val_dup(c, format, &d->format);
}

static int convert_disks(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	if (y->disks_count == 0)
		return 0;
	p->disks = calloc(y->disks_count, sizeof(*p->disks));
	if (!p->disks)
		return pfail_errno(c, -ENOMEM);
	for (size_t i = 0; i < y->disks_count; i++) {
		int r = convert_disk(c, i, &y->disks[i], &p->disks[i]);

		p->n_disks = i + 1; /* so profile_free sees what was filled in so far */
		if (r < 0)
			return r;
	}
	return 0;
}

static int convert_usb_id(struct load_ctx *c, size_t i, const char *key, const char *v,
			  uint16_t *ret)
{
	char path[PATH_MAX_LEN];
	const char *s;
	int r;

	(void)snprintf(path, sizeof(path), "usb[%zu].%s", i, key);
	r = val_required(c, path, v, &s);
	if (r < 0)
		return r;
	char vendor[5], product[5];

	if (val_usb_id(s, ret) < 0 && hint_usb_pair(s, vendor, product))
		return pfail(c, line_of(c, path, true), path, "%s is vendor and product together; "
			     "write {vendor: \"%s\", product: \"%s\"}", QUOTE(s), vendor, product);
	if (val_usb_id(s, ret) < 0)
		return pfail(c, line_of(c, path, true), path,
			    "expected 4 hex digits like 046d or 0x046d, got %s", QUOTE(s));
	return 0;
}

static int convert_usb(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	if (y->usb_count == 0)
		return 0;
	p->usb = calloc(y->usb_count, sizeof(*p->usb));
	if (!p->usb)
		return pfail_errno(c, -ENOMEM);
	p->n_usb = y->usb_count;
	for (size_t i = 0; i < y->usb_count; i++) {
		int r = convert_usb_id(c, i, "vendor", y->usb[i].vendor, &p->usb[i].vendor);

		if (r < 0 || (r = convert_usb_id(c, i, "product", y->usb[i].product,
						 &p->usb[i].product)) < 0)
			return r;
	}
	return 0;
}

static int convert_pci_one(struct load_ctx *c, size_t i, const struct cy_pci *y, struct vm_pci *d,
			   const struct vm_pci *before)
{
	char addr[PATH_MAX_LEN], rom[PATH_MAX_LEN], grp[PATH_MAX_LEN];
	const char *s;
	int r;

	(void)snprintf(addr, sizeof(addr), "pci[%zu].address", i);
	(void)snprintf(rom, sizeof(rom), "pci[%zu].rom", i);
	(void)snprintf(grp, sizeof(grp), "pci[%zu].group", i);
	if ((r = val_required(c, addr, y->address, &s)) < 0)
		return r;
	if (pci_addr_parse(s, &d->address) < 0)
		return pfail(c, line_of(c, addr, true), addr,
			    "expected a PCI address like 0000:01:00.0 or 01:00.0, got %s", QUOTE(s));
	for (size_t j = 0; j < i; j++)
		if (pci_addr_eq(&before[j].address, &d->address))
			return pfail(c, line_of(c, addr, true), addr,
				    "duplicate PCI address %s, already pci[%zu]", QUOTE(s), j);
	d->whole_group = true;
	if ((r = val_bool(c, grp, y->group, &d->whole_group)) < 0)
		return r;
	return val_path(c, rom, y->rom, true, &d->rom);
}

static int convert_pci(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	if (y->pci_count == 0)
		return 0;
	p->pci = calloc(y->pci_count, sizeof(*p->pci));
	if (!p->pci)
		return pfail_errno(c, -ENOMEM);
	for (size_t i = 0; i < y->pci_count; i++) {
		int r = convert_pci_one(c, i, &y->pci[i], &p->pci[i], p->pci);

		p->n_pci = i + 1;
		if (r < 0)
			return r;
	}
	return 0;
}

static int convert_network(struct load_ctx *c, const struct cy_network *y, struct vm_profile *p)
{
	const char *bridge = NULL, *model = NULL, *mac = NULL;
	char mac_buf[18];
	int r;

	p->network.type = VM_NET_USER;
	if (y) {
		if ((r = GET_ENUM(c, "network.type", y->type, net_names, &p->network.type)) < 0 ||
		    (r = val_option_string(c, "network.bridge", y->bridge, &bridge)) < 0 ||
		    (r = val_option_string(c, "network.model", y->model, &model)) < 0 ||
		    (r = val_scalar(c, "network.mac", y->mac, &mac)) < 0)
			return r;
		if (mac && val_mac(mac, mac_buf) < 0)
			return pfail(c, line_of(c, "network.mac", true), "network.mac",
				    "expected xx:xx:xx:xx:xx:xx in hex, got %s", QUOTE(mac));
		if (mac && (strtoul((char[3]){ mac_buf[0], mac_buf[1], 0 }, NULL, 16) & 1))
			return pfail(c, line_of(c, "network.mac", true), "network.mac",
				    "must be a unicast address (even first octet), got %s",
				    QUOTE(mac));
	}
	if (p->network.type == VM_NET_BRIDGE && !bridge)
		return pfail(c, line_of(c, "network.bridge", false), "network.bridge",
			    "required when network.type is bridge");
	if (p->network.type != VM_NET_BRIDGE && bridge)
		return pfail(c, line_of(c, "network.bridge", false), "network.bridge",
			    "only valid when network.type is bridge");
	if ((r = val_dup(c, bridge, &p->network.bridge)) < 0 ||
	    (r = val_dup(c, mac ? mac_buf : NULL, &p->network.mac)) < 0)
		return r;
	return val_dup(c, model ? model : "virtio-net-pci", &p->network.model);
}

static int convert_boot(struct load_ctx *c, const struct cy_boot *y, struct vm_profile *p)
{
	const char *cmdline;
	int r;

	if (!y)
		return 0;
	if ((r = val_path(c, "boot.kernel", y->kernel, false, &p->boot.kernel)) < 0 ||
	    (r = val_path(c, "boot.initrd", y->initrd, false, &p->boot.initrd)) < 0 ||
	    (r = val_scalar(c, "boot.cmdline", y->cmdline, &cmdline)) < 0)
		return r;
	const char *kernel = p->boot.kernel, *initrd = p->boot.initrd;

	if (!kernel && initrd)
		return pfail(c, line_of(c, "boot.initrd", false), "boot.initrd",
			    "needs boot.kernel: an initrd is only used with direct kernel boot");
	if (!kernel && cmdline)
		return pfail(c, line_of(c, "boot.cmdline", false), "boot.cmdline",
			    "needs boot.kernel: a command line is only used with direct kernel boot");
	return val_dup(c, cmdline, &p->boot.cmdline);
}

static int convert_extra_args(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	if (y->extra_args_count == 0)
		return 0;
	p->extra_args = calloc(y->extra_args_count + 1, sizeof(char *));
	if (!p->extra_args)
		return pfail_errno(c, -ENOMEM);
	for (size_t i = 0; i < y->extra_args_count; i++) {
		char path[PATH_MAX_LEN];
		const char *s;
		int r;

		(void)snprintf(path, sizeof(path), "extra_args[%zu]", i);
		if ((r = val_required(c, path, y->extra_args[i], &s)) < 0 ||
		    (r = val_dup(c, s, &p->extra_args[i])) < 0)
			return r;
		p->n_extra_args = i + 1;
	}
	return 0;
}

static void profile_freep(struct vm_profile **p)
{
	profile_free(*p);
}

int convert(struct load_ctx *c, const struct cy_profile *y, struct vm_profile **ret)
{
	_cleanup_(profile_freep) struct vm_profile *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return pfail_errno(c, -ENOMEM);
	if ((r = val_dup(c, c->name, &p->source)) < 0 || (r = convert_top(c, y, p)) < 0 ||
	    (r = convert_cpu(c, y->cpu, p)) < 0 || (r = convert_firmware(c, y->firmware, p)) < 0 ||
	    (r = convert_vendor_id(c, y, p)) < 0 || (r = convert_disks(c, y, p)) < 0 ||
	    (r = convert_usb(c, y, p)) < 0 || (r = convert_pci(c, y, p)) < 0 ||
	    (r = convert_network(c, y->network, p)) < 0 || (r = convert_boot(c, y->boot, p)) < 0 ||
	    (r = convert_extra_args(c, y, p)) < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}
