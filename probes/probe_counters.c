/* probe_counters.c - counting what happened during a measurement, through
 * PAPI (its perf_event component; native event names resolved by libpfm4)
 * and getrusage.
 *
 * Two kinds of event, with different jobs:
 *   software events (context switches, CPU migrations, page faults) exist
 *     on every Linux machine, VMs included; they decide whether a sample was
 *     disturbed and must be re-taken;
 *   hardware events (cycles, instructions, cache misses) need a PMU, which
 *     many VMs do not expose; they are reported per run when they exist and
 *     noted as absent otherwise.
 * PAPI counts the calling thread only, so preemption of worker threads is
 * caught with getrusage(RUSAGE_SELF), whose involuntary-switch count covers
 * every thread of the process. When PAPI cannot be used, getrusage is the
 * documented fallback (it has no migration count).
 *
 * PAPI is initialised once per process (PAPI_library_init, then
 * PAPI_thread_init so that every measuring thread may have its own event
 * set); whether a PMU exists is found by trying to add a cycles event, since
 * PAPI_num_cmp_hwctrs reports the architectural counter count even where the
 * hypervisor does not back it. */
#include <math.h>
#include <papi.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "core/core.h"
#include "probes/probe_internal.h"

struct papi_global {
  pthread_once_t once;
  bool ok;       /* library initialised and perf_event enabled */
  char why[256]; /* when not ok: what failed, with PAPI's code */
  bool pmu;      /* hardware events can be added */
  char pmu_why[256];
};

static struct papi_global papi = {PTHREAD_ONCE_INIT, false, "", false, ""};

static unsigned long thread_id(void) { return (unsigned long)pthread_self(); }

/* Adds the first of names that PAPI knows and can count to eventset;
 * returns its index in the set or -1. */
static int add_first(int eventset, const char *const *names, int *n_events, int *last_rc) {
  for (int i = 0; names[i] != NULL; i++) {
    int code = 0;
    int rc = PAPI_event_name_to_code((char *)names[i], &code);
    if (rc == PAPI_OK) rc = PAPI_add_event(eventset, code);
    *last_rc = rc;
    if (rc == PAPI_OK) return (*n_events)++;
  }
  return -1;
}

static const char *const cycles_names[] = {"perf::CYCLES", "PAPI_TOT_CYC", NULL};
static const char *const instructions_names[] = {"perf::INSTRUCTIONS", "PAPI_TOT_INS", NULL};
static const char *const misses_names[] = {"perf::CACHE-MISSES", "PAPI_L3_TCM", "PAPI_L2_TCM",
                                           NULL};
static const char *const switches_names[] = {"perf::CONTEXT-SWITCHES", NULL};
static const char *const migrations_names[] = {"perf::CPU-MIGRATIONS", NULL};
static const char *const faults_names[] = {"perf::PAGE-FAULTS", NULL};

static void init_papi(void) {
  int rc = PAPI_library_init(PAPI_VER_CURRENT);
  if (rc != PAPI_VER_CURRENT) {
    oc__strfmt(papi.why, sizeof papi.why, "PAPI_library_init failed: code %d (%s)", rc,
               rc < 0 ? PAPI_strerror(rc) : "version mismatch");
    return;
  }
  rc = PAPI_thread_init(thread_id);
  if (rc != PAPI_OK) {
    oc__strfmt(papi.why, sizeof papi.why, "PAPI_thread_init failed: code %d (%s)", rc,
               PAPI_strerror(rc));
    return;
  }
  int cidx = PAPI_get_component_index("perf_event");
  const PAPI_component_info_t *ci = cidx >= 0 ? PAPI_get_component_info(cidx) : NULL;
  if (ci == NULL) {
    oc__strfmt(papi.why, sizeof papi.why, "PAPI has no perf_event component");
    return;
  }
  if (ci->disabled) {
    oc__strfmt(papi.why, sizeof papi.why, "PAPI perf_event component disabled: code %d (%s)",
               ci->disabled, ci->disabled_reason);
    return;
  }
  papi.ok = true;
  int eventset = PAPI_NULL;
  if (PAPI_create_eventset(&eventset) != PAPI_OK) {
    oc__strfmt(papi.pmu_why, sizeof papi.pmu_why, "cannot create a PAPI event set");
    return;
  }
  int n = 0, last = PAPI_OK;
  papi.pmu = add_first(eventset, cycles_names, &n, &last) >= 0;
  if (!papi.pmu)
    oc__strfmt(papi.pmu_why, sizeof papi.pmu_why,
               "no hardware performance counters (no PMU visible; PAPI: %s, %d hardware "
               "counters reported): cycles, instructions and cache misses are not counted",
               PAPI_strerror(last), PAPI_num_cmp_hwctrs(cidx));
  PAPI_cleanup_eventset(eventset);
  PAPI_destroy_eventset(&eventset);
}

