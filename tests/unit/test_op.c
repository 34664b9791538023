/* test_op.c - the op catalog: ops.def consistency, canonical keys (round
 * trip and every rejection the key grammar promises), shapes and costs
 * against hand-computed figures. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "opcost/opcost.h"

/* One valid key per kind, in canonical form. */
static const char *const sample_keys[] = {
    "conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6",
    "fc.f32 m=1 cin=1280 cout=1000 act=none",
    "matmul.f32 b=3 m=197 k=64 n=197 tb=1",
    "maxpool2d.f32 h=112 w=112 c=64 k=3 s=2",
    "avgpool2d.f32 h=7 w=7 c=32 k=3 s=1",
    "gap.f32 h=7 w=7 c=960",
    "act.f32 h=28 w=28 c=40 act=hswish",
    "add.f32 h=28 w=28 c=40 act=none",
    "mul.f32 h=14 w=14 c=480 bc=1",
    "layernorm.f32 h=1 w=197 c=192",
    "softmax.f32 h=3 w=197 c=197",
    "concat.f32 h=28 w=28 c=32 c2=64",
};

Test(op, every_kind_has_valid_fields_and_a_sample_key) {
  cr_assert_eq(sizeof sample_keys / sizeof sample_keys[0], (size_t)oc_op_kind__count,
               "add a sample key for every kind of ops.def");
  for (int k = 0; k < oc_op_kind__count; k++) {
    enum oc_op_kind kind = (enum oc_op_kind)k;
    /* Every name in the field string must be a real field of the kind. */
    char fields[256];
    snprintf(fields, sizeof fields, "%s", oc_op_kind_fields(kind));
    int count = 0;
    for (char *tok = strtok(fields, " "); tok; tok = strtok(NULL, " ")) {
      bool found = false;
      for (int f = 0; f < oc_field__count; f++) {
        if (strcmp(oc_field_name((enum oc_field)f), tok) == 0) {
          found = true;
          cr_assert(oc_op_kind_uses(kind, (enum oc_field)f), "%s: %s", oc_op_kind_name(kind), tok);
        }
      }
      cr_assert(found, "ops.def: kind %s lists unknown field '%s'", oc_op_kind_name(kind), tok);
      count++;
    }
    cr_assert_gt(count, 0);
    struct oc_op op;
    cr_assert_eq(oc_op_parse(sample_keys[k], &op), oc_status_ok, "%s: %s", sample_keys[k],
                 oc_errmsg());
    cr_assert_eq(op.kind, kind, "sample key %d is not of kind %s", k, oc_op_kind_name(kind));
  }
}

Test(op, keys_round_trip) {
  for (size_t i = 0; i < sizeof sample_keys / sizeof sample_keys[0]; i++) {
    struct oc_op op;
    char out[OC_KEY_MAX];
    cr_assert_eq(oc_op_parse(sample_keys[i], &op), oc_status_ok, "%s", oc_errmsg());
    cr_assert_eq(oc_op_format(&op, out, sizeof out), oc_status_ok);
    cr_assert_str_eq(out, sample_keys[i]);
  }
}

Test(op, pointwise_conv_macs_match_the_issue) {
  struct oc_op op;
  struct oc_op_cost cost;
  cr_assert_eq(oc_op_parse("conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6", &op),
               oc_status_ok);
  cr_assert_eq(oc_op_cost(&op, &cost), oc_status_ok);
  cr_assert_eq(cost.macs, 10838016); /* 56*56*144*24 */
  cr_assert_eq(cost.params, 144 * 24 + 144);
  cr_assert_eq(cost.input_bytes, 56 * 56 * 24 * 4);
  cr_assert_eq(cost.output_bytes, 56 * 56 * 144 * 4);
  cr_assert_eq(cost.weight_bytes, (144 * 24 + 144) * 4);
  /* 2 per MAC + bias + relu6 (2) per output */
  cr_assert_eq(cost.flops, 2 * 10838016 + 56 * 56 * 144 * 3);
}

Test(op, depthwise_stride2_shapes_and_padding) {
  struct oc_op op;
  struct oc_op_shapes sh;
  struct oc_op_cost cost;
  cr_assert_eq(oc_op_parse("conv2d.f32 h=56 w=56 cin=144 cout=144 k=5 s=2 g=144 d=1 act=relu6", &op),
               oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_op_shapes(&op, &sh), oc_status_ok);
  cr_assert_eq(sh.output.h, 28);
  cr_assert_eq(sh.output.w, 28);
  cr_assert_eq(sh.weight_elems, 144 * 25);
  /* TF same: total = (28-1)*2 + 5 - 56 = 3 -> 1 before, 2 after */
  cr_assert_eq(sh.pad_top, 1);
  cr_assert_eq(sh.pad_bottom, 2);
  cr_assert_eq(oc_op_cost(&op, &cost), oc_status_ok);
  cr_assert_eq(cost.macs, 28 * 28 * 144 * 25);
}

