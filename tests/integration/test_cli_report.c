/* test_cli_report.c - `opcost report` and `opcost demo` end to end.
 *
 * The inputs are made with the library on this machine (test_cli_report_
 * fixture.h: a quick profile, a small measured LUT, measured networks, a
 * model, a search with hardware in the loop); one network is named
 * <script>alert(1)</script>&" and must come out escaped everywhere. Checked:
 * a report from every input has every section and a chart for each plot,
 * each chart's SVG has marks and its CSV/JSON in the data folder; each input
 * alone fills its own sections and the others say they are absent; the
 * errors (a missing or malformed input, usage mistakes) name what is wrong;
 * the demo runs through (small settings) and reports a stage it cannot run. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "opcost/report.h"
#include "tests/integration/test_cli_report_fixture.h"
#include "tests/integration/cli_test.h"

static void setup(void) { cli_test_setup("report"); }

static void teardown(void) { cli_test_teardown(); }

TestSuite(cli_report, .init = setup, .fini = teardown, .timeout = 240);

static size_t count(const char *hay, const char *needle) {
  size_t n = 0, len = strlen(needle);
  for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + len, needle)) n++;
  return n;
}

static bool contains_nocase(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (const char *p = hay; *p; p++) {
    size_t i = 0;
    while (i < n && p[i] && tolower((unsigned char)p[i]) == tolower((unsigned char)needle[i])) i++;
    if (i == n) return true;
  }
  return false;
}

/* Runs `opcost report ... --json` and returns its summary. */
static json_t *report(const char *args) {
  int rc = run("report --json %s", args);
  cr_assert_eq(rc, 0, "opcost report %s: exit %d: %s", args, rc, err);
  json_error_t e;
  json_t *j = json_loads(out, 0, &e);
  cr_assert_not_null(j, "%s: %s", e.text, out);
  return j;
}

static int jint(const json_t *j, const char *key) {
  return (int)json_integer_value(json_object_get(j, key));
}

/* Every chart of the page: an <svg data-plot> with marks, and its data. */
static void check_charts(const char *html_path, const char *data_dir, int charts) {
  char *page = slurp(html_path);
  cr_assert_eq((int)count(page, "data-plot=\""), charts);
  for (const char *p = strstr(page, "<svg"); p != NULL; p = strstr(p + 4, "<svg")) {
    const char *end = strstr(p, "</svg>");
    cr_assert_not_null(end);
    const char *mark = strstr(p, "class=\"mark\"");
    cr_assert(mark != NULL && mark < end, "a chart without marks at offset %ld", (long)(p - page));
  }
  cr_assert_not(contains_nocase(page, "<script"), "raw markup from the data reached the page");
  cr_assert_not(contains_nocase(page, "http://") && !strstr(page, "http://www.w3.org/2000/svg"),
                "the page references the network");
  free(page);
  char path[2200];
  snprintf(path, sizeof path, "%s/index.json", data_dir);
  json_error_t e;
  json_t *index = json_load_file(path, 0, &e);
  cr_assert_not_null(index, "%s: %s", path, e.text);
  json_t *list = json_object_get(index, "charts");
  cr_assert_eq((int)json_array_size(list), charts);
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *id = json_string_value(json_object_get(c, "id"));
    snprintf(path, sizeof path, "%s/%s", data_dir, json_string_value(json_object_get(c, "csv")));
    char *csv = slurp(path);
    cr_assert(count(csv, "\n") >= 2, "%s: a header and at least one row", path);
    free(csv);
    snprintf(path, sizeof path, "%s/%s", data_dir, json_string_value(json_object_get(c, "json")));
    json_t *chart = json_load_file(path, 0, &e);
    cr_assert_not_null(chart, "%s: %s", path, e.text);
    cr_assert_str_eq(json_string_value(json_object_get(chart, "id")), id);
    json_decref(chart);
  }
  json_decref(index);
}

