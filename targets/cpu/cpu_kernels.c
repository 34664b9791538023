/* cpu_kernels.c - opcost's own f32 kernels for the cpu backend, where the
 * Debian XNNPACK (2022-02) has no operator: layer normalisation, the
 * activations it lacks (hsigmoid, swish, exact-erf gelu, tanh), batched
 * matmul of two activation tensors, and 1x1 pooling (XNNPACK rejects a
 * pooling window of one pixel).
 *
 * The kernels are plain C written for gcc's auto-vectorizer (this file is
 * built with -O3 and FMA contraction): unit-stride inner loops over restrict
 * pointers, fixed-size accumulator tiles, reductions split over independent
 * lanes. Where cheap (matmul) the hot loop is cloned per x86-64 ISA level and
 * picked at load time, so the binary stays portable. Transcendentals call
 * libm and stay scalar (names end in __scalar); the rest end in __auto.
 *
 * Work is spread over the pthreadpool in fixed tiles, so every output element
 * is computed by the same arithmetic whatever the thread count. Nothing here
 * allocates: scratch space comes from prepare. */
#include <math.h>
#include <string.h>

#include "targets/cpu/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__gnu_linux__)
#define CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CPU_CLONES
#endif

/* Elements of one activation task: large enough to hide the pool's per-task
 * cost, small enough to balance two to a few dozen threads. */
#define ACT_TILE 4096
/* Layer normalisation: positions per task are ~LN_TILE_ELEMS / c. */
#define LN_TILE_ELEMS 8192
/* Lanes of the split reductions (one AVX-512 or two AVX2 vectors). */
#define LANES 16
/* Matmul register tile MM_MR x MM_NR, and the depth of one pass over B
 * (MM_KC rows of a MM_NR-wide panel: 64 KiB, inside L2). */
#define MM_MR 8
#define MM_NR 32
#define MM_KC 512
/* Transpose (tb=1): rows of B per task. */
#define TR_ROWS 32

/* ---- activations --------------------------------------------------------- */

CPU_CLONES
static void f32_relu__auto(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

static float relu6f(float v) {
  v = v < 0.0f ? 0.0f : v;
  return v > 6.0f ? 6.0f : v;
}

CPU_CLONES
static void f32_relu6__auto(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = relu6f(x[i]);
}

CPU_CLONES
static void f32_hswish__auto(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] * relu6f(x[i] + 3.0f) / 6.0f;
}

CPU_CLONES
static void f32_hsigmoid__auto(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = relu6f(x[i] + 3.0f) / 6.0f;
}

static void f32_sigmoid__scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

static void f32_swish__scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] * (1.0f / (1.0f + expf(-x[i])));
}

static void f32_gelu__scalar(size_t n, const float *x, float *y) {
  const float rsqrt2 = 0.70710678118654752440f;
  for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * rsqrt2));
}

static void f32_tanh__scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

bool oc__cpu_own_has_act(enum oc_act act) {
  switch (act) {
  case oc_act_relu:
  case oc_act_relu6:
  case oc_act_hswish:
  case oc_act_hsigmoid:
  case oc_act_sigmoid:
  case oc_act_swish:
  case oc_act_gelu:
  case oc_act_tanh: return true;
  case oc_act_none:
  case oc_act__count: break;
  }
  return false;
}

static void act_task(void *context, size_t tile) {
  const struct cpu_own *own = context;
  size_t start = tile * ACT_TILE;
  size_t n = own->n - start < ACT_TILE ? own->n - start : ACT_TILE;
  const float *x = own->x + start;
  float *y = own->y + start;
  switch (own->act) {
  case oc_act_relu: f32_relu__auto(n, x, y); break;
  case oc_act_relu6: f32_relu6__auto(n, x, y); break;
  case oc_act_hswish: f32_hswish__auto(n, x, y); break;
  case oc_act_hsigmoid: f32_hsigmoid__auto(n, x, y); break;
  case oc_act_sigmoid: f32_sigmoid__scalar(n, x, y); break;
  case oc_act_swish: f32_swish__scalar(n, x, y); break;
  case oc_act_gelu: f32_gelu__scalar(n, x, y); break;
  case oc_act_tanh: f32_tanh__scalar(n, x, y); break;
  case oc_act_none:
  case oc_act__count:
    if (x != y) memmove(y, x, n * sizeof *y);
    break;
  }
}

/* ---- layer normalisation ------------------------------------------------- */

/* Sum of x[0..n) over LANES independent partial sums (vectorizable without
 * reassociation flags), combined in double. */
