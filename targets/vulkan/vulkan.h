/* vulkan.h - internals of the vulkan backend shared by its files: the
 * embedded SPIR-V table, the open state (instance, device, compute queue,
 * one descriptor-set and pipeline layout shared by every shader, pipelines
 * made so far, the tuned work-group sizes), the prepared kernel (buffers,
 * descriptor sets and a command buffer recorded once, with two timestamp
 * queries around its dispatches), VkResult translation and the device
 * characterization the probe harness calls. Not public.
 *
 * A kernel is planned once in prepare (buffers allocated and filled,
 * pipelines made, the command buffer recorded) and run many times: run only
 * submits the recorded command buffer and waits for its fence. A network
 * (vulkan_net.c, struct vk_net) plans each op bound to the network's tensor
 * buffers, pooled by liveness, and to one im2col column matrix shared by
 * its convolutions (oc__vk_plan_bound), and records all of them into one
 * command buffer. */
#ifndef OPCOST_TARGETS_VULKAN_H
#define OPCOST_TARGETS_VULKAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vulkan/vulkan.h>

#include "opcost/net.h"
#include "opcost/op.h"
#include "opcost/target.h"

/* One compiled shader of shaders/ (vulkan_shaders.c, generated). */
struct oc__vk_spirv {
  const char *name; /* file name without .comp */
  const uint32_t *words;
  size_t bytes;
};
extern const struct oc__vk_spirv oc__vk_shaders[];
extern const size_t oc__vk_shader_count;

/* Every shader the backend uses: X(name), name = shaders/name.comp. */
// clang-format off
#define VK_SHADER_MAP(X) \
  X(gemm_reg) X(gemm_tiled) X(conv2d_direct) X(conv2d_dw) X(im2col) X(maxpool2d) \
  X(avgpool2d) X(gap) X(act_ew) X(add_ew) X(mul_ew) X(concat2) \
  X(softmax_rows) X(layernorm_rows) X(peak_fma) X(copy4) X(empty)
// clang-format on

enum vk_shader_id {
#define VK_SHADER_ENUM(name) vk_s_##name,
  VK_SHADER_MAP(VK_SHADER_ENUM)
#undef VK_SHADER_ENUM
      vk_s__count
};

/* Storage buffers a shader binds (set 0, bindings 0..3) and push-constant
 * words (ints, or a float's bits) it reads; every pipeline shares them. */
#define VK_BINDINGS 4
#define VK_PUSH_WORDS 16

enum vk_conv_algo { vk_conv_auto, vk_conv_direct, vk_conv_gemm };

/* Work-group sizes the tuner chose (as struct ocl_tuning of the opencl
 * target; a size of 0 means the default of 64 x 1). */
struct vk_tuning {
  int gemm_tiled;
  uint32_t gemm_local[2];
  uint32_t img_local[2];
  uint32_t dw_local[2];
  uint32_t ew_local;
  uint32_t rows_local;
};

struct vk_buffer {
  VkBuffer buffer;
  VkDeviceMemory memory;
  void *mapped; /* host-visible and coherent: mapped for good; else NULL (staging) */
  VkDeviceSize bytes;
};

/* A pipeline of one shader with one set of specialization constants
 * (local size x, y, z and an auxiliary size). */
struct vk_pipeline {
  enum vk_shader_id shader;
  uint32_t spec[4];
  VkPipeline pipeline;
};

struct vk_state {
  VkInstance instance; /* the process-wide instance (vulkan.c); not owned */
  VkPhysicalDevice physical;
  VkDevice device;
  VkQueue queue;
  uint32_t queue_family;
  VkCommandPool command_pool;
  VkFence fence;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout pipeline_layout;
  VkPipelineCache pipeline_cache;
  VkShaderModule modules[vk_s__count];
  const struct oc__vk_spirv *spirv[vk_s__count];
  struct vk_pipeline *pipelines; /* grows; owned */
  int n_pipelines, cap_pipelines;
  struct vk_buffer dummy; /* bound to the bindings a shader does not use */
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties memory_props;
  uint32_t timestamp_valid_bits; /* of the queue family; 0: no timestamps */
  double timestamp_period_ns;
  int device_index;
  uint32_t loader_version;
  char device_name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
  /* Options from the target arguments. */
  enum vk_conv_algo conv;
  bool force_staging; /* memory=staging: device-local buffers and copies */
  bool use_cache;
  bool tune;
  char cache_dir[512];
  /* Cache state (tests check it). */
  uint64_t cache_key;
  bool tuning_from_cache;
  bool pipeline_cache_loaded;
  struct vk_tuning tuning;
};

struct vk_step {
  VkPipeline pipeline;
  VkDescriptorSet set;
  int32_t push[VK_PUSH_WORDS];
  uint32_t groups[3];
};

#define VK_MAX_STEPS 2
#define VK_MAX_BUFFERS 6

