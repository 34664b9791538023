/* op.c - the op catalog expanded from ops.def: kind, dtype, activation and
 * field names; canonical keys (parse and format); validation; tensor shapes
 * and analytic costs per kind.
 *
 * Every rule a user can see here is written down in docs/formats.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "opcost/op.h"

#define MAX_KIND_FIELDS 12

struct kind_info {
  const char *name;
  int inputs;
  bool weights;
  const char *fields;
  const char *summary;
};

static const struct kind_info kinds[oc_op_kind__count] = {
#define OC_OP(name, inputs, weights, fields, summary) \
  {#name, inputs, weights, fields, summary},
#include "opcost/ops.def"
#undef OC_OP
};

static const char *const dtype_names[oc_dtype__count] = {
#define OC_DTYPE_NAME(name, size) #name,
    OC_DTYPE_MAP(OC_DTYPE_NAME)
#undef OC_DTYPE_NAME
};

static const size_t dtype_sizes[oc_dtype__count] = {
#define OC_DTYPE_SIZE(name, size) size,
    OC_DTYPE_MAP(OC_DTYPE_SIZE)
#undef OC_DTYPE_SIZE
};

static const char *const act_names[oc_act__count] = {
#define OC_ACT_NAME(name, flops) #name,
    OC_ACT_MAP(OC_ACT_NAME)
#undef OC_ACT_NAME
};

static const int act_flops[oc_act__count] = {
#define OC_ACT_FLOPS(name, flops) flops,
    OC_ACT_MAP(OC_ACT_FLOPS)
#undef OC_ACT_FLOPS
};

static const char *const field_names[oc_field__count] = {
#define OC_FIELD_NAME(name, text) #name,
    OC_FIELD_MAP(OC_FIELD_NAME)
#undef OC_FIELD_NAME
};

/* Per-kind field lists in key order, parsed once from ops.def's strings.
 * Initialised on first use; the table is small and read-only afterwards.
 * Races between threads write identical values, but a once-flag keeps it
 * clean under TSan. */
struct kind_fields {
  int count;
  enum oc_field list[MAX_KIND_FIELDS];
};
static struct kind_fields kind_field_table[oc_op_kind__count];
static int kind_fields_ready;

static int field_from_name(const char *name, size_t len) {
  for (int f = 0; f < oc_field__count; f++) {
    if (strlen(field_names[f]) == len && memcmp(field_names[f], name, len) == 0) return f;
  }
  return -1;
}

static void init_kind_fields(void) {
  if (__atomic_load_n(&kind_fields_ready, __ATOMIC_ACQUIRE)) return;
  for (int k = 0; k < oc_op_kind__count; k++) {
    struct kind_fields *kf = &kind_field_table[k];
    kf->count = 0;
    const char *p = kinds[k].fields;
    while (*p) {
      while (*p == ' ') p++;
      const char *start = p;
      while (*p && *p != ' ') p++;
      if (p == start) break;
      int f = field_from_name(start, (size_t)(p - start));
      /* ops.def is checked by the unit tests; a bad name is a build defect. */
      if (f >= 0 && kf->count < MAX_KIND_FIELDS) kf->list[kf->count++] = (enum oc_field)f;
    }
  }
  __atomic_store_n(&kind_fields_ready, 1, __ATOMIC_RELEASE);
}

static const struct kind_fields *fields_of(enum oc_op_kind kind) {
  init_kind_fields();
  return &kind_field_table[kind];
}

static bool kind_ok(enum oc_op_kind kind) {
  return (int)kind >= 0 && kind < oc_op_kind__count;
}

const char *oc_op_kind_name(enum oc_op_kind kind) {
  return kind_ok(kind) ? kinds[kind].name : "?";
}

const char *oc_op_kind_summary(enum oc_op_kind kind) {
  return kind_ok(kind) ? kinds[kind].summary : "";
}

const char *oc_op_kind_fields(enum oc_op_kind kind) {
  return kind_ok(kind) ? kinds[kind].fields : "";
}

int oc_op_kind_inputs(enum oc_op_kind kind) { return kind_ok(kind) ? kinds[kind].inputs : 0; }

bool oc_op_kind_has_weights(enum oc_op_kind kind) {
  return kind_ok(kind) && kinds[kind].weights;
}

