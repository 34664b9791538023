/* cpu_ops.c - how the cpu backend plans each op kind: which XNNPACK operator
 * (create + setup, so weights are packed and buffers bound once) or which own
 * kernel of cpu_kernels.c computes it, and how activations XNNPACK cannot
 * fuse become a second, in-place step on the output.
 *
 * The mapping (XNNPACK 2022-02 operator API):
 *   conv2d     convolution2d_nhwc_f32, explicit "same" padding from
 *              oc_op_shapes, groups, dilation; opcost's weight layout
 *              [cout][k][k][cin/g] is XNNPACK's grouped layout, so depthwise
 *              (g = cin = cout) needs no repacking or flag
 *   fc         fully_connected_nc_f32, batch = m
 *   maxpool2d  max_pooling2d_nhwc_f32; k=1 is an own strided copy (XNNPACK
 *              rejects one-pixel windows)
 *   avgpool2d  average_pooling2d_nhwc_f32, whose divisor already excludes
 *              padding (opcost's rule); k=1 as for maxpool2d
 *   gap        global_average_pooling_nwc_f32 over h*w
 *   act        clamp_nc_f32 (relu, relu6), hardswish_nc_f32, sigmoid_nc_f32;
 *              own kernels for hsigmoid, swish, gelu (erf), tanh
 *   add        add_nd_f32 (relu/relu6 as its output clamp)
 *   mul        multiply_nd_f32, broadcasting [h*w, c] x [c] when bc=1
 *   softmax    softmax_nc_f32
 *   layernorm  own kernel
 *   concat     two copy_nc_x32 with the output's pixel stride
 *   matmul     own kernel (B is an activation: packing it once at prepare,
 *              as fully_connected would, hides work every real run does)
 * Fused activations other than relu/relu6 run after the op, in place:
 * hardswish/sigmoid through XNNPACK, the rest through own kernels. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "targets/cpu/cpu.h"

static const char *xnn_status_text(enum xnn_status status) {
  switch (status) {
  case xnn_status_success: return "success";
  case xnn_status_uninitialized: return "uninitialized";
  case xnn_status_invalid_parameter: return "invalid parameter";
  case xnn_status_invalid_state: return "invalid state";
  case xnn_status_unsupported_parameter: return "unsupported parameter";
  case xnn_status_unsupported_hardware: return "unsupported hardware";
  case xnn_status_out_of_memory: return "out of memory";
  }
  return "unknown status";
}

enum oc_status oc__cpu_xnn_fail(const char *func, enum xnn_status status) {
  enum oc_status st;
  switch (status) {
  case xnn_status_success: return oc_status_ok;
  case xnn_status_uninitialized:
  case xnn_status_unsupported_hardware: st = oc_status_unavailable; break;
  case xnn_status_invalid_parameter: st = oc_status_invalid_argument; break;
  case xnn_status_unsupported_parameter: st = oc_status_unsupported; break;
  case xnn_status_out_of_memory: st = oc_status_out_of_memory; break;
  case xnn_status_invalid_state: st = oc_status_internal; break;
  default: st = oc_status_device_error; break;
  }
  return oc__fail(st, "%s failed: xnn_status %d (%s)", func, (int)status,
                  xnn_status_text(status));
}

/* Calls an XNNPACK function and translates its status, naming the function. */
#define XNN_CALL(func, ...) oc__cpu_xnn_fail(#func, func(__VA_ARGS__))

static size_t zu(int32_t v) { return (size_t)v; }
static uint32_t u32(int32_t v) { return (uint32_t)v; }

/* The next free step of kernel, zeroed. CPU_MAX_STEPS bounds every plan
 * below; running out is a defect of this file. */
static enum oc_status add_step(struct cpu_kernel *kernel, struct cpu_step **step) {
  if (kernel->n_steps >= CPU_MAX_STEPS)
    return oc__fail(oc_status_internal, "cpu kernel needs more than %d steps", CPU_MAX_STEPS);
  *step = &kernel->steps[kernel->n_steps++];
  memset(*step, 0, sizeof **step);
  return oc_status_ok;
}

