/* search_acc.c - a table of known accuracies (NAS-Bench-201 style): a CSV
 * file mapping architectures, by gene text or phenotype hash, to accuracy.
 * Rows are keyed by phenotype hash so any gene vector of the same network
 * finds them. Fields follow RFC 4180 (gene text has commas and must be
 * quoted: "r=224;d=4,2,3,4,4;..."). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_internal.h"

#define ACC_MAX_FIELDS 256

struct acc_slot {
  uint64_t hash;
  double accuracy;
  bool used;
};

struct oc_search_accuracy {
  struct acc_slot *slots;
  size_t mask, n;
};

void oc_search_accuracy_free(struct oc_search_accuracy *t) {
  if (t == NULL) return;
  free(t->slots);
  free(t);
}

size_t oc_search_accuracy_size(const struct oc_search_accuracy *t) { return t->n; }

bool oc_search_accuracy_get(const struct oc_search_accuracy *t, uint64_t hash, double *accuracy) {
  size_t j = (size_t)(hash ^ (hash >> 31)) & t->mask;
  while (t->slots[j].used) {
    if (t->slots[j].hash == hash) {
      *accuracy = t->slots[j].accuracy;
      return true;
    }
    j = (j + 1) & t->mask;
  }
  return false;
}

/* Inserts; *clash gets the stored value when the hash is there already. */
static enum oc_status put(struct oc_search_accuracy *t, uint64_t hash, double acc, bool *present,
                          double *stored) {
  *present = false;
  if (t->slots == NULL || 2 * (t->n + 1) > t->mask + 1) {
    size_t cap = t->slots ? 2 * (t->mask + 1) : 1024;
    struct acc_slot *s = calloc(cap, sizeof *s);
    if (s == NULL) return oc__fail(oc_status_out_of_memory, "accuracy table: out of memory");
    for (size_t i = 0; t->slots && i <= t->mask; i++) {
      if (!t->slots[i].used) continue;
      size_t j = (size_t)(t->slots[i].hash ^ (t->slots[i].hash >> 31)) & (cap - 1);
      while (s[j].used) j = (j + 1) & (cap - 1);
      s[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->mask = cap - 1;
  }
  size_t j = (size_t)(hash ^ (hash >> 31)) & t->mask;
  while (t->slots[j].used) {
    if (t->slots[j].hash == hash) {
      *present = true;
      *stored = t->slots[j].accuracy;
      return oc_status_ok;
    }
    j = (j + 1) & t->mask;
  }
  t->slots[j] = (struct acc_slot){hash, acc, true};
  t->n++;
  return oc_status_ok;
}

/* Splits one CSV line in place into fields (quotes removed). Returns the
 * field count, or -1 for an unterminated quote. */
static int split_csv(char *line, char **fields, int max) {
  int n = 0;
  char *p = line, *out = line;
  for (;;) {
    if (n == max) return n;
    fields[n++] = out;
    if (*p == '"') {
      p++;
      for (;;) {
        if (*p == '\0') return -1;
        if (*p == '"' && p[1] == '"') {
          *out++ = '"';
          p += 2;
        } else if (*p == '"') {
          p++;
          break;
        } else {
          *out++ = *p++;
        }
      }
      while (*p && *p != ',') p++;
    } else {
      while (*p && *p != ',') *out++ = *p++;
    }
    if (*p == ',') {
      *out++ = '\0';
      p++;
      continue;
    }
    *out = '\0';
    return n;
  }
}

static void trim(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == '\t'))
    s[--n] = '\0';
  size_t i = 0;
  while (s[i] == ' ' || s[i] == '\t') i++;
  if (i) memmove(s, s + i, n - i + 1);
}

