/* vulkan_device.c - the resources of the vulkan backend that outlive one op:
 * buffers (host-visible memory where the device has it, as on mobile and
 * integrated GPUs; device-local memory and staging copies otherwise),
 * pipelines made once per shader and work-group size, the on-disk caches
 * (VkPipelineCache data and the tuner's choices), and the tuner.
 *
 * Why a cache: pipeline creation compiles SPIR-V to the device's code (on
 * lavapipe and some mobile drivers, tens of milliseconds a pipeline), and
 * tuning takes seconds; both depend only on the device, the driver and the
 * shaders. The key hashes device name and IDs, driver version, the
 * pipeline-cache UUID and every embedded SPIR-V module; files live in
 * $XDG_CACHE_HOME/opcost (else ~/.cache/opcost, or `cache=DIR`), written to a
 * temporary name and renamed. The driver validates pipeline-cache data
 * itself (header, UUID) and ignores data that is not its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "targets/vulkan/vulkan.h"

#define VK_CACHE_VERSION "opcost-vulkan-cache/1"
#define VK_CACHE_MAX_BYTES ((long)256 << 20)

static enum oc_status vk_fail(const struct vk_state *s, VkResult r, const char *what) {
  return oc__fail(oc__vk_status(r), "device '%s': %s returned %d %s", s->device_name, what, (int)r,
                  oc__vk_result_name(r));
}

/* ---- buffers --------------------------------------------------------------- */

static int memory_type(const struct vk_state *s, uint32_t type_bits, VkMemoryPropertyFlags want) {
  for (uint32_t i = 0; i < s->memory_props.memoryTypeCount; i++) {
    if ((type_bits & (1u << i)) && (s->memory_props.memoryTypes[i].propertyFlags & want) == want)
      return (int)i;
  }
  return -1;
}

void oc__vk_buffer_destroy(struct vk_state *s, struct vk_buffer *b) {
  if (b == NULL || s->device == VK_NULL_HANDLE) return;
  if (b->mapped) vkUnmapMemory(s->device, b->memory);
  if (b->buffer) vkDestroyBuffer(s->device, b->buffer, NULL);
  if (b->memory) vkFreeMemory(s->device, b->memory, NULL);
  memset(b, 0, sizeof *b);
}

