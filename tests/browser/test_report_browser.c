/* test_report_browser.c - the report opened in a real browser: headless
 * Chromium (Debian's `chromium` package; OPCOST_CHROMIUM names another
 * binary). Skips with the reason when no Chromium is installed.
 *
 * A report is written from inputs made on this machine (the fixture of the
 * integration suite, with a network named <script>alert(1)</script>&") into
 * the build tree (tests/browser/report/), then:
 *   1. the page loads with no console message at all (it has no script);
 *   2. a checking page loads it in an iframe and, after layout, asks every
 *      svg[data-plot] for its size and every mark for its bounding box: each
 *      chart must have rendered (a real size and marks with a non-empty box);
 *      the page must hold no <script>, fetch no resource, and show the nasty
 *      title as text;
 *   3. a screenshot of the whole page is saved next to it (report.png) for
 *      a person to look at. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "opcost/report.h"
#include "tests/integration/test_cli_report_fixture.h"

static char tmp[256];

static void setup(void) {
  snprintf(tmp, sizeof tmp, "/tmp/opcost-browser-XXXXXX");
  cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  cr_expect_eq(system(cmd), 0);
}

TestSuite(browser, .init = setup, .fini = teardown, .timeout = 300);

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

static size_t count(const char *hay, const char *needle) {
  size_t n = 0, len = strlen(needle);
  for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + len, needle)) n++;
  return n;
}

/* The Chromium binary: $OPCOST_CHROMIUM, else the first of the usual names
 * on PATH; NULL when none. */
static const char *find_chromium(void) {
  static char found[1024];
  const char *env = getenv("OPCOST_CHROMIUM");
  if (env != NULL && env[0] != '\0') return access(env, X_OK) == 0 ? env : NULL;
  const char *names[] = {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"};
  const char *path = getenv("PATH");
  if (path == NULL) path = "/usr/bin:/bin";
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *p = path;
    while (*p) {
      const char *colon = strchr(p, ':');
      size_t len = colon ? (size_t)(colon - p) : strlen(p);
      snprintf(found, sizeof found, "%.*s/%s", (int)len, p, names[i]);
      if (len > 0 && access(found, X_OK) == 0) return found;
      p += len + (colon != NULL);
    }
  }
  return NULL;
}

/* Runs chromium headless on url with extra flags; stdout and stderr to
 * files. Returns the exit status. */
static int chromium(const char *bin, const char *flags, const char *url, const char *out_path,
                    const char *err_path) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "'%s' --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions "
           "--disable-background-networking --user-data-dir='%s/profile' %s '%s' > '%s' 2> '%s'",
           bin, tmp, flags, url, out_path, err_path);
  int status = system(cmd);
  cr_assert(WIFEXITED(status), "chromium did not exit: %s", cmd);
  return WEXITSTATUS(status);
}

/* The checking page: loads the report in an iframe and writes what it
 * finds as JSON into <pre id="result">. */
static const char *const check_page =
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>"
    "<pre id=\"result\">pending</pre>"
    "<iframe id=\"f\" src=\"report.html\" style=\"width:1280px;height:900px\"></iframe>"
    "<script>\n"
    "var want = '\\x3cscript>alert(1)\\x3c/script>&\"';\n"
    "document.getElementById('f').addEventListener('load', function () {\n"
    "  var out = {plots: 0, rendered: 0, bad: [], scripts: -1, resources: -1, title_ok: false,\n"
    "             height: 0};\n"
    "  try {\n"
    "    var doc = this.contentDocument;\n"
    "    out.scripts = doc.getElementsByTagName('script').length;\n"
    "    out.title_ok = doc.title === want && doc.querySelector('h1').textContent === want;\n"
    "    out.resources = this.contentWindow.performance.getEntriesByType('resource').length;\n"
    "    out.height = doc.documentElement.scrollHeight;\n"
    "    var svgs = doc.querySelectorAll('svg[data-plot]');\n"
    "    out.plots = svgs.length;\n"
    "    for (var i = 0; i < svgs.length; i++) {\n"
    "      var s = svgs[i], r = s.getBoundingClientRect(), marks = s.querySelectorAll('.mark');\n"
    "      var ok = 0;\n"
    "      for (var k = 0; k < marks.length; k++) {\n"
    "        var b = marks[k].getBBox();\n"
    "        if (b.width > 0 || b.height > 0) ok++;\n"
    "      }\n"
    "      if (r.width > 100 && r.height > 100 && ok > 0) out.rendered++;\n"
    "      else out.bad.push(s.getAttribute('data-plot') + ': ' + Math.round(r.width) + 'x' +\n"
    "                        Math.round(r.height) + ', ' + ok + ' of ' + marks.length + ' "
    "marks');\n"
    "    }\n"
    "  } catch (e) { out.error = String(e); }\n"
    "  document.getElementById('result').textContent = JSON.stringify(out);\n"
    "});\n"
    "</script></body></html>\n";

