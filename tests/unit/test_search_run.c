/* test_search_run.c - whole searches through oc_search_run: a seed
 * reproduces a run byte for byte; a run stopped early or killed mid-line
 * and resumed ends with the journal of an uninterrupted run (every
 * algorithm); no phenotype is evaluated twice and a small space is
 * reported exhausted; an infeasible problem fails with the best violation;
 * configuration errors; accuracy from the evaluator (its failures stop the
 * run, never a made-up value) and from a table; a cost model's upper
 * bound; hardware in the loop on the host CPU; NSGA-II against random
 * search at equal evaluations. */
#include <math.h>

#include "opcost/model.h"
#include "tests/unit/test_search_fixture.h"

#define TINY OPCOST_SOURCE_DIR "/tests/data/search/tiny-space.json"
#define EVALUATOR OPCOST_SOURCE_DIR "/tests/data/search/evaluator.sh"

static char dir[256];

static void setup(void) {
  strcpy(dir, "/tmp/opcost-test-search-run-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) { fixture_rm_rf(dir); }

TestSuite(search_run, .init = setup, .fini = teardown);

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t got = fread(b, 1, (size_t)n, f);
  b[got] = '\0';
  fclose(f);
  if (len) *len = got;
  return b;
}

static char *out_path(const char *sub, const char *file) {
  static char p[4][1024];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s%s%s", dir, sub, file ? "/" : "", file ? file : "");
  return p[k];
}

static size_t count_lines(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

/* OFA-MobileNetV3 with the test LUT of all its kernels (their latencies
 * are hash-derived, so latency and MACs conflict): latency and MACs under
 * a params bound. */
static struct oc_lut *ofa_lut;
static struct oc_lut_cache *ofa_cache;

static void ofa_open(struct oc_space **sp) {
  cr_assert_eq(oc_space_open("ofa-mbv3-w1.0", sp), oc_status_ok);
  char path[512];
  snprintf(path, sizeof path, "%s/ofa.db", dir);
  fixture_lut(path, *sp, NULL, 0, 0, 10.0, &ofa_lut, &ofa_cache);
}

static void ofa_close(struct oc_space *sp) {
  oc_lut_cache_free(ofa_cache);
  oc_lut_close(ofa_lut);
  oc_space_free(sp);
}

static void ofa_config(struct oc_search_config *c, const struct oc_space *sp,
                       enum oc_search_algorithm algo, int64_t budget, const char *sub) {
  oc_search_config_default(c);
  c->space = sp;
  c->algorithm = algo;
  c->seed = 11;
  c->budget = budget;
  c->population = 20;
  c->lut = ofa_cache;
  c->n_objectives = 2;
  c->objectives[0] = oc_search_latency;
  c->objectives[1] = oc_search_macs;
  c->n_constraints = 1;
  cr_assert_eq(oc_search_parse_constraint("params<=5.5M", &c->constraints[0]), oc_status_ok);
  c->out_dir = out_path(sub, NULL);
}

Test(search_run, seed_reproduces_and_journal_is_unique) {
  struct oc_space *sp = NULL;
  ofa_open(&sp);
  struct oc_search_config c;
  struct oc_search_report r;
  ofa_config(&c, sp, oc_search_algo_nsga2, 150, "a");
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(r.evaluated, 150);
  cr_assert_gt(r.front_size, 1);
  cr_assert(r.hypervolume > 0);
  cr_assert_str_eq(r.ref_point_source, "1.1 x the space's worst case");
  ofa_config(&c, sp, oc_search_algo_nsga2, 150, "b");
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  char *a = slurp(out_path("a", "journal.jsonl"), NULL);
  char *b = slurp(out_path("b", "journal.jsonl"), NULL);
  cr_assert_not_null(a);
  cr_assert_str_eq(a, b, "same seed, same journal");
  cr_assert_eq(count_lines(a, "\n"), 150);
  /* Phenotype hashes are unique. */
  for (const char *p = a; (p = strstr(p, "\"hash\":\"")) != NULL; p += 8) {
    char h[32];
    snprintf(h, sizeof h, "\"hash\":\"%.16s\"", p + 8);
    cr_assert_eq(count_lines(a, h), 1, "%s evaluated twice", h);
  }
  char *hv_a = slurp(out_path("a", "hv.csv"), NULL);
  char *hv_b = slurp(out_path("b", "hv.csv"), NULL);
  cr_assert_str_eq(hv_a, hv_b);
  free(hv_a);
  free(hv_b);
  free(b);
  /* Another seed, another run. */
  ofa_config(&c, sp, oc_search_algo_nsga2, 150, "c");
  c.seed = 12;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  char *d = slurp(out_path("c", "journal.jsonl"), NULL);
  cr_assert_str_neq(a, d);
  free(a);
  free(d);
  /* The outputs are there and name every member's network. */
  char *front = slurp(out_path("a", "front.json"), NULL);
  cr_assert_not_null(front);
  json_error_t err;
  json_t *root = json_loads(front, 0, &err);
  cr_assert_not_null(root, "%s", err.text);
  json_t *members = json_object_get(root, "members");
  cr_assert_gt(json_array_size(members), 1);
  const char *net = json_string_value(json_object_get(json_array_get(members, 0), "net"));
  cr_assert_not_null(net);
  struct oc_net *loaded = NULL;
  cr_assert_eq(oc_net_load_file(out_path("a", net), &loaded), oc_status_ok, "%s", oc_errmsg());
  uint64_t hash;
  cr_assert_eq(oc_space_net_hash(sp, loaded, &hash), oc_status_ok);
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
  cr_assert_str_eq(hex, json_string_value(json_object_get(json_array_get(members, 0), "hash")));
  oc_net_free(loaded);
  json_decref(root);
  free(front);
  char *summary = slurp(out_path("a", "summary.json"), NULL);
  cr_assert(strstr(summary, "\"source\": \"analytic\"") != NULL);
  cr_assert(strstr(summary, "\"source\": \"lut\"") != NULL);
  free(summary);
  /* The directory holds a search now: no overwrite without --resume. */
  ofa_config(&c, sp, oc_search_algo_nsga2, 150, "a");
  cr_assert_eq(oc_search_run(&c, &r), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "--resume") != NULL, "%s", oc_errmsg());
  ofa_close(sp);
}

/* Truncates the journal in the middle of its last line (a kill mid-write). */
static void tear_last_line(const char *path) {
  size_t len;
  char *text = slurp(path, &len);
  cr_assert_gt(len, 10);
  char *last = text + len - 1;
  while (last > text && last[-1] != '\n') last--;
  size_t keep = (size_t)(last - text) + (size_t)(text + len - last) / 2;
  FILE *f = fopen(path, "wb");
  fwrite(text, 1, keep, f);
  fclose(f);
  free(text);
}

static void resume_equals_uninterrupted(enum oc_search_algorithm algo) {
  struct oc_space *sp = NULL;
  ofa_open(&sp);
  struct oc_search_config c;
  struct oc_search_report r;
  ofa_config(&c, sp, algo, 130, "full");
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  /* Stopped after 57, killed mid-line, resumed. */
  ofa_config(&c, sp, algo, 57, "part");
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  tear_last_line(out_path("part", "journal.jsonl"));
  ofa_config(&c, sp, algo, 130, "part");
  c.resume = true;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(r.resumed, 56);
  cr_assert_eq(r.evaluated, 130);
  char *a = slurp(out_path("full", "journal.jsonl"), NULL);
  char *b = slurp(out_path("part", "journal.jsonl"), NULL);
  cr_assert_str_eq(a, b, "%s: a resumed run ends like an uninterrupted one",
                   oc_search_algorithm_name(algo));
  char *fa = slurp(out_path("full", "front.csv"), NULL);
  char *fb = slurp(out_path("part", "front.csv"), NULL);
  cr_assert_str_eq(fa, fb);
  free(a);
  free(b);
  free(fa);
  free(fb);
  /* Resuming with other settings is refused. */
  ofa_config(&c, sp, algo, 140, "part");
  c.resume = true;
  c.seed = 99;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "seed") != NULL, "%s", oc_errmsg());
  ofa_close(sp);
}

