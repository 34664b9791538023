/* test_space.c - search spaces: exact sizes of every built-in space against
 * their closed formulas, phenotype dedupe (inactive genes, dropped blocks,
 * identical blocks in another order), the fast phenotype hash against the
 * built networks' hashes, MACs of known networks, reproducible sampling,
 * gene text, encode round trips and the op enumeration against sampling. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcost/opcost.h"
#include "opcost/space.h"

static struct oc_space *open_space(const char *name) {
  struct oc_space *sp = NULL;
  enum oc_status st = oc_space_builtin(name, &sp);
  cr_assert_eq(st, oc_status_ok, "%s: %s", name, oc_errmsg());
  return sp;
}

static void parse(const struct oc_space *sp, const char *text, int32_t *genes) {
  enum oc_status st = oc_space_parse_genes(sp, text, genes, oc_space_gene_count(sp));
  cr_assert_eq(st, oc_status_ok, "%s: %s", text, oc_errmsg());
}

/* "v,v,...,v" with n copies. */
static char *rep(const char *v, int n) {
  static char buf[8][1024];
  static int slot;
  char *b = buf[slot++ % 8];
  b[0] = '\0';
  for (int i = 0; i < n; i++) {
    strcat(b, i ? "," : "");
    strcat(b, v);
  }
  return b;
}

static struct oc_net *decode(const struct oc_space *sp, const int32_t *genes) {
  struct oc_net *net = NULL;
  enum oc_status st = oc_space_decode(sp, genes, oc_space_gene_count(sp), &net);
  cr_assert_eq(st, oc_status_ok, "%s", oc_errmsg());
  return net;
}

/* Parameters cross a process boundary (Criterion re-executes the test
 * binary), so they hold names, not pointers. */
struct space_param {
  char name[32];
};

static uint64_t phash(const struct oc_space *sp, const int32_t *genes) {
  uint64_t h = 0;
  cr_assert_eq(oc_space_phenotype_hash(sp, genes, oc_space_gene_count(sp), &h), oc_status_ok, "%s",
               oc_errmsg());
  return h;
}

/* ---- sizes ------------------------------------------------------------------------------- */

struct size_case {
  const char *space;
  const char *canonical; /* decimal */
  const char *vectors;
};

/* Expected sizes from closed formulas (S = 9^2 + 9^3 + 9^4 = 7371, the
 * choices of one OFA stage of 2-4 blocks with 3 kernels x 3 expands):
 *   ofa-mbv3-*         25 resolutions x S^5;        vectors 25 x 3^5 x 9^20
 *   ofa-proxyless-w1.3 25 x S^5 x 9 (final block);  vectors 25 x 3^5 x 9^21
 *   mcunet             9 widths x 12 resolutions x S^5 x 9; vectors 108 x 3^5 x 9^21
 *   ofa-resnet50       25 x 3^6 widths x 3 stem depths x (3^2+3^3+3^4)^3 x (3^4+3^5+3^6)
 *                      (e has 3 choices per kept block); vectors 25 x 3^5 x 3^6 x 3^18
 *   nasbench201        5^6
 *   proxylessnas-mobile 6^6 x 7^15 (first blocks have no zero)
 *   fbnet              9^22
 *   autoformer-t       3 x (4^12 + 4^13 + 4^14);    vectors 3 x 3 x 4^14
 *   vit-base-elastic   12^10 + 12^11 + 12^12;       vectors 3 x 12^12
 *   bert-base-elastic  12^6 + ... + 12^12;          vectors 7 x 12^12
 *                      (4 heads x 3 MLP widths per layer) */
static const struct size_case size_cases[] = {
    {"ofa-mbv3-w1.0", "543966387314312146275", "73857817663770842466075"},
    {"ofa-mbv3-w1.2", "543966387314312146275", "73857817663770842466075"},
    {"ofa-proxyless-w1.3", "4895697485828809316475", "664720358973937582194675"},
    {"mcunet", "21149413138780456247172", "2871591950767410355080996"},
    {"ofa-resnet50", "92209304886075", "1715759434122075"},
    {"nasbench201", "15625", "15625"},
    {"proxylessnas-mobile", "221502229807900608", "221502229807900608"},
    {"fbnet", "984770902183611232881", "984770902183611232881"},
    {"autoformer-t", "1056964608", "2415919104"},
    {"vit-base-elastic", "9721026183168", "26748301344768"},
    {"bert-base-elastic", "9726654763008", "62412703137792"},
};

