/* vulkan_plan.c - maps one op of ops/ops.def onto the compute shaders: which
 * shaders (one, or im2col then GEMM), their buffers (filled from the host
 * tensors once, here), descriptor sets, push constants, work-group sizes
 * (from the device's tuning, clamped to its limits) and group counts; then
 * records the command buffer a run submits. Everything is decided at prepare
 * time so that a run is one submission. A network's op binds the network's
 * tensor buffers instead of making its inputs and output
 * (oc__vk_plan_bound), and the network's shared im2col column matrix when
 * it binds one, and leaves recording to vulkan_net.c, which puts
 * every op's steps (oc__vk_record_steps) into one command buffer. The
 * algorithm choices are those of the opencl target
 * (targets/opencl/opencl_plan.c), so the two can be compared op for op. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "targets/ref/ref.h"
#include "targets/vulkan/shaders/act_codes.h"
#include "targets/vulkan/vulkan.h"

/* auto: im2col while the column matrix stays under this many bytes. */
#define VK_IM2COL_MAX_BYTES ((uint64_t)64 << 20)

static int32_t act_code(enum oc_act act) {
  switch (act) {
  case oc_act_none: return VK_ACT_NONE;
  case oc_act_relu: return VK_ACT_RELU;
  case oc_act_relu6: return VK_ACT_RELU6;
  case oc_act_hswish: return VK_ACT_HSWISH;
  case oc_act_hsigmoid: return VK_ACT_HSIGMOID;
  case oc_act_sigmoid: return VK_ACT_SIGMOID;
  case oc_act_swish: return VK_ACT_SWISH;
  case oc_act_gelu: return VK_ACT_GELU;
  case oc_act_tanh: return VK_ACT_TANH;
  case oc_act__count: break;
  }
  return VK_ACT_NONE;
}

void oc__vk_kernel_free(struct vk_state *s, struct vk_kernel *k) {
  if (k == NULL) return;
  if (k->commands) vkFreeCommandBuffers(s->device, s->command_pool, 1, &k->commands);
  if (k->queries) vkDestroyQueryPool(s->device, k->queries, NULL);
  if (k->descriptor_pool) vkDestroyDescriptorPool(s->device, k->descriptor_pool, NULL);
  for (int i = 0; i < k->n_buffers; i++)
    if (!k->borrowed[i]) oc__vk_buffer_destroy(s, &k->buffers[i]);
  free(k);
}

static enum oc_status vk_fail(const struct vk_state *s, VkResult r, const char *what) {
  return oc__fail(oc__vk_status(r), "device '%s': %s returned %d %s", s->device_name, what, (int)r,
                  oc__vk_result_name(r));
}

/* A new buffer of k (index into k->buffers). */
static enum oc_status new_buffer(struct vk_state *s, struct vk_kernel *k, uint64_t bytes,
                                 const void *host, const char *what, int *index) {
  if (k->n_buffers >= VK_MAX_BUFFERS)
    return oc__fail(oc_status_internal, "more than %d buffers", VK_MAX_BUFFERS);
  enum oc_status st = oc__vk_buffer_create(s, bytes, host, what, &k->buffers[k->n_buffers]);
  if (st != oc_status_ok) return st;
  *index = k->n_buffers++;
  return oc_status_ok;
}

/* Local sizes within the device's limits (0 counts as 1). */
static void fit_local(const struct vk_state *s, uint32_t l[3]) {
  const VkPhysicalDeviceLimits *lim = &s->props.limits;
  for (int i = 0; i < 3; i++) {
    if (l[i] == 0) l[i] = 1;
    if (l[i] > lim->maxComputeWorkGroupSize[i]) l[i] = lim->maxComputeWorkGroupSize[i];
  }
  while ((uint64_t)l[0] * l[1] * l[2] > lim->maxComputeWorkGroupInvocations) {
    int big = 0;
    for (int i = 1; i < 3; i++)
      if (l[i] > l[big]) big = i;
    l[big] /= 2;
  }
}

/* Binds an existing buffer (not owned: kernel_free leaves it) as a buffer
 * of k; it must hold at least bytes. */
