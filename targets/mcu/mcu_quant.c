/* mcu_quant.c - the qs8 side of the mcu target on the host: the fixed
 * quantisation convention (scales and zero points of every tensor, derived
 * from the op alone, since an op key carries no quantisation parameters),
 * the fixed-point multipliers and lookup tables sent to the firmware, and a
 * quantised reference: naive loops that compute each qs8 op exactly as
 * docs/mcu.md defines it, the oracle the firmware's int8 kernels are checked
 * against bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "targets/mcu/mcu_internal.h"
#include "targets/ref/ref.h"

/* Input scales and zero points of the convention (docs/mcu.md). */
#define S_IN0 (1.0 / 16.0)
#define Z_IN0 (-3)
#define S_IN1 (1.0 / 20.0)
#define Z_IN1 5

double oc__mcu_quant_weight_scale(int32_t o) { return (1.0 + (double)(o % 5) / 4.0) / 128.0; }

void oc__mcu_quant_multiplier(double real, int32_t *mult, int32_t *shift) {
  int e = 0;
  double f = frexp(real, &e); /* real = f * 2^e, f in [0.5, 1) */
  if (real <= 0.0) {
    *mult = 0;
    *shift = 1;
    return;
  }
  int64_t m = llround(f * 2147483648.0);
  if (m == INT64_C(2147483648)) {
    m /= 2;
    e++;
  }
  int s = 31 - e;
  if (s > 62) { /* tiny multipliers lose precision rather than overflow */
    m = llround(real * 4611686018427387904.0);
    s = 62;
  }
  if (s < 1) { /* > 2^30: saturate */
    m = INT32_MAX;
    s = 1;
  }
  *mult = (int32_t)m;
  *shift = s;
}

static int32_t clamp_i32(int64_t v, int32_t lo, int32_t hi) {
  return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}

static void fused_clamp(enum oc_act act, struct oc__mcu_quant *q) {
  q->lo = -128;
  q->hi = 127;
  if (act == oc_act_relu || act == oc_act_relu6) q->lo = clamp_i32(q->zo, -128, 127);
  if (act == oc_act_relu6) q->hi = clamp_i32(q->zo + llround(6.0 / q->s_out), -128, 127);
}

enum oc_status oc__mcu_quant_make(const struct oc_op *op, struct oc__mcu_quant *q) {
  memset(q, 0, sizeof *q);
  q->s_in0 = S_IN0;
  q->zi0 = Z_IN0;
  q->s_in1 = S_IN1;
  q->zi1 = Z_IN1;
  q->s_out = S_IN0;
  q->zo = Z_IN0;
  q->lo = -128;
  q->hi = 127;
  q->r0 = 1;
  bool clamp_act = op->act == oc_act_none || op->act == oc_act_relu || op->act == oc_act_relu6;
  switch (op->kind) {
  case oc_op_conv2d:
  case oc_op_fc: {
    if (!clamp_act)
      return oc__fail(oc_status_unsupported,
                      "qs8 %s fuses only act=none, relu or relu6 (got %s)",
                      oc_op_kind_name(op->kind), oc_act_name(op->act));
    double taps = op->kind == oc_op_fc ? op->cin : (double)op->k * op->k * (op->cin / op->g);
    q->s_out = 2.0 * S_IN0 * sqrt(taps);
    q->zo = 2;
    fused_clamp(op->act, q);
    break;
  }
  case oc_op_matmul:
    q->s_out = S_IN0 * S_IN1 * 171.0 * sqrt((double)op->k);
    q->zo = -1;
    oc__mcu_quant_multiplier(S_IN0 * S_IN1 / q->s_out, &q->m0, &q->r0);
    break;
  case oc_op_add: {
    if (!clamp_act)
      return oc__fail(oc_status_unsupported, "qs8 add fuses only act=none, relu or relu6 (got %s)",
                      oc_act_name(op->act));
    q->s_out = 0.125;
    q->zo = 0;
    fused_clamp(op->act, q);
    double r0 = S_IN0 / q->s_out, r1 = S_IN1 / q->s_out;
    int e = 0;
    frexp(r0 > r1 ? r0 : r1, &e);
    q->r0 = 30 - e; /* the larger multiplier in [2^29, 2^30) */
    q->m0 = (int32_t)llround(ldexp(r0, q->r0));
    q->m1 = (int32_t)llround(ldexp(r1, q->r0));
    break;
  }
  case oc_op_mul:
    q->s_out = S_IN0 * S_IN1 * 128.0;
    q->zo = 0;
    oc__mcu_quant_multiplier(S_IN0 * S_IN1 / q->s_out, &q->m0, &q->r0);
    break;
  case oc_op_act:
    if (op->act == oc_act_sigmoid || op->act == oc_act_hsigmoid) {
      q->s_out = 1.0 / 256.0;
      q->zo = -128;
    } else if (op->act == oc_act_tanh) {
      q->s_out = 1.0 / 128.0;
      q->zo = 0;
    }
    break;
  case oc_op_softmax:
    q->s_out = 1.0 / 256.0;
    q->zo = -128;
    break;
  case oc_op_layernorm:
    q->s_out = 1.0 / 32.0;
    q->zo = 0;
    break;
  case oc_op_concat:
    q->s_in1 = S_IN0;
    q->zi1 = Z_IN0;
    break;
  case oc_op_maxpool2d:
  case oc_op_avgpool2d:
  case oc_op_gap:
  default: break;
  }
  return oc_status_ok;
}

