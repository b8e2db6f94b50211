/* SPDX-License-Identifier: MIT */
#include "journal.h"
#include "quirks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "names.h"
#include "sysroot.h"
#include "procstat.h"

#define JOURNAL_VERSION 2

static const char *const op_names[] = { [JOURNAL_DETACH] = "detach", [JOURNAL_ATTACH] = "attach" };
static const char *const state_names[] = { [JOURNAL_IN_PROGRESS] = "in-progress",
					   [JOURNAL_DONE] = "done" };

const char *journal_op_name(enum journal_op op)
{
	return (unsigned)op < ARRAY_SIZE(op_names) ? op_names[op] : "?";
}

const char *journal_state_name(enum journal_state st)
{
	return (unsigned)st < ARRAY_SIZE(state_names) ? state_names[st] : "?";
}

static int parse_name(const char *s, const char *const *names, size_t n, unsigned *ret)
{
	for (size_t i = 0; s && i < n; i++)
		if (streq(s, names[i])) {
			*ret = (unsigned)i;
			return 0;
		}
	return -EBADMSG;
}

/* Driver and module names: what the kernel allows, and nothing that could walk a path. */
static bool name_ok(const char *s, size_t cap)
{
	size_t n = strlen(s);

	if (n >= cap || (n && !name_is_safe(s)))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

/* A device's sysfs name: "0000:00:02.0", "simple-framebuffer.0". */
static bool dev_name_ok(const char *s, size_t cap)
{
	size_t n = s ? strlen(s) : 0;

	return n && n < cap && name_is_safe(s) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:") == n;
}

static json_object *hex4(unsigned v)
{
	char id[8];

	snprintf(id, sizeof(id), "%04x", v);
	return json_object_new_string(id);
}

static json_object *dev_to_json(const struct switch_dev *d)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "address", json_object_new_string(d->fn.name));
	json_object_object_add(o, "vendor", hex4(d->fn.vendor));
	json_object_object_add(o, "device", hex4(d->fn.device));
	json_object_object_add(o, "role", json_object_new_string(group_role_name(d->role)));
	json_object_object_add(o, "driver", json_object_new_string(d->orig_driver));
	json_object_object_add(o, "override", json_object_new_string(d->orig_override));
	json_object_object_add(o, "ours", json_object_new_boolean(d->ours));
	json_object_object_add(o, "phase", json_object_new_string(switch_phase_name(d->phase)));
	if (d->reset_set) /* what reset_method goes back to */
		json_object_object_add(o, "reset_method", json_object_new_string(d->orig_reset));
	return o;
}

/* {"to_fb": 1, "to_device": "0000:00:02.0", "from_device": "0000:01:00.0", "moved": true,
 *  "consoles": [[1, 0], [2, 0]]}: each console and the framebuffer it was on. */
static json_object *console_to_json(const struct console_move *m)
{
	json_object *o = json_object_new_object(), *v = json_object_new_array();

	json_object_object_add(o, "to_fb", json_object_new_int(m->to_fb));
	json_object_object_add(o, "to_device", json_object_new_string(m->to_dev));
	json_object_object_add(o, "from_device", json_object_new_string(m->from_dev));
	json_object_object_add(o, "moved", json_object_new_boolean(m->moved));
	for (size_t i = 0; i < m->n; i++) {
		json_object *pair = json_object_new_array();

		json_object_array_add(pair, json_object_new_int(m->v[i].console));
		json_object_array_add(pair, json_object_new_int(m->v[i].fb));
		json_object_array_add(v, pair);
	}
	json_object_object_add(o, "consoles", v);
	return o;
}

