/* target.h - backends that run ops: the vtable each one exports, the
 * registry, and the thin wrappers the rest of opcost calls them through.
 *
 * A backend is one `const struct oc_target_vtab` (curl's struct Curl_ssl and
 * PAPI's papi_vector_t are the model). The registry lists every backend built
 * in; one that cannot run here stays listed and says why (PAPI's
 * disabled_reason). The core never calls a vtable entry directly: the
 * oc_target_* wrappers are the one place for checks, logging and timing.
 *
 * Lifecycle, after XNNPACK's create -> setup -> run:
 *   oc_target_open -> oc_target_prepare (weights packed, buffers bound; not
 *   timed) -> oc_target_run (timed, many times) -> oc_target_read_output ->
 *   oc_target_release -> oc_target_close. */
#ifndef OPCOST_TARGET_H
#define OPCOST_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opcost/op.h"
#include "opcost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OC_TARGET_ABI_VERSION 1
#define OC_MAX_CORES 256

/* Capability bits of a backend. */
enum oc_target_cap {
  oc_cap_host_memory = 1u << 0,  /* kernels read and write the host buffers */
  oc_cap_device_timer = 1u << 1, /* time_runs() uses a device clock */
  oc_cap_threads = 1u << 2,      /* honours oc_target_opts.threads */
  oc_cap_pinning = 1u << 3,      /* honours oc_target_opts.cores */
  oc_cap_networks = 1u << 4,     /* prepare_net() runs whole networks */
};

struct oc_target_opts {
  int threads;              /* worker threads; 0 = the backend's default (1) */
  int n_cores;              /* 0 = no pinning */
  int cores[OC_MAX_CORES];  /* logical CPU numbers to pin to */
};

/* What a device is. The fingerprint identifies it in LUTs and model files:
 * a hash of target, name, ISA, core count, caches and runtime. */
struct oc_device_info {
  char target[32];
  char name[128];     /* CPU model or GPU name */
  char vendor[64];
  char arch[32];      /* x86_64, aarch64, ... */
  char isa[512];      /* features the backend uses, space separated */
  char runtime[128];  /* backend library and its version */
  int32_t cores_logical;
  int32_t cores_physical;
  int32_t threads;    /* threads this target instance uses */
  int64_t l1d_bytes;  /* per core; 0 when unknown */
  int64_t l2_bytes;   /* per core (or per cluster); 0 when unknown */
  int64_t l3_bytes;   /* last level, one instance (as cpu0 sees it); 0 when unknown */
  int64_t memory_bytes;
  char fingerprint[17];
};

/* Readable bytes every input buffer must have past its last element:
 * XNNPACK's kernels may read (never write) up to XNN_EXTRA_BYTES beyond an
 * input, and vector kernels of other backends may do the same. */
#define OC_TENSOR_SLACK_BYTES 64

/* Host buffers of one op, laid out as struct oc_op_shapes describes, each
 * input followed by OC_TENSOR_SLACK_BYTES readable bytes. They must stay
 * valid until the kernel is released. */
struct oc_tensors {
  const void *input[OC_MAX_INPUTS];
  const void *weights;
  const void *bias;
  void *output;
};

struct oc_net; /* net.h */

struct oc_target_vtab {
  int abi_version; /* OC_TARGET_ABI_VERSION */
  const char *name;
  const char *summary;
  uint32_t caps; /* enum oc_target_cap bits */

  /* Can this backend run on this machine? If not, why (into why). */
  enum oc_status (*probe)(char *why, size_t why_len);
  /* args: what followed "name:" in the target spec ("" when nothing). */
  enum oc_status (*open)(const char *args, const struct oc_target_opts *opts,
                         void **state);
  void (*close)(void *state);
  enum oc_status (*describe)(void *state, struct oc_device_info *info);
  bool (*supports)(void *state, const struct oc_op *op, char *why, size_t why_len);
  /* Everything that must not be timed: weight packing, buffer binding. */
  enum oc_status (*prepare)(void *state, const struct oc_op *op,
                            const struct oc_tensors *tensors, void **kernel);
  enum oc_status (*run)(void *state, void *kernel);
  /* Copies the result into tensors->output; NULL for oc_cap_host_memory. */
  enum oc_status (*read_output)(void *state, void *kernel);
  /* Runs the kernel `runs` times and stores each run's device time in µs.
   * NULL when the backend has no clock of its own (the harness then times
   * run() with the host clock). */
  enum oc_status (*time_runs)(void *state, void *kernel, int runs, double *device_us);
  void (*release)(void *state, void *kernel);

