/* cpu.c - the `cpu` backend: ops on the host CPU through XNNPACK operators
 * (cpu_ops.c says which) and opcost's own kernels where this XNNPACK has none
 * (cpu_kernels.c). This file is the vtable: availability (XNNPACK
 * initialises on this CPU), open/close (thread pool, pinning), the device
 * description, what is supported, and the prepare/run/release cycle.
 *
 * Pinning: open applies opts->cores to the opening thread before it creates
 * the pthreadpool, so the workers inherit the set; close gives the opening
 * thread its former affinity back.
 *
 * Input buffers: XNNPACK may read (never write) up to XNN_EXTRA_BYTES (16)
 * past the end of a tensor it reads, so callers keep that much readable
 * slack after each input buffer. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "targets/cpu/cpu.h"
#include "targets/targets_internal.h"

#ifndef OC_XNNPACK_VERSION
#define OC_XNNPACK_VERSION "unknown"
#endif

struct cpu_state {
  pthreadpool_t pool; /* NULL for one thread: XNNPACK and pthreadpool then run inline */
  int threads;
  struct oc_target_opts opts; /* as opened; opts.cores is the pinned set */
  bool restore_affinity;      /* close puts saved_affinity back */
  cpu_set_t saved_affinity;
};

/* XNNPACK is initialised once per process and never deinitialised: the
 * library keeps no per-call state that would need it. */
static pthread_once_t xnn_once = PTHREAD_ONCE_INIT;
static enum xnn_status xnn_init_status = xnn_status_uninitialized;

static void init_xnnpack(void) { xnn_init_status = xnn_initialize(NULL); }

static enum oc_status cpu_probe(char *why, size_t why_len) {
  pthread_once(&xnn_once, init_xnnpack);
  if (xnn_init_status == xnn_status_success) return oc_status_ok;
  enum oc_status st = oc__cpu_xnn_fail("xnn_initialize", xnn_init_status);
  oc__strfmt(why, why_len, "%s%s", oc_errmsg(),
             xnn_init_status == xnn_status_unsupported_hardware
                 ? " (this CPU lacks the instructions XNNPACK needs)"
                 : "");
  return st;
}

static void cpu_close(void *opaque) {
  struct cpu_state *state = opaque;
  if (state == NULL) return;
  if (state->pool) pthreadpool_destroy(state->pool);
  if (state->restore_affinity)
    sched_setaffinity(0, sizeof state->saved_affinity, &state->saved_affinity);
  free(state);
}

