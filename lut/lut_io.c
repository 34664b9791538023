/* lut_io.c - export of a store to CSV and JSON Lines, and import of CSV and
 * JSON Lines files (YAML tables go through lut_yaml.c) in one transaction.
 *
 * CSV is RFC 4180: one header line naming the columns of oc_lut_csv_header(),
 * one record a row; a field with a comma, quote, space, '=' or line break is
 * quoted, a quote inside doubled. Keys contain spaces and '=', so they are
 * always quoted. Unknown values (p10_us ... cv, peak_bytes) are empty fields.
 * Reals are written with the fewest digits that read back to the same double,
 * so export -> import -> export is byte-identical. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lut/lut_internal.h"

/* The columns, in export order; docs/lut.md describes each. */
#define CSV_COLUMNS(X)                                                                  \
  X(fingerprint) X(target) X(threads) X(key) X(kind) X(dtype) X(granularity) X(flops) \
  X(macs) X(bytes) X(params) X(samples) X(median_us) X(p10_us) X(p90_us) X(min_us)    \
  X(mad_us) X(cv) X(weight_bytes) X(activation_bytes) X(peak_bytes) X(source)         \
  X(measured_at) X(device_name) X(counters) X(env)

enum csv_column {
#define CSV_ENUM(name) col_##name,
  CSV_COLUMNS(CSV_ENUM)
#undef CSV_ENUM
  col__count
};

static const char *const csv_names[col__count] = {
#define CSV_NAME(name) #name,
    CSV_COLUMNS(CSV_NAME)
#undef CSV_NAME
};

const char *oc_lut_csv_header(void) {
  static char header[512];
  if (header[0] == '\0') {
    size_t used = 0;
    for (int i = 0; i < col__count; i++) {
      size_t n = strlen(csv_names[i]);
      if (i) header[used++] = ',';
      memcpy(header + used, csv_names[i], n);
      used += n;
    }
    header[used] = '\0';
  }
  return header;
}

enum oc_status oc_lut_format_from_name(const char *name, enum oc_lut_format *format) {
  if (name && strcmp(name, "csv") == 0) *format = oc_lut_format_csv;
  else if (name && strcmp(name, "jsonl") == 0) *format = oc_lut_format_jsonl;
  else if (name && strcmp(name, "yaml") == 0) *format = oc_lut_format_yaml;
  else
    return oc__fail(oc_status_invalid_argument, "format '%s': expected csv, jsonl or yaml",
                    name ? name : "");
  return oc_status_ok;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum oc_status oc_lut_format_of_path(const char *path, enum oc_lut_format *format) {
  if (ends_with(path, ".csv")) *format = oc_lut_format_csv;
  else if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson"))
    *format = oc_lut_format_jsonl;
  else if (ends_with(path, ".yaml") || ends_with(path, ".yml")) *format = oc_lut_format_yaml;
  else
    return oc__fail(oc_status_invalid_argument,
                    "%s: cannot tell the format from the name (.csv, .jsonl, .yaml); give it",
                    path);
  return oc_status_ok;
}

/* ---- export ---- */

/* fingerprint -> device name, for the device_name column. */
struct device_names {
  size_t n, cap;
  struct {
    char fp[17];
    char name[128];
  } *items;
};

static int collect_device(void *ctx, const struct oc_lut_device *dev) {
  struct device_names *d = ctx;
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    void *items = realloc(d->items, cap * sizeof *d->items);
    if (items == NULL) return 1;
    d->items = items;
    d->cap = cap;
  }
  oc__strcpy(d->items[d->n].fp, sizeof d->items[d->n].fp, dev->fingerprint);
  oc__strcpy(d->items[d->n].name, sizeof d->items[d->n].name, dev->name);
  d->n++;
  return 0;
}

static const char *device_name(const struct device_names *d, const char *fp) {
  for (size_t i = 0; i < d->n; i++)
    if (strcmp(d->items[i].fp, fp) == 0) return d->items[i].name;
  return "";
}

static void csv_field(FILE *out, const char *text) {
  bool quote = text[0] == '\0' ? false : strpbrk(text, ",\"\r\n =") != NULL;
  if (!quote) {
    fputs(text, out);
    return;
  }
  fputc('"', out);
  for (const char *p = text; *p; p++) {
    if (*p == '"') fputc('"', out);
    fputc(*p, out);
  }
  fputc('"', out);
}

static void write_int(FILE *out, int64_t v) { fprintf(out, ",%lld", (long long)v); }

