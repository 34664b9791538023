/* probe.h - the measurement harness every target is timed through, and the
 * characterization of a device (peak FLOP/s, bandwidth, latency, roofline).
 *
 * A measurement follows docs/methodology.md:
 *   prepare (not timed) -> first run timed on its own (the cold run) ->
 *   warm-up by count and by time -> batch size chosen from the timer's
 *   resolution -> harness floor measured -> samples taken until the
 *   confidence interval of the median is within a target (default 1 %) or a
 *   time cap, never fewer than 5 -> robust statistics.
 * Samples during which the process was preempted or migrated are discarded
 * and re-taken (counted in the result). The clock, its resolution and read
 * overhead, the floor subtracted, the batch size, the cache state and the
 * machine's environment are stated with every result, with notes (what was
 * not available) and warnings (why the number may be noisy).
 *
 * Times are in microseconds per run unless a name says otherwise. Numbers
 * that could not be known (a sysfs entry that is absent, a counter without a
 * PMU) are NaN, or -1 for counts, and become JSON null. */
#ifndef OPCOST_PROBE_H
#define OPCOST_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opcost/op.h"
#include "opcost/status.h"
#include "opcost/target.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The fewest samples a statistic is ever computed from. */
#define OC_PROBE_MIN_SAMPLES 5
/* Notes and warnings kept per result, and the length of each. */
#define OC_PROBE_MAX_NOTES 12
#define OC_PROBE_NOTE_MAX 256
/* Format tag of a device profile file. */
#define OC_DEVICE_PROFILE_FORMAT "opcost-device-profile/1"

/* ---- clocks ------------------------------------------------------------ */

enum oc_clock {
  oc_clock_auto,          /* TSC where invariant and trusted, else monotonic_raw */
  oc_clock_monotonic_raw, /* clock_gettime(CLOCK_MONOTONIC_RAW) */
  oc_clock_tsc,           /* x86 rdtsc, calibrated against CLOCK_MONOTONIC_RAW */
  oc_clock_device,        /* the target's own timer (oc_target_time_runs) */
};

/* The clock a measurement used and how good it is. */
struct oc_timer_info {
  enum oc_clock clock;
  char name[96];        /* e.g. "TSC (rdtsc, invariant, 2596.1 MHz)" */
  double tick_ns;       /* nominal period of one count (clock_getres, 1/TSC freq) */
  double resolution_ns; /* smallest non-zero step between back-to-back reads */
  double overhead_ns;   /* median cost of one read */
  double tsc_mhz;       /* TSC frequency; NaN for other clocks */
};

/* Chooses the clock (oc_clock_auto picks as above) and measures its tick,
 * resolution and overhead. The TSC calibration (about 20 ms) and the
 * measurements are done once per process and clock; later calls are
 * cheap. Fails with unavailable when the clock asked for cannot be used
 * here (oc_clock_tsc on a machine without an invariant TSC), invalid_argument
 * for oc_clock_device (only a target has one). */
enum oc_status oc_probe_timer(enum oc_clock clock, struct oc_timer_info *info);

const char *oc_clock_name(enum oc_clock clock); /* "auto", "monotonic_raw", "tsc", "device" */
/* not_found when the name is not a clock. */
enum oc_status oc_clock_from_name(const char *name, enum oc_clock *clock);

/* ---- statistics ---------------------------------------------------------- */

/* Robust statistics of a set of samples; the unit is the samples' own
 * (µs in a measurement). Percentiles interpolate linearly between order
 * statistics (NumPy's default). MAD is the median absolute deviation from
 * the median, unscaled. The confidence interval of the median is
 * distribution-free: a pair of order statistics chosen from the binomial
 * distribution (exactly up to 200 samples, by its normal approximation
 * above), so its coverage does not assume the samples are normal. */
struct oc_stats {
  int64_t n;
  double min_us, max_us;
  double median_us, mean_us;
  double p10_us, p90_us;
  double mad_us;
  double stddev_us;  /* sample standard deviation (n - 1) */
  double cv;         /* stddev / mean; 0 when mean is 0 */
  double confidence; /* of the interval below, e.g. 0.95 */
  double ci_low_us, ci_high_us;
  double ci_rel; /* max distance from the median to an end, / median */
};

/* Computes stats of n >= 1 samples (finite numbers; the array is not
 * changed). confidence in (0, 1). invalid_argument for n < 1, a NaN or
 * infinite sample, or a confidence outside (0, 1); out_of_memory. */
enum oc_status oc_stats_compute(const double *samples, size_t n, double confidence,
                                struct oc_stats *stats);

