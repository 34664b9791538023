/* test_space_bad.c - what a broken space file or a wrong gene vector gets:
 * the status, and a message that names the file, the line and column, the
 * path of the value, the gene or the family. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "opcost/opcost.h"
#include "opcost/space.h"

/* A valid two-stage space; tests break one thing at a time. */
static const char *const good =
    "{\n"
    "  \"format\": \"opcost-space/1\",\n"
    "  \"name\": \"tiny\",\n"
    "  \"genes\": [{\"name\": \"r\", \"choices\": [32, 64]},\n"
    "            {\"name\": \"d\", \"choices\": [1, 2]}],\n"
    "  \"input\": {\"h\": \"$r\", \"w\": \"$r\", \"c\": 3},\n"
    "  \"layers\": [\n"
    "    {\"op\": \"conv2d\", \"cout\": 16, \"k\": 3, \"s\": 2},\n"
    "    {\"stage\": {\"name\": \"s1\", \"blocks\": 2, \"depth\": \"$d\",\n"
    "       \"genes\": [{\"name\": \"k\", \"choices\": [3, 5]}],\n"
    "       \"layers\": [{\"op\": \"mbconv\", \"cout\": 16, \"k\": \"$k\", \"e\": 3}]}},\n"
    "    {\"op\": \"gap\"},\n"
    "    {\"op\": \"fc\", \"cout\": 10}\n"
    "  ]\n"
    "}\n";

static char *replace(const char *text, const char *from, const char *to) {
  static char buf[4096];
  const char *at = strstr(text, from);
  cr_assert_not_null(at, "test text lacks '%s'", from);
  snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
  return buf;
}

static enum oc_status load(const char *text, struct oc_space **sp) {
  *sp = NULL;
  return oc_space_from_string(text, "tiny.json", sp);
}

static void expect_msg(const char *part) {
  cr_expect(strstr(oc_errmsg(), part) != NULL, "message '%s' lacks '%s'", oc_errmsg(), part);
}

Test(space_bad, the_good_space_loads) {
  struct oc_space *sp;
  cr_assert_eq(load(good, &sp), oc_status_ok, "%s", oc_errmsg());
  char size[32];
  cr_assert_eq(oc_space_size(sp, oc_space_count_canonical, size, sizeof size), oc_status_ok);
  /* 2 resolutions x (2 + 2^2) */
  cr_expect_str_eq(size, "12");
  oc_space_free(sp);
}

Test(space_bad, a_gene_on_a_field_the_block_does_not_take) {
  struct oc_space *sp;
  enum oc_status st = load(replace(good, "\"k\": \"$k\"", "\"kernel\": \"$k\", \"k\": 3"), &sp);
  cr_expect_eq(st, oc_status_parse_error, "%s", oc_errmsg());
  cr_expect_null(sp);
  expect_msg("tiny.json");
  expect_msg("layers[1].stage (s1 block 0).layers[0]");
  expect_msg("kernel");
}

Test(space_bad, a_reference_to_an_undeclared_gene) {
  struct oc_space *sp;
  cr_expect_eq(load(replace(good, "\"$k\"", "\"$kk\""), &sp), oc_status_not_found);
  expect_msg("unknown gene 'kk'");
  expect_msg("field 'k'");
}

Test(space_bad, a_gene_nothing_reads) {
  struct oc_space *sp;
  cr_expect_eq(load(replace(good, "\"k\": \"$k\"", "\"k\": 3"), &sp), oc_status_invalid_argument);
  expect_msg("gene 'k[0]' is declared but no layer");
}

Test(space_bad, json_syntax_errors_give_line_and_column) {
  struct oc_space *sp;
  /* Line 3 loses its comma. */
  cr_expect_eq(load(replace(good, "\"tiny\",", "\"tiny\""), &sp), oc_status_parse_error);
  expect_msg("tiny.json: line 4");
  expect_msg("column");
}

Test(space_bad, another_format_tag) {
  struct oc_space *sp;
  cr_expect_eq(load(replace(good, "opcost-space/1", "opcost-space/2"), &sp),
               oc_status_incompatible);
  expect_msg("opcost-space/2");
}

Test(space_bad, lookups_need_one_value_per_choice) {
  struct oc_space *sp;
  cr_expect_eq(load(replace(good, "\"cout\": 16, \"k\": \"$k\"",
                            "\"cout\": {\"$k\": [16, 24, 32]}, \"k\": \"$k\""),
                    &sp),
               oc_status_invalid_argument);
  expect_msg("needs an array of 2 values");
}

Test(space_bad, depths_beyond_the_blocks) {
  struct oc_space *sp;
  cr_expect_eq(load(replace(good, "\"choices\": [1, 2]", "\"choices\": [1, 3]"), &sp),
               oc_status_invalid_argument);
  expect_msg("field 'depth'");
  expect_msg("[0, 2]");
}

