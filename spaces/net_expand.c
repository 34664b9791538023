/* net_expand.c - turning parsed layers into primitive kernels: shape
 * inference, the expansion rule of every block (mbconv, fused_mbconv, se,
 * bottleneck, basic, transformer_layer, patch_embed, nb201_cell), the
 * tensors kernels read and write, and each layer's block key.
 *
 * These rules are the definition of opcost-net/1: docs/formats.md states
 * them in words, and changing one changes the format version. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "spaces/net_internal.h"

struct expand {
  struct oc_net *net;
  const char *source;
  int32_t layer;
  int32_t cap_kernels, cap_tensors;
};

static struct oc_tensor_shape shape4(int32_t h, int32_t w, int32_t c) {
  struct oc_tensor_shape s = {1, h, w, c};
  return s;
}

static bool same_shape(const struct oc_tensor_shape *a, const struct oc_tensor_shape *b) {
  return a->n == b->n && a->h == b->h && a->w == b->w && a->c == b->c;
}

static const struct oc_tensor_shape *tshape(const struct expand *x, int32_t t) {
  return &x->net->tensors[t].shape;
}

static enum oc_status layer_fail(const struct expand *x, enum oc_status st, const char *fmt,
                                 ...) OC__PRINTF(3, 4);
static enum oc_status layer_fail(const struct expand *x, enum oc_status st, const char *fmt,
                                 ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return oc__fail(st, "%s: layers[%d] (%s): %s", x->source, (int)x->layer,
                  oc__net_layer_kind_name(&x->net->layers[x->layer]), msg);
}

static enum oc_status add_tensor(struct expand *x, enum oc_net_tensor_kind kind,
                                 struct oc_tensor_shape shape, int32_t producer, int32_t *id) {
  struct oc_net *net = x->net;
  if (net->n_tensors == x->cap_tensors) {
    int32_t cap = x->cap_tensors ? x->cap_tensors * 2 : 64;
    struct oc_net_tensor *t = realloc(net->tensors, (size_t)cap * sizeof *t);
    if (t == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", x->source);
    net->tensors = t;
    x->cap_tensors = cap;
  }
  int64_t bytes;
  if (!oc__mul64(oc_tensor_elems(&shape), (int64_t)oc_dtype_size(net->dtype), &bytes))
    return layer_fail(x, oc_status_overflow, "a tensor's size does not fit in 64 bits");
  struct oc_net_tensor *t = &net->tensors[net->n_tensors];
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->shape = shape;
  t->bytes = bytes;
  t->producer = producer;
  t->last_use = -1;
  t->reused_by = -1;
  *id = net->n_tensors++;
  return oc_status_ok;
}

static enum oc_status add_kernel(struct expand *x, struct oc_net_kernel **k) {
  struct oc_net *net = x->net;
  if (net->n_kernels == x->cap_kernels) {
    int32_t cap = x->cap_kernels ? x->cap_kernels * 2 : 64;
    struct oc_net_kernel *p = realloc(net->kernels, (size_t)cap * sizeof *p);
    if (p == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", x->source);
    net->kernels = p;
    x->cap_kernels = cap;
  }
  *k = &net->kernels[net->n_kernels];
  memset(*k, 0, sizeof **k);
  (*k)->layer = x->layer;
  (*k)->input[0] = (*k)->input[1] = -1;
  return oc_status_ok;
}

/* Emits a kernel computing op from tensors in0 (and in1 for two-input ops).
 * The output tensor gets the shape `view` (NULL: the op's output shape),
 * which must have the op's element count. */
static enum oc_status emit_op(struct expand *x, const struct oc_op *op, int32_t in0,
                              int32_t in1, const struct oc_tensor_shape *view, int32_t *out) {
  struct oc_op_shapes sh;
  enum oc_status st = oc_op_validate(op);
  if (st != oc_status_ok)
    return oc__fail_prefix(st, "%s: layers[%d] (%s): %s kernel: ", x->source, (int)x->layer,
                           oc__net_layer_kind_name(&x->net->layers[x->layer]),
                           oc_op_kind_name(op->kind));
  oc_op_shapes(op, &sh);
  int32_t ins[2] = {in0, in1};
  for (int i = 0; i < sh.n_inputs; i++) {
    if (ins[i] < 0 || oc_tensor_elems(tshape(x, ins[i])) != oc_tensor_elems(&sh.input[i]))
      return layer_fail(x, oc_status_internal, "%s kernel: input %d does not match its tensor",
                        oc_op_kind_name(op->kind), i);
  }
  struct oc_tensor_shape oshape = view ? *view : sh.output;
  if (oc_tensor_elems(&oshape) != oc_tensor_elems(&sh.output))
    return layer_fail(x, oc_status_internal, "%s kernel: output view does not match",
                      oc_op_kind_name(op->kind));
  struct oc_net_kernel *k = NULL;
  int32_t kindex = x->net->n_kernels;
  st = add_kernel(x, &k);
  if (st != oc_status_ok) return st;
  k->step = oc_net_step_op;
  k->op = *op;
  k->n_inputs = sh.n_inputs;
  k->input[0] = in0;
  if (sh.n_inputs > 1) k->input[1] = in1;
  x->net->n_kernels++;
  st = add_tensor(x, oc_net_tensor_activation, oshape, kindex, out);
  if (st != oc_status_ok) return st;
  x->net->kernels[kindex].output = *out;
  return oc_status_ok;
}

