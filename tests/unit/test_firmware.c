/* SPDX-License-Identifier: MIT */
/*
 * OVMF selection and the VM's NVRAM copy, against fixture roots.
 *
 * Each test builds a fresh root in a mkdtemp() directory: descriptor layers are copied from
 * tests/unit/fixtures/firmware/<layer>/ (which stay pristine), and the OVMF images are made at
 * their real Debian 12 sizes with ftruncate, so the flash-generation rule is exercised for real.
 * Run from the repository root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware.h"
#include "util.h"
#include "testskip.h"

#define FIXTURES "tests/unit/fixtures/firmware"

/* Debian 12 ovmf 2022.11 sizes. */
#define CODE_2M 1966080
#define VARS_2M 131072
#define CODE_4M 3653632
#define VARS_4M 540672

struct env {
	char root[64];
	int root_fd;
	int state_fd;
	char err[1024];
};

/* ---- building the root ---- */

static void mkdir_p(int dirfd, const char *path)
{
	char buf[PATH_MAX];

	assert_true(strlen(path) < sizeof(buf));
	strcpy(buf, path);
	for (char *p = buf; (p = strchr(p + 1, '/'));) {
		*p = '\0';
		assert_true(mkdirat(dirfd, buf, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
	assert_true(mkdirat(dirfd, buf, 0755) == 0 || errno == EEXIST);
}

static void write_file(int dirfd, const char *path, const void *data, size_t len)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* A fake image of the given size; its first and last bytes carry a pattern from tag. */
static void make_image(int root_fd, const char *path, off_t size, unsigned char tag)
{
	char dir[PATH_MAX];
	unsigned char pat[4096];
	int fd;

	strcpy(dir, path);
	*strrchr(dir, '/') = '\0';
	mkdir_p(root_fd, dir);
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (unsigned char)(tag ^ (i * 31));
	fd = openat(root_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	assert_int_equal(pwrite(fd, pat, sizeof(pat), 0), (ssize_t)sizeof(pat));
	assert_int_equal(pwrite(fd, pat, sizeof(pat), size - (off_t)sizeof(pat)),
			 (ssize_t)sizeof(pat));
	assert_int_equal(close(fd), 0);
}

/* Debian's /usr/share/OVMF, symlinks included, plus the trees the fixtures point at. */
static void make_images(int root_fd)
{
	make_image(root_fd, "usr/share/OVMF/OVMF_CODE.fd", CODE_2M, 0x11);
	make_image(root_fd, "usr/share/OVMF/OVMF_CODE.secboot.fd", CODE_2M, 0x12);
	make_image(root_fd, "usr/share/OVMF/OVMF_VARS.fd", VARS_2M, 0x13);
	make_image(root_fd, "usr/share/OVMF/OVMF_VARS.ms.fd", VARS_2M, 0x14);
	make_image(root_fd, "usr/share/OVMF/OVMF_CODE_4M.fd", CODE_4M, 0x21);
	make_image(root_fd, "usr/share/OVMF/OVMF_CODE_4M.secboot.fd", CODE_4M, 0x22);
	make_image(root_fd, "usr/share/OVMF/OVMF_VARS_4M.fd", VARS_4M, 0x23);
	make_image(root_fd, "usr/share/OVMF/OVMF_VARS_4M.ms.fd", VARS_4M, 0x24);
	assert_int_equal(symlinkat("OVMF_CODE_4M.secboot.fd", root_fd,
				   "usr/share/OVMF/OVMF_CODE_4M.ms.fd"),
			 0);
	assert_int_equal(symlinkat("OVMF_CODE.secboot.fd", root_fd, "usr/share/OVMF/OVMF_CODE.ms.fd"),
			 0);
	make_image(root_fd, "opt/ovmf/OVMF_CODE_4M.fd", CODE_4M, 0x31);
	make_image(root_fd, "opt/ovmf/OVMF_VARS_4M.fd", VARS_4M, 0x32);
	make_image(root_fd, "home/user/ovmf/OVMF_CODE_4M.fd", CODE_4M, 0x41);
	make_image(root_fd, "home/user/ovmf/OVMF_VARS_4M.fd", VARS_4M, 0x42);
}

static void copy_tree(int src, int dst)
{
	DIR *d;
	struct dirent *de;
	int fd = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	d = fdopendir(fd);
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		assert_int_equal(fstatat(src, de->d_name, &st, AT_SYMLINK_NOFOLLOW), 0);
		if (S_ISDIR(st.st_mode)) {
			int s, t;

			assert_true(mkdirat(dst, de->d_name, 0755) == 0 || errno == EEXIST);
			s = openat(src, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			t = openat(dst, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			assert_true(s >= 0 && t >= 0);
			copy_tree(s, t);
			close(s);
			close(t);
		} else if (S_ISREG(st.st_mode)) {
			char buf[65536];
			int in = openat(src, de->d_name, O_RDONLY | O_CLOEXEC);
			ssize_t n;

			assert_true(in >= 0);
			n = read(in, buf, sizeof(buf));
			assert_true(n >= 0 && n < (ssize_t)sizeof(buf));
			close(in);
			write_file(dst, de->d_name, buf, (size_t)n);
		}
	}
	closedir(d);
}

/* Copy fixtures/firmware/<name> over the root. */
static void layer(struct env *e, const char *name)
{
	char path[PATH_MAX];
	int src, dst;

	snprintf(path, sizeof(path), FIXTURES "/%s", name);
	src = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0)
		fail_msg("fixture %s missing (run from the repository root): %m", path);
	dst = openat(e->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dst >= 0);
	copy_tree(src, dst);
	close(src);
	close(dst);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	strcpy(e->root, "/tmp/vmrun-fw-XXXXXX");
	if (!mkdtemp(e->root))
		return -1;
	e->root_fd = open(e->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (e->root_fd < 0)
		return -1;
	make_images(e->root_fd);
	mkdir_p(e->root_fd, "var/lib/vmrun");
	e->state_fd = openat(e->root_fd, "var/lib/vmrun", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->state_fd < 0)
		return -1;
	*state = e;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct env *e = *state;

	close(e->state_fd);
	close(e->root_fd);
	(void)nftw(e->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(e);
	return 0;
}

static int select_fw(struct env *e, const char *xdg, const char *machine, bool secure,
		     struct fw_choice *c)
{
	struct fw_request req = { .arch = "x86_64", .machine = machine, .secure_boot = secure };
	int r;

	e->err[0] = '\0';
	r = fw_select(e->root_fd, xdg, &req, c, e->err, sizeof(e->err));
	if (r < 0)
		print_message("  fw_select: %s\n", e->err);
	return r;
}

/* ---- selection ---- */

static void test_debian_plain(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "debian");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), 0);
	assert_string_equal(c.descriptor, "/usr/share/qemu/firmware/60-edk2-x86_64.json");
	assert_string_equal(c.code, "/usr/share/OVMF/OVMF_CODE_4M.fd");
	assert_string_equal(c.vars_template, "/usr/share/OVMF/OVMF_VARS_4M.fd");
	assert_string_equal(c.code_format, "raw");
	assert_string_equal(c.vars_format, "raw");
	assert_int_equal(c.code_size, CODE_4M);
	assert_int_equal(c.vars_size, VARS_4M);
	assert_false(c.secure_boot);
	assert_false(c.enrolled_keys);
	assert_false(c.requires_smm);
	fw_choice_clear(&c);
	assert_null(c.code);

	/* A versioned machine name matches the same glob. */
	assert_int_equal(select_fw(e, NULL, "pc-q35-7.2", false, &c), 0);
	assert_string_equal(c.descriptor, "/usr/share/qemu/firmware/60-edk2-x86_64.json");
	fw_choice_clear(&c);
}

static void test_debian_secure(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "debian");
	assert_int_equal(select_fw(e, NULL, "q35", true, &c), 0);
	assert_string_equal(c.descriptor,
			    "/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json");
	/* A symlink in Debian's tree, resolved inside the root. */
	assert_string_equal(c.code, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
	assert_string_equal(c.vars_template, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
	assert_int_equal(c.code_size, CODE_4M);
	assert_int_equal(c.vars_size, VARS_4M);
	assert_true(c.secure_boot);
	assert_true(c.enrolled_keys);
	assert_true(c.requires_smm);
	fw_choice_clear(&c);
}

/* The real host's descriptors, when the ovmf package is installed. */
static void test_host_debian(void **state)
{
	struct fw_choice c = { 0 };
	struct fw_request req = { .arch = "x86_64", .machine = "q35", .secure_boot = false };
	char err[512];
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (access("/usr/share/qemu/firmware/60-edk2-x86_64.json", R_OK) < 0 ||
	    access("/etc/qemu/firmware", F_OK) == 0) {
		close(root);
		test_skip("no Debian OVMF descriptors (package ovmf), or /etc/qemu/firmware overrides them");
	}
	assert_int_equal(fw_select(root, NULL, &req, &c, err, sizeof(err)), 0);
	assert_string_equal(c.code, "/usr/share/OVMF/OVMF_CODE_4M.fd");
	assert_int_equal(c.code_size, CODE_4M);
	assert_int_equal(c.vars_size, VARS_4M);
	fw_choice_clear(&c);
	req.secure_boot = true;
	assert_int_equal(fw_select(root, NULL, &req, &c, err, sizeof(err)), 0);
	assert_string_equal(c.code, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
	assert_true(c.requires_smm);
	fw_choice_clear(&c);
	close(root);
}

static void test_etc_overrides(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "debian");
	layer(e, "etc-override");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), 0);
	assert_string_equal(c.descriptor, "/etc/qemu/firmware/60-edk2-x86_64.json");
	assert_string_equal(c.code, "/opt/ovmf/OVMF_CODE_4M.fd");
	assert_string_equal(c.vars_template, "/opt/ovmf/OVMF_VARS_4M.fd");
	fw_choice_clear(&c);
}

static void test_empty_file_hides(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "debian");
	layer(e, "etc-hide");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), -ENOENT);
	assert_null(c.code);
	assert_non_null(strstr(e->err, "UEFI for x86_64 q35 without secure boot"));
	assert_non_null(strstr(e->err, "2 descriptors seen"));
	assert_non_null(strstr(e->err, "hidden"));
	assert_non_null(strstr(e->err, "'ovmf'"));
	/* Only the plain one is hidden. */
	assert_int_equal(select_fw(e, NULL, "q35", true, &c), 0);
	assert_string_equal(c.descriptor,
			    "/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json");
	fw_choice_clear(&c);
}