struct vk_kernel {
  struct oc_op op;
  char key[OC_KEY_MAX];
  int n_steps;
  struct vk_step steps[VK_MAX_STEPS];
  int n_buffers;
  struct vk_buffer buffers[VK_MAX_BUFFERS];
  /* Buffers the kernel binds but does not own (a network's tensors):
   * oc__vk_kernel_free leaves them alone. */
  bool borrowed[VK_MAX_BUFFERS];
  /* The im2col column matrix is the bound scratch (struct vk_bind), not a
   * buffer of the kernel's own. */
  bool shares_scratch;
  int output; /* index into buffers */
  void *host_output;
  size_t output_bytes;
  VkDescriptorPool descriptor_pool;
  VkCommandBuffer commands; /* VK_NULL_HANDLE for a network's kernel */
  VkQueryPool queries;      /* two timestamps; VK_NULL_HANDLE without timestamps */
};

/* Existing buffers an op binds instead of making its own (a network's
 * tensors): inputs and output. The op still makes its weights and bias
 * from struct oc_tensors. scratch, when not NULL, is a buffer the op uses
 * as its im2col column matrix when it holds what the matrix needs
 * (oc__vk_scratch_bytes); else the op makes its own. A network shares one
 * among its convolutions and orders their uses with barriers. */
struct vk_bind {
  const struct vk_buffer *input[OC_MAX_INPUTS];
  const struct vk_buffer *output;
  const struct vk_buffer *scratch;
};

/* Symbolic name of a VkResult ("VK_ERROR_DEVICE_LOST"). */
const char *oc__vk_result_name(VkResult result);
/* out_of_memory for the memory errors, device_error for the rest. */
enum oc_status oc__vk_status(VkResult result);

/* Parses the target arguments ("device=D,...") into s's options. */
enum oc_status oc__vk_parse_args(const char *args, struct vk_state *s);

/* Opens/closes everything of a state (vulkan.c); shared by the vtable and
 * characterization. */
enum oc_status oc__vk_open_state(const char *args, struct vk_state **out);
void oc__vk_close_state(struct vk_state *s);

/* Buffers (vulkan_device.c). host (may be NULL: zeros) fills the new
 * buffer; what names it in messages ("weights"). */
enum oc_status oc__vk_buffer_create(struct vk_state *s, VkDeviceSize bytes, const void *host,
                                    const char *what, struct vk_buffer *out);
void oc__vk_buffer_destroy(struct vk_state *s, struct vk_buffer *b);
/* A zero-filled buffer in device-local memory that the host never maps
 * (a network's activations), whatever memory=... says. */
enum oc_status oc__vk_buffer_create_local(struct vk_state *s, VkDeviceSize bytes, const char *what,
                                          struct vk_buffer *out);
/* A zero-filled host-visible coherent buffer, mapped for good, whatever
 * memory=... says (a network's input staging buffer). */
enum oc_status oc__vk_buffer_create_host(struct vk_state *s, VkDeviceSize bytes, const char *what,
                                         struct vk_buffer *out);
enum oc_status oc__vk_buffer_read(struct vk_state *s, struct vk_buffer *b, void *host,
                                  size_t bytes);

/* The pipeline of shader with specialization constants spec, made once per
 * state (and kept in the on-disk pipeline cache). */
enum oc_status oc__vk_pipeline(struct vk_state *s, enum vk_shader_id shader, const uint32_t spec[4],
                               VkPipeline *out);

/* Loads the tuning from the cache or runs the tuner; loads the pipeline
 * cache data. Called by open. */
enum oc_status oc__vk_load_cache(struct vk_state *s);
/* Saves the pipeline cache data (called by close). */
void oc__vk_save_pipeline_cache(struct vk_state *s);
void oc__vk_default_tuning(const struct vk_state *s, struct vk_tuning *t);
enum oc_status oc__vk_tune(struct vk_state *s, struct vk_tuning *t);

/* Plans op into k (vulkan_plan.c): buffers, descriptor sets, recorded
 * commands. tensors NULL: zero-filled buffers and no host output (tuner).
 * On failure what was made stays in k for oc__vk_kernel_free. */
enum oc_status oc__vk_plan(struct vk_state *s, const struct oc_op *op,
                           const struct oc_tensors *tensors, struct vk_kernel *k);
void oc__vk_kernel_free(struct vk_state *s, struct vk_kernel *k); /* NULL-safe, frees k */

/* Bytes of the im2col column matrix op would use on s (0: none, the op is
 * not a convolution planned as im2col + GEMM): the choice oc__vk_plan
 * makes, so a network can size one scratch buffer for all its ops. */
uint64_t oc__vk_scratch_bytes(const struct vk_state *s, const struct oc_op *op);

/* Plans op as oc__vk_plan does, but bound to bind's buffers (tensors
 * gives only weights and bias) and without a command buffer or timestamps
 * of its own: the caller records its steps with oc__vk_record_steps into
 * a command buffer of its own (a network's). */
enum oc_status oc__vk_plan_bound(struct vk_state *s, const struct oc_op *op,
                                 const struct oc_tensors *tensors, const struct vk_bind *bind,
                                 struct vk_kernel *k);
/* Records k's dispatches into cmd, with a compute-to-compute barrier
 * between its own steps (im2col before GEMM); no barrier before the first. */
