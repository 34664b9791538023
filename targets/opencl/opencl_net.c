/* opencl_net.c - whole networks on the opencl backend: every kernel of the
 * network's expanded list runs on the device, chained through device
 * buffers, so a run moves only the network input in (and, on request, the
 * output out), as an application on the GPU would.
 *
 * Plan once, run many: prepare_net checks that the device supports every
 * op (a refusal names the network, the layer and the op key), uploads the
 * parameters once (each op's weights and bias, and the parameter tensors:
 * class token, position embedding), places the activations in device
 * buffers and plans every op with oc__opencl_plan_bound on them (the same
 * kernels, arguments and ranges as a single op of that key). Activations
 * share pooled buffers by liveness: a buffer whose tensor is dead (past its
 * last_use) serves a later tensor that fits, as the peak-memory schedule of
 * net.h assumes; the network input and output keep buffers of their own,
 * and im2col convolutions share one column matrix (one in-order queue never
 * runs two kernels at once). No kernel computes in place: kernels.cl's
 * kernels are written for distinct input and output buffers.
 *
 * Data moves (net.h enum oc_net_step), with the host semantics of
 * oc_net_move_f32:
 *   heads_split, heads_merge  one gather3 kernel (a strided copy);
 *   token_prepend             two clEnqueueCopyBuffer (class token, rows);
 *   token_select              one clEnqueueCopyBuffer (one row);
 *   zero                      clEnqueueFillBuffer with 0.0f.
 *
 * Timing: see oc__opencl_run_net. The network must outlive the kernel. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "opcost/net.h"
#include "targets/opencl/opencl.h"

void oc__opencl_release_net(void *state, void *kernel) {
  struct ocl_state *s = state;
  struct ocl_net *r = kernel;
  if (r == NULL) return;
  /* Nothing may still use a buffer released below (an aborted run). */
  if (s != NULL && s->queue != NULL) clFinish(s->queue);
  if (r->kernels) {
    for (int32_t i = 0; i < r->net->n_kernels; i++) oc__opencl_kernel_free(r->kernels[i]);
  }
  for (int32_t i = 0; i < r->n_mems; i++) clReleaseMemObject(r->mems[i]);
  free(r->mems);
  free(r->kernels);
  free(r->tensor);
  free(r);
}

/* A device buffer of bytes owned by the network, filled from host when host
 * is not NULL (a blocking write: host parameters are freed after prepare). */