Test(op, odd_sizes_dilation_and_groups) {
  struct oc_op op;
  struct oc_op_shapes sh;
  struct oc_op_cost cost;
  cr_assert_eq(oc_op_parse("conv2d.f32 h=13 w=7 cin=6 cout=4 k=3 s=2 g=2 d=2 act=none", &op),
               oc_status_ok, "%s", oc_errmsg());
  cr_assert_eq(oc_op_shapes(&op, &sh), oc_status_ok);
  cr_assert_eq(sh.output.h, 7);
  cr_assert_eq(sh.output.w, 4);
  /* effective kernel 5: h total = 6*2+5-13 = 4 -> 2/2; w total = 3*2+5-7 = 4 */
  cr_assert_eq(sh.pad_top, 2);
  cr_assert_eq(sh.pad_bottom, 2);
  cr_assert_eq(sh.pad_left, 2);
  cr_assert_eq(sh.pad_right, 2);
  cr_assert_eq(sh.weight_elems, 4 * 3 * 3 * 3);
  cr_assert_eq(oc_op_cost(&op, &cost), oc_status_ok);
  cr_assert_eq(cost.macs, 7 * 4 * 4 * 9 * 3);
}

Test(op, costs_of_the_other_kinds) {
  struct oc_op op;
  struct oc_op_cost c;
  cr_assert_eq(oc_op_parse("fc.f32 m=1 cin=1280 cout=1000 act=none", &op), oc_status_ok);
  cr_assert_eq(oc_op_cost(&op, &c), oc_status_ok);
  cr_assert_eq(c.macs, 1280000);
  cr_assert_eq(c.params, 1281000);
  cr_assert_eq(oc_op_parse("matmul.f32 b=3 m=197 k=64 n=197 tb=1", &op), oc_status_ok);
  cr_assert_eq(oc_op_cost(&op, &c), oc_status_ok);
  cr_assert_eq(c.macs, 3LL * 197 * 197 * 64);
  cr_assert_eq(c.params, 0);
  cr_assert_eq(c.input_bytes, 2LL * 3 * 197 * 64 * 4);
  cr_assert_eq(oc_op_parse("maxpool2d.f32 h=112 w=112 c=64 k=3 s=2", &op), oc_status_ok);
  cr_assert_eq(oc_op_cost(&op, &c), oc_status_ok);
  cr_assert_eq(c.macs, 0);
  cr_assert_eq(c.flops, 56LL * 56 * 64 * 9);
  cr_assert_eq(c.output_bytes, 56LL * 56 * 64 * 4);
  cr_assert_eq(oc_op_parse("mul.f32 h=14 w=14 c=480 bc=1", &op), oc_status_ok);
  cr_assert_eq(oc_op_cost(&op, &c), oc_status_ok);
  cr_assert_eq(c.input_bytes, (14LL * 14 * 480 + 480) * 4);
  cr_assert_eq(oc_op_parse("concat.f32 h=28 w=28 c=32 c2=64", &op), oc_status_ok);
  cr_assert_eq(oc_op_cost(&op, &c), oc_status_ok);
  cr_assert_eq(c.output_bytes, 28LL * 28 * 96 * 4);
  cr_assert_eq(c.flops, 0);
  cr_assert_eq(oc_op_parse("layernorm.f32 h=1 w=197 c=192", &op), oc_status_ok);
  cr_assert_eq(oc_op_cost(&op, &c), oc_status_ok);
  cr_assert_eq(c.params, 384);
  cr_assert_eq(oc_op_parse("gap.f32 h=7 w=7 c=960", &op), oc_status_ok);
  cr_assert_eq(oc_op_cost(&op, &c), oc_status_ok);
  cr_assert_eq(c.output_bytes, 960 * 4);
}

/* Fixed arrays, not pointers: Criterion runs each parameter in a separate
 * worker process, where only the parameter bytes are copied. */
struct bad_key {
  char key[160];
  enum oc_status status;
  char says[80]; /* the message must contain this */
};

