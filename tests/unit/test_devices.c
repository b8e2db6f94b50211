/* SPDX-License-Identifier: MIT */
/* The device model on a fake two-GPU host: functions, groups, roles, nodes, holders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devnodes.h"
#include "fakesys.h"
#include "gpu.h"
#include "holders.h"
#include "iommu.h"
#include "pcidev.h"
#include "util.h"

struct fx {
	char *root;
	struct sysroot *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->root = fake_root_new();
	fake_lab_host(f->root);
	*state = f;
	return 0;
}

static int open_root(struct fx *f)
{
	return sysroot_open(f->root, &f->s);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sysroot_free(f->s);
	fake_root_free(f->root);
	free(f);
	return 0;
}

static void test_function(void **state)
{
	struct fx *fx = *state;
	struct pci_function f;
	struct pci_names *names;
	struct pci_addr a;

	assert_int_equal(open_root(fx), 0);
	assert_int_equal(pci_addr_parse("01:00.0", &a), 0);
	assert_int_equal(pci_function_read(fx->s, &a, &f), 0);
	assert_string_equal(f.name, "0000:01:00.0");
	assert_int_equal(f.vendor, 0x1234);
	assert_int_equal(f.device, 0x1111);
	assert_int_equal(f.class_code, 0x038000);
	assert_string_equal(f.driver, "bochs-drm");
	assert_string_equal(f.driver_override, "");
	assert_int_equal(f.iommu_group, 2);
	assert_int_equal(f.boot_vga, 0);
	assert_string_equal(f.reset_method, "bus");
	assert_string_equal(f.parent, "0000:00:01.0");
	assert_string_equal(f.devpath, "devices/pci0000:00/0000:00:01.0/0000:01:00.0");
	assert_int_equal(pci_names_open(fx->s, &names), 0);
	pci_names_fill(names, &f);
	assert_string_equal(f.vendor_name, "Technical Corp.");
	assert_string_equal(f.device_name, "Emulated VGA Display Controller");
	assert_string_equal(f.class_name, "Display controller");
	pci_names_free(names);
	assert_int_equal(pci_addr_parse("05:00.0", &a), 0);
	assert_int_equal(pci_function_read(fx->s, &a, &f), -ENOENT);
}

static void test_list_skips_hostile(void **state)
{
	struct fx *fx = *state;
	struct pci_function *v;
	char big[5000];
	size_t n;

	/* A device link out of /sys, an oversized attribute, and a group link to a non-number. */
	fake_symlink(fx->root, "sys/bus/pci/devices/0000:00:09.0", "../../../../../etc");
	fake_add_dev(fx->root, &(struct fake_dev){ "0000:00:0a.0", NULL, 1, 2, 0x030000, NULL, -1, -1, NULL });
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fake_write(fx->root, "sys/devices/pci0000:00/0000:00:0a.0/vendor", big);
	fake_add_dev(fx->root, &(struct fake_dev){ "0000:00:0b.0", NULL, 1, 2, 0x030000, NULL, -1, -1, NULL });
	fake_symlink(fx->root, "sys/devices/pci0000:00/0000:00:0b.0/iommu_group", "../../../etc/passwd");
	fake_symlink(fx->root, "sys/bus/pci/devices/not-an-address", "../../../devices");
	assert_int_equal(open_root(fx), 0);
	assert_int_equal(pci_function_list(fx->s, &v, &n, NULL), 0);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].name, "0000:00:01.0");
	assert_string_equal(v[1].name, "0000:00:02.0");
	assert_string_equal(v[2].name, "0000:00:03.0");
	assert_string_equal(v[3].name, "0000:01:00.0");
	assert_string_equal(v[4].name, "0000:01:00.1");
	free(v);
}

