/* SPDX-License-Identifier: MIT */
/*
 * The keys for using the host and the VM at once: CPU pinning and isolation, keyboard and mouse
 * through evdev, the guest's screen through Looking Glass, its sound, hugepages.
 */
#include "profload.h"

#include <errno.h>
#include <stdlib.h>

static const char *const toggle_names[] = {
	[VM_TOGGLE_CTRL_CTRL] = "ctrl-ctrl",     [VM_TOGGLE_ALT_ALT] = "alt-alt",
	[VM_TOGGLE_SHIFT_SHIFT] = "shift-shift", [VM_TOGGLE_META_META] = "meta-meta",
	[VM_TOGGLE_SCROLLLOCK] = "scrolllock",   [VM_TOGGLE_CTRL_SCROLLLOCK] = "ctrl-scrolllock",
};
static const char *const hugepages_names[] = { [VM_HUGEPAGES_NONE] = NULL,
					       [VM_HUGEPAGES_2M] = "2M", [VM_HUGEPAGES_1G] = "1G" };

const char *vm_toggle_name(enum vm_toggle t)
{
	return (unsigned)t < ARRAY_SIZE(toggle_names) ? toggle_names[t] : NULL;
}

const char *vm_hugepages_name(enum vm_hugepages h)
{
	return (unsigned)h < ARRAY_SIZE(hugepages_names) ? hugepages_names[h] : NULL;
}

uint64_t vm_hugepage_bytes(enum vm_hugepages h)
{
	return h == VM_HUGEPAGES_2M ? 2ULL << 20 : h == VM_HUGEPAGES_1G ? 1ULL << 30 : 0;
}

uint64_t vm_looking_glass_size(unsigned width, unsigned height, bool hdr)
{
	uint64_t need = (uint64_t)width * height * (hdr ? 8 : 4) * 2 + (10ULL << 20), size = 1;

	while (size < need)
		size <<= 1;
	return size;
}

/* ---- CPU pinning ---- */

static int cpu_list(struct load_ctx *c, const char *key, char **v, unsigned n, unsigned **ret,
		    size_t *ret_n)
{
	unsigned *out;

	if (!n)
		return 0;
	out = calloc(n, sizeof(*out));
	if (!out)
		return pfail_errno(c, -ENOMEM);
	*ret = out;
	*ret_n = n;
	for (unsigned i = 0; i < n; i++) {
		char path[PATH_MAX_LEN];
		int r;

		(void)snprintf(path, sizeof(path), "%s[%u]", key, i);
		r = val_uint(c, path, v[i], 0, 4095, &out[i]);
		if (r < 0)
			return r;
		if (!v[i])
			return pfail(c, posindex_line(c, path, true), path, "expected a host CPU number");
		for (unsigned k = 0; k < i; k++)
			if (out[k] == out[i])
				return pfail(c, posindex_line(c, path, true), path, "CPU %u is already %s[%u]: "
					     "each host CPU once", out[i], key, k);
	}
	return 0;
}

int convert_cpu_pinning(struct load_ctx *c, const struct cy_cpu *y, struct vm_profile *p)
{
	unsigned vcpus = p->cpu.sockets * p->cpu.cores * p->cpu.threads;
	int r;

	if (!y)
		return 0;
	if ((r = cpu_list(c, "cpu.pin", y->pin, y->pin_count, &p->cpu.pin, &p->cpu.n_pin)) < 0 ||
	    (r = cpu_list(c, "cpu.emulator", y->emulator, y->emulator_count, &p->cpu.emulator,
			  &p->cpu.n_emulator)) < 0 ||
	    (r = val_bool(c, "cpu.isolate", y->isolate, &p->cpu.isolate)) < 0)
		return r;
	if (p->cpu.n_pin && p->cpu.n_pin != vcpus)
		return pfail(c, posindex_line(c, "cpu.pin", true), "cpu.pin", "lists %zu host CPUs for %u "
			     "vCPUs (sockets x cores x threads): give one per vCPU", p->cpu.n_pin, vcpus);
	if (p->cpu.n_emulator && !p->cpu.n_pin)
		return pfail(c, posindex_line(c, "cpu.emulator", false), "cpu.emulator", "needs cpu.pin: "
			     "QEMU's other threads go where the vCPUs do not");
	if (p->cpu.isolate && !p->cpu.n_pin)
		return pfail(c, posindex_line(c, "cpu.isolate", true), "cpu.isolate", "needs cpu.pin: what "
			     "is isolated are the vCPUs' CPUs");
	for (size_t i = 0; i < p->cpu.n_emulator; i++)
		for (size_t k = 0; k < p->cpu.n_pin; k++)
			if (p->cpu.emulator[i] == p->cpu.pin[k] && p->cpu.isolate) {
				char key[40];

				snprintf(key, sizeof(key), "cpu.emulator[%zu]", i);
				return pfail(c, posindex_line(c, key, true), key, "CPU %u is a vCPU's "
					     "(cpu.pin[%zu]): with cpu.isolate the emulator threads "
					     "must be elsewhere", p->cpu.pin[k], k);
			}
	return 0;
}

/* ---- input ---- */

static int input_path(struct load_ctx *c, const char *key, const char *v, char **ret)
{
	const char *s;
	int r = val_option_string(c, key, v, &s);

	if (r < 0 || !s)
		return r;
	if (!startswith(s, "/dev/input/"))
		return pfail(c, posindex_line(c, key, true), key, "expected an event device under "
			     "/dev/input/ (best /dev/input/by-id/...-event-kbd, which survives "
			     "re-plugging), got %s", QUOTE(s));
	return val_dup(c, s, ret);
}

