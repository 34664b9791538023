/* cmd_search.c - `opcost search`: hardware-aware multi-objective search over
 * a space, with latency from a LUT or a cost model, accuracy from an
 * evaluator command or a table, constraints on any metric, and hardware in
 * the loop on a target. Parses the options, opens what they name, runs
 * oc_search_run and prints the summary; the library does the work. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "opcost/lut.h"
#include "opcost/model.h"
#include "opcost/search.h"

static const char *const help =
    "usage: opcost search -s SPACE --objective M,M... [--constraint 'M<=V' ...]\n"
    "                     [--lut LUT.db | --model MODEL.json] [--evaluator CMD |\n"
    "                     --accuracy-table FILE] [-t TARGET --hil N] --budget N\n"
    "                     [--seed S] -o DIR [options]\n"
    "\n"
    "Searches SPACE (a built-in name or a space file) for the Pareto front of the\n"
    "objectives under the constraints. Metrics: latency (us, from --lut or --model,\n"
    "or measured with --hil), macs, flops, params, peak_mem (peak activation bytes),\n"
    "weights (bytes), accuracy (maximized; from --evaluator or --accuracy-table).\n"
    "Constraints: METRIC<=VALUE or METRIC>=VALUE with units: latency us/ms/s;\n"
    "peak_mem/weights B, KB/MB/GB (x1000), KiB/MiB/GiB (x1024); counts K/M/G.\n"
    "Writes DIR/journal.jsonl, front.csv, front.json, front/*.json, hv.csv,\n"
    "summary.json (and hil.csv). Exit status is non-zero when no candidate is\n"
    "feasible (the best violation is reported). docs/search.md has the details.\n"
    "\n"
    "  -s, --space SPACE        search space\n"
    "  --objective LIST         comma-separated metrics to optimize\n"
    "  --constraint EXPR...     one or more constraints (repeatable)\n"
    "  --algorithm A            nsga2 (default), random, evolution (OFA-style)\n"
    "  --budget N               candidates to evaluate (unique networks)\n"
    "  --population N           population (50); random: HV trace every N\n"
    "  --seed S                 seed (1): a seed reproduces a run exactly\n"
    "  -o, --output DIR         output directory\n"
    "  --resume                 continue the search in DIR from its journal\n"
    "  --lut FILE               latency LUT (opcost lut build)\n"
    "  --device FP              LUT device fingerprint (default: the target's, or the only one)\n"
    "  --threads N              LUT thread count when it has several\n"
    "  --granularity G          kernel (default) or block\n"
    "  --profile FILE           device profile: fill LUT misses from its roofline\n"
    "  --strict                 LUT misses are errors even with --profile\n"
    "  --model FILE             cost model (opcost fit) instead of a LUT\n"
    "  --latency-bound B        point (default) or upper (the model's interval)\n"
    "  --evaluator CMD          accuracy evaluator command (JSON Lines on stdin/stdout;\n"
    "                           run without a shell)\n"
    "  --evaluator-timeout S    seconds per reply (60)\n"
    "  --evaluator-retries N    restarts and resends after a failed reply (0)\n"
    "  --accuracy-table FILE    CSV of known accuracies (genes or hash, accuracy)\n"
    "  -t, --target TARGET      target to measure on (hardware in the loop)\n"
    "  --hil N                  measure N candidates end to end on the target\n"
    "  --hil-when W             final (the final front, default) or generation (N each)\n"
    "  --hil-max-time S         measurement time cap per candidate (1 s)\n"
    "  --ref-point V,V,...      hypervolume reference point, objective order, with units\n"
    "                           (default: 1.1 x the space's worst case; 0 for accuracy)\n"
    "  --hv-samples N           Monte Carlo points for > 3 objectives (100000)\n"
    "  --crossover P            NSGA-II crossover probability (0.9)\n"
    "  --mutation P             per-gene mutation probability (1/genes; evolution 0.1)\n"
    "  --retries N              bounded retries for a new/feasible child (100)\n"
    "  --quiet                  no progress bar\n"
    "  --json                   print summary.json instead of the text summary\n"
    "  -h, --help               this text\n";

enum {
  opt_objective = 256,
  opt_constraint,
  opt_algorithm,
  opt_budget,
  opt_population,
  opt_seed,
  opt_resume,
  opt_lut,
  opt_device,
  opt_threads,
  opt_granularity,
  opt_profile,
  opt_strict,
  opt_model,
  opt_bound,
  opt_evaluator,
  opt_eval_timeout,
  opt_eval_retries,
  opt_acc_table,
  opt_hil,
  opt_hil_when,
  opt_hil_time,
  opt_ref,
  opt_hv_samples,
  opt_crossover,
  opt_mutation,
  opt_retries,
  opt_quiet,
  opt_json,
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void progress(void *ctx, const struct oc_search_progress *p) {
  struct cli_progress *bar = ctx;
  char detail[128];
  if (isnan(p->hypervolume))
    snprintf(detail, sizeof detail, "gen %d, %s, no feasible yet", (int)p->generation, p->phase);
  else
    snprintf(detail, sizeof detail, "gen %d, %s, front %zu, HV %.4g", (int)p->generation, p->phase,
             p->front_size, p->hypervolume);
  cli_progress_step(bar, p->evaluated, detail);
}

/* Splits "V,V,..." into the objectives' reference values. */
static bool parse_ref(const char *text, const struct oc_search_config *cfg, double *ref) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", text);
  size_t k = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (k >= cfg->n_objectives) {
      cli_usage_error("search", "--ref-point: more values than objectives (%zu)",
                      cfg->n_objectives);
      return false;
    }
    if (oc_search_parse_value(cfg->objectives[k], tok, &ref[k]) != oc_status_ok) {
      cli_usage_error("search", "--ref-point: %s", oc_errmsg());
      return false;
    }
    k++;
  }
  if (k != cfg->n_objectives) {
    cli_usage_error("search", "--ref-point: %zu values for %zu objectives", k, cfg->n_objectives);
    return false;
  }
  return true;
}

