/* SPDX-License-Identifier: MIT */
/* What to write instead: the closest valid word to a misspelt one, the form a value takes. */
#include "profload.h"

#include <ctype.h>
#include <strings.h>

/* Optimal string alignment distance (a swap of neighbours counts one), capped at 9. */
static unsigned distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	unsigned d[KEY_MAX_LEN + 2][KEY_MAX_LEN + 2];

	if (n > KEY_MAX_LEN || m > KEY_MAX_LEN)
		return 9;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			unsigned cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[n][m] > 9 ? 9 : d[n][m];
}

const char *hint_closest(const char *got, const char *const *names, size_t n)
{
	size_t len = strlen(got);
	unsigned allowed = len <= 3 ? 1 : len <= 6 ? 2 : 3, best = allowed + 1;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (!names[i])
			continue;
		/* Keys and values are case-sensitive: "Windows" is one step from "windows". */
		d = strcasecmp(got, names[i]) == 0 ? 0 : distance(got, names[i]);
		if (d < best) {
			best = d;
			pick = names[i];
		}
	}
	return pick;
}

/* The form of each mapping and list a profile has, for "expected a mapping, got ..." errors. */
static const struct {
	const char *path; /* list entries as "[]" */
	const char *form;
} forms[] = {
	{ "usb[]", "{vendor: \"046d\", product: \"c31c\"} (lsusb's ID 046d:c31c)" },
	{ "usb", "a list: usb: [{vendor: \"046d\", product: \"c31c\"}]" },
	{ "disks[]", "{path: /var/lib/vmrun/win10.qcow2} or {device: /dev/disk/by-id/...}" },
	{ "disks", "a list: disks: [{path: /var/lib/vmrun/win10.qcow2}]" },
	{ "pci[]", "{address: \"0000:01:00.0\"}" },
	{ "pci", "a list: pci: [{address: \"0000:01:00.0\"}]" },
	{ "cpu", "a mapping: cpu: {cores: 4, threads: 2}" },
	{ "firmware", "a mapping: firmware: {type: uefi, secure_boot: true}" },
	{ "network", "a mapping: network: {type: user}" },
	{ "boot", "a mapping: boot: {kernel: /boot/vmlinuz, initrd: /boot/initrd.img}" },
	{ "extra_args", "a list of strings: extra_args: [\"-device\", \"virtio-rng-pci\"]" },
	{ "install", "a mapping: install: {media: [/isos/windows.iso, /isos/virtio-win.iso]}" },
	{ "install.media", "a list of ISO files: media: [/isos/windows.iso]" },
};

const char *hint_form(const char *path)
{
	char shape[PATH_MAX_LEN];
	size_t o = 0;

	/* "usb[3]" -> "usb[]": the form does not depend on which entry. */
	for (const char *s = path; *s && o + 1 < sizeof(shape); s++) {
		shape[o++] = *s;
		if (*s == '[')
			while (s[1] && s[1] != ']')
				s++;
	}
	shape[o] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++)
		if (streq(forms[i].path, shape))
			return forms[i].form;
	return NULL;
}

bool hint_usb_pair(const char *s, char vendor[5], char product[5])
{
	if (!s || strlen(s) != 9 || s[4] != ':')
		return false;
	for (int i = 0; i < 9; i++)
		if (i != 4 && !isxdigit((unsigned char)s[i]))
			return false;
	memcpy(vendor, s, 4);
	vendor[4] = '\0';
	memcpy(product, s + 5, 4);
	product[4] = '\0';
	return true;
}

bool hint_line_has_tab(const char *data, size_t len, unsigned line)
{
	unsigned at = 1;

	for (size_t i = 0; i < len; i++) {
		if (at == line && data[i] == '\t')
			return true;
		if (data[i] == '\n' && ++at > line)
			break;
	}
	return false;
}
