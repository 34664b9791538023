/* model_features.c - the device side of a cost model (the roofline a
 * device profile implies, or an empirical one from the LUT, and the SIMD
 * width of its ISA) and the features every candidate model sees.
 *
 * Features are in log space where a quantity spans orders of magnitude
 * (FLOPs, bytes, times, shape fields): latency is fitted in log space, so a
 * power law in any of them is linear for ridge. The roofline time is the
 * strongest single feature; the SIMD alignment terms say how much of the
 * vector width the channel dimensions waste (a 36-channel layer on 8 lanes
 * pays for 40). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "models/model_internal.h"

int32_t oc_model_simd_bytes(const char *isa) {
  if (isa == NULL) return 16;
  if (strstr(isa, "avx512f") != NULL) return 64;
  if (strstr(isa, "avx") != NULL) return 32;
  return 16; /* sse*, neon, asimd and anything unrecognised */
}

enum oc_status oc_model_device_from_profile(const struct oc_device_profile *profile,
                                            int32_t threads, struct oc_model_device *device) {
  if (profile == NULL || device == NULL)
    return oc__fail(oc_status_invalid_argument, "device profile: NULL argument");
  if (!(profile->peak_gflops_one_core > 0) || !isfinite(profile->peak_gflops_one_core))
    return oc__fail(oc_status_invalid_argument,
                    "device profile: field 'peak_gflops_one_core': value %g must be > 0",
                    profile->peak_gflops_one_core);
  if (profile->n_levels < 1 || profile->n_levels > OC_PROFILE_MAX_LEVELS)
    return oc__fail(oc_status_invalid_argument,
                    "device profile: field 'levels': %d levels, need 1 to %d", profile->n_levels,
                    OC_PROFILE_MAX_LEVELS);
  if (threads < 1) threads = 1;
  memset(device, 0, sizeof *device);
  oc__strcpy(device->fingerprint, sizeof device->fingerprint, profile->device.fingerprint);
  oc__strcpy(device->target, sizeof device->target, profile->device.target);
  oc__strcpy(device->name, sizeof device->name, profile->device.name);
  oc__strcpy(device->isa, sizeof device->isa, profile->device.isa);
  oc__strcpy(device->source, sizeof device->source, "profile");
  device->threads = threads;
  double peak = profile->peak_gflops_one_core * (double)threads;
  if (threads > 1 && profile->peak_gflops_all_cores > 0 && peak > profile->peak_gflops_all_cores)
    peak = profile->peak_gflops_all_cores;
  device->peak_gflops = peak;
  int n = profile->n_levels < OC_MODEL_MAX_LEVELS ? profile->n_levels : OC_MODEL_MAX_LEVELS;
  for (int i = 0; i < n; i++) {
    const struct oc_memory_level *src = &profile->levels[i];
    struct oc_model_level *dst = &device->levels[i];
    if (!(src->read_gbs > 0) || !isfinite(src->read_gbs))
      return oc__fail(oc_status_invalid_argument,
                      "device profile: levels[%d] (%s): field 'read_gbs': value %g must be > 0", i,
                      src->name, src->read_gbs);
    oc__strcpy(dst->name, sizeof dst->name, src->name);
    dst->size_bytes = src->size_bytes;
    dst->read_gbs = src->read_gbs;
    if (threads > 1) {
      bool dram = src->size_bytes == 0;
      bool last_cache = !dram && (i == n - 1 || profile->levels[i + 1].size_bytes == 0);
      /* Private levels scale in size and bandwidth with the threads; the
       * shared last level only in bandwidth; DRAM takes the all-core figure. */
      if (dram) {
        if (profile->dram_read_gbs_all_cores > 0) dst->read_gbs = profile->dram_read_gbs_all_cores;
      } else {
        dst->read_gbs *= (double)threads;
        if (!last_cache) dst->size_bytes *= threads;
      }
    }
  }
  device->n_levels = n;
  const char *isa = profile->kernel_isa[0] != '\0' ? profile->kernel_isa : profile->device.isa;
  device->simd_bytes = oc_model_simd_bytes(isa);
  if (strcmp(profile->kernel_isa, "generic") == 0)
    device->simd_bytes = oc_model_simd_bytes(profile->device.isa);
  return oc_status_ok;
}

