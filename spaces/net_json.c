/* net_json.c - writing a network back as opcost-net/1 JSON with every
 * argument explicit (defaults applied), so that a loaded, generated or
 * searched network can be saved and loaded again to the same hash. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "spaces/net_internal.h"

static int set_int(json_t *obj, const char *name, int32_t v) {
  return json_object_set_new(obj, name, json_integer(v));
}

static int set_str(json_t *obj, const char *name, const char *v) {
  return json_object_set_new(obj, name, json_string(v));
}

static int set_num(json_t *obj, const char *name, double v) {
  if (v == floor(v) && fabs(v) < 1e9) return set_int(obj, name, (int32_t)v);
  return json_object_set_new(obj, name, json_real(v));
}

static int layer_args(json_t *o, const struct oc_net_layer *l) {
  const struct oc_net_args *a = &l->args;
  int rc = 0;
  switch (l->block) {
  case oc_net_block_op:
    switch (l->op) {
    case oc_op_conv2d:
      rc |= set_int(o, "cout", a->cout) | set_int(o, "k", a->k) | set_int(o, "s", a->s) |
            set_int(o, "g", a->g) | set_int(o, "d", a->d) | set_str(o, "act", oc_act_name(a->act));
      break;
    case oc_op_fc: rc |= set_int(o, "cout", a->cout) | set_str(o, "act", oc_act_name(a->act)); break;
    case oc_op_matmul: rc |= set_int(o, "tb", a->tb); break;
    case oc_op_maxpool2d:
    case oc_op_avgpool2d: rc |= set_int(o, "k", a->k) | set_int(o, "s", a->s); break;
    case oc_op_act:
    case oc_op_add: rc |= set_str(o, "act", oc_act_name(a->act)); break;
    case oc_op_gap:
    case oc_op_mul:
    case oc_op_layernorm:
    case oc_op_softmax:
    case oc_op_concat:
    case oc_op_kind__count: break;
    }
    break;
  case oc_net_block_mbconv:
  case oc_net_block_fused_mbconv:
    rc |= set_int(o, "cout", a->cout) | set_int(o, "k", a->k) | set_int(o, "s", a->s);
    /* mid decides; e (mid / cin) is written for the reader where the
     * format accepts it (a 240-wide block on 3 channels is e = 80). */
    if (a->e >= NET_E_MIN && a->e <= NET_E_MAX) rc |= set_num(o, "e", a->e);
    rc |= set_int(o, "mid", a->mid) | set_int(o, "se", a->se);
    if (a->se)
      rc |= set_int(o, "se_ch", a->se_ch) | set_str(o, "se_act", oc_act_name(a->se_act)) |
            set_str(o, "se_gate", oc_act_name(a->se_gate));
    rc |= set_str(o, "act", oc_act_name(a->act));
    break;
  case oc_net_block_se:
    rc |= set_int(o, "se_ch", a->se_ch) | set_str(o, "se_act", oc_act_name(a->se_act)) |
          set_str(o, "se_gate", oc_act_name(a->se_gate));
    break;
  case oc_net_block_bottleneck:
    rc |= set_int(o, "cout", a->cout) | set_int(o, "mid", a->mid) | set_int(o, "s", a->s) |
          set_str(o, "act", oc_act_name(a->act));
    break;
  case oc_net_block_basic:
    rc |= set_int(o, "cout", a->cout) | set_int(o, "s", a->s) |
          set_str(o, "act", oc_act_name(a->act));
    break;
  case oc_net_block_transformer_layer:
    rc |= set_int(o, "heads", a->heads) | set_int(o, "head_dim", a->head_dim) |
          set_int(o, "mlp", a->mlp) |
          set_str(o, "act", oc_act_name(a->act));
    break;
  case oc_net_block_patch_embed:
    rc |= set_int(o, "p", a->p) | set_int(o, "dim", a->dim) | set_int(o, "cls", a->cls) |
          set_int(o, "pos", a->pos);
    break;
  case oc_net_block_nb201_cell: rc |= set_str(o, "cell", a->cell); break;
  case oc_net_block_token_select: rc |= set_int(o, "index", a->index); break;
  case oc_net_block__count: break;
  }
  return rc;
}

enum oc_status oc_net_to_json(const struct oc_net *net, json_t **out) {
  *out = NULL;
  json_t *root = json_object();
  json_t *layers = json_array();
  int rc = root == NULL || layers == NULL;
  if (!rc) {
    rc |= set_str(root, "format", OC_NET_FORMAT) | set_str(root, "name", net->name) |
          json_object_set_new(root, "input",
                              json_pack("{s:i, s:i, s:i}", "h", (int)net->input.h, "w",
                                        (int)net->input.w, "c", (int)net->input.c)) |
          set_str(root, "dtype", oc_dtype_name(net->dtype));
    rc |= json_object_set(root, "layers", layers);
  }
  for (int32_t i = 0; i < net->n_layers && !rc; i++) {
    const struct oc_net_layer *l = &net->layers[i];
    json_t *o = json_object();
    if (o == NULL || json_array_append_new(layers, o) != 0) {
      rc = 1;
      break;
    }
    rc |= set_str(o, "op", oc__net_layer_kind_name(l));
    if (l->id[0]) rc |= set_str(o, "id", l->id);
    if (l->named_inputs) {
      json_t *ins = json_array();
      rc |= json_object_set_new(o, "inputs", ins);
      for (int32_t j = 0; j < l->n_inputs && !rc; j++) {
        int32_t ref = l->inputs[j];
        rc |= json_array_append_new(ins, json_string(ref < 0 ? NET_INPUT_NAME : net->layers[ref].id));
      }
    }
    rc |= layer_args(o, l);
  }
  json_decref(layers);
  if (rc) {
    json_decref(root);
    return oc__fail(oc_status_out_of_memory, "network '%s': out of memory writing JSON", net->name);
  }
  *out = root;
  return oc_status_ok;
}
