/* space_eval.c - what a gene vector means: which blocks a stage keeps, the
 * canonical vector, the 128-bit key of what a block keeps (its layers' ops,
 * evaluated fields and inputs; space_hash.c memoizes block expansions by
 * it), the phenotype as opcost-net/1 JSON and as a loaded network,
 * reproducible sampling, and the gene text form.
 *
 * Block keys are on the hot path of a search (millions of candidates): they
 * walk the compiled template and mix each kept layer's values into 64-bit
 * words without building strings, with no allocation for templates up to
 * 1024 layers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "spaces/space_internal.h"

/* ---- evaluation ------------------------------------------------------------------ */

void oc__space_eval(const struct oc_space *sp, const struct sp_expr *e, const int32_t *genes,
                    struct sp_value *out, char *buf) {
  switch (e->kind) {
  case sp_int:
    out->type = sv_int;
    out->i = e->i;
    return;
  case sp_num:
    out->type = sv_num;
    out->num = e->num;
    return;
  case sp_str:
    out->type = sv_str;
    out->str = e->str;
    return;
  case sp_bool:
    out->type = sv_bool;
    out->i = e->i;
    return;
  case sp_gene: *out = sp->genes[e->gene].choices[genes[e->gene]].value; return;
  case sp_lookup: oc__space_eval(sp, &e->items[genes[e->gene]], genes, out, buf); return;
  case sp_mul: {
    struct sp_value a, b;
    oc__space_eval(sp, &e->items[0], genes, &a, buf);
    oc__space_eval(sp, &e->items[1], genes, &b, buf);
    int64_t p;
    if (a.type == sv_int && b.type == sv_int && !__builtin_mul_overflow(a.i, b.i, &p)) {
      out->type = sv_int;
      out->i = p;
      return;
    }
    double x = a.type == sv_int ? (double)a.i : a.num;
    double y = b.type == sv_int ? (double)b.i : b.num;
    out->type = sv_num;
    out->num = x * y;
    return;
  }
  case sp_interp: {
    size_t used = 0;
    for (int32_t i = 0; i < e->n; i++) {
      const char *piece = e->items[i].kind == sp_str
                              ? e->items[i].str
                              : sp->genes[e->items[i].gene].choices[genes[e->items[i].gene]].label;
      size_t len = strlen(piece);
      /* Loading bounded the length by SP_MAX_STRING. */
      memcpy(buf + used, piece, len);
      used += len;
    }
    buf[used] = '\0';
    out->type = sv_str;
    out->str = buf;
    return;
  }
  }
}

int32_t oc__space_depth(const struct oc_space *sp, int32_t stage, const int32_t *genes) {
  const struct sp_stage *S = &sp->stages[stage];
  return S->depth_gene < 0 ? S->depth_of[0] : S->depth_of[genes[S->depth_gene]];
}

bool oc__space_block_active(const struct oc_space *sp, int32_t b, const int32_t *genes) {
  const struct sp_block *blk = &sp->blocks[b];
  return blk->stage < 0 || blk->index < oc__space_depth(sp, blk->stage, genes);
}

static bool gene_active(const struct oc_space *sp, int32_t g, const int32_t *genes) {
  const struct sp_gene *gene = &sp->genes[g];
  return gene->stage < 0 || gene->block < oc__space_depth(sp, gene->stage, genes);
}

/* ---- checks, activity, canonical form ------------------------------------------------ */

enum oc_status oc_space_check_genes(const struct oc_space *sp, const int32_t *genes, size_t n) {
  if (n != (size_t)sp->n_genes)
    return oc__fail(oc_status_invalid_argument,
                    "space '%s': gene vector of length %zu, expected %d", sp->name, n,
                    (int)sp->n_genes);
  for (int32_t g = 0; g < sp->n_genes; g++) {
    if (genes[g] < 0 || genes[g] >= sp->genes[g].n_choices)
      return oc__fail(oc_status_invalid_argument,
                      "space '%s': gene %s: choice index %d is outside 0..%d", sp->name,
                      sp->genes[g].name, (int)genes[g], (int)sp->genes[g].n_choices - 1);
  }
  return oc_status_ok;
}