void oc__mcu_quant_table(const struct oc_op *op, const struct oc__mcu_quant *q, void *bytes) {
  switch (op->kind) {
  case oc_op_conv2d:
  case oc_op_fc: {
    int32_t *rq = bytes;
    for (int32_t o = 0; o < op->cout; o++)
      oc__mcu_quant_multiplier(q->s_in0 * oc__mcu_quant_weight_scale(o) / q->s_out, &rq[2 * o],
                               &rq[2 * o + 1]);
    break;
  }
  case oc_op_act: {
    int8_t *table = bytes;
    for (int v = -128; v < 128; v++) {
      double x = q->s_in0 * (v - q->zi0);
      double y = (double)oc__ref_act_f32(op->act, (float)x);
      table[v + 128] = (int8_t)clamp_i32(q->zo + llround(y / q->s_out), -128, 127);
    }
    break;
  }
  case oc_op_softmax: {
    uint32_t *table = bytes;
    for (int d = 0; d < 256; d++) table[d] = (uint32_t)llround(exp(-d * q->s_in0) * 1048576.0);
    break;
  }
  default: break;
  }
}

/* ---- the quantised reference ---- */

struct qargs {
  const struct oc_op *op;
  const struct oc__mcu_quant *q;
  struct oc_op_shapes sh;
  const int8_t *a, *b, *w;
  const int32_t *bias;
  const float *gamma, *beta;
  int8_t *out;
  void *table; /* qparams buffer */
};

static int8_t out8(const struct qargs *x, int64_t v, bool fused) {
  return (int8_t)clamp_i32(v, fused ? x->q->lo : -128, fused ? x->q->hi : 127);
}

static void q_conv2d(const struct qargs *x) {
  const struct oc_op *op = x->op;
  const int32_t *rq = x->table;
  const int64_t cin_g = op->cin / op->g, cout_g = op->cout / op->g;
  for (int64_t y = 0; y < x->sh.output.h; y++)
    for (int64_t xx = 0; xx < x->sh.output.w; xx++)
      for (int64_t o = 0; o < op->cout; o++) {
        int64_t acc = x->bias ? x->bias[o] : 0;
        const int64_t first = (o / cout_g) * cin_g;
        for (int64_t ky = 0; ky < op->k; ky++) {
          int64_t iy = y * op->s - x->sh.pad_top + ky * op->d;
          if (iy < 0 || iy >= op->h) continue;
          for (int64_t kx = 0; kx < op->k; kx++) {
            int64_t ix = xx * op->s - x->sh.pad_left + kx * op->d;
            if (ix < 0 || ix >= op->w) continue;
            for (int64_t i = 0; i < cin_g; i++)
              acc += (int64_t)(x->a[(iy * op->w + ix) * op->cin + first + i] - x->q->zi0) *
                     x->w[((o * op->k + ky) * op->k + kx) * cin_g + i];
          }
        }
        x->out[(y * x->sh.output.w + xx) * op->cout + o] =
            out8(x, x->q->zo + oc__mcu_requant(acc, rq[2 * o], rq[2 * o + 1]), true);
      }
}

