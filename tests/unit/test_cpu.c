/* test_cpu.c - the cpu backend (XNNPACK + own kernels): opening with one and
 * two threads, pinning, argument checking, the device description, what it
 * refuses, XNNPACK status translation, and results of every op kind against
 * the reference kernels (targets/ref) on odd shapes, plus a few checks
 * against naive loops written here (depthwise conv, padded average pooling,
 * batched matmul) that do not lean on ref.
 *
 * Tolerance: inputs are uniform in [-1, 1] and weights scaled by
 * 1/sqrt(fan-in), so outputs are O(1); float accumulation against ref's
 * double gives errors near 1e-6, XNNPACK's polynomial sigmoid/exp a few
 * ULP. |got - want| <= 1e-4 + 1e-4 * |want| separates those from a wrong
 * index or a wrong padding rule, which move results by O(0.1). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "opcost/opcost.h"
#include "targets/cpu/cpu.h"
#include "targets/ref/ref.h"

#define ATOL 1e-4
#define RTOL 1e-4

static uint64_t rng_state;

static float rnd(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)((double)(rng_state >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

/* Every buffer keeps XNN_EXTRA_BYTES of readable slack after its end, as
 * XNNPACK requires of its inputs (it may read, never write, that far). */
static float *rnd_buffer(int64_t n, float scale) {
  float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p + XNN_EXTRA_BYTES);
  cr_assert_not_null(p);
  for (int64_t i = 0; i < n; i++) p[i] = rnd() * scale;
  return p;
}

static struct oc_target *open_cpu(int threads) {
  struct oc_target_opts opts = {.threads = threads};
  struct oc_target *t = NULL;
  enum oc_status st = oc_target_open("cpu", &opts, &t);
  cr_assert_eq(st, oc_status_ok, "open cpu (threads=%d): %s", threads, oc_errmsg());
  return t;
}

/* Buffers of one op, filled with seeded random data. */
struct buffers {
  struct oc_op_shapes sh;
  float *in[OC_MAX_INPUTS];
  float *weights, *bias, *out, *want;
  int64_t out_elems;
  struct oc_tensors t;
};

static void buffers_make(const struct oc_op *op, struct buffers *b, uint64_t seed) {
  memset(b, 0, sizeof *b);
  rng_state = seed;
  cr_assert_eq(oc_op_shapes(op, &b->sh), oc_status_ok);
  for (int i = 0; i < b->sh.n_inputs; i++) {
    /* softmax and layernorm see a wider range to exercise max-subtraction and
     * the variance; everything else [-1, 1]. */
    float scale = op->kind == oc_op_softmax || op->kind == oc_op_layernorm ? 4.0f : 1.0f;
    b->in[i] = rnd_buffer(oc_tensor_elems(&b->sh.input[i]), scale);
    b->t.input[i] = b->in[i];
  }
  if (b->sh.weight_elems > 0) {
    int64_t fan_in = b->sh.bias_elems > 0 ? b->sh.weight_elems / b->sh.bias_elems : 1;
    float scale = op->kind == oc_op_layernorm ? 1.0f : 1.0f / sqrtf((float)fan_in);
    b->weights = rnd_buffer(b->sh.weight_elems, scale);
    b->bias = rnd_buffer(b->sh.bias_elems, 0.5f);
    b->t.weights = b->weights;
    b->t.bias = b->bias;
  }
  b->out_elems = oc_tensor_elems(&b->sh.output);
  b->out = rnd_buffer(b->out_elems, 100.0f); /* garbage the op must overwrite */
  b->want = rnd_buffer(b->out_elems, 100.0f);
  b->t.output = b->out;
}

static void buffers_free(struct buffers *b) {
  for (int i = 0; i < OC_MAX_INPUTS; i++) free(b->in[i]);
  free(b->weights);
  free(b->bias);
  free(b->out);
  free(b->want);
}

static void expect_close(const char *key, const float *got, const float *want, int64_t n) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - (double)want[i]);
    if (!(d <= ATOL + RTOL * fabs((double)want[i]))) {
      if (first < 0) first = i;
      bad++;
    }
  }
  cr_expect_eq(bad, 0, "%s: %lld of %lld outputs differ; first at %lld: got %.9g want %.9g", key,
               (long long)bad, (long long)n, (long long)first, first >= 0 ? got[first] : 0.0,
               first >= 0 ? want[first] : 0.0);
}

