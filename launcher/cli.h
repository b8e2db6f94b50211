/* SPDX-License-Identifier: MIT */
/* The command-line front end: shared state and helpers for the cmd_*.c files. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../profiles/profile.h"
#include "exitcodes.h"
#include "gpu.h"
#include "sysroot.h"

struct cli {
	struct sysroot *root; /* "/" or --root DIR */
	bool json;
	int verbose;
	bool notify; /* --notify: desktop notifications for a run (launcher entries) */
	uid_t uid;
};

int cmd_gpus(struct cli *c, int argc, char **argv);
int cmd_check(struct cli *c, int argc, char **argv);
int cmd_detach(struct cli *c, int argc, char **argv);
int cmd_attach(struct cli *c, int argc, char **argv);
int cmd_restore(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_stop(struct cli *c, int argc, char **argv);
int cmd_desktop_entry(struct cli *c, int argc, char **argv); /* cmd_desktop.c */
int cmd_setup(struct cli *c, int argc, char **argv);         /* cmd_setup.c */
/* Running (and crashed) VMs from their runtime directories, for status. */
json_object *vm_list(struct cli *c, int state_fd, bool *restore_pending);
/* vmrun [--dry-run] PROFILE */
int cmd_plan(struct cli *c, int argc, char **argv);

/* Load a profile, reporting "FILE:LINE: KEY: MESSAGE" once; returns 0 or an exit code. */
int cli_load_profile(const char *path, struct vm_profile **ret);
/* Parse a PCI address given by the user; reports and returns EXIT_USAGE when malformed. */
int cli_parse_addr(const char *s, struct pci_addr *ret);

json_object *json_function(const struct pci_function *f);
json_object *json_holder(const struct holder *h);
void json_print(json_object *o);
json_object *json_str_or_null(const char *s);