static json_object *journal_to_json(const struct journal *j)
{
	json_object *o = json_object_new_object(), *devs = json_object_new_array();
	json_object *mods = json_object_new_array();

	json_object_object_add(o, "version", json_object_new_int(JOURNAL_VERSION));
	json_object_object_add(o, "group", json_object_new_int(j->plan.group));
	json_object_object_add(o, "gpu", json_object_new_string(j->plan.gpu.name));
	json_object_object_add(o, "op", json_object_new_string(journal_op_name(j->op)));
	json_object_object_add(o, "state", json_object_new_string(journal_state_name(j->state)));
	json_object_object_add(o, "pid", json_object_new_int(j->pid));
	json_object_object_add(o, "holder", json_object_new_int(j->holder));
	json_object_object_add(o, "holder_start", json_object_new_int64((int64_t)j->holder_start));
	json_object_object_add(o, "for_run", json_object_new_boolean(j->for_run));
	json_object_object_add(o, "kept", json_object_new_boolean(j->kept));
	json_object_object_add(o, "owner_uid", json_object_new_int64(j->owner));
	json_object_object_add(o, "started", json_object_new_int64(j->started));
	for (size_t i = 0; i < j->plan.n_devs; i++)
		json_object_array_add(devs, dev_to_json(&j->plan.devs[i]));
	json_object_object_add(o, "devices", devs);
	for (size_t i = 0; i < j->plan.n_modules; i++)
		json_object_array_add(mods, json_object_new_string(j->plan.modules[i]));
	json_object_object_add(o, "modules_unloaded", mods);
	if (j->plan.console.needed)
		json_object_object_add(o, "console", console_to_json(&j->plan.console));
	if (j->plan.n_services) {
		json_object *sv = json_object_new_array();

		for (size_t i = 0; i < j->plan.n_services; i++)
			json_object_array_add(sv, json_object_new_string(j->plan.services[i]));
		json_object_object_add(o, "services", sv);
		json_object_object_add(o, "services_stopped", json_object_new_boolean(j->plan.services_stopped));
	}
	if (j->plan.released) {
		json_object *cards = json_object_new_array();

		for (size_t i = 0; i < j->plan.n_cards; i++) {
			json_object *card = json_object_new_object();

			json_object_object_add(card, "name", json_object_new_string(j->plan.cards[i]));
			json_object_object_add(card, "ino", json_object_new_int64((int64_t)j->plan.cards_ino[i]));
			json_object_array_add(cards, card);
		}
		json_object_object_add(o, "released_cards", cards);
	}
	return o;
}

int journal_write(int dirfd, const struct journal *j)
{
	json_object *o = journal_to_json(j);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	char name[64];
	int r;

	snprintf(name, sizeof(name), "group-%d.json", j->plan.group);
	r = text ? write_file_atomic_at(dirfd, name, text, strlen(text), 0600, (uid_t)-1, (gid_t)-1) :
		   -ENOMEM;
	json_object_put(o);
	return r;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool get_int(json_object *o, const char *key, int64_t *ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*ret = json_object_get_int64(v);
	return true;
}

static int parse_hex16(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!s || strlen(s) != 4)
		return -EBADMSG;
	v = strtoul(s, &end, 16);
	if (*end)
		return -EBADMSG;
	*ret = (unsigned)v;
	return 0;
}

static int parse_role(const char *s, enum group_role *ret)
{
	for (int r = ROLE_GPU; r <= ROLE_OTHER; r++)
		if (s && streq(s, group_role_name((enum group_role)r))) {
			*ret = (enum group_role)r;
			return 0;
		}
	return -EBADMSG;
}

/* A reset_method list as the kernel writes it: "flr bus", "default". */
static bool reset_list_ok(const char *s, size_t cap)
{
	return s[0] && strlen(s) < cap && strspn(s, "abcdefghijklmnopqrstuvwxyz_ ") == strlen(s);
}

