/* report_svg.c - the report's charts: x/y plots (points, lines, bands,
 * error bars; linear or log axes with ticks and a legend), heat maps with a
 * color bar, and horizontal bar charts, written as inline SVG, and the same
 * numbers as CSV and JSON so every plotted series can be read back.
 *
 * Everything is static SVG 1.1 (no script, no external reference): a
 * tooltip is a <title> child. Text from the data (series names, labels) is
 * HTML-escaped on the way out. Sizes are in SVG user units; the page scales
 * the SVG to its column width. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_internal.h"

/* Okabe-Ito's colour-blind safe palette, then a few darker tones. */
static const char *const palette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00",
                                      "#56b4e9", "#8c6d00", "#000000", "#7f3c8d", "#11a579",
                                      "#3969ac", "#e73f74", "#80ba5a", "#a5aa99"};

const char *oc__report_color(int i) {
  int n = (int)(sizeof palette / sizeof palette[0]);
  if (i < 0) i = -i;
  return palette[i % n];
}

static char *dup_or_null(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

/* ---- plots: data -------------------------------------------------------------------------- */

void oc__plot_init(struct oc__plot *plot, const char *id, const char *title, const char *x_label,
                   const char *y_label, bool x_log, bool y_log) {
  memset(plot, 0, sizeof *plot);
  oc__strcpy(plot->id, sizeof plot->id, id);
  oc__strcpy(plot->title, sizeof plot->title, title);
  oc__strcpy(plot->x_label, sizeof plot->x_label, x_label);
  oc__strcpy(plot->y_label, sizeof plot->y_label, y_label);
  plot->x_log = x_log;
  plot->y_log = y_log;
  plot->x_min = plot->x_max = plot->y_min = plot->y_max = NAN;
  plot->width = 880;
  plot->height = 460;
}

struct oc__series *oc__plot_series(struct oc__plot *plot, const char *name, enum oc__mark mark,
                                   int color) {
  if (plot->n_series >= OC__PLOT_MAX_SERIES) return NULL;
  struct oc__series *s = &plot->series[plot->n_series];
  memset(s, 0, sizeof *s);
  oc__strcpy(s->name, sizeof s->name, name);
  s->mark = mark;
  s->color = color >= 0 ? color : (int)plot->n_series;
  s->in_legend = true;
  plot->n_series++;
  return s;
}

void oc__plot_rule(struct oc__plot *plot, bool vertical, double value, const char *label,
                   int color) {
  bool log_axis = vertical ? plot->x_log : plot->y_log;
  if (plot->n_rules >= OC__PLOT_MAX_RULES || !isfinite(value) || (log_axis && !(value > 0))) return;
  struct oc__rule *r = &plot->rules[plot->n_rules++];
  r->vertical = vertical;
  r->value = value;
  oc__strcpy(r->label, sizeof r->label, label ? label : "");
  r->color = color;
}

static enum oc_status grow(struct oc__series *s) {
  if (s->n < s->cap) return oc_status_ok;
  size_t cap = s->cap ? 2 * s->cap : 32;
  double *x = realloc(s->x, cap * sizeof *x);
  if (x != NULL) s->x = x;
  double *y = x ? realloc(s->y, cap * sizeof *y) : NULL;
  if (y != NULL) s->y = y;
  double *y2 = y ? realloc(s->y2, cap * sizeof *y2) : NULL;
  if (y2 != NULL) s->y2 = y2;
  double *y2lo = y2 ? realloc(s->y2lo, cap * sizeof *y2lo) : NULL;
  if (y2lo != NULL) s->y2lo = y2lo;
  char **label = y2lo ? realloc(s->label, cap * sizeof *label) : NULL;
  if (label == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for a plot series");
  s->label = label;
  s->cap = cap;
  return oc_status_ok;
}

static enum oc_status add_point(struct oc__series *s, double x, double y, double lo, double hi,
                                const char *label) {
  enum oc_status st = grow(s);
  if (st != oc_status_ok) return st;
  s->label[s->n] = NULL;
  if (label != NULL && (s->label[s->n] = dup_or_null(label)) == NULL)
    return oc__fail(oc_status_out_of_memory, "out of memory for a plot label");
  s->x[s->n] = x;
  s->y[s->n] = y;
  s->y2lo[s->n] = lo;
  s->y2[s->n] = hi;
  s->n++;
  return oc_status_ok;
}

enum oc_status oc__series_add(struct oc__series *s, double x, double y, const char *label) {
  return add_point(s, x, y, NAN, NAN, label);
}

enum oc_status oc__series_add_band(struct oc__series *s, double x, double lower, double upper) {
  return add_point(s, x, lower, NAN, upper, NULL);
}

enum oc_status oc__series_add_interval(struct oc__series *s, double x, double y, double lo,
                                       double hi, const char *label) {
  return add_point(s, x, y, lo, hi, label);
}

static bool ok_value(double v, bool log_axis) { return isfinite(v) && (!log_axis || v > 0); }

static bool drawable(const struct oc__plot *p, const struct oc__series *s, size_t i) {
  if (!ok_value(s->x[i], p->x_log) || !ok_value(s->y[i], p->y_log)) return false;
  if (s->mark == oc__mark_band) return ok_value(s->y2[i], p->y_log);
  return true;
}

size_t oc__plot_points(const struct oc__plot *plot) {
  size_t n = 0;
  for (size_t k = 0; k < plot->n_series; k++)
    for (size_t i = 0; i < plot->series[k].n; i++)
      if (drawable(plot, &plot->series[k], i)) n++;
  return n;
}

void oc__plot_free(struct oc__plot *plot) {
  if (plot == NULL) return;
  for (size_t k = 0; k < plot->n_series; k++) {
    struct oc__series *s = &plot->series[k];
    for (size_t i = 0; i < s->n; i++) free(s->label[i]);
    free(s->label);
    free(s->x);
    free(s->y);
    free(s->y2);
    free(s->y2lo);
    memset(s, 0, sizeof *s);
  }
  plot->n_series = 0;
}

/* ---- plots: geometry ---------------------------------------------------------------------- */

struct axis {
  bool log;
  double lo, hi; /* range drawn */
  double p0, p1; /* pixels of lo and hi */
  size_t n_ticks;
  double ticks[OC__MAX_TICKS];
};

static double tr(const struct axis *a, double v) { return a->log ? log10(v) : v; }

static double to_px(const struct axis *a, double v) {
  double t0 = tr(a, a->lo), t1 = tr(a, a->hi);
  double t = tr(a, v);
  if (!(t1 > t0)) return (a->p0 + a->p1) / 2;
  return a->p0 + (t - t0) / (t1 - t0) * (a->p1 - a->p0);
}

/* Chooses the range and ticks of an axis for data in [lo, hi] (NaN: no
 * data), with fixed ends where given. */
static void axis_fit(struct axis *a, bool log_axis, double lo, double hi, double fixed_lo,
                     double fixed_hi, size_t max_ticks) {
  a->log = log_axis;
  if (isfinite(fixed_lo)) lo = fixed_lo;
  if (isfinite(fixed_hi)) hi = fixed_hi;
  if (!isfinite(lo) || !isfinite(hi)) {
    lo = log_axis ? 1 : 0;
    hi = log_axis ? 10 : 1;
  }
  if (log_axis) {
    if (!(hi > lo)) {
      lo /= 2;
      hi *= 2;
    }
    double pad = pow(hi / lo, 0.04);
    if (!isfinite(fixed_lo)) lo /= pad;
    if (!isfinite(fixed_hi)) hi *= pad;
    a->n_ticks = oc__ticks_log(lo, hi, max_ticks, a->ticks);
    /* Several decades: whole decades at the ends read best. */
    if (log10(hi / lo) > 2.5) {
      if (!isfinite(fixed_lo)) lo = pow(10, floor(log10(lo) + 1e-9));
      if (!isfinite(fixed_hi)) hi = pow(10, ceil(log10(hi) - 1e-9));
      a->n_ticks = oc__ticks_log(lo, hi, max_ticks, a->ticks);
    }
  } else {
    if (!(hi > lo)) {
      double d = lo == 0 ? 1 : fabs(lo) * 0.1;
      lo -= d;
      hi += d;
    }
    double pad = (hi - lo) * 0.04;
    /* Data that is never negative keeps its axis at 0 or above. */
    if (!isfinite(fixed_lo)) lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
    if (!isfinite(fixed_hi)) hi += pad;
    a->n_ticks = oc__ticks_linear(lo, hi, max_ticks, a->ticks);
    if (!isfinite(fixed_lo) && a->ticks[0] < lo) lo = a->ticks[0];
    if (!isfinite(fixed_hi) && a->ticks[a->n_ticks - 1] > hi) hi = a->ticks[a->n_ticks - 1];
  }
  a->lo = lo;
  a->hi = hi;
  /* Keep only the ticks inside the range. */
  size_t k = 0;
  for (size_t i = 0; i < a->n_ticks; i++) {
    double t = a->ticks[i];
    double eps = (log_axis ? t : (hi - lo)) * 1e-9;
    if (t >= lo - eps && t <= hi + eps) a->ticks[k++] = t;
  }
  a->n_ticks = k;
}

static void data_range(const struct oc__plot *p, bool y, double *lo, double *hi) {
  *lo = NAN;
  *hi = NAN;
  bool log_axis = y ? p->y_log : p->x_log;
  for (size_t k = 0; k < p->n_series; k++) {
    const struct oc__series *s = &p->series[k];
    for (size_t i = 0; i < s->n; i++) {
      if (!drawable(p, s, i)) continue;
      double v[3] = {y ? s->y[i] : s->x[i], NAN, NAN};
      if (y && (s->mark == oc__mark_band || s->mark == oc__mark_errorbar)) {
        v[1] = s->y2[i];
        v[2] = s->y2lo[i];
      }
      for (int j = 0; j < 3; j++) {
        if (!ok_value(v[j], log_axis)) continue;
        if (!(v[j] >= *lo)) *lo = isnan(*lo) ? v[j] : fmin(*lo, v[j]);
        if (!(v[j] <= *hi)) *hi = isnan(*hi) ? v[j] : fmax(*hi, v[j]);
      }
    }
  }
  for (size_t k = 0; k < p->n_rules; k++) {
    const struct oc__rule *rule = &p->rules[k];
    if (rule->vertical == y) continue;
    *lo = isnan(*lo) ? rule->value : fmin(*lo, rule->value);
    *hi = isnan(*hi) ? rule->value : fmax(*hi, rule->value);
  }
}

/* Text shortened to at most max characters (bytes), with an ellipsis. */
static void shorten(const char *text, size_t max, char *out, size_t size) {
  size_t n = strlen(text);
  if (n <= max || max < 4) {
    oc__strcpy(out, size, text);
    return;
  }
  size_t keep = max - 1;
  /* Do not cut a UTF-8 sequence in two. */
  while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80) keep--;
  oc__strfmt(out, size, "%.*s\xe2\x80\xa6", (int)keep, text);
}

static void svg_open(struct oc__rbuf *o, const char *id, const char *title, int w, int h) {
  oc__rbuf_printf(o,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 %d %d\" "
                  "width=\"%d\" height=\"%d\" role=\"img\" data-plot=\"",
                  w, h, w, h);
  oc__rbuf_html(o, id);
  oc__rbuf_puts(o, "\"><title>");
  oc__rbuf_html(o, title);
  oc__rbuf_printf(o, "</title><rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>", w,
                  h);
  oc__rbuf_puts(o, "<text x=\"8\" y=\"20\" class=\"ttl\" font-size=\"14\" font-weight=\"bold\">");
  oc__rbuf_html(o, title);
  oc__rbuf_puts(o, "</text>");
}

static void legend_entry(struct oc__rbuf *o, double x, double y, const struct oc__series *s) {
  const char *c = oc__report_color(s->color);
  switch (s->mark) {
  case oc__mark_points:
  case oc__mark_errorbar:
    oc__rbuf_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>", x + 8, y - 4, c);
    break;
  case oc__mark_band:
    oc__rbuf_printf(o,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"10\" fill=\"%s\" "
                    "fill-opacity=\"0.18\" stroke=\"%s\" stroke-opacity=\"0.4\"/>",
                    x, y - 9, c, c);
    break;
  case oc__mark_line:
  case oc__mark_dashed:
    oc__rbuf_printf(o,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-width=\"2\"%s/>",
                    x, y - 4, x + 16, y - 4, c,
                    s->mark == oc__mark_dashed ? " stroke-dasharray=\"5 3\"" : "");
    break;
  }
  char name[64];
  shorten(s->name, 32, name, sizeof name);
  oc__rbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">", x + 22, y);
  if (strcmp(name, s->name) != 0) {
    oc__rbuf_puts(o, "<title>");
    oc__rbuf_html(o, s->name);
    oc__rbuf_puts(o, "</title>");
  }
  oc__rbuf_html(o, name);
  oc__rbuf_puts(o, "</text>");
}

