/* cmd_net.c - `opcost net`: networks from the command line.
 *   opcost net info NET.json...      analytic costs per layer and in total
 *   opcost net measure NET.json...   end-to-end runs of whole networks on a
 *                                    target, optionally with a per-layer
 *                                    breakdown, appended to a JSON Lines file */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "opcost/probe.h"

static const char *const help =
    "usage: opcost net info [--json] [--kernels] NET.json...\n"
    "       opcost net measure [options] -t TARGET NET.json...\n"
    "\n"
    "info     loads each opcost-net/1 file (docs/formats.md) and prints its layers\n"
    "         with their block keys, output shapes, MACs, params and the peak\n"
    "         activation memory of the liveness schedule, then the totals.\n"
    "         --kernels also lists the primitive kernels each layer expands to.\n"
    "measure  runs each network end to end on TARGET with real chained buffers,\n"
    "         timed by the probe harness (warm-up, adaptive repetition, robust\n"
    "         statistics), and prints the median, p10/p90 and CV.\n"
    "\n"
    "  -t, --target SPEC   target to run on (measure): cpu, ref, ...\n"
    "      --threads N     worker threads of the target (default 1)\n"
    "      --cores LIST    pin to these logical CPUs (\"0,2-3\")\n"
    "      --save FILE     append one JSON line per network (name, hash, device\n"
    "                      fingerprint, target, threads, stats, env)\n"
    "      --per-layer     also time every op kernel on its own (oc_probe_op) and\n"
    "                      print the time per layer; data moves are not timed\n"
    "      --quick         shorter measurements (0.2 s cap per network or kernel)\n"
    "      --max-time S    time cap per measurement in seconds (default 1)\n"
    "      --json          machine-readable output\n"
    "      --kernels       (info) list the kernels of every layer\n"
    "  -h, --help          this text\n";

static json_t *shape_json(const struct oc_tensor_shape *s) {
  return json_pack("[i,i,i,i]", (int)s->n, (int)s->h, (int)s->w, (int)s->c);
}

static json_t *cost_json(const struct oc_net_cost *c) {
  json_t *by = json_object();
  for (int d = 0; d < oc_dtype__count; d++)
    json_object_set_new(by, oc_dtype_name((enum oc_dtype)d),
                        json_integer((json_int_t)c->weight_bytes_by_dtype[d]));
  return json_pack("{s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:i, s:i, s:i}", "macs",
                   (json_int_t)c->macs, "flops", (json_int_t)c->flops, "params",
                   (json_int_t)c->params, "weight_bytes", (json_int_t)c->weight_bytes,
                   "weight_bytes_by_dtype", by, "activation_bytes",
                   (json_int_t)c->activation_bytes, "peak_activation_bytes",
                   (json_int_t)c->peak_activation_bytes, "peak_kernel", (int)c->peak_kernel,
                   "kernels", (int)c->kernels, "op_kernels", (int)c->op_kernels);
}

static void kernel_key(const struct oc_net_kernel *k, char *buf, size_t size) {
  if (k->step == oc_net_step_op) {
    if (oc_op_format(&k->op, buf, size) != oc_status_ok) snprintf(buf, size, "?");
  } else {
    snprintf(buf, size, "%s", oc_net_step_name(k->step));
  }
}

static json_t *kernel_json(const struct oc_net *net, int32_t i) {
  const struct oc_net_kernel *k = &net->kernels[i];
  char key[OC_KEY_MAX];
  kernel_key(k, key, sizeof key);
  json_t *ins = json_array();
  for (int32_t j = 0; j < k->n_inputs; j++) json_array_append_new(ins, json_integer(k->input[j]));
  return json_pack("{s:i, s:s, s:s, s:o, s:i, s:o, s:b}", "index", (int)i, "step",
                   oc_net_step_name(k->step), "key", key, "inputs", ins, "output",
                   (int)k->output, "shape", shape_json(&net->tensors[k->output].shape),
                   "in_place", k->in_place);
}

