/* lut_yaml.c - import of the latency tables of OFA and ProxylessNAS (YAML,
 * read with libyaml), and the one function that maps their keys onto
 * opcost's.
 *
 * Those tables map a key to {count, mean, var} (some writers use std):
 *   Conv-input:224x224x3-output:112x112x32:
 *     count: 949
 *     mean: 4.397
 *     var: 0.156
 * The key grammar is TYPE followed by -NAME:VALUE parts; shapes are HxWxC
 * (or N for a vector). Types: Conv (the first 3x3 conv), Conv_1 (1x1 conv
 * after the blocks), Conv_2 (MobileNetV3's 1x1 feature mix on the pooled
 * vector), AvgPool2D (global pooling), Logits (the classifier; in
 * ProxylessNAS tables over HxW, i.e. pooling and classifier in one figure),
 * expanded_conv (an inverted-residual block: expand, kernel, stride, idskip,
 * and in MobileNetV3 tables se and hs). In ProxylessNAS tables expand: is the
 * ratio; in MobileNetV3 (OFA) tables it is the middle channel count.
 *
 * The mapping describes each entry as a one-layer opcost-net/1 network and
 * lets the networks module name it, so an imported row has exactly the key a
 * network's layer has, and the costs of that layer. The means are in ms in
 * those tables; they are stored as the row's median (µs), with the variance
 * kept in env. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "core/core.h"
#include "lut/lut_internal.h"
#include "opcost/net.h"

_Static_assert(OC_LUT_KEY_MAX >= OC_NET_KEY_MAX, "a LUT key must hold a network layer's key");

/* ---- key mapping ---- */

struct ofa_parts {
  char type[32];
  int32_t in[3], n_in;
  int32_t out[3], n_out;
  int32_t expand, kernel, stride, idskip, se, hs;
  bool has_expand, has_kernel, has_stride, has_idskip, has_se, has_hs;
};

static bool parse_dims(const char *text, size_t len, int32_t dims[3], int32_t *n) {
  *n = 0;
  size_t i = 0;
  while (i < len) {
    if (*n == 3) return false;
    int64_t v = 0;
    size_t start = i;
    while (i < len && text[i] >= '0' && text[i] <= '9') {
      v = v * 10 + (text[i] - '0');
      if (v > OC_FIELD_VALUE_MAX) return false;
      i++;
    }
    if (i == start || v < 1) return false;
    dims[(*n)++] = (int32_t)v;
    if (i < len) {
      if (text[i] != 'x' || i + 1 == len) return false;
      i++;
    }
  }
  return *n > 0;
}

