/* vulkan_net.c - whole networks on the vulkan backend: the network's
 * tensors placed in device buffers pooled by liveness, every op kernel
 * planned by vulkan_plan.c bound to those buffers, the data moves done by
 * transfer commands, and the whole network recorded into ONE command buffer
 * at prepare time, so that a run is an input upload, one submission and one
 * fence wait.
 *
 * Buffers. The network's input and output live where single ops keep
 * theirs (host-visible memory where the device has it, else device-local
 * with staging copies; memory=staging forces the latter), each in a buffer
 * of its own; parameter tensors (class token, position embedding) and each
 * op's weights and bias are uploaded once, here, from oc_net_params_create's
 * seeded values (the ref runner's, so outputs compare). The other
 * activations share pooled device-local buffers the host never maps, as
 * opencl_net.c does: a buffer whose tensor is dead (past its last_use in
 * the kernel list) serves a later tensor that fits (the smallest such), so
 * the device holds about the liveness peak of net.h, not the sum of all
 * activations. A kernel takes its output buffer before its inputs' buffers
 * are freed, so no kernel writes a buffer it reads: in-place kernels
 * (net.h in_place) are computed out of place, the shaders being written for
 * distinct buffers. The convolutions planned as im2col + GEMM share one
 * column matrix, the scratch buffer (device-local), of the largest size
 * any of them needs (oc__vk_scratch_bytes makes vulkan_plan.c's choice of
 * algorithm), as opencl_net.c does: resnet-50 holds 7.4 MB of columns
 * instead of 58 MB over its 20 such convolutions.
 *
 * Moves (oc_net_move_f32 is the host semantics):
 *   heads_split, heads_merge  vkCmdCopyBuffer with one region per (head,
 *                             token) row of dh floats;
 *   token_prepend             two vkCmdCopyBuffer: the class token, then the
 *                             rows of input 0 after it;
 *   token_select              one vkCmdCopyBuffer of the selected token's row;
 *   zero                      vkCmdFillBuffer with 0.
 *
 * Barriers. Tracked per buffer since the last barrier: whether a command
 * wrote it, and the stages (compute shader, transfer) of the commands that
 * read it. A command waits, behind one global memory barrier, when
 *   - it reads a buffer written since the last barrier (read-after-write);
 *   - it writes a buffer read since the last barrier (write-after-read: the
 *     buffer is a pooled one whose previous tensor's last readers may still
 *     be running, and the new tensor must not overwrite what they read);
 *   - it writes a buffer written since the last barrier (write-after-write:
 *     a pooled buffer whose previous tensor nothing read).
 * The barrier goes from every stage used since the last barrier (its
 * writers and readers) and makes every write since then available, to
 * compute-shader and transfer reads and writes: every command after it then
 * runs after every command before it and sees its writes, so all tracking
 * restarts from nothing. Its source stages always meet the previous
 * barrier's destination stages, so the barriers chain and order a command
 * after everything recorded before the previous barrier too. Commands with
 * no hazard (parallel branches, buffers not touched since the last barrier)
 * follow each other without a barrier. The two steps of one op (im2col,
 * GEMM) have their own compute-to-compute barrier.
 *
 * The scratch buffer is tracked like a pooled buffer that each im2col op
 * both writes (its im2col step) and reads (its GEMM step). So the next
 * im2col op waits behind a barrier before its im2col step overwrites the
 * columns (write-after-read): without it, on a device that overlaps
 * dispatches, the previous convolution's GEMM could still be reading its
 * columns, and would compute from the next one's. Convolutions in a chain
 * already wait for each other's outputs (read-after-write), so this adds a
 * barrier only between im2col convolutions on parallel branches, which then
 * run one after the other instead of overlapping. The last barrier makes
 * the output visible to the host and to a staging read. Runs never overlap
 * (each waits for its fence), so hazards across runs need nothing.
 *
 * Timing. run_net is what the harness times with the host clock: copying
 * the host input into its mapped buffer (or its staging buffer, whose copy
 * to the device-local input is the first command recorded), vkQueueSubmit
 * of the recorded command buffer, and vkWaitForFences. Reading the output
 * is not in it (read_net_output, after the timed runs). The network's
 * command buffer has no timestamp queries: a network is measured end to
 * end as a deployed application sees it (submission, the driver's
 * scheduling between dispatches and the input upload included), the way
 * the host-memory targets' networks are timed, so that cpu and vulkan
 * network latencies compare like with like; the core's
 * oc_target_time_runs refuses network kernels for the same reason. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "opcost/net.h"
#include "targets/targets_internal.h"
#include "targets/vulkan/vulkan.h"

static enum oc_status vk_fail(const struct vk_state *s, VkResult r, const char *what) {
  return oc__fail(oc__vk_status(r), "device '%s': %s returned %d %s", s->device_name, what, (int)r,
                  oc__vk_result_name(r));
}

void oc__vk_release_net(void *state, void *kernel) {
  struct vk_state *s = state;
  struct vk_net *n = kernel;
  if (n == NULL) return;
  if (n->commands) vkFreeCommandBuffers(s->device, s->command_pool, 1, &n->commands);
  if (n->kernels)
    for (int32_t i = 0; i < n->net->n_kernels; i++) oc__vk_kernel_free(s, n->kernels[i]);
  for (int32_t b = 0; b < n->n_buffers; b++) oc__vk_buffer_destroy(s, &n->buffers[b]);
  oc__vk_buffer_destroy(s, &n->input_staging);
  oc__vk_buffer_destroy(s, &n->scratch);
  free(n->kernels);
  free(n->buffers);
  free(n->tensor_buffer);
  free(n);
}

/* The buffer tensor t lives in. */
static struct vk_buffer *tensor_buf(const struct vk_net *n, int32_t t) {
  return &n->buffers[n->tensor_buffer[t]];
}