/* A buffer whose memory has the properties `want` (host_visible: mapped). */
static enum oc_status buffer_alloc(struct vk_state *s, VkDeviceSize bytes, bool host_visible,
                                   const char *what, struct vk_buffer *b) {
  memset(b, 0, sizeof *b);
  if (bytes == 0) bytes = 16;
  b->bytes = bytes;
  VkBufferCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
      .size = bytes,
      .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
               VK_BUFFER_USAGE_TRANSFER_DST_BIT,
      .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  char call[128];
  VkResult r = vkCreateBuffer(s->device, &info, NULL, &b->buffer);
  if (r != VK_SUCCESS) {
    oc__strfmt(call, sizeof call, "creating the %s (%llu bytes): vkCreateBuffer", what,
               (unsigned long long)bytes);
    return vk_fail(s, r, call);
  }
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(s->device, b->buffer, &req);
  const VkMemoryPropertyFlags coherent =
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  int type = -1;
  if (host_visible) {
    type = memory_type(s, req.memoryTypeBits, coherent | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0) type = memory_type(s, req.memoryTypeBits, coherent);
  } else {
    type = memory_type(s, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0) type = memory_type(s, req.memoryTypeBits, 0);
  }
  if (type < 0)
    return oc__fail(oc_status_unsupported,
                    "device '%s': no memory type for the %s (%s memory, type bits 0x%x)",
                    s->device_name, what, host_visible ? "host-visible coherent" : "any",
                    (unsigned)req.memoryTypeBits);
  uint32_t heap = s->memory_props.memoryTypes[type].heapIndex;
  if (req.size > s->memory_props.memoryHeaps[heap].size)
    return oc__fail(oc_status_out_of_memory,
                    "device '%s': the %s needs %llu bytes; its memory heap %u has %llu",
                    s->device_name, what, (unsigned long long)req.size, (unsigned)heap,
                    (unsigned long long)s->memory_props.memoryHeaps[heap].size);
  VkMemoryAllocateInfo alloc = {
      .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
      .allocationSize = req.size,
      .memoryTypeIndex = (uint32_t)type,
  };
  r = vkAllocateMemory(s->device, &alloc, NULL, &b->memory);
  if (r != VK_SUCCESS) {
    b->memory = VK_NULL_HANDLE;
    oc__strfmt(call, sizeof call, "allocating the %s (%llu bytes): vkAllocateMemory", what,
               (unsigned long long)req.size);
    return vk_fail(s, r, call);
  }
  r = vkBindBufferMemory(s->device, b->buffer, b->memory, 0);
  if (r != VK_SUCCESS) {
    oc__strfmt(call, sizeof call, "binding the %s: vkBindBufferMemory", what);
    return vk_fail(s, r, call);
  }
  if (host_visible) {
    r = vkMapMemory(s->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
    if (r != VK_SUCCESS) {
      b->mapped = NULL;
      oc__strfmt(call, sizeof call, "mapping the %s: vkMapMemory", what);
      return vk_fail(s, r, call);
    }
  }
  return oc_status_ok;
}

/* Records and runs one transfer command buffer: fill dst with zeros (src
 * NULL) or copy src into dst. */
static enum oc_status transfer(struct vk_state *s, const struct vk_buffer *src,
                               const struct vk_buffer *dst, VkDeviceSize bytes, const char *what) {
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VkCommandBufferAllocateInfo alloc = {
      .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
      .commandPool = s->command_pool,
      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
      .commandBufferCount = 1,
  };
  VkResult r = vkAllocateCommandBuffers(s->device, &alloc, &cmd);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo begin = {
      .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
      .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  enum oc_status st = oc_status_ok;
  r = vkBeginCommandBuffer(cmd, &begin);
  if (r == VK_SUCCESS) {
    if (src == NULL) {
      vkCmdFillBuffer(cmd, dst->buffer, 0, VK_WHOLE_SIZE, 0);
    } else {
      VkBufferCopy region = {.srcOffset = 0, .dstOffset = 0, .size = bytes};
      vkCmdCopyBuffer(cmd, src->buffer, dst->buffer, 1, &region);
    }
    /* Transfer results visible to shaders and to the host. */
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                         &barrier, 0, NULL, 0, NULL);
    r = vkEndCommandBuffer(cmd);
  }
  if (r != VK_SUCCESS)
    st = vk_fail(s, r, "recording a transfer");
  else
    st = oc__vk_submit_wait(s, cmd, what);
  vkFreeCommandBuffers(s->device, s->command_pool, 1, &cmd);
  return st;
}

enum oc_status oc__vk_buffer_create(struct vk_state *s, VkDeviceSize bytes, const void *host,
                                    const char *what, struct vk_buffer *out) {
  if (bytes > s->props.limits.maxStorageBufferRange)
    return oc__fail(oc_status_out_of_memory,
                    "device '%s': the %s needs %llu bytes; a storage buffer holds at most %u "
                    "(maxStorageBufferRange)",
                    s->device_name, what, (unsigned long long)bytes,
                    (unsigned)s->props.limits.maxStorageBufferRange);
  bool direct = !s->force_staging;
  enum oc_status st = buffer_alloc(s, bytes, direct, what, out);
  if (st == oc_status_unsupported && direct) {
    /* No host-visible memory for it (a discrete GPU's): stage instead. */
    oc__vk_buffer_destroy(s, out);
    direct = false;
    st = buffer_alloc(s, bytes, false, what, out);
  }
  if (st != oc_status_ok) return st;
  if (direct) {
    if (host)
      memcpy(out->mapped, host, (size_t)bytes);
    else
      memset(out->mapped, 0, (size_t)out->bytes);
    return oc_status_ok;
  }
  char label[96];
  oc__strfmt(label, sizeof label, "uploading the %s", what);
  if (host == NULL || bytes == 0) return transfer(s, NULL, out, out->bytes, label);
  struct vk_buffer staging;
  st = buffer_alloc(s, bytes, true, "staging buffer", &staging);
  if (st == oc_status_ok) {
    memcpy(staging.mapped, host, (size_t)bytes);
    st = transfer(s, &staging, out, bytes, label);
  }
  oc__vk_buffer_destroy(s, &staging);
  return st;
}

enum oc_status oc__vk_buffer_create_local(struct vk_state *s, VkDeviceSize bytes, const char *what,
                                          struct vk_buffer *out) {
  if (bytes > s->props.limits.maxStorageBufferRange)
    return oc__fail(oc_status_out_of_memory,
                    "device '%s': the %s needs %llu bytes; a storage buffer holds at most %u "
                    "(maxStorageBufferRange)",
                    s->device_name, what, (unsigned long long)bytes,
                    (unsigned)s->props.limits.maxStorageBufferRange);
  enum oc_status st = buffer_alloc(s, bytes, false, what, out);
  if (st != oc_status_ok) return st;
  char label[96];
  oc__strfmt(label, sizeof label, "zero-filling the %s", what);
  return transfer(s, NULL, out, out->bytes, label);
}

enum oc_status oc__vk_buffer_create_host(struct vk_state *s, VkDeviceSize bytes, const char *what,
                                         struct vk_buffer *out) {
  enum oc_status st = buffer_alloc(s, bytes, true, what, out);
  if (st == oc_status_ok) memset(out->mapped, 0, (size_t)out->bytes);
  return st;
}

enum oc_status oc__vk_buffer_read(struct vk_state *s, struct vk_buffer *b, void *host,
                                  size_t bytes) {
  if (b->mapped) {
    memcpy(host, b->mapped, bytes);
    return oc_status_ok;
  }
  struct vk_buffer staging;
  enum oc_status st = buffer_alloc(s, bytes, true, "staging buffer", &staging);
  if (st == oc_status_ok) st = transfer(s, b, &staging, bytes, "downloading a buffer");
  if (st == oc_status_ok) memcpy(host, staging.mapped, bytes);
  oc__vk_buffer_destroy(s, &staging);
  return st;
}

/* ---- pipelines ------------------------------------------------------------- */

enum oc_status oc__vk_pipeline(struct vk_state *s, enum vk_shader_id shader, const uint32_t spec[4],
                               VkPipeline *out) {
  for (int i = 0; i < s->n_pipelines; i++) {
    const struct vk_pipeline *p = &s->pipelines[i];
    if (p->shader == shader && memcmp(p->spec, spec, sizeof p->spec) == 0) {
      *out = p->pipeline;
      return oc_status_ok;
    }
  }
  if (s->n_pipelines == s->cap_pipelines) {
    int cap = s->cap_pipelines ? 2 * s->cap_pipelines : 32;
    struct vk_pipeline *grown = realloc(s->pipelines, (size_t)cap * sizeof *grown);
    if (grown == NULL) return oc__fail(oc_status_out_of_memory, "vulkan: out of memory");
    s->pipelines = grown;
    s->cap_pipelines = cap;
  }
  VkSpecializationMapEntry entries[4];
  for (uint32_t i = 0; i < 4; i++)
    entries[i] = (VkSpecializationMapEntry){
        .constantID = i, .offset = i * (uint32_t)sizeof(uint32_t), .size = sizeof(uint32_t)};
  VkSpecializationInfo spec_info = {
      .mapEntryCount = 4,
      .pMapEntries = entries,
      .dataSize = 4 * sizeof(uint32_t),
      .pData = spec,
  };
  VkComputePipelineCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
      .stage =
          {
              .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
              .stage = VK_SHADER_STAGE_COMPUTE_BIT,
              .module = s->modules[shader],
              .pName = "main",
              .pSpecializationInfo = &spec_info,
          },
      .layout = s->pipeline_layout,
  };
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkResult r = vkCreateComputePipelines(s->device, s->pipeline_cache, 1, &info, NULL, &pipeline);
  if (r != VK_SUCCESS) {
    char what[160];
    oc__strfmt(what, sizeof what,
               "creating the pipeline of shader '%s' (local size %u x %u x %u, aux %u): "
               "vkCreateComputePipelines",
               s->spirv[shader]->name, (unsigned)spec[0], (unsigned)spec[1], (unsigned)spec[2],
               (unsigned)spec[3]);
    return vk_fail(s, r, what);
  }
  struct vk_pipeline *p = &s->pipelines[s->n_pipelines++];
  p->shader = shader;
  memcpy(p->spec, spec, sizeof p->spec);
  p->pipeline = pipeline;
  *out = pipeline;
  return oc_status_ok;
}

