/* vulkan.c - the `vulkan` backend: compute shaders (SPIR-V compiled by glslc
 * at build time and embedded) on any Vulkan 1.0 device with a compute queue
 * (mobile GPUs in the field; lavapipe, a CPU device, in tests). This file
 * holds the vtable: availability, `-t vulkan:device=D,...` arguments,
 * opening a device (instance, queue, shared layouts, shader modules, cached
 * pipelines and tuning), and the prepare/run/read/time cycle.
 * vulkan_device.c holds buffers, pipelines, caches and the tuner,
 * vulkan_plan.c maps ops onto shaders, vulkan_net.c runs whole networks,
 * vulkan_char.c characterizes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "targets/targets_internal.h"
#include "targets/vulkan/vulkan.h"

/* Longest wait for one submission before it counts as a hang. */
#define VK_FENCE_TIMEOUT_NS UINT64_C(60000000000)
/* Most physical devices opcost looks at. */
#define VK_MAX_DEVICES 16

const char *oc__vk_result_name(VkResult result) {
  switch (result) {
#define VK_RESULT_CASE(name)                                                                       \
  case name: return #name;
    VK_RESULT_CASE(VK_SUCCESS)
    VK_RESULT_CASE(VK_NOT_READY)
    VK_RESULT_CASE(VK_TIMEOUT)
    VK_RESULT_CASE(VK_EVENT_SET)
    VK_RESULT_CASE(VK_EVENT_RESET)
    VK_RESULT_CASE(VK_INCOMPLETE)
    VK_RESULT_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    VK_RESULT_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    VK_RESULT_CASE(VK_ERROR_INITIALIZATION_FAILED)
    VK_RESULT_CASE(VK_ERROR_DEVICE_LOST)
    VK_RESULT_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    VK_RESULT_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    VK_RESULT_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    VK_RESULT_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    VK_RESULT_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    VK_RESULT_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    VK_RESULT_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    VK_RESULT_CASE(VK_ERROR_FRAGMENTED_POOL)
    VK_RESULT_CASE(VK_ERROR_UNKNOWN)
    VK_RESULT_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    VK_RESULT_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    VK_RESULT_CASE(VK_ERROR_FRAGMENTATION)
    VK_RESULT_CASE(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
#undef VK_RESULT_CASE
  default: return "unknown VkResult";
  }
}

enum oc_status oc__vk_status(VkResult result) {
  switch (result) {
  case VK_SUCCESS: return oc_status_ok;
  case VK_TIMEOUT: return oc_status_timeout;
  case VK_ERROR_OUT_OF_HOST_MEMORY:
  case VK_ERROR_OUT_OF_DEVICE_MEMORY:
  case VK_ERROR_OUT_OF_POOL_MEMORY:
  case VK_ERROR_FRAGMENTATION: return oc_status_out_of_memory;
  default: return oc_status_device_error;
  }
}

/* ---- discovery ------------------------------------------------------------ */

/* One instance a process, made on first use and kept: creating one loads
 * every installed driver (a fifth of a second with Mesa's), and probe and
 * every open need one. Devices are per open state. */
static VkInstance shared_instance = VK_NULL_HANDLE;
static VkResult shared_result = VK_ERROR_INITIALIZATION_FAILED;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void make_shared_instance(void) {
  VkApplicationInfo app = {
      .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
      .pApplicationName = "opcost",
      .applicationVersion = 1,
      .pEngineName = "opcost",
      .engineVersion = 1,
      .apiVersion = VK_API_VERSION_1_0,
  };
  VkInstanceCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
      .pApplicationInfo = &app,
  };
  shared_result = vkCreateInstance(&info, NULL, &shared_instance);
  if (shared_result != VK_SUCCESS) shared_instance = VK_NULL_HANDLE;
}

static VkResult get_instance(VkInstance *instance) {
  pthread_once(&shared_once, make_shared_instance);
  *instance = shared_instance;
  return shared_result;
}

