/* SPDX-License-Identifier: MIT */
/*
 * vmrun desktop-entry PROFILE [--remove] [--name NAME]: a launcher in the desktop's menu that
 * runs the VM (with --notify, so its progress and failures show up as notifications).
 * The file is $XDG_DATA_HOME/applications/vmrun-<vm name>.desktop, written atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "cli.h"
#include "log.h"
#include "profile_path.h"

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

/* Printable UTF-8 only: a desktop file is UTF-8 text, and control characters have no business
 * in a name or a path we put on the Exec line. */
static bool text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, n;

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return false;
		/* Overlong forms and surrogates are rejected by the second byte's range. */
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
		    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
			return false;
		for (unsigned i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n + 1;
	}
	return true;
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

/* $XDG_DATA_HOME/applications (XDG_DATA_HOME only when absolute), else ~/.local/share/... */
static int applications_dir(char **ret)
{
	const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	struct passwd *pw;
	int n;

	if (x && x[0] == '/')
		n = asprintf(ret, "%s/applications", x);
	else {
		if (!home || home[0] != '/') {
			pw = getpwuid(getuid());
			home = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
		}
		if (!home)
			return -ENOENT;
		n = asprintf(ret, "%s/.local/share/applications", home);
	}
	return n < 0 ? -ENOMEM : 0;
}

/* mkdir -p with 0755 for the parts that are missing. */
static int mkdir_parents(const char *dir)
{
	_cleanup_free_ char *p = strdup(dir);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = c;
		if (!c)
			break;
	}
	return 0;
}

/* Write dir/name as a whole or not at all: a temp file in the same directory, then rename. */
static int write_atomic(const char *dir, const char *name, const char *content)
{
	_cleanup_close_ int dfd = -1, fd = -1;
	char tmp[NAME_MAX + 1];
	int r;

	r = mkdir_parents(dir);
	if (r < 0)
		return r;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	snprintf(tmp, sizeof(tmp), ".%.200s.%d.tmp", name, (int)getpid());
	(void)unlinkat(dfd, tmp, 0); /* a leftover of a killed run with the same pid */
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	r = fchmod(fd, 0644) < 0 ? -errno : 0; /* whatever the umask: the desktop must read it */
	if (r == 0)
		r = write_all(fd, content, strlen(content));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dfd, tmp, 0);
		return r;
	}
	(void)fsync(dfd);
	return 0;
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

static void usage(FILE *f)
{
	fprintf(f, "vmrun desktop-entry PROFILE [--remove] [--name NAME]\n"
		   "  Write a launcher for the VM to $XDG_DATA_HOME/applications/vmrun-VM.desktop\n"
		   "  (~/.local/share/applications by default); PROFILE is a file or a VM name\n"
		   "  ($XDG_CONFIG_HOME/vmrun/NAME.yaml).\n"
		   "  -r, --remove     remove the launcher instead\n"
		   "  -N, --name NAME  the name shown in the menu (default: \"VM (VM)\")\n");
}

int cmd_desktop_entry(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "remove", no_argument, NULL, 'r' },
					      { "name", required_argument, NULL, 'N' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	_cleanup_(profile_freep) struct vm_profile *p = NULL;
	_cleanup_free_ char *path = NULL, *abs = NULL, *dir = NULL, *file = NULL, *text = NULL;
	const char *title = NULL, *vm;
	bool remove = false;
	int o, r;

	while ((o = getopt_long(argc, argv, "rN:h", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			remove = true;
			break;
		case 'N':
			title = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		log_err("desktop-entry: expected one profile (see vmrun desktop-entry --help)");
		return EXIT_USAGE;
	}
	if (title && (!*title || strlen(title) > NAME_MAX_LEN || !text_ok(title))) {
		log_err("desktop-entry: --name must be 1 to %d characters of printable UTF-8",
			NAME_MAX_LEN);
		return EXIT_USAGE;
	}
	r = profile_resolve(argv[optind], &path);
	if (r == -EINVAL) {
		log_err("desktop-entry: '%s' is neither a profile path nor a VM name "
			"([A-Za-z0-9._-], at most 64 characters)", argv[optind]);
		return EXIT_USAGE;
	}
	if (r < 0) {
		log_err("desktop-entry: cannot locate the profile '%s': %s", argv[optind],
			strerror(-r));
		return EXIT_ERROR;
	}
	/* Removing needs only the VM's name: a profile already deleted is fine when named. */
	if (remove && access(path, F_OK) < 0 && errno == ENOENT && vm_name_is_valid(argv[optind]) &&
	    !strchr(argv[optind], '/'))
		vm = argv[optind];
	else {
		r = cli_load_profile(path, &p);
		if (r != 0)
			return r;
		vm = p->name;
	}
	r = applications_dir(&dir);
	if (r < 0) {
		log_err("desktop-entry: no data directory: set HOME or XDG_DATA_HOME");
		return EXIT_ERROR;
	}
	if (asprintf(&file, "vmrun-%s.desktop", vm) < 0)
		return EXIT_ERROR;
	if (remove) {
		_cleanup_free_ char *full = NULL;

		if (asprintf(&full, "%s/%s", dir, file) < 0)
			return EXIT_ERROR;
		return remove_entry(full);
	}

	abs = realpath(path, NULL);
	if (!abs) {
		log_err("desktop-entry: cannot resolve '%s': %m", path);
		return EXIT_ERROR;
	}
	if (!text_ok(abs)) {
		log_err("desktop-entry: the profile path '%s' has control characters or is not UTF-8; "
			"move the profile", abs);
		return EXIT_USAGE;
	}
	r = build_entry(vm, title, abs, &text);
	if (r < 0) {
		log_err("desktop-entry: cannot find the vmrun binary: %s", strerror(-r));
		return EXIT_ERROR;
	}
	r = write_atomic(dir, file, text);
	if (r < 0) {
		log_err("Cannot write '%s/%s': %s", dir, file, strerror(-r));
		return EXIT_ERROR;
	}
	printf("%s/%s\n", dir, file);
	return EXIT_OK;
}
