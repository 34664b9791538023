/* test_search_table.c - the search's fast path against the slow one: for
 * every built-in space (and the test space), the per-block tables give the
 * same latency (kernel and block granularity, LUT hits and roofline-filled
 * misses, the overhead term), MACs, FLOPs, params, weights and peak
 * activation memory as decoding the network and predicting it, on random
 * vectors; misses fail the same way in strict mode; the exact worst case
 * equals an exhaustive maximum. */
#include <math.h>

#include "search/search_internal.h"
#include "tests/unit/test_search_fixture.h"

static char dir[256];

static void setup(void) {
  strcpy(dir, "/tmp/opcost-test-search-table-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) { fixture_rm_rf(dir); }

TestSuite(search_table, .init = setup, .fini = teardown);

static const struct oc_lut_roofline roof = {50.0, 10.0, 0.25};

static void open_space(const char *name, struct oc_space **sp) {
  enum oc_status st = oc_space_open(name, sp);
  cr_assert_eq(st, oc_status_ok, "%s: %s", name, oc_errmsg());
}

/* Compares fast and slow on `samples` seeded vectors; with res_choices,
 * the resolution gene of every other vector is set to one of them. */
static void compare(const struct oc_space *sp, struct oc_search_table *t,
                    const struct oc_lut_cache *cache, enum oc_lut_granularity gran,
                    const struct oc_lut_roofline *rf, bool strict, int samples,
                    const int32_t *res_choices, size_t n_res, int *n_ok, int *n_miss) {
  size_t n = oc_space_gene_count(sp);
  int32_t *g = calloc(n, sizeof *g);
  int32_t rg = oc_space_resolution_gene(sp);
  for (int i = 0; i < samples; i++) {
    cr_assert_eq(oc_space_sample(sp, 99, (uint64_t)i, g, n), oc_status_ok);
    if (rg >= 0 && n_res > 0 && i % 2 == 0) g[rg] = res_choices[(size_t)i / 2 % n_res];
    struct oc_search_costs fast, slow;
    memset(&fast, 0, sizeof fast);
    memset(&slow, 0, sizeof slow);
    enum oc_status sf = oc_search_table_eval(t, g, n, &fast);
    char fast_msg[1024];
    snprintf(fast_msg, sizeof fast_msg, "%s", oc_errmsg());
    enum oc_status ss = oc_search_costs_slow(sp, cache, gran, rf, strict, g, n, &slow);
    cr_assert_eq(sf, ss, "%s sample %d: fast %s (%s), slow %s (%s)", oc_space_name(sp), i,
                 oc_status_name(sf), fast_msg, oc_status_name(ss), oc_errmsg());
    if (sf == oc_status_not_found) {
      cr_assert(strstr(fast_msg, "not in the LUT") != NULL, "%s", fast_msg);
      (*n_miss)++;
      continue;
    }
    cr_assert_eq(sf, oc_status_ok, "%s sample %d: %s", oc_space_name(sp), i, fast_msg);
    (*n_ok)++;
    if (cache) {
      double tol = 1e-9 * fabs(slow.latency_us);
      cr_assert(fabs(fast.latency_us - slow.latency_us) <= tol,
                "%s sample %d: latency fast %.17g slow %.17g", oc_space_name(sp), i,
                fast.latency_us, slow.latency_us);
      cr_assert_eq(fast.lut_misses, slow.lut_misses, "%s sample %d: misses %d vs %d",
                   oc_space_name(sp), i, fast.lut_misses, slow.lut_misses);
    } else {
      cr_assert(isnan(fast.latency_us));
    }
    cr_assert_eq(fast.macs, slow.macs, "%s sample %d: macs", oc_space_name(sp), i);
    cr_assert_eq(fast.flops, slow.flops, "%s sample %d: flops", oc_space_name(sp), i);
    cr_assert_eq(fast.params, slow.params, "%s sample %d: params", oc_space_name(sp), i);
    cr_assert_eq(fast.weight_bytes, slow.weight_bytes, "%s sample %d: weights", oc_space_name(sp),
                 i);
    cr_assert_eq(fast.peak_activation_bytes, slow.peak_activation_bytes,
                 "%s sample %d: peak %lld vs %lld", oc_space_name(sp), i,
                 (long long)fast.peak_activation_bytes, (long long)slow.peak_activation_bytes);
  }
  free(g);
}

/* Two resolution choices (first and last) of a space, as values and
 * choice indices. */
static size_t two_resolutions(const struct oc_space *sp, int32_t *values, int32_t *choices) {
  int32_t rg = oc_space_resolution_gene(sp);
  if (rg < 0) return 0;
  int32_t k = oc_space_gene_choices(sp, (size_t)rg);
  choices[0] = 0;
  choices[1] = k - 1;
  values[0] = atoi(oc_space_gene_label(sp, (size_t)rg, 0));
  values[1] = atoi(oc_space_gene_label(sp, (size_t)rg, k - 1));
  return k > 1 ? 2 : 1;
}

Test(search_table, kernel_lut_matches_slow_path_on_every_space) {
  size_t nb = oc_space_builtin_count();
  int tested = 0;
  for (size_t b = 0; b <= nb; b++) {
    struct oc_space *sp = NULL;
    open_space(b < nb ? oc_space_builtin_name(b)
                      : OPCOST_SOURCE_DIR "/tests/data/search/tiny-space.json",
               &sp);
    struct oc_search_table *t = NULL;
    if (!oc_space_blocks_separable(sp)) {
      cr_assert_eq(oc_search_table_create(sp, NULL, oc_lut_kernel, NULL, false, &t),
                   oc_status_unsupported);
      cr_assert_null(t);
      oc_space_free(sp);
      continue;
    }
    int32_t values[2], choices[2];
    size_t n_res = two_resolutions(sp, values, choices);
    char path[512];
    snprintf(path, sizeof path, "%s/lut-%zu.db", dir, b);
    struct oc_lut *lut = NULL;
    struct oc_lut_cache *cache = NULL;
    fixture_lut(path, sp, values, n_res, 7, 12.5, &lut, &cache);
    cr_assert_eq(oc_search_table_create(sp, cache, oc_lut_kernel, &roof, false, &t), oc_status_ok,
                 "%s", oc_errmsg());
    int ok = 0, miss = 0;
    compare(sp, t, cache, oc_lut_kernel, &roof, false, 60, choices, n_res, &ok, &miss);
    cr_assert_eq(ok, 60, "%s: %d of 60 evaluated", oc_space_name(sp), ok);
    int64_t entries = 0;
    oc_search_table_stats(t, &entries, NULL);
    cr_assert_gt(entries, 0);
    oc_search_table_free(t);
    oc_lut_cache_free(cache);
    oc_lut_close(lut);
    oc_space_free(sp);
    tested++;
  }
  cr_assert_gt(tested, 5, "only %d separable spaces", tested);
}

Test(search_table, strict_misses_fail_like_the_slow_path) {
  struct oc_space *sp = NULL;
  open_space("ofa-mbv3-w1.0", &sp);
  int32_t values[2], choices[2];
  size_t n_res = two_resolutions(sp, values, choices);
  char path[512];
  snprintf(path, sizeof path, "%s/lut.db", dir);
  struct oc_lut *lut = NULL;
  struct oc_lut_cache *cache = NULL;
  /* Every key at two resolutions: vectors there hit, others miss. */
  fixture_lut(path, sp, values, n_res, 0, 0, &lut, &cache);
  struct oc_search_table *t = NULL;
  cr_assert_eq(oc_search_table_create(sp, cache, oc_lut_kernel, NULL, false, &t), oc_status_ok);
  int ok = 0, miss = 0;
  compare(sp, t, cache, oc_lut_kernel, NULL, false, 60, choices, n_res, &ok, &miss);
  cr_assert_gt(ok, 10);
  cr_assert_gt(miss, 10);
  oc_search_table_free(t);
  /* strict with a roofline: misses still fail. */
  cr_assert_eq(oc_search_table_create(sp, cache, oc_lut_kernel, &roof, true, &t), oc_status_ok);
  ok = miss = 0;
  compare(sp, t, cache, oc_lut_kernel, &roof, true, 40, choices, n_res, &ok, &miss);
  cr_assert_gt(ok, 5);
  cr_assert_gt(miss, 5);
  oc_search_table_free(t);
  oc_lut_cache_free(cache);
  oc_lut_close(lut);
  oc_space_free(sp);
}

Test(search_table, block_granularity_and_analytic_only) {
  const char *names[] = {"ofa-mbv3-w1.0", "nasbench201", "ofa-resnet50", "mcunet"};
  char path[512];
  snprintf(path, sizeof path, "%s/empty.db", dir);
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_ok);
  struct oc_lut_device d = {.info_json = "{}"};
  strcpy(d.fingerprint, FIXTURE_FP);
  strcpy(d.target, "test");
  cr_assert_eq(oc_lut_put_device(lut, &d), oc_status_ok);
  cr_assert_eq(oc_lut_set_overhead(lut, FIXTURE_FP, 1, 3.0), oc_status_ok, "%s", oc_errmsg());
  struct oc_lut_cache *cache = NULL;
  cr_assert_eq(oc_lut_cache_load(lut, FIXTURE_FP, 1, &cache), oc_status_ok, "%s", oc_errmsg());
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    struct oc_space *sp = NULL;
    open_space(names[i], &sp);
    struct oc_search_table *t = NULL;
    /* Every layer a miss priced from the roofline, plus the overhead. */
    cr_assert_eq(oc_search_table_create(sp, cache, oc_lut_block, &roof, false, &t), oc_status_ok,
                 "%s", oc_errmsg());
    int ok = 0, miss = 0;
    compare(sp, t, cache, oc_lut_block, &roof, false, 40, NULL, 0, &ok, &miss);
    cr_assert_eq(ok, 40);
    oc_search_table_free(t);
    cr_assert_eq(oc_search_table_create(sp, NULL, oc_lut_kernel, NULL, false, &t), oc_status_ok);
    ok = miss = 0;
    compare(sp, t, NULL, oc_lut_kernel, NULL, false, 40, NULL, 0, &ok, &miss);
    cr_assert_eq(ok, 40);
    oc_search_table_free(t);
    oc_space_free(sp);
  }
  oc_lut_cache_free(cache);
  oc_lut_close(lut);
}

