/* net_cost.c - analysis of an expanded network: when each tensor is last
 * read, which elementwise kernels run in place, the liveness schedule and
 * its peak, MACs/FLOPs/params/bytes per layer and in total, and the hash
 * that identifies what the network computes.
 *
 * Peak activation memory follows the rule MCU deployment tools use: walk the
 * kernels in execution order; at each kernel, the memory in use is every
 * buffer written before (or by) it and still to be read at or after it, the
 * network input until its last reader and the output until the end. An
 * elementwise kernel (act, add, mul) whose first input is read by no later
 * kernel writes over that input, so the two share one buffer. Weights and
 * parameter tensors are not activations: they count in weight_bytes. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "spaces/net_internal.h"

bool oc__net_op_elementwise(enum oc_op_kind kind) {
  return kind == oc_op_act || kind == oc_op_add || kind == oc_op_mul;
}

static void mark_in_place(struct oc_net *net) {
  for (int32_t i = 0; i < net->n_kernels; i++) {
    struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_op || !oc__net_op_elementwise(k->op.kind)) continue;
    int32_t t0 = k->input[0];
    const struct oc_net_tensor *in = &net->tensors[t0];
    if (in->kind != oc_net_tensor_activation || in->last_use != i ||
        t0 == net->output_tensor || in->bytes != net->tensors[k->output].bytes)
      continue;
    k->in_place = true;
    net->tensors[t0].reused_by = i;
  }
}

/* Liveness: one buffer per tensor, shared along in-place chains; each
 * buffer is live from the kernel that first writes it to its last reader.
 * live[i] gets the bytes live at kernel i (difference array, linear time). */
static enum oc_status liveness(const struct oc_net *net, int64_t *live) {
  int32_t nk = net->n_kernels, nt = net->n_tensors;
  int32_t *buf = malloc((size_t)nt * sizeof *buf);
  int32_t *start = malloc((size_t)nt * sizeof *start);
  int32_t *end = malloc((size_t)nt * sizeof *end);
  int64_t *bytes = calloc((size_t)nt, sizeof *bytes);
  int64_t *delta = calloc((size_t)nk + 1, sizeof *delta);
  enum oc_status st = oc_status_ok;
  if (buf == NULL || start == NULL || end == NULL || bytes == NULL || delta == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for the liveness schedule");
    goto done;
  }
  for (int32_t t = 0; t < nt; t++) {
    buf[t] = t;
    start[t] = -1;
    end[t] = -1;
  }
  for (int32_t t = 0; t < nt; t++) {
    const struct oc_net_tensor *ten = &net->tensors[t];
    if (ten->kind == oc_net_tensor_param) continue;
    int32_t b = t;
    if (ten->producer >= 0 && net->kernels[ten->producer].in_place)
      b = buf[net->kernels[ten->producer].input[0]];
    buf[t] = b;
    int32_t s = ten->kind == oc_net_tensor_input ? 0 : ten->producer;
    int32_t e = ten->last_use > s ? ten->last_use : s;
    if (t == net->output_tensor) e = nk - 1;
    if (start[b] < 0 || s < start[b]) start[b] = s;
    if (e > end[b]) end[b] = e;
    if (ten->bytes > bytes[b]) bytes[b] = ten->bytes;
  }
  for (int32_t b = 0; b < nt; b++) {
    if (start[b] < 0 || end[b] < 0 || nk == 0) continue;
    delta[start[b]] += bytes[b];
    delta[end[b] + 1] -= bytes[b];
  }
  int64_t acc = 0;
  for (int32_t i = 0; i < nk; i++) {
    acc += delta[i];
    live[i] = acc;
  }
done:
  free(buf);
  free(start);
  free(end);
  free(bytes);
  free(delta);
  return st;
}

static bool cost_add(struct oc_net_cost *c, const struct oc_op_cost *oc, int64_t extra_params,
                     int64_t act_bytes) {
  return oc__add64(c->macs, oc->macs, &c->macs) && oc__add64(c->flops, oc->flops, &c->flops) &&
         oc__add64(c->params, oc->params, &c->params) &&
         oc__add64(c->params, extra_params, &c->params) &&
         oc__add64(c->activation_bytes, act_bytes, &c->activation_bytes);
}

static bool cost_finish(struct oc_net_cost *c) {
  for (int d = 0; d < oc_dtype__count; d++) {
    if (!oc__mul64(c->params, (int64_t)oc_dtype_size((enum oc_dtype)d),
                   &c->weight_bytes_by_dtype[d]))
      return false;
  }
  return true;
}

