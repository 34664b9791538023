/* target.c - the thin wrappers through which everything calls a backend:
 * spec parsing, availability, opening, and the prepare/run/release cycle with
 * the checks every backend would otherwise repeat (valid op, supported op,
 * ABI version, NULL entries). */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "targets/targets_internal.h"

struct oc_target {
  const struct oc_target_vtab *vtab;
  void *state;
  struct oc_target_opts opts;
};

struct oc_kernel {
  void *impl;
  bool is_net; /* made by prepare_net: run/read/release go to the _net entries */
};

const struct oc_target_vtab *oc_target_find(const char *name) {
  for (size_t i = 0; i < oc_target_count(); i++) {
    const struct oc_target_vtab *v = oc_target_at(i);
    if (strcmp(v->name, name) == 0) return v;
  }
  return NULL;
}

enum oc_status oc_target_available(const struct oc_target_vtab *vtab, char *why,
                                   size_t why_len) {
  if (why_len > 0) why[0] = '\0';
  if (vtab->abi_version != OC_TARGET_ABI_VERSION) {
    oc__strfmt(why, why_len, "built for target ABI %d, this library has %d", vtab->abi_version,
               OC_TARGET_ABI_VERSION);
    return oc_status_incompatible;
  }
  if (vtab->probe == NULL) return oc_status_ok;
  return vtab->probe(why, why_len);
}

enum oc_status oc_target_open(const char *spec, const struct oc_target_opts *opts,
                              struct oc_target **out) {
  char name[64];
  const char *colon = strchr(spec, ':');
  size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
  if (len == 0 || len >= sizeof name)
    return oc__fail(oc_status_invalid_argument, "target '%s': expected NAME or NAME:ARGS", spec);
  memcpy(name, spec, len);
  name[len] = '\0';
  const struct oc_target_vtab *vtab = oc_target_find(name);
  if (vtab == NULL) {
    char known[256] = "";
    for (size_t i = 0; i < oc_target_count(); i++) {
      size_t used = strlen(known);
      oc__strfmt(known + used, sizeof known - used, "%s%s", i ? ", " : "", oc_target_at(i)->name);
    }
    return oc__fail(oc_status_not_found, "unknown target '%s' (known: %s)", name, known);
  }
  char why[512];
  enum oc_status st = oc_target_available(vtab, why, sizeof why);
  if (st != oc_status_ok)
    return oc__fail(st, "target '%s' is unavailable: %s", name, why[0] ? why : oc_status_str(st));
  struct oc_target *t = calloc(1, sizeof *t);
  if (t == NULL) return oc__fail(oc_status_out_of_memory, "target '%s': out of memory", name);
  t->vtab = vtab;
  if (opts) t->opts = *opts;
  if (t->opts.threads < 0) {
    int n = t->opts.threads;
    free(t);
    return oc__fail(oc_status_invalid_argument, "threads: value '%d' must be >= 1", n);
  }
  if (t->opts.threads == 0) t->opts.threads = 1;
  if (t->opts.threads > 1 && !(vtab->caps & oc_cap_threads)) {
    int n = t->opts.threads;
    free(t);
    return oc__fail(oc_status_unsupported, "target '%s' runs on one thread; threads=%d asked",
                    name, n);
  }
  if (t->opts.n_cores > 0 && !(vtab->caps & oc_cap_pinning)) {
    free(t);
    return oc__fail(oc_status_unsupported, "target '%s' cannot be pinned to cores", name);
  }
  st = vtab->open(colon ? colon + 1 : "", &t->opts, &t->state);
  if (st != oc_status_ok) {
    free(t);
    if (oc_errmsg()[0] == '\0') return oc__fail(st, "target '%s': open failed", name);
    return oc__fail_prefix(st, "target '%s': ", name);
  }
  *out = t;
  return oc_status_ok;
}

void oc_target_close(struct oc_target *t) {
  if (t == NULL) return;
  if (t->vtab->close) t->vtab->close(t->state);
  free(t);
}

