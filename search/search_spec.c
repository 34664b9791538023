/* search_spec.c - what a search optimizes, in the user's words: metric and
 * source names, values with units ("20ms", "320KB", "300M"), constraints
 * ("latency<=20ms") and objective lists ("latency,macs,accuracy"), and the
 * normalized violation feasibility-first selection ranks by.
 *
 * Units are explicit where a bare number is ambiguous: a latency needs
 * us/ms/s. KB and MB are powers of 1000, KiB and MiB powers of 1024, as the
 * SI and IEC prefixes say (the parsed byte count is echoed in the summary). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "opcost/search.h"

static const struct {
  const char *name, *unit, *summary;
  bool maximized;
} metrics[] = {
#define METRIC_ROW(n, u, m, s) {#n, u, s, m},
    OC_SEARCH_METRIC_MAP(METRIC_ROW)
#undef METRIC_ROW
};

static const char *const sources[] = {
#define SOURCE_ROW(n) #n,
    OC_SEARCH_SOURCE_MAP(SOURCE_ROW)
#undef SOURCE_ROW
};

static const char *const algorithms[] = {
#define ALGO_ROW(n) #n,
    OC_SEARCH_ALGORITHM_MAP(ALGO_ROW)
#undef ALGO_ROW
};

const char *oc_search_metric_name(enum oc_search_metric m) {
  return (unsigned)m < oc_search_metric__count ? metrics[m].name : "?";
}

const char *oc_search_metric_summary(enum oc_search_metric m) {
  return (unsigned)m < oc_search_metric__count ? metrics[m].summary : "?";
}

bool oc_search_metric_maximized(enum oc_search_metric m) {
  return (unsigned)m < oc_search_metric__count && metrics[m].maximized;
}

static void metric_list(char *buf, size_t size) {
  buf[0] = '\0';
  size_t used = 0;
  for (int i = 0; i < oc_search_metric__count; i++) {
    int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", metrics[i].name);
    if (w < 0 || (size_t)w >= size - used) break;
    used += (size_t)w;
  }
}

enum oc_status oc_search_metric_from_name(const char *name, enum oc_search_metric *metric) {
  for (int i = 0; i < oc_search_metric__count; i++) {
    if (strcmp(name, metrics[i].name) == 0) {
      *metric = (enum oc_search_metric)i;
      return oc_status_ok;
    }
  }
  char list[256];
  metric_list(list, sizeof list);
  return oc__fail(oc_status_not_found, "unknown metric '%s' (metrics: %s)", name, list);
}

const char *oc_search_source_name(enum oc_search_source s) {
  return (unsigned)s < oc_search_source__count ? sources[s] : "?";
}

const char *oc_search_algorithm_name(enum oc_search_algorithm a) {
  return (unsigned)a < oc_search_algorithm__count ? algorithms[a] : "?";
}

enum oc_status oc_search_algorithm_from_name(const char *name, enum oc_search_algorithm *a) {
  for (int i = 0; i < oc_search_algorithm__count; i++) {
    if (strcmp(name, algorithms[i]) == 0) {
      *a = (enum oc_search_algorithm)i;
      return oc_status_ok;
    }
  }
  return oc__fail(oc_status_not_found, "unknown algorithm '%s' (nsga2, random, evolution)", name);
}

/* ---- values with units ----------------------------------------------------------- */

struct unit {
  const char *suffix;
  double scale;
};

static const struct unit time_units[] = {{"us", 1}, {"ms", 1e3}, {"s", 1e6}, {NULL, 0}};
static const struct unit byte_units[] = {
    {"B", 1},           {"KB", 1e3},           {"MB", 1e6}, {"GB", 1e9}, {"KiB", 1024.0},
    {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"", 1},     {NULL, 0}};
static const struct unit count_units[] = {{"", 1},    {"K", 1e3},  {"M", 1e6},
                                          {"G", 1e9}, {"T", 1e12}, {NULL, 0}};
static const struct unit plain_units[] = {{"", 1}, {NULL, 0}};

static const struct unit *units_of(enum oc_search_metric m, const char **names) {
  switch (m) {
  case oc_search_latency: *names = "us, ms or s"; return time_units;
  case oc_search_peak_mem:
  case oc_search_weights:
    *names = "B, KB, MB, GB, KiB, MiB, GiB or none (bytes)";
    return byte_units;
  case oc_search_macs:
  case oc_search_flops:
  case oc_search_params: *names = "K, M, G, T or none"; return count_units;
  case oc_search_accuracy:
  case oc_search_metric__count: break;
  }
  *names = "none";
  return plain_units;
}

enum oc_status oc_search_parse_value(enum oc_search_metric metric, const char *text,
                                     double *value) {
  const char *names;
  const struct unit *units = units_of(metric, &names);
  while (isspace((unsigned char)*text)) text++;
  char *end = NULL;
  double x = strtod(text, &end);
  if (end == text || !isfinite(x))
    return oc__fail(oc_status_parse_error, "%s value '%s': not a number",
                    oc_search_metric_name(metric), text);
  while (isspace((unsigned char)*end)) end++;
  size_t len = strlen(end);
  while (len > 0 && isspace((unsigned char)end[len - 1])) len--;
  for (const struct unit *u = units; u->suffix; u++) {
    if (strlen(u->suffix) == len && strncmp(end, u->suffix, len) == 0) {
      *value = x * u->scale;
      return oc_status_ok;
    }
  }
  return oc__fail(oc_status_parse_error, "%s value '%s': unit '%.*s' is not one of %s%s",
                  oc_search_metric_name(metric), text, (int)len, end, names,
                  len == 0 ? " (a latency needs its unit)" : "");
}