Test(space, builtin_sizes_are_exact) {
  size_t n = sizeof size_cases / sizeof size_cases[0];
  cr_assert_eq(oc_space_builtin_count(), n, "a size case for every built-in space");
  for (size_t i = 0; i < n; i++) {
    struct oc_space *sp = open_space(size_cases[i].space);
    char got[128];
    cr_assert_eq(oc_space_size(sp, oc_space_count_canonical, got, sizeof got), oc_status_ok);
    cr_expect_str_eq(got, size_cases[i].canonical, "%s canonical", size_cases[i].space);
    cr_assert_eq(oc_space_size(sp, oc_space_count_vectors, got, sizeof got), oc_status_ok);
    cr_expect_str_eq(got, size_cases[i].vectors, "%s vectors", size_cases[i].space);
    /* A buffer too small is an error, not a truncated number. */
    cr_expect_eq(oc_space_size(sp, oc_space_count_vectors, got, 4), oc_status_overflow);
    oc_space_free(sp);
  }
}

Test(space, builtin_files_are_named_after_their_space) {
  for (size_t i = 0; i < oc_space_builtin_count(); i++) {
    struct oc_space *sp = open_space(oc_space_builtin_name(i));
    cr_expect_str_eq(oc_space_name(sp), oc_space_builtin_name(i));
    cr_expect_neq(oc_space_summary(sp)[0], '\0');
    cr_expect_neq(oc_space_source(sp)[0], '\0');
    oc_space_free(sp);
  }
}

Test(space, ofa_gene_layout_follows_the_arch_dict) {
  struct oc_space *sp = open_space("ofa-mbv3-w1.0");
  cr_assert_eq(oc_space_gene_count(sp), 1 + 5 + 20 + 20);
  cr_expect_str_eq(oc_space_gene_name(sp, 0), "r");
  cr_expect_str_eq(oc_space_gene_name(sp, 1), "d[0]");
  cr_expect_str_eq(oc_space_gene_name(sp, 6), "k[0]");
  cr_expect_str_eq(oc_space_gene_name(sp, 26), "e[0]");
  cr_expect_eq(oc_space_gene_choices(sp, 0), 25);
  cr_expect_str_eq(oc_space_gene_label(sp, 0, 24), "224");
  cr_expect_eq(oc_space_resolution_gene(sp), 0);
  int32_t block;
  cr_expect_str_eq(oc_space_gene_stage(sp, 9, &block), "s1"); /* k[3] */
  cr_expect_eq(block, 3);
  cr_expect_eq(oc_space_stage_count(sp), 5);
  oc_space_free(sp);
}

/* ---- phenotypes ----------------------------------------------------------------------------- */

Test(space, inactive_genes_do_not_change_the_phenotype) {
  struct oc_space *sp = open_space("ofa-mbv3-w1.0");
  size_t n = oc_space_gene_count(sp);
  int32_t a[64], b[64];
  char text[1024];
  /* Stage 1 keeps 2 blocks: k[2], k[3], e[2], e[3] are inactive. */
  parse(sp,
        "r=224;d=2,4,4,4,4;k=5,5,_,_,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5;"
        "e=4,4,_,_,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4",
        a);
  memcpy(b, a, sizeof a);
  b[6 + 2] = 2;  /* k[2] = 7 */
  b[26 + 3] = 0; /* e[3] = 3 */
  cr_expect_eq(phash(sp, a), phash(sp, b));
  struct oc_net *na = decode(sp, a), *nb = decode(sp, b);
  cr_expect_eq(na->hash, nb->hash);
  cr_expect_eq(na->n_layers, 2 + 2 + 4 * 4 + 4);
  oc_net_free(na);
  oc_net_free(nb);
  /* Canonicalizing resets them, and the text marks them '_'. */
  int32_t c[64];
  cr_assert_eq(oc_space_canonicalize(sp, b, c, n), oc_status_ok);
  cr_expect_eq(memcmp(a, c, n * sizeof *a), 0);
  bool active[64];
  cr_assert_eq(oc_space_active_genes(sp, b, n, active), oc_status_ok);
  cr_expect(active[6 + 1] && !active[6 + 2] && !active[6 + 3] && active[6 + 4]);
  cr_assert_eq(oc_space_format_genes(sp, b, n, false, text, sizeof text), oc_status_ok);
  cr_expect(strstr(text, "k=5,5,_,_,5") != NULL, "%s", text);
  /* An active gene changes it. */
  b[6 + 1] = 2;
  cr_expect_neq(phash(sp, a), phash(sp, b));
  oc_space_free(sp);
}

