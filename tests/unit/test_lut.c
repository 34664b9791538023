/* test_lut.c - the LUT store: schema and format checks, rows and their
 * validation, duplicate policies, transactions, the cache, device
 * resolution, and the durability promises (concurrent writer processes, a
 * writer killed with SIGKILL). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "opcost/lut.h"
#include "tests/scratch_dir.h"

static char dir[256];
static char path[512];

static void setup(void) {
  scratch_dir_make(dir, sizeof dir, "lut");
  snprintf(path, sizeof path, "%s/lut.db", dir);
}

static void teardown(void) { scratch_dir_remove(dir); }

TestSuite(lut, .init = setup, .fini = teardown);

static const char *const fp1 = "00000000000000a1";
static const char *const fp2 = "00000000000000b2";

static void put_device(struct oc_lut *lut, const char *fp) {
  struct oc_lut_device d = {.info_json = "{}"};
  strcpy(d.fingerprint, fp);
  strcpy(d.target, "cpu");
  strcpy(d.name, "test device");
  cr_assert_eq(oc_lut_put_device(lut, &d), oc_status_ok, "%s", oc_errmsg());
}

/* A row without Criterion asserts: forked writer processes use it (an
 * assert in a child, even a passing one, talks to the runner and can hang
 * it). */
static struct oc_lut_row row_of(const char *fp, const char *key, double median) {
  struct oc_lut_row r;
  memset(&r, 0, sizeof r);
  strcpy(r.fingerprint, fp);
  strcpy(r.target, "cpu");
  r.threads = 1;
  snprintf(r.key, sizeof r.key, "%s", key);
  if (oc_lut_row_fill_costs(&r) != oc_status_ok) r.key[0] = '\0'; /* put() rejects it */
  r.granularity = oc_lut_kernel;
  r.samples = 10;
  r.median_us = median;
  r.p10_us = median * 0.9;
  r.p90_us = median * 1.1;
  r.min_us = median * 0.8;
  r.mad_us = median * 0.01;
  r.cv = 0.02;
  r.peak_bytes = -1;
  r.source = oc_lut_measured;
  strcpy(r.measured_at, "2024-01-02T03:04:05Z");
  r.counters_json = "{\"runs\":10}";
  r.env_json = "{\"governor\":\"performance\"}";
  return r;
}

static struct oc_lut_row make_row(const char *fp, const char *key, double median) {
  struct oc_lut_row r = row_of(fp, key, median);
  cr_assert_str_eq(r.key, key, "%s", oc_errmsg());
  return r;
}

static const char *conv_key(int cout) {
  static char key[128];
  snprintf(key, sizeof key, "conv2d.f32 h=8 w=8 cin=4 cout=%d k=3 s=1 g=1 d=1 act=relu", cout);
  return key;
}

static struct oc_lut *create(void) {
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_ok, "%s", oc_errmsg());
  return lut;
}

static int64_t count_rows(struct oc_lut *lut) {
  int64_t n = -1;
  cr_assert_eq(oc_lut_count(lut, NULL, &n), oc_status_ok, "%s", oc_errmsg());
  return n;
}

Test(lut, row_round_trip) {
  struct oc_lut *lut = create();
  put_device(lut, fp1);
  struct oc_lut_row r = make_row(fp1, conv_key(8), 12.5);
  r.peak_bytes = 4096;
  enum oc_lut_put_result res;
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, &res), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(res, oc_lut_inserted);
  oc_lut_close(lut);

  cr_assert_eq(oc_lut_open(path, oc_lut_read_only, &lut), oc_status_ok, "%s", oc_errmsg());
  struct oc_lut_row g;
  cr_assert_eq(oc_lut_get(lut, fp1, 1, conv_key(8), &g), oc_status_ok, "%s", oc_errmsg());
  cr_assert_str_eq(g.key, r.key);
  cr_assert_str_eq(g.kind, "conv2d");
  cr_assert_str_eq(g.dtype, "f32");
  cr_assert_eq(g.flops, r.flops);
  cr_assert_eq(g.macs, 8 * 8 * 8 * 4 * 9);
  cr_assert_eq(g.weight_bytes, r.weight_bytes);
  cr_assert_eq(g.activation_bytes, (8 * 8 * 4 + 8 * 8 * 8) * 4);
  cr_assert_eq(g.samples, 10);
  cr_assert_eq(g.median_us, 12.5);
  cr_assert_eq(g.p90_us, r.p90_us);
  cr_assert_eq(g.peak_bytes, 4096);
  cr_assert_eq(g.source, oc_lut_measured);
  cr_assert_str_eq(g.measured_at, "2024-01-02T03:04:05Z");
  cr_assert_str_eq(g.counters_json, "{\"runs\":10}");
  cr_assert_eq(oc_lut_get(lut, fp1, 2, conv_key(8), &g), oc_status_not_found);
  cr_assert_eq(oc_lut_get(lut, fp1, 1, conv_key(9), &g), oc_status_not_found);
  /* A read-only store refuses writes. */
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_replace, NULL), oc_status_invalid_argument);
  oc_lut_close(lut);
}

