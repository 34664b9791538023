/* cmd_probe.c - `opcost probe`: measuring from the command line.
 *   opcost probe op KEY -t TARGET [options]   time one op with the harness
 *   opcost probe device -t TARGET [options]   characterize the device
 * The library (probes/) does the work; this file parses, prints and saves. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *const help =
    "usage: opcost probe op KEY -t TARGET [options]\n"
    "       opcost probe device -t TARGET [--quick] [--output FILE] [--json]\n"
    "\n"
    "op      times one op (a canonical key, quoted) with the measurement harness:\n"
    "        prepare untimed, first (cold) run kept apart, warm-up, batches sized\n"
    "        from the timer's resolution, samples until the 95 % confidence\n"
    "        interval of the median is within --target-ci or --max-time, never\n"
    "        fewer than 5; disturbed samples (context switch, migration) are\n"
    "        re-taken. Prints median, p10/p90, min, MAD, CV, n, the cold run,\n"
    "        the clock, the harness floor, the environment and any warnings.\n"
    "device  measures peak FP32 FLOP/s (one core, all cores), read/copy bandwidth\n"
    "        over working sets from L1 to DRAM, load-to-use latency per cache\n"
    "        level, the timer, and the roofline they imply (cpu and ref targets).\n"
    "\n"
    "  -t, --target SPEC   target to run on (see 'opcost devices')\n"
    "  --threads N         threads the target uses (N >= 1; default 1)\n"
    "  --cores LIST        pin to these cores, e.g. 0,2-3\n"
    "  --warm, --cold      cache state: warm (default) or cold weights (kernels with\n"
    "                      their own buffers rotated, together 2 x the last-level cache)\n"
    "  --samples N         take at least N samples (N >= 5; default 5)\n"
    "  --min-time S        sample for at least S seconds (default 0.02)\n"
    "  --max-time S        stop sampling after S seconds, converged or not (default 1)\n"
    "  --target-ci F       stop when the median's interval is within +-F (default 0.01)\n"
    "  --batch N           runs per sample (default: automatic)\n"
    "  --clock NAME        host clock: auto (default), monotonic_raw, tsc\n"
    "  --cooldown S        sleep S seconds before measuring (let the core cool down)\n"
    "  --raw               include every sample in the output\n"
    "  --counters          counters are required: fail when PAPI cannot count\n"
    "  --quick             device: a short characterization (about 5 s)\n"
    "  -o, --output FILE   device: save the profile (opcost-device-profile/1 JSON)\n"
    "  --json              machine-readable output\n"
    "  -h, --help          this text\n";

/* A bad option value, reported on one line with the invalid_argument code. */
static int bad_value(const char *option, const char *text, const char *rule) {
  fprintf(stderr, "opcost probe: %s: value '%s' %s\n", option, text, rule);
  return oc_status_exit_code(oc_status_invalid_argument);
}

static bool parse_long(const char *text, long min, long *out) {
  char *end = NULL;
  long v = strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < min || v > 1000000000L) return false;
  *out = v;
  return true;
}

static bool parse_real(const char *text, double min, double max, double *out) {
  char *end = NULL;
  double v = strtod(text, &end);
  if (end == text || *end != '\0' || !isfinite(v) || v < min || v > max) return false;
  *out = v;
  return true;
}

static void print_us(const char *label, double us) {
  if (isnan(us))
    printf("  %-10s unknown\n", label);
  else if (us >= 1e4)
    printf("  %-10s %.3f ms\n", label, us / 1e3);
  else
    printf("  %-10s %.3f us\n", label, us);
}

static const char *or_unknown(const char *s) { return s[0] ? s : "unknown"; }

