/* search_pareto.c - ranking candidates: Deb's constraint domination, the
 * NSGA-II non-dominated sort and crowding distance, and the hypervolume
 * indicator (exact in two and three objectives, Monte Carlo above).
 *
 * Every point is minimized in every coordinate (maximized metrics are
 * negated before they get here). The 3-D hypervolume is a sweep over the
 * third objective: between consecutive z values the dominated region is a
 * prism whose base is the 2-D staircase of the points seen so far, kept
 * sorted by x (O(n^2) in all, enough for fronts of thousands). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_internal.h"

bool oc_search_dominates(const double *a, double viol_a, const double *b, double viol_b, size_t m) {
  bool fa = viol_a <= 0, fb = viol_b <= 0;
  if (fa != fb) return fa;
  if (!fa) return viol_a < viol_b;
  bool better = false;
  for (size_t k = 0; k < m; k++) {
    if (a[k] > b[k]) return false;
    if (a[k] < b[k]) better = true;
  }
  return better;
}

enum oc_status oc_search_nondominated_sort(const double *points, const double *violation, size_t n,
                                           size_t m, int32_t *rank) {
  if (n == 0) return oc_status_ok;
  int32_t *count = calloc(n, sizeof *count);    /* how many dominate i */
  size_t *start = calloc(n + 1, sizeof *start); /* i's dominated list in `list` */
  int32_t *queue = malloc(n * sizeof *queue);
  int32_t *list = NULL;
  enum oc_status st = oc_status_ok;
  if (count == NULL || start == NULL || queue == NULL) {
    st = oc__fail(oc_status_out_of_memory, "non-dominated sort: out of memory");
    goto done;
  }
  /* Two passes: count pairs, then record them (memory = pairs, <= n^2/2). */
  size_t pairs = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) {
      if (i == j) continue;
      double vi = violation ? violation[i] : 0, vj = violation ? violation[j] : 0;
      if (oc_search_dominates(points + i * m, vi, points + j * m, vj, m)) {
        pairs++;
        count[j]++;
      }
    }
    start[i + 1] = pairs;
  }
  list = malloc((pairs ? pairs : 1) * sizeof *list);
  if (list == NULL) {
    st = oc__fail(oc_status_out_of_memory, "non-dominated sort: out of memory");
    goto done;
  }
  for (size_t i = 0, k = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) {
      if (i == j) continue;
      double vi = violation ? violation[i] : 0, vj = violation ? violation[j] : 0;
      if (oc_search_dominates(points + i * m, vi, points + j * m, vj, m)) list[k++] = (int32_t)j;
    }
  }
  size_t head = 0, tail = 0;
  for (size_t i = 0; i < n; i++) {
    if (count[i] == 0) {
      rank[i] = 0;
      queue[tail++] = (int32_t)i;
    }
  }
  while (head < tail) {
    int32_t i = queue[head++];
    for (size_t k = start[i]; k < start[i + 1]; k++) {
      int32_t j = list[k];
      if (--count[j] == 0) {
        rank[j] = rank[i] + 1;
        queue[tail++] = j;
      }
    }
  }
done:
  free(count);
  free(start);
  free(queue);
  free(list);
  return st;
}

/* qsort has no context argument: sort (value, index) pairs instead. */
struct vi {
  double v;
  size_t i;
};

static int cmp_vi(const void *a, const void *b) {
  const struct vi *x = a, *y = b;
  if (x->v < y->v) return -1;
  if (x->v > y->v) return 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

void oc_search_crowding(const double *points, size_t m, const size_t *idx, size_t k,
                        double *distance) {
  for (size_t i = 0; i < k; i++) distance[i] = 0;
  if (k <= 2) {
    for (size_t i = 0; i < k; i++) distance[i] = HUGE_VAL;
    return;
  }
  struct vi *v = malloc(k * sizeof *v);
  if (v == NULL) {
    /* Without memory every member is as crowded as any: no preference. */
    return;
  }
  for (size_t o = 0; o < m; o++) {
    for (size_t i = 0; i < k; i++) v[i] = (struct vi){points[idx[i] * m + o], i};
    qsort(v, k, sizeof *v, cmp_vi);
    double lo = v[0].v, hi = v[k - 1].v;
    distance[v[0].i] = HUGE_VAL;
    distance[v[k - 1].i] = HUGE_VAL;
    if (!(hi > lo)) continue;
    for (size_t i = 1; i + 1 < k; i++)
      if (isfinite(distance[v[i].i])) distance[v[i].i] += (v[i + 1].v - v[i - 1].v) / (hi - lo);
  }
  free(v);
}

/* ---- hypervolume ------------------------------------------------------------------------- */

struct pt2 {
  double x, y;
};

static int cmp_x(const void *a, const void *b) {
  const struct pt2 *p = a, *q = b;
  if (p->x != q->x) return p->x < q->x ? -1 : 1;
  return (p->y > q->y) - (p->y < q->y);
}

static double hv2(struct pt2 *p, size_t n, double rx, double ry) {
  qsort(p, n, sizeof *p, cmp_x);
  double area = 0, best_y = ry;
  for (size_t i = 0; i < n; i++) {
    if (p[i].y < best_y) {
      area += (rx - p[i].x) * (best_y - p[i].y);
      best_y = p[i].y;
    }
  }
  return area;
}

struct pt3 {
  double x, y, z;
};

static int cmp_z(const void *a, const void *b) {
  const struct pt3 *p = a, *q = b;
  if (p->z != q->z) return p->z < q->z ? -1 : 1;
  if (p->x != q->x) return p->x < q->x ? -1 : 1;
  return (p->y > q->y) - (p->y < q->y);
}

/* Inserts (x, y) into a staircase sorted by x ascending, y descending, with
 * no point dominated; returns its new size. */
static size_t stair_insert(struct pt2 *s, size_t k, double x, double y) {
  /* Dominated by a member (x' <= x and y' <= y)? */
  for (size_t i = 0; i < k && s[i].x <= x; i++)
    if (s[i].y <= y) return k;
  size_t w = 0, pos = k;
  for (size_t i = 0; i < k; i++) {
    bool dominated = s[i].x >= x && s[i].y >= y;
    if (dominated) continue;
    if (pos == k && s[i].x > x) pos = w;
    s[w++] = s[i];
  }
  if (pos > w) pos = w;
  memmove(s + pos + 1, s + pos, (w - pos) * sizeof *s);
  s[pos] = (struct pt2){x, y};
  return w + 1;
}

static double stair_area(const struct pt2 *s, size_t k, double rx, double ry) {
  double area = 0, prev_y = ry;
  for (size_t i = 0; i < k; i++) {
    area += (rx - s[i].x) * (prev_y - s[i].y);
    prev_y = s[i].y;
  }
  return area;
}

static double hv3(struct pt3 *p, size_t n, const double *ref, struct pt2 *stair) {
  qsort(p, n, sizeof *p, cmp_z);
  double volume = 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    k = stair_insert(stair, k, p[i].x, p[i].y);
    double z_next = i + 1 < n ? p[i + 1].z : ref[2];
    if (z_next > p[i].z) volume += stair_area(stair, k, ref[0], ref[1]) * (z_next - p[i].z);
  }
  return volume;
}

