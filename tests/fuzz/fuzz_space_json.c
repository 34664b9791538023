/* fuzz_space_json.c - opcost-space/1 search spaces (oc_space_from_string:
 * genes, stages, substitution into layers). A space that loads states its
 * exact size. */
#include "opcost/space.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_text(data, size);
  struct oc_space *space = NULL;
  if (oc_space_from_string(text, "fuzz", &space) == oc_status_ok) {
    char n[256];
    (void)oc_space_size(space, oc_space_count_canonical, n, sizeof n);
    (void)oc_space_size(space, oc_space_count_vectors, n, sizeof n);
    oc_space_free(space);
  }
  free(text);
  return 0;
}
