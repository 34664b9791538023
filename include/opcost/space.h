/* space.h - search spaces: the opcost-space/1 JSON format, gene vectors,
 * phenotypes and what a LUT builder needs to know about a space.
 *
 * A space is an opcost-net/1 network template whose field values may be
 * genes (named choice lists). Stages repeat a block up to N times and a depth
 * gene keeps the first d blocks; a choice gene may replace a layer by one of
 * several alternatives (or drop it: ProxylessNAS "zero", FBNet "skip").
 *
 * An architecture is a gene vector: one choice index per gene, in the
 * space's gene order (oc_space_gene_name). Genes of blocks that the depth
 * genes switch off are inactive; the canonical vector resets them to choice
 * 0, and its text form writes them as "_". The phenotype is the network the
 * vector builds; two vectors with one phenotype are one candidate, and
 * oc_space_phenotype_hash tells them apart without building the network
 * (it hashes the expanded kernels, not the genes).
 *
 * Gene text (oc_space_parse_genes / oc_space_format_genes) lists genes by
 * family, families separated by ';', members by ',', values by their label:
 *   r=224;d=4,2,3,4,4;k=7,5,_,_,3,...;e=6,4,_,_,...
 * docs/formats.md describes the JSON format and every rule.
 *
 * A loaded space is immutable (but for the phenotype hash's block memo,
 * which a mutex guards): every function taking a const space is
 * thread-safe. */
#ifndef OPCOST_SPACE_H
#define OPCOST_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opcost/net.h"
#include "opcost/op.h"
#include "opcost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OC_SPACE_FORMAT "opcost-space/1"

struct oc_space;

/* ---- loading ----------------------------------------------------------------- */

/* Loads and checks a space: the JSON, gene references, lookups, and a
 * decode of test vectors that use every choice of every gene at least once
 * (so a field the block does not take fails here, not mid-search).
 * Failures name the file and, for JSON syntax, the line and column; for
 * the template, the path of the value ("layers[4].stage.layers[0]: field
 * 'kernel' ..."). Returns parse_error, invalid_argument, not_found (unknown
 * gene or choice set), incompatible (another format tag), io_error,
 * out_of_memory. */
enum oc_status oc_space_load_file(const char *path, struct oc_space **space);
enum oc_status oc_space_from_string(const char *text, const char *source, struct oc_space **space);
/* A built-in space by name ("ofa-mbv3-w1.0"); not_found lists the names. */
enum oc_status oc_space_builtin(const char *name, struct oc_space **space);
/* A built-in name, or else a path to a space file (anything with a '/' or
 * ending in ".json"). */
enum oc_status oc_space_open(const char *name_or_path, struct oc_space **space);
void oc_space_free(struct oc_space *space); /* NULL-safe */

size_t oc_space_builtin_count(void);
const char *oc_space_builtin_name(size_t index); /* NULL past the end */
/* The JSON text of a built-in space (NULL when no built-in has that name):
 * the starting point of a derived space (edit it, then oc_space_from_string). */
const char *oc_space_builtin_text(const char *name);

/* ---- description ------------------------------------------------------------- */

const char *oc_space_name(const struct oc_space *space);
const char *oc_space_summary(const struct oc_space *space);
const char *oc_space_source(const struct oc_space *space); /* citation; "" if none */
const char *oc_space_origin(const struct oc_space *space); /* file, or "builtin:NAME" */
enum oc_dtype oc_space_dtype(const struct oc_space *space);

size_t oc_space_gene_count(const struct oc_space *space);
/* "k[3]": family and index within the family. */
const char *oc_space_gene_name(const struct oc_space *space, size_t gene);
const char *oc_space_gene_family(const struct oc_space *space, size_t gene);
int32_t oc_space_gene_choices(const struct oc_space *space, size_t gene);
/* The label of choice c of a gene ("3", "0.25", "nor_conv_3x3", "k3_e6"). */
const char *oc_space_gene_label(const struct oc_space *space, size_t gene, int32_t choice);
/* The stage a gene belongs to ("" for a space-wide gene), and its block. */
const char *oc_space_gene_stage(const struct oc_space *space, size_t gene, int32_t *block);
/* The gene the input height comes from (the resolution), or -1. */
int32_t oc_space_resolution_gene(const struct oc_space *space);

