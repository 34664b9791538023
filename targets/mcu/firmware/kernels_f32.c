/* kernels_f32.c - the f32 kernels of the firmware: one direct loop nest per
 * op kind of ops.def, accumulating in float on the FPU (single precision on
 * the Cortex-M4, double-capable FPU on the M7, used in single here too).
 * They follow the definitions of the host's reference kernels (ref.h) so
 * that the conformance suite can check them; transcendentals come from
 * newlib's libm. Buffers are the arena's (fw.h); nothing is allocated. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fw.h"

static float relu6(float x) { return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x); }

static float act_apply(enum oc_act act, float x) {
  switch (act) {
  case oc_act_none: return x;
  case oc_act_relu: return x < 0.0f ? 0.0f : x;
  case oc_act_relu6: return relu6(x);
  case oc_act_hswish: return x * relu6(x + 3.0f) / 6.0f;
  case oc_act_hsigmoid: return relu6(x + 3.0f) / 6.0f;
  case oc_act_sigmoid: return 1.0f / (1.0f + expf(-x));
  case oc_act_swish: return x / (1.0f + expf(-x));
  case oc_act_gelu: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
  case oc_act_tanh: return tanhf(x);
  default: return x;
  }
}

static void conv2d(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const float *in = f->buf[oc__mcu_buf_in0], *wt = f->buf[oc__mcu_buf_weights];
  const float *bias = f->buf[oc__mcu_buf_bias];
  float *out = f->buf[oc__mcu_buf_out];
  const int32_t cin_g = op->cin / op->g, cout_g = op->cout / op->g, k = op->k;
  for (int32_t y = 0; y < f->oh; y++) {
    for (int32_t x = 0; x < f->ow; x++) {
      float *px_out = out + ((int64_t)y * f->ow + x) * op->cout;
      for (int32_t o = 0; o < op->cout; o++) {
        const int32_t first_in = (o / cout_g) * cin_g;
        float acc = bias[o];
        for (int32_t ky = 0; ky < k; ky++) {
          const int32_t iy = y * op->s - f->pt + ky * op->d;
          if (iy < 0 || iy >= op->h) continue;
          for (int32_t kx = 0; kx < k; kx++) {
            const int32_t ix = x * op->s - f->pl + kx * op->d;
            if (ix < 0 || ix >= op->w) continue;
            const float *px = in + ((int64_t)iy * op->w + ix) * op->cin + first_in;
            const float *wk = wt + (((int64_t)o * k + ky) * k + kx) * cin_g;
            for (int32_t i = 0; i < cin_g; i++) acc += px[i] * wk[i];
          }
        }
        px_out[o] = act_apply(op->act, acc);
      }
    }
  }
}

static void fc(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const float *in = f->buf[oc__mcu_buf_in0], *wt = f->buf[oc__mcu_buf_weights];
  const float *bias = f->buf[oc__mcu_buf_bias];
  float *out = f->buf[oc__mcu_buf_out];
  for (int32_t r = 0; r < op->m; r++) {
    const float *row = in + (int64_t)r * op->cin;
    for (int32_t o = 0; o < op->cout; o++) {
      const float *w = wt + (int64_t)o * op->cin;
      float acc = bias[o];
      for (int32_t i = 0; i < op->cin; i++) acc += row[i] * w[i];
      out[(int64_t)r * op->cout + o] = act_apply(op->act, acc);
    }
  }
}

static void matmul(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const float *a = f->buf[oc__mcu_buf_in0], *b = f->buf[oc__mcu_buf_in1];
  float *out = f->buf[oc__mcu_buf_out];
  const int64_t m = op->m, k = op->k, n = op->n;
  for (int32_t bi = 0; bi < op->b; bi++) {
    const float *ab = a + bi * m * k, *bb = b + bi * k * n;
    float *ob = out + bi * m * n;
    for (int64_t r = 0; r < m; r++) {
      for (int64_t c = 0; c < n; c++) {
        float acc = 0.0f;
        if (op->tb) {
          for (int64_t i = 0; i < k; i++) acc += ab[r * k + i] * bb[c * k + i];
        } else {
          for (int64_t i = 0; i < k; i++) acc += ab[r * k + i] * bb[i * n + c];
        }
        ob[r * n + c] = acc;
      }
    }
  }
}

static void pool(const struct fw_op *f, int average) {
  const struct oc_op *op = &f->op;
  const float *in = f->buf[oc__mcu_buf_in0];
  float *out = f->buf[oc__mcu_buf_out];
  float *acc = f->buf[oc__mcu_buf_scratch];
  for (int32_t y = 0; y < f->oh; y++) {
    for (int32_t x = 0; x < f->ow; x++) {
      float *po = out + ((int64_t)y * f->ow + x) * op->c;
      float *sum = average ? acc : po;
      int32_t count = 0;
      for (int32_t ky = 0; ky < op->k; ky++) {
        const int32_t iy = y * op->s - f->pt + ky;
        if (iy < 0 || iy >= op->h) continue;
        for (int32_t kx = 0; kx < op->k; kx++) {
          const int32_t ix = x * op->s - f->pl + kx;
          if (ix < 0 || ix >= op->w) continue;
          const float *pi = in + ((int64_t)iy * op->w + ix) * op->c;
          if (count == 0) {
            memcpy(sum, pi, (size_t)op->c * sizeof *sum);
          } else if (average) {
            for (int32_t c = 0; c < op->c; c++) sum[c] += pi[c];
          } else {
            for (int32_t c = 0; c < op->c; c++) sum[c] = pi[c] > sum[c] ? pi[c] : sum[c];
          }
          count++;
        }
      }
      if (average) {
        for (int32_t c = 0; c < op->c; c++) po[c] = sum[c] / (float)count;
      }
    }
  }
}

static void gap(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const float *in = f->buf[oc__mcu_buf_in0];
  float *out = f->buf[oc__mcu_buf_out], *acc = f->buf[oc__mcu_buf_scratch];
  const int64_t pixels = (int64_t)op->h * op->w;
  for (int32_t c = 0; c < op->c; c++) acc[c] = 0.0f;
  for (int64_t p = 0; p < pixels; p++) {
    for (int32_t c = 0; c < op->c; c++) acc[c] += in[p * op->c + c];
  }
  for (int32_t c = 0; c < op->c; c++) out[c] = acc[c] / (float)pixels;
}

static void layernorm(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const float *in = f->buf[oc__mcu_buf_in0], *gamma = f->buf[oc__mcu_buf_weights];
  const float *beta = f->buf[oc__mcu_buf_bias];
  float *out = f->buf[oc__mcu_buf_out];
  const int64_t pixels = (int64_t)op->h * op->w;
  for (int64_t p = 0; p < pixels; p++) {
    const float *x = in + p * op->c;
    float *y = out + p * op->c;
    float mean = 0.0f, var = 0.0f;
    for (int32_t c = 0; c < op->c; c++) mean += x[c];
    mean /= (float)op->c;
    for (int32_t c = 0; c < op->c; c++) var += (x[c] - mean) * (x[c] - mean);
    var /= (float)op->c;
    const float inv = 1.0f / sqrtf(var + 1e-5f);
    for (int32_t c = 0; c < op->c; c++) y[c] = (x[c] - mean) * inv * gamma[c] + beta[c];
  }
}

static void softmax(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const float *in = f->buf[oc__mcu_buf_in0];
  float *out = f->buf[oc__mcu_buf_out];
  const int64_t pixels = (int64_t)op->h * op->w;
  for (int64_t p = 0; p < pixels; p++) {
    const float *x = in + p * op->c;
    float *y = out + p * op->c;
    float max = x[0], sum = 0.0f;
    for (int32_t c = 1; c < op->c; c++) max = x[c] > max ? x[c] : max;
    for (int32_t c = 0; c < op->c; c++) {
      y[c] = expf(x[c] - max);
      sum += y[c];
    }
    const float inv = 1.0f / sum;
    for (int32_t c = 0; c < op->c; c++) y[c] *= inv;
  }
}

int fw_kernel_f32(const struct fw_op *f) {
  const struct oc_op *op = &f->op;
  const float *a = f->buf[oc__mcu_buf_in0], *b = f->buf[oc__mcu_buf_in1];
  float *out = f->buf[oc__mcu_buf_out];
  const int64_t elems = (int64_t)op->h * op->w * op->c;
  switch (op->kind) {
  case oc_op_conv2d: conv2d(f); return 0;
  case oc_op_fc: fc(f); return 0;
  case oc_op_matmul: matmul(f); return 0;
  case oc_op_maxpool2d: pool(f, 0); return 0;
  case oc_op_avgpool2d: pool(f, 1); return 0;
  case oc_op_gap: gap(f); return 0;
  case oc_op_act:
    for (int64_t i = 0; i < elems; i++) out[i] = act_apply(op->act, a[i]);
    return 0;
  case oc_op_add:
    for (int64_t i = 0; i < elems; i++) out[i] = act_apply(op->act, a[i] + b[i]);
    return 0;
  case oc_op_mul:
    if (op->bc) {
      for (int64_t i = 0; i < elems; i++) out[i] = a[i] * b[i % op->c];
    } else {
      for (int64_t i = 0; i < elems; i++) out[i] = a[i] * b[i];
    }
    return 0;
  case oc_op_layernorm: layernorm(f); return 0;
  case oc_op_softmax: softmax(f); return 0;
  case oc_op_concat: {
    const int64_t pixels = (int64_t)op->h * op->w;
    for (int64_t p = 0; p < pixels; p++) {
      memcpy(out + p * (op->c + op->c2), a + p * op->c, (size_t)op->c * sizeof *out);
      memcpy(out + p * (op->c + op->c2) + op->c, b + p * op->c2, (size_t)op->c2 * sizeof *out);
    }
    return 0;
  }
  default: return 1;
  }
}
