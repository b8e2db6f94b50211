/* SPDX-License-Identifier: MIT */
/*
 * Choosing OVMF: gather QEMU firmware descriptors, take the first that fits the request, and
 * check its images exist and pair up. See firmware/README.md for the rules.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileio.h"
#include "firmware.h"
#include "fw-internal.h"
#include "log.h"
#include "util.h"

#define MiB (UINT64_C(1024) * 1024)

static const char *strip_root(const char *path)
{
	while (*path == '/')
		path++;
	return path;
}

static bool has_dotdot(const char *p)
{
	for (const char *c = p; c; c = strchr(c, '/')) {
		while (*c == '/')
			c++;
		if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
			return true;
	}
	return false;
}

int fw_open_in_root(int root_fd, const char *path, int flags)
{
	const char *rel;
	int fd;

	if (!path || !*(rel = strip_root(path)))
		return -EINVAL;
#ifdef SYS_openat2
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	do
		fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
	while (fd < 0 && errno == EINTR);
	if (fd >= 0)
		return fd;
	/* Old kernels say ENOSYS, some seccomp filters EPERM: fall back to plain openat. */
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
#endif
	if (has_dotdot(rel))
		return -EXDEV;
	do
		fd = openat(root_fd, rel, flags);
	while (fd < 0 && errno == EINTR);
	return fd >= 0 ? fd : -errno;
}

/*
 * OVMF's flash is one device split in two files: code then vars, summing to the flash size of the
 * build (edk2 OvmfPkg FD_SIZE_1MB/2MB/4MB). Debian 12 ships both generations:
 *   2 MiB: OVMF_CODE.fd     1966080 + OVMF_VARS.fd     131072 = 2097152
 *   4 MiB: OVMF_CODE_4M.fd  3653632 + OVMF_VARS_4M.fd  540672 = 4194304
 * A pair from different generations (4M code + 128K vars, or 2M code + 528K vars) does not add
 * up to a flash size, and is the trap that boots but loses NVRAM. So: raw code + raw vars must
 * sum to exactly 1, 2 or 4 MiB, with vars the smaller part.
 */
bool fw_raw_sizes_fit(uint64_t code_size, uint64_t vars_size)
{
	uint64_t sum = code_size + vars_size;

	if (code_size == 0 || vars_size == 0 || vars_size >= code_size)
		return false;
	return sum == 1 * MiB || sum == 2 * MiB || sum == 4 * MiB;
}

_printf_(4, 5) static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Append to a bounded note; truncation is fine, it only ever feeds an error message. */
_printf_(3, 4) static void note_add(char *buf, size_t cap, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= cap)
		return;
	if (used > 0)
		used += (size_t)snprintf(buf + used, cap - used, ", ");
	if (used + 1 >= cap)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf + used, cap - used, fmt, ap);
	va_end(ap);
}

void fw_choice_clear(struct fw_choice *c)
{
	if (!c)
		return;
	free(c->descriptor);
	free(c->code);
	free(c->code_format);
	free(c->vars_template);
	free(c->vars_format);
	memset(c, 0, sizeof(*c));
}

static void fw_choice_clearp(struct fw_choice *c)
{
	fw_choice_clear(c);
}

static void fw_descriptor_clearp(struct fw_descriptor *d)
{
	fw_descriptor_clear(d);
}

/* An image named by a descriptor or profile: must resolve to a regular file. */
static int stat_image(int root_fd, const char *path, uint64_t *ret_size)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = fw_open_in_root(root_fd, path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

static const char *image_error(int r)
{
	switch (r) {
	case -ENOENT:
		return "does not exist";
	case -EISDIR:
		return "is a directory";
	case -EINVAL:
		return "is not a regular file";
	default:
		return strerror(-r);
	}
}

/* ---- gathering descriptors ---- */

struct desc_entry {
	char *name;
	size_t dir; /* index into the directory list: later is more specific */
};

struct desc_list {
	struct desc_entry *v;
	size_t n;
};

static void desc_list_free(struct desc_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool is_descriptor_name(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 5 && streq(name + len - 5, ".json");
}

/* Add dir's *.json names; a name already seen from an earlier directory is taken over. */
static int gather_dir(int root_fd, const char *dir, size_t idx, struct desc_list *l)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	int fd;

	fd = fw_open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		safe_close(fd);
		return -errno;
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		struct desc_entry *grown;
		size_t i;

		if (!is_descriptor_name(de->d_name))
			continue;
		for (i = 0; i < l->n; i++)
			if (streq(l->v[i].name, de->d_name))
				break;
		if (i < l->n) {
			l->v[i].dir = idx;
			continue;
		}
		grown = realloc(l->v, (l->n + 1) * sizeof(*l->v));
		if (!grown)
			return -ENOMEM;
		l->v = grown;
		l->v[l->n].name = strdup(de->d_name);
		if (!l->v[l->n].name)
			return -ENOMEM;
		l->v[l->n++].dir = idx;
	}
	return errno ? -errno : 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct desc_entry *)a)->name, ((const struct desc_entry *)b)->name);
}

