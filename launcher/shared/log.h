/* SPDX-License-Identifier: MIT */
/* Logging through a replaceable callback: library code never prints on its own. */
#pragma once

#include <stdarg.h>

#include "util.h"

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

typedef void (*log_fn_t)(enum log_level lvl, const char *fmt, va_list ap);

/* Install the sink; NULL silences everything. Returns the previous sink. */
log_fn_t log_set_fn(log_fn_t fn);
void log_set_max_level(enum log_level lvl);
_printf_(2, 3) void log_msg(enum log_level lvl, const char *fmt, ...);

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
