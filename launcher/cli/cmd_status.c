/* SPDX-License-Identifier: MIT */
/* vmrun status: running VMs (their vm.json and QMP), switched groups (root: the journals). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "iommu.h"
#include "journal.h"
#include "output.h"
#include "switch.h"
#include "util.h"
#include "vmctl.h"

static bool alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* What a journal says about its group now. */
static const char *switch_state(const struct journal *j)
{
	if (j->state == JOURNAL_DONE && j->op == JOURNAL_DETACH && j->kept)
		return "kept"; /* on vfio-pci between runs (pci[N].after) */
	if (j->state == JOURNAL_DONE)
		return j->op == JOURNAL_DETACH ? "detached" : "attached";
	if (alive(j->pid))
		return j->op == JOURNAL_DETACH ? "detaching" : "attaching";
	return "restore-pending";
}

/* The switch journals (root only: a user cannot read them); pending restores counted. */
static json_object *list_switches(struct cli *c, int fd, unsigned *pending)
{
	json_object *arr = json_object_new_array();
	_cleanup_free_ int *groups = NULL;
	size_t n = 0;

	if (fd < 0 || journal_list(fd, &groups, &n) < 0)
		return arr;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_new_object();
		struct journal j;

		json_object_object_add(e, "group", json_object_new_int(groups[i]));
		if (journal_read(fd, groups[i], &j) < 0) {
			json_object_object_add(e, "state", json_object_new_string("invalid-journal"));
			json_object_array_add(arr, e);
			(*pending)++;
			continue;
		}
		*pending += streq(switch_state(&j), "restore-pending");
		json_object_object_add(e, "gpu", json_object_new_string(j.plan.gpu.name));
		json_object_object_add(e, "state", json_object_new_string(switch_state(&j)));
		json_object_object_add(e, "pid", json_object_new_int(j.pid));
		json_object_object_add(e, "holder", json_object_new_int(j.holder));
		json_object_object_add(e, "owner_uid", json_object_new_int64(j.owner));
		json_object_object_add(e, "devices", json_group_drivers(c->root, groups[i]));
		json_object_array_add(arr, e);
		journal_clear(&j);
	}
	return arr;
}

static json_object *json_vm(const struct vmctl_entry *e)
{
	json_object *o = json_object_new_object(), *groups = json_object_new_array();

	json_object_object_add(o, "name", json_object_new_string(e->vi.name));
	json_object_object_add(o, "pid", json_object_new_int(e->vi.pid));
	json_object_object_add(o, "qemu_pid", json_object_new_int(e->vi.qemu_pid));
	json_object_object_add(o, "running", json_object_new_boolean(e->running));
	json_object_object_add(o, "uptime", json_object_new_int64(e->running ? time(NULL) - e->vi.started : 0));
	json_object_object_add(o, "profile", json_object_new_string(e->vi.profile));
	json_object_object_add(o, "qmp_status", json_str_or_null(e->guest));
	for (size_t i = 0; i < e->vi.n_groups; i++)
		json_object_array_add(groups, json_object_new_int(e->vi.groups[i]));
	json_object_object_add(o, "gpu_groups", groups);
	json_object_object_add(o, "restore_pending", json_object_new_boolean(e->restore_pending));
	if (e->vi.looking_glass[0]) {
		char cmd[320];

		snprintf(cmd, sizeof(cmd), "looking-glass-client -f %s", e->vi.looking_glass);
		json_object_object_add(o, "looking_glass", json_object_new_string(e->vi.looking_glass));
		json_object_object_add(o, "looking_glass_client", json_object_new_string(cmd));
	}
	return o;
}

static void print_text(json_object *switches, const struct vmctl_entry *vms, size_t n_vms)
{
	for (size_t i = 0; i < json_object_array_length(switches); i++) {
		json_object *e = json_object_array_get_idx(switches, i), *g, *gpu, *st;
		const char *state;

		json_object_object_get_ex(e, "group", &g);
		json_object_object_get_ex(e, "state", &st);
		state = json_object_get_string(st);
		printf("IOMMU group %d (%s): %s%s\n", json_object_get_int(g),
		       json_object_object_get_ex(e, "gpu", &gpu) ? json_object_get_string(gpu) : "?",
		       state, streq(state, "restore-pending") || streq(state, "invalid-journal") ?
		       " — run `vmrun restore`" : streq(state, "kept") ? " on vfio-pci between runs "
		       "— `vmrun attach` gives it back" : "");
	}
	for (size_t i = 0; i < n_vms; i++) {
		const struct vmctl_entry *e = &vms[i];

		printf("VM %s: ", e->vi.name);
		if (e->running && streq(e->vi.state, "recovering")) {
			printf("its vmrun (pid %d) ended without stopping it; its guard (pid %d) is "
			       "giving back what the run changed\n", (int)e->vi.pid, (int)e->vi.guard_pid);
		} else if (e->running) {
			printf("running (vmrun pid %d, up %llds, guest %s, GPU groups [", (int)e->vi.pid,
			       (long long)(time(NULL) - e->vi.started), e->guest[0] ? e->guest : "unknown");
			for (size_t k = 0; k < e->vi.n_groups; k++)
				printf("%s%d", k ? ", " : "", e->vi.groups[k]);
			printf("])\n");
			if (e->vi.looking_glass[0])
				printf("  its screen: looking-glass-client -f %s\n", e->vi.looking_glass);
		} else {
			if (e->restore_pending)
				printf("not running; its last run left %s: run `vmrun restore %s`\n",
				       e->vi.n_groups || e->vi.n_gpus ? "its GPU on vfio-pci" :
				       "changes on the host", e->vi.name);
			else
				printf("not running\n");
		}
	}
	if (!json_object_array_length(switches) && !n_vms)
		printf("No VM is running and no GPU is switched to vfio-pci by vmrun.\n");
}

int cmd_status(struct cli *c, const struct cli_args *a)
{
	struct vmctl_entry *vms = NULL;
	json_object *switches;
	unsigned pending = 0;
	size_t n_vms = 0;
	int fd = -1;

	/* The journals are root's alone; a user sees their own VMs. */
	if (switch_state_open(c->root, false, &fd) < 0)
		fd = -1;
	switches = list_switches(c, fd, &pending);
	(void)vmctl_list(c->root, c->uid, fd, &vms, &n_vms);
	for (size_t i = 0; i < n_vms; i++)
		pending += vms[i].restore_pending;
	if (c->json) {
		json_object *root = json_object_new_object(), *arr = json_object_new_array();

		for (size_t i = 0; i < n_vms; i++)
			json_object_array_add(arr, json_vm(&vms[i]));
		json_object_object_add(root, "vms", arr);
		json_object_object_add(root, "switches", json_object_get(switches));
		json_object_object_add(root, "restore_pending", json_object_new_boolean(pending > 0));
		json_print(root);
		json_object_put(root);
	} else {
		print_text(switches, vms, n_vms);
	}
	json_object_put(switches);
	free(vms);
	safe_close(fd);
	return EXIT_OK;
}
