/* fuzz_op_key.c - op keys (oc_op_parse). A key that parses is canonical, so
 * formatting the op gives back exactly the input, and its costs compute
 * without overflow or a crash. */
#include "opcost/op.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *key = fuzz_text(data, size);
  struct oc_op op;
  if (oc_op_parse(key, &op) == oc_status_ok) {
    char again[OC_KEY_MAX];
    FUZZ_CHECK(oc_op_format(&op, again, sizeof again) == oc_status_ok, "'%s': %s", key,
               oc_errmsg());
    FUZZ_CHECK(strcmp(again, key) == 0, "'%s' formats as '%s'", key, again);
    struct oc_op_cost cost;
    (void)oc_op_cost(&op, &cost);
  }
  free(key);
  return 0;
}