static void print_env(const struct oc_env *e) {
  printf("  %-10s %s; %s\n", "machine", or_unknown(e->cpu_model), or_unknown(e->kernel));
  printf("  %-10s %s; opcost %s\n", "runtime", or_unknown(e->runtime), e->opcost_version);
  printf("  %-10s %d thread%s; pinned %s; affinity %s; %d cores online\n", "cores", e->threads,
         e->threads == 1 ? "" : "s", e->pinned[0] ? e->pinned : "no", or_unknown(e->affinity),
         e->cores_online);
  printf("  %-10s governor %s; ", "cpu", or_unknown(e->governor));
  if (isnan(e->freq_mhz_before))
    printf("frequency unknown");
  else
    printf("%.0f -> %.0f MHz (%s)", e->freq_mhz_before, e->freq_mhz_after, e->freq_source);
  if (isnan(e->temp_c_before))
    printf("; temperature unknown\n");
  else
    printf("; %.1f -> %.1f C (%s)\n", e->temp_c_before, e->temp_c_after, e->temp_source);
  printf("  %-10s load %.2f %.2f %.2f", "load", e->load1, e->load5, e->load15);
  if (!isnan(e->steal_pct)) printf("; steal %.2f %%", e->steal_pct);
  printf("; at %s\n", or_unknown(e->measured_at));
}

static void print_measurement(const struct oc_measurement *m, const char *target,
                              const struct oc_op_cost *cost) {
  const struct oc_stats *s = &m->stats;
  printf("%s on %s\n", m->key, target);
  print_us("median", s->median_us);
  printf("  %-10s %.3f .. %.3f us (%.0f %% confidence, +-%.2f %%)\n", "interval", s->ci_low_us,
         s->ci_high_us, 100 * s->confidence, 100 * s->ci_rel);
  printf("  %-10s %.3f / %.3f us\n", "p10/p90", s->p10_us, s->p90_us);
  print_us("min", s->min_us);
  printf("  %-10s %.3f us\n", "MAD", s->mad_us);
  printf("  %-10s %.2f %%\n", "CV", 100 * s->cv);
  printf("  %-10s %lld samples x %d run%s (%s); %lld disturbed and re-taken; %.2f s\n", "n",
         (long long)s->n, m->batch, m->batch == 1 ? "" : "s", oc_stop_reason_name(m->stop),
         (long long)m->rejected, m->duration_s);
  print_us("cold run", m->cold_us);
  if (cost && cost->flops > 0 && s->median_us > 0)
    printf("  %-10s %.2f GFLOP/s (%lld FLOPs)\n", "throughput",
           (double)cost->flops / s->median_us * 1e-3, (long long)cost->flops);
  printf("  %-10s %s", "cache", m->cache == oc_cache_cold ? "cold" : "warm");
  if (m->cache == oc_cache_cold) {
    printf(": %d sets of %lld bytes", m->sets, (long long)m->set_bytes);
    if (m->eviction_bytes > 0)
      printf(", %lld-byte eviction buffer read before each sample", (long long)m->eviction_bytes);
  }
  printf("\n");
  if (m->device_timer) {
    printf("  %-10s %s\n", "timer", m->timer.name);
  } else {
    printf("  %-10s %s; resolution %.1f ns, read %.1f ns\n", "timer", m->timer.name,
           m->timer.resolution_ns, m->timer.overhead_ns);
    printf("  %-10s %.1f ns per sample subtracted (empty loop of %d run%s)\n", "floor", m->floor_ns,
           m->batch, m->batch == 1 ? "" : "s");
  }
  const struct oc_counters *c = &m->counters;
  printf("  %-10s %s:", "counters", c->source);
  if (c->hardware)
    printf(" %.0f cycles, %.0f instructions (IPC %.2f), %.0f cache misses per run;",
           c->cycles_per_run, c->instructions_per_run, c->ipc, c->cache_misses_per_run);
  if (c->context_switches >= 0) printf(" %lld context switches,", (long long)c->context_switches);
  if (c->migrations >= 0) printf(" %lld migrations,", (long long)c->migrations);
  printf(" %lld involuntary switches, %lld page faults\n", (long long)c->involuntary_switches,
         (long long)c->page_faults);
  print_env(&m->env);
  for (int i = 0; i < m->n_notes; i++) printf("  note: %s\n", m->notes[i]);
  for (int i = 0; i < m->n_warnings; i++) printf("  warning: %s\n", m->warnings[i]);
  if (m->raw_us) {
    printf("  raw (us):");
    for (size_t i = 0; i < m->n_raw; i++) printf("%s%.3f", i % 8 ? " " : "\n    ", m->raw_us[i]);
    printf("\n");
  }
}