Test(space, a_dropped_block_at_another_position_is_the_same_network) {
  /* ProxylessNAS: zero in block 1 or block 2 of a stage whose other
   * blocks are equal gives one network from two canonical vectors. */
  struct oc_space *sp = open_space("proxylessnas-mobile");
  const char *ops1 = "op=3x3_MBConv3,zero,5x5_MBConv6,5x5_MBConv6,3x3_MBConv6,3x3_MBConv6,"
                     "3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,"
                     "3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,"
                     "3x3_MBConv6,3x3_MBConv6,7x7_MBConv6";
  const char *ops2 = "op=3x3_MBConv3,5x5_MBConv6,zero,5x5_MBConv6,3x3_MBConv6,3x3_MBConv6,"
                     "3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,"
                     "3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,3x3_MBConv6,"
                     "3x3_MBConv6,3x3_MBConv6,7x7_MBConv6";
  int32_t a[32], b[32];
  parse(sp, ops1, a);
  parse(sp, ops2, b);
  cr_expect_neq(memcmp(a, b, sizeof(int32_t) * oc_space_gene_count(sp)), 0);
  cr_expect_eq(phash(sp, a), phash(sp, b));
  struct oc_net *na = decode(sp, a), *nb = decode(sp, b);
  cr_expect_eq(na->hash, nb->hash);
  cr_expect_eq(na->n_layers, 2 + 20 + 3);
  oc_net_free(na);
  oc_net_free(nb);
  oc_space_free(sp);
}

Test(space, resnet_stem_depths_that_drop_the_conv_are_one_network) {
  struct oc_space *sp = open_space("ofa-resnet50");
  char t0[1024], t1[1024], t2[1024];
  const char *rest = "w=1,1,1,1,1,1;e=0.25,0.25,_,_,0.25,0.25,_,_,0.25,0.25,0.25,0.25,_,_,"
                     "0.25,0.25,_,_";
  snprintf(t0, sizeof t0, "r=224;d=0,0,0,0,0;%s", rest);
  snprintf(t1, sizeof t1, "r=224;d=1,0,0,0,0;%s", rest);
  snprintf(t2, sizeof t2, "r=224;d=2,0,0,0,0;%s", rest);
  int32_t a[64], b[64], c[64];
  parse(sp, t0, a);
  parse(sp, t1, b);
  parse(sp, t2, c);
  cr_expect_eq(phash(sp, a), phash(sp, b));
  cr_expect_neq(phash(sp, a), phash(sp, c));
  struct oc_net *na = decode(sp, a), *nc = decode(sp, c);
  /* d[0] = 2 keeps the stem's residual 3x3 conv and its add. */
  cr_expect_eq(nc->n_layers, na->n_layers + 2);
  oc_net_free(na);
  oc_net_free(nc);
  oc_space_free(sp);
}

/* The fast hash must split and merge vectors exactly as the built
 * networks' hashes do. */
ParameterizedTestParameters(space, fast_hash_partition_matches_network_hash) {
  static struct space_param spaces[] = {
      {"ofa-mbv3-w1.0"}, {"ofa-resnet50"},       {"proxylessnas-mobile"},
      {"fbnet"},         {"nasbench201"},        {"autoformer-t"},
      {"mcunet"},        {"ofa-proxyless-w1.3"}, {"bert-base-elastic"}};
  return cr_make_param_array(struct space_param, spaces, sizeof spaces / sizeof spaces[0]);
}