static enum oc_status net_buffer(struct ocl_state *s, struct ocl_net *r, size_t bytes,
                                 const void *host, const char *what, cl_mem *out) {
  if (bytes == 0) bytes = sizeof(float);
  if ((cl_ulong)bytes > s->max_alloc_bytes)
    return oc__fail(oc_status_out_of_memory,
                    "device '%s': the %s needs %zu bytes; the device allocates at most %llu "
                    "bytes a buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                    s->device_name, what, bytes, (unsigned long long)s->max_alloc_bytes);
  if (r->device_bytes + bytes > s->global_mem_bytes)
    return oc__fail(oc_status_out_of_memory,
                    "device '%s': the network needs more than %llu bytes of device memory at "
                    "the %s; the device has %llu (CL_DEVICE_GLOBAL_MEM_SIZE)",
                    s->device_name, (unsigned long long)(r->device_bytes + bytes), what,
                    (unsigned long long)s->global_mem_bytes);
  if (r->n_mems >= r->max_mems)
    return oc__fail(oc_status_internal, "more than %d device buffers", (int)r->max_mems);
  cl_int err = CL_SUCCESS;
  cl_mem mem = clCreateBuffer(s->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
  if (mem == NULL || err != CL_SUCCESS)
    return oc__fail(oc__cl_status(err),
                    "device '%s': allocating the %s (%zu bytes): clCreateBuffer returned %d %s",
                    s->device_name, what, bytes, (int)err, oc__cl_error_name(err));
  r->mems[r->n_mems++] = mem;
  r->device_bytes += bytes;
  if (host != NULL) {
    err = clEnqueueWriteBuffer(s->queue, mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
      return oc__fail(oc__cl_status(err),
                      "device '%s': uploading the %s (%zu bytes): clEnqueueWriteBuffer "
                      "returned %d %s",
                      s->device_name, what, bytes, (int)err, oc__cl_error_name(err));
  }
  *out = mem;
  return oc_status_ok;
}

/* Pooled activation buffers: a free one is reused by a later tensor it can
 * hold (the smallest that fits); else a new one is made. */
struct pool {
  int32_t n;
  cl_mem *mem;
  size_t *bytes;
  bool *busy;
};

static enum oc_status pool_take(struct ocl_state *s, struct ocl_net *r, struct pool *p,
                                size_t bytes, int32_t tensor, int32_t *slot) {
  int32_t best = -1;
  for (int32_t i = 0; i < p->n; i++)
    if (!p->busy[i] && p->bytes[i] >= bytes && (best < 0 || p->bytes[i] < p->bytes[best])) best = i;
  if (best < 0) {
    char what[64];
    oc__strfmt(what, sizeof what, "activation buffer of tensor %d", (int)tensor);
    enum oc_status st = net_buffer(s, r, bytes, NULL, what, &p->mem[p->n]);
    if (st != oc_status_ok) return st;
    p->bytes[p->n] = bytes;
    best = p->n++;
  }
  p->busy[best] = true;
  *slot = best;
  return oc_status_ok;
}

/* Places every tensor: input, output and parameter tensors in buffers of
 * their own, activations in pooled buffers freed after their last use. */
static enum oc_status place_tensors(struct ocl_state *s, struct ocl_net *r,
                                    const struct oc_net_params *params) {
  const struct oc_net *net = r->net;
  enum oc_status st = oc_status_ok;
  struct pool p = {0, NULL, NULL, NULL};
  int32_t *slot = malloc((size_t)net->n_tensors * sizeof *slot);
  p.mem = calloc((size_t)net->n_tensors, sizeof *p.mem);
  p.bytes = calloc((size_t)net->n_tensors, sizeof *p.bytes);
  p.busy = calloc((size_t)net->n_tensors, sizeof *p.busy);
  if (slot == NULL || p.mem == NULL || p.bytes == NULL || p.busy == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  for (int32_t t = 0; t < net->n_tensors; t++) {
    const struct oc_net_tensor *ten = &net->tensors[t];
    slot[t] = -1;
    if (t == net->input_tensor) {
      st = net_buffer(s, r, (size_t)ten->bytes, NULL, "network input", &r->tensor[t]);
    } else if (t == net->output_tensor) {
      st = net_buffer(s, r, (size_t)ten->bytes, NULL, "network output", &r->tensor[t]);
    } else if (ten->kind == oc_net_tensor_param) {
      char what[64];
      oc__strfmt(what, sizeof what, "parameter tensor %d", (int)t);
      st = net_buffer(s, r, (size_t)ten->bytes, params->tensors[t], what, &r->tensor[t]);
    }
    if (st != oc_status_ok) goto done;
  }
  if (net->output_tensor == net->input_tensor) goto done; /* no kernels */
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    const int32_t out = k->output;
    if (r->tensor[out] == NULL) {
      st = pool_take(s, r, &p, (size_t)net->tensors[out].bytes, out, &slot[out]);
      if (st != oc_status_ok) goto done;
      r->tensor[out] = p.mem[slot[out]];
    }
    /* Inputs read for the last time free their buffers for later kernels
     * (never this kernel's output, taken above), and so does an output
     * nothing reads. */
    for (int32_t j = 0; j < k->n_inputs; j++) {
      int32_t u = k->input[j];
      if (slot[u] >= 0 && net->tensors[u].last_use <= i) p.busy[slot[u]] = false;
    }
    if (slot[out] >= 0 && net->tensors[out].last_use < 0) p.busy[slot[out]] = false;
  }
done:
  free(slot);
  free(p.mem);
  free(p.bytes);
  free(p.busy);
  return st;
}

/* The gather3 copy of a heads_split or heads_merge kernel (net.h). */
static enum oc_status plan_heads(struct ocl_state *s, struct ocl_net *r, int32_t i,
                                 struct ocl_kernel *ok) {
  const struct oc_net *net = r->net;
  const struct oc_net_kernel *k = &net->kernels[i];
  const struct oc_tensor_shape *is = &net->tensors[k->input[0]].shape;
  const struct oc_tensor_shape *os = &net->tensors[k->output].shape;
  int32_t count[3], base = 0, sa, sb;
  if (k->step == oc_net_step_heads_split) {
    /* out[h][t][j] = in[t][offset + h*dh + j]: (A, B, C) = (heads, T, dh). */
    count[0] = k->heads;
    count[1] = os->w;
    count[2] = os->c;
    base = k->offset;
    sa = os->c;
    sb = is->c;
  } else {
    /* out[t][h*dh + j] = in[h][t][j]: (A, B, C) = (T, heads, dh). */
    count[0] = is->w;
    count[1] = k->heads;
    count[2] = is->c;
    sa = is->c;
    sb = is->w * is->c;
  }
  return oc__opencl_plan_gather(s, oc_net_step_name(k->step), r->tensor[k->input[0]],
                                r->tensor[k->output], count, base, sa, sb, ok);
}

/* Every op the network runs must be one the device supports. */
static enum oc_status check_ops(struct ocl_state *s, const struct oc_net *net) {
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    char why[256];
    if (k->step != oc_net_step_op || oc__opencl_supports(s, &k->op, why, sizeof why)) continue;
    char key[OC_KEY_MAX];
    oc_op_format(&k->op, key, sizeof key);
    return oc__fail(oc_status_unsupported,
                    "network '%s': layer %d (%s): op '%s' is not supported on device '%s': %s",
                    net->name, (int)k->layer, net->layers[k->layer].key, key, s->device_name, why);
  }
  for (int32_t t = 0; t < net->n_tensors; t++) {
    if (oc_tensor_elems(&net->tensors[t].shape) > INT32_MAX)
      return oc__fail(oc_status_unsupported,
                      "network '%s': tensor %d has %lld elements; the kernels index with 32-bit "
                      "ints",
                      net->name, (int)t, (long long)oc_tensor_elems(&net->tensors[t].shape));
  }
  return oc_status_ok;
}

enum oc_status oc__opencl_prepare_net(void *state, const struct oc_net *net, const void *input,
                                      void *output, void **kernel) {
  struct ocl_state *s = state;
  struct oc_net_params *params = NULL;
  struct ocl_net *r = NULL;
  cl_mem scratch = NULL;
  size_t scratch_bytes = 0;
  enum oc_status st;
  *kernel = NULL;
  if (input == NULL || output == NULL)
    return oc__fail(oc_status_invalid_argument, "network input or output buffer is NULL");
  st = check_ops(s, net);
  if (st != oc_status_ok) return st;
  st = oc_net_params_create(net, OC_NET_PARAM_SEED, &params);
  if (st != oc_status_ok) return st;
  r = calloc(1, sizeof *r);
  if (r == NULL) goto oom;
  r->net = net;
  r->input = input;
  r->output = output;
  r->max_mems = net->n_tensors + 2 * net->n_kernels + 1;
  r->mems = calloc((size_t)r->max_mems, sizeof *r->mems);
  r->tensor = calloc((size_t)net->n_tensors + 1, sizeof *r->tensor);
  r->kernels = calloc((size_t)net->n_kernels + 1, sizeof *r->kernels);
  if (r->mems == NULL || r->tensor == NULL || r->kernels == NULL) goto oom;

  st = place_tensors(s, r, params);
  if (st != oc_status_ok) goto fail_net;
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_op) continue;
    size_t bytes = oc__opencl_scratch_bytes(s, &k->op);
    if (bytes > scratch_bytes) scratch_bytes = bytes;
  }
  if (scratch_bytes > 0) {
    st = net_buffer(s, r, scratch_bytes, NULL, "im2col column matrix", &scratch);
    if (st != oc_status_ok) goto fail_net;
  }

  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step == oc_net_step_token_prepend || k->step == oc_net_step_token_select ||
        k->step == oc_net_step_zero)
      continue;
    struct ocl_kernel *ok = calloc(1, sizeof *ok);
    if (ok == NULL) goto oom;
    r->kernels[i] = ok;
    if (k->step != oc_net_step_op) {
      st = plan_heads(s, r, i, ok);
    } else {
      struct ocl_bind b = {{NULL}, NULL, NULL, NULL, scratch, scratch_bytes};
      for (int32_t j = 0; j < k->n_inputs; j++) b.input[j] = r->tensor[k->input[j]];
      b.output = r->tensor[k->output];
      struct oc_op_shapes sh;
      st = oc_op_shapes(&k->op, &sh);
      if (st == oc_status_ok && sh.weight_elems > 0) {
        st = net_buffer(s, r, (size_t)sh.weight_elems * sizeof(float), params->weights[i],
                        "weights", &b.weights);
        if (st == oc_status_ok)
          st = net_buffer(s, r, (size_t)sh.bias_elems * sizeof(float), params->bias[i], "bias",
                          &b.bias);
      }
      if (st == oc_status_ok) st = oc__opencl_plan_bound(s, &k->op, &b, ok);
    }
    if (st != oc_status_ok) {
      char key[OC_KEY_MAX];
      if (k->step == oc_net_step_op)
        oc_op_format(&k->op, key, sizeof key);
      else
        oc__strcpy(key, sizeof key, oc_net_step_name(k->step));
      st = oc__fail_prefix(st, "network '%s': kernel %d (layer %d, %s): ", net->name, (int)i,
                           (int)k->layer, key);
      goto fail;
    }
  }
  /* The parameters are on the device (blocking writes); nothing is left
   * for run_net but the input. */
  cl_int err = clFinish(s->queue);
  if (err != CL_SUCCESS) {
    st = oc__fail(oc__cl_status(err), "network '%s' on device '%s': clFinish returned %d %s",
                  net->name, s->device_name, (int)err, oc__cl_error_name(err));
    goto fail;
  }
  oc_net_params_free(params);
  *kernel = r;
  return oc_status_ok;
