/* net_internal.h - what the files of the network module share: the stages
 * of loading (parse JSON into layers, expand layers into kernels and
 * tensors, analyse liveness and costs) and the layer-kind table. Not public.
 *
 * Loading runs the stages in that order on one struct oc_net:
 *   net_load.c    JSON -> layers (kind, id, resolved inputs, arguments)
 *   net_expand.c  layers -> shapes, kernels, tensors, block keys
 *   net_cost.c    last uses, in-place kernels, costs, peak memory, hash */
#ifndef OPCOST_SPACES_NET_INTERNAL_H
#define OPCOST_SPACES_NET_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "opcost/net.h"

/* Default arguments (docs/formats.md states them). */
#define NET_SE_RATIO 0.25
#define NET_MLP_RATIO 4.0
#define NET_DIVISOR 8
/* The range of an expand ratio "e" in a network file. */
#define NET_E_MIN 0.01
#define NET_E_MAX 64

/* Name of the network input in "inputs" lists. */
#define NET_INPUT_NAME "input"

/* Expands net->layers (parsed, inputs resolved) into kernels and tensors;
 * sets every layer's shapes, key, kernel range and output tensor, and the
 * network's output. Failures name source and the layer. */
enum oc_status oc__net_expand(struct oc_net *net, const char *source);

/* Computes last uses, in-place kernels, per-layer and network costs, the
 * peak activation memory and the hash of an expanded network. */
enum oc_status oc__net_analyze(struct oc_net *net);

/* Layer kind names: a primitive op's name or a block's name. */
const char *oc__net_layer_kind_name(const struct oc_net_layer *layer);

/* True for ops whose output has the shape of input 0 and whose element i
 * depends only on element i of the inputs (act, add, mul): they may write
 * over input 0. */
bool oc__net_op_elementwise(enum oc_op_kind kind);

/* The NB201 edge operations, in the order of the cell string's vocabulary. */
enum net_nb201_op {
  net_nb201_none,
  net_nb201_skip,
  net_nb201_conv1x1,
  net_nb201_conv3x3,
  net_nb201_avgpool3x3,
};
/* Parses "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" into edges[j][i] for node
 * j = 1..3 from node i < j (edges[0] unused). Fails with invalid_argument
 * naming the part that is wrong. */
enum oc_status oc__net_nb201_parse(const char *cell, enum net_nb201_op edges[4][3]);

#endif
