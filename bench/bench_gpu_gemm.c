/* bench_gpu_gemm.c - how close the GPU targets' kernels come to their device:
 * (1) the achieved FLOP/s of conv2d and fc ops (MobileNet, ResNet and ViT
 * shapes) against the peak FLOP/s measured on the same device by the
 * target's characterization; (2) the opencl target's GEMM against CLBlast's
 * SGEMM on the same device, queue and timer (event profiling).
 *
 * A benchmark of opcost itself, not a test: nothing here passes or fails.
 * Every time is the median of RUNS device-timed runs after WARMUP untimed
 * ones; FLOPs are 2 x MACs (bias and activation not counted).
 *
 * usage: bench_gpu_gemm [-t opencl[:ARGS] | -t vulkan[:ARGS]] [--quick]
 *   --quick  smaller shapes (CPU devices such as PoCL and lavapipe) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "opcost/opcost.h"
#include "targets/targets_internal.h"

#ifdef OPCOST_WITH_OPENCL
#include "targets/opencl/opencl.h"
#endif
#ifdef OPCOST_WITH_VULKAN
#include "targets/vulkan/vulkan.h"
#endif
#ifdef OPCOST_BENCH_CLBLAST
#include <clblast_c.h>
#endif

#define WARMUP 2
#define RUNS 7

static const char *const full_ops[] = {
    "conv2d.f32 h=112 w=112 cin=3 cout=32 k=3 s=2 g=1 d=1 act=relu6",
    "conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6",
    "conv2d.f32 h=56 w=56 cin=144 cout=144 k=3 s=2 g=144 d=1 act=relu6",
    "conv2d.f32 h=28 w=28 cin=128 cout=128 k=3 s=1 g=1 d=1 act=relu",
    "conv2d.f32 h=14 w=14 cin=256 cout=256 k=3 s=1 g=1 d=1 act=relu",
    "conv2d.f32 h=7 w=7 cin=320 cout=1280 k=1 s=1 g=1 d=1 act=relu6",
    "fc.f32 m=1 cin=1280 cout=1000 act=none",
    "fc.f32 m=197 cin=192 cout=768 act=gelu",
};
static const char *const quick_ops[] = {
    "conv2d.f32 h=56 w=56 cin=3 cout=16 k=3 s=2 g=1 d=1 act=relu6",
    "conv2d.f32 h=28 w=28 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6",
    "conv2d.f32 h=28 w=28 cin=144 cout=144 k=3 s=2 g=144 d=1 act=relu6",
    "conv2d.f32 h=14 w=14 cin=64 cout=64 k=3 s=1 g=1 d=1 act=relu",
    "conv2d.f32 h=7 w=7 cin=160 cout=640 k=1 s=1 g=1 d=1 act=relu6",
    "fc.f32 m=1 cin=1280 cout=1000 act=none",
    "fc.f32 m=64 cin=192 cout=768 act=gelu",
};
static const int full_gemm[][3] = {
    {256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {197, 768, 192}, {3136, 144, 24}};
static const int quick_gemm[][3] = {
    {128, 128, 128}, {256, 256, 256}, {512, 512, 512}, {197, 768, 192}};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *x, int n) {
  qsort(x, (size_t)n, sizeof *x, cmp_double);
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Median device time of key on t, in µs; < 0 on failure (printed). */
static double time_op(struct oc_target *t, const char *key) {
  struct oc_op op;
  struct oc_op_shapes sh;
  if (oc_op_parse(key, &op) != oc_status_ok || oc_op_shapes(&op, &sh) != oc_status_ok) {
    fprintf(stderr, "bench_gpu_gemm: %s\n", oc_errmsg());
    return -1;
  }
  float *in[OC_MAX_INPUTS] = {NULL, NULL};
  for (int i = 0; i < sh.n_inputs; i++)
    in[i] = calloc((size_t)oc_tensor_elems(&sh.input[i]), sizeof(float));
  float *w = calloc((size_t)(sh.weight_elems + 1), sizeof(float));
  float *out = calloc((size_t)oc_tensor_elems(&sh.output), sizeof(float));
  struct oc_tensors tensors = {{in[0], in[1]}, w, NULL, out};
  struct oc_kernel *k = NULL;
  double result = -1, us[RUNS];
  enum oc_status st = oc_target_prepare(t, &op, &tensors, &k);
  for (int i = 0; i < WARMUP && st == oc_status_ok; i++) st = oc_target_run(t, k);
  if (st == oc_status_ok) st = oc_target_time_runs(t, k, RUNS, us);
  if (st == oc_status_ok)
    result = median(us, RUNS);
  else
    fprintf(stderr, "bench_gpu_gemm: '%s': %s\n", key, oc_errmsg());
  oc_target_release(t, k);
  free(in[0]);
  free(in[1]);
  free(w);
  free(out);
  return result;
}

