/* cmd_eval.c - `opcost eval`: how accurate a cost model is.
 *   opcost eval -m MODEL.json --nets MEASURED.jsonl    a fitted model on
 *       networks measured end to end
 *   opcost eval --lut LUT.db --cv kfold|family [...]    cross-validation of
 *       the whole fitting procedure (kernels, or networks with --nets)
 *   opcost eval --lut LUT.db --nets MEASURED.jsonl      the plain LUT sum
 *       (kernels + stored overhead, as `opcost predict --lut` computes it)
 * Prints MAPE, RMSPE, the share within +-5 % and +-10 %, the p95 and max
 * error, the share under-predicted, Kendall tau, Spearman rho and the
 * coverage of the prediction intervals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/model_cli.h"

static const char *const help =
    "usage: opcost eval -m MODEL.json --nets MEASURED.jsonl [options] [NET.json...]\n"
    "       opcost eval --lut LUT.db --cv kfold|family [--nets MEASURED.jsonl] [options]\n"
    "                   [NET.json...]\n"
    "       opcost eval --lut LUT.db --nets MEASURED.jsonl [--profile P] [NET.json...]\n"
    "\n"
    "With -m: predicts every network of MEASURED.jsonl (opcost net measure --save)\n"
    "with the model and compares. Networks measured on another device than the\n"
    "model's are a warning, an error under --strict.\n"
    "With --cv: cross-validates the fitting procedure on the LUT. Without --nets,\n"
    "k folds of kernel rows; with --nets, folds of networks (kfold) or one network\n"
    "family held out at a time (family: the 'family' field of each line, else the\n"
    "name up to its first '-'); the LUT rows only held-out networks use are left\n"
    "out of the fit, so their kernels are unseen.\n"
    "With --lut and --nets alone: the LUT sum (kernels + the stored overhead, as\n"
    "'opcost predict --lut' computes it) against the measurements; kernels the LUT\n"
    "lacks are filled from the roofline of --profile, or are an error without one.\n"
    "NET.json files resolve --nets lines that name a network by hash only.\n"
    "\n"
    "  -m, --model FILE     the model to evaluate\n"
    "      --cv MODE        kfold or family\n"
    "      --list           every item's measurement and prediction\n"
    "      --json           machine-readable output\n"
    "  -h, --help           this text\n"
    "training options (--cv):\n";

static json_t *fold_json(const struct oc_model_cv_fold *f) {
  return json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "name", f->name, "train_rows",
                   (json_int_t)f->n_train_rows, "train_nets", (json_int_t)f->n_train_nets, "test",
                   (json_int_t)f->n_test, "excluded_rows", (json_int_t)f->excluded_rows, "metrics",
                   oc_model_metrics_to_json(&f->metrics));
}

static int eval_model(const char *model_path, const struct cli_train_args *a, char *const *files,
                      int n_files, bool list, bool json) {
  struct oc_model *model = NULL;
  struct oc_model_netset *nets = NULL;
  double *pred = NULL, *lo = NULL, *hi = NULL;
  json_t *out = NULL;
  int rc = 0;
  enum oc_status st = oc_model_load(model_path, &model);
  if (st == oc_status_ok)
    st = oc_model_netset_load(a->nets, (const char *const *)files, (size_t)n_files, &nets);
  if (st != oc_status_ok) {
    rc = cli_fail("eval", st);
    goto done;
  }
  /* One warning per device the networks were measured on. */
  for (size_t i = 0; i < nets->n; i++) {
    const struct oc_model_net_sample *s = &nets->items[i];
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = strcmp(nets->items[j].fingerprint, s->fingerprint) == 0 &&
             nets->items[j].threads == s->threads;
    if (seen) continue;
    bool mismatch = false;
    st = oc_model_check_device(model, s->fingerprint, s->threads, a->strict, &mismatch);
    if (st != oc_status_ok) {
      fprintf(stderr, "opcost eval: %s: network '%s': %s\n", a->nets, s->name, oc_errmsg());
      rc = oc_status_exit_code(st);
      goto done;
    }
    if (mismatch)
      fprintf(stderr, "opcost eval: warning: %s: network '%s': %s\n", a->nets, s->name,
              oc_errmsg());
  }
  pred = calloc(nets->n, sizeof *pred);
  lo = calloc(nets->n, sizeof *lo);
  hi = calloc(nets->n, sizeof *hi);
  if (pred == NULL || lo == NULL || hi == NULL) {
    rc = cli_fail("eval", oc_status_out_of_memory);
    goto done;
  }
  struct oc_model_metrics m;
  st = oc_model_eval_nets(model, nets, pred, lo, hi, &m);
  if (st != oc_status_ok) {
    rc = cli_fail("eval", st);
    goto done;
  }
  const struct oc_model_device *dev = oc_model_get_device(model);
  if (json) {
    json_t *items = json_array();
    for (size_t i = 0; i < nets->n; i++) {
      const struct oc_model_net_sample *s = &nets->items[i];
      json_array_append_new(items,
                            json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f}", "name", s->name,
                                      "family", s->family, "measured_us", s->measured_us,
                                      "predicted_us", pred[i], "lo_us", lo[i], "hi_us", hi[i],
                                      "error", (pred[i] - s->measured_us) / s->measured_us));
    }
    out = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o}", "model", model_path, "nets", a->nets,
                    "fingerprint", dev->fingerprint, "threads", (int)dev->threads, "metrics",
                    oc_model_metrics_to_json(&m), "networks", items);
    rc = cli_print_json(out);
    out = NULL;
    goto done;
  }
  printf("model %s (device %s, %d thread%s) on %zu networks of %s\n", model_path, dev->fingerprint,
         (int)dev->threads, dev->threads == 1 ? "" : "s", nets->n, a->nets);
  cli_print_metrics(stdout, "networks", &m);
  if (list) {
    printf("%-32s %-16s %12s %12s %8s  %s\n", "network", "family", "measured us", "predicted us",
           "error", "interval");
    for (size_t i = 0; i < nets->n; i++) {
      const struct oc_model_net_sample *s = &nets->items[i];
      printf("%-32s %-16s %12.1f %12.1f %+7.2f%%  [%.1f, %.1f]\n", s->name, s->family,
             s->measured_us, pred[i], 100 * (pred[i] - s->measured_us) / s->measured_us, lo[i],
             hi[i]);
    }
  }