static enum oc_status borrow_buffer(struct vk_state *s, struct vk_kernel *k,
                                    const struct vk_buffer *b, uint64_t bytes, const char *what,
                                    int *index) {
  if (k->n_buffers >= VK_MAX_BUFFERS)
    return oc__fail(oc_status_internal, "more than %d buffers", VK_MAX_BUFFERS);
  if (b == NULL || b->buffer == VK_NULL_HANDLE || b->bytes < bytes)
    return oc__fail(oc_status_internal, "device '%s': the bound %s holds %llu bytes, not %llu",
                    s->device_name, what, (unsigned long long)(b ? b->bytes : 0),
                    (unsigned long long)bytes);
  k->buffers[k->n_buffers] = *b;
  k->borrowed[k->n_buffers] = true;
  *index = k->n_buffers++;
  return oc_status_ok;
}

static uint64_t div_up(uint64_t n, uint64_t d) { return (n + d - 1) / d; }

static enum oc_status check_groups(const struct vk_state *s, const uint64_t g[3], uint32_t out[3]) {
  for (int i = 0; i < 3; i++) {
    uint64_t n = g[i] ? g[i] : 1;
    if (n > s->props.limits.maxComputeWorkGroupCount[i])
      return oc__fail(oc_status_unsupported,
                      "device '%s': the dispatch needs %llu work-groups in dimension %d; the "
                      "device allows %u (maxComputeWorkGroupCount)",
                      s->device_name, (unsigned long long)n, i,
                      (unsigned)s->props.limits.maxComputeWorkGroupCount[i]);
    out[i] = (uint32_t)n;
  }
  return oc_status_ok;
}

/* n_groups of 1-D work on a 2-D grid (common.glsl's flat_index/flat_group). */
static enum oc_status groups_1d(const struct vk_state *s, uint64_t n_groups, uint32_t out[3]) {
  uint64_t gx = n_groups ? n_groups : 1;
  if (gx > s->props.limits.maxComputeWorkGroupCount[0])
    gx = s->props.limits.maxComputeWorkGroupCount[0];
  const uint64_t g[3] = {gx, div_up(n_groups ? n_groups : 1, gx), 1};
  return check_groups(s, g, out);
}

/* Appends a step: the pipeline of shader for local/aux, a descriptor set
 * binding bufs (-1: the placeholder), the push words. */
static enum oc_status add_step(struct vk_state *s, struct vk_kernel *k, enum vk_shader_id shader,
                               const uint32_t local[3], uint32_t aux, const int bufs[VK_BINDINGS],
                               const int32_t *push, int n_push, const uint32_t groups[3]) {
  if (k->n_steps >= VK_MAX_STEPS)
    return oc__fail(oc_status_internal, "more than %d steps", VK_MAX_STEPS);
  struct vk_step *step = &k->steps[k->n_steps];
  const uint32_t spec[4] = {local[0], local[1], local[2], aux};
  enum oc_status st = oc__vk_pipeline(s, shader, spec, &step->pipeline);
  if (st != oc_status_ok) return st;
  VkDescriptorSetAllocateInfo alloc = {
      .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
      .descriptorPool = k->descriptor_pool,
      .descriptorSetCount = 1,
      .pSetLayouts = &s->set_layout,
  };
  VkResult r = vkAllocateDescriptorSets(s->device, &alloc, &step->set);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkAllocateDescriptorSets");
  VkDescriptorBufferInfo infos[VK_BINDINGS];
  VkWriteDescriptorSet writes[VK_BINDINGS];
  for (uint32_t i = 0; i < VK_BINDINGS; i++) {
    const struct vk_buffer *b = bufs[i] >= 0 ? &k->buffers[bufs[i]] : &s->dummy;
    infos[i] = (VkDescriptorBufferInfo){.buffer = b->buffer, .offset = 0, .range = VK_WHOLE_SIZE};
    writes[i] = (VkWriteDescriptorSet){
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = step->set,
        .dstBinding = i,
        .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .pBufferInfo = &infos[i],
    };
  }
  vkUpdateDescriptorSets(s->device, VK_BINDINGS, writes, 0, NULL);
  memset(step->push, 0, sizeof step->push);
  if (n_push > 0) memcpy(step->push, push, (size_t)n_push * sizeof *push);
  memcpy(step->groups, groups, sizeof step->groups);
  k->n_steps++;
  return oc_status_ok;
}

