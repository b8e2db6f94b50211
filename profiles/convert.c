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
static const char *const rtc_names[] = { [VM_RTC_UTC] = "utc", [VM_RTC_LOCALTIME] = "localtime" };
static const char *const display_names[] = { [VM_DISPLAY_NONE] = "none",
					     [VM_DISPLAY_GTK] = "gtk",
					     [VM_DISPLAY_SPICE] = "spice",
					     [VM_DISPLAY_VNC] = "vnc" };


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
const char *vm_rtc_name(enum vm_rtc r)
{
	return NAME_OF(rtc_names, r);
}
const char *vm_display_name(enum vm_display d)
{
	return NAME_OF(display_names, d);
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
				return pfail(c, posindex_line(c, "memory", true), "memory", "expected a size "
					     "like 8G, got %s; did you mean \"%s%c\"? (upper-case unit, "
					     "no space, no B; powers of 1024)", QUOTE(s), digits, unit);
		}
	}
	return pfail(c, posindex_line(c, "memory", true), "memory",
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
	if (!names_vm_valid(s))
		return pfail(c, posindex_line(c, "name", true), "name", "expected %s, got %s", VM_NAME_RULE,
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
	r = val_memory_size(s, &p->memory);
	copy_str(size_text, sizeof(size_text), s);
	if (r == -ERANGE)
		return pfail(c, posindex_line(c, "memory", true), "memory", "size %s is too large",
			    QUOTE(size_text));
	if (r < 0)
		return memory_mistake(c, size_text);
	if (p->memory < MEMORY_MIN && strspn(size_text, "0123456789") == strlen(size_text))
		return pfail(c, posindex_line(c, "memory", true), "memory", "%s is a number of bytes, "
			     "less than the 16M minimum; give the unit: %sM or %sG", QUOTE(size_text),
			     size_text, size_text);
	if (p->memory < MEMORY_MIN)
		return pfail(c, posindex_line(c, "memory", true), "memory", "must be at least 16M, got %s",
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
		return pfail(c, posindex_line(c, "hyperv_vendor_id", true), "hyperv_vendor_id",
			    "expected 1 to 12 characters, got %zu", n);
	for (const char *q = s; *q; q++)
		if (*q < 0x20 || *q > 0x7e || *q == ',')
			return pfail(c, posindex_line(c, "hyperv_vendor_id", true), "hyperv_vendor_id",
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
			return pfail(c, posindex_line(c, "cpu", false), "cpu",
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
		return pfail(c, posindex_line(c, "firmware.secure_boot", true), "firmware.secure_boot",
			    "secure boot needs firmware type uefi, not bios");
	/* A vars template belongs to one code image: mixing ours and theirs loses NVRAM. */
	if (vars && !code)
		return pfail(c, posindex_line(c, "firmware.vars", false), "firmware.vars",
			    "needs firmware.code too: a vars template only fits its own code image");
	if (code && !vars)
		return pfail(c, posindex_line(c, "firmware.code", false), "firmware.code",
			    "needs firmware.vars too: a code image needs its matching vars template");
	return 0;
}

static void profile_freep(struct vm_profile **p)
{
	profile_free(*p);
}

int convert_profile(struct load_ctx *c, const struct cy_profile *y, struct vm_profile **ret)
{
	_cleanup_(profile_freep) struct vm_profile *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return pfail_errno(c, -ENOMEM);
	if ((r = val_dup(c, c->name, &p->source)) < 0 || (r = convert_top(c, y, p)) < 0 ||
	    (r = convert_cpu(c, y->cpu, p)) < 0 || (r = convert_cpu_pinning(c, y->cpu, p)) < 0 ||
	    (r = convert_firmware(c, y->firmware, p)) < 0 ||
	    (r = convert_vendor_id(c, y, p)) < 0 || (r = convert_disks(c, y, p)) < 0 ||
	    (r = convert_usb(c, y, p)) < 0 || (r = convert_pci(c, y, p)) < 0 ||
	    (r = convert_network(c, y->network, p)) < 0 || (r = convert_boot(c, y->boot, p)) < 0 ||
	    (r = convert_extra_args(c, y, p)) < 0 || (r = convert_tpm(c, y, p)) < 0 ||
	    (r = convert_install(c, y->install, p)) < 0 || (r = convert_input(c, y->input, p)) < 0 ||
	    (r = convert_looking_glass(c, y->looking_glass, p)) < 0 ||
	    (r = convert_audio(c, p)) < 0 || (r = convert_hugepages(c, y, p)) < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

void profile_free(struct vm_profile *p)
{
	if (!p)
		return;
	free(p->source);
	free(p->name);
	free(p->machine);
	free(p->cpu.model);
	free(p->cpu.pin);
	free(p->cpu.emulator);
	free(p->input.keyboard);
	free(p->input.mouse);
	free(p->firmware.code);
	free(p->firmware.vars);
	free(p->hyperv_vendor_id);
	for (size_t i = 0; i < p->n_disks; i++) {
		free(p->disks[i].path);
		free(p->disks[i].device);
		free(p->disks[i].format);
	}
	free(p->disks);
	free(p->usb);
	for (size_t i = 0; i < p->n_pci; i++)
		free(p->pci[i].rom);
	free(p->pci);
	free(p->network.bridge);
	free(p->network.mac);
	free(p->network.model);
	free(p->boot.kernel);
	free(p->boot.initrd);
	free(p->boot.cmdline);
	strv_free(p->extra_args);
	strv_free(p->install.media);
	if (p->positions) {
		posindex_free(p->positions);
		free(p->positions);
	}
	free(p);
}
