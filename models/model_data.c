/* model_data.c - what a model is fitted on: kernel rows read from a LUT
 * (one device, one thread count) and networks measured end to end, read from
 * the JSON Lines that `opcost net measure --save` writes.
 *
 * LUT rows a kernel model cannot use are counted, not silently dropped:
 * block-granularity rows (a model predicts kernels and composes them),
 * kinds outside ops.def (imported tables) and keys that do not parse. */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "models/model_internal.h"

enum oc_status oc_model_data_create(struct oc_model_data **data) {
  *data = calloc(1, sizeof **data);
  if (*data == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for training data");
  (*data)->threads = 1;
  return oc_status_ok;
}

void oc_model_data_free(struct oc_model_data *data) {
  if (data == NULL) return;
  free(data->samples);
  free(data);
}

enum oc_status oc_model_data_add(struct oc_model_data *data, const struct oc_op *op,
                                 double median_us) {
  if (!(median_us > 0) || !isfinite(median_us))
    return oc__fail(oc_status_invalid_argument, "training row: latency %g us must be > 0",
                    median_us);
  enum oc_status st = oc_op_validate(op);
  if (st != oc_status_ok) return st;
  if (data->n == data->cap) {
    size_t cap = data->cap ? data->cap * 2 : 256;
    struct oc_model_sample *s = realloc(data->samples, cap * sizeof *s);
    if (s == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for %zu rows", cap);
    data->samples = s;
    data->cap = cap;
  }
  data->samples[data->n].op = *op;
  data->samples[data->n].median_us = median_us;
  data->n++;
  return oc_status_ok;
}

struct lut_walk {
  struct oc_model_data *data;
  enum oc_status st;
};

static int take_row(void *ctx, const struct oc_lut_row *row) {
  struct lut_walk *w = ctx;
  struct oc_model_data *data = w->data;
  if (data->target[0] == '\0') oc__strcpy(data->target, sizeof data->target, row->target);
  if (row->granularity != oc_lut_kernel) {
    data->skipped_block++;
    return 0;
  }
  enum oc_op_kind kind;
  if (oc_op_kind_from_name(row->kind, &kind) != oc_status_ok) {
    data->skipped_kind++;
    return 0;
  }
  struct oc_op op;
  if (oc_op_parse(row->key, &op) != oc_status_ok) {
    data->skipped_key++;
    return 0;
  }
  if (!(row->median_us > 0) || !isfinite(row->median_us)) {
    data->skipped_latency++;
    return 0;
  }
  w->st = oc_model_data_add(data, &op, row->median_us);
  return w->st != oc_status_ok;
}

enum oc_status oc_model_data_from_lut(struct oc_lut *lut, const char *fingerprint, int32_t threads,
                                      struct oc_model_data **out) {
  struct oc_model_data *data = NULL;
  char fp[17];
  int32_t th = 0;
  *out = NULL;
  enum oc_status st = oc_lut_resolve(lut, fingerprint, threads, fp, &th);
  if (st == oc_status_not_found)
    return oc__fail_prefix(st,
                           "0 usable kernel rows (fitting needs at least %d): ", OC_MODEL_MIN_ROWS);
  if (st != oc_status_ok) return st;
  st = oc_model_data_create(&data);
  if (st != oc_status_ok) return st;
  oc__strcpy(data->fingerprint, sizeof data->fingerprint, fp);
  data->threads = th;
  struct oc_lut_device dev;
  memset(&dev, 0, sizeof dev);
  if (oc_lut_get_device(lut, fp, &dev) == oc_status_ok) {
    oc__strcpy(data->device_name, sizeof data->device_name, dev.name);
    oc__strcpy(data->isa, sizeof data->isa, dev.isa);
    oc__strcpy(data->target, sizeof data->target, dev.target);
  }
  oc_errclear();
  struct oc_lut_filter filter = {fp, th, NULL};
  struct lut_walk walk = {data, oc_status_ok};
  st = oc_lut_foreach(lut, &filter, take_row, &walk);
  if (st == oc_status_interrupted) st = walk.st;
  if (st != oc_status_ok) {
    oc_model_data_free(data);
    return st;
  }
  *out = data;
  return oc_status_ok;
}

/* ---- measured networks ---- */

enum oc_status oc_model_netset_create(struct oc_model_netset **nets) {
  *nets = calloc(1, sizeof **nets);
  if (*nets == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for networks");
  return oc_status_ok;
}

void oc_model_netset_free(struct oc_model_netset *nets) {
  if (nets == NULL) return;
  for (size_t i = 0; i < nets->n; i++) oc_net_free(nets->items[i].net);
  free(nets->items);
  free(nets);
}

/* The family a network name implies: the name without a trailing
 * "-<size or version>" part ("resnet-50" -> "resnet", "mobilenetv2-1.0" ->
 * "mobilenetv2"); networks sampled from a space carry the space's name
 * ("ofa-mbv3-w1.0"), which stays whole. */
static void family_of(const char *name, char *family, size_t size) {
  oc__strcpy(family, size, name);
  char *dash = strrchr(family, '-');
  if (dash != NULL && dash != family && dash[1] >= '0' && dash[1] <= '9') *dash = '\0';
}

enum oc_status oc_model_netset_add(struct oc_model_netset *nets, struct oc_net *net,
                                   double measured_us, const char *family) {
  if (!(measured_us > 0) || !isfinite(measured_us)) {
    oc__fail(oc_status_invalid_argument, "network '%s': measured latency %g us must be > 0",
             net->name, measured_us);
    oc_net_free(net);
    return oc_status_invalid_argument;
  }
  if (nets->n == nets->cap) {
    size_t cap = nets->cap ? nets->cap * 2 : 16;
    struct oc_model_net_sample *s = realloc(nets->items, cap * sizeof *s);
    if (s == NULL) {
      oc_net_free(net);
      return oc__fail(oc_status_out_of_memory, "out of memory for %zu networks", cap);
    }
    nets->items = s;
    nets->cap = cap;
  }
  struct oc_model_net_sample *it = &nets->items[nets->n++];
  memset(it, 0, sizeof *it);
  it->net = net;
  it->measured_us = measured_us;
  oc__strcpy(it->name, sizeof it->name, net->name);
  if (family != NULL && family[0] != '\0')
    oc__strcpy(it->family, sizeof it->family, family);
  else
    family_of(net->name, it->family, sizeof it->family);
  return oc_status_ok;
}

/* "median_us" of obj, of obj.stats, of obj.measurement(.stats). */
static bool find_median(const json_t *obj, double *us) {
  const json_t *v = json_object_get(obj, "median_us");
  if (json_is_number(v)) {
    *us = json_number_value(v);
    return true;
  }
  const json_t *stats = json_object_get(obj, "stats");
  if (json_is_object(stats) && find_median(stats, us)) return true;
  const json_t *m = json_object_get(obj, "measurement");
  return json_is_object(m) && find_median(m, us);
}

static const char *find_fingerprint(const json_t *obj) {
  const char *fp = json_string_value(json_object_get(obj, "fingerprint"));
  if (fp != NULL) return fp;
  static const char *const holders[] = {"device", "env", "measurement"};
  for (size_t i = 0; i < sizeof holders / sizeof holders[0]; i++) {
    const json_t *h = json_object_get(obj, holders[i]);
    if (json_is_object(h) && (fp = find_fingerprint(h)) != NULL) return fp;
  }
  return NULL;
}

struct named_net {
  struct oc_net *net;
  const char *file;
};

static enum oc_status parse_line(const char *path, long line_no, const char *line,
                                 const struct named_net *known, size_t n_known,
                                 struct oc_model_netset *nets) {
  json_error_t err;
  json_t *obj = json_loads(line, 0, &err);
  struct oc_net *net = NULL;
  char where[1200];
  enum oc_status st = oc_status_ok;
  snprintf(where, sizeof where, "%s: line %ld", path, line_no);
  if (obj == NULL)
    return oc__fail(oc_status_parse_error, "%s, column %d: %s", where, err.column, err.text);
  if (!json_is_object(obj)) {
    st = oc__fail(oc_status_parse_error, "%s: not a JSON object", where);
    goto done;
  }
  double us = 0;
  if (!find_median(obj, &us)) {
    st = oc__fail(oc_status_invalid_argument,
                  "%s: field 'median_us': missing (nor in 'stats' or 'measurement')", where);
    goto done;
  }
  if (!(us > 0) || !isfinite(us)) {
    st = oc__fail(oc_status_invalid_argument, "%s: field 'median_us': value %g must be > 0", where,
                  us);
    goto done;
  }
  const json_t *jnet = json_object_get(obj, "net");
  const char *file = json_string_value(json_object_get(obj, "net_path"));
  if (file == NULL) file = json_string_value(json_object_get(obj, "path"));
  const char *hash = json_string_value(json_object_get(obj, "hash"));
  if (json_is_object(jnet)) {
    st = oc_net_load_json(jnet, where, &net);
  } else if (file != NULL) {
    char resolved[4096];
    if (file[0] == '/') {
      oc__strcpy(resolved, sizeof resolved, file);
    } else {
      char dir_buf[4096];
      oc__strcpy(dir_buf, sizeof dir_buf, path);
      const char *dir = dirname(dir_buf);
      if (!oc__strfmt(resolved, sizeof resolved, "%s/%s", dir, file)) {
        st = oc__fail(oc_status_invalid_argument, "%s: field 'path': too long", where);
        goto done;
      }
    }
    st = oc_net_load_file(resolved, &net);
    if (st != oc_status_ok) oc__fail_prefix(st, "%s: ", where);
  } else if (hash != NULL) {
    const struct named_net *match = NULL;
    for (size_t i = 0; i < n_known && match == NULL; i++)
      if (strcmp(known[i].net->hash_hex, hash) == 0) match = &known[i];
    if (match == NULL) {
      const char *name = json_string_value(json_object_get(obj, "name"));
      st = oc__fail(oc_status_not_found,
                    "%s: network '%s' (hash %s) is not among the %zu network files given; "
                    "pass its opcost-net/1 file",
                    where, name != NULL ? name : "?", hash, n_known);
      goto done;
    }
    st = oc_net_load_file(match->file, &net); /* a copy the set owns */
  } else {
    st = oc__fail(oc_status_invalid_argument,
                  "%s: no network: give 'net', 'path' or 'hash' (with the network file)", where);
  }
  if (st != oc_status_ok) goto done;
  const char *name = json_string_value(json_object_get(obj, "name"));
  const char *family = json_string_value(json_object_get(obj, "family"));
  st = oc_model_netset_add(nets, net, us, family);
  net = NULL;
  if (st != oc_status_ok) {
    oc__fail_prefix(st, "%s: ", where);
    goto done;
  }
  struct oc_model_net_sample *it = &nets->items[nets->n - 1];
  if (name != NULL) {
    oc__strcpy(it->name, sizeof it->name, name);
    if (family == NULL) family_of(name, it->family, sizeof it->family);
  }
  const char *fp = find_fingerprint(obj);
  if (fp != NULL) oc__strcpy(it->fingerprint, sizeof it->fingerprint, fp);
  const json_t *th = json_object_get(obj, "threads");
  if (json_is_integer(th)) it->threads = (int32_t)json_integer_value(th);
done:
  oc_net_free(net);
  json_decref(obj);
  return st;
}

enum oc_status oc_model_netset_load(const char *path, const char *const *net_files,
                                    size_t n_net_files, struct oc_model_netset **out) {
  struct oc_model_netset *nets = NULL;
  struct named_net *known = NULL;
  FILE *f = NULL;
  char *line = NULL;
  size_t cap = 0;
  *out = NULL;
  enum oc_status st = oc_model_netset_create(&nets);
  if (st != oc_status_ok) return st;
  if (n_net_files > 0) {
    known = calloc(n_net_files, sizeof *known);
    if (known == NULL) {
      st = oc__fail(oc_status_out_of_memory, "out of memory for %zu networks", n_net_files);
      goto done;
    }
    for (size_t i = 0; i < n_net_files; i++) {
      known[i].file = net_files[i];
      st = oc_net_load_file(net_files[i], &known[i].net);
      if (st != oc_status_ok) goto done;
    }
  }
  f = fopen(path, "r");
  if (f == NULL) {
    st = oc__fail(oc_status_io_error, "%s: cannot open: %s", path, strerror(errno));
    goto done;
  }
  long line_no = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    line_no++;
    const char *p = line;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (*p == '\0') continue;
    st = parse_line(path, line_no, line, known, n_net_files, nets);
    if (st != oc_status_ok) goto done;
  }
  if (ferror(f)) {
    st = oc__fail(oc_status_io_error, "%s: read error after line %ld", path, line_no);
    goto done;
  }
  *out = nets;
  nets = NULL;
done:
  if (f != NULL) fclose(f);
  free(line);
  for (size_t i = 0; known != NULL && i < n_net_files; i++) oc_net_free(known[i].net);
  free(known);
  oc_model_netset_free(nets);
  return st;
}
