/* test_cli_lut.c - `opcost lut` and `opcost predict` end to end: build,
 * resume, show, export/import round trips, YAML import, merge, diff,
 * overhead, prediction with and without a device profile, and the exit codes
 * of bad input. The binary is $OPCOST. */
#include <criterion/criterion.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "opcost/lut.h"
#include "tests/integration/cli_test.h"

static void setup(void) { cli_test_setup("lut"); }

static void teardown(void) { cli_test_teardown(); }

TestSuite(cli_lut, .init = setup, .fini = teardown, .timeout = 120);

/* Runs `opcost ARGS`, which must exit 0 and print JSON on stdout. */
static json_t *run_json(const char *args) {
  int rc = run("%s", args);
  cr_assert_eq(rc, 0, "opcost %s exited %d: %s", args, rc, out);
  json_error_t e;
  json_t *j = json_loads(out, 0, &e);
  cr_assert_not_null(j, "opcost %s: not JSON (%s): %s", args, e.text, out);
  return j;
}

static bool exists(const char *name) {
  struct stat sb;
  return stat(in_dir(name), &sb) == 0;
}

#define QUICK "--max-time 0.003 --min-time 0 --warmup 0 --quiet"
#define KEY1 "'conv2d.f32 h=8 w=8 cin=4 cout=8 k=3 s=1 g=1 d=1 act=relu'"
#define KEY2 "'fc.f32 m=1 cin=32 cout=16 act=none'"

static const char *const net_json =
    "{\"format\": \"opcost-net/1\", \"name\": \"tiny\", \"input\": {\"h\": 12, \"w\": 12, \"c\": 3},"
    " \"dtype\": \"f32\", \"layers\": ["
    "  {\"op\": \"conv2d\", \"cout\": 8, \"k\": 3, \"s\": 2, \"act\": \"relu6\"},"
    "  {\"op\": \"mbconv\", \"cout\": 8, \"k\": 3, \"s\": 1, \"e\": 3, \"act\": \"relu6\"},"
    "  {\"op\": \"gap\"}, {\"op\": \"fc\", \"cout\": 10}]}";

static const char *const bigger_net_json =
    "{\"format\": \"opcost-net/1\", \"name\": \"bigger\", \"input\": {\"h\": 12, \"w\": 12, \"c\": "
    "3},"
    " \"dtype\": \"f32\", \"layers\": ["
    "  {\"op\": \"conv2d\", \"cout\": 8, \"k\": 3, \"s\": 2, \"act\": \"relu6\"},"
    "  {\"op\": \"conv2d\", \"cout\": 12, \"k\": 5, \"s\": 1, \"act\": \"relu6\"},"
    "  {\"op\": \"gap\"}, {\"op\": \"fc\", \"cout\": 10}]}";

Test(cli_lut, build_resume_show) {
  cr_assert_eq(run_merged("lut build -t cpu --key " KEY1 " --key " KEY2 " -o a.db " QUICK), 0, "%s",
               out);
  cr_assert(strstr(out, "2 measured now"), "%s", out);
  cr_assert_eq(run_merged("lut build -t cpu --key " KEY1 " --key " KEY2 " -o a.db " QUICK), 0, "%s",
               out);
  cr_assert(strstr(out, "2 already stored, 0 measured now"), "%s", out);
  json_t *j = run_json("lut show a.db --rows --json");
  cr_assert_eq(json_integer_value(json_object_get(j, "rows")), 2);
  json_t *rows = json_object_get(j, "row_list");
  cr_assert_eq(json_array_size(rows), 2);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "key")),
                   "conv2d.f32 h=8 w=8 cin=4 cout=8 k=3 s=1 g=1 d=1 act=relu");
  cr_assert_gt(json_real_value(json_object_get(json_array_get(rows, 0), "median_us")), 0);
  json_decref(j);
  cr_assert_eq(run_merged("lut show a.db"), 0);
  cr_assert(strstr(out, "opcost LUT, schema 1, 2 rows"), "%s", out);
}