enum oc_status oc_model_device_empirical(const struct oc_model_data *data,
                                         struct oc_model_device *device) {
  if (data == NULL || device == NULL || data->n == 0)
    return oc__fail(oc_status_invalid_argument,
                    "empirical roofline: no rows to derive a peak and a bandwidth from");
  double best_flops = 0, best_bytes = 0;
  for (size_t i = 0; i < data->n; i++) {
    struct oc_op_cost cost;
    if (oc_op_cost(&data->samples[i].op, &cost) != oc_status_ok) continue;
    double us = data->samples[i].median_us;
    double fl = (double)cost.flops / us;
    double by = (double)(cost.input_bytes + cost.weight_bytes + cost.output_bytes) / us;
    if (fl > best_flops) best_flops = fl;
    if (by > best_bytes) best_bytes = by;
  }
  if (!(best_flops > 0) || !(best_bytes > 0))
    return oc__fail(oc_status_invalid_argument,
                    "empirical roofline: no row has positive FLOPs and bytes");
  memset(device, 0, sizeof *device);
  oc__strcpy(device->fingerprint, sizeof device->fingerprint, data->fingerprint);
  oc__strcpy(device->target, sizeof device->target, data->target);
  oc__strcpy(device->name, sizeof device->name, data->device_name);
  oc__strcpy(device->isa, sizeof device->isa, data->isa);
  oc__strcpy(device->source, sizeof device->source, "empirical");
  device->threads = data->threads > 0 ? data->threads : 1;
  device->peak_gflops = best_flops / 1e3; /* FLOP per µs -> GFLOP/s */
  device->n_levels = 1;
  oc__strcpy(device->levels[0].name, sizeof device->levels[0].name, "all");
  device->levels[0].size_bytes = 0;
  device->levels[0].read_gbs = best_bytes / 1e3;
  device->simd_bytes = oc_model_simd_bytes(data->isa);
  return oc_status_ok;
}

/* Index of the first level holding `bytes` (the last one otherwise). */
static int level_of(const struct oc_model_device *device, int64_t bytes) {
  for (int i = 0; i < device->n_levels; i++) {
    int64_t size = device->levels[i].size_bytes;
    if (size == 0 || bytes <= size) return i;
  }
  return device->n_levels - 1;
}

static double memory_us(const struct oc_model_device *device, int64_t bytes) {
  if (device->n_levels < 1) return 0;
  double gbs = device->levels[level_of(device, bytes)].read_gbs;
  return gbs > 0 ? (double)bytes / (gbs * 1e3) : 0;
}

double oc_model_move_us(const struct oc_model_device *device, int64_t bytes) {
  return memory_us(device, bytes);
}

double oc_model_roofline_us(const struct oc_model_device *device, const struct oc_op *op) {
  struct oc_op_cost cost;
  if (oc_op_cost(op, &cost) != oc_status_ok) return 0;
  double compute = device->peak_gflops > 0 ? (double)cost.flops / (device->peak_gflops * 1e3) : 0;
  double memory = memory_us(device, cost.input_bytes + cost.weight_bytes + cost.output_bytes);
  return compute > memory ? compute : memory;
}

/* ---- feature table ---- */

static const char *const common_names[] = {
    "log_flops",     "log_bytes",       "log_input_bytes", "log_weight_bytes", "log_output_bytes",
    "log_intensity", "log_roofline_us", "log_compute_us",  "log_memory_us",    "compute_bound",
    "cache_level",   "out_lane_waste",  "out_aligned",     "in_lane_waste",    "in_aligned",
};
#define N_COMMON (sizeof common_names / sizeof common_names[0])

static const char *const field_names[] = {
#define FIELD_NAME(name, text) "log_" #name,
    OC_FIELD_MAP(FIELD_NAME)
#undef FIELD_NAME
};

static const char *const act_names[] = {
#define ACT_NAME(name, flops) "act_" #name,
    OC_ACT_MAP(ACT_NAME)
#undef ACT_NAME
};

/* conv2d's implementation class: kernels of different size, depthwise or
 * not, run different microkernels (XNNPACK's 2022 depthwise kernels stop at
 * 25 taps, so a 7x7 depthwise layer takes another path), and each class has
 * its own efficiency; a one-hot lets ridge fit a factor per class. */
static const char *const conv_names[] = {
    "depthwise", "grouped", "strided", "dw_k3", "dw_k5", "dw_k7",
    "dw_kx",     "k1",      "k3",      "k5",    "k7",    "kx",
};
#define N_CONV (sizeof conv_names / sizeof conv_names[0])

static void conv_features(const struct oc_op *op, double *x) {
  bool dw = op->g > 1 && op->g == op->cin && op->g == op->cout;
  for (size_t i = 0; i < N_CONV; i++) x[i] = 0;
  x[0] = dw ? 1 : 0;
  x[1] = op->g > 1 && !dw ? 1 : 0;
  x[2] = op->s > 1 ? 1 : 0;
  int slot = op->k == 1 ? 0 : op->k == 3 ? 1 : op->k == 5 ? 2 : op->k == 7 ? 3 : 4;
  if (dw)
    x[3 + (slot == 0 ? 3 : slot - 1)] = 1; /* a 1x1 depthwise counts as other */
  else
    x[7 + slot] = 1;
}

