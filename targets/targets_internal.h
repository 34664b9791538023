/* targets_internal.h - the exported vtables of every backend and helpers the
 * backends share (machine description from sysfs/cpuinfo). Not public. */
#ifndef OPCOST_TARGETS_INTERNAL_H
#define OPCOST_TARGETS_INTERNAL_H

#include "opcost/target.h"

extern const struct oc_target_vtab oc_target_ref;
extern const struct oc_target_vtab oc_target_cpu;
extern const struct oc_target_vtab oc_target_opencl;
extern const struct oc_target_vtab oc_target_vulkan;
extern const struct oc_target_vtab oc_target_mcu;
extern const struct oc_target_vtab oc_target_remote;

/* Fills the host CPU fields of info (name, vendor, arch, cores, caches,
 * memory) from /proc/cpuinfo and sysfs; unknown entries stay empty/zero. */
void oc__host_describe(struct oc_device_info *info);

/* Applies opts->cores to the calling thread (sched_setaffinity). Threads it
 * creates afterwards inherit the set. */
enum oc_status oc__host_pin(const struct oc_target_opts *opts);

/* The backend state of an open target and the backend kernel of a prepared
 * op (NULL for a network kernel): for backend-specific APIs such as
 * oc_mcu_kernel_memory. */
void *oc__target_state(const struct oc_target *target);
void *oc__target_kernel_impl(const struct oc_kernel *kernel);

/* supports() of a backend whose kernels run f32 only and index tensors with
 * 32-bit ints (the GPU backends): false, with why, for another dtype or a
 * tensor of 2^31 elements or more. `kernels` names them in the message
 * ("kernels", "shaders"). */
bool oc__target_f32_int_indexed(const char *target, const char *kernels, const struct oc_op *op,
                                char *why, size_t why_len);

#endif
