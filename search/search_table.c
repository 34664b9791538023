/* search_table.c - the fast path of the search: per-block cost tables that
 * turn evaluating a gene vector into one table lookup per block.
 *
 * In a separable space (space.h, "blocks") a network's kernels are its kept
 * blocks' kernels in order, and a block's kernels depend only on the shape
 * entering it and the choices of the genes it reads (its stage's depth gene
 * deciding whether it is kept). So a cost that adds over kernels - a LUT
 * latency (kernel or block granularity, misses from the roofline), MACs,
 * FLOPs, params - is a sum of per-block entries indexed by (block, input
 * shape, mixed-radix index of the block's genes). Peak activation memory is
 * the largest per-block peak: every tensor a block's kernels keep live is
 * the block's own or its input (liveness in net_cost.c). Inside a network
 * the input is an activation that an elementwise kernel may overwrite in
 * place (a residual add), unlike a standalone network's input, so each
 * entry keeps two peaks: as the first block and as any later one.
 *
 * Entries are filled on first use by building the block alone
 * (oc_space_block_net) and pricing it with oc_lut_predict; the shape
 * leaving the block chains to the next block's row. Rows are dense arrays
 * allocated per (block, shape) as shapes appear; blocks whose genes have
 * more than TAB_MAX_DENSE combinations use a hash map instead.
 *
 * The tests compare every cost with the slow path (decode, predict) on
 * random vectors of every built-in space. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_internal.h"

#define TAB_MAX_DENSE 65536         /* gene combinations of a dense row */
#define TAB_MAX_INPUT_DENSE 1048576 /* combinations of the input genes */
#define TAB_MAX_COMBOS (INT64_C(1) << 40)

enum { entry_unknown = 0, entry_ok, entry_failed };

struct tab_entry {
  double us;
  int64_t macs, flops, params;
  int64_t peak_first; /* peak when the block reads the network's input */
  int64_t peak;       /* peak when its input is an activation (any later block) */
  int32_t out_shape;
  int32_t misses;
  int32_t first_miss; /* index into the miss keys; -1 when none */
  int32_t error;      /* index into the error messages (failed) */
  uint8_t state;
};

struct hash_slot {
  int64_t key; /* combo; -1 empty */
  int32_t shape;
  struct tab_entry e;
};

struct tab_block {
  int32_t n_keys;
  int32_t *key_genes; /* depth gene (if any) then the block's genes */
  int64_t *stride;
  int64_t n_combos;
  bool dense;
  int32_t n_rows;
  struct tab_entry **rows; /* dense: per shape id */
  struct hash_slot *slots; /* sparse: open addressing on (shape, combo) */
  size_t mask, used;
};

struct tab_shape {
  struct oc_tensor_shape s;
  int64_t bytes;
};

struct oc_search_table {
  const struct oc_space *space;
  const struct oc_lut_cache *lut;
  enum oc_lut_granularity granularity;
  struct oc_lut_roofline roofline;
  bool have_roofline, strict;
  size_t n_genes;
  size_t dtype_size;
  int32_t n_blocks;
  struct tab_block *blocks;
  /* input shape by the input genes' combination */
  int32_t n_input_genes;
  const int32_t *input_genes;
  int64_t *input_stride;
  int64_t n_input_combos;
  int32_t *input_shape; /* dense; -1 unknown (NULL: computed every time) */
  /* interned shapes */
  struct tab_shape *shapes;
  int32_t n_shapes, cap_shapes;
  int32_t *shape_slots; /* hash of shapes: id + 1 */
  size_t shape_mask;
  /* strings */
  char **strings;
  int32_t n_strings, cap_strings;
  int64_t entries;
};

/* ---- small helpers ------------------------------------------------------------------- */

static int32_t add_string(struct oc_search_table *t, const char *text) {
  if (t->n_strings == t->cap_strings) {
    int32_t cap = t->cap_strings ? 2 * t->cap_strings : 16;
    char **s = realloc(t->strings, (size_t)cap * sizeof *s);
    if (s == NULL) return -1;
    t->strings = s;
    t->cap_strings = cap;
  }
  size_t len = strlen(text) + 1;
  char *copy = malloc(len);
  if (copy == NULL) return -1;
  memcpy(copy, text, len);
  t->strings[t->n_strings] = copy;
  return t->n_strings++;
}