/* "layer 3 ('id', mbconv.f32 h=...)" into buf. */
static const char *layer_label(const struct oc_net *net, int32_t layer, char *buf, size_t len) {
  const struct oc_net_layer *l = &net->layers[layer];
  if (l->id[0])
    oc__strfmt(buf, len, "layer %d ('%s', %s)", (int)layer, l->id, l->key);
  else
    oc__strfmt(buf, len, "layer %d (%s)", (int)layer, l->key);
  return buf;
}

/* Every op kernel must be one the target runs: checked before anything is
 * allocated, so that an unsupported network fails at once and names it. */
static enum oc_status check_supported(struct vk_state *s, const struct oc_net *net) {
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_op) continue;
    char why[512], key[OC_KEY_MAX], layer[OC_NET_KEY_MAX + OC_NET_ID_MAX + 32];
    if (oc_target_vulkan.supports(s, &k->op, why, sizeof why)) continue;
    oc_op_format(&k->op, key, sizeof key);
    return oc__fail(oc_status_unsupported,
                    "network '%s': %s: kernel %d: op '%s' is not supported on device '%s': %s",
                    net->name, layer_label(net, k->layer, layer, sizeof layer), (int)i, key,
                    s->device_name, why[0] ? why : "no reason given");
  }
  return oc_status_ok;
}

/* A new buffer of the network for tensor t (its index in tensor_buffer):
 * kind says which memory (see the top of the file). */
enum buffer_kind { buffer_host, buffer_param, buffer_local };

static enum oc_status new_buffer(struct vk_state *s, struct vk_net *n, int32_t t,
                                 enum buffer_kind kind, const char *what, const void *host) {
  const VkDeviceSize bytes = (VkDeviceSize)n->net->tensors[t].bytes;
  struct vk_buffer *b = &n->buffers[n->n_buffers];
  enum oc_status st;
  if (kind == buffer_local)
    st = oc__vk_buffer_create_local(s, bytes, what, b);
  else
    st = oc__vk_buffer_create(s, bytes, kind == buffer_param ? host : NULL, what, b);
  if (st != oc_status_ok) {
    oc__vk_buffer_destroy(s, b); /* what a failed create left */
    return oc__fail_prefix(st, "network '%s': tensor %d: ", n->net->name, (int)t);
  }
  n->buffer_bytes += b->bytes;
  n->tensor_buffer[t] = n->n_buffers++;
  return oc_status_ok;
}

/* Places every tensor (see the top of the file): the input, the output
 * and each parameter tensor in a buffer of its own; an activation, when
 * the kernel that writes it comes, in the smallest free pooled buffer that
 * holds it, else in a new one. A pooled buffer is free again after the
 * last kernel that reads its tensor, or at once when nothing reads it. */