static json_t *net_json(const struct oc_net *net, bool kernels) {
  json_t *layers = json_array();
  for (int32_t i = 0; i < net->n_layers; i++) {
    const struct oc_net_layer *l = &net->layers[i];
    json_t *ins = json_array();
    for (int32_t j = 0; j < l->n_inputs; j++) json_array_append_new(ins, json_integer(l->inputs[j]));
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:o, s:o, s:o}", "index", (int)i, "id", l->id,
                          "kind", l->block == oc_net_block_op ? oc_op_kind_name(l->op)
                                                              : oc_net_block_name(l->block),
                          "key", l->key, "inputs", ins, "output", shape_json(&l->output),
                          "cost", cost_json(&l->cost));
    if (kernels) {
      json_t *ks = json_array();
      for (int32_t k = l->first_kernel; k < l->first_kernel + l->n_kernels; k++)
        json_array_append_new(ks, kernel_json(net, k));
      json_object_set_new(o, "kernels", ks);
    }
    json_array_append_new(layers, o);
  }
  return json_pack("{s:s, s:s, s:s, s:o, s:o, s:i, s:i, s:o, s:o}", "name", net->name, "hash",
                   net->hash_hex, "dtype", oc_dtype_name(net->dtype), "input",
                   shape_json(&net->input), "output", shape_json(&net->output), "layers",
                   (int)net->n_layers, "tensors", (int)net->n_tensors, "total",
                   cost_json(&net->cost), "per_layer", layers);
}

static void human(double v, char *buf, size_t size) {
  const char *unit[] = {"", "K", "M", "G", "T"};
  int u = 0;
  while (fabs(v) >= 1000.0 && u < 4) {
    v /= 1000.0;
    u++;
  }
  snprintf(buf, size, u ? "%.3g%s" : "%.0f%s", v, unit[u]);
}

