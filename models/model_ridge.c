/* model_ridge.c - ridge regression, solved by its normal equations and a
 * Cholesky factorisation, with lambda chosen by k-fold cross-validation.
 *
 * This is opcost's own small solver rather than a library call: the systems
 * are tiny (at most OC_MODEL_MAX_FEATURES unknowns), the penalty makes them
 * positive definite, and the fitting rules (standardisation, unpenalised
 * intercept, sample weights for relative error) are part of the model's
 * definition. The objective is
 *   sum_i w_i (y_i - f(x_i))^2 / sum_i w_i  +  lambda |coef|^2
 * on standardised features, so one lambda grid suits any data size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "models/model_internal.h"

enum oc_status oc_cholesky_solve(double *a, double *b, size_t p) {
  for (size_t j = 0; j < p; j++) {
    double d = a[j * p + j];
    for (size_t k = 0; k < j; k++) d -= a[j * p + k] * a[j * p + k];
    if (!(d > 0) || !isfinite(d))
      return oc__fail(oc_status_internal,
                      "Cholesky: matrix not positive definite at pivot %zu (value %g)", j, d);
    double l = sqrt(d);
    a[j * p + j] = l;
    for (size_t i = j + 1; i < p; i++) {
      double s = a[i * p + j];
      for (size_t k = 0; k < j; k++) s -= a[i * p + k] * a[j * p + k];
      a[i * p + j] = s / l;
    }
  }
  for (size_t i = 0; i < p; i++) { /* L z = b */
    double s = b[i];
    for (size_t k = 0; k < i; k++) s -= a[i * p + k] * b[k];
    b[i] = s / a[i * p + i];
  }
  for (size_t ii = p; ii-- > 0;) { /* L^T x = z */
    double s = b[ii];
    for (size_t k = ii + 1; k < p; k++) s -= a[k * p + ii] * b[k];
    b[ii] = s / a[ii * p + ii];
  }
  return oc_status_ok;
}

void oc_ridge_clear(struct oc_ridge *r) {
  if (r == NULL) return;
  free(r->mean);
  free(r->scale);
  free(r->coef);
  memset(r, 0, sizeof *r);
}

double oc_ridge_predict(const struct oc_ridge *r, const double *x) {
  double y = r->intercept;
  for (size_t j = 0; j < r->p; j++) y += r->coef[j] * (x[j] - r->mean[j]) / r->scale[j];
  return y;
}

enum oc_status oc_ridge_fit(const double *x, const double *y, const double *w, size_t n, size_t p,
                            double lambda, struct oc_ridge *r) {
  enum oc_status st = oc_status_ok;
  double *a = NULL, *b = NULL;
  size_t *active = NULL;
  memset(r, 0, sizeof *r);
  if (n < 1 || p < 1 || !(lambda >= 0) || !isfinite(lambda))
    return oc__fail(oc_status_invalid_argument,
                    "ridge: n=%zu p=%zu lambda=%g (need n, p >= 1, "
                    "lambda >= 0)",
                    n, p, lambda);
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(y[i]))
      return oc__fail(oc_status_invalid_argument, "ridge: row %zu: target %g is not finite", i,
                      y[i]);
    if (w != NULL && (!(w[i] > 0) || !isfinite(w[i])))
      return oc__fail(oc_status_invalid_argument, "ridge: row %zu: weight %g must be > 0", i, w[i]);
    for (size_t j = 0; j < p; j++)
      if (!isfinite(x[i * p + j]))
        return oc__fail(oc_status_invalid_argument, "ridge: row %zu: feature %zu is %g", i, j,
                        x[i * p + j]);
  }
  r->p = p;
  r->lambda = lambda;
  r->mean = calloc(p, sizeof *r->mean);
  r->scale = calloc(p, sizeof *r->scale);
  r->coef = calloc(p, sizeof *r->coef);
  active = calloc(p, sizeof *active);
  a = calloc(p * p, sizeof *a);
  b = calloc(p, sizeof *b);
  if (r->mean == NULL || r->scale == NULL || r->coef == NULL || active == NULL || a == NULL ||
      b == NULL) {
    st = oc__fail(oc_status_out_of_memory, "ridge: out of memory for %zu features", p);
    goto done;
  }
  double sw = 0, ymean = 0;
  for (size_t i = 0; i < n; i++) {
    double wi = w != NULL ? w[i] : 1;
    sw += wi;
    ymean += wi * y[i];
    for (size_t j = 0; j < p; j++) r->mean[j] += wi * x[i * p + j];
  }
  ymean /= sw;
  for (size_t j = 0; j < p; j++) r->mean[j] /= sw;
  for (size_t i = 0; i < n; i++) {
    double wi = w != NULL ? w[i] : 1;
    for (size_t j = 0; j < p; j++) {
      double d = x[i * p + j] - r->mean[j];
      r->scale[j] += wi * d * d;
    }
  }
  /* A column that does not vary carries no information: it keeps
   * coefficient 0 and stays out of the system. */
  size_t m = 0;
  for (size_t j = 0; j < p; j++) {
    double sd = sqrt(r->scale[j] / sw);
    if (sd > 1e-12 * (fabs(r->mean[j]) + 1)) {
      r->scale[j] = sd;
      active[m++] = j;
    } else {
      r->scale[j] = 1;
    }
  }
  r->intercept = ymean;
  if (m == 0) goto done;
  for (size_t i = 0; i < n; i++) {
    double wi = (w != NULL ? w[i] : 1) / sw;
    double yi = y[i] - ymean;
    for (size_t u = 0; u < m; u++) {
      size_t ju = active[u];
      double zu = (x[i * p + ju] - r->mean[ju]) / r->scale[ju];
      b[u] += wi * zu * yi;
      for (size_t v = 0; v <= u; v++) {
        size_t jv = active[v];
        double zv = (x[i * p + jv] - r->mean[jv]) / r->scale[jv];
        a[u * m + v] += wi * zu * zv;
      }
    }
  }
  for (size_t u = 0; u < m; u++) {
    a[u * m + u] += lambda;
    for (size_t v = 0; v < u; v++) a[v * m + u] = a[u * m + v];
  }
  st = oc_cholesky_solve(a, b, m);
  if (st != oc_status_ok) {
    oc__fail_prefix(st, "ridge (lambda %g, %zu active features): ", lambda, m);
    goto done;
  }
  for (size_t u = 0; u < m; u++) r->coef[active[u]] = b[u];
