/* report_demo.c - oc_demo_run: the whole opcost pipeline on this machine in
 * a few minutes, through the library, ending in a report. It is what
 * `make run` runs, so it is what a newcomer sees first.
 *
 * Stages (report.h lists them): device profile, a LUT of every kernel of
 * the space at one resolution (plus the reference networks' kernels), a
 * validation set measured end to end, a cost model fitted on half of the
 * sampled networks and evaluated on the rest and on the reference networks
 * (unseen families), a constrained search over the space at that
 * resolution with latency from the LUT, hardware in the loop on the front,
 * and the report. A stage that fails is recorded with its message and the
 * stages that need its output are skipped; the report says which.
 *
 * The space is searched at one resolution because the LUT holds that
 * resolution's kernels only: a derived space whose resolution gene has that
 * one choice (written to OUT/space.json) keeps every candidate inside the
 * LUT. Everything the demo writes lands in out_dir; a second run reuses the
 * LUT rows already measured for this device (a LUT build resumes). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "opcost/space.h"
#include "opcost/version.h"
#include "reports/report_internal.h"

static const char *const default_references[] = {"mobilenetv2-1.0.json", "mobilenetv3-large.json",
                                                 "mobilenetv3-small.json"};

enum { st_profile, st_lut, st_validation, st_model, st_search, st_hil, st_report };
static const char *const stage_names[OC_DEMO_STAGES] = {
    "device profile",       "LUT",   "validation set", "cost model", "search",
    "hardware in the loop", "report"};

void oc_demo_opts_default(struct oc_demo_opts *opts) {
  memset(opts, 0, sizeof *opts);
  opts->out_dir = "out";
  opts->target = "cpu";
  opts->threads = 1;
  opts->space = "ofa-mbv3-w1.0";
  opts->resolution = 160;
  opts->networks_dir = "spaces/networks";
  opts->samples = 20;
  opts->budget = 2000;
  opts->population = 50;
  opts->hil = 8;
  opts->seed = 1;
}

/* One measured network of the validation set. */
struct vnet {
  struct oc_net *net;
  char name[OC_NET_NAME_MAX];
  char family[OC_NET_NAME_MAX];
  char rel[OC_NET_NAME_MAX + 16]; /* nets/NAME.json */
  double measured_us;
  bool sampled; /* from the space (else a reference network) */
  bool train;
};

struct demo {
  const struct oc_demo_opts *o;
  struct oc_demo_result *res;
  double t0;
  int stage;
  struct oc_target *target;
  struct oc_device_info dev;
  struct oc_device_profile *profile;
  bool have_profile;
  struct oc_space *space; /* the derived, one-resolution space */
  struct oc_lut *lut;
  bool have_lut;
  struct vnet *nets;
  size_t n_nets;
  bool have_nets;
  bool have_model;
  bool have_search;
  double hil_started;
  struct oc_measure_opts lut_measure, net_measure;
  char path[9][4200]; /* OUT/ + files[] of oc_demo_run */
};

enum { p_profile, p_lut, p_measured, p_train, p_heldout, p_model, p_search, p_space, p_proxy };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool stopped(const struct demo *d) { return d->o->stop != NULL && *d->o->stop != 0; }

static void progress(struct demo *d, int64_t done, int64_t total, const char *detail) {
  if (d->o->progress != NULL)
    d->o->progress(d->o->progress_ctx, d->stage, OC_DEMO_STAGES, stage_names[d->stage], done, total,
                   detail);
}

static void stage_begin(struct demo *d, int stage) {
  d->stage = stage;
  d->t0 = now_s();
  progress(d, 0, 0, "starting");
}

static void stage_end(struct demo *d, const char *status, const char *fmt, ...) OC__PRINTF(3, 4);
static void stage_end(struct demo *d, const char *status, const char *fmt, ...) {
  struct oc_demo_stage *s = &d->res->stages[d->stage];
  oc__strcpy(s->status, sizeof s->status, status);
  bool ran = strcmp(status, "done") == 0 || strcmp(status, "failed") == 0;
  s->seconds = ran ? now_s() - d->t0 : NAN;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->detail, sizeof s->detail, fmt, ap);
  va_end(ap);
  if (strcmp(status, "failed") == 0) d->res->n_failed++;
  progress(d, -1, -1, s->status); /* the stage is over */
}

static void stage_failed(struct demo *d, enum oc_status st) {
  const char *msg = oc_errmsg();
  stage_end(d, "failed", "%s", msg[0] ? msg : oc_status_str(st));
}

static void stage_skipped(struct demo *d, int stage, const char *why) {
  d->stage = stage;
  d->t0 = now_s();
  stage_end(d, "skipped", "%s", why);
}

/* A stage that could not start (its target or space failed to open). */
static void stage_cannot_run(struct demo *d, int stage, const char *why) {
  d->stage = stage;
  d->t0 = now_s();
  stage_end(d, "failed", "%s", why);
  d->res->stages[stage].seconds = NAN;
}

/* ---- files ------------------------------------------------------------------------------ */

static enum oc_status make_dir(const char *path) {
  if (mkdir(path, 0777) != 0 && errno != EEXIST)
    return oc__fail(oc_status_io_error, "%s: %s", path, strerror(errno));
  return oc_status_ok;
}

