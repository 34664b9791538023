/* model_fit.c - fitting a cost model: per (kind, dtype) the roofline, ridge
 * and XGBoost candidates in log space of latency, each cross-validated on
 * the same folds; the one with the lowest out-of-fold MAPE is kept, and its
 * out-of-fold residuals give the split-conformal prediction interval. A
 * roofline pooled over every row predicts kinds the model never saw. Then
 * the composition terms that turn a sum of kernel predictions into a network
 * latency are fitted on networks measured end to end.
 *
 * Everything is deterministic for a given seed: fold shuffles come from
 * core's xoshiro generator and XGBoost is seeded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "models/model_internal.h"

void oc_model_fit_opts_default(struct oc_model_fit_opts *opts) {
  memset(opts, 0, sizeof *opts);
  opts->folds = 5;
  opts->seed = 1;
  opts->coverage = 0.9;
  opts->use_ridge = true;
  opts->use_xgboost = true;
  opts->xgb_max_rounds = 400;
  opts->xgb_max_depth = 6;
  opts->xgb_eta = 0.1;
  opts->xgb_threads = 1;
}

static enum oc_status check_opts(const struct oc_model_fit_opts *o) {
  if (o->folds < 2 || o->folds > 20)
    return oc__fail(oc_status_invalid_argument, "fit options: folds %d must be in 2..20", o->folds);
  if (!(o->coverage > 0 && o->coverage < 1))
    return oc__fail(oc_status_invalid_argument, "fit options: coverage %g must be in (0, 1)",
                    o->coverage);
  if (o->xgb_max_rounds < 1 || o->xgb_max_rounds > 100000)
    return oc__fail(oc_status_invalid_argument,
                    "fit options: xgb_max_rounds %d must be in "
                    "1..100000",
                    o->xgb_max_rounds);
  if (o->xgb_max_depth < 1 || o->xgb_max_depth > 20)
    return oc__fail(oc_status_invalid_argument, "fit options: xgb_max_depth %d must be in 1..20",
                    o->xgb_max_depth);
  if (!(o->xgb_eta > 0 && o->xgb_eta <= 1))
    return oc__fail(oc_status_invalid_argument, "fit options: xgb_eta %g must be in (0, 1]",
                    o->xgb_eta);
  return oc_status_ok;
}

enum oc_status oc__model_folds(size_t n, int k, uint64_t seed, int *fold) {
  if (k < 1) return oc__fail(oc_status_invalid_argument, "folds: k=%d must be >= 1", k);
  size_t *perm = malloc((n ? n : 1) * sizeof *perm);
  if (perm == NULL) return oc__fail(oc_status_out_of_memory, "folds: out of memory");
  struct oc__rng rng;
  oc__rng_seed(&rng, seed);
  for (size_t i = 0; i < n; i++) perm[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)oc__rng_below(&rng, i);
    size_t t = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = t;
  }
  for (size_t i = 0; i < n; i++) fold[perm[i]] = (int)(i % (size_t)k);
  free(perm);
  return oc_status_ok;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

void oc__conformal(const double *log_resid, size_t n, double coverage, double *lo, double *hi) {
  *lo = 0;
  *hi = 0;
  if (n == 0) return;
  double *v = malloc(n * sizeof *v);
  if (v == NULL) return;
  memcpy(v, log_resid, n * sizeof *v);
  qsort(v, n, sizeof *v, cmp_double);
  /* Split-conformal ranks: the ceil((n+1)(1 - a/2))-th smallest residual
   * bounds from above with probability >= 1 - a/2 for exchangeable data;
   * with too few residuals the extremes are the best available bound. */
  double a = (1 - coverage) / 2;
  double khi = ceil((double)(n + 1) * (1 - a));
  double klo = floor((double)(n + 1) * a);
  size_t ihi = khi >= (double)n ? n - 1 : (size_t)khi - 1;
  size_t ilo = klo < 1 ? 0 : (size_t)klo - 1;
  *lo = v[ilo] < 0 ? v[ilo] : 0;
  *hi = v[ihi] > 0 ? v[ihi] : 0;
  free(v);
}

/* ---- roofline candidate ---- */