static int32_t pow2_at_least(int32_t n) {
  int32_t p = 1;
  while (p < n && p < (1 << 30)) p *= 2;
  return p;
}

/* C = A x B (+bias, act): gemm_tiled or gemm_reg as tuned. */
static enum oc_status plan_gemm(struct vk_state *s, struct vk_kernel *k, int A, int B, int bias,
                                int C, int32_t M, int32_t N, int32_t K, int32_t batch, int tb,
                                enum oc_act act) {
  const VkPhysicalDeviceLimits *lim = &s->props.limits;
  const uint32_t T = s->tuning.gemm_local[0];
  const bool tiled = s->tuning.gemm_tiled && T > 0 && T == s->tuning.gemm_local[1] &&
                     T <= lim->maxComputeWorkGroupSize[0] && T <= lim->maxComputeWorkGroupSize[1] &&
                     (uint64_t)T * T <= lim->maxComputeWorkGroupInvocations &&
                     2 * (uint64_t)T * T * sizeof(float) <= lim->maxComputeSharedMemorySize;
  const int32_t push[6] = {M, N, K, tb, bias >= 0, act_code(act)};
  const int bufs[VK_BINDINGS] = {A, B, bias, C};
  uint32_t groups[3];
  enum oc_status st;
  if (tiled) {
    const uint32_t local[3] = {T, T, 1};
    const uint64_t g[3] = {div_up((uint64_t)N, T), div_up((uint64_t)M, T), (uint64_t)batch};
    st = check_groups(s, g, groups);
    if (st != oc_status_ok) return st;
    return add_step(s, k, vk_s_gemm_tiled, local, T, bufs, push, 6, groups);
  }
  uint32_t local[3] = {s->tuning.gemm_local[0], s->tuning.gemm_local[1], 1};
  fit_local(s, local);
  const uint64_t g[3] = {div_up(div_up((uint64_t)N, 4), local[0]),
                         div_up(div_up((uint64_t)M, 4), local[1]), (uint64_t)batch};
  st = check_groups(s, g, groups);
  if (st != oc_status_ok) return st;
  return add_step(s, k, vk_s_gemm_reg, local, 0, bufs, push, 6, groups);
}

/* A 3-D image shader over (c, w, h) invocations. */
static enum oc_status image_step(struct vk_state *s, struct vk_kernel *k, enum vk_shader_id shader,
                                 const uint32_t tuned[2], const int bufs[VK_BINDINGS],
                                 const int32_t *push, int n_push, int64_t c, int64_t w, int64_t h) {
  uint32_t local[3] = {tuned[0], tuned[1], 1};
  fit_local(s, local);
  const uint64_t g[3] = {div_up((uint64_t)c, local[0]), div_up((uint64_t)w, local[1]),
                         div_up((uint64_t)h, local[2])};
  uint32_t groups[3];
  enum oc_status st = check_groups(s, g, groups);
  if (st != oc_status_ok) return st;
  return add_step(s, k, shader, local, 0, bufs, push, n_push, groups);
}

/* A 1-D shader over n invocations. */
static enum oc_status flat_step(struct vk_state *s, struct vk_kernel *k, enum vk_shader_id shader,
                                const int bufs[VK_BINDINGS], const int32_t *push, int n_push,
                                int64_t n) {
  uint32_t local[3] = {s->tuning.ew_local ? s->tuning.ew_local : 64, 1, 1};
  fit_local(s, local);
  uint32_t groups[3];
  enum oc_status st = groups_1d(s, div_up((uint64_t)n, local[0]), groups);
  if (st != oc_status_ok) return st;
  return add_step(s, k, shader, local, 0, bufs, push, n_push, groups);
}

