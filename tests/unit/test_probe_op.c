/* test_probe_op.c - the harness on real targets: oc_probe_op and
 * oc_probe_kernel with the ref target (always available) and the cpu target
 * where XNNPACK runs here; warm and cold cache sets; the JSON of a
 * measurement; bad options, cores, threads and unsupported ops. Short time
 * caps keep the suite fast; nothing asserts on speed. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "opcost/opcost.h"

static struct oc_measure_opts quick_opts(void) {
  struct oc_measure_opts o;
  oc_measure_opts_default(&o);
  o.max_time_s = 0.1;
  o.min_time_s = 0.0;
  o.warmup_s = 0.005;
  return o;
}

static struct oc_target *open_target(const char *name) {
  struct oc_target *t = NULL;
  enum oc_status st = oc_target_open(name, NULL, &t);
  cr_assert_eq(st, oc_status_ok, "opening %s: %s", name, oc_errmsg());
  return t;
}

static void parse(const char *key, struct oc_op *op) {
  cr_assert_eq(oc_op_parse(key, op), oc_status_ok, "%s: %s", key, oc_errmsg());
}

Test(probe_op, ref_warm_measurement_is_complete) {
  struct oc_target *t = open_target("ref");
  struct oc_op op;
  parse("add.f32 h=4 w=4 c=8 act=none", &op);
  struct oc_measure_opts o = quick_opts();
  o.raw = true;
  struct oc_measurement m;
  cr_assert_eq(oc_probe_op(t, &op, &o, &m), oc_status_ok, "%s", oc_errmsg());
  cr_assert_str_eq(m.key, "add.f32 h=4 w=4 c=8 act=none");
  cr_assert(m.stats.n >= 5);
  cr_assert(m.stats.median_us > 0);
  cr_assert(m.stats.min_us <= m.stats.median_us && m.stats.median_us <= m.stats.max_us);
  cr_assert(m.stats.p10_us <= m.stats.p90_us);
  cr_assert(m.cold_us > 0, "cold run %g", m.cold_us);
  cr_assert(m.batch >= 1);
  cr_assert(m.warmup_runs >= 3);
  cr_assert(m.floor_ns >= 0);
  cr_assert(!m.device_timer);
  cr_assert(m.timer.clock == oc_clock_tsc || m.timer.clock == oc_clock_monotonic_raw);
  cr_assert_eq(m.cache, oc_cache_warm);
  cr_assert_eq(m.sets, 1);
  cr_assert_eq(m.set_bytes, 3 * 4 * 4 * 8 * 4);
  cr_assert_eq(m.n_raw, (size_t)m.stats.n);
  cr_assert_str_eq(m.env.target, "ref");
  cr_assert_eq(m.env.threads, 1);
  cr_assert(m.counters.runs >= m.stats.n * m.batch, "runs %lld", (long long)m.counters.runs);
  cr_assert(m.counters.involuntary_switches >= 0);

  json_t *j = oc_measurement_to_json(&m);
  cr_assert_not_null(j);
  json_t *stats = json_object_get(j, "stats");
  cr_assert_eq(json_integer_value(json_object_get(stats, "n")), m.stats.n);
  cr_assert_eq(json_array_size(json_object_get(j, "raw_us")), m.n_raw);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "cache"), "state")),
                   "warm");
  cr_assert(json_is_array(json_object_get(j, "notes")));
  cr_assert(json_is_object(json_object_get(j, "env")));
  json_decref(j);
  oc_measurement_release(&m);
  oc_target_close(t);
}

Test(probe_op, cold_sets_span_the_requested_bytes) {
  struct oc_target *t = open_target("ref");
  struct oc_op op;
  parse("add.f32 h=4 w=4 c=8 act=none", &op); /* 1536 bytes a set */
  struct oc_measure_opts o = quick_opts();
  o.cache = oc_cache_cold;
  o.cold_bytes = 256 << 10;
  struct oc_measurement m;
  cr_assert_eq(oc_probe_op(t, &op, &o, &m), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(m.cache, oc_cache_cold);
  cr_assert_eq(m.sets, (256 << 10) / 1536 + 1);
  cr_assert_eq(m.eviction_bytes, 0, "the sets alone span the bytes asked for");
  cr_assert(m.batch <= m.sets);
  cr_assert(m.stats.n >= 5);

  /* 1 MiB asked: 256 sets (the cap) span 384 KiB < half of it, so an
   * eviction buffer is read before every sample; a batch still runs each
   * set at most once. */
  o.cold_bytes = 1 << 20;
  o.batch = 1000;
  cr_assert_eq(oc_probe_op(t, &op, &o, &m), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(m.sets, 256);
  cr_assert(m.eviction_bytes >= (1 << 20) - 256);
  cr_assert_eq(m.batch, 256);
  cr_assert(m.stats.n >= 5);

  /* A single prepared kernel in cold mode: eviction, one run a sample. */
  static float a[128], b[128], out[128];
  struct oc_tensors tensors = {.input = {a, b}, .output = out};
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_prepare(t, &op, &tensors, &k), oc_status_ok, "%s", oc_errmsg());
  o.batch = 0;
  cr_assert_eq(oc_probe_kernel(t, k, &o, &m), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(m.batch, 1);
  cr_assert_eq(m.sets, 1);
  cr_assert(m.eviction_bytes > 0);
  oc_target_release(t, k);
  oc_target_close(t);
}

Test(probe_op, prepared_kernel) {
  struct oc_target *t = open_target("ref");
  struct oc_op op;
  parse("act.f32 h=2 w=2 c=16 act=relu", &op);
  static float in[64], out[64];
  for (int i = 0; i < 64; i++) in[i] = (float)i - 32;
  struct oc_tensors tensors = {.input = {in}, .output = out};
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_prepare(t, &op, &tensors, &k), oc_status_ok, "%s", oc_errmsg());
  struct oc_measure_opts o = quick_opts();
  struct oc_measurement m;
  cr_assert_eq(oc_probe_kernel(t, k, &o, &m), oc_status_ok, "%s", oc_errmsg());
  cr_assert_str_eq(m.key, "");
  cr_assert(m.stats.n >= 5);
  cr_assert_float_eq(out[40], 8.0f, 0.0f, "the kernel really ran");
  cr_assert_float_eq(out[3], 0.0f, 0.0f);
  oc_target_release(t, k);
  oc_target_close(t);
}

