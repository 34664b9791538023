/* test_remote.c - the host side of the remote target, without ARM: the
 * native opcost-agent of this build behind exec=, and ssh/adb through
 * stand-in programs that run the remote command with the local shell, the
 * way sshd and adbd hand it to the device's. Checks results against the ref
 * oracle, device timing through the probe harness, resuming after the agent
 * dies, pushing a missing or outdated agent, that names reach no shell
 * (paths holding ; and $()), and the errors for a missing, crashing,
 * garbage-speaking, hanging or incompatible agent. Whole networks: the
 * agent's output against a local run on the same target kind, twice, the
 * agent-side seeded input and device times, errors that name the network
 * and layer, and a network prepared again after the agent dies. Skips when
 * the remote target is not built in. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/core.h"
#include "opcost/net.h"
#include "opcost/probe.h"
#include "opcost/target.h"
#include "targets/ref/ref.h"
#include "targets/remote/remote_internal.h"
#include "tests/net_fixtures.h"

#define AGENT OPCOST_BINARY_DIR "/agent/opcost-agent"

static char dir[256];

static void setup(void) {
  if (oc_target_find("remote") == NULL) cr_skip_test("the remote target is not built in");
  if (access(AGENT, X_OK) != 0) cr_skip_test("no native agent at %s", AGENT);
  oc__strfmt(dir, sizeof dir, "/tmp/opcost-test-remote-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  unsetenv("OPCOST_REMOTE");
}

static void teardown(void) {
  if (!dir[0]) return;
  char cmd[300];
  oc__strfmt(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(remote, .init = setup, .fini = teardown);

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
  cr_assert_eq(chmod(path, mode), 0);
}

static struct oc_target *open_ok(const char *spec) {
  struct oc_target *t = NULL;
  enum oc_status st = oc_target_open(spec, NULL, &t);
  cr_assert_eq(st, oc_status_ok, "open '%s': %s", spec, oc_errmsg());
  return t;
}

static enum oc_status open_fails(const char *spec, double *seconds) {
  struct oc_target *t = NULL;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  enum oc_status st = oc_target_open(spec, NULL, &t);
  clock_gettime(CLOCK_MONOTONIC, &b);
  if (seconds) *seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
  cr_assert_neq(st, oc_status_ok, "open '%s' should have failed", spec);
  cr_assert_null(t);
  return st;
}

/* Runs key on t with seeded data and compares with the oracle. */
static void check_op(struct oc_target *t, const char *key, int runs) {
  struct oc_op op;
  struct oc_op_shapes sh;
  cr_assert_eq(oc_op_parse(key, &op), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_op_shapes(&op, &sh), oc_status_ok);
  struct oc__rng rng;
  oc__rng_seed(&rng, oc__hash64_str(OC__HASH_SEED, key));
  float *in[OC_MAX_INPUTS] = {NULL, NULL}, *w = NULL, *b = NULL;
  int64_t out_n = oc_tensor_elems(&sh.output);
  for (int i = 0; i < sh.n_inputs; i++) {
    int64_t n = oc_tensor_elems(&sh.input[i]);
    in[i] = calloc((size_t)n + 16, sizeof(float));
    for (int64_t j = 0; j < n; j++) in[i][j] = (float)(2 * oc__rng_double(&rng) - 1);
  }
  if (sh.weight_elems > 0) {
    w = calloc((size_t)sh.weight_elems, sizeof(float));
    b = calloc((size_t)sh.bias_elems + 1, sizeof(float));
    for (int64_t j = 0; j < sh.weight_elems; j++) w[j] = (float)(oc__rng_double(&rng) - 0.5);
    for (int64_t j = 0; j < sh.bias_elems; j++) b[j] = (float)(oc__rng_double(&rng) - 0.5);
  }
  float *want = calloc((size_t)out_n, sizeof(float)), *got = calloc((size_t)out_n, sizeof(float));
  struct oc_tensors ref = {{in[0], in[1]}, w, b, want}, dev = {{in[0], in[1]}, w, b, got};
  cr_assert_eq(oc__ref_compute(&op, &ref), oc_status_ok);
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_prepare(t, &op, &dev, &k), oc_status_ok, "%s: %s", key, oc_errmsg());
  for (int r = 0; r < runs; r++) {
    for (int64_t j = 0; j < out_n; j++) got[j] = NAN;
    cr_assert_eq(oc_target_run(t, k), oc_status_ok, "%s run %d: %s", key, r, oc_errmsg());
    cr_assert_eq(oc_target_read_output(t, k), oc_status_ok, "%s read %d: %s", key, r, oc_errmsg());
    for (int64_t j = 0; j < out_n; j++) {
      if (!(fabsf(got[j] - want[j]) <= 1e-4f + 1e-4f * fabsf(want[j])))
        cr_assert_fail("%s run %d: element %lld is %g, the oracle says %g", key, r, (long long)j,
                       (double)got[j], (double)want[j]);
    }
  }
  oc_target_release(t, k);
  free(in[0]);
  free(in[1]);
  free(w);
  free(b);
  free(want);
  free(got);
}