static enum oc_status write_json_file(const char *path, const json_t *root, size_t flags) {
  char *text = json_dumps(root, flags | JSON_REAL_PRECISION(10));
  if (text == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", path);
  size_t n = strlen(text);
  char *line = realloc(text, n + 2);
  if (line == NULL) {
    free(text);
    return oc__fail(oc_status_out_of_memory, "%s: out of memory", path);
  }
  line[n] = '\n';
  line[n + 1] = '\0';
  enum oc_status st = oc__report_write_file(path, line, n + 1);
  free(line);
  return st;
}

/* Removes what an earlier demo's search left in dir (a search refuses to
 * start over an existing journal). Only the files a search writes. */
static void clear_search_dir(const char *dir) {
  static const char *const files[] = {"journal.jsonl", "config.json", "front.csv",   "front.json",
                                      "hv.csv",        "hil.csv",     "summary.json"};
  char path[4400];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    oc__strfmt(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  /* front/NAME.json: the names are the front members of that run; the
   * journal that listed them is gone, so remove the *.json files. */
  char front[4400];
  oc__strfmt(front, sizeof front, "%s/front", dir);
  DIR *dp = opendir(front);
  if (dp == NULL) return;
  struct dirent *e;
  while ((e = readdir(dp)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0) continue;
    oc__strfmt(path, sizeof path, "%s/%s", front, e->d_name);
    unlink(path);
  }
  closedir(dp);
}

/* ---- the one-resolution space ----------------------------------------------------------- */

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      size_t c = cap ? 2 * cap : 65536;
      char *p = realloc(buf, c);
      if (p == NULL) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = p;
      cap = c;
    }
    size_t n = fread(buf + len, 1, 4096, f);
    len += n;
    if (n < 4096) break;
  }
  fclose(f);
  buf[len] = '\0';
  return buf;
}