static int dev_from_json(json_object *o, struct switch_dev *d)
{
	const char *addr = get_str(o, "address"), *drv = get_str(o, "driver");
	const char *ovr = get_str(o, "override"), *reset = get_str(o, "reset_method");
	json_object *ours;

	memset(d, 0, sizeof(*d));
	if (!addr || pci_addr_parse(addr, &d->fn.addr) < 0 || !drv || !ovr ||
	    !name_ok(drv, sizeof(d->orig_driver)) || !name_ok(ovr, sizeof(d->orig_override)) ||
	    switch_phase_parse(get_str(o, "phase"), &d->phase) < 0 ||
	    parse_hex16(get_str(o, "vendor"), &d->fn.vendor) < 0 ||
	    parse_hex16(get_str(o, "device"), &d->fn.device) < 0 ||
	    parse_role(get_str(o, "role"), &d->role) < 0 ||
	    !json_object_object_get_ex(o, "ours", &ours) || !json_object_is_type(ours, json_type_boolean) ||
	    (reset && !reset_list_ok(reset, sizeof(d->orig_reset))))
		return -EBADMSG;
	if (reset) {
		d->reset_set = true;
		snprintf(d->orig_reset, sizeof(d->orig_reset), "%s", reset);
	}
	pci_addr_format(&d->fn.addr, d->fn.name);
	snprintf(d->orig_driver, sizeof(d->orig_driver), "%s", drv);
	snprintf(d->orig_override, sizeof(d->orig_override), "%s", ovr);
	d->ours = json_object_get_boolean(ours);
	return 0;
}

static bool pid_ok(int64_t pid)
{
	return pid > 0 && pid <= 4194304; /* PID_MAX_LIMIT */
}

static int header_from_json(json_object *o, int group, struct journal *j)
{
	int64_t v, g, pid, holder, owner;
	unsigned op, state;
	json_object *fr;

	if (!get_int(o, "version", &v) || v != JOURNAL_VERSION || !get_int(o, "group", &g) ||
	    g != group || !get_int(o, "pid", &pid) || !pid_ok(pid) ||
	    !get_int(o, "holder", &holder) || !pid_ok(holder) ||
	    !get_int(o, "owner_uid", &owner) || owner < 0 || owner >= (int64_t)(uid_t)-1 ||
	    parse_name(get_str(o, "op"), op_names, ARRAY_SIZE(op_names), &op) < 0 ||
	    parse_name(get_str(o, "state"), state_names, ARRAY_SIZE(state_names), &state) < 0 ||
	    pci_addr_parse(get_str(o, "gpu") ? get_str(o, "gpu") : "", &j->plan.gpu.addr) < 0 ||
	    !get_int(o, "started", &j->started))
		return -EBADMSG;
	j->op = (enum journal_op)op;
	j->state = (enum journal_state)state;
	j->pid = (pid_t)pid;
	j->holder = (pid_t)holder;
	j->owner = (uid_t)owner;
	/* These are optional: a journal from before they existed reads as "unknown", "not a run". */
	if (get_int(o, "holder_start", &v) && v > 0)
		j->holder_start = (uint64_t)v;
	if (json_object_object_get_ex(o, "for_run", &fr) && json_object_is_type(fr, json_type_boolean))
		j->for_run = json_object_get_boolean(fr);
	if (json_object_object_get_ex(o, "kept", &fr) && json_object_is_type(fr, json_type_boolean))
		j->kept = json_object_get_boolean(fr);
	j->plan.group = group;
	pci_addr_format(&j->plan.gpu.addr, j->plan.gpu.name);
	return 0;
}

static int console_from_json(json_object *o, struct console_move *m)
{
	json_object *v, *fr;
	int64_t to;
	size_t n;

	if (!json_object_is_type(o, json_type_object) || !get_int(o, "to_fb", &to) || to < 0 ||
	    to >= 32 || !dev_name_ok(get_str(o, "from_device"), sizeof(m->from_dev)) || !json_object_object_get_ex(o, "consoles", &v) ||
	    !json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) == 0 ||
	    n > CONSOLE_MAX)
		return -EBADMSG;
	m->needed = true;
	m->to_fb = (int)to;
	snprintf(m->from_dev, sizeof(m->from_dev), "%s", get_str(o, "from_device"));
	if (dev_name_ok(get_str(o, "to_device"), sizeof(m->to_dev)))
		snprintf(m->to_dev, sizeof(m->to_dev), "%s", get_str(o, "to_device"));
	m->moved = json_object_object_get_ex(o, "moved", &fr) && json_object_get_boolean(fr);
	for (size_t i = 0; i < n; i++) {
		json_object *pair = json_object_array_get_idx(v, i), *c, *f;
		int64_t con, fb;

		if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2)
			return -EBADMSG;
		c = json_object_array_get_idx(pair, 0);
		f = json_object_array_get_idx(pair, 1);
		if (!json_object_is_type(c, json_type_int) || !json_object_is_type(f, json_type_int))
			return -EBADMSG;
		con = json_object_get_int64(c);
		fb = json_object_get_int64(f);
		if (con < 1 || con > CONSOLE_MAX || fb < 0 || fb >= 32)
			return -EBADMSG;
		m->v[m->n].console = (unsigned char)con;
		m->v[m->n++].fb = (unsigned char)fb;
	}
	return 0;
}

