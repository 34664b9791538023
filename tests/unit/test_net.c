/* test_net.c - the network module: opcost-net/1 parsing, block expansion
 * rules, shape inference, costs and peak memory, keys, hash, JSON round
 * trip, the reference networks against their published figures, and every
 * kind of bad input (the error must name the layer, field and value). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcost/opcost.h"

#define NET_HEAD "{\"format\":\"opcost-net/1\",\"name\":\"t\",\"input\":"

static struct oc_net *load_ok(const char *text) {
  struct oc_net *net = NULL;
  enum oc_status st = oc_net_from_string(text, "t.json", &net);
  cr_assert_eq(st, oc_status_ok, "load failed: %s", oc_errmsg());
  return net;
}

/* Loads text expecting failure with status st and every needle in the
 * message. */
static void load_fails(const char *text, enum oc_status st, const char *n1, const char *n2) {
  struct oc_net *net = NULL;
  enum oc_status got = oc_net_from_string(text, "bad.json", &net);
  cr_assert_eq(got, st, "status %s, expected %s: %s", oc_status_name(got), oc_status_name(st),
               oc_errmsg());
  cr_assert_null(net);
  const char *msg = oc_errmsg();
  cr_expect(strstr(msg, "bad.json") != NULL, "message lacks the source: %s", msg);
  if (n1) cr_expect(strstr(msg, n1) != NULL, "message lacks '%s': %s", n1, msg);
  if (n2) cr_expect(strstr(msg, n2) != NULL, "message lacks '%s': %s", n2, msg);
}

static void kernel_key(const struct oc_net *net, int32_t i, char *buf) {
  const struct oc_net_kernel *k = &net->kernels[i];
  if (k->step == oc_net_step_op)
    cr_assert_eq(oc_op_format(&k->op, buf, OC_KEY_MAX), oc_status_ok);
  else
    snprintf(buf, OC_KEY_MAX, "%s", oc_net_step_name(k->step));
}

static void expect_kernels(const struct oc_net *net, int32_t layer, const char *const *keys,
                           int n) {
  const struct oc_net_layer *l = &net->layers[layer];
  cr_assert_eq(l->n_kernels, n, "layer %d has %d kernels, expected %d", layer, l->n_kernels, n);
  for (int i = 0; i < n; i++) {
    char key[OC_KEY_MAX];
    kernel_key(net, l->first_kernel + i, key);
    cr_expect_str_eq(key, keys[i], "kernel %d", i);
  }
}

/* ---- published figures --------------------------------------------------- */

struct published {
  const char *file;
  double macs, params;  /* published figures */
  double tolerance;     /* relative */
  int64_t exact_macs, exact_params; /* what opcost-net/1's rules give (regression) */
  const char *source;
};

static const struct published figures[] = {
    {"mobilenetv2-1.0.json", 300e6, 3.4e6, 0.03, 300774272, 3487816,
     "Sandler et al. 2018, arXiv:1801.04381, Table 4: 300M MAdds, 3.4M params"},
    {"mobilenetv3-large.json", 217e6, 5.4e6, 0.03, 216589760, 5470832,
     "Keras/TF-slim mobilenet_v3_large_1.0_224: 217M MACs, 5.4M params "
     "(torchvision: 5,483,032 params with batch norm)"},
    {"mobilenetv3-small.json", 56e6, 2.5e6, 0.03, 56510400, 2536800,
     "Howard et al. 2019, arXiv:1905.02244, Table 3: 56M MAdds, 2.5M params "
     "(torchvision: 2,542,856 params)"},
    {"resnet-18.json", 1.81e9, 11689512, 0.03, 1814073344, 11684712,
     "torchvision resnet18: 1.81 GFLOPS (multiply-adds), 11,689,512 params"},
    {"resnet-50.json", 4.09e9, 25557032, 0.03, 4089184256, 25530472,
     "torchvision resnet50 (v1.5): 4.09 GFLOPS (multiply-adds), 25,557,032 params"},
    /* The paper rounds to 1.3G; the exact count of its architecture is
     * 1.254G (12 x 102.1M per layer + 28.9M patch embedding), hence 5 %. */
    {"deit-tiny.json", 1.3e9, 5717416, 0.05, 1253683200, 5717416,
     "Touvron et al. 2021, arXiv:2012.12877, Table 1: 1.3G FLOPs (multiply-adds), 5.7M "
     "params; timm deit_tiny_patch16_224: 5,717,416 params"},
};