enum oc_status oc_search_hypervolume(const double *points, size_t n, size_t m, const double *ref,
                                     int64_t mc_samples, uint64_t mc_seed, double *hv,
                                     enum oc_search_hv_method *method, double *std_error) {
  *hv = 0;
  if (std_error) *std_error = 0;
  if (method) *method = m <= 3 ? oc_search_hv_exact : oc_search_hv_monte_carlo;
  if (m == 0) return oc__fail(oc_status_invalid_argument, "hypervolume of 0 objectives");
  /* Keep the points strictly inside the reference box. */
  size_t kept = 0;
  double *in = malloc((n ? n : 1) * m * sizeof *in);
  if (in == NULL) return oc__fail(oc_status_out_of_memory, "hypervolume: out of memory");
  for (size_t i = 0; i < n; i++) {
    bool inside = true;
    for (size_t k = 0; k < m; k++)
      if (!(points[i * m + k] < ref[k])) inside = false;
    if (inside) memcpy(in + kept++ * m, points + i * m, m * sizeof *in);
  }
  enum oc_status st = oc_status_ok;
  if (kept == 0) goto done;
  if (m == 1) {
    double best = in[0];
    for (size_t i = 1; i < kept; i++)
      if (in[i] < best) best = in[i];
    *hv = ref[0] - best;
  } else if (m == 2) {
    struct pt2 *p = malloc(kept * sizeof *p);
    if (p == NULL) {
      st = oc__fail(oc_status_out_of_memory, "hypervolume: out of memory");
      goto done;
    }
    for (size_t i = 0; i < kept; i++) p[i] = (struct pt2){in[2 * i], in[2 * i + 1]};
    *hv = hv2(p, kept, ref[0], ref[1]);
    free(p);
  } else if (m == 3) {
    struct pt3 *p = malloc(kept * sizeof *p);
    struct pt2 *stair = malloc((kept + 1) * sizeof *stair);
    if (p == NULL || stair == NULL) {
      free(p);
      free(stair);
      st = oc__fail(oc_status_out_of_memory, "hypervolume: out of memory");
      goto done;
    }
    for (size_t i = 0; i < kept; i++) p[i] = (struct pt3){in[3 * i], in[3 * i + 1], in[3 * i + 2]};
    *hv = hv3(p, kept, ref, stair);
    free(p);
    free(stair);
  } else {
    if (mc_samples < 1) {
      st = oc__fail(oc_status_invalid_argument,
                    "hypervolume of %zu objectives needs Monte Carlo samples (got %lld)", m,
                    (long long)mc_samples);
      goto done;
    }
    double lo[64], box = 1;
    if (m > 64) {
      st = oc__fail(oc_status_invalid_argument, "hypervolume of %zu objectives (at most 64)", m);
      goto done;
    }
    for (size_t k = 0; k < m; k++) {
      lo[k] = in[k];
      for (size_t i = 1; i < kept; i++)
        if (in[i * m + k] < lo[k]) lo[k] = in[i * m + k];
      box *= ref[k] - lo[k];
    }
    struct oc__rng rng;
    oc__rng_seed(&rng, mc_seed);
    int64_t hits = 0;
    double x[64];
    for (int64_t s = 0; s < mc_samples; s++) {
      for (size_t k = 0; k < m; k++) x[k] = lo[k] + oc__rng_double(&rng) * (ref[k] - lo[k]);
      for (size_t i = 0; i < kept; i++) {
        bool dom = true;
        for (size_t k = 0; k < m && dom; k++)
          if (in[i * m + k] > x[k]) dom = false;
        if (dom) {
          hits++;
          break;
        }
      }
    }
    double p = (double)hits / (double)mc_samples;
    *hv = box * p;
    if (std_error) *std_error = box * sqrt(p * (1 - p) / (double)mc_samples);
  }
done:
  free(in);
  return st;
}
