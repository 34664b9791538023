/* model_cv.c - cross-validation of the whole fitting procedure, the figure
 * that says how a model does on what it was not fitted on:
 *   kernels, k-fold      each fold of LUT rows is predicted by a model fitted
 *                        on the others (candidate choice included)
 *   networks, k-fold     each fold of measured networks is predicted by a
 *                        model whose kernel fit leaves out the LUT rows only
 *                        held-out networks use, and whose composition is
 *                        fitted on the other networks
 *   networks, family     the same with one network family held out at a time
 *                        (nn-Meter's "unseen model families" test)
 * Leaving out the rows only held-out networks use keeps their kernels
 * unseen: the test then measures generalisation to new shapes, not lookup. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "models/model_internal.h"

enum oc_status oc_model_cv_from_name(const char *name, enum oc_model_cv *cv) {
  if (strcmp(name, "kfold") == 0)
    *cv = oc_model_cv_kfold;
  else if (strcmp(name, "family") == 0)
    *cv = oc_model_cv_family;
  else
    return oc__fail(oc_status_not_found, "cross-validation '%s': expected kfold or family", name);
  return oc_status_ok;
}

void oc_model_cv_report_clear(struct oc_model_cv_report *report) {
  if (report == NULL) return;
  free(report->pred);
  free(report->meas);
  free(report->lo);
  free(report->hi);
  free(report->folds);
  memset(report, 0, sizeof *report);
}

static enum oc_status report_alloc(struct oc_model_cv_report *r, size_t n, size_t n_folds) {
  r->n = n;
  r->n_folds = n_folds;
  r->pred = calloc(n, sizeof *r->pred);
  r->meas = calloc(n, sizeof *r->meas);
  r->lo = calloc(n, sizeof *r->lo);
  r->hi = calloc(n, sizeof *r->hi);
  r->folds = calloc(n_folds, sizeof *r->folds);
  if (!r->pred || !r->meas || !r->lo || !r->hi || !r->folds)
    return oc__fail(oc_status_out_of_memory, "cross-validation: out of memory for %zu items", n);
  return oc_status_ok;
}

/* Metrics of the items of one fold (group[i] == g). */
static enum oc_status fold_metrics(struct oc_model_cv_report *r, const int *group, int g,
                                   struct oc_model_metrics *m) {
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++) n += group[i] == g;
  if (n == 0) {
    memset(m, 0, sizeof *m);
    return oc_status_ok;
  }
  double *buf = malloc(4 * n * sizeof *buf);
  if (buf == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  size_t j = 0;
  for (size_t i = 0; i < r->n; i++) {
    if (group[i] != g) continue;
    buf[j] = r->pred[i];
    buf[n + j] = r->meas[i];
    buf[2 * n + j] = r->lo[i];
    buf[3 * n + j] = r->hi[i];
    j++;
  }
  enum oc_status st = oc_model_metrics_compute(buf, buf + n, buf + 2 * n, buf + 3 * n, n, m);
  free(buf);
  return st;
}

/* The device a training subset is fitted for: an empirical roofline is
 * derived again from the subset so that held-out rows do not shape it. */
static enum oc_status fold_device(const struct oc_model_device *device,
                                  const struct oc_model_data *train, struct oc_model_device *out) {
  if (strcmp(device->source, "empirical") != 0) {
    *out = *device;
    return oc_status_ok;
  }
  return oc_model_device_empirical(train, out);
}

static enum oc_status subset(const struct oc_model_data *data, const bool *keep,
                             struct oc_model_data **out) {
  enum oc_status st = oc_model_data_create(out);
  if (st != oc_status_ok) return st;
  struct oc_model_data *d = *out;
  memcpy(d->fingerprint, data->fingerprint, sizeof d->fingerprint);
  memcpy(d->target, data->target, sizeof d->target);
  memcpy(d->device_name, data->device_name, sizeof d->device_name);
  memcpy(d->isa, data->isa, sizeof d->isa);
  d->threads = data->threads;
  for (size_t i = 0; i < data->n && st == oc_status_ok; i++)
    if (keep[i]) st = oc_model_data_add(d, &data->samples[i].op, data->samples[i].median_us);
  return st;
}