static enum oc_status parse_ofa(const char *key, struct ofa_parts *p) {
  memset(p, 0, sizeof *p);
  const char *dash = strchr(key, '-');
  size_t n = dash ? (size_t)(dash - key) : strlen(key);
  if (n == 0 || n >= sizeof p->type)
    return oc__fail(oc_status_parse_error, "key '%s': expected TYPE-input:HxWxC-output:...", key);
  memcpy(p->type, key, n);
  p->type[n] = '\0';
  const char *s = dash;
  while (s && *s) {
    s++; /* the '-' */
    const char *end = strchr(s, '-');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    const char *colon = memchr(s, ':', len);
    if (colon == NULL)
      return oc__fail(oc_status_parse_error, "key '%s': part '%.*s' is not NAME:VALUE", key,
                      (int)len, s);
    size_t nlen = (size_t)(colon - s);
    const char *val = colon + 1;
    size_t vlen = len - nlen - 1;
    struct {
      const char *name;
      int32_t *value;
      bool *has;
    } ints[] = {{"expand", &p->expand, &p->has_expand}, {"kernel", &p->kernel, &p->has_kernel},
                {"stride", &p->stride, &p->has_stride}, {"idskip", &p->idskip, &p->has_idskip},
                {"se", &p->se, &p->has_se},             {"hs", &p->hs, &p->has_hs}};
    bool known = false;
    if (nlen == 5 && strncmp(s, "input", 5) == 0) {
      if (p->n_in || !parse_dims(val, vlen, p->in, &p->n_in))
        return oc__fail(oc_status_parse_error,
                        "key '%s': input '%.*s' must be HxWxC (positive whole numbers), once",
                        key, (int)vlen, val);
      known = true;
    } else if (nlen == 6 && strncmp(s, "output", 6) == 0) {
      if (p->n_out || !parse_dims(val, vlen, p->out, &p->n_out))
        return oc__fail(oc_status_parse_error,
                        "key '%s': output '%.*s' must be HxWxC or N (positive whole numbers), once",
                        key, (int)vlen, val);
      known = true;
    }
    for (size_t i = 0; !known && i < sizeof ints / sizeof ints[0]; i++) {
      if (strlen(ints[i].name) != nlen || strncmp(s, ints[i].name, nlen) != 0) continue;
      char buf[16];
      int64_t v = 0;
      if (vlen == 0 || vlen >= sizeof buf)
        return oc__fail(oc_status_parse_error, "key '%s': %s: value '%.*s' is not a number", key,
                        ints[i].name, (int)vlen, val);
      memcpy(buf, val, vlen);
      buf[vlen] = '\0';
      if (*ints[i].has || !oc__parse_i64(buf, 0, OC_FIELD_VALUE_MAX, &v))
        return oc__fail(oc_status_parse_error,
                        "key '%s': %s: value '%s' must be a whole number >= 0, given once", key,
                        ints[i].name, buf);
      *ints[i].value = (int32_t)v;
      *ints[i].has = true;
      known = true;
    }
    if (!known)
      return oc__fail(oc_status_parse_error,
                      "key '%s': unknown part '%.*s' (expected input, output, expand, kernel, "
                      "stride, idskip, se, hs)",
                      key, (int)nlen, s);
    s = end;
  }
  if (p->n_in != 3)
    return oc__fail(oc_status_parse_error, "key '%s': missing input:HxWxC", key);
  if (p->n_out != 3 && p->n_out != 1)
    return oc__fail(oc_status_parse_error, "key '%s': missing output:HxWxC", key);
  return oc_status_ok;
}

/* The stride that takes in to out with "same" padding (out = ceil(in / s)). */
static int32_t stride_of(int32_t in, int32_t out) {
  for (int32_t s = 1; s <= 8; s++)
    if ((in + s - 1) / s == out) return s;
  return 0;
}

