/* test_net_run.c - whole-network runs: the ref runner chains the right
 * buffers and parameters (checked by hand on tiny networks), and the cpu
 * runner (XNNPACK subgraphs split around own kernels) gives the ref
 * runner's output on small networks that use every layer kind, every
 * activation and every data move, on one and two threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcost/opcost.h"

#define NET_HEAD "{\"format\":\"opcost-net/1\",\"name\":\"run\",\"input\":"

/* Mixed CNN: every block but the transformer, odd sizes, every activation. */
static const char *const cnn_net =
    NET_HEAD "{\"h\":21,\"w\":19,\"c\":3},\"layers\":["
    "{\"op\":\"conv2d\",\"cout\":16,\"k\":3,\"s\":2,\"act\":\"hswish\"},"
    "{\"op\":\"mbconv\",\"cout\":16,\"k\":3,\"e\":4,\"se\":1,\"se_gate\":\"hsigmoid\",\"act\":\"swish\"},"
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
    "{\"op\":\"fc\",\"cout\":10,\"act\":\"hsigmoid\"}]}";

/* Vision transformer: patch embedding with class token and positions. */
static const char *const vit_net =
    NET_HEAD "{\"h\":16,\"w\":16,\"c\":3},\"layers\":["
    "{\"op\":\"patch_embed\",\"p\":4,\"dim\":24,\"cls\":1,\"pos\":1},"
    "{\"op\":\"transformer_layer\",\"heads\":3,\"mlp_ratio\":2},"
    "{\"op\":\"transformer_layer\",\"heads\":2,\"act\":\"swish\"},"
    "{\"op\":\"transformer_layer\",\"heads\":4,\"head_dim\":5},"
    "{\"op\":\"layernorm\"},"
    "{\"op\":\"token_select\",\"index\":2},"
    "{\"op\":\"fc\",\"cout\":5}]}";

/* Primitive joins: matmul (tb=1), mul, add with fused activations. */
static const char *const join_net =
    NET_HEAD "{\"h\":4,\"w\":6,\"c\":3},\"layers\":["
    "{\"op\":\"conv2d\",\"id\":\"a\",\"cout\":8,\"k\":3},"
    "{\"op\":\"conv2d\",\"id\":\"b\",\"inputs\":[\"input\"],\"cout\":8,\"k\":1,\"act\":\"tanh\"},"
    "{\"op\":\"matmul\",\"id\":\"m\",\"inputs\":[\"a\",\"b\"],\"tb\":1},"
    "{\"op\":\"softmax\",\"id\":\"s\"},"
    "{\"op\":\"matmul\",\"id\":\"p\",\"inputs\":[\"s\",\"b\"]},"
    "{\"op\":\"add\",\"inputs\":[\"p\",\"a\"],\"act\":\"hswish\"},"
    "{\"op\":\"mul\",\"id\":\"q\",\"inputs\":[\"a\",\"b\"]},"
    "{\"op\":\"add\",\"inputs\":[\"q\",\"a\"],\"act\":\"swish\"},"
    "{\"op\":\"add\",\"inputs\":[\"q\",\"b\"],\"act\":\"relu6\"}]}";

static struct oc_net *load(const char *text) {
  struct oc_net *net = NULL;
  cr_assert_eq(oc_net_from_string(text, "test", &net), oc_status_ok, "%s", oc_errmsg());
  return net;
}

static float *run_net(const char *spec, int threads, const struct oc_net *net, const float *in,
                      int runs) {
  struct oc_target_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.threads = threads;
  struct oc_target *target = NULL;
  struct oc_kernel *kernel = NULL;
  float *out = calloc((size_t)oc_tensor_elems(&net->output), sizeof *out);
  cr_assert_not_null(out);
  cr_assert_eq(oc_target_open(spec, &opts, &target), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_prepare_net(target, net, in, out, &kernel), oc_status_ok, "%s: %s", spec,
               oc_errmsg());
  for (int i = 0; i < runs; i++)
    cr_assert_eq(oc_target_run(target, kernel), oc_status_ok, "%s: %s", spec, oc_errmsg());
  cr_assert_eq(oc_target_read_output(target, kernel), oc_status_ok);
  oc_target_release(target, kernel);
  oc_target_close(target);
  return out;
}

/* Max |a - b| must stay within rel x max|ref| + abs: XNNPACK's sigmoid,
 * exp and the own gelu/tanh are polynomial approximations (about 1e-6
 * relative each), summed over ~100 kernels. */
