/* cpu_net.c - whole networks on the cpu backend, the way TFLite's XNNPACK
 * delegate runs them: the network's kernels become nodes of an XNNPACK
 * subgraph (xnn_create_subgraph, xnn_define_*), compiled once into a runtime
 * on the target's thread pool (xnn_create_runtime_v2, xnn_setup_runtime)
 * and run with xnn_invoke_runtime.
 *
 * XNNPACK 2022-02 has no node for layernorm, batched matmul, concat, gelu,
 * tanh, hsigmoid after an add, or 1x1 pools; a kernel it cannot express ends
 * the current subgraph and runs on its own through the cpu backend's
 * single-op plan (oc__cpu_plan: an XNNPACK operator or an own kernel); data
 * moves (attention head split/merge, class token) run on the host. So a
 * network is a list of segments: subgraph runtimes and single kernels,
 * joined by host buffers for the tensors that cross segments. hsigmoid
 * fused into conv2d/fc is folded into their weights (W/6, (b+3)/6, output
 * clamped to [0,1]), exactly relu6(x+3)/6.
 *
 * Plan once, run many: prepare builds every runtime and plan and binds every
 * buffer; run only invokes them. The network input is copied into a padded
 * buffer first (XNNPACK may read XNN_EXTRA_BYTES past a tensor's end); that
 * copy is part of the timed run. The network must outlive the kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "opcost/net.h"
#include "targets/cpu/cpu.h"

enum seg_kind { seg_graph, seg_op, seg_move };

struct seg {
  enum seg_kind kind;
  int32_t first, count;      /* kernels [first, first+count) */
  xnn_runtime_t runtime;     /* seg_graph */
  struct cpu_kernel *plan;   /* seg_op */
};

struct cpu_net {
  const struct oc_net *net;
  pthreadpool_t pool;
  struct oc_net_params *params;
  float **host;        /* per tensor: host buffer, or NULL when internal to a subgraph */
  bool *owned;
  float **folded_w;    /* per kernel: hsigmoid-folded weights and bias, or NULL */
  float **folded_b;
  int32_t n_segs;
  struct seg *segs;
  const float *input;  /* the caller's */
  float *output;
};

static bool act_in_graph(enum oc_act act) {
  switch (act) {
  case oc_act_none:
  case oc_act_relu:
  case oc_act_relu6:
  case oc_act_hswish:
  case oc_act_sigmoid:
  case oc_act_swish: return true;
  default: return false;
  }
}

/* Can the kernel be a node (or a few nodes) of an XNNPACK 2022-02 subgraph? */
static bool in_graph(const struct oc_net_kernel *k) {
  if (k->step != oc_net_step_op) return false;
  const struct oc_op *op = &k->op;
  switch (op->kind) {
  case oc_op_conv2d:
  case oc_op_fc: return act_in_graph(op->act) || op->act == oc_act_hsigmoid;
  case oc_op_maxpool2d:
  case oc_op_avgpool2d: return op->k > 1;
  case oc_op_gap:
  case oc_op_mul:
  case oc_op_softmax: return true;
  case oc_op_add: return act_in_graph(op->act);
  case oc_op_act: return act_in_graph(op->act) && op->act != oc_act_none;
  default: return false;
  }
}

static void release_plan(struct cpu_kernel *plan) {
  if (plan == NULL) return;
  for (int i = 0; i < plan->n_steps; i++) {
    if (plan->steps[i].xop) xnn_delete_operator(plan->steps[i].xop);
  }
  oc__aligned_free(plan->scratch);
  free(plan);
}

void oc__cpu_release_net(void *state, void *kernel) {
  (void)state;
  struct cpu_net *r = kernel;
  if (r == NULL) return;
  for (int32_t i = 0; i < r->n_segs; i++) {
    if (r->segs[i].runtime) xnn_delete_runtime(r->segs[i].runtime);
    release_plan(r->segs[i].plan);
  }
  free(r->segs);
  if (r->host) {
    for (int32_t t = 0; t < r->net->n_tensors; t++) {
      if (r->owned[t]) oc__aligned_free(r->host[t]);
    }
  }
  if (r->folded_w) {
    for (int32_t i = 0; i < r->net->n_kernels; i++) {
      free(r->folded_w[i]);
      free(r->folded_b[i]);
    }
  }
  free(r->folded_w);
  free(r->folded_b);
  free(r->host);
  free(r->owned);
  oc_net_params_free(r->params);
  free(r);
}

