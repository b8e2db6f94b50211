/* SPDX-License-Identifier: MIT */
/*
 * The desktop's hold on a group, and asking it to let go (--release, pci[N].release): a
 * compositor that can lose a secondary GPU (KWin, wlroots, Hyprland) closes the card on its udev
 * `remove`, and logind drops its copy and PID 1's at the same event; vmrun sends that event,
 * waits until nothing holds the group, and only then switches. Never a compositor's primary
 * GPU. When the card comes back to its driver the kernel announces it and they take it again;
 * when it never left (a refusal, a rollback) it is offered back with an `add`.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "journal.h"
#include "swctx.h"

/*
 * The detach's first step when the plan says release: journaled, a udev `remove` for each
 * card, then up to the timeout for every holder of the group's nodes to be gone. On a timeout
 * the cards are offered back and SW_HELD names who kept them.
 */
enum switch_status swdesk_release(struct switch_ctx *c, const struct switch_opts *o, struct journal *j);
/* On the way home, for cards that never left their driver: a udev `add`, so the compositor
 * takes them again (a card that went to vfio-pci and back is announced by the kernel). */
void swdesk_offer_back(struct switch_ctx *c, const struct switch_opts *o, struct journal *j);