void oc__roof_fit(const double *roof_us, const double *y_us, size_t n, struct oc__roof *roof) {
  /* Minimises sum ((y - c0 - c1 r) / y)^2: rows [1/y, r/y] against 1. */
  double s11 = 0, s12 = 0, s22 = 0, t1 = 0, t2 = 0;
  for (size_t i = 0; i < n; i++) {
    double a = 1 / y_us[i], b = roof_us[i] / y_us[i];
    s11 += a * a;
    s12 += a * b;
    s22 += b * b;
    t1 += a;
    t2 += b;
  }
  struct oc__roof cand[3];
  int nc = 0;
  double det = s11 * s22 - s12 * s12;
  if (det > 1e-12 * s11 * s22) {
    double c0 = (t1 * s22 - t2 * s12) / det, c1 = (s11 * t2 - s12 * t1) / det;
    if (c0 >= 0 && c1 >= 0) cand[nc++] = (struct oc__roof){c1, c0};
  }
  if (s22 > 0) cand[nc++] = (struct oc__roof){t2 / s22, 0}; /* scale only */
  if (s11 > 0) cand[nc++] = (struct oc__roof){0, t1 / s11}; /* constant only */
  double best = INFINITY;
  roof->scale = 1;
  roof->overhead_us = 0;
  for (int c = 0; c < nc; c++) {
    double obj = 0;
    for (size_t i = 0; i < n; i++) {
      double e = 1 - (cand[c].overhead_us + cand[c].scale * roof_us[i]) / y_us[i];
      obj += e * e;
    }
    if (obj < best) {
      best = obj;
      *roof = cand[c];
    }
  }
}

double oc__roof_predict(const struct oc__roof *roof, double roof_us) {
  double v = roof->overhead_us + roof->scale * roof_us;
  return v > 1e-6 ? v : 1e-6;
}

static const double ridge_lambdas[] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};
#define N_LAMBDAS (sizeof ridge_lambdas / sizeof ridge_lambdas[0])

/* Work arrays of one kind's fit. */
struct kind_fit {
  size_t n, p;
  int k;
  double *x, *y, *y_us, *roof;
  float *xf, *yf;
  int *fold;
  double *oof[oc_model_type__count]; /* log space */
  double *tmp_us, *tmp_pred;
};

static void kind_fit_free(struct kind_fit *f) {
  free(f->x);
  free(f->y);
  free(f->y_us);
  free(f->roof);
  free(f->xf);
  free(f->yf);
  free(f->fold);
  for (int t = 0; t < oc_model_type__count; t++) free(f->oof[t]);
  free(f->tmp_us);
  free(f->tmp_pred);
}

static enum oc_status candidate_metrics(struct kind_fit *f, const double *oof_log,
                                        struct oc_model_metrics *m) {
  for (size_t i = 0; i < f->n; i++) f->tmp_pred[i] = exp(oof_log[i]);
  return oc_model_metrics_compute(f->tmp_pred, f->y_us, NULL, NULL, f->n, m);
}

static enum oc_status fit_roofline(struct kind_fit *f, struct oc__kind_model *km) {
  double *r = f->tmp_us;
  double *yy = f->tmp_pred;
  for (int fo = 0; fo < f->k; fo++) {
    size_t m = 0;
    for (size_t i = 0; i < f->n; i++) {
      if (f->fold[i] == fo) continue;
      r[m] = f->roof[i];
      yy[m++] = f->y_us[i];
    }
    struct oc__roof rf;
    oc__roof_fit(r, yy, m, &rf);
    for (size_t i = 0; i < f->n; i++)
      if (f->fold[i] == fo) f->oof[oc_model_roofline][i] = log(oc__roof_predict(&rf, f->roof[i]));
  }
  oc__roof_fit(f->roof, f->y_us, f->n, &km->roof);
  km->fitted[oc_model_roofline] = true;
  return candidate_metrics(f, f->oof[oc_model_roofline], &km->cv[oc_model_roofline]);
}

