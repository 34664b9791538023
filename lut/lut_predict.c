/* lut_predict.c - a network's latency and memory from a loaded LUT cache:
 * the sum of its kernels' (or blocks') medians plus the device's
 * per-network overhead term, with every miss listed and, when a device
 * profile is given, filled from the roofline and flagged as such; the peak
 * memory comes from the networks module's liveness schedule.
 *
 * A miss never counts as zero: without a roofline (or with strict) a
 * prediction with misses fails and names them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lut/lut_internal.h"

const char *oc_lut_origin_name(enum oc_lut_origin origin) {
  switch (origin) {
  case oc_lut_from_lut: return "lut";
  case oc_lut_from_roofline: return "roofline";
  case oc_lut_from_nothing: break;
  }
  return "none";
}

enum oc_status oc_lut_roofline_from_profile(const struct oc_device_profile *p, int32_t threads,
                                            struct oc_lut_roofline *r) {
  memset(r, 0, sizeof *r);
  double peak = threads > 1 ? p->peak_gflops_all_cores : p->peak_gflops_one_core;
  double bw = p->dram_read_gbs_all_cores;
  /* One thread streams at what one core reads from DRAM: the profile's
   * last memory level. */
  if (threads <= 1 && p->n_levels > 0 && isfinite(p->levels[p->n_levels - 1].read_gbs) &&
      p->levels[p->n_levels - 1].read_gbs > 0)
    bw = p->levels[p->n_levels - 1].read_gbs;
  if (!(isfinite(peak) && peak > 0) || !(isfinite(bw) && bw > 0))
    return oc__fail(oc_status_invalid_argument,
                    "device profile of %s: no peak FLOP/s (%g) or bandwidth (%g) to build a "
                    "roofline from",
                    p->device.fingerprint, peak, bw);
  r->peak_gflops = peak;
  r->bandwidth_gbs = bw;
  /* A CPU kernel starts with a call; its fixed cost is the timer's own
   * floor, which the harness subtracts from LUT rows too (launch_us is 0 in
   * CPU profiles). A GPU kernel costs its measured launch. */
  r->launch_us = isfinite(p->launch_us) && p->launch_us > 0 ? p->launch_us : 0;
  return oc_status_ok;
}

double oc_lut_roofline_us(const struct oc_lut_roofline *r, int64_t flops, int64_t bytes) {
  double compute_us = (double)flops / (r->peak_gflops * 1e3);
  double memory_us = (double)bytes / (r->bandwidth_gbs * 1e3);
  return fmax(compute_us, memory_us) + r->launch_us;
}

/* What one item (a kernel or a layer) costs and where the figure comes
 * from. key is written; origin none means a miss without a roofline. */
static enum oc_status price_kernel(const struct oc_lut_cache *cache, const struct oc_net *net,
                                   int32_t index, const struct oc_lut_roofline *roofline,
                                   struct oc_lut_pred_item *it) {
  const struct oc_net_kernel *k = &net->kernels[index];
  it->layer = k->layer;
  it->kernel = index;
  if (k->step == oc_net_step_op) {
    struct oc_op_cost cost;
    enum oc_status st = oc_op_format(&k->op, it->key, sizeof it->key);
    if (st == oc_status_ok) st = oc_op_cost(&k->op, &cost);
    if (st != oc_status_ok) return st;
    it->flops = cost.flops;
    it->bytes = cost.input_bytes + cost.weight_bytes + cost.output_bytes;
  } else {
    /* A data move: no key, no arithmetic, its tensors' bytes. */
    oc__strfmt(it->key, sizeof it->key, "(%s)", oc_net_step_name(k->step));
    it->flops = 0;
    it->bytes = net->tensors[k->output].bytes;
    for (int32_t j = 0; j < k->n_inputs; j++) it->bytes += net->tensors[k->input[j]].bytes;
  }
  double us;
  if (k->step == oc_net_step_op && oc_lut_cache_get_op(cache, &k->op, &us)) {
    it->us = us;
    it->origin = oc_lut_from_lut;
  } else if (roofline) {
    it->us = oc_lut_roofline_us(roofline, it->flops, it->bytes);
    it->origin = oc_lut_from_roofline;
  } else {
    it->us = 0;
    it->origin = oc_lut_from_nothing;
  }
  return oc_status_ok;
}