/* ---- the native agent behind exec= ------------------------------------------ */

Test(remote, describes_the_device_behind_the_agent) {
  struct oc_target *t = open_ok("remote:exec=" AGENT);
  struct oc_device_info info;
  cr_assert_eq(oc_target_describe(t, &info), oc_status_ok, "%s", oc_errmsg());
  struct utsname u;
  cr_assert_eq(uname(&u), 0);
  cr_assert_str_eq(info.arch, u.machine);
  cr_assert_str_eq(info.target, "remote");
  cr_assert(strstr(info.runtime, "via opcost-agent") != NULL, "%s", info.runtime);
  cr_assert(info.cores_logical >= 1);
  cr_assert_eq(strlen(info.fingerprint), 16);
  oc_target_close(t);
}

Test(remote, ops_match_the_oracle) {
  struct oc_target *t = open_ok("remote:exec=" AGENT ",target=cpu");
  check_op(t, "conv2d.f32 h=7 w=7 cin=3 cout=5 k=3 s=1 g=1 d=1 act=none", 2);
  check_op(t, "conv2d.f32 h=13 w=13 cin=16 cout=16 k=3 s=1 g=16 d=1 act=relu6", 1);
  check_op(t, "fc.f32 m=3 cin=64 cout=33 act=relu", 1);
  check_op(t, "matmul.f32 b=2 m=1 k=127 n=9 tb=0", 1);
  check_op(t, "concat.f32 h=7 w=7 c=3 c2=5", 1);
  oc_target_close(t);
}

Test(remote, device_times_feed_the_probe_harness) {
  struct oc_target *t = open_ok("remote:exec=" AGENT);
  struct oc_op op;
  cr_assert_eq(oc_op_parse("conv2d.f32 h=14 w=14 cin=8 cout=8 k=3 s=1 g=1 d=1 act=relu", &op),
               oc_status_ok);
  struct oc_measure_opts o;
  oc_measure_opts_default(&o);
  o.max_time_s = 0.2;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  cr_assert_eq(oc_probe_op(t, &op, &o, &m), oc_status_ok, "%s", oc_errmsg());
  cr_assert(m.device_timer, "the remote target has a device timer");
  cr_assert(m.stats.n >= OC_PROBE_MIN_SAMPLES);
  cr_assert(m.stats.median_us > 0 && isfinite(m.stats.median_us));
  oc_measurement_release(&m);
  oc_target_close(t);
}

Test(remote, spec_from_the_environment) {
  setenv("OPCOST_REMOTE", "exec=" AGENT ",target=ref", 1);
  struct oc_target *t = open_ok("remote");
  unsetenv("OPCOST_REMOTE");
  struct oc_device_info info;
  cr_assert_eq(oc_target_describe(t, &info), oc_status_ok);
  cr_assert(strstr(info.runtime, "reference") != NULL, "target=ref: %s", info.runtime);
  oc_target_close(t);
}

/* ---- drops, crashes and bad agents -------------------------------------------- */

Test(remote, resumes_after_the_agent_dies) {
  /* The agent is killed on its 7th request, again after every restart; a
   * log line per start shows the restarts. Results must stay right. */
  char spec[1024], log[300];
  oc__strfmt(log, sizeof log, "%s/starts", dir);
  oc__strfmt(spec, sizeof spec, "remote:exec=/bin/sh -c 'echo start >> %s; exec %s --exit-after 7'",
             log, AGENT);
  struct oc_target *t = open_ok(spec);
  check_op(t, "fc.f32 m=2 cin=9 cout=5 act=hswish", 4);
  check_op(t, "add.f32 h=3 w=5 c=7 act=none", 4);
  double us[8];
  struct oc_op op;
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_op_parse("gap.f32 h=7 w=7 c=16", &op), oc_status_ok);
  cr_assert_eq(oc_target_prepare(t, &op, NULL, &k), oc_status_ok, "%s", oc_errmsg());
  for (int i = 0; i < 6; i++)
    cr_assert_eq(oc_target_time_runs(t, k, 8, us), oc_status_ok, "%s", oc_errmsg());
  oc_target_release(t, k);
  oc_target_close(t);
  FILE *f = fopen(log, "r");
  cr_assert_not_null(f);
  int starts = 0;
  char line[64];
  while (fgets(line, sizeof line, f)) starts++;
  fclose(f);
  cr_assert(starts >= 3, "the agent was started %d times: it should have died and come back",
            starts);
}

