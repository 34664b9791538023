/* cmd_space.c - `opcost space`: search spaces from the command line.
 *   opcost space list                      the built-in spaces and their sizes
 *   opcost space show SPACE                genes, choices, stages, exact size
 *   opcost space sample SPACE -n N         random architectures (reproducible)
 *   opcost space encode SPACE NET.json     network -> canonical gene text
 *   opcost space decode SPACE GENES        gene text -> opcost-net/1 JSON
 *   opcost space ops SPACE                 every op key the space produces */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "opcost/space.h"

static const char *const help =
    "usage: opcost space list [--json]\n"
    "       opcost space show SPACE [--json]\n"
    "       opcost space sample SPACE [-n N] [--seed S] [--out DIR] [--full] [--cost] [--json]\n"
    "       opcost space encode SPACE (NET.json | --genes TEXT) [--json]\n"
    "       opcost space decode SPACE GENES [-o FILE] [--cost] [--json]\n"
    "       opcost space ops SPACE [--resolution R[,R...]] [--blocks] [--json]\n"
    "\n"
    "SPACE is a built-in space name (see 'list') or a path to an opcost-space/1 file.\n"
    "GENES is gene text: families separated by ';', values by ',', '_' for a gene\n"
    "whose block is dropped, e.g. 'r=224;d=2,3,4,4,2;k=3,5,_,_,7,...'.\n"
    "\n"
    "list    every built-in space with its number of genes and exact size\n"
    "show    stages, gene families and choices, the exact number of architectures\n"
    "        (canonical gene vectors: vectors that differ in an active gene) and of\n"
    "        gene vectors; distinct networks can be fewer (counted when small)\n"
    "sample  N architectures, each gene uniform then canonicalized; sample i of a\n"
    "        seed is always the same. Prints index, phenotype hash and gene text;\n"
    "        --out DIR writes each network as DIR/SPACE-i.json; --cost adds MACs\n"
    "encode  the canonical gene text of a network (opcost-net/1 file) in the space,\n"
    "        or with --genes the canonical form of gene text\n"
    "decode  the network of a gene vector, as opcost-net/1 JSON (stdout or -o);\n"
    "        --cost prints its MACs, parameters and hash instead\n"
    "ops     every op the space's networks contain (kernel keys; --blocks: block\n"
    "        keys), at the resolution gene's choices or at --resolution values\n"
    "\n"
    "  -n, --count N      samples to draw (default 10)\n"
    "  --seed S           sample stream (default 1)\n"
    "  --out DIR          write sampled networks into DIR (created if missing)\n"
    "  --full             print every gene's value, inactive ones included\n"
    "  --cost             decode and report MACs and parameters\n"
    "  --genes TEXT       gene text to canonicalize (encode)\n"
    "  -o, --output FILE  where decode writes the network\n"
    "  --resolution LIST  input sizes for ops (comma separated)\n"
    "  --blocks           ops lists block keys instead of kernel keys\n"
    "  --json             machine-readable output\n"
    "  -h, --help         this text\n";

struct opts {
  bool json, full, cost, blocks;
  long count;
  uint64_t seed;
  const char *out_dir, *output, *genes, *resolution;
};

/* ---- helpers ------------------------------------------------------------------------ */

static int fail(const char *sub, enum oc_status st) {
  char cmd[32];
  snprintf(cmd, sizeof cmd, "space %s", sub);
  return cli_fail(cmd, st);
}

static json_t *choices_json(const int32_t *genes, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer(genes[i]));
  return a;
}

/* Approximate size for display ("5.4e20") from the decimal text. */
static void approx(const char *decimal, char *buf, size_t size) {
  size_t len = strlen(decimal);
  if (len <= 6) {
    snprintf(buf, size, "%s", decimal);
    return;
  }
  snprintf(buf, size, "%c.%ce%zu", decimal[0], decimal[1], len - 1);
}

/* Labels of genes [a, b) of a family are the same list: print once. */
static bool same_choices(const struct oc_space *sp, size_t a, size_t b) {
  if (oc_space_gene_choices(sp, a) != oc_space_gene_choices(sp, b)) return false;
  for (int32_t c = 0; c < oc_space_gene_choices(sp, a); c++)
    if (strcmp(oc_space_gene_label(sp, a, c), oc_space_gene_label(sp, b, c)) != 0) return false;
  return true;
}

