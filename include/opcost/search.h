/* search.h - hardware-aware multi-objective architecture search over a
 * search space (space.h): NSGA-II with categorical operators, random search
 * and an OFA-style constrained evolution as baselines; any number of
 * objectives and constraints; latency from a LUT (lut.h) or a cost model
 * (model.h), analytic MACs/FLOPs/params/memory (net.h), accuracy from an
 * external evaluator process or a table; hardware in the loop (measuring
 * candidates end to end on a target and correcting the predictions); a
 * resumable journal, the Pareto front and a hypervolume trace.
 *
 * Conventions. Metrics are numbers in base units: latency in µs, memory in
 * bytes, MACs/FLOPs/params as counts, accuracy as the evaluator or table
 * gives it. Accuracy is maximized, every other metric minimized. A
 * constraint is `metric <= bound` or `metric >= bound`; its normalized
 * violation is max(0, value - bound) / |bound| (or the other way round for
 * >=; divided by 1 when the bound is 0); a candidate's violation is the
 * sum over constraints. Selection is feasibility first (Deb's constraint
 * domination): a feasible candidate beats an infeasible one, two infeasible
 * ones compare by violation, two feasible ones by Pareto dominance.
 *
 * Candidates are deduplicated by phenotype hash (oc_space_phenotype_hash):
 * two gene vectors that build one network are evaluated once. Every loop
 * that looks for a new or feasible candidate is bounded (max_retries). A
 * fixed seed reproduces a run exactly, and a run killed at any point and
 * resumed from its journal ends with the same journal as one that was not.
 *
 * docs/search.md describes the outputs and the evaluator protocol. */
#ifndef OPCOST_SEARCH_H
#define OPCOST_SEARCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opcost/lut.h"
#include "opcost/model.h"
#include "opcost/net.h"
#include "opcost/probe.h"
#include "opcost/space.h"
#include "opcost/status.h"
#include "opcost/target.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OC_SEARCH_JOURNAL_FORMAT "opcost-search-journal/1"
#define OC_SEARCH_SUMMARY_FORMAT "opcost-search-summary/1"
#define OC_SEARCH_MAX_OBJECTIVES 8
#define OC_SEARCH_MAX_CONSTRAINTS 16

/* ---- metrics, objectives, constraints ---------------------------------------- */

/* X(name, unit, maximized, summary). unit: "us" time, "B" bytes, "" count. */
#define OC_SEARCH_METRIC_MAP(X)                                                                    \
  X(latency, "us", 0, "latency of one inference (LUT, cost model or measured)")                    \
  X(macs, "", 0, "multiply-accumulates (conv2d, fc, matmul)")                                      \
  X(flops, "", 0, "floating-point operations")                                                     \
  X(params, "", 0, "weights, biases and parameter tensors")                                        \
  X(peak_mem, "B", 0, "peak activation memory under the liveness schedule (SRAM)")                 \
  X(weights, "B", 0, "bytes of weights and parameters (flash)")                                    \
  X(accuracy, "", 1, "accuracy from the evaluator or the table (maximized)")

enum oc_search_metric {
#define OC_SEARCH_METRIC_ENUM(name, unit, max, summary) oc_search_##name,
  OC_SEARCH_METRIC_MAP(OC_SEARCH_METRIC_ENUM)
#undef OC_SEARCH_METRIC_ENUM
      oc_search_metric__count
};

/* Where a metric's value came from. */
#define OC_SEARCH_SOURCE_MAP(X)                                                                    \
  X(none) X(lut) X(model) X(measured) X(analytic) X(evaluator) X(table)
enum oc_search_source {
#define OC_SEARCH_SOURCE_ENUM(name) oc_search_source_##name,
  OC_SEARCH_SOURCE_MAP(OC_SEARCH_SOURCE_ENUM)
#undef OC_SEARCH_SOURCE_ENUM
      oc_search_source__count
};

const char *oc_search_metric_name(enum oc_search_metric metric);
const char *oc_search_metric_summary(enum oc_search_metric metric);
bool oc_search_metric_maximized(enum oc_search_metric metric);
/* not_found listing the names. */
enum oc_status oc_search_metric_from_name(const char *name, enum oc_search_metric *metric);
const char *oc_search_source_name(enum oc_search_source source);

/* A value of `metric` with its unit: time "20ms", "350us", "0.02s" (a unit
 * is required); bytes "320KB" (1000), "320KiB" (1024), "1.5MB", "2MiB",
 * "4096B" or a bare number of bytes; counts "300M", "1.2G", "500K" or a
 * bare number; accuracy a bare number. parse_error names the text and the
 * units the metric takes. */
