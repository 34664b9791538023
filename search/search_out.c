/* search_out.c - what a search leaves in its directory besides the journal:
 * config.json (what a resume must match), front.csv and front.json (the
 * Pareto front over the whole archive, each member with every metric and
 * where it came from), front/NAME.json (each member as an opcost-net/1
 * network), hv.csv (the hypervolume trace against the fixed reference
 * point), hil.csv (predicted vs measured latency of every measured
 * candidate) and summary.json. Files are written to a temporary name and
 * renamed, so a reader never sees half a file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "search/search_internal.h"

enum oc_status oc__search_write_file(const char *path, const char *text, size_t len) {
  char tmp[4096];
  if (!oc__strfmt(tmp, sizeof tmp, "%s.tmp", path))
    return oc__fail(oc_status_overflow, "%s: path too long", path);
  FILE *f = fopen(tmp, "w");
  if (f == NULL) return oc__fail(oc_status_io_error, "%s: %s", tmp, strerror(errno));
  bool ok = fwrite(text, 1, len, f) == len;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return oc__fail(oc_status_io_error, "%s: write failed: %s", path, strerror(errno));
  }
  return oc_status_ok;
}

static enum oc_status write_json(const char *path, const json_t *root) {
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
  if (text == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", path);
  size_t len = strlen(text);
  char *with_nl = realloc(text, len + 2);
  if (with_nl == NULL) {
    free(text);
    return oc__fail(oc_status_out_of_memory, "%s: out of memory", path);
  }
  with_nl[len] = '\n';
  with_nl[len + 1] = '\0';
  enum oc_status st = oc__search_write_file(path, with_nl, len + 1);
  free(with_nl);
  return st;
}

/* A growing text buffer (CSV files). */
struct buf {
  char *p;
  size_t len, cap;
  bool oom;
};