static enum oc_status ofa_layer(const char *key, const struct ofa_parts *p, bool mbv3,
                                json_t **layer) {
  const char *act = mbv3 ? "hswish" : "relu6";
  bool only_io = !p->has_expand && !p->has_kernel && !p->has_stride && !p->has_idskip &&
                 !p->has_se && !p->has_hs;
  bool vec_out = p->n_out == 1;
  *layer = NULL;
  if (strcmp(p->type, "expanded_conv") != 0 && !only_io)
    return oc__fail(oc_status_parse_error,
                    "key '%s': %s takes only input and output (expand, kernel, ... belong to "
                    "expanded_conv)",
                    key, p->type);
  if (strcmp(p->type, "Conv") == 0 || strcmp(p->type, "Conv_1") == 0 ||
      strcmp(p->type, "Conv_2") == 0) {
    if (vec_out)
      return oc__fail(oc_status_parse_error, "key '%s': %s needs output:HxWxC", key, p->type);
    bool first = strcmp(p->type, "Conv") == 0;
    int32_t s = stride_of(p->in[0], p->out[0]);
    if (s == 0 || stride_of(p->in[1], p->out[1]) != s || (!first && s != 1))
      return oc__fail(oc_status_parse_error,
                      "key '%s': output %dx%d does not follow from input %dx%d%s", key,
                      (int)p->out[0], (int)p->out[1], (int)p->in[0], (int)p->in[1],
                      first ? "" : " with a 1x1 conv");
    *layer = json_pack("{s:s, s:i, s:i, s:i, s:s}", "op", "conv2d", "cout", (int)p->out[2], "k",
                       first ? 3 : 1, "s", (int)s, "act", act);
  } else if (strcmp(p->type, "AvgPool2D") == 0) {
    if (vec_out || p->out[0] != 1 || p->out[1] != 1 || p->out[2] != p->in[2])
      return oc__fail(oc_status_parse_error,
                      "key '%s': AvgPool2D is global pooling: output must be 1x1x%d", key,
                      (int)p->in[2]);
    *layer = json_pack("{s:s}", "op", "gap");
  } else if (strcmp(p->type, "Logits") == 0) {
    if (!vec_out)
      return oc__fail(oc_status_parse_error, "key '%s': Logits needs output:N", key);
    if (p->in[0] != 1 || p->in[1] != 1)
      return oc__fail(oc_status_unsupported,
                      "key '%s': Logits over %dx%d is pooling and classifier in one figure; no "
                      "opcost key measures that",
                      key, (int)p->in[0], (int)p->in[1]);
    *layer = json_pack("{s:s, s:i}", "op", "fc", "cout", (int)p->out[0]);
  } else if (strcmp(p->type, "expanded_conv") == 0) {
    if (vec_out)
      return oc__fail(oc_status_parse_error, "key '%s': expanded_conv needs output:HxWxC", key);
    if (!p->has_expand || !p->has_kernel || !p->has_stride || !p->has_idskip)
      return oc__fail(oc_status_parse_error,
                      "key '%s': expanded_conv needs expand, kernel, stride and idskip", key);
    if (mbv3 != (p->has_se && p->has_hs))
      return oc__fail(oc_status_parse_error,
                      "key '%s': %s", key,
                      mbv3 ? "a MobileNetV3 table's expanded_conv needs se and hs"
                           : "se/hs belong to MobileNetV3 tables, not ProxylessNAS ones");
    int32_t cin = p->in[2], cout = p->out[2], s = p->stride;
    if (p->kernel < 1 || s < 1 || p->expand < 1 || p->idskip > 1 || p->se > 1 || p->hs > 1)
      return oc__fail(oc_status_parse_error,
                      "key '%s': kernel, stride, expand must be >= 1; idskip, se, hs 0 or 1",
                      key);
    if ((p->in[0] + s - 1) / s != p->out[0] || (p->in[1] + s - 1) / s != p->out[1])
      return oc__fail(oc_status_parse_error,
                      "key '%s': output %dx%d does not follow from input %dx%d with stride %d",
                      key, (int)p->out[0], (int)p->out[1], (int)p->in[0], (int)p->in[1], (int)s);
    bool residual = s == 1 && cin == cout;
    if ((p->idskip == 1) != residual)
      return oc__fail(oc_status_parse_error,
                      "key '%s': idskip:%d, but opcost's mbconv has a residual exactly when "
                      "stride is 1 and channels are kept",
                      key, (int)p->idskip);
    /* ProxylessNAS: mid = round(cin x ratio); OFA MobileNetV3: given. */
    int32_t mid = mbv3 ? p->expand : cin * p->expand;
    json_t *l = json_pack("{s:s, s:i, s:i, s:i, s:i, s:s}", "op", "mbconv", "cout", (int)cout,
                          "k", (int)p->kernel, "s", (int)s, "mid", (int)mid, "act",
                          mbv3 ? (p->hs ? "hswish" : "relu") : "relu6");
    if (l && p->se) {
      /* OFA's squeeze width: make_divisible(mid // 4, 8); gate h-sigmoid. */
      json_object_set_new(l, "se", json_integer(1));
      json_object_set_new(l, "se_ch", json_integer(oc_net_make_divisible(mid / 4, 8)));
      json_object_set_new(l, "se_gate", json_string("hsigmoid"));
    } else if (l) {
      json_object_set_new(l, "se", json_integer(0));
    }
    *layer = l;
  } else {
    return oc__fail(oc_status_parse_error,
                    "key '%s': unknown type '%s' (expected Conv, Conv_1, Conv_2, AvgPool2D, "
                    "Logits or expanded_conv)",
                    key, p->type);
  }
  if (*layer == NULL) return oc__fail(oc_status_out_of_memory, "key '%s': out of memory", key);
  return oc_status_ok;
}