static double sum_lanes(size_t n, const float *restrict x) {
  float part[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    for (size_t l = 0; l < LANES; l++) part[l] += x[i + l];
  }
  double total = 0.0;
  for (; i < n; i++) total += x[i];
  for (size_t l = 0; l < LANES; l++) total += part[l];
  return total;
}

static double sumsq_dev_lanes(size_t n, const float *restrict x, float mean) {
  float part[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    for (size_t l = 0; l < LANES; l++) {
      float d = x[i + l] - mean;
      part[l] += d * d;
    }
  }
  double total = 0.0;
  for (; i < n; i++) {
    double d = (double)x[i] - mean;
    total += d * d;
  }
  for (size_t l = 0; l < LANES; l++) total += part[l];
  return total;
}

/* Two passes (mean, then the variance of the deviations) rather than
 * E[x^2] - E[x]^2, which cancels badly when |mean| >> stddev. */
CPU_CLONES
static void f32_layernorm__auto(size_t rows, size_t c, const float *restrict x,
                                const float *restrict gamma, const float *restrict beta,
                                float *restrict y) {
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * c;
    float *yr = y + r * c;
    float mean = (float)(sum_lanes(c, xr) / (double)c);
    double var = sumsq_dev_lanes(c, xr, mean) / (double)c;
    float inv = (float)(1.0 / sqrt(var + 1e-5));
    if (beta) {
      for (size_t i = 0; i < c; i++) yr[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
    } else {
      for (size_t i = 0; i < c; i++) yr[i] = (xr[i] - mean) * inv * gamma[i];
    }
  }
}

static size_t ln_rows_per_task(size_t c) {
  size_t rows = LN_TILE_ELEMS / c;
  return rows ? rows : 1;
}

static void layernorm_task(void *context, size_t tile) {
  const struct cpu_own *own = context;
  size_t per = ln_rows_per_task(own->cols);
  size_t start = tile * per;
  size_t rows = own->rows - start < per ? own->rows - start : per;
  f32_layernorm__auto(rows, own->cols, own->x + start * own->cols, own->x2, own->x3,
                      own->y + start * own->cols);
}

/* ---- matmul -------------------------------------------------------------- */

/* c[MM_MR][MM_NR] (ldc) = (accumulate ? c : 0) + a[MM_MR][kc] (lda) x
 * b[kc][MM_NR] (ldb). The accumulator tile has a fixed size so that it lives
 * in vector registers. */
CPU_CLONES
static void f32_matmul_4x32__auto(size_t kc, const float *restrict a, size_t lda,
                                  const float *restrict b, size_t ldb, float *restrict c,
                                  size_t ldc, bool accumulate) {
  float acc[MM_MR][MM_NR];
  for (size_t r = 0; r < MM_MR; r++) {
    for (size_t j = 0; j < MM_NR; j++) acc[r][j] = accumulate ? c[r * ldc + j] : 0.0f;
  }
  for (size_t p = 0; p < kc; p++) {
    const float *restrict bp = b + p * ldb;
    for (size_t r = 0; r < MM_MR; r++) {
      const float ar = a[r * lda + p];
      for (size_t j = 0; j < MM_NR; j++) acc[r][j] += ar * bp[j];
    }
  }
  for (size_t r = 0; r < MM_MR; r++) {
    for (size_t j = 0; j < MM_NR; j++) c[r * ldc + j] = acc[r][j];
  }
}

