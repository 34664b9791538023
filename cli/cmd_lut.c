/* cmd_lut.c - `opcost lut`: latency/memory lookup tables from the command
 * line.
 *   build     measure the unique ops of a space or networks into a store
 *   show      what a store holds (devices, counts, rows)
 *   export    rows as CSV, JSON Lines or an OFA/ProxylessNAS YAML table
 *   import    CSV, JSON Lines, or OFA/ProxylessNAS YAML tables into a store
 *   merge     stores into one (shards of a fleet build)
 *   diff      per-op ratios between two devices or two builds
 *   overhead  show or set a device's per-network overhead term */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "opcost/lut.h"

static const char *const help =
    "usage: opcost lut build -t TARGET (-s SPACE [--resolutions R,...] | NET.json... |\n"
    "                        --key KEY...) -o LUT.db [options]\n"
    "       opcost lut show LUT.db [--rows] [--device FP] [--threads N] [--kind K] [--json]\n"
    "       opcost lut export LUT.db [--format csv|jsonl|yaml] [-o FILE] [--device FP]\n"
    "                         [--threads N] [--kind K] [--family proxyless|mbv3]\n"
    "                         [--unit-us U]\n"
    "       opcost lut import LUT.db FILE... [--format csv|jsonl|yaml] [--on-duplicate P]\n"
    "                         [--device-name NAME] [--fingerprint FP] [--target T]\n"
    "                         [--threads N] [--unit-us U] [--family proxyless|mbv3]\n"
    "       opcost lut merge [-o OUT.db] LUT.db... [--on-duplicate P] [--flag-ratio R]\n"
    "       opcost lut diff A.db [B.db] [--device-a FP] [--threads-a N] [--device-b FP]\n"
    "                       [--threads-b N] [--top N] [--json]\n"
    "       opcost lut overhead LUT.db [--device FP] [--threads N] [--set US]\n"
    "\n"
    "A LUT is an SQLite file: one row per op, device (fingerprint) and thread count\n"
    "(docs/lut.md). Builds commit every row as soon as it is measured: a killed build\n"
    "resumes where it stopped, and shards (--shard i/N) may write one file at once.\n"
    "\n"
    "build options:\n"
    "  -t, --target SPEC      target to measure on (opcost devices lists them)\n"
    "  -s, --space SPACE      a built-in space name or a space JSON file\n"
    "  --resolutions R,...    input sizes of the space (default: all its choices)\n"
    "  --key KEY              measure this op key (repeatable)\n"
    "  -o, --output FILE      the store (created when missing)\n"
    "  --granularity G        kernel (blocks expanded; default) or block (whole blocks)\n"
    "  --shard i/N            measure only shard i of N (0 <= i < N)\n"
    "  --time-budget S        stop before an op would end past S seconds (exit 12)\n"
    "  --threads N            threads the target uses (default 1)\n"
    "  --cores LIST           pin to these cores, e.g. 0,2-3\n"
    "  --max-time S           cap on sampling one op (default 1)\n"
    "  --min-time S           least sampling time per op (default 0.02)\n"
    "  --warmup S             least warm-up time per op (default 0.02)\n"
    "  --target-ci F          relative confidence interval of the median (default 0.01)\n"
    "  --dry-run              list what would be measured, measure nothing\n"
    "  --quiet                no progress bar\n"
    "other options:\n"
    "  --on-duplicate P       keep, samples (more samples wins, then newer; default),\n"
    "                         newer, replace, or fail\n"
    "  --flag-ratio R         merge: flag duplicates whose medians differ by more than\n"
    "                         this ratio (default 1.1; 0 = never)\n"
    "  --unit-us U            YAML: microseconds per unit of 'mean' (default 1000: ms)\n"
    "  --family F             YAML: proxyless or mbv3 (OFA MobileNetV3) key grammar;\n"
    "                         default: mbv3 when blocks have SE or h-swish\n"
    "export --format yaml writes one device as the latency table OFA's and\n"
    "ProxylessNAS's LatencyEstimator read (blocks, first/last convs, pooling,\n"
    "classifier; mean = median); rows with no such key are counted on stderr.\n"
    "  --device FP            a device of the store: its fingerprint or a unique prefix\n"
    "  --json                 machine-readable output\n"
    "  -h, --help             this text\n";

enum {
  opt_resolutions = 256, opt_key, opt_granularity, opt_shard, opt_time_budget, opt_threads,
  opt_cores, opt_max_time, opt_min_time, opt_warmup, opt_target_ci, opt_dry_run, opt_quiet,
  opt_rows, opt_device, opt_kind, opt_json, opt_format, opt_on_duplicate, opt_device_name,
  opt_fingerprint, opt_unit_us, opt_family, opt_flag_ratio, opt_device_a, opt_device_b,
  opt_threads_a, opt_threads_b, opt_top, opt_set
};