static enum oc_status derive_space(struct demo *d) {
  const struct oc_demo_opts *o = d->o;
  struct oc_space *orig = NULL;
  json_t *root = NULL;
  char *owned = NULL, *text = NULL;
  enum oc_status st = oc_space_open(o->space, &orig);
  if (st != oc_status_ok) goto done;
  int32_t rg = oc_space_resolution_gene(orig);
  if (rg < 0) {
    st = oc__fail(oc_status_invalid_argument, "space %s has no resolution gene", o->space);
    goto done;
  }
  char choices[512] = "";
  bool found = false;
  for (int32_t c = 0; c < oc_space_gene_choices(orig, (size_t)rg); c++) {
    const char *label = oc_space_gene_label(orig, (size_t)rg, c);
    char want[16];
    oc__strfmt(want, sizeof want, "%d", (int)o->resolution);
    if (strcmp(label, want) == 0) found = true;
    size_t len = strlen(choices);
    oc__strfmt(choices + len, sizeof choices - len, "%s%s", c ? " " : "", label);
  }
  if (!found) {
    st = oc__fail(oc_status_invalid_argument,
                  "resolution %d is not a choice of space %s (choices: %s)", (int)o->resolution,
                  o->space, choices);
    goto done;
  }
  const char *family = oc_space_gene_family(orig, (size_t)rg);
  const char *builtin = oc_space_builtin_text(o->space);
  if (builtin == NULL) {
    owned = read_text(o->space);
    if (owned == NULL) {
      st = oc__fail(oc_status_io_error, "%s: %s", o->space, strerror(errno));
      goto done;
    }
  }
  json_error_t err;
  root = json_loads(builtin ? builtin : owned, 0, &err);
  json_t *genes = json_object_get(root, "genes");
  size_t i;
  json_t *g;
  bool replaced = false;
  json_array_foreach(genes, i, g) {
    const char *name = json_string_value(json_object_get(g, "name"));
    if (name == NULL || strcmp(name, family) != 0) continue;
    json_object_set_new(g, "choices", json_pack("[i]", (int)o->resolution));
    replaced = true;
  }
  if (!replaced) {
    st = oc__fail(oc_status_unsupported,
                  "space %s: the resolution gene '%s' is not a top-level gene; give a space whose "
                  "resolution is fixed",
                  o->space, family);
    goto done;
  }
  char name[160], summary[1024];
  oc__strfmt(name, sizeof name, "%s-r%d", oc_space_name(orig), (int)o->resolution);
  oc__strfmt(summary, sizeof summary, "%s, at input resolution %d only (opcost demo)",
             oc_space_summary(orig), (int)o->resolution);
  json_object_set_new(root, "name", json_string(name));
  json_object_set_new(root, "summary", json_string(summary));
  st = write_json_file(d->path[p_space], root, JSON_INDENT(2));
  if (st != oc_status_ok) goto done;
  text = json_dumps(root, JSON_COMPACT);
  if (text == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  st = oc_space_from_string(text, d->path[p_space], &d->space);
done:
  free(text);
  free(owned);
  json_decref(root);
  oc_space_free(orig);
  return st;
}

/* ---- stage 1: device profile ------------------------------------------------------------ */

static void profile_progress(void *ctx, int done, int total, const char *step) {
  progress(ctx, done, total, step);
}

static void run_profile(struct demo *d) {
  stage_begin(d, st_profile);
  d->profile = calloc(1, sizeof *d->profile);
  enum oc_status st =
      d->profile ? oc_status_ok : oc__fail(oc_status_out_of_memory, "out of memory");
  struct oc_device_opts dopts = {d->o->quick, profile_progress, d};
  if (st == oc_status_ok) st = oc_probe_device(d->target, &dopts, d->profile);
  if (st == oc_status_ok) st = oc_probe_profile_save(d->profile, d->path[p_profile]);
  if (st != oc_status_ok) {
    stage_failed(d, st);
    return;
  }
  d->have_profile = true;
  d->res->peak_gflops_one_core = d->profile->peak_gflops_one_core;
  d->res->peak_gflops_all_cores = d->profile->peak_gflops_all_cores;
  d->res->dram_gbs = d->profile->dram_read_gbs_all_cores;
  stage_end(d, "done", "%.1f GFLOP/s one core, %.1f on %d cores, DRAM %.1f GB/s -> %s",
            d->profile->peak_gflops_one_core, d->profile->peak_gflops_all_cores,
            d->profile->cores_used, d->profile->dram_read_gbs_all_cores, d->path[p_profile]);
}

/* ---- stage 2: LUT ------------------------------------------------------------------------ */

static void lut_progress(void *ctx, const struct oc_lut_build_progress *p) {
  progress(ctx, p->done, p->total, p->key);
}

/* The reference networks present in networks_dir (missing ones are left out). */
static enum oc_status load_references(struct demo *d, struct oc_net ***nets, size_t *n,
                                      char *missing, size_t missing_size) {
  const struct oc_demo_opts *o = d->o;
  const char *const *names = o->reference_networks ? o->reference_networks : default_references;
  size_t count = o->reference_networks ? o->n_reference_networks
                                       : sizeof default_references / sizeof default_references[0];
  *nets = NULL;
  *n = 0;
  missing[0] = '\0';
  if (o->networks_dir == NULL || count == 0) return oc_status_ok;
  *nets = calloc(count, sizeof **nets);
  if (*nets == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  for (size_t i = 0; i < count; i++) {
    char path[4400];
    oc__strfmt(path, sizeof path, "%s/%s", o->networks_dir, names[i]);
    if (access(path, R_OK) != 0) {
      size_t len = strlen(missing);
      oc__strfmt(missing + len, missing_size - len, "%s%s", len ? ", " : "", path);
      continue;
    }
    enum oc_status st = oc_net_load_file(path, &(*nets)[*n]);
    if (st != oc_status_ok) return st;
    (*n)++;
  }
  return oc_status_ok;
}

static void free_nets(struct oc_net **nets, size_t n) {
  for (size_t i = 0; i < n; i++) oc_net_free(nets[i]);
  free(nets);
}

static void run_lut(struct demo *d) {
  stage_begin(d, st_lut);
  struct oc_lut_plan *plan = NULL;
  struct oc_net **refs = NULL;
  size_t n_refs = 0;
  char missing[2048];
  struct oc_lut_build_report rep;
  memset(&rep, 0, sizeof rep);
  enum oc_status st = oc_lut_plan_create(oc_lut_kernel, &plan);
  if (st == oc_status_ok) st = oc_lut_plan_add_space(plan, d->space, NULL, 0);
  size_t space_ops = st == oc_status_ok ? oc_lut_plan_size(plan) : 0;
  if (st == oc_status_ok) st = load_references(d, &refs, &n_refs, missing, sizeof missing);
  for (size_t i = 0; i < n_refs && st == oc_status_ok; i++) st = oc_lut_plan_add_net(plan, refs[i]);
  if (st == oc_status_ok) st = oc_lut_open(d->path[p_lut], oc_lut_create, &d->lut);
  if (st == oc_status_ok) {
    struct oc_lut_build_opts bo;
    memset(&bo, 0, sizeof bo);
    bo.measure = &d->lut_measure;
    bo.progress = lut_progress;
    bo.progress_ctx = d;
    bo.stop = d->o->stop;
    st = oc_lut_build(d->lut, d->target, plan, &bo, &rep);
  }
  if (st == oc_status_ok && rep.stopped) st = oc__fail(oc_status_interrupted, "stopped");
  if (st != oc_status_ok) {
    stage_failed(d, st);
  } else {
    struct oc_lut_filter f = {d->dev.fingerprint, d->dev.threads, NULL};
    int64_t rows = 0;
    oc_lut_count(d->lut, &f, &rows);
    d->res->lut_rows = rows;
    d->have_lut = true;
    stage_end(d, "done",
              "%zu kernels of %s and %zu of %zu reference networks: %lld measured now, %lld "
              "already stored, %lld unsupported -> %s%s%s",
              space_ops, oc_space_name(d->space), oc_lut_plan_size(plan) - space_ops, n_refs,
              (long long)rep.measured, (long long)rep.stored, (long long)rep.unsupported,
              d->path[p_lut], missing[0] ? "; not found: " : "", missing);
  }
  free_nets(refs, n_refs);
  oc_lut_plan_free(plan);
}

/* ---- stage 3: validation set --------------------------------------------------------------- */

static enum oc_status measure_net(struct demo *d, const struct oc_net *net, double *us) {
  struct oc_kernel *kernel = NULL;
  struct oc_measurement m;
  memset(&m, 0, sizeof m);
  size_t in_bytes = (size_t)net->tensors[net->input_tensor].bytes;
  size_t out_bytes = (size_t)net->tensors[net->output_tensor].bytes;
  void *input = oc__aligned_alloc(64, in_bytes + OC_TENSOR_SLACK_BYTES);
  void *output = oc__aligned_alloc(64, out_bytes + OC_TENSOR_SLACK_BYTES);
  enum oc_status st = oc_status_ok;
  if (input == NULL || output == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory for the buffers of %s", net->name);
    goto done;
  }
  memset(input, 0, in_bytes + OC_TENSOR_SLACK_BYTES);
  oc_net_fill_input(net, d->o->seed, input);
  st = oc_target_prepare_net(d->target, net, input, output, &kernel);
  if (st == oc_status_ok) st = oc_probe_kernel(d->target, kernel, &d->net_measure, &m);
  if (st == oc_status_ok)
    *us = m.stats.median_us;
  else
    oc__fail_prefix(st, "network %s: ", net->name);
done:
  oc_measurement_release(&m);
  oc_target_release(d->target, kernel);
  oc__aligned_free(input);
  oc__aligned_free(output);
  return st;
}

/* One line of measured.jsonl (oc_model_netset_load reads it). */
static json_t *net_line(const struct demo *d, const struct vnet *v) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:s, s:I, s:I}", "format",
                   "opcost-net-measure/1", "name", v->name, "family", v->family, "hash",
                   v->net->hash_hex, "path", v->rel, "fingerprint", d->dev.fingerprint, "threads",
                   (int)d->dev.threads, "median_us", v->measured_us, "split",
                   v->train ? "train" : "heldout", "macs", (json_int_t)v->net->cost.macs,
                   "peak_activation_bytes", (json_int_t)v->net->cost.peak_activation_bytes);
}

static enum oc_status write_lines(const struct demo *d, const char *path, int which) {
  struct oc__rbuf b = {0};
  for (size_t i = 0; i < d->n_nets; i++) {
    const struct vnet *v = &d->nets[i];
    if ((which == 1 && !v->train) || (which == 2 && v->train)) continue;
    json_t *line = net_line(d, v);
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(line);
    if (text == NULL) {
      oc__rbuf_free(&b);
      return oc__fail(oc_status_out_of_memory, "out of memory");
    }
    oc__rbuf_printf(&b, "%s\n", text);
    free(text);
  }
  enum oc_status st = b.oom ? oc__fail(oc_status_out_of_memory, "out of memory")
                            : oc__report_write_file(path, oc__rbuf_str(&b), b.len);
  oc__rbuf_free(&b);
  return st;
}

