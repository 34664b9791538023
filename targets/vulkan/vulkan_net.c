/* vulkan_net.c - whole networks on the vulkan backend: one device buffer per
 * tensor of the network, every op kernel planned by vulkan_plan.c bound to
 * those buffers, the data moves done by transfer commands, and the whole
 * network recorded into ONE command buffer at prepare time, so that a run
 * is an input upload, one submission and one fence wait.
 *
 * Buffers. The network's input and output live where single ops keep
 * theirs (host-visible memory where the device has it, else device-local
 * with staging copies; memory=staging forces the latter); every other
 * activation is device-local memory the host never maps; parameter tensors
 * (class token, position embedding) and each op's weights and bias are
 * uploaded once, here, from oc_net_params_create's seeded values (the ref
 * runner's, so outputs compare). Each tensor has its own buffer, written
 * once a run: buffers are not reused across the liveness schedule (the
 * device holds the sum of all activations, not the peak) and in-place
 * kernels are computed out of place.
 *
 * Moves (oc_net_move_f32 is the host semantics):
 *   heads_split, heads_merge  vkCmdCopyBuffer with one region per (head,
 *                             token) row of dh floats;
 *   token_prepend             two vkCmdCopyBuffer: the class token, then the
 *                             rows of input 0 after it;
 *   token_select              one vkCmdCopyBuffer of the selected token's row;
 *   zero                      vkCmdFillBuffer with 0.
 *
 * Barriers. Every tensor is written by one command a run, so the only
 * hazards inside a run are read-after-write. Writes since the last barrier
 * are tracked per tensor; before a command that reads one of them a global
 * memory barrier goes from the stages that wrote (compute shader, transfer)
 * to both compute-shader and transfer reads, and every write is then
 * visible to every later reader. Commands with no pending input (parallel
 * branches) follow each other without a barrier. The two steps of one op
 * (im2col, GEMM) have their own compute-to-compute barrier. The last
 * barrier makes the output visible to the host and to a staging read.
 * Runs never overlap (each waits for its fence), so write-after-read
 * across runs needs nothing.
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

struct vk_net {
  const struct oc_net *net;
  const void *input; /* host buffers of the caller */
  void *output;
  size_t input_bytes, output_bytes;
  struct vk_buffer *tensors;      /* [n_tensors]; owned */
  struct vk_buffer input_staging; /* when the input buffer is not mapped */
  struct vk_kernel **kernels;     /* [n_kernels]: op kernels; NULL for moves */
  VkCommandBuffer commands;
  char what[OC_NET_NAME_MAX + 16]; /* "network 'NAME'" for messages */
};

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
  if (n->tensors)
    for (int32_t t = 0; t < n->net->n_tensors; t++) oc__vk_buffer_destroy(s, &n->tensors[t]);
  oc__vk_buffer_destroy(s, &n->input_staging);
  free(n->kernels);
  free(n->tensors);
  free(n);
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

static enum oc_status make_tensors(struct vk_state *s, struct vk_net *n,
                                   const struct oc_net_params *params) {
  const struct oc_net *net = n->net;
  for (int32_t t = 0; t < net->n_tensors; t++) {
    const struct oc_net_tensor *ten = &net->tensors[t];
    const VkDeviceSize bytes = (VkDeviceSize)ten->bytes;
    char what[64];
    enum oc_status st;
    if (ten->kind == oc_net_tensor_input) {
      /* Host-visible where the device has it: a run copies into it. */
      st = oc__vk_buffer_create(s, bytes, NULL, "network input", &n->tensors[t]);
      if (st == oc_status_ok && n->tensors[t].mapped == NULL)
        st = oc__vk_buffer_create_host(s, bytes, "network input staging buffer", &n->input_staging);
    } else if (ten->kind == oc_net_tensor_param) {
      oc__strfmt(what, sizeof what, "parameter tensor %d", (int)t);
      st = oc__vk_buffer_create(s, bytes, params->tensors[t], what, &n->tensors[t]);
    } else if (t == net->output_tensor) {
      st = oc__vk_buffer_create(s, bytes, NULL, "network output", &n->tensors[t]);
    } else {
      oc__strfmt(what, sizeof what, "activation tensor %d", (int)t);
      st = oc__vk_buffer_create_local(s, bytes, what, &n->tensors[t]);
    }
    if (st != oc_status_ok)
      return oc__fail_prefix(st, "network '%s': tensor %d: ", net->name, (int)t);
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
    struct vk_bind bind = {{NULL, NULL}, &n->tensors[k->output]};
    for (int j = 0; j < k->n_inputs && j < OC_MAX_INPUTS; j++)
      bind.input[j] = &n->tensors[k->input[j]];
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
  VkBuffer out = n->tensors[k->output].buffer;
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
    vkCmdCopyBuffer(cmd, n->tensors[k->input[0]].buffer, out, (uint32_t)n_regions, regions);
    free(regions);
    return oc_status_ok;
  }
  case oc_net_step_token_prepend: {
    const VkDeviceSize c = (VkDeviceSize)os->c, rest = (VkDeviceSize)oc_tensor_elems(os) - c;
    VkBufferCopy token = {.srcOffset = 0, .dstOffset = 0, .size = c * f};
    vkCmdCopyBuffer(cmd, n->tensors[k->input[1]].buffer, out, 1, &token);
    if (rest > 0) {
      VkBufferCopy rows = {.srcOffset = 0, .dstOffset = c * f, .size = rest * f};
      vkCmdCopyBuffer(cmd, n->tensors[k->input[0]].buffer, out, 1, &rows);
    }
    return oc_status_ok;
  }
  case oc_net_step_token_select: {
    /* out [1,1,1,C] = token `offset` of in [1,H,W,C]. */
    const VkDeviceSize c = (VkDeviceSize)os->c;
    VkBufferCopy token = {
        .srcOffset = (VkDeviceSize)k->offset * c * f, .dstOffset = 0, .size = c * f};
    vkCmdCopyBuffer(cmd, n->tensors[k->input[0]].buffer, out, 1, &token);
    return oc_status_ok;
  }
  case oc_net_step_zero: vkCmdFillBuffer(cmd, out, 0, VK_WHOLE_SIZE, 0); return oc_status_ok;
  case oc_net_step_op: break;
  }
  return oc__fail(oc_status_internal, "network '%s': kernel %d is not a data move", net->name,
                  (int)index);
}

