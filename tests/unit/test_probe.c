/* test_probe.c - the measurement harness: statistics on known samples
 * (median, percentiles, MAD, CV, the median's confidence interval), the
 * adaptive stopping rule driven by synthetic sample sources, option checks,
 * the timer and environment capture. Nothing here asserts on speed. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "opcost/opcost.h"

#define EPS 1e-12

/* ---- statistics ------------------------------------------------------- */

Test(probe_stats, one_to_ten) {
  double x[10] = {7, 1, 10, 3, 5, 2, 9, 4, 8, 6}; /* unsorted on purpose */
  double copy[10];
  memcpy(copy, x, sizeof x);
  struct oc_stats s;
  cr_assert_eq(oc_stats_compute(x, 10, 0.95, &s), oc_status_ok);
  cr_assert_eq(memcmp(x, copy, sizeof x), 0, "input must not be reordered");
  cr_assert_eq(s.n, 10);
  cr_assert_float_eq(s.min_us, 1.0, EPS);
  cr_assert_float_eq(s.max_us, 10.0, EPS);
  cr_assert_float_eq(s.median_us, 5.5, EPS);
  cr_assert_float_eq(s.mean_us, 5.5, EPS);
  cr_assert_float_eq(s.p10_us, 1.9, EPS); /* 1 + 0.1 * 9 * (2 - 1) */
  cr_assert_float_eq(s.p90_us, 9.1, EPS);
  cr_assert_float_eq(s.mad_us, 2.5, EPS);
  cr_assert_float_eq(s.stddev_us, sqrt(55.0 / 6.0), 1e-12);
  cr_assert_float_eq(s.cv, sqrt(55.0 / 6.0) / 5.5, 1e-12);
  /* Exact binomial: P(X <= 1) = 11/1024 <= 0.025 < P(X <= 2) = 56/1024,
   * so the interval is [x(2), x(9)]. */
  cr_assert_float_eq(s.ci_low_us, 2.0, EPS);
  cr_assert_float_eq(s.ci_high_us, 9.0, EPS);
  cr_assert_float_eq(s.ci_rel, 3.5 / 5.5, 1e-12);
  cr_assert_float_eq(s.confidence, 0.95, EPS);
}

Test(probe_stats, odd_count) {
  double x[3] = {5, 1, 3};
  struct oc_stats s;
  cr_assert_eq(oc_stats_compute(x, 3, 0.95, &s), oc_status_ok);
  cr_assert_float_eq(s.median_us, 3.0, EPS);
  cr_assert_float_eq(s.p10_us, 1.4, EPS);
  cr_assert_float_eq(s.p90_us, 4.6, EPS);
  cr_assert_float_eq(s.mad_us, 2.0, EPS);
  /* Three samples cannot give 95 %: the widest interval is reported. */
  cr_assert_float_eq(s.ci_low_us, 1.0, EPS);
  cr_assert_float_eq(s.ci_high_us, 5.0, EPS);
}

Test(probe_stats, one_sample) {
  double x = 42.0;
  struct oc_stats s;
  cr_assert_eq(oc_stats_compute(&x, 1, 0.95, &s), oc_status_ok);
  cr_assert_float_eq(s.median_us, 42.0, EPS);
  cr_assert_float_eq(s.stddev_us, 0.0, EPS);
  cr_assert_float_eq(s.ci_rel, 0.0, EPS);
  cr_assert_float_eq(s.mad_us, 0.0, EPS);
}

Test(probe_stats, median_interval_n100_matches_table) {
  /* The textbook 95 % interval of the median of 100 samples is
   * [x(40), x(61)]. */
  double x[100];
  for (int i = 0; i < 100; i++) x[i] = 100 - i; /* 100 .. 1 */
  struct oc_stats s;
  cr_assert_eq(oc_stats_compute(x, 100, 0.95, &s), oc_status_ok);
  cr_assert_float_eq(s.ci_low_us, 40.0, EPS);
  cr_assert_float_eq(s.ci_high_us, 61.0, EPS);
  cr_assert_float_eq(s.median_us, 50.5, EPS);
}

Test(probe_stats, median_interval_normal_approximation) {
  /* n = 1001 > 200: l = floor((n - 1.959964 sqrt(n)) / 2) = 469. */
  static double x[1001];
  for (int i = 0; i < 1001; i++) x[i] = i;
  struct oc_stats s;
  cr_assert_eq(oc_stats_compute(x, 1001, 0.95, &s), oc_status_ok);
  cr_assert_float_eq(s.median_us, 500.0, EPS);
  cr_assert_float_eq(s.ci_low_us, 468.0, EPS);
  cr_assert_float_eq(s.ci_high_us, 532.0, EPS);
  cr_assert_float_eq(s.p10_us, 100.0, EPS);
  cr_assert_float_eq(s.p90_us, 900.0, EPS);
}