/* ---- cache files ----------------------------------------------------------- */

static bool cache_path(const struct vk_state *s, const char *suffix, char *path, size_t size) {
  char dir[512];
  return s->use_cache && oc__cache_dir(s->cache_dir, dir, sizeof dir) &&
         oc__strfmt(path, size, "%s/vulkan-%016llx.%s", dir, (unsigned long long)s->cache_key,
                    suffix);
}

static uint64_t cache_key(const struct vk_state *s) {
  uint64_t h = oc__hash64_str(OC__HASH_SEED, VK_CACHE_VERSION);
  const VkPhysicalDeviceProperties *p = &s->props;
  h = oc__hash64_str(h, p->deviceName);
  uint32_t ids[4] = {p->vendorID, p->deviceID, p->driverVersion, p->apiVersion};
  h = oc__hash64(h, ids, sizeof ids);
  h = oc__hash64(h, p->pipelineCacheUUID, VK_UUID_SIZE);
  for (int i = 0; i < vk_s__count; i++) h = oc__hash64(h, s->spirv[i]->words, s->spirv[i]->bytes);
  return h;
}

static bool parse_tuning(const char *text, struct vk_tuning *t) {
  unsigned v[2];
  int found = 0;
  const char *line = text;
  if (strncmp(line, "opcost-vulkan-tuning 1\n", 23) != 0) return false;
  while ((line = strchr(line, '\n')) != NULL) {
    line++;
    if (sscanf(line, "gemm_tiled %u", &v[0]) == 1) {
      t->gemm_tiled = v[0] != 0;
      found |= 1;
    } else if (sscanf(line, "gemm_local %u %u", &v[0], &v[1]) == 2) {
      t->gemm_local[0] = v[0];
      t->gemm_local[1] = v[1];
      found |= 2;
    } else if (sscanf(line, "img_local %u %u", &v[0], &v[1]) == 2) {
      t->img_local[0] = v[0];
      t->img_local[1] = v[1];
      found |= 4;
    } else if (sscanf(line, "dw_local %u %u", &v[0], &v[1]) == 2) {
      t->dw_local[0] = v[0];
      t->dw_local[1] = v[1];
      found |= 8;
    } else if (sscanf(line, "ew_local %u", &v[0]) == 1) {
      t->ew_local = v[0];
      found |= 16;
    } else if (sscanf(line, "rows_local %u", &v[0]) == 1) {
      t->rows_local = v[0];
      found |= 32;
    }
  }
  return found == 63;
}

