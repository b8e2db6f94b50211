// SPDX-License-Identifier: MIT OR GPL-2.0
/*
 * nvidia-drm.ko, the model: for each GPU nvidia binds, a DRM device (/dev/dri/cardN and
 * renderDN, parented to the GPU's PCI device as the real one's) and, with modeset=1 and
 * fbdev=1 (the defaults since the 560 and 570 series), a framebuffer that fbcon takes over.
 * Each open DRM file and each open of the framebuffer (fbcon's included) is one use of the
 * GPU, so nvidia's unbind waits for them: the "nvidia_drm in use" of the field, with its
 * real causes: a compositor, a process that loaded the vendor's GL, the console.
 */
#include <linux/fb.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_managed.h>

#include "nvmodel.h"

static bool modeset = true;
module_param(modeset, bool, 0400);
MODULE_PARM_DESC(modeset, "kernel modesetting (default on since the 560 series)");
static bool fbdev = true;
module_param(fbdev, bool, 0400);
MODULE_PARM_DESC(fbdev, "a framebuffer console on the GPU, with modeset (default on since 570)");

#define FB_W 640
#define FB_H 480

/* Lives as long as its DRM device (freed by drmm when the last file of it is closed), so a
 * file closed after the GPU went still finds its GPU. */
struct nvdrm_gpu {
	struct nvm_gpu *gpu;
	struct drm_device *drm;
	struct fb_info *fb;
};

/* The framebuffer's own, in its fb_info: a /dev/fbN open past the unbind keeps it. */
struct nvfb_par {
	struct nvm_gpu *gpu;
	u32 palette[16]; /* fbcon's 16 colours, as truecolor pixels */
};

static int nvdrm_open(struct drm_device *dev, struct drm_file *file)
{
	struct nvdrm_gpu *n = dev->dev_private;

	nvkms_gpu_get(n->gpu);
	return 0;
}

static void nvdrm_postclose(struct drm_device *dev, struct drm_file *file)
{
	struct nvdrm_gpu *n = dev->dev_private;

	nvkms_gpu_put(n->gpu);
}

DEFINE_DRM_GEM_FOPS(nvdrm_fops);

static const struct drm_driver nvdrm_driver = {
	.driver_features = DRIVER_GEM | DRIVER_RENDER,
	.open = nvdrm_open,
	.postclose = nvdrm_postclose,
	.fops = &nvdrm_fops,
	.name = "nvidia-drm",
	.desc = "NVIDIA DRM driver (the vmrun lab's model)",
	.date = "20160202",
	.major = 0,
	.minor = 0,
};

/* ---- the framebuffer fbcon takes over ---- */

static int nvfb_open(struct fb_info *info, int user)
{
	nvkms_gpu_get(((struct nvfb_par *)info->par)->gpu);
	return 0;
}

static int nvfb_release(struct fb_info *info, int user)
{
	nvkms_gpu_put(((struct nvfb_par *)info->par)->gpu);
	return 0;
}

/* fbcon draws its 16 colours through the pseudo palette: without one, its first glyph is a
 * NULL dereference with the console lock held. */
static int nvfb_setcolreg(unsigned int regno, unsigned int red, unsigned int green,
			  unsigned int blue, unsigned int transp, struct fb_info *info)
{
	if (regno >= 16)
		return -EINVAL;
	((u32 *)info->pseudo_palette)[regno] = (red >> 8) << 16 | (green >> 8) << 8 | blue >> 8;
	return 0;
}

static void nvfb_destroy(struct fb_info *info)
{
	vfree(info->screen_buffer);
	framebuffer_release(info);
}

static const struct fb_ops nvfb_ops = {
	.owner = THIS_MODULE,
	.fb_open = nvfb_open,
	.fb_release = nvfb_release,
	.fb_setcolreg = nvfb_setcolreg,
	.fb_read = fb_sys_read,
	.fb_write = fb_sys_write,
	.fb_fillrect = sys_fillrect,
	.fb_copyarea = sys_copyarea,
	.fb_imageblit = sys_imageblit,
	.fb_destroy = nvfb_destroy,
};