/* ---- segments and host buffers ------------------------------------------- */

static enum oc_status make_segments(struct cpu_net *r) {
  const struct oc_net *net = r->net;
  r->segs = calloc((size_t)net->n_kernels + 1, sizeof *r->segs);
  if (r->segs == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    enum seg_kind kind = in_graph(k) ? seg_graph : k->step == oc_net_step_op ? seg_op : seg_move;
    struct seg *last = r->n_segs ? &r->segs[r->n_segs - 1] : NULL;
    if (kind == seg_graph && last && last->kind == seg_graph) {
      last->count++;
      continue;
    }
    struct seg *s = &r->segs[r->n_segs++];
    s->kind = kind;
    s->first = i;
    s->count = 1;
  }
  return oc_status_ok;
}

/* A tensor gets a host buffer unless a single subgraph both writes and
 * reads it all. */
static enum oc_status make_host_buffers(struct cpu_net *r) {
  const struct oc_net *net = r->net;
  int32_t nt = net->n_tensors;
  int32_t *seg_of_kernel = malloc(((size_t)net->n_kernels + 1) * sizeof *seg_of_kernel);
  bool *need = calloc((size_t)nt, sizeof *need);
  int32_t *producer_seg = malloc((size_t)nt * sizeof *producer_seg);
  enum oc_status st = oc_status_ok;
  r->host = calloc((size_t)nt, sizeof *r->host);
  r->owned = calloc((size_t)nt, sizeof *r->owned);
  if (seg_of_kernel == NULL || need == NULL || producer_seg == NULL || r->host == NULL ||
      r->owned == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  for (int32_t s = 0; s < r->n_segs; s++)
    for (int32_t i = r->segs[s].first; i < r->segs[s].first + r->segs[s].count; i++)
      seg_of_kernel[i] = s;
  for (int32_t t = 0; t < nt; t++) {
    const struct oc_net_tensor *ten = &net->tensors[t];
    producer_seg[t] = ten->producer >= 0 ? seg_of_kernel[ten->producer] : -1;
    /* A tensor no kernel reads is still computed (as TFLite would); XNNPACK
     * gives memory only to values something reads, so it becomes external. */
    need[t] = ten->kind != oc_net_tensor_activation || t == net->output_tensor ||
              ten->last_use < 0 || r->segs[producer_seg[t]].kind != seg_graph;
  }
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    for (int32_t j = 0; j < k->n_inputs; j++) {
      int32_t t = k->input[j];
      if (producer_seg[t] != seg_of_kernel[i] || r->segs[seg_of_kernel[i]].kind != seg_graph)
        need[t] = true;
    }
  }
  for (int32_t t = 0; t < nt; t++) {
    const struct oc_net_tensor *ten = &net->tensors[t];
    if (!need[t]) continue;
    if (t == net->output_tensor && t != net->input_tensor) {
      r->host[t] = r->output;
    } else {
      r->host[t] = oc__aligned_alloc(64, (size_t)ten->bytes + XNN_EXTRA_BYTES);
      if (r->host[t] == NULL) {
        st = oc__fail(oc_status_out_of_memory, "out of memory for the network's buffers");
        goto done;
      }
      r->owned[t] = true;
      /* Parameters get a padded copy too: XNNPACK may read past the end. */
      if (ten->kind == oc_net_tensor_param)
        memcpy(r->host[t], r->params->tensors[t], (size_t)ten->bytes);
    }
  }
done:
  free(seg_of_kernel);
  free(need);
  free(producer_seg);
  return st;
}

/* ---- subgraphs ------------------------------------------------------------- */

