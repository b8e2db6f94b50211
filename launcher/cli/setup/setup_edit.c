/* SPDX-License-Identifier: MIT */
#include "setup_edit.h"

#include "allow.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pciaddr.h"
#include "util.h"

static bool has_token(const char *s, size_t len, const char *tok)
{
	size_t n = strlen(tok), i = 0;

	while (i < len) {
		size_t start;

		while (i < len && isspace((unsigned char)s[i]))
			i++;
		start = i;
		while (i < len && !isspace((unsigned char)s[i]))
			i++;
		if (i - start == n && n && memcmp(s + start, tok, n) == 0)
			return true;
	}
	return false;
}

bool setup_tokens_have_all(const char *s, const char *const *opts)
{
	for (; *opts; opts++)
		if (!has_token(s, strlen(s), *opts))
			return false;
	return true;
}

/* "intel_iommu=on iommu=pt" of the opts missing from both values, into buf. */
static size_t missing_opts(const char *a, size_t alen, const char *b, size_t blen,
			   const char *const *opts, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (; *opts; opts++) {
		if (has_token(a, alen, *opts) || has_token(b, blen, *opts))
			continue;
		len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", len ? " " : "",
					*opts);
	}
	return len < cap ? len : 0;
}

struct shell_value {
	const char *start, *end; /* the value without quotes */
	const char *after;       /* just past the closing quote (or the value) */
	char quote;              /* '"', '\'' or 0 */
};

/* A shell assignment's value as /etc/default/grub writes it; -EINVAL for anything fancier. */
static int parse_value(const char *p, const char *eol, struct shell_value *v)
{
	v->quote = *p == '"' || *p == '\'' ? *p : 0;
	if (v->quote) {
		const char *q = memchr(p + 1, v->quote, (size_t)(eol - p - 1));

		if (!q)
			return -EINVAL; /* unterminated, or continued on the next line */
		v->start = p + 1;
		v->end = q;
		v->after = q + 1;
	} else {
		v->start = p;
		v->end = p;
		while (v->end < eol && !isspace((unsigned char)*v->end) && *v->end != ';')
			v->end++;
		v->after = v->end;
	}
	for (const char *c = v->start; c < v->end; c++)
		if (v->quote != '\'' && (*c == '$' || *c == '`' || *c == '\\'))
			return -EINVAL;
	return 0;
}

/* The line of the last assignment to var (ignoring comments), or NULL. */
static const char *find_assignment(const char *text, const char *var, const char **ret_value)
{
	size_t n = strlen(var);
	const char *found = NULL;

	for (const char *l = text; l && *l;) {
		const char *p = l, *eol = strchr(l, '\n');

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		if (strncmp(p, var, n) == 0 && p[n] == '=') {
			found = l;
			*ret_value = p + n + 1;
		}
		l = eol ? eol + 1 : NULL;
	}
	return found;
}

static const char *eol_of(const char *p)
{
	const char *e = strchr(p, '\n');

	return e ? e : p + strlen(p);
}

int setup_grub_add(const char *text, const char *const *opts, char **ret)
{
	static const char def[] = "GRUB_CMDLINE_LINUX_DEFAULT", lin[] = "GRUB_CMDLINE_LINUX";
	struct shell_value dv = { 0 }, lv = { 0 };
	const char *dval = NULL, *lval = NULL, *dline, *lline;
	char add[256];
	char *out = NULL;
	int r;

	dline = find_assignment(text, def, &dval);
	lline = find_assignment(text, lin, &lval);
	if (dline && (r = parse_value(dval, eol_of(dval), &dv)) < 0)
		return r;
	if (lline && (r = parse_value(lval, eol_of(lval), &lv)) < 0)
		return r;
	if (!missing_opts(dv.start ? dv.start : "", (size_t)(dv.end - dv.start),
			  lv.start ? lv.start : "", (size_t)(lv.end - lv.start), opts, add,
			  sizeof(add))) {
		*ret = NULL;
		return 0;
	}
	if (!dline) {
		size_t len = strlen(text);

		r = asprintf(&out, "%s%s%s=\"%s\"\n", text, len && text[len - 1] != '\n' ? "\n" : "",
			     def, add);
	} else {
		bool space = dv.end > dv.start && !isspace((unsigned char)dv.end[-1]);
		char q = dv.quote ? dv.quote : '"';

		/* head up to the value, the value, the options, the quote, the rest */
		r = asprintf(&out, "%.*s%c%.*s%s%s%c%s", (int)(dv.start - text - (dv.quote != 0)), text,
			     q, (int)(dv.end - dv.start), dv.start, space ? " " : "", add, q, dv.after);
	}
	if (r < 0)
		return -ENOMEM;
	*ret = out;
	return 0;
}