static json_t *labels_json(const struct oc_space *sp, size_t g) {
  json_t *a = json_array();
  for (int32_t c = 0; c < oc_space_gene_choices(sp, g); c++)
    json_array_append_new(a, json_string(oc_space_gene_label(sp, g, c)));
  return a;
}

static int hash_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Distinct phenotypes, by hashing every gene vector; -1 when there are more
 * than 200000 vectors. */
static int64_t count_phenotypes(const struct oc_space *sp) {
  size_t n = oc_space_gene_count(sp);
  double total = 1;
  for (size_t g = 0; g < n; g++) total *= oc_space_gene_choices(sp, g);
  if (total > 200000) return -1;
  int32_t *genes = calloc(n + 1, sizeof *genes);
  uint64_t *hashes = malloc(((size_t)total + 1) * sizeof *hashes);
  int64_t distinct = -1;
  size_t count = 0;
  bool more = genes != NULL && hashes != NULL;
  while (more) {
    if (oc_space_phenotype_hash(sp, genes, n, &hashes[count++]) != oc_status_ok) {
      count = 0;
      break;
    }
    /* Odometer over every vector (hashing ignores inactive genes). */
    more = false;
    for (size_t g = n; g-- > 0;) {
      if (++genes[g] < oc_space_gene_choices(sp, g)) {
        more = true;
        break;
      }
      genes[g] = 0;
    }
  }
  if (count > 0) {
    qsort(hashes, count, sizeof *hashes, hash_cmp);
    distinct = 0;
    for (size_t i = 0; i < count; i++) distinct += i == 0 || hashes[i] != hashes[i - 1];
  }
  free(genes);
  free(hashes);
  return distinct;
}

/* ---- list ------------------------------------------------------------------------------ */

static int space_list(const struct opts *o) {
  json_t *list = o->json ? json_array() : NULL;
  if (!o->json) printf("%-22s %6s %26s  %s\n", "space", "genes", "architectures", "summary");
  for (size_t i = 0; i < oc_space_builtin_count(); i++) {
    struct oc_space *sp = NULL;
    enum oc_status st = oc_space_builtin(oc_space_builtin_name(i), &sp);
    if (st != oc_status_ok) {
      json_decref(list);
      return fail("list", st);
    }
    char size[128], raw[128];
    oc_space_size(sp, oc_space_count_canonical, size, sizeof size);
    oc_space_size(sp, oc_space_count_vectors, raw, sizeof raw);
    if (o->json) {
      json_array_append_new(
          list, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "name", oc_space_name(sp), "summary",
                          oc_space_summary(sp), "genes", (json_int_t)oc_space_gene_count(sp),
                          "size", size, "gene_vectors", raw, "source", oc_space_source(sp)));
    } else {
      char short_size[32];
      approx(size, short_size, sizeof short_size);
      printf("%-22s %6zu %26s  %.60s%s\n", oc_space_name(sp), oc_space_gene_count(sp),
             strlen(size) <= 26 ? size : short_size, oc_space_summary(sp),
             strlen(oc_space_summary(sp)) > 60 ? "..." : "");
    }
    oc_space_free(sp);
  }
  if (o->json) return cli_print_json(list);
  return 0;
}

/* ---- show ------------------------------------------------------------------------------- */