static void write_real(FILE *out, double v, bool optional) {
  char buf[40];
  fputc(',', out);
  if (optional && v == -1.0) return;
  oc__lut_format_double(v, buf, sizeof buf);
  fputs(buf, out);
}

struct export_ctx {
  FILE *out;
  enum oc_lut_format format;
  struct device_names names;
  struct oc_lut *lut;
  enum oc_status status;
};

static int export_csv_row(struct export_ctx *x, const struct oc_lut_row *r) {
  FILE *out = x->out;
  csv_field(out, r->fingerprint);
  fputc(',', out);
  csv_field(out, r->target);
  write_int(out, r->threads);
  fputc(',', out);
  csv_field(out, r->key);
  fputc(',', out);
  csv_field(out, r->kind);
  fputc(',', out);
  csv_field(out, r->dtype);
  fprintf(out, ",%s", oc_lut_granularity_name(r->granularity));
  write_int(out, r->flops);
  write_int(out, r->macs);
  write_int(out, r->bytes);
  write_int(out, r->params);
  write_int(out, r->samples);
  write_real(out, r->median_us, false);
  write_real(out, r->p10_us, true);
  write_real(out, r->p90_us, true);
  write_real(out, r->min_us, true);
  write_real(out, r->mad_us, true);
  write_real(out, r->cv, true);
  write_int(out, r->weight_bytes);
  write_int(out, r->activation_bytes);
  if (r->peak_bytes >= 0) write_int(out, r->peak_bytes);
  else fputc(',', out);
  fprintf(out, ",%s,", oc_lut_source_name(r->source));
  csv_field(out, r->measured_at);
  fputc(',', out);
  csv_field(out, device_name(&x->names, r->fingerprint));
  fputc(',', out);
  csv_field(out, r->counters_json ? r->counters_json : "{}");
  fputc(',', out);
  csv_field(out, r->env_json ? r->env_json : "{}");
  fputc('\n', out);
  return 0;
}

static json_t *json_optional(double v) { return v == -1.0 ? json_null() : json_real(v); }

static json_t *parse_object(const char *text) {
  json_t *v = json_loads(text ? text : "{}", 0, NULL);
  return v ? v : json_object();
}

