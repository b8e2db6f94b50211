/* SPDX-License-Identifier: MIT */
/*
 * vmrun desktop-entry PROFILE [--remove] [--name NAME]: a launcher in the desktop's menu that
 * runs the VM (with --notify, so its progress and failures show up as notifications).
 * The file is $XDG_DATA_HOME/applications/vmrun-<vm name>.desktop, written atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "log.h"
#include "names.h"
#include "profile_path.h"
#include "text.h"
#include "util.h"
#include "xdg.h"

#define NAME_MAX_LEN 200

static void profile_freep(struct vm_profile **p)
{
	if (*p)
		profile_free(*p);
}

/* Grows a malloc'd string; on allocation failure it stays NULL and the caller reports ENOMEM. */
struct buf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void buf_putc(struct buf *b, char c)
{
	if (b->oom)
		return;
	if (b->len + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	for (; *s; s++)
		buf_putc(b, *s);
}

/* A string value: a backslash is written "\\" (the spec's escapes are \s \n \t \r \\). */
static void put_string_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
}

/*
 * One argument of an Exec line, per the Desktop Entry Specification: an argument with a reserved
 * character goes in double quotes, where '"', '`', '$' and '\' take a backslash; '%' is always
 * doubled (it starts field codes). The string-value escape is applied on top, so a literal
 * backslash ends up as four of them and an escaped quote as \\".
 */
static void put_exec_arg(struct buf *b, const char *arg)
{
	bool quote = strpbrk(arg, " \t\n\"'\\><~|&;$*?#()`") != NULL;

	if (quote)
		buf_putc(b, '"');
	for (const char *p = arg; *p; p++) {
		if (*p == '%')
			buf_putc(b, '%');
		else if (quote && strchr("\"`$\\", *p))
			buf_puts(b, "\\\\"); /* the quoting backslash, string-escaped */
		if (*p == '\\')
			buf_puts(b, "\\\\");
		else
			buf_putc(b, *p);
	}
	if (quote)
		buf_putc(b, '"');
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* "vmrun" when that name on PATH is the binary running now; otherwise its absolute path. */
static int vmrun_command(char **ret)
{
	char self[PATH_MAX], cand[PATH_MAX];
	const char *path = getenv("PATH");
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	for (const char *p = path ? path : "", *end; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (end == p || p[0] != '/' || (size_t)(end - p) + 7 > sizeof(cand))
			continue; /* relative PATH entries depend on where the desktop starts us */
		snprintf(cand, sizeof(cand), "%.*s/vmrun", (int)(end - p), p);
		if (access(cand, X_OK) == 0) {
			/* The first vmrun on PATH is the one the launcher would run. */
			*ret = strdup(same_file(cand, self) ? "vmrun" : self);
			return *ret ? 0 : -ENOMEM;
		}
	}
	*ret = strdup(self);
	return *ret ? 0 : -ENOMEM;
}

/* mkdir -p with 0755 for the parts that are missing. */
static int mkdir_parents(const char *dir)
{
	_cleanup_free_ char *p = strdup(dir);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1;; s++) {
		char c;

		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = c;
		if (!c)
			break;
	}
	return 0;
}

/* dir/name as a whole or not at all, readable by the desktop whatever the umask. */
static int write_entry(const char *dir, const char *name, const char *content)
{
	_cleanup_close_ int dfd = -1;
	int r = mkdir_parents(dir);

	if (r < 0)
		return r;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	return write_file_atomic_at(dfd, name, content, strlen(content), 0644, (uid_t)-1, (gid_t)-1);
}

static int remove_entry(const char *path)
{
	if (unlink(path) < 0) {
		if (errno != ENOENT) {
			log_err("Cannot remove '%s': %m", path);
			return EXIT_ERROR;
		}
		printf("%s does not exist, nothing to remove\n", path);
		return EXIT_OK;
	}
	printf("removed %s\n", path);
	return EXIT_OK;
}

