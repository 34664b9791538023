/* model.h - cost models: predict what an op or a whole network costs on a
 * device without running it.
 *
 * A model is fitted on a LUT of measured kernels (lut.h) and, optionally, on
 * networks measured end to end. Per (op kind, dtype) it holds three
 * candidates fitted in log space of latency and keeps the one with the
 * lowest cross-validated error:
 *   roofline  overhead_us + scale x max(FLOPs / peak, bytes / bandwidth of the
 *             cache level the working set fits in), from the device profile
 *   ridge     ridge regression on standardised features (normal equations
 *             and Cholesky; lambda chosen by k-fold cross-validation)
 *   xgboost   gradient-boosted trees through XGBoost's C API (rounds chosen
 *             by k-fold cross-validation)
 * Every prediction carries a split-conformal interval built from the chosen
 * model's out-of-fold residuals, so a search can use a conservative bound.
 * A network's prediction is the sum of its kernels' predictions corrected by
 * a composition model fitted on measured networks (per-network overhead,
 * per-kernel overhead, activation traffic).
 *
 * Kinds a model never saw are predicted by a roofline fitted on every row
 * and flagged, never counted as zero. The model file is JSON (format
 * OC_MODEL_FORMAT, docs/models.md); boosters are embedded in XGBoost's own
 * JSON so that Python's xgboost loads them. */
#ifndef OPCOST_MODEL_H
#define OPCOST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "opcost/lut.h"
#include "opcost/net.h"
#include "opcost/op.h"
#include "opcost/probe.h"
#include "opcost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct oc_model_data;

#define OC_MODEL_FORMAT "opcost-model/1"

/* Fewest kernel rows a fit accepts in all (below it the fit is refused). */
#define OC_MODEL_MIN_ROWS 20
/* Fewest rows of one (kind, dtype) for each candidate: fewer and the
 * candidate is not fitted (the roofline needs 2, a kind with 1 row uses the
 * pooled roofline and is flagged). */
#define OC_MODEL_MIN_ROOFLINE_ROWS 2
#define OC_MODEL_MIN_RIDGE_ROWS 8
#define OC_MODEL_MIN_XGBOOST_ROWS 20
/* Measured networks the composition terms need: an overall ratio from 1,
 * ratio + per-network overhead from 3, all four terms from 8. */
#define OC_MODEL_MIN_NETS_OVERHEAD 3
#define OC_MODEL_MIN_NETS_FULL 8

/* Most features of one kind, and the longest feature name. */
#define OC_MODEL_MAX_FEATURES 48
#define OC_MODEL_FEATURE_NAME_MAX 24
#define OC_MODEL_MAX_LEVELS 4

/* X(name) of the per-kind candidates. */
#define OC_MODEL_TYPE_MAP(X) X(roofline) X(ridge) X(xgboost)
enum oc_model_type {
#define OC_MODEL_TYPE_ENUM(name) oc_model_##name,
  OC_MODEL_TYPE_MAP(OC_MODEL_TYPE_ENUM)
#undef OC_MODEL_TYPE_ENUM
      oc_model_type__count
};
const char *oc_model_type_name(enum oc_model_type type);
enum oc_status oc_model_type_from_name(const char *name, enum oc_model_type *type);

/* ---- the device a model describes -------------------------------------- */

struct oc_model_level {
  char name[8];       /* "L1", "L2", "L3", "DRAM" */
  int64_t size_bytes; /* capacity available to the measured threads; 0 = DRAM */
  double read_gbs;    /* bandwidth available to the measured threads */
};

/* What the features need of a device: its roofline and SIMD width. */
struct oc_model_device {
  char fingerprint[17];
  char target[32];
  char name[128];
  char isa[512];
  int32_t threads;
  /* "profile" (from a device profile file) or "empirical" (the best FLOP/s
   * and byte/s any LUT row reached, when no profile is given). */
  char source[16];
  double peak_gflops; /* for `threads` threads */
  int n_levels;       /* >= 1; the last one is DRAM */
  struct oc_model_level levels[OC_MODEL_MAX_LEVELS];
  int32_t simd_bytes; /* vector register width the kernels use */
};