static uint32_t list_devices(VkInstance instance, VkPhysicalDevice *devices, VkResult *result) {
  uint32_t n = VK_MAX_DEVICES;
  VkResult r = vkEnumeratePhysicalDevices(instance, &n, devices);
  if (result) *result = r;
  if (r != VK_SUCCESS && r != VK_INCOMPLETE) return 0;
  return n;
}

/* The first queue family with compute, preferring one with timestamps;
 * false when the device has no compute queue. */
static bool compute_family(VkPhysicalDevice device, uint32_t *family, uint32_t *valid_bits) {
  VkQueueFamilyProperties props[32];
  uint32_t n = 32;
  vkGetPhysicalDeviceQueueFamilyProperties(device, &n, props);
  bool found = false;
  for (uint32_t i = 0; i < n; i++) {
    if (!(props[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || props[i].queueCount == 0) continue;
    if (!found || (*valid_bits == 0 && props[i].timestampValidBits > 0)) {
      *family = i;
      *valid_bits = props[i].timestampValidBits;
      found = true;
    }
  }
  return found;
}

static enum oc_status vulkan_probe(char *why, size_t why_len) {
  if (why_len > 0) why[0] = '\0';
  VkInstance instance = VK_NULL_HANDLE;
  VkResult r = get_instance(&instance);
  if (r != VK_SUCCESS) {
    oc__strfmt(why, why_len, "no Vulkan driver (vkCreateInstance returned %d %s)", (int)r,
               oc__vk_result_name(r));
    return oc_status_unavailable;
  }
  VkPhysicalDevice devices[VK_MAX_DEVICES];
  uint32_t n = list_devices(instance, devices, &r);
  enum oc_status st = oc_status_unavailable;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t family = 0, bits = 0;
    if (compute_family(devices[i], &family, &bits)) st = oc_status_ok;
  }
  if (n == 0)
    oc__strfmt(why, why_len,
               "no Vulkan device (vkEnumeratePhysicalDevices returned %d %s, "
               "0 devices)",
               (int)r, oc__vk_result_name(r));
  else if (st != oc_status_ok)
    oc__strfmt(why, why_len, "no Vulkan device with a compute queue (%u device%s)", (unsigned)n,
               n == 1 ? "" : "s");
  return st;
}

/* ---- arguments ------------------------------------------------------------ */

static const char *const known_args = "device, conv, cache, tune, memory";

enum oc_status oc__vk_parse_args(const char *args, struct vk_state *s) {
  s->device_index = -1;
  s->conv = vk_conv_auto;
  s->force_staging = false;
  s->use_cache = true;
  s->tune = true;
  s->cache_dir[0] = '\0';
  if (args == NULL || args[0] == '\0') return oc_status_ok;
  const char *p = args;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char item[600];
    if (len >= sizeof item)
      return oc__fail(oc_status_invalid_argument, "argument '%.40s...' is too long", p);
    memcpy(item, p, len);
    item[len] = '\0';
    char *eq = strchr(item, '=');
    if (eq == NULL || eq == item)
      return oc__fail(oc_status_invalid_argument, "argument '%s': expected NAME=VALUE (known: %s)",
                      item, known_args);
    *eq = '\0';
    const char *name = item, *value = eq + 1;
    int64_t number = 0;
    if (strcmp(name, "device") == 0) {
      if (!oc__parse_i64(value, 0, VK_MAX_DEVICES - 1, &number))
        return oc__fail(oc_status_invalid_argument,
                        "argument 'device': value '%s' is not an index from 0 to %d", value,
                        VK_MAX_DEVICES - 1);
      s->device_index = (int)number;
    } else if (strcmp(name, "conv") == 0) {
      if (strcmp(value, "auto") == 0)
        s->conv = vk_conv_auto;
      else if (strcmp(value, "direct") == 0)
        s->conv = vk_conv_direct;
      else if (strcmp(value, "gemm") == 0)
        s->conv = vk_conv_gemm;
      else
        return oc__fail(oc_status_invalid_argument,
                        "argument 'conv': value '%s' is not one of auto, direct, gemm", value);
    } else if (strcmp(name, "memory") == 0) {
      if (strcmp(value, "auto") == 0)
        s->force_staging = false;
      else if (strcmp(value, "staging") == 0)
        s->force_staging = true;
      else
        return oc__fail(oc_status_invalid_argument,
                        "argument 'memory': value '%s' is not 'auto' or 'staging'", value);
    } else if (strcmp(name, "cache") == 0) {
      if (value[0] == '\0')
        return oc__fail(oc_status_invalid_argument,
                        "argument 'cache': empty value (a directory, or 'off')");
      if (strcmp(value, "off") == 0)
        s->use_cache = false;
      else if (!oc__strfmt(s->cache_dir, sizeof s->cache_dir, "%s", value))
        return oc__fail(oc_status_invalid_argument, "argument 'cache': directory '%s' is too long",
                        value);
    } else if (strcmp(name, "tune") == 0) {
      if (strcmp(value, "on") == 0)
        s->tune = true;
      else if (strcmp(value, "off") == 0)
        s->tune = false;
      else
        return oc__fail(oc_status_invalid_argument,
                        "argument 'tune': value '%s' is not 'on' or 'off'", value);
    } else {
      return oc__fail(oc_status_invalid_argument, "unknown argument '%s' (known: %s)", name,
                      known_args);
    }
    p = end ? end + 1 : p + len;
  }
  return oc_status_ok;
}