Test(net_reference, published_figures) {
  for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
    const struct published *p = &figures[i];
    char path[512];
    snprintf(path, sizeof path, "%s/spaces/networks/%s", OPCOST_SOURCE_DIR, p->file);
    struct oc_net *net = NULL;
    cr_assert_eq(oc_net_load_file(path, &net), oc_status_ok, "%s: %s", p->file, oc_errmsg());
    double macs = (double)net->cost.macs, params = (double)net->cost.params;
    cr_expect(fabs(macs - p->macs) <= p->tolerance * p->macs,
              "%s: %.4g MACs vs %.4g published (%s)", p->file, macs, p->macs, p->source);
    cr_expect(fabs(params - p->params) <= p->tolerance * p->params,
              "%s: %.6g params vs %.6g published (%s)", p->file, params, p->params, p->source);
    cr_expect_eq(net->cost.macs, p->exact_macs, "%s: MACs changed: %lld", p->file,
                 (long long)net->cost.macs);
    cr_expect_eq(net->cost.params, p->exact_params, "%s: params changed: %lld", p->file,
                 (long long)net->cost.params);
    cr_expect_eq(net->output.c, 1000);
    oc_net_free(net);
  }
}

Test(net_reference, round_trip_keeps_hash_and_keys) {
  for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/spaces/networks/%s", OPCOST_SOURCE_DIR, figures[i].file);
    struct oc_net *a = NULL, *b = NULL;
    json_t *json = NULL;
    cr_assert_eq(oc_net_load_file(path, &a), oc_status_ok, "%s", oc_errmsg());
    cr_assert_eq(oc_net_to_json(a, &json), oc_status_ok);
    cr_assert_eq(oc_net_load_json(json, "round-trip", &b), oc_status_ok, "%s", oc_errmsg());
    cr_expect_str_eq(a->hash_hex, b->hash_hex, "%s", figures[i].file);
    cr_expect_str_eq(a->name, b->name);
    cr_assert_eq(a->n_layers, b->n_layers);
    for (int32_t l = 0; l < a->n_layers; l++)
      cr_expect_str_eq(a->layers[l].key, b->layers[l].key, "layer %d", l);
    cr_expect_eq(a->cost.peak_activation_bytes, b->cost.peak_activation_bytes);
    json_decref(json);
    oc_net_free(a);
    oc_net_free(b);
  }
}

/* A block's mid decides its width; the expand ratio mid / cin written beside
 * it may lie outside what a file may state (240 on 3 channels is e = 80):
 * then it is left out, and the network still writes back as itself. */
Test(net_reference, round_trip_of_a_wide_block_on_few_channels) {
  struct oc_net *a = load_ok(NET_HEAD "{\"h\":8,\"w\":8,\"c\":3},\"layers\":["
                             "{\"op\":\"mbconv\",\"cout\":8,\"k\":3,\"mid\":240}]}");
  json_t *json = NULL;
  struct oc_net *b = NULL;
  cr_assert_eq(oc_net_to_json(a, &json), oc_status_ok);
  cr_expect_null(json_object_get(json_array_get(json_object_get(json, "layers"), 0), "e"));
  cr_assert_eq(oc_net_load_json(json, "round-trip", &b), oc_status_ok, "%s", oc_errmsg());
  cr_expect_str_eq(a->hash_hex, b->hash_hex);
  json_decref(json);
  oc_net_free(a);
  oc_net_free(b);
}

/* ---- expansion rules ------------------------------------------------------ */

Test(net_expand, mbconv_with_se_and_residual) {
  struct oc_net *net = load_ok(NET_HEAD "{\"h\":28,\"w\":28,\"c\":40},\"layers\":["
                               "{\"op\":\"mbconv\",\"cout\":40,\"k\":5,\"s\":1,\"e\":6,"
                               "\"se\":1,\"act\":\"relu\"}]}");
  const char *const keys[] = {
      "conv2d.f32 h=28 w=28 cin=40 cout=240 k=1 s=1 g=1 d=1 act=relu",
      "conv2d.f32 h=28 w=28 cin=240 cout=240 k=5 s=1 g=240 d=1 act=relu",
      "gap.f32 h=28 w=28 c=240",
      "fc.f32 m=1 cin=240 cout=64 act=relu",
      "fc.f32 m=1 cin=64 cout=240 act=sigmoid",
      "mul.f32 h=28 w=28 c=240 bc=1",
      "conv2d.f32 h=28 w=28 cin=240 cout=40 k=1 s=1 g=1 d=1 act=none",
      "add.f32 h=28 w=28 c=40 act=none",
  };
  expect_kernels(net, 0, keys, 8);
  cr_expect_str_eq(net->layers[0].key, "mbconv.f32 h=28 w=28 cin=40 cout=40 k=5 s=1 e=6 se=1 act=relu");
  cr_expect_eq(net->layers[0].args.mid, 240);
  cr_expect_eq(net->layers[0].args.se_ch, 64);
  /* The residual add reads the block input (the network input). */
  const struct oc_net_kernel *add = &net->kernels[7];
  cr_expect_eq(add->input[0], net->input_tensor);
  oc_net_free(net);
}

