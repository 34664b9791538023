/* lut_build.c - building a LUT: the plan (unique ops of networks, spaces or
 * keys), shards, and the loop that measures what the store lacks and commits
 * each row as soon as it is measured.
 *
 * Resuming and sharding need no bookkeeping of their own: the store is the
 * journal. A build first loads the keys already stored for its device and
 * thread count and skips them; it writes with INSERT ... ON CONFLICT DO
 * NOTHING, so two processes that measure one op at once store it once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "lut/lut_internal.h"

struct oc_lut_plan {
  enum oc_lut_granularity granularity;
  struct oc__lut_strset seen;
  char **keys;
  size_t n, cap;
  bool sorted;
};

enum oc_status oc_lut_plan_create(enum oc_lut_granularity granularity,
                                  struct oc_lut_plan **plan) {
  *plan = calloc(1, sizeof **plan);
  if (*plan == NULL) return oc__fail(oc_status_out_of_memory, "plan: out of memory");
  (*plan)->granularity = granularity;
  return oc_status_ok;
}

void oc_lut_plan_free(struct oc_lut_plan *plan) {
  if (plan == NULL) return;
  for (size_t i = 0; i < plan->n; i++) free(plan->keys[i]);
  free(plan->keys);
  oc__lut_strset_clear(&plan->seen);
  free(plan);
}

enum oc_lut_granularity oc_lut_plan_granularity(const struct oc_lut_plan *plan) {
  return plan->granularity;
}

static enum oc_status plan_push(struct oc_lut_plan *plan, const char *key) {
  bool added = false;
  enum oc_status st = oc__lut_strset_add(&plan->seen, key, &added);
  if (st != oc_status_ok || !added) return st;
  if (plan->n == plan->cap) {
    size_t cap = plan->cap ? plan->cap * 2 : 64;
    char **keys = realloc(plan->keys, cap * sizeof *keys);
    if (keys == NULL) return oc__fail(oc_status_out_of_memory, "plan: out of memory");
    plan->keys = keys;
    plan->cap = cap;
  }
  plan->keys[plan->n] = strdup(key);
  if (plan->keys[plan->n] == NULL) return oc__fail(oc_status_out_of_memory, "plan: out of memory");
  plan->n++;
  plan->sorted = false;
  return oc_status_ok;
}

static bool is_kernel_kind(const char *key) {
  char kind[32], dtype[8];
  enum oc_op_kind k;
  return oc__lut_check_key(key, kind, dtype) == oc_status_ok &&
         oc_op_kind_from_name(kind, &k) == oc_status_ok;
}

enum oc_status oc_lut_plan_add_net(struct oc_lut_plan *plan, const struct oc_net *net) {
  enum oc_status st = oc_status_ok;
  if (plan->granularity == oc_lut_block) {
    for (int32_t i = 0; st == oc_status_ok && i < net->n_layers; i++)
      st = plan_push(plan, net->layers[i].key);
    return st;
  }
  for (int32_t i = 0; st == oc_status_ok && i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_op) continue; /* data moves have nothing to measure */
    char key[OC_KEY_MAX];
    st = oc_op_format(&k->op, key, sizeof key);
    if (st == oc_status_ok) st = plan_push(plan, key);
  }
  return st;
}

enum oc_status oc_lut_plan_add_space(struct oc_lut_plan *plan, const struct oc_space *space,
                                     const int32_t *resolutions, size_t n_resolutions) {
  struct oc_space_ops *ops = NULL;
  enum oc_status st = oc_space_enumerate_ops(space, resolutions, n_resolutions, &ops);
  if (st != oc_status_ok) return st;
  if (plan->granularity == oc_lut_block) {
    for (size_t i = 0; st == oc_status_ok && i < ops->n_blocks; i++)
      st = plan_push(plan, ops->block_keys[i]);
  } else {
    for (size_t i = 0; st == oc_status_ok && i < ops->n_kernels; i++)
      st = plan_push(plan, ops->kernel_keys[i]);
  }
  oc_space_ops_free(ops);
  return st;
}

enum oc_status oc_lut_plan_add_key(struct oc_lut_plan *plan, const char *key) {
  char kind[32], dtype[8];
  enum oc_status st = oc__lut_check_key(key, kind, dtype);
  if (st != oc_status_ok) return st;
  if (!is_kernel_kind(key)) {
    if (plan->granularity == oc_lut_kernel)
      return oc__fail(oc_status_invalid_argument,
                      "key '%s': '%s' is a block, not a kernel; use granularity block", key, kind);
    struct oc_net *net = NULL;
    st = oc_lut_block_net(key, &net);
    oc_net_free(net);
    if (st != oc_status_ok) return st;
  }
  return plan_push(plan, key);
}