Test(remote, gives_up_naming_the_transport_and_request) {
  enum oc_status st = open_fails("remote:exec=" AGENT " --exit-after 2,retries=1", NULL);
  cr_assert_eq(st, oc_status_device_error, "%s", oc_errmsg());
  const char *msg = oc_errmsg();
  cr_assert(strstr(msg, "exec=" AGENT) != NULL, "%s", msg);
  cr_assert(strstr(msg, "(open)") != NULL, "%s", msg);
  cr_assert(strstr(msg, "killed by signal 9") != NULL, "%s", msg);
  cr_assert(strstr(msg, "gave up after 1 reconnect") != NULL, "%s", msg);
}

Test(remote, garbage_on_the_pipe) {
  enum oc_status st =
      open_fails("remote:exec=/bin/sh -c 'echo hello there; cat > /dev/null'", NULL);
  cr_assert_eq(st, oc_status_parse_error, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "request 1 (hello)") != NULL, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "hello there") != NULL, "%s", oc_errmsg());
}

Test(remote, a_hanging_agent_times_out) {
  double seconds = 0;
  enum oc_status st = open_fails("remote:exec=/bin/sh -c 'sleep 30',timeout=0.3", &seconds);
  cr_assert_eq(st, oc_status_timeout, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "request 1 (hello)") != NULL, "%s", oc_errmsg());
  cr_assert(seconds < 10, "took %.1f s to give up", seconds);
}

Test(remote, a_missing_agent) {
  enum oc_status st = open_fails("remote:exec=/nonexistent/opcost-agent", NULL);
  cr_assert_eq(st, oc_status_unavailable, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "exec=/nonexistent/opcost-agent") != NULL, "%s", oc_errmsg());
}

Test(remote, an_incompatible_agent) {
  char script[300], spec[400];
  oc__strfmt(script, sizeof script, "%s/old-agent", dir);
  write_file(script,
             "#!/bin/sh\nread line\n"
             "echo '{\"id\":1,\"ok\":true,\"agent\":\"opcost-agent\",\"protocol\":99,"
             "\"build\":\"0\",\"endian\":\"little\"}'\ncat > /dev/null\n",
             0755);
  oc__strfmt(spec, sizeof spec, "remote:exec=%s", script);
  enum oc_status st = open_fails(spec, NULL);
  cr_assert_eq(st, oc_status_incompatible, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "protocol 99") != NULL, "%s", oc_errmsg());
}

Test(remote, an_agent_of_the_previous_protocol_is_refused) {
  /* Protocol 1 had no prepare_net: such an agent must be rebuilt (exec=)
   * or pushed (push=, by its build id), never used. */
  char script[300], spec[400];
  oc__strfmt(script, sizeof script, "%s/old-agent", dir);
  write_file(script,
             "#!/bin/sh\nread line\n"
             "echo '{\"id\":1,\"ok\":true,\"agent\":\"opcost-agent\",\"protocol\":1,"
             "\"build\":\"0\",\"endian\":\"little\"}'\ncat > /dev/null\n",
             0755);
  oc__strfmt(spec, sizeof spec, "remote:exec=%s", script);
  enum oc_status st = open_fails(spec, NULL);
  cr_assert_eq(st, oc_status_incompatible, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "protocol 1, this opcost speaks 2") != NULL, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "rebuild") != NULL, "%s", oc_errmsg());
}

Test(remote, bad_specs) {
  cr_assert_eq(open_fails("remote", NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "no device given") != NULL, "%s", oc_errmsg());
  cr_assert_eq(open_fails("remote:ssh=a,adb=b", NULL), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "exactly one") != NULL, "%s", oc_errmsg());
  cr_assert_eq(open_fails("remote:colour=red", NULL), oc_status_invalid_argument);
  cr_assert_eq(open_fails("remote:ssh=-oProxyCommand=touch", NULL), oc_status_invalid_argument);
  cr_assert_eq(open_fails("remote:exec=" AGENT ",push=/tmp", NULL), oc_status_invalid_argument);
  cr_assert_eq(open_fails("remote:exec='unclosed", NULL), oc_status_invalid_argument);
  cr_assert_eq(open_fails("remote:exec=" AGENT ",timeout=-1", NULL), oc_status_invalid_argument);
}