Test(net_expand, mbconv_e1_stride2_and_mid) {
  struct oc_net *net = load_ok(NET_HEAD "{\"h\":112,\"w\":112,\"c\":16},\"layers\":["
                               "{\"op\":\"mbconv\",\"cout\":24,\"k\":3,\"s\":2,\"e\":1},"
                               "{\"op\":\"mbconv\",\"cout\":24,\"k\":3,\"mid\":72,\"se\":1,"
                               "\"se_gate\":\"hsigmoid\",\"act\":\"hswish\"}]}");
  const char *const first[] = {
      "conv2d.f32 h=112 w=112 cin=16 cout=16 k=3 s=2 g=16 d=1 act=relu6",
      "conv2d.f32 h=56 w=56 cin=16 cout=24 k=1 s=1 g=1 d=1 act=none",
  };
  expect_kernels(net, 0, first, 2);
  cr_expect_eq(net->layers[1].args.se_ch, 24, "make_divisible(72/4, 8) = 24");
  cr_expect_str_eq(net->layers[1].key,
                   "mbconv.f32 h=56 w=56 cin=24 cout=24 k=3 s=1 e=3 se=1 se_gate=hsigmoid act=hswish");
  cr_expect_eq(net->layers[1].n_kernels, 8);
  oc_net_free(net);
}

Test(net_expand, mbconv_e_and_mid_spellings_hash_the_same) {
  struct oc_net *a = load_ok(NET_HEAD "{\"h\":14,\"w\":14,\"c\":24},\"layers\":["
                             "{\"op\":\"mbconv\",\"cout\":32,\"k\":3,\"e\":3}]}");
  struct oc_net *b = load_ok(NET_HEAD "{\"h\":14,\"w\":14,\"c\":24},\"layers\":["
                             "{\"op\":\"mbconv\",\"id\":\"x\",\"cout\":32,\"k\":3,\"mid\":72,"
                             "\"act\":\"relu6\",\"se\":0}]}");
  struct oc_net *c = load_ok(NET_HEAD "{\"h\":14,\"w\":14,\"c\":24},\"layers\":["
                             "{\"op\":\"mbconv\",\"cout\":32,\"k\":5,\"e\":3}]}");
  cr_expect_str_eq(a->layers[0].key, b->layers[0].key);
  cr_expect_eq(a->hash, b->hash);
  cr_expect_neq(a->hash, c->hash);
  oc_net_free(a);
  oc_net_free(b);
  oc_net_free(c);
}

Test(net_expand, fused_mbconv) {
  struct oc_net *net = load_ok(NET_HEAD "{\"h\":32,\"w\":32,\"c\":24},\"layers\":["
                               "{\"op\":\"fused_mbconv\",\"cout\":24,\"k\":3,\"e\":1,\"act\":\"swish\"},"
                               "{\"op\":\"fused_mbconv\",\"cout\":48,\"k\":3,\"s\":2,\"e\":4}]}");
  const char *const first[] = {
      "conv2d.f32 h=32 w=32 cin=24 cout=24 k=3 s=1 g=1 d=1 act=swish",
      "add.f32 h=32 w=32 c=24 act=none",
  };
  const char *const second[] = {
      "conv2d.f32 h=32 w=32 cin=24 cout=96 k=3 s=2 g=1 d=1 act=relu6",
      "conv2d.f32 h=16 w=16 cin=96 cout=48 k=1 s=1 g=1 d=1 act=none",
  };
  expect_kernels(net, 0, first, 2);
  expect_kernels(net, 1, second, 2);
  oc_net_free(net);
}

Test(net_expand, bottleneck_and_basic_shortcuts) {
  struct oc_net *net = load_ok(NET_HEAD "{\"h\":56,\"w\":56,\"c\":64},\"layers\":["
                               "{\"op\":\"bottleneck\",\"cout\":256},"
                               "{\"op\":\"bottleneck\",\"cout\":256},"
                               "{\"op\":\"basic\",\"cout\":128,\"s\":2}]}");
  const char *const proj[] = {
      "conv2d.f32 h=56 w=56 cin=64 cout=64 k=1 s=1 g=1 d=1 act=relu",
      "conv2d.f32 h=56 w=56 cin=64 cout=64 k=3 s=1 g=1 d=1 act=relu",
      "conv2d.f32 h=56 w=56 cin=64 cout=256 k=1 s=1 g=1 d=1 act=none",
      "conv2d.f32 h=56 w=56 cin=64 cout=256 k=1 s=1 g=1 d=1 act=none",
      "add.f32 h=56 w=56 c=256 act=relu",
  };
  expect_kernels(net, 0, proj, 5);
  cr_expect_eq(net->layers[1].n_kernels, 4, "identity shortcut: no projection");
  cr_expect_str_eq(net->layers[1].key,
                   "bottleneck.f32 h=56 w=56 cin=256 cout=256 mid=64 s=1 act=relu");
  const char *const basic[] = {
      "conv2d.f32 h=56 w=56 cin=256 cout=128 k=3 s=2 g=1 d=1 act=relu",
      "conv2d.f32 h=28 w=28 cin=128 cout=128 k=3 s=1 g=1 d=1 act=none",
      "conv2d.f32 h=56 w=56 cin=256 cout=128 k=1 s=2 g=1 d=1 act=none",
      "add.f32 h=28 w=28 c=128 act=relu",
  };
  expect_kernels(net, 2, basic, 4);
  oc_net_free(net);
}

