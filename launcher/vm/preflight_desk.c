/* SPDX-License-Identifier: MIT */
/*
 * The desktop's next login: the holders check says who has the GPU now; this one says which
 * Wayland compositor installed will open it when it next starts (and so hold it again), from
 * its configuration (loginenv.h), with that compositor's own fix.
 */
#include "preflight.h"

#include <pwd.h>
#include <stdio.h>

#include "loginenv.h"

void preflight_next_login(const struct sysroot *s, uid_t uid, const struct switch_plan *sw,
			  struct checks *c)
{
	struct login_verdict v[LOGIN_MAX];
	const struct passwd *pw = getpwuid(uid);
	size_t n;

	if (sw->group < 0 || !sw->n_cards)
		return;
	n = login_judge(s, pw ? pw->pw_dir : NULL, sw->gpu.name, sw->cards, sw->n_cards, v);
	for (size_t i = 0; i < n; i++) {
		const char *name = display_server_info(v[i].ds)->name;
		char fix[256];

		display_server_fix(v[i].ds, fix, sizeof(fix));
		if (v[i].grabs || v[i].unsure)
			checks_add(c, CHECK_NEXT_LOGIN, VERDICT_WARN, 0, fix, "%s: %s %s at its next "
				   "login: %s", sw->gpu.name, name, v[i].grabs ? "will open it" :
				   "may open it", v[i].how);
		else
			CHECK_OK(c, CHECK_NEXT_LOGIN, "%s: %s leaves it alone at its next login: %s",
				 sw->gpu.name, name, v[i].how);
	}
}
