/* test_cli_model.c - `opcost fit`, `opcost predict -m` and `opcost eval`
 * end to end: fitting on a LUT and measured networks, predicting with the
 * interval and the per-layer breakdown, evaluating and cross-validating
 * (k-fold and leave-one-family-out), and the errors: a training set too
 * small, a malformed model file, a model of another device (warning, or an
 * error under --strict), kinds the model never saw (flagged, or an error
 * under --strict), and usage mistakes.
 *
 * The LUT here is written through the library from a stated latency law (so
 * the assertions know the right answer); one test also builds a small LUT by
 * really measuring ops on the ref target and checks that the whole path runs
 * on measured data. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "opcost/model.h"
#include "tests/integration/cli_test.h"

static void setup(void) { cli_test_setup("model"); }

static void teardown(void) { cli_test_teardown(); }

TestSuite(cli_model, .init = setup, .fini = teardown, .timeout = 120);

static json_t *run_json(const char *fmt, const char *arg) {
  int rc = run(fmt, arg);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  json_error_t e;
  json_t *j = json_loads(out, 0, &e);
  cr_assert_not_null(j, "not JSON (%s): %s", e.text, out);
  return j;
}

static const char *const fp = "00000000c0ffee01";

/* The stated law: 2 us + 1 ns per FLOP + 0.1 ns per byte. */
static double law_us(const struct oc_op *op) {
  struct oc_op_cost c;
  cr_assert_eq(oc_op_cost(op, &c), oc_status_ok);
  return 2.0 + 1e-3 * (double)c.flops +
         1e-4 * (double)(c.input_bytes + c.weight_bytes + c.output_bytes);
}

static void put_row(struct oc_lut *lut, const struct oc_op *op) {
  struct oc_lut_row r;
  memset(&r, 0, sizeof r);
  strcpy(r.fingerprint, fp);
  strcpy(r.target, "cpu");
  r.threads = 1;
  cr_assert_eq(oc_op_format(op, r.key, sizeof r.key), oc_status_ok);
  cr_assert_eq(oc_lut_row_fill_costs(&r), oc_status_ok, "%s", oc_errmsg());
  r.granularity = oc_lut_kernel;
  r.samples = 10;
  r.median_us = law_us(op);
  r.p10_us = r.median_us * 0.99;
  r.p90_us = r.median_us * 1.01;
  r.min_us = r.median_us * 0.98;
  r.mad_us = r.median_us * 0.005;
  r.cv = 0.01;
  r.peak_bytes = -1;
  r.source = oc_lut_measured;
  strcpy(r.measured_at, "2024-01-02T03:04:05Z");
  cr_assert_eq(oc_lut_put(lut, &r, oc_lut_replace, NULL), oc_status_ok, "%s: %s", r.key,
               oc_errmsg());
}

/* conv2d (regular and depthwise), gap, fc and add rows; `rows` caps conv2d. */
static void make_lut(const char *name, int rows) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_ok, "%s", oc_errmsg());
  struct oc_lut_device d = {.info_json = "{}"};
  strcpy(d.fingerprint, fp);
  strcpy(d.target, "cpu");
  strcpy(d.name, "law device");
  strcpy(d.isa, "avx2 fma");
  cr_assert_eq(oc_lut_put_device(lut, &d), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_lut_begin(lut), oc_status_ok);
  static const int hs[] = {4, 6, 8, 12, 16};
  static const int cs[] = {8, 12, 16, 24, 32, 48};
  int n = 0;
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < 6; b++)
      for (int k = 1; k <= 3; k += 2)
        for (int dw = 0; dw < 2 && n < rows; dw++, n++) {
          struct oc_op op;
          oc_op_init(&op, oc_op_conv2d, oc_dtype_f32);
          op.h = op.w = hs[a];
          op.cin = cs[b];
          op.cout = dw ? cs[b] : cs[(b + 2) % 6];
          op.k = k;
          op.g = dw ? cs[b] : 1;
          op.act = oc_act_relu;
          put_row(lut, &op);
        }
  if (rows >= 100) {
    for (int a = 0; a < 5; a++)
      for (int b = 0; b < 6; b++) {
        struct oc_op op;
        oc_op_init(&op, oc_op_gap, oc_dtype_f32);
        op.h = op.w = hs[a];
        op.c = cs[b];
        put_row(lut, &op);
        oc_op_init(&op, oc_op_add, oc_dtype_f32);
        op.h = op.w = hs[a];
        op.c = cs[b];
        put_row(lut, &op);
      }
  }
  cr_assert_eq(oc_lut_commit(lut), oc_status_ok);
  oc_lut_close(lut);
}

