/* report_sections.c - the sections of a report, in page order:
 *   device     the device card, its roofline with the LUT's ops placed on
 *              it, and the bandwidth sweep (a device profile)
 *   ops        latency against FLOPs, one series per kind of op (a LUT)
 *   lut        what the LUT holds, and heat maps of depthwise convolution
 *              latency by kernel size and channels
 *   accuracy   predicted against measured latency with +-10 % bands and
 *              the accuracy metrics (a model with measured networks, an
 *              evaluation, the LUT's sums, the search's HIL measurements)
 *   layers     the per-layer costs of one network
 *   search     the Pareto front, the candidates, the networks measured on
 *              the device, and the hypervolume trace
 * Each says what is missing when its input is absent. Everything written
 * into the page from the data goes through oc__rbuf_html. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_internal.h"

/* ---- small helpers ------------------------------------------------------------------------ */

static void td_text(struct oc__rbuf *o, const char *text) {
  oc__rbuf_puts(o, "<td>");
  oc__rbuf_html(o, text);
  oc__rbuf_puts(o, "</td>");
}

static void td_num(struct oc__rbuf *o, const char *fmt, double v) {
  oc__rbuf_puts(o, "<td class=\"n\">");
  if (isfinite(v))
    oc__rbuf_printf(o, fmt, v);
  else
    oc__rbuf_puts(o, "-");
  oc__rbuf_puts(o, "</td>");
}

/* A Markdown table cell: " | value", or " | -" when the value is unknown. */
static void md_num(struct oc__rbuf *o, const char *fmt, double v) {
  oc__rbuf_puts(o, " | ");
  if (isfinite(v))
    oc__rbuf_printf(o, fmt, v);
  else
    oc__rbuf_puts(o, "-");
}

static void card_row(struct oc__report *r, const char *label, const char *value) {
  oc__rbuf_printf(&r->html, "<dt>%s</dt><dd>", label);
  oc__rbuf_html(&r->html, value && value[0] ? value : "unknown");
  oc__rbuf_puts(&r->html, "</dd>");
  oc__rbuf_printf(&r->md, "- **%s:** ", label);
  oc__rbuf_md(&r->md, value && value[0] ? value : "unknown");
  oc__rbuf_puts(&r->md, "\n");
}