static void test_group_roles(void **state)
{
	struct fx *fx = *state;
	struct iommu_group g;
	struct pci_function gpu;
	struct pci_addr a;

	/* A NIC on the same bus as the GPU but another slot joins group 2: it is not the GPU's. */
	fake_add_dev(fx->root, &(struct fake_dev){ "0000:01:01.0", "0000:00:01.0", 0x8086, 0x10d3,
						   0x020000, "e1000e", 2, -1, NULL });
	/* An audio device in another slot is the board's, not the GPU's. */
	fake_add_dev(fx->root, &(struct fake_dev){ "0000:01:02.0", "0000:00:01.0", 0x8086, 0x293e,
						   0x040300, "snd_hda_intel", 2, -1, NULL });
	assert_int_equal(open_root(fx), 0);
	assert_int_equal(pci_addr_parse("0000:01:00.0", &a), 0);
	assert_int_equal(pci_function_read(fx->s, &a, &gpu), 0);
	assert_int_equal(iommu_group_read(fx->s, 2, &g), 0);
	assert_int_equal(g.n_members, 5);
	assert_int_equal(g.n_non_pci, 0);
	assert_string_equal(g.members[0].name, "0000:00:01.0");
	assert_int_equal(group_role_of(&gpu, &g.members[0]), ROLE_BRIDGE);
	assert_int_equal(group_role_of(&gpu, &g.members[1]), ROLE_GPU);
	assert_int_equal(group_role_of(&gpu, &g.members[2]), ROLE_GPU_AUDIO);
	assert_string_equal(g.members[3].name, "0000:01:01.0");
	assert_int_equal(group_role_of(&gpu, &g.members[3]), ROLE_OTHER);
	assert_int_equal(group_role_of(&gpu, &g.members[4]), ROLE_OTHER);
	iommu_group_clear(&g);
	assert_int_equal(iommu_group_read(fx->s, 77, &g), -ENOENT);
}

static void test_group_forged_member(void **state)
{
	struct fx *fx = *state;
	struct iommu_group g;

	/* Group 1's directory claims the NIC, whose own link says group 3: not trusted. */
	fake_symlink(fx->root, "sys/kernel/iommu_groups/1/devices/0000:00:03.0",
		     "../../../../devices/pci0000:00/0000:00:03.0");
	fake_symlink(fx->root, "sys/kernel/iommu_groups/1/devices/platform-thing", "../../../../devices");
	assert_int_equal(open_root(fx), 0);
	assert_int_equal(iommu_group_read(fx->s, 1, &g), 0);
	assert_int_equal(g.n_members, 1);
	assert_string_equal(g.members[0].name, "0000:00:02.0");
	assert_int_equal(g.n_non_pci, 2);
	iommu_group_clear(&g);
}

static void test_nodes(void **state)
{
	struct fx *fx = *state;
	struct devnode_set set = { 0 };
	struct pci_function f;
	struct pci_addr a;
	static const char *const want[] = { "/dev/dri/card1", "/dev/dri/controlD65",
					    "/dev/dri/renderD129", "/dev/i2c-4",
					    "/dev/fb1", "/dev/snd/controlC0", "/dev/snd/pcmC0D3p",
					    "/dev/snd/hwC0D0" };

	fake_add_devchild(fx->root, "0000:01:00.0", "drm/controlD65");  /* legacy, before 6.8 */
	fake_add_devchild(fx->root, "0000:01:00.0", "drm/cardX");       /* not a card name */
	fake_add_devchild(fx->root, "0000:01:00.1", "sound/card0/timer"); /* not a card node */
	assert_int_equal(open_root(fx), 0);
	for (int fn = 0; fn < 2; fn++) {
		assert_int_equal(pci_addr_parse(fn ? "01:00.1" : "01:00.0", &a), 0);
		assert_int_equal(pci_function_read(fx->s, &a, &f), 0);
		assert_int_equal(devnodes_collect(fx->s, &f, &set), 0);
	}
	assert_int_equal(set.n, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		bool found = false;

		for (size_t j = 0; j < set.n; j++)
			found |= streq(set.v[j].path, want[i]);
		if (!found)
			fail_msg("node %s not found", want[i]);
	}
	devnode_set_clear(&set);
}