static enum oc_status emit_move(struct expand *x, enum oc_net_step step, int32_t in0,
                                int32_t in1, struct oc_tensor_shape shape, int32_t heads,
                                int32_t offset, int32_t *out) {
  struct oc_net_kernel *k = NULL;
  int32_t kindex = x->net->n_kernels;
  enum oc_status st = add_kernel(x, &k);
  if (st != oc_status_ok) return st;
  k->step = step;
  k->n_inputs = (in0 >= 0) + (in1 >= 0);
  k->input[0] = in0;
  k->input[1] = in1;
  k->heads = heads;
  k->offset = offset;
  x->net->n_kernels++;
  st = add_tensor(x, oc_net_tensor_activation, shape, kindex, out);
  if (st != oc_status_ok) return st;
  x->net->kernels[kindex].output = *out;
  return oc_status_ok;
}

/* ---- primitive kernels on NHWC tensors ------------------------------------ */

static enum oc_status conv(struct expand *x, int32_t in, int32_t cout, int32_t k, int32_t s,
                           int32_t g, int32_t d, enum oc_act act, int32_t *out) {
  const struct oc_tensor_shape *is = tshape(x, in);
  struct oc_op op;
  oc_op_init(&op, oc_op_conv2d, x->net->dtype);
  op.h = is->h;
  op.w = is->w;
  op.cin = is->c;
  op.cout = cout;
  op.k = k;
  op.s = s;
  op.g = g;
  op.d = d;
  op.act = act;
  return emit_op(x, &op, in, -1, NULL, out);
}

static enum oc_status conv1x1(struct expand *x, int32_t in, int32_t cout, enum oc_act act,
                              int32_t *out) {
  return conv(x, in, cout, 1, 1, 1, 1, act, out);
}

/* fc over every position of [1,h,w,c]: m = h*w rows, output [1,h,w,cout]. */
static enum oc_status fc(struct expand *x, int32_t in, int32_t cout, enum oc_act act,
                         int32_t *out) {
  const struct oc_tensor_shape *is = tshape(x, in);
  int64_t m = (int64_t)is->h * is->w;
  if (m > OC_FIELD_VALUE_MAX)
    return layer_fail(x, oc_status_invalid_argument, "fc kernel: %lld rows, more than %d",
                      (long long)m, OC_FIELD_VALUE_MAX);
  struct oc_op op;
  oc_op_init(&op, oc_op_fc, x->net->dtype);
  op.m = (int32_t)m;
  op.cin = is->c;
  op.cout = cout;
  op.act = act;
  struct oc_tensor_shape view = shape4(is->h, is->w, cout);
  return emit_op(x, &op, in, -1, &view, out);
}

static enum oc_status hwc_op(struct expand *x, enum oc_op_kind kind, int32_t in0, int32_t in1,
                             enum oc_act act, int32_t k, int32_t s, int32_t *out) {
  const struct oc_tensor_shape *is = tshape(x, in0);
  struct oc_op op;
  oc_op_init(&op, kind, x->net->dtype);
  op.h = is->h;
  op.w = is->w;
  op.c = is->c;
  if (oc_op_kind_uses(kind, oc_field_act)) op.act = act;
  if (oc_op_kind_uses(kind, oc_field_k)) op.k = k;
  if (oc_op_kind_uses(kind, oc_field_s)) op.s = s;
  if (kind == oc_op_mul) op.bc = oc_tensor_elems(tshape(x, in1)) == is->c && is->h * is->w != 1;
  if (kind == oc_op_concat) op.c2 = tshape(x, in1)->c;
  return emit_op(x, &op, in0, in1, NULL, out);
}

static enum oc_status add2(struct expand *x, int32_t a, int32_t b, enum oc_act act,
                           int32_t *out) {
  return hwc_op(x, oc_op_add, a, b, act, 0, 0, out);
}

/* Squeeze-excite on [1,h,w,c]: gap -> fc(se_ch, se_act) -> fc(c, se_gate)
 * -> mul with bc=1. */
