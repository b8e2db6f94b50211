/* SPDX-License-Identifier: MIT */
#include "text.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (2..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, uint32_t *ret_cp)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	uint32_t cp;

	if (!n || s[0] > 0xf4)
		return 0;
	cp = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	*ret_cp = cp;
	return n;
}

const char *text_escape(const char *in, char *buf, size_t cap)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	while (*s) {
		char piece[8];
		size_t len, adv = 1;
		uint32_t cp = 0;

		if (*s == '\\') {
			len = 2;
			memcpy(piece, "\\\\", 2);
		} else if (*s >= 0x20 && *s < 0x7f) {
			len = 1;
			piece[0] = (char)*s;
		} else if (*s >= 0x80 && (adv = utf8_len(s, &cp)) && !(cp >= 0x80 && cp <= 0x9f)) {
			len = adv;
			memcpy(piece, s, adv);
		} else {
			adv = 1;
			len = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", *s);
		}
		if (o + len >= cap)
			break;
		memcpy(buf + o, piece, len);
		o += len;
		s += adv;
	}
	buf[o] = '\0';
	return buf;
}

bool text_is_printable(const char *in)
{
	const unsigned char *s = (const unsigned char *)in;

	while (*s) {
		uint32_t cp = 0;
		size_t n;

		if (*s >= 0x20 && *s < 0x7f) {
			s++;
			continue;
		}
		n = *s >= 0x80 ? utf8_len(s, &cp) : 0;
		if (!n || (cp >= 0x80 && cp <= 0x9f))
			return false;
		s += n;
	}
	return true;
}

bool text_format(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < cap;
}