static enum oc_status place_tensors(struct vk_state *s, struct vk_net *n,
                                    const struct oc_net_params *params) {
  const struct oc_net *net = n->net;
  enum oc_status st = oc_status_ok;
  bool *pooled = calloc((size_t)net->n_tensors, sizeof *pooled); /* [buffer] */
  bool *busy = calloc((size_t)net->n_tensors, sizeof *busy);     /* [buffer] */
  if (pooled == NULL || busy == NULL) {
    st = oc__fail(oc_status_out_of_memory, "vulkan: out of memory for network '%s'", net->name);
    goto done;
  }
  for (int32_t t = 0; t < net->n_tensors && st == oc_status_ok; t++) {
    const struct oc_net_tensor *ten = &net->tensors[t];
    char what[64];
    n->tensor_buffer[t] = -1;
    if (t == net->input_tensor) {
      /* Host-visible where the device has it: a run copies into it. */
      st = new_buffer(s, n, t, buffer_host, "network input", NULL);
      if (st == oc_status_ok && tensor_buf(n, t)->mapped == NULL) {
        st = oc__vk_buffer_create_host(s, (VkDeviceSize)ten->bytes, "network input staging buffer",
                                       &n->input_staging);
        if (st != oc_status_ok)
          st = oc__fail_prefix(st, "network '%s': tensor %d: ", net->name, (int)t);
      }
    } else if (t == net->output_tensor) {
      st = new_buffer(s, n, t, buffer_host, "network output", NULL);
    } else if (ten->kind == oc_net_tensor_param) {
      oc__strfmt(what, sizeof what, "parameter tensor %d", (int)t);
      st = new_buffer(s, n, t, buffer_param, what, params->tensors[t]);
    }
  }
  for (int32_t i = 0; i < net->n_kernels && st == oc_status_ok; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    const int32_t out = k->output;
    if (n->tensor_buffer[out] < 0) {
      const VkDeviceSize bytes = (VkDeviceSize)net->tensors[out].bytes;
      int32_t best = -1;
      for (int32_t b = 0; b < n->n_buffers; b++)
        if (pooled[b] && !busy[b] && n->buffers[b].bytes >= bytes &&
            (best < 0 || n->buffers[b].bytes < n->buffers[best].bytes))
          best = b;
      if (best >= 0) {
        n->tensor_buffer[out] = best;
      } else {
        char what[64];
        oc__strfmt(what, sizeof what, "activation tensor %d", (int)out);
        st = new_buffer(s, n, out, buffer_local, what, NULL);
        if (st != oc_status_ok) break;
        pooled[n->tensor_buffer[out]] = true;
      }
      busy[n->tensor_buffer[out]] = true;
    }
    /* Inputs read for the last time free their buffers for later kernels
     * (never this kernel's output, taken above), and so does an output
     * nothing reads. */
    for (int32_t j = 0; j < k->n_inputs && j < OC_MAX_INPUTS; j++) {
      const int32_t u = k->input[j], b = n->tensor_buffer[u];
      if (b >= 0 && pooled[b] && net->tensors[u].last_use <= i) busy[b] = false;
    }
    if (pooled[n->tensor_buffer[out]] && net->tensors[out].last_use < 0)
      busy[n->tensor_buffer[out]] = false;
  }
  for (int32_t t = 0; t < net->n_tensors && st == oc_status_ok; t++)
    if (n->tensor_buffer[t] < 0)
      st = oc__fail(oc_status_internal, "network '%s': tensor %d is written by no kernel",
                    net->name, (int)t);
done:
  free(pooled);
  free(busy);
  return st;
}

/* The scratch buffer (see the top of the file): the largest column matrix
 * of the network's ops, none when no op is planned as im2col. */
static enum oc_status make_scratch(struct vk_state *s, struct vk_net *n) {
  const struct oc_net *net = n->net;
  uint64_t bytes = 0;
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_op) continue;
    const uint64_t col = oc__vk_scratch_bytes(s, &k->op);
    if (col > bytes) bytes = col;
  }
  if (bytes == 0) return oc_status_ok;
  enum oc_status st =
      oc__vk_buffer_create_local(s, (VkDeviceSize)bytes, "im2col column matrix", &n->scratch);
  if (st != oc_status_ok) {
    oc__vk_buffer_destroy(s, &n->scratch); /* what a failed create left */
    return oc__fail_prefix(st, "network '%s': ", net->name);
  }
  return oc_status_ok;
}

