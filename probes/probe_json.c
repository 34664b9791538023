/* probe_json.c - JSON forms of measurements, environments, timers, counters,
 * device descriptions and device profiles (jansson), and reading and writing
 * device profile files.
 *
 * The CLI prints these objects and the LUT stores them, so both show the
 * same fields. Unknown numbers (NaN, -1 counts) are written as null. The
 * readers check every field they take and name it (file, object path and
 * field) when it is missing or of the wrong type. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "probes/probe_internal.h"

/* ---- writing ---------------------------------------------------------- */

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *count(int64_t v) { return v >= 0 ? json_integer((json_int_t)v) : json_null(); }

static json_t *str_or_null(const char *s) { return s[0] ? json_string(s) : json_null(); }

/* json_object_set_new that records a failure (NULL value) in *ok. */
static void put(json_t *obj, const char *name, json_t *value, bool *ok) {
  if (obj == NULL || value == NULL || json_object_set_new(obj, name, value) != 0) *ok = false;
}

static json_t *finish(json_t *obj, bool ok) {
  if (ok) return obj;
  json_decref(obj);
  return NULL;
}

json_t *oc_stats_to_json(const struct oc_stats *s) {
  bool ok = true;
  json_t *o = json_object();
  put(o, "n", json_integer((json_int_t)s->n), &ok);
  put(o, "median_us", num(s->median_us), &ok);
  put(o, "mean_us", num(s->mean_us), &ok);
  put(o, "min_us", num(s->min_us), &ok);
  put(o, "max_us", num(s->max_us), &ok);
  put(o, "p10_us", num(s->p10_us), &ok);
  put(o, "p90_us", num(s->p90_us), &ok);
  put(o, "mad_us", num(s->mad_us), &ok);
  put(o, "stddev_us", num(s->stddev_us), &ok);
  put(o, "cv", num(s->cv), &ok);
  put(o, "confidence", num(s->confidence), &ok);
  put(o, "ci_low_us", num(s->ci_low_us), &ok);
  put(o, "ci_high_us", num(s->ci_high_us), &ok);
  put(o, "ci_rel", num(s->ci_rel), &ok);
  return finish(o, ok);
}

json_t *oc_env_to_json(const struct oc_env *e) {
  bool ok = true;
  json_t *o = json_object();
  put(o, "cpu_model", str_or_null(e->cpu_model), &ok);
  put(o, "kernel", str_or_null(e->kernel), &ok);
  put(o, "target", str_or_null(e->target), &ok);
  put(o, "runtime", str_or_null(e->runtime), &ok);
  put(o, "opcost_version", json_string(e->opcost_version), &ok);
  put(o, "fingerprint", str_or_null(e->fingerprint), &ok);
  put(o, "measured_at", str_or_null(e->measured_at), &ok);
  put(o, "cores_online", count(e->cores_online), &ok);
  put(o, "threads", count(e->threads), &ok);
  put(o, "pinned", str_or_null(e->pinned), &ok);
  put(o, "affinity", str_or_null(e->affinity), &ok);
  put(o, "governor", str_or_null(e->governor), &ok);
  put(o, "freq_source", str_or_null(e->freq_source), &ok);
  put(o, "freq_mhz_before", num(e->freq_mhz_before), &ok);
  put(o, "freq_mhz_after", num(e->freq_mhz_after), &ok);
  put(o, "temp_source", str_or_null(e->temp_source), &ok);
  put(o, "temp_c_before", num(e->temp_c_before), &ok);
  put(o, "temp_c_after", num(e->temp_c_after), &ok);
  put(o, "load1", num(e->load1), &ok);
  put(o, "load5", num(e->load5), &ok);
  put(o, "load15", num(e->load15), &ok);
  put(o, "steal_pct", num(e->steal_pct), &ok);
  return finish(o, ok);
}