static void save_tuning(const char *path, const struct vk_tuning *t) {
  char text[512];
  if (oc__strfmt(text, sizeof text,
                 "opcost-vulkan-tuning 1\ngemm_tiled %d\ngemm_local %u %u\nimg_local %u %u\n"
                 "dw_local %u %u\new_local %u\nrows_local %u\n",
                 t->gemm_tiled, (unsigned)t->gemm_local[0], (unsigned)t->gemm_local[1],
                 (unsigned)t->img_local[0], (unsigned)t->img_local[1], (unsigned)t->dw_local[0],
                 (unsigned)t->dw_local[1], (unsigned)t->ew_local, (unsigned)t->rows_local))
    oc__write_file_atomic(path, text, strlen(text));
}

enum oc_status oc__vk_load_cache(struct vk_state *s) {
  char path[600];
  size_t size = 0;
  s->cache_key = cache_key(s);
  s->pipeline_cache_loaded = false;
  s->tuning_from_cache = false;
  void *data = cache_path(s, "pipelines", path, sizeof path)
                   ? oc__read_file(path, VK_CACHE_MAX_BYTES, &size)
                   : NULL;
  VkPipelineCacheCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
      .initialDataSize = data ? size : 0,
      .pInitialData = data,
  };
  VkResult r = vkCreatePipelineCache(s->device, &info, NULL, &s->pipeline_cache);
  if (r != VK_SUCCESS && data != NULL) {
    /* Data the driver refuses: start empty. */
    info.initialDataSize = 0;
    info.pInitialData = NULL;
    r = vkCreatePipelineCache(s->device, &info, NULL, &s->pipeline_cache);
  } else if (r == VK_SUCCESS && data != NULL) {
    s->pipeline_cache_loaded = true;
  }
  free(data);
  if (r != VK_SUCCESS) {
    s->pipeline_cache = VK_NULL_HANDLE;
    return vk_fail(s, r, "vkCreatePipelineCache");
  }

  oc__vk_default_tuning(s, &s->tuning);
  if (!s->tune) return oc_status_ok;
  struct vk_tuning t = s->tuning;
  char *text = cache_path(s, "tune", path, sizeof path)
                   ? oc__read_file(path, VK_CACHE_MAX_BYTES, &size)
                   : NULL;
  if (text != NULL && parse_tuning(text, &t)) {
    s->tuning = t;
    s->tuning_from_cache = true;
    free(text);
    return oc_status_ok;
  }
  free(text);
  enum oc_status st = oc__vk_tune(s, &t);
  if (st != oc_status_ok) return st;
  s->tuning = t;
  if (cache_path(s, "tune", path, sizeof path)) save_tuning(path, &t);
  return oc_status_ok;
}

