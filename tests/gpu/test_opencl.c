/* test_opencl.c - the opencl target on this machine's OpenCL device (PoCL,
 * a CPU device, in CI): what the conformance suite does not reach. The
 * conformance suite (tests/conformance) already compares every op of its
 * table on this target with the default choices; here: the other kernels
 * (direct and im2col convolutions forced, tiled GEMM, every reduction
 * width), argument parsing, unavailability with its reason, build failures
 * with the build log, out-of-memory and run-time errors naming the op and
 * the device, the profiling-timestamp guards, the program and tuning cache,
 * the tuner and device characterization, and whole networks (every layer
 * kind and every data move, against the ref runner's output).
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
#include "targets/opencl/opencl.h"
#include "targets/ref/ref.h"
#include "targets/targets_internal.h"
#include "tests/net_fixtures.h"

#define ATOL 2e-5
#define RTOL 1e-4

static void need_device(void) {
  char why[512];
  if (oc_target_available(&oc_target_opencl, why, sizeof why) != oc_status_ok)
    cr_skip_test("no OpenCL device here: %s", why);
}

static struct ocl_state *open_state(const char *args) {
  void *state = NULL;
  enum oc_status st = oc_target_opencl.open(args, NULL, &state);
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

/* Runs key on an open opencl state (twice, output poisoned before each run)
 * and compares with the oracle. */
static void check_op(struct ocl_state *s, const char *key) {
  struct oc_op op;
  struct oc_op_shapes sh;
  cr_assert_eq(oc_op_parse(key, &op), oc_status_ok, "%s: %s", key, oc_errmsg());
  cr_assert_eq(oc_op_shapes(&op, &sh), oc_status_ok);
  struct oc__rng rng;
  oc__rng_seed(&rng, oc__hash64_str(OC__HASH_SEED, key));
  float *in[OC_MAX_INPUTS] = {NULL, NULL};
  for (int i = 0; i < sh.n_inputs; i++)
    in[i] = random_floats(&rng, oc_tensor_elems(&sh.input[i]), -2.0, 2.0);
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
  enum oc_status st = oc_target_opencl.prepare(s, &op, &t, &kernel);
  cr_assert_eq(st, oc_status_ok, "prepare '%s': %s", key, oc_errmsg());
  const double atol = ATOL * sqrt((double)reduction_length(&op));
  for (int run = 0; run < 2; run++) {
    for (int64_t i = 0; i < n_out; i++) got[i] = NAN;
    st = oc_target_opencl.run(s, kernel);
    if (st == oc_status_ok) st = oc_target_opencl.read_output(s, kernel);
    cr_assert_eq(st, oc_status_ok, "run '%s': %s", key, oc_errmsg());
    for (int64_t i = 0; i < n_out; i++) {
      double diff = fabs((double)got[i] - expected[i]);
      if (!(diff <= atol + RTOL * fabs(expected[i])))
        cr_assert_fail("'%s' run %d: element %lld: got %.9g, expected %.9g", key, run, (long long)i,
                       (double)got[i], (double)expected[i]);
    }
  }
  oc_target_opencl.release(s, kernel);
  free(in[0]);
  free(in[1]);
  free(w);
  free(b);
  free(expected);
  free(got);
}

/* ---- availability and arguments ------------------------------------------- */

Test(opencl, probe_finds_the_device) {
  need_device();
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("opencl:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  struct oc_device_info info;
  cr_assert_eq(oc_target_describe(t, &info), oc_status_ok);
  cr_expect_str_eq(info.target, "opencl");
  cr_expect_neq(info.name[0], '\0');
  cr_expect(strncmp(info.arch, "opencl-", 7) == 0, "arch '%s'", info.arch);
  cr_expect_eq(strlen(info.fingerprint), 16);
  cr_expect(oc_target_vtab_of(t)->caps & oc_cap_device_timer);
  oc_target_close(t);
}

Test(opencl, no_platform_is_unavailable_with_the_reason) {
  /* The ICD loader reads its vendor list once a process; each Criterion test
   * is a fresh process. */
  setenv("OCL_ICD_VENDORS", "/nonexistent/opcost-test-vendors", 1);
  char why[512];
  cr_assert_eq(oc_target_available(&oc_target_opencl, why, sizeof why), oc_status_unavailable);
  cr_expect(strstr(why, "no OpenCL platform (clGetPlatformIDs returned -1001 "
                        "CL_PLATFORM_NOT_FOUND_KHR)") != NULL,
            "why: %s", why);
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("opencl", NULL, &t), oc_status_unavailable);
  cr_expect(strstr(oc_errmsg(), "no OpenCL platform") != NULL, "%s", oc_errmsg());
  struct oc__opencl_characteristics c;
  cr_expect_eq(oc__opencl_characterize(NULL, true, &c), oc_status_unavailable);
}

