/* SPDX-License-Identifier: MIT */
/*
 * input: the user's keyboard and mouse (evdev) for the guest: an ACL entry for the user for the
 * length of the run (through root: recorded there, tied to this vmrun), and, while it runs, an
 * unplugged device taken from the guest and a replugged one given to it again.
 */
#include "res_inputs.h"
#include "res.h"
#include "recovery.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"

/* The device node a path leads to now: false when there is none. */
static bool input_identity(const char *path, dev_t *rdev, ino_t *ino)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode))
		return false;
	*rdev = st.st_rdev;
	*ino = st.st_ino;
	return true;
}

/* vm.json lists an input device from before its ACL is given until after it is taken back. */
static void note_input(struct run *r, const char *path, bool on)
{
	struct vmdir_info *vi = &r->vi;
	size_t i = 0;

	while (i < vi->n_inputs && !streq(vi->inputs[i], path))
		i++;
	if (on && i == vi->n_inputs && i < VMDIR_MAX_INPUTS)
		snprintf(vi->inputs[vi->n_inputs++], sizeof(vi->inputs[0]), "%s", path);
	else if (!on && i < vi->n_inputs)
		memmove(vi->inputs[i], vi->inputs[i + 1], (--vi->n_inputs - i) * sizeof(vi->inputs[0]));
	else
		return;
	run_sync_info(r);
}

static bool input_access(struct run *r, struct run_input *d, bool grant)
{
	struct priv_request rq = { .op = grant ? PRIV_INPUT : PRIV_INPUT_REVOKE };
	struct priv_result res;

	if (geteuid() == 0 || (!grant && !d->granted))
		return true;
	if (grant)
		note_input(r, d->path, true);
	snprintf(rq.path, sizeof(rq.path), "%s", d->path);
	priv_call(&r->priv, &rq, &res);
	if (res.status) {
		log_err("%s %s: %s", d->what, d->path, res.why);
		return false;
	}
	d->granted = grant;
	if (!grant)
		note_input(r, d->path, false);
	return true;
}

int res_inputs_take(struct run *r)
{
	const struct vm_profile *p = r->pl->p;

	if (p->input.keyboard)
		r->inputs[r->n_inputs++] = (struct run_input){ .path = p->input.keyboard, .id = "vmrun-kbd",
								 .what = "keyboard" };
	if (p->input.mouse)
		r->inputs[r->n_inputs++] = (struct run_input){ .path = p->input.mouse, .id = "vmrun-mouse",
								 .what = "mouse" };
	for (size_t i = 0; i < r->n_inputs; i++) {
		struct run_input *d = &r->inputs[i];
		char dir[PATH_MAX], *slash;

		d->present = input_identity(d->path, &d->rdev, &d->ino);
		if (!input_access(r, d, true))
			return EXIT_NOT_READY;
		if (r->inotify_fd < 0)
			r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		snprintf(dir, sizeof(dir), "%s", d->path);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		/* udev replaces the by-id link on a replug; the event node itself comes and goes,
		 * in its own directory: both are watched. */
		if (r->inotify_fd >= 0)
			(void)inotify_add_watch(r->inotify_fd, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO |
						IN_MOVED_FROM | IN_ATTRIB);
		if (r->inotify_fd >= 0 && realpath(d->path, dir) && (slash = strrchr(dir, '/'))) {
			*slash = '\0';
			(void)inotify_add_watch(r->inotify_fd, dir, IN_CREATE | IN_DELETE | IN_ATTRIB);
		}
	}
	return 0;
}

void res_inputs_give(struct run *r, int *code)
{
	(void)code;
	for (size_t i = 0; i < r->n_inputs; i++)
		(void)input_access(r, &r->inputs[i], false);
	r->inotify_fd = safe_close(r->inotify_fd);
}

static void input_add(struct run *r, struct run_input *d)
{
	json_object *args = json_object_new_object();
	bool kbd = streq(d->id, "vmrun-kbd");
	char err[256];

	json_object_object_add(args, "qom-type", json_object_new_string("input-linux"));
	json_object_object_add(args, "id", json_object_new_string(d->id));
	json_object_object_add(args, "evdev", json_object_new_string(d->path));
	if (kbd) {
		json_object_object_add(args, "grab_all", json_object_new_boolean(true));
		json_object_object_add(args, "repeat", json_object_new_boolean(true));
		json_object_object_add(args, "grab-toggle", json_object_new_string(
			vm_toggle_name(r->pl->p->input.toggle)));
	}
	if (!input_access(r, d, true) || !r->q) {
		json_object_put(args);
		return;
	}
	if (qmp_execute(r->q, "object-add", args, 5000, NULL, err, sizeof(err)) == 0)
		run_say(r, "input", "%s %s is back: given to the guest again", d->what, d->path);
	else
		run_say(r, "input", "%s %s is back, but QEMU would not take it: %s", d->what, d->path, err);
}

static void input_del(struct run *r, struct run_input *d)
{
	json_object *args = json_object_new_object();
	char err[256];

	json_object_object_add(args, "id", json_object_new_string(d->id));
	if (r->q && qmp_execute(r->q, "object-del", args, 5000, NULL, err, sizeof(err)) < 0)
		log_debug("object-del %s: %s", d->id, err);
	run_say(r, "input", "%s %s is gone (unplugged?): taken from the guest until it is back", d->what,
	    d->path);
}

/* Something changed in an input device's directory: each device gone, back, or replaced (gone
 * and back before we looked: the same path, another node). */
void run_inputs_changed(struct run *r)
{
	char buf[4096];

	while (r->inotify_fd >= 0 && read(r->inotify_fd, buf, sizeof(buf)) > 0)
		;
	if (r->state != ST_RUNNING)
		return;
	for (size_t i = 0; i < r->n_inputs; i++) {
		struct run_input *d = &r->inputs[i];
		dev_t rdev = 0;
		ino_t ino = 0;
		bool now = input_identity(d->path, &rdev, &ino);
		bool replaced = now && d->present && (rdev != d->rdev || ino != d->ino);

		if (now == d->present && !replaced)
			continue;
		if (d->present)
			input_del(r, d);
		d->present = now;
		d->rdev = rdev;
		d->ino = ino;
		if (now)
			input_add(r, d);
	}
}

void res_inputs_recover(struct recovery *c)
{
	struct vmdir_info *vi = c->vi;
	size_t keep = 0;

	for (size_t i = 0; i < vi->n_inputs; i++) {
		struct priv_request rq = { .op = PRIV_INPUT_REVOKE };
		struct priv_result res;

		snprintf(rq.path, sizeof(rq.path), "%s", vi->inputs[i]);
		priv_call(c->priv, &rq, &res);
		/* Unplugged meanwhile: the ACL went with the node. */
		if (res.status && !strstr(res.why, "no such input device")) {
			recovery_say(c, "%s", res.why);
			memmove(vi->inputs[keep++], vi->inputs[i], sizeof(vi->inputs[i]));
			c->left = true;
		}
	}
	vi->n_inputs = keep;
}