Test(cli_report, a_report_from_every_input_and_from_each_alone) {
  struct report_fixture f;
  report_fixture_make(&f, dir);
  int rc = run("eval -m model.json --nets measured.jsonl --json");
  cr_assert_eq(rc, 0, "%s", err);
  char path[1024], data[1024];
  snprintf(path, sizeof path, "%s/eval.json", dir);
  FILE *fe = fopen(path, "w");
  fputs(out, fe);
  fclose(fe);

  /* Everything. */
  json_t *j = report("-o all.html --title '" NASTY "' --profile profile.json --lut lut.db "
                     "--model model.json --nets measured.jsonl --eval eval.json --search search");
  cr_assert_eq(jint(j, "sections"), 6);
  cr_assert_eq(jint(j, "sections_absent"), 0);
  int charts = jint(j, "charts");
  /* roofline, bandwidth, latency-flops, 2 heat maps, predicted-measured,
   * layers, pareto, hypervolume */
  cr_assert_geq(charts, 9);
  json_decref(j);
  snprintf(path, sizeof path, "%s/all.html", dir);
  snprintf(data, sizeof data, "%s/all_data", dir);
  check_charts(path, data, charts);
  char *page = slurp(path);
  cr_assert_geq(count(page, NASTY_HTML), 3, "the title and the network, escaped");
  const char *ids[] = {"roofline",           "bandwidth", "latency-flops", "depthwise-throughput",
                       "predicted-measured", "layers",    "pareto",        "hypervolume"};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    char attr[64];
    snprintf(attr, sizeof attr, "data-plot=\"%s\"", ids[i]);
    cr_assert(strstr(page, attr) != NULL, "no chart %s", ids[i]);
  }
  /* Five networks, four sources of predictions in the accuracy table. */
  cr_assert(strstr(page, "model on measured.jsonl") != NULL);
  cr_assert(strstr(page, "LUT: sum of kernel medians") != NULL);
  cr_assert(strstr(page, "search HIL") != NULL);
  free(page);
  snprintf(path, sizeof path, "%s/all.md", dir);
  char *md = slurp(path);
  cr_assert_null(strchr(md, '<'), "raw markup in the Markdown");
  cr_assert(strstr(md, "&lt;script&gt;") != NULL);
  cr_assert(strstr(md, "## Search") != NULL);
  /* Unknown values print as "-", never as printf's nan or inf. */
  cr_assert_null(strstr(md, "nan |"), "nan in the Markdown");
  cr_assert_null(strstr(md, "inf |"), "inf in the Markdown");
  free(md);
  snprintf(path, sizeof path, "%s/all_data/predicted-measured.csv", dir);
  char *csv = slurp(path);
  cr_assert(strstr(csv, ",\"<script>alert(1)</script>&\"\"\",") != NULL, "CSV quoting: %s", csv);
  free(csv);

  /* Each input alone: its sections, and the others say they are absent. */
  j = report("-o p.html --profile profile.json");
  cr_assert_eq(jint(j, "sections_absent"), 5);
  cr_assert_eq(jint(j, "charts"), 2);
  json_decref(j);
  snprintf(path, sizeof path, "%s/p.html", dir);
  page = slurp(path);
  cr_assert(strstr(page, "No LUT was given") != NULL);
  cr_assert(strstr(page, "Give a LUT (--lut) to place ops on it") != NULL);
  free(page);

  j = report("-o l.html --lut lut.db");
  cr_assert_eq(jint(j, "sections_absent"), 4, "device, accuracy, layers, search");
  cr_assert_geq(jint(j, "charts"), 3);
  json_decref(j);

  j = report("-o s.html --search search");
  cr_assert_eq(jint(j, "sections_absent"), 3, "device, ops, LUT: %s", out);
  json_decref(j);
  snprintf(path, sizeof path, "%s/s.html", dir);
  page = slurp(path);
  cr_assert(strstr(page, "data-plot=\"pareto\"") != NULL);
  cr_assert(strstr(page, "MACs per layer") != NULL, "a front member, no latency source");
  free(page);

  j = report("-o e.html --eval eval.json");
  cr_assert_eq(jint(j, "sections_absent"), 5);
  cr_assert_eq(jint(j, "charts"), 1);
  json_decref(j);

  j = report("-o n.html --network nets/nasty.json --model model.json");
  cr_assert_eq(jint(j, "sections_absent"), 4,
               "device, ops, LUT, search (the model's own "
               "out-of-fold networks fill the accuracy)");
  json_decref(j);
  snprintf(path, sizeof path, "%s/n.html", dir);
  page = slurp(path);
  cr_assert(strstr(page, "Per-layer costs of " NASTY_HTML) != NULL);
  cr_assert_not(contains_nocase(page, "<script"));
  free(page);

  /* The LUT's device chosen explicitly; an unknown one is refused. */
  j = report("-o d.html --lut lut.db --threads 1");
  json_decref(j);
  rc = run("report -o x.html --lut lut.db --device ffffffffffffffff");
  cr_assert_eq(rc, oc_status_exit_code(oc_status_not_found), "%s", err);
}

