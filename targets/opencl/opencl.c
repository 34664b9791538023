/* opencl.c - the `opencl` backend: any OpenCL 1.2+ device reached through the
 * ICD loader (mobile GPUs in the field; PoCL, a CPU device, in tests). This
 * file holds the vtable: availability, `-t opencl:platform=P,device=D,...`
 * argument parsing, opening a device (context, profiling queue, cached
 * program, tuned work-group sizes), and the prepare/run/read/time cycle.
 * kernels.cl holds the kernels, opencl_plan.c maps ops onto them,
 * opencl_net.c runs whole networks,
 * opencl_program.c builds, caches and tunes, opencl_char.c characterizes. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "targets/opencl/opencl.h"
#include "targets/targets_internal.h"

/* X(code, name): the codes of CL/cl.h (1.2) and the ICD loader's. */
// clang-format off
#define OCL_ERROR_MAP(X) \
  X(0, CL_SUCCESS) \
  X(-1, CL_DEVICE_NOT_FOUND) \
  X(-2, CL_DEVICE_NOT_AVAILABLE) \
  X(-3, CL_COMPILER_NOT_AVAILABLE) \
  X(-4, CL_MEM_OBJECT_ALLOCATION_FAILURE) \
  X(-5, CL_OUT_OF_RESOURCES) \
  X(-6, CL_OUT_OF_HOST_MEMORY) \
  X(-7, CL_PROFILING_INFO_NOT_AVAILABLE) \
  X(-8, CL_MEM_COPY_OVERLAP) \
  X(-9, CL_IMAGE_FORMAT_MISMATCH) \
  X(-10, CL_IMAGE_FORMAT_NOT_SUPPORTED) \
  X(-11, CL_BUILD_PROGRAM_FAILURE) \
  X(-12, CL_MAP_FAILURE) \
  X(-13, CL_MISALIGNED_SUB_BUFFER_OFFSET) \
  X(-14, CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) \
  X(-15, CL_COMPILE_PROGRAM_FAILURE) \
  X(-16, CL_LINKER_NOT_AVAILABLE) \
  X(-17, CL_LINK_PROGRAM_FAILURE) \
  X(-18, CL_DEVICE_PARTITION_FAILED) \
  X(-19, CL_KERNEL_ARG_INFO_NOT_AVAILABLE) \
  X(-30, CL_INVALID_VALUE) \
  X(-31, CL_INVALID_DEVICE_TYPE) \
  X(-32, CL_INVALID_PLATFORM) \
  X(-33, CL_INVALID_DEVICE) \
  X(-34, CL_INVALID_CONTEXT) \
  X(-35, CL_INVALID_QUEUE_PROPERTIES) \
  X(-36, CL_INVALID_COMMAND_QUEUE) \
  X(-37, CL_INVALID_HOST_PTR) \
  X(-38, CL_INVALID_MEM_OBJECT) \
  X(-39, CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) \
  X(-40, CL_INVALID_IMAGE_SIZE) \
  X(-41, CL_INVALID_SAMPLER) \
  X(-42, CL_INVALID_BINARY) \
  X(-43, CL_INVALID_BUILD_OPTIONS) \
  X(-44, CL_INVALID_PROGRAM) \
  X(-45, CL_INVALID_PROGRAM_EXECUTABLE) \
  X(-46, CL_INVALID_KERNEL_NAME) \
  X(-47, CL_INVALID_KERNEL_DEFINITION) \
  X(-48, CL_INVALID_KERNEL) \
  X(-49, CL_INVALID_ARG_INDEX) \
  X(-50, CL_INVALID_ARG_VALUE) \
  X(-51, CL_INVALID_ARG_SIZE) \
  X(-52, CL_INVALID_KERNEL_ARGS) \
  X(-53, CL_INVALID_WORK_DIMENSION) \
  X(-54, CL_INVALID_WORK_GROUP_SIZE) \
  X(-55, CL_INVALID_WORK_ITEM_SIZE) \
  X(-56, CL_INVALID_GLOBAL_OFFSET) \
  X(-57, CL_INVALID_EVENT_WAIT_LIST) \
  X(-58, CL_INVALID_EVENT) \
  X(-59, CL_INVALID_OPERATION) \
  X(-60, CL_INVALID_GL_OBJECT) \
  X(-61, CL_INVALID_BUFFER_SIZE) \
  X(-62, CL_INVALID_MIP_LEVEL) \
  X(-63, CL_INVALID_GLOBAL_WORK_SIZE) \
  X(-64, CL_INVALID_PROPERTY) \
  X(-65, CL_INVALID_IMAGE_DESCRIPTOR) \
  X(-66, CL_INVALID_COMPILER_OPTIONS) \
  X(-67, CL_INVALID_LINKER_OPTIONS) \
  X(-68, CL_INVALID_DEVICE_PARTITION_COUNT) \
  X(-69, CL_INVALID_PIPE_SIZE) \
  X(-70, CL_INVALID_DEVICE_QUEUE) \
  X(-1001, CL_PLATFORM_NOT_FOUND_KHR)