ParameterizedTest(struct space_param *param, space, fast_hash_partition_matches_network_hash) {
  const char *name = param->name;
  struct oc_space *sp = open_space(name);
  size_t n = oc_space_gene_count(sp);
  enum { N = 60 };
  int32_t *genes = calloc(2 * N * n, sizeof *genes);
  uint64_t fast[2 * N], slow[2 * N];
  for (int i = 0; i < N; i++) {
    int32_t *g = genes + (size_t)(2 * i) * n, *h = g + n;
    cr_assert_eq(oc_space_sample(sp, 11, (uint64_t)i, g, n), oc_status_ok);
    /* The twin: randomize inactive genes, and where dropping blocks can
     * move (a skip choice), swap two genes of one family. */
    memcpy(h, g, n * sizeof *h);
    bool active[4096];
    cr_assert_eq(oc_space_active_genes(sp, g, n, active), oc_status_ok);
    for (size_t k = 0; k < n; k++)
      if (!active[k])
        h[k] = (int32_t)((size_t)(i + 1) * (k + 3) % (size_t)oc_space_gene_choices(sp, k));
    if (i % 2 && n > 4) {
      size_t x = (size_t)i % (n - 1);
      if (oc_space_gene_choices(sp, x) == oc_space_gene_choices(sp, x + 1) &&
          strcmp(oc_space_gene_family(sp, x), oc_space_gene_family(sp, x + 1)) == 0) {
        int32_t t = h[x];
        h[x] = h[x + 1];
        h[x + 1] = t;
      }
    }
  }
  for (int i = 0; i < 2 * N; i++) {
    int32_t *g = genes + (size_t)i * n;
    fast[i] = phash(sp, g);
    struct oc_net *net = decode(sp, g);
    slow[i] = net->hash;
    /* The fast hash is the hash of the built network's kernels. */
    uint64_t built;
    cr_assert_eq(oc_space_net_hash(sp, net, &built), oc_status_ok);
    cr_expect_eq(built, fast[i], "%s: vector %d", name, i);
    oc_net_free(net);
  }
  int equal_pairs = 0;
  for (int i = 0; i < 2 * N; i++)
    for (int j = i + 1; j < 2 * N; j++) {
      cr_expect_eq(fast[i] == fast[j], slow[i] == slow[j], "%s: vectors %d and %d", name, i, j);
      equal_pairs += slow[i] == slow[j];
    }
  /* Every twin whose only change is inactive genes is an equal pair. */
  cr_expect_geq(equal_pairs, 1, "%s: the test made no equal pair", name);
  free(genes);
  oc_space_free(sp);
}

/* ---- decoded networks ----------------------------------------------------------------------- */

Test(space, ofa_mbv3_largest_subnet_costs) {
  struct oc_space *sp = open_space("ofa-mbv3-w1.0");
  int32_t g[64];
  char text[512];
  snprintf(text, sizeof text, "r=224;d=4,4,4,4,4;k=%s;e=%s", rep("7", 20), rep("6", 20));
  parse(sp, text, g);
  struct oc_net *net = decode(sp, g);
  /* About 0.57 GMACs and 7.7M parameters (the OFA super-network's size). */
  cr_expect(net->cost.macs > 400000000 && net->cost.macs < 600000000, "%lld",
            (long long)net->cost.macs);
  cr_expect(net->cost.params > 7400000 && net->cost.params < 7900000, "%lld",
            (long long)net->cost.params);
  cr_expect_eq(net->input.h, 224);
  cr_expect_eq(net->output.c, 1000);
  /* 2 stem layers, 20 blocks, final expand, pool, feature mix, classifier. */
  cr_expect_eq(net->n_layers, 2 + 20 + 4);
  oc_net_free(net);
  /* The smallest at 128 is far cheaper. */
  snprintf(text, sizeof text, "r=128;d=2,2,2,2,2;k=%s;e=%s",
           "3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_", "3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_");
  parse(sp, text, g);
  net = decode(sp, g);
  cr_expect(net->cost.macs > 20000000 && net->cost.macs < 80000000, "%lld",
            (long long)net->cost.macs);
  cr_expect_eq(net->input.h, 128);
  oc_net_free(net);
  oc_space_free(sp);
}

Test(space, nasbench201_extremes_match_the_benchmark) {
  /* NAS-Bench-201 reports 220.11M FLOPs (multiply-adds) and 1.53M params
   * for the all-conv3x3 cell on CIFAR-10, 7.78M and 0.07M for all-none. */
  struct oc_space *sp = open_space("nasbench201");
  int32_t g[8];
  parse(sp, "op=nor_conv_3x3,nor_conv_3x3,nor_conv_3x3,nor_conv_3x3,nor_conv_3x3,nor_conv_3x3", g);
  struct oc_net *net = decode(sp, g);
  cr_expect_eq(net->cost.macs, 220119680);
  cr_expect_eq(net->cost.params, 1527946);
  oc_net_free(net);
  parse(sp, "op=none,none,none,none,none,none", g);
  net = decode(sp, g);
  cr_expect_eq(net->cost.macs, 7783040);
  cr_expect(net->cost.params > 70000 && net->cost.params < 75000);
  oc_net_free(net);
  oc_space_free(sp);
}

