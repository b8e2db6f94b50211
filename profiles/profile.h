/* SPDX-License-Identifier: MIT */
/*
 * VM profiles: YAML read with libcyaml, validated, defaults applied.
 * The schema is documented in profiles/SCHEMA.md; examples live in profiles/examples/.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pciaddr.h"

enum vm_os { VM_OS_WINDOWS, VM_OS_LINUX, VM_OS_OTHER };
enum vm_accel { VM_ACCEL_KVM, VM_ACCEL_TCG };
enum vm_fw_type { VM_FW_UEFI, VM_FW_BIOS };
enum vm_disk_if { VM_DISK_VIRTIO, VM_DISK_SATA, VM_DISK_NVME };
enum vm_rtc { VM_RTC_UTC, VM_RTC_LOCALTIME };
enum vm_display { VM_DISPLAY_NONE, VM_DISPLAY_GTK, VM_DISPLAY_SPICE, VM_DISPLAY_VNC };
enum vm_net_type { VM_NET_NONE, VM_NET_USER, VM_NET_BRIDGE };
enum vm_media { VM_MEDIA_DISK, VM_MEDIA_CDROM };
/* Where a GPU goes when a run ends (pci[N].after); AUTO: back to the host, unless its driver
 * cannot take it back safely (host/quirks.h), when it stays on vfio-pci. */
enum vm_pci_after { VM_AFTER_AUTO, VM_AFTER_HOST, VM_AFTER_VFIO };
/* The installer's display (install.display); AUTO: gtk in a desktop session, vnc otherwise. */
enum vm_install_display { VM_INSTALL_AUTO, VM_INSTALL_VNC, VM_INSTALL_GTK, VM_INSTALL_SPICE };

#define VM_CPU_LIST_MAX 256

struct vm_cpu {
	char *model;       /* "host" (default with kvm), "max" (default with tcg), or a named model */
	unsigned sockets;  /* default 1 */
	unsigned cores;    /* default 2 */
	unsigned threads;  /* default 1 */
	unsigned *pin;     /* cpu.pin: the host CPU of each vCPU, n_pin == vCPUs; NULL: none */
	size_t n_pin;
	unsigned *emulator; /* cpu.emulator: host CPUs for QEMU's other threads; NULL: none */
	size_t n_emulator;
	bool isolate;      /* cpu.isolate: keep the host's slices off the pinned CPUs while it runs */
};

struct vm_firmware {
	enum vm_fw_type type; /* default uefi */
	bool secure_boot;     /* default false; true asks for enrolled keys as Windows 11 wants */
	char *code;           /* optional override: OVMF code image */
	char *vars;           /* optional override: vars *template* (copied, never used in place) */
};

struct vm_disk {
	char *path;   /* an image file, or */
	char *device; /* a raw block device (/dev/...); exactly one of path/device */
	char *format; /* default "raw" for device, else from the extension: qcow2 or raw */
	enum vm_disk_if interface; /* default virtio; a cdrom is always sata (ide-cd) */
	bool readonly;             /* always true for a cdrom */
	enum vm_media media;       /* default disk */
};

/* What `vmrun install` adds: installation media as CD-ROMs, the first one booted. */
#define VM_INSTALL_MEDIA_MAX 4
struct vm_install {
	char **media;             /* NULL-terminated ISO paths, in order; NULL when absent */
	size_t n_media;
	enum vm_install_display display;
	bool boot_keys;           /* press a key in the first seconds ("boot from CD"); default true */
};

struct vm_usb {
	uint16_t vendor;  /* "046d" or 0x046d in YAML; 0 with a port */
	uint16_t product;
	unsigned bus;     /* by port: the host bus and port path ("2.3"); 0 / "" by id */
	char port[32];
};

/* Keyboard and mouse shared with the host through evdev (QEMU's input-linux). */
enum vm_toggle { VM_TOGGLE_CTRL_CTRL, VM_TOGGLE_ALT_ALT, VM_TOGGLE_SHIFT_SHIFT,
		 VM_TOGGLE_META_META, VM_TOGGLE_SCROLLLOCK, VM_TOGGLE_CTRL_SCROLLLOCK };
struct vm_input {
	char *keyboard, *mouse; /* /dev/input/... event nodes; NULL when not given */
	enum vm_toggle toggle;  /* default ctrl-ctrl */
};

/* The guest's frames to the host's Looking Glass client over shared memory (ivshmem). */
struct vm_looking_glass {
	bool on;
	unsigned width, height; /* from resolution, or 0 with size */
	bool hdr;
	uint64_t size;          /* bytes: given, or from the resolution (see SCHEMA.md) */
};

enum vm_hugepages { VM_HUGEPAGES_NONE, VM_HUGEPAGES_2M, VM_HUGEPAGES_1G };

