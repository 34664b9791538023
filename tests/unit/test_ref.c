/* test_ref.c - proves the reference kernels (the oracle) right on small
 * cases whose results are computed by hand in the comments: borders and
 * padding, strides, dilation, groups, depthwise, weight layouts, every
 * activation, pooling divisors, normalisation and concatenation order. Also
 * the `ref` target's vtable contract (name, arguments, dtypes, run twice). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "opcost/op.h"
#include "opcost/target.h"
#include "targets/ref/ref.h"
#include "targets/targets_internal.h"

/* Results are exact sums of small integers unless a transcendental is
 * involved; 1e-5 absolute leaves room only for float rounding. */
#define EPS 1e-5f

static struct oc_op parse(const char *key) {
  struct oc_op op;
  enum oc_status st = oc_op_parse(key, &op);
  cr_assert_eq(st, oc_status_ok, "key '%s': %s", key, oc_errmsg());
  return op;
}

/* Runs the oracle on the key and buffers and asserts it succeeded. */
static void compute(const char *key, const float *in0, const float *in1, const float *weights,
                    const float *bias, float *out) {
  struct oc_op op = parse(key);
  struct oc_tensors t = {{in0, in1}, weights, bias, out};
  enum oc_status st = oc__ref_compute(&op, &t);
  cr_assert_eq(st, oc_status_ok, "key '%s': %s", key, oc_errmsg());
}

static void expect(const char *what, const float *got, const float *want, int n) {
  for (int i = 0; i < n; i++)
    cr_expect_float_eq(got[i], want[i], EPS, "%s: index %d: got %.7g, expected %.7g", what, i,
                       (double)got[i], (double)want[i]);
}

/* 4x4 single-channel image 1..16, row major. */
static void iota(float *x, int n, float first, float step) {
  for (int i = 0; i < n; i++) x[i] = first + step * (float)i;
}

/* Two 3x3 filters on one channel: filter 0 is all ones (neighbourhood sum),
 * filter 1 only has its top-left tap (out[y][x] = in[y-1][x-1] at stride 1),
 * which tells a flipped or shifted window from the right one. */
static void two_filters(float *w) {
  for (int i = 0; i < 9; i++) w[i] = 1.0f;
  memset(w + 9, 0, 9 * sizeof *w);
  w[9] = 1.0f;
}

Test(ref, conv3x3_same_padding_stride1) {
  float in[16], w[18], bias[2] = {0.5f, -1.0f}, out[32];
  iota(in, 16, 1.0f, 1.0f);
  two_filters(w);
  compute("conv2d.f32 h=4 w=4 cin=1 cout=2 k=3 s=1 g=1 d=1 act=none", in, NULL, w, bias, out);
  /* filter 0 + 0.5: corner (0,0) 1+2+5+6=14; edge (0,1) 1+2+3+5+6+7=24;
   * centre (1,1) 1+2+3+5+6+7+9+10+11=54; corner (3,3) 11+12+15+16=54. */
  cr_expect_float_eq(out[(0 * 4 + 0) * 2], 14.5f, EPS);
  cr_expect_float_eq(out[(0 * 4 + 1) * 2], 24.5f, EPS);
  cr_expect_float_eq(out[(1 * 4 + 1) * 2], 54.5f, EPS);
  cr_expect_float_eq(out[(3 * 4 + 3) * 2], 54.5f, EPS);
  /* filter 1 - 1: zero row/column at the top/left border, then the shift. */
  cr_expect_float_eq(out[(0 * 4 + 2) * 2 + 1], -1.0f, EPS);
  cr_expect_float_eq(out[(2 * 4 + 0) * 2 + 1], -1.0f, EPS);
  cr_expect_float_eq(out[(1 * 4 + 1) * 2 + 1], 1.0f - 1.0f, EPS);
  cr_expect_float_eq(out[(3 * 4 + 3) * 2 + 1], 11.0f - 1.0f, EPS);
  cr_expect_float_eq(out[(2 * 4 + 3) * 2 + 1], 7.0f - 1.0f, EPS);
}

