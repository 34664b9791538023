/* net.h - networks: the opcost-net/1 JSON format, its expansion into
 * primitive kernels, shape inference and analytic costs per layer and per
 * network (MACs, params, bytes, peak activation memory under a liveness
 * schedule), and the deterministic parameters whole-network runners use.
 *
 * A network is an input shape and layers in order. A layer is a primitive op
 * of ops/ops.def (conv2d, fc, ...) or a block (mbconv, bottleneck,
 * transformer_layer, ...); loading expands every layer into kernels: each
 * kernel is one struct oc_op (with a canonical key a LUT can hold) or one of a
 * few data moves (head split/merge of attention, class-token prepend, zero
 * fill) that have no op key. Kernels read and write numbered tensors, so a
 * runner chains real buffers and the liveness schedule is exact.
 * docs/formats.md gives every expansion rule; a rule change bumps
 * OC_NET_FORMAT.
 *
 * A loaded struct oc_net is read-only: callers read its fields (or use the
 * accessors) and release it with oc_net_free. Loading is the only
 * constructor; to build a network in code (a search space decoding a gene
 * vector), build its JSON with jansson and call oc_net_load_json, which does
 * not keep or modify the json_t. A target's prepare_net keeps a pointer to
 * the network: it must outlive the prepared kernel. */
#ifndef OPCOST_NET_H
#define OPCOST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opcost/op.h"
#include "opcost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The "format" tag of the JSON this library reads and writes. */
#define OC_NET_FORMAT "opcost-net/1"
/* Longest network name, layer id and layer key, terminating NUL included. */
#define OC_NET_NAME_MAX 128
#define OC_NET_ID_MAX 64
#define OC_NET_KEY_MAX 384
/* Most inputs a layer names (add, mul, concat, matmul take 2). */
#define OC_NET_MAX_INPUTS 2
/* Most layers one network may have (bounds the work of loading). */
#define OC_NET_MAX_LAYERS 100000

/* Blocks a layer may be, besides a primitive op: X(name, summary). */
#define OC_NET_BLOCK_MAP(X)                                                          \
  X(mbconv, "inverted residual: 1x1 expand, kxk depthwise, optional SE, 1x1 project") \
  X(fused_mbconv, "fused inverted residual: kxk expand, optional SE, 1x1 project")   \
  X(se, "squeeze-excite: gap, fc, fc, per-channel scale")                            \
  X(bottleneck, "ResNet v1.5 bottleneck: 1x1, 3x3 (stride), 1x1, shortcut, add")     \
  X(basic, "ResNet basic block: 3x3 (stride), 3x3, shortcut, add")                   \
  X(transformer_layer, "pre-norm transformer encoder layer: LN, MHA, add, LN, MLP, add") \
  X(patch_embed, "kxk conv with stride k to tokens, optional class token and position embedding") \
  X(nb201_cell, "NAS-Bench-201 cell: 4 nodes, 6 edges over none/skip/conv1x1/conv3x3/avgpool3x3") \
  X(token_select, "one token of [1,H,W,C] (H*W tokens) as [1,1,1,C]: the class token for a head")

enum oc_net_block {
  oc_net_block_op, /* a primitive op: struct oc_net_layer.op says which */
#define OC_NET_BLOCK_ENUM(name, summary) oc_net_block_##name,
  OC_NET_BLOCK_MAP(OC_NET_BLOCK_ENUM)
#undef OC_NET_BLOCK_ENUM
      oc_net_block__count
};

/* What a kernel does. Only oc_net_step_op kernels have an op (and a key);
 * the others are data moves with no arithmetic, listed so that runners and
 * the liveness schedule see every buffer. */
enum oc_net_step {
  oc_net_step_op,
  /* out [1,heads,T,dh] from the channels [offset, offset + heads*dh) of
   * in [1,1,T,C]: out[h][t][j] = in[t][offset + h*dh + j]. */
  oc_net_step_heads_split,
  /* out [1,1,T,heads*dh] from in [1,heads,T,dh]:
   * out[t][h*dh + j] = in[h][t][j]. */
  oc_net_step_heads_merge,
  /* out [1,1,1+T,C] = the class token (input 1, a parameter [1,1,1,C])
   * followed by the T rows of input 0. */
  oc_net_step_token_prepend,
  /* out = zeros (an NB201 cell whose output node has no live edge). */
  oc_net_step_zero,
  /* out [1,1,1,C] = token `offset` of in [1,H,W,C] (row-major tokens). */
  oc_net_step_token_select,
};
/* How many step kinds there are (the last one + 1). */
#define OC_NET_STEP_COUNT (oc_net_step_token_select + 1)

enum oc_net_tensor_kind {
  oc_net_tensor_input,      /* the network's input */
  oc_net_tensor_activation, /* written by one kernel */
  oc_net_tensor_param,      /* a constant that is no kernel's weights (class token,
                               position embedding); counted in params */
};