enum load_result { LOAD_OK, LOAD_HIDDEN, LOAD_UNREADABLE, LOAD_MALFORMED };

/*
 * Read and parse one descriptor. An empty file or a symlink to /dev/null masks the name (QEMU's
 * convention). Everything that is not a usable descriptor is reported, never fatal.
 */
static enum load_result load_descriptor(int root_fd, const char *path, struct fw_descriptor *ret)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	char target[16];
	struct stat st;
	size_t len = 0;
	ssize_t n;

	n = readlinkat(root_fd, strip_root(path), target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if (streq(target, "/dev/null"))
			return LOAD_HIDDEN;
	}
	fd = fw_open_in_root(root_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_debug("firmware descriptor %s: cannot open: %s", path,
			  strerror(fd < 0 ? -fd : errno));
		return LOAD_UNREADABLE;
	}
	if (S_ISCHR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0))
		return LOAD_HIDDEN;
	if (!S_ISREG(st.st_mode)) {
		log_debug("firmware descriptor %s: not a regular file", path);
		return LOAD_UNREADABLE;
	}
	if (st.st_size > FW_DESCRIPTOR_MAX) {
		log_debug("firmware descriptor %s: larger than %d bytes", path, FW_DESCRIPTOR_MAX);
		return LOAD_MALFORMED;
	}
	/* Read to EOF rather than trusting st_size: the file may change under us. */
	n = read_fd(fd, FW_DESCRIPTOR_MAX, 0, &buf, &len);
	if (n == -EFBIG)
		return LOAD_MALFORMED;
	if (n < 0) {
		log_debug("firmware descriptor %s: read: %s", path, strerror((int)-n));
		return LOAD_UNREADABLE;
	}
	if (len == 0)
		return LOAD_HIDDEN;
	if (fw_descriptor_parse(buf, len, ret) < 0) {
		log_debug("firmware descriptor %s: malformed, ignoring", path);
		return LOAD_MALFORMED;
	}
	return LOAD_OK;
}

static const char *format_or_raw(const char *f)
{
	return f ? f : "raw";
}

static bool format_known(const char *f)
{
	return streq(f, "raw") || streq(f, "qcow2");
}

/*
 * Check the images a matching descriptor names and fill the choice. On a problem, a short reason
 * goes to *ret_why and -ENOENT is returned so selection goes on to the next descriptor.
 */
static int choice_from_descriptor(int root_fd, const char *path, const struct fw_descriptor *d,
				  struct fw_choice *ret, const char **ret_why)
{
	_cleanup_(fw_choice_clearp) struct fw_choice c = { 0 };
	const char *code_fmt = format_or_raw(d->executable_format);
	const char *vars_fmt = format_or_raw(d->nvram_template_format);

	if (d->executable[0] != '/' || d->nvram_template[0] != '/') {
		*ret_why = "relative image path";
		return -ENOENT;
	}
	if (!format_known(code_fmt) || !format_known(vars_fmt)) {
		*ret_why = "unknown image format";
		return -ENOENT;
	}
	if (stat_image(root_fd, d->executable, &c.code_size) < 0 ||
	    stat_image(root_fd, d->nvram_template, &c.vars_size) < 0) {
		*ret_why = "image missing";
		return -ENOENT;
	}
	/* qcow2 file sizes say nothing about the flash size; the rule is for raw images. */
	if (streq(code_fmt, "raw") && streq(vars_fmt, "raw") &&
	    !fw_raw_sizes_fit(c.code_size, c.vars_size)) {
		*ret_why = "code and vars from different flash generations";
		return -ENOENT;
	}

