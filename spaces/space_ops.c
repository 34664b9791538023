/* space_ops.c - what needs shapes: the ops a space can produce (for LUT
 * building) and matching a network against a space (encode).
 *
 * Both work block by block. A block's layers depend only on the tensor that
 * enters it and on the genes it reads, so a block is expanded as a small
 * network of its own (the network module does shape inference and block
 * expansion; this file knows no op). Expansions are memoized by their JSON,
 * which includes the input shape.
 *
 * enumerate_ops is a dynamic program over blocks: a state is the entering
 * tensor shape plus the values of genes read both before and after this
 * point (the resolution, a width multiplier, a stage's depth), so only
 * combinations some gene vector produces are listed. encode is a depth-first
 * search over the same blocks that keeps the choices whose layer keys match
 * the network's, and checks the network hash at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "spaces/space_internal.h"

/* Bounds on the work (each unit is one block evaluation). */
#define ENUM_MAX_STEPS 20000000
#define ENCODE_MAX_STEPS 2000000

/* ---- string map ------------------------------------------------------------------- */

struct smap {
  size_t cap, n;
  uint64_t *hash;
  char **key;
  int32_t *value;
};

static bool smap_grow(struct smap *m) {
  size_t cap = m->cap ? 2 * m->cap : 256;
  struct smap g = {cap, 0, calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(char *)),
                   calloc(cap, sizeof(int32_t))};
  if (!g.hash || !g.key || !g.value) {
    free(g.hash);
    free(g.key);
    free(g.value);
    return false;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (m->key[i] == NULL) continue;
    size_t j = m->hash[i] & (cap - 1);
    while (g.key[j]) j = (j + 1) & (cap - 1);
    g.hash[j] = m->hash[i];
    g.key[j] = m->key[i];
    g.value[j] = m->value[i];
    g.n++;
  }
  free(m->hash);
  free(m->key);
  free(m->value);
  *m = g;
  return true;
}

/* Slot of key: its value when present (*found = true), else where to put it. */
static size_t smap_find(const struct smap *m, const char *key, uint64_t h, bool *found) {
  size_t j = h & (m->cap - 1);
  while (m->key[j]) {
    if (m->hash[j] == h && strcmp(m->key[j], key) == 0) {
      *found = true;
      return j;
    }
    j = (j + 1) & (m->cap - 1);
  }
  *found = false;
  return j;
}

/* Inserts key (copied) with value unless present; *value gets the stored
 * value. -1 on allocation failure, 1 when inserted, 0 when present. */
static int smap_put(struct smap *m, const char *key, int32_t value, int32_t *stored) {
  if (2 * (m->n + 1) > m->cap && !smap_grow(m)) return -1;
  uint64_t h = oc__hash64_str(OC__HASH_SEED, key);
  bool found;
  size_t j = smap_find(m, key, h, &found);
  if (found) {
    if (stored) *stored = m->value[j];
    return 0;
  }
  size_t len = strlen(key) + 1;
  char *copy = malloc(len);
  if (copy == NULL) return -1;
  memcpy(copy, key, len);
  m->hash[j] = h;
  m->key[j] = copy;
  m->value[j] = value;
  m->n++;
  if (stored) *stored = value;
  return 1;
}

static void smap_free(struct smap *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->key[i]);
  free(m->hash);
  free(m->key);
  free(m->value);
  memset(m, 0, sizeof *m);
}

/* ---- 128-bit key map ----------------------------------------------------------------- */

struct kmap {
  size_t cap, n;
  uint64_t *k; /* 2 per slot */
  int32_t *value;
  bool *used;
};

static bool kmap_grow(struct kmap *m) {
  size_t cap = m->cap ? 2 * m->cap : 256;
  struct kmap g = {cap, 0, calloc(2 * cap, sizeof(uint64_t)), calloc(cap, sizeof(int32_t)),
                   calloc(cap, sizeof(bool))};
  if (!g.k || !g.value || !g.used) {
    free(g.k);
    free(g.value);
    free(g.used);
    return false;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->used[i]) continue;
    size_t j = m->k[2 * i] & (cap - 1);
    while (g.used[j]) j = (j + 1) & (cap - 1);
    g.k[2 * j] = m->k[2 * i];
    g.k[2 * j + 1] = m->k[2 * i + 1];
    g.value[j] = m->value[i];
    g.used[j] = true;
    g.n++;
  }
  free(m->k);
  free(m->value);
  free(m->used);
  *m = g;
  return true;
}

