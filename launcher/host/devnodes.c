/* SPDX-License-Identifier: MIT */
#include "devnodes.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "names.h"
#include "util.h"

/* Add dir + name (e.g. "/dev/dri/" + "card1"); names were checked to be short and plain. */
static int set_add(struct devnode_set *set, const struct pci_function *f, enum node_kind kind,
		   bool shared, const char *dir, const char *name)
{
	char path[sizeof(set->v[0].path)];
	struct devnode *nv;
	int n;

	n = snprintf(path, sizeof(path), "%s%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	for (size_t i = 0; i < set->n; i++)
		if (streq(set->v[i].path, path))
			return 0; /* shared nodes appear once */
	nv = reallocarray(set->v, set->n + 1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	set->v = nv;
	nv = &set->v[set->n];
	memset(nv, 0, sizeof(*nv));
	memcpy(nv->path, path, sizeof(path));
	snprintf(nv->function, sizeof(nv->function), "%s", f->name);
	nv->kind = kind;
	nv->shared = shared;
	set->n++;
	return 0;
}

/* "prefix" followed by one or more digits and, optionally, only chars from `tail`. */
static bool name_matches(const char *name, const char *prefix, const char *tail)
{
	size_t n = strlen(prefix);
	const char *p = name + n;

	if (strncmp(name, prefix, n) != 0 || !isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return strspn(p, tail) == strlen(p) && strlen(name) < 32;
}

typedef int (*entry_fn)(const struct sysroot *s, const struct pci_function *f, int dfd,
			const char *name, struct devnode_set *set);

static int for_each_entry(const struct sysroot *s, const struct pci_function *f, const char *sub,
			  entry_fn fn, struct devnode_set *set)
{
	char path[384];
	struct dirent *de;
	int r = 0;
	DIR *d;

	if (s->sys_fd < 0)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "bus/pci/devices/%s%s%s", f->name, *sub ? "/" : "",
			     sub) >= sizeof(path))
		return 0;
	r = opendir_at(s->sys_fd, path, &d);
	if (r < 0)
		return r == -ENOENT || r == -ENOTDIR ? 0 : r;
	while (r >= 0 && (de = readdir(d)))
		if (de->d_name[0] != '.')
			r = fn(s, f, dirfd(d), de->d_name, set);
	closedir(d);
	return r;
}

static int i2c_entry(const struct sysroot *s, const struct pci_function *f, int dfd,
		     const char *name, struct devnode_set *set)
{
	char target[64];

	if (name_matches(name, "i2c-", ""))
		return set_add(set, f, NODE_I2C, false, "/dev/", name);
	/* A connector's "ddc" link names its I2C bus. */
	if (streq(name, "ddc") && read_link_name_at(dfd, name, target, sizeof(target)) == 0 &&
	    name_matches(target, "i2c-", ""))
		return set_add(set, f, NODE_I2C, false, "/dev/", target);
	return 0;
}

static int drm_entry(const struct sysroot *s, const struct pci_function *f, int dfd,
		     const char *name, struct devnode_set *set)
{
	if (name_matches(name, "renderD", ""))
		return set_add(set, f, NODE_DRM_RENDER, false, "/dev/dri/", name);
	/* controlD* is the legacy control node older kernels (before 6.8) still create. */
	if (name_matches(name, "card", "") || name_matches(name, "controlD", ""))
		return set_add(set, f, NODE_DRM_CARD, false, "/dev/dri/", name);
	return 0;
}

/* Each connector may carry its DDC bus: drm/cardN/cardN-DP-1/{i2c-M,ddc}. */
static int connector_i2c(const struct sysroot *s, const struct pci_function *f, const char *card,
			 struct devnode_set *set)
{
	char sub[160], path[300];
	struct dirent *de;
	int r = 0;
	DIR *d;

	snprintf(sub, sizeof(sub), "bus/pci/devices/%s/drm/%s", f->name, card);
	if (opendir_at(s->sys_fd, sub, &d) < 0)
		return 0;
	while (r >= 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, card, strlen(card)) != 0 || de->d_name[strlen(card)] != '-' ||
		    !name_is_safe(de->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "drm/%s/%s", card, de->d_name) >= sizeof(path))
			continue;
		r = for_each_entry(s, f, path, i2c_entry, set);
	}
	closedir(d);
	return r;
}

static int snd_card_entry(const struct sysroot *s, const struct pci_function *f, int dfd,
			  const char *name, struct devnode_set *set)
{
	if (name_matches(name, "controlC", "") || name_matches(name, "hwC", "D0123456789") ||
	    name_matches(name, "pcmC", "D0123456789pc") || name_matches(name, "midiC", "D0123456789"))
		return set_add(set, f, NODE_SND, false, "/dev/snd/", name);
	return 0;
}