static enum oc_status squeeze_excite(struct expand *x, int32_t in, int32_t se_ch,
                                     enum oc_act se_act, enum oc_act se_gate, int32_t *out) {
  int32_t pooled, squeezed, gate;
  int32_t c = tshape(x, in)->c;
  enum oc_status st = hwc_op(x, oc_op_gap, in, -1, oc_act_none, 0, 0, &pooled);
  if (st == oc_status_ok) st = fc(x, pooled, se_ch, se_act, &squeezed);
  if (st == oc_status_ok) st = fc(x, squeezed, c, se_gate, &gate);
  if (st == oc_status_ok) {
    const struct oc_tensor_shape *is = tshape(x, in);
    struct oc_op op;
    oc_op_init(&op, oc_op_mul, x->net->dtype);
    op.h = is->h;
    op.w = is->w;
    op.c = is->c;
    op.bc = 1;
    st = emit_op(x, &op, in, gate, NULL, out);
  }
  return st;
}

/* ---- keys ---------------------------------------------------------------------- */

static void key_append(char *key, size_t size, const char *fmt, ...) OC__PRINTF(3, 4);
static void key_append(char *key, size_t size, const char *fmt, ...) {
  size_t used = strlen(key);
  va_list ap;
  va_start(ap, fmt);
  if (used < size) vsnprintf(key + used, size - used, fmt, ap);
  va_end(ap);
}

static int32_t default_mid(int32_t cin, double e) {
  if (e == 1.0) return cin;
  return oc_net_make_divisible((double)cin * e, NET_DIVISOR);
}

static void mb_key(const struct oc_net *net, const struct oc_net_layer *l, char *key,
                   size_t size) {
  const struct oc_net_args *a = &l->args;
  int32_t cin = l->input[0].c;
  double e = (double)a->mid / cin;
  char etext[32];
  snprintf(etext, sizeof etext, "%.4g", e);
  key_append(key, size, " h=%d w=%d cin=%d cout=%d k=%d s=%d e=%s", (int)l->input[0].h,
             (int)l->input[0].w, (int)cin, (int)a->cout, (int)a->k, (int)a->s, etext);
  if (a->mid != default_mid(cin, atof(etext))) key_append(key, size, " mid=%d", (int)a->mid);
  key_append(key, size, " se=%d", (int)a->se);
  if (a->se) {
    if (a->se_ch != oc_net_make_divisible(a->mid * NET_SE_RATIO, NET_DIVISOR))
      key_append(key, size, " se_ch=%d", (int)a->se_ch);
    if (a->se_act != oc_act_relu) key_append(key, size, " se_act=%s", oc_act_name(a->se_act));
    if (a->se_gate != oc_act_sigmoid)
      key_append(key, size, " se_gate=%s", oc_act_name(a->se_gate));
  }
  key_append(key, size, " act=%s", oc_act_name(a->act));
  (void)net;
}

static const char *const nb201_names[] = {"none", "skip_connect", "nor_conv_1x1",
                                          "nor_conv_3x3", "avg_pool_3x3"};

static void block_key(const struct oc_net *net, struct oc_net_layer *l) {
  char *key = l->key;
  size_t size = sizeof l->key;
  const struct oc_net_args *a = &l->args;
  const struct oc_tensor_shape *in = &l->input[0];
  snprintf(key, size, "%s.%s", oc_net_block_name(l->block), oc_dtype_name(net->dtype));
  switch (l->block) {
  case oc_net_block_mbconv:
  case oc_net_block_fused_mbconv: mb_key(net, l, key, size); break;
  case oc_net_block_se:
    key_append(key, size, " h=%d w=%d c=%d se_ch=%d se_act=%s se_gate=%s", (int)in->h,
               (int)in->w, (int)in->c, (int)a->se_ch, oc_act_name(a->se_act),
               oc_act_name(a->se_gate));
    break;
  case oc_net_block_bottleneck:
    key_append(key, size, " h=%d w=%d cin=%d cout=%d mid=%d s=%d act=%s", (int)in->h,
               (int)in->w, (int)in->c, (int)a->cout, (int)a->mid, (int)a->s,
               oc_act_name(a->act));
    break;
  case oc_net_block_basic:
    key_append(key, size, " h=%d w=%d cin=%d cout=%d s=%d act=%s", (int)in->h, (int)in->w,
               (int)in->c, (int)a->cout, (int)a->s, oc_act_name(a->act));
    break;
  case oc_net_block_transformer_layer:
    key_append(key, size, " h=%d w=%d c=%d heads=%d mlp=%d act=%s", (int)in->h, (int)in->w,
               (int)in->c, (int)a->heads, (int)a->mlp, oc_act_name(a->act));
    /* Heads narrower or wider than c/heads: the attention width differs. */
    if ((int64_t)a->heads * a->head_dim != in->c) key_append(key, size, " dh=%d", (int)a->head_dim);
    break;
  case oc_net_block_patch_embed:
    key_append(key, size, " h=%d w=%d cin=%d dim=%d p=%d cls=%d pos=%d", (int)in->h,
               (int)in->w, (int)in->c, (int)a->dim, (int)a->p, (int)a->cls, (int)a->pos);
    break;
  case oc_net_block_nb201_cell:
    key_append(key, size, " h=%d w=%d c=%d cell=%s", (int)in->h, (int)in->w, (int)in->c,
               a->cell);
    break;
  case oc_net_block_token_select:
    key_append(key, size, " h=%d w=%d c=%d index=%d", (int)in->h, (int)in->w, (int)in->c,
               (int)a->index);
    break;
  case oc_net_block_op:
  case oc_net_block__count: break;
  }
}

