/* kernels_s8.c - the int8 (qs8) kernels of the firmware, in the manner of
 * CMSIS-NN but written for opcost: convolution through an im2col of two
 * output columns into int16 with the input offset applied, dot products with
 * the DSP extension's dual 16-bit multiply-accumulate (SMLAD) on weights
 * sign-extended four at a time (SXTB16), int32 accumulators, and one
 * requantisation per output (mcu_wire.h: multiply, round half up, shift).
 *
 * The im2col columns store each group of four taps as x0 x2 x1 x3, the
 * order SXTB16 yields weights in (bytes 0 and 2, then 1 and 3), so a 32-bit
 * load of weights pairs with two 32-bit loads of the column. Without the DSP
 * extension (Cortex-M3) the same order is walked with scalar code.
 *
 * Every kernel computes exactly the integer definition of docs/mcu.md; the
 * host's quantised reference (targets/mcu/mcu_qref.c) is checked against
 * these bit for bit (layernorm, which uses float, within one step). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fw.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define FW_DSP 1
static inline int32_t smlad(int32_t a, int32_t b, int32_t acc) {
  int32_t r;
  __asm("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
}
static inline int32_t sxtb16(uint32_t x) {
  int32_t r;
  __asm("sxtb16 %0, %1" : "=r"(r) : "r"(x));
  return r;
}
static inline int32_t sxtb16_ror8(uint32_t x) {
  int32_t r;
  __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
#else
#define FW_DSP 0
#endif

static inline int32_t requant(int32_t acc, int32_t mult, int32_t shift) {
  int64_t p = (int64_t)acc * mult + ((int64_t)1 << (shift - 1));
  return (int32_t)(p >> shift);
}

static inline int8_t clamp8(int32_t v, int32_t lo, int32_t hi) {
  return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* Position of tap t in an im2col column of n taps (groups of four stored
 * as x0 x2 x1 x3; a tail of fewer than four in order). */
static inline int32_t col_pos(int32_t t, int32_t n) {
  static const int8_t order[4] = {0, 2, 1, 3};
  return t < (n & ~3) ? (t & ~3) + order[t & 3] : t;
}

/* Dot product of n int8 weights with an im2col column of n int16. */
static int32_t dot_s8_s16(const int8_t *w, const int16_t *col, int32_t n, int32_t acc) {
  int32_t t = 0;
#if FW_DSP
  for (; t + 4 <= n; t += 4) {
    uint32_t wv;
    int32_t c02, c13;
    memcpy(&wv, w + t, 4);
    memcpy(&c02, col + t, 4);
    memcpy(&c13, col + t + 2, 4);
    acc = smlad(sxtb16(wv), c02, acc);
    acc = smlad(sxtb16_ror8(wv), c13, acc);
  }
#else
  for (; t + 4 <= n; t += 4) {
    acc += w[t] * col[t] + w[t + 2] * col[t + 1] + w[t + 1] * col[t + 2] + w[t + 3] * col[t + 3];
  }
#endif
  for (; t < n; t++) acc += w[t] * col[t];
  return acc;
}

/* Two output columns at once: each weight word is loaded and extended once. */
static void dot2_s8_s16(const int8_t *w, const int16_t *c0, const int16_t *c1, int32_t n,
                        int32_t *acc0, int32_t *acc1) {
  int32_t a0 = *acc0, a1 = *acc1, t = 0;
#if FW_DSP
  for (; t + 4 <= n; t += 4) {
    uint32_t wv;
    int32_t x02, x13, y02, y13;
    memcpy(&wv, w + t, 4);
    const int32_t w02 = sxtb16(wv), w13 = sxtb16_ror8(wv);
    memcpy(&x02, c0 + t, 4);
    memcpy(&x13, c0 + t + 2, 4);
    memcpy(&y02, c1 + t, 4);
    memcpy(&y13, c1 + t + 2, 4);
    a0 = smlad(w02, x02, a0);
    a0 = smlad(w13, x13, a0);
    a1 = smlad(w02, y02, a1);
    a1 = smlad(w13, y13, a1);
  }
#endif
  *acc0 = a0;
  *acc1 = a1;
  if (t < n) {
    *acc0 = dot_s8_s16(w + t, c0 + t, n - t, *acc0);
    *acc1 = dot_s8_s16(w + t, c1 + t, n - t, *acc1);
  }
}

/* im2col of output pixel p for group g: taps (ky, kx, i) minus the input
 * zero point; taps outside the image are 0 (the zero point's value). */
