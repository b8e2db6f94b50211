// SPDX-License-Identifier: MIT OR GPL-2.0
/*
 * nvidia.ko, the model: a PCI driver named "nvidia" (it binds only through driver_override:
 * no id table), /dev/nvidiactl and /dev/nvidiaN on major 195, /proc/driver/nvidia/gpus/ADDR/
 * information with the GPU's "Device Minor", and a usage count per GPU. A GPU's remove waits
 * while its count is not zero, printing the real driver's line every five seconds, in an
 * uninterruptible sleep as nv_pci_remove's: the unbind that wrote to sysfs cannot be killed.
 * With hang_forever=1 (the 595 series) a remove that had to wait never finishes, even when the
 * users let go; lab_release=1 ends such a wait, for the lab's own power-off only.
 * Loading it with no GPU to probe fails (ENODEV), as the real one does.
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "nvmodel.h"

static bool hang_forever;
module_param(hang_forever, bool, 0644);
MODULE_PARM_DESC(hang_forever, "a remove that had to wait never finishes (595 and later)");
static bool lab_release;
module_param(lab_release, bool, 0644);
MODULE_PARM_DESC(lab_release, "end every waiting remove now (the lab's power-off; not NVIDIA's)");

struct nvm_gpu {
	struct pci_dev *pdev;
	unsigned int minor;
	atomic_t usage;
	void *client_data;
	struct device *node;
	struct proc_dir_entry *proc;
	struct list_head node_list;
};

static DEFINE_MUTEX(nvm_lock); /* gpus, clients, modeset */
static LIST_HEAD(gpus);
static LIST_HEAD(clients);
static const struct file_operations *modeset_fops;
static struct class *nv_class;
static struct proc_dir_entry *proc_gpus;

struct class *nvm_class(void)
{
	return nv_class;
}
EXPORT_SYMBOL_GPL(nvm_class);

void nvm_gpu_get(struct nvm_gpu *g)
{
	atomic_inc(&g->usage);
}
EXPORT_SYMBOL_GPL(nvm_gpu_get);

void nvm_gpu_put(struct nvm_gpu *g)
{
	atomic_dec(&g->usage);
}
EXPORT_SYMBOL_GPL(nvm_gpu_put);

struct pci_dev *nvm_gpu_pdev(struct nvm_gpu *g)
{
	return g->pdev;
}
EXPORT_SYMBOL_GPL(nvm_gpu_pdev);

void nvm_gpu_set_client_data(struct nvm_gpu *g, void *data)
{
	g->client_data = data;
}
EXPORT_SYMBOL_GPL(nvm_gpu_set_client_data);

void *nvm_gpu_client_data(struct nvm_gpu *g)
{
	return g->client_data;
}
EXPORT_SYMBOL_GPL(nvm_gpu_client_data);

int nvm_register_client(struct nvm_client *c)
{
	struct nvm_gpu *g;

	mutex_lock(&nvm_lock);
	list_add_tail(&c->node, &clients);
	list_for_each_entry(g, &gpus, node_list)
		c->gpu_added(g);
	mutex_unlock(&nvm_lock);
	return 0;
}
EXPORT_SYMBOL_GPL(nvm_register_client);

void nvm_unregister_client(struct nvm_client *c)
{
	struct nvm_gpu *g;

	mutex_lock(&nvm_lock);
	list_for_each_entry(g, &gpus, node_list)
		c->gpu_removing(g);
	list_del(&c->node);
	mutex_unlock(&nvm_lock);
}
EXPORT_SYMBOL_GPL(nvm_unregister_client);

int nvm_register_modeset(const struct file_operations *fops)
{
	mutex_lock(&nvm_lock);
	modeset_fops = fops;
	mutex_unlock(&nvm_lock);
	return 0;
}
EXPORT_SYMBOL_GPL(nvm_register_modeset);

void nvm_unregister_modeset(void)
{
	mutex_lock(&nvm_lock);
	modeset_fops = NULL;
	mutex_unlock(&nvm_lock);
}
EXPORT_SYMBOL_GPL(nvm_unregister_modeset);

/* ---- /dev/nvidia* ---- */

static int nv_gpu_release(struct inode *inode, struct file *file)
{
	nvm_gpu_put(file->private_data);
	return 0;
}

static const struct file_operations nv_gpu_fops = {
	.owner = THIS_MODULE,
	.release = nv_gpu_release,
	.llseek = noop_llseek,
};

static const struct file_operations nv_ctl_fops = {
	.owner = THIS_MODULE,
	.llseek = noop_llseek,
};

/* Minor 254 goes to nvidia_modeset (its module pinned while open); 255 is the control node;
 * the others are GPUs, each open one more use. */
static int nv_open(struct inode *inode, struct file *file)
{
	unsigned int minor = iminor(inode);
	struct nvm_gpu *g;
	int r = -ENODEV;

	mutex_lock(&nvm_lock);
	if (minor == NVM_MODESET_MINOR) {
		const struct file_operations *f = modeset_fops ? fops_get(modeset_fops) : NULL;

		mutex_unlock(&nvm_lock);
		if (!f)
			return -ENODEV;
		replace_fops(file, f);
		return f->open ? f->open(inode, file) : 0;
	}
	/* The new fops are this module's too: the reference the open took on nv_fops' owner
	 * is handed to them, one more taken for replace_fops' put of the old. */
	if (minor == NVM_CTL_MINOR) {
		const struct file_operations *f = &nv_ctl_fops;

		__module_get(THIS_MODULE);
		replace_fops(file, f);
		r = 0;
	}
	list_for_each_entry(g, &gpus, node_list)
		if (g->minor == minor) {
			const struct file_operations *f = &nv_gpu_fops;

			nvm_gpu_get(g);
			file->private_data = g;
			__module_get(THIS_MODULE);
			replace_fops(file, f);
			r = 0;
			break;
		}
	mutex_unlock(&nvm_lock);
	return r;
}