/* ---- no shell in between ------------------------------------------------------ */

static bool exists_under(const char *root, const char *name) {
  char path[600];
  oc__strfmt(path, sizeof path, "%s/%s", root, name);
  return access(path, F_OK) == 0;
}

Test(remote, exec_names_reach_no_shell) {
  char sub[600], link[700], spec[800], cwd[512];
  oc__strfmt(sub, sizeof sub, "%s/a;touch INJ1;$(touch INJ2)`touch INJ3`", dir);
  cr_assert_eq(mkdir(sub, 0755), 0);
  oc__strfmt(link, sizeof link, "%s/opcost-agent", sub);
  cr_assert_eq(symlink(AGENT, link), 0);
  cr_assert_not_null(getcwd(cwd, sizeof cwd));
  cr_assert_eq(chdir(dir), 0);
  /* Quoted for exec='s word splitting (the name has blanks), then as is
   * (a name without blanks). */
  oc__strfmt(spec, sizeof spec, "remote:exec='%s'", link);
  struct oc_target *t = open_ok(spec);
  check_op(t, "act.f32 h=7 w=13 c=5 act=relu", 1);
  oc_target_close(t);
  char sub2[700], link2[800];
  oc__strfmt(sub2, sizeof sub2, "%s/b;touch${IFS}INJ4;$(touch${IFS}INJ5)", dir);
  cr_assert_eq(mkdir(sub2, 0755), 0);
  oc__strfmt(link2, sizeof link2, "%s/opcost-agent", sub2);
  cr_assert_eq(symlink(AGENT, link2), 0);
  oc__strfmt(spec, sizeof spec, "remote:exec=%s", link2);
  t = open_ok(spec);
  oc_target_close(t);
  cr_assert_eq(chdir(cwd), 0);
  for (int i = 1; i <= 5; i++) {
    char name[8];
    oc__strfmt(name, sizeof name, "INJ%d", i);
    cr_assert(!exists_under(dir, name), "%s was created: a shell ran the name", name);
  }
}

/* ---- ssh and adb, through stand-ins --------------------------------------------- */

/* A bundle of the native agent, the stand-in programs, and the "device"
 * home they run commands in. */