Test(space, transformer_spaces_at_full_size_are_the_base_models) {
  struct oc_space *sp = open_space("vit-base-elastic");
  int32_t g[64];
  char text[512];
  snprintf(text, sizeof text, "L=12;heads=%s;mlp=%s", rep("12", 12), rep("3072", 12));
  parse(sp, text, g);
  struct oc_net *net = decode(sp, g);
  /* ViT-B/16: 17.6 GMACs, 86.6M parameters. */
  cr_expect(net->cost.macs > 17400000000LL && net->cost.macs < 17700000000LL, "%lld",
            (long long)net->cost.macs);
  cr_expect(net->cost.params > 86000000 && net->cost.params < 87000000, "%lld",
            (long long)net->cost.params);
  oc_net_free(net);
  oc_space_free(sp);
  sp = open_space("bert-base-elastic");
  parse(sp, text, g);
  net = decode(sp, g);
  /* BERT-base encoder on 128 tokens: about 11.2 GMACs. */
  cr_expect(net->cost.macs > 11000000000LL && net->cost.macs < 11400000000LL, "%lld",
            (long long)net->cost.macs);
  oc_net_free(net);
  oc_space_free(sp);
}

Test(space, decode_json_is_a_network_with_the_genes_in_its_description) {
  struct oc_space *sp = open_space("ofa-resnet50");
  size_t n = oc_space_gene_count(sp);
  int32_t g[64];
  cr_assert_eq(oc_space_sample(sp, 3, 0, g, n), oc_status_ok);
  json_t *root = NULL;
  cr_assert_eq(oc_space_decode_json(sp, g, n, &root), oc_status_ok, "%s", oc_errmsg());
  cr_expect_str_eq(json_string_value(json_object_get(root, "format")), OC_NET_FORMAT);
  char text[1024];
  cr_assert_eq(oc_space_format_genes(sp, g, n, false, text, sizeof text), oc_status_ok);
  cr_expect(strstr(json_string_value(json_object_get(root, "description")), text) != NULL);
  struct oc_net *a = NULL;
  cr_assert_eq(oc_net_load_json(root, "decoded", &a), oc_status_ok, "%s", oc_errmsg());
  struct oc_net *b = decode(sp, g);
  cr_expect_eq(a->hash, b->hash);
  oc_net_free(a);
  oc_net_free(b);
  json_decref(root);
  oc_space_free(sp);
}

/* ---- sampling and gene text --------------------------------------------------------------------
 */

Test(space, sampling_is_reproducible_and_random_access) {
  struct oc_space *sp = open_space("ofa-mbv3-w1.0");
  size_t n = oc_space_gene_count(sp);
  int32_t a[64], b[64], c[64];
  int differ = 0;
  int32_t r_seen[25] = {0};
  for (uint64_t i = 0; i < 200; i++) {
    cr_assert_eq(oc_space_sample(sp, 42, i, a, n), oc_status_ok);
    cr_assert_eq(oc_space_sample(sp, 42, i, b, n), oc_status_ok);
    cr_expect_eq(memcmp(a, b, sizeof(int32_t) * n), 0);
    cr_assert_eq(oc_space_sample(sp, 43, i, c, n), oc_status_ok);
    differ += memcmp(a, c, sizeof(int32_t) * n) != 0;
    /* Samples are canonical. */
    int32_t canon[64];
    cr_assert_eq(oc_space_canonicalize(sp, a, canon, n), oc_status_ok);
    cr_expect_eq(memcmp(a, canon, sizeof(int32_t) * n), 0);
    r_seen[a[0]]++;
  }
  cr_expect_geq(differ, 199, "another seed gives another stream");
  int resolutions = 0;
  for (int r = 0; r < 25; r++) resolutions += r_seen[r] > 0;
  cr_expect_geq(resolutions, 20, "200 samples cover most of 25 resolutions");
  /* Sample 7 does not depend on drawing 0..6 first. */
  cr_assert_eq(oc_space_sample(sp, 42, 7, a, n), oc_status_ok);
  for (uint64_t i = 0; i < 7; i++) oc_space_sample(sp, 99, i, b, n);
  cr_assert_eq(oc_space_sample(sp, 42, 7, b, n), oc_status_ok);
  cr_expect_eq(memcmp(a, b, sizeof(int32_t) * n), 0);
  oc_space_free(sp);
}

Test(space, gene_text_round_trips) {
  for (size_t s = 0; s < oc_space_builtin_count(); s++) {
    struct oc_space *sp = open_space(oc_space_builtin_name(s));
    size_t n = oc_space_gene_count(sp);
    int32_t *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
    char *text = malloc(8192), *full = malloc(8192);
    for (uint64_t i = 0; i < 20; i++) {
      cr_assert_eq(oc_space_sample(sp, 5, i, a, n), oc_status_ok);
      cr_assert_eq(oc_space_format_genes(sp, a, n, false, text, 8192), oc_status_ok);
      parse(sp, text, b);
      cr_expect_eq(memcmp(a, b, n * sizeof *a), 0, "%s", text);
      /* The full form (inactive genes written out) parses to the same. */
      cr_assert_eq(oc_space_format_genes(sp, a, n, true, full, 8192), oc_status_ok);
      parse(sp, full, b);
      cr_expect_eq(memcmp(a, b, n * sizeof *a), 0, "%s", full);
    }
    free(a);
    free(b);
    free(text);
    free(full);
    oc_space_free(sp);
  }
}

