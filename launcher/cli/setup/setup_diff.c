/* SPDX-License-Identifier: MIT */
/* A line-based LCS diff: quadratic, which is fine for configuration files this size. */
#include "setup_diff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CONTEXT 3
/* Above this many cells the table is skipped and the diff is one hunk replacing everything. */
#define LCS_MAX_CELLS (4u << 20)

struct line {
	const char *s;
	size_t len; /* without the newline */
	bool nl;    /* ends with a newline (only the last line of a file may not) */
};

struct text {
	struct line *v;
	size_t n;
};

static int split_lines(const char *s, struct text *ret)
{
	size_t cap = 16, n = 0;
	struct line *v = malloc(cap * sizeof(*v));

	if (!v)
		return -ENOMEM;
	while (s && *s) {
		const char *e = strchr(s, '\n');

		if (n == cap) {
			struct line *nv = realloc(v, (cap *= 2) * sizeof(*v));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n].s = s;
		v[n].len = e ? (size_t)(e - s) : strlen(s);
		v[n].nl = e != NULL;
		n++;
		s = e ? e + 1 : s + strlen(s);
	}
	ret->v = v;
	ret->n = n;
	return 0;
}

static bool line_eq(const struct line *a, const struct line *b)
{
	return a->len == b->len && a->nl == b->nl && memcmp(a->s, b->s, a->len) == 0;
}

struct op {
	char kind;     /* ' ', '-', '+' */
	size_t ai, bi; /* positions in a and b before the op */
};

/* The edit script: deletions before insertions within a change, as GNU diff prints them. */
static int edit_script(const struct text *a, const struct text *b, struct op **ret, size_t *ret_n)
{
	size_t w = b->n + 1, n = 0, i = 0, j = 0;
	uint32_t *dp = NULL;
	struct op *ops = malloc((a->n + b->n + 1) * sizeof(*ops));

	if (!ops)
		return -ENOMEM;
	if ((a->n + 1) * w <= LCS_MAX_CELLS) {
		dp = calloc((a->n + 1) * w, sizeof(*dp));
		if (!dp) {
			free(ops);
			return -ENOMEM;
		}
		for (size_t x = a->n; x-- > 0;)
			for (size_t y = b->n; y-- > 0;)
				dp[x * w + y] = line_eq(&a->v[x], &b->v[y]) ?
							dp[(x + 1) * w + y + 1] + 1 :
						dp[(x + 1) * w + y] >= dp[x * w + y + 1] ?
							dp[(x + 1) * w + y] :
							dp[x * w + y + 1];
	}
	while (i < a->n || j < b->n) {
		char k;

		if (dp && i < a->n && j < b->n && line_eq(&a->v[i], &b->v[j]))
			k = ' ';
		else if (i < a->n && (j == b->n || !dp || dp[(i + 1) * w + j] >= dp[i * w + j + 1]))
			k = '-';
		else
			k = '+';
		ops[n++] = (struct op){ k, i, j };
		i += k != '+';
		j += k != '-';
	}
	free(dp);
	*ret = ops;
	*ret_n = n;
	return 0;
}

static void put_line(FILE *f, char kind, const struct line *l)
{
	fputc(kind, f);
	fwrite(l->s, 1, l->len, f);
	fputs(l->nl ? "\n" : "\n\\ No newline at end of file\n", f);
}

static void put_range(FILE *f, char sign, size_t start, size_t count)
{
	/* GNU: "-5" for one line, "-5,0" after line 5 for none, "-5,3" otherwise. */
	if (count == 1)
		fprintf(f, "%c%zu", sign, start + 1);
	else
		fprintf(f, "%c%zu,%zu", sign, count ? start + 1 : start, count);
}

static void put_hunk(FILE *f, const struct text *a, const struct text *b, const struct op *ops,
		     size_t from, size_t to)
{
	size_t na = 0, nb = 0;

	for (size_t k = from; k < to; k++) {
		na += ops[k].kind != '+';
		nb += ops[k].kind != '-';
	}
	fputs("@@ ", f);
	put_range(f, '-', ops[from].ai, na);
	fputc(' ', f);
	put_range(f, '+', ops[from].bi, nb);
	fputs(" @@\n", f);
	for (size_t k = from; k < to; k++)
		put_line(f, ops[k].kind, ops[k].kind == '+' ? &b->v[ops[k].bi] : &a->v[ops[k].ai]);
}

/* The hunks of an edit script: each change with CONTEXT lines around it, changes close enough
 * to share their context in one hunk; the file header before the first. */
static void put_hunks(FILE *f, const char *path, const char *old, const char *new_text,
		      const struct text *a, const struct text *b, const struct op *ops, size_t n)
{
	for (size_t k = 0; k < n;) {
		size_t first = k, from, to, last;

		while (first < n && ops[first].kind == ' ')
			first++;
		if (first == n)
			break;
		if (k == 0)
			fprintf(f, "--- %s%s\n+++ %s%s\n", old ? "a/" : "", old ? path : "/dev/null",
				new_text ? "b/" : "", new_text ? path : "/dev/null");
		from = first > k + CONTEXT ? first - CONTEXT : k;
		/* Extend while the next change is close enough to share context. */
		last = first;
		for (size_t x = first; x < n; x++) {
			if (ops[x].kind != ' ') {
				last = x;
				continue;
			}
			if (x - last > 2 * CONTEXT)
				break;
		}
		to = last + 1 + CONTEXT < n ? last + 1 + CONTEXT : n;
		put_hunk(f, a, b, ops, from, to);
		k = to;
	}
}

int setup_udiff(const char *path, const char *old, const char *new_text, char **ret)
{
	struct text a = { 0 }, b = { 0 };
	struct op *ops = NULL;
	size_t n = 0, len = 0;
	char *buf = NULL;
	FILE *f;
	int r;

	r = split_lines(old, &a);
	if (r == 0)
		r = split_lines(new_text, &b);
	if (r == 0)
		r = edit_script(&a, &b, &ops, &n);
	if (r == 0 && !(f = open_memstream(&buf, &len)))
		r = -ENOMEM;
	if (r == 0) {
		put_hunks(f, path, old, new_text, &a, &b, ops, n);
		if (fclose(f) != 0) {
			free(buf);
			r = -ENOMEM;
		}
	}
	if (r == 0)
		*ret = buf;
	free(ops);
	free(a.v);
	free(b.v);
	return r;
}
