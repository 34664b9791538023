/* search_algo.c - the three search algorithms over gene vectors, all with
 * categorical operators (a gene's value is a choice index; nothing is
 * rounded from a real number):
 *
 *   nsga2      NSGA-II (Deb et al. 2002): binary tournaments on (rank,
 *              crowding), uniform crossover, per-gene resampling mutation
 *              (a gene mutates with probability pm to another of its
 *              choices, uniformly), environmental selection by
 *              non-dominated sort under constraint domination and crowding.
 *   random     uniform samples of the space (the baseline every search
 *              must beat), a trace point every `population` evaluations.
 *   evolution  OFA's evolution finder (Cai et al. 2020): the best
 *              parent_ratio of the population survive, children by
 *              mutation and by crossover of parents; ranked feasible first,
 *              then by violation, then by the first objective. Sampling a
 *              feasible child is retried at most max_retries times (OFA
 *              loops until one is found).
 *
 * Every child is deduplicated against the archive by phenotype hash: a
 * duplicate is not re-evaluated and another child is tried, at most
 * max_retries times, then a fresh random sample is tried as often; when
 * that fails too the space is taken as exhausted and the search ends.
 * Randomness comes from one xoshiro stream seeded by the run's seed and
 * from oc_space_sample's indexed stream, so a seed reproduces a run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_internal.h"

#define SAMPLE_STREAM UINT64_C(0x5ea2c4d15a3b1e07)
#define HV_STREAM UINT64_C(0x68797065727600ff)

bool oc__search_done(const struct oc__search *s) {
  return s->archive.n >= s->cfg->budget || s->exhausted || s->stopped ||
         (s->cfg->stop && *s->cfg->stop);
}

static bool check_stop(struct oc__search *s) {
  if (s->cfg->stop && *s->cfg->stop) s->stopped = true;
  return oc__search_done(s);
}

enum oc_status oc__search_trace(struct oc__search *s) {
  struct oc__archive *a = &s->archive;
  enum oc_status fst = oc__journal_flush(s);
  if (fst != oc_status_ok) return fst;
  size_t k = a->n_front;
  if (s->points_cap < (k ? k : 1) * s->m) {
    size_t cap = (k ? k : 1) * s->m * 2;
    double *p = realloc(s->points, cap * sizeof *p);
    if (p == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
    s->points = p;
    s->points_cap = cap;
  }
  for (size_t i = 0; i < k; i++) oc__search_objectives(s, a->front[i], s->points + i * s->m);
  struct oc__trace_row row;
  memset(&row, 0, sizeof row);
  row.generation = s->generation;
  row.evaluated = a->n;
  row.feasible = s->n_feasible;
  row.front_size = k;
  row.hv = NAN;
  if (k > 0) {
    enum oc_status st =
        oc_search_hypervolume(s->points, k, s->m, s->ref, s->cfg->hv_samples,
                              s->cfg->seed ^ HV_STREAM, &row.hv, &row.method, &row.std_error);
    if (st != oc_status_ok) return st;
  } else {
    row.method = s->m <= 3 ? oc_search_hv_exact : oc_search_hv_monte_carlo;
  }
  if (s->n_trace == s->cap_trace) {
    int64_t cap = s->cap_trace ? 2 * s->cap_trace : 64;
    struct oc__trace_row *t = realloc(s->trace, (size_t)cap * sizeof *t);
    if (t == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
    s->trace = t;
    s->cap_trace = cap;
  }
  s->trace[s->n_trace++] = row;
  if (s->cfg->progress) {
    struct oc_search_progress p = {a->n, s->cfg->budget, s->generation, row.feasible,
                                   k,    row.hv,         "search"};
    s->cfg->progress(s->cfg->progress_ctx, &p);
  }
  return oc_status_ok;
}

/* ---- candidates ------------------------------------------------------------------------------ */

/* Evaluates genes (canonicalized in place) unless the archive has its
 * phenotype: *index is the candidate, *fresh whether it was new. */
