/* registry.c - the backends built into this libopcost, in the order
 * `opcost devices` lists them. A backend is added by exporting one
 * `const struct oc_target_vtab oc_target_NAME` and listing it here under its
 * build flag. */
#include <stddef.h>

#include "targets/targets_internal.h"

static const struct oc_target_vtab *const registry[] = {
    &oc_target_ref,
    &oc_target_cpu,
#ifdef OPCOST_WITH_OPENCL
    &oc_target_opencl,
#endif
#ifdef OPCOST_WITH_VULKAN
    &oc_target_vulkan,
#endif
#ifdef OPCOST_WITH_MCU
    &oc_target_mcu,
#endif
#ifdef OPCOST_WITH_REMOTE
    &oc_target_remote,
#endif
};

size_t oc_target_count(void) { return sizeof registry / sizeof registry[0]; }

const struct oc_target_vtab *oc_target_at(size_t index) {
  return index < oc_target_count() ? registry[index] : NULL;
}
