/* lut_cache.c - the in-memory map key -> cost of one (device, threads) that
 * prediction and the search query millions of times: loaded from the store
 * once, then read-only. Open addressing with linear probing over a power of
 * two table at most half full; each slot keeps the key's hash and length so
 * that a probe compares bytes only on a real candidate. Keys live in one
 * arena.
 *
 * Kernel rows are indexed a second time by their op descriptor (the kind,
 * dtype and the kind's fields as integers), so that a caller holding a
 * struct oc_op (a network's kernel) looks it up without formatting its key,
 * which costs more than the lookup itself. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lut/lut_internal.h"

struct cache_slot {
  uint64_t hash;
  size_t key_off;
  size_t key_len; /* 0: empty slot (keys are never empty) */
  struct oc_lut_entry entry;
};

/* An op as the integers that identify it: kind, dtype, then every field of
 * OC_FIELD_MAP (zero when the kind does not use it). */
#define OP_WORDS (2 + oc_field__count)
_Static_assert(oc_field__count <= 32, "a kind's fields are one 32-bit mask");

struct op_slot {
  uint64_t hash;
  bool used;
  int32_t words[OP_WORDS];
  struct oc_lut_entry entry;
};

struct oc_lut_cache {
  char fingerprint[17];
  int32_t threads;
  double overhead_us;
  size_t count;
  size_t mask; /* capacity - 1 */
  struct cache_slot *slots;
  char *keys;
  size_t keys_len, keys_cap;
  uint32_t uses[oc_op_kind__count]; /* fields each kind uses, one bit each */
  size_t op_mask;
  struct op_slot *ops;
};

static uint64_t hash_words(const int32_t *w) {
  return oc__lut_hash((const char *)w, OP_WORDS * sizeof *w);
}

/* The identifying integers of op; false when its kind or dtype is out of
 * range. */
static bool op_words(const struct oc_lut_cache *c, const struct oc_op *op, int32_t *w) {
  if ((unsigned)op->kind >= (unsigned)oc_op_kind__count ||
      (unsigned)op->dtype >= (unsigned)oc_dtype__count)
    return false;
  uint32_t uses = c->uses[op->kind];
  w[0] = (int32_t)op->kind;
  w[1] = (int32_t)op->dtype;
  for (int f = 0; f < oc_field__count; f++)
    w[2 + f] = (uses >> f) & 1u ? oc_op_get(op, (enum oc_field)f) : 0;
  return true;
}

/* Indexes every kernel key of the string table by its op. */
static enum oc_status index_ops(struct oc_lut_cache *c) {
  for (int k = 0; k < oc_op_kind__count; k++)
    for (int f = 0; f < oc_field__count; f++)
      if (oc_op_kind_uses((enum oc_op_kind)k, (enum oc_field)f)) c->uses[k] |= 1u << f;
  size_t cap = 16;
  while (cap < c->count * 2) cap *= 2;
  c->ops = calloc(cap, sizeof *c->ops);
  if (c->ops == NULL) return oc__fail(oc_status_out_of_memory, "cache: out of memory");
  c->op_mask = cap - 1;
  for (size_t i = 0; i <= c->mask; i++) {
    const struct cache_slot *s = &c->slots[i];
    struct oc_op op;
    int32_t w[OP_WORDS];
    if (s->key_len == 0) continue;
    /* Block keys and keys of kinds this build lacks are not ops: skip them
     * before parsing (a failed parse formats a message, which costs). */
    const char *key = c->keys + s->key_off;
    char kind[32];
    size_t n = strcspn(key, ".");
    enum oc_op_kind k;
    if (n >= sizeof kind) continue;
    memcpy(kind, key, n);
    kind[n] = '\0';
    if (oc_op_kind_from_name(kind, &k) != oc_status_ok) continue;
    if (oc_op_parse(key, &op) != oc_status_ok || !op_words(c, &op, w)) continue;
    uint64_t h = hash_words(w);
    size_t j = (size_t)h & c->op_mask;
    while (c->ops[j].used) j = (j + 1) & c->op_mask;
    c->ops[j].hash = h;
    c->ops[j].used = true;
    memcpy(c->ops[j].words, w, sizeof w);
    c->ops[j].entry = s->entry;
  }
  oc_errclear();
  return oc_status_ok;
}

/* Doubles the table (rows written since the count was taken). */
static enum oc_status cache_grow(struct oc_lut_cache *c) {
  size_t cap = (c->mask + 1) * 2;
  struct cache_slot *slots = calloc(cap, sizeof *slots);
  if (slots == NULL) return oc__fail(oc_status_out_of_memory, "cache: out of memory");
  for (size_t i = 0; i <= c->mask; i++) {
    if (c->slots[i].key_len == 0) continue;
    size_t j = (size_t)c->slots[i].hash & (cap - 1);
    while (slots[j].key_len != 0) j = (j + 1) & (cap - 1);
    slots[j] = c->slots[i];
  }
  free(c->slots);
  c->slots = slots;
  c->mask = cap - 1;
  return oc_status_ok;
}