/* Output clamp of an activation XNNPACK fuses (none, relu, relu6); false
 * for the others, which get an epilogue step. */
static bool fused_bounds(enum oc_act act, float *lo, float *hi) {
  *lo = -INFINITY;
  *hi = INFINITY;
  switch (act) {
  case oc_act_none: return true;
  case oc_act_relu: *lo = 0.0f; return true;
  case oc_act_relu6:
    *lo = 0.0f;
    *hi = 6.0f;
    return true;
  default: return false;
  }
}

/* y = act(x) over rows x channels (x may be y), as XNNPACK operators where
 * 2022-02 XNNPACK has one and own kernels otherwise. */
static enum oc_status add_act(struct cpu_kernel *kernel, pthreadpool_t pool, enum oc_act act,
                              size_t rows, size_t channels, const float *x, float *y) {
  struct cpu_step *step = NULL;
  float lo, hi;
  enum oc_status st = add_step(kernel, &step);
  if (st != oc_status_ok) return st;
  if (act != oc_act_none && fused_bounds(act, &lo, &hi)) {
    st = XNN_CALL(xnn_create_clamp_nc_f32, channels, channels, channels, lo, hi, 0, &step->xop);
    if (st == oc_status_ok)
      st = XNN_CALL(xnn_setup_clamp_nc_f32, step->xop, rows, x, y, pool);
    return st;
  }
  if (act == oc_act_hswish) {
    st = XNN_CALL(xnn_create_hardswish_nc_f32, channels, channels, channels, 0, &step->xop);
    if (st == oc_status_ok)
      st = XNN_CALL(xnn_setup_hardswish_nc_f32, step->xop, rows, x, y, pool);
    return st;
  }
  if (act == oc_act_sigmoid) {
    st = XNN_CALL(xnn_create_sigmoid_nc_f32, channels, channels, channels, 0, &step->xop);
    if (st == oc_status_ok)
      st = XNN_CALL(xnn_setup_sigmoid_nc_f32, step->xop, rows, x, y, pool);
    return st;
  }
  if (!oc__cpu_own_has_act(act))
    return oc__fail(oc_status_unsupported, "activation '%s' has no cpu kernel", oc_act_name(act));
  step->own.kind = cpu_own_act;
  step->own.act = act;
  step->own.n = rows * channels;
  step->own.x = x;
  step->own.y = y;
  return oc_status_ok;
}

/* The activation of an op whose operator took (lo, hi) from fused_bounds:
 * nothing when fused, else an in-place step on the output. */
static enum oc_status add_epilogue(struct cpu_kernel *kernel, pthreadpool_t pool,
                                   enum oc_act act, size_t rows, size_t channels, float *y) {
  float lo, hi;
  if (fused_bounds(act, &lo, &hi)) return oc_status_ok;
  return add_act(kernel, pool, act, rows, channels, y, y);
}

static enum oc_status plan_conv2d(pthreadpool_t pool, const struct oc_op *op,
                                  const struct oc_op_shapes *sh, const struct oc_tensors *t,
                                  struct cpu_kernel *kernel) {
  struct cpu_step *step = NULL;
  float lo, hi;
  float *y = t->output;
  fused_bounds(op->act, &lo, &hi);
  enum oc_status st = add_step(kernel, &step);
  if (st != oc_status_ok) return st;
  st = XNN_CALL(xnn_create_convolution2d_nhwc_f32, u32(sh->pad_top), u32(sh->pad_right),
                u32(sh->pad_bottom), u32(sh->pad_left), u32(op->k), u32(op->k), u32(op->s),
                u32(op->s), u32(op->d), u32(op->d), u32(op->g), zu(op->cin / op->g),
                zu(op->cout / op->g), zu(op->cin), zu(op->cout), t->weights, t->bias, lo, hi, 0,
                &step->xop);
  if (st != oc_status_ok) return st;
  st = XNN_CALL(xnn_setup_convolution2d_nhwc_f32, step->xop, 1, zu(op->h), zu(op->w),
                t->input[0], y, pool);
  if (st != oc_status_ok) return st;
  return add_epilogue(kernel, pool, op->act, zu(sh->output.h) * zu(sh->output.w), zu(op->cout),
                      y);
}