static void draw_series(struct oc__rbuf *o, const struct oc__plot *p, const struct oc__series *s,
                        const struct axis *ax, const struct axis *ay) {
  const char *c = oc__report_color(s->color);
  oc__rbuf_puts(o, "<g data-series=\"");
  oc__rbuf_html(o, s->name);
  oc__rbuf_puts(o, "\">");
  if (s->mark == oc__mark_line || s->mark == oc__mark_dashed) {
    bool pen = false, any = false;
    for (size_t i = 0; i < s->n; i++) {
      if (!drawable(p, s, i)) {
        pen = false;
        continue;
      }
      if (!any)
        oc__rbuf_printf(
            o, "<path class=\"mark\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"", c,
            s->mark == oc__mark_dashed ? " stroke-dasharray=\"6 4\"" : "");
      oc__rbuf_printf(o, "%s%.2f %.2f ", pen ? "L" : "M", to_px(ax, s->x[i]), to_px(ay, s->y[i]));
      pen = any = true;
    }
    if (any) oc__rbuf_puts(o, "\"/>");
  } else if (s->mark == oc__mark_band) {
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) n += drawable(p, s, i);
    if (n >= 2) {
      oc__rbuf_printf(
          o, "<path class=\"mark\" fill=\"%s\" fill-opacity=\"0.16\" stroke=\"none\" d=\"", c);
      bool first = true;
      for (size_t i = 0; i < s->n; i++) {
        if (!drawable(p, s, i)) continue;
        oc__rbuf_printf(o, "%s%.2f %.2f ", first ? "M" : "L", to_px(ax, s->x[i]),
                        to_px(ay, s->y[i]));
        first = false;
      }
      for (size_t i = s->n; i-- > 0;) {
        if (!drawable(p, s, i)) continue;
        oc__rbuf_printf(o, "L%.2f %.2f ", to_px(ax, s->x[i]), to_px(ay, s->y2[i]));
      }
      oc__rbuf_puts(o, "Z\"/>");
    }
  } else {
    for (size_t i = 0; i < s->n; i++) {
      if (!drawable(p, s, i)) continue;
      double x = to_px(ax, s->x[i]), y = to_px(ay, s->y[i]);
      if (s->mark == oc__mark_errorbar && ok_value(s->y2lo[i], p->y_log) &&
          ok_value(s->y2[i], p->y_log))
        oc__rbuf_printf(o,
                        "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                        "stroke-opacity=\"0.55\" stroke-width=\"1.2\"/>",
                        x, to_px(ay, s->y2lo[i]), x, to_px(ay, s->y2[i]), c);
      oc__rbuf_printf(o,
                      "<circle class=\"mark\" cx=\"%.2f\" cy=\"%.2f\" r=\"3.4\" fill=\"%s\" "
                      "fill-opacity=\"0.78\" stroke=\"#fff\" stroke-width=\"0.6\">",
                      x, y, c);
      char xs[32], ys[32];
      oc__fmt_tick(s->x[i], xs, sizeof xs);
      oc__fmt_tick(s->y[i], ys, sizeof ys);
      oc__rbuf_puts(o, "<title>");
      if (s->label[i] != NULL) {
        oc__rbuf_html(o, s->label[i]);
        oc__rbuf_puts(o, ": ");
      }
      oc__rbuf_html(o, s->name);
      oc__rbuf_printf(o, " (%s, %s)</title></circle>", xs, ys);
    }
  }
  oc__rbuf_puts(o, "</g>");
}