/* Runs op on the cpu target (twice: plan once, run many) and on ref. */
static void check_against_ref(struct oc_target *t, const char *key) {
  struct oc_op op;
  struct buffers b;
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_op_parse(key, &op), oc_status_ok, "%s: %s", key, oc_errmsg());
  buffers_make(&op, &b, oc__hash64_str(OC__HASH_SEED, key));
  struct oc_tensors want_t = b.t;
  want_t.output = b.want;
  cr_assert_eq(oc__ref_compute(&op, &want_t), oc_status_ok, "ref %s: %s", key, oc_errmsg());
  enum oc_status st = oc_target_prepare(t, &op, &b.t, &k);
  cr_assert_eq(st, oc_status_ok, "prepare %s: %s", key, oc_errmsg());
  cr_assert_eq(oc_target_run(t, k), oc_status_ok, "run %s: %s", key, oc_errmsg());
  for (int64_t i = 0; i < b.out_elems; i++) b.out[i] = NAN;
  cr_assert_eq(oc_target_run(t, k), oc_status_ok, "second run %s: %s", key, oc_errmsg());
  cr_assert_eq(oc_target_read_output(t, k), oc_status_ok);
  expect_close(key, b.out, b.want, b.out_elems);
  oc_target_release(t, k);
  buffers_free(&b);
}

static const char *const op_keys[] = {
    /* conv2d: 1x1 (GEMM path), 3x3 odd sizes, stride 2 with asymmetric
     * padding, groups, depthwise, depth multiplier, dilation, every act. */
    "conv2d.f32 h=7 w=7 cin=13 cout=17 k=1 s=1 g=1 d=1 act=none",
    "conv2d.f32 h=13 w=7 cin=3 cout=16 k=3 s=2 g=1 d=1 act=relu6",
    "conv2d.f32 h=8 w=8 cin=8 cout=12 k=3 s=2 g=1 d=1 act=relu",
    "conv2d.f32 h=9 w=11 cin=12 cout=18 k=5 s=1 g=3 d=1 act=hswish",
    "conv2d.f32 h=14 w=14 cin=24 cout=24 k=3 s=1 g=24 d=1 act=relu6",
    "conv2d.f32 h=15 w=15 cin=16 cout=16 k=5 s=2 g=16 d=1 act=swish",
    "conv2d.f32 h=7 w=9 cin=8 cout=16 k=3 s=1 g=8 d=1 act=sigmoid",
    "conv2d.f32 h=12 w=10 cin=6 cout=10 k=3 s=1 g=1 d=2 act=gelu",
    "conv2d.f32 h=12 w=12 cin=8 cout=8 k=3 s=2 g=8 d=3 act=hsigmoid",
    "conv2d.f32 h=5 w=5 cin=4 cout=6 k=7 s=3 g=2 d=1 act=tanh",
    /* fc */
    "fc.f32 m=1 cin=127 cout=13 act=none",
    "fc.f32 m=7 cin=64 cout=33 act=relu",
    "fc.f32 m=5 cin=19 cout=10 act=gelu",
    /* pools: k=1 (own copy), even/odd, stride larger than the window */
    "maxpool2d.f32 h=7 w=7 c=5 k=3 s=2",
    "maxpool2d.f32 h=8 w=6 c=3 k=2 s=2",
    "maxpool2d.f32 h=9 w=9 c=4 k=1 s=2",
    "maxpool2d.f32 h=7 w=7 c=3 k=2 s=3",
    "avgpool2d.f32 h=7 w=7 c=5 k=3 s=1",
    "avgpool2d.f32 h=13 w=9 c=17 k=5 s=3",
    "avgpool2d.f32 h=9 w=9 c=4 k=1 s=1",
    "avgpool2d.f32 h=10 w=7 c=6 k=3 s=2",
    "gap.f32 h=7 w=7 c=13",
    "gap.f32 h=1 w=1 c=3",
    /* act: every activation, sizes that are not multiples of a vector */
    "act.f32 h=3 w=5 c=7 act=relu",
    "act.f32 h=3 w=5 c=7 act=relu6",
    "act.f32 h=3 w=5 c=7 act=hswish",
    "act.f32 h=3 w=5 c=7 act=hsigmoid",
    "act.f32 h=3 w=5 c=7 act=sigmoid",
    "act.f32 h=3 w=5 c=7 act=swish",
    "act.f32 h=3 w=5 c=7 act=gelu",
    "act.f32 h=3 w=5 c=7 act=tanh",
    "act.f32 h=31 w=17 c=19 act=gelu",
    /* add, mul */
    "add.f32 h=7 w=7 c=13 act=none",
    "add.f32 h=5 w=3 c=9 act=relu6",
    "add.f32 h=5 w=3 c=9 act=hswish",
    "add.f32 h=5 w=3 c=9 act=gelu",
    "mul.f32 h=7 w=5 c=13 bc=0",
    "mul.f32 h=7 w=5 c=13 bc=1",
    "mul.f32 h=1 w=1 c=5 bc=1",
    /* softmax, layernorm (c below and above the reduction lanes) */
    "softmax.f32 h=1 w=7 c=13",
    "softmax.f32 h=3 w=3 c=1000",
    "layernorm.f32 h=1 w=7 c=13",
    "layernorm.f32 h=1 w=197 c=192",
    "layernorm.f32 h=2 w=3 c=1",
    /* concat */
    "concat.f32 h=7 w=5 c=3 c2=13",
    "concat.f32 h=2 w=2 c=16 c2=1",
    /* matmul: edge tiles, k beyond one pass over B, both layouts */
    "matmul.f32 b=1 m=1 k=1 n=1 tb=0",
    "matmul.f32 b=3 m=7 k=13 n=33 tb=0",
    "matmul.f32 b=2 m=13 k=600 n=70 tb=0",
    "matmul.f32 b=1 m=8 k=64 n=64 tb=0",
    "matmul.f32 b=3 m=7 k=13 n=33 tb=1",
    "matmul.f32 b=2 m=9 k=520 n=127 tb=1",
};

