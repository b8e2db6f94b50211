/* SPDX-License-Identifier: MIT */
/* What the commands print: JSON shapes shared between them, and argument helpers. */
#pragma once

#include <json-c/json.h>

#include "holders.h"
#include "pcidev.h"
#include "preflight.h"
#include "sysroot.h"

json_object *json_function(const struct pci_function *f);
json_object *json_holder(const struct holder *h);
/* NULL (JSON null) for NULL or "". */
json_object *json_str_or_null(const char *s);
/* Pretty-printed, one object. */
void json_print(json_object *o);
/* One line (for the timeline and other streams of events). */
void json_print_line(json_object *o);

/* What each function of an IOMMU group is bound to now: [{address, driver}]. */
json_object *json_group_drivers(const struct sysroot *s, int group);

/* Parse a PCI address given by the user; reports and returns EXIT_USAGE when malformed. */
int cli_parse_addr(const char *s, struct pci_addr *ret);

/* The pre-flight's verdicts: "ok    msg" / "FAIL  msg" + "      fix: ..." lines, or a JSON array. */
void print_checks(const struct checks *ck);
json_object *json_checks(const struct checks *ck);