static uint64_t shape_hash(const struct oc_tensor_shape *s) {
  uint64_t h = (uint64_t)(uint32_t)s->h * UINT64_C(0x9E3779B97F4A7C15);
  h ^= (uint64_t)(uint32_t)s->w * UINT64_C(0xBF58476D1CE4E5B9);
  h ^= (uint64_t)(uint32_t)s->c * UINT64_C(0x94D049BB133111EB);
  return h ^ (h >> 29);
}

static enum oc_status intern_shape(struct oc_search_table *t, const struct oc_tensor_shape *s,
                                   int32_t *id) {
  if (t->shape_slots == NULL || 2 * ((size_t)t->n_shapes + 1) > t->shape_mask + 1) {
    size_t cap = t->shape_slots ? 2 * (t->shape_mask + 1) : 64;
    int32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return oc__fail(oc_status_out_of_memory, "search table: out of memory");
    for (int32_t i = 0; i < t->n_shapes; i++) {
      size_t j = shape_hash(&t->shapes[i].s) & (cap - 1);
      while (slots[j]) j = (j + 1) & (cap - 1);
      slots[j] = i + 1;
    }
    free(t->shape_slots);
    t->shape_slots = slots;
    t->shape_mask = cap - 1;
  }
  size_t j = shape_hash(s) & t->shape_mask;
  while (t->shape_slots[j]) {
    const struct oc_tensor_shape *o = &t->shapes[t->shape_slots[j] - 1].s;
    if (o->h == s->h && o->w == s->w && o->c == s->c) {
      *id = t->shape_slots[j] - 1;
      return oc_status_ok;
    }
    j = (j + 1) & t->shape_mask;
  }
  if (t->n_shapes == t->cap_shapes) {
    int32_t cap = t->cap_shapes ? 2 * t->cap_shapes : 64;
    struct tab_shape *n = realloc(t->shapes, (size_t)cap * sizeof *n);
    if (n == NULL) return oc__fail(oc_status_out_of_memory, "search table: out of memory");
    t->shapes = n;
    t->cap_shapes = cap;
  }
  struct tab_shape *ts = &t->shapes[t->n_shapes];
  ts->s = *s;
  ts->s.n = 1;
  ts->bytes = (int64_t)s->h * s->w * s->c * (int64_t)t->dtype_size;
  t->shape_slots[j] = t->n_shapes + 1;
  *id = t->n_shapes++;
  return oc_status_ok;
}

/* ---- create / free ------------------------------------------------------------------- */

void oc_search_table_free(struct oc_search_table *t) {
  if (t == NULL) return;
  for (int32_t b = 0; b < t->n_blocks; b++) {
    struct tab_block *blk = &t->blocks[b];
    for (int32_t r = 0; r < blk->n_rows; r++) free(blk->rows[r]);
    free(blk->rows);
    free(blk->slots);
    free(blk->key_genes);
    free(blk->stride);
  }
  free(t->blocks);
  free(t->input_stride);
  free(t->input_shape);
  free(t->shapes);
  free(t->shape_slots);
  for (int32_t i = 0; i < t->n_strings; i++) free(t->strings[i]);
  free(t->strings);
  free(t);
}

