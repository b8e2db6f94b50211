/* SPDX-License-Identifier: MIT */
#include "names.h"

#include <string.h>

#include "util.h"

bool name_is_safe(const char *name)
{
	return name && *name && !strchr(name, '/') && !streq(name, ".") && !streq(name, "..");
}

bool names_vm_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= VM_NAME_MAX && name_is_safe(s) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}