enum oc_status oc_space_active_genes(const struct oc_space *sp, const int32_t *genes, size_t n,
                                     bool *active) {
  enum oc_status st = oc_space_check_genes(sp, genes, n);
  if (st != oc_status_ok) return st;
  for (int32_t g = 0; g < sp->n_genes; g++) active[g] = gene_active(sp, g, genes);
  return oc_status_ok;
}

enum oc_status oc_space_canonicalize(const struct oc_space *sp, const int32_t *genes, int32_t *out,
                                     size_t n) {
  enum oc_status st = oc_space_check_genes(sp, genes, n);
  if (st != oc_status_ok) return st;
  if (out != genes) memcpy(out, genes, n * sizeof *out);
  /* Depth genes are space-wide, so resetting block genes cannot change any
   * depth: one pass is enough. */
  for (int32_t g = 0; g < sp->n_genes; g++)
    if (!gene_active(sp, g, genes)) out[g] = 0;
  return oc_status_ok;
}

/* ---- walking the kept layers ------------------------------------------------------------- */

typedef enum oc_status (*visit_fn)(void *user, const struct sp_layer *layer, int32_t index,
                                   const int32_t *inputs, int32_t n_inputs, bool implicit);

/* Calls visit for every layer blocks [first, first+count) keep, in order,
 * with the phenotype indices of its inputs (-1: the network input). */
