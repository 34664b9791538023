/* test_cli_space.c - `opcost space` end to end: the list and exact sizes,
 * show in text and JSON, reproducible sampling with written networks,
 * decode -> encode round trips, op listing, and errors with their messages
 * and distinct exit codes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

static void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/opcost-space-XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  cr_expect_eq(system(cmd), 0);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = calloc((size_t)n + 1, 1);
  cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  return text;
}

/* Runs `opcost ARGS` in the temporary folder, capturing stdout and stderr;
 * returns the exit code. */
static int run(const char *args, char **out, char **err) {
  const char *bin = getenv("OPCOST");
  cr_assert_not_null(bin, "OPCOST is not set");
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s > out 2> err", tmpdir, bin, args);
  int status = system(cmd);
  cr_assert(WIFEXITED(status));
  char path[512];
  if (out) {
    snprintf(path, sizeof path, "%s/out", tmpdir);
    *out = slurp(path);
  }
  if (err) {
    snprintf(path, sizeof path, "%s/err", tmpdir);
    *err = slurp(path);
  }
  return WEXITSTATUS(status);
}

TestSuite(cli_space, .init = setup, .fini = teardown);

Test(cli_space, list_shows_every_builtin_with_its_exact_size) {
  char *out, *err;
  cr_assert_eq(run("space list", &out, &err), 0, "%s", err);
  cr_expect(strstr(out, "nasbench201") != NULL);
  cr_expect(strstr(out, "15625") != NULL);
  cr_expect(strstr(out, "984770902183611232881") != NULL, "FBNet's 9^22, beyond 64 bits");
  free(out);
  free(err);
  cr_assert_eq(run("space list --json", &out, &err), 0, "%s", err);
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
  free(out);
  free(err);
}

Test(cli_space, show_gives_genes_stages_sizes_and_phenotypes) {
  char *out, *err;
  cr_assert_eq(run("space show ofa-mbv3-w1.0", &out, &err), 0, "%s", err);
  cr_expect(strstr(out, "543966387314312146275 architectures") != NULL, "%s", out);
  cr_expect(strstr(out, "distinct networks can be fewer") != NULL);
  cr_expect(strstr(out, "keeps 2/3/4 by d[0]") != NULL, "%s", out);
  cr_expect(strstr(out, "k[0..19]") != NULL, "%s", out);
  free(out);
  free(err);
  cr_assert_eq(run("space show nasbench201 --json", &out, &err), 0, "%s", err);
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
  free(out);
  free(err);
}

Test(cli_space, sampling_is_reproducible_and_writes_networks) {
  char *a, *b, *err;
  cr_assert_eq(run("space sample ofa-mbv3-w1.0 -n 5 --seed 9", &a, &err), 0, "%s", err);
  free(err);
  cr_assert_eq(run("space sample ofa-mbv3-w1.0 --seed 9 -n 5", &b, &err), 0, "%s", err);
  cr_expect_str_eq(a, b);
  int lines = 0;
  for (char *p = a; *p; p++) lines += *p == '\n';
  cr_expect_eq(lines, 5);
  cr_expect(strstr(a, "r=") != NULL && strstr(a, ";k=") != NULL);
  free(b);
  free(err);
  cr_assert_eq(run("space sample ofa-mbv3-w1.0 --seed 10 -n 5", &b, &err), 0, "%s", err);
  cr_expect_str_neq(a, b);
  free(a);
  free(b);
  free(err);
  cr_assert_eq(run("space sample fbnet -n 3 --seed 2 --out nets --cost --json", &a, &err), 0, "%s",
               err);
  json_t *root = json_loads(a, 0, NULL);
  cr_assert_not_null(root);
  cr_expect_eq(json_array_size(root), 3);
  cr_expect_gt(json_integer_value(json_object_get(json_array_get(root, 0), "macs")), 50000000);
  json_decref(root);
  char path[512];
  snprintf(path, sizeof path, "%s/nets/fbnet-2.json", tmpdir);
  cr_expect_eq(access(path, R_OK), 0, "%s", path);
  free(a);
  free(err);
  /* The written network is one `opcost net` loads. */
  cr_expect_eq(run("net info nets/fbnet-2.json", &a, &err), 0, "%s", err);
  free(a);
  free(err);
}

