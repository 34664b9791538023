/* report_internal.h - what the files of reports/ share: a growing text
 * buffer with HTML escaping, and three small chart kinds (x/y plots with
 * linear or log axes, heat maps, horizontal bar charts), each written as
 * inline SVG and as CSV/JSON of the very numbers it draws.
 *
 * The charts are opcost's own: a report must open offline, with no script
 * and no library fetched from the network, and the few chart kinds it needs
 * are small enough to write. Every SVG carries data-plot="ID" and its marks
 * class="mark", which the browser test counts. */
#ifndef OPCOST_REPORTS_INTERNAL_H
#define OPCOST_REPORTS_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "opcost/lut.h"
#include "opcost/model.h"
#include "opcost/net.h"
#include "opcost/probe.h"
#include "opcost/report.h"
#include "opcost/search.h"
#include "opcost/status.h"

/* ---- text buffer --------------------------------------------------------------- */

/* A growing NUL-terminated string. An allocation failure sets oom and makes
 * every later append a no-op; the writer checks oom once at the end. */
struct oc__rbuf {
  char *p;
  size_t len, cap;
  bool oom;
};

void oc__rbuf_printf(struct oc__rbuf *b, const char *fmt, ...) OC__PRINTF(2, 3);
void oc__rbuf_puts(struct oc__rbuf *b, const char *text);
/* Appends text with & < > " ' escaped (HTML text and attribute values). */
void oc__rbuf_html(struct oc__rbuf *b, const char *text);
/* Appends text as one CSV field: quoted when it holds , " CR or LF. */
void oc__rbuf_csv(struct oc__rbuf *b, const char *text);
/* Appends text for a Markdown table cell or line: HTML-escaped, and | and
 * line breaks that would end the cell escaped too. */
void oc__rbuf_md(struct oc__rbuf *b, const char *text);
/* A number for CSV: %.10g, or nothing when not finite. */
void oc__rbuf_num(struct oc__rbuf *b, double value);
/* The contents ("" when empty); valid until the next append. */
const char *oc__rbuf_str(const struct oc__rbuf *b);
void oc__rbuf_free(struct oc__rbuf *b); /* NULL-safe; leaves b empty */

/* Writes len bytes to path (via a temporary name and a rename); io_error
 * naming the file. */
enum oc_status oc__report_write_file(const char *path, const char *text, size_t len);

/* ---- numbers on axes ------------------------------------------------------------- */

#define OC__MAX_TICKS 24

/* "Nice" ticks (1, 2, 5 x 10^k) covering [lo, hi], at most max_ticks; writes
 * them into ticks and returns how many (>= 2 for lo < hi). */
size_t oc__ticks_linear(double lo, double hi, size_t max_ticks, double *ticks);
/* Ticks of a log axis over [lo, hi] (lo > 0): every decade, thinned to at
 * most max_ticks; with less than two decades also 2 and 5 times each. */
size_t oc__ticks_log(double lo, double hi, size_t max_ticks, double *ticks);
/* A short label: 0.05, 1.5, 250, 12k, 3.2M, 1e-05. */
void oc__fmt_tick(double value, char *buf, size_t size);

/* ---- x/y plots --------------------------------------------------------------------- */

enum oc__mark {
  oc__mark_points,   /* circles (label: tooltip) */
  oc__mark_line,     /* a polyline in the order given */
  oc__mark_dashed,   /* a dashed polyline */
  oc__mark_band,     /* the area between y (lower) and y2 (upper) along x */
  oc__mark_errorbar, /* points, each with a vertical bar over its interval */
};

#define OC__PLOT_MAX_SERIES 16
#define OC__PLOT_MAX_RULES 8

/* A reference line across the whole plot (a constraint's bound, a cache
 * size): vertical at x = value, or horizontal at y = value. Its value is
 * kept inside the axis range. */
struct oc__rule {
  bool vertical;
  double value;
  char label[96];
  int color;
};

