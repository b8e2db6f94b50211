/* SPDX-License-Identifier: MIT */
/*
 * Replay driver for the fuzz entry points when no fuzzing engine is linked.
 *
 *   fuzz_X FILE|DIR...                   run each input once (a crash fails)
 *   fuzz_X --expect EXPECT DIR           run each input in DIR and compare what it did,
 *                                        fuzz_outcome(), with its line in EXPECT
 *   fuzz_X --print DIR                   print "NAME<TAB>OUTCOME" for each input, to write
 *                                        EXPECT for new inputs (review every line!)
 *
 * EXPECT has one "NAME<TAB>OUTCOME" line per corpus file ('#' lines are comments). An input
 * without a line, a line without an input, and an outcome that differs all fail, each reported
 * on a "not ok" line. With clang, build with -fsanitize=fuzzer instead (make fuzz CC=clang
 * FUZZ_ENGINE=-fsanitize=fuzzer).
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *buf;
	long n;

	if (!f)
		return perror(path), 1;
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return 1;
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return 1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The file names in dir, sorted, NULL-terminated; every one is an input. */
static char **list_dir(const char *dir, size_t *ret_n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	if (!d)
		return perror(dir), NULL;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		v = realloc(v, (n + 2) * sizeof(*v));
		v[n++] = strdup(de->d_name);
		v[n] = NULL;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*ret_n = n;
	return v ? v : calloc(1, sizeof(*v));
}

struct expectation {
	char *name, *outcome;
	bool seen;
};

static struct expectation *read_expect(const char *path, size_t *ret_n)
{
	FILE *f = fopen(path, "re");
	struct expectation *v = NULL;
	char line[2048];
	size_t n = 0;

	if (!f)
		return perror(path), NULL;
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');

		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (!tab) {
			fprintf(stderr, "%s: no tab in line '%s'\n", path, line);
			fclose(f);
			return NULL;
		}
		*tab = '\0';
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = (struct expectation){ strdup(line), strdup(tab + 1), false };
	}
	fclose(f);
	*ret_n = n;
	return v ? v : calloc(1, sizeof(*v));
}

static void free_lists(char **in, size_t n_in, struct expectation *ex, size_t n_ex)
{
	for (size_t i = 0; i < n_in; i++)
		free(in[i]);
	free(in);
	for (size_t k = 0; ex && k < n_ex; k++) {
		free(ex[k].name);
		free(ex[k].outcome);
	}
	free(ex);
}

static int compare(const char *prog, const char *expect_path, const char *dir, bool print,
		   char **in, size_t n_in, struct expectation *ex, size_t n_ex);

static int replay_expect(const char *prog, const char *expect_path, const char *dir, bool print)
{
	struct expectation *ex = NULL;
	size_t n_in = 0, n_ex = 0;
	char **in = list_dir(dir, &n_in);
	int r = 2;

	if (in && (print || (ex = read_expect(expect_path, &n_ex))))
		r = compare(prog, expect_path, dir, print, in, n_in, ex, n_ex);
	free_lists(in, n_in, ex, n_ex);
	return r;
}

static int compare(const char *prog, const char *expect_path, const char *dir, bool print,
		   char **in, size_t n_in, struct expectation *ex, size_t n_ex)
{
	size_t bad = 0;

	for (size_t i = 0; i < n_in; i++) {
		char path[4096];
		struct expectation *e = NULL;

		snprintf(path, sizeof(path), "%s/%s", dir, in[i]);
		if (run_file(path))
			return 2;
		if (print) {
			printf("%s\t%s\n", in[i], fuzz_outcome());
			continue;
		}
		for (size_t k = 0; k < n_ex && !e; k++)
			if (strcmp(ex[k].name, in[i]) == 0)
				e = &ex[k];
		if (!e) {
			printf("not ok %s: no expected outcome in %s (got: %s)\n", in[i], expect_path,
			       fuzz_outcome());
			bad++;
			continue;
		}
		e->seen = true;
		if (strcmp(e->outcome, fuzz_outcome()) != 0) {
			printf("not ok %s:\n    expected: %s\n    got:      %s\n", in[i], e->outcome,
			       fuzz_outcome());
			bad++;
		}
	}
	for (size_t k = 0; k < n_ex; k++)
		if (!ex[k].seen) {
			printf("not ok %s: listed in %s but not in %s\n", ex[k].name, expect_path, dir);
			bad++;
		}
	if (print)
		return 0;
	if (bad) {
		printf("%s: %zu of %zu input(s) not as expected\n", prog, bad, n_in);
		return 1;
	}
	printf("%s: %zu input(s) replayed, all as expected\n", prog, n_in);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned runs = 0;
	int err = 0;

	if (argc == 4 && strcmp(argv[1], "--expect") == 0)
		return replay_expect(argv[0], argv[2], argv[3], false);
	if (argc == 3 && strcmp(argv[1], "--print") == 0)
		return replay_expect(argv[0], NULL, argv[2], true);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			size_t n = 0;
			char **in = list_dir(argv[i], &n);

			for (size_t k = 0; in && k < n; k++) {
				char p[4096];

				snprintf(p, sizeof(p), "%s/%s", argv[i], in[k]);
				err |= run_file(p);
				runs++;
			}
		} else {
			err |= run_file(argv[i]);
			runs++;
		}
	}
	printf("%s: replayed %u input(s)\n", argv[0], runs);
	return err;
}