static enum oc_status fit_ridge(struct kind_fit *f, struct oc__kind_model *km, uint64_t seed) {
  double rmse[N_LAMBDAS];
  size_t best = 0;
  enum oc_status st =
      oc_ridge_cv(f->x, f->y, NULL, f->n, f->p, ridge_lambdas, N_LAMBDAS, f->k, seed, rmse, &best);
  if (st == oc_status_ok)
    st = oc__ridge_oof(f->x, f->y, NULL, f->n, f->p, ridge_lambdas[best], f->fold, f->k,
                       f->oof[oc_model_ridge]);
  if (st == oc_status_ok)
    st = oc_ridge_fit(f->x, f->y, NULL, f->n, f->p, ridge_lambdas[best], &km->ridge);
  if (st == oc_status_internal) { /* singular everywhere: not a candidate */
    oc_errclear();
    return oc_status_ok;
  }
  if (st != oc_status_ok) return st;
  km->has_ridge = true;
  km->fitted[oc_model_ridge] = true;
  return candidate_metrics(f, f->oof[oc_model_ridge], &km->cv[oc_model_ridge]);
}

static enum oc_status fit_xgboost(struct kind_fit *f, struct oc__kind_model *km,
                                  const struct oc_model_fit_opts *opts, uint64_t seed) {
  struct oc__xgb_params params = {opts->xgb_max_rounds, opts->xgb_max_depth, opts->xgb_threads,
                                  opts->xgb_eta, seed};
  int rounds = 0;
  enum oc_status st = oc__xgb_cv(f->xf, f->yf, f->n, f->p, f->fold, f->k, &params, &rounds,
                                 f->oof[oc_model_xgboost]);
  if (st == oc_status_ok)
    st = oc__xgb_train(f->xf, f->yf, f->n, f->p, &params, rounds, &km->booster);
  if (st != oc_status_ok) return st;
  km->xgb_rounds = rounds;
  km->xgb_max_depth = opts->xgb_max_depth;
  km->xgb_eta = opts->xgb_eta;
  km->fitted[oc_model_xgboost] = true;
  return candidate_metrics(f, f->oof[oc_model_xgboost], &km->cv[oc_model_xgboost]);
}

/* Fits one (kind, dtype) group of rows (idx into data). oof_us gets the
 * chosen candidate's out-of-fold prediction of each row, in idx order. */