json_t *oc_timer_to_json(const struct oc_timer_info *t) {
  bool ok = true;
  json_t *o = json_object();
  put(o, "clock", json_string(oc_clock_name(t->clock)), &ok);
  put(o, "name", json_string(t->name), &ok);
  put(o, "tick_ns", num(t->tick_ns), &ok);
  put(o, "resolution_ns", num(t->resolution_ns), &ok);
  put(o, "overhead_ns", num(t->overhead_ns), &ok);
  put(o, "tsc_mhz", num(t->tsc_mhz), &ok);
  return finish(o, ok);
}

json_t *oc_counters_to_json(const struct oc_counters *c) {
  bool ok = true;
  json_t *o = json_object();
  put(o, "source", json_string(c->source), &ok);
  put(o, "software", json_boolean(c->software), &ok);
  put(o, "hardware", json_boolean(c->hardware), &ok);
  put(o, "runs", json_integer((json_int_t)c->runs), &ok);
  put(o, "cycles_per_run", num(c->cycles_per_run), &ok);
  put(o, "instructions_per_run", num(c->instructions_per_run), &ok);
  put(o, "cache_misses_per_run", num(c->cache_misses_per_run), &ok);
  put(o, "ipc", num(c->ipc), &ok);
  put(o, "context_switches", count(c->context_switches), &ok);
  put(o, "involuntary_switches", count(c->involuntary_switches), &ok);
  put(o, "migrations", count(c->migrations), &ok);
  put(o, "page_faults", count(c->page_faults), &ok);
  return finish(o, ok);
}