int setup_kernel_cmdline_add(const char *text, const char *const *opts, char **ret)
{
	const char *eol = eol_of(text);
	size_t len = (size_t)(eol - text);
	char add[256];
	char *out = NULL;

	if (!missing_opts(text, len, "", 0, opts, add, sizeof(add))) {
		*ret = NULL;
		return 0;
	}
	if (asprintf(&out, "%.*s%s%s%s", (int)len, text,
		     len && !isspace((unsigned char)text[len - 1]) ? " " : "", add,
		     *eol ? eol : "\n") < 0)
		return -ENOMEM;
	*ret = out;
	return 0;
}

/* A quoted word at *p (after blanks): copied into buf, *p moved past it. */
static bool next_quoted(const char **p, char *buf, size_t cap)
{
	const char *s = *p, *e;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '"')
		return false;
	e = strchr(s + 1, '"');
	if (!e || (size_t)(e - s - 1) >= cap)
		return false;
	memcpy(buf, s + 1, (size_t)(e - s - 1));
	buf[e - s - 1] = '\0';
	*p = e + 1;
	return true;
}

/* 1 for an Option "PrimaryGPU" line with a true value, 0 with a false one, -1 otherwise. */
static int primary_gpu_line(const char *l)
{
	char name[64], val[64];

	while (*l == ' ' || *l == '\t')
		l++;
	if (strncasecmp(l, "Option", 6) != 0)
		return -1;
	l += 6;
	if (!next_quoted(&l, name, sizeof(name)) || strcasecmp(name, "PrimaryGPU") != 0)
		return -1;
	if (!next_quoted(&l, val, sizeof(val)))
		return 1; /* Xorg reads a boolean option without a value as true */
	return !strcasecmp(val, "yes") || !strcasecmp(val, "true") || !strcasecmp(val, "on") ||
	       !strcmp(val, "1");
}

bool setup_xorg_has_primary_gpu(const char *text)
{
	for (const char *l = text; l && *l;) {
		const char *eol = strchr(l, '\n');
		char line[512];
		size_t n = eol ? (size_t)(eol - l) : strlen(l);

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		if (primary_gpu_line(line) == 1)
			return true;
		l = eol ? eol + 1 : NULL;
	}
	return false;
}

int setup_xorg_drop_primary_gpu(const char *text, const char *header, char **ret)
{
	size_t len = 0;
	char *out = NULL;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return -ENOMEM;
	fputs(header, f);
	for (const char *l = text; l && *l;) {
		const char *eol = strchr(l, '\n');
		char line[512];
		size_t n = eol ? (size_t)(eol - l) + 1 : strlen(l);

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		if (primary_gpu_line(line) < 0)
			fwrite(l, 1, n, f);
		l = eol ? eol + 1 : NULL;
	}
	if (fclose(f) != 0) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

static bool user_name_ok(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > 32 || !(isalpha((unsigned char)u[0]) || u[0] == '_'))
		return false;
	for (; *u; u++)
		if (!isalnum((unsigned char)*u) && !strchr("_.-", *u))
			return false;
	return true;
}

/* The comment lines (and blank lines) before the first entry: kept when the file is rewritten. */
static size_t header_len(const char *text)
{
	const char *l = text;

	while (*l == '#' || *l == '\n') {
		const char *eol = strchr(l, '\n');

		if (!eol)
			return strlen(text);
		l = eol + 1;
	}
	return (size_t)(l - text);
}

static void put_names(FILE *f, const char *key, char **names)
{
	if (!names || !*names)
		return;
	fprintf(f, ", %s: [", key);
	for (char **n = names; *n; n++)
		fprintf(f, "%s%s", n == names ? "" : ", ", *n);
	fputc(']', f);
}