enum oc_status oc_search_table_create(const struct oc_space *space, const struct oc_lut_cache *lut,
                                      enum oc_lut_granularity granularity,
                                      const struct oc_lut_roofline *roofline, bool strict,
                                      struct oc_search_table **table) {
  *table = NULL;
  if (!oc_space_blocks_separable(space))
    return oc__fail(oc_status_unsupported,
                    "space '%s': a layer names a layer outside its block: no per-block tables "
                    "(the search decodes every candidate instead)",
                    oc_space_name(space));
  struct oc_search_table *t = calloc(1, sizeof *t);
  if (t == NULL) return oc__fail(oc_status_out_of_memory, "search table: out of memory");
  enum oc_status st = oc_status_ok;
  t->space = space;
  t->lut = lut;
  t->granularity = granularity;
  if (roofline) {
    t->roofline = *roofline;
    t->have_roofline = true;
  }
  t->strict = strict;
  t->n_genes = oc_space_gene_count(space);
  t->dtype_size = oc_dtype_size(oc_space_dtype(space));
  t->n_blocks = (int32_t)oc_space_block_count(space);
  t->blocks = calloc((size_t)t->n_blocks + 1, sizeof *t->blocks);
  size_t n_in = 0;
  t->input_genes = oc_space_input_genes(space, &n_in);
  t->n_input_genes = (int32_t)n_in;
  t->input_stride = calloc(n_in + 1, sizeof *t->input_stride);
  if (t->blocks == NULL || t->input_stride == NULL) {
    st = oc__fail(oc_status_out_of_memory, "search table: out of memory");
    goto fail;
  }
  int64_t combos = 1;
  for (size_t i = 0; i < n_in; i++) {
    t->input_stride[i] = combos;
    combos *= oc_space_gene_choices(space, (size_t)t->input_genes[i]);
    if (combos > TAB_MAX_COMBOS) break;
  }
  t->n_input_combos = combos;
  if (combos <= TAB_MAX_INPUT_DENSE) {
    t->input_shape = malloc((size_t)combos * sizeof *t->input_shape);
    if (t->input_shape == NULL) {
      st = oc__fail(oc_status_out_of_memory, "search table: out of memory");
      goto fail;
    }
    for (int64_t i = 0; i < combos; i++) t->input_shape[i] = -1;
  }
  for (int32_t b = 0; b < t->n_blocks; b++) {
    struct tab_block *blk = &t->blocks[b];
    int32_t stage, index;
    const int32_t *genes;
    size_t ng;
    oc_space_block_info(space, (size_t)b, &stage, &index, &genes, &ng);
    int32_t depth_gene = -1;
    if (stage >= 0) {
      int32_t blocks;
      const int32_t *depths;
      oc_space_stage_info(space, (size_t)stage, &blocks, &depth_gene, &depths);
    }
    blk->key_genes = malloc((ng + 1) * sizeof *blk->key_genes);
    blk->stride = malloc((ng + 1) * sizeof *blk->stride);
    if (blk->key_genes == NULL || blk->stride == NULL) {
      st = oc__fail(oc_status_out_of_memory, "search table: out of memory");
      goto fail;
    }
    if (depth_gene >= 0) blk->key_genes[blk->n_keys++] = depth_gene;
    for (size_t i = 0; i < ng; i++)
      if (genes[i] != depth_gene) blk->key_genes[blk->n_keys++] = genes[i];
    int64_t n = 1;
    for (int32_t i = 0; i < blk->n_keys; i++) {
      blk->stride[i] = n;
      n *= oc_space_gene_choices(space, (size_t)blk->key_genes[i]);
      if (n > TAB_MAX_COMBOS) {
        st = oc__fail(oc_status_unsupported,
                      "space '%s': block %s reads genes with more than 2^40 combinations",
                      oc_space_name(space),
                      oc_space_block_info(space, (size_t)b, NULL, NULL, NULL, NULL));
        goto fail;
      }
    }
    blk->n_combos = n;
    blk->dense = n <= TAB_MAX_DENSE;
  }
  *table = t;
  return oc_status_ok;
fail:
  oc_search_table_free(t);
  return st;
}

void oc_search_table_stats(const struct oc_search_table *t, int64_t *entries, int64_t *shapes) {
  if (entries) *entries = t->entries;
  if (shapes) *shapes = t->n_shapes;
}

/* ---- entries ------------------------------------------------------------------------- */

/* The elementwise kinds net_cost.c may run in place. */
static bool elementwise(enum oc_op_kind kind) {
  return kind == oc_op_act || kind == oc_op_add || kind == oc_op_mul;
}