/* ---- open / close ---------------------------------------------------------- */

static enum oc_status vk_fail(const struct vk_state *s, VkResult r, const char *what) {
  return oc__fail(oc__vk_status(r), "device '%s': %s returned %d %s", s->device_name, what, (int)r,
                  oc__vk_result_name(r));
}

static enum oc_status select_device(struct vk_state *s) {
  VkPhysicalDevice devices[VK_MAX_DEVICES];
  VkResult r = VK_SUCCESS;
  uint32_t n = list_devices(s->instance, devices, &r);
  if (n == 0)
    return oc__fail(oc_status_unavailable,
                    "no Vulkan device (vkEnumeratePhysicalDevices returned %d %s, 0 devices)",
                    (int)r, oc__vk_result_name(r));
  int chosen = s->device_index;
  if (chosen >= (int)n) {
    char names[384] = "";
    for (uint32_t i = 0; i < n; i++) {
      VkPhysicalDeviceProperties p;
      vkGetPhysicalDeviceProperties(devices[i], &p);
      size_t used = strlen(names);
      oc__strfmt(names + used, sizeof names - used, "%s%u '%s'", i ? ", " : "", (unsigned)i,
                 p.deviceName);
    }
    return oc__fail(oc_status_invalid_argument,
                    "argument 'device': value '%d' is out of range: %u device%s (%s)", chosen,
                    (unsigned)n, n == 1 ? "" : "s", names);
  }
  if (chosen < 0) {
    /* Default: the first GPU with a compute queue, else the first device with one. */
    for (int pass = 0; pass < 2 && chosen < 0; pass++) {
      for (uint32_t i = 0; i < n && chosen < 0; i++) {
        VkPhysicalDeviceProperties p;
        uint32_t family = 0, bits = 0;
        vkGetPhysicalDeviceProperties(devices[i], &p);
        bool gpu = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ||
                   p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
        if ((pass == 1 || gpu) && compute_family(devices[i], &family, &bits)) chosen = (int)i;
      }
    }
    if (chosen < 0) return oc__fail(oc_status_unavailable, "no Vulkan device with a compute queue");
  }
  s->physical = devices[chosen];
  s->device_index = chosen;
  vkGetPhysicalDeviceProperties(s->physical, &s->props);
  vkGetPhysicalDeviceMemoryProperties(s->physical, &s->memory_props);
  oc__strcpy(s->device_name, sizeof s->device_name, s->props.deviceName);
  if (!compute_family(s->physical, &s->queue_family, &s->timestamp_valid_bits))
    return oc__fail(oc_status_unavailable, "device %d '%s' has no compute queue", chosen,
                    s->device_name);
  /* timestampComputeAndGraphics false: compute queues may still have
   * timestamps; the family's valid bits say. */
  s->timestamp_period_ns = (double)s->props.limits.timestampPeriod;
  if (s->timestamp_period_ns <= 0) s->timestamp_valid_bits = 0;
  return oc_status_ok;
}

