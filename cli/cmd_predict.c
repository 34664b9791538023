/* cmd_predict.c - `opcost predict`: a network's latency and memory without
 * running it, from a LUT (sum of its kernels' or blocks' medians plus the
 * device's overhead term) with misses listed and filled from the device's
 * roofline, and peak memory from the liveness schedule. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/model_cli.h" /* the -m/--model path: cmd_predict_model.c */
#include "opcost/lut.h"

static const char *const help =
    "usage: opcost predict --lut LUT.db [options] NET.json...\n"
    "       opcost predict -m MODEL.json [options] NET.json...  (cost model: -m x --help)\n"
    "\n"
    "Predicts each network's latency on one device of the LUT: the sum of its\n"
    "kernels' medians (or its blocks', --granularity block) plus the device's\n"
    "per-network overhead term (opcost lut overhead). Every op the LUT lacks is\n"
    "listed; with --profile it is filled from the device's roofline and flagged,\n"
    "without one (or with --strict) the prediction fails: a miss never counts as 0.\n"
    "Peak memory is weights plus the peak of live activations under the network's\n"
    "liveness schedule.\n"
    "\n"
    "  --lut FILE           the LUT (opcost lut build)\n"
    "  --device FP          device fingerprint (or a unique prefix) when the LUT has several\n"
    "  --threads N          thread count when the LUT has several\n"
    "  --granularity G      kernel (default) or block\n"
    "  --profile FILE       device profile (opcost probe device --output) to fill misses\n"
    "  --strict             misses are errors even with --profile\n"
    "  --layers             per-layer breakdown with its source (lut|roofline)\n"
    "  --json               machine-readable output (breakdown included)\n"
    "  -h, --help           this text\n";

enum { opt_lut = 256, opt_device, opt_threads, opt_granularity, opt_profile, opt_strict,
       opt_layers, opt_json };

/* One layer of the breakdown: its items summed, and where they came from. */
struct layer_sum {
  double us;
  int from_lut, from_roofline;
};

static struct layer_sum *sum_layers(const struct oc_net *net, const struct oc_lut_prediction *p) {
  struct layer_sum *l = calloc(net->n_layers > 0 ? (size_t)net->n_layers : 1, sizeof *l);
  for (int32_t i = 0; l && i < p->n_items; i++) {
    const struct oc_lut_pred_item *it = &p->items[i];
    if (it->layer < 0 || it->layer >= net->n_layers) continue;
    l[it->layer].us += it->us;
    if (it->origin == oc_lut_from_lut) l[it->layer].from_lut++;
    else l[it->layer].from_roofline++;
  }
  return l;
}

static const char *layer_source(const struct layer_sum *l) {
  if (l->from_roofline == 0) return "lut";
  return l->from_lut ? "lut+roofline" : "roofline";
}

static json_t *prediction_json(const struct oc_net *net, const char *file,
                               const struct oc_lut_prediction *p) {
  json_t *items = json_array(), *layers = json_array();
  for (int32_t i = 0; i < p->n_items; i++) {
    const struct oc_lut_pred_item *it = &p->items[i];
    json_array_append_new(items, json_pack("{s:i, s:i, s:s, s:f, s:s, s:I, s:I}", "layer",
                                           (int)it->layer, "kernel", (int)it->kernel, "key",
                                           it->key, "us", it->us, "source",
                                           oc_lut_origin_name(it->origin), "flops",
                                           (json_int_t)it->flops, "bytes", (json_int_t)it->bytes));
  }
  struct layer_sum *sums = sum_layers(net, p);
  for (int32_t i = 0; sums && i < net->n_layers; i++)
    json_array_append_new(layers, json_pack("{s:i, s:s, s:f, s:s}", "layer", (int)i, "key",
                                            net->layers[i].key, "us", sums[i].us, "source",
                                            layer_source(&sums[i])));
  free(sums);
  return json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:i, s:I, s:I, s:I, s:o, s:o}", "file",
                   file, "name", net->name, "hash", net->hash_hex, "total_us", p->total_us,
                   "lut_us", p->lut_us, "roofline_us", p->roofline_us, "overhead_us",
                   p->overhead_us, "misses", (int)p->misses, "weight_bytes",
                   (json_int_t)p->weight_bytes, "peak_activation_bytes",
                   (json_int_t)p->peak_activation_bytes, "peak_memory_bytes",
                   (json_int_t)p->peak_memory_bytes, "layers", layers, "items", items);
}

static void print_prediction(const struct oc_net *net, const struct oc_lut_prediction *p,
                             bool layers) {
  printf("%s: %.3f us", net->name, p->total_us);
  printf(" (lut %.3f", p->lut_us);
  if (p->misses) printf(", roofline %.3f for %d miss%s", p->roofline_us, (int)p->misses,
                        p->misses == 1 ? "" : "es");
  printf(", overhead %.3f)\n", p->overhead_us);
  printf("  memory: peak %.3f MiB = weights %.3f MiB + activations %.3f MiB (liveness)\n",
         (double)p->peak_memory_bytes / 1048576.0, (double)p->weight_bytes / 1048576.0,
         (double)p->peak_activation_bytes / 1048576.0);
  for (int32_t i = 0; i < p->n_items; i++) {
    const struct oc_lut_pred_item *it = &p->items[i];
    if (it->origin != oc_lut_from_lut)
      printf("  miss: %s -> %s %.3f us\n", it->key, oc_lut_origin_name(it->origin), it->us);
  }
  if (!layers) return;
  struct layer_sum *sums = sum_layers(net, p);
  printf("  %5s %12s  %-12s %s\n", "layer", "us", "source", "key");
  for (int32_t i = 0; sums && i < net->n_layers; i++)
    printf("  %5d %12.3f  %-12s %s\n", (int)i, sums[i].us, layer_source(&sums[i]),
           net->layers[i].key);
  free(sums);
}