/* Like smap_put, for a 128-bit key. */
static int kmap_put(struct kmap *m, const uint64_t key[2], int32_t value, int32_t *stored) {
  if (2 * (m->n + 1) > m->cap && !kmap_grow(m)) return -1;
  size_t j = key[0] & (m->cap - 1);
  while (m->used[j]) {
    if (m->k[2 * j] == key[0] && m->k[2 * j + 1] == key[1]) {
      if (stored) *stored = m->value[j];
      return 0;
    }
    j = (j + 1) & (m->cap - 1);
  }
  m->k[2 * j] = key[0];
  m->k[2 * j + 1] = key[1];
  m->value[j] = value;
  m->used[j] = true;
  m->n++;
  if (stored) *stored = value;
  return 1;
}

static void kmap_free(struct kmap *m) {
  free(m->k);
  free(m->value);
  free(m->used);
  memset(m, 0, sizeof *m);
}

/* ---- block expansion with memo ----------------------------------------------------- */

struct expansion {
  enum oc_status status;
  struct oc_tensor_shape out;
  int32_t n_layers;
  char **keys; /* layer keys */
  int32_t n_kernels;
  struct oc_op *kernels;
  bool collected; /* its keys are in the enumerate result already */
};

struct expander {
  const struct oc_space *sp;
  struct kmap memo; /* block key -> index into list */
  struct expansion *list;
  int32_t n, cap;
  int64_t steps, builds;
  char message[512]; /* first failure, for enumerate */
};

static void expansion_free(struct expansion *x) {
  for (int32_t i = 0; i < x->n_layers; i++) free(x->keys ? x->keys[i] : NULL);
  free(x->keys);
  free(x->kernels);
}

static void expander_free(struct expander *E) {
  for (int32_t i = 0; i < E->n; i++) expansion_free(&E->list[i]);
  free(E->list);
  kmap_free(&E->memo);
}

/* Expands block b for genes (every gene the block reads is set) on `in`.
 * *x = NULL when the block keeps no layer. Returns out_of_memory or
 * unsupported; a block whose network fails to load gives ok with
 * (*x)->status set. */
static enum oc_status expand_block(struct expander *E, int32_t b, const int32_t *genes,
                                   const struct oc_tensor_shape *in, const struct expansion **x) {
  const struct oc_space *sp = E->sp;
  *x = NULL;
  E->steps++;
  if (!oc__space_block_active(sp, b, genes)) return oc_status_ok;
  if (sp->blocks[b].global_refs)
    return oc__fail(oc_status_unsupported,
                    "%s: %s names a layer outside its block by id; listing ops needs blocks "
                    "that only use their own layers and '@in'",
                    sp->origin, sp->blocks[b].path);
  uint64_t key[2];
  int32_t n_layers = 0;
  enum oc_status st = oc__space_block_key(sp, genes, b, in, key, &n_layers);
  if (st != oc_status_ok) return st;
  if (n_layers == 0) return oc_status_ok;
  int32_t index;
  int r = kmap_put(&E->memo, key, E->n, &index);
  if (r < 0) return oc__fail(oc_status_out_of_memory, "out of memory");
  if (r == 0) {
    *x = &E->list[index];
    return oc_status_ok;
  }
  json_t *root = NULL;
  st = oc__space_build_json(sp, genes, b, 1, in, &root, &n_layers);
  if (st != oc_status_ok) return st;
  if (E->n == E->cap) {
    int32_t cap = E->cap ? 2 * E->cap : 256;
    struct expansion *p = realloc(E->list, (size_t)cap * sizeof *p);
    if (p == NULL) {
      json_decref(root);
      return oc__fail(oc_status_out_of_memory, "out of memory");
    }
    E->list = p;
    E->cap = cap;
  }
  struct expansion *e = &E->list[E->n++];
  memset(e, 0, sizeof *e);
  struct oc_net *net = NULL;
  E->builds++;
  e->status = oc_net_load_json(root, sp->name, &net);
  json_decref(root);
  if (e->status != oc_status_ok) {
    if (E->message[0] == '\0')
      snprintf(E->message, sizeof E->message, "%s: %s: %s", sp->origin, sp->blocks[b].path,
               oc_errmsg());
    *x = e;
    return oc_status_ok;
  }
  e->out = net->output;
  e->keys = calloc((size_t)net->n_layers, sizeof *e->keys);
  e->kernels = calloc((size_t)net->n_kernels + 1, sizeof *e->kernels);
  st = e->keys && e->kernels ? oc_status_ok : oc__fail(oc_status_out_of_memory, "out of memory");
  for (int32_t i = 0; i < net->n_layers && st == oc_status_ok; i++) {
    size_t len = strlen(net->layers[i].key) + 1;
    if ((e->keys[i] = malloc(len)) == NULL) {
      st = oc__fail(oc_status_out_of_memory, "out of memory");
      break;
    }
    memcpy(e->keys[i], net->layers[i].key, len);
    e->n_layers = i + 1;
  }
  for (int32_t k = 0; k < net->n_kernels && st == oc_status_ok; k++)
    if (net->kernels[k].step == oc_net_step_op) e->kernels[e->n_kernels++] = net->kernels[k].op;
  oc_net_free(net);
  *x = e;
  return st;
}