/* oc_lut_ofa_key with the layer's costs put into row (may be NULL). */
static enum oc_status ofa_map(const char *ofa_key, const char *family, enum oc_dtype dtype,
                              char *key, size_t key_size, enum oc_lut_granularity *granularity,
                              struct oc_lut_row *row) {
  struct ofa_parts p;
  json_t *layer = NULL, *root = NULL;
  struct oc_net *net = NULL;
  bool mbv3;
  if (family == NULL) mbv3 = strstr(ofa_key, "-se:") != NULL || strstr(ofa_key, "-hs:") != NULL;
  else if (strcmp(family, "mbv3") == 0) mbv3 = true;
  else if (strcmp(family, "proxyless") == 0) mbv3 = false;
  else
    return oc__fail(oc_status_invalid_argument, "family '%s': expected proxyless or mbv3", family);
  enum oc_status st = parse_ofa(ofa_key, &p);
  if (st == oc_status_ok) st = ofa_layer(ofa_key, &p, mbv3, &layer);
  if (st != oc_status_ok) return st;
  root = json_pack("{s:s, s:s, s:{s:i, s:i, s:i}, s:s, s:[o]}", "format", OC_NET_FORMAT, "name",
                   "ofa-entry", "input", "h", (int)p.in[0], "w", (int)p.in[1], "c", (int)p.in[2],
                   "dtype", oc_dtype_name(dtype), "layers", layer);
  if (root == NULL) return oc__fail(oc_status_out_of_memory, "key '%s': out of memory", ofa_key);
  st = oc_net_load_json(root, ofa_key, &net);
  json_decref(root);
  if (st != oc_status_ok)
    return oc__fail_prefix(oc_status_parse_error, "key '%s' has no opcost equivalent: ", ofa_key);
  const struct oc_net_layer *l = &net->layers[0];
  const struct oc_tensor_shape *o = &l->output;
  bool same = p.n_out == 3 ? (o->h == p.out[0] && o->w == p.out[1] && o->c == p.out[2])
                           : (o->h * o->w == 1 && o->c == p.out[0]);
  if (!same) {
    st = oc__fail(oc_status_parse_error,
                  "key '%s': opcost computes output %dx%dx%d for this layer, the key says "
                  "otherwise",
                  ofa_key, (int)o->h, (int)o->w, (int)o->c);
  } else if (!oc__strfmt(key, key_size, "%s", l->key)) {
    st = oc__fail(oc_status_invalid_argument, "key '%s': opcost key longer than %zu bytes",
                  ofa_key, key_size - 1);
  } else {
    *granularity = l->block == oc_net_block_op ? oc_lut_kernel : oc_lut_block;
    if (row) oc__lut_row_costs_from_layer(row, net, l);
  }
  oc_net_free(net);
  return st;
}

enum oc_status oc_lut_ofa_key(const char *ofa_key, const char *family, enum oc_dtype dtype,
                              char *key, size_t key_size, enum oc_lut_granularity *granularity) {
  return ofa_map(ofa_key, family, dtype, key, key_size, granularity, NULL);
}

/* ---- YAML ---- */