Test(cli_space, decode_then_encode_gives_the_canonical_text) {
  char *genes, *out, *err;
  cr_assert_eq(run("space sample ofa-mbv3-w1.0 -n 1 --seed 4", &genes, &err), 0, "%s", err);
  free(err);
  /* "INDEX HASH GENES"; in OFA-MobileNetV3 every phenotype has one
   * canonical vector, so encode gives the text back. */
  char *text = strchr(strchr(genes, ' ') + 1, ' ') + 1;
  text[strcspn(text, "\n")] = '\0';
  char args[2048];
  snprintf(args, sizeof args, "space decode ofa-mbv3-w1.0 '%s' -o net.json", text);
  cr_assert_eq(run(args, &out, &err), 0, "%s", err);
  free(out);
  free(err);
  cr_assert_eq(run("space encode ofa-mbv3-w1.0 net.json", &out, &err), 0, "%s", err);
  out[strcspn(out, "\n")] = '\0';
  cr_expect_str_eq(out, text);
  free(out);
  free(err);
  free(genes);
  /* In OFA-ResNet50 d[0] = 0 and 1 build the same stem: encode finds a
   * vector with the same phenotype hash. */
  cr_assert_eq(run("space sample ofa-resnet50 -n 1 --seed 4 --json", &genes, &err), 0, "%s", err);
  free(err);
  json_t *samples = json_loads(genes, 0, NULL);
  json_t *sample = json_array_get(samples, 0);
  cr_assert_not_null(sample);
  text = strdup(json_string_value(json_object_get(sample, "genes")));
  const char *hash = json_string_value(json_object_get(sample, "hash"));
  snprintf(args, sizeof args, "space decode ofa-resnet50 '%s' -o net.json", text);
  cr_assert_eq(run(args, &out, &err), 0, "%s", err);
  free(out);
  free(err);
  cr_assert_eq(run("space encode ofa-resnet50 net.json --json", &out, &err), 0, "%s", err);
  json_t *enc = json_loads(out, 0, NULL);
  cr_assert_not_null(enc);
  cr_expect_str_eq(json_string_value(json_object_get(enc, "hash")), hash);
  json_decref(enc);
  free(out);
  free(err);
  /* Gene text with inactive genes written out comes back canonical. */
  snprintf(args, sizeof args, "space sample ofa-resnet50 -n 1 --seed 4 --full");
  char *full;
  cr_assert_eq(run(args, &full, &err), 0, "%s", err);
  free(err);
  char *ftext = strchr(strchr(full, ' ') + 1, ' ') + 1;
  ftext[strcspn(ftext, "\n")] = '\0';
  snprintf(args, sizeof args, "space encode ofa-resnet50 --genes '%s' --json", ftext);
  cr_assert_eq(run(args, &out, &err), 0, "%s", err);
  json_t *root = json_loads(out, 0, NULL);
  cr_assert_not_null(root);
  cr_expect_str_eq(json_string_value(json_object_get(root, "genes")), text);
  json_decref(root);
  free(out);
  free(err);
  free(full);
  /* decode --cost */
  snprintf(args, sizeof args, "space decode ofa-resnet50 '%s' --cost --json", text);
  cr_assert_eq(run(args, &out, &err), 0, "%s", err);
  root = json_loads(out, 0, NULL);
  cr_assert_not_null(root);
  cr_expect_gt(json_integer_value(json_object_get(root, "macs")), 500000000);
  cr_expect_str_eq(json_string_value(json_object_get(root, "phenotype_hash")), hash);
  json_decref(root);
  json_decref(samples);
  free(text);
  free(out);
  free(err);
  free(genes);
}

Test(cli_space, ops_lists_kernel_and_block_keys) {
  char *out, *err;
  cr_assert_eq(run("space ops proxylessnas-mobile", &out, &err), 0, "%s", err);
  cr_expect(strstr(out, "conv2d.f32 h=224 w=224 cin=3 cout=32 k=3 s=2 g=1 d=1 act=relu6\n") !=
            NULL);
  cr_expect(strstr(err, "kernel keys") != NULL);
  free(out);
  free(err);
  cr_assert_eq(run("space ops ofa-mbv3-w1.0 --resolution 160 --blocks", &out, &err), 0, "%s", err);
  cr_expect(strstr(out, "mbconv.f32 h=80 w=80 cin=16 cout=16 k=3 s=1 e=1 se=0 act=relu") != NULL,
            "%.300s", out);
  cr_expect(strstr(out, "h=112") == NULL, "only 160 was asked for");
  free(out);
  free(err);
}

Test(cli_space, errors_name_what_is_wrong_with_distinct_exit_codes) {
  char *out, *err;
  cr_expect_eq(run("space show no-such-space", &out, &err), 8);
  cr_expect(strstr(err, "unknown space 'no-such-space'") != NULL, "%s", err);
  free(out);
  free(err);
  cr_expect_eq(run("space decode nasbench201 'op=none,none,none'", &out, &err), 3);
  cr_expect(strstr(err, "family 'op' has 3 values, expected 6") != NULL, "%s", err);
  free(out);
  free(err);
  cr_expect_eq(run("space decode nasbench201 'op=none,none,none,none,none,conv5x5'", &out, &err),
               3);
  cr_expect(strstr(err, "gene op[5]: value 'conv5x5'") != NULL, "%s", err);
  free(out);
  free(err);
  FILE *f;
  char path[512];
  snprintf(path, sizeof path, "%s/bad.json", tmpdir);
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("{\"format\": \"opcost-space/1\",\n \"name\": \"bad\"\n \"input\": {}}\n", f);
  fclose(f);
  cr_expect_eq(run("space show ./bad.json", &out, &err), 4);
  cr_expect(strstr(err, "bad.json: line 3") != NULL, "%s", err);
  free(out);
  free(err);
  cr_expect_eq(run("space frobnicate", &out, &err), 2);
  free(out);
  free(err);
  cr_expect_eq(run("space sample", &out, &err), 2);
  free(out);
  free(err);
}
