/* test_cli_search.c - `opcost search` end to end on the test space with a
 * LUT measured on the host CPU by `opcost lut build`: the outputs and the
 * multi-value --constraint form, accuracy from the test evaluator (and its
 * failures, with distinct exit codes), an infeasible problem, resume,
 * hardware in the loop, --json, and usage errors (units, objectives). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/cli_test.h"

#define TINY "tests/data/search/tiny-space.json"
#define EVAL "sh tests/data/search/evaluator.sh"

static char lut[512];

static size_t count(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

/* Runs in the source tree, so TINY and EVAL resolve. */
static void setup(void) {
  cli_test_setup("search");
  run_cwd = OPCOST_SOURCE_DIR;
  /* A real LUT of the test space's 35 kernels, measured briefly. */
  snprintf(lut, sizeof lut, "%s", in_dir("lut.db"));
  int rc = run("lut build -t cpu -s %s -o '%s' --max-time 0.01 --min-time 0.002", TINY, lut);
  cr_assert_eq(rc, 0, "lut build: %s", err);
}

static void teardown(void) { cli_test_teardown(); }

TestSuite(cli_search, .init = setup, .fini = teardown);

Test(cli_search, help) {
  cr_assert_eq(run("search --help"), 0);
  cr_assert(strstr(out, "--objective") && strstr(out, "--hil") && strstr(out, "--resume"));
}

Test(cli_search, lut_search_writes_every_output) {
  int rc =
      run("search -s %s --objective latency,macs --constraint 'latency<=1ms' 'peak_mem<=64KiB' "
          "--lut '%s' --budget 30 --population 8 --seed 3 -o '%s/run'",
          TINY, lut, dir);
  cr_assert_eq(rc, 0, "%s%s", out, err);
  cr_assert(strstr(out, "30 candidates evaluated") != NULL, "%s", out);
  cr_assert(strstr(out, "latency (min, lut)") != NULL, "%s", out);
  cr_assert(strstr(out, "peak_mem<=64KiB") != NULL, "%s", out);
  /* Each exists: slurp fails the test on a missing file. */
  const char *files[] = {"run/journal.jsonl", "run/front.csv",    "run/front.json",
                         "run/hv.csv",        "run/summary.json", "run/config.json"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) free(slurp(in_dir(files[i])));
  char *journal = slurp(in_dir("run/journal.jsonl"));
  cr_assert_eq(count(journal, "\n"), 30);
  cr_assert_eq(count(journal, "\"latency\":\"lut\""), 30);
  free(journal);
  json_error_t e;
  json_t *s = json_load_file(in_dir("run/summary.json"), 0, &e);
  cr_assert_not_null(s, "%s", e.text);
  cr_assert_eq(json_integer_value(json_object_get(s, "evaluated")), 30);
  json_t *obj = json_array_get(json_object_get(s, "objectives"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(obj, "source")), "lut");
  json_t *hv = json_object_get(s, "hypervolume");
  cr_assert(json_real_value(json_object_get(hv, "value")) > 0);
  cr_assert_str_eq(json_string_value(json_object_get(hv, "method")), "exact");
  cr_assert_eq(json_array_size(json_object_get(hv, "reference_point")), 2);
  json_decref(s);
  /* Each front member's network loads. */
  json_t *front = json_load_file(in_dir("run/front.json"), 0, &e);
  json_t *m0 = json_array_get(json_object_get(front, "members"), 0);
  cr_assert_eq(run("net info '%s/run/%s'", dir, json_string_value(json_object_get(m0, "net"))), 0);
  json_decref(front);
  /* The same directory again without --resume is refused. */
  rc = run("search -s %s --objective latency,macs --lut '%s' --budget 30 -o '%s/run'", TINY, lut,
           dir);
  cr_assert_eq(rc, 3, "%s", err);
  cr_assert(strstr(err, "--resume") != NULL, "%s", err);
}

Test(cli_search, resume_continues_from_the_journal) {
  cr_assert_eq(run("search -s %s --objective latency,params --lut '%s' --budget 12 --population 6 "
                   "-o '%s/r' --quiet",
                   TINY, lut, dir),
               0);
  cr_assert_eq(run("search -s %s --objective latency,params --lut '%s' --budget 24 --population 6 "
                   "-o '%s/r' --quiet --resume",
                   TINY, lut, dir),
               0);
  cr_assert(strstr(out, "(12 from the journal)") != NULL, "%s", out);
  char *journal = slurp(in_dir("r/journal.jsonl"));
  cr_assert_eq(count(journal, "\n"), 24);
  free(journal);
}