/* ---- NB201 cells ------------------------------------------------------------------ */

enum oc_status oc__net_nb201_parse(const char *cell, enum net_nb201_op edges[4][3]) {
  const char *p = cell;
  for (int j = 1; j <= 3; j++) {
    bool seen[3] = {false, false, false};
    if (j > 1) {
      if (*p != '+')
        return oc__fail(oc_status_invalid_argument,
                        "field 'cell': value '%s': expected '+' before node %d at '%s'", cell, j,
                        p);
      p++;
    }
    for (int e = 0; e < j; e++) {
      if (*p != '|')
        return oc__fail(oc_status_invalid_argument,
                        "field 'cell': value '%s': expected '|' at '%s' (the form is "
                        "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|)",
                        cell, p);
      p++;
      size_t n = strcspn(p, "~|+");
      int op = -1;
      for (int o = 0; o < 5; o++) {
        if (strlen(nb201_names[o]) == n && strncmp(p, nb201_names[o], n) == 0) op = o;
      }
      if (op < 0)
        return oc__fail(oc_status_invalid_argument,
                        "field 'cell': value '%s': '%.*s' is not an edge op (none skip_connect "
                        "nor_conv_1x1 nor_conv_3x3 avg_pool_3x3)",
                        cell, (int)n, p);
      p += n;
      if (p[0] != '~' || p[1] < '0' || p[1] > '2' || p[2] != '|')
        return oc__fail(oc_status_invalid_argument,
                        "field 'cell': value '%s': expected '~SOURCE|' after '%s' at '%s'", cell,
                        nb201_names[op], p);
      int from = p[1] - '0';
      if (from >= j || seen[from])
        return oc__fail(oc_status_invalid_argument,
                        "field 'cell': value '%s': node %d takes each of nodes 0..%d once; "
                        "'~%d' is %s",
                        cell, j, j - 1, from, from >= j ? "out of range" : "repeated");
      seen[from] = true;
      edges[j][from] = (enum net_nb201_op)op;
      p += 2;
    }
    if (*p != '|')
      return oc__fail(oc_status_invalid_argument, "field 'cell': value '%s': expected '|' at '%s'",
                      cell, p);
    p++;
  }
  if (*p != '\0')
    return oc__fail(oc_status_invalid_argument, "field 'cell': value '%s': trailing text '%s'",
                    cell, p);
  return oc_status_ok;
}

/* Node j = sum over live edges i -> j of op(node i); NB201's ReLU-Conv-BN
 * edges are act(relu) then conv (BN folded into the conv's bias). A node
 * with no live edge is zero, and edges leaving a zero node are dropped. */
