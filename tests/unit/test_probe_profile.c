/* test_probe_profile.c - device profiles: a quick characterization of the
 * host through the ref target, the profile file round trip, and rejection
 * of bad profile files with the file and field named. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opcost/opcost.h"

static char path[64];

static void make_path(void) {
  oc_errclear();
  snprintf(path, sizeof path, "/tmp/opcost_profile_XXXXXX");
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  close(fd);
}

static void remove_path(void) { unlink(path); }

TestSuite(probe_profile, .init = make_path, .fini = remove_path);

static void write_file(const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

/* A small but complete profile, as a program would fill it. */
static void sample_profile(struct oc_device_profile *p) {
  memset(p, 0, sizeof *p);
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("ref", NULL, &t), oc_status_ok);
  cr_assert_eq(oc_target_describe(t, &p->device), oc_status_ok);
  oc_env_capture(t, &p->env);
  oc_env_finish(&p->env);
  oc_target_close(t);
  cr_assert_eq(oc_probe_timer(oc_clock_auto, &p->timer), oc_status_ok);
  strcpy(p->kernel_isa, "generic");
  p->quick = true;
  p->cores_used = 2;
  p->peak_gflops_one_core = 101.25;
  p->peak_gflops_all_cores = 199.5;
  p->dram_read_gbs_all_cores = 30.125;
  p->ridge_all_cores = 199.5 / 30.125;
  p->n_points = 2;
  p->points[0] = (struct oc_bandwidth_point){16384, 200.5, 180.25};
  p->points[1] = (struct oc_bandwidth_point){1 << 26, 20.0, 18.0 / 3.0};
  p->n_levels = 2;
  p->levels[0] = (struct oc_memory_level){"L1", 32768, 16384, 200.5, 180.25, 1.0 / 3.0, 0.5};
  p->levels[1] = (struct oc_memory_level){"DRAM", 0, 1 << 26, 20.0, 18.0, 95.5, 5.0625};
  p->duration_s = 1.5;
}

Test(probe_profile, round_trip_is_exact) {
  struct oc_device_profile *p = malloc(sizeof *p), *q = malloc(sizeof *q);
  sample_profile(p);
  cr_assert_eq(oc_probe_profile_save(p, path), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_probe_profile_load(path, q), oc_status_ok, "%s", oc_errmsg());
  cr_assert_str_eq(q->device.fingerprint, p->device.fingerprint);
  cr_assert_str_eq(q->device.name, p->device.name);
  cr_assert_eq(q->device.l3_bytes, p->device.l3_bytes);
  cr_assert_str_eq(q->env.kernel, p->env.kernel);
  cr_assert_str_eq(q->env.opcost_version, OC_VERSION_STRING);
  cr_assert_eq(q->timer.clock, p->timer.clock);
  cr_assert_float_eq(q->timer.resolution_ns, p->timer.resolution_ns, 0.0);
  cr_assert_str_eq(q->kernel_isa, "generic");
  cr_assert(q->quick);
  cr_assert_eq(q->cores_used, 2);
  cr_assert_float_eq(q->peak_gflops_one_core, 101.25, 0.0);
  cr_assert_float_eq(q->peak_gflops_all_cores, 199.5, 0.0);
  cr_assert_float_eq(q->ridge_all_cores, p->ridge_all_cores, 0.0);
  cr_assert_eq(q->n_points, 2);
  cr_assert_eq(q->points[1].bytes, 1 << 26);
  cr_assert_float_eq(q->points[1].copy_gbs, 18.0 / 3.0, 0.0);
  cr_assert_eq(q->n_levels, 2);
  cr_assert_str_eq(q->levels[1].name, "DRAM");
  cr_assert_float_eq(q->levels[0].latency_ns, 1.0 / 3.0, 0.0);
  cr_assert_float_eq(q->levels[1].ridge_flops_per_byte, 5.0625, 0.0);
  free(p);
  free(q);
}

