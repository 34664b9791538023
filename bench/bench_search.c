/* bench_search.c - how fast the search evaluates candidates, and how good
 * its fronts are for the evaluations spent.
 *
 *   1. LUT latency (+ MACs, params, peak memory) of OFA-MobileNetV3 gene
 *      vectors through the per-block tables: evaluations per second on one
 *      core (goal: >= 1e6), against decoding each network and predicting it
 *      (the slow path), and the phenotype hash the archive deduplicates by.
 *   2. Whole searches (NSGA-II, evolution, random) at equal evaluation
 *      counts: hypervolume against one fixed reference point, several
 *      seeds, and end-to-end evaluations per second (journal included).
 *
 * usage: bench_search [--lut LUT.db] [--device FP] [--quick]
 * With a LUT (opcost lut build -s ofa-mbv3-w1.0 -t cpu -o LUT.db) the
 * latencies are its medians; without one every op is priced by a nominal
 * roofline (100 GFLOP/s, 20 GB/s, 1 us per kernel), which exercises the same
 * code (the tables are filled from the roofline instead of LUT hits) but
 * gives no device's latencies - the output says which. Figures are printed,
 * never checked. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "opcost/lut.h"
#include "opcost/search.h"
#include "opcost/space.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int fail(const char *what) {
  fprintf(stderr, "bench_search: %s: %s\n", what, oc_errmsg());
  return 1;
}

/* Removes a directory this bench created (under its own mkdtemp root). */
static void rm_rf(const char *path) {
  DIR *d = opendir(path);
  if (d == NULL) {
    unlink(path);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char p[2048];
    snprintf(p, sizeof p, "%.1000s/%.255s", path, e->d_name);
    rm_rf(p);
  }
  closedir(d);
  rmdir(path);
}