/* "services": ["nvidia-persistenced.service"], "services_stopped": true */
static int services_from_json(json_object *o, struct switch_plan *p)
{
	json_object *sv, *st;

	if (!json_object_object_get_ex(o, "services", &sv))
		return 0;
	if (!json_object_is_type(sv, json_type_array) ||
	    json_object_array_length(sv) > SWITCH_MAX_SERVICES)
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(sv); i++) {
		json_object *e = json_object_array_get_idx(sv, i);
		const char *u = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;

		/* Only the units vmrun stops: the journal must not start anything else as root. */
		if (!u || !quirk_stoppable_unit(u))
			return -EBADMSG;
		snprintf(p->services[p->n_services++], sizeof(p->services[0]), "%s", u);
	}
	p->services_stopped = json_object_object_get_ex(o, "services_stopped", &st) &&
			      json_object_get_boolean(st);
	return 0;
}

/* "released_cards": [{"name": "card1", "ino": 4711}]: the desktop let go of them (swdesk.h). */
static int cards_from_json(json_object *o, struct switch_plan *p)
{
	json_object *cards;

	if (!json_object_object_get_ex(o, "released_cards", &cards))
		return 0;
	if (!json_object_is_type(cards, json_type_array) ||
	    json_object_array_length(cards) > SWITCH_MAX_CARDS)
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(cards); i++) {
		json_object *e = json_object_array_get_idx(cards, i), *name, *ino;
		const char *n;

		if (!json_object_object_get_ex(e, "name", &name) ||
		    !json_object_object_get_ex(e, "ino", &ino) ||
		    !json_object_is_type(name, json_type_string) || !json_object_is_type(ino, json_type_int))
			return -EBADMSG;
		/* Only a card's name: the journal must not lead root's writes anywhere else. */
		n = json_object_get_string(name);
		if (strncmp(n, "card", 4) != 0 || !n[4] || strlen(n) >= sizeof(p->cards[0]) ||
		    strspn(n + 4, "0123456789") != strlen(n + 4))
			return -EBADMSG;
		snprintf(p->cards[p->n_cards], sizeof(p->cards[0]), "%s", n);
		p->cards_ino[p->n_cards++] = (unsigned long long)json_object_get_int64(ino);
	}
	p->released = true;
	return 0;
}

static int journal_from_json(json_object *o, int group, struct journal *j)
{
	json_object *devs, *mods, *con;
	size_t n;
	int r = header_from_json(o, group, j);

	if (r < 0)
		return r;
	if (!json_object_object_get_ex(o, "devices", &devs) || !json_object_is_type(devs, json_type_array) ||
	    (n = json_object_array_length(devs)) == 0 || n > JOURNAL_MAX_DEVS)
		return -EBADMSG;
	j->plan.devs = calloc(n, sizeof(*j->plan.devs));
	if (!j->plan.devs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (dev_from_json(json_object_array_get_idx(devs, i), &j->plan.devs[i]) < 0)
			return -EBADMSG;
		j->plan.n_devs++;
	}
	if (!json_object_object_get_ex(o, "modules_unloaded", &mods) ||
	    !json_object_is_type(mods, json_type_array) ||
	    json_object_array_length(mods) > ARRAY_SIZE(j->plan.modules))
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(mods); i++) {
		json_object *m = json_object_array_get_idx(mods, i);
		const char *s = json_object_is_type(m, json_type_string) ? json_object_get_string(m) : NULL;

		if (!s || !*s || !name_ok(s, sizeof(j->plan.modules[0])))
			return -EBADMSG;
		snprintf(j->plan.modules[j->plan.n_modules++], sizeof(j->plan.modules[0]), "%s", s);
	}
	if (json_object_object_get_ex(o, "console", &con) && console_from_json(con, &j->plan.console) < 0)
		return -EBADMSG;
	if (services_from_json(o, &j->plan) < 0)
		return -EBADMSG;
	return cards_from_json(o, &j->plan);
}

