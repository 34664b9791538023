/* space_hash.c - the phenotype hash: a hash of the expanded network (its
 * kernels, their op fields, the tensors they read and write, the output
 * tensor) computed without building the network.
 *
 * Two gene vectors are one candidate when they build the same kernels, and
 * layer arguments do not always tell: an NB201 cell drops the edges that
 * leave a node with no input, so different cells can expand to the same
 * kernels. The hash therefore works on kernels. A block's kernels depend
 * only on what the block keeps (its layers' ops, fields and inputs) and on
 * the shape entering it, so each distinct block is expanded once, as a
 * small network, and remembered with tensor numbers relative to the block;
 * hashing a vector then walks its blocks, renumbers their kernels' tensors
 * to the network's numbering and mixes them in. The result equals, kernel
 * for kernel, a hash of the network oc_space_decode builds (the slow path
 * below computes exactly that, and the tests compare the two), so its
 * partition is the network's.
 *
 * The block memo belongs to the space, which is otherwise immutable: a
 * mutex guards it, entries are never moved or freed before the space, and
 * past SP_MEMO_MAX_KERNELS kernels new blocks are expanded without being
 * remembered (same values, no memory growth). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "spaces/space_internal.h"

#define SP_MEMO_MAX_KERNELS 4000000

struct memo_entry {
  uint64_t key[2];
  enum oc_status status;
  char *message; /* why the block does not build (status != ok) */
  int32_t n_kernels;
  uint64_t *word;    /* per kernel: what it computes (op, fields, shapes) */
  int32_t (*io)[4];  /* per kernel: n_inputs, input 0, input 1, output (local) */
  int32_t n_tensors; /* tensors the block adds (its input excluded) */
  int32_t out_local; /* its output tensor (0: its input) */
  struct oc_tensor_shape out;
};

/* Readers probe the current table without the lock; writers (under it)
 * publish an entry with a release store, and a grown table with another,
 * keeping retired tables alive: a reader on an old table can only miss an
 * entry, and then takes the lock. */
struct memo_table {
  size_t cap;
  _Atomic(struct memo_entry *) *slot;
};

struct sp_memo {
  pthread_mutex_t lock;
  _Atomic(struct memo_table *) table;
  struct memo_table **retired;
  size_t n_retired;
  size_t n, kernels;
};

static inline uint64_t mix(uint64_t h, uint64_t v) {
  v *= UINT64_C(0x9E3779B97F4A7C15);
  v ^= v >> 32;
  h ^= v;
  h *= UINT64_C(0xBF58476D1CE4E5B9);
  h ^= h >> 31;
  return h;
}

/* What a kernel computes, apart from which tensors it reads and writes. */
static uint64_t kernel_word(const struct oc_net *net, const struct oc_net_kernel *k) {
  uint64_t h = mix(UINT64_C(0x243f6a8885a308d3), (uint64_t)k->step);
  if (k->step == oc_net_step_op) {
    h = mix(mix(h, (uint64_t)k->op.kind), (uint64_t)k->op.dtype);
    for (int f = 0; f < oc_field__count; f++)
      h = mix(h, (uint64_t)(int64_t)oc_op_get(&k->op, (enum oc_field)f));
  }
  const struct oc_tensor_shape *s = &net->tensors[k->output].shape;
  h = mix(mix(h, (uint64_t)k->heads), (uint64_t)k->offset);
  h = mix(mix(mix(mix(h, (uint64_t)s->n), (uint64_t)s->h), (uint64_t)s->w), (uint64_t)s->c);
  return h;
}

static uint64_t head_hash(const struct oc_space *sp, int32_t h, int32_t w, int32_t c) {
  uint64_t x = mix(UINT64_C(0x13198a2e03707344), (uint64_t)sp->dtype);
  return mix(mix(mix(x, (uint64_t)h), (uint64_t)w), (uint64_t)c);
}

/* One mix per kernel: its word plus its tensor numbers, each scaled by its
 * own odd constant (tensor numbers are small, so the sum is distinct). */
static uint64_t mix_kernel(uint64_t h, uint64_t word, int32_t n_in, int32_t in0, int32_t in1,
                           int32_t out) {
  uint64_t t = word + (uint64_t)n_in * UINT64_C(0xA0761D6478BD642F) +
               (uint64_t)(int64_t)(in0 + 2) * UINT64_C(0xE7037ED1A0B428DB) +
               (uint64_t)(int64_t)(n_in > 1 ? in1 + 2 : 0) * UINT64_C(0x8EBC6AF09C88C6E3) +
               (uint64_t)(int64_t)(out + 2) * UINT64_C(0x589965CC75374CC3);
  return mix(h, t);
}