static enum oc_status expand_nb201(struct expand *x, int32_t in, int32_t *out) {
  struct oc_net_layer *l = &x->net->layers[x->layer];
  enum net_nb201_op edges[4][3];
  enum oc_status st = oc__net_nb201_parse(l->args.cell, edges);
  if (st != oc_status_ok)
    return oc__fail_prefix(st, "%s: layers[%d] (nb201_cell): ", x->source, (int)x->layer);
  /* Canonical spelling of the cell. */
  char canon[sizeof l->args.cell] = "";
  for (int j = 1; j <= 3; j++) {
    if (j > 1) key_append(canon, sizeof canon, "+");
    key_append(canon, sizeof canon, "|");
    for (int i = 0; i < j; i++) key_append(canon, sizeof canon, "%s~%d|", nb201_names[edges[j][i]], i);
  }
  oc__strcpy(l->args.cell, sizeof l->args.cell, canon);
  int32_t node[4] = {in, -1, -1, -1}; /* -1: zero */
  int32_t c = tshape(x, in)->c;
  for (int j = 1; j <= 3; j++) {
    int32_t terms[3];
    int n = 0;
    for (int i = 0; i < j; i++) {
      if (node[i] < 0 || edges[j][i] == net_nb201_none) continue;
      int32_t t = node[i], r;
      switch (edges[j][i]) {
      case net_nb201_skip: break;
      case net_nb201_conv1x1:
      case net_nb201_conv3x3:
        st = hwc_op(x, oc_op_act, t, -1, oc_act_relu, 0, 0, &r);
        if (st == oc_status_ok)
          st = conv(x, r, c, edges[j][i] == net_nb201_conv1x1 ? 1 : 3, 1, 1, 1, oc_act_none, &t);
        break;
      case net_nb201_avgpool3x3: st = hwc_op(x, oc_op_avgpool2d, t, -1, oc_act_none, 3, 1, &t); break;
      case net_nb201_none: break;
      }
      if (st != oc_status_ok) return st;
      terms[n++] = t;
    }
    if (n == 0) continue;
    int32_t sum = terms[0];
    for (int i = 1; i < n; i++) {
      st = add2(x, sum, terms[i], oc_act_none, &sum);
      if (st != oc_status_ok) return st;
    }
    node[j] = sum;
  }
  if (node[3] >= 0) {
    *out = node[3];
    return oc_status_ok;
  }
  return emit_move(x, oc_net_step_zero, -1, -1, *tshape(x, in), 0, 0, out);
}

/* ---- blocks ------------------------------------------------------------------------ */

static enum oc_status expand_mbconv(struct expand *x, struct oc_net_layer *l, int32_t in,
                                    int32_t *out) {
  struct oc_net_args *a = &l->args;
  int32_t cin = tshape(x, in)->c;
  bool fused = l->block == oc_net_block_fused_mbconv;
  if (a->mid == 0) a->mid = default_mid(cin, a->e);
  if (a->e == 0) a->e = (double)a->mid / cin;
  int32_t t = in;
  enum oc_status st = oc_status_ok;
  int32_t se_width = a->mid;
  if (fused) {
    if (a->mid == cin) {
      st = conv(x, t, a->cout, a->k, a->s, 1, 1, a->act, &t);
      se_width = a->cout;
    } else {
      st = conv(x, t, a->mid, a->k, a->s, 1, 1, a->act, &t);
    }
  } else {
    if (a->mid != cin) st = conv1x1(x, t, a->mid, a->act, &t);
    if (st == oc_status_ok) st = conv(x, t, a->mid, a->k, a->s, a->mid, 1, a->act, &t);
  }
  if (st != oc_status_ok) return st;
  if (a->se) {
    if (a->se_ch == 0) a->se_ch = oc_net_make_divisible(se_width * a->se_ratio, NET_DIVISOR);
    st = squeeze_excite(x, t, a->se_ch, a->se_act, a->se_gate, &t);
    if (st != oc_status_ok) return st;
  }
  if (!fused || a->mid != cin) {
    st = conv1x1(x, t, a->cout, oc_act_none, &t);
    if (st != oc_status_ok) return st;
  }
  if (a->s == 1 && cin == a->cout) return add2(x, in, t, oc_act_none, out);
  *out = t;
  return oc_status_ok;
}

static enum oc_status expand_resnet(struct expand *x, struct oc_net_layer *l, int32_t in,
                                    int32_t *out) {
  const struct oc_net_args *a = &l->args;
  const struct oc_tensor_shape *is = tshape(x, in);
  int32_t cin = is->c, t = in, shortcut = in;
  enum oc_status st;
  if (l->block == oc_net_block_bottleneck) {
    st = conv1x1(x, t, a->mid, a->act, &t);
    if (st == oc_status_ok) st = conv(x, t, a->mid, 3, a->s, 1, 1, a->act, &t);
    if (st == oc_status_ok) st = conv1x1(x, t, a->cout, oc_act_none, &t);
  } else {
    st = conv(x, t, a->cout, 3, a->s, 1, 1, a->act, &t);
    if (st == oc_status_ok) st = conv(x, t, a->cout, 3, 1, 1, 1, oc_act_none, &t);
  }
  if (st == oc_status_ok && (a->s != 1 || cin != a->cout))
    st = conv(x, in, a->cout, 1, a->s, 1, 1, oc_act_none, &shortcut);
  if (st == oc_status_ok) st = add2(x, t, shortcut, a->act, out);
  return st;
}

