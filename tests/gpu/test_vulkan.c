/* test_vulkan.c - the vulkan target on this machine's Vulkan device
 * (lavapipe, a CPU device, in CI): what the conformance suite does not
 * reach. The conformance suite (tests/conformance) compares every op of its
 * table on this target with the default choices; here: the other shaders
 * (direct and im2col convolutions forced, tiled GEMM, every reduction
 * width), the staging path of devices without host-visible memory,
 * argument parsing, unavailability with its reason, limits that name the
 * op and the device, the timestamp arithmetic (valid bits, wrap, period),
 * the pipeline and tuning caches, the tuner and device characterization;
 * and whole networks (vulkan_net.c) against the ref target's network runs,
 * with their pooled buffers and the one im2col column matrix they share.
 *
 * Results are compared with the ref oracle as the conformance suite does:
 * |got - r| <= 2e-5 * sqrt(L) + 1e-4 * |r|, L the reduction length. Every
 * test that needs the device skips with the reason when there is none.
 * Tests never assert on speed, only on what a timing must satisfy. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "opcost/lut.h"
#include "opcost/net.h"
#include "opcost/probe.h"
#include "opcost/target.h"
#include "targets/ref/ref.h"
#include "targets/targets_internal.h"
#include "targets/vulkan/vulkan.h"
#include "tests/net_fixtures.h"

#define ATOL 2e-5
#define RTOL 1e-4

static void need_device(void) {
  char why[512];
  if (oc_target_available(&oc_target_vulkan, why, sizeof why) != oc_status_ok)
    cr_skip_test("no Vulkan device here: %s", why);
}

static struct vk_state *open_state(const char *args) {
  void *state = NULL;
  enum oc_status st = oc_target_vulkan.open(args, NULL, &state);
  cr_assert_eq(st, oc_status_ok, "open '%s': %s", args, oc_errmsg());
  return state;
}

/* ---- comparison with the oracle ------------------------------------------- */

static int64_t reduction_length(const struct oc_op *op) {
  switch (op->kind) {
  case oc_op_conv2d: return (int64_t)op->k * op->k * (op->cin / op->g);
  case oc_op_fc: return op->cin;
  case oc_op_matmul: return op->k;
  case oc_op_maxpool2d:
  case oc_op_avgpool2d: return (int64_t)op->k * op->k;
  case oc_op_gap: return (int64_t)op->h * op->w;
  case oc_op_layernorm:
  case oc_op_softmax: return op->c;
  default: return 1;
  }
}

static float *random_floats(struct oc__rng *rng, int64_t n, double lo, double hi) {
  float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
  cr_assert_not_null(x);
  for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * oc__rng_double(rng));
  return x;
}

/* Runs key on an open vulkan state (twice, output poisoned before each run)
 * and compares with the oracle. Inputs in [-8, 8] reach every corner of the
 * activations (relu6, hswish clamps; large |x| for sigmoid, tanh, gelu). */
static void check_op(struct vk_state *s, const char *key) {
  struct oc_op op;
  struct oc_op_shapes sh;
  cr_assert_eq(oc_op_parse(key, &op), oc_status_ok, "%s: %s", key, oc_errmsg());
  cr_assert_eq(oc_op_shapes(&op, &sh), oc_status_ok);
  struct oc__rng rng;
  oc__rng_seed(&rng, oc__hash64_str(OC__HASH_SEED, key));
  const double range = op.kind == oc_op_act || op.kind == oc_op_add ? 8.0 : 2.0;
  float *in[OC_MAX_INPUTS] = {NULL, NULL};
  for (int i = 0; i < sh.n_inputs; i++)
    in[i] = random_floats(&rng, oc_tensor_elems(&sh.input[i]), -range, range);
  double bound = 3.0 / sqrt((double)reduction_length(&op));
  float *w = random_floats(&rng, sh.weight_elems, op.kind == oc_op_layernorm ? 0.5 : -bound,
                           op.kind == oc_op_layernorm ? 1.5 : bound);
  float *b = random_floats(&rng, sh.bias_elems, -1.0, 1.0);
  const int64_t n_out = oc_tensor_elems(&sh.output);
  float *expected = malloc((size_t)n_out * sizeof *expected);
  float *got = malloc((size_t)n_out * sizeof *got);
  cr_assert(expected && got);
  struct oc_tensors ref_t = {{in[0], in[1]}, w, b, expected};
  cr_assert_eq(oc__ref_compute(&op, &ref_t), oc_status_ok, "ref: %s", oc_errmsg());
  struct oc_tensors t = {{in[0], in[1]}, w, b, got};
  void *kernel = NULL;
  enum oc_status st = oc_target_vulkan.prepare(s, &op, &t, &kernel);
  cr_assert_eq(st, oc_status_ok, "prepare '%s': %s", key, oc_errmsg());
  const double atol = ATOL * sqrt((double)reduction_length(&op));
  for (int run = 0; run < 2; run++) {
    for (int64_t i = 0; i < n_out; i++) got[i] = NAN;
    st = oc_target_vulkan.run(s, kernel);
    if (st == oc_status_ok) st = oc_target_vulkan.read_output(s, kernel);
    cr_assert_eq(st, oc_status_ok, "run '%s': %s", key, oc_errmsg());
    for (int64_t i = 0; i < n_out; i++) {
      double diff = fabs((double)got[i] - expected[i]);
      if (!(diff <= atol + RTOL * fabs(expected[i])))
        cr_assert_fail("'%s' run %d: element %lld: got %.9g, expected %.9g", key, run, (long long)i,
                       (double)got[i], (double)expected[i]);
    }
  }
  oc_target_vulkan.release(s, kernel);
  free(in[0]);
  free(in[1]);
  free(w);
  free(b);
  free(expected);
  free(got);
}

/* ---- availability and arguments ------------------------------------------- */