static uint64_t finish(uint64_t h, int32_t output_tensor) {
  uint64_t z = mix(h, (uint64_t)(int64_t)output_tensor);
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* The same hash from a built network (the slow path, and the reference). */
static uint64_t net_hash(const struct oc_space *sp, const struct oc_net *net) {
  uint64_t h = head_hash(sp, net->input.h, net->input.w, net->input.c);
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    h = mix_kernel(h, kernel_word(net, k), k->n_inputs, k->input[0], k->input[1], k->output);
  }
  return finish(h, net->output_tensor);
}

/* ---- memo ------------------------------------------------------------------------- */

static void entry_free(struct memo_entry *e) {
  if (e == NULL) return;
  free(e->message);
  free(e->word);
  free(e->io);
  free(e);
}

static void table_free(struct memo_table *t) {
  if (t == NULL) return;
  free((void *)t->slot);
  free(t);
}

void oc__space_memo_free(struct oc_space *sp) {
  struct sp_memo *m = sp->memo;
  if (m == NULL) return;
  struct memo_table *t = atomic_load(&m->table);
  for (size_t i = 0; t && i < t->cap; i++) entry_free(atomic_load(&t->slot[i]));
  table_free(t);
  for (size_t i = 0; i < m->n_retired; i++) table_free(m->retired[i]);
  free(m->retired);
  pthread_mutex_destroy(&m->lock);
  free(m);
  sp->memo = NULL;
}

enum oc_status oc__space_memo_init(struct oc_space *sp) {
  struct sp_memo *m = calloc(1, sizeof *m);
  if (m == NULL || pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m);
    return oc__fail(oc_status_out_of_memory, "out of memory");
  }
  atomic_init(&m->table, NULL);
  sp->memo = m;
  return oc_status_ok;
}

static struct memo_entry *table_find(const struct memo_table *t, const uint64_t key[2]) {
  if (t == NULL) return NULL;
  size_t j = key[0] & (t->cap - 1);
  for (;;) {
    struct memo_entry *e = atomic_load_explicit(&t->slot[j], memory_order_acquire);
    if (e == NULL) return NULL;
    if (e->key[0] == key[0] && e->key[1] == key[1]) return e;
    j = (j + 1) & (t->cap - 1);
  }
}

static struct memo_table *table_new(size_t cap) {
  struct memo_table *t = malloc(sizeof *t);
  if (t == NULL) return NULL;
  t->cap = cap;
  t->slot = malloc(cap * sizeof *t->slot);
  if (t->slot == NULL) {
    free(t);
    return NULL;
  }
  for (size_t i = 0; i < cap; i++) atomic_init(&t->slot[i], NULL);
  return t;
}

static void table_put(struct memo_table *t, struct memo_entry *e) {
  size_t j = e->key[0] & (t->cap - 1);
  while (atomic_load_explicit(&t->slot[j], memory_order_relaxed) != NULL)
    j = (j + 1) & (t->cap - 1);
  atomic_store_explicit(&t->slot[j], e, memory_order_release);
}

/* Under the lock: makes room for one more entry. */
static bool memo_reserve(struct sp_memo *m) {
  struct memo_table *t = atomic_load_explicit(&m->table, memory_order_relaxed);
  if (t && 2 * (m->n + 1) <= t->cap) return true;
  struct memo_table *g = table_new(t ? 2 * t->cap : 1024);
  struct memo_table **r = t ? realloc(m->retired, (m->n_retired + 1) * sizeof *r) : m->retired;
  if (g == NULL || (t && r == NULL)) {
    table_free(g);
    return false;
  }
  for (size_t i = 0; t && i < t->cap; i++) {
    struct memo_entry *e = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
    if (e) table_put(g, e);
  }
  if (t) {
    m->retired = r;
    m->retired[m->n_retired++] = t;
  }
  atomic_store_explicit(&m->table, g, memory_order_release);
  return true;
}

/* Expands block b of genes on `in` as a small network. A block that does
 * not build gives an entry with its status and message. */
static struct memo_entry *expand(const struct oc_space *sp, const int32_t *genes, int32_t b,
                                 const struct oc_tensor_shape *in, const uint64_t key[2]) {
  struct memo_entry *e = calloc(1, sizeof *e);
  if (e == NULL) return NULL;
  memcpy(e->key, key, sizeof e->key);
  json_t *root = NULL;
  struct oc_net *net = NULL;
  e->status = oc__space_build_json(sp, genes, b, 1, in, &root, NULL);
  if (e->status == oc_status_ok) e->status = oc_net_load_json(root, sp->name, &net);
  json_decref(root);
  if (e->status != oc_status_ok) {
    size_t len = strlen(oc_errmsg()) + 1;
    if ((e->message = malloc(len)) != NULL) memcpy(e->message, oc_errmsg(), len);
    return e;
  }
  e->n_kernels = net->n_kernels;
  e->word = malloc((size_t)(net->n_kernels + 1) * sizeof *e->word);
  e->io = malloc((size_t)(net->n_kernels + 1) * sizeof *e->io);
  if (e->word == NULL || e->io == NULL) {
    oc_net_free(net);
    entry_free(e);
    return NULL;
  }
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    e->word[i] = kernel_word(net, k);
    e->io[i][0] = k->n_inputs;
    e->io[i][1] = k->input[0];
    e->io[i][2] = k->n_inputs > 1 ? k->input[1] : -1;
    e->io[i][3] = k->output;
  }
  e->n_tensors = net->n_tensors - 1;
  e->out_local = net->output_tensor;
  e->out = net->output;
  oc_net_free(net);
  return e;
}

