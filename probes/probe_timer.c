/* probe_timer.c - choosing the host clock and measuring how good it is.
 *
 * Two clocks: CLOCK_MONOTONIC_RAW (never slewed by NTP, available
 * everywhere) and, on x86, the TSC read with rdtsc. The TSC is chosen only
 * where it is invariant (CPUID 0x80000007 EDX bit 8: constant rate through
 * P- and C-states) and the kernel still trusts it (the current clocksource
 * is "tsc", when that file is readable): then it is cheaper to read than a
 * vDSO call and has sub-nanosecond ticks. Its rate is calibrated once per
 * process against CLOCK_MONOTONIC_RAW over about 20 ms.
 *
 * For each clock the tick, the resolution (smallest non-zero step seen
 * between back-to-back reads) and the overhead (median cost of one read)
 * are measured once and cached; the harness floor, which depends on the
 * batch size, is measured per measurement in probe_measure.c. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "probes/probe_internal.h"

#if OC__HAVE_TSC
#include <cpuid.h>
#endif

static const char *const clock_names[] = {"auto", "monotonic_raw", "tsc", "device"};

const char *oc_clock_name(enum oc_clock clock) {
  if ((unsigned)clock < sizeof clock_names / sizeof clock_names[0]) return clock_names[clock];
  return "unknown";
}

enum oc_status oc_clock_from_name(const char *name, enum oc_clock *clock) {
  for (size_t i = 0; i < sizeof clock_names / sizeof clock_names[0]; i++) {
    if (strcmp(name, clock_names[i]) == 0) {
      *clock = (enum oc_clock)i;
      return oc_status_ok;
    }
  }
  return oc__fail(oc_status_not_found, "clock '%s' is not one of auto, monotonic_raw, tsc, device",
                  name);
}

double oc__now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Cached per clock: filled once under pthread_once. */
struct clock_cache {
  pthread_once_t once;
  enum oc_status status;
  char why[256];
  double ns_per_tick;
  struct oc_timer_info info;
};

static struct clock_cache mono_cache = {PTHREAD_ONCE_INIT, oc_status_ok, "", 1.0, {0}};
static struct clock_cache tsc_cache = {PTHREAD_ONCE_INIT, oc_status_ok, "", NAN, {0}};

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Resolution and overhead of a clock, in its own counts. Bounded work:
 * 20000 reads for the resolution, 31 x 1000 for the overhead. */
static void measure_clock(enum oc_clock clock, double ns_per_tick, struct oc_timer_info *info) {
  uint64_t smallest = UINT64_MAX;
  uint64_t prev = oc__clock_read(clock);
  for (int i = 0; i < 20000; i++) {
    uint64_t now = oc__clock_read(clock);
    if (now > prev && now - prev < smallest) smallest = now - prev;
    prev = now;
  }
  enum { rounds = 31, reads = 1000 };
  uint64_t per_round[rounds];
  for (int r = 0; r < rounds; r++) {
    uint64_t t0 = oc__clock_read(clock);
    for (int i = 0; i < reads - 1; i++) (void)oc__clock_read(clock);
    uint64_t t1 = oc__clock_read(clock);
    per_round[r] = t1 - t0;
  }
  qsort(per_round, rounds, sizeof per_round[0], cmp_u64);
  info->resolution_ns = smallest == UINT64_MAX ? NAN : (double)smallest * ns_per_tick;
  info->overhead_ns = (double)per_round[rounds / 2] / reads * ns_per_tick;
}

static void init_mono(void) {
  struct clock_cache *c = &mono_cache;
  struct timespec res;
  c->ns_per_tick = 1.0;
  c->info.clock = oc_clock_monotonic_raw;
  oc__strcpy(c->info.name, sizeof c->info.name, "CLOCK_MONOTONIC_RAW");
  c->info.tick_ns = clock_getres(CLOCK_MONOTONIC_RAW, &res) == 0
                        ? (double)res.tv_sec * 1e9 + (double)res.tv_nsec
                        : NAN;
  c->info.tsc_mhz = NAN;
  measure_clock(oc_clock_monotonic_raw, 1.0, &c->info);
  c->status = oc_status_ok;
}