static void make_bundle(char *bundle, size_t size) {
  char cmd[1024];
  oc__strfmt(bundle, size, "%s/bundle", dir);
  oc__strfmt(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/opcost-agent'", bundle, AGENT, bundle);
  cr_assert_eq(system(cmd), 0);
  char home[400];
  oc__strfmt(home, sizeof home, "%s/device", dir);
  cr_assert_eq(mkdir(home, 0755), 0);
  setenv("FAKE_HOME", home, 1);
  char path[400];
  oc__strfmt(path, sizeof path, "%s/fake-ssh", dir);
  write_file(path,
             "#!/bin/sh\n# stands in for ssh: drops options and destination, runs the command\n"
             "# with a shell in the device's home, as sshd does\n"
             "while [ $# -gt 1 ]; do shift; done\ncd \"$FAKE_HOME\" && exec /bin/sh -c \"$1\"\n",
             0755);
  oc__strfmt(path, sizeof path, "%s/fake-adb", dir);
  write_file(path,
             "#!/bin/sh\n# stands in for adb: -s SERIAL shell CMD | -s SERIAL push LOCAL REMOTE\n"
             "[ \"$1\" = -s ] && shift 2\ncd \"$FAKE_HOME\" || exit 1\n"
             "case \"$1\" in\n  shell) shift; exec /bin/sh -c \"$*\";;\n"
             "  push) exec cp \"$2\" \"$3\";;\nesac\nexit 1\n",
             0755);
}

static ino_t inode_of(const char *path) {
  struct stat sb;
  cr_assert_eq(stat(path, &sb), 0, "no %s", path);
  return sb.st_ino;
}

Test(remote, ssh_pushes_a_missing_or_outdated_agent) {
  char bundle[300], spec[1200], remote_agent[800], built[17], local[17];
  make_bundle(bundle, sizeof bundle);
  const char *rdir = "agent dir;touch INJ4;$(touch INJ5)";
  oc__strfmt(spec, sizeof spec, "remote:ssh=me@device,ssh_bin=%s/fake-ssh,push=%s,dir=%s", dir,
             bundle, rdir);
  oc__strfmt(remote_agent, sizeof remote_agent, "%s/device/%s/opcost-agent", dir, rdir);
  cr_assert_eq(oc__agent_build_id(AGENT, local), oc_status_ok);

  /* Missing: pushed, then it runs. */
  struct oc_target *t = open_ok(spec);
  check_op(t, "softmax.f32 h=1 w=7 c=10", 1);
  oc_target_close(t);
  cr_assert_eq(oc__agent_build_id(remote_agent, built), oc_status_ok, "%s", oc_errmsg());
  cr_assert_str_eq(built, local);
  char home[400];
  oc__strfmt(home, sizeof home, "%s/device", dir);
  cr_assert(!exists_under(home, "INJ4") && !exists_under(home, "INJ5"),
            "a directory name reached the device's shell unquoted");

  /* Up to date: not pushed again (a push renames a new file into place). */
  ino_t before = inode_of(remote_agent);
  t = open_ok(spec);
  oc_target_close(t);
  cr_assert_eq(inode_of(remote_agent), before, "an up-to-date agent was pushed again");

  /* Outdated (another build answers hello): pushed again. */
  write_file(remote_agent,
             "#!/bin/sh\nread line\n"
             "echo '{\"id\":1,\"ok\":true,\"agent\":\"opcost-agent\",\"protocol\":1,"
             "\"build\":\"0000000000000000\",\"endian\":\"little\"}'\ncat > /dev/null\n",
             0755);
  t = open_ok(spec);
  check_op(t, "maxpool2d.f32 h=13 w=13 c=7 k=3 s=2", 1);
  oc_target_close(t);
  cr_assert_eq(oc__agent_build_id(remote_agent, built), oc_status_ok);
  cr_assert_str_eq(built, local, "the outdated agent was not replaced");
}

Test(remote, ssh_without_push_says_the_agent_is_missing) {
  char bundle[300], spec[800];
  make_bundle(bundle, sizeof bundle);
  oc__strfmt(spec, sizeof spec, "remote:ssh=me@device,ssh_bin=%s/fake-ssh,retries=0", dir);
  enum oc_status st = open_fails(spec, NULL);
  cr_assert_eq(st, oc_status_device_error, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "ssh=me@device") != NULL, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "exited with status 127") != NULL, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "push=") != NULL, "the message should say how to install: %s",
            oc_errmsg());
}

Test(remote, adb_pushes_and_runs) {
  char bundle[300], spec[1200], remote_agent[600];
  make_bundle(bundle, sizeof bundle);
  oc__strfmt(spec, sizeof spec,
             "remote:adb=emulator-5554,adb_bin=%s/fake-adb,push=%s,dir=%s/device/data/opcost", dir,
             bundle, dir);
  struct oc_target *t = open_ok(spec);
  check_op(t, "layernorm.f32 h=1 w=13 c=64", 1);
  oc_target_close(t);
  oc__strfmt(remote_agent, sizeof remote_agent, "%s/device/data/opcost/opcost-agent", dir);
  cr_assert_eq(access(remote_agent, X_OK), 0, "the agent was not pushed executable");
}

/* ---- whole networks ------------------------------------------------------------ */

#define NAMED_NET "{\"format\":\"opcost-net/1\",\"name\":"

/* A small CNN (blocks with SE, a residual bottleneck, a classifier) and a
 * small vision transformer (class token, head split/merge data moves). */
static const char *const cnn_net =
    NAMED_NET "\"remote-cnn\",\"input\":{\"h\":13,\"w\":11,\"c\":3},\"layers\":["
             "{\"op\":\"conv2d\",\"cout\":8,\"k\":3,\"s\":2,\"act\":\"hswish\"},"
             "{\"op\":\"mbconv\",\"cout\":8,\"k\":3,\"e\":3,\"se\":1,\"act\":\"relu6\"},"
             "{\"op\":\"bottleneck\",\"cout\":16,\"s\":2},"
             "{\"op\":\"gap\"},"
             "{\"op\":\"fc\",\"cout\":10}]}";
static const char *const vit_net =
    NAMED_NET "\"remote-vit\",\"input\":{\"h\":8,\"w\":8,\"c\":3},\"layers\":["
             "{\"op\":\"patch_embed\",\"p\":4,\"dim\":16,\"cls\":1,\"pos\":1},"
             "{\"op\":\"transformer_layer\",\"heads\":2,\"mlp_ratio\":2},"
             "{\"op\":\"layernorm\"},"
             "{\"op\":\"gap\"},"
             "{\"op\":\"fc\",\"cout\":5}]}";