Test(browser, the_report_renders_in_headless_chromium) {
  const char *bin = find_chromium();
  if (bin == NULL)
    cr_skip_test("no Chromium found (install Debian's chromium package, or set "
                 "OPCOST_CHROMIUM): the report is not opened in a browser");

  /* Inputs in the temporary directory, the page in the build tree. */
  struct report_fixture f;
  report_fixture_make(&f, tmp);
  char art[1024], path[1200], url[1300], out_path[600], err_path[600];
  snprintf(art, sizeof art, "%s/tests/browser", OPCOST_BINARY_DIR);
  char cmd[4000];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && rm -rf '%s/report' && mkdir '%s/report'", art, art,
           art);
  cr_assert_eq(system(cmd), 0);
  struct oc_report_inputs in = {.title = NASTY,
                                .profile = f.profile,
                                .lut = f.lut,
                                .model = f.model,
                                .nets = f.measured,
                                .search = f.search};
  snprintf(path, sizeof path, "%s/report/report.html", art);
  struct oc_report_result res;
  cr_assert_eq(oc_report_write(&in, path, &res), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(res.sections_absent, 0);
  cr_assert_geq(res.charts, 9);

  /* 1. The page alone: the DOM has every chart, the console stays silent. */
  snprintf(url, sizeof url, "file://%s", path);
  snprintf(out_path, sizeof out_path, "%s/dom.html", tmp);
  snprintf(err_path, sizeof err_path, "%s/console.log", tmp);
  int rc = chromium(bin, "--enable-logging=stderr --v=0 --dump-dom", url, out_path, err_path);
  char *dom = slurp(out_path);
  char *log = slurp(err_path);
  cr_assert_eq(rc, 0, "chromium failed: %s", log);
  cr_assert_eq((int)count(dom, "data-plot=\""), res.charts, "charts in the DOM");
  cr_assert_eq(count(log, ":CONSOLE"), 0, "console messages: %s", log);
  free(dom);
  free(log);

  /* 2. Rendered: each chart has a size and marks with a non-empty box. */
  snprintf(path, sizeof path, "%s/report/check.html", art);
  FILE *fc = fopen(path, "w");
  cr_assert_not_null(fc);
  fputs(check_page, fc);
  fclose(fc);
  snprintf(url, sizeof url, "file://%s", path);
  rc = chromium(bin, "--allow-file-access-from-files --virtual-time-budget=15000 --dump-dom", url,
                out_path, err_path);
  cr_assert_eq(rc, 0);
  dom = slurp(out_path);
  const char *start = strstr(dom, "<pre id=\"result\">");
  cr_assert_not_null(start, "%s", dom);
  start += strlen("<pre id=\"result\">");
  const char *end = strstr(start, "</pre>");
  cr_assert_not_null(end);
  /* JSON.stringify output as HTML text: only &quot; &amp; &lt; &gt; can occur. */
  char *text = calloc((size_t)(end - start) + 1, 1);
  size_t n = 0;
  for (const char *p = start; p < end;) {
    if (strncmp(p, "&quot;", 6) == 0)
      text[n++] = '"', p += 6;
    else if (strncmp(p, "&amp;", 5) == 0)
      text[n++] = '&', p += 5;
    else if (strncmp(p, "&lt;", 4) == 0)
      text[n++] = '<', p += 4;
    else if (strncmp(p, "&gt;", 4) == 0)
      text[n++] = '>', p += 4;
    else
      text[n++] = *p++;
  }
  json_error_t e;
  json_t *r = json_loads(text, 0, &e);
  cr_assert_not_null(r, "the checking page said: %s", text);
  cr_assert_null(json_object_get(r, "error"), "%s", text);
  cr_assert_eq(json_integer_value(json_object_get(r, "plots")), res.charts, "%s", text);
  cr_assert_eq(json_integer_value(json_object_get(r, "rendered")), res.charts,
               "charts that did not render: %s", text);
  cr_assert_eq(json_integer_value(json_object_get(r, "scripts")), 0, "%s", text);
  cr_assert_eq(json_integer_value(json_object_get(r, "resources")), 0,
               "the page fetched something: %s", text);
  cr_assert(json_is_true(json_object_get(r, "title_ok")), "title not shown as text: %s", text);
  long height = (long)json_integer_value(json_object_get(r, "height"));
  cr_assert_gt(height, 2000);
  json_decref(r);
  free(text);
  free(dom);

  /* 3. A screenshot of the whole page, kept in the build tree. */
  char png[1200], flags[1400];
  snprintf(png, sizeof png, "%s/report.png", art);
  unlink(png);
  snprintf(flags, sizeof flags, "--hide-scrollbars --window-size=1280,%ld --screenshot='%s'",
           height > 30000 ? 30000 : height, png);
  snprintf(path, sizeof path, "%s/report/report.html", art);
  snprintf(url, sizeof url, "file://%s", path);
  rc = chromium(bin, flags, url, out_path, err_path);
  cr_assert_eq(rc, 0);
  FILE *fp = fopen(png, "rb");
  cr_assert_not_null(fp, "no screenshot at %s", png);
  unsigned char head[24];
  cr_assert_eq(fread(head, 1, sizeof head, fp), sizeof head);
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fclose(fp);
  cr_assert(memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG");
  unsigned width =
      (unsigned)head[16] << 24 | (unsigned)head[17] << 16 | (unsigned)head[18] << 8 | head[19];
  cr_assert_eq(width, 1280u);
  cr_assert_gt(size, 100000, "a screenshot of %ld bytes is too small to show the charts", size);
}