static void test_dev_null_symlink_hides(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "debian");
	mkdir_p(e->root_fd, "etc/qemu/firmware");
	assert_int_equal(symlinkat("/dev/null", e->root_fd, "etc/qemu/firmware/60-edk2-x86_64.json"),
			 0);
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), -ENOENT);
	assert_non_null(strstr(e->err, "2 descriptors seen"));
}

static void test_xdg(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };
	int src, n;
	char buf[4096];

	layer(e, "debian");
	layer(e, "etc-override");
	layer(e, "xdg");
	assert_int_equal(select_fw(e, "/home/user/.config", "q35", false, &c), 0);
	assert_string_equal(c.descriptor, "/home/user/.config/qemu/firmware/10-user-ovmf.json");
	assert_string_equal(c.code, "/home/user/ovmf/OVMF_CODE_4M.fd");
	fw_choice_clear(&c);

	/* Without XDG_CONFIG_HOME the user's directory is not read. */
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), 0);
	assert_string_equal(c.descriptor, "/etc/qemu/firmware/60-edk2-x86_64.json");
	fw_choice_clear(&c);

	/* The user's same-named file beats /etc's; hide the user's own 10- so 60 is reached. */
	src = open(FIXTURES "/debian/usr/share/qemu/firmware/60-edk2-x86_64.json",
		   O_RDONLY | O_CLOEXEC);
	assert_true(src >= 0);
	n = (int)read(src, buf, sizeof(buf));
	assert_true(n > 0);
	close(src);
	write_file(e->root_fd, "home/user/.config/qemu/firmware/60-edk2-x86_64.json", buf,
		   (size_t)n);
	write_file(e->root_fd, "home/user/.config/qemu/firmware/10-user-ovmf.json", "", 0);
	assert_int_equal(select_fw(e, "/home/user/.config", "q35", false, &c), 0);
	assert_string_equal(c.descriptor, "/home/user/.config/qemu/firmware/60-edk2-x86_64.json");
	assert_string_equal(c.code, "/usr/share/OVMF/OVMF_CODE_4M.fd");
	fw_choice_clear(&c);
}