size_t oc_lut_plan_size(const struct oc_lut_plan *plan) { return plan->n; }

static int by_key(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *oc_lut_plan_key(struct oc_lut_plan *plan, size_t index) {
  if (!plan->sorted) {
    qsort(plan->keys, plan->n, sizeof *plan->keys, by_key);
    plan->sorted = true;
  }
  return index < plan->n ? plan->keys[index] : NULL;
}

int32_t oc_lut_shard_of(const char *key, int32_t shard_count) {
  if (shard_count <= 1) return 0;
  return (int32_t)(oc__lut_hash(key, strlen(key)) % (uint64_t)shard_count);
}

/* ---- blocks as one-layer networks ---- */

static json_t *field_value(const char *text) {
  int64_t i;
  if (oc__parse_i64(text, INT32_MIN, INT32_MAX, &i)) return json_integer(i);
  char *end = NULL;
  double d = strtod(text, &end);
  if (end != text && *end == '\0' && isfinite(d)) return json_real(d);
  return json_string(text);
}

enum oc_status oc_lut_block_net(const char *key, struct oc_net **out) {
  char kind[32], dtype[8];
  *out = NULL;
  enum oc_status st = oc__lut_check_key(key, kind, dtype);
  if (st != oc_status_ok) return st;
  enum oc_net_block block = oc_net_block_op;
  for (int b = 1; b < oc_net_block__count; b++)
    if (strcmp(oc_net_block_name((enum oc_net_block)b), kind) == 0) block = (enum oc_net_block)b;
  if (block == oc_net_block_op)
    return oc__fail(oc_status_parse_error, "key '%s': '%s' is not a block of net.h", key, kind);
  json_t *layer = json_pack("{s:s}", "op", kind);
  json_t *input = json_object();
  const char *p = strchr(key, ' ');
  while (layer && input && p) {
    p++;
    const char *eq = strchr(p, '=');
    const char *end = strchr(p, ' ');
    size_t vlen = end ? (size_t)(end - eq - 1) : strlen(eq + 1);
    char name[32], value[OC_LUT_KEY_MAX];
    size_t nlen = (size_t)(eq - p);
    if (nlen >= sizeof name || vlen >= sizeof value) break;
    memcpy(name, p, nlen);
    name[nlen] = '\0';
    memcpy(value, eq + 1, vlen);
    value[vlen] = '\0';
    if (strcmp(name, "h") == 0 || strcmp(name, "w") == 0)
      json_object_set_new(input, name, field_value(value));
    else if (strcmp(name, "cin") == 0 || strcmp(name, "c") == 0)
      json_object_set_new(input, "c", field_value(value));
    else
      json_object_set_new(layer, name, field_value(value));
    p = end;
  }
  json_t *root = layer && input
                     ? json_pack("{s:s, s:s, s:O, s:s, s:[O]}", "format", OC_NET_FORMAT, "name",
                                 "block", "input", input, "dtype", dtype, "layers", layer)
                     : NULL;
  json_decref(layer);
  json_decref(input);
  if (root == NULL) return oc__fail(oc_status_out_of_memory, "key '%s': out of memory", key);
  struct oc_net *net = NULL;
  st = oc_net_load_json(root, key, &net);
  json_decref(root);
  if (st != oc_status_ok) return oc__fail_prefix(oc_status_parse_error, "block key: ");
  if (net->n_layers != 1 || strcmp(net->layers[0].key, key) != 0) {
    st = oc__fail(oc_status_parse_error, "block key '%s' builds a layer with key '%s'", key,
                  net->n_layers ? net->layers[0].key : "");
    oc_net_free(net);
    return st;
  }
  *out = net;
  return oc_status_ok;
}

/* ---- the build loop ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Measures a block as a one-layer network on the target. */
static enum oc_status measure_block(struct oc_target *target, const struct oc_net *net,
                                    const struct oc_measure_opts *mopts,
                                    struct oc_measurement *m) {
  const struct oc_target_vtab *vtab = oc_target_vtab_of(target);
  if (!(vtab->caps & oc_cap_networks))
    return oc__fail(oc_status_unsupported,
                    "target '%s' cannot run whole blocks (no network runner); build with "
                    "granularity kernel",
                    vtab->name);
  size_t esize = oc_dtype_size(net->dtype);
  float *input = malloc((size_t)oc_tensor_elems(&net->input) * esize);
  void *output = malloc((size_t)oc_tensor_elems(&net->output) * esize);
  struct oc_kernel *kernel = NULL;
  enum oc_status st = oc_status_ok;
  if (input == NULL || output == NULL) {
    st = oc__fail(oc_status_out_of_memory, "block '%s': out of memory", net->layers[0].key);
    goto done;
  }
  if (net->dtype == oc_dtype_f32) oc_net_fill_input(net, OC_NET_PARAM_SEED, input);
  else memset(input, 0, (size_t)oc_tensor_elems(&net->input) * esize);
  st = oc_target_prepare_net(target, net, input, output, &kernel);
  if (st == oc_status_ok) st = oc_probe_kernel(target, kernel, mopts, m);
done:
  oc_target_release(target, kernel);
  free(input);
  free(output);
  return st;
}

/* The row's env: how it was measured (the measurement's JSON without what
 * has columns of its own). */
static char *env_json(const struct oc_measurement *m) {
  json_t *o = oc_measurement_to_json(m);
  if (o == NULL) return NULL;
  json_object_del(o, "key");
  json_object_del(o, "stats");
  json_object_del(o, "counters");
  json_object_del(o, "raw_us");
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return text;
}

static char *counters_json(const struct oc_measurement *m) {
  json_t *o = oc_counters_to_json(&m->counters);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return text;
}

/* Measures one key and fills row (JSON fields allocated: *env, *counters). */
static enum oc_status measure_key(struct oc_target *target, const char *key,
                                  enum oc_lut_granularity granularity,
                                  const struct oc_measure_opts *mopts, struct oc_lut_row *row,
                                  char **env, char **counters) {
  struct oc_measurement m;
  struct oc_net *net = NULL;
  memset(&m, 0, sizeof m);
  enum oc_status st;
  oc__strcpy(row->key, sizeof row->key, key);
  row->granularity = granularity;
  if (is_kernel_kind(key)) {
    struct oc_op op;
    st = oc_op_parse(key, &op);
    if (st == oc_status_ok) st = oc_lut_row_fill_costs(row);
    /* One kernel: inputs, weights and output are all live while it runs. */
    row->peak_bytes = row->bytes;
    if (st == oc_status_ok) st = oc_probe_op(target, &op, mopts, &m);
  } else {
    char kind[32], dtype[8];
    st = oc__lut_check_key(key, kind, dtype);
    if (st == oc_status_ok) st = oc_lut_block_net(key, &net);
    if (st == oc_status_ok) {
      oc__strcpy(row->kind, sizeof row->kind, kind);
      oc__strcpy(row->dtype, sizeof row->dtype, dtype);
      oc__lut_row_costs_from_layer(row, net, &net->layers[0]);
      st = measure_block(target, net, mopts, &m);
    }
  }
  oc_net_free(net);
  if (st == oc_status_ok) {
    row->samples = m.stats.n;
    row->median_us = m.stats.median_us;
    row->p10_us = m.stats.p10_us;
    row->p90_us = m.stats.p90_us;
    row->min_us = m.stats.min_us;
    row->mad_us = m.stats.mad_us;
    row->cv = m.stats.cv;
    row->source = oc_lut_measured;
    oc_lut_now(row->measured_at);
    *env = env_json(&m);
    *counters = counters_json(&m);
    if (*env == NULL || *counters == NULL)
      st = oc__fail(oc_status_out_of_memory, "key '%s': out of memory", key);
    row->env_json = *env;
    row->counters_json = *counters;
    /* Subtracting the harness floor can leave a tiny op at a hair below 0. */
    if (row->min_us < 0) row->min_us = 0;
    if (row->p10_us < 0) row->p10_us = 0;
    if (row->median_us < 0) row->median_us = 0;
    if (row->p90_us < 0) row->p90_us = 0;
  }
  oc_measurement_release(&m);
  return st;
}

enum oc_status oc_lut_build(struct oc_lut *lut, struct oc_target *target,
                            struct oc_lut_plan *plan, const struct oc_lut_build_opts *opts,
                            struct oc_lut_build_report *report) {
  struct oc_lut_build_opts defaults = {.shard_count = 1};
  struct oc_lut_build_report unused;
  struct oc_device_info info;
  struct oc_lut_device dev = {.info_json = NULL};
  struct oc_lut_cache *cache = NULL;
  const char **todo = NULL;
  enum oc_status st;
  if (opts == NULL) opts = &defaults;
  if (report == NULL) report = &unused;
  memset(report, 0, sizeof *report);
  double start = now_s();
  int32_t shards = opts->shard_count > 0 ? opts->shard_count : 1;
  if (opts->shard_index < 0 || opts->shard_index >= shards)
    return oc__fail(oc_status_invalid_argument, "shard %d/%d: the index must be 0 to %d",
                    (int)opts->shard_index, (int)shards, (int)shards - 1);
  if (!(opts->time_budget_s >= 0) || !isfinite(opts->time_budget_s))
    return oc__fail(oc_status_invalid_argument, "time budget: value '%g' must be >= 0",
                    opts->time_budget_s);
  struct oc_measure_opts mopts;
  if (opts->measure) mopts = *opts->measure;
  else oc_measure_opts_default(&mopts);
  st = oc_measure_opts_check(&mopts);
  if (st == oc_status_ok) st = oc_target_describe(target, &info);
  if (st == oc_status_ok) st = oc_lut_device_from_info(&info, &dev);
  if (st == oc_status_ok) st = oc_lut_put_device(lut, &dev);
  if (st != oc_status_ok) goto done;
  int32_t threads = oc_target_options(target)->threads;
  if (threads < 1) threads = 1;
  oc__strcpy(report->fingerprint, sizeof report->fingerprint, info.fingerprint);
  report->threads = threads;
  st = oc_lut_cache_load(lut, info.fingerprint, threads, &cache);
  if (st != oc_status_ok) goto done;
  size_t n = oc_lut_plan_size(plan);
  todo = calloc(n ? n : 1, sizeof *todo);
  if (todo == NULL) {
    st = oc__fail(oc_status_out_of_memory, "build: out of memory");
    goto done;
  }
  size_t n_todo = 0;
  for (size_t i = 0; i < n; i++) {
    const char *key = oc_lut_plan_key(plan, i);
    report->planned++;
    if (oc_lut_shard_of(key, shards) != opts->shard_index) continue;
    report->in_shard++;
    if (oc_lut_cache_find(cache, key)) report->stored++;
    else todo[n_todo++] = key;
  }
  report->remaining = (int64_t)n_todo;
  /* Blocks run as networks: a target without a network runner cannot
   * measure any of them, and saying so once beats one failure per block. */
  if (!(oc_target_vtab_of(target)->caps & oc_cap_networks)) {
    size_t blocks = 0;
    const char *first = NULL;
    for (size_t i = 0; i < n_todo; i++) {
      if (is_kernel_kind(todo[i])) continue;
      if (blocks++ == 0) first = todo[i];
    }
    if (blocks > 0) {
      st = oc__fail(oc_status_unsupported,
                    "target '%s' cannot run whole blocks (no network runner), and %zu of the "
                    "%zu ops to measure are blocks (first '%s'); use granularity kernel or a "
                    "target that runs networks",
                    oc_target_name(target), blocks, n_todo, first);
      goto done;
    }
  }
  double measuring_s = 0;
  int64_t done_ops = 0;
  for (size_t i = 0; i < n_todo; i++) {
    if (opts->stop && *opts->stop) {
      report->stopped = true;
      break;
    }
    double t0 = now_s();
    double mean_op_s = done_ops ? measuring_s / (double)done_ops : 0;
    if (opts->time_budget_s > 0 && t0 - start + mean_op_s > opts->time_budget_s) {
      report->budget_exhausted = true;
      break;
    }
    struct oc_lut_row row;
    char *env = NULL, *counters = NULL;
    memset(&row, 0, sizeof row);
    oc__strcpy(row.fingerprint, sizeof row.fingerprint, info.fingerprint);
    oc__strcpy(row.target, sizeof row.target, info.target);
    row.threads = threads;
    st = measure_key(target, todo[i], plan->granularity, &mopts, &row, &env, &counters);
    struct oc_lut_build_progress prog = {done_ops + 1, (int64_t)n_todo, todo[i], -1, NULL};
    if (st == oc_status_unsupported) {
      if (report->unsupported++ == 0)
        oc__strfmt(report->first_unsupported, sizeof report->first_unsupported, "%s", oc_errmsg());
      prog.error = oc_errmsg();
      st = oc_status_ok;
    } else if (st == oc_status_ok) {
      enum oc_lut_put_result result;
      st = oc_lut_put(lut, &row, oc_lut_keep_existing, &result);
      if (st == oc_status_ok) {
        if (result == oc_lut_inserted) report->measured++;
        else report->raced++;
        prog.median_us = row.median_us;
      }
    }
    free(env);
    free(counters);
    if (st != oc_status_ok) goto done;
    done_ops++;
    report->remaining--;
    measuring_s += now_s() - t0;
    if (opts->progress) opts->progress(opts->progress_ctx, &prog);
  }
done:
  report->elapsed_s = now_s() - start;
  free(todo);
  oc_lut_cache_free(cache);
  oc_lut_device_clear(&dev);
  return st;
}