/* A network of the LUT's shapes; family and size vary with i. */
static void net_text(char *buf, size_t size, const char *name, int h, int c1, int c2) {
  snprintf(buf, size,
           "{\"format\":\"opcost-net/1\",\"name\":\"%s\",\"input\":{\"h\":%d,\"w\":%d,\"c\":8},"
           "\"dtype\":\"f32\",\"layers\":[{\"op\":\"conv2d\",\"cout\":%d,\"k\":3,\"s\":1,"
           "\"act\":\"relu\"},{\"op\":\"conv2d\",\"cout\":%d,\"k\":3,\"g\":%d,\"s\":1,"
           "\"act\":\"relu\"},{\"op\":\"conv2d\",\"cout\":%d,\"k\":1,\"s\":1,\"act\":\"relu\"},"
           "{\"op\":\"gap\"},{\"op\":\"fc\",\"cout\":10}]}",
           name, h, h, c1, c1, c1, c2);
}

/* measured.jsonl: 12 networks of 2 families, latency = 1.1 x the law's sum + 30 us. */
static void make_nets(void) {
  char *lines = calloc(1, 200000);
  size_t len = 0;
  static const int hs[] = {4, 6, 8, 12, 16, 6};
  for (int i = 0; i < 12; i++) {
    char name[32], text[2048];
    snprintf(name, sizeof name, "%s-%d", i % 2 ? "beta" : "alpha", i);
    net_text(text, sizeof text, name, hs[i % 6], i % 2 ? 16 : 24, i % 3 ? 32 : 48);
    struct oc_net *net = NULL;
    cr_assert_eq(oc_net_from_string(text, name, &net), oc_status_ok, "%s", oc_errmsg());
    double sum = 0;
    for (int k = 0; k < net->n_kernels; k++)
      if (net->kernels[k].step == oc_net_step_op) sum += law_us(&net->kernels[k].op);
    len += (size_t)snprintf(lines + len, 200000 - len,
                            "{\"net\":%s,\"fingerprint\":\"%s\",\"threads\":1,"
                            "\"stats\":{\"median_us\":%.6f}}\n",
                            text, fp, 1.1 * sum + 30);
    oc_net_free(net);
  }
  write_file("measured.jsonl", lines);
  free(lines);
  char text[2048];
  net_text(text, sizeof text, "gamma-1", 10, 32, 24);
  write_file("net.json", text);
}

