/* probe_internal.h - what the files of probes/ share: reading the clocks,
 * the PAPI/getrusage counter session, notes and warnings, and the memory and
 * FMA kernels of device characterization. Not public. */
#ifndef OPCOST_PROBE_INTERNAL_H
#define OPCOST_PROBE_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include "opcost/probe.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define OC__HAVE_TSC 1
#else
#define OC__HAVE_TSC 0
#endif

/* Reads clock (monotonic_raw or tsc) in its own counts. The fences keep the
 * TSC read from moving across the timed code (rdtsc alone is not ordered). */
static inline uint64_t oc__clock_read(enum oc_clock clock) {
#if OC__HAVE_TSC
  if (clock == oc_clock_tsc) {
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
  }
#endif
  (void)clock;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds per count of clock (after oc_probe_timer succeeded for it). */
double oc__clock_ns_per_tick(enum oc_clock clock);

/* Seconds on CLOCK_MONOTONIC: wall time of loops and caps, not samples. */
double oc__now_s(void);

/* Appends a note or warning to m (dropped silently when the list is full:
 * the first ones are the most telling). */
void oc__note(struct oc_measurement *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void oc__warn(struct oc_measurement *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- counters --------------------------------------------------------- */

enum { OC__MAX_EVENTS = 8 };

/* One measurement's counting: a PAPI event set on the calling thread (when
 * PAPI works) plus getrusage for the whole process. */
struct oc__counter_session {
  int eventset; /* PAPI_NULL when PAPI is not used */
  int n_events;
  int idx_switches, idx_migrations, idx_faults, idx_cycles, idx_instructions, idx_misses;
  bool one_thread; /* any context switch of the measuring thread disturbs */
  /* Sums over the samples accounted so far. */
  long long sum[OC__MAX_EVENTS];
  long sum_nivcsw;
  long sum_faults;
  int64_t runs;
};

struct oc__counter_snap {
  long long values[OC__MAX_EVENTS];
  long nivcsw;
  long faults;
};

/* Starts counting. With required set, a PAPI that cannot count (init
 * failure, perf_event component disabled) is an error (unavailable, with
 * PAPI's code and reason); otherwise a note in m and getrusage alone. No PMU
 * is a note either way. */
enum oc_status oc__counters_start(bool required, int threads, struct oc__counter_session *session,
                                  struct oc_measurement *m);
void oc__counters_snap(const struct oc__counter_session *session, struct oc__counter_snap *snap,
                       bool after);
/* True when something between the two snapshots disturbed a sample:
 * an involuntary context switch in the process, a migration of the
 * measuring thread, or (one thread) any context switch of it. */
bool oc__counters_disturbed(const struct oc__counter_session *session,
                            const struct oc__counter_snap *before,
                            const struct oc__counter_snap *after);
/* Adds what happened between two snapshots (one sample of `runs` runs). */
void oc__counters_account(struct oc__counter_session *session,
                          const struct oc__counter_snap *before,
                          const struct oc__counter_snap *after, int64_t runs);
/* Stops, releases the event set and fills out: totals and per-run figures
 * over the samples accounted. */
void oc__counters_stop(struct oc__counter_session *session, struct oc_counters *out);

/* ---- host CPU sets -------------------------------------------------------- */

/* Formats a list of CPU numbers as "0,2-3". */
void oc__format_cpus(const int *cpus, int n, char *buf, size_t size);
/* The CPUs the calling thread may run on (at most max); 0 when unknown. */
int oc__thread_cpus(int *cpus, int max);

/* ---- device kernels (probe_kernels.c) ------------------------------------- */

/* Name of the FMA/read kernel variant this CPU runs ("avx512f", ...). */
const char *oc__kernel_isa(void);
/* Runs `iters` rounds of independent FMA chains; returns the FLOPs done.
 * The result of the chains goes to *sink so nothing is optimised away. */
double oc__fma_kernel(int64_t iters, float *sink);
/* Sums n floats (n a multiple of 64) with vector loads; returns the sum. */
float oc__read_kernel(const float *data, size_t n);

#endif
