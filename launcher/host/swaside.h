/* SPDX-License-Identifier: MIT */
/* What a switch puts aside and gives back (swaside.c). */
#pragma once

#include "journal.h"
#include "swctx.h"

enum switch_status swaside_ensure_vfio(struct switch_ctx *c);
enum switch_status swaside_consoles_away(struct switch_ctx *c, struct journal *j);
void swaside_consoles_back(struct switch_ctx *c, struct journal *j);
enum switch_status swaside_stop_services(struct switch_ctx *c, struct journal *j);
void swaside_start_services(struct switch_ctx *c, struct journal *j);
enum switch_status swaside_unload_modules(struct switch_ctx *c, struct journal *j);
enum switch_status swaside_reload_modules(struct switch_ctx *c, struct switch_plan *p);