Test(search_run, resume_nsga2) { resume_equals_uninterrupted(oc_search_algo_nsga2); }
Test(search_run, resume_random) { resume_equals_uninterrupted(oc_search_algo_random); }
Test(search_run, resume_evolution) { resume_equals_uninterrupted(oc_search_algo_evolution); }

Test(search_run, small_space_is_exhausted_without_duplicates) {
  struct oc_space *sp = NULL;
  cr_assert_eq(oc_space_open(TINY, &sp), oc_status_ok, "%s", oc_errmsg());
  for (int a = 0; a < oc_search_algorithm__count; a++) {
    struct oc_search_config c;
    struct oc_search_report r;
    oc_search_config_default(&c);
    c.space = sp;
    c.algorithm = (enum oc_search_algorithm)a;
    c.budget = 100; /* more than its 40 networks */
    c.population = 8;
    c.max_retries = 200;
    c.n_objectives = 2;
    c.objectives[0] = oc_search_macs;
    c.objectives[1] = oc_search_params;
    char sub[16];
    snprintf(sub, sizeof sub, "x%d", a);
    c.out_dir = out_path(sub, NULL);
    cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
    cr_assert(r.exhausted, "%s", oc_search_algorithm_name(c.algorithm));
    cr_assert_leq(r.evaluated, 40);
    cr_assert_geq(r.evaluated, 30, "%s: %lld", oc_search_algorithm_name(c.algorithm),
                  (long long)r.evaluated);
    cr_assert_gt(r.duplicates, 0);
  }
  oc_space_free(sp);
}