static enum oc_status offer(struct oc__search *s, int32_t *genes, int64_t *index, bool *fresh) {
  uint64_t hash;
  enum oc_status st = oc__search_identify(s, genes, &hash);
  if (st != oc_status_ok) return st;
  int64_t at = oc__archive_find(&s->archive, hash);
  if (at >= 0) {
    *index = at;
    *fresh = false;
    s->duplicates++;
    return oc_status_ok;
  }
  *fresh = true;
  return oc__search_evaluate(s, genes, hash, index);
}

/* A new uniformly sampled candidate, at most max_retries tries; *index -1
 * when every try was a duplicate (the space is then exhausted). With
 * screen, a sample failing the cheap constraints is retried too (the last
 * try is taken whatever it is). */
static enum oc_status sample_new(struct oc__search *s, bool screen, int64_t *index) {
  *index = -1;
  int32_t *g = s->scratch;
  int32_t tries = s->cfg->max_retries;
  for (int32_t t = 0; t < tries; t++) {
    enum oc_status st =
        oc_space_sample(s->space, s->cfg->seed ^ SAMPLE_STREAM, s->sample_index++, g, s->n_genes);
    if (st != oc_status_ok) return st;
    uint64_t hash;
    st = oc__search_identify(s, g, &hash);
    if (st != oc_status_ok) return st;
    if (oc__archive_find(&s->archive, hash) >= 0) {
      s->duplicates++;
      continue;
    }
    if (screen && t + 1 < tries) {
      bool ok;
      st = oc__search_screen(s, g, &ok);
      if (st != oc_status_ok) return st;
      if (!ok) {
        s->screened++;
        continue;
      }
    }
    return oc__search_evaluate(s, g, hash, index);
  }
  s->retries_exhausted++;
  s->exhausted = true;
  return oc_status_ok;
}

static void mutate(struct oc__search *s, int32_t *g, double pm) {
  for (size_t i = 0; i < s->n_genes; i++) {
    int32_t k = oc_space_gene_choices(s->space, i);
    if (k < 2 || oc__rng_double(&s->rng) >= pm) continue;
    int32_t v = (int32_t)oc__rng_below(&s->rng, (uint64_t)(k - 1));
    g[i] = v >= g[i] ? v + 1 : v;
  }
}

static void crossover(struct oc__search *s, const int32_t *a, const int32_t *b, int32_t *child) {
  for (size_t i = 0; i < s->n_genes; i++) child[i] = (oc__rng_next(&s->rng) >> 63) ? b[i] : a[i];
}

static double mutation_prob(const struct oc__search *s, double fallback) {
  if (s->cfg->mutation_prob > 0) return s->cfg->mutation_prob;
  return fallback > 0 ? fallback : 1.0 / (double)(s->n_genes ? s->n_genes : 1);
}

/* ---- random search -----------------------------------------------------------------------------
 */

static enum oc_status run_random(struct oc__search *s) {
  int32_t every = s->cfg->population > 0 ? s->cfg->population : 50;
  int32_t since = 0;
  enum oc_status st = oc_status_ok;
  while (!check_stop(s)) {
    int64_t index;
    st = sample_new(s, false, &index);
    if (st != oc_status_ok) return st;
    if (index < 0) break;
    if (++since == every) {
      since = 0;
      st = oc__search_trace(s);
      if (st == oc_status_ok)
        st = oc__search_hil_generation(s, s->archive.front, s->archive.n_front);
      if (st != oc_status_ok) return st;
      s->generation++;
    }
  }
  if (since > 0 || s->n_trace == 0) st = oc__search_trace(s);
  return st;
}

/* ---- NSGA-II
 * -------------------------------------------------------------------------------------- */

struct nsga {
  int64_t *pop, *next, *all;
  int32_t *rank;
  double *crowd, *pts, *viol, *dist;
  size_t *idx;
  size_t n_pop, cap;
};

static void nsga_free(struct nsga *n) {
  free(n->pop);
  free(n->next);
  free(n->all);
  free(n->rank);
  free(n->crowd);
  free(n->pts);
  free(n->viol);
  free(n->dist);
  free(n->idx);
}