static int nvfb_add(struct nvdrm_gpu *n, struct pci_dev *pdev)
{
	struct fb_info *info = framebuffer_alloc(sizeof(struct nvfb_par), &pdev->dev);
	size_t size = FB_W * FB_H * 4;
	struct nvfb_par *par;
	int r;

	if (!info)
		return -ENOMEM;
	par = info->par;
	par->gpu = n->gpu;
	info->screen_buffer = vzalloc(size);
	if (!info->screen_buffer) {
		framebuffer_release(info);
		return -ENOMEM;
	}
	info->pseudo_palette = par->palette;
	info->fbops = &nvfb_ops;
	info->flags = FBINFO_VIRTFB;
	strscpy(info->fix.id, "nvidia-drmdrmfb", sizeof(info->fix.id));
	info->fix.type = FB_TYPE_PACKED_PIXELS;
	info->fix.visual = FB_VISUAL_TRUECOLOR;
	info->fix.line_length = FB_W * 4;
	info->fix.smem_len = size;
	info->screen_size = size;
	info->var.xres = info->var.xres_virtual = FB_W;
	info->var.yres = info->var.yres_virtual = FB_H;
	info->var.bits_per_pixel = 32;
	info->var.red = (struct fb_bitfield){ .offset = 16, .length = 8 };
	info->var.green = (struct fb_bitfield){ .offset = 8, .length = 8 };
	info->var.blue = (struct fb_bitfield){ .offset = 0, .length = 8 };
	info->var.activate = FB_ACTIVATE_NOW;
	r = register_framebuffer(info);
	if (r < 0) {
		nvfb_destroy(info);
		return r;
	}
	n->fb = info;
	return 0;
}

/* ---- GPUs as nvidia binds them ---- */

static void nvdrm_free(struct drm_device *drm, void *data)
{
	kfree(data);
}

static int nvdrm_gpu_added(struct nvm_gpu *g)
{
	struct pci_dev *pdev = nvkms_gpu_pdev(g);
	struct nvdrm_gpu *n = kzalloc(sizeof(*n), GFP_KERNEL);
	int r;

	if (!n)
		return -ENOMEM;
	n->gpu = g;
	n->drm = drm_dev_alloc(&nvdrm_driver, &pdev->dev);
	if (IS_ERR(n->drm)) {
		r = PTR_ERR(n->drm);
		kfree(n);
		return r;
	}
	n->drm->dev_private = n;
	r = drmm_add_action_or_reset(n->drm, nvdrm_free, n);
	if (r < 0) {
		drm_dev_put(n->drm);
		return r;
	}
	r = drm_dev_register(n->drm, 0);
	if (r < 0) {
		drm_dev_put(n->drm);
		return r;
	}
	if (modeset && fbdev && nvfb_add(n, pdev) < 0)
		dev_warn(&pdev->dev, "nvidia-drm model: no framebuffer\n");
	nvkms_gpu_set_client_data(g, n);
	return 0;
}

/* The GPU is going (an unbind, or this module's unload): its DRM device is unplugged, so new
 * opens fail; files still open keep their use, and nvidia's remove waits for them. */
static void nvdrm_gpu_removing(struct nvm_gpu *g)
{
	struct nvdrm_gpu *n = nvkms_gpu_client_data(g);

	if (!n)
		return;
	nvkms_gpu_set_client_data(g, NULL);
	if (n->fb)
		unregister_framebuffer(n->fb);
	drm_dev_unplug(n->drm);
	drm_dev_put(n->drm); /* n goes with the device's last reference */
}

static struct nvm_client nvdrm_client = {
	.gpu_added = nvdrm_gpu_added,
	.gpu_removing = nvdrm_gpu_removing,
};

static int __init nvdrm_init(void)
{
	return nvkms_register_client(&nvdrm_client);
}

static void __exit nvdrm_exit(void)
{
	nvkms_unregister_client(&nvdrm_client);
}

module_init(nvdrm_init);
module_exit(nvdrm_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("A model of NVIDIA's nvidia-drm.ko for the vmrun lab (not NVIDIA's driver)");