  /* Whole networks, end to end (all NULL without oc_cap_networks). A network
   * kernel is its own type: the wrappers route run/read/release of a kernel
   * made by prepare_net to these entries. input and output are host buffers
   * of the network's input and output shapes (net.h). */
  enum oc_status (*prepare_net)(void *state, const struct oc_net *net, const void *input,
                                void *output, void **kernel);
  enum oc_status (*run_net)(void *state, void *kernel);
  enum oc_status (*read_net_output)(void *state, void *kernel); /* NULL: host memory */
  void (*release_net)(void *state, void *kernel);
  /* time_runs for network kernels: each end-to-end run's time as the device
   * measures it (e.g. on a remote device, without the link). NULL: networks
   * are timed with the host clock around run(), even where ops have a device
   * timer, because a GPU event span would leave out launch and wait costs. */
  enum oc_status (*time_net_runs)(void *state, void *kernel, int runs, double *device_us);
};

struct oc_target; /* an open backend */
struct oc_kernel; /* a prepared op or network */

/* Registry: every backend built in, available or not. */
size_t oc_target_count(void);
const struct oc_target_vtab *oc_target_at(size_t index);
/* NULL when no backend has that name. */
const struct oc_target_vtab *oc_target_find(const char *name);
/* oc_status_ok when the backend can run here; else why. */
enum oc_status oc_target_available(const struct oc_target_vtab *vtab, char *why,
                                   size_t why_len);

/* Opens "name" or "name:args" (e.g. "cpu", "opencl:platform=0,device=1").
 * opts may be NULL. Fails with not_found for an unknown name, unavailable
 * (and the reason in oc_errmsg()) when the backend cannot run here. */
enum oc_status oc_target_open(const char *spec, const struct oc_target_opts *opts,
                              struct oc_target **target);
void oc_target_close(struct oc_target *target); /* NULL-safe */

const struct oc_target_vtab *oc_target_vtab_of(const struct oc_target *target);
const char *oc_target_name(const struct oc_target *target);
const struct oc_target_opts *oc_target_options(const struct oc_target *target);
/* Fills info, fingerprint included. */
enum oc_status oc_target_describe(struct oc_target *target, struct oc_device_info *info);
bool oc_target_supports(struct oc_target *target, const struct oc_op *op, char *why,
                        size_t why_len);
/* Validates op, checks supports(), prepares. */
enum oc_status oc_target_prepare(struct oc_target *target, const struct oc_op *op,
                                 const struct oc_tensors *tensors,
                                 struct oc_kernel **kernel);
/* Does the target time this kernel (op or network) with its own clock
 * (oc_target_time_runs)? Else the harness uses the host clock. */
bool oc_target_has_device_timer(const struct oc_target *target, const struct oc_kernel *kernel);
enum oc_status oc_target_prepare_net(struct oc_target *target, const struct oc_net *net,
                                     const void *input, void *output,
                                     struct oc_kernel **kernel);
enum oc_status oc_target_run(struct oc_target *target, struct oc_kernel *kernel);
enum oc_status oc_target_read_output(struct oc_target *target, struct oc_kernel *kernel);
/* oc_status_unsupported when the backend has no device timer. */
enum oc_status oc_target_time_runs(struct oc_target *target, struct oc_kernel *kernel,
                                   int runs, double *device_us);
void oc_target_release(struct oc_target *target, struct oc_kernel *kernel); /* NULL-safe */

/* Parses "0,2-3" into cores (logical CPU numbers, checked against this
 * machine's online CPUs). */
enum oc_status oc_target_parse_cores(const char *text, struct oc_target_opts *opts);

/* Fingerprint of the identifying fields of info (16 hex digits). */
void oc_device_fingerprint(const struct oc_device_info *info, char out[17]);

#ifdef __cplusplus
}
#endif
#endif
