/* opencl_plan.c - maps one op of ops/ops.def onto kernels.cl: which kernels
 * (one, or im2col then GEMM), their device buffers (filled from the host
 * tensors once, here), their arguments and their global and local sizes
 * (from the device's tuning). Everything is decided at prepare time so that
 * a run is only enqueues. Device memory limits are checked before anything
 * is allocated, so an op too large for the device fails with a message
 * naming the op, the buffer and the device.
 *
 * A single op owns its buffers (oc__opencl_plan fills them from the host
 * tensors); an op of a whole network (opencl_net.c) is planned the same way
 * on buffers the network owns (oc__opencl_plan_bound), and the network's
 * data moves use the gather3 kernel (oc__opencl_plan_gather). */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "targets/opencl/opencl.h"
#include "targets/ref/ref.h"

static const char *const kernel_names[] = {
#define OCL_KERNEL_NAME(name) #name,
    OCL_KERNEL_MAP(OCL_KERNEL_NAME)
#undef OCL_KERNEL_NAME
};

/* auto: im2col while the column matrix stays under this many bytes. */
#define OCL_IM2COL_MAX_BYTES ((size_t)64 << 20)

void oc__opencl_kernel_free(struct ocl_kernel *k) {
  if (k == NULL) return;
  for (int i = 0; i < k->n_steps; i++)
    if (k->steps[i].kernel) clReleaseKernel(k->steps[i].kernel);
  for (int i = 0; i < k->n_buffers; i++)
    if (k->buffers[i]) clReleaseMemObject(k->buffers[i]);
  free(k);
}

/* Messages of prepare-time failures name the device; the wrappers of
 * target.c put the op's key in front. Run-time ones name the op too. */
static enum oc_status cl_fail(const struct ocl_state *s, const struct ocl_kernel *k, cl_int err,
                              const char *what) {
  (void)k;
  return oc__fail(oc__cl_status(err), "device '%s': %s returned %d %s", s->device_name, what,
                  (int)err, oc__cl_error_name(err));
}