Test(vulkan, probe_finds_the_device) {
  need_device();
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("vulkan:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  struct oc_device_info info;
  cr_assert_eq(oc_target_describe(t, &info), oc_status_ok);
  cr_expect_str_eq(info.target, "vulkan");
  cr_expect_neq(info.name[0], '\0');
  cr_expect(strncmp(info.arch, "vulkan-", 7) == 0, "arch '%s'", info.arch);
  cr_expect(strstr(info.isa, "timestamps=") != NULL, "isa '%s'", info.isa);
  cr_expect_eq(strlen(info.fingerprint), 16);
  oc_target_close(t);
}

Test(vulkan, no_driver_is_unavailable_with_the_reason) {
  /* The loader reads these once a process; each Criterion test is a fresh
   * process. VK_DRIVER_FILES is the newer loaders' name. */
  setenv("VK_ICD_FILENAMES", "/nonexistent/opcost-test-icd.json", 1);
  setenv("VK_DRIVER_FILES", "/nonexistent/opcost-test-icd.json", 1);
  char why[512];
  cr_assert_eq(oc_target_available(&oc_target_vulkan, why, sizeof why), oc_status_unavailable);
  cr_expect(strstr(why, "no Vulkan driver (vkCreateInstance returned -9 "
                        "VK_ERROR_INCOMPATIBLE_DRIVER)") != NULL ||
                strstr(why, "no Vulkan device") != NULL,
            "why: %s", why);
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("vulkan", NULL, &t), oc_status_unavailable);
  cr_expect(strstr(oc_errmsg(), "no Vulkan") != NULL, "%s", oc_errmsg());
}

Test(vulkan, bad_arguments_are_named) {
  need_device();
  const char *cases[][2] = {
      {"device=99", "argument 'device': value '99' is not an index"},
      {"device=9", "argument 'device': value '9' is out of range"},
      {"device=one", "argument 'device': value 'one'"},
      {"conv=winograd", "argument 'conv': value 'winograd'"},
      {"memory=fast", "argument 'memory': value 'fast'"},
      {"tune=yes", "argument 'tune': value 'yes'"},
      {"cache=", "argument 'cache': empty value"},
      {"platform=0", "unknown argument 'platform'"},
      {"=3", "argument '=3': expected NAME=VALUE"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char spec[128];
    snprintf(spec, sizeof spec, "vulkan:%s", cases[i][0]);
    struct oc_target *t = NULL;
    cr_expect_eq(oc_target_open(spec, NULL, &t), oc_status_invalid_argument, "%s", spec);
    cr_expect(strstr(oc_errmsg(), cases[i][1]) != NULL, "'%s': message '%s' lacks '%s'", spec,
              oc_errmsg(), cases[i][1]);
    oc_target_close(t);
  }
}

/* ---- shaders and paths the default choices do not reach ------------------- */

static const char *const conv_cases[] = {
    "conv2d.f32 h=7 w=7 cin=3 cout=5 k=3 s=1 g=1 d=1 act=none",
    "conv2d.f32 h=13 w=11 cin=8 cout=16 k=3 s=2 g=1 d=1 act=relu6",
    "conv2d.f32 h=11 w=11 cin=6 cout=10 k=3 s=1 g=1 d=2 act=gelu",
    "conv2d.f32 h=8 w=8 cin=32 cout=129 k=1 s=2 g=1 d=1 act=none",
    "conv2d.f32 h=10 w=10 cin=12 cout=18 k=5 s=1 g=3 d=1 act=tanh",
    "conv2d.f32 h=13 w=13 cin=13 cout=13 k=3 s=2 g=13 d=2 act=relu6",
};

Test(vulkan, direct_convolution_matches_ref) {
  need_device();
  struct vk_state *s = open_state("conv=direct,tune=off");
  for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) check_op(s, conv_cases[i]);
  oc_target_vulkan.close(s);
}

Test(vulkan, im2col_gemm_convolution_matches_ref) {
  need_device();
  struct vk_state *s = open_state("conv=gemm,tune=off");
  for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) check_op(s, conv_cases[i]);
  oc_target_vulkan.close(s);
}

Test(vulkan, staging_memory_path_matches_ref) {
  need_device();
  struct vk_state *s = open_state("memory=staging,tune=off");
  cr_expect(s->force_staging);
  check_op(s, "conv2d.f32 h=9 w=9 cin=4 cout=8 k=3 s=1 g=1 d=1 act=relu");
  check_op(s, "fc.f32 m=3 cin=64 cout=33 act=none");
  check_op(s, "layernorm.f32 h=1 w=13 c=64");
  check_op(s, "concat.f32 h=7 w=7 c=3 c2=5");
  oc_target_vulkan.close(s);
}

static const char *const gemm_cases[] = {
    "matmul.f32 b=1 m=7 k=13 n=5 tb=0",
    "matmul.f32 b=3 m=13 k=64 n=17 tb=1",
    "matmul.f32 b=2 m=33 k=5 n=31 tb=1",
    "fc.f32 m=7 cin=13 cout=129 act=gelu",
    "conv2d.f32 h=7 w=7 cin=17 cout=9 k=1 s=1 g=1 d=1 act=relu",
};

Test(vulkan, tiled_and_register_gemm_match_ref_for_each_size) {
  need_device();
  struct vk_state *s = open_state("tune=off");
  const struct {
    int tiled;
    uint32_t lx, ly;
  } variants[] = {{1, 8, 8}, {1, 4, 4}, {0, 16, 4}, {0, 1, 1}};
  for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
    s->tuning.gemm_tiled = variants[v].tiled;
    s->tuning.gemm_local[0] = variants[v].lx;
    s->tuning.gemm_local[1] = variants[v].ly;
    for (size_t i = 0; i < sizeof gemm_cases / sizeof gemm_cases[0]; i++)
      check_op(s, gemm_cases[i]);
  }
  oc_target_vulkan.close(s);
}

Test(vulkan, reductions_and_elementwise_match_ref_for_every_width) {
  need_device();
  struct vk_state *s = open_state("tune=off");
  const uint32_t widths[] = {1, 16, 256};
  const char *keys[] = {"softmax.f32 h=2 w=3 c=300",         "layernorm.f32 h=1 w=3 c=1",
                        "layernorm.f32 h=1 w=2 c=513",       "gap.f32 h=7 w=7 c=13",
                        "avgpool2d.f32 h=9 w=9 c=5 k=3 s=2", "act.f32 h=3 w=5 c=7 act=gelu",
                        "mul.f32 h=3 w=5 c=7 bc=1"};
  for (size_t v = 0; v < sizeof widths / sizeof widths[0]; v++) {
    s->tuning.rows_local = widths[v];
    s->tuning.ew_local = widths[v];
    s->tuning.dw_local[0] = widths[v];
    s->tuning.dw_local[1] = 1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) check_op(s, keys[i]);
  }
  oc_target_vulkan.close(s);
}

/* ---- limits and errors ---------------------------------------------------- */