oom:
  st = oc__fail(oc_status_out_of_memory, "network '%s': out of memory", net->name);
  goto fail;
fail_net:
  st = oc__fail_prefix(st, "network '%s': ", net->name);
fail:
  oc__opencl_release_net(s, r);
  oc_net_params_free(params);
  return st;
}

static enum oc_status run_fail(const struct ocl_state *s, const struct oc_net *net, int32_t i,
                               cl_int err, const char *call) {
  return oc__fail(oc__cl_status(err),
                  "network '%s' on device '%s': kernel %d (layer %d, %s): %s returned %d %s",
                  net->name, s->device_name, (int)i, i >= 0 ? (int)net->kernels[i].layer : -1,
                  i >= 0 ? oc_net_step_name(net->kernels[i].step) : "input", call, (int)err,
                  oc__cl_error_name(err));
}

/* What is timed: the probe harness times this call with the host clock. It
 * holds the upload of the network input (clEnqueueWriteBuffer), every
 * kernel and data move enqueued in order on the in-order queue, and the
 * clFinish that waits for the last of them: the end-to-end latency an
 * application sees, launch overhead and gaps between kernels included.
 * Reading the output back is not timed (oc__opencl_read_net_output).
 *
 * Networks do not use the device timer (time_runs and its profiling
 * events): a START-of-first to END-of-last event span would leave out the
 * host's enqueue and synchronisation cost, which for networks of many
 * small kernels is a large share of what a deployed network costs, and the
 * target wrappers route no network kernel to time_runs. Per-op device
 * times remain what LUTs hold; the network figure is end to end. */