void oc__vk_save_pipeline_cache(struct vk_state *s) {
  char path[600];
  if (s->pipeline_cache == VK_NULL_HANDLE || s->n_pipelines == 0) return;
  size_t size = 0;
  if (vkGetPipelineCacheData(s->device, s->pipeline_cache, &size, NULL) != VK_SUCCESS || size == 0)
    return;
  void *data = malloc(size);
  if (data == NULL) return;
  if (vkGetPipelineCacheData(s->device, s->pipeline_cache, &size, data) == VK_SUCCESS &&
      cache_path(s, "pipelines", path, sizeof path))
    oc__write_file_atomic(path, data, size);
  free(data);
}

/* ---- tuner ----------------------------------------------------------------- */

static uint32_t clamp_group(const struct vk_state *s, uint32_t n) {
  uint32_t max = s->props.limits.maxComputeWorkGroupInvocations;
  if (n > s->props.limits.maxComputeWorkGroupSize[0])
    n = s->props.limits.maxComputeWorkGroupSize[0];
  return n > max ? max : n;
}

void oc__vk_default_tuning(const struct vk_state *s, struct vk_tuning *t) {
  memset(t, 0, sizeof *t);
  t->gemm_local[0] = clamp_group(s, 8);
  t->gemm_local[1] = s->props.limits.maxComputeWorkGroupInvocations >= 64 ? 8 : 1;
  t->img_local[0] = clamp_group(s, 32);
  t->img_local[1] = s->props.limits.maxComputeWorkGroupInvocations >= 64 ? 2 : 1;
  t->dw_local[0] = t->img_local[0];
  t->dw_local[1] = t->img_local[1];
  t->ew_local = clamp_group(s, 64);
  t->rows_local = clamp_group(s, 64);
}

/* Device time of op as planned with s->tuning: one untimed run, then the
 * median of 3 timed runs, or 1 when a run takes longer than TUNE_LONG_US
 * (CPU devices: the ranking is clear and time is short). */
