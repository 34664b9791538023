/* test_lut_io.c - LUT export and import (CSV, JSON Lines, OFA/ProxylessNAS
 * YAML), the OFA key mapping, merge with its duplicate policies and flags,
 * and diff. Bad input of every kind: the error names the file and line and
 * nothing is written. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opcost/lut.h"
#include "tests/scratch_dir.h"

static char dir[256];

static void setup(void) {
  scratch_dir_make(dir, sizeof dir, "lutio");
}

static void teardown(void) { scratch_dir_remove(dir); }

TestSuite(lut_io, .init = setup, .fini = teardown);

static const char *tmp(const char *name) {
  static char bufs[4][512];
  static int next;
  char *b = bufs[next++ % 4];
  snprintf(b, 512, "%s/%s", dir, name);
  return b;
}

static void write_file(const char *p, const char *text) {
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static char *read_all(const char *p) {
  FILE *f = fopen(p, "r");
  cr_assert_not_null(f, "%s", p);
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return strdup(buf);
}

static const char *const fp1 = "00000000000000a1";
static const char *const fp2 = "00000000000000b2";

static struct oc_lut *open_new(const char *name) {
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(tmp(name), oc_lut_create, &lut), oc_status_ok, "%s", oc_errmsg());
  return lut;
}

static void put_device(struct oc_lut *lut, const char *fp, const char *name) {
  struct oc_lut_device d = {.info_json = "{\"cores\":2}"};
  strcpy(d.fingerprint, fp);
  strcpy(d.target, "cpu");
  strcpy(d.name, name);
  strcpy(d.runtime, "XNNPACK test");
  cr_assert_eq(oc_lut_put_device(lut, &d), oc_status_ok, "%s", oc_errmsg());
}

static const char *fc_key(int cout) {
  static char key[128];
  snprintf(key, sizeof key, "fc.f32 m=1 cin=64 cout=%d act=none", cout);
  return key;
}

static void put(struct oc_lut *lut, const char *fp, const char *key, double median,
                int64_t samples, const char *at) {
  struct oc_lut_row r;
  memset(&r, 0, sizeof r);
  strcpy(r.fingerprint, fp);
  strcpy(r.target, "cpu");
  r.threads = 1;
  snprintf(r.key, sizeof r.key, "%s", key);
  cr_assert_eq(oc_lut_row_fill_costs(&r), oc_status_ok);
  r.samples = samples;
  r.median_us = median;
  r.p10_us = median * 0.95;
  r.p90_us = median * 1.05;
  r.min_us = median * 0.9;
  r.mad_us = median / 100;
  r.cv = 0.1 / 3; /* a value with a long decimal expansion */
  r.peak_bytes = samples % 2 ? -1 : 1000;
  r.source = oc_lut_measured;
  strcpy(r.measured_at, at);
  r.counters_json = "{\"a\":1,\"b\":\"x,y \\\"q\\\"\"}";
  r.env_json = "{\"governor\":\"performance\",\"note\":\"line\\nbreak\"}";
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_replace, NULL), oc_status_ok, "%s", oc_errmsg());
}

static int64_t rows_of(struct oc_lut *lut) {
  int64_t n = -1;
  cr_assert_eq(oc_lut_count(lut, NULL, &n), oc_status_ok);
  return n;
}

static void export_to(struct oc_lut *lut, enum oc_lut_format format, const char *p) {
  FILE *f = fopen(p, "w");
  cr_assert_eq(oc_lut_export(lut, NULL, format, f, p), oc_status_ok, "%s", oc_errmsg());
  fclose(f);
}

static struct oc_lut *sample_lut(void) {
  struct oc_lut *lut = open_new("a.db");
  put_device(lut, fp1, "board one");
  put_device(lut, fp2, "board, two");
  for (int c = 1; c <= 6; c++) put(lut, fp1, fc_key(c), 1.0 / c, 10 + c, "2024-05-01T10:00:00Z");
  put(lut, fp2, fc_key(1), 2.0, 7, "2024-05-02T10:00:00Z");
  return lut;
}

