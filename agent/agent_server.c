/* agent_server.c - the request loop of `opcost-agent`: one JSON object per
 * line in, one per line out (docs/remote.md is the protocol). It opens a
 * target of this device (cpu or ref), prepares ops with the tensors the
 * host sends, runs them, times runs with this device's CLOCK_MONOTONIC_RAW,
 * sends outputs back, and runs whole measurements with the probe harness.
 * Whole networks (prepare_net) arrive as their opcost-net/1 JSON, are
 * loaded and expanded by the same net code as on the host (the host's hash
 * must come out), get their weights seeded here (OC_NET_PARAM_SEED, as every
 * runner does: no weight crosses the link) and become kernels like ops:
 * run, read, time and release take their ids.
 *
 * Every request gets exactly one reply line with the request's id, errors
 * included ({"id":..,"error":..,"status":..}); a reply is built completely
 * before any byte of it is written, so the host never sees half a reply from
 * a live agent. Lines longer than MAX_LINE are answered with an error and
 * skipped: the agent's memory stays bounded whatever arrives. */
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "agent/agent.h"
#include "core/core.h"
#include "opcost/net.h"
#include "opcost/probe.h"
#include "opcost/version.h"
#include "targets/targets_internal.h"

/* Longest request line: a tensor of 64 M floats in base64 fits. */
#define MAX_LINE ((size_t)512 << 20)

struct agent_kernel {
  int64_t id;
  struct oc_kernel *kernel;
  struct oc_op op;                  /* an op kernel's */
  struct oc_net *net;               /* a network kernel's (outlives kernel); else NULL */
  void *buffers[OC_MAX_INPUTS + 3]; /* inputs, weights, bias, output (a network:
                                       input 0 and output) */
  size_t output_bytes;
};

struct agent {
  const struct oc__agent_config *config;
  struct oc_target *target;
  char target_name[32];
  struct oc_target_opts pin; /* cores the agent pinned itself to; n_cores 0: none */
  bool restore_affinity;
  cpu_set_t saved_affinity;
  struct agent_kernel **kernels;
  size_t n_kernels, cap_kernels;
  int64_t next_kernel;
  char build[17];
  char emulated[256];
  double floor_ns; /* cost of the two clock reads around a run */
  int64_t requests;
};

/* ---- small JSON helpers ---------------------------------------------------- */

static void set(json_t *obj, const char *key, json_t *value) {
  if (value != NULL) json_object_set_new(obj, key, value);
}

static json_t *int_array(const int *v, int n) {
  json_t *a = json_array();
  for (int i = 0; a != NULL && i < n; i++) json_array_append_new(a, json_integer(v[i]));
  return a;
}

static enum oc_status get_int(const json_t *req, const char *key, int64_t lo, int64_t hi,
                              bool required, int64_t *out) {
  const json_t *v = json_object_get(req, key);
  if (v == NULL || json_is_null(v)) {
    if (required) return oc__fail(oc_status_invalid_argument, "field '%s' is missing", key);
    return oc_status_ok;
  }
  if (!json_is_integer(v))
    return oc__fail(oc_status_invalid_argument, "field '%s' must be an integer", key);
  json_int_t x = json_integer_value(v);
  if (x < lo || x > hi)
    return oc__fail(oc_status_invalid_argument, "field '%s': value '%lld' must be in %lld..%lld",
                    key, (long long)x, (long long)lo, (long long)hi);
  *out = x;
  return oc_status_ok;
}

static enum oc_status get_num(const json_t *obj, const char *key, double *out) {
  const json_t *v = json_object_get(obj, key);
  if (v == NULL || json_is_null(v)) return oc_status_ok;
  if (!json_is_number(v))
    return oc__fail(oc_status_invalid_argument, "field '%s' must be a number", key);
  *out = json_number_value(v);
  return oc_status_ok;
}