void oc__plot_svg(const struct oc__plot *p, struct oc__rbuf *o) {
  const int w = p->width > 0 ? p->width : 880, h = p->height > 0 ? p->height : 460;
  const double left = 74, right = w - 232.0, top = 36, bottom = h - 58.0;
  struct axis ax, ay;
  double lo, hi;
  data_range(p, false, &lo, &hi);
  axis_fit(&ax, p->x_log, lo, hi, p->x_min, p->x_max, 9);
  data_range(p, true, &lo, &hi);
  axis_fit(&ay, p->y_log, lo, hi, p->y_min, p->y_max, 8);
  ax.p0 = left;
  ax.p1 = right;
  ay.p0 = bottom;
  ay.p1 = top;

  svg_open(o, p->id, p->title, w, h);
  oc__rbuf_puts(o, "<defs><clipPath id=\"clip-");
  oc__rbuf_html(o, p->id);
  oc__rbuf_printf(
      o, "\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath></defs>", left,
      top, right - left, bottom - top);
  /* Grid and ticks. */
  oc__rbuf_puts(o, "<g class=\"axes\" font-size=\"11\" fill=\"#333\">");
  for (size_t i = 0; i < ax.n_ticks; i++) {
    double x = to_px(&ax, ax.ticks[i]);
    char t[32];
    oc__fmt_tick(ax.ticks[i], t, sizeof t);
    oc__rbuf_printf(o,
                    "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>"
                    "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#555\"/>"
                    "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
                    x, top, x, bottom, x, bottom, x, bottom + 5, x, bottom + 18, t);
  }
  for (size_t i = 0; i < ay.n_ticks; i++) {
    double y = to_px(&ay, ay.ticks[i]);
    char t[32];
    oc__fmt_tick(ay.ticks[i], t, sizeof t);
    oc__rbuf_printf(o,
                    "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#e3e3e3\"/>"
                    "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#555\"/>"
                    "<text x=\"%.1f\" y=\"%.2f\" text-anchor=\"end\">%s</text>",
                    left, y, right, y, left - 5, y, left, y, left - 8, y + 4, t);
  }
  oc__rbuf_printf(o,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                  "stroke=\"#555\"/>",
                  left, top, right - left, bottom - top);
  oc__rbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">",
                  (left + right) / 2, bottom + 38);
  oc__rbuf_html(o, p->x_label);
  oc__rbuf_puts(o, p->x_log ? " (log)" : "");
  oc__rbuf_printf(o,
                  "</text><text transform=\"translate(16 %.1f) rotate(-90)\" "
                  "text-anchor=\"middle\" font-size=\"12\">",
                  (top + bottom) / 2);
  oc__rbuf_html(o, p->y_label);
  oc__rbuf_puts(o, p->y_log ? " (log)" : "");
  oc__rbuf_puts(o, "</text></g>");
  if (p->note[0]) {
    oc__rbuf_printf(o,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\" "
                    "fill=\"#666\">",
                    right - 6, top + 14);
    oc__rbuf_html(o, p->note);
    oc__rbuf_puts(o, "</text>");
  }
  /* Bands first, then lines, then points, so that points stay on top. */
  oc__rbuf_puts(o, "<g clip-path=\"url(#clip-");
  oc__rbuf_html(o, p->id);
  oc__rbuf_puts(o, ")\">");
  static const enum oc__mark order[] = {oc__mark_band, oc__mark_line, oc__mark_dashed,
                                        oc__mark_errorbar, oc__mark_points};
  for (size_t r = 0; r < sizeof order / sizeof order[0]; r++)
    for (size_t k = 0; k < p->n_series; k++)
      if (p->series[k].mark == order[r]) draw_series(o, p, &p->series[k], &ax, &ay);
  for (size_t k = 0; k < p->n_rules; k++) {
    const struct oc__rule *rule = &p->rules[k];
    const char *c = oc__report_color(rule->color);
    if (rule->vertical) {
      double x = to_px(&ax, rule->value);
      oc__rbuf_printf(o,
                      "<line class=\"rule\" x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" "
                      "stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>"
                      "<text x=\"%.2f\" y=\"%.1f\" font-size=\"10\" fill=\"%s\" "
                      "transform=\"rotate(-90 %.2f %.1f)\" text-anchor=\"end\">",
                      x, top, x, bottom, c, x - 3, top + 4, c, x - 3, top + 4);
    } else {
      double y = to_px(&ay, rule->value);
      oc__rbuf_printf(o,
                      "<line class=\"rule\" x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" "
                      "stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>"
                      "<text x=\"%.1f\" y=\"%.2f\" font-size=\"10\" fill=\"%s\" "
                      "text-anchor=\"end\">",
                      left, y, right, y, c, right - 4, y - 4, c);
    }
    oc__rbuf_html(o, rule->label);
    oc__rbuf_puts(o, "</text>");
  }
  oc__rbuf_puts(o, "</g>");
  /* Legend. */
  double ly = top + 10;
  oc__rbuf_puts(o, "<g class=\"legend\">");
  for (size_t k = 0; k < p->n_series && ly < h - 10; k++) {
    if (!p->series[k].in_legend) continue;
    legend_entry(o, right + 14, ly, &p->series[k]);
    ly += 18;
  }
  oc__rbuf_puts(o, "</g></svg>\n");
}