Test(opencl, bad_arguments_are_named) {
  need_device();
  const char *cases[][2] = {
      {"platform=99", "argument 'platform': value '99' is not an index"},
      {"platform=5", "argument 'platform': value '5' is out of range"},
      {"device=9", "argument 'device': value '9' is out of range"},
      {"device=x", "argument 'device': value 'x'"},
      {"device=-1", "argument 'device': value '-1'"},
      {"conv=fast", "argument 'conv': value 'fast'"},
      {"tune=maybe", "argument 'tune': value 'maybe'"},
      {"cache=", "argument 'cache': empty value"},
      {"speed=1", "unknown argument 'speed'"},
      {"platform", "argument 'platform': expected NAME=VALUE"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char spec[128];
    snprintf(spec, sizeof spec, "opencl:%s", cases[i][0]);
    struct oc_target *t = NULL;
    cr_expect_eq(oc_target_open(spec, NULL, &t), oc_status_invalid_argument, "%s", spec);
    cr_expect(strstr(oc_errmsg(), cases[i][1]) != NULL, "'%s': message '%s' lacks '%s'", spec,
              oc_errmsg(), cases[i][1]);
    oc_target_close(t);
  }
}

Test(opencl, explicit_platform_and_device) {
  need_device();
  struct ocl_state *s = open_state("platform=0,device=0,tune=off");
  cr_expect_eq(s->platform_index, 0);
  cr_expect_eq(s->device_index, 0);
  cr_expect_neq(s->device_name[0], '\0');
  check_op(s, "add.f32 h=3 w=5 c=7 act=relu");
  oc_target_opencl.close(s);
}

/* ---- kernels the default choices do not reach ---------------------------- */

static const char *const conv_cases[] = {
    "conv2d.f32 h=7 w=7 cin=3 cout=5 k=3 s=1 g=1 d=1 act=none",
    "conv2d.f32 h=13 w=11 cin=8 cout=16 k=3 s=2 g=1 d=1 act=relu6",
    "conv2d.f32 h=11 w=11 cin=6 cout=10 k=3 s=1 g=1 d=2 act=gelu",
    "conv2d.f32 h=8 w=8 cin=32 cout=129 k=1 s=2 g=1 d=1 act=none",
    "conv2d.f32 h=7 w=7 cin=13 cout=7 k=1 s=1 g=1 d=1 act=hswish",
    "conv2d.f32 h=10 w=10 cin=12 cout=18 k=5 s=1 g=3 d=1 act=tanh",
    "conv2d.f32 h=13 w=13 cin=13 cout=13 k=3 s=2 g=13 d=2 act=relu6",
    "conv2d.f32 h=9 w=9 cin=4 cout=8 k=3 s=1 g=4 d=1 act=swish",
};

Test(opencl, direct_convolution_matches_ref) {
  need_device();
  struct ocl_state *s = open_state("conv=direct,tune=off");
  for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) check_op(s, conv_cases[i]);
  oc_target_opencl.close(s);
}

Test(opencl, im2col_gemm_convolution_matches_ref) {
  need_device();
  struct ocl_state *s = open_state("conv=gemm,tune=off");
  for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) check_op(s, conv_cases[i]);
  oc_target_opencl.close(s);
}

static const char *const gemm_cases[] = {
    "matmul.f32 b=1 m=7 k=13 n=5 tb=0",
    "matmul.f32 b=3 m=13 k=64 n=17 tb=1",
    "matmul.f32 b=2 m=1 k=127 n=9 tb=0",
    "matmul.f32 b=2 m=33 k=5 n=31 tb=1",
    "fc.f32 m=7 cin=13 cout=129 act=gelu",
    "fc.f32 m=1 cin=127 cout=10 act=sigmoid",
    "conv2d.f32 h=7 w=7 cin=17 cout=9 k=1 s=1 g=1 d=1 act=relu",
};

