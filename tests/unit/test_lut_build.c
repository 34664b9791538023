/* test_lut_build.c - LUT plans (networks, spaces, keys; dedup, order,
 * shards), block keys rebuilt as one-layer networks, real builds on the host
 * CPU (resume, a build killed with SIGKILL mid-way, two builds writing one
 * store at once), and prediction (sum, overhead, misses, roofline, memory).
 * Builds time real kernels with tiny budgets; nothing asserts on speed. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "opcost/lut.h"
#include "tests/scratch_dir.h"

static char dir[256];
static char path[512];

static void setup(void) {
  scratch_dir_make(dir, sizeof dir, "lutbuild");
  snprintf(path, sizeof path, "%s/lut.db", dir);
}

static void teardown(void) { scratch_dir_remove(dir); }

TestSuite(lut_build, .init = setup, .fini = teardown);

/* A small network: stem conv, two mbconv blocks (one with SE and a
 * residual), pooling and a classifier. */
static const char *const small_net =
    "{\"format\": \"opcost-net/1\", \"name\": \"small\", \"input\": {\"h\": 16, \"w\": 16, \"c\": 3},"
    " \"dtype\": \"f32\", \"layers\": ["
    "  {\"op\": \"conv2d\", \"cout\": 8, \"k\": 3, \"s\": 2, \"act\": \"relu6\"},"
    "  {\"op\": \"mbconv\", \"cout\": 8, \"k\": 3, \"s\": 1, \"e\": 3, \"se\": 1, \"act\": \"relu\"},"
    "  {\"op\": \"mbconv\", \"cout\": 8, \"k\": 3, \"s\": 1, \"e\": 3, \"se\": 1, \"act\": \"relu\"},"
    "  {\"op\": \"mbconv\", \"cout\": 16, \"k\": 5, \"s\": 2, \"e\": 6, \"act\": \"relu6\"},"
    "  {\"op\": \"gap\"},"
    "  {\"op\": \"fc\", \"cout\": 10}]}";

static struct oc_net *load_small(void) {
  struct oc_net *net = NULL;
  cr_assert_eq(oc_net_from_string(small_net, "small", &net), oc_status_ok, "%s", oc_errmsg());
  return net;
}

static struct oc_measure_opts quick(void) {
  struct oc_measure_opts m;
  oc_measure_opts_default(&m);
  m.warmup_runs = 1;
  m.warmup_s = 0;
  m.min_time_s = 0;
  m.max_time_s = 0.003;
  return m;
}

Test(lut_build, plan_from_a_network) {
  struct oc_net *net = load_small();
  struct oc_lut_plan *k = NULL, *b = NULL;
  cr_assert_eq(oc_lut_plan_create(oc_lut_kernel, &k), oc_status_ok);
  cr_assert_eq(oc_lut_plan_create(oc_lut_block, &b), oc_status_ok);
  cr_assert_eq(oc_lut_plan_add_net(k, net), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_lut_plan_add_net(b, net), oc_status_ok);
  cr_assert_eq(oc_lut_plan_add_net(b, net), oc_status_ok); /* again: no new keys */
  /* Blocks: the two identical mbconv layers are one key. */
  cr_assert_eq(oc_lut_plan_size(b), (size_t)net->n_layers - 1);
  /* Kernels: unique op kernels, fewer than all kernels (repeats). */
  int32_t op_kernels = 0;
  for (int32_t i = 0; i < net->n_kernels; i++) op_kernels += net->kernels[i].step == oc_net_step_op;
  cr_assert_lt(oc_lut_plan_size(k), (size_t)op_kernels);
  cr_assert_gt(oc_lut_plan_size(k), oc_lut_plan_size(b));
  for (size_t i = 1; i < oc_lut_plan_size(k); i++)
    cr_assert_lt(strcmp(oc_lut_plan_key(k, i - 1), oc_lut_plan_key(k, i)), 0, "sorted, unique");
  for (size_t i = 0; i < oc_lut_plan_size(k); i++) {
    struct oc_op op;
    cr_assert_eq(oc_op_parse(oc_lut_plan_key(k, i), &op), oc_status_ok, "%s",
                 oc_lut_plan_key(k, i));
  }
  /* Keys: a block in a kernel plan, a bad key. */
  cr_assert_eq(oc_lut_plan_add_key(k, net->layers[1].key), oc_status_invalid_argument);
  cr_assert_neq(oc_lut_plan_add_key(k, "conv2d.f32 h=1"), oc_status_ok);
  cr_assert_neq(oc_lut_plan_add_key(b, "mbconv.f32 h=8 w=8 cin=8 cout=8 k=3 s=1 e=3 act=relu"),
                oc_status_ok, "a block key without se does not rebuild");
  size_t before = oc_lut_plan_size(b);
  cr_assert_eq(oc_lut_plan_add_key(b, "mbconv.f32 h=8 w=8 cin=8 cout=8 k=7 s=1 e=4 se=0 act=relu"),
               oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_lut_plan_size(b), before + 1);
  oc_lut_plan_free(k);
  oc_lut_plan_free(b);
  oc_net_free(net);
}