static const struct option longopts[] = {
    {"target", required_argument, NULL, 't'},
    {"space", required_argument, NULL, 's'},
    {"output", required_argument, NULL, 'o'},
    {"resolutions", required_argument, NULL, opt_resolutions},
    {"key", required_argument, NULL, opt_key},
    {"granularity", required_argument, NULL, opt_granularity},
    {"shard", required_argument, NULL, opt_shard},
    {"time-budget", required_argument, NULL, opt_time_budget},
    {"threads", required_argument, NULL, opt_threads},
    {"cores", required_argument, NULL, opt_cores},
    {"max-time", required_argument, NULL, opt_max_time},
    {"min-time", required_argument, NULL, opt_min_time},
    {"warmup", required_argument, NULL, opt_warmup},
    {"target-ci", required_argument, NULL, opt_target_ci},
    {"dry-run", no_argument, NULL, opt_dry_run},
    {"quiet", no_argument, NULL, opt_quiet},
    {"rows", no_argument, NULL, opt_rows},
    {"device", required_argument, NULL, opt_device},
    {"kind", required_argument, NULL, opt_kind},
    {"json", no_argument, NULL, opt_json},
    {"format", required_argument, NULL, opt_format},
    {"on-duplicate", required_argument, NULL, opt_on_duplicate},
    {"device-name", required_argument, NULL, opt_device_name},
    {"fingerprint", required_argument, NULL, opt_fingerprint},
    {"unit-us", required_argument, NULL, opt_unit_us},
    {"family", required_argument, NULL, opt_family},
    {"flag-ratio", required_argument, NULL, opt_flag_ratio},
    {"device-a", required_argument, NULL, opt_device_a},
    {"device-b", required_argument, NULL, opt_device_b},
    {"threads-a", required_argument, NULL, opt_threads_a},
    {"threads-b", required_argument, NULL, opt_threads_b},
    {"top", required_argument, NULL, opt_top},
    {"set", required_argument, NULL, opt_set},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Every option of every subcommand; each subcommand checks that only its
 * own were given (which_opts). */
struct args {
  const char *sub;
  const char *target, *space, *output, *resolutions, *granularity, *shard, *cores;
  const char *device, *kind, *format, *on_duplicate, *device_name, *fingerprint, *family;
  const char *device_a, *device_b, *set;
  const char **keys;
  int n_keys;
  long threads, threads_a, threads_b, top;
  double time_budget, max_time, min_time, warmup, target_ci, unit_us, flag_ratio;
  bool dry_run, quiet, rows, json;
  bool given[opt_set + 1]; /* by getopt value */
  char **pos;
  int n_pos;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static int fail(const char *sub, enum oc_status st) {
  char cmd[32];
  snprintf(cmd, sizeof cmd, "lut %s", sub);
  return cli_fail(cmd, st);
}

static int usage(const char *fmt, const char *what) {
  return cli_usage_error("lut", fmt, what);
}

/* Rejects options that belong to other subcommands (given[] is indexed by
 * the option's getopt value). */
static int only(const struct args *a, const int *allowed, size_t n) {
  for (const struct option *o = longopts; o->name; o++) {
    if (o->val == 'h' || !a->given[o->val]) continue;
    bool ok = false;
    for (size_t i = 0; i < n; i++) ok = ok || allowed[i] == o->val;
    if (!ok)
      return cli_usage_error("lut", "option --%s does not apply to 'lut %s'", o->name, a->sub);
  }
  return 0;
}

static int parse_args(int argc, char **argv, struct args *a) {
  int c;
  optind = 1;
  a->keys = calloc((size_t)argc, sizeof *a->keys);
  a->pos = calloc((size_t)argc, sizeof *a->pos);
  if (a->keys == NULL || a->pos == NULL) return usage("%s", "out of memory");
  while ((c = getopt_long(argc, argv, "t:s:o:h", longopts, NULL)) != -1) {
    if (c > 0 && c <= opt_set) a->given[c] = true;
    switch (c) {
    case 't': a->target = optarg; break;
    case 's': a->space = optarg; break;
    case 'o': a->output = optarg; break;
    case opt_resolutions: a->resolutions = optarg; break;
    case opt_key: a->keys[a->n_keys++] = optarg; break;
    case opt_granularity: a->granularity = optarg; break;
    case opt_shard: a->shard = optarg; break;
    case opt_time_budget:
      if (!cli_parse_double("lut", "--time-budget", optarg, 0, 1e9, &a->time_budget)) return 2;
      break;
    case opt_threads:
      if (!cli_parse_int("lut", "--threads", optarg, 1, 4096, &a->threads)) return 2;
      break;
    case opt_cores: a->cores = optarg; break;
    case opt_max_time:
      if (!cli_parse_double("lut", "--max-time", optarg, 1e-4, 3600, &a->max_time)) return 2;
      break;
    case opt_min_time:
      if (!cli_parse_double("lut", "--min-time", optarg, 0, 3600, &a->min_time)) return 2;
      break;
    case opt_warmup:
      if (!cli_parse_double("lut", "--warmup", optarg, 0, 3600, &a->warmup)) return 2;
      break;
    case opt_target_ci:
      if (!cli_parse_double("lut", "--target-ci", optarg, 1e-6, 1, &a->target_ci)) return 2;
      break;
    case opt_dry_run: a->dry_run = true; break;
    case opt_quiet: a->quiet = true; break;
    case opt_rows: a->rows = true; break;
    case opt_device: a->device = optarg; break;
    case opt_kind: a->kind = optarg; break;
    case opt_json: a->json = true; break;
    case opt_format: a->format = optarg; break;
    case opt_on_duplicate: a->on_duplicate = optarg; break;
    case opt_device_name: a->device_name = optarg; break;
    case opt_fingerprint: a->fingerprint = optarg; break;
    case opt_unit_us:
      if (!cli_parse_double("lut", "--unit-us", optarg, 1e-9, 1e12, &a->unit_us)) return 2;
      break;
    case opt_family: a->family = optarg; break;
    case opt_flag_ratio:
      if (!cli_parse_double("lut", "--flag-ratio", optarg, 0, 1e9, &a->flag_ratio)) return 2;
      if (a->flag_ratio != 0 && a->flag_ratio < 1)
        return usage("--flag-ratio: value '%s' must be 0 or >= 1", optarg);
      break;
    case opt_device_a: a->device_a = optarg; break;
    case opt_device_b: a->device_b = optarg; break;
    case opt_threads_a:
      if (!cli_parse_int("lut", "--threads-a", optarg, 1, 4096, &a->threads_a)) return 2;
      break;
    case opt_threads_b:
      if (!cli_parse_int("lut", "--threads-b", optarg, 1, 4096, &a->threads_b)) return 2;
      break;
    case opt_top:
      if (!cli_parse_int("lut", "--top", optarg, 0, 1000000, &a->top)) return 2;
      break;
    case opt_set: a->set = optarg; break;
    case 'h': fputs(help, stdout); return -1;
    default: return cli_usage_error("lut", "unknown option (see 'opcost lut --help')");
    }
  }
  for (int i = optind; i < argc; i++) a->pos[a->n_pos++] = argv[i];
  return 0;
}

static enum oc_status open_lut(const char *path, enum oc_lut_mode mode, struct oc_lut **lut) {
  return oc_lut_open(path, mode, lut);
}

/* --device names a device of the store by its fingerprint or a unique
 * prefix of one: a prefix that matches nothing, or several devices, is a
 * mistake, not an empty selection. On success *device is the full
 * fingerprint (in full[]). */
struct device_match {
  const char *prefix;
  int n;
  char first[17];
  char list[256];
};

static int match_device(void *ctx, const struct oc_lut_device *dev) {
  struct device_match *m = ctx;
  if (strncmp(dev->fingerprint, m->prefix, strlen(m->prefix)) != 0) return 0;
  if (m->n++ == 0) snprintf(m->first, sizeof m->first, "%s", dev->fingerprint);
  size_t used = strlen(m->list);
  snprintf(m->list + used, sizeof m->list - used, "%s%s", used ? ", " : "", dev->fingerprint);
  return 0;
}

static int resolve_device(struct oc_lut *lut, const char **device, char full[17], const char *sub) {
  if (*device == NULL) return 0;
  struct device_match m = {*device, 0, "", ""};
  enum oc_status st = oc_lut_foreach_device(lut, match_device, &m);
  if (st != oc_status_ok) return fail(sub, st);
  if (m.n == 1) {
    memcpy(full, m.first, 17);
    *device = full;
    return 0;
  }
  if (m.n == 0)
    fprintf(stderr,
            "opcost lut %s: %s: --device %s: no device's fingerprint starts so ('opcost lut show "
            "%s' lists the devices)\n",
            sub, oc_lut_path(lut), *device, oc_lut_path(lut));
  else
    fprintf(stderr, "opcost lut %s: %s: --device %s: %d devices match (%s); give more digits\n",
            sub, oc_lut_path(lut), *device, m.n, m.list);
  return oc_status_exit_code(m.n == 0 ? oc_status_not_found : oc_status_invalid_argument);
}

static enum oc_status parse_policy(const struct args *a, enum oc_lut_policy *policy) {
  *policy = oc_lut_prefer_samples;
  return a->on_duplicate ? oc_lut_policy_from_name(a->on_duplicate, policy) : oc_status_ok;
}

/* ---- build ---- */

struct build_ui {
  struct cli_progress bar;
  bool json;
  json_t *unsupported;
};

static void build_progress(void *ctx, const struct oc_lut_build_progress *p) {
  struct build_ui *ui = ctx;
  if (p->error) {
    if (ui->bar.enabled) fputs("\r\033[K", stderr);
    fprintf(stderr, "opcost lut build: skipped (unsupported): %s\n", p->error);
    if (ui->unsupported) json_array_append_new(ui->unsupported, json_string(p->key));
  }
  ui->bar.total = p->total;
  cli_progress_step(&ui->bar, p->done, p->key);
}

static bool parse_shard(const char *text, int32_t *index, int32_t *count) {
  char *end = NULL;
  errno = 0;
  long i = strtol(text, &end, 10);
  if (end == text || *end != '/' || errno) return false;
  const char *rest = end + 1;
  long n = strtol(rest, &end, 10);
  if (end == rest || *end != '\0' || errno || n < 1 || n > 1000000 || i < 0 || i >= n)
    return false;
  *index = (int32_t)i;
  *count = (int32_t)n;
  return true;
}

static int lut_build(struct args *a) {
  static const int allowed[] = {'t', 's', 'o', opt_resolutions, opt_key, opt_granularity, opt_shard,
                                opt_time_budget, opt_threads, opt_cores, opt_max_time,
                                opt_min_time, opt_warmup, opt_target_ci, opt_dry_run,
                                opt_quiet, opt_json};
  int rc = only(a, allowed, sizeof allowed / sizeof allowed[0]);
  if (rc) return rc;
  if (a->target == NULL) return usage("%s", "lut build needs -t TARGET");
  if (a->output == NULL) return usage("%s", "lut build needs -o LUT.db");
  if (!a->space && a->n_pos == 0 && a->n_keys == 0)
    return usage("%s", "lut build needs -s SPACE, NET.json files or --key KEY");
  if (a->space && a->n_pos > 0)
    return usage("%s", "give either -s SPACE or NET.json files, not both");
  if (a->resolutions && !a->space) return usage("%s", "--resolutions applies to -s SPACE");
  enum oc_lut_granularity gran = oc_lut_kernel;
  int32_t shard = 0, shards = 1;
  if (a->granularity && oc_lut_granularity_from_name(a->granularity, &gran) != oc_status_ok)
    return usage("--granularity: value '%s' must be kernel or block", a->granularity);
  if (a->shard && !parse_shard(a->shard, &shard, &shards))
    return usage("--shard: value '%s' must be i/N with 0 <= i < N", a->shard);

  struct oc_lut_plan *plan = NULL;
  struct oc_target *target = NULL;
  struct oc_lut *lut = NULL;
  struct oc_space *space = NULL;
  int32_t *res = NULL;
  json_t *out = NULL;
  enum oc_status st = oc_lut_plan_create(gran, &plan);
  size_t n_res = 0;
  if (st == oc_status_ok && a->resolutions) {
    res = calloc(strlen(a->resolutions) + 1, sizeof *res);
    char *copy = strdup(a->resolutions);
    char *save = NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
         tok = strtok_r(NULL, ",", &save)) {
      long v;
      if (!res || !cli_parse_int("lut", "--resolutions", tok, 1, 65536, &v)) {
        free(copy);
        rc = 2;
        goto done;
      }
      res[n_res++] = (int32_t)v;
    }
    free(copy);
    if (n_res == 0) {
      rc = usage("--resolutions: value '%s' lists no size", a->resolutions);
      goto done;
    }
  }
  if (st == oc_status_ok && a->space) {
    st = oc_space_open(a->space, &space);
    if (st == oc_status_ok) st = oc_lut_plan_add_space(plan, space, res, n_res);
  }
  for (int i = 0; st == oc_status_ok && i < a->n_pos; i++) {
    struct oc_net *net = NULL;
    st = oc_net_load_file(a->pos[i], &net);
    if (st == oc_status_ok) st = oc_lut_plan_add_net(plan, net);
    oc_net_free(net);
  }
  for (int i = 0; st == oc_status_ok && i < a->n_keys; i++)
    st = oc_lut_plan_add_key(plan, a->keys[i]);
  if (st != oc_status_ok) {
    rc = fail("build", st);
    goto done;
  }
  if (a->dry_run) {
    int64_t n = 0;
    for (size_t i = 0; i < oc_lut_plan_size(plan); i++) {
      const char *key = oc_lut_plan_key(plan, i);
      if (oc_lut_shard_of(key, shards) != shard) continue;
      printf("%s\n", key);
      n++;
    }
    fprintf(stderr, "opcost lut build: %lld of %zu unique ops in shard %d/%d (dry run)\n",
            (long long)n, oc_lut_plan_size(plan), (int)shard, (int)shards);
    rc = 0;
    goto done;
  }
  struct oc_target_opts topts = {.threads = a->threads > 0 ? (int)a->threads : 1};
  if (a->cores) st = oc_target_parse_cores(a->cores, &topts);
  if (st == oc_status_ok) st = oc_target_open(a->target, &topts, &target);
  if (st == oc_status_ok) st = open_lut(a->output, oc_lut_create, &lut);
  if (st != oc_status_ok) {
    rc = fail("build", st);
    goto done;
  }
  struct oc_measure_opts mopts;
  oc_measure_opts_default(&mopts);
  if (a->given[opt_max_time]) mopts.max_time_s = a->max_time;
  if (a->given[opt_min_time]) mopts.min_time_s = a->min_time;
  if (a->given[opt_warmup]) mopts.warmup_s = a->warmup;
  if (a->given[opt_target_ci]) mopts.target_ci = a->target_ci;
  if (mopts.min_time_s > mopts.max_time_s) mopts.min_time_s = mopts.max_time_s;
  struct build_ui ui = {.json = a->json, .unsupported = a->json ? json_array() : NULL};
  cli_progress_start(&ui.bar, "lut build", 0, a->quiet);
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  struct oc_lut_build_opts bopts = {.shard_index = shard,
                                    .shard_count = shards,
                                    .time_budget_s = a->time_budget,
                                    .measure = &mopts,
                                    .progress = build_progress,
                                    .progress_ctx = &ui,
                                    .stop = &stop_requested};
  struct oc_lut_build_report r;
  st = oc_lut_build(lut, target, plan, &bopts, &r);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  cli_progress_end(&ui.bar);
  if (st != oc_status_ok) {
    json_decref(ui.unsupported);
    rc = fail("build", st);
    goto done;
  }
  if (a->json) {
    out = json_pack("{s:s, s:s, s:i, s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                    "s:b, s:b, s:f, s:o}",
                    "lut", a->output, "fingerprint", r.fingerprint, "threads", (int)r.threads,
                    "granularity", oc_lut_granularity_name(gran), "shard", a->shard ? a->shard : "0/1",
                    "shard_index", (int)shard, "shard_count", (int)shards, "planned",
                    (json_int_t)r.planned, "in_shard", (json_int_t)r.in_shard, "stored",
                    (json_int_t)r.stored, "measured", (json_int_t)r.measured, "raced",
                    (json_int_t)r.raced, "unsupported", (json_int_t)r.unsupported, "remaining",
                    (json_int_t)r.remaining, "budget_exhausted", r.budget_exhausted, "stopped",
                    r.stopped, "elapsed_s", r.elapsed_s, "unsupported_keys", ui.unsupported);
    cli_print_json(out);
  } else {
    json_decref(ui.unsupported);
    printf("%s: device %s, %d thread%s, %s granularity, shard %d/%d\n", a->output, r.fingerprint,
           (int)r.threads, r.threads == 1 ? "" : "s", oc_lut_granularity_name(gran), (int)shard,
           (int)shards);
    printf("  %lld unique ops, %lld in this shard: %lld already stored, %lld measured now",
           (long long)r.planned, (long long)r.in_shard, (long long)r.stored,
           (long long)r.measured);
    if (r.raced) printf(", %lld stored first by another writer", (long long)r.raced);
    if (r.unsupported) printf(", %lld unsupported by the target", (long long)r.unsupported);
    printf(" (%.1f s)\n", r.elapsed_s);
  }
  if (r.unsupported)
    fprintf(stderr, "opcost lut build: %lld op%s the target does not run, first: %s\n",
            (long long)r.unsupported, r.unsupported == 1 ? "" : "s", r.first_unsupported);
  if (r.remaining > 0) {
    const char *why = r.stopped ? "stopped by a signal" : "stopped by the time budget";
    fprintf(stderr, "opcost lut build: %s with %lld ops left; run it again to resume\n", why,
            (long long)r.remaining);
    rc = oc_status_exit_code(r.stopped ? oc_status_interrupted : oc_status_timeout);
  } else {
    rc = 0;
  }
done:
  oc_lut_close(lut);
  oc_target_close(target);
  oc_lut_plan_free(plan);
  oc_space_free(space);
  free(res);
  return rc;
}