done:
  json_decref(out);
  free(pred);
  free(lo);
  free(hi);
  oc_model_netset_free(nets);
  oc_model_free(model);
  return rc;
}

static int eval_cv(enum oc_model_cv cv, const char *cv_name, const struct cli_train_args *a,
                   char *const *files, int n_files, bool list, bool json) {
  struct oc_model_data *data = NULL;
  struct oc_model_netset *nets = NULL;
  struct oc_model_device device;
  struct oc_model_cv_report r;
  memset(&r, 0, sizeof r);
  int rc = 0;
  enum oc_status st = cli_train_load("eval", a, files, n_files, &data, &device, &nets);
  if (st == oc_status_ok) st = oc_model_cross_validate(data, &device, nets, cv, &a->opts, &r);
  if (st != oc_status_ok) {
    rc = cli_fail("eval", st);
    goto done;
  }
  const char *items = r.networks ? "networks" : "kernel rows";
  if (json) {
    json_t *folds = json_array();
    for (size_t f = 0; f < r.n_folds; f++) json_array_append_new(folds, fold_json(&r.folds[f]));
    json_t *out =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:o, s:o}", "cv", cv_name, "items",
                  r.networks ? "networks" : "kernels", "lut", a->lut, "fingerprint",
                  data->fingerprint, "threads", (int)data->threads, "roofline_source",
                  device.source, "overall", oc_model_metrics_to_json(&r.overall), "folds", folds);
    if (list) {
      json_t *arr = json_array();
      for (size_t i = 0; i < r.n; i++) {
        char key[OC_KEY_MAX] = "";
        if (r.networks)
          snprintf(key, sizeof key, "%s", nets->items[i].name);
        else
          oc_op_format(&data->samples[i].op, key, sizeof key);
        json_array_append_new(arr, json_pack("{s:s, s:f, s:f, s:f, s:f}", "item", key,
                                             "measured_us", r.meas[i], "predicted_us", r.pred[i],
                                             "lo_us", r.lo[i], "hi_us", r.hi[i]));
      }
      json_object_set_new(out, "list", arr);
    }
    rc = cli_print_json(out);
    goto done;
  }
  printf("cross-validation (%s) over %zu %s of device %s (%d thread%s), roofline %s\n", cv_name,
         r.n, items, data->fingerprint, (int)data->threads, data->threads == 1 ? "" : "s",
         device.source);
  for (size_t f = 0; f < r.n_folds; f++) {
    const struct oc_model_cv_fold *fo = &r.folds[f];
    char label[200];
    snprintf(label, sizeof label, "  %s (trained on %zu rows, %zu nets; %lld rows held out)",
             fo->name, fo->n_train_rows, fo->n_train_nets, (long long)fo->excluded_rows);
    if (fo->n_test > 0) cli_print_metrics(stdout, label, &fo->metrics);
  }
  cli_print_metrics(stdout, "overall", &r.overall);
  if (list) {
    for (size_t i = 0; i < r.n; i++) {
      char key[OC_KEY_MAX] = "";
      if (r.networks)
        snprintf(key, sizeof key, "%s", nets->items[i].name);
      else
        oc_op_format(&data->samples[i].op, key, sizeof key);
      printf("  %12.2f us measured %12.2f predicted %+7.2f%%  %s\n", r.meas[i], r.pred[i],
             100 * (r.pred[i] - r.meas[i]) / r.meas[i], key);
    }
  }