/* Output of net on an open target t for input `in`, run `runs` times (each
 * run's output must equal the first's, bit for bit). Caller frees. */
static float *net_output(struct oc_target *t, const struct oc_net *net, const float *in, int runs) {
  int64_t n = oc_tensor_elems(&net->output);
  float *out = calloc((size_t)n, sizeof *out), *first = calloc((size_t)n, sizeof *first);
  struct oc_kernel *k = NULL;
  cr_assert_eq(oc_target_prepare_net(t, net, in, out, &k), oc_status_ok, "%s: %s", net->name,
               oc_errmsg());
  if (strcmp(oc_target_name(t), "remote") == 0) {
    /* Networks are timed on the device, without the link. */
    double us[2] = {0, 0};
    cr_assert(oc_target_has_device_timer(t, k));
    cr_assert_eq(oc_target_time_runs(t, k, 2, us), oc_status_ok, "%s", oc_errmsg());
    cr_expect(us[0] > 0 && us[1] > 0);
  } else {
    cr_expect(!oc_target_has_device_timer(t, k));
  }
  for (int r = 0; r < runs; r++) {
    for (int64_t j = 0; j < n; j++) out[j] = NAN;
    cr_assert_eq(oc_target_run(t, k), oc_status_ok, "%s run %d: %s", net->name, r, oc_errmsg());
    cr_assert_eq(oc_target_read_output(t, k), oc_status_ok, "%s read %d: %s", net->name, r,
                 oc_errmsg());
    if (r == 0)
      memcpy(first, out, (size_t)n * sizeof *out);
    else
      cr_assert(memcmp(first, out, (size_t)n * sizeof *out) == 0,
                "%s: run %d gave another output than run 1", net->name, r);
  }
  oc_target_release(t, k);
  free(first);
  return out;
}

static float *net_input(const struct oc_net *net, uint64_t seed) {
  float *in = calloc((size_t)oc_tensor_elems(&net->input) + 16, sizeof *in);
  oc_net_fill_input(net, seed, in);
  return in;
}

static void expect_close(const struct oc_net *net, const char *what, const float *got,
                         const float *want, float tolerance) {
  int64_t n = oc_tensor_elems(&net->output);
  for (int64_t j = 0; j < n; j++) {
    if (!(fabsf(got[j] - want[j]) <= tolerance + tolerance * fabsf(want[j])))
      cr_assert_fail("%s (%s): element %lld is %.9g remotely, %.9g locally", net->name, what,
                     (long long)j, (double)got[j], (double)want[j]);
  }
}

/* The agent runs the same code on the same machine: ref must match bit for
 * bit; cpu (XNNPACK, one thread) too, checked with a tolerance of 1e-6. */
static void net_matches_local(const char *text) {
  struct oc_net *net = load_net(text);
  float *in = net_input(net, 5);
  const char *kinds[] = {"ref", "cpu"};
  for (int i = 0; i < 2; i++) {
    char spec[600];
    struct oc_target *local = open_ok(kinds[i]);
    float *want = net_output(local, net, in, 1);
    oc_target_close(local);
    oc__strfmt(spec, sizeof spec, "remote:exec=%s,target=%s", AGENT, kinds[i]);
    struct oc_target *t = open_ok(spec);
    float *got = net_output(t, net, in, 2);
    oc_target_close(t);
    expect_close(net, kinds[i], got, want, i == 0 ? 0.0f : 1e-6f);
    free(want);
    free(got);
  }
  free(in);
  oc_net_free(net);
}

Test(remote, networks_match_a_local_run_cnn) { net_matches_local(cnn_net); }

Test(remote, networks_match_a_local_run_transformer) { net_matches_local(vit_net); }

Test(remote, the_remote_target_runs_networks) {
  const struct oc_target_vtab *v = oc_target_find("remote");
  cr_assert(v->caps & oc_cap_networks);
  cr_assert(v->prepare_net && v->run_net && v->read_net_output && v->release_net);
}

/* Talks to the agent directly: requests in, replies (parsed) out. */
struct raw_agent {
  struct oc__remote_link *link;
};

