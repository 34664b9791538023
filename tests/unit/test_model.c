/* test_model.c - the cost-model core: the Cholesky/ridge solver against
 * hand-solved systems, accuracy metrics against hand-computed figures,
 * conformal quantiles, features and the roofline, then fitting, saving,
 * loading and predicting on training sets drawn from known latency
 * functions (so the right answer is known), the refusals the model promises
 * (tiny training set, another device, unseen kinds, malformed files) and
 * the per-op cache.
 *
 * The training sets here are synthetic on purpose: latency is a stated
 * function of the op (a roofline with overhead, or one with a step at the
 * SIMD width) so a test can check that a fit recovers it. Measured accuracy
 * is a separate matter (docs/models.md says how to produce it). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opcost/model.h"

/* ---- helpers ---- */

static struct oc_model_device test_device(void) {
  struct oc_model_device d;
  memset(&d, 0, sizeof d);
  snprintf(d.fingerprint, sizeof d.fingerprint, "00112233aabbccdd");
  snprintf(d.target, sizeof d.target, "cpu");
  snprintf(d.name, sizeof d.name, "test cpu");
  snprintf(d.isa, sizeof d.isa, "sse2 avx avx2 fma");
  snprintf(d.source, sizeof d.source, "profile");
  d.threads = 1;
  d.peak_gflops = 100;
  d.n_levels = 2;
  snprintf(d.levels[0].name, sizeof d.levels[0].name, "L2");
  d.levels[0].size_bytes = 1 << 20;
  d.levels[0].read_gbs = 100;
  snprintf(d.levels[1].name, sizeof d.levels[1].name, "DRAM");
  d.levels[1].size_bytes = 0;
  d.levels[1].read_gbs = 10;
  d.simd_bytes = 32;
  return d;
}

static struct oc_op conv(int h, int cin, int cout, int k, int s, int g) {
  struct oc_op op;
  oc_op_init(&op, oc_op_conv2d, oc_dtype_f32);
  op.h = h;
  op.w = h;
  op.cin = cin;
  op.cout = cout;
  op.k = k;
  op.s = s;
  op.g = g;
  op.d = 1;
  op.act = oc_act_relu;
  return op;
}

/* Latency law of the synthetic conv2d rows: 3 us + 1.5 x roofline. */
static double conv_law(const struct oc_model_device *d, const struct oc_op *op) {
  return 3.0 + 1.5 * oc_model_roofline_us(d, op);
}

/* A conv2d grid of about 190 valid ops. */
static struct oc_model_data *conv_data(const struct oc_model_device *d,
                                       double (*law)(const struct oc_model_device *,
                                                     const struct oc_op *)) {
  struct oc_model_data *data = NULL;
  cr_assert_eq(oc_model_data_create(&data), oc_status_ok);
  snprintf(data->fingerprint, sizeof data->fingerprint, "%s", d->fingerprint);
  snprintf(data->isa, sizeof data->isa, "%s", d->isa);
  static const int hs[] = {7, 14, 28, 56};
  static const int cs[] = {8, 12, 16, 24, 32, 36, 40, 48, 64, 96, 128, 160};
  static const int ks[] = {1, 3};
  for (size_t a = 0; a < 4; a++)
    for (size_t b = 0; b < 12; b++)
      for (size_t c = 0; c < 2; c++)
        for (int dw = 0; dw < 2; dw++) {
          int ch = cs[b];
          struct oc_op op = dw ? conv(hs[a], ch, ch, ks[c], 1, ch)
                               : conv(hs[a], ch, cs[(b + 3) % 12], ks[c], 1, 1);
          cr_assert_eq(oc_model_data_add(data, &op, law(d, &op)), oc_status_ok, "%s", oc_errmsg());
        }
  return data;
}

static struct oc_model_fit_opts quick_opts(void) {
  struct oc_model_fit_opts o;
  oc_model_fit_opts_default(&o);
  o.xgb_max_rounds = 120;
  o.xgb_max_depth = 4;
  return o;
}

static char tmpdir[256];
static void mk_tmp(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/opcost-model-XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}
static void rm_tmp(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  cr_expect_eq(system(cmd), 0);
}
static void tmp_path(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/%s", tmpdir, name);
}
static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

/* ---- solver ---- */

Test(model_ridge, cholesky_solves_and_refuses_indefinite) {
  /* A = [[4,2,0],[2,5,1],[0,1,3]], x = [1,-2,3] -> b = A x = [0,-5,7]. */
  double a[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3};
  double b[3] = {0, -5, 7};
  cr_assert_eq(oc_cholesky_solve(a, b, 3), oc_status_ok);
  cr_expect_float_eq(b[0], 1.0, 1e-12);
  cr_expect_float_eq(b[1], -2.0, 1e-12);
  cr_expect_float_eq(b[2], 3.0, 1e-12);
  double bad[4] = {1, 2, 2, 1}; /* eigenvalues 3 and -1 */
  double rhs[2] = {1, 1};
  cr_expect_eq(oc_cholesky_solve(bad, rhs, 2), oc_status_internal);
  cr_expect(strstr(oc_errmsg(), "pivot 1") != NULL, "%s", oc_errmsg());
}