done:
  oc_model_cv_report_clear(&r);
  oc_model_netset_free(nets);
  oc_model_data_free(data);
  return rc;
}

/* The LUT sum as a predictor: what nn-Meter-style kernel tables give before
 * any model is fitted. */
static int eval_lut_sum(const struct cli_train_args *a, char *const *files, int n_files, bool list,
                        bool json) {
  struct oc_lut *lut = NULL;
  struct oc_lut_cache *cache = NULL;
  struct oc_model_netset *nets = NULL;
  struct oc_device_profile profile;
  struct oc_lut_roofline roofline;
  bool have_roofline = false;
  double *pred = NULL, *meas = NULL;
  int32_t *misses = NULL;
  char fp[17];
  int32_t threads = 0;
  int rc = 0;
  enum oc_status st = oc_lut_open(a->lut, oc_lut_read_only, &lut);
  if (st == oc_status_ok)
    st = oc_lut_resolve(lut, a->device, (int32_t)a->threads, fp, &threads);
  if (st == oc_status_ok) st = oc_lut_cache_load(lut, fp, threads, &cache);
  if (st == oc_status_ok && a->profile != NULL) {
    st = oc_probe_profile_load(a->profile, &profile);
    if (st == oc_status_ok) st = oc_lut_roofline_from_profile(&profile, threads, &roofline);
    have_roofline = st == oc_status_ok;
  }
  if (st == oc_status_ok)
    st = oc_model_netset_load(a->nets, (const char *const *)files, (size_t)n_files, &nets);
  if (st != oc_status_ok) {
    rc = cli_fail("eval", st);
    goto done;
  }
  pred = calloc(nets->n + 1, sizeof *pred);
  meas = calloc(nets->n + 1, sizeof *meas);
  misses = calloc(nets->n + 1, sizeof *misses);
  if (pred == NULL || meas == NULL || misses == NULL) {
    rc = cli_fail("eval", oc_status_out_of_memory);
    goto done;
  }
  int64_t total_misses = 0;
  for (size_t i = 0; i < nets->n; i++) {
    const struct oc_model_net_sample *s = &nets->items[i];
    st = oc_lut_predict_us(cache, s->net, oc_lut_kernel, have_roofline ? &roofline : NULL,
                           a->strict, &pred[i], &misses[i]);
    if (st != oc_status_ok) {
      fprintf(stderr, "opcost eval: network '%s': %s\n", s->name, oc_errmsg());
      rc = oc_status_exit_code(st);
      goto done;
    }
    meas[i] = s->measured_us;
    total_misses += misses[i];
  }
  struct oc_model_metrics m;
  st = oc_model_metrics_compute(pred, meas, NULL, NULL, nets->n, &m);
  if (st != oc_status_ok) {
    rc = cli_fail("eval", st);
    goto done;
  }
  if (json) {
    json_t *items = json_array();
    for (size_t i = 0; i < nets->n; i++) {
      const struct oc_model_net_sample *s = &nets->items[i];
      json_array_append_new(items, json_pack("{s:s, s:s, s:f, s:f, s:i, s:f}", "name", s->name,
                                             "family", s->family, "measured_us", meas[i],
                                             "predicted_us", pred[i], "roofline_kernels",
                                             (int)misses[i], "error",
                                             (pred[i] - meas[i]) / meas[i]));
    }
    rc = cli_print_json(json_pack("{s:s, s:s, s:s, s:i, s:I, s:o, s:o}", "lut", a->lut, "nets",
                                  a->nets, "fingerprint", fp, "threads", (int)threads,
                                  "roofline_kernels", (json_int_t)total_misses, "metrics",
                                  oc_model_metrics_to_json(&m), "networks", items));
    goto done;
  }
  printf("LUT sum of %s (device %s, %d thread%s) on %zu networks of %s\n", a->lut, fp,
         (int)threads, threads == 1 ? "" : "s", nets->n, a->nets);
  if (total_misses > 0)
    printf("  %lld kernel(s) missing from the LUT were filled from the roofline\n",
           (long long)total_misses);
  cli_print_metrics(stdout, "networks", &m);
  if (list) {
    printf("%-32s %-16s %12s %12s %8s\n", "network", "family", "measured us", "LUT sum us",
           "error");
    for (size_t i = 0; i < nets->n; i++)
      printf("%-32s %-16s %12.1f %12.1f %+7.2f%%\n", nets->items[i].name, nets->items[i].family,
             meas[i], pred[i], 100 * (pred[i] - meas[i]) / meas[i]);
  }
done:
  free(pred);
  free(meas);
  free(misses);
  oc_model_netset_free(nets);
  oc_lut_cache_free(cache);
  oc_lut_close(lut);
  return rc;
}