/* The list in vmrun's own form: one flow mapping per entry, after the header. */
static char *serialise(const char *header, size_t hlen, const struct allow_list *l)
{
	char *out = NULL, addr[PCI_ADDR_STR_MAX];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	fwrite(header, 1, hlen, f);
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].has_device)
			fprintf(f, "- {device: \"%s\"", pci_addr_format(&l->v[i].device, addr));
		else
			fprintf(f, "- {input: \"%s\"", l->v[i].input);
		put_names(f, "users", l->v[i].users);
		put_names(f, "groups", l->v[i].groups);
		fputs("}\n", f);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* user added to the entry for dev, or a new entry for dev. */
static int add_to_list(struct allow_list *l, const struct pci_addr *dev, const char *user)
{
	struct allow_entry *e = NULL, *nv;
	size_t n = 0;
	char **users;

	for (size_t i = 0; i < l->n && !e; i++)
		if (l->v[i].has_device && pci_addr_eq(&l->v[i].device, dev))
			e = &l->v[i];
	if (!e) {
		nv = reallocarray(l->v, l->n + 1, sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		e = &l->v[l->n++];
		*e = (struct allow_entry){ .device = *dev, .has_device = true,
					   .groups = calloc(1, sizeof(char *)) };
		if (!e->groups)
			return -ENOMEM;
	}
	for (; e->users && e->users[n]; n++)
		;
	users = reallocarray(e->users, n + 2, sizeof(*users));
	if (!users)
		return -ENOMEM;
	e->users = users;
	users[n] = strdup(user);
	users[n + 1] = NULL;
	return users[n] ? 0 : -ENOMEM;
}

int setup_allow_has(const char *text, const char *device, const char *user)
{
	struct allow_list l = { 0 };
	struct pci_addr dev;
	char err[256];
	int found = 0;

	if (pci_addr_parse(device, &dev) < 0)
		return -EINVAL;
	if (allow_parse(text, strlen(text), &l, err, sizeof(err)) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < l.n && !found; i++)
		found = l.v[i].has_device && pci_addr_eq(&l.v[i].device, &dev) &&
			allow_entry_permits(&l.v[i], user, (const char *const[]){ NULL });
	allow_list_clear(&l);
	return found;
}


int setup_allow_add(const char *text, const char *device, const char *user, char **ret)
{
	_cleanup_free_ char *again = NULL, *out = NULL;
	struct allow_list l = { 0 };
	struct pci_addr dev;
	size_t hlen = header_len(text);
	char err[256];
	int r;

	if (!user_name_ok(user))
		return -EINVAL;
	if (pci_addr_parse(device, &dev) < 0 || allow_parse(text, strlen(text), &l, err, sizeof(err)) < 0)
		return -EBADMSG;
	r = setup_allow_has(text, device, user);
	if (r != 0) {
		allow_list_clear(&l);
		*ret = NULL;
		return r < 0 ? r : 0;
	}
	/* Rewritten only when the file already is in the form it would be written in: a flow
	 * list, other indentation, comments between entries, a "---" would be lost or changed. */
	again = serialise(text, hlen, &l);
	if (again && !streq(again, text) && text[0] && text[strlen(text) - 1] != '\n') {
		/* A file that only lacks its last newline is still in that form. */
		size_t n = strlen(again);

		if (n && again[n - 1] == '\n' && strncmp(again, text, n - 1) == 0 && n - 1 == strlen(text))
			again[n - 1] = '\0';
	}
	if (!again || !streq(again, text)) {
		allow_list_clear(&l);
		return again ? -EMEDIUMTYPE : -ENOMEM;
	}
	r = add_to_list(&l, &dev, user);
	if (r == 0 && !(out = serialise(text, hlen, &l)))
		r = -ENOMEM;
	allow_list_clear(&l);
	if (r < 0)
		return r;
	/* The new text, read back by the helper's own parser, must allow what was meant. */
	if (setup_allow_has(out, device, user) != 1)
		return -EPROTO; /* a bug of ours: never written */
	*ret = TAKE_PTR(out);
	return 0;
}