struct graph {
  xnn_subgraph_t sg;
  uint32_t *vid;      /* per tensor: value id in this subgraph, XNN_INVALID_VALUE_ID */
  size_t (*vdims)[4]; /* per tensor: dims of that value */
  struct xnn_external_value *ext;
  uint32_t n_ext;
};

static enum oc_status xfail(const char *func, enum xnn_status xs) {
  return oc__cpu_xnn_fail(func, xs);
}

static enum oc_status define_value(struct graph *g, const size_t dims[4], const void *data,
                                   uint32_t external, uint32_t flags, uint32_t *id) {
  enum xnn_status xs =
      xnn_define_tensor_value(g->sg, xnn_datatype_fp32, 4, dims, data, external, flags, id);
  return xs == xnn_status_success ? oc_status_ok : xfail("xnn_define_tensor_value", xs);
}

static enum oc_status define_static(struct graph *g, size_t n_dims, const size_t *dims,
                                    const void *data, uint32_t *id) {
  enum xnn_status xs = xnn_define_tensor_value(g->sg, xnn_datatype_fp32, n_dims, dims, data,
                                               XNN_INVALID_VALUE_ID, 0, id);
  return xs == xnn_status_success ? oc_status_ok : xfail("xnn_define_tensor_value", xs);
}

/* The value of tensor t (an external input when it comes from outside the
 * segment), reshaped to want when want is given and differs. */
static enum oc_status input_value(struct cpu_net *r, struct graph *g, int32_t t,
                                  const size_t *want, uint32_t *id) {
  enum oc_status st;
  if (g->vid[t] == XNN_INVALID_VALUE_ID) {
    const struct oc_tensor_shape *s = &r->net->tensors[t].shape;
    size_t dims[4] = {(size_t)s->n, (size_t)s->h, (size_t)s->w, (size_t)s->c};
    uint32_t ext = g->n_ext;
    st = define_value(g, dims, NULL, ext, XNN_VALUE_FLAG_EXTERNAL_INPUT, &g->vid[t]);
    if (st != oc_status_ok) return st;
    g->ext[g->n_ext].id = ext;
    g->ext[g->n_ext].data = r->host[t];
    g->n_ext++;
    memcpy(g->vdims[t], dims, sizeof dims);
  }
  *id = g->vid[t];
  if (want == NULL || memcmp(want, g->vdims[t], 4 * sizeof *want) == 0) return oc_status_ok;
  uint32_t reshaped;
  st = define_value(g, want, NULL, XNN_INVALID_VALUE_ID, 0, &reshaped);
  if (st != oc_status_ok) return st;
  enum xnn_status xs = xnn_define_static_reshape(g->sg, 4, want, *id, reshaped, 0);
  if (xs != xnn_status_success) return xfail("xnn_define_static_reshape", xs);
  *id = reshaped;
  return oc_status_ok;
}

/* The value a node writes for tensor t, with the node's dims: external when
 * the tensor has a host buffer. */
static enum oc_status output_value(struct cpu_net *r, struct graph *g, int32_t t,
                                   const size_t dims[4], uint32_t *id) {
  enum oc_status st;
  if (r->host[t] != NULL) {
    uint32_t ext = g->n_ext;
    st = define_value(g, dims, NULL, ext, XNN_VALUE_FLAG_EXTERNAL_OUTPUT, id);
    if (st != oc_status_ok) return st;
    g->ext[g->n_ext].id = ext;
    g->ext[g->n_ext].data = r->host[t];
    g->n_ext++;
  } else {
    st = define_value(g, dims, NULL, XNN_INVALID_VALUE_ID, 0, id);
    if (st != oc_status_ok) return st;
  }
  g->vid[t] = *id;
  memcpy(g->vdims[t], dims, 4 * sizeof *dims);
  return oc_status_ok;
}

static void clamp_of(enum oc_act act, float *lo, float *hi) {
  *lo = -INFINITY;
  *hi = INFINITY;
  if (act == oc_act_relu) *lo = 0.0f;
  if (act == oc_act_relu6) {
    *lo = 0.0f;
    *hi = 6.0f;
  }
  if (act == oc_act_hsigmoid) {
    *lo = 0.0f;
    *hi = 1.0f;
  }
}