ParameterizedTestParameters(op, bad_keys) {
  static struct bad_key bad[] = {
      {"conv2d.f32 h=0 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6",
       oc_status_invalid_argument, "field 'h': value '0'"},
      {"conv2d.f32 h=-3 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6",
       oc_status_invalid_argument, "field 'h': value '-3'"},
      {"conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=5 d=1 act=relu6",
       oc_status_invalid_argument, "field 'g': value '5' does not divide cin=24"},
      {"conv2d.f32 h=56 w=56 cin=24 cout=10 k=1 s=1 g=4 d=1 act=relu6",
       oc_status_invalid_argument, "does not divide cout=10"},
      {"conv3d.f32 h=56 w=56", oc_status_parse_error, "unknown op kind 'conv3d'"},
      {"conv2d.f64 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6", oc_status_parse_error,
       "unknown dtype 'f64'"},
      {"conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 p=1 act=relu6",
       oc_status_parse_error, "field 'p' is not a field of conv2d"},
      {"conv2d.f32 h=56 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6",
       oc_status_parse_error, "field 'h' appears twice"},
      {"conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6 junk",
       oc_status_parse_error, "'junk' is not NAME=VALUE"},
      {"conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6 ", oc_status_parse_error,
       "single spaces"},
      {"conv2d.f32 h=56  w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6", oc_status_parse_error,
       "single spaces"},
      {"conv2d.f32 h=56 w=56xyz cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6", oc_status_parse_error,
       "field 'w': value '56xyz' is not an integer"},
      {"conv2d.f32 h=4294967296 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6",
       oc_status_overflow, "field 'h': value '4294967296' does not fit in 32 bits"},
      {"conv2d.f32 h=99999999999999999999999 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6",
       oc_status_overflow, "does not fit in 32 bits"},
      {"conv2d.f32 h=1048576 w=1048576 cin=1048576 cout=1048576 k=255 s=1 g=1 d=1 act=none",
       oc_status_overflow, "do not fit in 64 bits"},
      {"conv2d.f32 h=2000000 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6",
       oc_status_invalid_argument, "must be <= 1048576"},
      {"conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 act=relu6", oc_status_parse_error,
       "field 'act' out of order"},
      {"conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1", oc_status_parse_error,
       "field 'act' is missing"},
      {"conv2d.f32 w=56 h=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6", oc_status_parse_error,
       "out of order"},
      {"conv2d.f32 h=056 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6", oc_status_parse_error,
       "not written canonically"},
      {"conv2d.f32 h=+56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6", oc_status_parse_error,
       "not written canonically"},
      {"mul.f32 h=8 w=8 c=1 bc=-0", oc_status_parse_error, "not written canonically"},
      {"conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu7", oc_status_parse_error,
       "unknown activation 'relu7'"},
      {"act.f32 h=1 w=1 c=1 act=none", oc_status_invalid_argument, "'none' is not an activation op"},
      {"matmul.f32 b=1 m=2 k=3 n=4 tb=2", oc_status_invalid_argument, "field 'tb': value '2'"},
      {"conv2d h=56", oc_status_parse_error, "expected KIND.DTYPE"},
      {"", oc_status_parse_error, "expected KIND.DTYPE"},
      {"gap.f32 h=7 w=7 c=", oc_status_parse_error, "is not an integer"},
      {"gap.f32 h=7 w=7 =7", oc_status_parse_error, "is not a field of gap"},
  };
  return cr_make_param_array(struct bad_key, bad, sizeof bad / sizeof bad[0]);
}

ParameterizedTest(struct bad_key *bk, op, bad_keys) {
  struct oc_op op;
  oc_op_init(&op, oc_op_gap, oc_dtype_f32);
  op.h = 99;
  oc_errclear();
  enum oc_status st = oc_op_parse(bk->key, &op);
  cr_assert_eq(st, bk->status, "'%s': got %s (%s), expected %s", bk->key, oc_status_name(st),
               oc_errmsg(), oc_status_name(bk->status));
  cr_assert(strstr(oc_errmsg(), bk->says) != NULL, "'%s': message '%s' lacks '%s'", bk->key,
            oc_errmsg(), bk->says);
  cr_assert_eq(op.h, 99, "a failed parse must leave the op unchanged");
}

Test(op, names_round_trip) {
  for (int d = 0; d < oc_dtype__count; d++) {
    enum oc_dtype back;
    cr_assert_eq(oc_dtype_from_name(oc_dtype_name((enum oc_dtype)d), &back), oc_status_ok);
    cr_assert_eq((int)back, d);
  }
  for (int a = 0; a < oc_act__count; a++) {
    enum oc_act back;
    cr_assert_eq(oc_act_from_name(oc_act_name((enum oc_act)a), &back), oc_status_ok);
    cr_assert_eq((int)back, a);
  }
  cr_assert_eq(oc_dtype_size(oc_dtype_f32), 4);
  cr_assert_eq(oc_dtype_size(oc_dtype_qs8), 1);
  cr_assert_neq(oc_act_from_name("swish2", &(enum oc_act){0}), oc_status_ok);
}

Test(op, dtype_travels_through_keys) {
  struct oc_op op;
  char out[OC_KEY_MAX];
  cr_assert_eq(oc_op_parse("conv2d.f16 h=8 w=8 cin=4 cout=4 k=3 s=1 g=1 d=1 act=relu", &op),
               oc_status_ok);
  cr_assert_eq(op.dtype, oc_dtype_f16);
  struct oc_op_cost c;
  cr_assert_eq(oc_op_cost(&op, &c), oc_status_ok);
  cr_assert_eq(c.input_bytes, 8 * 8 * 4 * 2);
  cr_assert_eq(oc_op_format(&op, out, sizeof out), oc_status_ok);
  cr_assert_str_eq(out, "conv2d.f16 h=8 w=8 cin=4 cout=4 k=3 s=1 g=1 d=1 act=relu");
}

Test(op, format_reports_a_short_buffer) {
  struct oc_op op;
  char out[16];
  cr_assert_eq(oc_op_parse(sample_keys[0], &op), oc_status_ok);
  cr_assert_eq(oc_op_format(&op, out, sizeof out), oc_status_overflow);
  cr_assert_str_eq(out, "");
}
