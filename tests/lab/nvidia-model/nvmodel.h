/* SPDX-License-Identifier: MIT OR GPL-2.0 */
/*
 * A model of NVIDIA's kernel driver stack for the lab (not NVIDIA's driver: see README.md):
 * what nvidia.ko offers the other three modules. A GPU bound to the model "nvidia" counts its
 * users: each open /dev/nvidiaN and each open DRM node of it (nvidia_drm) is one; while any is
 * left, the GPU's unbind waits, as the real driver's nv_pci_remove does.
 */
#ifndef NVMODEL_H
#define NVMODEL_H

#include <linux/fs.h>
#include <linux/pci.h>

#define NVM_MAJOR 195         /* the real driver's, from devices.txt */
#define NVM_CTL_MINOR 255     /* /dev/nvidiactl */
#define NVM_MODESET_MINOR 254 /* /dev/nvidia-modeset, served by nvidia_modeset */
#define NVM_MAX_GPUS 32       /* /dev/nvidia0 .. 31 */

struct nvm_gpu;

/* A module that wants to hear about GPUs as they are bound and before they go (nvidia_drm). */
struct nvm_client {
	int (*gpu_added)(struct nvm_gpu *g);
	void (*gpu_removing)(struct nvm_gpu *g);
	struct list_head node;
};

int nvm_register_client(struct nvm_client *c);
void nvm_unregister_client(struct nvm_client *c);
/* The GPU's usage count: its unbind waits while it is not zero. */
void nvm_gpu_get(struct nvm_gpu *g);
void nvm_gpu_put(struct nvm_gpu *g);
struct pci_dev *nvm_gpu_pdev(struct nvm_gpu *g);
void nvm_gpu_set_client_data(struct nvm_gpu *g, void *data);
void *nvm_gpu_client_data(struct nvm_gpu *g);
/* Minor 254 is nvidia_modeset's: its open is handed these fops (their owner pinned). */
int nvm_register_modeset(const struct file_operations *fops);
void nvm_unregister_modeset(void);
struct class *nvm_class(void);

/* nvidia_modeset's, which nvidia_drm goes through: it uses nvidia_modeset, not nvidia, as in
 * the real stack's lsmod. */
int nvkms_register_client(struct nvm_client *c);
void nvkms_unregister_client(struct nvm_client *c);
void nvkms_gpu_get(struct nvm_gpu *g);
void nvkms_gpu_put(struct nvm_gpu *g);
struct pci_dev *nvkms_gpu_pdev(struct nvm_gpu *g);
void nvkms_gpu_set_client_data(struct nvm_gpu *g, void *data);
void *nvkms_gpu_client_data(struct nvm_gpu *g);

#endif
