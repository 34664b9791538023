/* search_journal.c - the journal: one JSON line per evaluated candidate
 * (and one per hardware-in-the-loop measurement), written and flushed as
 * the search goes, so that a search killed at any moment loses at most the
 * line being written.
 *
 * Lines of candidates that cost an evaluator call, and measurements, are
 * flushed at once; cheap candidates at least every JOURNAL_FLUSH_S and at
 * the end of every generation.
 *
 * Resuming replays rather than restores: the search runs again from its
 * seed, and every candidate the journal holds is taken from it instead of
 * being evaluated (measurements likewise). The algorithms are deterministic
 * given the metric values, so the replay walks exactly the path of the
 * killed run and then continues: a resumed run ends with the same journal
 * as one never interrupted. Lines are written with fprintf, not built as
 * JSON trees: a line costs about a microsecond. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JOURNAL_FLUSH_S 0.25

#include "search/search_internal.h"

struct oc__journal_rec {
  int64_t id;
  uint64_t hash;
  int32_t generation;
  double value[oc_search_metric__count];
  uint8_t source[oc_search_metric__count];
  double predicted_us;
};

/* ---- writing ------------------------------------------------------------------------------ */

static void put_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void put_number(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.17g", v);
  else
    fputs("null", f);
}

enum oc_status oc__journal_write_cand(struct oc__search *s, int64_t i) {
  FILE *f = s->journal;
  const struct oc__cand *c = &s->archive.cand[i];
  char text[16384];
  if (oc_space_format_genes(s->space, oc__archive_genes(&s->archive, i), s->n_genes, false, text,
                            sizeof text) != oc_status_ok)
    return oc__fail(oc_status_overflow, "candidate %lld: gene text longer than %zu bytes",
                    (long long)i, sizeof text);
  fprintf(f, "{\"id\":%lld,\"generation\":%d,\"seed\":%llu,\"hash\":\"%016llx\",\"genes\":",
          (long long)c->id, (int)c->generation, (unsigned long long)s->cfg->seed,
          (unsigned long long)c->hash);
  put_string(f, text);
  fputs(",\"metrics\":{", f);
  bool first = true;
  for (int k = 0; k < OC__SEARCH_NMETRICS; k++) {
    if (c->source[k] == oc_search_source_none && !(k == oc_search_accuracy && s->need[k])) continue;
    fprintf(f, "%s\"%s\":", first ? "" : ",", oc_search_metric_name((enum oc_search_metric)k));
    put_number(f, c->value[k]);
    first = false;
  }
  fputs("},\"sources\":{", f);
  first = true;
  for (int k = 0; k < OC__SEARCH_NMETRICS; k++) {
    if (c->source[k] == oc_search_source_none && !(k == oc_search_accuracy && s->need[k])) continue;
    fprintf(f, "%s\"%s\":\"%s\"", first ? "" : ",", oc_search_metric_name((enum oc_search_metric)k),
            oc_search_source_name((enum oc_search_source)c->source[k]));
    first = false;
  }
  fputs("},\"predicted_latency_us\":", f);
  put_number(f, c->predicted_us);
  fputs(",\"correction\":", f);
  put_number(f, s->correction);
  fprintf(f, ",\"feasible\":%s,\"violation\":", c->feasible ? "true" : "false");
  put_number(f, c->violation);
  fputs("}\n", f);
  /* A line that cost an evaluator call is flushed at once; cheap ones at
   * least every JOURNAL_FLUSH_S and at every generation's end (a kill
   * loses at most that much cheap work, which a resume recomputes). */
  double now = oc__journal_now();
  if (s->evaluator != NULL || now - s->journal_flushed_s >= JOURNAL_FLUSH_S) {
    s->journal_flushed_s = now;
    return oc__journal_flush(s);
  }
  return ferror(f) ? oc__fail(oc_status_io_error, "%s/journal.jsonl: write failed", s->dir)
                   : oc_status_ok;
}

double oc__journal_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum oc_status oc__journal_flush(struct oc__search *s) {
  if (s->journal == NULL) return oc_status_ok;
  if (fflush(s->journal) != 0 || ferror(s->journal))
    return oc__fail(oc_status_io_error, "%s/journal.jsonl: write failed: %s", s->dir,
                    strerror(errno));
  return oc_status_ok;
}