struct oc__series {
  char name[128];
  enum oc__mark mark;
  int color; /* palette index */
  bool in_legend;
  size_t n, cap;
  double *x, *y; /* y: the value; band: the lower edge */
  double *y2;    /* band: upper edge; errorbar: upper end of the interval */
  double *y2lo;  /* errorbar: lower end of the interval */
  char **label;  /* per point (may hold NULL) */
};

struct oc__plot {
  char id[48];
  char title[256];
  char x_label[128], y_label[128];
  bool x_log, y_log;
  double x_min, x_max, y_min, y_max; /* NaN: from the data */
  int width, height;
  size_t n_series;
  struct oc__series series[OC__PLOT_MAX_SERIES];
  char note[256]; /* drawn under the plot area's top edge when not empty */
  size_t n_rules;
  struct oc__rule rules[OC__PLOT_MAX_RULES];
};

void oc__plot_init(struct oc__plot *plot, const char *id, const char *title, const char *x_label,
                   const char *y_label, bool x_log, bool y_log);
/* NULL when OC__PLOT_MAX_SERIES are used. color < 0: the next palette color. */
struct oc__series *oc__plot_series(struct oc__plot *plot, const char *name, enum oc__mark mark,
                                   int color);
/* Adds a reference line; ignored when OC__PLOT_MAX_RULES are used or the
 * value cannot be drawn. */
void oc__plot_rule(struct oc__plot *plot, bool vertical, double value, const char *label,
                   int color);
/* Adds a point; label may be NULL. Points that cannot be drawn (not finite,
 * or <= 0 on a log axis) are kept in the data files but skipped when drawn. */
enum oc_status oc__series_add(struct oc__series *s, double x, double y, const char *label);
/* A band's point: lower and upper edge at x. */
enum oc_status oc__series_add_band(struct oc__series *s, double x, double lower, double upper);
/* An error-bar point: value y with interval [lo, hi]. */
enum oc_status oc__series_add_interval(struct oc__series *s, double x, double y, double lo,
                                       double hi, const char *label);
/* Points that can be drawn, over every series. */
size_t oc__plot_points(const struct oc__plot *plot);
void oc__plot_free(struct oc__plot *plot); /* NULL-safe */

void oc__plot_svg(const struct oc__plot *plot, struct oc__rbuf *out);
/* One row per point: series,label,x,y,y_lower,y_upper. */
void oc__plot_csv(const struct oc__plot *plot, struct oc__rbuf *out);
json_t *oc__plot_json(const struct oc__plot *plot);

/* ---- heat maps ---------------------------------------------------------------------- */

struct oc__heatmap {
  char id[48];
  char title[256];
  char row_label[64], col_label[64], unit[32];
  size_t n_rows, n_cols;
  char **rows, **cols; /* names */
  double *values;      /* n_rows x n_cols, row-major; NaN = not measured */
  bool log_color;
};

enum oc_status oc__heatmap_init(struct oc__heatmap *h, const char *id, const char *title,
                                size_t n_rows, size_t n_cols);
enum oc_status oc__heatmap_set_row(struct oc__heatmap *h, size_t row, const char *name);
enum oc_status oc__heatmap_set_col(struct oc__heatmap *h, size_t col, const char *name);
void oc__heatmap_free(struct oc__heatmap *h);          /* NULL-safe */
size_t oc__heatmap_cells(const struct oc__heatmap *h); /* finite cells */
void oc__heatmap_svg(const struct oc__heatmap *h, struct oc__rbuf *out);
void oc__heatmap_csv(const struct oc__heatmap *h, struct oc__rbuf *out);
json_t *oc__heatmap_json(const struct oc__heatmap *h);

/* ---- horizontal bars ------------------------------------------------------------------ */

#define OC__BARS_MAX_GROUPS 4

struct oc__bars {
  char id[48];
  char title[256];
  char value_label[128];
  size_t n_groups;
  char groups[OC__BARS_MAX_GROUPS][96];
  size_t n, cap;
  char **labels;   /* per item: short label drawn */
  char **tooltips; /* per item: full text (may be NULL) */
  double *values;  /* n x n_groups, row-major; NaN = none */
};