void oc__vk_close_state(struct vk_state *s) {
  if (s == NULL) return;
  if (s->device) {
    vkDeviceWaitIdle(s->device);
    oc__vk_save_pipeline_cache(s);
    for (int i = 0; i < s->n_pipelines; i++)
      vkDestroyPipeline(s->device, s->pipelines[i].pipeline, NULL);
    for (int i = 0; i < vk_s__count; i++)
      if (s->modules[i]) vkDestroyShaderModule(s->device, s->modules[i], NULL);
    if (s->pipeline_cache) vkDestroyPipelineCache(s->device, s->pipeline_cache, NULL);
    if (s->pipeline_layout) vkDestroyPipelineLayout(s->device, s->pipeline_layout, NULL);
    if (s->set_layout) vkDestroyDescriptorSetLayout(s->device, s->set_layout, NULL);
    oc__vk_buffer_destroy(s, &s->dummy);
    if (s->fence) vkDestroyFence(s->device, s->fence, NULL);
    if (s->command_pool) vkDestroyCommandPool(s->device, s->command_pool, NULL);
    vkDestroyDevice(s->device, NULL);
  }
  free(s->pipelines);
  free(s);
}

static enum oc_status create_device(struct vk_state *s) {
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queue = {
      .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
      .queueFamilyIndex = s->queue_family,
      .queueCount = 1,
      .pQueuePriorities = &priority,
  };
  VkDeviceCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
      .queueCreateInfoCount = 1,
      .pQueueCreateInfos = &queue,
  };
  VkResult r = vkCreateDevice(s->physical, &info, NULL, &s->device);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkCreateDevice");
  vkGetDeviceQueue(s->device, s->queue_family, 0, &s->queue);

  VkCommandPoolCreateInfo pool = {
      .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
      .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
      .queueFamilyIndex = s->queue_family,
  };
  r = vkCreateCommandPool(s->device, &pool, NULL, &s->command_pool);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkCreateCommandPool");
  VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  r = vkCreateFence(s->device, &fence, NULL, &s->fence);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkCreateFence");

  VkDescriptorSetLayoutBinding bindings[VK_BINDINGS];
  for (uint32_t i = 0; i < VK_BINDINGS; i++) {
    bindings[i] = (VkDescriptorSetLayoutBinding){
        .binding = i,
        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .descriptorCount = 1,
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  }
  VkDescriptorSetLayoutCreateInfo set_info = {
      .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
      .bindingCount = VK_BINDINGS,
      .pBindings = bindings,
  };
  r = vkCreateDescriptorSetLayout(s->device, &set_info, NULL, &s->set_layout);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkCreateDescriptorSetLayout");
  VkPushConstantRange push = {
      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
      .offset = 0,
      .size = VK_PUSH_WORDS * sizeof(int32_t),
  };
  VkPipelineLayoutCreateInfo layout_info = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
      .setLayoutCount = 1,
      .pSetLayouts = &s->set_layout,
      .pushConstantRangeCount = 1,
      .pPushConstantRanges = &push,
  };
  r = vkCreatePipelineLayout(s->device, &layout_info, NULL, &s->pipeline_layout);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkCreatePipelineLayout");

  for (int i = 0; i < vk_s__count; i++) {
    static const char *const names[] = {
#define VK_SHADER_NAME(name) #name,
        VK_SHADER_MAP(VK_SHADER_NAME)
#undef VK_SHADER_NAME
    };
    for (size_t j = 0; j < oc__vk_shader_count; j++)
      if (strcmp(oc__vk_shaders[j].name, names[i]) == 0) s->spirv[i] = &oc__vk_shaders[j];
    if (s->spirv[i] == NULL)
      return oc__fail(oc_status_internal, "shader '%s' is not embedded in this build", names[i]);
    VkShaderModuleCreateInfo module = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = s->spirv[i]->bytes,
        .pCode = s->spirv[i]->words,
    };
    r = vkCreateShaderModule(s->device, &module, NULL, &s->modules[i]);
    if (r != VK_SUCCESS) {
      char what[96];
      oc__strfmt(what, sizeof what, "vkCreateShaderModule(%s)", names[i]);
      return vk_fail(s, r, what);
    }
  }
  return oc__vk_buffer_create(s, 16, NULL, "placeholder buffer", &s->dummy);
}

