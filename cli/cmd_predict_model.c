/* cmd_predict_model.c - the model path of `opcost predict`
 * (`opcost predict -m MODEL.json NET.json...`): a network's latency from a
 * fitted cost model, with its prediction interval, the kinds the model never
 * saw (predicted by its pooled roofline and flagged) and a per-layer and
 * per-kernel breakdown. cmd_predict.c hands over here when -m/--model is
 * given; the LUT path stays there. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/model_cli.h"

static const char *const help =
    "usage: opcost predict -m MODEL.json [options] NET.json...\n"
    "\n"
    "Predicts each network's latency with a cost model (opcost fit): the sum of\n"
    "its kernels' predictions, composed with the model's network terms, and an\n"
    "interval of the model's coverage. Kinds the model never fitted are predicted\n"
    "by its pooled roofline and listed; data moves (attention head split/merge)\n"
    "by its memory roofline. A kernel outside the range of shapes its kind was\n"
    "fitted on is predicted by that kind's roofline and counted as extrapolated.\n"
    "Nothing counts as zero.\n"
    "\n"
    "  -m, --model FILE     the model (opcost-model/1)\n"
    "      --device FP      the device the prediction is for: a model fitted on\n"
    "                       another is a warning (an error with --strict)\n"
    "      --threads N      thread count the prediction is for (checked likewise)\n"
    "      --strict         a device mismatch or a kind the model never saw is an error\n"
    "      --layers         per-layer breakdown\n"
    "      --kernels        per-kernel breakdown (with the candidate that predicted it)\n"
    "      --json           machine-readable output (breakdown included)\n"
    "  -h, --help           this text\n";

static const char *source_of(const struct oc_model_prediction *p) {
  if (p->flags & oc_model_pred_move) return "move";
  if (p->flags & oc_model_pred_fallback) return "fallback";
  if (p->flags & oc_model_pred_extrapolated) return "extrapolated";
  return oc_model_type_name(p->type);
}

static void kernel_label(const struct oc_net *net, int32_t k, char *buf, size_t size) {
  const struct oc_net_kernel *kk = &net->kernels[k];
  if (kk->step == oc_net_step_op) {
    if (oc_op_format(&kk->op, buf, size) != oc_status_ok) snprintf(buf, size, "?");
  } else {
    snprintf(buf, size, "%s", oc_net_step_name(kk->step));
  }
}

static json_t *net_json(const char *file, const struct oc_net *net,
                        const struct oc_model_prediction *per,
                        const struct oc_model_net_prediction *p, double coverage) {
  json_t *missing = json_array();
  for (int i = 0; i < p->n_missing; i++) json_array_append_new(missing, json_string(p->missing[i]));
  json_t *layers = json_array();
  for (int32_t l = 0; l < net->n_layers; l++) {
    const struct oc_net_layer *layer = &net->layers[l];
    json_t *kernels = json_array();
    double us = 0, lo = 0, hi = 0;
    for (int32_t k = layer->first_kernel; k < layer->first_kernel + layer->n_kernels; k++) {
      char key[OC_KEY_MAX];
      kernel_label(net, k, key, sizeof key);
      us += per[k].us;
      lo += per[k].lo_us;
      hi += per[k].hi_us;
      json_array_append_new(kernels,
                            json_pack("{s:i, s:s, s:f, s:f, s:f, s:s}", "kernel", (int)k, "key",
                                      key, "us", per[k].us, "lo_us", per[k].lo_us, "hi_us",
                                      per[k].hi_us, "source", source_of(&per[k])));
    }
    json_array_append_new(layers, json_pack("{s:i, s:s, s:f, s:f, s:f, s:o}", "index", (int)l,
                                            "key", layer->key, "us", us, "lo_us", lo, "hi_us", hi,
                                            "kernels", kernels));
  }
  return json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:i, s:i, s:i, s:o, s:o, s:i}", "file",
                   file, "name", net->name, "hash", net->hash_hex, "us", p->us, "lo_us", p->lo_us,
                   "hi_us", p->hi_us, "coverage", coverage, "kernel_sum_us", p->kernel_sum_us,
                   "kernels", (int)p->n_kernels, "fallback_kernels", (int)p->n_fallback, "moves",
                   (int)p->n_moves, "missing_kinds", missing, "layers", layers,
                   "extrapolated_kernels", (int)p->n_extrapolated);
}

static void print_net(const struct oc_net *net, const struct oc_model_prediction *per,
                      const struct oc_model_net_prediction *p, double coverage, bool layers,
                      bool kernels) {
  printf("%s: %.3f us (%.0f %% interval %.3f .. %.3f); kernels %.3f us over %d kernels\n",
         net->name, p->us, 100 * coverage, p->lo_us, p->hi_us, p->kernel_sum_us, (int)p->n_kernels);
  if (p->n_missing > 0) {
    printf("  unseen kinds (pooled roofline, %d kernel%s):", (int)p->n_fallback,
           p->n_fallback == 1 ? "" : "s");
    for (int i = 0; i < p->n_missing; i++) printf(" %s", p->missing[i]);
    putchar('\n');
  }
  if (p->n_extrapolated > 0)
    printf("  outside the training range (each kind's roofline): %d kernel%s\n",
           (int)p->n_extrapolated, p->n_extrapolated == 1 ? "" : "s");
  if (!layers && !kernels) return;
  for (int32_t l = 0; l < net->n_layers; l++) {
    const struct oc_net_layer *layer = &net->layers[l];
    double us = 0;
    for (int32_t k = layer->first_kernel; k < layer->first_kernel + layer->n_kernels; k++)
      us += per[k].us;
    if (layers) printf("  %4d %12.3f us  %s\n", (int)l, us, layer->key);
    if (!kernels) continue;
    for (int32_t k = layer->first_kernel; k < layer->first_kernel + layer->n_kernels; k++) {
      char key[OC_KEY_MAX];
      kernel_label(net, k, key, sizeof key);
      printf("       %12.3f us  %-8s %s\n", per[k].us, source_of(&per[k]), key);
    }
  }
}

int cli_predict_model(int argc, char **argv) {
  enum { opt_device = 400, opt_threads, opt_strict, opt_layers, opt_kernels, opt_json };
  static const struct option longopts[] = {{"model", required_argument, NULL, 'm'},
                                           {"device", required_argument, NULL, opt_device},
                                           {"threads", required_argument, NULL, opt_threads},
                                           {"strict", no_argument, NULL, opt_strict},
                                           {"layers", no_argument, NULL, opt_layers},
                                           {"kernels", no_argument, NULL, opt_kernels},
                                           {"json", no_argument, NULL, opt_json},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *model_path = NULL, *device = NULL;
  long threads = 0;
  bool strict = false, layers = false, kernels = false, json = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "hm:", longopts, NULL)) != -1) {
    switch (c) {
    case 'm': model_path = optarg; break;
    case opt_device: device = optarg; break;
    case opt_threads:
      if (!cli_parse_int("predict", "--threads", optarg, 1, 4096, &threads)) return CLI_EXIT_USAGE;
      break;
    case opt_strict: strict = true; break;
    case opt_layers: layers = true; break;
    case opt_kernels: kernels = true; break;
    case opt_json: json = true; break;
    case 'h': fputs(help, stdout); return 0;
    default:
      return cli_usage_error("predict", "unknown option for the model path (-m); --lut, "
                                        "--profile and --granularity belong to the LUT path");
    }
  }
  if (model_path == NULL) return cli_usage_error("predict", "-m MODEL.json is required");
  if (optind >= argc) return cli_usage_error("predict", "give at least one NET.json");
  struct oc_model *model = NULL;
  struct oc_model_prediction *per = NULL;
  json_t *list = json ? json_array() : NULL;
  int rc = 0;
  enum oc_status st = oc_model_load(model_path, &model);
  if (st != oc_status_ok) {
    rc = cli_fail("predict", st);
    goto done;
  }
  bool mismatch = false;
  st = oc_model_check_device(model, device, (int32_t)threads, strict, &mismatch);
  if (st != oc_status_ok) {
    rc = cli_fail("predict", st);
    goto done;
  }
  if (mismatch) fprintf(stderr, "opcost predict: warning: %s: %s\n", model_path, oc_errmsg());
  double coverage = oc_model_coverage(model);
  for (int i = optind; i < argc; i++) {
    struct oc_net *net = NULL;
    struct oc_model_net_prediction p;
    st = oc_net_load_file(argv[i], &net);
    if (st == oc_status_ok) {
      free(per);
      per = calloc((size_t)(net->n_kernels > 0 ? net->n_kernels : 1), sizeof *per);
      st = per != NULL ? oc_model_predict_net(model, net, per, &p) : oc_status_out_of_memory;
    }
    if (st == oc_status_ok && strict && p.n_missing > 0) {
      fprintf(stderr, "opcost predict: %s: the model never fitted:", argv[i]);
      for (int j = 0; j < p.n_missing; j++) fprintf(stderr, " %s", p.missing[j]);
      fprintf(stderr, " (--strict)\n");
      rc = oc_status_exit_code(oc_status_not_found);
      oc_net_free(net);
      goto done;
    }
    if (st != oc_status_ok) {
      rc = cli_fail("predict", st);
      oc_net_free(net);
      goto done;
    }
    if (!json && p.n_missing > 0) {
      fprintf(stderr,
              "opcost predict: warning: %s: kinds the model never fitted, predicted by "
              "its pooled roofline:",
              argv[i]);
      for (int j = 0; j < p.n_missing; j++) fprintf(stderr, " %s", p.missing[j]);
      fputc('\n', stderr);
    }
    if (json)
      json_array_append_new(list, net_json(argv[i], net, per, &p, coverage));
    else
      print_net(net, per, &p, coverage, layers, kernels);
    oc_net_free(net);
  }
  if (json) {
    const struct oc_model_device *dev = oc_model_get_device(model);
    rc =
        cli_print_json(json_pack("{s:s, s:s, s:i, s:o}", "model", model_path, "fingerprint",
                                 dev->fingerprint, "threads", (int)dev->threads, "networks", list));
    list = NULL;
  }
done:
  json_decref(list);
  free(per);
  oc_model_free(model);
  return rc;
}
