/* cmd_demo.c - `opcost demo`: what `make run` runs. Profiles this machine,
 * builds a LUT, measures a validation set, fits and evaluates a cost model,
 * runs a constrained search with hardware in the loop and writes the
 * report (oc_demo_run does all of it through the library); this file
 * parses options, shows progress and prints the summary. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "opcost/report.h"

static const char *const help =
    "usage: opcost demo [-o DIR] [--quick] [options]\n"
    "\n"
    "Runs the whole pipeline on this machine and writes DIR/report.html (a few\n"
    "minutes on 2 cores; --quick: about one):\n"
    "  1. device profile: peak FLOP/s, bandwidth per memory level, roofline\n"
    "  2. LUT: every kernel of the space at one resolution, and the kernels of\n"
    "     the reference networks, measured one by one\n"
    "  3. validation set: networks sampled from the space and the reference\n"
    "     networks, measured end to end\n"
    "  4. cost model: fitted on the LUT and half of the sampled networks,\n"
    "     evaluated on the other half and the reference networks\n"
    "  5. search: NSGA-II, objectives latency (LUT) and an accuracy proxy (a\n"
    "     capacity score of the genes, DIR/accuracy-proxy.sh: replace it with your\n"
    "     evaluator); latency and peak memory bounded by the sampled networks' medians\n"
    "  6. hardware in the loop: the front measured end to end\n"
    "  7. the report: DIR/report.html, report.md, report_data/\n"
    "Every input it makes stays in DIR (profile.json, lut.db, nets/,\n"
    "measured.jsonl, model.json, search/, space.json), ready for the other\n"
    "commands; a second run reuses the LUT rows already measured.\n"
    "\n"
    "  -o, --output DIR     where everything goes (default out)\n"
    "  --quick              shorter measurements, 8 samples, budget 600, 4 HIL\n"
    "  -t, --target SPEC    target (default cpu)\n"
    "  --threads N          threads the target uses (1)\n"
    "  -s, --space SPACE    built-in space or file (ofa-mbv3-w1.0)\n"
    "  --resolution R       input size, a choice of the space's resolution gene (160)\n"
    "  --samples N          networks sampled for validation (20)\n"
    "  --budget N           search budget (2000)\n"
    "  --population N       search population (50)\n"
    "  --hil N              front members measured on the target (8)\n"
    "  --seed N             sampling and search seed (1)\n"
    "  --networks DIR       reference networks (spaces/networks; 'none' for none)\n"
    "  --quiet              no progress\n"
    "  --json               print OUT/demo.json at the end instead of the summary\n"
    "  -h, --help           this text\n"
    "\n"
    "Exit status 0 when every stage ran; 7 when one failed (the report is still\n"
    "written and says which, and why).\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

struct demo_ui {
  bool quiet;
  int stage; /* the last stage announced */
  double started[OC_DEMO_STAGES];
  struct cli_progress bar;
};

/* Announces each stage once, in order; draws a bar on a terminal; prints
 * a line when a stage is over (done == -1). */
static void on_progress(void *ctx, int stage, int n_stages, const char *name, int64_t done,
                        int64_t total, const char *detail) {
  struct demo_ui *ui = ctx;
  if (ui->quiet || stage < 0 || stage >= OC_DEMO_STAGES) return;
  if (stage > ui->stage) {
    cli_progress_end(&ui->bar);
    ui->stage = stage;
    ui->started[stage] = cli_now_s();
    printf("[%d/%d] %s\n", stage + 1, n_stages, name);
    fflush(stdout);
    cli_progress_start(&ui->bar, name, 0, false);
  }
  if (done == -1) {
    cli_progress_end(&ui->bar);
    printf("      %s: %s (%.1f s)\n", name, detail, cli_now_s() - ui->started[stage]);
    fflush(stdout);
  } else if (total > 0 && stage == ui->stage) {
    ui->bar.total = total;
    cli_progress_step(&ui->bar, done, detail);
  }
}

static void print_summary(const struct oc_demo_result *r) {
  printf("\n");
  for (int i = 0; i < OC_DEMO_STAGES; i++) {
    const struct oc_demo_stage *s = &r->stages[i];
    char t[32] = "";
    if (isfinite(s->seconds)) snprintf(t, sizeof t, "%6.1f s", s->seconds);
    printf("  %-22s %-13s %8s  %s\n", s->name, s->status, t, s->detail);
  }
  printf("\n");
  if (r->device[0]) printf("  device      %s\n", r->device);
  if (isfinite(r->peak_gflops_one_core))
    printf("  roofline    %.1f GFLOP/s one core, %.1f all cores; DRAM %.1f GB/s\n",
           r->peak_gflops_one_core, r->peak_gflops_all_cores, r->dram_gbs);
  if (r->lut_rows > 0) printf("  LUT         %lld kernels measured\n", (long long)r->lut_rows);
  if (isfinite(r->model_mape_heldout))
    printf("  model       held-out networks: MAPE %.1f %%, %.0f %% within 10 %% (LUT sums alone: "
           "MAPE %.1f %%)\n",
           100 * r->model_mape_heldout, 100 * r->model_within10_heldout, 100 * r->lut_mape);
  if (r->evaluated > 0)
    printf("  search      %s: %lld evaluated, %lld feasible, front of %d\n", r->constraints,
           (long long)r->evaluated, (long long)r->feasible, (int)r->front_size);
  if (r->hil_measured > 0)
    printf("  HIL         %d measured; LUT predictions off by %.1f %% before correction "
           "(x%.3f)\n",
           (int)r->hil_measured, 100 * r->hil_mape_before, r->hil_correction);
  printf("  took        %.0f s%s\n", r->total_s,
         r->n_failed ? "; some stages failed: the report says which" : "");
  printf("\n  report      %s\n", r->report);
  printf("  summary     %s\n", r->markdown);
}

