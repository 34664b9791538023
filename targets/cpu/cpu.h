/* cpu.h - internals of the cpu backend shared by its files: the open state,
 * the prepared kernel (a short list of steps, each an XNNPACK operator or
 * one of opcost's own kernels), XNNPACK status translation, and the own
 * kernels of cpu_kernels.c. Not public.
 *
 * A kernel is planned once in prepare (operators created, weights packed,
 * buffers bound through setup, scratch allocated) and run many times: run
 * only calls xnn_run_operator and own kernels, and allocates nothing. */
#ifndef OPCOST_TARGETS_CPU_H
#define OPCOST_TARGETS_CPU_H

#include <stdbool.h>
#include <stddef.h>

#include <pthreadpool.h>
#include <xnnpack.h>

#include "opcost/op.h"
#include "opcost/target.h"

/* Most steps one op needs: the op, its activation epilogue, and the second
 * copy of concat. */
#define CPU_MAX_STEPS 3

enum cpu_own_kind {
  cpu_own_act,       /* y = act(x) elementwise, n elements (in place allowed) */
  cpu_own_layernorm, /* rows x c */
  cpu_own_matmul,    /* batched, tb 0/1 */
  cpu_own_subsample, /* 1x1 pools: strided pixel copy */
};

/* Arguments of one own-kernel step; which fields count depends on kind. */
struct cpu_own {
  enum cpu_own_kind kind;
  enum oc_act act;
  const float *x;     /* input; matmul A */
  const float *x2;    /* matmul B; layernorm gamma */
  const float *x3;    /* layernorm beta (NULL = zeros) */
  float *y;           /* output */
  float *scratch;     /* matmul tb=1: B transposed, [b][k][oc__cpu_matmul_ldb(n)] */
  size_t n;           /* act: elements; matmul: columns of the product */
  size_t rows, cols;  /* layernorm: positions and channels */
  size_t batch, m, k; /* matmul */
  bool tb;
  size_t h, w, c, s, oh, ow; /* subsample */
};

struct cpu_step {
  xnn_operator_t xop; /* NULL for an own kernel */
  struct cpu_own own;
};

struct cpu_kernel {
  int n_steps;
  struct cpu_step steps[CPU_MAX_STEPS];
  float *scratch; /* owned, oc__aligned_alloc */
};

/* Translates an XNNPACK status at the boundary: "FUNC failed: xnn_status 2
 * (invalid parameter)" into oc_errmsg(), and the matching oc_status. */
enum oc_status oc__cpu_xnn_fail(const char *func, enum xnn_status status);

/* Plans op into kernel: every step created and set up for pool (XNNPACK's
 * setup tiles the work for the pool's size). On failure the steps already
 * made stay in kernel for the caller to release. */
enum oc_status oc__cpu_plan(pthreadpool_t pool, const struct oc_op *op,
                            const struct oc_tensors *tensors, struct cpu_kernel *kernel);

/* Runs one own-kernel step, spread over pool (NULL: on the calling thread).
 * Results do not depend on the thread count: the work is tiled the same way
 * whatever the pool's size. */
void oc__cpu_own_run(const struct cpu_own *own, pthreadpool_t pool);

/* Row stride of the transposed B that matmul with tb=1 works on: n rounded
 * up to whole column tiles. The scratch buffer is b * k * this floats, zeroed
 * once at prepare. */
size_t oc__cpu_matmul_ldb(size_t n);

/* Activations opcost computes itself (XNNPACK 2022-02 has no operator for
 * them, or no fused form): hsigmoid, swish, gelu, tanh; also relu, relu6,
 * hswish and sigmoid so that every act has an own path for tests. */
bool oc__cpu_own_has_act(enum oc_act act);

/* The thread pool of an open cpu target (NULL for one thread). */
pthreadpool_t oc__cpu_pool(void *state);

/* Whole networks (cpu_net.c): the vtable's prepare_net, run_net and
 * release_net. XNNPACK subgraph runtimes, split where a kernel has no
 * subgraph node; net must outlive the kernel. */
struct oc_net;
enum oc_status oc__cpu_prepare_net(void *state, const struct oc_net *net, const void *input,
                                   void *output, void **kernel);
enum oc_status oc__cpu_run_net(void *state, void *kernel);
void oc__cpu_release_net(void *state, void *kernel);

#endif
