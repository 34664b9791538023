/* test_agent.c - the device side of the remote protocol (agent/): base64 of
 * tensors, CPU lists, big.LITTLE cluster detection on fake sysfs trees,
 * choosing a cluster, emulation detection on fake /proc/cpuinfo files, and
 * the request loop served in-process (replies, errors with ids, bad input). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <sched.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/core.h"
#include "opcost/probe.h"

/* ---- base64 ------------------------------------------------------------ */

Test(agent_b64, round_trip_every_length) {
  unsigned char data[64], back[64];
  char text[128];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 37 + 11);
  for (size_t n = 0; n <= sizeof data; n++) {
    oc__b64_encode(data, n, text);
    cr_assert_eq(strlen(text), oc__b64_encoded_len(n), "length %zu", n);
    size_t got = 0;
    cr_assert_eq(oc__b64_decode(text, strlen(text), back, sizeof back, &got), oc_status_ok,
                 "n=%zu: %s", n, oc_errmsg());
    cr_assert_eq(got, n);
    cr_assert(memcmp(data, back, n) == 0, "n=%zu differs", n);
  }
}

Test(agent_b64, known_vectors) {
  char text[16];
  oc__b64_encode("foob", 4, text);
  cr_assert_str_eq(text, "Zm9vYg==");
  oc__b64_encode("fooba", 5, text);
  cr_assert_str_eq(text, "Zm9vYmE=");
  oc__b64_encode("foobar", 6, text);
  cr_assert_str_eq(text, "Zm9vYmFy");
}

Test(agent_b64, rejects_bad_input) {
  unsigned char out[16];
  size_t got;
  cr_assert_eq(oc__b64_decode("Zm9", 3, out, sizeof out, &got), oc_status_parse_error);
  cr_assert_eq(oc__b64_decode("Zm$v", 4, out, sizeof out, &got), oc_status_parse_error);
  cr_assert(strstr(oc_errmsg(), "offset 2") != NULL, "%s", oc_errmsg());
  cr_assert_eq(oc__b64_decode("Z===", 4, out, sizeof out, &got), oc_status_parse_error);
  cr_assert_eq(oc__b64_decode("Zg==Zg==", 8, out, sizeof out, &got), oc_status_parse_error);
  cr_assert_eq(oc__b64_decode("Zm9vYmFy", 8, out, 5, &got), oc_status_overflow);
}

/* ---- CPU lists and fake sysfs trees --------------------------------------- */

Test(agent_cpu, parses_cpu_lists) {
  int cpus[16], n = 0;
  cr_assert(oc__agent_parse_cpulist("0-3,6,8-9\n", cpus, 16, &n));
  cr_assert_eq(n, 7);
  cr_assert_eq(cpus[4], 6);
  cr_assert_eq(cpus[6], 9);
  cr_assert(!oc__agent_parse_cpulist("3-1", cpus, 16, &n));
  cr_assert(!oc__agent_parse_cpulist("0-x", cpus, 16, &n));
  cr_assert(!oc__agent_parse_cpulist("0-20", cpus, 16, &n), "more than max must fail");
}

static char root[256];

static void put(const char *rel, const char *text) {
  char path[512];
  oc__strfmt(path, sizeof path, "%s/%s", root, rel);
  for (char *p = path + strlen(root) + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0755);
      *p = '/';
    }
  }
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

static void fake_cpu(int cpu, long capacity, long max_khz) {
  char rel[128], text[32];
  oc__strfmt(rel, sizeof rel, "cpu%d/online", cpu);
  put(rel, "1\n");
  if (capacity > 0) {
    oc__strfmt(rel, sizeof rel, "cpu%d/cpu_capacity", cpu);
    oc__strfmt(text, sizeof text, "%ld\n", capacity);
    put(rel, text);
  }
  if (max_khz > 0) {
    oc__strfmt(rel, sizeof rel, "cpu%d/cpufreq/cpuinfo_max_freq", cpu);
    oc__strfmt(text, sizeof text, "%ld\n", max_khz);
    put(rel, text);
  }
}

