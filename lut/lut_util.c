/* lut_util.c - small pieces the LUT files share: the key grammar check, the
 * string hash of the cache, a string set, exact double formatting and the
 * fingerprint of imported devices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lut/lut_internal.h"

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_name_char(char c) { return is_lower(c) || is_digit(c) || c == '_'; }
/* Values are printable ASCII without spaces and '=' (an NB201 cell holds
 * '|', '~' and '+'). */
static bool is_value_char(char c) { return c > ' ' && c < 127 && c != '='; }

enum oc_status oc__lut_check_key(const char *key, char kind[32], char dtype[8]) {
  size_t len = strlen(key);
  if (len == 0) return oc__fail(oc_status_invalid_argument, "empty key");
  if (len >= OC_LUT_KEY_MAX)
    return oc__fail(oc_status_invalid_argument, "key '%.60s...': longer than %d bytes", key,
                    OC_LUT_KEY_MAX - 1);
  const char *p = key;
  size_t n = 0;
  if (!is_lower(*p))
    return oc__fail(oc_status_invalid_argument,
                    "key '%s': expected KIND.DTYPE first (a lower-case name)", key);
  while (is_name_char(p[n])) n++;
  if (p[n] != '.' || n >= 32)
    return oc__fail(oc_status_invalid_argument,
                    "key '%s': expected KIND.DTYPE first (KIND: lower-case letters, digits, _)",
                    key);
  memcpy(kind, p, n);
  kind[n] = '\0';
  p += n + 1;
  n = 0;
  while (is_name_char(p[n])) n++;
  if (n == 0 || n >= 8)
    return oc__fail(oc_status_invalid_argument, "key '%s': missing dtype after '%s.'", key, kind);
  memcpy(dtype, p, n);
  dtype[n] = '\0';
  enum oc_dtype dt;
  if (oc_dtype_from_name(dtype, &dt) != oc_status_ok)
    return oc__fail(oc_status_invalid_argument, "key '%s': unknown dtype '%s'", key, dtype);
  p += n;
  while (*p) {
    const char *field = p;
    if (*p != ' ' || !is_lower(p[1]))
      return oc__fail(oc_status_invalid_argument,
                      "key '%s': at offset %td: expected ' name=value'", key, field - key);
    p++;
    while (is_name_char(*p)) p++;
    if (*p != '=')
      return oc__fail(oc_status_invalid_argument,
                      "key '%s': at offset %td: expected '=' after the field name", key,
                      p - key);
    p++;
    if (!is_value_char(*p))
      return oc__fail(oc_status_invalid_argument, "key '%s': at offset %td: empty value", key,
                      p - key);
    while (is_value_char(*p)) p++;
  }
  enum oc_op_kind op_kind;
  if (oc_op_kind_from_name(kind, &op_kind) == oc_status_ok) {
    struct oc_op op;
    char canon[OC_KEY_MAX];
    enum oc_status st = oc_op_parse(key, &op);
    if (st == oc_status_ok) st = oc_op_format(&op, canon, sizeof canon);
    if (st != oc_status_ok) return st;
    if (strcmp(canon, key) != 0)
      return oc__fail(oc_status_invalid_argument, "key '%s': not canonical; expected '%s'", key,
                      canon);
  }
  return oc_status_ok;
}

/* Eight bytes a step: xor, one multiply (carries low bits up) and a shift
 * (brings high bits down); one dependent multiply per step keeps it at a few
 * cycles per 8 bytes. A full avalanche at the end spreads the last bytes. */
uint64_t oc__lut_hash(const char *text, size_t len) {
  const uint64_t k = UINT64_C(0x9e3779b97f4a7c15);
  uint64_t h = UINT64_C(0x243f6a8885a308d3) ^ (len * k);
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, text, 8);
    h = (h ^ v) * k;
    h ^= h >> 29;
    text += 8;
    len -= 8;
  }
  uint64_t tail = 0;
  memcpy(&tail, text, len);
  h = (h ^ tail) * k;
  h ^= h >> 32;
  h *= UINT64_C(0xd6e8feb86659fd93);
  h ^= h >> 32;
  return h;
}

static enum oc_status strset_grow(struct oc__lut_strset *set) {
  size_t cap = set->cap ? set->cap * 2 : 64;
  char **slots = calloc(cap, sizeof *slots);
  if (slots == NULL) return oc__fail(oc_status_out_of_memory, "key set: out of memory");
  for (size_t i = 0; i < set->cap; i++) {
    if (set->slots[i] == NULL) continue;
    size_t j = (size_t)oc__lut_hash(set->slots[i], strlen(set->slots[i])) & (cap - 1);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = set->slots[i];
  }
  free(set->slots);
  set->slots = slots;
  set->cap = cap;
  return oc_status_ok;
}

enum oc_status oc__lut_strset_add(struct oc__lut_strset *set, const char *text, bool *added) {
  /* Load factor at most 1/2 keeps probe runs short. */
  if ((set->count + 1) * 2 > set->cap) {
    enum oc_status st = strset_grow(set);
    if (st != oc_status_ok) return st;
  }
  size_t len = strlen(text);
  size_t j = (size_t)oc__lut_hash(text, len) & (set->cap - 1);
  while (set->slots[j]) {
    if (strcmp(set->slots[j], text) == 0) {
      *added = false;
      return oc_status_ok;
    }
    j = (j + 1) & (set->cap - 1);
  }
  set->slots[j] = strdup(text);
  if (set->slots[j] == NULL) return oc__fail(oc_status_out_of_memory, "key set: out of memory");
  set->count++;
  *added = true;
  return oc_status_ok;
}

void oc__lut_strset_clear(struct oc__lut_strset *set) {
  if (set == NULL) return;
  for (size_t i = 0; i < set->cap; i++) free(set->slots[i]);
  free(set->slots);
  memset(set, 0, sizeof *set);
}

void oc__lut_format_double(double value, char *buf, size_t size) {
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(buf, size, "%.*g", digits, value);
    if (strtod(buf, NULL) == value) return;
  }
}

void oc__lut_imported_fingerprint(const char *name, char out[17]) {
  uint64_t h = oc__hash64_str(oc__hash64_str(OC__HASH_SEED, "imported:"), name);
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

void oc__lut_row_costs_from_layer(struct oc_lut_row *row, const struct oc_net *net,
                                  const struct oc_net_layer *layer) {
  int64_t esize = (int64_t)oc_dtype_size(net->dtype);
  int64_t act = oc_tensor_elems(&layer->output) * esize;
  for (int32_t i = 0; i < layer->n_inputs && i < OC_NET_MAX_INPUTS; i++)
    act += oc_tensor_elems(&layer->input[i]) * esize;
  row->flops = layer->cost.flops;
  row->macs = layer->cost.macs;
  row->params = layer->cost.params;
  row->weight_bytes = layer->cost.weight_bytes;
  row->activation_bytes = act;
  row->bytes = row->weight_bytes + act;
  row->peak_bytes = layer->cost.weight_bytes + layer->cost.peak_activation_bytes;
}