static double op_flops(const char *key) {
  struct oc_op op;
  struct oc_op_cost cost;
  if (oc_op_parse(key, &op) != oc_status_ok || oc_op_cost(&op, &cost) != oc_status_ok) return 0;
  return 2.0 * (double)cost.macs;
}

#ifdef OPCOST_BENCH_CLBLAST
/* CLBlast SGEMM C = A x B (row major) on the opencl state's own queue: the
 * same device, the same profiling clock as the target's kernels. */
static double time_clblast(struct ocl_state *s, int m, int n, int k) {
  cl_int err = CL_SUCCESS;
  size_t bytes_a = (size_t)m * (size_t)k * sizeof(float);
  size_t bytes_b = (size_t)k * (size_t)n * sizeof(float);
  size_t bytes_c = (size_t)m * (size_t)n * sizeof(float);
  cl_mem a = clCreateBuffer(s->context, CL_MEM_READ_WRITE, bytes_a, NULL, &err);
  cl_mem b = clCreateBuffer(s->context, CL_MEM_READ_WRITE, bytes_b, NULL, &err);
  cl_mem c = clCreateBuffer(s->context, CL_MEM_READ_WRITE, bytes_c, NULL, &err);
  double result = -1, us[RUNS];
  const float zero = 0.0f;
  if (a && b && c) {
    clEnqueueFillBuffer(s->queue, a, &zero, sizeof zero, 0, bytes_a, 0, NULL, NULL);
    clEnqueueFillBuffer(s->queue, b, &zero, sizeof zero, 0, bytes_b, 0, NULL, NULL);
    clFinish(s->queue);
  }
  for (int r = 0; a && b && c && r < WARMUP + RUNS; r++) {
    /* CLBlast may run several kernels (padding, transposition, GEMM) and
     * returns the event of the last one only: time the whole routine
     * between two markers, START of the first to END of the second, as the
     * target's runs are timed from their first kernel to their last. */
    cl_event before = NULL, after = NULL;
    clFinish(s->queue);
    err = clEnqueueMarkerWithWaitList(s->queue, 0, NULL, &before);
    CLBlastStatusCode code = CLBlastSgemm(
        CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, (size_t)m, (size_t)n,
        (size_t)k, 1.0f, a, 0, (size_t)k, b, 0, (size_t)n, 0.0f, c, 0, (size_t)n, &s->queue, NULL);
    if (err == CL_SUCCESS) err = clEnqueueMarkerWithWaitList(s->queue, 0, NULL, &after);
    clFinish(s->queue);
    double ns = 0;
    enum oc_status st = oc_status_device_error;
    if (code == CLBlastSuccess && err == CL_SUCCESS)
      st = oc__opencl_event_span_ns(s, before, after, "CLBlast SGEMM", &ns);
    if (before) clReleaseEvent(before);
    if (after) clReleaseEvent(after);
    if (code != CLBlastSuccess) {
      fprintf(stderr, "bench_gpu_gemm: CLBlastSgemm(%d, %d, %d) returned %d\n", m, n, k, (int)code);
      break;
    }
    if (st != oc_status_ok) {
      fprintf(stderr, "bench_gpu_gemm: CLBlast timing: %s (%d)\n", oc_errmsg(), (int)err);
      break;
    }
    if (r >= WARMUP) us[r - WARMUP] = ns / 1e3;
    if (r == WARMUP + RUNS - 1) result = median(us, RUNS);
  }
  if (a) clReleaseMemObject(a);
  if (b) clReleaseMemObject(b);
  if (c) clReleaseMemObject(c);
  return result;
}
#endif

int main(int argc, char **argv) {
  const char *spec = "opencl";
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
      spec = argv[++i];
    } else if (strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      fprintf(stderr, "usage: bench_gpu_gemm [-t opencl[:ARGS] | -t vulkan[:ARGS]] [--quick]\n");
      return 2;
    }
  }
  const char *colon = strchr(spec, ':');
  const char *args = colon ? colon + 1 : "";
  (void)args; /* unused when no GPU target is built in */
  const bool is_opencl = strncmp(spec, "opencl", 6) == 0;
  const bool is_vulkan = strncmp(spec, "vulkan", 6) == 0;

  /* (1) Peak of the device, then each op against it. */
  double peak = 0, bandwidth = 0;
  char device[256] = "?";
  enum oc_status st = oc_status_unsupported;
