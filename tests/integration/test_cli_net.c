/* test_cli_net.c - `opcost net` end to end: info on the reference networks
 * (text and JSON), errors with file, layer, field and value and distinct
 * exit codes, and measure on the ref and cpu targets with --save appending
 * one JSON line per network. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/cli_test.h"

/* Runs in the source tree, so spaces/networks/x.json resolve. */
static void setup(void) {
  cli_test_setup("net");
  run_cwd = OPCOST_SOURCE_DIR;
}

static void teardown(void) { cli_test_teardown(); }

TestSuite(cli_net, .init = setup, .fini = teardown);

Test(cli_net, info_json_reference_networks) {
  int rc = run("net info --json spaces/networks/resnet-18.json spaces/networks/deit-tiny.json");
  cr_assert_eq(rc, 0);
  json_error_t e;
  json_t *list = json_loads(out, 0, &e);
  cr_assert_not_null(list, "not JSON: %s", e.text);
  cr_assert_eq(json_array_size(list), 2);
  json_t *r18 = json_array_get(list, 0);
  cr_expect_str_eq(json_string_value(json_object_get(r18, "name")), "resnet-18");
  json_t *total = json_object_get(r18, "total");
  cr_expect_eq(json_integer_value(json_object_get(total, "macs")), 1814073344);
  cr_expect_eq(json_integer_value(json_object_get(total, "params")), 11684712);
  cr_expect(json_integer_value(json_object_get(total, "peak_activation_bytes")) > 0);
  cr_expect_eq(json_array_size(json_object_get(r18, "per_layer")), 12);
  json_t *deit = json_array_get(list, 1);
  cr_expect_eq(json_integer_value(json_object_get(json_object_get(deit, "total"), "params")),
               5717416);
  json_decref(list);
}

Test(cli_net, info_text_lists_layers_and_kernels) {
  cr_assert_eq(run("net info --kernels spaces/networks/mobilenetv3-small.json"), 0);
  cr_expect(strstr(out, "mbconv.f32 h=112 w=112 cin=16 cout=16 k=3 s=2 e=1 se=1") != NULL, "%s",
            out);
  cr_expect(strstr(out, "fc.f32 m=1 cin=16 cout=8 act=relu") != NULL);
  cr_expect(strstr(out, "total: 56.5M MACs") != NULL);
}

Test(cli_net, errors_name_file_layer_field_value) {
  write_file("syntax.json", "{\"format\": \"opcost-net/1\",\n\"layers\": [\n  {\"op\": }\n]}\n");
  write_file("join.json",
             "{\"format\":\"opcost-net/1\",\"input\":{\"h\":8,\"w\":8,\"c\":4},\"layers\":["
             "{\"op\":\"conv2d\",\"id\":\"a\",\"cout\":8,\"k\":1},"
             "{\"op\":\"add\",\"inputs\":[\"a\",\"input\"]}]}");
  cr_expect_eq(run("net info '%s/syntax.json'", dir), 4, "parse error exit code");
  cr_expect(strstr(err, "syntax.json: line 3, column") != NULL, "%s", err);
  cr_expect_eq(run("net info '%s/join.json'", dir), 3, "invalid argument exit code");
  cr_expect(strstr(err, "layers[1] (add): field 'inputs': shape mismatch") != NULL, "%s", err);
  cr_expect_eq(run("net info"), 2);
  cr_expect_eq(run("net measure spaces/networks/resnet-18.json"), 2, "no target");
  cr_expect(strstr(err, "-t TARGET") != NULL, "%s", err);
}

Test(cli_net, measure_saves_json_lines) {
  write_file("tiny.json",
             "{\"format\":\"opcost-net/1\",\"name\":\"tiny\",\"input\":{\"h\":12,\"w\":12,\"c\":3},"
             "\"layers\":[{\"op\":\"conv2d\",\"cout\":8,\"k\":3,\"s\":2,\"act\":\"relu\"},"
             "{\"op\":\"mbconv\",\"cout\":8,\"k\":3,\"e\":2,\"se\":1},{\"op\":\"gap\"},"
             "{\"op\":\"fc\",\"cout\":4}]}");
  const char *targets[] = {"ref", "cpu"};
  for (int i = 0; i < 2; i++) {
    int rc = run("net measure -t %s --max-time 0.05 --per-layer --save '%s/m.jsonl' '%s/tiny.json'",
                 targets[i], dir, dir);
    cr_assert_eq(rc, 0, "%s: %s", targets[i], err);
    cr_expect(strstr(out, "tiny") != NULL && strstr(out, "median") != NULL, "%s", out);
    cr_expect(strstr(out, "sum of kernels timed alone") != NULL, "%s", out);
  }
  FILE *f = fopen(in_dir("m.jsonl"), "r");
  cr_assert_not_null(f);
  char line[65536];
  int lines = 0;
  while (fgets(line, sizeof line, f)) {
    json_error_t e;
    json_t *rec = json_loads(line, 0, &e);
    cr_assert_not_null(rec, "line %d: %s", lines, e.text);
    cr_expect_str_eq(json_string_value(json_object_get(rec, "name")), "tiny");
    cr_expect_str_eq(json_string_value(json_object_get(rec, "target")), targets[lines]);
    cr_expect_eq(strlen(json_string_value(json_object_get(rec, "hash"))), 16);
    cr_expect_eq(strlen(json_string_value(json_object_get(rec, "fingerprint"))), 16);
    cr_expect_eq(json_integer_value(json_object_get(rec, "threads")), 1);
    json_t *stats = json_object_get(rec, "stats");
    cr_expect(json_integer_value(json_object_get(stats, "n")) >= 5);
    cr_expect(json_number_value(json_object_get(stats, "median_us")) > 0);
    cr_expect(json_is_object(json_object_get(rec, "env")));
    cr_expect_eq(json_array_size(json_object_get(rec, "per_layer")), 4);
    json_decref(rec);
    lines++;
  }
  fclose(f);
  cr_expect_eq(lines, 2);
}