/* A tiny space: resolution 16 or 24, one stage of 1-2 blocks with kernel
 * 3/5 and expand 3/6. */
static const char *const tiny_space =
    "{\"format\": \"opcost-space/1\", \"name\": \"tiny\", \"dtype\": \"f32\","
    " \"genes\": [{\"name\": \"r\", \"choices\": [16, 24]}, {\"name\": \"d\", \"choices\": [1, 2]}],"
    " \"input\": {\"h\": \"$r\", \"w\": \"$r\", \"c\": 3},"
    " \"layers\": [{\"op\": \"conv2d\", \"cout\": 8, \"k\": 3, \"s\": 2, \"act\": \"relu6\"},"
    "  {\"stage\": {\"name\": \"s1\", \"blocks\": 2, \"depth\": \"$d\","
    "   \"genes\": [{\"name\": \"k\", \"choices\": [3, 5]}, {\"name\": \"e\", \"choices\": [3, 6]}],"
    "   \"layers\": [{\"op\": \"mbconv\", \"cout\": 8, \"k\": \"$k\", \"s\": 1, \"e\": \"$e\"}]}},"
    "  {\"op\": \"gap\"}, {\"op\": \"fc\", \"cout\": 10}]}";

Test(lut_build, plan_from_a_space) {
  struct oc_space *space = NULL;
  cr_assert_eq(oc_space_from_string(tiny_space, "tiny", &space), oc_status_ok, "%s", oc_errmsg());
  struct oc_lut_plan *k = NULL, *b = NULL, *k16 = NULL;
  cr_assert_eq(oc_lut_plan_create(oc_lut_kernel, &k), oc_status_ok);
  cr_assert_eq(oc_lut_plan_create(oc_lut_block, &b), oc_status_ok);
  cr_assert_eq(oc_lut_plan_create(oc_lut_kernel, &k16), oc_status_ok);
  cr_assert_eq(oc_lut_plan_add_space(k, space, NULL, 0), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_lut_plan_add_space(b, space, NULL, 0), oc_status_ok, "%s", oc_errmsg());
  int32_t r16 = 16;
  cr_assert_eq(oc_lut_plan_add_space(k16, space, &r16, 1), oc_status_ok, "%s", oc_errmsg());
  /* Blocks: stem, 4 mbconv variants and gap at each of 2 resolutions; the
   * classifier is one key at both. */
  cr_assert_eq(oc_lut_plan_size(b), 2 * (1 + 4 + 1) + 1);
  cr_assert_lt(oc_lut_plan_size(k16), oc_lut_plan_size(k));
  for (size_t i = 0; i < oc_lut_plan_size(k16); i++)
    cr_assert(!strstr(oc_lut_plan_key(k16, i), "h=24 ") && !strstr(oc_lut_plan_key(k16, i), "h=12 "),
              "resolution 24 leaked: %s", oc_lut_plan_key(k16, i));
  struct oc_space_ops *ops = NULL;
  cr_assert_eq(oc_space_enumerate_ops(space, NULL, 0, &ops), oc_status_ok);
  cr_assert_eq(oc_lut_plan_size(k), ops->n_kernels);
  oc_space_ops_free(ops);
  oc_lut_plan_free(k);
  oc_lut_plan_free(b);
  oc_lut_plan_free(k16);
  oc_space_free(space);
}

