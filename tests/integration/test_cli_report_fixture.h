/* test_cli_report_fixture.h - inputs for the report suites (integration and
 * browser), made with the library on this machine in a few seconds: a
 * quick device profile, a LUT of the kernels of four networks sampled from
 * ofa-mbv3-w1.0 (short measurements), those networks and one more named
 * NASTY measured end to end, a model fitted on them, and a search with
 * hardware in the loop. Real measurements throughout, kept short: the
 * suites check what the report does with them, not their precision. */
#ifndef OPCOST_TEST_CLI_REPORT_FIXTURE_H
#define OPCOST_TEST_CLI_REPORT_FIXTURE_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "opcost/lut.h"
#include "opcost/model.h"
#include "opcost/probe.h"
#include "opcost/search.h"
#include "opcost/space.h"
#include "opcost/target.h"

/* A network name that is also markup: every page must escape it. */
#define NASTY "<script>alert(1)</script>&\""
#define NASTY_HTML "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;"
#define FIXTURE_NETS 5

struct report_fixture {
  char dir[256];
  char profile[512], lut[512], measured[512], model[512], search[512], nasty[512];
  char nets[FIXTURE_NETS][512];
};

static inline void fixture_path(char *out, const struct report_fixture *f, const char *name) {
  snprintf(out, 512, "%s/%s", f->dir, name);
}

static inline double fixture_measure_net(struct oc_target *t, const struct oc_net *net) {
  size_t in_bytes = (size_t)net->tensors[net->input_tensor].bytes;
  size_t out_bytes = (size_t)net->tensors[net->output_tensor].bytes;
  float *in = calloc(in_bytes + OC_TENSOR_SLACK_BYTES, 1);
  float *out = calloc(out_bytes + OC_TENSOR_SLACK_BYTES, 1);
  cr_assert(in && out);
  oc_net_fill_input(net, 1, in);
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_prepare_net(t, net, in, out, &k), oc_status_ok, "%s", oc_errmsg());
  struct oc_measure_opts mo;
  oc_measure_opts_default(&mo);
  mo.max_time_s = 0.03;
  mo.min_time_s = 0.005;
  mo.warmup_s = 0.005;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_kernel(t, k, &mo, &m), oc_status_ok, "%s", oc_errmsg());
  double us = m.stats.median_us;
  oc_measurement_release(&m);
  oc_target_release(t, k);
  free(in);
  free(out);
  return us;
}

