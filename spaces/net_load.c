/* net_load.c - reading opcost-net/1 JSON into a struct oc_net: the top-level
 * fields, each layer's kind and arguments (typed, ranged, unknown fields
 * rejected), defaults, and the layer graph (ids, inputs, dangling names,
 * cycles, order). Expansion and analysis follow (net_expand.c, net_cost.c).
 *
 * Every failure names the source, the layer index, the field and the value,
 * so that a user can find the mistake in a file of hundreds of layers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "spaces/net_internal.h"

/* ---- field and kind tables ------------------------------------------------ */

enum ftype { ft_int, ft_num, ft_act, ft_str, ft_bool };

struct field_def {
  const char *name;
  enum ftype type;
  double lo, hi; /* inclusive range of numbers */
};

#define VMAX OC_FIELD_VALUE_MAX
static const struct field_def field_defs[] = {
    {"cout", ft_int, 1, VMAX},     {"k", ft_int, 1, 255},          {"s", ft_int, 1, 255},
    {"g", ft_int, 1, VMAX},        {"d", ft_int, 1, 255},          {"tb", ft_int, 0, 1},
    {"act", ft_act, 0, 0},         {"e", ft_num, NET_E_MIN, NET_E_MAX},        {"mid", ft_int, 1, VMAX},
    {"se", ft_int, 0, 1},          {"se_ratio", ft_num, 0.001, 1}, {"se_ch", ft_int, 1, VMAX},
    {"se_act", ft_act, 0, 0},      {"se_gate", ft_act, 0, 0},      {"heads", ft_int, 1, VMAX},
    {"mlp_ratio", ft_num, 0.01, 64}, {"mlp", ft_int, 1, VMAX},     {"p", ft_int, 1, 255},
    {"dim", ft_int, 1, VMAX},      {"cls", ft_int, 0, 1},          {"pos", ft_int, 0, 1},
    {"head_dim", ft_int, 1, VMAX},
    {"index", ft_int, 0, VMAX},
    {"cell", ft_str, 0, 0},        {"pad", ft_str, 0, 0},          {"ceil", ft_bool, 0, 0},
};
#define N_FIELDS (sizeof field_defs / sizeof field_defs[0])

struct kind_def {
  const char *name;
  enum oc_net_block block;
  enum oc_op_kind op;
  int inputs;           /* activation inputs the layer takes */
  const char *fields;   /* accepted argument fields */
  const char *required; /* fields that must be given */
};

static const struct kind_def kind_defs[] = {
    {"conv2d", oc_net_block_op, oc_op_conv2d, 1, "cout k s g d act pad ceil", "cout k"},
    {"fc", oc_net_block_op, oc_op_fc, 1, "cout act", "cout"},
    {"matmul", oc_net_block_op, oc_op_matmul, 2, "tb", ""},
    {"maxpool2d", oc_net_block_op, oc_op_maxpool2d, 1, "k s pad ceil", "k"},
    {"avgpool2d", oc_net_block_op, oc_op_avgpool2d, 1, "k s pad ceil", "k"},
    {"gap", oc_net_block_op, oc_op_gap, 1, "", ""},
    {"act", oc_net_block_op, oc_op_act, 1, "act", "act"},
    {"add", oc_net_block_op, oc_op_add, 2, "act", ""},
    {"mul", oc_net_block_op, oc_op_mul, 2, "", ""},
    {"layernorm", oc_net_block_op, oc_op_layernorm, 1, "", ""},
    {"softmax", oc_net_block_op, oc_op_softmax, 1, "", ""},
    {"concat", oc_net_block_op, oc_op_concat, 2, "", ""},
    {"mbconv", oc_net_block_mbconv, oc_op_conv2d, 1,
     "cout k s e mid se se_ratio se_ch se_act se_gate act", "cout k"},
    {"fused_mbconv", oc_net_block_fused_mbconv, oc_op_conv2d, 1,
     "cout k s e mid se se_ratio se_ch se_act se_gate act", "cout k"},
    {"se", oc_net_block_se, oc_op_conv2d, 1, "se_ratio se_ch se_act se_gate", ""},
    {"bottleneck", oc_net_block_bottleneck, oc_op_conv2d, 1, "cout mid s act", ""},
    {"basic", oc_net_block_basic, oc_op_conv2d, 1, "cout s act", "cout"},
    {"transformer_layer", oc_net_block_transformer_layer, oc_op_conv2d, 1,
     "heads head_dim mlp_ratio mlp act", "heads"},
    {"patch_embed", oc_net_block_patch_embed, oc_op_conv2d, 1, "p dim cls pos", "p dim"},
    {"nb201_cell", oc_net_block_nb201_cell, oc_op_conv2d, 1, "cell", "cell"},
    {"token_select", oc_net_block_token_select, oc_op_conv2d, 1, "index", ""},
};
#define N_KINDS (sizeof kind_defs / sizeof kind_defs[0])