/* Vector width in bytes implied by an ISA feature list ("avx512f" 64, "avx"
 * or "avx2" 32, "sse*", "neon", "asimd" 16); 16 when none is recognised. */
int32_t oc_model_simd_bytes(const char *isa);

/* The roofline of `threads` threads from a device profile: one core's peak
 * and cache bandwidths, scaled by the thread count up to the all-core
 * figures (private caches scale, the last level and DRAM use the all-core
 * bandwidth). invalid_argument when the profile has no peak or no level. */
enum oc_status oc_model_device_from_profile(const struct oc_device_profile *profile,
                                            int32_t threads, struct oc_model_device *device);

/* A roofline from the data itself, for fitting without a device profile:
 * the peak is the highest FLOP/s and the one bandwidth level the highest
 * byte/s any row reached (an empirical roofline). Device identity and SIMD
 * width come from data. invalid_argument when data is empty. */
enum oc_status oc_model_device_empirical(const struct oc_model_data *data,
                                         struct oc_model_device *device);

/* ---- features ------------------------------------------------------------ */

/* Roofline time of op in µs: max(FLOPs / peak, bytes / bandwidth of the
 * first level whose size holds inputs + weights + outputs). 0 for an op whose
 * cost cannot be computed. */
double oc_model_roofline_us(const struct oc_model_device *device, const struct oc_op *op);
/* Memory-bound roofline of a data move of `bytes` (read + written). */
double oc_model_move_us(const struct oc_model_device *device, int64_t bytes);

/* Features of a kind: log FLOPs and bytes (inputs, weights, outputs),
 * arithmetic intensity, roofline / compute / memory time, compute-bound
 * flag, cache level, SIMD alignment and padding waste of the channel
 * dimensions, then log(1 + value) of every shape field of the kind, the
 * activation one-hot, and for conv2d its implementation class (depthwise,
 * grouped, strided, and a one-hot of kernel size by depthwise or not). */
size_t oc_model_feature_count(enum oc_op_kind kind);
/* NULL when index >= oc_model_feature_count(kind). */
const char *oc_model_feature_name(enum oc_op_kind kind, size_t index);
/* Fills x[0 .. oc_model_feature_count(op->kind)). Fails with what
 * oc_op_cost fails with for an invalid op. */
enum oc_status oc_model_features(const struct oc_model_device *device, const struct oc_op *op,
                                 double *x);

/* ---- ridge regression ------------------------------------------------------ */

/* y ~ intercept + sum coef[j] * (x[j] - mean[j]) / scale[j]. */
struct oc_ridge {
  size_t p;
  double lambda;
  double intercept;
  double *mean, *scale, *coef; /* p each; owned */
};

/* Fits on n rows of p features (row-major x), minimising
 * sum w_i (y_i - f(x_i))^2 + lambda |coef|^2 on standardised features
 * (columns of zero variance get coefficient 0). w may be NULL (all 1).
 * Solves the normal equations by Cholesky. invalid_argument for n < 1,
 * p < 1, lambda < 0, a non-finite value or a non-positive weight;
 * internal when the system is not positive definite (lambda 0 and
 * collinear features). r is overwritten: clear it with oc_ridge_clear. */
enum oc_status oc_ridge_fit(const double *x, const double *y, const double *w, size_t n, size_t p,
                            double lambda, struct oc_ridge *r);
double oc_ridge_predict(const struct oc_ridge *r, const double *x);
void oc_ridge_clear(struct oc_ridge *r); /* NULL-safe; leaves r zeroed */

/* k-fold cross-validation of ridge over the lambdas given: fills
 * cv_rmse[i] (weighted RMSE of out-of-fold predictions) for each lambda and
 * *best with the index of the smallest. Folds are a shuffle of the rows by
 * seed; 2 <= folds <= n. */
enum oc_status oc_ridge_cv(const double *x, const double *y, const double *w, size_t n, size_t p,
                           const double *lambdas, size_t n_lambdas, int folds, uint64_t seed,
                           double *cv_rmse, size_t *best);