Test(lut_io, csv_round_trip_is_exact) {
  struct oc_lut *a = sample_lut();
  export_to(a, oc_lut_format_csv, tmp("a.csv"));
  char *text = read_all(tmp("a.csv"));
  /* The header is the documented one, keys are quoted. */
  cr_assert_eq(strncmp(text, oc_lut_csv_header(), strlen(oc_lut_csv_header())), 0);
  cr_assert(strstr(text, "\"fc.f32 m=1 cin=64 cout=3 act=none\""), "%s", text);
  cr_assert(strstr(text, "\"board, two\""));
  struct oc_lut *b = open_new("b.db");
  struct oc_lut_import_report rep;
  cr_assert_eq(oc_lut_import(b, tmp("a.csv"), NULL, &rep), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(rep.read, 7);
  cr_assert_eq(rep.inserted, 7);
  export_to(b, oc_lut_format_csv, tmp("b.csv"));
  char *again = read_all(tmp("b.csv"));
  cr_assert_str_eq(again, text);
  /* Importing the same file again changes nothing. */
  cr_assert_eq(oc_lut_import(b, tmp("a.csv"), NULL, &rep), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(rep.kept, 7);
  cr_assert_eq(rows_of(b), 7);
  struct oc_lut_device dev;
  cr_assert_eq(oc_lut_get_device(b, fp2, &dev), oc_status_ok);
  cr_assert_str_eq(dev.name, "board, two");
  free(text);
  free(again);
  oc_lut_close(a);
  oc_lut_close(b);
}

Test(lut_io, jsonl_round_trip_keeps_devices) {
  struct oc_lut *a = sample_lut();
  export_to(a, oc_lut_format_jsonl, tmp("a.jsonl"));
  export_to(a, oc_lut_format_csv, tmp("a.csv"));
  struct oc_lut *b = open_new("b.db");
  struct oc_lut_import_report rep;
  cr_assert_eq(oc_lut_import(b, tmp("a.jsonl"), NULL, &rep), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(rep.inserted, 7);
  export_to(b, oc_lut_format_csv, tmp("b.csv"));
  char *x = read_all(tmp("a.csv")), *y = read_all(tmp("b.csv"));
  cr_assert_str_eq(x, y);
  struct oc_lut_device dev;
  cr_assert_eq(oc_lut_get_device(b, fp1, &dev), oc_status_ok);
  cr_assert_str_eq(dev.runtime, "XNNPACK test");
  cr_assert(strstr(dev.info_json, "\"cores\":2"), "%s", dev.info_json);
  free(x);
  free(y);
  oc_lut_close(a);
  oc_lut_close(b);
}

/* A CSV with `bad` in the second data row (line 3): import fails naming
 * the file and line, and the first (valid) row is not written. */
static void expect_bad_csv(const char *column, const char *bad, const char *expect) {
  struct oc_lut *a = sample_lut();
  export_to(a, oc_lut_format_csv, tmp("good.csv"));
  oc_lut_close(a);
  char *text = read_all(tmp("good.csv"));
  /* Rewrite one column of line 3 through a tiny CSV-aware edit: find the
   * column's index in the header and replace that field. */
  char *lines[16];
  int n = 0;
  for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < 16;
       l = strtok_r(NULL, "\n", &save))
    lines[n++] = l;
  int col = -1, i = 0;
  char *header = strdup(lines[0]);
  for (char *save = NULL, *t = strtok_r(header, ",", &save); t; t = strtok_r(NULL, ",", &save), i++)
    if (strcmp(t, column) == 0) col = i;
  free(header);
  cr_assert_geq(col, 0, "column %s", column);
  char out[1 << 16] = "";
  for (int l = 0; l < n; l++) {
    if (l != 2) {
      strcat(out, lines[l]);
      strcat(out, "\n");
      continue;
    }
    int field = 0;
    bool quoted = false;
    for (const char *p = lines[l]; *p; p++) {
      if (*p == '"') quoted = !quoted;
      if (*p == ',' && !quoted) {
        field++;
        strcat(out, ",");
        if (field == col) strcat(out, bad);
        continue;
      }
      if (field != col) strncat(out, p, 1);
    }
    strcat(out, "\n");
  }
  write_file(tmp("bad.csv"), out);
  struct oc_lut *b = open_new("b.db");
  enum oc_status st = oc_lut_import(b, tmp("bad.csv"), NULL, NULL);
  cr_assert_neq(st, oc_status_ok, "%s=%s accepted", column, bad);
  cr_assert(strstr(oc_errmsg(), tmp("bad.csv")), "names the file: %s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), ":3:"), "names line 3: %s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), expect), "mentions %s: %s", expect, oc_errmsg());
  cr_assert_eq(rows_of(b), 0, "nothing written");
  oc_lut_close(b);
  free(text);
}

Test(lut_io, csv_nan_latency) { expect_bad_csv("median_us", "nan", "median_us"); }
Test(lut_io, csv_negative_latency) { expect_bad_csv("median_us", "-3.5", "median_us"); }
Test(lut_io, csv_infinite_p90) { expect_bad_csv("p90_us", "inf", "p90_us"); }
Test(lut_io, csv_empty_median) { expect_bad_csv("median_us", "", "median_us"); }
Test(lut_io, csv_bad_key) { expect_bad_csv("key", "\"fc.f32 m=1 cin=x\"", "fc.f32"); }
Test(lut_io, csv_zero_samples) { expect_bad_csv("samples", "0", "samples"); }
Test(lut_io, csv_bad_time) { expect_bad_csv("measured_at", "yesterday", "measured_at"); }
Test(lut_io, csv_bad_json) { expect_bad_csv("env", "\"[1]\"", "env"); }
Test(lut_io, csv_bad_source) { expect_bad_csv("source", "guessed", "source"); }

