/* SPDX-License-Identifier: MIT */
/*
 * vmrun setup [--yes] [--undo] [--json] [PROFILE]: the host configuration passthrough needs,
 * proposed as unified diffs and applied only when asked. Four items:
 *   1. IOMMU kernel options (GRUB, kernel-install, or a printed manual step);
 *   2. an Xorg snippet keeping X off the passthrough GPU (and the NVIDIA PrimaryGPU trap);
 *   3. Wayland compositors: a udev rule naming the host card /dev/dri/vmrun-host and tagging
 *      the passthrough GPU for mutter; the login environment's *_DRM_DEVICES for KWin, wlroots
 *      compositors and Hyprland;
 *   4. the allow-file entry for the invoking user.
 * Every file is written atomically; before one is touched its original is copied to
 * var/lib/vmrun/setup/ and recorded in a manifest there, so --undo restores it byte for byte
 * and removes what setup created. All paths are relative to the system root (--root).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "output.h"
#include "profile_path.h"
#include "setup.h"
#include "setup_diff.h"
#include "util.h"

/* --- output ------------------------------------------------------------------------------ */

static void print_text(const struct setup *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(s->items); i++) {
		const struct item *it = &s->items[i];

		printf("[%s] %s\n", setup_status_name[it->status], it->title);
		for (const char *l = it->notes; *l;) {
			const char *e = strchr(l, '\n');

			printf("  %.*s\n", (int)(e ? e - l : (long)strlen(l)), l);
			l = e ? e + 1 : l + strlen(l);
		}
		for (size_t k = 0; k < it->n_ch; k++)
			fputs(it->ch[k].diff, stdout);
		if (it->then[0] && (it->status == IS_PROPOSED || it->status == IS_APPLIED))
			printf("  then: %s\n", it->then);
		putchar('\n');
	}
}

static json_object *notes_json(const char *notes)
{
	json_object *a = json_object_new_array();

	for (const char *l = notes; *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);

		json_object_array_add(a, json_object_new_string_len(l, (int)n));
		l += n + (e != NULL);
	}
	return a;
}

static void print_json(const struct setup *s, size_t pending, size_t applied)
{
	json_object *root = json_object_new_object(), *items = json_object_new_array();

	for (size_t i = 0; i < ARRAY_SIZE(s->items); i++) {
		const struct item *it = &s->items[i];
		json_object *o = json_object_new_object(), *diffs = json_object_new_array();

		json_object_object_add(o, "id", json_object_new_string(it->id));
		json_object_object_add(o, "title", json_object_new_string(it->title));
		json_object_object_add(o, "status", json_object_new_string(setup_status_name[it->status]));
		json_object_object_add(o, "notes", notes_json(it->notes));
		for (size_t k = 0; k < it->n_ch; k++) {
			json_object *d = json_object_new_object();
			char path[4200];

			snprintf(path, sizeof(path), "/%s", it->ch[k].path);
			json_object_object_add(d, "path", json_object_new_string(path));
			json_object_object_add(d, "created", json_object_new_boolean(!it->ch[k].old));
			json_object_object_add(d, "diff", json_object_new_string(it->ch[k].diff));
			json_object_array_add(diffs, d);
		}
		json_object_object_add(o, "diffs", diffs);
		json_object_object_add(o, "then", json_str_or_null(it->then));
		json_object_array_add(items, o);
	}
	json_object_object_add(root, "items", items);
	json_object_object_add(root, "pending", json_object_new_int((int)pending));
	json_object_object_add(root, "applied", json_object_new_int((int)applied));
	json_print(root);
	json_object_put(root);
}

static bool ask(void)
{
	char line[16];

	printf("Apply? [y/N] ");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

/* --- the command ------------------------------------------------------------------------- */

/* Every item's proposal; the number of files they would change, or -1 on an error (said). */
static ssize_t propose(struct setup *s)
{
	int (*const steps[])(struct setup *, struct item *) = { item_iommu, item_xorg, item_wayland,
								 item_allow };
	size_t pending = 0;

	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		int r = steps[i](s, &s->items[i]);

		if (r < 0) {
			log_err("setup: %s: %s", s->items[i].title, strerror(-r));
			return -1;
		}
		pending += s->items[i].n_ch;
	}
	return (ssize_t)pending;
}

/* The closing line of a text run. */
static void summary(const struct setup *s, size_t pending, size_t applied, bool applying, int rc)
{
	if (pending && applying) {
		if (rc == EXIT_OK)
			printf("Applied: %zu file%s changed; originals in /%s (`vmrun setup --undo` "
			       "reverts).\n", applied, applied == 1 ? "" : "s", SETUP_DIR);
	} else if (!pending) {
		printf("Nothing to do: everything vmrun setup can change is already set up%s.\n",
		       s->items[0].status == IS_MANUAL || s->items[2].status == IS_MANUAL ?
			       " (the manual steps above are yours)" : "");
	} else {
		printf("%zu file%s would change. Run `vmrun setup --yes%s%s` to apply "
		       "(`vmrun setup --undo` reverts).\n", pending, pending == 1 ? "" : "s",
		       s->p ? " " : "", s->p ? s->p->source : "");
	}
}

/* Show, ask when on a terminal (without --yes), apply, then show what was done. */
static int show_and_apply(struct setup *s, size_t pending, bool yes, bool json)
{
	bool shown = false;
	size_t applied = 0;
	char regen[512] = "";
	int rc = EXIT_OK;

	if (pending && !yes && !json && isatty(STDIN_FILENO)) {
		print_text(s);
		if (!ask()) {
			printf("Nothing changed.\n");
			return EXIT_OK;
		}
		yes = shown = true;
	}
	if (pending && yes)
		rc = apply_all(s, &applied, regen, sizeof(regen));
	if (json) {
		print_json(s, pending, applied);
		return rc;
	}
	/* After a failed apply only its error: the listing would claim what was not done. */
	if (!shown && rc == EXIT_OK)
		print_text(s);
	summary(s, pending, applied, yes, rc);
	return rc;
}

int cmd_setup(struct cli *c, const struct cli_args *a)
{
	struct vm_profile *p = NULL;
	struct setup s = { .c = c };
	ssize_t pending;
	int rc;

	if (args_has(a, OPT_UNDO))
		return setup_undo(c, c->json);
	if (a->n_pos) {
		rc = profile_path_load(a->pos[0], &p);
		if (rc)
			return rc;
	}
	s.p = p;
	rc = find_gpus(&s);
	if (rc == EXIT_OK) {
		pending = propose(&s);
		rc = pending < 0 ? EXIT_ERROR : show_and_apply(&s, (size_t)pending, args_has(a, OPT_YES),
								c->json);
	}
	for (size_t i = 0; i < ARRAY_SIZE(s.items); i++)
		item_free(&s.items[i]);
	free(s.fns);
	profile_free(p);
	return rc;
}
