/* SPDX-License-Identifier: MIT */
/* The devices of a profile: disks and CD-ROMs, USB devices, PCI devices, the network. */
#include "profload.h"

#include <errno.h>
#include <stdlib.h>

static const char *const disk_if_names[] = { [VM_DISK_VIRTIO] = "virtio", [VM_DISK_SATA] = "sata",
					     [VM_DISK_NVME] = "nvme" };
static const char *const net_names[] = { [VM_NET_NONE] = "none", [VM_NET_USER] = "user",
					 [VM_NET_BRIDGE] = "bridge" };
static const char *const media_names[] = { [VM_MEDIA_DISK] = "disk", [VM_MEDIA_CDROM] = "cdrom" };
static const char *const after_names[] = { [VM_AFTER_AUTO] = "auto", [VM_AFTER_HOST] = "host",
					   [VM_AFTER_VFIO] = "vfio-pci" };
static const char *const format_names[] = { "raw", "qcow2" };


const char *vm_disk_if_name(enum vm_disk_if i)
{
	return NAME_OF(disk_if_names, i);
}
const char *vm_net_type_name(enum vm_net_type t)
{
	return NAME_OF(net_names, t);
}
const char *vm_media_name(enum vm_media m)
{
	return NAME_OF(media_names, m);
}

bool vm_machine_is_q35(const char *m)
{
	return m && (streq(m, "q35") || strncmp(m, "pc-q35-", 7) == 0);
}

unsigned vm_sata_ports(const char *machine)
{
	return vm_machine_is_q35(machine) ? 6 : 4; /* AHCI ide.0-5; PIIX ide.0-1, two units each */
}

static bool endswith(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && streq(s + n - m, suffix);
}

/* A CD-ROM is read-only and on SATA (ide-cd); a SATA hard disk cannot be read-only in QEMU. */
static int disk_media_rules(struct load_ctx *c, const char *base, const struct cy_disk *y,
			    struct vm_disk *d)
{
	char ifc[PATH_MAX_LEN], ro[PATH_MAX_LEN];

	schema_key_join(ifc, sizeof(ifc), base, "interface");
	schema_key_join(ro, sizeof(ro), base, "readonly");
	if (d->media == VM_MEDIA_CDROM) {
		if (y->interface && d->interface != VM_DISK_SATA)
			return pfail(c, posindex_line(c, ifc, true), ifc, "a CD-ROM is on SATA (ide-cd): write "
				     "interface: sata, or leave it out");
		if (y->readonly && !d->readonly)
			return pfail(c, posindex_line(c, ro, true), ro, "a CD-ROM is always read-only: leave "
				     "readonly out");
		d->interface = VM_DISK_SATA;
		d->readonly = true;
		return 0;
	}
	if (d->interface == VM_DISK_SATA && d->readonly)
		return pfail(c, posindex_line(c, ro, true), ro, "QEMU cannot make a SATA hard disk read-only "
			     "(ide-hd refuses it): use interface: virtio or nvme, or media: cdrom");
	return 0;
}

static int convert_disk(struct load_ctx *c, size_t i, const struct cy_disk *y, struct vm_disk *d)
{
	char base[32], path[PATH_MAX_LEN], dev[PATH_MAX_LEN], fmt[PATH_MAX_LEN], ifc[PATH_MAX_LEN],
		ro[PATH_MAX_LEN], med[PATH_MAX_LEN];
	const char *device = NULL, *format = NULL;
	char *file = NULL;
	int r;

	(void)snprintf(base, sizeof(base), "disks[%zu]", i);
	schema_key_join(path, sizeof(path), base, "path");
	schema_key_join(dev, sizeof(dev), base, "device");
	schema_key_join(fmt, sizeof(fmt), base, "format");
	schema_key_join(ifc, sizeof(ifc), base, "interface");
	schema_key_join(ro, sizeof(ro), base, "readonly");
	schema_key_join(med, sizeof(med), base, "media");
	if ((r = GET_ENUM(c, med, y->media, media_names, &d->media)) < 0 ||
	    (r = val_path(c, path, y->path, true, &d->path)) < 0 ||
	    (r = val_option_string(c, dev, y->device, &device)) < 0 ||
	    (r = GET_ENUM(c, ifc, y->interface, disk_if_names, &d->interface)) < 0 ||
	    (r = val_bool(c, ro, y->readonly, &d->readonly)) < 0)
		return r;
	file = d->path;
	if (!file && !device)
		return pfail(c, posindex_line(c, base, false), base, "needs exactly one of path or device");
	if (file && device)
		return pfail(c, posindex_line(c, dev, false), dev,
			    "path and device exclude each other: give exactly one");
	if (device && !startswith(device, "/dev/"))
		return pfail(c, posindex_line(c, dev, true), dev, "expected a path under /dev/, got %s",
			    QUOTE(device));
	if (y->format) {
		unsigned f = 0;

		if ((r = val_enum(c, fmt, y->format, format_names, ARRAY_SIZE(format_names), &f)) < 0)
			return r;
		format = format_names[f];
	} else {
		format = file && endswith(file, ".qcow2") ? "qcow2" : "raw";
	}
	if ((r = val_dup(c, device, &d->device)) < 0 || (r = val_dup(c, format, &d->format)) < 0)
		return r;
	return disk_media_rules(c, base, y, d);
}