Test(lut_io, csv_structure_errors) {
  struct oc_lut *b = open_new("b.db");
  const char *h = oc_lut_csv_header();
  char text[4096];
  struct {
    const char *body;
    const char *expect;
  } cases[] = {
      {"fingerprint,target\n", "missing column"},
      {"", "empty file"},
      {NULL, "fields"},        /* too few fields on line 2 */
      {NULL, "not closed"},    /* an unterminated quote */
      {NULL, "unknown column"} /* an extra column */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (i == 2) snprintf(text, sizeof text, "%s\na,b,c\n", h);
    else if (i == 3) snprintf(text, sizeof text, "%s\n\"abc,def\n", h);
    else if (i == 4) snprintf(text, sizeof text, "%s,extra\n", h);
    else snprintf(text, sizeof text, "%s", cases[i].body);
    write_file(tmp("s.csv"), text);
    cr_assert_eq(oc_lut_import(b, tmp("s.csv"), NULL, NULL), oc_status_parse_error, "case %zu",
                 i);
    cr_assert(strstr(oc_errmsg(), cases[i].expect), "case %zu: %s", i, oc_errmsg());
    cr_assert(strstr(oc_errmsg(), tmp("s.csv")), "case %zu: %s", i, oc_errmsg());
  }
  /* A duplicate row within one file. */
  struct oc_lut *a = sample_lut();
  export_to(a, oc_lut_format_csv, tmp("good.csv"));
  oc_lut_close(a);
  char *good = read_all(tmp("good.csv"));
  char *second = strchr(good, '\n') + 1;
  char *end = strchr(second, '\n') + 1;
  char dup[1 << 16];
  snprintf(dup, sizeof dup, "%s%.*s", good, (int)(end - second), second);
  write_file(tmp("dup.csv"), dup);
  cr_assert_eq(oc_lut_import(b, tmp("dup.csv"), NULL, NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "second time"), "%s", oc_errmsg());
  cr_assert_eq(rows_of(b), 0);
  free(good);
  oc_lut_close(b);
}

Test(lut_io, jsonl_errors) {
  struct oc_lut *a = sample_lut();
  export_to(a, oc_lut_format_jsonl, tmp("good.jsonl"));
  oc_lut_close(a);
  char *good = read_all(tmp("good.jsonl"));
  struct {
    const char *from, *to, *expect;
  } cases[] = {
      {"\"median_us\":1.0,", "\"median_us\":-1,", "median_us"},
      {"\"median_us\":1.0,", "\"median_us\":\"fast\",", "median_us"},
      {"\"samples\":11", "\"samples\":0", "samples"},
      {"\"fingerprint\"", "\"fingerprnt\"", "unknown field"},
      {"{\"fingerprint\"", "[\"fingerprint\"", "line 1"},
  };
  struct oc_lut *b = open_new("b.db");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *p = strstr(good, cases[i].from);
    cr_assert_not_null(p, "case %zu", i);
    char text[1 << 16];
    snprintf(text, sizeof text, "%.*s%s%s", (int)(p - good), good, cases[i].to,
             p + strlen(cases[i].from));
    write_file(tmp("bad.jsonl"), text);
    cr_assert_neq(oc_lut_import(b, tmp("bad.jsonl"), NULL, NULL), oc_status_ok, "case %zu", i);
    cr_assert(strstr(oc_errmsg(), tmp("bad.jsonl")), "case %zu: %s", i, oc_errmsg());
    if (i < 4) cr_assert(strstr(oc_errmsg(), cases[i].expect), "case %zu: %s", i, oc_errmsg());
    cr_assert_eq(rows_of(b), 0, "case %zu wrote rows", i);
  }
  free(good);
  oc_lut_close(b);
}

/* ---- OFA / ProxylessNAS ---- */

