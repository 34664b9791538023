/* cmd_fit.c - `opcost fit`: fits a cost model on a LUT of measured kernels
 * (and optionally on networks measured end to end) and writes the model
 * file; also the training options and metric printing that `opcost eval`
 * and `opcost predict -m` share (model_cli.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/model_cli.h"

static const char *const help =
    "usage: opcost fit --lut LUT.db [options] -o MODEL.json [NET.json...]\n"
    "\n"
    "Fits a latency model per op kind on the LUT's kernel rows of one device:\n"
    "a roofline (from the device profile), ridge regression and XGBoost, each\n"
    "in log space and cross-validated on the same folds; the lowest CV MAPE is\n"
    "kept per kind, with a split-conformal interval from its out-of-fold\n"
    "residuals. With --nets, composition terms (per-network overhead, per-kernel\n"
    "overhead, activation traffic) are fitted on networks measured end to end.\n"
    "NET.json files resolve --nets lines that name a network by hash only.\n"
    "\n"
    "  -o, --output FILE    model file to write (opcost-model/1 JSON)\n"
    "      --json           print the summary as JSON\n"
    "  -h, --help           this text\n";

const char *const cli_train_help =
    "  --lut FILE           kernel LUT (opcost lut build)\n"
    "  --device FP          device fingerprint (or unique prefix) when the LUT has several\n"
    "  --threads N          thread count when the LUT has several\n"
    "  --profile FILE       device profile (opcost probe device); without one the roofline\n"
    "                       is empirical: the best FLOP/s and byte/s any LUT row reached\n"
    "  --nets FILE          networks measured end to end (opcost net measure --save FILE)\n"
    "  --folds K            cross-validation folds (5)\n"
    "  --seed N             fold shuffles and XGBoost seed (1)\n"
    "  --coverage C         coverage of the prediction intervals (0.9)\n"
    "  --models LIST        candidates, comma separated: roofline,ridge,xgboost (all)\n"
    "  --xgb-rounds N       most boosting rounds; CV picks the number (400)\n"
    "  --xgb-depth N        tree depth (6)\n"
    "  --xgb-eta X          learning rate (0.1)\n"
    "  --xgb-threads N      XGBoost threads (1)\n"
    "  --strict             a profile of another device than the LUT is an error\n"
    "  --quiet              no progress on stderr\n";

void cli_train_args_init(struct cli_train_args *a) {
  memset(a, 0, sizeof *a);
  oc_model_fit_opts_default(&a->opts);
}

static bool parse_models(const char *cmd, const char *text, struct oc_model_fit_opts *o) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", text);
  o->use_ridge = false;
  o->use_xgboost = false;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    enum oc_model_type t;
    if (oc_model_type_from_name(tok, &t) != oc_status_ok) {
      cli_usage_error(cmd, "--models: '%s' is not roofline, ridge or xgboost", tok);
      return false;
    }
    if (t == oc_model_ridge) o->use_ridge = true;
    if (t == oc_model_xgboost) o->use_xgboost = true;
  }
  return true;
}

int cli_train_option(const char *cmd, int c, const char *arg, struct cli_train_args *a) {
  long v = 0;
  double x = 0;
  switch (c) {
  case cli_opt_lut: a->lut = arg; return 1;
  case cli_opt_device: a->device = arg; return 1;
  case cli_opt_threads: return cli_parse_int(cmd, "--threads", arg, 1, 4096, &a->threads) ? 1 : -1;
  case cli_opt_profile: a->profile = arg; return 1;
  case cli_opt_nets: a->nets = arg; return 1;
  case cli_opt_folds:
    if (!cli_parse_int(cmd, "--folds", arg, 2, 20, &v)) return -1;
    a->opts.folds = (int)v;
    return 1;
  case cli_opt_seed:
    if (!cli_parse_int(cmd, "--seed", arg, 0, 2147483647L, &v)) return -1;
    a->opts.seed = (uint64_t)v;
    return 1;
  case cli_opt_coverage:
    if (!cli_parse_double(cmd, "--coverage", arg, 0.5, 0.999, &x)) return -1;
    a->opts.coverage = x;
    return 1;
  case cli_opt_models: return parse_models(cmd, arg, &a->opts) ? 1 : -1;
  case cli_opt_xgb_rounds:
    if (!cli_parse_int(cmd, "--xgb-rounds", arg, 1, 100000, &v)) return -1;
    a->opts.xgb_max_rounds = (int)v;
    return 1;
  case cli_opt_xgb_depth:
    if (!cli_parse_int(cmd, "--xgb-depth", arg, 1, 20, &v)) return -1;
    a->opts.xgb_max_depth = (int)v;
    return 1;
  case cli_opt_xgb_eta:
    if (!cli_parse_double(cmd, "--xgb-eta", arg, 1e-4, 1, &x)) return -1;
    a->opts.xgb_eta = x;
    return 1;
  case cli_opt_xgb_threads:
    if (!cli_parse_int(cmd, "--xgb-threads", arg, 1, 256, &v)) return -1;
    a->opts.xgb_threads = (int)v;
    return 1;
  case cli_opt_strict: a->strict = true; return 1;
  case cli_opt_quiet: a->quiet = true; return 1;
  default: return 0;
  }
}

enum oc_status cli_train_load(const char *cmd, const struct cli_train_args *a,
                              char *const *net_files, int n_net_files, struct oc_model_data **data,
                              struct oc_model_device *device, struct oc_model_netset **nets) {
  struct oc_lut *lut = NULL;
  struct oc_device_profile *profile = NULL;
  *data = NULL;
  *nets = NULL;
  enum oc_status st = oc_lut_open(a->lut, oc_lut_read_only, &lut);
  if (st == oc_status_ok) st = oc_model_data_from_lut(lut, a->device, (int32_t)a->threads, data);
  oc_lut_close(lut);
  if (st != oc_status_ok) goto done;
  struct oc_model_data *d = *data;
  if (!a->quiet && (d->skipped_block || d->skipped_kind || d->skipped_key || d->skipped_latency))
    fprintf(stderr,
            "opcost %s: %lld block rows, %lld rows of kinds outside ops.def, %lld unparsable "
            "keys and %lld non-positive medians left out\n",
            cmd, (long long)d->skipped_block, (long long)d->skipped_kind, (long long)d->skipped_key,
            (long long)d->skipped_latency);
  if (a->profile != NULL) {
    profile = calloc(1, sizeof *profile);
    st = profile != NULL ? oc_probe_profile_load(a->profile, profile) : oc_status_out_of_memory;
    if (st == oc_status_ok) st = oc_model_device_from_profile(profile, d->threads, device);
    if (st != oc_status_ok) goto done;
    if (strcmp(profile->device.fingerprint, d->fingerprint) != 0) {
      if (a->strict) {
        fprintf(stderr, "opcost %s: profile %s is of device %s, the LUT rows of device %s\n", cmd,
                a->profile, profile->device.fingerprint, d->fingerprint);
        st = oc_status_incompatible;
        goto done;
      }
      fprintf(stderr, "opcost %s: warning: profile %s is of device %s, the LUT rows of %s\n", cmd,
              a->profile, profile->device.fingerprint, d->fingerprint);
    }
    /* The model is of the LUT's device; the profile lends its roofline. */
    snprintf(device->fingerprint, sizeof device->fingerprint, "%s", d->fingerprint);
    if (d->target[0]) snprintf(device->target, sizeof device->target, "%s", d->target);
    if (d->device_name[0]) snprintf(device->name, sizeof device->name, "%s", d->device_name);
    if (d->isa[0]) snprintf(device->isa, sizeof device->isa, "%s", d->isa);
  } else {
    st = oc_model_device_empirical(d, device);
    if (st != oc_status_ok) goto done;
  }
  if (a->nets != NULL) {
    st = oc_model_netset_load(a->nets, (const char *const *)net_files, (size_t)n_net_files, nets);
    if (st != oc_status_ok) goto done;
    for (size_t i = 0; i < (*nets)->n; i++) {
      const struct oc_model_net_sample *s = &(*nets)->items[i];
      bool other_fp = s->fingerprint[0] && strcmp(s->fingerprint, d->fingerprint) != 0;
      bool other_th = s->threads > 0 && s->threads != d->threads;
      if (!other_fp && !other_th) continue;
      fprintf(stderr,
              "opcost %s: %s%s: network '%s' was measured on %s with %d threads, the LUT "
              "rows on %s with %d\n",
              cmd, a->strict ? "" : "warning: ", a->nets, s->name,
              s->fingerprint[0] ? s->fingerprint : "?", (int)s->threads, d->fingerprint,
              (int)d->threads);
      if (a->strict) {
        st = oc_status_incompatible;
        goto done;
      }
    }
  }