static json_t *text_list(const char list[][OC_PROBE_NOTE_MAX], int n) {
  json_t *a = json_array();
  for (int i = 0; a != NULL && i < n; i++) {
    if (json_array_append_new(a, json_string(list[i])) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

json_t *oc_measurement_to_json(const struct oc_measurement *m) {
  bool ok = true;
  json_t *o = json_object();
  put(o, "key", str_or_null(m->key), &ok);
  put(o, "stats", oc_stats_to_json(&m->stats), &ok);
  put(o, "cold_us", num(m->cold_us), &ok);
  put(o, "batch", json_integer(m->batch), &ok);
  put(o, "warmup_runs", json_integer((json_int_t)m->warmup_runs), &ok);
  put(o, "rejected", json_integer((json_int_t)m->rejected), &ok);
  put(o, "stop", json_string(oc_stop_reason_name(m->stop)), &ok);
  put(o, "duration_s", num(m->duration_s), &ok);
  json_t *cache = json_object();
  put(cache, "state", json_string(m->cache == oc_cache_cold ? "cold" : "warm"), &ok);
  put(cache, "sets", json_integer(m->sets), &ok);
  put(cache, "set_bytes", json_integer((json_int_t)m->set_bytes), &ok);
  put(cache, "eviction_bytes", json_integer((json_int_t)m->eviction_bytes), &ok);
  put(o, "cache", cache, &ok);
  json_t *timer = oc_timer_to_json(&m->timer);
  put(timer, "device", json_boolean(m->device_timer), &ok);
  put(timer, "floor_ns", num(m->floor_ns), &ok);
  put(o, "timer", timer, &ok);
  put(o, "counters", oc_counters_to_json(&m->counters), &ok);
  put(o, "env", oc_env_to_json(&m->env), &ok);
  put(o, "notes", text_list((const char(*)[OC_PROBE_NOTE_MAX])m->notes, m->n_notes), &ok);
  put(o, "warnings", text_list((const char(*)[OC_PROBE_NOTE_MAX])m->warnings, m->n_warnings), &ok);
  if (m->raw_us != NULL) {
    json_t *raw = json_array();
    for (size_t i = 0; raw != NULL && i < m->n_raw; i++) {
      if (json_array_append_new(raw, json_real(m->raw_us[i])) != 0) ok = false;
    }
    put(o, "raw_us", raw, &ok);
  }
  return finish(o, ok);
}

json_t *oc_probe_device_info_to_json(const struct oc_device_info *d) {
  bool ok = true;
  json_t *o = json_object();
  put(o, "target", json_string(d->target), &ok);
  put(o, "name", json_string(d->name), &ok);
  put(o, "vendor", json_string(d->vendor), &ok);
  put(o, "arch", json_string(d->arch), &ok);
  put(o, "isa", json_string(d->isa), &ok);
  put(o, "runtime", json_string(d->runtime), &ok);
  put(o, "cores_logical", json_integer(d->cores_logical), &ok);
  put(o, "cores_physical", json_integer(d->cores_physical), &ok);
  put(o, "threads", json_integer(d->threads), &ok);
  put(o, "l1d_bytes", json_integer((json_int_t)d->l1d_bytes), &ok);
  put(o, "l2_bytes", json_integer((json_int_t)d->l2_bytes), &ok);
  put(o, "l3_bytes", json_integer((json_int_t)d->l3_bytes), &ok);
  put(o, "memory_bytes", json_integer((json_int_t)d->memory_bytes), &ok);
  put(o, "fingerprint", json_string(d->fingerprint), &ok);
  return finish(o, ok);
}

json_t *oc_device_profile_to_json(const struct oc_device_profile *p) {
  bool ok = true;
  json_t *o = json_object();
  put(o, "format", json_string(OC_DEVICE_PROFILE_FORMAT), &ok);
  put(o, "device", oc_probe_device_info_to_json(&p->device), &ok);
  put(o, "fingerprint", json_string(p->device.fingerprint), &ok);
  put(o, "env", oc_env_to_json(&p->env), &ok);
  put(o, "timer", oc_timer_to_json(&p->timer), &ok);
  put(o, "quick", json_boolean(p->quick), &ok);
  put(o, "duration_s", num(p->duration_s), &ok);
  json_t *peak = json_object();
  put(peak, "kernel_isa", json_string(p->kernel_isa), &ok);
  put(peak, "gflops_one_core", num(p->peak_gflops_one_core), &ok);
  put(peak, "gflops_all_cores", num(p->peak_gflops_all_cores), &ok);
  put(peak, "cores_used", json_integer(p->cores_used), &ok);
  put(o, "peak", peak, &ok);
  json_t *points = json_array();
  for (int i = 0; points != NULL && i < p->n_points; i++) {
    const struct oc_bandwidth_point *b = &p->points[i];
    json_t *row = json_object();
    put(row, "bytes", json_integer((json_int_t)b->bytes), &ok);
    put(row, "read_gbs", num(b->read_gbs), &ok);
    put(row, "copy_gbs", num(b->copy_gbs), &ok);
    if (row == NULL || json_array_append_new(points, row) != 0) ok = false;
  }
  put(o, "bandwidth", points, &ok);
  json_t *levels = json_array();
  for (int i = 0; levels != NULL && i < p->n_levels; i++) {
    const struct oc_memory_level *l = &p->levels[i];
    json_t *row = json_object();
    put(row, "name", json_string(l->name), &ok);
    put(row, "size_bytes", json_integer((json_int_t)l->size_bytes), &ok);
    put(row, "working_set", json_integer((json_int_t)l->working_set), &ok);
    put(row, "read_gbs", num(l->read_gbs), &ok);
    put(row, "copy_gbs", num(l->copy_gbs), &ok);
    put(row, "latency_ns", num(l->latency_ns), &ok);
    put(row, "ridge_flops_per_byte", num(l->ridge_flops_per_byte), &ok);
    if (row == NULL || json_array_append_new(levels, row) != 0) ok = false;
  }
  put(o, "levels", levels, &ok);
  json_t *roof = json_object();
  put(roof, "peak_gflops_one_core", num(p->peak_gflops_one_core), &ok);
  put(roof, "peak_gflops_all_cores", num(p->peak_gflops_all_cores), &ok);
  put(roof, "dram_read_gbs_all_cores", num(p->dram_read_gbs_all_cores), &ok);
  put(roof, "ridge_all_cores_flops_per_byte", num(p->ridge_all_cores), &ok);
  put(roof, "launch_us", num(p->launch_us), &ok);
  put(roof, "empty_kernel_us", num(p->empty_kernel_us), &ok);
  put(o, "roofline", roof, &ok);
  return finish(o, ok);
}

/* ---- reading ----------------------------------------------------------- */

static enum oc_status missing(const char *where, const char *field, const char *want) {
  return oc__fail(oc_status_invalid_argument, "%s: field '%s': expected %s", where, field, want);
}

/* A number (or null -> NaN when nullable). */
static enum oc_status get_num(const json_t *obj, const char *where, const char *field,
                              bool nullable, double *out) {
  const json_t *v = json_object_get(obj, field);
  if (v != NULL && json_is_number(v)) {
    *out = json_number_value(v);
    return oc_status_ok;
  }
  if (nullable && (v == NULL || json_is_null(v))) {
    *out = NAN;
    return oc_status_ok;
  }
  return missing(where, field, nullable ? "a number or null" : "a number");
}

static enum oc_status get_int(const json_t *obj, const char *where, const char *field, int64_t min,
                              int64_t max, bool nullable, int64_t *out) {
  const json_t *v = json_object_get(obj, field);
  if (nullable && (v == NULL || json_is_null(v))) {
    *out = -1;
    return oc_status_ok;
  }
  if (v == NULL || !json_is_integer(v)) return missing(where, field, "a whole number");
  json_int_t x = json_integer_value(v);
  if (x < min || x > max)
    return oc__fail(oc_status_invalid_argument,
                    "%s: field '%s': value %lld is out of range [%lld, %lld]", where, field,
                    (long long)x, (long long)min, (long long)max);
  *out = (int64_t)x;
  return oc_status_ok;
}

/* A string (null or absent -> "" when nullable) that must fit buf. */
static enum oc_status get_str(const json_t *obj, const char *where, const char *field,
                              bool nullable, char *buf, size_t size) {
  const json_t *v = json_object_get(obj, field);
  if (nullable && (v == NULL || json_is_null(v))) {
    buf[0] = '\0';
    return oc_status_ok;
  }
  if (v == NULL || !json_is_string(v)) return missing(where, field, "a string");
  if (json_string_length(v) >= size)
    return oc__fail(oc_status_invalid_argument, "%s: field '%s': longer than %zu characters", where,
                    field, size - 1);
  oc__strcpy(buf, size, json_string_value(v));
  return oc_status_ok;
}

static enum oc_status need_object(const json_t *json, const char *where) {
  if (json == NULL || !json_is_object(json))
    return oc__fail(oc_status_invalid_argument, "%s: expected an object", where);
  return oc_status_ok;
}

#define TRY(expr)                                                                                  \
  do {                                                                                             \
    enum oc_status try_st_ = (expr);                                                               \
    if (try_st_ != oc_status_ok) return try_st_;                                                   \
  } while (0)

enum oc_status oc_env_from_json(const json_t *j, const char *where, struct oc_env *e) {
  TRY(need_object(j, where));
  memset(e, 0, sizeof *e);
  int64_t v = 0;
  TRY(get_str(j, where, "cpu_model", true, e->cpu_model, sizeof e->cpu_model));
  TRY(get_str(j, where, "kernel", true, e->kernel, sizeof e->kernel));
  TRY(get_str(j, where, "target", true, e->target, sizeof e->target));
  TRY(get_str(j, where, "runtime", true, e->runtime, sizeof e->runtime));
  TRY(get_str(j, where, "opcost_version", false, e->opcost_version, sizeof e->opcost_version));
  TRY(get_str(j, where, "fingerprint", true, e->fingerprint, sizeof e->fingerprint));
  TRY(get_str(j, where, "measured_at", true, e->measured_at, sizeof e->measured_at));
  TRY(get_int(j, where, "cores_online", 0, 1 << 20, true, &v));
  e->cores_online = (int)v;
  TRY(get_int(j, where, "threads", 0, 1 << 20, true, &v));
  e->threads = (int)v;
  TRY(get_str(j, where, "pinned", true, e->pinned, sizeof e->pinned));
  TRY(get_str(j, where, "affinity", true, e->affinity, sizeof e->affinity));
  TRY(get_str(j, where, "governor", true, e->governor, sizeof e->governor));
  TRY(get_str(j, where, "freq_source", true, e->freq_source, sizeof e->freq_source));
  TRY(get_num(j, where, "freq_mhz_before", true, &e->freq_mhz_before));
  TRY(get_num(j, where, "freq_mhz_after", true, &e->freq_mhz_after));
  TRY(get_str(j, where, "temp_source", true, e->temp_source, sizeof e->temp_source));
  TRY(get_num(j, where, "temp_c_before", true, &e->temp_c_before));
  TRY(get_num(j, where, "temp_c_after", true, &e->temp_c_after));
  TRY(get_num(j, where, "load1", true, &e->load1));
  TRY(get_num(j, where, "load5", true, &e->load5));
  TRY(get_num(j, where, "load15", true, &e->load15));
  TRY(get_num(j, where, "steal_pct", true, &e->steal_pct));
  e->stat_steal_before = e->stat_total_before = -1;
  return oc_status_ok;
}

enum oc_status oc_timer_from_json(const json_t *j, const char *where, struct oc_timer_info *t) {
  TRY(need_object(j, where));
  memset(t, 0, sizeof *t);
  char clock[32];
  TRY(get_str(j, where, "clock", false, clock, sizeof clock));
  if (oc_clock_from_name(clock, &t->clock) != oc_status_ok)
    return oc__fail(oc_status_invalid_argument, "%s: field 'clock': '%s' is not a clock", where,
                    clock);
  TRY(get_str(j, where, "name", false, t->name, sizeof t->name));
  TRY(get_num(j, where, "tick_ns", true, &t->tick_ns));
  TRY(get_num(j, where, "resolution_ns", true, &t->resolution_ns));
  TRY(get_num(j, where, "overhead_ns", true, &t->overhead_ns));
  TRY(get_num(j, where, "tsc_mhz", true, &t->tsc_mhz));
  return oc_status_ok;
}

enum oc_status oc_probe_device_info_from_json(const json_t *j, const char *where,
                                              struct oc_device_info *d) {
  TRY(need_object(j, where));
  memset(d, 0, sizeof *d);
  int64_t v = 0;
  TRY(get_str(j, where, "target", false, d->target, sizeof d->target));
  TRY(get_str(j, where, "name", false, d->name, sizeof d->name));
  TRY(get_str(j, where, "vendor", false, d->vendor, sizeof d->vendor));
  TRY(get_str(j, where, "arch", false, d->arch, sizeof d->arch));
  TRY(get_str(j, where, "isa", false, d->isa, sizeof d->isa));
  TRY(get_str(j, where, "runtime", false, d->runtime, sizeof d->runtime));
  TRY(get_int(j, where, "cores_logical", 0, INT32_MAX, false, &v));
  d->cores_logical = (int32_t)v;
  TRY(get_int(j, where, "cores_physical", 0, INT32_MAX, false, &v));
  d->cores_physical = (int32_t)v;
  TRY(get_int(j, where, "threads", 0, INT32_MAX, false, &v));
  d->threads = (int32_t)v;
  TRY(get_int(j, where, "l1d_bytes", 0, INT64_MAX, false, &d->l1d_bytes));
  TRY(get_int(j, where, "l2_bytes", 0, INT64_MAX, false, &d->l2_bytes));
  TRY(get_int(j, where, "l3_bytes", 0, INT64_MAX, false, &d->l3_bytes));
  TRY(get_int(j, where, "memory_bytes", 0, INT64_MAX, false, &d->memory_bytes));
  TRY(get_str(j, where, "fingerprint", false, d->fingerprint, sizeof d->fingerprint));
  return oc_status_ok;
}

/* A positive finite number: the figures models divide by. */
static enum oc_status get_positive(const json_t *obj, const char *where, const char *field,
                                   double *out) {
  TRY(get_num(obj, where, field, false, out));
  if (!(*out > 0) || !isfinite(*out))
    return oc__fail(oc_status_invalid_argument, "%s: field '%s': value %g must be > 0", where,
                    field, *out);
  return oc_status_ok;
}

enum oc_status oc_device_profile_from_json(const json_t *j, const char *where,
                                           struct oc_device_profile *p) {
  char sub[512];
  TRY(need_object(j, where));
  memset(p, 0, sizeof *p);
  const json_t *format = json_object_get(j, "format");
  if (format == NULL || !json_is_string(format)) return missing(where, "format", "a string");
  if (strcmp(json_string_value(format), OC_DEVICE_PROFILE_FORMAT) != 0)
    return oc__fail(oc_status_incompatible, "%s: field 'format': '%s' is not '%s'", where,
                    json_string_value(format), OC_DEVICE_PROFILE_FORMAT);
  oc__strfmt(sub, sizeof sub, "%s: device", where);
  TRY(oc_probe_device_info_from_json(json_object_get(j, "device"), sub, &p->device));
  char fingerprint[17];
  TRY(get_str(j, where, "fingerprint", false, fingerprint, sizeof fingerprint));
  if (strcmp(fingerprint, p->device.fingerprint) != 0)
    return oc__fail(oc_status_invalid_argument,
                    "%s: field 'fingerprint': '%s' differs from device.fingerprint '%s'", where,
                    fingerprint, p->device.fingerprint);
  oc__strfmt(sub, sizeof sub, "%s: env", where);
  TRY(oc_env_from_json(json_object_get(j, "env"), sub, &p->env));
  oc__strfmt(sub, sizeof sub, "%s: timer", where);
  TRY(oc_timer_from_json(json_object_get(j, "timer"), sub, &p->timer));
  const json_t *quick = json_object_get(j, "quick");
  if (quick == NULL || !json_is_boolean(quick)) return missing(where, "quick", "true or false");
  p->quick = json_is_true(quick);
  TRY(get_num(j, where, "duration_s", true, &p->duration_s));

  const json_t *peak = json_object_get(j, "peak");
  oc__strfmt(sub, sizeof sub, "%s: peak", where);
  TRY(need_object(peak, sub));
  TRY(get_str(peak, sub, "kernel_isa", false, p->kernel_isa, sizeof p->kernel_isa));
  TRY(get_positive(peak, sub, "gflops_one_core", &p->peak_gflops_one_core));
  TRY(get_positive(peak, sub, "gflops_all_cores", &p->peak_gflops_all_cores));
  int64_t v = 0;
  TRY(get_int(peak, sub, "cores_used", 1, OC_MAX_CORES, false, &v));
  p->cores_used = (int)v;

  const json_t *points = json_object_get(j, "bandwidth");
  if (points == NULL || !json_is_array(points)) return missing(where, "bandwidth", "an array");
  if (json_array_size(points) > OC_PROFILE_MAX_POINTS)
    return oc__fail(oc_status_invalid_argument, "%s: field 'bandwidth': more than %d points", where,
                    OC_PROFILE_MAX_POINTS);
  for (size_t i = 0; i < json_array_size(points); i++) {
    const json_t *row = json_array_get(points, i);
    struct oc_bandwidth_point *b = &p->points[i];
    oc__strfmt(sub, sizeof sub, "%s: bandwidth[%zu]", where, i);
    TRY(need_object(row, sub));
    TRY(get_int(row, sub, "bytes", 1, INT64_MAX, false, &b->bytes));
    TRY(get_positive(row, sub, "read_gbs", &b->read_gbs));
    TRY(get_positive(row, sub, "copy_gbs", &b->copy_gbs));
    p->n_points++;
  }

  const json_t *levels = json_object_get(j, "levels");
  if (levels == NULL || !json_is_array(levels) || json_array_size(levels) == 0)
    return missing(where, "levels", "a non-empty array");
  if (json_array_size(levels) > OC_PROFILE_MAX_LEVELS)
    return oc__fail(oc_status_invalid_argument, "%s: field 'levels': more than %d levels", where,
                    OC_PROFILE_MAX_LEVELS);
  for (size_t i = 0; i < json_array_size(levels); i++) {
    const json_t *row = json_array_get(levels, i);
    struct oc_memory_level *l = &p->levels[i];
    oc__strfmt(sub, sizeof sub, "%s: levels[%zu]", where, i);
    TRY(need_object(row, sub));
    TRY(get_str(row, sub, "name", false, l->name, sizeof l->name));
    TRY(get_int(row, sub, "size_bytes", 0, INT64_MAX, false, &l->size_bytes));
    TRY(get_int(row, sub, "working_set", 1, INT64_MAX, false, &l->working_set));
    TRY(get_positive(row, sub, "read_gbs", &l->read_gbs));
    TRY(get_positive(row, sub, "copy_gbs", &l->copy_gbs));
    /* null: not measured (device memory of a GPU). */
    TRY(get_num(row, sub, "latency_ns", true, &l->latency_ns));
    if (!isnan(l->latency_ns) && !(l->latency_ns > 0 && isfinite(l->latency_ns)))
      return oc__fail(oc_status_invalid_argument, "%s: field 'latency_ns': value %g must be > 0",
                      sub, l->latency_ns);
    TRY(get_positive(row, sub, "ridge_flops_per_byte", &l->ridge_flops_per_byte));
    p->n_levels++;
  }

  const json_t *roof = json_object_get(j, "roofline");
  oc__strfmt(sub, sizeof sub, "%s: roofline", where);
  TRY(need_object(roof, sub));
  TRY(get_positive(roof, sub, "dram_read_gbs_all_cores", &p->dram_read_gbs_all_cores));
  TRY(get_positive(roof, sub, "ridge_all_cores_flops_per_byte", &p->ridge_all_cores));
  /* Optional (profiles of CPUs may lack them): absent or null is 0. */
  TRY(get_num(roof, sub, "launch_us", true, &p->launch_us));
  TRY(get_num(roof, sub, "empty_kernel_us", true, &p->empty_kernel_us));
  if (isnan(p->launch_us)) p->launch_us = 0;
  if (isnan(p->empty_kernel_us)) p->empty_kernel_us = 0;
  if (p->launch_us < 0 || p->empty_kernel_us < 0 || !isfinite(p->launch_us) ||
      !isfinite(p->empty_kernel_us))
    return oc__fail(oc_status_invalid_argument, "%s: launch_us and empty_kernel_us must be >= 0",
                    sub);
  return oc_status_ok;
}

#undef TRY

enum oc_status oc_probe_profile_save(const struct oc_device_profile *profile, const char *path) {
  json_t *j = oc_device_profile_to_json(profile);
  if (j == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory building JSON", path);
  /* Full precision (17 digits): a saved profile loads back exactly. */
  int rc = json_dump_file(j, path, JSON_INDENT(2));
  json_decref(j);
  if (rc != 0) return oc__fail(oc_status_io_error, "%s: cannot write the profile", path);
  return oc_status_ok;
}

enum oc_status oc_probe_profile_load(const char *path, struct oc_device_profile *profile) {
  json_error_t err;
  FILE *f = fopen(path, "r");
  if (f == NULL) return oc__fail(oc_status_io_error, "%s: cannot open the profile", path);
  json_t *j = json_loadf(f, 0, &err);
  fclose(f);
  if (j == NULL)
    return oc__fail(oc_status_parse_error, "%s: line %d, column %d: %s", path, err.line, err.column,
                    err.text);
  enum oc_status st = oc_device_profile_from_json(j, path, profile);
  json_decref(j);
  return st;
}