static void print_summary(const char *dir, const struct oc_search_config *cfg,
                          const struct oc_search_report *r) {
  printf("search %s over %s: %lld candidates evaluated", oc_search_algorithm_name(cfg->algorithm),
         oc_space_name(cfg->space), (long long)r->evaluated);
  if (r->resumed) printf(" (%lld from the journal)", (long long)r->resumed);
  printf(", %lld duplicates skipped, %d generations\n", (long long)r->duplicates,
         (int)r->generations);
  printf("  objectives  ");
  for (size_t k = 0; k < cfg->n_objectives; k++) {
    enum oc_search_metric m = cfg->objectives[k];
    const char *src = "analytic";
    if (m == oc_search_latency) src = cfg->lut ? "lut" : "model";
    if (m == oc_search_accuracy) src = cfg->accuracy_table ? "table" : "evaluator";
    printf("%s%s (%s, %s)", k ? ", " : "", oc_search_metric_name(m),
           oc_search_metric_maximized(m) ? "max" : "min", src);
  }
  printf("\n");
  for (size_t k = 0; k < cfg->n_constraints; k++) {
    char b[64];
    oc_search_format_value(cfg->constraints[k].metric, cfg->constraints[k].bound, b, sizeof b);
    printf("  constraint  %s  (%s %s)\n", cfg->constraints[k].text,
           cfg->constraints[k].cmp == oc_search_le ? "<=" : ">=", b);
  }
  printf("  feasible    %lld of %lld\n", (long long)r->feasible, (long long)r->evaluated);
  printf("  front       %zu members\n", r->front_size);
  printf("  HV          %.6g (%s) at reference point (", r->hypervolume,
         r->hv_method == oc_search_hv_exact ? "exact" : "Monte Carlo");
  for (size_t k = 0; k < cfg->n_objectives; k++) {
    char v[64];
    oc_search_format_value(cfg->objectives[k], r->ref_point[k], v, sizeof v);
    printf("%s%s", k ? ", " : "", v);
  }
  printf("): %s\n", r->ref_point_source);
  if (cfg->hil > 0)
    printf("  HIL         %d measured on %s; predictions off by %.1f %% (MAPE) before "
           "correction; correction x%.4f\n",
           (int)r->hil_measured, cfg->target_name ? cfg->target_name : "?", 100.0 * r->hil_mape,
           r->hil_correction);
  if (r->exhausted) printf("  note        no new candidate found: the space is exhausted\n");
  printf("  speed       %.0f evaluations/s (%.2f s in all)\n", r->evals_per_s, r->elapsed_s);
  printf(
      "  outputs     %s/{journal.jsonl, front.csv, front.json, front/, hv.csv, summary.json%s}\n",
      dir, cfg->hil > 0 ? ", hil.csv" : "");
}