static void price_layer(const struct oc_lut_cache *cache, const struct oc_net *net,
                        int32_t index, const struct oc_lut_roofline *roofline,
                        struct oc_lut_pred_item *it) {
  const struct oc_net_layer *l = &net->layers[index];
  it->layer = index;
  it->kernel = -1;
  oc__strcpy(it->key, sizeof it->key, l->key);
  struct oc_lut_row row;
  oc__lut_row_costs_from_layer(&row, net, l);
  it->flops = row.flops;
  it->bytes = row.bytes;
  double us;
  if (oc_lut_cache_get(cache, l->key, &us)) {
    it->us = us;
    it->origin = oc_lut_from_lut;
  } else if (roofline) {
    it->us = oc_lut_roofline_us(roofline, it->flops, it->bytes);
    it->origin = oc_lut_from_roofline;
  } else {
    it->us = 0;
    it->origin = oc_lut_from_nothing;
  }
}

static enum oc_status miss_error(const struct oc_lut_cache *cache, const struct oc_net *net,
                                 int32_t misses, const char *first, bool strict) {
  return oc__fail(oc_status_not_found,
                  "%s: %d op%s not in the LUT for device %s (threads %d), first '%s'%s",
                  net->name, (int)misses, misses == 1 ? "" : "s",
                  oc_lut_cache_fingerprint(cache), (int)oc_lut_cache_threads(cache), first,
                  strict ? " (strict)" : "; give a device profile to fill misses from the roofline");
}

enum oc_status oc_lut_predict(const struct oc_lut_cache *cache, const struct oc_net *net,
                              enum oc_lut_granularity granularity,
                              const struct oc_lut_roofline *roofline, bool strict,
                              struct oc_lut_prediction *pred) {
  memset(pred, 0, sizeof *pred);
  int32_t n = granularity == oc_lut_block ? net->n_layers : net->n_kernels;
  pred->items = calloc(n > 0 ? (size_t)n : 1, sizeof *pred->items);
  if (pred->items == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", net->name);
  pred->n_items = n;
  const char *first = NULL;
  for (int32_t i = 0; i < n; i++) {
    struct oc_lut_pred_item *it = &pred->items[i];
    if (granularity == oc_lut_block) {
      price_layer(cache, net, i, roofline, it);
    } else {
      enum oc_status st = price_kernel(cache, net, i, roofline, it);
      if (st != oc_status_ok) return st;
    }
    if (it->origin == oc_lut_from_lut) {
      pred->lut_us += it->us;
    } else {
      if (pred->misses++ == 0) first = it->key;
      pred->roofline_us += it->us;
    }
  }
  pred->overhead_us = oc_lut_cache_overhead_us(cache);
  pred->total_us = pred->lut_us + pred->roofline_us + pred->overhead_us;
  pred->weight_bytes = net->cost.weight_bytes;
  pred->peak_activation_bytes = net->cost.peak_activation_bytes;
  pred->peak_memory_bytes = net->cost.weight_bytes + net->cost.peak_activation_bytes;
  if (pred->misses > 0 && (strict || roofline == NULL))
    return miss_error(cache, net, pred->misses, first, strict);
  return oc_status_ok;
}

void oc_lut_prediction_clear(struct oc_lut_prediction *pred) {
  if (pred == NULL) return;
  free(pred->items);
  memset(pred, 0, sizeof *pred);
}

enum oc_status oc_lut_predict_us(const struct oc_lut_cache *cache, const struct oc_net *net,
                                 enum oc_lut_granularity granularity,
                                 const struct oc_lut_roofline *roofline, bool strict,
                                 double *total_us, int32_t *misses) {
  double total = 0;
  int32_t miss = 0;
  char first[OC_LUT_KEY_MAX] = "";
  int32_t n = granularity == oc_lut_block ? net->n_layers : net->n_kernels;
  for (int32_t i = 0; i < n; i++) {
    struct oc_lut_pred_item it;
    if (granularity == oc_lut_block) {
      /* The hot path: a layer's key is ready-made. */
      double us;
      if (oc_lut_cache_get(cache, net->layers[i].key, &us)) {
        total += us;
        continue;
      }
      price_layer(cache, net, i, roofline, &it);
    } else {
      /* The hot path: look the op up without formatting its key. */
      double us;
      const struct oc_net_kernel *k = &net->kernels[i];
      if (k->step == oc_net_step_op && oc_lut_cache_get_op(cache, &k->op, &us)) {
        total += us;
        continue;
      }
      enum oc_status st = price_kernel(cache, net, i, roofline, &it);
      if (st != oc_status_ok) return st;
    }
    if (miss++ == 0) oc__strcpy(first, sizeof first, it.key);
    total += it.us;
  }
  if (misses) *misses = miss;
  *total_us = total + oc_lut_cache_overhead_us(cache);
  if (miss > 0 && (strict || roofline == NULL)) return miss_error(cache, net, miss, first, strict);
  return oc_status_ok;
}