int journal_read(int dirfd, int group, struct journal *ret)
{
	_cleanup_free_ char *buf = NULL;
	struct journal j = { .plan.group = group };
	struct stat st;
	char name[64];
	json_object *o;
	int r;

	snprintf(name, sizeof(name), "group-%d.json", group);
	r = read_file_at(dirfd, name, JOURNAL_MAX_SIZE, READ_REGULAR | READ_TEXT, &buf, NULL, &st);
	/* Only a regular file of ours (a symlink is -ELOOP), of a sane size, is read at all. */
	if (r == -EINVAL || r == -EFBIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	if (st.st_uid != geteuid())
		return -EBADMSG;
	o = json_tokener_parse(buf);
	if (!o)
		return -EBADMSG;
	r = journal_from_json(o, group, &j);
	json_object_put(o);
	if (r < 0) {
		journal_clear(&j);
		return r;
	}
	*ret = j;
	return 0;
}

int journal_remove(int dirfd, int group)
{
	char name[64];

	snprintf(name, sizeof(name), "group-%d.json", group);
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	(void)fsync(dirfd);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int journal_list(int dirfd, int **ret, size_t *ret_n)
{
	int *v = NULL, r;
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	r = opendir_at(dirfd, ".", &d);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		int g, len = 0;
		int *nv;

		if (sscanf(de->d_name, "group-%d.json%n", &g, &len) != 1 || len == 0 ||
		    de->d_name[len] || g < 0)
			continue;
		nv = reallocarray(v, n + 1, sizeof(*v));
		if (!nv) {
			free(v);
			closedir(d);
			return -ENOMEM;
		}
		v = nv;
		v[n++] = g;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_int);
	*ret = v;
	*ret_n = n;
	return 0;
}

void journal_clear(struct journal *j)
{
	free(j->plan.devs);
	j->plan.devs = NULL;
	j->plan.n_devs = 0;
}

/* ---- the switch's use of it ---- */

enum switch_status journal_sync(struct switch_ctx *c, struct journal *j)
{
	int r = journal_write(c->state_fd, j);

	if (r < 0)
		return sw_fail(c, SW_FAILED, "cannot write the journal /run/vmrun/switch/group-%d.json: %s",
			    j->plan.group, strerror(-r));
	return SW_OK;
}

enum switch_status journal_begin(struct switch_ctx *c, struct journal *j, enum journal_op op,
					bool for_run, bool kept)
{
	j->op = op;
	j->state = JOURNAL_IN_PROGRESS;
	j->pid = getpid();
	j->holder = c->holder > 0 ? c->holder : j->pid;
	j->holder_start = 0;
	(void)proc_start_time(c->s->proc_fd, j->holder, &j->holder_start);
	j->for_run = for_run && !kept; /* a kept group is not the run's to give back */
	j->kept = kept;
	j->owner = c->owner;
	j->started = (int64_t)time(NULL);
	return journal_sync(c, j);
}

bool journal_holder_alive(const struct switch_ctx *c, const struct journal *j)
{
	return proc_is_alive(c->s->proc_fd, j->holder, j->holder_start);
}

bool journal_stale(const struct switch_ctx *c, const struct journal *j)
{
	if (c->owner != 0 && j->owner != c->owner)
		return false;
	if (j->state == JOURNAL_IN_PROGRESS)
		return !proc_is_alive(c->s->proc_fd, j->pid, 0) && !journal_holder_alive(c, j);
	return j->op == JOURNAL_DETACH && j->for_run && !journal_holder_alive(c, j);
}

const char *journal_stale_what(const struct journal *j)
{
	return j->state == JOURNAL_IN_PROGRESS ? "was interrupted" : "was never given back";
}
