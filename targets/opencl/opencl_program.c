/* opencl_program.c - the program of kernels.cl on one device: building it
 * (with the build log in the message when the compiler refuses it), caching
 * the device binary (clGetProgramInfo(CL_PROGRAM_BINARIES)) and the tuner's
 * work-group sizes on disk, and the tuner itself.
 *
 * Why a cache: compiling kernels.cl takes seconds on PoCL and on some mobile
 * drivers, and tuning takes longer; both depend only on the device, the
 * driver and the source, so they are done once per machine. The cache key
 * hashes platform, device and driver names and versions, the kernel source
 * and the build options; the files live in $XDG_CACHE_HOME/opcost (else
 * ~/.cache/opcost, or the `cache=DIR` argument). Files are written to a
 * temporary name and renamed, so concurrent opens never read half a file;
 * a file that cannot be read, parsed or loaded is rebuilt, never an error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "targets/opencl/opencl.h"

/* kernels.cl, embedded by the build (opencl_kernels_cl.c, generated). */
extern const unsigned char oc__opencl_kernels_source[];
#define KERNELS_SOURCE ((const char *)oc__opencl_kernels_source)

/* Bumped when the cache files change meaning. */
#define OCL_CACHE_VERSION "opcost-opencl-cache/1"
/* Largest program binary read back (PoCL's are a few MiB). */
#define OCL_CACHE_MAX_BYTES ((long)256 << 20)
/* Longest build log kept in a message (the first error is at the top). */
#define OCL_BUILD_LOG_MAX 640

void oc__opencl_build_options(char *buf, size_t size) {
  size_t used = 0;
  oc__strfmt(buf, size, "-cl-std=CL1.2");
  for (int a = 0; a < oc_act__count; a++) {
    used = strlen(buf);
    oc__strfmt(buf + used, size - used, " -DOC_ACT_%s=%d", oc_act_name((enum oc_act)a), a);
  }
}

enum oc_status oc__opencl_build(struct ocl_state *s, const char *source, const char *options,
                                cl_program *out) {
  cl_int err = CL_SUCCESS;
  cl_program program = clCreateProgramWithSource(s->context, 1, &source, NULL, &err);
  if (program == NULL || err != CL_SUCCESS)
    return oc__fail(oc__cl_status(err), "device '%s': clCreateProgramWithSource returned %d %s",
                    s->device_name, (int)err, oc__cl_error_name(err));
  err = clBuildProgram(program, 1, &s->device, options, NULL, NULL);
  if (err != CL_SUCCESS) {
    char log[OCL_BUILD_LOG_MAX + 1] = "";
    size_t log_size = 0;
    clGetProgramBuildInfo(program, s->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size);
    char *full = log_size > 0 ? malloc(log_size + 1) : NULL;
    if (full != NULL && clGetProgramBuildInfo(program, s->device, CL_PROGRAM_BUILD_LOG, log_size,
                                              full, NULL) == CL_SUCCESS) {
      full[log_size] = '\0';
      oc__strcpy(log, sizeof log, full);
    }
    free(full);
    clReleaseProgram(program);
    /* One line: newlines of the log become " | ". */
    char flat[3 * OCL_BUILD_LOG_MAX + 1];
    size_t j = 0;
    for (size_t i = 0; log[i] && j + 4 < sizeof flat; i++) {
      if (log[i] == '\n') {
        if (log[i + 1] == '\0') break;
        memcpy(flat + j, " | ", 3);
        j += 3;
      } else {
        flat[j++] = log[i];
      }
    }
    flat[j] = '\0';
    return oc__fail(oc_status_device_error,
                    "building the kernels for device '%s' failed: clBuildProgram returned %d %s; "
                    "build log: %s",
                    s->device_name, (int)err, oc__cl_error_name(err), flat[0] ? flat : "(empty)");
  }
  *out = program;
  return oc_status_ok;
}

/* ---- cache files ----------------------------------------------------------- */

