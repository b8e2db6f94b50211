/* SPDX-License-Identifier: MIT */
/*
 * Starting Debian's real qemu-system-x86_64 from a test and asking it, over QMP, what it built.
 * Used to prove that an argv vmrun generates is one QEMU accepts and that it means what the
 * profile asked for (test_qemu_argv's "qemu/" cases).
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "qmp.h"

struct rq {
	pid_t pid;
	struct qmp *q;
	char *log; /* QEMU's stderr, as a file */
};

/*
 * Start argv (argv[0] found in PATH) with "-S" appended, its stderr in logpath, TZ=tz when
 * tz is not NULL, and wait until its QMP socket at qmp_sock answers. 0 when it does; when QEMU
 * exits first or never answers, -errno and *ret_stderr (malloc'd) says what QEMU said.
 */
int rq_start(char *const argv[], const char *qmp_sock, const char *logpath, const char *tz,
	     struct rq *ret, char **ret_stderr);
/* Run argv with "-S" to its exit (at most timeout_ms, then killed): its exit status and stderr. */
int rq_run_to_exit(char *const argv[], const char *logpath, unsigned timeout_ms, char **ret_stderr);
/* The command's "return"; fails the test on an error reply. */
json_object *rq_query(struct rq *r, const char *cmd, json_object *args);
/* qom-get PATH PROPERTY; fails the test on an error reply. */
json_object *rq_qom_get(struct rq *r, const char *path, const char *prop);
/* quit, then reap (killed after 5 s); frees everything. */
void rq_stop(struct rq *r);

/* The first regular file matching a glob, or NULL; malloc'd. */
char *rq_first_file(const char *pattern);
/* PATH has an executable named name. */
bool rq_have_program(const char *name);
/* Every PCI device QEMU reports (query-pci, recursively through bridges), as "vvvv:dddd". */
size_t rq_pci_ids(struct rq *r, char ids[][10], size_t cap);