Test(model_ridge, recovers_coefficients_and_ignores_constant_columns) {
  enum { N = 40, P = 3 };
  double x[N * P], y[N];
  for (int i = 0; i < N; i++) {
    x[i * P + 0] = i * 0.5;
    x[i * P + 1] = (i * 7) % 11;
    x[i * P + 2] = 4.0; /* constant */
    y[i] = 2.0 + 3.0 * x[i * P + 0] - 1.0 * x[i * P + 1];
  }
  struct oc_ridge r;
  cr_assert_eq(oc_ridge_fit(x, y, NULL, N, P, 1e-10, &r), oc_status_ok, "%s", oc_errmsg());
  cr_expect_float_eq(r.coef[0] / r.scale[0], 3.0, 1e-6);
  cr_expect_float_eq(r.coef[1] / r.scale[1], -1.0, 1e-6);
  cr_expect_eq(r.coef[2], 0.0);
  double probe[P] = {100, 3, 4};
  cr_expect_float_eq(oc_ridge_predict(&r, probe), 2.0 + 300 - 3, 1e-6);
  oc_ridge_clear(&r);
  cr_expect_null(r.coef);
  /* A large lambda shrinks every coefficient towards 0. */
  cr_assert_eq(oc_ridge_fit(x, y, NULL, N, P, 1e6, &r), oc_status_ok);
  cr_expect_lt(fabs(r.coef[0]), 1e-3);
  oc_ridge_clear(&r);
  /* Bad input names what is wrong. */
  y[5] = NAN;
  cr_expect_eq(oc_ridge_fit(x, y, NULL, N, P, 1, &r), oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "row 5") != NULL, "%s", oc_errmsg());
}

Test(model_ridge, weights_pull_the_fit) {
  /* Two groups disagree; weighting one heavily makes the fit follow it. */
  double x[4] = {0, 0, 1, 1}, y[4] = {0, 2, 1, 3}, w[4] = {1000, 1, 1000, 1};
  struct oc_ridge r;
  cr_assert_eq(oc_ridge_fit(x, y, w, 4, 1, 0, &r), oc_status_ok);
  double x0 = 0, x1 = 1;
  cr_expect_lt(fabs(oc_ridge_predict(&r, &x0) - 0.0), 0.01);
  cr_expect_lt(fabs(oc_ridge_predict(&r, &x1) - 1.0), 0.01);
  oc_ridge_clear(&r);
}

Test(model_ridge, cv_prefers_small_lambda_on_clean_data) {
  enum { N = 60 };
  double x[N * 2], y[N];
  for (int i = 0; i < N; i++) {
    x[i * 2] = sin(i * 1.3);
    x[i * 2 + 1] = cos(i * 0.7);
    y[i] = 5 * x[i * 2] - 2 * x[i * 2 + 1];
  }
  const double lambdas[] = {1e-6, 1e-2, 1, 100};
  double rmse[4];
  size_t best = 9;
  cr_assert_eq(oc_ridge_cv(x, y, NULL, N, 2, lambdas, 4, 5, 7, rmse, &best), oc_status_ok);
  cr_expect_eq(best, 0);
  cr_expect_lt(rmse[0], 1e-4);
  cr_expect_gt(rmse[3], rmse[0]);
  cr_expect_eq(oc_ridge_cv(x, y, NULL, N, 2, lambdas, 4, 1, 7, rmse, &best),
               oc_status_invalid_argument);
}

/* ---- metrics ---- */

Test(model_metrics, hand_computed_figures) {
  double pred[4] = {110, 95, 100, 300};
  double meas[4] = {100, 100, 100, 200};
  double lo[4] = {90, 96, 50, 250}, hi[4] = {120, 99, 150, 350};
  struct oc_model_metrics m;
  cr_assert_eq(oc_model_metrics_compute(pred, meas, lo, hi, 4, &m), oc_status_ok);
  cr_expect_eq(m.n, 4);
  cr_expect_float_eq(m.mape, (0.10 + 0.05 + 0 + 0.5) / 4, 1e-12);
  cr_expect_float_eq(m.rmspe, sqrt((0.01 + 0.0025 + 0 + 0.25) / 4), 1e-12);
  cr_expect_float_eq(m.within5, 0.5, 1e-12); /* 5 % and 0 % */
  cr_expect_float_eq(m.within10, 0.75, 1e-12);
  cr_expect_float_eq(m.under, 0.25, 1e-12);
  cr_expect_float_eq(m.max_ape, 0.5, 1e-12);
  /* sorted APE 0, .05, .1, .5: p95 at position 2.85 -> .1 + .85 * .4 */
  cr_expect_float_eq(m.p95_ape, 0.1 + 0.85 * 0.4, 1e-12);
  cr_expect_float_eq(m.coverage, 0.5, 1e-12); /* 100 in [90,120], 100 in [50,150] */
  /* Pairs: meas ties among the first three (3 pairs tied in meas only), the
   * three pairs with the 4th are concordant: tau-b = 3 / sqrt(6 * 3). */
  cr_expect_float_eq(m.kendall_tau, 3.0 / sqrt(18.0), 1e-12);
  /* ranks pred [3,1,2,4], meas [2,2,2,4]: rho = pearson. */
  double ra[4] = {3, 1, 2, 4}, rb[4] = {2, 2, 2, 4};
  double ma = 2.5, mb = 2.5, sab = 0, saa = 0, sbb = 0;
  for (int i = 0; i < 4; i++) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  cr_expect_float_eq(m.spearman_rho, sab / sqrt(saa * sbb), 1e-12);
  meas[2] = 0;
  cr_expect_eq(oc_model_metrics_compute(pred, meas, NULL, NULL, 4, &m), oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "item 2") != NULL, "%s", oc_errmsg());
}