enum conv_algo { conv_direct, conv_dw, conv_gemm, conv_im2col_gemm };

/* The shaders a conv2d runs on and, for im2col, the column matrix's bytes
 * (0 otherwise). The one place the choice is made: plan_conv and
 * oc__vk_scratch_bytes both ask here. */
static enum conv_algo choose_conv(const struct vk_state *s, const struct oc_op *op,
                                  const struct oc_op_shapes *sh, uint64_t *col_bytes) {
  const bool depthwise = op->g == op->cin && op->cout == op->cin;
  const bool pointwise = op->k == 1 && op->s == 1 && op->g == 1;
  const uint64_t col = (uint64_t)sh->output.h * (uint64_t)sh->output.w * (uint64_t)op->k *
                       (uint64_t)op->k * (uint64_t)op->cin * sizeof(float);
  *col_bytes = 0;
  if (s->conv == vk_conv_direct) return conv_direct;
  if (depthwise) return conv_dw;
  if (op->g != 1) return conv_direct;
  if (pointwise) return conv_gemm;
  if (s->conv == vk_conv_gemm ||
      (col <= VK_IM2COL_MAX_BYTES && col <= s->props.limits.maxStorageBufferRange)) {
    *col_bytes = col;
    return conv_im2col_gemm;
  }
  return conv_direct;
}

uint64_t oc__vk_scratch_bytes(const struct vk_state *s, const struct oc_op *op) {
  struct oc_op_shapes sh;
  uint64_t col_bytes = 0;
  if (op->kind != oc_op_conv2d || oc_op_shapes(op, &sh) != oc_status_ok) return 0;
  choose_conv(s, op, &sh, &col_bytes);
  return col_bytes;
}

/* scratch (NULL: none) serves as the im2col column matrix when it holds
 * what the matrix needs; else the kernel makes its own. */
static enum oc_status plan_conv(struct vk_state *s, struct vk_kernel *k, const struct oc_op *op,
                                const struct oc_op_shapes *sh, int in, int w, int bias, int out,
                                const struct vk_buffer *scratch) {
  const int32_t oh = sh->output.h, ow = sh->output.w;
  const int32_t act = act_code(op->act);
  uint64_t col_bytes = 0;
  const enum conv_algo algo = choose_conv(s, op, sh, &col_bytes);
  const int bufs[VK_BINDINGS] = {in, w, bias, out};
  switch (algo) {
  case conv_direct: {
    const int32_t push[13] = {op->h, op->w, op->cin, op->cout,    op->k,        op->s, op->d,
                              op->g, oh,    ow,      sh->pad_top, sh->pad_left, act};
    return image_step(s, k, vk_s_conv2d_direct, s->tuning.img_local, bufs, push, 13, op->cout, ow,
                      oh);
  }
  case conv_dw: {
    const int32_t push[11] = {op->h, op->w, op->cin,     op->k,        op->s, op->d,
                              oh,    ow,    sh->pad_top, sh->pad_left, act};
    return image_step(s, k, vk_s_conv2d_dw, s->tuning.dw_local, bufs, push, 11, op->cout, ow, oh);
  }
  case conv_gemm:
    return plan_gemm(s, k, in, w, bias, out, oh * ow, op->cout, op->cin, 1, 1, op->act);
  case conv_im2col_gemm: {
    const int32_t kd = op->k * op->k * op->cin;
    int col = -1;
    enum oc_status st;
    if (scratch != NULL && scratch->buffer != VK_NULL_HANDLE && scratch->bytes >= col_bytes) {
      st = borrow_buffer(s, k, scratch, col_bytes, "im2col column matrix", &col);
      k->shares_scratch = st == oc_status_ok;
    } else {
      st = new_buffer(s, k, col_bytes, NULL, "im2col column matrix", &col);
    }
    if (st != oc_status_ok) return st;
    const int col_bufs[VK_BINDINGS] = {in, col, -1, -1};
    const int32_t push[10] = {op->h, op->w, op->cin, op->k,       op->s,
                              op->d, oh,    ow,      sh->pad_top, sh->pad_left};
    st = image_step(s, k, vk_s_im2col, s->tuning.img_local, col_bufs, push, 10, kd,
                    (int64_t)oh * ow, 1);
    if (st != oc_status_ok) return st;
    return plan_gemm(s, k, col, w, bias, out, oh * ow, op->cout, kd, 1, 1, op->act);
  }
  }
  return oc__fail(oc_status_internal, "no convolution algorithm");
}