/* ---- show ---- */

struct show_ctx {
  struct oc_lut *lut;
  json_t *json;
  enum oc_status st;
};

static int show_group(void *ctx, const struct oc_lut_group *g) {
  struct show_ctx *s = ctx;
  double overhead = 0;
  s->st = oc_lut_get_overhead(s->lut, g->fingerprint, g->threads, &overhead);
  if (s->st != oc_status_ok) return 1;
  if (s->json) {
    json_array_append_new(
        s->json, json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:f, s:f, s:s, s:s}",
                           "fingerprint", g->fingerprint, "target", g->target, "threads",
                           (int)g->threads, "granularity", oc_lut_granularity_name(g->granularity),
                           "rows", (json_int_t)g->rows, "measured", (json_int_t)g->measured,
                           "imported", (json_int_t)g->imported, "sum_median_us",
                           g->total_median_us, "overhead_us", overhead, "first_at", g->first_at,
                           "last_at", g->last_at));
    return 0;
  }
  printf("  %-16s %-10s threads %-3d %-6s %7lld rows (%lld measured, %lld imported)  "
         "overhead %.3f us  %s .. %s\n",
         g->fingerprint, g->target, (int)g->threads, oc_lut_granularity_name(g->granularity),
         (long long)g->rows, (long long)g->measured, (long long)g->imported, overhead,
         g->first_at, g->last_at);
  return 0;
}