static const char *scalar(yaml_node_t *node) {
  return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

static long line_of(yaml_node_t *node) { return node ? (long)node->start_mark.line + 1 : 0; }

/* A YAML float: plain decimal, or the YAML 1.1 spellings of NaN/infinity
 * (which are rejected with what they are). */
static enum oc_status yaml_number(const char *path, yaml_node_t *node, const char *key,
                                  const char *field, double *out) {
  const char *text = scalar(node);
  long line = line_of(node);
  if (text == NULL)
    return oc__fail(oc_status_parse_error, "%s:%ld: '%s': %s must be a number", path, line, key,
                    field);
  if (strcasecmp(text, ".nan") == 0 || strcasecmp(text, "nan") == 0)
    return oc__fail(oc_status_parse_error, "%s:%ld: '%s': %s is NaN", path, line, key, field);
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (strstr(text, ".inf") || strstr(text, ".Inf") || strstr(text, ".INF"))
    return oc__fail(oc_status_parse_error, "%s:%ld: '%s': %s is infinite", path, line, key,
                    field);
  if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
    return oc__fail(oc_status_parse_error, "%s:%ld: '%s': %s: value '%s' is not a finite number",
                    path, line, key, field, text);
  if (v < 0)
    return oc__fail(oc_status_parse_error, "%s:%ld: '%s': %s: value '%s' is negative", path,
                    line, key, field, text);
  *out = v;
  return oc_status_ok;
}

static enum oc_status yaml_entry(struct oc__lut_import *imp, const struct oc_lut_import_opts *opts,
                                 yaml_document_t *doc, yaml_node_pair_t *pair, const char *family,
                                 const char *fingerprint, const char *target) {
  const char *path = imp->path;
  yaml_node_t *knode = yaml_document_get_node(doc, pair->key);
  yaml_node_t *vnode = yaml_document_get_node(doc, pair->value);
  long line = line_of(knode);
  const char *ofa_key = scalar(knode);
  if (ofa_key == NULL)
    return oc__fail(oc_status_parse_error, "%s:%ld: a key must be a plain string", path, line);
  if (vnode == NULL || vnode->type != YAML_MAPPING_NODE)
    return oc__fail(oc_status_parse_error, "%s:%ld: '%s' must map to {count, mean, var}", path,
                    line, ofa_key);
  double mean = NAN, var = -1, std = -1, count = 1;
  bool has_mean = false;
  for (yaml_node_pair_t *f = vnode->data.mapping.pairs.start; f < vnode->data.mapping.pairs.top;
       f++) {
    const char *name = scalar(yaml_document_get_node(doc, f->key));
    yaml_node_t *val = yaml_document_get_node(doc, f->value);
    enum oc_status st = oc_status_ok;
    if (name && strcmp(name, "mean") == 0) {
      st = yaml_number(path, val, ofa_key, "mean", &mean);
      has_mean = true;
    } else if (name && strcmp(name, "var") == 0) {
      st = yaml_number(path, val, ofa_key, "var", &var);
    } else if (name && strcmp(name, "std") == 0) {
      st = yaml_number(path, val, ofa_key, "std", &std);
    } else if (name && strcmp(name, "count") == 0) {
      st = yaml_number(path, val, ofa_key, "count", &count);
      if (st == oc_status_ok && (count < 1 || count != floor(count) || count > 1e15))
        st = oc__fail(oc_status_parse_error, "%s:%ld: '%s': count: value '%s' must be a whole "
                      "number >= 1", path, line_of(val), ofa_key, scalar(val));
    } else {
      st = oc__fail(oc_status_parse_error,
                    "%s:%ld: '%s': unknown field '%s' (expected count, mean, var or std)", path,
                    line_of(val), ofa_key, name ? name : "(not a string)");
    }
    if (st != oc_status_ok) return st;
  }
  if (!has_mean)
    return oc__fail(oc_status_parse_error, "%s:%ld: '%s': missing 'mean'", path, line, ofa_key);
  struct oc_lut_row row;
  memset(&row, 0, sizeof row);
  enum oc_status st = ofa_map(ofa_key, family, oc_dtype_f32, row.key, sizeof row.key,
                              &row.granularity, &row);
  if (st == oc_status_unsupported) {
    if (imp->report->skipped++ == 0)
      oc__strfmt(imp->report->first_skipped, sizeof imp->report->first_skipped, "%s (line %ld)",
                 ofa_key, line);
    return oc_status_ok;
  }
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s:%ld: ", path, line);
  char kind[32], dtype[8];
  st = oc__lut_check_key(row.key, kind, dtype);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s:%ld: ", path, line);
  double unit = opts->yaml_unit_us > 0 ? opts->yaml_unit_us : 1000.0;
  oc__strcpy(row.fingerprint, sizeof row.fingerprint, fingerprint);
  oc__strcpy(row.target, sizeof row.target, target);
  oc__strcpy(row.kind, sizeof row.kind, kind);
  oc__strcpy(row.dtype, sizeof row.dtype, dtype);
  row.threads = opts->threads > 0 ? opts->threads : 1;
  row.samples = (int64_t)count;
  row.median_us = mean * unit;
  row.p10_us = row.p90_us = row.min_us = row.mad_us = -1;
  double sd = std >= 0 ? std : var >= 0 ? sqrt(var) : -1;
  row.cv = sd >= 0 && mean > 0 ? sd / mean : -1;
  row.source = oc_lut_imported;
  oc_lut_now(row.measured_at);
  json_t *env = json_pack("{s:s, s:s, s:s, s:f, s:s}", "imported_from", path, "source_key",
                          ofa_key, "family", family, "unit_us", unit, "statistic", "mean");
  if (env && sd >= 0) json_object_set_new(env, "std_us", json_real(sd * unit));
  char *env_text = env ? json_dumps(env, JSON_COMPACT) : NULL;
  json_decref(env);
  if (env_text == NULL) return oc__fail(oc_status_out_of_memory, "%s:%ld: out of memory", path, line);
  row.env_json = env_text;
  row.counters_json = "{}";
  st = oc__lut_import_row(imp, &row, line);
  free(env_text);
  return st;
}

enum oc_status oc__lut_import_yaml(struct oc__lut_import *imp,
                                   const struct oc_lut_import_opts *opts) {
  const char *path = imp->path;
  char fingerprint[17];
  if (opts->fingerprint && opts->fingerprint[0]) {
    oc__strcpy(fingerprint, sizeof fingerprint, opts->fingerprint);
  } else if (opts->device_name && opts->device_name[0]) {
    oc__lut_imported_fingerprint(opts->device_name, fingerprint);
  } else {
    return oc__fail(oc_status_invalid_argument,
                    "%s: a YAML table does not say which device it was measured on: give the "
                    "device name (or a fingerprint)",
                    path);
  }
  const char *target = opts->target && opts->target[0] ? opts->target : "imported";
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    int e = errno;
    return oc__fail(e == ENOENT ? oc_status_not_found : oc_status_io_error, "%s: cannot open: %s",
                    path, strerror(e));
  }
  yaml_parser_t parser;
  yaml_document_t doc;
  bool have_doc = false;
  enum oc_status st = oc_status_ok;
  if (!yaml_parser_initialize(&parser)) {
    fclose(f);
    return oc__fail(oc_status_out_of_memory, "%s: cannot start the YAML parser", path);
  }
  yaml_parser_set_input_file(&parser, f);
  if (!yaml_parser_load(&parser, &doc)) {
    st = oc__fail(oc_status_parse_error, "%s:%ld: column %ld: YAML: %s%s%s", path,
                  (long)parser.problem_mark.line + 1, (long)parser.problem_mark.column + 1,
                  parser.problem ? parser.problem : "malformed",
                  parser.context ? " " : "", parser.context ? parser.context : "");
    goto done;
  }
  have_doc = true;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (root == NULL) {
    st = oc__fail(oc_status_parse_error, "%s: empty YAML document; expected KEY: {count, mean, var}",
                  path);
    goto done;
  }
  if (root->type != YAML_MAPPING_NODE) {
    st = oc__fail(oc_status_parse_error, "%s:%ld: the document must be a mapping of keys",
                  path, line_of(root));
    goto done;
  }
  /* The family holds for the whole table: MobileNetV3 tables are the ones
   * with se:/hs: parts or MobileNetV3's extra layers. */
  const char *family = opts->yaml_family;
  if (family == NULL) {
    family = "proxyless";
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
      const char *k = scalar(yaml_document_get_node(&doc, pair->key));
      if (k && (strstr(k, "-se:") || strstr(k, "-hs:") || strncmp(k, "AvgPool2D-", 10) == 0 ||
                strncmp(k, "Conv_2-", 7) == 0))
        family = "mbv3";
    }
  }
  struct oc_lut_device dev = {.info_json = NULL};
  oc__strcpy(dev.fingerprint, sizeof dev.fingerprint, fingerprint);
  oc__strcpy(dev.target, sizeof dev.target, target);
  oc__strcpy(dev.name, sizeof dev.name, opts->device_name ? opts->device_name : "");
  json_t *info = json_pack("{s:s, s:s}", "imported_from", path, "family", family);
  char *info_text = info ? json_dumps(info, JSON_COMPACT) : NULL;
  json_decref(info);
  dev.info_json = info_text;
  st = info_text ? oc__lut_import_device(imp, &dev, line_of(root))
                 : oc__fail(oc_status_out_of_memory, "%s: out of memory", path);
  free(info_text);
  for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
       st == oc_status_ok && pair < root->data.mapping.pairs.top; pair++)
    st = yaml_entry(imp, opts, &doc, pair, family, fingerprint, target);