/* One tensor: a contiguous host buffer. A kernel may view a tensor with
 * another shape of the same element count (tokens [1,1,T,C] of a conv output
 * [1,H,W,C]; per-head matrices [1,heads,T,dh] as matmul's [heads,1,T,dh]).
 * Every tensor of a network has n = 1. */
struct oc_net_tensor {
  enum oc_net_tensor_kind kind;
  struct oc_tensor_shape shape;
  int64_t bytes;       /* elements x dtype size */
  int32_t producer;    /* kernel index; -1 for the input and params */
  int32_t last_use;    /* last kernel that reads it; -1 when none does */
  /* Kernel index whose output reuses this tensor's buffer (in place), or -1;
   * see docs/formats.md "Peak activation memory". */
  int32_t reused_by;
};

struct oc_net_kernel {
  enum oc_net_step step;
  struct oc_op op;           /* valid when step == oc_net_step_op */
  int32_t layer;             /* index of the layer it came from */
  int32_t n_inputs;
  int32_t input[OC_MAX_INPUTS]; /* tensor indices, in op input order */
  int32_t output;            /* tensor index */
  int32_t heads, offset;     /* heads_split / heads_merge */
  /* The output buffer is input[0]'s (an elementwise op whose first input is
   * dead afterwards); runners may compute in place, peak memory assumes it. */
  bool in_place;
};

/* Analytic cost of a layer or a network. */
struct oc_net_cost {
  int64_t macs;   /* conv2d, fc and matmul multiply-accumulates */
  int64_t flops;  /* oc_op_cost's FLOPs summed */
  int64_t params; /* weights + biases + parameter tensors */
  int64_t weight_bytes; /* params x the network's dtype size */
  int64_t weight_bytes_by_dtype[oc_dtype__count]; /* params x each dtype's size */
  int64_t activation_bytes; /* bytes of every tensor the kernels write */
  /* Largest sum of live tensor bytes at any kernel (input and output of that
   * kernel included); for a layer, the largest at any of its kernels. */
  int64_t peak_activation_bytes;
  int32_t peak_kernel; /* kernel index where the peak is reached; -1 when none */
  int32_t kernels;     /* kernels of every step */
  int32_t op_kernels;  /* kernels with an op key */
};

/* Arguments of a layer after defaults are applied (docs/formats.md). Fields
 * a layer's kind does not take stay zero. */
struct oc_net_args {
  int32_t cout, k, s, g, d; /* conv2d, fc (cout), pools (k, s), blocks */
  int32_t tb, bc;           /* matmul, mul */
  enum oc_act act;
  double e;                 /* expand ratio (mbconv, fused_mbconv) */
  int32_t mid;              /* expanded / inner channels (mbconv, fused_mbconv,
                               bottleneck) after defaults */
  int32_t se;               /* 1 = squeeze-excite */
  double se_ratio;          /* default 0.25 */
  int32_t se_ch;            /* squeeze channels after defaults */
  enum oc_act se_act;       /* default relu */
  enum oc_act se_gate;      /* default sigmoid */
  int32_t heads;            /* transformer_layer */
  int32_t head_dim;         /* transformer_layer: width of one head; after
                               defaults the width / heads */
  double mlp_ratio;         /* transformer_layer, default 4 */
  int32_t mlp;              /* MLP hidden width after defaults */
  int32_t p;                /* patch_embed: patch size */
  int32_t dim;              /* patch_embed: embedding width */
  int32_t cls, pos;         /* patch_embed: class token, position embedding */
  char cell[160];           /* nb201_cell: "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" */
  int32_t index;            /* token_select: which token (default 0) */
};

struct oc_net_layer {
  char id[OC_NET_ID_MAX];   /* "" when the layer has none */
  enum oc_net_block block;
  enum oc_op_kind op;       /* the op when block == oc_net_block_op */
  struct oc_net_args args;
  int32_t n_inputs;
  int32_t inputs[OC_NET_MAX_INPUTS]; /* layer indices; -1 = network input */
  bool named_inputs;        /* the JSON gave "inputs" */
  struct oc_tensor_shape input[OC_NET_MAX_INPUTS];
  struct oc_tensor_shape output;
  int32_t output_tensor;
  int32_t first_kernel, n_kernels; /* this layer's kernels in the kernel list */
  /* Block-granularity key: a primitive layer's op key, or e.g.
   * "mbconv.f32 h=28 w=28 cin=40 cout=40 k=5 s=1 e=6 se=1 act=relu". Two
   * layers with one key expand to the same kernels. */
  char key[OC_NET_KEY_MAX];
  struct oc_net_cost cost;
};