static const char *mark_name(enum oc__mark m) {
  switch (m) {
  case oc__mark_points: return "points";
  case oc__mark_line: return "line";
  case oc__mark_dashed: return "dashed";
  case oc__mark_band: return "band";
  case oc__mark_errorbar: return "points_with_interval";
  }
  return "?";
}

void oc__plot_csv(const struct oc__plot *p, struct oc__rbuf *o) {
  oc__rbuf_puts(o, "series,label,x,y,y_lower,y_upper\n");
  for (size_t k = 0; k < p->n_series; k++) {
    const struct oc__series *s = &p->series[k];
    for (size_t i = 0; i < s->n; i++) {
      oc__rbuf_csv(o, s->name);
      oc__rbuf_puts(o, ",");
      oc__rbuf_csv(o, s->label[i]);
      oc__rbuf_puts(o, ",");
      oc__rbuf_num(o, s->x[i]);
      oc__rbuf_puts(o, ",");
      if (s->mark == oc__mark_band) {
        oc__rbuf_puts(o, ",");
        oc__rbuf_num(o, s->y[i]);
        oc__rbuf_puts(o, ",");
        oc__rbuf_num(o, s->y2[i]);
      } else {
        oc__rbuf_num(o, s->y[i]);
        oc__rbuf_puts(o, ",");
        oc__rbuf_num(o, s->y2lo[i]);
        oc__rbuf_puts(o, ",");
        oc__rbuf_num(o, s->y2[i]);
      }
      oc__rbuf_puts(o, "\n");
    }
  }
  for (size_t k = 0; k < p->n_rules; k++) {
    const struct oc__rule *rule = &p->rules[k];
    char name[160];
    oc__strfmt(name, sizeof name, "rule: %s", rule->label);
    oc__rbuf_csv(o, name);
    oc__rbuf_puts(o, ",,");
    if (rule->vertical) oc__rbuf_num(o, rule->value);
    oc__rbuf_puts(o, ",");
    if (!rule->vertical) oc__rbuf_num(o, rule->value);
    oc__rbuf_puts(o, ",,\n");
  }
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

json_t *oc__plot_json(const struct oc__plot *p) {
  json_t *series = json_array();
  for (size_t k = 0; k < p->n_series; k++) {
    const struct oc__series *s = &p->series[k];
    json_t *pts = json_array();
    for (size_t i = 0; i < s->n; i++) {
      json_t *pt = s->mark == oc__mark_band
                       ? json_pack("{s:o, s:o, s:o}", "x", num(s->x[i]), "lower", num(s->y[i]),
                                   "upper", num(s->y2[i]))
                       : json_pack("{s:o, s:o}", "x", num(s->x[i]), "y", num(s->y[i]));
      if (pt != NULL && s->mark == oc__mark_errorbar) {
        json_object_set_new(pt, "lower", num(s->y2lo[i]));
        json_object_set_new(pt, "upper", num(s->y2[i]));
      }
      if (pt != NULL && s->label[i] != NULL)
        json_object_set_new(pt, "label", json_string(s->label[i]));
      json_array_append_new(pts, pt);
    }
    json_array_append_new(series, json_pack("{s:s, s:s, s:s, s:o}", "name", s->name, "mark",
                                            mark_name(s->mark), "color", oc__report_color(s->color),
                                            "points", pts));
  }
  json_t *rules = json_array();
  for (size_t k = 0; k < p->n_rules; k++)
    json_array_append_new(rules,
                          json_pack("{s:s, s:s, s:f}", "label", p->rules[k].label, "axis",
                                    p->rules[k].vertical ? "x" : "y", "value", p->rules[k].value));
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id", p->id, "kind", "xy",
                   "title", p->title, "x_label", p->x_label, "x_scale", p->x_log ? "log" : "linear",
                   "y_label", p->y_label, "y_scale", p->y_log ? "log" : "linear", "series", series,
                   "rules", rules);
}