static void q_fc(const struct qargs *x) {
  const struct oc_op *op = x->op;
  const int32_t *rq = x->table;
  for (int64_t r = 0; r < op->m; r++)
    for (int64_t o = 0; o < op->cout; o++) {
      int64_t acc = x->bias ? x->bias[o] : 0;
      for (int64_t i = 0; i < op->cin; i++)
        acc += (int64_t)(x->a[r * op->cin + i] - x->q->zi0) * x->w[o * op->cin + i];
      x->out[r * op->cout + o] =
          out8(x, x->q->zo + oc__mcu_requant(acc, rq[2 * o], rq[2 * o + 1]), true);
    }
}

static void q_matmul(const struct qargs *x) {
  const struct oc_op *op = x->op;
  const int64_t m = op->m, k = op->k, n = op->n;
  for (int64_t bi = 0; bi < op->b; bi++)
    for (int64_t r = 0; r < m; r++)
      for (int64_t c = 0; c < n; c++) {
        int64_t acc = 0;
        for (int64_t i = 0; i < k; i++) {
          int64_t bv = op->tb ? x->b[bi * k * n + c * k + i] : x->b[bi * k * n + i * n + c];
          acc += (int64_t)(x->a[bi * m * k + r * k + i] - x->q->zi0) * (bv - x->q->zi1);
        }
        x->out[bi * m * n + r * n + c] =
            out8(x, x->q->zo + oc__mcu_requant(acc, x->q->m0, x->q->r0), false);
      }
}

static void q_pool(const struct qargs *x, bool average) {
  const struct oc_op *op = x->op;
  for (int64_t y = 0; y < x->sh.output.h; y++)
    for (int64_t xx = 0; xx < x->sh.output.w; xx++)
      for (int64_t c = 0; c < op->c; c++) {
        int64_t best = -129, sum = 0;
        int32_t count = 0;
        for (int64_t ky = 0; ky < op->k; ky++) {
          int64_t iy = y * op->s - x->sh.pad_top + ky;
          if (iy < 0 || iy >= op->h) continue;
          for (int64_t kx = 0; kx < op->k; kx++) {
            int64_t ix = xx * op->s - x->sh.pad_left + kx;
            if (ix < 0 || ix >= op->w) continue;
            int64_t v = x->a[(iy * op->w + ix) * op->c + c];
            best = v > best ? v : best;
            sum += v - x->q->zi0;
            count++;
          }
        }
        int64_t v = average ? x->q->zo + oc__mcu_div_round((int32_t)sum, count) : best;
        x->out[(y * x->sh.output.w + xx) * op->c + c] = out8(x, v, false);
      }
}

static void q_layernorm(const struct qargs *x) {
  const struct oc_op *op = x->op;
  const float fi = (float)x->q->s_in0, fo = (float)x->q->s_out;
  const int64_t pixels = (int64_t)op->h * op->w;
  for (int64_t p = 0; p < pixels; p++) {
    const int8_t *in = x->a + p * op->c;
    int32_t sum = 0;
    int64_t squares = 0;
    for (int32_t c = 0; c < op->c; c++) {
      int32_t v = in[c] - x->q->zi0;
      sum += v;
      squares += v * v;
    }
    /* The firmware's float steps, in its order (no contraction). */
    const float mean = (float)sum / (float)op->c;
    float var = (float)squares / (float)op->c - mean * mean;
    if (var < 0.0f) var = 0.0f;
    const float inv = 1.0f / sqrtf(fi * fi * var + 1e-5f);
    const float scale = fi * inv;
    for (int32_t c = 0; c < op->c; c++) {
      const float v = ((float)(in[c] - x->q->zi0) - mean) * scale * x->gamma[c] + x->beta[c];
      x->out[p * op->c + c] = out8(x, x->q->zo + (int64_t)floorf(v / fo + 0.5f), false);
    }
  }
}

static void q_softmax(const struct qargs *x) {
  const struct oc_op *op = x->op;
  const uint32_t *table = x->table;
  const int64_t pixels = (int64_t)op->h * op->w;
  for (int64_t p = 0; p < pixels; p++) {
    const int8_t *in = x->a + p * op->c;
    int32_t max = -128;
    for (int32_t c = 0; c < op->c; c++) max = in[c] > max ? in[c] : max;
    uint64_t sum = 0;
    for (int32_t c = 0; c < op->c; c++) sum += table[max - in[c]];
    for (int32_t c = 0; c < op->c; c++) {
      uint64_t e = table[max - in[c]];
      x->out[p * op->c + c] = out8(x, (int64_t)((e * 256u + sum / 2u) / sum) - 128, false);
    }
  }
}