/* softmax_rows / layernorm_rows: one group of L (a power of two) per row. */
static enum oc_status plan_rows(struct vk_state *s, struct vk_kernel *k, const struct oc_op *op,
                                int in, int gamma, int beta, int out) {
  const VkPhysicalDeviceLimits *lim = &s->props.limits;
  const bool ln = op->kind == oc_op_layernorm;
  const int32_t rows = op->h * op->w;
  uint32_t L = s->tuning.rows_local ? s->tuning.rows_local : 64;
  uint32_t cap = (uint32_t)pow2_at_least(op->c);
  if (L > cap) L = cap;
  while (L > 1 && (L > lim->maxComputeWorkGroupSize[0] || L > lim->maxComputeWorkGroupInvocations ||
                   L * sizeof(float) > lim->maxComputeSharedMemorySize))
    L /= 2;
  const uint32_t local[3] = {L, 1, 1};
  uint32_t groups[3];
  enum oc_status st = groups_1d(s, (uint64_t)rows, groups);
  if (st != oc_status_ok) return st;
  if (ln) {
    float eps = (float)OC_REF_LAYERNORM_EPS;
    int32_t push[3] = {rows, op->c, 0};
    memcpy(&push[2], &eps, sizeof eps);
    const int bufs[VK_BINDINGS] = {in, gamma, beta, out};
    return add_step(s, k, vk_s_layernorm_rows, local, L, bufs, push, 3, groups);
  }
  const int32_t push[2] = {rows, op->c};
  const int bufs[VK_BINDINGS] = {in, out, -1, -1};
  return add_step(s, k, vk_s_softmax_rows, local, L, bufs, push, 2, groups);
}

static enum oc_status make_pools(struct vk_state *s, struct vk_kernel *k, bool timestamps) {
  VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                               .descriptorCount = VK_MAX_STEPS * VK_BINDINGS};
  VkDescriptorPoolCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
      .maxSets = VK_MAX_STEPS,
      .poolSizeCount = 1,
      .pPoolSizes = &size,
  };
  VkResult r = vkCreateDescriptorPool(s->device, &info, NULL, &k->descriptor_pool);
  if (r != VK_SUCCESS) {
    k->descriptor_pool = VK_NULL_HANDLE;
    return vk_fail(s, r, "vkCreateDescriptorPool");
  }
  if (timestamps && s->timestamp_valid_bits > 0) {
    VkQueryPoolCreateInfo q = {
        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
        .queryType = VK_QUERY_TYPE_TIMESTAMP,
        .queryCount = 2,
    };
    r = vkCreateQueryPool(s->device, &q, NULL, &k->queries);
    if (r != VK_SUCCESS) {
      k->queries = VK_NULL_HANDLE;
      return vk_fail(s, r, "vkCreateQueryPool");
    }
  }
  return oc_status_ok;
}

void oc__vk_record_steps(struct vk_state *s, const struct vk_kernel *k, VkCommandBuffer cmd) {
  for (int i = 0; i < k->n_steps; i++) {
    const struct vk_step *step = &k->steps[i];
    if (i > 0) {
      /* The previous step's writes (im2col's columns) before this one reads. */
      VkMemoryBarrier barrier = {
          .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT,
      };
      vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                           VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &barrier, 0, NULL, 0, NULL);
    }
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, step->pipeline);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->pipeline_layout, 0, 1,
                            &step->set, 0, NULL);
    vkCmdPushConstants(cmd, s->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof step->push,
                       step->push);
    vkCmdDispatch(cmd, step->groups[0], step->groups[1], step->groups[2]);
  }
}