static void im2col(const struct fw_op *f, int32_t p, int32_t group, int16_t *col) {
  const struct oc_op *op = &f->op;
  const int8_t *in = f->buf[oc__mcu_buf_in0];
  const int32_t cin_g = op->cin / op->g, n = op->k * op->k * cin_g;
  const int32_t y = p / f->ow, x = p % f->ow;
  int32_t t = 0;
  for (int32_t ky = 0; ky < op->k; ky++) {
    const int32_t iy = y * op->s - f->pt + ky * op->d;
    for (int32_t kx = 0; kx < op->k; kx++) {
      const int32_t ix = x * op->s - f->pl + kx * op->d;
      const int inside = iy >= 0 && iy < op->h && ix >= 0 && ix < op->w;
      const int8_t *px = in + ((int64_t)iy * op->w + ix) * op->cin + group * cin_g;
      for (int32_t i = 0; i < cin_g; i++, t++)
        col[col_pos(t, n)] = (int16_t)(inside ? px[i] - f->zi0 : 0);
    }
  }
}

static void conv2d_im2col(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const int8_t *wt = f->buf[oc__mcu_buf_weights];
  const int32_t *bias = f->buf[oc__mcu_buf_bias], *rq = f->buf[oc__mcu_buf_qparams];
  int8_t *out = f->buf[oc__mcu_buf_out];
  int16_t *col0 = f->buf[oc__mcu_buf_scratch];
  const int32_t cin_g = op->cin / op->g, cout_g = op->cout / op->g;
  const int32_t n = op->k * op->k * cin_g, pixels = f->oh * f->ow;
  int16_t *col1 = col0 + n;
  for (int32_t group = 0; group < op->g; group++) {
    for (int32_t p = 0; p < pixels; p += 2) {
      const int pair = p + 1 < pixels;
      im2col(f, p, group, col0);
      if (pair) im2col(f, p + 1, group, col1);
      for (int32_t o = group * cout_g; o < (group + 1) * cout_g; o++) {
        int32_t acc0 = bias[o], acc1 = bias[o];
        const int8_t *w = wt + (int64_t)o * n;
        if (pair)
          dot2_s8_s16(w, col0, col1, n, &acc0, &acc1);
        else
          acc0 = dot_s8_s16(w, col0, n, acc0);
        out[(int64_t)p * op->cout + o] =
            clamp8(f->zo + requant(acc0, rq[2 * o], rq[2 * o + 1]), f->lo, f->hi);
        if (pair)
          out[(int64_t)(p + 1) * op->cout + o] =
              clamp8(f->zo + requant(acc1, rq[2 * o], rq[2 * o + 1]), f->lo, f->hi);
      }
    }
  }
}

/* One input channel per group (depthwise, with a channel multiplier
 * cout/g): a direct loop, as there is nothing to reuse across channels. */
static void conv2d_depthwise(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const int8_t *in = f->buf[oc__mcu_buf_in0], *wt = f->buf[oc__mcu_buf_weights];
  const int32_t *bias = f->buf[oc__mcu_buf_bias], *rq = f->buf[oc__mcu_buf_qparams];
  int8_t *out = f->buf[oc__mcu_buf_out];
  const int32_t mult = op->cout / op->g, k = op->k;
  for (int32_t y = 0; y < f->oh; y++) {
    for (int32_t x = 0; x < f->ow; x++) {
      int8_t *po = out + ((int64_t)y * f->ow + x) * op->cout;
      for (int32_t o = 0; o < op->cout; o++) {
        const int32_t ci = o / mult;
        int32_t acc = bias[o];
        const int8_t *w = wt + (int64_t)o * k * k;
        for (int32_t ky = 0; ky < k; ky++) {
          const int32_t iy = y * op->s - f->pt + ky * op->d;
          if (iy < 0 || iy >= op->h) continue;
          for (int32_t kx = 0; kx < k; kx++) {
            const int32_t ix = x * op->s - f->pl + kx * op->d;
            if (ix < 0 || ix >= op->w) continue;
            acc += (in[((int64_t)iy * op->w + ix) * op->cin + ci] - f->zi0) * w[ky * k + kx];
          }
        }
        po[o] = clamp8(f->zo + requant(acc, rq[2 * o], rq[2 * o + 1]), f->lo, f->hi);
      }
    }
  }
}