static enum oc_status expand_transformer(struct expand *x, struct oc_net_layer *l, int32_t in,
                                         int32_t *out) {
  struct oc_net_args *a = &l->args;
  struct oc_tensor_shape is = *tshape(x, in);
  int32_t dim = is.c;
  int64_t tokens64 = (int64_t)is.h * is.w;
  if (tokens64 > OC_FIELD_VALUE_MAX)
    return layer_fail(x, oc_status_invalid_argument, "%lld tokens, more than %d",
                      (long long)tokens64, OC_FIELD_VALUE_MAX);
  int32_t tokens = (int32_t)tokens64;
  if (a->head_dim == 0 && dim % a->heads != 0)
    return layer_fail(x, oc_status_invalid_argument,
                      "field 'heads': value '%d' does not divide the width c=%d (give "
                      "'head_dim' for heads of another width)",
                      (int)a->heads, (int)dim);
  if (a->head_dim == 0) a->head_dim = dim / a->heads;
  /* The attention width: q, k and v each have heads x head_dim channels. */
  int64_t aw64 = (int64_t)a->heads * a->head_dim;
  if (3 * aw64 > OC_FIELD_VALUE_MAX)
    return layer_fail(x, oc_status_invalid_argument,
                      "fields 'heads' x 'head_dim': %d x %d gives q, k and v %lld channels, "
                      "more than %d",
                      (int)a->heads, (int)a->head_dim, (long long)(3 * aw64), OC_FIELD_VALUE_MAX);
  int32_t aw = (int32_t)aw64;
  if (a->mlp == 0) {
    double hidden = floor(dim * a->mlp_ratio + 0.5);
    if (hidden < 1 || hidden > OC_FIELD_VALUE_MAX)
      return layer_fail(x, oc_status_invalid_argument,
                        "field 'mlp_ratio': value '%g' gives an MLP width of %.0f", a->mlp_ratio,
                        hidden);
    a->mlp = (int32_t)hidden;
  }
  a->mlp_ratio = (double)a->mlp / dim;
  int32_t heads = a->heads, dh = a->head_dim;
  struct oc_tensor_shape merged_shape = is;
  merged_shape.c = aw;
  int32_t ln1, qkv, q, k, v, scores, probs, ctx, merged, proj, x1, ln2, hidden, mlp_out;
  struct oc_tensor_shape per_head = shape4(heads, tokens, dh);
  struct oc_tensor_shape score_shape = shape4(heads, tokens, tokens);
  struct oc_op op;
  enum oc_status st = hwc_op(x, oc_op_layernorm, in, -1, oc_act_none, 0, 0, &ln1);
  if (st == oc_status_ok) st = fc(x, ln1, 3 * aw, oc_act_none, &qkv);
  if (st == oc_status_ok)
    st = emit_move(x, oc_net_step_heads_split, qkv, -1, per_head, heads, 0, &q);
  if (st == oc_status_ok)
    st = emit_move(x, oc_net_step_heads_split, qkv, -1, per_head, heads, aw, &k);
  if (st == oc_status_ok)
    st = emit_move(x, oc_net_step_heads_split, qkv, -1, per_head, heads, 2 * aw, &v);
  if (st != oc_status_ok) return st;
  oc_op_init(&op, oc_op_matmul, x->net->dtype);
  op.b = heads;
  op.m = tokens;
  op.k = dh;
  op.n = tokens;
  op.tb = 1;
  st = emit_op(x, &op, q, k, &score_shape, &scores);
  if (st == oc_status_ok) st = hwc_op(x, oc_op_softmax, scores, -1, oc_act_none, 0, 0, &probs);
  if (st != oc_status_ok) return st;
  oc_op_init(&op, oc_op_matmul, x->net->dtype);
  op.b = heads;
  op.m = tokens;
  op.k = tokens;
  op.n = dh;
  st = emit_op(x, &op, probs, v, &per_head, &ctx);
  if (st == oc_status_ok) st = emit_move(x, oc_net_step_heads_merge, ctx, -1, merged_shape, heads, 0, &merged);
  if (st == oc_status_ok) st = fc(x, merged, dim, oc_act_none, &proj);
  if (st == oc_status_ok) st = add2(x, in, proj, oc_act_none, &x1);
  if (st == oc_status_ok) st = hwc_op(x, oc_op_layernorm, x1, -1, oc_act_none, 0, 0, &ln2);
  if (st == oc_status_ok) st = fc(x, ln2, a->mlp, a->act, &hidden);
  if (st == oc_status_ok) st = fc(x, hidden, dim, oc_act_none, &mlp_out);
  if (st == oc_status_ok) st = add2(x, x1, mlp_out, oc_act_none, out);
  return st;
}