Test(lut_build, block_keys_rebuild_every_layer_of_the_reference_networks) {
  const char *files[] = {"mobilenetv2-1.0.json", "mobilenetv3-large.json", "resnet-50.json",
                         "deit-tiny.json"};
  for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
    char p[1024];
    snprintf(p, sizeof p, "%s/spaces/networks/%s", OPCOST_SOURCE_DIR, files[f]);
    struct oc_net *net = NULL;
    cr_assert_eq(oc_net_load_file(p, &net), oc_status_ok, "%s", oc_errmsg());
    for (int32_t i = 0; i < net->n_layers; i++) {
      if (net->layers[i].block == oc_net_block_op) continue;
      struct oc_net *one = NULL;
      cr_assert_eq(oc_lut_block_net(net->layers[i].key, &one), oc_status_ok, "%s: %s", files[f],
                   oc_errmsg());
      cr_assert_str_eq(one->layers[0].key, net->layers[i].key);
      cr_assert_eq(one->layers[0].cost.macs, net->layers[i].cost.macs);
      oc_net_free(one);
    }
    oc_net_free(net);
  }
  struct oc_net *one = NULL;
  cr_assert_eq(oc_lut_block_net("conv2d.f32 h=8 w=8 cin=4 cout=8 k=3 s=1 g=1 d=1 act=relu", &one),
               oc_status_parse_error, "a primitive op is not a block");
  cr_assert_eq(oc_lut_block_net("mbconv.f32 h=8 w=8 cin=8 cout=8 k=3 s=1 e=3 se=0 act=bogus", &one),
               oc_status_parse_error);
  cr_assert_null(one);
}

Test(lut_build, shards_partition_the_plan) {
  struct oc_net *net = load_small();
  struct oc_lut_plan *k = NULL;
  cr_assert_eq(oc_lut_plan_create(oc_lut_kernel, &k), oc_status_ok);
  cr_assert_eq(oc_lut_plan_add_net(k, net), oc_status_ok);
  int counts[3] = {0, 0, 0};
  for (size_t i = 0; i < oc_lut_plan_size(k); i++) {
    int32_t s = oc_lut_shard_of(oc_lut_plan_key(k, i), 3);
    cr_assert(s >= 0 && s < 3);
    counts[s]++;
    cr_assert_eq(oc_lut_shard_of(oc_lut_plan_key(k, i), 1), 0);
  }
  cr_assert_eq(counts[0] + counts[1] + counts[2], (int)oc_lut_plan_size(k));
  oc_lut_plan_free(k);
  oc_net_free(net);
}

/* ---- real builds on the host CPU ---- */

static struct oc_target *open_cpu(void) {
  struct oc_target *t = NULL;
  enum oc_status st = oc_target_open("cpu", NULL, &t);
  if (st != oc_status_ok) cr_skip_test("cpu target unavailable: %s", oc_errmsg());
  return t;
}

static struct oc_lut_plan *small_plan(enum oc_lut_granularity g) {
  struct oc_net *net = load_small();
  struct oc_lut_plan *plan = NULL;
  cr_assert_eq(oc_lut_plan_create(g, &plan), oc_status_ok);
  cr_assert_eq(oc_lut_plan_add_net(plan, net), oc_status_ok);
  oc_net_free(net);
  return plan;
}

static int64_t rows_in(const char *p) {
  struct oc_lut *lut = NULL;
  int64_t n = -1;
  if (oc_lut_open(p, oc_lut_read_only, &lut) != oc_status_ok) return -1;
  oc_lut_count(lut, NULL, &n);
  oc_lut_close(lut);
  return n;
}

