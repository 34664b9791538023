/* cmd_op.c - `opcost op`: the op catalog from the command line.
 *   opcost op list            every kind with its key fields
 *   opcost op info KEY...     output shape, MACs, FLOPs, bytes, params */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"

static const char *const help =
    "usage: opcost op list [--json]\n"
    "       opcost op info [--json] KEY...\n"
    "\n"
    "list  every op kind, its key fields in order and what it computes\n"
    "info  for each canonical key (quote it: 'conv2d.f32 h=56 w=56 cin=24 cout=144\n"
    "      k=1 s=1 g=1 d=1 act=relu6'): input and output shapes, MACs, FLOPs,\n"
    "      bytes moved (inputs, weights, outputs), parameters and arithmetic\n"
    "      intensity. A malformed key is reported with the field and value.\n"
    "\n"
    "  --json      machine-readable output\n"
    "  -h, --help  this text\n";

static json_t *shape_json(const struct oc_tensor_shape *s) {
  return json_pack("[i,i,i,i]", s->n, s->h, s->w, s->c);
}

static void print_shape(const char *label, const struct oc_tensor_shape *s) {
  printf("  %-14s [%d, %d, %d, %d]\n", label, s->n, s->h, s->w, s->c);
}

static int op_list(bool json) {
  json_t *list = json ? json_array() : NULL;
  for (int k = 0; k < oc_op_kind__count; k++) {
    enum oc_op_kind kind = (enum oc_op_kind)k;
    if (json) {
      json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:b, s:s}", "kind",
                                            oc_op_kind_name(kind), "fields",
                                            oc_op_kind_fields(kind), "inputs",
                                            oc_op_kind_inputs(kind), "weights",
                                            oc_op_kind_has_weights(kind), "summary",
                                            oc_op_kind_summary(kind)));
    } else {
      printf("%-10s %s\n           fields: %s\n", oc_op_kind_name(kind),
             oc_op_kind_summary(kind), oc_op_kind_fields(kind));
    }
  }
  if (json) return cli_print_json(list);
  return 0;
}

static int op_info(bool json, int argc, char **argv) {
  json_t *list = json ? json_array() : NULL;
  for (int i = 0; i < argc; i++) {
    struct oc_op op;
    struct oc_op_shapes sh;
    struct oc_op_cost cost;
    char key[OC_KEY_MAX];
    enum oc_status st = oc_op_parse(argv[i], &op);
    if (st == oc_status_ok) st = oc_op_shapes(&op, &sh);
    if (st == oc_status_ok) st = oc_op_cost(&op, &cost);
    if (st == oc_status_ok) st = oc_op_format(&op, key, sizeof key);
    if (st != oc_status_ok) {
      json_decref(list);
      return cli_fail("op info", st);
    }
    int64_t bytes = cost.input_bytes + cost.weight_bytes + cost.output_bytes;
    double intensity = bytes > 0 ? (double)cost.flops / (double)bytes : 0.0;
    if (json) {
      json_t *inputs = json_array();
      for (int j = 0; j < sh.n_inputs; j++) json_array_append_new(inputs, shape_json(&sh.input[j]));
      json_array_append_new(
          list, json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                          "key", key, "kind", oc_op_kind_name(op.kind), "dtype",
                          oc_dtype_name(op.dtype), "inputs", inputs, "output",
                          shape_json(&sh.output), "macs", (json_int_t)cost.macs, "flops",
                          (json_int_t)cost.flops, "params", (json_int_t)cost.params,
                          "input_bytes", (json_int_t)cost.input_bytes, "weight_bytes",
                          (json_int_t)cost.weight_bytes, "output_bytes",
                          (json_int_t)cost.output_bytes, "bytes", (json_int_t)bytes,
                          "intensity_flops_per_byte", intensity));
      continue;
    }
    printf("%s\n", key);
    for (int j = 0; j < sh.n_inputs; j++) {
      char label[24];
      snprintf(label, sizeof label, "input %d", j);
      print_shape(label, &sh.input[j]);
    }
    print_shape("output", &sh.output);
    printf("  %-14s %lld\n", "MACs", (long long)cost.macs);
    printf("  %-14s %lld\n", "FLOPs", (long long)cost.flops);
    printf("  %-14s %lld\n", "params", (long long)cost.params);
    printf("  %-14s %lld in, %lld weights, %lld out (%lld total)\n", "bytes",
           (long long)cost.input_bytes, (long long)cost.weight_bytes,
           (long long)cost.output_bytes, (long long)bytes);
    printf("  %-14s %.3f FLOP/byte\n", "intensity", intensity);
  }
  if (json) return cli_print_json(list);
  return 0;
}

int cli_cmd_op(int argc, char **argv) {
  static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  bool json = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
    switch (c) {
    case 'j': json = true; break;
    case 'h': fputs(help, stdout); return 0;
    default: return cli_usage_error("op", "unknown option");
    }
  }
  if (optind >= argc) return cli_usage_error("op", "expected 'list' or 'info KEY...'");
  const char *sub = argv[optind++];
  /* Options may also follow the subcommand. */
  int rest = optind;
  int nkeys = 0;
  char **keys = argv + rest;
  for (int i = rest; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) json = true;
    else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(help, stdout);
      return 0;
    } else if (argv[i][0] == '-' && argv[i][1] == '-')
      return cli_usage_error("op", "unknown option '%s'", argv[i]);
    else keys[nkeys++] = argv[i];
  }
  if (strcmp(sub, "list") == 0) {
    if (nkeys) return cli_usage_error("op", "'op list' takes no arguments");
    return op_list(json);
  }
  if (strcmp(sub, "info") == 0) {
    if (nkeys == 0) return cli_usage_error("op", "'op info' needs at least one KEY");
    return op_info(json, nkeys, keys);
  }
  return cli_usage_error("op", "unknown subcommand '%s' (expected list or info)", sub);
}