Test(probe_op, cpu_target_when_available) {
  char why[512];
  const struct oc_target_vtab *v = oc_target_find("cpu");
  cr_assert_not_null(v);
  if (oc_target_available(v, why, sizeof why) != oc_status_ok) cr_skip_test("cpu: %s", why);
  struct oc_target *t = open_target("cpu");
  struct oc_op op;
  parse("conv2d.f32 h=8 w=8 cin=8 cout=16 k=3 s=1 g=1 d=1 act=relu", &op);
  struct oc_measure_opts o = quick_opts();
  struct oc_measurement m;
  cr_assert_eq(oc_probe_op(t, &op, &o, &m), oc_status_ok, "%s", oc_errmsg());
  cr_assert(m.stats.n >= 5);
  cr_assert(m.env.runtime[0] != '\0');
  cr_assert_str_eq(m.env.target, "cpu");
  oc_target_close(t);
}

Test(probe_op, unsupported_op_names_the_key) {
  struct oc_target *t = open_target("ref");
  struct oc_op op;
  parse("add.f16 h=4 w=4 c=8 act=none", &op);
  struct oc_measure_opts o = quick_opts();
  struct oc_measurement m;
  cr_assert_eq(oc_probe_op(t, &op, &o, &m), oc_status_unsupported);
  cr_assert(strstr(oc_errmsg(), "add.f16 h=4 w=4 c=8 act=none") != NULL, "%s", oc_errmsg());
  oc_target_close(t);
}

Test(probe_op, bad_options_are_refused_before_running) {
  struct oc_target *t = open_target("ref");
  struct oc_op op;
  parse("add.f32 h=4 w=4 c=8 act=none", &op);
  struct oc_measure_opts o = quick_opts();
  o.min_samples = 2;
  struct oc_measurement m;
  cr_assert_eq(oc_probe_op(t, &op, &o, &m), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "min_samples") != NULL, "%s", oc_errmsg());
  oc_target_close(t);
}

Test(probe_op, bad_cores_and_threads) {
  struct oc_target_opts to;
  memset(&to, 0, sizeof to);
  cr_assert_eq(oc_target_parse_cores("4095", &to), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "core") != NULL, "%s", oc_errmsg());
  cr_assert_eq(oc_target_parse_cores("0,x", &to), oc_status_invalid_argument);
  memset(&to, 0, sizeof to);
  to.threads = -1;
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("ref", &to, &t), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "threads") != NULL, "%s", oc_errmsg());
  cr_assert_null(t);
  cr_assert_eq(oc_target_open("no-such-target", NULL, &t), oc_status_not_found);
  cr_assert(strstr(oc_errmsg(), "no-such-target") != NULL, "%s", oc_errmsg());
}
