/* test_report.c - the report's writers on their own: escaping for HTML,
 * CSV and Markdown; axis ticks and tick labels; x/y plots, heat maps and
 * bar charts as SVG (what is drawn, what is skipped, that names are
 * escaped), CSV and JSON; and oc_report_write without inputs (every
 * section says its input is absent) and with inputs that are wrong. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opcost/report.h"
#include "reports/report_internal.h"

#define NASTY "<script>alert(1)</script>&\""
#define NASTY_HTML "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;"

static size_t count(const char *hay, const char *needle) {
  size_t n = 0, len = strlen(needle);
  for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + len, needle)) n++;
  return n;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = calloc((size_t)n + 1, 1);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  return buf;
}

/* ---- escaping ------------------------------------------------------------------------- */

Test(report_text, html_escapes_every_special_character) {
  struct oc__rbuf b = {0};
  oc__rbuf_html(&b, NASTY "'x");
  cr_assert_str_eq(oc__rbuf_str(&b), NASTY_HTML "&#39;x");
  oc__rbuf_free(&b);
  oc__rbuf_html(&b, "plain text 1.5 ms");
  cr_assert_str_eq(oc__rbuf_str(&b), "plain text 1.5 ms");
  oc__rbuf_free(&b);
}

Test(report_text, csv_quotes_only_when_needed) {
  struct oc__rbuf b = {0};
  oc__rbuf_csv(&b, "conv2d.f32 h=7");
  oc__rbuf_puts(&b, "|");
  oc__rbuf_csv(&b, "a,b \"q\"");
  cr_assert_str_eq(oc__rbuf_str(&b), "conv2d.f32 h=7|\"a,b \"\"q\"\"\"");
  oc__rbuf_free(&b);
}

Test(report_text, markdown_escapes_html_and_table_breakers) {
  struct oc__rbuf b = {0};
  oc__rbuf_md(&b, NASTY "|x_y\n*");
  const char *s = oc__rbuf_str(&b);
  cr_assert_null(strchr(s, '<'));
  cr_assert_null(strchr(s, '\n'));
  cr_assert(strstr(s, "\\|x\\_y \\*") != NULL, "got %s", s);
  oc__rbuf_free(&b);
}

Test(report_text, buffer_grows_past_its_first_block) {
  struct oc__rbuf b = {0};
  for (int i = 0; i < 5000; i++) oc__rbuf_printf(&b, "%04d,", i % 10000);
  cr_assert_eq(b.len, 5000u * 5);
  cr_assert(strncmp(oc__rbuf_str(&b) + 4995 * 5, "4995,", 5) == 0);
  cr_assert_not(b.oom);
  oc__rbuf_free(&b);
  cr_assert_null(b.p);
}

/* ---- ticks ------------------------------------------------------------------------------- */

static bool nice(double step) {
  double mag = pow(10, floor(log10(step) + 1e-9));
  double m = step / mag;
  return fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 2.5) < 1e-9 || fabs(m - 5) < 1e-9 ||
         fabs(m - 10) < 1e-9;
}

Test(report_ticks, linear_ticks_are_nice_evenly_spaced_and_cover_the_range) {
  const double ranges[][2] = {{0, 10}, {0.3, 0.71}, {-4, 123}, {1234, 5678}, {5, 5}, {0, 1e-6}};
  for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
    double t[OC__MAX_TICKS];
    size_t n = oc__ticks_linear(ranges[r][0], ranges[r][1], 8, t);
    cr_assert(n >= 2 && n <= 8, "range %g..%g: %zu ticks", ranges[r][0], ranges[r][1], n);
    double step = t[1] - t[0];
    cr_assert(step > 0 && nice(step), "range %zu: step %g", r, step);
    for (size_t i = 2; i < n; i++) cr_assert(fabs(t[i] - t[i - 1] - step) < step * 1e-6);
    cr_assert(t[0] <= ranges[r][0] + step * 1e-6);
    if (ranges[r][1] > ranges[r][0]) cr_assert(t[n - 1] >= ranges[r][1] - step * 1e-6);
  }
}