static void test_malformed_skipped(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "malformed");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), -ENOENT);
	assert_non_null(strstr(e->err, "1 descriptor seen"));
	assert_non_null(strstr(e->err, "10-broken.json (malformed)"));
	assert_non_null(strstr(e->err, "'ovmf'"));

	/* Sorted first, skipped, and selection goes on. */
	layer(e, "debian");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), 0);
	assert_string_equal(c.descriptor, "/usr/share/qemu/firmware/60-edk2-x86_64.json");
	fw_choice_clear(&c);
}

static void test_no_descriptors(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	assert_int_equal(select_fw(e, "/home/user/.config", "q35", true, &c), -ENOENT);
	assert_null(c.code);
	assert_non_null(strstr(e->err, "no firmware descriptors found"));
	assert_non_null(strstr(e->err, "/home/user/.config/qemu/firmware"));
	assert_non_null(strstr(e->err, "install the Debian package 'ovmf'"));
}

static void test_nothing_fits_message(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	/* Only the plain one: a secure-boot request finds nothing. */
	layer(e, "debian");
	assert_int_equal(unlinkat(e->root_fd,
				  "usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json", 0),
			 0);
	assert_int_equal(select_fw(e, NULL, "q35", true, &c), -ENOENT);
	assert_string_equal(e->err,
			    "no firmware offers UEFI for x86_64 q35 with secure boot and enrolled "
			    "keys (2 descriptors seen); install the Debian package 'ovmf'");
}