/* Stages: name, most blocks, the gene that sets the depth (-1: constant)
 * and the depth kept for each choice of that gene (one value when
 * constant). NULL past the end. */
size_t oc_space_stage_count(const struct oc_space *space);
const char *oc_space_stage_info(const struct oc_space *space, size_t stage, int32_t *blocks,
                                int32_t *depth_gene, const int32_t **depths);

/* Families in gene order; each family's genes are consecutive. */
size_t oc_space_family_count(const struct oc_space *space);
const char *oc_space_family_name(const struct oc_space *space, size_t family);
void oc_space_family_range(const struct oc_space *space, size_t family, size_t *first,
                           size_t *count);

/* Exact size of the space as a decimal integer (any size; bounded by
 * buffer): oc_space_count_vectors counts every gene vector (the product of
 * all choice counts); oc_space_count_canonical counts canonical vectors,
 * i.e. vectors that differ in an active gene - the size papers quote (OFA:
 * (sum_d 9^d)^5 x 25). Distinct phenotypes can be fewer. overflow when the
 * buffer is too small (64 bytes hold any built-in space). */
enum oc_space_count { oc_space_count_vectors, oc_space_count_canonical };
enum oc_status oc_space_size(const struct oc_space *space, enum oc_space_count what, char *decimal,
                             size_t size);

/* ---- gene vectors ------------------------------------------------------------ */

/* Every call takes the vector and its length n; n must equal
 * oc_space_gene_count (invalid_argument otherwise, like an index outside its
 * gene's choices; the message names the gene). */
enum oc_status oc_space_check_genes(const struct oc_space *space, const int32_t *genes, size_t n);
/* active[i] = gene i matters for this vector (its block is kept). */
enum oc_status oc_space_active_genes(const struct oc_space *space, const int32_t *genes, size_t n,
                                     bool *active);
/* out = genes with inactive genes reset to 0 (out may equal genes). */
enum oc_status oc_space_canonicalize(const struct oc_space *space, const int32_t *genes,
                                     int32_t *out, size_t n);

/* Hash of the phenotype: of the kernels its network expands to (op
 * fields, shapes, which tensors each reads and writes, the output), so two
 * vectors hash equal exactly when they build the same network, whatever
 * their inactive genes, the position of a dropped block, or an NB201 edge
 * that leads nowhere. Computed without building the network: each distinct
 * block is expanded once and remembered by the space (thread-safe; about
 * a microsecond per vector once its blocks are known). Fails like
 * oc_space_decode when the vector does not build. */
enum oc_status oc_space_phenotype_hash(const struct oc_space *space, const int32_t *genes, size_t n,
                                       uint64_t *hash);
/* The same hash of a built network (equal to oc_space_phenotype_hash of any
 * vector that decodes to it); invalid_argument for another dtype. */
enum oc_status oc_space_net_hash(const struct oc_space *space, const struct oc_net *net,
                                 uint64_t *hash);

/* The phenotype as opcost-net/1 JSON (new reference) or as a loaded net.
 * The net's name is the space's name. */
enum oc_status oc_space_decode_json(const struct oc_space *space, const int32_t *genes, size_t n,
                                    json_t **root);
enum oc_status oc_space_decode(const struct oc_space *space, const int32_t *genes, size_t n,
                               struct oc_net **net);

/* Sample number `index` of the stream `seed`: every gene uniform over its
 * choices, then canonicalized. Random access and reproducible across
 * machines: sample i does not depend on how many were drawn before. */
enum oc_status oc_space_sample(const struct oc_space *space, uint64_t seed, uint64_t index,
                               int32_t *genes, size_t n);

