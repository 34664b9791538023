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
#include "tests/net_fixtures.h"

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

static void cpu_matches_ref(const char *text) {
  char why[256];
  if (oc_target_available(oc_target_find("cpu"), why, sizeof why) != oc_status_ok)
    cr_skip_test("cpu target unavailable: %s", why);
  struct oc_net *net = load_net(text);
  float *in = malloc((size_t)oc_tensor_elems(&net->input) * sizeof *in);
  cr_assert_not_null(in);
  oc_net_fill_input(net, 3, in);
  int64_t n = oc_tensor_elems(&net->output);
  float *ref = run_net("ref", 1, net, in, 1);
  float *one = run_net("cpu", 1, net, in, 2);
  float *two = run_net("cpu", 2, net, in, 1);
  expect_net_close(ref, one, n, "cpu, 1 thread");
  expect_net_close(ref, two, n, "cpu, 2 threads");
  free(in);
  free(ref);
  free(one);
  free(two);
  oc_net_free(net);
}

Test(net_run, cpu_matches_ref_cnn) { cpu_matches_ref(test_nets[test_net_cnn]); }

Test(net_run, cpu_matches_ref_transformer) { cpu_matches_ref(test_nets[test_net_vit]); }

Test(net_run, cpu_matches_ref_joins) { cpu_matches_ref(test_nets[test_net_join]); }

Test(net_run, cpu_matches_ref_zero_cell) { cpu_matches_ref(test_nets[test_net_zero]); }

Test(net_run, ref_chains_parameters) {
  /* fc 3 -> 2 then relu: out = relu(W x + b) with the runner's own params. */
  struct oc_net *net = load_net(NET_HEAD "{\"h\":1,\"w\":1,\"c\":3},\"layers\":["
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
  struct oc_net *net = load_net(NET_HEAD "{\"h\":2,\"w\":2,\"c\":3},\"layers\":["
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
  struct oc_net *net = load_net("{\"format\":\"opcost-net/1\",\"dtype\":\"f16\",\"input\":{\"h\":2,"
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