Test(cli_model, fit_predict_eval_end_to_end) {
  make_lut("lut.db", 1000);
  make_nets();
  json_t *fit = run_json("fit --lut lut.db --nets measured.jsonl -o model.json --json%s", "");
  json_t *kinds = json_object_get(fit, "kinds");
  cr_expect_not_null(json_object_get(kinds, "conv2d.f32"));
  cr_expect_not_null(json_object_get(kinds, "gap.f32"));
  cr_expect_null(json_object_get(kinds, "fc.f32"), "the LUT has no fc rows");
  json_t *comp = json_object_get(fit, "composition");
  /* The law is 1.1 x sum + 30 us: the overhead form, chosen by CV. */
  cr_expect_str_eq(json_string_value(json_object_get(comp, "form")), "overhead");
  cr_expect_float_eq(json_number_value(json_object_get(comp, "sum_scale")), 1.1, 0.03);
  cr_expect_eq(json_integer_value(json_object_get(comp, "nets")), 12);
  json_t *kv = json_object_get(json_object_get(fit, "validation"), "kernels");
  cr_expect_lt(json_number_value(json_object_get(kv, "mape")), 0.05);
  json_decref(fit);

  /* The file is opcost-model/1 with the LUT's fingerprint. */
  char path[512];
  snprintf(path, sizeof path, "%s/model.json", dir);
  json_error_t e;
  json_t *model = json_load_file(path, 0, &e);
  cr_assert_not_null(model, "%s", e.text);
  cr_expect_str_eq(json_string_value(json_object_get(model, "format")), "opcost-model/1");
  cr_expect_str_eq(
      json_string_value(json_object_get(json_object_get(model, "device"), "fingerprint")), fp);
  json_decref(model);

  /* predict: point, interval, breakdown; fc is unseen and flagged. */
  json_t *p = run_json("predict -m model.json net.json --json%s", "");
  json_t *n0 = json_array_get(json_object_get(p, "networks"), 0);
  double us = json_number_value(json_object_get(n0, "us"));
  cr_expect_gt(us, 0);
  cr_expect_leq(json_number_value(json_object_get(n0, "lo_us")), us);
  cr_expect_geq(json_number_value(json_object_get(n0, "hi_us")), us);
  cr_expect_eq(json_array_size(json_object_get(n0, "layers")), 5);
  json_t *missing = json_object_get(n0, "missing_kinds");
  cr_assert_eq(json_array_size(missing), 1);
  cr_expect_str_eq(json_string_value(json_array_get(missing, 0)), "fc.f32");
  json_decref(p);
  cr_assert_eq(run("predict -m model.json net.json --layers --kernels"), 0, "%s", err);
  cr_expect(strstr(out, "gamma-1: ") != NULL, "%s", out);
  cr_expect(strstr(out, "fallback") != NULL, "%s", out);
  cr_expect(strstr(err, "fc.f32") != NULL, "the unseen kind is named: %s", err);
  cr_expect_neq(run("predict -m model.json net.json --strict"), 0);
  cr_expect(strstr(err, "never fitted: fc.f32") != NULL, "%s", err);

  /* eval on the measured networks. */
  json_t *ev = run_json("eval -m model.json --nets measured.jsonl --json%s", "");
  json_t *m = json_object_get(ev, "metrics");
  cr_expect_eq(json_integer_value(json_object_get(m, "n")), 12);
  cr_expect_lt(json_number_value(json_object_get(m, "mape")), 0.05);
  cr_expect_gt(json_number_value(json_object_get(m, "spearman_rho")), 0.9);
  cr_expect_eq(json_array_size(json_object_get(ev, "networks")), 12);
  json_decref(ev);
  cr_assert_eq(run("eval -m model.json --nets measured.jsonl --list"), 0, "%s", err);
  cr_expect(strstr(out, "within 10 %") != NULL, "%s", out);
  cr_expect(strstr(out, "alpha-0") != NULL, "%s", out);
}

Test(cli_model, cross_validation_kfold_and_family) {
  make_lut("lut.db", 1000);
  make_nets();
  json_t *cv =
      run_json("eval --lut lut.db --cv kfold --folds 3 --models roofline,ridge --json%s", "");
  cr_expect_str_eq(json_string_value(json_object_get(cv, "items")), "kernels");
  cr_expect_eq(json_array_size(json_object_get(cv, "folds")), 3);
  json_t *overall = json_object_get(cv, "overall");
  cr_expect_eq(json_integer_value(json_object_get(overall, "n")), 120 + 60);
  cr_expect_gt(json_number_value(json_object_get(overall, "kendall_tau")), 0.8);
  json_decref(cv);
  cv = run_json("eval --lut lut.db --cv family --nets measured.jsonl --models roofline,ridge "
                "--json%s",
                "");
  cr_expect_str_eq(json_string_value(json_object_get(cv, "items")), "networks");
  json_t *folds = json_object_get(cv, "folds");
  cr_assert_eq(json_array_size(folds), 2);
  cr_expect_str_eq(json_string_value(json_object_get(json_array_get(folds, 0), "name")), "alpha");
  cr_expect_str_eq(json_string_value(json_object_get(json_array_get(folds, 1), "name")), "beta");
  cr_expect_eq(json_integer_value(json_object_get(json_object_get(cv, "overall"), "n")), 12);
  json_decref(cv);
  cr_expect_eq(run("eval --lut lut.db --cv family"), 2, "family needs --nets");
  cr_expect(strstr(err, "--nets") != NULL, "%s", err);
}

