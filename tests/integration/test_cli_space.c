/* test_cli_space.c - `opcost space` end to end: the list and exact sizes,
 * show in text and JSON, reproducible sampling with written networks,
 * decode -> encode round trips, op listing, and errors with their messages
 * and distinct exit codes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/cli_test.h"

static void setup(void) { cli_test_setup("space"); }

static void teardown(void) { cli_test_teardown(); }

TestSuite(cli_space, .init = setup, .fini = teardown);

Test(cli_space, list_shows_every_builtin_with_its_exact_size) {
  cr_assert_eq(run("space list"), 0, "%s", err);
  cr_expect(strstr(out, "nasbench201") != NULL);
  cr_expect(strstr(out, "15625") != NULL);
  cr_expect(strstr(out, "984770902183611232881") != NULL, "FBNet's 9^22, beyond 64 bits");
  cr_assert_eq(run("space list --json"), 0, "%s", err);
  json_error_t je;
  json_t *root = json_loads(out, 0, &je);
  cr_assert_not_null(root, "%s", je.text);
  cr_expect_geq(json_array_size(root), 11);
  bool found = false;
  for (size_t i = 0; i < json_array_size(root); i++) {
    json_t *s = json_array_get(root, i);
    if (strcmp(json_string_value(json_object_get(s, "name")), "ofa-mbv3-w1.0") == 0) {
      found = true;
      cr_expect_str_eq(json_string_value(json_object_get(s, "size")), "543966387314312146275");
    }
  }
  cr_expect(found);
  json_decref(root);
}

Test(cli_space, show_gives_genes_stages_sizes_and_phenotypes) {
  cr_assert_eq(run("space show ofa-mbv3-w1.0"), 0, "%s", err);
  cr_expect(strstr(out, "543966387314312146275 architectures") != NULL, "%s", out);
  cr_expect(strstr(out, "distinct networks can be fewer") != NULL);
  cr_expect(strstr(out, "keeps 2/3/4 by d[0]") != NULL, "%s", out);
  cr_expect(strstr(out, "k[0..19]") != NULL, "%s", out);
  cr_assert_eq(run("space show nasbench201 --json"), 0, "%s", err);
  json_t *root = json_loads(out, 0, NULL);
  cr_assert_not_null(root);
  cr_expect_str_eq(json_string_value(json_object_get(root, "size")), "15625");
  /* Small spaces count their distinct networks (cells with dead edges
   * coincide). */
  json_int_t ph = json_integer_value(json_object_get(root, "phenotypes"));
  cr_expect(ph > 5000 && ph < 15625, "%lld", (long long)ph);
  json_t *fam = json_array_get(json_object_get(root, "families"), 0);
  cr_expect_str_eq(json_string_value(json_object_get(fam, "name")), "op");
  cr_expect_eq(json_array_size(json_object_get(fam, "genes")), 6);
  json_decref(root);
}

Test(cli_space, sampling_is_reproducible_and_writes_networks) {
  cr_assert_eq(run("space sample ofa-mbv3-w1.0 -n 5 --seed 9"), 0, "%s", err);
  char *a = strdup(out);
  cr_assert_eq(run("space sample ofa-mbv3-w1.0 --seed 9 -n 5"), 0, "%s", err);
  cr_expect_str_eq(a, out);
  int lines = 0;
  for (char *p = a; *p; p++) lines += *p == '\n';
  cr_expect_eq(lines, 5);
  cr_expect(strstr(a, "r=") != NULL && strstr(a, ";k=") != NULL);
  cr_assert_eq(run("space sample ofa-mbv3-w1.0 --seed 10 -n 5"), 0, "%s", err);
  cr_expect_str_neq(a, out);
  free(a);
  cr_assert_eq(run("space sample fbnet -n 3 --seed 2 --out nets --cost --json"), 0, "%s", err);
  json_t *root = json_loads(out, 0, NULL);
  cr_assert_not_null(root);
  cr_expect_eq(json_array_size(root), 3);
  cr_expect_gt(json_integer_value(json_object_get(json_array_get(root, 0), "macs")), 50000000);
  json_decref(root);
  const char *path = in_dir("nets/fbnet-2.json");
  cr_expect_eq(access(path, R_OK), 0, "%s", path);
  /* The written network is one `opcost net` loads. */
  cr_expect_eq(run("net info nets/fbnet-2.json"), 0, "%s", err);
}