Test(probe_profile, quick_characterization_of_the_host) {
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("ref", NULL, &t), oc_status_ok);
  struct oc_device_profile *p = malloc(sizeof *p), *q = malloc(sizeof *q);
  struct oc_device_opts opts = {.quick = true};
  cr_assert_eq(oc_probe_device(t, &opts, p), oc_status_ok, "%s", oc_errmsg());
  cr_assert(p->quick);
  cr_assert(p->peak_gflops_one_core > 0);
  cr_assert(p->peak_gflops_all_cores > 0);
  cr_assert(p->cores_used >= 1);
  cr_assert(p->n_points >= 3);
  for (int i = 1; i < p->n_points; i++) cr_assert(p->points[i].bytes > p->points[i - 1].bytes);
  cr_assert(p->n_levels >= 1);
  cr_assert_str_eq(p->levels[p->n_levels - 1].name, "DRAM");
  for (int i = 0; i < p->n_levels; i++) {
    cr_assert(p->levels[i].latency_ns > 0, "%s latency", p->levels[i].name);
    cr_assert(p->levels[i].read_gbs > 0);
    cr_assert(fabs(p->levels[i].ridge_flops_per_byte -
                   p->peak_gflops_one_core / p->levels[i].read_gbs) < 1e-9);
  }
  cr_assert(p->timer.resolution_ns > 0);
  cr_assert_str_eq(p->device.target, "ref");
  cr_assert_eq(oc_probe_profile_save(p, path), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_probe_profile_load(path, q), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(q->n_levels, p->n_levels);
  cr_assert_float_eq(q->peak_gflops_one_core, p->peak_gflops_one_core, 0.0);
  free(p);
  free(q);
  oc_target_close(t);
}

static void expect_load_error(enum oc_status want, const char *const *fragments) {
  struct oc_device_profile *p = malloc(sizeof *p);
  enum oc_status st = oc_probe_profile_load(path, p);
  free(p);
  cr_assert_eq(st, want, "status %s: %s", oc_status_name(st), oc_errmsg());
  cr_assert(strstr(oc_errmsg(), path) != NULL, "file not named: %s", oc_errmsg());
  for (int i = 0; fragments[i]; i++)
    cr_assert(strstr(oc_errmsg(), fragments[i]) != NULL, "'%s' not in: %s", fragments[i],
              oc_errmsg());
}

/* Saves the sample profile, edits its JSON with edit(), writes it back. */
static void save_edited(void (*edit)(json_t *root)) {
  struct oc_device_profile *p = malloc(sizeof *p);
  sample_profile(p);
  json_t *j = oc_device_profile_to_json(p);
  free(p);
  cr_assert_not_null(j);
  edit(j);
  cr_assert_eq(json_dump_file(j, path, 0), 0);
  json_decref(j);
}

Test(probe_profile, not_json) {
  write_file("{\"format\": \"opcost-device-profile/1\",\n  oops }");
  expect_load_error(oc_status_parse_error, (const char *[]){"line 2", NULL});
}

Test(probe_profile, missing_file) {
  unlink(path);
  expect_load_error(oc_status_io_error, (const char *[]){NULL});
}

static void wrong_format(json_t *j) {
  json_object_set_new(j, "format", json_string("opcost-device-profile/99"));
}
Test(probe_profile, wrong_format_tag) {
  save_edited(wrong_format);
  expect_load_error(oc_status_incompatible, (const char *[]){"format", "/99", NULL});
}

static void drop_peak_field(json_t *j) {
  json_object_del(json_object_get(j, "peak"), "gflops_one_core");
}
Test(probe_profile, missing_field) {
  save_edited(drop_peak_field);
  expect_load_error(oc_status_invalid_argument, (const char *[]){"peak", "gflops_one_core", NULL});
}

static void negative_bandwidth(json_t *j) {
  json_t *row = json_array_get(json_object_get(j, "bandwidth"), 1);
  json_object_set_new(row, "read_gbs", json_real(-3.0));
}
Test(probe_profile, negative_bandwidth) {
  save_edited(negative_bandwidth);
  expect_load_error(oc_status_invalid_argument, (const char *[]){"bandwidth[1]", "read_gbs", NULL});
}

static void string_latency(json_t *j) {
  json_t *row = json_array_get(json_object_get(j, "levels"), 0);
  json_object_set_new(row, "latency_ns", json_string("fast"));
}
Test(probe_profile, wrong_type) {
  save_edited(string_latency);
  expect_load_error(oc_status_invalid_argument, (const char *[]){"levels[0]", "latency_ns", NULL});
}

static void fingerprint_mismatch(json_t *j) {
  json_object_set_new(j, "fingerprint", json_string("0000000000000000"));
}
Test(probe_profile, fingerprint_must_match_device) {
  save_edited(fingerprint_mismatch);
  expect_load_error(oc_status_invalid_argument, (const char *[]){"fingerprint", NULL});
}

static void env_not_object(json_t *j) { json_object_set_new(j, "env", json_integer(3)); }
Test(probe_profile, env_not_an_object) {
  save_edited(env_not_object);
  expect_load_error(oc_status_invalid_argument, (const char *[]){"env", NULL});
}