static void print_bytes(int64_t bytes) {
  if (bytes >= (int64_t)1 << 20)
    printf("%7.1f MiB", (double)bytes / (1 << 20));
  else
    printf("%7.1f KiB", (double)bytes / 1024);
}

static void print_profile(const struct oc_device_profile *p) {
  printf("%s on %s (fingerprint %s)\n", or_unknown(p->device.name), p->device.target,
         p->device.fingerprint);
  printf("  %-10s %s; resolution %.1f ns, read %.1f ns\n", "timer", p->timer.name,
         p->timer.resolution_ns, p->timer.overhead_ns);
  if (p->launch_us > 0) {
    /* A GPU profile: the device as a whole, device memory, launch cost. */
    printf("  %-10s %.1f GFLOP/s (%s FMA chains)\n", "peak", p->peak_gflops_all_cores,
           p->kernel_isa);
    printf("  %-10s %.1f GB/s device memory (buffer copy, read + write bytes)\n", "bandwidth",
           p->dram_read_gbs_all_cores);
    printf("  %-10s %.2f us per kernel, host enqueue to completion; empty kernel %.2f us on the "
           "device timer\n",
           "launch", p->launch_us, p->empty_kernel_us);
    printf("  %-10s ridge %.2f FLOP/B\n", "roofline", p->ridge_all_cores);
    print_env(&p->env);
    printf("  %-10s %.1f s%s\n", "took", p->duration_s, p->quick ? " (quick)" : "");
    return;
  }
  printf("  %-10s %.1f GFLOP/s one core, %.1f GFLOP/s on %d core%s (%s FMA chains)\n", "peak",
         p->peak_gflops_one_core, p->peak_gflops_all_cores, p->cores_used,
         p->cores_used == 1 ? "" : "s", p->kernel_isa);
  printf("  bandwidth, one core:\n    working set    read GB/s   copy GB/s\n");
  for (int i = 0; i < p->n_points; i++) {
    printf("    ");
    print_bytes(p->points[i].bytes);
    printf("   %9.1f   %9.1f\n", p->points[i].read_gbs, p->points[i].copy_gbs);
  }
  printf("  levels:\n    level  working set    read GB/s   copy GB/s  latency ns  ridge FLOP/B\n");
  for (int i = 0; i < p->n_levels; i++) {
    const struct oc_memory_level *l = &p->levels[i];
    printf("    %-5s ", l->name);
    print_bytes(l->working_set);
    printf("   %9.1f   %9.1f  %10.2f  %12.2f\n", l->read_gbs, l->copy_gbs, l->latency_ns,
           l->ridge_flops_per_byte);
  }
  printf("  %-10s DRAM read on %d core%s %.1f GB/s; ridge %.2f FLOP/B at %.1f GFLOP/s\n",
         "roofline", p->cores_used, p->cores_used == 1 ? "" : "s", p->dram_read_gbs_all_cores,
         p->ridge_all_cores, p->peak_gflops_all_cores);
  print_env(&p->env);
  printf("  %-10s %.1f s%s\n", "took", p->duration_s, p->quick ? " (quick)" : "");
}

struct progress_ctx {
  struct cli_progress bar;
  bool started;
};