Test(lut_io, ofa_key_mapping) {
  char key[OC_LUT_KEY_MAX];
  enum oc_lut_granularity g;
  struct {
    const char *ofa, *family, *expect;
    enum oc_lut_granularity g;
  } ok[] = {
      {"Conv-input:224x224x3-output:112x112x32", "proxyless",
       "conv2d.f32 h=224 w=224 cin=3 cout=32 k=3 s=2 g=1 d=1 act=relu6", oc_lut_kernel},
      {"Conv-input:224x224x3-output:112x112x16", "mbv3",
       "conv2d.f32 h=224 w=224 cin=3 cout=16 k=3 s=2 g=1 d=1 act=hswish", oc_lut_kernel},
      {"Conv_1-input:7x7x320-output:7x7x1280", "proxyless",
       "conv2d.f32 h=7 w=7 cin=320 cout=1280 k=1 s=1 g=1 d=1 act=relu6", oc_lut_kernel},
      {"AvgPool2D-input:7x7x960-output:1x1x960", "mbv3", "gap.f32 h=7 w=7 c=960", oc_lut_kernel},
      {"Logits-input:1x1x1280-output:1000", "mbv3", "fc.f32 m=1 cin=1280 cout=1000 act=none",
       oc_lut_kernel},
      {"expanded_conv-input:112x112x16-output:56x56x24-expand:6-kernel:3-stride:2-idskip:0",
       "proxyless", "mbconv.f32 h=112 w=112 cin=16 cout=24 k=3 s=2 e=6 se=0 act=relu6",
       oc_lut_block},
      {"expanded_conv-input:56x56x24-output:56x56x24-expand:3-kernel:7-stride:1-idskip:1", NULL,
       "mbconv.f32 h=56 w=56 cin=24 cout=24 k=7 s=1 e=3 se=0 act=relu6", oc_lut_block},
      {"expanded_conv-input:28x28x40-output:28x28x40-expand:120-kernel:5-stride:1-idskip:1-se:1-"
       "hs:0",
       NULL, "mbconv.f32 h=28 w=28 cin=40 cout=40 k=5 s=1 e=3 se=1 se_gate=hsigmoid act=relu",
       oc_lut_block},
      {"expanded_conv-input:14x14x80-output:14x14x112-expand:480-kernel:3-stride:1-idskip:0-se:0-"
       "hs:1",
       "mbv3", "mbconv.f32 h=14 w=14 cin=80 cout=112 k=3 s=1 e=6 se=0 act=hswish", oc_lut_block},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    cr_assert_eq(oc_lut_ofa_key(ok[i].ofa, ok[i].family, oc_dtype_f32, key, sizeof key, &g),
                 oc_status_ok, "%s: %s", ok[i].ofa, oc_errmsg());
    cr_assert_str_eq(key, ok[i].expect);
    cr_assert_eq(g, ok[i].g);
  }
  /* The mapped block keys are the keys opcost's networks give such layers:
   * they rebuild as one-layer networks. */
  struct oc_net *net = NULL;
  cr_assert_eq(oc_lut_block_net(ok[7].expect, &net), oc_status_ok, "%s", oc_errmsg());
  cr_assert_str_eq(net->layers[0].key, ok[7].expect);
  oc_net_free(net);

  const char *bad[] = {
      "",
      "Conv",
      "Conv-input:224x224x3",
      "Conv-input:224x224-output:112x112x32x1",
      "Conv-input:224x224x3-output:100x100x32",
      "Conv-input:0x224x3-output:112x112x32",
      "Conv-input:224x224x3-output:112x112x32-kernel:3",
      "Pool-input:7x7x3-output:1x1x3",
      "expanded_conv-input:112x112x16-output:56x56x24-expand:6-kernel:3-stride:2",
      "expanded_conv-input:112x112x16-output:56x56x24-expand:6-kernel:3-stride:2-idskip:1",
      "expanded_conv-input:112x112x16-output:56x56x24-expand:x-kernel:3-stride:2-idskip:0",
      "expanded_conv-input:112x112x16-output:56x56x24-expand:6-kernel:3-stride:2-idskip:0-color:1",
      "expanded_conv-input:112x112x16-output:56x56x24-expand:6-expand:6-kernel:3-stride:2-idskip:0",
      "AvgPool2D-input:7x7x960-output:1x1x961",
      "Logits-input:1x1x1280-output:1000x1x1",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_eq(oc_lut_ofa_key(bad[i], "proxyless", oc_dtype_f32, key, sizeof key, &g),
                 oc_status_parse_error, "'%s' accepted as '%s'", bad[i], key);
    cr_assert(strlen(oc_errmsg()) > 0);
  }
  /* se/hs parts need the MobileNetV3 family, and it needs them. */
  cr_assert_eq(oc_lut_ofa_key("expanded_conv-input:28x28x40-output:28x28x40-expand:120-kernel:5-"
                              "stride:1-idskip:1-se:1-hs:0",
                              "proxyless", oc_dtype_f32, key, sizeof key, &g),
               oc_status_parse_error);
  cr_assert_eq(oc_lut_ofa_key("expanded_conv-input:56x56x24-output:56x56x24-expand:72-kernel:7-"
                              "stride:1-idskip:1",
                              "mbv3", oc_dtype_f32, key, sizeof key, &g),
               oc_status_parse_error);
  /* Pooling and classifier in one figure has no opcost key. */
  cr_assert_eq(oc_lut_ofa_key("Logits-input:7x7x1280-output:1000", "proxyless", oc_dtype_f32, key,
                              sizeof key, &g),
               oc_status_unsupported);
}

static const char *fixture(const char *name) {
  static char p[1024];
  snprintf(p, sizeof p, "%s/tests/data/lut/%s", OPCOST_SOURCE_DIR, name);
  return p;
}