bool oc_op_kind_uses(enum oc_op_kind kind, enum oc_field field) {
  if (!kind_ok(kind)) return false;
  const struct kind_fields *kf = fields_of(kind);
  for (int i = 0; i < kf->count; i++) {
    if (kf->list[i] == field) return true;
  }
  return false;
}

enum oc_status oc_op_kind_from_name(const char *name, enum oc_op_kind *kind) {
  for (int k = 0; k < oc_op_kind__count; k++) {
    if (strcmp(kinds[k].name, name) == 0) {
      *kind = (enum oc_op_kind)k;
      return oc_status_ok;
    }
  }
  return oc__fail(oc_status_not_found, "unknown op kind '%s'", name);
}

const char *oc_dtype_name(enum oc_dtype dtype) {
  return (int)dtype >= 0 && dtype < oc_dtype__count ? dtype_names[dtype] : "?";
}

size_t oc_dtype_size(enum oc_dtype dtype) {
  return (int)dtype >= 0 && dtype < oc_dtype__count ? dtype_sizes[dtype] : 0;
}

enum oc_status oc_dtype_from_name(const char *name, enum oc_dtype *dtype) {
  for (int d = 0; d < oc_dtype__count; d++) {
    if (strcmp(dtype_names[d], name) == 0) {
      *dtype = (enum oc_dtype)d;
      return oc_status_ok;
    }
  }
  return oc__fail(oc_status_not_found, "unknown dtype '%s'", name);
}

const char *oc_act_name(enum oc_act act) {
  return (int)act >= 0 && act < oc_act__count ? act_names[act] : "?";
}

enum oc_status oc_act_from_name(const char *name, enum oc_act *act) {
  for (int a = 0; a < oc_act__count; a++) {
    if (strcmp(act_names[a], name) == 0) {
      *act = (enum oc_act)a;
      return oc_status_ok;
    }
  }
  return oc__fail(oc_status_not_found, "unknown activation '%s'", name);
}

const char *oc_field_name(enum oc_field field) {
  return (int)field >= 0 && field < oc_field__count ? field_names[field] : "?";
}

static int32_t *field_ptr(struct oc_op *op, enum oc_field field) {
  switch (field) {
  case oc_field_h: return &op->h;
  case oc_field_w: return &op->w;
  case oc_field_c: return &op->c;
  case oc_field_c2: return &op->c2;
  case oc_field_cin: return &op->cin;
  case oc_field_cout: return &op->cout;
  case oc_field_m: return &op->m;
  case oc_field_n: return &op->n;
  case oc_field_b: return &op->b;
  case oc_field_k: return &op->k;
  case oc_field_s: return &op->s;
  case oc_field_g: return &op->g;
  case oc_field_d: return &op->d;
  case oc_field_tb: return &op->tb;
  case oc_field_bc: return &op->bc;
  case oc_field_act:
  case oc_field__count: break;
  }
  return NULL;
}

int32_t oc_op_get(const struct oc_op *op, enum oc_field field) {
  if (field == oc_field_act) return (int32_t)op->act;
  int32_t *p = field_ptr((struct oc_op *)op, field);
  return p ? *p : 0;
}

void oc_op_set(struct oc_op *op, enum oc_field field, int32_t value) {
  if (field == oc_field_act) {
    op->act = (enum oc_act)value;
    return;
  }
  int32_t *p = field_ptr(op, field);
  if (p) *p = value;
}

void oc_op_init(struct oc_op *op, enum oc_op_kind kind, enum oc_dtype dtype) {
  memset(op, 0, sizeof *op);
  op->kind = kind;
  op->dtype = dtype;
  op->act = oc_act_none;
  if (oc_op_kind_uses(kind, oc_field_s)) op->s = 1;
  if (oc_op_kind_uses(kind, oc_field_g)) op->g = 1;
  if (oc_op_kind_uses(kind, oc_field_d)) op->d = 1;
}

/* ---- keys ---------------------------------------------------------------- */