Test(cli_space, decode_then_encode_gives_the_canonical_text) {
  cr_assert_eq(run("space sample ofa-mbv3-w1.0 -n 1 --seed 4"), 0, "%s", err);
  char *genes = strdup(out);
  /* "INDEX HASH GENES"; in OFA-MobileNetV3 every phenotype has one
   * canonical vector, so encode gives the text back. */
  char *text = strchr(strchr(genes, ' ') + 1, ' ') + 1;
  text[strcspn(text, "\n")] = '\0';
  cr_assert_eq(run("space decode ofa-mbv3-w1.0 '%s' -o net.json", text), 0, "%s", err);
  cr_assert_eq(run("space encode ofa-mbv3-w1.0 net.json"), 0, "%s", err);
  out[strcspn(out, "\n")] = '\0';
  cr_expect_str_eq(out, text);
  free(genes);
  /* In OFA-ResNet50 d[0] = 0 and 1 build the same stem: encode finds a
   * vector with the same phenotype hash. */
  cr_assert_eq(run("space sample ofa-resnet50 -n 1 --seed 4 --json"), 0, "%s", err);
  json_t *samples = json_loads(out, 0, NULL);
  json_t *sample = json_array_get(samples, 0);
  cr_assert_not_null(sample);
  text = strdup(json_string_value(json_object_get(sample, "genes")));
  const char *hash = json_string_value(json_object_get(sample, "hash"));
  cr_assert_eq(run("space decode ofa-resnet50 '%s' -o net.json", text), 0, "%s", err);
  cr_assert_eq(run("space encode ofa-resnet50 net.json --json"), 0, "%s", err);
  json_t *enc = json_loads(out, 0, NULL);
  cr_assert_not_null(enc);
  cr_expect_str_eq(json_string_value(json_object_get(enc, "hash")), hash);
  json_decref(enc);
  /* Gene text with inactive genes written out comes back canonical. */
  cr_assert_eq(run("space sample ofa-resnet50 -n 1 --seed 4 --full"), 0, "%s", err);
  char *full = strdup(out);
  char *ftext = strchr(strchr(full, ' ') + 1, ' ') + 1;
  ftext[strcspn(ftext, "\n")] = '\0';
  cr_assert_eq(run("space encode ofa-resnet50 --genes '%s' --json", ftext), 0, "%s", err);
  json_t *root = json_loads(out, 0, NULL);
  cr_assert_not_null(root);
  cr_expect_str_eq(json_string_value(json_object_get(root, "genes")), text);
  json_decref(root);
  free(full);
  /* decode --cost */
  cr_assert_eq(run("space decode ofa-resnet50 '%s' --cost --json", text), 0, "%s", err);
  root = json_loads(out, 0, NULL);
  cr_assert_not_null(root);
  cr_expect_gt(json_integer_value(json_object_get(root, "macs")), 500000000);
  cr_expect_str_eq(json_string_value(json_object_get(root, "phenotype_hash")), hash);
  json_decref(root);
  json_decref(samples);
  free(text);
}

Test(cli_space, ops_lists_kernel_and_block_keys) {
  cr_assert_eq(run("space ops proxylessnas-mobile"), 0, "%s", err);
  cr_expect(strstr(out, "conv2d.f32 h=224 w=224 cin=3 cout=32 k=3 s=2 g=1 d=1 act=relu6\n") !=
            NULL);
  cr_expect(strstr(err, "kernel keys") != NULL);
  cr_assert_eq(run("space ops ofa-mbv3-w1.0 --resolution 160 --blocks"), 0, "%s", err);
  cr_expect(strstr(out, "mbconv.f32 h=80 w=80 cin=16 cout=16 k=3 s=1 e=1 se=0 act=relu") != NULL,
            "%.300s", out);
  cr_expect(strstr(out, "h=112") == NULL, "only 160 was asked for");
}

Test(cli_space, errors_name_what_is_wrong_with_distinct_exit_codes) {
  cr_expect_eq(run("space show no-such-space"), 8);
  cr_expect(strstr(err, "unknown space 'no-such-space'") != NULL, "%s", err);
  cr_expect_eq(run("space decode nasbench201 'op=none,none,none'"), 3);
  cr_expect(strstr(err, "family 'op' has 3 values, expected 6") != NULL, "%s", err);
  cr_expect_eq(run("space decode nasbench201 'op=none,none,none,none,none,conv5x5'"), 3);
  cr_expect(strstr(err, "gene op[5]: value 'conv5x5'") != NULL, "%s", err);
  write_file("bad.json", "{\"format\": \"opcost-space/1\",\n \"name\": \"bad\"\n \"input\": {}}\n");
  cr_expect_eq(run("space show ./bad.json"), 4);
  cr_expect(strstr(err, "bad.json: line 3") != NULL, "%s", err);
  cr_expect_eq(run("space frobnicate"), 2);
  cr_expect_eq(run("space sample"), 2);
}