void oc__vk_record_steps(struct vk_state *s, const struct vk_kernel *k, VkCommandBuffer cmd);

/* A kernel of one dispatch of shader (characterization): n_groups
 * work-groups of local on a 2-D grid (common.glsl's flat_index), bound to
 * k->buffers[bufs[i]] (-1: the placeholder), with push words; the caller
 * has created k's buffers. */
enum oc_status oc__vk_plan_dispatch(struct vk_state *s, struct vk_kernel *k,
                                    enum vk_shader_id shader, const uint32_t local[3],
                                    const int bufs[VK_BINDINGS], const int32_t *push, int n_push,
                                    uint64_t n_groups);

/* Records steps into k->commands, with timestamps around them when the
 * queue has them and a barrier that makes the results visible to copies
 * and to the host. */
enum oc_status oc__vk_record(struct vk_state *s, struct vk_kernel *k);

/* Submits k's commands once and waits (what names the submission in
 * messages, with the op and the device). */
enum oc_status oc__vk_submit_wait(struct vk_state *s, VkCommandBuffer commands, const char *what);

/* Device time in ns of the last submission of k: the two timestamps, their
 * difference masked to timestampValidBits (so a counter that wrapped between
 * them still gives the right span) and scaled by timestampPeriod. A zero
 * span is reported as one tick, the shortest time the clock can tell. */
enum oc_status oc__vk_read_timestamps(struct vk_state *s, struct vk_kernel *k, double *ns);

/* Pure arithmetic of oc__vk_read_timestamps, for tests: ticks between start
 * and end for a counter of valid_bits bits (1..64). */
uint64_t oc__vk_timestamp_ticks(uint64_t start, uint64_t end, uint32_t valid_bits);

/* Runs k `runs` times, one submission each: device_us[i] from the
 * timestamps and, when host_us is not NULL, host_us[i] the host's
 * end-to-end latency of the same submission (submit to fence seen). */
enum oc_status oc__vk_time_runs_host(struct vk_state *s, struct vk_kernel *k, int runs,
                                     double *device_us, double *host_us);

/* ---- whole networks (vulkan_net.c) ----------------------------------------- */

/* A prepared network: the kernel prepare_net returns. Tensor t lives in
 * buffers[tensor_buffer[t]]: the input, the output and each parameter
 * tensor in a buffer of its own, activations in pooled buffers shared by
 * liveness (see vulkan_net.c). Each op kernel binds those buffers and owns
 * its weights and bias; the im2col convolutions share one column matrix,
 * scratch, of the largest size any of them needs. */
struct vk_net {
  const struct oc_net *net;
  const void *input; /* host buffers of the caller */
  void *output;
  size_t input_bytes, output_bytes;
  int32_t n_buffers;              /* buffers made for tensors */
  struct vk_buffer *buffers;      /* [n_tensors] room, n_buffers made; owned */
  int32_t *tensor_buffer;         /* [n_tensors]: index into buffers */
  uint64_t buffer_bytes;          /* device memory of the tensors: sum of buffers[].bytes */
  struct vk_buffer input_staging; /* when the input buffer is not mapped */
  /* The im2col column matrix of every convolution planned as im2col + GEMM
   * (device-local); buffer VK_NULL_HANDLE and bytes 0 when there is none.
   * Not counted in buffer_bytes. */
  struct vk_buffer scratch;
  struct vk_kernel **kernels; /* [n_kernels]: op kernels; NULL for moves */
  VkCommandBuffer commands;
  char what[OC_NET_NAME_MAX + 16]; /* "network 'NAME'" for messages */
};

enum oc_status oc__vk_prepare_net(void *state, const struct oc_net *net, const void *input,
                                  void *output, void **kernel);
enum oc_status oc__vk_run_net(void *state, void *kernel);
enum oc_status oc__vk_read_net_output(void *state, void *kernel);
void oc__vk_release_net(void *state, void *kernel);

/* ---- device characterization ---------------------------------------------- */

struct oc__vulkan_characteristics {
  char device[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
  double peak_gflops;         /* FP32 FMA throughput, 2 FLOPs per FMA */
  double bandwidth_gbps;      /* buffer copy: (read + write bytes) / time, 1e9 B/s */
  double launch_us;           /* host: submit of one empty dispatch to its fence (median) */
  double empty_kernel_us;     /* device: timestamps around an empty dispatch (median) */
  double timestamp_period_ns; /* VkPhysicalDeviceLimits::timestampPeriod */
  uint32_t timestamp_valid_bits;
};

/* Opens the device as `-t vulkan:ARGS` would (args may be NULL or ""),
 * measures it, closes it; quick: a smaller copy, shorter FMA runs, fewer
 * repeats. Statuses: unavailable (no driver or device), unsupported (the
 * queue has no timestamps), device_error, out_of_memory, invalid_argument. */
enum oc_status oc__vulkan_characterize(const char *args, bool quick,
                                       struct oc__vulkan_characteristics *out);

/* The measurements of oc__vulkan_characterize on an open state. */
enum oc_status oc__vk_characterize_state(struct vk_state *s, bool quick,
                                         struct oc__vulkan_characteristics *out);

#endif
