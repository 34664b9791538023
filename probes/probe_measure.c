/* probe_measure.c - measuring an op or prepared kernels on a target: the
 * adaptive repetition loop, the host-clock and device-timer sample sources,
 * cold and warm cache sets, warm-up, batching, the harness floor, and the
 * warnings that say when a result is noisy.
 *
 * What the code does and why is in docs/methodology.md; in short:
 *   - prepare is never timed; the first run after it is kept apart (cold_us);
 *   - warm-up lasts a number of runs and a time, whichever is longer;
 *   - a sample is a batch of runs long enough (20 x the timer's resolution)
 *     that the clock's granularity is under about 5 % of it, divided by the
 *     batch size after the floor (the same loop with an empty body) is
 *     subtracted;
 *   - samples are taken until the median's confidence interval is within
 *     the target, or a time cap, never fewer than 5;
 *   - a sample during which the process was preempted or the thread
 *     migrated is discarded and re-taken. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "probes/probe_internal.h"

/* Most kernels a cold measurement rotates over; beyond this an eviction
 * buffer keeps the caches cold instead (preparing more kernels would cost
 * more time and memory than it is worth). */
#define OC__MAX_SETS 256
/* Largest batch: bounds a sample of a near-empty op. */
#define OC__MAX_BATCH (1 << 20)
/* Samples of the empty loop the floor is the median of. */
#define OC__FLOOR_SAMPLES 31
/* LLC size assumed when the device does not report one. */
#define OC__DEFAULT_LLC (32 << 20)

void oc_measure_opts_default(struct oc_measure_opts *o) {
  memset(o, 0, sizeof *o);
  o->min_samples = OC_PROBE_MIN_SAMPLES;
  o->max_samples = 100000;
  o->warmup_runs = 3;
  o->warmup_s = 0.02;
  o->min_time_s = 0.02;
  o->max_time_s = 1.0;
  o->target_ci = 0.01;
  o->confidence = 0.95;
  o->cache = oc_cache_warm;
  o->cold_bytes = 0;
  o->batch = 0;
  o->resolution_factor = 20.0;
  o->clock = oc_clock_auto;
  o->device_timer = true;
  o->raw = false;
  o->counters = false;
  o->reject_disturbed = true;
  o->max_rejected = 1000;
  o->warn_cv = 0.05;
  o->warn_freq_change = 0.05;
  o->cooldown_s = 0.0;
  o->seed = 1;
}

enum oc_status oc_measure_opts_check(const struct oc_measure_opts *o) {
#define BAD(field, fmt, value, rule)                                                               \
  return oc__fail(oc_status_invalid_argument, "measure option %s: value '" fmt "' %s", field,      \
                  value, rule)
  if (o->min_samples < OC_PROBE_MIN_SAMPLES)
    BAD("min_samples", "%d", o->min_samples, "must be >= 5");
  if (o->max_samples < o->min_samples)
    BAD("max_samples", "%d", o->max_samples, "must be >= min_samples");
  if (o->warmup_runs < 0) BAD("warmup_runs", "%d", o->warmup_runs, "must be >= 0");
  if (!(o->warmup_s >= 0 && o->warmup_s <= 3600))
    BAD("warmup_s", "%g", o->warmup_s, "must be in [0, 3600]");
  if (!(o->min_time_s >= 0 && o->min_time_s <= 3600))
    BAD("min_time_s", "%g", o->min_time_s, "must be in [0, 3600]");
  if (!(o->max_time_s > 0 && o->max_time_s <= 86400 && o->max_time_s >= o->min_time_s))
    BAD("max_time_s", "%g", o->max_time_s, "must be > 0 and >= min_time_s");
  if (!(o->target_ci > 0 && o->target_ci < 1))
    BAD("target_ci", "%g", o->target_ci, "must be in (0, 1)");
  if (!(o->confidence > 0 && o->confidence < 1))
    BAD("confidence", "%g", o->confidence, "must be in (0, 1)");
  if (o->cache != oc_cache_warm && o->cache != oc_cache_cold)
    BAD("cache", "%d", (int)o->cache, "must be warm or cold");
  if (o->cold_bytes < 0) BAD("cold_bytes", "%lld", (long long)o->cold_bytes, "must be >= 0");
  if (o->batch < 0 || o->batch > OC__MAX_BATCH)
    BAD("batch", "%d", o->batch, "must be in [0, 1048576]");
  if (!(o->resolution_factor >= 1 && o->resolution_factor <= 1e6))
    BAD("resolution_factor", "%g", o->resolution_factor, "must be in [1, 1e6]");
  if (o->clock != oc_clock_auto && o->clock != oc_clock_monotonic_raw && o->clock != oc_clock_tsc)
    BAD("clock", "%s", oc_clock_name(o->clock), "must be a host clock (auto, monotonic_raw, tsc)");
  if (o->max_rejected < 0) BAD("max_rejected", "%d", o->max_rejected, "must be >= 0");
  if (!(o->warn_cv > 0)) BAD("warn_cv", "%g", o->warn_cv, "must be > 0");
  if (!(o->warn_freq_change > 0)) BAD("warn_freq_change", "%g", o->warn_freq_change, "must be > 0");
  if (!(o->cooldown_s >= 0 && o->cooldown_s <= 3600))
    BAD("cooldown_s", "%g", o->cooldown_s, "must be in [0, 3600]");
#undef BAD
  return oc_status_ok;
}