/* Ranks and crowding of the candidates ids[0..k) into rank/crowd. */
static enum oc_status rank_members(struct oc__search *s, struct nsga *n, const int64_t *ids,
                                   size_t k, int32_t *rank, double *crowd) {
  for (size_t i = 0; i < k; i++) {
    oc__search_objectives(s, ids[i], n->pts + i * s->m);
    n->viol[i] =
        s->archive.cand[ids[i]].feasible
            ? 0
            : (s->archive.cand[ids[i]].violation > 0 ? s->archive.cand[ids[i]].violation : 1e-300);
  }
  enum oc_status st = oc_search_nondominated_sort(n->pts, n->viol, k, s->m, rank);
  if (st != oc_status_ok) return st;
  if (crowd == NULL) return oc_status_ok;
  int32_t max_rank = 0;
  for (size_t i = 0; i < k; i++)
    if (rank[i] > max_rank) max_rank = rank[i];
  for (int32_t r = 0; r <= max_rank; r++) {
    size_t c = 0;
    for (size_t i = 0; i < k; i++)
      if (rank[i] == r) n->idx[c++] = i;
    oc_search_crowding(n->pts, s->m, n->idx, c, n->dist);
    for (size_t j = 0; j < c; j++) crowd[n->idx[j]] = n->dist[j];
  }
  return oc_status_ok;
}

static size_t tournament(struct oc__search *s, const struct nsga *n) {
  size_t a = (size_t)oc__rng_below(&s->rng, n->n_pop);
  size_t b = (size_t)oc__rng_below(&s->rng, n->n_pop);
  if (n->rank[a] != n->rank[b]) return n->rank[a] < n->rank[b] ? a : b;
  if (n->crowd[a] != n->crowd[b]) return n->crowd[a] > n->crowd[b] ? a : b;
  return (oc__rng_next(&s->rng) >> 63) ? a : b;
}

/* Environmental selection: the best n_keep of all[0..k) into pop. */
static enum oc_status nsga_select(struct oc__search *s, struct nsga *n, size_t k, size_t n_keep) {
  enum oc_status st = rank_members(s, n, n->all, k, n->rank, NULL);
  if (st != oc_status_ok) return st;
  size_t kept = 0;
  for (int32_t r = 0; kept < n_keep; r++) {
    size_t c = 0;
    for (size_t i = 0; i < k; i++)
      if (n->rank[i] == r) n->idx[c++] = i;
    if (c == 0) break;
    if (kept + c <= n_keep) {
      for (size_t j = 0; j < c; j++) n->next[kept++] = n->all[n->idx[j]];
      continue;
    }
    oc_search_crowding(n->pts, s->m, n->idx, c, n->dist);
    /* The most isolated first; equal distances by id (deterministic). */
    while (kept < n_keep) {
      size_t best = c;
      for (size_t j = 0; j < c; j++) {
        if (n->idx[j] == SIZE_MAX) continue;
        if (best == c || n->dist[j] > n->dist[best] ||
            (n->dist[j] == n->dist[best] && n->all[n->idx[j]] < n->all[n->idx[best]]))
          best = j;
      }
      n->next[kept++] = n->all[n->idx[best]];
      n->idx[best] = SIZE_MAX;
    }
  }
  memcpy(n->pop, n->next, kept * sizeof *n->pop);
  n->n_pop = kept;
  return oc_status_ok;
}