// clang-format on

const char *oc__cl_error_name(cl_int code) {
  switch (code) {
#define OCL_ERROR_CASE(value, name)                                                                \
  case value: return #name;
    OCL_ERROR_MAP(OCL_ERROR_CASE)
#undef OCL_ERROR_CASE
  default: return "unknown OpenCL error";
  }
}

enum oc_status oc__cl_status(cl_int code) {
  switch (code) {
  case CL_SUCCESS: return oc_status_ok;
  case CL_MEM_OBJECT_ALLOCATION_FAILURE:
  case CL_OUT_OF_HOST_MEMORY:
  case CL_INVALID_BUFFER_SIZE: return oc_status_out_of_memory;
  default: return oc_status_device_error;
  }
}

/* ---- discovery ------------------------------------------------------------ */

/* Most platforms and devices opcost looks at; more are ignored. */
#define OCL_MAX_PLATFORMS 16
#define OCL_MAX_DEVICES 32

static enum oc_status list_platforms(cl_platform_id *ids, cl_uint *count, char *why,
                                     size_t why_len) {
  cl_uint n = 0;
  cl_int err = clGetPlatformIDs(OCL_MAX_PLATFORMS, ids, &n);
  if (err != CL_SUCCESS || n == 0) {
    if (err == CL_SUCCESS) err = CL_PLATFORM_NOT_FOUND_KHR;
    oc__strfmt(why, why_len, "no OpenCL platform (clGetPlatformIDs returned %d %s)", (int)err,
               oc__cl_error_name(err));
    return oc_status_unavailable;
  }
  *count = n < OCL_MAX_PLATFORMS ? n : OCL_MAX_PLATFORMS;
  return oc_status_ok;
}

static cl_uint list_devices(cl_platform_id platform, cl_device_type type, cl_device_id *ids,
                            cl_int *err_out) {
  cl_uint n = 0;
  cl_int err = clGetDeviceIDs(platform, type, OCL_MAX_DEVICES, ids, &n);
  if (err_out) *err_out = err;
  if (err != CL_SUCCESS) return 0;
  return n < OCL_MAX_DEVICES ? n : OCL_MAX_DEVICES;
}

static void platform_string(cl_platform_id p, cl_platform_info what, char *buf, size_t size) {
  if (clGetPlatformInfo(p, what, size, buf, NULL) != CL_SUCCESS) oc__strcpy(buf, size, "?");
  buf[size - 1] = '\0';
}

static void device_string(cl_device_id d, cl_device_info what, char *buf, size_t size) {
  if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS) oc__strcpy(buf, size, "?");
  buf[size - 1] = '\0';
}