Test(space, gene_text_accepts_spaces_any_family_order_and_equal_numbers) {
  struct oc_space *sp = open_space("ofa-resnet50");
  int32_t a[64], b[64];
  parse(sp,
        "r=160;d=0,0,0,0,0;w=0.65,0.8,1,1,1,1;e=0.2,0.2,_,_,0.2,0.2,_,_,0.2,0.2,0.2,0.2,"
        "_,_,0.2,0.2,_,_",
        a);
  parse(sp,
        " e = 0.20,0.2,_,_,0.2,0.2,_,_,0.2,0.2,0.2,0.2,_,_,0.2,0.2,_,_ ; "
        "w=0.65, 0.80, 1.0, 1, 1, 1; d=0,0,0,0,0; r=160 ",
        b);
  cr_expect_eq(memcmp(a, b, sizeof(int32_t) * oc_space_gene_count(sp)), 0);
  oc_space_free(sp);
}

/* ---- encode -------------------------------------------------------------------------------------
 */

ParameterizedTestParameters(space, encode_finds_the_phenotype) {
  static struct space_param spaces[] = {{"ofa-mbv3-w1.0"},       {"ofa-resnet50"},
                                        {"proxylessnas-mobile"}, {"fbnet"},
                                        {"autoformer-t"},        {"mcunet"}};
  return cr_make_param_array(struct space_param, spaces, sizeof spaces / sizeof spaces[0]);
}

ParameterizedTest(struct space_param *param, space, encode_finds_the_phenotype) {
  const char *name = param->name;
  struct oc_space *sp = open_space(name);
  size_t n = oc_space_gene_count(sp);
  int32_t *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
  for (uint64_t i = 0; i < 4; i++) {
    cr_assert_eq(oc_space_sample(sp, 21, i, a, n), oc_status_ok);
    struct oc_net *net = decode(sp, a);
    enum oc_status st = oc_space_encode(sp, net, b, n);
    cr_assert_eq(st, oc_status_ok, "%s: %s", name, oc_errmsg());
    /* The same network; the vector itself may differ where blocks are
     * interchangeable (FBNet skips). */
    cr_expect_eq(phash(sp, a), phash(sp, b));
    struct oc_net *again = decode(sp, b);
    cr_expect_eq(again->hash, net->hash);
    oc_net_free(again);
    oc_net_free(net);
  }
  free(a);
  free(b);
  oc_space_free(sp);
}

Test(space, encode_rejects_a_network_outside_the_space) {
  struct oc_space *sp = open_space("ofa-mbv3-w1.0");
  /* A MobileNetV3-like network with a 9x9 kernel in stage 2. */
  int32_t g[64];
  char text[512];
  snprintf(text, sizeof text, "r=224;d=2,2,2,2,2;k=%s;e=%s",
           "3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_", "3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_");
  parse(sp, text, g);
  json_t *root = NULL;
  cr_assert_eq(oc_space_decode_json(sp, g, oc_space_gene_count(sp), &root), oc_status_ok);
  json_t *layer = json_array_get(json_object_get(root, "layers"), 4);
  json_object_set_new(layer, "k", json_integer(9));
  struct oc_net *net = NULL;
  cr_assert_eq(oc_net_load_json(root, "edited", &net), oc_status_ok, "%s", oc_errmsg());
  cr_expect_eq(oc_space_encode(sp, net, g, oc_space_gene_count(sp)), oc_status_not_found);
  cr_expect(strstr(oc_errmsg(), "layers[4]") != NULL, "%s", oc_errmsg());
  cr_expect(strstr(oc_errmsg(), "k=9") != NULL, "%s", oc_errmsg());
  oc_net_free(net);
  json_decref(root);
  oc_space_free(sp);
}

/* ---- ops for LUTs
 * -------------------------------------------------------------------------------- */

/* Every block choice of FBNet and ProxylessNAS appears at fixed shapes, so
 * 1500 samples hit every op with near certainty: the enumeration must be
 * exactly the union of their kernel keys (nothing missing, nothing that no
 * vector produces). */
ParameterizedTestParameters(space, enumerated_ops_equal_the_sampled_union) {
  static struct space_param spaces[] = {{"fbnet"}, {"proxylessnas-mobile"}};
  return cr_make_param_array(struct space_param, spaces, sizeof spaces / sizeof spaces[0]);
}

