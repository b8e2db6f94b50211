/* SPDX-License-Identifier: MIT */
/*
 * Telling others how a run goes: the service manager (systemd's notify protocol, for
 * Type=notify units) and the user's desktop (a notification through notify-send).
 */
#pragma once

#include <stdbool.h>

/*
 * One datagram to $NOTIFY_SOCKET (a path, or an abstract name written "@name"), no libsystemd.
 * Returns 0 when NOTIFY_SOCKET is unset or empty (not under a service manager: nothing to do),
 * 1 when sent, a negative errno on failure (-EAFNOSUPPORT for an address form it cannot use).
 * Newlines in status are replaced by spaces so a status cannot add assignments of its own.
 */
int sd_notify_ready(const char *status); /* "READY=1\nSTATUS=status" (status may be NULL) */
int sd_notify_status(const char *status); /* "STATUS=status" */
int sd_notify_stopping(void);             /* "STOPPING=1" */
/* The raw message, for callers and tests that need another assignment. */
int sd_notify_send(const char *message);

/*
 * A desktop notification through notify-send (package libnotify-bin): fork + exec with an argv,
 * no shell. Only with a graphical session (DISPLAY or WAYLAND_DISPLAY set) and notify-send on
 * PATH; otherwise -ENOENT. Waits at most about 2 s: a notify-send still running then is left to
 * finish on its own (it is not our child any more, so no zombie is left behind). body may be
 * NULL. 0 when shown (or still being shown), -EIO when notify-send failed.
 */
int desktop_notify(const char *summary, const char *body, bool critical);