static enum oc_status opencl_probe(char *why, size_t why_len) {
  if (why_len > 0) why[0] = '\0';
  cl_platform_id platforms[OCL_MAX_PLATFORMS];
  cl_uint n_platforms = 0;
  enum oc_status st = list_platforms(platforms, &n_platforms, why, why_len);
  if (st != oc_status_ok) return st;
  cl_int last_err = CL_DEVICE_NOT_FOUND;
  for (cl_uint i = 0; i < n_platforms; i++) {
    cl_device_id devices[OCL_MAX_DEVICES];
    if (list_devices(platforms[i], CL_DEVICE_TYPE_ALL, devices, &last_err) > 0) return oc_status_ok;
  }
  oc__strfmt(why, why_len, "no OpenCL device (%u platform%s, clGetDeviceIDs returned %d %s)",
             (unsigned)n_platforms, n_platforms == 1 ? "" : "s", (int)last_err,
             oc__cl_error_name(last_err));
  return oc_status_unavailable;
}

/* ---- arguments ------------------------------------------------------------ */

static const char *const known_args = "platform, device, conv, cache, tune";

enum oc_status oc__opencl_parse_args(const char *args, struct ocl_state *s) {
  s->platform_index = -1;
  s->device_index = -1;
  s->conv = ocl_conv_auto;
  s->use_cache = true;
  s->tune = true;
  s->cache_dir[0] = '\0';
  if (args == NULL || args[0] == '\0') return oc_status_ok;
  const char *p = args;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char item[600];
    if (len >= sizeof item)
      return oc__fail(oc_status_invalid_argument, "argument '%.40s...' is too long", p);
    memcpy(item, p, len);
    item[len] = '\0';
    char *eq = strchr(item, '=');
    if (eq == NULL || eq == item)
      return oc__fail(oc_status_invalid_argument, "argument '%s': expected NAME=VALUE (known: %s)",
                      item, known_args);
    *eq = '\0';
    const char *name = item, *value = eq + 1;
    int64_t number = 0;
    if (strcmp(name, "platform") == 0 || strcmp(name, "device") == 0) {
      if (!oc__parse_i64(value, 0, OCL_MAX_DEVICES - 1, &number))
        return oc__fail(oc_status_invalid_argument,
                        "argument '%s': value '%s' is not an index from 0 to %d", name, value,
                        OCL_MAX_DEVICES - 1);
      if (name[0] == 'p')
        s->platform_index = (int)number;
      else
        s->device_index = (int)number;
    } else if (strcmp(name, "conv") == 0) {
      if (strcmp(value, "auto") == 0)
        s->conv = ocl_conv_auto;
      else if (strcmp(value, "direct") == 0)
        s->conv = ocl_conv_direct;
      else if (strcmp(value, "gemm") == 0)
        s->conv = ocl_conv_gemm;
      else
        return oc__fail(oc_status_invalid_argument,
                        "argument 'conv': value '%s' is not one of auto, direct, gemm", value);
    } else if (strcmp(name, "cache") == 0) {
      if (value[0] == '\0')
        return oc__fail(oc_status_invalid_argument,
                        "argument 'cache': empty value (a directory, or 'off')");
      if (strcmp(value, "off") == 0) {
        s->use_cache = false;
      } else if (!oc__strfmt(s->cache_dir, sizeof s->cache_dir, "%s", value)) {
        return oc__fail(oc_status_invalid_argument, "argument 'cache': directory '%s' is too long",
                        value);
      }
    } else if (strcmp(name, "tune") == 0) {
      if (strcmp(value, "on") == 0)
        s->tune = true;
      else if (strcmp(value, "off") == 0)
        s->tune = false;
      else
        return oc__fail(oc_status_invalid_argument,
                        "argument 'tune': value '%s' is not 'on' or 'off'", value);
    } else {
      return oc__fail(oc_status_invalid_argument, "unknown argument '%s' (known: %s)", name,
                      known_args);
    }
    p = end ? end + 1 : p + len;
  }
  return oc_status_ok;
}

/* ---- open / close ---------------------------------------------------------- */

/* The device the arguments name, or by default the first GPU of any
 * platform, else the first device of the first platform that has one. */
