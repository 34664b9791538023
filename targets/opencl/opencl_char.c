/* opencl_char.c - device characterization for the probe harness: peak FP32
 * FMA throughput, device-memory copy bandwidth, and the cost of launching a
 * kernel (host round trip and device duration of an empty kernel), each
 * measured with kernels.cl's micro-kernels and event profiling. These are
 * the roofline's two ceilings and the fixed cost every op pays, which cost
 * models need beside per-op LUTs.
 *
 * Bounds: the FMA kernel's iteration count grows until one run takes at
 * least OCL_CHAR_MIN_NS (or a cap), the copy moves at most
 * OCL_CHAR_COPY_BYTES, so characterization takes about a second on a CPU
 * device and less on a GPU; quick divides both by OCL_CHAR_QUICK_DIV. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "targets/opencl/opencl.h"

#define OCL_CHAR_MIN_NS 20e6
#define OCL_CHAR_MAX_ITERS (1 << 16)
#define OCL_CHAR_COPY_BYTES ((size_t)64 << 20)
#define OCL_CHAR_REPS 3
#define OCL_CHAR_LAUNCHES 15
/* quick: a quarter of the copy, a quarter of the FMA time, fewer repeats. */
#define OCL_CHAR_QUICK_DIV 4

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static enum oc_status cl_fail(const struct ocl_state *s, cl_int err, const char *what) {
  return oc__fail(oc__cl_status(err), "characterizing device '%s': %s returned %d %s",
                  s->device_name, what, (int)err, oc__cl_error_name(err));
}

/* One launch of kernel over global items (local NULL: the driver chooses):
 * device time in ns and host round trip in µs. */