static int build_entry(const char *vm, const char *title, const char *profile, char **ret)
{
	_cleanup_free_ char *cmd = NULL;
	struct buf b = { 0 };
	int r;

	r = vmrun_command(&cmd);
	if (r < 0)
		return r;
	buf_puts(&b, "[Desktop Entry]\nType=Application\nName=");
	if (title)
		put_string_value(&b, title);
	else {
		buf_puts(&b, vm);
		buf_puts(&b, " (VM)");
	}
	buf_puts(&b, "\nComment=Run the ");
	buf_puts(&b, vm); /* [A-Za-z0-9._-]: nothing to escape */
	buf_puts(&b, " VM with its GPU (vmrun)\nExec=");
	put_exec_arg(&b, cmd);
	buf_puts(&b, " --notify ");
	put_exec_arg(&b, profile);
	buf_puts(&b, "\nIcon=computer\nTerminal=false\nCategories=System;Emulator;\n"
		     "Keywords=VM;QEMU;GPU;passthrough;\n");
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*ret = b.s;
	return 0;
}

/* The VM's name: from its profile, or (removing a launcher whose profile is gone) the name
 * itself. 0 or an exit code. */
static int vm_of(const char *arg, const char *path, bool remove, struct vm_profile **p,
		 const char **ret)
{
	int r;

	if (remove && access(path, F_OK) < 0 && errno == ENOENT && names_vm_valid(arg)) {
		*ret = arg;
		return 0;
	}
	r = profile_path_load(path, p);
	if (r == 0)
		*ret = (*p)->name;
	return r;
}

/* The launcher for the profile at path, written into dir. */
static int write_launcher(const char *vm, const char *title, const char *path, const char *dir,
			  const char *file)
{
	_cleanup_free_ char *abs = realpath(path, NULL), *text = NULL;
	int r;

	if (!abs) {
		log_err("desktop-entry: cannot resolve '%s': %m", path);
		return EXIT_ERROR;
	}
	if (!text_is_printable(abs)) {
		log_err("desktop-entry: the profile path '%s' has control characters or is not UTF-8; "
			"move the profile", abs);
		return EXIT_USAGE;
	}
	r = build_entry(vm, title, abs, &text);
	if (r < 0) {
		log_err("desktop-entry: cannot find the vmrun binary: %s", strerror(-r));
		return EXIT_ERROR;
	}
	r = write_entry(dir, file, text);
	if (r < 0) {
		log_err("Cannot write '%s/%s': %s", dir, file, strerror(-r));
		return EXIT_ERROR;
	}
	printf("%s/%s\n", dir, file);
	return EXIT_OK;
}

int cmd_desktop_entry(struct cli *c, const struct cli_args *a)
{
	_cleanup_(profile_freep) struct vm_profile *p = NULL;
	_cleanup_free_ char *path = NULL, *data = NULL, *dir = NULL, *file = NULL, *full = NULL;
	const char *title = args_value(a, OPT_NAME), *vm = NULL, *arg = a->pos[0];
	bool remove = args_has(a, OPT_REMOVE);
	int r;

	if (title && (!*title || strlen(title) > NAME_MAX_LEN || !text_is_printable(title))) {
		log_err("desktop-entry: --name must be 1 to %d characters of printable UTF-8",
			NAME_MAX_LEN);
		return EXIT_USAGE;
	}
	r = profile_resolve(arg, &path);
	if (r < 0) {
		log_err("desktop-entry: '%s' is neither a profile path nor a VM name (%s)", arg,
			r == -EINVAL ? VM_NAME_RULE : strerror(-r));
		return r == -EINVAL ? EXIT_USAGE : EXIT_ERROR;
	}
	r = vm_of(arg, path, remove, &p, &vm);
	if (r)
		return r;
	r = xdg_dir(XDG_DATA, c->uid, &data);
	if (r < 0 || asprintf(&dir, "%s/applications", data) < 0) {
		log_err("desktop-entry: no data directory: set HOME or XDG_DATA_HOME");
		return EXIT_ERROR;
	}
	if (asprintf(&file, "vmrun-%s.desktop", vm) < 0 || asprintf(&full, "%s/%s", dir, file) < 0)
		return EXIT_ERROR;
	return remove ? remove_entry(full) : write_launcher(vm, title, path, dir, file);
}