static inline void report_fixture_make(struct report_fixture *f, const char *dir) {
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "%s", dir);
  fixture_path(f->profile, f, "profile.json");
  fixture_path(f->lut, f, "lut.db");
  fixture_path(f->measured, f, "measured.jsonl");
  fixture_path(f->model, f, "model.json");
  fixture_path(f->search, f, "search");
  char nets_dir[256];
  snprintf(nets_dir, sizeof nets_dir, "%.200s/nets", f->dir);
  cr_assert_eq(mkdir(nets_dir, 0777), 0);

  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("cpu", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  struct oc_device_info dev;
  cr_assert_eq(oc_target_describe(t, &dev), oc_status_ok);

  /* Device profile. */
  struct oc_device_profile *profile = calloc(1, sizeof *profile);
  struct oc_device_opts dopts = {.quick = true};
  cr_assert_eq(oc_probe_device(t, &dopts, profile), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_probe_profile_save(profile, f->profile), oc_status_ok);

  /* Networks: four samples and NASTY (a copy of the first under that name). */
  struct oc_space *space = NULL;
  cr_assert_eq(oc_space_builtin("ofa-mbv3-w1.0", &space), oc_status_ok);
  size_t n_genes = oc_space_gene_count(space);
  int32_t *genes = calloc(n_genes, sizeof *genes);
  struct oc_net *nets[FIXTURE_NETS];
  for (int i = 0; i < FIXTURE_NETS; i++) {
    cr_assert_eq(oc_space_sample(space, 5, (uint64_t)(i % (FIXTURE_NETS - 1)), genes, n_genes),
                 oc_status_ok);
    json_t *j = NULL;
    cr_assert_eq(oc_space_decode_json(space, genes, n_genes, &j), oc_status_ok);
    char name[64];
    snprintf(name, sizeof name, "sample-%d", i);
    json_object_set_new(j, "name", json_string(i == FIXTURE_NETS - 1 ? NASTY : name));
    snprintf(f->nets[i], sizeof f->nets[i], "%.256s/%.64s.json", nets_dir,
             i == FIXTURE_NETS - 1 ? "nasty" : name);
    cr_assert_eq(json_dump_file(j, f->nets[i], JSON_INDENT(1)), 0);
    cr_assert_eq(oc_net_load_json(j, f->nets[i], &nets[i]), oc_status_ok, "%s", oc_errmsg());
    json_decref(j);
  }
  snprintf(f->nasty, sizeof f->nasty, "%s", f->nets[FIXTURE_NETS - 1]);

  /* LUT of their kernels, short measurements. */
  struct oc_lut *lut = NULL;
  struct oc_lut_plan *plan = NULL;
  cr_assert_eq(oc_lut_open(f->lut, oc_lut_create, &lut), oc_status_ok);
  cr_assert_eq(oc_lut_plan_create(oc_lut_kernel, &plan), oc_status_ok);
  for (int i = 0; i < FIXTURE_NETS; i++) cr_assert_eq(oc_lut_plan_add_net(plan, nets[i]), 0);
  struct oc_measure_opts mo;
  oc_measure_opts_default(&mo);
  mo.max_time_s = 0.004;
  mo.min_time_s = 0.001;
  mo.warmup_s = 0.001;
  mo.warmup_runs = 1;
  struct oc_lut_build_opts bo = {.measure = &mo};
  struct oc_lut_build_report rep;
  cr_assert_eq(oc_lut_build(lut, t, plan, &bo, &rep), oc_status_ok, "%s", oc_errmsg());
  cr_assert(rep.measured >= OC_MODEL_MIN_ROWS);
  oc_lut_plan_free(plan);

  /* Measured end to end. */
  FILE *out = fopen(f->measured, "w");
  cr_assert_not_null(out);
  double lat[FIXTURE_NETS];
  for (int i = 0; i < FIXTURE_NETS; i++) {
    lat[i] = fixture_measure_net(t, nets[i]);
    char rel[512];
    snprintf(rel, sizeof rel, "nets/%s", strrchr(f->nets[i], '/') + 1);
    json_t *line = json_pack("{s:s, s:s, s:s, s:f, s:s, s:i}", "name", nets[i]->name, "family",
                             i == FIXTURE_NETS - 1 ? "nasty" : "ofa", "path", rel, "median_us",
                             lat[i], "fingerprint", dev.fingerprint, "threads", (int)dev.threads);
    cr_assert_eq(json_dumpf(line, out, JSON_COMPACT), 0);
    fputc('\n', out);
    json_decref(line);
  }
  fclose(out);

  /* Model. */
  struct oc_model_data *data = NULL;
  struct oc_model_netset *ns = NULL;
  struct oc_model *model = NULL;
  struct oc_model_device md;
  cr_assert_eq(oc_model_data_from_lut(lut, NULL, 0, &data), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_model_device_from_profile(profile, data->threads, &md), oc_status_ok);
  snprintf(md.fingerprint, sizeof md.fingerprint, "%s", data->fingerprint);
  cr_assert_eq(oc_model_netset_load(f->measured, NULL, 0, &ns), oc_status_ok, "%s", oc_errmsg());
  struct oc_model_fit_opts fo;
  oc_model_fit_opts_default(&fo);
  fo.use_xgboost = false;
  fo.folds = 3;
  cr_assert_eq(oc_model_fit(data, &md, ns, &fo, &model), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_model_save(model, f->model), oc_status_ok);
  oc_model_free(model);
  oc_model_netset_free(ns);
  oc_model_data_free(data);

  /* Search with hardware in the loop; misses priced by the roofline. */
  struct oc_lut_cache *cache = NULL;
  struct oc_lut_roofline roof;
  cr_assert_eq(oc_lut_cache_load(lut, dev.fingerprint, dev.threads, &cache), oc_status_ok);
  cr_assert_eq(oc_lut_roofline_from_profile(profile, dev.threads, &roof), oc_status_ok);
  struct oc_search_config cfg;
  oc_search_config_default(&cfg);
  cfg.space = space;
  cfg.seed = 3;
  cfg.budget = 80;
  cfg.population = 16;
  cr_assert_eq(oc_search_parse_objectives("latency,macs", cfg.objectives, &cfg.n_objectives),
               oc_status_ok);
  char bound[64];
  snprintf(bound, sizeof bound, "latency<=%.0fus", lat[0]);
  cr_assert_eq(oc_search_parse_constraint(bound, &cfg.constraints[0]), oc_status_ok);
  cfg.n_constraints = 1;
  cfg.lut = cache;
  cfg.roofline = &roof;
  cfg.target = t;
  cfg.target_name = "cpu";
  cfg.hil = 2;
  struct oc_measure_opts hm = mo;
  hm.max_time_s = 0.03;
  cfg.measure = &hm;
  cfg.out_dir = f->search;
  struct oc_search_report srep;
  enum oc_status st = oc_search_run(&cfg, &srep);
  cr_assert(st == oc_status_ok || st == oc_status_not_found, "%s", oc_errmsg());
  oc_lut_cache_free(cache);

  for (int i = 0; i < FIXTURE_NETS; i++) oc_net_free(nets[i]);
  free(genes);
  oc_space_free(space);
  oc_lut_close(lut);
  free(profile);
  oc_target_close(t);
}

#endif