static void human_bytes(double v, char *buf, size_t size) {
  const char *unit[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (v >= 1024.0 && u < 3) {
    v /= 1024.0;
    u++;
  }
  snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void print_info(const struct oc_net *net, bool kernels) {
  char a[32], b[32], c[32];
  printf("%s  (hash %s, %s, input [%d,%d,%d], output [%d,%d,%d,%d])\n", net->name,
         net->hash_hex, oc_dtype_name(net->dtype), (int)net->input.h, (int)net->input.w,
         (int)net->input.c, (int)net->output.n, (int)net->output.h, (int)net->output.w,
         (int)net->output.c);
  printf("  %4s  %-20s %9s %9s %11s  %s\n", "#", "output", "MACs", "params", "peak act",
         "key");
  for (int32_t i = 0; i < net->n_layers; i++) {
    const struct oc_net_layer *l = &net->layers[i];
    char shape[32];
    snprintf(shape, sizeof shape, "[%d,%d,%d]", (int)l->output.h, (int)l->output.w,
             (int)l->output.c);
    human((double)l->cost.macs, a, sizeof a);
    human((double)l->cost.params, b, sizeof b);
    human_bytes((double)l->cost.peak_activation_bytes, c, sizeof c);
    printf("  %4d  %-20s %9s %9s %11s  %s%s%s\n", (int)i, shape, a, b, c, l->key,
           l->id[0] ? "  #" : "", l->id);
    if (!kernels) continue;
    for (int32_t k = l->first_kernel; k < l->first_kernel + l->n_kernels; k++) {
      const struct oc_net_kernel *kk = &net->kernels[k];
      char key[OC_KEY_MAX];
      kernel_key(kk, key, sizeof key);
      char reads[48] = "-";
      if (kk->n_inputs == 1) snprintf(reads, sizeof reads, "t%d", (int)kk->input[0]);
      if (kk->n_inputs == 2)
        snprintf(reads, sizeof reads, "t%d,t%d", (int)kk->input[0], (int)kk->input[1]);
      printf("          k%-4d %-11s -> t%-5d%s %s\n", (int)k, reads, (int)kk->output,
             kk->in_place ? " (in place)" : "", key);
    }
  }
  const struct oc_net_cost *t = &net->cost;
  human((double)t->macs, a, sizeof a);
  human((double)t->params, b, sizeof b);
  printf("  total: %s MACs (%lld), %lld FLOPs, %s params (%lld)\n", a, (long long)t->macs,
         (long long)t->flops, b, (long long)t->params);
  human_bytes((double)t->weight_bytes_by_dtype[oc_dtype_f32], a, sizeof a);
  human_bytes((double)t->weight_bytes_by_dtype[oc_dtype_f16], b, sizeof b);
  human_bytes((double)t->weight_bytes_by_dtype[oc_dtype_qs8], c, sizeof c);
  printf("  weights: %s f32, %s f16, %s qs8\n", a, b, c);
  human_bytes((double)t->activation_bytes, a, sizeof a);
  human_bytes((double)t->peak_activation_bytes, b, sizeof b);
  printf("  activations: %s written, peak %s live (at kernel %d), %d kernels (%d ops)\n", a, b,
         (int)t->peak_kernel, (int)t->kernels, (int)t->op_kernels);
}

static int net_info(int n, char **files, bool json, bool kernels) {
  json_t *list = json ? json_array() : NULL;
  for (int i = 0; i < n; i++) {
    struct oc_net *net = NULL;
    enum oc_status st = oc_net_load_file(files[i], &net);
    if (st != oc_status_ok) {
      json_decref(list);
      return cli_fail("net info", st);
    }
    if (json) json_array_append_new(list, net_json(net, kernels));
    else print_info(net, kernels);
    oc_net_free(net);
  }
  if (json) return cli_print_json(list);
  return 0;
}

/* ---- measure ---------------------------------------------------------------- */

struct measure_args {
  const char *target;
  const char *save;
  struct oc_target_opts topts;
  struct oc_measure_opts mopts;
  bool per_layer;
  bool json;
};

/* Times every op kernel of net on its own; layer_us[i] gets the sum of the
 * medians of layer i's op kernels. */
static enum oc_status time_layers(struct oc_target *target, const struct oc_net *net,
                                  const struct oc_measure_opts *opts, double *layer_us,
                                  int *untimed) {
  *untimed = 0;
  for (int32_t i = 0; i < net->n_layers; i++) {
    const struct oc_net_layer *l = &net->layers[i];
    layer_us[i] = 0;
    for (int32_t k = l->first_kernel; k < l->first_kernel + l->n_kernels; k++) {
      const struct oc_net_kernel *kk = &net->kernels[k];
      if (kk->step != oc_net_step_op) {
        (*untimed)++;
        continue;
      }
      struct oc_measurement m;
      memset(&m, 0, sizeof m);
      enum oc_status st = oc_probe_op(target, &kk->op, opts, &m);
      if (st != oc_status_ok) return st;
      layer_us[i] += m.stats.median_us;
      oc_measurement_release(&m);
    }
  }
  return oc_status_ok;
}

static json_t *measure_record(const struct oc_net *net, const struct oc_device_info *dev,
                              const struct oc_measurement *m, const double *layer_us) {
  json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:o, s:f, s:o, s:o, s:o}",
                          "format", "opcost-net-measure/1", "name", net->name, "hash",
                          net->hash_hex, "fingerprint", dev->fingerprint, "target", dev->target,
                          "threads", (int)dev->threads, "macs", (json_int_t)net->cost.macs,
                          "params", (json_int_t)net->cost.params, "peak_activation_bytes",
                          (json_int_t)net->cost.peak_activation_bytes, "stats",
                          oc_stats_to_json(&m->stats), "cold_us", m->cold_us, "env",
                          oc_env_to_json(&m->env), "timer", oc_timer_to_json(&m->timer),
                          "device", oc_probe_device_info_to_json(dev));
  if (rec == NULL) return NULL;
  if (isnan(m->cold_us)) json_object_set_new(rec, "cold_us", json_null());
  json_t *warnings = json_array();
  for (int i = 0; i < m->n_warnings; i++) json_array_append_new(warnings, json_string(m->warnings[i]));
  json_object_set_new(rec, "warnings", warnings);
  if (layer_us) {
    json_t *layers = json_array();
    double sum = 0;
    for (int32_t i = 0; i < net->n_layers; i++) {
      sum += layer_us[i];
      json_array_append_new(layers, json_pack("{s:i, s:s, s:f}", "index", (int)i, "key",
                                              net->layers[i].key, "median_us", layer_us[i]));
    }
    json_object_set_new(rec, "per_layer", layers);
    json_object_set_new(rec, "per_layer_sum_us", json_real(sum));
  }
  return rec;
}