static void expect_close(const float *ref, const float *got, int64_t n, const char *what) {
  double max_ref = 0, max_diff = 0;
  for (int64_t i = 0; i < n; i++) {
    cr_assert(isfinite(ref[i]) && isfinite(got[i]), "%s: element %lld is not finite", what,
              (long long)i);
    if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
    double d = fabs((double)ref[i] - got[i]);
    if (d > max_diff) max_diff = d;
  }
  cr_expect(max_ref > 1e-6, "%s: the output is all zeros; the test would prove nothing", what);
  cr_expect(max_diff <= 2e-4 * max_ref + 1e-5, "%s: max diff %g (max |ref| %g)", what, max_diff,
            max_ref);
}

static void cpu_matches_ref(const char *text) {
  char why[256];
  if (oc_target_available(oc_target_find("cpu"), why, sizeof why) != oc_status_ok)
    cr_skip_test("cpu target unavailable: %s", why);
  struct oc_net *net = load(text);
  float *in = malloc((size_t)oc_tensor_elems(&net->input) * sizeof *in);
  cr_assert_not_null(in);
  oc_net_fill_input(net, 3, in);
  int64_t n = oc_tensor_elems(&net->output);
  float *ref = run_net("ref", 1, net, in, 1);
  float *one = run_net("cpu", 1, net, in, 2);
  float *two = run_net("cpu", 2, net, in, 1);
  expect_close(ref, one, n, "cpu, 1 thread");
  expect_close(ref, two, n, "cpu, 2 threads");
  free(in);
  free(ref);
  free(one);
  free(two);
  oc_net_free(net);
}

Test(net_run, cpu_matches_ref_cnn) { cpu_matches_ref(cnn_net); }

Test(net_run, cpu_matches_ref_transformer) { cpu_matches_ref(vit_net); }

Test(net_run, cpu_matches_ref_joins) { cpu_matches_ref(join_net); }

Test(net_run, ref_chains_parameters) {
  /* fc 3 -> 2 then relu: out = relu(W x + b) with the runner's own params. */
  struct oc_net *net = load(NET_HEAD "{\"h\":1,\"w\":1,\"c\":3},\"layers\":["
                                     "{\"op\":\"fc\",\"cout\":2},{\"op\":\"act\",\"act\":\"relu\"}]}");
  struct oc_net_params *params = NULL;
  cr_assert_eq(oc_net_params_create(net, OC_NET_PARAM_SEED, &params), oc_status_ok);
  float in[3] = {0.5f, -1.0f, 2.0f};
  float *out = run_net("ref", 1, net, in, 1);
  for (int o = 0; o < 2; o++) {
    double acc = params->bias[0][o];
    for (int i = 0; i < 3; i++) acc += (double)params->weights[0][o * 3 + i] * in[i];
    cr_expect_float_eq(out[o], (float)(acc > 0 ? acc : 0), 1e-6f, "output %d", o);
  }
  free(out);
  oc_net_params_free(params);
  oc_net_free(net);
}

Test(net_run, network_without_kernels_copies_its_input) {
  struct oc_net *net = load(NET_HEAD "{\"h\":2,\"w\":2,\"c\":3},\"layers\":["
                                     "{\"op\":\"nb201_cell\",\"cell\":\"|skip_connect~0|+|none~0|"
                                     "none~1|+|skip_connect~0|none~1|none~2|\"}]}");
  cr_assert_eq(net->n_kernels, 0);
  float in[12];
  for (int i = 0; i < 12; i++) in[i] = (float)i - 5.5f;
  const char *targets[] = {"ref", "cpu"};
  for (int t = 0; t < 2; t++) {
    float *out = run_net(targets[t], 1, net, in, 1);
    cr_expect(memcmp(in, out, sizeof in) == 0, "%s", targets[t]);
    free(out);
  }
  oc_net_free(net);
}

Test(net_run, f16_networks_are_refused) {
  struct oc_net *net = load("{\"format\":\"opcost-net/1\",\"dtype\":\"f16\",\"input\":{\"h\":2,"
                            "\"w\":2,\"c\":3},\"layers\":[{\"op\":\"gap\"}]}");
  struct oc_target *target = NULL;
  struct oc_kernel *kernel = NULL;
  float in[12] = {0}, out[3];
  cr_assert_eq(oc_target_open("ref", NULL, &target), oc_status_ok);
  cr_expect_eq(oc_target_prepare_net(target, net, in, out, &kernel), oc_status_unsupported);
  cr_expect(strstr(oc_errmsg(), "f32") != NULL, "%s", oc_errmsg());
  oc_target_close(target);
  oc_net_free(net);
}