Test(lut_io, yaml_proxyless_import) {
  struct oc_lut *lut = open_new("y.db");
  struct oc_lut_import_opts opts = {.policy = oc_lut_fail, .device_name = "pixel 1"};
  struct oc_lut_import_report rep;
  cr_assert_eq(oc_lut_import(lut, fixture("proxyless_small.yaml"), &opts, &rep), oc_status_ok,
               "%s", oc_errmsg());
  cr_assert_eq(rep.read, 5);
  cr_assert_eq(rep.inserted, 5);
  cr_assert_eq(rep.skipped, 1);
  cr_assert(strstr(rep.first_skipped, "Logits-input:7x7x1280") &&
            strstr(rep.first_skipped, "line 23"), "%s", rep.first_skipped);
  char fp[17];
  int32_t threads;
  cr_assert_eq(oc_lut_resolve(lut, NULL, 0, fp, &threads), oc_status_ok);
  struct oc_lut_row r;
  cr_assert_eq(oc_lut_get(lut, fp, 1,
                          "mbconv.f32 h=112 w=112 cin=16 cout=24 k=5 s=2 e=3 se=0 act=relu6", &r),
               oc_status_ok, "%s", oc_errmsg());
  cr_assert_float_eq(r.median_us, 4000.0, 1e-9, "ms -> us");
  cr_assert_eq(r.samples, 80);
  cr_assert_float_eq(r.cv, 0.1 / 4.0, 1e-12, "sqrt(var) / mean");
  cr_assert_eq(r.p10_us, -1, "unknown in a mean-only table");
  cr_assert_eq(r.source, oc_lut_imported);
  cr_assert_eq(r.granularity, oc_lut_block);
  cr_assert_gt(r.macs, 0, "block costs come from the networks module");
  cr_assert_gt(r.weight_bytes, 0);
  cr_assert_eq(r.activation_bytes, (112 * 112 * 16 + 56 * 56 * 24) * 4);
  cr_assert(strstr(r.env_json, "expanded_conv-input:112x112x16"), "%s", r.env_json);
  struct oc_lut_device dev;
  cr_assert_eq(oc_lut_get_device(lut, fp, &dev), oc_status_ok);
  cr_assert_str_eq(dev.name, "pixel 1");
  cr_assert_str_eq(dev.target, "imported");
  oc_lut_close(lut);
}

Test(lut_io, yaml_mbv3_import_with_units) {
  struct oc_lut *lut = open_new("y.db");
  struct oc_lut_import_opts opts = {.device_name = "note10", .yaml_unit_us = 1.0, .threads = 4};
  struct oc_lut_import_report rep;
  cr_assert_eq(oc_lut_import(lut, fixture("mbv3_small.yaml"), &opts, &rep), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_eq(rep.inserted, 8);
  cr_assert_eq(rep.skipped, 0);
  char fp[17];
  int32_t threads;
  cr_assert_eq(oc_lut_resolve(lut, NULL, 0, fp, &threads), oc_status_ok);
  cr_assert_eq(threads, 4);
  struct oc_lut_row r;
  cr_assert_eq(oc_lut_get(lut, fp, 4,
                          "mbconv.f32 h=14 w=14 cin=80 cout=80 k=3 s=1 e=6 se=1 se_gate=hsigmoid "
                          "act=hswish",
                          &r),
               oc_status_ok, "%s", oc_errmsg());
  cr_assert_float_eq(r.median_us, 0.625, 1e-12);
  cr_assert_float_eq(r.cv, 0.01 / 0.625, 1e-12);
  cr_assert_eq(oc_lut_get(lut, fp, 4, "gap.f32 h=7 w=7 c=960", &r), oc_status_ok);
  oc_lut_close(lut);
}

/* ---- YAML export ---- */

struct collected {
  struct oc_lut_row rows[32];
  int n;
};

static int collect(void *ctx, const struct oc_lut_row *row) {
  struct collected *c = ctx;
  cr_assert_lt(c->n, 32);
  c->rows[c->n] = *row;
  c->rows[c->n].env_json = c->rows[c->n].counters_json = NULL; /* owned by the walk */
  c->n++;
  return 0;
}

/* The table keys of a YAML file: its unindented, uncommented lines. */
static int table_keys(const char *path, char keys[][160], int max) {
  char *text = read_all(path);
  int n = 0;
  for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    if (line[0] == ' ' || line[0] == '#') continue;
    cr_assert_lt(n, max);
    snprintf(keys[n++], 160, "%s", line);
  }
  free(text);
  return n;
}

static bool has_key(char keys[][160], int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (strcmp(keys[i], key) == 0) return true;
  return false;
}

/* Import a published-format table, export it, import the export: the same
 * table keys, means and spreads. */