Test(model_metrics, perfect_order_gives_rank_one) {
  double pred[5] = {1, 2, 3, 4, 5}, meas[5] = {10, 20, 30, 40, 55};
  struct oc_model_metrics m;
  cr_assert_eq(oc_model_metrics_compute(pred, meas, NULL, NULL, 5, &m), oc_status_ok);
  cr_expect_float_eq(m.kendall_tau, 1.0, 1e-12);
  cr_expect_float_eq(m.spearman_rho, 1.0, 1e-12);
  cr_expect(isnan(m.coverage));
  cr_expect_float_eq(m.under, 1.0, 1e-12);
}

/* ---- features and roofline ---- */

Test(model_features, names_counts_and_values) {
  for (int k = 0; k < oc_op_kind__count; k++) {
    size_t n = oc_model_feature_count((enum oc_op_kind)k);
    cr_assert_gt(n, 10);
    cr_assert_leq(n, OC_MODEL_MAX_FEATURES);
    for (size_t j = 0; j < n; j++) cr_assert_not_null(oc_model_feature_name((enum oc_op_kind)k, j));
    cr_expect_null(oc_model_feature_name((enum oc_op_kind)k, n));
  }
  struct oc_model_device d = test_device();
  struct oc_op op = conv(14, 36, 36, 3, 1, 36);
  double x[OC_MODEL_MAX_FEATURES];
  cr_assert_eq(oc_model_features(&d, &op, x), oc_status_ok);
  size_t n = oc_model_feature_count(oc_op_conv2d);
  bool seen_waste = false, seen_dw = false, seen_cin = false;
  for (size_t j = 0; j < n; j++) {
    const char *name = oc_model_feature_name(oc_op_conv2d, j);
    if (strcmp(name, "out_lane_waste") == 0) {
      cr_expect_float_eq(x[j], 40.0 / 36.0, 1e-12); /* 8 f32 lanes in 32 bytes */
      seen_waste = true;
    }
    if (strcmp(name, "depthwise") == 0) {
      cr_expect_eq(x[j], 1.0);
      seen_dw = true;
    }
    if (strcmp(name, "log_cin") == 0) {
      cr_expect_float_eq(x[j], log1p(36.0), 1e-12);
      seen_cin = true;
    }
    if (strcmp(name, "act_relu") == 0) cr_expect_eq(x[j], 1.0);
    if (strcmp(name, "act_none") == 0) cr_expect_eq(x[j], 0.0);
  }
  cr_expect(seen_waste && seen_dw && seen_cin);
}

Test(model_features, roofline_picks_the_bound_and_the_level) {
  struct oc_model_device d = test_device();
  /* Pointwise 56x56x64 -> 64: 2*56*56*64*64 MACs-FLOPs + bias/act. */
  struct oc_op op = conv(56, 64, 64, 1, 1, 1);
  struct oc_op_cost c;
  cr_assert_eq(oc_op_cost(&op, &c), oc_status_ok);
  double compute = (double)c.flops / 100e3;
  int64_t bytes = c.input_bytes + c.weight_bytes + c.output_bytes; /* > 1 MiB: DRAM */
  cr_assert_gt(bytes, 1 << 20);
  double memory = (double)bytes / 10e3;
  double want = compute > memory ? compute : memory;
  cr_expect_float_eq(oc_model_roofline_us(&d, &op), want, 1e-9 * want);
  struct oc_op small = conv(7, 8, 8, 1, 1, 1); /* fits the 1 MiB level */
  cr_assert_eq(oc_op_cost(&small, &c), oc_status_ok);
  bytes = c.input_bytes + c.weight_bytes + c.output_bytes;
  double mem_small = (double)bytes / 100e3, comp_small = (double)c.flops / 100e3;
  cr_expect_float_eq(oc_model_roofline_us(&d, &small),
                     mem_small > comp_small ? mem_small : comp_small, 1e-12);
  cr_expect_eq(oc_model_simd_bytes("sse2 avx512f"), 64);
  cr_expect_eq(oc_model_simd_bytes("neon"), 16);
  cr_expect_eq(oc_model_simd_bytes("avx avx2"), 32);
}

Test(model_features, device_from_profile_scales_with_threads) {
  struct oc_device_profile p;
  memset(&p, 0, sizeof p);
  snprintf(p.device.fingerprint, sizeof p.device.fingerprint, "aa");
  snprintf(p.device.isa, sizeof p.device.isa, "avx2");
  snprintf(p.kernel_isa, sizeof p.kernel_isa, "avx2");
  p.peak_gflops_one_core = 50;
  p.peak_gflops_all_cores = 150;
  p.dram_read_gbs_all_cores = 30;
  p.n_levels = 3;
  snprintf(p.levels[0].name, 8, "L1");
  p.levels[0].size_bytes = 32768;
  p.levels[0].read_gbs = 200;
  snprintf(p.levels[1].name, 8, "L3");
  p.levels[1].size_bytes = 1 << 24;
  p.levels[1].read_gbs = 40;
  snprintf(p.levels[2].name, 8, "DRAM");
  p.levels[2].read_gbs = 12;
  struct oc_model_device d;
  cr_assert_eq(oc_model_device_from_profile(&p, 1, &d), oc_status_ok);
  cr_expect_float_eq(d.peak_gflops, 50, 1e-12);
  cr_expect_float_eq(d.levels[2].read_gbs, 12, 1e-12);
  cr_expect_eq(d.simd_bytes, 32);
  cr_assert_eq(oc_model_device_from_profile(&p, 4, &d), oc_status_ok);
  cr_expect_float_eq(d.peak_gflops, 150, 1e-12);   /* capped by the all-core peak */
  cr_expect_eq(d.levels[0].size_bytes, 4 * 32768); /* private */
  cr_expect_eq(d.levels[1].size_bytes, 1 << 24);   /* shared last level */
  cr_expect_float_eq(d.levels[2].read_gbs, 30, 1e-12);
  p.peak_gflops_one_core = 0;
  cr_expect_eq(oc_model_device_from_profile(&p, 1, &d), oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "peak_gflops_one_core") != NULL, "%s", oc_errmsg());
}