static enum oc_status select_device(struct ocl_state *s) {
  cl_platform_id platforms[OCL_MAX_PLATFORMS];
  cl_uint n_platforms = 0;
  char why[256];
  enum oc_status st = list_platforms(platforms, &n_platforms, why, sizeof why);
  if (st != oc_status_ok) return oc__fail(st, "%s", why);
  if (s->platform_index >= (int)n_platforms) {
    char names[256] = "";
    for (cl_uint i = 0; i < n_platforms; i++) {
      char pname[64];
      size_t used = strlen(names);
      platform_string(platforms[i], CL_PLATFORM_NAME, pname, sizeof pname);
      oc__strfmt(names + used, sizeof names - used, "%s%u '%s'", i ? ", " : "", (unsigned)i, pname);
    }
    return oc__fail(oc_status_invalid_argument,
                    "argument 'platform': value '%d' is out of range: %u platform%s (%s)",
                    s->platform_index, (unsigned)n_platforms, n_platforms == 1 ? "" : "s", names);
  }
  int pi = s->platform_index, di = s->device_index;
  cl_device_id devices[OCL_MAX_DEVICES];
  if (pi < 0 && di < 0) {
    for (cl_uint i = 0; i < n_platforms && pi < 0; i++) {
      if (list_devices(platforms[i], CL_DEVICE_TYPE_GPU, devices, NULL) == 0) continue;
      /* The index is among all devices of the platform: find the GPU's. */
      cl_uint n_all = list_devices(platforms[i], CL_DEVICE_TYPE_ALL, devices, NULL);
      for (cl_uint j = 0; j < n_all; j++) {
        cl_device_type type = 0;
        clGetDeviceInfo(devices[j], CL_DEVICE_TYPE, sizeof type, &type, NULL);
        if (type & CL_DEVICE_TYPE_GPU) {
          pi = (int)i;
          di = (int)j;
          break;
        }
      }
    }
  }
  if (pi < 0) {
    for (cl_uint i = 0; i < n_platforms; i++) {
      if (list_devices(platforms[i], CL_DEVICE_TYPE_ALL, devices, NULL) > 0) {
        pi = (int)i;
        break;
      }
    }
    if (pi < 0) return oc__fail(oc_status_unavailable, "no OpenCL device on any platform");
  }
  cl_int err = CL_SUCCESS;
  cl_uint n_devices = list_devices(platforms[pi], CL_DEVICE_TYPE_ALL, devices, &err);
  char pname[64];
  platform_string(platforms[pi], CL_PLATFORM_NAME, pname, sizeof pname);
  if (di < 0) di = 0;
  if (n_devices == 0)
    return oc__fail(oc_status_unavailable,
                    "platform %d '%s' has no device (clGetDeviceIDs returned %d %s)", pi, pname,
                    (int)err, oc__cl_error_name(err));
  if (di >= (int)n_devices) {
    char names[384] = "";
    for (cl_uint j = 0; j < n_devices; j++) {
      char dname[96];
      size_t used = strlen(names);
      device_string(devices[j], CL_DEVICE_NAME, dname, sizeof dname);
      oc__strfmt(names + used, sizeof names - used, "%s%u '%s'", j ? ", " : "", (unsigned)j, dname);
    }
    return oc__fail(oc_status_invalid_argument,
                    "argument 'device': value '%d' is out of range: platform %d '%s' has %u "
                    "device%s (%s)",
                    di, pi, pname, (unsigned)n_devices, n_devices == 1 ? "" : "s", names);
  }
  s->platform = platforms[pi];
  s->device = devices[di];
  s->platform_index = pi;
  s->device_index = di;
  return oc_status_ok;
}