Test(net_expand, patch_embed_and_transformer_layer) {
  struct oc_net *net = load_ok(NET_HEAD "{\"h\":32,\"w\":32,\"c\":3},\"layers\":["
                               "{\"op\":\"patch_embed\",\"p\":8,\"dim\":64,\"cls\":1,\"pos\":1},"
                               "{\"op\":\"transformer_layer\",\"heads\":4}]}");
  const char *const embed[] = {
      "conv2d.f32 h=32 w=32 cin=3 cout=64 k=8 s=8 g=1 d=1 act=none",
      "token_prepend",
      "add.f32 h=1 w=17 c=64 act=none",
  };
  expect_kernels(net, 0, embed, 3);
  cr_expect_eq(net->layers[0].cost.params, 8 * 8 * 3 * 64 + 64 + 64 + 17 * 64);
  const char *const layer[] = {
      "layernorm.f32 h=1 w=17 c=64",
      "fc.f32 m=17 cin=64 cout=192 act=none",
      "heads_split",
      "heads_split",
      "heads_split",
      "matmul.f32 b=4 m=17 k=16 n=17 tb=1",
      "softmax.f32 h=4 w=17 c=17",
      "matmul.f32 b=4 m=17 k=17 n=16 tb=0",
      "heads_merge",
      "fc.f32 m=17 cin=64 cout=64 act=none",
      "add.f32 h=1 w=17 c=64 act=none",
      "layernorm.f32 h=1 w=17 c=64",
      "fc.f32 m=17 cin=64 cout=256 act=gelu",
      "fc.f32 m=17 cin=256 cout=64 act=none",
      "add.f32 h=1 w=17 c=64 act=none",
  };
  expect_kernels(net, 1, layer, 15);
  cr_expect_str_eq(net->layers[1].key, "transformer_layer.f32 h=1 w=17 c=64 heads=4 mlp=256 act=gelu");
  int64_t t = 17, d = 64;
  cr_expect_eq(net->layers[1].cost.macs, t * d * 3 * d + 2 * t * t * d + t * d * d + 2 * t * d * 4 * d);
  oc_net_free(net);
}

/* head_dim: heads of their own width, so the attention width A = heads x
 * head_dim differs from the layer width (DyNAS-T's and AutoFormer's 64-wide
 * heads). */
Test(net_expand, transformer_layer_with_head_dim) {
  struct oc_net *net = load_ok(NET_HEAD "{\"h\":1,\"w\":17,\"c\":64},\"layers\":["
                               "{\"op\":\"transformer_layer\",\"heads\":5,\"head_dim\":8}]}");
  const char *const layer[] = {
      "layernorm.f32 h=1 w=17 c=64",
      "fc.f32 m=17 cin=64 cout=120 act=none",
      "heads_split",
      "heads_split",
      "heads_split",
      "matmul.f32 b=5 m=17 k=8 n=17 tb=1",
      "softmax.f32 h=5 w=17 c=17",
      "matmul.f32 b=5 m=17 k=17 n=8 tb=0",
      "heads_merge",
      "fc.f32 m=17 cin=40 cout=64 act=none",
      "add.f32 h=1 w=17 c=64 act=none",
      "layernorm.f32 h=1 w=17 c=64",
      "fc.f32 m=17 cin=64 cout=256 act=gelu",
      "fc.f32 m=17 cin=256 cout=64 act=none",
      "add.f32 h=1 w=17 c=64 act=none",
  };
  expect_kernels(net, 0, layer, 15);
  cr_expect_str_eq(net->layers[0].key,
                   "transformer_layer.f32 h=1 w=17 c=64 heads=5 mlp=256 act=gelu dh=8");
  cr_expect_eq(net->layers[0].output.c, 64);
  int64_t t = 17, d = 64, a = 40;
  cr_expect_eq(net->layers[0].cost.macs, t * d * 3 * a + 2 * t * t * a + t * a * d + 2 * t * d * 4 * d);
  oc_net_free(net);
  /* head_dim equal to c / heads is the default: the same key as without it. */
  net = load_ok(NET_HEAD "{\"h\":1,\"w\":17,\"c\":64},\"layers\":["
                "{\"op\":\"transformer_layer\",\"heads\":4,\"head_dim\":16}]}");
  cr_expect_str_eq(net->layers[0].key, "transformer_layer.f32 h=1 w=17 c=64 heads=4 mlp=256 act=gelu");
  oc_net_free(net);
}

Test(net_expand, token_select) {
  struct oc_net *net = load_ok(NET_HEAD "{\"h\":1,\"w\":17,\"c\":64},\"layers\":["
                               "{\"op\":\"token_select\"},{\"op\":\"fc\",\"cout\":10}]}");
  const char *const sel[] = {"token_select"};
  expect_kernels(net, 0, sel, 1);
  cr_expect_str_eq(net->layers[0].key, "token_select.f32 h=1 w=17 c=64 index=0");
  cr_expect_eq(net->layers[0].output.w, 1);
  cr_expect_eq(net->layers[0].output.c, 64);
  cr_expect_eq(net->layers[0].cost.macs, 0);
  cr_expect_str_eq(net->layers[1].key, "fc.f32 m=1 cin=64 cout=10 act=none");
  oc_net_free(net);
  /* Tokens of a feature map are its H x W positions, row-major. */
  net = load_ok(NET_HEAD "{\"h\":4,\"w\":5,\"c\":8},\"layers\":["
                "{\"op\":\"token_select\",\"index\":19}]}");
  cr_expect_eq(net->kernels[0].offset, 19);
  oc_net_free(net);
}