int main(int argc, char **argv) {
  const char *lut_path = NULL, *device = NULL;
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--lut") == 0 && i + 1 < argc)
      lut_path = argv[++i];
    else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
      device = argv[++i];
    else if (strcmp(argv[i], "--quick") == 0)
      quick = true;
    else {
      fprintf(stderr, "usage: bench_search [--lut LUT.db] [--device FP] [--quick]\n");
      return 2;
    }
  }
  char root[] = "/tmp/opcost-bench-search-XXXXXX";
  if (mkdtemp(root) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  struct oc_space *sp = NULL;
  struct oc_lut *lut = NULL;
  struct oc_lut_cache *cache = NULL;
  struct oc_search_table *table = NULL;
  struct oc_lut_roofline roof = {100.0, 20.0, 1.0};
  const struct oc_lut_roofline *rf = NULL;
  if (oc_space_builtin("ofa-mbv3-w1.0", &sp) != oc_status_ok) return fail("space");
  char fp[17];
  int32_t threads = 0;
  if (lut_path) {
    if (oc_lut_open(lut_path, oc_lut_read_only, &lut) != oc_status_ok ||
        oc_lut_resolve(lut, device, 0, fp, &threads) != oc_status_ok ||
        oc_lut_cache_load(lut, fp, threads, &cache) != oc_status_ok)
      return fail(lut_path);
    /* Ops the LUT lacks are filled from the nominal roofline and counted. */
    rf = &roof;
    printf("latency source: LUT %s (device %s, %d thread%s, %zu rows)\n", lut_path, fp,
           (int)threads, threads == 1 ? "" : "s", oc_lut_cache_size(cache));
  } else {
    char path[512];
    snprintf(path, sizeof path, "%s/roofline.db", root);
    struct oc_lut_device d = {.info_json = "{}"};
    strcpy(d.fingerprint, "00000000000bec4e");
    strcpy(d.target, "none");
    strcpy(d.name, "nominal roofline");
    if (oc_lut_open(path, oc_lut_create, &lut) != oc_status_ok ||
        oc_lut_put_device(lut, &d) != oc_status_ok ||
        oc_lut_cache_load(lut, d.fingerprint, 1, &cache) != oc_status_ok)
      return fail("empty LUT");
    rf = &roof;
    printf("latency source: no LUT given: every op priced by a nominal roofline (100 GFLOP/s, "
           "20 GB/s, 1 us/kernel); same code path, not a device's latencies\n");
  }

  /* ---- 1. evaluations per second ---- */
  size_t n = oc_space_gene_count(sp);
  size_t n_vec = quick ? 20000 : 200000;
  int32_t *vec = malloc(n_vec * n * sizeof *vec);
  if (vec == NULL) return 1;
  for (size_t i = 0; i < n_vec; i++)
    if (oc_space_sample(sp, 7, i, vec + i * n, n) != oc_status_ok) return fail("sample");
  if (oc_search_table_create(sp, cache, oc_lut_kernel, rf, false, &table) != oc_status_ok)
    return fail("table");
  struct oc_search_costs c;
  double t0 = now_s();
  for (size_t i = 0; i < n_vec; i++)
    if (oc_search_table_eval(table, vec + i * n, n, &c) != oc_status_ok) return fail("eval");
  double fill_s = now_s() - t0;
  int64_t entries, shapes;
  oc_search_table_stats(table, &entries, &shapes);
  printf("\nOFA-MobileNetV3 (%zu genes, %zu blocks), kernel-granularity LUT latency + MACs, "
         "params, peak memory\n",
         n, oc_space_block_count(sp));
  printf("  first pass over %zu random vectors (fills the tables): %.3f s, %lld entries, %lld "
         "shapes\n",
         n_vec, fill_s, (long long)entries, (long long)shapes);
  double sum = 0;
  int64_t evals = 0;
  t0 = now_s();
  double elapsed = 0;
  do {
    for (size_t i = 0; i < n_vec; i++) {
      oc_search_table_eval(table, vec + i * n, n, &c);
      sum += c.latency_us;
    }
    evals += (int64_t)n_vec;
    elapsed = now_s() - t0;
  } while (elapsed < (quick ? 0.3 : 2.0));
  double fast_rate = (double)evals / elapsed;
  printf("  fast path (per-block tables):  %12.0f evaluations/s  (%.0f ns each; checksum %.6g)\n",
         fast_rate, 1e9 / fast_rate, sum / (double)evals);
  size_t n_slow = quick ? 50 : 300;
  t0 = now_s();
  for (size_t i = 0; i < n_slow; i++) {
    struct oc_search_costs s;
    if (oc_search_costs_slow(sp, cache, oc_lut_kernel, rf, false, vec + i * n, n, &s) !=
        oc_status_ok)
      return fail("slow path");
    oc_search_table_eval(table, vec + i * n, n, &c);
    if (fabs(s.latency_us - c.latency_us) > 1e-9 * s.latency_us || s.macs != c.macs ||
        s.peak_activation_bytes != c.peak_activation_bytes) {
      fprintf(stderr, "bench_search: fast and slow paths differ on vector %zu\n", i);
      return 1;
    }
  }
  double slow_rate = (double)n_slow / (now_s() - t0);
  printf("  slow path (decode + predict):  %12.0f evaluations/s  (%.1f us each; agrees with the "
         "fast path on all %zu)\n",
         slow_rate, 1e6 / slow_rate, n_slow);
  printf("  speed-up: %.0fx\n", fast_rate / slow_rate);
  uint64_t hx = 0;
  t0 = now_s();
  for (size_t i = 0; i < n_vec; i++) {
    uint64_t h;
    oc_space_phenotype_hash(sp, vec + i * n, n, &h);
    hx ^= h;
  }
  double hash_rate = (double)n_vec / (now_s() - t0);
  printf("  phenotype hash (deduplication): %11.0f hashes/s  (%.0f ns each; xor %016llx)\n",
         hash_rate, 1e9 / hash_rate, (unsigned long long)hx);
  free(vec);

  /* ---- 2. searches at equal evaluation counts ---- */
  const int64_t budgets_full[] = {1000, 5000, 20000};
  const int64_t budgets_quick[] = {500, 2000};
  const int64_t *budgets = quick ? budgets_quick : budgets_full;
  size_t n_budgets = quick ? 2 : 3;
  int seeds = quick ? 2 : 3;
  const char *problems[][3] = {
      {"latency,params", "macs>=300M", "2 objectives"},
      {"latency,params,peak_mem", "macs>=300M", "3 objectives"},
  };
  for (size_t p = 0; p < 2; p++) {
    printf("\nsearch: minimize %s subject to %s (population 50; mean HV over %d seeds; one fixed "
           "reference point)\n",
           problems[p][0], problems[p][1], seeds);
    printf("  %8s  %-10s %14s %10s %14s %14s\n", "budget", "algorithm", "hypervolume", "front",
           "evals/s (eval)", "evals/s (run)");
    for (size_t b = 0; b < n_budgets; b++) {
      for (int a = 0; a < oc_search_algorithm__count; a++) {
        double hv = 0, front = 0, eval_rate = 0, run_rate = 0;
        for (int seed = 1; seed <= seeds; seed++) {
          struct oc_search_config cfg;
          oc_search_config_default(&cfg);
          cfg.space = sp;
          cfg.algorithm = (enum oc_search_algorithm)a;
          cfg.seed = (uint64_t)seed;
          cfg.budget = budgets[b];
          cfg.population = 50;
          cfg.lut = cache;
          cfg.roofline = rf;
          cfg.table = table; /* filled once, shared by every run */
          if (oc_search_parse_objectives(problems[p][0], cfg.objectives, &cfg.n_objectives) !=
                  oc_status_ok ||
              oc_search_parse_constraint(problems[p][1], &cfg.constraints[0]) != oc_status_ok)
            return fail("problem");
          cfg.n_constraints = 1;
          char out[600];
          snprintf(out, sizeof out, "%s/run-%zu-%zu-%d-%d", root, p, b, a, seed);
          cfg.out_dir = out;
          struct oc_search_report r;
          if (oc_search_run(&cfg, &r) != oc_status_ok) return fail("search");
          hv += r.hypervolume;
          front += (double)r.front_size;
          eval_rate += r.evals_per_s;
          run_rate += (double)r.evaluated / r.elapsed_s;
          rm_rf(out);
        }
        printf("  %8lld  %-10s %14.6g %10.1f %14.0f %14.0f\n", (long long)budgets[b],
               oc_search_algorithm_name((enum oc_search_algorithm)a), hv / seeds, front / seeds,
               eval_rate / seeds, run_rate / seeds);
      }
    }
  }
  printf("\nevals/s (eval): candidate evaluation alone (metrics, feasibility); evals/s (run): the "
         "whole search (operators, hashing, sorting, journal, HV trace, outputs) / wall time.\n");
  oc_search_table_free(table);
  oc_lut_cache_free(cache);
  oc_lut_close(lut);
  oc_space_free(sp);
  rm_rf(root);
  return 0;
}
