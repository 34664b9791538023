/* cli.c - shared CLI helpers declared in cli.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_fail(const char *cmd, enum oc_status status) {
  const char *msg = oc_errmsg();
  fprintf(stderr, "opcost %s: %s\n", cmd, msg[0] ? msg : oc_status_str(status));
  return oc_status_exit_code(status);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "opcost %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\ntry 'opcost %s --help'\n", cmd);
  return CLI_EXIT_USAGE;
}

int cli_print_json(json_t *value) {
  if (value == NULL) {
    fprintf(stderr, "opcost: out of memory building JSON\n");
    return oc_status_exit_code(oc_status_out_of_memory);
  }
  int rc = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
  fputc('\n', stdout);
  json_decref(value);
  return rc == 0 ? 0 : oc_status_exit_code(oc_status_io_error);
}

bool cli_parse_int(const char *cmd, const char *name, const char *text, long min, long max,
                   long *out) {
  char *end = NULL;
  errno = 0;
  long v = text ? strtol(text, &end, 10) : 0;
  if (text == NULL || end == text || *end != '\0' || errno == ERANGE || v < min || v > max) {
    cli_usage_error(cmd, "%s: value '%s' must be a whole number from %ld to %ld", name,
                    text ? text : "", min, max);
    return false;
  }
  *out = v;
  return true;
}

bool cli_parse_double(const char *cmd, const char *name, const char *text, double min,
                      double max, double *out) {
  char *end = NULL;
  errno = 0;
  double v = text ? strtod(text, &end) : 0;
  if (text == NULL || end == text || *end != '\0' || errno == ERANGE || !isfinite(v) ||
      v < min || v > max) {
    cli_usage_error(cmd, "%s: value '%s' must be a number from %g to %g", name,
                    text ? text : "", min, max);
    return false;
  }
  *out = v;
  return true;
}

double cli_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_start(struct cli_progress *p, const char *label, int64_t total, bool quiet) {
  memset(p, 0, sizeof *p);
  p->label = label;
  p->total = total;
  p->start_s = cli_now_s();
  p->enabled = !quiet && isatty(STDERR_FILENO);
}

void cli_progress_step(struct cli_progress *p, int64_t done, const char *detail) {
  p->done = done;
  if (!p->enabled) return;
  double now = cli_now_s();
  /* Redraw at most 10 times a second: drawing must not cost measurable time. */
  if (done < p->total && now - p->last_draw_s < 0.1) return;
  p->last_draw_s = now;
  const int width = 28;
  double frac = p->total > 0 ? (double)done / (double)p->total : 0.0;
  if (frac > 1.0) frac = 1.0;
  int filled = (int)(frac * width);
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
  double elapsed = now - p->start_s;
  double eta = frac > 0 ? elapsed / frac - elapsed : 0.0;
  fprintf(stderr, "\r\033[K%s [%s] %lld/%lld  %.0fs elapsed, ETA %.0fs  %.40s", p->label, bar,
          (long long)done, (long long)p->total, elapsed, eta, detail ? detail : "");
  fflush(stderr);
}

void cli_progress_end(struct cli_progress *p) {
  if (!p->enabled) return;
  fprintf(stderr, "\r\033[K");
  fflush(stderr);
}