done:
  if (have_doc) yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  fclose(f);
  return st;
}

/* ---- export ---- */

/* One "name=value" field of an opcost key ("" when absent). */
static bool key_field(const char *key, const char *name, char *value, size_t size) {
  size_t n = strlen(name);
  for (const char *p = strchr(key, ' '); p != NULL; p = strchr(p + 1, ' ')) {
    if (strncmp(p + 1, name, n) != 0 || p[1 + n] != '=') continue;
    const char *v = p + 2 + n;
    size_t len = strcspn(v, " ");
    if (len == 0 || len >= size) return false;
    memcpy(value, v, len);
    value[len] = '\0';
    return true;
  }
  value[0] = '\0';
  return false;
}

static int32_t key_int(const char *key, const char *name) {
  char text[32];
  int64_t v = 0;
  if (!key_field(key, name, text, sizeof text) || !oc__parse_i64(text, 0, OC_FIELD_VALUE_MAX, &v))
    return -1;
  return (int32_t)v;
}

static int32_t ceil_div(int32_t a, int32_t b) { return (a + b - 1) / b; }

/* The table key a LUT row would have in an OFA (mbv3) or ProxylessNAS
 * table, before the check that it maps back: "" when the kind has none. */
static void ofa_candidate(const char *key, bool mbv3, char *out, size_t size) {
  out[0] = '\0';
  char act[16];
  key_field(key, "act", act, sizeof act);
  int32_t h = key_int(key, "h"), w = key_int(key, "w"), s = key_int(key, "s");
  if (strncmp(key, "mbconv.f32 ", 11) == 0) {
    int32_t cin = key_int(key, "cin"), cout = key_int(key, "cout"), k = key_int(key, "k");
    int32_t mid = key_int(key, "mid"), se = key_int(key, "se");
    char e[32];
    if (mid < 0 && key_field(key, "e", e, sizeof e))
      mid = oc_net_make_divisible((double)cin * atof(e), 8);
    if (h < 1 || w < 1 || cin < 1 || cout < 1 || k < 1 || s < 1 || mid < 1 || se < 0) return;
    int idskip = s == 1 && cin == cout;
    if (mbv3) {
      oc__strfmt(out, size,
                 "expanded_conv-input:%dx%dx%d-output:%dx%dx%d-expand:%d-kernel:%d-stride:%d-"
                 "idskip:%d-se:%d-hs:%d",
                 (int)h, (int)w, (int)cin, (int)ceil_div(h, s), (int)ceil_div(w, s), (int)cout,
                 (int)mid, (int)k, (int)s, idskip, (int)se, strcmp(act, "hswish") == 0);
    } else if (mid % cin == 0) {
      oc__strfmt(out, size,
                 "expanded_conv-input:%dx%dx%d-output:%dx%dx%d-expand:%d-kernel:%d-stride:%d-"
                 "idskip:%d",
                 (int)h, (int)w, (int)cin, (int)ceil_div(h, s), (int)ceil_div(w, s), (int)cout,
                 (int)(mid / cin), (int)k, (int)s, idskip);
    }
  } else if (strncmp(key, "conv2d.f32 ", 11) == 0) {
    int32_t cin = key_int(key, "cin"), cout = key_int(key, "cout"), k = key_int(key, "k");
    if (h < 1 || w < 1 || cin < 1 || cout < 1 || s < 1) return;
    const char *type = k == 3 ? "Conv" : k != 1 ? NULL : h == 1 && w == 1 ? "Conv_2" : "Conv_1";
    if (type)
      oc__strfmt(out, size, "%s-input:%dx%dx%d-output:%dx%dx%d", type, (int)h, (int)w, (int)cin,
                 (int)ceil_div(h, s), (int)ceil_div(w, s), (int)cout);
  } else if (strncmp(key, "gap.f32 ", 8) == 0) {
    int32_t c = key_int(key, "c");
    if (h >= 1 && w >= 1 && c >= 1)
      oc__strfmt(out, size, "AvgPool2D-input:%dx%dx%d-output:1x1x%d", (int)h, (int)w, (int)c,
                 (int)c);
  } else if (strncmp(key, "fc.f32 ", 7) == 0) {
    int32_t m = key_int(key, "m"), cin = key_int(key, "cin"), cout = key_int(key, "cout");
    if (m == 1 && cin >= 1 && cout >= 1)
      oc__strfmt(out, size, "Logits-input:1x1x%d-output:%d", (int)cin, (int)cout);
  }
}