enum oc_status oc__opencl_run_net(void *state, void *kernel) {
  struct ocl_state *s = state;
  struct ocl_net *r = kernel;
  const struct oc_net *net = r->net;
  cl_int err =
      clEnqueueWriteBuffer(s->queue, r->tensor[net->input_tensor], CL_FALSE, 0,
                           (size_t)net->tensors[net->input_tensor].bytes, r->input, 0, NULL, NULL);
  if (err != CL_SUCCESS) return run_fail(s, net, -1, err, "clEnqueueWriteBuffer");
  if (net->output_tensor == net->input_tensor) goto wait;
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    cl_mem out = r->tensor[k->output];
    size_t out_bytes = (size_t)net->tensors[k->output].bytes;
    switch (k->step) {
    case oc_net_step_op:
    case oc_net_step_heads_split:
    case oc_net_step_heads_merge: {
      enum oc_status st = oc__opencl_enqueue(s, r->kernels[i], NULL);
      if (st != oc_status_ok)
        return oc__fail_prefix(st, "network '%s': kernel %d (layer %d): ", net->name, (int)i,
                               (int)k->layer);
      break;
    }
    case oc_net_step_token_prepend: {
      /* The class token (input 1, C floats), then the T rows of input 0. */
      size_t row = (size_t)net->tensors[k->output].shape.c * sizeof(float);
      err = clEnqueueCopyBuffer(s->queue, r->tensor[k->input[1]], out, 0, 0, row, 0, NULL, NULL);
      if (err == CL_SUCCESS)
        err = clEnqueueCopyBuffer(s->queue, r->tensor[k->input[0]], out, 0, row, out_bytes - row, 0,
                                  NULL, NULL);
      if (err != CL_SUCCESS) return run_fail(s, net, i, err, "clEnqueueCopyBuffer");
      break;
    }
    case oc_net_step_token_select: {
      /* Row `offset` of input 0: the output's C floats. */
      err = clEnqueueCopyBuffer(s->queue, r->tensor[k->input[0]], out,
                                (size_t)k->offset * out_bytes, 0, out_bytes, 0, NULL, NULL);
      if (err != CL_SUCCESS) return run_fail(s, net, i, err, "clEnqueueCopyBuffer");
      break;
    }
    case oc_net_step_zero: {
      const cl_float zero = 0.0f;
      err = clEnqueueFillBuffer(s->queue, out, &zero, sizeof zero, 0, out_bytes, 0, NULL, NULL);
      if (err != CL_SUCCESS) return run_fail(s, net, i, err, "clEnqueueFillBuffer");
      break;
    }
    }
  }
wait:
  err = clFinish(s->queue);
  if (err != CL_SUCCESS)
    return oc__fail(oc__cl_status(err),
                    "network '%s' on device '%s': clFinish returned %d %s (the device faulted, "
                    "ran out of resources or was lost)",
                    net->name, s->device_name, (int)err, oc__cl_error_name(err));
  return oc_status_ok;
}

enum oc_status oc__opencl_read_net_output(void *state, void *kernel) {
  struct ocl_state *s = state;
  struct ocl_net *r = kernel;
  const struct oc_net *net = r->net;
  size_t bytes = (size_t)net->tensors[net->output_tensor].bytes;
  cl_int err = clEnqueueReadBuffer(s->queue, r->tensor[net->output_tensor], CL_TRUE, 0, bytes,
                                   r->output, 0, NULL, NULL);
  if (err != CL_SUCCESS)
    return oc__fail(oc__cl_status(err),
                    "network '%s' on device '%s': reading the output (%zu bytes): "
                    "clEnqueueReadBuffer returned %d %s",
                    net->name, s->device_name, bytes, (int)err, oc__cl_error_name(err));
  return oc_status_ok;
}
