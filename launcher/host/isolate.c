/* SPDX-License-Identifier: MIT */
#include "isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "switch.h"
#include "spawn.h"
#include "util.h"

const char *const isolate_units[] = { "system.slice", "user.slice", "init.scope", NULL };

#define JOURNAL "isolate.json"

/* systemctl ARGS...: its first output line into out (when given); its exit status. */
static int systemctl(const char *const *args, char *out, size_t cap)
{
	const char *argv[16] = { "systemctl" };
	struct spawn_opts o = spawn_opts_default();
	int pipefd[2], status = 0, r;
	size_t n = 1, len = 0;
	ssize_t got;
	pid_t pid;

	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	o.out = pipefd[1];
	r = spawn_start((char *const *)argv, &o, &pid);
	close(pipefd[1]);
	if (out)
		out[0] = '\0';
	while (r == 0 && out && len + 1 < cap && (got = read(pipefd[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)got;
	close(pipefd[0]);
	if (out) {
		out[len] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
	if (r < 0)
		return r;
	r = spawn_wait(pid, 30000, &status);
	if (r < 0) {
		spawn_kill(pid);
		return r;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int set_allowed(const char *unit, const char *cpus)
{
	char prop[96];

	snprintf(prop, sizeof(prop), "AllowedCPUs=%s", cpus);
	return systemctl((const char *const[]){ "set-property", "--runtime", unit, prop, NULL }, NULL, 0);
}

static int state_dir(const struct sysroot *s, int *fd)
{
	return switch_state_open(s, true, fd);
}

bool isolate_pending(const struct sysroot *s)
{
	int fd = -1;
	bool pending;

	if (switch_state_open(s, false, &fd) < 0)
		return false;
	pending = faccessat(fd, JOURNAL, F_OK, 0) == 0;
	safe_close(fd);
	return pending;
}

int isolate_apply(const struct sysroot *s, const char *host_cpus, char *why, size_t cap)
{
	_cleanup_close_ int fd = -1;
	json_object *o = json_object_new_object();
	char old[256];
	const char *text;
	int r = state_dir(s, &fd);

	if (r < 0) {
		json_object_put(o);
		return snprintf(why, cap, "cannot open /run/vmrun/switch: %s", strerror(-r)), r;
	}
	if (faccessat(fd, JOURNAL, F_OK, 0) == 0) {
		json_object_put(o);
		return snprintf(why, cap, "another VM's CPU isolation is in force (or was left by a "
				"crash: vmrun restore)"), -EBUSY;
	}
	for (size_t i = 0; isolate_units[i]; i++) {
		r = systemctl((const char *const[]){ "show", "-p", "AllowedCPUs", "--value",
						     isolate_units[i], NULL }, old, sizeof(old));
		if (r != 0) {
			json_object_put(o);
			return snprintf(why, cap, "systemctl show %s failed (status %d)", isolate_units[i],
					r), -EIO;
		}
		json_object_object_add(o, isolate_units[i], json_object_new_string(old));
	}
	/* The journal first: a crash from here on is given back by vmrun restore. */
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	r = write_file_atomic_at(fd, JOURNAL, text, strlen(text), 0600, (uid_t)-1, (gid_t)-1);
	json_object_put(o);
	if (r < 0)
		return snprintf(why, cap, "cannot journal the slices' CPUs: %s", strerror(-r)), r;
	for (size_t i = 0; isolate_units[i]; i++)
		if ((r = set_allowed(isolate_units[i], host_cpus)) != 0) {
			snprintf(why, cap, "systemctl set-property --runtime %s AllowedCPUs=%s failed "
				 "(status %d)", isolate_units[i], host_cpus, r);
			(void)isolate_restore(s, NULL, 0);
			return -EIO;
		}
	return 0;
}

int isolate_restore(const struct sysroot *s, char *why, size_t cap)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	json_object *o, *v;
	int r = switch_state_open(s, false, &fd), bad = 0;

	if (r == -ENOENT)
		return 0;
	if (r < 0 || read_file_at(fd, JOURNAL, 16384, READ_REGULAR | READ_TEXT, &text, NULL, NULL) < 0)
		return 0; /* nothing journaled: nothing to give back */
	o = json_tokener_parse(text);
	for (size_t i = 0; isolate_units[i]; i++) {
		const char *old = o && json_object_object_get_ex(o, isolate_units[i], &v) ?
					  json_object_get_string(v) : "";

		/* Only CPU lists come back (digits, ',' and '-'), whatever the journal holds. */
		if (strspn(old, "0123456789,-") != strlen(old))
			old = "";
		if (set_allowed(isolate_units[i], old) != 0)
			bad++;
	}
	json_object_put(o);
	if (bad) {
		if (why)
			snprintf(why, cap, "systemctl set-property failed for %d slice(s): the journal "
				 "stays for vmrun restore", bad);
		return -EIO;
	}
	(void)unlinkat(fd, JOURNAL, 0);
	return 0;
}

const char *const *isolate_scope_prefix(const char *name)
{
	static char unit[128];
	static const char *argv[8];

	snprintf(unit, sizeof(unit), "--unit=vmrun-%.64s", name);
	argv[0] = "systemd-run";
	argv[1] = "--scope";
	argv[2] = "--quiet";
	argv[3] = "--collect";
	argv[4] = "--slice=vmrun.slice";
	argv[5] = unit;
	argv[6] = "--";
	argv[7] = NULL;
	return argv;
}
