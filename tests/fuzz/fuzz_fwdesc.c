/* SPDX-License-Identifier: MIT */
/* Fuzz the firmware descriptor parser and matcher (firmware/descriptor.c). */
#include <stddef.h>
#include <stdint.h>

#include "firmware.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * "refuse ERRNO", or "accept DEVICE EXECUTABLE" and which of the requests below it matches
 * (1/0 each, in order), for tests/fuzz/expect/fwdesc.
 */
static struct fuzz_outcome out;

const char *fuzz_outcome(void)
{
	return out.text;
}

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
	int r;

	fuzz_outcome_reset(&out);
	r = fw_descriptor_parse((const char *)data, size, &d);
	if (r < 0) {
		fuzz_outcome_add(&out, "refuse %s", fuzz_errname(r));
		return 0;
	}
	fuzz_outcome_add(&out, "accept %s %s matches=", d.device ? d.device : "-",
			 d.executable ? d.executable : "-");
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		fuzz_outcome_add(&out, "%d", fw_descriptor_matches(&d, &reqs[i], &why));
	fw_descriptor_clear(&d);
	return 0;
}