int cli_cmd_eval(int argc, char **argv) {
  enum { opt_cv = 400, opt_list, opt_json };
  static const struct option longopts[] = {CLI_TRAIN_LONGOPTS,
                                           {"model", required_argument, NULL, 'm'},
                                           {"cv", required_argument, NULL, opt_cv},
                                           {"list", no_argument, NULL, opt_list},
                                           {"json", no_argument, NULL, opt_json},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  struct cli_train_args a;
  cli_train_args_init(&a);
  const char *model = NULL, *cv_name = NULL;
  bool list = false, json = false;
  enum oc_model_cv cv = oc_model_cv_kfold;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "hm:", longopts, NULL)) != -1) {
    int r = cli_train_option("eval", c, optarg, &a);
    if (r < 0) return CLI_EXIT_USAGE;
    if (r > 0) continue;
    switch (c) {
    case 'm': model = optarg; break;
    case opt_cv:
      cv_name = optarg;
      if (oc_model_cv_from_name(optarg, &cv) != oc_status_ok)
        return cli_usage_error("eval", "--cv: value '%s' must be kfold or family", optarg);
      break;
    case opt_list: list = true; break;
    case opt_json: json = true; break;
    case 'h':
      fputs(help, stdout);
      fputs(cli_train_help, stdout);
      return 0;
    default: return cli_usage_error("eval", "unknown option");
    }
  }
  if (model == NULL && cv_name == NULL && a.lut != NULL && a.nets != NULL)
    return eval_lut_sum(&a, argv + optind, argc - optind, list, json);
  if ((model == NULL) == (cv_name == NULL))
    return cli_usage_error("eval", "give -m MODEL.json, --cv kfold|family, or --lut with --nets");
  if (model != NULL) {
    if (a.nets == NULL) return cli_usage_error("eval", "-m needs --nets MEASURED.jsonl");
    if (a.lut != NULL) return cli_usage_error("eval", "--lut goes with --cv, not with -m");
    return eval_model(model, &a, argv + optind, argc - optind, list, json);
  }
  if (a.lut == NULL) return cli_usage_error("eval", "--cv needs --lut LUT.db");
  if (cv == oc_model_cv_family && a.nets == NULL)
    return cli_usage_error("eval", "--cv family holds out network families: give --nets");
  if (optind < argc && a.nets == NULL)
    return cli_usage_error("eval", "NET.json files only resolve --nets lines; give --nets");
  return eval_cv(cv, cv_name, &a, argv + optind, argc - optind, list, json);
}
