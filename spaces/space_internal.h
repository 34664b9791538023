/* space_internal.h - the compiled form of an opcost-space/1 template, shared
 * by the files of the search-space module. Not public.
 *
 *   space_load.c   JSON -> compiled template (genes, expressions, blocks)
 *   space_eval.c   gene vectors: activity, canonical form, block keys,
 *                  decode to opcost-net/1, sampling, gene text
 *   space_hash.c   the phenotype hash (kernels of memoized block expansions)
 *   space_count.c  exact sizes (decimal big integers)
 *   space_ops.c    small-network expansion of blocks: enumerate_ops, encode
 *   space_block.c  blocks one at a time, for tables of additive costs
 *   space_builtin.c the built-in spaces (JSON embedded at build time)
 *
 * Loading flattens the template: every stage is unrolled into block
 * instances, every block instance into units (one template layer each), and
 * a unit whose layer is chosen by a gene into alternatives (one per choice).
 * Gene and variable references are resolved to gene indices and expression
 * copies, so evaluating a vector is a walk over arrays with no lookups by
 * name. */
#ifndef OPCOST_SPACES_SPACE_INTERNAL_H
#define OPCOST_SPACES_SPACE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "opcost/space.h"

/* Bounds that keep loading and evaluation finite. */
#define SP_MAX_GENES 4096
#define SP_MAX_CHOICES 65536
#define SP_MAX_SLOTS 65536
#define SP_MAX_BLOCKS_PER_STAGE 1024
#define SP_MAX_STRING 1024 /* longest string field after interpolation */

enum sp_expr_kind {
  sp_int,    /* i */
  sp_num,    /* num */
  sp_str,    /* str */
  sp_bool,   /* i */
  sp_gene,   /* the value of gene `gene` */
  sp_lookup, /* items[choice index of gene `gene`] */
  sp_mul,    /* items[0] * items[1] */
  sp_interp, /* items concatenated: sp_str pieces and sp_gene labels */
};

struct sp_expr {
  enum sp_expr_kind kind;
  int64_t i;
  double num;
  char *str;
  uint64_t str_hash, str_pow; /* sp_str: oc__space_str_hash of str and P^length */
  int32_t gene;
  int32_t n;
  struct sp_expr *items;
};

enum sp_vtype { sv_int, sv_num, sv_str, sv_bool };
struct sp_value {
  enum sp_vtype type;
  int64_t i;
  double num;
  const char *str;
};

struct sp_choice {
  char *label;
  struct sp_value value;          /* scalar choices; str points into label */
  json_t *object;                 /* object choices (alternatives), else NULL */
  uint64_t word;                  /* oc__space_value_word of value */
  uint64_t label_hash, label_pow; /* oc__space_str_hash of label, P^length */
};

struct sp_gene {
  char *name; /* "k[3]", or "r" for a one-member family */
  int32_t family;
  int32_t stage; /* -1: space-wide */
  int32_t block; /* block index within its stage */
  int32_t n_choices;
  struct sp_choice *choices;
  bool objects; /* choices are alternatives, used by "choice" */
};

struct sp_family {
  char *name;
  int32_t first, count;
};

/* Input references of a layer (besides slots >= 0). */
#define SP_IN_NET (-1)   /* the network input */
#define SP_IN_BLOCK (-2) /* the input of the block ("@in") */

struct sp_field {
  char *name;
  uint64_t name_hash;
  struct sp_expr value;
};

struct sp_layer {
  char *op;
  uint64_t op_hash;
  int32_t n_fields;
  struct sp_field *fields; /* sorted by name */
  int32_t slot;            /* unique over the template */
  char *id;                /* the id the phenotype gives it when referenced */
  int32_t n_inputs;        /* 0: the previous layer */
  int32_t inputs[2];       /* slots, SP_IN_NET or SP_IN_BLOCK */
  bool global_refs;        /* names a layer outside its block */
  char *path;              /* where it comes from, for messages */
};

struct sp_alt {
  bool skip;
  int32_t n_layers;
  struct sp_layer *layers;
};

struct sp_unit {
  int32_t choice_gene; /* -1: one alternative */
  int32_t n_alts;
  struct sp_alt *alts;
};

struct sp_block {
  int32_t stage; /* -1: a top-level layer */
  int32_t index; /* block index within the stage */
  int32_t first_unit, n_units;
  int32_t first_slot, n_slots;
  int32_t n_genes; /* genes its layers read, sorted (not its stage's depth gene
                      unless a layer reads it too) */
  int32_t *genes;
  bool global_refs;
  char *path;
};