static enum oc_status add_vnet(struct demo *d, json_t *json, const char *name, const char *family,
                               bool sampled) {
  struct vnet *v = &d->nets[d->n_nets];
  memset(v, 0, sizeof *v);
  oc__strcpy(v->name, sizeof v->name, name);
  oc__strcpy(v->family, sizeof v->family, family);
  oc__strfmt(v->rel, sizeof v->rel, "nets/%s.json", name);
  v->sampled = sampled;
  json_object_set_new(json, "name", json_string(name));
  char path[4400];
  oc__strfmt(path, sizeof path, "%s/%s", d->o->out_dir, v->rel);
  enum oc_status st = write_json_file(path, json, JSON_INDENT(2));
  if (st == oc_status_ok) st = oc_net_load_json(json, path, &v->net);
  if (st == oc_status_ok) d->n_nets++;
  return st;
}

static void run_validation(struct demo *d) {
  stage_begin(d, st_validation);
  const struct oc_demo_opts *o = d->o;
  struct oc_net **refs = NULL;
  size_t n_refs = 0;
  char missing[2048], dir[4400];
  int32_t *genes = NULL;
  size_t n_genes = oc_space_gene_count(d->space);
  enum oc_status st = load_references(d, &refs, &n_refs, missing, sizeof missing);
  oc__strfmt(dir, sizeof dir, "%s/nets", o->out_dir);
  if (st == oc_status_ok) st = make_dir(dir);
  size_t samples = (size_t)(o->samples > 0 ? o->samples : 0);
  d->nets = calloc(samples + n_refs + 1, sizeof *d->nets);
  genes = calloc(n_genes + 1, sizeof *genes);
  if (st == oc_status_ok && (d->nets == NULL || genes == NULL))
    st = oc__fail(oc_status_out_of_memory, "out of memory");
  /* Distinct phenotypes: a repeat would be measured twice and counted twice. */
  uint64_t *seen = calloc(samples + 1, sizeof *seen);
  size_t n_seen = 0;
  for (uint64_t idx = 0; st == oc_status_ok && n_seen < samples && idx < samples * 20; idx++) {
    uint64_t hash = 0;
    st = oc_space_sample(d->space, o->seed, idx, genes, n_genes);
    if (st == oc_status_ok) st = oc_space_phenotype_hash(d->space, genes, n_genes, &hash);
    if (st != oc_status_ok) break;
    bool dup = false;
    for (size_t k = 0; k < n_seen && !dup; k++) dup = seen[k] == hash;
    if (dup) continue;
    seen[n_seen++] = hash;
    json_t *json = NULL;
    st = oc_space_decode_json(d->space, genes, n_genes, &json);
    char name[OC_NET_NAME_MAX];
    oc__strfmt(name, sizeof name, "%s-sample%02zu", oc_space_name(d->space), n_seen - 1);
    if (st == oc_status_ok) st = add_vnet(d, json, name, oc_space_name(d->space), true);
    json_decref(json);
  }
  free(seen);
  for (size_t i = 0; i < n_refs && st == oc_status_ok; i++) {
    json_t *json = NULL;
    st = oc_net_to_json(refs[i], &json);
    char family[OC_NET_NAME_MAX];
    oc__strcpy(family, sizeof family, refs[i]->name);
    char *dash = strchr(family, '-');
    if (dash != NULL) *dash = '\0';
    if (st == oc_status_ok) st = add_vnet(d, json, refs[i]->name, family, false);
    json_decref(json);
  }
  /* Measure every network end to end. */
  for (size_t i = 0; i < d->n_nets && st == oc_status_ok; i++) {
    if (stopped(d)) {
      st = oc__fail(oc_status_interrupted, "stopped");
      break;
    }
    progress(d, (int64_t)i, (int64_t)d->n_nets, d->nets[i].name);
    st = measure_net(d, d->nets[i].net, &d->nets[i].measured_us);
  }
  /* Every other sampled network trains the composition; the rest and the
   * reference networks are held out. */
  size_t k = 0;
  for (size_t i = 0; i < d->n_nets; i++)
    if (d->nets[i].sampled) d->nets[i].train = (k++ % 2) == 0;
  if (st == oc_status_ok) st = write_lines(d, d->path[p_measured], 0);
  if (st == oc_status_ok) st = write_lines(d, d->path[p_train], 1);
  if (st == oc_status_ok) st = write_lines(d, d->path[p_heldout], 2);
  if (st != oc_status_ok) {
    stage_failed(d, st);
  } else {
    d->have_nets = true;
    d->res->validation_nets = (int32_t)d->n_nets;
    stage_end(d, "done",
              "%zu networks sampled from %s and %zu reference networks measured end "
              "to end -> %s%s%s",
              n_seen, oc_space_name(d->space), n_refs, d->path[p_measured],
              missing[0] ? "; not found: " : "", missing);
  }
  free(genes);
  free_nets(refs, n_refs);
}

/* ---- stage 4: cost model --------------------------------------------------------------------- */

static void fit_progress(void *ctx, size_t done, size_t total, const char *kind) {
  progress(ctx, (int64_t)done, (int64_t)total, kind);
}

