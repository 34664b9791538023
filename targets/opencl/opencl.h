/* opencl.h - internals of the opencl backend shared by its files: the open
 * state (platform, device, context, profiling queue, the built program and
 * its tuned work-group sizes), the prepared kernel (one or two enqueues of
 * kernels.cl kernels with their buffers bound), cl_int translation, whole
 * networks (opencl_net.c), and the device characterization the probe
 * harness calls. Not public.
 *
 * A kernel is planned once in prepare (device buffers created and filled,
 * kernel arguments set, global and local sizes fixed) and run many times:
 * run only enqueues and waits. */
#ifndef OPCOST_TARGETS_OPENCL_H
#define OPCOST_TARGETS_OPENCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <CL/cl_ext.h> /* CL_PLATFORM_NOT_FOUND_KHR of the ICD loader */

#include "opcost/op.h"
#include "opcost/target.h"

/* Every kernel of kernels.cl: X(name). */
// clang-format off
#define OCL_KERNEL_MAP(X) \
  X(gemm_reg) X(gemm_tiled) X(conv2d_direct) X(conv2d_dw) X(im2col) X(maxpool2d) \
  X(avgpool2d) X(gap) X(act_ew) X(add_ew) X(mul_ew) X(concat2) \
  X(softmax_rows) X(layernorm_rows) X(gather3) X(peak_fma) X(copy4) X(empty)
// clang-format on

enum ocl_kernel_id {
#define OCL_KERNEL_ENUM(name) ocl_k_##name,
  OCL_KERNEL_MAP(OCL_KERNEL_ENUM)
#undef OCL_KERNEL_ENUM
      ocl_k__count
};

/* How conv2d with g = 1 and k > 1 is computed. */
enum ocl_conv_algo {
  ocl_conv_auto,   /* im2col + GEMM while the column matrix stays small, else direct */
  ocl_conv_direct, /* one work-item per output element */
  ocl_conv_gemm,   /* im2col + GEMM always (1x1 stride-1 convs are a GEMM anyway) */
};

/* Work-group sizes the tuner chose for this device (opencl_tune.c). A
 * local size of 0 lets the driver choose. */
struct ocl_tuning {
  int gemm_tiled;       /* 1: gemm_tiled, 0: gemm_reg */
  size_t gemm_local[2]; /* gemm_tiled: T x T */
  size_t img_local[2];  /* 3-D image kernels (direct conv, im2col, pools): x = channels */
  size_t dw_local[2];   /* conv2d_dw */
  size_t ew_local;      /* 1-D elementwise kernels and gap */
  size_t rows_local;    /* softmax_rows, layernorm_rows: items per row (power of two) */
};

struct ocl_state {
  cl_platform_id platform;
  cl_device_id device;
  cl_context context;
  cl_command_queue queue; /* in order, CL_QUEUE_PROFILING_ENABLE */
  cl_program program;
  int platform_index, device_index;
  char platform_name[128];
  char platform_version[128];
  char device_name[128];
  char device_vendor[64];
  char device_version[128];
  char driver_version[64];
  cl_device_type device_type;
  cl_uint compute_units;
  cl_uint clock_mhz;
  size_t max_work_group;
  size_t max_item_sizes[3];
  cl_ulong max_alloc_bytes;
  cl_ulong global_mem_bytes;
  cl_ulong local_mem_bytes;
  size_t timer_resolution_ns;
  /* Options from the target arguments. */
  enum ocl_conv_algo conv;
  bool use_cache;
  bool tune;
  char cache_dir[512];
  /* Where the program and the tuning came from (tests check the cache). */
  bool program_from_cache;
  bool tuning_from_cache;
  uint64_t cache_key; /* device, driver, source and build options */
  struct ocl_tuning tuning;
};

/* One enqueue of a prepared op. */
struct ocl_step {
  cl_kernel kernel;
  cl_uint dims;
  size_t global[3];
  size_t local[3];
  bool has_local; /* false: the driver chooses */
};

#define OCL_MAX_STEPS 2
#define OCL_MAX_BUFFERS 6