static void query_device(struct ocl_state *s) {
  platform_string(s->platform, CL_PLATFORM_NAME, s->platform_name, sizeof s->platform_name);
  platform_string(s->platform, CL_PLATFORM_VERSION, s->platform_version,
                  sizeof s->platform_version);
  device_string(s->device, CL_DEVICE_NAME, s->device_name, sizeof s->device_name);
  device_string(s->device, CL_DEVICE_VENDOR, s->device_vendor, sizeof s->device_vendor);
  device_string(s->device, CL_DEVICE_VERSION, s->device_version, sizeof s->device_version);
  device_string(s->device, CL_DRIVER_VERSION, s->driver_version, sizeof s->driver_version);
  clGetDeviceInfo(s->device, CL_DEVICE_TYPE, sizeof s->device_type, &s->device_type, NULL);
  clGetDeviceInfo(s->device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof s->compute_units,
                  &s->compute_units, NULL);
  clGetDeviceInfo(s->device, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof s->clock_mhz, &s->clock_mhz,
                  NULL);
  clGetDeviceInfo(s->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof s->max_work_group,
                  &s->max_work_group, NULL);
  clGetDeviceInfo(s->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof s->max_item_sizes,
                  s->max_item_sizes, NULL);
  clGetDeviceInfo(s->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof s->max_alloc_bytes,
                  &s->max_alloc_bytes, NULL);
  clGetDeviceInfo(s->device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof s->global_mem_bytes,
                  &s->global_mem_bytes, NULL);
  clGetDeviceInfo(s->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof s->local_mem_bytes,
                  &s->local_mem_bytes, NULL);
  clGetDeviceInfo(s->device, CL_DEVICE_PROFILING_TIMER_RESOLUTION, sizeof s->timer_resolution_ns,
                  &s->timer_resolution_ns, NULL);
  if (s->max_work_group == 0) s->max_work_group = 1;
  for (int i = 0; i < 3; i++)
    if (s->max_item_sizes[i] == 0) s->max_item_sizes[i] = 1;
  if (s->timer_resolution_ns == 0) s->timer_resolution_ns = 1;
}

static void close_state(struct ocl_state *s) {
  if (s == NULL) return;
  if (s->program) clReleaseProgram(s->program);
  if (s->queue) clReleaseCommandQueue(s->queue);
  if (s->context) clReleaseContext(s->context);
  free(s);
}

/* Shared by the vtable's open and by oc__opencl_characterize. */
static enum oc_status open_state(const char *args, struct ocl_state **out) {
  enum oc_status st = oc_status_ok;
  cl_int err = CL_SUCCESS;
  struct ocl_state *s = calloc(1, sizeof *s);
  if (s == NULL) return oc__fail(oc_status_out_of_memory, "opencl: out of memory");
  st = oc__opencl_parse_args(args, s);
  if (st != oc_status_ok) goto fail;
  st = select_device(s);
  if (st != oc_status_ok) goto fail;
  query_device(s);
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)s->platform, 0};
  s->context = clCreateContext(props, 1, &s->device, NULL, NULL, &err);
  if (s->context == NULL || err != CL_SUCCESS) {
    st = oc__fail(oc__cl_status(err), "device '%s': clCreateContext returned %d %s", s->device_name,
                  (int)err, oc__cl_error_name(err));
    goto fail;
  }
  /* clCreateCommandQueue is deprecated from 2.0 but is the one call that
   * works on every 1.2 device (most mobile GPUs). */
  s->queue = clCreateCommandQueue(s->context, s->device, CL_QUEUE_PROFILING_ENABLE, &err);
  if (s->queue == NULL || err != CL_SUCCESS) {
    st = oc__fail(oc__cl_status(err),
                  "device '%s': clCreateCommandQueue(CL_QUEUE_PROFILING_ENABLE) returned %d %s",
                  s->device_name, (int)err, oc__cl_error_name(err));
    goto fail;
  }
  st = oc__opencl_load_program(s);
  if (st != oc_status_ok) goto fail;
  *out = s;
  return oc_status_ok;
fail:
  close_state(s);
  return st;
}

static enum oc_status opencl_open(const char *args, const struct oc_target_opts *opts,
                                  void **state) {
  (void)opts; /* one queue; threads and pinning are refused by the wrappers */
  struct ocl_state *s = NULL;
  enum oc_status st = open_state(args, &s);
  if (st == oc_status_ok) *state = s;
  return st;
}

static void opencl_close(void *state) { close_state(state); }

