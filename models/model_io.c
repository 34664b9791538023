/* model_io.c - the model file (format "opcost-model/1", docs/models.md):
 * writing a model as JSON and reading it back with a message naming the
 * file and the field for anything missing, mistyped or out of range.
 *
 * The file is indented at the top, with one line per kind: an embedded
 * XGBoost booster holds thousands of numbers and would otherwise run to
 * thousands of lines. Each booster is XGBoost's own JSON (what
 * XGBoosterSaveModelToBuffer writes with {"format":"json"}), so Python's
 * xgboost.Booster().load_model() reads it. The feature names of every kind
 * are stored and checked on load, so a model from a build whose features
 * differ is refused (incompatible) instead of predicting nonsense. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "models/model_internal.h"
#include "opcost/version.h"

/* ---- writing ---- */

static json_t *array_of(const double *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a != NULL && i < n; i++) json_array_append_new(a, json_real(v[i]));
  return a;
}

static json_t *device_json(const struct oc_model_device *d) {
  json_t *levels = json_array();
  for (int i = 0; i < d->n_levels; i++)
    json_array_append_new(levels, json_pack("{s:s, s:I, s:f}", "name", d->levels[i].name,
                                            "size_bytes", (json_int_t)d->levels[i].size_bytes,
                                            "read_gbs", d->levels[i].read_gbs));
  return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:f, s:i, s:o}", "fingerprint", d->fingerprint,
                   "target", d->target, "name", d->name, "isa", d->isa, "threads", (int)d->threads,
                   "roofline_source", d->source, "peak_gflops", d->peak_gflops, "simd_bytes",
                   (int)d->simd_bytes, "levels", levels);
}

static json_t *interval_json(double lo, double hi) {
  return json_pack("{s:f, s:f}", "log_lo", lo, "log_hi", hi);
}

static json_t *kind_json(const struct oc__kind_model *km) {
  json_t *features = json_array();
  for (size_t j = 0; j < km->n_features; j++)
    json_array_append_new(features, json_string(oc_model_feature_name(km->kind, j)));
  json_t *o = json_pack("{s:I, s:s, s:o, s:o, s:{s:f, s:f}}", "rows", (json_int_t)km->rows, "model",
                        oc_model_type_name(km->chosen), "features", features, "interval",
                        interval_json(km->log_lo, km->log_hi), "roofline", "scale", km->roof.scale,
                        "overhead_us", km->roof.overhead_us);
  if (o == NULL) return NULL;
  json_object_set_new(o, "roofline_interval", interval_json(km->roof_log_lo, km->roof_log_hi));
  json_object_set_new(o, "range",
                      json_pack("{s:o, s:o}", "min", array_of(km->feature_min, km->n_features),
                                "max", array_of(km->feature_max, km->n_features)));
  if (km->has_ridge) {
    const struct oc_ridge *r = &km->ridge;
    json_object_set_new(o, "ridge",
                        json_pack("{s:f, s:f, s:o, s:o, s:o}", "lambda", r->lambda, "intercept",
                                  r->intercept, "mean", array_of(r->mean, r->p), "scale",
                                  array_of(r->scale, r->p), "coef", array_of(r->coef, r->p)));
  }
  if (km->chosen == oc_model_xgboost && km->booster_json != NULL) {
    json_t *x = json_pack("{s:i, s:i, s:f, s:O}", "rounds", km->xgb_rounds, "max_depth",
                          km->xgb_max_depth, "eta", km->xgb_eta, "booster", km->booster_json);
    if (x != NULL && km->booster_config != NULL) json_object_set(x, "config", km->booster_config);
    json_object_set_new(o, "xgboost", x);
  }
  json_t *cv = json_object();
  for (int t = 0; t < oc_model_type__count; t++)
    if (km->fitted[t])
      json_object_set_new(cv, oc_model_type_name((enum oc_model_type)t),
                          oc_model_metrics_to_json(&km->cv[t]));
  json_object_set_new(o, "cv", cv);
  return o;
}