Test(cli_report, errors_name_what_is_wrong) {
  cr_assert_eq(run("report --profile p.json"), 2);
  cr_assert(strstr(err, "-o REPORT.html is required") != NULL, "%s", err);
  cr_assert_eq(run("report -o r.html --device abc"), 2);
  cr_assert(strstr(err, "give --lut") != NULL, "%s", err);
  cr_assert_eq(run("report -o r.html x.json"), 2);

  cr_assert_eq(run("report -o r.html --profile missing.json"),
               oc_status_exit_code(oc_status_io_error));
  cr_assert(strstr(err, "missing.json") != NULL, "%s", err);

  char path[512];
  snprintf(path, sizeof path, "%s/bad.json", dir);
  FILE *f = fopen(path, "w");
  fputs("{\"format\": \"opcost-device-profile/1\",\n  oops }\n", f);
  fclose(f);
  cr_assert_eq(run("report -o r.html --profile bad.json"),
               oc_status_exit_code(oc_status_parse_error));
  cr_assert(strstr(err, "bad.json") != NULL && strstr(err, "line 2") != NULL, "%s", err);

  cr_assert_eq(run("report -o r.html --search ."), oc_status_exit_code(oc_status_io_error));
  cr_assert(strstr(err, "not a search output directory") != NULL, "%s", err);

  cr_assert_eq(run("report -o nodir/r.html"), oc_status_exit_code(oc_status_io_error));
  cr_assert(strstr(err, "does not exist") != NULL, "%s", err);

  /* No input at all: a page that says so for every section, and a warning. */
  cr_assert_eq(run("report -o empty.html"), 0, "%s", err);
  cr_assert(strstr(err, "no input given") != NULL, "%s", err);
  cr_assert(strstr(out, "6 without input") != NULL, "%s", out);
}

Test(cli_report, demo_options_and_a_stage_that_cannot_run) {
  cr_assert_eq(run("demo --help"), 0);
  cr_assert(strstr(out, "hardware in the loop") != NULL);
  cr_assert_eq(run("demo --budget 0"), 2);
  cr_assert_eq(run("demo extra"), 2);
  /* An unknown target: the first stage fails, the rest are skipped, and the
   * report still comes out and says why. */
  int rc = run("demo -o d --target nosuch --quiet");
  cr_assert_eq(rc, oc_status_exit_code(oc_status_unavailable), "%s", err);
  cr_assert(strstr(err, "1 stage failed") != NULL, "%s", err);
  char path[512];
  snprintf(path, sizeof path, "%s/d/demo.json", dir);
  json_error_t e;
  json_t *j = json_load_file(path, 0, &e);
  cr_assert_not_null(j, "%s", e.text);
  json_t *stages = json_object_get(j, "stages");
  cr_assert_eq(json_array_size(stages), OC_DEMO_STAGES);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(stages, 0), "status")),
                   "failed");
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(stages, 1), "status")),
                   "skipped");
  json_decref(j);
  snprintf(path, sizeof path, "%s/d/report.html", dir);
  char *page = slurp(path);
  cr_assert(strstr(page, "unknown target") != NULL);
  cr_assert_eq(count(page, "data-absent=\"1\""), 6);
  free(page);
  /* A resolution the space does not have is refused with its choices. */
  rc = run("demo -o r --target nosuch --resolution 161 --quiet");
  cr_assert_eq(rc, oc_status_exit_code(oc_status_unavailable), "%s", err);
  cr_assert(strstr(err, "2 stages failed") != NULL, "%s", err);
  snprintf(path, sizeof path, "%s/r/report.html", dir);
  page = slurp(path);
  cr_assert(strstr(page, "resolution 161 is not a choice") != NULL);
  free(page);
}

Test(cli_report, the_demo_runs_through_on_small_settings) {
  int rc = run("demo -o d --quick --resolution 128 --samples 2 --budget 40 --population 10 "
               "--hil 1 --networks none --json");
  cr_assert_eq(rc, 0, "%s", err);
  json_error_t e;
  json_t *j = json_loads(out, 0, &e);
  cr_assert_not_null(j, "%s", e.text);
  cr_assert_str_eq(json_string_value(json_object_get(j, "format")), OC_DEMO_FORMAT);
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(j, "stages"), i, s) {
    const char *status = json_string_value(json_object_get(s, "status"));
    cr_assert_str_eq(status, "done", "stage %s: %s (%s)",
                     json_string_value(json_object_get(s, "name")), status,
                     json_string_value(json_object_get(s, "detail")));
  }
  cr_assert_gt(json_integer_value(json_object_get(j, "lut_rows")), 20);
  cr_assert_eq(json_integer_value(json_object_get(j, "validation_nets")), 2);
  cr_assert_gt(json_integer_value(json_object_get(j, "evaluated")), 0);
  json_decref(j);
  char path[512];
  snprintf(path, sizeof path, "%s/d/report.html", dir);
  char *page = slurp(path);
  cr_assert_eq(count(page, "data-absent=\"1\""), 0);
  cr_assert_geq(count(page, "data-plot=\""), 9);
  free(page);
  /* What the demo leaves is ready for the other commands. */
  cr_assert_eq(run("eval -m d/model.json --nets d/heldout.jsonl"), 0, "%s", err);
  cr_assert_eq(run("space show d/space.json"), 0, "%s", err);
  cr_assert(strstr(out, "ofa-mbv3-w1.0-r128") != NULL, "%s", out);
}
