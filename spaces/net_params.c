/* net_params.c - the deterministic weights, biases and parameter tensors of
 * a network, and its input data, for whole-network runs. Every runner (ref,
 * cpu, ...) takes its parameters from here, so that two targets computing
 * the same network must produce the same output up to rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "spaces/net_internal.h"

static void fill_uniform(struct oc__rng *rng, float *p, int64_t n, double lo, double hi) {
  for (int64_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * oc__rng_double(rng));
}

/* A generator per kernel or tensor, so that values do not depend on the
 * order they are made in. */
static void rng_for(struct oc__rng *rng, uint64_t seed, uint64_t what, int32_t index) {
  oc__rng_seed(rng, seed ^ (what * UINT64_C(0x9e3779b97f4a7c15)) ^
                        ((uint64_t)(uint32_t)index * UINT64_C(0xbf58476d1ce4e5b9)));
}

static int64_t fan_in(const struct oc_op *op) {
  switch (op->kind) {
  case oc_op_conv2d: return (int64_t)op->k * op->k * (op->cin / op->g);
  case oc_op_fc: return op->cin;
  default: return 1;
  }
}

void oc_net_params_free(struct oc_net_params *p) {
  if (p == NULL) return;
  for (int32_t i = 0; i < p->n_kernels; i++) {
    if (p->weights) free(p->weights[i]);
    if (p->bias) free(p->bias[i]);
  }
  for (int32_t i = 0; i < p->n_tensors; i++) {
    if (p->tensors) free(p->tensors[i]);
  }
  free(p->weights);
  free(p->bias);
  free(p->tensors);
  free(p);
}

enum oc_status oc_net_params_create(const struct oc_net *net, uint64_t seed,
                                    struct oc_net_params **out) {
  *out = NULL;
  if (net->dtype != oc_dtype_f32)
    return oc__fail(oc_status_unsupported,
                    "network '%s': parameters for whole-network runs are f32 only (dtype %s)",
                    net->name, oc_dtype_name(net->dtype));
  struct oc_net_params *p = calloc(1, sizeof *p);
  enum oc_status st = oc_status_ok;
  if (p == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  p->n_kernels = net->n_kernels;
  p->n_tensors = net->n_tensors;
  p->weights = calloc((size_t)net->n_kernels + 1, sizeof *p->weights);
  p->bias = calloc((size_t)net->n_kernels + 1, sizeof *p->bias);
  p->tensors = calloc((size_t)net->n_tensors + 1, sizeof *p->tensors);
  if (p->weights == NULL || p->bias == NULL || p->tensors == NULL) goto oom;
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_op || !oc_op_kind_has_weights(k->op.kind)) continue;
    struct oc_op_shapes sh;
    struct oc__rng rng;
    oc_op_shapes(&k->op, &sh);
    p->weights[i] = malloc((size_t)(sh.weight_elems > 0 ? sh.weight_elems : 1) * sizeof(float));
    p->bias[i] = malloc((size_t)(sh.bias_elems > 0 ? sh.bias_elems : 1) * sizeof(float));
    if (p->weights[i] == NULL || p->bias[i] == NULL) goto oom;
    rng_for(&rng, seed, 1, i);
    if (k->op.kind == oc_op_layernorm) {
      fill_uniform(&rng, p->weights[i], sh.weight_elems, 0.5, 1.5);
    } else {
      double bound = sqrt(3.0 / (double)fan_in(&k->op));
      fill_uniform(&rng, p->weights[i], sh.weight_elems, -bound, bound);
    }
    fill_uniform(&rng, p->bias[i], sh.bias_elems, -0.1, 0.1);
  }
  /* Fold the attention scale 1/sqrt(dh) into the q rows of each qkv fc:
   * the heads_split at offset 0 reads the q channels of that fc's output. */
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_heads_split || k->offset != 0) continue;
    int32_t producer = net->tensors[k->input[0]].producer;
    if (producer < 0 || net->kernels[producer].op.kind != oc_op_fc) continue;
    const struct oc_op *fc = &net->kernels[producer].op;
    const struct oc_tensor_shape *qs = &net->tensors[k->output].shape;
    int32_t rows = k->heads * qs->c;
    float scale = (float)(1.0 / sqrt((double)qs->c));
    for (int64_t r = 0; r < rows && r < fc->cout; r++) {
      for (int64_t j = 0; j < fc->cin; j++) p->weights[producer][r * fc->cin + j] *= scale;
      p->bias[producer][r] *= scale;
    }
  }
  for (int32_t t = 0; t < net->n_tensors; t++) {
    const struct oc_net_tensor *ten = &net->tensors[t];
    if (ten->kind != oc_net_tensor_param) continue;
    struct oc__rng rng;
    int64_t n = oc_tensor_elems(&ten->shape);
    p->tensors[t] = malloc((size_t)n * sizeof(float));
    if (p->tensors[t] == NULL) goto oom;
    rng_for(&rng, seed, 2, t);
    fill_uniform(&rng, p->tensors[t], n, -0.5, 0.5);
  }
  *out = p;
  return st;