/* The cache directory, created if needed; false when there is none. */
static bool cache_dir(const struct ocl_state *s, char *dir, size_t size) {
  return s->use_cache && oc__cache_dir(s->cache_dir, dir, size);
}

static uint64_t cache_key(const struct ocl_state *s, const char *options) {
  const char *parts[] = {OCL_CACHE_VERSION, s->platform_name,  s->platform_version,
                         s->device_name,    s->device_version, s->driver_version,
                         options,           KERNELS_SOURCE};
  uint64_t h = OC__HASH_SEED;
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    h = oc__hash64_str(h, parts[i]);
    h = oc__hash64(h, "\n", 1);
  }
  return h;
}

static bool load_binary(struct ocl_state *s, const char *path, const char *options) {
  size_t size = 0;
  unsigned char *bin = oc__read_file(path, OCL_CACHE_MAX_BYTES, &size);
  if (bin == NULL) return false;
  cl_int err = CL_SUCCESS, bin_status = CL_SUCCESS;
  const unsigned char *bins[1] = {bin};
  cl_program program =
      clCreateProgramWithBinary(s->context, 1, &s->device, &size, bins, &bin_status, &err);
  free(bin);
  if (program == NULL || err != CL_SUCCESS || bin_status != CL_SUCCESS) {
    if (program) clReleaseProgram(program);
    return false;
  }
  if (clBuildProgram(program, 1, &s->device, options, NULL, NULL) != CL_SUCCESS) {
    clReleaseProgram(program);
    return false;
  }
  s->program = program;
  return true;
}

