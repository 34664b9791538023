/* test_search_fixture.h - what the search suites share: a temporary
 * directory, and a LUT store filled with the kernels a space uses at some
 * resolutions. The LUT's latencies are test data derived from each key's
 * hash (not measurements): the suites check that two code paths agree and
 * that the search behaves, which any positive numbers serve. */
#ifndef OPCOST_TEST_SEARCH_FIXTURE_H
#define OPCOST_TEST_SEARCH_FIXTURE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opcost/lut.h"
#include "opcost/search.h"
#include "opcost/space.h"

#define FIXTURE_FP "00000000000005ea"

static inline void fixture_rm_rf(const char *path) {
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
    fixture_rm_rf(p);
  }
  closedir(d);
  rmdir(path);
}

static inline double fixture_latency(const char *key) {
  unsigned long long h = 1469598103934665603ULL;
  for (const char *p = key; *p; p++) {
    h ^= (unsigned char)*p;
    h *= 1099511628211ULL;
  }
  return 0.5 + (double)(h % 100000) / 1000.0;
}

/* A store at path with the kernel keys of space at the given resolutions
 * (NULL/0: all), every `skip`-th key left out (0: none) so that misses
 * exist; overhead_us as the device's network overhead. */
static inline void fixture_lut(const char *path, const struct oc_space *space, const int32_t *res,
                               size_t n_res, int skip, double overhead_us, struct oc_lut **lut_out,
                               struct oc_lut_cache **cache_out) {
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_ok, "%s", oc_errmsg());
  struct oc_lut_device d = {.info_json = "{}"};
  strcpy(d.fingerprint, FIXTURE_FP);
  strcpy(d.target, "test");
  strcpy(d.name, "search test data");
  cr_assert_eq(oc_lut_put_device(lut, &d), oc_status_ok, "%s", oc_errmsg());
  struct oc_space_ops *ops = NULL;
  cr_assert_eq(oc_space_enumerate_ops(space, res, n_res, &ops), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_lut_begin(lut), oc_status_ok, "%s", oc_errmsg());
  for (size_t i = 0; i < ops->n_kernels; i++) {
    if (skip > 0 && i % (size_t)skip == 0) continue;
    struct oc_lut_row r;
    memset(&r, 0, sizeof r);
    strcpy(r.fingerprint, FIXTURE_FP);
    strcpy(r.target, "test");
    r.threads = 1;
    snprintf(r.key, sizeof r.key, "%s", ops->kernel_keys[i]);
    cr_assert_eq(oc_lut_row_fill_costs(&r), oc_status_ok, "%s: %s", r.key, oc_errmsg());
    double m = fixture_latency(r.key);
    r.granularity = oc_lut_kernel;
    r.samples = 5;
    r.median_us = m;
    r.p10_us = m * 0.95;
    r.p90_us = m * 1.05;
    r.min_us = m * 0.9;
    r.mad_us = m * 0.01;
    r.cv = 0.01;
    r.peak_bytes = -1;
    r.source = oc_lut_measured;
    strcpy(r.measured_at, "2024-01-02T03:04:05Z");
    cr_assert_eq(oc_lut_put(lut, &r, oc_lut_replace, NULL), oc_status_ok, "%s", oc_errmsg());
  }
  cr_assert_eq(oc_lut_commit(lut), oc_status_ok, "%s", oc_errmsg());
  if (overhead_us > 0)
    cr_assert_eq(oc_lut_set_overhead(lut, FIXTURE_FP, 1, overhead_us), oc_status_ok, "%s",
                 oc_errmsg());
  oc_space_ops_free(ops);
  cr_assert_eq(oc_lut_cache_load(lut, FIXTURE_FP, 1, cache_out), oc_status_ok, "%s", oc_errmsg());
  *lut_out = lut;
}

#endif
