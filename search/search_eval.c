/* search_eval.c - a candidate's metrics, each from its source: the per-block
 * tables (LUT latency and analytic costs, search_table.c) or the decoded
 * network when the space is not separable, a cost model (its point
 * prediction or the upper end of its interval), the accuracy table or the
 * external evaluator, and on the target when hardware in the loop measured
 * it. Also feasibility, the minimized objective vector, and the Pareto front
 * of the whole archive (kept incrementally).
 *
 * Accuracy is asked for only when the cheap constraints (everything but
 * accuracy) hold, unless hardware in the loop may later change the latency:
 * an infeasible candidate loses to every feasible one whatever its accuracy,
 * so the evaluator's time goes to candidates that can matter. Such a
 * candidate's accuracy is recorded as not evaluated (source none), never as
 * a number. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "search/search_internal.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum oc_status oc__search_identify(struct oc__search *s, int32_t *genes, uint64_t *hash) {
  enum oc_status st = oc_space_canonicalize(s->space, genes, genes, s->n_genes);
  if (st == oc_status_ok) st = oc_space_phenotype_hash(s->space, genes, s->n_genes, hash);
  return st;
}

void oc__search_cand_name(const struct oc__search *s, int64_t id, char *buf, size_t size) {
  oc__strfmt(buf, size, "%s-c%06lld", oc_space_name(s->space), (long long)id);
}

enum oc_status oc__search_net_json(struct oc__search *s, const int32_t *genes, int64_t id,
                                   json_t **root) {
  enum oc_status st = oc_space_decode_json(s->space, genes, s->n_genes, root);
  if (st != oc_status_ok) return st;
  char name[OC_NET_NAME_MAX];
  oc__search_cand_name(s, id, name, sizeof name);
  json_object_set_new(*root, "name", json_string(name));
  return oc_status_ok;
}

/* ---- cheap metrics ---------------------------------------------------------------------- */

/* Fills the analytic metrics and the raw latency prediction of genes into
 * c (values and sources). */
static enum oc_status cheap_metrics(struct oc__search *s, const int32_t *genes,
                                    struct oc__cand *c) {
  const struct oc_search_config *cfg = s->cfg;
  struct oc_search_costs costs;
  struct oc_net *net = NULL;
  enum oc_status st;
  const struct oc_lut_cache *lut = s->latency_source == oc_search_source_lut ? cfg->lut : NULL;
  if (s->table) {
    st = oc_search_table_eval(s->table, genes, s->n_genes, &costs);
  } else {
    st = oc_space_decode(s->space, genes, s->n_genes, &net);
    if (st == oc_status_ok) {
      costs.macs = net->cost.macs;
      costs.flops = net->cost.flops;
      costs.params = net->cost.params;
      costs.weight_bytes = net->cost.weight_bytes;
      costs.peak_activation_bytes = net->cost.peak_activation_bytes;
      costs.latency_us = NAN;
      costs.lut_misses = 0;
      if (lut)
        st = oc_lut_predict_us(lut, net, cfg->granularity, cfg->roofline, cfg->lut_strict,
                               &costs.latency_us, &costs.lut_misses);
    }
  }
  if (st != oc_status_ok) goto done;
  c->value[oc_search_macs] = (double)costs.macs;
  c->value[oc_search_flops] = (double)costs.flops;
  c->value[oc_search_params] = (double)costs.params;
  c->value[oc_search_peak_mem] = (double)costs.peak_activation_bytes;
  c->value[oc_search_weights] = (double)costs.weight_bytes;
  c->source[oc_search_macs] = c->source[oc_search_flops] = c->source[oc_search_params] =
      c->source[oc_search_peak_mem] = c->source[oc_search_weights] = oc_search_source_analytic;
  if (lut) {
    c->predicted_us = costs.latency_us;
    c->source[oc_search_latency] = oc_search_source_lut;
  } else if (s->latency_source == oc_search_source_model) {
    if (net == NULL) st = oc_space_decode(s->space, genes, s->n_genes, &net);
    struct oc_model_net_prediction pred;
    if (st == oc_status_ok) st = oc_model_predict_net(cfg->model, net, NULL, &pred);
    if (st != oc_status_ok) goto done;
    c->predicted_us = cfg->latency_upper ? pred.hi_us : pred.us;
    c->source[oc_search_latency] = oc_search_source_model;
  }
done:
  oc_net_free(net);
  return st;
}

