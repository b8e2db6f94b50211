/* SPDX-License-Identifier: MIT */
/*
 * The VM's own NVRAM (UEFI variables): a copy of the firmware's template in the VM's state
 * directory, made once and never overwritten, checked against the code image's flash size.
 * Nothing to give back: it is the VM's, kept between runs.
 */
#include "res.h"

#include <errno.h>
#include <string.h>

#include "exitcodes.h"
#include "firmware.h"
#include "log.h"

int res_nvram_take(struct run *r)
{
	_cleanup_free_ char *name = NULL;
	bool created = false;
	int e;

	if (r->pl->p->firmware.type != VM_FW_UEFI)
		return 0;
	e = fw_vars_ensure(r->state_fd, r->pl->s->root_fd, r->pl->p->name, &r->pl->fw, &name, &created);
	if (e < 0) {
		log_err("NVRAM %s: %s%s", r->pl->vars_path, strerror(-e),
			e == -EMEDIUMTYPE ? " (it does not match the firmware's flash size: move it "
					    "aside to start with fresh NVRAM)" : "");
		return EXIT_ERROR;
	}
	if (created)
		run_say(r, "nvram", "created the VM's NVRAM %s from %s", r->pl->vars_path,
		    r->pl->fw.vars_template);
	return 0;
}