enum oc_status oc__vk_open_state(const char *args, struct vk_state **out) {
  enum oc_status st = oc_status_ok;
  struct vk_state *s = calloc(1, sizeof *s);
  if (s == NULL) return oc__fail(oc_status_out_of_memory, "vulkan: out of memory");
  st = oc__vk_parse_args(args, s);
  if (st != oc_status_ok) goto fail;
  s->loader_version = VK_API_VERSION_1_0;
  PFN_vkEnumerateInstanceVersion enum_version =
      (PFN_vkEnumerateInstanceVersion)vkGetInstanceProcAddr(NULL, "vkEnumerateInstanceVersion");
  if (enum_version) enum_version(&s->loader_version);
  VkResult r = get_instance(&s->instance);
  if (r != VK_SUCCESS) {
    s->instance = VK_NULL_HANDLE;
    st = oc__fail(oc_status_unavailable, "no Vulkan driver (vkCreateInstance returned %d %s)",
                  (int)r, oc__vk_result_name(r));
    goto fail;
  }
  st = select_device(s);
  if (st != oc_status_ok) goto fail;
  st = create_device(s);
  if (st != oc_status_ok) goto fail;
  st = oc__vk_load_cache(s);
  if (st != oc_status_ok) goto fail;
  *out = s;
  return oc_status_ok;
fail:
  oc__vk_close_state(s);
  return st;
}

static enum oc_status vulkan_open(const char *args, const struct oc_target_opts *opts,
                                  void **state) {
  (void)opts; /* one queue; threads and pinning are refused by the wrappers */
  struct vk_state *s = NULL;
  enum oc_status st = oc__vk_open_state(args, &s);
  if (st == oc_status_ok) *state = s;
  return st;
}

static void vulkan_close(void *state) { oc__vk_close_state(state); }

static const char *vendor_name(uint32_t id) {
  switch (id) {
  case 0x1002: return "AMD";
  case 0x1010: return "Imagination Technologies";
  case 0x10DE: return "NVIDIA";
  case 0x13B5: return "ARM";
  case 0x5143: return "Qualcomm";
  case 0x8086: return "Intel";
  case 0x144D: return "Samsung";
  case 0x10005: return "Mesa";
  default: return NULL;
  }
}

static const char *device_type_name(VkPhysicalDeviceType type) {
  switch (type) {
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated-gpu";
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete-gpu";
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual-gpu";
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
  default: return "other";
  }
}