done:
  free(profile);
  if (st != oc_status_ok) {
    oc_model_data_free(*data);
    *data = NULL;
    oc_model_netset_free(*nets);
    *nets = NULL;
  }
  return st;
}

void cli_print_metrics(FILE *out, const char *label, const struct oc_model_metrics *m) {
  fprintf(out,
          "%s: n %zu  MAPE %.2f %%  RMSPE %.2f %%  within 5 %% %.1f %%  within 10 %% %.1f %%"
          "  p95 %.2f %%  max %.2f %%  under %.1f %%",
          label, m->n, 100 * m->mape, 100 * m->rmspe, 100 * m->within5, 100 * m->within10,
          100 * m->p95_ape, 100 * m->max_ape, 100 * m->under);
  if (isfinite(m->kendall_tau))
    fprintf(out, "  tau %.3f  rho %.3f", m->kendall_tau, m->spearman_rho);
  if (isfinite(m->coverage)) fprintf(out, "  coverage %.1f %%", 100 * m->coverage);
  fputc('\n', out);
}

struct fit_progress {
  struct cli_progress bar;
};

static void on_progress(void *ctx, size_t done, size_t total, const char *kind) {
  struct fit_progress *p = ctx;
  p->bar.total = (int64_t)total;
  cli_progress_step(&p->bar, (int64_t)done, kind);
}

