/* SPDX-License-Identifier: MIT */
/*
 * A desktop holder of a GPU's group (desktop.h says what it is): whether it can be asked to
 * let go of the group's cards while it runs, and what the user can do about it.
 */
#pragma once

#include <stddef.h>

#include "holders.h"
#include "sysroot.h"

#define DESK_CARD_NAME 16 /* "card1" */

/*
 * May h be asked to let go of the cards (the group's, "card1"): a compositor that can, for
 * which none of them is the primary GPU, or logind / PID 1 holding a copy for a live session;
 * and the caller's (a udev event reaches every session: only root may ask another user's).
 * Sets h->releasable, or h->not_releasable to why not (for a desktop holder; "" for others).
 */
void deskhold_judge(const struct sysroot *s, const char (*cards)[DESK_CARD_NAME], size_t n_cards,
		    uid_t caller, struct holder *h);
/* What the user can do about h, for the run (--release) and for good. */
void deskhold_fix(const struct holder *h, char *buf, size_t cap);
/* The connected monitors on the cards: "HDMI-A-1, DP-2" ("" when none). */
void deskhold_monitors(const struct sysroot *s, const char (*cards)[DESK_CARD_NAME], size_t n_cards,
		       char *buf, size_t cap);
