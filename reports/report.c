/* report.c - oc_report_write: loads whatever inputs were given (device
 * profile, LUT rows, model, measured networks, an evaluation, a search
 * directory, a network), has each section write itself (report_sections.c),
 * and assembles the page: a head with the inline style, the title block
 * (inputs, notes, pipeline stages), a table of contents, the sections. The
 * Markdown summary and the data folder (one CSV and one JSON per chart, and
 * index.json listing them) are written beside the page.
 *
 * Inputs are loaded up front so that a bad file fails the report with its
 * name before anything is written; what is absent only empties a section. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "opcost/version.h"
#include "reports/report_internal.h"

/* Charts draw at most this many points of one kind (LUT rows, candidates):
 * beyond it the page grows by megabytes and the plot says nothing more. */
#define MAX_POINTS 6000

void oc__fmt_bytes(double bytes, char *buf, size_t size) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double v = bytes;
  while (fabs(v) >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  if (!isfinite(bytes))
    oc__strfmt(buf, size, "-");
  else if (u == 0)
    oc__strfmt(buf, size, "%.0f B", v);
  else
    oc__strfmt(buf, size, "%.3g %s", v, units[u]);
}

void oc__fmt_us(double us, char *buf, size_t size) {
  if (!isfinite(us))
    oc__strfmt(buf, size, "-");
  else if (fabs(us) >= 1e6)
    oc__strfmt(buf, size, "%.3g s", us / 1e6);
  else if (fabs(us) >= 1e3)
    oc__strfmt(buf, size, "%.3g ms", us / 1e3);
  else
    oc__strfmt(buf, size, "%.3g us", us);
}

/* ---- sections and charts ------------------------------------------------------------------ */

void oc__report_section(struct oc__report *r, const char *id, const char *heading,
                        const char *absent_why) {
  r->sections++;
  oc__rbuf_printf(&r->html, "<section id=\"%s\" data-section=\"%s\"%s>\n<h2>", id, id,
                  absent_why ? " data-absent=\"1\"" : "");
  oc__rbuf_html(&r->html, heading);
  oc__rbuf_puts(&r->html, "</h2>\n");
  oc__rbuf_printf(&r->toc, "<li><a href=\"#%s\">", id);
  oc__rbuf_html(&r->toc, heading);
  oc__rbuf_puts(&r->toc,
                absent_why ? "</a> <span class=\"muted\">(no input)</span></li>" : "</a></li>");
  oc__rbuf_puts(&r->md, "\n## ");
  oc__rbuf_md(&r->md, heading);
  oc__rbuf_puts(&r->md, "\n\n");
  if (absent_why != NULL) {
    r->absent++;
    oc__rbuf_puts(&r->html, "<p class=\"absent\">");
    oc__rbuf_html(&r->html, absent_why);
    oc__rbuf_puts(&r->html, "</p>\n");
    oc__rbuf_puts(&r->md, "_Not available:_ ");
    oc__rbuf_md(&r->md, absent_why);
    oc__rbuf_puts(&r->md, "\n");
  }
}

void oc__report_section_end(struct oc__report *r) { oc__rbuf_puts(&r->html, "</section>\n"); }