Test(lut_build, build_then_resume_measures_nothing_twice) {
  struct oc_target *t = open_cpu();
  struct oc_lut_plan *plan = small_plan(oc_lut_kernel);
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_ok);
  struct oc_measure_opts m = quick();
  /* Shard 0 of 2, then everything: the second run skips shard 0's rows. */
  struct oc_lut_build_opts o = {.shard_index = 0, .shard_count = 2, .measure = &m};
  struct oc_lut_build_report r;
  cr_assert_eq(oc_lut_build(lut, t, plan, &o, &r), oc_status_ok, "%s", oc_errmsg());
  int64_t n_plan = (int64_t)oc_lut_plan_size(plan);
  cr_assert_eq(r.planned, n_plan);
  cr_assert_eq(r.measured, r.in_shard);
  cr_assert_eq(r.stored, 0);
  int64_t first = r.measured;
  o.shard_count = 1;
  cr_assert_eq(oc_lut_build(lut, t, plan, &o, &r), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(r.stored, first);
  cr_assert_eq(r.measured, n_plan - first);
  cr_assert_eq(r.remaining, 0);
  cr_assert_eq(oc_lut_build(lut, t, plan, &o, &r), oc_status_ok);
  cr_assert_eq(r.measured, 0);
  cr_assert_eq(r.stored, n_plan);
  /* Every row is complete: stats, costs, env and counters JSON. */
  struct oc_lut_row row;
  cr_assert_eq(oc_lut_get(lut, r.fingerprint, 1, oc_lut_plan_key(plan, 0), &row), oc_status_ok);
  cr_assert_geq(row.samples, 5);
  cr_assert(row.median_us > 0 && isfinite(row.median_us));
  cr_assert_leq(row.p10_us, row.median_us);
  cr_assert_geq(row.p90_us, row.median_us);
  cr_assert_eq(row.source, oc_lut_measured);
  cr_assert(strstr(row.env_json, "\"timer\""), "%s", row.env_json);
  cr_assert(strstr(row.env_json, "\"fingerprint\""), "%s", row.env_json);
  cr_assert(strstr(row.counters_json, "\"source\""), "%s", row.counters_json);
  cr_assert_eq(row.peak_bytes, row.bytes);
  struct oc_lut_device dev;
  cr_assert_eq(oc_lut_get_device(lut, r.fingerprint, &dev), oc_status_ok);
  cr_assert_str_eq(dev.target, "cpu");
  oc_lut_close(lut);
  oc_lut_plan_free(plan);
  oc_target_close(t);
}

Test(lut_build, time_budget_and_stop_leave_work_for_later) {
  struct oc_target *t = open_cpu();
  struct oc_lut_plan *plan = small_plan(oc_lut_kernel);
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_ok);
  struct oc_measure_opts m = quick();
  volatile sig_atomic_t stop = 1;
  struct oc_lut_build_opts o = {.measure = &m, .stop = &stop};
  struct oc_lut_build_report r;
  cr_assert_eq(oc_lut_build(lut, t, plan, &o, &r), oc_status_ok);
  cr_assert(r.stopped);
  cr_assert_eq(r.measured, 0);
  cr_assert_eq(r.remaining, (int64_t)oc_lut_plan_size(plan));
  o.stop = NULL;
  o.time_budget_s = 1e-9;
  cr_assert_eq(oc_lut_build(lut, t, plan, &o, &r), oc_status_ok);
  cr_assert(r.budget_exhausted);
  cr_assert_eq(r.measured + r.remaining, (int64_t)oc_lut_plan_size(plan));
  cr_assert_lt(r.measured, 2);
  o.shard_index = 2;
  o.shard_count = 2;
  cr_assert_eq(oc_lut_build(lut, t, plan, &o, &r), oc_status_invalid_argument);
  oc_lut_close(lut);
  oc_lut_plan_free(plan);
  oc_target_close(t);
}