/* Peak activation memory of a block net as it is inside a network, where
 * its input is an activation that an elementwise kernel may overwrite in
 * place at its last use (a standalone net never overwrites its input).
 * The rules are net_cost.c's: one buffer per tensor, shared along in-place
 * chains, live from its first writer to its last reader (the input from
 * the start, the output to the end). The tests compare the peaks of whole
 * networks built both ways. */
static enum oc_status inner_peak(const struct oc_net *net, int64_t *peak) {
  int32_t nk = net->n_kernels, nt = net->n_tensors;
  bool *in_place = calloc((size_t)nk + 1, sizeof *in_place);
  int32_t *buf = malloc(((size_t)nt + 1) * sizeof *buf);
  int32_t *start = malloc(((size_t)nt + 1) * sizeof *start);
  int32_t *end = malloc(((size_t)nt + 1) * sizeof *end);
  int64_t *bytes = calloc((size_t)nt + 1, sizeof *bytes);
  int64_t *delta = calloc((size_t)nk + 2, sizeof *delta);
  enum oc_status st = oc_status_ok;
  if (!in_place || !buf || !start || !end || !bytes || !delta) {
    st = oc__fail(oc_status_out_of_memory, "search table: out of memory");
    goto done;
  }
  for (int32_t i = 0; i < nk; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_op || !elementwise(k->op.kind)) continue;
    int32_t t0 = k->input[0];
    const struct oc_net_tensor *in = &net->tensors[t0];
    bool activation = in->kind == oc_net_tensor_activation || t0 == net->input_tensor;
    if (activation && in->last_use == i && t0 != net->output_tensor &&
        in->bytes == net->tensors[k->output].bytes)
      in_place[i] = true;
  }
  for (int32_t t = 0; t < nt; t++) {
    buf[t] = t;
    start[t] = end[t] = -1;
  }
  for (int32_t t = 0; t < nt; t++) {
    const struct oc_net_tensor *ten = &net->tensors[t];
    if (ten->kind == oc_net_tensor_param) continue;
    int32_t b = t;
    if (ten->producer >= 0 && in_place[ten->producer])
      b = buf[net->kernels[ten->producer].input[0]];
    buf[t] = b;
    int32_t s0 = ten->kind == oc_net_tensor_input ? 0 : ten->producer;
    int32_t e0 = ten->last_use > s0 ? ten->last_use : s0;
    if (t == net->output_tensor) e0 = nk - 1;
    if (start[b] < 0 || s0 < start[b]) start[b] = s0;
    if (e0 > end[b]) end[b] = e0;
    if (ten->bytes > bytes[b]) bytes[b] = ten->bytes;
  }
  for (int32_t b = 0; b < nt; b++) {
    if (start[b] < 0 || end[b] < 0 || nk == 0) continue;
    delta[start[b]] += bytes[b];
    delta[end[b] + 1] -= bytes[b];
  }
  int64_t acc = 0, best = 0;
  for (int32_t i = 0; i < nk; i++) {
    acc += delta[i];
    if (acc > best) best = acc;
  }
  *peak = best;
done:
  free(in_place);
  free(buf);
  free(start);
  free(end);
  free(bytes);
  free(delta);
  return st;
}

