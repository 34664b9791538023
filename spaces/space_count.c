/* space_count.c - exact sizes of a space, as decimal integers of any length.
 *
 * Gene vectors: the product of every gene's choice count. Canonical vectors
 * (vectors that differ in an active gene): space-wide genes that no stage
 * uses as its depth multiply in; for each depth gene g, the sum over its
 * choices c of the product, over the stages whose depth g sets, of the
 * choice counts of the genes of the blocks that depth keeps; stages of
 * constant depth multiply in their kept blocks' genes. For OFA-MobileNetV3
 * that is 25 x (9^2 + 9^3 + 9^4)^5.
 *
 * The numbers outgrow 64 bits (FBNet has 9^22 vectors), hence a small
 * base-10^9 big integer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "spaces/space_internal.h"

#define BIG_BASE 1000000000u

struct big {
  int32_t n; /* limbs in use; value 0 has n = 1, d[0] = 0 */
  int32_t cap;
  uint32_t *d; /* little-endian base-10^9 limbs */
};

static bool big_init(struct big *b, uint32_t v) {
  b->cap = 8;
  b->d = calloc((size_t)b->cap, sizeof *b->d);
  if (b->d == NULL) return false;
  b->n = 1;
  b->d[0] = v % BIG_BASE;
  if (v >= BIG_BASE) {
    b->d[1] = v / BIG_BASE;
    b->n = 2;
  }
  return true;
}

static void big_free(struct big *b) {
  free(b->d);
  b->d = NULL;
}

static bool big_reserve(struct big *b, int32_t n) {
  if (n <= b->cap) return true;
  uint32_t *d = realloc(b->d, (size_t)n * sizeof *d);
  if (d == NULL) return false;
  memset(d + b->cap, 0, (size_t)(n - b->cap) * sizeof *d);
  b->d = d;
  b->cap = n;
  return true;
}

/* b *= m (m < 2^32). */
static bool big_mul_small(struct big *b, uint32_t m) {
  if (!big_reserve(b, b->n + 2)) return false;
  uint64_t carry = 0;
  for (int32_t i = 0; i < b->n; i++) {
    uint64_t x = (uint64_t)b->d[i] * m + carry;
    b->d[i] = (uint32_t)(x % BIG_BASE);
    carry = x / BIG_BASE;
  }
  while (carry) {
    b->d[b->n++] = (uint32_t)(carry % BIG_BASE);
    carry /= BIG_BASE;
  }
  while (b->n > 1 && b->d[b->n - 1] == 0) b->n--;
  return true;
}

/* a += b. */
static bool big_add(struct big *a, const struct big *b) {
  int32_t n = a->n > b->n ? a->n : b->n;
  if (!big_reserve(a, n + 1)) return false;
  uint32_t carry = 0;
  for (int32_t i = 0; i < n; i++) {
    uint32_t x = (i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0) + carry;
    carry = x >= BIG_BASE;
    a->d[i] = carry ? x - BIG_BASE : x;
  }
  a->n = n;
  if (carry) a->d[a->n++] = carry;
  return true;
}

/* a *= b. */
static bool big_mul(struct big *a, const struct big *b) {
  int32_t n = a->n + b->n;
  uint64_t *acc = calloc((size_t)n + 1, sizeof *acc);
  if (acc == NULL || !big_reserve(a, n)) {
    free(acc);
    return false;
  }
  for (int32_t i = 0; i < a->n; i++) {
    uint64_t carry = 0;
    for (int32_t j = 0; j < b->n; j++) {
      uint64_t x = acc[i + j] + (uint64_t)a->d[i] * b->d[j] + carry;
      acc[i + j] = x % BIG_BASE;
      carry = x / BIG_BASE;
    }
    int32_t k = i + b->n;
    while (carry) {
      uint64_t x = acc[k] + carry;
      acc[k++] = x % BIG_BASE;
      carry = x / BIG_BASE;
    }
  }
  for (int32_t i = 0; i < n; i++) a->d[i] = (uint32_t)acc[i];
  a->n = n;
  while (a->n > 1 && a->d[a->n - 1] == 0) a->n--;
  free(acc);
  return true;
}

static bool big_text(const struct big *b, char *buf, size_t size) {
  size_t used = 0;
  int w = snprintf(buf, size, "%u", b->d[b->n - 1]);
  if (w < 0 || (size_t)w >= size) return false;
  used = (size_t)w;
  for (int32_t i = b->n - 2; i >= 0; i--) {
    w = snprintf(buf + used, size - used, "%09u", b->d[i]);
    if (w < 0 || (size_t)w >= size - used) return false;
    used += (size_t)w;
  }
  return true;
}

/* Product of the choice counts of the genes of blocks [0, depth) of a stage. */
static bool stage_product(const struct oc_space *sp, int32_t stage, int32_t depth,
                          struct big *out) {
  for (int32_t g = 0; g < sp->n_genes; g++) {
    const struct sp_gene *gene = &sp->genes[g];
    if (gene->stage == stage && gene->block < depth &&
        !big_mul_small(out, (uint32_t)gene->n_choices))
      return false;
  }
  return true;
}

enum oc_status oc__space_count(const struct oc_space *sp, enum oc_space_count what, char *decimal,
                               size_t size) {
  struct big total = {0, 0, NULL}, sum = {0, 0, NULL}, term = {0, 0, NULL};
  bool ok = big_init(&total, 1);
  bool *is_depth = calloc((size_t)sp->n_genes + 1, sizeof *is_depth);
  ok = ok && is_depth != NULL;
  for (int32_t s = 0; ok && s < sp->n_stages; s++)
    if (sp->stages[s].depth_gene >= 0) is_depth[sp->stages[s].depth_gene] = true;
  if (what == oc_space_count_vectors) {
    for (int32_t g = 0; ok && g < sp->n_genes; g++)
      ok = big_mul_small(&total, (uint32_t)sp->genes[g].n_choices);
  } else {
    for (int32_t g = 0; ok && g < sp->n_genes; g++) {
      if (sp->genes[g].stage >= 0) continue;
      if (!is_depth[g]) {
        ok = big_mul_small(&total, (uint32_t)sp->genes[g].n_choices);
        continue;
      }
      /* Sum over the depth gene's choices. */
      ok = big_init(&sum, 0);
      for (int32_t c = 0; ok && c < sp->genes[g].n_choices; c++) {
        ok = big_init(&term, 1);
        for (int32_t s = 0; ok && s < sp->n_stages; s++)
          if (sp->stages[s].depth_gene == g)
            ok = stage_product(sp, s, sp->stages[s].depth_of[c], &term);
        ok = ok && big_add(&sum, &term);
        big_free(&term);
      }
      ok = ok && big_mul(&total, &sum);
      big_free(&sum);
    }
    for (int32_t s = 0; ok && s < sp->n_stages; s++)
      if (sp->stages[s].depth_gene < 0)
        ok = stage_product(sp, s, sp->stages[s].depth_of[0], &total);
  }
  enum oc_status st = oc_status_ok;
  if (!ok)
    st = oc__fail(oc_status_out_of_memory, "out of memory counting space '%s'", sp->name);
  else if (!big_text(&total, decimal, size))
    st = oc__fail(oc_status_overflow, "the size of space '%s' does not fit in %zu bytes", sp->name,
                  size);
  big_free(&total);
  big_free(&sum);
  big_free(&term);
  free(is_depth);
  return st;
}