Test(cli_model, refusals_and_bad_input) {
  make_lut("empty.db", 0);
  cr_expect_neq(run("fit --lut empty.db -o m.json"), 0);
  cr_expect(strstr(err, "0 usable kernel rows (fitting needs at least 20)") != NULL, "%s", err);
  make_lut("tiny.db", 6);
  cr_expect_eq(run("fit --lut tiny.db -o m.json"), 3);
  cr_expect(strstr(err, "6 usable kernel rows") && strstr(err, "at least 20"), "%s", err);
  write_file("bad.json", "{\"format\": \"opcost-model/1\",\n  \"device\": {,}}\n");
  cr_expect_eq(run("predict -m bad.json net.json"), 4);
  cr_expect(strstr(err, "bad.json: line 2") != NULL, "%s", err);
  write_file("old.json", "{\"format\": \"opcost-model/0\"}");
  cr_expect_eq(run("predict -m old.json net.json"), 14);
  cr_expect(strstr(err, "old.json: field 'format'") != NULL, "%s", err);
  cr_expect_eq(run("fit --lut tiny.db"), 2);
  cr_expect_eq(run("eval -m x.json"), 2);
  cr_expect_eq(run("eval --lut tiny.db --cv sideways"), 2);
  cr_expect_eq(run("fit --lut tiny.db -o m.json --models roofline,forest"), 2);
  cr_expect(strstr(err, "forest") != NULL, "%s", err);
}

Test(cli_model, another_device_warns_or_refuses) {
  make_lut("lut.db", 1000);
  make_nets();
  cr_assert_eq(run("fit --lut lut.db -o model.json --models roofline,ridge --quiet"), 0, "%s", err);
  cr_assert_eq(run("predict -m model.json --device ffffffffffffffff net.json"), 0, "%s", err);
  cr_expect(strstr(err, "warning") && strstr(err, "ffffffffffffffff"), "%s", err);
  cr_expect_eq(run("predict -m model.json --device ffffffffffffffff --strict net.json"), 14);
  cr_expect(strstr(err, "fitted on device 00000000c0ffee01") != NULL, "%s", err);
  cr_expect_eq(run("predict -m model.json --threads 4 --strict net.json"), 14);
  /* Networks measured on another device: a warning, an error under --strict. */
  char *lines = NULL;
  {
    char path[512];
    snprintf(path, sizeof path, "%s/measured.jsonl", dir);
    lines = slurp(path);
    for (char *q = strstr(lines, fp); q; q = strstr(q + 1, fp)) memcpy(q, "1111111111111111", 16);
    write_file("other.jsonl", lines);
    free(lines);
  }
  cr_expect_eq(run("eval -m model.json --nets other.jsonl"), 0, "%s", err);
  cr_expect(strstr(err, "warning") != NULL, "%s", err);
  cr_expect_eq(run("eval -m model.json --nets other.jsonl --strict"), 14);
}