static const char *get_str(const json_t *req, const char *key) {
  const json_t *v = json_object_get(req, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static enum oc_status need_target(const struct agent *a) {
  if (a->target == NULL)
    return oc__fail(oc_status_invalid_argument, "no target is open: send 'open' first");
  return oc_status_ok;
}

static enum oc_status parse_op(const json_t *req, struct oc_op *op) {
  const char *key = get_str(req, "op");
  if (key == NULL) return oc__fail(oc_status_invalid_argument, "field 'op' (an op key) is missing");
  return oc_op_parse(key, op);
}

/* ---- kernels ---------------------------------------------------------------- */

static void kernel_free(struct agent *a, struct agent_kernel *k) {
  if (k == NULL) return;
  if (k->kernel) oc_target_release(a->target, k->kernel);
  for (size_t i = 0; i < sizeof k->buffers / sizeof k->buffers[0]; i++)
    oc__aligned_free(k->buffers[i]);
  oc_net_free(k->net); /* after the kernel that points to it */
  free(k);
}

static size_t kernel_index(const struct agent *a, int64_t id) {
  for (size_t i = 0; i < a->n_kernels; i++) {
    if (a->kernels[i]->id == id) return i;
  }
  return SIZE_MAX;
}

static enum oc_status find_kernel(struct agent *a, const json_t *req, struct agent_kernel **k) {
  int64_t id = -1;
  enum oc_status st = need_target(a);
  if (st == oc_status_ok) st = get_int(req, "kernel", 0, INT64_MAX, true, &id);
  if (st != oc_status_ok) return st;
  size_t i = kernel_index(a, id);
  if (i == SIZE_MAX) return oc__fail(oc_status_not_found, "no prepared kernel %lld", (long long)id);
  *k = a->kernels[i];
  return oc_status_ok;
}

static void close_target(struct agent *a) {
  for (size_t i = 0; i < a->n_kernels; i++) kernel_free(a, a->kernels[i]);
  a->n_kernels = 0;
  oc_target_close(a->target);
  a->target = NULL;
  if (a->restore_affinity) sched_setaffinity(0, sizeof a->saved_affinity, &a->saved_affinity);
  a->restore_affinity = false;
  memset(&a->pin, 0, sizeof a->pin);
}

/* ---- timing ------------------------------------------------------------------ */

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* Median of back-to-back clock reads: what a timed empty run costs. */
static double measure_floor(void) {
  enum { n = 201 };
  double d[n];
  for (int i = 0; i < n; i++) {
    double t0 = now_ns();
    d[i] = now_ns() - t0;
  }
  qsort(d, n, sizeof d[0], cmp_double);
  return d[n / 2];
}

/* ---- commands ------------------------------------------------------------------ */

static enum oc_status cmd_hello(struct agent *a, const json_t *req, json_t *reply) {
  (void)req;
  struct utsname u;
  if (!a->build[0]) {
    const char *self = a->config->self_path ? a->config->self_path : "/proc/self/exe";
    enum oc_status st = oc__agent_build_id(self, a->build);
    if (st != oc_status_ok) return st;
  }
  set(reply, "agent", json_string(OC__AGENT_NAME));
  set(reply, "version", json_string(OC_VERSION_STRING));
  set(reply, "protocol", json_integer(OC__AGENT_PROTOCOL));
  set(reply, "build", json_string(a->build));
  set(reply, "arch", json_string(uname(&u) == 0 ? u.machine : "unknown"));
  const uint16_t probe = 1;
  set(reply, "endian", json_string(*(const uint8_t *)&probe == 1 ? "little" : "big"));
  set(reply, "emulated", a->emulated[0] ? json_string(a->emulated) : json_null());
  json_t *targets = json_array(), *networks = json_array();
  for (size_t i = 0; targets != NULL && networks != NULL && i < oc_target_count(); i++) {
    const struct oc_target_vtab *v = oc_target_at(i);
    char why[256];
    if (strcmp(v->name, "remote") != 0 && oc_target_available(v, why, sizeof why) == oc_status_ok) {
      json_array_append_new(targets, json_string(v->name));
      if (v->caps & oc_cap_networks) json_array_append_new(networks, json_string(v->name));
    }
  }
  set(reply, "targets", targets);
  set(reply, "networks", networks); /* targets here that run whole networks */
  set(reply, "net_format", json_string(OC_NET_FORMAT));
  return oc_status_ok;
}

static json_t *topology_json(const struct oc__cpu_topology *t) {
  json_t *arr = json_array();
  for (int i = 0; arr != NULL && i < t->n_clusters; i++) {
    const struct oc__cpu_cluster *c = &t->clusters[i];
    json_t *o = json_object();
    set(o, "index", json_integer(i));
    set(o, "cpus", int_array(c->cpus, c->n_cpus));
    set(o, "capacity", c->capacity > 0 ? json_integer((json_int_t)c->capacity) : json_null());
    set(o, "max_khz", c->max_khz > 0 ? json_integer((json_int_t)c->max_khz) : json_null());
    json_array_append_new(arr, o);
  }
  return arr;
}

static enum oc_status cmd_open(struct agent *a, const json_t *req, json_t *reply) {
  const char *name = get_str(req, "target");
  const char *cluster = get_str(req, "cluster");
  const json_t *cores = json_object_get(req, "cores");
  int64_t threads = 1;
  struct oc_target_opts inner, pin;
  memset(&inner, 0, sizeof inner);
  memset(&pin, 0, sizeof pin);
  enum oc_status st = get_int(req, "threads", 1, 1024, false, &threads);
  if (st != oc_status_ok) return st;
  if (name == NULL) name = "cpu";
  if (strcmp(name, "remote") == 0)
    return oc__fail(oc_status_invalid_argument,
                    "target 'remote': an agent does not chain to another");
  if (cluster != NULL && cores != NULL && json_array_size(cores) > 0)
    return oc__fail(oc_status_invalid_argument, "give 'cluster' or 'cores', not both");
  close_target(a);
  if (cluster != NULL) {
    struct oc__cpu_topology topo;
    st = oc__agent_topology(a->config->sysfs_cpu, &topo);
    if (st == oc_status_ok) st = oc__agent_pick_cluster(&topo, cluster, &pin);
    if (st != oc_status_ok) return st;
  } else if (json_is_array(cores)) {
    size_t i;
    const json_t *c;
    json_array_foreach(cores, i, c) {
      if (!json_is_integer(c) || json_integer_value(c) < 0 ||
          json_integer_value(c) >= OC_MAX_CORES || pin.n_cores >= OC_MAX_CORES)
        return oc__fail(oc_status_invalid_argument, "cores[%zu] is not a CPU number 0-%d", i,
                        OC_MAX_CORES - 1);
      pin.cores[pin.n_cores++] = (int)json_integer_value(c);
    }
  }
  if (pin.n_cores > 0) {
    /* The agent's own thread is pinned; a target's worker threads are
     * created by open, after this, and inherit the set. */
    if (sched_getaffinity(0, sizeof a->saved_affinity, &a->saved_affinity) == 0)
      a->restore_affinity = true;
    st = oc__host_pin(&pin);
    if (st == oc_status_ok) st = oc__agent_check_affinity(&pin);
    if (st != oc_status_ok) {
      close_target(a);
      return st;
    }
    a->pin = pin;
  }
  inner.threads = (int)threads;
  st = oc_target_open(name, &inner, &a->target);
  if (st != oc_status_ok) {
    close_target(a);
    return st;
  }
  oc__strcpy(a->target_name, sizeof a->target_name, name);
  a->floor_ns = measure_floor();
  set(reply, "target", json_string(name));
  set(reply, "threads", json_integer(threads));
  set(reply, "pinned", int_array(a->pin.cores, a->pin.n_cores));
  return oc_status_ok;
}

#if defined(__aarch64__)
/* Features of this CPU as the kernel hands them to the process (QEMU hands
 * those of the CPU it emulates), named as /proc/cpuinfo names them. */
static void hwcap_isa(char *isa, size_t size) {
  unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  struct {
    unsigned long *word;
    unsigned long bit;
    const char *name;
  } feats[] = {
#ifdef HWCAP_ASIMD
      {&hw, HWCAP_ASIMD, "asimd"},
#endif
#ifdef HWCAP_FPHP
      {&hw, HWCAP_FPHP, "fphp"},
#endif
#ifdef HWCAP_ASIMDHP
      {&hw, HWCAP_ASIMDHP, "asimdhp"},
#endif
#ifdef HWCAP_ASIMDDP
      {&hw, HWCAP_ASIMDDP, "asimddp"},
#endif
#ifdef HWCAP_SVE
      {&hw, HWCAP_SVE, "sve"},
#endif
#ifdef HWCAP2_SVE2
      {&hw2, HWCAP2_SVE2, "sve2"},
#endif
#ifdef HWCAP2_I8MM
      {&hw2, HWCAP2_I8MM, "i8mm"},
#endif
#ifdef HWCAP2_BF16
      {&hw2, HWCAP2_BF16, "bf16"},
#endif
      {NULL, 0, NULL}};
  size_t used = 0;
  isa[0] = '\0';
  for (int i = 0; feats[i].word != NULL; i++) {
    if (!(*feats[i].word & feats[i].bit)) continue;
    oc__strfmt(isa + used, size - used, "%s%s", used ? " " : "", feats[i].name);
    used = strlen(isa);
  }
}
#endif

static enum oc_status cmd_describe(struct agent *a, const json_t *req, json_t *reply) {
  (void)req;
  struct oc_device_info info;
  enum oc_status st = need_target(a);
  if (st == oc_status_ok) st = oc_target_describe(a->target, &info);
  if (st != oc_status_ok) return st;
  if (a->emulated[0]) {
    /* /proc/cpuinfo and the caches are the host's: say so in the name (and
     * so in the fingerprint), and take the ISA from what the emulated CPU
     * announces. */
    char host[sizeof info.name];
    struct utsname u;
    oc__strcpy(host, sizeof host, info.name);
    oc__strfmt(info.name, sizeof info.name, "emulated %s (on %s)",
               uname(&u) == 0 ? u.machine : "device", host[0] ? host : "an unknown host CPU");
    oc__strcpy(info.vendor, sizeof info.vendor, "emulated");
#if defined(__aarch64__)
    hwcap_isa(info.isa, sizeof info.isa);
#endif
    oc_device_fingerprint(&info, info.fingerprint);
  }
  struct oc__cpu_topology topo;
  json_t *clusters = NULL;
  if (oc__agent_topology(a->config->sysfs_cpu, &topo) == oc_status_ok) {
    clusters = topology_json(&topo);
    set(reply, "cluster_source", json_string(topo.source));
  } else {
    set(reply, "cluster_source", json_string(oc_errmsg()));
  }
  set(reply, "device", oc_probe_device_info_to_json(&info));
  set(reply, "clusters", clusters ? clusters : json_array());
  set(reply, "pinned", int_array(a->pin.cores, a->pin.n_cores));
  set(reply, "emulated", a->emulated[0] ? json_string(a->emulated) : json_null());
  set(reply, "clock", json_string("monotonic_raw"));
  set(reply, "floor_ns", json_real(a->floor_ns));
  return oc_status_ok;
}

static enum oc_status cmd_supports(struct agent *a, const json_t *req, json_t *reply) {
  struct oc_op op;
  char why[512] = "";
  enum oc_status st = need_target(a);
  if (st == oc_status_ok) st = parse_op(req, &op);
  if (st != oc_status_ok) return st;
  bool yes = oc_target_supports(a->target, &op, why, sizeof why);
  set(reply, "supported", json_boolean(yes));
  set(reply, "why", json_string(why));
  return oc_status_ok;
}

/* One buffer of a prepare request: decoded from base64 when given, seeded
 * random numbers in [-1, 1] (f32) or random bytes otherwise. */
static enum oc_status load_buffer(const json_t *value, const char *what, size_t bytes,
                                  enum oc_dtype dtype, struct oc__rng *rng, void *buf) {
  if (value == NULL || json_is_null(value)) {
    if (dtype == oc_dtype_f32) {
      float *f = buf;
      for (size_t i = 0; i < bytes / sizeof *f; i++)
        f[i] = (float)(2.0 * oc__rng_double(rng) - 1.0);
    } else {
      unsigned char *b = buf;
      for (size_t i = 0; i < bytes; i++) b[i] = (unsigned char)oc__rng_next(rng);
    }
    return oc_status_ok;
  }
  if (!json_is_string(value))
    return oc__fail(oc_status_invalid_argument, "%s must be a base64 string", what);
  size_t got = 0;
  enum oc_status st =
      oc__b64_decode(json_string_value(value), json_string_length(value), buf, bytes, &got);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s: ", what);
  if (got != bytes)
    return oc__fail(oc_status_invalid_argument, "%s: %zu bytes, the op needs %zu", what, got,
                    bytes);
  return oc_status_ok;
}

/* Gives k the next id and lists it. */
static enum oc_status add_kernel(struct agent *a, struct agent_kernel *k) {
  if (a->n_kernels == a->cap_kernels) {
    size_t cap = a->cap_kernels ? a->cap_kernels * 2 : 16;
    struct agent_kernel **grown = realloc(a->kernels, cap * sizeof *grown);
    if (grown == NULL)
      return oc__fail(oc_status_out_of_memory, "out of memory for the kernel list");
    a->kernels = grown;
    a->cap_kernels = cap;
  }
  k->id = a->next_kernel++;
  a->kernels[a->n_kernels++] = k;
  return oc_status_ok;
}

static enum oc_status cmd_prepare(struct agent *a, const json_t *req, json_t *reply) {
  struct oc_op op;
  struct oc_op_shapes sh;
  struct agent_kernel *k = NULL;
  int64_t seed = 1;
  enum oc_status st = need_target(a);
  if (st == oc_status_ok) st = parse_op(req, &op);
  if (st == oc_status_ok) st = oc_op_shapes(&op, &sh);
  if (st == oc_status_ok) st = get_int(req, "seed", 0, INT64_MAX, false, &seed);
  if (st != oc_status_ok) return st;
  if (a->n_kernels >= OC__AGENT_MAX_KERNELS)
    return oc__fail(oc_status_out_of_memory, "%d kernels are prepared already: release some",
                    OC__AGENT_MAX_KERNELS);
  const json_t *inputs = json_object_get(req, "inputs");
  if (inputs != NULL && !json_is_array(inputs))
    return oc__fail(oc_status_invalid_argument, "field 'inputs' must be an array");
  if (json_array_size(inputs) > (size_t)sh.n_inputs)
    return oc__fail(oc_status_invalid_argument, "%zu inputs sent, the op takes %d",
                    json_array_size(inputs), sh.n_inputs);
  k = calloc(1, sizeof *k);
  if (k == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for a kernel");
  k->op = op;
  size_t esize = oc_dtype_size(op.dtype);
  struct oc__rng rng;
  oc__rng_seed(&rng, (uint64_t)seed);
  struct oc_tensors t;
  memset(&t, 0, sizeof t);
  for (int i = 0; i < sh.n_inputs + 3 && st == oc_status_ok; i++) {
    int64_t elems;
    const json_t *value;
    char what[32];
    if (i < sh.n_inputs) {
      elems = oc_tensor_elems(&sh.input[i]);
      value = json_array_get(inputs, (size_t)i);
      oc__strfmt(what, sizeof what, "inputs[%d]", i);
    } else if (i == sh.n_inputs) {
      elems = sh.weight_elems;
      value = json_object_get(req, "weights");
      oc__strcpy(what, sizeof what, "weights");
    } else if (i == sh.n_inputs + 1) {
      elems = sh.bias_elems;
      value = json_object_get(req, "bias");
      oc__strcpy(what, sizeof what, "bias");
    } else {
      elems = oc_tensor_elems(&sh.output);
      value = NULL;
      oc__strcpy(what, sizeof what, "output");
    }
    if (elems <= 0) continue;
    size_t bytes = (size_t)elems * esize;
    void *buf = oc__aligned_alloc(64, bytes + OC_TENSOR_SLACK_BYTES);
    if (buf == NULL) {
      st = oc__fail(oc_status_out_of_memory, "out of memory for %s (%zu bytes)", what, bytes);
      break;
    }
    memset((char *)buf + bytes, 0, OC_TENSOR_SLACK_BYTES);
    k->buffers[i < sh.n_inputs ? i : OC_MAX_INPUTS + (i - sh.n_inputs)] = buf;
    if (i < sh.n_inputs + 2) {
      st = load_buffer(value, what, bytes, op.dtype, &rng, buf);
    } else {
      memset(buf, 0, bytes);
      k->output_bytes = bytes;
    }
  }
  if (st == oc_status_ok) {
    for (int i = 0; i < sh.n_inputs; i++) t.input[i] = k->buffers[i];
    t.weights = k->buffers[OC_MAX_INPUTS];
    t.bias = k->buffers[OC_MAX_INPUTS + 1];
    t.output = k->buffers[OC_MAX_INPUTS + 2];
    st = oc_target_prepare(a->target, &op, &t, &k->kernel);
  }
  if (st == oc_status_ok) st = add_kernel(a, k);
  if (st != oc_status_ok) {
    kernel_free(a, k);
    return st;
  }
  set(reply, "kernel", json_integer((json_int_t)k->id));
  return oc_status_ok;
}

/* The network of a prepare_net request: field `net` holds its opcost-net/1
 * JSON as text (or as an object), loaded by the same code as on the host.
 * Messages name the network ("network 'NAME': layer 3 (conv2d): ..."). */
static enum oc_status load_net(const json_t *req, struct oc_net **net) {
  const json_t *value = json_object_get(req, "net");
  json_t *root = NULL;
  json_error_t jerr;
  if (json_is_string(value)) {
    root = json_loadb(json_string_value(value), json_string_length(value), JSON_REJECT_DUPLICATES,
                      &jerr);
    if (root == NULL)
      return oc__fail(oc_status_parse_error, "field 'net': line %d, column %d: %s", jerr.line,
                      jerr.column, jerr.text);
  } else if (json_is_object(value)) {
    root = json_incref((json_t *)value);
  } else {
    return oc__fail(oc_status_invalid_argument,
                    "field 'net' (the network as %s JSON text) is missing", OC_NET_FORMAT);
  }
  char source[OC_NET_NAME_MAX + 16] = "network";
  const char *name = json_string_value(json_object_get(root, "name"));
  if (name != NULL) oc__strfmt(source, sizeof source, "network '%s'", name);
  enum oc_status st = oc_net_load_json(root, source, net);
  json_decref(root);
  return st;
}

/* After the device's runner refused net: the first op kernel the target
 * does not run, named by layer, or else the runner's message with the
 * network's name in front. */
static enum oc_status net_prepare_failure(struct agent *a, const struct oc_net *net,
                                          enum oc_status st) {
  char msg[1024];
  oc__strcpy(msg, sizeof msg, oc_errmsg());
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    char why[512] = "", key[OC_KEY_MAX] = "";
    if (k->step != oc_net_step_op || oc_target_supports(a->target, &k->op, why, sizeof why))
      continue;
    const struct oc_net_layer *l = &net->layers[k->layer];
    oc_op_format(&k->op, key, sizeof key);
    return oc__fail(oc_status_unsupported,
                    "network '%s': layer %d%s%s%s (%s): target '%s' does not run '%s': %s",
                    net->name, (int)k->layer, l->id[0] ? " '" : "", l->id, l->id[0] ? "'" : "",
                    oc_net_block_name(l->block), a->target_name, key, why);
  }
  if (strstr(msg, net->name) != NULL) return oc__fail(st, "%s", msg);
  return oc__fail(st, "network '%s': %s", net->name, msg[0] ? msg : oc_status_str(st));
}

static enum oc_status cmd_prepare_net(struct agent *a, const json_t *req, json_t *reply) {
  struct agent_kernel *k = NULL;
  struct oc_net *net = NULL;
  int64_t seed = 1;
  enum oc_status st = need_target(a);
  if (st == oc_status_ok) st = get_int(req, "seed", 0, INT64_MAX, false, &seed);
  if (st == oc_status_ok && a->n_kernels >= OC__AGENT_MAX_KERNELS)
    st = oc__fail(oc_status_out_of_memory, "%d kernels are prepared already: release some",
                  OC__AGENT_MAX_KERNELS);
  if (st == oc_status_ok) st = load_net(req, &net);
  if (st != oc_status_ok) return st;
  const char *hash = get_str(req, "hash");
  if (hash != NULL && strcmp(hash, net->hash_hex) != 0) {
    st = oc__fail(oc_status_incompatible,
                  "network '%s': hash %s here, %s on the host: the agent expands the network "
                  "differently (another opcost version; update the agent)",
                  net->name, net->hash_hex, hash);
    oc_net_free(net);
    return st;
  }
  if (net->dtype != oc_dtype_f32) {
    st = oc__fail(oc_status_unsupported, "network '%s': dtype %s: whole-network runs are f32 only",
                  net->name, oc_dtype_name(net->dtype));
    oc_net_free(net);
    return st;
  }
  k = calloc(1, sizeof *k);
  if (k == NULL) {
    oc_net_free(net);
    return oc__fail(oc_status_out_of_memory, "out of memory for a kernel");
  }
  k->net = net;
  size_t in_bytes = (size_t)oc_tensor_elems(&net->input) * sizeof(float);
  size_t out_bytes = (size_t)oc_tensor_elems(&net->output) * sizeof(float);
  void *in = oc__aligned_alloc(64, in_bytes + OC_TENSOR_SLACK_BYTES);
  void *out = oc__aligned_alloc(64, out_bytes + OC_TENSOR_SLACK_BYTES);
  k->buffers[0] = in;
  k->buffers[OC_MAX_INPUTS + 2] = out;
  k->output_bytes = out_bytes;
  if (in == NULL || out == NULL) {
    st = oc__fail(oc_status_out_of_memory, "network '%s': out of memory for its input and output",
                  net->name);
  } else {
    memset((char *)in + in_bytes, 0, OC_TENSOR_SLACK_BYTES);
    memset(out, 0, out_bytes + OC_TENSOR_SLACK_BYTES);
    const json_t *value = json_object_get(req, "input");
    if (value == NULL || json_is_null(value)) {
      oc_net_fill_input(net, (uint64_t)seed, in); /* what the host's oc_net_fill_input gives */
    } else if (!json_is_string(value)) {
      st = oc__fail(oc_status_invalid_argument, "field 'input' must be a base64 string");
    } else {
      size_t got = 0;
      st = oc__b64_decode(json_string_value(value), json_string_length(value), in, in_bytes, &got);
      if (st != oc_status_ok)
        st = oc__fail_prefix(st, "network '%s': input: ", net->name);
      else if (got != in_bytes)
        st = oc__fail(oc_status_invalid_argument,
                      "network '%s': input: %zu bytes, its input [%d,%d,%d] f32 needs %zu",
                      net->name, got, (int)net->input.h, (int)net->input.w, (int)net->input.c,
                      in_bytes);
    }
  }
  if (st == oc_status_ok) {
    oc_errclear();
    st = oc_target_prepare_net(a->target, net, in, out, &k->kernel);
    if (st != oc_status_ok) st = net_prepare_failure(a, net, st);
  }
  if (st == oc_status_ok) st = add_kernel(a, k);
  if (st != oc_status_ok) {
    kernel_free(a, k);
    return st;
  }
  set(reply, "kernel", json_integer((json_int_t)k->id));
  set(reply, "name", json_string(net->name));
  set(reply, "hash", json_string(net->hash_hex));
  set(reply, "kernels", json_integer(net->n_kernels));
  set(reply, "bytes", json_integer((json_int_t)out_bytes));
  return oc_status_ok;
}

static enum oc_status cmd_run(struct agent *a, const json_t *req, json_t *reply) {
  struct agent_kernel *k = NULL;
  (void)reply;
  enum oc_status st = find_kernel(a, req, &k);
  if (st != oc_status_ok) return st;
  return oc_target_run(a->target, k->kernel);
}

static enum oc_status cmd_read(struct agent *a, const json_t *req, json_t *reply) {
  struct agent_kernel *k = NULL;
  enum oc_status st = find_kernel(a, req, &k);
  if (st == oc_status_ok) st = oc_target_read_output(a->target, k->kernel);
  if (st != oc_status_ok) return st;
  char *text = malloc(oc__b64_encoded_len(k->output_bytes) + 1);
  if (text == NULL) return oc__fail(oc_status_out_of_memory, "out of memory encoding the output");
  oc__b64_encode(k->buffers[OC_MAX_INPUTS + 2], k->output_bytes, text);
  set(reply, "output", json_string(text));
  set(reply, "bytes", json_integer((json_int_t)k->output_bytes));
  free(text);
  return oc_status_ok;
}

static bool in_pin(const struct agent *a, int cpu) {
  for (int i = 0; i < a->pin.n_cores; i++) {
    if (a->pin.cores[i] == cpu) return true;
  }
  return false;
}

static enum oc_status cmd_time(struct agent *a, const json_t *req, json_t *reply) {
  struct agent_kernel *k = NULL;
  int64_t runs = 1;
  enum oc_status st = find_kernel(a, req, &k);
  if (st == oc_status_ok) st = get_int(req, "runs", 1, OC__AGENT_MAX_RUNS, false, &runs);
  if (st != oc_status_ok) return st;
  double *us = malloc((size_t)runs * sizeof *us);
  if (us == NULL)
    return oc__fail(oc_status_out_of_memory, "out of memory for %lld times", (long long)runs);
  int seen[OC_MAX_CORES], n_seen = 0;
  for (int64_t r = 0; r < runs; r++) {
    int cpu = sched_getcpu();
    double t0 = now_ns();
    st = oc_target_run(a->target, k->kernel);
    double t1 = now_ns();
    if (st != oc_status_ok) break;
    us[r] = fmax(0.0, t1 - t0 - a->floor_ns) / 1000.0;
    int after = sched_getcpu();
    for (int c = 0; c < 2; c++) {
      int x = c ? after : cpu;
      bool dup = false;
      for (int i = 0; i < n_seen; i++) dup |= seen[i] == x;
      if (!dup && x >= 0 && n_seen < OC_MAX_CORES) seen[n_seen++] = x;
    }
  }
  if (st == oc_status_ok) {
    /* Worker threads too: the CPU each one last ran on. */
    int threads[OC_MAX_CORES];
    int n = oc__agent_threads_cpus(threads, OC_MAX_CORES);
    for (int i = 0; i < n; i++) {
      bool dup = false;
      for (int j = 0; j < n_seen; j++) dup |= seen[j] == threads[i];
      if (!dup && n_seen < OC_MAX_CORES) seen[n_seen++] = threads[i];
    }
    for (int i = 0; a->pin.n_cores > 0 && i < n_seen; i++) {
      if (!in_pin(a, seen[i])) {
        st = oc__fail(oc_status_device_error,
                      "the device ignores affinity: pinned to %d CPU(s) starting at %d, but a "
                      "thread ran on CPU %d",
                      a->pin.n_cores, a->pin.cores[0], seen[i]);
        break;
      }
    }
  }
  if (st == oc_status_ok) {
    json_t *arr = json_array();
    for (int64_t r = 0; arr != NULL && r < runs; r++) json_array_append_new(arr, json_real(us[r]));
    set(reply, "us", arr);
    set(reply, "clock", json_string("monotonic_raw"));
    set(reply, "floor_ns", json_real(a->floor_ns));
    set(reply, "cpus", int_array(seen, n_seen));
  }
  free(us);
  return st;
}

static enum oc_status cmd_release(struct agent *a, const json_t *req, json_t *reply) {
  struct agent_kernel *k = NULL;
  (void)reply;
  enum oc_status st = find_kernel(a, req, &k);
  if (st != oc_status_ok) return st;
  size_t i = kernel_index(a, k->id);
  a->kernels[i] = a->kernels[--a->n_kernels];
  kernel_free(a, k);
  return oc_status_ok;
}

static enum oc_status cmd_probe(struct agent *a, const json_t *req, json_t *reply) {
  struct oc_op op;
  struct oc_measure_opts o;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  oc_measure_opts_default(&o);
  enum oc_status st = need_target(a);
  if (st == oc_status_ok) st = parse_op(req, &op);
  if (st != oc_status_ok) return st;
  const json_t *opts = json_object_get(req, "opts");
  if (opts != NULL && !json_is_object(opts))
    return oc__fail(oc_status_invalid_argument, "field 'opts' must be an object");
  if (opts != NULL) {
    int64_t v;
    struct {
      const char *key;
      int *field;
    } ints[] = {{"min_samples", &o.min_samples},
                {"max_samples", &o.max_samples},
                {"warmup_runs", &o.warmup_runs},
                {"batch", &o.batch}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && st == oc_status_ok; i++) {
      v = *ints[i].field;
      st = get_int(opts, ints[i].key, 0, INT32_MAX, false, &v);
      *ints[i].field = (int)v;
    }
    struct {
      const char *key;
      double *field;
    } nums[] = {{"warmup_s", &o.warmup_s},     {"min_time_s", &o.min_time_s},
                {"max_time_s", &o.max_time_s}, {"target_ci", &o.target_ci},
                {"confidence", &o.confidence}, {"cooldown_s", &o.cooldown_s}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0] && st == oc_status_ok; i++)
      st = get_num(opts, nums[i].key, nums[i].field);
    const char *cache = get_str(opts, "cache");
    if (st == oc_status_ok && cache != NULL) {
      if (strcmp(cache, "cold") == 0)
        o.cache = oc_cache_cold;
      else if (strcmp(cache, "warm") != 0)
        st = oc__fail(oc_status_invalid_argument, "opts.cache: value '%s' is not warm or cold",
                      cache);
    }
    const json_t *raw = json_object_get(opts, "raw");
    if (json_is_boolean(raw)) o.raw = json_is_true(raw);
    if (st != oc_status_ok) return oc__fail_prefix(st, "opts: ");
  }
  st = oc_probe_op(a->target, &op, &o, &m);
  if (st != oc_status_ok) return st;
  if (a->emulated[0] && m.n_notes < OC_PROBE_MAX_NOTES)
    oc__strfmt(m.notes[m.n_notes++], OC_PROBE_NOTE_MAX,
               "%s: times are the emulator's, not the emulated device's", a->emulated);
  set(reply, "measurement", oc_measurement_to_json(&m));
  oc_measurement_release(&m);
  return oc_status_ok;
}

/* ---- the loop ---------------------------------------------------------------- */

struct command {
  const char *name;
  enum oc_status (*run)(struct agent *a, const json_t *req, json_t *reply);
};

static const struct command commands[] = {
    {"hello", cmd_hello},       {"open", cmd_open},       {"describe", cmd_describe},
    {"supports", cmd_supports}, {"prepare", cmd_prepare}, {"prepare_net", cmd_prepare_net},
    {"run", cmd_run},           {"read", cmd_read},       {"time", cmd_time},
    {"release", cmd_release},   {"probe", cmd_probe},
};

/* Reads one line into *buf (grown as needed, NUL-terminated, newline
 * removed). 1: a line; 0: end of input; -1: the line was longer than
 * MAX_LINE (read up to its newline and dropped). */
static int read_request(FILE *in, char **buf, size_t *cap, size_t *len) {
  char chunk[65536];
  size_t n = 0;
  bool too_long = false, any = false;
  if (*cap == 0) {
    *buf = malloc(sizeof chunk);
    if (*buf == NULL) return -1;
    *cap = sizeof chunk;
  }
  while (fgets(chunk, sizeof chunk, in) != NULL) {
    any = true;
    size_t c = strlen(chunk);
    bool end = c > 0 && chunk[c - 1] == '\n';
    if (end) c--;
    if (!too_long && n + c + 1 > *cap) {
      size_t grown = *cap;
      while (grown < n + c + 1) grown *= 2;
      char *p = n + c > MAX_LINE ? NULL : realloc(*buf, grown);
      if (p == NULL) {
        too_long = true;
      } else {
        *buf = p;
        *cap = grown;
      }
    }
    if (!too_long) {
      memcpy(*buf + n, chunk, c);
      n += c;
    }
    if (end) break;
  }
  if (!any) return 0;
  if (too_long) return -1;
  (*buf)[n] = '\0';
  *len = n;
  return 1;
}

static bool write_reply(FILE *out, json_t *reply) {
  char *text = json_dumps(reply, JSON_COMPACT | JSON_REAL_PRECISION(10));
  if (text == NULL) {
    /* Out of memory for the reply itself: a short error instead. */
    static const char fallback[] =
        "{\"id\":null,\"error\":\"out of memory writing a reply\",\"status\":\"out_of_memory\"}\n";
    return fputs(fallback, out) >= 0 && fflush(out) == 0;
  }
  bool ok = fputs(text, out) >= 0 && fputc('\n', out) != EOF && fflush(out) == 0;
  free(text);
  return ok;
}

static json_t *error_reply(json_t *id, enum oc_status st, const char *message) {
  json_t *r = json_object();
  if (r == NULL) return NULL;
  json_object_set(r, "id", id ? id : json_null());
  set(r, "error", json_string(message[0] ? message : oc_status_str(st)));
  set(r, "status", json_string(oc_status_name(st)));
  return r;
}

enum oc_status oc__agent_serve(FILE *in, FILE *out, const struct oc__agent_config *config) {
  struct agent a;
  memset(&a, 0, sizeof a);
  a.config = config;
  oc__agent_emulation(NULL, a.emulated, sizeof a.emulated);
  char *line = NULL;
  size_t cap = 0, len = 0;
  enum oc_status result = oc_status_ok;
  bool bye = false;
  while (!bye) {
    int got = read_request(in, &line, &cap, &len);
    if (got == 0) break;
    a.requests++;
    if (config->exit_after > 0 && a.requests >= config->exit_after) {
      /* Fault injection: die as a crashed agent would, mid-request. */
      kill(getpid(), SIGKILL);
    }
    json_t *reply = NULL, *req = NULL, *id = NULL;
    oc_errclear();
    if (got < 0) {
      reply = error_reply(NULL, oc_status_overflow, "request line longer than 512 MiB: skipped");
    } else {
      json_error_t jerr;
      req = json_loadb(line, len, 0, &jerr);
      if (req == NULL || !json_is_object(req)) {
        char msg[400];
        if (req == NULL)
          oc__strfmt(msg, sizeof msg, "request is not JSON: column %d: %s", jerr.column, jerr.text);
        else
          oc__strfmt(msg, sizeof msg, "request is not a JSON object");
        reply = error_reply(NULL, oc_status_parse_error, msg);
      } else {
        id = json_object_get(req, "id");
        const char *cmd = get_str(req, "cmd");
        const struct command *c = NULL;
        for (size_t i = 0; cmd != NULL && i < sizeof commands / sizeof commands[0]; i++) {
          if (strcmp(commands[i].name, cmd) == 0) c = &commands[i];
        }
        if (id == NULL || !(json_is_integer(id) || json_is_string(id))) {
          reply = error_reply(NULL, oc_status_invalid_argument,
                              "field 'id' (an integer or a string) is missing");
        } else if (cmd != NULL && strcmp(cmd, "bye") == 0) {
          reply = json_object();
          json_object_set(reply, "id", id);
          set(reply, "ok", json_true());
          bye = true;
        } else if (c == NULL) {
          char msg[300];
          oc__strfmt(msg, sizeof msg, "unknown cmd '%s'", cmd ? cmd : "(missing)");
          reply = error_reply(id, oc_status_invalid_argument, msg);
        } else {
          json_t *ok = json_object();
          if (ok != NULL) json_object_set(ok, "id", id);
          enum oc_status st = ok ? c->run(&a, req, ok)
                                 : oc__fail(oc_status_out_of_memory, "out of memory for a reply");
          if (st == oc_status_ok) {
            set(ok, "ok", json_true());
            reply = ok;
          } else {
            json_decref(ok);
            char msg[1024];
            oc__strfmt(msg, sizeof msg, "%s: %s", cmd, oc_errmsg());
            reply = error_reply(id, st, msg);
          }
        }
      }
    }
    bool written = write_reply(out, reply ? reply : json_null());
    json_decref(reply);
    json_decref(req);
    if (!written) {
      result = oc__fail(oc_status_io_error, "cannot write a reply");
      break;
    }
  }
  free(line);
  close_target(&a);
  free(a.kernels);
  return result;
}