/* ---- heat maps ---------------------------------------------------------------------------- */

enum oc_status oc__heatmap_init(struct oc__heatmap *h, const char *id, const char *title,
                                size_t n_rows, size_t n_cols) {
  memset(h, 0, sizeof *h);
  oc__strcpy(h->id, sizeof h->id, id);
  oc__strcpy(h->title, sizeof h->title, title);
  if (n_rows == 0 || n_cols == 0)
    return oc__fail(oc_status_invalid_argument, "heat map '%s': %zu rows x %zu columns", id, n_rows,
                    n_cols);
  h->rows = calloc(n_rows, sizeof *h->rows);
  h->cols = calloc(n_cols, sizeof *h->cols);
  h->values = malloc(n_rows * n_cols * sizeof *h->values);
  if (h->rows == NULL || h->cols == NULL || h->values == NULL) {
    oc__heatmap_free(h);
    return oc__fail(oc_status_out_of_memory, "out of memory for heat map '%s'", id);
  }
  h->n_rows = n_rows;
  h->n_cols = n_cols;
  for (size_t i = 0; i < n_rows * n_cols; i++) h->values[i] = NAN;
  return oc_status_ok;
}

enum oc_status oc__heatmap_set_row(struct oc__heatmap *h, size_t row, const char *name) {
  free(h->rows[row]);
  h->rows[row] = dup_or_null(name);
  return h->rows[row] ? oc_status_ok : oc__fail(oc_status_out_of_memory, "out of memory");
}

