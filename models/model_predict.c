/* model_predict.c - predicting with a fitted or loaded model: one op, a
 * whole network (kernels, data moves, composition), the per-op cache that
 * makes a repeated prediction a hash lookup, and the checks of which device
 * and which kinds a model covers.
 *
 * The cache is keyed by the op's fields (struct oc_op compared whole), not
 * by its key string, so a hit costs no formatting. It is bounded: at
 * OC__CACHE_MAX entries it is emptied and refilled, so a long search over
 * many distinct kernels cannot grow it without end. One mutex per model
 * guards the cache and the XGBoost calls; predictions on one model from
 * several threads are serialised, which costs little when most are hits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "models/model_internal.h"

#define OC__CACHE_INITIAL 1024
#define OC__CACHE_MAX (1u << 20)

static const char *const type_names[] = {
#define TYPE_NAME(name) #name,
    OC_MODEL_TYPE_MAP(TYPE_NAME)
#undef TYPE_NAME
};

const char *oc_model_type_name(enum oc_model_type type) {
  return (int)type >= 0 && type < oc_model_type__count ? type_names[type] : "?";
}

enum oc_status oc_model_type_from_name(const char *name, enum oc_model_type *type) {
  for (int t = 0; t < oc_model_type__count; t++) {
    if (strcmp(name, type_names[t]) == 0) {
      *type = (enum oc_model_type)t;
      return oc_status_ok;
    }
  }
  return oc__fail(oc_status_not_found, "model type '%s': expected roofline, ridge or xgboost",
                  name);
}

void oc__kind_name(enum oc_op_kind kind, enum oc_dtype dtype, char *buf, size_t size) {
  oc__strfmt(buf, size, "%s.%s", oc_op_kind_name(kind), oc_dtype_name(dtype));
}

uint64_t oc__op_hash(const struct oc_op *op) {
  /* Word-wise mix of the fields (all 32-bit), cheaper than hashing bytes. */
  int32_t f[19] = {(int32_t)op->kind,
                   (int32_t)op->dtype,
                   op->h,
                   op->w,
                   op->c,
                   op->c2,
                   op->cin,
                   op->cout,
                   op->m,
                   op->n,
                   op->b,
                   op->k,
                   op->s,
                   op->g,
                   op->d,
                   op->tb,
                   op->bc,
                   (int32_t)op->act,
                   0};
  uint64_t h = UINT64_C(0x9e3779b97f4a7c15);
  for (size_t i = 0; i < 18; i++) {
    h ^= (uint64_t)(uint32_t)f[i];
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 32;
  }
  return h;
}

static bool op_equal(const struct oc_op *a, const struct oc_op *b) {
  return a->kind == b->kind && a->dtype == b->dtype && a->h == b->h && a->w == b->w &&
         a->c == b->c && a->c2 == b->c2 && a->cin == b->cin && a->cout == b->cout && a->m == b->m &&
         a->n == b->n && a->b == b->b && a->k == b->k && a->s == b->s && a->g == b->g &&
         a->d == b->d && a->tb == b->tb && a->bc == b->bc && a->act == b->act;
}

/* ---- op set ---- */

enum oc_status oc__opset_add(struct oc__opset *set, const struct oc_op *op) {
  if ((set->n + 1) * 2 > set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 256;
    struct oc_op *ops = calloc(cap, sizeof *ops);
    bool *used = calloc(cap, sizeof *used);
    if (ops == NULL || used == NULL) {
      free(ops);
      free(used);
      return oc__fail(oc_status_out_of_memory, "out of memory for a set of %zu ops", cap);
    }
    for (size_t i = 0; i < set->cap; i++) {
      if (!set->used[i]) continue;
      size_t j = (size_t)oc__op_hash(&set->ops[i]) & (cap - 1);
      while (used[j]) j = (j + 1) & (cap - 1);
      used[j] = true;
      ops[j] = set->ops[i];
    }
    free(set->ops);
    free(set->used);
    set->ops = ops;
    set->used = used;
    set->cap = cap;
  }
  size_t j = (size_t)oc__op_hash(op) & (set->cap - 1);
  while (set->used[j]) {
    if (op_equal(&set->ops[j], op)) return oc_status_ok;
    j = (j + 1) & (set->cap - 1);
  }
  set->used[j] = true;
  set->ops[j] = *op;
  set->n++;
  return oc_status_ok;
}

