/* ref_net.c - whole networks on the `ref` backend: every kernel of the
 * network's expanded list computed by oc__ref_compute (data moves by
 * oc_net_move_f32) on real chained host buffers, one buffer per tensor.
 * It is the oracle for networks as ref_kernels.c is for single ops: the
 * cpu backend's network output is checked against it. The network must
 * stay valid until the kernel is released. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "opcost/net.h"
#include "targets/ref/ref.h"

struct ref_net {
  const struct oc_net *net;
  struct oc_net_params *params;
  float **buf;   /* per tensor; owned when owned[t] */
  bool *owned;
  const float *input;
  float *output;
};

void oc__ref_release_net(void *state, void *kernel) {
  (void)state;
  struct ref_net *r = kernel;
  if (r == NULL) return;
  if (r->buf) {
    for (int32_t t = 0; t < r->net->n_tensors; t++) {
      if (r->owned[t]) free(r->buf[t]);
    }
  }
  free(r->buf);
  free(r->owned);
  oc_net_params_free(r->params);
  free(r);
}

enum oc_status oc__ref_prepare_net(void *state, const struct oc_net *net, const void *input,
                                   void *output, void **kernel) {
  (void)state;
  *kernel = NULL;
  if (input == NULL || output == NULL)
    return oc__fail(oc_status_invalid_argument, "ref: network input or output buffer is NULL");
  struct ref_net *r = calloc(1, sizeof *r);
  enum oc_status st;
  if (r == NULL) return oc__fail(oc_status_out_of_memory, "ref: out of memory");
  r->net = net;
  r->input = input;
  r->output = output;
  st = oc_net_params_create(net, OC_NET_PARAM_SEED, &r->params);
  if (st != oc_status_ok) goto fail;
  r->buf = calloc((size_t)net->n_tensors, sizeof *r->buf);
  r->owned = calloc((size_t)net->n_tensors, sizeof *r->owned);
  if (r->buf == NULL || r->owned == NULL) goto oom;
  for (int32_t t = 0; t < net->n_tensors; t++) {
    const struct oc_net_tensor *ten = &net->tensors[t];
    if (ten->kind == oc_net_tensor_input) {
      r->buf[t] = (float *)input; /* read only: no kernel writes the input */
    } else if (ten->kind == oc_net_tensor_param) {
      r->buf[t] = r->params->tensors[t];
    } else if (t == net->output_tensor) {
      r->buf[t] = output;
    } else {
      r->buf[t] = malloc((size_t)oc_tensor_elems(&ten->shape) * sizeof(float));
      if (r->buf[t] == NULL) goto oom;
      r->owned[t] = true;
    }
  }
  *kernel = r;
  return oc_status_ok;
oom:
  st = oc__fail(oc_status_out_of_memory, "ref: out of memory for the buffers of network '%s'",
                net->name);
fail:
  oc__ref_release_net(state, r);
  return st;
}

enum oc_status oc__ref_run_net(void *state, void *kernel) {
  (void)state;
  struct ref_net *r = kernel;
  const struct oc_net *net = r->net;
  if (net->output_tensor == net->input_tensor) {
    memcpy(r->output, r->input, (size_t)net->tensors[net->input_tensor].bytes);
    return oc_status_ok;
  }
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    const float *in0 = k->n_inputs > 0 ? r->buf[k->input[0]] : NULL;
    const float *in1 = k->n_inputs > 1 ? r->buf[k->input[1]] : NULL;
    enum oc_status st;
    if (k->step == oc_net_step_op) {
      struct oc_tensors t = {{in0, in1}, r->params->weights[i], r->params->bias[i],
                             r->buf[k->output]};
      st = oc__ref_compute(&k->op, &t);
    } else {
      st = oc_net_move_f32(net, i, in0, in1, r->buf[k->output]);
    }
    if (st != oc_status_ok)
      return oc__fail_prefix(st, "network '%s': kernel %d (layer %d): ", net->name, (int)i,
                             (int)k->layer);
  }
  return oc_status_ok;
}