Test(lut_build, block_build_runs_blocks_as_networks) {
  struct oc_target *t = open_cpu();
  if (!(oc_target_vtab_of(t)->caps & oc_cap_networks)) {
    oc_target_close(t);
    cr_skip_test("the cpu target runs no networks in this build");
  }
  struct oc_lut_plan *plan = small_plan(oc_lut_block);
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_ok);
  struct oc_measure_opts m = quick();
  struct oc_lut_build_opts o = {.measure = &m};
  struct oc_lut_build_report r;
  cr_assert_eq(oc_lut_build(lut, t, plan, &o, &r), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(r.measured, (int64_t)oc_lut_plan_size(plan));
  struct oc_net *net = load_small();
  struct oc_lut_row row;
  cr_assert_eq(oc_lut_get(lut, r.fingerprint, 1, net->layers[1].key, &row), oc_status_ok);
  cr_assert_eq(row.granularity, oc_lut_block);
  cr_assert_str_eq(row.kind, "mbconv");
  cr_assert_eq(row.macs, net->layers[1].cost.macs);
  cr_assert_gt(row.peak_bytes, row.weight_bytes);
  /* Block-granularity prediction then finds every layer. */
  struct oc_lut_cache *cache = NULL;
  cr_assert_eq(oc_lut_cache_load(lut, r.fingerprint, 1, &cache), oc_status_ok);
  struct oc_lut_prediction p;
  cr_assert_eq(oc_lut_predict(cache, net, oc_lut_block, NULL, true, &p), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_eq(p.misses, 0);
  cr_assert_eq(p.n_items, net->n_layers);
  oc_lut_prediction_clear(&p);
  oc_lut_cache_free(cache);
  oc_net_free(net);
  oc_lut_close(lut);
  oc_lut_plan_free(plan);
  oc_target_close(t);
}

/* A plan of n distinct small kernels. No Criterion asserts: child
 * processes build it too (an assert in a child, even a passing one, talks to
 * the runner and can hang it); NULL on failure. */
static struct oc_lut_plan *wide_plan(int n) {
  struct oc_lut_plan *plan = NULL;
  if (oc_lut_plan_create(oc_lut_kernel, &plan) != oc_status_ok) return NULL;
  for (int c = 1; c <= n; c++) {
    char key[128];
    snprintf(key, sizeof key, "fc.f32 m=1 cin=16 cout=%d act=none", c);
    if (oc_lut_plan_add_key(plan, key) != oc_status_ok) {
      oc_lut_plan_free(plan);
      return NULL;
    }
  }
  return plan;
}

static int child_build(int shard, int shards, int n) {
  struct oc_target *t = NULL;
  struct oc_lut *lut = NULL;
  if (oc_target_open("cpu", NULL, &t) != oc_status_ok) return 10;
  if (oc_lut_open(path, oc_lut_create, &lut) != oc_status_ok) {
    fprintf(stderr, "child open: %s\n", oc_errmsg());
    return 11;
  }
  struct oc_lut_plan *plan = wide_plan(n);
  if (plan == NULL) return 13;
  struct oc_measure_opts m = quick();
  struct oc_lut_build_opts o = {.shard_index = shard, .shard_count = shards, .measure = &m};
  struct oc_lut_build_report r;
  enum oc_status st = oc_lut_build(lut, t, plan, &o, &r);
  if (st != oc_status_ok) fprintf(stderr, "child build: %s\n", oc_errmsg());
  oc_lut_plan_free(plan);
  oc_lut_close(lut);
  oc_target_close(t);
  return st == oc_status_ok ? 0 : 12;
}

Test(lut_build, build_killed_mid_way_resumes_with_nothing_lost_or_duplicated) {
  struct oc_target *t = open_cpu();
  const int n = 400;
  pid_t pid = fork();
  if (pid == 0) _exit(child_build(0, 1, n));
  cr_assert_geq(pid, 0);
  int64_t seen = 0;
  for (int tries = 0; tries < 4000 && seen < 15; tries++) {
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    seen = rows_in(path);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  cr_assert(WIFSIGNALED(status), "the build was still running when killed (exit %d)",
            WEXITSTATUS(status));
  int64_t kept = rows_in(path);
  cr_assert_geq(kept, seen, "rows committed before the kill survive");
  cr_assert_lt(kept, n, "killed mid-way");
  /* Resume in this process. */
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_read_write, &lut), oc_status_ok, "%s", oc_errmsg());
  struct oc_lut_plan *plan = wide_plan(n);
  cr_assert_not_null(plan, "%s", oc_errmsg());
  struct oc_measure_opts m = quick();
  struct oc_lut_build_opts o = {.measure = &m};
  struct oc_lut_build_report r;
  cr_assert_eq(oc_lut_build(lut, t, plan, &o, &r), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(r.stored, kept);
  cr_assert_eq(r.measured, n - kept);
  int64_t total = -1;
  cr_assert_eq(oc_lut_count(lut, NULL, &total), oc_status_ok);
  cr_assert_eq(total, n);
  oc_lut_close(lut);
  oc_lut_plan_free(plan);
  oc_target_close(t);
}

Test(lut_build, two_builds_writing_one_store_lose_nothing) {
  struct oc_target *t = open_cpu();
  oc_target_close(t);
  const int n = 60;
  /* Two shards at once, then two unsharded builds racing over one plan. */
  for (int round = 0; round < 2; round++) {
    pid_t a = fork();
    if (a == 0) _exit(child_build(0, round == 0 ? 2 : 1, n));
    pid_t b = fork();
    if (b == 0) _exit(child_build(round == 0 ? 1 : 0, round == 0 ? 2 : 1, n));
    cr_assert(a > 0 && b > 0, "fork");
    int sa = 0, sb = 0;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    cr_assert(WIFEXITED(sa) && WEXITSTATUS(sa) == 0, "round %d: builder a: %d", round,
              WEXITSTATUS(sa));
    cr_assert(WIFEXITED(sb) && WEXITSTATUS(sb) == 0, "round %d: builder b: %d", round,
              WEXITSTATUS(sb));
    cr_assert_eq(rows_in(path), n, "round %d", round);
    if (round == 0) unlink(path);
    char p[600];
    snprintf(p, sizeof p, "%s-wal", path);
    if (round == 0) unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    if (round == 0) unlink(p);
  }
}

/* ---- prediction ---- */

/* Stores every kernel of the small network with median = 1 + index of its
 * key in the plan, except the keys for which skip() is true. */
static void store_kernels(struct oc_lut *lut, const char *fp, bool (*skip)(const char *)) {
  struct oc_lut_device d = {.info_json = "{}"};
  strcpy(d.fingerprint, fp);
  strcpy(d.target, "cpu");
  cr_assert_eq(oc_lut_put_device(lut, &d), oc_status_ok);
  struct oc_lut_plan *plan = small_plan(oc_lut_kernel);
  for (size_t i = 0; i < oc_lut_plan_size(plan); i++) {
    const char *key = oc_lut_plan_key(plan, i);
    if (skip && skip(key)) continue;
    struct oc_lut_row r;
    memset(&r, 0, sizeof r);
    strcpy(r.fingerprint, fp);
    strcpy(r.target, "cpu");
    r.threads = 1;
    snprintf(r.key, sizeof r.key, "%s", key);
    cr_assert_eq(oc_lut_row_fill_costs(&r), oc_status_ok);
    r.samples = 5;
    r.median_us = 1.0 + (double)i;
    r.p10_us = r.p90_us = r.min_us = r.mad_us = r.cv = -1;
    r.peak_bytes = -1;
    strcpy(r.measured_at, "2024-01-01T00:00:00Z");
    cr_assert_eq(oc_lut_put(lut, &r, oc_lut_fail, NULL), oc_status_ok, "%s", oc_errmsg());
  }
  oc_lut_plan_free(plan);
}

static bool skip_gap(const char *key) { return strncmp(key, "gap.", 4) == 0; }

static double expected_sum(const struct oc_net *net, struct oc_lut_cache *cache) {
  double sum = 0;
  for (int32_t i = 0; i < net->n_kernels; i++) {
    char key[OC_KEY_MAX];
    cr_assert_eq(oc_op_format(&net->kernels[i].op, key, sizeof key), oc_status_ok);
    double us = 0;
    cr_assert(oc_lut_cache_get(cache, key, &us), "%s", key);
    sum += us;
  }
  return sum;
}

Test(lut_build, predict_sums_kernels_plus_overhead) {
  const char *fp = "00000000000000c3";
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_ok);
  store_kernels(lut, fp, NULL);
  cr_assert_eq(oc_lut_set_overhead(lut, fp, 1, 100.0), oc_status_ok);
  struct oc_lut_cache *cache = NULL;
  cr_assert_eq(oc_lut_cache_load(lut, fp, 1, &cache), oc_status_ok);
  struct oc_net *net = load_small();
  double sum = expected_sum(net, cache);
  struct oc_lut_prediction p;
  cr_assert_eq(oc_lut_predict(cache, net, oc_lut_kernel, NULL, true, &p), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_float_eq(p.total_us, sum + 100.0, 1e-9);
  cr_assert_float_eq(p.lut_us, sum, 1e-9);
  cr_assert_eq(p.overhead_us, 100.0);
  cr_assert_eq(p.misses, 0);
  cr_assert_eq(p.n_items, net->n_kernels);
  cr_assert_eq(p.peak_memory_bytes, net->cost.weight_bytes + net->cost.peak_activation_bytes);
  cr_assert_gt(p.peak_activation_bytes, 0);
  for (int32_t i = 0; i < p.n_items; i++) cr_assert_eq(p.items[i].origin, oc_lut_from_lut);
  double fast = 0;
  int32_t misses = -1;
  cr_assert_eq(oc_lut_predict_us(cache, net, oc_lut_kernel, NULL, true, &fast, &misses),
               oc_status_ok);
  cr_assert_float_eq(fast, p.total_us, 1e-9);
  cr_assert_eq(misses, 0);
  oc_lut_prediction_clear(&p);
  oc_lut_cache_free(cache);
  oc_net_free(net);
  oc_lut_close(lut);
}

Test(lut_build, misses_never_count_as_zero) {
  const char *fp = "00000000000000c3";
  struct oc_lut *lut = NULL;
  cr_assert_eq(oc_lut_open(path, oc_lut_create, &lut), oc_status_ok);
  store_kernels(lut, fp, skip_gap);
  struct oc_lut_cache *cache = NULL;
  cr_assert_eq(oc_lut_cache_load(lut, fp, 1, &cache), oc_status_ok);
  struct oc_net *net = load_small();
  struct oc_lut_prediction p;
  int32_t gaps = 0; /* the pooling layer and the squeeze-excite pools */
  for (int32_t i = 0; i < net->n_kernels; i++) gaps += net->kernels[i].op.kind == oc_op_gap;
  cr_assert_geq(gaps, 2);
  /* No roofline: an error that names the missing op. */
  cr_assert_eq(oc_lut_predict(cache, net, oc_lut_kernel, NULL, false, &p), oc_status_not_found);
  cr_assert(strstr(oc_errmsg(), "gap.f32"), "%s", oc_errmsg());
  cr_assert_eq(p.misses, gaps);
  oc_lut_prediction_clear(&p);
  double us = 0;
  int32_t misses = 0;
  cr_assert_eq(oc_lut_predict_us(cache, net, oc_lut_kernel, NULL, false, &us, &misses),
               oc_status_not_found);
  cr_assert_eq(misses, gaps);
  /* With a roofline: filled and flagged. */
  struct oc_lut_roofline roof = {.peak_gflops = 10, .bandwidth_gbs = 2, .launch_us = 0.5};
  cr_assert_eq(oc_lut_predict(cache, net, oc_lut_kernel, &roof, false, &p), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_eq(p.misses, gaps);
  const struct oc_lut_pred_item *gap = NULL;
  double filled = 0;
  for (int32_t i = 0; i < p.n_items; i++)
    if (p.items[i].origin != oc_lut_from_lut) {
      gap = &p.items[i];
      filled += gap->us;
    }
  cr_assert_not_null(gap);
  cr_assert(strncmp(gap->key, "gap.f32", 7) == 0);
  cr_assert_eq(gap->origin, oc_lut_from_roofline);
  double want = fmax((double)gap->flops / 10e3, (double)gap->bytes / 2e3) + 0.5;
  cr_assert_float_eq(gap->us, want, 1e-12);
  cr_assert_gt(gap->us, 0);
  cr_assert_float_eq(p.roofline_us, filled, 1e-9);
  cr_assert_float_eq(p.total_us, p.lut_us + filled, 1e-9);
  oc_lut_prediction_clear(&p);
  /* Strict: an error even with a roofline. */
  cr_assert_eq(oc_lut_predict(cache, net, oc_lut_kernel, &roof, true, &p), oc_status_not_found);
  oc_lut_prediction_clear(&p);
  /* Block granularity: no block rows at all -> every layer misses. */
  cr_assert_eq(oc_lut_predict(cache, net, oc_lut_block, &roof, false, &p), oc_status_ok);
  cr_assert_eq(p.misses, net->n_layers - 2, "only the stem conv and fc hit (gap is absent)");
  oc_lut_prediction_clear(&p);
  oc_lut_cache_free(cache);
  oc_net_free(net);
  oc_lut_close(lut);
}

Test(lut_build, roofline_from_a_profile) {
  struct oc_device_profile prof;
  memset(&prof, 0, sizeof prof);
  prof.peak_gflops_one_core = 50;
  prof.peak_gflops_all_cores = 200;
  prof.dram_read_gbs_all_cores = 40;
  prof.n_levels = 1;
  prof.levels[0].read_gbs = 12;
  struct oc_lut_roofline r;
  cr_assert_eq(oc_lut_roofline_from_profile(&prof, 1, &r), oc_status_ok);
  cr_assert_eq(r.peak_gflops, 50);
  cr_assert_eq(r.bandwidth_gbs, 12);
  cr_assert_eq(oc_lut_roofline_from_profile(&prof, 4, &r), oc_status_ok);
  cr_assert_eq(r.peak_gflops, 200);
  cr_assert_eq(r.bandwidth_gbs, 40);
  cr_assert_float_eq(oc_lut_roofline_us(&r, 2000000, 0), 10.0, 1e-12);
  cr_assert_float_eq(oc_lut_roofline_us(&r, 0, 4000000), 100.0, 1e-12);
  prof.peak_gflops_all_cores = NAN;
  cr_assert_eq(oc_lut_roofline_from_profile(&prof, 4, &r), oc_status_invalid_argument);
}
