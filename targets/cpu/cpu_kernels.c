/* cpu_kernels.c - opcost's own f32 kernels for the cpu backend, where the
 * Debian XNNPACK (2022-02) has no operator: layer normalisation, the
 * activations it lacks (hsigmoid, swish, exact-erf gelu, tanh), batched
 * matmul of two activation tensors, and 1x1 pooling (XNNPACK rejects a
 * pooling window of one pixel).
 *
 * The kernels are plain C written for gcc's auto-vectorizer (this file is
 * built with -O3 and FMA contraction): unit-stride inner loops, fixed-size
 * accumulator tiles, reductions split over independent lanes, and
 * transcendentals (exp, erfc, tanh) as polynomials instead of libm calls.
 * On x86-64 gcc the hot loops are cloned per ISA level (x86-64-v4 = AVX-512,
 * v3 = AVX2+FMA, baseline SSE2) and picked at load time, so the binary stays
 * portable. Names end in __auto (vectorized by the compiler) or __scalar.
 *
 * Work is spread over the pthreadpool in fixed tiles, so every output element
 * is computed by the same arithmetic whatever the thread count. Nothing here
 * allocates: scratch space comes from prepare. */
#include <math.h>
#include <stdint.h>
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
/* Matmul register tile MM_MR x MM_NR (12 AVX-512 or 24 AVX2 accumulators;
 * 6 rows measured best of 4, 6 and 8 on an AVX-512 core), and the depth of
 * one pass over B (MM_KC rows of a MM_NR-wide panel: 64 KiB, inside L2). */
#define MM_MR 6
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

/* Transcendentals as straight-line float code the vectorizer can widen (a
 * libm call per element would keep every loop scalar). Accuracy, measured
 * against libm in double over dense grids: exp within 1.2 ulp on [-87, 88];
 * sigmoid and tanh within 3 ulp everywhere; gelu within 5e-6 relative for
 * x >= -6 and 2e-5 below, where it is under 1e-15 in magnitude. */

/* e^x: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 split in a part
 * exact in float and the rest), e^r by its Taylor series to r^7 (truncation
 * < 1e-8 relative), 2^n built in the exponent bits. x is clamped to
 * [-87, 88], where 2^n stays a normal float; below -87 the result is about
 * 1.6e-38 instead of smaller, which no caller can tell from zero. */
static float exp_poly(float x) {
  const float log2e = 1.44269504088896341f;
  const float ln2_hi = 0.693145751953125f; /* 12 significant bits: n * ln2_hi is exact */
  const float ln2_lo = 1.428606765330187e-06f;
  const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float n = (x * log2e + round_magic) - round_magic;
  float r = x - n * ln2_hi;
  r = r - n * ln2_lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = ((int32_t)n + 127) * (1 << 23);
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/* 1 / (1 + e^-x), from e^-|x| so that no large exponential is formed and
 * the negative side keeps its relative accuracy. */
static float sigmoid_poly(float x) {
  float e = exp_poly(x < 0.0f ? x : -x);
  float d = 1.0f / (1.0f + e);
  return x >= 0.0f ? d : e * d;
}

/* |x| <= 0.5: the odd Taylor series of tanh to x^15 (next term < 1e-8
 * relative); above: 1 - 2 / (e^2|x| + 1), whose cancellation costs at most
 * two bits there. |x| >= 9 is +-1 in float. */
static float tanh_poly(float x) {
  float a = x < 0.0f ? -x : x;
  float x2 = x * x;
  float p = -929569.0f / 638512875.0f;
  p = p * x2 + 21844.0f / 6081075.0f;
  p = p * x2 - 1382.0f / 155925.0f;
  p = p * x2 + 62.0f / 2835.0f;
  p = p * x2 - 17.0f / 315.0f;
  p = p * x2 + 2.0f / 15.0f;
  p = p * x2 - 1.0f / 3.0f;
  p = p * x2 + 1.0f;
  float small = x * p;
  float e = exp_poly(2.0f * (a > 9.0f ? 9.0f : a));
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0.0f ? -big : big;
  return a <= 0.5f ? small : big;
}

/* 0.5 x (1 + erf(x / sqrt 2)) through erfc(z), z = |x| / sqrt 2: for x < 0
 * it is 0.5 x erfc(z), for x >= 0 x - 0.5 x erfc(z), so the tiny values on
 * the negative side keep their relative accuracy. erfc is the Chebyshev
 * fit t exp(-z^2 + P(t)), t = 1 / (1 + z/2), with fractional error below
 * 1.2e-7 for every z >= 0 (Press et al., Numerical Recipes, "erfcc"). */
static float gelu_poly(float x) {
  float z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  float erfc = t * exp_poly(p - z * z);
  float q = 0.5f * x * erfc;
  return x >= 0.0f ? x - q : q;
}

CPU_CLONES
static void f32_sigmoid__auto(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = sigmoid_poly(x[i]);
}

CPU_CLONES
static void f32_swish__auto(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] * sigmoid_poly(x[i]);
}

CPU_CLONES
static void f32_gelu__auto(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = gelu_poly(x[i]);
}