static enum oc_status plan_fc(pthreadpool_t pool, const struct oc_op *op,
                              const struct oc_tensors *t, struct cpu_kernel *kernel) {
  struct cpu_step *step = NULL;
  float lo, hi;
  float *y = t->output;
  fused_bounds(op->act, &lo, &hi);
  enum oc_status st = add_step(kernel, &step);
  if (st != oc_status_ok) return st;
  st = XNN_CALL(xnn_create_fully_connected_nc_f32, zu(op->cin), zu(op->cout), zu(op->cin),
                zu(op->cout), t->weights, t->bias, lo, hi, 0, &step->xop);
  if (st != oc_status_ok) return st;
  st = XNN_CALL(xnn_setup_fully_connected_nc_f32, step->xop, zu(op->m), t->input[0], y, pool);
  if (st != oc_status_ok) return st;
  return add_epilogue(kernel, pool, op->act, zu(op->m), zu(op->cout), y);
}

static enum oc_status plan_pool(pthreadpool_t pool, const struct oc_op *op,
                                const struct oc_op_shapes *sh, const struct oc_tensors *t,
                                struct cpu_kernel *kernel) {
  struct cpu_step *step = NULL;
  enum oc_status st = add_step(kernel, &step);
  if (st != oc_status_ok) return st;
  if (op->k == 1) {
    step->own.kind = cpu_own_subsample;
    step->own.x = t->input[0];
    step->own.y = t->output;
    step->own.h = zu(op->h);
    step->own.w = zu(op->w);
    step->own.c = zu(op->c);
    step->own.s = zu(op->s);
    step->own.oh = zu(sh->output.h);
    step->own.ow = zu(sh->output.w);
    return oc_status_ok;
  }
  if (op->kind == oc_op_maxpool2d) {
    st = XNN_CALL(xnn_create_max_pooling2d_nhwc_f32, u32(sh->pad_top), u32(sh->pad_right),
                  u32(sh->pad_bottom), u32(sh->pad_left), u32(op->k), u32(op->k), u32(op->s),
                  u32(op->s), 1, 1, zu(op->c), zu(op->c), zu(op->c), -INFINITY, INFINITY, 0,
                  &step->xop);
    if (st != oc_status_ok) return st;
    return XNN_CALL(xnn_setup_max_pooling2d_nhwc_f32, step->xop, 1, zu(op->h), zu(op->w),
                    t->input[0], t->output, pool);
  }
  st = XNN_CALL(xnn_create_average_pooling2d_nhwc_f32, u32(sh->pad_top), u32(sh->pad_right),
                u32(sh->pad_bottom), u32(sh->pad_left), u32(op->k), u32(op->k), u32(op->s),
                u32(op->s), zu(op->c), zu(op->c), zu(op->c), -INFINITY, INFINITY, 0,
                &step->xop);
  if (st != oc_status_ok) return st;
  return XNN_CALL(xnn_setup_average_pooling2d_nhwc_f32, step->xop, 1, zu(op->h), zu(op->w),
                  t->input[0], t->output, pool);
}

static enum oc_status plan_gap(pthreadpool_t pool, const struct oc_op *op,
                               const struct oc_tensors *t, struct cpu_kernel *kernel) {
  struct cpu_step *step = NULL;
  enum oc_status st = add_step(kernel, &step);
  if (st != oc_status_ok) return st;
  st = XNN_CALL(xnn_create_global_average_pooling_nwc_f32, zu(op->c), zu(op->c), zu(op->c),
                -INFINITY, INFINITY, 0, &step->xop);
  if (st != oc_status_ok) return st;
  return XNN_CALL(xnn_setup_global_average_pooling_nwc_f32, step->xop, 1,
                  zu(op->h) * zu(op->w), t->input[0], t->output, pool);
}