/* Linear node (conv2d, fc, add) writing `raw`, then the activation nodes
 * that clamps cannot express, writing `out`. */
static enum oc_status act_tail(struct graph *g, enum oc_act act, uint32_t raw,
                               const size_t dims[4], uint32_t out) {
  enum xnn_status xs = xnn_status_success;
  const char *func = "";
  if (act == oc_act_hswish) {
    func = "xnn_define_hardswish";
    xs = xnn_define_hardswish(g->sg, raw, out, 0);
  } else if (act == oc_act_sigmoid) {
    func = "xnn_define_sigmoid";
    xs = xnn_define_sigmoid(g->sg, raw, out, 0);
  } else if (act == oc_act_swish) {
    uint32_t sig;
    enum oc_status st = define_value(g, dims, NULL, XNN_INVALID_VALUE_ID, 0, &sig);
    if (st != oc_status_ok) return st;
    func = "xnn_define_sigmoid";
    xs = xnn_define_sigmoid(g->sg, raw, sig, 0);
    if (xs == xnn_status_success) {
      func = "xnn_define_multiply2";
      xs = xnn_define_multiply2(g->sg, -INFINITY, INFINITY, raw, sig, out, 0);
    }
  }
  return xs == xnn_status_success ? oc_status_ok : xfail(func, xs);
}

static bool needs_tail(enum oc_act act) {
  return act == oc_act_hswish || act == oc_act_sigmoid || act == oc_act_swish;
}

/* hsigmoid(Wx + b) = clamp((W/6)x + (b+3)/6, 0, 1): scaled copies of the
 * parameters of kernel i. */
static enum oc_status fold_hsigmoid(struct cpu_net *r, int32_t i, int64_t wn, int64_t bn) {
  r->folded_w[i] = malloc((size_t)wn * sizeof(float));
  r->folded_b[i] = malloc((size_t)bn * sizeof(float));
  if (r->folded_w[i] == NULL || r->folded_b[i] == NULL)
    return oc__fail(oc_status_out_of_memory, "out of memory");
  for (int64_t j = 0; j < wn; j++) r->folded_w[i][j] = r->params->weights[i][j] / 6.0f;
  for (int64_t j = 0; j < bn; j++) r->folded_b[i][j] = (r->params->bias[i][j] + 3.0f) / 6.0f;
  return oc_status_ok;
}