Test(ref, conv3x3_stride2_pads_bottom_right) {
  /* 4 -> 2 with k=3, s=2: total padding (2-1)*2+3-4 = 1, all of it at the
   * bottom/right, so window (0,0) covers rows/cols 0..2 with no padding. */
  float in[16], w[18], out[8];
  iota(in, 16, 1.0f, 1.0f);
  two_filters(w);
  compute("conv2d.f32 h=4 w=4 cin=1 cout=2 k=3 s=2 g=1 d=1 act=none", in, NULL, w, NULL, out);
  const float want[8] = {54, 1, /* (0,1): 3+4+7+8+11+12 */ 45, 3,
                         /* (1,0): 9+10+11+13+14+15 */ 72, 9, /* (1,1) */ 54, 11};
  expect("conv s=2", out, want, 8);
}

Test(ref, conv_weight_layout_multichannel) {
  /* k=1, cin=3, cout=2 on one pixel: weights are [cout][k][k][cin]. */
  float in[3] = {1, 2, 3}, w[6] = {1, 10, 100, -1, 0, 1}, bias[2] = {0, 0.25f}, out[2];
  compute("conv2d.f32 h=1 w=1 cin=3 cout=2 k=1 s=1 g=1 d=1 act=none", in, NULL, w, bias, out);
  const float want[2] = {321, 2.25f};
  expect("conv layout", out, want, 2);
}

Test(ref, conv_depthwise) {
  /* 3x3 image, 2 channels, g=2: channel 0 all ones with an all-ones filter
   * counts the real pixels of each window (4 corner, 6 edge, 9 centre);
   * channel 1 is 1..9 with only the centre tap = 2, so out = 2 * in. */
  float in[18], w[18] = {0}, out[18];
  for (int p = 0; p < 9; p++) {
    in[p * 2] = 1.0f;
    in[p * 2 + 1] = (float)(p + 1);
  }
  for (int i = 0; i < 9; i++) w[i] = 1.0f;
  w[9 + 4] = 2.0f;
  compute("conv2d.f32 h=3 w=3 cin=2 cout=2 k=3 s=1 g=2 d=1 act=none", in, NULL, w, NULL, out);
  const float want[18] = {4, 2, 6, 4, 4, 6, 6, 8, 9, 10, 6, 12, 4, 14, 6, 16, 4, 18};
  expect("depthwise", out, want, 18);
}

Test(ref, conv_dilation2) {
  /* 5x5 image 1..25, k=3, d=2: effective 5x5 window, padding 2 on each
   * side. (2,2): rows/cols {0,2,4}: 1+3+5+11+13+15+21+23+25 = 117;
   * (0,0): rows/cols {-2,0,2}: 1+3+11+13 = 28;
   * (1,1): rows/cols {-1,1,3}: 7+9+17+19 = 52. */
  float in[25], w[9], out[25];
  iota(in, 25, 1.0f, 1.0f);
  for (int i = 0; i < 9; i++) w[i] = 1.0f;
  compute("conv2d.f32 h=5 w=5 cin=1 cout=1 k=3 s=1 g=1 d=2 act=none", in, NULL, w, NULL, out);
  cr_expect_float_eq(out[2 * 5 + 2], 117.0f, EPS);
  cr_expect_float_eq(out[0], 28.0f, EPS);
  cr_expect_float_eq(out[1 * 5 + 1], 52.0f, EPS);
  cr_expect_float_eq(out[4 * 5 + 4], 13.0f + 15.0f + 23.0f + 25.0f, EPS);
}

Test(ref, conv_grouped_g2) {
  /* cin=4, cout=4, g=2: outputs 0,1 see inputs 0,1; outputs 2,3 see 2,3.
   * Weights [cout][1][1][cin/g = 2]. */
  float in[4] = {1, 2, 3, 4}, w[8] = {1, 0, 0, 1, 1, 1, 2, -1}, out[4];
  compute("conv2d.f32 h=1 w=1 cin=4 cout=4 k=1 s=1 g=2 d=1 act=none", in, NULL, w, NULL, out);
  const float want[4] = {1, 2, 7, 2};
  expect("grouped", out, want, 4);
}

Test(ref, conv_fused_activation_after_bias) {
  /* 1x1 identity filter; bias -2 then relu6: in 1..4 -> 0,0,1,2 and
   * in 9 -> 6 (clamped). */
  float in[5] = {1, 2, 3, 4, 9}, w[1] = {1}, bias[1] = {-2}, out[5];
  compute("conv2d.f32 h=1 w=5 cin=1 cout=1 k=1 s=1 g=1 d=1 act=relu6", in, NULL, w, bias, out);
  const float want[5] = {0, 0, 1, 2, 6};
  expect("conv relu6", out, want, 5);
}