static int snd_entry(const struct sysroot *s, const struct pci_function *f, int dfd,
		     const char *name, struct devnode_set *set)
{
	char sub[64];

	if (!name_matches(name, "card", ""))
		return 0;
	snprintf(sub, sizeof(sub), "sound/%s", name);
	return for_each_entry(s, f, sub, snd_card_entry, set);
}

static int fb_entry(const struct sysroot *s, const struct pci_function *f, int dfd,
		    const char *name, struct devnode_set *set)
{
	return name_matches(name, "fb", "") ? set_add(set, f, NODE_FB, false, "/dev/", name) : 0;
}

static int vfio_dev_entry(const struct sysroot *s, const struct pci_function *f, int dfd,
			  const char *name, struct devnode_set *set)
{
	return name_matches(name, "vfio", "") ?
		       set_add(set, f, NODE_VFIO, false, "/dev/vfio/devices/", name) : 0;
}

/* The NVIDIA driver keeps no sysfs class links; its per-GPU minor is in /proc/driver/nvidia. */
static int nvidia_nodes(const struct sysroot *s, const struct pci_function *f,
			struct devnode_set *set)
{
	static const char *const shared[] = { "nvidiactl", "nvidia-modeset", "nvidia-uvm",
					      "nvidia-uvm-tools" };
	_cleanup_free_ char *info = NULL;
	char path[96], minor[16];
	const char *p;
	int r;

	snprintf(path, sizeof(path), "driver/nvidia/gpus/%s/information", f->name);
	if (read_file_at(s->proc_fd, path, 8192, READ_TRUNCATE, &info, NULL, NULL) >= 0 &&
	    (p = strstr(info, "Device Minor:"))) {
		p += strlen("Device Minor:");
		p += strspn(p, " \t");
		snprintf(minor, sizeof(minor), "nvidia%.*s", (int)strspn(p, "0123456789"), p);
		if (name_matches(minor, "nvidia", "")) {
			r = set_add(set, f, NODE_NVIDIA, false, "/dev/", minor);
			if (r < 0)
				return r;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(shared); i++) {
		r = set_add(set, f, NODE_NVIDIA_CTL, true, "/dev/", shared[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int drm_cards_i2c(const struct sysroot *s, const struct pci_function *f,
			 struct devnode_set *set, size_t first)
{
	for (size_t i = first; i < set->n; i++) {
		char card[sizeof(set->v[0].path)];
		int r;

		if (set->v[i].kind != NODE_DRM_CARD || !streq(set->v[i].function, f->name))
			continue;
		/* A copy: adding the connectors' nodes may move set->v. */
		snprintf(card, sizeof(card), "%s", strrchr(set->v[i].path, '/') + 1);
		r = connector_i2c(s, f, card, set);
		if (r < 0)
			return r;
	}
	return 0;
}

int devnodes_collect(const struct sysroot *s, const struct pci_function *f, struct devnode_set *set)
{
	size_t first = set->n;
	int r;

	r = for_each_entry(s, f, "drm", drm_entry, set);
	if (r >= 0)
		r = drm_cards_i2c(s, f, set, first);
	if (r >= 0)
		r = for_each_entry(s, f, "", i2c_entry, set);
	if (r >= 0)
		r = for_each_entry(s, f, "graphics", fb_entry, set);
	if (r >= 0)
		r = for_each_entry(s, f, "sound", snd_entry, set);
	if (r >= 0 && streq(f->driver, "nvidia"))
		r = nvidia_nodes(s, f, set);
	if (r >= 0 && streq(f->driver, "amdgpu"))
		r = set_add(set, f, NODE_KFD, true, "/dev/", "kfd");
	if (r >= 0 && streq(f->driver, "vfio-pci") && f->iommu_group >= 0) {
		char g[16];

		snprintf(g, sizeof(g), "%d", f->iommu_group);
		r = set_add(set, f, NODE_VFIO, false, "/dev/vfio/", g);
		if (r >= 0)
			r = for_each_entry(s, f, "vfio-dev", vfio_dev_entry, set);
	}
	return r;
}

void devnode_set_clear(struct devnode_set *set)
{
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

const char *node_kind_name(enum node_kind k)
{
	static const char *const names[] = {
		[NODE_DRM_CARD] = "drm-card", [NODE_DRM_RENDER] = "drm-render",
		[NODE_FB] = "fbdev",          [NODE_NVIDIA] = "nvidia",
		[NODE_NVIDIA_CTL] = "nvidia-shared", [NODE_KFD] = "kfd",
		[NODE_SND] = "sound",         [NODE_I2C] = "i2c",
		[NODE_VFIO] = "vfio",
	};
	return names[k];
}