static enum oc_status fill(struct oc_search_table *t, int32_t b, int32_t shape,
                           const int32_t *genes, struct tab_entry *e) {
  struct oc_net *net = NULL;
  struct oc_tensor_shape out;
  struct oc_tensor_shape in = t->shapes[shape].s;
  struct oc_lut_prediction pred = {0};
  memset(e, 0, sizeof *e);
  e->first_miss = -1;
  e->error = -1;
  enum oc_status st = oc_space_block_net(t->space, genes, t->n_genes, (size_t)b, &in, &net, &out);
  if (st == oc_status_ok && net != NULL && t->lut != NULL) {
    st = oc_lut_predict(t->lut, net, t->granularity, t->have_roofline ? &t->roofline : NULL,
                        t->strict, &pred);
    if (st == oc_status_not_found && pred.items != NULL) {
      /* Misses are the vector's error, not the block's: keep the first. */
      st = oc_status_ok;
      for (int32_t i = 0; i < pred.n_items; i++) {
        if (pred.items[i].origin != oc_lut_from_lut) {
          e->first_miss = add_string(t, pred.items[i].key);
          break;
        }
      }
    }
    e->us = pred.lut_us + pred.roofline_us;
    e->misses = pred.misses;
  }
  if (st != oc_status_ok) {
    e->state = entry_failed;
    e->error = add_string(t, oc_errmsg());
    e->misses = (int32_t)st; /* the status, for the error */
    oc_lut_prediction_clear(&pred);
    oc_net_free(net);
    return oc_status_ok;
  }
  if (net != NULL) {
    e->macs = net->cost.macs;
    e->flops = net->cost.flops;
    e->params = net->cost.params;
    e->peak_first = net->cost.peak_activation_bytes;
    st = inner_peak(net, &e->peak);
    if (st != oc_status_ok) {
      oc_lut_prediction_clear(&pred);
      oc_net_free(net);
      return st;
    }
  }
  st = intern_shape(t, &out, &e->out_shape);
  oc_lut_prediction_clear(&pred);
  oc_net_free(net);
  if (st != oc_status_ok) return st;
  e->state = entry_ok;
  t->entries++;
  return oc_status_ok;
}

static uint64_t slot_hash(int32_t shape, int64_t combo) {
  uint64_t h = (uint64_t)combo * UINT64_C(0x9E3779B97F4A7C15) ^
               (uint64_t)(uint32_t)shape * UINT64_C(0xD6E8FEB86659FD93);
  return h ^ (h >> 32);
}

/* The entry of (block, shape, combo), allocated but maybe unknown. */
static enum oc_status entry_at(struct tab_block *blk, int32_t shape, int64_t combo,
                               struct tab_entry **out) {
  if (blk->dense) {
    if (shape >= blk->n_rows) {
      int32_t n = blk->n_rows ? blk->n_rows : 4;
      while (n <= shape) n *= 2;
      struct tab_entry **rows = realloc(blk->rows, (size_t)n * sizeof *rows);
      if (rows == NULL) return oc__fail(oc_status_out_of_memory, "search table: out of memory");
      for (int32_t r = blk->n_rows; r < n; r++) rows[r] = NULL;
      blk->rows = rows;
      blk->n_rows = n;
    }
    if (blk->rows[shape] == NULL) {
      blk->rows[shape] = calloc((size_t)blk->n_combos, sizeof **blk->rows);
      if (blk->rows[shape] == NULL)
        return oc__fail(oc_status_out_of_memory, "search table: out of memory");
    }
    *out = &blk->rows[shape][combo];
    return oc_status_ok;
  }
  if (blk->slots == NULL || 2 * (blk->used + 1) > blk->mask + 1) {
    size_t cap = blk->slots ? 2 * (blk->mask + 1) : 1024;
    struct hash_slot *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return oc__fail(oc_status_out_of_memory, "search table: out of memory");
    for (size_t i = 0; i < cap; i++) slots[i].key = -1;
    for (size_t i = 0; blk->slots && i <= blk->mask; i++) {
      if (blk->slots[i].key < 0) continue;
      size_t j = slot_hash(blk->slots[i].shape, blk->slots[i].key) & (cap - 1);
      while (slots[j].key >= 0) j = (j + 1) & (cap - 1);
      slots[j] = blk->slots[i];
    }
    free(blk->slots);
    blk->slots = slots;
    blk->mask = cap - 1;
  }
  size_t j = slot_hash(shape, combo) & blk->mask;
  while (blk->slots[j].key >= 0) {
    if (blk->slots[j].key == combo && blk->slots[j].shape == shape) {
      *out = &blk->slots[j].e;
      return oc_status_ok;
    }
    j = (j + 1) & blk->mask;
  }
  blk->slots[j].key = combo;
  blk->slots[j].shape = shape;
  blk->used++;
  *out = &blk->slots[j].e;
  return oc_status_ok;
}

