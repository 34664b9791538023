/* test_search.c - the search's building blocks: values with units,
 * constraints and objectives (and their errors), normalized violation,
 * constraint domination, non-dominated sorting, crowding, the hypervolume
 * (2-D and 3-D against inclusion-exclusion, Monte Carlo against exact),
 * command-line splitting, the accuracy table and the external evaluator
 * process with every failure it may show. */
#include <math.h>

#include "core/core.h"
#include "tests/unit/test_search_fixture.h"

#define EVALUATOR OPCOST_SOURCE_DIR "/tests/data/search/evaluator.sh"

static char dir[256];

static void setup(void) {
  strcpy(dir, "/tmp/opcost-test-search-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) { fixture_rm_rf(dir); }

TestSuite(search, .init = setup, .fini = teardown);

/* ---- values, constraints, objectives ------------------------------------------------------- */

Test(search, values_with_units) {
  double v;
  cr_assert_eq(oc_search_parse_value(oc_search_latency, "20ms", &v), oc_status_ok);
  cr_assert_float_eq(v, 20000.0, 1e-9);
  cr_assert_eq(oc_search_parse_value(oc_search_latency, " 350 us ", &v), oc_status_ok);
  cr_assert_float_eq(v, 350.0, 1e-9);
  cr_assert_eq(oc_search_parse_value(oc_search_latency, "0.5s", &v), oc_status_ok);
  cr_assert_float_eq(v, 500000.0, 1e-6);
  cr_assert_eq(oc_search_parse_value(oc_search_peak_mem, "320KB", &v), oc_status_ok);
  cr_assert_float_eq(v, 320000.0, 1e-9);
  cr_assert_eq(oc_search_parse_value(oc_search_peak_mem, "320KiB", &v), oc_status_ok);
  cr_assert_float_eq(v, 327680.0, 1e-9);
  cr_assert_eq(oc_search_parse_value(oc_search_weights, "2MiB", &v), oc_status_ok);
  cr_assert_float_eq(v, 2097152.0, 1e-9);
  cr_assert_eq(oc_search_parse_value(oc_search_peak_mem, "4096", &v), oc_status_ok);
  cr_assert_float_eq(v, 4096.0, 1e-9);
  cr_assert_eq(oc_search_parse_value(oc_search_macs, "300M", &v), oc_status_ok);
  cr_assert_float_eq(v, 3e8, 1e-3);
  cr_assert_eq(oc_search_parse_value(oc_search_flops, "1.2G", &v), oc_status_ok);
  cr_assert_float_eq(v, 1.2e9, 1e-3);
  cr_assert_eq(oc_search_parse_value(oc_search_accuracy, "0.75", &v), oc_status_ok);
  cr_assert_float_eq(v, 0.75, 1e-12);
  /* A latency needs its unit; units belong to their metric. */
  cr_assert_eq(oc_search_parse_value(oc_search_latency, "20", &v), oc_status_parse_error);
  cr_assert(strstr(oc_errmsg(), "us, ms or s") != NULL, "%s", oc_errmsg());
  cr_assert_eq(oc_search_parse_value(oc_search_latency, "20KB", &v), oc_status_parse_error);
  cr_assert_eq(oc_search_parse_value(oc_search_peak_mem, "20ms", &v), oc_status_parse_error);
  cr_assert_eq(oc_search_parse_value(oc_search_macs, "abc", &v), oc_status_parse_error);
  cr_assert_eq(oc_search_parse_value(oc_search_macs, "inf", &v), oc_status_parse_error);
  char buf[64];
  oc_search_format_value(oc_search_latency, 20000, buf, sizeof buf);
  cr_assert_str_eq(buf, "20 ms");
  oc_search_format_value(oc_search_peak_mem, 327680, buf, sizeof buf);
  cr_assert_str_eq(buf, "320 KiB");
}

Test(search, constraints_and_objectives) {
  struct oc_search_constraint c;
  cr_assert_eq(oc_search_parse_constraint("latency<=20ms", &c), oc_status_ok);
  cr_assert_eq(c.metric, oc_search_latency);
  cr_assert_eq(c.cmp, oc_search_le);
  cr_assert_float_eq(c.bound, 20000, 1e-9);
  cr_assert_eq(oc_search_parse_constraint(" accuracy >= 0.7 ", &c), oc_status_ok);
  cr_assert_eq(c.metric, oc_search_accuracy);
  cr_assert_eq(c.cmp, oc_search_ge);
  cr_assert_eq(oc_search_parse_constraint("peak_mem<=320KB", &c), oc_status_ok);
  cr_assert_float_eq(c.bound, 320000, 1e-9);
  /* Errors name what is wrong. */
  cr_assert_eq(oc_search_parse_constraint("latency 20ms", &c), oc_status_parse_error);
  cr_assert_eq(oc_search_parse_constraint("speed<=3", &c), oc_status_not_found);
  cr_assert(strstr(oc_errmsg(), "speed") != NULL && strstr(oc_errmsg(), "latency") != NULL, "%s",
            oc_errmsg());
  cr_assert_eq(oc_search_parse_constraint("latency<20ms", &c), oc_status_parse_error);
  cr_assert_eq(oc_search_parse_constraint("latency==20ms", &c), oc_status_parse_error);
  cr_assert_eq(oc_search_parse_constraint("latency<=20", &c), oc_status_parse_error);
  cr_assert(strstr(oc_errmsg(), "latency<=20") != NULL, "%s", oc_errmsg());
  cr_assert_eq(oc_search_parse_constraint("<=20ms", &c), oc_status_parse_error);

  enum oc_search_metric obj[OC_SEARCH_MAX_OBJECTIVES];
  size_t n;
  cr_assert_eq(oc_search_parse_objectives("latency,macs,accuracy", obj, &n), oc_status_ok);
  cr_assert_eq(n, 3);
  cr_assert_eq(obj[2], oc_search_accuracy);
  cr_assert_eq(oc_search_parse_objectives("latency,latency", obj, &n), oc_status_invalid_argument);
  cr_assert_eq(oc_search_parse_objectives("latency,zoom", obj, &n), oc_status_not_found);
  cr_assert_eq(oc_search_parse_objectives("latency,", obj, &n), oc_status_parse_error);
}

Test(search, normalized_violation) {
  struct oc_search_constraint c;
  cr_assert_eq(oc_search_parse_constraint("latency<=20ms", &c), oc_status_ok);
  cr_assert_float_eq(oc_search_violation(&c, 10000), 0, 1e-12);
  cr_assert_float_eq(oc_search_violation(&c, 20000), 0, 1e-12);
  cr_assert_float_eq(oc_search_violation(&c, 25000), 0.25, 1e-12);
  cr_assert_eq(oc_search_parse_constraint("accuracy>=0.8", &c), oc_status_ok);
  cr_assert_float_eq(oc_search_violation(&c, 0.6), 0.25, 1e-12);
  cr_assert_float_eq(oc_search_violation(&c, 0.9), 0, 1e-12);
  cr_assert(isinf(oc_search_violation(&c, NAN)));
}

/* ---- Pareto ---------------------------------------------------------------------------------- */

Test(search, constraint_domination_and_sorting) {
  double a[2] = {1, 1}, b[2] = {2, 2}, c[2] = {0, 3};
  cr_assert(oc_search_dominates(a, 0, b, 0, 2));
  cr_assert(!oc_search_dominates(b, 0, a, 0, 2));
  cr_assert(!oc_search_dominates(a, 0, c, 0, 2));
  cr_assert(!oc_search_dominates(a, 0, a, 0, 2), "a point does not dominate itself");
  /* Feasible beats infeasible whatever the objectives; then violation. */
  cr_assert(oc_search_dominates(b, 0, a, 0.1, 2));
  cr_assert(oc_search_dominates(b, 0.1, a, 0.2, 2));
  cr_assert(!oc_search_dominates(a, 0.2, b, 0.1, 2));

  /* Fronts: {0,1,2} feasible staircase, 3 dominated by 1, 4 and 5 infeasible. */
  double pts[] = {1, 5, 2, 2, 5, 1, 3, 3, 0, 0, 0, 0};
  double viol[] = {0, 0, 0, 0, 0.5, 0.2};
  int32_t rank[6];
  cr_assert_eq(oc_search_nondominated_sort(pts, viol, 6, 2, rank), oc_status_ok);
  cr_assert_eq(rank[0], 0);
  cr_assert_eq(rank[1], 0);
  cr_assert_eq(rank[2], 0);
  cr_assert_eq(rank[3], 1);
  cr_assert_eq(rank[5], 2);
  cr_assert_eq(rank[4], 3);

  size_t idx[3] = {0, 1, 2};
  double dist[3];
  cr_assert_eq(oc_search_nondominated_sort(pts, NULL, 3, 2, rank), oc_status_ok);
  oc_search_crowding(pts, 2, idx, 3, dist);
  cr_assert(isinf(dist[0]) && isinf(dist[2]));
  /* Middle: (5-1)/4 + (5-1)/4 = 2. */
  cr_assert_float_eq(dist[1], 2.0, 1e-12);
}

/* Hypervolume by inclusion-exclusion (exact, any m, small n). */
static double hv_brute(const double *p, size_t n, size_t m, const double *ref) {
  double total = 0;
  for (unsigned mask = 1; mask < (1u << n); mask++) {
    double vol = 1;
    int bits = 0;
    for (size_t k = 0; k < m; k++) {
      double worst = -HUGE_VAL;
      for (size_t i = 0; i < n; i++)
        if (mask & (1u << i)) worst = fmax(worst, p[i * m + k]);
      vol *= fmax(0, ref[k] - worst);
    }
    for (size_t i = 0; i < n; i++) bits += (mask >> i) & 1;
    total += (bits % 2 ? 1 : -1) * vol;
  }
  return total;
}

Test(search, hypervolume_exact_and_monte_carlo) {
  double hv;
  enum oc_search_hv_method method;
  double se;
  /* 2-D by hand: (1,3) (2,2) (3,1), ref (4,4): 3 + 2 + 1 = 6. */
  double p2[] = {1, 3, 2, 2, 3, 1};
  double r2[] = {4, 4};
  cr_assert_eq(oc_search_hypervolume(p2, 3, 2, r2, 0, 0, &hv, &method, &se), oc_status_ok);
  cr_assert_eq(method, oc_search_hv_exact);
  cr_assert_float_eq(hv, 6.0, 1e-12);
  /* Points outside the box count nothing. */
  double p_out[] = {5, 0, 1, 3};
  cr_assert_eq(oc_search_hypervolume(p_out, 2, 2, r2, 0, 0, &hv, NULL, NULL), oc_status_ok);
  cr_assert_float_eq(hv, 3.0, 1e-12);
  /* 1-D. */
  double p1[] = {2, 3};
  double r1[] = {10};
  cr_assert_eq(oc_search_hypervolume(p1, 2, 1, r1, 0, 0, &hv, NULL, NULL), oc_status_ok);
  cr_assert_float_eq(hv, 8.0, 1e-12);
  /* Random 2-D and 3-D sets, duplicates and dominated points included,
   * against inclusion-exclusion. */
  struct oc__rng rng;
  oc__rng_seed(&rng, 42);
  for (int trial = 0; trial < 200; trial++) {
    size_t m = 2 + (size_t)(trial % 2), n = 1 + (size_t)oc__rng_below(&rng, 9);
    double p[9 * 3], ref[3] = {1, 1, 1};
    for (size_t i = 0; i < n * m; i++) p[i] = (double)oc__rng_below(&rng, 8) / 8.0;
    if (n > 2) memcpy(p + m, p, m * sizeof *p); /* a duplicate */
    double want = hv_brute(p, n, m, ref);
    cr_assert_eq(oc_search_hypervolume(p, n, m, ref, 0, 0, &hv, NULL, NULL), oc_status_ok);
    cr_assert_float_eq(hv, want, 1e-12, "trial %d (m=%zu n=%zu): %.17g vs %.17g", trial, m, n, hv,
                       want);
  }
  /* 4-D: Monte Carlo within 4 standard errors of the exact value. */
  double p4[] = {0.2, 0.5, 0.3, 0.6, 0.5, 0.2, 0.4, 0.3, 0.7, 0.6, 0.1, 0.4};
  double r4[] = {1, 1, 1, 1};
  double want = hv_brute(p4, 3, 4, r4);
  cr_assert_eq(oc_search_hypervolume(p4, 3, 4, r4, 200000, 7, &hv, &method, &se), oc_status_ok);
  cr_assert_eq(method, oc_search_hv_monte_carlo);
  cr_assert_gt(se, 0);
  cr_assert(fabs(hv - want) < 4 * se, "MC %.6g vs exact %.6g (se %.3g)", hv, want, se);
  /* Reproducible by seed. */
  double again;
  cr_assert_eq(oc_search_hypervolume(p4, 3, 4, r4, 200000, 7, &again, NULL, NULL), oc_status_ok);
  cr_assert_eq(hv, again);
  cr_assert_eq(oc_search_hypervolume(p4, 3, 4, r4, 0, 7, &hv, NULL, NULL),
               oc_status_invalid_argument);
}

/* ---- command lines -----------------------------------------------------------------------------
 */

Test(search, split_command_without_a_shell) {
  char **argv;
  int argc;
  cr_assert_eq(
      oc_search_split_command("python3  eval.py --model 'my model.pt' \"a \\\"b\\\"\" c\\ d $HOME",
                              &argv, &argc),
      oc_status_ok);
  cr_assert_eq(argc, 7);
  cr_assert_str_eq(argv[0], "python3");
  cr_assert_str_eq(argv[3], "my model.pt");
  cr_assert_str_eq(argv[4], "a \"b\"");
  cr_assert_str_eq(argv[5], "c d");
  cr_assert_str_eq(argv[6], "$HOME", "no expansion");
  cr_assert_null(argv[7]);
  free(argv);
  cr_assert_eq(oc_search_split_command("eval 'open", &argv, &argc), oc_status_parse_error);
  cr_assert_eq(oc_search_split_command("eval \"open", &argv, &argc), oc_status_parse_error);
  cr_assert_eq(oc_search_split_command("   ", &argv, &argc), oc_status_parse_error);
}

/* ---- accuracy table
 * ------------------------------------------------------------------------------ */

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

Test(search, accuracy_table) {
  struct oc_space *sp = NULL;
  cr_assert_eq(oc_space_open(OPCOST_SOURCE_DIR "/tests/data/search/tiny-space.json", &sp),
               oc_status_ok, "%s", oc_errmsg());
  int32_t g[6];
  uint64_t h1, h2;
  cr_assert_eq(oc_space_parse_genes(sp, "r=32;d=1;k=3,_;e=1,_", g, 6), oc_status_ok);
  cr_assert_eq(oc_space_phenotype_hash(sp, g, 6, &h1), oc_status_ok);
  cr_assert_eq(oc_space_parse_genes(sp, "r=48;d=2;k=5,3;e=3,1", g, 6), oc_status_ok);
  cr_assert_eq(oc_space_phenotype_hash(sp, g, 6, &h2), oc_status_ok);
  char path[512], text[1024];
  snprintf(path, sizeof path, "%s/acc.csv", dir);
  snprintf(text, sizeof text,
           "genes,hash,accuracy,note\n"
           "\"r=32;d=1;k=3,_;e=1,_\",,0.61,small\n"
           ",%016llx,0.72,\"by hash, quoted\"\n",
           (unsigned long long)h2);
  write_text(path, text);
  struct oc_search_accuracy *t = NULL;
  cr_assert_eq(oc_search_accuracy_load(sp, path, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_search_accuracy_size(t), 2);
  double acc;
  cr_assert(oc_search_accuracy_get(t, h1, &acc));
  cr_assert_float_eq(acc, 0.61, 1e-12);
  cr_assert(oc_search_accuracy_get(t, h2, &acc));
  cr_assert_float_eq(acc, 0.72, 1e-12);
  cr_assert(!oc_search_accuracy_get(t, h1 ^ 1, &acc));
  oc_search_accuracy_free(t);
  /* Errors name the file and line. */
  const char *bad[] = {
      "genes,score\n\"r=32;d=1;k=3,_;e=1,_\",0.5\n",     /* no accuracy column */
      "genes,accuracy\n\"r=32;d=1;k=3,_;e=1,_\",high\n", /* not a number */
      "genes,accuracy\n\"r=33;d=1;k=3,_;e=1,_\",0.5\n",  /* not a choice */
      "genes,accuracy\n\"r=32;d=1;k=3,_;e=1,_\",0.5\n\"r=32;d=1;k=3,7;e=1,0\",0.6\n",
      "hash,accuracy\nxyz,0.5\n",
      "genes,accuracy\n\"r=32;d=1,0.5\n", /* unterminated quote */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    write_text(path, bad[i]);
    enum oc_status st = oc_search_accuracy_load(sp, path, &t);
    cr_assert_neq(st, oc_status_ok, "case %zu", i);
    cr_assert_null(t);
    cr_assert(strstr(oc_errmsg(), "acc.csv") != NULL, "case %zu: %s", i, oc_errmsg());
  }
  oc_space_free(sp);
}

/* ---- the evaluator process
 * ------------------------------------------------------------------------- */

static json_t *request(int64_t id) {
  return json_pack("{s:I, s:s, s:s, s:{s:s}}", "id", (json_int_t)id, "genes",
                   "r=48;d=2;k=5,5;e=3,3", "hash", "0123456789abcdef", "net", "format",
                   "opcost-net/1");
}

static enum oc_status ask(const char *mode, double timeout, int retries, int n, double *acc) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "sh %s %s", EVALUATOR, mode);
  struct oc_search_evaluator *ev = NULL;
  enum oc_status st = oc_search_evaluator_start(cmd, timeout, retries, NULL, &ev);
  cr_assert_eq(st, oc_status_ok, "%s", oc_errmsg());
  for (int i = 0; i < n && st == oc_status_ok; i++) {
    json_t *r = request(10 + i);
    st = oc_search_evaluator_ask(ev, 10 + i, r, acc);
    json_decref(r);
  }
  oc_search_evaluator_stop(ev);
  return st;
}

Test(search, evaluator_answers) {
  double acc = -1;
  cr_assert_eq(ask("ok", 10, 0, 3, &acc), oc_status_ok, "%s", oc_errmsg());
  /* 0.5 + 2 x 0.02 (fives) + 0.08 (d=2) + 0.05 (r=48) */
  cr_assert_float_eq(acc, 0.67, 1e-9);
}

Test(search, evaluator_failures_name_the_candidate) {
  double acc = -1;
  enum oc_status st = ask("'crash' 2", 10, 0, 3, &acc);
  cr_assert_eq(st, oc_status_io_error, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "candidate 11") != NULL, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "exited with status 7") != NULL, "%s", oc_errmsg());

  st = ask("garbage 1", 10, 0, 1, &acc);
  cr_assert_eq(st, oc_status_parse_error);
  cr_assert(strstr(oc_errmsg(), "candidate 10") != NULL && strstr(oc_errmsg(), "not JSON"), "%s",
            oc_errmsg());

  st = ask("wrongid", 10, 0, 1, &acc);
  cr_assert_eq(st, oc_status_parse_error);
  cr_assert(strstr(oc_errmsg(), "id 11 instead") != NULL, "%s", oc_errmsg());

  st = ask("nan", 10, 0, 1, &acc);
  cr_assert_eq(st, oc_status_parse_error);
  cr_assert(strstr(oc_errmsg(), "accuracy") != NULL, "%s", oc_errmsg());

  st = ask("slow 1", 0.3, 1, 1, &acc);
  cr_assert_eq(st, oc_status_timeout);
  cr_assert(strstr(oc_errmsg(), "candidate 10") != NULL && strstr(oc_errmsg(), "0.3 s"), "%s",
            oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "retries exhausted") != NULL, "%s", oc_errmsg());

  struct oc_search_evaluator *ev = NULL;
  cr_assert_eq(oc_search_evaluator_start("/nonexistent/evaluator --x", 1, 0, NULL, &ev),
               oc_status_unavailable);
  cr_assert_null(ev);
  cr_assert(strstr(oc_errmsg(), "/nonexistent/evaluator") != NULL, "%s", oc_errmsg());
}

Test(search, evaluator_retry_restarts_it) {
  char marker[512], mode[600];
  snprintf(marker, sizeof marker, "%s/marker", dir);
  snprintf(mode, sizeof mode, "flaky %s", marker);
  double acc = -1;
  /* Without retries the first process's death is the answer ... */
  cr_assert_eq(ask(mode, 10, 0, 1, &acc), oc_status_io_error);
  unlink(marker);
  /* ... with one, a restarted process answers. */
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "sh %s %s", EVALUATOR, mode);
  struct oc_search_evaluator *ev = NULL;
  cr_assert_eq(oc_search_evaluator_start(cmd, 10, 1, NULL, &ev), oc_status_ok);
  json_t *r = request(5);
  cr_assert_eq(oc_search_evaluator_ask(ev, 5, r, &acc), oc_status_ok, "%s", oc_errmsg());
  json_decref(r);
  int64_t answered, errors, restarts;
  oc_search_evaluator_stats(ev, &answered, &errors, &restarts);
  cr_assert_eq(answered, 1);
  cr_assert_eq(errors, 1);
  cr_assert_eq(restarts, 1);
  oc_search_evaluator_stop(ev);
}
