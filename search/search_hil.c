/* search_hil.c - hardware in the loop: candidates measured end to end on
 * the target (oc_target_prepare_net, timed by the probe harness), their
 * measured latency replacing the prediction, and a multiplicative
 * correction fitted on the measured/predicted ratios (their geometric mean,
 * i.e. least squares in log space) applied to every prediction not
 * measured. Which candidates: the archive's front, most isolated first
 * (largest crowding distance, extremes first), so a few measurements span
 * the front. Every measurement is journaled; a resumed run takes them from
 * the journal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_internal.h"

static enum oc_status measure_one(struct oc__search *s, int64_t i, double *us) {
  const struct oc_search_config *cfg = s->cfg;
  struct oc_net *net = NULL;
  struct oc_kernel *kernel = NULL;
  void *input = NULL, *output = NULL;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  enum oc_status st =
      oc_space_decode(s->space, oc__archive_genes(&s->archive, i), s->n_genes, &net);
  if (st != oc_status_ok) goto done;
  size_t in_bytes = (size_t)net->tensors[net->input_tensor].bytes;
  size_t out_bytes = (size_t)net->tensors[net->output_tensor].bytes;
  input = oc__aligned_alloc(64, in_bytes + OC_TENSOR_SLACK_BYTES);
  output = oc__aligned_alloc(64, out_bytes + OC_TENSOR_SLACK_BYTES);
  if (input == NULL || output == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for the network's buffers");
    goto done;
  }
  memset(input, 0, in_bytes + OC_TENSOR_SLACK_BYTES);
  if (net->dtype == oc_dtype_f32) oc_net_fill_input(net, cfg->seed, input);
  st = oc_target_prepare_net(cfg->target, net, input, output, &kernel);
  if (st != oc_status_ok) goto done;
  struct oc_measure_opts opts;
  if (cfg->measure)
    opts = *cfg->measure;
  else
    oc_measure_opts_default(&opts);
  st = oc_probe_kernel(cfg->target, kernel, &opts, &m);
  if (st == oc_status_ok) *us = m.stats.median_us;
done:
  if (st != oc_status_ok)
    st = oc__fail_prefix(st, "hardware in the loop: candidate %lld on %s: ", (long long)i,
                         cfg->target_name ? cfg->target_name : oc_target_name(cfg->target));
  oc_measurement_release(&m);
  oc_target_release(cfg->target, kernel);
  oc__aligned_free(input);
  oc__aligned_free(output);
  oc_net_free(net);
  return st;
}

static void update_correction(struct oc__search *s) {
  double sum = 0;
  int64_t n = 0;
  for (int64_t k = 0; k < s->n_hil; k++) {
    const struct oc__hil_rec *h = &s->hil[k];
    if (h->predicted_us > 0 && h->measured_us > 0) {
      sum += log(h->measured_us / h->predicted_us);
      n++;
    }
  }
  s->correction = n > 0 ? exp(sum / (double)n) : 1.0;
}

static const struct oc__hil_rec *replayed(const struct oc__search *s, uint64_t hash) {
  for (int64_t k = 0; k < s->n_replay_hil; k++)
    if (s->replay_hil[k].hash == hash) return &s->replay_hil[k];
  return NULL;
}

enum oc_status oc__search_hil_measure(struct oc__search *s, const int64_t *idx, size_t n,
                                      int32_t count, int32_t *done) {
  *done = 0;
  enum oc_status st = oc_status_ok;
  for (size_t k = 0; k < n && *done < count; k++) {
    struct oc__cand *c = &s->archive.cand[idx[k]];
    if (!isnan(c->measured_us)) continue;
    const struct oc__hil_rec *old = replayed(s, c->hash);
    double us;
    if (old) {
      us = old->measured_us;
    } else {
      if (s->cfg->progress) {
        struct oc_search_progress p = {
            s->archive.n, s->cfg->budget, s->generation, 0, s->archive.n_front, NAN, "hil"};
        s->cfg->progress(s->cfg->progress_ctx, &p);
      }
      st = measure_one(s, idx[k], &us);
      if (st != oc_status_ok) return st;
    }
    if (s->n_hil == s->cap_hil) {
      int64_t cap = s->cap_hil ? 2 * s->cap_hil : 16;
      struct oc__hil_rec *h = realloc(s->hil, (size_t)cap * sizeof *h);
      if (h == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
      s->hil = h;
      s->cap_hil = cap;
    }
    c = &s->archive.cand[idx[k]];
    c->measured_us = us;
    struct oc__hil_rec *h = &s->hil[s->n_hil++];
    h->id = c->id;
    h->hash = c->hash;
    h->generation = s->generation;
    h->predicted_us = c->predicted_us;
    h->measured_us = us;
    update_correction(s);
    h->correction_after = s->correction;
    if (!old) {
      st = oc__journal_write_hil(s, h);
      if (st != oc_status_ok) return st;
    }
    (*done)++;
  }
  if (*done > 0) {
    for (int64_t i = 0; i < s->archive.n; i++) oc__search_refresh(s, i);
    st = oc__search_front_rebuild(s);
  }
  return st;
}

/* The archive front, most isolated first, into *out (malloc'ed). */
static enum oc_status front_order(struct oc__search *s, int64_t **out, size_t *n) {
  struct oc__archive *a = &s->archive;
  size_t k = a->n_front;
  *out = NULL;
  *n = 0;
  if (k == 0) return oc_status_ok;
  double *pts = malloc(k * s->m * sizeof *pts);
  size_t *idx = malloc(k * sizeof *idx);
  double *dist = malloc(k * sizeof *dist);
  int64_t *order = malloc(k * sizeof *order);
  enum oc_status st = oc_status_ok;
  if (pts == NULL || idx == NULL || dist == NULL || order == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < k; i++) {
    oc__search_objectives(s, a->front[i], pts + i * s->m);
    idx[i] = i;
  }
  oc_search_crowding(pts, s->m, idx, k, dist);
  /* Selection sort on (distance desc, id asc): fronts are small. */
  bool *used = calloc(k, sizeof *used);
  if (used == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  for (size_t r = 0; r < k; r++) {
    size_t best = k;
    for (size_t i = 0; i < k; i++) {
      if (used[i]) continue;
      if (best == k || dist[i] > dist[best] ||
          (dist[i] == dist[best] && a->front[i] < a->front[best]))
        best = i;
    }
    used[best] = true;
    order[r] = a->front[best];
  }
  free(used);
  *out = order;
  *n = k;
  order = NULL;
done:
  free(pts);
  free(idx);
  free(dist);
  free(order);
  return st;
}

enum oc_status oc__search_hil_generation(struct oc__search *s, const int64_t *pop, size_t n) {
  (void)pop;
  (void)n;
  if (s->cfg->hil <= 0 || s->cfg->hil_when != oc_search_hil_generation) return oc_status_ok;
  int64_t *order = NULL;
  size_t k = 0;
  enum oc_status st = front_order(s, &order, &k);
  int32_t done = 0;
  if (st == oc_status_ok) st = oc__search_hil_measure(s, order, k, s->cfg->hil, &done);
  free(order);
  return st;
}

enum oc_status oc__search_hil_final(struct oc__search *s) {
  if (s->cfg->hil <= 0 || s->cfg->hil_when != oc_search_hil_final) return oc_status_ok;
  int32_t total = 0;
  /* Each round measures at least one candidate or stops: at most hil rounds. */
  while (total < s->cfg->hil) {
    int64_t *order = NULL;
    size_t k = 0;
    enum oc_status st = front_order(s, &order, &k);
    int32_t done = 0;
    if (st == oc_status_ok) st = oc__search_hil_measure(s, order, k, s->cfg->hil - total, &done);
    free(order);
    if (st != oc_status_ok) return st;
    if (done == 0) break;
    total += done;
  }
  return oc_status_ok;
}