ParameterizedTest(struct space_param *param, space, enumerated_ops_equal_the_sampled_union) {
  const char *name = param->name;
  struct oc_space *sp = open_space(name);
  size_t n = oc_space_gene_count(sp);
  struct oc_space_ops *ops = NULL;
  cr_assert_eq(oc_space_enumerate_ops(sp, NULL, 0, &ops), oc_status_ok, "%s", oc_errmsg());
  cr_assert_gt(ops->n_kernels, 10);
  bool *hit = calloc(ops->n_kernels, sizeof *hit);
  int32_t g[64];
  for (uint64_t i = 0; i < 1500; i++) {
    cr_assert_eq(oc_space_sample(sp, 77, i, g, n), oc_status_ok);
    struct oc_net *net = decode(sp, g);
    for (int32_t k = 0; k < net->n_kernels; k++) {
      if (net->kernels[k].step != oc_net_step_op) continue;
      char key[OC_KEY_MAX];
      cr_assert_eq(oc_op_format(&net->kernels[k].op, key, sizeof key), oc_status_ok);
      size_t lo = 0, hi = ops->n_kernels;
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(ops->kernel_keys[mid], key) < 0)
          lo = mid + 1;
        else
          hi = mid;
      }
      cr_assert(lo < ops->n_kernels && strcmp(ops->kernel_keys[lo], key) == 0,
                "%s: '%s' is not enumerated", name, key);
      hit[lo] = true;
    }
    oc_net_free(net);
  }
  for (size_t i = 0; i < ops->n_kernels; i++)
    cr_expect(hit[i], "%s: '%s' is enumerated but no sample has it", name, ops->kernel_keys[i]);
  /* Descriptors parse back to the keys. */
  for (size_t i = 0; i < ops->n_kernels; i++) {
    char key[OC_KEY_MAX];
    cr_assert_eq(oc_op_format(&ops->kernels[i], key, sizeof key), oc_status_ok);
    cr_expect_str_eq(key, ops->kernel_keys[i]);
  }
  free(hit);
  oc_space_ops_free(ops);
  oc_space_free(sp);
}

Test(space, enumerated_ops_follow_the_requested_resolutions) {
  struct oc_space *sp = open_space("ofa-mbv3-w1.0");
  int32_t res[] = {224, 240}; /* 240 is not a choice of r: still allowed */
  struct oc_space_ops *ops = NULL;
  cr_assert_eq(oc_space_enumerate_ops(sp, res, 2, &ops), oc_status_ok, "%s", oc_errmsg());
  bool stem224 = false, stem240 = false;
  for (size_t i = 0; i < ops->n_kernels; i++) {
    const char *k = ops->kernel_keys[i];
    cr_expect(strstr(k, "h=128 ") == NULL, "%s: 128 was not asked for", k);
    stem224 |= strcmp(k, "conv2d.f32 h=224 w=224 cin=3 cout=16 k=3 s=2 g=1 d=1 act=hswish") == 0;
    stem240 |= strcmp(k, "conv2d.f32 h=240 w=240 cin=3 cout=16 k=3 s=2 g=1 d=1 act=hswish") == 0;
  }
  cr_expect(stem224 && stem240);
  /* Block keys: one mbconv per (resolution, position, k, e) at most. */
  cr_expect_gt(ops->n_blocks, 100);
  cr_expect_lt(ops->n_blocks, 2 * (2 + 20 * 9 + 4));
  oc_space_ops_free(ops);
  oc_space_free(sp);
}

Test(space, mcunet_ops_never_mix_widths) {
  /* The width multiplier is read by every layer: a stage-1 block at w=0.2
   * (8 -> 8 channels) must not meet a w=1.0 input (16 channels). */
  struct oc_space *sp = open_space("mcunet");
  int32_t res[] = {96};
  struct oc_space_ops *ops = NULL;
  cr_assert_eq(oc_space_enumerate_ops(sp, res, 1, &ops), oc_status_ok, "%s", oc_errmsg());
  bool w1 = false;
  for (size_t i = 0; i < ops->n_blocks; i++) {
    const char *k = ops->block_keys[i];
    w1 |= strncmp(k, "mbconv.f32 h=48 w=48 cin=32 cout=16 k=3 s=1 e=1 ", 48) == 0;
    /* The first mbconv (e=1) maps the stem's width to the first block's:
     * 8 -> 8 at w 0.2-0.5, 16 -> 8 at 0.3-0.5, 24 -> 16 at 0.6-0.8, ... */
    cr_expect(strstr(k, "mbconv.f32 h=48 w=48 cin=32 cout=8 ") == NULL, "%s", k);
  }
  cr_expect(w1, "the w=1.0 first block is listed");
  oc_space_ops_free(ops);
  oc_space_free(sp);
}