/* ---- options ------------------------------------------------------------- */

enum oc_cache_state {
  oc_cache_warm, /* one kernel, its weights and activations stay cached between runs */
  oc_cache_cold, /* runs rotate over separately prepared kernels whose buffers
                    together exceed the last-level cache (where too few kernels
                    fit, an eviction buffer is also read before each sample) */
};

struct oc_measure_opts {
  int min_samples;           /* >= OC_PROBE_MIN_SAMPLES (5) */
  int max_samples;           /* cap on accepted samples (default 100000) */
  int warmup_runs;           /* warm-up lasts at least this many runs ... (3) */
  double warmup_s;           /* ... and at least this long (0.02 s) */
  double min_time_s;         /* keep sampling at least this long (0.02 s) */
  double max_time_s;         /* stop sampling after this long, converged or not (1 s);
                                the min_samples floor still applies */
  double target_ci;          /* stop when ci_rel <= this (0.01) */
  double confidence;         /* of the median's interval (0.95) */
  enum oc_cache_state cache; /* warm */
  int64_t cold_bytes;        /* cold: bytes the rotating sets should span; 0 = 2 x LLC */
  int batch;                 /* runs timed together per sample; 0 = automatic: enough
                                runs that a sample lasts resolution_factor x the
                                timer resolution */
  double resolution_factor;  /* 20 */
  enum oc_clock clock;       /* host clock (auto) */
  bool device_timer;         /* use the target's time_runs() when it has one (true) */
  bool raw;                  /* keep the accepted samples (false) */
  bool counters;             /* counters explicitly requested: if PAPI cannot count
                                them, fail instead of noting it (false) */
  bool reject_disturbed;     /* discard samples with a context switch or migration (true) */
  int max_rejected;          /* after this many discarded samples, keep them (1000) */
  double warn_cv;            /* warn when the CV exceeds this (0.05) */
  double warn_freq_change;   /* warn when the frequency moves by more than this
                                fraction between before and after (0.05) */
  double cooldown_s;         /* sleep this long before measuring (0) */
  uint64_t seed;             /* of the input data (1) */
};

/* Fills the defaults given in brackets above. */
void oc_measure_opts_default(struct oc_measure_opts *opts);
/* invalid_argument naming the field when an option is out of range. */
enum oc_status oc_measure_opts_check(const struct oc_measure_opts *opts);

/* ---- environment ---------------------------------------------------------- */

/* The machine a measurement was taken on. Strings are "" when unknown,
 * numbers NaN (or -1 for counts). */
struct oc_env {
  char cpu_model[128];
  char kernel[256];        /* uname: sysname release version machine */
  char runtime[128];       /* the target's runtime (e.g. XNNPACK and its version) */
  char opcost_version[32]; /* OC_VERSION_STRING */
  char fingerprint[17];    /* device fingerprint */
  char target[32];
  char measured_at[32]; /* UTC, ISO 8601 */
  int cores_online;
  int threads;        /* threads the target uses */
  char pinned[128];   /* cores asked for ("0,2-3"); "" when not pinned */
  char affinity[128]; /* CPUs the measuring thread may run on */
  char governor[32];
  char freq_source[64]; /* where the frequency came from (cpufreq, /proc/cpuinfo) */
  double freq_mhz_before, freq_mhz_after; /* mean over the measured cores */
  char temp_source[64];                   /* thermal zone or hwmon sensor */
  double temp_c_before, temp_c_after;     /* hottest sensor */
  double load1, load5, load15;
  double steal_pct; /* CPU time stolen by the hypervisor during the
                       measurement, % of all CPU time (NaN when unknown) */
  /* Raw counters behind steal_pct (from /proc/stat). */
  int64_t stat_steal_before, stat_total_before;
};

/* Records everything knowable now about the machine: the "before" half.
 * target may be NULL (then target, runtime, fingerprint and threads stay
 * unknown). Never fails: an unreadable entry stays unknown. */
void oc_env_capture(struct oc_target *target, struct oc_env *env);
/* Records the "after" half (frequency, temperature, steal time). */
void oc_env_finish(struct oc_env *env);

/* ---- counters -------------------------------------------------------------- */

struct oc_counters {
  char source[64]; /* "PAPI perf_event", "getrusage", ... */
  bool software;   /* context switches / migrations / page faults counted by PAPI */
  bool hardware;   /* cycles / instructions / cache misses counted (a PMU exists) */
  int64_t runs;    /* runs the per-run figures are averaged over */
  double cycles_per_run, instructions_per_run, cache_misses_per_run, ipc; /* NaN: unknown */
  /* Over every timed sample, the discarded ones included; -1: unknown. */
  int64_t context_switches;     /* of the measuring thread (PAPI) */
  int64_t involuntary_switches; /* of the whole process (getrusage) */
  int64_t migrations;
  int64_t page_faults;
};