	c.descriptor = strdup(path);
	c.code = strdup(d->executable);
	c.code_format = strdup(code_fmt);
	c.vars_template = strdup(d->nvram_template);
	c.vars_format = strdup(vars_fmt);
	if (!c.descriptor || !c.code || !c.code_format || !c.vars_template || !c.vars_format)
		return -ENOMEM;
	for (char **f = d->features; f && *f; f++) {
		c.secure_boot |= streq(*f, "secure-boot");
		c.enrolled_keys |= streq(*f, "enrolled-keys");
		c.requires_smm |= streq(*f, "requires-smm");
	}
	*ret = c;
	memset(&c, 0, sizeof(c));
	return 0;
}

static void describe_request(const struct fw_request *req, char *buf, size_t cap)
{
	(void)snprintf(buf, cap, "UEFI for %s %s %s", req->arch, req->machine,
		       req->secure_boot ? "with secure boot and enrolled keys"
					: "without secure boot");
}

/* What the search saw, for the error when nothing fits. */
struct search {
	const char *dirs[3];
	size_t n_dirs, seen, hidden;
	char skipped[512];
};

/* The descriptor directories, most general first; all their entries, sorted (firmware.json). */
static int gather_all(int root_fd, const char *xdg_config_home, struct search *sr,
		      struct desc_list *list, char **xdg_dir, char *err, size_t errlen)
{
	sr->dirs[0] = "/usr/share/qemu/firmware";
	sr->dirs[1] = "/etc/qemu/firmware";
	sr->n_dirs = 2;
	if (xdg_config_home && *xdg_config_home) {
		if (asprintf(xdg_dir, "/%s/qemu/firmware", strip_root(xdg_config_home)) < 0) {
			*xdg_dir = NULL;
			return fail(err, errlen, -ENOMEM, "out of memory");
		}
		sr->dirs[sr->n_dirs++] = *xdg_dir;
	}
	for (size_t i = 0; i < sr->n_dirs; i++) {
		int r = gather_dir(root_fd, sr->dirs[i], i, list);

		if (r < 0)
			return fail(err, errlen, r, "cannot read firmware descriptors in %s: %s",
				    sr->dirs[i], strerror(-r));
	}
	if (list->n > 0)
		qsort(list->v, list->n, sizeof(*list->v), entry_cmp);
	return 0;
}

/* One descriptor: 1 chosen (ret filled), 0 not this one (noted), <0 an error. */
static int try_descriptor(int root_fd, const char *path, const char *name,
			  const struct fw_request *req, struct search *sr, struct fw_choice *ret)
{
	_cleanup_(fw_descriptor_clearp) struct fw_descriptor d = { 0 };
	const char *why = NULL;
	int r;

	switch (load_descriptor(root_fd, path, &d)) {
	case LOAD_HIDDEN:
		log_debug("firmware descriptor %s: empty, hides %s", path, name);
		sr->hidden++;
		return 0;
	case LOAD_UNREADABLE:
		sr->seen++;
		note_add(sr->skipped, sizeof(sr->skipped), "%s (unreadable)", name);
		return 0;
	case LOAD_MALFORMED:
		sr->seen++;
		note_add(sr->skipped, sizeof(sr->skipped), "%s (malformed)", name);
		return 0;
	case LOAD_OK:
		sr->seen++;
		break;
	}
	if (!fw_descriptor_matches(&d, req, &why)) {
		log_debug("firmware descriptor %s: %s", path, why);
		return 0;
	}
	r = choice_from_descriptor(root_fd, path, &d, ret, &why);
	if (r == -ENOENT) {
		log_debug("firmware descriptor %s: %s, ignoring", path, why);
		note_add(sr->skipped, sizeof(sr->skipped), "%s (%s)", name, why);
		return 0;
	}
	return r < 0 ? r : 1;
}

static int nothing_fits(const struct search *sr, const char *asked, char *err, size_t errlen)
{
	if (sr->seen == 0 && sr->hidden == 0)
		return fail(err, errlen, -ENOENT,
			    "no firmware descriptors found in %s, %s%s%s; "
			    "install the Debian package 'ovmf'", sr->dirs[0], sr->dirs[1],
			    sr->n_dirs > 2 ? " or " : "", sr->n_dirs > 2 ? sr->dirs[2] : "");
	return fail(err, errlen, -ENOENT,
		    "no firmware offers %s (%zu descriptor%s seen%s%s%s); "
		    "install the Debian package 'ovmf'",
		    asked, sr->seen, sr->seen == 1 ? "" : "s",
		    sr->hidden ? ", some hidden by empty files" : "",
		    sr->skipped[0] ? ", skipped: " : "", sr->skipped);
}