CPU_CLONES
static void f32_tanh__auto(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = tanh_poly(x[i]);
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
  case oc_act_sigmoid: f32_sigmoid__auto(n, x, y); break;
  case oc_act_swish: f32_swish__auto(n, x, y); break;
  case oc_act_gelu: f32_gelu__auto(n, x, y); break;
  case oc_act_tanh: f32_tanh__auto(n, x, y); break;
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

/* tile[MM_MR][MM_NR] += a_rows[r][0..kc) x b[kc][MM_NR] (row stride ldb).
 * The tile has a fixed size so that it lives in vector registers; rows come
 * as pointers so an edge block repeats its last real row instead of reading
 * past A. */
CPU_CLONES
static void f32_matmul_6x32__auto(size_t kc, const float *const a_rows[MM_MR],
                                  const float *restrict b, size_t ldb,
                                  float tile[restrict MM_MR][MM_NR]) {
  float acc[MM_MR][MM_NR];
  for (size_t r = 0; r < MM_MR; r++) {
    for (size_t j = 0; j < MM_NR; j++) acc[r][j] = tile[r][j];
  }
  for (size_t p = 0; p < kc; p++) {
    const float *restrict bp = b + p * ldb;
    for (size_t r = 0; r < MM_MR; r++) {
      const float ar = a_rows[r][p];
      for (size_t j = 0; j < MM_NR; j++) acc[r][j] += ar * bp[j];
    }
  }
  for (size_t r = 0; r < MM_MR; r++) {
    for (size_t j = 0; j < MM_NR; j++) tile[r][j] = acc[r][j];
  }
}

/* The same for the last nr < MM_NR columns of an unpadded B (tb=0). */
CPU_CLONES
static void f32_matmul_6xn__auto(size_t kc, size_t nr, const float *const a_rows[MM_MR],
                                 const float *restrict b, size_t ldb,
                                 float tile[restrict MM_MR][MM_NR]) {
  for (size_t p = 0; p < kc; p++) {
    const float *restrict bp = b + p * ldb;
    for (size_t r = 0; r < MM_MR; r++) {
      const float ar = a_rows[r][p];
      for (size_t j = 0; j < nr; j++) tile[r][j] += ar * bp[j];
    }
  }
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

size_t oc__cpu_matmul_ldb(size_t n) { return ceil_div(n, MM_NR) * MM_NR; }

/* One task: the output tile (batch, row block, column block); row blocks
 * vary fastest so consecutive tasks reuse the same panel of B. The product
 * accumulates in a local tile over passes of MM_KC rows of B, then the real
 * mr x nr part is stored. */
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
  /* B as [k][ldb]: the input itself, or its transpose made by transpose_task
   * with columns padded by zeros to whole tiles. */
  const size_t ldb = own->tb ? oc__cpu_matmul_ldb(n) : n;
  const float *b = (own->tb ? own->scratch : own->x2) + batch * k * ldb + j0;
  const bool full_width = nr == MM_NR || own->tb;
  const float *a_rows[MM_MR];
  float tile[MM_MR][MM_NR];
  for (size_t r = 0; r < MM_MR; r++)
    a_rows[r] = own->x + (batch * m + i0 + (r < mr ? r : mr - 1)) * k;
  memset(tile, 0, sizeof tile);
  for (size_t p0 = 0; p0 < k; p0 += MM_KC) {
    const size_t kc = k - p0 < MM_KC ? k - p0 : MM_KC;
    if (full_width)
      f32_matmul_6x32__auto(kc, a_rows, b + p0 * ldb, ldb, tile);
    else
      f32_matmul_6xn__auto(kc, nr, a_rows, b + p0 * ldb, ldb, tile);
    for (size_t r = 0; r < MM_MR; r++) a_rows[r] += kc;
  }
  float *c = own->y + (batch * m + i0) * n + j0;
  for (size_t r = 0; r < mr; r++) memcpy(c + r * n, tile[r], nr * sizeof(float));
}

/* rows of B [n][k] -> columns of B^T [k][ld_out]. */
static void f32_transpose__scalar(size_t rows, size_t k, size_t ld_out, const float *restrict b,
                                  float *restrict bt) {
  for (size_t p = 0; p < k; p++) {
    for (size_t j = 0; j < rows; j++) bt[p * ld_out + j] = b[j * k + p];
  }
}

/* B [batch][n][k] -> scratch [batch][k][ldb], TR_ROWS rows of B per task;
 * the padding columns were zeroed at prepare and are never written. */
static void transpose_task(void *context, size_t task) {
  const struct cpu_own *own = context;
  const size_t blocks = ceil_div(own->n, TR_ROWS);
  const size_t batch = task / blocks, j0 = (task % blocks) * TR_ROWS;
  const size_t rows = own->n - j0 < TR_ROWS ? own->n - j0 : TR_ROWS;
  const size_t ldb = oc__cpu_matmul_ldb(own->n);
  f32_transpose__scalar(rows, own->k, ldb, own->x2 + (batch * own->n + j0) * own->k,
                        own->scratch + batch * own->k * ldb + j0);
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