static enum oc_status cpu_open(const char *args, const struct oc_target_opts *opts,
                               void **out) {
  enum oc_status st = oc_status_ok;
  struct cpu_state *state = NULL;
  char why[256];
  if (args != NULL && args[0] != '\0')
    return oc__fail(oc_status_invalid_argument,
                    "unknown argument '%s' (the cpu target takes none; use --threads and "
                    "--cores)",
                    args);
  st = cpu_probe(why, sizeof why);
  if (st != oc_status_ok) return oc__fail(st, "%s", why);
  state = calloc(1, sizeof *state);
  if (state == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for the cpu target");
  if (opts) state->opts = *opts;
  if (state->opts.threads < 0) {
    st = oc__fail(oc_status_invalid_argument, "threads: value '%d' must be >= 1",
                  state->opts.threads);
    goto fail;
  }
  state->threads = state->opts.threads > 0 ? state->opts.threads : 1;
  if (state->opts.n_cores > 0) {
    if (sched_getaffinity(0, sizeof state->saved_affinity, &state->saved_affinity) == 0)
      state->restore_affinity = true;
    st = oc__host_pin(&state->opts);
    if (st != oc_status_ok) goto fail;
  }
  /* After pinning: the workers inherit the calling thread's core set. */
  if (state->threads > 1) {
    state->pool = pthreadpool_create((size_t)state->threads);
    if (state->pool == NULL) {
      st = oc__fail(oc_status_out_of_memory, "pthreadpool_create(%d) failed", state->threads);
      goto fail;
    }
  }
  *out = state;
  return oc_status_ok;
fail:
  cpu_close(state);
  return st;
}

static enum oc_status cpu_describe(void *opaque, struct oc_device_info *info) {
  const struct cpu_state *state = opaque;
  oc__host_describe(info);
  oc__strcpy(info->runtime, sizeof info->runtime, "XNNPACK " OC_XNNPACK_VERSION);
  info->threads = state->threads;
  return oc_status_ok;
}

static bool cpu_supports(void *opaque, const struct oc_op *op, char *why, size_t why_len) {
  (void)opaque;
  if (op->dtype != oc_dtype_f32) {
    oc__strfmt(why, why_len, "dtype %s: the cpu target runs f32 only", oc_dtype_name(op->dtype));
    return false;
  }
  switch (op->kind) {
  case oc_op_conv2d:
  case oc_op_fc:
  case oc_op_matmul:
  case oc_op_maxpool2d:
  case oc_op_avgpool2d:
  case oc_op_gap:
  case oc_op_add:
  case oc_op_mul:
  case oc_op_layernorm:
  case oc_op_softmax:
  case oc_op_concat:
  case oc_op_act: break;
  default:
    oc__strfmt(why, why_len, "op kind %s has no cpu kernel", oc_op_kind_name(op->kind));
    return false;
  }
  /* none/relu/relu6 are XNNPACK output clamps; every other activation needs
   * an own (or XNNPACK) elementwise kernel. */
  if (op->act != oc_act_none && !oc__cpu_own_has_act(op->act)) {
    oc__strfmt(why, why_len, "activation %s has no cpu kernel", oc_act_name(op->act));
    return false;
  }
  return true;
}

static void cpu_release(void *opaque, void *impl) {
  struct cpu_kernel *kernel = impl;
  (void)opaque;
  if (kernel == NULL) return;
  for (int i = 0; i < kernel->n_steps; i++) {
    if (kernel->steps[i].xop) xnn_delete_operator(kernel->steps[i].xop);
  }
  oc__aligned_free(kernel->scratch);
  free(kernel);
}

static enum oc_status cpu_prepare(void *opaque, const struct oc_op *op,
                                  const struct oc_tensors *tensors, void **out) {
  struct cpu_state *state = opaque;
  char why[256];
  if (!cpu_supports(state, op, why, sizeof why))
    return oc__fail(oc_status_unsupported, "%s", why);
  struct cpu_kernel *kernel = calloc(1, sizeof *kernel);
  if (kernel == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for a cpu kernel");
  enum oc_status st = oc__cpu_plan(state->pool, op, tensors, kernel);
  if (st != oc_status_ok) {
    cpu_release(state, kernel);
    return st;
  }
  *out = kernel;
  return oc_status_ok;
}

/* The timed part: operators and own kernels only, nothing allocated. */
static enum oc_status cpu_run(void *opaque, void *impl) {
  const struct cpu_state *state = opaque;
  const struct cpu_kernel *kernel = impl;
  for (int i = 0; i < kernel->n_steps; i++) {
    const struct cpu_step *step = &kernel->steps[i];
    if (step->xop) {
      enum xnn_status xs = xnn_run_operator(step->xop, state->pool);
      if (xs != xnn_status_success) return oc__cpu_xnn_fail("xnn_run_operator", xs);
    } else {
      oc__cpu_own_run(&step->own, state->pool);
    }
  }
  return oc_status_ok;
}

pthreadpool_t oc__cpu_pool(void *state) { return ((struct cpu_state *)state)->pool; }

const struct oc_target_vtab oc_target_cpu = {
    .abi_version = OC_TARGET_ABI_VERSION,
    .name = "cpu",
    .summary = "host CPU through XNNPACK (own kernels for layernorm, gelu, tanh, matmul)",
    .caps = oc_cap_host_memory | oc_cap_threads | oc_cap_pinning | oc_cap_networks,
    .probe = cpu_probe,
    .open = cpu_open,
    .close = cpu_close,
    .describe = cpu_describe,
    .supports = cpu_supports,
    .prepare = cpu_prepare,
    .run = cpu_run,
    .read_output = NULL,
    .time_runs = NULL,
    .release = cpu_release,
    .prepare_net = oc__cpu_prepare_net,
    .run_net = oc__cpu_run_net,
    .release_net = oc__cpu_release_net,
};