enum oc_status oc_op_format(const struct oc_op *op, char *buf, size_t size) {
  if (!kind_ok(op->kind) || (int)op->dtype < 0 || op->dtype >= oc_dtype__count)
    return oc__fail(oc_status_invalid_argument, "op has no valid kind or dtype");
  const struct kind_fields *kf = fields_of(op->kind);
  size_t used = 0;
  int n = snprintf(buf, size, "%s.%s", kinds[op->kind].name, dtype_names[op->dtype]);
  if (n < 0 || (size_t)n >= size) goto too_long;
  used = (size_t)n;
  for (int i = 0; i < kf->count; i++) {
    enum oc_field f = kf->list[i];
    if (f == oc_field_act)
      n = snprintf(buf + used, size - used, " act=%s", oc_act_name(op->act));
    else
      n = snprintf(buf + used, size - used, " %s=%d", field_names[f],
                   (int)oc_op_get(op, f));
    if (n < 0 || (size_t)n >= size - used) goto too_long;
    used += (size_t)n;
  }
  return oc_status_ok;
too_long:
  if (size > 0) buf[0] = '\0';
  return oc__fail(oc_status_overflow, "op key longer than the %zu bytes given", size);
}

/* Copies one space-free token [start, end) into out (bounded). */
static void token(const char *start, const char *end, char *out, size_t size) {
  size_t n = (size_t)(end - start);
  if (n >= size) n = size - 1;
  memcpy(out, start, n);
  out[n] = '\0';
}

enum oc_status oc_op_parse(const char *key, struct oc_op *out) {
  char tok[96];
  char val[96];
  struct oc_op op;
  const char *p = key;
  if (key == NULL) return oc__fail(oc_status_parse_error, "empty op key");
  if (strlen(key) >= OC_KEY_MAX)
    return oc__fail(oc_status_parse_error, "op key longer than %d characters", OC_KEY_MAX - 1);

  /* kind.dtype */
  const char *dot = strchr(p, '.');
  const char *space = strchr(p, ' ');
  if (dot == NULL || (space != NULL && space < dot))
    return oc__fail(oc_status_parse_error,
                    "key '%s': expected KIND.DTYPE first (e.g. conv2d.f32)", key);
  token(p, dot, tok, sizeof tok);
  enum oc_op_kind kind = oc_op_conv2d;
  if (oc_op_kind_from_name(tok, &kind) != oc_status_ok)
    return oc__fail(oc_status_parse_error, "key '%s': unknown op kind '%s'", key, tok);
  const char *dt_end = space ? space : p + strlen(p);
  token(dot + 1, dt_end, tok, sizeof tok);
  enum oc_dtype dtype = oc_dtype_f32;
  if (oc_dtype_from_name(tok, &dtype) != oc_status_ok)
    return oc__fail(oc_status_parse_error, "key '%s': unknown dtype '%s'", key, tok);
  oc_op_init(&op, kind, dtype);
  /* Defaults of oc_op_init must not stand in for missing fields. */
  op.s = op.g = op.d = 0;