static void test_holders(void **state)
{
	struct fx *fx = *state;
	struct gpu_snapshot snap;
	const struct holder *xorg = NULL, *pw = NULL;

	fake_add_proc(fx->root, 100, "Xorg", 0, "0::/system.slice/display-manager.service\n",
		      (const char *const[]){ "/dev/null", "/dev/dri/card1", "/dev/dri/card0", NULL });
	fake_add_proc(fx->root, 200, "pipewire", 1000,
		      "0::/user.slice/user-1000.slice/user@1000.service/session.slice/pipewire.service\n",
		      (const char *const[]){ "/dev/snd/pcmC0D3p", "socket:[123]", NULL });
	fake_add_proc(fx->root, 300, "kwin", 1000, "0::/user.slice/user-1000.slice/session-2.scope\n",
		      (const char *const[]){ "/dev/dri/card0", NULL });
	fake_add_proc(fx->root, 400, "crafted", 1000, "", (const char *const[]){ "/dev/dri/card1/../card0", NULL });
	assert_int_equal(open_root(fx), 0);
	assert_int_equal(gpu_snapshot_all(fx->s, NULL, &snap), 0);
	assert_int_equal(snap.n_gpus, 2);
	assert_string_equal(snap.gpus[0].gpu.name, "0000:00:02.0");
	assert_string_equal(snap.gpus[1].gpu.name, "0000:01:00.0");
	/* card0 belongs to the virtio GPU, which is listed too: kwin and Xorg hold it. */
	for (size_t i = 0; i < snap.holders.n; i++) {
		const struct holder *h = &snap.holders.v[i];

		if (h->pid == 100 && streq(h->node, "/dev/dri/card1"))
			xorg = h;
		if (h->pid == 200)
			pw = h;
		assert_int_not_equal(h->pid, 400);
	}
	if (!xorg || !pw) {
		fail_msg("holders missing: Xorg %p, pipewire %p", (const void *)xorg, (const void *)pw);
		return;
	}
	assert_string_equal(xorg->comm, "Xorg");
	assert_string_equal(xorg->user, "root");
	assert_string_equal(xorg->unit, "display-manager.service");
	assert_string_equal(xorg->function, "0000:01:00.0");
	assert_int_equal(xorg->kind, NODE_DRM_CARD);
	assert_string_equal(pw->user, "alice");
	assert_string_equal(pw->unit, "pipewire.service");
	assert_string_equal(pw->function, "0000:01:00.1");
	assert_int_equal(pw->kind, NODE_SND);
	assert_int_equal(snap.holders.n, 4); /* Xorg x2, pipewire, kwin */
	gpu_snapshot_clear(&snap);
}

/* path of a file in the tree */
static char *in_root(const struct fx *fx, const char *rel)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", fx->root, rel) > 0);
	return p;
}

/* The one holder of node, or NULL. */
static const struct holder *holder_of(const struct holder_set *hs, pid_t pid, const char *node)
{
	for (size_t i = 0; i < hs->n; i++)
		if (hs->v[i].pid == pid && streq(hs->v[i].node, node))
			return &hs->v[i];
	return NULL;
}

/*
 * Every kind of node of the card, held by one process each, is found: render nodes, the
 * legacy control node, the framebuffer, the DDC bus, the HDMI audio's control node. And by
 * what a node is, not its name: another name for the same node (a hard link standing for a
 * mknod alias or a bind mount elsewhere), a mapping kept after the fd was closed.
 */
static void test_holders_every_node(void **state)
{
	static const char *const nodes[] = { "/dev/dri/renderD129", "/dev/dri/controlD65",
					     "/dev/fb1", "/dev/i2c-4", "/dev/snd/controlC0" };
	struct fx *fx = *state;
	struct gpu_snapshot snap;
	const struct holder *h;
	char *card = in_root(fx, "dev/dri/card1"), *alias = in_root(fx, "tmp/alias"), maps[512];
	struct stat st;

	fake_add_devchild(fx->root, "0000:01:00.0", "drm/controlD65");
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++)
		fake_add_proc(fx->root, 500 + (int)i, "client", 1000, "", (const char *const[]){ nodes[i], NULL });
	/* The card under another name, held by pid 600 through that name only. */
	fake_mkdir(fx->root, "tmp");
	assert_int_equal(link(card, alias), 0);
	fake_add_proc(fx->root, 600, "aliased", 1000, "", (const char *const[]){ alias, NULL });
	/* pid 700 has no fd of the card left, only a mapping of it. */
	assert_int_equal(stat(card, &st), 0);
	fake_add_proc(fx->root, 700, "mapper", 1000, "", NULL);
	snprintf(maps, sizeof(maps), "7f0000000000-7f0000001000 rw-s 00000000 %02x:%02x %lu /dev/dri/card1\n"
		 "7f0000002000-7f0000003000 r--p 00000000 00:00 0 [anon]\n", major(st.st_dev),
		 minor(st.st_dev), (unsigned long)st.st_ino);
	fake_write(fx->root, "proc/700/maps", maps);
	assert_int_equal(open_root(fx), 0);
	assert_int_equal(gpu_snapshot_all(fx->s, NULL, &snap), 0);
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++)
		if (!holder_of(&snap.holders, 500 + (pid_t)i, nodes[i]))
			fail_msg("the holder of %s was not found", nodes[i]);
	h = holder_of(&snap.holders, 600, "/dev/dri/card1");
	assert_non_null(h);
	assert_non_null(strstr(h->via, "/tmp/alias (fd 3)"));
	h = holder_of(&snap.holders, 700, "/dev/dri/card1");
	assert_non_null(h);
	assert_string_equal(h->via, "a memory mapping");
	assert_int_equal(snap.holders.n, ARRAY_SIZE(nodes) + 2);
	gpu_snapshot_clear(&snap);
	free(card);
	free(alias);
}