enum oc_status oc_model_to_json(const struct oc_model *model, json_t **out) {
  *out = NULL;
  json_t *kinds = json_object();
  if (kinds == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  for (int k = 0; k < oc_op_kind__count; k++) {
    for (int d = 0; d < oc_dtype__count; d++) {
      const struct oc__kind_model *km = model->kinds[k][d];
      if (km == NULL) continue;
      char name[40];
      oc__kind_name(km->kind, km->dtype, name, sizeof name);
      json_object_set_new(kinds, name, kind_json(km));
    }
  }
  const struct oc__composition *c = &model->comp;
  json_t *comp =
      json_pack("{s:s, s:I, s:f, s:f, s:f, s:f}", "form", c->form, "nets", (json_int_t)c->nets,
                "intercept_us", c->intercept_us, "sum_scale", c->sum_scale, "per_kernel_us",
                c->per_kernel_us, "per_act_mb_us", c->per_act_mb_us);
  if (comp != NULL) {
    json_object_set_new(comp, "interval",
                        c->has_interval ? interval_json(c->log_lo, c->log_hi) : json_null());
    json_object_set_new(comp, "cv", c->has_cv ? oc_model_metrics_to_json(&c->cv) : json_null());
  }
  json_t *root = json_pack(
      "{s:s, s:s, s:s, s:o, s:f, s:O, s:o, s:{s:I, s:{s:f, s:f}, s:o, s:o}, s:o, s:O}", "format",
      OC_MODEL_FORMAT, "opcost_version", OC_VERSION_STRING, "created_at", model->created_at,
      "device", device_json(&model->device), "coverage", model->coverage, "training",
      model->training != NULL ? model->training : json_null(), "kinds", kinds, "fallback", "rows",
      (json_int_t)model->fallback_rows, "roofline", "scale", model->fallback.scale, "overhead_us",
      model->fallback.overhead_us, "interval",
      interval_json(model->fallback_log_lo, model->fallback_log_hi), "cv",
      oc_model_metrics_to_json(&model->fallback_cv), "composition", comp, "validation",
      model->validation != NULL ? model->validation : json_null());
  if (root == NULL) return oc__fail(oc_status_out_of_memory, "out of memory writing the model");
  *out = root;
  return oc_status_ok;
}

static bool put_value(FILE *f, const json_t *v, size_t flags) {
  return json_dumpf(v, f, flags | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY) == 0;
}

enum oc_status oc_model_save(const struct oc_model *model, const char *path) {
  json_t *root = NULL;
  enum oc_status st = oc_model_to_json(model, &root);
  if (st != oc_status_ok) return st;
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    st = oc__fail(oc_status_io_error, "%s: cannot open for writing: %s", path, strerror(errno));
    goto done;
  }
  bool ok = fputs("{\n", f) >= 0;
  const char *key;
  json_t *value;
  size_t i = 0, n = json_object_size(root);
  json_object_foreach(root, key, value) {
    json_t *k = json_string(key);
    ok = ok && fputs("  ", f) >= 0 && put_value(f, k, 0) && fputs(": ", f) >= 0;
    json_decref(k);
    if (strcmp(key, "kinds") == 0 && json_object_size(value) > 0) {
      const char *kname;
      json_t *kv;
      size_t j = 0, nk = json_object_size(value);
      ok = ok && fputs("{\n", f) >= 0;
      json_object_foreach(value, kname, kv) {
        json_t *ks = json_string(kname);
        ok = ok && fputs("    ", f) >= 0 && put_value(f, ks, 0) && fputs(": ", f) >= 0 &&
             put_value(f, kv, JSON_COMPACT) && fputs(++j < nk ? ",\n" : "\n", f) >= 0;
        json_decref(ks);
      }
      ok = ok && fputs("  }", f) >= 0;
    } else {
      ok = ok && put_value(f, value, JSON_COMPACT);
    }
    ok = ok && fputs(++i < n ? ",\n" : "\n", f) >= 0;
  }
  ok = ok && fputs("}\n", f) >= 0;
  if (fclose(f) != 0) ok = false;
  if (!ok) st = oc__fail(oc_status_io_error, "%s: write failed", path);
done:
  json_decref(root);
  return st;
}

/* ---- reading ---- */

struct reader {
  const char *where; /* file name */
};

static enum oc_status field_error(const struct reader *rd, const char *path, const char *what) {
  return oc__fail(oc_status_invalid_argument, "%s: field '%s': %s", rd->where, path, what);
}

