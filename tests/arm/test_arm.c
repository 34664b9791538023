/* test_arm.c - the aarch64 opcost-agent (cross-built against Debian's arm64
 * XNNPACK, whose NEON kernels it runs) under qemu-aarch64, through the
 * remote target: the device it describes (emulated, aarch64, NEON), ops
 * against the host's ref oracle, the probe harness on its device clock,
 * pinning to a cluster, the agent's own `probe` command, and the push
 * bundle started through its own dynamic loader, and a whole network
 * (prepare_net: XNNPACK subgraphs on aarch64) against the host's ref
 * runner. The whole conformance
 * table runs as the separate test arm_conformance (tests/CMakeLists.txt).
 *
 * Times measured here are QEMU's, labelled emulated; nothing asserts on
 * them beyond being durations. Skips, with the reason, when the cross build
 * or qemu-aarch64 is missing. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "opcost/net.h"
#include "opcost/probe.h"
#include "opcost/target.h"
#include "targets/ref/ref.h"
#include "targets/remote/remote_internal.h"

static char qemu[512];

static void setup(void) {
  if (oc_target_find("remote") == NULL) cr_skip_test("the remote target is not built in");
  if (OPCOST_AGENT_AARCH64[0] == '\0')
    cr_skip_test("no aarch64 agent: %s", OPCOST_AGENT_AARCH64_WHY);
  if (access(OPCOST_AGENT_AARCH64, X_OK) != 0)
    cr_skip_test("the aarch64 agent %s is not built", OPCOST_AGENT_AARCH64);
  const char *path = getenv("PATH");
  char copy[4096];
  oc__strcpy(copy, sizeof copy, path ? path : "/usr/bin:/bin");
  qemu[0] = '\0';
  for (char *d = strtok(copy, ":"); d && !qemu[0]; d = strtok(NULL, ":")) {
    char candidate[600];
    oc__strfmt(candidate, sizeof candidate, "%s/qemu-aarch64", d);
    if (access(candidate, X_OK) == 0) oc__strcpy(qemu, sizeof qemu, candidate);
  }
  if (!qemu[0]) cr_skip_test("qemu-aarch64 is not installed (Debian: qemu-user)");
}

TestSuite(arm, .init = setup);

static struct oc_target *open_arm(const char *extra) {
  char spec[2048];
  oc__strfmt(spec, sizeof spec, "remote:exec=%s -L %s %s%s", qemu, OPCOST_AGENT_AARCH64_SYSROOT,
             OPCOST_AGENT_AARCH64, extra);
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open(spec, NULL, &t), oc_status_ok, "%s: %s", spec, oc_errmsg());
  return t;
}

static void check_op(struct oc_target *t, const char *key) {
  struct oc_op op;
  struct oc_op_shapes sh;
  cr_assert_eq(oc_op_parse(key, &op), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_op_shapes(&op, &sh), oc_status_ok);
  struct oc__rng rng;
  oc__rng_seed(&rng, 42);
  float *in = calloc((size_t)oc_tensor_elems(&sh.input[0]) + 16, sizeof(float));
  for (int64_t j = 0; j < oc_tensor_elems(&sh.input[0]); j++)
    in[j] = (float)(2 * oc__rng_double(&rng) - 1);
  float *w = calloc((size_t)sh.weight_elems + 1, sizeof(float));
  float *b = calloc((size_t)sh.bias_elems + 1, sizeof(float));
  for (int64_t j = 0; j < sh.weight_elems; j++) w[j] = (float)(oc__rng_double(&rng) - 0.5);
  for (int64_t j = 0; j < sh.bias_elems; j++) b[j] = (float)(oc__rng_double(&rng) - 0.5);
  int64_t n = oc_tensor_elems(&sh.output);
  float *want = calloc((size_t)n, sizeof(float)), *got = calloc((size_t)n, sizeof(float));
  struct oc_tensors ref = {{in, NULL}, w, b, want}, dev = {{in, NULL}, w, b, got};
  cr_assert_eq(oc__ref_compute(&op, &ref), oc_status_ok);
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_prepare(t, &op, &dev, &k), oc_status_ok, "%s: %s", key, oc_errmsg());
  cr_assert_eq(oc_target_run(t, k), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_read_output(t, k), oc_status_ok, "%s", oc_errmsg());
  for (int64_t j = 0; j < n; j++) {
    if (!(fabsf(got[j] - want[j]) <= 1e-4f + 1e-4f * fabsf(want[j])))
      cr_assert_fail("%s on aarch64: element %lld is %g, the oracle says %g", key, (long long)j,
                     (double)got[j], (double)want[j]);
  }
  oc_target_release(t, k);
  free(in);
  free(w);
  free(b);
  free(want);
  free(got);
}

Test(arm, describes_an_emulated_aarch64_with_neon) {
  struct oc_target *t = open_arm("");
  struct oc_device_info info;
  cr_assert_eq(oc_target_describe(t, &info), oc_status_ok, "%s", oc_errmsg());
  cr_assert_str_eq(info.arch, "aarch64");
  cr_assert(strstr(info.name, "emulated") != NULL, "QEMU timings must be labelled: '%s'",
            info.name);
  cr_assert(strstr(info.isa, "asimd") != NULL, "NEON (asimd) missing from '%s'", info.isa);
  cr_assert(strstr(info.runtime, "XNNPACK") != NULL, "%s", info.runtime);
  oc_target_close(t);
}

Test(arm, neon_kernels_agree_with_the_oracle) {
  struct oc_target *t = open_arm(",target=cpu");
  check_op(t, "conv2d.f32 h=13 w=13 cin=16 cout=16 k=3 s=1 g=16 d=1 act=relu6");
  check_op(t, "conv2d.f32 h=8 w=8 cin=32 cout=129 k=1 s=2 g=1 d=1 act=relu6");
  check_op(t, "fc.f32 m=7 cin=13 cout=129 act=gelu");
  check_op(t, "softmax.f32 h=1 w=13 c=127");
  oc_target_close(t);
}

Test(arm, the_harness_times_on_the_device_clock_of_a_pinned_cluster) {
  struct oc_target *t = open_arm(",cluster=big");
  struct oc_op op;
  cr_assert_eq(oc_op_parse("conv2d.f32 h=14 w=14 cin=8 cout=8 k=3 s=1 g=1 d=1 act=relu", &op),
               oc_status_ok);
  struct oc_measure_opts o;
  oc_measure_opts_default(&o);
  o.max_time_s = 0.3;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_op(t, &op, &o, &m), oc_status_ok, "%s", oc_errmsg());
  cr_assert(m.device_timer);
  cr_assert(m.stats.n >= OC_PROBE_MIN_SAMPLES);
  cr_assert(m.stats.min_us > 0 && isfinite(m.stats.median_us));
  oc_measurement_release(&m);
  oc_target_close(t);
}

Test(arm, the_bundle_runs_through_its_own_loader) {
  char spec[2048];
  oc__strfmt(spec, sizeof spec,
             "remote:exec=%s %s/lib/ld-linux-aarch64.so.1 --library-path %s/lib %s/opcost-agent",
             qemu, OPCOST_AGENT_AARCH64_BUNDLE, OPCOST_AGENT_AARCH64_BUNDLE,
             OPCOST_AGENT_AARCH64_BUNDLE);
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open(spec, NULL, &t), oc_status_ok, "%s", oc_errmsg());
  check_op(t, "gap.f32 h=7 w=7 c=127");
  oc_target_close(t);
}

Test(arm, the_agents_own_probe_command) {
  char *argv[] = {qemu, "-L", OPCOST_AGENT_AARCH64_SYSROOT, OPCOST_AGENT_AARCH64, NULL};
  struct oc__remote_link *l = NULL;
  cr_assert_eq(oc__remote_link_start(argv, &l), oc_status_ok, "%s", oc_errmsg());
  const char *req = "{\"id\":1,\"cmd\":\"open\",\"target\":\"cpu\"}\n"
                    "{\"id\":2,\"cmd\":\"probe\",\"op\":\"fc.f32 m=1 cin=127 cout=10 act=none\","
                    "\"opts\":{\"max_time_s\":0.2}}\n";
  cr_assert_eq(oc__remote_link_send(l, req, strlen(req), 30), oc_status_ok);
  char *line = NULL;
  size_t len = 0;
  cr_assert_eq(oc__remote_link_recv(l, 60, 1 << 20, &line, &len), oc_status_ok, "%s", oc_errmsg());
  cr_assert(strstr(line, "\"ok\":true") != NULL, "%s", line);
  cr_assert_eq(oc__remote_link_recv(l, 60, 1 << 24, &line, &len), oc_status_ok, "%s", oc_errmsg());
  json_error_t e;
  json_t *r = json_loads(line, 0, &e);
  cr_assert_not_null(r, "%s", line);
  const json_t *m = json_object_get(r, "measurement");
  cr_assert(json_is_object(m), "%s", line);
  char *notes = json_dumps(json_object_get(m, "notes"), 0);
  cr_assert(notes && strstr(notes, "emulat") != NULL, "notes must say emulated: %s", notes);
  free(notes);
  json_decref(r);
  oc__remote_link_close(l, 2.0);
}

Test(arm, a_whole_network_agrees_with_the_host_ref_runner) {
  /* Blocks with SE and a residual, and a transformer layer: subgraphs,
   * own kernels and data moves on the device. */
  const char *text =
      "{\"format\":\"opcost-net/1\",\"name\":\"arm-net\",\"input\":{\"h\":12,\"w\":12,\"c\":3},"
      "\"layers\":[{\"op\":\"conv2d\",\"cout\":8,\"k\":3,\"s\":2,\"act\":\"hswish\"},"
      "{\"op\":\"mbconv\",\"cout\":8,\"k\":3,\"e\":3,\"se\":1,\"act\":\"relu6\"},"
      "{\"op\":\"bottleneck\",\"cout\":16},"
      "{\"op\":\"patch_embed\",\"p\":2,\"dim\":16,\"cls\":1,\"pos\":1},"
      "{\"op\":\"transformer_layer\",\"heads\":2,\"mlp_ratio\":2},"
      "{\"op\":\"gap\"},{\"op\":\"fc\",\"cout\":10}]}";
  struct oc_net *net = NULL;
  cr_assert_eq(oc_net_from_string(text, "arm", &net), oc_status_ok, "%s", oc_errmsg());
  int64_t n_in = oc_tensor_elems(&net->input), n = oc_tensor_elems(&net->output);
  float *in = calloc((size_t)n_in + 16, sizeof *in);
  float *want = calloc((size_t)n, sizeof *want), *got = calloc((size_t)n, sizeof *got);
  oc_net_fill_input(net, 7, in);
  struct oc_target *ref = NULL;
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_open("ref", NULL, &ref), oc_status_ok);
  cr_assert_eq(oc_target_prepare_net(ref, net, in, want, &k), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_run(ref, k), oc_status_ok);
  oc_target_release(ref, k);
  oc_target_close(ref);
  struct oc_target *t = open_arm(",target=cpu");
  k = NULL;
  cr_assert_eq(oc_target_prepare_net(t, net, in, got, &k), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_run(t, k), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_target_read_output(t, k), oc_status_ok, "%s", oc_errmsg());
  for (int64_t j = 0; j < n; j++) {
    if (!(fabsf(got[j] - want[j]) <= 1e-4f + 1e-3f * fabsf(want[j])))
      cr_assert_fail("%s on aarch64: output %lld is %g, the host's ref runner says %g", net->name,
                     (long long)j, (double)got[j], (double)want[j]);
  }
  oc_target_release(t, k);
  oc_target_close(t);
  free(in);
  free(want);
  free(got);
  oc_net_free(net);
}