#define TUNE_LONG_US 20000.0
static enum oc_status time_op(struct vk_state *s, const struct oc_op *op, double *us) {
  struct vk_kernel *k = calloc(1, sizeof *k);
  if (k == NULL) return oc__fail(oc_status_out_of_memory, "vulkan tuner: out of memory");
  double t[3] = {0, 0, 0};
  enum oc_status st = oc__vk_plan(s, op, NULL, k);
  if (st == oc_status_ok) st = oc__vk_time_runs_host(s, k, 1, t, NULL);
  const int runs = t[0] > TUNE_LONG_US ? 1 : 3;
  if (st == oc_status_ok) st = oc__vk_time_runs_host(s, k, runs, t, NULL);
  oc__vk_kernel_free(s, k);
  if (st != oc_status_ok) return st;
  if (runs == 1) {
    *us = t[0];
    return oc_status_ok;
  }
  double lo = t[0] < t[1] ? t[0] : t[1], hi = t[0] < t[1] ? t[1] : t[0];
  *us = t[2] < lo ? lo : (t[2] > hi ? hi : t[2]);
  return oc_status_ok;
}

struct family {
  const char *key;
  int n_candidates;
  uint32_t candidates[8][2];
  int tiled_from; /* gemm: candidates from this index are gemm_tiled (T, T) */
};

/* The same families and representative ops as the opencl tuner. */
static const struct family families[] = {
    {"fc.f32 m=128 cin=128 cout=128 act=none",
     7,
     {{8, 8}, {16, 16}, {16, 4}, {4, 16}, {32, 4}, {8, 8}, {16, 16}},
     5},
    {"conv2d.f32 h=14 w=14 cin=32 cout=32 k=3 s=1 g=1 d=1 act=none",
     5,
     {{32, 1}, {32, 2}, {16, 4}, {8, 8}, {64, 1}},
     -1},
    {"conv2d.f32 h=28 w=28 cin=64 cout=64 k=3 s=1 g=64 d=1 act=none",
     5,
     {{32, 1}, {32, 2}, {16, 4}, {8, 8}, {64, 1}},
     -1},
    {"act.f32 h=32 w=64 c=64 act=relu", 4, {{32, 0}, {64, 0}, {128, 0}, {256, 0}}, -1},
    {"softmax.f32 h=1 w=196 c=384", 4, {{32, 0}, {64, 0}, {128, 0}, {256, 0}}, -1},
};

static void apply(struct vk_tuning *t, int family, const struct family *f, int i) {
  const uint32_t *c = f->candidates[i];
  switch (family) {
  case 0:
    t->gemm_tiled = f->tiled_from >= 0 && i >= f->tiled_from;
    t->gemm_local[0] = c[0];
    t->gemm_local[1] = c[1];
    break;
  case 1:
    t->img_local[0] = c[0];
    t->img_local[1] = c[1];
    break;
  case 2:
    t->dw_local[0] = c[0];
    t->dw_local[1] = c[1];
    break;
  case 3: t->ew_local = c[0]; break;
  default: t->rows_local = c[0]; break;
  }
}

enum oc_status oc__vk_tune(struct vk_state *s, struct vk_tuning *out) {
  if (s->timestamp_valid_bits == 0) {
    /* Nothing to time with: keep the defaults. */
    oc__vk_default_tuning(s, out);
    return oc_status_ok;
  }
  const enum vk_conv_algo conv = s->conv;
  struct vk_tuning saved = s->tuning, best_tuning = s->tuning;
  enum oc_status st = oc_status_ok;
  s->conv = vk_conv_direct;
  for (int fi = 0; fi < (int)(sizeof families / sizeof families[0]); fi++) {
    const struct family *f = &families[fi];
    struct oc_op op;
    st = oc_op_parse(f->key, &op);
    if (st != oc_status_ok) break;
    if (fi == 2) s->conv = vk_conv_auto;
    double best = -1;
    for (int i = 0; i < f->n_candidates; i++) {
      const uint32_t *c = f->candidates[i];
      if (c[0] * (c[1] ? c[1] : 1) > s->props.limits.maxComputeWorkGroupInvocations) continue;
      s->tuning = best_tuning;
      apply(&s->tuning, fi, f, i);
      double us = 0;
      if (time_op(s, &op, &us) != oc_status_ok) continue;
      if (best < 0 || us < best) {
        best = us;
        apply(&best_tuning, fi, f, i);
      }
    }
  }
  s->conv = conv;
  s->tuning = saved;
  if (st != oc_status_ok) return st;
  oc_errclear(); /* the messages of skipped candidates */
  *out = best_tuning;
  return oc_status_ok;
}