Test(probe_stats, wider_confidence_wider_interval) {
  double x[60];
  for (int i = 0; i < 60; i++) x[i] = (i * 37) % 60;
  struct oc_stats s90, s99;
  cr_assert_eq(oc_stats_compute(x, 60, 0.90, &s90), oc_status_ok);
  cr_assert_eq(oc_stats_compute(x, 60, 0.99, &s99), oc_status_ok);
  cr_assert(s99.ci_low_us < s90.ci_low_us);
  cr_assert(s99.ci_high_us > s90.ci_high_us);
}

Test(probe_stats, rejects_bad_input) {
  double x[3] = {1, NAN, 3};
  struct oc_stats s;
  cr_assert_eq(oc_stats_compute(x, 0, 0.95, &s), oc_status_invalid_argument);
  cr_assert_eq(oc_stats_compute(x, 3, 0.95, &s), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "sample 1") != NULL, "message: %s", oc_errmsg());
  x[1] = 2;
  cr_assert_eq(oc_stats_compute(x, 3, 1.0, &s), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "confidence") != NULL, "message: %s", oc_errmsg());
}

/* ---- adaptive stopping --------------------------------------------------- */

struct synth {
  uint64_t state;
  double base;
  double spread;     /* relative noise amplitude */
  int disturb_every; /* every k-th sample is disturbed; 0 = never */
  int calls;
  int fail_at;   /* take() fails on this call; 0 = never */
  long sleep_ns; /* each take() lasts at least this long */
};

static double uniform(struct synth *s) {
  s->state = s->state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(s->state >> 11) * 0x1.0p-53;
}

static enum oc_status synth_take(void *ctx, double *us, bool *disturbed) {
  struct synth *s = ctx;
  s->calls++;
  if (s->sleep_ns > 0) {
    struct timespec ts = {0, s->sleep_ns};
    nanosleep(&ts, NULL);
  }
  if (s->fail_at && s->calls == s->fail_at) return oc_status_device_error;
  /* Right-skewed noise, like timings: base * (1 + spread * u^2). */
  double u = uniform(s);
  *us = s->base * (1.0 + s->spread * u * u);
  *disturbed = s->disturb_every > 0 && s->calls % s->disturb_every == 0;
  return oc_status_ok;
}

static struct oc_measure_opts fast_opts(void) {
  struct oc_measure_opts o;
  oc_measure_opts_default(&o);
  o.min_time_s = 0;
  o.max_time_s = 5;
  return o;
}

Test(probe_adaptive, constant_source_stops_at_min_samples) {
  struct synth s = {.state = 1, .base = 10.0};
  struct oc_sample_source src = {synth_take, &s};
  struct oc_measure_opts o = fast_opts();
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_adaptive(&src, &o, &m), oc_status_ok);
  cr_assert_eq(m.stats.n, OC_PROBE_MIN_SAMPLES);
  cr_assert_eq(m.stop, oc_stop_converged);
  cr_assert_float_eq(m.stats.median_us, 10.0, EPS);
  cr_assert_eq(m.n_warnings, 0);
  cr_assert_null(m.raw_us);
}

Test(probe_adaptive, noisy_source_runs_until_interval_is_tight) {
  struct synth s = {.state = 7, .base = 100.0, .spread = 0.5};
  struct oc_sample_source src = {synth_take, &s};
  struct oc_measure_opts o = fast_opts();
  o.raw = true;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_adaptive(&src, &o, &m), oc_status_ok);
  cr_assert_eq(m.stop, oc_stop_converged);
  cr_assert(m.stats.ci_rel <= 0.01, "ci_rel %g", m.stats.ci_rel);
  cr_assert(m.stats.n > 20, "n %lld: noise this large needs more than a few samples",
            (long long)m.stats.n);
  cr_assert_eq(m.n_raw, (size_t)m.stats.n);
  cr_assert_not_null(m.raw_us);
  for (size_t i = 0; i < m.n_raw; i++) cr_assert(m.raw_us[i] >= 100.0 && m.raw_us[i] <= 150.0);
  /* A tighter target needs at least as many samples. */
  struct synth s2 = {.state = 7, .base = 100.0, .spread = 0.5};
  struct oc_sample_source src2 = {synth_take, &s2};
  o.target_ci = 0.002;
  o.raw = false;
  struct oc_measurement m2;
  memset(&m2, 0, sizeof m2);
  cr_assert_eq(oc_probe_adaptive(&src2, &o, &m2), oc_status_ok);
  cr_assert(m2.stats.n > m.stats.n);
  oc_measurement_release(&m);
  cr_assert_null(m.raw_us);
}