enum oc_status oc__heatmap_set_col(struct oc__heatmap *h, size_t col, const char *name) {
  free(h->cols[col]);
  h->cols[col] = dup_or_null(name);
  return h->cols[col] ? oc_status_ok : oc__fail(oc_status_out_of_memory, "out of memory");
}

void oc__heatmap_free(struct oc__heatmap *h) {
  if (h == NULL) return;
  for (size_t i = 0; h->rows && i < h->n_rows; i++) free(h->rows[i]);
  for (size_t i = 0; h->cols && i < h->n_cols; i++) free(h->cols[i]);
  free(h->rows);
  free(h->cols);
  free(h->values);
  h->rows = h->cols = NULL;
  h->values = NULL;
  h->n_rows = h->n_cols = 0;
}

size_t oc__heatmap_cells(const struct oc__heatmap *h) {
  size_t n = 0;
  for (size_t i = 0; i < h->n_rows * h->n_cols; i++) n += isfinite(h->values[i]);
  return n;
}

/* A sequential scale (viridis stops) at t in [0, 1]. */
static void ramp(double t, int rgb[3]) {
  static const int stops[][3] = {
      {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  const int n = (int)(sizeof stops / sizeof stops[0]);
  if (!(t >= 0)) t = 0;
  if (t > 1) t = 1;
  double f = t * (n - 1);
  int i = (int)f;
  if (i >= n - 1) i = n - 2;
  double u = f - i;
  for (int c = 0; c < 3; c++)
    rgb[c] = (int)lround(stops[i][c] + u * (stops[i + 1][c] - stops[i][c]));
}

void oc__heatmap_svg(const struct oc__heatmap *h, struct oc__rbuf *o) {
  double lo = NAN, hi = NAN;
  for (size_t i = 0; i < h->n_rows * h->n_cols; i++) {
    double v = h->values[i];
    if (!isfinite(v) || (h->log_color && !(v > 0))) continue;
    lo = isnan(lo) ? v : fmin(lo, v);
    hi = isnan(hi) ? v : fmax(hi, v);
  }
  const double left = 120, top = 70;
  double cw = 560.0 / (double)h->n_cols;
  if (cw > 64) cw = 64;
  if (cw < 22) cw = 22;
  const double ch = 30;
  bool rotate = cw < 44;
  double top_labels = rotate ? top + 20 : top;
  int w = (int)(left + cw * (double)h->n_cols + 110);
  int title_w = (int)(24 + 8.8 * (double)strlen(h->title)); /* bold 14 px */
  if (w < title_w) w = title_w;
  if (w < 520) w = 520;
  int hh = (int)(top_labels + ch * (double)h->n_rows + 56);
  svg_open(o, h->id, h->title, w, hh);
  oc__rbuf_printf(o, "<defs><linearGradient id=\"grad-");
  oc__rbuf_html(o, h->id);
  oc__rbuf_puts(o, "\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">");
  for (int i = 0; i <= 4; i++) {
    int rgb[3];
    ramp(i / 4.0, rgb);
    oc__rbuf_printf(o, "<stop offset=\"%d%%\" stop-color=\"rgb(%d,%d,%d)\"/>", i * 25, rgb[0],
                    rgb[1], rgb[2]);
  }
  oc__rbuf_puts(o, "</linearGradient></defs><g font-size=\"11\">");
  /* Axis titles. */
  oc__rbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">",
                  left + cw * (double)h->n_cols / 2, 42.0);
  oc__rbuf_html(o, h->col_label);
  oc__rbuf_printf(o, "</text><text x=\"8\" y=\"%.1f\" font-size=\"12\">", top_labels - 6);
  oc__rbuf_html(o, h->row_label);
  oc__rbuf_puts(o, "</text>");
  for (size_t c = 0; c < h->n_cols; c++) {
    double x = left + cw * ((double)c + 0.5);
    if (rotate)
      oc__rbuf_printf(o,
                      "<text transform=\"translate(%.1f %.1f) rotate(-45)\" "
                      "text-anchor=\"start\">",
                      x - 3, top_labels - 4);
    else
      oc__rbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, top_labels - 6);
    oc__rbuf_html(o, h->cols[c] ? h->cols[c] : "");
    oc__rbuf_puts(o, "</text>");
  }
  for (size_t r = 0; r < h->n_rows; r++) {
    double y = top_labels + ch * (double)r;
    oc__rbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 8,
                    y + ch / 2 + 4);
    oc__rbuf_html(o, h->rows[r] ? h->rows[r] : "");
    oc__rbuf_puts(o, "</text>");
    for (size_t c = 0; c < h->n_cols; c++) {
      double v = h->values[r * h->n_cols + c];
      double x = left + cw * (double)c;
      if (!isfinite(v)) {
        oc__rbuf_printf(o,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"#f2f2f2\" stroke=\"#fff\"><title>not measured</title></rect>",
                        x, y, cw, ch);
        continue;
      }
      double t = 0.5;
      if (hi > lo) t = h->log_color && v > 0 ? log(v / lo) / log(hi / lo) : (v - lo) / (hi - lo);
      int rgb[3];
      ramp(t, rgb);
      double lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
      char txt[32];
      oc__fmt_tick(v, txt, sizeof txt);
      oc__rbuf_printf(o,
                      "<rect class=\"mark\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                      "fill=\"rgb(%d,%d,%d)\" stroke=\"#fff\"><title>",
                      x, y, cw, ch, rgb[0], rgb[1], rgb[2]);
      oc__rbuf_html(o, h->rows[r] ? h->rows[r] : "");
      oc__rbuf_puts(o, ", ");
      oc__rbuf_html(o, h->cols[c] ? h->cols[c] : "");
      oc__rbuf_printf(o, ": %.4g ", v);
      oc__rbuf_html(o, h->unit);
      oc__rbuf_puts(o, "</title></rect>");
      if (cw >= 30)
        oc__rbuf_printf(o,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" "
                        "fill=\"%s\">%s</text>",
                        x + cw / 2, y + ch / 2 + 3.5, lum > 140 ? "#000" : "#fff", txt);
    }
  }
  /* Color bar. */
  double bx = left + cw * (double)h->n_cols + 24, by = top_labels, bh = ch * (double)h->n_rows;
  if (bh < 60) bh = 60;
  oc__rbuf_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.1f\" fill=\"url(#grad-",
                  bx, by, bh);
  oc__rbuf_html(o, h->id);
  oc__rbuf_puts(o, ")\" stroke=\"#999\"/>");
  char a[32], b[32];
  oc__fmt_tick(hi, a, sizeof a);
  oc__fmt_tick(lo, b, sizeof b);
  oc__rbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\">%s</text><text x=\"%.1f\" y=\"%.1f\">%s</text>",
                  bx + 18, by + 9, isfinite(hi) ? a : "", bx + 18, by + bh, isfinite(lo) ? b : "");
  oc__rbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\">", bx, by + bh + 16);
  oc__rbuf_html(o, h->unit);
  oc__rbuf_puts(o, h->log_color ? " (log)" : "");
  oc__rbuf_puts(o, "</text></g></svg>\n");
}