int convert_disks(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	size_t sata = 0;

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
		sata += p->disks[i].interface == VM_DISK_SATA;
		if (sata > vm_sata_ports(p->machine)) {
			char base[32];

			(void)snprintf(base, sizeof(base), "disks[%zu]", i);
			return pfail(c, posindex_line(c, base, false), base, "one SATA disk or CD-ROM too many: "
				     "the %s machine has %u SATA ports", p->machine,
				     vm_sata_ports(p->machine));
		}
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
	char vendor[5], product[5], vkey[PATH_MAX_LEN];
	const struct pos_entry *e;

	/* {vendor: "046d:c31c"} and no product: the mistake is in vendor, said there. */
	(void)snprintf(vkey, sizeof(vkey), "usb[%zu].vendor", i);
	if (!v && streq(key, "product") && (e = posindex_find(&c->idx, vkey)) &&
	    hint_usb_pair(e->value, vendor, product))
		return pfail(c, e->value_line, vkey, "\"%s\" is vendor and product together; write "
			     "{vendor: \"%s\", product: \"%s\"}", e->value, vendor, product);
	r = val_required(c, path, v, &s);
	if (r < 0)
		return r;

	if (val_usb_id(s, ret) < 0 && hint_usb_pair(s, vendor, product))
		return pfail(c, posindex_line(c, path, true), path, "%s is vendor and product together; "
			     "write {vendor: \"%s\", product: \"%s\"}", QUOTE(s), vendor, product);
	if (val_usb_id(s, ret) < 0)
		return pfail(c, posindex_line(c, path, true), path,
			    "expected 4 hex digits like 046d or 0x046d, got %s", QUOTE(s));
	return 0;
}

/* "2", "2.3", "1.4.2": a hub port path, as /sys/bus/usb/devices/BUS-PORT names it. */
static bool usb_port_ok(const char *s)
{
	unsigned levels = 0;

	for (const char *p = s;; p++) {
		size_t n = strspn(p, "0123456789");

		if (n < 1 || n > 3 || ++levels > 7)
			return false;
		p += n;
		if (!*p)
			return true;
		if (*p != '.')
			return false;
	}
}

/* By port: {bus: 1, port: "2.3"}, for identical devices or ones that re-enumerate. */
static int convert_usb_port(struct load_ctx *c, size_t i, const struct cy_usb *y, struct vm_usb *u)
{
	char bus[PATH_MAX_LEN], port[PATH_MAX_LEN];
	const char *s;
	int r;

	(void)snprintf(bus, sizeof(bus), "usb[%zu].bus", i);
	(void)snprintf(port, sizeof(port), "usb[%zu].port", i);
	if ((r = val_uint(c, bus, y->bus, 1, 255, &u->bus)) < 0)
		return r;
	if (!y->bus || !y->port)
		return pfail(c, posindex_line(c, y->bus ? port : bus, false), y->bus ? port : bus,
			     "required key is missing: a device by port needs bus and port, as "
			     "lsusb -t shows them ({bus: 1, port: \"2.3\"})");
	if ((r = val_scalar(c, port, y->port, &s)) < 0)
		return r;
	if (!usb_port_ok(s))
		return pfail(c, posindex_line(c, port, true), port, "expected a port path like 2 or 2.3 "
			     "(hub ports, dot-separated), got %s", QUOTE(s));
	copy_str(u->port, sizeof(u->port), s);
	return 0;
}