static int show_device(void *ctx, const struct oc_lut_device *d) {
  struct show_ctx *s = ctx;
  if (s->json) {
    json_t *info = json_loads(d->info_json ? d->info_json : "{}", 0, NULL);
    json_array_append_new(s->json,
                          json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "fingerprint",
                                    d->fingerprint, "target", d->target, "name", d->name, "isa",
                                    d->isa, "runtime", d->runtime, "info",
                                    info ? info : json_object()));
    return 0;
  }
  printf("  %-16s %-10s %s%s%s\n", d->fingerprint, d->target, d->name[0] ? d->name : "(unnamed)",
         d->runtime[0] ? ", " : "", d->runtime);
  return 0;
}

static int show_row(void *ctx, const struct oc_lut_row *r) {
  struct show_ctx *s = ctx;
  if (s->json) {
    json_array_append_new(
        s->json, json_pack("{s:s, s:i, s:s, s:s, s:I, s:f, s:I, s:I, s:s}", "fingerprint",
                           r->fingerprint, "threads", (int)r->threads, "key", r->key, "source",
                           oc_lut_source_name(r->source), "samples", (json_int_t)r->samples,
                           "median_us", r->median_us, "weight_bytes", (json_int_t)r->weight_bytes,
                           "activation_bytes", (json_int_t)r->activation_bytes, "measured_at",
                           r->measured_at));
    return 0;
  }
  printf("%12.3f us  n=%-6lld %s %-2d %s%s\n", r->median_us, (long long)r->samples,
         r->fingerprint, (int)r->threads, r->key, r->source == oc_lut_imported ? "  (imported)" : "");
  return 0;
}

