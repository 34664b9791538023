/* lut_merge.c - merging one store into another (shards of a fleet build
 * come together this way) and comparing two sets of rows (two devices, or
 * two builds of one device).
 *
 * A merge is one transaction of the destination: it lands whole or not at
 * all. Duplicates (same device, threads and key) go by a policy; those whose
 * medians disagree by more than a ratio are flagged, because two builds of
 * one op on one device should agree and a large gap means one was disturbed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lut/lut_internal.h"

struct merge_ctx {
  struct oc_lut *dst;
  enum oc_lut_policy policy;
  double flag_ratio;
  oc_lut_flag_fn flag;
  void *flag_ctx;
  struct oc_lut_merge_report *report;
  enum oc_status status;
};

static int merge_device(void *ctx, const struct oc_lut_device *dev) {
  struct merge_ctx *m = ctx;
  m->report->devices++;
  m->status = oc_lut_put_device(m->dst, dev);
  return m->status != oc_status_ok;
}

static int merge_row(void *ctx, const struct oc_lut_row *row) {
  struct merge_ctx *m = ctx;
  struct oc_lut_row stored;
  bool had = false;
  m->report->read++;
  if (m->flag_ratio > 0) {
    enum oc_status st = oc_lut_get(m->dst, row->fingerprint, row->threads, row->key, &stored);
    if (st != oc_status_ok && st != oc_status_not_found) {
      m->status = st;
      return 1;
    }
    had = st == oc_status_ok;
  }
  enum oc_lut_put_result result;
  m->status = oc_lut_put(m->dst, row, m->policy, &result);
  if (m->status != oc_status_ok) return 1;
  if (result == oc_lut_inserted) m->report->inserted++;
  else if (result == oc_lut_replaced) m->report->replaced++;
  else m->report->kept++;
  if (had) {
    double lo = fmin(stored.median_us, row->median_us), hi = fmax(stored.median_us, row->median_us);
    bool differ = lo > 0 ? hi / lo > m->flag_ratio : hi > 0;
    if (differ) {
      m->report->flagged++;
      if (m->flag) m->flag(m->flag_ctx, &stored, row, result == oc_lut_replaced);
    }
  }
  return 0;
}

/* Overhead terms (meta rows) the destination lacks. */
static enum oc_status merge_meta(struct oc_lut *dst, struct oc_lut *src) {
  sqlite3_stmt *stmt = NULL;
  enum oc_status st = oc__lut_prepare(
      src, "SELECT name, value FROM meta WHERE name LIKE 'overhead\\_us/%' ESCAPE '\\'", &stmt);
  if (st != oc_status_ok) return st;
  int rc;
  while (st == oc_status_ok && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    sqlite3_stmt *ins = NULL;
    st = oc__lut_prepare(dst, "INSERT INTO meta(name, value) VALUES(?1, ?2) ON CONFLICT DO NOTHING",
                         &ins);
    if (st != oc_status_ok) break;
    sqlite3_bind_value(ins, 1, sqlite3_column_value(stmt, 0));
    sqlite3_bind_value(ins, 2, sqlite3_column_value(stmt, 1));
    int irc = sqlite3_step(ins);
    if (irc != SQLITE_DONE) st = oc__lut_sqlfail(dst, irc, "copying meta rows");
    sqlite3_finalize(ins);
  }
  if (st == oc_status_ok && rc != SQLITE_DONE) st = oc__lut_sqlfail(src, rc, "reading meta rows");
  sqlite3_finalize(stmt);
  return st;
}

enum oc_status oc_lut_merge(struct oc_lut *dst, const char *src_path, enum oc_lut_policy policy,
                            double flag_ratio, oc_lut_flag_fn flag, void *flag_ctx,
                            struct oc_lut_merge_report *report) {
  struct oc_lut_merge_report unused;
  if (report == NULL) report = &unused;
  memset(report, 0, sizeof *report);
  if (!(flag_ratio == 0 || (isfinite(flag_ratio) && flag_ratio >= 1.0)))
    return oc__fail(oc_status_invalid_argument, "flag ratio: value '%g' must be 0 or >= 1",
                    flag_ratio);
  struct oc_lut *src = NULL;
  enum oc_status st = oc_lut_open(src_path, oc_lut_read_only, &src);
  if (st != oc_status_ok) return st;
  struct merge_ctx m = {dst, policy, flag_ratio, flag, flag_ctx, report, oc_status_ok};
  st = oc_lut_begin(dst);
  if (st == oc_status_ok) {
    st = oc_lut_foreach_device(src, merge_device, &m);
    if (st == oc_status_ok) st = oc_lut_foreach(src, NULL, merge_row, &m);
    if (st == oc_status_interrupted) st = m.status;
    if (st == oc_status_ok) st = merge_meta(dst, src);
    if (st == oc_status_ok) st = oc_lut_commit(dst);
    else oc_lut_rollback(dst);
  }
  if (st != oc_status_ok) {
    memset(report, 0, sizeof *report);
    oc__fail_prefix(st, "merging %s into %s: ", src_path, oc_lut_path(dst));
  }
  oc_lut_close(src);
  return st;
}