/* ---- fitting and prediction ---- */

Test(model_fit, refuses_a_tiny_training_set) {
  struct oc_model_device d = test_device();
  struct oc_model_data *data = NULL;
  cr_assert_eq(oc_model_data_create(&data), oc_status_ok);
  for (int i = 0; i < 5; i++) {
    struct oc_op op = conv(7 + i, 8, 8, 1, 1, 1);
    cr_assert_eq(oc_model_data_add(data, &op, 10.0 + i), oc_status_ok);
  }
  struct oc_model *model = NULL;
  cr_expect_eq(oc_model_fit(data, &d, NULL, NULL, &model), oc_status_invalid_argument);
  cr_expect_null(model);
  cr_expect(strstr(oc_errmsg(), "5 usable kernel rows") != NULL, "%s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), "at least 20") != NULL, "%s", oc_errmsg());
  struct oc_op op = conv(7, 8, 8, 1, 1, 1);
  cr_expect_eq(oc_model_data_add(data, &op, 0.0), oc_status_invalid_argument);
  oc_model_data_free(data);
}

Test(model_fit, recovers_a_roofline_law_and_flags_unseen_kinds) {
  struct oc_model_device d = test_device();
  struct oc_model_data *data = conv_data(&d, conv_law);
  struct oc_model_fit_opts o = quick_opts();
  struct oc_model *model = NULL;
  cr_assert_eq(oc_model_fit(data, &d, NULL, &o, &model), oc_status_ok, "%s", oc_errmsg());
  struct oc_model_kind_info info;
  oc_model_kind_info(model, oc_op_conv2d, oc_dtype_f32, &info);
  cr_expect(info.present);
  cr_expect_eq(info.rows, (int64_t)data->n);
  cr_expect_lt(info.cv_mape, 0.02, "conv2d CV MAPE %g with model %s", info.cv_mape,
               oc_model_type_name(info.type));
  /* An op outside the grid. */
  struct oc_op op = conv(20, 20, 44, 3, 1, 1);
  struct oc_model_prediction p;
  cr_assert_eq(oc_model_predict_op(model, &op, &p), oc_status_ok);
  double want = conv_law(&d, &op);
  cr_expect_lt(fabs(p.us - want) / want, 0.05, "predicted %g, law %g", p.us, want);
  cr_expect_leq(p.lo_us, p.us);
  cr_expect_geq(p.hi_us, p.us);
  cr_expect_eq(p.flags, 0u);
  /* A kind it never saw: the pooled roofline, flagged, never zero. */
  struct oc_op fc;
  oc_op_init(&fc, oc_op_fc, oc_dtype_f32);
  fc.m = 1;
  fc.cin = 1280;
  fc.cout = 1000;
  cr_assert_eq(oc_model_predict_op(model, &fc, &p), oc_status_ok);
  cr_expect(p.flags & oc_model_pred_fallback);
  cr_expect_gt(p.us, 0);
  oc_model_kind_info(model, oc_op_fc, oc_dtype_f32, &info);
  cr_expect_not(info.present);
  /* Invalid op: the validation message. */
  struct oc_op bad = conv(7, 8, 8, 1, 1, 3);
  cr_expect_neq(oc_model_predict_op(model, &bad, &p), oc_status_ok);
  oc_model_free(model);
  oc_model_data_free(data);
}

/* A law XGBoost should catch and ridge cannot: a step cost for channel
 * counts that are not a multiple of the 8 f32 lanes. */
static double step_law(const struct oc_model_device *d, const struct oc_op *op) {
  double base = 3.0 + 1.5 * oc_model_roofline_us(d, op);
  return op->cout % 8 != 0 ? base * 1.6 : base;
}

Test(model_fit, save_load_round_trip_keeps_every_prediction) {
  mk_tmp();
  struct oc_model_device d = test_device();
  struct oc_model_data *data = conv_data(&d, step_law);
  struct oc_model_fit_opts o = quick_opts();
  struct oc_model *model = NULL, *loaded = NULL;
  cr_assert_eq(oc_model_fit(data, &d, NULL, &o, &model), oc_status_ok, "%s", oc_errmsg());
  struct oc_model_kind_info info;
  oc_model_kind_info(model, oc_op_conv2d, oc_dtype_f32, &info);
  cr_expect_eq(info.type, oc_model_xgboost, "chose %s (CV MAPE %g)", oc_model_type_name(info.type),
               info.cv_mape);
  char path[512];
  tmp_path(path, sizeof path, "model.json");
  cr_assert_eq(oc_model_save(model, path), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_model_load(path, &loaded), oc_status_ok, "%s", oc_errmsg());
  for (size_t i = 0; i < data->n; i += 7) {
    struct oc_model_prediction a, b;
    cr_assert_eq(oc_model_predict_op(model, &data->samples[i].op, &a), oc_status_ok);
    cr_assert_eq(oc_model_predict_op(loaded, &data->samples[i].op, &b), oc_status_ok);
    cr_expect_float_eq(a.us, b.us, 1e-9 * a.us, "row %zu: %g vs %g", i, a.us, b.us);
    cr_expect_float_eq(a.hi_us, b.hi_us, 1e-9 * a.hi_us);
  }
  cr_expect_str_eq(oc_model_get_device(loaded)->fingerprint, d.fingerprint);
  /* Far outside the grid (k=11, 160 channels on 90x90): trees cannot
   * extrapolate, so the kind's roofline predicts it, flagged, in both. */
  struct oc_op far = conv(90, 160, 160, 11, 1, 1);
  struct oc_model_prediction pa, pb;
  cr_assert_eq(oc_model_predict_op(model, &far, &pa), oc_status_ok);
  cr_assert_eq(oc_model_predict_op(loaded, &far, &pb), oc_status_ok);
  cr_expect(pa.flags & oc_model_pred_extrapolated);
  cr_expect(pb.flags & oc_model_pred_extrapolated);
  cr_expect_eq(pa.type, oc_model_roofline);
  cr_expect_float_eq(pa.us, pb.us, 1e-9 * pa.us);
  double law = step_law(&d, &far);
  cr_expect(pa.us > 0.5 * law && pa.us < 2 * law, "extrapolated %g, law %g", pa.us, law);
  struct oc_op inside = data->samples[10].op;
  cr_assert_eq(oc_model_predict_op(model, &inside, &pa), oc_status_ok);
  cr_expect_eq(pa.flags, 0u);
  /* The embedded booster is XGBoost's own JSON. */
  json_error_t e;
  json_t *root = json_load_file(path, 0, &e);
  cr_assert_not_null(root, "%s", e.text);
  cr_expect_str_eq(json_string_value(json_object_get(root, "format")), OC_MODEL_FORMAT);
  json_t *k = json_object_get(json_object_get(root, "kinds"), "conv2d.f32");
  json_t *booster = json_object_get(json_object_get(k, "xgboost"), "booster");
  cr_expect_not_null(json_object_get(json_object_get(booster, "learner"), "gradient_booster"));
  json_t *config = json_object_get(json_object_get(k, "xgboost"), "config");
  cr_expect_not_null(json_object_get(json_object_get(config, "learner"), "gradient_booster"),
                     "the booster's JSON config is kept");
  json_decref(root);
  oc_model_free(model);
  oc_model_free(loaded);
  oc_model_data_free(data);
  rm_tmp();
}

static struct oc_net *small_net(const char *name, int h, int c1, int c2, int k);

Test(model_fit, batched_network_predictions_match_single_ops) {
  struct oc_model_device d = test_device();
  struct oc_model_data *data = conv_data(&d, step_law);
  struct oc_model_fit_opts o = quick_opts();
  struct oc_model *model = NULL;
  cr_assert_eq(oc_model_fit(data, &d, NULL, &o, &model), oc_status_ok, "%s", oc_errmsg());
  struct oc_model_kind_info info;
  oc_model_kind_info(model, oc_op_conv2d, oc_dtype_f32, &info);
  cr_assert_eq(info.type, oc_model_xgboost);
  struct oc_net *net = small_net("batch-1", 14, 36, 24, 3);
  struct oc_model_prediction per[16];
  struct oc_model_net_prediction np;
  oc_model_cache_clear(model);
  cr_assert_eq(oc_model_predict_net(model, net, per, &np), oc_status_ok, "%s", oc_errmsg());
  oc_model_cache_clear(model);
  int boosted = 0;
  for (int i = 0; i < net->n_kernels; i++) {
    if (net->kernels[i].step != oc_net_step_op) continue;
    struct oc_model_prediction one;
    cr_assert_eq(oc_model_predict_op(model, &net->kernels[i].op, &one), oc_status_ok);
    cr_expect_float_eq(per[i].us, one.us, 1e-12 * one.us, "kernel %d: %g vs %g", i, per[i].us,
                       one.us);
    cr_expect_eq(per[i].type, one.type);
    boosted += one.type == oc_model_xgboost;
  }
  cr_expect_geq(boosted, 2);
  oc_net_free(net);
  oc_model_free(model);
  oc_model_data_free(data);
}

Test(model_fit, predictions_are_cached_per_op) {
  struct oc_model_device d = test_device();
  struct oc_model_data *data = conv_data(&d, conv_law);
  struct oc_model_fit_opts o = quick_opts();
  o.use_xgboost = false;
  struct oc_model *model = NULL;
  cr_assert_eq(oc_model_fit(data, &d, NULL, &o, &model), oc_status_ok, "%s", oc_errmsg());
  oc_model_cache_clear(model);
  cr_expect_eq(oc_model_cache_size(model), 0);
  struct oc_op op = conv(14, 16, 32, 3, 1, 1);
  struct oc_model_prediction a, b;
  cr_assert_eq(oc_model_predict_op(model, &op, &a), oc_status_ok);
  cr_expect_eq(oc_model_cache_size(model), 1);
  cr_assert_eq(oc_model_predict_op(model, &op, &b), oc_status_ok);
  cr_expect_eq(oc_model_cache_size(model), 1);
  cr_expect_eq(a.us, b.us);
  op.cout = 48;
  cr_assert_eq(oc_model_predict_op(model, &op, &b), oc_status_ok);
  cr_expect_eq(oc_model_cache_size(model), 2);
  oc_model_free(model);
  oc_model_data_free(data);
}

Test(model_fit, device_mismatch_warns_or_refuses) {
  struct oc_model_device d = test_device();
  struct oc_model_data *data = conv_data(&d, conv_law);
  struct oc_model_fit_opts o = quick_opts();
  o.use_xgboost = false;
  struct oc_model *model = NULL;
  cr_assert_eq(oc_model_fit(data, &d, NULL, &o, &model), oc_status_ok);
  bool mismatch = true;
  cr_expect_eq(oc_model_check_device(model, d.fingerprint, 1, true, &mismatch), oc_status_ok);
  cr_expect_not(mismatch);
  cr_expect_eq(oc_model_check_device(model, "ffffffffffffffff", 0, false, &mismatch), oc_status_ok);
  cr_expect(mismatch);
  cr_expect(strstr(oc_errmsg(), "ffffffffffffffff") != NULL, "%s", oc_errmsg());
  cr_expect_eq(oc_model_check_device(model, "ffffffffffffffff", 0, true, NULL),
               oc_status_incompatible);
  cr_expect_eq(oc_model_check_device(model, d.fingerprint, 4, true, NULL), oc_status_incompatible);
  oc_model_free(model);
  oc_model_data_free(data);
}

/* ---- malformed model files ---- */

Test(model_io, malformed_files_name_file_and_field) {
  mk_tmp();
  char path[512];
  struct oc_model *m = NULL;
  tmp_path(path, sizeof path, "broken.json");
  write_text(path, "{\"format\": \"opcost-model/1\",\n \"device\": [}\n");
  cr_expect_eq(oc_model_load(path, &m), oc_status_parse_error);
  cr_expect(strstr(oc_errmsg(), "broken.json: line 2") != NULL, "%s", oc_errmsg());
  tmp_path(path, sizeof path, "other.json");
  write_text(path, "{\"format\": \"opcost-model/9\"}");
  cr_expect_eq(oc_model_load(path, &m), oc_status_incompatible);
  cr_expect(strstr(oc_errmsg(), "other.json: field 'format'") != NULL, "%s", oc_errmsg());
  tmp_path(path, sizeof path, "nodevice.json");
  write_text(path, "{\"format\": \"opcost-model/1\", \"device\": {\"fingerprint\": \"ab\"}}");
  cr_expect_eq(oc_model_load(path, &m), oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "nodevice.json: field 'device.target': missing") != NULL, "%s",
            oc_errmsg());
  tmp_path(path, sizeof path, "absent.json");
  cr_expect_eq(oc_model_load(path, &m), oc_status_io_error);
  cr_expect_null(m);

  /* A real model with one field broken at a time. */
  struct oc_model_device d = test_device();
  struct oc_model_data *data = conv_data(&d, conv_law);
  struct oc_model_fit_opts o = quick_opts();
  o.use_xgboost = false;
  struct oc_model *model = NULL;
  cr_assert_eq(oc_model_fit(data, &d, NULL, &o, &model), oc_status_ok);
  json_t *root = NULL;
  cr_assert_eq(oc_model_to_json(model, &root), oc_status_ok);
  json_t *k = json_object_get(json_object_get(root, "kinds"), "conv2d.f32");
  cr_assert_not_null(k);
  json_t *ridge = json_object_get(k, "ridge");
  cr_assert_not_null(ridge, "ridge is fitted on 192 rows");
  json_array_set_new(json_object_get(ridge, "coef"), 2, json_string("x"));
  cr_expect_eq(oc_model_from_json(root, "m.json", &m), oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "m.json: field 'kinds.conv2d.f32.ridge.coef[2]'") != NULL, "%s",
            oc_errmsg());
  json_object_del(k, "ridge");
  json_object_set_new(k, "model", json_string("ridge"));
  cr_expect_eq(oc_model_from_json(root, "m.json", &m), oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "no 'ridge' object") != NULL, "%s", oc_errmsg());
  json_object_set_new(k, "model", json_string("roofline"));
  json_array_set_new(json_object_get(k, "features"), 0, json_string("log_something_else"));
  cr_expect_eq(oc_model_from_json(root, "m.json", &m), oc_status_incompatible);
  cr_expect(strstr(oc_errmsg(), "features[0]") != NULL, "%s", oc_errmsg());
  json_decref(root);
  oc_model_free(model);
  oc_model_data_free(data);
  rm_tmp();
}