Test(report_ticks, log_ticks_are_decades_or_1_2_5) {
  double t[OC__MAX_TICKS];
  size_t n = oc__ticks_log(1, 1e5, 10, t);
  cr_assert_eq(n, 6);
  for (size_t i = 0; i < n; i++) cr_assert_float_eq(t[i], pow(10, (double)i), 1e-9);
  n = oc__ticks_log(3, 40, 10, t);
  double want[] = {5, 10, 20};
  cr_assert_eq(n, 3);
  for (size_t i = 0; i < n; i++) cr_assert_float_eq(t[i], want[i], 1e-9);
  /* Many decades thin out to the limit. */
  n = oc__ticks_log(1e-3, 1e12, 6, t);
  cr_assert(n <= 6 && n >= 2);
  cr_assert_float_eq(log10(t[1] / t[0]), log10(t[n - 1] / t[n - 2]), 1e-9);
}

Test(report_ticks, labels_are_short) {
  char b[32];
  const struct {
    double v;
    const char *s;
  } cases[] = {{0, "0"},    {0.05, "0.05"},  {1.5, "1.5"},    {250, "250"},  {1500, "1.5k"},
               {2e6, "2M"}, {3.2e9, "3.2G"}, {1e-5, "1e-05"}, {-2000, "-2k"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    oc__fmt_tick(cases[i].v, b, sizeof b);
    cr_assert_str_eq(b, cases[i].s, "%g", cases[i].v);
  }
}

/* ---- charts -------------------------------------------------------------------------------- */

Test(report_plot, svg_draws_the_drawable_points_and_escapes_names) {
  struct oc__plot p;
  oc__plot_init(&p, "test-plot", "Title " NASTY, "x", "y", true, true);
  struct oc__series *a = oc__plot_series(&p, "series " NASTY, oc__mark_points, -1);
  struct oc__series *l = oc__plot_series(&p, "line", oc__mark_line, -1);
  cr_assert_eq(oc__series_add(a, 1, 10, "point " NASTY), oc_status_ok);
  cr_assert_eq(oc__series_add(a, 100, 1000, NULL), oc_status_ok);
  cr_assert_eq(oc__series_add(a, -1, 5, NULL), oc_status_ok);  /* not on a log axis */
  cr_assert_eq(oc__series_add(a, 3, NAN, NULL), oc_status_ok); /* not a number */
  cr_assert_eq(oc__series_add(l, 1, 1, NULL), oc_status_ok);
  cr_assert_eq(oc__series_add(l, 1000, 1000, NULL), oc_status_ok);
  oc__plot_rule(&p, true, 50, "bound", 1);
  cr_assert_eq(oc__plot_points(&p), 4);
  struct oc__rbuf b = {0};
  oc__plot_svg(&p, &b);
  const char *s = oc__rbuf_str(&b);
  cr_assert(strncmp(s, "<svg ", 5) == 0);
  cr_assert(strstr(s, "data-plot=\"test-plot\"") != NULL);
  cr_assert_eq(count(s, "<circle class=\"mark\""), 2);
  cr_assert_eq(count(s, "<path class=\"mark\""), 1);
  cr_assert_eq(count(s, "class=\"rule\""), 1);
  cr_assert_null(strstr(s, "<script"));
  cr_assert(strstr(s, NASTY_HTML) != NULL);
  cr_assert(strstr(s, "(log)") != NULL);
  oc__rbuf_free(&b);

  /* CSV: a header and a row per point, also those not drawn, and the rule. */
  oc__plot_csv(&p, &b);
  s = oc__rbuf_str(&b);
  cr_assert(strncmp(s, "series,label,x,y,y_lower,y_upper\n", 33) == 0);
  cr_assert_eq(count(s, "\n"), 1 + 4 + 2 + 1);
  cr_assert(strstr(s, "\"series <script>alert(1)</script>&\"\"\"") != NULL, "%s", s);
  oc__rbuf_free(&b);

  json_t *j = oc__plot_json(&p);
  cr_assert_not_null(j);
  cr_assert_str_eq(json_string_value(json_object_get(j, "x_scale")), "log");
  json_t *series = json_object_get(j, "series");
  cr_assert_eq(json_array_size(series), 2);
  json_t *pts = json_object_get(json_array_get(series, 0), "points");
  cr_assert_eq(json_array_size(pts), 4);
  cr_assert(json_is_null(json_object_get(json_array_get(pts, 3), "y")));
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(pts, 0), "label")),
                   "point " NASTY);
  cr_assert_eq(json_array_size(json_object_get(j, "rules")), 1);
  json_decref(j);
  oc__plot_free(&p);
}