static bool uses_field(enum oc_op_kind kind, int f) {
  return f != oc_field_act && oc_op_kind_uses(kind, (enum oc_field)f);
}

size_t oc_model_feature_count(enum oc_op_kind kind) {
  if ((int)kind < 0 || kind >= oc_op_kind__count) return 0;
  size_t n = N_COMMON;
  for (int f = 0; f < oc_field__count; f++)
    if (uses_field(kind, f)) n++;
  if (oc_op_kind_uses(kind, oc_field_act)) n += oc_act__count;
  if (kind == oc_op_conv2d) n += N_CONV;
  return n;
}

const char *oc_model_feature_name(enum oc_op_kind kind, size_t index) {
  if (index >= oc_model_feature_count(kind)) return NULL;
  if (index < N_COMMON) return common_names[index];
  size_t i = N_COMMON;
  for (int f = 0; f < oc_field__count; f++) {
    if (!uses_field(kind, f)) continue;
    if (i++ == index) return field_names[f];
  }
  if (oc_op_kind_uses(kind, oc_field_act)) {
    if (index < i + oc_act__count) return act_names[index - i];
    i += oc_act__count;
  }
  return conv_names[index - i];
}

/* Channels padded to whole vectors, over channels (1 = no waste). */
static double lane_waste(int32_t channels, int32_t lanes) {
  if (channels <= 0 || lanes <= 1) return 1;
  int64_t padded = ((int64_t)channels + lanes - 1) / lanes * lanes;
  return (double)padded / (double)channels;
}

static int32_t out_channels(const struct oc_op *op) {
  if (oc_op_kind_uses(op->kind, oc_field_cout)) return op->cout;
  if (oc_op_kind_uses(op->kind, oc_field_c)) return op->c;
  if (oc_op_kind_uses(op->kind, oc_field_n)) return op->n;
  return 0;
}

static int32_t in_channels(const struct oc_op *op) {
  if (oc_op_kind_uses(op->kind, oc_field_cin)) return op->cin;
  if (oc_op_kind_uses(op->kind, oc_field_c)) return op->c;
  if (oc_op_kind_uses(op->kind, oc_field_k)) return op->k;
  return 0;
}

static double log_pos(double v) { return log(v > 1e-30 ? v : 1e-30); }

enum oc_status oc_model_features(const struct oc_model_device *device, const struct oc_op *op,
                                 double *x) {
  struct oc_op_cost cost;
  enum oc_status st = oc_op_cost(op, &cost);
  if (st != oc_status_ok) return st;
  int64_t bytes = cost.input_bytes + cost.weight_bytes + cost.output_bytes;
  double compute = device->peak_gflops > 0 ? (double)cost.flops / (device->peak_gflops * 1e3) : 0;
  double memory = memory_us(device, bytes);
  double roof = compute > memory ? compute : memory;
  int32_t lanes = device->simd_bytes / (int32_t)oc_dtype_size(op->dtype);
  if (lanes < 1) lanes = 1;
  int32_t cout = out_channels(op), cin = in_channels(op);
  size_t i = 0;
  x[i++] = log1p((double)cost.flops);
  x[i++] = log1p((double)bytes);
  x[i++] = log1p((double)cost.input_bytes);
  x[i++] = log1p((double)cost.weight_bytes);
  x[i++] = log1p((double)cost.output_bytes);
  x[i++] = log(((double)cost.flops + 1) / ((double)bytes + 1));
  x[i++] = log_pos(roof);
  x[i++] = log_pos(compute);
  x[i++] = log_pos(memory);
  x[i++] = compute >= memory ? 1 : 0;
  x[i++] = device->n_levels > 0 ? level_of(device, bytes) : 0;
  x[i++] = lane_waste(cout, lanes);
  x[i++] = cout > 0 && cout % lanes == 0 ? 1 : 0;
  x[i++] = lane_waste(cin, lanes);
  x[i++] = cin > 0 && cin % lanes == 0 ? 1 : 0;
  for (int f = 0; f < oc_field__count; f++)
    if (uses_field(op->kind, f)) x[i++] = log1p((double)oc_op_get(op, (enum oc_field)f));
  if (oc_op_kind_uses(op->kind, oc_field_act))
    for (int a = 0; a < oc_act__count; a++) x[i++] = (int)op->act == a ? 1 : 0;
  if (op->kind == oc_op_conv2d) conv_features(op, x + i);
  return oc_status_ok;
}