int convert_usb(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	if (y->usb_count == 0)
		return 0;
	p->usb = calloc(y->usb_count, sizeof(*p->usb));
	if (!p->usb)
		return pfail_errno(c, -ENOMEM);
	p->n_usb = y->usb_count;
	for (size_t i = 0; i < y->usb_count; i++) {
		const struct cy_usb *u = &y->usb[i];
		char base[32], key[PATH_MAX_LEN];
		int r;

		(void)snprintf(base, sizeof(base), "usb[%zu]", i);
		if ((u->vendor || u->product) && (u->bus || u->port)) {
			schema_key_join(key, sizeof(key), base, u->bus ? "bus" : "port");
			return pfail(c, posindex_line(c, key, false), key, "a device is given by vendor and "
				     "product, or by bus and port, not both");
		}
		if (u->bus || u->port) {
			r = convert_usb_port(c, i, u, &p->usb[i]);
		} else {
			r = convert_usb_id(c, i, "vendor", u->vendor, &p->usb[i].vendor);
			if (r == 0)
				r = convert_usb_id(c, i, "product", u->product, &p->usb[i].product);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int convert_pci_one(struct load_ctx *c, size_t i, const struct cy_pci *y, struct vm_pci *d,
			   const struct vm_pci *before)
{
	char addr[PATH_MAX_LEN], rom[PATH_MAX_LEN], grp[PATH_MAX_LEN], after[PATH_MAX_LEN];
	char rel[PATH_MAX_LEN];
	const char *s;
	int r;

	(void)snprintf(addr, sizeof(addr), "pci[%zu].address", i);
	(void)snprintf(rom, sizeof(rom), "pci[%zu].rom", i);
	(void)snprintf(grp, sizeof(grp), "pci[%zu].group", i);
	(void)snprintf(after, sizeof(after), "pci[%zu].after", i);
	(void)snprintf(rel, sizeof(rel), "pci[%zu].release", i);
	if ((r = val_required(c, addr, y->address, &s)) < 0)
		return r;
	if (pci_addr_parse(s, &d->address) < 0)
		return pfail(c, posindex_line(c, addr, true), addr,
			    "expected a PCI address like 0000:01:00.0 or 01:00.0, got %s", QUOTE(s));
	for (size_t j = 0; j < i; j++)
		if (pci_addr_eq(&before[j].address, &d->address))
			return pfail(c, posindex_line(c, addr, true), addr,
				    "duplicate PCI address %s, already pci[%zu]", QUOTE(s), j);
	d->whole_group = true;
	if ((r = val_bool(c, grp, y->group, &d->whole_group)) < 0 ||
	    (r = val_bool(c, rel, y->release, &d->release)) < 0 ||
	    (r = GET_ENUM(c, after, y->after, after_names, &d->after)) < 0)
		return r;
	return val_path(c, rom, y->rom, true, &d->rom);
}

int convert_pci(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
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

int convert_network(struct load_ctx *c, const struct cy_network *y, struct vm_profile *p)
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
			return pfail(c, posindex_line(c, "network.mac", true), "network.mac",
				    "expected xx:xx:xx:xx:xx:xx in hex, got %s", QUOTE(mac));
		if (mac && (strtoul((char[3]){ mac_buf[0], mac_buf[1], 0 }, NULL, 16) & 1))
			return pfail(c, posindex_line(c, "network.mac", true), "network.mac",
				    "must be a unicast address (even first octet), got %s",
				    QUOTE(mac));
	}
	if (p->network.type == VM_NET_BRIDGE && !bridge)
		return pfail(c, posindex_line(c, "network.bridge", false), "network.bridge",
			    "required when network.type is bridge");
	if (p->network.type != VM_NET_BRIDGE && bridge)
		return pfail(c, posindex_line(c, "network.bridge", false), "network.bridge",
			    "only valid when network.type is bridge");
	if ((r = val_dup(c, bridge, &p->network.bridge)) < 0 ||
	    (r = val_dup(c, mac ? mac_buf : NULL, &p->network.mac)) < 0)
		return r;
	return val_dup(c, model ? model : "virtio-net-pci", &p->network.model);
}