/* ---- networks ---- */

static struct oc_net *small_net(const char *name, int h, int c1, int c2, int k) {
  char text[1024];
  snprintf(text, sizeof text,
           "{\"format\":\"opcost-net/1\",\"name\":\"%s\",\"input\":{\"h\":%d,\"w\":%d,\"c\":8},"
           "\"dtype\":\"f32\",\"layers\":[{\"op\":\"conv2d\",\"cout\":%d,\"k\":%d,\"s\":1,"
           "\"act\":\"relu\"},{\"op\":\"conv2d\",\"cout\":%d,\"k\":1,\"s\":1,\"act\":\"relu\"},"
           "{\"op\":\"gap\"}]}",
           name, h, h, c1, k, c2);
  struct oc_net *net = NULL;
  cr_assert_eq(oc_net_from_string(text, name, &net), oc_status_ok, "%s", oc_errmsg());
  return net;
}

Test(model_net, composition_recovers_overhead_and_scale) {
  struct oc_model_device d = test_device();
  struct oc_model_data *data = conv_data(&d, conv_law);
  struct oc_model_fit_opts o = quick_opts();
  o.use_xgboost = false;
  struct oc_model *plain = NULL, *model = NULL;
  /* The law's networks: 1.2 x the plain sum of kernel predictions + 40 us. */
  cr_assert_eq(oc_model_fit(data, &d, NULL, &o, &plain), oc_status_ok, "%s", oc_errmsg());
  struct oc_model_netset *nets = NULL;
  cr_assert_eq(oc_model_netset_create(&nets), oc_status_ok);
  static const int hs[] = {8, 12, 16, 20, 24, 28, 32, 40, 48, 56};
  for (int i = 0; i < 10; i++) {
    char name[32];
    snprintf(name, sizeof name, "%s-%d", i % 2 ? "odd" : "even", i);
    struct oc_net *net =
        small_net(name, hs[i], 16 + 8 * (i % 3), 24 + 8 * (i % 4), 1 + 2 * (i % 2));
    struct oc_model_net_prediction np;
    cr_assert_eq(oc_model_predict_net(plain, net, NULL, &np), oc_status_ok, "%s", oc_errmsg());
    cr_assert_eq(oc_model_netset_add(nets, net, 1.2 * np.kernel_sum_us + 40, NULL), oc_status_ok);
  }
  cr_expect_str_eq(nets->items[3].family, "odd");
  /* Family from a name: a trailing size or version goes, a space name stays. */
  cr_assert_eq(oc_model_netset_add(nets, small_net("resnet-50", 8, 8, 8, 1), 100, NULL),
               oc_status_ok);
  cr_assert_eq(oc_model_netset_add(nets, small_net("ofa-mbv3-w1.0", 8, 8, 8, 1), 100, NULL),
               oc_status_ok);
  cr_expect_str_eq(nets->items[10].family, "resnet");
  cr_expect_str_eq(nets->items[11].family, "ofa-mbv3-w1.0");
  nets->n -= 2; /* keep them out of the fit below */
  oc_net_free(nets->items[10].net);
  oc_net_free(nets->items[11].net);
  cr_assert_eq(oc_model_fit(data, &d, nets, &o, &model), oc_status_ok, "%s", oc_errmsg());
  struct oc_model_net_prediction np;
  struct oc_net *net = small_net("new", 36, 32, 40, 3);
  struct oc_model_prediction per[16];
  cr_assert_lt(net->n_kernels, 16);
  cr_assert_eq(oc_model_predict_net(model, net, per, &np), oc_status_ok);
  double want = 1.2 * np.kernel_sum_us + 40;
  cr_expect_lt(fabs(np.us - want) / want, 0.03, "net %g, law %g", np.us, want);
  double sum = 0;
  for (int i = 0; i < net->n_kernels; i++) sum += per[i].us;
  cr_expect_float_eq(sum, np.kernel_sum_us, 1e-9 * sum);
  cr_expect_eq(np.n_kernels, net->n_kernels);
  cr_expect_leq(np.lo_us, np.us);
  cr_expect_geq(np.hi_us, np.us);
  /* gap was never fitted: the network says so. */
  cr_expect_geq(np.n_fallback, 1);
  cr_expect_eq(np.n_missing, 1);
  cr_expect_str_eq(np.missing[0], "gap.f32");
  /* Evaluation over the training networks. */
  double pred[10];
  struct oc_model_metrics m;
  cr_assert_eq(oc_model_eval_nets(model, nets, pred, NULL, NULL, &m), oc_status_ok);
  cr_expect_eq(m.n, 10);
  cr_expect_lt(m.mape, 0.03);
  cr_expect_gt(m.spearman_rho, 0.9);
  oc_net_free(net);
  oc_model_netset_free(nets);
  oc_model_free(plain);
  oc_model_free(model);
  oc_model_data_free(data);
}