Test(ref, fc) {
  /* rows [1,2,3], [4,5,6]; w [[1,0,-1],[.5,.5,.5]]; bias [1,0]:
   * row 0: 1+1-3 = -1, 3; row 1: 1+4-6 = -1, 7.5; relu clamps the -1s. */
  float in[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f}, bias[2] = {1, 0};
  float out[4];
  compute("fc.f32 m=2 cin=3 cout=2 act=none", in, NULL, w, bias, out);
  const float want[4] = {-1, 3, -1, 7.5f};
  expect("fc", out, want, 4);
  compute("fc.f32 m=2 cin=3 cout=2 act=relu", in, NULL, w, bias, out);
  const float want_relu[4] = {0, 3, 0, 7.5f};
  expect("fc relu", out, want_relu, 4);
}

Test(ref, matmul_tb0_and_tb1) {
  /* batch 0: [[1,2,3],[4,5,6]] x [[1,0],[0,1],[1,1]] = [[4,5],[10,11]];
   * batch 1: [[1,0,0],[0,1,0]] x [[1,2],[3,4],[5,6]] = [[1,2],[3,4]]. */
  float a[12] = {1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0};
  float b[12] = {1, 0, 0, 1, 1, 1, 1, 2, 3, 4, 5, 6};
  /* the same B, transposed per batch: [b][n][k] */
  float bt[12] = {1, 0, 1, 0, 1, 1, 1, 3, 5, 2, 4, 6};
  float out[8];
  const float want[8] = {4, 5, 10, 11, 1, 2, 3, 4};
  compute("matmul.f32 b=2 m=2 k=3 n=2 tb=0", a, b, NULL, NULL, out);
  expect("matmul tb=0", out, want, 8);
  memset(out, 0, sizeof out);
  compute("matmul.f32 b=2 m=2 k=3 n=2 tb=1", a, bt, NULL, NULL, out);
  expect("matmul tb=1", out, want, 8);
}

Test(ref, maxpool_ignores_padding) {
  /* -(1..16) on 4x4, k=3, s=2 (padding only at the bottom/right): if
   * padding counted as 0 the three border windows would give 0. */
  float in[16], out[4];
  iota(in, 16, -1.0f, -1.0f);
  compute("maxpool2d.f32 h=4 w=4 c=1 k=3 s=2", in, NULL, NULL, NULL, out);
  const float want[4] = {-1, -3, -9, -11};
  expect("maxpool", out, want, 4);
  /* stride 1, padding on every side: corner (0,0) sees in[0..1][0..1]. */
  float out1[16];
  compute("maxpool2d.f32 h=4 w=4 c=1 k=3 s=1", in, NULL, NULL, NULL, out1);
  cr_expect_float_eq(out1[0], -1.0f, EPS);
  cr_expect_float_eq(out1[15], -11.0f, EPS);
  cr_expect_float_eq(out1[5], -1.0f, EPS);
}

Test(ref, avgpool_divides_by_real_pixels) {
  /* 1..16 on 4x4, k=3, s=2: (0,0) 54/9 = 6; (0,1) 45/6 = 7.5;
   * (1,0) 72/6 = 12; (1,1) 54/4 = 13.5. */
  float in[16], out[4];
  iota(in, 16, 1.0f, 1.0f);
  compute("avgpool2d.f32 h=4 w=4 c=1 k=3 s=2", in, NULL, NULL, NULL, out);
  const float want[4] = {6, 7.5f, 12, 13.5f};
  expect("avgpool", out, want, 4);
  /* stride 1: corner (0,0) averages 1,2,5,6 = 3.5; edge (0,1) 24/6 = 4. */
  float out1[16];
  compute("avgpool2d.f32 h=4 w=4 c=1 k=3 s=1", in, NULL, NULL, NULL, out1);
  cr_expect_float_eq(out1[0], 3.5f, EPS);
  cr_expect_float_eq(out1[1], 4.0f, EPS);
  cr_expect_float_eq(out1[5], 6.0f, EPS);
}