/* ---- results ----------------------------------------------------------------- */

enum oc_stop_reason {
  oc_stop_converged,  /* the median's interval reached target_ci */
  oc_stop_time_cap,   /* max_time_s ran out first */
  oc_stop_sample_cap, /* max_samples reached first */
};
const char *oc_stop_reason_name(enum oc_stop_reason reason);

struct oc_measurement {
  char key[OC_KEY_MAX];  /* op key; "" for a kernel timed by oc_probe_kernel */
  struct oc_stats stats; /* µs per run, floor subtracted */
  double cold_us;        /* the first run after prepare, alone; NaN if not taken */
  int batch;             /* runs per sample */
  int64_t warmup_runs;   /* runs spent warming up */
  int64_t rejected;      /* samples discarded as disturbed and re-taken */
  enum oc_stop_reason stop;
  double duration_s; /* wall time of the whole measurement */
  enum oc_cache_state cache;
  int sets;               /* kernels rotated over (1 when warm) */
  int64_t set_bytes;      /* bytes of inputs, weights and outputs of one set */
  int64_t eviction_bytes; /* buffer read between samples when the sets alone
                             do not span cold_bytes; 0 when not used */
  struct oc_timer_info timer;
  bool device_timer; /* samples came from the target's own timer */
  double floor_ns;   /* harness cost per sample subtracted (empty loop) */
  struct oc_counters counters;
  struct oc_env env;
  int n_notes, n_warnings;
  char notes[OC_PROBE_MAX_NOTES][OC_PROBE_NOTE_MAX];    /* what was not available */
  char warnings[OC_PROBE_MAX_NOTES][OC_PROBE_NOTE_MAX]; /* why the result may be noisy */
  double *raw_us; /* accepted samples in the order taken (opts.raw), else NULL */
  size_t n_raw;
};

/* Frees raw_us; the struct can be reused. NULL-safe. */
void oc_measurement_release(struct oc_measurement *m);

/* ---- measuring ------------------------------------------------------------------ */

/* Measures op on an open target: allocates inputs and weights (seeded
 * random data), prepares one kernel (warm) or enough kernels to span
 * cold_bytes (cold), times them and releases them. m is overwritten;
 * oc_measurement_release it afterwards. Fails with what preparing fails
 * with (unsupported when the target does not run the op, naming it),
 * unavailable when counters were requested and cannot be counted,
 * invalid_argument for bad options, out_of_memory. */
enum oc_status oc_probe_op(struct oc_target *target, const struct oc_op *op,
                           const struct oc_measure_opts *opts, struct oc_measurement *m);

/* Times kernels that are already prepared (a whole network, for one), taken
 * in turn, one per run. The first run of kernels[0] is the cold run: call this
 * before running it otherwise. With cache = cold and too few kernels to span
 * cold_bytes, an eviction buffer is read before every sample (and then a
 * sample is one run). n_kernels >= 1. */
enum oc_status oc_probe_kernels(struct oc_target *target, struct oc_kernel *const *kernels,
                                int n_kernels, const struct oc_measure_opts *opts,
                                struct oc_measurement *m);
/* oc_probe_kernels with one kernel. */
enum oc_status oc_probe_kernel(struct oc_target *target, struct oc_kernel *kernel,
                               const struct oc_measure_opts *opts, struct oc_measurement *m);

/* Where the adaptive loop gets its samples: take() stores the time of one
 * run in µs and sets *disturbed when the sample must be discarded and
 * re-taken. A failure of take() ends the measurement with its status. */
struct oc_sample_source {
  enum oc_status (*take)(void *ctx, double *us, bool *disturbed);
  void *ctx;
};

/* The adaptive repetition on its own: takes samples until the confidence
 * interval of the median is within opts->target_ci (after at least
 * min_samples and min_time_s), or max_time_s / max_samples is reached.
 * Fills m->stats, stop, rejected, the raw samples (opts->raw), and warnings
 * for a high CV or no convergence; leaves the other fields of m alone. */
enum oc_status oc_probe_adaptive(const struct oc_sample_source *source,
                                 const struct oc_measure_opts *opts, struct oc_measurement *m);

/* ---- device characterization ---------------------------------------------------- */

/* A device's measured capabilities. Bandwidths in GB/s (1e9 bytes/s),
 * FLOP/s in GFLOP/s (1e9), latency in ns, ridge points in FLOP/byte. */
