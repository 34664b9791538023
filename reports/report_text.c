/* report_text.c - the text side of the report writers: a growing buffer,
 * escaping for HTML, CSV and Markdown, atomic file writes, and the ticks
 * and tick labels of chart axes. Escaping lives in one place so that every
 * name that reaches a page (a network's, a device's, a key) goes through it. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_internal.h"

/* ---- buffer -------------------------------------------------------------------- */

static bool reserve(struct oc__rbuf *b, size_t extra) {
  if (b->oom) return false;
  if (b->len + extra + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) {
    if (cap > SIZE_MAX / 2) {
      b->oom = true;
      return false;
    }
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (p == NULL) {
    b->oom = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  return true;
}

void oc__rbuf_printf(struct oc__rbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  if (!reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static void put_bytes(struct oc__rbuf *b, const char *text, size_t n) {
  if (!reserve(b, n)) return;
  memcpy(b->p + b->len, text, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void oc__rbuf_puts(struct oc__rbuf *b, const char *text) {
  if (text != NULL) put_bytes(b, text, strlen(text));
}

void oc__rbuf_html(struct oc__rbuf *b, const char *text) {
  if (text == NULL) return;
  const char *run = text;
  for (const char *c = text; *c; c++) {
    const char *rep = NULL;
    switch (*c) {
    case '&': rep = "&amp;"; break;
    case '<': rep = "&lt;"; break;
    case '>': rep = "&gt;"; break;
    case '"': rep = "&quot;"; break;
    case '\'': rep = "&#39;"; break;
    default: continue;
    }
    put_bytes(b, run, (size_t)(c - run));
    oc__rbuf_puts(b, rep);
    run = c + 1;
  }
  oc__rbuf_puts(b, run);
}

void oc__rbuf_csv(struct oc__rbuf *b, const char *text) {
  if (text == NULL) return;
  if (strpbrk(text, ",\"\r\n") == NULL) {
    oc__rbuf_puts(b, text);
    return;
  }
  put_bytes(b, "\"", 1);
  for (const char *c = text; *c; c++) {
    if (*c == '"')
      put_bytes(b, "\"\"", 2);
    else
      put_bytes(b, c, 1);
  }
  put_bytes(b, "\"", 1);
}

void oc__rbuf_md(struct oc__rbuf *b, const char *text) {
  if (text == NULL) return;
  for (const char *c = text; *c; c++) {
    switch (*c) {
    case '&': oc__rbuf_puts(b, "&amp;"); break;
    case '<': oc__rbuf_puts(b, "&lt;"); break;
    case '>': oc__rbuf_puts(b, "&gt;"); break;
    case '|': oc__rbuf_puts(b, "\\|"); break;
    case '`': oc__rbuf_puts(b, "\\`"); break;
    case '*': oc__rbuf_puts(b, "\\*"); break;
    case '_': oc__rbuf_puts(b, "\\_"); break;
    case '[': oc__rbuf_puts(b, "\\["); break;
    case ']': oc__rbuf_puts(b, "\\]"); break;
    case '\\': oc__rbuf_puts(b, "\\\\"); break;
    case '\r':
    case '\n': put_bytes(b, " ", 1); break;
    default: put_bytes(b, c, 1);
    }
  }
}

void oc__rbuf_num(struct oc__rbuf *b, double value) {
  if (isfinite(value)) oc__rbuf_printf(b, "%.10g", value);
}

const char *oc__rbuf_str(const struct oc__rbuf *b) { return b->p != NULL ? b->p : ""; }

void oc__rbuf_free(struct oc__rbuf *b) {
  if (b == NULL) return;
  free(b->p);
  memset(b, 0, sizeof *b);
}

enum oc_status oc__report_write_file(const char *path, const char *text, size_t len) {
  char tmp[4200];
  if (!oc__strfmt(tmp, sizeof tmp, "%s.tmp", path))
    return oc__fail(oc_status_overflow, "%s: path too long", path);
  FILE *f = fopen(tmp, "w");
  if (f == NULL) return oc__fail(oc_status_io_error, "%s: %s", path, strerror(errno));
  bool ok = fwrite(text, 1, len, f) == len;
  int saved = errno;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    if (ok) saved = errno;
    remove(tmp);
    return oc__fail(oc_status_io_error, "%s: write failed: %s", path, strerror(saved));
  }
  return oc_status_ok;
}

/* ---- ticks ------------------------------------------------------------------------ */

size_t oc__ticks_linear(double lo, double hi, size_t max_ticks, double *ticks) {
  if (max_ticks < 2) max_ticks = 2;
  if (max_ticks > OC__MAX_TICKS) max_ticks = OC__MAX_TICKS;
  if (!isfinite(lo) || !isfinite(hi)) {
    ticks[0] = 0;
    ticks[1] = 1;
    return 2;
  }
  if (hi < lo) {
    double t = lo;
    lo = hi;
    hi = t;
  }
  if (hi == lo) {
    double pad = lo == 0 ? 1 : fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  double raw = (hi - lo) / (double)(max_ticks - 1);
  double mag = pow(10, floor(log10(raw)));
  static const double steps[] = {1, 2, 2.5, 5, 10};
  double step = 10 * mag;
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    double s = steps[i] * mag;
    double first = floor(lo / s) * s, last = ceil(hi / s) * s;
    if ((last - first) / s + 1 <= (double)max_ticks + 1e-9) {
      step = s;
      break;
    }
  }
  double first = floor(lo / step + 1e-9) * step;
  size_t n = 0;
  for (double t = first; n < max_ticks; t = first + (double)n * step) {
    ticks[n++] = fabs(t) < step * 1e-9 ? 0.0 : t;
    if (t >= hi - step * 1e-9) break;
  }
  if (n < 2) ticks[n++] = first + step;
  return n;
}

size_t oc__ticks_log(double lo, double hi, size_t max_ticks, double *ticks) {
  if (max_ticks < 2) max_ticks = 2;
  if (max_ticks > OC__MAX_TICKS) max_ticks = OC__MAX_TICKS;
  if (!(lo > 0) || !isfinite(lo) || !isfinite(hi) || !(hi > 0)) {
    ticks[0] = 1;
    ticks[1] = 10;
    return 2;
  }
  if (hi < lo) {
    double t = lo;
    lo = hi;
    hi = t;
  }
  int e0 = (int)floor(log10(lo) + 1e-9), e1 = (int)ceil(log10(hi) - 1e-9);
  if (e1 <= e0) e1 = e0 + 1;
  size_t n = 0;
  if (e1 - e0 <= 2) {
    /* Less than about two decades: 1, 2, 5 of each, within [lo, hi]. */
    static const double mult[] = {1, 2, 5};
    for (int e = e0; e <= e1 && n < max_ticks; e++)
      for (size_t m = 0; m < 3 && n < max_ticks; m++) {
        double t = mult[m] * pow(10, e);
        if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks[n++] = t;
      }
    if (n >= 2) return n;
    n = 0;
  }
  int every = 1;
  while ((e1 - e0) / every + 1 > (int)max_ticks) every++;
  for (int e = e0; e <= e1 && n < max_ticks; e += every) ticks[n++] = pow(10, e);
  if (n < 2) ticks[n++] = pow(10, e0 + every);
  return n;
}

void oc__fmt_tick(double value, char *buf, size_t size) {
  double a = fabs(value);
  if (value == 0) {
    oc__strfmt(buf, size, "0");
  } else if (a >= 1e3 && a < 1e15) {
    static const char suffix[] = {'k', 'M', 'G', 'T'};
    int i = 0;
    double v = value / 1e3;
    while (fabs(v) >= 1e3 && i < 3) {
      v /= 1e3;
      i++;
    }
    oc__strfmt(buf, size, "%.3g%c", v, suffix[i]);
  } else if (a >= 1e-3 && a < 1e15) {
    oc__strfmt(buf, size, "%.3g", value);
  } else {
    oc__strfmt(buf, size, "%.0e", value);
  }
}