int fw_select(int root_fd, const char *xdg_config_home, const struct fw_request *req,
	      struct fw_choice *ret, char *err, size_t errlen)
{
	_cleanup_(desc_list_free) struct desc_list list = { 0 };
	_cleanup_free_ char *xdg_dir = NULL;
	struct search sr = { 0 };
	char asked[256];
	int r;

	if (!req || !req->arch || !req->machine || !ret)
		return fail(err, errlen, -EINVAL, "invalid firmware request");
	describe_request(req, asked, sizeof(asked));
	r = gather_all(root_fd, xdg_config_home, &sr, &list, &xdg_dir, err, errlen);
	if (r < 0)
		return r;
	/* The first that fits wins. */
	for (size_t i = 0; i < list.n; i++) {
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, "%s/%s", sr.dirs[list.v[i].dir], list.v[i].name) < 0) {
			path = NULL;
			return fail(err, errlen, -ENOMEM, "out of memory");
		}
		r = try_descriptor(root_fd, path, list.v[i].name, req, &sr, ret);
		if (r < 0)
			return fail(err, errlen, r, "%s", strerror(-r));
		if (r > 0) {
			log_debug("firmware: %s from %s", asked, path);
			return 0;
		}
	}
	return nothing_fits(&sr, asked, err, errlen);
}

/* qcow2 images start with "QFI\xfb"; anything else is taken as raw. */
static int image_format(int root_fd, const char *path, const char **ret)
{
	_cleanup_close_ int fd = -1;
	unsigned char magic[4];
	ssize_t n;

	fd = fw_open_in_root(root_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return fd;
	do
		n = pread(fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*ret = (n == 4 && memcmp(magic, "QFI\xfb", 4) == 0) ? "qcow2" : "raw";
	return 0;
}

int fw_from_paths(int root_fd, const char *code, const char *vars, struct fw_choice *ret,
		  char *err, size_t errlen)
{
	_cleanup_(fw_choice_clearp) struct fw_choice c = { 0 };
	const char *code_fmt = "raw", *vars_fmt = "raw";
	int r;

	if (!code || !*code || !vars || !*vars || !ret)
		return fail(err, errlen, -EINVAL,
			    "a firmware override needs both a code image and a vars template");

	r = stat_image(root_fd, code, &c.code_size);
	if (r < 0)
		return fail(err, errlen, r, "firmware code image '%s' %s", code, image_error(r));
	r = stat_image(root_fd, vars, &c.vars_size);
	if (r < 0)
		return fail(err, errlen, r, "firmware vars template '%s' %s", vars, image_error(r));
	r = image_format(root_fd, code, &code_fmt);
	if (r >= 0)
		r = image_format(root_fd, vars, &vars_fmt);
	if (r < 0)
		return fail(err, errlen, r, "cannot read firmware images '%s', '%s': %s", code,
			    vars, strerror(-r));

	if (streq(code_fmt, "raw") && streq(vars_fmt, "raw") &&
	    !fw_raw_sizes_fit(c.code_size, c.vars_size))
		return fail(err, errlen, -EMEDIUMTYPE,
			    "firmware code '%s' (%" PRIu64 " bytes) and vars template '%s' (%" PRIu64
			    " bytes) are not one OVMF flash: 4 MiB builds pair 3653632-byte code "
			    "with 540672-byte vars, 2 MiB builds 1966080 with 131072; a mismatched "
			    "pair loses NVRAM",
			    code, c.code_size, vars, c.vars_size);

	c.code = strdup(code);
	c.code_format = strdup(code_fmt);
	c.vars_template = strdup(vars);
	c.vars_format = strdup(vars_fmt);
	if (!c.code || !c.code_format || !c.vars_template || !c.vars_format)
		return fail(err, errlen, -ENOMEM, "out of memory");
	*ret = c;
	memset(&c, 0, sizeof(c));
	return 0;
}