Test(lut, unknown_values_read_back_as_unknown) {
  struct oc_lut *lut = create();
  put_device(lut, fp1);
  struct oc_lut_row r = make_row(fp1, conv_key(8), 3.0);
  r.p10_us = r.p90_us = r.min_us = r.mad_us = r.cv = -1;
  r.peak_bytes = -1;
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_ok, "%s", oc_errmsg());
  struct oc_lut_row g;
  cr_assert_eq(oc_lut_get(lut, fp1, 1, r.key, &g), oc_status_ok);
  cr_assert_eq(g.p10_us, -1);
  cr_assert_eq(g.mad_us, -1);
  cr_assert_eq(g.cv, -1);
  cr_assert_eq(g.peak_bytes, -1);
  oc_lut_close(lut);
}

/* Each bad row: the status and a word the message must contain. */
Test(lut, bad_rows_are_rejected_with_the_field) {
  struct oc_lut *lut = create();
  put_device(lut, fp1);
  struct oc_lut_row r;

  r = make_row(fp1, conv_key(8), NAN);
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "median_us"), "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), path), "message names the file: %s", oc_errmsg());

  r = make_row(fp1, conv_key(8), -2.0);
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "median_us"), "%s", oc_errmsg());

  r = make_row(fp1, conv_key(8), INFINITY);
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);

  r = make_row(fp1, conv_key(8), 5.0);
  r.p10_us = 6.0;
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "p10_us"), "%s", oc_errmsg());

  r = make_row(fp1, conv_key(8), 5.0);
  r.samples = 0;
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "samples"), "%s", oc_errmsg());

  r = make_row(fp1, conv_key(8), 5.0);
  r.threads = 0;
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);

  r = make_row(fp1, conv_key(8), 5.0);
  strcpy(r.measured_at, "2024-13-02T03:04:05Z");
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "measured_at"), "%s", oc_errmsg());

  r = make_row(fp1, conv_key(8), 5.0);
  r.env_json = "[1,2]";
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "env"), "%s", oc_errmsg());

  r = make_row(fp1, conv_key(8), 5.0);
  r.counters_json = "{not json";
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);

  /* Not canonical (fields out of order), unknown kind at kernel
   * granularity, broken grammar, bad fingerprint, kind/key mismatch. */
  r = make_row(fp1, conv_key(8), 5.0);
  strcpy(r.key, "conv2d.f32 w=8 h=8 cin=4 cout=8 k=3 s=1 g=1 d=1 act=relu");
  cr_assert_neq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_ok);
  r = make_row(fp1, conv_key(8), 5.0);
  strcpy(r.key, "mbconv.f32 h=28 w=28 cin=40 cout=40 k=5 s=1 e=6 se=1 act=relu");
  strcpy(r.kind, "mbconv");
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "block"), "%s", oc_errmsg());
  r.granularity = oc_lut_block;
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_ok, "%s", oc_errmsg());
  r = make_row(fp1, conv_key(8), 5.0);
  strcpy(r.key, "conv2d.f32  h=8");
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);
  r = make_row(fp1, conv_key(8), 5.0);
  strcpy(r.fingerprint, "XYZ");
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);
  r = make_row(fp1, conv_key(8), 5.0);
  strcpy(r.kind, "fc");
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);

  /* A device that is not in the device table. */
  r = make_row(fp2, conv_key(8), 5.0);
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "device table"), "%s", oc_errmsg());

  cr_assert_eq(count_rows(lut), 1); /* only the block row */
  oc_lut_close(lut);
}