static const struct kind_def *kind_of_layer(const struct oc_net_layer *layer) {
  for (size_t i = 0; i < N_KINDS; i++) {
    if (kind_defs[i].block == layer->block &&
        (layer->block != oc_net_block_op || kind_defs[i].op == layer->op))
      return &kind_defs[i];
  }
  return NULL;
}

const char *oc__net_layer_kind_name(const struct oc_net_layer *layer) {
  const struct kind_def *k = kind_of_layer(layer);
  return k ? k->name : "?";
}

/* True when word is one of the space-separated names of list. */
static bool in_list(const char *list, const char *word) {
  size_t len = strlen(word);
  const char *p = list;
  while (*p) {
    while (*p == ' ') p++;
    const char *start = p;
    while (*p && *p != ' ') p++;
    if ((size_t)(p - start) == len && len > 0 && memcmp(start, word, len) == 0) return true;
  }
  return false;
}

static const struct field_def *field_def(const char *name) {
  for (size_t i = 0; i < N_FIELDS; i++) {
    if (strcmp(field_defs[i].name, name) == 0) return &field_defs[i];
  }
  return NULL;
}

/* A JSON value as short text for messages. */
static void value_text(const json_t *value, char *buf, size_t size) {
  if (json_is_string(value)) {
    oc__strcpy(buf, size, json_string_value(value));
    if (strlen(json_string_value(value)) >= size && size > 4) strcpy(buf + size - 4, "...");
    return;
  }
  char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
  if (text == NULL) {
    oc__strcpy(buf, size, "?");
    return;
  }
  if (strlen(text) > 48) strcpy(text + 45, "...");
  oc__strcpy(buf, size, text);
  free(text);
}

/* ---- layer parsing ----------------------------------------------------------- */

/* Which argument fields a layer gave (bit i = field_defs[i]). */
struct given {
  uint32_t bits;
};

static bool was_given(const struct given *g, const char *name) {
  for (size_t i = 0; i < N_FIELDS; i++) {
    if (strcmp(field_defs[i].name, name) == 0) return (g->bits >> i) & 1u;
  }
  return false;
}

static enum oc_status store_field(struct oc_net_args *a, const char *name, double num,
                                  int32_t ival, enum oc_act act, const char *str) {
  if (strcmp(name, "cout") == 0) a->cout = ival;
  else if (strcmp(name, "k") == 0) a->k = ival;
  else if (strcmp(name, "s") == 0) a->s = ival;
  else if (strcmp(name, "g") == 0) a->g = ival;
  else if (strcmp(name, "d") == 0) a->d = ival;
  else if (strcmp(name, "tb") == 0) a->tb = ival;
  else if (strcmp(name, "act") == 0) a->act = act;
  else if (strcmp(name, "e") == 0) a->e = num;
  else if (strcmp(name, "mid") == 0) a->mid = ival;
  else if (strcmp(name, "se") == 0) a->se = ival;
  else if (strcmp(name, "se_ratio") == 0) a->se_ratio = num;
  else if (strcmp(name, "se_ch") == 0) a->se_ch = ival;
  else if (strcmp(name, "se_act") == 0) a->se_act = act;
  else if (strcmp(name, "se_gate") == 0) a->se_gate = act;
  else if (strcmp(name, "heads") == 0) a->heads = ival;
  else if (strcmp(name, "head_dim") == 0) a->head_dim = ival;
  else if (strcmp(name, "index") == 0) a->index = ival;
  else if (strcmp(name, "mlp_ratio") == 0) a->mlp_ratio = num;
  else if (strcmp(name, "mlp") == 0) a->mlp = ival;
  else if (strcmp(name, "p") == 0) a->p = ival;
  else if (strcmp(name, "dim") == 0) a->dim = ival;
  else if (strcmp(name, "cls") == 0) a->cls = ival;
  else if (strcmp(name, "pos") == 0) a->pos = ival;
  else if (strcmp(name, "cell") == 0) {
    if (strlen(str) >= sizeof a->cell)
      return oc__fail(oc_status_invalid_argument, "field 'cell': value '%.40s...' is longer than %zu characters",
                      str, sizeof a->cell - 1);
    oc__strcpy(a->cell, sizeof a->cell, str);
  }
  return oc_status_ok;
}