static void yaml_round_trip(const char *name, const char *family, int expect_rows) {
  struct oc_lut *a = open_new("a.db");
  struct oc_lut_import_opts opts = {.policy = oc_lut_fail, .device_name = "phone"};
  cr_assert_eq(oc_lut_import(a, fixture(name), &opts, NULL), oc_status_ok, "%s", oc_errmsg());
  FILE *f = fopen(tmp("out.yaml"), "w");
  struct oc_lut_yaml_report rep;
  cr_assert_eq(oc_lut_export_yaml(a, NULL, 0, NULL, 0, f, "out.yaml", &rep), oc_status_ok, "%s",
               oc_errmsg());
  fclose(f);
  cr_assert_eq(rep.written, expect_rows, "%s: %lld written", name, (long long)rep.written);
  cr_assert_eq(rep.skipped, 0);
  cr_assert_str_eq(rep.family, family, "the family follows from the keys");
  char in_keys[32][160], out_keys[32][160];
  int n_in = table_keys(fixture(name), in_keys, 32), n_out = table_keys(tmp("out.yaml"), out_keys, 32);
  cr_assert_eq(n_out, expect_rows);
  for (int i = 0; i < n_out; i++)
    cr_assert(has_key(in_keys, n_in, out_keys[i]), "%s: exported '%s' is not in the table", name,
              out_keys[i]);
  struct oc_lut *b = open_new("b.db");
  cr_assert_eq(oc_lut_import(b, tmp("out.yaml"), &opts, NULL), oc_status_ok, "%s", oc_errmsg());
  struct collected rows = {.n = 0};
  cr_assert_eq(oc_lut_foreach(a, NULL, collect, &rows), oc_status_ok);
  cr_assert_eq(rows.n, expect_rows);
  for (int i = 0; i < rows.n; i++) {
    struct oc_lut_row r;
    cr_assert_eq(oc_lut_get(b, rows.rows[i].fingerprint, 1, rows.rows[i].key, &r), oc_status_ok,
                 "%s: %s", rows.rows[i].key, oc_errmsg());
    cr_assert_float_eq(r.median_us, rows.rows[i].median_us, 1e-6 * rows.rows[i].median_us);
    cr_assert_float_eq(r.cv, rows.rows[i].cv, 1e-6, "%s", rows.rows[i].key);
    cr_assert_eq(r.samples, rows.rows[i].samples);
  }
  oc_lut_close(a);
  oc_lut_close(b);
}

Test(lut_io, yaml_export_round_trips_mbv3) { yaml_round_trip("mbv3_small.yaml", "mbv3", 8); }
/* The table's Logits over 7x7 has no opcost key: 5 of its 6 entries. */
Test(lut_io, yaml_export_round_trips_proxyless) {
  yaml_round_trip("proxyless_small.yaml", "proxyless", 5);
}

Test(lut_io, yaml_export_skips_what_a_table_cannot_hold) {
  struct oc_lut *lut = open_new("y.db");
  put_device(lut, fp1, "a");
  const char *conv = "conv2d.f32 h=224 w=224 cin=3 cout=16 k=3 s=2 g=1 d=1 act=hswish";
  const char *dw = "conv2d.f32 h=56 w=56 cin=24 cout=24 k=5 s=1 g=24 d=1 act=relu";
  put(lut, fp1, conv, 1500, 50, "2026-01-01T00:00:00Z");
  put(lut, fp1, dw, 300, 50, "2026-01-01T00:00:00Z");
  put(lut, fp1, fc_key(10), 20, 50, "2026-01-01T00:00:00Z");
  FILE *f = fopen(tmp("t.yaml"), "w");
  struct oc_lut_yaml_report rep;
  cr_assert_eq(oc_lut_export_yaml(lut, NULL, 0, "mbv3", 0, f, "t.yaml", &rep), oc_status_ok, "%s",
               oc_errmsg());
  fclose(f);
  cr_assert_eq(rep.written, 2, "the first conv and the classifier");
  cr_assert_eq(rep.skipped, 1);
  cr_assert_str_eq(rep.first_skipped, dw);
  char *text = read_all(tmp("t.yaml"));
  /* 1500 us = 1.5 ms; var = (1.4826 MAD)^2 in ms^2. */
  cr_assert(strstr(text, "Conv-input:224x224x3-output:112x112x16:\n  count: 50\n  mean: 1.5\n"),
            "%s", text);
  cr_assert(strstr(text, "Logits-input:1x1x64-output:10:\n"), "%s", text);
  free(text);
  /* In microseconds, and as a ProxylessNAS table the h-swish conv has no key. */
  f = fopen(tmp("t.yaml"), "w");
  cr_assert_eq(oc_lut_export_yaml(lut, fp1, 1, "proxyless", 1.0, f, "t.yaml", &rep), oc_status_ok);
  fclose(f);
  cr_assert_eq(rep.written, 1);
  cr_assert_eq(rep.skipped, 2);
  text = read_all(tmp("t.yaml"));
  cr_assert(strstr(text, "  mean: 20\n"), "%s", text);
  free(text);
  f = fopen(tmp("t.yaml"), "w");
  cr_assert_eq(oc_lut_export_yaml(lut, NULL, 0, "mnasnet", 0, f, "t.yaml", NULL),
               oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "mnasnet"), "%s", oc_errmsg());
  fclose(f);
  oc_lut_close(lut);
}

Test(lut_io, yaml_export_is_one_device) {
  struct oc_lut *lut = open_new("y.db");
  put_device(lut, fp1, "a");
  put_device(lut, fp2, "b");
  put(lut, fp1, fc_key(10), 20, 50, "2026-01-01T00:00:00Z");
  put(lut, fp2, fc_key(10), 40, 50, "2026-01-01T00:00:00Z");
  FILE *f = fopen(tmp("t.yaml"), "w");
  cr_assert_eq(oc_lut_export_yaml(lut, NULL, 0, NULL, 0, f, "t.yaml", NULL),
               oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), fp1) && strstr(oc_errmsg(), fp2) && strstr(oc_errmsg(), "t.yaml"),
            "%s", oc_errmsg());
  struct oc_lut_yaml_report rep;
  cr_assert_eq(oc_lut_export_yaml(lut, "00000000000000b", 0, NULL, 0, f, "t.yaml", &rep),
               oc_status_ok, "%s", oc_errmsg());
  fclose(f);
  cr_assert_str_eq(rep.fingerprint, fp2);
  cr_assert_eq(rep.written, 1);
  char *text = read_all(tmp("t.yaml"));
  cr_assert(strstr(text, "  mean: 0.04\n"), "%s", text);
  free(text);
  oc_lut_close(lut);
}

