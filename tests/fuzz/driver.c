/* SPDX-License-Identifier: MIT */
/*
 * Replay driver for the fuzz entry points when no fuzzing engine is linked: runs each file
 * given (or each file in each directory given) through LLVMFuzzerTestOneInput once. With
 * clang, build with -fsanitize=fuzzer instead (make fuzz CC=clang FUZZ_ENGINE=-fsanitize=fuzzer).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int main(int argc, char **argv)
{
	unsigned runs = 0;
	int err = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *de;

			while (d && (de = readdir(d))) {
				char p[4096];

				if (de->d_name[0] == '.')
					continue;
				snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
				err |= run_file(p);
				runs++;
			}
			if (d)
				closedir(d);
		} else {
			err |= run_file(argv[i]);
			runs++;
		}
	}
	printf("%s: replayed %u input(s)\n", argv[0], runs);
	return err;
}
