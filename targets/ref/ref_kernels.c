/* ref_kernels.c - the reference kernels of ref.h: one naive loop nest per op
 * kind, accumulating in double. Written for obviousness, not speed: each loop
 * follows the definition in ref.h term by term so that a reader can check it
 * against the formula, and the conformance suite can trust it as the oracle. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "targets/ref/ref.h"

static double relu6(double x) { return x < 0.0 ? 0.0 : (x > 6.0 ? 6.0 : x); }

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static double act_apply(enum oc_act act, double x) {
  switch (act) {
  case oc_act_none: return x;
  case oc_act_relu: return x < 0.0 ? 0.0 : x;
  case oc_act_relu6: return relu6(x);
  case oc_act_hswish: return x * relu6(x + 3.0) / 6.0;
  case oc_act_hsigmoid: return relu6(x + 3.0) / 6.0;
  case oc_act_sigmoid: return sigmoid(x);
  case oc_act_swish: return x * sigmoid(x);
  case oc_act_gelu: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
  case oc_act_tanh: return tanh(x);
  case oc_act__count: break;
  }
  return x;
}

float oc__ref_act_f32(enum oc_act act, float x) { return (float)act_apply(act, (double)x); }

/* Everything a kernel needs, resolved once: the op, its shapes, and the
 * buffers as float pointers. */
struct ref_args {
  const struct oc_op *op;
  struct oc_op_shapes sh;
  const float *in0, *in1, *weights, *bias;
  float *out;
};

static double bias_of(const struct ref_args *a, int64_t o) {
  return a->bias ? (double)a->bias[o] : 0.0;
}

static void conv2d(const struct ref_args *a) {
  const struct oc_op *op = a->op;
  const int64_t ih = op->h, iw = op->w, cin = op->cin, cout = op->cout;
  const int64_t k = op->k, s = op->s, d = op->d, g = op->g;
  const int64_t cin_g = cin / g, cout_g = cout / g;
  const int64_t oh = a->sh.output.h, ow = a->sh.output.w;
  for (int64_t y = 0; y < oh; y++) {
    for (int64_t x = 0; x < ow; x++) {
      for (int64_t o = 0; o < cout; o++) {
        const int64_t first_in = (o / cout_g) * cin_g;
        double acc = bias_of(a, o);
        for (int64_t ky = 0; ky < k; ky++) {
          const int64_t iy = y * s - a->sh.pad_top + ky * d;
          if (iy < 0 || iy >= ih) continue;
          for (int64_t kx = 0; kx < k; kx++) {
            const int64_t ix = x * s - a->sh.pad_left + kx * d;
            if (ix < 0 || ix >= iw) continue;
            const float *px = a->in0 + (iy * iw + ix) * cin + first_in;
            const float *wk = a->weights + ((o * k + ky) * k + kx) * cin_g;
            for (int64_t i = 0; i < cin_g; i++) acc += (double)px[i] * (double)wk[i];
          }
        }
        a->out[(y * ow + x) * cout + o] = (float)act_apply(op->act, acc);
      }
    }
  }
}

static void fc(const struct ref_args *a) {
  const struct oc_op *op = a->op;
  const int64_t rows = op->m, cin = op->cin, cout = op->cout;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t o = 0; o < cout; o++) {
      double acc = bias_of(a, o);
      for (int64_t i = 0; i < cin; i++)
        acc += (double)a->in0[r * cin + i] * (double)a->weights[o * cin + i];
      a->out[r * cout + o] = (float)act_apply(op->act, acc);
    }
  }
}

static void matmul(const struct ref_args *a) {
  const struct oc_op *op = a->op;
  const int64_t batch = op->b, m = op->m, k = op->k, n = op->n;
  for (int64_t b = 0; b < batch; b++) {
    const float *A = a->in0 + b * m * k;
    const float *B = a->in1 + b * k * n;
    float *C = a->out + b * m * n;
    for (int64_t r = 0; r < m; r++) {
      for (int64_t col = 0; col < n; col++) {
        double acc = 0.0;
        for (int64_t i = 0; i < k; i++) {
          const double bv = op->tb ? (double)B[col * k + i] : (double)B[i * n + col];
          acc += (double)A[r * k + i] * bv;
        }
        C[r * n + col] = (float)acc;
      }
    }
  }
}

/* maxpool2d and avgpool2d: the same window walk, only the reduction
 * differs. Only pixels inside the image take part. */
static void pool2d(const struct ref_args *a, bool is_max) {
  const struct oc_op *op = a->op;
  const int64_t ih = op->h, iw = op->w, c = op->c, k = op->k, s = op->s;
  const int64_t oh = a->sh.output.h, ow = a->sh.output.w;
  for (int64_t y = 0; y < oh; y++) {
    for (int64_t x = 0; x < ow; x++) {
      for (int64_t ch = 0; ch < c; ch++) {
        double acc = is_max ? -INFINITY : 0.0;
        int64_t count = 0;
        for (int64_t ky = 0; ky < k; ky++) {
          const int64_t iy = y * s - a->sh.pad_top + ky;
          if (iy < 0 || iy >= ih) continue;
          for (int64_t kx = 0; kx < k; kx++) {
            const int64_t ix = x * s - a->sh.pad_left + kx;
            if (ix < 0 || ix >= iw) continue;
            const double v = (double)a->in0[(iy * iw + ix) * c + ch];
            if (is_max)
              acc = v > acc ? v : acc;
            else
              acc += v;
            count++;
          }
        }
        /* Same padding never leaves a window without a real pixel (the
         * padding before is at most (k-1)/2); the guard keeps the
         * definition total anyway. */
        double result = 0.0;
        if (count > 0) result = is_max ? acc : acc / (double)count;
        a->out[(y * ow + x) * c + ch] = (float)result;
      }
    }
  }
}

