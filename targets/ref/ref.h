/* ref.h - the reference kernels: a plain C computation of every f32 op of
 * ops/ops.def on host buffers. They are the oracle every other target is
 * checked against (tests/conformance), and the kernels the network runner
 * uses where correctness, not speed, is what is wanted. Not public.
 *
 * Semantics (the definition of each op; docs/formats.md repeats them):
 *
 *   Layout. Tensors are NHWC host buffers laid out as struct oc_op_shapes
 *   (include/opcost/op.h) says: conv2d weights [cout][k][k][cin/g] with
 *   group j owning output channels [j*cout/g, (j+1)*cout/g) and input
 *   channels [j*cin/g, (j+1)*cin/g); fc weights [cout][cin]; bias [cout];
 *   layernorm weights = gamma [c], bias = beta [c]; matmul A [b][m][k] and
 *   B [b][k][n], or B [b][n][k] when tb=1; mul with bc=1 takes the second
 *   input as [c].
 *
 *   Accumulation. Every sum, product and transcendental is evaluated in
 *   double and rounded to float once, when the output element is stored.
 *
 *   Activations act(x):
 *     none x;  relu max(x,0);  relu6 min(max(x,0),6);
 *     hswish x*relu6(x+3)/6;  hsigmoid relu6(x+3)/6;  sigmoid 1/(1+exp(-x));
 *     swish x*sigmoid(x);  gelu 0.5*x*(1+erf(x/sqrt(2))) (exact, not the tanh
 *     approximation);  tanh tanh(x).
 *
 *   conv2d   "same" padding of oc_op_shapes (pad_top, pad_left; the odd pixel
 *            at the bottom/right), stride s, dilation d:
 *            out[y][x][o] = act(bias[o] + sum over ky,kx < k and i < cin/g of
 *              in[y*s - pad_top + ky*d][x*s - pad_left + kx*d][j*cin/g + i]
 *              * w[o][ky][kx][i]),  j = o / (cout/g);
 *            input pixels outside the image are zero.
 *   fc       out[r][o] = act(bias[o] + sum_i in[r][i] * w[o][i]).
 *   matmul   out[b][r][col] = sum_i A[b][r][i] * B[b][i][col] (tb=0)
 *            or A[b][r][i] * B[b][col][i] (tb=1); no bias, no activation.
 *   maxpool2d  max over the k x k window (stride s, same padding) of the
 *            pixels inside the image; padding takes no part.
 *   avgpool2d  mean over the pixels of the window inside the image: the
 *            divisor is the number of real (non-padding) pixels.
 *   gap      out[c] = mean over all h*w pixels of channel c.
 *   act      out = act(in).
 *   add      out = act(a + b).
 *   mul      out = a * b; bc=1: out[y][x][c] = a[y][x][c] * b[c].
 *   layernorm  at each pixel, over c: mean, biased variance (divide by c),
 *            out = (x - mean) / sqrt(var + 1e-5) * gamma + beta.
 *   softmax  at each pixel, over c: exp(x - max) / sum exp(x - max).
 *   concat   out[y][x] = a[y][x][0..c) followed by b[y][x][0..c2).
 *
 * Cost: each kernel is the naive loop nest, O(MACs) for conv2d/fc/matmul,
 * O(outputs * k * k) for pools, O(elements) for the rest; no allocation. */
#ifndef OPCOST_TARGETS_REF_H
#define OPCOST_TARGETS_REF_H

#include "opcost/op.h"
#include "opcost/target.h"

/* Layer normalisation epsilon, fixed by the op's definition in ops.def. */
#define OC_REF_LAYERNORM_EPS 1e-5

/* Computes op on the host buffers of t (inputs, weights and bias where the
 * kind has them, output); output must not overlap an input. A NULL bias
 * counts as zeros. Returns oc_status_invalid_argument for an op that
 * oc_op_validate rejects or a missing buffer, oc_status_unsupported for a
 * dtype other than f32; oc_errmsg() says which. */
enum oc_status oc__ref_compute(const struct oc_op *op, const struct oc_tensors *t);

/* The activation act of the definition above, evaluated in double and
 * rounded to float. An act outside enum oc_act returns x. */
float oc__ref_act_f32(enum oc_act act, float x);

/* Whole networks (ref_net.c): the vtable's prepare_net, run_net and
 * release_net. Every kernel of the expanded list runs through
 * oc__ref_compute on its own buffer; net must outlive the kernel. */
struct oc_net;
enum oc_status oc__ref_prepare_net(void *state, const struct oc_net *net, const void *input,
                                   void *output, void **kernel);
enum oc_status oc__ref_run_net(void *state, void *kernel);
void oc__ref_release_net(void *state, void *kernel);

#endif