/* Why the TSC cannot be used here; "" when it can. */
static void tsc_unusable(char *why, size_t size) {
  why[0] = '\0';
#if OC__HAVE_TSC
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u) {
    oc__strfmt(why, size, "CPUID has no leaf 0x80000007 (cannot tell if the TSC is invariant)");
    return;
  }
  __get_cpuid(0x80000007u, &a, &b, &c, &d);
  if (!(d & (1u << 8))) {
    oc__strfmt(why, size, "the TSC is not invariant (CPUID 0x80000007 EDX bit 8 clear)");
    return;
  }
  FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
  if (f != NULL) {
    char line[64] = "";
    if (fgets(line, sizeof line, f) != NULL) {
      line[strcspn(line, "\n")] = '\0';
      if (strcmp(line, "tsc") != 0)
        oc__strfmt(why, size, "the kernel does not trust the TSC (clocksource is '%s')", line);
    }
    fclose(f);
  }
#else
  oc__strfmt(why, size, "this CPU has no TSC");
#endif
}

/* One (TSC, CLOCK_MONOTONIC_RAW ns) pair, taken where the two TSC reads
 * around the clock_gettime are closest together (of 50 tries). */
static void tsc_pair(uint64_t *tsc, uint64_t *ns) {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 50; i++) {
    uint64_t a = oc__clock_read(oc_clock_tsc);
    uint64_t t = oc__clock_read(oc_clock_monotonic_raw);
    uint64_t b = oc__clock_read(oc_clock_tsc);
    if (b - a < best) {
      best = b - a;
      *tsc = a + (b - a) / 2;
      *ns = t;
    }
  }
}

static void init_tsc(void) {
  struct clock_cache *c = &tsc_cache;
  tsc_unusable(c->why, sizeof c->why);
  if (c->why[0]) {
    c->status = oc_status_unavailable;
    return;
  }
  /* Spin (not sleep) 20 ms between the two pairs: a sleeping vCPU may be
   * descheduled, which does not matter to the rate but costs time. */
  uint64_t tsc0 = 0, ns0 = 0, tsc1 = 0, ns1 = 0;
  tsc_pair(&tsc0, &ns0);
  do {
    tsc_pair(&tsc1, &ns1);
  } while (ns1 - ns0 < 20000000u);
  if (tsc1 <= tsc0) {
    c->status = oc_status_unavailable;
    oc__strfmt(c->why, sizeof c->why, "the TSC did not advance during calibration");
    return;
  }
  c->ns_per_tick = (double)(ns1 - ns0) / (double)(tsc1 - tsc0);
  c->info.clock = oc_clock_tsc;
  c->info.tsc_mhz = 1e3 / c->ns_per_tick;
  c->info.tick_ns = c->ns_per_tick;
  oc__strfmt(c->info.name, sizeof c->info.name, "TSC (rdtsc, invariant, %.1f MHz)",
             c->info.tsc_mhz);
  measure_clock(oc_clock_tsc, c->ns_per_tick, &c->info);
  c->status = oc_status_ok;
}

double oc__clock_ns_per_tick(enum oc_clock clock) {
  return clock == oc_clock_tsc ? tsc_cache.ns_per_tick : 1.0;
}

enum oc_status oc_probe_timer(enum oc_clock clock, struct oc_timer_info *info) {
  switch (clock) {
  case oc_clock_auto:
    pthread_once(&tsc_cache.once, init_tsc);
    if (tsc_cache.status == oc_status_ok) {
      *info = tsc_cache.info;
      return oc_status_ok;
    }
    pthread_once(&mono_cache.once, init_mono);
    *info = mono_cache.info;
    return oc_status_ok;
  case oc_clock_monotonic_raw:
    pthread_once(&mono_cache.once, init_mono);
    *info = mono_cache.info;
    return oc_status_ok;
  case oc_clock_tsc:
    pthread_once(&tsc_cache.once, init_tsc);
    if (tsc_cache.status != oc_status_ok)
      return oc__fail(tsc_cache.status, "clock tsc: %s", tsc_cache.why);
    *info = tsc_cache.info;
    return oc_status_ok;
  case oc_clock_device:
    return oc__fail(oc_status_invalid_argument,
                    "clock device: only a target's own timer is a device clock");
  }
  return oc__fail(oc_status_invalid_argument, "clock: value %d is not a clock", (int)clock);
}