#define OC_PROFILE_MAX_POINTS 40
#define OC_PROFILE_MAX_LEVELS 4

struct oc_bandwidth_point {
  int64_t bytes;   /* working set */
  double read_gbs; /* one core reading the set */
  double copy_gbs; /* one core copying half the set into the other half (bytes read + written) */
};

struct oc_memory_level {
  char name[8];        /* "L1", "L2", "L3", "DRAM" */
  int64_t size_bytes;  /* capacity as the device reports it; 0 for DRAM */
  int64_t working_set; /* bytes used to measure this level */
  double read_gbs, copy_gbs;
  double latency_ns;           /* load-to-use, pointer chase over a random cycle */
  double ridge_flops_per_byte; /* peak (one core) / read_gbs */
};

struct oc_device_profile {
  struct oc_device_info device;
  struct oc_env env;
  struct oc_timer_info timer;
  bool quick;
  char kernel_isa[16]; /* variant of the FMA kernel: avx512f, avx2, neon, generic */
  int cores_used;      /* cores of the all-core figures */
  double peak_gflops_one_core;
  double peak_gflops_all_cores;
  double dram_read_gbs_all_cores;
  double ridge_all_cores; /* peak (all cores) / DRAM read (all cores) */
  int n_points;
  struct oc_bandwidth_point points[OC_PROFILE_MAX_POINTS];
  int n_levels;
  struct oc_memory_level levels[OC_PROFILE_MAX_LEVELS];
  /* GPUs (opencl, vulkan): the fixed cost of one kernel, host enqueue to
   * completion, and an empty kernel's device time; 0 when not measured (CPU
   * profiles). A GPU profile has one level, "DRAM" (device memory, measured
   * by a buffer copy), whose load-to-use latency is unknown (NaN). */
  double launch_us;
  double empty_kernel_us;
  double duration_s;
};

struct oc_device_opts {
  bool quick; /* about 5 s instead of about 30 s */
  /* Called between steps (from the calling thread); may be NULL. */
  void (*progress)(void *ctx, int done, int total, const char *step);
  void *progress_ctx;
};

/* Characterizes the device behind target: peak FP32 FLOP/s on one core and
 * on all cores (the target's pinned cores, or every core the process may
 * use), read and copy bandwidth over a sweep of working sets, load-to-use
 * latency per cache level, the timer, and the roofline these imply.
 * Supported for the host-CPU targets (cpu, ref) and, when built, the GPU
 * targets (opencl, vulkan: peak, device-memory bandwidth, launch overhead);
 * unsupported for others. */
enum oc_status oc_probe_device(struct oc_target *target, const struct oc_device_opts *opts,
                               struct oc_device_profile *profile);

/* Writes profile as JSON (format OC_DEVICE_PROFILE_FORMAT) to path. io_error
 * naming the file. */
enum oc_status oc_probe_profile_save(const struct oc_device_profile *profile, const char *path);
/* Reads a profile file. io_error (cannot read), parse_error (not JSON:
 * file, line, column), incompatible (format tag), invalid_argument (a field
 * missing or of the wrong type or range) - each naming the file and field. */
enum oc_status oc_probe_profile_load(const char *path, struct oc_device_profile *profile);

/* ---- JSON ---------------------------------------------------------------------- */
/* New references (json_decref them); NULL only when out of memory. Unknown
 * numbers become null. The LUT stores these same objects. */
json_t *oc_stats_to_json(const struct oc_stats *stats);
json_t *oc_env_to_json(const struct oc_env *env);
json_t *oc_timer_to_json(const struct oc_timer_info *timer);
json_t *oc_counters_to_json(const struct oc_counters *counters);
json_t *oc_measurement_to_json(const struct oc_measurement *m);
json_t *oc_probe_device_info_to_json(const struct oc_device_info *info);
json_t *oc_device_profile_to_json(const struct oc_device_profile *profile);

/* The inverses that profile loading needs. invalid_argument naming the
 * field (prefixed by `where`, e.g. "profile.json: env") when a field is
 * missing or of the wrong type. */
enum oc_status oc_env_from_json(const json_t *json, const char *where, struct oc_env *env);
enum oc_status oc_timer_from_json(const json_t *json, const char *where,
                                  struct oc_timer_info *timer);
enum oc_status oc_probe_device_info_from_json(const json_t *json, const char *where,
                                              struct oc_device_info *info);
enum oc_status oc_device_profile_from_json(const json_t *json, const char *where,
                                           struct oc_device_profile *profile);

#ifdef __cplusplus
}
#endif
#endif