/* Parses one argument field of a layer (everything but op, id, inputs). */
/* The value as text, made only on the error paths. */
#define VALUE_TEXT() (value_text(value, text, sizeof text), text)

static enum oc_status parse_field(const struct kind_def *kd, const char *name,
                                  const json_t *value, struct oc_net_args *args,
                                  struct given *given) {
  char text[64];
  const struct field_def *fd = field_def(name);
  if (fd == NULL || !in_list(kd->fields, name))
    return oc__fail(oc_status_parse_error, "unknown field '%s' (%s takes: op id inputs%s%s)",
                    name, kd->name, kd->fields[0] ? " " : "", kd->fields);
  double num = 0;
  int32_t ival = 0;
  enum oc_act act = oc_act_none;
  const char *str = "";
  switch (fd->type) {
  case ft_int: {
    if (!json_is_integer(value))
      return oc__fail(oc_status_parse_error, "field '%s': value '%s' is not an integer", name,
                      VALUE_TEXT());
    json_int_t v = json_integer_value(value);
    if ((double)v < fd->lo)
      return oc__fail(oc_status_invalid_argument, "field '%s': value '%s' must be >= %.0f",
                      name, VALUE_TEXT(), fd->lo);
    if ((double)v > fd->hi)
      return oc__fail(oc_status_invalid_argument, "field '%s': value '%s' must be <= %.0f",
                      name, VALUE_TEXT(), fd->hi);
    ival = (int32_t)v;
    num = (double)v;
    break;
  }
  case ft_num:
    if (!json_is_number(value))
      return oc__fail(oc_status_parse_error, "field '%s': value '%s' is not a number", name,
                      VALUE_TEXT());
    num = json_number_value(value);
    if (!(num >= fd->lo) || !(num <= fd->hi))
      return oc__fail(oc_status_invalid_argument, "field '%s': value '%s' must be in [%g, %g]",
                      name, VALUE_TEXT(), fd->lo, fd->hi);
    break;
  case ft_act:
    if (!json_is_string(value))
      return oc__fail(oc_status_parse_error, "field '%s': value '%s' is not a string", name,
                      VALUE_TEXT());
    if (oc_act_from_name(json_string_value(value), &act) != oc_status_ok)
      return oc__fail(oc_status_invalid_argument, "field '%s': value '%s' is not an activation (none relu relu6 hswish "
                      "hsigmoid sigmoid swish gelu tanh)",
                      name, json_string_value(value));
    break;
  case ft_str:
    if (strcmp(name, "pad") == 0 && (!json_is_string(value) || strcmp(json_string_value(value), "same") != 0))
      return oc__fail(oc_status_unsupported,
                      "field 'pad': value '%s' is not supported: opcost-net/1 supports only "
                      "\"same\" padding (and floor rounding, \"ceil\": false)",
                      VALUE_TEXT());
    if (!json_is_string(value))
      return oc__fail(oc_status_parse_error, "field '%s': value '%s' is not a string", name,
                      VALUE_TEXT());
    str = json_string_value(value);
    break;
  case ft_bool:
    if (!json_is_boolean(value))
      return oc__fail(oc_status_parse_error, "field '%s': value '%s' is not true or false",
                      name, VALUE_TEXT());
    if (json_is_true(value))
      return oc__fail(oc_status_unsupported,
                      "field 'ceil': value 'true' is not supported: opcost-net/1 supports only "
                      "\"same\" padding and floor rounding (\"ceil\": false)");
    break;
  }
  given->bits |= 1u << (fd - field_defs);
  return store_field(args, name, num, ival, act, str);
}

#undef VALUE_TEXT

static enum oc_status parse_id(const json_t *value, char *id) {
  char text[64];
  value_text(value, text, sizeof text);
  if (!json_is_string(value))
    return oc__fail(oc_status_parse_error, "field 'id': value '%s' is not a string", text);
  const char *s = json_string_value(value);
  size_t len = strlen(s);
  if (len == 0) return oc__fail(oc_status_invalid_argument, "field 'id': value '' is empty");
  if (len >= OC_NET_ID_MAX)
    return oc__fail(oc_status_invalid_argument, "field 'id': value '%s' is longer than %d characters",
                    text, OC_NET_ID_MAX - 1);
  if (strcmp(s, NET_INPUT_NAME) == 0)
    return oc__fail(oc_status_invalid_argument,
                    "field 'id': value 'input' is reserved for the network input");
  for (size_t i = 0; i < len; i++) {
    if ((unsigned char)s[i] <= ' ' || s[i] == '"')
      return oc__fail(oc_status_invalid_argument,
                      "field 'id': value %s contains a space, quote or control character", text);
  }
  memcpy(id, s, len + 1);
  return oc_status_ok;
}