static double metric(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static void print_summary(const json_t *root, const char *path) {
  const json_t *dev = json_object_get(root, "device");
  const json_t *tr = json_object_get(root, "training");
  printf("fitted %lld kernel rows of device %s (%s, %d thread%s); roofline: %s, peak %.1f "
         "GFLOP/s\n",
         (long long)json_integer_value(json_object_get(tr, "rows")),
         json_string_value(json_object_get(dev, "fingerprint")),
         json_string_value(json_object_get(dev, "target")),
         (int)json_integer_value(json_object_get(dev, "threads")),
         json_integer_value(json_object_get(dev, "threads")) == 1 ? "" : "s",
         json_string_value(json_object_get(dev, "roofline_source")),
         json_number_value(json_object_get(dev, "peak_gflops")));
  printf("%-16s %6s  %-8s  %9s %9s  %s\n", "kind", "rows", "model", "CV MAPE", "<=10 %",
         "candidates (CV MAPE)");
  const char *name;
  json_t *k;
  json_object_foreach(json_object_get(root, "kinds"), name, k) {
    const char *chosen = json_string_value(json_object_get(k, "model"));
    const json_t *cv = json_object_get(k, "cv");
    const json_t *best = json_object_get(cv, chosen);
    printf("%-16s %6lld  %-8s  %7.2f %% %7.1f %% ", name,
           (long long)json_integer_value(json_object_get(k, "rows")), chosen,
           100 * metric(best, "mape"), 100 * metric(best, "within10"));
    const char *cname;
    json_t *cm;
    json_object_foreach((json_t *)cv, cname, cm)
        printf(" %s %.2f %%", cname, 100 * metric(cm, "mape"));
    putchar('\n');
  }
  const json_t *unf = json_object_get(tr, "unfitted_kinds");
  json_object_foreach((json_t *)unf, name, k)
      printf("%-16s %6lld  (too few rows: predicted by the pooled roofline)\n", name,
             (long long)json_integer_value(k));
  const json_t *val = json_object_get(root, "validation");
  const json_t *kv = json_object_get(val, "kernels");
  printf("kernels, out of fold: MAPE %.2f %%, within 10 %% %.1f %%, within 5 %% %.1f %%, "
         "interval coverage %.1f %%\n",
         100 * metric(kv, "mape"), 100 * metric(kv, "within10"), 100 * metric(kv, "within5"),
         100 * metric(kv, "coverage"));
  const json_t *c = json_object_get(root, "composition");
  const char *form = json_string_value(json_object_get(c, "form"));
  if (strcmp(form, "identity") == 0) {
    printf("composition: none (no measured networks): a network is the sum of its kernels\n");
  } else {
    printf("composition (%s, %lld networks): %.3f us + %.4f x sum + %.4f us x kernels + %.4f us x "
           "activation MB\n",
           form, (long long)json_integer_value(json_object_get(c, "nets")),
           metric(c, "intercept_us"), metric(c, "sum_scale"), metric(c, "per_kernel_us"),
           metric(c, "per_act_mb_us"));
    const json_t *ncv = json_object_get(c, "cv");
    if (json_is_object(ncv))
      printf("networks, out of fold: MAPE %.2f %%, within 10 %% %.1f %%, within 5 %% %.1f %%\n",
             100 * metric(ncv, "mape"), 100 * metric(ncv, "within10"),
             100 * metric(ncv, "within5"));
    const json_t *forms = json_object_get(val, "composition_forms");
    if (json_object_size(forms) > 1) {
      printf("composition forms (CV MAPE):");
      const char *fname;
      json_t *fm;
      json_object_foreach((json_t *)forms, fname, fm)
          printf(" %s %.2f %%", fname, 100 * metric(fm, "mape"));
      putchar('\n');
    }
  }
  printf("wrote %s\n", path);
}

int cli_cmd_fit(int argc, char **argv) {
  enum { opt_json = 400 };
  static const struct option longopts[] = {CLI_TRAIN_LONGOPTS,
                                           {"output", required_argument, NULL, 'o'},
                                           {"json", no_argument, NULL, opt_json},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  struct cli_train_args a;
  cli_train_args_init(&a);
  const char *output = NULL;
  bool json = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
    int r = cli_train_option("fit", c, optarg, &a);
    if (r < 0) return CLI_EXIT_USAGE;
    if (r > 0) continue;
    switch (c) {
    case 'o': output = optarg; break;
    case opt_json: json = true; break;
    case 'h':
      fputs(help, stdout);
      fputs(cli_train_help, stdout);
      return 0;
    default: return cli_usage_error("fit", "unknown option");
    }
  }
  if (a.lut == NULL) return cli_usage_error("fit", "--lut LUT.db is required");
  if (output == NULL) return cli_usage_error("fit", "-o MODEL.json is required");
  if (optind < argc && a.nets == NULL)
    return cli_usage_error("fit", "NET.json files only resolve --nets lines; give --nets");

  struct oc_model_data *data = NULL;
  struct oc_model_netset *nets = NULL;
  struct oc_model *model = NULL;
  struct oc_model_device device;
  json_t *root = NULL;
  int rc = 0;
  enum oc_status st =
      cli_train_load("fit", &a, argv + optind, argc - optind, &data, &device, &nets);
  if (st != oc_status_ok) {
    rc = cli_fail("fit", st);
    goto done;
  }
  struct fit_progress prog;
  cli_progress_start(&prog.bar, "fit", 0, a.quiet || json);
  a.opts.progress = on_progress;
  a.opts.progress_ctx = &prog;
  double t0 = cli_now_s();
  st = oc_model_fit(data, &device, nets, &a.opts, &model);
  cli_progress_end(&prog.bar);
  if (st == oc_status_ok) st = oc_model_save(model, output);
  if (st == oc_status_ok) st = oc_model_to_json(model, &root);
  if (st != oc_status_ok) {
    rc = cli_fail("fit", st);
    goto done;
  }
  if (json) {
    json_t *summary = json_pack("{s:s, s:f, s:O, s:O, s:O, s:O}", "output", output, "fit_s",
                                cli_now_s() - t0, "device", json_object_get(root, "device"),
                                "training", json_object_get(root, "training"), "composition",
                                json_object_get(root, "composition"), "validation",
                                json_object_get(root, "validation"));
    json_t *kinds = json_object();
    const char *name;
    json_t *k;
    json_object_foreach(json_object_get(root, "kinds"), name, k) json_object_set_new(
        kinds, name,
        json_pack("{s:O, s:O, s:O}", "rows", json_object_get(k, "rows"), "model",
                  json_object_get(k, "model"), "cv", json_object_get(k, "cv")));
    json_object_set_new(summary, "kinds", kinds);
    rc = cli_print_json(summary);
  } else {
    print_summary(root, output);
  }
done:
  json_decref(root);
  oc_model_free(model);
  oc_model_netset_free(nets);
  oc_model_data_free(data);
  return rc;
}