static void test_aarch64_not_matched(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "aarch64");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), -ENOENT);
	assert_non_null(strstr(e->err, "1 descriptor seen"));
	layer(e, "debian");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), 0);
	assert_string_equal(c.descriptor, "/usr/share/qemu/firmware/60-edk2-x86_64.json");
	fw_choice_clear(&c);
}

static void test_i440fx_glob_not_q35(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "i440fx");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), -ENOENT);
	assert_int_equal(select_fw(e, NULL, "pc-q35-7.2", false, &c), -ENOENT);
	/* The same descriptor does serve i440fx, so the mismatch above is the machine's. */
	assert_int_equal(select_fw(e, NULL, "pc", false, &c), 0);
	assert_string_equal(c.descriptor, "/usr/share/qemu/firmware/10-edk2-i440fx-only.json");
	fw_choice_clear(&c);
}

static void test_memory_mode_not_matched(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "memory");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), -ENOENT);
	assert_non_null(strstr(e->err, "1 descriptor seen"));
}

static void test_descriptor_mixed_generations_skipped(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "mismatch");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), -ENOENT);
	assert_non_null(
		strstr(e->err, "10-edk2-mixed.json (code and vars from different flash generations)"));
	layer(e, "debian");
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), 0);
	assert_string_equal(c.descriptor, "/usr/share/qemu/firmware/60-edk2-x86_64.json");
	fw_choice_clear(&c);
}

static void test_descriptor_missing_image_skipped(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	layer(e, "debian");
	assert_int_equal(unlinkat(e->root_fd, "usr/share/OVMF/OVMF_CODE_4M.fd", 0), 0);
	assert_int_equal(select_fw(e, NULL, "q35", false, &c), -ENOENT);
	assert_non_null(strstr(e->err, "60-edk2-x86_64.json (image missing)"));
}

/* ---- profile overrides ---- */

static void test_from_paths(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	assert_int_equal(fw_from_paths(e->root_fd, "/usr/share/OVMF/OVMF_CODE_4M.fd",
				       "/usr/share/OVMF/OVMF_VARS_4M.fd", &c, e->err,
				       sizeof(e->err)),
			 0);
	assert_null(c.descriptor);
	assert_string_equal(c.code, "/usr/share/OVMF/OVMF_CODE_4M.fd");
	assert_string_equal(c.code_format, "raw");
	assert_int_equal(c.code_size, CODE_4M);
	/* The vars template is the one given, never the code image. */
	assert_string_equal(c.vars_template, "/usr/share/OVMF/OVMF_VARS_4M.fd");
	assert_string_equal(c.vars_format, "raw");
	assert_int_equal(c.vars_size, VARS_4M);
	fw_choice_clear(&c);

	assert_int_equal(fw_from_paths(e->root_fd, "/usr/share/OVMF/OVMF_CODE.fd",
				       "/usr/share/OVMF/OVMF_VARS.fd", &c, e->err, sizeof(e->err)),
			 0);
	assert_int_equal(c.code_size, CODE_2M);
	assert_int_equal(c.vars_size, VARS_2M);
	fw_choice_clear(&c);
}