const char *oc_stop_reason_name(enum oc_stop_reason reason) {
  switch (reason) {
  case oc_stop_converged: return "converged";
  case oc_stop_time_cap: return "time_cap";
  case oc_stop_sample_cap: return "sample_cap";
  }
  return "unknown";
}

static void add_text(int *count, char list[][OC_PROBE_NOTE_MAX], const char *fmt, va_list ap) {
  if (*count >= OC_PROBE_MAX_NOTES) return;
  vsnprintf(list[*count], OC_PROBE_NOTE_MAX, fmt, ap);
  (*count)++;
}

void oc__note(struct oc_measurement *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add_text(&m->n_notes, m->notes, fmt, ap);
  va_end(ap);
}

void oc__warn(struct oc_measurement *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add_text(&m->n_warnings, m->warnings, fmt, ap);
  va_end(ap);
}

void oc_measurement_release(struct oc_measurement *m) {
  if (m == NULL) return;
  free(m->raw_us);
  m->raw_us = NULL;
  m->n_raw = 0;
}

/* Everything unknown until measured. */
static void measurement_reset(struct oc_measurement *m) {
  memset(m, 0, sizeof *m);
  m->cold_us = NAN;
  m->batch = 1;
  m->sets = 1;
  m->floor_ns = 0.0;
  m->timer.resolution_ns = m->timer.overhead_ns = m->timer.tick_ns = NAN;
  m->timer.tsc_mhz = NAN;
  m->counters.cycles_per_run = m->counters.instructions_per_run = NAN;
  m->counters.cache_misses_per_run = m->counters.ipc = NAN;
  m->counters.context_switches = m->counters.migrations = -1;
  m->counters.page_faults = m->counters.involuntary_switches = -1;
}

/* ---- the adaptive loop ------------------------------------------------- */