Test(lut, duplicate_policies) {
  struct oc_lut *lut = create();
  put_device(lut, fp1);
  struct oc_lut_row r = make_row(fp1, conv_key(8), 10.0);
  enum oc_lut_put_result res;
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, &res), oc_status_ok);
  struct oc_lut_row fewer = make_row(fp1, conv_key(8), 20.0);
  fewer.samples = 5;
  strcpy(fewer.measured_at, "2025-01-01T00:00:00Z");
  struct oc_lut_row more = make_row(fp1, conv_key(8), 30.0);
  more.samples = 50;
  struct oc_lut_row got;

  cr_assert_eq(oc_lut_put(lut, &fewer, oc_lut_keep_existing, &res), oc_status_ok);
  cr_assert_eq(res, oc_lut_kept);
  cr_assert_eq(oc_lut_put(lut, &fewer, oc_lut_prefer_samples, &res), oc_status_ok);
  cr_assert_eq(res, oc_lut_kept);
  cr_assert_eq(oc_lut_put(lut, &fewer, oc_lut_prefer_newer, &res), oc_status_ok);
  cr_assert_eq(res, oc_lut_replaced);
  cr_assert_eq(oc_lut_get(lut, fp1, 1, r.key, &got), oc_status_ok);
  cr_assert_eq(got.median_us, 20.0);
  cr_assert_eq(oc_lut_put(lut, &more, oc_lut_prefer_samples, &res), oc_status_ok);
  cr_assert_eq(res, oc_lut_replaced);
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_fail, &res), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "already stored"), "%s", oc_errmsg());
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_replace, &res), oc_status_ok);
  cr_assert_eq(res, oc_lut_replaced);
  cr_assert_eq(oc_lut_get(lut, fp1, 1, r.key, &got), oc_status_ok);
  cr_assert_eq(got.median_us, 10.0);
  cr_assert_eq(count_rows(lut), 1);
  oc_lut_close(lut);
}

Test(lut, rollback_writes_nothing) {
  struct oc_lut *lut = create();
  put_device(lut, fp1);
  cr_assert_eq(oc_lut_begin(lut), oc_status_ok);
  for (int c = 1; c <= 5; c++) {
    struct oc_lut_row r = make_row(fp1, conv_key(c), c);
    cr_assert_eq(oc_lut_put(lut, &r, oc_lut_fail, NULL), oc_status_ok, "%s", oc_errmsg());
  }
  cr_assert_eq(count_rows(lut), 5);
  oc_lut_rollback(lut);
  cr_assert_eq(count_rows(lut), 0);
  cr_assert_eq(oc_lut_commit(lut), oc_status_invalid_argument); /* none open */
  oc_lut_close(lut);
}

Test(lut, format_checks_name_the_file) {
  struct oc_lut *lut = NULL;
  /* Missing. */
  cr_assert_eq(oc_lut_open(path, oc_lut_read_only, &lut), oc_status_not_found);
  cr_assert(strstr(oc_errmsg(), path));
  /* A text file. */
  FILE *f = fopen(path, "w");
  fputs("key,median\nconv,1\n", f);
  fclose(f);
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_incompatible);
  cr_assert(strstr(oc_errmsg(), path) && strstr(oc_errmsg(), "not an SQLite"), "%s", oc_errmsg());
  unlink(path);
  /* An SQLite database of something else. */
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1)", NULL, NULL, NULL),
               SQLITE_OK);
  sqlite3_close(db);
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_incompatible);
  cr_assert(strstr(oc_errmsg(), path) && strstr(oc_errmsg(), "not an opcost LUT"), "%s",
            oc_errmsg());
  cr_assert_null(lut);
  unlink(path);
  /* A format tag of another program. */
  lut = create();
  oc_lut_close(lut);
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(db, "UPDATE meta SET value = 'other' WHERE name = 'format'", NULL,
                            NULL, NULL),
               SQLITE_OK);
  sqlite3_close(db);
  cr_assert_eq(oc_lut_open(path, oc_lut_read_only, &lut), oc_status_incompatible);
  cr_assert(strstr(oc_errmsg(), "'other'"), "%s", oc_errmsg());
}

