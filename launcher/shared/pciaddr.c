/* SPDX-License-Identifier: MIT */
#include "pciaddr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Exactly n lower- or upper-case hex digits; sscanf would accept signs, spaces and short fields. */
static int hex_field(const char *s, size_t n, unsigned *ret)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v * 16 + d;
	}
	*ret = v;
	return 0;
}

int pci_addr_parse(const char *s, struct pci_addr *ret)
{
	struct pci_addr a = { 0 };
	size_t len;

	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (len == 12) { /* dddd:bb:dd.f */
		if (s[4] != ':' || hex_field(s, 4, &a.domain) < 0)
			return -EINVAL;
		s += 5;
	} else if (len != 7) { /* bb:dd.f */
		return -EINVAL;
	}
	if (s[2] != ':' || s[5] != '.')
		return -EINVAL;
	if (hex_field(s, 2, &a.bus) < 0 || hex_field(s + 3, 2, &a.dev) < 0 ||
	    hex_field(s + 6, 1, &a.fn) < 0)
		return -EINVAL;
	if (a.dev > 0x1f || a.fn > 7)
		return -EINVAL;
	*ret = a;
	return 0;
}

const char *pci_addr_format(const struct pci_addr *a, char *buf)
{
	snprintf(buf, PCI_ADDR_STR_MAX, "%04x:%02x:%02x.%x", a->domain & 0xffff, a->bus & 0xff,
		 a->dev & 0x1f, a->fn & 7);
	return buf;
}

bool pci_addr_same_slot(const struct pci_addr *a, const struct pci_addr *b)
{
	return a->domain == b->domain && a->bus == b->bus && a->dev == b->dev;
}

bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b)
{
	return pci_addr_same_slot(a, b) && a->fn == b->fn;
}

int pci_addr_cmp(const struct pci_addr *a, const struct pci_addr *b)
{
	unsigned ka = a->domain << 16 | a->bus << 8 | a->dev << 3 | a->fn;
	unsigned kb = b->domain << 16 | b->bus << 8 | b->dev << 3 | b->fn;

	return ka < kb ? -1 : ka > kb;
}