static void expect_bad_yaml(const char *text, const char *line, const char *expect) {
  struct oc_lut *lut = open_new("y.db");
  write_file(tmp("bad.yaml"), text);
  struct oc_lut_import_opts opts = {.device_name = "dev"};
  cr_assert_neq(oc_lut_import(lut, tmp("bad.yaml"), &opts, NULL), oc_status_ok, "%s", text);
  cr_assert(strstr(oc_errmsg(), tmp("bad.yaml")), "names the file: %s", oc_errmsg());
  if (line) cr_assert(strstr(oc_errmsg(), line), "names %s: %s", line, oc_errmsg());
  cr_assert(strstr(oc_errmsg(), expect), "mentions %s: %s", expect, oc_errmsg());
  cr_assert_eq(rows_of(lut), 0, "nothing written");
  oc_lut_close(lut);
}

#define GOOD_ENTRY "Conv-input:224x224x3-output:112x112x32:\n  count: 3\n  mean: 1.0\n  var: 0.1\n"

Test(lut_io, yaml_nan_mean) {
  expect_bad_yaml(GOOD_ENTRY "Conv_1-input:7x7x320-output:7x7x1280:\n  count: 3\n  mean: .nan\n",
                  ":7:", "NaN");
}
Test(lut_io, yaml_negative_mean) {
  expect_bad_yaml(GOOD_ENTRY "Conv_1-input:7x7x320-output:7x7x1280:\n  count: 3\n  mean: -0.5\n",
                  ":7:", "negative");
}
Test(lut_io, yaml_bad_key) {
  expect_bad_yaml(GOOD_ENTRY "expanded_conv-input:7x7x320-output:7x7x1280-kernel:3:\n  mean: 1\n",
                  ":5:", "expanded_conv");
}
Test(lut_io, yaml_missing_mean) {
  expect_bad_yaml(GOOD_ENTRY "Conv_1-input:7x7x320-output:7x7x1280:\n  count: 3\n", ":5:",
                  "mean");
}
Test(lut_io, yaml_unknown_field) {
  expect_bad_yaml(GOOD_ENTRY "Conv_1-input:7x7x320-output:7x7x1280:\n  mean: 1\n  median: 2\n",
                  NULL, "median");
}
Test(lut_io, yaml_syntax_error) {
  expect_bad_yaml(GOOD_ENTRY "Conv_1: [unclosed\n", NULL, "YAML");
}
Test(lut_io, yaml_not_a_mapping) { expect_bad_yaml("- 1\n- 2\n", ":1:", "mapping"); }
Test(lut_io, yaml_empty) { expect_bad_yaml("", NULL, "empty"); }
Test(lut_io, yaml_count_not_whole) {
  expect_bad_yaml(GOOD_ENTRY "Conv_1-input:7x7x320-output:7x7x1280:\n  count: 2.5\n  mean: 1\n",
                  ":6:", "count");
}

Test(lut_io, yaml_needs_a_device) {
  struct oc_lut *lut = open_new("y.db");
  cr_assert_eq(oc_lut_import(lut, fixture("proxyless_small.yaml"), NULL, NULL),
               oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "device"), "%s", oc_errmsg());
  cr_assert_eq(rows_of(lut), 0);
  oc_lut_close(lut);
}

/* ---- merge and diff ---- */

struct flags {
  int n;
  double stored, incoming;
  bool won;
};

static void on_flag(void *ctx, const struct oc_lut_row *stored, const struct oc_lut_row *in,
                    bool won) {
  struct flags *f = ctx;
  f->n++;
  f->stored = stored->median_us;
  f->incoming = in->median_us;
  f->won = won;
}