Test(search_table, worst_case_is_the_exhaustive_maximum) {
  struct oc_space *sp = NULL;
  open_space(OPCOST_SOURCE_DIR "/tests/data/search/tiny-space.json", &sp);
  char path[512];
  snprintf(path, sizeof path, "%s/tiny.db", dir);
  struct oc_lut *lut = NULL;
  struct oc_lut_cache *cache = NULL;
  fixture_lut(path, sp, NULL, 0, 3, 1.5, &lut, &cache);
  struct oc_search_table *t = NULL;
  cr_assert_eq(oc_search_table_create(sp, cache, oc_lut_kernel, &roof, false, &t), oc_status_ok);
  struct oc_search_costs worst;
  cr_assert_eq(oc__search_table_worst(t, 100000, &worst), oc_status_ok, "%s", oc_errmsg());
  /* Every gene vector of the space (64). */
  size_t n = oc_space_gene_count(sp);
  int32_t g[16];
  int64_t total = 1;
  for (size_t i = 0; i < n; i++) total *= oc_space_gene_choices(sp, i);
  struct oc_search_costs max = {0}, c;
  for (int64_t v = 0; v < total; v++) {
    int64_t r = v;
    for (size_t i = 0; i < n; i++) {
      g[i] = (int32_t)(r % oc_space_gene_choices(sp, i));
      r /= oc_space_gene_choices(sp, i);
    }
    cr_assert_eq(oc_search_costs_slow(sp, cache, oc_lut_kernel, &roof, false, g, n, &c),
                 oc_status_ok);
    if (c.latency_us > max.latency_us) max.latency_us = c.latency_us;
    if (c.macs > max.macs) max.macs = c.macs;
    if (c.params > max.params) max.params = c.params;
    if (c.peak_activation_bytes > max.peak_activation_bytes)
      max.peak_activation_bytes = c.peak_activation_bytes;
  }
  cr_assert(fabs(worst.latency_us - max.latency_us) <= 1e-9 * max.latency_us, "%.17g vs %.17g",
            worst.latency_us, max.latency_us);
  cr_assert_eq(worst.macs, max.macs);
  cr_assert_eq(worst.params, max.params);
  cr_assert_eq(worst.peak_activation_bytes, max.peak_activation_bytes);
  oc_search_table_free(t);
  oc_lut_cache_free(cache);
  oc_lut_close(lut);
  oc_space_free(sp);
}

Test(search_table, bad_vectors_are_refused) {
  struct oc_space *sp = NULL;
  open_space("ofa-mbv3-w1.0", &sp);
  struct oc_search_table *t = NULL;
  cr_assert_eq(oc_search_table_create(sp, NULL, oc_lut_kernel, NULL, false, &t), oc_status_ok);
  size_t n = oc_space_gene_count(sp);
  int32_t *g = calloc(n, sizeof *g);
  struct oc_search_costs c;
  cr_assert_eq(oc_search_table_eval(t, g, n - 1, &c), oc_status_invalid_argument);
  g[1] = 99;
  cr_assert_eq(oc_search_table_eval(t, g, n, &c), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "99") != NULL, "%s", oc_errmsg());
  free(g);
  oc_search_table_free(t);
  oc_space_free(sp);
}
