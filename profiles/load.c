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

int pfail(struct load_ctx *c, unsigned line, const char *key, const char *fmt, ...)
{
	va_list ap;

	c->err.line = line;
	copy_str(c->err.key, sizeof(c->err.key), key);
	va_start(ap, fmt);
	(void)vsnprintf(c->err.message, sizeof(c->err.message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int pfail_errno(struct load_ctx *c, int r)
{
	c->err.line = 0;
	c->err.key[0] = '\0';
	copy_str(c->err.message, sizeof(c->err.message), strerror(-r));
	return r;
}

/* User text inside a message: shortened, and never a control character that could fool a terminal. */
const char *pquote(const char *s, char *buf, size_t cap)
{
	size_t o = 0, max = cap < 52 ? cap - 4 : 48;

	buf[o++] = '"';
	for (; *s && o < max; s++)
		buf[o++] = (*s >= 0x20 && *s != 0x7f) ? *s : '?';
	if (*s) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

const char *profile_error_format(const struct profile_error *e, char *buf, size_t cap)
{
	char line[16] = "";

	if (!buf || cap == 0)
		return buf;
	if (e->line > 0)
		(void)snprintf(line, sizeof(line), ":%u", e->line);
	(void)snprintf(buf, cap, "%s%s: %s%s%s", e->file[0] ? e->file : "<profile>", line, e->key,
		       e->key[0] ? ": " : "", e->message);
	return buf;
}

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
		.log_fn = cyaml_capture, /* never cyaml_log: that one writes to stderr */
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
	r = index_build(c, data, len);
	if (r < 0)
		return r;
	e = cyaml_load_data((const uint8_t *)data, len, &config, &profile_schema,
			    (cyaml_data_t **)&y, NULL);
	if (e != CYAML_OK) {
		r = cyaml_fail(c, e);
		(void)cyaml_free(&config, &profile_schema, y, 0);
		return r;
	}
	r = convert(c, y, ret);
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
	return line_of(&c, key, true);
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
	index_free(&c.idx);
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

void profile_free(struct vm_profile *p)
{
	if (!p)
		return;
	free(p->source);
	free(p->name);
	free(p->machine);
	free(p->cpu.model);
	free(p->cpu.pin);
	free(p->cpu.emulator);
	free(p->input.keyboard);
	free(p->input.mouse);
	free(p->firmware.code);
	free(p->firmware.vars);
	free(p->hyperv_vendor_id);
	for (size_t i = 0; i < p->n_disks; i++) {
		free(p->disks[i].path);
		free(p->disks[i].device);
		free(p->disks[i].format);
	}
	free(p->disks);
	free(p->usb);
	for (size_t i = 0; i < p->n_pci; i++)
		free(p->pci[i].rom);
	free(p->pci);
	free(p->network.bridge);
	free(p->network.mac);
	free(p->network.model);
	free(p->boot.kernel);
	free(p->boot.initrd);
	free(p->boot.cmdline);
	strv_free(p->extra_args);
	strv_free(p->install.media);
	if (p->positions) {
		index_free(p->positions);
		free(p->positions);
	}
	free(p);
}