Test(net_expand, nb201_cells) {
  struct oc_net *net = load_ok(
      NET_HEAD "{\"h\":8,\"w\":8,\"c\":16},\"layers\":["
      "{\"op\":\"nb201_cell\",\"cell\":\"|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|"
      "skip_connect~0|nor_conv_1x1~1|skip_connect~2|\"},"
      "{\"op\":\"nb201_cell\",\"cell\":\"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|\"},"
      "{\"op\":\"nb201_cell\",\"cell\":\"|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|\"}]}");
  /* node1 = conv3(n0); node2 = conv3(n0) + avg(n1); node3 = n0 + conv1(n1) + n2 */
  const char *const cell[] = {
      "act.f32 h=8 w=8 c=16 act=relu",
      "conv2d.f32 h=8 w=8 cin=16 cout=16 k=3 s=1 g=1 d=1 act=none",
      "act.f32 h=8 w=8 c=16 act=relu",
      "conv2d.f32 h=8 w=8 cin=16 cout=16 k=3 s=1 g=1 d=1 act=none",
      "avgpool2d.f32 h=8 w=8 c=16 k=3 s=1",
      "add.f32 h=8 w=8 c=16 act=none",
      "act.f32 h=8 w=8 c=16 act=relu",
      "conv2d.f32 h=8 w=8 cin=16 cout=16 k=1 s=1 g=1 d=1 act=none",
      "add.f32 h=8 w=8 c=16 act=none",
      "add.f32 h=8 w=8 c=16 act=none",
  };
  expect_kernels(net, 0, cell, 10);
  const char *const zero[] = {"zero"};
  expect_kernels(net, 1, zero, 1);
  /* Only skips: the cell is its input, with no kernel at all. */
  cr_expect_eq(net->layers[2].n_kernels, 0);
  cr_expect_eq(net->layers[2].output_tensor, net->layers[1].output_tensor);
  oc_net_free(net);
}

Test(net_expand, branches_and_joins_by_id) {
  struct oc_net *net = load_ok(
      NET_HEAD "{\"h\":16,\"w\":16,\"c\":8},\"layers\":["
      "{\"op\":\"conv2d\",\"id\":\"a\",\"cout\":8,\"k\":3},"
      "{\"op\":\"conv2d\",\"id\":\"b\",\"inputs\":[\"input\"],\"cout\":4,\"k\":1},"
      "{\"op\":\"concat\",\"id\":\"cat\",\"inputs\":[\"a\",\"b\"]},"
      "{\"op\":\"se\"},"
      "{\"op\":\"maxpool2d\",\"k\":3,\"s\":2},"
      "{\"op\":\"mul\",\"inputs\":[\"input\",\"input\"]}]}");
  cr_expect_eq(net->layers[1].inputs[0], -1);
  cr_expect_eq(net->layers[2].output.c, 12);
  cr_expect_str_eq(net->layers[2].key, "concat.f32 h=16 w=16 c=8 c2=4");
  cr_expect_eq(net->layers[3].args.se_ch, 8, "make_divisible(12/4, 8) = 8");
  cr_expect_eq(net->layers[4].output.h, 8);
  cr_expect_eq(net->output.c, 8);
  oc_net_free(net);
}

/* ---- costs and memory ------------------------------------------------------ */

Test(net_cost, peak_with_in_place_activation) {
  /* input 4x4x2 (128 B) -> conv 4 ch (256 B) -> relu in place -> conv 2 ch (128 B).
   * kernel 0: 128 + 256; kernel 1: 256 (in place; input dead); kernel 2: 256 + 128. */
  struct oc_net *net = load_ok(NET_HEAD "{\"h\":4,\"w\":4,\"c\":2},\"layers\":["
                               "{\"op\":\"conv2d\",\"cout\":4,\"k\":1},"
                               "{\"op\":\"act\",\"act\":\"relu\"},"
                               "{\"op\":\"conv2d\",\"cout\":2,\"k\":1}]}");
  cr_expect(net->kernels[1].in_place);
  cr_expect_eq(net->tensors[net->kernels[1].input[0]].reused_by, 1);
  cr_expect_eq(net->cost.peak_activation_bytes, 384);
  cr_expect_eq(net->layers[1].cost.peak_activation_bytes, 256);
  cr_expect_eq(net->cost.activation_bytes, 256 + 256 + 128);
  cr_expect_eq(net->cost.params, 2 * 4 + 4 + 4 * 2 + 2);
  cr_expect_eq(net->cost.weight_bytes, net->cost.params * 4);
  cr_expect_eq(net->cost.weight_bytes_by_dtype[oc_dtype_f16], net->cost.params * 2);
  cr_expect_eq(net->cost.weight_bytes_by_dtype[oc_dtype_qs8], net->cost.params);
  cr_expect_eq(net->cost.macs, 16 * 2 * 4 + 16 * 4 * 2);
  oc_net_free(net);
}