struct sp_stage {
  char *name;
  int32_t blocks;
  struct sp_expr depth;
  int32_t depth_gene; /* -1: constant depth */
  int32_t *depth_of;  /* depth per choice of depth_gene (or [0] when constant) */
  int32_t first_block;
};

struct oc_space {
  char *name, *summary, *source, *origin;
  enum oc_dtype dtype;
  struct sp_expr input[3]; /* h, w, c */
  int32_t n_genes;
  struct sp_gene *genes;
  int32_t n_families;
  struct sp_family *families;
  int32_t n_stages;
  struct sp_stage *stages;
  int32_t n_blocks;
  struct sp_block *blocks;
  int32_t n_units;
  struct sp_unit *units;
  int32_t n_slots;
  int32_t resolution_gene;
  int32_t *input_genes; /* genes the input shape reads */
  int32_t n_input_genes;
  int32_t *last_block;  /* per gene: last block that reads it; -1: only the input */
  bool global_refs;     /* some block names a layer outside itself */
  struct sp_memo *memo; /* expanded blocks for the phenotype hash (space_hash.c) */
};

/* ---- space_eval.c -------------------------------------------------------- */

/* Polynomial string hash: H(ab) = H(a) * P^len(b) + H(b), so an
 * interpolated string hashes from its pieces' hashes without being built.
 * *pow gets P^length. */
uint64_t oc__space_str_hash(const char *s, uint64_t *pow);
/* 64-bit word of a value for the phenotype hash; whole numbers give the
 * same word as integers (3 and 3.0 are one value). */
uint64_t oc__space_value_word(const struct sp_value *v);

/* The input shape for genes (h, w, c). */
enum oc_status oc__space_input(const struct oc_space *space, const int32_t *genes, int32_t dims[3]);

/* Depth a stage keeps for this vector. */
int32_t oc__space_depth(const struct oc_space *space, int32_t stage, const int32_t *genes);
/* True when block b emits its layers for this vector (its stage keeps it). */
bool oc__space_block_active(const struct oc_space *space, int32_t b, const int32_t *genes);

/* Evaluates an expression; strings are written into buf (size >=
 * SP_MAX_STRING) when interpolated. */
void oc__space_eval(const struct oc_space *space, const struct sp_expr *e, const int32_t *genes,
                    struct sp_value *out, char *buf);

/* JSON of one emitted layer. inputs: phenotype layer names (NULL entries
 * for "the previous layer"). New reference or NULL when out of memory. */
json_t *oc__space_layer_json(const struct oc_space *space, const struct sp_layer *layer,
                             const int32_t *genes);

/* Builds the opcost-net/1 JSON of blocks [first, first + count) for genes,
 * starting from input `in` (NULL: the space's input for genes). With
 * standalone, "@in" of the first block is the network input and references
 * outside the range fail with unsupported. *n_layers gets the number of
 * layers emitted; *origin (when not NULL) the template path of each. */
enum oc_status oc__space_build_json(const struct oc_space *space, const int32_t *genes,
                                    int32_t first, int32_t count, const struct oc_tensor_shape *in,
                                    json_t **root, int32_t *n_layers);

/* 128-bit key of what block b emits for genes on input `in` (the input
 * shape and every kept layer's op, fields and inputs, not where the block
 * is): equal keys expand to the same small network. *n_layers gets the
 * number of layers it emits. */
enum oc_status oc__space_block_key(const struct oc_space *space, const int32_t *genes, int32_t b,
                                   const struct oc_tensor_shape *in, uint64_t key[2],
                                   int32_t *n_layers);

/* Path of the template layer behind phenotype layer `index` of genes. */
const char *oc__space_layer_origin(const struct oc_space *space, const int32_t *genes,
                                   int32_t index);

/* ---- space_hash.c ----------------------------------------------------------- */

enum oc_status oc__space_memo_init(struct oc_space *space);
void oc__space_memo_free(struct oc_space *space);

/* ---- space_count.c ---------------------------------------------------------- */

enum oc_status oc__space_count(const struct oc_space *space, enum oc_space_count what,
                               char *decimal, size_t size);

/* ---- space_load.c ------------------------------------------------------------ */

void oc__space_expr_free(struct sp_expr *e);

/* ---- space_builtin_data.c (generated from the JSON files of spaces/builtin) ------------ */

struct oc__space_builtin_entry {
  const char *name; /* the file name without .json */
  const char *json;
};
extern const struct oc__space_builtin_entry oc__space_builtins[];
extern const size_t oc__space_builtin_n;

#endif
