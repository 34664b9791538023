/* search_run.c - oc_search_run: checks the configuration (every metric has
 * a source, ranges), prepares the output directory (refusing to overwrite
 * another search unless resuming it), builds the per-block tables, fixes
 * the hypervolume reference point, replays the journal of a resumed run,
 * runs the algorithm, hardware in the loop, and writes the outputs.
 *
 * The reference point, when not given, is 1.1 x the worst value of each
 * minimized objective over the whole space - exact for costs the per-block
 * tables hold (dynamic programming over blocks, search_table.c), else the
 * worst of REF_SAMPLES seeded samples - and 0 for accuracy (no accuracy is
 * below 0). The 10 % margin keeps the worst candidates and corrected
 * predictions inside the box. Either way it is fixed for the run and
 * reported. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "search/search_internal.h"

#define REF_SAMPLES 2000
#define REF_STREAM UINT64_C(0x7265667074000001)
#define REF_MARGIN 1.1
#define WORST_MAX_COMBOS 200000

void oc_search_config_default(struct oc_search_config *c) {
  memset(c, 0, sizeof *c);
  c->algorithm = oc_search_algo_nsga2;
  c->seed = 1;
  c->population = 50;
  c->granularity = oc_lut_kernel;
  c->evaluator_timeout_s = 60;
  c->evaluator_retries = 0;
  c->hil_when = oc_search_hil_final;
  c->hv_samples = 100000;
  c->crossover_prob = 0.9;
  c->mutation_prob = 0;
  c->parent_ratio = 0.25;
  c->mutate_ratio = 0.5;
  c->max_retries = 100;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static enum oc_status check_config(const struct oc_search_config *c, struct oc__search *s) {
  if (c->space == NULL) return oc__fail(oc_status_invalid_argument, "search: no space");
  if (c->out_dir == NULL || c->out_dir[0] == '\0')
    return oc__fail(oc_status_invalid_argument, "search: no output directory");
  if (c->budget < 1)
    return oc__fail(oc_status_invalid_argument, "search: budget %lld must be >= 1",
                    (long long)c->budget);
  if (c->population < 2 && c->algorithm != oc_search_algo_random)
    return oc__fail(oc_status_invalid_argument, "search: population %d must be >= 2",
                    (int)c->population);
  if (c->population < 1)
    return oc__fail(oc_status_invalid_argument, "search: population %d must be >= 1",
                    (int)c->population);
  if (c->n_objectives < 1 || c->n_objectives > OC_SEARCH_MAX_OBJECTIVES)
    return oc__fail(oc_status_invalid_argument, "search: %zu objectives (1 to %d)", c->n_objectives,
                    OC_SEARCH_MAX_OBJECTIVES);
  if (c->n_constraints > OC_SEARCH_MAX_CONSTRAINTS)
    return oc__fail(oc_status_invalid_argument, "search: %zu constraints (at most %d)",
                    c->n_constraints, OC_SEARCH_MAX_CONSTRAINTS);
  if (!(c->crossover_prob >= 0 && c->crossover_prob <= 1) ||
      !(c->mutation_prob >= 0 && c->mutation_prob <= 1) ||
      !(c->parent_ratio > 0 && c->parent_ratio <= 1) ||
      !(c->mutate_ratio >= 0 && c->mutate_ratio <= 1) || c->max_retries < 1)
    return oc__fail(oc_status_invalid_argument,
                    "search: operator settings out of range (crossover %g, mutation %g, parents "
                    "%g, mutate %g in [0, 1]; retries %d >= 1)",
                    c->crossover_prob, c->mutation_prob, c->parent_ratio, c->mutate_ratio,
                    (int)c->max_retries);
  memset(s->need, 0, sizeof s->need);
  for (size_t k = 0; k < c->n_objectives; k++) {
    if ((unsigned)c->objectives[k] >= oc_search_metric__count)
      return oc__fail(oc_status_invalid_argument, "search: objective %zu is not a metric", k);
    for (size_t j = 0; j < k; j++)
      if (c->objectives[j] == c->objectives[k])
        return oc__fail(oc_status_invalid_argument, "search: objective %s is given twice",
                        oc_search_metric_name(c->objectives[k]));
    s->need[c->objectives[k]] = true;
  }
  s->screenable = true;
  for (size_t k = 0; k < c->n_constraints; k++) {
    s->need[c->constraints[k].metric] = true;
    if (c->constraints[k].metric == oc_search_accuracy) s->screenable = false;
  }
  if (c->lut && c->model)
    return oc__fail(oc_status_invalid_argument, "search: give a LUT or a model, not both");
  s->latency_source = c->lut     ? oc_search_source_lut
                      : c->model ? oc_search_source_model
                                 : oc_search_source_none;
  if (s->need[oc_search_latency] && s->latency_source == oc_search_source_none)
    return oc__fail(oc_status_invalid_argument,
                    "search: latency is an objective or a constraint: give a LUT (--lut) or a "
                    "cost model (--model)");
  if (c->latency_upper && c->model == NULL)
    return oc__fail(oc_status_invalid_argument,
                    "search: the upper latency bound comes from a cost model's interval "
                    "(--model); a LUT holds medians");
  if (c->accuracy_table && c->evaluator)
    return oc__fail(oc_status_invalid_argument,
                    "search: give an evaluator or an accuracy table, not both");
  if (s->need[oc_search_accuracy] && !c->accuracy_table && !c->evaluator)
    return oc__fail(oc_status_invalid_argument,
                    "search: accuracy is an objective or a constraint: give an evaluator "
                    "(--evaluator CMD) or an accuracy table (--accuracy-table FILE)");
  if (c->hil < 0) return oc__fail(oc_status_invalid_argument, "search: hil %d < 0", (int)c->hil);
  if (c->hil > 0) {
    if (c->target == NULL)
      return oc__fail(oc_status_invalid_argument,
                      "search: hardware in the loop needs a target to measure on");
    if (!(oc_target_vtab_of(c->target)->caps & oc_cap_networks))
      return oc__fail(oc_status_unsupported,
                      "search: target %s does not run whole networks: no hardware in the loop",
                      oc_target_name(c->target));
    if (s->latency_source == oc_search_source_none || !s->need[oc_search_latency])
      return oc__fail(oc_status_invalid_argument,
                      "search: hardware in the loop replaces latency predictions: make latency "
                      "an objective or a constraint and give a LUT or a model");
  }
  if (c->have_ref_point)
    for (size_t k = 0; k < c->n_objectives; k++)
      if (!isfinite(c->ref_point[k]))
        return oc__fail(oc_status_invalid_argument, "search: reference point %zu is not finite", k);
  return oc_status_ok;
}

static enum oc_status make_dirs(const char *path) {
  char tmp[4096];
  if (!oc__strfmt(tmp, sizeof tmp, "%s", path))
    return oc__fail(oc_status_overflow, "%s: path too long", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
      return oc__fail(oc_status_io_error, "%s: %s", tmp, strerror(errno));
    *p = '/';
  }
  if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
    return oc__fail(oc_status_io_error, "%s: %s", tmp, strerror(errno));
  return oc_status_ok;
}

static double cost_value(const struct oc_search_costs *c, enum oc_search_metric m) {
  switch (m) {
  case oc_search_latency: return c->latency_us;
  case oc_search_macs: return (double)c->macs;
  case oc_search_flops: return (double)c->flops;
  case oc_search_params: return (double)c->params;
  case oc_search_peak_mem: return (double)c->peak_activation_bytes;
  case oc_search_weights: return (double)c->weight_bytes;
  case oc_search_accuracy:
  case oc_search_metric__count: break;
  }
  return NAN;
}

static enum oc_status reference_point(struct oc__search *s) {
  const struct oc_search_config *c = s->cfg;
  if (c->have_ref_point) {
    for (size_t k = 0; k < s->m; k++)
      s->ref[k] = oc_search_metric_maximized(c->objectives[k]) ? -c->ref_point[k] : c->ref_point[k];
    oc__strcpy(s->ref_source, sizeof s->ref_source, "given");
    return oc_status_ok;
  }
  /* Exact worst case where the tables hold every objective but accuracy. */
  bool table_ok = s->table != NULL;
  for (size_t k = 0; k < s->m; k++)
    if (c->objectives[k] == oc_search_latency && s->latency_source != oc_search_source_lut)
      table_ok = false;
  struct oc_search_costs worst;
  enum oc_status st = oc_status_unsupported;
  if (table_ok) st = oc__search_table_worst(s->table, WORST_MAX_COMBOS, &worst);
  if (st == oc_status_ok) {
    oc__strcpy(s->ref_source, sizeof s->ref_source, "1.1 x the space's worst case");
  } else {
    /* Sampled worst case (non-separable space, cost model, or too many
     * shared genes). */
    oc_errclear();
    struct oc_search_costs x;
    memset(&worst, 0, sizeof worst);
    worst.latency_us = 0;
    int32_t *g = s->scratch;
    int64_t ok = 0;
    for (int64_t i = 0; i < REF_SAMPLES; i++) {
      st = oc_space_sample(s->space, c->seed ^ REF_STREAM, (uint64_t)i, g, s->n_genes);
      if (st != oc_status_ok) return st;
      struct oc_net *net = NULL;
      if (oc_space_decode(s->space, g, s->n_genes, &net) != oc_status_ok) continue;
      x.macs = net->cost.macs;
      x.flops = net->cost.flops;
      x.params = net->cost.params;
      x.weight_bytes = net->cost.weight_bytes;
      x.peak_activation_bytes = net->cost.peak_activation_bytes;
      x.latency_us = NAN;
      if (s->latency_source == oc_search_source_lut) {
        int32_t misses;
        if (oc_lut_predict_us(c->lut, net, c->granularity, c->roofline, c->lut_strict,
                              &x.latency_us, &misses) != oc_status_ok)
          x.latency_us = NAN;
      } else if (s->latency_source == oc_search_source_model) {
        struct oc_model_net_prediction p;
        if (oc_model_predict_net(c->model, net, NULL, &p) == oc_status_ok)
          x.latency_us = c->latency_upper ? p.hi_us : p.us;
      }
      oc_net_free(net);
      ok++;
      if (x.latency_us > worst.latency_us) worst.latency_us = x.latency_us;
      if (x.macs > worst.macs) worst.macs = x.macs;
      if (x.flops > worst.flops) worst.flops = x.flops;
      if (x.params > worst.params) worst.params = x.params;
      if (x.weight_bytes > worst.weight_bytes) worst.weight_bytes = x.weight_bytes;
      if (x.peak_activation_bytes > worst.peak_activation_bytes)
        worst.peak_activation_bytes = x.peak_activation_bytes;
    }
    oc_errclear();
    if (ok == 0)
      return oc__fail(oc_status_invalid_argument,
                      "space '%s': none of %d samples builds a network: give --ref-point",
                      oc_space_name(s->space), REF_SAMPLES);
    oc__strfmt(s->ref_source, sizeof s->ref_source, "1.1 x the worst of %d samples (seeded)",
               REF_SAMPLES);
  }
  for (size_t k = 0; k < s->m; k++) {
    enum oc_search_metric m = c->objectives[k];
    if (m == oc_search_accuracy) {
      s->ref[k] = 0.0; /* -accuracy <= 0 for any accuracy >= 0 */
      continue;
    }
    double w = cost_value(&worst, m);
    if (!(w > 0))
      return oc__fail(oc_status_invalid_argument,
                      "search: no worst case for %s to derive the reference point from: give "
                      "--ref-point",
                      oc_search_metric_name(m));
    s->ref[k] = w * REF_MARGIN;
  }
  return oc_status_ok;
}

