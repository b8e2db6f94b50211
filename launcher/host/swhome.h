/* SPDX-License-Identifier: MIT */
/* The way home of a switch (swhome.c). */
#pragma once

#include "journal.h"
#include "swctx.h"

/* Every device of ours back home, in reverse; only_moved: those the journal says moved. */
enum switch_status sw_all_to_host(struct switch_ctx *c, const struct switch_opts *o,
				  struct journal *j, bool only_moved);
/* The kernel log's tail beside the journal (group-N.kmsg), and pointed to in c->why. */
void sw_keep_kernel_log(struct switch_ctx *c, int group);