struct ocl_kernel {
  struct oc_op op;
  char key[OC_KEY_MAX];
  int n_steps;
  struct ocl_step steps[OCL_MAX_STEPS];
  int n_buffers;
  cl_mem buffers[OCL_MAX_BUFFERS]; /* owned */
  cl_mem output;                   /* one of buffers */
  void *host_output;
  size_t output_bytes;
};

/* Symbolic name of an OpenCL error code ("CL_OUT_OF_RESOURCES"), or
 * "unknown OpenCL error" for codes this header does not know. */
const char *oc__cl_error_name(cl_int code);

/* The status a driver code maps to: out_of_memory for the allocation
 * failures, device_error for the rest. */
enum oc_status oc__cl_status(cl_int code);

/* Builds source for the state's device with options (the build options of
 * kernels.cl are added by the caller). On failure the message carries the
 * device's build log: oc_status_device_error, "building ... failed:
 * clBuildProgram returned -11 CL_BUILD_PROGRAM_FAILURE; build log: ...". */
enum oc_status oc__opencl_build(struct ocl_state *s, const char *source, const char *options,
                                cl_program *program);

/* The build options kernels.cl needs (the OC_ACT_* numbers), into buf. */
void oc__opencl_build_options(char *buf, size_t size);

/* Loads the program of kernels.cl for the state's device from the cache, or
 * builds it and stores it there (clGetProgramInfo(CL_PROGRAM_BINARIES));
 * then loads the tuning stored beside it, or runs the tuner and stores it.
 * Sets s->program, s->tuning, s->program_from_cache, s->tuning_from_cache.
 * A cache that cannot be read or written is skipped, never an error. */
enum oc_status oc__opencl_load_program(struct ocl_state *s);

/* Tuning without measuring: sizes that are valid on every device. */
void oc__opencl_default_tuning(const struct ocl_state *s, struct ocl_tuning *tuning);

/* Runs the tuner on the state's device (programs built): times each
 * candidate work-group size of each kernel family on a representative
 * shape with event profiling, and keeps the fastest. */
enum oc_status oc__opencl_tune(struct ocl_state *s, struct ocl_tuning *tuning);

/* Plans op into k (kernels created, buffers filled, arguments set). On
 * failure what was made stays in k for oc__opencl_kernel_free. */
enum oc_status oc__opencl_plan(struct ocl_state *s, const struct oc_op *op,
                               const struct oc_tensors *tensors, struct ocl_kernel *k);
void oc__opencl_kernel_free(struct ocl_kernel *k); /* NULL-safe, frees k */

/* Device buffers an op is planned on by oc__opencl_plan_bound; the kernel
 * does not own them (a network does). weights and bias are NULL for an op
 * without weights. scratch, when not NULL, is a buffer of scratch_bytes the
 * op may use as its im2col column matrix (the kernels of one in-order queue
 * never run at once, so a network shares one). */
struct ocl_bind {
  cl_mem input[OC_MAX_INPUTS];
  cl_mem weights, bias, output;
  cl_mem scratch;
  size_t scratch_bytes;
};

/* Plans op into k as oc__opencl_plan does, on the buffers of b: nothing is
 * allocated or copied, except an im2col column matrix that scratch cannot
 * hold. k->host_output stays NULL. On failure what was made stays in k. */
enum oc_status oc__opencl_plan_bound(struct ocl_state *s, const struct oc_op *op,
                                     const struct ocl_bind *b, struct ocl_kernel *k);

/* Bytes of the im2col column matrix op would use on this device (0: none). */
size_t oc__opencl_scratch_bytes(const struct ocl_state *s, const struct oc_op *op);

/* Plans one gather3 enqueue into k: out[(a*B + b)*C + c] = in[base + a*stride_a
 * + b*stride_b + c] for count = {A, B, C}; what names it in messages. The
 * attention head split and merge of a network are such copies. */
enum oc_status oc__opencl_plan_gather(struct ocl_state *s, const char *what, cl_mem in, cl_mem out,
                                      const int32_t count[3], int32_t base, int32_t stride_a,
                                      int32_t stride_b, struct ocl_kernel *k);

/* supports() of the vtable. */
bool oc__opencl_supports(void *state, const struct oc_op *op, char *why, size_t why_len);