static enum oc_status fit_kind(struct oc_model *model, const struct oc_model_data *data,
                               const size_t *idx, size_t n, const struct oc_model_fit_opts *opts,
                               double *oof_us, double *oof_lo, double *oof_hi) {
  const struct oc_op *op0 = &data->samples[idx[0]].op;
  struct kind_fit f;
  memset(&f, 0, sizeof f);
  struct oc__kind_model *km = calloc(1, sizeof *km);
  enum oc_status st = oc_status_ok;
  if (km == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for a kind model");
  km->kind = op0->kind;
  km->dtype = op0->dtype;
  km->rows = (int64_t)n;
  f.n = n;
  f.p = oc_model_feature_count(op0->kind);
  f.k = opts->folds < (int)n ? opts->folds : (int)n;
  km->n_features = f.p;
  f.x = malloc(n * f.p * sizeof *f.x);
  f.y = malloc(n * sizeof *f.y);
  f.y_us = malloc(n * sizeof *f.y_us);
  f.roof = malloc(n * sizeof *f.roof);
  f.xf = malloc(n * f.p * sizeof *f.xf);
  f.yf = malloc(n * sizeof *f.yf);
  f.fold = malloc(n * sizeof *f.fold);
  f.tmp_us = malloc(n * sizeof *f.tmp_us);
  f.tmp_pred = malloc(n * sizeof *f.tmp_pred);
  bool ok = f.x && f.y && f.y_us && f.roof && f.xf && f.yf && f.fold && f.tmp_us && f.tmp_pred;
  for (int t = 0; t < oc_model_type__count; t++) {
    f.oof[t] = calloc(n, sizeof *f.oof[t]);
    ok = ok && f.oof[t] != NULL;
  }
  if (!ok) {
    st = oc__fail(oc_status_out_of_memory, "out of memory fitting %zu rows", n);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    const struct oc_model_sample *s = &data->samples[idx[i]];
    st = oc_model_features(&model->device, &s->op, f.x + i * f.p);
    if (st != oc_status_ok) goto done;
    for (size_t j = 0; j < f.p; j++) f.xf[i * f.p + j] = (float)f.x[i * f.p + j];
    f.y_us[i] = s->median_us;
    f.y[i] = log(s->median_us);
    f.yf[i] = (float)f.y[i];
    f.roof[i] = oc_model_roofline_us(&model->device, &s->op);
  }
  uint64_t seed = opts->seed ^ ((uint64_t)km->kind << 32) ^ ((uint64_t)km->dtype << 40);
  st = oc__model_folds(n, f.k, seed, f.fold);
  if (st == oc_status_ok) st = fit_roofline(&f, km);
  if (st == oc_status_ok && opts->use_ridge && n >= OC_MODEL_MIN_RIDGE_ROWS)
    st = fit_ridge(&f, km, seed);
  if (st == oc_status_ok && opts->use_xgboost && n >= OC_MODEL_MIN_XGBOOST_ROWS)
    st = fit_xgboost(&f, km, opts, seed);
  if (st != oc_status_ok) goto done;
  /* Lowest cross-validated MAPE wins; on a tie the simpler candidate. */
  km->chosen = oc_model_roofline;
  for (int t = 1; t < oc_model_type__count; t++)
    if (km->fitted[t] && km->cv[t].mape < km->cv[km->chosen].mape)
      km->chosen = (enum oc_model_type)t;
  if (km->chosen != oc_model_xgboost) {
    oc__xgb_free(km->booster);
    km->booster = NULL;
  } else {
    st = oc__xgb_to_json(km->booster, &km->booster_json);
    if (st == oc_status_ok) st = oc__xgb_config_json(km->booster, &km->booster_config);
    if (st != oc_status_ok) goto done;
  }
  km->feature_min = malloc(f.p * sizeof *km->feature_min);
  km->feature_max = malloc(f.p * sizeof *km->feature_max);
  if (km->feature_min == NULL || km->feature_max == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for feature ranges");
    goto done;
  }
  for (size_t j = 0; j < f.p; j++) {
    km->feature_min[j] = km->feature_max[j] = f.x[j];
    for (size_t i = 1; i < n; i++) {
      double v = f.x[i * f.p + j];
      if (v < km->feature_min[j]) km->feature_min[j] = v;
      if (v > km->feature_max[j]) km->feature_max[j] = v;
    }
  }
  for (size_t i = 0; i < n; i++) f.tmp_us[i] = f.y[i] - f.oof[oc_model_roofline][i];
  oc__conformal(f.tmp_us, n, opts->coverage, &km->roof_log_lo, &km->roof_log_hi);
  const double *oof = f.oof[km->chosen];
  for (size_t i = 0; i < n; i++) f.tmp_us[i] = f.y[i] - oof[i];
  oc__conformal(f.tmp_us, n, opts->coverage, &km->log_lo, &km->log_hi);
  for (size_t i = 0; i < n; i++) {
    oof_us[i] = exp(oof[i]);
    oof_lo[i] = oof_us[i] * exp(km->log_lo);
    oof_hi[i] = oof_us[i] * exp(km->log_hi);
  }
  model->kinds[km->kind][km->dtype] = km;
  km = NULL;
done:
  oc__kind_model_free(km);
  kind_fit_free(&f);
  return st;
}

/* The pooled roofline every unseen kind falls back on, cross-validated. */
static enum oc_status fit_fallback(struct oc_model *model, const struct oc_model_data *data,
                                   const struct oc_model_fit_opts *opts) {
  size_t n = data->n;
  enum oc_status st = oc_status_ok;
  double *roof = malloc(n * sizeof *roof), *y = malloc(n * sizeof *y);
  double *r2 = malloc(n * sizeof *r2), *y2 = malloc(n * sizeof *y2);
  double *pred = malloc(n * sizeof *pred), *resid = malloc(n * sizeof *resid);
  int *fold = malloc(n * sizeof *fold);
  if (!roof || !y || !r2 || !y2 || !pred || !resid || !fold) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for the fallback model");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    roof[i] = oc_model_roofline_us(&model->device, &data->samples[i].op);
    y[i] = data->samples[i].median_us;
  }
  st = oc__model_folds(n, opts->folds, opts->seed, fold);
  if (st != oc_status_ok) goto done;
  for (int fo = 0; fo < opts->folds; fo++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
      if (fold[i] == fo) continue;
      r2[m] = roof[i];
      y2[m++] = y[i];
    }
    struct oc__roof rf;
    oc__roof_fit(r2, y2, m, &rf);
    for (size_t i = 0; i < n; i++)
      if (fold[i] == fo) pred[i] = oc__roof_predict(&rf, roof[i]);
  }
  for (size_t i = 0; i < n; i++) resid[i] = log(y[i] / pred[i]);
  oc__conformal(resid, n, opts->coverage, &model->fallback_log_lo, &model->fallback_log_hi);
  st = oc_model_metrics_compute(pred, y, NULL, NULL, n, &model->fallback_cv);
  if (st != oc_status_ok) goto done;
  oc__roof_fit(roof, y, n, &model->fallback);
  model->fallback_rows = (int64_t)n;
