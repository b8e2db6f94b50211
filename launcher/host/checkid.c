/* SPDX-License-Identifier: MIT */
#include "checkid.h"

static const char *const names[] = {
	[CHECK_NONE] = "",
	[CHECK_KVM] = "kvm",
	[CHECK_IOMMU] = "iommu",
	[CHECK_INTERRUPT_REMAPPING] = "interrupt-remapping",
	[CHECK_VFIO_MODULES] = "vfio-modules",
	[CHECK_FIRMWARE] = "firmware",
	[CHECK_MEMLOCK] = "memlock",
	[CHECK_MEMORY] = "memory",
	[CHECK_QEMU] = "qemu",
	[CHECK_BRIDGE] = "bridge",
	[CHECK_NAME] = "name",
	[CHECK_INSTANCE] = "instance",
	[CHECK_DISK] = "disk",
	[CHECK_ROM] = "rom",
	[CHECK_EXTRA_ARGS] = "extra-args",
	[CHECK_TPM] = "tpm",
	[CHECK_INSTALL] = "install",
	[CHECK_AUDIO] = "audio",
	[CHECK_INPUT] = "input",
	[CHECK_LOOKING_GLASS] = "looking-glass",
	[CHECK_CPU_PIN] = "cpu-pin",
	[CHECK_CPU_ISOLATE] = "cpu-isolate",
	[CHECK_HUGEPAGES] = "hugepages",
	[CHECK_DEVICES] = "devices",
	[CHECK_GROUP_VIABLE] = "group-viable",
	[CHECK_DEVICE_STATE] = "device-state",
	[CHECK_CONSOLE] = "console",
	[CHECK_HOLDERS] = "holders",
	[CHECK_MODULES] = "modules",
	[CHECK_BOOT_VGA] = "boot-vga",
	[CHECK_RESET] = "reset",
	[CHECK_DRIVERS] = "drivers",
	[CHECK_AFTER] = "after",
	[CHECK_NEXT_LOGIN] = "next-login",
	[CHECK_VENDOR] = "vendor",
	[CHECK_SWITCH] = "switch",
	[CHECK_VERDICTS] = "verdicts",
};

_Static_assert(sizeof(names) / sizeof(names[0]) == CHECK_ID_MAX + 1, "a check id without a name");

const char *check_id_name(enum check_id id)
{
	return (unsigned)id <= CHECK_ID_MAX && names[id] ? names[id] : "?";
}