  const struct kind_fields *kf = fields_of(kind);
  bool seen[oc_field__count] = {false};
  int next = 0; /* index in kf->list the next field must have */
  p = dt_end;
  while (*p) {
    if (*p != ' ')
      return oc__fail(oc_status_parse_error, "key '%s': expected a space before '%s'", key, p);
    if (p[1] == ' ' || p[1] == '\0')
      return oc__fail(oc_status_parse_error,
                      "key '%s': fields are separated by single spaces, with none at the end",
                      key);
    p++;
    const char *eq = strchr(p, '=');
    const char *end = strchr(p, ' ');
    if (end == NULL) end = p + strlen(p);
    if (eq == NULL || eq > end) {
      token(p, end, tok, sizeof tok);
      return oc__fail(oc_status_parse_error, "key '%s': '%s' is not NAME=VALUE", key, tok);
    }
    token(p, eq, tok, sizeof tok);
    token(eq + 1, end, val, sizeof val);
    int f = field_from_name(p, (size_t)(eq - p));
    if (f < 0 || !oc_op_kind_uses(kind, (enum oc_field)f))
      return oc__fail(oc_status_parse_error, "key '%s': field '%s' is not a field of %s (%s)",
                      key, tok, kinds[kind].name, kinds[kind].fields);
    if (seen[f])
      return oc__fail(oc_status_parse_error, "key '%s': field '%s' appears twice", key, tok);
    seen[f] = true;
    if (next >= kf->count || kf->list[next] != (enum oc_field)f)
      return oc__fail(oc_status_parse_error,
                      "key '%s': field '%s' out of order; %s takes '%s' in this order", key,
                      tok, kinds[kind].name, kinds[kind].fields);
    next++;
    if (f == oc_field_act) {
      enum oc_act act = oc_act_none;
      if (oc_act_from_name(val, &act) != oc_status_ok)
        return oc__fail(oc_status_parse_error, "key '%s': field 'act': unknown activation '%s'",
                        key, val);
      op.act = act;
    } else {
      int64_t v;
      const char *digits = val + (val[0] == '-');
      if (val[0] == '+' || (digits[0] == '0' && (digits[1] != '\0' || val[0] == '-')))
        return oc__fail(oc_status_parse_error,
                        "key '%s': field '%s': value '%s' is not written canonically (no sign, no leading zero, no -0)",
                        key, tok, val);
      if (!oc__parse_i64(val, INT32_MIN, INT32_MAX, &v)) {
        int64_t big;
        bool number = oc__parse_i64(val, INT64_MIN, INT64_MAX, &big) ||
                      (val[0] != '\0' && strspn(val + (val[0] == '-'), "0123456789") ==
                                             strlen(val + (val[0] == '-')));
        return oc__fail(number ? oc_status_overflow : oc_status_parse_error,
                        "key '%s': field '%s': value '%s' %s", key, tok, val,
                        number ? "does not fit in 32 bits" : "is not an integer");
      }
      oc_op_set(&op, (enum oc_field)f, (int32_t)v);
    }
    p = end;
  }
  if (next < kf->count)
    return oc__fail(oc_status_parse_error, "key '%s': field '%s' is missing (%s takes %s)", key,
                    field_names[kf->list[next]], kinds[kind].name, kinds[kind].fields);
  enum oc_status st = oc_op_validate(&op);
  if (st != oc_status_ok) return oc__fail_prefix(st, "key '%s': ", key);
  *out = op;
  return oc_status_ok;
}

/* ---- validation, shapes, costs ------------------------------------------- */

static enum oc_status need_range(enum oc_field f, int32_t v, int32_t lo, int32_t hi) {
  if (v < lo)
    return oc__fail(oc_status_invalid_argument, "field '%s': value '%d' must be >= %d",
                    field_names[f], (int)v, (int)lo);
  if (v > hi)
    return oc__fail(oc_status_invalid_argument, "field '%s': value '%d' must be <= %d",
                    field_names[f], (int)v, (int)hi);
  return oc_status_ok;
}

static int32_t out_size(int32_t in, int32_t s) { return (in + s - 1) / s; }

/* TensorFlow "same": output ceil(in/s); total padding split with the odd
 * pixel at the end. */
static void same_pad(int32_t in, int32_t k, int32_t s, int32_t d, int32_t *before,
                     int32_t *after) {
  int64_t out = out_size(in, s);
  int64_t eff = (int64_t)(k - 1) * d + 1;
  int64_t total = (out - 1) * s + eff - in;
  if (total < 0) total = 0;
  *before = (int32_t)(total / 2);
  *after = (int32_t)(total - total / 2);
}