Test(lut_io, merge_policies_and_flags) {
  struct oc_lut *a = open_new("a.db");
  put_device(a, fp1, "one");
  put(a, fp1, fc_key(1), 10.0, 100, "2024-01-01T00:00:00Z");
  put(a, fp1, fc_key(2), 20.0, 10, "2024-01-01T00:00:00Z");
  put(a, fp1, fc_key(3), 30.0, 10, "2024-01-01T00:00:00Z");
  oc_lut_cache_free(NULL);
  cr_assert_eq(oc_lut_set_overhead(a, fp1, 1, 7.0), oc_status_ok);
  oc_lut_close(a);
  struct oc_lut *b = open_new("b.db");
  put_device(b, fp1, "one");
  put_device(b, fp2, "two");
  put(b, fp1, fc_key(1), 10.5, 50, "2024-06-01T00:00:00Z");  /* fewer samples, close */
  put(b, fp1, fc_key(2), 40.0, 20, "2024-06-01T00:00:00Z");  /* more samples, far: flagged */
  put(b, fp1, fc_key(4), 4.0, 10, "2024-06-01T00:00:00Z");   /* new */
  put(b, fp2, fc_key(1), 1.0, 10, "2024-06-01T00:00:00Z");   /* other device */
  oc_lut_close(b);

  struct oc_lut *c = open_new("c.db");
  struct oc_lut_merge_report rep;
  struct flags fl = {0};
  cr_assert_eq(oc_lut_merge(c, tmp("a.db"), oc_lut_prefer_samples, 1.1, on_flag, &fl, &rep),
               oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(rep.inserted, 3);
  cr_assert_eq(oc_lut_merge(c, tmp("b.db"), oc_lut_prefer_samples, 1.1, on_flag, &fl, &rep),
               oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(rep.read, 4);
  cr_assert_eq(rep.inserted, 2);
  cr_assert_eq(rep.replaced, 1);
  cr_assert_eq(rep.kept, 1);
  cr_assert_eq(rep.flagged, 1);
  cr_assert_eq(fl.n, 1);
  cr_assert_eq(fl.stored, 20.0);
  cr_assert_eq(fl.incoming, 40.0);
  cr_assert(fl.won);
  cr_assert_eq(rows_of(c), 5);
  struct oc_lut_row r;
  cr_assert_eq(oc_lut_get(c, fp1, 1, fc_key(1), &r), oc_status_ok);
  cr_assert_eq(r.median_us, 10.0, "more samples kept");
  cr_assert_eq(oc_lut_get(c, fp1, 1, fc_key(2), &r), oc_status_ok);
  cr_assert_eq(r.median_us, 40.0);
  double overhead;
  cr_assert_eq(oc_lut_get_overhead(c, fp1, 1, &overhead), oc_status_ok);
  cr_assert_eq(overhead, 7.0, "meta rows travel");
  /* newer: fc_key(1) from b wins. */
  cr_assert_eq(oc_lut_merge(c, tmp("b.db"), oc_lut_prefer_newer, 0, NULL, NULL, &rep),
               oc_status_ok);
  cr_assert_eq(oc_lut_get(c, fp1, 1, fc_key(1), &r), oc_status_ok);
  cr_assert_eq(r.median_us, 10.5);
  /* fail: the first duplicate stops the merge; nothing of it lands. */
  struct oc_lut *d = open_new("d.db");
  put_device(d, fp1, "one");
  put(d, fp1, fc_key(4), 5.0, 10, "2024-01-01T00:00:00Z");
  cr_assert_eq(oc_lut_merge(d, tmp("b.db"), oc_lut_fail, 0, NULL, NULL, &rep),
               oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "b.db"), "%s", oc_errmsg());
  cr_assert_eq(rows_of(d), 1);
  /* A source that is not a LUT. */
  write_file(tmp("x.db"), "not a database at all");
  cr_assert_eq(oc_lut_merge(d, tmp("x.db"), oc_lut_fail, 0, NULL, NULL, &rep),
               oc_status_incompatible);
  cr_assert(strstr(oc_errmsg(), "x.db"), "%s", oc_errmsg());
  oc_lut_close(d);
  oc_lut_close(c);
}

Test(lut_io, diff_ratios) {
  struct oc_lut *a = open_new("a.db");
  put_device(a, fp1, "one");
  put_device(a, fp2, "two");
  for (int c = 1; c <= 4; c++) put(a, fp1, fc_key(c), c, 10, "2024-01-01T00:00:00Z");
  put(a, fp1, fc_key(9), 9, 10, "2024-01-01T00:00:00Z");
  /* fp2: twice as slow on 1..3, 8x on 4; key 9 missing, key 7 extra. */
  for (int c = 1; c <= 3; c++) put(a, fp2, fc_key(c), 2.0 * c, 10, "2024-01-01T00:00:00Z");
  put(a, fp2, fc_key(4), 32, 10, "2024-01-01T00:00:00Z");
  put(a, fp2, fc_key(7), 7, 10, "2024-01-01T00:00:00Z");
  struct oc_lut_diff d;
  cr_assert_eq(oc_lut_diff(a, fp1, 1, a, fp2, 1, &d), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(d.common, 4);
  cr_assert_eq(d.only_a, 1);
  cr_assert_eq(d.only_b, 1);
  cr_assert_str_eq(d.only_a_keys[0], fc_key(9));
  cr_assert_str_eq(d.only_b_keys[0], fc_key(7));
  cr_assert_float_eq(d.geomean_ratio, pow(2.0 * 2 * 2 * 8, 0.25), 1e-12);
  cr_assert_float_eq(d.max_ratio, 8.0, 1e-12);
  cr_assert_float_eq(d.min_ratio, 2.0, 1e-12);
  cr_assert_str_eq(d.items[0].key, fc_key(4), "largest change first");
  oc_lut_diff_clear(&d);
  oc_lut_close(a);
}