/* A prepared network (opencl_net.c): its device buffers and planned
 * kernels. The network must outlive it. */
struct ocl_net {
  const struct oc_net *net;
  const float *input; /* the caller's host buffers */
  float *output;
  cl_mem *tensor;              /* [n_tensors]: the device buffer a tensor lives in */
  struct ocl_kernel **kernels; /* [n_kernels]: ops and gathers; NULL for the other moves */
  int32_t n_mems, max_mems;
  cl_mem *mems;          /* every buffer made, owned: tensors, parameters, scratch */
  uint64_t device_bytes; /* their sum */
};

/* Whole networks (opencl_net.c): the vtable's prepare_net, run_net,
 * read_net_output and release_net. */
enum oc_status oc__opencl_prepare_net(void *state, const struct oc_net *net, const void *input,
                                      void *output, void **kernel);
enum oc_status oc__opencl_run_net(void *state, void *kernel);
enum oc_status oc__opencl_read_net_output(void *state, void *kernel);
void oc__opencl_release_net(void *state, void *kernel);

/* Enqueues every step of k once; events[i] (when events is not NULL)
 * receives the event of step i. */
enum oc_status oc__opencl_enqueue(struct ocl_state *s, struct ocl_kernel *k, cl_event *events);

/* Device time of one run from the profiling events of its first and last
 * enqueue (START of the first, END of the last), in ns; see
 * oc__opencl_profile_span for the guards. */
enum oc_status oc__opencl_event_span_ns(const struct ocl_state *s, cl_event first, cl_event last,
                                        const char *what, double *ns);

/* The arithmetic of oc__opencl_event_span_ns: END - START in ns. Zero
 * timestamps (profiling that does not work) are an error; an END before
 * START is a 32-bit counter that wrapped when both fit in 32 bits, and an
 * error otherwise; a zero span is reported as resolution_ns (the timer's
 * resolution: the run took at most that long, and no clock tick of the
 * device can say less). */
enum oc_status oc__opencl_profile_span(uint64_t start, uint64_t end, uint64_t resolution_ns,
                                       double *ns);

/* Runs k `runs` times, one run at a time (enqueue, wait): device_us[i] from
 * event profiling and, when host_us is not NULL, host_us[i] the host's
 * end-to-end latency of the same run (enqueue to completion seen by the
 * host, CLOCK_MONOTONIC). */
enum oc_status oc__opencl_time_runs_host(struct ocl_state *s, struct ocl_kernel *k, int runs,
                                         double *device_us, double *host_us);

/* Parses the target arguments ("platform=P,device=D,...") into s (the
 * options only; nothing is opened). Bad keys and values are named. */
enum oc_status oc__opencl_parse_args(const char *args, struct ocl_state *s);

/* ---- device characterization ---------------------------------------------- */

/* What a GPU can do, measured with kernels.cl's micro-kernels and event
 * profiling (device time). Each figure is the best of a few repetitions. */
struct oc__opencl_characteristics {
  char device[128];
  double peak_gflops;         /* FP32 FMA throughput, 2 FLOPs per FMA */
  double bandwidth_gbps;      /* device-memory copy: (read + write bytes) / time, 1e9 B/s */
  double launch_us;           /* host: enqueue of an empty kernel to its completion (median) */
  double empty_kernel_us;     /* device: START to END of an empty kernel (median) */
  double timer_resolution_ns; /* CL_DEVICE_PROFILING_TIMER_RESOLUTION */
};

/* Opens the device as `-t opencl:ARGS` would (args may be NULL or ""),
 * measures it, closes it. Takes about a second on a CPU device; quick
 * (a smaller copy, shorter FMA runs, fewer repeats) about a quarter.
 * Statuses: unavailable (no platform or device; oc_errmsg says which),
 * device_error, out_of_memory, invalid_argument (bad args). */
enum oc_status oc__opencl_characterize(const char *args, bool quick,
                                       struct oc__opencl_characteristics *out);

/* The measurements of oc__opencl_characterize on an open state
 * (opencl_char.c). */
enum oc_status oc__opencl_characterize_state(struct ocl_state *s, bool quick,
                                             struct oc__opencl_characteristics *out);

#endif