/* The same for an edge tile of mr <= MM_MR rows and nr <= MM_NR columns. */
CPU_CLONES
static void f32_matmul_edge__auto(size_t mr, size_t nr, size_t kc, const float *restrict a,
                                  size_t lda, const float *restrict b, size_t ldb,
                                  float *restrict c, size_t ldc, bool accumulate) {
  float acc[MM_MR][MM_NR];
  for (size_t r = 0; r < mr; r++) {
    for (size_t j = 0; j < nr; j++) acc[r][j] = accumulate ? c[r * ldc + j] : 0.0f;
  }
  for (size_t p = 0; p < kc; p++) {
    const float *restrict bp = b + p * ldb;
    for (size_t r = 0; r < mr; r++) {
      const float ar = a[r * lda + p];
      for (size_t j = 0; j < nr; j++) acc[r][j] += ar * bp[j];
    }
  }
  for (size_t r = 0; r < mr; r++) {
    for (size_t j = 0; j < nr; j++) c[r * ldc + j] = acc[r][j];
  }
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* One task: the output tile (batch, row block, column block); row blocks
 * vary fastest so consecutive tasks reuse the same panel of B. */
static void matmul_task(void *context, size_t task) {
  const struct cpu_own *own = context;
  const size_t m_blocks = ceil_div(own->m, MM_MR);
  const size_t n_blocks = ceil_div(own->n, MM_NR);
  const size_t ib = task % m_blocks;
  const size_t jb = (task / m_blocks) % n_blocks;
  const size_t batch = task / (m_blocks * n_blocks);
  const size_t m = own->m, n = own->n, k = own->k;
  const size_t i0 = ib * MM_MR, j0 = jb * MM_NR;
  const size_t mr = m - i0 < MM_MR ? m - i0 : MM_MR;
  const size_t nr = n - j0 < MM_NR ? n - j0 : MM_NR;
  /* B as [k][n]: the input itself, or its transpose made by transpose_task. */
  const float *bmat = own->tb ? own->scratch : own->x2;
  const float *a = own->x + batch * m * k + i0 * k;
  const float *b = bmat + batch * k * n + j0;
  float *c = own->y + batch * m * n + i0 * n + j0;
  for (size_t p0 = 0; p0 < k; p0 += MM_KC) {
    size_t kc = k - p0 < MM_KC ? k - p0 : MM_KC;
    if (mr == MM_MR && nr == MM_NR)
      f32_matmul_4x32__auto(kc, a + p0, k, b + p0 * n, n, c, n, p0 > 0);
    else
      f32_matmul_edge__auto(mr, nr, kc, a + p0, k, b + p0 * n, n, c, n, p0 > 0);
  }
}

/* B [batch][n][k] -> scratch [batch][k][n], TR_ROWS rows of B per task. */
static void f32_transpose__scalar(size_t rows, size_t k, size_t ld_out, const float *restrict b,
                                  float *restrict bt) {
  for (size_t p = 0; p < k; p++) {
    for (size_t j = 0; j < rows; j++) bt[p * ld_out + j] = b[j * k + p];
  }
}

static void transpose_task(void *context, size_t task) {
  const struct cpu_own *own = context;
  const size_t blocks = ceil_div(own->n, TR_ROWS);
  const size_t batch = task / blocks, j0 = (task % blocks) * TR_ROWS;
  const size_t rows = own->n - j0 < TR_ROWS ? own->n - j0 : TR_ROWS;
  const size_t kn = own->k * own->n;
  f32_transpose__scalar(rows, own->k, own->n, own->x2 + batch * kn + j0 * own->k,
                        own->scratch + batch * kn + j0);
}

/* ---- 1x1 pooling --------------------------------------------------------- */

/* A 1x1 window with "same" padding has no padding: output pixel (y, x) is
 * input pixel (y*s, x*s), for max and average alike. One output row a task. */
static void f32_subsample__scalar(size_t ow, size_t c, size_t s, const float *restrict x,
                                  float *restrict y) {
  for (size_t ox = 0; ox < ow; ox++) memcpy(y + ox * c, x + ox * s * c, c * sizeof *y);
}

static void subsample_task(void *context, size_t oy) {
  const struct cpu_own *own = context;
  f32_subsample__scalar(own->ow, own->c, own->s, own->x + oy * own->s * own->w * own->c,
                        own->y + oy * own->ow * own->c);
}

/* ---- dispatch ------------------------------------------------------------ */

void oc__cpu_own_run(const struct cpu_own *own, pthreadpool_t pool) {
  void *context = (void *)own; /* pthreadpool's task signature is not const */
  switch (own->kind) {
  case cpu_own_act:
    pthreadpool_parallelize_1d(pool, act_task, context, ceil_div(own->n, ACT_TILE), 0);
    break;
  case cpu_own_layernorm:
    pthreadpool_parallelize_1d(pool, layernorm_task, context,
                               ceil_div(own->rows, ln_rows_per_task(own->cols)), 0);
    break;
  case cpu_own_matmul:
    if (own->tb)
      pthreadpool_parallelize_1d(pool, transpose_task, context,
                                 own->batch * ceil_div(own->n, TR_ROWS), 0);
    pthreadpool_parallelize_1d(pool, matmul_task, context,
                               own->batch * ceil_div(own->m, MM_MR) * ceil_div(own->n, MM_NR),
                               0);
    break;
  case cpu_own_subsample:
    pthreadpool_parallelize_1d(pool, subsample_task, context, own->oh, 0);
    break;
  }
}