struct yaml_export {
  FILE *out;
  const char *family;
  double unit_us;
  struct oc_lut_yaml_report *report;
  enum oc_status status;
};

static int yaml_export_row(void *ctx, const struct oc_lut_row *row) {
  struct yaml_export *x = ctx;
  char ofa_key[OC_LUT_KEY_MAX], back[OC_LUT_KEY_MAX];
  enum oc_lut_granularity g;
  ofa_candidate(row->key, strcmp(x->family, "mbv3") == 0, ofa_key, sizeof ofa_key);
  /* Written only when the table key maps back onto exactly this row's key:
   * what an OFA or ProxylessNAS reader looks up is what was measured. */
  bool ok = ofa_key[0] != '\0' &&
            ofa_map(ofa_key, x->family, oc_dtype_f32, back, sizeof back, &g, NULL) ==
                oc_status_ok &&
            strcmp(back, row->key) == 0;
  if (!ok) {
    if (x->report->skipped++ == 0)
      oc__strcpy(x->report->first_skipped, sizeof x->report->first_skipped, row->key);
    return 0;
  }
  /* mean: the median (robust; what opcost predicts with); var from the MAD
   * (normal-consistent), else from the CV; left out when neither is known. */
  double mean = row->median_us / x->unit_us;
  double sd = row->mad_us >= 0 ? 1.4826 * row->mad_us : row->cv >= 0 ? row->cv * row->median_us : -1;
  fprintf(x->out, "%s:\n  count: %lld\n  mean: %.9g\n", ofa_key, (long long)row->samples, mean);
  if (sd >= 0) fprintf(x->out, "  var: %.9g\n", (sd / x->unit_us) * (sd / x->unit_us));
  x->report->written++;
  return 0;
}