Test(space_bad, labels_that_gene_text_cannot_carry) {
  struct oc_space *sp;
  cr_expect_eq(load(replace(good, "[3, 5]", "[\"a,b\", 5]"), &sp), oc_status_invalid_argument);
  expect_msg("'a,b'");
  cr_expect_eq(load(replace(good, "[3, 5]", "[3, 3]"), &sp), oc_status_invalid_argument);
  expect_msg("appears twice");
}

Test(space_bad, a_value_no_test_vector_can_build) {
  struct oc_space *sp;
  /* 3 does not divide 16: a grouped conv is invalid for every vector. */
  cr_expect_eq(load(replace(good, "\"cout\": 16, \"k\": 3, \"s\": 2",
                            "\"cout\": 16, \"k\": 3, \"s\": 2, \"g\": 3"),
                    &sp),
               oc_status_invalid_argument, "%s", oc_errmsg());
  expect_msg("layers[0]");
  expect_msg("checking vector");
}

Test(space_bad, block_input_outside_a_block) {
  struct oc_space *sp;
  cr_expect_eq(load(replace(good, "{\"op\": \"gap\"}",
                            "{\"op\": \"add\", \"inputs\": [\"@in\", \"input\"]}"),
                    &sp),
               oc_status_invalid_argument);
  expect_msg("'@in'");
}

Test(space_bad, unknown_space_name_lists_the_builtins) {
  struct oc_space *sp = NULL;
  cr_expect_eq(oc_space_builtin("ofa-mbv4", &sp), oc_status_not_found);
  cr_expect_null(sp);
  expect_msg("unknown space 'ofa-mbv4'");
  expect_msg("ofa-mbv3-w1.0");
  cr_expect_eq(oc_space_open("no/such/space.json", &sp), oc_status_io_error);
  expect_msg("no/such/space.json");
}

Test(space_bad, gene_values_outside_their_choices) {
  struct oc_space *sp;
  cr_assert_eq(oc_space_builtin("ofa-mbv3-w1.0", &sp), oc_status_ok);
  size_t n = oc_space_gene_count(sp);
  int32_t g[64];
  char text[512];
  snprintf(text, sizeof text,
           "r=224;d=2,2,2,2,2;k=3,4,_,_,3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_;"
           "e=3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_");
  cr_expect_eq(oc_space_parse_genes(sp, text, g, n), oc_status_invalid_argument);
  expect_msg("gene k[1]: value '4' is not one of its choices (3 5 7)");
  cr_expect_eq(oc_space_parse_genes(sp,
                                    "r=225;d=2,2,2,2,2;k=3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_,3,"
                                    "3,_,_;e=3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_",
                                    g, n),
               oc_status_invalid_argument);
  expect_msg("gene r: value '225'");
  /* Index vectors: an index past the choices. */
  cr_assert_eq(oc_space_sample(sp, 1, 0, g, n), oc_status_ok);
  g[6] = 3;
  uint64_t h;
  cr_expect_eq(oc_space_phenotype_hash(sp, g, n, &h), oc_status_invalid_argument);
  expect_msg("gene k[0]: choice index 3 is outside 0..2");
  oc_space_free(sp);
}

Test(space_bad, wrong_vector_lengths) {
  struct oc_space *sp;
  cr_assert_eq(oc_space_builtin("ofa-mbv3-w1.0", &sp), oc_status_ok);
  size_t n = oc_space_gene_count(sp);
  int32_t g[64] = {0};
  uint64_t h;
  cr_expect_eq(oc_space_phenotype_hash(sp, g, n - 1, &h), oc_status_invalid_argument);
  expect_msg("length 45, expected 46");
  struct oc_net *net = NULL;
  cr_expect_eq(oc_space_decode(sp, g, n + 1, &net), oc_status_invalid_argument);
  cr_expect_null(net);
  cr_expect_eq(oc_space_parse_genes(sp, "r=224;d=2,2", g, n), oc_status_invalid_argument);
  expect_msg("family 'd' has 2 values, expected 5");
  cr_expect_eq(oc_space_parse_genes(sp, "r=224;x=1", g, n), oc_status_not_found);
  expect_msg("unknown gene family 'x'");
  oc_space_free(sp);
}

Test(space_bad, active_genes_need_values) {
  struct oc_space *sp;
  cr_assert_eq(oc_space_builtin("ofa-mbv3-w1.0", &sp), oc_status_ok);
  int32_t g[64];
  /* Stage 1 keeps 3 blocks, so k[2] may not be '_'. */
  cr_expect_eq(oc_space_parse_genes(sp,
                                    "r=224;d=3,2,2,2,2;k=3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_,3,"
                                    "3,_,_;e=3,3,3,_,3,3,_,_,3,3,_,_,3,3,_,_,3,3,_,_",
                                    g, oc_space_gene_count(sp)),
               oc_status_invalid_argument);
  expect_msg("gene k[2] is active (stage s1 keeps 3 blocks)");
  /* A space-wide gene cannot be '_'. */
  cr_expect_eq(oc_space_parse_genes(sp, "r=_;d=2,2,2,2,2", g, oc_space_gene_count(sp)),
               oc_status_invalid_argument);
  expect_msg("gene r has no value");
  oc_space_free(sp);
}