static enum oc_status walk(const struct oc_space *sp, const int32_t *genes, int32_t first,
                           int32_t count, visit_fn visit, void *user, int32_t *n_out) {
  int32_t local[1024];
  int32_t *slot_index = sp->n_slots <= 1024 ? local : malloc((size_t)sp->n_slots * sizeof(int32_t));
  if (slot_index == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  int32_t n = 0;
  enum oc_status st = oc_status_ok;
  for (int32_t b = first; b < first + count && st == oc_status_ok; b++) {
    const struct sp_block *blk = &sp->blocks[b];
    if (!oc__space_block_active(sp, b, genes)) continue;
    int32_t block_in = n - 1;
    for (int32_t s = blk->first_slot; s < blk->first_slot + blk->n_slots; s++) slot_index[s] = -1;
    for (int32_t u = blk->first_unit; u < blk->first_unit + blk->n_units && st == oc_status_ok;
         u++) {
      const struct sp_unit *unit = &sp->units[u];
      const struct sp_alt *alt = &unit->alts[unit->choice_gene < 0 ? 0 : genes[unit->choice_gene]];
      if (alt->skip) continue;
      for (int32_t i = 0; i < alt->n_layers && st == oc_status_ok; i++) {
        const struct sp_layer *l = &alt->layers[i];
        int32_t in[2] = {n - 1, -1};
        int32_t n_in = 1;
        if (l->n_inputs > 0) {
          n_in = l->n_inputs;
          for (int32_t j = 0; j < l->n_inputs; j++) {
            int32_t ref = l->inputs[j];
            if (ref == SP_IN_NET)
              in[j] = -1;
            else if (ref == SP_IN_BLOCK)
              in[j] = block_in;
            else
              in[j] = slot_index[ref];
            if (ref >= 0 && in[j] < 0)
              st = oc__fail(oc_status_invalid_argument,
                            "%s: %s: field 'inputs': the layer it names is dropped by this "
                            "vector",
                            sp->origin, l->path);
          }
        }
        if (st == oc_status_ok) st = visit(user, l, n, in, n_in, l->n_inputs == 0);
        slot_index[l->slot] = n++;
      }
    }
  }
  if (slot_index != local) free(slot_index);
  if (n_out) *n_out = n;
  return st;
}

/* ---- phenotype hash ---------------------------------------------------------------------- */

static inline uint64_t mix(uint64_t h, uint64_t v) {
  v *= UINT64_C(0x9E3779B97F4A7C15);
  v ^= v >> 32;
  h ^= v;
  h *= UINT64_C(0xBF58476D1CE4E5B9);
  h ^= h >> 31;
  return h;
}

enum { tag_layer = 1, tag_inputs };

#define STR_P UINT64_C(0x100000001b3)
#define TAG_INT UINT64_C(0x1f83d9abfb41bd6b)
#define TAG_NUM UINT64_C(0x5be0cd19137e2179)
#define TAG_STR UINT64_C(0x6a09e667f3bcc908)
#define TAG_BOOL UINT64_C(0x3c6ef372fe94f82b)

uint64_t oc__space_str_hash(const char *s, uint64_t *pow) {
  uint64_t h = 0, p = 1;
  for (; *s; s++) {
    h = h * STR_P + (unsigned char)*s + 1;
    p *= STR_P;
  }
  *pow = p;
  return h;
}

uint64_t oc__space_value_word(const struct sp_value *v) {
  uint64_t pow;
  switch (v->type) {
  case sv_int: return (uint64_t)v->i ^ TAG_INT;
  case sv_num:
    if (v->num == floor(v->num) && fabs(v->num) < 9007199254740992.0)
      return (uint64_t)(int64_t)v->num ^ TAG_INT;
    {
      uint64_t bits;
      double d = v->num == 0 ? 0.0 : v->num;
      memcpy(&bits, &d, sizeof bits);
      return bits ^ TAG_NUM;
    }
  case sv_str: return oc__space_str_hash(v->str, &pow) ^ TAG_STR;
  case sv_bool: return (uint64_t)v->i ^ TAG_BOOL;
  }
  return 0;
}

/* The value word of an expression, without building strings. */
static uint64_t expr_word(const struct oc_space *sp, const struct sp_expr *e,
                          const int32_t *genes) {
  switch (e->kind) {
  case sp_int: return (uint64_t)e->i ^ TAG_INT;
  case sp_str: return e->str_hash ^ TAG_STR;
  case sp_gene: return sp->genes[e->gene].choices[genes[e->gene]].word;
  case sp_lookup: return expr_word(sp, &e->items[genes[e->gene]], genes);
  case sp_interp: {
    uint64_t h = 0;
    for (int32_t i = 0; i < e->n; i++) {
      const struct sp_expr *p = &e->items[i];
      if (p->kind == sp_str) {
        h = h * p->str_pow + p->str_hash;
      } else {
        const struct sp_choice *c = &sp->genes[p->gene].choices[genes[p->gene]];
        h = h * c->label_pow + c->label_hash;
      }
    }
    return h ^ TAG_STR;
  }
  case sp_num:
  case sp_bool:
  case sp_mul: {
    struct sp_value v;
    oc__space_eval(sp, e, genes, &v, NULL);
    return oc__space_value_word(&v);
  }
  }
  return 0;
}

/* The second half of a 128-bit block key: a polynomial over the same
 * values (cheap, and independent of mix). */
static inline uint64_t mix2(uint64_t h, uint64_t v) {
  return (h ^ (h >> 29)) * UINT64_C(0xC2B2AE3D27D4EB4F) + v;
}

struct hash_ctx {
  const struct oc_space *sp;
  const int32_t *genes;
  uint64_t h, h2;
};

static inline void mix_both(struct hash_ctx *c, uint64_t v) {
  c->h = mix(c->h, v);
  c->h2 = mix2(c->h2, v);
}

static enum oc_status hash_visit(void *user, const struct sp_layer *l, int32_t index,
                                 const int32_t *inputs, int32_t n_inputs, bool implicit) {
  struct hash_ctx *c = user;
  mix_both(c, tag_layer);
  mix_both(c, l->op_hash);
  /* Field name and value in one word: names are fixed per layer, so the
   * sum tells values apart. */
  for (int32_t f = 0; f < l->n_fields; f++)
    mix_both(c, l->fields[f].name_hash +
                    expr_word(c->sp, &l->fields[f].value, c->genes) * UINT64_C(0x9E3779B97F4A7C15));
  /* Inputs as phenotype indices: an implicit input and an explicit one
   * naming the previous layer are the same graph. */
  mix_both(c, tag_inputs + (uint64_t)n_inputs);
  for (int32_t j = 0; j < n_inputs; j++) mix_both(c, (uint64_t)(int64_t)(index - inputs[j]));
  (void)implicit;
  return oc_status_ok;
}

enum oc_status oc__space_input(const struct oc_space *sp, const int32_t *genes, int32_t dims[3]) {
  char buf[SP_MAX_STRING];
  for (int d = 0; d < 3; d++) {
    struct sp_value v;
    oc__space_eval(sp, &sp->input[d], genes, &v, buf);
    double x = v.type == sv_int ? (double)v.i : v.num;
    if (!(x >= 1 && x <= OC_FIELD_VALUE_MAX) || x != floor(x))
      return oc__fail(oc_status_invalid_argument,
                      "%s: input.%c: value %g is not a whole number in [1, %d]", sp->origin,
                      "hwc"[d], x, OC_FIELD_VALUE_MAX);
    dims[d] = (int32_t)x;
  }
  return oc_status_ok;
}

enum oc_status oc__space_block_key(const struct oc_space *sp, const int32_t *genes, int32_t b,
                                   const struct oc_tensor_shape *in, uint64_t key[2],
                                   int32_t *n_layers) {
  struct hash_ctx c = {sp, genes, UINT64_C(0x6f63737061636531), UINT64_C(0x9d2c5680a3b1f4e7)};
  mix_both(&c, (uint64_t)in->h);
  mix_both(&c, (uint64_t)in->w);
  mix_both(&c, (uint64_t)in->c);
  int32_t layers = 0;
  enum oc_status st = walk(sp, genes, b, 1, hash_visit, &c, &layers);
  if (st != oc_status_ok) return st;
  mix_both(&c, (uint64_t)layers);
  key[0] = c.h;
  key[1] = c.h2;
  *n_layers = layers;
  return oc_status_ok;
}

/* ---- JSON of the phenotype ------------------------------------------------------------------ */

static json_t *value_json(const struct sp_value *v) {
  switch (v->type) {
  case sv_int: return json_integer((json_int_t)v->i);
  case sv_num: return json_real(v->num);
  case sv_str: return json_string(v->str);
  case sv_bool: return json_boolean(v->i);
  }
  return NULL;
}

json_t *oc__space_layer_json(const struct oc_space *sp, const struct sp_layer *l,
                             const int32_t *genes) {
  char buf[SP_MAX_STRING];
  json_t *obj = json_object();
  if (obj == NULL || json_object_set_new(obj, "op", json_string(l->op)) != 0) {
    json_decref(obj);
    return NULL;
  }
  for (int32_t f = 0; f < l->n_fields; f++) {
    struct sp_value v;
    oc__space_eval(sp, &l->fields[f].value, genes, &v, buf);
    if (json_object_set_new(obj, l->fields[f].name, value_json(&v)) != 0) {
      json_decref(obj);
      return NULL;
    }
  }
  return obj;
}

struct json_ctx {
  const struct oc_space *sp;
  const int32_t *genes;
  json_t *layers;
  const struct sp_layer **templ; /* template layer of each phenotype layer */
  int32_t cap;
  bool standalone;
};

/* Name of phenotype layer `index` for an "inputs" list; gives it an id. */
static json_t *input_name(struct json_ctx *c, int32_t index) {
  if (index < 0) return json_string("input");
  json_t *obj = json_array_get(c->layers, (size_t)index);
  const json_t *id = json_object_get(obj, "id");
  if (id == NULL) {
    char name[OC_NET_ID_MAX];
    const struct sp_layer *l = c->templ[index];
    if (l->id && strlen(l->id) < sizeof name)
      snprintf(name, sizeof name, "%s", l->id);
    else
      snprintf(name, sizeof name, "l%d", (int)index);
    json_object_set_new(obj, "id", json_string(name));
    id = json_object_get(obj, "id");
  }
  return json_incref((json_t *)id);
}

static enum oc_status json_visit(void *user, const struct sp_layer *l, int32_t index,
                                 const int32_t *inputs, int32_t n_inputs, bool implicit) {
  struct json_ctx *c = user;
  if (index >= c->cap) {
    int32_t cap = c->cap ? 2 * c->cap : 64;
    const struct sp_layer **t = realloc(c->templ, (size_t)cap * sizeof *t);
    if (t == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
    c->templ = t;
    c->cap = cap;
  }
  c->templ[index] = l;
  json_t *obj = oc__space_layer_json(c->sp, l, c->genes);
  if (obj == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  if (!implicit) {
    json_t *list = json_array();
    for (int32_t j = 0; j < n_inputs; j++) json_array_append_new(list, input_name(c, inputs[j]));
    json_object_set_new(obj, "inputs", list);
  }
  if (json_array_append_new(c->layers, obj) != 0)
    return oc__fail(oc_status_out_of_memory, "out of memory");
  return oc_status_ok;
}

enum oc_status oc__space_build_json(const struct oc_space *sp, const int32_t *genes, int32_t first,
                                    int32_t count, const struct oc_tensor_shape *in, json_t **root,
                                    int32_t *n_layers) {
  *root = NULL;
  int32_t dims[3];
  enum oc_status st;
  if (in) {
    dims[0] = in->h;
    dims[1] = in->w;
    dims[2] = in->c;
  } else if ((st = oc__space_input(sp, genes, dims)) != oc_status_ok) {
    return st;
  }
  struct json_ctx c = {sp, genes, json_array(), NULL, 0, in != NULL};
  json_t *r = json_object();
  if (c.layers == NULL || r == NULL) {
    json_decref(c.layers);
    json_decref(r);
    return oc__fail(oc_status_out_of_memory, "out of memory");
  }
  json_object_set_new(r, "format", json_string(OC_NET_FORMAT));
  json_object_set_new(r, "name", json_string(sp->name));
  json_object_set_new(r, "dtype", json_string(oc_dtype_name(sp->dtype)));
  json_object_set_new(
      r, "input",
      json_pack("{s:i, s:i, s:i}", "h", (int)dims[0], "w", (int)dims[1], "c", (int)dims[2]));
  int32_t n = 0;
  st = walk(sp, genes, first, count, json_visit, &c, &n);
  free(c.templ);
  json_object_set_new(r, "layers", c.layers);
  if (st != oc_status_ok) {
    json_decref(r);
    return st;
  }
  if (n_layers) *n_layers = n;
  *root = r;
  return oc_status_ok;
}

struct origin_ctx {
  int32_t want;
  const char *path;
};

static enum oc_status origin_visit(void *user, const struct sp_layer *l, int32_t index,
                                   const int32_t *inputs, int32_t n_inputs, bool implicit) {
  struct origin_ctx *c = user;
  (void)inputs;
  (void)n_inputs;
  (void)implicit;
  if (index == c->want) c->path = l->path;
  return oc_status_ok;
}

const char *oc__space_layer_origin(const struct oc_space *sp, const int32_t *genes, int32_t index) {
  struct origin_ctx c = {index, "?"};
  walk(sp, genes, 0, sp->n_blocks, origin_visit, &c, NULL);
  return c.path;
}

enum oc_status oc_space_decode_json(const struct oc_space *sp, const int32_t *genes, size_t n,
                                    json_t **root) {
  *root = NULL;
  enum oc_status st = oc_space_check_genes(sp, genes, n);
  if (st != oc_status_ok) return st;
  st = oc__space_build_json(sp, genes, 0, sp->n_blocks, NULL, root, NULL);
  if (st != oc_status_ok) return st;
  char text[2048];
  if (oc_space_format_genes(sp, genes, n, false, text, sizeof text) == oc_status_ok) {
    char desc[2200];
    snprintf(desc, sizeof desc, "%s: %s", sp->name, text);
    json_object_set_new(*root, "description", json_string(desc));
  }
  return oc_status_ok;
}

/* Rewrites net's "SOURCE: layers[N] (...): msg" so that it names the
 * template layer behind phenotype layer N. */
static enum oc_status net_failure(const struct oc_space *sp, const int32_t *genes,
                                  enum oc_status st) {
  const char *msg = oc_errmsg();
  const char *at = strstr(msg, "layers[");
  if (at == NULL) return oc__fail_prefix(st, "%s: decoding: ", sp->origin);
  int index = atoi(at + 7);
  const char *origin = oc__space_layer_origin(sp, genes, index);
  return oc__fail_prefix(st, "%s: %s: ", sp->origin, origin);
}

enum oc_status oc_space_decode(const struct oc_space *sp, const int32_t *genes, size_t n,
                               struct oc_net **net) {
  *net = NULL;
  json_t *root = NULL;
  enum oc_status st = oc_space_decode_json(sp, genes, n, &root);
  if (st != oc_status_ok) return st;
  st = oc_net_load_json(root, sp->name, net);
  json_decref(root);
  if (st != oc_status_ok) return net_failure(sp, genes, st);
  return oc_status_ok;
}

/* ---- sampling ----------------------------------------------------------------------------- */

enum oc_status oc_space_sample(const struct oc_space *sp, uint64_t seed, uint64_t index,
                               int32_t *genes, size_t n) {
  if (n != (size_t)sp->n_genes)
    return oc__fail(oc_status_invalid_argument,
                    "space '%s': gene vector of length %zu, expected %d", sp->name, n,
                    (int)sp->n_genes);
  uint64_t key[2] = {seed, index};
  struct oc__rng rng;
  oc__rng_seed(&rng, oc__hash64(OC__HASH_SEED, key, sizeof key));
  for (int32_t g = 0; g < sp->n_genes; g++)
    genes[g] = (int32_t)oc__rng_below(&rng, (uint64_t)sp->genes[g].n_choices);
  return oc_space_canonicalize(sp, genes, genes, n);
}

/* ---- gene text ---------------------------------------------------------------------------- */

enum oc_status oc_space_format_genes(const struct oc_space *sp, const int32_t *genes, size_t n,
                                     bool full, char *buf, size_t size) {
  enum oc_status st = oc_space_check_genes(sp, genes, n);
  if (st != oc_status_ok) return st;
  if (size == 0) return oc__fail(oc_status_overflow, "gene text: empty buffer");
  size_t used = 0;
  buf[0] = '\0';
  for (int32_t f = 0; f < sp->n_families; f++) {
    const struct sp_family *fam = &sp->families[f];
    int w = snprintf(buf + used, size - used, "%s%s=", f ? ";" : "", fam->name);
    if (w < 0 || (size_t)w >= size - used) goto overflow;
    used += (size_t)w;
    for (int32_t g = fam->first; g < fam->first + fam->count; g++) {
      const char *label =
          full || gene_active(sp, g, genes) ? sp->genes[g].choices[genes[g]].label : "_";
      w = snprintf(buf + used, size - used, "%s%s", g > fam->first ? "," : "", label);
      if (w < 0 || (size_t)w >= size - used) goto overflow;
      used += (size_t)w;
    }
  }
  return oc_status_ok;
overflow:
  return oc__fail(oc_status_overflow, "gene text of space '%s' does not fit in %zu bytes", sp->name,
                  size);
}

static void trim(const char **start, const char **end) {
  while (*start < *end && (**start == ' ' || **start == '\t' || **start == '\n')) (*start)++;
  while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\n')) (*end)--;
}

/* Index of the choice whose label is text[0..len), or whose number equals it. */
static int32_t find_choice(const struct sp_gene *g, const char *text, size_t len) {
  for (int32_t c = 0; c < g->n_choices; c++)
    if (strlen(g->choices[c].label) == len && memcmp(g->choices[c].label, text, len) == 0) return c;
  char num[64];
  if (len == 0 || len >= sizeof num) return -1;
  memcpy(num, text, len);
  num[len] = '\0';
  char *end;
  double v = strtod(num, &end);
  if (*end != '\0') return -1;
  for (int32_t c = 0; c < g->n_choices; c++) {
    const struct sp_value *cv = &g->choices[c].value;
    if ((cv->type == sv_int && (double)cv->i == v) || (cv->type == sv_num && cv->num == v))
      return c;
  }
  return -1;
}

static void choice_list(const struct sp_gene *g, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int32_t c = 0; c < g->n_choices && used + 1 < size; c++) {
    int w = snprintf(buf + used, size - used, "%s%s", c ? " " : "", g->choices[c].label);
    if (w < 0) break;
    used += (size_t)w;
  }
  if (used + 1 >= size && size > 4) strcpy(buf + size - 4, "...");
}

enum oc_status oc_space_parse_genes(const struct oc_space *sp, const char *text, int32_t *genes,
                                    size_t n) {
  if (n != (size_t)sp->n_genes)
    return oc__fail(oc_status_invalid_argument,
                    "space '%s': gene vector of length %zu, expected %d", sp->name, n,
                    (int)sp->n_genes);
  /* -1: not given; -2: given as "_". */
  for (int32_t g = 0; g < sp->n_genes; g++) genes[g] = -1;
  bool *seen = calloc((size_t)sp->n_families + 1, sizeof *seen);
  if (seen == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  enum oc_status st = oc_status_ok;
  const char *p = text;
  while (st == oc_status_ok) {
    const char *end = strchr(p, ';');
    if (end == NULL) end = p + strlen(p);
    const char *a = p, *b = end;
    trim(&a, &b);
    if (a < b) {
      const char *eq = memchr(a, '=', (size_t)(b - a));
      const char *na = a, *nb = eq ? eq : b;
      trim(&na, &nb);
      int32_t f = -1;
      for (int32_t i = 0; i < sp->n_families; i++)
        if (strlen(sp->families[i].name) == (size_t)(nb - na) &&
            memcmp(sp->families[i].name, na, (size_t)(nb - na)) == 0)
          f = i;
      if (eq == NULL) {
        st = oc__fail(oc_status_parse_error,
                      "gene text: '%.*s' is not FAMILY=VALUE,VALUE,... (families separated by "
                      "';')",
                      (int)(b - a), a);
        break;
      }
      if (f < 0) {
        char known[256] = "";
        for (int32_t i = 0; i < sp->n_families; i++) {
          size_t used = strlen(known);
          snprintf(known + used, sizeof known - used, "%s%s", i ? " " : "", sp->families[i].name);
        }
        st = oc__fail(oc_status_not_found,
                      "gene text: unknown gene family '%.*s' (space '%s' has: %s)", (int)(nb - na),
                      na, sp->name, known);
        break;
      }
      if (seen[f]) {
        st = oc__fail(oc_status_parse_error, "gene text: family '%s' is given twice",
                      sp->families[f].name);
        break;
      }
      seen[f] = true;
      const struct sp_family *fam = &sp->families[f];
      /* Count the values first so a wrong length is reported as such. */
      int32_t count = 1;
      for (const char *q = eq + 1; q < b; q++) count += *q == ',';
      if (count != fam->count) {
        st = oc__fail(oc_status_invalid_argument,
                      "gene text: family '%s' has %d value%s, expected %d", fam->name, (int)count,
                      count == 1 ? "" : "s", (int)fam->count);
        break;
      }
      const char *v = eq + 1;
      for (int32_t g = fam->first; g < fam->first + fam->count; g++) {
        const char *ve = memchr(v, ',', (size_t)(b - v));
        if (ve == NULL) ve = b;
        const char *va = v, *vb = ve;
        trim(&va, &vb);
        if (vb - va == 1 && *va == '_') {
          genes[g] = -2;
        } else {
          int32_t c = find_choice(&sp->genes[g], va, (size_t)(vb - va));
          if (c < 0) {
            char list[256];
            choice_list(&sp->genes[g], list, sizeof list);
            st = oc__fail(oc_status_invalid_argument,
                          "gene text: gene %s: value '%.*s' is not one of its choices (%s)",
                          sp->genes[g].name, (int)(vb - va), va, list);
            break;
          }
          genes[g] = c;
        }
        v = ve + 1;
      }
    }
    if (*end == '\0') break;
    p = end + 1;
  }
  free(seen);
  if (st != oc_status_ok) return st;
  /* Space-wide genes first (they decide depths), then block genes. */
  for (int32_t g = 0; g < sp->n_genes; g++) {
    if (sp->genes[g].stage >= 0 || genes[g] >= 0) continue;
    return oc__fail(oc_status_invalid_argument, "gene text: gene %s has no value%s",
                    sp->genes[g].name,
                    genes[g] == -2 ? " ('_' marks an inactive gene; space-wide genes are always "
                                     "active)"
                                   : "");
  }
  for (int32_t g = 0; g < sp->n_genes; g++) {
    if (sp->genes[g].stage < 0) continue;
    if (!gene_active(sp, g, genes)) {
      genes[g] = 0;
      continue;
    }
    if (genes[g] < 0)
      return oc__fail(oc_status_invalid_argument,
                      "gene text: gene %s is active (stage %s keeps %d blocks) and needs a value",
                      sp->genes[g].name, sp->stages[sp->genes[g].stage].name,
                      (int)oc__space_depth(sp, sp->genes[g].stage, genes));
  }
  return oc_status_ok;
}

/* ---- description ------------------------------------------------------------------------- */

const char *oc_space_name(const struct oc_space *sp) { return sp->name; }
const char *oc_space_summary(const struct oc_space *sp) { return sp->summary; }
const char *oc_space_source(const struct oc_space *sp) { return sp->source; }
const char *oc_space_origin(const struct oc_space *sp) { return sp->origin; }
enum oc_dtype oc_space_dtype(const struct oc_space *sp) { return sp->dtype; }
size_t oc_space_gene_count(const struct oc_space *sp) { return (size_t)sp->n_genes; }

const char *oc_space_gene_name(const struct oc_space *sp, size_t gene) {
  return gene < (size_t)sp->n_genes ? sp->genes[gene].name : NULL;
}

const char *oc_space_gene_family(const struct oc_space *sp, size_t gene) {
  return gene < (size_t)sp->n_genes ? sp->families[sp->genes[gene].family].name : NULL;
}

int32_t oc_space_gene_choices(const struct oc_space *sp, size_t gene) {
  return gene < (size_t)sp->n_genes ? sp->genes[gene].n_choices : 0;
}

const char *oc_space_gene_label(const struct oc_space *sp, size_t gene, int32_t choice) {
  if (gene >= (size_t)sp->n_genes || choice < 0 || choice >= sp->genes[gene].n_choices) return NULL;
  return sp->genes[gene].choices[choice].label;
}

const char *oc_space_gene_stage(const struct oc_space *sp, size_t gene, int32_t *block) {
  if (gene >= (size_t)sp->n_genes) return NULL;
  const struct sp_gene *g = &sp->genes[gene];
  if (block) *block = g->stage < 0 ? -1 : g->block;
  return g->stage < 0 ? "" : sp->stages[g->stage].name;
}

int32_t oc_space_resolution_gene(const struct oc_space *sp) { return sp->resolution_gene; }

size_t oc_space_stage_count(const struct oc_space *sp) { return (size_t)sp->n_stages; }

const char *oc_space_stage_info(const struct oc_space *sp, size_t stage, int32_t *blocks,
                                int32_t *depth_gene, const int32_t **depths) {
  if (stage >= (size_t)sp->n_stages) return NULL;
  const struct sp_stage *S = &sp->stages[stage];
  if (blocks) *blocks = S->blocks;
  if (depth_gene) *depth_gene = S->depth_gene;
  if (depths) *depths = S->depth_of;
  return S->name;
}

size_t oc_space_family_count(const struct oc_space *sp) { return (size_t)sp->n_families; }

const char *oc_space_family_name(const struct oc_space *sp, size_t family) {
  return family < (size_t)sp->n_families ? sp->families[family].name : NULL;
}

void oc_space_family_range(const struct oc_space *sp, size_t family, size_t *first, size_t *count) {
  if (family >= (size_t)sp->n_families) {
    *first = *count = 0;
    return;
  }
  *first = (size_t)sp->families[family].first;
  *count = (size_t)sp->families[family].count;
}

enum oc_status oc_space_size(const struct oc_space *sp, enum oc_space_count what, char *decimal,
                             size_t size) {
  return oc__space_count(sp, what, decimal, size);
}