static int space_show(const struct opts *o, const struct oc_space *sp) {
  char size[256], raw[256];
  enum oc_status st = oc_space_size(sp, oc_space_count_canonical, size, sizeof size);
  if (st == oc_status_ok) st = oc_space_size(sp, oc_space_count_vectors, raw, sizeof raw);
  if (st != oc_status_ok) return fail("show", st);
  int64_t phenotypes = count_phenotypes(sp);
  int32_t res = oc_space_resolution_gene(sp);
  if (o->json) {
    json_t *fams = json_array(), *stages = json_array();
    for (size_t f = 0; f < oc_space_family_count(sp); f++) {
      size_t first, count;
      oc_space_family_range(sp, f, &first, &count);
      json_t *genes = json_array();
      for (size_t g = first; g < first + count; g++) {
        int32_t block;
        const char *stage = oc_space_gene_stage(sp, g, &block);
        json_t *gj = json_pack("{s:s, s:o}", "name", oc_space_gene_name(sp, g), "choices",
                               labels_json(sp, g));
        if (stage[0]) {
          json_object_set_new(gj, "stage", json_string(stage));
          json_object_set_new(gj, "block", json_integer(block));
        }
        json_array_append_new(genes, gj);
      }
      json_array_append_new(
          fams, json_pack("{s:s, s:o}", "name", oc_space_family_name(sp, f), "genes", genes));
    }
    for (size_t s = 0; s < oc_space_stage_count(sp); s++) {
      int32_t blocks, dg;
      const int32_t *depths;
      const char *name = oc_space_stage_info(sp, s, &blocks, &dg, &depths);
      json_t *dj = json_array();
      int32_t nd = dg >= 0 ? oc_space_gene_choices(sp, (size_t)dg) : 1;
      for (int32_t i = 0; i < nd; i++) json_array_append_new(dj, json_integer(depths[i]));
      json_array_append_new(
          stages,
          json_pack("{s:s, s:i, s:o, s:o}", "name", name, "blocks", (int)blocks, "depth_gene",
                    dg >= 0 ? json_string(oc_space_gene_name(sp, (size_t)dg)) : json_null(),
                    "depths", dj));
    }
    json_t *root = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:s, s:s, s:o, s:o, s:o}", "name", oc_space_name(sp),
        "summary", oc_space_summary(sp), "source", oc_space_source(sp), "origin",
        oc_space_origin(sp), "dtype", oc_dtype_name(oc_space_dtype(sp)), "resolution_gene",
        res >= 0 ? json_string(oc_space_gene_name(sp, (size_t)res)) : json_null(), "genes",
        (json_int_t)oc_space_gene_count(sp), "size", size, "gene_vectors", raw, "phenotypes",
        phenotypes >= 0 ? json_integer(phenotypes) : json_null(), "stages", stages, "families",
        fams);
    return cli_print_json(root);
  }
  printf("%s: %s\n", oc_space_name(sp), oc_space_summary(sp));
  if (oc_space_source(sp)[0]) printf("  source      %s\n", oc_space_source(sp));
  printf("  origin      %s\n", oc_space_origin(sp));
  printf("  dtype       %s\n", oc_dtype_name(oc_space_dtype(sp)));
  printf("  resolution  %s\n", res >= 0 ? oc_space_gene_name(sp, (size_t)res) : "fixed");
  for (size_t s = 0; s < oc_space_stage_count(sp); s++) {
    int32_t blocks, dg;
    const int32_t *depths;
    const char *name = oc_space_stage_info(sp, s, &blocks, &dg, &depths);
    printf("  %-11s %s: up to %d blocks, ", s == 0 ? "stages" : "", name, (int)blocks);
    if (dg < 0) {
      printf("depth %d\n", (int)depths[0]);
      continue;
    }
    printf("keeps");
    for (int32_t i = 0; i < oc_space_gene_choices(sp, (size_t)dg); i++)
      printf("%s%d", i ? "/" : " ", (int)depths[i]);
    printf(" by %s\n", oc_space_gene_name(sp, (size_t)dg));
  }
  printf("  genes       %zu in %zu families\n", oc_space_gene_count(sp), oc_space_family_count(sp));
  for (size_t f = 0; f < oc_space_family_count(sp); f++) {
    size_t first, count;
    oc_space_family_range(sp, f, &first, &count);
    size_t a = first;
    while (a < first + count) {
      size_t b = a + 1;
      while (b < first + count && same_choices(sp, a, b)) b++;
      char who[64];
      if (count == 1)
        snprintf(who, sizeof who, "%s", oc_space_family_name(sp, f));
      else if (b - a == 1)
        snprintf(who, sizeof who, "%s", oc_space_gene_name(sp, a));
      else
        snprintf(who, sizeof who, "%s[%zu..%zu]", oc_space_family_name(sp, f), a - first,
                 b - 1 - first);
      printf("    %-18s %3d choices:", who, (int)oc_space_gene_choices(sp, a));
      int32_t nc = oc_space_gene_choices(sp, a);
      for (int32_t c = 0; c < nc; c++) {
        if (nc > 12 && c == 6) {
          printf(" ...");
          c = nc - 4;
        }
        printf(" %s", oc_space_gene_label(sp, a, c));
      }
      printf("\n");
      a = b;
    }
  }
  char short_size[32];
  approx(size, short_size, sizeof short_size);
  printf("  size        %s architectures (~%s): canonical gene vectors, i.e. vectors that\n"
         "              differ in an active gene; distinct networks can be fewer\n",
         size, short_size);
  printf("              %s gene vectors (every gene, active or not)\n", raw);
  if (phenotypes >= 0)
    printf("  phenotypes  %lld distinct networks (every vector hashed)\n", (long long)phenotypes);
  return 0;
}