static enum oc_status input_shape_id(struct oc_search_table *t, const int32_t *genes, int32_t *id) {
  int64_t combo = 0;
  for (int32_t i = 0; i < t->n_input_genes; i++)
    combo += genes[t->input_genes[i]] * t->input_stride[i];
  if (t->input_shape && t->input_shape[combo] >= 0) {
    *id = t->input_shape[combo];
    return oc_status_ok;
  }
  struct oc_tensor_shape s;
  enum oc_status st = oc_space_input_shape(t->space, genes, t->n_genes, &s);
  if (st == oc_status_ok) st = intern_shape(t, &s, id);
  if (st == oc_status_ok && t->input_shape) t->input_shape[combo] = *id;
  return st;
}

static enum oc_status check_genes(const struct oc_search_table *t, const int32_t *genes, size_t n) {
  if (n != t->n_genes) return oc_space_check_genes(t->space, genes, n);
  for (size_t g = 0; g < n; g++)
    if (genes[g] < 0 || genes[g] >= oc_space_gene_choices(t->space, g))
      return oc_space_check_genes(t->space, genes, n);
  return oc_status_ok;
}

/* One block's entry for genes entering with shape; filled when unknown. */
static inline enum oc_status lookup(struct oc_search_table *t, int32_t b, int32_t shape,
                                    const int32_t *genes, struct tab_entry **out) {
  struct tab_block *blk = &t->blocks[b];
  int64_t combo = 0;
  for (int32_t i = 0; i < blk->n_keys; i++) combo += genes[blk->key_genes[i]] * blk->stride[i];
  struct tab_entry *e;
  if (blk->dense && shape < blk->n_rows && blk->rows[shape] != NULL) {
    e = &blk->rows[shape][combo];
  } else {
    enum oc_status st = entry_at(blk, shape, combo, &e);
    if (st != oc_status_ok) return st;
  }
  if (e->state == entry_unknown) {
    enum oc_status st = fill(t, b, shape, genes, e);
    if (st != oc_status_ok) return st;
  }
  *out = e;
  return oc_status_ok;
}

enum oc_status oc_search_table_eval(struct oc_search_table *t, const int32_t *genes, size_t n,
                                    struct oc_search_costs *costs) {
  enum oc_status st = check_genes(t, genes, n);
  if (st != oc_status_ok) return st;
  int32_t shape;
  st = input_shape_id(t, genes, &shape);
  if (st != oc_status_ok) return st;
  int64_t peak = t->shapes[shape].bytes;
  double us = 0;
  int64_t macs = 0, flops = 0, params = 0;
  int32_t misses = 0, first_miss = -1;
  bool seen_layers = false;
  for (int32_t b = 0; b < t->n_blocks; b++) {
    struct tab_entry *e;
    st = lookup(t, b, shape, genes, &e);
    if (st != oc_status_ok) return st;
    if (e->state == entry_failed) {
      const char *msg = e->error >= 0 ? t->strings[e->error] : "block does not build";
      return oc__fail((enum oc_status)e->misses, "%s", msg);
    }
    us += e->us;
    macs += e->macs;
    flops += e->flops;
    params += e->params;
    /* The first block with layers reads the network's input, which no
     * kernel overwrites; every later block's input is an activation. */
    int64_t p = seen_layers ? e->peak : e->peak_first;
    if (p > peak) peak = p;
    if (e->misses > 0) {
      if (misses == 0) first_miss = e->first_miss;
      misses += e->misses;
    }
    if (e->peak_first > 0) seen_layers = true;
    shape = e->out_shape;
  }
  costs->macs = macs;
  costs->flops = flops;
  costs->params = params;
  costs->weight_bytes = params * (int64_t)t->dtype_size;
  costs->peak_activation_bytes = peak;
  costs->lut_misses = misses;
  costs->latency_us = t->lut ? us + oc_lut_cache_overhead_us(t->lut) : NAN;
  if (t->lut && misses > 0 && (t->strict || !t->have_roofline))
    return oc__fail(
        oc_status_not_found, "%s: %d op%s not in the LUT for device %s (threads %d), first '%s'%s",
        oc_space_name(t->space), (int)misses, misses == 1 ? "" : "s",
        oc_lut_cache_fingerprint(t->lut), (int)oc_lut_cache_threads(t->lut),
        first_miss >= 0 ? t->strings[first_miss] : "?",
        t->strict ? " (strict)" : "; give a device profile to fill misses from the roofline");
  return oc_status_ok;
}