Test(cpu, probe_and_registry) {
  const struct oc_target_vtab *v = oc_target_find("cpu");
  char why[256];
  cr_assert_not_null(v);
  cr_expect_str_eq(v->name, "cpu");
  const uint32_t caps = oc_cap_host_memory | oc_cap_threads | oc_cap_pinning;
  cr_expect_eq(v->caps & caps, caps);
  cr_expect_eq(v->caps & oc_cap_device_timer, 0u);
  cr_expect_not_null(strstr(v->summary, "XNNPACK"));
  cr_assert_eq(oc_target_available(v, why, sizeof why), oc_status_ok, "cpu unavailable: %s", why);
  /* Host memory: results are in the output buffer after run, nothing to read back. */
  cr_expect_null(v->read_output);
}

Test(cpu, open_close_one_and_two_threads) {
  for (int threads = 1; threads <= 2; threads++) {
    struct oc_target *t = open_cpu(threads);
    struct oc_device_info info;
    cr_assert_eq(oc_target_describe(t, &info), oc_status_ok);
    cr_expect_eq(info.threads, threads);
    cr_expect_eq(oc_target_options(t)->threads, threads);
    oc_target_close(t);
  }
  oc_target_close(NULL);
}

Test(cpu, bad_args_rejected) {
  struct oc_target *t = NULL;
  enum oc_status st = oc_target_open("cpu:frobnicate=1", NULL, &t);
  cr_expect_eq(st, oc_status_invalid_argument);
  cr_expect_null(t);
  cr_expect_not_null(strstr(oc_errmsg(), "frobnicate=1"), "message: %s", oc_errmsg());
  struct oc_target_opts opts = {.threads = -2};
  cr_expect_eq(oc_target_open("cpu", &opts, &t), oc_status_invalid_argument);
  /* Empty args after the colon are the same as none. */
  cr_assert_eq(oc_target_open("cpu:", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  oc_target_close(t);
}

/* Number of this process's threads whose allowed CPUs read exactly `list`. */
static int threads_with_cpus(const char *list) {
  DIR *dir = opendir("/proc/self/task");
  struct dirent *e;
  int count = 0;
  cr_assert_not_null(dir);
  while ((e = readdir(dir)) != NULL) {
    char path[300], line[512];
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL) continue;
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "Cpus_allowed_list:", 18) == 0) {
        char *v = line + 18;
        while (isspace((unsigned char)*v)) v++;
        v[strcspn(v, "\n")] = '\0';
        if (strcmp(v, list) == 0) count++;
      }
    }
    fclose(f);
  }
  closedir(dir);
  return count;
}