Test(vulkan, an_op_beyond_the_buffer_limit_names_the_op_and_the_device) {
  need_device();
  struct vk_state *s = open_state("tune=off");
  const uint64_t range = s->props.limits.maxStorageBufferRange;
  char device[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
  oc__strcpy(device, sizeof device, s->device_name);
  oc_target_vulkan.close(s);
  const uint64_t elems = range / sizeof(float) + 1;
  uint64_t c = 1;
  while ((elems + c - 1) / c > OC_FIELD_VALUE_MAX) c *= 2;
  char key[OC_KEY_MAX];
  snprintf(key, sizeof key, "act.f32 h=1 w=%llu c=%llu act=relu",
           (unsigned long long)((elems + c - 1) / c), (unsigned long long)c);
  struct oc_op op;
  cr_assert_eq(oc_op_parse(key, &op), oc_status_ok, "%s", oc_errmsg());
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("vulkan:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  float dummy[4] = {0};
  /* Never read: the limit is checked before anything is copied. */
  struct oc_tensors tensors = {{dummy, NULL}, NULL, NULL, dummy};
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_prepare(t, &op, &tensors, &k), oc_status_out_of_memory, "%s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), key) != NULL, "names the op: %s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), device) != NULL, "names the device: %s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), "maxStorageBufferRange") != NULL, "%s", oc_errmsg());
  oc_target_close(t);
}

Test(vulkan, results_are_translated) {
  cr_expect_str_eq(oc__vk_result_name(VK_ERROR_DEVICE_LOST), "VK_ERROR_DEVICE_LOST");
  cr_expect_str_eq(oc__vk_result_name((VkResult)-12345), "unknown VkResult");
  cr_expect_eq(oc__vk_status(VK_ERROR_OUT_OF_DEVICE_MEMORY), oc_status_out_of_memory);
  cr_expect_eq(oc__vk_status(VK_ERROR_DEVICE_LOST), oc_status_device_error);
  cr_expect_eq(oc__vk_status(VK_TIMEOUT), oc_status_timeout);
  cr_expect_eq(oc__vk_status(VK_SUCCESS), oc_status_ok);
}

/* ---- timing --------------------------------------------------------------- */

Test(vulkan, timestamps_honour_valid_bits_and_wrap) {
  cr_expect_eq(oc__vk_timestamp_ticks(100, 350, 64), 250);
  cr_expect_eq(oc__vk_timestamp_ticks(5, 5, 64), 0);
  /* 64-bit counter wrapping at 2^64. */
  cr_expect_eq(oc__vk_timestamp_ticks(UINT64_MAX - 9, 5, 64), 15);
  /* 32 valid bits: wrap at 2^32, and bits above the valid ones ignored. */
  cr_expect_eq(oc__vk_timestamp_ticks(0xFFFFFFF0u, 0x10u, 32), 0x20);
  cr_expect_eq(
      oc__vk_timestamp_ticks(UINT64_C(0xABCD000000000100), UINT64_C(0x1234000000000180), 36), 0x80);
  /* 36 valid bits wrapping. */
  cr_expect_eq(oc__vk_timestamp_ticks((UINT64_C(1) << 36) - 4, 4, 36), 8);
}

Test(vulkan, time_runs_gives_device_time_and_host_latency) {
  need_device();
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("vulkan:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  struct oc_op op;
  cr_assert_eq(oc_op_parse("conv2d.f32 h=14 w=14 cin=8 cout=8 k=3 s=1 g=1 d=1 act=relu", &op),
               oc_status_ok);
  struct oc_op_shapes sh;
  oc_op_shapes(&op, &sh);
  float *in = calloc((size_t)oc_tensor_elems(&sh.input[0]), sizeof *in);
  float *w = calloc((size_t)sh.weight_elems, sizeof *w);
  float *out = calloc((size_t)oc_tensor_elems(&sh.output), sizeof *out);
  struct oc_tensors tensors = {{in, NULL}, w, NULL, out};
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_prepare(t, &op, &tensors, &k), oc_status_ok, "%s", oc_errmsg());
  double device_us[5] = {0};
  cr_assert_eq(oc_target_time_runs(t, k, 5, device_us), oc_status_ok, "%s", oc_errmsg());
  for (int i = 0; i < 5; i++) cr_expect(device_us[i] > 0 && isfinite(device_us[i]));
  oc_target_release(t, k);
  oc_target_close(t);

  /* The host waits for each submission, so its latency encloses the
   * timestamps' span (slack for clock domains). */
  struct vk_state *s = open_state("tune=off");
  void *kernel = NULL;
  cr_assert_eq(oc_target_vulkan.prepare(s, &op, &tensors, &kernel), oc_status_ok);
  double host_us[5] = {0};
  cr_assert_eq(oc__vk_time_runs_host(s, kernel, 5, device_us, host_us), oc_status_ok, "%s",
               oc_errmsg());
  for (int i = 0; i < 5; i++) {
    cr_expect(device_us[i] > 0 && host_us[i] > 0);
    cr_expect(host_us[i] + 50.0 >= device_us[i], "run %d: host %.1f us < device %.1f us", i,
              host_us[i], device_us[i]);
  }
  oc_target_vulkan.release(s, kernel);
  oc_target_vulkan.close(s);
  free(in);
  free(w);
  free(out);
}

/* ---- caches --------------------------------------------------------------- */

static char cache_dir[64];

static void make_cache_dir(void) {
  oc__strcpy(cache_dir, sizeof cache_dir, "/tmp/opcost-test-vulkan-XXXXXX");
  cr_assert_not_null(mkdtemp(cache_dir));
}