static int lut_show(struct args *a) {
  static const int allowed[] = {opt_rows, opt_device, opt_threads, opt_kind, opt_json};
  int rc = only(a, allowed, sizeof allowed / sizeof allowed[0]);
  if (rc) return rc;
  if (a->n_pos != 1) return usage("%s", "lut show takes one LUT file");
  struct oc_lut *lut = NULL;
  enum oc_status st = open_lut(a->pos[0], oc_lut_read_only, &lut);
  if (st != oc_status_ok) return fail("show", st);
  char full[17];
  if ((rc = resolve_device(lut, &a->device, full, "show")) != 0) {
    oc_lut_close(lut);
    return rc;
  }
  struct oc_lut_filter filter = {a->device, (int32_t)a->threads, a->kind};
  int64_t total = 0;
  struct show_ctx devices = {lut, a->json ? json_array() : NULL, oc_status_ok};
  struct show_ctx groups = {lut, a->json ? json_array() : NULL, oc_status_ok};
  struct show_ctx rows = {lut, a->json ? json_array() : NULL, oc_status_ok};
  st = oc_lut_count(lut, NULL, &total);
  if (!a->json && st == oc_status_ok) {
    printf("%s: opcost LUT, schema %d, %lld rows\ndevices:\n", a->pos[0], OC_LUT_SCHEMA_VERSION,
           (long long)total);
  }
  if (st == oc_status_ok) st = oc_lut_foreach_device(lut, show_device, &devices);
  if (!a->json && st == oc_status_ok) printf("rows by device, threads and granularity:\n");
  if (st == oc_status_ok) st = oc_lut_foreach_group(lut, show_group, &groups);
  if (st == oc_status_interrupted) st = groups.st;
  if (st == oc_status_ok && a->rows) {
    if (!a->json) printf("rows:\n");
    st = oc_lut_foreach(lut, &filter, show_row, &rows);
  }
  if (st == oc_status_ok && a->json) {
    json_t *o = json_pack("{s:s, s:i, s:I, s:o, s:o}", "lut", a->pos[0], "schema_version",
                          OC_LUT_SCHEMA_VERSION, "rows", (json_int_t)total, "devices",
                          devices.json, "groups", groups.json);
    if (a->rows) json_object_set(o, "row_list", rows.json);
    json_decref(rows.json);
    oc_lut_close(lut);
    return cli_print_json(o);
  }
  json_decref(devices.json);
  json_decref(groups.json);
  json_decref(rows.json);
  oc_lut_close(lut);
  return st == oc_status_ok ? 0 : fail("show", st);
}