/* Solves A x = b in place for a symmetric positive definite p x p matrix
 * (row-major; A is overwritten by its Cholesky factor, b by x). internal
 * naming the pivot when A is not positive definite. */
enum oc_status oc_cholesky_solve(double *a, double *b, size_t p);

/* ---- accuracy metrics ------------------------------------------------------ */

struct oc_model_metrics {
  size_t n;
  double mape;     /* mean |pred - meas| / meas, as a fraction */
  double rmspe;    /* sqrt(mean ((pred - meas) / meas)^2) */
  double within5;  /* share with |error| <= 5 % */
  double within10; /* share with |error| <= 10 % */
  double p95_ape;  /* 95th percentile of |error| */
  double max_ape;
  double under;        /* share predicted below the measurement */
  double kendall_tau;  /* tau-b of pred vs meas; NaN for n < 2 */
  double spearman_rho; /* with average ranks for ties; NaN for n < 2 */
  double coverage;     /* share of measurements inside [lo, hi]; NaN without intervals */
};

/* pred, meas (> 0) and optionally lo/hi (both NULL or both given) of n
 * items. invalid_argument for n < 1 or a measurement that is not positive
 * and finite; out_of_memory. */
enum oc_status oc_model_metrics_compute(const double *pred, const double *meas, const double *lo,
                                        const double *hi, size_t n,
                                        struct oc_model_metrics *metrics);
json_t *oc_model_metrics_to_json(const struct oc_model_metrics *metrics);

/* ---- training data ----------------------------------------------------------- */

struct oc_model_sample {
  struct oc_op op;
  double median_us; /* > 0 */
};

/* Kernel rows of one device and thread count. */
struct oc_model_data {
  char fingerprint[17];
  char target[32];
  char device_name[128];
  char isa[512];
  int32_t threads;
  size_t n, cap;
  struct oc_model_sample *samples;
  /* Rows read but not usable: block granularity, kinds outside ops.def
   * (imported), keys that do not parse, non-positive medians. */
  int64_t skipped_block, skipped_kind, skipped_key, skipped_latency;
};

/* Reads the kernel rows of (fingerprint, threads) from lut; fingerprint may
 * be NULL or a unique prefix and threads 0 when the LUT holds one such group
 * (oc_lut_resolve's rules). The device's name and ISA come from the LUT's
 * device table. */
enum oc_status oc_model_data_from_lut(struct oc_lut *lut, const char *fingerprint, int32_t threads,
                                      struct oc_model_data **data);
/* An empty set to fill with oc_model_data_add (tests, other sources). */
enum oc_status oc_model_data_create(struct oc_model_data **data);
enum oc_status oc_model_data_add(struct oc_model_data *data, const struct oc_op *op,
                                 double median_us);
void oc_model_data_free(struct oc_model_data *data); /* NULL-safe */

/* One network measured end to end (a line of `opcost net measure --save`). */
struct oc_model_net_sample {
  struct oc_net *net;
  double measured_us;
  char name[OC_NET_NAME_MAX];
  /* "family" field, or the name without a trailing "-<digit>..." part
   * ("resnet-50" -> "resnet"; "ofa-mbv3-w1.0" stays whole) */
  char family[OC_NET_NAME_MAX];
  char fingerprint[17]; /* "" when the line has none */
  int32_t threads;      /* 0 when the line has none */
};

struct oc_model_netset {
  size_t n, cap;
  struct oc_model_net_sample *items;
};

/* Reads a JSON Lines file of measured networks (what `opcost net measure
 * --save` appends). Each line is an object with
 *   the network: "net" (an opcost-net/1 object), or "net_path"/"path" (a
 *     file, relative to the directory of the JSONL file), or "hash" (the
 *     network hash) matching one of the n_net_files networks given;
 *   the latency in µs: "median_us", or "stats" holding "median_us" (also
 *     inside "measurement");
 *   optional "name", "family", "fingerprint" (else "device"/"env" holding
 *     one) and "threads".
 * Blank lines are skipped. parse_error / invalid_argument name the file,
 * the line and the field; a hash no given network has is not_found. */
enum oc_status oc_model_netset_load(const char *path, const char *const *net_files,
                                    size_t n_net_files, struct oc_model_netset **nets);