int convert_input(struct load_ctx *c, const struct cy_input *y, struct vm_profile *p)
{
	int r;

	if (!y)
		return 0;
	if ((r = input_path(c, "input.keyboard", y->keyboard, &p->input.keyboard)) < 0 ||
	    (r = input_path(c, "input.mouse", y->mouse, &p->input.mouse)) < 0 ||
	    (r = GET_ENUM(c, "input.toggle", y->toggle, toggle_names, &p->input.toggle)) < 0)
		return r;
	if (!p->input.keyboard && !p->input.mouse)
		return pfail(c, posindex_line(c, "input", false), "input", "needs a keyboard or a mouse "
			     "(ls -l /dev/input/by-id)");
	if (y->toggle && !p->input.keyboard)
		return pfail(c, posindex_line(c, "input.toggle", true), "input.toggle", "is pressed on the "
			     "keyboard: give input.keyboard");
	if (p->input.keyboard && p->input.mouse && streq(p->input.keyboard, p->input.mouse))
		return pfail(c, posindex_line(c, "input.mouse", true), "input.mouse", "is the keyboard's "
			     "device: give the mouse's own (...-event-mouse)");
	return 0;
}

/* ---- Looking Glass ---- */

static int lg_resolution(struct load_ctx *c, const char *s, struct vm_looking_glass *lg)
{
	char *x, *end;
	unsigned long w = strtoul(s, &x, 10), h;

	if (x == s || (*x != 'x' && *x != 'X'))
		goto bad;
	h = strtoul(x + 1, &end, 10);
	if (end == x + 1 || *end || w < 320 || h < 200 || w > 16384 || h > 16384)
		goto bad;
	lg->width = (unsigned)w;
	lg->height = (unsigned)h;
	return 0;
bad:
	return pfail(c, posindex_line(c, "looking_glass.resolution", true), "looking_glass.resolution",
		     "expected WIDTHxHEIGHT like 2560x1440 (320x200 to 16384x16384), got %s", QUOTE(s));
}

int convert_looking_glass(struct load_ctx *c, const struct cy_looking_glass *y, struct vm_profile *p)
{
	struct vm_looking_glass *lg = &p->looking_glass;
	const char *res, *size;
	int r;

	if (!y)
		return 0;
	lg->on = true;
	if ((r = val_scalar(c, "looking_glass.resolution", y->resolution, &res)) < 0 ||
	    (r = val_scalar(c, "looking_glass.size", y->size, &size)) < 0 ||
	    (r = val_bool(c, "looking_glass.hdr", y->hdr, &lg->hdr)) < 0)
		return r;
	if (!!res == !!size)
		return pfail(c, posindex_line(c, res ? "looking_glass.size" : "looking_glass", false),
			     res ? "looking_glass.size" : "looking_glass", "give the guest's "
			     "resolution (resolution: 2560x1440), or the size of the shared memory "
			     "(size: 64M): exactly one");
	if (res) {
		if ((r = lg_resolution(c, res, lg)) < 0)
			return r;
		lg->size = vm_looking_glass_size(lg->width, lg->height, lg->hdr);
		return 0;
	}
	if (y->hdr)
		return pfail(c, posindex_line(c, "looking_glass.hdr", true), "looking_glass.hdr",
			     "only with resolution: with size the size is what it is");
	if (val_memory_size(size, &lg->size) < 0 || lg->size < (1ULL << 20) ||
	    lg->size > (1ULL << 31) || (lg->size & (lg->size - 1)))
		return pfail(c, posindex_line(c, "looking_glass.size", true), "looking_glass.size",
			     "expected a power of two from 1M to 2G like 64M (ivshmem needs one), got %s",
			     QUOTE(size));
	return 0;
}

/* ---- audio: true, false, or {input: true} ---- */

int convert_audio(struct load_ctx *c, struct vm_profile *p)
{
	const struct pos_entry *e = posindex_find(&c->idx, "audio"), *in;

	if (!e)
		return 0;
	if (e->kind == POS_SCALAR) {
		if (e->null)
			return pfail(c, e->value_line, "audio", "expected a value, got nothing");
		return val_bool(c, "audio", e->value, &p->audio);
	}
	if (e->kind != POS_MAPPING)
		return pfail(c, e->value_line, "audio", "expected true, false or {input: true}");
	/* The only key: input. */
	for (size_t i = 0; i < c->idx.n; i++) {
		const char *k = c->idx.v[i].path;

		if (startswith(k, "audio.") && !streq(k, "audio.input"))
			return pfail(c, c->idx.v[i].key_line, k, "unknown key; audio takes input");
	}
	p->audio = true;
	in = posindex_find(&c->idx, "audio.input");
	if (in && in->kind != POS_SCALAR)
		return pfail(c, in->value_line, "audio.input", "expected true or false");
	return val_bool(c, "audio.input", in ? in->value : NULL, &p->audio_input);
}

/* ---- hugepages ---- */

int convert_hugepages(struct load_ctx *c, const struct cy_profile *y, struct vm_profile *p)
{
	uint64_t page;
	int r = GET_ENUM(c, "hugepages", y->hugepages, hugepages_names, &p->hugepages);

	if (r < 0)
		return r;
	page = vm_hugepage_bytes(p->hugepages);
	if (page && p->memory % page)
		return pfail(c, posindex_line(c, "hugepages", true), "hugepages", "memory (%llu MiB) is not "
			     "a whole number of %s pages: round it to one",
			     (unsigned long long)(p->memory >> 20), vm_hugepages_name(p->hugepages));
	return 0;
}