Test(model_net, netset_reads_jsonl_and_names_bad_lines) {
  mk_tmp();
  char path[512], netpath[512], jl[512], line[2048];
  tmp_path(netpath, sizeof netpath, "a.json");
  write_text(
      netpath,
      "{\"format\":\"opcost-net/1\",\"name\":\"alpha-1\",\"input\":{\"h\":8,\"w\":8,\"c\":8},"
      "\"dtype\":\"f32\",\"layers\":[{\"op\":\"conv2d\",\"cout\":16,\"k\":3}]}");
  struct oc_net *net = NULL;
  cr_assert_eq(oc_net_load_file(netpath, &net), oc_status_ok, "%s", oc_errmsg());
  tmp_path(jl, sizeof jl, "m.jsonl");
  snprintf(line, sizeof line,
           "{\"name\":\"alpha-1\",\"hash\":\"%s\",\"fingerprint\":\"ab12\",\"threads\":1,"
           "\"stats\":{\"median_us\":12.5}}\n\n"
           "{\"path\":\"a.json\",\"median_us\":13,\"family\":\"fam\"}\n"
           "{\"net\":{\"format\":\"opcost-net/1\",\"name\":\"beta-2\",\"input\":{\"h\":4,\"w\":4,"
           "\"c\":8},\"dtype\":\"f32\",\"layers\":[{\"op\":\"gap\"}]},\"measurement\":{\"stats\":"
           "{\"median_us\":2}}}\n",
           net->hash_hex);
  write_text(jl, line);
  struct oc_model_netset *nets = NULL;
  const char *files[1] = {netpath};
  cr_assert_eq(oc_model_netset_load(jl, files, 1, &nets), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(nets->n, 3);
  cr_expect_float_eq(nets->items[0].measured_us, 12.5, 1e-12);
  cr_expect_str_eq(nets->items[0].fingerprint, "ab12");
  cr_expect_str_eq(nets->items[0].family, "alpha");
  cr_expect_eq(nets->items[0].threads, 1);
  cr_expect_str_eq(nets->items[1].family, "fam");
  cr_expect_str_eq(nets->items[2].name, "beta-2");
  cr_expect_float_eq(nets->items[2].measured_us, 2, 1e-12);
  oc_model_netset_free(nets);
  /* Without the network file the hash cannot be resolved. */
  cr_expect_eq(oc_model_netset_load(jl, NULL, 0, &nets), oc_status_not_found);
  cr_expect(strstr(oc_errmsg(), "m.jsonl: line 1") != NULL, "%s", oc_errmsg());
  tmp_path(path, sizeof path, "bad.jsonl");
  write_text(path, "{\"path\":\"a.json\",\"median_us\":13}\n{\"path\":\"a.json\"}\n");
  cr_expect_eq(oc_model_netset_load(path, NULL, 0, &nets), oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "bad.jsonl: line 2: field 'median_us'") != NULL, "%s", oc_errmsg());
  write_text(path, "{\"path\":\"a.json\",\"median_us\":-1}\n");
  cr_expect_eq(oc_model_netset_load(path, NULL, 0, &nets), oc_status_invalid_argument);
  write_text(path, "{\"path\":\"a.json\",\"median_us\":1,\n");
  cr_expect_eq(oc_model_netset_load(path, NULL, 0, &nets), oc_status_parse_error);
  oc_net_free(net);
  rm_tmp();
}