bool oc__opset_has(const struct oc__opset *set, const struct oc_op *op) {
  if (set->cap == 0) return false;
  size_t j = (size_t)oc__op_hash(op) & (set->cap - 1);
  while (set->used[j]) {
    if (op_equal(&set->ops[j], op)) return true;
    j = (j + 1) & (set->cap - 1);
  }
  return false;
}

void oc__opset_clear(struct oc__opset *set) {
  free(set->ops);
  free(set->used);
  memset(set, 0, sizeof *set);
}

/* ---- lifetime ---- */

enum oc_status oc__model_alloc(struct oc_model **out) {
  struct oc_model *model = calloc(1, sizeof *model);
  if (model == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for a model");
  if (pthread_mutex_init(&model->lock, NULL) != 0) {
    free(model);
    return oc__fail(oc_status_internal, "cannot create the model's lock");
  }
  model->coverage = 0.9;
  model->comp.sum_scale = 1;
  oc__strcpy(model->comp.form, sizeof model->comp.form, "identity");
  *out = model;
  return oc_status_ok;
}

void oc__kind_model_free(struct oc__kind_model *km) {
  if (km == NULL) return;
  oc_ridge_clear(&km->ridge);
  free(km->feature_min);
  free(km->feature_max);
  oc__xgb_free(km->booster);
  json_decref(km->booster_json);
  json_decref(km->booster_config);
  free(km);
}

void oc_model_free(struct oc_model *model) {
  if (model == NULL) return;
  for (int k = 0; k < oc_op_kind__count; k++)
    for (int d = 0; d < oc_dtype__count; d++) oc__kind_model_free(model->kinds[k][d]);
  json_decref(model->training);
  json_decref(model->validation);
  free(model->cache);
  pthread_mutex_destroy(&model->lock);
  free(model);
}

const struct oc_model_device *oc_model_get_device(const struct oc_model *model) {
  return &model->device;
}

double oc_model_coverage(const struct oc_model *model) { return model->coverage; }

const json_t *oc_model_validation(const struct oc_model *model) { return model->validation; }

void oc_model_kind_info(const struct oc_model *model, enum oc_op_kind kind, enum oc_dtype dtype,
                        struct oc_model_kind_info *info) {
  memset(info, 0, sizeof *info);
  info->cv_mape = NAN;
  if ((int)kind < 0 || kind >= oc_op_kind__count || (int)dtype < 0 || dtype >= oc_dtype__count)
    return;
  const struct oc__kind_model *km = model->kinds[kind][dtype];
  if (km == NULL) return;
  info->present = true;
  info->type = km->chosen;
  info->rows = km->rows;
  info->cv_mape = km->fitted[km->chosen] ? km->cv[km->chosen].mape : NAN;
}

enum oc_status oc_model_check_device(const struct oc_model *model, const char *fingerprint,
                                     int32_t threads, bool strict, bool *mismatch) {
  if (mismatch != NULL) *mismatch = false;
  bool fp_differs = fingerprint != NULL && fingerprint[0] != '\0' &&
                    strcmp(fingerprint, model->device.fingerprint) != 0;
  bool th_differs = threads > 0 && model->device.threads > 0 && threads != model->device.threads;
  if (!fp_differs && !th_differs) return oc_status_ok;
  if (mismatch != NULL) *mismatch = true;
  enum oc_status st = strict ? oc_status_incompatible : oc_status_ok;
  if (fp_differs)
    oc__fail(st, "model fitted on device %s (%s), used for device %s", model->device.fingerprint,
             model->device.name, fingerprint);
  else
    oc__fail(st, "model fitted for %d threads, used for %d", (int)model->device.threads,
             (int)threads);
  return st;
}

/* ---- cache ---- */

size_t oc_model_cache_size(const struct oc_model *model) { return model->cache_used; }

static void cache_clear_locked(struct oc_model *model) {
  if (model->cache != NULL) memset(model->cache, 0, model->cache_cap * sizeof *model->cache);
  model->cache_used = 0;
}

void oc_model_cache_clear(struct oc_model *model) {
  pthread_mutex_lock(&model->lock);
  cache_clear_locked(model);
  pthread_mutex_unlock(&model->lock);
}

static const struct oc_model_prediction *cache_find(const struct oc_model *model,
                                                    const struct oc_op *op, uint64_t h) {
  if (model->cache == NULL) return NULL;
  size_t mask = model->cache_cap - 1;
  for (size_t j = (size_t)h & mask;; j = (j + 1) & mask) {
    const struct oc__cache_entry *e = &model->cache[j];
    if (!e->used) return NULL;
    if (op_equal(&e->op, op)) return &e->pred;
  }
}

static void cache_put(struct oc_model *model, const struct oc_op *op, uint64_t h,
                      const struct oc_model_prediction *pred) {
  if ((model->cache_used + 1) * 2 > model->cache_cap) {
    if (model->cache_cap >= OC__CACHE_MAX) {
      cache_clear_locked(model);
    } else {
      size_t cap = model->cache_cap ? model->cache_cap * 2 : OC__CACHE_INITIAL;
      struct oc__cache_entry *c = calloc(cap, sizeof *c);
      if (c == NULL) return; /* no caching is slower, not wrong */
      for (size_t i = 0; i < model->cache_cap; i++) {
        if (!model->cache[i].used) continue;
        size_t j = (size_t)oc__op_hash(&model->cache[i].op) & (cap - 1);
        while (c[j].used) j = (j + 1) & (cap - 1);
        c[j] = model->cache[i];
      }
      free(model->cache);
      model->cache = c;
      model->cache_cap = cap;
    }
  }
  size_t mask = model->cache_cap - 1;
  size_t j = (size_t)h & mask;
  while (model->cache[j].used) j = (j + 1) & mask;
  model->cache[j].used = true;
  model->cache[j].op = *op;
  model->cache[j].pred = *pred;
  model->cache_used++;
}

/* ---- prediction ---- */

enum oc_status oc__kind_predict(const struct oc__kind_model *km, const double *x, double roof_us,
                                double *us) {
  switch (km->chosen) {
  case oc_model_ridge: *us = exp(oc_ridge_predict(&km->ridge, x)); return oc_status_ok;
  case oc_model_xgboost: {
    float xf[OC_MODEL_MAX_FEATURES];
    for (size_t j = 0; j < km->n_features; j++) xf[j] = (float)x[j];
    double v = 0;
    enum oc_status st = oc__xgb_predict(km->booster, xf, 1, km->n_features, &v);
    if (st != oc_status_ok) return st;
    *us = exp(v);
    return oc_status_ok;
  }
  case oc_model_roofline:
  default: *us = oc__roof_predict(&km->roof, roof_us); return oc_status_ok;
  }
}

bool oc__kind_extrapolates(const struct oc__kind_model *km, const double *x) {
  if (km->feature_min == NULL || km->feature_max == NULL) return false;
  for (size_t j = 0; j < km->n_features; j++) {
    double lo = km->feature_min[j], hi = km->feature_max[j];
    double tol = hi > lo ? 0.1 * (hi - lo) : 1e-9 * (fabs(lo) + 1);
    if (x[j] < lo - tol || x[j] > hi + tol) return true;
  }
  return false;
}

/* Predicts op (from the cache when it can). With `deferred` non-NULL, a
 * miss that needs XGBoost is not predicted: *deferred is set so that the
 * caller can batch every such miss of a network into one XGBoost call. */
static enum oc_status predict_locked(struct oc_model *model, const struct oc_op *op,
                                     struct oc_model_prediction *pred, bool *deferred) {
  uint64_t h = oc__op_hash(op);
  const struct oc_model_prediction *hit = cache_find(model, op, h);
  if (hit != NULL) {
    *pred = *hit;
    return oc_status_ok;
  }
  const struct oc__kind_model *km = model->kinds[op->kind][op->dtype];
  if (deferred != NULL && km != NULL && km->chosen == oc_model_xgboost) {
    *deferred = true;
    return oc_status_ok;
  }
  enum oc_status st = oc_op_validate(op);
  if (st != oc_status_ok) return st;
  double roof = oc_model_roofline_us(&model->device, op);
  memset(pred, 0, sizeof *pred);
  if (km != NULL) {
    double x[OC_MODEL_MAX_FEATURES];
    st = oc_model_features(&model->device, op, x);
    if (st != oc_status_ok) return st;
    if (km->chosen != oc_model_roofline && oc__kind_extrapolates(km, x)) {
      pred->us = oc__roof_predict(&km->roof, roof);
      pred->type = oc_model_roofline;
      pred->flags = oc_model_pred_extrapolated;
      pred->lo_us = pred->us * exp(km->roof_log_lo);
      pred->hi_us = pred->us * exp(km->roof_log_hi);
    } else {
      st = oc__kind_predict(km, x, roof, &pred->us);
      if (st != oc_status_ok) return st;
      pred->type = km->chosen;
      pred->lo_us = pred->us * exp(km->log_lo);
      pred->hi_us = pred->us * exp(km->log_hi);
    }
  } else {
    pred->us = oc__roof_predict(&model->fallback, roof);
    pred->type = oc_model_roofline;
    pred->flags = oc_model_pred_fallback;
    pred->lo_us = pred->us * exp(model->fallback_log_lo);
    pred->hi_us = pred->us * exp(model->fallback_log_hi);
  }
  cache_put(model, op, h, pred);
  return oc_status_ok;
}

enum oc_status oc_model_predict_op(struct oc_model *model, const struct oc_op *op,
                                   struct oc_model_prediction *pred) {
  if (model == NULL || op == NULL || pred == NULL)
    return oc__fail(oc_status_invalid_argument, "predict: NULL argument");
  if ((int)op->kind < 0 || op->kind >= oc_op_kind__count || (int)op->dtype < 0 ||
      op->dtype >= oc_dtype__count)
    return oc__fail(oc_status_invalid_argument, "predict: op kind %d / dtype %d out of range",
                    (int)op->kind, (int)op->dtype);
  pthread_mutex_lock(&model->lock);
  enum oc_status st = predict_locked(model, op, pred, NULL);
  pthread_mutex_unlock(&model->lock);
  return st;
}

double oc__compose(const struct oc__composition *c, double sum_us, double kernels,
                   double act_bytes) {
  double y = c->intercept_us + c->sum_scale * sum_us + c->per_kernel_us * kernels +
             c->per_act_mb_us * act_bytes / 1e6;
  /* A linear correction extrapolated far outside its networks could go
   * negative; it is never allowed below a tenth of the kernel sum. */
  double floor_us = 0.1 * sum_us > 1e-6 ? 0.1 * sum_us : 1e-6;
  return y > floor_us ? y : floor_us;
}

static void note_missing(struct oc_model_net_prediction *pred, const struct oc_op *op,
                         bool seen[oc_op_kind__count][oc_dtype__count]) {
  if (seen[op->kind][op->dtype]) return;
  seen[op->kind][op->dtype] = true;
  if (pred->n_missing < OC_MODEL_MAX_MISSING)
    oc__kind_name(op->kind, op->dtype, pred->missing[pred->n_missing++], sizeof pred->missing[0]);
}

/* Every XGBoost miss of a network, predicted with one call per kind (one
 * DMatrix per call is what a prediction costs; per kernel it would be paid
 * once per kernel). Misses outside the training range are left to
 * predict_locked, which gives them to the kind's roofline. */
struct pending {
  struct oc_op op;
  float x[OC_MODEL_MAX_FEATURES];
  bool done;
};

static enum oc_status predict_boosted_misses(struct oc_model *model, const struct oc_net *net) {
  struct pending *pend = malloc((size_t)net->n_kernels * sizeof *pend);
  float *xs = malloc((size_t)net->n_kernels * OC_MODEL_MAX_FEATURES * sizeof *xs);
  double *ys = malloc((size_t)net->n_kernels * sizeof *ys);
  enum oc_status st = oc_status_ok;
  size_t n = 0;
  if (pend == NULL || xs == NULL || ys == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory predicting '%s'", net->name);
    goto done;
  }
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_op) continue;
    const struct oc__kind_model *km = model->kinds[k->op.kind][k->op.dtype];
    if (km == NULL || km->chosen != oc_model_xgboost) continue;
    if (cache_find(model, &k->op, oc__op_hash(&k->op)) != NULL) continue;
    bool dup = false;
    for (size_t j = 0; j < n && !dup; j++) dup = op_equal(&pend[j].op, &k->op);
    if (dup) continue;
    double x[OC_MODEL_MAX_FEATURES];
    st = oc_op_validate(&k->op);
    if (st == oc_status_ok) st = oc_model_features(&model->device, &k->op, x);
    if (st != oc_status_ok) {
      char key[OC_KEY_MAX] = "";
      oc_op_format(&k->op, key, sizeof key);
      oc__fail_prefix(st, "network '%s': kernel %d (%s): ", net->name, (int)i, key);
      goto done;
    }
    if (oc__kind_extrapolates(km, x)) continue;
    pend[n].op = k->op;
    pend[n].done = false;
    for (size_t j = 0; j < km->n_features; j++) pend[n].x[j] = (float)x[j];
    n++;
  }
  for (size_t a = 0; a < n; a++) {
    if (pend[a].done) continue;
    const struct oc__kind_model *km = model->kinds[pend[a].op.kind][pend[a].op.dtype];
    size_t p = km->n_features, m = 0;
    for (size_t b = a; b < n; b++) {
      if (pend[b].done || pend[b].op.kind != pend[a].op.kind ||
          pend[b].op.dtype != pend[a].op.dtype)
        continue;
      memcpy(xs + m * p, pend[b].x, p * sizeof *xs);
      m++;
    }
    st = oc__xgb_predict(km->booster, xs, m, p, ys);
    if (st != oc_status_ok) goto done;
    size_t r = 0;
    for (size_t b = a; b < n; b++) {
      if (pend[b].done || pend[b].op.kind != pend[a].op.kind ||
          pend[b].op.dtype != pend[a].op.dtype)
        continue;
      struct oc_model_prediction pr;
      memset(&pr, 0, sizeof pr);
      pr.us = exp(ys[r++]);
      pr.type = oc_model_xgboost;
      pr.lo_us = pr.us * exp(km->log_lo);
      pr.hi_us = pr.us * exp(km->log_hi);
      cache_put(model, &pend[b].op, oc__op_hash(&pend[b].op), &pr);
      pend[b].done = true;
    }
  }