done:
  free(a);
  free(b);
  free(active);
  if (st != oc_status_ok) oc_ridge_clear(r);
  return st;
}

enum oc_status oc__ridge_oof(const double *x, const double *y, const double *w, size_t n, size_t p,
                             double lambda, const int *fold, int k, double *oof) {
  enum oc_status st = oc_status_ok;
  double *xt = malloc(n * p * sizeof *xt);
  double *yt = malloc(n * sizeof *yt);
  double *wt = malloc(n * sizeof *wt);
  if (xt == NULL || yt == NULL || wt == NULL) {
    st = oc__fail(oc_status_out_of_memory, "ridge CV: out of memory for %zu rows", n);
    goto done;
  }
  for (int f = 0; f < k; f++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
      if (fold[i] == f) continue;
      memcpy(xt + m * p, x + i * p, p * sizeof *xt);
      yt[m] = y[i];
      wt[m] = w != NULL ? w[i] : 1;
      m++;
    }
    if (m == 0 || m == n) continue;
    struct oc_ridge r;
    st = oc_ridge_fit(xt, yt, wt, m, p, lambda, &r);
    if (st != oc_status_ok) goto done;
    for (size_t i = 0; i < n; i++)
      if (fold[i] == f) oof[i] = oc_ridge_predict(&r, x + i * p);
    oc_ridge_clear(&r);
  }
done:
  free(xt);
  free(yt);
  free(wt);
  return st;
}

enum oc_status oc_ridge_cv(const double *x, const double *y, const double *w, size_t n, size_t p,
                           const double *lambdas, size_t n_lambdas, int folds, uint64_t seed,
                           double *cv_rmse, size_t *best) {
  if (folds < 2 || (size_t)folds > n || n_lambdas < 1)
    return oc__fail(oc_status_invalid_argument,
                    "ridge CV: %d folds over %zu rows and %zu lambdas (need 2 <= folds <= rows)",
                    folds, n, n_lambdas);
  enum oc_status st = oc_status_ok;
  int *fold = malloc(n * sizeof *fold);
  double *oof = malloc(n * sizeof *oof);
  if (fold == NULL || oof == NULL) {
    st = oc__fail(oc_status_out_of_memory, "ridge CV: out of memory for %zu rows", n);
    goto done;
  }
  st = oc__model_folds(n, folds, seed, fold);
  if (st != oc_status_ok) goto done;
  *best = 0;
  for (size_t l = 0; l < n_lambdas; l++) {
    st = oc__ridge_oof(x, y, w, n, p, lambdas[l], fold, folds, oof);
    if (st == oc_status_internal) { /* singular at this lambda: not a candidate */
      cv_rmse[l] = INFINITY;
      st = oc_status_ok;
      continue;
    }
    if (st != oc_status_ok) goto done;
    double se = 0, sw = 0;
    for (size_t i = 0; i < n; i++) {
      double wi = w != NULL ? w[i] : 1;
      se += wi * (oof[i] - y[i]) * (oof[i] - y[i]);
      sw += wi;
    }
    cv_rmse[l] = sqrt(se / sw);
    if (cv_rmse[l] < cv_rmse[*best]) *best = l;
  }
  if (!isfinite(cv_rmse[*best]))
    st = oc__fail(oc_status_internal, "ridge CV: every lambda gave a singular system");
done:
  free(fold);
  free(oof);
  return st;
}