Test(ref, pools_per_channel) {
  /* two channels, k=2, s=2 on 2x2: one window of all four pixels. */
  float in[8] = {1, -1, 2, -2, 3, -3, 4, -4}, out[2];
  compute("maxpool2d.f32 h=2 w=2 c=2 k=2 s=2", in, NULL, NULL, NULL, out);
  cr_expect_float_eq(out[0], 4.0f, EPS);
  cr_expect_float_eq(out[1], -1.0f, EPS);
  compute("avgpool2d.f32 h=2 w=2 c=2 k=2 s=2", in, NULL, NULL, NULL, out);
  cr_expect_float_eq(out[0], 2.5f, EPS);
  cr_expect_float_eq(out[1], -2.5f, EPS);
}

Test(ref, gap) {
  float in[8] = {1, 10, 2, 20, 3, 30, 4, 40}, out[2];
  compute("gap.f32 h=2 w=2 c=2", in, NULL, NULL, NULL, out);
  cr_expect_float_eq(out[0], 2.5f, EPS);
  cr_expect_float_eq(out[1], 25.0f, EPS);
}

struct act_point {
  enum oc_act act;
  float x, want;
};

/* Values of the definitions in ref.h, worked out by hand or (transcendentals)
 * to 10 digits with a calculator. */
static const struct act_point act_points[] = {
    {oc_act_none, -3.5f, -3.5f},
    {oc_act_relu, -1.0f, 0.0f},
    {oc_act_relu, 2.0f, 2.0f},
    {oc_act_relu6, -1.0f, 0.0f},
    {oc_act_relu6, 3.0f, 3.0f},
    {oc_act_relu6, 7.0f, 6.0f},
    {oc_act_hswish, -4.0f, 0.0f},
    {oc_act_hswish, -1.0f, -1.0f * 2.0f / 6.0f},
    {oc_act_hswish, 1.0f, 4.0f / 6.0f},
    {oc_act_hswish, 4.0f, 4.0f},
    {oc_act_hsigmoid, -4.0f, 0.0f},
    {oc_act_hsigmoid, 0.0f, 0.5f},
    {oc_act_hsigmoid, 1.0f, 4.0f / 6.0f},
    {oc_act_hsigmoid, 4.0f, 1.0f},
    {oc_act_sigmoid, 0.0f, 0.5f},
    {oc_act_sigmoid, 1.0f, 0.7310585786f},
    {oc_act_sigmoid, -2.0f, 0.1192029220f},
    {oc_act_sigmoid, -200.0f, 0.0f},
    {oc_act_swish, 1.0f, 0.7310585786f},
    {oc_act_swish, -1.0f, -0.2689414214f},
    {oc_act_swish, 0.0f, 0.0f},
    {oc_act_gelu, 0.0f, 0.0f},
    {oc_act_gelu, 1.0f, 0.8413447461f},
    {oc_act_gelu, -1.0f, -0.1586552539f},
    {oc_act_gelu, 2.0f, 1.9544997361f},
    /* the tanh approximation gives -0.0036374 here: exact erf is required */
    {oc_act_gelu, -3.0f, -0.0040496941f},
    {oc_act_tanh, 0.0f, 0.0f},
    {oc_act_tanh, 0.5f, 0.4621171573f},
    {oc_act_tanh, -2.0f, -0.9640275801f},
};

Test(ref, activations_at_known_points) {
  for (size_t i = 0; i < sizeof act_points / sizeof act_points[0]; i++) {
    const struct act_point *p = &act_points[i];
    float got = oc__ref_act_f32(p->act, p->x);
    cr_expect_float_eq(got, p->want, 1e-6f, "%s(%g): got %.9g, expected %.9g",
                       oc_act_name(p->act), (double)p->x, (double)got, (double)p->want);
  }
}

Test(ref, act_op_matches_act_function) {
  /* The act op applies oc__ref_act_f32 elementwise, for every activation. */
  float in[7] = {-6, -3, -1, 0, 0.5f, 3, 8}, out[7];
  for (int a = 1; a < oc_act__count; a++) {
    char key[64];
    oc__strfmt(key, sizeof key, "act.f32 h=1 w=7 c=1 act=%s", oc_act_name((enum oc_act)a));
    compute(key, in, NULL, NULL, NULL, out);
    for (int i = 0; i < 7; i++)
      cr_expect_float_eq(out[i], oc__ref_act_f32((enum oc_act)a, in[i]), 0.0f, "%s index %d",
                         key, i);
  }
}