Test(cli_lut, dry_run_and_shards) {
  write_file("net.json", net_json);
  cr_assert_eq(run("lut build -t cpu net.json -o a.db --dry-run"), 0);
  int all = 0;
  for (char *p = out; (p = strchr(p, '\n')); p++) all++;
  cr_assert_gt(all, 4);
  int sum = 0;
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(run("lut build -t cpu net.json -o a.db --dry-run --shard %d/3", i), 0);
    for (char *p = out; (p = strchr(p, '\n')); p++) sum++;
  }
  cr_assert_eq(sum, all, "the shards partition the ops");
  cr_assert(!exists("a.db"), "a dry run writes nothing");
}

Test(cli_lut, export_import_round_trip) {
  cr_assert_eq(run_merged("lut build -t cpu --key " KEY1 " --key " KEY2 " -o a.db " QUICK), 0);
  cr_assert_eq(run_merged("lut export a.db -o a.csv"), 0, "%s", out);
  cr_assert_eq(run("lut export a.db"), 0);
  char *first = strdup(out);
  cr_assert_eq(strncmp(first, oc_lut_csv_header(), strlen(oc_lut_csv_header())), 0);
  cr_assert(strstr(first, "\"conv2d.f32 h=8 w=8 cin=4 cout=8 k=3 s=1 g=1 d=1 act=relu\""));
  cr_assert_eq(run_merged("lut import b.db a.csv"), 0, "%s", out);
  cr_assert(strstr(out, "2 rows read: 2 new"), "%s", out);
  cr_assert_eq(run("lut export b.db"), 0);
  cr_assert_str_eq(out, first);
  cr_assert_eq(run_merged("lut export a.db --format jsonl -o a.jsonl"), 0);
  cr_assert_eq(run_merged("lut import c.db a.jsonl --json"), 0, "%s", out);
  cr_assert_eq(run("lut export c.db"), 0);
  cr_assert_str_eq(out, first);
  /* An export that fails leaves no file, complete-looking or partial. */
  cr_assert_neq(run_merged("lut export a.db --device ffff -o bad.yaml"), 0, "%s", out);
  cr_assert(strstr(out, "ffff"), "%s", out);
  cr_assert(!exists("bad.yaml"));
  /* A device that is not in the store is an error, not an empty table. */
  cr_assert_neq(run_merged("lut export a.db --device ffff -o bad.csv"), 0, "%s", out);
  cr_assert(strstr(out, "--device ffff") && !exists("bad.csv"), "%s", out);
  glob_t g;
  cr_assert_eq(glob(in_dir("*.part-*"), 0, NULL, &g), GLOB_NOMATCH, "a temporary file is left");
  globfree(&g);
  free(first);
}

Test(cli_lut, yaml_import_and_bad_yaml_writes_nothing) {
  cr_assert_eq(run_merged("lut import y.db %s/tests/data/lut/proxyless_small.yaml --device-name px",
                          OPCOST_SOURCE_DIR),
               0, "%s", out);
  cr_assert(strstr(out, "5 rows read: 5 new"), "%s", out);
  cr_assert(strstr(out, "skipped"), "the Logits entry is reported: %s", out);
  write_file("bad.yaml", "Conv-input:224x224x3-output:112x112x32:\n  count: 3\n  mean: 1.0\n"
                         "Conv_1-input:7x7x320-output:7x7x1280:\n  count: 3\n  mean: .nan\n");
  cr_assert_eq(run_merged("lut import n.db bad.yaml --device-name px"), 4, "%s", out);
  cr_assert(strstr(out, "bad.yaml:6:") && strstr(out, "NaN"), "%s", out);
  cr_assert(!exists("n.db"), "a failed import into a new store leaves no file");
  cr_assert_eq(run_merged("lut import y.db bad.yaml --device-name px"), 4);
  cr_assert_eq(run("lut show y.db --json"), 0);
  cr_assert(strstr(out, "\"rows\": 5"), "the existing store is unchanged: %s", out);
  cr_assert_eq(run_merged("lut import y.db bad.yaml"), 3, "%s", out); /* no device named */
  cr_assert_eq(run_merged("lut import y.db bad.yaml --family mobilenet"), 2, "%s", out);
  /* And back out as a table: the 5 entries, read again by import. */
  cr_assert_eq(run_merged("lut export y.db -o t.yaml"), 0, "%s", out);
  cr_assert(strstr(out, "5 rows of device") && strstr(out, "ProxylessNAS"), "%s", out);
  cr_assert_eq(run_merged("lut import z.db t.yaml --device-name px"), 0, "%s", out);
  cr_assert(strstr(out, "5 rows read: 5 new"), "%s", out);
  cr_assert_neq(run_merged("lut export y.db --format yaml --family mnasnet"), 0, "%s", out);
  cr_assert(strstr(out, "mnasnet"), "%s", out);
}