static const char *device_type_name(cl_device_type type) {
  if (type & CL_DEVICE_TYPE_GPU) return "gpu";
  if (type & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  if (type & CL_DEVICE_TYPE_CPU) return "cpu";
  return "other";
}

static enum oc_status opencl_describe(void *state, struct oc_device_info *info) {
  struct ocl_state *s = state;
  oc__strcpy(info->name, sizeof info->name, s->device_name);
  oc__strcpy(info->vendor, sizeof info->vendor, s->device_vendor);
  oc__strfmt(info->arch, sizeof info->arch, "opencl-%s", device_type_name(s->device_type));
  oc__strfmt(info->isa, sizeof info->isa, "%s; compute-units=%u; clock=%u MHz; max-wg=%zu",
             s->device_version, (unsigned)s->compute_units, (unsigned)s->clock_mhz,
             s->max_work_group);
  oc__strfmt(info->runtime, sizeof info->runtime, "%s; driver %s", s->platform_version,
             s->driver_version);
  info->cores_logical = (int32_t)s->compute_units;
  info->cores_physical = (int32_t)s->compute_units;
  info->threads = 1;
  cl_ulong cache = 0;
  if (clGetDeviceInfo(s->device, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE, sizeof cache, &cache, NULL) ==
      CL_SUCCESS)
    info->l2_bytes = (int64_t)cache;
  info->memory_bytes = (int64_t)s->global_mem_bytes;
  return oc_status_ok;
}

bool oc__opencl_supports(void *state, const struct oc_op *op, char *why, size_t why_len) {
  (void)state;
  /* Kernels index with int: every tensor must have fewer than 2^31 elements. */
  return oc__target_f32_int_indexed("opencl", "kernels", op, why, why_len);
}

static enum oc_status opencl_prepare(void *state, const struct oc_op *op,
                                     const struct oc_tensors *tensors, void **kernel) {
  struct ocl_state *s = state;
  if (tensors == NULL || tensors->output == NULL)
    return oc__fail(oc_status_invalid_argument, "opencl: output buffer is NULL");
  struct ocl_kernel *k = calloc(1, sizeof *k);
  if (k == NULL) return oc__fail(oc_status_out_of_memory, "opencl: out of memory for a kernel");
  enum oc_status st = oc__opencl_plan(s, op, tensors, k);
  if (st != oc_status_ok) {
    oc__opencl_kernel_free(k);
    return st;
  }
  *kernel = k;
  return oc_status_ok;
}

static enum oc_status finish(struct ocl_state *s, struct ocl_kernel *k, const char *what) {
  cl_int err = clFinish(s->queue);
  if (err != CL_SUCCESS)
    return oc__fail(oc__cl_status(err),
                    "op '%s' on device '%s': %s: clFinish returned %d %s (the device faulted, "
                    "ran out of resources or was lost)",
                    k->key, s->device_name, what, (int)err, oc__cl_error_name(err));
  return oc_status_ok;
}

static enum oc_status opencl_run(void *state, void *kernel) {
  struct ocl_state *s = state;
  struct ocl_kernel *k = kernel;
  enum oc_status st = oc__opencl_enqueue(s, k, NULL);
  if (st != oc_status_ok) return st;
  return finish(s, k, "run");
}

static enum oc_status opencl_read_output(void *state, void *kernel) {
  struct ocl_state *s = state;
  struct ocl_kernel *k = kernel;
  if (k->host_output == NULL) return oc_status_ok; /* planned without host buffers (tuner) */
  cl_int err = clEnqueueReadBuffer(s->queue, k->output, CL_TRUE, 0, k->output_bytes, k->host_output,
                                   0, NULL, NULL);
  if (err != CL_SUCCESS)
    return oc__fail(oc__cl_status(err),
                    "op '%s' on device '%s': reading the output (%zu bytes): "
                    "clEnqueueReadBuffer returned %d %s",
                    k->key, s->device_name, k->output_bytes, (int)err, oc__cl_error_name(err));
  return oc_status_ok;
}

enum oc_status oc__opencl_profile_span(uint64_t start, uint64_t end, uint64_t resolution_ns,
                                       double *ns) {
  uint64_t span;
  if (start == 0 && end == 0)
    return oc__fail(oc_status_device_error, "the driver returned zero profiling timestamps");
  if (end >= start) {
    span = end - start;
  } else if (start <= UINT32_MAX && end <= UINT32_MAX) {
    span = end + (UINT64_C(1) << 32) - start; /* a 32-bit counter wrapped */
  } else {
    return oc__fail(oc_status_device_error, "profiling END %llu precedes START %llu",
                    (unsigned long long)end, (unsigned long long)start);
  }
  if (span == 0) span = resolution_ns ? resolution_ns : 1;
  *ns = (double)span;
  return oc_status_ok;
}

enum oc_status oc__opencl_event_span_ns(const struct ocl_state *s, cl_event first, cl_event last,
                                        const char *what, double *ns) {
  cl_ulong start = 0, end = 0;
  cl_int err =
      clGetEventProfilingInfo(first, CL_PROFILING_COMMAND_START, sizeof start, &start, NULL);
  if (err == CL_SUCCESS)
    err = clGetEventProfilingInfo(last, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
  if (err != CL_SUCCESS)
    return oc__fail(oc__cl_status(err), "%s on device '%s': clGetEventProfilingInfo returned %d %s",
                    what, s->device_name, (int)err, oc__cl_error_name(err));
  enum oc_status st = oc__opencl_profile_span(start, end, s->timer_resolution_ns, ns);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s on device '%s': ", what, s->device_name);
  return oc_status_ok;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

enum oc_status oc__opencl_time_runs_host(struct ocl_state *s, struct ocl_kernel *k, int runs,
                                         double *device_us, double *host_us) {
  enum oc_status st = oc_status_ok;
  cl_event events[OCL_MAX_STEPS] = {NULL};
  for (int r = 0; r < runs && st == oc_status_ok; r++) {
    double t0 = now_us();
    st = oc__opencl_enqueue(s, k, events);
    if (st == oc_status_ok) st = finish(s, k, "timed run");
    double t1 = now_us();
    if (st == oc_status_ok) {
      double ns = 0;
      char what[OC_KEY_MAX + 16];
      oc__strfmt(what, sizeof what, "op '%s'", k->key);
      st = oc__opencl_event_span_ns(s, events[0], events[k->n_steps - 1], what, &ns);
      device_us[r] = ns / 1e3;
      if (host_us) host_us[r] = t1 - t0;
    }
    for (int i = 0; i < OCL_MAX_STEPS; i++) {
      if (events[i]) clReleaseEvent(events[i]);
      events[i] = NULL;
    }
  }
  return st;
}

static enum oc_status opencl_time_runs(void *state, void *kernel, int runs, double *device_us) {
  return oc__opencl_time_runs_host(state, kernel, runs, device_us, NULL);
}

static void opencl_release(void *state, void *kernel) {
  (void)state;
  oc__opencl_kernel_free(kernel);
}

/* ---- characterization ------------------------------------------------------ */

enum oc_status oc__opencl_characterize(const char *args, bool quick,
                                       struct oc__opencl_characteristics *out) {
  char why[256];
  memset(out, 0, sizeof *out);
  enum oc_status st = opencl_probe(why, sizeof why);
  if (st != oc_status_ok) return oc__fail(st, "%s", why);
  struct ocl_state *s = NULL;
  st = open_state(args, &s);
  if (st != oc_status_ok) return st;
  st = oc__opencl_characterize_state(s, quick, out);
  close_state(s);
  return st;
}

const struct oc_target_vtab oc_target_opencl = {
    .abi_version = OC_TARGET_ABI_VERSION,
    .name = "opencl",
    .summary = "OpenCL 1.2+ devices (mobile GPUs; PoCL on CPUs) with event-profiling timers",
    .caps = oc_cap_device_timer | oc_cap_networks,
    .probe = opencl_probe,
    .open = opencl_open,
    .close = opencl_close,
    .describe = opencl_describe,
    .supports = oc__opencl_supports,
    .prepare = opencl_prepare,
    .run = opencl_run,
    .read_output = opencl_read_output,
    .time_runs = opencl_time_runs,
    .release = opencl_release,
    .prepare_net = oc__opencl_prepare_net,
    .run_net = oc__opencl_run_net,
    .read_net_output = oc__opencl_read_net_output,
    .release_net = oc__opencl_release_net,
};