static int export_jsonl_row(struct export_ctx *x, const struct oc_lut_row *r) {
  struct oc_lut_device dev;
  json_t *device = NULL;
  if (oc_lut_get_device(x->lut, r->fingerprint, &dev) == oc_status_ok) {
    device = json_pack("{s:s, s:s, s:s, s:o}", "name", dev.name, "isa", dev.isa, "runtime",
                       dev.runtime, "info", parse_object(dev.info_json));
  }
  json_t *o = json_object();
  json_object_set_new(o, "fingerprint", json_string(r->fingerprint));
  json_object_set_new(o, "target", json_string(r->target));
  json_object_set_new(o, "threads", json_integer(r->threads));
  json_object_set_new(o, "key", json_string(r->key));
  json_object_set_new(o, "kind", json_string(r->kind));
  json_object_set_new(o, "dtype", json_string(r->dtype));
  json_object_set_new(o, "granularity", json_string(oc_lut_granularity_name(r->granularity)));
  json_object_set_new(o, "flops", json_integer(r->flops));
  json_object_set_new(o, "macs", json_integer(r->macs));
  json_object_set_new(o, "bytes", json_integer(r->bytes));
  json_object_set_new(o, "params", json_integer(r->params));
  json_object_set_new(o, "samples", json_integer(r->samples));
  json_object_set_new(o, "median_us", json_real(r->median_us));
  json_object_set_new(o, "p10_us", json_optional(r->p10_us));
  json_object_set_new(o, "p90_us", json_optional(r->p90_us));
  json_object_set_new(o, "min_us", json_optional(r->min_us));
  json_object_set_new(o, "mad_us", json_optional(r->mad_us));
  json_object_set_new(o, "cv", json_optional(r->cv));
  json_object_set_new(o, "weight_bytes", json_integer(r->weight_bytes));
  json_object_set_new(o, "activation_bytes", json_integer(r->activation_bytes));
  json_object_set_new(o, "peak_bytes",
                      r->peak_bytes >= 0 ? json_integer(r->peak_bytes) : json_null());
  json_object_set_new(o, "source", json_string(oc_lut_source_name(r->source)));
  json_object_set_new(o, "measured_at", json_string(r->measured_at));
  json_object_set_new(o, "counters", parse_object(r->counters_json));
  json_object_set_new(o, "env", parse_object(r->env_json));
  json_object_set_new(o, "device", device ? device : json_null());
  int rc = json_dumpf(o, x->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  fputc('\n', x->out);
  if (rc != 0) {
    x->status = oc__fail(oc_status_out_of_memory, "key '%s': cannot write JSON", r->key);
    return 1;
  }
  return 0;
}

static int export_row(void *ctx, const struct oc_lut_row *row) {
  struct export_ctx *x = ctx;
  return x->format == oc_lut_format_csv ? export_csv_row(x, row) : export_jsonl_row(x, row);
}

enum oc_status oc_lut_export(struct oc_lut *lut, const struct oc_lut_filter *filter,
                             enum oc_lut_format format, FILE *out, const char *name) {
  if (format != oc_lut_format_csv && format != oc_lut_format_jsonl)
    return oc__fail(oc_status_invalid_argument, "%s: export writes csv or jsonl", name);
  struct export_ctx x = {.out = out, .format = format, .lut = lut, .status = oc_status_ok};
  enum oc_status st = oc_lut_foreach_device(lut, collect_device, &x.names);
  if (st == oc_status_interrupted)
    st = oc__fail(oc_status_out_of_memory, "%s: out of memory listing devices", name);
  if (st == oc_status_ok) {
    if (format == oc_lut_format_csv) fprintf(out, "%s\n", oc_lut_csv_header());
    st = oc_lut_foreach(lut, filter, export_row, &x);
    if (st == oc_status_interrupted) st = x.status;
  }
  free(x.names.items);
  if (st == oc_status_ok && (fflush(out) != 0 || ferror(out)))
    st = oc__fail(oc_status_io_error, "%s: write failed: %s", name, strerror(errno));
  return st;
}

/* ---- import: shared ---- */

enum oc_status oc__lut_import_device(struct oc__lut_import *imp, const struct oc_lut_device *dev,
                                     long line) {
  bool added = false;
  enum oc_status st = oc__lut_strset_add(&imp->seen_devices, dev->fingerprint, &added);
  if (st != oc_status_ok || !added) return st;
  st = oc_lut_put_device(imp->lut, dev);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s:%ld: ", imp->path, line);
  return oc_status_ok;
}

enum oc_status oc__lut_import_row(struct oc__lut_import *imp, const struct oc_lut_row *row,
                                  long line) {
  char id[OC_LUT_KEY_MAX + 40];
  oc__strfmt(id, sizeof id, "%s/%d/%s", row->fingerprint, row->threads, row->key);
  bool added = false;
  enum oc_status st = oc__lut_strset_add(&imp->seen_rows, id, &added);
  if (st != oc_status_ok) return st;
  if (!added)
    return oc__fail(oc_status_invalid_argument,
                    "%s:%ld: key '%s' (device %s, threads %d) appears a second time in the file",
                    imp->path, line, row->key, row->fingerprint, row->threads);
  st = oc_lut_row_validate(row);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s:%ld: ", imp->path, line);
  enum oc_lut_put_result result;
  st = oc_lut_put(imp->lut, row, imp->policy, &result);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s:%ld: ", imp->path, line);
  imp->report->read++;
  if (result == oc_lut_inserted) imp->report->inserted++;
  else if (result == oc_lut_replaced) imp->report->replaced++;
  else imp->report->kept++;
  return oc_status_ok;
}

static enum oc_status read_file(const char *path, char **text, size_t *len) {
  *text = NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    int e = errno;
    return oc__fail(e == ENOENT ? oc_status_not_found : oc_status_io_error, "%s: cannot open: %s",
                    path, strerror(e));
  }
  size_t cap = 1 << 16, used = 0;
  char *buf = malloc(cap);
  enum oc_status st = oc_status_ok;
  while (buf) {
    if (used + 1 >= cap) {
      char *bigger = realloc(buf, cap * 2);
      if (bigger == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
    size_t n = fread(buf + used, 1, cap - used - 1, f);
    used += n;
    if (n == 0) break;
  }
  if (buf == NULL) st = oc__fail(oc_status_out_of_memory, "%s: out of memory", path);
  else if (ferror(f)) st = oc__fail(oc_status_io_error, "%s: read failed", path);
  fclose(f);
  if (st != oc_status_ok) {
    free(buf);
    return st;
  }
  buf[used] = '\0';
  if (strlen(buf) != used) {
    free(buf);
    return oc__fail(oc_status_parse_error, "%s: contains a NUL byte; not a text file", path);
  }
  *text = buf;
  *len = used;
  return oc_status_ok;
}

/* ---- import: CSV ---- */

/* One record: fields point into a decoded copy. */
struct csv_record {
  char *fields[col__count + 8];
  int n;
  long line; /* where the record starts */
};

/* Decodes the record starting at *pos in place (text is modified: quotes
 * removed, separators replaced by NUL). Advances *pos and *line. */
static enum oc_status csv_next(const char *path, char *text, size_t *pos, long *line,
                               struct csv_record *rec) {
  char *p = text + *pos;
  rec->n = 0;
  rec->line = *line;
  for (;;) {
    if (rec->n == (int)(sizeof rec->fields / sizeof rec->fields[0]))
      return oc__fail(oc_status_parse_error, "%s:%ld: more than %d fields", path, rec->line,
                      (int)(sizeof rec->fields / sizeof rec->fields[0]) - 1);
    char *out = p;
    rec->fields[rec->n++] = out;
    if (*p == '"') {
      p++;
      for (;;) {
        if (*p == '\0')
          return oc__fail(oc_status_parse_error, "%s:%ld: a quoted field is not closed", path,
                          rec->line);
        if (*p == '"') {
          if (p[1] == '"') {
            *out++ = '"';
            p += 2;
            continue;
          }
          p++;
          break;
        }
        if (*p == '\n') (*line)++;
        *out++ = *p++;
      }
      if (*p != ',' && *p != '\n' && *p != '\r' && *p != '\0')
        return oc__fail(oc_status_parse_error,
                        "%s:%ld: field %d: text after the closing quote", path, rec->line,
                        rec->n);
    } else {
      while (*p != ',' && *p != '\n' && *p != '\r' && *p != '\0') {
        if (*p == '"')
          return oc__fail(oc_status_parse_error,
                          "%s:%ld: field %d: a quote inside an unquoted field", path, rec->line,
                          rec->n);
        *out++ = *p++;
      }
    }
    char sep = *p;
    *out = '\0';
    if (sep == ',') {
      p++;
      continue;
    }
    /* *out may have overwritten *p: decide on sep, the byte read before. */
    if (sep == '\n') {
      p++;
    } else if (sep == '\r') {
      p++;
      if (*p != '\n')
        return oc__fail(oc_status_parse_error, "%s:%ld: a lone carriage return", path,
                        rec->line);
      p++;
    }
    (*line)++;
    break;
  }
  *pos = (size_t)(p - text);
  return oc_status_ok;
}

static enum oc_status csv_int(const char *path, long line, const char *col, const char *text,
                              int64_t min, int64_t *out) {
  if (!oc__parse_i64(text, min, INT64_MAX, out))
    return oc__fail(oc_status_parse_error,
                    "%s:%ld: column '%s': value '%s' must be a whole number >= %lld", path, line,
                    col, text, (long long)min);
  return oc_status_ok;
}

/* A latency or ratio: finite and >= 0; empty means unknown (-1) when
 * optional. NaN, infinities and negative values are errors. */
static enum oc_status csv_real(const char *path, long line, const char *col, const char *text,
                               bool optional, double *out) {
  if (optional && text[0] == '\0') {
    *out = -1.0;
    return oc_status_ok;
  }
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (text[0] == '\0' || end == text || *end != '\0' || errno == ERANGE || !isfinite(v) ||
      v < 0.0)
    return oc__fail(oc_status_parse_error,
                    "%s:%ld: column '%s': value '%s' must be a finite number >= 0%s", path, line,
                    col, text, optional ? " (or empty: unknown)" : "");
  *out = v;
  return oc_status_ok;
}

static enum oc_status csv_text(const char *path, long line, const char *col, const char *text,
                               char *dst, size_t size) {
  if (strlen(text) >= size)
    return oc__fail(oc_status_parse_error, "%s:%ld: column '%s': value '%.40s' is longer than %zu",
                    path, line, col, text, size - 1);
  memcpy(dst, text, strlen(text) + 1);
  return oc_status_ok;
}

static enum oc_status csv_to_row(struct oc__lut_import *imp, const struct csv_record *rec,
                                 const int *idx, struct oc_lut_row *row) {
  const char *path = imp->path;
  long line = rec->line;
#define F(col) rec->fields[idx[col_##col]]
  memset(row, 0, sizeof *row);
  int64_t threads = 0;
  enum oc_status st = csv_text(path, line, "fingerprint", F(fingerprint), row->fingerprint,
                               sizeof row->fingerprint);
  if (st == oc_status_ok)
    st = csv_text(path, line, "target", F(target), row->target, sizeof row->target);
  if (st == oc_status_ok) st = csv_int(path, line, "threads", F(threads), 1, &threads);
  if (st == oc_status_ok && threads > INT32_MAX)
    st = oc__fail(oc_status_parse_error, "%s:%ld: column 'threads': value '%s' is too large",
                  path, line, F(threads));
  row->threads = (int32_t)threads;
  if (st == oc_status_ok) st = csv_text(path, line, "key", F(key), row->key, sizeof row->key);
  if (st == oc_status_ok) st = csv_text(path, line, "kind", F(kind), row->kind, sizeof row->kind);
  if (st == oc_status_ok)
    st = csv_text(path, line, "dtype", F(dtype), row->dtype, sizeof row->dtype);
  if (st == oc_status_ok && oc_lut_granularity_from_name(F(granularity), &row->granularity) !=
                                oc_status_ok)
    st = oc__fail(oc_status_parse_error,
                  "%s:%ld: column 'granularity': value '%s' must be kernel or block", path, line,
                  F(granularity));
  if (st == oc_status_ok) st = csv_int(path, line, "flops", F(flops), 0, &row->flops);
  if (st == oc_status_ok) st = csv_int(path, line, "macs", F(macs), 0, &row->macs);
  if (st == oc_status_ok) st = csv_int(path, line, "bytes", F(bytes), 0, &row->bytes);
  if (st == oc_status_ok) st = csv_int(path, line, "params", F(params), 0, &row->params);
  if (st == oc_status_ok) st = csv_int(path, line, "samples", F(samples), 1, &row->samples);
  if (st == oc_status_ok)
    st = csv_real(path, line, "median_us", F(median_us), false, &row->median_us);
  if (st == oc_status_ok) st = csv_real(path, line, "p10_us", F(p10_us), true, &row->p10_us);
  if (st == oc_status_ok) st = csv_real(path, line, "p90_us", F(p90_us), true, &row->p90_us);
  if (st == oc_status_ok) st = csv_real(path, line, "min_us", F(min_us), true, &row->min_us);
  if (st == oc_status_ok) st = csv_real(path, line, "mad_us", F(mad_us), true, &row->mad_us);
  if (st == oc_status_ok) st = csv_real(path, line, "cv", F(cv), true, &row->cv);
  if (st == oc_status_ok)
    st = csv_int(path, line, "weight_bytes", F(weight_bytes), 0, &row->weight_bytes);
  if (st == oc_status_ok)
    st = csv_int(path, line, "activation_bytes", F(activation_bytes), 0, &row->activation_bytes);
  if (st == oc_status_ok) {
    if (F(peak_bytes)[0] == '\0') row->peak_bytes = -1;
    else st = csv_int(path, line, "peak_bytes", F(peak_bytes), 0, &row->peak_bytes);
  }
  if (st == oc_status_ok && oc_lut_source_from_name(F(source), &row->source) != oc_status_ok)
    st = oc__fail(oc_status_parse_error,
                  "%s:%ld: column 'source': value '%s' must be measured or imported", path, line,
                  F(source));
  if (st == oc_status_ok)
    st = csv_text(path, line, "measured_at", F(measured_at), row->measured_at,
                  sizeof row->measured_at);
  row->counters_json = F(counters)[0] ? F(counters) : "{}";
  row->env_json = F(env)[0] ? F(env) : "{}";
#undef F
  return st;
}

static enum oc_status import_csv(struct oc__lut_import *imp, char *text) {
  size_t pos = 0;
  long line = 1;
  struct csv_record rec;
  if (text[0] == '\0')
    return oc__fail(oc_status_parse_error, "%s: empty file; expected the header line '%s'",
                    imp->path, oc_lut_csv_header());
  /* A UTF-8 byte order mark from a spreadsheet is not part of the header. */
  if ((unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb &&
      (unsigned char)text[2] == 0xbf)
    pos = 3;
  enum oc_status st = csv_next(imp->path, text, &pos, &line, &rec);
  if (st != oc_status_ok) return st;
  int idx[col__count];
  for (int c = 0; c < col__count; c++) idx[c] = -1;
  for (int i = 0; i < rec.n; i++) {
    int c = 0;
    while (c < col__count && strcmp(rec.fields[i], csv_names[c]) != 0) c++;
    if (c == col__count)
      return oc__fail(oc_status_parse_error, "%s:1: unknown column '%s' (expected %s)", imp->path,
                      rec.fields[i], oc_lut_csv_header());
    if (idx[c] >= 0)
      return oc__fail(oc_status_parse_error, "%s:1: column '%s' appears twice", imp->path,
                      rec.fields[i]);
    idx[c] = i;
  }
  for (int c = 0; c < col__count; c++)
    if (idx[c] < 0)
      return oc__fail(oc_status_parse_error, "%s:1: missing column '%s' (expected %s)",
                      imp->path, csv_names[c], oc_lut_csv_header());
  int width = rec.n;
  while (text[pos] != '\0') {
    st = csv_next(imp->path, text, &pos, &line, &rec);
    if (st != oc_status_ok) return st;
    if (rec.n == 1 && rec.fields[0][0] == '\0') continue; /* a blank line */
    if (rec.n != width)
      return oc__fail(oc_status_parse_error, "%s:%ld: %d fields, the header has %d", imp->path,
                      rec.line, rec.n, width);
    struct oc_lut_row row;
    st = csv_to_row(imp, &rec, idx, &row);
    if (st != oc_status_ok) return st;
    struct oc_lut_device dev = {.info_json = "{}"};
    oc__strcpy(dev.fingerprint, sizeof dev.fingerprint, row.fingerprint);
    oc__strcpy(dev.target, sizeof dev.target, row.target);
    oc__strcpy(dev.name, sizeof dev.name, rec.fields[idx[col_device_name]]);
    st = oc__lut_import_device(imp, &dev, rec.line);
    if (st == oc_status_ok) st = oc__lut_import_row(imp, &row, rec.line);
    if (st != oc_status_ok) return st;
  }
  return oc_status_ok;
}

/* ---- import: JSON Lines ---- */

static enum oc_status json_field(const char *path, long line, json_t *o, const char *name,
                                 json_t **out) {
  *out = json_object_get(o, name);
  if (*out == NULL)
    return oc__fail(oc_status_parse_error, "%s:%ld: missing field '%s'", path, line, name);
  return oc_status_ok;
}

static enum oc_status json_text(const char *path, long line, json_t *o, const char *name,
                                char *dst, size_t size) {
  json_t *v;
  enum oc_status st = json_field(path, line, o, name, &v);
  if (st != oc_status_ok) return st;
  if (!json_is_string(v))
    return oc__fail(oc_status_parse_error, "%s:%ld: field '%s' must be a string", path, line,
                    name);
  return csv_text(path, line, name, json_string_value(v), dst, size);
}

static enum oc_status json_int(const char *path, long line, json_t *o, const char *name,
                               int64_t min, bool nullable, int64_t *out) {
  json_t *v;
  enum oc_status st = json_field(path, line, o, name, &v);
  if (st != oc_status_ok) return st;
  if (nullable && json_is_null(v)) {
    *out = -1;
    return oc_status_ok;
  }
  if (!json_is_integer(v) || json_integer_value(v) < min)
    return oc__fail(oc_status_parse_error, "%s:%ld: field '%s' must be a whole number >= %lld%s",
                    path, line, name, (long long)min, nullable ? " or null" : "");
  *out = json_integer_value(v);
  return oc_status_ok;
}

static enum oc_status json_num(const char *path, long line, json_t *o, const char *name,
                               bool nullable, double *out) {
  json_t *v;
  enum oc_status st = json_field(path, line, o, name, &v);
  if (st != oc_status_ok) return st;
  if (nullable && json_is_null(v)) {
    *out = -1.0;
    return oc_status_ok;
  }
  double d = json_is_number(v) ? json_number_value(v) : NAN;
  if (!isfinite(d) || d < 0.0)
    return oc__fail(oc_status_parse_error,
                    "%s:%ld: field '%s' must be a finite number >= 0%s", path, line, name,
                    nullable ? " or null" : "");
  *out = d;
  return oc_status_ok;
}

static const char *const jsonl_fields[] = {
    "fingerprint", "target",       "threads",     "key",        "kind",    "dtype",
    "granularity", "flops",        "macs",        "bytes",      "params",  "samples",
    "median_us",   "p10_us",       "p90_us",      "min_us",     "mad_us",  "cv",
    "weight_bytes", "activation_bytes", "peak_bytes", "source", "measured_at", "counters",
    "env",         "device"};

static enum oc_status import_jsonl_line(struct oc__lut_import *imp, const char *text,
                                        size_t len, long line) {
  const char *path = imp->path;
  json_error_t err;
  json_t *o = json_loadb(text, len, 0, &err);
  char *counters = NULL, *env = NULL, *info = NULL;
  enum oc_status st = oc_status_ok;
  if (o == NULL || !json_is_object(o)) {
    st = oc__fail(oc_status_parse_error, "%s:%ld: %s", path, line,
                  o ? "expected a JSON object" : err.text);
    goto done;
  }
  const char *name;
  json_t *value;
  json_object_foreach(o, name, value) {
    size_t i = 0;
    while (i < sizeof jsonl_fields / sizeof jsonl_fields[0] && strcmp(name, jsonl_fields[i]) != 0)
      i++;
    if (i == sizeof jsonl_fields / sizeof jsonl_fields[0]) {
      st = oc__fail(oc_status_parse_error, "%s:%ld: unknown field '%s'", path, line, name);
      goto done;
    }
  }
  struct oc_lut_row row;
  memset(&row, 0, sizeof row);
  int64_t threads = 0;
  char gran[16], source[16];
  st = json_text(path, line, o, "fingerprint", row.fingerprint, sizeof row.fingerprint);
  if (st == oc_status_ok) st = json_text(path, line, o, "target", row.target, sizeof row.target);
  if (st == oc_status_ok) st = json_int(path, line, o, "threads", 1, false, &threads);
  if (st == oc_status_ok && threads > INT32_MAX)
    st = oc__fail(oc_status_parse_error, "%s:%ld: field 'threads' is too large", path, line);
  row.threads = (int32_t)threads;
  if (st == oc_status_ok) st = json_text(path, line, o, "key", row.key, sizeof row.key);
  if (st == oc_status_ok) st = json_text(path, line, o, "kind", row.kind, sizeof row.kind);
  if (st == oc_status_ok) st = json_text(path, line, o, "dtype", row.dtype, sizeof row.dtype);
  if (st == oc_status_ok) st = json_text(path, line, o, "granularity", gran, sizeof gran);
  if (st == oc_status_ok && oc_lut_granularity_from_name(gran, &row.granularity) != oc_status_ok)
    st = oc__fail(oc_status_parse_error, "%s:%ld: field 'granularity': '%s' must be kernel or block",
                  path, line, gran);
  if (st == oc_status_ok) st = json_int(path, line, o, "flops", 0, false, &row.flops);
  if (st == oc_status_ok) st = json_int(path, line, o, "macs", 0, false, &row.macs);
  if (st == oc_status_ok) st = json_int(path, line, o, "bytes", 0, false, &row.bytes);
  if (st == oc_status_ok) st = json_int(path, line, o, "params", 0, false, &row.params);
  if (st == oc_status_ok) st = json_int(path, line, o, "samples", 1, false, &row.samples);
  if (st == oc_status_ok) st = json_num(path, line, o, "median_us", false, &row.median_us);
  if (st == oc_status_ok) st = json_num(path, line, o, "p10_us", true, &row.p10_us);
  if (st == oc_status_ok) st = json_num(path, line, o, "p90_us", true, &row.p90_us);
  if (st == oc_status_ok) st = json_num(path, line, o, "min_us", true, &row.min_us);
  if (st == oc_status_ok) st = json_num(path, line, o, "mad_us", true, &row.mad_us);
  if (st == oc_status_ok) st = json_num(path, line, o, "cv", true, &row.cv);
  if (st == oc_status_ok)
    st = json_int(path, line, o, "weight_bytes", 0, false, &row.weight_bytes);
  if (st == oc_status_ok)
    st = json_int(path, line, o, "activation_bytes", 0, false, &row.activation_bytes);
  if (st == oc_status_ok) st = json_int(path, line, o, "peak_bytes", 0, true, &row.peak_bytes);
  if (st == oc_status_ok) st = json_text(path, line, o, "source", source, sizeof source);
  if (st == oc_status_ok && oc_lut_source_from_name(source, &row.source) != oc_status_ok)
    st = oc__fail(oc_status_parse_error, "%s:%ld: field 'source': '%s' must be measured or imported",
                  path, line, source);
  if (st == oc_status_ok)
    st = json_text(path, line, o, "measured_at", row.measured_at, sizeof row.measured_at);
  if (st != oc_status_ok) goto done;
  json_t *c = json_object_get(o, "counters"), *e = json_object_get(o, "env");
  if ((c && !json_is_object(c)) || (e && !json_is_object(e))) {
    st = oc__fail(oc_status_parse_error, "%s:%ld: fields 'counters' and 'env' must be objects",
                  path, line);
    goto done;
  }
  counters = c ? json_dumps(c, JSON_COMPACT) : NULL;
  env = e ? json_dumps(e, JSON_COMPACT) : NULL;
  if ((c && counters == NULL) || (e && env == NULL)) {
    st = oc__fail(oc_status_out_of_memory, "%s:%ld: out of memory", path, line);
    goto done;
  }
  row.counters_json = counters ? counters : "{}";
  row.env_json = env ? env : "{}";
  struct oc_lut_device dev = {.info_json = "{}"};
  oc__strcpy(dev.fingerprint, sizeof dev.fingerprint, row.fingerprint);
  oc__strcpy(dev.target, sizeof dev.target, row.target);
  json_t *d = json_object_get(o, "device");
  if (d && json_is_object(d)) {
    json_t *v = json_object_get(d, "info");
    if (v && !json_is_object(v)) {
      st = oc__fail(oc_status_parse_error, "%s:%ld: field 'device.info' must be an object",
                    path, line);
      goto done;
    }
    if (v) info = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (info) dev.info_json = info;
    const char *s;
    if ((s = json_string_value(json_object_get(d, "name")))) oc__strcpy(dev.name, sizeof dev.name, s);
    if ((s = json_string_value(json_object_get(d, "isa")))) oc__strcpy(dev.isa, sizeof dev.isa, s);
    if ((s = json_string_value(json_object_get(d, "runtime"))))
      oc__strcpy(dev.runtime, sizeof dev.runtime, s);
  } else if (d && !json_is_null(d)) {
    st = oc__fail(oc_status_parse_error, "%s:%ld: field 'device' must be an object or null", path,
                  line);
    goto done;
  }
  st = oc__lut_import_device(imp, &dev, line);
  if (st == oc_status_ok) st = oc__lut_import_row(imp, &row, line);
done:
  free(counters);
  free(env);
  free(info);
  json_decref(o);
  return st;
}

static enum oc_status import_jsonl(struct oc__lut_import *imp, const char *text) {
  long line = 1;
  const char *p = text;
  while (*p) {
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    bool blank = true;
    for (size_t i = 0; i < len; i++)
      if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') blank = false;
    if (!blank) {
      enum oc_status st = import_jsonl_line(imp, p, len, line);
      if (st != oc_status_ok) return st;
    }
    if (end == NULL) break;
    p = end + 1;
    line++;
  }
  return oc_status_ok;
}

enum oc_status oc_lut_import(struct oc_lut *lut, const char *path,
                             const struct oc_lut_import_opts *opts,
                             struct oc_lut_import_report *report) {
  struct oc_lut_import_opts defaults = {.format = oc_lut_format_auto,
                                        .policy = oc_lut_prefer_samples};
  struct oc_lut_import_report unused;
  if (opts == NULL) opts = &defaults;
  if (report == NULL) report = &unused;
  memset(report, 0, sizeof *report);
  enum oc_lut_format format = opts->format;
  enum oc_status st = oc_status_ok;
  if (format == oc_lut_format_auto) st = oc_lut_format_of_path(path, &format);
  if (st != oc_status_ok) return st;
  char *text = NULL;
  size_t len = 0;
  if (format != oc_lut_format_yaml) {
    st = read_file(path, &text, &len);
    if (st != oc_status_ok) return st;
  }
  struct oc__lut_import imp = {.lut = lut, .path = path, .policy = opts->policy, .report = report};
  st = oc_lut_begin(lut);
  if (st == oc_status_ok) {
    if (format == oc_lut_format_csv) st = import_csv(&imp, text);
    else if (format == oc_lut_format_jsonl) st = import_jsonl(&imp, text);
    else st = oc__lut_import_yaml(&imp, opts);
    if (st == oc_status_ok) st = oc_lut_commit(lut);
    else oc_lut_rollback(lut);
  }
  if (st != oc_status_ok) memset(report, 0, sizeof *report);
  oc__lut_strset_clear(&imp.seen_rows);
  oc__lut_strset_clear(&imp.seen_devices);
  free(text);
  return st;
}