static enum oc_status vulkan_describe(void *state, struct oc_device_info *info) {
  struct vk_state *s = state;
  const VkPhysicalDeviceProperties *p = &s->props;
  const char *vendor = vendor_name(p->vendorID);
  oc__strcpy(info->name, sizeof info->name, p->deviceName);
  if (vendor)
    oc__strcpy(info->vendor, sizeof info->vendor, vendor);
  else
    oc__strfmt(info->vendor, sizeof info->vendor, "vendor 0x%04x", (unsigned)p->vendorID);
  oc__strfmt(info->arch, sizeof info->arch, "vulkan-%s", device_type_name(p->deviceType));
  oc__strfmt(info->isa, sizeof info->isa,
             "Vulkan %u.%u.%u; device 0x%04x; max-wg=%u; shared=%u; timestamps=%u bits x %g ns",
             VK_VERSION_MAJOR(p->apiVersion), VK_VERSION_MINOR(p->apiVersion),
             VK_VERSION_PATCH(p->apiVersion), (unsigned)p->deviceID,
             (unsigned)p->limits.maxComputeWorkGroupInvocations,
             (unsigned)p->limits.maxComputeSharedMemorySize, (unsigned)s->timestamp_valid_bits,
             s->timestamp_period_ns);
  oc__strfmt(info->runtime, sizeof info->runtime, "Vulkan loader %u.%u.%u; driver 0x%08x",
             VK_VERSION_MAJOR(s->loader_version), VK_VERSION_MINOR(s->loader_version),
             VK_VERSION_PATCH(s->loader_version), (unsigned)p->driverVersion);
  info->cores_logical = 0;
  info->cores_physical = 0;
  info->threads = 1;
  int64_t device_local = 0;
  for (uint32_t i = 0; i < s->memory_props.memoryHeapCount; i++)
    if (s->memory_props.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      device_local += (int64_t)s->memory_props.memoryHeaps[i].size;
  info->memory_bytes = device_local;
  return oc_status_ok;
}

static bool vulkan_supports(void *state, const struct oc_op *op, char *why, size_t why_len) {
  (void)state;
  /* Shaders index with int: every tensor must have fewer than 2^31 elements. */
  return oc__target_f32_int_indexed("vulkan", "shaders", op, why, why_len);
}

static enum oc_status vulkan_prepare(void *state, const struct oc_op *op,
                                     const struct oc_tensors *tensors, void **kernel) {
  struct vk_state *s = state;
  if (tensors == NULL || tensors->output == NULL)
    return oc__fail(oc_status_invalid_argument, "vulkan: output buffer is NULL");
  struct vk_kernel *k = calloc(1, sizeof *k);
  if (k == NULL) return oc__fail(oc_status_out_of_memory, "vulkan: out of memory for a kernel");
  enum oc_status st = oc__vk_plan(s, op, tensors, k);
  if (st != oc_status_ok) {
    oc__vk_kernel_free(s, k);
    return st;
  }
  *kernel = k;
  return oc_status_ok;
}

enum oc_status oc__vk_submit_wait(struct vk_state *s, VkCommandBuffer commands, const char *what) {
  VkResult r = vkResetFences(s->device, 1, &s->fence);
  if (r != VK_SUCCESS)
    return oc__fail(oc__vk_status(r), "%s on device '%s': vkResetFences returned %d %s", what,
                    s->device_name, (int)r, oc__vk_result_name(r));
  VkSubmitInfo submit = {
      .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
      .commandBufferCount = 1,
      .pCommandBuffers = &commands,
  };
  r = vkQueueSubmit(s->queue, 1, &submit, s->fence);
  if (r != VK_SUCCESS)
    return oc__fail(oc__vk_status(r), "%s on device '%s': vkQueueSubmit returned %d %s%s", what,
                    s->device_name, (int)r, oc__vk_result_name(r),
                    r == VK_ERROR_DEVICE_LOST ? " (the device was lost)" : "");
  r = vkWaitForFences(s->device, 1, &s->fence, VK_TRUE, VK_FENCE_TIMEOUT_NS);
  if (r == VK_TIMEOUT) {
    /* Never leave work in flight that references buffers about to be freed. */
    vkDeviceWaitIdle(s->device);
    return oc__fail(oc_status_timeout, "%s on device '%s': not finished after %.0f s", what,
                    s->device_name, (double)VK_FENCE_TIMEOUT_NS / 1e9);
  }
  if (r != VK_SUCCESS)
    return oc__fail(oc__vk_status(r), "%s on device '%s': vkWaitForFences returned %d %s%s", what,
                    s->device_name, (int)r, oc__vk_result_name(r),
                    r == VK_ERROR_DEVICE_LOST ? " (the device was lost)" : "");
  return oc_status_ok;
}

static enum oc_status vulkan_run(void *state, void *kernel) {
  struct vk_state *s = state;
  struct vk_kernel *k = kernel;
  char what[OC_KEY_MAX + 16];
  oc__strfmt(what, sizeof what, "op '%s'", k->key);
  return oc__vk_submit_wait(s, k->commands, what);
}

static enum oc_status vulkan_read_output(void *state, void *kernel) {
  struct vk_state *s = state;
  struct vk_kernel *k = kernel;
  if (k->host_output == NULL) return oc_status_ok;
  enum oc_status st =
      oc__vk_buffer_read(s, &k->buffers[k->output], k->host_output, k->output_bytes);
  if (st != oc_status_ok) return oc__fail_prefix(st, "op '%s': reading the output: ", k->key);
  return oc_status_ok;
}

uint64_t oc__vk_timestamp_ticks(uint64_t start, uint64_t end, uint32_t valid_bits) {
  uint64_t mask = valid_bits >= 64 ? UINT64_MAX : (UINT64_C(1) << valid_bits) - 1;
  return ((end & mask) - (start & mask)) & mask;
}

enum oc_status oc__vk_read_timestamps(struct vk_state *s, struct vk_kernel *k, double *ns) {
  if (k->queries == VK_NULL_HANDLE)
    return oc__fail(oc_status_unsupported,
                    "op '%s' on device '%s': the compute queue has no timestamps "
                    "(timestampValidBits = 0)",
                    k->key, s->device_name);
  uint64_t stamps[2] = {0, 0};
  VkResult r =
      vkGetQueryPoolResults(s->device, k->queries, 0, 2, sizeof stamps, stamps, sizeof stamps[0],
                            VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
  if (r != VK_SUCCESS)
    return oc__fail(oc__vk_status(r),
                    "op '%s' on device '%s': vkGetQueryPoolResults returned %d %s", k->key,
                    s->device_name, (int)r, oc__vk_result_name(r));
  uint64_t ticks = oc__vk_timestamp_ticks(stamps[0], stamps[1], s->timestamp_valid_bits);
  if (ticks == 0) ticks = 1;
  *ns = (double)ticks * s->timestamp_period_ns;
  return oc_status_ok;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

enum oc_status oc__vk_time_runs_host(struct vk_state *s, struct vk_kernel *k, int runs,
                                     double *device_us, double *host_us) {
  char what[OC_KEY_MAX + 16];
  oc__strfmt(what, sizeof what, "op '%s'", k->key);
  if (k->queries == VK_NULL_HANDLE)
    return oc__fail(oc_status_unsupported,
                    "op '%s' on device '%s': the compute queue has no timestamps "
                    "(timestampValidBits = 0)",
                    k->key, s->device_name);
  for (int r = 0; r < runs; r++) {
    double t0 = now_us();
    enum oc_status st = oc__vk_submit_wait(s, k->commands, what);
    double t1 = now_us();
    if (st != oc_status_ok) return st;
    double ns = 0;
    st = oc__vk_read_timestamps(s, k, &ns);
    if (st != oc_status_ok) return st;
    device_us[r] = ns / 1e3;
    if (host_us) host_us[r] = t1 - t0;
  }
  return oc_status_ok;
}

static enum oc_status vulkan_time_runs(void *state, void *kernel, int runs, double *device_us) {
  return oc__vk_time_runs_host(state, kernel, runs, device_us, NULL);
}

static void vulkan_release(void *state, void *kernel) { oc__vk_kernel_free(state, kernel); }

const struct oc_target_vtab oc_target_vulkan = {
    .abi_version = OC_TARGET_ABI_VERSION,
    .name = "vulkan",
    .summary = "Vulkan compute shaders (mobile GPUs; lavapipe on CPUs) with timestamp queries",
    .caps = oc_cap_device_timer | oc_cap_networks,
    .probe = vulkan_probe,
    .open = vulkan_open,
    .close = vulkan_close,
    .describe = vulkan_describe,
    .supports = vulkan_supports,
    .prepare = vulkan_prepare,
    .run = vulkan_run,
    .read_output = vulkan_read_output,
    .time_runs = vulkan_time_runs,
    .release = vulkan_release,
    /* vulkan_net.c: one command buffer a network, timed end to end by the
     * host clock (time_runs times single ops only; see vulkan_net.c). */
    .prepare_net = oc__vk_prepare_net,
    .run_net = oc__vk_run_net,
    .read_net_output = oc__vk_read_net_output,
    .release_net = oc__vk_release_net,
};