static enum oc_status plan_kernels(struct vk_state *s, struct vk_net *n,
                                   const struct oc_net_params *params) {
  const struct oc_net *net = n->net;
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_op) continue;
    struct vk_kernel *vk = calloc(1, sizeof *vk);
    if (vk == NULL) return oc__fail(oc_status_out_of_memory, "vulkan: out of memory for a kernel");
    n->kernels[i] = vk;
    struct vk_bind bind = {{NULL, NULL},
                           tensor_buf(n, k->output),
                           n->scratch.buffer != VK_NULL_HANDLE ? &n->scratch : NULL};
    for (int j = 0; j < k->n_inputs && j < OC_MAX_INPUTS; j++)
      bind.input[j] = tensor_buf(n, k->input[j]);
    struct oc_tensors t = {{NULL, NULL}, params->weights[i], params->bias[i], NULL};
    enum oc_status st = oc__vk_plan_bound(s, &k->op, &t, &bind, vk);
    if (st != oc_status_ok) {
      char layer[OC_NET_KEY_MAX + OC_NET_ID_MAX + 32], key[OC_KEY_MAX];
      oc_op_format(&k->op, key, sizeof key);
      return oc__fail_prefix(st, "network '%s': %s: kernel %d: op '%s': ", net->name,
                             layer_label(net, k->layer, layer, sizeof layer), (int)i, key);
    }
  }
  return oc_status_ok;
}

/* Records a data move (see the top of the file). */
static enum oc_status record_move(const struct vk_net *n, int32_t index, VkCommandBuffer cmd) {
  const struct oc_net *net = n->net;
  const struct oc_net_kernel *k = &net->kernels[index];
  const struct oc_tensor_shape *os = &net->tensors[k->output].shape;
  VkBuffer out = tensor_buf(n, k->output)->buffer;
  const VkDeviceSize f = sizeof(float);
  switch (k->step) {
  case oc_net_step_heads_split:
  case oc_net_step_heads_merge: {
    const bool split = k->step == oc_net_step_heads_split;
    const struct oc_tensor_shape *is = &net->tensors[k->input[0]].shape;
    /* split: out [1,heads,T,dh] from in [1,1,T,C]; merge: the reverse. */
    const int64_t heads = k->heads, tokens = split ? os->w : is->w, dh = split ? os->c : is->c;
    const int64_t c = split ? is->c : os->c;
    const int64_t n_regions = heads * tokens;
    if (n_regions <= 0 || dh <= 0) return oc_status_ok;
    VkBufferCopy *regions = malloc((size_t)n_regions * sizeof *regions);
    if (regions == NULL)
      return oc__fail(oc_status_out_of_memory, "network '%s': kernel %d: out of memory", net->name,
                      (int)index);
    for (int64_t h = 0; h < heads; h++) {
      for (int64_t t = 0; t < tokens; t++) {
        const VkDeviceSize rows = (VkDeviceSize)((h * tokens + t) * dh) * f;
        const VkDeviceSize cols = (VkDeviceSize)(t * c + (split ? k->offset : 0) + h * dh) * f;
        regions[h * tokens + t] = (VkBufferCopy){
            .srcOffset = split ? cols : rows,
            .dstOffset = split ? rows : cols,
            .size = (VkDeviceSize)dh * f,
        };
      }
    }
    vkCmdCopyBuffer(cmd, tensor_buf(n, k->input[0])->buffer, out, (uint32_t)n_regions, regions);
    free(regions);
    return oc_status_ok;
  }
  case oc_net_step_token_prepend: {
    const VkDeviceSize c = (VkDeviceSize)os->c, rest = (VkDeviceSize)oc_tensor_elems(os) - c;
    VkBufferCopy token = {.srcOffset = 0, .dstOffset = 0, .size = c * f};
    vkCmdCopyBuffer(cmd, tensor_buf(n, k->input[1])->buffer, out, 1, &token);
    if (rest > 0) {
      VkBufferCopy rows = {.srcOffset = 0, .dstOffset = c * f, .size = rest * f};
      vkCmdCopyBuffer(cmd, tensor_buf(n, k->input[0])->buffer, out, 1, &rows);
    }
    return oc_status_ok;
  }
  case oc_net_step_token_select: {
    /* out [1,1,1,C] = token `offset` of in [1,H,W,C]. */
    const VkDeviceSize c = (VkDeviceSize)os->c;
    VkBufferCopy token = {
        .srcOffset = (VkDeviceSize)k->offset * c * f, .dstOffset = 0, .size = c * f};
    vkCmdCopyBuffer(cmd, tensor_buf(n, k->input[0])->buffer, out, 1, &token);
    return oc_status_ok;
  }
  case oc_net_step_zero: {
    /* The tensor's bytes only: a pooled buffer may be larger. */
    const VkDeviceSize bytes = (VkDeviceSize)net->tensors[k->output].bytes;
    if (bytes > 0) vkCmdFillBuffer(cmd, out, 0, bytes, 0);
    return oc_status_ok;
  }
  case oc_net_step_op: break;
  }
  return oc__fail(oc_status_internal, "network '%s': kernel %d is not a data move", net->name,
                  (int)index);
}