static void device_progress(void *ctx, int done, int total, const char *what) {
  struct progress_ctx *p = ctx;
  if (!p->started) {
    cli_progress_start(&p->bar, "probe device", total, false);
    p->started = true;
  }
  cli_progress_step(&p->bar, done, what);
}

int cli_cmd_probe(int argc, char **argv) {
  enum {
    opt_threads = 256,
    opt_cores,
    opt_warm,
    opt_cold,
    opt_samples,
    opt_min_time,
    opt_max_time,
    opt_target_ci,
    opt_batch,
    opt_clock,
    opt_cooldown,
    opt_raw,
    opt_counters,
    opt_quick,
    opt_json
  };
  static const struct option longopts[] = {{"target", required_argument, NULL, 't'},
                                           {"threads", required_argument, NULL, opt_threads},
                                           {"cores", required_argument, NULL, opt_cores},
                                           {"warm", no_argument, NULL, opt_warm},
                                           {"cold", no_argument, NULL, opt_cold},
                                           {"samples", required_argument, NULL, opt_samples},
                                           {"min-time", required_argument, NULL, opt_min_time},
                                           {"max-time", required_argument, NULL, opt_max_time},
                                           {"target-ci", required_argument, NULL, opt_target_ci},
                                           {"batch", required_argument, NULL, opt_batch},
                                           {"clock", required_argument, NULL, opt_clock},
                                           {"cooldown", required_argument, NULL, opt_cooldown},
                                           {"raw", no_argument, NULL, opt_raw},
                                           {"counters", no_argument, NULL, opt_counters},
                                           {"quick", no_argument, NULL, opt_quick},
                                           {"output", required_argument, NULL, 'o'},
                                           {"json", no_argument, NULL, opt_json},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *target_spec = NULL, *output = NULL, *cores = NULL;
  bool json = false, quick = false;
  long threads = 1;
  struct oc_measure_opts mo;
  oc_measure_opts_default(&mo);
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "t:o:h", longopts, NULL)) != -1) {
    long v;
    switch (c) {
    case 't': target_spec = optarg; break;
    case 'o': output = optarg; break;
    case opt_threads:
      if (!parse_long(optarg, 1, &threads))
        return bad_value("--threads", optarg, "must be a whole number >= 1");
      break;
    case opt_cores: cores = optarg; break;
    case opt_warm: mo.cache = oc_cache_warm; break;
    case opt_cold: mo.cache = oc_cache_cold; break;
    case opt_samples:
      if (!parse_long(optarg, OC_PROBE_MIN_SAMPLES, &v))
        return bad_value("--samples", optarg, "must be a whole number >= 5");
      mo.min_samples = (int)v;
      if (mo.max_samples < mo.min_samples) mo.max_samples = mo.min_samples;
      break;
    case opt_min_time:
      if (!parse_real(optarg, 0, 3600, &mo.min_time_s))
        return bad_value("--min-time", optarg, "must be seconds from 0 to 3600");
      if (mo.max_time_s < mo.min_time_s) mo.max_time_s = mo.min_time_s;
      break;
    case opt_max_time:
      if (!parse_real(optarg, 1e-6, 86400, &mo.max_time_s))
        return bad_value("--max-time", optarg, "must be seconds from 1e-6 to 86400");
      break;
    case opt_target_ci:
      if (!parse_real(optarg, 1e-6, 0.999, &mo.target_ci))
        return bad_value("--target-ci", optarg, "must be a fraction in (0, 1), e.g. 0.01");
      break;
    case opt_batch:
      if (!parse_long(optarg, 1, &v) || v > 1048576)
        return bad_value("--batch", optarg, "must be a whole number from 1 to 1048576");
      mo.batch = (int)v;
      break;
    case opt_clock: {
      enum oc_clock clock;
      if (oc_clock_from_name(optarg, &clock) != oc_status_ok || clock == oc_clock_device)
        return bad_value("--clock", optarg, "must be auto, monotonic_raw or tsc");
      mo.clock = clock;
      break;
    }
    case opt_cooldown:
      if (!parse_real(optarg, 0, 3600, &mo.cooldown_s))
        return bad_value("--cooldown", optarg, "must be seconds from 0 to 3600");
      break;
    case opt_raw: mo.raw = true; break;
    case opt_counters: mo.counters = true; break;
    case opt_quick: quick = true; break;
    case opt_json: json = true; break;
    case 'h': fputs(help, stdout); return 0;
    default: return cli_usage_error("probe", "unknown option");
    }
  }
  if (optind >= argc) return cli_usage_error("probe", "expected 'op KEY' or 'device'");
  const char *sub = argv[optind++];
  bool is_op = strcmp(sub, "op") == 0, is_device = strcmp(sub, "device") == 0;
  if (!is_op && !is_device)
    return cli_usage_error("probe", "unknown subcommand '%s' (expected op or device)", sub);
  const char *key = NULL;
  if (is_op) {
    if (optind >= argc) return cli_usage_error("probe", "'probe op' needs a KEY");
    key = argv[optind++];
  }
  if (optind < argc) return cli_usage_error("probe", "unexpected argument '%s'", argv[optind]);
  if (target_spec == NULL) return cli_usage_error("probe", "-t TARGET is required");
  if (mo.max_time_s < mo.min_time_s)
    return bad_value("--max-time", "", "must not be below --min-time");

  struct oc_target_opts topts;
  memset(&topts, 0, sizeof topts);
  topts.threads = (int)threads;
  enum oc_status st;
  if (cores != NULL) {
    st = oc_target_parse_cores(cores, &topts);
    if (st != oc_status_ok) return cli_fail("probe", st);
  }
  struct oc_op op;
  if (is_op) {
    st = oc_op_parse(key, &op);
    if (st != oc_status_ok) return cli_fail("probe", st);
  }
  struct oc_target *target = NULL;
  st = oc_target_open(target_spec, &topts, &target);
  if (st != oc_status_ok) return cli_fail("probe", st);

  int rc = 0;
  if (is_op) {
    struct oc_measurement m;
    st = oc_probe_op(target, &op, &mo, &m);
    if (st != oc_status_ok) {
      rc = cli_fail("probe", st);
      goto done;
    }
    struct oc_op_cost cost;
    bool have_cost = oc_op_cost(&op, &cost) == oc_status_ok;
    if (json) {
      json_t *j = oc_measurement_to_json(&m);
      if (j != NULL) {
        json_object_set_new(j, "target", json_string(oc_target_name(target)));
        if (have_cost) {
          json_object_set_new(j, "flops", json_integer((json_int_t)cost.flops));
          if (m.stats.median_us > 0)
            json_object_set_new(j, "gflops",
                                json_real((double)cost.flops / m.stats.median_us * 1e-3));
        }
      }
      rc = cli_print_json(j);
    } else {
      print_measurement(&m, oc_target_name(target), have_cost ? &cost : NULL);
    }
    oc_measurement_release(&m);
  } else {
    struct oc_device_profile *profile = malloc(sizeof *profile);
    struct progress_ctx progress;
    memset(&progress, 0, sizeof progress);
    struct oc_device_opts dopts = {quick, device_progress, &progress};
    if (profile == NULL) {
      rc = cli_fail("probe", oc_status_out_of_memory);
      goto done;
    }
    st = oc_probe_device(target, &dopts, profile);
    if (progress.started) cli_progress_end(&progress.bar);
    if (st == oc_status_ok && output != NULL) st = oc_probe_profile_save(profile, output);
    if (st != oc_status_ok) {
      rc = cli_fail("probe", st);
    } else if (json) {
      rc = cli_print_json(oc_device_profile_to_json(profile));
    } else {
      print_profile(profile);
      if (output) printf("  %-10s %s\n", "saved", output);
    }
    free(profile);
  }
done:
  oc_target_close(target);
  return rc;
}