Test(cli_search, evaluator_accuracy_and_failures) {
  int rc = run("search -s %s --objective latency,accuracy --lut '%s' --evaluator '%s ok' "
               "--budget 20 --population 6 -o '%s/ev' --json",
               TINY, lut, EVAL, dir);
  cr_assert_eq(rc, 0, "%s", err);
  json_error_t e;
  json_t *s = json_loads(out, 0, &e);
  cr_assert_not_null(s, "--json prints the summary: %s", e.text);
  json_t *acc = json_object_get(s, "accuracy");
  cr_assert_str_eq(json_string_value(json_object_get(acc, "source")), "evaluator");
  cr_assert_eq(json_integer_value(json_object_get(acc, "answered")), 20);
  json_decref(s);
  char *front = slurp(in_dir("ev/front.csv"));
  cr_assert(strstr(front, ",evaluator,") != NULL, "%s", front);
  free(front);
  /* Garbage on the 4th request: exit 4 (parse error) naming candidate 3. */
  rc = run("search -s %s --objective latency,accuracy --lut '%s' --evaluator '%s garbage 4' "
           "--budget 20 --population 6 -o '%s/bad' --quiet",
           TINY, lut, EVAL, dir);
  cr_assert_eq(rc, 4, "%s", err);
  cr_assert(strstr(err, "candidate 3") != NULL && strstr(err, "not JSON") != NULL, "%s", err);
  /* A timeout: exit 12. */
  rc = run("search -s %s --objective latency,accuracy --lut '%s' --evaluator '%s slow 2' "
           "--evaluator-timeout 0.3 --budget 20 --population 6 -o '%s/slow' --quiet",
           TINY, lut, EVAL, dir);
  cr_assert_eq(rc, 12, "%s", err);
  cr_assert(strstr(err, "candidate 1") != NULL, "%s", err);
}

Test(cli_search, infeasible_exits_non_zero_with_best_violation) {
  int rc = run("search -s %s --objective latency,macs --constraint 'macs<=10K' --lut '%s' "
               "--budget 15 --population 5 -o '%s/inf'",
               TINY, lut, dir);
  cr_assert_eq(rc, 8, "%s", err);
  cr_assert(strstr(err, "no candidate of 15 satisfies") != NULL, "%s", err);
  cr_assert(strstr(err, "macs<=10K") != NULL, "%s", err);
  char *summary = slurp(in_dir("inf/summary.json")); /* fails the test when missing */
  cr_assert(strstr(summary, "\"best_violation\"") != NULL);
  free(summary);
}

Test(cli_search, hardware_in_the_loop) {
  int rc = run("search -s %s -t cpu --objective latency,accuracy --lut '%s' --evaluator '%s ok' "
               "--budget 16 --population 4 --hil 2 --hil-max-time 0.02 -o '%s/hil'",
               TINY, lut, EVAL, dir);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert(strstr(out, "HIL         2 measured on cpu") != NULL, "%s", out);
  char *hil = slurp(in_dir("hil/hil.csv")); /* fails the test when missing */
  cr_assert_eq(count(hil, "\n"), 3, "%s", hil);
  cr_assert(strstr(hil, "predicted_us") != NULL);
  free(hil);
  char *summary = slurp(in_dir("hil/summary.json"));
  cr_assert(strstr(summary, "\"measured\": 2") != NULL, "%s", summary);
  cr_assert(strstr(summary, "lut+measured") != NULL, "%s", summary);
  free(summary);
}

Test(cli_search, usage_errors) {
  struct {
    const char *extra;
    int rc;
    const char *want;
  } cases[] = {
      {"--objective latency,macs --constraint 'latency<=20' --budget 5", 2, "us, ms or s"},
      {"--objective latency,macs --constraint 'latency<20ms' --budget 5", 2, "<= or >="},
      {"--objective latency,speed --budget 5", 2, "unknown metric 'speed'"},
      {"--objective latency,macs --constraint 'peak_mem<=3parsecs' --budget 5", 2, "3parsecs"},
      {"--objective latency,macs", 2, "--budget"},
      {"--objective accuracy --budget 5", 3, "--evaluator"},
      {"--objective latency --hil 2 --budget 5", 2, "-t TARGET"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int rc = run("search -s %s --lut '%s' -o '%s/u%zu' %s", TINY, lut, dir, i, cases[i].extra);
    cr_assert_eq(rc, cases[i].rc, "case %zu: rc %d: %s", i, rc, err);
    cr_assert(strstr(err, cases[i].want) != NULL, "case %zu: %s", i, err);
  }
  cr_assert_eq(run("search -s no-such-space --objective macs --budget 5 -o /tmp/x"), 8);
  cr_assert(strstr(err, "no-such-space") != NULL, "%s", err);
}