enum oc_status oc_probe_adaptive(const struct oc_sample_source *source,
                                 const struct oc_measure_opts *opts, struct oc_measurement *m) {
  double *samples = NULL;
  size_t n = 0, cap = 0;
  int64_t kept_disturbed = 0;
  enum oc_status st = oc_measure_opts_check(opts);
  if (st != oc_status_ok) return st;
  m->rejected = 0;
  m->stop = oc_stop_time_cap;
  size_t min_n = (size_t)opts->min_samples;
  size_t max_n = (size_t)opts->max_samples;
  size_t next_check = min_n;
  double start = oc__now_s();
  for (;;) {
    double us = 0.0;
    bool disturbed = false;
    st = source->take(source->ctx, &us, &disturbed);
    if (st != oc_status_ok) goto done;
    double elapsed = oc__now_s() - start;
    if (!isfinite(us)) {
      st = oc__fail(oc_status_internal, "sample %zu is not a finite time", n);
      goto done;
    }
    if (disturbed) {
      if (opts->reject_disturbed && m->rejected < opts->max_rejected &&
          elapsed < opts->max_time_s) {
        m->rejected++;
        continue;
      }
      kept_disturbed++;
    }
    if (n == cap) {
      size_t grown = cap ? cap * 2 : 64;
      if (grown > max_n) grown = max_n;
      double *p = realloc(samples, grown * sizeof *p);
      if (p == NULL) {
        st = oc__fail(oc_status_out_of_memory, "out of memory for %zu samples", grown);
        goto done;
      }
      samples = p;
      cap = grown;
    }
    samples[n++] = us;
    if (n >= max_n) {
      m->stop = oc_stop_sample_cap;
      break;
    }
    bool capped = n >= min_n && elapsed >= opts->max_time_s;
    if (capped || (n >= next_check && elapsed >= opts->min_time_s)) {
      /* Sorting costs O(n log n): check at geometrically spaced counts so
       * the checks cost O(n log n) in all. */
      st = oc_stats_compute(samples, n, opts->confidence, &m->stats);
      if (st != oc_status_ok) goto done;
      if (m->stats.ci_rel <= opts->target_ci) {
        m->stop = oc_stop_converged;
        break;
      }
      if (capped) {
        m->stop = oc_stop_time_cap;
        break;
      }
      next_check = n + (n / 10 > 1 ? n / 10 : 1);
    }
  }
  st = oc_stats_compute(samples, n, opts->confidence, &m->stats);
  if (st != oc_status_ok) goto done;
  if (m->stop != oc_stop_converged)
    oc__warn(m,
             "the median is known to +-%.2f %% only (target %.2f %%): stopped by the %s after "
             "%zu samples",
             100.0 * m->stats.ci_rel, 100.0 * opts->target_ci,
             m->stop == oc_stop_time_cap ? "time cap" : "sample cap", n);
  if (m->stats.cv > opts->warn_cv)
    oc__warn(m, "CV %.1f %% is above %.1f %%: the samples are noisy", 100.0 * m->stats.cv,
             100.0 * opts->warn_cv);
  if (kept_disturbed > 0)
    oc__warn(m, "%lld disturbed samples were kept (rejection limit or time cap reached)",
             (long long)kept_disturbed);
  if (opts->raw) {
    m->raw_us = samples;
    m->n_raw = n;
    samples = NULL;
  }
done:
  free(samples);
  return st;
}

/* ---- host-clock and device-timer sources ------------------------------- */

static enum oc_status empty_run(struct oc_target *target, struct oc_kernel *kernel) {
  (void)target;
  (void)kernel;
  return oc_status_ok;
}

struct host_source {
  struct oc_target *target;
  struct oc_kernel *const *kernels;
  int n_kernels;
  int next;
  int batch;
  /* oc_target_run, or empty_run for the floor: the same loop either way. */
  enum oc_status (*run)(struct oc_target *target, struct oc_kernel *kernel);
  enum oc_clock clock;
  double ns_per_tick;
  double floor_ticks;
  const float *evict; /* read before each sample when not NULL */
  size_t evict_n;
  float sink;
  struct oc__counter_session *counters;
  /* device timer */
  bool device;
  double device_us[16];
  int device_have, device_pos;
};

/* Ticks of one batch through h->run (no floor subtracted). */
static enum oc_status time_batch(struct host_source *h, uint64_t *ticks) {
  enum oc_status st = oc_status_ok;
  enum oc_status (*run)(struct oc_target *, struct oc_kernel *) = h->run;
  uint64_t t0 = oc__clock_read(h->clock);
  for (int b = 0; b < h->batch; b++) {
    st = run(h->target, h->kernels[h->next]);
    if (++h->next == h->n_kernels) h->next = 0;
    if (st != oc_status_ok) break;
  }
  uint64_t t1 = oc__clock_read(h->clock);
  *ticks = t1 - t0;
  return st;
}