static enum oc_status cache_add(struct oc_lut_cache *c, const char *key,
                                const struct oc_lut_entry *entry) {
  size_t len = strlen(key);
  if (len == 0) return oc__fail(oc_status_invalid_argument, "cache: empty key");
  if ((c->count + 1) * 2 > c->mask + 1) {
    enum oc_status st = cache_grow(c);
    if (st != oc_status_ok) return st;
  }
  if (c->keys_len + len + 1 > c->keys_cap) {
    size_t cap = c->keys_cap ? c->keys_cap : 4096;
    while (cap < c->keys_len + len + 1) cap *= 2;
    char *keys = realloc(c->keys, cap);
    if (keys == NULL) return oc__fail(oc_status_out_of_memory, "cache: out of memory");
    c->keys = keys;
    c->keys_cap = cap;
  }
  uint64_t h = oc__lut_hash(key, len);
  size_t i = (size_t)h & c->mask;
  while (c->slots[i].key_len != 0) {
    struct cache_slot *s = &c->slots[i];
    if (s->hash == h && s->key_len == len && memcmp(c->keys + s->key_off, key, len) == 0) {
      s->entry = *entry; /* UNIQUE in the store: only reached by a caller's duplicate */
      return oc_status_ok;
    }
    i = (i + 1) & c->mask;
  }
  memcpy(c->keys + c->keys_len, key, len + 1);
  c->slots[i] = (struct cache_slot){h, c->keys_len, len, *entry};
  c->keys_len += len + 1;
  c->count++;
  return oc_status_ok;
}

enum oc_status oc_lut_cache_load(struct oc_lut *lut, const char *fingerprint, int32_t threads,
                                 struct oc_lut_cache **out) {
  struct oc_lut_cache *c = NULL;
  sqlite3_stmt *stmt = NULL;
  *out = NULL;
  struct oc_lut_filter filter = {.fingerprint = fingerprint, .threads = threads};
  int64_t rows = 0;
  enum oc_status st = oc_lut_count(lut, &filter, &rows);
  if (st != oc_status_ok) return st;
  c = calloc(1, sizeof *c);
  if (c == NULL) return oc__fail(oc_status_out_of_memory, "cache: out of memory");
  oc__strcpy(c->fingerprint, sizeof c->fingerprint, fingerprint);
  c->threads = threads;
  size_t cap = 16;
  while (cap < (size_t)rows * 2) cap *= 2;
  c->slots = calloc(cap, sizeof *c->slots);
  if (c->slots == NULL) {
    st = oc__fail(oc_status_out_of_memory, "cache: out of memory for %lld rows", (long long)rows);
    goto fail;
  }
  c->mask = cap - 1;
  st = oc__lut_prepare(lut,
                       "SELECT key, median_us, weight_bytes, activation_bytes, peak_bytes "
                       "FROM lut_row WHERE fingerprint = ?1 AND threads = ?2",
                       &stmt);
  if (st != oc_status_ok) goto fail;
  sqlite3_bind_text(stmt, 1, fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_int(stmt, 2, threads);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const unsigned char *key = sqlite3_column_text(stmt, 0);
    struct oc_lut_entry e = {
        .median_us = sqlite3_column_double(stmt, 1),
        .weight_bytes = sqlite3_column_int64(stmt, 2),
        .activation_bytes = sqlite3_column_int64(stmt, 3),
        .peak_bytes =
            sqlite3_column_type(stmt, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 4)};
    st = cache_add(c, key ? (const char *)key : "", &e);
    if (st != oc_status_ok) goto fail;
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    st = oc__lut_sqlfail(lut, rc, "loading the cache");
    goto fail;
  }
  st = oc_lut_get_overhead(lut, fingerprint, threads, &c->overhead_us);
  if (st == oc_status_ok) st = index_ops(c);
  if (st != oc_status_ok) goto fail;
  sqlite3_finalize(stmt);
  *out = c;
  return oc_status_ok;
fail:
  sqlite3_finalize(stmt);
  oc_lut_cache_free(c);
  return st;
}

void oc_lut_cache_free(struct oc_lut_cache *cache) {
  if (cache == NULL) return;
  free(cache->slots);
  free(cache->keys);
  free(cache->ops);
  free(cache);
}

const struct oc_lut_entry *oc_lut_cache_find(const struct oc_lut_cache *c, const char *key) {
  size_t len = strlen(key);
  uint64_t h = oc__lut_hash(key, len);
  size_t i = (size_t)h & c->mask;
  for (;;) {
    const struct cache_slot *s = &c->slots[i];
    if (s->key_len == 0) return NULL;
    if (s->hash == h && s->key_len == len && memcmp(c->keys + s->key_off, key, len) == 0)
      return &s->entry;
    i = (i + 1) & c->mask;
  }
}

bool oc_lut_cache_get(const struct oc_lut_cache *cache, const char *key, double *median_us) {
  const struct oc_lut_entry *e = oc_lut_cache_find(cache, key);
  if (e == NULL) return false;
  *median_us = e->median_us;
  return true;
}

const struct oc_lut_entry *oc_lut_cache_find_op(const struct oc_lut_cache *c,
                                               const struct oc_op *op) {
  int32_t w[OP_WORDS];
  if (!op_words(c, op, w)) return NULL;
  uint64_t h = hash_words(w);
  size_t i = (size_t)h & c->op_mask;
  for (;;) {
    const struct op_slot *s = &c->ops[i];
    if (!s->used) return NULL;
    if (s->hash == h && memcmp(s->words, w, sizeof w) == 0) return &s->entry;
    i = (i + 1) & c->op_mask;
  }
}

bool oc_lut_cache_get_op(const struct oc_lut_cache *cache, const struct oc_op *op,
                         double *median_us) {
  const struct oc_lut_entry *e = oc_lut_cache_find_op(cache, op);
  if (e == NULL) return false;
  *median_us = e->median_us;
  return true;
}

size_t oc_lut_cache_size(const struct oc_lut_cache *cache) { return cache->count; }
double oc_lut_cache_overhead_us(const struct oc_lut_cache *cache) { return cache->overhead_us; }
const char *oc_lut_cache_fingerprint(const struct oc_lut_cache *cache) {
  return cache->fingerprint;
}
int32_t oc_lut_cache_threads(const struct oc_lut_cache *cache) { return cache->threads; }