Test(search_run, infeasible_problem_reports_best_violation) {
  struct oc_space *sp = NULL;
  ofa_open(&sp);
  struct oc_search_config c;
  struct oc_search_report r;
  ofa_config(&c, sp, oc_search_algo_nsga2, 60, "inf");
  cr_assert_eq(oc_search_parse_constraint("macs<=1M", &c.constraints[1]), oc_status_ok);
  c.n_constraints = 2;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_not_found);
  cr_assert(strstr(oc_errmsg(), "no candidate of 60 satisfies") != NULL, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "macs<=1M") != NULL, "%s", oc_errmsg());
  cr_assert_eq(r.feasible, 0);
  cr_assert_gt(r.best_violation, 0);
  cr_assert_geq(r.best_violation_id, 0);
  cr_assert(isnan(r.hypervolume));
  char *summary = slurp(out_path("inf", "summary.json"), NULL);
  cr_assert_not_null(summary);
  cr_assert(strstr(summary, "\"best_violation\"") != NULL);
  free(summary);
  ofa_close(sp);
}

Test(search_run, configuration_errors) {
  struct oc_space *sp = NULL;
  cr_assert_eq(oc_space_open(TINY, &sp), oc_status_ok);
  struct oc_search_config c;
  struct oc_search_report r;
  oc_search_config_default(&c);
  c.space = sp;
  c.budget = 10;
  c.out_dir = out_path("cfg", NULL);
  c.n_objectives = 1;
  c.objectives[0] = oc_search_latency;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "--lut") != NULL, "%s", oc_errmsg());
  c.objectives[0] = oc_search_accuracy;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "--evaluator") != NULL, "%s", oc_errmsg());
  c.objectives[0] = oc_search_macs;
  c.latency_upper = true;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_invalid_argument);
  c.latency_upper = false;
  c.hil = 2;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_invalid_argument);
  c.hil = 0;
  c.budget = 0;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_invalid_argument);
  oc_space_free(sp);
}