done:
  free(roof);
  free(y);
  free(r2);
  free(y2);
  free(pred);
  free(resid);
  free(fold);
  return st;
}

/* ---- composition ---- */

static const double comp_lambdas[] = {1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1};
#define N_COMP_LAMBDAS (sizeof comp_lambdas / sizeof comp_lambdas[0])

/* The composition forms, simplest first: ratio (y = c S), overhead
 * (y = a + c S) and full (y = a + c S + k K + m A). */
enum comp_form { comp_ratio, comp_overhead, comp_full, comp__count };
static const char *const comp_names[comp__count] = {"ratio", "overhead", "full"};
static const size_t comp_min_nets[comp__count] = {1, OC_MODEL_MIN_NETS_OVERHEAD,
                                                  OC_MODEL_MIN_NETS_FULL};

/* Networks' terms: S (kernel sum), K (kernels), A (activation MB). */
struct comp_data {
  size_t n;
  double *s, *k, *a, *y, *w;
};

/* Fits one form on the rows with use[i] (all when NULL); y = S + correction,
 * the ridge shrinking the correction towards the plain sum, weights 1/y^2
 * (relative error). */
static enum oc_status comp_fit(const struct comp_data *d, const bool *use, enum comp_form form,
                               uint64_t seed, int folds, struct oc__composition *c) {
  enum oc_status st = oc_status_ok;
  size_t p = form == comp_full ? 3 : 1, m = 0;
  double *x = malloc(d->n * 3 * sizeof *x), *z = malloc(d->n * sizeof *z);
  double *w = malloc(d->n * sizeof *w);
  struct oc_ridge r;
  memset(&r, 0, sizeof r);
  if (x == NULL || z == NULL || w == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for the composition fit");
    goto done;
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < d->n; i++) {
    if (use != NULL && !use[i]) continue;
    x[m * p] = d->s[i];
    if (p == 3) {
      x[m * p + 1] = d->k[i];
      x[m * p + 2] = d->a[i];
    }
    z[m] = d->y[i] - d->s[i];
    w[m] = d->w[i];
    num += d->s[i] / d->y[i];
    den += d->s[i] * d->s[i] / (d->y[i] * d->y[i]);
    m++;
  }
  oc__strcpy(c->form, sizeof c->form, comp_names[form]);
  c->intercept_us = c->per_kernel_us = c->per_act_mb_us = 0;
  c->sum_scale = 1;
  if (form == comp_ratio) {
    /* c = argmin sum ((y - c S) / y)^2 */
    if (den > 0) c->sum_scale = num / den;
    goto done;
  }
  size_t best = 0;
  int k = folds < (int)m ? folds : (int)m;
  if (k >= 2) {
    double rmse[N_COMP_LAMBDAS];
    st = oc_ridge_cv(x, z, w, m, p, comp_lambdas, N_COMP_LAMBDAS, k, seed, rmse, &best);
    if (st != oc_status_ok) goto done;
  }
  st = oc_ridge_fit(x, z, w, m, p, comp_lambdas[best], &r);
  if (st != oc_status_ok) goto done;
  double raw[3] = {0, 0, 0};
  double intercept = r.intercept;
  for (size_t j = 0; j < p; j++) {
    raw[j] = r.coef[j] / r.scale[j];
    intercept -= raw[j] * r.mean[j];
  }
  c->intercept_us = intercept;
  c->sum_scale = 1 + raw[0];
  c->per_kernel_us = raw[1];
  c->per_act_mb_us = raw[2];
done:
  oc_ridge_clear(&r);
  free(x);
  free(z);
  free(w);
  return st;
}

