/* probe_device.c - characterization of the host CPU behind the cpu and ref
 * targets: peak FP32 FLOP/s (one core, all cores), read and copy bandwidth
 * over a sweep of working sets, load-to-use latency per cache level, the
 * timer, and the roofline these imply.
 *
 * Every figure is the best of several trials (the least disturbed one: a
 * capability, as STREAM and likwid-bench report it), each trial long enough
 * (5 ms quick, 30 ms full) that the clock does not matter. Work runs on
 * threads pinned to the chosen cores so that the caller's own affinity is
 * left alone. Latency chases pointers around one random cyclic permutation
 * of cache lines (Sattolo's algorithm), which defeats the prefetchers and
 * makes every load depend on the previous one. */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/core.h"
#include "probes/probe_internal.h"
#include "targets/targets_internal.h"
#ifdef OPCOST_WITH_OPENCL
#include "targets/opencl/opencl.h"
#endif
#ifdef OPCOST_WITH_VULKAN
#include "targets/vulkan/vulkan.h"
#endif

/* How long and how often each figure is measured. */
struct plan {
  double trial_s; /* one trial lasts at least this */
  int trials;
  int sweep_step; /* working-set growth factor of the bandwidth sweep */
};

static double now_ns(void) { return (double)oc__clock_read(oc_clock_monotonic_raw); }