Test(cli_lut, merge_and_diff) {
  cr_assert_eq(run_merged("lut build -t cpu --key " KEY1 " --key " KEY2 " -o a.db " QUICK), 0);
  cr_assert_eq(run_merged("lut build -t cpu --key " KEY1 " -o b.db " QUICK), 0);
  cr_assert_eq(run_merged("lut merge -o c.db a.db b.db --flag-ratio 0"), 0, "%s", out);
  cr_assert(strstr(out, "b.db -> c.db: 1 rows"), "%s", out);
  json_t *j = run_json("lut diff a.db c.db --json");
  cr_assert_eq(json_integer_value(json_object_get(j, "common")), 2);
  cr_assert_eq(json_integer_value(json_object_get(j, "only_a")), 0);
  cr_assert_gt(json_real_value(json_object_get(j, "geomean_ratio")), 0);
  json_decref(j);
  j = run_json("lut diff b.db a.db --json");
  cr_assert_eq(json_integer_value(json_object_get(j, "common")), 1);
  cr_assert_eq(json_integer_value(json_object_get(j, "only_b")), 1);
  json_decref(j);
  cr_assert_eq(run_merged("lut diff a.db"), 2, "one store needs two devices: %s", out);
  cr_assert_eq(run_merged("lut merge a.db b.db --on-duplicate fail"), 3, "%s", out);
  cr_assert(strstr(out, "already stored"), "%s", out);
  cr_assert_eq(run_merged("lut merge a.db b.db --on-duplicate sometimes"), 3, "%s", out);
}

Test(cli_lut, predict_with_overhead_misses_and_profile) {
  write_file("net.json", net_json);
  write_file("bigger.json", bigger_net_json);
  cr_assert_eq(run_merged("lut build -t cpu net.json -o a.db " QUICK), 0, "%s", out);
  json_t *j = run_json("predict --lut a.db net.json --json");
  json_t *n0 = json_array_get(json_object_get(j, "networks"), 0);
  double total = json_real_value(json_object_get(n0, "total_us"));
  cr_assert_gt(total, 0);
  cr_assert_eq(json_integer_value(json_object_get(n0, "misses")), 0);
  cr_assert_gt(json_integer_value(json_object_get(n0, "peak_memory_bytes")),
               json_integer_value(json_object_get(n0, "weight_bytes")));
  json_t *items = json_object_get(n0, "items");
  cr_assert_gt(json_array_size(items), 4);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "source")), "lut");
  json_decref(j);
  cr_assert_eq(run_merged("lut overhead a.db --set 1000"), 0, "%s", out);
  j = run_json("predict --lut a.db net.json --json");
  n0 = json_array_get(json_object_get(j, "networks"), 0);
  cr_assert_float_eq(json_real_value(json_object_get(n0, "total_us")), total + 1000, 1e-6);
  json_decref(j);
  cr_assert_eq(run_merged("predict --lut a.db net.json --layers"), 0, "%s", out);
  cr_assert(strstr(out, " lut "), "%s", out);
  /* Misses: an error listing them, unless a profile fills them. */
  cr_assert_eq(run_merged("predict --lut a.db bigger.json"), 8, "%s", out);
  cr_assert(strstr(out, "miss: conv2d.f32 h=6 w=6 cin=8 cout=12 k=5"), "%s", out);
  /* A device profile as `opcost probe device --output` writes it. */
  struct oc_device_profile prof;
  memset(&prof, 0, sizeof prof);
  strcpy(prof.device.target, "cpu");
  strcpy(prof.device.fingerprint, "0000000000000001");
  strcpy(prof.kernel_isa, "avx2");
  prof.cores_used = 1;
  prof.duration_s = 1;
  prof.peak_gflops_one_core = 20;
  prof.peak_gflops_all_cores = 40;
  prof.dram_read_gbs_all_cores = 10;
  prof.ridge_all_cores = 4;
  prof.n_levels = 1;
  strcpy(prof.levels[0].name, "DRAM");
  prof.levels[0].working_set = 1 << 28;
  prof.levels[0].read_gbs = prof.levels[0].copy_gbs = 8;
  prof.levels[0].latency_ns = 90;
  prof.levels[0].ridge_flops_per_byte = 2.5;
  prof.n_points = 1;
  prof.points[0].bytes = 1 << 28;
  prof.points[0].read_gbs = prof.points[0].copy_gbs = 8;
  cr_assert_eq(oc_probe_profile_save(&prof, in_dir("profile.json")), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_eq(run_merged("predict --lut a.db bigger.json --profile profile.json"), 0, "%s", out);
  cr_assert(strstr(out, "miss: conv2d.f32 h=6 w=6 cin=8 cout=12 k=5") && strstr(out, "roofline"),
            "%s", out);
  j = run_json("predict --lut a.db bigger.json --profile profile.json --json");
  n0 = json_array_get(json_object_get(j, "networks"), 0);
  cr_assert_eq(json_integer_value(json_object_get(n0, "misses")), 3); /* conv, gap, fc */
  items = json_object_get(n0, "items");
  json_t *conv = json_array_get(items, 1);
  cr_assert_str_eq(json_string_value(json_object_get(conv, "source")), "roofline");
  /* One thread: 20 GFLOP/s, and the last memory level's 8 GB/s. */
  double flops = (double)json_integer_value(json_object_get(conv, "flops"));
  double bytes = (double)json_integer_value(json_object_get(conv, "bytes"));
  double want = flops / 20e3 > bytes / 8e3 ? flops / 20e3 : bytes / 8e3;
  cr_assert_float_eq(json_real_value(json_object_get(conv, "us")), want, 1e-9);
  json_decref(j);
  cr_assert_eq(run_merged("predict --lut a.db bigger.json --profile profile.json --strict"), 8);
  write_file("broken.json", "{\"format\": \"opcost-device-profile/1\"}");
  cr_assert_neq(run_merged("predict --lut a.db bigger.json --profile broken.json"), 0);
  cr_assert(strstr(out, "broken.json"), "%s", out);
  cr_assert_eq(run_merged("predict --lut a.db missing.json"), 9, "%s", out);
}