static enum oc_status cv_kernels(const struct oc_model_data *data,
                                 const struct oc_model_device *device,
                                 const struct oc_model_fit_opts *opts,
                                 struct oc_model_cv_report *r) {
  size_t n = data->n;
  int k = opts->folds;
  if (n < (size_t)k)
    return oc__fail(oc_status_invalid_argument, "cross-validation: %zu rows for %d folds", n, k);
  int *fold = malloc(n * sizeof *fold);
  bool *keep = malloc(n * sizeof *keep);
  struct oc_model_data *train = NULL;
  struct oc_model *model = NULL;
  enum oc_status st = oc_status_ok;
  if (fold == NULL || keep == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  st = report_alloc(r, n, (size_t)k);
  if (st == oc_status_ok) st = oc__model_folds(n, k, opts->seed ^ UINT64_C(0x6376), fold);
  if (st != oc_status_ok) goto done;
  for (int f = 0; f < k; f++) {
    for (size_t i = 0; i < n; i++) keep[i] = fold[i] != f;
    struct oc_model_device dev;
    st = subset(data, keep, &train);
    if (st == oc_status_ok) st = fold_device(device, train, &dev);
    if (st == oc_status_ok) st = oc_model_fit(train, &dev, NULL, opts, &model);
    if (st != oc_status_ok) {
      oc__fail_prefix(st, "fold %d of %d: ", f + 1, k);
      goto done;
    }
    struct oc_model_cv_fold *fo = &r->folds[f];
    oc__strfmt(fo->name, sizeof fo->name, "fold %d", f + 1);
    fo->n_train_rows = train->n;
    for (size_t i = 0; i < n; i++) {
      if (fold[i] != f) continue;
      struct oc_model_prediction p;
      st = oc_model_predict_op(model, &data->samples[i].op, &p);
      if (st != oc_status_ok) goto done;
      r->pred[i] = p.us;
      r->lo[i] = p.lo_us;
      r->hi[i] = p.hi_us;
      r->meas[i] = data->samples[i].median_us;
      fo->n_test++;
    }
    st = fold_metrics(r, fold, f, &fo->metrics);
    if (st != oc_status_ok) goto done;
    oc_model_free(model);
    model = NULL;
    oc_model_data_free(train);
    train = NULL;
  }
  st = oc_model_metrics_compute(r->pred, r->meas, r->lo, r->hi, n, &r->overall);
done:
  oc_model_free(model);
  oc_model_data_free(train);
  free(fold);
  free(keep);
  return st;
}

static enum oc_status add_kernels(struct oc__opset *set, const struct oc_net *net) {
  for (int32_t i = 0; i < net->n_kernels; i++) {
    if (net->kernels[i].step != oc_net_step_op) continue;
    enum oc_status st = oc__opset_add(set, &net->kernels[i].op);
    if (st != oc_status_ok) return st;
  }
  return oc_status_ok;
}

static enum oc_status cv_networks(const struct oc_model_data *data,
                                  const struct oc_model_device *device,
                                  const struct oc_model_netset *nets, enum oc_model_cv cv,
                                  const struct oc_model_fit_opts *opts,
                                  struct oc_model_cv_report *r) {
  size_t n = nets->n;
  int *group = malloc(n * sizeof *group);
  bool *keep = malloc((data->n ? data->n : 1) * sizeof *keep);
  struct oc_model_net_sample *train_items = malloc(n * sizeof *train_items);
  const char **names = calloc(n, sizeof *names);
  struct oc__opset train_ops, test_ops;
  struct oc_model_data *train = NULL;
  struct oc_model *model = NULL;
  enum oc_status st = oc_status_ok;
  memset(&train_ops, 0, sizeof train_ops);
  memset(&test_ops, 0, sizeof test_ops);
  if (group == NULL || keep == NULL || train_items == NULL || names == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  int n_groups = 0;
  if (cv == oc_model_cv_family) {
    for (size_t i = 0; i < n; i++) {
      int g = 0;
      while (g < n_groups && strcmp(names[g], nets->items[i].family) != 0) g++;
      if (g == n_groups) names[n_groups++] = nets->items[i].family;
      group[i] = g;
    }
    if (n_groups < 2) {
      st = oc__fail(oc_status_invalid_argument,
                    "leave-one-family-out: the %zu networks are all of family '%s'; it needs at "
                    "least 2 families",
                    n, n > 0 ? nets->items[0].family : "");
      goto done;
    }
  } else {
    if (n < 2) {
      st = oc__fail(oc_status_invalid_argument, "k-fold over networks: %zu network; need >= 2", n);
      goto done;
    }
    n_groups = opts->folds < (int)n ? opts->folds : (int)n;
    st = oc__model_folds(n, n_groups, opts->seed ^ UINT64_C(0x6e6574), group);
    if (st != oc_status_ok) goto done;
  }
  st = report_alloc(r, n, (size_t)n_groups);
  if (st != oc_status_ok) goto done;
  r->networks = true;
  for (int g = 0; g < n_groups; g++) {
    struct oc_model_netset train_nets = {0, 0, train_items};
    oc__opset_clear(&train_ops);
    oc__opset_clear(&test_ops);
    for (size_t i = 0; i < n; i++) {
      if (group[i] == g) {
        st = add_kernels(&test_ops, nets->items[i].net);
      } else {
        train_items[train_nets.n++] = nets->items[i];
        st = add_kernels(&train_ops, nets->items[i].net);
      }
      if (st != oc_status_ok) goto done;
    }
    struct oc_model_cv_fold *fo = &r->folds[g];
    if (cv == oc_model_cv_family)
      oc__strcpy(fo->name, sizeof fo->name, names[g]);
    else
      oc__strfmt(fo->name, sizeof fo->name, "fold %d", g + 1);
    for (size_t i = 0; i < data->n; i++) {
      const struct oc_op *op = &data->samples[i].op;
      keep[i] = !(oc__opset_has(&test_ops, op) && !oc__opset_has(&train_ops, op));
      if (!keep[i]) fo->excluded_rows++;
    }
    struct oc_model_device dev;
    st = subset(data, keep, &train);
    if (st == oc_status_ok) st = fold_device(device, train, &dev);
    if (st == oc_status_ok) st = oc_model_fit(train, &dev, &train_nets, opts, &model);
    if (st != oc_status_ok) {
      oc__fail_prefix(st, "held-out %s: ", fo->name);
      goto done;
    }
    fo->n_train_rows = train->n;
    fo->n_train_nets = train_nets.n;
    for (size_t i = 0; i < n; i++) {
      if (group[i] != g) continue;
      struct oc_model_net_prediction p;
      st = oc_model_predict_net(model, nets->items[i].net, NULL, &p);
      if (st != oc_status_ok) goto done;
      r->pred[i] = p.us;
      r->lo[i] = p.lo_us;
      r->hi[i] = p.hi_us;
      r->meas[i] = nets->items[i].measured_us;
      fo->n_test++;
    }
    st = fold_metrics(r, group, g, &fo->metrics);
    if (st != oc_status_ok) goto done;
    oc_model_free(model);
    model = NULL;
    oc_model_data_free(train);
    train = NULL;
  }
  st = oc_model_metrics_compute(r->pred, r->meas, r->lo, r->hi, n, &r->overall);
done:
  oc_model_free(model);
  oc_model_data_free(train);
  oc__opset_clear(&train_ops);
  oc__opset_clear(&test_ops);
  free(group);
  free(keep);
  free(train_items);
  free(names);
  return st;
}

enum oc_status oc_model_cross_validate(const struct oc_model_data *data,
                                       const struct oc_model_device *device,
                                       const struct oc_model_netset *nets, enum oc_model_cv cv,
                                       const struct oc_model_fit_opts *opts_in,
                                       struct oc_model_cv_report *report) {
  struct oc_model_fit_opts opts;
  if (opts_in != NULL)
    opts = *opts_in;
  else
    oc_model_fit_opts_default(&opts);
  opts.progress = NULL;
  memset(report, 0, sizeof *report);
  report->cv = cv;
  if (data == NULL || device == NULL)
    return oc__fail(oc_status_invalid_argument, "cross-validation: no data or device");
  enum oc_status st;
  if (nets == NULL || nets->n == 0) {
    if (cv == oc_model_cv_family)
      return oc__fail(oc_status_invalid_argument,
                      "leave-one-family-out holds out network families: it needs measured "
                      "networks");
    st = cv_kernels(data, device, &opts, report);
  } else {
    st = cv_networks(data, device, nets, cv, &opts, report);
  }
  if (st != oc_status_ok) oc_model_cv_report_clear(report);
  return st;
}