enum oc_status oc_op_validate(const struct oc_op *op) {
  enum oc_status st;
  if (!kind_ok(op->kind)) return oc__fail(oc_status_invalid_argument, "op has no valid kind");
  if ((int)op->dtype < 0 || op->dtype >= oc_dtype__count)
    return oc__fail(oc_status_invalid_argument, "op %s: dtype %d is not valid",
                    kinds[op->kind].name, (int)op->dtype);
  const struct kind_fields *kf = fields_of(op->kind);
  for (int i = 0; i < kf->count; i++) {
    enum oc_field f = kf->list[i];
    int32_t v = oc_op_get(op, f);
    switch (f) {
    case oc_field_act:
      if ((int)op->act < 0 || op->act >= oc_act__count)
        return oc__fail(oc_status_invalid_argument, "field 'act': value %d is not an activation",
                        (int)op->act);
      if (op->kind == oc_op_act && op->act == oc_act_none)
        return oc__fail(oc_status_invalid_argument,
                        "field 'act': value 'none' is not an activation op");
      continue;
    case oc_field_tb:
    case oc_field_bc: st = need_range(f, v, 0, 1); break;
    case oc_field_k:
      st = need_range(f, v, 1, op->kind == oc_op_matmul ? OC_FIELD_VALUE_MAX : 255);
      break;
    case oc_field_s:
    case oc_field_d: st = need_range(f, v, 1, 255); break;
    default: st = need_range(f, v, 1, OC_FIELD_VALUE_MAX); break;
    }
    if (st != oc_status_ok) return st;
  }
  if (op->kind == oc_op_conv2d) {
    if (op->cin % op->g != 0)
      return oc__fail(oc_status_invalid_argument,
                      "field 'g': value '%d' does not divide cin=%d", (int)op->g, (int)op->cin);
    if (op->cout % op->g != 0)
      return oc__fail(oc_status_invalid_argument,
                      "field 'g': value '%d' does not divide cout=%d", (int)op->g, (int)op->cout);
  }
  /* Every size and cost must fit: computing them is the overflow check. */
  struct oc_op_cost cost;
  return oc_op_cost(op, &cost);
}

static struct oc_tensor_shape shape4(int32_t n, int32_t h, int32_t w, int32_t c) {
  struct oc_tensor_shape s = {n, h, w, c};
  return s;
}

enum oc_status oc_op_shapes(const struct oc_op *op, struct oc_op_shapes *sh) {
  memset(sh, 0, sizeof *sh);
  if (!kind_ok(op->kind)) return oc__fail(oc_status_invalid_argument, "op has no valid kind");
  sh->n_inputs = kinds[op->kind].inputs;
  switch (op->kind) {
  case oc_op_conv2d: {
    sh->input[0] = shape4(1, op->h, op->w, op->cin);
    sh->output = shape4(1, out_size(op->h, op->s), out_size(op->w, op->s), op->cout);
    sh->weight_elems = (int64_t)op->cout * op->k * op->k * (op->cin / (op->g ? op->g : 1));
    sh->bias_elems = op->cout;
    same_pad(op->h, op->k, op->s, op->d, &sh->pad_top, &sh->pad_bottom);
    same_pad(op->w, op->k, op->s, op->d, &sh->pad_left, &sh->pad_right);
    break;
  }
  case oc_op_fc:
    sh->input[0] = shape4(1, 1, op->m, op->cin);
    sh->output = shape4(1, 1, op->m, op->cout);
    sh->weight_elems = (int64_t)op->cout * op->cin;
    sh->bias_elems = op->cout;
    break;
  case oc_op_matmul:
    sh->input[0] = shape4(op->b, 1, op->m, op->k);
    sh->input[1] = op->tb ? shape4(op->b, 1, op->n, op->k) : shape4(op->b, 1, op->k, op->n);
    sh->output = shape4(op->b, 1, op->m, op->n);
    break;
  case oc_op_maxpool2d:
  case oc_op_avgpool2d:
    sh->input[0] = shape4(1, op->h, op->w, op->c);
    sh->output = shape4(1, out_size(op->h, op->s), out_size(op->w, op->s), op->c);
    same_pad(op->h, op->k, op->s, 1, &sh->pad_top, &sh->pad_bottom);
    same_pad(op->w, op->k, op->s, 1, &sh->pad_left, &sh->pad_right);
    break;
  case oc_op_gap:
    sh->input[0] = shape4(1, op->h, op->w, op->c);
    sh->output = shape4(1, 1, 1, op->c);
    break;
  case oc_op_act:
  case oc_op_softmax:
    sh->input[0] = shape4(1, op->h, op->w, op->c);
    sh->output = sh->input[0];
    break;
  case oc_op_layernorm:
    sh->input[0] = shape4(1, op->h, op->w, op->c);
    sh->output = sh->input[0];
    sh->weight_elems = op->c;
    sh->bias_elems = op->c;
    break;
  case oc_op_add:
    sh->input[0] = shape4(1, op->h, op->w, op->c);
    sh->input[1] = sh->input[0];
    sh->output = sh->input[0];
    break;
  case oc_op_mul:
    sh->input[0] = shape4(1, op->h, op->w, op->c);
    sh->input[1] = op->bc ? shape4(1, 1, 1, op->c) : sh->input[0];
    sh->output = sh->input[0];
    break;
  case oc_op_concat:
    sh->input[0] = shape4(1, op->h, op->w, op->c);
    sh->input[1] = shape4(1, op->h, op->w, op->c2);
    sh->output = shape4(1, op->h, op->w, op->c + op->c2);
    break;
  case oc_op_kind__count: break;
  }
  return oc_status_ok;
}