static void gap(const struct ref_args *a) {
  const int64_t pixels = (int64_t)a->op->h * a->op->w, c = a->op->c;
  for (int64_t ch = 0; ch < c; ch++) {
    double acc = 0.0;
    for (int64_t p = 0; p < pixels; p++) acc += (double)a->in0[p * c + ch];
    a->out[ch] = (float)(acc / (double)pixels);
  }
}

static void elementwise(const struct ref_args *a) {
  const struct oc_op *op = a->op;
  const int64_t c = op->c, count = oc_tensor_elems(&a->sh.output);
  for (int64_t i = 0; i < count; i++) {
    const double x = (double)a->in0[i];
    double r = 0.0;
    switch (op->kind) {
    case oc_op_act: r = act_apply(op->act, x); break;
    case oc_op_add: r = act_apply(op->act, x + (double)a->in1[i]); break;
    case oc_op_mul: r = x * (double)a->in1[op->bc ? i % c : i]; break;
    default: break;
    }
    a->out[i] = (float)r;
  }
}

static void layernorm(const struct ref_args *a) {
  const int64_t pixels = (int64_t)a->op->h * a->op->w, c = a->op->c;
  for (int64_t p = 0; p < pixels; p++) {
    const float *x = a->in0 + p * c;
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < c; i++) mean += (double)x[i];
    mean /= (double)c;
    for (int64_t i = 0; i < c; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
    var /= (double)c;
    const double inv = 1.0 / sqrt(var + OC_REF_LAYERNORM_EPS);
    for (int64_t i = 0; i < c; i++) {
      const double beta = a->bias ? (double)a->bias[i] : 0.0;
      a->out[p * c + i] = (float)(((double)x[i] - mean) * inv * (double)a->weights[i] + beta);
    }
  }
}

static void softmax(const struct ref_args *a) {
  const int64_t pixels = (int64_t)a->op->h * a->op->w, c = a->op->c;
  for (int64_t p = 0; p < pixels; p++) {
    const float *x = a->in0 + p * c;
    double max = -INFINITY, sum = 0.0;
    for (int64_t i = 0; i < c; i++) max = (double)x[i] > max ? (double)x[i] : max;
    for (int64_t i = 0; i < c; i++) sum += exp((double)x[i] - max);
    for (int64_t i = 0; i < c; i++) a->out[p * c + i] = (float)(exp((double)x[i] - max) / sum);
  }
}

static void concat(const struct ref_args *a) {
  const int64_t pixels = (int64_t)a->op->h * a->op->w, c = a->op->c, c2 = a->op->c2;
  for (int64_t p = 0; p < pixels; p++) {
    float *o = a->out + p * (c + c2);
    for (int64_t i = 0; i < c; i++) o[i] = a->in0[p * c + i];
    for (int64_t i = 0; i < c2; i++) o[c + i] = a->in1[p * c2 + i];
  }
}

enum oc_status oc__ref_compute(const struct oc_op *op, const struct oc_tensors *t) {
  if (op == NULL || t == NULL)
    return oc__fail(oc_status_invalid_argument, "ref: op and tensors must not be NULL");
  enum oc_status st = oc_op_validate(op);
  if (st != oc_status_ok) return oc__fail_prefix(oc_status_invalid_argument, "ref: ");
  if (op->dtype != oc_dtype_f32)
    return oc__fail(oc_status_unsupported, "dtype %s is not implemented by ref",
                    oc_dtype_name(op->dtype));
  struct ref_args a = {.op = op};
  st = oc_op_shapes(op, &a.sh);
  if (st != oc_status_ok) return st;
  for (int i = 0; i < a.sh.n_inputs; i++) {
    if (t->input[i] == NULL)
      return oc__fail(oc_status_invalid_argument, "ref: %s: input %d is NULL",
                      oc_op_kind_name(op->kind), i);
  }
  if (a.sh.weight_elems > 0 && t->weights == NULL)
    return oc__fail(oc_status_invalid_argument, "ref: %s: weights are NULL",
                    oc_op_kind_name(op->kind));
  if (t->output == NULL)
    return oc__fail(oc_status_invalid_argument, "ref: %s: output is NULL",
                    oc_op_kind_name(op->kind));
  a.in0 = t->input[0];
  a.in1 = a.sh.n_inputs > 1 ? t->input[1] : NULL;
  a.weights = t->weights;
  a.bias = t->bias;
  a.out = t->output;
  /* No default: a kind added to ops.def without a kernel here is a compiler
   * warning (-Wswitch), and a failure at run time rather than a silent
   * unwritten output. */
  switch (op->kind) {
  case oc_op_conv2d: conv2d(&a); return oc_status_ok;
  case oc_op_fc: fc(&a); return oc_status_ok;
  case oc_op_matmul: matmul(&a); return oc_status_ok;
  case oc_op_maxpool2d: pool2d(&a, true); return oc_status_ok;
  case oc_op_avgpool2d: pool2d(&a, false); return oc_status_ok;
  case oc_op_gap: gap(&a); return oc_status_ok;
  case oc_op_act:
  case oc_op_add:
  case oc_op_mul: elementwise(&a); return oc_status_ok;
  case oc_op_layernorm: layernorm(&a); return oc_status_ok;
  case oc_op_softmax: softmax(&a); return oc_status_ok;
  case oc_op_concat: concat(&a); return oc_status_ok;
  case oc_op_kind__count: break;
  }
  return oc__fail(oc_status_internal, "ref: op kind %d has no kernel", (int)op->kind);
}