int cli_cmd_predict(int argc, char **argv) {
  /* -m/--model: a fitted cost model instead of a LUT (cmd_predict_model.c). */
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "-m") == 0 || strncmp(argv[i], "--model", 7) == 0)
      return cli_predict_model(argc, argv);
  static const struct option longopts[] = {{"lut", required_argument, NULL, opt_lut},
                                           {"device", required_argument, NULL, opt_device},
                                           {"threads", required_argument, NULL, opt_threads},
                                           {"granularity", required_argument, NULL, opt_granularity},
                                           {"profile", required_argument, NULL, opt_profile},
                                           {"strict", no_argument, NULL, opt_strict},
                                           {"layers", no_argument, NULL, opt_layers},
                                           {"json", no_argument, NULL, opt_json},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *lut_path = NULL, *device = NULL, *profile_path = NULL;
  long threads = 0;
  bool strict = false, layers = false, json = false;
  enum oc_lut_granularity gran = oc_lut_kernel;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case opt_lut: lut_path = optarg; break;
    case opt_device: device = optarg; break;
    case opt_threads:
      if (!cli_parse_int("predict", "--threads", optarg, 1, 4096, &threads)) return CLI_EXIT_USAGE;
      break;
    case opt_granularity:
      if (oc_lut_granularity_from_name(optarg, &gran) != oc_status_ok)
        return cli_usage_error("predict", "--granularity: value '%s' must be kernel or block",
                               optarg);
      break;
    case opt_profile: profile_path = optarg; break;
    case opt_strict: strict = true; break;
    case opt_layers: layers = true; break;
    case opt_json: json = true; break;
    case 'h': fputs(help, stdout); return 0;
    default: return cli_usage_error("predict", "unknown option");
    }
  }
  if (lut_path == NULL) return cli_usage_error("predict", "--lut LUT.db is required");
  if (optind >= argc) return cli_usage_error("predict", "give at least one NET.json");

  struct oc_lut *lut = NULL;
  struct oc_lut_cache *cache = NULL;
  struct oc_device_profile *profile = NULL;
  struct oc_lut_roofline roofline;
  json_t *list = json ? json_array() : NULL;
  char fp[17];
  int32_t th = 0;
  int rc = 0;
  enum oc_status st = oc_lut_open(lut_path, oc_lut_read_only, &lut);
  if (st == oc_status_ok) st = oc_lut_resolve(lut, device, (int32_t)threads, fp, &th);
  if (st == oc_status_ok) st = oc_lut_cache_load(lut, fp, th, &cache);
  if (st == oc_status_ok && profile_path) {
    profile = calloc(1, sizeof *profile);
    st = profile ? oc_probe_profile_load(profile_path, profile) : oc_status_out_of_memory;
    if (st == oc_status_ok) st = oc_lut_roofline_from_profile(profile, th, &roofline);
  }
  if (st != oc_status_ok) {
    rc = cli_fail("predict", st);
    goto done;
  }
  for (int i = optind; i < argc; i++) {
    struct oc_net *net = NULL;
    struct oc_lut_prediction pred = {0};
    st = oc_net_load_file(argv[i], &net);
    if (st == oc_status_ok)
      st = oc_lut_predict(cache, net, gran, profile_path ? &roofline : NULL, strict, &pred);
    if (st == oc_status_not_found && pred.items) {
      /* List every miss before the one-line error. */
      for (int32_t j = 0; j < pred.n_items; j++)
        if (pred.items[j].origin != oc_lut_from_lut)
          fprintf(stderr, "opcost predict: %s: miss: %s\n", argv[i], pred.items[j].key);
    }
    if (st != oc_status_ok) {
      rc = cli_fail("predict", st);
      oc_lut_prediction_clear(&pred);
      oc_net_free(net);
      goto done;
    }
    if (json) json_array_append_new(list, prediction_json(net, argv[i], &pred));
    else print_prediction(net, &pred, layers);
    oc_lut_prediction_clear(&pred);
    oc_net_free(net);
  }
  if (json) {
    rc = cli_print_json(json_pack("{s:s, s:s, s:i, s:s, s:s, s:o}", "lut", lut_path,
                                  "fingerprint", fp, "threads", (int)th, "granularity",
                                  oc_lut_granularity_name(gran), "misses_from",
                                  profile_path ? "roofline" : "none", "networks", list));
    list = NULL;
  }
done:
  json_decref(list);
  free(profile);
  oc_lut_cache_free(cache);
  oc_lut_close(lut);
  return rc;
}