/* Orders the commands of src_stages before those of dst_stages and makes
 * writes of src_access visible to dst_access. */
static void barrier(VkCommandBuffer cmd, VkPipelineStageFlags src_stages, VkAccessFlags src_access,
                    VkPipelineStageFlags dst_stages, VkAccessFlags dst_access) {
  VkMemoryBarrier b = {
      .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
      .srcAccessMask = src_access,
      .dstAccessMask = dst_access,
  };
  vkCmdPipelineBarrier(cmd, src_stages, dst_stages, 0, 1, &b, 0, NULL, 0, NULL);
}

static enum oc_status record_net(struct vk_state *s, struct vk_net *n) {
  const struct oc_net *net = n->net;
  VkCommandBufferAllocateInfo alloc = {
      .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
      .commandPool = s->command_pool,
      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
      .commandBufferCount = 1,
  };
  VkResult r = vkAllocateCommandBuffers(s->device, &alloc, &n->commands);
  if (r != VK_SUCCESS) {
    n->commands = VK_NULL_HANDLE;
    return vk_fail(s, r, "vkAllocateCommandBuffers");
  }
  VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  r = vkBeginCommandBuffer(n->commands, &begin);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkBeginCommandBuffer");
  VkCommandBuffer cmd = n->commands;
  /* Since the last barrier (see the top of the file): per buffer, whether
   * a command wrote it and the stages that read it; the stages of every
   * command and the accesses of every write. The scratch buffer is tracked
   * after the tensors' buffers, at index n_buffers. */
  const int32_t scratch = n->n_buffers, n_tracked = n->n_buffers + 1;
  bool *written = calloc((size_t)n_tracked, sizeof *written);
  VkPipelineStageFlags *read_by = calloc((size_t)n_tracked, sizeof *read_by);
  if (written == NULL || read_by == NULL) {
    free(written);
    free(read_by);
    return oc__fail(oc_status_out_of_memory, "vulkan: out of memory");
  }
  VkPipelineStageFlags pending_stages = 0;
  VkAccessFlags pending_writes = 0;
  const VkPipelineStageFlags stages =
      VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  const VkAccessFlags accesses = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                                 VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  if (n->input_staging.buffer) {
    VkBufferCopy region = {.srcOffset = 0, .dstOffset = 0, .size = n->input_bytes};
    vkCmdCopyBuffer(cmd, n->input_staging.buffer, tensor_buf(n, net->input_tensor)->buffer, 1,
                    &region);
    written[n->tensor_buffer[net->input_tensor]] = true;
    pending_stages |= VK_PIPELINE_STAGE_TRANSFER_BIT;
    pending_writes |= VK_ACCESS_TRANSFER_WRITE_BIT;
  }
  enum oc_status st = oc_status_ok;
  for (int32_t i = 0; i < net->n_kernels && st == oc_status_ok; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    const bool op = k->step == oc_net_step_op;
    const VkPipelineStageFlags stage =
        op ? VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT : VK_PIPELINE_STAGE_TRANSFER_BIT;
    const int n_reads = k->step == oc_net_step_zero ? 0 : k->n_inputs; /* a fill reads nothing */
    const int32_t out = n->tensor_buffer[k->output];
    /* An im2col op writes the scratch before it reads it: write-after-read
     * on the previous im2col op's GEMM reading its columns (see the top of
     * the file). */
    const bool uses_scratch = op && n->kernels[i]->shares_scratch;
    /* Write-after-read and write-after-write on the output's buffer and
     * the scratch, then read-after-write on each input's. */
    bool waits = read_by[out] != 0 || written[out];
    if (uses_scratch) waits = waits || read_by[scratch] != 0 || written[scratch];
    for (int j = 0; j < n_reads && j < OC_MAX_INPUTS; j++)
      waits = waits || written[n->tensor_buffer[k->input[j]]];
    if (waits) {
      barrier(cmd, pending_stages, pending_writes, stages, accesses);
      memset(written, 0, (size_t)n_tracked * sizeof *written);
      memset(read_by, 0, (size_t)n_tracked * sizeof *read_by);
      pending_stages = 0;
      pending_writes = 0;
    }
    if (op)
      oc__vk_record_steps(s, n->kernels[i], cmd);
    else
      st = record_move(n, i, cmd);
    for (int j = 0; j < n_reads && j < OC_MAX_INPUTS; j++)
      read_by[n->tensor_buffer[k->input[j]]] |= stage;
    written[out] = true;
    if (uses_scratch) {
      written[scratch] = true;
      read_by[scratch] |= VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
    }
    pending_stages |= stage;
    pending_writes |= op ? VK_ACCESS_SHADER_WRITE_BIT : VK_ACCESS_TRANSFER_WRITE_BIT;
  }
  free(written);
  free(read_by);
  /* Every result visible to the host (mapped output) and to the transfer
   * of a staging read (oc__vk_buffer_read). */
  barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
          VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
          VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
          VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_HOST_READ_BIT);
  r = vkEndCommandBuffer(cmd);
  if (r != VK_SUCCESS) return vk_fail(s, r, "vkEndCommandBuffer");
  return oc_status_ok;
}