/* ---- the slow path (the reference) ------------------------------------------------------- */

enum oc_status oc_search_costs_slow(const struct oc_space *space, const struct oc_lut_cache *lut,
                                    enum oc_lut_granularity granularity,
                                    const struct oc_lut_roofline *roofline, bool strict,
                                    const int32_t *genes, size_t n, struct oc_search_costs *costs) {
  struct oc_net *net = NULL;
  enum oc_status st = oc_space_decode(space, genes, n, &net);
  if (st != oc_status_ok) return st;
  costs->macs = net->cost.macs;
  costs->flops = net->cost.flops;
  costs->params = net->cost.params;
  costs->weight_bytes = net->cost.weight_bytes;
  costs->peak_activation_bytes = net->cost.peak_activation_bytes;
  costs->latency_us = NAN;
  costs->lut_misses = 0;
  if (lut != NULL)
    st = oc_lut_predict_us(lut, net, granularity, roofline, strict, &costs->latency_us,
                           &costs->lut_misses);
  oc_net_free(net);
  return st;
}

/* ---- worst case over the space ---------------------------------------------------------- */

/* Dynamic programming state: a shape and the largest value of each cost
 * reaching it. */
struct dp_state {
  int32_t shape;
  double us;
  int64_t macs, flops, params, peak;
};

static void dp_merge(struct dp_state *states, int32_t *n, const struct dp_state *x) {
  for (int32_t i = 0; i < *n; i++) {
    struct dp_state *s = &states[i];
    if (s->shape != x->shape) continue;
    if (x->us > s->us) s->us = x->us;
    if (x->macs > s->macs) s->macs = x->macs;
    if (x->flops > s->flops) s->flops = x->flops;
    if (x->params > s->params) s->params = x->params;
    if (x->peak > s->peak) s->peak = x->peak;
    return;
  }
  states[(*n)++] = *x;
}