static json_t *raw_request(struct raw_agent *a, const char *line) {
  cr_assert_eq(oc__remote_link_send(a->link, line, strlen(line), 30), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_eq(oc__remote_link_send(a->link, "\n", 1, 30), oc_status_ok);
  char *got = NULL;
  size_t len = 0;
  cr_assert_eq(oc__remote_link_recv(a->link, 60, 1 << 24, &got, &len), oc_status_ok, "%s",
               oc_errmsg());
  json_error_t e;
  json_t *r = json_loadb(got, len, 0, &e);
  cr_assert(json_is_object(r), "%.*s", (int)len, got);
  return r;
}

/* A prepare_net request for text (a JSON string holding the network). */
static json_t *raw_prepare_net(struct raw_agent *a, const char *text, const char *extra) {
  json_t *req = json_pack("{s:i, s:s, s:s}", "id", 3, "cmd", "prepare_net", "net", text);
  char *line = json_dumps(req, JSON_COMPACT);
  char full[16384];
  size_t n = strlen(line);
  oc__strfmt(full, sizeof full, "%.*s%s}", (int)(n - 1), line, extra);
  free(line);
  json_decref(req);
  return raw_request(a, full);
}

static const char *reply_error(const json_t *r) {
  return json_string_value(json_object_get(r, "error"));
}

Test(remote, the_agent_seeds_a_network_input_and_times_network_runs) {
  char *argv[] = {AGENT, NULL};
  struct raw_agent a = {NULL};
  cr_assert_eq(oc__remote_link_start(argv, &a.link), oc_status_ok, "%s", oc_errmsg());
  json_t *r = raw_request(&a, "{\"id\":1,\"cmd\":\"hello\"}");
  cr_assert_eq(json_integer_value(json_object_get(r, "protocol")), OC__AGENT_PROTOCOL);
  cr_assert_str_eq(json_string_value(json_object_get(r, "net_format")), OC_NET_FORMAT);
  json_decref(r);
  r = raw_request(&a, "{\"id\":2,\"cmd\":\"open\",\"target\":\"ref\"}");
  cr_assert(json_is_true(json_object_get(r, "ok")), "%s", reply_error(r));
  json_decref(r);
  /* No input: seeded on the device as oc_net_fill_input(seed) does here. */
  struct oc_net *net = load_net(cnn_net);
  r = raw_prepare_net(&a, cnn_net, ",\"seed\":9");
  cr_assert(json_is_true(json_object_get(r, "ok")), "%s", reply_error(r));
  cr_assert_str_eq(json_string_value(json_object_get(r, "hash")), net->hash_hex);
  json_int_t kernel = json_integer_value(json_object_get(r, "kernel"));
  json_decref(r);
  char line[200];
  oc__strfmt(line, sizeof line, "{\"id\":4,\"cmd\":\"time\",\"kernel\":%lld,\"runs\":3}",
             (long long)kernel);
  r = raw_request(&a, line);
  const json_t *us = json_object_get(r, "us");
  cr_assert_eq(json_array_size(us), 3, "%s", reply_error(r));
  for (size_t i = 0; i < 3; i++) cr_assert(json_real_value(json_array_get(us, i)) > 0);
  json_decref(r);
  oc__strfmt(line, sizeof line, "{\"id\":5,\"cmd\":\"read\",\"kernel\":%lld}", (long long)kernel);
  r = raw_request(&a, line);
  int64_t n = oc_tensor_elems(&net->output);
  float *got = calloc((size_t)n, sizeof *got);
  const json_t *b64 = json_object_get(r, "output");
  size_t decoded = 0;
  cr_assert_eq(oc__b64_decode(json_string_value(b64), json_string_length(b64), got,
                              (size_t)n * sizeof *got, &decoded),
               oc_status_ok, "%s", reply_error(r));
  json_decref(r);
  float *in = net_input(net, 9);
  struct oc_target *local = open_ok("ref");
  float *want = net_output(local, net, in, 1);
  oc_target_close(local);
  expect_close(net, "seeded on the device", got, want, 0.0f);
  oc__strfmt(line, sizeof line, "{\"id\":6,\"cmd\":\"release\",\"kernel\":%lld}",
             (long long)kernel);
  r = raw_request(&a, line);
  cr_assert(json_is_true(json_object_get(r, "ok")), "%s", reply_error(r));
  json_decref(r);
  free(got);
  free(want);
  free(in);
  oc_net_free(net);
  oc__remote_link_close(a.link, 2.0);
}

Test(remote, bad_networks_are_named_by_the_agent) {
  char *argv[] = {AGENT, NULL};
  struct raw_agent a = {NULL};
  cr_assert_eq(oc__remote_link_start(argv, &a.link), oc_status_ok, "%s", oc_errmsg());
  json_t *r = raw_request(&a, "{\"id\":1,\"cmd\":\"open\",\"target\":\"cpu\"}");
  json_decref(r);
  /* A layer whose argument is wrong: the network and the layer are named. */
  r = raw_prepare_net(&a,
                      NAMED_NET
                      "\"broken\",\"input\":{\"h\":8,\"w\":8,\"c\":3},\"layers\":["
                      "{\"op\":\"conv2d\",\"cout\":8,\"k\":3},{\"op\":\"conv2d\",\"cout\":-4}]}",
                      "");
  const char *err = reply_error(r);
  cr_assert(err != NULL && strstr(err, "prepare_net: network 'broken'") != NULL, "%s", err);
  cr_assert(strstr(err, "layer") != NULL && strstr(err, "cout") != NULL, "%s", err);
  json_decref(r);
  /* Not JSON at all. */
  r = raw_prepare_net(&a, "{\"format\":", "");
  err = reply_error(r);
  cr_assert(err != NULL && strstr(err, "field 'net': line 1") != NULL, "%s", err);
  cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "parse_error");
  json_decref(r);
  /* Another hash than the host's: the agent expands it differently. */
  r = raw_prepare_net(&a, cnn_net, ",\"hash\":\"0123456789abcdef\"");
  err = reply_error(r);
  cr_assert(err != NULL && strstr(err, "network 'remote-cnn': hash") != NULL, "%s", err);
  cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "incompatible");
  json_decref(r);
  /* An input of the wrong size. */
  r = raw_prepare_net(&a, cnn_net, ",\"input\":\"AAAA\"");
  err = reply_error(r);
  cr_assert(err != NULL && strstr(err, "network 'remote-cnn': input: 3 bytes") != NULL, "%s", err);
  json_decref(r);
  oc__remote_link_close(a.link, 2.0);
}

