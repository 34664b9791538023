/* vulkan_char.c - device characterization for the probe harness: peak FP32
 * FMA throughput, buffer-copy bandwidth, and the cost of a launch (host
 * round trip of one submission and the timestamped duration of an empty
 * dispatch), measured with peak_fma.comp, copy4.comp and empty.comp. These
 * are the roofline's ceilings and the fixed cost of every op.
 *
 * Bounds: the FMA dispatch's iteration count grows until one run takes at
 * least VK_CHAR_MIN_NS (or a cap); the copy moves at most VK_CHAR_COPY_BYTES
 * (and no more than a storage buffer holds); quick divides both by
 * VK_CHAR_QUICK_DIV. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "targets/vulkan/vulkan.h"

#define VK_CHAR_MIN_NS 20e6
#define VK_CHAR_MAX_ITERS (1 << 16)
#define VK_CHAR_ITEMS 65536
#define VK_CHAR_COPY_BYTES ((uint64_t)64 << 20)
#define VK_CHAR_REPS 3
#define VK_CHAR_LAUNCHES 15
/* quick: a quarter of the copy, a quarter of the FMA time, fewer repeats. */
#define VK_CHAR_QUICK_DIV 4

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* A kernel of one dispatch over buffers of the given sizes (bytes), bound
 * in order. */
static enum oc_status dispatch_kernel(struct vk_state *s, enum vk_shader_id shader,
                                      uint32_t local_x, uint64_t n_groups, const uint64_t *bytes,
                                      int n_buffers, const int32_t *push, int n_push,
                                      struct vk_kernel **out) {
  struct vk_kernel *k = calloc(1, sizeof *k);
  if (k == NULL) return oc__fail(oc_status_out_of_memory, "vulkan: out of memory");
  oc__strfmt(k->key, sizeof k->key, "characterization:%s", s->spirv[shader]->name);
  int bufs[VK_BINDINGS] = {-1, -1, -1, -1};
  enum oc_status st = oc_status_ok;
  for (int i = 0; i < n_buffers && st == oc_status_ok; i++) {
    st = oc__vk_buffer_create(s, bytes[i], NULL, "characterization buffer", &k->buffers[i]);
    if (st == oc_status_ok) bufs[i] = k->n_buffers++;
  }
  const uint32_t local[3] = {local_x, 1, 1};
  if (st == oc_status_ok)
    st = oc__vk_plan_dispatch(s, k, shader, local, bufs, push, n_push, n_groups);
  if (st != oc_status_ok) {
    oc__vk_kernel_free(s, k);
    return st;
  }
  *out = k;
  return oc_status_ok;
}

/* Best device time of reps runs after one untimed run. */
static enum oc_status best_of(struct vk_state *s, struct vk_kernel *k, int reps, double *us) {
  double t[VK_CHAR_REPS + 1];
  enum oc_status st = oc__vk_time_runs_host(s, k, reps + 1, t, NULL);
  if (st != oc_status_ok) return st;
  *us = t[1];
  for (int i = 2; i <= reps; i++)
    if (t[i] < *us) *us = t[i];
  return oc_status_ok;
}

enum oc_status oc__vk_characterize_state(struct vk_state *s, bool quick,
                                         struct oc__vulkan_characteristics *out) {
  enum oc_status st = oc_status_ok;
  struct vk_kernel *k = NULL;
  memset(out, 0, sizeof *out);
  oc__strcpy(out->device, sizeof out->device, s->device_name);
  out->timestamp_period_ns = s->timestamp_period_ns;
  out->timestamp_valid_bits = s->timestamp_valid_bits;
  if (s->timestamp_valid_bits == 0)
    return oc__fail(oc_status_unsupported,
                    "characterizing device '%s': its compute queue has no timestamps",
                    s->device_name);
  const double min_ns = VK_CHAR_MIN_NS / (quick ? VK_CHAR_QUICK_DIV : 1);
  const int reps = quick ? 1 : VK_CHAR_REPS;
  const int launches = quick ? 5 : VK_CHAR_LAUNCHES;
  uint32_t local = s->tuning.ew_local ? s->tuning.ew_local : 64;
  if (local > s->props.limits.maxComputeWorkGroupSize[0])
    local = s->props.limits.maxComputeWorkGroupSize[0];
  if (local > s->props.limits.maxComputeWorkGroupInvocations)
    local = s->props.limits.maxComputeWorkGroupInvocations;

  /* Peak: grow the iteration count until a run is long enough to time. */
  const uint64_t items = (VK_CHAR_ITEMS + local - 1) / local * local;
  const uint64_t out_bytes = items * sizeof(float);
  int32_t iters = 16;
  double us = 0;
  for (;;) {
    float a = 0.999f;
    int32_t push[2] = {0, iters};
    memcpy(&push[0], &a, sizeof a);
    st = dispatch_kernel(s, vk_s_peak_fma, local, items / local, &out_bytes, 1, push, 2, &k);
    if (st == oc_status_ok) st = best_of(s, k, 1, &us);
    if (st != oc_status_ok) goto done;
    if (us * 1e3 >= min_ns || iters >= VK_CHAR_MAX_ITERS) break;
    oc__vk_kernel_free(s, k);
    k = NULL;
    iters *= 4;
  }
  st = best_of(s, k, reps, &us);
  if (st != oc_status_ok) goto done;
  out->peak_gflops = (double)items * (double)iters * 64.0 / (us * 1e3);
  oc__vk_kernel_free(s, k);
  k = NULL;

  /* Bandwidth: a vec4 copy, read + write bytes over the best time. */
  uint64_t bytes = VK_CHAR_COPY_BYTES / (quick ? VK_CHAR_QUICK_DIV : 1);
  while (bytes > s->props.limits.maxStorageBufferRange) bytes /= 2;
  bytes = bytes / (16 * (uint64_t)local) * (16 * (uint64_t)local);
  const uint64_t sizes[2] = {bytes, bytes};
  const int32_t push[1] = {(int32_t)(bytes / 16)};
  st = dispatch_kernel(s, vk_s_copy4, local, bytes / 16 / local, sizes, 2, push, 1, &k);
  if (st == oc_status_ok) st = best_of(s, k, reps, &us);
  if (st != oc_status_ok) goto done;
  out->bandwidth_gbps = 2.0 * (double)bytes / (us * 1e3);
  oc__vk_kernel_free(s, k);
  k = NULL;

  /* Launch: one empty work-group. */
  double host[VK_CHAR_LAUNCHES + 1], device[VK_CHAR_LAUNCHES + 1];
  st = dispatch_kernel(s, vk_s_empty, 1, 1, NULL, 0, NULL, 0, &k);
  if (st == oc_status_ok) st = oc__vk_time_runs_host(s, k, launches + 1, device, host);
  if (st != oc_status_ok) goto done;
  /* The first submission is a warm-up. */
  qsort(host + 1, (size_t)launches, sizeof host[0], cmp_double);
  qsort(device + 1, (size_t)launches, sizeof device[0], cmp_double);
  out->launch_us = host[1 + launches / 2];
  out->empty_kernel_us = device[1 + launches / 2];

done:
  oc__vk_kernel_free(s, k);
  return st;
}

enum oc_status oc__vulkan_characterize(const char *args, bool quick,
                                       struct oc__vulkan_characteristics *out) {
  memset(out, 0, sizeof *out);
  struct vk_state *s = NULL;
  enum oc_status st = oc__vk_open_state(args, &s);
  if (st != oc_status_ok) return st;
  st = oc__vk_characterize_state(s, quick, out);
  oc__vk_close_state(s);
  return st;
}
