/* probe_stats.c - robust statistics of timing samples: order statistics
 * (min, percentiles, median), MAD, mean/stddev/CV, and a distribution-free
 * confidence interval of the median.
 *
 * Timing samples are skewed to the right (interrupts and cache misses only
 * ever add time), so the median and its order-statistic interval are the
 * figures opcost stops on and reports first; mean and CV are given for
 * comparison with tools that use them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "probes/probe_internal.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Percentile q in [0,1] of sorted[0..n): linear interpolation between the
 * order statistics at rank q*(n-1) (NumPy's default, Hyndman-Fan type 7). */
static double percentile(const double *sorted, size_t n, double q) {
  double rank = q * (double)(n - 1);
  size_t lo = (size_t)floor(rank);
  size_t hi = lo + 1 < n ? lo + 1 : lo;
  double frac = rank - (double)lo;
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

/* z such that P(|Z| <= z) = confidence for a standard normal Z; bisection
 * on erfc (60 halvings reach double precision from [0, 40]). */
static double normal_quantile(double confidence) {
  double alpha = 1.0 - confidence;
  double lo = 0.0, hi = 40.0;
  for (int i = 0; i < 60; i++) {
    double mid = 0.5 * (lo + hi);
    if (erfc(mid / sqrt(2.0)) > alpha)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

/* 1-based rank l of the lower end of the median's interval: the largest l
 * with P(Bin(n, 1/2) <= l - 1) <= alpha / 2; the interval is
 * [x(l), x(n - l + 1)]. Exact sum of the binomial up to n = 200 (0.5^200 is
 * still a normal double), normal approximation above. 1 when even the
 * widest interval [min, max] covers less than asked (n <= 5 at 95 %). */
static size_t median_ci_rank(size_t n, double confidence) {
  double half_alpha = (1.0 - confidence) / 2.0;
  if (n <= 200) {
    double pmf = ldexp(1.0, -(int)n); /* P(X = 0) */
    double cdf = 0.0;
    size_t l = 0;
    for (size_t k = 0; k < n; k++) {
      cdf += pmf; /* cdf = P(X <= k) */
      if (cdf > half_alpha) break;
      l = k + 1;
      pmf = pmf * (double)(n - k) / (double)(k + 1);
    }
    return l < 1 ? 1 : l;
  }
  double z = normal_quantile(confidence);
  double l = floor(((double)n - z * sqrt((double)n)) / 2.0);
  return l < 1.0 ? 1 : (size_t)l;
}

enum oc_status oc_stats_compute(const double *samples, size_t n, double confidence,
                                struct oc_stats *stats) {
  double *sorted = NULL;
  double *dev = NULL;
  enum oc_status st = oc_status_ok;
  if (n < 1) return oc__fail(oc_status_invalid_argument, "statistics of 0 samples");
  if (!(confidence > 0.0 && confidence < 1.0))
    return oc__fail(oc_status_invalid_argument, "confidence: value '%g' must be in (0, 1)",
                    confidence);
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(samples[i]))
      return oc__fail(oc_status_invalid_argument, "sample %zu is not a finite number", i);
  }
  sorted = malloc(n * sizeof *sorted);
  dev = malloc(n * sizeof *dev);
  if (sorted == NULL || dev == NULL) {
    st = oc__fail(oc_status_out_of_memory, "statistics of %zu samples: out of memory", n);
    goto done;
  }
  memcpy(sorted, samples, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, cmp_double);

  struct oc_stats s;
  memset(&s, 0, sizeof s);
  s.n = (int64_t)n;
  s.min_us = sorted[0];
  s.max_us = sorted[n - 1];
  s.median_us = percentile(sorted, n, 0.5);
  s.p10_us = percentile(sorted, n, 0.1);
  s.p90_us = percentile(sorted, n, 0.9);

  /* Mean and variance by Welford's update: no cancellation on long runs. */
  double mean = 0.0, m2 = 0.0;
  for (size_t i = 0; i < n; i++) {
    double delta = samples[i] - mean;
    mean += delta / (double)(i + 1);
    m2 += delta * (samples[i] - mean);
  }
  s.mean_us = mean;
  s.stddev_us = n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0;
  s.cv = mean != 0.0 ? s.stddev_us / fabs(mean) : 0.0;

  for (size_t i = 0; i < n; i++) dev[i] = fabs(sorted[i] - s.median_us);
  qsort(dev, n, sizeof *dev, cmp_double);
  s.mad_us = percentile(dev, n, 0.5);

  size_t l = median_ci_rank(n, confidence);
  size_t u = n - l + 1;
  if (u < l) u = l;
  s.confidence = confidence;
  s.ci_low_us = sorted[l - 1];
  s.ci_high_us = sorted[u - 1];
  double half = fmax(s.median_us - s.ci_low_us, s.ci_high_us - s.median_us);
  if (half <= 0.0)
    s.ci_rel = 0.0;
  else if (s.median_us > 0.0)
    s.ci_rel = half / s.median_us;
  else
    s.ci_rel = INFINITY;
  *stats = s;
done:
  free(sorted);
  free(dev);
  return st;
}
