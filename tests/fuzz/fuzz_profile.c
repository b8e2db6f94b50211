/* SPDX-License-Identifier: MIT */
/* Fuzz profile loading (profiles/profile.c): libyaml index, libcyaml load, validation, free. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "accept NAME" or "refuse FILE:LINE: KEY: MESSAGE", for tests/fuzz/expect/profile. */
static struct fuzz_outcome out;

const char *fuzz_outcome(void)
{
	return out.text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile_error err;
	struct vm_profile *p = NULL;
	char buf[1024];

	fuzz_outcome_reset(&out);
	if (profile_load_buffer("fuzz.yaml", (const char *)data, size, &p, &err) < 0) {
		/* Formatting must cope with whatever ended up in the error. */
		fuzz_outcome_add(&out, "refuse %s", profile_error_format(&err, buf, sizeof(buf)));
		return 0;
	}
	fuzz_outcome_add(&out, "accept %s", p->name);
	profile_free(p);
	return 0;
}