static void make_root(void) {
  oc__strfmt(root, sizeof root, "/tmp/opcost-test-sysfs-XXXXXX");
  cr_assert_not_null(mkdtemp(root));
}

static void remove_root(void) {
  char cmd[300];
  oc__strfmt(cmd, sizeof cmd, "rm -rf '%s'", root);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(agent_topology, .init = make_root, .fini = remove_root);

Test(agent_topology, big_little_from_capacity) {
  /* A 4+3+1 phone SoC: little, big, prime; listed out of order. */
  put("online", "0-7\n");
  for (int c = 0; c < 8; c++)
    fake_cpu(c, c < 4 ? 446 : c < 7 ? 871 : 1024, c < 4 ? 1800000 : c < 7 ? 2420000 : 2840000);
  struct oc__cpu_topology t;
  cr_assert_eq(oc__agent_topology(root, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(t.n_clusters, 3);
  cr_assert_eq(t.clusters[0].n_cpus, 4);
  cr_assert_eq(t.clusters[0].capacity, 446);
  cr_assert_eq(t.clusters[1].n_cpus, 3);
  cr_assert_eq(t.clusters[1].cpus[0], 4);
  cr_assert_eq(t.clusters[2].n_cpus, 1);
  cr_assert_eq(t.clusters[2].cpus[0], 7);
  cr_assert_eq(t.clusters[2].max_khz, 2840000);
  cr_assert_str_eq(t.source, "cpu_capacity and cpuinfo_max_freq");

  struct oc_target_opts o;
  memset(&o, 0, sizeof o);
  cr_assert_eq(oc__agent_pick_cluster(&t, "big", &o), oc_status_ok);
  cr_assert_eq(o.n_cores, 1);
  cr_assert_eq(o.cores[0], 7);
  cr_assert_eq(oc__agent_pick_cluster(&t, "little", &o), oc_status_ok);
  cr_assert_eq(o.n_cores, 4);
  cr_assert_eq(o.cores[3], 3);
  cr_assert_eq(oc__agent_pick_cluster(&t, "1", &o), oc_status_ok);
  cr_assert_eq(o.n_cores, 3);
  cr_assert_eq(oc__agent_pick_cluster(&t, "3", &o), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "0-2") != NULL, "%s", oc_errmsg());
  cr_assert_eq(oc__agent_pick_cluster(&t, "medium", &o), oc_status_invalid_argument);
}

Test(agent_topology, frequency_only_and_offline_cpus) {
  /* No cpu_capacity (older kernels): cpufreq tells the clusters apart; CPUs
   * 2 and 3 are offline and must not be picked. */
  put("online", "0-1,4-5\n");
  for (int c = 0; c < 6; c++) fake_cpu(c, 0, c < 4 ? 1400000 : 2000000);
  struct oc__cpu_topology t;
  cr_assert_eq(oc__agent_topology(root, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(t.n_clusters, 2);
  cr_assert_str_eq(t.source, "cpuinfo_max_freq");
  cr_assert_eq(t.clusters[0].n_cpus, 2);
  cr_assert_eq(t.clusters[0].cpus[1], 1);
  cr_assert_eq(t.clusters[1].n_cpus, 2);
  cr_assert_eq(t.clusters[1].cpus[0], 4);
}

Test(agent_topology, homogeneous_without_online_file) {
  /* Nothing but cpuN folders: one cluster of all of them. */
  for (int c = 0; c < 3; c++) fake_cpu(c, 0, 0);
  put("cpufreq/policy0", "x"); /* not a CPU folder */
  struct oc__cpu_topology t;
  cr_assert_eq(oc__agent_topology(root, &t), oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(t.n_clusters, 1);
  cr_assert_eq(t.clusters[0].n_cpus, 3);
  cr_assert(strncmp(t.source, "none", 4) == 0, "%s", t.source);
}

Test(agent_topology, errors) {
  struct oc__cpu_topology t;
  cr_assert_eq(oc__agent_topology("/nonexistent/opcost/cpu", &t), oc_status_io_error);
  cr_assert(strstr(oc_errmsg(), "/nonexistent/opcost/cpu") != NULL, "%s", oc_errmsg());
  put("online", "0-3,x\n");
  cr_assert_eq(oc__agent_topology(root, &t), oc_status_overflow);
  cr_assert(strstr(oc_errmsg(), "online") != NULL, "%s", oc_errmsg());
  put("online", "\n");
  cr_assert_eq(oc__agent_topology(root, &t), oc_status_io_error);
}

Test(agent_topology, emulation_from_cpuinfo) {
  char out[256];
  put("cpuinfo_x86", "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Some Xeon\n");
  put("cpuinfo_arm", "processor\t: 0\nBogoMIPS\t: 48.00\nCPU implementer\t: 0x41\n");
  char x86[512], arm[512];
  oc__strfmt(x86, sizeof x86, "%s/cpuinfo_x86", root);
  oc__strfmt(arm, sizeof arm, "%s/cpuinfo_arm", root);
#if defined(__x86_64__) || defined(__i386__)
  oc__agent_emulation(x86, out, sizeof out);
  cr_assert_str_empty(out, "x86 code on an x86 CPU is native: '%s'", out);
  oc__agent_emulation(arm, out, sizeof out);
  cr_assert(strstr(out, "emulated") != NULL && strstr(out, "ARM") != NULL, "'%s'", out);
#elif defined(__aarch64__) || defined(__arm__)
  oc__agent_emulation(arm, out, sizeof out);
  cr_assert_str_empty(out, "'%s'", out);
  oc__agent_emulation(x86, out, sizeof out);
  cr_assert(strstr(out, "Some Xeon") != NULL, "'%s'", out);
#endif
  oc__agent_emulation("/nonexistent/cpuinfo", out, sizeof out);
  cr_assert_str_empty(out);
}

/* ---- the request loop, in-process ------------------------------------------ */

/* Serves the request lines and returns the replies, one JSON per line. */
static json_t *serve(const char *requests, const char *sysfs, int n_expected) {
  FILE *in = fmemopen((void *)requests, strlen(requests), "r");
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  cr_assert(in && out);
  struct oc__agent_config cfg = {.self_path = "/proc/self/exe", .sysfs_cpu = sysfs};
  cr_assert_eq(oc__agent_serve(in, out, &cfg), oc_status_ok, "%s", oc_errmsg());
  fclose(in);
  fclose(out);
  json_t *replies = json_array();
  int lines = 0;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    json_error_t e;
    json_t *r = json_loads(line, 0, &e);
    cr_assert_not_null(r, "reply line %d is not JSON: %s", lines + 1, line);
    json_array_append_new(replies, r);
    lines++;
  }
  free(buf);
  cr_assert_eq(lines, n_expected, "%d replies for %d requests", lines, n_expected);
  return replies;
}

static const json_t *reply_at(const json_t *replies, size_t i) {
  return json_array_get(replies, i);
}

Test(agent_serve, hello_and_errors_carry_ids) {
  json_t *r = serve("{\"id\":7,\"cmd\":\"hello\"}\n"
                    "not json at all\n"
                    "{\"id\":8,\"cmd\":\"fly\"}\n"
                    "{\"cmd\":\"hello\"}\n"
                    "{\"id\":9,\"cmd\":\"run\",\"kernel\":0}\n"
                    "{\"id\":10,\"cmd\":\"bye\"}\n"
                    "{\"id\":11,\"cmd\":\"hello\"}\n",
                    NULL, 6);
  const json_t *hello = reply_at(r, 0);
  cr_assert_eq(json_integer_value(json_object_get(hello, "id")), 7);
  cr_assert_eq(json_integer_value(json_object_get(hello, "protocol")), OC__AGENT_PROTOCOL);
  cr_assert_str_eq(json_string_value(json_object_get(hello, "agent")), OC__AGENT_NAME);
  cr_assert_eq(strlen(json_string_value(json_object_get(hello, "build"))), 16);
  cr_assert(json_is_null(json_object_get(reply_at(r, 1), "id")));
  cr_assert_str_eq(json_string_value(json_object_get(reply_at(r, 1), "status")), "parse_error");
  cr_assert_eq(json_integer_value(json_object_get(reply_at(r, 2), "id")), 8);
  cr_assert(strstr(json_string_value(json_object_get(reply_at(r, 2), "error")), "fly") != NULL);
  cr_assert_str_eq(json_string_value(json_object_get(reply_at(r, 3), "status")),
                   "invalid_argument");
  cr_assert(strstr(json_string_value(json_object_get(reply_at(r, 4), "error")), "open") != NULL,
            "run before open must say to open first");
  cr_assert(json_is_true(json_object_get(reply_at(r, 5), "ok")), "bye is answered");
  json_decref(r); /* and request 11, after bye, was not */
}

Test(agent_serve, prepare_checks_tensor_sizes) {
  /* fc m=1 cin=2 cout=1: input 8 bytes; "AAAA" is 3 bytes. */
  json_t *r =
      serve("{\"id\":1,\"cmd\":\"open\",\"target\":\"ref\"}\n"
            "{\"id\":2,\"cmd\":\"prepare\",\"op\":\"fc.f32 m=1 cin=2 cout=1 act=none\","
            "\"inputs\":[\"AAAA\"]}\n"
            "{\"id\":3,\"cmd\":\"prepare\",\"op\":\"fc.f32 m=1 cin=0 cout=1 act=none\"}\n"
            "{\"id\":4,\"cmd\":\"prepare\",\"op\":\"fc.f32 m=1 cin=2 cout=1 act=none\","
            "\"inputs\":[\"AACAPwAAAEA=\"],\"weights\":\"AACAPwAAgD8=\",\"bias\":\"AAAAAA==\"}\n"
            "{\"id\":5,\"cmd\":\"run\",\"kernel\":0}\n"
            "{\"id\":6,\"cmd\":\"read\",\"kernel\":0}\n"
            "{\"id\":7,\"cmd\":\"time\",\"kernel\":0,\"runs\":4}\n"
            "{\"id\":8,\"cmd\":\"release\",\"kernel\":0}\n"
            "{\"id\":9,\"cmd\":\"run\",\"kernel\":0}\n",
            NULL, 9);
  cr_assert(json_is_true(json_object_get(reply_at(r, 0), "ok")));
  const char *e2 = json_string_value(json_object_get(reply_at(r, 1), "error"));
  cr_assert(e2 && strstr(e2, "inputs[0]") && strstr(e2, "8"), "%s", e2 ? e2 : "(ok?)");
  cr_assert_not_null(json_object_get(reply_at(r, 2), "error"), "cin=0 must be refused");
  cr_assert_eq(json_integer_value(json_object_get(reply_at(r, 3), "kernel")), 0);
  cr_assert(json_is_true(json_object_get(reply_at(r, 4), "ok")));
  /* 1*1 + 2*1 + 0 = 3.0f = 0x40400000 -> "AABAQA==" */
  cr_assert_str_eq(json_string_value(json_object_get(reply_at(r, 5), "output")), "AABAQA==");
  const json_t *us = json_object_get(reply_at(r, 6), "us");
  cr_assert_eq(json_array_size(us), 4);
  for (size_t i = 0; i < 4; i++) cr_assert(json_real_value(json_array_get(us, i)) >= 0);
  cr_assert(json_is_true(json_object_get(reply_at(r, 7), "ok")));
  cr_assert_str_eq(json_string_value(json_object_get(reply_at(r, 8), "status")), "not_found");
  json_decref(r);
}

Test(agent_serve, open_pins_a_cluster_of_a_fake_tree) {
  /* Every CPU of this machine as one cluster in a fake tree: pinning to
   * "big" must succeed and be reported; cluster 5 does not exist. */
  make_root();
  cpu_set_t mine;
  cr_assert_eq(sched_getaffinity(0, sizeof mine, &mine), 0);
  char list[1024] = "";
  long n = 0;
  for (int c = 0; c < OC_MAX_CORES; c++) {
    if (!CPU_ISSET((size_t)c, &mine)) continue;
    oc__strfmt(list + strlen(list), sizeof list - strlen(list), "%s%d", n ? "," : "", c);
    fake_cpu(c, 1024, 0);
    n++;
  }
  put("online", list);
  json_t *r = serve("{\"id\":1,\"cmd\":\"open\",\"target\":\"ref\",\"cluster\":\"big\"}\n"
                    "{\"id\":2,\"cmd\":\"describe\"}\n"
                    "{\"id\":3,\"cmd\":\"open\",\"target\":\"ref\",\"cluster\":\"5\"}\n"
                    "{\"id\":4,\"cmd\":\"open\",\"target\":\"remote\"}\n",
                    root, 4);
  remove_root();
  const json_t *pinned = json_object_get(reply_at(r, 0), "pinned");
  cr_assert_eq(json_array_size(pinned), (size_t)n, "%s",
               json_string_value(json_object_get(reply_at(r, 0), "error")));
  const json_t *clusters = json_object_get(reply_at(r, 1), "clusters");
  cr_assert_eq(json_array_size(clusters), 1);
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(clusters, 0), "capacity")), 1024);
  cr_assert_not_null(json_object_get(json_object_get(reply_at(r, 1), "device"), "fingerprint"));
  const char *e3 = json_string_value(json_object_get(reply_at(r, 2), "error"));
  cr_assert(e3 && strstr(e3, "cluster"), "%s", e3 ? e3 : "(ok?)");
  cr_assert_not_null(json_object_get(reply_at(r, 3), "error"), "an agent must not chain remotes");
  json_decref(r);
}

Test(agent_serve, affinity_check_reports_what_the_thread_got) {
  struct oc_target_opts o;
  memset(&o, 0, sizeof o);
  cr_assert_eq(oc__agent_check_affinity(&o), oc_status_ok, "no pin: nothing to check");
  cpu_set_t now;
  cr_assert_eq(sched_getaffinity(0, sizeof now, &now), 0);
  /* Ask about a set that is not the thread's: the check must fail. */
  o.n_cores = 1;
  o.cores[0] = OC_MAX_CORES - 1;
  cr_assert_eq(oc__agent_check_affinity(&o), oc_status_device_error);
  cr_assert(strstr(oc_errmsg(), "ignores affinity") != NULL, "%s", oc_errmsg());
  int cpus[OC_MAX_CORES];
  int n = oc__agent_threads_cpus(cpus, OC_MAX_CORES);
  cr_assert(n >= 1, "this thread ran somewhere");
  cr_assert(CPU_ISSET((size_t)cpus[0], &now), "CPU %d is outside the thread's affinity", cpus[0]);
}

Test(agent_serve, probe_runs_the_harness_on_the_device) {
  json_t *r = serve("{\"id\":1,\"cmd\":\"open\",\"target\":\"ref\"}\n"
                    "{\"id\":2,\"cmd\":\"probe\",\"op\":\"add.f32 h=7 w=7 c=13 act=none\","
                    "\"opts\":{\"max_time_s\":0.05,\"cache\":\"warm\"}}\n"
                    "{\"id\":3,\"cmd\":\"probe\",\"op\":\"add.f32 h=7 w=7 c=13 act=none\","
                    "\"opts\":{\"cache\":\"lukewarm\"}}\n",
                    NULL, 3);
  const json_t *m = json_object_get(reply_at(r, 1), "measurement");
  cr_assert(json_is_object(m), "%s", json_string_value(json_object_get(reply_at(r, 1), "error")));
  cr_assert_str_eq(json_string_value(json_object_get(m, "key")), "add.f32 h=7 w=7 c=13 act=none");
  const json_t *n = json_object_get(json_object_get(m, "stats"), "n");
  cr_assert(json_integer_value(n) >= OC_PROBE_MIN_SAMPLES);
  const char *e = json_string_value(json_object_get(reply_at(r, 2), "error"));
  cr_assert(e && strstr(e, "lukewarm"), "%s", e ? e : "(ok?)");
  json_decref(r);
}