done:
  free(pend);
  free(xs);
  free(ys);
  return st;
}

enum oc_status oc_model_predict_net(struct oc_model *model, const struct oc_net *net,
                                    struct oc_model_prediction *per_kernel,
                                    struct oc_model_net_prediction *pred) {
  if (model == NULL || net == NULL || pred == NULL)
    return oc__fail(oc_status_invalid_argument, "predict: NULL argument");
  memset(pred, 0, sizeof *pred);
  enum oc_status st = oc_status_ok;
  bool seen[oc_op_kind__count][oc_dtype__count];
  bool batched = false;
  memset(seen, 0, sizeof seen);
  pthread_mutex_lock(&model->lock);
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    struct oc_model_prediction p;
    if (k->step == oc_net_step_op) {
      bool deferred = false;
      st = predict_locked(model, &k->op, &p, batched ? NULL : &deferred);
      if (st == oc_status_ok && deferred) {
        st = predict_boosted_misses(model, net);
        batched = true;
        if (st != oc_status_ok) break;
        st = predict_locked(model, &k->op, &p, NULL);
      }
      if (st != oc_status_ok) {
        char key[OC_KEY_MAX] = "";
        oc_op_format(&k->op, key, sizeof key);
        oc__fail_prefix(st, "network '%s': kernel %d (%s): ", net->name, (int)i, key);
        break;
      }
      if (p.flags & oc_model_pred_fallback) {
        pred->n_fallback++;
        note_missing(pred, &k->op, seen);
      }
      if (p.flags & oc_model_pred_extrapolated) pred->n_extrapolated++;
    } else {
      /* A data move reads its inputs and writes its output once. */
      int64_t bytes = net->tensors[k->output].bytes;
      for (int32_t j = 0; j < k->n_inputs; j++) bytes += net->tensors[k->input[j]].bytes;
      memset(&p, 0, sizeof p);
      p.us = oc__roof_predict(&model->fallback, oc_model_move_us(&model->device, bytes));
      p.type = oc_model_roofline;
      p.flags = oc_model_pred_move;
      p.lo_us = p.us * exp(model->fallback_log_lo);
      p.hi_us = p.us * exp(model->fallback_log_hi);
      pred->n_moves++;
    }
    if (per_kernel != NULL) per_kernel[i] = p;
    pred->kernel_sum_us += p.us;
    pred->kernel_lo_sum_us += p.lo_us;
    pred->kernel_hi_sum_us += p.hi_us;
  }
  pthread_mutex_unlock(&model->lock);
  if (st != oc_status_ok) return st;
  pred->n_kernels = net->n_kernels;
  const struct oc__composition *c = &model->comp;
  int64_t act = net->cost.activation_bytes;
  pred->us = oc__compose(c, pred->kernel_sum_us, net->n_kernels, (double)act);
  if (c->has_interval) {
    pred->lo_us = pred->us * exp(c->log_lo);
    pred->hi_us = pred->us * exp(c->log_hi);
  } else {
    /* Kernel bounds summed: every kernel at its own bound at once, a
     * conservative interval for the network. */
    pred->lo_us = oc__compose(c, pred->kernel_lo_sum_us, net->n_kernels, (double)act);
    pred->hi_us = oc__compose(c, pred->kernel_hi_sum_us, net->n_kernels, (double)act);
    if (pred->lo_us > pred->us) pred->lo_us = pred->us;
    if (pred->hi_us < pred->us) pred->hi_us = pred->us;
  }
  return oc_status_ok;
}

