/* model_metrics.c - how accurate a prediction is: the figures papers on
 * latency predictors publish (MAPE, RMSPE, share within +-5 % and +-10 %),
 * the tail (p95, max), the bias (share under-predicted), whether the order
 * of candidates is kept (Kendall tau-b, Spearman rho) and, with intervals,
 * their empirical coverage. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "models/model_internal.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/* Linear interpolation between order statistics of sorted v (NumPy's default). */
static double percentile_sorted(const double *v, size_t n, double q) {
  if (n == 1) return v[0];
  double pos = q * (double)(n - 1);
  size_t lo = (size_t)floor(pos);
  size_t hi = lo + 1 < n ? lo + 1 : lo;
  double frac = pos - (double)lo;
  return v[lo] + (v[hi] - v[lo]) * frac;
}

struct ranked {
  double value;
  size_t index;
};

static int cmp_ranked(const void *a, const void *b) {
  const struct ranked *x = a, *y = b;
  return x->value < y->value ? -1 : x->value > y->value ? 1 : 0;
}

/* Ranks 1..n, ties get the mean of their ranks. */
static void average_ranks(const double *v, size_t n, struct ranked *tmp, double *rank) {
  for (size_t i = 0; i < n; i++) {
    tmp[i].value = v[i];
    tmp[i].index = i;
  }
  qsort(tmp, n, sizeof *tmp, cmp_ranked);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && tmp[j + 1].value == tmp[i].value) j++;
    double r = ((double)i + (double)j) / 2 + 1;
    for (size_t k = i; k <= j; k++) rank[tmp[k].index] = r;
    i = j + 1;
  }
}

static double pearson(const double *a, const double *b, size_t n) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= (double)n;
  mb /= (double)n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

/* Kendall's tau-b over all pairs: O(n^2), bounded by the number of items
 * a cross-validation predicts (tens of thousands at most). */
static double kendall_tau_b(const double *a, const double *b, size_t n) {
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = i + 1; j < n; j++) {
      double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0)
        ties_a++;
      else if (db == 0)
        ties_b++;
      else if ((da > 0) == (db > 0))
        concordant++;
      else
        discordant++;
    }
  }
  double denom = sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
  return denom > 0 ? (concordant - discordant) / denom : NAN;
}

enum oc_status oc_model_metrics_compute(const double *pred, const double *meas, const double *lo,
                                        const double *hi, size_t n, struct oc_model_metrics *m) {
  if (n < 1) return oc__fail(oc_status_invalid_argument, "metrics: no items to compare");
  if ((lo == NULL) != (hi == NULL))
    return oc__fail(oc_status_invalid_argument, "metrics: give both interval ends or neither");
  for (size_t i = 0; i < n; i++) {
    if (!(meas[i] > 0) || !isfinite(meas[i]))
      return oc__fail(oc_status_invalid_argument,
                      "metrics: item %zu: measurement %g must be positive and finite", i, meas[i]);
    if (!isfinite(pred[i]))
      return oc__fail(oc_status_invalid_argument, "metrics: item %zu: prediction %g is not finite",
                      i, pred[i]);
  }
  enum oc_status st = oc_status_ok;
  double *ape = malloc(n * sizeof *ape);
  double *ra = malloc(n * sizeof *ra);
  double *rb = malloc(n * sizeof *rb);
  struct ranked *tmp = malloc(n * sizeof *tmp);
  if (ape == NULL || ra == NULL || rb == NULL || tmp == NULL) {
    st = oc__fail(oc_status_out_of_memory, "metrics: out of memory for %zu items", n);
    goto done;
  }
  memset(m, 0, sizeof *m);
  m->n = n;
  double sum_ape = 0, sum_sq = 0, within5 = 0, within10 = 0, under = 0, covered = 0;
  for (size_t i = 0; i < n; i++) {
    double rel = (pred[i] - meas[i]) / meas[i];
    ape[i] = fabs(rel);
    sum_ape += ape[i];
    sum_sq += rel * rel;
    /* A small slack keeps exact boundary cases (a 5.0 % error) inside. */
    if (ape[i] <= 0.05 + 1e-12) within5++;
    if (ape[i] <= 0.10 + 1e-12) within10++;
    if (pred[i] < meas[i]) under++;
    if (lo != NULL && meas[i] >= lo[i] && meas[i] <= hi[i]) covered++;
  }
  double dn = (double)n;
  m->mape = sum_ape / dn;
  m->rmspe = sqrt(sum_sq / dn);
  m->within5 = within5 / dn;
  m->within10 = within10 / dn;
  m->under = under / dn;
  m->coverage = lo != NULL ? covered / dn : NAN;
  qsort(ape, n, sizeof *ape, cmp_double);
  m->p95_ape = percentile_sorted(ape, n, 0.95);
  m->max_ape = ape[n - 1];
  if (n < 2) {
    m->kendall_tau = NAN;
    m->spearman_rho = NAN;
  } else {
    m->kendall_tau = kendall_tau_b(pred, meas, n);
    average_ranks(pred, n, tmp, ra);
    average_ranks(meas, n, tmp, rb);
    m->spearman_rho = pearson(ra, rb, n);
  }
done:
  free(ape);
  free(ra);
  free(rb);
  free(tmp);
  return st;
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

json_t *oc_model_metrics_to_json(const struct oc_model_metrics *m) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  json_object_set_new(o, "n", json_integer((json_int_t)m->n));
  json_object_set_new(o, "mape", num_or_null(m->mape));
  json_object_set_new(o, "rmspe", num_or_null(m->rmspe));
  json_object_set_new(o, "within5", num_or_null(m->within5));
  json_object_set_new(o, "within10", num_or_null(m->within10));
  json_object_set_new(o, "p95_ape", num_or_null(m->p95_ape));
  json_object_set_new(o, "max_ape", num_or_null(m->max_ape));
  json_object_set_new(o, "under", num_or_null(m->under));
  json_object_set_new(o, "kendall_tau", num_or_null(m->kendall_tau));
  json_object_set_new(o, "spearman_rho", num_or_null(m->spearman_rho));
  json_object_set_new(o, "coverage", num_or_null(m->coverage));
  return o;
}