/* A holder's name is another user's to choose: escape sequences come out as text. */
static void test_holder_escaped(void **state)
{
	struct fx *fx = *state;
	struct gpu_snapshot snap;
	char buf[256];

	fake_add_proc(fx->root, 800, "\x1b]2;owned\a\x1b[2J", 1000, "0::/user.slice/x\x1b[31m.service\n",
		      (const char *const[]){ "/dev/dri/card1", NULL });
	assert_int_equal(open_root(fx), 0);
	assert_int_equal(gpu_snapshot_all(fx->s, NULL, &snap), 0);
	assert_int_equal(snap.holders.n, 1);
	assert_string_equal(snap.holders.v[0].comm, "\\x1b]2;owned\\x07\\x1b[2J");
	assert_string_equal(snap.holders.v[0].unit, "x\\x1b[31m.service");
	holder_describe(&snap.holders.v[0], buf, sizeof(buf));
	assert_null(strchr(buf, '\x1b'));
	gpu_snapshot_clear(&snap);
}

static void test_cgroup_unit(void **state)
{
	char buf[64];

	(void)state;
	cgroup_unit("0::/system.slice/sddm.service\n", buf, sizeof(buf));
	assert_string_equal(buf, "sddm.service");
	cgroup_unit("0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-steam.scope\n",
		    buf, sizeof(buf));
	assert_string_equal(buf, "app-steam.scope");
	cgroup_unit("12:cpu:/\n1:name=systemd:/system.slice/nvidia-persistenced.service\n", buf,
		    sizeof(buf));
	assert_string_equal(buf, "nvidia-persistenced.service");
	cgroup_unit("0::/\n", buf, sizeof(buf));
	assert_string_equal(buf, "");
	cgroup_unit("", buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* Only a system service counts as one: a user's unit of the same name does not. */
	static const struct { const char *cgroup, *want; } sys[] = {
		{ "0::/system.slice/nvidia-persistenced.service\n", "nvidia-persistenced.service" },
		{ "1:name=systemd:/system.slice/nvidia-persistenced.service\n", "nvidia-persistenced.service" },
		{ "0::/system.slice/foo.service/payload\n", "foo.service" },
		{ "0::/user.slice/user-1000.slice/user@1000.service/app.slice/nvidia-persistenced.service\n", "" },
		{ "0::/user.slice/system.slice/nvidia-persistenced.service\n", "" },
		{ "0::/system.slice/app.scope\n", "" },
		{ "0::/system.slice/\n", "" },
		{ "0::/system.slice/.service\n", "" },
		{ "0::/\n", "" },
		{ "", "" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(sys); i++) {
		cgroup_system_unit(sys[i].cgroup, buf, sizeof(buf));
		if (strcmp(buf, sys[i].want) != 0)
			fail_msg("%s: got '%s', want '%s'", sys[i].cgroup, buf, sys[i].want);
	}
}

static void test_iommu_info(void **state)
{
	struct fx *fx = *state;
	struct iommu_info info;

	assert_int_equal(open_root(fx), 0);
	assert_int_equal(iommu_info_read(fx->s, &info), 0);
	assert_true(info.active);
	assert_int_equal(info.n_groups, 3);
	assert_string_equal(info.vendor, "intel");
	assert_int_equal(info.irq_remap, 1);
	assert_true(info.passthrough);
	assert_true(info.cpu_virt);
	assert_string_equal(info.cpu_vendor, "intel");
}

static void test_iommu_off(void **state)
{
	char *root = fake_root_new();
	struct sysroot *s;
	struct iommu_info info;

	(void)state;
	fake_write(root, "proc/cpuinfo", "vendor_id\t: AuthenticAMD\nflags\t\t: fpu svmx\n");
	fake_write(root, "proc/interrupts", "  0:  10  IO-APIC  2-edge  timer\n");
	fake_mkdir(root, "sys/kernel/iommu_groups");
	assert_int_equal(sysroot_open(root, &s), 0);
	assert_int_equal(iommu_info_read(s, &info), 0);
	assert_false(info.active);
	assert_int_equal(info.irq_remap, 0);
	assert_false(info.cpu_virt); /* "svmx" is not "svm" */
	assert_string_equal(info.cpu_vendor, "amd");
	sysroot_free(s);
	fake_root_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_function, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_skips_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_roles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_forged_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holders_every_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holder_escaped, setup, teardown),
		cmocka_unit_test(test_cgroup_unit),
		cmocka_unit_test_setup_teardown(test_iommu_info, setup, teardown),
		cmocka_unit_test(test_iommu_off),
	};
	return cmocka_run_group_tests_name("devices", tests, NULL, NULL);
}
