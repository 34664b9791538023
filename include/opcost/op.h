/* op.h - op descriptors: the kinds of ops/ops.def, their canonical keys,
 * validation, tensor shapes and analytic costs.
 *
 * An op is a plain value (struct oc_op); only the fields its kind lists in
 * ops.def are meaningful, the others stay zero. A key such as
 *   conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6
 * names an op everywhere (LUT rows, CLI arguments, reports); parsing a key and
 * formatting it again gives the same string. */
#ifndef OPCOST_OP_H
#define OPCOST_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opcost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest canonical key, terminating NUL included. */
#define OC_KEY_MAX 256
/* Most activation inputs an op takes. */
#define OC_MAX_INPUTS 2
/* Largest value of a size field: keeps every tensor index inside int64. */
#define OC_FIELD_VALUE_MAX 1048576

enum oc_op_kind {
#define OC_OP(name, inputs, weights, fields, summary) oc_op_##name,
#include "opcost/ops.def"
#undef OC_OP
  oc_op_kind__count
};

/* X(name, bytes per element) */
#define OC_DTYPE_MAP(X) X(f32, 4) X(f16, 2) X(qs8, 1)
enum oc_dtype {
#define OC_DTYPE_ENUM(name, size) oc_dtype_##name,
  OC_DTYPE_MAP(OC_DTYPE_ENUM)
#undef OC_DTYPE_ENUM
      oc_dtype__count
};

/* X(name, nominal FLOPs per element, used by oc_op_cost) */
#define OC_ACT_MAP(X)                                                        \
  X(none, 0) X(relu, 1) X(relu6, 2) X(hswish, 5) X(hsigmoid, 4) X(sigmoid, 4) \
  X(swish, 5) X(gelu, 8) X(tanh, 4)
enum oc_act {
#define OC_ACT_ENUM(name, flops) oc_act_##name,
  OC_ACT_MAP(OC_ACT_ENUM)
#undef OC_ACT_ENUM
      oc_act__count
};

/* Every field a key may carry: X(name, description). The order here is only
 * the enum's; a key orders its fields as ops.def lists them for its kind. */
#define OC_FIELD_MAP(X)                                                      \
  X(h, "height")                                                             \
  X(w, "width (tokens for 2-D token tensors)")                               \
  X(c, "channels")                                                           \
  X(c2, "channels of the second input")                                      \
  X(cin, "input channels")                                                   \
  X(cout, "output channels")                                                 \
  X(m, "rows")                                                               \
  X(n, "columns of the product")                                             \
  X(b, "batch of matrices")                                                  \
  X(k, "kernel size, or inner dimension of matmul")                          \
  X(s, "stride")                                                             \
  X(g, "groups")                                                             \
  X(d, "dilation")                                                           \
  X(tb, "1 when B is transposed")                                            \
  X(bc, "1 when the second input is a per-channel vector")                   \
  X(act, "fused activation")
enum oc_field {
#define OC_FIELD_ENUM(name, text) oc_field_##name,
  OC_FIELD_MAP(OC_FIELD_ENUM)
#undef OC_FIELD_ENUM
      oc_field__count
};

struct oc_op {
  enum oc_op_kind kind;
  enum oc_dtype dtype;
  int32_t h, w, c, c2, cin, cout, m, n, b, k, s, g, d, tb, bc;
  enum oc_act act;
};

/* One NHWC tensor. 2-D token tensors are h=1, w=tokens, c=dim; a batch of
 * matrices [b, rows, cols] is n=b, h=1, w=rows, c=cols. */
struct oc_tensor_shape {
  int32_t n, h, w, c;
};

/* Tensors of one op, as every target lays them out in host memory:
 *   conv2d  weights [cout][k][k][cin/g] (groups are contiguous runs of cout),
 *           bias [cout]
 *   fc      weights [cout][cin], bias [cout]
 *   layernorm  weights = gamma [c], bias = beta [c]
 * Ops without parameters have weight_elems = bias_elems = 0. */
struct oc_op_shapes {
  int n_inputs;
  struct oc_tensor_shape input[OC_MAX_INPUTS];
  struct oc_tensor_shape output;
  int64_t weight_elems;
  int64_t bias_elems;
  /* "same" padding of conv2d and pools (TensorFlow's rule: the odd pixel
   * goes to the bottom/right); zero for other kinds. */
  int32_t pad_top, pad_left, pad_bottom, pad_right;
};

/* Analytic cost. MACs count the multiply-accumulates of conv2d, fc and
 * matmul only (the figure papers publish). FLOPs are 2 x MACs plus one per
 * output for a bias, plus nominal per-element costs of the other work
 * (OC_ACT_MAP for activations; docs/formats.md lists every rule). */
struct oc_op_cost {
  int64_t macs;
  int64_t flops;
  int64_t params;       /* weight + bias elements */
  int64_t input_bytes;  /* all activation inputs */
  int64_t weight_bytes; /* weights + bias */
  int64_t output_bytes;
};

const char *oc_op_kind_name(enum oc_op_kind kind);
const char *oc_op_kind_summary(enum oc_op_kind kind);
/* The kind's fields in key order, space separated ("h w cin cout ..."). */
const char *oc_op_kind_fields(enum oc_op_kind kind);
bool oc_op_kind_uses(enum oc_op_kind kind, enum oc_field field);
int oc_op_kind_inputs(enum oc_op_kind kind);
bool oc_op_kind_has_weights(enum oc_op_kind kind);
/* oc_status_not_found when the name is not a kind. */
enum oc_status oc_op_kind_from_name(const char *name, enum oc_op_kind *kind);

const char *oc_dtype_name(enum oc_dtype dtype);
size_t oc_dtype_size(enum oc_dtype dtype);
enum oc_status oc_dtype_from_name(const char *name, enum oc_dtype *dtype);

const char *oc_act_name(enum oc_act act);
enum oc_status oc_act_from_name(const char *name, enum oc_act *act);

const char *oc_field_name(enum oc_field field);
/* The value of a field (the enum value for act). */
int32_t oc_op_get(const struct oc_op *op, enum oc_field field);
void oc_op_set(struct oc_op *op, enum oc_field field, int32_t value);

/* Zeroes every field and sets kind and dtype; s, g, d default to 1. */
void oc_op_init(struct oc_op *op, enum oc_op_kind kind, enum oc_dtype dtype);

/* Checks every rule of the kind (sizes >= 1, groups divide channels, ...).
 * Returns oc_status_invalid_argument, or oc_status_overflow when a size or a
 * cost would not fit; oc_errmsg() names the field and the value. */
enum oc_status oc_op_validate(const struct oc_op *op);

/* Parses a canonical key. Fields must appear exactly as the kind lists
 * them; unknown, missing, duplicated or out-of-order fields, trailing text and
 * values that do not fit are rejected (oc_status_parse_error, or what
 * oc_op_validate returns). On failure *op is left unchanged. */
enum oc_status oc_op_parse(const char *key, struct oc_op *op);

/* Writes the canonical key of a valid op into buf (OC_KEY_MAX is enough). */
enum oc_status oc_op_format(const struct oc_op *op, char *buf, size_t size);

enum oc_status oc_op_shapes(const struct oc_op *op, struct oc_op_shapes *shapes);
enum oc_status oc_op_cost(const struct oc_op *op, struct oc_op_cost *cost);

int64_t oc_tensor_elems(const struct oc_tensor_shape *shape);

#ifdef __cplusplus
}
#endif
#endif