Test(cli_lut, time_budget_leaves_work_and_says_so) {
  write_file("net.json", net_json);
  int rc = run_merged("lut build -t cpu net.json -o a.db --time-budget 0.000001 " QUICK);
  cr_assert_eq(rc, 12, "%s", out);
  cr_assert(strstr(out, "run it again to resume"), "%s", out);
  cr_assert_eq(run_merged("lut build -t cpu net.json -o a.db " QUICK), 0, "%s", out);
}

Test(cli_lut, bad_input_exit_codes) {
  write_file("text.db", "this is not a database\n");
  cr_assert_eq(run_merged("lut show text.db"), 14, "%s", out);
  cr_assert(strstr(out, "text.db"), "%s", out);
  cr_assert_eq(run_merged("lut show nothing.db"), 8, "%s", out);
  cr_assert_eq(run_merged("lut"), 2);
  cr_assert_eq(run_merged("lut frobnicate a.db"), 2);
  cr_assert_eq(run_merged("lut build --key " KEY1 " -o a.db"), 2, "no target: %s", out);
  cr_assert_eq(run_merged("lut build -t cpu -o a.db"), 2, "nothing to build: %s", out);
  cr_assert_eq(run_merged("lut build -t cpu --key " KEY1 " -o a.db --shard 3/2"), 2);
  cr_assert_eq(run_merged("lut build -t cpu --key " KEY1 " -o a.db --granularity layer"), 2);
  cr_assert_eq(run_merged("lut build -t cpu --key 'conv2d.f32 h=0' -o a.db"), 4, "%s", out);
  cr_assert_eq(run_merged("lut build -t nosuch --key " KEY1 " -o a.db"), 8, "%s", out);
  cr_assert_eq(run_merged("lut show text.db --flag-ratio 2"), 2, "%s", out);
  cr_assert(strstr(out, "does not apply"), "%s", out);
  cr_assert_eq(run_merged("predict net.json"), 2, "%s", out);
  cr_assert_eq(run_merged("predict --lut text.db"), 2, "%s", out);
  cr_assert_eq(run_merged("lut --help"), 0);
  cr_assert(strstr(out, "opcost lut build"), "%s", out);
  cr_assert_eq(run_merged("predict --help"), 0);
}