static enum oc_status expand_patch_embed(struct expand *x, struct oc_net_layer *l, int32_t in,
                                         int32_t *out) {
  const struct oc_net_args *a = &l->args;
  struct oc_tensor_shape is = *tshape(x, in);
  if (is.h % a->p != 0 || is.w % a->p != 0)
    return layer_fail(x, oc_status_invalid_argument,
                      "field 'p': value '%d' does not divide the input %dx%d", (int)a->p,
                      (int)is.h, (int)is.w);
  int64_t patches = (int64_t)(is.h / a->p) * (is.w / a->p);
  if (patches + 1 > OC_FIELD_VALUE_MAX)
    return layer_fail(x, oc_status_invalid_argument, "%lld patches, more than %d",
                      (long long)patches, OC_FIELD_VALUE_MAX - 1);
  struct oc_op op;
  oc_op_init(&op, oc_op_conv2d, x->net->dtype);
  op.h = is.h;
  op.w = is.w;
  op.cin = is.c;
  op.cout = a->dim;
  op.k = a->p;
  op.s = a->p;
  struct oc_tensor_shape tokens = shape4(1, (int32_t)patches, a->dim);
  int32_t t, param;
  enum oc_status st = emit_op(x, &op, in, -1, &tokens, &t);
  if (st == oc_status_ok && a->cls) {
    st = add_tensor(x, oc_net_tensor_param, shape4(1, 1, a->dim), -1, &param);
    tokens.w += 1;
    if (st == oc_status_ok)
      st = emit_move(x, oc_net_step_token_prepend, t, param, tokens, 0, 0, &t);
  }
  if (st == oc_status_ok && a->pos) {
    st = add_tensor(x, oc_net_tensor_param, tokens, -1, &param);
    if (st == oc_status_ok) st = add2(x, t, param, oc_act_none, &t);
  }
  *out = t;
  return st;
}

/* One token as a vector: a head that reads the class token (ViT, DeiT) or
 * the first token (BERT's pooler) instead of pooling over all of them. */
static enum oc_status expand_token_select(struct expand *x, struct oc_net_layer *l, int32_t in,
                                          int32_t *out) {
  struct oc_tensor_shape is = *tshape(x, in);
  int64_t tokens = (int64_t)is.h * is.w;
  if (l->args.index >= tokens)
    return layer_fail(x, oc_status_invalid_argument,
                      "field 'index': value '%d' is past the last of %lld tokens",
                      (int)l->args.index, (long long)tokens);
  return emit_move(x, oc_net_step_token_select, in, -1, shape4(1, 1, is.c), 0, l->args.index,
                   out);
}

/* ---- primitive layers ------------------------------------------------------------- */

static void shape_text(const struct oc_tensor_shape *s, char *buf, size_t size) {
  snprintf(buf, size, "[%d,%d,%d,%d]", (int)s->n, (int)s->h, (int)s->w, (int)s->c);
}

static const char *input_label(const struct expand *x, int32_t layer, char *buf, size_t size) {
  if (layer < 0) return NET_INPUT_NAME;
  if (x->net->layers[layer].id[0]) return x->net->layers[layer].id;
  snprintf(buf, size, "layers[%d]", (int)layer);
  return buf;
}

static enum oc_status join_mismatch(const struct expand *x, const struct oc_net_layer *l,
                                    const char *rule) {
  char a[64], b[64], la[32], lb[32];
  shape_text(&l->input[0], a, sizeof a);
  shape_text(&l->input[1], b, sizeof b);
  return layer_fail(x, oc_status_invalid_argument,
                    "field 'inputs': shape mismatch at the join: '%s' is %s and '%s' is %s (%s)",
                    input_label(x, l->inputs[0], la, sizeof la), a,
                    input_label(x, l->inputs[1], lb, sizeof lb), b, rule);
}