int64_t oc_tensor_elems(const struct oc_tensor_shape *s) {
  return (int64_t)s->n * s->h * s->w * s->c;
}

/* Product of up to 6 factors into *out, failing on overflow. */
static bool product(int64_t *out, int count, const int64_t *f) {
  int64_t p = 1;
  for (int i = 0; i < count; i++) {
    if (!oc__mul64(p, f[i], &p)) return false;
  }
  *out = p;
  return true;
}

#define PRODUCT(out, ...) \
  product(out, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

enum oc_status oc_op_cost(const struct oc_op *op, struct oc_op_cost *cost) {
  struct oc_op_shapes sh;
  memset(cost, 0, sizeof *cost);
  enum oc_status st = oc_op_shapes(op, &sh);
  if (st != oc_status_ok) return st;
  const int64_t esize = (int64_t)oc_dtype_size(op->dtype);
  bool ok = true;
  int64_t in_elems = 0, out_elems = 0, t = 0;
  for (int i = 0; i < sh.n_inputs; i++) {
    const struct oc_tensor_shape *s = &sh.input[i];
    ok = ok && PRODUCT(&t, s->n, s->h, s->w, s->c) && oc__add64(in_elems, t, &in_elems);
  }
  ok = ok && PRODUCT(&out_elems, sh.output.n, sh.output.h, sh.output.w, sh.output.c);
  const int64_t afl = (int)op->act >= 0 && op->act < oc_act__count ? act_flops[op->act] : 0;
  int64_t macs = 0, flops = 0, extra = 0;
  switch (op->kind) {
  case oc_op_conv2d: {
    int64_t g = op->g > 0 ? op->g : 1;
    ok = ok && PRODUCT(&macs, out_elems, op->k, op->k, op->cin / g);
    ok = ok && PRODUCT(&extra, out_elems, 1 + afl);
    break;
  }
  case oc_op_fc:
    ok = ok && PRODUCT(&macs, out_elems, op->cin);
    ok = ok && PRODUCT(&extra, out_elems, 1 + afl);
    break;
  case oc_op_matmul: ok = ok && PRODUCT(&macs, out_elems, op->k); break;
  case oc_op_maxpool2d:
  case oc_op_avgpool2d: ok = ok && PRODUCT(&extra, out_elems, op->k, op->k); break;
  case oc_op_gap: extra = in_elems; break;
  case oc_op_act: ok = ok && PRODUCT(&extra, out_elems, afl); break;
  case oc_op_add: ok = ok && PRODUCT(&extra, out_elems, 1 + afl); break;
  case oc_op_mul: extra = out_elems; break;
  case oc_op_layernorm: ok = ok && PRODUCT(&extra, out_elems, 8); break;
  case oc_op_softmax: ok = ok && PRODUCT(&extra, out_elems, 5); break;
  case oc_op_concat:
  case oc_op_kind__count: break;
  }
  ok = ok && oc__mul64(macs, 2, &flops) && oc__add64(flops, extra, &flops);
  ok = ok && oc__add64(sh.weight_elems, sh.bias_elems, &cost->params);
  ok = ok && oc__mul64(in_elems, esize, &cost->input_bytes);
  ok = ok && oc__mul64(cost->params, esize, &cost->weight_bytes);
  ok = ok && oc__mul64(out_elems, esize, &cost->output_bytes);
  if (!ok) {
    memset(cost, 0, sizeof *cost);
    return oc__fail(oc_status_overflow,
                    "op %s: sizes, FLOPs or bytes do not fit in 64 bits", kinds[op->kind].name);
  }
  cost->macs = macs;
  cost->flops = flops;
  return oc_status_ok;
}