static void test_from_paths_mismatch(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	assert_int_equal(fw_from_paths(e->root_fd, "/usr/share/OVMF/OVMF_CODE_4M.fd",
				       "/usr/share/OVMF/OVMF_VARS.fd", &c, e->err, sizeof(e->err)),
			 -EMEDIUMTYPE);
	print_message("  fw_from_paths: %s\n", e->err);
	assert_null(c.code);
	assert_non_null(strstr(e->err, "(3653632 bytes)"));
	assert_non_null(strstr(e->err, "(131072 bytes)"));
	assert_non_null(strstr(e->err, "loses NVRAM"));

	assert_int_equal(fw_from_paths(e->root_fd, "/usr/share/OVMF/OVMF_CODE.fd",
				       "/usr/share/OVMF/OVMF_VARS_4M.fd", &c, e->err,
				       sizeof(e->err)),
			 -EMEDIUMTYPE);
	assert_null(c.code);
}

static void test_from_paths_missing(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };

	assert_int_equal(fw_from_paths(e->root_fd, "/usr/share/OVMF/OVMF_CODE_8M.fd",
				       "/usr/share/OVMF/OVMF_VARS_4M.fd", &c, e->err,
				       sizeof(e->err)),
			 -ENOENT);
	print_message("  fw_from_paths: %s\n", e->err);
	assert_string_equal(e->err,
			    "firmware code image '/usr/share/OVMF/OVMF_CODE_8M.fd' does not exist");
	assert_null(c.code);

	assert_int_equal(fw_from_paths(e->root_fd, "/usr/share/OVMF/OVMF_CODE_4M.fd",
				       "/usr/share/OVMF", &c, e->err, sizeof(e->err)),
			 -EISDIR);
	assert_non_null(strstr(e->err, "is a directory"));
	assert_null(c.code);
}

/* ---- the VM's NVRAM ---- */

static void plain_choice(struct env *e, struct fw_choice *c)
{
	layer(e, "debian");
	assert_int_equal(select_fw(e, NULL, "q35", false, c), 0);
}

static size_t read_at(int dirfd, const char *path, unsigned char *buf, size_t cap)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = 0;
	ssize_t n;

	assert_true(fd >= 0);
	while ((n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	assert_true(n == 0);
	close(fd);
	return len;
}

static size_t count_entries(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdopendir(fd);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += !streq(de->d_name, ".") && !streq(de->d_name, "..");
	closedir(d);
	return n;
}

/* An override's NVRAM is a copy of its vars template, byte for byte: not of the code image. */
static void test_override_vars_copied(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };
	static unsigned char want[VARS_4M + 1], got[VARS_4M + 1];
	char *name = NULL;
	bool created = false;
	int fd;

	/* The template's bytes must differ from the code's for the copy to say which it was. */
	fd = openat(e->root_fd, "usr/share/OVMF/OVMF_VARS_4M.fd", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "VARS-TEMPLATE", 13, 4096), 13);
	close(fd);
	assert_int_equal(fw_from_paths(e->root_fd, "/usr/share/OVMF/OVMF_CODE_4M.fd",
				       "/usr/share/OVMF/OVMF_VARS_4M.fd", &c, e->err, sizeof(e->err)), 0);
	assert_int_equal(fw_vars_ensure(e->state_fd, e->root_fd, "ovr", &c, &name, &created), 0);
	assert_true(created);
	assert_int_equal(read_at(e->root_fd, "usr/share/OVMF/OVMF_VARS_4M.fd", want, sizeof(want)),
			 VARS_4M);
	assert_int_equal(read_at(e->state_fd, "ovr_VARS.fd", got, sizeof(got)), VARS_4M);
	assert_memory_equal(got, want, VARS_4M);
	free(name);
	fw_choice_clear(&c);
}

