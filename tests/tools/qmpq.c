/* SPDX-License-Identifier: MIT */
/*
 * qmpq SOCKET COMMAND [ARGUMENTS-JSON]: one QMP command on a VM's control socket (vmrun's
 * runtime directory has control.sock for it), its "return" printed as one line of JSON. For
 * tests that ask the real QEMU what vmrun built (tests/vm). Exit 1 with QEMU's error.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "qmp.h"

int main(int argc, char **argv)
{
	json_object *args = NULL, *ret = NULL;
	struct qmp *q = NULL;
	char err[1024] = "";
	int r;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: qmpq SOCKET COMMAND [ARGUMENTS-JSON]\n");
		return 2;
	}
	if (argc == 4 && !(args = json_tokener_parse(argv[3]))) {
		fprintf(stderr, "qmpq: arguments are not JSON: %s\n", argv[3]);
		return 2;
	}
	r = qmp_connect(argv[1], 10000, &q);
	if (r < 0) {
		fprintf(stderr, "qmpq: cannot connect to %s (%d)\n", argv[1], r);
		json_object_put(args);
		return 1;
	}
	r = qmp_execute(q, argv[2], args, 10000, &ret, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "qmpq: %s: %s\n", argv[2], err[0] ? err : "failed");
	else
		printf("%s\n", ret ? json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN) : "{}");
	json_object_put(ret);
	qmp_close(q);
	return r < 0;
}