Test(report_plot, a_linear_axis_of_positive_data_does_not_go_below_zero) {
  struct oc__plot p;
  oc__plot_init(&p, "lin", "t", "x", "y", false, false);
  struct oc__series *a = oc__plot_series(&p, "a", oc__mark_points, -1);
  oc__series_add(a, 0.5, 3, NULL);
  oc__series_add(a, 40000, 9, NULL);
  struct oc__rbuf b = {0};
  oc__plot_svg(&p, &b);
  cr_assert_null(strstr(oc__rbuf_str(&b), ">-"), "a negative tick label");
  oc__rbuf_free(&b);
  oc__plot_free(&p);
}

Test(report_plot, series_beyond_the_limit_are_refused) {
  struct oc__plot p;
  oc__plot_init(&p, "many", "t", "x", "y", false, false);
  for (int i = 0; i < OC__PLOT_MAX_SERIES; i++)
    cr_assert_not_null(oc__plot_series(&p, "s", oc__mark_points, -1));
  cr_assert_null(oc__plot_series(&p, "one too many", oc__mark_points, -1));
  oc__plot_free(&p);
}

Test(report_heatmap, cells_marks_and_missing_values) {
  struct oc__heatmap h;
  cr_assert_eq(oc__heatmap_init(&h, "hm", "Heat " NASTY, 2, 3), oc_status_ok);
  oc__heatmap_set_row(&h, 0, "3x3");
  oc__heatmap_set_row(&h, 1, NASTY);
  for (size_t c = 0; c < 3; c++) {
    char name[8];
    snprintf(name, sizeof name, "%zu", 16 * (c + 1));
    oc__heatmap_set_col(&h, c, name);
  }
  h.values[0] = 1;
  h.values[1] = 10;
  h.values[4] = 100; /* the rest not measured */
  h.log_color = true;
  cr_assert_eq(oc__heatmap_cells(&h), 3);
  struct oc__rbuf b = {0};
  oc__heatmap_svg(&h, &b);
  const char *s = oc__rbuf_str(&b);
  cr_assert_eq(count(s, "<rect class=\"mark\""), 3);
  cr_assert_eq(count(s, "not measured"), 3);
  cr_assert(strstr(s, "data-plot=\"hm\"") != NULL);
  cr_assert_null(strstr(s, "<script"));
  oc__rbuf_free(&b);
  oc__heatmap_csv(&h, &b);
  cr_assert_eq(count(oc__rbuf_str(&b), "\n"), 1 + 6);
  oc__rbuf_free(&b);
  json_t *j = oc__heatmap_json(&h);
  cr_assert(json_is_null(json_array_get(json_array_get(json_object_get(j, "values"), 1), 0)));
  cr_assert_float_eq(
      json_real_value(json_array_get(json_array_get(json_object_get(j, "values"), 1), 1)), 100,
      1e-12);
  json_decref(j);
  oc__heatmap_free(&h);
  cr_assert_eq(oc__heatmap_init(&h, "empty", "t", 0, 3), oc_status_invalid_argument);
}

Test(report_bars, one_bar_per_finite_value) {
  struct oc__bars bars;
  oc__bars_init(&bars, "bars", "Bars", "us");
  cr_assert(oc__bars_group(&bars, "LUT"));
  cr_assert(oc__bars_group(&bars, "model"));
  double v1[] = {10, 12}, v2[] = {5, NAN};
  cr_assert_eq(oc__bars_add(&bars, "0 conv2d", "layer 0 " NASTY, v1), oc_status_ok);
  cr_assert_eq(oc__bars_add(&bars, "1 fc", NULL, v2), oc_status_ok);
  cr_assert_not(oc__bars_group(&bars, "too late"), "groups come before items");
  struct oc__rbuf b = {0};
  oc__bars_svg(&bars, &b);
  const char *s = oc__rbuf_str(&b);
  cr_assert_eq(count(s, "<rect class=\"mark\""), 3);
  cr_assert_null(strstr(s, "<script"));
  oc__rbuf_free(&b);
  oc__bars_csv(&bars, &b);
  cr_assert(strncmp(oc__rbuf_str(&b), "index,label,detail,LUT,model\n", 29) == 0);
  oc__rbuf_free(&b);
  json_t *j = oc__bars_json(&bars);
  cr_assert_eq(json_array_size(json_object_get(j, "items")), 2);
  json_decref(j);
  oc__bars_free(&bars);
}