static enum oc_status get_member(const struct reader *rd, const json_t *obj, const char *parent,
                                 const char *key, json_type type, const json_t **out) {
  char path[256];
  if (parent[0] != '\0')
    oc__strfmt(path, sizeof path, "%s.%s", parent, key);
  else
    oc__strcpy(path, sizeof path, key);
  const json_t *v = json_object_get(obj, key);
  if (v == NULL) return field_error(rd, path, "missing");
  bool ok = json_typeof(v) == type ||
            (type == JSON_REAL && json_is_integer(v)); /* numbers may be written as integers */
  if (!ok) {
    static const char *const names[] = {"an object", "an array", "a string", "an integer",
                                        "a number",  "true",     "false",    "null"};
    char what[64];
    oc__strfmt(what, sizeof what, "must be %s", names[type]);
    return field_error(rd, path, what);
  }
  *out = v;
  return oc_status_ok;
}

static enum oc_status get_num(const struct reader *rd, const json_t *obj, const char *parent,
                              const char *key, double *out) {
  const json_t *v;
  enum oc_status st = get_member(rd, obj, parent, key, JSON_REAL, &v);
  if (st != oc_status_ok) return st;
  *out = json_number_value(v);
  if (!isfinite(*out)) {
    char path[256];
    oc__strfmt(path, sizeof path, "%s.%s", parent, key);
    return field_error(rd, path, "must be finite");
  }
  return oc_status_ok;
}

static enum oc_status get_int(const struct reader *rd, const json_t *obj, const char *parent,
                              const char *key, int64_t min, int64_t max, int64_t *out) {
  const json_t *v;
  enum oc_status st = get_member(rd, obj, parent, key, JSON_INTEGER, &v);
  if (st != oc_status_ok) return st;
  *out = (int64_t)json_integer_value(v);
  if (*out < min || *out > max) {
    char path[256], what[96];
    oc__strfmt(path, sizeof path, "%s%s%s", parent, parent[0] ? "." : "", key);
    oc__strfmt(what, sizeof what, "value %lld out of range %lld..%lld", (long long)*out,
               (long long)min, (long long)max);
    return field_error(rd, path, what);
  }
  return oc_status_ok;
}

static enum oc_status get_str(const struct reader *rd, const json_t *obj, const char *parent,
                              const char *key, char *buf, size_t size) {
  const json_t *v;
  enum oc_status st = get_member(rd, obj, parent, key, JSON_STRING, &v);
  if (st != oc_status_ok) return st;
  oc__strcpy(buf, size, json_string_value(v));
  return oc_status_ok;
}