/* Each form the networks allow is cross-validated on the same folds; the
 * lowest out-of-fold MAPE is kept (on a tie the simpler form) and refitted
 * on every network. */
static enum oc_status fit_composition(struct oc_model *model, const struct oc_model_netset *nets,
                                      const struct oc_model_fit_opts *opts, json_t *net_rows,
                                      json_t *forms_cv) {
  size_t n = nets->n;
  struct oc__composition *c = &model->comp;
  enum oc_status st = oc_status_ok;
  struct comp_data d = {n,
                        malloc(n * sizeof(double)),
                        malloc(n * sizeof(double)),
                        malloc(n * sizeof(double)),
                        malloc(n * sizeof(double)),
                        malloc(n * sizeof(double))};
  double *oof = malloc(comp__count * n * sizeof *oof), *resid = malloc(n * sizeof *resid);
  int *fold = malloc(n * sizeof *fold);
  bool *use = malloc(n * sizeof *use);
  if (!d.s || !d.k || !d.a || !d.y || !d.w || !oof || !resid || !fold || !use) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for the composition fit");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    struct oc_model_net_prediction np;
    st = oc_model_predict_net(model, nets->items[i].net, NULL, &np);
    if (st != oc_status_ok) {
      oc__fail_prefix(st, "network '%s': ", nets->items[i].name);
      goto done;
    }
    d.s[i] = np.kernel_sum_us;
    d.k[i] = np.n_kernels;
    d.a[i] = (double)nets->items[i].net->cost.activation_bytes / 1e6;
    d.y[i] = nets->items[i].measured_us;
    d.w[i] = 1 / (d.y[i] * d.y[i]);
    json_array_append_new(
        net_rows, json_pack("{s:s, s:s, s:s, s:f, s:f}", "name", nets->items[i].name, "hash",
                            nets->items[i].net->hash_hex, "family", nets->items[i].family,
                            "measured_us", d.y[i], "kernel_sum_us", d.s[i]));
  }
  c->nets = (int64_t)n;
  int k = opts->folds < (int)n ? opts->folds : (int)n;
  uint64_t seed = opts->seed ^ UINT64_C(0x636f6d70);
  enum comp_form chosen = comp_ratio;
  double best_mape = INFINITY;
  if (k >= 2) {
    st = oc__model_folds(n, k, seed, fold);
    if (st != oc_status_ok) goto done;
    for (int f = 0; f < comp__count; f++) {
      if (n < comp_min_nets[f]) continue;
      double *pred = oof + (size_t)f * n;
      for (int fo = 0; fo < k; fo++) {
        for (size_t i = 0; i < n; i++) use[i] = fold[i] != fo;
        struct oc__composition cf;
        memset(&cf, 0, sizeof cf);
        st = comp_fit(&d, use, (enum comp_form)f, seed, opts->folds, &cf);
        if (st != oc_status_ok) goto done;
        for (size_t i = 0; i < n; i++)
          if (fold[i] == fo) pred[i] = oc__compose(&cf, d.s[i], d.k[i], d.a[i] * 1e6);
      }
      struct oc_model_metrics m;
      st = oc_model_metrics_compute(pred, d.y, NULL, NULL, n, &m);
      if (st != oc_status_ok) goto done;
      json_object_set_new(forms_cv, comp_names[f], oc_model_metrics_to_json(&m));
      if (m.mape < best_mape) {
        best_mape = m.mape;
        chosen = (enum comp_form)f;
        c->cv = m;
        c->has_cv = true;
      }
    }
  }
  st = comp_fit(&d, NULL, chosen, seed, opts->folds, c);
  if (st != oc_status_ok) goto done;
  c->nets = (int64_t)n;
  if (c->has_cv) {
    const double *pred = oof + (size_t)chosen * n;
    for (size_t i = 0; i < n; i++) {
      resid[i] = log(d.y[i] / pred[i]);
      json_object_set_new(json_array_get(net_rows, i), "cv_pred_us", json_real(pred[i]));
    }
    if (n >= OC_MODEL_MIN_NETS_OVERHEAD) {
      oc__conformal(resid, n, opts->coverage, &c->log_lo, &c->log_hi);
      c->has_interval = true;
    }
  }