Test(net_cost, residual_keeps_the_skip_tensor_alive) {
  /* x (64 B) -> a = conv (64 B) -> b = conv (64 B) -> add: at kernel 1, x, a
   * and b are live (192 B). add(x, b) cannot write over x (the network
   * input): 192 B at the add; add(b, x) writes over b: 128 B. */
  const char *orders[2] = {"[\"input\",\"c\"]", "[\"c\",\"input\"]"};
  int64_t at_add[2] = {192, 128};
  for (int i = 0; i < 2; i++) {
    char text[512];
    snprintf(text, sizeof text,
             NET_HEAD "{\"h\":2,\"w\":2,\"c\":4},\"layers\":["
             "{\"op\":\"conv2d\",\"cout\":4,\"k\":1},"
             "{\"op\":\"conv2d\",\"id\":\"c\",\"cout\":4,\"k\":1},"
             "{\"op\":\"add\",\"inputs\":%s}]}",
             orders[i]);
    struct oc_net *net = load_ok(text);
    cr_expect_eq(net->cost.peak_activation_bytes, 192);
    cr_expect_eq(net->cost.peak_kernel, 1);
    cr_expect_eq(net->layers[2].cost.peak_activation_bytes, at_add[i], "order %d", i);
    cr_expect_eq(net->kernels[2].in_place, i == 1);
    oc_net_free(net);
  }
}

Test(net_cost, make_divisible_matches_tensorflow) {
  cr_expect_eq(oc_net_make_divisible(60, 8), 64);
  cr_expect_eq(oc_net_make_divisible(18, 8), 24, "16 would be more than 10 %% below 18");
  cr_expect_eq(oc_net_make_divisible(30, 8), 32);
  cr_expect_eq(oc_net_make_divisible(3.5, 8), 8);
  cr_expect_eq(oc_net_make_divisible(144, 8), 144);
}

/* ---- parameters and data moves ---------------------------------------------- */

Test(net_params, deterministic_and_scaled) {
  struct oc_net *net = load_ok(NET_HEAD "{\"h\":1,\"w\":5,\"c\":8},\"layers\":["
                               "{\"op\":\"transformer_layer\",\"heads\":2}]}");
  struct oc_net_params *a = NULL, *b = NULL, *c = NULL;
  cr_assert_eq(oc_net_params_create(net, 7, &a), oc_status_ok);
  cr_assert_eq(oc_net_params_create(net, 7, &b), oc_status_ok);
  cr_assert_eq(oc_net_params_create(net, 8, &c), oc_status_ok);
  int32_t qkv = net->layers[0].first_kernel + 1; /* layernorm, then the qkv fc */
  cr_assert_eq(net->kernels[qkv].op.kind, oc_op_fc);
  cr_expect(memcmp(a->weights[qkv], b->weights[qkv], 24 * 8 * sizeof(float)) == 0);
  cr_expect(memcmp(a->weights[qkv], c->weights[qkv], 24 * 8 * sizeof(float)) != 0);
  /* Every weight within +-sqrt(3/cin); the q rows (first 8) scaled by 1/sqrt(4). */
  float bound = sqrtf(3.0f / 8.0f);
  float qmax = 0, kmax = 0;
  for (int r = 0; r < 24; r++)
    for (int j = 0; j < 8; j++) {
      float v = fabsf(a->weights[qkv][r * 8 + j]);
      cr_assert(v <= bound);
      if (r < 8 && v > qmax) qmax = v;
      if (r >= 8 && r < 16 && v > kmax) kmax = v;
    }
  cr_expect(qmax <= bound / 2 + 1e-6f, "q rows carry the 1/sqrt(dh) scale");
  cr_expect(kmax > bound / 2, "k rows do not");
  oc_net_params_free(a);
  oc_net_params_free(b);
  oc_net_params_free(c);
  oc_net_free(net);
}

Test(net_params, heads_split_and_merge_are_inverse) {
  struct oc_net *net = load_ok(NET_HEAD "{\"h\":1,\"w\":3,\"c\":8},\"layers\":["
                               "{\"op\":\"transformer_layer\",\"heads\":2}]}");
  int32_t first = net->layers[0].first_kernel;
  int32_t split_q = first + 2, merge = first + 8;
  cr_assert_eq(net->kernels[split_q].step, oc_net_step_heads_split);
  cr_assert_eq(net->kernels[merge].step, oc_net_step_heads_merge);
  float qkv[3 * 24], heads[2 * 3 * 4], back[3 * 8];
  for (int i = 0; i < 3 * 24; i++) qkv[i] = (float)i;
  cr_assert_eq(oc_net_move_f32(net, split_q, qkv, NULL, heads), oc_status_ok);
  /* head 1, token 2, element 3 = qkv[token 2][channel 1*4 + 3] */
  cr_expect_float_eq(heads[(1 * 3 + 2) * 4 + 3], qkv[2 * 24 + 7], 0.0f);
  cr_assert_eq(oc_net_move_f32(net, merge, heads, NULL, back), oc_status_ok);
  for (int t = 0; t < 3; t++)
    for (int c = 0; c < 8; c++) cr_expect_float_eq(back[t * 8 + c], qkv[t * 24 + c], 0.0f);
  cr_expect_eq(oc_net_move_f32(net, first, qkv, NULL, back), oc_status_invalid_argument,
               "an op kernel is not a data move");
  oc_net_free(net);
}