const struct oc_target_vtab *oc_target_vtab_of(const struct oc_target *t) { return t->vtab; }

const char *oc_target_name(const struct oc_target *t) { return t->vtab->name; }

const struct oc_target_opts *oc_target_options(const struct oc_target *t) { return &t->opts; }

enum oc_status oc_target_describe(struct oc_target *t, struct oc_device_info *info) {
  memset(info, 0, sizeof *info);
  oc__strcpy(info->target, sizeof info->target, t->vtab->name);
  info->threads = t->opts.threads;
  if (t->vtab->describe) {
    enum oc_status st = t->vtab->describe(t->state, info);
    if (st != oc_status_ok) return st;
  }
  oc__strcpy(info->target, sizeof info->target, t->vtab->name);
  oc_device_fingerprint(info, info->fingerprint);
  return oc_status_ok;
}

bool oc_target_supports(struct oc_target *t, const struct oc_op *op, char *why,
                        size_t why_len) {
  if (why_len > 0) why[0] = '\0';
  if (oc_op_validate(op) != oc_status_ok) {
    oc__strfmt(why, why_len, "%s", oc_errmsg());
    return false;
  }
  if (t->vtab->supports == NULL || t->vtab->prepare == NULL) {
    oc__strfmt(why, why_len, "target runs no single ops");
    return false;
  }
  return t->vtab->supports(t->state, op, why, why_len);
}