static void tiny_accuracy_config(struct oc_search_config *c, const struct oc_space *sp,
                                 const char *sub) {
  oc_search_config_default(c);
  c->space = sp;
  c->budget = 25;
  c->population = 6;
  c->seed = 5;
  c->n_objectives = 2;
  c->objectives[0] = oc_search_macs;
  c->objectives[1] = oc_search_accuracy;
  c->out_dir = out_path(sub, NULL);
  c->evaluator_timeout_s = 10;
}

Test(search_run, evaluator_accuracy_and_its_failures) {
  struct oc_space *sp = NULL;
  cr_assert_eq(oc_space_open(TINY, &sp), oc_status_ok);
  struct oc_search_config c;
  struct oc_search_report r;
  char cmd[1024];
  tiny_accuracy_config(&c, sp, "ok");
  snprintf(cmd, sizeof cmd, "sh %s ok", EVALUATOR);
  c.evaluator = cmd;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  char *j = slurp(out_path("ok", "journal.jsonl"), NULL);
  cr_assert_eq(count_lines(j, "\"accuracy\":\"evaluator\""), 25);
  free(j);
  char *front = slurp(out_path("ok", "front.csv"), NULL);
  cr_assert(strstr(front, ",evaluator,") != NULL, "%s", front);
  free(front);

  /* It crashes on its 7th request: the run stops naming the candidate; the
   * journal holds the 6 answered, none with a made-up accuracy. */
  tiny_accuracy_config(&c, sp, "crash");
  snprintf(cmd, sizeof cmd, "sh %s crash 7", EVALUATOR);
  c.evaluator = cmd;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_io_error);
  cr_assert(strstr(oc_errmsg(), "candidate 6") != NULL, "%s", oc_errmsg());
  j = slurp(out_path("crash", "journal.jsonl"), NULL);
  cr_assert_eq(count_lines(j, "\n"), 6);
  cr_assert_eq(count_lines(j, "\"accuracy\":\"evaluator\""), 6);
  free(j);
  /* Resumed with a working evaluator, it finishes. */
  snprintf(cmd, sizeof cmd, "sh %s ok", EVALUATOR);
  c.resume = true;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_invalid_argument,
               "another evaluator command is another configuration");
  c.resume = false;

  /* Garbage, then the same with retries against a flaky one. */
  tiny_accuracy_config(&c, sp, "garbage");
  snprintf(cmd, sizeof cmd, "sh %s garbage 3", EVALUATOR);
  c.evaluator = cmd;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_parse_error);
  cr_assert(strstr(oc_errmsg(), "candidate 2") != NULL, "%s", oc_errmsg());

  tiny_accuracy_config(&c, sp, "flaky");
  snprintf(cmd, sizeof cmd, "sh %s flaky %s/marker", EVALUATOR, dir);
  c.evaluator = cmd;
  c.evaluator_retries = 2;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  char *summary = slurp(out_path("flaky", "summary.json"), NULL);
  cr_assert(strstr(summary, "\"restarts\": 1") != NULL, "%s", summary);
  free(summary);
  oc_space_free(sp);
}