/* ---- cross-validation ---- */

Test(model_cv, kernel_kfold_predicts_every_row_once) {
  struct oc_model_device d = test_device();
  struct oc_model_data *data = conv_data(&d, conv_law);
  struct oc_model_fit_opts o = quick_opts();
  o.use_xgboost = false;
  o.folds = 4;
  struct oc_model_cv_report r;
  cr_assert_eq(oc_model_cross_validate(data, &d, NULL, oc_model_cv_kfold, &o, &r), oc_status_ok,
               "%s", oc_errmsg());
  cr_expect_eq(r.n, data->n);
  cr_expect_eq(r.n_folds, 4);
  cr_expect_not(r.networks);
  size_t tested = 0;
  for (size_t f = 0; f < r.n_folds; f++) tested += r.folds[f].n_test;
  cr_expect_eq(tested, data->n);
  for (size_t i = 0; i < r.n; i++) cr_assert_gt(r.pred[i], 0);
  cr_expect_lt(r.overall.mape, 0.05);
  cr_expect_gt(r.overall.kendall_tau, 0.9);
  oc_model_cv_report_clear(&r);
  cr_expect_eq(oc_model_cross_validate(data, &d, NULL, oc_model_cv_family, &o, &r),
               oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "needs measured networks") != NULL, "%s", oc_errmsg());
  oc_model_data_free(data);
}