Test(opencl, tiled_and_register_gemm_match_ref_for_each_size) {
  need_device();
  struct ocl_state *s = open_state("tune=off");
  const struct {
    int tiled;
    size_t lx, ly;
  } variants[] = {{1, 8, 8}, {1, 4, 4}, {0, 16, 4}, {0, 1, 1}, {0, 0, 0}};
  for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
    s->tuning.gemm_tiled = variants[v].tiled;
    s->tuning.gemm_local[0] = variants[v].lx;
    s->tuning.gemm_local[1] = variants[v].ly;
    for (size_t i = 0; i < sizeof gemm_cases / sizeof gemm_cases[0]; i++)
      check_op(s, gemm_cases[i]);
  }
  oc_target_opencl.close(s);
}

Test(opencl, reductions_match_ref_for_every_width) {
  need_device();
  struct ocl_state *s = open_state("tune=off");
  const size_t widths[] = {1, 16, 256};
  const char *keys[] = {"softmax.f32 h=1 w=3 c=5", "softmax.f32 h=2 w=3 c=300",
                        "layernorm.f32 h=1 w=3 c=1", "layernorm.f32 h=3 w=1 c=127",
                        "layernorm.f32 h=1 w=2 c=513"};
  for (size_t v = 0; v < sizeof widths / sizeof widths[0]; v++) {
    s->tuning.rows_local = widths[v];
    s->tuning.ew_local = widths[v];
    s->tuning.img_local[0] = s->tuning.dw_local[0] = widths[v];
    s->tuning.img_local[1] = s->tuning.dw_local[1] = 1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) check_op(s, keys[i]);
    check_op(s, "gap.f32 h=7 w=7 c=13");
    check_op(s, "maxpool2d.f32 h=9 w=9 c=5 k=3 s=2");
    check_op(s, "concat.f32 h=3 w=3 c=5 c2=2");
  }
  oc_target_opencl.close(s);
}

/* ---- failures ------------------------------------------------------------- */

Test(opencl, a_kernel_that_does_not_compile_shows_the_build_log) {
  need_device();
  struct ocl_state *s = open_state("tune=off");
  cl_program program = NULL;
  const char *source = "__kernel void broken(__global float *x) { x[0] = no_such_name; }\n";
  enum oc_status st = oc__opencl_build(s, source, "", &program);
  cr_assert_eq(st, oc_status_device_error);
  cr_expect_null(program);
  const char *msg = oc_errmsg();
  cr_expect(strstr(msg, "clBuildProgram returned -11 CL_BUILD_PROGRAM_FAILURE") != NULL, "%s", msg);
  cr_expect(strstr(msg, "build log: ") != NULL, "%s", msg);
  cr_expect(strstr(msg, "no_such_name") != NULL, "the log should name the symbol: %s", msg);
  cr_expect(strstr(msg, s->device_name) != NULL, "%s", msg);
  oc_target_opencl.close(s);
}

Test(opencl, out_of_device_memory_names_the_op_and_the_device) {
  need_device();
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("opencl:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  struct ocl_state *probe = open_state("tune=off");
  const uint64_t max_alloc = probe->max_alloc_bytes;
  char device[128];
  oc__strcpy(device, sizeof device, probe->device_name);
  oc_target_opencl.close(probe);
  /* One input a float larger than the largest buffer the device allocates. */
  const uint64_t elems = max_alloc / sizeof(float) + 1;
  if (elems > INT32_MAX)
    cr_skip_test("the device allocates %llu bytes a buffer: no op of "
                 "fewer than 2^31 elements exceeds it",
                 (unsigned long long)max_alloc);
  uint64_t c = 1;
  while ((elems + c - 1) / c > OC_FIELD_VALUE_MAX) c *= 2;
  char key[OC_KEY_MAX];
  snprintf(key, sizeof key, "act.f32 h=1 w=%llu c=%llu act=relu",
           (unsigned long long)((elems + c - 1) / c), (unsigned long long)c);
  struct oc_op op;
  cr_assert_eq(oc_op_parse(key, &op), oc_status_ok, "%s", oc_errmsg());
  float dummy[4] = {0};
  /* Never read: the limit is checked before anything is copied. */
  struct oc_tensors tensors = {{dummy, NULL}, NULL, NULL, dummy};
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_prepare(t, &op, &tensors, &k), oc_status_out_of_memory, "%s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), key) != NULL, "names the op: %s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), device) != NULL, "names the device: %s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), "CL_DEVICE_MAX_MEM_ALLOC_SIZE") != NULL ||
                strstr(oc_errmsg(), "CL_DEVICE_GLOBAL_MEM_SIZE") != NULL,
            "names the limit: %s", oc_errmsg());
  oc_target_close(t);
}