/* Makes writes of src_stages (src_access) visible to compute-shader and
 * transfer reads. */
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
  bool *pending = calloc((size_t)net->n_tensors, sizeof *pending);
  if (pending == NULL) return oc__fail(oc_status_out_of_memory, "vulkan: out of memory");
  VkPipelineStageFlags pending_stages = 0;
  VkAccessFlags pending_access = 0;
  const VkPipelineStageFlags readers =
      VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  const VkAccessFlags reads = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT;
  if (n->input_staging.buffer) {
    VkBufferCopy region = {.srcOffset = 0, .dstOffset = 0, .size = n->input_bytes};
    vkCmdCopyBuffer(cmd, n->input_staging.buffer, n->tensors[net->input_tensor].buffer, 1, &region);
    pending[net->input_tensor] = true;
    pending_stages |= VK_PIPELINE_STAGE_TRANSFER_BIT;
    pending_access |= VK_ACCESS_TRANSFER_WRITE_BIT;
  }
  enum oc_status st = oc_status_ok;
  for (int32_t i = 0; i < net->n_kernels && st == oc_status_ok; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    bool waits = false;
    if (k->step != oc_net_step_zero)
      for (int j = 0; j < k->n_inputs; j++) waits = waits || pending[k->input[j]];
    if (waits) {
      barrier(cmd, pending_stages, pending_access, readers, reads);
      memset(pending, 0, (size_t)net->n_tensors * sizeof *pending);
      pending_stages = 0;
      pending_access = 0;
    }
    if (k->step == oc_net_step_op) {
      oc__vk_record_steps(s, n->kernels[i], cmd);
      pending_stages |= VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
      pending_access |= VK_ACCESS_SHADER_WRITE_BIT;
    } else {
      st = record_move(n, i, cmd);
      pending_stages |= VK_PIPELINE_STAGE_TRANSFER_BIT;
      pending_access |= VK_ACCESS_TRANSFER_WRITE_BIT;
    }
    pending[k->output] = true;
  }
  free(pending);
  if (st != oc_status_ok) return st;
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
  n->tensors = calloc((size_t)net->n_tensors, sizeof *n->tensors);
  n->kernels = calloc((size_t)(net->n_kernels > 0 ? net->n_kernels : 1), sizeof *n->kernels);
  if (n->tensors == NULL || n->kernels == NULL) {
    st = oc__fail(oc_status_out_of_memory, "vulkan: out of memory for network '%s'", net->name);
    goto fail;
  }
  st = oc_net_params_create(net, OC_NET_PARAM_SEED, &params);
  if (st == oc_status_ok) st = make_tensors(s, n, params);
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
  void *dst =
      n->input_staging.buffer ? n->input_staging.mapped : n->tensors[n->net->input_tensor].mapped;
  memcpy(dst, n->input, n->input_bytes);
  return oc__vk_submit_wait(s, n->commands, n->what);
}

enum oc_status oc__vk_read_net_output(void *state, void *kernel) {
  struct vk_state *s = state;
  struct vk_net *n = kernel;
  enum oc_status st =
      oc__vk_buffer_read(s, &n->tensors[n->net->output_tensor], n->output, n->output_bytes);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s: reading the output: ", n->what);
  return oc_status_ok;
}
