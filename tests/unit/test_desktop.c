/* SPDX-License-Identifier: MIT */
/*
 * Desktop and service-manager integration: the profile-name lookup, the systemd notify
 * protocol against a real AF_UNIX datagram socket (path and abstract), desktop notifications
 * through a stand-in notify-send, and `vmrun desktop-entry` end to end in a temp HOME.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fakesys.h"
#include "notify.h"
#include "profile_path.h"
#include "util.h"
#include "testskip.h"

static char vmrun[PATH_MAX + 16]; /* this build's vmrun */
static char vmrun_real[PATH_MAX]; /* the same, canonical: what /proc/self/exe says in it */

static const char lab_yaml[] = "name: lab\nos: linux\naccel: tcg\nmemory: 512M\n"
			       "network: {type: none}\ndisplay: none\n";

/* ---- helpers ---- */

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	assert_true(getdelim(&s, &n, '\0', f) >= 0 || feof(f));
	fclose(f);
	return s;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---- profile_resolve ---- */

static void test_profile_resolve(void **state)
{
	static const struct {
		const char *arg, *config_home, *expect; /* expect NULL: -EINVAL */
	} cases[] = {
		{ "win11", "/cfg", "/cfg/vmrun/win11.yaml" },
		{ "a.b-c_9", "/cfg", "/cfg/vmrun/a.b-c_9.yaml" },
		{ "win11", NULL, "/home/u/.config/vmrun/win11.yaml" },
		{ "win11", "relative/cfg", "/home/u/.config/vmrun/win11.yaml" }, /* XDG: ignored */
		{ "win11", "", "/home/u/.config/vmrun/win11.yaml" },
		{ "./win11", "/cfg", "./win11" },
		{ "dir/win11", "/cfg", "dir/win11" },
		{ "/etc/vmrun/w.yaml", "/cfg", "/etc/vmrun/w.yaml" },
		{ "win11.yaml", "/cfg", "win11.yaml" },
		{ "win11.yml", "/cfg", "win11.yml" },
		{ "bad name.yaml", "/cfg", "bad name.yaml" }, /* a path: its own business */
		{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "/cfg",
		  "/cfg/vmrun/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.yaml" },
		{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "/cfg", NULL },
		{ "", "/cfg", NULL },
		{ ".", "/cfg", NULL },
		{ "..", "/cfg", NULL },
		{ "bad name", "/cfg", NULL },
		{ "a$b", "/cfg", NULL },
		{ "w\n", "/cfg", NULL },
		{ "caf\xc3\xa9", "/cfg", NULL },
		{ "win11.yaml.bak", "/cfg", "/cfg/vmrun/win11.yaml.bak.yaml" },
	};

	setenv("HOME", "/home/u", 1);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *sentinel = (char *)"untouched", *p = sentinel;
		int r;

		if (cases[i].config_home)
			setenv("XDG_CONFIG_HOME", cases[i].config_home, 1);
		else
			unsetenv("XDG_CONFIG_HOME");
		r = profile_resolve(cases[i].arg, &p);
		if (!cases[i].expect) {
			if (r != -EINVAL)
				fail_msg("'%s': expected -EINVAL, got %d", cases[i].arg, r);
			assert_ptr_equal(p, sentinel);
			continue;
		}
		if (r != 0)
			fail_msg("'%s': %s", cases[i].arg, strerror(-r));
		assert_string_equal(p, cases[i].expect);
		free(p);
	}
	unsetenv("XDG_CONFIG_HOME");
}

/* A bare name is never a file in the current directory; as root, only a profile nobody else
 * can write is run (it is code: extra_args, tap scripts). */