static uint64_t compute_hash(const struct oc_net *net) {
  uint64_t h = oc__hash64_str(OC__HASH_SEED, OC_NET_FORMAT);
  int32_t head[5] = {(int32_t)net->dtype, net->input.h, net->input.w, net->input.c,
                     net->output_tensor};
  h = oc__hash64(h, head, sizeof head);
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    /* What the op key says, without formatting it: kind and dtype by
     * name, then every field's value (zero where the kind has none). */
    if (k->step == oc_net_step_op) {
      h = oc__hash64_str(h, oc_op_kind_name(k->op.kind));
      h = oc__hash64_str(h, oc_dtype_name(k->op.dtype));
      int32_t values[oc_field__count];
      for (int f = 0; f < oc_field__count; f++) values[f] = oc_op_get(&k->op, (enum oc_field)f);
      h = oc__hash64(h, values, sizeof values);
    }
    const struct oc_tensor_shape *s = &net->tensors[k->output].shape;
    int32_t f[10] = {(int32_t)k->step, k->input[0], k->input[1], k->output, k->heads,
                     k->offset, s->h, s->w, s->c, 0};
    h = oc__hash64(h, f, sizeof f);
  }
  return h;
}

enum oc_status oc__net_analyze(struct oc_net *net) {
  int32_t nk = net->n_kernels;
  int64_t *live = NULL;
  enum oc_status st = oc_status_ok;
  for (int32_t i = 0; i < nk; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    for (int32_t j = 0; j < k->n_inputs; j++) {
      if (k->input[j] >= 0) net->tensors[k->input[j]].last_use = i;
    }
  }
  mark_in_place(net);
  live = malloc(((size_t)nk + 1) * sizeof *live);
  if (live == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  st = liveness(net, live);
  if (st != oc_status_ok) goto done;

  struct oc_net_cost *total = &net->cost;
  memset(total, 0, sizeof *total);
  total->peak_kernel = -1;
  for (int32_t li = 0; li < net->n_layers; li++) {
    struct oc_net_layer *l = &net->layers[li];
    struct oc_net_cost *c = &l->cost;
    memset(c, 0, sizeof *c);
    c->peak_kernel = -1;
    for (int32_t i = l->first_kernel; i < l->first_kernel + l->n_kernels; i++) {
      const struct oc_net_kernel *k = &net->kernels[i];
      struct oc_op_cost oc;
      memset(&oc, 0, sizeof oc);
      if (k->step == oc_net_step_op) {
        st = oc_op_cost(&k->op, &oc);
        if (st != oc_status_ok) goto done;
        c->op_kernels++;
      }
      int64_t extra = 0;
      for (int32_t j = 0; j < k->n_inputs; j++) {
        const struct oc_net_tensor *t = &net->tensors[k->input[j]];
        if (t->kind == oc_net_tensor_param) extra += oc_tensor_elems(&t->shape);
      }
      if (!cost_add(c, &oc, extra, net->tensors[k->output].bytes)) {
        st = oc__fail(oc_status_overflow, "layers[%d]: costs do not fit in 64 bits", (int)li);
        goto done;
      }
      c->kernels++;
      if (live[i] > c->peak_activation_bytes) {
        c->peak_activation_bytes = live[i];
        c->peak_kernel = i;
      }
    }
    c->weight_bytes = c->params * (int64_t)oc_dtype_size(net->dtype);
    struct oc_op_cost as_op = {c->macs, c->flops, c->params, 0, 0, 0};
    if (!cost_finish(c) || !cost_add(total, &as_op, 0, c->activation_bytes)) {
      st = oc__fail(oc_status_overflow, "network costs do not fit in 64 bits");
      goto done;
    }
    total->kernels += c->kernels;
    total->op_kernels += c->op_kernels;
    if (c->peak_activation_bytes > total->peak_activation_bytes) {
      total->peak_activation_bytes = c->peak_activation_bytes;
      total->peak_kernel = c->peak_kernel;
    }
  }
  /* A network without kernels still holds its input. */
  if (total->peak_activation_bytes < net->tensors[net->input_tensor].bytes)
    total->peak_activation_bytes = net->tensors[net->input_tensor].bytes;
  if (!cost_finish(total) ||
      !oc__mul64(total->params, (int64_t)oc_dtype_size(net->dtype), &total->weight_bytes)) {
    st = oc__fail(oc_status_overflow, "network costs do not fit in 64 bits");
    goto done;
  }
  net->hash = compute_hash(net);
  oc__strfmt(net->hash_hex, sizeof net->hash_hex, "%016llx", (unsigned long long)net->hash);
done:
  free(live);
  return st;
}
