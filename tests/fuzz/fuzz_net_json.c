/* fuzz_net_json.c - opcost-net/1 networks (oc_net_from_string: JSON syntax,
 * fields, shapes, joins, block expansion, costs). A network that loads
 * writes back (oc_net_to_json) as a network that loads again with the same
 * hash and the same number of kernels. */
#include <jansson.h>

#include "opcost/net.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_text(data, size);
  struct oc_net *net = NULL;
  if (oc_net_from_string(text, "fuzz", &net) == oc_status_ok) {
    json_t *root = NULL;
    FUZZ_CHECK(oc_net_to_json(net, &root) == oc_status_ok, "%s", oc_errmsg());
    char *again = json_dumps(root, JSON_COMPACT);
    FUZZ_CHECK(again != NULL, "json_dumps");
    struct oc_net *back = NULL;
    FUZZ_CHECK(oc_net_from_string(again, "fuzz-again", &back) == oc_status_ok,
               "%s does not load again: %s", again, oc_errmsg());
    FUZZ_CHECK(back->hash == net->hash && back->n_kernels == net->n_kernels,
               "%s: hash %s, again %s", again, net->hash_hex, back->hash_hex);
    oc_net_free(back);
    free(again);
    json_decref(root);
    oc_net_free(net);
  }
  free(text);
  return 0;
}