static bool pin_self(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET((size_t)cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

/* ---- running work on pinned threads ------------------------------------ */

/* Start line shared by the workers of one run: they spin (yielding) until
 * `go`, so all start together, and return at once when `abort` is set. */
struct start_line {
  atomic_int ready;
  atomic_int go;
  atomic_int abort;
};

struct worker {
  int cpu;
  void (*fn)(struct worker *w);
  struct start_line *line;
  /* inputs and outputs of fn */
  const struct plan *plan;
  int64_t iters;
  float *buf;
  size_t buf_floats;
  double seconds;
  double work; /* FLOPs, or bytes per second */
  float sink;
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  pin_self(w->cpu);
  atomic_fetch_add(&w->line->ready, 1);
  while (!atomic_load(&w->line->go)) sched_yield();
  if (!atomic_load(&w->line->abort)) w->fn(w);
  return NULL;
}

/* Runs fn on one thread per worker (pinned to its cpu), started together. */
static enum oc_status run_workers(struct worker *workers, int n) {
  pthread_t threads[OC_MAX_CORES];
  struct start_line line;
  atomic_init(&line.ready, 0);
  atomic_init(&line.go, 0);
  atomic_init(&line.abort, 0);
  int started = 0;
  enum oc_status st = oc_status_ok;
  for (int i = 0; i < n; i++) {
    workers[i].line = &line;
    if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0) {
      st = oc__fail(oc_status_internal, "cannot start a measuring thread on core %d",
                    workers[i].cpu);
      atomic_store(&line.abort, 1);
      break;
    }
    started++;
  }
  while (st == oc_status_ok && atomic_load(&line.ready) < n) sched_yield();
  atomic_store(&line.go, 1);
  for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
  return st;
}

/* ---- peak FLOP/s --------------------------------------------------------- */

static void fma_work(struct worker *w) {
  double t0 = now_ns();
  w->work = oc__fma_kernel(w->iters, &w->sink);
  w->seconds = (now_ns() - t0) * 1e-9;
}

/* Iterations that take about plan->trial_s on cpu. */
static enum oc_status calibrate_fma(int cpu, const struct plan *plan, int64_t *iters) {
  struct worker w;
  memset(&w, 0, sizeof w);
  w.cpu = cpu;
  w.fn = fma_work;
  w.iters = 1000;
  for (int round = 0; round < 40; round++) {
    enum oc_status st = run_workers(&w, 1);
    if (st != oc_status_ok) return st;
    if (w.seconds >= plan->trial_s / 4) break;
    w.iters *= 4;
  }
  double per = w.seconds / (double)w.iters;
  *iters = per > 0 ? (int64_t)(plan->trial_s / per) + 1 : w.iters;
  return oc_status_ok;
}

/* GFLOP/s: best trial; all workers run iters, the slowest one sets the time. */
static enum oc_status peak_flops(const int *cpus, int n, int64_t iters, const struct plan *plan,
                                 double *gflops) {
  struct worker workers[OC_MAX_CORES];
  *gflops = 0;
  for (int t = 0; t < plan->trials; t++) {
    memset(workers, 0, sizeof workers[0] * (size_t)n);
    for (int i = 0; i < n; i++) {
      workers[i].cpu = cpus[i];
      workers[i].fn = fma_work;
      workers[i].iters = iters;
    }
    enum oc_status st = run_workers(workers, n);
    if (st != oc_status_ok) return st;
    double flops = 0, slowest = 0;
    for (int i = 0; i < n; i++) {
      flops += workers[i].work;
      slowest = fmax(slowest, workers[i].seconds);
    }
    if (slowest > 0) *gflops = fmax(*gflops, flops / slowest * 1e-9);
  }
  return oc_status_ok;
}

/* ---- bandwidth ------------------------------------------------------------ */

/* Bytes per second of fn over bytes, best of trials, repeated to last trial_s. */
static void read_work(struct worker *w) {
  size_t n = w->buf_floats;
  double best = 0;
  int64_t reps = 1;
  for (int t = 0; t < w->plan->trials;) {
    double t0 = now_ns();
    for (int64_t r = 0; r < reps; r++) w->sink += oc__read_kernel(w->buf, n);
    double s = (now_ns() - t0) * 1e-9;
    if (s < w->plan->trial_s && reps < (INT64_C(1) << 40)) {
      reps =
          s > 0 ? (int64_t)fmax((double)reps * 2, (double)reps * w->plan->trial_s / s) : reps * 2;
      continue;
    }
    best = fmax(best, (double)reps * (double)(n * sizeof(float)) / s);
    t++;
  }
  w->work = best;
}

static void copy_work(struct worker *w) {
  size_t half = w->buf_floats / 2;
  float *src = w->buf, *dst = w->buf + half;
  double best = 0;
  int64_t reps = 1;
  for (int t = 0; t < w->plan->trials;) {
    double t0 = now_ns();
    for (int64_t r = 0; r < reps; r++) {
      memcpy(dst, src, half * sizeof(float));
      /* Keep the copy from being elided and alternate the direction so
       * both halves stay in the state the working set implies. */
      float *tmp = src;
      src = dst;
      dst = tmp;
    }
    double s = (now_ns() - t0) * 1e-9;
    w->sink += src[0];
    if (s < w->plan->trial_s && reps < (INT64_C(1) << 40)) {
      reps =
          s > 0 ? (int64_t)fmax((double)reps * 2, (double)reps * w->plan->trial_s / s) : reps * 2;
      continue;
    }
    best = fmax(best, (double)reps * 2.0 * (double)(half * sizeof(float)) / s);
    t++;
  }
  w->work = best;
}

/* A buffer for the sweep: 2 MiB aligned and advised to use huge pages, so
 * that TLB misses do not count as memory latency; touched once so that
 * page faults are not timed. */
static void fill_floats(float *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (float)(i & 1023) * 1e-3f;
}

static float *big_alloc(size_t bytes) {
  float *p = oc__aligned_alloc(2u << 20, bytes);
  if (p == NULL) return NULL;
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  fill_floats(p, bytes / sizeof(float));
  return p;
}

static enum oc_status bandwidth(int cpu, float *buf, int64_t bytes, const struct plan *plan,
                                double *read_gbs, double *copy_gbs) {
  struct worker w;
  memset(&w, 0, sizeof w);
  w.cpu = cpu;
  w.plan = plan;
  w.buf = buf;
  w.buf_floats = (size_t)bytes / sizeof(float);
  w.fn = read_work;
  enum oc_status st = run_workers(&w, 1);
  if (st != oc_status_ok) return st;
  *read_gbs = w.work * 1e-9;
  w.fn = copy_work;
  st = run_workers(&w, 1);
  if (st != oc_status_ok) return st;
  *copy_gbs = w.work * 1e-9;
  return oc_status_ok;
}

/* ---- latency --------------------------------------------------------------- */

struct chase {
  int cpu;
  void **lines; /* one pointer at the start of each 64-byte line */
  size_t n_lines;
  const struct plan *plan;
  uint64_t seed;
  double ns;
};

static void *chase_main(void *arg) {
  struct chase *c = arg;
  pin_self(c->cpu);
  const size_t stride = 64 / sizeof(void *);
  /* Sattolo: a random permutation with a single cycle through every line. */
  size_t *order = malloc(c->n_lines * sizeof *order);
  if (order == NULL) {
    c->ns = NAN;
    return NULL;
  }
  for (size_t i = 0; i < c->n_lines; i++) order[i] = i;
  struct oc__rng rng;
  oc__rng_seed(&rng, c->seed);
  for (size_t i = c->n_lines - 1; i > 0; i--) {
    size_t j = (size_t)oc__rng_below(&rng, i);
    size_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (size_t i = 0; i < c->n_lines; i++) c->lines[i * stride] = &c->lines[order[i] * stride];
  free(order);
  void **p = c->lines;
  /* One lap first: the lines are where the level puts them. */
  for (size_t i = 0; i < c->n_lines; i++) p = (void **)*p;
  double best = INFINITY;
  int64_t steps = 1000;
  for (int t = 0; t < c->plan->trials;) {
    double t0 = now_ns();
    for (int64_t i = 0; i < steps; i += 8) {
      p = (void **)*p;
      p = (void **)*p;
      p = (void **)*p;
      p = (void **)*p;
      p = (void **)*p;
      p = (void **)*p;
      p = (void **)*p;
      p = (void **)*p;
    }
    double ns = now_ns() - t0;
    if (ns * 1e-9 < c->plan->trial_s && steps < (INT64_C(1) << 40)) {
      steps = (int64_t)fmax((double)steps * 2, (double)steps * c->plan->trial_s / (ns * 1e-9));
      steps = (steps + 7) / 8 * 8;
      continue;
    }
    best = fmin(best, ns / (double)steps);
    t++;
  }
  /* Keep the chain alive: a NULL here is impossible for a closed cycle. */
  c->ns = p != NULL ? best : NAN;
  return NULL;
}

static enum oc_status latency(int cpu, void *buf, int64_t bytes, const struct plan *plan,
                              double *ns) {
  struct chase c;
  memset(&c, 0, sizeof c);
  c.cpu = cpu;
  c.lines = buf;
  c.n_lines = (size_t)bytes / 64;
  c.plan = plan;
  c.seed = 0x6f70636f7374ULL ^ (uint64_t)bytes;
  if (c.n_lines < 2) return oc__fail(oc_status_invalid_argument, "latency: working set too small");
  pthread_t t;
  if (pthread_create(&t, NULL, chase_main, &c) != 0)
    return oc__fail(oc_status_internal, "cannot start a measuring thread on core %d", cpu);
  pthread_join(t, NULL);
  if (isnan(c.ns)) return oc__fail(oc_status_out_of_memory, "latency: out of memory");
  *ns = c.ns;
  return oc_status_ok;
}

/* ---- the whole characterization ------------------------------------------ */

struct step_counter {
  const struct oc_device_opts *opts;
  int done, total;
};

static void step(struct step_counter *s, const char *what) {
  s->done++;
  if (s->opts && s->opts->progress)
    s->opts->progress(s->opts->progress_ctx, s->done, s->total, what);
}

static int64_t round_lines(int64_t bytes) { return bytes < 128 ? 128 : bytes / 64 * 64; }

#if defined(OPCOST_WITH_OPENCL) || defined(OPCOST_WITH_VULKAN)
/* The profile of a GPU from its backend's characterization: peak FP32 FLOP/s,
 * device-memory bandwidth (a buffer copy: read + write bytes over time, the
 * figure a kernel streaming its tensors sees), launch overhead and an empty
 * kernel's device time. One "level", DRAM; its latency is not measured. */
static enum oc_status gpu_profile(struct oc_target *target, bool quick, double peak_gflops,
                                  double bandwidth_gbs, double launch_us, double empty_kernel_us,
                                  const char *kind, struct oc_device_profile *p) {
  enum oc_status st = oc_target_describe(target, &p->device);
  if (st != oc_status_ok) return st;
  oc_env_capture(target, &p->env);
  st = oc_probe_timer(oc_clock_auto, &p->timer);
  if (st != oc_status_ok) return st;
  if (!(peak_gflops > 0) || !(bandwidth_gbs > 0))
    return oc__fail(oc_status_device_error,
                    "target '%s': characterization gave no peak (%g GFLOP/s) or bandwidth (%g GB/s)",
                    oc_target_name(target), peak_gflops, bandwidth_gbs);
  p->quick = quick;
  oc__strcpy(p->kernel_isa, sizeof p->kernel_isa, kind);
  p->cores_used = 1; /* the device as a whole */
  p->peak_gflops_one_core = peak_gflops;
  p->peak_gflops_all_cores = peak_gflops;
  p->dram_read_gbs_all_cores = bandwidth_gbs;
  p->ridge_all_cores = peak_gflops / bandwidth_gbs;
  p->n_levels = 1;
  struct oc_memory_level *l = &p->levels[0];
  oc__strcpy(l->name, sizeof l->name, "DRAM");
  l->size_bytes = 0;
  l->working_set = 1; /* not reported by the backends; the copy exceeds their caches */
  l->read_gbs = bandwidth_gbs;
  l->copy_gbs = bandwidth_gbs;
  l->latency_ns = NAN;
  l->ridge_flops_per_byte = peak_gflops / bandwidth_gbs;
  p->launch_us = launch_us > 0 ? launch_us : 0;
  p->empty_kernel_us = empty_kernel_us > 0 ? empty_kernel_us : 0;
  return oc_status_ok;
}
#endif

static enum oc_status gpu_device(struct oc_target *target, bool quick,
                                 struct oc_device_profile *p) {
  const char *name = oc_target_name(target);
  double start = oc__now_s();
  enum oc_status st = oc_status_unsupported;
  (void)quick;
#ifdef OPCOST_WITH_OPENCL
  if (strcmp(name, "opencl") == 0) {
    struct oc__opencl_characteristics c;
    memset(&c, 0, sizeof c);
    st = oc__opencl_characterize_state(oc__target_state(target), quick, &c);
    if (st == oc_status_ok)
      st = gpu_profile(target, quick, c.peak_gflops, c.bandwidth_gbps, c.launch_us,
                       c.empty_kernel_us, "opencl", p);
  }
#endif
#ifdef OPCOST_WITH_VULKAN
  if (strcmp(name, "vulkan") == 0) {
    struct oc__vulkan_characteristics c;
    memset(&c, 0, sizeof c);
    st = oc__vk_characterize_state(oc__target_state(target), quick, &c);
    if (st == oc_status_ok)
      st = gpu_profile(target, quick, c.peak_gflops, c.bandwidth_gbps, c.launch_us,
                       c.empty_kernel_us, "vulkan", p);
  }
#endif
  if (st == oc_status_unsupported && oc_errmsg()[0] == '\0')
    return oc__fail(oc_status_unsupported,
                    "target '%s' has no device characterization (supported: cpu, ref, opencl, "
                    "vulkan)",
                    name);
  if (st == oc_status_ok) oc_env_finish(&p->env);
  p->duration_s = oc__now_s() - start;
  return st;
}

enum oc_status oc_probe_device(struct oc_target *target, const struct oc_device_opts *opts,
                               struct oc_device_profile *p) {
  float *buf = NULL;
  float *all_bufs[OC_MAX_CORES] = {0};
  int n_all_bufs = 0;
  enum oc_status st = oc_status_ok;
  const char *name = oc_target_name(target);
  memset(p, 0, sizeof *p);
  bool quick = opts != NULL && opts->quick;
  if (strcmp(name, "cpu") != 0 && strcmp(name, "ref") != 0) {
    oc_errclear();
    return gpu_device(target, quick, p);
  }
  double start = oc__now_s();
  struct plan plan = quick ? (struct plan){0.005, 3, 4} : (struct plan){0.03, 7, 2};
  p->quick = quick;
  st = oc_target_describe(target, &p->device);
  if (st != oc_status_ok) return st;
  oc_env_capture(target, &p->env);
  st = oc_probe_timer(oc_clock_auto, &p->timer);
  if (st != oc_status_ok) return st;
  oc__strcpy(p->kernel_isa, sizeof p->kernel_isa, oc__kernel_isa());

  int cpus[OC_MAX_CORES];
  int n_cpus = 0;
  const struct oc_target_opts *topts = oc_target_options(target);
  if (topts->n_cores > 0) {
    n_cpus = topts->n_cores;
    memcpy(cpus, topts->cores, sizeof cpus[0] * (size_t)n_cpus);
  } else {
    n_cpus = oc__thread_cpus(cpus, OC_MAX_CORES);
  }
  if (n_cpus < 1)
    return oc__fail(oc_status_unavailable, "no core to measure on (affinity unknown)");
  p->cores_used = n_cpus;

  /* Working sets: half of each cache level (it fits with room for the
   * code's own lines), DRAM at four times the last level (at least 64 MiB). */
  int64_t l1 = p->device.l1d_bytes, l2 = p->device.l2_bytes, l3 = p->device.l3_bytes;
  int64_t llc = l3 > 0 ? l3 : l2 > 0 ? l2 : l1 > 0 ? l1 : (int64_t)32 << 20;
  int64_t dram = 4 * llc < ((int64_t)64 << 20) ? (int64_t)64 << 20 : 4 * llc;
  struct {
    const char *name;
    int64_t size;
  } levels[OC_PROFILE_MAX_LEVELS] = {{"L1", l1}, {"L2", l2}, {"L3", l3}, {"DRAM", 0}};

  int64_t sweep[OC_PROFILE_MAX_POINTS];
  int n_sweep = 0;
  for (int64_t b = quick ? 16 << 10 : 4 << 10; b < dram && n_sweep < OC_PROFILE_MAX_POINTS - 1;
       b *= plan.sweep_step)
    sweep[n_sweep++] = b;
  sweep[n_sweep++] = dram;

  struct step_counter steps = {opts, 0, 3 + n_sweep + OC_PROFILE_MAX_LEVELS};
  buf = big_alloc((size_t)dram);
  if (buf == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for a %lld-byte buffer", (long long)dram);
    goto done;
  }

  int64_t iters = 0;
  st = calibrate_fma(cpus[0], &plan, &iters);
  if (st != oc_status_ok) goto done;
  st = peak_flops(cpus, 1, iters, &plan, &p->peak_gflops_one_core);
  if (st != oc_status_ok) goto done;
  step(&steps, "peak FLOP/s, one core");
  st = peak_flops(cpus, n_cpus, iters, &plan, &p->peak_gflops_all_cores);
  if (st != oc_status_ok) goto done;
  step(&steps, "peak FLOP/s, all cores");

  for (int i = 0; i < n_sweep; i++) {
    struct oc_bandwidth_point *pt = &p->points[p->n_points];
    pt->bytes = round_lines(sweep[i]);
    st = bandwidth(cpus[0], buf, pt->bytes, &plan, &pt->read_gbs, &pt->copy_gbs);
    if (st != oc_status_ok) goto done;
    p->n_points++;
    step(&steps, "bandwidth sweep");
  }

  for (int i = 0; i < OC_PROFILE_MAX_LEVELS; i++) {
    bool is_dram = levels[i].size == 0 && strcmp(levels[i].name, "DRAM") == 0;
    if (!is_dram && levels[i].size <= 0) {
      step(&steps, "latency (level size unknown)");
      continue;
    }
    struct oc_memory_level *l = &p->levels[p->n_levels];
    oc__strcpy(l->name, sizeof l->name, levels[i].name);
    l->size_bytes = levels[i].size;
    l->working_set = round_lines(is_dram ? dram : levels[i].size / 2);
    st = bandwidth(cpus[0], buf, l->working_set, &plan, &l->read_gbs, &l->copy_gbs);
    if (st != oc_status_ok) goto done;
    st = latency(cpus[0], buf, l->working_set, &plan, &l->latency_ns);
    if (st != oc_status_ok) goto done;
    /* The chase wrote pointers over the floats; as floats many are
     * denormal, which would slow the next level's reads. */
    fill_floats(buf, (size_t)l->working_set / sizeof(float));
    l->ridge_flops_per_byte = p->peak_gflops_one_core / l->read_gbs;
    p->n_levels++;
    step(&steps, "latency and bandwidth per level");
  }

  /* DRAM read with every core: each thread reads its own buffer, all
   * together at least four times the last level. */
  {
    int64_t per = dram / n_cpus < ((int64_t)16 << 20) ? (int64_t)16 << 20 : dram / n_cpus;
    struct worker workers[OC_MAX_CORES];
    memset(workers, 0, sizeof workers[0] * (size_t)n_cpus);
    for (int i = 0; i < n_cpus; i++) {
      all_bufs[i] = big_alloc((size_t)per);
      if (all_bufs[i] == NULL) {
        st = oc__fail(oc_status_out_of_memory, "out of memory for %d buffers of %lld bytes", n_cpus,
                      (long long)per);
        goto done;
      }
      n_all_bufs++;
      workers[i].cpu = cpus[i];
      workers[i].fn = read_work;
      workers[i].plan = &plan;
      workers[i].buf = all_bufs[i];
      workers[i].buf_floats = (size_t)per / sizeof(float);
    }
    st = run_workers(workers, n_cpus);
    if (st != oc_status_ok) goto done;
    /* Each worker's best trial; their sum bounds the machine's bandwidth
     * from above only if the trials did not overlap, so take n x the
     * slowest worker's best instead. */
    double slowest = INFINITY;
    for (int i = 0; i < n_cpus; i++) slowest = fmin(slowest, workers[i].work);
    p->dram_read_gbs_all_cores = slowest * n_cpus * 1e-9;
    p->ridge_all_cores = p->peak_gflops_all_cores / p->dram_read_gbs_all_cores;
    step(&steps, "DRAM bandwidth, all cores");
  }
  oc_env_finish(&p->env);

done:
  oc__aligned_free(buf);
  for (int i = 0; i < n_all_bufs; i++) oc__aligned_free(all_bufs[i]);
  if (st == oc_status_ok) oc_env_finish(&p->env);
  p->duration_s = oc__now_s() - start;
  return st;
}