static enum oc_status wrap_kernel(void *impl, bool is_net, struct oc_kernel **kernel) {
  struct oc_kernel *k = calloc(1, sizeof *k);
  if (k == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for a kernel");
  k->impl = impl;
  k->is_net = is_net;
  *kernel = k;
  return oc_status_ok;
}

enum oc_status oc_target_prepare(struct oc_target *t, const struct oc_op *op,
                                 const struct oc_tensors *tensors, struct oc_kernel **kernel) {
  char key[OC_KEY_MAX] = "";
  char why[512];
  enum oc_status st = oc_op_validate(op);
  if (st != oc_status_ok) return st;
  oc_op_format(op, key, sizeof key);
  if (!oc_target_supports(t, op, why, sizeof why))
    return oc__fail(oc_status_unsupported, "target '%s' does not run '%s': %s", t->vtab->name,
                    key, why[0] ? why : "unsupported");
  void *impl = NULL;
  oc_errclear();
  st = t->vtab->prepare(t->state, op, tensors, &impl);
  if (st != oc_status_ok) {
    if (oc_errmsg()[0] == '\0') return oc__fail(st, "target '%s': preparing '%s' failed", t->vtab->name, key);
    return oc__fail_prefix(st, "target '%s': op '%s': ", t->vtab->name, key);
  }
  st = wrap_kernel(impl, false, kernel);
  if (st != oc_status_ok) t->vtab->release(t->state, impl);
  return st;
}

enum oc_status oc_target_prepare_net(struct oc_target *t, const struct oc_net *net,
                                     const void *input, void *output,
                                     struct oc_kernel **kernel) {
  if (t->vtab->prepare_net == NULL || t->vtab->run_net == NULL ||
      t->vtab->release_net == NULL || !(t->vtab->caps & oc_cap_networks))
    return oc__fail(oc_status_unsupported, "target '%s' does not run whole networks",
                    t->vtab->name);
  void *impl = NULL;
  oc_errclear();
  enum oc_status st = t->vtab->prepare_net(t->state, net, input, output, &impl);
  if (st != oc_status_ok) {
    if (oc_errmsg()[0] == '\0') return oc__fail(st, "target '%s': preparing the network failed", t->vtab->name);
    return oc__fail_prefix(st, "target '%s': ", t->vtab->name);
  }
  st = wrap_kernel(impl, true, kernel);
  if (st != oc_status_ok) t->vtab->release_net(t->state, impl);
  return st;
}

enum oc_status oc_target_run(struct oc_target *t, struct oc_kernel *kernel) {
  if (kernel->is_net) return t->vtab->run_net(t->state, kernel->impl);
  return t->vtab->run(t->state, kernel->impl);
}

enum oc_status oc_target_read_output(struct oc_target *t, struct oc_kernel *kernel) {
  if (kernel->is_net) {
    if (t->vtab->read_net_output == NULL) return oc_status_ok;
    return t->vtab->read_net_output(t->state, kernel->impl);
  }
  if (t->vtab->read_output == NULL) return oc_status_ok;
  return t->vtab->read_output(t->state, kernel->impl);
}

enum oc_status oc_target_time_runs(struct oc_target *t, struct oc_kernel *kernel, int runs,
                                   double *device_us) {
  if (t->vtab->time_runs == NULL && t->vtab->time_net_runs == NULL)
    return oc__fail(oc_status_unsupported, "target '%s' has no device timer", t->vtab->name);
  if (runs < 1) return oc__fail(oc_status_invalid_argument, "runs: value '%d' must be >= 1", runs);
  if (kernel->is_net) {
    if (t->vtab->time_net_runs == NULL)
      return oc__fail(oc_status_unsupported, "target '%s' has no device timer for networks",
                      t->vtab->name);
    return t->vtab->time_net_runs(t->state, kernel->impl, runs, device_us);
  }
  return t->vtab->time_runs(t->state, kernel->impl, runs, device_us);
}

bool oc_target_has_device_timer(const struct oc_target *t, const struct oc_kernel *kernel) {
  return kernel->is_net ? t->vtab->time_net_runs != NULL : t->vtab->time_runs != NULL;
}

void oc_target_release(struct oc_target *t, struct oc_kernel *kernel) {
  if (t == NULL || kernel == NULL) return;
  if (kernel->is_net) {
    if (t->vtab->release_net) t->vtab->release_net(t->state, kernel->impl);
  } else if (t->vtab->release) {
    t->vtab->release(t->state, kernel->impl);
  }
  free(kernel);
}

void oc_device_fingerprint(const struct oc_device_info *info, char out[17]) {
  uint64_t h = OC__HASH_SEED;
  const char *parts[] = {info->target, info->name, info->vendor, info->arch, info->isa,
                         info->runtime};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    h = oc__hash64_str(h, parts[i]);
    h = oc__hash64(h, "|", 1);
  }
  int64_t nums[] = {info->cores_logical, info->l1d_bytes, info->l2_bytes, info->l3_bytes};
  h = oc__hash64(h, nums, sizeof nums);
  oc__strfmt(out, 17, "%016llx", (unsigned long long)h);
}

void *oc__target_state(const struct oc_target *t) { return t->state; }

void *oc__target_kernel_impl(const struct oc_kernel *kernel) {
  return kernel->is_net ? NULL : kernel->impl;
}

bool oc__target_f32_int_indexed(const char *target, const char *kernels, const struct oc_op *op,
                                char *why, size_t why_len) {
  if (why_len > 0) why[0] = '\0';
  if (op->dtype != oc_dtype_f32) {
    oc__strfmt(why, why_len, "dtype %s is not implemented by %s", oc_dtype_name(op->dtype),
               target);
    return false;
  }
  struct oc_op_shapes sh;
  if (oc_op_shapes(op, &sh) != oc_status_ok) {
    oc__strfmt(why, why_len, "%s", oc_errmsg());
    return false;
  }
  int64_t sizes[OC_MAX_INPUTS + 3] = {oc_tensor_elems(&sh.output), sh.weight_elems, sh.bias_elems};
  for (int i = 0; i < sh.n_inputs; i++) sizes[3 + i] = oc_tensor_elems(&sh.input[i]);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    if (sizes[i] > INT32_MAX) {
      oc__strfmt(why, why_len, "a tensor of %lld elements exceeds the %s' 2^31-1 index",
                 (long long)sizes[i], kernels);
      return false;
    }
  }
  return true;
}