Test(opencl, an_enqueue_failure_names_the_op_and_the_device) {
  need_device();
  struct ocl_state *s = open_state("tune=off");
  struct oc_op op;
  cr_assert_eq(oc_op_parse("act.f32 h=4 w=4 c=4 act=relu", &op), oc_status_ok);
  float in[64] = {0}, out[64];
  struct oc_tensors t = {{in, NULL}, NULL, NULL, out};
  void *kernel = NULL;
  cr_assert_eq(oc_target_opencl.prepare(s, &op, &t, &kernel), oc_status_ok, "%s", oc_errmsg());
  /* A local size no device accepts makes the enqueue fail as a fault would. */
  struct ocl_kernel *k = kernel;
  k->steps[0].has_local = true;
  k->steps[0].local[0] = s->max_work_group * 2;
  k->steps[0].global[0] = s->max_work_group * 2;
  cr_assert_eq(oc_target_opencl.run(s, kernel), oc_status_device_error);
  cr_expect(strstr(oc_errmsg(), "op 'act.f32 h=4 w=4 c=4 act=relu'") != NULL, "%s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), s->device_name) != NULL, "%s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), "clEnqueueNDRangeKernel") != NULL, "%s", oc_errmsg());
  oc_target_opencl.release(s, kernel);
  oc_target_opencl.close(s);
}