/* Violation over the constraints whose metric has a value; *missing when
 * one needed metric has none. */
static double violation_of(const struct oc__search *s, const struct oc__cand *c, bool *missing) {
  double v = 0;
  *missing = false;
  for (size_t k = 0; k < s->cfg->n_constraints; k++) {
    const struct oc_search_constraint *con = &s->cfg->constraints[k];
    double x = c->value[con->metric];
    if (isnan(x)) {
      *missing = true;
      continue;
    }
    v += oc_search_violation(con, x);
  }
  for (size_t k = 0; k < s->m; k++)
    if (isnan(c->value[s->cfg->objectives[k]])) *missing = true;
  return v;
}

static void derive(const struct oc__search *s, struct oc__cand *c) {
  if (!isnan(c->measured_us)) {
    c->value[oc_search_latency] = c->measured_us;
    c->source[oc_search_latency] = oc_search_source_measured;
  } else if (!isnan(c->predicted_us)) {
    c->value[oc_search_latency] = c->predicted_us * s->correction;
  }
  bool missing;
  c->violation = violation_of(s, c, &missing);
  c->feasible = c->violation <= 0 && !missing;
}

void oc__search_refresh(struct oc__search *s, int64_t i) { derive(s, &s->archive.cand[i]); }

static enum oc_status ask_accuracy(struct oc__search *s, const int32_t *genes, int64_t id,
                                   struct oc__cand *c) {
  const struct oc_search_config *cfg = s->cfg;
  if (cfg->accuracy_table) {
    double acc;
    if (!oc_search_accuracy_get(cfg->accuracy_table, c->hash, &acc)) {
      char text[4096];
      if (oc_space_format_genes(s->space, genes, s->n_genes, false, text, sizeof text) !=
          oc_status_ok)
        oc__strcpy(text, sizeof text, "(long)");
      return oc__fail(oc_status_not_found,
                      "accuracy table %s: candidate %lld (hash %016llx, genes %s) is not in it",
                      cfg->accuracy_table_path ? cfg->accuracy_table_path : "", (long long)id,
                      (unsigned long long)c->hash, text);
    }
    c->value[oc_search_accuracy] = acc;
    c->source[oc_search_accuracy] = oc_search_source_table;
    return oc_status_ok;
  }
  json_t *net = NULL;
  enum oc_status st = oc__search_net_json(s, genes, id, &net);
  if (st != oc_status_ok) return st;
  char text[8192], hex[17];
  if (oc_space_format_genes(s->space, genes, s->n_genes, false, text, sizeof text) != oc_status_ok)
    text[0] = '\0';
  oc__strfmt(hex, sizeof hex, "%016llx", (unsigned long long)c->hash);
  json_t *req = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)id, "genes", text, "hash", hex,
                          "net", net);
  if (req == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  double acc;
  st = oc_search_evaluator_ask(s->evaluator, id, req, &acc);
  json_decref(req);
  if (st != oc_status_ok) return st;
  c->value[oc_search_accuracy] = acc;
  c->source[oc_search_accuracy] = oc_search_source_evaluator;
  return oc_status_ok;
}

static void cand_init(struct oc__cand *c, uint64_t hash, int32_t generation) {
  memset(c, 0, sizeof *c);
  c->hash = hash;
  c->generation = generation;
  for (int k = 0; k < OC__SEARCH_NMETRICS; k++) c->value[k] = NAN;
  c->predicted_us = NAN;
  c->measured_us = NAN;
}