void oc__heatmap_csv(const struct oc__heatmap *h, struct oc__rbuf *o) {
  oc__rbuf_csv(o, h->row_label[0] ? h->row_label : "row");
  oc__rbuf_puts(o, ",");
  oc__rbuf_csv(o, h->col_label[0] ? h->col_label : "column");
  oc__rbuf_puts(o, ",value\n");
  for (size_t r = 0; r < h->n_rows; r++)
    for (size_t c = 0; c < h->n_cols; c++) {
      oc__rbuf_csv(o, h->rows[r]);
      oc__rbuf_puts(o, ",");
      oc__rbuf_csv(o, h->cols[c]);
      oc__rbuf_puts(o, ",");
      oc__rbuf_num(o, h->values[r * h->n_cols + c]);
      oc__rbuf_puts(o, "\n");
    }
}

json_t *oc__heatmap_json(const struct oc__heatmap *h) {
  json_t *rows = json_array(), *cols = json_array(), *values = json_array();
  for (size_t r = 0; r < h->n_rows; r++) {
    json_array_append_new(rows, json_string(h->rows[r] ? h->rows[r] : ""));
    json_t *row = json_array();
    for (size_t c = 0; c < h->n_cols; c++)
      json_array_append_new(row, num(h->values[r * h->n_cols + c]));
    json_array_append_new(values, row);
  }
  for (size_t c = 0; c < h->n_cols; c++)
    json_array_append_new(cols, json_string(h->cols[c] ? h->cols[c] : ""));
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id", h->id, "kind",
                   "heatmap", "title", h->title, "row_label", h->row_label, "col_label",
                   h->col_label, "unit", h->unit, "color_scale", h->log_color ? "log" : "linear",
                   "rows", rows, "columns", cols, "values", values);
}

/* ---- bars ---------------------------------------------------------------------------------- */

void oc__bars_init(struct oc__bars *b, const char *id, const char *title, const char *value_label) {
  memset(b, 0, sizeof *b);
  oc__strcpy(b->id, sizeof b->id, id);
  oc__strcpy(b->title, sizeof b->title, title);
  oc__strcpy(b->value_label, sizeof b->value_label, value_label);
}

bool oc__bars_group(struct oc__bars *b, const char *name) {
  if (b->n_groups >= OC__BARS_MAX_GROUPS || b->n > 0) return false;
  oc__strcpy(b->groups[b->n_groups++], sizeof b->groups[0], name);
  return true;
}

enum oc_status oc__bars_add(struct oc__bars *b, const char *label, const char *tooltip,
                            const double *values) {
  if (b->n_groups == 0)
    return oc__fail(oc_status_invalid_argument, "bar chart '%s': no value group", b->id);
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 32;
    char **labels = realloc(b->labels, cap * sizeof *labels);
    if (labels != NULL) b->labels = labels;
    char **tips = labels ? realloc(b->tooltips, cap * sizeof *tips) : NULL;
    if (tips != NULL) b->tooltips = tips;
    double *v = tips ? realloc(b->values, cap * OC__BARS_MAX_GROUPS * sizeof *v) : NULL;
    if (v == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for a bar chart");
    b->values = v;
    b->cap = cap;
  }
  b->labels[b->n] = dup_or_null(label ? label : "");
  b->tooltips[b->n] = tooltip ? dup_or_null(tooltip) : NULL;
  if (b->labels[b->n] == NULL || (tooltip && b->tooltips[b->n] == NULL)) {
    free(b->labels[b->n]);
    free(b->tooltips[b->n]);
    return oc__fail(oc_status_out_of_memory, "out of memory for a bar chart");
  }
  for (size_t g = 0; g < b->n_groups; g++) b->values[b->n * b->n_groups + g] = values[g];
  b->n++;
  return oc_status_ok;
}

