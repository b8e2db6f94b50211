// SPDX-License-Identifier: MIT OR GPL-2.0
/*
 * nvidia-modeset.ko, the model: /dev/nvidia-modeset (major 195, minor 254, whose opens
 * nvidia.ko hands over here), and the layer nvidia_drm reaches the GPUs through, so that the
 * modules stack as the real ones do: nvidia_drm -> nvidia_modeset -> nvidia. An open
 * /dev/nvidia-modeset pins this module (and so nvidia) but no GPU: the real nvkms only holds a
 * GPU once a client allocates a device on it, which X and the compositors do through DRM.
 */
#include <linux/device.h>
#include <linux/module.h>

#include "nvmodel.h"

static int nvkms_open(struct inode *inode, struct file *file)
{
	return 0;
}

static const struct file_operations nvkms_fops = {
	.owner = THIS_MODULE,
	.open = nvkms_open,
	.llseek = noop_llseek,
};

/* What nvidia_drm uses: a module dependency on this one, not on nvidia, as in the real stack. */
int nvkms_register_client(struct nvm_client *c)
{
	return nvm_register_client(c);
}
EXPORT_SYMBOL_GPL(nvkms_register_client);

void nvkms_unregister_client(struct nvm_client *c)
{
	nvm_unregister_client(c);
}
EXPORT_SYMBOL_GPL(nvkms_unregister_client);

void nvkms_gpu_get(struct nvm_gpu *g)
{
	nvm_gpu_get(g);
}
EXPORT_SYMBOL_GPL(nvkms_gpu_get);

void nvkms_gpu_put(struct nvm_gpu *g)
{
	nvm_gpu_put(g);
}
EXPORT_SYMBOL_GPL(nvkms_gpu_put);

struct pci_dev *nvkms_gpu_pdev(struct nvm_gpu *g)
{
	return nvm_gpu_pdev(g);
}
EXPORT_SYMBOL_GPL(nvkms_gpu_pdev);

void nvkms_gpu_set_client_data(struct nvm_gpu *g, void *data)
{
	nvm_gpu_set_client_data(g, data);
}
EXPORT_SYMBOL_GPL(nvkms_gpu_set_client_data);

void *nvkms_gpu_client_data(struct nvm_gpu *g)
{
	return nvm_gpu_client_data(g);
}
EXPORT_SYMBOL_GPL(nvkms_gpu_client_data);

static int __init nvkms_init(void)
{
	struct device *d;

	nvm_register_modeset(&nvkms_fops);
	d = device_create(nvm_class(), NULL, MKDEV(NVM_MAJOR, NVM_MODESET_MINOR), NULL,
			  "nvidia-modeset");
	if (IS_ERR(d)) {
		nvm_unregister_modeset();
		return PTR_ERR(d);
	}
	return 0;
}

static void __exit nvkms_exit(void)
{
	device_destroy(nvm_class(), MKDEV(NVM_MAJOR, NVM_MODESET_MINOR));
	nvm_unregister_modeset();
}

module_init(nvkms_init);
module_exit(nvkms_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("A model of NVIDIA's nvidia-modeset.ko for the vmrun lab (not NVIDIA's driver)");