static enum oc_status launch(struct ocl_state *s, cl_kernel kernel, size_t global,
                             const size_t *local, double *device_ns, double *host_us) {
  cl_event ev = NULL;
  double t0 = now_us();
  cl_int err = clEnqueueNDRangeKernel(s->queue, kernel, 1, NULL, &global, local, 0, NULL, &ev);
  if (err != CL_SUCCESS) return cl_fail(s, err, "clEnqueueNDRangeKernel");
  err = clFinish(s->queue);
  double t1 = now_us();
  enum oc_status st = oc_status_ok;
  if (err != CL_SUCCESS)
    st = cl_fail(s, err, "clFinish");
  else
    st = oc__opencl_event_span_ns(s, ev, ev, "characterization kernel", device_ns);
  if (host_us) *host_us = t1 - t0;
  clReleaseEvent(ev);
  return st;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

enum oc_status oc__opencl_characterize_state(struct ocl_state *s, bool quick,
                                             struct oc__opencl_characteristics *out) {
  enum oc_status st = oc_status_ok;
  cl_int err = CL_SUCCESS;
  cl_kernel fma = NULL, copy = NULL, empty = NULL;
  cl_mem a = NULL, b = NULL;
  memset(out, 0, sizeof *out);
  oc__strcpy(out->device, sizeof out->device, s->device_name);
  out->timer_resolution_ns = (double)s->timer_resolution_ns;

  fma = clCreateKernel(s->program, "peak_fma", &err);
  if (err == CL_SUCCESS) copy = clCreateKernel(s->program, "copy4", &err);
  if (err == CL_SUCCESS) empty = clCreateKernel(s->program, "empty", &err);
  if (err != CL_SUCCESS) {
    st = cl_fail(s, err, "clCreateKernel");
    goto done;
  }

  /* Peak: enough work-items to fill every compute unit many times over. */
  size_t local = s->tuning.ew_local ? s->tuning.ew_local : 64;
  if (local > s->max_work_group) local = s->max_work_group;
  size_t items = (size_t)s->compute_units * 4096;
  if (items < 16384) items = 16384;
  items = (items + local - 1) / local * local;
  size_t copy_bytes = OCL_CHAR_COPY_BYTES / (quick ? OCL_CHAR_QUICK_DIV : 1);
  const double min_ns = OCL_CHAR_MIN_NS / (quick ? OCL_CHAR_QUICK_DIV : 1);
  const int reps = quick ? 1 : OCL_CHAR_REPS;
  const int launches = quick ? 5 : OCL_CHAR_LAUNCHES;
  while ((cl_ulong)copy_bytes > s->max_alloc_bytes ||
         (cl_ulong)copy_bytes * 2 > s->global_mem_bytes / 2)
    copy_bytes /= 2;
  copy_bytes = copy_bytes / (16 * local) * (16 * local);
  if (copy_bytes == 0) {
    st = oc__fail(oc_status_out_of_memory, "characterizing device '%s': no room for a copy",
                  s->device_name);
    goto done;
  }
  /* b also receives the FMA kernel's one float per work-item. */
  size_t b_bytes = items * sizeof(float);
  if (b_bytes < copy_bytes) b_bytes = copy_bytes;
  a = clCreateBuffer(s->context, CL_MEM_READ_WRITE, copy_bytes, NULL, &err);
  if (err == CL_SUCCESS) b = clCreateBuffer(s->context, CL_MEM_READ_WRITE, b_bytes, NULL, &err);
  if (err != CL_SUCCESS) {
    st = cl_fail(s, err, "clCreateBuffer");
    goto done;
  }
  const float zero = 0.0f;
  err = clEnqueueFillBuffer(s->queue, a, &zero, sizeof zero, 0, copy_bytes, 0, NULL, NULL);
  if (err == CL_SUCCESS) err = clFinish(s->queue);
  if (err != CL_SUCCESS) {
    st = cl_fail(s, err, "clEnqueueFillBuffer");
    goto done;
  }

  cl_float mult = 0.999f;
  cl_int iters = 16;
  double ns = 0;
  err = clSetKernelArg(fma, 0, sizeof b, &b);
  if (err == CL_SUCCESS) err = clSetKernelArg(fma, 1, sizeof mult, &mult);
  for (;;) {
    if (err == CL_SUCCESS) err = clSetKernelArg(fma, 2, sizeof iters, &iters);
    if (err != CL_SUCCESS) {
      st = cl_fail(s, err, "clSetKernelArg(peak_fma)");
      goto done;
    }
    st = launch(s, fma, items, &local, &ns, NULL);
    if (st != oc_status_ok) goto done;
    if (ns >= min_ns || iters >= OCL_CHAR_MAX_ITERS) break;
    iters *= 4;
  }
  double best = ns;
  for (int r = 0; r < reps; r++) {
    st = launch(s, fma, items, &local, &ns, NULL);
    if (st != oc_status_ok) goto done;
    if (ns < best) best = ns;
  }
  out->peak_gflops = (double)items * (double)iters * 64.0 / best;

  /* Bandwidth: a float4 copy, read + write bytes over the best time. */
  err = clSetKernelArg(copy, 0, sizeof a, &a);
  if (err == CL_SUCCESS) err = clSetKernelArg(copy, 1, sizeof b, &b);
  if (err != CL_SUCCESS) {
    st = cl_fail(s, err, "clSetKernelArg(copy4)");
    goto done;
  }
  best = -1;
  for (int r = 0; r < reps + 1; r++) {
    st = launch(s, copy, copy_bytes / 16, &local, &ns, NULL);
    if (st != oc_status_ok) goto done;
    if (r > 0 && (best < 0 || ns < best)) best = ns; /* the first run warms up */
  }
  out->bandwidth_gbps = 2.0 * (double)copy_bytes / best;

  /* Launch: an empty kernel of one work-item. */
  err = clSetKernelArg(empty, 0, sizeof a, &a);
  if (err != CL_SUCCESS) {
    st = cl_fail(s, err, "clSetKernelArg(empty)");
    goto done;
  }
  double host[OCL_CHAR_LAUNCHES], device[OCL_CHAR_LAUNCHES];
  st = launch(s, empty, 1, NULL, &ns, NULL);
  for (int r = 0; r < launches && st == oc_status_ok; r++) {
    st = launch(s, empty, 1, NULL, &device[r], &host[r]);
    device[r] /= 1e3;
  }
  if (st != oc_status_ok) goto done;
  qsort(host, (size_t)launches, sizeof host[0], cmp_double);
  qsort(device, (size_t)launches, sizeof device[0], cmp_double);
  out->launch_us = host[launches / 2];
  out->empty_kernel_us = device[launches / 2];

done:
  if (a) clReleaseMemObject(a);
  if (b) clReleaseMemObject(b);
  if (fma) clReleaseKernel(fma);
  if (copy) clReleaseKernel(copy);
  if (empty) clReleaseKernel(empty);
  return st;
}
