/* SPDX-License-Identifier: MIT */
#include "swplan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const phase_names[] = {
	[PHASE_PLANNED] = "planned", [PHASE_OVERRIDE] = "override", [PHASE_UNBOUND] = "unbound",
	[PHASE_VFIO] = "vfio",       [PHASE_RELEASED] = "released", [PHASE_HOST] = "host",
};

const char *switch_phase_name(enum switch_phase p)
{
	return (unsigned)p <= PHASE_MAX ? phase_names[p] : "?";
}

int switch_phase_parse(const char *name, enum switch_phase *ret)
{
	for (unsigned i = 0; name && i <= PHASE_MAX; i++)
		if (streq(name, phase_names[i])) {
			*ret = (enum switch_phase)i;
			return 0;
		}
	return -EBADMSG;
}

void switch_plan_clear(struct switch_plan *p)
{
	free(p->devs);
	holder_set_clear(&p->holders);
	memset(p, 0, sizeof(*p));
	p->group = -1;
}