/* ---- bad input ---------------------------------------------------------------- */

#define ONE_LAYER(layer) NET_HEAD "{\"h\":8,\"w\":8,\"c\":4},\"layers\":[" layer "]}"

Test(net_errors, json_syntax_line_and_column) {
  load_fails("{\"format\": \"opcost-net/1\",\n  \"layers\": [\n    {\"op\": \"gap\",}\n]}",
             oc_status_parse_error, "line 3", "column");
  load_fails("", oc_status_parse_error, "line 1", NULL);
}

Test(net_errors, unknown_op_and_field) {
  load_fails(ONE_LAYER("{\"op\":\"gap\"},{\"op\":\"conv3d\",\"cout\":4}"), oc_status_parse_error,
             "layers[1]", "'conv3d'");
  load_fails(ONE_LAYER("{\"op\":\"conv2d\",\"cout\":4,\"k\":3,\"kernel\":3}"),
             oc_status_parse_error, "layers[0] (conv2d)", "unknown field 'kernel'");
  load_fails(ONE_LAYER("{\"cout\":4}"), oc_status_parse_error, "field 'op' is missing", NULL);
  load_fails(NET_HEAD "{\"h\":8,\"w\":8,\"c\":4},\"layer\":[]}", oc_status_parse_error,
             "unknown field 'layer'", NULL);
  load_fails(NET_HEAD "{\"h\":8,\"w\":8,\"c\":4,\"n\":1},\"layers\":[{\"op\":\"gap\"}]}",
             oc_status_parse_error, "input.n", NULL);
}

Test(net_errors, zero_negative_and_wrong_type) {
  load_fails(ONE_LAYER("{\"op\":\"conv2d\",\"cout\":4,\"k\":0}"), oc_status_invalid_argument,
             "field 'k': value '0'", "layers[0]");
  load_fails(ONE_LAYER("{\"op\":\"fc\",\"cout\":-3}"), oc_status_invalid_argument,
             "field 'cout': value '-3'", NULL);
  load_fails(ONE_LAYER("{\"op\":\"conv2d\",\"cout\":4,\"k\":3.5}"), oc_status_parse_error,
             "field 'k': value '3.5'", "not an integer");
  load_fails(ONE_LAYER("{\"op\":\"mbconv\",\"cout\":4,\"k\":3,\"e\":0}"),
             oc_status_invalid_argument, "field 'e': value '0'", NULL);
  load_fails(NET_HEAD "{\"h\":0,\"w\":8,\"c\":4},\"layers\":[{\"op\":\"gap\"}]}",
             oc_status_invalid_argument, "input.h", "'0'");
  load_fails(ONE_LAYER("{\"op\":\"conv2d\",\"cout\":6,\"k\":3,\"g\":4}"),
             oc_status_invalid_argument, "layers[0] (conv2d)", "field 'g'");
  load_fails(ONE_LAYER("{\"op\":\"act\",\"act\":\"mish\"}"), oc_status_invalid_argument,
             "field 'act': value 'mish'", NULL);
  load_fails(ONE_LAYER("{\"op\":\"conv2d\",\"k\":3}"), oc_status_invalid_argument,
             "field 'cout' is missing", NULL);
  load_fails(ONE_LAYER("{\"op\":\"transformer_layer\",\"heads\":3}"), oc_status_invalid_argument,
             "field 'heads': value '3'", "c=4");
  load_fails(ONE_LAYER("{\"op\":\"token_select\",\"index\":64}"), oc_status_invalid_argument,
             "field 'index': value '64'", "64 tokens");
  load_fails(ONE_LAYER("{\"op\":\"transformer_layer\",\"heads\":2,\"head_dim\":0}"),
             oc_status_invalid_argument, "field 'head_dim': value '0'", NULL);
}

Test(net_errors, only_same_padding) {
  load_fails(ONE_LAYER("{\"op\":\"conv2d\",\"cout\":4,\"k\":3,\"pad\":\"valid\"}"),
             oc_status_unsupported, "field 'pad': value 'valid'", "only");
  load_fails(ONE_LAYER("{\"op\":\"maxpool2d\",\"k\":3,\"s\":2,\"pad\":1}"),
             oc_status_unsupported, "field 'pad': value '1'", "opcost-net/1");
  load_fails(ONE_LAYER("{\"op\":\"avgpool2d\",\"k\":3,\"s\":2,\"ceil\":true}"),
             oc_status_unsupported, "field 'ceil'", "floor");
  struct oc_net *net = load_ok(ONE_LAYER(
      "{\"op\":\"conv2d\",\"cout\":4,\"k\":3,\"pad\":\"same\",\"ceil\":false}"));
  oc_net_free(net);
}