/* ---- combinations of genes ---------------------------------------------------------- */

/* The genes of list that vals leaves unset (-1). */
static int32_t fresh_genes(const int32_t *list, int32_t n, const int32_t *vals, int32_t *out) {
  int32_t k = 0;
  for (int32_t i = 0; i < n; i++)
    if (vals[list[i]] == -1) out[k++] = list[i];
  return k;
}

/* The genes deciding what block b emits: its layers' genes and its stage's
 * depth gene. out needs n_genes + 1 entries; returns the count. */
static int32_t block_genes(const struct oc_space *sp, int32_t b, int32_t *out) {
  const struct sp_block *blk = &sp->blocks[b];
  int32_t n = 0;
  int32_t dg = blk->stage >= 0 ? sp->stages[blk->stage].depth_gene : -1;
  for (int32_t i = 0; i < blk->n_genes; i++) out[n++] = blk->genes[i];
  bool has = false;
  for (int32_t i = 0; i < n; i++) has |= out[i] == dg;
  if (dg >= 0 && !has) out[n++] = dg;
  return n;
}

/* Next combination of the fresh genes in vals (mixed radix); false after
 * the last. */
static bool next_combo(const struct oc_space *sp, const int32_t *fresh, int32_t n, int32_t *vals) {
  for (int32_t i = n - 1; i >= 0; i--) {
    if (++vals[fresh[i]] < sp->genes[fresh[i]].n_choices) return true;
    vals[fresh[i]] = 0;
  }
  return false;
}

/* vals with unset genes read as choice 0. */
static void scratch_vector(const struct oc_space *sp, const int32_t *vals, int32_t *out) {
  for (int32_t g = 0; g < sp->n_genes; g++) out[g] = vals[g] < 0 ? 0 : vals[g];
}

/* ---- enumerate_ops -------------------------------------------------------------------- */

struct state {
  struct oc_tensor_shape shape;
  int32_t *vals;
};

struct state_set {
  struct state *list;
  int32_t n, cap;
  struct kmap index; /* hash of (shape, vals) -> position */
  int32_t n_genes;
};

static void state_set_free(struct state_set *s) {
  for (int32_t i = 0; i < s->n; i++) free(s->list[i].vals);
  free(s->list);
  kmap_free(&s->index);
  memset(s, 0, sizeof *s);
}