enum oc_status oc_model_netset_create(struct oc_model_netset **nets);
/* Takes ownership of net (freed with the set, also on failure). */
enum oc_status oc_model_netset_add(struct oc_model_netset *nets, struct oc_net *net,
                                   double measured_us, const char *family);
void oc_model_netset_free(struct oc_model_netset *nets); /* NULL-safe */

/* ---- fitting ------------------------------------------------------------------- */

struct oc_model_fit_opts {
  int folds;          /* k of the cross-validation (5); 2..20 */
  uint64_t seed;      /* fold shuffles and XGBoost (1) */
  double coverage;    /* of the prediction intervals (0.9); in (0, 1) */
  bool use_ridge;     /* fit the ridge candidate (true) */
  bool use_xgboost;   /* fit the XGBoost candidate (true) */
  int xgb_max_rounds; /* cap on boosting rounds; the number is chosen by CV (400) */
  int xgb_max_depth;  /* (6) */
  double xgb_eta;     /* learning rate (0.1) */
  int xgb_threads;    /* XGBoost's nthread (1) */
  /* Called after each kind is fitted (may be NULL). */
  void (*progress)(void *ctx, size_t done, size_t total, const char *kind);
  void *progress_ctx;
};
void oc_model_fit_opts_default(struct oc_model_fit_opts *opts);

struct oc_model; /* a fitted or loaded model */

/* Fits a model on data for device. nets (NULL or empty: no composition
 * terms, the network prediction is the plain sum) are predicted with the
 * fitted kernel models and the composition terms fitted on them. Refuses
 * with invalid_argument (naming the count and the minimum) when data has
 * fewer than OC_MODEL_MIN_ROWS rows. */
enum oc_status oc_model_fit(const struct oc_model_data *data, const struct oc_model_device *device,
                            const struct oc_model_netset *nets,
                            const struct oc_model_fit_opts *opts, struct oc_model **model);
void oc_model_free(struct oc_model *model); /* NULL-safe */

/* ---- model files ------------------------------------------------------------------- */

enum oc_status oc_model_save(const struct oc_model *model, const char *path);
/* Reads a model file. io_error (cannot read), parse_error (not JSON: file,
 * line, column), incompatible (format tag, features of another version),
 * invalid_argument (a field missing, of the wrong type or out of range) -
 * each naming the file and the field. */
enum oc_status oc_model_load(const char *path, struct oc_model **model);
/* The whole model as a new JSON object (booster JSON included). */
enum oc_status oc_model_to_json(const struct oc_model *model, json_t **root);
/* where names the source in messages. Does not keep root. */
enum oc_status oc_model_from_json(const json_t *root, const char *where, struct oc_model **model);

const struct oc_model_device *oc_model_get_device(const struct oc_model *model);
/* Nominal coverage of the model's prediction intervals (e.g. 0.9). */
double oc_model_coverage(const struct oc_model *model);
/* The validation section of the model (borrowed; NULL when none). */
const json_t *oc_model_validation(const struct oc_model *model);

/* Checks that model was fitted on the device with this fingerprint (and
 * thread count; 0 = any). On a mismatch: incompatible when strict, else ok
 * with *mismatch set (may be NULL) and oc_errmsg() describing it, so the
 * caller can warn. */
enum oc_status oc_model_check_device(const struct oc_model *model, const char *fingerprint,
                                     int32_t threads, bool strict, bool *mismatch);

/* Per kind: which candidate predicts it, or that it was never seen. */
struct oc_model_kind_info {
  bool present;            /* fitted (else predicted by the fallback) */
  enum oc_model_type type; /* chosen candidate */
  int64_t rows;
  double cv_mape; /* of the chosen candidate */
};
void oc_model_kind_info(const struct oc_model *model, enum oc_op_kind kind, enum oc_dtype dtype,
                        struct oc_model_kind_info *info);

/* ---- prediction ------------------------------------------------------------------- */

