/* SPDX-License-Identifier: MIT */
/* Fuzz the firmware descriptor parser and matcher (firmware/descriptor.c). */
#include <stddef.h>
#include <stdint.h>

#include "firmware/firmware.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fw_request reqs[] = {
		{ .arch = "x86_64", .machine = "q35", .secure_boot = false },
		{ .arch = "x86_64", .machine = "q35", .secure_boot = true },
		{ .arch = "x86_64", .machine = "pc-i440fx-7.2", .secure_boot = false },
		{ .arch = "aarch64", .machine = "virt", .secure_boot = false },
	};
	struct fw_descriptor d = { 0 };
	const char *why = NULL;

	if (fw_descriptor_parse((const char *)data, size, &d) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		(void)fw_descriptor_matches(&d, &reqs[i], &why);
	fw_descriptor_clear(&d);
	return 0;
}