void oc__bars_free(struct oc__bars *b) {
  if (b == NULL) return;
  for (size_t i = 0; i < b->n; i++) {
    free(b->labels[i]);
    free(b->tooltips[i]);
  }
  free(b->labels);
  free(b->tooltips);
  free(b->values);
  b->labels = b->tooltips = NULL;
  b->values = NULL;
  b->n = b->cap = 0;
}

void oc__bars_svg(const struct oc__bars *b, struct oc__rbuf *o) {
  const double left = 340, right = 760, top = 62;
  const double bar_h = 9, gap = 5;
  const double row_h = bar_h * (double)b->n_groups + gap;
  int w = 880, h = (int)(top + row_h * (double)b->n + 44);
  double hi = 0;
  for (size_t i = 0; i < b->n * b->n_groups; i++)
    if (isfinite(b->values[i]) && b->values[i] > hi) hi = b->values[i];
  struct axis ax;
  axis_fit(&ax, false, 0, hi > 0 ? hi : 1, 0, NAN, 7);
  ax.p0 = left;
  ax.p1 = right;
  svg_open(o, b->id, b->title, w, h);
  oc__rbuf_puts(o, "<g font-size=\"11\">");
  /* Group legend. */
  double lx = left;
  for (size_t g = 0; g < b->n_groups; g++) {
    oc__rbuf_printf(o,
                    "<rect x=\"%.1f\" y=\"28\" width=\"12\" height=\"10\" fill=\"%s\"/>"
                    "<text x=\"%.1f\" y=\"37\">",
                    lx, oc__report_color((int)g), lx + 16);
    oc__rbuf_html(o, b->groups[g]);
    oc__rbuf_puts(o, "</text>");
    lx += 22 + 7.0 * (double)strlen(b->groups[g]);
  }
  double bottom = top + row_h * (double)b->n;
  for (size_t i = 0; i < ax.n_ticks; i++) {
    double x = to_px(&ax, ax.ticks[i]);
    char t[32];
    oc__fmt_tick(ax.ticks[i], t, sizeof t);
    oc__rbuf_printf(o,
                    "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>"
                    "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>"
                    "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
                    x, top - 4, x, bottom, x, top - 8, t, x, bottom + 14, t);
  }
  oc__rbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">",
                  (left + right) / 2, bottom + 32);
  oc__rbuf_html(o, b->value_label);
  oc__rbuf_puts(o, "</text>");
  for (size_t i = 0; i < b->n; i++) {
    double y = top + row_h * (double)i;
    char label[96];
    shorten(b->labels[i], 54, label, sizeof label);
    oc__rbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\">",
                    left - 6, y + row_h / 2 + 2);
    if (b->tooltips[i] != NULL) {
      oc__rbuf_puts(o, "<title>");
      oc__rbuf_html(o, b->tooltips[i]);
      oc__rbuf_puts(o, "</title>");
    }
    oc__rbuf_html(o, label);
    oc__rbuf_puts(o, "</text>");
    for (size_t g = 0; g < b->n_groups; g++) {
      double v = b->values[i * b->n_groups + g];
      if (!isfinite(v) || v < 0) continue;
      double x1 = to_px(&ax, v);
      oc__rbuf_printf(o,
                      "<rect class=\"mark\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                      "fill=\"%s\"><title>",
                      left, y + bar_h * (double)g, x1 - left > 0.5 ? x1 - left : 0.5, bar_h - 1,
                      oc__report_color((int)g));
      oc__rbuf_html(o, b->groups[g]);
      oc__rbuf_printf(o, ": %.4g</title></rect>", v);
    }
  }
  oc__rbuf_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>",
                  left, top - 4, left, bottom);
  oc__rbuf_puts(o, "</g></svg>\n");
}

void oc__bars_csv(const struct oc__bars *b, struct oc__rbuf *o) {
  oc__rbuf_puts(o, "index,label,detail");
  for (size_t g = 0; g < b->n_groups; g++) {
    oc__rbuf_puts(o, ",");
    oc__rbuf_csv(o, b->groups[g]);
  }
  oc__rbuf_puts(o, "\n");
  for (size_t i = 0; i < b->n; i++) {
    oc__rbuf_printf(o, "%zu,", i);
    oc__rbuf_csv(o, b->labels[i]);
    oc__rbuf_puts(o, ",");
    oc__rbuf_csv(o, b->tooltips[i]);
    for (size_t g = 0; g < b->n_groups; g++) {
      oc__rbuf_puts(o, ",");
      oc__rbuf_num(o, b->values[i * b->n_groups + g]);
    }
    oc__rbuf_puts(o, "\n");
  }
}

json_t *oc__bars_json(const struct oc__bars *b) {
  json_t *groups = json_array(), *items = json_array();
  for (size_t g = 0; g < b->n_groups; g++) json_array_append_new(groups, json_string(b->groups[g]));
  for (size_t i = 0; i < b->n; i++) {
    json_t *vals = json_array();
    for (size_t g = 0; g < b->n_groups; g++)
      json_array_append_new(vals, num(b->values[i * b->n_groups + g]));
    json_array_append_new(items, json_pack("{s:s, s:s?, s:o}", "label", b->labels[i], "detail",
                                           b->tooltips[i], "values", vals));
  }
  return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", b->id, "kind", "bars", "title", b->title,
                   "value_label", b->value_label, "groups", groups, "items", items);
}