Test(lut, schema_from_the_future_is_refused) {
  struct oc_lut *lut = create();
  oc_lut_close(lut);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  cr_assert_eq(oc_lut_open(path, oc_lut_read_write, &lut), oc_status_incompatible);
  cr_assert(strstr(oc_errmsg(), "99") && strstr(oc_errmsg(), "newer") && strstr(oc_errmsg(), path),
            "%s", oc_errmsg());
}

/* Writes 300 rows and checkpoints, so that the file holds them. */
static void fill(void) {
  struct oc_lut *lut = create();
  put_device(lut, fp1);
  cr_assert_eq(oc_lut_begin(lut), oc_status_ok);
  for (int c = 1; c <= 300; c++) {
    struct oc_lut_row r = make_row(fp1, conv_key(c), c);
    r.env_json = "{\"pad\":\"................................................................\"}";
    cr_assert_eq(oc_lut_put(lut, &r, oc_lut_fail, NULL), oc_status_ok, "%s", oc_errmsg());
  }
  cr_assert_eq(oc_lut_commit(lut), oc_status_ok);
  oc_lut_close(lut); /* the last connection checkpoints and removes the WAL */
}

Test(lut, truncated_file_is_an_error_naming_it) {
  fill();
  FILE *f = fopen(path, "r+");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  cr_assert_gt(size, 8192);
  cr_assert_eq(truncate(path, size / 2), 0);
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_read_only, &lut), oc_status_io_error);
  cr_assert(strstr(oc_errmsg(), path) && strstr(oc_errmsg(), "truncated"), "%s", oc_errmsg());
  cr_assert_eq(truncate(path, 40), 0);
  cr_assert_eq(oc_lut_open(path, oc_lut_read_only, &lut), oc_status_io_error);
  cr_assert(strstr(oc_errmsg(), path), "%s", oc_errmsg());
}

Test(lut, corrupt_pages_are_an_error_naming_the_file) {
  fill();
  /* Overwrite every page after the first two with noise. */
  FILE *f = fopen(path, "r+");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 8192, SEEK_SET);
  for (long i = 8192; i < size; i++) fputc((int)((i * 7919) & 0xff), f);
  fclose(f);
  struct oc_lut *lut = NULL;
  enum oc_status st = oc_lut_open(path, oc_lut_read_only, &lut);
  if (st == oc_status_ok) {
    int64_t n;
    st = oc_lut_count(lut, NULL, &n);
    struct oc_lut_row r;
    if (st == oc_status_ok) st = oc_lut_get(lut, fp1, 1, conv_key(200), &r);
    oc_lut_close(lut);
  }
  cr_assert_neq(st, oc_status_ok);
  cr_assert(strstr(oc_errmsg(), path), "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "sqlite error"), "raw SQLite code quoted: %s", oc_errmsg());
}