static void para(struct oc__report *r, const char *text) {
  oc__rbuf_puts(&r->html, "<p>");
  oc__rbuf_html(&r->html, text);
  oc__rbuf_puts(&r->html, "</p>\n");
  oc__rbuf_md(&r->md, text);
  oc__rbuf_puts(&r->md, "\n\n");
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median_of(double *v, size_t n) {
  if (n == 0) return NAN;
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The class of an op for the charts: conv2d splits by implementation
 * (depthwise, grouped, 1x1, kxk), other kinds are their own class. */
static void op_class(const struct oc__lut_point *p, char *buf, size_t size) {
  if (p->is_op && p->op.kind == oc_op_conv2d) {
    const struct oc_op *op = &p->op;
    if (op->g > 1 && op->g == op->cin && op->cin == op->cout)
      oc__strcpy(buf, size, "conv2d depthwise");
    else if (op->g > 1)
      oc__strcpy(buf, size, "conv2d grouped");
    else if (op->k == 1)
      oc__strcpy(buf, size, "conv2d 1x1");
    else
      oc__strcpy(buf, size, "conv2d kxk");
  } else {
    oc__strfmt(buf, size, "%s%s", p->kind, p->is_op ? "" : " (block)");
  }
}

static bool is_depthwise(const struct oc__lut_point *p) {
  return p->is_op && p->op.kind == oc_op_conv2d && p->op.g > 1 && p->op.g == p->op.cin &&
         p->op.cin == p->op.cout;
}

/* One color per class on every chart. */
static int class_color(const char *name) {
  static const char *const known[] = {
      "conv2d depthwise", "conv2d 1x1", "conv2d kxk", "conv2d grouped", "fc", "gap", "add", "mul"};
  static const int colors[] = {0, 1, 2, 3, 4, 5, 6, 12};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(name, known[i]) == 0) return colors[i];
  uint64_t h = oc__hash64_str(OC__HASH_SEED, name);
  return 6 + (int)(h % 8);
}

/* Series of a plot by class name; the classes past the plot's room share
 * an "other" series. */
static struct oc__series *series_for(struct oc__plot *plot, const char *name, enum oc__mark mark,
                                     size_t reserve) {
  for (size_t k = 0; k < plot->n_series; k++)
    if (strcmp(plot->series[k].name, name) == 0) return &plot->series[k];
  if (plot->n_series + reserve + 1 < OC__PLOT_MAX_SERIES)
    return oc__plot_series(plot, name, mark, class_color(name));
  for (size_t k = 0; k < plot->n_series; k++)
    if (strcmp(plot->series[k].name, "other") == 0) return &plot->series[k];
  return oc__plot_series(plot, "other", mark, 13);
}

/* ---- device ---------------------------------------------------------------------------------- */

static enum oc_status roofline_plot(struct oc__report *r) {
  const struct oc_device_profile *p = r->profile;
  bool all_cores = r->lut != NULL && r->lut_threads > 1;
  double peak = all_cores ? p->peak_gflops_all_cores : p->peak_gflops_one_core;
  struct oc__plot plot;
  char title[256];
  oc__strfmt(title, sizeof title, "Roofline (%s)%s", all_cores ? "all cores" : "one core",
             r->n_rows ? " with the LUT's ops" : "");
  oc__plot_init(&plot, "roofline", title, "arithmetic intensity, FLOP/byte", "GFLOP/s", true, true);
  enum oc_status st = oc_status_ok;
  /* The x range the ceilings are drawn over: the ops', and at least 1/32 .. 256. */
  double xlo = 1.0 / 32, xhi = 256, ylo = NAN;
  for (size_t i = 0; i < r->n_rows; i++) {
    const struct oc__lut_point *q = &r->rows[i];
    if (q->flops <= 0 || q->bytes <= 0 || !(q->median_us > 0)) continue;
    double x = (double)q->flops / (double)q->bytes;
    double y = (double)q->flops / (q->median_us * 1e3);
    xlo = fmin(xlo, x);
    xhi = fmax(xhi, x);
    ylo = isnan(ylo) ? y : fmin(ylo, y);
  }
  if (isfinite(peak) && peak > 0) {
    struct oc__series *s = oc__plot_series(&plot, "peak FP32 (FMA)", oc__mark_line, 7);
    st = oc__series_add(s, xlo, peak, NULL);
    if (st == oc_status_ok) st = oc__series_add(s, xhi, peak, NULL);
    int color = 8; /* levels: 8 .. 11, apart from the classes' colors */
    for (int l = 0; l < p->n_levels && st == oc_status_ok; l++) {
      const struct oc_memory_level *lv = &p->levels[l];
      double bw = lv->read_gbs;
      bool dram = strcmp(lv->name, "DRAM") == 0;
      if (dram && all_cores && isfinite(p->dram_read_gbs_all_cores))
        bw = p->dram_read_gbs_all_cores;
      if (!(bw > 0)) continue;
      char name[64];
      oc__strfmt(name, sizeof name, "%s read %.0f GB/s", lv->name, bw);
      s = oc__plot_series(&plot, name, dram ? oc__mark_line : oc__mark_dashed, color++);
      if (s == NULL) break;
      double ridge = peak / bw;
      st = oc__series_add(s, xlo, bw * xlo, NULL);
      if (st == oc_status_ok && ridge > xlo) st = oc__series_add(s, ridge, peak, NULL);
      ylo = isnan(ylo) ? bw * xlo : fmin(ylo, bw * xlo);
    }
    plot.y_max = peak * 1.8;
  }
  char cls[64];
  for (size_t i = 0; i < r->n_rows && st == oc_status_ok; i++) {
    const struct oc__lut_point *q = &r->rows[i];
    if (q->flops <= 0 || q->bytes <= 0 || !(q->median_us > 0)) continue;
    op_class(q, cls, sizeof cls);
    struct oc__series *s = series_for(&plot, cls, oc__mark_points, 0);
    if (s == NULL) break;
    st = oc__series_add(s, (double)q->flops / (double)q->bytes,
                        (double)q->flops / (q->median_us * 1e3), q->key);
  }
  if (isfinite(ylo)) plot.y_min = ylo / 1.5;
  if (st == oc_status_ok) {
    char caption[512];
    oc__strfmt(caption, sizeof caption,
               "Ceilings from the profile: peak FP32 FLOP/s and the read bandwidth of each "
               "memory level (%s). %s",
               all_cores ? "all cores" : "one core",
               r->n_rows ? "Each point is a LUT row: its FLOPs over its compulsory bytes "
                           "(inputs, weights, outputs), and FLOPs over its median latency."
                         : "Give a LUT (--lut) to place ops on it.");
    st = oc__report_emit_plot(r, &plot, caption);
  }
  oc__plot_free(&plot);
  return st;
}

static enum oc_status bandwidth_plot(struct oc__report *r) {
  const struct oc_device_profile *p = r->profile;
  if (p->n_points == 0) return oc_status_ok;
  struct oc__plot plot;
  oc__plot_init(&plot, "bandwidth", "Memory bandwidth by working set (one core)",
                "working set, bytes", "GB/s", true, false);
  plot.y_min = 0;
  struct oc__series *read = oc__plot_series(&plot, "read", oc__mark_line, 0);
  struct oc__series *copy = oc__plot_series(&plot, "copy (read + write)", oc__mark_line, 1);
  struct oc__series *rp = oc__plot_series(&plot, "read (points)", oc__mark_points, 0);
  struct oc__series *cp = oc__plot_series(&plot, "copy (points)", oc__mark_points, 1);
  rp->in_legend = cp->in_legend = false;
  enum oc_status st = oc_status_ok;
  for (int i = 0; i < p->n_points && st == oc_status_ok; i++) {
    const struct oc_bandwidth_point *b = &p->points[i];
    char label[64];
    oc__fmt_bytes((double)b->bytes, label, sizeof label);
    st = oc__series_add(read, (double)b->bytes, b->read_gbs, NULL);
    if (st == oc_status_ok) st = oc__series_add(copy, (double)b->bytes, b->copy_gbs, NULL);
    if (st == oc_status_ok) st = oc__series_add(rp, (double)b->bytes, b->read_gbs, label);
    if (st == oc_status_ok) st = oc__series_add(cp, (double)b->bytes, b->copy_gbs, label);
  }
  for (int l = 0; l < p->n_levels; l++) {
    const struct oc_memory_level *lv = &p->levels[l];
    if (lv->size_bytes <= 0) continue;
    char label[64], size[32];
    oc__fmt_bytes((double)lv->size_bytes, size, sizeof size);
    oc__strfmt(label, sizeof label, "%s %s", lv->name, size);
    oc__plot_rule(&plot, true, (double)lv->size_bytes, label, 7);
  }
  if (st == oc_status_ok)
    st = oc__report_emit_plot(r, &plot,
                              "One core reading, and copying half the working set into the "
                              "other half; dashed lines are the cache sizes the device reports.");
  oc__plot_free(&plot);
  return st;
}

enum oc_status oc__report_device(struct oc__report *r) {
  if (r->profile == NULL) {
    oc__report_section(r, "device", "Device",
                       "No device profile was given. Make one with `opcost probe device -t cpu "
                       "-o profile.json` and pass it with --profile.");
    oc__report_section_end(r);
    return oc_status_ok;
  }
  const struct oc_device_profile *p = r->profile;
  const struct oc_device_info *d = &p->device;
  oc__report_section(r, "device", "Device", NULL);
  char buf[768], a[32], b[32], c[32];
  oc__rbuf_puts(&r->html, "<dl class=\"card\">");
  oc__strfmt(buf, sizeof buf, "%s%s%s", d->name, d->vendor[0] ? " by " : "", d->vendor);
  card_row(r, "device", buf);
  oc__strfmt(buf, sizeof buf, "%s (fingerprint %s)", d->target, d->fingerprint);
  card_row(r, "target", buf);
  card_row(r, "architecture", d->arch);
  oc__strfmt(buf, sizeof buf, "%d logical, %d physical; the all-core figures use %d",
             (int)d->cores_logical, (int)d->cores_physical, p->cores_used);
  card_row(r, "cores", buf);
  oc__fmt_bytes((double)d->l1d_bytes, a, sizeof a);
  oc__fmt_bytes((double)d->l2_bytes, b, sizeof b);
  oc__fmt_bytes((double)d->l3_bytes, c, sizeof c);
  oc__strfmt(buf, sizeof buf, "L1d %s, L2 %s, L3 %s", d->l1d_bytes > 0 ? a : "unknown",
             d->l2_bytes > 0 ? b : "unknown", d->l3_bytes > 0 ? c : "unknown");
  card_row(r, "caches", buf);
  oc__fmt_bytes((double)d->memory_bytes, a, sizeof a);
  card_row(r, "memory", d->memory_bytes > 0 ? a : "unknown");
  oc__strfmt(buf, sizeof buf, "%.1f GFLOP/s on one core, %.1f GFLOP/s on %d cores (%s FMA kernel)",
             p->peak_gflops_one_core, p->peak_gflops_all_cores, p->cores_used, p->kernel_isa);
  card_row(r, "peak FP32", buf);
  oc__strfmt(buf, sizeof buf, "%.1f GB/s read on all cores; ridge point %.2f FLOP/byte",
             p->dram_read_gbs_all_cores, p->ridge_all_cores);
  card_row(r, "DRAM", buf);
  oc__strfmt(buf, sizeof buf, "%s; resolution %.1f ns, read overhead %.1f ns", p->timer.name,
             p->timer.resolution_ns, p->timer.overhead_ns);
  card_row(r, "timer", buf);
  card_row(r, "runtime", d->runtime);
  oc__strfmt(buf, sizeof buf, "%.300s", d->isa);
  card_row(r, "ISA features", buf);
  oc__strfmt(buf, sizeof buf, "%s; governor %s; load %.2f; %s%s", p->env.kernel,
             p->env.governor[0] ? p->env.governor : "unknown", p->env.load1, p->env.measured_at,
             p->quick ? "; quick characterization" : "");
  card_row(r, "measured", buf);
  oc__rbuf_puts(&r->html, "</dl>\n");

  if (p->n_levels > 0) {
    oc__rbuf_puts(&r->html, "<table><tr><th>level</th><th>size</th><th>working set</th>"
                            "<th>read GB/s</th><th>copy GB/s</th><th>latency ns</th>"
                            "<th>ridge FLOP/B</th></tr>");
    oc__rbuf_puts(&r->md, "\n| level | size | read GB/s | copy GB/s | latency ns | ridge FLOP/B |\n"
                          "|---|---|---|---|---|---|\n");
    for (int l = 0; l < p->n_levels; l++) {
      const struct oc_memory_level *lv = &p->levels[l];
      oc__fmt_bytes((double)lv->size_bytes, a, sizeof a);
      oc__fmt_bytes((double)lv->working_set, b, sizeof b);
      oc__rbuf_puts(&r->html, "<tr>");
      td_text(&r->html, lv->name);
      td_text(&r->html, lv->size_bytes > 0 ? a : "-");
      td_text(&r->html, b);
      td_num(&r->html, "%.1f", lv->read_gbs);
      td_num(&r->html, "%.1f", lv->copy_gbs);
      td_num(&r->html, "%.2f", lv->latency_ns);
      td_num(&r->html, "%.2f", lv->ridge_flops_per_byte);
      oc__rbuf_puts(&r->html, "</tr>");
      oc__rbuf_printf(&r->md, "| %s | %s", lv->name, lv->size_bytes > 0 ? a : "-");
      md_num(&r->md, "%.1f", lv->read_gbs);
      md_num(&r->md, "%.1f", lv->copy_gbs);
      md_num(&r->md, "%.2f", lv->latency_ns);
      md_num(&r->md, "%.2f", lv->ridge_flops_per_byte);
      oc__rbuf_puts(&r->md, " |\n");
    }
    oc__rbuf_puts(&r->html, "</table>\n");
    oc__rbuf_puts(&r->md, "\n");
  }
  if (r->lut != NULL && strcmp(r->lut_fp, d->fingerprint) != 0) {
    oc__strfmt(buf, sizeof buf,
               "The profile is of device %s; the LUT rows placed on the roofline are of device "
               "%s.",
               d->fingerprint, r->lut_fp);
    para(r, buf);
  }
  enum oc_status st = roofline_plot(r);
  if (st == oc_status_ok) st = bandwidth_plot(r);
  oc__report_section_end(r);
  return st;
}

/* ---- ops: latency against FLOPs ---------------------------------------------------------- */

static const char *no_lut =
    "No LUT was given. Make one with `opcost lut build -t cpu -s SPACE -o lut.db` (or from "
    "NET.json files) and pass it with --lut.";

struct class_stats {
  char name[64];
  size_t n;
  double *lat, *gflops;
};

enum oc_status oc__report_ops(struct oc__report *r) {
  if (r->n_rows == 0) {
    oc__report_section(r, "ops", "Latency against FLOPs", no_lut);
    oc__report_section_end(r);
    return oc_status_ok;
  }
  oc__report_section(r, "ops", "Latency against FLOPs", NULL);
  struct oc__plot plot;
  oc__plot_init(&plot, "latency-flops", "Latency against FLOPs, per kind of op", "FLOPs",
                "median latency, us", true, true);
  enum oc_status st = oc_status_ok;
  struct class_stats cls[OC__PLOT_MAX_SERIES];
  memset(cls, 0, sizeof cls);
  size_t n_cls = 0;
  char name[64];
  for (size_t i = 0; i < r->n_rows && st == oc_status_ok; i++) {
    const struct oc__lut_point *q = &r->rows[i];
    op_class(q, name, sizeof name);
    struct oc__series *s = series_for(&plot, name, oc__mark_points, 0);
    if (s == NULL) break;
    st = oc__series_add(s, (double)q->flops, q->median_us, q->key);
    size_t c = 0;
    while (c < n_cls && strcmp(cls[c].name, s->name) != 0) c++;
    if (c == n_cls && n_cls < OC__PLOT_MAX_SERIES) {
      oc__strcpy(cls[n_cls].name, sizeof cls[n_cls].name, s->name);
      cls[n_cls].lat = malloc(r->n_rows * sizeof(double));
      cls[n_cls].gflops = malloc(r->n_rows * sizeof(double));
      if (cls[n_cls].lat == NULL || cls[n_cls].gflops == NULL) {
        free(cls[n_cls].lat);
        free(cls[n_cls].gflops);
        st = oc__fail(oc_status_out_of_memory, "out of memory");
        break;
      }
      n_cls++;
    }
    if (c < n_cls) {
      cls[c].lat[cls[c].n] = q->median_us;
      cls[c].gflops[cls[c].n] = q->median_us > 0 ? (double)q->flops / (q->median_us * 1e3) : NAN;
      cls[c].n++;
    }
  }
  if (st == oc_status_ok)
    st = oc__report_emit_plot(r, &plot,
                              "Each point is one LUT row (hover for its key). Ops of one kind "
                              "with the same FLOPs can differ several-fold: shape, kernel size "
                              "and memory traffic decide, not FLOPs alone.");
  if (st == oc_status_ok) {
    oc__rbuf_puts(&r->html, "<table><tr><th>kind</th><th>rows</th><th>min us</th>"
                            "<th>median us</th><th>max us</th><th>median GFLOP/s</th></tr>");
    oc__rbuf_puts(&r->md, "\n| kind | rows | min us | median us | max us | median GFLOP/s |\n"
                          "|---|---|---|---|---|---|\n");
    for (size_t c = 0; c < n_cls; c++) {
      double g = median_of(cls[c].gflops, cls[c].n);
      double med = median_of(cls[c].lat, cls[c].n);
      double lo = cls[c].lat[0], hi = cls[c].lat[cls[c].n - 1];
      oc__rbuf_puts(&r->html, "<tr>");
      td_text(&r->html, cls[c].name);
      td_num(&r->html, "%.0f", (double)cls[c].n);
      td_num(&r->html, "%.2f", lo);
      td_num(&r->html, "%.2f", med);
      td_num(&r->html, "%.2f", hi);
      td_num(&r->html, "%.2f", g);
      oc__rbuf_puts(&r->html, "</tr>");
      oc__rbuf_puts(&r->md, "| ");
      oc__rbuf_md(&r->md, cls[c].name);
      oc__rbuf_printf(&r->md, " | %zu", cls[c].n);
      md_num(&r->md, "%.2f", lo);
      md_num(&r->md, "%.2f", med);
      md_num(&r->md, "%.2f", hi);
      md_num(&r->md, "%.2f", g);
      oc__rbuf_puts(&r->md, " |\n");
    }
    oc__rbuf_puts(&r->html, "</table>\n");
  }
  for (size_t c = 0; c < n_cls; c++) {
    free(cls[c].lat);
    free(cls[c].gflops);
  }
  oc__plot_free(&plot);
  oc__report_section_end(r);
  return st;
}

/* ---- LUT: summary and heat maps ------------------------------------------------------------ */

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Sorted distinct values of v (n of them) in place; returns the count. */
static size_t uniq_i32(int32_t *v, size_t n) {
  if (n == 0) return 0;
  qsort(v, n, sizeof *v, cmp_i32);
  size_t k = 1;
  for (size_t i = 1; i < n; i++)
    if (v[i] != v[k - 1]) v[k++] = v[i];
  return k;
}

static size_t index_of(const int32_t *v, size_t n, int32_t x) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == x) return i;
  return n;
}

