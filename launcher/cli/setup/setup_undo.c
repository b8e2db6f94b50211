/* SPDX-License-Identifier: MIT */
/* vmrun setup --undo: every file setup changed back as it was, from the manifest, newest first. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "setup.h"
#include "util.h"
#include "output.h"

/* A directory setup made: removed when empty again. */
static const char *undo_dir(int fd, const char *path)
{
	if (unlinkat(fd, path, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return "removed";
	return errno == ENOTEMPTY || errno == EEXIST ? "kept (not empty)" : "failed";
}

/* A file setup changed: its backup back in place, with its mode and owner. */
static const char *undo_backup(int fd, const char *path, json_object *en, json_object *b, int *err)
{
	_cleanup_free_ char *data = NULL;
	json_object *jm = NULL, *ju = NULL, *jg = NULL;
	char bpath[128];
	int r;

	snprintf(bpath, sizeof(bpath), SETUP_DIR "/%s", json_object_get_string(b));
	(void)json_object_object_get_ex(en, "mode", &jm);
	(void)json_object_object_get_ex(en, "uid", &ju);
	(void)json_object_object_get_ex(en, "gid", &jg);
	r = read_file_at(fd, bpath, FILE_MAX, READ_REGULAR | READ_TEXT, &data, NULL, NULL);
	if (r == 0)
		r = write_file_atomic_at(fd, path, data, strlen(data), (mode_t)json_object_get_int(jm),
					 (uid_t)json_object_get_int64(ju), (gid_t)json_object_get_int64(jg));
	*err = r;
	return r == 0 ? "restored" : "failed";
}

/* Undo one manifest entry; NULL for an entry that is neither a file nor a directory. */
static const char *undo_entry(int fd, json_object *en, const char **ret_path, int *err)
{
	json_object *v, *b;

	*err = 0;
	if (json_object_object_get_ex(en, "dir", &v)) {
		*ret_path = json_object_get_string(v);
		return undo_dir(fd, *ret_path);
	}
	if (!json_object_object_get_ex(en, "path", &v))
		return NULL;
	*ret_path = json_object_get_string(v);
	if (json_object_object_get_ex(en, "backup", &b))
		return undo_backup(fd, *ret_path, en, b, err);
	/* A file setup created: removed. */
	if (unlinkat(fd, *ret_path, 0) == 0 || errno == ENOENT)
		return "removed";
	*err = -errno;
	return "failed";
}

/* Everything is back: the backups and the manifest go too. */
static void remove_backups(int fd, json_object *e)
{
	for (size_t i = 0; i < json_object_array_length(e); i++) {
		json_object *b;
		char bpath[128];

		if (!json_object_object_get_ex(json_object_array_get_idx(e, i), "backup", &b))
			continue;
		snprintf(bpath, sizeof(bpath), SETUP_DIR "/%s", json_object_get_string(b));
		(void)unlinkat(fd, bpath, 0);
	}
	(void)unlinkat(fd, MANIFEST, 0);
	(void)unlinkat(fd, SETUP_DIR, AT_REMOVEDIR);
}

/* Every entry, newest first; *grub when /etc/default/grub came back (grub.cfg then too),
 * *udev when a udev rule did (udev then applies it). */
static int undo_all(struct cli *c, json_object *e, bool json, json_object *out, bool *grub,
		    bool *udev)
{
	int fd = c->root->root_fd, rc = EXIT_OK;

	for (size_t i = json_object_array_length(e); i-- > 0;) {
		const char *path = NULL, *action;
		char full[4200];
		json_object *o;
		int err;

		action = undo_entry(fd, json_object_array_get_idx(e, i), &path, &err);
		if (!action)
			continue;
		if (streq(action, "failed")) {
			log_err("Cannot undo /%s: %s", path, strerror(err < 0 ? -err : errno));
			rc = EXIT_ERROR;
		}
		*grub |= streq(action, "restored") && streq(path, GRUB_FILE);
		*udev |= !streq(action, "failed") && streq(path, GPU_RULE);
		snprintf(full, sizeof(full), "/%s", path);
		o = json_object_new_object();
		json_object_object_add(o, "path", json_object_new_string(full));
		json_object_object_add(o, "action", json_object_new_string(action));
		json_object_array_add(out, o);
		if (!json)
			printf("%-16s %s\n", action, full);
	}
	return rc;
}

static void report(bool json, json_object *out, const char *regen, int rc)
{
	if (json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "undone", json_object_get(out));
		json_object_object_add(o, "then", json_str_or_null(regen));
		json_print(o);
		json_object_put(o);
		return;
	}
	if (regen[0])
		printf("then: %s\n", regen);
	printf(rc ? "Undo incomplete: see the errors above; the manifest is kept in /%s.\n" :
		    "Undone: every file vmrun setup changed is back as it was.\n", SETUP_DIR);
}

int setup_undo(struct cli *c, bool json)
{
	json_object *m = NULL, *out;
	bool grub = false, udev = false;
	char regen[512] = "", reload[512] = "";
	int r, rc;

	r = manifest_load(c->root->root_fd, &m);
	if (r == -ENOENT) {
		if (!json) {
			printf("Nothing to undo: vmrun setup has not changed anything here.\n");
			return EXIT_OK;
		}
		out = json_object_new_array();
		report(true, out, "", EXIT_OK);
		json_object_put(out);
		return EXIT_OK;
	}
	if (r < 0) {
		log_err("Cannot read /%s: %s", MANIFEST, strerror(-r));
		return EXIT_ERROR;
	}
	out = json_object_new_array();
	rc = undo_all(c, manifest_entries(m), json, out, &grub, &udev);
	if (rc == EXIT_OK)
		remove_backups(c->root->root_fd, manifest_entries(m));
	json_object_put(m);
	if (grub && regen_grub(c, regen, sizeof(regen)) < 0)
		rc = EXIT_ERROR;
	if (udev) {
		(void)setup_reload_udev(c, reload, sizeof(reload));
		snprintf(regen + strlen(regen), sizeof(regen) - strlen(regen), "%s%s",
			 regen[0] ? "; " : "", reload);
	}
	report(json, out, regen, rc);
	json_object_put(out);
	return rc;
}
