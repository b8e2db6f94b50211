/* SPDX-License-Identifier: MIT */
/*
 * What a check is about, as one enum with one name table: the switch says which check refused
 * it (switch_ctx.check), and the pre-flight (vm/checks.h) files each verdict under one; `vmrun
 * check --json` prints the names. A misspelt id does not compile.
 */
#pragma once

enum check_id {
	CHECK_NONE = 0,
	/* the host */
	CHECK_KVM, CHECK_IOMMU, CHECK_INTERRUPT_REMAPPING, CHECK_VFIO_MODULES, CHECK_FIRMWARE,
	CHECK_MEMLOCK, CHECK_MEMORY, CHECK_QEMU, CHECK_BRIDGE,
	/* the profile */
	CHECK_NAME, CHECK_INSTANCE, CHECK_DISK, CHECK_ROM, CHECK_EXTRA_ARGS, CHECK_TPM,
	CHECK_INSTALL,
	/* sharing the host */
	CHECK_AUDIO, CHECK_INPUT, CHECK_LOOKING_GLASS, CHECK_CPU_PIN, CHECK_CPU_ISOLATE,
	CHECK_HUGEPAGES,
	/* a GPU and its group (the switch's refusals among them) */
	CHECK_DEVICES, CHECK_GROUP_VIABLE, CHECK_DEVICE_STATE, CHECK_CONSOLE, CHECK_HOLDERS,
	CHECK_MODULES, CHECK_BOOT_VGA, CHECK_RESET, CHECK_DRIVERS, CHECK_AFTER, CHECK_NEXT_LOGIN,
	CHECK_VENDOR,
	CHECK_SWITCH,   /* a refusal of the switch's that no other check names */
	CHECK_VERDICTS, /* the pre-flight itself: a verdict it could not record */
	CHECK_ID_MAX = CHECK_VERDICTS,
};

/* "iommu", "group-viable", ...; "" for CHECK_NONE. */
const char *check_id_name(enum check_id id);