/* Depthwise latency by kernel size and channels at the input size (and
 * stride 1) with the most rows; and depthwise throughput (GMAC/s) by kernel
 * size and stride over every input size. */
static enum oc_status depthwise_maps(struct oc__report *r, size_t n_dw) {
  int32_t *hs = malloc(n_dw * sizeof *hs), *ks = malloc(2 * n_dw * sizeof *ks),
          *cs = malloc(n_dw * sizeof *cs);
  double *sum = NULL, *cnt = NULL;
  double **thr = NULL;
  size_t *thr_n = NULL;
  struct oc__heatmap lat, tp;
  memset(&lat, 0, sizeof lat);
  memset(&tp, 0, sizeof tp);
  enum oc_status st = oc_status_ok;
  if (hs == NULL || ks == NULL || cs == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  /* The stride-1 input size with the most rows. */
  size_t nh = 0;
  for (size_t i = 0; i < r->n_rows; i++)
    if (is_depthwise(&r->rows[i]) && r->rows[i].op.s == 1) hs[nh++] = r->rows[i].op.h;
  int32_t best_h = -1;
  size_t best_n = 0;
  qsort(hs, nh, sizeof *hs, cmp_i32);
  for (size_t i = 0; i < nh;) {
    size_t j = i;
    while (j < nh && hs[j] == hs[i]) j++;
    if (j - i > best_n) {
      best_n = j - i;
      best_h = hs[i];
    }
    i = j;
  }
  if (best_h > 0) {
    size_t nk = 0, nc = 0;
    for (size_t i = 0; i < r->n_rows; i++) {
      const struct oc__lut_point *q = &r->rows[i];
      if (!is_depthwise(q) || q->op.s != 1 || q->op.h != best_h) continue;
      ks[nk++] = q->op.k;
      cs[nc++] = q->op.cin;
    }
    nk = uniq_i32(ks, nk);
    nc = uniq_i32(cs, nc);
    char title[256];
    oc__strfmt(title, sizeof title,
               "Depthwise conv2d latency by kernel size and channels (input %dx%d, stride 1)",
               (int)best_h, (int)best_h);
    st = oc__heatmap_init(&lat, "depthwise-latency", title, nk, nc);
    if (st != oc_status_ok) goto done;
    oc__strcpy(lat.row_label, sizeof lat.row_label, "kernel");
    oc__strcpy(lat.col_label, sizeof lat.col_label, "channels");
    oc__strcpy(lat.unit, sizeof lat.unit, "us");
    lat.log_color = true;
    sum = calloc(nk * nc, sizeof *sum);
    cnt = calloc(nk * nc, sizeof *cnt);
    if (sum == NULL || cnt == NULL) {
      st = oc__fail(oc_status_out_of_memory, "out of memory");
      goto done;
    }
    for (size_t i = 0; i < r->n_rows; i++) {
      const struct oc__lut_point *q = &r->rows[i];
      if (!is_depthwise(q) || q->op.s != 1 || q->op.h != best_h) continue;
      size_t a = index_of(ks, nk, q->op.k), b = index_of(cs, nc, q->op.cin);
      sum[a * nc + b] += q->median_us;
      cnt[a * nc + b] += 1;
    }
    char name[32];
    for (size_t a = 0; a < nk && st == oc_status_ok; a++) {
      oc__strfmt(name, sizeof name, "%dx%d", (int)ks[a], (int)ks[a]);
      st = oc__heatmap_set_row(&lat, a, name);
    }
    for (size_t b = 0; b < nc && st == oc_status_ok; b++) {
      oc__strfmt(name, sizeof name, "%d", (int)cs[b]);
      st = oc__heatmap_set_col(&lat, b, name);
    }
    for (size_t i = 0; i < nk * nc; i++)
      if (cnt[i] > 0) lat.values[i] = sum[i] / cnt[i];
    if (st == oc_status_ok)
      st = oc__report_emit_heatmap(r, &lat,
                                   "Median latency of depthwise convolutions at one input size "
                                   "(the one with the most rows), averaged over activations; "
                                   "grey cells were not measured.");
    if (st != oc_status_ok) goto done;
  }
  /* Throughput over every input size: rows kernel x stride, columns channels. */
  size_t nk = 0, nc = 0;
  for (size_t i = 0; i < r->n_rows; i++) {
    const struct oc__lut_point *q = &r->rows[i];
    if (!is_depthwise(q)) continue;
    ks[nk++] = q->op.k * 16 + q->op.s;
    cs[nc++] = q->op.cin;
  }
  nk = uniq_i32(ks, nk);
  nc = uniq_i32(cs, nc);
  st = oc__heatmap_init(&tp, "depthwise-throughput",
                        "Depthwise conv2d throughput by kernel size, stride and channels "
                        "(every input size)",
                        nk, nc);
  if (st != oc_status_ok) goto done;
  oc__strcpy(tp.row_label, sizeof tp.row_label, "kernel, stride");
  oc__strcpy(tp.col_label, sizeof tp.col_label, "channels");
  oc__strcpy(tp.unit, sizeof tp.unit, "GMAC/s");
  thr = calloc(nk * nc, sizeof *thr);
  thr_n = calloc(nk * nc, sizeof *thr_n);
  if (thr == NULL || thr_n == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < r->n_rows; i++) {
    const struct oc__lut_point *q = &r->rows[i];
    if (!is_depthwise(q) || !(q->median_us > 0)) continue;
    size_t a = index_of(ks, nk, q->op.k * 16 + q->op.s), b = index_of(cs, nc, q->op.cin);
    size_t cell = a * nc + b;
    if (thr[cell] == NULL && (thr[cell] = malloc(n_dw * sizeof(double))) == NULL) {
      st = oc__fail(oc_status_out_of_memory, "out of memory");
      goto done;
    }
    thr[cell][thr_n[cell]++] = (double)q->macs / (q->median_us * 1e3);
  }
  char name[48];
  for (size_t a = 0; a < nk && st == oc_status_ok; a++) {
    oc__strfmt(name, sizeof name, "%dx%d, s%d", (int)(ks[a] / 16), (int)(ks[a] / 16),
               (int)(ks[a] % 16));
    st = oc__heatmap_set_row(&tp, a, name);
  }
  for (size_t b = 0; b < nc && st == oc_status_ok; b++) {
    oc__strfmt(name, sizeof name, "%d", (int)cs[b]);
    st = oc__heatmap_set_col(&tp, b, name);
  }
  for (size_t i = 0; i < nk * nc; i++)
    if (thr_n[i] > 0) tp.values[i] = median_of(thr[i], thr_n[i]);
  if (st == oc_status_ok)
    st = oc__report_emit_heatmap(r, &tp,
                                 "Multiply-accumulates per second, the median over input sizes: "
                                 "where a kernel size runs a slower code path, its row is darker.");
done:
  if (thr != NULL)
    for (size_t i = 0; i < tp.n_rows * tp.n_cols; i++) free(thr[i]);
  free(thr);
  free(thr_n);
  free(sum);
  free(cnt);
  free(hs);
  free(ks);
  free(cs);
  oc__heatmap_free(&lat);
  oc__heatmap_free(&tp);
  return st;
}

struct kind_sum {
  char kind[32];
  int64_t rows;
  double us;
};

enum oc_status oc__report_lut(struct oc__report *r) {
  if (r->lut == NULL) {
    oc__report_section(r, "lut", "LUT", no_lut);
    oc__report_section_end(r);
    return oc_status_ok;
  }
  oc__report_section(r, "lut", "LUT", NULL);
  char buf[512];
  oc__rbuf_puts(&r->html, "<dl class=\"card\">");
  card_row(r, "file", r->in->lut);
  oc__strfmt(buf, sizeof buf, "%s (%s), fingerprint %s", r->lut_device_name, r->lut_target,
             r->lut_fp);
  card_row(r, "device", buf);
  oc__strfmt(buf, sizeof buf, "%d thread%s, %s granularity", (int)r->lut_threads,
             r->lut_threads == 1 ? "" : "s", oc_lut_granularity_name(r->lut_granularity));
  card_row(r, "rows of", buf);
  oc__strfmt(buf, sizeof buf, "%lld%s", (long long)r->lut_total_rows,
             (int64_t)r->n_rows < r->lut_total_rows ? " (charts show an even sample)" : "");
  card_row(r, "rows", buf);
  double overhead = 0;
  if (oc_lut_get_overhead(r->lut, r->lut_fp, r->lut_threads, &overhead) == oc_status_ok &&
      overhead > 0) {
    oc__strfmt(buf, sizeof buf, "%.1f us per network", overhead);
    card_row(r, "overhead term", buf);
  }
  oc__rbuf_puts(&r->html, "</dl>\n");
  /* Rows and summed medians per kind. */
  struct kind_sum kinds[64];
  size_t n_kinds = 0;
  size_t n_dw = 0;
  for (size_t i = 0; i < r->n_rows; i++) {
    const struct oc__lut_point *q = &r->rows[i];
    n_dw += is_depthwise(q);
    size_t k = 0;
    while (k < n_kinds && strcmp(kinds[k].kind, q->kind) != 0) k++;
    if (k == n_kinds) {
      if (n_kinds == sizeof kinds / sizeof kinds[0]) continue;
      memset(&kinds[k], 0, sizeof kinds[k]);
      oc__strcpy(kinds[k].kind, sizeof kinds[k].kind, q->kind);
      n_kinds++;
    }
    kinds[k].rows++;
    kinds[k].us += q->median_us;
  }
  oc__rbuf_puts(&r->html, "<table><tr><th>kind</th><th>rows</th><th>sum of medians</th></tr>");
  oc__rbuf_puts(&r->md, "\n| kind | rows | sum of medians |\n|---|---|---|\n");
  for (size_t k = 0; k < n_kinds; k++) {
    char t[32];
    oc__fmt_us(kinds[k].us, t, sizeof t);
    oc__rbuf_puts(&r->html, "<tr>");
    td_text(&r->html, kinds[k].kind);
    td_num(&r->html, "%.0f", (double)kinds[k].rows);
    td_text(&r->html, t);
    oc__rbuf_puts(&r->html, "</tr>");
    oc__rbuf_puts(&r->md, "| ");
    oc__rbuf_md(&r->md, kinds[k].kind);
    oc__rbuf_printf(&r->md, " | %lld | %s |\n", (long long)kinds[k].rows, t);
  }
  oc__rbuf_puts(&r->html, "</table>\n");
  oc__rbuf_puts(&r->md, "\n");
  enum oc_status st = oc_status_ok;
  if (n_dw == 0)
    para(r, "The LUT has no depthwise convolutions: no heat map of them.");
  else
    st = depthwise_maps(r, n_dw);
  oc__report_section_end(r);
  return st;
}

/* ---- accuracy: predicted against measured ------------------------------------------------ */

/* One set of (measured, predicted[, interval]) pairs. */
struct cmp_set {
  char name[128];
  size_t n, cap;
  double *meas, *pred, *lo, *hi;
  char **label;
  bool interval;
  json_t *given_metrics; /* metrics from an evaluation file when it lists no items */
};

static enum oc_status cmp_add(struct cmp_set *c, double meas, double pred, double lo, double hi,
                              const char *label) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 64;
    double *a = realloc(c->meas, cap * sizeof *a);
    if (a) c->meas = a;
    double *b = a ? realloc(c->pred, cap * sizeof *b) : NULL;
    if (b) c->pred = b;
    double *d = b ? realloc(c->lo, cap * sizeof *d) : NULL;
    if (d) c->lo = d;
    double *e = d ? realloc(c->hi, cap * sizeof *e) : NULL;
    if (e) c->hi = e;
    char **l = e ? realloc(c->label, cap * sizeof *l) : NULL;
    if (l == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
    c->label = l;
    c->cap = cap;
  }
  c->label[c->n] = NULL;
  if (label != NULL) {
    size_t len = strlen(label) + 1;
    c->label[c->n] = malloc(len);
    if (c->label[c->n] == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
    memcpy(c->label[c->n], label, len);
  }
  c->meas[c->n] = meas;
  c->pred[c->n] = pred;
  c->lo[c->n] = lo;
  c->hi[c->n] = hi;
  c->n++;
  return oc_status_ok;
}

static void cmp_free(struct cmp_set *c) {
  for (size_t i = 0; i < c->n; i++) free(c->label[i]);
  free(c->label);
  free(c->meas);
  free(c->pred);
  free(c->lo);
  free(c->hi);
  json_decref(c->given_metrics);
  memset(c, 0, sizeof *c);
}

/* Metrics of the pairs with a positive measurement and prediction. */
static bool cmp_metrics(const struct cmp_set *c, struct oc_model_metrics *m) {
  size_t n = 0;
  double *p = malloc((c->n ? c->n : 1) * 4 * sizeof *p);
  if (p == NULL) return false;
  double *y = p + c->n, *lo = y + c->n, *hi = lo + c->n;
  bool intervals = c->interval;
  for (size_t i = 0; i < c->n; i++) {
    if (!(c->meas[i] > 0) || !isfinite(c->meas[i]) || !isfinite(c->pred[i])) continue;
    p[n] = c->pred[i];
    y[n] = c->meas[i];
    lo[n] = c->lo[i];
    hi[n] = c->hi[i];
    if (!isfinite(lo[n]) || !isfinite(hi[n])) intervals = false;
    n++;
  }
  bool ok = n > 0 && oc_model_metrics_compute(p, y, intervals ? lo : NULL, intervals ? hi : NULL, n,
                                              m) == oc_status_ok;
  free(p);
  return ok;
}

static const char *str_or(const json_t *v, const char *fallback) {
  const char *s = json_string_value(v);
  return s != NULL ? s : fallback;
}

static double jnum(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The pairs every source gives. */
static enum oc_status gather_pairs(struct oc__report *r, struct cmp_set *sets, size_t max,
                                   size_t *n_sets, double *model_pred, double *lut_pred) {
  enum oc_status st = oc_status_ok;
  size_t k = 0;
  const struct oc_model_netset *nets = r->nets;
  /* A model on the measured networks. */
  if (r->model != NULL && nets != NULL && nets->n > 0 && k < max) {
    struct cmp_set *c = &sets[k++];
    oc__strfmt(c->name, sizeof c->name, "model on %s", base_name(r->in->nets));
    c->interval = true;
    double *lo = malloc(nets->n * 2 * sizeof *lo);
    if (lo == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
    double *hi = lo + nets->n;
    struct oc_model_metrics m;
    st = oc_model_eval_nets(r->model, nets, model_pred, lo, hi, &m);
    for (size_t i = 0; i < nets->n && st == oc_status_ok; i++)
      st = cmp_add(c, nets->items[i].measured_us, model_pred[i], lo[i], hi[i], nets->items[i].name);
    free(lo);
    if (st != oc_status_ok) return st;
  }
  /* The model's own out-of-fold network predictions (from fitting). */
  if (r->model != NULL && k < max) {
    const json_t *rows = json_object_get(oc_model_validation(r->model), "network_rows");
    size_t i;
    const json_t *row;
    struct cmp_set *c = &sets[k];
    oc__strfmt(c->name, sizeof c->name, "model, out of fold (training nets)");
    json_array_foreach(rows, i, row) {
      double meas = jnum(row, "measured_us"), pred = jnum(row, "cv_pred_us");
      if (!isfinite(pred)) continue;
      st = cmp_add(c, meas, pred, NAN, NAN, json_string_value(json_object_get(row, "name")));
      if (st != oc_status_ok) return st;
    }
    if (c->n > 0)
      k++;
    else
      cmp_free(c);
  }
  /* The LUT: sum of kernel medians (misses from the profile's roofline). */
  if (r->cache != NULL && nets != NULL && nets->n > 0 && k < max) {
    struct oc_lut_roofline roof;
    bool have_roof = r->profile != NULL && oc_lut_roofline_from_profile(r->profile, r->lut_threads,
                                                                        &roof) == oc_status_ok;
    struct cmp_set *c = &sets[k];
    oc__strfmt(c->name, sizeof c->name, "LUT: sum of kernel medians");
    for (size_t i = 0; i < nets->n && st == oc_status_ok; i++) {
      double total = NAN;
      int32_t misses = 0;
      if (oc_lut_predict_us(r->cache, nets->items[i].net, r->lut_granularity,
                            have_roof ? &roof : NULL, false, &total, &misses) != oc_status_ok)
        continue; /* a miss without a roofline: not comparable */
      lut_pred[i] = total;
      st = cmp_add(c, nets->items[i].measured_us, total, NAN, NAN, nets->items[i].name);
    }
    oc_errclear();
    if (st != oc_status_ok) return st;
    if (c->n > 0)
      k++;
    else
      cmp_free(c);
  }
  /* An evaluation file. */
  if (r->eval != NULL && k < max) {
    struct cmp_set *c = &sets[k++];
    const json_t *items = json_object_get(r->eval, "networks");
    const char *label_key = "name";
    if (!json_is_array(items)) {
      items = json_object_get(r->eval, "list");
      label_key = "item";
    }
    const char *cv = json_string_value(json_object_get(r->eval, "cv"));
    oc__strfmt(c->name, sizeof c->name, "%s (%s)", cv ? "cross-validation" : "evaluation",
               base_name(r->in->eval));
    if (cv != NULL)
      oc__strfmt(c->name, sizeof c->name, "cross-validation %s of %s (%s)", cv,
                 str_or(json_object_get(r->eval, "items"), "items"), base_name(r->in->eval));
    size_t i;
    const json_t *it;
    c->interval = true;
    json_array_foreach(items, i, it) {
      st = cmp_add(c, jnum(it, "measured_us"), jnum(it, "predicted_us"), jnum(it, "lo_us"),
                   jnum(it, "hi_us"), json_string_value(json_object_get(it, label_key)));
      if (st != oc_status_ok) return st;
    }
    if (c->n == 0) {
      const json_t *m = json_object_get(r->eval, "metrics");
      if (!json_is_object(m)) m = json_object_get(r->eval, "overall");
      if (json_is_object(m)) c->given_metrics = json_incref((json_t *)m);
    }
  }
  /* Hardware in the loop of a search. */
  const json_t *hil = json_object_get(r->search_summary, "hil");
  const json_t *cands = json_object_get(hil, "candidates");
  if (json_array_size(cands) > 0 && k < max) {
    struct cmp_set *c = &sets[k++];
    oc__strfmt(c->name, sizeof c->name, "search HIL (prediction before correction)");
    size_t i;
    const json_t *it;
    json_array_foreach(cands, i, it) {
      char label[64];
      oc__strfmt(label, sizeof label, "candidate %lld", (long long)jnum(it, "id"));
      st = cmp_add(c, jnum(it, "measured_us"), jnum(it, "predicted_us"), NAN, NAN, label);
      if (st != oc_status_ok) return st;
    }
  }
  *n_sets = k;
  return st;
}

static void metrics_row(struct oc__report *r, const char *name, const struct oc_model_metrics *m) {
  oc__rbuf_puts(&r->html, "<tr>");
  td_text(&r->html, name);
  td_num(&r->html, "%.0f", (double)m->n);
  td_num(&r->html, "%.1f %%", 100 * m->mape);
  td_num(&r->html, "%.1f %%", 100 * m->rmspe);
  td_num(&r->html, "%.1f %%", 100 * m->within5);
  td_num(&r->html, "%.1f %%", 100 * m->within10);
  td_num(&r->html, "%.1f %%", 100 * m->p95_ape);
  td_num(&r->html, "%.1f %%", 100 * m->max_ape);
  td_num(&r->html, "%.1f %%", 100 * m->under);
  td_num(&r->html, "%.3f", m->kendall_tau);
  td_num(&r->html, "%.3f", m->spearman_rho);
  td_num(&r->html, "%.1f %%", 100 * m->coverage);
  oc__rbuf_puts(&r->html, "</tr>");
  oc__rbuf_puts(&r->md, "| ");
  oc__rbuf_md(&r->md, name);
  oc__rbuf_printf(&r->md, " | %zu", m->n);
  md_num(&r->md, "%.1f %%", 100 * m->mape);
  md_num(&r->md, "%.1f %%", 100 * m->within5);
  md_num(&r->md, "%.1f %%", 100 * m->within10);
  md_num(&r->md, "%.1f %%", 100 * m->p95_ape);
  md_num(&r->md, "%.1f %%", 100 * m->under);
  md_num(&r->md, "%.3f", m->kendall_tau);
  md_num(&r->md, "%.1f %%", 100 * m->coverage);
  oc__rbuf_puts(&r->md, " |\n");
}

static void given_metrics(const json_t *j, struct oc_model_metrics *m) {
  memset(m, 0, sizeof *m);
  m->n = (size_t)jnum(j, "n");
  m->mape = jnum(j, "mape");
  m->rmspe = jnum(j, "rmspe");
  m->within5 = jnum(j, "within5");
  m->within10 = jnum(j, "within10");
  m->p95_ape = jnum(j, "p95_ape");
  m->max_ape = jnum(j, "max_ape");
  m->under = jnum(j, "under");
  m->kendall_tau = jnum(j, "kendall_tau");
  m->spearman_rho = jnum(j, "spearman_rho");
  m->coverage = jnum(j, "coverage");
}

static void network_table(struct oc__report *r, const double *model_pred, const double *lut_pred) {
  const struct oc_model_netset *nets = r->nets;
  bool have_model = r->model != NULL, have_lut = r->cache != NULL;
  oc__rbuf_puts(&r->html, "<h3>Measured networks</h3><table><tr><th>network</th><th>family</th>"
                          "<th>measured</th>");
  if (have_model) oc__rbuf_puts(&r->html, "<th>model</th><th>error</th>");
  if (have_lut) oc__rbuf_puts(&r->html, "<th>LUT sum</th><th>error</th>");
  oc__rbuf_puts(&r->html, "</tr>");
  size_t shown = nets->n < 200 ? nets->n : 200;
  for (size_t i = 0; i < shown; i++) {
    const struct oc_model_net_sample *s = &nets->items[i];
    char t[32];
    oc__rbuf_puts(&r->html, "<tr>");
    td_text(&r->html, s->name);
    td_text(&r->html, s->family);
    oc__fmt_us(s->measured_us, t, sizeof t);
    td_text(&r->html, t);
    const double *preds[2] = {have_model ? model_pred : NULL, have_lut ? lut_pred : NULL};
    for (int k = 0; k < 2; k++) {
      if (preds[k] == NULL) continue;
      oc__fmt_us(preds[k][i], t, sizeof t);
      td_text(&r->html, t);
      td_num(&r->html, "%+.1f %%", 100 * (preds[k][i] - s->measured_us) / s->measured_us);
    }
    oc__rbuf_puts(&r->html, "</tr>");
  }
  oc__rbuf_puts(&r->html, "</table>\n");
  if (shown < nets->n)
    oc__rbuf_printf(&r->html, "<p class=\"muted\">%zu more in the data files.</p>",
                    nets->n - shown);
}

enum oc_status oc__report_accuracy(struct oc__report *r) {
  struct cmp_set sets[6];
  memset(sets, 0, sizeof sets);
  size_t n_sets = 0;
  size_t n_nets = r->nets ? r->nets->n : 0;
  double *model_pred = calloc(n_nets + 1, sizeof *model_pred);
  double *lut_pred = calloc(n_nets + 1, sizeof *lut_pred);
  struct oc__plot plot;
  oc__plot_init(&plot, "predicted-measured", "Predicted against measured latency",
                "measured latency, us", "predicted latency, us", true, true);
  enum oc_status st = oc_status_ok;
  if (model_pred == NULL || lut_pred == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n_nets; i++) model_pred[i] = lut_pred[i] = NAN;
  st = gather_pairs(r, sets, sizeof sets / sizeof sets[0], &n_sets, model_pred, lut_pred);
  if (st != oc_status_ok) goto done;
  size_t n_pairs = 0;
  for (size_t k = 0; k < n_sets; k++) n_pairs += sets[k].n + (sets[k].given_metrics != NULL);
  if (n_pairs == 0) {
    oc__report_section(r, "accuracy", "Predicted against measured",
                       "Nothing to compare. Give --model (opcost fit) or --lut with --nets "
                       "(networks measured end to end: opcost net measure --save FILE), an "
                       "evaluation (--eval, the output of opcost eval --json), or a search run "
                       "with hardware in the loop (--search DIR).");
    oc__report_section_end(r);
    goto done;
  }
  oc__report_section(r, "accuracy", "Predicted against measured", NULL);
  /* Equal axes around every pair, the diagonal and the +-5/10 % bands. */
  double lo = NAN, hi = NAN;
  for (size_t k = 0; k < n_sets; k++)
    for (size_t i = 0; i < sets[k].n; i++) {
      double v[2] = {sets[k].meas[i], sets[k].pred[i]};
      for (int j = 0; j < 2; j++) {
        if (!(v[j] > 0) || !isfinite(v[j])) continue;
        lo = isnan(lo) ? v[j] : fmin(lo, v[j]);
        hi = isnan(hi) ? v[j] : fmax(hi, v[j]);
      }
    }
  size_t n_drawn = 0;
  if (isfinite(lo)) {
    lo /= 1.3;
    hi *= 1.3;
    plot.x_min = plot.y_min = lo;
    plot.x_max = plot.y_max = hi;
    struct oc__series *b10 = oc__plot_series(&plot, "within +-10 %", oc__mark_band, 5);
    struct oc__series *b5 = oc__plot_series(&plot, "within +-5 %", oc__mark_band, 0);
    struct oc__series *diag = oc__plot_series(&plot, "predicted = measured", oc__mark_line, 7);
    const double xs[] = {lo, sqrt(lo * hi), hi};
    for (int i = 0; i < 3 && st == oc_status_ok; i++) {
      st = oc__series_add_band(b10, xs[i], xs[i] * 0.9, xs[i] * 1.1);
      if (st == oc_status_ok) st = oc__series_add_band(b5, xs[i], xs[i] * 0.95, xs[i] * 1.05);
      if (st == oc_status_ok) st = oc__series_add(diag, xs[i], xs[i], NULL);
    }
    for (size_t k = 0; k < n_sets && st == oc_status_ok; k++) {
      if (sets[k].n == 0) continue;
      struct oc__series *s = oc__plot_series(
          &plot, sets[k].name, sets[k].interval ? oc__mark_errorbar : oc__mark_points, (int)k + 1);
      if (s == NULL) break;
      for (size_t i = 0; i < sets[k].n && st == oc_status_ok; i++)
        st = oc__series_add_interval(s, sets[k].meas[i], sets[k].pred[i], sets[k].lo[i],
                                     sets[k].hi[i], sets[k].label[i]);
    }
    n_drawn = oc__plot_points(&plot);
  }
  if (st == oc_status_ok && n_drawn > 0)
    st = oc__report_emit_plot(r, &plot,
                              "Each point is a network (or a kernel, for a kernel "
                              "cross-validation): measured end to end on the x axis, predicted "
                              "on the y axis; vertical bars are prediction intervals. Inside the "
                              "darker band the prediction is within 5 %, inside the lighter one "
                              "within 10 %.");
  if (st != oc_status_ok) goto section_done;
  oc__rbuf_puts(&r->html, "<h3>Accuracy</h3><table><tr><th>predictions</th><th>n</th>"
                          "<th>MAPE</th><th>RMSPE</th><th>within 5 %</th><th>within 10 %</th>"
                          "<th>p95</th><th>max</th><th>under</th><th>Kendall &tau;</th>"
                          "<th>Spearman &rho;</th><th>interval coverage</th></tr>");
  oc__rbuf_puts(&r->md, "\n| predictions | n | MAPE | within 5 % | within 10 % | p95 | under | "
                        "Kendall tau | coverage |\n|---|---|---|---|---|---|---|---|---|\n");
  for (size_t k = 0; k < n_sets; k++) {
    struct oc_model_metrics m;
    if (sets[k].given_metrics != NULL)
      given_metrics(sets[k].given_metrics, &m);
    else if (!cmp_metrics(&sets[k], &m))
      continue;
    metrics_row(r, sets[k].name, &m);
  }
  oc__rbuf_puts(&r->html, "</table>\n<p class=\"muted\">MAPE: mean absolute percentage error. "
                          "Under: the share predicted below the measurement (a latency "
                          "constraint met on paper but not on the device). &tau; and &rho;: "
                          "whether the order of the networks is kept.</p>\n");
  if (r->nets != NULL && r->nets->n > 0 && (r->model != NULL || r->cache != NULL))
    network_table(r, model_pred, lut_pred);
section_done:
  oc__report_section_end(r);
done:
  for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) cmp_free(&sets[k]);
  free(model_pred);
  free(lut_pred);
  oc__plot_free(&plot);
  return st;
}

/* ---- layers: one network's costs ------------------------------------------------------------ */

enum oc_status oc__report_layers(struct oc__report *r) {
  const struct oc_net *net = r->network;
  if (net == NULL) {
    oc__report_section(r, "layers", "Per-layer costs of one network",
                       "No network to break down. Give --network NET.json, or a search "
                       "directory (its front) or measured networks (--nets).");
    oc__report_section_end(r);
    return oc_status_ok;
  }
  char heading[256];
  oc__strfmt(heading, sizeof heading, "Per-layer costs of %s", net->name);
  oc__report_section(r, "layers", heading, NULL);
  double *lut_us = calloc((size_t)net->n_layers * 3 + 1, sizeof *lut_us);
  struct oc_model_prediction *per_kernel =
      r->model ? calloc((size_t)net->n_kernels + 1, sizeof *per_kernel) : NULL;
  struct oc_lut_prediction pred;
  memset(&pred, 0, sizeof pred);
  struct oc__bars bars;
  oc__bars_init(&bars, "layers", "", "");
  enum oc_status st = oc_status_ok;
  if (lut_us == NULL || (r->model && per_kernel == NULL)) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  double *model_us = lut_us + net->n_layers, *misses = model_us + net->n_layers;
  for (int32_t i = 0; i < net->n_layers; i++) lut_us[i] = model_us[i] = NAN;
  bool have_lut = false, have_model = false;
  double lut_total = NAN, model_total = NAN;
  char buf[1024];
  if (r->cache != NULL) {
    struct oc_lut_roofline roof;
    bool have_roof = r->profile != NULL && oc_lut_roofline_from_profile(r->profile, r->lut_threads,
                                                                        &roof) == oc_status_ok;
    if (oc_lut_predict(r->cache, net, r->lut_granularity, have_roof ? &roof : NULL, false, &pred) ==
        oc_status_ok) {
      have_lut = true;
      lut_total = pred.total_us;
      for (int32_t i = 0; i < net->n_layers; i++) lut_us[i] = 0;
      for (int32_t k = 0; k < pred.n_items; k++) {
        const struct oc_lut_pred_item *it = &pred.items[k];
        if (it->layer < 0 || it->layer >= net->n_layers) continue;
        lut_us[it->layer] += it->us;
        if (it->origin != oc_lut_from_lut) misses[it->layer] += 1;
      }
    } else {
      oc__strfmt(buf, sizeof buf, "The LUT cannot predict this network: %s", oc_errmsg());
      para(r, buf);
      oc_errclear();
    }
  }
  if (r->model != NULL) {
    struct oc_model_net_prediction np;
    st = oc_model_predict_net(r->model, net, per_kernel, &np);
    if (st != oc_status_ok) goto done;
    have_model = true;
    model_total = np.us;
    for (int32_t i = 0; i < net->n_layers; i++) model_us[i] = 0;
    for (int32_t k = 0; k < net->n_kernels; k++) {
      int32_t l = net->kernels[k].layer;
      if (l >= 0 && l < net->n_layers) model_us[l] += per_kernel[k].us;
    }
  }
  oc__strfmt(buf, sizeof buf, "%s: %d layers, %d kernels", r->network_origin, (int)net->n_layers,
             (int)net->n_kernels);
  oc__rbuf_puts(&r->html, "<dl class=\"card\">");
  card_row(r, "network", buf);
  char a[32], b[32];
  oc__fmt_bytes((double)net->cost.weight_bytes, a, sizeof a);
  oc__fmt_bytes((double)net->cost.peak_activation_bytes, b, sizeof b);
  oc__strfmt(buf, sizeof buf, "%.1f M MACs, %.2f M params (%s), peak activation memory %s",
             (double)net->cost.macs / 1e6, (double)net->cost.params / 1e6, a, b);
  card_row(r, "analytic", buf);
  oc__strfmt(buf, sizeof buf, "input %dx%dx%d, hash %s", (int)net->input.h, (int)net->input.w,
             (int)net->input.c, net->hash_hex);
  card_row(r, "shape", buf);
  if (have_lut) {
    oc__fmt_us(lut_total, a, sizeof a);
    oc__strfmt(buf, sizeof buf, "%s (%d of %d kernels from the roofline, not the LUT)", a,
               (int)pred.misses, (int)pred.n_items);
    card_row(r, "LUT prediction", buf);
  }
  if (have_model) {
    oc__fmt_us(model_total, a, sizeof a);
    card_row(r, "model prediction", a);
  }
  /* A measurement of this very network, when one of the inputs has it. */
  for (size_t i = 0; r->nets != NULL && i < r->nets->n; i++) {
    if (r->nets->items[i].net->hash != net->hash) continue;
    oc__fmt_us(r->nets->items[i].measured_us, a, sizeof a);
    card_row(r, "measured end to end", a);
    break;
  }
  oc__rbuf_puts(&r->html, "</dl>\n");
  bool latency = have_lut || have_model;
  oc__strfmt(heading, sizeof heading, "%s per layer of %s", latency ? "Latency" : "MACs",
             net->name);
  oc__bars_init(&bars, "layers", heading, latency ? "latency, us" : "millions of MACs");
  if (have_lut) oc__bars_group(&bars, "LUT: sum of kernel medians");
  if (have_model) oc__bars_group(&bars, "model");
  if (!latency) oc__bars_group(&bars, "MACs (M)");
  for (int32_t i = 0; i < net->n_layers && st == oc_status_ok; i++) {
    const struct oc_net_layer *l = &net->layers[i];
    double v[OC__BARS_MAX_GROUPS];
    size_t g = 0;
    if (have_lut) v[g++] = lut_us[i];
    if (have_model) v[g++] = model_us[i];
    if (!latency) v[g++] = (double)l->cost.macs / 1e6;
    char label[128], tip[OC_NET_KEY_MAX + 160];
    const char *key = l->key;
    const char *dot = strchr(key, '.');
    const char *sp = strchr(key, ' ');
    /* "mbconv h=28 ..." reads better than "mbconv.f32 h=28 ...". */
    if (dot != NULL && sp != NULL && dot < sp)
      oc__strfmt(label, sizeof label, "%d %.*s%s", (int)i, (int)(dot - key), key, sp);
    else
      oc__strfmt(label, sizeof label, "%d %s", (int)i, key);
    oc__strfmt(tip, sizeof tip, "layer %d: %s; %.2f M MACs%s", (int)i, key,
               (double)l->cost.macs / 1e6,
               have_lut && misses[i] > 0 ? "; LUT misses filled from the roofline" : "");
    st = oc__bars_add(&bars, label, tip, v);
  }
  if (st == oc_status_ok)
    st = oc__report_emit_bars(r, &bars,
                              latency ? "Each layer's kernels summed (hover a layer for its key). "
                                        "The network total also carries a per-network term, so "
                                        "the bars need not add up to it."
                                      : "Give a LUT (--lut) or a model (--model) for latencies.");
done:
  oc_lut_prediction_clear(&pred);
  oc__bars_free(&bars);
  free(lut_us);
  free(per_kernel);
  oc__report_section_end(r);
  return st;
}

/* ---- search: the Pareto front ---------------------------------------------------------------- */

static enum oc_search_metric metric_of(const json_t *o, enum oc_search_metric fallback) {
  enum oc_search_metric m;
  const char *name = json_string_value(o);
  if (name && oc_search_metric_from_name(name, &m) == oc_status_ok) return m;
  return fallback;
}

static void axis_label(enum oc_search_metric m, bool corrected, char *buf, size_t size) {
  switch (m) {
  case oc_search_latency:
    oc__strfmt(buf, size, "latency, us%s",
               corrected ? " (HIL-corrected; measured where measured)" : "");
    break;
  case oc_search_peak_mem: oc__strfmt(buf, size, "peak activation memory, bytes"); break;
  case oc_search_weights: oc__strfmt(buf, size, "weights, bytes"); break;
  default: oc__strfmt(buf, size, "%s", oc_search_metric_name(m)); break;
  }
}

static const struct oc__cand_point *cand_by_id(const struct oc__report *r, int64_t id) {
  for (size_t i = 0; i < r->n_cands; i++)
    if (r->cands[i].id == id) return &r->cands[i];
  return NULL;
}

static void summary_table(struct oc__report *r) {
  const json_t *s = r->search_summary;
  const json_t *space = json_object_get(s, "space");
  const json_t *hv = json_object_get(s, "hypervolume");
  const json_t *hil = json_object_get(s, "hil");
  const json_t *timing = json_object_get(s, "timing");
  char buf[512];
  oc__rbuf_puts(&r->html, "<dl class=\"card\">");
  oc__strfmt(buf, sizeof buf, "%s (%s), %lld genes", str_or(json_object_get(space, "name"), "?"),
             str_or(json_object_get(space, "origin"), "?"),
             (long long)json_integer_value(json_object_get(space, "genes")));
  card_row(r, "space", buf);
  oc__strfmt(buf, sizeof buf, "%s, seed %lld, budget %lld, population %lld",
             str_or(json_object_get(s, "algorithm"), "?"),
             (long long)json_integer_value(json_object_get(s, "seed")),
             (long long)json_integer_value(json_object_get(s, "budget")),
             (long long)json_integer_value(json_object_get(s, "population")));
  card_row(r, "algorithm", buf);
  size_t i;
  const json_t *o;
  buf[0] = '\0';
  json_array_foreach(json_object_get(s, "objectives"), i, o) {
    size_t len = strlen(buf);
    oc__strfmt(buf + len, sizeof buf - len, "%s%s (%s, %s)", i ? ", " : "",
               str_or(json_object_get(o, "metric"), "?"),
               str_or(json_object_get(o, "direction"), "?"),
               str_or(json_object_get(o, "source"), "?"));
  }
  card_row(r, "objectives", buf);
  buf[0] = '\0';
  json_array_foreach(json_object_get(s, "constraints"), i, o) {
    size_t len = strlen(buf);
    oc__strfmt(buf + len, sizeof buf - len, "%s%s %s %s", i ? ", " : "",
               str_or(json_object_get(o, "metric"), "?"), str_or(json_object_get(o, "cmp"), "?"),
               str_or(json_object_get(o, "bound_readable"), "?"));
  }
  card_row(r, "constraints", buf[0] ? buf : "none");
  oc__strfmt(buf, sizeof buf,
             "%lld evaluated (%lld duplicates skipped), %lld feasible, front of "
             "%lld, %lld generations",
             (long long)json_integer_value(json_object_get(s, "evaluated")),
             (long long)json_integer_value(json_object_get(s, "duplicates_skipped")),
             (long long)json_integer_value(json_object_get(s, "feasible")),
             (long long)json_integer_value(json_object_get(s, "front_size")),
             (long long)json_integer_value(json_object_get(s, "generations")));
  card_row(r, "candidates", buf);
  oc__strfmt(buf, sizeof buf, "%.6g (%s; reference point: %s)", jnum(hv, "value"),
             str_or(json_object_get(hv, "method"), "?"),
             str_or(json_object_get(hv, "reference_point_source"), "?"));
  card_row(r, "hypervolume", buf);
  if (json_is_object(hil)) {
    oc__strfmt(buf, sizeof buf,
               "%lld measured on %s; predictions off by %.1f %% (MAPE) before correction; "
               "correction x%.3f",
               (long long)json_integer_value(json_object_get(hil, "measured")),
               str_or(json_object_get(hil, "target"), "?"),
               100 * jnum(hil, "mape_before_correction"), jnum(hil, "correction"));
    card_row(r, "hardware in the loop", buf);
  }
  oc__strfmt(buf, sizeof buf, "%.2f s, %.0f evaluations/s", jnum(timing, "elapsed_s"),
             jnum(timing, "evaluations_per_s"));
  card_row(r, "time", buf);
  oc__rbuf_puts(&r->html, "</dl>\n");
}

static void front_table(struct oc__report *r, const enum oc_search_metric *axes) {
  const json_t *members = json_object_get(r->search_front, "members");
  if (json_array_size(members) == 0) return;
  oc__rbuf_puts(&r->html, "<h3>The front</h3><table><tr><th>network</th><th>generation</th>");
  oc__rbuf_puts(&r->md, "\n| network | ");
  for (int a = 0; a < 2; a++) {
    oc__rbuf_printf(&r->html, "<th>%s</th>", oc_search_metric_name(axes[a]));
    oc__rbuf_printf(&r->md, "%s | ", oc_search_metric_name(axes[a]));
  }
  oc__rbuf_puts(&r->html, "<th>peak memory</th><th>predicted latency</th><th>measured latency"
                          "</th><th>network file (in the search directory)</th></tr>");
  oc__rbuf_puts(&r->md, "predicted latency | measured latency |\n|---|---|---|---|---|\n");
  size_t i;
  const json_t *m;
  json_array_foreach(members, i, m) {
    if (i >= 200) break;
    const json_t *metrics = json_object_get(m, "metrics");
    const char *name = str_or(json_object_get(m, "name"), "?");
    char t[48];
    oc__rbuf_puts(&r->html, "<tr>");
    td_text(&r->html, name);
    td_num(&r->html, "%.0f", jnum(m, "generation"));
    oc__rbuf_puts(&r->md, "| ");
    oc__rbuf_md(&r->md, name);
    for (int a = 0; a < 2; a++) {
      double v = jnum(metrics, oc_search_metric_name(axes[a]));
      oc_search_format_value(axes[a], v, t, sizeof t);
      td_text(&r->html, isfinite(v) ? t : "-");
      oc__rbuf_printf(&r->md, " | %s", isfinite(v) ? t : "-");
    }
    double pm = jnum(metrics, "peak_mem");
    oc_search_format_value(oc_search_peak_mem, pm, t, sizeof t);
    td_text(&r->html, isfinite(pm) ? t : "-");
    double pred = jnum(m, "predicted_latency_us"), meas = jnum(m, "measured_latency_us");
    oc__fmt_us(pred, t, sizeof t);
    td_text(&r->html, t);
    oc__rbuf_printf(&r->md, " | %s", t);
    oc__fmt_us(meas, t, sizeof t);
    td_text(&r->html, t);
    oc__rbuf_printf(&r->md, " | %s |\n", t);
    const char *rel = json_string_value(json_object_get(m, "net"));
    oc__rbuf_puts(&r->html, "<td><code>");
    oc__rbuf_html(&r->html, rel ? rel : "-");
    oc__rbuf_puts(&r->html, "</code></td></tr>");
  }
  oc__rbuf_puts(&r->html, "</table>\n");
}

static bool span_log(double lo, double hi) { return lo > 0 && hi / lo > 30; }

static enum oc_status pareto_plot(struct oc__report *r, const enum oc_search_metric *axes,
                                  double correction) {
  const json_t *members = json_object_get(r->search_front, "members");
  struct oc__plot plot;
  enum oc_status st = oc_status_ok;
  /* Axis values of a journal candidate: latency corrected as the search
   * saw it at the end. */
  double lo[2] = {NAN, NAN}, hi[2] = {NAN, NAN};
  for (size_t i = 0; i < r->n_cands; i++)
    for (int a = 0; a < 2; a++) {
      double v = r->cands[i].value[axes[a]];
      if (!isfinite(v)) continue;
      lo[a] = isnan(lo[a]) ? v : fmin(lo[a], v);
      hi[a] = isnan(hi[a]) ? v : fmax(hi[a], v);
    }
  char xl[128], yl[128], title[256];
  bool corrected = correction != 1.0;
  axis_label(axes[0], corrected, xl, sizeof xl);
  axis_label(axes[1], corrected, yl, sizeof yl);
  oc__strfmt(title, sizeof title, "Pareto front: %s against %s", oc_search_metric_name(axes[1]),
             oc_search_metric_name(axes[0]));
  oc__plot_init(&plot, "pareto", title, xl, yl, span_log(lo[0], hi[0]), span_log(lo[1], hi[1]));
  struct oc__series *feas = oc__plot_series(&plot, "candidates, feasible", oc__mark_points, 5);
  struct oc__series *infeas = oc__plot_series(&plot, "candidates, infeasible", oc__mark_points, 13);
  struct oc__series *line = oc__plot_series(&plot, "Pareto front", oc__mark_line, 1);
  struct oc__series *front = oc__plot_series(&plot, "front members", oc__mark_points, 1);
  struct oc__series *before =
      oc__plot_series(&plot, "HIL: predicted before correction", oc__mark_points, 3);
  struct oc__series *link =
      oc__plot_series(&plot, "HIL: predicted -> measured", oc__mark_dashed, 3);
  struct oc__series *measured =
      oc__plot_series(&plot, "measured on the device (HIL)", oc__mark_points, 7);
  link->in_legend = false;
  /* The constraints, to judge feasibility with the corrected latencies (the
   * journal judged each candidate with the correction of its time). */
  struct oc_search_constraint cons[OC_SEARCH_MAX_CONSTRAINTS];
  size_t n_cons = 0;
  size_t i;
  const json_t *m;
  json_array_foreach(json_object_get(r->search_summary, "constraints"), i, m) {
    if (n_cons == OC_SEARCH_MAX_CONSTRAINTS) break;
    const char *cmp = json_string_value(json_object_get(m, "cmp"));
    cons[n_cons].metric = metric_of(json_object_get(m, "metric"), oc_search_metric__count);
    cons[n_cons].cmp = cmp != NULL && strcmp(cmp, ">=") == 0 ? oc_search_ge : oc_search_le;
    cons[n_cons].bound = jnum(m, "bound");
    if (cons[n_cons].metric != oc_search_metric__count && isfinite(cons[n_cons].bound)) n_cons++;
  }
  size_t stride = r->n_cands > 6000 ? (r->n_cands + 5999) / 6000 : 1;
  for (size_t k = 0; k < r->n_cands && st == oc_status_ok; k += stride) {
    const struct oc__cand_point *c = &r->cands[k];
    double v[oc_search_metric__count];
    memcpy(v, c->value, sizeof v);
    if (isfinite(c->predicted_us)) v[oc_search_latency] = c->predicted_us * correction;
    bool feasible = n_cons > 0 ? true : c->feasible;
    for (size_t q = 0; q < n_cons; q++)
      if (!isfinite(v[cons[q].metric]) || oc_search_violation(&cons[q], v[cons[q].metric]) > 0)
        feasible = false;
    char label[48];
    oc__strfmt(label, sizeof label, "candidate %lld", (long long)c->id);
    st = oc__series_add(feasible ? feas : infeas, v[axes[0]], v[axes[1]], label);
  }
  json_array_foreach(members, i, m) {
    if (st != oc_status_ok) break;
    const json_t *metrics = json_object_get(m, "metrics");
    double x = jnum(metrics, oc_search_metric_name(axes[0]));
    double y = jnum(metrics, oc_search_metric_name(axes[1]));
    const char *name = json_string_value(json_object_get(m, "name"));
    st = oc__series_add(line, x, y, NULL);
    if (st == oc_status_ok) st = oc__series_add(front, x, y, name);
  }
  /* HIL: where the prediction put a measured candidate, and where it is. */
  const json_t *cands = json_object_get(json_object_get(r->search_summary, "hil"), "candidates");
  int lat_axis = axes[0] == oc_search_latency ? 0 : axes[1] == oc_search_latency ? 1 : -1;
  json_array_foreach(cands, i, m) {
    if (st != oc_status_ok || lat_axis < 0) break;
    const struct oc__cand_point *c = cand_by_id(r, (int64_t)jnum(m, "id"));
    if (c == NULL) continue;
    int other = 1 - lat_axis;
    double ov = c->value[axes[other]];
    double p[2], q[2];
    p[lat_axis] = jnum(m, "predicted_us");
    q[lat_axis] = jnum(m, "measured_us");
    p[other] = q[other] = ov;
    char label[48];
    oc__strfmt(label, sizeof label, "candidate %lld", (long long)c->id);
    st = oc__series_add(before, p[0], p[1], label);
    if (st == oc_status_ok) st = oc__series_add(measured, q[0], q[1], label);
    if (st == oc_status_ok) st = oc__series_add(link, p[0], p[1], NULL);
    if (st == oc_status_ok) st = oc__series_add(link, q[0], q[1], NULL);
    if (st == oc_status_ok) st = oc__series_add(link, NAN, NAN, NULL);
  }
  /* Constraints on either axis. */
  json_array_foreach(json_object_get(r->search_summary, "constraints"), i, m) {
    const json_t *metric = json_object_get(m, "metric");
    enum oc_search_metric cm = metric_of(metric, oc_search_metric__count);
    char label[128];
    oc__strfmt(label, sizeof label, "%s %s %s", oc_search_metric_name(cm),
               str_or(json_object_get(m, "cmp"), "?"),
               str_or(json_object_get(m, "bound_readable"), "?"));
    if (cm == axes[0]) oc__plot_rule(&plot, true, jnum(m, "bound"), label, 1);
    if (cm == axes[1]) oc__plot_rule(&plot, false, jnum(m, "bound"), label, 1);
  }
  if (stride > 1)
    oc__strfmt(plot.note, sizeof plot.note, "every %zu-th candidate of %zu shown", stride,
               r->n_cands);
  if (st == oc_status_ok)
    st = oc__report_emit_plot(r, &plot,
                              "Every evaluated candidate (journal.jsonl; its latency times the "
                              "final HIL correction, feasibility judged with it), the front the "
                              "search ended with (front.json), and the candidates measured end "
                              "to end on the device: each dashed segment goes from where the "
                              "prediction put it to where it was measured. Dashed lines across "
                              "the plot are the constraints.");
  oc__plot_free(&plot);
  return st;
}

static enum oc_status hv_plot(struct oc__report *r) {
  char path[4200];
  oc__strfmt(path, sizeof path, "%s/hv.csv", r->in->search);
  FILE *f = fopen(path, "r");
  if (f == NULL) return oc_status_ok;
  struct oc__plot plot;
  oc__plot_init(&plot, "hypervolume", "Hypervolume by candidates evaluated", "candidates evaluated",
                "hypervolume", false, false);
  struct oc__series *s = oc__plot_series(&plot, "hypervolume", oc__mark_line, 0);
  struct oc__series *p = oc__plot_series(&plot, "hypervolume (points)", oc__mark_points, 0);
  p->in_legend = false;
  char line[512];
  enum oc_status st = oc_status_ok;
  bool header = true;
  while (fgets(line, sizeof line, f) != NULL && st == oc_status_ok) {
    if (header) {
      header = false;
      continue;
    }
    int gen = 0;
    long long evaluated = 0, feasible = 0;
    size_t front = 0;
    char hv[64] = "";
    if (sscanf(line, "%d,%lld,%lld,%zu,%63[^,]", &gen, &evaluated, &feasible, &front, hv) < 4)
      continue;
    char *end = NULL;
    double v = strtod(hv, &end);
    if (end == hv) v = NAN;
    char label[48];
    oc__strfmt(label, sizeof label, "generation %d", gen);
    st = oc__series_add(s, (double)evaluated, v, NULL);
    if (st == oc_status_ok) st = oc__series_add(p, (double)evaluated, v, label);
  }
  fclose(f);
  if (st == oc_status_ok && oc__plot_points(&plot) > 0)
    st = oc__report_emit_plot(r, &plot,
                              "Hypervolume of the feasible front against the fixed reference "
                              "point (hv.csv), as the search went on; it stops growing when the "
                              "search has converged. With hardware in the loop, the last point "
                              "follows the measurements, which move the latencies.");
  oc__plot_free(&plot);
  return st;
}

enum oc_status oc__report_search(struct oc__report *r) {
  if (r->search_summary == NULL) {
    oc__report_section(r, "search", "Search",
                       "No search directory was given. Run `opcost search -s SPACE --objective "
                       "latency,macs --lut lut.db -o DIR` and pass --search DIR.");
    oc__report_section_end(r);
    return oc_status_ok;
  }
  oc__report_section(r, "search", "Search", NULL);
  summary_table(r);
  const json_t *objectives = json_object_get(r->search_summary, "objectives");
  enum oc_search_metric axes[2];
  axes[0] = metric_of(json_object_get(json_array_get(objectives, 0), "metric"), oc_search_latency);
  axes[1] = metric_of(json_object_get(json_array_get(objectives, 1), "metric"),
                      axes[0] == oc_search_macs ? oc_search_latency : oc_search_macs);
  double correction = jnum(json_object_get(r->search_summary, "hil"), "correction");
  if (!isfinite(correction) || !(correction > 0)) correction = 1.0;
  enum oc_status st = oc_status_ok;
  if (r->n_cands > 0 || json_array_size(json_object_get(r->search_front, "members")) > 0)
    st = pareto_plot(r, axes, correction);
  else
    para(r, "The search directory has no journal and no front to plot.");
  if (st == oc_status_ok) st = hv_plot(r);
  if (st == oc_status_ok) front_table(r, axes);
  oc__report_section_end(r);
  return st;
}