Test(opencl, error_codes_are_translated) {
  cr_expect_str_eq(oc__cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
  cr_expect_str_eq(oc__cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
  cr_expect_str_eq(oc__cl_error_name(-9999), "unknown OpenCL error");
  cr_expect_eq(oc__cl_status(CL_MEM_OBJECT_ALLOCATION_FAILURE), oc_status_out_of_memory);
  cr_expect_eq(oc__cl_status(CL_OUT_OF_RESOURCES), oc_status_device_error);
  cr_expect_eq(oc__cl_status(CL_SUCCESS), oc_status_ok);
}

/* ---- timing --------------------------------------------------------------- */

Test(opencl, profiling_spans_guard_wrap_and_zero) {
  double ns = -1;
  cr_expect_eq(oc__opencl_profile_span(1000, 3500, 1, &ns), oc_status_ok);
  cr_expect_float_eq(ns, 2500.0, 1e-9);
  /* A 32-bit counter that wrapped between START and END. */
  cr_expect_eq(oc__opencl_profile_span(UINT32_MAX - 99, 100, 1, &ns), oc_status_ok);
  cr_expect_float_eq(ns, 200.0, 1e-9);
  /* Equal stamps: below the resolution; the resolution is the bound. */
  cr_expect_eq(oc__opencl_profile_span(777, 777, 40, &ns), oc_status_ok);
  cr_expect_float_eq(ns, 40.0, 1e-9);
  cr_expect_eq(oc__opencl_profile_span(0, 0, 1, &ns), oc_status_device_error);
  cr_expect(strstr(oc_errmsg(), "zero profiling timestamps") != NULL, "%s", oc_errmsg());
  cr_expect_eq(oc__opencl_profile_span(UINT64_C(1) << 40, 5, 1, &ns), oc_status_device_error);
  cr_expect(strstr(oc_errmsg(), "precedes START") != NULL, "%s", oc_errmsg());
}

Test(opencl, time_runs_gives_device_time_and_host_latency) {
  need_device();
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("opencl:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
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

  /* Host latency beside device time: the host waits for the run, so its
   * latency encloses the device's span (one clock domain on PoCL; a GPU's
   * may differ by a few µs, hence the slack). */
  struct ocl_state *s = open_state("tune=off");
  void *kernel = NULL;
  cr_assert_eq(oc_target_opencl.prepare(s, &op, &tensors, &kernel), oc_status_ok);
  double host_us[5] = {0};
  cr_assert_eq(oc__opencl_time_runs_host(s, kernel, 5, device_us, host_us), oc_status_ok, "%s",
               oc_errmsg());
  for (int i = 0; i < 5; i++) {
    cr_expect(device_us[i] > 0 && host_us[i] > 0);
    cr_expect(host_us[i] + 50.0 >= device_us[i], "run %d: host %.1f us < device %.1f us", i,
              host_us[i], device_us[i]);
  }
  oc_target_opencl.release(s, kernel);
  oc_target_opencl.close(s);
  free(in);
  free(w);
  free(out);
}

/* ---- program and tuning cache --------------------------------------------- */

static char cache_dir[64];

static void make_cache_dir(void) {
  oc__strcpy(cache_dir, sizeof cache_dir, "/tmp/opcost-test-opencl-XXXXXX");
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

Test(opencl, program_binaries_and_tuning_are_cached, .init = make_cache_dir,
     .fini = remove_cache_dir) {
  need_device();
  char args[160], bin[256], tune[256];
  snprintf(args, sizeof args, "cache=%s,tune=off", cache_dir);
  struct ocl_state *s = open_state(args);
  cr_expect_not(s->program_from_cache);
  snprintf(bin, sizeof bin, "%s/opencl-%016llx.bin", cache_dir, (unsigned long long)s->cache_key);
  snprintf(tune, sizeof tune, "%s/opencl-%016llx.tune", cache_dir,
           (unsigned long long)s->cache_key);
  oc_target_opencl.close(s);
  cr_assert(file_exists(bin), "no program binary at %s", bin);

  s = open_state(args);
  cr_expect(s->program_from_cache, "the second open should load %s", bin);
  check_op(s, "fc.f32 m=3 cin=64 cout=33 act=relu");
  oc_target_opencl.close(s);

  /* A tuning file beside the binary is used as it is. */
  FILE *f = fopen(tune, "w");
  cr_assert_not_null(f);
  fputs("opcost-opencl-tuning 1\ngemm_tiled 1\ngemm_local 4 4\nimg_local 16 2\n"
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
  oc_target_opencl.close(s);

  /* A damaged binary is rebuilt, not an error. */
  f = fopen(bin, "w");
  cr_assert_not_null(f);
  fputs("not a program binary", f);
  fclose(f);
  snprintf(args, sizeof args, "cache=%s,tune=off", cache_dir);
  s = open_state(args);
  cr_expect_not(s->program_from_cache);
  check_op(s, "softmax.f32 h=1 w=7 c=10");
  oc_target_opencl.close(s);
  s = open_state(args);
  cr_expect(s->program_from_cache, "the rebuilt binary should have replaced the damaged one");
  oc_target_opencl.close(s);
}

Test(opencl, tuner_picks_sizes_among_its_candidates) {
  need_device();
  struct ocl_state *s = open_state("cache=off,tune=off");
  struct ocl_tuning t;
  cr_assert_eq(oc__opencl_tune(s, &t), oc_status_ok, "%s", oc_errmsg());
  cr_expect(t.gemm_local[0] >= 4 && t.gemm_local[0] <= 32, "gemm %zu", t.gemm_local[0]);
  if (t.gemm_tiled) cr_expect_eq(t.gemm_local[0], t.gemm_local[1]);
  cr_expect(t.ew_local == 0 || (t.ew_local >= 32 && t.ew_local <= 256), "ew %zu", t.ew_local);
  cr_expect(t.rows_local >= 32 && t.rows_local <= 256 && (t.rows_local & (t.rows_local - 1)) == 0,
            "rows %zu", t.rows_local);
  cr_expect(t.img_local[0] * (t.img_local[1] ? t.img_local[1] : 1) <= s->max_work_group);
  /* The tuned sizes compute the right results. */
  s->tuning = t;
  check_op(s, "conv2d.f32 h=13 w=11 cin=8 cout=16 k=3 s=2 g=1 d=1 act=relu");
  check_op(s, "conv2d.f32 h=14 w=14 cin=24 cout=24 k=5 s=2 g=24 d=1 act=hswish");
  check_op(s, "layernorm.f32 h=1 w=13 c=64");
  oc_target_opencl.close(s);
}

/* ---- characterization ----------------------------------------------------- */

Test(opencl, characterization_measures_the_device) {
  need_device();
  struct oc__opencl_characteristics c;
  cr_assert_eq(oc__opencl_characterize("tune=off", true, &c), oc_status_ok, "%s", oc_errmsg());
  cr_expect_neq(c.device[0], '\0');
  cr_expect(c.peak_gflops > 0 && isfinite(c.peak_gflops), "peak %g", c.peak_gflops);
  cr_expect(c.bandwidth_gbps > 0 && isfinite(c.bandwidth_gbps), "bw %g", c.bandwidth_gbps);
  cr_expect(c.launch_us > 0 && isfinite(c.launch_us), "launch %g", c.launch_us);
  cr_expect(c.empty_kernel_us > 0, "empty %g", c.empty_kernel_us);
  cr_expect(c.timer_resolution_ns > 0);
  cr_expect_eq(oc__opencl_characterize("device=31", true, &c), oc_status_invalid_argument);
}

/* ---- opcost probe device on the GPU ---------------------------------------- */

/* The profile of a GPU: peak, device-memory bandwidth, launch overhead, a
 * single DRAM level without a latency; it survives a save/load round trip
 * and gives the LUT roofline its launch cost. */
Test(opencl_profile, probe_device_gives_a_gpu_roofline) {
  need_device();
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("opencl", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  struct oc_device_opts o = {.quick = true};
  struct oc_device_profile *p = calloc(2, sizeof *p);
  cr_assert_not_null(p);
  cr_assert_eq(oc_probe_device(t, &o, &p[0]), oc_status_ok, "%s", oc_errmsg());
  cr_expect_gt(p[0].peak_gflops_all_cores, 0);
  cr_expect_gt(p[0].dram_read_gbs_all_cores, 0);
  cr_expect_gt(p[0].launch_us, 0);
  cr_expect_str_eq(p[0].kernel_isa, "opencl");
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

/* ---- whole networks ------------------------------------------------------- */

/* Target arguments the networks run under: the default plan, and each
 * convolution algorithm forced (im2col shares the network's scratch). */
static const char *const net_args[] = {"tune=off", "tune=off,conv=gemm", "tune=off,conv=direct"};
#define N_NET_ARGS ((int)(sizeof net_args / sizeof net_args[0]))

/* The output of net on spec after `runs` runs (read back after each; every
 * read must give the same bits). */
static float *run_network(const char *spec, const struct oc_net *net, const float *in, int runs) {
  const int64_t n = oc_tensor_elems(&net->output);
  float *out = malloc((size_t)n * sizeof *out);
  float *first = malloc((size_t)n * sizeof *first);
  cr_assert(out && first);
  struct oc_target *target = NULL;
  struct oc_kernel *kernel = NULL;
  cr_assert_eq(oc_target_open(spec, NULL, &target), oc_status_ok, "%s: %s", spec, oc_errmsg());
  cr_assert_eq(oc_target_prepare_net(target, net, in, out, &kernel), oc_status_ok, "%s: %s", spec,
               oc_errmsg());
  for (int r = 0; r < runs; r++) {
    for (int64_t i = 0; i < n; i++) out[i] = NAN;
    cr_assert_eq(oc_target_run(target, kernel), oc_status_ok, "%s run %d: %s", spec, r,
                 oc_errmsg());
    cr_assert_eq(oc_target_read_output(target, kernel), oc_status_ok, "%s: %s", spec, oc_errmsg());
    if (r == 0)
      memcpy(first, out, (size_t)n * sizeof *out);
    else
      cr_expect(memcmp(first, out, (size_t)n * sizeof *out) == 0, "%s: run %d differs from run 0",
                spec, r);
  }
  oc_target_release(target, kernel);
  oc_target_close(target);
  free(first);
  return out;
}

struct net_case {
  int net;  /* index into test_nets */
  int args; /* index into net_args */
};

ParameterizedTestParameters(opencl_net, matches_ref) {
  static struct net_case cases[N_TEST_NETS * N_NET_ARGS];
  for (int i = 0; i < N_TEST_NETS; i++)
    for (int a = 0; a < N_NET_ARGS; a++) cases[i * N_NET_ARGS + a] = (struct net_case){i, a};
  return cr_make_param_array(struct net_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct net_case *c, opencl_net, matches_ref) {
  need_device();
  struct oc_net *net = load_net(test_nets[c->net]);
  float *in = malloc((size_t)oc_tensor_elems(&net->input) * sizeof *in);
  cr_assert_not_null(in);
  oc_net_fill_input(net, 3, in);
  char spec[96], what[160];
  snprintf(spec, sizeof spec, "opencl:%s", net_args[c->args]);
  snprintf(what, sizeof what, "network %d on %s", c->net, spec);
  float *ref = run_network("ref", net, in, 1);
  float *got = run_network(spec, net, in, 2); /* the second run must repeat the first */
  expect_net_close(ref, got, oc_tensor_elems(&net->output), what);
  free(in);
  free(ref);
  free(got);
  oc_net_free(net);
}

Test(opencl_net, every_data_move_is_covered) {
  bool seen[OC_NET_STEP_COUNT] = {false};
  for (int i = 0; i < N_TEST_NETS; i++) {
    struct oc_net *net = load_net(test_nets[i]);
    for (int32_t k = 0; k < net->n_kernels; k++) seen[net->kernels[k].step] = true;
    oc_net_free(net);
  }
  for (int step = 0; step < OC_NET_STEP_COUNT; step++)
    cr_expect(seen[step], "no test network has a '%s' kernel",
              oc_net_step_name((enum oc_net_step)step));
}

Test(opencl_net, the_target_runs_networks) {
  cr_expect(oc_target_opencl.caps & oc_cap_networks);
  cr_expect_not_null(oc_target_opencl.prepare_net);
  cr_expect_not_null(oc_target_opencl.run_net);
  cr_expect_not_null(oc_target_opencl.read_net_output);
  cr_expect_not_null(oc_target_opencl.release_net);
}

/* Ops are timed by the device's profiling events; networks by the host
 * clock around run(), end to end (an event span would leave out launches). */
Test(opencl_net, networks_are_timed_end_to_end_by_the_host_clock) {
  need_device();
  struct oc_net *net = load_net(test_nets[test_net_join]);
  int64_t n_in = oc_tensor_elems(&net->tensors[net->input_tensor].shape);
  float *in = calloc((size_t)n_in + OC_TENSOR_SLACK_BYTES, sizeof *in);
  float *out = calloc((size_t)oc_tensor_elems(&net->output), sizeof *out);
  cr_assert(in && out);
  struct oc_target *t = NULL;
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_open("opencl:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_prepare_net(t, net, in, out, &k), oc_status_ok, "%s", oc_errmsg());
  cr_expect(!oc_target_has_device_timer(t, k));
  double us = 0;
  cr_expect_eq(oc_target_time_runs(t, k, 1, &us), oc_status_unsupported);
  struct oc_measure_opts o;
  oc_measure_opts_default(&o);
  o.max_time_s = 0.2;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_kernel(t, k, &o, &m), oc_status_ok, "%s", oc_errmsg());
  cr_expect(!m.device_timer, "a network sample is host time");
  cr_expect_gt(m.stats.median_us, 0);
  oc_measurement_release(&m);
  oc_target_release(t, k);
  oc_target_close(t);
  free(in);
  free(out);
  oc_net_free(net);
}

Test(opencl_net, network_without_kernels_copies_its_input) {
  need_device();
  struct oc_net *net = load_net(NET_HEAD "{\"h\":2,\"w\":2,\"c\":3},\"layers\":["
                                         "{\"op\":\"nb201_cell\",\"cell\":\"|skip_connect~0|+|"
                                         "none~0|none~1|+|skip_connect~0|none~1|none~2|\"}]}");
  cr_assert_eq(net->n_kernels, 0);
  float in[12];
  for (int i = 0; i < 12; i++) in[i] = (float)i - 5.5f;
  float *out = run_network("opencl:tune=off", net, in, 2);
  cr_expect(memcmp(in, out, sizeof in) == 0);
  free(out);
  oc_net_free(net);
}

Test(opencl_net, an_unsupported_op_names_the_network_layer_and_key) {
  need_device();
  struct oc_net *net = load_net("{\"format\":\"opcost-net/1\",\"name\":\"halfnet\",\"dtype\":"
                                "\"f16\",\"input\":{\"h\":2,\"w\":2,\"c\":3},\"layers\":["
                                "{\"op\":\"act\",\"act\":\"relu\"},{\"op\":\"gap\"}]}");
  struct oc_target *t = NULL;
  struct oc_kernel *k = NULL;
  float in[12] = {0}, out[3];
  cr_assert_eq(oc_target_open("opencl:tune=off", NULL, &t), oc_status_ok, "%s", oc_errmsg());
  cr_expect_eq(oc_target_prepare_net(t, net, in, out, &k), oc_status_unsupported, "%s",
               oc_errmsg());
  cr_expect_null(k);
  const char *msg = oc_errmsg();
  cr_expect(strstr(msg, "network 'halfnet'") != NULL, "names the network: %s", msg);
  cr_expect(strstr(msg, "layer 0") != NULL, "names the layer: %s", msg);
  cr_expect(strstr(msg, "op 'act.f16 h=2 w=2 c=3 act=relu'") != NULL, "names the op key: %s", msg);
  cr_expect(strstr(msg, "f16") != NULL && strstr(msg, "not supported") != NULL, "says why: %s",
            msg);
  oc_target_close(t);
  oc_net_free(net);
}

static cl_uint mem_refs(cl_mem mem) {
  cl_uint refs = 0;
  cr_assert_eq(clGetMemObjectInfo(mem, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL),
               CL_SUCCESS);
  return refs;
}

static cl_uint kernel_refs(cl_kernel kernel) {
  cl_uint refs = 0;
  cr_assert_eq(clGetKernelInfo(kernel, CL_KERNEL_REFERENCE_COUNT, sizeof refs, &refs, NULL),
               CL_SUCCESS);
  return refs;
}

/* release_net drops every reference the network holds: each buffer and
 * kernel it made is left with only the reference this test took (host
 * memory is the ASan build's to check). */
Test(opencl_net, release_frees_every_buffer_and_kernel) {
  need_device();
  struct ocl_state *s = open_state("tune=off,conv=gemm");
  struct oc_net *net = load_net(test_nets[test_net_vit]);
  float *in = calloc((size_t)oc_tensor_elems(&net->input), sizeof *in);
  float *out = calloc((size_t)oc_tensor_elems(&net->output), sizeof *out);
  cr_assert(in && out);
  void *kernel = NULL;
  cr_assert_eq(oc_target_opencl.prepare_net(s, net, in, out, &kernel), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_eq(oc_target_opencl.run_net(s, kernel), oc_status_ok, "%s", oc_errmsg());
  struct ocl_net *r = kernel;
  const int32_t n_mems = r->n_mems;
  cr_assert_gt(n_mems, 0);
  cl_mem *mems = calloc((size_t)n_mems, sizeof *mems);
  cl_kernel *kernels = calloc((size_t)net->n_kernels * OCL_MAX_STEPS + 1, sizeof *kernels);
  cr_assert(mems && kernels);
  int n_kernels = 0;
  for (int32_t i = 0; i < n_mems; i++) {
    mems[i] = r->mems[i];
    clRetainMemObject(mems[i]);
  }
  for (int32_t i = 0; i < net->n_kernels; i++) {
    if (r->kernels[i] == NULL) continue;
    for (int j = 0; j < r->kernels[i]->n_steps; j++) {
      kernels[n_kernels] = r->kernels[i]->steps[j].kernel;
      clRetainKernel(kernels[n_kernels++]);
    }
  }
  cr_expect_gt(n_kernels, 0);
  oc_target_opencl.release_net(s, kernel);
  for (int32_t i = 0; i < n_mems; i++) {
    cr_expect_eq(mem_refs(mems[i]), 1, "buffer %d still referenced", (int)i);
    clReleaseMemObject(mems[i]);
  }
  for (int i = 0; i < n_kernels; i++) {
    cr_expect_eq(kernel_refs(kernels[i]), 1, "kernel %d still referenced", i);
    clReleaseKernel(kernels[i]);
  }
  free(mems);
  free(kernels);
  free(in);
  free(out);
  oc_net_free(net);
  oc_target_opencl.close(s);
}

/* Activations share buffers by liveness: a network of many layers needs
 * fewer activation buffers than it has tensors. */
Test(opencl_net, activations_share_buffers) {
  need_device();
  struct ocl_state *s = open_state("tune=off");
  struct oc_net *net = load_net(test_nets[test_net_cnn]);
  float *in = calloc((size_t)oc_tensor_elems(&net->input), sizeof *in);
  float *out = calloc((size_t)oc_tensor_elems(&net->output), sizeof *out);
  cr_assert(in && out);
  void *kernel = NULL;
  cr_assert_eq(oc_target_opencl.prepare_net(s, net, in, out, &kernel), oc_status_ok, "%s",
               oc_errmsg());
  struct ocl_net *r = kernel;
  int32_t distinct = 0, activations = 0;
  for (int32_t t = 0; t < net->n_tensors; t++) {
    if (net->tensors[t].kind != oc_net_tensor_activation) continue;
    activations++;
    bool first = true;
    for (int32_t u = 0; u < t && first; u++)
      if (net->tensors[u].kind == oc_net_tensor_activation && r->tensor[u] == r->tensor[t])
        first = false;
    distinct += first;
  }
  cr_expect_lt(distinct, activations / 2, "%d buffers for %d activations", (int)distinct,
               (int)activations);
  oc_target_opencl.release_net(s, kernel);
  free(in);
  free(out);
  oc_net_free(net);
  oc_target_opencl.close(s);
}