static void fc(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const int8_t *in = f->buf[oc__mcu_buf_in0], *wt = f->buf[oc__mcu_buf_weights];
  const int32_t *bias = f->buf[oc__mcu_buf_bias], *rq = f->buf[oc__mcu_buf_qparams];
  int8_t *out = f->buf[oc__mcu_buf_out];
  int16_t *col = f->buf[oc__mcu_buf_scratch];
  for (int32_t r = 0; r < op->m; r++) {
    const int8_t *row = in + (int64_t)r * op->cin;
    for (int32_t i = 0; i < op->cin; i++) col[col_pos(i, op->cin)] = (int16_t)(row[i] - f->zi0);
    for (int32_t o = 0; o < op->cout; o++) {
      int32_t acc = dot_s8_s16(wt + (int64_t)o * op->cin, col, op->cin, bias[o]);
      out[(int64_t)r * op->cout + o] =
          clamp8(f->zo + requant(acc, rq[2 * o], rq[2 * o + 1]), f->lo, f->hi);
    }
  }
}

/* sum_i (a_i - za)(b_i - zb) = sum_i a_i (b_i - zb) - za sum_i (b_i - zb):
 * B's column is expanded once (with its offset) and A's rows are read as
 * raw int8, so A needs no copy. */
static void matmul(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const int8_t *a = f->buf[oc__mcu_buf_in0], *b = f->buf[oc__mcu_buf_in1];
  int8_t *out = f->buf[oc__mcu_buf_out];
  int16_t *col = f->buf[oc__mcu_buf_scratch];
  const int32_t m = op->m, k = op->k, n = op->n;
  for (int32_t bi = 0; bi < op->b; bi++) {
    const int8_t *ab = a + (int64_t)bi * m * k, *bb = b + (int64_t)bi * k * n;
    int8_t *ob = out + (int64_t)bi * m * n;
    for (int32_t c = 0; c < n; c++) {
      int32_t col_sum = 0;
      for (int32_t i = 0; i < k; i++) {
        const int32_t v = (op->tb ? bb[(int64_t)c * k + i] : bb[(int64_t)i * n + c]) - f->zi1;
        col[col_pos(i, k)] = (int16_t)v;
        col_sum += v;
      }
      for (int32_t r = 0; r < m; r++) {
        int32_t acc = dot_s8_s16(ab + (int64_t)r * k, col, k, 0) - f->zi0 * col_sum;
        ob[(int64_t)r * n + c] = clamp8(f->zo + requant(acc, f->m0, f->r0), f->lo, f->hi);
      }
    }
  }
}

static void pool(const struct fw_op *f, int average) {
  const struct oc_op *op = &f->op;
  const int8_t *in = f->buf[oc__mcu_buf_in0];
  int8_t *out = f->buf[oc__mcu_buf_out];
  int32_t *acc = f->buf[oc__mcu_buf_scratch];
  for (int32_t y = 0; y < f->oh; y++) {
    for (int32_t x = 0; x < f->ow; x++) {
      int8_t *po = out + ((int64_t)y * f->ow + x) * op->c;
      int32_t count = 0;
      for (int32_t ky = 0; ky < op->k; ky++) {
        const int32_t iy = y * op->s - f->pt + ky;
        if (iy < 0 || iy >= op->h) continue;
        for (int32_t kx = 0; kx < op->k; kx++) {
          const int32_t ix = x * op->s - f->pl + kx;
          if (ix < 0 || ix >= op->w) continue;
          const int8_t *pi = in + ((int64_t)iy * op->w + ix) * op->c;
          if (average) {
            if (count == 0)
              for (int32_t c = 0; c < op->c; c++) acc[c] = pi[c] - f->zi0;
            else
              for (int32_t c = 0; c < op->c; c++) acc[c] += pi[c] - f->zi0;
          } else {
            if (count == 0)
              memcpy(po, pi, (size_t)op->c);
            else
              for (int32_t c = 0; c < op->c; c++) po[c] = pi[c] > po[c] ? pi[c] : po[c];
          }
          count++;
        }
      }
      if (average) {
        for (int32_t c = 0; c < op->c; c++)
          po[c] = clamp8(f->zo + oc__mcu_div_round(acc[c], count), -128, 127);
      }
    }
  }
}

static void gap(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const int8_t *in = f->buf[oc__mcu_buf_in0];
  int8_t *out = f->buf[oc__mcu_buf_out];
  int32_t *acc = f->buf[oc__mcu_buf_scratch];
  const int32_t pixels = op->h * op->w;
  for (int32_t c = 0; c < op->c; c++) acc[c] = 0;
  for (int32_t p = 0; p < pixels; p++) {
    const int8_t *pi = in + (int64_t)p * op->c;
    for (int32_t c = 0; c < op->c; c++) acc[c] += pi[c] - f->zi0;
  }
  for (int32_t c = 0; c < op->c; c++)
    out[c] = clamp8(f->zo + oc__mcu_div_round(acc[c], pixels), -128, 127);
}