#ifdef OPCOST_WITH_OPENCL
  if (is_opencl) {
    struct oc__opencl_characteristics c;
    st = oc__opencl_characterize(args, false, &c);
    peak = c.peak_gflops;
    bandwidth = c.bandwidth_gbps;
    oc__strcpy(device, sizeof device, c.device);
  }
#endif
#ifdef OPCOST_WITH_VULKAN
  if (is_vulkan) {
    struct oc__vulkan_characteristics c;
    st = oc__vulkan_characterize(args, false, &c);
    peak = c.peak_gflops;
    bandwidth = c.bandwidth_gbps;
    oc__strcpy(device, sizeof device, c.device);
  }
#endif
  if (st != oc_status_ok) {
    fprintf(stderr, "bench_gpu_gemm: cannot characterize '%s': %s\n", spec,
            st == oc_status_unsupported && !is_opencl && !is_vulkan
                ? "only opencl and vulkan are GPU targets"
                : (oc_errmsg()[0] ? oc_errmsg() : "target not built in"));
    return 1;
  }
  printf("target %s, device '%s': measured peak %.2f GFLOP/s, copy bandwidth %.2f GB/s\n\n", spec,
         device, peak, bandwidth);

  struct oc_target *t = NULL;
  if (oc_target_open(spec, NULL, &t) != oc_status_ok) {
    fprintf(stderr, "bench_gpu_gemm: %s\n", oc_errmsg());
    return 1;
  }
  printf("%-66s %10s %9s %7s\n", "op", "median_us", "GFLOP/s", "%peak");
  const char *const *ops = quick ? quick_ops : full_ops;
  const size_t n_ops =
      quick ? sizeof quick_ops / sizeof quick_ops[0] : sizeof full_ops / sizeof full_ops[0];
  for (size_t i = 0; i < n_ops; i++) {
    double us = time_op(t, ops[i]);
    if (us <= 0) continue;
    double gflops = op_flops(ops[i]) / (us * 1e3);
    printf("%-66s %10.1f %9.2f %6.1f%%\n", ops[i], us, gflops, 100.0 * gflops / peak);
  }

  /* (2) GEMM against CLBlast. */
  printf("\n%-24s %12s %12s %12s %12s %7s\n", "gemm m x n x k", "opcost_us", "opcost_GF/s",
         "clblast_us", "clblast_GF/s", "ratio");
  const int(*sizes)[3] = quick ? quick_gemm : full_gemm;
  const size_t n_sizes =
      quick ? sizeof quick_gemm / sizeof quick_gemm[0] : sizeof full_gemm / sizeof full_gemm[0];
#ifdef OPCOST_BENCH_CLBLAST
  struct ocl_state *s = NULL;
  if (is_opencl && oc_target_opencl.open(args, NULL, (void **)&s) != oc_status_ok) {
    fprintf(stderr, "bench_gpu_gemm: %s\n", oc_errmsg());
    s = NULL;
  }
#endif
  for (size_t i = 0; i < n_sizes; i++) {
    const int m = sizes[i][0], n = sizes[i][1], k = sizes[i][2];
    char key[OC_KEY_MAX];
    snprintf(key, sizeof key, "matmul.f32 b=1 m=%d k=%d n=%d tb=0", m, k, n);
    const double flops = 2.0 * m * n * (double)k;
    double ours = time_op(t, key), theirs = -1;
#ifdef OPCOST_BENCH_CLBLAST
    if (s) theirs = time_clblast(s, m, n, k);
#endif
    char label[32];
    snprintf(label, sizeof label, "%d x %d x %d", m, n, k);
    if (theirs > 0 && ours > 0)
      printf("%-24s %12.1f %12.2f %12.1f %12.2f %7.2f\n", label, ours, flops / (ours * 1e3), theirs,
             flops / (theirs * 1e3), theirs / ours);
    else if (ours > 0)
      printf("%-24s %12.1f %12.2f %12s %12s %7s\n", label, ours, flops / (ours * 1e3), "-", "-",
             "-");
  }
#ifdef OPCOST_BENCH_CLBLAST
  if (s) oc_target_opencl.close(s);
  if (is_opencl) printf("ratio = CLBlast time / opcost time (above 1: opcost is faster)\n");
#else
  printf("(built without CLBlast or the opencl target: no CLBlast column)\n");
#endif
  oc_target_close(t);
  return 0;
}
