/* SPDX-License-Identifier: MIT */
/* Applying setup's changes: each file backed up and recorded in the manifest before it is
 * written, so --undo can put everything back. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "setup.h"
#include "setup_diff.h"
#include "spawn.h"
#include "util.h"

/* --- the manifest ------------------------------------------------------------------------ */

/*
 * {"entries": [{"path": P, "existed": true, "backup": "N", "mode": M, "uid": U, "gid": G},
 *              {"path": P, "existed": false}, {"dir": D}]}, in the order things were done;
 * undo walks it backwards. Written (atomically) before each change it describes.
 */
int manifest_load(int root_fd, json_object **ret)
{
	_cleanup_free_ char *txt = NULL;
	json_object *o, *e;
	int r = read_file_at(root_fd, MANIFEST, FILE_MAX, READ_REGULAR | READ_TEXT, &txt, NULL, NULL);

	if (r < 0)
		return r;
	o = json_tokener_parse(txt);
	if (!o || !json_object_object_get_ex(o, "entries", &e) ||
	    !json_object_is_type(e, json_type_array)) {
		json_object_put(o);
		return -EBADMSG;
	}
	*ret = o;
	return 0;
}

static int manifest_save(int root_fd, json_object *m)
{
	const char *s = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE);

	return write_file_atomic_at(root_fd, MANIFEST, s, strlen(s), 0600, (uid_t)-1, (gid_t)-1);
}

json_object *manifest_entries(json_object *m)
{
	json_object *e = NULL;

	(void)json_object_object_get_ex(m, "entries", &e);
	return e;
}

static bool manifest_has(json_object *m, const char *key, const char *path)
{
	json_object *e = manifest_entries(m), *v;

	for (size_t i = 0; i < json_object_array_length(e); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(e, i), key, &v) &&
		    streq(json_object_get_string(v), path))
			return true;
	return false;
}

/* mkdir -p for the setup directory: root-only, since backups may be of root-only files. */
static int ensure_setup_dir(int root_fd)
{
	static const char *const dirs[] = { "var", "var/lib", "var/lib/vmrun", SETUP_DIR };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdirat(root_fd, dirs[i], i + 1 == ARRAY_SIZE(dirs) ? 0700 : 0755) < 0 &&
		    errno != EEXIST)
			return -errno;
	return fchmodat(root_fd, SETUP_DIR, 0700, 0) < 0 ? -errno : 0;
}