static void softmax(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const int8_t *in = f->buf[oc__mcu_buf_in0];
  const uint32_t *table = f->buf[oc__mcu_buf_qparams];
  int8_t *out = f->buf[oc__mcu_buf_out];
  const int32_t pixels = op->h * op->w;
  for (int32_t p = 0; p < pixels; p++) {
    const int8_t *x = in + (int64_t)p * op->c;
    int8_t *y = out + (int64_t)p * op->c;
    int32_t max = x[0];
    for (int32_t c = 1; c < op->c; c++) max = x[c] > max ? x[c] : max;
    uint64_t sum = 0;
    for (int32_t c = 0; c < op->c; c++) sum += table[max - x[c]];
    for (int32_t c = 0; c < op->c; c++) {
      const uint64_t e = table[max - x[c]];
      y[c] = clamp8((int32_t)((e * 256u + sum / 2u) / sum) - 128, -128, 127);
    }
  }
}

static void layernorm(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const int8_t *in = f->buf[oc__mcu_buf_in0];
  const float *gamma = f->buf[oc__mcu_buf_weights], *beta = f->buf[oc__mcu_buf_bias];
  int8_t *out = f->buf[oc__mcu_buf_out];
  const int32_t pixels = op->h * op->w;
  for (int32_t p = 0; p < pixels; p++) {
    const int8_t *x = in + (int64_t)p * op->c;
    int8_t *y = out + (int64_t)p * op->c;
    int32_t sum = 0;
    int64_t squares = 0;
    for (int32_t c = 0; c < op->c; c++) {
      const int32_t v = x[c] - f->zi0;
      sum += v;
      squares += v * v;
    }
    const float mean = (float)sum / (float)op->c;
    float var = (float)squares / (float)op->c - mean * mean;
    if (var < 0.0f) var = 0.0f;
    const float inv = 1.0f / sqrtf(f->fi * f->fi * var + 1e-5f);
    const float scale = f->fi * inv;
    for (int32_t c = 0; c < op->c; c++) {
      const float v = ((float)(x[c] - f->zi0) - mean) * scale * gamma[c] + beta[c];
      y[c] = clamp8(f->zo + (int32_t)floorf(v / f->fo + 0.5f), -128, 127);
    }
  }
}

int fw_kernel_s8(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const int8_t *a = f->buf[oc__mcu_buf_in0], *b = f->buf[oc__mcu_buf_in1];
  int8_t *out = f->buf[oc__mcu_buf_out];
  const int32_t elems = op->h * op->w * op->c;
  switch (op->kind) {
  case oc_op_conv2d:
    if (op->cin == op->g)
      conv2d_depthwise(f);
    else
      conv2d_im2col(f);
    return 0;
  case oc_op_fc: fc(f); return 0;
  case oc_op_matmul: matmul(f); return 0;
  case oc_op_maxpool2d: pool(f, 0); return 0;
  case oc_op_avgpool2d: pool(f, 1); return 0;
  case oc_op_gap: gap(f); return 0;
  case oc_op_act: {
    const int8_t *table = f->buf[oc__mcu_buf_qparams];
    for (int32_t i = 0; i < elems; i++) out[i] = table[a[i] + 128];
    return 0;
  }
  case oc_op_add:
    for (int32_t i = 0; i < elems; i++) {
      const int64_t acc = (int64_t)(a[i] - f->zi0) * f->m0 + (int64_t)(b[i] - f->zi1) * f->m1;
      const int32_t v = (int32_t)((acc + ((int64_t)1 << (f->r0 - 1))) >> f->r0);
      out[i] = clamp8(f->zo + v, f->lo, f->hi);
    }
    return 0;
  case oc_op_mul:
    for (int32_t i = 0; i < elems; i++) {
      const int32_t bv = op->bc ? b[i % op->c] : b[i];
      const int32_t prod = (a[i] - f->zi0) * (bv - f->zi1);
      out[i] = clamp8(f->zo + requant(prod, f->m0, f->r0), f->lo, f->hi);
    }
    return 0;
  case oc_op_layernorm: layernorm(f); return 0;
  case oc_op_softmax: softmax(f); return 0;
  case oc_op_concat: {
    const int32_t pixels = op->h * op->w;
    for (int32_t p = 0; p < pixels; p++) {
      memcpy(out + (int64_t)p * (op->c + op->c2), a + (int64_t)p * op->c, (size_t)op->c);
      memcpy(out + (int64_t)p * (op->c + op->c2) + op->c, b + (int64_t)p * op->c2,
             (size_t)op->c2);
    }
    return 0;
  }
  default: return 1;
  }
}