/* A device buffer of bytes, filled from host (NULL: zeros). */
static enum oc_status new_buffer(struct ocl_state *s, struct ocl_kernel *k, size_t bytes,
                                 const void *host, const char *what, cl_mem *out) {
  if (bytes == 0) bytes = sizeof(float);
  if (k->n_buffers >= OCL_MAX_BUFFERS)
    return oc__fail(oc_status_internal, "more than %d buffers", OCL_MAX_BUFFERS);
  if ((cl_ulong)bytes > s->max_alloc_bytes)
    return oc__fail(oc_status_out_of_memory,
                    "device '%s': the %s needs %zu bytes; the device allocates at most %llu "
                    "bytes a buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                    s->device_name, what, bytes, (unsigned long long)s->max_alloc_bytes);
  cl_int err = CL_SUCCESS;
  cl_mem mem = clCreateBuffer(s->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
  if (mem == NULL || err != CL_SUCCESS) {
    char call[96];
    oc__strfmt(call, sizeof call, "allocating the %s (%zu bytes): clCreateBuffer", what, bytes);
    return cl_fail(s, k, err, call);
  }
  k->buffers[k->n_buffers++] = mem;
  if (host != NULL) {
    err = clEnqueueWriteBuffer(s->queue, mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
  } else {
    const float zero = 0.0f;
    err = clEnqueueFillBuffer(s->queue, mem, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
  }
  if (err != CL_SUCCESS) {
    char call[96];
    oc__strfmt(call, sizeof call, "filling the %s (%zu bytes)", what, bytes);
    return cl_fail(s, k, err, call);
  }
  *out = mem;
  return oc_status_ok;
}

/* Kernel arguments, set in order; the first failure is kept. */
struct args {
  cl_kernel kernel;
  cl_uint next;
  cl_int err;
};

static void arg_raw(struct args *a, size_t size, const void *value) {
  if (a->err == CL_SUCCESS) a->err = clSetKernelArg(a->kernel, a->next, size, value);
  a->next++;
}
static void arg_mem(struct args *a, cl_mem mem) { arg_raw(a, sizeof mem, &mem); }
static void arg_int(struct args *a, int64_t value) {
  cl_int v = (cl_int)value;
  arg_raw(a, sizeof v, &v);
}
static void arg_float(struct args *a, double value) {
  cl_float v = (cl_float)value;
  arg_raw(a, sizeof v, &v);
}
static void arg_local(struct args *a, size_t bytes) { arg_raw(a, bytes, NULL); }

static enum oc_status new_step(struct ocl_state *s, struct ocl_kernel *k, enum ocl_kernel_id id,
                               struct args *a) {
  if (k->n_steps >= OCL_MAX_STEPS)
    return oc__fail(oc_status_internal, "more than %d steps", OCL_MAX_STEPS);
  cl_int err = CL_SUCCESS;
  cl_kernel kernel = clCreateKernel(s->program, kernel_names[id], &err);
  if (kernel == NULL || err != CL_SUCCESS) {
    char call[96];
    oc__strfmt(call, sizeof call, "clCreateKernel(%s)", kernel_names[id]);
    return cl_fail(s, k, err, call);
  }
  k->steps[k->n_steps++].kernel = kernel;
  a->kernel = kernel;
  a->next = 0;
  a->err = CL_SUCCESS;
  return oc_status_ok;
}

static enum oc_status args_done(const struct ocl_state *s, const struct ocl_kernel *k,
                                const struct args *a) {
  if (a->err != CL_SUCCESS) {
    char call[64];
    oc__strfmt(call, sizeof call, "clSetKernelArg(%u)", (unsigned)(a->next - 1));
    return cl_fail(s, k, a->err, call);
  }
  return oc_status_ok;
}

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

static size_t kernel_max_group(const struct ocl_state *s, cl_kernel kernel) {
  size_t max = 0;
  if (clGetKernelWorkGroupInfo(kernel, s->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof max, &max,
                               NULL) != CL_SUCCESS ||
      max == 0)
    max = s->max_work_group;
  return max;
}

/* Sets the range of the last step: n items in each of dims dimensions,
 * local sizes (0 in any: the driver chooses) clamped to what the device and
 * this kernel allow, the global size rounded up to whole groups. */
static void set_range(const struct ocl_state *s, struct ocl_kernel *k, cl_uint dims,
                      const size_t n[3], const size_t local[3]) {
  struct ocl_step *st = &k->steps[k->n_steps - 1];
  st->dims = dims;
  st->has_local = true;
  size_t l[3] = {1, 1, 1};
  for (cl_uint i = 0; i < dims; i++) {
    l[i] = local[i];
    if (l[i] == 0) st->has_local = false;
    if (l[i] > s->max_item_sizes[i]) l[i] = s->max_item_sizes[i];
  }
  size_t max = kernel_max_group(s, st->kernel);
  while (st->has_local && l[0] * l[1] * l[2] > max) {
    int big = 0;
    for (int i = 1; i < 3; i++)
      if (l[i] > l[big]) big = i;
    l[big] /= 2;
  }
  for (cl_uint i = 0; i < dims; i++) {
    size_t count = n[i] ? n[i] : 1;
    st->local[i] = st->has_local ? l[i] : 0;
    st->global[i] = st->has_local ? round_up(count, l[i]) : count;
  }
}

static int32_t pow2_at_least(int32_t n) {
  int32_t p = 1;
  while (p < n && p < (1 << 30)) p *= 2;
  return p;
}

/* C = A x B(+bias, act); see kernels.cl. */
static enum oc_status plan_gemm(struct ocl_state *s, struct ocl_kernel *k, cl_mem A, cl_mem B,
                                cl_mem bias, cl_mem C, int32_t M, int32_t N, int32_t K,
                                int32_t batch, int tb, enum oc_act act) {
  struct args a;
  size_t T = s->tuning.gemm_local[0];
  bool tiled = s->tuning.gemm_tiled && T > 0 && T == s->tuning.gemm_local[1] &&
               T <= s->max_item_sizes[0] && T <= s->max_item_sizes[1] &&
               2 * T * T * sizeof(float) <= s->local_mem_bytes;
  enum oc_status st = new_step(s, k, tiled ? ocl_k_gemm_tiled : ocl_k_gemm_reg, &a);
  if (st != oc_status_ok) return st;
  if (tiled && T * T > kernel_max_group(s, a.kernel)) {
    /* This device cannot run the tuned tile with this kernel: use gemm_reg. */
    clReleaseKernel(a.kernel);
    k->n_steps--;
    tiled = false;
    st = new_step(s, k, ocl_k_gemm_reg, &a);
    if (st != oc_status_ok) return st;
  }
  arg_mem(&a, A);
  arg_mem(&a, B);
  arg_mem(&a, bias);
  arg_mem(&a, C);
  arg_int(&a, M);
  arg_int(&a, N);
  arg_int(&a, K);
  arg_int(&a, tb);
  arg_int(&a, bias != NULL);
  arg_int(&a, act);
  if (tiled) {
    arg_local(&a, T * T * sizeof(float));
    arg_local(&a, T * T * sizeof(float));
    const size_t n[3] = {(size_t)N, (size_t)M, (size_t)batch};
    const size_t l[3] = {T, T, 1};
    set_range(s, k, 3, n, l);
  } else {
    const size_t n[3] = {((size_t)N + 3) / 4, ((size_t)M + 3) / 4, (size_t)batch};
    const size_t l[3] = {s->tuning.gemm_local[0], s->tuning.gemm_local[1], 1};
    set_range(s, k, 3, n, l);
  }
  return args_done(s, k, &a);
}

static void image_range(const struct ocl_state *s, struct ocl_kernel *k, const size_t local[2],
                        int32_t c, int32_t w, int32_t h) {
  const size_t n[3] = {(size_t)c, (size_t)w, (size_t)h};
  const size_t l[3] = {local[0], local[1], local[0] && local[1] ? 1 : 0};
  set_range(s, k, 3, n, l);
}

enum conv_algo { conv_direct, conv_dw, conv_gemm, conv_im2col_gemm };

/* The kernels a conv2d runs on and, for im2col, the column matrix's bytes. */
static enum conv_algo choose_conv(const struct ocl_state *s, const struct oc_op *op,
                                  const struct oc_op_shapes *sh, size_t *col_bytes) {
  const bool depthwise = op->g == op->cin && op->cout == op->cin;
  const bool pointwise = op->k == 1 && op->s == 1 && op->g == 1;
  const size_t col = (size_t)sh->output.h * (size_t)sh->output.w * (size_t)op->k * (size_t)op->k *
                     (size_t)op->cin * sizeof(float);
  *col_bytes = 0;
  if (s->conv == ocl_conv_direct) return conv_direct;
  if (depthwise) return conv_dw;
  if (op->g != 1) return conv_direct;
  if (pointwise) return conv_gemm;
  if (s->conv == ocl_conv_gemm ||
      (col <= OCL_IM2COL_MAX_BYTES && (cl_ulong)col <= s->max_alloc_bytes)) {
    *col_bytes = col;
    return conv_im2col_gemm;
  }
  return conv_direct;
}

size_t oc__opencl_scratch_bytes(const struct ocl_state *s, const struct oc_op *op) {
  struct oc_op_shapes sh;
  size_t col_bytes = 0;
  if (op->kind != oc_op_conv2d || oc_op_shapes(op, &sh) != oc_status_ok) return 0;
  choose_conv(s, op, &sh, &col_bytes);
  return col_bytes;
}

/* scratch (NULL: none) serves as the im2col column matrix when it holds
 * scratch_bytes >= what the matrix needs; else the kernel makes its own. */
static enum oc_status plan_conv(struct ocl_state *s, struct ocl_kernel *k, const struct oc_op *op,
                                const struct oc_op_shapes *sh, cl_mem in, cl_mem w, cl_mem bias,
                                cl_mem out, cl_mem scratch, size_t scratch_bytes) {
  struct args a;
  enum oc_status st;
  const int32_t oh = sh->output.h, ow = sh->output.w;
  size_t col_bytes = 0;
  const enum conv_algo algo = choose_conv(s, op, sh, &col_bytes);

  switch (algo) {
  case conv_direct:
    st = new_step(s, k, ocl_k_conv2d_direct, &a);
    if (st != oc_status_ok) return st;
    arg_mem(&a, in);
    arg_mem(&a, w);
    arg_mem(&a, bias);
    arg_mem(&a, out);
    arg_int(&a, op->h);
    arg_int(&a, op->w);
    arg_int(&a, op->cin);
    arg_int(&a, op->cout);
    arg_int(&a, op->k);
    arg_int(&a, op->s);
    arg_int(&a, op->d);
    arg_int(&a, op->g);
    arg_int(&a, oh);
    arg_int(&a, ow);
    arg_int(&a, sh->pad_top);
    arg_int(&a, sh->pad_left);
    arg_int(&a, op->act);
    image_range(s, k, s->tuning.img_local, op->cout, ow, oh);
    return args_done(s, k, &a);
  case conv_dw:
    st = new_step(s, k, ocl_k_conv2d_dw, &a);
    if (st != oc_status_ok) return st;
    arg_mem(&a, in);
    arg_mem(&a, w);
    arg_mem(&a, bias);
    arg_mem(&a, out);
    arg_int(&a, op->h);
    arg_int(&a, op->w);
    arg_int(&a, op->cin);
    arg_int(&a, op->k);
    arg_int(&a, op->s);
    arg_int(&a, op->d);
    arg_int(&a, oh);
    arg_int(&a, ow);
    arg_int(&a, sh->pad_top);
    arg_int(&a, sh->pad_left);
    arg_int(&a, op->act);
    image_range(s, k, s->tuning.dw_local, op->cout, ow, oh);
    return args_done(s, k, &a);
  case conv_gemm:
    return plan_gemm(s, k, in, w, bias, out, oh * ow, op->cout, op->cin, 1, 1, op->act);
  case conv_im2col_gemm: {
    const int32_t kd = op->k * op->k * op->cin;
    cl_mem col = scratch;
    if (scratch == NULL || scratch_bytes < col_bytes) {
      st = new_buffer(s, k, col_bytes, NULL, "im2col column matrix", &col);
      if (st != oc_status_ok) return st;
    }
    st = new_step(s, k, ocl_k_im2col, &a);
    if (st != oc_status_ok) return st;
    arg_mem(&a, in);
    arg_mem(&a, col);
    arg_int(&a, op->h);
    arg_int(&a, op->w);
    arg_int(&a, op->cin);
    arg_int(&a, op->k);
    arg_int(&a, op->s);
    arg_int(&a, op->d);
    arg_int(&a, oh);
    arg_int(&a, ow);
    arg_int(&a, sh->pad_top);
    arg_int(&a, sh->pad_left);
    const size_t n[3] = {(size_t)kd, (size_t)oh * (size_t)ow, 1};
    const size_t l[3] = {s->tuning.img_local[0], s->tuning.img_local[1],
                         s->tuning.img_local[0] && s->tuning.img_local[1] ? 1 : 0};
    set_range(s, k, 3, n, l);
    st = args_done(s, k, &a);
    if (st != oc_status_ok) return st;
    return plan_gemm(s, k, col, w, bias, out, oh * ow, op->cout, kd, 1, 1, op->act);
  }
  }
  return oc__fail(oc_status_internal, "no convolution algorithm");
}

static enum oc_status plan_pool(struct ocl_state *s, struct ocl_kernel *k, const struct oc_op *op,
                                const struct oc_op_shapes *sh, cl_mem in, cl_mem out) {
  struct args a;
  enum oc_status st =
      new_step(s, k, op->kind == oc_op_maxpool2d ? ocl_k_maxpool2d : ocl_k_avgpool2d, &a);
  if (st != oc_status_ok) return st;
  arg_mem(&a, in);
  arg_mem(&a, out);
  arg_int(&a, op->h);
  arg_int(&a, op->w);
  arg_int(&a, op->c);
  arg_int(&a, op->k);
  arg_int(&a, op->s);
  arg_int(&a, sh->output.h);
  arg_int(&a, sh->output.w);
  arg_int(&a, sh->pad_top);
  arg_int(&a, sh->pad_left);
  image_range(s, k, s->tuning.dw_local, op->c, sh->output.w, sh->output.h);
  return args_done(s, k, &a);
}

static void range_1d(const struct ocl_state *s, struct ocl_kernel *k, int64_t n, size_t local) {
  const size_t count[3] = {(size_t)n, 1, 1};
  const size_t l[3] = {local, 1, 1};
  set_range(s, k, 1, count, l);
}

/* softmax_rows / layernorm_rows: one group of L (a power of two) per row. */
static enum oc_status plan_rows(struct ocl_state *s, struct ocl_kernel *k, const struct oc_op *op,
                                cl_mem in, cl_mem gamma, cl_mem beta, cl_mem out) {
  struct args a;
  const bool ln = op->kind == oc_op_layernorm;
  enum oc_status st = new_step(s, k, ln ? ocl_k_layernorm_rows : ocl_k_softmax_rows, &a);
  if (st != oc_status_ok) return st;
  const int32_t rows = op->h * op->w;
  size_t L = s->tuning.rows_local ? s->tuning.rows_local : 64;
  size_t cap = (size_t)pow2_at_least(op->c);
  if (L > cap) L = cap;
  size_t max = kernel_max_group(s, a.kernel);
  if (max > s->max_item_sizes[0]) max = s->max_item_sizes[0];
  while (L > 1 && (L > max || L * sizeof(float) > s->local_mem_bytes)) L /= 2;
  arg_mem(&a, in);
  if (ln) {
    arg_mem(&a, gamma);
    arg_mem(&a, beta);
  }
  arg_mem(&a, out);
  arg_int(&a, rows);
  arg_int(&a, op->c);
  if (ln) arg_float(&a, OC_REF_LAYERNORM_EPS);
  arg_local(&a, L * sizeof(float));
  struct ocl_step *step = &k->steps[k->n_steps - 1];
  step->dims = 1;
  step->has_local = true;
  step->local[0] = L;
  step->global[0] = (size_t)rows * L;
  return args_done(s, k, &a);
}

/* The kernels of op on the buffers of b, arguments set and ranges fixed. */
static enum oc_status plan_kernels(struct ocl_state *s, const struct oc_op *op,
                                   const struct oc_op_shapes *sh, const struct ocl_bind *b,
                                   struct ocl_kernel *k) {
  struct args a;
  enum oc_status st = oc_status_ok;
  const cl_mem *in = b->input;
  const cl_mem w = b->weights, bias = b->bias, out = b->output;
  const int64_t n_out = oc_tensor_elems(&sh->output);
  switch (op->kind) {
  case oc_op_conv2d:
    st = plan_conv(s, k, op, sh, in[0], w, bias, out, b->scratch, b->scratch_bytes);
    break;
  case oc_op_fc:
    st = plan_gemm(s, k, in[0], w, bias, out, op->m, op->cout, op->cin, 1, 1, op->act);
    break;
  case oc_op_matmul:
    st = plan_gemm(s, k, in[0], in[1], NULL, out, op->m, op->n, op->k, op->b, op->tb, oc_act_none);
    break;
  case oc_op_maxpool2d:
  case oc_op_avgpool2d: st = plan_pool(s, k, op, sh, in[0], out); break;
  case oc_op_gap:
    st = new_step(s, k, ocl_k_gap, &a);
    if (st != oc_status_ok) break;
    arg_mem(&a, in[0]);
    arg_mem(&a, out);
    arg_int(&a, op->h * op->w);
    arg_int(&a, op->c);
    range_1d(s, k, op->c, s->tuning.ew_local);
    st = args_done(s, k, &a);
    break;
  case oc_op_act:
    st = new_step(s, k, ocl_k_act_ew, &a);
    if (st != oc_status_ok) break;
    arg_mem(&a, in[0]);
    arg_mem(&a, out);
    arg_int(&a, n_out);
    arg_int(&a, op->act);
    range_1d(s, k, n_out, s->tuning.ew_local);
    st = args_done(s, k, &a);
    break;
  case oc_op_add:
    st = new_step(s, k, ocl_k_add_ew, &a);
    if (st != oc_status_ok) break;
    arg_mem(&a, in[0]);
    arg_mem(&a, in[1]);
    arg_mem(&a, out);
    arg_int(&a, n_out);
    arg_int(&a, op->act);
    range_1d(s, k, n_out, s->tuning.ew_local);
    st = args_done(s, k, &a);
    break;
  case oc_op_mul:
    st = new_step(s, k, ocl_k_mul_ew, &a);
    if (st != oc_status_ok) break;
    arg_mem(&a, in[0]);
    arg_mem(&a, in[1]);
    arg_mem(&a, out);
    arg_int(&a, n_out);
    arg_int(&a, op->c);
    arg_int(&a, op->bc);
    range_1d(s, k, n_out, s->tuning.ew_local);
    st = args_done(s, k, &a);
    break;
  case oc_op_concat:
    st = new_step(s, k, ocl_k_concat2, &a);
    if (st != oc_status_ok) break;
    arg_mem(&a, in[0]);
    arg_mem(&a, in[1]);
    arg_mem(&a, out);
    arg_int(&a, op->h * op->w);
    arg_int(&a, op->c);
    arg_int(&a, op->c2);
    range_1d(s, k, n_out, s->tuning.ew_local);
    st = args_done(s, k, &a);
    break;
  case oc_op_softmax: st = plan_rows(s, k, op, in[0], NULL, NULL, out); break;
  case oc_op_layernorm: st = plan_rows(s, k, op, in[0], w, bias, out); break;
  case oc_op_kind__count: st = oc__fail(oc_status_unsupported, "kind not implemented"); break;
  }
  return st;
}

enum oc_status oc__opencl_plan(struct ocl_state *s, const struct oc_op *op,
                               const struct oc_tensors *t, struct ocl_kernel *k) {
  struct oc_op_shapes sh;
  enum oc_status st = oc_op_shapes(op, &sh);
  if (st != oc_status_ok) return st;
  k->op = *op;
  oc_op_format(op, k->key, sizeof k->key);
  if (t != NULL) {
    for (int i = 0; i < sh.n_inputs; i++)
      if (t->input[i] == NULL)
        return oc__fail(oc_status_invalid_argument, "input %d buffer is NULL", i);
    if (sh.weight_elems > 0 && t->weights == NULL)
      return oc__fail(oc_status_invalid_argument, "weights buffer is NULL");
  }

  /* The whole footprint must fit the device before anything is allocated. */
  uint64_t total =
      (uint64_t)oc_tensor_elems(&sh.output) + (uint64_t)sh.weight_elems + (uint64_t)sh.bias_elems;
  for (int i = 0; i < sh.n_inputs; i++) total += (uint64_t)oc_tensor_elems(&sh.input[i]);
  total *= sizeof(float);
  if (total > s->global_mem_bytes)
    return oc__fail(oc_status_out_of_memory,
                    "device '%s': the op needs %llu bytes of device memory; the device has %llu "
                    "(CL_DEVICE_GLOBAL_MEM_SIZE)",
                    s->device_name, (unsigned long long)total,
                    (unsigned long long)s->global_mem_bytes);

  struct ocl_bind b = {{NULL}, NULL, NULL, NULL, NULL, 0};
  static const char *const input_names[OC_MAX_INPUTS] = {"input", "second input"};
  for (int i = 0; i < sh.n_inputs; i++) {
    st = new_buffer(s, k, (size_t)oc_tensor_elems(&sh.input[i]) * sizeof(float),
                    t ? t->input[i] : NULL, input_names[i], &b.input[i]);
    if (st != oc_status_ok) return st;
  }
  if (sh.weight_elems > 0) {
    st = new_buffer(s, k, (size_t)sh.weight_elems * sizeof(float), t ? t->weights : NULL, "weights",
                    &b.weights);
    if (st != oc_status_ok) return st;
    st = new_buffer(s, k, (size_t)sh.bias_elems * sizeof(float), t ? t->bias : NULL, "bias",
                    &b.bias);
    if (st != oc_status_ok) return st;
  }
  k->output_bytes = (size_t)oc_tensor_elems(&sh.output) * sizeof(float);
  st = new_buffer(s, k, k->output_bytes, NULL, "output", &b.output);
  if (st != oc_status_ok) return st;
  k->output = b.output;
  k->host_output = t ? t->output : NULL;

  st = plan_kernels(s, op, &sh, &b, k);
  if (st != oc_status_ok) return st;
  /* Uploads are done before prepare returns: nothing is left for run(). */
  cl_int err = clFinish(s->queue);
  if (err != CL_SUCCESS) return cl_fail(s, k, err, "uploading the tensors: clFinish");
  return oc_status_ok;
}

enum oc_status oc__opencl_plan_bound(struct ocl_state *s, const struct oc_op *op,
                                     const struct ocl_bind *b, struct ocl_kernel *k) {
  struct oc_op_shapes sh;
  enum oc_status st = oc_op_shapes(op, &sh);
  if (st != oc_status_ok) return st;
  k->op = *op;
  oc_op_format(op, k->key, sizeof k->key);
  for (int i = 0; i < sh.n_inputs; i++)
    if (b->input[i] == NULL)
      return oc__fail(oc_status_invalid_argument, "input %d device buffer is NULL", i);
  if (b->output == NULL || (sh.weight_elems > 0 && (b->weights == NULL || b->bias == NULL)))
    return oc__fail(oc_status_invalid_argument, "a device buffer is NULL");
  k->output = b->output;
  k->output_bytes = (size_t)oc_tensor_elems(&sh.output) * sizeof(float);
  k->host_output = NULL;
  return plan_kernels(s, op, &sh, b, k);
}

enum oc_status oc__opencl_plan_gather(struct ocl_state *s, const char *what, cl_mem in, cl_mem out,
                                      const int32_t count[3], int32_t base, int32_t stride_a,
                                      int32_t stride_b, struct ocl_kernel *k) {
  struct args a;
  oc__strcpy(k->key, sizeof k->key, what);
  const int64_t n = (int64_t)count[0] * count[1] * count[2];
  enum oc_status st = new_step(s, k, ocl_k_gather3, &a);
  if (st != oc_status_ok) return st;
  arg_mem(&a, in);
  arg_mem(&a, out);
  arg_int(&a, count[1]);
  arg_int(&a, count[2]);
  arg_int(&a, base);
  arg_int(&a, stride_a);
  arg_int(&a, stride_b);
  arg_int(&a, n);
  range_1d(s, k, n, s->tuning.ew_local);
  k->output = out;
  k->output_bytes = (size_t)n * sizeof(float);
  return args_done(s, k, &a);
}

enum oc_status oc__opencl_enqueue(struct ocl_state *s, struct ocl_kernel *k, cl_event *events) {
  for (int i = 0; i < k->n_steps; i++) {
    const struct ocl_step *st = &k->steps[i];
    cl_int err = clEnqueueNDRangeKernel(s->queue, st->kernel, st->dims, NULL, st->global,
                                        st->has_local ? st->local : NULL, 0, NULL,
                                        events ? &events[i] : NULL);
    if (err != CL_SUCCESS) {
      char call[160];
      oc__strfmt(call, sizeof call,
                 "step %d: clEnqueueNDRangeKernel(global %zu x %zu x %zu, local %zu x %zu x %zu)",
                 i, st->global[0], st->dims > 1 ? st->global[1] : 1,
                 st->dims > 2 ? st->global[2] : 1, st->local[0], st->dims > 1 ? st->local[1] : 1,
                 st->dims > 2 ? st->local[2] : 1);
      return oc__fail(oc__cl_status(err), "op '%s' on device '%s': %s returned %d %s", k->key,
                      s->device_name, call, (int)err, oc__cl_error_name(err));
    }
  }
  return oc_status_ok;
}
