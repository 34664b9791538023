/* ref.c - the `ref` backend: the reference kernels of ref_kernels.c behind
 * the target vtable, so that the oracle can be opened, described, run and
 * timed like any other target. It runs on any host (probe always succeeds),
 * on one thread, in host memory; prepare only records the op and buffers,
 * run computes the op from scratch every time. */
#include <stdlib.h>

#include "core/core.h"
#include "targets/ref/ref.h"
#include "targets/targets_internal.h"

struct ref_state {
  int threads; /* always 1: the wrappers refuse more for a target without oc_cap_threads */
};

struct ref_kernel {
  struct oc_op op;
  struct oc_tensors tensors;
};

static enum oc_status ref_probe(char *why, size_t why_len) {
  if (why_len > 0) why[0] = '\0';
  return oc_status_ok;
}

static enum oc_status ref_open(const char *args, const struct oc_target_opts *opts,
                               void **state) {
  if (args != NULL && args[0] != '\0')
    return oc__fail(oc_status_invalid_argument, "ref takes no arguments; got '%s'", args);
  struct ref_state *s = calloc(1, sizeof *s);
  if (s == NULL) return oc__fail(oc_status_out_of_memory, "ref: out of memory");
  s->threads = opts ? opts->threads : 1;
  *state = s;
  return oc_status_ok;
}

static void ref_close(void *state) { free(state); }

static enum oc_status ref_describe(void *state, struct oc_device_info *info) {
  (void)state;
  oc__host_describe(info);
  oc__strcpy(info->runtime, sizeof info->runtime, "opcost reference kernels");
  return oc_status_ok;
}

static bool ref_supports(void *state, const struct oc_op *op, char *why, size_t why_len) {
  (void)state;
  if (why_len > 0) why[0] = '\0';
  if (op->dtype != oc_dtype_f32) {
    oc__strfmt(why, why_len, "dtype %s is not implemented by ref", oc_dtype_name(op->dtype));
    return false;
  }
  return true;
}

static enum oc_status ref_prepare(void *state, const struct oc_op *op,
                                  const struct oc_tensors *tensors, void **kernel) {
  (void)state;
  /* Missing buffers are reported here, before anything is timed. */
  struct oc_op_shapes sh;
  enum oc_status st = oc_op_shapes(op, &sh);
  if (st != oc_status_ok) return st;
  if (tensors == NULL || tensors->output == NULL)
    return oc__fail(oc_status_invalid_argument, "ref: output buffer is NULL");
  for (int i = 0; i < sh.n_inputs; i++) {
    if (tensors->input[i] == NULL)
      return oc__fail(oc_status_invalid_argument, "ref: input %d buffer is NULL", i);
  }
  if (sh.weight_elems > 0 && tensors->weights == NULL)
    return oc__fail(oc_status_invalid_argument, "ref: weights buffer is NULL");
  struct ref_kernel *k = calloc(1, sizeof *k);
  if (k == NULL) return oc__fail(oc_status_out_of_memory, "ref: out of memory for a kernel");
  k->op = *op;
  k->tensors = *tensors;
  *kernel = k;
  return oc_status_ok;
}

static enum oc_status ref_run(void *state, void *kernel) {
  (void)state;
  struct ref_kernel *k = kernel;
  return oc__ref_compute(&k->op, &k->tensors);
}

static void ref_release(void *state, void *kernel) {
  (void)state;
  free(kernel);
}

const struct oc_target_vtab oc_target_ref = {
    .abi_version = OC_TARGET_ABI_VERSION,
    .name = "ref",
    .summary = "portable C reference kernels: the oracle every target is checked against",
    .caps = oc_cap_host_memory | oc_cap_networks,
    .probe = ref_probe,
    .open = ref_open,
    .close = ref_close,
    .describe = ref_describe,
    .supports = ref_supports,
    .prepare = ref_prepare,
    .run = ref_run,
    .read_output = NULL,
    .time_runs = NULL,
    .release = ref_release,
    /* Whole networks: prepare_net, run_net and release_net (ref_net.c). */
    .prepare_net = oc__ref_prepare_net,
    .run_net = oc__ref_run_net,
    .read_net_output = NULL,
    .release_net = oc__ref_release_net,
};