static enum oc_status plan_binary(pthreadpool_t pool, const struct oc_op *op,
                                  const struct oc_tensors *t, struct cpu_kernel *kernel) {
  struct cpu_step *step = NULL;
  float lo, hi;
  float *y = t->output;
  const size_t pixels = zu(op->h) * zu(op->w);
  enum oc_status st = add_step(kernel, &step);
  if (st != oc_status_ok) return st;
  if (op->kind == oc_op_add) {
    const size_t shape[1] = {pixels * zu(op->c)};
    fused_bounds(op->act, &lo, &hi);
    st = XNN_CALL(xnn_create_add_nd_f32, lo, hi, 0, &step->xop);
    if (st != oc_status_ok) return st;
    st = XNN_CALL(xnn_setup_add_nd_f32, step->xop, 1, shape, 1, shape, t->input[0],
                  t->input[1], y, pool);
    if (st != oc_status_ok) return st;
    return add_epilogue(kernel, pool, op->act, pixels, zu(op->c), y);
  }
  /* mul: [h*w, c] x [h*w, c], or x [c] broadcast over the pixels (bc=1). */
  const size_t shape_a[2] = {pixels, zu(op->c)};
  const size_t shape_b[2] = {op->bc ? 1 : pixels, zu(op->c)};
  st = XNN_CALL(xnn_create_multiply_nd_f32, -INFINITY, INFINITY, 0, &step->xop);
  if (st != oc_status_ok) return st;
  return XNN_CALL(xnn_setup_multiply_nd_f32, step->xop, 2, shape_a, 2, shape_b, t->input[0],
                  t->input[1], y, pool);
}

static enum oc_status plan_softmax(pthreadpool_t pool, const struct oc_op *op,
                                   const struct oc_tensors *t, struct cpu_kernel *kernel) {
  struct cpu_step *step = NULL;
  enum oc_status st = add_step(kernel, &step);
  if (st != oc_status_ok) return st;
  st = XNN_CALL(xnn_create_softmax_nc_f32, zu(op->c), zu(op->c), zu(op->c), 0, &step->xop);
  if (st != oc_status_ok) return st;
  return XNN_CALL(xnn_setup_softmax_nc_f32, step->xop, zu(op->h) * zu(op->w), t->input[0],
                  t->output, pool);
}

static enum oc_status plan_concat(pthreadpool_t pool, const struct oc_op *op,
                                  const struct oc_tensors *t, struct cpu_kernel *kernel) {
  const size_t pixels = zu(op->h) * zu(op->w);
  const size_t out_c = zu(op->c) + zu(op->c2);
  const size_t part_c[2] = {zu(op->c), zu(op->c2)};
  float *y = t->output;
  float *dest[2] = {y, y + op->c};
  for (int i = 0; i < 2; i++) {
    struct cpu_step *step = NULL;
    enum oc_status st = add_step(kernel, &step);
    if (st != oc_status_ok) return st;
    st = XNN_CALL(xnn_create_copy_nc_x32, part_c[i], part_c[i], out_c, 0, &step->xop);
    if (st != oc_status_ok) return st;
    st = XNN_CALL(xnn_setup_copy_nc_x32, step->xop, pixels, t->input[i], dest[i], pool);
    if (st != oc_status_ok) return st;
  }
  return oc_status_ok;
}

static enum oc_status plan_layernorm(const struct oc_op *op, const struct oc_tensors *t,
                                     struct cpu_kernel *kernel) {
  struct cpu_step *step = NULL;
  enum oc_status st = add_step(kernel, &step);
  if (st != oc_status_ok) return st;
  step->own.kind = cpu_own_layernorm;
  step->own.x = t->input[0];
  step->own.x2 = t->weights;
  step->own.x3 = t->bias;
  step->own.y = t->output;
  step->own.rows = zu(op->h) * zu(op->w);
  step->own.cols = zu(op->c);
  return oc_status_ok;
}

