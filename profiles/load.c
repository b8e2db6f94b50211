/* SPDX-License-Identifier: MIT */
/*
 * Loading a VM profile (profile.h): read with libcyaml, validated, defaults applied (profload.h
 * tells how the parts fit together). The schema is documented in profiles/SCHEMA.md; examples
 * live in profiles/examples/.
 */
#include "profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "profload.h"
#include "text.h"

/* ---- entry points ---- */

/* The directory relative paths in the profile are taken from: the profile's own. */
static void set_base_dir(struct load_ctx *c, const char *name)
{
	const char *slash = strrchr(name, '/');
	char cwd[sizeof(c->base_dir)];
	int dirlen = slash ? (int)(slash - name) : 0;

	if (name[0] == '/') {
		(void)snprintf(c->base_dir, sizeof(c->base_dir), "%.*s", dirlen ? dirlen : 1, name);
		return;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		copy_str(cwd, sizeof(cwd), ".");
	/* Longer than PATH_MAX cannot be opened anyway: cut, as for any message. */
	if (slash)
		(void)text_format(c->base_dir, sizeof(c->base_dir), "%s%s%.*s", cwd,
				  streq(cwd, "/") ? "" : "/", dirlen, name);
	else
		copy_str(c->base_dir, sizeof(c->base_dir), cwd);
	/* "./x.yaml" and "a/./b/x.yaml": no "." components in the paths made from it. */
	for (char *dot; (dot = strstr(c->base_dir, "/./"));)
		memmove(dot, dot + 2, strlen(dot + 2) + 1);
	size_t n = strlen(c->base_dir);

	if (n > 2 && streq(c->base_dir + n - 2, "/."))
		c->base_dir[n - 2] = '\0';
}

static int load(struct load_ctx *c, const char *data, size_t len, struct vm_profile **ret)
{
	const cyaml_config_t config = {
		.log_fn = schema_capture, /* never cyaml_log: that one writes to stderr */
		.log_ctx = c,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_WARNING, /* its debug chatter costs a vsnprintf per event */
		.flags = CYAML_CFG_NO_ALIAS,
	};
	struct cy_profile *y = NULL;
	cyaml_err_t e;
	int r;

	if (len > PROFILE_MAX_SIZE) {
		(void)pfail(c, 0, "", "larger than the %d KiB a profile may have",
			   PROFILE_MAX_SIZE / 1024);
		return -EFBIG;
	}
	r = posindex_build(c, data, len);
	if (r < 0)
		return r;
	e = cyaml_load_data((const uint8_t *)data, len, &config, &profile_schema,
			    (cyaml_data_t **)&y, NULL);
	if (e != CYAML_OK) {
		r = schema_fail(c, e);
		(void)cyaml_free(&config, &profile_schema, y, 0);
		return r;
	}
	r = convert_profile(c, y, ret);
	(void)cyaml_free(&config, &profile_schema, y, 0);
	if (r == 0) {
		/* The positions stay with the profile, for profile_line(). */
		(*ret)->positions = malloc(sizeof(*(*ret)->positions));
		if (!(*ret)->positions) {
			profile_free(*ret);
			return pfail_errno(c, -ENOMEM);
		}
		*(*ret)->positions = c->idx;
		c->idx = (struct pos_index){ 0 };
	}
	return r;
}

unsigned profile_line(const struct vm_profile *p, const char *key)
{
	struct load_ctx c = { 0 };

	if (!p || !p->positions)
		return 0;
	c.idx = *p->positions;
	return posindex_line(&c, key, true);
}

int profile_load_buffer(const char *name, const char *data, size_t len, struct vm_profile **ret,
			struct profile_error *err)
{
	struct load_ctx c = { .name = name ? name : "<profile>" };
	struct vm_profile *p = NULL;
	int r;

	copy_str(c.err.file, sizeof(c.err.file), c.name);
	set_base_dir(&c, c.name);
	if (!data && len > 0)
		r = pfail_errno(&c, -EINVAL);
	else
		r = load(&c, data ? data : "", len, &p);
	posindex_free(&c.idx);
	if (r < 0) {
		if (err)
			*err = c.err;
		return r;
	}
	*ret = p;
	return 0;
}

int profile_load(const char *path, struct vm_profile **ret, struct profile_error *err)
{
	struct load_ctx c = { .name = path ? path : "<profile>" };
	_cleanup_free_ char *data = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	copy_str(c.err.file, sizeof(c.err.file), c.name);
	if (!path)
		r = -EINVAL;
	else
		r = read_file_at(AT_FDCWD, path, PROFILE_MAX_SIZE, 0, &data, &len, &st);
	if (r == 0 && S_ISDIR(st.st_mode))
		r = -EISDIR;
	if (r == -EFBIG) {
		(void)pfail(&c, 0, "", "larger than the %d KiB a profile may have",
			   PROFILE_MAX_SIZE / 1024);
	} else if (r < 0) {
		(void)pfail_errno(&c, r);
	}
	if (r < 0) {
		if (err)
			*err = c.err;
		return r;
	}
	return profile_load_buffer(path, data, len, ret, err);
}
