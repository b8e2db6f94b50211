/* SPDX-License-Identifier: MIT */
#include "runctx.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "notify.h"

void run_say(struct run *r, const char *event, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* systemd (Type=notify) hears every line as the unit's status. */
	(void)sd_notify_status(msg);
	if (r->ui && r->ui->event)
		r->ui->event(r->ui->data, event, msg);
}

/* vm.json, before and after each change on the host: what the guard would give back. */
void run_sync_info(struct run *r)
{
	if (r->run_fd >= 0 && vmdir_info_write(r->run_fd, &r->vi) < 0)
		log_debug("cannot write %s/vm.json: %m", r->pl->runtime_dir);
}

void run_switch_progress(void *data, const char *msg)
{
	run_say(data, "switch", "%s", msg);
}