/* Writes the chart's CSV and JSON, links them under the figure. */
static enum oc_status emit_data(struct oc__report *r, const char *id, const char *title,
                                struct oc__rbuf *csv, json_t *json, const char *caption) {
  char path[4400];
  enum oc_status st = oc_status_ok;
  if (csv->oom || json == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for chart '%s'", id);
    goto done;
  }
  oc__strfmt(path, sizeof path, "%s/%s.csv", r->data_dir, id);
  st = oc__report_write_file(path, oc__rbuf_str(csv), csv->len);
  if (st != oc_status_ok) goto done;
  char *text = json_dumps(json, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
  if (text == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for chart '%s'", id);
    goto done;
  }
  oc__strfmt(path, sizeof path, "%s/%s.json", r->data_dir, id);
  st = oc__report_write_file(path, text, strlen(text));
  free(text);
  if (st != oc_status_ok) goto done;
  oc__rbuf_puts(&r->html, "<figcaption>");
  if (caption != NULL) {
    oc__rbuf_html(&r->html, caption);
    oc__rbuf_puts(&r->html, " ");
  }
  oc__rbuf_puts(&r->html, "<span class=\"data\">data: <a href=\"");
  oc__rbuf_html(&r->html, r->data_rel);
  oc__rbuf_printf(&r->html, "/%s.csv\">%s.csv</a>, <a href=\"", id, id);
  oc__rbuf_html(&r->html, r->data_rel);
  oc__rbuf_printf(&r->html, "/%s.json\">%s.json</a></span></figcaption></figure>\n", id, id);
  oc__rbuf_printf(&r->md, "- chart _");
  oc__rbuf_md(&r->md, title);
  oc__rbuf_printf(&r->md, "_: [%s.csv](", id);
  oc__rbuf_md(&r->md, r->data_rel);
  oc__rbuf_printf(&r->md, "/%s.csv), [%s.json](", id, id);
  oc__rbuf_md(&r->md, r->data_rel);
  oc__rbuf_printf(&r->md, "/%s.json)\n", id);
  char csv_name[300], json_name[300];
  oc__strfmt(csv_name, sizeof csv_name, "%s.csv", id);
  oc__strfmt(json_name, sizeof json_name, "%s.json", id);
  json_array_append_new(r->index, json_pack("{s:s, s:s, s:s, s:s}", "id", id, "title", title, "csv",
                                            csv_name, "json", json_name));
  r->charts++;
done:
  oc__rbuf_free(csv);
  json_decref(json);
  return st;
}

static void figure_open(struct oc__report *r, const char *id) {
  oc__rbuf_puts(&r->html, "<figure data-chart=\"");
  oc__rbuf_html(&r->html, id);
  oc__rbuf_puts(&r->html, "\">");
}

enum oc_status oc__report_emit_plot(struct oc__report *r, const struct oc__plot *plot,
                                    const char *caption) {
  struct oc__rbuf csv = {0};
  figure_open(r, plot->id);
  oc__plot_svg(plot, &r->html);
  oc__plot_csv(plot, &csv);
  return emit_data(r, plot->id, plot->title, &csv, oc__plot_json(plot), caption);
}

enum oc_status oc__report_emit_heatmap(struct oc__report *r, const struct oc__heatmap *h,
                                       const char *caption) {
  struct oc__rbuf csv = {0};
  figure_open(r, h->id);
  oc__heatmap_svg(h, &r->html);
  oc__heatmap_csv(h, &csv);
  return emit_data(r, h->id, h->title, &csv, oc__heatmap_json(h), caption);
}

enum oc_status oc__report_emit_bars(struct oc__report *r, const struct oc__bars *b,
                                    const char *caption) {
  struct oc__rbuf csv = {0};
  figure_open(r, b->id);
  oc__bars_svg(b, &r->html);
  oc__bars_csv(b, &csv);
  return emit_data(r, b->id, b->title, &csv, oc__bars_json(b), caption);
}

/* ---- loading the inputs ------------------------------------------------------------------- */

static enum oc_status load_profile(struct oc__report *r) {
  if (r->in->profile == NULL) return oc_status_ok;
  r->profile = calloc(1, sizeof *r->profile);
  if (r->profile == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  return oc_probe_profile_load(r->in->profile, r->profile);
}

struct group_pick {
  int64_t best_rows;
  struct oc_lut_group best;
};

static int pick_group(void *ctx, const struct oc_lut_group *g) {
  struct group_pick *p = ctx;
  if (g->rows > p->best_rows) {
    p->best_rows = g->rows;
    p->best = *g;
  }
  return 0;
}

struct row_load {
  struct oc__report *r;
  size_t cap;
  int64_t seen;
  int64_t stride;
  enum oc_status st;
};

static int add_row(void *ctx, const struct oc_lut_row *row) {
  struct row_load *l = ctx;
  struct oc__report *r = l->r;
  if (row->granularity != r->lut_granularity) return 0;
  int64_t k = l->seen++;
  if (k % l->stride != 0) return 0;
  if (r->n_rows == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 256;
    struct oc__lut_point *p = realloc(r->rows, cap * sizeof *p);
    if (p == NULL) {
      l->st = oc__fail(oc_status_out_of_memory, "out of memory for the LUT rows");
      return 1;
    }
    r->rows = p;
    l->cap = cap;
  }
  struct oc__lut_point *p = &r->rows[r->n_rows++];
  memset(p, 0, sizeof *p);
  oc__strcpy(p->key, sizeof p->key, row->key);
  oc__strcpy(p->kind, sizeof p->kind, row->kind);
  p->flops = row->flops;
  p->macs = row->macs;
  p->bytes = row->bytes;
  p->median_us = row->median_us;
  enum oc_op_kind kind;
  p->is_op = oc_op_kind_from_name(row->kind, &kind) == oc_status_ok &&
             oc_op_parse(row->key, &p->op) == oc_status_ok;
  return 0;
}

static enum oc_status load_lut(struct oc__report *r) {
  const struct oc_report_inputs *in = r->in;
  if (in->lut == NULL) return oc_status_ok;
  enum oc_status st = oc_lut_open(in->lut, oc_lut_read_only, &r->lut);
  if (st != oc_status_ok) return st;
  struct group_pick pick;
  memset(&pick, 0, sizeof pick);
  st = oc_lut_foreach_group(r->lut, pick_group, &pick);
  if (st != oc_status_ok) return st;
  if (pick.best_rows == 0) return oc__fail(oc_status_not_found, "%s: the LUT has no rows", in->lut);
  if (in->lut_device != NULL || in->lut_threads > 0) {
    st = oc_lut_resolve(r->lut, in->lut_device, in->lut_threads, r->lut_fp, &r->lut_threads);
    if (st != oc_status_ok) return oc__fail_prefix(st, "%s: ", in->lut);
    r->lut_granularity = oc_lut_kernel;
  } else {
    oc__strcpy(r->lut_fp, sizeof r->lut_fp, pick.best.fingerprint);
    r->lut_threads = pick.best.threads;
    r->lut_granularity = pick.best.granularity;
  }
  struct oc_lut_device dev;
  memset(&dev, 0, sizeof dev);
  if (oc_lut_get_device(r->lut, r->lut_fp, &dev) == oc_status_ok) {
    oc__strcpy(r->lut_target, sizeof r->lut_target, dev.target);
    oc__strcpy(r->lut_device_name, sizeof r->lut_device_name, dev.name);
  }
  struct oc_lut_filter filter = {r->lut_fp, r->lut_threads, NULL};
  int64_t count = 0;
  st = oc_lut_count(r->lut, &filter, &count);
  if (st != oc_status_ok) return st;
  r->lut_total_rows = count;
  struct row_load l = {r, 0, 0, count > MAX_POINTS ? (count + MAX_POINTS - 1) / MAX_POINTS : 1,
                       oc_status_ok};
  st = oc_lut_foreach(r->lut, &filter, add_row, &l);
  if (st == oc_status_interrupted) st = l.st;
  if (st != oc_status_ok) return st;
  return oc_lut_cache_load(r->lut, r->lut_fp, r->lut_threads, &r->cache);
}

static enum oc_status load_json(const char *path, json_t **out) {
  json_error_t err;
  *out = json_load_file(path, 0, &err);
  if (*out != NULL) return oc_status_ok;
  FILE *f = fopen(path, "r");
  if (f == NULL) return oc__fail(oc_status_io_error, "%s: %s", path, strerror(errno));
  fclose(f);
  return oc__fail(oc_status_parse_error, "%s: line %d, column %d: %s", path, err.line, err.column,
                  err.text);
}

static double num_field(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static enum oc_status load_journal(struct oc__report *r, const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return oc_status_ok; /* a search without a journal: front only */
  char *line = NULL;
  size_t lcap = 0, cap = 0;
  long lineno = 0;
  enum oc_status st = oc_status_ok;
  ssize_t len;
  while ((len = getline(&line, &lcap, f)) >= 0) {
    lineno++;
    if (len <= 1) continue;
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    if (o == NULL || !json_is_object(o)) {
      json_decref(o);
      /* The last line of a journal killed mid-write may be cut: skip it. */
      continue;
    }
    const json_t *metrics = json_object_get(o, "metrics");
    if (json_object_get(o, "event") != NULL || !json_is_object(metrics)) {
      json_decref(o);
      continue;
    }
    if (r->n_cands == cap) {
      size_t c = cap ? 2 * cap : 1024;
      struct oc__cand_point *p = realloc(r->cands, c * sizeof *p);
      if (p == NULL) {
        json_decref(o);
        st = oc__fail(oc_status_out_of_memory, "%s: out of memory", path);
        break;
      }
      r->cands = p;
      cap = c;
    }
    struct oc__cand_point *c = &r->cands[r->n_cands++];
    c->id = (int64_t)num_field(o, "id");
    for (int m = 0; m < oc_search_metric__count; m++)
      c->value[m] = num_field(metrics, oc_search_metric_name((enum oc_search_metric)m));
    c->predicted_us = num_field(o, "predicted_latency_us");
    c->feasible = json_is_true(json_object_get(o, "feasible"));
    json_decref(o);
  }
  free(line);
  fclose(f);
  return st;
}

static enum oc_status load_search(struct oc__report *r) {
  const char *dir = r->in->search;
  if (dir == NULL) return oc_status_ok;
  char path[4200];
  oc__strfmt(path, sizeof path, "%s/summary.json", dir);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return oc__fail(oc_status_io_error,
                    "%s: no summary.json (%s): not a search output directory (opcost search -o "
                    "DIR)",
                    dir, strerror(errno));
  fclose(f);
  enum oc_status st = load_json(path, &r->search_summary);
  if (st != oc_status_ok) return st;
  const char *format = json_string_value(json_object_get(r->search_summary, "format"));
  if (format == NULL || strcmp(format, OC_SEARCH_SUMMARY_FORMAT) != 0)
    return oc__fail(oc_status_incompatible, "%s: format '%s', expected '%s'", path,
                    format ? format : "(none)", OC_SEARCH_SUMMARY_FORMAT);
  oc__strfmt(path, sizeof path, "%s/front.json", dir);
  f = fopen(path, "r");
  if (f != NULL) {
    fclose(f);
    st = load_json(path, &r->search_front);
    if (st != oc_status_ok) return st;
  }
  oc__strfmt(path, sizeof path, "%s/journal.jsonl", dir);
  return load_journal(r, path);
}

/* The network of the per-layer section: given, else the middle member of
 * the search front, else the first measured network. */
static enum oc_status load_network(struct oc__report *r) {
  const struct oc_report_inputs *in = r->in;
  if (in->network != NULL) {
    oc__strfmt(r->network_origin, sizeof r->network_origin, "%s", in->network);
    return oc_net_load_file(in->network, &r->network);
  }
  const json_t *members = json_object_get(r->search_front, "members");
  size_t n = json_array_size(members);
  if (n > 0) {
    const json_t *m = json_array_get(members, n / 2);
    const char *rel = json_string_value(json_object_get(m, "net"));
    if (rel != NULL) {
      char path[4200];
      oc__strfmt(path, sizeof path, "%s/%s", in->search, rel);
      enum oc_status st = oc_net_load_file(path, &r->network);
      if (st == oc_status_ok) {
        oc__strfmt(r->network_origin, sizeof r->network_origin, "a member of the search front (%s)",
                   path);
        return st;
      }
      return st;
    }
  }
  if (r->nets != NULL && r->nets->n > 0) {
    r->network = r->nets->items[0].net;
    r->network_borrowed = true;
    oc__strfmt(r->network_origin, sizeof r->network_origin, "the first measured network of %s",
               in->nets);
  }
  return oc_status_ok;
}

static enum oc_status load_inputs(struct oc__report *r) {
  const struct oc_report_inputs *in = r->in;
  enum oc_status st = load_profile(r);
  if (st == oc_status_ok) st = load_lut(r);
  if (st == oc_status_ok && in->model != NULL) st = oc_model_load(in->model, &r->model);
  if (st == oc_status_ok && in->nets != NULL)
    st = oc_model_netset_load(in->nets, in->net_files, in->n_net_files, &r->nets);
  if (st == oc_status_ok && in->eval != NULL) st = load_json(in->eval, &r->eval);
  if (st == oc_status_ok && r->eval != NULL && !json_is_object(r->eval))
    st = oc__fail(oc_status_parse_error,
                  "%s: not a JSON object (expected the output of "
                  "`opcost eval --json`)",
                  in->eval);
  if (st == oc_status_ok) st = load_search(r);
  if (st == oc_status_ok) st = load_network(r);
  return st;
}

/* ---- the page ----------------------------------------------------------------------------------
 */

static const char *const style =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:0 auto;max-width:1120px;padding:0 20px 60px;color:#1d1d1f;line-height:1.45}"
    "h1{margin:24px 0 4px}h2{margin-top:40px;border-bottom:1px solid #ddd;padding-bottom:4px}"
    "h3{margin:22px 0 6px}.muted{color:#777}.meta{color:#555;font-size:14px}"
    "table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}"
    "th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f5f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:"
    "nowrap}"
    "figure{margin:14px 0 22px}svg.chart{max-width:100%;height:auto;display:block;"
    "border:1px solid #eee}figcaption{font-size:13px;color:#444;margin-top:4px}"
    ".data{color:#777}.absent{background:#fff8e5;border:1px solid #f0d68a;padding:8px 12px;"
    "border-radius:4px}.note{background:#eef5ff;border:1px solid #b9d3f5;padding:6px 12px;"
    "border-radius:4px;margin:6px 0}.card{display:grid;grid-template-columns:max-content 1fr;"
    "gap:2px 16px;font-size:14px;margin:8px 0 14px}.card dt{color:#555}.card dd{margin:0}"
    "code{font-size:12px;background:#f5f5f7;padding:1px 3px;border-radius:3px}"
    "nav ol{columns:2;font-size:14px}.bad{color:#b00020}.good{color:#106b21}";

static void write_inputs(struct oc__report *r, struct oc__rbuf *o) {
  const struct oc_report_inputs *in = r->in;
  const struct {
    const char *label, *value;
  } rows[] = {{"device profile", in->profile}, {"LUT", in->lut},         {"model", in->model},
              {"measured networks", in->nets}, {"evaluation", in->eval}, {"search", in->search},
              {"network", in->network}};
  oc__rbuf_puts(o, "<table class=\"inputs\"><tr><th>input</th><th>file</th></tr>");
  oc__rbuf_puts(&r->md, "| input | file |\n|---|---|\n");
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    oc__rbuf_printf(o, "<tr><td>%s</td><td class=\"w\">", rows[i].label);
    if (rows[i].value) {
      oc__rbuf_puts(o, "<code>");
      oc__rbuf_html(o, rows[i].value);
      oc__rbuf_puts(o, "</code>");
    } else {
      oc__rbuf_puts(o, "<span class=\"muted\">not given</span>");
    }
    oc__rbuf_puts(o, "</td></tr>");
    oc__rbuf_printf(&r->md, "| %s | ", rows[i].label);
    oc__rbuf_md(&r->md, rows[i].value ? rows[i].value : "not given");
    oc__rbuf_puts(&r->md, " |\n");
  }
  oc__rbuf_puts(o, "</table>\n");
}

static void write_stages(struct oc__report *r, struct oc__rbuf *o) {
  const struct oc_report_inputs *in = r->in;
  if (in->n_stages == 0) return;
  oc__rbuf_puts(o, "<h3>Pipeline</h3><table class=\"stages\"><tr><th>#</th><th>stage</th>"
                   "<th>status</th><th>time</th><th>detail</th></tr>");
  oc__rbuf_puts(&r->md, "\n### Pipeline\n\n| # | stage | status | time | detail |\n"
                        "|---|---|---|---|---|\n");
  for (size_t i = 0; i < in->n_stages; i++) {
    const struct oc_report_stage *s = &in->stages[i];
    const char *status = s->status ? s->status : "";
    bool good = strcmp(status, "done") == 0;
    char t[32] = "-";
    if (isfinite(s->seconds)) oc__strfmt(t, sizeof t, "%.1f s", s->seconds);
    oc__rbuf_printf(o, "<tr><td class=\"n\">%zu</td><td>", i + 1);
    oc__rbuf_html(o, s->name ? s->name : "");
    oc__rbuf_printf(o, "</td><td class=\"%s\">", good ? "good" : "bad");
    oc__rbuf_html(o, status);
    oc__rbuf_printf(o, "</td><td class=\"n\">%s</td><td class=\"w\">", t);
    oc__rbuf_html(o, s->detail ? s->detail : "");
    oc__rbuf_puts(o, "</td></tr>");
    oc__rbuf_printf(&r->md, "| %zu | ", i + 1);
    oc__rbuf_md(&r->md, s->name ? s->name : "");
    oc__rbuf_puts(&r->md, " | ");
    oc__rbuf_md(&r->md, status);
    oc__rbuf_printf(&r->md, " | %s | ", t);
    oc__rbuf_md(&r->md, s->detail ? s->detail : "");
    oc__rbuf_puts(&r->md, " |\n");
  }
  oc__rbuf_puts(o, "</table>\n");
}

static enum oc_status split_path(struct oc__report *r, const char *html_path) {
  if (html_path == NULL || html_path[0] == '\0')
    return oc__fail(oc_status_invalid_argument, "the report needs an output path (-o FILE.html)");
  const char *slash = strrchr(html_path, '/');
  const char *base = slash ? slash + 1 : html_path;
  if (base[0] == '\0')
    return oc__fail(oc_status_invalid_argument, "%s: the output must be a file, not a directory",
                    html_path);
  if (slash == NULL)
    oc__strcpy(r->dir, sizeof r->dir, ".");
  else if (slash == html_path)
    oc__strcpy(r->dir, sizeof r->dir, "/");
  else
    oc__strfmt(r->dir, sizeof r->dir, "%.*s", (int)(slash - html_path), html_path);
  size_t n = strlen(base);
  if (n > 5 && strcmp(base + n - 5, ".html") == 0)
    n -= 5;
  else if (n > 4 && strcmp(base + n - 4, ".htm") == 0)
    n -= 4;
  if (!oc__strfmt(r->stem, sizeof r->stem, "%.*s", (int)n, base))
    return oc__fail(oc_status_overflow, "%s: file name too long", html_path);
  oc__strfmt(r->data_rel, sizeof r->data_rel, "%s_data", r->stem);
  if (!oc__strfmt(r->data_dir, sizeof r->data_dir, "%s/%s", r->dir, r->data_rel))
    return oc__fail(oc_status_overflow, "%s: path too long", html_path);
  struct stat sb;
  if (stat(r->dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return oc__fail(oc_status_io_error, "%s: the directory of the report does not exist", r->dir);
  if (mkdir(r->data_dir, 0777) != 0 && errno != EEXIST)
    return oc__fail(oc_status_io_error, "%s: %s", r->data_dir, strerror(errno));
  return oc_status_ok;
}

static void free_report(struct oc__report *r) {
  oc__rbuf_free(&r->html);
  oc__rbuf_free(&r->md);
  oc__rbuf_free(&r->toc);
  json_decref(r->index);
  free(r->profile);
  oc_lut_cache_free(r->cache);
  oc_lut_close(r->lut);
  free(r->rows);
  oc_model_free(r->model);
  if (!r->network_borrowed) oc_net_free(r->network);
  oc_model_netset_free(r->nets);
  json_decref(r->eval);
  json_decref(r->search_summary);
  json_decref(r->search_front);
  free(r->cands);
}

enum oc_status oc_report_write(const struct oc_report_inputs *inputs, const char *html_path,
                               struct oc_report_result *result) {
  static const struct oc_report_inputs none;
  struct oc__report r;
  memset(&r, 0, sizeof r);
  r.in = inputs ? inputs : &none;
  struct oc__rbuf page = {0};
  char *index_text = NULL;
  if (result != NULL) memset(result, 0, sizeof *result);
  enum oc_status st = split_path(&r, html_path);
  if (st != oc_status_ok) goto done;
  r.index = json_array();
  if (r.index == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  st = load_inputs(&r);
  if (st != oc_status_ok) goto done;

  const char *title = r.in->title ? r.in->title : "opcost report";
  char when[OC_LUT_TIME_MAX];
  oc_lut_now(when);
  oc__rbuf_puts(&r.md, "# ");
  oc__rbuf_md(&r.md, title);
  oc__rbuf_printf(&r.md, "\n\nGenerated %s by opcost %s. The page: [%s.html](", when,
                  OC_VERSION_STRING, r.stem);
  oc__rbuf_md(&r.md, r.stem);
  oc__rbuf_puts(&r.md, ".html).\n\n");
  struct oc__rbuf head = {0};
  write_inputs(&r, &head);
  for (size_t i = 0; i < r.in->n_notes; i++) {
    oc__rbuf_puts(&head, "<p class=\"note\">");
    oc__rbuf_html(&head, r.in->notes[i]);
    oc__rbuf_puts(&head, "</p>\n");
    oc__rbuf_puts(&r.md, "\n> ");
    oc__rbuf_md(&r.md, r.in->notes[i]);
    oc__rbuf_puts(&r.md, "\n");
  }
  write_stages(&r, &head);

  enum oc_status (*const sections[])(struct oc__report *) = {oc__report_device, oc__report_ops,
                                                             oc__report_lut,    oc__report_accuracy,
                                                             oc__report_layers, oc__report_search};
  for (size_t i = 0; i < sizeof sections / sizeof sections[0] && st == oc_status_ok; i++)
    st = sections[i](&r);
  if (st != oc_status_ok) {
    oc__rbuf_free(&head);
    goto done;
  }

  oc__rbuf_puts(&page, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                       "<title>");
  oc__rbuf_html(&page, title);
  oc__rbuf_printf(&page, "</title><style>%s</style></head>\n<body>\n<header><h1>", style);
  oc__rbuf_html(&page, title);
  oc__rbuf_printf(&page,
                  "</h1><p class=\"meta\">Generated %s by opcost %s. Charts are inline SVG; "
                  "every plotted series is in <a href=\"",
                  when, OC_VERSION_STRING);
  oc__rbuf_html(&page, r.data_rel);
  oc__rbuf_puts(&page, "/index.json\">");
  oc__rbuf_html(&page, r.data_rel);
  oc__rbuf_puts(&page, "/</a> as CSV and JSON.</p>\n");
  oc__rbuf_puts(&page, oc__rbuf_str(&head));
  oc__rbuf_free(&head);
  oc__rbuf_puts(&page, "<nav><h3>Contents</h3><ol>");
  oc__rbuf_puts(&page, oc__rbuf_str(&r.toc));
  oc__rbuf_puts(&page, "</ol></nav></header>\n<main>\n");
  oc__rbuf_puts(&page, oc__rbuf_str(&r.html));
  oc__rbuf_puts(&page, "</main>\n<footer class=\"meta\"><p>opcost: what neural-network "
                       "operators cost on real hardware. See docs/reports.md for what each "
                       "section shows.</p></footer>\n</body></html>\n");
  if (page.oom || r.md.oom || r.html.oom || r.toc.oom) {
    st = oc__fail(oc_status_out_of_memory, "out of memory writing the report");
    goto done;
  }
  st = oc__report_write_file(html_path, oc__rbuf_str(&page), page.len);
  if (st != oc_status_ok) goto done;
  char path[4400];
  oc__strfmt(path, sizeof path, "%s/%s.md", r.dir, r.stem);
  st = oc__report_write_file(path, oc__rbuf_str(&r.md), r.md.len);
  if (st != oc_status_ok) goto done;
  if (result != NULL) oc__strcpy(result->markdown, sizeof result->markdown, path);
  json_t *index = json_pack("{s:s, s:s, s:s, s:s, s:O}", "format", OC_REPORT_INDEX_FORMAT, "title",
                            title, "generated_at", when, "page", html_path, "charts", r.index);
  index_text = index ? json_dumps(index, JSON_INDENT(2)) : NULL;
  json_decref(index);
  if (index_text == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  oc__strfmt(path, sizeof path, "%s/index.json", r.data_dir);
  st = oc__report_write_file(path, index_text, strlen(index_text));
  if (st != oc_status_ok) goto done;
  if (result != NULL) {
    oc__strcpy(result->html, sizeof result->html, html_path);
    oc__strcpy(result->data_dir, sizeof result->data_dir, r.data_dir);
    result->sections = r.sections;
    result->sections_absent = r.absent;
    result->charts = r.charts;
  }
done:
  free(index_text);
  oc__rbuf_free(&page);
  free_report(&r);
  return st;
}