enum oc_status oc_search_parse_value(enum oc_search_metric metric, const char *text, double *value);
/* The value in the metric's most readable unit ("20 ms", "320 KiB", "219 M"). */
void oc_search_format_value(enum oc_search_metric metric, double value, char *buf, size_t size);

enum oc_search_cmp { oc_search_le, oc_search_ge };

struct oc_search_constraint {
  enum oc_search_metric metric;
  enum oc_search_cmp cmp;
  double bound;  /* base units */
  char text[96]; /* as given, for messages */
};

/* "latency<=20ms", "peak_mem <= 320KB", "accuracy>=0.7", "macs<=300M".
 * parse_error (no operator, junk, a bad unit) or not_found (unknown metric)
 * naming the text. */
enum oc_status oc_search_parse_constraint(const char *text, struct oc_search_constraint *c);
/* "latency,macs,accuracy": n (<= OC_SEARCH_MAX_OBJECTIVES) distinct
 * metrics. */
enum oc_status oc_search_parse_objectives(const char *text, enum oc_search_metric *objectives,
                                          size_t *n);
/* Normalized violation of one constraint by value (0 when satisfied). */
double oc_search_violation(const struct oc_search_constraint *c, double value);

/* ---- Pareto ranking and hypervolume -------------------------------------------- */

/* Points are n rows of m values, all minimized (negate maximized metrics
 * first). violation (may be NULL: all feasible) per point, 0 = feasible. */

/* True when a constraint-dominates b (see the header comment). */
bool oc_search_dominates(const double *a, double viol_a, const double *b, double viol_b, size_t m);
/* Non-dominated sorting under constraint domination: rank[i] = 0 for the
 * first front, 1 for the next, ... (O(m n^2)). */
enum oc_status oc_search_nondominated_sort(const double *points, const double *violation, size_t n,
                                           size_t m, int32_t *rank);
/* NSGA-II crowding distance of the k points idx[0..k) (one front):
 * infinite at each objective's extremes. */
void oc_search_crowding(const double *points, size_t m, const size_t *idx, size_t k,
                        double *distance);

enum oc_search_hv_method {
  oc_search_hv_exact,       /* m <= 3: exact (2-D sweep, 3-D slice sweep) */
  oc_search_hv_monte_carlo, /* m > 3: estimate from mc_samples uniform points */
};
/* Hypervolume dominated by the points and bounded by ref (every point
 * counts only where it is strictly better than ref in every objective).
 * m <= 3 is exact; above, a Monte Carlo estimate with mc_samples points
 * drawn from the bounding box by mc_seed (*std_error its standard error,
 * 0 when exact). invalid_argument for m = 0 or mc_samples < 1 when needed. */
enum oc_status oc_search_hypervolume(const double *points, size_t n, size_t m, const double *ref,
                                     int64_t mc_samples, uint64_t mc_seed, double *hv,
                                     enum oc_search_hv_method *method, double *std_error);

/* ---- fast additive costs: per-block tables ---------------------------------------------- */

/* Costs of one gene vector that a LUT and the analytic model give. */
struct oc_search_costs {
  double latency_us;  /* NaN without a LUT */
  int32_t lut_misses; /* ops the LUT lacked (filled from the roofline) */
  int64_t macs, flops, params, weight_bytes;
  int64_t peak_activation_bytes;
};

/* A table of per-block costs for a separable space (space.h: blocks),
 * filled lazily: entry (block, input shape, choices of the block's genes
 * and its stage's depth gene) holds the block's LUT latency (the sum of its
 * kernels' or layers' medians, misses from the roofline), MACs, FLOPs,
 * params and peak activation memory, and the shape leaving it. Evaluating a
 * vector is then one lookup per block: no JSON, no network. Exact: the sums
 * equal oc_search_costs_slow's up to the order of floating-point additions
 * (MACs, params and memory exactly). lut may be NULL (analytic costs only). unsupported for a space
 * that is not separable. Not thread-safe (one per thread). */
struct oc_search_table;
enum oc_status oc_search_table_create(const struct oc_space *space, const struct oc_lut_cache *lut,
                                      enum oc_lut_granularity granularity,
                                      const struct oc_lut_roofline *roofline, bool strict,
                                      struct oc_search_table **table);
void oc_search_table_free(struct oc_search_table *table); /* NULL-safe */
/* Costs of genes (canonical or not). Fails like the slow path when a block
 * does not build or (strict, or no roofline) an op is not in the LUT. */
enum oc_status oc_search_table_eval(struct oc_search_table *table, const int32_t *genes, size_t n,
                                    struct oc_search_costs *costs);