/* Defaults and cross-field rules of a layer (given tells what the JSON set). */
static enum oc_status apply_defaults(const struct kind_def *kd, struct oc_net_layer *layer,
                                     const struct given *g) {
  struct oc_net_args *a = &layer->args;
  /* Required fields. */
  const char *p = kd->required;
  while (*p) {
    char name[16];
    while (*p == ' ') p++;
    size_t n = strcspn(p, " ");
    if (n == 0) break;
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, p, n);
    name[n] = '\0';
    p += n;
    if (!was_given(g, name))
      return oc__fail(oc_status_invalid_argument, "field '%s' is missing (%s needs: %s)", name,
                      kd->name, kd->required);
  }
  if (!was_given(g, "s") && in_list(kd->fields, "s")) a->s = 1;
  if (!was_given(g, "g") && in_list(kd->fields, "g")) a->g = 1;
  if (!was_given(g, "d") && in_list(kd->fields, "d")) a->d = 1;
  if (in_list(kd->fields, "se_ratio")) {
    if (!was_given(g, "se_ratio")) a->se_ratio = NET_SE_RATIO;
    if (!was_given(g, "se_act")) a->se_act = oc_act_relu;
    if (!was_given(g, "se_gate")) a->se_gate = oc_act_sigmoid;
  }
  switch (layer->block) {
  case oc_net_block_op:
    if (layer->op == oc_op_act && a->act == oc_act_none)
      return oc__fail(oc_status_invalid_argument,
                      "field 'act': value 'none' is not an activation op (use relu, gelu, ...)");
    break;
  case oc_net_block_mbconv:
  case oc_net_block_fused_mbconv:
    if (!was_given(g, "e") && !was_given(g, "mid"))
      return oc__fail(oc_status_invalid_argument,
                      "field 'e' is missing (%s needs 'e', the expand ratio, or 'mid')",
                      kd->name);
    if (!was_given(g, "act")) a->act = oc_act_relu6;
    if (!a->se && (was_given(g, "se_ratio") || was_given(g, "se_ch") ||
                   was_given(g, "se_act") || was_given(g, "se_gate")))
      return oc__fail(oc_status_invalid_argument,
                      "field 'se': value '0' but squeeze-excite fields are given; set \"se\": 1");
    break;
  case oc_net_block_bottleneck:
    if (!was_given(g, "cout") && !was_given(g, "mid"))
      return oc__fail(oc_status_invalid_argument,
                      "field 'cout' is missing (bottleneck needs 'cout' or 'mid')");
    if (!was_given(g, "mid")) {
      if (a->cout % 4 != 0)
        return oc__fail(oc_status_invalid_argument,
                        "field 'cout': value '%d' is not a multiple of 4 (the expansion); give "
                        "'mid' too",
                        (int)a->cout);
      a->mid = a->cout / 4;
    }
    if (!was_given(g, "cout")) a->cout = a->mid * 4;
    if (!was_given(g, "act")) a->act = oc_act_relu;
    break;
  case oc_net_block_basic:
    if (!was_given(g, "act")) a->act = oc_act_relu;
    break;
  case oc_net_block_transformer_layer:
    if (!was_given(g, "act")) a->act = oc_act_gelu;
    if (!was_given(g, "mlp_ratio") && !was_given(g, "mlp")) a->mlp_ratio = NET_MLP_RATIO;
    break;
  case oc_net_block_se:
  case oc_net_block_patch_embed:
  case oc_net_block_nb201_cell:
  case oc_net_block_token_select:
  case oc_net_block__count: break;
  }
  return oc_status_ok;
}

/* Parses layers[index] into layer; *inputs gets its "inputs" array (borrowed)
 * or NULL. */