static void drop_set(struct oc__counter_session *s) {
  if (s->eventset != PAPI_NULL) {
    PAPI_cleanup_eventset(s->eventset);
    PAPI_destroy_eventset(&s->eventset);
  }
  s->eventset = PAPI_NULL;
  s->n_events = 0;
  s->idx_switches = s->idx_migrations = s->idx_faults = -1;
  s->idx_cycles = s->idx_instructions = s->idx_misses = -1;
}

/* Creates and starts an event set: the software events, and the hardware
 * ones first (as group leader) when with_hw. Returns a PAPI code; on
 * failure the session has no event set and *what says which step failed. */
static int build_set(struct oc__counter_session *s, bool with_hw, const char **what) {
  drop_set(s);
  int rc = PAPI_create_eventset(&s->eventset);
  if (rc != PAPI_OK) {
    s->eventset = PAPI_NULL;
    *what = "PAPI_create_eventset";
    return rc;
  }
  int last = PAPI_OK;
  if (with_hw) {
    s->idx_cycles = add_first(s->eventset, cycles_names, &s->n_events, &last);
    s->idx_instructions = add_first(s->eventset, instructions_names, &s->n_events, &last);
    s->idx_misses = add_first(s->eventset, misses_names, &s->n_events, &last);
  }
  s->idx_switches = add_first(s->eventset, switches_names, &s->n_events, &last);
  s->idx_migrations = add_first(s->eventset, migrations_names, &s->n_events, &last);
  s->idx_faults = add_first(s->eventset, faults_names, &s->n_events, &last);
  if (s->idx_switches < 0 || s->idx_migrations < 0) {
    drop_set(s);
    *what = "adding perf::CONTEXT-SWITCHES and perf::CPU-MIGRATIONS";
    return last != PAPI_OK ? last : PAPI_ENOEVNT;
  }
  rc = PAPI_start(s->eventset);
  if (rc != PAPI_OK) {
    drop_set(s);
    *what = "PAPI_start";
  }
  return rc;
}

enum oc_status oc__counters_start(bool required, int threads, struct oc__counter_session *s,
                                  struct oc_measurement *m) {
  memset(s, 0, sizeof *s);
  s->eventset = PAPI_NULL;
  drop_set(s);
  s->one_thread = threads <= 1;
  struct oc_counters *out = &m->counters;
  out->cycles_per_run = out->instructions_per_run = out->cache_misses_per_run = NAN;
  out->ipc = NAN;
  out->context_switches = out->migrations = out->page_faults = out->involuntary_switches = -1;
  oc__strcpy(out->source, sizeof out->source, "getrusage");

  pthread_once(&papi.once, init_papi);
  if (!papi.ok) {
    if (required) return oc__fail(oc_status_unavailable, "counters: %s", papi.why);
    oc__note(m, "counters: %s; disturbed samples found with getrusage only (no migrations)",
             papi.why);
    return oc_status_ok;
  }
  const char *what = "";
  int rc = build_set(s, papi.pmu, &what);
  if (rc != PAPI_OK && papi.pmu) {
    oc__note(m, "counters: hardware events could not be started (%s: %s); software events only",
             what, PAPI_strerror(rc));
    rc = build_set(s, false, &what);
  } else if (!papi.pmu) {
    oc__note(m, "%s", papi.pmu_why);
  }
  if (rc != PAPI_OK) {
    if (required)
      return oc__fail(oc_status_unavailable, "counters: %s failed: code %d (%s)", what, rc,
                      PAPI_strerror(rc));
    oc__note(m, "counters: %s failed (%s); disturbed samples found with getrusage only", what,
             PAPI_strerror(rc));
    return oc_status_ok;
  }
  oc__strcpy(out->source, sizeof out->source, "PAPI perf_event + getrusage");
  return oc_status_ok;
}

