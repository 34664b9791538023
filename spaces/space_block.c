/* space_block.c - a phenotype one block at a time: the genes each block
 * reads, the input shape, and a block built as a network of its own on a
 * given input shape.
 *
 * This is what makes additive costs tabulable: in a separable space the
 * network's kernels are its kept blocks' kernels in order (the phenotype
 * hash of space_hash.c relies on the same fact), so a cost that adds over
 * kernels is the sum of per-block costs, and a per-block cost depends only
 * on (block, input shape, the block's genes, its stage's depth). The search
 * module fills such tables lazily from these functions. */
#include <string.h>

#include "core/core.h"
#include "spaces/space_internal.h"

size_t oc_space_block_count(const struct oc_space *sp) { return (size_t)sp->n_blocks; }

bool oc_space_blocks_separable(const struct oc_space *sp) { return !sp->global_refs; }

const char *oc_space_block_info(const struct oc_space *sp, size_t block, int32_t *stage,
                                int32_t *index, const int32_t **genes, size_t *n_genes) {
  if (block >= (size_t)sp->n_blocks) return NULL;
  const struct sp_block *b = &sp->blocks[block];
  if (stage) *stage = b->stage;
  if (index) *index = b->index;
  if (genes) *genes = b->genes;
  if (n_genes) *n_genes = (size_t)b->n_genes;
  return b->path;
}

const int32_t *oc_space_input_genes(const struct oc_space *sp, size_t *n_genes) {
  if (n_genes) *n_genes = (size_t)sp->n_input_genes;
  return sp->input_genes;
}

enum oc_status oc_space_input_shape(const struct oc_space *sp, const int32_t *genes, size_t n,
                                    struct oc_tensor_shape *shape) {
  enum oc_status st = oc_space_check_genes(sp, genes, n);
  if (st != oc_status_ok) return st;
  int32_t dims[3];
  st = oc__space_input(sp, genes, dims);
  if (st != oc_status_ok) return st;
  shape->n = 1;
  shape->h = dims[0];
  shape->w = dims[1];
  shape->c = dims[2];
  return oc_status_ok;
}

enum oc_status oc_space_block_net(const struct oc_space *sp, const int32_t *genes, size_t n,
                                  size_t block, const struct oc_tensor_shape *in,
                                  struct oc_net **net, struct oc_tensor_shape *out) {
  *net = NULL;
  *out = *in;
  enum oc_status st = oc_space_check_genes(sp, genes, n);
  if (st != oc_status_ok) return st;
  if (block >= (size_t)sp->n_blocks)
    return oc__fail(oc_status_invalid_argument, "space '%s': block %zu of %d", sp->name, block,
                    (int)sp->n_blocks);
  if (sp->global_refs)
    return oc__fail(oc_status_unsupported,
                    "space '%s': a layer names a layer outside its block, so blocks do not "
                    "build on their own",
                    sp->name);
  int32_t b = (int32_t)block;
  if (!oc__space_block_active(sp, b, genes)) return oc_status_ok;
  json_t *root = NULL;
  int32_t layers = 0;
  st = oc__space_build_json(sp, genes, b, 1, in, &root, &layers);
  if (st == oc_status_ok && layers > 0) {
    st = oc_net_load_json(root, sp->name, net);
    if (st != oc_status_ok)
      st = oc__fail_prefix(st, "%s: %s: ", sp->origin, sp->blocks[b].path);
    else
      *out = (*net)->output;
  }
  json_decref(root);
  return st;
}