static enum oc_status parse_layer(const json_t *obj, struct oc_net_layer *layer,
                                  const json_t **inputs) {
  char text[64];
  *inputs = NULL;
  if (!json_is_object(obj)) {
    value_text(obj, text, sizeof text);
    return oc__fail(oc_status_parse_error, "value '%s' is not an object", text);
  }
  const json_t *op = json_object_get(obj, "op");
  if (op == NULL) return oc__fail(oc_status_parse_error, "field 'op' is missing");
  if (!json_is_string(op)) {
    value_text(op, text, sizeof text);
    return oc__fail(oc_status_parse_error, "field 'op': value '%s' is not a string", text);
  }
  const struct kind_def *kd = NULL;
  for (size_t i = 0; i < N_KINDS; i++) {
    if (strcmp(kind_defs[i].name, json_string_value(op)) == 0) kd = &kind_defs[i];
  }
  if (kd == NULL) {
    char known[512] = "";
    for (size_t i = 0; i < N_KINDS; i++) {
      size_t used = strlen(known);
      oc__strfmt(known + used, sizeof known - used, "%s%s", i ? " " : "", kind_defs[i].name);
    }
    return oc__fail(oc_status_parse_error, "field 'op': value '%s' is not a known op (%s)",
                    json_string_value(op), known);
  }
  memset(layer, 0, sizeof *layer);
  layer->block = kd->block;
  layer->op = kd->op;
  layer->args.act = oc_act_none;
  struct given given = {0};
  const char *name;
  json_t *value;
  enum oc_status st;
  json_object_foreach((json_t *)obj, name, value) {
    if (strcmp(name, "op") == 0) continue;
    if (strcmp(name, "id") == 0) {
      st = parse_id(value, layer->id);
    } else if (strcmp(name, "inputs") == 0) {
      value_text(value, text, sizeof text);
      if (!json_is_array(value))
        return oc__fail(oc_status_parse_error,
                        "field 'inputs': value '%s' is not an array of layer ids", text);
      if (json_array_size(value) != (size_t)kd->inputs)
        return oc__fail(oc_status_invalid_argument,
                        "field 'inputs': value '%s' names %zu input%s; %s takes %d", text,
                        json_array_size(value), json_array_size(value) == 1 ? "" : "s",
                        kd->name, kd->inputs);
      for (size_t i = 0; i < json_array_size(value); i++) {
        if (!json_is_string(json_array_get(value, i)))
          return oc__fail(oc_status_parse_error,
                          "field 'inputs': value '%s' is not an array of layer ids (strings)",
                          text);
      }
      *inputs = value;
      st = oc_status_ok;
    } else {
      st = parse_field(kd, name, value, &layer->args, &given);
    }
    if (st != oc_status_ok) return st;
  }
  if (*inputs == NULL && kd->inputs > 1)
    return oc__fail(oc_status_invalid_argument,
                    "field 'inputs' is missing (%s joins %d tensors: name them, e.g. "
                    "\"inputs\": [\"a\", \"b\"]; \"input\" is the network input)",
                    kd->name, kd->inputs);
  layer->n_inputs = kd->inputs;
  layer->named_inputs = *inputs != NULL;
  return apply_defaults(kd, layer, &given);
}

/* ---- the layer graph ----------------------------------------------------------- */

/* Open-addressing table from layer id to index, so that resolving inputs
 * stays linear in the number of layers. */
struct id_table {
  int32_t *slots; /* layer index + 1; 0 = empty */
  size_t mask;
};