Test(cpu, pinning_to_core_0) {
  cpu_set_t before, during, after;
  cr_assert_eq(sched_getaffinity(0, sizeof before, &before), 0);
  if (!CPU_ISSET(0, &before)) cr_skip_test("core 0 is not in this process's CPU set");
  struct oc_target_opts opts = {.threads = 2};
  cr_assert_eq(oc_target_parse_cores("0", &opts), oc_status_ok, "%s", oc_errmsg());
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("cpu", &opts, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(sched_getaffinity(0, sizeof during, &during), 0);
  cr_expect_eq(CPU_COUNT(&during), 1);
  cr_expect(CPU_ISSET(0, &during));
  /* The pool's worker was created after pinning: it and this thread are on
   * core 0. */
  cr_expect_geq(threads_with_cpus("0"), 2);
  cr_expect_eq(oc_target_options(t)->n_cores, 1);
  cr_expect_eq(oc_target_options(t)->cores[0], 0);
  oc_target_close(t);
  cr_assert_eq(sched_getaffinity(0, sizeof after, &after), 0);
  cr_expect(CPU_EQUAL(&before, &after), "close did not give back the former affinity");
}

static bool is_hex16(const char *s) {
  if (strlen(s) != 16) return false;
  for (int i = 0; i < 16; i++) {
    if (!isxdigit((unsigned char)s[i])) return false;
  }
  return true;
}

Test(cpu, describe_fills_fields) {
  struct oc_target *t = open_cpu(2);
  struct oc_device_info info;
  cr_assert_eq(oc_target_describe(t, &info), oc_status_ok, "%s", oc_errmsg());
  cr_expect_str_eq(info.target, "cpu");
  cr_expect_eq(strncmp(info.runtime, "XNNPACK ", 8), 0, "runtime: %s", info.runtime);
  cr_expect_gt(strlen(info.runtime), 8);
  cr_expect_neq(info.arch[0], '\0');
  cr_expect_gt(info.cores_logical, 0);
  cr_expect_eq(info.threads, 2);
  cr_expect(is_hex16(info.fingerprint), "fingerprint '%s'", info.fingerprint);
  /* The fingerprint does not depend on the thread count... */
  struct oc_target *t1 = open_cpu(1);
  struct oc_device_info info1;
  cr_assert_eq(oc_target_describe(t1, &info1), oc_status_ok);
  cr_expect_str_eq(info1.fingerprint, info.fingerprint);
  /* ...but differs from ref's on the same machine (another runtime). */
  struct oc_target *r = NULL;
  struct oc_device_info rinfo;
  cr_assert_eq(oc_target_open("ref", NULL, &r), oc_status_ok);
  cr_assert_eq(oc_target_describe(r, &rinfo), oc_status_ok);
  cr_expect_str_neq(rinfo.fingerprint, info.fingerprint);
  oc_target_close(r);
  oc_target_close(t1);
  oc_target_close(t);
}

Test(cpu, refuses_other_dtypes_with_reason) {
  struct oc_target *t = open_cpu(1);
  const char *keys[] = {"conv2d.f16 h=8 w=8 cin=8 cout=8 k=3 s=1 g=1 d=1 act=relu",
                        "fc.qs8 m=1 cin=8 cout=8 act=none", "softmax.f16 h=1 w=4 c=8"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    struct oc_op op;
    char why[256] = "";
    cr_assert_eq(oc_op_parse(keys[i], &op), oc_status_ok, "%s", oc_errmsg());
    cr_expect_not(oc_target_supports(t, &op, why, sizeof why), "%s", keys[i]);
    cr_expect_not_null(strstr(why, oc_dtype_name(op.dtype)), "%s: reason '%s'", keys[i], why);
    cr_expect_not_null(strstr(why, "f32"), "%s: reason '%s'", keys[i], why);
    struct oc_kernel *k = NULL;
    struct oc_tensors tensors = {{NULL}, NULL, NULL, NULL};
    cr_expect_eq(oc_target_prepare(t, &op, &tensors, &k), oc_status_unsupported);
    cr_expect_null(k);
  }
  oc_target_close(t);
}

Test(cpu, missing_buffers_rejected) {
  struct oc_target *t = open_cpu(1);
  struct oc_op op;
  float x[32] = {0};
  cr_assert_eq(oc_op_parse("fc.f32 m=1 cin=4 cout=4 act=none", &op), oc_status_ok);
  struct oc_tensors tensors = {{x, NULL}, NULL, NULL, x};
  struct oc_kernel *k = NULL;
  cr_expect_eq(oc_target_prepare(t, &op, &tensors, &k), oc_status_invalid_argument);
  cr_expect_not_null(strstr(oc_errmsg(), "weights"), "%s", oc_errmsg());
  tensors.weights = x;
  tensors.output = NULL;
  cr_expect_eq(oc_target_prepare(t, &op, &tensors, &k), oc_status_invalid_argument);
  cr_expect_not_null(strstr(oc_errmsg(), "output"), "%s", oc_errmsg());
  oc_target_close(t);
}

Test(cpu, xnn_status_translated_with_raw_value) {
  enum oc_status st = oc__cpu_xnn_fail("xnn_create_convolution2d_nhwc_f32",
                                       xnn_status_invalid_parameter);
  cr_expect_eq(st, oc_status_invalid_argument);
  cr_expect_str_eq(oc_errmsg(),
                   "xnn_create_convolution2d_nhwc_f32 failed: xnn_status 2 (invalid parameter)");
  cr_expect_eq(oc__cpu_xnn_fail("f", xnn_status_out_of_memory), oc_status_out_of_memory);
  cr_expect_eq(oc__cpu_xnn_fail("f", xnn_status_unsupported_hardware), oc_status_unavailable);
  cr_expect_not_null(strstr(oc_errmsg(), "xnn_status 5"));
  cr_expect_eq(oc__cpu_xnn_fail("f", xnn_status_success), oc_status_ok);
}

Test(cpu, ops_match_ref_one_thread) {
  struct oc_target *t = open_cpu(1);
  for (size_t i = 0; i < sizeof op_keys / sizeof op_keys[0]; i++) check_against_ref(t, op_keys[i]);
  oc_target_close(t);
}

Test(cpu, ops_match_ref_two_threads) {
  struct oc_target *t = open_cpu(2);
  for (size_t i = 0; i < sizeof op_keys / sizeof op_keys[0]; i++) check_against_ref(t, op_keys[i]);
  oc_target_close(t);
}

/* Every activation over [-30, 30] (saturation, tiny tails, the switch
 * points of the polynomial kernels) against ref's double evaluation, with a
 * tolerance 10x tighter than the op table's. */
Test(cpu, activations_wide_range) {
  const int count = 6007;
  float *x = malloc(sizeof(float) * (size_t)count + XNN_EXTRA_BYTES);
  float *y = malloc(sizeof(float) * (size_t)count);
  cr_assert(x && y);
  for (int i = 0; i < count; i++) x[i] = -30.0f + 60.0f * (float)i / (float)(count - 1);
  x[0] = 0.0f;
  x[1] = -0.5f;
  x[2] = 0.5f;
  x[3] = 1e-7f;
  for (int t = 1; t <= 2; t++) {
    struct oc_target *tg = open_cpu(t);
    for (int a = oc_act_relu; a < oc_act__count; a++) {
      char key[OC_KEY_MAX];
      struct oc_op op;
      struct oc_kernel *k = NULL;
      snprintf(key, sizeof key, "act.f32 h=1 w=1 c=%d act=%s", count, oc_act_name((enum oc_act)a));
      cr_assert_eq(oc_op_parse(key, &op), oc_status_ok, "%s", oc_errmsg());
      struct oc_tensors ts = {{x, NULL}, NULL, NULL, y};
      cr_assert_eq(oc_target_prepare(tg, &op, &ts, &k), oc_status_ok, "%s: %s", key, oc_errmsg());
      cr_assert_eq(oc_target_run(tg, k), oc_status_ok);
      oc_target_release(tg, k);
      int bad = 0, first = -1;
      for (int i = 0; i < count; i++) {
        double want = oc__ref_act_f32((enum oc_act)a, x[i]);
        if (!(fabs(y[i] - want) <= 1e-5 + 1e-5 * fabs(want))) {
          if (first < 0) first = i;
          bad++;
        }
      }
      cr_expect_eq(bad, 0, "%s (threads=%d): %d differ, first x=%g got %.9g want %.9g", key, t, bad,
                   first >= 0 ? x[first] : 0.0, first >= 0 ? y[first] : 0.0,
                   first >= 0 ? oc__ref_act_f32((enum oc_act)a, x[first]) : 0.0);
    }
    oc_target_close(tg);
  }
  free(x);
  free(y);
}

/* Runs key on t into a fresh buffer of the key's output size. */
static float *run_key(struct oc_target *t, const char *key, struct buffers *b) {
  struct oc_op op;
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_op_parse(key, &op), oc_status_ok, "%s", oc_errmsg());
  buffers_make(&op, b, 42);
  cr_assert_eq(oc_target_prepare(t, &op, &b->t, &k), oc_status_ok, "%s: %s", key, oc_errmsg());
  cr_assert_eq(oc_target_run(t, k), oc_status_ok);
  oc_target_release(t, k);
  return b->out;
}