void oc_search_format_value(enum oc_search_metric metric, double v, char *buf, size_t size) {
  if (!isfinite(v)) {
    oc__strfmt(buf, size, "%s", isnan(v) ? "n/a" : v > 0 ? "inf" : "-inf");
    return;
  }
  double a = fabs(v);
  switch (metric) {
  case oc_search_latency:
    if (a >= 1e6)
      oc__strfmt(buf, size, "%.4g s", v / 1e6);
    else if (a >= 1e3)
      oc__strfmt(buf, size, "%.4g ms", v / 1e3);
    else
      oc__strfmt(buf, size, "%.4g us", v);
    return;
  case oc_search_peak_mem:
  case oc_search_weights:
    if (a >= 1048576.0)
      oc__strfmt(buf, size, "%.4g MiB", v / 1048576.0);
    else if (a >= 1024.0)
      oc__strfmt(buf, size, "%.4g KiB", v / 1024.0);
    else
      oc__strfmt(buf, size, "%.0f B", v);
    return;
  case oc_search_macs:
  case oc_search_flops:
  case oc_search_params:
    if (a >= 1e9)
      oc__strfmt(buf, size, "%.4g G", v / 1e9);
    else if (a >= 1e6)
      oc__strfmt(buf, size, "%.4g M", v / 1e6);
    else if (a >= 1e3)
      oc__strfmt(buf, size, "%.4g K", v / 1e3);
    else
      oc__strfmt(buf, size, "%.0f", v);
    return;
  case oc_search_accuracy:
  case oc_search_metric__count: break;
  }
  oc__strfmt(buf, size, "%.6g", v);
}

/* ---- constraints and objectives ---------------------------------------------------- */

enum oc_status oc_search_parse_constraint(const char *text, struct oc_search_constraint *c) {
  memset(c, 0, sizeof *c);
  oc__strcpy(c->text, sizeof c->text, text);
  const char *op = strpbrk(text, "<>=!");
  if (op == NULL)
    return oc__fail(oc_status_parse_error,
                    "constraint '%s': expected METRIC<=VALUE or METRIC>=VALUE", text);
  const char *name_end = op;
  while (name_end > text && isspace((unsigned char)name_end[-1])) name_end--;
  const char *name = text;
  while (name < name_end && isspace((unsigned char)*name)) name++;
  char metric_name[64];
  if ((size_t)(name_end - name) >= sizeof metric_name || name_end == name)
    return oc__fail(oc_status_parse_error, "constraint '%s': no metric before the operator", text);
  memcpy(metric_name, name, (size_t)(name_end - name));
  metric_name[name_end - name] = '\0';
  enum oc_status st = oc_search_metric_from_name(metric_name, &c->metric);
  if (st != oc_status_ok) return oc__fail_prefix(st, "constraint '%s': ", text);
  const char *rest;
  if (strncmp(op, "<=", 2) == 0) {
    c->cmp = oc_search_le;
    rest = op + 2;
  } else if (strncmp(op, ">=", 2) == 0) {
    c->cmp = oc_search_ge;
    rest = op + 2;
  } else {
    return oc__fail(oc_status_parse_error,
                    "constraint '%s': operator must be <= or >= (a bound is inclusive)", text);
  }
  if (strpbrk(rest, "<>=!"))
    return oc__fail(oc_status_parse_error, "constraint '%s': one operator only", text);
  st = oc_search_parse_value(c->metric, rest, &c->bound);
  if (st != oc_status_ok) return oc__fail_prefix(st, "constraint '%s': ", text);
  return oc_status_ok;
}

enum oc_status oc_search_parse_objectives(const char *text, enum oc_search_metric *objectives,
                                          size_t *n) {
  *n = 0;
  const char *p = text;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char name[64];
    while (len > 0 && isspace((unsigned char)*p)) {
      p++;
      len--;
    }
    while (len > 0 && isspace((unsigned char)p[len - 1])) len--;
    if (len == 0 || len >= sizeof name)
      return oc__fail(oc_status_parse_error, "objectives '%s': empty or overlong name", text);
    memcpy(name, p, len);
    name[len] = '\0';
    enum oc_search_metric m;
    enum oc_status st = oc_search_metric_from_name(name, &m);
    if (st != oc_status_ok) return oc__fail_prefix(st, "objectives '%s': ", text);
    for (size_t i = 0; i < *n; i++)
      if (objectives[i] == m)
        return oc__fail(oc_status_invalid_argument, "objectives '%s': '%s' is given twice", text,
                        name);
    if (*n >= OC_SEARCH_MAX_OBJECTIVES)
      return oc__fail(oc_status_invalid_argument, "objectives '%s': more than %d", text,
                      OC_SEARCH_MAX_OBJECTIVES);
    objectives[(*n)++] = m;
    if (comma == NULL) break;
    p = comma + 1;
  }
  return oc_status_ok;
}

double oc_search_violation(const struct oc_search_constraint *c, double value) {
  if (isnan(value)) return HUGE_VAL;
  double scale = c->bound != 0 ? fabs(c->bound) : 1.0;
  double excess = c->cmp == oc_search_le ? value - c->bound : c->bound - value;
  return excess > 0 ? excess / scale : 0.0;
}