enum oc_status oc__vk_record(struct vk_state *s, struct vk_kernel *k) {
  VkCommandBufferAllocateInfo alloc = {
      .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
      .commandPool = s->command_pool,
      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
      .commandBufferCount = 1,
  };
  VkResult r = vkAllocateCommandBuffers(s->device, &alloc, &k->commands);
  if (r != VK_SUCCESS) {
    k->commands = VK_NULL_HANDLE;
    return vk_fail(s, r, "vkAllocateCommandBuffers");
  }
  VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  r = vkBeginCommandBuffer(k->commands, &begin);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkBeginCommandBuffer");
  VkCommandBuffer cmd = k->commands;
  if (k->queries) {
    vkCmdResetQueryPool(cmd, k->queries, 0, 2);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, k->queries, 0);
  }
  oc__vk_record_steps(s, k, cmd);
  if (k->queries) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, k->queries, 1);
  /* Results visible to later transfers (staging reads) and to the host. */
  VkMemoryBarrier barrier = {
      .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
      .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
      .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_HOST_READ_BIT,
  };
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                       VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier,
                       0, NULL, 0, NULL);
  r = vkEndCommandBuffer(cmd);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkEndCommandBuffer");
  return oc_status_ok;
}

/* The body of oc__vk_plan and oc__vk_plan_bound: bind NULL makes every
 * buffer (inputs and weights from t), a command buffer and timestamps;
 * bind given borrows its input and output buffers (and its scratch, when it
 * holds an im2col column matrix) and records nothing. */