static void test_vars_create_then_keep(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };
	static unsigned char want[VARS_4M + 1], got[VARS_4M + 1];
	char *name = NULL;
	bool created = false;
	struct stat st;

	plain_choice(e, &c);
	assert_int_equal(fw_vars_ensure(e->state_fd, e->root_fd, "win10", &c, &name, &created), 0);
	assert_string_equal(name, "win10_VARS.fd");
	assert_true(created);
	free(name);
	name = NULL;

	assert_int_equal(fstatat(e->state_fd, "win10_VARS.fd", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, VARS_4M);
	assert_int_equal(read_at(e->root_fd, "usr/share/OVMF/OVMF_VARS_4M.fd", want, sizeof(want)),
			 VARS_4M);
	assert_int_equal(read_at(e->state_fd, "win10_VARS.fd", got, sizeof(got)), VARS_4M);
	assert_memory_equal(got, want, VARS_4M);
	assert_int_equal(count_entries(e->state_fd), 1); /* no temp file left behind */

	/* The guest writes its NVRAM; a second start must keep it. */
	int fd = openat(e->state_fd, "win10_VARS.fd", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "BootOrder:MINE", 14, 8192), 14);
	close(fd);

	created = true;
	assert_int_equal(fw_vars_ensure(e->state_fd, e->root_fd, "win10", &c, &name, &created), 0);
	assert_false(created);
	assert_string_equal(name, "win10_VARS.fd");
	free(name);
	assert_int_equal(read_at(e->state_fd, "win10_VARS.fd", got, sizeof(got)), VARS_4M);
	assert_memory_equal(got + 8192, "BootOrder:MINE", 14);
	assert_memory_equal(got, want, 8192);
	assert_int_equal(count_entries(e->state_fd), 1);
	fw_choice_clear(&c);
}

static void test_vars_symlink_refused(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };
	unsigned char buf[64];
	char *name = NULL;
	bool created = false;
	struct stat st;

	plain_choice(e, &c);
	write_file(e->state_fd, "victim", "precious", 8);
	assert_int_equal(symlinkat("victim", e->state_fd, "win10_VARS.fd"), 0);
	assert_int_equal(fw_vars_ensure(e->state_fd, e->root_fd, "win10", &c, &name, &created),
			 -ELOOP);
	assert_null(name);
	assert_int_equal(read_at(e->state_fd, "victim", buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "precious", 8);
	assert_int_equal(fstatat(e->state_fd, "win10_VARS.fd", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(count_entries(e->state_fd), 2);

	/* A dangling one must not be followed to create its target. */
	assert_int_equal(symlinkat("planted", e->state_fd, "win11_VARS.fd"), 0);
	assert_int_equal(fw_vars_ensure(e->state_fd, e->root_fd, "win11", &c, &name, &created),
			 -ELOOP);
	assert_int_equal(fstatat(e->state_fd, "planted", &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_entries(e->state_fd), 3);
	fw_choice_clear(&c);
}

static void test_vars_not_regular_refused(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };
	char *name = NULL;
	bool created = false;

	plain_choice(e, &c);
	assert_int_equal(mkdirat(e->state_fd, "win10_VARS.fd", 0700), 0);
	assert_int_equal(fw_vars_ensure(e->state_fd, e->root_fd, "win10", &c, &name, &created),
			 -EINVAL);
	assert_null(name);
	assert_int_equal(count_entries(e->state_fd), 1);
	fw_choice_clear(&c);
}

static void test_vars_size_mismatch_refused(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };
	static unsigned char old[VARS_2M], got[VARS_2M + 1];
	char *name = NULL;
	bool created = false;

	plain_choice(e, &c);
	/* NVRAM from a 2 MiB-era setup, next to a 4 MiB code image. */
	for (size_t i = 0; i < sizeof(old); i++)
		old[i] = (unsigned char)(i * 7);
	write_file(e->state_fd, "win10_VARS.fd", old, sizeof(old));
	assert_int_equal(fw_vars_ensure(e->state_fd, e->root_fd, "win10", &c, &name, &created),
			 -EMEDIUMTYPE);
	assert_null(name);
	assert_int_equal(read_at(e->state_fd, "win10_VARS.fd", got, sizeof(got)), VARS_2M);
	assert_memory_equal(got, old, VARS_2M);
	assert_int_equal(count_entries(e->state_fd), 1);
	fw_choice_clear(&c);
}

static void test_vars_names(void **state)
{
	struct env *e = *state;
	struct fw_choice c = { 0 };
	static const char *const bad[] = { "", ".", "..", "a/b", "../x", "/abs" };
	char *name = NULL;
	bool created = false;

	assert_int_equal(fw_vars_name("win11", &name), 0);
	assert_string_equal(name, "win11_VARS.fd");
	free(name);
	name = NULL;
	plain_choice(e, &c);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(fw_vars_name(bad[i], &name), -EINVAL);
		assert_int_equal(
			fw_vars_ensure(e->state_fd, e->root_fd, bad[i], &c, &name, &created),
			-EINVAL);
		assert_null(name);
	}
	assert_int_equal(count_entries(e->state_fd), 0);
	fw_choice_clear(&c);
}