static void bprintf(struct buf *b, const char *fmt, ...) OC__PRINTF(2, 3);
static void bprintf(struct buf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = true;
      return;
    }
    if (b->p && (size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + (size_t)n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
}

static void bcsv_string(struct buf *b, const char *s) {
  bprintf(b, "\"");
  for (; *s; s++) {
    if (*s == '"')
      bprintf(b, "\"\"");
    else
      bprintf(b, "%c", *s);
  }
  bprintf(b, "\"");
}

static void bnum(struct buf *b, double v) {
  if (isfinite(v)) bprintf(b, "%.17g", v);
}

static enum oc_status flush_buf(struct buf *b, const char *path) {
  enum oc_status st = b->oom ? oc__fail(oc_status_out_of_memory, "%s: out of memory", path)
                             : oc__search_write_file(path, b->p ? b->p : "", b->len);
  free(b->p);
  memset(b, 0, sizeof *b);
  return st;
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* ---- configuration (what a resume must match) ------------------------------------------------ */

static json_t *config_json(struct oc__search *s) {
  const struct oc_search_config *c = s->cfg;
  json_t *objectives = json_array();
  for (size_t k = 0; k < c->n_objectives; k++)
    json_array_append_new(objectives, json_string(oc_search_metric_name(c->objectives[k])));
  json_t *constraints = json_array();
  for (size_t k = 0; k < c->n_constraints; k++) {
    const struct oc_search_constraint *q = &c->constraints[k];
    json_array_append_new(
        constraints, json_pack("{s:s, s:s, s:f}", "metric", oc_search_metric_name(q->metric), "cmp",
                               q->cmp == oc_search_le ? "<=" : ">=", "bound", q->bound));
  }
  json_t *latency = json_object();
  json_object_set_new(latency, "source", json_string(oc_search_source_name(s->latency_source)));
  if (s->latency_source == oc_search_source_lut) {
    json_object_set_new(latency, "fingerprint", json_string(oc_lut_cache_fingerprint(c->lut)));
    json_object_set_new(latency, "threads", json_integer(oc_lut_cache_threads(c->lut)));
    json_object_set_new(latency, "granularity",
                        json_string(oc_lut_granularity_name(c->granularity)));
    json_object_set_new(latency, "roofline", json_boolean(c->roofline != NULL));
    json_object_set_new(latency, "strict", json_boolean(c->lut_strict));
  } else if (s->latency_source == oc_search_source_model) {
    const struct oc_model_device *d = oc_model_get_device(c->model);
    json_object_set_new(latency, "fingerprint", json_string(d->fingerprint));
    json_object_set_new(latency, "bound", json_string(c->latency_upper ? "upper" : "point"));
  }
  json_t *accuracy = json_object();
  if (c->accuracy_table) {
    json_object_set_new(accuracy, "source", json_string("table"));
    json_object_set_new(accuracy, "rows",
                        json_integer((json_int_t)oc_search_accuracy_size(c->accuracy_table)));
  } else if (c->evaluator) {
    json_object_set_new(accuracy, "source", json_string("evaluator"));
    json_object_set_new(accuracy, "command", json_string(c->evaluator));
  } else {
    json_object_set_new(accuracy, "source", json_string("none"));
  }
  json_t *ref = json_null();
  if (c->have_ref_point) {
    ref = json_array();
    for (size_t k = 0; k < c->n_objectives; k++)
      json_array_append_new(ref, json_real(c->ref_point[k]));
  }
  return json_pack(
      "{s:s, s:s, s:s, s:s, s:I, s:i, s:o, s:o, s:o, s:o, s:{s:i, s:s}, s:o, s:{s:f, s:f, s:f, "
      "s:f, s:i}}",
      "format", "opcost-search-config/1", "space", oc_space_name(s->space), "space_origin",
      oc_space_origin(s->space), "algorithm", oc_search_algorithm_name(c->algorithm), "seed",
      (json_int_t)c->seed, "population", (int)c->population, "objectives", objectives,
      "constraints", constraints, "latency", latency, "accuracy", accuracy, "hil", "n", (int)c->hil,
      "when", c->hil_when == oc_search_hil_final ? "final" : "generation", "ref_point", ref,
      "operators", "crossover_prob", c->crossover_prob, "mutation_prob", c->mutation_prob,
      "parent_ratio", c->parent_ratio, "mutate_ratio", c->mutate_ratio, "max_retries",
      (int)c->max_retries);
}

enum oc_status oc__search_write_config(struct oc__search *s, const char *path) {
  json_t *root = config_json(s);
  if (root == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  enum oc_status st = write_json(path, root);
  json_decref(root);
  return st;
}

enum oc_status oc__search_check_config(struct oc__search *s, const char *path) {
  json_error_t err;
  json_t *old = json_load_file(path, 0, &err);
  if (old == NULL)
    return oc__fail(oc_status_invalid_argument,
                    "%s: cannot read the configuration of the search to resume (%s)", path,
                    err.text);
  json_t *now = config_json(s);
  enum oc_status st = oc_status_ok;
  const char *key;
  json_t *value;
  json_object_foreach(now, key, value) {
    if (!json_equal(value, json_object_get(old, key))) {
      char *a = json_dumps(json_object_get(old, key), JSON_COMPACT | JSON_ENCODE_ANY);
      char *b = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
      st = oc__fail(oc_status_invalid_argument,
                    "%s: the search to resume has %s %s, this one %s: resume with the same "
                    "settings (only --budget may change)",
                    path, key, a ? a : "(none)", b ? b : "?");
      free(a);
      free(b);
      break;
    }
  }
  json_decref(old);
  json_decref(now);
  return st;
}

/* ---- the front
 * ----------------------------------------------------------------------------------- */

static int64_t *sorted_front(struct oc__search *s) {
  size_t k = s->archive.n_front;
  int64_t *f = malloc((k ? k : 1) * sizeof *f);
  if (f == NULL) return NULL;
  if (k > 0) memcpy(f, s->archive.front, k * sizeof *f);
  /* By the first objective, then id: insertion sort, fronts are small. */
  double a[OC_SEARCH_MAX_OBJECTIVES], b[OC_SEARCH_MAX_OBJECTIVES];
  for (size_t i = 1; i < k; i++) {
    int64_t x = f[i];
    oc__search_objectives(s, x, a);
    size_t j = i;
    while (j > 0) {
      oc__search_objectives(s, f[j - 1], b);
      if (a[0] < b[0] || (a[0] == b[0] && x < f[j - 1])) {
        f[j] = f[j - 1];
        j--;
      } else {
        break;
      }
    }
    f[j] = x;
  }
  return f;
}

static json_t *cand_json(struct oc__search *s, int64_t i, const char *net_path) {
  const struct oc__cand *c = &s->archive.cand[i];
  char name[OC_NET_NAME_MAX], text[16384], hex[17];
  oc__search_cand_name(s, i, name, sizeof name);
  if (oc_space_format_genes(s->space, oc__archive_genes(&s->archive, i), s->n_genes, false, text,
                            sizeof text) != oc_status_ok)
    text[0] = '\0';
  oc__strfmt(hex, sizeof hex, "%016llx", (unsigned long long)c->hash);
  json_t *metrics = json_object(), *sources = json_object();
  for (int k = 0; k < OC__SEARCH_NMETRICS; k++) {
    if (c->source[k] == oc_search_source_none) continue;
    const char *mn = oc_search_metric_name((enum oc_search_metric)k);
    json_object_set_new(metrics, mn, num_or_null(c->value[k]));
    json_object_set_new(sources, mn,
                        json_string(oc_search_source_name((enum oc_search_source)c->source[k])));
  }
  json_t *o = json_pack(
      "{s:I, s:s, s:i, s:s, s:s, s:o, s:o, s:b, s:f, s:o, s:o}", "id", (json_int_t)i, "name", name,
      "generation", (int)c->generation, "hash", hex, "genes", text, "metrics", metrics, "sources",
      sources, "feasible", c->feasible, "violation", c->violation, "predicted_latency_us",
      num_or_null(c->predicted_us), "measured_latency_us", num_or_null(c->measured_us));
  if (o && net_path) json_object_set_new(o, "net", json_string(net_path));
  return o;
}

static enum oc_status write_front(struct oc__search *s) {
  char path[4096], dir[4096];
  oc__strfmt(dir, sizeof dir, "%s/front", s->dir);
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return oc__fail(oc_status_io_error, "%s: %s", dir, strerror(errno));
  int64_t *f = sorted_front(s);
  if (f == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  size_t k = s->archive.n_front;
  struct buf csv = {0};
  bprintf(&csv, "id,name,generation,hash,genes,feasible,violation");
  for (int m = 0; m < OC__SEARCH_NMETRICS; m++) {
    const char *mn = oc_search_metric_name((enum oc_search_metric)m);
    bprintf(&csv, ",%s,%s_source", mn, mn);
  }
  bprintf(&csv, ",predicted_latency_us,measured_latency_us,net\n");
  json_t *members = json_array();
  enum oc_status st = oc_status_ok;
  for (size_t j = 0; j < k && st == oc_status_ok; j++) {
    int64_t i = f[j];
    const struct oc__cand *c = &s->archive.cand[i];
    char name[OC_NET_NAME_MAX], text[16384], rel[OC_NET_NAME_MAX + 16];
    oc__search_cand_name(s, i, name, sizeof name);
    oc__strfmt(rel, sizeof rel, "front/%s.json", name);
    json_t *net = NULL;
    st = oc__search_net_json(s, oc__archive_genes(&s->archive, i), i, &net);
    if (st != oc_status_ok) break;
    oc__strfmt(path, sizeof path, "%s/%s", s->dir, rel);
    st = write_json(path, net);
    json_decref(net);
    if (st != oc_status_ok) break;
    json_array_append_new(members, cand_json(s, i, rel));
    if (oc_space_format_genes(s->space, oc__archive_genes(&s->archive, i), s->n_genes, false, text,
                              sizeof text) != oc_status_ok)
      text[0] = '\0';
    bprintf(&csv, "%lld,%s,%d,%016llx,", (long long)i, name, (int)c->generation,
            (unsigned long long)c->hash);
    bcsv_string(&csv, text);
    bprintf(&csv, ",%s,", c->feasible ? "true" : "false");
    bnum(&csv, c->violation);
    for (int m = 0; m < OC__SEARCH_NMETRICS; m++) {
      bprintf(&csv, ",");
      if (c->source[m] != oc_search_source_none) bnum(&csv, c->value[m]);
      bprintf(&csv, ",%s",
              c->source[m] != oc_search_source_none
                  ? oc_search_source_name((enum oc_search_source)c->source[m])
                  : "");
    }
    bprintf(&csv, ",");
    bnum(&csv, c->predicted_us);
    bprintf(&csv, ",");
    bnum(&csv, c->measured_us);
    bprintf(&csv, ",%s\n", rel);
  }
  free(f);
  if (st == oc_status_ok) {
    oc__strfmt(path, sizeof path, "%s/front.csv", s->dir);
    st = flush_buf(&csv, path);
  } else {
    free(csv.p);
  }
  if (st == oc_status_ok) {
    json_t *objectives = json_array(), *ref = json_array();
    for (size_t m = 0; m < s->m; m++) {
      enum oc_search_metric mt = s->cfg->objectives[m];
      json_array_append_new(objectives, json_string(oc_search_metric_name(mt)));
      /* In the metric's own direction (accuracy is not negated here). */
      json_array_append_new(
          ref, json_real(oc_search_metric_maximized(mt) ? 0.0 - s->ref[m] : s->ref[m]));
    }
    json_t *root = json_pack("{s:s, s:s, s:o, s:o, s:o}", "format", "opcost-search-front/1",
                             "space", oc_space_name(s->space), "objectives", objectives,
                             "reference_point", ref, "members", members);
    members = NULL;
    oc__strfmt(path, sizeof path, "%s/front.json", s->dir);
    st = root ? write_json(path, root) : oc__fail(oc_status_out_of_memory, "out of memory");
    json_decref(root);
  }
  json_decref(members);
  return st;
}

static enum oc_status write_hv(struct oc__search *s) {
  struct buf csv = {0};
  bprintf(&csv, "generation,evaluated,feasible,front_size,hypervolume,method,std_error\n");
  for (int64_t i = 0; i < s->n_trace; i++) {
    const struct oc__trace_row *r = &s->trace[i];
    bprintf(&csv, "%d,%lld,%lld,%zu,", (int)r->generation, (long long)r->evaluated,
            (long long)r->feasible, r->front_size);
    bnum(&csv, r->hv);
    bprintf(&csv, ",%s,", r->method == oc_search_hv_exact ? "exact" : "monte_carlo");
    bnum(&csv, r->std_error);
    bprintf(&csv, "\n");
  }
  char path[4096];
  oc__strfmt(path, sizeof path, "%s/hv.csv", s->dir);
  return flush_buf(&csv, path);
}

static enum oc_status write_hil(struct oc__search *s) {
  struct buf csv = {0};
  bprintf(&csv, "id,hash,genes,generation,predicted_us,corrected_prediction_us,measured_us,"
                "measured_over_predicted,correction_after\n");
  double correction_before = 1.0;
  for (int64_t k = 0; k < s->n_hil; k++) {
    const struct oc__hil_rec *h = &s->hil[k];
    char text[16384];
    if (oc_space_format_genes(s->space, oc__archive_genes(&s->archive, h->id), s->n_genes, false,
                              text, sizeof text) != oc_status_ok)
      text[0] = '\0';
    bprintf(&csv, "%lld,%016llx,", (long long)h->id, (unsigned long long)h->hash);
    bcsv_string(&csv, text);
    bprintf(&csv, ",%d,", (int)h->generation);
    bnum(&csv, h->predicted_us);
    bprintf(&csv, ",");
    bnum(&csv, h->predicted_us * correction_before);
    bprintf(&csv, ",");
    bnum(&csv, h->measured_us);
    bprintf(&csv, ",");
    bnum(&csv, h->measured_us / h->predicted_us);
    bprintf(&csv, ",");
    bnum(&csv, h->correction_after);
    bprintf(&csv, "\n");
    correction_before = h->correction_after;
  }
  char path[4096];
  oc__strfmt(path, sizeof path, "%s/hil.csv", s->dir);
  return flush_buf(&csv, path);
}

/* ---- summary ----------------------------------------------------------------------------------
 */

static json_t *best_violation_json(struct oc__search *s, int64_t i) {
  const struct oc__cand *c = &s->archive.cand[i];
  json_t *violated = json_array();
  for (size_t k = 0; k < s->cfg->n_constraints; k++) {
    const struct oc_search_constraint *q = &s->cfg->constraints[k];
    double v = c->value[q->metric];
    double viol = oc_search_violation(q, v);
    if (!(viol > 0)) continue;
    char have[64], bound[64];
    oc_search_format_value(q->metric, v, have, sizeof have);
    oc_search_format_value(q->metric, q->bound, bound, sizeof bound);
    json_array_append_new(violated, json_pack("{s:s, s:s, s:s, s:f}", "constraint", q->text,
                                              "value", have, "bound", bound, "violation", viol));
  }
  return json_pack("{s:I, s:f, s:o}", "id", (json_int_t)i, "violation", c->violation, "violated",
                   violated);
}

enum oc_status oc__search_write_outputs(struct oc__search *s, struct oc_search_report *rep) {
  const struct oc_search_config *cfg = s->cfg;
  enum oc_status st = write_front(s);
  if (st == oc_status_ok) st = write_hv(s);
  if (st == oc_status_ok && cfg->hil > 0) st = write_hil(s);
  if (st != oc_status_ok) return st;

  json_t *objectives = json_array();
  for (size_t m = 0; m < s->m; m++) {
    enum oc_search_metric mt = cfg->objectives[m];
    const char *src = "analytic";
    if (mt == oc_search_latency)
      src = s->n_hil > 0
                ? (s->latency_source == oc_search_source_lut ? "lut+measured" : "model+measured")
                : oc_search_source_name(s->latency_source);
    else if (mt == oc_search_accuracy)
      src = cfg->accuracy_table ? "table" : "evaluator";
    json_array_append_new(
        objectives,
        json_pack("{s:s, s:s, s:s, s:s, s:f}", "metric", oc_search_metric_name(mt), "direction",
                  oc_search_metric_maximized(mt) ? "maximize" : "minimize", "unit",
                  mt == oc_search_latency                                 ? "us"
                  : (mt == oc_search_peak_mem || mt == oc_search_weights) ? "B"
                                                                          : "",
                  "source", src, "reference_point",
                  oc_search_metric_maximized(mt) ? 0.0 - s->ref[m] : s->ref[m]));
  }
  json_t *constraints = json_array();
  for (size_t k = 0; k < cfg->n_constraints; k++) {
    const struct oc_search_constraint *q = &cfg->constraints[k];
    char bound[64];
    oc_search_format_value(q->metric, q->bound, bound, sizeof bound);
    json_array_append_new(constraints, json_pack("{s:s, s:s, s:s, s:f, s:s}", "text", q->text,
                                                 "metric", oc_search_metric_name(q->metric), "cmp",
                                                 q->cmp == oc_search_le ? "<=" : ">=", "bound",
                                                 q->bound, "bound_readable", bound));
  }
  json_t *hil = json_null();
  if (cfg->hil > 0) {
    json_t *items = json_array();
    for (int64_t k = 0; k < s->n_hil; k++) {
      const struct oc__hil_rec *h = &s->hil[k];
      json_array_append_new(items, json_pack("{s:I, s:f, s:f, s:f}", "id", (json_int_t)h->id,
                                             "predicted_us", h->predicted_us, "measured_us",
                                             h->measured_us, "measured_over_predicted",
                                             h->measured_us / h->predicted_us));
    }
    hil = json_pack("{s:s, s:s, s:i, s:i, s:f, s:o, s:s, s:o}", "target",
                    cfg->target_name ? cfg->target_name : "", "when",
                    cfg->hil_when == oc_search_hil_final ? "final" : "generation", "budget",
                    (int)cfg->hil, "measured", (int)s->n_hil, "correction", s->correction,
                    "mape_before_correction", num_or_null(rep->hil_mape), "correction_model",
                    "measured = factor x predicted; factor = geometric mean of the ratios",
                    "candidates", items);
  }
  int64_t entries = 0, shapes = 0;
  if (s->table) oc_search_table_stats(s->table, &entries, &shapes);
  json_t *root = json_pack(
      "{s:s, s:{s:s, s:s, s:i}, s:s, s:I, s:I, s:i, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, "
      "s:b, s:b, s:i, s:I, s:I}",
      "format", OC_SEARCH_SUMMARY_FORMAT, "space", "name", oc_space_name(s->space), "origin",
      oc_space_origin(s->space), "genes", (int)s->n_genes, "algorithm",
      oc_search_algorithm_name(cfg->algorithm), "seed", (json_int_t)cfg->seed, "budget",
      (json_int_t)cfg->budget, "population", (int)cfg->population, "objectives", objectives,
      "constraints", constraints, "evaluated", (json_int_t)rep->evaluated, "resumed",
      (json_int_t)rep->resumed, "evaluated_this_run", (json_int_t)s->evaluated_now,
      "duplicates_skipped", (json_int_t)rep->duplicates, "screened_infeasible",
      (json_int_t)s->screened, "retries_exhausted", (json_int_t)rep->retries_exhausted,
      "space_exhausted", rep->exhausted, "stopped", rep->stopped, "generations",
      (int)rep->generations, "feasible", (json_int_t)rep->feasible, "front_size",
      (json_int_t)rep->front_size);
  if (root == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  json_t *hv =
      json_pack("{s:o, s:s, s:f, s:o, s:s}", "value", num_or_null(rep->hypervolume), "method",
                rep->hv_method == oc_search_hv_exact ? "exact" : "monte_carlo", "std_error", 0.0,
                "reference_point", json_array(), "reference_point_source", s->ref_source);
  for (size_t m = 0; m < s->m; m++) {
    enum oc_search_metric mt = cfg->objectives[m];
    json_array_append_new(json_object_get(hv, "reference_point"),
                          json_real(oc_search_metric_maximized(mt) ? 0.0 - s->ref[m] : s->ref[m]));
  }
  if (s->n_trace > 0)
    json_object_set_new(hv, "std_error", json_real(s->trace[s->n_trace - 1].std_error));
  if (rep->hv_method == oc_search_hv_monte_carlo) {
    json_object_set_new(hv, "samples", json_integer((json_int_t)cfg->hv_samples));
    json_object_set_new(hv, "seed",
                        json_integer((json_int_t)(cfg->seed ^ UINT64_C(0x68797065727600ff))));
  }
  json_object_set_new(hv, "note",
                      json_string("minimized objectives (accuracy negated); "
                                  "reference point in each metric's own direction"));
  json_object_set_new(root, "hypervolume", hv);
  json_object_set_new(root, "fast_path",
                      json_pack("{s:b, s:I, s:I}", "per_block_tables", s->table != NULL, "entries",
                                (json_int_t)entries, "shapes", (json_int_t)shapes));
  json_t *lat = json_object();
  json_object_set_new(lat, "source", json_string(oc_search_source_name(s->latency_source)));
  if (cfg->lut_path) json_object_set_new(lat, "lut", json_string(cfg->lut_path));
  if (cfg->model_path) json_object_set_new(lat, "model", json_string(cfg->model_path));
  if (s->latency_source == oc_search_source_lut) {
    json_object_set_new(lat, "fingerprint", json_string(oc_lut_cache_fingerprint(cfg->lut)));
    json_object_set_new(lat, "misses_from", json_string(cfg->roofline ? "roofline" : "none"));
  }
  if (s->latency_source == oc_search_source_model)
    json_object_set_new(lat, "bound", json_string(cfg->latency_upper ? "upper" : "point"));
  json_object_set_new(root, "latency", lat);
  if (s->need[oc_search_accuracy]) {
    json_t *acc = json_object();
    if (cfg->accuracy_table) {
      json_object_set_new(acc, "source", json_string("table"));
      json_object_set_new(acc, "table",
                          json_string(cfg->accuracy_table_path ? cfg->accuracy_table_path : ""));
    } else if (s->evaluator) {
      int64_t answered, errors, restarts;
      oc_search_evaluator_stats(s->evaluator, &answered, &errors, &restarts);
      json_object_set_new(acc, "source", json_string("evaluator"));
      json_object_set_new(acc, "command", json_string(cfg->evaluator));
      json_object_set_new(acc, "answered", json_integer((json_int_t)answered));
      json_object_set_new(acc, "errors", json_integer((json_int_t)errors));
      json_object_set_new(acc, "restarts", json_integer((json_int_t)restarts));
    } else {
      json_object_set_new(acc, "source", json_string("journal"));
    }
    json_object_set_new(root, "accuracy", acc);
  }
  json_object_set_new(root, "hil", hil);
  if (rep->feasible == 0 && rep->best_violation_id >= 0)
    json_object_set_new(root, "best_violation", best_violation_json(s, rep->best_violation_id));
  json_object_set_new(root, "timing",
                      json_pack("{s:f, s:f, s:f}", "elapsed_s", rep->elapsed_s, "evaluation_s",
                                s->eval_time_s, "evaluations_per_s", rep->evals_per_s));
  json_object_set_new(root, "files",
                      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "journal", "journal.jsonl",
                                "front_csv", "front.csv", "front_json", "front.json", "networks",
                                "front/", "hypervolume", "hv.csv", "hil",
                                cfg->hil > 0 ? "hil.csv" : ""));
  char path[4096];
  oc__strfmt(path, sizeof path, "%s/summary.json", s->dir);
  st = write_json(path, root);
  json_decref(root);
  return st;
}