static enum oc_status plan_op(struct vk_state *s, const struct oc_op *op,
                              const struct oc_tensors *t, const struct vk_bind *bind,
                              struct vk_kernel *k) {
  struct oc_op_shapes sh;
  enum oc_status st = oc_op_shapes(op, &sh);
  if (st != oc_status_ok) return st;
  k->op = *op;
  oc_op_format(op, k->key, sizeof k->key);
  k->output = -1;
  if (t != NULL) {
    for (int i = 0; i < sh.n_inputs; i++)
      if (bind == NULL && t->input[i] == NULL)
        return oc__fail(oc_status_invalid_argument, "input %d buffer is NULL", i);
    if (sh.weight_elems > 0 && t->weights == NULL)
      return oc__fail(oc_status_invalid_argument, "weights buffer is NULL");
  }
  st = make_pools(s, k, bind == NULL);
  if (st != oc_status_ok) return st;

  int in[OC_MAX_INPUTS] = {-1, -1}, w = -1, bias = -1, out = -1;
  static const char *const input_names[OC_MAX_INPUTS] = {"input", "second input"};
  for (int i = 0; i < sh.n_inputs; i++) {
    const uint64_t bytes = (uint64_t)oc_tensor_elems(&sh.input[i]) * sizeof(float);
    if (bind)
      st = borrow_buffer(s, k, bind->input[i], bytes, input_names[i], &in[i]);
    else
      st = new_buffer(s, k, bytes, t ? t->input[i] : NULL, input_names[i], &in[i]);
    if (st != oc_status_ok) return st;
  }
  if (sh.weight_elems > 0) {
    st = new_buffer(s, k, (uint64_t)sh.weight_elems * sizeof(float), t ? t->weights : NULL,
                    "weights", &w);
    if (st != oc_status_ok) return st;
    st = new_buffer(s, k, (uint64_t)sh.bias_elems * sizeof(float), t ? t->bias : NULL, "bias",
                    &bias);
    if (st != oc_status_ok) return st;
  }
  const int64_t n_out = oc_tensor_elems(&sh.output);
  k->output_bytes = (size_t)n_out * sizeof(float);
  if (bind)
    st = borrow_buffer(s, k, bind->output, k->output_bytes, "output", &out);
  else
    st = new_buffer(s, k, k->output_bytes, NULL, "output", &out);
  if (st != oc_status_ok) return st;
  k->output = out;
  k->host_output = t && !bind ? t->output : NULL;

  switch (op->kind) {
  case oc_op_conv2d:
    st = plan_conv(s, k, op, &sh, in[0], w, bias, out, bind ? bind->scratch : NULL);
    break;
  case oc_op_fc:
    st = plan_gemm(s, k, in[0], w, bias, out, op->m, op->cout, op->cin, 1, 1, op->act);
    break;
  case oc_op_matmul:
    st = plan_gemm(s, k, in[0], in[1], -1, out, op->m, op->n, op->k, op->b, op->tb, oc_act_none);
    break;
  case oc_op_maxpool2d:
  case oc_op_avgpool2d: {
    const int32_t push[9] = {op->h,       op->w,       op->c,      op->k,      op->s,
                             sh.output.h, sh.output.w, sh.pad_top, sh.pad_left};
    const int bufs[VK_BINDINGS] = {in[0], out, -1, -1};
    st = image_step(s, k, op->kind == oc_op_maxpool2d ? vk_s_maxpool2d : vk_s_avgpool2d,
                    s->tuning.dw_local, bufs, push, 9, op->c, sh.output.w, sh.output.h);
    break;
  }
  case oc_op_gap: {
    const int32_t push[2] = {op->h * op->w, op->c};
    const int bufs[VK_BINDINGS] = {in[0], out, -1, -1};
    st = flat_step(s, k, vk_s_gap, bufs, push, 2, op->c);
    break;
  }
  case oc_op_act: {
    const int32_t push[2] = {(int32_t)n_out, act_code(op->act)};
    const int bufs[VK_BINDINGS] = {in[0], out, -1, -1};
    st = flat_step(s, k, vk_s_act_ew, bufs, push, 2, n_out);
    break;
  }
  case oc_op_add: {
    const int32_t push[2] = {(int32_t)n_out, act_code(op->act)};
    const int bufs[VK_BINDINGS] = {in[0], in[1], out, -1};
    st = flat_step(s, k, vk_s_add_ew, bufs, push, 2, n_out);
    break;
  }
  case oc_op_mul: {
    const int32_t push[3] = {(int32_t)n_out, op->c, op->bc};
    const int bufs[VK_BINDINGS] = {in[0], in[1], out, -1};
    st = flat_step(s, k, vk_s_mul_ew, bufs, push, 3, n_out);
    break;
  }
  case oc_op_concat: {
    const int32_t push[3] = {op->h * op->w, op->c, op->c2};
    const int bufs[VK_BINDINGS] = {in[0], in[1], out, -1};
    st = flat_step(s, k, vk_s_concat2, bufs, push, 3, n_out);
    break;
  }
  case oc_op_softmax: st = plan_rows(s, k, op, in[0], -1, -1, out); break;
  case oc_op_layernorm: st = plan_rows(s, k, op, in[0], w, bias, out); break;
  case oc_op_kind__count: st = oc__fail(oc_status_unsupported, "kind not implemented"); break;
  }
  if (st != oc_status_ok || bind != NULL) return st;
  return oc__vk_record(s, k);
}

enum oc_status oc__vk_plan(struct vk_state *s, const struct oc_op *op, const struct oc_tensors *t,
                           struct vk_kernel *k) {
  return plan_op(s, op, t, NULL, k);
}

enum oc_status oc__vk_plan_bound(struct vk_state *s, const struct oc_op *op,
                                 const struct oc_tensors *t, const struct vk_bind *bind,
                                 struct vk_kernel *k) {
  if (bind == NULL || t == NULL)
    return oc__fail(oc_status_internal, "oc__vk_plan_bound: no buffers to bind");
  return plan_op(s, op, t, bind, k);
}

enum oc_status oc__vk_plan_dispatch(struct vk_state *s, struct vk_kernel *k,
                                    enum vk_shader_id shader, const uint32_t local[3],
                                    const int bufs[VK_BINDINGS], const int32_t *push, int n_push,
                                    uint64_t n_groups) {
  uint32_t groups[3];
  enum oc_status st = make_pools(s, k, true);
  if (st == oc_status_ok) st = groups_1d(s, n_groups, groups);
  if (st == oc_status_ok) st = add_step(s, k, shader, local, 0, bufs, push, n_push, groups);
  if (st == oc_status_ok) st = oc__vk_record(s, k);
  return st;
}