static void run_model(struct demo *d) {
  stage_begin(d, st_model);
  struct oc_model_data *data = NULL;
  struct oc_model_netset *train = NULL, *held = NULL;
  struct oc_model *model = NULL;
  struct oc_model_device device;
  double *pred = NULL, *meas = NULL;
  enum oc_status st = oc_model_data_from_lut(d->lut, d->dev.fingerprint, d->dev.threads, &data);
  if (st == oc_status_ok)
    st = d->have_profile ? oc_model_device_from_profile(d->profile, d->dev.threads, &device)
                         : oc_model_device_empirical(data, &device);
  if (st == oc_status_ok && d->have_profile) {
    oc__strcpy(device.fingerprint, sizeof device.fingerprint, data->fingerprint);
    oc__strcpy(device.target, sizeof device.target, data->target);
    oc__strcpy(device.name, sizeof device.name, data->device_name);
    oc__strcpy(device.isa, sizeof device.isa, data->isa);
  }
  if (st == oc_status_ok) st = oc_model_netset_create(&train);
  if (st == oc_status_ok) st = oc_model_netset_load(d->path[p_heldout], NULL, 0, &held);
  for (size_t i = 0; i < d->n_nets && st == oc_status_ok; i++) {
    if (!d->nets[i].train) continue;
    json_t *json = NULL;
    struct oc_net *copy = NULL;
    st = oc_net_to_json(d->nets[i].net, &json);
    if (st == oc_status_ok) st = oc_net_load_json(json, d->nets[i].name, &copy);
    json_decref(json);
    if (st == oc_status_ok)
      st = oc_model_netset_add(train, copy, d->nets[i].measured_us, d->nets[i].family);
  }
  struct oc_model_fit_opts fo;
  oc_model_fit_opts_default(&fo);
  fo.seed = d->o->seed;
  fo.progress = fit_progress;
  fo.progress_ctx = d;
  if (st == oc_status_ok) st = oc_model_fit(data, &device, train, &fo, &model);
  if (st == oc_status_ok) st = oc_model_save(model, d->path[p_model]);
  struct oc_model_metrics m;
  memset(&m, 0, sizeof m);
  if (st == oc_status_ok && held->n > 0) {
    pred = calloc(held->n, sizeof *pred);
    st = pred ? oc_model_eval_nets(model, held, pred, NULL, NULL, &m)
              : oc__fail(oc_status_out_of_memory, "out of memory");
  }
  if (st != oc_status_ok) {
    stage_failed(d, st);
    goto done;
  }
  d->have_model = true;
  d->res->model_mape_heldout = held->n > 0 ? m.mape : NAN;
  d->res->model_within10_heldout = held->n > 0 ? m.within10 : NAN;
  /* The LUT alone (sum of kernel medians) on every validation network. */
  struct oc_lut_cache *cache = NULL;
  size_t n = 0;
  free(pred);
  pred = calloc(d->n_nets + 1, sizeof *pred);
  meas = calloc(d->n_nets + 1, sizeof *meas);
  if (pred != NULL && meas != NULL &&
      oc_lut_cache_load(d->lut, d->dev.fingerprint, d->dev.threads, &cache) == oc_status_ok) {
    struct oc_lut_roofline roof;
    bool have_roof = d->have_profile && oc_lut_roofline_from_profile(d->profile, d->dev.threads,
                                                                     &roof) == oc_status_ok;
    for (size_t i = 0; i < d->n_nets; i++) {
      int32_t misses = 0;
      if (oc_lut_predict_us(cache, d->nets[i].net, oc_lut_kernel, have_roof ? &roof : NULL, false,
                            &pred[n], &misses) == oc_status_ok)
        meas[n++] = d->nets[i].measured_us;
    }
  }
  oc_lut_cache_free(cache);
  struct oc_model_metrics lm;
  d->res->lut_mape =
      n > 0 && oc_model_metrics_compute(pred, meas, NULL, NULL, n, &lm) == oc_status_ok ? lm.mape
                                                                                        : NAN;
  oc_errclear();
  stage_end(d, "done",
            "fitted on %zu kernels and %zu networks; held-out networks (%zu, reference "
            "families included): MAPE %.1f %%, %.0f %% within 10 %%; LUT sums alone: MAPE %.1f "
            "%% -> %s",
            data->n, train->n, held->n, 100 * d->res->model_mape_heldout,
            100 * d->res->model_within10_heldout, 100 * d->res->lut_mape, d->path[p_model]);
done:
  free(pred);
  free(meas);
  oc_model_free(model);
  oc_model_netset_free(train);
  oc_model_netset_free(held);
  oc_model_data_free(data);
}

/* ---- stages 5 and 6: search with hardware in the loop ------------------------------------- */

/* The demo's stand-in for an accuracy evaluator (the search's external
 * evaluator protocol, docs/search.md): a capacity proxy computed from the
 * gene text, so that one objective pulls against latency. Latency, MACs,
 * memory are all smallest for the smallest network: without a maximized
 * objective the front would be that one network. */
static const char *const proxy_script =
    "#!/bin/sh\n"
    "# accuracy-proxy.sh - written by `opcost demo`: a stand-in accuracy evaluator\n"
    "# for `opcost search --evaluator`. It is NOT an accuracy: a capacity proxy\n"
    "# computed from the gene text, the sum over the active blocks of kernel size\n"
    "# times expand ratio, / 100 (more, larger and wider blocks score higher; for\n"
    "# a space without k and e genes, the sum of its numeric genes but the\n"
    "# resolution). It gives the search an objective that pulls against latency.\n"
    "# Replace it with your own evaluator (docs/search.md): one JSON request a\n"
    "# line on stdin, one {\"id\":..,\"accuracy\":..} line on stdout, flushed.\n"
    "exec awk -W interactive -v RES=\"${1:-r}\" '\n"
    "{\n"
    "  if (!match($0, /\"id\": *[0-9]+/)) { print \"{\\\"error\\\":\\\"no id\\\"}\"; fflush(); "
    "next }\n"
    "  id = substr($0, RSTART, RLENGTH); sub(/\"id\": */, \"\", id)\n"
    "  g = \"\"\n"
    "  if (match($0, /\"genes\": *\"[^\"]*\"/)) {\n"
    "    g = substr($0, RSTART, RLENGTH); sub(/\"genes\": *\"/, \"\", g); sub(/\"$/, \"\", g)\n"
    "  }\n"
    "  nf = split(g, fam, \";\"); nk = 0; ne = 0; other = 0\n"
    "  for (i = 1; i <= nf; i++) {\n"
    "    eq = index(fam[i], \"=\"); if (eq == 0) continue\n"
    "    name = substr(fam[i], 1, eq - 1); n = split(substr(fam[i], eq + 1), v, \",\")\n"
    "    if (name == \"k\") { nk = n; for (j = 1; j <= n; j++) K[j] = v[j] }\n"
    "    else if (name == \"e\") { ne = n; for (j = 1; j <= n; j++) E[j] = v[j] }\n"
    "    else if (name != RES) for (j = 1; j <= n; j++) if (v[j] != \"_\") other += v[j]\n"
    "  }\n"
    "  score = 0\n"
    "  if (nk > 0 && nk == ne) {\n"
    "    for (j = 1; j <= nk; j++) if (K[j] != \"_\" && E[j] != \"_\") score += K[j] * E[j]\n"
    "  } else score = other\n"
    "  printf \"{\\\"id\\\":%s,\\\"accuracy\\\":%.4f}\\n\", id, score / 100\n"
    "  fflush()\n"
    "}'\n";