Test(space, nasbench201_edges_that_lead_nowhere_are_one_network) {
  /* op[0] (node 0 -> 1) is none, so node 1 is zero and the edges leaving
   * it (op[2]: 1 -> 2, op[4]: 1 -> 3) are dropped whatever they are. */
  struct oc_space *sp = open_space("nasbench201");
  int32_t a[8], b[8];
  parse(sp, "op=none,nor_conv_3x3,nor_conv_1x1,nor_conv_3x3,avg_pool_3x3,nor_conv_3x3", a);
  parse(sp, "op=none,nor_conv_3x3,skip_connect,nor_conv_3x3,nor_conv_3x3,nor_conv_3x3", b);
  cr_expect_eq(phash(sp, a), phash(sp, b));
  struct oc_net *na = decode(sp, a), *nb = decode(sp, b);
  cr_expect_eq(na->hash, nb->hash);
  oc_net_free(na);
  oc_net_free(nb);
  b[5] = 4; /* op[5]: 2 -> 3 is live */
  cr_expect_neq(phash(sp, a), phash(sp, b));
  oc_space_free(sp);
}

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static size_t distinct(uint64_t *v, size_t n) {
  qsort(v, n, sizeof *v, u64_cmp);
  size_t d = 0;
  for (size_t i = 0; i < n; i++) d += i == 0 || v[i] != v[i - 1];
  return d;
}

Test(space, nasbench201_phenotypes_counted_two_ways_agree) {
  /* All 15625 cells: distinct phenotype hashes = distinct hashes of the
   * networks the network module builds. */
  struct oc_space *sp = open_space("nasbench201");
  uint64_t *fast = malloc(15625 * sizeof *fast), *slow = malloc(15625 * sizeof *slow);
  int32_t g[6] = {0};
  for (int i = 0; i < 15625; i++) {
    int x = i;
    for (int e = 5; e >= 0; e--) {
      g[e] = x % 5;
      x /= 5;
    }
    fast[i] = phash(sp, g);
    struct oc_net *net = decode(sp, g);
    slow[i] = net->hash;
    oc_net_free(net);
  }
  size_t df = distinct(fast, 15625), ds = distinct(slow, 15625);
  cr_expect_eq(df, ds);
  cr_expect_lt(df, 15625, "dead edges make some cells one network");
  cr_expect_gt(df, 5000);
  free(fast);
  free(slow);
  oc_space_free(sp);
}

/* The block memo is shared: threads hashing at once on a fresh space get
 * the values one thread gets. */
struct hash_job {
  const struct oc_space *sp;
  const int32_t *genes;
  size_t n, count;
  uint64_t *out;
  enum oc_status st;
};

static void *hash_thread(void *arg) {
  struct hash_job *j = arg;
  j->st = oc_status_ok;
  for (size_t i = 0; i < j->count && j->st == oc_status_ok; i++)
    j->st = oc_space_phenotype_hash(j->sp, j->genes + i * j->n, j->n, &j->out[i]);
  return NULL;
}

Test(space, phenotype_hash_is_thread_safe) {
  struct oc_space *ref = open_space("ofa-mbv3-w1.2"), *sp = open_space("ofa-mbv3-w1.2");
  size_t n = oc_space_gene_count(sp);
  enum { COUNT = 300, THREADS = 4 };
  int32_t *genes = malloc(COUNT * n * sizeof *genes);
  uint64_t expect[COUNT], got[THREADS][COUNT];
  for (size_t i = 0; i < COUNT; i++) {
    cr_assert_eq(oc_space_sample(sp, 5, i, genes + i * n, n), oc_status_ok);
    expect[i] = phash(ref, genes + i * n);
  }
  pthread_t tid[THREADS];
  struct hash_job jobs[THREADS];
  for (int t = 0; t < THREADS; t++) {
    jobs[t] = (struct hash_job){sp, genes, n, COUNT, got[t], oc_status_ok};
    cr_assert_eq(pthread_create(&tid[t], NULL, hash_thread, &jobs[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(tid[t], NULL);
    cr_expect_eq(jobs[t].st, oc_status_ok);
    cr_expect_eq(memcmp(got[t], expect, sizeof expect), 0, "thread %d", t);
  }
  free(genes);
  oc_space_free(sp);
  oc_space_free(ref);
}