enum oc_status oc__search_evaluate(struct oc__search *s, const int32_t *genes, uint64_t hash,
                                   int64_t *index) {
  struct oc__cand c;
  cand_init(&c, hash, s->generation);
  int64_t id = s->archive.n;
  const struct oc__journal_rec *r = oc__journal_replay_find(s, hash);
  enum oc_status st = oc_status_ok;
  if (r != NULL) {
    oc__journal_replay_apply(r, &c);
    if (c.id != id)
      return oc__fail(oc_status_invalid_argument,
                      "%s/journal.jsonl: candidate %016llx is journal id %lld but this run "
                      "reaches it as id %lld: the journal is not of this configuration",
                      s->dir, (unsigned long long)hash, (long long)c.id, (long long)id);
    c.resumed = true;
    s->replay_used++;
  } else {
    double t0 = now_s();
    st = cheap_metrics(s, genes, &c);
    if (st != oc_status_ok) return oc__fail_prefix(st, "candidate %lld: ", (long long)id);
    if (s->need[oc_search_accuracy]) {
      derive(s, &c);
      /* Without hardware in the loop the cheap constraints are final. */
      double cheap = 0;
      for (size_t k = 0; k < s->cfg->n_constraints; k++) {
        const struct oc_search_constraint *con = &s->cfg->constraints[k];
        if (con->metric != oc_search_accuracy)
          cheap += oc_search_violation(con, c.value[con->metric]);
      }
      if (!(cheap > 0 && s->cfg->hil == 0)) st = ask_accuracy(s, genes, id, &c);
      if (st != oc_status_ok) return st;
    }
    s->eval_time_s += now_s() - t0;
    s->evaluated_now++;
  }
  derive(s, &c);
  st = oc__archive_add(&s->archive, &c, genes, index);
  if (st != oc_status_ok) return st;
  if (r == NULL) {
    st = oc__journal_write_cand(s, *index);
    if (st != oc_status_ok) return st;
  }
  s->n_feasible += s->archive.cand[*index].feasible;
  return oc__search_front_add(s, *index);
}

enum oc_status oc__search_screen(struct oc__search *s, const int32_t *genes, bool *feasible) {
  *feasible = true;
  if (!s->screenable || s->cfg->n_constraints == 0) return oc_status_ok;
  struct oc__cand c;
  cand_init(&c, 0, s->generation);
  enum oc_status st = cheap_metrics(s, genes, &c);
  if (st != oc_status_ok) return st;
  derive(s, &c);
  double v = 0;
  for (size_t k = 0; k < s->cfg->n_constraints; k++)
    v += oc_search_violation(&s->cfg->constraints[k], c.value[s->cfg->constraints[k].metric]);
  *feasible = v <= 0;
  return oc_status_ok;
}

void oc__search_objectives(const struct oc__search *s, int64_t i, double *out) {
  const struct oc__cand *c = &s->archive.cand[i];
  for (size_t k = 0; k < s->m; k++) {
    enum oc_search_metric mt = s->cfg->objectives[k];
    double v = c->value[mt];
    if (isnan(v))
      out[k] = HUGE_VAL; /* not evaluated: worst */
    else
      out[k] = oc_search_metric_maximized(mt) ? -v : v;
  }
}

/* ---- the archive's front -------------------------------------------------------------------- */

static bool pareto_dominates(const double *a, const double *b, size_t m) {
  bool better = false;
  for (size_t k = 0; k < m; k++) {
    if (a[k] > b[k]) return false;
    if (a[k] < b[k]) better = true;
  }
  return better;
}

enum oc_status oc__search_front_add(struct oc__search *s, int64_t i) {
  struct oc__archive *a = &s->archive;
  if (!a->cand[i].feasible) return oc_status_ok;
  double x[OC_SEARCH_MAX_OBJECTIVES], y[OC_SEARCH_MAX_OBJECTIVES];
  oc__search_objectives(s, i, x);
  for (size_t f = 0; f < a->n_front; f++) {
    oc__search_objectives(s, a->front[f], y);
    if (pareto_dominates(y, x, s->m)) return oc_status_ok;
  }
  size_t w = 0;
  for (size_t f = 0; f < a->n_front; f++) {
    oc__search_objectives(s, a->front[f], y);
    if (!pareto_dominates(x, y, s->m)) a->front[w++] = a->front[f];
  }
  a->n_front = w;
  if (a->n_front == a->cap_front) {
    size_t cap = a->cap_front ? 2 * a->cap_front : 64;
    int64_t *f = realloc(a->front, cap * sizeof *f);
    if (f == NULL) return oc__fail(oc_status_out_of_memory, "front: out of memory");
    a->front = f;
    a->cap_front = cap;
  }
  a->front[a->n_front++] = i;
  return oc_status_ok;
}

enum oc_status oc__search_front_rebuild(struct oc__search *s) {
  s->archive.n_front = 0;
  s->n_feasible = 0;
  for (int64_t i = 0; i < s->archive.n; i++) {
    s->n_feasible += s->archive.cand[i].feasible;
    enum oc_status st = oc__search_front_add(s, i);
    if (st != oc_status_ok) return st;
  }
  return oc_status_ok;
}
