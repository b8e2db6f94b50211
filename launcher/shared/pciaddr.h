/* SPDX-License-Identifier: MIT */
/* PCI addresses, parsed strictly: "0000:01:00.0" or "01:00.0", nothing else. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct pci_addr {
	unsigned domain; /* 0..0xffff */
	unsigned bus;    /* 0..0xff */
	unsigned dev;    /* 0..0x1f */
	unsigned fn;     /* 0..7 */
};

#define PCI_ADDR_STR_MAX sizeof("0000:00:00.0")

/* 0 on success, -EINVAL on anything that is not exactly one of the two forms. */
int pci_addr_parse(const char *s, struct pci_addr *ret);
/* Canonical "dddd:bb:dd.f" into buf (at least PCI_ADDR_STR_MAX bytes). */
const char *pci_addr_format(const struct pci_addr *a, char *buf);
bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b);
bool pci_addr_same_slot(const struct pci_addr *a, const struct pci_addr *b);
int pci_addr_cmp(const struct pci_addr *a, const struct pci_addr *b);