done:
  free(d.s);
  free(d.k);
  free(d.a);
  free(d.y);
  free(d.w);
  free(oof);
  free(resid);
  free(fold);
  free(use);
  return st;
}

/* ---- the whole fit ---- */

struct group {
  size_t n;
  size_t *idx;
};

enum oc_status oc_model_fit(const struct oc_model_data *data, const struct oc_model_device *device,
                            const struct oc_model_netset *nets,
                            const struct oc_model_fit_opts *opts_in, struct oc_model **out) {
  struct oc_model_fit_opts opts;
  struct oc_model *model = NULL;
  struct group groups[oc_op_kind__count][oc_dtype__count];
  double *oof = NULL, *lo = NULL, *hi = NULL, *meas = NULL;
  double *g_oof = NULL, *g_lo = NULL, *g_hi = NULL;
  json_t *unfitted = NULL, *net_rows = NULL, *forms_cv = NULL;
  memset(groups, 0, sizeof groups);
  *out = NULL;
  if (opts_in != NULL)
    opts = *opts_in;
  else
    oc_model_fit_opts_default(&opts);
  enum oc_status st = check_opts(&opts);
  if (st != oc_status_ok) return st;
  if (data == NULL || device == NULL)
    return oc__fail(oc_status_invalid_argument, "fit: no training data or device");
  if (data->n < OC_MODEL_MIN_ROWS)
    return oc__fail(oc_status_invalid_argument,
                    "fit: %zu usable kernel rows; fitting needs at least %d (measure more ops "
                    "into the LUT)",
                    data->n, OC_MODEL_MIN_ROWS);
  if (!(device->peak_gflops > 0) || device->n_levels < 1)
    return oc__fail(oc_status_invalid_argument,
                    "fit: device has no roofline (peak %g GFLOP/s, %d memory levels)",
                    device->peak_gflops, device->n_levels);
  st = oc__model_alloc(&model);
  if (st != oc_status_ok) return st;
  model->device = *device;
  model->coverage = opts.coverage;
  oc_lut_now(model->created_at);
  size_t n = data->n;
  oof = malloc(n * sizeof *oof);
  lo = malloc(n * sizeof *lo);
  hi = malloc(n * sizeof *hi);
  meas = malloc(n * sizeof *meas);
  g_oof = malloc(n * sizeof *g_oof);
  g_lo = malloc(n * sizeof *g_lo);
  g_hi = malloc(n * sizeof *g_hi);
  unfitted = json_object();
  net_rows = json_array();
  forms_cv = json_object();
  if (!oof || !lo || !hi || !meas || !g_oof || !g_lo || !g_hi || !unfitted || !net_rows ||
      !forms_cv) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for %zu rows", n);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    const struct oc_op *op = &data->samples[i].op;
    groups[op->kind][op->dtype].n++;
  }
  size_t n_groups = 0;
  for (int k = 0; k < oc_op_kind__count; k++) {
    for (int d = 0; d < oc_dtype__count; d++) {
      struct group *g = &groups[k][d];
      if (g->n == 0) continue;
      n_groups++;
      g->idx = malloc(g->n * sizeof *g->idx);
      if (g->idx == NULL) {
        st = oc__fail(oc_status_out_of_memory, "out of memory for %zu rows", g->n);
        goto done;
      }
      g->n = 0;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const struct oc_op *op = &data->samples[i].op;
    struct group *g = &groups[op->kind][op->dtype];
    g->idx[g->n++] = i;
    meas[i] = data->samples[i].median_us;
  }
  st = fit_fallback(model, data, &opts);
  if (st != oc_status_ok) goto done;
  size_t done_groups = 0;
  for (int k = 0; k < oc_op_kind__count; k++) {
    for (int d = 0; d < oc_dtype__count; d++) {
      struct group *g = &groups[k][d];
      if (g->n == 0) continue;
      char name[40];
      oc__kind_name((enum oc_op_kind)k, (enum oc_dtype)d, name, sizeof name);
      if (g->n < OC_MODEL_MIN_ROOFLINE_ROWS) {
        json_object_set_new(unfitted, name, json_integer((json_int_t)g->n));
        for (size_t i = 0; i < g->n; i++) {
          const struct oc_op *op = &data->samples[g->idx[i]].op;
          double v = oc__roof_predict(&model->fallback, oc_model_roofline_us(device, op));
          oof[g->idx[i]] = v;
          lo[g->idx[i]] = v * exp(model->fallback_log_lo);
          hi[g->idx[i]] = v * exp(model->fallback_log_hi);
        }
      } else {
        st = fit_kind(model, data, g->idx, g->n, &opts, g_oof, g_lo, g_hi);
        if (st != oc_status_ok) {
          oc__fail_prefix(st, "fit %s (%zu rows): ", name, g->n);
          goto done;
        }
        for (size_t i = 0; i < g->n; i++) {
          oof[g->idx[i]] = g_oof[i];
          lo[g->idx[i]] = g_lo[i];
          hi[g->idx[i]] = g_hi[i];
        }
      }
      done_groups++;
      if (opts.progress != NULL) opts.progress(opts.progress_ctx, done_groups, n_groups, name);
    }
  }
  struct oc_model_metrics kernel_metrics;
  st = oc_model_metrics_compute(oof, meas, lo, hi, n, &kernel_metrics);
  if (st != oc_status_ok) goto done;
  oc__strcpy(model->comp.form, sizeof model->comp.form, "identity");
  model->comp.sum_scale = 1;
  if (nets != NULL && nets->n > 0) {
    st = fit_composition(model, nets, &opts, net_rows, forms_cv);
    if (st != oc_status_ok) goto done;
    oc_model_cache_clear(model);
  }
  model->training = json_pack(
      "{s:s, s:s, s:i, s:I, s:{s:I, s:I, s:I, s:I}, s:I, s:O, s:i, s:I, s:f, s:b, s:b, "
      "s:{s:i, s:i, s:f, s:i}}",
      "fingerprint", data->fingerprint, "target", data->target, "threads", (int)data->threads,
      "rows", (json_int_t)n, "skipped", "block", (json_int_t)data->skipped_block, "kind",
      (json_int_t)data->skipped_kind, "key", (json_int_t)data->skipped_key, "latency",
      (json_int_t)data->skipped_latency, "nets", (json_int_t)(nets != NULL ? nets->n : 0),
      "unfitted_kinds", unfitted, "folds", opts.folds, "seed", (json_int_t)opts.seed, "coverage",
      opts.coverage, "ridge", opts.use_ridge, "xgboost", opts.use_xgboost, "xgboost_params",
      "max_rounds", opts.xgb_max_rounds, "max_depth", opts.xgb_max_depth, "eta", opts.xgb_eta,
      "threads", opts.xgb_threads);
  json_t *kv = oc_model_metrics_to_json(&kernel_metrics);
  json_t *nv = model->comp.has_cv ? oc_model_metrics_to_json(&model->comp.cv) : json_null();
  model->validation = json_pack(
      "{s:s, s:o, s:s, s:o, s:O, s:O}", "kernels_method",
      "out-of-fold predictions of the chosen candidate per kind", "kernels", kv, "networks_method",
      "out-of-fold composition on the measured networks "
      "(kernel models fitted on the whole LUT)",
      "networks", nv, "composition_forms", forms_cv, "network_rows", net_rows);
  if (model->training == NULL || model->validation == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for the model's metadata");
    goto done;
  }
  *out = model;
  model = NULL;
done:
  for (int k = 0; k < oc_op_kind__count; k++)
    for (int d = 0; d < oc_dtype__count; d++) free(groups[k][d].idx);
  free(oof);
  free(lo);
  free(hi);
  free(meas);
  free(g_oof);
  free(g_lo);
  free(g_hi);
  json_decref(unfitted);
  json_decref(net_rows);
  json_decref(forms_cv);
  oc_model_free(model);
  return st;
}