static const struct file_operations nv_fops = {
	.owner = THIS_MODULE,
	.open = nv_open,
	.llseek = noop_llseek,
};

/* ---- /proc/driver/nvidia/gpus/ADDR/information ---- */

static int information_show(struct seq_file *m, void *v)
{
	struct nvm_gpu *g = m->private;

	seq_printf(m, "Model: \t\t NVIDIA model (the vmrun lab's)\n");
	seq_printf(m, "IRQ:   \t\t %d\n", g->pdev->irq);
	seq_printf(m, "Bus Location: \t %s\n", pci_name(g->pdev));
	seq_printf(m, "Device Minor: \t %u\n", g->minor);
	return 0;
}

/* ---- the PCI driver ---- */

static unsigned int free_minor(void)
{
	struct nvm_gpu *g;
	unsigned int m;

	for (m = 0; m < NVM_MAX_GPUS; m++) {
		bool used = false;

		list_for_each_entry(g, &gpus, node_list)
			used |= g->minor == m;
		if (!used)
			return m;
	}
	return NVM_MAX_GPUS;
}

static int nv_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct nvm_gpu *g = kzalloc(sizeof(*g), GFP_KERNEL);
	struct proc_dir_entry *dir;
	struct nvm_client *c;

	if (!g)
		return -ENOMEM;
	g->pdev = pdev;
	atomic_set(&g->usage, 0);
	mutex_lock(&nvm_lock);
	g->minor = free_minor();
	if (g->minor == NVM_MAX_GPUS) {
		mutex_unlock(&nvm_lock);
		kfree(g);
		return -ENOSPC;
	}
	g->node = device_create(nv_class, &pdev->dev, MKDEV(NVM_MAJOR, g->minor), NULL, "nvidia%u",
				g->minor);
	dir = proc_mkdir(pci_name(pdev), proc_gpus);
	if (dir)
		proc_create_single_data("information", 0444, dir, information_show, g);
	g->proc = dir;
	pci_set_drvdata(pdev, g);
	list_add_tail(&g->node_list, &gpus);
	list_for_each_entry(c, &clients, node)
		c->gpu_added(g);
	mutex_unlock(&nvm_lock);
	dev_info(&pdev->dev, "NVRM: model GPU %u bound\n", g->minor);
	return 0;
}

static void nv_remove(struct pci_dev *pdev)
{
	struct nvm_gpu *g = pci_get_drvdata(pdev);
	struct nvm_client *c;
	bool waited = false;
	unsigned int n = 0;

	mutex_lock(&nvm_lock);
	list_for_each_entry(c, &clients, node)
		c->gpu_removing(g);
	list_del(&g->node_list);
	mutex_unlock(&nvm_lock);
	/* nv_pci_remove: a GPU in use is waited for, uninterruptibly, for ever if need be. */
	while ((atomic_read(&g->usage) > 0 || (waited && hang_forever)) && !lab_release) {
		if (n++ % 10 == 0)
			pr_warn("NVRM: Attempting to remove device %04x:%02x:%02x.%x with non-zero usage count!\n",
				pci_domain_nr(pdev->bus), pdev->bus->number, PCI_SLOT(pdev->devfn),
				PCI_FUNC(pdev->devfn));
		waited = true;
		msleep(500);
	}
	proc_remove(g->proc);
	device_destroy(nv_class, MKDEV(NVM_MAJOR, g->minor));
	kfree(g);
	dev_info(&pdev->dev, "NVRM: model GPU removed\n");
}

static struct pci_driver nv_driver = {
	.name = "nvidia",
	.id_table = NULL, /* driver_override only */
	.probe = nv_probe,
	.remove = nv_remove,
};

static int __init nv_init(void)
{
	int r;

	nv_class = class_create(THIS_MODULE, "nvidia");
	if (IS_ERR(nv_class))
		return PTR_ERR(nv_class);
	r = register_chrdev(NVM_MAJOR, "nvidia", &nv_fops);
	if (r < 0)
		goto out_class;
	device_create(nv_class, NULL, MKDEV(NVM_MAJOR, NVM_CTL_MINOR), NULL, "nvidiactl");
	/* /proc/driver/nvidia/gpus: where tools (and vmrun) read a GPU's minor. */
	if (proc_mkdir("driver/nvidia", NULL))
		proc_gpus = proc_mkdir("driver/nvidia/gpus", NULL);
	r = pci_register_driver(&nv_driver);
	if (r < 0)
		goto out_chrdev;
	/* As the real driver: no GPU to take (none pinned to it, or all on vfio-pci), no module. */
	if (list_empty(&gpus)) {
		pr_info("NVRM: No NVIDIA GPU found.\n");
		pci_unregister_driver(&nv_driver);
		r = -ENODEV;
		goto out_chrdev;
	}
	return 0;
out_chrdev:
	remove_proc_subtree("driver/nvidia", NULL);
	device_destroy(nv_class, MKDEV(NVM_MAJOR, NVM_CTL_MINOR));
	unregister_chrdev(NVM_MAJOR, "nvidia");
out_class:
	class_destroy(nv_class);
	return r;
}

static void __exit nv_exit(void)
{
	pci_unregister_driver(&nv_driver);
	remove_proc_subtree("driver/nvidia", NULL);
	device_destroy(nv_class, MKDEV(NVM_MAJOR, NVM_CTL_MINOR));
	unregister_chrdev(NVM_MAJOR, "nvidia");
	class_destroy(nv_class);
}

module_init(nv_init);
module_exit(nv_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("A model of NVIDIA's nvidia.ko for the vmrun lab (not NVIDIA's driver)");