static enum oc_status plan_matmul(const struct oc_op *op, const struct oc_tensors *t,
                                  struct cpu_kernel *kernel) {
  struct cpu_step *step = NULL;
  enum oc_status st = add_step(kernel, &step);
  if (st != oc_status_ok) return st;
  step->own.kind = cpu_own_matmul;
  step->own.x = t->input[0];
  step->own.x2 = t->input[1];
  step->own.y = t->output;
  step->own.batch = zu(op->b);
  step->own.m = zu(op->m);
  step->own.k = zu(op->k);
  step->own.n = zu(op->n);
  step->own.tb = op->tb != 0;
  if (op->tb) {
    /* B^T for the whole batch: the transpose is part of every run (B is an
     * activation), its buffer is not. Sizes fit: oc_op_validate checked
     * every tensor's bytes against int64, and the padding adds under one
     * tile per row. */
    size_t bytes = zu(op->b) * zu(op->k) * oc__cpu_matmul_ldb(zu(op->n)) * sizeof(float);
    kernel->scratch = oc__aligned_alloc(64, bytes);
    if (kernel->scratch == NULL)
      return oc__fail(oc_status_out_of_memory, "matmul: %zu bytes for B transposed", bytes);
    memset(kernel->scratch, 0, bytes);
    step->own.scratch = kernel->scratch;
  }
  return oc_status_ok;
}

/* Buffers the op needs; a NULL one is the caller's error. */
static enum oc_status check_tensors(const struct oc_op *op, const struct oc_op_shapes *sh,
                                    const struct oc_tensors *t) {
  if (t == NULL) return oc__fail(oc_status_invalid_argument, "no tensors given");
  for (int i = 0; i < sh->n_inputs; i++) {
    if (t->input[i] == NULL)
      return oc__fail(oc_status_invalid_argument, "input %d is NULL", i);
  }
  if (t->output == NULL) return oc__fail(oc_status_invalid_argument, "output is NULL");
  if (sh->weight_elems > 0 && t->weights == NULL)
    return oc__fail(oc_status_invalid_argument, "%s needs weights; none given",
                    oc_op_kind_name(op->kind));
  return oc_status_ok;
}

enum oc_status oc__cpu_plan(pthreadpool_t pool, const struct oc_op *op,
                            const struct oc_tensors *t, struct cpu_kernel *kernel) {
  struct oc_op_shapes sh;
  enum oc_status st = oc_op_shapes(op, &sh);
  if (st != oc_status_ok) return st;
  st = check_tensors(op, &sh, t);
  if (st != oc_status_ok) return st;
  switch (op->kind) {
  case oc_op_conv2d: return plan_conv2d(pool, op, &sh, t, kernel);
  case oc_op_fc: return plan_fc(pool, op, t, kernel);
  case oc_op_matmul: return plan_matmul(op, t, kernel);
  case oc_op_maxpool2d:
  case oc_op_avgpool2d: return plan_pool(pool, op, &sh, t, kernel);
  case oc_op_gap: return plan_gap(pool, op, t, kernel);
  case oc_op_act:
    return add_act(kernel, pool, op->act, zu(op->h) * zu(op->w), zu(op->c), t->input[0],
                   t->output);
  case oc_op_add:
  case oc_op_mul: return plan_binary(pool, op, t, kernel);
  case oc_op_layernorm: return plan_layernorm(op, t, kernel);
  case oc_op_softmax: return plan_softmax(pool, op, t, kernel);
  case oc_op_concat: return plan_concat(pool, op, t, kernel);
  default: break;
  }
  return oc__fail(oc_status_unsupported, "op kind '%s' has no cpu kernel",
                  oc_op_kind_name(op->kind));
}
