/* search_archive.c - every candidate a search has evaluated, in evaluation
 * order, with a hash set on the phenotype hash: the archive answers "was
 * this network evaluated before?" in O(1), so no network is evaluated
 * twice, whatever gene vectors lead to it. Candidates are addressed by
 * index (their id); arrays grow by doubling. */
#include <stdlib.h>
#include <string.h>

#include "search/search_internal.h"

enum oc_status oc__archive_init(struct oc__archive *a, size_t n_genes) {
  memset(a, 0, sizeof *a);
  a->n_genes = n_genes;
  a->mask = 1023;
  a->keys = calloc(a->mask + 1, sizeof *a->keys);
  a->vals = calloc(a->mask + 1, sizeof *a->vals);
  if (a->keys == NULL || a->vals == NULL) {
    oc__archive_clear(a);
    return oc__fail(oc_status_out_of_memory, "archive: out of memory");
  }
  return oc_status_ok;
}

void oc__archive_clear(struct oc__archive *a) {
  free(a->cand);
  free(a->genes);
  free(a->keys);
  free(a->vals);
  free(a->front);
  memset(a, 0, sizeof *a);
}

static inline size_t slot_of(uint64_t hash, size_t mask) {
  return (size_t)(hash ^ (hash >> 29)) & mask;
}

int64_t oc__archive_find(const struct oc__archive *a, uint64_t hash) {
  size_t j = slot_of(hash, a->mask);
  while (a->vals[j] != 0) {
    if (a->keys[j] == hash) return a->vals[j] - 1;
    j = (j + 1) & a->mask;
  }
  return -1;
}

static enum oc_status grow_set(struct oc__archive *a) {
  size_t cap = 2 * (a->mask + 1);
  uint64_t *keys = calloc(cap, sizeof *keys);
  int64_t *vals = calloc(cap, sizeof *vals);
  if (keys == NULL || vals == NULL) {
    free(keys);
    free(vals);
    return oc__fail(oc_status_out_of_memory, "archive: out of memory");
  }
  for (size_t i = 0; i <= a->mask; i++) {
    if (a->vals[i] == 0) continue;
    size_t j = slot_of(a->keys[i], cap - 1);
    while (vals[j] != 0) j = (j + 1) & (cap - 1);
    keys[j] = a->keys[i];
    vals[j] = a->vals[i];
  }
  free(a->keys);
  free(a->vals);
  a->keys = keys;
  a->vals = vals;
  a->mask = cap - 1;
  return oc_status_ok;
}

enum oc_status oc__archive_add(struct oc__archive *a, const struct oc__cand *c,
                               const int32_t *genes, int64_t *index) {
  if (a->n == a->cap) {
    int64_t cap = a->cap ? 2 * a->cap : 256;
    struct oc__cand *cand = realloc(a->cand, (size_t)cap * sizeof *cand);
    if (cand == NULL) return oc__fail(oc_status_out_of_memory, "archive: out of memory");
    a->cand = cand;
    int32_t *g = realloc(a->genes, (size_t)cap * (a->n_genes ? a->n_genes : 1) * sizeof *g);
    if (g == NULL) return oc__fail(oc_status_out_of_memory, "archive: out of memory");
    a->genes = g;
    a->cap = cap;
  }
  if (2 * ((size_t)a->n + 1) > a->mask + 1) {
    enum oc_status st = grow_set(a);
    if (st != oc_status_ok) return st;
  }
  int64_t i = a->n++;
  a->cand[i] = *c;
  a->cand[i].id = i;
  memcpy(a->genes + (size_t)i * a->n_genes, genes, a->n_genes * sizeof *genes);
  size_t j = slot_of(c->hash, a->mask);
  while (a->vals[j] != 0) j = (j + 1) & a->mask;
  a->keys[j] = c->hash;
  a->vals[j] = i + 1;
  *index = i;
  return oc_status_ok;
}