/* Gene text. Parsing accepts families in any order, spaces around tokens,
 * "_" for an inactive gene; every active gene needs a value (a family may be
 * left out only when all its genes are inactive). Errors name the family,
 * gene and value: unknown family, wrong count, a value that is not a
 * choice. The result is canonical. */
enum oc_status oc_space_parse_genes(const struct oc_space *space, const char *text, int32_t *genes,
                                    size_t n);
/* Writes the canonical text (inactive genes as "_"); with full = true every
 * gene's value. overflow when buf is too small. */
enum oc_status oc_space_format_genes(const struct oc_space *space, const int32_t *genes, size_t n,
                                     bool full, char *buf, size_t size);

/* Finds the canonical vector whose phenotype is `net` (same layer keys and
 * graph: the hashes match). not_found, naming the first layer no choice
 * reproduces, when the network is not in the space. */
enum oc_status oc_space_encode(const struct oc_space *space, const struct oc_net *net,
                               int32_t *genes, size_t n);

/* ---- blocks: costs that add up (space_block.c) ------------------------------------ */

/* A phenotype is made of blocks in order: every top-level layer and every
 * block instance of every stage (oc_space_block_count of them). A block's
 * layers depend only on the shape entering it, the genes its layers read
 * and, for a stage block, whether its stage keeps it (its index is below
 * the depth of oc_space_stage_info). When the space is separable (no
 * layer names a layer outside its own block), a network's kernels are its
 * kept blocks' kernels in order, each block as oc_space_block_net builds it
 * on its own: costs that add over kernels (a LUT's latency, MACs, params)
 * can be tabulated per (block, input shape, choices of its genes), which
 * is how the search evaluates millions of vectors a second. */
size_t oc_space_block_count(const struct oc_space *space);
bool oc_space_blocks_separable(const struct oc_space *space);
/* Block `block`: its stage (-1 for a top-level layer) and index in it, and
 * the genes its layers read (sorted; the depth gene is not among them).
 * Returns the block's template path ("layers[2] (s1 block 0)"), NULL past
 * the end. Any out pointer may be NULL. */
const char *oc_space_block_info(const struct oc_space *space, size_t block, int32_t *stage,
                                int32_t *index, const int32_t **genes, size_t *n_genes);
/* The genes the network's input shape reads (sorted). */
const int32_t *oc_space_input_genes(const struct oc_space *space, size_t *n_genes);
/* The network's input shape for genes (n = 1). */
enum oc_status oc_space_input_shape(const struct oc_space *space, const int32_t *genes, size_t n,
                                    struct oc_tensor_shape *shape);
/* Block `block` of genes entering with shape `in`, as a network of its own
 * whose input is `in` (named by the space). *net is NULL when the vector
 * drops the block or the block keeps no layer; *out gets the shape leaving
 * it (= *in then). unsupported for a space that is not separable; fails
 * like oc_space_decode when the block does not build. */
enum oc_status oc_space_block_net(const struct oc_space *space, const int32_t *genes, size_t n,
                                  size_t block, const struct oc_tensor_shape *in,
                                  struct oc_net **net, struct oc_tensor_shape *out);

/* ---- ops for LUT building ------------------------------------------------------ */

/* Every distinct op the space's networks contain, at the given input
 * resolutions (values of the resolution gene; NULL/0 = all its choices;
 * any positive size is accepted), exactly: only combinations that some gene
 * vector produces. kernels: canonical op keys after block expansion, with
 * their descriptors; blocks: block-granularity keys (layer keys). Both
 * sorted. unsupported for templates whose layers name inputs outside their
 * block. */
struct oc_space_ops {
  size_t n_kernels;
  char **kernel_keys;
  struct oc_op *kernels;
  size_t n_blocks;
  char **block_keys;
  int64_t nets_built; /* small networks expanded to find them (for reports) */
};
enum oc_status oc_space_enumerate_ops(const struct oc_space *space, const int32_t *resolutions,
                                      size_t n_resolutions, struct oc_space_ops **ops);
void oc_space_ops_free(struct oc_space_ops *ops); /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