oom:
  oc_net_params_free(p);
  return oc__fail(oc_status_out_of_memory, "network '%s': out of memory for parameters (%lld)",
                  net->name, (long long)net->cost.params);
}

void oc_net_fill_input(const struct oc_net *net, uint64_t seed, float *input) {
  struct oc__rng rng;
  rng_for(&rng, seed, 3, 0);
  fill_uniform(&rng, input, oc_tensor_elems(&net->input), -1.0, 1.0);
}

enum oc_status oc_net_move_f32(const struct oc_net *net, int32_t kernel, const float *in0,
                               const float *in1, float *out) {
  if (kernel < 0 || kernel >= net->n_kernels)
    return oc__fail(oc_status_invalid_argument, "kernel %d: no such kernel", (int)kernel);
  const struct oc_net_kernel *k = &net->kernels[kernel];
  const struct oc_tensor_shape *os = &net->tensors[k->output].shape;
  if (out == NULL || (k->n_inputs > 0 && in0 == NULL) || (k->n_inputs > 1 && in1 == NULL))
    return oc__fail(oc_status_invalid_argument, "kernel %d (%s): a buffer is missing",
                    (int)kernel, oc_net_step_name(k->step));
  switch (k->step) {
  case oc_net_step_heads_split: {
    /* out [1,heads,T,dh] from in [1,1,T,C] at channel offset. */
    int64_t heads = k->heads, tokens = os->w, dh = os->c;
    int64_t cin = net->tensors[k->input[0]].shape.c;
    for (int64_t h = 0; h < heads; h++)
      for (int64_t t = 0; t < tokens; t++)
        memcpy(out + (h * tokens + t) * dh, in0 + t * cin + k->offset + h * dh,
               (size_t)dh * sizeof *out);
    return oc_status_ok;
  }
  case oc_net_step_heads_merge: {
    const struct oc_tensor_shape *is = &net->tensors[k->input[0]].shape;
    int64_t heads = k->heads, tokens = is->w, dh = is->c, c = heads * dh;
    for (int64_t h = 0; h < heads; h++)
      for (int64_t t = 0; t < tokens; t++)
        memcpy(out + t * c + h * dh, in0 + (h * tokens + t) * dh, (size_t)dh * sizeof *out);
    return oc_status_ok;
  }
  case oc_net_step_token_prepend: {
    int64_t c = os->c;
    memcpy(out, in1, (size_t)c * sizeof *out);
    memcpy(out + c, in0, (size_t)(oc_tensor_elems(os) - c) * sizeof *out);
    return oc_status_ok;
  }
  case oc_net_step_token_select:
    memcpy(out, in0 + (int64_t)k->offset * os->c, (size_t)os->c * sizeof *out);
    return oc_status_ok;
  case oc_net_step_zero:
    memset(out, 0, (size_t)oc_tensor_elems(os) * sizeof *out);
    return oc_status_ok;
  case oc_net_step_op: break;
  }
  return oc__fail(oc_status_invalid_argument, "kernel %d is an op, not a data move", (int)kernel);
}