static void read_rusage(struct oc__counter_snap *snap) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    snap->nivcsw = ru.ru_nivcsw;
    snap->faults = ru.ru_minflt + ru.ru_majflt;
  }
}

/* The two sources are read in mirrored order before and after a sample
 * (getrusage, PAPI | PAPI, getrusage), so both windows enclose the timed
 * code. */
void oc__counters_snap(const struct oc__counter_session *s, struct oc__counter_snap *snap,
                       bool after) {
  memset(snap, 0, sizeof *snap);
  if (!after) read_rusage(snap);
  if (s->eventset != PAPI_NULL && s->n_events > 0) PAPI_read(s->eventset, snap->values);
  if (after) read_rusage(snap);
}

bool oc__counters_disturbed(const struct oc__counter_session *s,
                            const struct oc__counter_snap *before,
                            const struct oc__counter_snap *after) {
  if (after->nivcsw != before->nivcsw) return true;
  if (s->idx_migrations >= 0 &&
      after->values[s->idx_migrations] != before->values[s->idx_migrations])
    return true;
  if (s->one_thread && s->idx_switches >= 0 &&
      after->values[s->idx_switches] != before->values[s->idx_switches])
    return true;
  return false;
}

void oc__counters_account(struct oc__counter_session *s, const struct oc__counter_snap *before,
                          const struct oc__counter_snap *after, int64_t runs) {
  for (int i = 0; i < s->n_events; i++) s->sum[i] += after->values[i] - before->values[i];
  s->sum_nivcsw += after->nivcsw - before->nivcsw;
  s->sum_faults += after->faults - before->faults;
  s->runs += runs;
}

void oc__counters_stop(struct oc__counter_session *s, struct oc_counters *out) {
  out->runs = s->runs;
  out->involuntary_switches = s->sum_nivcsw;
  out->page_faults = s->sum_faults;
  if (s->eventset == PAPI_NULL) return;
  long long v[OC__MAX_EVENTS];
  PAPI_stop(s->eventset, v);
  (void)v;
  out->software = s->idx_switches >= 0;
  if (s->idx_switches >= 0) out->context_switches = s->sum[s->idx_switches];
  if (s->idx_migrations >= 0) out->migrations = s->sum[s->idx_migrations];
  if (s->idx_faults >= 0) out->page_faults = s->sum[s->idx_faults];
  double per = s->runs > 0 ? 1.0 / (double)s->runs : NAN;
  if (s->idx_cycles >= 0) out->cycles_per_run = (double)s->sum[s->idx_cycles] * per;
  if (s->idx_instructions >= 0)
    out->instructions_per_run = (double)s->sum[s->idx_instructions] * per;
  if (s->idx_misses >= 0) out->cache_misses_per_run = (double)s->sum[s->idx_misses] * per;
  out->hardware = s->idx_cycles >= 0;
  if (out->cycles_per_run > 0 && !isnan(out->instructions_per_run))
    out->ipc = out->instructions_per_run / out->cycles_per_run;
  drop_set(s);
}
