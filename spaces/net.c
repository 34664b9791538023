/* net.c - small public pieces of the network module: block and step names,
 * make_divisible, and the accessors for bindings. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "spaces/net_internal.h"

static const char *const block_names[oc_net_block__count] = {
    "op",
#define OC_NET_BLOCK_NAME(name, summary) #name,
    OC_NET_BLOCK_MAP(OC_NET_BLOCK_NAME)
#undef OC_NET_BLOCK_NAME
};

static const char *const block_summaries[oc_net_block__count] = {
    "a primitive op of ops/ops.def",
#define OC_NET_BLOCK_SUMMARY(name, summary) summary,
    OC_NET_BLOCK_MAP(OC_NET_BLOCK_SUMMARY)
#undef OC_NET_BLOCK_SUMMARY
};

const char *oc_net_block_name(enum oc_net_block block) {
  return (int)block >= 0 && block < oc_net_block__count ? block_names[block] : "?";
}

const char *oc_net_block_summary(enum oc_net_block block) {
  return (int)block >= 0 && block < oc_net_block__count ? block_summaries[block] : "";
}

const char *oc_net_step_name(enum oc_net_step step) {
  switch (step) {
  case oc_net_step_op: return "op";
  case oc_net_step_heads_split: return "heads_split";
  case oc_net_step_heads_merge: return "heads_merge";
  case oc_net_step_token_prepend: return "token_prepend";
  case oc_net_step_zero: return "zero";
  case oc_net_step_token_select: return "token_select";
  }
  return "?";
}

int32_t oc_net_make_divisible(double value, int32_t divisor) {
  if (divisor < 1) divisor = 1;
  double rounded = floor((value + divisor / 2.0) / divisor) * divisor;
  if (rounded < divisor) rounded = divisor;
  if (rounded < 0.9 * value) rounded += divisor;
  if (rounded > OC_FIELD_VALUE_MAX) rounded = OC_FIELD_VALUE_MAX;
  return (int32_t)rounded;
}

const char *oc_net_name(const struct oc_net *net) { return net->name; }

int32_t oc_net_layer_count(const struct oc_net *net) { return net->n_layers; }

const struct oc_net_layer *oc_net_layer_at(const struct oc_net *net, int32_t index) {
  return index >= 0 && index < net->n_layers ? &net->layers[index] : NULL;
}

int32_t oc_net_kernel_count(const struct oc_net *net) { return net->n_kernels; }

const struct oc_net_kernel *oc_net_kernel_at(const struct oc_net *net, int32_t index) {
  return index >= 0 && index < net->n_kernels ? &net->kernels[index] : NULL;
}

const struct oc_net_tensor *oc_net_tensor_at(const struct oc_net *net, int32_t index) {
  return index >= 0 && index < net->n_tensors ? &net->tensors[index] : NULL;
}

enum oc_status oc_net_cost(const struct oc_net *net, struct oc_net_cost *cost) {
  if (net == NULL) return oc__fail(oc_status_invalid_argument, "no network");
  *cost = net->cost;
  return oc_status_ok;
}