static void test_profile_trust(void **state)
{
	char dir[] = "/tmp/vmrun-trust-XXXXXX", path[64], why[512], cwd[4096], *p = NULL;

	(void)state;
	if (geteuid() != 0)
		test_skip("as a user, files cannot be given to another owner");
	assert_non_null(mkdtemp(dir));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(path, sizeof(path), "%s/win10.yaml", dir);
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
	/* A file called win10 here: `vmrun win10` still means the config dir's. */
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(close(open("win10", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
	setenv("XDG_CONFIG_HOME", "/cfg", 1);
	assert_int_equal(profile_resolve("win10", &p), 0);
	assert_string_equal(p, "/cfg/vmrun/win10.yaml");
	free(p);
	unsetenv("XDG_CONFIG_HOME");
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(profile_check_trust(path, why, sizeof(why)), 0);
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(profile_check_trust(path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "win10.yaml is writable by anyone, and root runs what a profile says"));
	assert_int_equal(chmod(path, 0664), 0);
	assert_int_equal(chown(path, 0, 4242), 0);
	assert_int_equal(profile_check_trust(path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "is writable by its group"));
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(chown(path, 4242, 4242), 0);
	assert_int_equal(profile_check_trust(path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "belongs to another user"));
	setenv("SUDO_UID", "4242", 1); /* root acting for that very user through sudo */
	assert_int_equal(profile_check_trust(path, why, sizeof(why)), 0);
	unsetenv("SUDO_UID");
	assert_int_equal(chown(path, 0, 0), 0);
	/* The directory: writable by others, the file can be swapped; sticky, it cannot. */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(profile_check_trust(path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "which is writable by anyone: whoever can write there can swap"));
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(profile_check_trust(path, why, sizeof(why)), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chown(dir, 4242, 0), 0);
	assert_int_equal(profile_check_trust(path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "which belongs to another user"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/win10", dir);
	unlink(path);
	rmdir(dir);
}

/* ---- sd_notify ---- */

struct sock {
	int fd;
	char dir[64];
	char env[128]; /* the NOTIFY_SOCKET value */
};

static void sock_bind(struct sock *s, bool abstract)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;

	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	s->dir[0] = '\0';
	if (abstract) {
		snprintf(s->env, sizeof(s->env), "@vmrun-test-%d-%ld", (int)getpid(), (long)time(NULL));
		memcpy(sa.sun_path + 1, s->env + 1, strlen(s->env) - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(s->env));
	} else {
		strcpy(s->dir, "/tmp/vmrun-notify-XXXXXX");
		assert_non_null(mkdtemp(s->dir));
		snprintf(s->env, sizeof(s->env), "%s/notify", s->dir);
		strcpy(sa.sun_path, s->env);
		len = (socklen_t)sizeof(sa);
	}
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, len), 0);
	setenv("NOTIFY_SOCKET", s->env, 1);
}

static void sock_close(struct sock *s)
{
	unsetenv("NOTIFY_SOCKET");
	close(s->fd);
	if (s->dir[0]) {
		unlink(s->env);
		rmdir(s->dir);
	}
}

/* The next datagram, exactly as sent (the send is synchronous: it is queued already). */
static void expect_datagram(struct sock *s, const char *expect)
{
	char buf[512];
	ssize_t n = recv(s->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_int_equal((size_t)n, strlen(expect)); /* no trailing NUL or newline */
	assert_string_equal(buf, expect);
}

static void notify_messages(bool abstract)
{
	struct sock s;

	sock_bind(&s, abstract);
	assert_int_equal(sd_notify_ready("Running win11 (GPU 0000:01:00.0)"), 1);
	expect_datagram(&s, "READY=1\nSTATUS=Running win11 (GPU 0000:01:00.0)");
	assert_int_equal(sd_notify_ready(NULL), 1);
	expect_datagram(&s, "READY=1");
	/* A newline in a status cannot smuggle in another assignment. */
	assert_int_equal(sd_notify_status("Powering down\nREADY=1"), 1);
	expect_datagram(&s, "STATUS=Powering down READY=1");
	assert_int_equal(sd_notify_stopping(), 1);
	expect_datagram(&s, "STOPPING=1");
	assert_int_equal(recv(s.fd, (char[8]){ 0 }, 8, MSG_DONTWAIT), -1); /* nothing else */
	sock_close(&s);
}

static void test_sd_notify_path(void **state)
{
	notify_messages(false);
}

static void test_sd_notify_abstract(void **state)
{
	notify_messages(true);
}

static void test_sd_notify_unset_and_bad(void **state)
{
	char longname[200];

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sd_notify_ready("x"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(sd_notify_stopping(), 0);
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	assert_int_equal(sd_notify_ready("x"), -EAFNOSUPPORT);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	assert_int_equal(sd_notify_ready("x"), -EINVAL);
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	assert_int_equal(sd_notify_ready("x"), -ENOENT); /* sent nowhere: said so */
	unsetenv("NOTIFY_SOCKET");
}

/* ---- desktop_notify, with a stand-in notify-send on PATH ---- */

struct nfx {
	char dir[64];
	char out[128];
	char *saved_path;
};

static int notify_setup(void **state)
{
	struct nfx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/vmrun-notify-send-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->out, sizeof(f->out), "%s/args", f->dir);
	f->saved_path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", f->dir, 1);
	setenv("NOTIFY_SEND_OUT", f->out, 1);
	unsetenv("WAYLAND_DISPLAY");
	setenv("DISPLAY", ":99", 1);
	*state = f;
	return 0;
}

static int notify_teardown(void **state)
{
	struct nfx *f = *state;
	char p[128];

	setenv("PATH", f->saved_path, 1);
	unsetenv("DISPLAY");
	unsetenv("NOTIFY_SEND_OUT");
	snprintf(p, sizeof(p), "%s/notify-send", f->dir);
	unlink(p);
	unlink(f->out);
	rmdir(f->dir);
	free(f->saved_path);
	free(f);
	return 0;
}

static void fake_notify_send(struct nfx *f, const char *script_body)
{
	char p[128], script[512];

	snprintf(p, sizeof(p), "%s/notify-send", f->dir);
	snprintf(script, sizeof(script), "#!/bin/sh\n%s\n", script_body);
	write_text(p, script, 0755);
}

static void test_desktop_notify_argv(void **state)
{
	struct nfx *f = *state;
	_cleanup_free_ char *args = NULL;

	fake_notify_send(f, "for a; do printf '[%s]\\n' \"$a\"; done >\"$NOTIFY_SEND_OUT\"");
	/* Shell syntax in the text stays text: there is no shell. */
	assert_int_equal(desktop_notify("win11: GPU given back", "$(touch /tmp/pwned) `id`; x", false), 0);
	args = read_text(f->out);
	assert_non_null(args);
	assert_string_equal(args, "[--app-name=vmrun]\n[--icon=computer]\n[--urgency=normal]\n[--]\n"
				  "[win11: GPU given back]\n[$(touch /tmp/pwned) `id`; x]\n");
	free(args);
	assert_int_equal(desktop_notify("-win11 failed", NULL, true), 0);
	args = read_text(f->out);
	assert_string_equal(args, "[--app-name=vmrun]\n[--icon=computer]\n[--urgency=critical]\n[--]\n"
				  "[-win11 failed]\n");
}

static void test_desktop_notify_no_session(void **state)
{
	struct nfx *f = *state;

	fake_notify_send(f, "/bin/touch \"$NOTIFY_SEND_OUT\""); /* PATH is only f->dir */
	unsetenv("DISPLAY");
	assert_int_equal(desktop_notify("x", "y", false), -ENOENT);
	assert_false(exists(f->out));
	setenv("WAYLAND_DISPLAY", "wayland-0", 1); /* Wayland alone is a session too */
	assert_int_equal(desktop_notify("x", "y", false), 0);
	assert_true(exists(f->out));
	unsetenv("WAYLAND_DISPLAY");
}

static void test_desktop_notify_missing_or_failing(void **state)
{
	struct nfx *f = *state;

	assert_int_equal(desktop_notify("x", NULL, false), -ENOENT); /* none on PATH */
	fake_notify_send(f, "exit 1");
	assert_int_equal(desktop_notify("x", NULL, false), -EIO);
}

static void test_desktop_notify_does_not_hang(void **state)
{
	struct nfx *f = *state;
	struct timespec a, b;
	double secs;

	fake_notify_send(f, "exec /bin/sleep 4");
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(desktop_notify("x", NULL, false), 0); /* still showing: left to finish */
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	assert_true(secs >= 1.5 && secs < 3.5);
}

/* ---- vmrun desktop-entry, end to end ---- */

struct dfx {
	char *root;
	char home[PATH_MAX], data[PATH_MAX], apps[PATH_MAX], entry[PATH_MAX], profile[PATH_MAX];
	char *out, *err;
	char *saved_path;
};

static int entry_setup(void **state)
{
	struct dfx *f = calloc(1, sizeof(*f));
	char config[PATH_MAX];

	f->root = fake_root_new();
	fake_write(f->root, "cfg/vmrun/lab.yaml", lab_yaml);
	fake_mkdir(f->root, "home");
	snprintf(f->home, sizeof(f->home), "%s/home", f->root);
	snprintf(f->data, sizeof(f->data), "%s/data", f->root);
	snprintf(f->apps, sizeof(f->apps), "%s/data/applications", f->root);
	snprintf(f->entry, sizeof(f->entry), "%s/data/applications/vmrun-lab.desktop", f->root);
	snprintf(f->profile, sizeof(f->profile), "%s/cfg/vmrun/lab.yaml", f->root);
	snprintf(config, sizeof(config), "%s/cfg", f->root);
	setenv("HOME", f->home, 1);
	setenv("XDG_DATA_HOME", f->data, 1);
	setenv("XDG_CONFIG_HOME", config, 1);
	f->saved_path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", "/usr/bin:/bin", 1); /* no vmrun there: Exec gets the absolute path */
	umask(022);
	*state = f;
	return 0;
}

static int entry_teardown(void **state)
{
	struct dfx *f = *state;

	setenv("PATH", f->saved_path, 1);
	unsetenv("XDG_DATA_HOME");
	unsetenv("XDG_CONFIG_HOME");
	fake_root_free(f->root);
	free(f->saved_path);
	free(f->out);
	free(f->err);
	free(f);
	return 0;
}

static int run(struct dfx *f, const char *const *args)
{
	char *argv[16] = { vmrun, (char *)"desktop-entry" };
	size_t n = 2;

	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	free(f->out);
	free(f->err);
	return run_capture(argv, &f->out, &f->err);
}

static char *expected_entry(const char *name_line, const char *exec_line)
{
	char *s;

	assert_true(asprintf(&s,
			     "[Desktop Entry]\nType=Application\n%s\n"
			     "Comment=Run the lab VM with its GPU (vmrun)\n%s\nIcon=computer\n"
			     "Terminal=false\nCategories=System;Emulator;\n"
			     "Keywords=VM;QEMU;GPU;passthrough;\n",
			     name_line, exec_line) > 0);
	return s;
}

static size_t dir_entries(const char *dir)
{
	char cmd[PATH_MAX + 32];
	FILE *p;
	size_t n = 0;
	int c;

	snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
	p = popen(cmd, "re");
	assert_non_null(p);
	while ((c = fgetc(p)) != EOF)
		n += c == '\n';
	pclose(p);
	return n;
}

static void validate(const char *path)
{
	char *argv[] = { (char *)"/usr/bin/desktop-file-validate", (char *)path, NULL };
	_cleanup_free_ char *out = NULL, *err = NULL;

	if (access(argv[0], X_OK) != 0)
		test_skip("no desktop-file-validate (package desktop-file-utils; tests/install-deps installs it)");
	assert_int_equal(run_capture(argv, &out, &err), 0);
	if (*out || *err)
		fail_msg("desktop-file-validate %s:\n%s%s", path, out, err);
}

static void test_entry_write(void **state)
{
	struct dfx *f = *state;
	_cleanup_free_ char *want = NULL, *got = NULL, *exec = NULL, *out = NULL;
	struct stat st;

	/* By VM name, found in $XDG_CONFIG_HOME/vmrun. */
	assert_int_equal(run(f, (const char *[]){ "lab", NULL }), 0);
	assert_string_equal(f->err, "");
	assert_true(asprintf(&out, "%s\n", f->entry) > 0);
	assert_string_equal(f->out, out);
	assert_int_equal(stat(f->entry, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(stat(f->apps, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_true(asprintf(&exec, "Exec=%s --notify %s", vmrun_real, f->profile) > 0);
	want = expected_entry("Name=lab (VM)", exec);
	got = read_text(f->entry);
	assert_string_equal(got, want);
	validate(f->entry);

	/* Again, by path: the same file, nothing else left in the directory. */
	assert_int_equal(run(f, (const char *[]){ f->profile, NULL }), 0);
	free(got);
	got = read_text(f->entry);
	assert_string_equal(got, want);
	assert_int_equal(dir_entries(f->apps), 1);
}

static void test_entry_name_and_path_lookup(void **state)
{
	struct dfx *f = *state;
	_cleanup_free_ char *got = NULL, *bin = NULL, *link = NULL, *want = NULL, *exec = NULL;

	/* vmrun on PATH is this binary: the entry says just "vmrun". */
	assert_true(asprintf(&bin, "%s/bin", f->root) > 0);
	assert_true(asprintf(&link, "%s/vmrun", bin) > 0);
	assert_int_equal(mkdir(bin, 0755), 0);
	assert_int_equal(symlink(vmrun_real, link), 0);
	setenv("PATH", bin, 1);
	assert_int_equal(run(f, (const char *[]){ "--name", "Lab \\ machine", "lab", NULL }), 0);
	assert_true(asprintf(&exec, "Exec=vmrun --notify %s", f->profile) > 0);
	want = expected_entry("Name=Lab \\\\ machine", exec);
	got = read_text(f->entry);
	assert_string_equal(got, want);
	validate(f->entry);
	setenv("PATH", "/usr/bin:/bin", 1);

	/* XDG_DATA_HOME unset: ~/.local/share/applications. */
	unsetenv("XDG_DATA_HOME");
	assert_int_equal(run(f, (const char *[]){ "lab", NULL }), 0);
	free(got);
	assert_true(asprintf(&got, "%s/.local/share/applications/vmrun-lab.desktop\n", f->home) > 0);
	assert_string_equal(f->out, got);
	setenv("XDG_DATA_HOME", f->data, 1);
}

static void test_entry_exec_quoting(void **state)
{
	struct dfx *f = *state;
	_cleanup_free_ char *path = NULL, *want = NULL, *exec = NULL, *got = NULL;

	/* Reserved characters: the argument is double-quoted, '"' '$' '\' take a backslash which
	 * the string escape then doubles; '%' is doubled for the field-code rule. */
	fake_write(f->root, "odd dir$x%y/p\"q'r\\s.yaml", lab_yaml);
	assert_true(asprintf(&path, "%s/odd dir$x%%y/p\"q'r\\s.yaml", f->root) > 0);
	assert_int_equal(run(f, (const char *[]){ path, NULL }), 0);
	assert_true(asprintf(&exec, "Exec=%s --notify \"%s/odd dir\\\\$x%%%%y/p\\\\\"q'r\\\\\\\\s.yaml\"",
			     vmrun_real, f->root) > 0);
	want = expected_entry("Name=lab (VM)", exec);
	got = read_text(f->entry);
	assert_string_equal(got, want);
	validate(f->entry);
}

static void test_entry_remove(void **state)
{
	struct dfx *f = *state;
	_cleanup_free_ char *msg = NULL;

	assert_int_equal(run(f, (const char *[]){ "lab", NULL }), 0);
	assert_true(exists(f->entry));
	assert_int_equal(run(f, (const char *[]){ "--remove", "lab", NULL }), 0);
	assert_false(exists(f->entry));
	assert_true(asprintf(&msg, "removed %s\n", f->entry) > 0);
	assert_string_equal(f->out, msg);
	/* Absent: still 0, saying so. */
	assert_int_equal(run(f, (const char *[]){ "lab", "--remove", NULL }), 0);
	assert_non_null(strstr(f->out, "nothing to remove"));
	/* The profile itself gone: a VM name is enough to remove its launcher. */
	assert_int_equal(run(f, (const char *[]){ "lab", NULL }), 0);
	assert_int_equal(unlink(f->profile), 0);
	assert_int_equal(run(f, (const char *[]){ "lab", "--remove", NULL }), 0);
	assert_false(exists(f->entry));
	assert_int_equal(dir_entries(f->apps), 0);
}

static void test_entry_bad_input(void **state)
{
	struct dfx *f = *state;
	_cleanup_free_ char *bad = NULL;
	const char *const *const cases[] = {
		(const char *[]){ "bad name", NULL },
		(const char *[]){ "..", NULL },
		(const char *[]){ "nosuchvm", NULL },
		(const char *[]){ "/nonexistent/x.yaml", NULL },
		(const char *[]){ NULL },
		(const char *[]){ "lab", "lab", NULL },
		(const char *[]){ "--name", "", "lab", NULL },
		(const char *[]){ "--name", "two\nlines", "lab", NULL },
	};

	fake_write(f->root, "cfg/vmrun/broken.yaml", "name: broken\nos: linux\n"); /* no memory */
	assert_true(asprintf(&bad, "%s/cfg/vmrun/broken.yaml", f->root) > 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases) + 1; i++) {
		const char *const *args = i < ARRAY_SIZE(cases) ? cases[i] : (const char *[]){ bad, NULL };

		assert_int_equal(run(f, args), 2);
		assert_string_equal(f->out, "");
		if (count_lines(f->err) != 1 || strncmp(f->err, "vmrun: ", 7) != 0)
			fail_msg("case %zu: expected one error line, got '%s'", i, f->err);
	}
	assert_false(exists(f->data)); /* nothing written, not even the directories */
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_resolve),
		cmocka_unit_test(test_profile_trust),
		cmocka_unit_test(test_sd_notify_path),
		cmocka_unit_test(test_sd_notify_abstract),
		cmocka_unit_test(test_sd_notify_unset_and_bad),
		cmocka_unit_test_setup_teardown(test_desktop_notify_argv, notify_setup, notify_teardown),
		cmocka_unit_test_setup_teardown(test_desktop_notify_no_session, notify_setup,
						notify_teardown),
		cmocka_unit_test_setup_teardown(test_desktop_notify_missing_or_failing, notify_setup,
						notify_teardown),
		cmocka_unit_test_setup_teardown(test_desktop_notify_does_not_hang, notify_setup,
						notify_teardown),
		cmocka_unit_test_setup_teardown(test_entry_write, entry_setup, entry_teardown),
		cmocka_unit_test_setup_teardown(test_entry_name_and_path_lookup, entry_setup,
						entry_teardown),
		cmocka_unit_test_setup_teardown(test_entry_exec_quoting, entry_setup, entry_teardown),
		cmocka_unit_test_setup_teardown(test_entry_remove, entry_setup, entry_teardown),
		cmocka_unit_test_setup_teardown(test_entry_bad_input, entry_setup, entry_teardown),
	};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)argc;
	(void)argv;
	if (n <= 0)
		return 1;
	self[n] = '\0';
	/* build/tests/test_desktop -> build/vmrun: the binary of the same build (plain or ASan). */
	snprintf(vmrun, sizeof(vmrun), "%s/../vmrun", dirname(self));
	if (!realpath(vmrun, vmrun_real))
		return 1;
	return cmocka_run_group_tests_name("desktop", tests, NULL, NULL);
}