static enum oc_status append_line(const char *path, json_t *rec) {
  FILE *f = fopen(path, "a");
  if (f == NULL) {
    fprintf(stderr, "opcost net measure: %s: cannot open for appending\n", path);
    return oc_status_io_error;
  }
  int rc = json_dumpf(rec, f, JSON_COMPACT | JSON_REAL_PRECISION(10));
  fputc('\n', f);
  if (fclose(f) != 0 || rc != 0) {
    fprintf(stderr, "opcost net measure: %s: write failed\n", path);
    return oc_status_io_error;
  }
  return oc_status_ok;
}

static int measure_one(struct oc_target *target, const struct oc_device_info *dev,
                       const char *file, const struct measure_args *args, json_t *list) {
  struct oc_net *net = NULL;
  float *input = NULL, *output = NULL;
  struct oc_kernel *kernel = NULL;
  double *layer_us = NULL;
  json_t *rec = NULL;
  struct oc_measurement m;
  int untimed = 0;
  memset(&m, 0, sizeof m);
  enum oc_status st = oc_net_load_file(file, &net);
  if (st != oc_status_ok) goto done;
  if (net->dtype != oc_dtype_f32) {
    st = oc_status_unsupported;
    fprintf(stderr, "opcost net measure: %s: whole-network runs are f32 only (dtype %s)\n",
            file, oc_dtype_name(net->dtype));
    goto done;
  }
  input = malloc((size_t)oc_tensor_elems(&net->input) * sizeof *input);
  output = malloc((size_t)oc_tensor_elems(&net->output) * sizeof *output);
  if (input == NULL || output == NULL) {
    st = oc_status_out_of_memory;
    goto done;
  }
  oc_net_fill_input(net, args->mopts.seed, input);
  st = oc_target_prepare_net(target, net, input, output, &kernel);
  if (st == oc_status_ok) st = oc_probe_kernel(target, kernel, &args->mopts, &m);
  if (st != oc_status_ok) goto done;
  if (args->per_layer) {
    layer_us = calloc((size_t)net->n_layers, sizeof *layer_us);
    if (layer_us == NULL) {
      st = oc_status_out_of_memory;
      goto done;
    }
    st = time_layers(target, net, &args->mopts, layer_us, &untimed);
    if (st != oc_status_ok) goto done;
  }
  rec = measure_record(net, dev, &m, layer_us);
  if (rec == NULL) {
    st = oc_status_out_of_memory;
    goto done;
  }
  if (args->save) {
    st = append_line(args->save, rec);
    if (st != oc_status_ok) goto done;
  }
  if (!args->json) {
    printf("%s  %s on %s (%d thread%s): median %.1f us  p10 %.1f  p90 %.1f  CV %.2f%%  n %lld\n",
           net->name, net->hash_hex, dev->target, (int)dev->threads, dev->threads == 1 ? "" : "s",
           m.stats.median_us, m.stats.p10_us, m.stats.p90_us, m.stats.cv * 100.0,
           (long long)m.stats.n);
    for (int i = 0; i < m.n_warnings; i++) printf("  warning: %s\n", m.warnings[i]);
    if (layer_us) {
      double sum = 0;
      for (int32_t i = 0; i < net->n_layers; i++) sum += layer_us[i];
      printf("  %4s %12s %6s  %s\n", "#", "median us", "share", "key");
      for (int32_t i = 0; i < net->n_layers; i++)
        printf("  %4d %12.1f %5.1f%%  %s\n", (int)i, layer_us[i],
               sum > 0 ? 100.0 * layer_us[i] / sum : 0.0, net->layers[i].key);
      printf("  sum of kernels timed alone: %.1f us (end to end %.1f us)%s\n", sum,
             m.stats.median_us, untimed ? "; data moves not timed" : "");
    }
  } else {
    json_array_append(list, rec);
  }
done:
  if (st != oc_status_ok && oc_errmsg()[0] != '\0')
    fprintf(stderr, "opcost net measure: %s\n", oc_errmsg());
  else if (st != oc_status_ok && net == NULL)
    fprintf(stderr, "opcost net measure: %s: %s\n", file, oc_status_str(st));
  json_decref(rec);
  oc_measurement_release(&m);
  oc_target_release(target, kernel);
  free(layer_us);
  free(input);
  free(output);
  oc_net_free(net);
  return st == oc_status_ok ? 0 : oc_status_exit_code(st);
}