Test(ref, add_then_activation) {
  float a[3] = {1, -2, 3}, b[3] = {1, 1, -5}, out[3];
  compute("add.f32 h=1 w=1 c=3 act=none", a, b, NULL, NULL, out);
  const float want[3] = {2, -1, -2};
  expect("add", out, want, 3);
  compute("add.f32 h=1 w=1 c=3 act=relu", a, b, NULL, NULL, out);
  const float want_relu[3] = {2, 0, 0};
  expect("add relu", out, want_relu, 3);
}

Test(ref, mul_elementwise_and_per_channel) {
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {2, 2, 2, -1, -1, -1}, out[6];
  compute("mul.f32 h=1 w=2 c=3 bc=0", a, b, NULL, NULL, out);
  const float want[6] = {2, 4, 6, -4, -5, -6};
  expect("mul", out, want, 6);
  float scale[3] = {10, 100, 1000};
  compute("mul.f32 h=1 w=2 c=3 bc=1", a, scale, NULL, NULL, out);
  const float want_bc[6] = {10, 200, 3000, 40, 500, 6000};
  expect("mul bc", out, want_bc, 6);
}

Test(ref, layernorm) {
  /* pixel 0: [1,2,3,4], mean 2.5, biased variance 1.25:
   *   (x - 2.5) / sqrt(1.25 + 1e-5) = -1.341635420, -0.4472118067, ...;
   * pixel 1: constant -> variance 0 -> output = beta. */
  float in[8] = {1, 2, 3, 4, 5, 5, 5, 5}, out[8];
  float ones[4] = {1, 1, 1, 1}, zeros[4] = {0, 0, 0, 0};
  compute("layernorm.f32 h=1 w=2 c=4", in, NULL, ones, zeros, out);
  const float want[8] = {-1.341635420f, -0.4472118067f, 0.4472118067f, 1.341635420f, 0, 0, 0, 0};
  expect("layernorm", out, want, 8);
  double mean = 0, var = 0;
  for (int i = 0; i < 4; i++) mean += out[i];
  mean /= 4;
  for (int i = 0; i < 4; i++) var += (out[i] - mean) * (out[i] - mean);
  var /= 4;
  cr_expect(fabs(mean) < 1e-6, "mean %g", mean);
  cr_expect(fabs(var - 1.0) < 1e-4, "variance %g", var); /* 1.25/1.25001 */
  float gamma[4] = {1, 2, 1, 1}, beta[4] = {0, 0, 10, -1};
  compute("layernorm.f32 h=1 w=2 c=4", in, NULL, gamma, beta, out);
  const float want_gb[8] = {-1.341635420f, -0.8944236134f, 10.4472118067f, 0.341635420f,
                            0, 0, 10, -1};
  expect("layernorm gamma beta", out, want_gb, 8);
}

Test(ref, softmax) {
  /* [1,2,3]: e^-2, e^-1, 1 over their sum = 0.0900305732, 0.2447284711,
   * 0.6652409558; [1000,1001,1002] gives the same (max subtracted first). */
  float in[6] = {1, 2, 3, 1000, 1001, 1002}, out[6];
  compute("softmax.f32 h=1 w=2 c=3", in, NULL, NULL, NULL, out);
  const float want[6] = {0.0900305732f, 0.2447284711f, 0.6652409558f,
                         0.0900305732f, 0.2447284711f, 0.6652409558f};
  expect("softmax", out, want, 6);
  for (int p = 0; p < 2; p++)
    cr_expect_float_eq(out[p * 3] + out[p * 3 + 1] + out[p * 3 + 2], 1.0f, 1e-6f, "pixel %d", p);
  float one[2] = {-7, 42}, out1[2];
  compute("softmax.f32 h=1 w=2 c=1", one, NULL, NULL, NULL, out1);
  cr_expect_float_eq(out1[0], 1.0f, 0.0f);
  cr_expect_float_eq(out1[1], 1.0f, 0.0f);
}

