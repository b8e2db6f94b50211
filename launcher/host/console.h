/* SPDX-License-Identifier: MIT */
/*
 * The text console: which framebuffer fbcon draws each console on, so a switch never takes it
 * away. When it is on the passthrough GPU (a desktop whose firmware boots on that card, or a
 * driver that probed first), the consoles are moved to another framebuffer for as long as the
 * GPU is away (fbcon's con2fbmap, kernel.h), and moved back when it is home.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "devnodes.h"
#include "kernel.h"
#include "sysroot.h"

#define CONSOLE_MAX 63 /* the kernel's MAX_NR_CONSOLES */

struct console_move {
	bool needed;        /* fbcon is bound and consoles are on the group's framebuffers */
	bool moved;         /* journaled before the first move: the way back moves them back */
	int to_fb;          /* where they go; -1: no other framebuffer to take them */
	char to_dev[64];    /* its device ("0000:00:02.0", "simple-framebuffer.0") */
	char from_dev[64];  /* the GPU whose framebuffer they are on, to find it again after */
	size_t n;
	struct {
		unsigned char console, fb; /* console 1..63 and the framebuffer it was on */
	} v[CONSOLE_MAX];
};

/*
 * Whether fbcon is bound to the consoles and one of nodes is the framebuffer it draws on
 * (fb0, unless the consoles were moved). A read error other than absence is returned as
 * -errno: a safety check that could not look must not say "no".
 */
int console_on_nodes(const struct sysroot *s, const struct devnode_set *nodes, bool *ret);

/* Which consoles are on the framebuffers among nodes, and where they can go (the first other
 * registered framebuffer). 0 with ret->needed false when none is; -errno when it cannot tell. */
int console_plan(const struct sysroot *s, const struct kernel_ops *k, const struct devnode_set *nodes,
		 struct console_move *ret);

/* Each planned console to m->to_fb, checked; -errno with why on the first that will not go. */
int console_move_away(const struct sysroot *s, const struct kernel_ops *k,
		      const struct console_move *m, char *why, size_t cap);

/*
 * Each planned console back to the GPU's framebuffer, found again by its device (its number may
 * have changed when its driver came back), waiting up to wait_ms for it to be registered.
 * 0 (*ret_fb: where they went), -ENOENT when the GPU has no framebuffer now (they stay where
 * they are), another -errno with why.
 */
int console_move_back(const struct sysroot *s, const struct kernel_ops *k,
		      const struct console_move *m, unsigned wait_ms, int *ret_fb, char *why,
		      size_t cap);

/* "1-63", "1-6,8": the consoles of a move, for messages. */
void console_list_text(const struct console_move *m, char *buf, size_t cap);