Test(lut, cache_lookup) {
  struct oc_lut *lut = create();
  put_device(lut, fp1);
  put_device(lut, fp2);
  for (int c = 1; c <= 100; c++) {
    struct oc_lut_row r = make_row(fp1, conv_key(c), c * 1.5);
    cr_assert_eq(oc_lut_put(lut, &r, oc_lut_fail, NULL), oc_status_ok);
  }
  struct oc_lut_row other = make_row(fp2, conv_key(1), 999);
  cr_assert_eq(oc_lut_put(lut, &other, oc_lut_fail, NULL), oc_status_ok);
  cr_assert_eq(oc_lut_set_overhead(lut, fp1, 1, 42.5), oc_status_ok);
  struct oc_lut_cache *cache = NULL;
  cr_assert_eq(oc_lut_cache_load(lut, fp1, 1, &cache), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_lut_cache_size(cache), 100);
  cr_assert_eq(oc_lut_cache_overhead_us(cache), 42.5);
  for (int c = 1; c <= 100; c++) {
    double us = -1;
    cr_assert(oc_lut_cache_get(cache, conv_key(c), &us));
    cr_assert_eq(us, c * 1.5);
  }
  double us = -1;
  cr_assert_not(oc_lut_cache_get(cache, conv_key(101), &us));
  cr_assert_eq(us, -1);
  const struct oc_lut_entry *e = oc_lut_cache_find(cache, conv_key(3));
  cr_assert_not_null(e);
  cr_assert_eq(e->weight_bytes, (3 * 9 * 4 + 3) * 4);
  cr_assert_null(oc_lut_cache_find(cache, "conv2d.f32"));
  /* By op descriptor: the same rows, whatever unused fields hold. */
  struct oc_op op;
  cr_assert_eq(oc_op_parse(conv_key(7), &op), oc_status_ok);
  cr_assert(oc_lut_cache_get_op(cache, &op, &us));
  cr_assert_eq(us, 7 * 1.5);
  op.m = 99; /* conv2d does not use m */
  cr_assert(oc_lut_cache_get_op(cache, &op, &us));
  cr_assert_eq(us, 7 * 1.5);
  op.cout = 101;
  cr_assert_not(oc_lut_cache_get_op(cache, &op, &us));
  op.cout = 7;
  op.act = oc_act_relu6;
  cr_assert_null(oc_lut_cache_find_op(cache, &op));
  op.kind = (enum oc_op_kind)9999;
  cr_assert_null(oc_lut_cache_find_op(cache, &op));
  oc_lut_cache_free(cache);
  cr_assert_eq(oc_lut_cache_load(lut, fp2, 1, &cache), oc_status_ok);
  cr_assert_eq(oc_lut_cache_size(cache), 1);
  cr_assert_eq(oc_lut_cache_overhead_us(cache), 0);
  cr_assert(oc_lut_cache_get(cache, conv_key(1), &us));
  cr_assert_eq(us, 999);
  oc_lut_cache_free(cache);
  oc_lut_close(lut);
}

Test(lut, resolve_device_and_threads) {
  struct oc_lut *lut = create();
  put_device(lut, fp1);
  put_device(lut, fp2);
  struct oc_lut_row r = make_row(fp1, conv_key(1), 1);
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_fail, NULL), oc_status_ok);
  char fp[17];
  int32_t threads = 0;
  cr_assert_eq(oc_lut_resolve(lut, NULL, 0, fp, &threads), oc_status_ok);
  cr_assert_str_eq(fp, fp1);
  cr_assert_eq(threads, 1);
  r = make_row(fp2, conv_key(1), 1);
  r.threads = 4;
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_fail, NULL), oc_status_ok);
  cr_assert_eq(oc_lut_resolve(lut, NULL, 0, fp, &threads), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), fp1) && strstr(oc_errmsg(), fp2), "%s", oc_errmsg());
  cr_assert_eq(oc_lut_resolve(lut, "00000000000000b", 0, fp, &threads), oc_status_ok);
  cr_assert_str_eq(fp, fp2);
  cr_assert_eq(threads, 4);
  cr_assert_eq(oc_lut_resolve(lut, NULL, 4, fp, &threads), oc_status_ok);
  cr_assert_str_eq(fp, fp2);
  cr_assert_eq(oc_lut_resolve(lut, "c", 0, fp, &threads), oc_status_not_found);
  cr_assert_eq(oc_lut_resolve(lut, "not-hex", 0, fp, &threads), oc_status_invalid_argument);
  struct oc_lut_filter f = {.fingerprint = fp2, .threads = 4};
  int64_t n = 0;
  cr_assert_eq(oc_lut_count(lut, &f, &n), oc_status_ok);
  cr_assert_eq(n, 1);
  f.threads = 1;
  cr_assert_eq(oc_lut_count(lut, &f, &n), oc_status_ok);
  cr_assert_eq(n, 0);
  oc_lut_close(lut);
}

/* ---- processes ---- */

#define KEYS_PER_WRITER 150

/* A writer process: its own connection, one committed row per put. Writers
 * overlap on half their keys. */
static int writer(int id) {
  struct oc_lut *lut = NULL;
  if (oc_lut_open(path, oc_lut_create, &lut) != oc_status_ok) {
    fprintf(stderr, "writer %d: %s\n", id, oc_errmsg());
    return 10;
  }
  struct oc_lut_device d = {.info_json = "{}"};
  strcpy(d.fingerprint, fp1);
  strcpy(d.target, "cpu");
  if (oc_lut_put_device(lut, &d) != oc_status_ok) {
    fprintf(stderr, "writer %d: %s\n", id, oc_errmsg());
    return 11;
  }
  int first = id * KEYS_PER_WRITER / 2;
  for (int c = first + 1; c <= first + KEYS_PER_WRITER; c++) {
    struct oc_lut_row r = row_of(fp1, conv_key(c), c);
    if (oc_lut_put(lut, &r, oc_lut_keep_existing, NULL) != oc_status_ok) {
      fprintf(stderr, "writer %d: %s\n", id, oc_errmsg());
      return 12;
    }
  }
  oc_lut_close(lut);
  return 0;
}