static double metric(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static void metrics_from_json(const json_t *o, struct oc_model_metrics *m) {
  memset(m, 0, sizeof *m);
  const json_t *n = json_object_get(o, "n");
  m->n = json_is_integer(n) && json_integer_value(n) > 0 ? (size_t)json_integer_value(n) : 0;
  m->mape = metric(o, "mape");
  m->rmspe = metric(o, "rmspe");
  m->within5 = metric(o, "within5");
  m->within10 = metric(o, "within10");
  m->p95_ape = metric(o, "p95_ape");
  m->max_ape = metric(o, "max_ape");
  m->under = metric(o, "under");
  m->kendall_tau = metric(o, "kendall_tau");
  m->spearman_rho = metric(o, "spearman_rho");
  m->coverage = metric(o, "coverage");
}

static enum oc_status read_interval_named(const struct reader *rd, const json_t *obj,
                                          const char *parent, const char *name, double *lo,
                                          double *hi) {
  const json_t *iv;
  char path[256];
  oc__strfmt(path, sizeof path, "%s.%s", parent, name);
  enum oc_status st = get_member(rd, obj, parent, name, JSON_OBJECT, &iv);
  if (st == oc_status_ok) st = get_num(rd, iv, path, "log_lo", lo);
  if (st == oc_status_ok) st = get_num(rd, iv, path, "log_hi", hi);
  if (st == oc_status_ok && (*lo > 0 || *hi < 0))
    st = field_error(rd, path, "log_lo must be <= 0 <= log_hi");
  return st;
}

static enum oc_status read_interval(const struct reader *rd, const json_t *obj, const char *parent,
                                    double *lo, double *hi) {
  return read_interval_named(rd, obj, parent, "interval", lo, hi);
}

static enum oc_status read_roof(const struct reader *rd, const json_t *obj, const char *parent,
                                struct oc__roof *roof) {
  const json_t *r;
  char path[256];
  oc__strfmt(path, sizeof path, "%s.roofline", parent);
  enum oc_status st = get_member(rd, obj, parent, "roofline", JSON_OBJECT, &r);
  if (st == oc_status_ok) st = get_num(rd, r, path, "scale", &roof->scale);
  if (st == oc_status_ok) st = get_num(rd, r, path, "overhead_us", &roof->overhead_us);
  if (st == oc_status_ok && (roof->scale < 0 || roof->overhead_us < 0))
    st = field_error(rd, path, "scale and overhead_us must be >= 0");
  return st;
}

static enum oc_status read_vector(const struct reader *rd, const json_t *obj, const char *parent,
                                  const char *key, size_t p, double **out) {
  const json_t *a;
  char path[256];
  oc__strfmt(path, sizeof path, "%s.%s", parent, key);
  enum oc_status st = get_member(rd, obj, parent, key, JSON_ARRAY, &a);
  if (st != oc_status_ok) return st;
  if (json_array_size(a) != p) {
    char what[96];
    oc__strfmt(what, sizeof what, "has %zu values, the kind has %zu features", json_array_size(a),
               p);
    return field_error(rd, path, what);
  }
  *out = calloc(p, sizeof **out);
  if (*out == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  for (size_t j = 0; j < p; j++) {
    const json_t *v = json_array_get(a, j);
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
      char item[280];
      oc__strfmt(item, sizeof item, "%s[%zu]", path, j);
      return field_error(rd, item, "must be a finite number");
    }
    (*out)[j] = json_number_value(v);
  }
  return oc_status_ok;
}

static enum oc_status read_kind(const struct reader *rd, const char *name, const json_t *o,
                                struct oc_model *model) {
  char path[256], kind_name[40];
  oc__strfmt(path, sizeof path, "kinds.%s", name);
  oc__strcpy(kind_name, sizeof kind_name, name);
  char *dot = strrchr(kind_name, '.');
  enum oc_op_kind kind;
  enum oc_dtype dtype;
  if (dot == NULL) return field_error(rd, path, "name must be KIND.DTYPE (e.g. conv2d.f32)");
  *dot = '\0';
  if (oc_op_kind_from_name(kind_name, &kind) != oc_status_ok ||
      oc_dtype_from_name(dot + 1, &dtype) != oc_status_ok) {
    oc_errclear();
    return field_error(rd, path, "not an op kind and dtype this version knows");
  }
  if (!json_is_object(o)) return field_error(rd, path, "must be an object");
  if (model->kinds[kind][dtype] != NULL) return field_error(rd, path, "duplicated");
  struct oc__kind_model *km = calloc(1, sizeof *km);
  if (km == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  model->kinds[kind][dtype] = km; /* freed with the model on failure */
  km->kind = kind;
  km->dtype = dtype;
  km->n_features = oc_model_feature_count(kind);
  char type_name[16];
  int64_t rows = 0;
  const json_t *features, *v;
  enum oc_status st = get_int(rd, o, path, "rows", 1, INT64_MAX, &rows);
  if (st == oc_status_ok) st = get_str(rd, o, path, "model", type_name, sizeof type_name);
  if (st == oc_status_ok && oc_model_type_from_name(type_name, &km->chosen) != oc_status_ok) {
    char p2[280];
    oc__strfmt(p2, sizeof p2, "%s.model", path);
    st = field_error(rd, p2, "must be roofline, ridge or xgboost");
  }
  if (st == oc_status_ok) st = get_member(rd, o, path, "features", JSON_ARRAY, &features);
  if (st != oc_status_ok) return st;
  km->rows = rows;
  if (json_array_size(features) != km->n_features)
    return oc__fail(oc_status_incompatible,
                    "%s: field '%s.features': %zu features, this version computes %zu for %s",
                    rd->where, path, json_array_size(features), km->n_features, kind_name);
  for (size_t j = 0; j < km->n_features; j++) {
    const char *f = json_string_value(json_array_get(features, j));
    const char *want = oc_model_feature_name(kind, j);
    if (f == NULL || strcmp(f, want) != 0)
      return oc__fail(oc_status_incompatible,
                      "%s: field '%s.features[%zu]': '%s', this version computes '%s'", rd->where,
                      path, j, f != NULL ? f : "(not a string)", want);
  }
  st = read_interval(rd, o, path, &km->log_lo, &km->log_hi);
  if (st == oc_status_ok)
    st = read_interval_named(rd, o, path, "roofline_interval", &km->roof_log_lo, &km->roof_log_hi);
  if (st == oc_status_ok) st = read_roof(rd, o, path, &km->roof);
  if (st != oc_status_ok) return st;
  const json_t *range;
  char range_path[280];
  oc__strfmt(range_path, sizeof range_path, "%s.range", path);
  st = get_member(rd, o, path, "range", JSON_OBJECT, &range);
  if (st == oc_status_ok)
    st = read_vector(rd, range, range_path, "min", km->n_features, &km->feature_min);
  if (st == oc_status_ok)
    st = read_vector(rd, range, range_path, "max", km->n_features, &km->feature_max);
  if (st != oc_status_ok) return st;
  for (size_t j = 0; j < km->n_features; j++)
    if (km->feature_min[j] > km->feature_max[j]) {
      char item[300];
      oc__strfmt(item, sizeof item, "%s.min[%zu]", range_path, j);
      return field_error(rd, item, "is above max");
    }
  km->fitted[oc_model_roofline] = true;
  if ((v = json_object_get(o, "ridge")) != NULL) {
    char rp[280];
    oc__strfmt(rp, sizeof rp, "%s.ridge", path);
    if (!json_is_object(v)) return field_error(rd, rp, "must be an object");
    struct oc_ridge *r = &km->ridge;
    r->p = km->n_features;
    st = get_num(rd, v, rp, "lambda", &r->lambda);
    if (st == oc_status_ok) st = get_num(rd, v, rp, "intercept", &r->intercept);
    if (st == oc_status_ok) st = read_vector(rd, v, rp, "mean", r->p, &r->mean);
    if (st == oc_status_ok) st = read_vector(rd, v, rp, "scale", r->p, &r->scale);
    if (st == oc_status_ok) st = read_vector(rd, v, rp, "coef", r->p, &r->coef);
    if (st != oc_status_ok) return st;
    for (size_t j = 0; j < r->p; j++)
      if (!(r->scale[j] > 0)) {
        char item[300];
        oc__strfmt(item, sizeof item, "%s.scale[%zu]", rp, j);
        return field_error(rd, item, "must be > 0");
      }
    km->has_ridge = true;
    km->fitted[oc_model_ridge] = true;
  }
  if ((v = json_object_get(o, "xgboost")) != NULL) {
    char xp[280];
    oc__strfmt(xp, sizeof xp, "%s.xgboost", path);
    if (!json_is_object(v)) return field_error(rd, xp, "must be an object");
    int64_t rounds = 0, depth = 0;
    const json_t *booster;
    st = get_int(rd, v, xp, "rounds", 1, 1000000, &rounds);
    if (st == oc_status_ok) st = get_int(rd, v, xp, "max_depth", 1, 64, &depth);
    if (st == oc_status_ok) st = get_num(rd, v, xp, "eta", &km->xgb_eta);
    if (st == oc_status_ok) st = get_member(rd, v, xp, "booster", JSON_OBJECT, &booster);
    if (st != oc_status_ok) return st;
    km->xgb_rounds = (int)rounds;
    km->xgb_max_depth = (int)depth;
    char bp[300];
    oc__strfmt(bp, sizeof bp, "%s: field '%s.booster'", rd->where, xp);
    st = oc__xgb_from_json(booster, bp, &km->booster);
    if (st != oc_status_ok) return st;
    km->booster_json = json_deep_copy(booster);
    const json_t *config = json_object_get(v, "config");
    if (json_is_object(config)) km->booster_config = json_deep_copy(config);
    km->fitted[oc_model_xgboost] = true;
  }
  if (km->chosen == oc_model_ridge && !km->has_ridge)
    return field_error(rd, path, "model is ridge but there is no 'ridge' object");
  if (km->chosen == oc_model_xgboost && km->booster == NULL)
    return field_error(rd, path, "model is xgboost but there is no 'xgboost' object");
  const json_t *cv = json_object_get(o, "cv");
  for (int t = 0; t < oc_model_type__count; t++) {
    const json_t *m =
        json_is_object(cv) ? json_object_get(cv, oc_model_type_name((enum oc_model_type)t)) : NULL;
    if (json_is_object(m))
      metrics_from_json(m, &km->cv[t]);
    else {
      metrics_from_json(json_null(), &km->cv[t]);
      if (t != (int)km->chosen) km->fitted[t] = false;
    }
  }
  return oc_status_ok;
}

static enum oc_status read_device(const struct reader *rd, const json_t *root,
                                  struct oc_model_device *d) {
  const json_t *o, *levels;
  int64_t threads = 0, simd = 0;
  enum oc_status st = get_member(rd, root, "", "device", JSON_OBJECT, &o);
  if (st == oc_status_ok)
    st = get_str(rd, o, "device", "fingerprint", d->fingerprint, sizeof d->fingerprint);
  if (st == oc_status_ok) st = get_str(rd, o, "device", "target", d->target, sizeof d->target);
  if (st == oc_status_ok) st = get_str(rd, o, "device", "name", d->name, sizeof d->name);
  if (st == oc_status_ok) st = get_str(rd, o, "device", "isa", d->isa, sizeof d->isa);
  if (st == oc_status_ok) st = get_int(rd, o, "device", "threads", 1, 1 << 16, &threads);
  if (st == oc_status_ok)
    st = get_str(rd, o, "device", "roofline_source", d->source, sizeof d->source);
  if (st == oc_status_ok) st = get_num(rd, o, "device", "peak_gflops", &d->peak_gflops);
  if (st == oc_status_ok) st = get_int(rd, o, "device", "simd_bytes", 1, 4096, &simd);
  if (st == oc_status_ok) st = get_member(rd, o, "device", "levels", JSON_ARRAY, &levels);
  if (st != oc_status_ok) return st;
  d->threads = (int32_t)threads;
  d->simd_bytes = (int32_t)simd;
  if (!(d->peak_gflops > 0)) return field_error(rd, "device.peak_gflops", "must be > 0");
  size_t n = json_array_size(levels);
  if (n < 1 || n > OC_MODEL_MAX_LEVELS)
    return field_error(rd, "device.levels", "must hold 1 to 4 levels");
  for (size_t i = 0; i < n; i++) {
    char lp[64];
    oc__strfmt(lp, sizeof lp, "device.levels[%zu]", i);
    const json_t *l = json_array_get(levels, i);
    if (!json_is_object(l)) return field_error(rd, lp, "must be an object");
    st = get_str(rd, l, lp, "name", d->levels[i].name, sizeof d->levels[i].name);
    if (st == oc_status_ok)
      st = get_int(rd, l, lp, "size_bytes", 0, INT64_MAX, &d->levels[i].size_bytes);
    if (st == oc_status_ok) st = get_num(rd, l, lp, "read_gbs", &d->levels[i].read_gbs);
    if (st != oc_status_ok) return st;
    if (!(d->levels[i].read_gbs > 0)) return field_error(rd, lp, "read_gbs must be > 0");
  }
  d->n_levels = (int)n;
  return oc_status_ok;
}

static enum oc_status read_composition(const struct reader *rd, const json_t *root,
                                       struct oc__composition *c) {
  const json_t *o;
  int64_t nets = 0;
  enum oc_status st = get_member(rd, root, "", "composition", JSON_OBJECT, &o);
  if (st == oc_status_ok) st = get_str(rd, o, "composition", "form", c->form, sizeof c->form);
  if (st == oc_status_ok) st = get_int(rd, o, "composition", "nets", 0, INT64_MAX, &nets);
  if (st == oc_status_ok) st = get_num(rd, o, "composition", "intercept_us", &c->intercept_us);
  if (st == oc_status_ok) st = get_num(rd, o, "composition", "sum_scale", &c->sum_scale);
  if (st == oc_status_ok) st = get_num(rd, o, "composition", "per_kernel_us", &c->per_kernel_us);
  if (st == oc_status_ok) st = get_num(rd, o, "composition", "per_act_mb_us", &c->per_act_mb_us);
  if (st != oc_status_ok) return st;
  c->nets = nets;
  static const char *const forms[] = {"identity", "ratio", "overhead", "full"};
  bool known = false;
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
    known |= strcmp(c->form, forms[i]) == 0;
  if (!known)
    return field_error(rd, "composition.form", "must be identity, ratio, overhead or full");
  const json_t *iv = json_object_get(o, "interval");
  if (json_is_object(iv)) {
    st = read_interval(rd, o, "composition", &c->log_lo, &c->log_hi);
    if (st != oc_status_ok) return st;
    c->has_interval = true;
  } else if (iv != NULL && !json_is_null(iv)) {
    return field_error(rd, "composition.interval", "must be an object or null");
  }
  const json_t *cv = json_object_get(o, "cv");
  if (json_is_object(cv)) {
    metrics_from_json(cv, &c->cv);
    c->has_cv = true;
  }
  return oc_status_ok;
}

enum oc_status oc_model_from_json(const json_t *root, const char *where, struct oc_model **out) {
  struct reader rd = {where != NULL ? where : "model"};
  struct oc_model *model = NULL;
  *out = NULL;
  if (!json_is_object(root))
    return oc__fail(oc_status_invalid_argument, "%s: not a JSON object", rd.where);
  const char *format = json_string_value(json_object_get(root, "format"));
  if (format == NULL) return field_error(&rd, "format", "missing (not an opcost model file)");
  if (strcmp(format, OC_MODEL_FORMAT) != 0)
    return oc__fail(oc_status_incompatible, "%s: field 'format': '%s', expected '%s'", rd.where,
                    format, OC_MODEL_FORMAT);
  enum oc_status st = oc__model_alloc(&model);
  if (st != oc_status_ok) return st;
  const json_t *kinds, *fb, *v;
  st = read_device(&rd, root, &model->device);
  if (st == oc_status_ok) st = get_num(&rd, root, "", "coverage", &model->coverage);
  if (st == oc_status_ok && !(model->coverage > 0 && model->coverage < 1))
    st = field_error(&rd, "coverage", "must be in (0, 1)");
  if (st == oc_status_ok) st = get_member(&rd, root, "", "kinds", JSON_OBJECT, &kinds);
  if (st == oc_status_ok) {
    const char *name;
    json_t *kv;
    json_object_foreach((json_t *)kinds, name, kv) {
      st = read_kind(&rd, name, kv, model);
      if (st != oc_status_ok) break;
    }
  }
  if (st == oc_status_ok) st = get_member(&rd, root, "", "fallback", JSON_OBJECT, &fb);
  if (st == oc_status_ok) st = read_roof(&rd, fb, "fallback", &model->fallback);
  if (st == oc_status_ok)
    st = read_interval(&rd, fb, "fallback", &model->fallback_log_lo, &model->fallback_log_hi);
  if (st == oc_status_ok)
    st = get_int(&rd, fb, "fallback", "rows", 0, INT64_MAX, &model->fallback_rows);
  if (st == oc_status_ok) {
    metrics_from_json(json_object_get(fb, "cv"), &model->fallback_cv);
    st = read_composition(&rd, root, &model->comp);
  }
  if (st != oc_status_ok) {
    oc_model_free(model);
    return st;
  }
  const char *created = json_string_value(json_object_get(root, "created_at"));
  if (created != NULL) oc__strcpy(model->created_at, sizeof model->created_at, created);
  if ((v = json_object_get(root, "training")) != NULL && json_is_object(v))
    model->training = json_deep_copy(v);
  if ((v = json_object_get(root, "validation")) != NULL && json_is_object(v))
    model->validation = json_deep_copy(v);
  *out = model;
  return oc_status_ok;
}

enum oc_status oc_model_load(const char *path, struct oc_model **model) {
  *model = NULL;
  FILE *f = fopen(path, "r");
  if (f == NULL) return oc__fail(oc_status_io_error, "%s: cannot open: %s", path, strerror(errno));
  json_error_t err;
  json_t *root = json_loadf(f, 0, &err);
  fclose(f);
  if (root == NULL)
    return oc__fail(oc_status_parse_error, "%s: line %d, column %d: %s", path, err.line, err.column,
                    err.text);
  enum oc_status st = oc_model_from_json(root, path, model);
  json_decref(root);
  return st;
}