static enum oc_status host_take(void *ctx, double *us, bool *disturbed) {
  struct host_source *h = ctx;
  if (h->evict != NULL) h->sink += oc__read_kernel(h->evict, h->evict_n);
  struct oc__counter_snap before, after;
  oc__counters_snap(h->counters, &before, false);
  uint64_t ticks = 0;
  enum oc_status st = time_batch(h, &ticks);
  oc__counters_snap(h->counters, &after, true);
  oc__counters_account(h->counters, &before, &after, h->batch);
  if (st != oc_status_ok) return oc__fail_prefix(st, "run failed while measuring: ");
  *disturbed = oc__counters_disturbed(h->counters, &before, &after);
  double net = (double)ticks - h->floor_ticks;
  if (net < 0) net = 0;
  *us = net * h->ns_per_tick / 1000.0 / h->batch;
  return oc_status_ok;
}

static enum oc_status device_take(void *ctx, double *us, bool *disturbed) {
  struct host_source *h = ctx;
  *disturbed = false;
  if (h->device_pos == h->device_have) {
    /* One kernel: several runs per call to amortise the device's sync;
     * rotating cold sets: one run per kernel, in turn. */
    int runs = h->n_kernels == 1 ? (int)(sizeof h->device_us / sizeof h->device_us[0]) : 1;
    enum oc_status st = oc_target_time_runs(h->target, h->kernels[h->next], runs, h->device_us);
    if (++h->next == h->n_kernels) h->next = 0;
    if (st != oc_status_ok) return st;
    h->device_have = runs;
    h->device_pos = 0;
  }
  *us = h->device_us[h->device_pos++];
  return oc_status_ok;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Median ticks of the empty loop at h->batch: the harness floor. */
static double measure_floor(struct host_source *h) {
  uint64_t ticks[OC__FLOOR_SAMPLES];
  enum oc_status (*saved)(struct oc_target *, struct oc_kernel *) = h->run;
  int next = h->next;
  h->run = empty_run;
  for (int i = 0; i < OC__FLOOR_SAMPLES; i++) (void)time_batch(h, &ticks[i]);
  h->run = saved;
  h->next = next;
  qsort(ticks, OC__FLOOR_SAMPLES, sizeof ticks[0], cmp_u64);
  return (double)ticks[OC__FLOOR_SAMPLES / 2];
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Warm-up on the host clock: runs each timed alone until warmup_runs (and,
 * cold, one pass over every set) and warmup_s have both passed; bounded by
 * max_time_s once the count is reached. Returns the median time of the
 * last runs in ns (floor subtracted), the estimate batching starts from. */
static enum oc_status host_warmup(struct host_source *h, const struct oc_measure_opts *o,
                                  struct oc_measurement *m, double *est_ns) {
  enum { keep = 64 };
  double recent[keep];
  int64_t runs = 0;
  int64_t min_runs = o->warmup_runs;
  if (o->cache == oc_cache_cold && h->n_kernels > min_runs) min_runs = h->n_kernels;
  int saved_batch = h->batch;
  h->batch = 1;
  double start = oc__now_s();
  enum oc_status st = oc_status_ok;
  for (;;) {
    double elapsed = oc__now_s() - start;
    if (runs >= min_runs && (elapsed >= o->warmup_s || elapsed >= o->max_time_s)) break;
    uint64_t ticks = 0;
    st = time_batch(h, &ticks);
    if (st != oc_status_ok) break;
    double ns = ((double)ticks - h->floor_ticks) * h->ns_per_tick;
    recent[runs % keep] = ns > 0 ? ns : 0;
    runs++;
  }
  h->batch = saved_batch;
  m->warmup_runs = runs;
  if (st != oc_status_ok) return oc__fail_prefix(st, "run failed during warm-up: ");
  int have = runs < keep ? (int)runs : keep;
  if (have == 0) {
    *est_ns = NAN;
    return oc_status_ok;
  }
  qsort(recent, (size_t)have, sizeof recent[0], cmp_double);
  *est_ns = recent[have / 2];
  return oc_status_ok;
}

/* Adds the warnings the environment calls for. */
static void env_warnings(const struct oc_measure_opts *o, struct oc_measurement *m) {
  const struct oc_env *e = &m->env;
  int threads = e->threads > 0 ? e->threads : 1;
  if (!isnan(e->load1) && e->cores_online > 0 && e->load1 > (double)(e->cores_online - threads))
    oc__warn(m,
             "load average %.2f is above cores - threads (%d - %d): other work competes for "
             "the cores",
             e->load1, e->cores_online, threads);
  if (!isnan(e->freq_mhz_before) && !isnan(e->freq_mhz_after) && e->freq_mhz_before > 0 &&
      fabs(e->freq_mhz_after - e->freq_mhz_before) / e->freq_mhz_before > o->warn_freq_change)
    oc__warn(m, "CPU frequency changed from %.0f to %.0f MHz during the measurement",
             e->freq_mhz_before, e->freq_mhz_after);
  if (!isnan(e->steal_pct) && e->steal_pct > 1.0)
    oc__warn(m, "the hypervisor stole %.1f %% of CPU time during the measurement", e->steal_pct);
  if (m->rejected > 0 && m->rejected * 10 >= m->stats.n)
    oc__warn(m, "%lld samples were disturbed (context switch or migration) and re-taken",
             (long long)m->rejected);
}

static void sleep_s(double seconds) {
  struct timespec ts;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* The common body of oc_probe_kernels and oc_probe_op. set_bytes: bytes of
 * one kernel's buffers, 0 when unknown (then cold needs the eviction
 * buffer). llc_bytes: the device's last-level cache. */
static enum oc_status probe_impl(struct oc_target *target, struct oc_kernel *const *kernels,
                                 int n_kernels, int64_t set_bytes, int64_t llc_bytes,
                                 const struct oc_measure_opts *opts_in, struct oc_measurement *m) {
  struct oc_measure_opts o;
  struct oc__counter_session counters;
  bool counting = false;
  float *evict = NULL;
  double start = oc__now_s();
  if (opts_in)
    o = *opts_in;
  else
    oc_measure_opts_default(&o);
  measurement_reset(m);
  enum oc_status st = oc_measure_opts_check(&o);
  if (st != oc_status_ok) return st;
  if (n_kernels < 1 || kernels == NULL)
    return oc__fail(oc_status_invalid_argument, "n_kernels: value '%d' must be >= 1", n_kernels);

  oc_env_capture(target, &m->env);
  if (o.cooldown_s > 0) sleep_s(o.cooldown_s);

  struct host_source h;
  memset(&h, 0, sizeof h);
  h.target = target;
  h.kernels = kernels;
  h.n_kernels = n_kernels;
  h.batch = 1;
  h.run = oc_target_run;
  h.counters = &counters;

  m->cache = o.cache;
  m->sets = n_kernels;
  m->set_bytes = set_bytes;
  int64_t cold_bytes = o.cold_bytes > 0 ? o.cold_bytes : 2 * llc_bytes;
  /* The sets aim at cold_bytes (2 x LLC by default); when they span less
   * than half of it (the LLC itself), rotation alone would leave data
   * cached and the eviction buffer takes over. */
  bool need_evict = o.cache == oc_cache_cold &&
                    (set_bytes <= 0 || (double)set_bytes * n_kernels < (double)cold_bytes / 2);

  /* Networks on a GPU have no device timer of their own: host clock. */
  h.device = o.device_timer && oc_target_has_device_timer(target, kernels[0]);
  if (h.device) {
    /* The device clock times the kernel alone: no host floor, no batch, no
     * host disturbance check. */
    m->device_timer = true;
    oc__strcpy(m->counters.source, sizeof m->counters.source, "none (device timer)");
    m->timer.clock = oc_clock_device;
    oc__strfmt(m->timer.name, sizeof m->timer.name, "device timer of target '%s'",
               oc_target_name(target));
    oc__note(m, "device timer: samples are the target's own per-run times");
    double cold = NAN;
    st = oc_target_time_runs(target, kernels[0], 1, &cold);
    if (st != oc_status_ok) goto done;
    m->cold_us = cold;
    int64_t runs = 0;
    double wstart = oc__now_s();
    while (runs < o.warmup_runs ||
           (oc__now_s() - wstart < o.warmup_s && oc__now_s() - wstart < o.max_time_s)) {
      double us = 0;
      st = oc_target_time_runs(target, kernels[runs % n_kernels], 1, &us);
      if (st != oc_status_ok) goto done;
      runs++;
    }
    m->warmup_runs = runs;
    if (o.cache == oc_cache_cold && need_evict)
      oc__note(m, "cold cache with a device timer: only the rotation over %d sets keeps it cold",
               n_kernels);
    struct oc_sample_source src = {device_take, &h};
    st = oc_probe_adaptive(&src, &o, m);
    goto done;
  }

  st = oc_probe_timer(o.clock, &m->timer);
  if (st != oc_status_ok) goto done;
  h.clock = m->timer.clock;
  h.ns_per_tick = oc__clock_ns_per_tick(h.clock);
  st = oc__counters_start(o.counters, m->env.threads, &counters, m);
  if (st != oc_status_ok) goto done;
  counting = true;

  /* Cold run: the first run after prepare, alone, floor of one run removed. */
  h.floor_ticks = measure_floor(&h);
  uint64_t ticks = 0;
  st = time_batch(&h, &ticks);
  if (st != oc_status_ok) {
    st = oc__fail_prefix(st, "first run failed: ");
    goto done;
  }
  m->cold_us = fmax(0.0, ((double)ticks - h.floor_ticks) * h.ns_per_tick / 1000.0);

  double est_ns = NAN;
  st = host_warmup(&h, &o, m, &est_ns);
  if (st != oc_status_ok) goto done;

  double grain_ns = fmax(m->timer.resolution_ns, m->timer.overhead_ns);
  if (!isfinite(grain_ns) || grain_ns <= 0) grain_ns = 1.0;
  int batch = o.batch;
  if (batch == 0) {
    double want = o.resolution_factor * grain_ns / fmax(est_ns, 1.0);
    batch = want <= 1 || !isfinite(want) ? 1 : (int)fmin(ceil(want), OC__MAX_BATCH);
  }
  /* Cold: every run of a batch must use a different set (each evicted
   * since it last ran, by the other sets or by the eviction buffer). */
  if (o.cache == oc_cache_cold && batch > n_kernels) {
    if (o.batch > 0)
      oc__note(m, "batch %d lowered to %d: a cold batch runs each set at most once", o.batch,
               n_kernels);
    batch = n_kernels;
  }
  h.batch = batch;
  m->batch = batch;
  h.floor_ticks = measure_floor(&h);
  m->floor_ns = h.floor_ticks * h.ns_per_tick;
  if (batch > 1)
    oc__note(m, "batched: %d runs per sample (a run takes about %.0f ns; resolution %.1f ns)",
             batch, est_ns, grain_ns);

  if (need_evict) {
    size_t n = (size_t)(cold_bytes / (int64_t)sizeof(float));
    n -= n % 64;
    if (n < 64) n = 64;
    evict = oc__aligned_alloc(64, n * sizeof *evict);
    if (evict == NULL) {
      st = oc__fail(oc_status_out_of_memory, "out of memory for a %lld-byte eviction buffer",
                    (long long)cold_bytes);
      goto done;
    }
    for (size_t i = 0; i < n; i++) evict[i] = (float)(i & 255);
    h.evict = evict;
    h.evict_n = n;
    m->eviction_bytes = (int64_t)(n * sizeof *evict);
  }

  struct oc_sample_source src = {host_take, &h};
  st = oc_probe_adaptive(&src, &o, m);

done:
  if (counting) oc__counters_stop(&counters, &m->counters);
  oc__aligned_free(evict);
  if (st == oc_status_ok) {
    oc_env_finish(&m->env);
    env_warnings(&o, m);
  } else {
    oc_measurement_release(m);
  }
  m->duration_s = oc__now_s() - start;
  return st;
}

static int64_t device_llc(struct oc_target *target) {
  struct oc_device_info info;
  if (oc_target_describe(target, &info) == oc_status_ok) {
    if (info.l3_bytes > 0) return info.l3_bytes;
    if (info.l2_bytes > 0) return info.l2_bytes;
  }
  return OC__DEFAULT_LLC;
}

enum oc_status oc_probe_kernels(struct oc_target *target, struct oc_kernel *const *kernels,
                                int n_kernels, const struct oc_measure_opts *opts,
                                struct oc_measurement *m) {
  return probe_impl(target, kernels, n_kernels, 0, device_llc(target), opts, m);
}

enum oc_status oc_probe_kernel(struct oc_target *target, struct oc_kernel *kernel,
                               const struct oc_measure_opts *opts, struct oc_measurement *m) {
  struct oc_kernel *const one[1] = {kernel};
  return probe_impl(target, one, 1, 0, device_llc(target), opts, m);
}

/* ---- one op: buffers, sets, prepare ------------------------------------- */

struct op_set {
  void *input[OC_MAX_INPUTS];
  void *weights, *bias, *output;
};

/* IEEE half of a float in [-1, 1] (round to nearest, subnormals flushed). */
static uint16_t to_half(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
  int exp = (int)((bits >> 23) & 0xff) - 127 + 15;
  uint32_t mant = bits & 0x7fffffu;
  if (exp <= 0) return sign;
  if (exp >= 31) return (uint16_t)(sign | 0x7bffu);
  uint32_t h = ((uint32_t)exp << 10) | (mant >> 13);
  if (mant & 0x1000u) h++; /* round half up; carries into the exponent correctly */
  return (uint16_t)(sign | h);
}

static void fill(void *buf, int64_t elems, enum oc_dtype dtype, bool is_bias, struct oc__rng *rng) {
  if (is_bias && dtype == oc_dtype_qs8) {
    int32_t *p = buf;
    for (int64_t i = 0; i < elems; i++) p[i] = (int32_t)oc__rng_below(rng, 2001) - 1000;
    return;
  }
  for (int64_t i = 0; i < elems; i++) {
    float v = (float)(oc__rng_double(rng) * 2.0 - 1.0);
    switch (dtype) {
    case oc_dtype_f32: ((float *)buf)[i] = v; break;
    case oc_dtype_f16: ((uint16_t *)buf)[i] = to_half(v); break;
    case oc_dtype_qs8: ((int8_t *)buf)[i] = (int8_t)(v * 127.0f); break;
    case oc_dtype__count: break;
    }
  }
}

static void *alloc_filled(int64_t elems, size_t elem_size, enum oc_dtype dtype, bool is_bias,
                          struct oc__rng *rng) {
  int64_t bytes;
  if (elems <= 0 || !oc__mul64(elems, (int64_t)elem_size, &bytes)) return NULL;
  /* Whole cache lines plus the slack target.h promises kernels may read. */
  void *p = oc__aligned_alloc(64, (size_t)((bytes + 63) / 64 * 64) + OC_TENSOR_SLACK_BYTES);
  if (p != NULL) fill(p, elems, dtype, is_bias, rng);
  return p;
}

static void free_set(struct op_set *s) {
  for (int i = 0; i < OC_MAX_INPUTS; i++) oc__aligned_free(s->input[i]);
  oc__aligned_free(s->weights);
  oc__aligned_free(s->bias);
  oc__aligned_free(s->output);
  memset(s, 0, sizeof *s);
}

static enum oc_status alloc_set(const struct oc_op *op, const struct oc_op_shapes *sh,
                                struct oc__rng *rng, struct op_set *s, struct oc_tensors *tensors) {
  size_t esize = oc_dtype_size(op->dtype);
  memset(s, 0, sizeof *s);
  memset(tensors, 0, sizeof *tensors);
  for (int i = 0; i < sh->n_inputs; i++) {
    s->input[i] = alloc_filled(oc_tensor_elems(&sh->input[i]), esize, op->dtype, false, rng);
    if (s->input[i] == NULL) goto oom;
    tensors->input[i] = s->input[i];
  }
  if (sh->weight_elems > 0) {
    s->weights = alloc_filled(sh->weight_elems, esize, op->dtype, false, rng);
    if (s->weights == NULL) goto oom;
    tensors->weights = s->weights;
  }
  if (sh->bias_elems > 0) {
    /* qs8 biases are int32; 4 bytes covers every dtype's bias. */
    s->bias = alloc_filled(sh->bias_elems, 4, op->dtype, true, rng);
    if (s->bias == NULL) goto oom;
    tensors->bias = s->bias;
  }
  s->output = alloc_filled(oc_tensor_elems(&sh->output), esize, op->dtype, false, rng);
  if (s->output == NULL) goto oom;
  tensors->output = s->output;
  return oc_status_ok;
oom:
  free_set(s);
  return oc__fail(oc_status_out_of_memory, "out of memory for the buffers of the op");
}

enum oc_status oc_probe_op(struct oc_target *target, const struct oc_op *op,
                           const struct oc_measure_opts *opts, struct oc_measurement *m) {
  struct op_set *sets = NULL;
  struct oc_kernel **kernels = NULL;
  int n_sets = 0, prepared = 0;
  char key[OC_KEY_MAX] = "";
  struct oc_measure_opts o;
  if (opts)
    o = *opts;
  else
    oc_measure_opts_default(&o);
  measurement_reset(m);
  enum oc_status st = oc_measure_opts_check(&o);
  if (st != oc_status_ok) return st;
  st = oc_op_validate(op);
  if (st != oc_status_ok) return st;
  oc_op_format(op, key, sizeof key);
  char why[512];
  if (!oc_target_supports(target, op, why, sizeof why))
    return oc__fail(oc_status_unsupported, "target '%s' does not run '%s': %s",
                    oc_target_name(target), key, why[0] ? why : "unsupported");
  struct oc_op_shapes sh;
  struct oc_op_cost cost;
  st = oc_op_shapes(op, &sh);
  if (st == oc_status_ok) st = oc_op_cost(op, &cost);
  if (st != oc_status_ok) return st;
  int64_t set_bytes = cost.input_bytes + cost.weight_bytes + cost.output_bytes;
  int64_t llc = device_llc(target);

  n_sets = 1;
  if (o.cache == oc_cache_cold) {
    int64_t want = o.cold_bytes > 0 ? o.cold_bytes : 2 * llc;
    int64_t n = set_bytes > 0 ? (want + set_bytes - 1) / set_bytes : OC__MAX_SETS;
    n_sets = (int)(n < 2 ? 2 : n > OC__MAX_SETS ? OC__MAX_SETS : n);
  }
  sets = calloc((size_t)n_sets, sizeof *sets);
  kernels = calloc((size_t)n_sets, sizeof *kernels);
  if (sets == NULL || kernels == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for %d kernel sets", n_sets);
    goto done;
  }
  struct oc__rng rng;
  oc__rng_seed(&rng, o.seed);
  for (int i = 0; i < n_sets; i++) {
    struct oc_tensors tensors;
    st = alloc_set(op, &sh, &rng, &sets[i], &tensors);
    if (st != oc_status_ok) goto done;
    st = oc_target_prepare(target, op, &tensors, &kernels[i]);
    if (st != oc_status_ok) goto done;
    prepared++;
  }
  st = probe_impl(target, kernels, n_sets, set_bytes, llc, &o, m);
  if (st == oc_status_ok)
    oc__strcpy(m->key, sizeof m->key, key);
  else
    oc__fail_prefix(st, "op '%s': ", key);

done:
  for (int i = 0; i < prepared; i++) oc_target_release(target, kernels[i]);
  for (int i = 0; sets != NULL && i < n_sets; i++) free_set(&sets[i]);
  free(kernels);
  free(sets);
  return st;
}
