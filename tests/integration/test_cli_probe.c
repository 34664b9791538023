/* test_cli_probe.c - `opcost probe` end to end: the binary named by $OPCOST
 * measures a small op and prints JSON with at least 5 samples, prints the
 * human report, characterizes the device into a profile file that loads
 * back, and refuses bad input (unknown target, bad threads and cores, an
 * unsupported op, counters PAPI cannot give) with one line naming it and a
 * distinct non-zero exit code. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcost/opcost.h"
#include "tests/integration/cli_test.h"

#define KEY "'add.f32 h=4 w=4 c=8 act=none'"
#define FAST "--max-time 0.1 --min-time 0"

static void setup(void) { cli_test_setup("probe"); }

static void teardown(void) { cli_test_teardown(); }

TestSuite(cli_probe, .init = setup, .fini = teardown, .timeout = 120);

static int count_lines(const char *text) {
  int n = 0;
  for (; *text; text++) n += *text == '\n';
  return n;
}

Test(cli_probe, op_json_has_at_least_five_samples) {
  int rc = run("probe op " KEY " -t ref --json " FAST);
  cr_assert_eq(rc, 0, "stderr: %s", err);
  json_error_t e;
  json_t *j = json_loads(out, 0, &e);
  cr_assert_not_null(j, "not JSON: %s", e.text);
  json_t *stats = json_object_get(j, "stats");
  cr_assert(json_integer_value(json_object_get(stats, "n")) >= 5);
  cr_assert(json_real_value(json_object_get(stats, "median_us")) > 0);
  cr_assert_str_eq(json_string_value(json_object_get(j, "key")), "add.f32 h=4 w=4 c=8 act=none");
  cr_assert_str_eq(json_string_value(json_object_get(j, "target")), "ref");
  json_t *timer = json_object_get(j, "timer");
  cr_assert(json_real_value(json_object_get(timer, "resolution_ns")) > 0);
  cr_assert_not_null(json_object_get(timer, "floor_ns"));
  cr_assert(json_is_object(json_object_get(j, "env")));
  cr_assert(json_is_object(json_object_get(j, "counters")));
  cr_assert_null(json_object_get(j, "raw_us"), "raw samples only on request");
  json_decref(j);
}

Test(cli_probe, raw_samples_and_options) {
  int rc = run("probe op " KEY " -t ref --json --raw --samples 12 --target-ci 0.5 --cold "
               "--clock monotonic_raw " FAST);
  cr_assert_eq(rc, 0, "stderr: %s", err);
  json_t *j = json_loads(out, 0, NULL);
  cr_assert_not_null(j);
  json_int_t n = json_integer_value(json_object_get(json_object_get(j, "stats"), "n"));
  cr_assert(n >= 12);
  cr_assert_eq((json_int_t)json_array_size(json_object_get(j, "raw_us")), n);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "cache"), "state")),
                   "cold");
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "timer"), "clock")),
                   "monotonic_raw");
  json_decref(j);
}

Test(cli_probe, human_report) {
  int rc = run("probe op " KEY " -t ref " FAST);
  cr_assert_eq(rc, 0, "stderr: %s", err);
  const char *expected[] = {"median", "p10/p90", "MAD",     "CV",   "cold run",
                            "timer",  "floor",   "machine", "load", NULL};
  for (int i = 0; expected[i]; i++)
    cr_assert(strstr(out, expected[i]) != NULL, "'%s' missing from:\n%s", expected[i], out);
}

static void expect_failure(const char *args, enum oc_status status, const char *fragment) {
  int rc = run("%s", args);
  cr_assert_eq(rc, oc_status_exit_code(status), "exit %d for '%s'; stderr: %s", rc, args, err);
  cr_assert(strstr(err, fragment) != NULL, "'%s' not in: %s", fragment, err);
  cr_assert_eq(count_lines(err), 1, "one line expected: %s", err);
  cr_assert_str_eq(out, "");
}

Test(cli_probe, unknown_target) {
  expect_failure("probe op " KEY " -t nosuch", oc_status_not_found, "nosuch");
}

Test(cli_probe, bad_threads) {
  expect_failure("probe op " KEY " -t ref --threads 0", oc_status_invalid_argument, "--threads");
  expect_failure("probe op " KEY " -t ref --threads -2", oc_status_invalid_argument, "--threads");
}

Test(cli_probe, cores_that_do_not_exist) {
  expect_failure("probe op " KEY " -t ref --cores 0,4000", oc_status_invalid_argument, "4000");
}

Test(cli_probe, unsupported_op) {
  expect_failure("probe op 'add.f16 h=4 w=4 c=8 act=none' -t ref " FAST, oc_status_unsupported,
                 "add.f16 h=4 w=4 c=8 act=none");
}

Test(cli_probe, bad_key) {
  expect_failure("probe op 'add.f32 h=0 w=4 c=8 act=none' -t ref", oc_status_invalid_argument, "h");
}

Test(cli_probe, counters_required_but_papi_fails) {
  /* libpfm4 finds no PMU table when forced to one that does not exist, so
   * PAPI's perf_event component fails to initialise. opcost inherits the
   * variable from this test's environment. */
  cr_assert_eq(setenv("LIBPFM_FORCE_PMU", "no-such-pmu", 1), 0);
  expect_failure("probe op " KEY " -t ref --counters " FAST, oc_status_unavailable, "counters");
  /* Not requested: a note, and the measurement goes on. */
  int rc = run("probe op " KEY " -t ref --json " FAST);
  cr_assert_eq(rc, 0, "stderr: %s", err);
  json_t *j = json_loads(out, 0, NULL);
  cr_assert_not_null(j);
  json_t *notes = json_object_get(j, "notes");
  bool noted = false;
  for (size_t i = 0; i < json_array_size(notes); i++)
    noted |= strstr(json_string_value(json_array_get(notes, i)), "counters") != NULL;
  cr_assert(noted);
  json_decref(j);
  unsetenv("LIBPFM_FORCE_PMU");
}

Test(cli_probe, device_quick_profile_loads_back) {
  int rc = run("probe device -t ref --quick -o profile.json");
  cr_assert_eq(rc, 0, "stderr: %s", err);
  cr_assert_str_eq(err, "", "no progress bar when stderr is not a terminal");
  cr_assert(strstr(out, "GFLOP/s") != NULL);
  struct oc_device_profile *p = malloc(sizeof *p);
  cr_assert_eq(oc_probe_profile_load(in_dir("profile.json"), p), oc_status_ok, "%s", oc_errmsg());
  cr_assert(p->quick);
  cr_assert(p->peak_gflops_one_core > 0);
  cr_assert(p->n_levels >= 1);
  free(p);
}

Test(cli_probe, usage_errors) {
  cr_assert_eq(run("probe"), 2);
  cr_assert_eq(run("probe op " KEY), 2, "no target");
  cr_assert_eq(run("probe fly -t ref"), 2);
  cr_assert_eq(run("probe --help"), 0);
  cr_assert(strstr(out, "--target-ci") != NULL);
}
