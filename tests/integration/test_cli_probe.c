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
#include <sys/wait.h>
#include <unistd.h>

#include "opcost/opcost.h"

#define KEY "'add.f32 h=4 w=4 c=8 act=none'"
#define FAST "--max-time 0.1 --min-time 0"

static char out_path[64], err_path[64], profile_path[64];

static void make_paths(void) {
  const char *paths[] = {out_path, err_path, profile_path};
  for (int i = 0; i < 3; i++) {
    char *p = (char *)paths[i];
    snprintf(p, 64, "/tmp/opcost_cli_probe_XXXXXX");
    int fd = mkstemp(p);
    cr_assert(fd >= 0);
    close(fd);
  }
}

static void remove_paths(void) {
  unlink(out_path);
  unlink(err_path);
  unlink(profile_path);
}

TestSuite(cli_probe, .init = make_paths, .fini = remove_paths, .timeout = 120);

/* Runs `opcost ARGS` (through the shell: ARGS may quote) with stdout and
 * stderr to files; returns the exit code. env: assignments put before the
 * command ("" for none). */
static int run(const char *env, const char *args) {
  const char *bin = getenv("OPCOST");
  cr_assert_not_null(bin, "OPCOST must name the opcost binary");
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "%s '%s' %s > %s 2> %s", env, bin, args, out_path, err_path);
  int status = system(cmd);
  cr_assert(WIFEXITED(status), "%s did not exit", cmd);
  return WEXITSTATUS(status);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static int count_lines(const char *text) {
  int n = 0;
  for (; *text; text++) n += *text == '\n';
  return n;
}

Test(cli_probe, op_json_has_at_least_five_samples) {
  int rc = run("", "probe op " KEY " -t ref --json " FAST);
  cr_assert_eq(rc, 0, "stderr: %s", slurp(err_path));
  json_error_t err;
  json_t *j = json_load_file(out_path, 0, &err);
  cr_assert_not_null(j, "not JSON: %s", err.text);
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
  int rc = run("", "probe op " KEY " -t ref --json --raw --samples 12 --target-ci 0.5 --cold "
                   "--clock monotonic_raw " FAST);
  cr_assert_eq(rc, 0, "stderr: %s", slurp(err_path));
  json_t *j = json_load_file(out_path, 0, NULL);
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
  int rc = run("", "probe op " KEY " -t ref " FAST);
  cr_assert_eq(rc, 0, "stderr: %s", slurp(err_path));
  const char *out = slurp(out_path);
  const char *expected[] = {"median", "p10/p90", "MAD",     "CV",   "cold run",
                            "timer",  "floor",   "machine", "load", NULL};
  for (int i = 0; expected[i]; i++)
    cr_assert(strstr(out, expected[i]) != NULL, "'%s' missing from:\n%s", expected[i], out);
}

static void expect_failure(const char *env, const char *args, enum oc_status status,
                           const char *fragment) {
  int rc = run(env, args);
  const char *err = slurp(err_path);
  cr_assert_eq(rc, oc_status_exit_code(status), "exit %d for '%s'; stderr: %s", rc, args, err);
  cr_assert(strstr(err, fragment) != NULL, "'%s' not in: %s", fragment, err);
  cr_assert_eq(count_lines(err), 1, "one line expected: %s", err);
  cr_assert_str_eq(slurp(out_path), "");
}

Test(cli_probe, unknown_target) {
  expect_failure("", "probe op " KEY " -t nosuch", oc_status_not_found, "nosuch");
}

Test(cli_probe, bad_threads) {
  expect_failure("", "probe op " KEY " -t ref --threads 0", oc_status_invalid_argument,
                 "--threads");
  expect_failure("", "probe op " KEY " -t ref --threads -2", oc_status_invalid_argument,
                 "--threads");
}

Test(cli_probe, cores_that_do_not_exist) {
  expect_failure("", "probe op " KEY " -t ref --cores 0,4000", oc_status_invalid_argument, "4000");
}

Test(cli_probe, unsupported_op) {
  expect_failure("", "probe op 'add.f16 h=4 w=4 c=8 act=none' -t ref " FAST, oc_status_unsupported,
                 "add.f16 h=4 w=4 c=8 act=none");
}

Test(cli_probe, bad_key) {
  expect_failure("", "probe op 'add.f32 h=0 w=4 c=8 act=none' -t ref", oc_status_invalid_argument,
                 "h");
}

Test(cli_probe, counters_required_but_papi_fails) {
  /* libpfm4 finds no PMU table when forced to one that does not exist, so
   * PAPI's perf_event component fails to initialise. */
  expect_failure("LIBPFM_FORCE_PMU=no-such-pmu", "probe op " KEY " -t ref --counters " FAST,
                 oc_status_unavailable, "counters");
  /* Not requested: a note, and the measurement goes on. */
  int rc = run("LIBPFM_FORCE_PMU=no-such-pmu", "probe op " KEY " -t ref --json " FAST);
  cr_assert_eq(rc, 0, "stderr: %s", slurp(err_path));
  json_t *j = json_load_file(out_path, 0, NULL);
  cr_assert_not_null(j);
  json_t *notes = json_object_get(j, "notes");
  bool noted = false;
  for (size_t i = 0; i < json_array_size(notes); i++)
    noted |= strstr(json_string_value(json_array_get(notes, i)), "counters") != NULL;
  cr_assert(noted);
  json_decref(j);
}

Test(cli_probe, device_quick_profile_loads_back) {
  char args[256];
  snprintf(args, sizeof args, "probe device -t ref --quick -o %s", profile_path);
  int rc = run("", args);
  cr_assert_eq(rc, 0, "stderr: %s", slurp(err_path));
  cr_assert_str_eq(slurp(err_path), "", "no progress bar when stderr is not a terminal");
  cr_assert(strstr(slurp(out_path), "GFLOP/s") != NULL);
  struct oc_device_profile *p = malloc(sizeof *p);
  cr_assert_eq(oc_probe_profile_load(profile_path, p), oc_status_ok, "%s", oc_errmsg());
  cr_assert(p->quick);
  cr_assert(p->peak_gflops_one_core > 0);
  cr_assert(p->n_levels >= 1);
  free(p);
}

Test(cli_probe, usage_errors) {
  cr_assert_eq(run("", "probe"), 2);
  cr_assert_eq(run("", "probe op " KEY), 2, "no target");
  cr_assert_eq(run("", "probe fly -t ref"), 2);
  cr_assert_eq(run("", "probe --help"), 0);
  cr_assert(strstr(slurp(out_path), "--target-ci") != NULL);
}