enum oc_status oc__vk_prepare_net(void *state, const struct oc_net *net, const void *input,
                                  void *output, void **kernel) {
  struct vk_state *s = state;
  struct oc_net_params *params = NULL;
  struct vk_net *n = NULL;
  enum oc_status st;
  *kernel = NULL;
  if (input == NULL || output == NULL)
    return oc__fail(oc_status_invalid_argument,
                    "vulkan: network '%s': input or output buffer is NULL", net->name);
  if (net->dtype != oc_dtype_f32)
    return oc__fail(oc_status_unsupported,
                    "vulkan: network '%s': whole-network runs are f32 only (dtype %s)", net->name,
                    oc_dtype_name(net->dtype));
  st = check_supported(s, net);
  if (st != oc_status_ok) return st;
  n = calloc(1, sizeof *n);
  if (n == NULL) return oc__fail(oc_status_out_of_memory, "vulkan: out of memory");
  n->net = net;
  n->input = input;
  n->output = output;
  n->input_bytes = (size_t)net->tensors[net->input_tensor].bytes;
  n->output_bytes = (size_t)net->tensors[net->output_tensor].bytes;
  oc__strfmt(n->what, sizeof n->what, "network '%s'", net->name);
  n->buffers = calloc((size_t)net->n_tensors, sizeof *n->buffers);
  n->tensor_buffer = calloc((size_t)net->n_tensors, sizeof *n->tensor_buffer);
  n->kernels = calloc((size_t)(net->n_kernels > 0 ? net->n_kernels : 1), sizeof *n->kernels);
  if (n->buffers == NULL || n->tensor_buffer == NULL || n->kernels == NULL) {
    st = oc__fail(oc_status_out_of_memory, "vulkan: out of memory for network '%s'", net->name);
    goto fail;
  }
  st = oc_net_params_create(net, OC_NET_PARAM_SEED, &params);
  if (st == oc_status_ok) st = place_tensors(s, n, params);
  if (st == oc_status_ok) st = make_scratch(s, n);
  if (st == oc_status_ok) st = plan_kernels(s, n, params);
  if (st == oc_status_ok) st = record_net(s, n);
  if (st != oc_status_ok) goto fail;
  /* Every parameter is on the device now. */
  oc_net_params_free(params);
  *kernel = n;
  return oc_status_ok;
fail:
  oc_net_params_free(params);
  oc__vk_release_net(s, n);
  return st;
}

/* The timed region (see the top of the file): input upload, submission,
 * fence wait. */
enum oc_status oc__vk_run_net(void *state, void *kernel) {
  struct vk_state *s = state;
  struct vk_net *n = kernel;
  void *dst = n->input_staging.buffer ? n->input_staging.mapped
                                      : tensor_buf(n, n->net->input_tensor)->mapped;
  memcpy(dst, n->input, n->input_bytes);
  return oc__vk_submit_wait(s, n->commands, n->what);
}

enum oc_status oc__vk_read_net_output(void *state, void *kernel) {
  struct vk_state *s = state;
  struct vk_net *n = kernel;
  enum oc_status st =
      oc__vk_buffer_read(s, tensor_buf(n, n->net->output_tensor), n->output, n->output_bytes);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s: reading the output: ", n->what);
  return oc_status_ok;
}
