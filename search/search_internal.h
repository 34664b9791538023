/* search_internal.h - what the files of the search module share: the
 * archive of evaluated candidates, the running search's state, and the
 * internal entry points of each file. Not public.
 *
 *   search_spec.c     metric names, units, constraints, objectives
 *   search_table.c    per-block cost tables (the fast path) and worst cases
 *   search_pareto.c   constraint domination, non-dominated sort, crowding
 *   search_hv.c       hypervolume (exact 2-D/3-D, Monte Carlo above)
 *   search_proc.c     the external evaluator process (posix_spawn, JSON Lines)
 *   search_acc.c      the accuracy table (CSV)
 *   search_archive.c  candidates, phenotype hash set, the archive's front
 *   search_eval.c     computing a candidate's metrics from their sources
 *   search_journal.c  journal lines, reading them back for --resume
 *   search_hil.c      measuring candidates on the target, the correction
 *   search_algo.c     NSGA-II, random search, evolution
 *   search_out.c      front.csv/json, networks, hv.csv, hil.csv, summary.json
 *   search_run.c      configuration checks, reference point, the driver */
#ifndef OPCOST_SEARCH_INTERNAL_H
#define OPCOST_SEARCH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "opcost/search.h"

#define OC__SEARCH_NMETRICS ((int)oc_search_metric__count)

/* ---- search_table.c ----------------------------------------------------------------- */

/* Largest value of each additive cost over the whole space (latency with
 * the overhead term; peak as a maximum), exactly, by dynamic programming
 * over blocks: genes that more than one block reads (and depth and input
 * genes) are enumerated jointly, at most max_combos combinations (else
 * unsupported), the others chosen block by block. genes is scratch of the
 * space's gene count. */
enum oc_status oc__search_table_worst(struct oc_search_table *table, int64_t max_combos,
                                      struct oc_search_costs *worst);

/* ---- candidates and the archive ----------------------------------------------------- */

struct oc__cand {
  int64_t id;    /* evaluation order, from 0 */
  uint64_t hash; /* phenotype hash */
  int32_t generation;
  double value[oc_search_metric__count];   /* effective values; NaN: not computed */
  uint8_t source[oc_search_metric__count]; /* enum oc_search_source */
  double predicted_us; /* raw latency prediction (before correction); NaN: none */
  double measured_us;  /* NaN unless measured on the target */
  double violation;    /* total normalized violation */
  bool feasible;
  bool resumed; /* read back from the journal */
};

struct oc__archive {
  size_t n_genes;
  int64_t n, cap;
  struct oc__cand *cand;
  int32_t *genes; /* n x n_genes, canonical vectors */
  /* phenotype hash -> index + 1, open addressing */
  uint64_t *keys;
  int64_t *vals;
  size_t mask;
  /* the archive's Pareto front (feasible candidates), indices */
  int64_t *front;
  size_t n_front, cap_front;
};

enum oc_status oc__archive_init(struct oc__archive *a, size_t n_genes);
void oc__archive_clear(struct oc__archive *a);
/* Index of the candidate with this phenotype, or -1. */
int64_t oc__archive_find(const struct oc__archive *a, uint64_t hash);
/* Appends a candidate (its id becomes its index) and its genes. */
enum oc_status oc__archive_add(struct oc__archive *a, const struct oc__cand *c,
                               const int32_t *genes, int64_t *index);
static inline const int32_t *oc__archive_genes(const struct oc__archive *a, int64_t i) {
  return a->genes + (size_t)i * a->n_genes;
}

/* ---- the running search ---------------------------------------------------------------- */

struct oc__journal_rec; /* search_journal.c */

struct oc__hil_rec {
  int64_t id;
  uint64_t hash;
  int32_t generation;
  double predicted_us, measured_us, correction_after;
};

struct oc__trace_row {
  int32_t generation;
  int64_t evaluated, feasible;
  size_t front_size;
  double hv, std_error;
  enum oc_search_hv_method method;
};