/* The memo entry for block b on `in`; *owned when the caller must free it
 * (the memo is full). NULL when out of memory. */
static struct memo_entry *lookup(const struct oc_space *sp, const int32_t *genes, int32_t b,
                                 const struct oc_tensor_shape *in, const uint64_t key[2],
                                 bool *owned) {
  struct sp_memo *m = sp->memo;
  *owned = false;
  struct memo_entry *e = table_find(atomic_load_explicit(&m->table, memory_order_acquire), key);
  if (e != NULL) return e;
  pthread_mutex_lock(&m->lock);
  e = table_find(atomic_load_explicit(&m->table, memory_order_relaxed), key);
  if (e == NULL) {
    /* Expanding under the lock keeps one expansion per block; it happens
     * once per distinct block. */
    e = expand(sp, genes, b, in, key);
    if (e != NULL) {
      if (m->kernels + (size_t)e->n_kernels > SP_MEMO_MAX_KERNELS || !memo_reserve(m)) {
        *owned = true;
      } else {
        table_put(atomic_load_explicit(&m->table, memory_order_relaxed), e);
        m->n++;
        m->kernels += (size_t)e->n_kernels;
      }
    }
  }
  pthread_mutex_unlock(&m->lock);
  return e;
}

/* ---- the hash ------------------------------------------------------------------------ */

/* A block's tensor number in the network's numbering: 0 is the tensor
 * entering the block (`cur`), the block's own tensors follow the
 * network's `tensors` so far; -1 stays "none". */
static inline int32_t renumber(int32_t local, int32_t cur, int32_t tensors) {
  return local < 0 ? -1 : local == 0 ? cur : tensors + local - 1;
}

enum oc_status oc_space_phenotype_hash(const struct oc_space *sp, const int32_t *genes, size_t n,
                                       uint64_t *hash) {
  enum oc_status st = oc_space_check_genes(sp, genes, n);
  if (st != oc_status_ok) return st;
  if (sp->global_refs) {
    /* Blocks name layers outside themselves: build the network. */
    struct oc_net *net = NULL;
    st = oc_space_decode(sp, genes, n, &net);
    if (st == oc_status_ok) *hash = net_hash(sp, net);
    oc_net_free(net);
    return st;
  }
  int32_t dims[3];
  st = oc__space_input(sp, genes, dims);
  if (st != oc_status_ok) return st;
  struct oc_tensor_shape shape = {1, dims[0], dims[1], dims[2]};
  uint64_t h = head_hash(sp, dims[0], dims[1], dims[2]);
  int32_t cur = 0, tensors = 1;
  for (int32_t b = 0; b < sp->n_blocks; b++) {
    if (!oc__space_block_active(sp, b, genes)) continue;
    uint64_t key[2];
    int32_t layers;
    st = oc__space_block_key(sp, genes, b, &shape, key, &layers);
    if (st != oc_status_ok) return st;
    if (layers == 0) continue;
    bool owned;
    struct memo_entry *e = lookup(sp, genes, b, &shape, key, &owned);
    if (e == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
    if (e->status != oc_status_ok) {
      st = oc__fail(e->status, "%s: %s: %s", sp->origin, sp->blocks[b].path,
                    e->message ? e->message : oc_status_str(e->status));
      if (owned) entry_free(e);
      return st;
    }
    for (int32_t i = 0; i < e->n_kernels; i++) {
      const int32_t *io = e->io[i];
      h = mix_kernel(h, e->word[i], io[0], renumber(io[1], cur, tensors),
                     renumber(io[2], cur, tensors), renumber(io[3], cur, tensors));
    }
    cur = renumber(e->out_local, cur, tensors);
    tensors += e->n_tensors;
    shape = e->out;
    if (owned) entry_free(e);
  }
  *hash = finish(h, cur);
  return oc_status_ok;
}

enum oc_status oc_space_net_hash(const struct oc_space *sp, const struct oc_net *net,
                                 uint64_t *hash) {
  if (net->dtype != sp->dtype)
    return oc__fail(oc_status_invalid_argument, "network '%s' is %s, space '%s' is %s", net->name,
                    oc_dtype_name(net->dtype), sp->name, oc_dtype_name(sp->dtype));
  *hash = net_hash(sp, net);
  return oc_status_ok;
}