/* Own kernels tile work independently of the pool: bit-identical results. */
Test(cpu, own_kernels_same_bits_for_any_thread_count) {
  const char *keys[] = {"matmul.f32 b=2 m=37 k=300 n=45 tb=1",
                        "layernorm.f32 h=3 w=41 c=77", "act.f32 h=9 w=9 c=130 act=gelu"};
  struct oc_target *t1 = open_cpu(1), *t2 = open_cpu(2);
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    struct buffers b1, b2;
    run_key(t1, keys[i], &b1);
    run_key(t2, keys[i], &b2);
    cr_expect_eq(memcmp(b1.out, b2.out, (size_t)b1.out_elems * sizeof(float)), 0, "%s", keys[i]);
    buffers_free(&b1);
    buffers_free(&b2);
  }
  oc_target_close(t1);
  oc_target_close(t2);
}

/* Independent of ref: a depthwise 3x3, stride 2 conv with the "same" padding
 * rule spelled out (odd pixel at the bottom/right), and weights laid out
 * [cout][k][k][1]. */
Test(cpu, depthwise_conv_naive) {
  struct oc_target *t = open_cpu(1);
  struct buffers b;
  const int h = 8, w = 7, c = 5, k = 3, s = 2, oh = 4, ow = 4;
  run_key(t, "conv2d.f32 h=8 w=7 cin=5 cout=5 k=3 s=2 g=5 d=1 act=none", &b);
  /* total padding: rows (4-1)*2+3-8 = 1 -> top 0, bottom 1; cols (4-1)*2+3-7
   * = 2 -> left 1, right 1. */
  cr_expect_eq(b.sh.pad_top, 0);
  cr_expect_eq(b.sh.pad_left, 1);
  for (int y = 0; y < oh; y++) {
    for (int x = 0; x < ow; x++) {
      for (int ch = 0; ch < c; ch++) {
        double acc = b.bias[ch];
        for (int ky = 0; ky < k; ky++) {
          for (int kx = 0; kx < k; kx++) {
            int iy = y * s + ky, ix = x * s - 1 + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            acc += (double)b.in[0][(iy * w + ix) * c + ch] * b.weights[(ch * k + ky) * k + kx];
          }
        }
        float got = b.out[(y * ow + x) * c + ch];
        cr_expect_float_eq(got, (float)acc, 1e-5, "out[%d][%d][%d]", y, x, ch);
      }
    }
  }
  buffers_free(&b);
  oc_target_close(t);
}