static enum oc_status run_nsga2(struct oc__search *s) {
  size_t N = (size_t)(s->cfg->population > 0 ? s->cfg->population : 50);
  struct nsga n;
  memset(&n, 0, sizeof n);
  n.cap = 2 * N;
  n.pop = malloc(n.cap * sizeof *n.pop);
  n.next = malloc(n.cap * sizeof *n.next);
  n.all = malloc(n.cap * sizeof *n.all);
  n.rank = malloc(n.cap * sizeof *n.rank);
  n.crowd = malloc(n.cap * sizeof *n.crowd);
  n.pts = malloc(n.cap * s->m * sizeof *n.pts);
  n.viol = malloc(n.cap * sizeof *n.viol);
  n.dist = malloc(n.cap * sizeof *n.dist);
  n.idx = malloc(n.cap * sizeof *n.idx);
  int32_t *child = malloc((s->n_genes + 1) * sizeof *child);
  enum oc_status st = oc_status_ok;
  if (!n.pop || !n.next || !n.all || !n.rank || !n.crowd || !n.pts || !n.viol || !n.dist ||
      !n.idx || !child) {
    st = oc__fail(oc_status_out_of_memory, "NSGA-II: out of memory");
    goto done;
  }
  double pm = mutation_prob(s, 0);
  while (n.n_pop < N && !check_stop(s)) {
    int64_t index;
    st = sample_new(s, false, &index);
    if (st != oc_status_ok) goto done;
    if (index < 0) break;
    n.pop[n.n_pop++] = index;
  }
  st = oc__search_trace(s);
  if (st == oc_status_ok) st = oc__search_hil_generation(s, n.pop, n.n_pop);
  if (st != oc_status_ok || n.n_pop == 0) goto done;
  while (!check_stop(s)) {
    s->generation++;
    st = rank_members(s, &n, n.pop, n.n_pop, n.rank, n.crowd);
    if (st != oc_status_ok) goto done;
    size_t k = 0;
    for (size_t i = 0; i < n.n_pop; i++) n.all[k++] = n.pop[i];
    while (k < n.n_pop + N && !check_stop(s)) {
      int64_t index = -1;
      bool fresh = false;
      for (int32_t t = 0; t < s->cfg->max_retries && !fresh; t++) {
        const int32_t *a = oc__archive_genes(&s->archive, n.pop[tournament(s, &n)]);
        const int32_t *b = oc__archive_genes(&s->archive, n.pop[tournament(s, &n)]);
        if (oc__rng_double(&s->rng) < s->cfg->crossover_prob)
          crossover(s, a, b, child);
        else
          memcpy(child, a, s->n_genes * sizeof *child);
        mutate(s, child, pm);
        st = offer(s, child, &index, &fresh);
        if (st != oc_status_ok) goto done;
      }
      if (!fresh) {
        s->retries_exhausted++;
        st = sample_new(s, false, &index);
        if (st != oc_status_ok) goto done;
        if (index < 0) break;
      }
      n.all[k++] = index;
    }
    st = nsga_select(s, &n, k, N);
    if (st == oc_status_ok) st = oc__search_trace(s);
    if (st == oc_status_ok) st = oc__search_hil_generation(s, n.pop, n.n_pop);
    if (st != oc_status_ok) goto done;
  }
done:
  nsga_free(&n);
  free(child);
  return st;
}

/* ---- OFA-style evolution ------------------------------------------------------------------------
 */

/* Feasible first, then smaller violation, then the first objective, then id. */
static bool evo_better(struct oc__search *s, int64_t a, int64_t b) {
  const struct oc__cand *x = &s->archive.cand[a], *y = &s->archive.cand[b];
  if (x->feasible != y->feasible) return x->feasible;
  if (!x->feasible && x->violation != y->violation) return x->violation < y->violation;
  double ox[OC_SEARCH_MAX_OBJECTIVES], oy[OC_SEARCH_MAX_OBJECTIVES];
  oc__search_objectives(s, a, ox);
  oc__search_objectives(s, b, oy);
  if (ox[0] != oy[0]) return ox[0] < oy[0];
  return a < b;
}

static void evo_sort(struct oc__search *s, int64_t *pop, size_t n) {
  /* Insertion sort: populations are small, and it is stable. */
  for (size_t i = 1; i < n; i++) {
    int64_t x = pop[i];
    size_t j = i;
    while (j > 0 && evo_better(s, x, pop[j - 1])) {
      pop[j] = pop[j - 1];
      j--;
    }
    pop[j] = x;
  }
}

