/* SPDX-License-Identifier: MIT */
/*
 * Holders: processes that have one of a device's nodes open or mapped, found by what the
 * node *is* (its device number), not by its name: an fd of a mknod alias, of a bind mount in
 * another mount namespace or of a container's /dev is the same device. One pass over /proc:
 * per fd one stat through the kernel's magic link; per process its mappings, each mapped
 * file looked at once per scan; details (command, user, unit) only for processes that match.
 * VFIO device fds (anon inodes) count as holders of their group.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "desktop.h"
#include "devnodes.h"
#include "sysroot.h"

struct holder {
	pid_t pid;
	uid_t uid;
	char user[64];     /* name from the root's etc/passwd, or the number */
	char comm[72];     /* /proc/PID/comm, control characters escaped (text_escape) */
	char cmdline[256]; /* argv joined by spaces, truncated, escaped */
	char unit[128];    /* systemd unit from the cgroup path, "" when none; escaped */
	char system_unit[128]; /* the system service it runs in (/system.slice/U.service), ""
	                        * for everything else: only root names these, so only these
	                        * may be stopped for a switch */
	char node[64];     /* the node of ours it holds */
	char via[96];      /* how, when it is not an fd of that very path: "mapping",
	                    * "/tmp/alias (fd 3)", "a VFIO device fd"; "" otherwise */
	char function[PCI_ADDR_STR_MAX];
	enum node_kind kind;
	enum display_server ds;      /* what it is on the desktop (desktop.h), DS_NONE for others */
	struct session_info session; /* the logind session it works for, when ds is set and one
	                              * is known (session.id[0]) */
	bool releasable;             /* the switch's plan: it can be asked to let go (swdesk.h) */
	char not_releasable[192];    /* ... or why not, for a desktop holder ("" otherwise) */
};

struct holder_set {
	struct holder *v;
	size_t n;
	unsigned unreadable; /* processes whose fds could not be read (not root): scan is partial */
	unsigned scanned;
};

int holders_find(const struct sysroot *s, const struct devnode_set *nodes, struct holder_set *ret);
void holder_set_clear(struct holder_set *set);

/*
 * Whether a holder keeps its function from being switched. The one rule, for the switch and
 * for `vmrun check` alike:
 *   - sound nodes do not block: ALSA survives hot-unplug, and sound servers let go;
 *   - nodes shared by every card of a driver (/dev/nvidiactl, nvidia-modeset, nvidia-uvm,
 *     /dev/kfd) block only when the driver's modules are to be unloaded: with another card
 *     still on the driver, holding them does not mean holding this card;
 *   - everything else blocks.
 */
bool holder_blocks(const struct holder *h, bool unloading_modules);

/* "pid 812 Xorg (user root, unit display-manager.service)"; for the desktop's holders what
 * they are and for whom: "pid 960 kwin_wayland (KWin, user alice, session 3 on seat0)",
 * "pid 402 systemd-logind (its copy of session 3's device, alice's)". */
const char *holder_describe(const struct holder *h, char *buf, size_t cap);

/* The systemd unit in a /proc/PID/cgroup text: the innermost *.service or *.scope. */
void cgroup_unit(const char *cgroup_text, char *buf, size_t cap);
/*
 * The system service a /proc/PID/cgroup text puts the process in: U when its path starts
 * /system.slice/U.service, "" otherwise. A user's own unit of the same name
 * (/user.slice/.../user@1000.service/.../U.service) is not one.
 */
void cgroup_system_unit(const char *cgroup_text, char *buf, size_t cap);