int cli_cmd_search(int argc, char **argv) {
  static const struct option longopts[] = {
      {"space", required_argument, NULL, 's'},
      {"output", required_argument, NULL, 'o'},
      {"target", required_argument, NULL, 't'},
      {"objective", required_argument, NULL, opt_objective},
      {"objectives", required_argument, NULL, opt_objective},
      {"constraint", required_argument, NULL, opt_constraint},
      {"algorithm", required_argument, NULL, opt_algorithm},
      {"budget", required_argument, NULL, opt_budget},
      {"population", required_argument, NULL, opt_population},
      {"seed", required_argument, NULL, opt_seed},
      {"resume", no_argument, NULL, opt_resume},
      {"lut", required_argument, NULL, opt_lut},
      {"device", required_argument, NULL, opt_device},
      {"threads", required_argument, NULL, opt_threads},
      {"granularity", required_argument, NULL, opt_granularity},
      {"profile", required_argument, NULL, opt_profile},
      {"strict", no_argument, NULL, opt_strict},
      {"model", required_argument, NULL, opt_model},
      {"latency-bound", required_argument, NULL, opt_bound},
      {"evaluator", required_argument, NULL, opt_evaluator},
      {"evaluator-timeout", required_argument, NULL, opt_eval_timeout},
      {"evaluator-retries", required_argument, NULL, opt_eval_retries},
      {"accuracy-table", required_argument, NULL, opt_acc_table},
      {"hil", required_argument, NULL, opt_hil},
      {"hil-when", required_argument, NULL, opt_hil_when},
      {"hil-max-time", required_argument, NULL, opt_hil_time},
      {"ref-point", required_argument, NULL, opt_ref},
      {"hv-samples", required_argument, NULL, opt_hv_samples},
      {"crossover", required_argument, NULL, opt_crossover},
      {"mutation", required_argument, NULL, opt_mutation},
      {"retries", required_argument, NULL, opt_retries},
      {"quiet", no_argument, NULL, opt_quiet},
      {"json", no_argument, NULL, opt_json},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct oc_search_config cfg;
  oc_search_config_default(&cfg);
  const char *space_name = NULL, *target_spec = NULL, *objectives = NULL, *ref_text = NULL;
  const char *lut_path = NULL, *device = NULL, *profile_path = NULL, *model_path = NULL;
  const char *table_path = NULL;
  long threads = 0, lval;
  double dval, hil_time = 0;
  bool quiet = false, json = false, any_constraint = false, have_budget = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "s:o:t:h", longopts, NULL)) != -1) {
    switch (c) {
    case 's': space_name = optarg; break;
    case 'o': cfg.out_dir = optarg; break;
    case 't': target_spec = optarg; break;
    case opt_objective: objectives = optarg; break;
    case opt_constraint:
      if (cfg.n_constraints >= OC_SEARCH_MAX_CONSTRAINTS)
        return cli_usage_error("search", "at most %d constraints", OC_SEARCH_MAX_CONSTRAINTS);
      if (oc_search_parse_constraint(optarg, &cfg.constraints[cfg.n_constraints]) != oc_status_ok)
        return cli_usage_error("search", "--constraint: %s", oc_errmsg());
      cfg.n_constraints++;
      any_constraint = true;
      break;
    case opt_algorithm:
      if (oc_search_algorithm_from_name(optarg, &cfg.algorithm) != oc_status_ok)
        return cli_usage_error("search", "--algorithm: %s", oc_errmsg());
      break;
    case opt_budget:
      if (!cli_parse_int("search", "--budget", optarg, 1, 1000000000000L, &lval))
        return CLI_EXIT_USAGE;
      cfg.budget = lval;
      have_budget = true;
      break;
    case opt_population:
      if (!cli_parse_int("search", "--population", optarg, 2, 1000000, &lval))
        return CLI_EXIT_USAGE;
      cfg.population = (int32_t)lval;
      break;
    case opt_seed:
      if (!cli_parse_int("search", "--seed", optarg, 0, 0x7fffffffffffffffL, &lval))
        return CLI_EXIT_USAGE;
      cfg.seed = (uint64_t)lval;
      break;
    case opt_resume: cfg.resume = true; break;
    case opt_lut: lut_path = optarg; break;
    case opt_device: device = optarg; break;
    case opt_threads:
      if (!cli_parse_int("search", "--threads", optarg, 1, 4096, &threads)) return CLI_EXIT_USAGE;
      break;
    case opt_granularity:
      if (oc_lut_granularity_from_name(optarg, &cfg.granularity) != oc_status_ok)
        return cli_usage_error("search", "--granularity: '%s' must be kernel or block", optarg);
      break;
    case opt_profile: profile_path = optarg; break;
    case opt_strict: cfg.lut_strict = true; break;
    case opt_model: model_path = optarg; break;
    case opt_bound:
      if (strcmp(optarg, "upper") == 0)
        cfg.latency_upper = true;
      else if (strcmp(optarg, "point") == 0)
        cfg.latency_upper = false;
      else
        return cli_usage_error("search", "--latency-bound: '%s' must be point or upper", optarg);
      break;
    case opt_evaluator: cfg.evaluator = optarg; break;
    case opt_eval_timeout:
      if (!cli_parse_double("search", "--evaluator-timeout", optarg, 0.001, 1e6, &dval))
        return CLI_EXIT_USAGE;
      cfg.evaluator_timeout_s = dval;
      break;
    case opt_eval_retries:
      if (!cli_parse_int("search", "--evaluator-retries", optarg, 0, 1000, &lval))
        return CLI_EXIT_USAGE;
      cfg.evaluator_retries = (int)lval;
      break;
    case opt_acc_table: table_path = optarg; break;
    case opt_hil:
      if (!cli_parse_int("search", "--hil", optarg, 0, 1000000, &lval)) return CLI_EXIT_USAGE;
      cfg.hil = (int32_t)lval;
      break;
    case opt_hil_when:
      if (strcmp(optarg, "final") == 0)
        cfg.hil_when = oc_search_hil_final;
      else if (strcmp(optarg, "generation") == 0)
        cfg.hil_when = oc_search_hil_generation;
      else
        return cli_usage_error("search", "--hil-when: '%s' must be final or generation", optarg);
      break;
    case opt_hil_time:
      if (!cli_parse_double("search", "--hil-max-time", optarg, 0.001, 3600, &hil_time))
        return CLI_EXIT_USAGE;
      break;
    case opt_ref: ref_text = optarg; break;
    case opt_hv_samples:
      if (!cli_parse_int("search", "--hv-samples", optarg, 1, 1000000000L, &lval))
        return CLI_EXIT_USAGE;
      cfg.hv_samples = lval;
      break;
    case opt_crossover:
      if (!cli_parse_double("search", "--crossover", optarg, 0, 1, &cfg.crossover_prob))
        return CLI_EXIT_USAGE;
      break;
    case opt_mutation:
      if (!cli_parse_double("search", "--mutation", optarg, 0, 1, &cfg.mutation_prob))
        return CLI_EXIT_USAGE;
      break;
    case opt_retries:
      if (!cli_parse_int("search", "--retries", optarg, 1, 1000000, &lval)) return CLI_EXIT_USAGE;
      cfg.max_retries = (int32_t)lval;
      break;
    case opt_quiet: quiet = true; break;
    case opt_json: json = true; break;
    case 'h': fputs(help, stdout); return 0;
    default: return cli_usage_error("search", "unknown option");
    }
  }
  /* `--constraint A B C`: the words after the first are left as operands. */
  for (int i = optind; i < argc; i++) {
    if (!any_constraint) return cli_usage_error("search", "unexpected argument '%s'", argv[i]);
    if (cfg.n_constraints >= OC_SEARCH_MAX_CONSTRAINTS)
      return cli_usage_error("search", "at most %d constraints", OC_SEARCH_MAX_CONSTRAINTS);
    if (oc_search_parse_constraint(argv[i], &cfg.constraints[cfg.n_constraints]) != oc_status_ok)
      return cli_usage_error("search", "--constraint: %s", oc_errmsg());
    cfg.n_constraints++;
  }
  if (space_name == NULL) return cli_usage_error("search", "-s SPACE is required");
  if (objectives == NULL) return cli_usage_error("search", "--objective LIST is required");
  if (cfg.out_dir == NULL) return cli_usage_error("search", "-o DIR is required");
  if (!have_budget) return cli_usage_error("search", "--budget N is required");
  if (oc_search_parse_objectives(objectives, cfg.objectives, &cfg.n_objectives) != oc_status_ok)
    return cli_usage_error("search", "--objective: %s", oc_errmsg());
  if (ref_text) {
    if (!parse_ref(ref_text, &cfg, cfg.ref_point)) return CLI_EXIT_USAGE;
    cfg.have_ref_point = true;
  }
  if (cfg.hil > 0 && target_spec == NULL)
    return cli_usage_error("search", "--hil needs -t TARGET to measure on");

  struct oc_space *space = NULL;
  struct oc_lut *lut = NULL;
  struct oc_lut_cache *cache = NULL;
  struct oc_device_profile *profile = NULL;
  struct oc_lut_roofline roofline;
  struct oc_model *model = NULL;
  struct oc_search_accuracy *table = NULL;
  struct oc_target *target = NULL;
  struct oc_measure_opts measure;
  struct oc_search_report rep;
  int rc = 0;
  enum oc_status st = oc_space_open(space_name, &space);
  if (st != oc_status_ok) {
    rc = cli_fail("search", st);
    goto done;
  }
  cfg.space = space;
  char target_fp[17] = "";
  int32_t th = (int32_t)threads;
  if (target_spec) {
    struct oc_target_opts topts = {0};
    topts.threads = (int)threads;
    st = oc_target_open(target_spec, &topts, &target);
    if (st == oc_status_ok) {
      struct oc_device_info info;
      if (oc_target_describe(target, &info) == oc_status_ok)
        memcpy(target_fp, info.fingerprint, sizeof target_fp);
    } else if (cfg.hil > 0) {
      rc = cli_fail("search", st);
      goto done;
    } else {
      fprintf(stderr, "opcost search: note: target %s: %s (not needed without --hil)\n",
              target_spec, oc_errmsg());
      target = NULL;
    }
    cfg.target = target;
    cfg.target_name = target_spec;
  }
  if (lut_path) {
    char fp[17];
    st = oc_lut_open(lut_path, oc_lut_read_only, &lut);
    if (st == oc_status_ok) {
      /* The target's own rows when the LUT has them and no device is named. */
      const char *want = device;
      if (want == NULL && target_fp[0]) {
        struct oc_lut_device d;
        if (oc_lut_get_device(lut, target_fp, &d) == oc_status_ok) want = target_fp;
        oc_errclear();
      }
      st = oc_lut_resolve(lut, want, (int32_t)threads, fp, &th);
    }
    if (st == oc_status_ok) st = oc_lut_cache_load(lut, fp, th, &cache);
    if (st == oc_status_ok && target_fp[0] && strcmp(fp, target_fp) != 0)
      fprintf(stderr, "opcost search: warning: LUT device %s is not the target's (%s)\n", fp,
              target_fp);
    if (st == oc_status_ok && profile_path) {
      profile = calloc(1, sizeof *profile);
      st = profile ? oc_probe_profile_load(profile_path, profile) : oc_status_out_of_memory;
      if (st == oc_status_ok) st = oc_lut_roofline_from_profile(profile, th, &roofline);
      if (st == oc_status_ok) cfg.roofline = &roofline;
    }
    cfg.lut = cache;
    cfg.lut_path = lut_path;
  }
  if (st == oc_status_ok && model_path) {
    st = oc_model_load(model_path, &model);
    if (st == oc_status_ok && target_fp[0]) {
      bool mismatch = false;
      st = oc_model_check_device(model, target_fp, 0, false, &mismatch);
      if (st == oc_status_ok && mismatch)
        fprintf(stderr, "opcost search: warning: %s\n", oc_errmsg());
    }
    cfg.model = model;
    cfg.model_path = model_path;
  }
  if (st == oc_status_ok && table_path) {
    st = oc_search_accuracy_load(space, table_path, &table);
    cfg.accuracy_table = table;
    cfg.accuracy_table_path = table_path;
  }
  if (st != oc_status_ok) {
    rc = cli_fail("search", st);
    goto done;
  }
  oc_measure_opts_default(&measure);
  if (hil_time > 0) {
    measure.max_time_s = hil_time;
    if (measure.min_time_s > hil_time) measure.min_time_s = hil_time;
  }
  cfg.measure = &measure;

  struct cli_progress bar;
  cli_progress_start(&bar, "search", cfg.budget, quiet || json);
  cfg.progress = progress;
  cfg.progress_ctx = &bar;
  stop_requested = 0;
  cfg.stop = &stop_requested;
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  st = oc_search_run(&cfg, &rep);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  cli_progress_end(&bar);
  /* The outputs are written for a finished, an infeasible and a stopped
   * search alike. */
  bool written = st == oc_status_ok || st == oc_status_not_found || st == oc_status_interrupted;
  if (written) {
    if (json) {
      char path[4096];
      snprintf(path, sizeof path, "%s/summary.json", cfg.out_dir);
      json_error_t err;
      json_t *root = json_load_file(path, 0, &err);
      if (root) cli_print_json(root);
    } else {
      print_summary(cfg.out_dir, &cfg, &rep);
    }
  }
  if (st != oc_status_ok) rc = cli_fail("search", st);
done:
  oc_search_accuracy_free(table);
  oc_model_free(model);
  free(profile);
  oc_lut_cache_free(cache);
  oc_lut_close(lut);
  oc_target_close(target);
  oc_space_free(space);
  return rc;
}