/* One child of parents[0..np): mutation or crossover, retried until new and
 * (when screening applies) feasible, at most max_retries times. */
static enum oc_status evo_child(struct oc__search *s, const int64_t *parents, size_t np,
                                bool by_mutation, int32_t *child, int64_t *index) {
  *index = -1;
  double pm = mutation_prob(s, 0.1);
  int32_t tries = s->cfg->max_retries;
  for (int32_t t = 0; t < tries; t++) {
    const int32_t *a = oc__archive_genes(&s->archive, parents[oc__rng_below(&s->rng, np)]);
    if (by_mutation) {
      memcpy(child, a, s->n_genes * sizeof *child);
      mutate(s, child, pm);
    } else {
      const int32_t *b = oc__archive_genes(&s->archive, parents[oc__rng_below(&s->rng, np)]);
      crossover(s, a, b, child);
    }
    uint64_t hash;
    enum oc_status st = oc__search_identify(s, child, &hash);
    if (st != oc_status_ok) return st;
    if (oc__archive_find(&s->archive, hash) >= 0) {
      s->duplicates++;
      continue;
    }
    if (t + 1 < tries) {
      bool ok;
      st = oc__search_screen(s, child, &ok);
      if (st != oc_status_ok) return st;
      if (!ok) {
        s->screened++;
        continue;
      }
    }
    return oc__search_evaluate(s, child, hash, index);
  }
  s->retries_exhausted++;
  return sample_new(s, true, index);
}

static enum oc_status run_evolution(struct oc__search *s) {
  size_t N = (size_t)(s->cfg->population > 0 ? s->cfg->population : 50);
  size_t np = (size_t)lround(s->cfg->parent_ratio * (double)N);
  if (np < 1) np = 1;
  if (np > N) np = N;
  size_t n_mut = (size_t)lround(s->cfg->mutate_ratio * (double)N);
  if (n_mut > N - np) n_mut = N - np;
  int64_t *pop = malloc(N * sizeof *pop);
  int32_t *child = malloc((s->n_genes + 1) * sizeof *child);
  enum oc_status st = oc_status_ok;
  size_t n_pop = 0;
  if (pop == NULL || child == NULL) {
    st = oc__fail(oc_status_out_of_memory, "evolution: out of memory");
    goto done;
  }
  while (n_pop < N && !check_stop(s)) {
    int64_t index;
    st = sample_new(s, true, &index);
    if (st != oc_status_ok) goto done;
    if (index < 0) break;
    pop[n_pop++] = index;
  }
  st = oc__search_trace(s);
  if (st == oc_status_ok) st = oc__search_hil_generation(s, pop, n_pop);
  if (st != oc_status_ok || n_pop == 0) goto done;
  while (!check_stop(s)) {
    s->generation++;
    evo_sort(s, pop, n_pop);
    size_t parents = np < n_pop ? np : n_pop;
    size_t k = parents;
    for (size_t j = 0; k < N && !check_stop(s); j++) {
      int64_t index;
      /* The parents stay where they are; children fill the rest. */
      st = evo_child(s, pop, parents, j < n_mut, child, &index);
      if (st != oc_status_ok) goto done;
      if (index < 0) break;
      pop[k++] = index;
    }
    n_pop = k;
    st = oc__search_trace(s);
    if (st == oc_status_ok) st = oc__search_hil_generation(s, pop, n_pop);
    if (st != oc_status_ok) goto done;
  }
done:
  free(pop);
  free(child);
  return st;
}

enum oc_status oc__search_algorithm(struct oc__search *s) {
  oc__rng_seed(&s->rng, s->cfg->seed);
  switch (s->cfg->algorithm) {
  case oc_search_algo_nsga2: return run_nsga2(s);
  case oc_search_algo_random: return run_random(s);
  case oc_search_algo_evolution: return run_evolution(s);
  case oc_search_algorithm__count: break;
  }
  return oc__fail(oc_status_invalid_argument, "unknown algorithm %d", (int)s->cfg->algorithm);
}
