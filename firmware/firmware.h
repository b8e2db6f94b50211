/* SPDX-License-Identifier: MIT */
/*
 * OVMF selection from QEMU firmware descriptors (docs/interop/firmware.json), and the VM's own
 * NVRAM (vars) copy.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the profile asks for. */
struct fw_request {
	const char *arch;    /* "x86_64" */
	const char *machine; /* profile machine: "q35" or e.g. "pc-q35-7.2"; matched against globs */
	bool secure_boot;    /* true: secure-boot + enrolled-keys required; false: both refused */
};

/* The chosen firmware. Strings are owned. */
struct fw_choice {
	char *descriptor;    /* descriptor file that matched, NULL for profile overrides */
	char *code;          /* executable image (mapped read-only) */
	char *code_format;   /* "raw" or "qcow2" */
	char *vars_template; /* NVRAM template, never mapped directly */
	char *vars_format;
	bool secure_boot;
	bool enrolled_keys;
	bool requires_smm;
	uint64_t code_size;  /* bytes, from stat */
	uint64_t vars_size;
};

/*
 * Descriptor directories searched relative to root_fd (a struct sysroot's root): 
 * usr/share/qemu/firmware, etc/qemu/firmware, then xdg_config_home/qemu/firmware if xdg_config_home
 * is non-NULL (an absolute host path, opened as given relative to root_fd with leading '/' stripped).
 * Returns 0 and fills ret; -ENOENT when nothing fits (err explains: what was asked, what was seen,
 * and the Debian package to install, "ovmf"); other negative errno on I/O errors.
 */
int fw_select(int root_fd, const char *xdg_config_home, const struct fw_request *req,
	      struct fw_choice *ret, char *err, size_t errlen);

/*
 * Profile overrides code/vars: validate they exist (relative to root_fd), are regular files, and
 * that vars fits code (the 4M code + 128K vars trap loses NVRAM silently). Fills ret.
 * Errors: -ENOENT, -EISDIR, -EINVAL (not a regular file), -EMEDIUMTYPE (raw code + vars do not
 * sum to one 1/2/4 MiB flash, see firmware/README.md); err says which file and why.
 * Features are unknown for overrides: secure_boot/enrolled_keys/requires_smm stay false.
 */
int fw_from_paths(int root_fd, const char *code, const char *vars, struct fw_choice *ret,
		  char *err, size_t errlen);

void fw_choice_clear(struct fw_choice *c);

/*
 * The VM's own vars file: state_dir/<vm_name>_VARS.fd. If it exists (regular, not a symlink) it is
 * kept as is; else it is created from the template with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600,
 * written fully and fsync'd before rename into place. Never overwritten. *ret_created tells which.
 * state_dir_fd is an open directory. ret_name gets the file name (owned).
 * Errors: -EINVAL bad vm_name or destination not a regular file; -ELOOP destination is a symlink;
 * -EMEDIUMTYPE destination exists with a size other than the template's (NVRAM of another
 * flash generation: neither used nor replaced, the user must move it aside); -EEXIST lost a
 * creation race to something that vanished again; I/O errors as negative errno.
 */
int fw_vars_ensure(int state_dir_fd, int root_fd, const char *vm_name, const struct fw_choice *c,
		   char **ret_name, bool *ret_created);

/* File name of the VM's vars copy, without touching anything (for --dry-run). */
int fw_vars_name(const char *vm_name, char **ret_name);

/*
 * Added for tests and the fuzzer (tests/fuzz/fuzz_fwdesc.c): one descriptor, parsed.
 * Only the fields selection uses are kept; strings and arrays are owned.
 */
struct fw_target {
	char *architecture;
	char **machines; /* NULL-terminated globs */
};

struct fw_descriptor {
	char **interface_types; /* NULL-terminated */
	char *device;           /* mapping.device: "flash", "memory", "kernel" */
	char *mode;             /* mapping.mode, NULL when absent (= "split") */
	char *executable;       /* mapping.executable.filename (flash) or mapping.filename */
	char *executable_format;
	char *nvram_template; /* mapping.nvram-template.filename, NULL when absent */
	char *nvram_template_format;
	struct fw_target *targets;
	size_t n_targets;
	char **features; /* NULL-terminated */
};

/* Largest descriptor accepted, in bytes; QEMU's own are under 1 KiB. */
#define FW_DESCRIPTOR_MAX (64 * 1024)

/*
 * Parse one descriptor (len bytes, need not be NUL-terminated). -EBADMSG when it is not JSON,
 * not an object, or a known field has the wrong type; -EFBIG over FW_DESCRIPTOR_MAX. ret is
 * filled only on success; release it with fw_descriptor_clear().
 */
int fw_descriptor_parse(const char *json, size_t len, struct fw_descriptor *ret);
void fw_descriptor_clear(struct fw_descriptor *d);

/*
 * Whether d offers what req asks for (interface, target, mapping, features); files are not
 * looked at. On false, *ret_why (if non-NULL) gets a static reason for debug logs.
 */
bool fw_descriptor_matches(const struct fw_descriptor *d, const struct fw_request *req,
			   const char **ret_why);