Test(remote, a_network_the_device_cannot_run_is_an_error_naming_it) {
  /* f16: loads on the host, the device's runners take f32 only. */
  struct oc_net *net = load_net("{\"format\":\"opcost-net/1\",\"name\":\"half\",\"dtype\":\"f16\","
                                "\"input\":{\"h\":4,\"w\":4,\"c\":3},\"layers\":["
                                "{\"op\":\"conv2d\",\"cout\":4,\"k\":3}]}");
  struct oc_target *t = open_ok("remote:exec=" AGENT);
  uint16_t in[64] = {0}, out[128] = {0};
  struct oc_kernel *k = NULL;
  enum oc_status st = oc_target_prepare_net(t, net, in, out, &k);
  cr_assert_eq(st, oc_status_unsupported, "%s", oc_errmsg());
  cr_assert_null(k);
  const char *msg = oc_errmsg();
  cr_assert(strstr(msg, "exec=" AGENT) != NULL, "%s", msg);
  cr_assert(strstr(msg, "network 'half'") != NULL && strstr(msg, "f32") != NULL, "%s", msg);
  /* The target keeps working. */
  check_op(t, "gap.f32 h=3 w=3 c=5", 1);
  oc_target_close(t);
  oc_net_free(net);
}

Test(remote, a_network_is_prepared_again_after_the_agent_dies) {
  char spec[1024], log[300];
  oc__strfmt(log, sizeof log, "%s/starts", dir);
  oc__strfmt(spec, sizeof spec,
             "remote:exec=/bin/sh -c 'echo start >> %s; exec %s --exit-after 6',target=ref", log,
             AGENT);
  struct oc_net *net = load_net(cnn_net);
  float *in = net_input(net, 11);
  struct oc_target *local = open_ok("ref");
  float *want = net_output(local, net, in, 1);
  oc_target_close(local);
  struct oc_target *t = open_ok(spec);
  /* hello, open, describe, then prepare_net, run, read, run, read ...: the
   * 6th request of every connection kills the agent. */
  float *got = net_output(t, net, in, 6);
  expect_close(net, "after reconnects", got, want, 0.0f);
  free(got);
  oc_target_close(t);
  FILE *f = fopen(log, "r");
  cr_assert_not_null(f);
  int starts = 0;
  char line[64];
  while (fgets(line, sizeof line, f)) starts++;
  fclose(f);
  cr_assert(starts >= 3, "the agent was started %d times: it should have died and come back",
            starts);
  free(want);
  free(in);
  oc_net_free(net);
}