static enum oc_status expand_primitive(struct expand *x, struct oc_net_layer *l,
                                       const int32_t *in, int32_t *out) {
  const struct oc_net_args *a = &l->args;
  const struct oc_tensor_shape *s0 = &l->input[0], *s1 = &l->input[1];
  switch (l->op) {
  case oc_op_conv2d: return conv(x, in[0], a->cout, a->k, a->s, a->g, a->d, a->act, out);
  case oc_op_fc: return fc(x, in[0], a->cout, a->act, out);
  case oc_op_maxpool2d:
  case oc_op_avgpool2d: return hwc_op(x, l->op, in[0], -1, oc_act_none, a->k, a->s, out);
  case oc_op_gap:
  case oc_op_layernorm:
  case oc_op_softmax:
  case oc_op_act: return hwc_op(x, l->op, in[0], -1, a->act, 0, 0, out);
  case oc_op_add:
    if (!same_shape(s0, s1)) return join_mismatch(x, l, "add needs equal shapes");
    return add2(x, in[0], in[1], a->act, out);
  case oc_op_mul:
    if (!same_shape(s0, s1) && !(s1->h == 1 && s1->w == 1 && s1->c == s0->c))
      return join_mismatch(x, l, "mul needs equal shapes, or [1,1,1,c] as the second input");
    return hwc_op(x, oc_op_mul, in[0], in[1], oc_act_none, 0, 0, out);
  case oc_op_concat:
    if (s0->h != s1->h || s0->w != s1->w)
      return join_mismatch(x, l, "concat joins channels of equal h and w");
    return hwc_op(x, oc_op_concat, in[0], in[1], oc_act_none, 0, 0, out);
  case oc_op_matmul: {
    /* A [1,b,m,k] x B [1,b,k,n] (tb=1: [1,b,n,k]) -> [1,b,m,n]. */
    int32_t bk = a->tb ? s1->c : s1->w, bn = a->tb ? s1->w : s1->c;
    if (s0->h != s1->h || s0->c != bk)
      return join_mismatch(x, l, a->tb ? "matmul tb=1 takes [1,b,m,k] and [1,b,n,k]"
                                       : "matmul takes [1,b,m,k] and [1,b,k,n]");
    struct oc_op op;
    oc_op_init(&op, oc_op_matmul, x->net->dtype);
    op.b = s0->h;
    op.m = s0->w;
    op.k = s0->c;
    op.n = bn;
    op.tb = a->tb;
    struct oc_tensor_shape view = shape4(s0->h, s0->w, bn);
    return emit_op(x, &op, in[0], in[1], &view, out);
  }
  case oc_op_kind__count: break;
  }
  return layer_fail(x, oc_status_unsupported, "op %s is not a layer kind", oc_op_kind_name(l->op));
}

static enum oc_status expand_layer(struct expand *x, const int32_t *layer_tensor) {
  struct oc_net *net = x->net;
  struct oc_net_layer *l = &net->layers[x->layer];
  int32_t in[OC_NET_MAX_INPUTS] = {-1, -1};
  for (int32_t j = 0; j < l->n_inputs; j++) {
    in[j] = l->inputs[j] < 0 ? net->input_tensor : layer_tensor[l->inputs[j]];
    l->input[j] = *tshape(x, in[j]);
  }
  l->first_kernel = net->n_kernels;
  int32_t out = -1;
  enum oc_status st;
  switch (l->block) {
  case oc_net_block_op: st = expand_primitive(x, l, in, &out); break;
  case oc_net_block_mbconv:
  case oc_net_block_fused_mbconv: st = expand_mbconv(x, l, in[0], &out); break;
  case oc_net_block_se:
    if (l->args.se_ch == 0)
      l->args.se_ch = oc_net_make_divisible(l->input[0].c * l->args.se_ratio, NET_DIVISOR);
    st = squeeze_excite(x, in[0], l->args.se_ch, l->args.se_act, l->args.se_gate, &out);
    break;
  case oc_net_block_bottleneck:
  case oc_net_block_basic: st = expand_resnet(x, l, in[0], &out); break;
  case oc_net_block_transformer_layer: st = expand_transformer(x, l, in[0], &out); break;
  case oc_net_block_patch_embed: st = expand_patch_embed(x, l, in[0], &out); break;
  case oc_net_block_nb201_cell: st = expand_nb201(x, in[0], &out); break;
  case oc_net_block_token_select: st = expand_token_select(x, l, in[0], &out); break;
  case oc_net_block__count:
  default: st = layer_fail(x, oc_status_internal, "no expansion rule"); break;
  }
  if (st != oc_status_ok) return st;
  l->n_kernels = net->n_kernels - l->first_kernel;
  l->output_tensor = out;
  l->output = *tshape(x, out);
  if (l->block == oc_net_block_op) {
    if (l->n_kernels != 1 || oc_op_format(&net->kernels[l->first_kernel].op, l->key,
                                          sizeof l->key) != oc_status_ok)
      return layer_fail(x, oc_status_internal, "a primitive layer gave no single kernel");
  } else {
    block_key(net, l);
  }
  return oc_status_ok;
}

enum oc_status oc__net_expand(struct oc_net *net, const char *source) {
  struct expand x = {net, source, 0, 0, 0};
  int32_t *layer_tensor = malloc((size_t)net->n_layers * sizeof *layer_tensor);
  enum oc_status st;
  if (layer_tensor == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", source);
  st = add_tensor(&x, oc_net_tensor_input, net->input, -1, &net->input_tensor);
  for (int32_t i = 0; i < net->n_layers && st == oc_status_ok; i++) {
    x.layer = i;
    st = expand_layer(&x, layer_tensor);
    if (st == oc_status_ok) layer_tensor[i] = net->layers[i].output_tensor;
  }
  if (st == oc_status_ok) {
    net->output_tensor = layer_tensor[net->n_layers - 1];
    net->output = net->tensors[net->output_tensor].shape;
  }
  free(layer_tensor);
  return st;
}