/* ---- sample ------------------------------------------------------------------------------ */

static int space_sample(const struct opts *o, const struct oc_space *sp) {
  size_t n = oc_space_gene_count(sp);
  int32_t *genes = calloc(n + 1, sizeof *genes);
  char *text = malloc(16384);
  json_t *list = o->json ? json_array() : NULL;
  enum oc_status st = genes && text ? oc_status_ok : oc_status_out_of_memory;
  if (st == oc_status_ok && o->out_dir && mkdir(o->out_dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "opcost space sample: cannot create '%s': %s\n", o->out_dir, strerror(errno));
    free(genes);
    free(text);
    json_decref(list);
    return oc_status_exit_code(oc_status_io_error);
  }
  for (long i = 0; i < o->count && st == oc_status_ok; i++) {
    uint64_t hash;
    st = oc_space_sample(sp, o->seed, (uint64_t)i, genes, n);
    if (st == oc_status_ok) st = oc_space_phenotype_hash(sp, genes, n, &hash);
    if (st == oc_status_ok) st = oc_space_format_genes(sp, genes, n, o->full, text, 16384);
    if (st != oc_status_ok) break;
    struct oc_net *net = NULL;
    if (o->cost || o->out_dir) st = oc_space_decode(sp, genes, n, &net);
    if (st == oc_status_ok && o->out_dir) {
      json_t *root = NULL;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s-%ld.json", o->out_dir, oc_space_name(sp), i);
      st = oc_space_decode_json(sp, genes, n, &root);
      if (st == oc_status_ok && json_dump_file(root, path, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "opcost space sample: cannot write '%s'\n", path);
        st = oc_status_io_error;
      }
      json_decref(root);
    }
    if (st != oc_status_ok) {
      oc_net_free(net);
      break;
    }
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, hash);
    if (o->json) {
      json_t *item = json_pack("{s:I, s:s, s:s, s:o}", "index", (json_int_t)i, "hash", hex, "genes",
                               text, "choices", choices_json(genes, n));
      if (net) {
        json_object_set_new(item, "macs", json_integer(net->cost.macs));
        json_object_set_new(item, "params", json_integer(net->cost.params));
      }
      json_array_append_new(list, item);
    } else if (net) {
      printf("%ld %s %.1fM MACs %.2fM params %s\n", i, hex, (double)net->cost.macs / 1e6,
             (double)net->cost.params / 1e6, text);
    } else {
      printf("%ld %s %s\n", i, hex, text);
    }
    oc_net_free(net);
  }
  free(genes);
  free(text);
  if (st != oc_status_ok) {
    json_decref(list);
    return fail("sample", st);
  }
  if (o->json) return cli_print_json(list);
  return 0;
}

/* ---- encode / decode ---------------------------------------------------------------------- */

static int print_vector(const struct opts *o, const struct oc_space *sp, const int32_t *genes,
                        const char *sub) {
  size_t n = oc_space_gene_count(sp);
  char *text = malloc(16384);
  uint64_t hash;
  enum oc_status st = text ? oc_status_ok : oc_status_out_of_memory;
  if (st == oc_status_ok) st = oc_space_format_genes(sp, genes, n, o->full, text, 16384);
  if (st == oc_status_ok) st = oc_space_phenotype_hash(sp, genes, n, &hash);
  if (st != oc_status_ok) {
    free(text);
    return fail(sub, st);
  }
  char hex[17];
  snprintf(hex, sizeof hex, "%016" PRIx64, hash);
  int rc = 0;
  if (o->json)
    rc = cli_print_json(json_pack("{s:s, s:s, s:s, s:o}", "space", oc_space_name(sp), "genes", text,
                                  "hash", hex, "choices", choices_json(genes, n)));
  else
    printf("%s\n", text);
  free(text);
  return rc;
}

static int space_encode(const struct opts *o, const struct oc_space *sp, const char *net_path) {
  size_t n = oc_space_gene_count(sp);
  int32_t *genes = calloc(n + 1, sizeof *genes);
  if (genes == NULL) return fail("encode", oc_status_out_of_memory);
  enum oc_status st;
  if (o->genes) {
    st = oc_space_parse_genes(sp, o->genes, genes, n);
  } else {
    struct oc_net *net = NULL;
    st = oc_net_load_file(net_path, &net);
    if (st == oc_status_ok) st = oc_space_encode(sp, net, genes, n);
    oc_net_free(net);
  }
  int rc = st == oc_status_ok ? print_vector(o, sp, genes, "encode") : fail("encode", st);
  free(genes);
  return rc;
}