/* ---- export ---- */

static int lut_export(struct args *a) {
  static const int allowed[] = {'o',       opt_format, opt_device, opt_threads,
                                opt_kind,  opt_family, opt_unit_us};
  int rc = only(a, allowed, sizeof allowed / sizeof allowed[0]);
  if (rc) return rc;
  if (a->n_pos != 1) return usage("%s", "lut export takes one LUT file");
  enum oc_lut_format format = oc_lut_format_csv;
  enum oc_status st = oc_status_ok;
  if (a->format) st = oc_lut_format_from_name(a->format, &format);
  else if (a->output) st = oc_lut_format_of_path(a->output, &format);
  if (st != oc_status_ok) return fail("export", st);
  bool yaml = format == oc_lut_format_yaml;
  if (!yaml && (a->family || a->unit_us > 0))
    return usage("%s", "--family and --unit-us belong to --format yaml");
  if (yaml && a->kind) return usage("%s", "--kind: a YAML table takes every kind it can hold");
  struct oc_lut *lut = NULL;
  st = open_lut(a->pos[0], oc_lut_read_only, &lut);
  if (st != oc_status_ok) return fail("export", st);
  char full[17];
  if (!yaml && (rc = resolve_device(lut, &a->device, full, "export")) != 0) {
    oc_lut_close(lut);
    return rc;
  }
  /* A file is written beside its final name and renamed when complete:
   * a failed export leaves no partial file behind. */
  FILE *out = stdout;
  char tmp[4200] = "";
  if (a->output) {
    int fd = -1;
    int n = snprintf(tmp, sizeof tmp, "%s.part-XXXXXX", a->output);
    if (n > 0 && (size_t)n < sizeof tmp) fd = mkstemp(tmp);
    if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
      fprintf(stderr, "opcost lut export: %s: cannot write: %s\n", a->output, strerror(errno));
      if (fd >= 0) {
        close(fd);
        remove(tmp);
      }
      oc_lut_close(lut);
      return oc_status_exit_code(oc_status_io_error);
    }
  }
  const char *name = a->output ? a->output : "(stdout)";
  struct oc_lut_yaml_report rep;
  if (yaml) {
    st = oc_lut_export_yaml(lut, a->device, (int32_t)a->threads, a->family, a->unit_us, out,
                            name, &rep);
  } else {
    struct oc_lut_filter filter = {a->device, (int32_t)a->threads, a->kind};
    st = oc_lut_export(lut, &filter, format, out, name);
  }
  if (out != stdout) {
    if (fclose(out) != 0 && st == oc_status_ok) {
      fprintf(stderr, "opcost lut export: %s: write failed: %s\n", a->output, strerror(errno));
      st = oc_status_io_error;
    }
    if (st == oc_status_ok && rename(tmp, a->output) != 0) {
      fprintf(stderr, "opcost lut export: %s: cannot write: %s\n", a->output, strerror(errno));
      st = oc_status_io_error;
    }
    if (st != oc_status_ok) remove(tmp);
  } else if (fflush(stdout) != 0 && st == oc_status_ok) {
    st = oc_status_io_error;
  }
  oc_lut_close(lut);
  if (st != oc_status_ok) return fail("export", st);
  if (yaml) {
    fprintf(stderr, "%lld rows of device %s (%d thread%s) as %s table", (long long)rep.written,
            rep.fingerprint, (int)rep.threads, rep.threads == 1 ? "" : "s",
            strcmp(rep.family, "mbv3") == 0 ? "an OFA MobileNetV3" : "a ProxylessNAS");
    if (rep.skipped > 0)
      fprintf(stderr, "; %lld rows have no key in such a table (first: %s)",
              (long long)rep.skipped, rep.first_skipped);
    fputs("\n", stderr);
  }
  return 0;
}

/* ---- import ---- */

static void remove_store(const char *path) {
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    char name[4096];
    if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffixes[i]) < sizeof name) unlink(name);
  }
}

static int lut_import(struct args *a) {
  static const int allowed[] = {opt_format, opt_on_duplicate, opt_device_name, opt_fingerprint,
                                't', opt_threads, opt_unit_us, opt_family, opt_json};
  int rc = only(a, allowed, sizeof allowed / sizeof allowed[0]);
  if (rc) return rc;
  if (a->n_pos < 2) return usage("%s", "lut import needs LUT.db and at least one FILE");
  struct oc_lut_import_opts opts = {.format = oc_lut_format_auto,
                                    .device_name = a->device_name,
                                    .fingerprint = a->fingerprint,
                                    .target = a->target,
                                    .threads = (int32_t)a->threads,
                                    .yaml_unit_us = a->unit_us,
                                    .yaml_family = a->family};
  enum oc_status st = parse_policy(a, &opts.policy);
  if (st == oc_status_ok && a->format) st = oc_lut_format_from_name(a->format, &opts.format);
  if (st != oc_status_ok) return fail("import", st);
  if (a->family && strcmp(a->family, "proxyless") != 0 && strcmp(a->family, "mbv3") != 0)
    return usage("--family: value '%s' must be proxyless or mbv3", a->family);
  struct stat sb;
  bool existed = stat(a->pos[0], &sb) == 0;
  struct oc_lut *lut = NULL;
  st = open_lut(a->pos[0], existed ? oc_lut_read_write : oc_lut_create, &lut);
  if (st != oc_status_ok) return fail("import", st);
  json_t *list = a->json ? json_array() : NULL;
  int64_t written = 0;
  for (int i = 1; i < a->n_pos && st == oc_status_ok; i++) {
    struct oc_lut_import_report r;
    st = oc_lut_import(lut, a->pos[i], &opts, &r);
    if (st != oc_status_ok) break;
    written += r.inserted + r.replaced;
    if (a->json) {
      json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "file",
                                            a->pos[i], "read", (json_int_t)r.read, "inserted",
                                            (json_int_t)r.inserted, "replaced",
                                            (json_int_t)r.replaced, "kept", (json_int_t)r.kept,
                                            "skipped", (json_int_t)r.skipped, "first_skipped",
                                            r.first_skipped));
    } else {
      printf("%s: %lld rows read: %lld new, %lld replaced, %lld kept (policy %s)\n", a->pos[i],
             (long long)r.read, (long long)r.inserted, (long long)r.replaced, (long long)r.kept,
             oc_lut_policy_name(opts.policy));
    }
    if (r.skipped)
      fprintf(stderr,
              "opcost lut import: %s: %lld entr%s without an opcost equivalent skipped, first "
              "%s\n",
              a->pos[i], (long long)r.skipped, r.skipped == 1 ? "y" : "ies", r.first_skipped);
  }
  oc_lut_close(lut);
  if (st != oc_status_ok) {
    json_decref(list);
    rc = fail("import", st);
    /* A store this failed import created holds nothing: leave no file. */
    if (!existed && written == 0) remove_store(a->pos[0]);
    return rc;
  }
  if (a->json) return cli_print_json(json_pack("{s:s, s:o}", "lut", a->pos[0], "files", list));
  return 0;
}