void oc__bars_init(struct oc__bars *b, const char *id, const char *title, const char *value_label);
/* Adds a value group (a bar per item); false when OC__BARS_MAX_GROUPS are used. */
bool oc__bars_group(struct oc__bars *b, const char *name);
/* Adds an item with one value per group (n_groups of them). */
enum oc_status oc__bars_add(struct oc__bars *b, const char *label, const char *tooltip,
                            const double *values);
void oc__bars_free(struct oc__bars *b); /* NULL-safe */
void oc__bars_svg(const struct oc__bars *b, struct oc__rbuf *out);
void oc__bars_csv(const struct oc__bars *b, struct oc__rbuf *out);
json_t *oc__bars_json(const struct oc__bars *b);

/* Palette color i (cycled) as "#rrggbb". */
const char *oc__report_color(int i);

#endif

/* ---- the page being written (report.c, report_sections.c) ------------------------------ */

/* One LUT row as the charts use it. */
struct oc__lut_point {
  char key[OC_LUT_KEY_MAX];
  char kind[32];
  bool is_op; /* key of an ops.def kind: op is valid */
  struct oc_op op;
  int64_t flops, macs, bytes;
  double median_us;
};

/* One evaluated candidate of a search journal. */
struct oc__cand_point {
  int64_t id;
  double value[oc_search_metric__count]; /* NaN when absent */
  double predicted_us;                   /* latency before any HIL correction */
  bool feasible;
};

struct oc__report {
  const struct oc_report_inputs *in;
  struct oc__rbuf html, md, toc;
  char dir[4096];      /* directory of the page */
  char stem[256];      /* page file name without .html */
  char data_dir[4096]; /* dir/stem_data */
  char data_rel[300];  /* stem_data, as linked from the page */
  json_t *index;       /* charts written */
  int sections, absent, charts;

  struct oc_device_profile *profile;

  struct oc_lut *lut;
  char lut_fp[17];
  int32_t lut_threads;
  enum oc_lut_granularity lut_granularity;
  char lut_target[32], lut_device_name[128];
  int64_t lut_total_rows; /* rows of the chosen group */
  struct oc__lut_point *rows;
  size_t n_rows;
  struct oc_lut_cache *cache;

  struct oc_model *model;
  struct oc_model_netset *nets;
  json_t *eval;

  json_t *search_summary, *search_front;
  struct oc__cand_point *cands;
  size_t n_cands;

  struct oc_net *network; /* the per-layer network (owned unless network_borrowed) */
  bool network_borrowed;
  char network_origin[4200];
};

/* Opens a section: its anchor id, heading and whether its input is absent
 * (then `why` is the text shown instead of charts). */
void oc__report_section(struct oc__report *r, const char *id, const char *heading,
                        const char *absent_why);
void oc__report_section_end(struct oc__report *r);
/* Writes a chart into the page (figure, caption, links to its data files)
 * and its CSV and JSON into the data folder. caption may be NULL. */
enum oc_status oc__report_emit_plot(struct oc__report *r, const struct oc__plot *plot,
                                    const char *caption);
enum oc_status oc__report_emit_heatmap(struct oc__report *r, const struct oc__heatmap *h,
                                       const char *caption);
enum oc_status oc__report_emit_bars(struct oc__report *r, const struct oc__bars *b,
                                    const char *caption);

/* The sections, in page order (report_sections.c). */
enum oc_status oc__report_device(struct oc__report *r);
enum oc_status oc__report_ops(struct oc__report *r);
enum oc_status oc__report_lut(struct oc__report *r);
enum oc_status oc__report_accuracy(struct oc__report *r);
enum oc_status oc__report_layers(struct oc__report *r);
enum oc_status oc__report_search(struct oc__report *r);

/* Human-readable bytes ("1.5 MiB") and times ("3.2 ms"). */
void oc__fmt_bytes(double bytes, char *buf, size_t size);
void oc__fmt_us(double us, char *buf, size_t size);