enum oc_status oc_model_eval_nets(struct oc_model *model, const struct oc_model_netset *nets,
                                  double *pred, double *lo, double *hi,
                                  struct oc_model_metrics *metrics) {
  if (nets == NULL || nets->n == 0)
    return oc__fail(oc_status_invalid_argument, "eval: no measured networks");
  enum oc_status st = oc_status_ok;
  double *meas = malloc(nets->n * sizeof *meas);
  double *l = malloc(nets->n * sizeof *l), *h = malloc(nets->n * sizeof *h);
  if (meas == NULL || l == NULL || h == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for %zu networks", nets->n);
    goto done;
  }
  for (size_t i = 0; i < nets->n; i++) {
    struct oc_model_net_prediction np;
    st = oc_model_predict_net(model, nets->items[i].net, NULL, &np);
    if (st != oc_status_ok) goto done;
    pred[i] = np.us;
    l[i] = np.lo_us;
    h[i] = np.hi_us;
    if (lo != NULL) lo[i] = np.lo_us;
    if (hi != NULL) hi[i] = np.hi_us;
    meas[i] = nets->items[i].measured_us;
  }
  st = oc_model_metrics_compute(pred, meas, l, h, nets->n, metrics);
done:
  free(meas);
  free(l);
  free(h);
  return st;
}