Test(probe_adaptive, sample_cap) {
  struct synth s = {.state = 3, .base = 1.0, .spread = 5.0};
  struct oc_sample_source src = {synth_take, &s};
  struct oc_measure_opts o = fast_opts();
  o.max_samples = 50;
  o.target_ci = 1e-6;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_adaptive(&src, &o, &m), oc_status_ok);
  cr_assert_eq(m.stop, oc_stop_sample_cap);
  cr_assert_eq(m.stats.n, 50);
  cr_assert(m.n_warnings >= 1);
  cr_assert(strstr(m.warnings[0], "sample cap") != NULL, "%s", m.warnings[0]);
}

Test(probe_adaptive, time_cap_keeps_min_samples) {
  struct synth s = {.state = 5, .base = 1.0, .spread = 50.0};
  struct oc_sample_source src = {synth_take, &s};
  struct oc_measure_opts o = fast_opts();
  o.max_time_s = 1e-9; /* already over after the first sample */
  o.target_ci = 1e-6;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_adaptive(&src, &o, &m), oc_status_ok);
  cr_assert_eq(m.stop, oc_stop_time_cap);
  cr_assert_eq(m.stats.n, OC_PROBE_MIN_SAMPLES);
}

Test(probe_adaptive, min_time_is_honoured) {
  struct synth s = {.state = 1, .base = 10.0, .sleep_ns = 100000};
  struct oc_sample_source src = {synth_take, &s};
  struct oc_measure_opts o = fast_opts();
  o.min_time_s = 0.02;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(oc_probe_adaptive(&src, &o, &m), oc_status_ok);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  cr_assert(took >= 0.02, "stopped after %g s", took);
  cr_assert_eq(m.stop, oc_stop_converged);
  cr_assert(m.stats.n > OC_PROBE_MIN_SAMPLES);
}

Test(probe_adaptive, disturbed_samples_are_retaken) {
  struct synth s = {.state = 1, .base = 10.0, .disturb_every = 3};
  struct oc_sample_source src = {synth_take, &s};
  struct oc_measure_opts o = fast_opts();
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_adaptive(&src, &o, &m), oc_status_ok);
  /* Calls 3 and 6 are disturbed; 7 calls give 5 accepted samples. */
  cr_assert_eq(m.stats.n, 5);
  cr_assert_eq(m.rejected, 2);
  cr_assert_eq(s.calls, 7);
}

Test(probe_adaptive, rejection_limit_keeps_samples_and_warns) {
  struct synth s = {.state = 1, .base = 10.0, .disturb_every = 1};
  struct oc_sample_source src = {synth_take, &s};
  struct oc_measure_opts o = fast_opts();
  o.max_rejected = 10;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_adaptive(&src, &o, &m), oc_status_ok);
  cr_assert_eq(m.rejected, 10);
  cr_assert_eq(m.stats.n, 5);
  bool warned = false;
  for (int i = 0; i < m.n_warnings; i++) warned |= strstr(m.warnings[i], "disturbed") != NULL;
  cr_assert(warned);
}

Test(probe_adaptive, rejection_can_be_disabled) {
  struct synth s = {.state = 1, .base = 10.0, .disturb_every = 2};
  struct oc_sample_source src = {synth_take, &s};
  struct oc_measure_opts o = fast_opts();
  o.reject_disturbed = false;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_adaptive(&src, &o, &m), oc_status_ok);
  cr_assert_eq(m.rejected, 0);
  cr_assert_eq(s.calls, 5);
}

Test(probe_adaptive, source_failure_propagates) {
  struct synth s = {.state = 1, .base = 10.0, .fail_at = 3};
  struct oc_sample_source src = {synth_take, &s};
  struct oc_measure_opts o = fast_opts();
  o.raw = true;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_adaptive(&src, &o, &m), oc_status_device_error);
  cr_assert_null(m.raw_us);
}

Test(probe_adaptive, cv_warning) {
  struct synth s = {.state = 9, .base = 1.0, .spread = 3.0};
  struct oc_sample_source src = {synth_take, &s};
  struct oc_measure_opts o = fast_opts();
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_adaptive(&src, &o, &m), oc_status_ok);
  cr_assert(m.stats.cv > o.warn_cv);
  bool warned = false;
  for (int i = 0; i < m.n_warnings; i++) warned |= strstr(m.warnings[i], "CV") != NULL;
  cr_assert(warned);
}

/* ---- options ---------------------------------------------------------------- */

Test(probe_opts, defaults_are_valid_and_documented_values) {
  struct oc_measure_opts o;
  oc_measure_opts_default(&o);
  cr_assert_eq(oc_measure_opts_check(&o), oc_status_ok);
  cr_assert_eq(o.min_samples, 5);
  cr_assert_float_eq(o.target_ci, 0.01, EPS);
  cr_assert_eq(o.cache, oc_cache_warm);
  cr_assert(o.reject_disturbed);
}