Test(search_run, accuracy_table_and_lazy_accuracy) {
  struct oc_space *sp = NULL;
  cr_assert_eq(oc_space_open(TINY, &sp), oc_status_ok);
  /* A table of every vector: accuracy grows with MACs (test data). */
  char path[512];
  snprintf(path, sizeof path, "%s/acc.csv", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "genes,accuracy\n");
  int32_t g[6];
  for (int v = 0; v < 64; v++) {
    int r = v;
    for (int i = 0; i < 6; i++) {
      g[i] = r % 2;
      r /= 2;
    }
    char text[256];
    struct oc_net *net = NULL;
    cr_assert_eq(oc_space_format_genes(sp, g, 6, true, text, sizeof text), oc_status_ok);
    cr_assert_eq(oc_space_decode(sp, g, 6, &net), oc_status_ok);
    fprintf(f, "\"%s\",%.6f\n", text, 0.4 + 0.3 * (double)net->cost.macs / 1e6);
    oc_net_free(net);
  }
  fclose(f);
  struct oc_search_accuracy *t = NULL;
  cr_assert_eq(oc_search_accuracy_load(sp, path, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_search_accuracy_size(t), 40);
  struct oc_search_config c;
  struct oc_search_report r;
  tiny_accuracy_config(&c, sp, "table");
  c.accuracy_table = t;
  c.accuracy_table_path = path;
  /* Candidates over the peak bound are infeasible: their accuracy is not
   * looked up (recorded as not evaluated). */
  cr_assert_eq(oc_search_parse_constraint("peak_mem<=40KiB", &c.constraints[0]), oc_status_ok);
  c.n_constraints = 1;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  char *j = slurp(out_path("table", "journal.jsonl"), NULL);
  size_t from_table = count_lines(j, "\"accuracy\":\"table\"");
  size_t skipped = count_lines(j, "\"accuracy\":null");
  cr_assert_eq(from_table + skipped, 25);
  cr_assert_gt(from_table, 0);
  cr_assert_gt(skipped, 0);
  cr_assert_eq(count_lines(j, "\"feasible\":true"), from_table);
  free(j);
  oc_search_accuracy_free(t);
  /* A table without the candidates: not found, naming one. */
  f = fopen(path, "w");
  fprintf(f, "genes,accuracy\n\"r=32;d=1;k=3,_;e=1,_\",0.5\n");
  fclose(f);
  cr_assert_eq(oc_search_accuracy_load(sp, path, &t), oc_status_ok);
  tiny_accuracy_config(&c, sp, "table2");
  c.accuracy_table = t;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_not_found);
  cr_assert(strstr(oc_errmsg(), "is not in it") != NULL, "%s", oc_errmsg());
  oc_search_accuracy_free(t);
  oc_space_free(sp);
}