static void search_progress(void *ctx, const struct oc_search_progress *p) {
  struct demo *d = ctx;
  /* The search proper is done: what follows is measuring its front. */
  if (strcmp(p->phase, "hil") == 0 && isnan(d->hil_started)) d->hil_started = now_s();
  char detail[128];
  oc__strfmt(detail, sizeof detail, "%s: generation %d, %lld feasible, front %zu", p->phase,
             (int)p->generation, (long long)p->feasible, p->front_size);
  int stage = isnan(d->hil_started) ? st_search : st_hil;
  if (d->o->progress != NULL)
    d->o->progress(d->o->progress_ctx, stage, OC_DEMO_STAGES, stage_names[stage], p->evaluated,
                   p->budget, detail);
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void run_search(struct demo *d) {
  stage_begin(d, st_search);
  const struct oc_demo_opts *o = d->o;
  struct oc_lut_cache *cache = NULL;
  struct oc_lut_roofline roof;
  struct oc_search_config cfg;
  struct oc_search_report rep;
  memset(&rep, 0, sizeof rep);
  oc_search_config_default(&cfg);
  d->hil_started = NAN;
  /* Constraints at the medians of the sampled networks: about half of the
   * space is out of bounds, so the constraints bind. */
  double lat[1024], mem[1024];
  size_t n = 0;
  for (size_t i = 0; i < d->n_nets && n < 1024; i++) {
    if (!d->nets[i].sampled) continue;
    lat[n] = d->nets[i].measured_us;
    mem[n] = (double)d->nets[i].net->cost.peak_activation_bytes;
    n++;
  }
  enum oc_status st = oc_status_ok;
  if (n == 0) st = oc__fail(oc_status_invalid_argument, "no sampled network to set the bounds");
  char text[2][96];
  if (st == oc_status_ok) {
    qsort(lat, n, sizeof *lat, cmp_dbl);
    qsort(mem, n, sizeof *mem, cmp_dbl);
    oc__strfmt(text[0], sizeof text[0], "latency<=%.3gms", lat[n / 2] / 1000);
    oc__strfmt(text[1], sizeof text[1], "peak_mem<=%.0fKiB", ceil(mem[n / 2] / 1024));
    st = oc_search_parse_constraint(text[0], &cfg.constraints[0]);
  }
  if (st == oc_status_ok) st = oc_search_parse_constraint(text[1], &cfg.constraints[1]);
  if (st == oc_status_ok) {
    cfg.n_constraints = 2;
    oc__strfmt(d->res->constraints, sizeof d->res->constraints, "%s, %s", text[0], text[1]);
    st = oc_search_parse_objectives("latency,accuracy", cfg.objectives, &cfg.n_objectives);
  }
  char evaluator[4600];
  if (st == oc_status_ok) {
    int32_t rg = oc_space_resolution_gene(d->space);
    const char *res_family = rg >= 0 ? oc_space_gene_family(d->space, (size_t)rg) : "r";
    if (strchr(d->path[p_proxy], '\'') != NULL || strchr(res_family, '\'') != NULL)
      st = oc__fail(oc_status_invalid_argument, "%s: a path with a quote (')", d->path[p_proxy]);
    else if (oc__strfmt(evaluator, sizeof evaluator, "sh '%s' '%s'", d->path[p_proxy], res_family))
      st = oc__report_write_file(d->path[p_proxy], proxy_script, strlen(proxy_script));
    else
      st = oc__fail(oc_status_overflow, "%s: path too long", d->path[p_proxy]);
  }
  if (st == oc_status_ok)
    st = oc_lut_cache_load(d->lut, d->dev.fingerprint, d->dev.threads, &cache);
  bool have_roof = st == oc_status_ok && d->have_profile &&
                   oc_lut_roofline_from_profile(d->profile, d->dev.threads, &roof) == oc_status_ok;
  if (st == oc_status_ok) {
    clear_search_dir(d->path[p_search]);
    cfg.space = d->space;
    cfg.algorithm = oc_search_algo_nsga2;
    cfg.seed = o->seed;
    cfg.budget = o->budget;
    cfg.population = o->population;
    cfg.lut = cache;
    cfg.lut_path = d->path[p_lut];
    cfg.granularity = oc_lut_kernel;
    cfg.roofline = have_roof ? &roof : NULL;
    cfg.target = d->target;
    cfg.target_name = o->target;
    cfg.hil = o->hil;
    cfg.hil_when = oc_search_hil_final;
    cfg.measure = &d->net_measure;
    cfg.evaluator = evaluator;
    cfg.evaluator_timeout_s = 30;
    cfg.out_dir = d->path[p_search];
    cfg.progress = search_progress;
    cfg.progress_ctx = d;
    cfg.stop = o->stop;
    st = oc_search_run(&cfg, &rep);
  }
  /* not_found: no feasible candidate; the outputs are written all the same. */
  bool written = st == oc_status_ok || st == oc_status_not_found;
  if (written) {
    d->have_search = true;
    d->res->evaluated = rep.evaluated;
    d->res->feasible = rep.feasible;
    d->res->front_size = (int32_t)rep.front_size;
    d->res->hil_measured = rep.hil_measured;
    d->res->hil_mape_before = rep.hil_mape;
    d->res->hil_correction = rep.hil_correction;
  }
  double end = now_s();
  double hil_s = isfinite(d->hil_started) ? end - d->hil_started : NAN;
  if (!written) {
    stage_failed(d, st);
    stage_skipped(d, st_hil, "the search did not run");
  } else {
    stage_end(d, "done",
              "NSGA-II over %s, objectives latency (LUT) and an accuracy proxy (%s), %s: %lld "
              "evaluated, %lld feasible, front of %zu -> %s%s",
              oc_space_name(d->space), d->path[p_proxy], d->res->constraints,
              (long long)rep.evaluated, (long long)rep.feasible, rep.front_size, d->path[p_search],
              st == oc_status_not_found ? " (no candidate met the constraints)" : "");
    if (isfinite(hil_s)) d->res->stages[st_search].seconds = d->hil_started - d->t0;
    if (rep.hil_measured > 0) {
      d->stage = st_hil;
      d->t0 = end - hil_s;
      stage_end(d, "done",
                "%d front members measured end to end on %s: the LUT predictions were off by "
                "%.1f %% (MAPE); correction x%.3f applied to the rest",
                (int)rep.hil_measured, o->target, 100 * rep.hil_mape, rep.hil_correction);
      d->res->stages[st_hil].seconds = hil_s;
    } else {
      stage_skipped(d, st_hil, o->hil > 0 ? "no front member to measure" : "--hil 0");
    }
  }
  oc_errclear();
  oc_lut_cache_free(cache);
}

/* ---- stage 7: report ------------------------------------------------------------------------ */

static enum oc_status run_report(struct demo *d) {
  stage_begin(d, st_report);
  struct oc_report_stage stages[OC_DEMO_STAGES];
  const char *notes[OC_DEMO_STAGES + 2];
  char note_text[OC_DEMO_STAGES][700];
  size_t n_notes = 0;
  for (int i = 0; i < OC_DEMO_STAGES; i++) {
    const struct oc_demo_stage *s = &d->res->stages[i];
    stages[i].name = stage_names[i];
    stages[i].status = i == st_report ? "done" : s->status;
    stages[i].seconds = i == st_report ? NAN : s->seconds;
    stages[i].detail = i == st_report ? "this page" : s->detail;
    if (i != st_report && strcmp(s->status, "done") != 0) {
      oc__strfmt(note_text[n_notes], sizeof note_text[0], "Stage '%s' is %s: %s", stage_names[i],
                 s->status, s->detail);
      notes[n_notes] = note_text[n_notes];
      n_notes++;
    }
  }
  char proxy_note[4600];
  if (d->have_search) {
    oc__strfmt(proxy_note, sizeof proxy_note,
               "The search's accuracy is a capacity proxy computed from the genes by %s (the "
               "sum over active blocks of kernel size x expand ratio, / 100), not a measured "
               "accuracy: it only gives the search an objective that pulls against latency. "
               "Replace it with your own evaluator (opcost search --evaluator, docs/search.md).",
               d->path[p_proxy]);
    notes[n_notes++] = proxy_note;
  }
  char title[256];
  oc__strfmt(title, sizeof title, "opcost demo: %s", d->dev.name[0] ? d->dev.name : "this machine");
  struct oc_report_inputs in;
  memset(&in, 0, sizeof in);
  in.title = title;
  in.profile = d->have_profile ? d->path[p_profile] : NULL;
  in.lut = d->have_lut ? d->path[p_lut] : NULL;
  in.lut_device = d->have_lut ? d->dev.fingerprint : NULL;
  in.lut_threads = d->dev.threads;
  in.model = d->have_model ? d->path[p_model] : NULL;
  in.nets = d->have_nets ? d->path[p_heldout] : NULL;
  in.search = d->have_search ? d->path[p_search] : NULL;
  in.notes = notes;
  in.n_notes = n_notes;
  in.stages = stages;
  in.n_stages = OC_DEMO_STAGES;
  char html[4400];
  oc__strfmt(html, sizeof html, "%s/report.html", d->o->out_dir);
  struct oc_report_result rr;
  enum oc_status st = oc_report_write(&in, html, &rr);
  if (st != oc_status_ok) {
    stage_failed(d, st);
    return st;
  }
  oc__strcpy(d->res->report, sizeof d->res->report, rr.html);
  oc__strcpy(d->res->markdown, sizeof d->res->markdown, rr.markdown);
  stage_end(d, "done", "%d charts, %d of %d sections without input -> %s", rr.charts,
            rr.sections_absent, rr.sections, rr.html);
  return oc_status_ok;
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static enum oc_status write_summary(const struct demo *d) {
  const struct oc_demo_result *r = d->res;
  json_t *stages = json_array();
  for (int i = 0; i < OC_DEMO_STAGES; i++) {
    const struct oc_demo_stage *s = &r->stages[i];
    json_array_append_new(stages,
                          json_pack("{s:s, s:s, s:o, s:s}", "name", s->name, "status", s->status,
                                    "seconds", num_or_null(s->seconds), "detail", s->detail));
  }
  json_t *root = json_pack(
      "{s:s, s:s, s:s, s:s, s:i, s:b, s:o, s:o, s:{s:s, s:o, s:o, s:o}, s:I, s:i, s:o, s:o, "
      "s:o, s:s, s:I, s:I, s:i, s:i, s:o, s:o, s:s}",
      "format", OC_DEMO_FORMAT, "opcost_version", OC_VERSION_STRING, "target", d->o->target,
      "space", d->space ? oc_space_name(d->space) : d->o->space, "resolution",
      (int)d->o->resolution, "quick", d->o->quick, "stages", stages, "total_s",
      num_or_null(r->total_s), "device", "name", r->device, "peak_gflops_one_core",
      num_or_null(r->peak_gflops_one_core), "peak_gflops_all_cores",
      num_or_null(r->peak_gflops_all_cores), "dram_gbs", num_or_null(r->dram_gbs), "lut_rows",
      (json_int_t)r->lut_rows, "validation_nets", (int)r->validation_nets, "model_mape_heldout",
      num_or_null(r->model_mape_heldout), "model_within10_heldout",
      num_or_null(r->model_within10_heldout), "lut_mape", num_or_null(r->lut_mape), "constraints",
      r->constraints, "evaluated", (json_int_t)r->evaluated, "feasible", (json_int_t)r->feasible,
      "front_size", (int)r->front_size, "hil_measured", (int)r->hil_measured, "hil_mape_before",
      num_or_null(r->hil_mape_before), "hil_correction", num_or_null(r->hil_correction), "report",
      r->report);
  if (root == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for demo.json");
  char path[4400];
  oc__strfmt(path, sizeof path, "%s/demo.json", d->o->out_dir);
  enum oc_status st = write_json_file(path, root, JSON_INDENT(2));
  json_decref(root);
  return st;
}

enum oc_status oc_demo_run(const struct oc_demo_opts *opts, struct oc_demo_result *result) {
  struct oc_demo_opts o = *opts;
  struct demo d;
  memset(&d, 0, sizeof d);
  memset(result, 0, sizeof *result);
  d.o = &o;
  d.res = result;
  double start = now_s();
  for (int i = 0; i < OC_DEMO_STAGES; i++) {
    oc__strcpy(result->stages[i].name, sizeof result->stages[i].name, stage_names[i]);
    oc__strcpy(result->stages[i].status, sizeof result->stages[i].status, "not run");
    result->stages[i].seconds = NAN;
  }
  result->peak_gflops_one_core = result->peak_gflops_all_cores = result->dram_gbs = NAN;
  result->model_mape_heldout = result->model_within10_heldout = result->lut_mape = NAN;
  result->hil_mape_before = result->hil_correction = NAN;
  if (o.out_dir == NULL || o.out_dir[0] == '\0' || o.target == NULL || o.space == NULL)
    return oc__fail(oc_status_invalid_argument, "demo: out_dir, target and space are required");
  if (o.threads < 1 || o.resolution < 1 || o.samples < 0 || o.budget < 1 || o.population < 2 ||
      o.hil < 0)
    return oc__fail(oc_status_invalid_argument,
                    "demo: threads %d, resolution %d, samples %d, budget %lld, population %d, "
                    "hil %d: each must be positive (samples and hil may be 0, population >= 2)",
                    (int)o.threads, (int)o.resolution, (int)o.samples, (long long)o.budget,
                    (int)o.population, (int)o.hil);
  if (o.quick) {
    if (o.samples > 8) o.samples = 8;
    if (o.budget > 600) o.budget = 600;
    if (o.hil > 4) o.hil = 4;
  }
  oc_measure_opts_default(&d.lut_measure);
  d.lut_measure.max_time_s = o.quick ? 0.03 : 0.2;
  d.lut_measure.min_time_s = 0.01;
  d.lut_measure.warmup_s = 0.01;
  oc_measure_opts_default(&d.net_measure);
  d.net_measure.max_time_s = o.quick ? 0.12 : 0.5;
  d.net_measure.warmup_s = 0.02;
  static const char *const files[] = {"profile.json", "lut.db",        "measured.jsonl",
                                      "train.jsonl",  "heldout.jsonl", "model.json",
                                      "search",       "space.json",    "accuracy-proxy.sh"};
  for (int i = 0; i < 9; i++)
    if (!oc__strfmt(d.path[i], sizeof d.path[i], "%s/%s", o.out_dir, files[i]))
      return oc__fail(oc_status_overflow, "%s: path too long", o.out_dir);
  enum oc_status st = make_dir(o.out_dir);
  if (st != oc_status_ok) return st;

  struct oc_target_opts topts;
  memset(&topts, 0, sizeof topts);
  topts.threads = o.threads;
  enum oc_status tst = oc_target_open(o.target, &topts, &d.target);
  if (tst == oc_status_ok) tst = oc_target_describe(d.target, &d.dev);
  char target_error[1024] = "";
  if (tst != oc_status_ok) {
    oc__strfmt(target_error, sizeof target_error, "target %s: %s", o.target,
               oc_errmsg()[0] ? oc_errmsg() : oc_status_str(tst));
  } else {
    oc__strfmt(result->device, sizeof result->device, "%s (%s, %d thread%s)", d.dev.name,
               d.dev.target, (int)d.dev.threads, d.dev.threads == 1 ? "" : "s");
  }
  enum oc_status sst = derive_space(&d);
  char space_error[1024] = "";
  if (sst != oc_status_ok)
    oc__strfmt(space_error, sizeof space_error, "space: %s",
               oc_errmsg()[0] ? oc_errmsg() : oc_status_str(sst));

  /* Each stage runs when what it needs exists. A target or space that does
   * not open fails the first stage that needs it; the others are skipped. */
  if (target_error[0])
    stage_cannot_run(&d, st_profile, target_error);
  else
    run_profile(&d);
  if (!stopped(&d)) {
    if (space_error[0])
      stage_cannot_run(&d, st_lut, space_error);
    else if (target_error[0])
      stage_skipped(&d, st_lut, "needs the target");
    else
      run_lut(&d);
  }
  if (!stopped(&d)) {
    if (target_error[0] || space_error[0])
      stage_skipped(&d, st_validation, target_error[0] ? "needs the target" : "needs the space");
    else
      run_validation(&d);
  }
  if (!stopped(&d)) {
    if (!d.have_lut || !d.have_nets)
      stage_skipped(&d, st_model, !d.have_lut ? "needs the LUT" : "needs the validation set");
    else
      run_model(&d);
  }
  if (!stopped(&d)) {
    if (!d.have_lut || !d.have_nets) {
      stage_skipped(&d, st_search,
                    !d.have_lut ? "needs the LUT" : "needs the validation set (to set the bounds)");
      stage_skipped(&d, st_hil, "needs the search");
    } else {
      run_search(&d);
    }
  }
  if (stopped(&d)) {
    st = oc__fail(oc_status_interrupted, "demo: stopped during stage '%s'", stage_names[d.stage]);
  } else {
    st = run_report(&d);
    result->total_s = now_s() - start;
    if (st == oc_status_ok) st = write_summary(&d);
  }
  result->total_s = now_s() - start;
  oc_lut_close(d.lut);
  for (size_t i = 0; i < d.n_nets; i++) oc_net_free(d.nets[i].net);
  free(d.nets);
  oc_space_free(d.space);
  free(d.profile);
  oc_target_close(d.target);
  return st;
}