/* ---- merge ---- */

static void print_flag(void *ctx, const struct oc_lut_row *stored, const struct oc_lut_row *in,
                       bool incoming_won) {
  const char *from = ctx;
  fprintf(stderr,
          "opcost lut merge: flagged: %s (device %s, threads %d): %.3f us (n=%lld, %s) vs "
          "%.3f us (n=%lld, %s, from %s); kept the %s\n",
          stored->key, stored->fingerprint, (int)stored->threads, stored->median_us,
          (long long)stored->samples, stored->measured_at, in->median_us, (long long)in->samples,
          in->measured_at, from, incoming_won ? "latter" : "former");
}

static int lut_merge(struct args *a) {
  static const int allowed[] = {'o', opt_on_duplicate, opt_flag_ratio, opt_json};
  int rc = only(a, allowed, sizeof allowed / sizeof allowed[0]);
  if (rc) return rc;
  if (a->n_pos < (a->output ? 1 : 2))
    return usage("%s", "lut merge needs A.db B.db (into A) or -o OUT.db A.db...");
  enum oc_lut_policy policy;
  enum oc_status st = parse_policy(a, &policy);
  if (st != oc_status_ok) return fail("merge", st);
  double flag = a->given[opt_flag_ratio] ? a->flag_ratio : 1.1;
  const char *dst_path = a->output ? a->output : a->pos[0];
  int first = a->output ? 0 : 1;
  struct oc_lut *dst = NULL;
  st = open_lut(dst_path, a->output ? oc_lut_create : oc_lut_read_write, &dst);
  if (st != oc_status_ok) return fail("merge", st);
  json_t *list = a->json ? json_array() : NULL;
  for (int i = first; i < a->n_pos && st == oc_status_ok; i++) {
    struct oc_lut_merge_report r;
    st = oc_lut_merge(dst, a->pos[i], policy, flag, print_flag, a->pos[i], &r);
    if (st != oc_status_ok) break;
    if (a->json)
      json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "from",
                                            a->pos[i], "devices", (json_int_t)r.devices, "read",
                                            (json_int_t)r.read, "inserted", (json_int_t)r.inserted,
                                            "replaced", (json_int_t)r.replaced, "kept",
                                            (json_int_t)r.kept, "flagged", (json_int_t)r.flagged));
    else
      printf("%s -> %s: %lld rows: %lld new, %lld replaced, %lld kept, %lld flagged "
             "(policy %s)\n",
             a->pos[i], dst_path, (long long)r.read, (long long)r.inserted,
             (long long)r.replaced, (long long)r.kept, (long long)r.flagged,
             oc_lut_policy_name(policy));
  }
  oc_lut_close(dst);
  if (st != oc_status_ok) {
    json_decref(list);
    return fail("merge", st);
  }
  if (a->json) return cli_print_json(json_pack("{s:s, s:o}", "lut", dst_path, "merged", list));
  return 0;
}

/* ---- diff ---- */