static void search_clear(struct oc__search *s) {
  if (s->journal) fclose(s->journal);
  if (s->table_owned) oc_search_table_free(s->table);
  oc_search_evaluator_stop(s->evaluator);
  oc__archive_clear(&s->archive);
  oc__journal_replay_free(s);
  free(s->hil);
  free(s->trace);
  free(s->scratch);
  free(s->points);
  free(s->dir);
}

enum oc_status oc_search_run(const struct oc_search_config *cfg, struct oc_search_report *rep) {
  double t0 = now_s();
  memset(rep, 0, sizeof *rep);
  rep->hypervolume = NAN;
  rep->hil_mape = NAN;
  rep->hil_correction = 1;
  rep->best_violation_id = -1;
  struct oc__search s;
  memset(&s, 0, sizeof s);
  s.cfg = cfg;
  s.correction = 1.0;
  enum oc_status st = check_config(cfg, &s);
  if (st != oc_status_ok) return st;
  s.space = cfg->space;
  s.n_genes = oc_space_gene_count(cfg->space);
  s.m = cfg->n_objectives;
  size_t dlen = strlen(cfg->out_dir);
  s.dir = malloc(dlen + 1);
  s.scratch = malloc((s.n_genes + 1) * sizeof *s.scratch);
  if (s.dir == NULL || s.scratch == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  memcpy(s.dir, cfg->out_dir, dlen + 1);
  while (dlen > 1 && s.dir[dlen - 1] == '/') s.dir[--dlen] = '\0';
  st = oc__archive_init(&s.archive, s.n_genes);
  if (st == oc_status_ok) st = make_dirs(s.dir);
  if (st != oc_status_ok) goto done;

  char journal[4096], config[4096];
  oc__strfmt(journal, sizeof journal, "%s/journal.jsonl", s.dir);
  oc__strfmt(config, sizeof config, "%s/config.json", s.dir);
  struct stat sb;
  bool have_journal = stat(journal, &sb) == 0 && sb.st_size > 0;
  if (have_journal && !cfg->resume) {
    st = oc__fail(oc_status_invalid_argument,
                  "%s already holds a search (journal.jsonl): resume it (--resume) or choose "
                  "another directory",
                  s.dir);
    goto done;
  }
  if (cfg->resume && have_journal) {
    st = oc__search_check_config(&s, config);
    if (st == oc_status_ok) st = oc__journal_load(&s, journal);
  } else {
    st = oc__search_write_config(&s, config);
  }
  if (st != oc_status_ok) goto done;

  if (cfg->table) {
    s.table = cfg->table;
  } else if (oc_space_blocks_separable(cfg->space)) {
    s.table_owned = true;
    st = oc_search_table_create(cfg->space,
                                s.latency_source == oc_search_source_lut ? cfg->lut : NULL,
                                cfg->granularity, cfg->roofline, cfg->lut_strict, &s.table);
    if (st == oc_status_unsupported) {
      oc_errclear();
      st = oc_status_ok; /* decoded instead */
    }
    if (st != oc_status_ok) goto done;
  }
  if (s.need[oc_search_accuracy] && cfg->evaluator) {
    char log[4096];
    oc__strfmt(log, sizeof log, "%s/evaluator.log", s.dir);
    st = oc_search_evaluator_start(cfg->evaluator, cfg->evaluator_timeout_s, cfg->evaluator_retries,
                                   log, &s.evaluator);
    if (st != oc_status_ok) goto done;
  }
  st = reference_point(&s);
  if (st != oc_status_ok) goto done;
  s.journal = fopen(journal, "a");
  if (s.journal == NULL) {
    st = oc__fail(oc_status_io_error, "%s: %s", journal, strerror(errno));
    goto done;
  }

  st = oc__search_algorithm(&s);
  if (st == oc_status_ok && !s.stopped) {
    int64_t before = s.n_hil;
    st = oc__search_hil_final(&s);
    if (st == oc_status_ok && s.n_hil > before) st = oc__search_trace(&s);
  }
  if (st != oc_status_ok) goto done;

  rep->evaluated = s.archive.n;
  for (int64_t i = 0; i < s.archive.n; i++) {
    const struct oc__cand *c = &s.archive.cand[i];
    rep->resumed += c->resumed;
    rep->feasible += c->feasible;
    if (!c->feasible && (rep->best_violation_id < 0 || c->violation < rep->best_violation)) {
      rep->best_violation = c->violation;
      rep->best_violation_id = i;
    }
  }
  if (rep->feasible > 0) {
    rep->best_violation = 0;
    rep->best_violation_id = -1;
  }
  rep->duplicates = s.duplicates;
  rep->retries_exhausted = s.retries_exhausted;
  rep->generations = s.generation;
  rep->front_size = s.archive.n_front;
  if (s.n_trace > 0) {
    rep->hypervolume = s.trace[s.n_trace - 1].hv;
    rep->hv_method = s.trace[s.n_trace - 1].method;
  }
  for (size_t k = 0; k < s.m; k++)
    rep->ref_point[k] = oc_search_metric_maximized(cfg->objectives[k]) ? 0.0 - s.ref[k] : s.ref[k];
  oc__strcpy(rep->ref_point_source, sizeof rep->ref_point_source, s.ref_source);
  rep->hil_measured = (int32_t)s.n_hil;
  rep->hil_correction = s.correction;
  if (s.n_hil > 0) {
    double sum = 0;
    for (int64_t k = 0; k < s.n_hil; k++)
      sum += fabs(s.hil[k].predicted_us - s.hil[k].measured_us) / s.hil[k].measured_us;
    rep->hil_mape = sum / (double)s.n_hil;
  }
  rep->stopped = s.stopped;
  rep->exhausted = s.exhausted;
  rep->evals_per_s = s.eval_time_s > 0 ? (double)s.evaluated_now / s.eval_time_s : NAN;
  rep->elapsed_s = now_s() - t0;
  st = oc__search_write_outputs(&s, rep);
  if (st != oc_status_ok) goto done;
  if (rep->stopped) {
    st = oc__fail(oc_status_interrupted,
                  "search stopped after %lld candidates; resume it with the same settings",
                  (long long)rep->evaluated);
  } else if (rep->feasible == 0) {
    char detail[512] = "";
    if (rep->best_violation_id >= 0) {
      const struct oc__cand *c = &s.archive.cand[rep->best_violation_id];
      size_t used = 0;
      for (size_t k = 0; k < cfg->n_constraints; k++) {
        const struct oc_search_constraint *q = &cfg->constraints[k];
        double v = c->value[q->metric];
        if (!(oc_search_violation(q, v) > 0)) continue;
        char have[64];
        oc_search_format_value(q->metric, v, have, sizeof have);
        int w = snprintf(detail + used, sizeof detail - used, "%s%s is %s (%s)", used ? ", " : "",
                         oc_search_metric_name(q->metric), have, q->text);
        if (w < 0 || (size_t)w >= sizeof detail - used) break;
        used += (size_t)w;
      }
    }
    st = oc__fail(oc_status_not_found,
                  "no candidate of %lld satisfies the constraints; the smallest total "
                  "normalized violation is %.4g (candidate %lld: %s)",
                  (long long)rep->evaluated, rep->best_violation, (long long)rep->best_violation_id,
                  detail);
  }
done:
  search_clear(&s);
  return st;
}