Test(model_cv, family_holdout_leaves_out_unseen_kernels) {
  struct oc_model_device d = test_device();
  struct oc_model_data *data = conv_data(&d, conv_law);
  struct oc_model_netset *nets = NULL;
  cr_assert_eq(oc_model_netset_create(&nets), oc_status_ok);
  /* Family "wide" uses shapes outside the LUT grid too: add its kernels. */
  for (int i = 0; i < 8; i++) {
    char name[32];
    bool wide = i >= 4;
    snprintf(name, sizeof name, "%s-%d", wide ? "wide" : "narrow", i);
    struct oc_net *net = small_net(name, 8 + 4 * i, wide ? 72 : 16, wide ? 80 : 24, 3);
    for (int k = 0; k < net->n_kernels; k++) {
      const struct oc_net_kernel *kk = &net->kernels[k];
      if (kk->step == oc_net_step_op && kk->op.kind == oc_op_conv2d)
        cr_assert_eq(oc_model_data_add(data, &kk->op, conv_law(&d, &kk->op)), oc_status_ok);
    }
    cr_assert_eq(oc_model_netset_add(nets, net, 100.0 + 10 * i, NULL), oc_status_ok);
  }
  struct oc_model_fit_opts o = quick_opts();
  o.use_xgboost = false;
  struct oc_model_cv_report r;
  cr_assert_eq(oc_model_cross_validate(data, &d, nets, oc_model_cv_family, &o, &r), oc_status_ok,
               "%s", oc_errmsg());
  cr_expect(r.networks);
  cr_assert_eq(r.n_folds, 2);
  cr_expect_str_eq(r.folds[0].name, "narrow");
  cr_expect_str_eq(r.folds[1].name, "wide");
  cr_expect_gt(r.folds[1].excluded_rows, 0);
  cr_expect_eq(r.folds[0].n_test, 4);
  cr_expect_eq(r.folds[0].n_train_nets, 4);
  cr_expect_eq(r.n, 8);
  oc_model_cv_report_clear(&r);
  oc_model_netset_free(nets);
  oc_model_data_free(data);
}