static enum oc_status state_add(struct state_set *s, const struct oc_tensor_shape *shape,
                                const int32_t *vals) {
  /* Two independent 64-bit hashes of the shape and the set genes. */
  uint64_t key[2] = {UINT64_C(0x8a5cd789635d2dff), UINT64_C(0x121fd2155c472f96)};
  for (int i = 0; i < 2; i++) {
    uint64_t dims[4] = {(uint64_t)shape->n, (uint64_t)shape->h, (uint64_t)shape->w,
                        (uint64_t)shape->c};
    key[i] = oc__hash64(key[i], dims, sizeof dims);
    key[i] = oc__hash64(key[i], vals, (size_t)s->n_genes * sizeof *vals);
    key[i] ^= key[i] >> 29;
  }
  int32_t at;
  int r = kmap_put(&s->index, key, s->n, &at);
  if (r < 0) return oc__fail(oc_status_out_of_memory, "out of memory");
  if (r == 0) return oc_status_ok;
  if (s->n == s->cap) {
    int32_t cap = s->cap ? 2 * s->cap : 64;
    struct state *p = realloc(s->list, (size_t)cap * sizeof *p);
    if (p == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
    s->list = p;
    s->cap = cap;
  }
  struct state *st = &s->list[s->n];
  st->shape = *shape;
  st->vals = malloc((size_t)(s->n_genes ? s->n_genes : 1) * sizeof *st->vals);
  if (st->vals == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  memcpy(st->vals, vals, (size_t)s->n_genes * sizeof *vals);
  s->n++;
  return oc_status_ok;
}

static int key_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

struct collect {
  struct smap kernels, blocks;
};

static enum oc_status collect_expansion(struct collect *c, struct expansion *x) {
  if (x->collected) return oc_status_ok;
  x->collected = true;
  for (int32_t i = 0; i < x->n_layers; i++)
    if (smap_put(&c->blocks, x->keys[i], 0, NULL) < 0)
      return oc__fail(oc_status_out_of_memory, "out of memory");
  for (int32_t k = 0; k < x->n_kernels; k++) {
    char key[OC_KEY_MAX];
    enum oc_status st = oc_op_format(&x->kernels[k], key, sizeof key);
    if (st != oc_status_ok) return st;
    if (smap_put(&c->kernels, key, 0, NULL) < 0)
      return oc__fail(oc_status_out_of_memory, "out of memory");
  }
  return oc_status_ok;
}

static enum oc_status sorted_keys(const struct smap *m, char ***out, size_t *n) {
  *n = m->n;
  *out = calloc(m->n ? m->n : 1, sizeof **out);
  if (*out == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < m->cap; i++) {
    if (m->key[i] == NULL) continue;
    size_t len = strlen(m->key[i]) + 1;
    if (((*out)[k] = malloc(len)) == NULL)
      return oc__fail(oc_status_out_of_memory, "out of memory");
    memcpy((*out)[k++], m->key[i], len);
  }
  qsort(*out, *n, sizeof **out, key_cmp);
  return oc_status_ok;
}

void oc_space_ops_free(struct oc_space_ops *ops) {
  if (ops == NULL) return;
  for (size_t i = 0; ops->kernel_keys && i < ops->n_kernels; i++) free(ops->kernel_keys[i]);
  for (size_t i = 0; ops->block_keys && i < ops->n_blocks; i++) free(ops->block_keys[i]);
  free(ops->kernel_keys);
  free(ops->block_keys);
  free(ops->kernels);
  free(ops);
}

/* Initial states: the input shape for every resolution (or every
 * combination of the genes the input reads). */
static enum oc_status initial_states(const struct oc_space *sp, const int32_t *resolutions,
                                     size_t n_res, struct state_set *S, int32_t *vals,
                                     int32_t *scratch) {
  char buf[SP_MAX_STRING];
  for (int32_t g = 0; g < sp->n_genes; g++) vals[g] = -1;
  int32_t fresh[SP_MAX_GENES];
  int32_t res = sp->resolution_gene;
  size_t rounds = n_res ? n_res : 1;
  if (n_res && res < 0)
    return oc__fail(oc_status_invalid_argument,
                    "space '%s' has a fixed input size: it takes no resolutions", sp->name);
  for (size_t r = 0; r < rounds; r++) {
    int32_t custom = 0;
    if (n_res) {
      if (resolutions[r] < 1 || resolutions[r] > OC_FIELD_VALUE_MAX)
        return oc__fail(oc_status_invalid_argument, "resolution %d is out of range",
                        (int)resolutions[r]);
      vals[res] = -2;
      for (int32_t c = 0; c < sp->genes[res].n_choices; c++) {
        const struct sp_value *v = &sp->genes[res].choices[c].value;
        if ((v->type == sv_int && v->i == resolutions[r]) ||
            (v->type == sv_num && v->num == resolutions[r]))
          vals[res] = c;
      }
      if (vals[res] == -2) {
        /* A size the gene does not list: the input must be "$gene" square. */
        if (sp->input[0].kind != sp_gene || sp->input[1].kind != sp_gene ||
            sp->input[1].gene != res)
          return oc__fail(oc_status_unsupported,
                          "resolution %d is not a choice of %s and the input is not "
                          "{\"h\": \"$%s\", \"w\": \"$%s\"}",
                          (int)resolutions[r], sp->genes[res].name, sp->genes[res].name,
                          sp->genes[res].name);
        custom = resolutions[r];
      }
    }
    int32_t nf = fresh_genes(sp->input_genes, sp->n_input_genes, vals, fresh);
    for (int32_t i = 0; i < nf; i++) vals[fresh[i]] = 0;
    do {
      scratch_vector(sp, vals, scratch);
      int32_t dims[3];
      for (int d = 0; d < 3; d++) {
        struct sp_value v;
        oc__space_eval(sp, &sp->input[d], scratch, &v, buf);
        dims[d] = (int32_t)(v.type == sv_int ? v.i : (int64_t)v.num);
      }
      if (custom) dims[0] = dims[1] = custom;
      struct oc_tensor_shape shape = {1, dims[0], dims[1], dims[2]};
      /* Keep only genes read again later. */
      int32_t keep[SP_MAX_GENES];
      memcpy(keep, vals, (size_t)sp->n_genes * sizeof *keep);
      for (int32_t g = 0; g < sp->n_genes; g++)
        if (sp->last_block[g] < 0) keep[g] = -1;
      enum oc_status st = state_add(S, &shape, keep);
      if (st != oc_status_ok) return st;
    } while (next_combo(sp, fresh, nf, vals));
    for (int32_t i = 0; i < nf; i++) vals[fresh[i]] = -1;
    if (n_res) vals[res] = -1;
  }
  return oc_status_ok;
}

enum oc_status oc_space_enumerate_ops(const struct oc_space *sp, const int32_t *resolutions,
                                      size_t n_resolutions, struct oc_space_ops **ops) {
  *ops = NULL;
  if (sp->n_genes > SP_MAX_GENES)
    return oc__fail(oc_status_unsupported, "space '%s' has too many genes", sp->name);
  struct expander E;
  memset(&E, 0, sizeof E);
  E.sp = sp;
  struct collect C;
  memset(&C, 0, sizeof C);
  struct state_set cur, next;
  memset(&cur, 0, sizeof cur);
  memset(&next, 0, sizeof next);
  cur.n_genes = next.n_genes = sp->n_genes;
  int32_t *vals = malloc((size_t)(sp->n_genes + 1) * sizeof *vals);
  int32_t *scratch = malloc((size_t)(sp->n_genes + 1) * sizeof *scratch);
  int32_t *fresh = malloc((size_t)(sp->n_genes + 1) * sizeof *fresh);
  int32_t *keep = malloc((size_t)(sp->n_genes + 1) * sizeof *keep);
  int32_t *bgenes = malloc((size_t)(sp->n_genes + 1) * sizeof *bgenes);
  struct oc_space_ops *out = calloc(1, sizeof *out);
  enum oc_status st = vals && scratch && fresh && keep && bgenes && out
                          ? oc_status_ok
                          : oc__fail(oc_status_out_of_memory, "out of memory");
  if (st == oc_status_ok) st = initial_states(sp, resolutions, n_resolutions, &cur, vals, scratch);
  for (int32_t b = 0; b < sp->n_blocks && st == oc_status_ok; b++) {
    const struct sp_block *blk = &sp->blocks[b];
    for (int32_t s = 0; s < cur.n && st == oc_status_ok; s++) {
      memcpy(vals, cur.list[s].vals, (size_t)sp->n_genes * sizeof *vals);
      int32_t nb = block_genes(sp, b, bgenes);
      for (int32_t i = 0; i < nb; i++)
        if (vals[bgenes[i]] == -2)
          st = oc__fail(oc_status_unsupported,
                        "%s reads %s, so resolutions must be among its choices", blk->path,
                        sp->genes[bgenes[i]].name);
      if (st != oc_status_ok) break;
      int32_t nf = fresh_genes(bgenes, nb, vals, fresh);
      for (int32_t i = 0; i < nf; i++) vals[fresh[i]] = 0;
      do {
        if (E.steps > ENUM_MAX_STEPS) {
          st = oc__fail(oc_status_unsupported,
                        "space '%s': listing ops needs more than %d block evaluations", sp->name,
                        ENUM_MAX_STEPS);
          break;
        }
        scratch_vector(sp, vals, scratch);
        const struct expansion *x;
        st = expand_block(&E, b, scratch, &cur.list[s].shape, &x);
        if (st != oc_status_ok) break;
        if (x && x->status != oc_status_ok) {
          st = oc__fail(x->status, "%s", E.message);
          break;
        }
        if (x) st = collect_expansion(&C, (struct expansion *)x);
        if (st != oc_status_ok) break;
        memcpy(keep, vals, (size_t)sp->n_genes * sizeof *keep);
        for (int32_t g = 0; g < sp->n_genes; g++)
          if (keep[g] != -1 && sp->last_block[g] <= b) keep[g] = -1;
        st = state_add(&next, x ? &x->out : &cur.list[s].shape, keep);
      } while (st == oc_status_ok && next_combo(sp, fresh, nf, vals));
    }
    state_set_free(&cur);
    cur = next;
    memset(&next, 0, sizeof next);
    next.n_genes = sp->n_genes;
  }
  if (st == oc_status_ok) st = sorted_keys(&C.kernels, &out->kernel_keys, &out->n_kernels);
  if (st == oc_status_ok) st = sorted_keys(&C.blocks, &out->block_keys, &out->n_blocks);
  if (st == oc_status_ok) {
    out->kernels = calloc(out->n_kernels ? out->n_kernels : 1, sizeof *out->kernels);
    if (out->kernels == NULL) st = oc__fail(oc_status_out_of_memory, "out of memory");
    for (size_t i = 0; i < out->n_kernels && st == oc_status_ok; i++)
      st = oc_op_parse(out->kernel_keys[i], &out->kernels[i]);
    out->nets_built = E.builds;
  }
  state_set_free(&cur);
  state_set_free(&next);
  smap_free(&C.kernels);
  smap_free(&C.blocks);
  expander_free(&E);
  free(vals);
  free(scratch);
  free(fresh);
  free(keep);
  free(bgenes);
  if (st != oc_status_ok) {
    oc_space_ops_free(out);
    return st;
  }
  *ops = out;
  return oc_status_ok;
}

/* ---- encode ----------------------------------------------------------------------------- */

struct encoder {
  struct expander E;
  const struct oc_net *target;
  int32_t *scratch;
  int32_t *result;
  int32_t best_pos, best_block; /* deepest point reached, for the message */
  bool found;
};

static enum oc_status dfs(struct encoder *enc, int32_t b, int32_t pos, int32_t *vals,
                          struct oc_tensor_shape shape) {
  const struct oc_space *sp = enc->E.sp;
  if (pos > enc->best_pos || (pos == enc->best_pos && b > enc->best_block)) {
    enc->best_pos = pos;
    enc->best_block = b;
  }
  if (b == sp->n_blocks) {
    if (pos != enc->target->n_layers) return oc_status_ok;
    scratch_vector(sp, vals, enc->result);
    enum oc_status st = oc_space_canonicalize(sp, enc->result, enc->result, (size_t)sp->n_genes);
    if (st != oc_status_ok) return st;
    struct oc_net *net = NULL;
    st = oc_space_decode(sp, enc->result, (size_t)sp->n_genes, &net);
    if (st == oc_status_ok && net->hash == enc->target->hash) enc->found = true;
    oc_net_free(net);
    return st == oc_status_ok ? oc_status_ok : st;
  }
  const struct sp_block *blk = &sp->blocks[b];
  /* Heap, not stack: the recursion is as deep as the template has blocks. */
  int32_t *fresh = malloc((size_t)(2 * blk->n_genes + 2) * sizeof *fresh);
  if (fresh == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  int32_t *bgenes = fresh + blk->n_genes + 1;
  int32_t nb = block_genes(sp, b, bgenes);
  int32_t nf = fresh_genes(bgenes, nb, vals, fresh);
  for (int32_t i = 0; i < nf; i++) vals[fresh[i]] = 0;
  enum oc_status st = oc_status_ok;
  do {
    if (enc->E.steps > ENCODE_MAX_STEPS) {
      st = oc__fail(oc_status_unsupported,
                    "space '%s': matching needs more than %d block evaluations", sp->name,
                    ENCODE_MAX_STEPS);
      break;
    }
    scratch_vector(sp, vals, enc->scratch);
    const struct expansion *x;
    st = expand_block(&enc->E, b, enc->scratch, &shape, &x);
    if (st != oc_status_ok) break;
    if (x == NULL) {
      st = dfs(enc, b + 1, pos, vals, shape);
    } else if (x->status == oc_status_ok && pos + x->n_layers <= enc->target->n_layers) {
      bool match = true;
      for (int32_t i = 0; i < x->n_layers && match; i++)
        match = strcmp(x->keys[i], enc->target->layers[pos + i].key) == 0;
      if (match) st = dfs(enc, b + 1, pos + x->n_layers, vals, x->out);
    }
  } while (st == oc_status_ok && !enc->found && next_combo(sp, fresh, nf, vals));
  for (int32_t i = 0; i < nf; i++) vals[fresh[i]] = -1;
  free(fresh);
  return st;
}

enum oc_status oc_space_encode(const struct oc_space *sp, const struct oc_net *net, int32_t *genes,
                               size_t n) {
  if (n != (size_t)sp->n_genes)
    return oc__fail(oc_status_invalid_argument,
                    "space '%s': gene vector of length %zu, expected %d", sp->name, n,
                    (int)sp->n_genes);
  if (net->dtype != sp->dtype)
    return oc__fail(oc_status_not_found, "network '%s' is %s, space '%s' is %s", net->name,
                    oc_dtype_name(net->dtype), sp->name, oc_dtype_name(sp->dtype));
  struct encoder enc;
  memset(&enc, 0, sizeof enc);
  enc.E.sp = sp;
  enc.target = net;
  enc.best_block = -1;
  int32_t *vals = malloc((size_t)(sp->n_genes + 1) * sizeof *vals);
  enc.scratch = malloc((size_t)(sp->n_genes + 1) * sizeof *vals);
  enc.result = malloc((size_t)(sp->n_genes + 1) * sizeof *vals);
  enum oc_status st = vals && enc.scratch && enc.result
                          ? oc_status_ok
                          : oc__fail(oc_status_out_of_memory, "out of memory");
  char buf[SP_MAX_STRING];
  if (st == oc_status_ok) {
    for (int32_t g = 0; g < sp->n_genes; g++) vals[g] = -1;
    int32_t fresh[SP_MAX_GENES];
    int32_t nf = fresh_genes(sp->input_genes, sp->n_input_genes, vals, fresh);
    for (int32_t i = 0; i < nf; i++) vals[fresh[i]] = 0;
    do {
      scratch_vector(sp, vals, enc.scratch);
      int32_t dims[3];
      for (int d = 0; d < 3; d++) {
        struct sp_value v;
        oc__space_eval(sp, &sp->input[d], enc.scratch, &v, buf);
        dims[d] = (int32_t)(v.type == sv_int ? v.i : (int64_t)v.num);
      }
      if (dims[0] != net->input.h || dims[1] != net->input.w || dims[2] != net->input.c) continue;
      st = dfs(&enc, 0, 0, vals, net->input);
    } while (st == oc_status_ok && !enc.found && next_combo(sp, fresh, nf, vals));
  }
  if (st == oc_status_ok && enc.found) memcpy(genes, enc.result, n * sizeof *genes);
  if (st == oc_status_ok && !enc.found) {
    if (enc.best_block < 0)
      st = oc__fail(oc_status_not_found,
                    "network '%s': its input %dx%dx%d is not an input of space '%s'", net->name,
                    (int)net->input.h, (int)net->input.w, (int)net->input.c, sp->name);
    else if (enc.best_pos < net->n_layers && enc.best_block < sp->n_blocks)
      st = oc__fail(oc_status_not_found,
                    "network '%s' is not in space '%s': layers[%d] (%s) is what no choice of "
                    "%s produces",
                    net->name, sp->name, (int)enc.best_pos, net->layers[enc.best_pos].key,
                    sp->blocks[enc.best_block].path);
    else if (enc.best_pos < net->n_layers)
      st = oc__fail(oc_status_not_found,
                    "network '%s' is not in space '%s': the space ends before layers[%d] (%s)",
                    net->name, sp->name, (int)enc.best_pos, net->layers[enc.best_pos].key);
    else
      st = oc__fail(oc_status_not_found,
                    "network '%s' is not in space '%s': its layers match but not its graph or "
                    "it ends early",
                    net->name, sp->name);
  }
  expander_free(&enc.E);
  free(vals);
  free(enc.scratch);
  free(enc.result);
  return st;
}