/* Entries filled so far and blocks built to fill them. */
void oc_search_table_stats(const struct oc_search_table *table, int64_t *entries, int64_t *shapes);

/* The same costs from the decoded network: oc_space_decode, then
 * oc_lut_predict_us and the network's analytic costs (the reference). */
enum oc_status oc_search_costs_slow(const struct oc_space *space, const struct oc_lut_cache *lut,
                                    enum oc_lut_granularity granularity,
                                    const struct oc_lut_roofline *roofline, bool strict,
                                    const int32_t *genes, size_t n, struct oc_search_costs *costs);

/* ---- external evaluator ------------------------------------------------------------------- */

/* Splits a command line into argv without a shell: words separated by
 * blanks, '...' literal, "..." with \" and \\ escapes, \x outside quotes.
 * No expansion of any kind. *argv is one allocation (free() it), NULL
 * terminated. parse_error for an unterminated quote or an empty command. */
enum oc_status oc_search_split_command(const char *command, char ***argv, int *argc);

/* A process started once (posix_spawnp, no shell) and asked one JSON line
 * per candidate over its stdin; it answers one line on stdout
 * (docs/search.md):
 *   -> {"id": 17, "genes": "...", "hash": "...", "net": {opcost-net/1}}
 *   <- {"id": 17, "accuracy": 0.7431}
 * A reply that does not come within timeout_s, is not a JSON object, has
 * another id or no finite "accuracy", or the process exiting, is an error
 * naming the candidate; after each one the process is restarted and the
 * request sent again, up to `retries` times. Its stderr goes to log_path
 * (NULL: inherited). Not thread-safe. */
struct oc_search_evaluator;
enum oc_status oc_search_evaluator_start(const char *command, double timeout_s, int retries,
                                         const char *log_path,
                                         struct oc_search_evaluator **evaluator);
/* request is the object to send (its "id" must be id); not kept. */
enum oc_status oc_search_evaluator_ask(struct oc_search_evaluator *evaluator, int64_t id,
                                       const json_t *request, double *accuracy);
/* Requests answered, and errors met (each retried or fatal). */
void oc_search_evaluator_stats(const struct oc_search_evaluator *evaluator, int64_t *answered,
                               int64_t *errors, int64_t *restarts);
/* Closes its stdin, waits up to 2 s for it to exit, then kills it. NULL-safe. */
void oc_search_evaluator_stop(struct oc_search_evaluator *evaluator);

/* A CSV table of known accuracies: a header line naming a "genes" column
 * (gene text, space.h) or a "hash" column (16 hex digits of the phenotype
 * hash), and an "accuracy" column; other columns are ignored. Rows are
 * keyed by phenotype hash. parse_error / invalid_argument name the file,
 * line and column; two rows with one phenotype and different accuracies
 * are invalid_argument. */
struct oc_search_accuracy;
enum oc_status oc_search_accuracy_load(const struct oc_space *space, const char *path,
                                       struct oc_search_accuracy **table);
/* false when the phenotype is not in the table. */
bool oc_search_accuracy_get(const struct oc_search_accuracy *table, uint64_t hash,
                            double *accuracy);
size_t oc_search_accuracy_size(const struct oc_search_accuracy *table);
void oc_search_accuracy_free(struct oc_search_accuracy *table); /* NULL-safe */

/* ---- the search -------------------------------------------------------------------------- */

#define OC_SEARCH_ALGORITHM_MAP(X) X(nsga2) X(random) X(evolution)
enum oc_search_algorithm {
#define OC_SEARCH_ALGORITHM_ENUM(name) oc_search_algo_##name,
  OC_SEARCH_ALGORITHM_MAP(OC_SEARCH_ALGORITHM_ENUM)
#undef OC_SEARCH_ALGORITHM_ENUM
      oc_search_algorithm__count
};
const char *oc_search_algorithm_name(enum oc_search_algorithm algorithm);
enum oc_status oc_search_algorithm_from_name(const char *name, enum oc_search_algorithm *algorithm);

enum oc_search_hil_when {
  oc_search_hil_final,      /* measure the final front (up to hil candidates) */
  oc_search_hil_generation, /* measure up to hil members of each generation's front */
};

struct oc_search_progress {
  int64_t evaluated; /* candidates in the archive (resumed ones included) */
  int64_t budget;
  int32_t generation;
  int64_t feasible;
  size_t front_size;
  double hypervolume; /* NaN until a feasible candidate exists */
  const char *phase;  /* "search", "hil", "outputs" */
};