static enum oc_status define_kernel(struct cpu_net *r, struct graph *g, int32_t i) {
  const struct oc_net_kernel *k = &r->net->kernels[i];
  const struct oc_op *op = &k->op;
  struct oc_op_shapes sh;
  oc_op_shapes(op, &sh);
  size_t in_dims[4] = {(size_t)sh.input[0].n, (size_t)sh.input[0].h, (size_t)sh.input[0].w,
                       (size_t)sh.input[0].c};
  size_t out_dims[4] = {(size_t)sh.output.n, (size_t)sh.output.h, (size_t)sh.output.w,
                        (size_t)sh.output.c};
  uint32_t in0, in1, out, raw, w, b;
  float lo, hi;
  enum xnn_status xs = xnn_status_success;
  const char *func = "";
  enum oc_status st;
  const float *weights = r->params->weights[i], *bias = r->params->bias[i];
  bool tail = oc_op_kind_uses(op->kind, oc_field_act) && needs_tail(op->act);
  clamp_of(tail ? oc_act_none : op->act, &lo, &hi);
  if ((op->kind == oc_op_conv2d || op->kind == oc_op_fc) && op->act == oc_act_hsigmoid) {
    st = fold_hsigmoid(r, i, sh.weight_elems, sh.bias_elems);
    if (st != oc_status_ok) return st;
    weights = r->folded_w[i];
    bias = r->folded_b[i];
  }
  switch (op->kind) {
  case oc_op_conv2d: {
    st = input_value(r, g, k->input[0], in_dims, &in0);
    if (st != oc_status_ok) return st;
    size_t wd[4] = {(size_t)op->cout, (size_t)op->k, (size_t)op->k, (size_t)(op->cin / op->g)};
    size_t bd[1] = {(size_t)op->cout};
    st = define_static(g, 4, wd, weights, &w);
    if (st == oc_status_ok) st = define_static(g, 1, bd, bias, &b);
    if (st == oc_status_ok) st = output_value(r, g, k->output, out_dims, &out);
    raw = out;
    if (st == oc_status_ok && tail) st = define_value(g, out_dims, NULL, XNN_INVALID_VALUE_ID, 0, &raw);
    if (st != oc_status_ok) return st;
    func = "xnn_define_convolution_2d";
    xs = xnn_define_convolution_2d(
        g->sg, (uint32_t)sh.pad_top, (uint32_t)sh.pad_right, (uint32_t)sh.pad_bottom,
        (uint32_t)sh.pad_left, (uint32_t)op->k, (uint32_t)op->k, (uint32_t)op->s,
        (uint32_t)op->s, (uint32_t)op->d, (uint32_t)op->d, (uint32_t)op->g,
        (size_t)(op->cin / op->g), (size_t)(op->cout / op->g), lo, hi, in0, w, b, raw, 0);
    break;
  }
  case oc_op_fc: {
    /* Any leading dims: the value keeps them and changes the last. */
    st = input_value(r, g, k->input[0], NULL, &in0);
    if (st != oc_status_ok) return st;
    size_t od[4];
    memcpy(od, g->vdims[k->input[0]], sizeof od);
    if (od[3] != (size_t)op->cin) {
      st = input_value(r, g, k->input[0], in_dims, &in0);
      if (st != oc_status_ok) return st;
      memcpy(od, in_dims, sizeof od);
    }
    od[3] = (size_t)op->cout;
    size_t wd[2] = {(size_t)op->cout, (size_t)op->cin};
    size_t bd[1] = {(size_t)op->cout};
    st = define_static(g, 2, wd, weights, &w);
    if (st == oc_status_ok) st = define_static(g, 1, bd, bias, &b);
    if (st == oc_status_ok) st = output_value(r, g, k->output, od, &out);
    raw = out;
    if (st == oc_status_ok && tail) st = define_value(g, od, NULL, XNN_INVALID_VALUE_ID, 0, &raw);
    if (st != oc_status_ok) return st;
    func = "xnn_define_fully_connected";
    xs = xnn_define_fully_connected(g->sg, lo, hi, in0, w, b, raw, 0);
    memcpy(out_dims, od, sizeof od);
    break;
  }
  case oc_op_maxpool2d:
  case oc_op_avgpool2d:
    st = input_value(r, g, k->input[0], in_dims, &in0);
    if (st == oc_status_ok) st = output_value(r, g, k->output, out_dims, &out);
    if (st != oc_status_ok) return st;
    if (op->kind == oc_op_maxpool2d) {
      func = "xnn_define_max_pooling_2d";
      xs = xnn_define_max_pooling_2d(g->sg, (uint32_t)sh.pad_top, (uint32_t)sh.pad_right,
                                     (uint32_t)sh.pad_bottom, (uint32_t)sh.pad_left,
                                     (uint32_t)op->k, (uint32_t)op->k, (uint32_t)op->s,
                                     (uint32_t)op->s, 1, 1, -INFINITY, INFINITY, in0, out, 0);
    } else {
      func = "xnn_define_average_pooling_2d";
      xs = xnn_define_average_pooling_2d(g->sg, (uint32_t)sh.pad_top, (uint32_t)sh.pad_right,
                                         (uint32_t)sh.pad_bottom, (uint32_t)sh.pad_left,
                                         (uint32_t)op->k, (uint32_t)op->k, (uint32_t)op->s,
                                         (uint32_t)op->s, -INFINITY, INFINITY, in0, out, 0);
    }
    break;
  case oc_op_gap:
    st = input_value(r, g, k->input[0], in_dims, &in0);
    if (st == oc_status_ok) st = output_value(r, g, k->output, out_dims, &out);
    if (st != oc_status_ok) return st;
    func = "xnn_define_global_average_pooling_2d";
    xs = xnn_define_global_average_pooling_2d(g->sg, -INFINITY, INFINITY, in0, out, 0);
    break;
  case oc_op_softmax:
    st = input_value(r, g, k->input[0], in_dims, &in0);
    if (st == oc_status_ok) st = output_value(r, g, k->output, out_dims, &out);
    if (st != oc_status_ok) return st;
    func = "xnn_define_softmax";
    xs = xnn_define_softmax(g->sg, in0, out, 0);
    break;
  case oc_op_add:
  case oc_op_mul: {
    st = input_value(r, g, k->input[0], in_dims, &in0);
    size_t d1[4] = {(size_t)sh.input[1].n, (size_t)sh.input[1].h, (size_t)sh.input[1].w,
                    (size_t)sh.input[1].c};
    if (st == oc_status_ok) st = input_value(r, g, k->input[1], d1, &in1);
    if (st == oc_status_ok) st = output_value(r, g, k->output, out_dims, &out);
    raw = out;
    if (st == oc_status_ok && tail) st = define_value(g, out_dims, NULL, XNN_INVALID_VALUE_ID, 0, &raw);
    if (st != oc_status_ok) return st;
    if (op->kind == oc_op_add) {
      func = "xnn_define_add2";
      xs = xnn_define_add2(g->sg, lo, hi, in0, in1, raw, 0);
    } else {
      func = "xnn_define_multiply2";
      xs = xnn_define_multiply2(g->sg, -INFINITY, INFINITY, in0, in1, raw, 0);
    }
    break;
  }
  case oc_op_act:
    st = input_value(r, g, k->input[0], in_dims, &in0);
    if (st == oc_status_ok) st = output_value(r, g, k->output, out_dims, &out);
    if (st != oc_status_ok) return st;
    if (tail) {
      raw = in0;
    } else {
      func = "xnn_define_clamp";
      xs = xnn_define_clamp(g->sg, lo, hi, in0, out, 0);
    }
    break;
  default: return oc__fail(oc_status_internal, "kernel %d cannot be a subgraph node", (int)i);
  }
  if (xs != xnn_status_success) return xfail(func, xs);
  if (tail) return act_tail(g, op->act, raw, out_dims, out);
  return oc_status_ok;
}