int cli_cmd_demo(int argc, char **argv) {
  enum {
    opt_quick = 256,
    opt_threads,
    opt_resolution,
    opt_samples,
    opt_budget,
    opt_population,
    opt_hil,
    opt_seed,
    opt_networks,
    opt_quiet,
    opt_json,
  };
  static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                           {"quick", no_argument, NULL, opt_quick},
                                           {"target", required_argument, NULL, 't'},
                                           {"threads", required_argument, NULL, opt_threads},
                                           {"space", required_argument, NULL, 's'},
                                           {"resolution", required_argument, NULL, opt_resolution},
                                           {"samples", required_argument, NULL, opt_samples},
                                           {"budget", required_argument, NULL, opt_budget},
                                           {"population", required_argument, NULL, opt_population},
                                           {"hil", required_argument, NULL, opt_hil},
                                           {"seed", required_argument, NULL, opt_seed},
                                           {"networks", required_argument, NULL, opt_networks},
                                           {"quiet", no_argument, NULL, opt_quiet},
                                           {"json", no_argument, NULL, opt_json},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  struct oc_demo_opts o;
  oc_demo_opts_default(&o);
  bool quiet = false, json = false;
  long v = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "ho:t:s:", longopts, NULL)) != -1) {
    switch (c) {
    case 'o': o.out_dir = optarg; break;
    case opt_quick: o.quick = true; break;
    case 't': o.target = optarg; break;
    case 's': o.space = optarg; break;
    case opt_threads:
      if (!cli_parse_int("demo", "--threads", optarg, 1, 4096, &v)) return CLI_EXIT_USAGE;
      o.threads = (int32_t)v;
      break;
    case opt_resolution:
      if (!cli_parse_int("demo", "--resolution", optarg, 1, 100000, &v)) return CLI_EXIT_USAGE;
      o.resolution = (int32_t)v;
      break;
    case opt_samples:
      if (!cli_parse_int("demo", "--samples", optarg, 0, 1000, &v)) return CLI_EXIT_USAGE;
      o.samples = (int32_t)v;
      break;
    case opt_budget:
      if (!cli_parse_int("demo", "--budget", optarg, 1, 100000000, &v)) return CLI_EXIT_USAGE;
      o.budget = v;
      break;
    case opt_population:
      if (!cli_parse_int("demo", "--population", optarg, 2, 100000, &v)) return CLI_EXIT_USAGE;
      o.population = (int32_t)v;
      break;
    case opt_hil:
      if (!cli_parse_int("demo", "--hil", optarg, 0, 1000, &v)) return CLI_EXIT_USAGE;
      o.hil = (int32_t)v;
      break;
    case opt_seed:
      if (!cli_parse_int("demo", "--seed", optarg, 0, 2147483647L, &v)) return CLI_EXIT_USAGE;
      o.seed = (uint64_t)v;
      break;
    case opt_networks: o.networks_dir = strcmp(optarg, "none") == 0 ? NULL : optarg; break;
    case opt_quiet: quiet = true; break;
    case opt_json: json = true; break;
    case 'h': fputs(help, stdout); return 0;
    default: return cli_usage_error("demo", "unknown option");
    }
  }
  if (optind < argc) return cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
  struct demo_ui ui;
  memset(&ui, 0, sizeof ui);
  ui.quiet = quiet || json;
  ui.stage = -1;
  o.progress = on_progress;
  o.progress_ctx = &ui;
  stop_requested = 0;
  o.stop = &stop_requested;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (!ui.quiet) {
    printf("opcost demo: the whole pipeline on this machine -> %s/report.html%s\n", o.out_dir,
           o.quick ? " (quick)" : "");
    fflush(stdout);
  }
  struct oc_demo_result *r = calloc(1, sizeof *r);
  if (r == NULL) return cli_fail("demo", oc_status_out_of_memory);
  enum oc_status st = oc_demo_run(&o, r);
  cli_progress_end(&ui.bar);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  int rc = 0;
  if (st != oc_status_ok) {
    rc = cli_fail("demo", st);
  } else if (json) {
    char path[4200];
    snprintf(path, sizeof path, "%s/demo.json", o.out_dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    rc = root ? cli_print_json(root) : cli_fail("demo", oc_status_io_error);
  } else if (!quiet) {
    print_summary(r);
  } else {
    printf("%s\n", r->report);
  }
  if (rc == 0 && r->n_failed > 0) {
    fprintf(stderr, "opcost demo: %d stage%s failed (the report says which): %s\n", r->n_failed,
            r->n_failed == 1 ? "" : "s", r->report);
    rc = oc_status_exit_code(oc_status_unavailable);
  }
  free(r);
  return rc;
}