struct oc_search_config {
  const struct oc_space *space;
  enum oc_search_algorithm algorithm;
  uint64_t seed;
  int64_t budget;      /* candidates to evaluate (unique phenotypes), >= 1 */
  int32_t population;  /* NSGA-II / evolution population (50); random: HV every this many */
  size_t n_objectives; /* >= 1 */
  enum oc_search_metric objectives[OC_SEARCH_MAX_OBJECTIVES];
  size_t n_constraints;
  struct oc_search_constraint constraints[OC_SEARCH_MAX_CONSTRAINTS];

  /* Latency: a LUT cache, or a model (one of them when latency is used). */
  const struct oc_lut_cache *lut;
  const char *lut_path; /* for the summary */
  enum oc_lut_granularity granularity;
  const struct oc_lut_roofline *roofline; /* fill LUT misses (NULL: misses fail) */
  bool lut_strict;
  /* Per-block tables to use (and keep filling) instead of new ones, for
   * several searches over one space: created for this space with the same
   * LUT settings (or lut NULL without a LUT). Borrowed; NULL: the run makes
   * its own. */
  struct oc_search_table *table;
  struct oc_model *model;
  const char *model_path;
  bool latency_upper; /* model: the upper end of the prediction interval */

  /* Accuracy: an evaluator command, or a table. */
  const char *evaluator;      /* command line (oc_search_split_command) */
  double evaluator_timeout_s; /* per reply (60) */
  int evaluator_retries;      /* (0) */
  const struct oc_search_accuracy *accuracy_table;
  const char *accuracy_table_path;

  /* Hardware in the loop: measure on target (may be NULL when hil is 0). */
  struct oc_target *target;
  const char *target_name;
  int32_t hil; /* candidates to measure (0: none) */
  enum oc_search_hil_when hil_when;
  const struct oc_measure_opts *measure; /* NULL: oc_measure_opts_default */

  /* Hypervolume reference point in base units, objective order; without
   * it, derived from the space's worst values (docs/search.md). */
  bool have_ref_point;
  double ref_point[OC_SEARCH_MAX_OBJECTIVES];
  int64_t hv_samples; /* Monte Carlo points for > 3 objectives (100000) */

  /* Operators. */
  double crossover_prob; /* NSGA-II (0.9) */
  double mutation_prob;  /* per gene; 0 = 1 / genes (NSGA-II), 0.1 (evolution) */
  double parent_ratio;   /* evolution: parents kept (0.25) */
  double mutate_ratio;   /* evolution: children by mutation, rest crossover (0.5) */
  int32_t max_retries;   /* bounded retries for a new / feasible child (100) */

  const char *out_dir; /* created if missing */
  bool resume;         /* continue from out_dir/journal.jsonl */

  void (*progress)(void *ctx, const struct oc_search_progress *progress);
  void *progress_ctx;
  const volatile sig_atomic_t *stop; /* polled between evaluations; may be NULL */
};
/* Fills the defaults in brackets; space, budget and objectives are the
 * caller's. */
void oc_search_config_default(struct oc_search_config *config);

struct oc_search_report {
  int64_t evaluated;         /* in the archive at the end */
  int64_t resumed;           /* of those, read back from the journal */
  int64_t duplicates;        /* children that were already in the archive (not re-evaluated) */
  int64_t retries_exhausted; /* times a bounded retry loop gave up */
  int32_t generations;
  int64_t feasible;
  size_t front_size;
  double hypervolume; /* of the final front; NaN when no feasible candidate */
  enum oc_search_hv_method hv_method;
  double ref_point[OC_SEARCH_MAX_OBJECTIVES];
  char ref_point_source[64]; /* "given", "space worst case", "sampled worst case (N)" */
  double best_violation;     /* smallest violation in the archive (0 when feasible exist) */
  int64_t best_violation_id;
  int32_t hil_measured;
  double hil_correction; /* measured / predicted latency factor (1 without HIL) */
  double hil_mape;       /* of the predictions before correction; NaN without HIL */
  bool stopped;          /* config.stop was raised */
  bool exhausted;        /* no new candidate could be found (small space) */
  double elapsed_s;
  double evals_per_s; /* evaluations of this run / their time */
};

/* Runs a search and writes out_dir/journal.jsonl (as it goes), front.csv,
 * front.json, front/NAME.json, hv.csv, hil.csv (with HIL) and
 * summary.json. Fails with invalid_argument for a bad configuration (a
 * metric without its source, a resume whose config.json differs), the
 * evaluator's or the LUT's errors naming the candidate, io_error for the
 * outputs, and not_found when no candidate satisfies the constraints (the
 * outputs are written and report holds the best violation found). */
enum oc_status oc_search_run(const struct oc_search_config *config,
                             struct oc_search_report *report);

#ifdef __cplusplus
}
#endif
#endif