static void save_binary(const struct ocl_state *s, const char *path) {
  size_t size = 0;
  if (clGetProgramInfo(s->program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) !=
          CL_SUCCESS ||
      size == 0)
    return;
  unsigned char *bin = malloc(size);
  if (bin == NULL) return;
  unsigned char *bins[1] = {bin};
  if (clGetProgramInfo(s->program, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS)
    oc__write_file_atomic(path, bin, size);
  free(bin);
}

/* The tuning file: "opcost-opencl-tuning 1" then one "name values" a line. */
static bool parse_tuning(const char *text, struct ocl_tuning *t) {
  unsigned long long v[2];
  int found = 0;
  const char *line = text;
  if (strncmp(line, "opcost-opencl-tuning 1\n", 23) != 0) return false;
  while ((line = strchr(line, '\n')) != NULL) {
    line++;
    if (sscanf(line, "gemm_tiled %llu", &v[0]) == 1) {
      t->gemm_tiled = v[0] != 0;
      found |= 1;
    } else if (sscanf(line, "gemm_local %llu %llu", &v[0], &v[1]) == 2) {
      t->gemm_local[0] = (size_t)v[0];
      t->gemm_local[1] = (size_t)v[1];
      found |= 2;
    } else if (sscanf(line, "img_local %llu %llu", &v[0], &v[1]) == 2) {
      t->img_local[0] = (size_t)v[0];
      t->img_local[1] = (size_t)v[1];
      found |= 4;
    } else if (sscanf(line, "dw_local %llu %llu", &v[0], &v[1]) == 2) {
      t->dw_local[0] = (size_t)v[0];
      t->dw_local[1] = (size_t)v[1];
      found |= 8;
    } else if (sscanf(line, "ew_local %llu", &v[0]) == 1) {
      t->ew_local = (size_t)v[0];
      found |= 16;
    } else if (sscanf(line, "rows_local %llu", &v[0]) == 1) {
      t->rows_local = (size_t)v[0];
      found |= 32;
    }
  }
  return found == 63;
}

static void save_tuning(const char *path, const struct ocl_tuning *t) {
  char text[512];
  if (oc__strfmt(text, sizeof text,
                 "opcost-opencl-tuning 1\ngemm_tiled %d\ngemm_local %zu %zu\nimg_local %zu %zu\n"
                 "dw_local %zu %zu\new_local %zu\nrows_local %zu\n",
                 t->gemm_tiled, t->gemm_local[0], t->gemm_local[1], t->img_local[0],
                 t->img_local[1], t->dw_local[0], t->dw_local[1], t->ew_local, t->rows_local))
    oc__write_file_atomic(path, text, strlen(text));
}

enum oc_status oc__opencl_load_program(struct ocl_state *s) {
  char options[512], dir[512], bin_path[600] = "", tune_path[600] = "";
  oc__opencl_build_options(options, sizeof options);
  s->cache_key = cache_key(s, options);
  s->program_from_cache = false;
  s->tuning_from_cache = false;
  bool cached = cache_dir(s, dir, sizeof dir);
  if (cached) {
    cached = oc__strfmt(bin_path, sizeof bin_path, "%s/opencl-%016llx.bin", dir,
                        (unsigned long long)s->cache_key) &&
             oc__strfmt(tune_path, sizeof tune_path, "%s/opencl-%016llx.tune", dir,
                        (unsigned long long)s->cache_key);
  }
  if (cached && load_binary(s, bin_path, options)) {
    s->program_from_cache = true;
  } else {
    enum oc_status st = oc__opencl_build(s, KERNELS_SOURCE, options, &s->program);
    if (st != oc_status_ok) return st;
    if (cached) save_binary(s, bin_path);
  }

  oc__opencl_default_tuning(s, &s->tuning);
  if (!s->tune) return oc_status_ok;
  size_t size = 0;
  char *text = cached ? oc__read_file(tune_path, OCL_CACHE_MAX_BYTES, &size) : NULL;
  struct ocl_tuning t = s->tuning;
  if (text != NULL && parse_tuning(text, &t)) {
    s->tuning = t;
    s->tuning_from_cache = true;
    free(text);
    return oc_status_ok;
  }
  free(text);
  enum oc_status st = oc__opencl_tune(s, &t);
  if (st != oc_status_ok) return st;
  s->tuning = t;
  if (cached) save_tuning(tune_path, &t);
  return oc_status_ok;
}

/* ---- tuner ----------------------------------------------------------------- */

static size_t clamp_group(const struct ocl_state *s, size_t n) {
  return n > s->max_work_group ? s->max_work_group : n;
}

void oc__opencl_default_tuning(const struct ocl_state *s, struct ocl_tuning *t) {
  memset(t, 0, sizeof *t);
  t->gemm_tiled = 0;
  t->gemm_local[0] = 8;
  t->gemm_local[1] = s->max_work_group >= 64 ? 8 : 1;
  t->img_local[0] = clamp_group(s, 32);
  t->img_local[1] = s->max_work_group >= 64 ? 2 : 1;
  t->dw_local[0] = t->img_local[0];
  t->dw_local[1] = t->img_local[1];
  t->ew_local = clamp_group(s, 64);
  t->rows_local = clamp_group(s, 64);
}

/* Device time of op as planned with s->tuning: one untimed run (which also
 * makes drivers such as PoCL compile the kernel for this work-group size),
 * then the median of 3 timed runs, or 1 when a run takes longer than
 * TUNE_LONG_US (CPU devices: the ranking is clear and time is short). */
#define TUNE_LONG_US 20000.0
static enum oc_status time_op(struct ocl_state *s, const struct oc_op *op, double *us) {
  struct ocl_kernel *k = calloc(1, sizeof *k);
  if (k == NULL) return oc__fail(oc_status_out_of_memory, "opencl tuner: out of memory");
  double t[3] = {0, 0, 0};
  enum oc_status st = oc__opencl_plan(s, op, NULL, k);
  if (st == oc_status_ok) st = oc__opencl_time_runs_host(s, k, 1, t, NULL);
  const int runs = t[0] > TUNE_LONG_US ? 1 : 3;
  if (st == oc_status_ok) st = oc__opencl_time_runs_host(s, k, runs, t, NULL);
  oc__opencl_kernel_free(k);
  if (st != oc_status_ok) return st;
  if (runs == 1) {
    *us = t[0];
    return oc_status_ok;
  }
  double lo = t[0] < t[1] ? t[0] : t[1], hi = t[0] < t[1] ? t[1] : t[0];
  *us = t[2] < lo ? lo : (t[2] > hi ? hi : t[2]);
  return oc_status_ok;
}

struct family {
  const char *name;
  const char *key;  /* the representative op */
  int n_candidates; /* each candidate: two sizes (1-D families use the first) */
  size_t candidates[8][2];
  int tiled_from; /* gemm: candidates from this index are gemm_tiled (T, T) */
};

static const struct family families[] = {
    {"gemm",
     "fc.f32 m=128 cin=128 cout=128 act=none",
     7,
     {{8, 8}, {16, 16}, {16, 4}, {4, 16}, {32, 4}, {8, 8}, {16, 16}},
     5},
    {"img",
     "conv2d.f32 h=14 w=14 cin=32 cout=32 k=3 s=1 g=1 d=1 act=none",
     6,
     {{0, 0}, {32, 1}, {32, 2}, {16, 4}, {8, 8}, {64, 1}},
     -1},
    {"dw",
     "conv2d.f32 h=28 w=28 cin=64 cout=64 k=3 s=1 g=64 d=1 act=none",
     6,
     {{0, 0}, {32, 1}, {32, 2}, {16, 4}, {8, 8}, {64, 1}},
     -1},
    {"ew",
     "act.f32 h=32 w=64 c=64 act=relu",
     5,
     {{0, 0}, {32, 0}, {64, 0}, {128, 0}, {256, 0}},
     -1},
    {"rows", "softmax.f32 h=1 w=196 c=384", 4, {{32, 0}, {64, 0}, {128, 0}, {256, 0}}, -1},
};

static void apply(struct ocl_tuning *t, int family, const struct family *f, int i) {
  const size_t *c = f->candidates[i];
  switch (family) {
  case 0:
    t->gemm_tiled = f->tiled_from >= 0 && i >= f->tiled_from;
    t->gemm_local[0] = c[0];
    t->gemm_local[1] = c[1];
    break;
  case 1:
    t->img_local[0] = c[0];
    t->img_local[1] = c[1];
    break;
  case 2:
    t->dw_local[0] = c[0];
    t->dw_local[1] = c[1];
    break;
  case 3: t->ew_local = c[0]; break;
  default: t->rows_local = c[0]; break;
  }
}

enum oc_status oc__opencl_tune(struct ocl_state *s, struct ocl_tuning *out) {
  const enum ocl_conv_algo conv = s->conv;
  struct ocl_tuning saved = s->tuning;
  struct ocl_tuning best_tuning = s->tuning;
  enum oc_status st = oc_status_ok;
  s->conv = ocl_conv_direct; /* the img family times the direct kernel */
  for (int fi = 0; fi < (int)(sizeof families / sizeof families[0]); fi++) {
    const struct family *f = &families[fi];
    struct oc_op op;
    st = oc_op_parse(f->key, &op);
    if (st != oc_status_ok) break;
    if (fi == 2) s->conv = ocl_conv_auto; /* depthwise kernel */
    double best = -1;
    for (int i = 0; i < f->n_candidates; i++) {
      const size_t *c = f->candidates[i];
      if (c[0] * (c[1] ? c[1] : 1) > s->max_work_group) continue;
      s->tuning = best_tuning;
      apply(&s->tuning, fi, f, i);
      double us = 0;
      /* A size this device refuses is skipped, not an error. */
      if (time_op(s, &op, &us) != oc_status_ok) continue;
      if (best < 0 || us < best) {
        best = us;
        apply(&best_tuning, fi, f, i);
      }
    }
  }
  s->conv = conv;
  s->tuning = saved;
  if (st != oc_status_ok) return st;
  oc_errclear(); /* the messages of skipped candidates */
  *out = best_tuning;
  return oc_status_ok;
}