struct oc__search {
  const struct oc_search_config *cfg;
  const struct oc_space *space;
  size_t n_genes;
  size_t m;                             /* objectives */
  bool need[oc_search_metric__count];   /* an objective or a constraint */
  enum oc_search_source latency_source; /* lut, model or none */
  bool screenable;                      /* every constraint metric is cheap (LUT/model/analytic) */
  struct oc_search_table *table;        /* NULL: slow path */
  bool table_owned;
  struct oc_search_evaluator *evaluator;
  struct oc__archive archive;
  struct oc__rng rng;
  FILE *journal;
  double journal_flushed_s;
  char *dir;
  /* Replay of a resumed journal: records by hash, consumed in order. */
  struct oc__journal_rec *replay;
  int64_t n_replay, replay_used;
  uint64_t *replay_keys;
  int64_t *replay_vals;
  size_t replay_mask;
  struct oc__hil_rec *replay_hil;
  int64_t n_replay_hil;
  /* Hardware in the loop. */
  double correction;
  struct oc__hil_rec *hil;
  int64_t n_hil, cap_hil;
  /* Hypervolume trace. */
  double ref[OC_SEARCH_MAX_OBJECTIVES];
  char ref_source[64];
  struct oc__trace_row *trace;
  int64_t n_trace, cap_trace;
  /* Counters. */
  uint64_t sample_index; /* next index of the sampling stream */
  int32_t generation;
  int64_t duplicates, retries_exhausted, evaluated_now, screened;
  int64_t n_feasible; /* feasible candidates in the archive */
  double eval_time_s;
  bool exhausted, stopped;
  /* Scratch. */
  int32_t *scratch;
  double *points;
  size_t points_cap;
};

/* search_eval.c */
/* Canonicalizes genes (in place) and hashes them. */
enum oc_status oc__search_identify(struct oc__search *s, int32_t *genes, uint64_t *hash);
/* Evaluates a canonical vector not in the archive (or replays it from the
 * journal), adds it and writes its journal line. */
enum oc_status oc__search_evaluate(struct oc__search *s, const int32_t *genes, uint64_t hash,
                                   int64_t *index);
/* Cheap feasibility screen (evolution): false when the constraints that
 * need no evaluator already fail. */
enum oc_status oc__search_screen(struct oc__search *s, const int32_t *genes, bool *feasible);
/* Re-derives effective latency, violation and feasibility of candidate i
 * (after the correction factor changed). */
void oc__search_refresh(struct oc__search *s, int64_t i);
/* The minimized objective vector of candidate i into out[m]. */
void oc__search_objectives(const struct oc__search *s, int64_t i, double *out);
/* Adds candidate i to the archive front when no member dominates it. */
enum oc_status oc__search_front_add(struct oc__search *s, int64_t i);
/* Rebuilds the front from the whole archive. */
enum oc_status oc__search_front_rebuild(struct oc__search *s);
/* Decodes candidate genes into an opcost-net/1 JSON named NAME. */
enum oc_status oc__search_net_json(struct oc__search *s, const int32_t *genes, int64_t id,
                                   json_t **root);
void oc__search_cand_name(const struct oc__search *s, int64_t id, char *buf, size_t size);

/* search_journal.c */
enum oc_status oc__journal_write_cand(struct oc__search *s, int64_t i);
enum oc_status oc__journal_write_hil(struct oc__search *s, const struct oc__hil_rec *h);
enum oc_status oc__journal_flush(struct oc__search *s);
double oc__journal_now(void);
/* Reads out_dir/journal.jsonl for a resume: truncates a torn last line
 * and fills the replay tables. */
enum oc_status oc__journal_load(struct oc__search *s, const char *path);
/* The replay record of hash, or NULL. */
const struct oc__journal_rec *oc__journal_replay_find(const struct oc__search *s, uint64_t hash);
/* Fills c (and genes check) from a replay record. */
void oc__journal_replay_apply(const struct oc__journal_rec *r, struct oc__cand *c);
void oc__journal_replay_free(struct oc__search *s);

/* search_hil.c */
/* Measures up to `count` candidates of idx (in order), skipping measured
 * ones; updates the correction and refreshes the archive. */
enum oc_status oc__search_hil_measure(struct oc__search *s, const int64_t *idx, size_t n,
                                      int32_t count, int32_t *done);
/* The HIL step after generation g (when = generation) or at the end. */
enum oc_status oc__search_hil_generation(struct oc__search *s, const int64_t *pop, size_t n);
enum oc_status oc__search_hil_final(struct oc__search *s);

/* search_algo.c */
enum oc_status oc__search_algorithm(struct oc__search *s);
/* Records the trace row of the current generation and reports progress. */
enum oc_status oc__search_trace(struct oc__search *s);
bool oc__search_done(const struct oc__search *s);

/* search_out.c */
enum oc_status oc__search_write_outputs(struct oc__search *s, struct oc_search_report *report);
enum oc_status oc__search_write_config(struct oc__search *s, const char *path);
enum oc_status oc__search_check_config(struct oc__search *s, const char *path);

/* Writes text to path atomically (temporary file, rename). */
enum oc_status oc__search_write_file(const char *path, const char *text, size_t len);

#endif