static int space_decode(const struct opts *o, const struct oc_space *sp, const char *text) {
  size_t n = oc_space_gene_count(sp);
  int32_t *genes = calloc(n + 1, sizeof *genes);
  if (genes == NULL) return fail("decode", oc_status_out_of_memory);
  enum oc_status st = oc_space_parse_genes(sp, text, genes, n);
  int rc = 0;
  if (st == oc_status_ok && o->cost) {
    struct oc_net *net = NULL;
    uint64_t hash = 0;
    st = oc_space_decode(sp, genes, n, &net);
    if (st == oc_status_ok) st = oc_space_phenotype_hash(sp, genes, n, &hash);
    if (st == oc_status_ok) {
      char hex[17];
      snprintf(hex, sizeof hex, "%016" PRIx64, hash);
      if (o->json) {
        rc = cli_print_json(json_pack(
            "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:i}", "space", oc_space_name(sp),
            "phenotype_hash", hex, "net_hash", net->hash_hex, "macs", (json_int_t)net->cost.macs,
            "flops", (json_int_t)net->cost.flops, "params", (json_int_t)net->cost.params,
            "peak_activation_bytes", (json_int_t)net->cost.peak_activation_bytes, "layers",
            (int)net->n_layers, "kernels", (int)net->n_kernels));
      } else {
        printf("%s: %d layers, %d kernels\n", oc_space_name(sp), (int)net->n_layers,
               (int)net->n_kernels);
        printf("  MACs            %lld (%.1fM)\n", (long long)net->cost.macs,
               (double)net->cost.macs / 1e6);
        printf("  params          %lld (%.2fM)\n", (long long)net->cost.params,
               (double)net->cost.params / 1e6);
        printf("  peak activation %lld bytes\n", (long long)net->cost.peak_activation_bytes);
        printf("  phenotype hash  %s\n  network hash    %s\n", hex, net->hash_hex);
      }
    }
    oc_net_free(net);
  } else if (st == oc_status_ok) {
    json_t *root = NULL;
    st = oc_space_decode_json(sp, genes, n, &root);
    /* Load it once so a bad vector fails here, not in the reader. */
    struct oc_net *net = NULL;
    if (st == oc_status_ok) st = oc_space_decode(sp, genes, n, &net);
    oc_net_free(net);
    if (st == oc_status_ok && o->output) {
      if (json_dump_file(root, o->output, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "opcost space decode: cannot write '%s'\n", o->output);
        rc = oc_status_exit_code(oc_status_io_error);
      }
      json_decref(root);
    } else if (st == oc_status_ok) {
      rc = cli_print_json(root);
    } else {
      json_decref(root);
    }
  }
  free(genes);
  if (st != oc_status_ok) return fail("decode", st);
  return rc;
}

/* ---- ops -------------------------------------------------------------------------------- */