enum oc_status oc__mcu_qref_compute(const struct oc_op *op, const struct oc__mcu_quant *q,
                                    const struct oc_tensors *t) {
  struct qargs x = {0};
  enum oc_status st = oc_op_validate(op);
  if (st != oc_status_ok) return st;
  if (op->dtype != oc_dtype_qs8)
    return oc__fail(oc_status_unsupported, "mcu quantised reference: dtype %s is not qs8",
                    oc_dtype_name(op->dtype));
  st = oc_op_shapes(op, &x.sh);
  if (st != oc_status_ok) return st;
  if (t->output == NULL || t->input[0] == NULL || (x.sh.n_inputs > 1 && t->input[1] == NULL) ||
      (x.sh.weight_elems > 0 && t->weights == NULL))
    return oc__fail(oc_status_invalid_argument, "mcu quantised reference: a buffer is NULL");
  int64_t sizes[oc__mcu_buf__count];
  if (!oc__mcu_buffer_sizes(op, x.sh.output.h, x.sh.output.w, sizes))
    return oc__fail(oc_status_overflow, "mcu quantised reference: op too large");
  x.op = op;
  x.q = q;
  x.a = t->input[0];
  x.b = t->input[1];
  x.w = t->weights;
  x.bias = t->bias;
  x.gamma = t->weights;
  x.beta = t->bias;
  x.out = t->output;
  void *table = NULL;
  if (sizes[oc__mcu_buf_qparams] > 0) {
    table = calloc(1, (size_t)sizes[oc__mcu_buf_qparams]);
    if (table == NULL) return oc__fail(oc_status_out_of_memory, "mcu quantised reference: out of memory");
    oc__mcu_quant_table(op, q, table);
  }
  x.table = table;
  const int64_t elems = (int64_t)op->h * op->w * op->c;
  switch (op->kind) {
  case oc_op_conv2d: q_conv2d(&x); break;
  case oc_op_fc: q_fc(&x); break;
  case oc_op_matmul: q_matmul(&x); break;
  case oc_op_maxpool2d: q_pool(&x, false); break;
  case oc_op_avgpool2d: q_pool(&x, true); break;
  case oc_op_gap: {
    const int64_t pixels = (int64_t)op->h * op->w;
    for (int64_t c = 0; c < op->c; c++) {
      int64_t sum = 0;
      for (int64_t p = 0; p < pixels; p++) sum += x.a[p * op->c + c] - q->zi0;
      x.out[c] = out8(&x, q->zo + oc__mcu_div_round((int32_t)sum, (int32_t)pixels), false);
    }
    break;
  }
  case oc_op_act: {
    const int8_t *lut = table;
    for (int64_t i = 0; i < elems; i++) x.out[i] = lut[x.a[i] + 128];
    break;
  }
  case oc_op_add:
    for (int64_t i = 0; i < elems; i++) {
      int64_t acc = (int64_t)(x.a[i] - q->zi0) * q->m0 + (int64_t)(x.b[i] - q->zi1) * q->m1;
      int64_t v = (acc + ((int64_t)1 << (q->r0 - 1))) >> q->r0;
      x.out[i] = out8(&x, q->zo + v, true);
    }
    break;
  case oc_op_mul:
    for (int64_t i = 0; i < elems; i++) {
      int64_t bv = op->bc ? x.b[i % op->c] : x.b[i];
      int64_t prod = (int64_t)(x.a[i] - q->zi0) * (bv - q->zi1);
      x.out[i] = out8(&x, q->zo + oc__mcu_requant(prod, q->m0, q->r0), false);
    }
    break;
  case oc_op_layernorm: q_layernorm(&x); break;
  case oc_op_softmax: q_softmax(&x); break;
  case oc_op_concat: {
    const int64_t pixels = (int64_t)op->h * op->w;
    for (int64_t p = 0; p < pixels; p++) {
      memcpy(x.out + p * (op->c + op->c2), x.a + p * op->c, (size_t)op->c);
      memcpy(x.out + p * (op->c + op->c2) + op->c, x.b + p * op->c2, (size_t)op->c2);
    }
    break;
  }
  default:
    free(table);
    return oc__fail(oc_status_unsupported, "mcu quantised reference: no kernel for %s",
                    oc_op_kind_name(op->kind));
  }
  free(table);
  return oc_status_ok;
}