Test(net_errors, shape_mismatch_at_a_join) {
  load_fails(ONE_LAYER("{\"op\":\"conv2d\",\"id\":\"a\",\"cout\":8,\"k\":1},"
                       "{\"op\":\"add\",\"inputs\":[\"a\",\"input\"]}"),
             oc_status_invalid_argument, "layers[1] (add)", "'a' is [1,8,8,8] and 'input' is [1,8,8,4]");
  load_fails(ONE_LAYER("{\"op\":\"conv2d\",\"id\":\"a\",\"cout\":8,\"k\":1,\"s\":2},"
                       "{\"op\":\"concat\",\"inputs\":[\"a\",\"input\"]}"),
             oc_status_invalid_argument, "shape mismatch", "concat");
  load_fails(ONE_LAYER("{\"op\":\"add\"}"), oc_status_invalid_argument, "field 'inputs' is missing",
             NULL);
  load_fails(ONE_LAYER("{\"op\":\"add\",\"inputs\":[\"input\"]}"), oc_status_invalid_argument,
             "field 'inputs'", "add takes 2");
}

Test(net_errors, cycle_dangling_duplicate_and_order) {
  load_fails(ONE_LAYER("{\"op\":\"conv2d\",\"id\":\"a\",\"inputs\":[\"b\"],\"cout\":4,\"k\":1},"
                       "{\"op\":\"conv2d\",\"id\":\"b\",\"cout\":4,\"k\":1}"),
             oc_status_invalid_argument, "cycle", "field 'inputs'");
  load_fails(ONE_LAYER("{\"op\":\"conv2d\",\"id\":\"a\",\"inputs\":[\"a\"],\"cout\":4,\"k\":1}"),
             oc_status_invalid_argument, "cycle: a", NULL);
  load_fails(ONE_LAYER("{\"op\":\"gap\"},{\"op\":\"add\",\"inputs\":[\"input\",\"ghost\"]}"),
             oc_status_invalid_argument, "layers[1] (add): field 'inputs': value 'ghost'",
             "names no layer");
  load_fails(ONE_LAYER("{\"op\":\"gap\",\"id\":\"x\"},{\"op\":\"softmax\",\"id\":\"x\"}"),
             oc_status_invalid_argument, "value 'x' is already the id of layers[0]", NULL);
  load_fails(ONE_LAYER("{\"op\":\"act\",\"act\":\"relu\",\"inputs\":[\"later\"]},"
                       "{\"op\":\"gap\",\"id\":\"later\",\"inputs\":[\"input\"]}"),
             oc_status_invalid_argument, "listed later", "layers[0]");
  load_fails(ONE_LAYER("{\"op\":\"gap\",\"id\":\"input\"}"), oc_status_invalid_argument,
             "reserved", NULL);
}

Test(net_errors, format_tag_and_blocks) {
  load_fails("{\"format\":\"opcost-net/2\",\"input\":{\"h\":1,\"w\":1,\"c\":1},\"layers\":[{\"op\":\"gap\"}]}",
             oc_status_incompatible, "opcost-net/2", NULL);
  load_fails(ONE_LAYER("{\"op\":\"patch_embed\",\"p\":3,\"dim\":8}"), oc_status_invalid_argument,
             "field 'p': value '3'", NULL);
  load_fails(ONE_LAYER("{\"op\":\"nb201_cell\",\"cell\":\"|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|\"}"),
             oc_status_invalid_argument, "nor_conv_5x5", "layers[0]");
  load_fails(ONE_LAYER("{\"op\":\"nb201_cell\",\"cell\":\"|none~0|+|none~0|none~0|+|none~0|none~1|none~2|\"}"),
             oc_status_invalid_argument, "repeated", NULL);
  load_fails(ONE_LAYER("{\"op\":\"mbconv\",\"cout\":4,\"k\":3}"), oc_status_invalid_argument,
             "field 'e' is missing", NULL);
  load_fails(ONE_LAYER("{\"op\":\"mbconv\",\"cout\":4,\"k\":3,\"e\":2,\"se_ch\":8}"),
             oc_status_invalid_argument, "\"se\": 1", NULL);
  load_fails(NET_HEAD "{\"h\":8,\"w\":8,\"c\":4},\"layers\":[]}", oc_status_invalid_argument,
             "empty", NULL);
}

Test(net_errors, missing_file) {
  struct oc_net *net = NULL;
  cr_expect_eq(oc_net_load_file("/nonexistent/net.json", &net), oc_status_io_error);
  cr_expect(strstr(oc_errmsg(), "/nonexistent/net.json") != NULL);
  cr_expect_null(net);
}
