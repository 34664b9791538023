/* net_fixtures.h - the small networks the whole-network tests run on every
 * target that has prepare_net (tests/unit/test_net_run.c for cpu,
 * tests/gpu for opencl and vulkan), and the tolerance their outputs must
 * keep against the ref runner. Header-only: each suite is its own
 * executable. Together the networks hold every layer kind, every
 * activation, every join and every step of enum oc_net_step. */
#ifndef OPCOST_TESTS_NET_FIXTURES_H
#define OPCOST_TESTS_NET_FIXTURES_H

#include <criterion/criterion.h>
#include <math.h>

#include "opcost/net.h"

#define NET_FIXTURES_UNUSED __attribute__((unused))

#define NET_HEAD "{\"format\":\"opcost-net/1\",\"name\":\"run\",\"input\":"

enum { test_net_cnn, test_net_vit, test_net_join, test_net_zero, N_TEST_NETS };

static const char *const test_nets[N_TEST_NETS] = {
    /* Mixed CNN: every block but the transformer, odd sizes, every activation. */
    [test_net_cnn] = NET_HEAD
    "{\"h\":21,\"w\":19,\"c\":3},\"layers\":["
    "{\"op\":\"conv2d\",\"cout\":16,\"k\":3,\"s\":2,\"act\":\"hswish\"},"
    "{\"op\":\"mbconv\",\"cout\":16,\"k\":3,\"e\":4,\"se\":1,\"se_gate\":\"hsigmoid\",\"act\":"
    "\"swish\"},"
    "{\"op\":\"mbconv\",\"cout\":24,\"k\":5,\"s\":2,\"mid\":40,\"se\":1,\"act\":\"relu6\"},"
    "{\"op\":\"fused_mbconv\",\"cout\":24,\"k\":3,\"e\":2,\"act\":\"sigmoid\"},"
    "{\"op\":\"bottleneck\",\"cout\":32},"
    "{\"op\":\"basic\",\"cout\":32,\"s\":2},"
    "{\"op\":\"conv2d\",\"id\":\"a\",\"cout\":8,\"k\":1,\"act\":\"gelu\"},"
    "{\"op\":\"avgpool2d\",\"id\":\"b\",\"k\":3,\"s\":1},"
    "{\"op\":\"concat\",\"inputs\":[\"a\",\"b\"]},"
    "{\"op\":\"act\",\"act\":\"tanh\"},"
    "{\"op\":\"maxpool2d\",\"k\":2,\"s\":1},"
    "{\"op\":\"nb201_cell\",\"cell\":\"|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|"
    "skip_connect~0|nor_conv_1x1~1|skip_connect~2|\"},"
    "{\"op\":\"avgpool2d\",\"k\":1,\"s\":1},"
    "{\"op\":\"se\",\"se_gate\":\"hsigmoid\"},"
    "{\"op\":\"layernorm\"},"
    "{\"op\":\"softmax\"},"
    "{\"op\":\"gap\"},"
    "{\"op\":\"fc\",\"cout\":10,\"act\":\"hsigmoid\"}]}",
    /* Vision transformer: patch embedding with class token and positions,
     * heads of their own width, the class token read by the head. */
    [test_net_vit] = NET_HEAD
    "{\"h\":16,\"w\":16,\"c\":3},\"layers\":["
    "{\"op\":\"patch_embed\",\"p\":4,\"dim\":24,\"cls\":1,\"pos\":1},"
    "{\"op\":\"transformer_layer\",\"heads\":3,\"mlp_ratio\":2},"
    "{\"op\":\"transformer_layer\",\"heads\":2,\"act\":\"swish\"},"
    "{\"op\":\"transformer_layer\",\"heads\":4,\"head_dim\":5},"
    "{\"op\":\"layernorm\"},"
    "{\"op\":\"token_select\",\"index\":2},"
    "{\"op\":\"fc\",\"cout\":5}]}",
    /* Primitive joins: matmul (tb=1), mul, add with fused activations. */
    [test_net_join] = NET_HEAD
    "{\"h\":4,\"w\":6,\"c\":3},\"layers\":["
    "{\"op\":\"conv2d\",\"id\":\"a\",\"cout\":8,\"k\":3},"
    "{\"op\":\"conv2d\",\"id\":\"b\",\"inputs\":[\"input\"],\"cout\":8,\"k\":1,\"act\":\"tanh\"},"
    "{\"op\":\"matmul\",\"id\":\"m\",\"inputs\":[\"a\",\"b\"],\"tb\":1},"
    "{\"op\":\"softmax\",\"id\":\"s\"},"
    "{\"op\":\"matmul\",\"id\":\"p\",\"inputs\":[\"s\",\"b\"]},"
    "{\"op\":\"add\",\"inputs\":[\"p\",\"a\"],\"act\":\"hswish\"},"
    "{\"op\":\"mul\",\"id\":\"q\",\"inputs\":[\"a\",\"b\"]},"
    "{\"op\":\"add\",\"inputs\":[\"q\",\"a\"],\"act\":\"swish\"},"
    "{\"op\":\"add\",\"inputs\":[\"q\",\"b\"],\"act\":\"relu6\"}]}",
    /* A cell whose output node has no live edge: a zero fill, then a join. */
    [test_net_zero] = NET_HEAD
    "{\"h\":9,\"w\":7,\"c\":4},\"layers\":["
    "{\"op\":\"conv2d\",\"id\":\"a\",\"cout\":8,\"k\":3,\"act\":\"relu\"},"
    "{\"op\":\"nb201_cell\",\"id\":\"z\",\"cell\":\"|nor_conv_3x3~0|+|none~0|none~1|+|"
    "none~0|none~1|none~2|\"},"
    "{\"op\":\"add\",\"inputs\":[\"z\",\"a\"]},"
    "{\"op\":\"conv2d\",\"cout\":6,\"k\":3,\"s\":2,\"act\":\"swish\"}]}",
};

static NET_FIXTURES_UNUSED struct oc_net *load_net(const char *text) {
  struct oc_net *net = NULL;
  cr_assert_eq(oc_net_from_string(text, "test", &net), oc_status_ok, "%s", oc_errmsg());
  return net;
}

/* max |got - ref| <= 2e-4 x max |ref| + 1e-5: per op a target stays within
 * the conformance tolerance (float sums and polynomial approximations of
 * sigmoid, exp, gelu, tanh against the oracle's double); over ~100 chained
 * kernels the differences add up, relative to the output's scale. */
static NET_FIXTURES_UNUSED void expect_net_close(const float *ref, const float *got, int64_t n,
                                                 const char *what) {
  double max_ref = 0, max_diff = 0;
  for (int64_t i = 0; i < n; i++) {
    cr_assert(isfinite(ref[i]) && isfinite(got[i]), "%s: element %lld is not finite (%g)", what,
              (long long)i, (double)got[i]);
    if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
    double d = fabs((double)ref[i] - got[i]);
    if (d > max_diff) max_diff = d;
  }
  cr_expect(max_ref > 1e-6, "%s: the output is all zeros; the test would prove nothing", what);
  cr_expect(max_diff <= 2e-4 * max_ref + 1e-5, "%s: max diff %g (max |ref| %g)", what, max_diff,
            max_ref);
}

#endif