static enum oc_status id_table_build(const struct oc_net *net, const char *source,
                                     struct id_table *t) {
  size_t cap = 16;
  while (cap < (size_t)net->n_layers * 2) cap *= 2;
  t->slots = calloc(cap, sizeof *t->slots);
  t->mask = cap - 1;
  if (t->slots == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", source);
  for (int32_t i = 0; i < net->n_layers; i++) {
    const char *id = net->layers[i].id;
    if (id[0] == '\0') continue;
    size_t h = (size_t)oc__hash64_str(OC__HASH_SEED, id) & t->mask;
    while (t->slots[h] != 0) {
      const struct oc_net_layer *other = &net->layers[t->slots[h] - 1];
      if (strcmp(other->id, id) == 0)
        return oc__fail(oc_status_invalid_argument,
                        "%s: layers[%d] (%s): field 'id': value '%s' is already the id of "
                        "layers[%d]",
                        source, (int)i, oc__net_layer_kind_name(&net->layers[i]), id,
                        (int)(t->slots[h] - 1));
      h = (h + 1) & t->mask;
    }
    t->slots[h] = i + 1;
  }
  return oc_status_ok;
}

static int32_t id_table_find(const struct oc_net *net, const struct id_table *t,
                             const char *id) {
  size_t h = (size_t)oc__hash64_str(OC__HASH_SEED, id) & t->mask;
  while (t->slots[h] != 0) {
    if (strcmp(net->layers[t->slots[h] - 1].id, id) == 0) return t->slots[h] - 1;
    h = (h + 1) & t->mask;
  }
  return -2;
}

static const char *layer_label(const struct oc_net *net, int32_t index, char *buf,
                               size_t size) {
  if (index < 0) return NET_INPUT_NAME;
  if (net->layers[index].id[0]) return net->layers[index].id;
  oc__strfmt(buf, size, "layers[%d]", (int)index);
  return buf;
}

/* Finds a cycle through the input edges with an iterative depth-first
 * search (no recursion: a network may have many layers). Writes the cycle
 * into msg and returns the layer whose input closes it, or -1. */
static int32_t find_cycle(const struct oc_net *net, char *msg, size_t size) {
  int32_t n = net->n_layers;
  int32_t found = -1;
  unsigned char *color = calloc((size_t)n, 1); /* 0 new, 1 on stack, 2 done */
  int32_t *stack = malloc((size_t)n * sizeof *stack);
  int32_t *edge = malloc((size_t)n * sizeof *edge);
  if (color == NULL || stack == NULL || edge == NULL) goto done;
  for (int32_t root = 0; root < n && found < 0; root++) {
    if (color[root]) continue;
    int32_t depth = 0;
    stack[0] = root;
    edge[0] = 0;
    color[root] = 1;
    while (depth >= 0 && found < 0) {
      int32_t v = stack[depth];
      const struct oc_net_layer *l = &net->layers[v];
      if (edge[depth] >= l->n_inputs) {
        color[v] = 2;
        depth--;
        continue;
      }
      int32_t u = l->inputs[edge[depth]++];
      if (u < 0 || color[u] == 2) continue;
      if (color[u] == 1) {
        /* stack[k..depth] with stack[k] == u is the cycle. */
        int32_t k = depth;
        while (k > 0 && stack[k] != u) k--;
        size_t used = 0;
        char label[32];
        for (int32_t i = k; i <= depth && used + 1 < size; i++) {
          oc__strfmt(msg + used, size - used, "%s <- ",
                     layer_label(net, stack[i], label, sizeof label));
          used = strlen(msg);
        }
        oc__strfmt(msg + used, size - used, "%s", layer_label(net, u, label, sizeof label));
        found = v;
        break;
      }
      color[u] = 1;
      depth++;
      stack[depth] = u;
      edge[depth] = 0;
    }
  }
done:
  free(color);
  free(stack);
  free(edge);
  return found;
}

/* Resolves names to layer indices; rejects dangling names, cycles and
 * layers that read a layer listed after them. */
static enum oc_status resolve_inputs(struct oc_net *net, const char *source,
                                     const json_t *const *inputs) {
  struct id_table table = {NULL, 0};
  enum oc_status st = id_table_build(net, source, &table);
  bool forward = false;
  if (st != oc_status_ok) goto done;
  for (int32_t i = 0; i < net->n_layers; i++) {
    struct oc_net_layer *l = &net->layers[i];
    if (inputs[i] == NULL) {
      l->inputs[0] = i - 1;
      continue;
    }
    for (int32_t j = 0; j < l->n_inputs; j++) {
      const char *name = json_string_value(json_array_get(inputs[i], (size_t)j));
      int32_t ref = strcmp(name, NET_INPUT_NAME) == 0 ? -1 : id_table_find(net, &table, name);
      if (ref == -2) {
        st = oc__fail(oc_status_invalid_argument,
                      "%s: layers[%d] (%s): field 'inputs': value '%s' names no layer (ids are "
                      "given with \"id\"; \"input\" is the network input)",
                      source, (int)i, oc__net_layer_kind_name(l), name);
        goto done;
      }
      if (ref >= i) forward = true;
      l->inputs[j] = ref;
    }
  }
  if (forward) {
    char cycle[512] = "";
    int32_t at = find_cycle(net, cycle, sizeof cycle);
    if (at >= 0) {
      st = oc__fail(oc_status_invalid_argument,
                    "%s: layers[%d] (%s): field 'inputs': the layer graph has a cycle: %s",
                    source, (int)at, oc__net_layer_kind_name(&net->layers[at]), cycle);
      goto done;
    }
    for (int32_t i = 0; i < net->n_layers; i++) {
      for (int32_t j = 0; j < net->layers[i].n_inputs; j++) {
        int32_t ref = net->layers[i].inputs[j];
        if (ref < i) continue;
        st = oc__fail(oc_status_invalid_argument,
                      "%s: layers[%d] (%s): field 'inputs': value '%s' is layers[%d], listed "
                      "later; list layers in the order they run",
                      source, (int)i, oc__net_layer_kind_name(&net->layers[i]),
                      net->layers[ref].id, (int)ref);
        goto done;
      }
    }
  }
done:
  free(table.slots);
  return st;
}

/* ---- top level -------------------------------------------------------------------- */

static enum oc_status parse_input(const json_t *obj, const char *source,
                                  struct oc_tensor_shape *shape) {
  char text[64];
  if (!json_is_object(obj)) {
    value_text(obj, text, sizeof text);
    return oc__fail(oc_status_parse_error,
                    "%s: field 'input': value '%s' is not an object {\"h\":..,\"w\":..,\"c\":..}",
                    source, text);
  }
  const char *name;
  json_t *value;
  json_object_foreach((json_t *)obj, name, value) {
    if (strcmp(name, "h") != 0 && strcmp(name, "w") != 0 && strcmp(name, "c") != 0)
      return oc__fail(oc_status_parse_error, "%s: field 'input.%s' is unknown (input takes h w c)",
                      source, name);
  }
  const char *dims[3] = {"h", "w", "c"};
  int32_t v[3];
  for (int i = 0; i < 3; i++) {
    const json_t *d = json_object_get(obj, dims[i]);
    if (d == NULL)
      return oc__fail(oc_status_parse_error, "%s: field 'input.%s' is missing", source, dims[i]);
    value_text(d, text, sizeof text);
    if (!json_is_integer(d))
      return oc__fail(oc_status_parse_error, "%s: field 'input.%s': value '%s' is not an integer",
                      source, dims[i], text);
    json_int_t x = json_integer_value(d);
    if (x < 1 || x > OC_FIELD_VALUE_MAX)
      return oc__fail(oc_status_invalid_argument,
                      "%s: field 'input.%s': value '%s' must be in [1, %d]", source, dims[i],
                      text, OC_FIELD_VALUE_MAX);
    v[i] = (int32_t)x;
  }
  shape->n = 1;
  shape->h = v[0];
  shape->w = v[1];
  shape->c = v[2];
  return oc_status_ok;
}

static enum oc_status parse_root(const json_t *root, const char *source, struct oc_net *net,
                                 const json_t ***inputs_out) {
  char text[64];
  if (!json_is_object(root))
    return oc__fail(oc_status_parse_error, "%s: the network is not a JSON object", source);
  const char *name;
  json_t *value;
  json_object_foreach((json_t *)root, name, value) {
    if (strcmp(name, "format") && strcmp(name, "name") && strcmp(name, "description") &&
        strcmp(name, "input") && strcmp(name, "dtype") && strcmp(name, "layers"))
      return oc__fail(oc_status_parse_error,
                      "%s: unknown field '%s' (a network has format name description input "
                      "dtype layers)",
                      source, name);
  }
  const json_t *format = json_object_get(root, "format");
  if (format == NULL)
    return oc__fail(oc_status_parse_error, "%s: field 'format' is missing (expected \"%s\")",
                    source, OC_NET_FORMAT);
  if (!json_is_string(format) || strcmp(json_string_value(format), OC_NET_FORMAT) != 0) {
    value_text(format, text, sizeof text);
    return oc__fail(oc_status_incompatible, "%s: field 'format': value '%s' is not \"%s\"",
                    source, text, OC_NET_FORMAT);
  }
  const json_t *jname = json_object_get(root, "name");
  if (jname != NULL) {
    value_text(jname, text, sizeof text);
    if (!json_is_string(jname))
      return oc__fail(oc_status_parse_error, "%s: field 'name': value '%s' is not a string",
                      source, text);
    if (strlen(json_string_value(jname)) >= OC_NET_NAME_MAX)
      return oc__fail(oc_status_invalid_argument,
                      "%s: field 'name': value '%s' is longer than %d characters", source, text,
                      OC_NET_NAME_MAX - 1);
    oc__strcpy(net->name, sizeof net->name, json_string_value(jname));
  }
  const json_t *desc = json_object_get(root, "description");
  if (desc != NULL && !json_is_string(desc))
    return oc__fail(oc_status_parse_error, "%s: field 'description' is not a string", source);
  const json_t *dtype = json_object_get(root, "dtype");
  net->dtype = oc_dtype_f32;
  if (dtype != NULL) {
    value_text(dtype, text, sizeof text);
    if (!json_is_string(dtype) ||
        oc_dtype_from_name(json_string_value(dtype), &net->dtype) != oc_status_ok)
      return oc__fail(oc_status_invalid_argument,
                      "%s: field 'dtype': value '%s' is not a dtype (f32 f16 qs8)", source, text);
  }
  const json_t *input = json_object_get(root, "input");
  if (input == NULL) return oc__fail(oc_status_parse_error, "%s: field 'input' is missing", source);
  enum oc_status st = parse_input(input, source, &net->input);
  if (st != oc_status_ok) return st;
  const json_t *layers = json_object_get(root, "layers");
  if (layers == NULL)
    return oc__fail(oc_status_parse_error, "%s: field 'layers' is missing", source);
  if (!json_is_array(layers))
    return oc__fail(oc_status_parse_error, "%s: field 'layers' is not an array", source);
  size_t n = json_array_size(layers);
  if (n == 0) return oc__fail(oc_status_invalid_argument, "%s: field 'layers' is empty", source);
  if (n > OC_NET_MAX_LAYERS)
    return oc__fail(oc_status_invalid_argument, "%s: field 'layers': %zu layers, more than %d",
                    source, n, OC_NET_MAX_LAYERS);
  net->layers = calloc(n, sizeof *net->layers);
  const json_t **inputs = calloc(n, sizeof *inputs);
  *inputs_out = inputs;
  if (net->layers == NULL || inputs == NULL)
    return oc__fail(oc_status_out_of_memory, "%s: out of memory for %zu layers", source, n);
  net->n_layers = (int32_t)n;
  for (size_t i = 0; i < n; i++) {
    const json_t *obj = json_array_get(layers, i);
    st = parse_layer(obj, &net->layers[i], &inputs[i]);
    if (st != oc_status_ok) {
      const json_t *op = json_is_object(obj) ? json_object_get(obj, "op") : NULL;
      return oc__fail_prefix(st, "%s: layers[%zu] (%s): ", source, i,
                             json_is_string(op) ? json_string_value(op) : "?");
    }
  }
  return resolve_inputs(net, source, inputs);
}

enum oc_status oc_net_load_json(const json_t *root, const char *source, struct oc_net **out) {
  const json_t **inputs = NULL;
  if (source == NULL) source = "net";
  *out = NULL;
  struct oc_net *net = calloc(1, sizeof *net);
  enum oc_status st;
  if (net == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", source);
  net->input_tensor = net->output_tensor = -1;
  st = parse_root(root, source, net, &inputs);
  if (st == oc_status_ok && net->name[0] == '\0') {
    /* The file name without folders and extension names an unnamed net. */
    const char *base = strrchr(source, '/');
    base = base ? base + 1 : source;
    oc__strcpy(net->name, sizeof net->name, base);
    char *dot = strrchr(net->name, '.');
    if (dot && dot != net->name) *dot = '\0';
  }
  if (st == oc_status_ok) st = oc__net_expand(net, source);
  if (st == oc_status_ok) st = oc__net_analyze(net);
  free(inputs);
  if (st != oc_status_ok) {
    oc_net_free(net);
    return st;
  }
  *out = net;
  return oc_status_ok;
}

static enum oc_status syntax_error(const char *source, const json_error_t *err) {
  return oc__fail(oc_status_parse_error, "%s: line %d, column %d: %s", source, err->line,
                  err->column, err->text);
}

enum oc_status oc_net_from_string(const char *text, const char *source, struct oc_net **net) {
  json_error_t err;
  if (source == NULL) source = "net";
  *net = NULL;
  if (text == NULL) return oc__fail(oc_status_invalid_argument, "%s: no text", source);
  json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
  if (root == NULL) return syntax_error(source, &err);
  enum oc_status st = oc_net_load_json(root, source, net);
  json_decref(root);
  return st;
}

enum oc_status oc_net_load_file(const char *path, struct oc_net **net) {
  json_error_t err;
  *net = NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return oc__fail(oc_status_io_error, "%s: cannot open: %s", path, strerror(errno));
  json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
  fclose(f);
  if (root == NULL) return syntax_error(path, &err);
  enum oc_status st = oc_net_load_json(root, path, net);
  json_decref(root);
  return st;
}

void oc_net_free(struct oc_net *net) {
  if (net == NULL) return;
  free(net->layers);
  free(net->kernels);
  free(net->tensors);
  free(net);
}