Test(search_run, lut_latency_model_bound_and_hil) {
  struct oc_space *sp = NULL;
  cr_assert_eq(oc_space_open(TINY, &sp), oc_status_ok);
  char path[512];
  snprintf(path, sizeof path, "%s/tiny.db", dir);
  struct oc_lut *lut = NULL;
  struct oc_lut_cache *cache = NULL;
  fixture_lut(path, sp, NULL, 0, 0, 0.5, &lut, &cache);
  struct oc_search_config c;
  struct oc_search_report r;
  oc_search_config_default(&c);
  c.space = sp;
  c.budget = 24;
  c.population = 6;
  c.n_objectives = 2;
  c.objectives[0] = oc_search_latency;
  c.objectives[1] = oc_search_params;
  c.lut = cache;
  c.out_dir = out_path("lut", NULL);
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  char *j = slurp(out_path("lut", "journal.jsonl"), NULL);
  cr_assert_eq(count_lines(j, "\"latency\":\"lut\""), 24);
  free(j);

  /* A cost model fitted on the same rows; its upper bound is no lower
   * than its point prediction. */
  struct oc_model_data *data = NULL;
  struct oc_model_device dev;
  struct oc_model *model = NULL;
  struct oc_model_fit_opts fo;
  oc_model_fit_opts_default(&fo);
  fo.use_xgboost = false;
  cr_assert_eq(oc_model_data_from_lut(lut, FIXTURE_FP, 1, &data), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_model_device_empirical(data, &dev), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_model_fit(data, &dev, NULL, &fo, &model), oc_status_ok, "%s", oc_errmsg());
  c.lut = NULL;
  c.model = model;
  c.out_dir = out_path("model", NULL);
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  c.latency_upper = true;
  c.out_dir = out_path("upper", NULL);
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  char *point = slurp(out_path("model", "journal.jsonl"), NULL);
  char *upper = slurp(out_path("upper", "journal.jsonl"), NULL);
  cr_assert_eq(count_lines(point, "\"latency\":\"model\""), 24);
  /* Compare the first candidate's latency (both runs start alike). */
  double lp = atof(strstr(point, "\"latency\":") + 10);
  double lu = atof(strstr(upper, "\"latency\":") + 10);
  cr_assert_geq(lu, lp);
  cr_assert_gt(lp, 0);
  free(point);
  free(upper);
  c.model = NULL;
  c.latency_upper = false;
  oc_model_free(model);
  oc_model_data_free(data);

  /* Hardware in the loop on the host CPU: 2 front members measured. */
  struct oc_target *target = NULL;
  enum oc_status st = oc_target_open("cpu", NULL, &target);
  if (st != oc_status_ok) st = oc_target_open("ref", NULL, &target);
  cr_assert_eq(st, oc_status_ok, "%s", oc_errmsg());
  struct oc_measure_opts mo;
  oc_measure_opts_default(&mo);
  mo.max_time_s = 0.02;
  mo.min_time_s = 0.005;
  mo.warmup_s = 0.002;
  c.lut = cache;
  c.target = target;
  c.target_name = "cpu";
  c.measure = &mo;
  c.hil = 2;
  c.out_dir = out_path("hil", NULL);
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(r.hil_measured, 2);
  cr_assert(r.hil_correction > 0 && r.hil_correction != 1.0, "%g", r.hil_correction);
  cr_assert(isfinite(r.hil_mape));
  char *hil = slurp(out_path("hil", "hil.csv"), NULL);
  cr_assert_eq(count_lines(hil, "\n"), 3, "%s", hil);
  free(hil);
  j = slurp(out_path("hil", "journal.jsonl"), NULL);
  cr_assert_eq(count_lines(j, "\"event\":\"measured\""), 2);
  free(j);
  char *front = slurp(out_path("hil", "front.csv"), NULL);
  cr_assert(strstr(front, ",measured,") != NULL, "%s", front);
  free(front);
  /* Per generation, resumable: a resumed run takes the measurements
   * from the journal rather than measuring again. */
  c.hil = 1;
  c.hil_when = oc_search_hil_generation;
  c.budget = 12;
  c.out_dir = out_path("hilgen", NULL);
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  char *before = slurp(out_path("hilgen", "journal.jsonl"), NULL);
  size_t measured = count_lines(before, "\"event\":\"measured\"");
  cr_assert_geq(measured, 2);
  c.budget = 24;
  c.resume = true;
  cr_assert_eq(oc_search_run(&c, &r), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(r.resumed, 12);
  char *after = slurp(out_path("hilgen", "journal.jsonl"), NULL);
  cr_assert_eq(strncmp(before, after, strlen(before)), 0, "the journal is appended to");
  cr_assert_gt(count_lines(after, "\"event\":\"measured\""), measured);
  free(before);
  free(after);
  oc_target_close(target);
  oc_lut_cache_free(cache);
  oc_lut_close(lut);
  oc_space_free(sp);
}

Test(search_run, nsga2_beats_random_at_equal_evaluations) {
  struct oc_space *sp = NULL;
  ofa_open(&sp);
  struct oc_search_config c;
  struct oc_search_report rn, rr;
  ofa_config(&c, sp, oc_search_algo_nsga2, 1500, "nsga");
  c.population = 50;
  cr_assert_eq(oc_search_run(&c, &rn), oc_status_ok, "%s", oc_errmsg());
  ofa_config(&c, sp, oc_search_algo_random, 1500, "rand");
  c.population = 50;
  cr_assert_eq(oc_search_run(&c, &rr), oc_status_ok, "%s", oc_errmsg());
  for (size_t k = 0; k < 2; k++) cr_assert_eq(rn.ref_point[k], rr.ref_point[k]);
  cr_assert_gt(rn.hypervolume, rr.hypervolume, "NSGA-II %.6g vs random %.6g", rn.hypervolume,
               rr.hypervolume);
  ofa_close(sp);
}
