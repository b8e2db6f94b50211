/* SPDX-License-Identifier: MIT */
/* How a profile's VM starts: direct kernel boot, extra QEMU arguments, the TPM, installation. */
#include "profload.h"

#include <errno.h>
#include <stdlib.h>

static const char *const install_display_names[] = {
	[VM_INSTALL_AUTO] = NULL, [VM_INSTALL_VNC] = "vnc", [VM_INSTALL_GTK] = "gtk",
	[VM_INSTALL_SPICE] = "spice",
};

const char *vm_install_display_name(enum vm_install_display d)
{
	return (unsigned)d < ARRAY_SIZE(install_display_names) ? install_display_names[d] : NULL;
}

int convert_boot(struct load_ctx *c, const struct cy_boot *y, struct vm_profile *p)
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
		return pfail(c, posindex_line(c, "boot.initrd", false), "boot.initrd",
			    "needs boot.kernel: an initrd is only used with direct kernel boot");
	if (!kernel && cmdline)
		return pfail(c, posindex_line(c, "boot.cmdline", false), "boot.cmdline",
			    "needs boot.kernel: a command line is only used with direct kernel boot");
	return val_dup(c, cmdline, &p->boot.cmdline);
}

int convert_extra_args(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
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


int convert_tpm(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	return val_bool(c, "tpm", y->tpm, &p->tpm);
}

/* install.media: CD-ROMs on the SATA ports the profile's disks leave. */
static int convert_install_media(struct load_ctx *c, const struct cy_install *y, struct vm_profile *p)
{
	unsigned free_ports = vm_sata_ports(p->machine);

	for (size_t i = 0; i < p->n_disks; i++)
		free_ports -= p->disks[i].interface == VM_DISK_SATA;
	if (y->media_count == 0)
		return pfail(c, posindex_line(c, "install.media", true), "install.media",
			     "lists no installation media: give the installer's ISO (and the driver ISO)");
	p->install.media = calloc(y->media_count + 1, sizeof(char *));
	if (!p->install.media)
		return pfail_errno(c, -ENOMEM);
	for (size_t i = 0; i < y->media_count; i++) {
		char key[PATH_MAX_LEN];
		int r;

		(void)snprintf(key, sizeof(key), "install.media[%zu]", i);
		if (i >= free_ports)
			return pfail(c, posindex_line(c, key, true), key, "no SATA port left for it: the %s "
				     "machine has %u and the disks use %u", p->machine,
				     vm_sata_ports(p->machine), vm_sata_ports(p->machine) - free_ports);
		r = val_path(c, key, y->media[i], true, &p->install.media[i]);
		if (r < 0)
			return r;
		if (!p->install.media[i])
			return pfail(c, posindex_line(c, key, true), key, "expected a path to an ISO file");
		p->install.n_media = i + 1;
	}
	return 0;
}

int convert_install(struct load_ctx *c, const struct cy_install *y, struct vm_profile *p)
{
	int r;

	p->install.boot_keys = true;
	if (!y)
		return 0;
	if ((r = GET_ENUM(c, "install.display", y->display, install_display_names,
			  &p->install.display)) < 0 ||
	    (r = val_bool(c, "install.boot_keys", y->boot_keys, &p->install.boot_keys)) < 0)
		return r;
	return convert_install_media(c, y, p);
}