enum oc_status oc__journal_write_hil(struct oc__search *s, const struct oc__hil_rec *h) {
  FILE *f = s->journal;
  fprintf(f,
          "{\"event\":\"measured\",\"id\":%lld,\"hash\":\"%016llx\",\"generation\":%d,"
          "\"predicted_latency_us\":",
          (long long)h->id, (unsigned long long)h->hash, (int)h->generation);
  put_number(f, h->predicted_us);
  fputs(",\"measured_latency_us\":", f);
  put_number(f, h->measured_us);
  fputs(",\"correction_after\":", f);
  put_number(f, h->correction_after);
  fputs("}\n", f);
  if (fflush(f) != 0 || ferror(f))
    return oc__fail(oc_status_io_error, "%s/journal.jsonl: write failed: %s", s->dir,
                    strerror(errno));
  return oc_status_ok;
}

/* ---- reading back ---------------------------------------------------------------------------- */

void oc__journal_replay_free(struct oc__search *s) {
  free(s->replay);
  free(s->replay_keys);
  free(s->replay_vals);
  free(s->replay_hil);
  s->replay = NULL;
  s->replay_keys = NULL;
  s->replay_vals = NULL;
  s->replay_hil = NULL;
  s->n_replay = s->n_replay_hil = 0;
}

const struct oc__journal_rec *oc__journal_replay_find(const struct oc__search *s, uint64_t hash) {
  if (s->replay_keys == NULL) return NULL;
  size_t j = (size_t)(hash ^ (hash >> 29)) & s->replay_mask;
  while (s->replay_vals[j] != 0) {
    if (s->replay_keys[j] == hash) return &s->replay[s->replay_vals[j] - 1];
    j = (j + 1) & s->replay_mask;
  }
  return NULL;
}

void oc__journal_replay_apply(const struct oc__journal_rec *r, struct oc__cand *c) {
  c->id = r->id;
  for (int k = 0; k < OC__SEARCH_NMETRICS; k++) {
    c->value[k] = r->value[k];
    c->source[k] = r->source[k];
  }
  c->predicted_us = r->predicted_us;
  if (c->source[oc_search_latency] == oc_search_source_measured) {
    /* Measured later, in the killed run: the measurement event restores it. */
    c->source[oc_search_latency] = oc_search_source_none;
  }
}