/* Independent of ref: average pooling divides by the pixels inside the
 * image (XNNPACK agrees; a divisor of k*k would fail at the borders). */
Test(cpu, avgpool_excludes_padding_naive) {
  struct oc_target *t = open_cpu(1);
  struct buffers b;
  const int h = 5, w = 5, c = 2;
  run_key(t, "avgpool2d.f32 h=5 w=5 c=2 k=3 s=1", &b);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      for (int ch = 0; ch < c; ch++) {
        double sum = 0;
        int n = 0;
        for (int iy = y - 1; iy <= y + 1; iy++) {
          for (int ix = x - 1; ix <= x + 1; ix++) {
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            sum += b.in[0][(iy * w + ix) * c + ch];
            n++;
          }
        }
        cr_expect_float_eq(b.out[(y * w + x) * c + ch], (float)(sum / n), 1e-5,
                           "out[%d][%d][%d]", y, x, ch);
      }
    }
  }
  buffers_free(&b);
  oc_target_close(t);
}

/* Independent of ref: batched matmul with B transposed. */
Test(cpu, matmul_tb_naive) {
  struct oc_target *t = open_cpu(2);
  struct buffers b;
  const int nb = 2, m = 5, k = 37, n = 35;
  run_key(t, "matmul.f32 b=2 m=5 k=37 n=35 tb=1", &b);
  for (int bi = 0; bi < nb; bi++) {
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double acc = 0;
        for (int p = 0; p < k; p++)
          acc += (double)b.in[0][(bi * m + i) * k + p] * b.in[1][(bi * n + j) * k + p];
        cr_expect_float_eq(b.out[(bi * m + i) * n + j], (float)acc, 1e-4, "out[%d][%d][%d]", bi,
                           i, j);
      }
    }
  }
  buffers_free(&b);
  oc_target_close(t);
}