Test(ref, concat_order) {
  float a[4] = {1, 2, 3, 4}, b[2] = {9, 8}, out[6];
  compute("concat.f32 h=1 w=2 c=2 c2=1", a, b, NULL, NULL, out);
  const float want[6] = {1, 2, 9, 3, 4, 8};
  expect("concat", out, want, 6);
}

Test(ref, compute_rejects_bad_requests) {
  float buf[16] = {0};
  struct oc_op op = parse("act.f32 h=1 w=2 c=2 act=relu");
  struct oc_tensors t = {{buf, NULL}, NULL, NULL, buf + 8};
  op.dtype = oc_dtype_f16;
  cr_expect_eq(oc__ref_compute(&op, &t), oc_status_unsupported);
  cr_expect(strstr(oc_errmsg(), "dtype f16 is not implemented by ref") != NULL, "%s",
            oc_errmsg());
  op.dtype = oc_dtype_f32;
  t.output = NULL;
  cr_expect_eq(oc__ref_compute(&op, &t), oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "output") != NULL, "%s", oc_errmsg());
  t.output = buf + 8;
  op.h = 0;
  cr_expect_eq(oc__ref_compute(&op, &t), oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "'h'") != NULL, "%s", oc_errmsg());
  struct oc_op conv = parse("conv2d.f32 h=1 w=1 cin=1 cout=1 k=1 s=1 g=1 d=1 act=none");
  cr_expect_eq(oc__ref_compute(&conv, &t), oc_status_invalid_argument);
  cr_expect(strstr(oc_errmsg(), "weights") != NULL, "%s", oc_errmsg());
}

Test(ref, target_vtab_contract) {
  const struct oc_target_vtab *v = oc_target_find("ref");
  cr_assert_not_null(v);
  cr_expect_eq(v, &oc_target_ref);
  cr_expect_eq(v->abi_version, OC_TARGET_ABI_VERSION);
  cr_expect_eq(v->caps, (uint32_t)(oc_cap_host_memory | oc_cap_networks));
  char why[256] = "x";
  cr_expect_eq(oc_target_available(v, why, sizeof why), oc_status_ok);

  struct oc_target *t = NULL;
  cr_expect_neq(oc_target_open("ref:fast=1", NULL, &t), oc_status_ok);
  cr_expect(strstr(oc_errmsg(), "fast=1") != NULL, "%s", oc_errmsg());
  cr_assert_eq(oc_target_open("ref", NULL, &t), oc_status_ok, "%s", oc_errmsg());

  struct oc_device_info info;
  cr_assert_eq(oc_target_describe(t, &info), oc_status_ok);
  cr_expect_str_eq(info.target, "ref");
  cr_expect_str_eq(info.runtime, "opcost reference kernels");
  cr_expect_eq(strlen(info.fingerprint), 16u);

  struct oc_op op = parse("add.f32 h=1 w=2 c=2 act=relu");
  op.dtype = oc_dtype_f16;
  cr_expect(!oc_target_supports(t, &op, why, sizeof why));
  cr_expect_str_eq(why, "dtype f16 is not implemented by ref");
  op.dtype = oc_dtype_f32;
  cr_expect(oc_target_supports(t, &op, why, sizeof why), "%s", why);

  /* prepare once, run twice: the second run must rewrite the output, not
   * accumulate into it or depend on the first. */
  float a[4] = {1, -2, 3, -4}, b[4] = {1, 1, 1, 1}, out[4];
  struct oc_tensors tensors = {{a, b}, NULL, NULL, out};
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_prepare(t, &op, &tensors, &k), oc_status_ok, "%s", oc_errmsg());
  const float want[4] = {2, 0, 4, 0};
  for (int run = 0; run < 2; run++) {
    for (int i = 0; i < 4; i++) out[i] = NAN;
    cr_assert_eq(oc_target_run(t, k), oc_status_ok, "%s", oc_errmsg());
    cr_assert_eq(oc_target_read_output(t, k), oc_status_ok);
    expect("ref target add", out, want, 4);
  }
  oc_target_release(t, k);

  /* a missing buffer fails at prepare, not at run */
  tensors.input[1] = NULL;
  k = NULL;
  cr_expect_eq(oc_target_prepare(t, &op, &tensors, &k), oc_status_invalid_argument);
  cr_expect_null(k);
  oc_target_close(t);
}