/* ---- the page without inputs ------------------------------------------------------------------
 */

static char dir[256];

static void make_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/opcost-report-unit-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_expect_eq(system(cmd), 0);
}

TestSuite(report_page, .init = make_dir, .fini = remove_dir);

Test(report_page, without_inputs_every_section_says_so) {
  char html[512], path[600];
  snprintf(html, sizeof html, "%s/r.html", dir);
  const char *notes[] = {"stage " NASTY " is not available"};
  struct oc_report_stage stage = {"LUT " NASTY, "failed", NAN, "because " NASTY};
  struct oc_report_inputs in = {
      .title = NASTY, .notes = notes, .n_notes = 1, .stages = &stage, .n_stages = 1};
  struct oc_report_result res;
  cr_assert_eq(oc_report_write(&in, html, &res), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(res.sections, 6);
  cr_assert_eq(res.sections_absent, 6);
  cr_assert_eq(res.charts, 0);
  char *page = slurp(html);
  cr_assert_eq(count(page, "data-absent=\"1\""), 6);
  cr_assert_eq(count(page, "<svg"), 0);
  cr_assert_null(strstr(page, "<script"));
  cr_assert(count(page, NASTY_HTML) >= 4, "title, heading, note and stage escaped");
  cr_assert(strstr(page, "No device profile was given") != NULL);
  cr_assert(strstr(page, "No LUT was given") != NULL);
  free(page);
  snprintf(path, sizeof path, "%s/r.md", dir);
  cr_assert_str_eq(res.markdown, path);
  char *md = slurp(path);
  cr_assert_null(strchr(md, '<'), "Markdown with raw HTML");
  free(md);
  snprintf(path, sizeof path, "%s/r_data/index.json", dir);
  json_error_t err;
  json_t *index = json_load_file(path, 0, &err);
  cr_assert_not_null(index, "%s", err.text);
  cr_assert_str_eq(json_string_value(json_object_get(index, "format")), OC_REPORT_INDEX_FORMAT);
  cr_assert_eq(json_array_size(json_object_get(index, "charts")), 0);
  json_decref(index);
}

Test(report_page, a_missing_input_fails_naming_it) {
  char html[512];
  snprintf(html, sizeof html, "%s/r.html", dir);
  struct oc_report_inputs in = {.profile = "/nonexistent/profile.json"};
  cr_assert_eq(oc_report_write(&in, html, NULL), oc_status_io_error);
  cr_assert(strstr(oc_errmsg(), "/nonexistent/profile.json") != NULL, "%s", oc_errmsg());
  cr_assert_neq(access(html, F_OK), 0, "no page is written when an input is bad");

  struct oc_report_inputs s = {.search = dir};
  cr_assert_eq(oc_report_write(&s, html, NULL), oc_status_io_error);
  cr_assert(strstr(oc_errmsg(), "not a search output directory") != NULL, "%s", oc_errmsg());

  char bad[600];
  snprintf(bad, sizeof bad, "%s/eval.json", dir);
  FILE *f = fopen(bad, "w");
  fputs("{\"metrics\": [1,\n", f);
  fclose(f);
  struct oc_report_inputs e = {.eval = bad};
  cr_assert_eq(oc_report_write(&e, html, NULL), oc_status_parse_error);
  cr_assert(strstr(oc_errmsg(), "eval.json: line") != NULL, "%s", oc_errmsg());
}

Test(report_page, the_output_path_must_be_a_file_in_an_existing_directory) {
  struct oc_report_inputs in;
  memset(&in, 0, sizeof in);
  cr_assert_eq(oc_report_write(&in, "", NULL), oc_status_invalid_argument);
  char html[512];
  snprintf(html, sizeof html, "%s/", dir);
  cr_assert_eq(oc_report_write(&in, html, NULL), oc_status_invalid_argument);
  snprintf(html, sizeof html, "%s/no/such/dir/r.html", dir);
  cr_assert_eq(oc_report_write(&in, html, NULL), oc_status_io_error);
  cr_assert(strstr(oc_errmsg(), "does not exist") != NULL, "%s", oc_errmsg());
}