/* ---- the parser ---- */

static void test_descriptor_parse(void **state)
{
	static const char ok[] =
		"{\"interface-types\":[\"uefi\"],\"mapping\":{\"device\":\"flash\","
		"\"executable\":{\"filename\":\"/c.fd\"},\"nvram-template\":{\"filename\":\"/v.fd\","
		"\"format\":\"qcow2\"}},\"targets\":[{\"architecture\":\"x86_64\",\"machines\":"
		"[\"pc-q35-*\"]}],\"features\":[\"requires-smm\"]}\n";
	static const char *const bad[] = {
		"",
		"[]",
		"{",
		"{} {}",
		"{\"interface-types\":\"uefi\"}",
		"{\"mapping\":{\"device\":1}}",
		"{\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[1]}]}",
		"{\"targets\":[\"x86_64\"]}",
		"{\"features\":[\"secure-boot\\u0000\"]}",
	};
	struct fw_descriptor d = { 0 };
	struct fw_request req = { .arch = "x86_64", .machine = "q35" };
	const char *why = NULL;

	assert_int_equal(fw_descriptor_parse(ok, strlen(ok), &d), 0);
	assert_string_equal(d.interface_types[0], "uefi");
	assert_null(d.interface_types[1]);
	assert_string_equal(d.device, "flash");
	assert_null(d.mode);
	assert_string_equal(d.executable, "/c.fd");
	assert_null(d.executable_format);
	assert_string_equal(d.nvram_template_format, "qcow2");
	assert_int_equal(d.n_targets, 1);
	assert_string_equal(d.targets[0].machines[0], "pc-q35-*");
	assert_true(fw_descriptor_matches(&d, &req, &why));
	req.secure_boot = true;
	assert_false(fw_descriptor_matches(&d, &req, &why));
	assert_string_equal(why, "no secure boot");
	fw_descriptor_clear(&d);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		d.device = (char *)"untouched";
		assert_int_equal(fw_descriptor_parse(bad[i], strlen(bad[i]), &d), -EBADMSG);
		assert_string_equal(d.device, "untouched");
	}
	/* Embedded NUL and oversize. */
	assert_int_equal(fw_descriptor_parse("{}\0{}", 5, &d), -EBADMSG);
	assert_int_equal(fw_descriptor_parse(ok, FW_DESCRIPTOR_MAX + 1, &d), -EFBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_debian_plain),
		T(test_debian_secure),
		cmocka_unit_test(test_host_debian),
		T(test_etc_overrides),
		T(test_empty_file_hides),
		T(test_dev_null_symlink_hides),
		T(test_xdg),
		T(test_malformed_skipped),
		T(test_no_descriptors),
		T(test_nothing_fits_message),
		T(test_aarch64_not_matched),
		T(test_i440fx_glob_not_q35),
		T(test_memory_mode_not_matched),
		T(test_descriptor_mixed_generations_skipped),
		T(test_descriptor_missing_image_skipped),
		T(test_from_paths),
		T(test_from_paths_mismatch),
		T(test_from_paths_missing),
		T(test_override_vars_copied),
		T(test_vars_create_then_keep),
		T(test_vars_symlink_refused),
		T(test_vars_not_regular_refused),
		T(test_vars_size_mismatch_refused),
		T(test_vars_names),
		T(test_descriptor_parse),
#undef T
	};

	return cmocka_run_group_tests_name("firmware", tests, NULL, NULL);
}
