/* SPDX-License-Identifier: MIT */
#include "recover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcodes.h"
#include "isolate.h"
#include "pciaddr.h"
#include "util.h"

struct rec {
	struct priv *priv;
	struct vm_info *vi;
	recover_say_fn say;
	void *data;
	bool left; /* something could not be given back */
};

_printf_(2, 3) static void say(struct rec *c, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->say)
		c->say(c->data, msg);
}

/* Each GPU the run detached (or was about to): its group's journal, if that vmrun's, restored.
 * A journal of another vmrun's is left alone by the switch (only_holder). */
static void give_back_gpus(struct rec *c)
{
	struct vm_info *vi = c->vi;
	size_t keep = 0;

	for (size_t i = 0; i < vi->n_gpus; i++) {
		struct priv_request rq = { .op = PRIV_RESTORE, .opts.only_holder = vi->pid };
		struct priv_result res;

		if (pci_addr_parse(vi->gpus[i], &rq.addr) < 0) {
			say(c, "vm.json names %.20s, which is not a PCI address: skipped", vi->gpus[i]);
			continue;
		}
		priv_call(c->priv, &rq, &res);
		if (res.status) {
			say(c, "%s: %s", vi->gpus[i], res.why);
			memmove(vi->gpus[keep++], vi->gpus[i], sizeof(vi->gpus[i]));
			c->left = true;
		}
	}
	vi->n_gpus = keep;
	if (!keep)
		vi->n_groups = 0;
}

static void give_back_hugepages(struct rec *c)
{
	struct vm_info *vi = c->vi;
	struct priv_request rq = { .op = PRIV_HUGEPAGES_FREE, .bytes = vi->huge_page,
				   .count = vi->huge_added };
	struct priv_result res;

	if (!vi->huge_added || !vi->huge_page)
		return;
	priv_call(c->priv, &rq, &res);
	if (res.status) {
		say(c, "hugepages: %s", res.why);
		c->left = true;
		return;
	}
	vi->huge_added = 0;
}

static void take_back_inputs(struct rec *c)
{
	struct vm_info *vi = c->vi;
	size_t keep = 0;

	for (size_t i = 0; i < vi->n_inputs; i++) {
		struct priv_request rq = { .op = PRIV_INPUT_REVOKE };
		struct priv_result res;

		snprintf(rq.path, sizeof(rq.path), "%s", vi->inputs[i]);
		priv_call(c->priv, &rq, &res);
		/* Unplugged meanwhile: the ACL went with the node. */
		if (res.status && !strstr(res.why, "no such input device")) {
			say(c, "%s", res.why);
			memmove(vi->inputs[keep++], vi->inputs[i], sizeof(vi->inputs[i]));
			c->left = true;
		}
	}
	vi->n_inputs = keep;
}

static void unisolate(struct rec *c, const struct sysroot *s)
{
	char why[512];

	if (!c->vi->isolated)
		return;
	if (isolate_restore(s, why, sizeof(why)) < 0) {
		say(c, "cpu.isolate: %s", why);
		c->left = true;
		return;
	}
	say(c, "cpu.isolate: the host's slices have all their CPUs again");
	c->vi->isolated = false;
}

/* Only a regular file of ours: vm.json is the user's to write, so the name is checked. */
static void remove_looking_glass(struct rec *c)
{
	struct vm_info *vi = c->vi;
	struct stat st;

	if (!vi->looking_glass_made)
		return;
	if (strncmp(vi->looking_glass, "/dev/shm/looking-glass-", 23) != 0 ||
	    strchr(vi->looking_glass + 23, '/') ||
	    (lstat(vi->looking_glass, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_uid != geteuid()))) {
		say(c, "Looking Glass: %.200s is not a file the run made: left alone", vi->looking_glass);
	} else if (unlink(vi->looking_glass) < 0 && errno != ENOENT) {
		say(c, "Looking Glass: cannot remove %.200s: %s", vi->looking_glass, strerror(errno));
		c->left = true;
		return;
	} else {
		say(c, "Looking Glass: removed %.200s", vi->looking_glass);
	}
	vi->looking_glass_made = false;
}

int vm_recover(struct priv *priv, int run_fd, struct vm_info *vi, recover_say_fn fn, void *data)
{
	struct rec c = { .priv = priv, .vi = vi, .say = fn, .data = data };

	give_back_gpus(&c);
	give_back_hugepages(&c);
	take_back_inputs(&c);
	unisolate(&c, priv->s);
	remove_looking_glass(&c);
	if (!c.left) {
		vm_dir_remove_stale(run_fd);
		return EXIT_OK;
	}
	snprintf(vi->state, sizeof(vi->state), "needs-restore");
	(void)vm_info_write(run_fd, vi);
	return EXIT_RECOVER;
}