enum oc_status oc__search_table_worst(struct oc_search_table *t, int64_t max_combos,
                                      struct oc_search_costs *worst) {
  const struct oc_space *sp = t->space;
  size_t ng = t->n_genes;
  int32_t *genes = calloc(ng + 1, sizeof *genes);
  int32_t *uses = calloc(ng + 1, sizeof *uses);
  int32_t *shared = calloc(ng + 1, sizeof *shared);
  struct dp_state *cur = NULL, *next = NULL;
  int32_t cap = 0;
  enum oc_status st = oc_status_ok;
  if (genes == NULL || uses == NULL || shared == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  /* Shared genes: read by the input, or by more than one block (depth genes
   * are read by every block of their stage). */
  for (int32_t i = 0; i < t->n_input_genes; i++) uses[t->input_genes[i]] += 2;
  for (int32_t b = 0; b < t->n_blocks; b++)
    for (int32_t i = 0; i < t->blocks[b].n_keys; i++) uses[t->blocks[b].key_genes[i]]++;
  int32_t n_shared = 0;
  int64_t combos = 1;
  for (size_t g = 0; g < ng; g++) {
    if (uses[g] < 2) continue;
    shared[n_shared++] = (int32_t)g;
    combos *= oc_space_gene_choices(sp, g);
    if (combos > max_combos) {
      st =
          oc__fail(oc_status_unsupported, "space '%s': more than %lld combinations of shared genes",
                   oc_space_name(sp), (long long)max_combos);
      goto done;
    }
  }
  bool any = false;
  memset(worst, 0, sizeof *worst);
  for (int64_t c = 0; c < combos; c++) {
    int64_t rest = c;
    for (int32_t i = 0; i < n_shared; i++) {
      int32_t k = oc_space_gene_choices(sp, (size_t)shared[i]);
      genes[shared[i]] = (int32_t)(rest % k);
      rest /= k;
    }
    int32_t n_cur = 0, shape;
    if (input_shape_id(t, genes, &shape) != oc_status_ok) continue;
    if (cap < 1) {
      cap = 64;
      cur = malloc((size_t)cap * sizeof *cur);
      next = malloc((size_t)cap * sizeof *next);
      if (cur == NULL || next == NULL) {
        st = oc__fail(oc_status_out_of_memory, "out of memory");
        goto done;
      }
    }
    cur[n_cur++] = (struct dp_state){shape, 0, 0, 0, 0, t->shapes[shape].bytes};
    for (int32_t b = 0; b < t->n_blocks && n_cur > 0; b++) {
      struct tab_block *blk = &t->blocks[b];
      /* The block's private genes: enumerate their combinations. */
      int32_t priv[64], n_priv = 0;
      int64_t pc = 1;
      for (int32_t i = 0; i < blk->n_keys && n_priv < 64; i++) {
        if (uses[blk->key_genes[i]] >= 2) continue;
        priv[n_priv++] = blk->key_genes[i];
        pc *= oc_space_gene_choices(sp, (size_t)blk->key_genes[i]);
      }
      int32_t n_next = 0;
      for (int32_t s = 0; s < n_cur; s++) {
        for (int64_t p = 0; p < pc; p++) {
          int64_t r = p;
          for (int32_t i = 0; i < n_priv; i++) {
            int32_t k = oc_space_gene_choices(sp, (size_t)priv[i]);
            genes[priv[i]] = (int32_t)(r % k);
            r /= k;
          }
          struct tab_entry *e;
          st = lookup(t, b, cur[s].shape, genes, &e);
          if (st != oc_status_ok) goto done;
          if (e->state != entry_ok) continue; /* not a vector of the space */
          /* Largest of both peaks: an upper bound when the block could be
           * first (the DP does not track which block is). */
          int64_t bp = e->peak > e->peak_first ? e->peak : e->peak_first;
          struct dp_state x = {e->out_shape,
                               cur[s].us + e->us,
                               cur[s].macs + e->macs,
                               cur[s].flops + e->flops,
                               cur[s].params + e->params,
                               bp > cur[s].peak ? bp : cur[s].peak};
          if (n_next + 1 > cap) {
            int32_t nc = 2 * cap;
            struct dp_state *a = realloc(cur, (size_t)nc * sizeof *a);
            if (a) cur = a;
            struct dp_state *bnext = realloc(next, (size_t)nc * sizeof *bnext);
            if (bnext) next = bnext;
            if (a == NULL || bnext == NULL) {
              st = oc__fail(oc_status_out_of_memory, "out of memory");
              goto done;
            }
            cap = nc;
          }
          dp_merge(next, &n_next, &x);
        }
      }
      struct dp_state *tmp = cur;
      cur = next;
      next = tmp;
      n_cur = n_next;
    }
    for (int32_t s = 0; s < n_cur; s++) {
      any = true;
      if (cur[s].us > worst->latency_us) worst->latency_us = cur[s].us;
      if (cur[s].macs > worst->macs) worst->macs = cur[s].macs;
      if (cur[s].flops > worst->flops) worst->flops = cur[s].flops;
      if (cur[s].params > worst->params) worst->params = cur[s].params;
      if (cur[s].peak > worst->peak_activation_bytes) worst->peak_activation_bytes = cur[s].peak;
    }
  }
  if (!any) {
    st = oc__fail(oc_status_invalid_argument, "space '%s': no vector builds a network",
                  oc_space_name(sp));
    goto done;
  }
  worst->weight_bytes = worst->params * (int64_t)t->dtype_size;
  worst->latency_us = t->lut ? worst->latency_us + oc_lut_cache_overhead_us(t->lut) : NAN;
done:
  free(genes);
  free(uses);
  free(shared);
  free(cur);
  free(next);
  return st;
}
