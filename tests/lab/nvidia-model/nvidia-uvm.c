// SPDX-License-Identifier: MIT OR GPL-2.0
/*
 * nvidia-uvm.ko, the model: /dev/nvidia-uvm (a major of its own, as the real one's), which a
 * CUDA process keeps open. An open /dev/nvidia-uvm pins this module, which depends on nvidia, so
 * `modprobe -r nvidia` fails while CUDA runs; it holds no GPU by itself (a CUDA context also
 * opens /dev/nvidiaN, which does).
 */
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/module.h>

#include "nvmodel.h"

static int uvm_major;

static const struct file_operations uvm_fops = {
	.owner = THIS_MODULE,
	.llseek = noop_llseek,
};

static int __init uvm_init(void)
{
	struct device *d;

	uvm_major = register_chrdev(0, "nvidia-uvm", &uvm_fops);
	if (uvm_major < 0)
		return uvm_major;
	d = device_create(nvm_class(), NULL, MKDEV(uvm_major, 0), NULL, "nvidia-uvm");
	if (IS_ERR(d)) {
		unregister_chrdev(uvm_major, "nvidia-uvm");
		return PTR_ERR(d);
	}
	return 0;
}

static void __exit uvm_exit(void)
{
	device_destroy(nvm_class(), MKDEV(uvm_major, 0));
	unregister_chrdev(uvm_major, "nvidia-uvm");
}

module_init(uvm_init);
module_exit(uvm_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("A model of NVIDIA's nvidia-uvm.ko for the vmrun lab (not NVIDIA's driver)");