/* The whole path on measured data: a small LUT built on the ref target. */
Test(cli_model, fits_a_really_measured_lut) {
  char keys[8192] = "";
  size_t len = 0;
  static const int cs[] = {4, 8, 12, 16, 20, 24};
  for (int h = 4; h <= 10; h += 3)
    for (int i = 0; i < 6; i++) {
      len += (size_t)snprintf(keys + len, sizeof keys - len,
                              " --key 'conv2d.f32 h=%d w=%d cin=%d cout=%d k=3 s=1 g=1 d=1 "
                              "act=relu'",
                              h, h, cs[i], cs[(i + 1) % 6]);
      len += (size_t)snprintf(keys + len, sizeof keys - len,
                              " --key 'add.f32 h=%d w=%d c=%d act=none'", h, h, cs[i]);
    }
  cr_assert_eq(run("lut build -t ref%s -o real.db --max-time 0.005 --min-time 0 --warmup 0 "
                   "--quiet",
                   keys),
               0, "%s", err);
  json_t *fit = run_json("fit --lut real.db -o real.json --models roofline,ridge --json%s", "");
  json_t *dev = json_object_get(fit, "device");
  cr_expect_str_eq(json_string_value(json_object_get(dev, "roofline_source")), "empirical");
  cr_expect_gt(json_number_value(json_object_get(dev, "peak_gflops")), 0);
  json_t *kinds = json_object_get(fit, "kinds");
  cr_expect_not_null(json_object_get(kinds, "conv2d.f32"));
  cr_expect_not_null(json_object_get(kinds, "add.f32"));
  json_decref(fit);
  char text[2048];
  net_text(text, sizeof text, "real-1", 7, 8, 12);
  write_file("net.json", text);
  json_t *p = run_json("predict -m real.json net.json --json%s", "");
  double us =
      json_number_value(json_object_get(json_array_get(json_object_get(p, "networks"), 0), "us"));
  cr_expect(us > 0 && isfinite(us), "%g", us);
  json_decref(p);
}

/* eval --lut --nets: the plain LUT sum against the measurements. Networks
 * measured at 1.25 x their LUT sum give an error of exactly -20 % each. */
Test(cli_model, eval_of_the_lut_sum) {
  make_lut("lut.db", 1000);
  char lines[16384] = "";
  size_t len = 0;
  static const int hs[] = {4, 8, 16};
  for (int i = 0; i < 3; i++) {
    char text[2048];
    snprintf(text, sizeof text,
             "{\"format\":\"opcost-net/1\",\"name\":\"plain-%d\",\"input\":{\"h\":%d,\"w\":%d,"
             "\"c\":8},\"dtype\":\"f32\",\"layers\":[{\"op\":\"conv2d\",\"cout\":16,\"k\":3,"
             "\"s\":1,\"act\":\"relu\"},{\"op\":\"conv2d\",\"cout\":16,\"k\":3,\"g\":16,\"s\":1,"
             "\"act\":\"relu\"},{\"op\":\"gap\"}]}",
             i, hs[i], hs[i]);
    struct oc_net *net = NULL;
    cr_assert_eq(oc_net_from_string(text, "plain", &net), oc_status_ok, "%s", oc_errmsg());
    double sum = 0;
    for (int k = 0; k < net->n_kernels; k++)
      if (net->kernels[k].step == oc_net_step_op) sum += law_us(&net->kernels[k].op);
    oc_net_free(net);
    len += (size_t)snprintf(lines + len, sizeof lines - len,
                            "{\"net\":%s,\"fingerprint\":\"%s\",\"threads\":1,"
                            "\"stats\":{\"median_us\":%.6f}}\n",
                            text, fp, 1.25 * sum);
  }
  write_file("plain.jsonl", lines);
  json_t *ev = run_json("eval --lut lut.db --nets plain.jsonl --json%s", "");
  json_t *m = json_object_get(ev, "metrics");
  cr_expect_eq(json_integer_value(json_object_get(m, "n")), 3);
  cr_expect_float_eq(json_number_value(json_object_get(m, "mape")), 0.2, 1e-6);
  cr_expect_float_eq(json_number_value(json_object_get(m, "under")), 1.0, 1e-9);
  cr_expect_float_eq(json_number_value(json_object_get(m, "spearman_rho")), 1.0, 1e-9);
  cr_expect_eq(json_integer_value(json_object_get(ev, "roofline_kernels")), 0);
  json_decref(ev);
  /* Networks with a kernel the LUT lacks (fc) and no profile: an error naming one. */
  make_nets();
  cr_expect_neq(run("eval --lut lut.db --nets measured.jsonl"), 0);
  cr_expect(strstr(err, "network 'alpha-0'") != NULL, "%s", err);
}