Test(lut, concurrent_writer_processes_lose_nothing) {
  pid_t pids[3];
  for (int i = 0; i < 3; i++) {
    pids[i] = fork();
    if (pids[i] == 0) _exit(writer(i));
    cr_assert_geq(pids[i], 0);
  }
  for (int i = 0; i < 3; i++) {
    int status = 0;
    cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d exited with %d", i,
              WEXITSTATUS(status));
  }
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_read_only, &lut), oc_status_ok, "%s", oc_errmsg());
  /* Keys 1 .. 2 x 75 + 150 = 300, each once. */
  cr_assert_eq(count_rows(lut), 2 * KEYS_PER_WRITER / 2 + KEYS_PER_WRITER);
  struct oc_lut_cache *cache = NULL;
  cr_assert_eq(oc_lut_cache_load(lut, fp1, 1, &cache), oc_status_ok);
  for (int c = 1; c <= 300; c++) cr_assert(oc_lut_cache_find(cache, conv_key(c)), "key %d", c);
  oc_lut_cache_free(cache);
  oc_lut_close(lut);
}

Test(lut, writer_killed_mid_way_resumes_without_loss_or_duplicates) {
  /* The child writes rows one transaction each, forever (keys cycle through
   * a large range); the parent kills it with SIGKILL at an arbitrary point. */
  struct oc_lut *lut = create();
  put_device(lut, fp1);
  oc_lut_close(lut);
  pid_t pid = fork();
  if (pid == 0) {
    struct oc_lut *w = NULL;
    if (oc_lut_open(path, oc_lut_read_write, &w) != oc_status_ok) _exit(10);
    for (int c = 1; c <= 100000; c++) {
      struct oc_lut_row r = row_of(fp1, conv_key(c), c);
      if (oc_lut_put(w, &r, oc_lut_keep_existing, NULL) != oc_status_ok) _exit(12);
    }
    _exit(0);
  }
  cr_assert_geq(pid, 0);
  /* Wait until it has committed some rows, then kill it mid-write. */
  int64_t seen = 0;
  for (int tries = 0; tries < 2000 && seen < 40; tries++) {
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
    cr_assert_eq(oc_lut_open(path, oc_lut_read_only, &lut), oc_status_ok, "%s", oc_errmsg());
    seen = count_rows(lut);
    oc_lut_close(lut);
  }
  cr_assert_geq(seen, 40);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer was killed");

  cr_assert_eq(oc_lut_open(path, oc_lut_read_write, &lut), oc_status_ok, "%s", oc_errmsg());
  int64_t kept = count_rows(lut);
  cr_assert_geq(kept, seen, "nothing committed was lost (%lld < %lld)", (long long)kept,
                (long long)seen);
  /* The committed rows are exactly keys 1..kept, complete and valid. */
  for (int c = 1; c <= kept; c++) {
    struct oc_lut_row r;
    cr_assert_eq(oc_lut_get(lut, fp1, 1, conv_key(c), &r), oc_status_ok, "key %d", c);
    cr_assert_eq(r.median_us, c);
    cr_assert_eq(oc_lut_row_validate(&r), oc_status_ok, "%s", oc_errmsg());
  }
  /* Resume: write keys 1..kept+20 again; only the new ones land. */
  int inserted = 0;
  for (int c = 1; c <= kept + 20; c++) {
    struct oc_lut_row r = make_row(fp1, conv_key(c), c);
    enum oc_lut_put_result res;
    cr_assert_eq(oc_lut_put(lut, &r, oc_lut_keep_existing, &res), oc_status_ok);
    inserted += res == oc_lut_inserted;
  }
  cr_assert_eq(inserted, 20);
  cr_assert_eq(count_rows(lut), kept + 20);
  oc_lut_close(lut);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  sqlite3_close(db);
}