static double number_or_nan(const json_t *v) {
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static enum oc_status parse_hash(const json_t *v, uint64_t *hash) {
  const char *h = json_string_value(v);
  if (h == NULL || strlen(h) != 16 || strspn(h, "0123456789abcdef") != 16)
    return oc_status_parse_error;
  *hash = strtoull(h, NULL, 16);
  return oc_status_ok;
}

static enum oc_status parse_line(struct oc__search *s, const json_t *o, const char *path,
                                 long lineno, size_t *cap, size_t *cap_hil) {
  if (!json_is_object(o))
    return oc__fail(oc_status_parse_error, "%s: line %ld: not a JSON object", path, lineno);
  const char *event = json_string_value(json_object_get(o, "event"));
  uint64_t hash;
  const json_t *id = json_object_get(o, "id");
  if (!json_is_integer(id) || parse_hash(json_object_get(o, "hash"), &hash) != oc_status_ok)
    return oc__fail(oc_status_parse_error,
                    "%s: line %ld: needs an integer \"id\" and a 16-hex-digit \"hash\"", path,
                    lineno);
  if (event != NULL) {
    if (strcmp(event, "measured") != 0)
      return oc__fail(oc_status_parse_error, "%s: line %ld: unknown event '%s'", path, lineno,
                      event);
    if ((size_t)s->n_replay_hil == *cap_hil) {
      size_t n = *cap_hil ? 2 * *cap_hil : 16;
      struct oc__hil_rec *h = realloc(s->replay_hil, n * sizeof *h);
      if (h == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
      s->replay_hil = h;
      *cap_hil = n;
    }
    struct oc__hil_rec *h = &s->replay_hil[s->n_replay_hil++];
    h->id = (int64_t)json_integer_value(id);
    h->hash = hash;
    h->generation = (int32_t)json_integer_value(json_object_get(o, "generation"));
    h->predicted_us = number_or_nan(json_object_get(o, "predicted_latency_us"));
    h->measured_us = number_or_nan(json_object_get(o, "measured_latency_us"));
    h->correction_after = number_or_nan(json_object_get(o, "correction_after"));
    if (!(h->measured_us > 0))
      return oc__fail(oc_status_parse_error, "%s: line %ld: no positive measured_latency_us", path,
                      lineno);
    return oc_status_ok;
  }
  if ((size_t)s->n_replay == *cap) {
    size_t n = *cap ? 2 * *cap : 256;
    struct oc__journal_rec *r = realloc(s->replay, n * sizeof *r);
    if (r == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
    s->replay = r;
    *cap = n;
  }
  struct oc__journal_rec *r = &s->replay[s->n_replay];
  memset(r, 0, sizeof *r);
  r->id = (int64_t)json_integer_value(id);
  if (r->id != s->n_replay)
    return oc__fail(oc_status_parse_error, "%s: line %ld: candidate id %lld, expected %lld", path,
                    lineno, (long long)r->id, (long long)s->n_replay);
  r->hash = hash;
  r->generation = (int32_t)json_integer_value(json_object_get(o, "generation"));
  r->predicted_us = number_or_nan(json_object_get(o, "predicted_latency_us"));
  const json_t *metrics = json_object_get(o, "metrics");
  const json_t *sources = json_object_get(o, "sources");
  if (!json_is_object(metrics) || !json_is_object(sources))
    return oc__fail(oc_status_parse_error, "%s: line %ld: needs \"metrics\" and \"sources\"", path,
                    lineno);
  for (int k = 0; k < OC__SEARCH_NMETRICS; k++) {
    const char *name = oc_search_metric_name((enum oc_search_metric)k);
    r->value[k] = number_or_nan(json_object_get(metrics, name));
    r->source[k] = oc_search_source_none;
    const char *src = json_string_value(json_object_get(sources, name));
    if (src == NULL) continue;
    bool known = false;
    for (int j = 0; j < oc_search_source__count; j++) {
      if (strcmp(src, oc_search_source_name((enum oc_search_source)j)) == 0) {
        r->source[k] = (uint8_t)j;
        known = true;
      }
    }
    if (!known)
      return oc__fail(oc_status_parse_error, "%s: line %ld: metric %s: unknown source '%s'", path,
                      lineno, name, src);
  }
  s->n_replay++;
  return oc_status_ok;
}

enum oc_status oc__journal_load(struct oc__search *s, const char *path) {
  FILE *f = fopen(path, "r+");
  if (f == NULL) {
    if (errno == ENOENT) return oc_status_ok; /* nothing evaluated yet */
    return oc__fail(oc_status_io_error, "%s: %s", path, strerror(errno));
  }
  char *line = NULL;
  size_t lcap = 0, cap = 0, cap_hil = 0;
  long lineno = 0;
  long good_end = 0;
  enum oc_status st = oc_status_ok;
  ssize_t len;
  while ((len = getline(&line, &lcap, f)) >= 0) {
    lineno++;
    if (len == 0 || line[len - 1] != '\n') break; /* torn last line: dropped */
    json_error_t err;
    json_t *o = json_loadb(line, (size_t)len, 0, &err);
    if (o == NULL) {
      st = oc__fail(oc_status_parse_error, "%s: line %ld: %s", path, lineno, err.text);
      goto done;
    }
    st = parse_line(s, o, path, lineno, &cap, &cap_hil);
    json_decref(o);
    if (st != oc_status_ok) goto done;
    good_end = ftell(f);
  }
  if (ferror(f)) {
    st = oc__fail(oc_status_io_error, "%s: read error", path);
    goto done;
  }
  if (ftruncate(fileno(f), (off_t)good_end) != 0) {
    st =
        oc__fail(oc_status_io_error, "%s: cannot drop a torn last line: %s", path, strerror(errno));
    goto done;
  }
  size_t mask = 1023;
  while ((size_t)s->n_replay * 2 > mask) mask = mask * 2 + 1;
  s->replay_keys = calloc(mask + 1, sizeof *s->replay_keys);
  s->replay_vals = calloc(mask + 1, sizeof *s->replay_vals);
  if (s->replay_keys == NULL || s->replay_vals == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  s->replay_mask = mask;
  for (int64_t i = 0; i < s->n_replay; i++) {
    uint64_t h = s->replay[i].hash;
    size_t j = (size_t)(h ^ (h >> 29)) & mask;
    while (s->replay_vals[j] != 0) {
      if (s->replay_keys[j] == h) {
        st = oc__fail(oc_status_parse_error, "%s: candidate %lld repeats hash %016llx", path,
                      (long long)i, (unsigned long long)h);
        goto done;
      }
      j = (j + 1) & mask;
    }
    s->replay_keys[j] = h;
    s->replay_vals[j] = i + 1;
  }
done:
  free(line);
  fclose(f);
  return st;
}