Test(probe_opts, bad_values_name_the_field) {
  struct oc_measure_opts o;
  oc_measure_opts_default(&o);
  o.min_samples = 4;
  cr_assert_eq(oc_measure_opts_check(&o), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "min_samples") != NULL, "%s", oc_errmsg());
  oc_measure_opts_default(&o);
  o.target_ci = 0;
  cr_assert_eq(oc_measure_opts_check(&o), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "target_ci") != NULL, "%s", oc_errmsg());
  oc_measure_opts_default(&o);
  o.max_time_s = 0.001;
  o.min_time_s = 1;
  cr_assert_eq(oc_measure_opts_check(&o), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "max_time_s") != NULL, "%s", oc_errmsg());
  oc_measure_opts_default(&o);
  o.clock = oc_clock_device;
  cr_assert_eq(oc_measure_opts_check(&o), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "clock") != NULL, "%s", oc_errmsg());
}

/* ---- timer ---------------------------------------------------------------------- */

Test(probe_timer, auto_clock_has_positive_resolution) {
  struct oc_timer_info t;
  cr_assert_eq(oc_probe_timer(oc_clock_auto, &t), oc_status_ok);
  cr_assert(t.resolution_ns > 0, "resolution %g", t.resolution_ns);
  cr_assert(t.overhead_ns > 0, "overhead %g", t.overhead_ns);
  cr_assert(t.tick_ns > 0);
  cr_assert(t.name[0] != '\0');
  cr_assert(t.clock == oc_clock_tsc || t.clock == oc_clock_monotonic_raw);
  if (t.clock == oc_clock_tsc) cr_assert(t.tsc_mhz > 0);
}

Test(probe_timer, monotonic_raw_always_works) {
  struct oc_timer_info t;
  cr_assert_eq(oc_probe_timer(oc_clock_monotonic_raw, &t), oc_status_ok);
  cr_assert_eq(t.clock, oc_clock_monotonic_raw);
  cr_assert(t.resolution_ns > 0);
  cr_assert(isnan(t.tsc_mhz));
}

Test(probe_timer, tsc_is_usable_or_says_why) {
  struct oc_timer_info t;
  enum oc_status st = oc_probe_timer(oc_clock_tsc, &t);
  if (st == oc_status_ok) {
    cr_assert(strstr(t.name, "TSC") != NULL);
  } else {
    cr_assert_eq(st, oc_status_unavailable);
    cr_assert(strstr(oc_errmsg(), "tsc") != NULL);
  }
  cr_assert_eq(oc_probe_timer(oc_clock_device, &t), oc_status_invalid_argument);
}

Test(probe_timer, clock_names_round_trip) {
  enum oc_clock all[] = {oc_clock_auto, oc_clock_monotonic_raw, oc_clock_tsc, oc_clock_device};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    enum oc_clock back;
    cr_assert_eq(oc_clock_from_name(oc_clock_name(all[i]), &back), oc_status_ok);
    cr_assert_eq(back, all[i]);
  }
  enum oc_clock c;
  cr_assert_eq(oc_clock_from_name("sundial", &c), oc_status_not_found);
}

/* ---- environment -------------------------------------------------------------------- */

Test(probe_env, capture_never_fails_and_round_trips) {
  struct oc_env e;
  oc_env_capture(NULL, &e);
  oc_env_finish(&e);
  cr_assert_str_eq(e.opcost_version, OC_VERSION_STRING);
  cr_assert(e.cores_online >= 1);
  cr_assert(e.kernel[0] != '\0');
  cr_assert(e.affinity[0] != '\0');
  cr_assert_eq(strlen(e.measured_at), 20, "%s", e.measured_at);
  cr_assert_eq(e.target[0], '\0');
  json_t *j = oc_env_to_json(&e);
  cr_assert_not_null(j);
  /* Unknowns are null, never missing. */
  cr_assert_not_null(json_object_get(j, "governor"));
  cr_assert_not_null(json_object_get(j, "temp_c_before"));
  struct oc_env back;
  cr_assert_eq(oc_env_from_json(j, "env", &back), oc_status_ok);
  cr_assert_str_eq(back.kernel, e.kernel);
  cr_assert_str_eq(back.affinity, e.affinity);
  cr_assert_eq(back.cores_online, e.cores_online);
  cr_assert_eq(isnan(back.load1), isnan(e.load1));
  if (!isnan(e.load1)) cr_assert_float_eq(back.load1, e.load1, 1e-9);
  json_decref(j);
}

Test(probe_env, from_json_names_the_field) {
  json_t *j = json_pack("{s:s, s:i}", "opcost_version", "0.1.0", "threads", -3);
  struct oc_env e;
  cr_assert_eq(oc_env_from_json(j, "x.json: env", &e), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "x.json: env") != NULL, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "threads") != NULL, "%s", oc_errmsg());
  json_decref(j);
}