/* ---- diff ---- */

struct side {
  size_t n, cap;
  struct oc_lut_diff_item *items; /* key and a_us only */
};

static int collect(void *ctx, const struct oc_lut_row *row) {
  struct side *s = ctx;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    void *items = realloc(s->items, cap * sizeof *s->items);
    if (items == NULL) return 1;
    s->items = items;
    s->cap = cap;
  }
  memcpy(s->items[s->n].key, row->key, sizeof row->key);
  s->items[s->n].a_us = row->median_us;
  s->n++;
  return 0;
}

static double change(const struct oc_lut_diff_item *it) {
  if (it->a_us > 0 && it->b_us > 0) return fabs(log(it->ratio));
  return it->a_us == it->b_us ? 0.0 : INFINITY;
}

static int by_change(const void *x, const void *y) {
  double a = change(x), b = change(y);
  if (a != b) return a > b ? -1 : 1;
  return strcmp(((const struct oc_lut_diff_item *)x)->key, ((const struct oc_lut_diff_item *)y)->key);
}

enum oc_status oc_lut_diff(struct oc_lut *a, const char *fp_a, int32_t threads_a,
                           struct oc_lut *b, const char *fp_b, int32_t threads_b,
                           struct oc_lut_diff *diff) {
  memset(diff, 0, sizeof *diff);
  struct side sa = {0}, sb = {0};
  struct oc_lut_filter fa = {.fingerprint = fp_a, .threads = threads_a};
  struct oc_lut_filter fb = {.fingerprint = fp_b, .threads = threads_b};
  enum oc_status st = oc_lut_foreach(a, &fa, collect, &sa);
  if (st == oc_status_ok) st = oc_lut_foreach(b, &fb, collect, &sb);
  if (st == oc_status_interrupted) st = oc__fail(oc_status_out_of_memory, "diff: out of memory");
  size_t cap = sa.n < sb.n ? sa.n : sb.n;
  if (st == oc_status_ok) {
    diff->items = calloc(cap ? cap : 1, sizeof *diff->items);
    diff->only_a_keys = calloc(sa.n ? sa.n : 1, sizeof *diff->only_a_keys);
    diff->only_b_keys = calloc(sb.n ? sb.n : 1, sizeof *diff->only_b_keys);
    if (!diff->items || !diff->only_a_keys || !diff->only_b_keys)
      st = oc__fail(oc_status_out_of_memory, "diff: out of memory");
  }
  if (st != oc_status_ok) {
    free(sa.items);
    free(sb.items);
    oc_lut_diff_clear(diff);
    return st;
  }
  /* Both sides are ordered by key (SQLite's binary collation, strcmp's). */
  size_t i = 0, j = 0;
  double log_sum = 0;
  int64_t n_log = 0;
  diff->min_ratio = INFINITY;
  diff->max_ratio = 0;
  while (i < sa.n || j < sb.n) {
    int c = i == sa.n ? 1 : j == sb.n ? -1 : strcmp(sa.items[i].key, sb.items[j].key);
    if (c < 0) {
      memcpy(diff->only_a_keys[diff->only_a++], sa.items[i++].key, OC_LUT_KEY_MAX);
    } else if (c > 0) {
      memcpy(diff->only_b_keys[diff->only_b++], sb.items[j++].key, OC_LUT_KEY_MAX);
    } else {
      struct oc_lut_diff_item *it = &diff->items[diff->n_items++];
      memcpy(it->key, sa.items[i].key, OC_LUT_KEY_MAX);
      it->a_us = sa.items[i++].a_us;
      it->b_us = sb.items[j++].a_us;
      it->ratio = it->a_us > 0 ? it->b_us / it->a_us : (it->b_us > 0 ? INFINITY : 1.0);
      if (it->a_us > 0 && it->b_us > 0) {
        log_sum += log(it->ratio);
        n_log++;
        diff->min_ratio = fmin(diff->min_ratio, it->ratio);
        diff->max_ratio = fmax(diff->max_ratio, it->ratio);
      }
    }
  }
  diff->common = (int64_t)diff->n_items;
  diff->geomean_ratio = n_log ? exp(log_sum / (double)n_log) : 0.0;
  if (n_log == 0) diff->min_ratio = 0;
  qsort(diff->items, diff->n_items, sizeof *diff->items, by_change);
  free(sa.items);
  free(sb.items);
  return oc_status_ok;
}

void oc_lut_diff_clear(struct oc_lut_diff *diff) {
  if (diff == NULL) return;
  free(diff->items);
  free(diff->only_a_keys);
  free(diff->only_b_keys);
  memset(diff, 0, sizeof *diff);
}