static int lut_diff(struct args *a) {
  static const int allowed[] = {opt_device_a, opt_device_b, opt_threads_a, opt_threads_b,
                                opt_top, opt_json};
  int rc = only(a, allowed, sizeof allowed / sizeof allowed[0]);
  if (rc) return rc;
  if (a->n_pos < 1 || a->n_pos > 2) return usage("%s", "lut diff takes A.db [B.db]");
  struct oc_lut *la = NULL, *lb = NULL;
  struct oc_lut_diff d = {0};
  char fa[17], fb[17];
  int32_t ta = 0, tb = 0;
  json_t *out = NULL;
  if (a->n_pos == 1 && (!a->device_a || !a->device_b))
    return usage("%s", "with one LUT, give --device-a and --device-b");
  enum oc_status st = open_lut(a->pos[0], oc_lut_read_only, &la);
  if (st == oc_status_ok && a->n_pos == 2) st = open_lut(a->pos[1], oc_lut_read_only, &lb);
  struct oc_lut *b = lb ? lb : la;
  if (st == oc_status_ok)
    st = oc_lut_resolve(la, a->device_a, (int32_t)a->threads_a, fa, &ta);
  if (st == oc_status_ok)
    st = oc_lut_resolve(b, a->device_b, (int32_t)a->threads_b, fb, &tb);
  if (st == oc_status_ok) st = oc_lut_diff(la, fa, ta, b, fb, tb, &d);
  if (st != oc_status_ok) {
    rc = fail("diff", st);
    goto done;
  }
  size_t top = a->given[opt_top] ? (size_t)a->top : 10;
  if (top > d.n_items) top = d.n_items;
  if (a->json) {
    json_t *items = json_array(), *oa = json_array(), *ob = json_array();
    for (size_t i = 0; i < d.n_items; i++)
      json_array_append_new(items, json_pack("{s:s, s:f, s:f, s:f}", "key", d.items[i].key,
                                             "a_us", d.items[i].a_us, "b_us", d.items[i].b_us,
                                             "ratio", isfinite(d.items[i].ratio) ? d.items[i].ratio : -1.0));
    for (int64_t i = 0; i < d.only_a; i++) json_array_append_new(oa, json_string(d.only_a_keys[i]));
    for (int64_t i = 0; i < d.only_b; i++) json_array_append_new(ob, json_string(d.only_b_keys[i]));
    out = json_pack("{s:{s:s, s:s, s:i}, s:{s:s, s:s, s:i}, s:I, s:I, s:I, s:f, s:f, s:f, "
                    "s:o, s:o, s:o}",
                    "a", "lut", a->pos[0], "fingerprint", fa, "threads", (int)ta, "b", "lut",
                    a->pos[a->n_pos - 1], "fingerprint", fb, "threads", (int)tb, "common",
                    (json_int_t)d.common, "only_a", (json_int_t)d.only_a, "only_b",
                    (json_int_t)d.only_b, "geomean_ratio", d.geomean_ratio, "min_ratio",
                    d.min_ratio, "max_ratio", d.max_ratio, "items", items, "only_a_keys", oa,
                    "only_b_keys", ob);
    rc = cli_print_json(out);
    goto done;
  }
  printf("A: %s device %s threads %d\nB: %s device %s threads %d\n", a->pos[0], fa, (int)ta,
         a->pos[a->n_pos - 1], fb, (int)tb);
  printf("%lld keys in both, %lld only in A, %lld only in B\n", (long long)d.common,
         (long long)d.only_a, (long long)d.only_b);
  if (d.common > 0)
    printf("B/A: geometric mean %.4f, range %.4f .. %.4f\n", d.geomean_ratio, d.min_ratio,
           d.max_ratio);
  if (top > 0) printf("largest changes (B/A):\n");
  for (size_t i = 0; i < top; i++)
    printf("  %8.3fx  %12.3f -> %12.3f us  %s\n", d.items[i].ratio, d.items[i].a_us,
           d.items[i].b_us, d.items[i].key);
  for (int64_t i = 0; i < d.only_a && i < (int64_t)(a->given[opt_top] ? a->top : 10); i++)
    printf("  only in A: %s\n", d.only_a_keys[i]);
  for (int64_t i = 0; i < d.only_b && i < (int64_t)(a->given[opt_top] ? a->top : 10); i++)
    printf("  only in B: %s\n", d.only_b_keys[i]);
  rc = 0;
done:
  oc_lut_diff_clear(&d);
  oc_lut_close(lb);
  oc_lut_close(la);
  return rc;
}

/* ---- overhead ---- */

static int lut_overhead(struct args *a) {
  static const int allowed[] = {opt_device, opt_threads, opt_set, opt_json};
  int rc = only(a, allowed, sizeof allowed / sizeof allowed[0]);
  if (rc) return rc;
  if (a->n_pos != 1) return usage("%s", "lut overhead takes one LUT file");
  double value = 0;
  if (a->set && !cli_parse_double("lut", "--set", a->set, -1e12, 1e12, &value)) return 2;
  struct oc_lut *lut = NULL;
  char fp[17];
  int32_t threads = 0;
  enum oc_status st = open_lut(a->pos[0], a->set ? oc_lut_read_write : oc_lut_read_only, &lut);
  if (st == oc_status_ok) st = oc_lut_resolve(lut, a->device, (int32_t)a->threads, fp, &threads);
  if (st == oc_status_ok && a->set) st = oc_lut_set_overhead(lut, fp, threads, value);
  if (st == oc_status_ok) st = oc_lut_get_overhead(lut, fp, threads, &value);
  oc_lut_close(lut);
  if (st != oc_status_ok) return fail("overhead", st);
  if (a->json)
    return cli_print_json(json_pack("{s:s, s:i, s:f}", "fingerprint", fp, "threads", (int)threads,
                                    "overhead_us", value));
  printf("%s threads %d: overhead %.6g us per network\n", fp, (int)threads, value);
  return 0;
}

int cli_cmd_lut(int argc, char **argv) {
  if (argc < 2) return usage("%s", "expected a subcommand: build, show, export, import, merge, diff, overhead");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(help, stdout);
    return 0;
  }
  struct args a;
  memset(&a, 0, sizeof a);
  a.sub = argv[1];
  int rc = parse_args(argc - 1, argv + 1, &a);
  if (rc == 0) {
    if (strcmp(a.sub, "build") == 0) rc = lut_build(&a);
    else if (strcmp(a.sub, "show") == 0) rc = lut_show(&a);
    else if (strcmp(a.sub, "export") == 0) rc = lut_export(&a);
    else if (strcmp(a.sub, "import") == 0) rc = lut_import(&a);
    else if (strcmp(a.sub, "merge") == 0) rc = lut_merge(&a);
    else if (strcmp(a.sub, "diff") == 0) rc = lut_diff(&a);
    else if (strcmp(a.sub, "overhead") == 0) rc = lut_overhead(&a);
    else
      rc = cli_usage_error("lut", "unknown subcommand '%s' (expected build, show, export, import, "
                                  "merge, diff or overhead)",
                           a.sub);
  } else if (rc < 0) {
    rc = 0; /* --help */
  }
  free(a.keys);
  free(a.pos);
  return rc;
}