enum oc_status oc_search_accuracy_load(const struct oc_space *space, const char *path,
                                       struct oc_search_accuracy **out) {
  *out = NULL;
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return oc__fail(oc_status_io_error, "accuracy table %s: %s", path, strerror(errno));
  struct oc_search_accuracy *t = calloc(1, sizeof *t);
  size_t ng = oc_space_gene_count(space);
  int32_t *genes = calloc(ng + 1, sizeof *genes);
  char *line = NULL;
  size_t cap = 0;
  enum oc_status st = oc_status_ok;
  if (t == NULL || genes == NULL) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto done;
  }
  int col_genes = -1, col_hash = -1, col_acc = -1, ncols = 0;
  long lineno = 0;
  char *fields[ACC_MAX_FIELDS];
  while (getline(&line, &cap, f) >= 0) {
    lineno++;
    trim(line);
    if (line[0] == '\0' || line[0] == '#') continue;
    int n = split_csv(line, fields, ACC_MAX_FIELDS);
    if (n < 0) {
      st = oc__fail(oc_status_parse_error, "%s: line %ld: unterminated quote", path, lineno);
      goto done;
    }
    for (int i = 0; i < n; i++) trim(fields[i]);
    if (ncols == 0) {
      ncols = n;
      for (int i = 0; i < n; i++) {
        if (strcmp(fields[i], "genes") == 0)
          col_genes = i;
        else if (strcmp(fields[i], "hash") == 0)
          col_hash = i;
        else if (strcmp(fields[i], "accuracy") == 0)
          col_acc = i;
      }
      if (col_acc < 0 || (col_genes < 0 && col_hash < 0)) {
        st = oc__fail(oc_status_parse_error,
                      "%s: line %ld: the header must name an \"accuracy\" column and a "
                      "\"genes\" or \"hash\" column",
                      path, lineno);
        goto done;
      }
      continue;
    }
    if (n != ncols) {
      st = oc__fail(oc_status_parse_error, "%s: line %ld: %d fields, the header has %d", path,
                    lineno, n, ncols);
      goto done;
    }
    char *end = NULL;
    errno = 0;
    double acc = strtod(fields[col_acc], &end);
    if (end == fields[col_acc] || *end != '\0' || !isfinite(acc)) {
      st = oc__fail(oc_status_parse_error, "%s: line %ld: column accuracy: '%s' is not a number",
                    path, lineno, fields[col_acc]);
      goto done;
    }
    uint64_t hash = 0;
    if (col_hash >= 0 && fields[col_hash][0] != '\0') {
      const char *h = fields[col_hash];
      if (strlen(h) != 16 || strspn(h, "0123456789abcdefABCDEF") != 16) {
        st = oc__fail(oc_status_parse_error, "%s: line %ld: column hash: '%s' is not 16 hex digits",
                      path, lineno, h);
        goto done;
      }
      hash = strtoull(h, NULL, 16);
    } else if (col_genes >= 0) {
      st = oc_space_parse_genes(space, fields[col_genes], genes, ng);
      if (st == oc_status_ok) st = oc_space_phenotype_hash(space, genes, ng, &hash);
      if (st != oc_status_ok) {
        st = oc__fail_prefix(st, "%s: line %ld: column genes: ", path, lineno);
        goto done;
      }
    } else {
      st = oc__fail(oc_status_parse_error, "%s: line %ld: no genes and no hash", path, lineno);
      goto done;
    }
    bool present;
    double stored;
    st = put(t, hash, acc, &present, &stored);
    if (st != oc_status_ok) goto done;
    if (present && stored != acc) {
      st = oc__fail(oc_status_invalid_argument,
                    "%s: line %ld: phenotype %016llx is listed before with accuracy %.17g, here "
                    "%.17g",
                    path, lineno, (unsigned long long)hash, stored, acc);
      goto done;
    }
  }
  if (ferror(f)) {
    st = oc__fail(oc_status_io_error, "%s: read error", path);
    goto done;
  }
  if (ncols == 0) {
    st = oc__fail(oc_status_parse_error, "%s: empty (no header line)", path);
    goto done;
  }
  if (t->slots == NULL) {
    /* An empty table still answers lookups (with "not found"). */
    t->slots = calloc(1, sizeof *t->slots);
    t->mask = 0;
    if (t->slots == NULL) st = oc__fail(oc_status_out_of_memory, "out of memory");
  }
done:
  free(line);
  free(genes);
  fclose(f);
  if (st != oc_status_ok) {
    oc_search_accuracy_free(t);
    return st;
  }
  *out = t;
  return oc_status_ok;
}