static int space_ops(const struct opts *o, const struct oc_space *sp) {
  int32_t res[256];
  size_t n_res = 0;
  if (o->resolution) {
    const char *p = o->resolution;
    while (*p) {
      char *end;
      errno = 0;
      long v = strtol(p, &end, 10);
      if (end == p || errno || v < 1 || v > OC_FIELD_VALUE_MAX || n_res == 256 ||
          (*end && *end != ','))
        return cli_usage_error("space ops", "--resolution: '%s' is not a list of sizes",
                               o->resolution);
      res[n_res++] = (int32_t)v;
      p = *end ? end + 1 : end;
    }
  }
  struct oc_space_ops *ops = NULL;
  double t0 = cli_now_s();
  enum oc_status st = oc_space_enumerate_ops(sp, n_res ? res : NULL, n_res, &ops);
  if (st != oc_status_ok) return fail("ops", st);
  double dt = cli_now_s() - t0;
  if (o->json) {
    json_t *k = json_array(), *b = json_array();
    for (size_t i = 0; i < ops->n_kernels; i++)
      json_array_append_new(k, json_string(ops->kernel_keys[i]));
    for (size_t i = 0; i < ops->n_blocks; i++)
      json_array_append_new(b, json_string(ops->block_keys[i]));
    oc_space_ops_free(ops);
    return cli_print_json(
        json_pack("{s:s, s:o, s:o}", "space", oc_space_name(sp), "kernels", k, "blocks", b));
  }
  char **keys = o->blocks ? ops->block_keys : ops->kernel_keys;
  size_t n = o->blocks ? ops->n_blocks : ops->n_kernels;
  for (size_t i = 0; i < n; i++) printf("%s\n", keys[i]);
  fprintf(stderr, "%s: %zu kernel keys, %zu block keys (%lld block networks expanded, %.2f s)\n",
          oc_space_name(sp), ops->n_kernels, ops->n_blocks, (long long)ops->nets_built, dt);
  oc_space_ops_free(ops);
  return 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

int cli_cmd_space(int argc, char **argv) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'},        {"full", no_argument, NULL, 'F'},
      {"cost", no_argument, NULL, 'C'},        {"blocks", no_argument, NULL, 'B'},
      {"count", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 'S'},
      {"out", required_argument, NULL, 'D'},   {"output", required_argument, NULL, 'o'},
      {"genes", required_argument, NULL, 'G'}, {"resolution", required_argument, NULL, 'R'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
  struct opts o = {false, false, false, false, 10, 1, NULL, NULL, NULL, NULL};
  char *positional[8];
  int n_pos = 0;
  int c;
  optind = 1;
  /* Options may come before or after the subcommand and its arguments. */
  while (optind < argc) {
    if ((c = getopt_long(argc, argv, "+hn:o:", longopts, NULL)) == -1) {
      if (n_pos == 8) return cli_usage_error("space", "too many arguments");
      positional[n_pos++] = argv[optind++];
      continue;
    }
    switch (c) {
    case 'j': o.json = true; break;
    case 'F': o.full = true; break;
    case 'C': o.cost = true; break;
    case 'B': o.blocks = true; break;
    case 'n':
      if (!cli_parse_int("space", "--count", optarg, 0, 100000000, &o.count)) return CLI_EXIT_USAGE;
      break;
    case 'S': {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(optarg, &end, 10);
      if (end == optarg || *end || errno || optarg[0] == '-')
        return cli_usage_error("space", "--seed: '%s' is not a whole number >= 0", optarg);
      o.seed = (uint64_t)v;
      break;
    }
    case 'D': o.out_dir = optarg; break;
    case 'o': o.output = optarg; break;
    case 'G': o.genes = optarg; break;
    case 'R': o.resolution = optarg; break;
    case 'h': fputs(help, stdout); return 0;
    default: return cli_usage_error("space", "unknown option");
    }
  }
  if (n_pos == 0)
    return cli_usage_error("space", "expected a subcommand: list show sample encode decode ops");
  const char *sub = positional[0];
  if (strcmp(sub, "list") == 0) {
    if (n_pos != 1) return cli_usage_error("space", "'space list' takes no arguments");
    return space_list(&o);
  }
  bool known = strcmp(sub, "show") == 0 || strcmp(sub, "sample") == 0 ||
               strcmp(sub, "encode") == 0 || strcmp(sub, "decode") == 0 || strcmp(sub, "ops") == 0;
  if (!known)
    return cli_usage_error(
        "space", "unknown subcommand '%s' (expected list show sample encode decode ops)", sub);
  if (n_pos < 2) return cli_usage_error("space", "'space %s' needs a SPACE", sub);
  int want = strcmp(sub, "decode") == 0 || (strcmp(sub, "encode") == 0 && !o.genes) ? 3 : 2;
  if (n_pos != want)
    return cli_usage_error(
        "space", "'space %s' takes %s", sub,
        want == 3 ? (strcmp(sub, "decode") == 0 ? "SPACE GENES" : "SPACE NET.json (or --genes)")
                  : "only SPACE");
  struct oc_space *sp = NULL;
  enum oc_status st = oc_space_open(positional[1], &sp);
  if (st != oc_status_ok) return fail(sub, st);
  int rc;
  if (strcmp(sub, "show") == 0)
    rc = space_show(&o, sp);
  else if (strcmp(sub, "sample") == 0)
    rc = space_sample(&o, sp);
  else if (strcmp(sub, "encode") == 0)
    rc = space_encode(&o, sp, n_pos > 2 ? positional[2] : NULL);
  else if (strcmp(sub, "decode") == 0)
    rc = space_decode(&o, sp, positional[2]);
  else
    rc = space_ops(&o, sp);
  oc_space_free(sp);
  return rc;
}