static int net_measure(int n, char **files, const struct measure_args *args) {
  struct oc_target *target = NULL;
  struct oc_device_info dev;
  enum oc_status st = oc_target_open(args->target, &args->topts, &target);
  if (st == oc_status_ok) st = oc_target_describe(target, &dev);
  if (st != oc_status_ok) {
    int rc = cli_fail("net measure", st);
    oc_target_close(target);
    return rc;
  }
  json_t *list = args->json ? json_array() : NULL;
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) rc = measure_one(target, &dev, files[i], args, list);
  oc_target_close(target);
  if (args->json && rc == 0) return cli_print_json(list);
  json_decref(list);
  return rc;
}

int cli_cmd_net(int argc, char **argv) {
  enum { opt_threads = 256, opt_cores, opt_save, opt_per_layer, opt_quick, opt_json,
         opt_kernels, opt_max_time };
  static const struct option longopts[] = {{"target", required_argument, NULL, 't'},
                                           {"threads", required_argument, NULL, opt_threads},
                                           {"cores", required_argument, NULL, opt_cores},
                                           {"save", required_argument, NULL, opt_save},
                                           {"per-layer", no_argument, NULL, opt_per_layer},
                                           {"quick", no_argument, NULL, opt_quick},
                                           {"max-time", required_argument, NULL, opt_max_time},
                                           {"json", no_argument, NULL, opt_json},
                                           {"kernels", no_argument, NULL, opt_kernels},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  struct measure_args args;
  memset(&args, 0, sizeof args);
  oc_measure_opts_default(&args.mopts);
  bool kernels = false;
  long threads;
  double max_time;
  int c;
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(help, stdout);
    return 0;
  }
  if (argc < 2) return cli_usage_error("net", "expected 'info' or 'measure'");
  const char *sub = argv[1];
  optind = 1;
  /* Options may come before or after the files. */
  while ((c = getopt_long(argc - 1, argv + 1, "t:h", longopts, NULL)) != -1) {
    switch (c) {
    case 't': args.target = optarg; break;
    case opt_threads:
      if (!cli_parse_int("net", "--threads", optarg, 1, 4096, &threads)) return CLI_EXIT_USAGE;
      args.topts.threads = (int)threads;
      break;
    case opt_cores:
      if (oc_target_parse_cores(optarg, &args.topts) != oc_status_ok)
        return cli_usage_error("net", "--cores: %s", oc_errmsg());
      break;
    case opt_save: args.save = optarg; break;
    case opt_per_layer: args.per_layer = true; break;
    case opt_quick: args.mopts.max_time_s = 0.2; break;
    case opt_max_time:
      if (!cli_parse_double("net", "--max-time", optarg, 0.001, 3600, &max_time))
        return CLI_EXIT_USAGE;
      args.mopts.max_time_s = max_time;
      break;
    case opt_json: args.json = true; break;
    case opt_kernels: kernels = true; break;
    case 'h': fputs(help, stdout); return 0;
    default: return cli_usage_error("net", "unknown option");
    }
  }
  char **files = argv + 1 + optind;
  int n = argc - 1 - optind;
  if (strcmp(sub, "info") == 0) {
    if (n == 0) return cli_usage_error("net", "'net info' needs at least one NET.json");
    if (args.target || args.save || args.per_layer)
      return cli_usage_error("net", "'net info' takes no --target, --save or --per-layer");
    return net_info(n, files, args.json, kernels);
  }
  if (strcmp(sub, "measure") == 0) {
    if (n == 0) return cli_usage_error("net", "'net measure' needs at least one NET.json");
    if (args.target == NULL) return cli_usage_error("net", "'net measure' needs -t TARGET");
    return net_measure(n, files, &args);
  }
  return cli_usage_error("net", "unknown subcommand '%s' (expected info or measure)", sub);
}