struct oc_net {
  char name[OC_NET_NAME_MAX];
  enum oc_dtype dtype;
  struct oc_tensor_shape input;  /* n = 1 */
  struct oc_tensor_shape output; /* the last layer's output */
  int32_t n_layers;
  struct oc_net_layer *layers;
  int32_t n_kernels;
  struct oc_net_kernel *kernels;  /* in execution order */
  int32_t n_tensors;
  struct oc_net_tensor *tensors;
  int32_t input_tensor, output_tensor;
  /* Hash of what the network computes: dtype, input shape, layer keys and
   * the layer graph; not the name, ids or JSON spelling. Two networks with
   * one hash are one candidate. */
  uint64_t hash;
  char hash_hex[17];
  struct oc_net_cost cost; /* whole network */
};

/* Loading. `source` names the input in messages (a file name; NULL = "net").
 * Every failure sets oc_errmsg() to "SOURCE: layer N (op): field 'F': value
 * 'V' ..." or, for JSON syntax, "SOURCE: line L, column C: ...".
 * Returns oc_status_parse_error (syntax, unknown op or field, wrong type),
 * oc_status_invalid_argument (bad value, shape mismatch, cycle, unknown id),
 * oc_status_incompatible (another format tag), oc_status_overflow,
 * oc_status_io_error (file), oc_status_out_of_memory. */
enum oc_status oc_net_load_file(const char *path, struct oc_net **net);
enum oc_status oc_net_from_string(const char *text, const char *source, struct oc_net **net);
/* Does not keep, modify or release root. */
enum oc_status oc_net_load_json(const json_t *root, const char *source, struct oc_net **net);
void oc_net_free(struct oc_net *net); /* NULL-safe */

/* The network as opcost-net/1 JSON, every argument explicit (defaults
 * applied): loading it gives a network with the same hash and keys. New
 * reference, owned by the caller. */
enum oc_status oc_net_to_json(const struct oc_net *net, json_t **root);

/* Accessors (for bindings; C callers may read the struct). */
const char *oc_net_name(const struct oc_net *net);
int32_t oc_net_layer_count(const struct oc_net *net);
const struct oc_net_layer *oc_net_layer_at(const struct oc_net *net, int32_t index);
int32_t oc_net_kernel_count(const struct oc_net *net);
const struct oc_net_kernel *oc_net_kernel_at(const struct oc_net *net, int32_t index);
const struct oc_net_tensor *oc_net_tensor_at(const struct oc_net *net, int32_t index);
/* Whole-network cost (the same as net->cost). */
enum oc_status oc_net_cost(const struct oc_net *net, struct oc_net_cost *cost);

const char *oc_net_block_name(enum oc_net_block block); /* "op" for primitives */
const char *oc_net_block_summary(enum oc_net_block block);
const char *oc_net_step_name(enum oc_net_step step);
/* TensorFlow's make_divisible(value, divisor): round to the nearest
 * multiple, never below divisor nor more than 10 % below value. */
int32_t oc_net_make_divisible(double value, int32_t divisor);

/* Deterministic parameters for whole-network runs: every target that runs a
 * network uses these, so outputs compare across targets. Weights are uniform
 * in +-sqrt(3/fan_in) (variance 1/fan_in, which keeps 50+ layers finite
 * without batch norm), biases in +-0.1, layernorm gamma in [0.5, 1.5) and
 * beta in +-0.1, parameter tensors in +-0.5; for transformer_layer the
 * 1/sqrt(dh) attention scale is folded into the q rows of the qkv weights
 * and bias (docs/formats.md). f32 networks only. */
struct oc_net_params {
  int32_t n_kernels, n_tensors;
  float **weights; /* [kernel]: NULL for kernels without weights */
  float **bias;    /* [kernel]: NULL for kernels without a bias */
  float **tensors; /* [tensor]: data of oc_net_tensor_param tensors, else NULL */
};
/* oc_status_unsupported for a dtype other than f32. */
enum oc_status oc_net_params_create(const struct oc_net *net, uint64_t seed,
                                    struct oc_net_params **params);
void oc_net_params_free(struct oc_net_params *params); /* NULL-safe */
/* Fills an input buffer of the network's input shape with values uniform in
 * [-1, 1) from seed (f32). */
void oc_net_fill_input(const struct oc_net *net, uint64_t seed, float *input);
/* Computes a data-move kernel (step != oc_net_step_op) of net on f32 host
 * buffers: in0 and in1 are its inputs (NULL where it has fewer), out its
 * output (not overlapping them). Runners share it. invalid_argument for an
 * op kernel or a missing buffer. */
enum oc_status oc_net_move_f32(const struct oc_net *net, int32_t kernel, const float *in0,
                               const float *in1, float *out);
/* Seed the runners use when the caller gives none. */
#define OC_NET_PARAM_SEED UINT64_C(0x6f70636f73740001)

#ifdef __cplusplus
}
#endif
#endif