static void remove_cache_dir(void) {
  if (cache_dir[0] == '\0') return;
  DIR *d = opendir(cache_dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') continue;
      char path[512];
      snprintf(path, sizeof path, "%s/%s", cache_dir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(cache_dir);
}

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && st.st_size > 0;
}

Test(vulkan, pipeline_data_and_tuning_are_cached, .init = make_cache_dir,
     .fini = remove_cache_dir) {
  need_device();
  char args[160], pipelines[256], tune[256];
  snprintf(args, sizeof args, "cache=%s,tune=off", cache_dir);
  struct vk_state *s = open_state(args);
  cr_expect_not(s->pipeline_cache_loaded);
  snprintf(pipelines, sizeof pipelines, "%s/vulkan-%016llx.pipelines", cache_dir,
           (unsigned long long)s->cache_key);
  snprintf(tune, sizeof tune, "%s/vulkan-%016llx.tune", cache_dir,
           (unsigned long long)s->cache_key);
  check_op(s, "add.f32 h=3 w=5 c=7 act=swish");
  oc_target_vulkan.close(s);
  cr_assert(file_exists(pipelines), "no pipeline cache data at %s", pipelines);
  s = open_state(args);
  cr_expect(s->pipeline_cache_loaded, "the second open should load %s", pipelines);
  oc_target_vulkan.close(s);

  FILE *f = fopen(tune, "w");
  cr_assert_not_null(f);
  fputs("opcost-vulkan-tuning 1\ngemm_tiled 1\ngemm_local 4 4\nimg_local 16 2\n"
        "dw_local 8 4\new_local 32\nrows_local 16\n",
        f);
  fclose(f);
  snprintf(args, sizeof args, "cache=%s", cache_dir);
  s = open_state(args);
  cr_expect(s->tuning_from_cache);
  cr_expect_eq(s->tuning.gemm_tiled, 1);
  cr_expect_eq(s->tuning.gemm_local[0], 4);
  cr_expect_eq(s->tuning.img_local[1], 2);
  cr_expect_eq(s->tuning.dw_local[0], 8);
  cr_expect_eq(s->tuning.ew_local, 32);
  cr_expect_eq(s->tuning.rows_local, 16);
  check_op(s, "matmul.f32 b=2 m=9 k=13 n=11 tb=0");
  oc_target_vulkan.close(s);

  /* Damaged pipeline data is ignored, not an error. */
  f = fopen(pipelines, "w");
  cr_assert_not_null(f);
  fputs("not pipeline cache data", f);
  fclose(f);
  snprintf(args, sizeof args, "cache=%s,tune=off", cache_dir);
  s = open_state(args);
  check_op(s, "softmax.f32 h=1 w=7 c=10");
  oc_target_vulkan.close(s);
}

Test(vulkan, tuner_picks_sizes_among_its_candidates) {
  need_device();
  struct vk_state *s = open_state("cache=off,tune=off");
  struct vk_tuning t;
  cr_assert_eq(oc__vk_tune(s, &t), oc_status_ok, "%s", oc_errmsg());
  cr_expect(t.gemm_local[0] >= 4 && t.gemm_local[0] <= 32, "gemm %u", t.gemm_local[0]);
  if (t.gemm_tiled) cr_expect_eq(t.gemm_local[0], t.gemm_local[1]);
  cr_expect(t.ew_local >= 32 && t.ew_local <= 256, "ew %u", t.ew_local);
  cr_expect(t.rows_local >= 32 && t.rows_local <= 256 && (t.rows_local & (t.rows_local - 1)) == 0,
            "rows %u", t.rows_local);
  s->tuning = t;
  check_op(s, "conv2d.f32 h=13 w=11 cin=8 cout=16 k=3 s=2 g=1 d=1 act=relu");
  check_op(s, "conv2d.f32 h=14 w=14 cin=24 cout=24 k=5 s=2 g=24 d=1 act=hswish");
  check_op(s, "layernorm.f32 h=1 w=13 c=64");
  oc_target_vulkan.close(s);
}

/* ---- characterization ----------------------------------------------------- */

Test(vulkan, characterization_measures_the_device) {
  need_device();
  struct oc__vulkan_characteristics c;
  cr_assert_eq(oc__vulkan_characterize("tune=off", true, &c), oc_status_ok, "%s", oc_errmsg());
  cr_expect_neq(c.device[0], '\0');
  cr_expect(c.peak_gflops > 0 && isfinite(c.peak_gflops), "peak %g", c.peak_gflops);
  cr_expect(c.bandwidth_gbps > 0 && isfinite(c.bandwidth_gbps), "bw %g", c.bandwidth_gbps);
  cr_expect(c.launch_us > 0 && isfinite(c.launch_us), "launch %g", c.launch_us);
  cr_expect(c.empty_kernel_us > 0, "empty %g", c.empty_kernel_us);
  cr_expect(c.timestamp_period_ns > 0);
  cr_expect(c.timestamp_valid_bits > 0 && c.timestamp_valid_bits <= 64);
  cr_expect_eq(oc__vulkan_characterize("device=15", true, &c), oc_status_invalid_argument);
}

/* ---- opcost probe device on the GPU ---------------------------------------- */

/* The profile of a GPU: peak, device-memory bandwidth, launch overhead, a
 * single DRAM level without a latency; it survives a save/load round trip
 * and gives the LUT roofline its launch cost. */
Test(vulkan_profile, probe_device_gives_a_gpu_roofline) {
  need_device();
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("vulkan", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  struct oc_device_opts o = {.quick = true};
  struct oc_device_profile *p = calloc(2, sizeof *p);
  cr_assert_not_null(p);
  cr_assert_eq(oc_probe_device(t, &o, &p[0]), oc_status_ok, "%s", oc_errmsg());
  cr_expect_gt(p[0].peak_gflops_all_cores, 0);
  cr_expect_gt(p[0].dram_read_gbs_all_cores, 0);
  cr_expect_gt(p[0].launch_us, 0);
  cr_expect_str_eq(p[0].kernel_isa, "vulkan");
  cr_expect_eq(p[0].n_levels, 1);
  cr_expect(isnan(p[0].levels[0].latency_ns));
  cr_expect_float_eq(p[0].ridge_all_cores,
                     p[0].peak_gflops_all_cores / p[0].dram_read_gbs_all_cores, 1e-9);
  char path[] = "/tmp/opcost-test-gpu-profile-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  cr_assert_eq(oc_probe_profile_save(&p[0], path), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_probe_profile_load(path, &p[1]), oc_status_ok, "%s", oc_errmsg());
  unlink(path);
  cr_expect_float_eq(p[1].launch_us, p[0].launch_us, 1e-9 * p[0].launch_us);
  cr_expect_float_eq(p[1].peak_gflops_all_cores, p[0].peak_gflops_all_cores, 1e-6);
  cr_expect(isnan(p[1].levels[0].latency_ns));
  struct oc_lut_roofline r;
  cr_assert_eq(oc_lut_roofline_from_profile(&p[1], 1, &r), oc_status_ok, "%s", oc_errmsg());
  cr_expect_float_eq(r.launch_us, p[0].launch_us, 1e-9 * p[0].launch_us);
  free(p);
  oc_target_close(t);
}

/* ---- whole networks --------------------------------------------------------- */

/* Each network runs on vulkan and on ref (the oracle) with the same seeded
 * parameters and input: those every runner is tested on
 * (tests/net_fixtures.h: every layer kind, activation and data move; the
 * suite checks the moves are there), and networks for what is Vulkan's own:
 * no kernel at all, buffers reused across a branch, the shared im2col
 * matrix. */
// clang-format off
static const char *const vk_nets[] = {
    /* No kernel at all: the output is the input. */
    NET_HEAD "{\"h\":2,\"w\":2,\"c\":3},\"layers\":["
    "{\"op\":\"nb201_cell\",\"cell\":\"|skip_connect~0|+|none~0|none~1|+|skip_connect~0|"
    "none~1|none~2|\"}]}",
    /* Pooled buffers reused across a branch (BRANCH_NET): b dies when c
     * reads it, and d, on the other branch from a (written long before),
     * takes b's buffer while c may still be reading it; a stays live
     * through both branches to the concat. */
    NET_HEAD "{\"h\":9,\"w\":11,\"c\":8},\"layers\":["
    "{\"op\":\"conv2d\",\"id\":\"a\",\"cout\":8,\"k\":3,\"act\":\"relu\"},"
    "{\"op\":\"conv2d\",\"id\":\"b\",\"cout\":8,\"k\":1,\"act\":\"tanh\"},"
    "{\"op\":\"conv2d\",\"id\":\"c\",\"cout\":8,\"k\":3},"
    "{\"op\":\"conv2d\",\"id\":\"d\",\"inputs\":[\"a\"],\"cout\":8,\"k\":3,\"act\":\"hswish\"},"
    "{\"op\":\"add\",\"id\":\"e\",\"inputs\":[\"c\",\"d\"]},"
    "{\"op\":\"concat\",\"inputs\":[\"e\",\"a\"]},"
    "{\"op\":\"conv2d\",\"cout\":6,\"k\":1}]}",
    /* Convolutions planned as im2col + GEMM with column matrices of four
     * sizes (SCRATCH_NET), two of them on parallel branches (b and c both
     * read a, so only the shared scratch orders c's columns after b's
     * GEMM), and a pointwise one that has none. */
    NET_HEAD "{\"h\":13,\"w\":11,\"c\":4},\"layers\":["
    "{\"op\":\"conv2d\",\"id\":\"a\",\"cout\":8,\"k\":3,\"act\":\"relu\"},"
    "{\"op\":\"conv2d\",\"id\":\"b\",\"cout\":8,\"k\":5},"
    "{\"op\":\"conv2d\",\"id\":\"c\",\"inputs\":[\"a\"],\"cout\":8,\"k\":3,\"act\":\"tanh\"},"
    "{\"op\":\"add\",\"inputs\":[\"b\",\"c\"]},"
    "{\"op\":\"conv2d\",\"cout\":12,\"k\":3,\"s\":2,\"act\":\"hswish\"},"
    "{\"op\":\"conv2d\",\"cout\":6,\"k\":1}]}",
};
// clang-format on
#define N_VK_NETS ((int)(sizeof vk_nets / sizeof vk_nets[0]))
#define N_ALL_NETS (N_TEST_NETS + N_VK_NETS)
/* The network that reuses a buffer across a branch. */
#define BRANCH_NET (N_TEST_NETS + 1)
/* The network whose convolutions share the im2col scratch. */
#define SCRATCH_NET (N_TEST_NETS + 2)

/* Network i of the fixtures, then of vk_nets. */
static const char *net_text(int i) {
  return i < N_TEST_NETS ? test_nets[i] : vk_nets[i - N_TEST_NETS];
}

/* Target arguments each network runs under: default choices, the staging
 * path, and both forced convolution algorithms. */
static const char *const net_args[] = {"tune=off", "memory=staging,tune=off",
                                       "conv=direct,tune=off", "conv=gemm,tune=off"};
#define N_NET_ARGS ((int)(sizeof net_args / sizeof net_args[0]))

struct net_case {
  int net, args; /* indices into net_text() and net_args (no pointers in params) */
};

/* Prepares net on spec, runs it `runs` times and returns its output. */
static float *net_output(const char *spec, const struct oc_net *net, const float *in, int runs) {
  struct oc_target *t = NULL;
  struct oc_kernel *k = NULL;
  const int64_t n = oc_tensor_elems(&net->output);
  float *out = malloc((size_t)n * sizeof *out);
  cr_assert_not_null(out);
  for (int64_t i = 0; i < n; i++) out[i] = NAN;
  cr_assert_eq(oc_target_open(spec, NULL, &t), oc_status_ok, "%s: %s", spec, oc_errmsg());
  cr_assert_eq(oc_target_prepare_net(t, net, in, out, &k), oc_status_ok, "%s: %s", spec,
               oc_errmsg());
  for (int r = 0; r < runs; r++)
    cr_assert_eq(oc_target_run(t, k), oc_status_ok, "%s: %s", spec, oc_errmsg());
  cr_assert_eq(oc_target_read_output(t, k), oc_status_ok, "%s: %s", spec, oc_errmsg());
  oc_target_release(t, k);
  oc_target_close(t);
  return out;
}


ParameterizedTestParameters(vulkan_net, matches_ref) {
  static struct net_case cases[N_ALL_NETS * N_NET_ARGS];
  for (int i = 0; i < N_ALL_NETS; i++)
    for (int j = 0; j < N_NET_ARGS; j++) cases[i * N_NET_ARGS + j] = (struct net_case){i, j};
  return cr_make_param_array(struct net_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct net_case *c, vulkan_net, matches_ref) {
  need_device();
  struct oc_net *net = load_net(net_text(c->net));
  float *in = malloc((size_t)oc_tensor_elems(&net->input) * sizeof *in);
  cr_assert_not_null(in);
  oc_net_fill_input(net, 3, in);
  char spec[96], what[160];
  snprintf(spec, sizeof spec, "vulkan:%s", net_args[c->args]);
  snprintf(what, sizeof what, "network %d on %s", c->net, spec);
  float *ref = net_output("ref", net, in, 1);
  float *got = net_output(spec, net, in, 2);
  expect_net_close(ref, got, oc_tensor_elems(&net->output), what);
  free(in);
  free(ref);
  free(got);
  oc_net_free(net);
}

Test(vulkan_net, test_networks_have_every_data_move) {
  int seen[OC_NET_STEP_COUNT] = {0};
  for (int i = 0; i < N_ALL_NETS; i++) {
    struct oc_net *net = load_net(net_text(i));
    for (int32_t k = 0; k < net->n_kernels; k++) seen[net->kernels[k].step]++;
    oc_net_free(net);
  }
  /* Every step kind, ops and each data move (a new move kind needs a case). */
  for (int step = 0; step < OC_NET_STEP_COUNT; step++)
    cr_expect_gt(seen[step], 0, "no %s step in the test networks",
                 oc_net_step_name((enum oc_net_step)step));
}

Test(vulkan_net, target_says_it_runs_networks) {
  cr_expect(oc_target_vulkan.caps & oc_cap_networks);
  cr_expect(oc_target_vulkan.caps & oc_cap_device_timer);
  cr_expect(oc_target_vulkan.prepare_net && oc_target_vulkan.run_net &&
            oc_target_vulkan.read_net_output && oc_target_vulkan.release_net);
}

Test(vulkan_net, running_twice_gives_the_same_output) {
  need_device();
  struct oc_net *net = load_net(net_text(test_net_vit));
  const int64_t n_in = oc_tensor_elems(&net->input), n_out = oc_tensor_elems(&net->output);
  float *in = malloc((size_t)n_in * sizeof *in);
  float *first = malloc((size_t)n_out * sizeof *first);
  float *out = malloc((size_t)n_out * sizeof *out);
  cr_assert(in && first && out);
  oc_net_fill_input(net, 7, in);
  struct oc_target *t = NULL;
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_open("vulkan:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_prepare_net(t, net, in, out, &k), oc_status_ok, "%s", oc_errmsg());
  for (int run = 0; run < 3; run++) {
    for (int64_t i = 0; i < n_out; i++) out[i] = NAN;
    cr_assert_eq(oc_target_run(t, k), oc_status_ok, "%s", oc_errmsg());
    cr_assert_eq(oc_target_read_output(t, k), oc_status_ok, "%s", oc_errmsg());
    if (run == 0)
      memcpy(first, out, (size_t)n_out * sizeof *out);
    else
      cr_expect(memcmp(first, out, (size_t)n_out * sizeof *out) == 0, "run %d differs", run);
  }
  /* A run reads the caller's input buffer anew each time. */
  for (int64_t i = 0; i < n_in; i++) in[i] = -in[i];
  cr_assert_eq(oc_target_run(t, k), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_read_output(t, k), oc_status_ok, "%s", oc_errmsg());
  cr_expect(memcmp(first, out, (size_t)n_out * sizeof *out) != 0, "a new input changes nothing");
  oc_target_release(t, k);
  oc_target_close(t);
  free(in);
  free(first);
  free(out);
  oc_net_free(net);
}

Test(vulkan_net, an_unsupported_op_names_the_network_layer_and_op) {
  need_device();
  /* A 1x1 convolution to 2^31 elements: beyond the shaders' int indexing.
   * prepare_net checks every op before it allocates or reads anything. */
  struct oc_net *net = load_net("{\"format\":\"opcost-net/1\",\"name\":\"too-wide\",\"input\":"
                                "{\"h\":1024,\"w\":1024,\"c\":1},\"layers\":["
                                "{\"op\":\"act\",\"act\":\"relu\"},"
                                "{\"op\":\"conv2d\",\"id\":\"wide\",\"cout\":2048,\"k\":1},"
                                "{\"op\":\"gap\"}]}");
  char key[OC_KEY_MAX];
  oc_op_format(&net->kernels[net->layers[1].first_kernel].op, key, sizeof key);
  float in[4] = {0}, out[4] = {0}; /* never touched */
  struct oc_target *t = NULL;
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_open("vulkan:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_prepare_net(t, net, in, out, &k), oc_status_unsupported, "%s",
               oc_errmsg());
  cr_expect_null(k);
  const char *msg = oc_errmsg();
  cr_expect(strstr(msg, "network 'too-wide'") != NULL, "names the network: %s", msg);
  cr_expect(strstr(msg, "layer 1 ('wide'") != NULL, "names the layer: %s", msg);
  cr_expect(strstr(msg, key) != NULL, "names the op key '%s': %s", key, msg);
  cr_expect(strstr(msg, "2^31") != NULL, "says why: %s", msg);
  oc_target_close(t);
  oc_net_free(net);
}

Test(vulkan_net, a_failed_prepare_names_the_tensor_and_frees_what_it_made) {
  need_device();
  struct vk_state *s = open_state("tune=off");
  const uint64_t range = s->props.limits.maxStorageBufferRange;
  oc_target_vulkan.close(s);
  /* An activation of 2^30 floats: int-indexable, but past every device's
   * storage-buffer range (at most 2^32 - 1 bytes), made after the input
   * and the weights. */
  cr_assert_lt(range, (uint64_t)1 << 32);
  struct oc_net *net = load_net("{\"format\":\"opcost-net/1\",\"name\":\"too-big\",\"input\":"
                                "{\"h\":1024,\"w\":1024,\"c\":1},\"layers\":["
                                "{\"op\":\"conv2d\",\"cout\":1024,\"k\":1},{\"op\":\"gap\"}]}");
  float *in = calloc((size_t)oc_tensor_elems(&net->input), sizeof *in);
  float out[1024];
  cr_assert_not_null(in);
  struct oc_target *t = NULL;
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_open("vulkan:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_prepare_net(t, net, in, out, &k), oc_status_out_of_memory, "%s",
               oc_errmsg());
  cr_expect_null(k);
  cr_expect(strstr(oc_errmsg(), "network 'too-big': tensor ") != NULL, "%s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), "maxStorageBufferRange") != NULL, "%s", oc_errmsg());
  oc_target_close(t);
  free(in);
  oc_net_free(net);
}

Test(vulkan_net, prepare_and_release_many_times) {
  /* Under ASan (OPCOST_SANITIZE) this is the leak check of release. */
  need_device();
  struct oc_net *net = load_net(net_text(test_net_join));
  float *in = calloc((size_t)oc_tensor_elems(&net->input), sizeof *in);
  float *out = calloc((size_t)oc_tensor_elems(&net->output), sizeof *out);
  cr_assert(in && out);
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("vulkan:memory=staging,tune=off", NULL, &t), oc_status_ok, "%s",
               oc_errmsg());
  for (int i = 0; i < 20; i++) {
    struct oc_kernel *k = NULL;
    cr_assert_eq(oc_target_prepare_net(t, net, in, out, &k), oc_status_ok, "%s", oc_errmsg());
    if (i % 2 == 0) cr_assert_eq(oc_target_run(t, k), oc_status_ok, "%s", oc_errmsg());
    oc_target_release(t, k);
  }
  oc_target_close(t);
  free(in);
  free(out);
  oc_net_free(net);
}

Test(vulkan_net, the_harness_times_a_network_with_the_host_clock) {
  need_device();
  struct oc_net *net = load_net(net_text(test_net_vit));
  float *in = calloc((size_t)oc_tensor_elems(&net->input), sizeof *in);
  float *out = calloc((size_t)oc_tensor_elems(&net->output), sizeof *out);
  cr_assert(in && out);
  struct oc_target *t = NULL;
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_open("vulkan:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_prepare_net(t, net, in, out, &k), oc_status_ok, "%s", oc_errmsg());
  struct oc_measure_opts o;
  oc_measure_opts_default(&o);
  o.device_timer = false; /* networks have no device timer (vulkan_net.c) */
  o.max_time_s = 0.2;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_kernel(t, k, &o, &m), oc_status_ok, "%s", oc_errmsg());
  cr_expect_not(m.device_timer);
  cr_expect(m.stats.median_us > 0 && isfinite(m.stats.median_us), "median %g", m.stats.median_us);
  double device_us = 0;
  cr_expect_eq(oc_target_time_runs(t, k, 1, &device_us), oc_status_unsupported);
  oc_measurement_release(&m);
  oc_target_release(t, k);
  oc_target_close(t);
  free(in);
  free(out);
  oc_net_free(net);
}

/* ---- buffers pooled by liveness ---------------------------------------------- */

/* A pure chain of equal convolutions: six activations of one size. */
static const char chain_net[] =
    NET_HEAD "{\"h\":12,\"w\":10,\"c\":8},\"layers\":["
             "{\"op\":\"conv2d\",\"cout\":8,\"k\":3},{\"op\":\"conv2d\",\"cout\":8,\"k\":3},"
             "{\"op\":\"conv2d\",\"cout\":8,\"k\":3},{\"op\":\"conv2d\",\"cout\":8,\"k\":3},"
             "{\"op\":\"conv2d\",\"cout\":8,\"k\":3},{\"op\":\"conv2d\",\"cout\":8,\"k\":3}]}";

/* Prepares net on s directly (the kernel is the struct vk_net). */
static struct vk_net *prepare_vk_net(struct vk_state *s, const struct oc_net *net, float **in,
                                     float **out) {
  *in = calloc((size_t)oc_tensor_elems(&net->input), sizeof **in);
  *out = calloc((size_t)oc_tensor_elems(&net->output), sizeof **out);
  cr_assert(*in && *out);
  void *kernel = NULL;
  cr_assert_eq(oc_target_vulkan.prepare_net(s, net, *in, *out, &kernel), oc_status_ok, "%s",
               oc_errmsg());
  return kernel;
}

static bool is_pooled(const struct oc_net *net, int32_t t) {
  return net->tensors[t].kind == oc_net_tensor_activation && t != net->output_tensor;
}

/* Kernels during which t's buffer holds t: from its producer to its last
 * reader (its producer alone when nothing reads it). */
static int32_t live_to(const struct oc_net *net, int32_t t) {
  const struct oc_net_tensor *ten = &net->tensors[t];
  return ten->last_use > ten->producer ? ten->last_use : ten->producer;
}

/* Every tensor is in a buffer that holds it; the input, the output and the
 * parameters have buffers of their own; two activations share a buffer
 * only when one is written after the other's last reader. */
static void check_placement(const struct oc_net *net, const struct vk_net *n, int which) {
  cr_assert_leq(n->n_buffers, net->n_tensors);
  uint64_t sum = 0;
  for (int32_t b = 0; b < n->n_buffers; b++) sum += n->buffers[b].bytes;
  cr_expect_eq(sum, n->buffer_bytes, "network %d: buffer_bytes %llu, buffers %llu", which,
               (unsigned long long)n->buffer_bytes, (unsigned long long)sum);
  for (int32_t t = 0; t < net->n_tensors; t++) {
    const int32_t bt = n->tensor_buffer[t];
    cr_assert(bt >= 0 && bt < n->n_buffers, "network %d: tensor %d in buffer %d", which, (int)t,
              (int)bt);
    cr_expect_geq(n->buffers[bt].bytes, (uint64_t)net->tensors[t].bytes,
                  "network %d: tensor %d does not fit its buffer", which, (int)t);
    for (int32_t u = 0; u < t; u++) {
      if (n->tensor_buffer[u] != bt) continue;
      if (u == net->input_tensor && t == net->output_tensor) continue; /* no kernels */
      cr_expect(is_pooled(net, u) && is_pooled(net, t),
                "network %d: tensors %d and %d share a buffer; only activations may", which, (int)u,
                (int)t);
      const struct oc_net_tensor *a = &net->tensors[u], *c = &net->tensors[t];
      cr_expect(a->producer > live_to(net, t) || c->producer > live_to(net, u),
                "network %d: tensors %d (kernels %d..%d) and %d (kernels %d..%d) share a buffer "
                "while both are live",
                which, (int)u, (int)a->producer, (int)live_to(net, u), (int)t, (int)c->producer,
                (int)live_to(net, t));
    }
  }
}

Test(vulkan_net, activations_share_buffers_by_liveness) {
  need_device();
  struct vk_state *s = open_state("tune=off");
  for (int i = 0; i < N_ALL_NETS; i++) {
    struct oc_net *net = load_net(net_text(i));
    float *in = NULL, *out = NULL;
    struct vk_net *n = prepare_vk_net(s, net, &in, &out);
    check_placement(net, n, i);
    int32_t activations = 0, pooled = 0;
    uint64_t tensor_bytes = 0;
    for (int32_t t = 0; t < net->n_tensors; t++) {
      tensor_bytes += (uint64_t)net->tensors[t].bytes;
      if (!is_pooled(net, t)) continue;
      activations++;
      bool first = true;
      for (int32_t u = 0; u < t && first; u++)
        if (is_pooled(net, u) && n->tensor_buffer[u] == n->tensor_buffer[t]) first = false;
      pooled += first;
    }
    if (i == test_net_cnn) {
      /* The mixed CNN: dozens of activations in a handful of buffers. */
      cr_expect_lt(pooled, activations / 2, "%d buffers for %d activations", (int)pooled,
                   (int)activations);
      cr_expect_lt(n->buffer_bytes, tensor_bytes, "%llu bytes of buffers for %llu of tensors",
                   (unsigned long long)n->buffer_bytes, (unsigned long long)tensor_bytes);
    }
    oc_target_vulkan.release_net(s, n);
    free(in);
    free(out);
    oc_net_free(net);
  }
  oc_target_vulkan.close(s);
}

Test(vulkan_net, a_chain_of_equal_layers_ping_pongs_between_two_buffers) {
  need_device();
  struct vk_state *s = open_state("tune=off");
  struct oc_net *net = load_net(chain_net);
  float *in = NULL, *out = NULL;
  struct vk_net *n = prepare_vk_net(s, net, &in, &out);
  check_placement(net, n, -1);
  /* Input, output and two pooled buffers for the five activations between. */
  const uint64_t act = (uint64_t)net->tensors[net->layers[0].output_tensor].bytes;
  cr_expect_eq(net->n_tensors, 7);
  cr_expect_eq(n->n_buffers, 4, "%d buffers", (int)n->n_buffers);
  cr_expect_geq(n->buffer_bytes, 4 * act);
  cr_expect_lt(n->buffer_bytes, 7 * act, "%llu bytes", (unsigned long long)n->buffer_bytes);
  oc_target_vulkan.release_net(s, n);
  /* And the chain still computes what ref does. */
  oc_net_fill_input(net, 5, in);
  float *ref = net_output("ref", net, in, 1);
  float *got = net_output("vulkan:tune=off", net, in, 2);
  expect_net_close(ref, got, oc_tensor_elems(&net->output), "the chain");
  free(ref);
  free(got);
  free(in);
  free(out);
  oc_net_free(net);
  oc_target_vulkan.close(s);
}

Test(vulkan_net, a_buffer_is_reused_across_a_branch) {
  /* matches_ref runs this network under every setting against ref; here:
   * the reuse it is there for happens. */
  need_device();
  struct vk_state *s = open_state("tune=off");
  struct oc_net *net = load_net(net_text(BRANCH_NET));
  float *in = NULL, *out = NULL;
  struct vk_net *n = prepare_vk_net(s, net, &in, &out);
  const int32_t a = net->layers[0].output_tensor, b = net->layers[1].output_tensor;
  const int32_t c = net->layers[2].output_tensor, d = net->layers[3].output_tensor;
  cr_expect_eq(n->tensor_buffer[d], n->tensor_buffer[b], "d is not in b's buffer");
  cr_expect_neq(n->tensor_buffer[d], n->tensor_buffer[a]);
  cr_expect_neq(n->tensor_buffer[d], n->tensor_buffer[c]);
  /* d's kernel reads only a, written before c's kernel: no read-after-write
   * orders d after c's reads of b; the write-after-read rule must. */
  cr_expect_lt(net->tensors[a].producer, net->tensors[c].producer);
  cr_expect_eq(net->tensors[d].producer, net->tensors[b].last_use + 1);
  check_placement(net, n, BRANCH_NET);
  oc_target_vulkan.release_net(s, n);
  free(in);
  free(out);
  oc_net_free(net);
  oc_target_vulkan.close(s);
}

/* ---- one im2col column matrix per network ----------------------------------- */

/* Bytes of op's column matrix when it runs as im2col + GEMM (a grouped,
 * depthwise or pointwise convolution does not), worked out here from the
 * shapes rather than asked of vulkan_plan.c. */
static uint64_t im2col_bytes(const struct oc_op *op) {
  struct oc_op_shapes sh;
  const bool depthwise = op->g == op->cin && op->cout == op->cin;
  if (op->kind != oc_op_conv2d || op->g != 1 || depthwise || (op->k == 1 && op->s == 1)) return 0;
  cr_assert_eq(oc_op_shapes(op, &sh), oc_status_ok, "%s", oc_errmsg());
  return (uint64_t)sh.output.h * sh.output.w * op->k * op->k * op->cin * sizeof(float);
}

Test(vulkan_net, im2col_convolutions_share_one_scratch_buffer) {
  need_device();
  static const char *const args[] = {"tune=off", "conv=gemm,tune=off", "conv=direct,tune=off"};
  struct oc_net *net = load_net(net_text(SCRATCH_NET));
  for (int a = 0; a < 3; a++) {
    const bool direct = strstr(args[a], "conv=direct") != NULL;
    struct vk_state *s = open_state(args[a]);
    float *in = NULL, *out = NULL;
    struct vk_net *n = prepare_vk_net(s, net, &in, &out);
    uint64_t largest = 0;
    int im2col = 0, sizes = 0;
    uint64_t seen[8] = {0};
    for (int32_t i = 0; i < net->n_kernels; i++) {
      const struct vk_kernel *k = n->kernels[i];
      if (net->kernels[i].step != oc_net_step_op) continue;
      const uint64_t cols = direct ? 0 : im2col_bytes(&net->kernels[i].op);
      cr_expect_eq(oc__vk_scratch_bytes(s, &net->kernels[i].op), cols, "%s: kernel %d", args[a],
                   (int)i);
      /* Only weights and bias are a kernel's own: no column matrix. */
      int owned = 0;
      bool binds_scratch = false;
      for (int b = 0; b < k->n_buffers; b++) {
        owned += !k->borrowed[b];
        binds_scratch = binds_scratch || (k->borrowed[b] && n->scratch.buffer != VK_NULL_HANDLE &&
                                          k->buffers[b].buffer == n->scratch.buffer);
      }
      cr_expect_eq(owned, k->n_buffers - net->kernels[i].n_inputs - 1 - (cols > 0),
                   "%s: kernel %d owns %d of its %d buffers", args[a], (int)i, owned, k->n_buffers);
      cr_expect_eq(k->shares_scratch, cols > 0, "%s: kernel %d", args[a], (int)i);
      cr_expect_eq(binds_scratch, cols > 0, "%s: kernel %d", args[a], (int)i);
      if (cols == 0) continue;
      im2col++;
      if (cols > largest) largest = cols;
      bool known = false;
      for (int j = 0; j < sizes; j++) known = known || seen[j] == cols;
      if (!known && sizes < 8) seen[sizes++] = cols;
    }
    if (direct) {
      cr_expect_eq(im2col, 0);
      cr_expect_eq(n->scratch.buffer, VK_NULL_HANDLE, "%s: a scratch buffer and no im2col",
                   args[a]);
      cr_expect_eq(n->scratch.bytes, 0);
    } else {
      cr_expect_eq(im2col, 4, "%s: %d im2col convolutions", args[a], im2col);
      cr_expect_eq(sizes, 4, "%s: %d column sizes", args[a], sizes);
      cr_expect_neq(n->scratch.buffer, VK_NULL_HANDLE, "%s: no scratch buffer", args[a]);
      cr_expect_eq(n->scratch.bytes, largest, "%s: scratch of %llu bytes, the largest is %llu",
                   args[a], (unsigned long long)n->scratch.bytes, (unsigned long long)largest);
    }
    oc_target_vulkan.release_net(s, n);
    free(in);
    free(out);
    /* A single op still makes its own column matrix. */
    const struct oc_op *op = &net->kernels[net->layers[1].first_kernel].op;
    struct vk_kernel *k = calloc(1, sizeof *k);
    cr_assert_not_null(k);
    cr_assert_eq(oc__vk_plan(s, op, NULL, k), oc_status_ok, "%s", oc_errmsg());
    cr_expect_not(k->shares_scratch);
    for (int b = 0; b < k->n_buffers; b++) cr_expect_not(k->borrowed[b]);
    cr_expect_eq(k->n_buffers, direct ? 4 : 5, "%s: %d buffers", args[a], k->n_buffers);
    oc__vk_kernel_free(s, k);
    oc_target_vulkan.close(s);
  }
  oc_net_free(net);
}
