/* SPDX-License-Identifier: MIT */
/*
 * Holders: processes with one of a device's nodes open. One pass over /proc reading only fd
 * links, so hosts with thousands of processes are scanned quickly; details (command, user,
 * systemd unit) are read only for the processes that matched.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "devnodes.h"
#include "sysroot.h"

struct holder {
	pid_t pid;
	uid_t uid;
	char user[64];    /* name from the root's etc/passwd, or the number */
	char comm[32];    /* /proc/PID/comm */
	char cmdline[256];/* argv joined by spaces, truncated */
	char unit[128];   /* systemd unit from the cgroup path, "" when none */
	char node[64];    /* the node held */
	char function[PCI_ADDR_STR_MAX];
	enum node_kind kind;
};

struct holder_set {
	struct holder *v;
	size_t n;
	unsigned unreadable; /* processes whose fds could not be read (not root): scan is partial */
	unsigned scanned;
};

int holders_find(const struct sysroot *s, const struct devnode_set *nodes, struct holder_set *ret);
void holder_set_clear(struct holder_set *set);

/* "pid 812 Xorg (user root, unit display-manager.service)" */
const char *holder_describe(const struct holder *h, char *buf, size_t cap);

/* The systemd unit in a /proc/PID/cgroup text: the innermost *.service or *.scope. */
void cgroup_unit(const char *cgroup_text, char *buf, size_t cap);
