/* model_internal.h - what the files of models/ share: the layout of a
 * fitted model, the XGBoost wrappers, fold assignment and a set of ops.
 * Not part of the public API. */
#ifndef OPCOST_MODEL_INTERNAL_H
#define OPCOST_MODEL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opcost/model.h"

/* overhead_us + scale x roofline_us. */
struct oc__roof {
  double scale;
  double overhead_us;
};

/* The model of one (kind, dtype). */
struct oc__kind_model {
  enum oc_op_kind kind;
  enum oc_dtype dtype;
  int64_t rows;
  enum oc_model_type chosen;
  size_t n_features;
  struct oc__roof roof;
  bool has_ridge;
  struct oc_ridge ridge;
  void *booster;          /* BoosterHandle of the chosen XGBoost candidate, or NULL */
  json_t *booster_json;   /* the booster in XGBoost's JSON (kept for saving) */
  json_t *booster_config; /* XGBoosterSaveJsonConfig: the training parameters */
  int xgb_rounds, xgb_max_depth;
  double xgb_eta;
  double log_lo, log_hi;             /* conformal interval of log(measured / predicted) */
  double roof_log_lo, roof_log_hi;   /* the same for the roofline candidate */
  double *feature_min, *feature_max; /* training range of each feature */
  bool fitted[oc_model_type__count];
  struct oc_model_metrics cv[oc_model_type__count];
};

/* y = intercept_us + sum_scale x S + per_kernel_us x K + per_act_mb_us x A,
 * S the sum of kernel predictions, K the kernels, A activation megabytes. */
struct oc__composition {
  char form[16]; /* identity, ratio, overhead, full */
  int64_t nets;
  double intercept_us, sum_scale, per_kernel_us, per_act_mb_us;
  bool has_interval;
  double log_lo, log_hi;
  bool has_cv;
  struct oc_model_metrics cv;
};

struct oc__cache_entry {
  struct oc_op op;
  struct oc_model_prediction pred;
  bool used;
};

struct oc_model {
  struct oc_model_device device;
  double coverage;
  struct oc__kind_model *kinds[oc_op_kind__count][oc_dtype__count];
  struct oc__roof fallback;
  int64_t fallback_rows;
  double fallback_log_lo, fallback_log_hi;
  struct oc_model_metrics fallback_cv;
  struct oc__composition comp;
  json_t *training;   /* what it was fitted on (rows, nets, options) */
  json_t *validation; /* kernel and network metrics */
  char created_at[OC_LUT_TIME_MAX];
  /* Per-op prediction cache, guarded by lock with every prediction. */
  pthread_mutex_t lock;
  struct oc__cache_entry *cache;
  size_t cache_cap, cache_used;
};

/* Allocates a zeroed model with its lock and cache. */
enum oc_status oc__model_alloc(struct oc_model **model);
void oc__kind_model_free(struct oc__kind_model *km);

/* A network's latency from its kernel sum, kernel count and activation
 * bytes; never below a tenth of the kernel sum. */
double oc__compose(const struct oc__composition *c, double sum_us, double kernels,
                   double act_bytes);

/* Roofline candidate: fits overhead and scale minimising squared relative
 * error, both >= 0. */
void oc__roof_fit(const double *roof_us, const double *y_us, size_t n, struct oc__roof *roof);
double oc__roof_predict(const struct oc__roof *roof, double roof_us);

/* Latency predicted by a kind model from features x and roofline time. */
enum oc_status oc__kind_predict(const struct oc__kind_model *km, const double *x, double roof_us,
                                double *us);
/* Whether x lies outside the kind's training range (see
 * oc_model_pred_extrapolated). */
bool oc__kind_extrapolates(const struct oc__kind_model *km, const double *x);

/* Out-of-fold ridge predictions at one lambda (fold[i] in [0, k)). */
enum oc_status oc__ridge_oof(const double *x, const double *y, const double *w, size_t n, size_t p,
                             double lambda, const int *fold, int k, double *oof);

/* fold[i] in [0, k) for n items: a shuffle by seed dealt round-robin. */
enum oc_status oc__model_folds(size_t n, int k, uint64_t seed, int *fold);

/* Conformal quantiles of log residuals for a two-sided interval of the
 * given coverage (finite-sample corrected; the extremes when n is small). */
void oc__conformal(const double *log_resid, size_t n, double coverage, double *lo, double *hi);

/* ---- XGBoost ---- */

struct oc__xgb_params {
  int max_rounds, max_depth, threads;
  double eta;
  uint64_t seed;
};

/* Trains on n rows of p float features for `rounds` rounds (label y). */
enum oc_status oc__xgb_train(const float *x, const float *y, size_t n, size_t p,
                             const struct oc__xgb_params *params, int rounds, void **booster);
/* Chooses the number of rounds by k-fold CV (fold[i] as oc__model_folds
 * gives) and writes out-of-fold predictions at that number into oof. */
enum oc_status oc__xgb_cv(const float *x, const float *y, size_t n, size_t p, const int *fold,
                          int k, const struct oc__xgb_params *params, int *best_rounds,
                          double *oof);
/* Predicts n rows; rounds 0 = all. */
enum oc_status oc__xgb_predict(void *booster, const float *x, size_t n, size_t p, double *out);
enum oc_status oc__xgb_to_json(void *booster, json_t **json);
/* The booster's configuration (XGBoosterSaveJsonConfig) as JSON. */
enum oc_status oc__xgb_config_json(void *booster, json_t **json);
enum oc_status oc__xgb_from_json(const json_t *json, const char *where, void **booster);
void oc__xgb_free(void *booster); /* NULL-safe */

/* ---- a set of ops (exact comparison of every field) ---- */

struct oc__opset {
  struct oc_op *ops;
  bool *used;
  size_t cap, n;
};
enum oc_status oc__opset_add(struct oc__opset *set, const struct oc_op *op);
bool oc__opset_has(const struct oc__opset *set, const struct oc_op *op);
void oc__opset_clear(struct oc__opset *set);
uint64_t oc__op_hash(const struct oc_op *op);

/* "kind.dtype" of a kind model's entry in the model file. */
void oc__kind_name(enum oc_op_kind kind, enum oc_dtype dtype, char *buf, size_t size);

#endif