static enum oc_status build_graph(struct cpu_net *r, struct seg *s) {
  const struct oc_net *net = r->net;
  struct graph g;
  enum oc_status st = oc_status_ok;
  memset(&g, 0, sizeof g);
  /* At most: every input and output of every kernel is external. */
  uint32_t max_ext = (uint32_t)s->count * 3;
  g.vid = malloc((size_t)net->n_tensors * sizeof *g.vid);
  g.vdims = calloc((size_t)net->n_tensors, sizeof *g.vdims);
  g.ext = calloc(max_ext, sizeof *g.ext);
  if (g.vid == NULL || g.vdims == NULL || g.ext == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  for (int32_t t = 0; t < net->n_tensors; t++) g.vid[t] = XNN_INVALID_VALUE_ID;
  enum xnn_status xs = xnn_create_subgraph(max_ext, 0, &g.sg);
  if (xs != xnn_status_success) {
    st = xfail("xnn_create_subgraph", xs);
    goto done;
  }
  for (int32_t i = s->first; i < s->first + s->count && st == oc_status_ok; i++)
    st = define_kernel(r, &g, i);
  if (st != oc_status_ok) {
    oc__fail_prefix(st, "kernel %d (layer %d): ", (int)(s->first), (int)net->kernels[s->first].layer);
    goto done;
  }
  xs = xnn_create_runtime_v2(g.sg, r->pool, 0, &s->runtime);
  if (xs == xnn_status_success) xs = xnn_setup_runtime(s->runtime, g.n_ext, g.ext);
  if (xs != xnn_status_success)
    st = xfail(s->runtime ? "xnn_setup_runtime" : "xnn_create_runtime_v2", xs);
done:
  if (g.sg) xnn_delete_subgraph(g.sg);
  free(g.vid);
  free(g.vdims);
  free(g.ext);
  return st;
}

static enum oc_status build_plan(struct cpu_net *r, struct seg *s) {
  int32_t i = s->first;
  const struct oc_net_kernel *k = &r->net->kernels[i];
  struct oc_tensors t = {{r->host[k->input[0]], k->n_inputs > 1 ? r->host[k->input[1]] : NULL},
                         r->params->weights[i], r->params->bias[i], r->host[k->output]};
  s->plan = calloc(1, sizeof *s->plan);
  if (s->plan == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  enum oc_status st = oc__cpu_plan(r->pool, &k->op, &t, s->plan);
  if (st != oc_status_ok)
    return oc__fail_prefix(st, "kernel %d (layer %d, %s): ", (int)i, (int)k->layer,
                           oc_op_kind_name(k->op.kind));
  return oc_status_ok;
}

enum oc_status oc__cpu_prepare_net(void *state, const struct oc_net *net, const void *input,
                                   void *output, void **kernel) {
  *kernel = NULL;
  if (input == NULL || output == NULL)
    return oc__fail(oc_status_invalid_argument, "network input or output buffer is NULL");
  struct cpu_net *r = calloc(1, sizeof *r);
  enum oc_status st;
  if (r == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  r->net = net;
  r->pool = oc__cpu_pool(state);
  r->input = input;
  r->output = output;
  r->folded_w = calloc((size_t)net->n_kernels + 1, sizeof *r->folded_w);
  r->folded_b = calloc((size_t)net->n_kernels + 1, sizeof *r->folded_b);
  if (r->folded_w == NULL || r->folded_b == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto fail;
  }
  st = oc_net_params_create(net, OC_NET_PARAM_SEED, &r->params);
  if (st == oc_status_ok) st = make_segments(r);
  if (st == oc_status_ok) st = make_host_buffers(r);
  for (int32_t i = 0; i < r->n_segs && st == oc_status_ok; i++) {
    struct seg *s = &r->segs[i];
    if (s->kind == seg_graph) st = build_graph(r, s);
    else if (s->kind == seg_op) st = build_plan(r, s);
  }
  if (st != oc_status_ok) goto fail;
  *kernel = r;
  return oc_status_ok;
fail:
  oc__cpu_release_net(state, r);
  return st;
}

enum oc_status oc__cpu_run_net(void *state, void *kernel) {
  (void)state;
  struct cpu_net *r = kernel;
  const struct oc_net *net = r->net;
  float *in = r->host[net->input_tensor];
  if (in) memcpy(in, r->input, (size_t)net->tensors[net->input_tensor].bytes);
  if (net->output_tensor == net->input_tensor) {
    memcpy(r->output, r->input, (size_t)net->tensors[net->input_tensor].bytes);
    return oc_status_ok;
  }
  for (int32_t i = 0; i < r->n_segs; i++) {
    const struct seg *s = &r->segs[i];
    if (s->kind == seg_graph) {
      enum xnn_status xs = xnn_invoke_runtime(s->runtime);
      if (xs != xnn_status_success) return oc__cpu_xnn_fail("xnn_invoke_runtime", xs);
    } else if (s->kind == seg_op) {
      for (int j = 0; j < s->plan->n_steps; j++) {
        const struct cpu_step *step = &s->plan->steps[j];
        if (step->xop) {
          enum xnn_status xs = xnn_run_operator(step->xop, r->pool);
          if (xs != xnn_status_success) return oc__cpu_xnn_fail("xnn_run_operator", xs);
        } else {
          oc__cpu_own_run(&step->own, r->pool);
        }
      }
    } else {
      const struct oc_net_kernel *k = &net->kernels[s->first];
      enum oc_status st =
          oc_net_move_f32(net, s->first, k->n_inputs > 0 ? r->host[k->input[0]] : NULL,
                          k->n_inputs > 1 ? r->host[k->input[1]] : NULL, r->host[k->output]);
      if (st != oc_status_ok) return st;
    }
  }
  return oc_status_ok;
}