enum oc_model_pred_flag {
  oc_model_pred_fallback = 1u << 0, /* kind/dtype never fitted: pooled roofline */
  oc_model_pred_move = 1u << 1,     /* a data move (no op key): memory roofline */
  /* Features outside the range the kind was fitted on (by more than a tenth
   * of the range): trees cannot extrapolate and a log-linear fit may run
   * away, so the kind's roofline candidate predicts it. */
  oc_model_pred_extrapolated = 1u << 2,
};

struct oc_model_prediction {
  double us, lo_us, hi_us; /* point estimate and interval (coverage of the model) */
  enum oc_model_type type; /* candidate that predicted it */
  uint32_t flags;          /* enum oc_model_pred_flag bits */
};

/* Predicts one op. Predictions are cached per op, so repeated ops cost a
 * hash lookup; safe to call from several threads on one model. Fails with
 * what oc_op_validate fails with, or internal when XGBoost fails. */
enum oc_status oc_model_predict_op(struct oc_model *model, const struct oc_op *op,
                                   struct oc_model_prediction *pred);

/* Kinds a network needed that the model never fitted (fallback used). */
#define OC_MODEL_MAX_MISSING 16
struct oc_model_net_prediction {
  double us, lo_us, hi_us; /* after composition */
  double kernel_sum_us;    /* sum of kernel predictions */
  double kernel_lo_sum_us, kernel_hi_sum_us;
  int32_t n_kernels;
  int32_t n_fallback;     /* kernels predicted by the fallback */
  int32_t n_extrapolated; /* kernels outside their kind's training range */
  int32_t n_moves;        /* data-move kernels */
  int n_missing;
  char missing[OC_MODEL_MAX_MISSING][40]; /* "kind.dtype" of each unseen kind */
};

/* Predicts a network. per_kernel (NULL, or net->n_kernels entries) gets
 * each kernel's prediction, in execution order. */
enum oc_status oc_model_predict_net(struct oc_model *model, const struct oc_net *net,
                                    struct oc_model_prediction *per_kernel,
                                    struct oc_model_net_prediction *pred);

/* Cache statistics and control (for benches and tests). */
size_t oc_model_cache_size(const struct oc_model *model);
void oc_model_cache_clear(struct oc_model *model);

/* ---- validation ------------------------------------------------------------------ */

/* Predicts every network of nets: pred and measured (nets->n each) and
 * metrics. lo/hi may be NULL. */
enum oc_status oc_model_eval_nets(struct oc_model *model, const struct oc_model_netset *nets,
                                  double *pred, double *lo, double *hi,
                                  struct oc_model_metrics *metrics);

enum oc_model_cv {
  oc_model_cv_kfold,  /* k folds of kernels (no nets) or of networks */
  oc_model_cv_family, /* leave one network family out (needs nets) */
};
enum oc_status oc_model_cv_from_name(const char *name, enum oc_model_cv *cv);

/* One held-out group of a cross-validation and its metrics. */
struct oc_model_cv_fold {
  char name[OC_NET_NAME_MAX]; /* "fold 3" or the family */
  size_t n_train_rows, n_train_nets, n_test;
  int64_t excluded_rows; /* LUT rows left out because only test networks use them */
  struct oc_model_metrics metrics;
};

struct oc_model_cv_report {
  enum oc_model_cv cv;
  bool networks;                 /* items are networks (else kernels) */
  size_t n;                      /* items predicted out of fold */
  double *pred, *meas, *lo, *hi; /* per item, in input order */
  struct oc_model_metrics overall;
  size_t n_folds;
  struct oc_model_cv_fold *folds;
};

/* Cross-validates the whole fitting procedure (candidate choice included).
 * Without nets (NULL or empty): k-fold over kernel rows, metrics on kernels;
 * family needs nets. With nets: each fold's networks are held out, the LUT
 * rows whose keys only held-out networks use are left out of the kernel fit
 * (so the test kernels are unseen), and the composition is fitted on the
 * training networks. */
enum oc_status oc_model_cross_validate(const struct oc_model_data *data,
                                       const struct oc_model_device *device,
                                       const struct oc_model_netset *nets, enum oc_model_cv cv,
                                       const struct oc_model_fit_opts *opts,
                                       struct oc_model_cv_report *report);
void oc_model_cv_report_clear(struct oc_model_cv_report *report); /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