struct vm_pci {
	struct pci_addr address; /* parsed strictly */
	char *rom;               /* optional romfile path */
	bool whole_group;        /* key "group", default true: the device's IOMMU group goes with it */
	enum vm_pci_after after; /* key "after", default auto */
	bool release;            /* key "release", default false: a compositor holding the GPU is
	                          * asked to let go of it for the run (KWin, wlroots, Hyprland) */
};

struct vm_network {
	enum vm_net_type type; /* default user */
	char *bridge;          /* for bridge */
	char *mac;             /* optional, "52:54:00:xx:xx:xx" */
	char *model;           /* default virtio-net-pci */
};

/* Direct kernel boot (tiny guests, installers): optional. */
struct vm_boot {
	char *kernel;
	char *initrd;
	char *cmdline;
};

struct pos_index;

struct vm_profile {
	char *source;             /* file it was read from */
	char *name;               /* [A-Za-z0-9._-]{1,64}, required */
	enum vm_os os;            /* default windows */
	uint64_t memory;          /* bytes, from "8G" / "512M"; required */
	char *machine;            /* default "q35" */
	enum vm_accel accel;      /* default kvm */
	struct vm_cpu cpu;
	struct vm_firmware firmware;
	bool hide_kvm;            /* default false */
	char *hyperv_vendor_id;   /* 1..12 chars, NULL when not set */
	bool hyperv;              /* default: os == windows */
	struct vm_disk *disks;
	size_t n_disks;
	struct vm_usb *usb;
	size_t n_usb;
	struct vm_pci *pci;
	size_t n_pci;
	enum vm_rtc rtc;          /* default utc */
	struct vm_network network;
	enum vm_display display;  /* default none */
	unsigned shutdown_timeout; /* seconds, default 60 */
	struct vm_boot boot;      /* all NULL when absent */
	bool tpm;                 /* a TPM 2.0 (swtpm); default false */
	struct vm_install install;
	struct vm_input input;
	struct vm_looking_glass looking_glass;
	bool audio, audio_input;  /* the guest's HDA to the session's sound server; and its input */
	enum vm_hugepages hugepages;
	char **extra_args;        /* NULL-terminated, may be NULL */
	size_t n_extra_args;
	struct pos_index *positions; /* where each key was written, for profile_line() */
};

/* Where a profile went wrong: enough for "FILE:LINE: KEY: MESSAGE". */
struct profile_error {
	char file[256];
	unsigned line;   /* 1-based; 0 when unknown (e.g. unreadable file) */
	char key[128];   /* dotted path, e.g. "disks[1].interface"; "" for the document */
	char message[256];
};

/*
 * Read and validate a profile. 0 on success with *ret set; on bad input -EINVAL with err filled
 * (and *ret untouched); other negative errno on I/O failure (err filled too).
 */
int profile_load(const char *path, struct vm_profile **ret, struct profile_error *err);
/* Same from a buffer; name is used in messages as the file. */
int profile_load_buffer(const char *name, const char *data, size_t len, struct vm_profile **ret,
			struct profile_error *err);
void profile_free(struct vm_profile *p);

/*
 * The line a key was written on ("pci[0].address", "disks[1].path"), or its nearest written
 * ancestor's, so a problem found later (a device this host lacks, a missing disk image) is
 * reported as FILE:LINE: KEY: like a syntax error; 0 when unknown.
 */
unsigned profile_line(const struct vm_profile *p, const char *key);

/* "FILE:LINE: KEY: MESSAGE" (or without LINE/KEY when unknown) into buf. */
const char *profile_error_format(const struct profile_error *e, char *buf, size_t cap);

/* Parse a memory size "8G", "512M", "1024K", "2T", or plain bytes; powers of 1024. */
int val_memory_size(const char *s, uint64_t *ret);

const char *vm_disk_if_name(enum vm_disk_if i);
const char *vm_display_name(enum vm_display d);
/* The YAML spelling of each enum value; NULL when out of range. */
const char *vm_os_name(enum vm_os o);
const char *vm_accel_name(enum vm_accel a);
const char *vm_fw_type_name(enum vm_fw_type t);
const char *vm_rtc_name(enum vm_rtc r);
const char *vm_net_type_name(enum vm_net_type t);
const char *vm_media_name(enum vm_media m);
const char *vm_install_display_name(enum vm_install_display d);
const char *vm_toggle_name(enum vm_toggle t);     /* QEMU's grab-toggle value */
const char *vm_hugepages_name(enum vm_hugepages h);
/* Bytes of a hugepage size (0 for NONE). */
uint64_t vm_hugepage_bytes(enum vm_hugepages h);
/* The Looking Glass shared memory for a frame: w x h x 4 (x 2 for HDR) x 2 + 10 MiB, the next
 * power of two (the Looking Glass documentation's formula). */
uint64_t vm_looking_glass_size(unsigned width, unsigned height, bool hdr);

/* SATA ports a machine type has for disks and CD-ROMs: q35's AHCI 6, i440fx's IDE 4. */
unsigned vm_sata_ports(const char *machine);
bool vm_machine_is_q35(const char *machine);
