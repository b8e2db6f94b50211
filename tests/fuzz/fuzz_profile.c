/* SPDX-License-Identifier: MIT */
/* Fuzz profile loading (profiles/profile.c): libyaml index, libcyaml load, validation, free. */
#include <stddef.h>
#include <stdint.h>

#include "profiles/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile_error err;
	struct vm_profile *p = NULL;
	char buf[1024];

	if (profile_load_buffer("fuzz.yaml", (const char *)data, size, &p, &err) < 0) {
		/* Formatting must cope with whatever ended up in the error. */
		(void)profile_error_format(&err, buf, sizeof(buf));
		return 0;
	}
	profile_free(p);
	return 0;
}