/* The family of a table: MobileNetV3 when a block has squeeze-excite or
 * h-swish, as import decides from the keys. */
static int family_row(void *ctx, const struct oc_lut_row *row) {
  bool *mbv3 = ctx;
  if (strncmp(row->key, "mbconv.", 7) == 0 &&
      (strstr(row->key, " se=1") != NULL || strstr(row->key, " act=hswish") != NULL))
    *mbv3 = true;
  return *mbv3;
}

enum oc_status oc_lut_export_yaml(struct oc_lut *lut, const char *fingerprint, int32_t threads,
                                  const char *family, double unit_us, FILE *out, const char *name,
                                  struct oc_lut_yaml_report *report) {
  struct oc_lut_yaml_report local;
  if (report == NULL) report = &local;
  memset(report, 0, sizeof *report);
  if (family && strcmp(family, "mbv3") != 0 && strcmp(family, "proxyless") != 0)
    return oc__fail(oc_status_invalid_argument, "family '%s': expected proxyless or mbv3", family);
  if (!(unit_us > 0)) unit_us = 1000.0;
  /* A table holds one device at one thread count. */
  char fp[17];
  int32_t th = 0;
  enum oc_status st = oc_lut_resolve(lut, fingerprint, threads, fp, &th);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s: a YAML table is one device: ", name);
  struct oc_lut_filter filter = {.fingerprint = fp, .threads = th};
  if (family == NULL) {
    bool mbv3 = false;
    st = oc_lut_foreach(lut, &filter, family_row, &mbv3);
    if (st != oc_status_ok && st != oc_status_interrupted) return st;
    family = mbv3 ? "mbv3" : "proxyless";
  }
  oc__strcpy(report->family, sizeof report->family, family);
  oc__strcpy(report->fingerprint, sizeof report->fingerprint, fp);
  report->threads = th;
  struct yaml_export x = {out, family, unit_us, report, oc_status_ok};
  st = oc_lut_foreach(lut, &filter, yaml_export_row, &x);
  if (st != oc_status_ok) return st;
  if (ferror(out))
    return oc__fail(oc_status_io_error, "%s: write failed: %s", name, strerror(errno));
  return oc_status_ok;
}