/* Create the missing parents of path (0755), each recorded before it is made. */
static int make_parents(int root_fd, json_object *m, const char *path)
{
	char dir[4096];

	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		int r;

		snprintf(dir, sizeof(dir), "%.*s", (int)(s - path), path);
		if (setup_exists_at(root_fd, dir))
			continue;
		json_object *e = json_object_new_object();

		json_object_object_add(e, "dir", json_object_new_string(dir));
		json_object_array_add(manifest_entries(m), e);
		r = manifest_save(root_fd, m);
		if (r < 0)
			return r;
		if (mkdirat(root_fd, dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		/* 0755 whatever the umask: these are system directories */
		if (fchmodat(root_fd, dir, 0755, 0) < 0)
			return -errno;
	}
	return 0;
}

/* Back up (once: the first original is the one undo restores), record, then write. */
static int apply_change(int root_fd, json_object *m, const struct change *ch)
{
	struct stat st = { .st_uid = (uid_t)-1, .st_gid = (gid_t)-1 };
	int r;

	if (ch->old && fstatat(root_fd, ch->path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* Parents first, so undo (walking backwards) removes the file before its directories. */
	r = make_parents(root_fd, m, ch->path);
	if (r < 0)
		return r;
	if (!manifest_has(m, "path", ch->path)) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "path", json_object_new_string(ch->path));
		json_object_object_add(e, "existed", json_object_new_boolean(ch->old != NULL));
		if (ch->old) {
			char name[32], bpath[64];

			snprintf(name, sizeof(name), "%zu.orig", json_object_array_length(manifest_entries(m)));
			snprintf(bpath, sizeof(bpath), SETUP_DIR "/%s", name);
			r = write_file_atomic_at(root_fd, bpath, ch->old, strlen(ch->old), 0600, (uid_t)-1,
					 (gid_t)-1);
			if (r < 0) {
				json_object_put(e);
				return r;
			}
			json_object_object_add(e, "backup", json_object_new_string(name));
			json_object_object_add(e, "mode", json_object_new_int((int)(st.st_mode & 07777)));
			json_object_object_add(e, "uid", json_object_new_int64(st.st_uid));
			json_object_object_add(e, "gid", json_object_new_int64(st.st_gid));
		}
		json_object_array_add(manifest_entries(m), e);
		r = manifest_save(root_fd, m);
		if (r < 0)
			return r;
	}
	/* New files are root's (we run as root on a real host); edited ones keep their owner. */
	return write_file_atomic_at(root_fd, ch->path, ch->new_text, strlen(ch->new_text), ch->mode,
			    ch->old ? st.st_uid : 0, ch->old ? st.st_gid : 0);
}

/* --- running the boot loader's regenerate command ----------------------------------------- */

/* Its output goes to stderr so stdout stays ours (--json); a boot loader's regeneration can
 * take a while (os-prober), but not for ever. */
static int run_command(char *const argv[])
{
	struct spawn_opts o = spawn_opts_default();
	int r;

	o.out = STDERR_FILENO;
	o.err = SPAWN_INHERIT;
	o.search_path = false;
	fflush(stdout);
	r = spawn_run(argv, &o, 600000);
	return r == -ENOENT ? 127 : r;
}

/* On the real root, regenerate grub.cfg; on a fake one, only say what would run. */
int regen_grub(const struct cli *c, char *msg, size_t cap)
{
	char *const *argv;
	struct setup s = { .c = (struct cli *)c };
	const char *cmd = setup_regen_command(&s, &argv);
	int r;

	if (!streq(c->root->path, "/")) {
		snprintf(msg, cap, "not run on a --root tree: %s", cmd);
		return 0;
	}
	r = run_command(argv);
	if (r == 0) {
		snprintf(msg, cap, "ran %s: ok; reboot to use the new options", cmd);
		return 0;
	}
	snprintf(msg, cap, "%s failed (%s %d): run it yourself", cmd, r < 0 ? "error" : "exit",
		 r < 0 ? -r : r);
	log_err("%s failed (%s %d): run it yourself, then reboot", cmd, r < 0 ? "error" : "exit",
		r < 0 ? -r : r);
	return -EIO;
}

/*
 * A changed udev rule applies to the cards now, not at the next boot: udev reads its rules
 * again and re-runs them for the DRM devices (a "change" event, which compositors take as a
 * hotplug probe, never as a new GPU). On a fake root, only said.
 */
int setup_reload_udev(const struct cli *c, char *msg, size_t cap)
{
	char *const reload[] = { (char *)"/usr/bin/udevadm", (char *)"control", (char *)"--reload", NULL };
	char *const trigger[] = { (char *)"/usr/bin/udevadm", (char *)"trigger", (char *)"--action=change",
				  (char *)"--subsystem-match=drm", NULL };
	char *const settle[] = { (char *)"/usr/bin/udevadm", (char *)"settle", (char *)"--timeout=10", NULL };
	int r;

	if (!streq(c->root->path, "/")) {
		snprintf(msg, cap, "not run on a --root tree: udevadm control --reload; udevadm trigger "
			 "--action=change --subsystem-match=drm");
		return 0;
	}
	r = run_command(reload);
	if (r == 0)
		r = run_command(trigger);
	if (r == 0)
		(void)run_command(settle);
	if (r == 0) {
		snprintf(msg, cap, "udev applied the rule to the cards (udevadm trigger); log out and "
			 "in once");
		return 0;
	}
	snprintf(msg, cap, "udevadm failed (%s %d): reboot, or run udevadm control --reload; udevadm "
		 "trigger --action=change --subsystem-match=drm", r < 0 ? "error" : "exit", r < 0 ? -r : r);
	return -EIO;
}

/* --- apply and undo ---------------------------------------------------------------------- */

int apply_all(struct setup *s, size_t *ret_applied, char *regen_msg, size_t cap)
{
	int fd = s->c->root->root_fd, r;
	json_object *m = NULL;
	size_t applied = 0;

	r = ensure_setup_dir(fd);
	if (r < 0) {
		log_err("Cannot create /%s: %s", SETUP_DIR, strerror(-r));
		return EXIT_ERROR;
	}
	r = manifest_load(fd, &m);
	if (r == -ENOENT) {
		m = json_object_new_object();
		json_object_object_add(m, "entries", json_object_new_array());
	} else if (r < 0) {
		log_err("Cannot read /%s: %s", MANIFEST, strerror(-r));
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < ARRAY_SIZE(s->items); i++) {
		struct item *it = &s->items[i];

		for (size_t k = 0; k < it->n_ch; k++) {
			r = apply_change(fd, m, &it->ch[k]);
			if (r < 0) {
				log_err("Cannot write /%s: %s%s (applied so far: %zu; `vmrun setup "
					"--undo` reverts them)", it->ch[k].path, strerror(-r),
					r == -EACCES || r == -EPERM ? ", run as root" : "", applied);
				json_object_put(m);
				*ret_applied = applied;
				return EXIT_ERROR;
			}
			applied++;
		}
		if (it->n_ch)
			it->status = IS_APPLIED;
	}
	for (size_t i = 0; i < ARRAY_SIZE(s->items); i++)
		for (size_t k = 0; k < s->items[i].n_ch; k++)
			if (streq(s->items[i].ch[k].path, GPU_RULE))
				(void)setup_reload_udev(s->c, s->items[i].then, sizeof(s->items[i].then));
	json_object_put(m);
	*ret_applied = applied;
	if (s->items[0].regen_grub && s->items[0].status == IS_APPLIED) {
		r = regen_grub(s->c, regen_msg, cap);
		snprintf(s->items[0].then, sizeof(s->items[0].then), "%s", regen_msg);
		if (r < 0)
			return EXIT_ERROR;
	}
	return EXIT_OK;
}
