/* space_load.c - reading opcost-space/1 JSON into the compiled template of
 * space_internal.h: gene declarations (space-wide, per stage block, choice
 * sets, ranges), value expressions ("$gene", "$gene[i]", lookups, "*",
 * "${gene}" interpolation, "@var"), stages unrolled into blocks, choice
 * genes into alternatives, and the checks that catch a broken template at
 * load time rather than in the middle of a search: unknown or unused genes,
 * lookups of the wrong length, depths out of range, and a decode of test
 * vectors that use every choice of every gene.
 *
 * Messages name the source and the path of the value that is wrong
 * ("ofa.json: layers[3].stage.layers[0]: field 'k': ..."). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "spaces/space_internal.h"

/* ---- small helpers --------------------------------------------------------------- */

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static char *fmtstr(const char *fmt, ...) OC__PRINTF(1, 2);
static char *fmtstr(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *p = malloc((size_t)n + 1);
  if (p == NULL) return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

static void value_text(const json_t *v, char *buf, size_t size) {
  if (json_is_string(v)) {
    snprintf(buf, size, "%s", json_string_value(v));
    return;
  }
  char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
  snprintf(buf, size, "%s", t ? t : "?");
  free(t);
  if (strlen(buf) + 1 >= size && size > 4) strcpy(buf + size - 4, "...");
}

static bool valid_name(const char *s) {
  if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
  for (const char *p = s + 1; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '_')) return false;
  return true;
}

/* Formats a number as the shortest text that reads back to the same value. */
static void number_label(double v, char *buf, size_t size) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

void oc__space_expr_free(struct sp_expr *e) {
  if (e == NULL) return;
  free(e->str);
  for (int32_t i = 0; i < e->n; i++) oc__space_expr_free(&e->items[i]);
  free(e->items);
  memset(e, 0, sizeof *e);
}

static enum oc_status expr_copy(const struct sp_expr *src, struct sp_expr *dst) {
  *dst = *src;
  dst->str = NULL;
  dst->items = NULL;
  dst->n = 0;
  if (src->str && (dst->str = dupstr(src->str)) == NULL) goto oom;
  if (src->n > 0) {
    dst->items = calloc((size_t)src->n, sizeof *dst->items);
    if (dst->items == NULL) goto oom;
    dst->n = src->n;
    for (int32_t i = 0; i < src->n; i++) {
      if (expr_copy(&src->items[i], &dst->items[i]) != oc_status_ok) goto oom;
    }
  }
  return oc_status_ok;
oom:
  oc__space_expr_free(dst);
  return oc__fail(oc_status_out_of_memory, "out of memory copying an expression");
}

/* ---- loader state ------------------------------------------------------------------- */

/* A gene declaration before genes are put in family order. */
struct decl {
  char *family;
  int32_t stage, block;
  const json_t *choices; /* array, string (choice set) or range object */
  char *path;
  int32_t gene; /* final index */
};

struct var {
  const char *name;
  struct sp_expr value;
};

struct idmap {
  const char *id;
  int32_t slot;
};

struct loader {
  const char *source;
  const json_t *root;
  const json_t *choice_sets;
  struct oc_space *sp;
  struct decl *decls;
  int32_t n_decls, cap_decls;
  /* stage items of "layers" in order: index into layers array per stage */
  int32_t *stage_item;
  /* gene reference collection of the block being compiled */
  bool *refs;
  /* global ids: top-level fixed layers */
  struct idmap *globals;
  int32_t n_globals;
  int32_t cap_units, cap_blocks;
};

/* Environment of a compilation: which genes "$name" means, which "@var". */
struct env {
  struct loader *L;
  int32_t stage, block; /* -1: top level */
  const struct var *vars;
  int32_t n_vars;
  const char *path;
};

static enum oc_status fail_at(struct loader *L, const char *path, enum oc_status st,
                              const char *fmt, ...) OC__PRINTF(4, 5);
static enum oc_status fail_at(struct loader *L, const char *path, enum oc_status st,
                              const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (path && path[0]) return oc__fail(st, "%s: %s: %s", L->source, path, msg);
  return oc__fail(st, "%s: %s", L->source, msg);
}

static enum oc_status oom(struct loader *L) {
  return oc__fail(oc_status_out_of_memory, "%s: out of memory", L->source);
}

static enum oc_status check_keys(struct loader *L, const json_t *obj, const char *path,
                                 const char *allowed) {
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)obj, key, value) {
    bool ok = false;
    const char *p = allowed;
    size_t len = strlen(key);
    while (*p) {
      while (*p == ' ') p++;
      const char *start = p;
      while (*p && *p != ' ') p++;
      if ((size_t)(p - start) == len && memcmp(start, key, len) == 0) ok = true;
    }
    if (!ok)
      return fail_at(L, path, oc_status_parse_error, "unknown field '%s' (expected: %s)", key,
                     allowed);
  }
  return oc_status_ok;
}

/* ---- gene declarations -------------------------------------------------------------- */

static enum oc_status add_decl(struct loader *L, const char *family, int32_t stage, int32_t block,
                               const json_t *choices, const char *path) {
  if (L->n_decls >= SP_MAX_GENES)
    return fail_at(L, path, oc_status_invalid_argument, "more than %d genes", SP_MAX_GENES);
  if (L->n_decls == L->cap_decls) {
    int32_t cap = L->cap_decls ? 2 * L->cap_decls : 64;
    struct decl *d = realloc(L->decls, (size_t)cap * sizeof *d);
    if (d == NULL) return oom(L);
    L->decls = d;
    L->cap_decls = cap;
  }
  struct decl *d = &L->decls[L->n_decls];
  memset(d, 0, sizeof *d);
  d->family = dupstr(family);
  d->path = dupstr(path);
  if (d->family == NULL || d->path == NULL) {
    free(d->family);
    free(d->path);
    return oom(L);
  }
  d->stage = stage;
  d->block = block;
  d->choices = choices;
  L->n_decls++;
  return oc_status_ok;
}

/* A gene declaration object: {"name": .., "choices": .., "count": n}. */
static enum oc_status parse_decl(struct loader *L, const json_t *g, const char *path, int32_t stage,
                                 int32_t block, bool allow_count, const char **name_out,
                                 int32_t *count_out) {
  if (!json_is_object(g))
    return fail_at(L, path, oc_status_parse_error,
                   "a gene is an object {\"name\": .., \"choices\": [..]}");
  enum oc_status st = check_keys(L, g, path, allow_count ? "name choices count" : "name choices");
  if (st != oc_status_ok) return st;
  const json_t *name = json_object_get(g, "name");
  if (!json_is_string(name) || !valid_name(json_string_value(name)))
    return fail_at(L, path, oc_status_parse_error,
                   "field 'name' must be a name (letters, digits, '_')");
  const json_t *choices = json_object_get(g, "choices");
  if (choices == NULL)
    return fail_at(L, path, oc_status_parse_error, "gene '%s': field 'choices' is missing",
                   json_string_value(name));
  int32_t count = 1;
  const json_t *jc = json_object_get(g, "count");
  if (jc != NULL) {
    if (!json_is_integer(jc) || json_integer_value(jc) < 1 || json_integer_value(jc) > SP_MAX_GENES)
      return fail_at(L, path, oc_status_invalid_argument,
                     "gene '%s': field 'count' must be an integer in [1, %d]",
                     json_string_value(name), SP_MAX_GENES);
    count = (int32_t)json_integer_value(jc);
  }
  for (int32_t i = 0; i < count; i++) {
    st = add_decl(L, json_string_value(name), stage, block, choices, path);
    if (st != oc_status_ok) return st;
  }
  if (name_out) *name_out = json_string_value(name);
  if (count_out) *count_out = count;
  return oc_status_ok;
}

/* Resolves a declaration's choices into the gene. */
static enum oc_status build_choices(struct loader *L, const struct decl *d, struct sp_gene *g) {
  const json_t *list = d->choices;
  char text[96];
  json_t *range_list = NULL;
  enum oc_status st = oc_status_ok;
  if (json_is_string(list)) {
    const json_t *set =
        L->choice_sets ? json_object_get(L->choice_sets, json_string_value(list)) : NULL;
    if (set == NULL)
      return fail_at(L, d->path, oc_status_not_found,
                     "gene '%s': choice set '%s' is not defined in 'choice_sets'", d->family,
                     json_string_value(list));
    list = set;
  } else if (json_is_object(list)) {
    st = check_keys(L, list, d->path, "from to step");
    if (st != oc_status_ok) return st;
    const json_t *from = json_object_get(list, "from"), *to = json_object_get(list, "to"),
                 *step = json_object_get(list, "step");
    if (!json_is_integer(from) || !json_is_integer(to) ||
        (step && (!json_is_integer(step) || json_integer_value(step) < 1)))
      return fail_at(L, d->path, oc_status_parse_error,
                     "gene '%s': a range is {\"from\": int, \"to\": int, \"step\": int >= 1}",
                     d->family);
    json_int_t a = json_integer_value(from), b = json_integer_value(to),
               s = step ? json_integer_value(step) : 1;
    if (b < a || (b - a) / s + 1 > SP_MAX_CHOICES)
      return fail_at(L, d->path, oc_status_invalid_argument,
                     "gene '%s': range from %lld to %lld step %lld is empty or too long", d->family,
                     (long long)a, (long long)b, (long long)s);
    range_list = json_array();
    if (range_list == NULL) return oom(L);
    for (json_int_t v = a; v <= b; v += s) json_array_append_new(range_list, json_integer(v));
    list = range_list;
  }
  if (!json_is_array(list) || json_array_size(list) == 0) {
    json_decref(range_list);
    return fail_at(L, d->path, oc_status_parse_error,
                   "gene '%s': 'choices' must be a non-empty array, a choice set name or a "
                   "range",
                   d->family);
  }
  size_t n = json_array_size(list);
  if (n > SP_MAX_CHOICES) {
    json_decref(range_list);
    return fail_at(L, d->path, oc_status_invalid_argument, "gene '%s': more than %d choices",
                   d->family, SP_MAX_CHOICES);
  }
  g->choices = calloc(n, sizeof *g->choices);
  if (g->choices == NULL) {
    json_decref(range_list);
    return oom(L);
  }
  g->n_choices = (int32_t)n;
  int objects = 0;
  for (size_t i = 0; i < n && st == oc_status_ok; i++) {
    const json_t *c = json_array_get(list, i);
    struct sp_choice *ch = &g->choices[i];
    char label[96];
    if (json_is_integer(c)) {
      ch->value.type = sv_int;
      ch->value.i = json_integer_value(c);
      snprintf(label, sizeof label, "%lld", (long long)ch->value.i);
    } else if (json_is_real(c)) {
      ch->value.type = sv_num;
      ch->value.num = json_real_value(c);
      number_label(ch->value.num, label, sizeof label);
    } else if (json_is_string(c)) {
      ch->value.type = sv_str;
      snprintf(label, sizeof label, "%s", json_string_value(c));
      if (strlen(json_string_value(c)) >= sizeof label) {
        st = fail_at(L, d->path, oc_status_invalid_argument,
                     "gene '%s': choice %zu is longer than %zu characters", d->family, i,
                     sizeof label - 1);
        break;
      }
    } else if (json_is_object(c)) {
      objects++;
      const json_t *jl = json_object_get(c, "label");
      if (!json_is_string(jl)) {
        value_text(c, text, sizeof text);
        st = fail_at(L, d->path, oc_status_parse_error,
                     "gene '%s': choice %zu (%s) needs a \"label\" string", d->family, i, text);
        break;
      }
      snprintf(label, sizeof label, "%s", json_string_value(jl));
      ch->object = json_incref((json_t *)c);
    } else {
      value_text(c, text, sizeof text);
      st = fail_at(L, d->path, oc_status_parse_error,
                   "gene '%s': choice %zu: value '%s' is not a number, string or object", d->family,
                   i, text);
      break;
    }
    /* Labels appear in gene text: no separators, not the inactive mark. */
    if (label[0] == '\0' || strcmp(label, "_") == 0 || strpbrk(label, ",;= \t\n") != NULL) {
      st = fail_at(L, d->path, oc_status_invalid_argument,
                   "gene '%s': choice label '%s' is empty, '_' or contains , ; = or a space",
                   d->family, label);
      break;
    }
    for (size_t j = 0; j < i; j++) {
      if (strcmp(g->choices[j].label, label) == 0) {
        st = fail_at(L, d->path, oc_status_invalid_argument,
                     "gene '%s': choice label '%s' appears twice", d->family, label);
        break;
      }
    }
    if (st != oc_status_ok) break;
    if ((ch->label = dupstr(label)) == NULL) {
      st = oom(L);
      break;
    }
    if (ch->value.type == sv_str) ch->value.str = ch->label;
    ch->word = oc__space_value_word(&ch->value);
    ch->label_hash = oc__space_str_hash(ch->label, &ch->label_pow);
  }
  if (st == oc_status_ok && objects != 0 && (size_t)objects != n)
    st = fail_at(L, d->path, oc_status_invalid_argument,
                 "gene '%s': choices mix objects (alternatives) and values", d->family);
  g->objects = objects != 0;
  json_decref(range_list);
  return st;
}

/* Orders declarations by family (families in order of first appearance),
 * builds genes and families. */
static enum oc_status build_genes(struct loader *L) {
  struct oc_space *sp = L->sp;
  int32_t n = L->n_decls;
  sp->genes = calloc(n ? (size_t)n : 1, sizeof *sp->genes);
  sp->families = calloc(n ? (size_t)n : 1, sizeof *sp->families);
  if (sp->genes == NULL || sp->families == NULL) return oom(L);
  /* Families in order of first appearance. */
  int32_t *fam_of = calloc(n ? (size_t)n : 1, sizeof *fam_of);
  if (fam_of == NULL) return oom(L);
  enum oc_status st = oc_status_ok;
  for (int32_t i = 0; i < n && st == oc_status_ok; i++) {
    int32_t f = -1;
    for (int32_t j = 0; j < sp->n_families; j++)
      if (strcmp(sp->families[j].name, L->decls[i].family) == 0) f = j;
    if (f < 0) {
      f = sp->n_families++;
      if ((sp->families[f].name = dupstr(L->decls[i].family)) == NULL) st = oom(L);
    }
    fam_of[i] = f;
    /* A family is space-wide or per block, not both. */
    for (int32_t j = 0; j < i && st == oc_status_ok; j++) {
      if (fam_of[j] == f && (L->decls[j].stage < 0) != (L->decls[i].stage < 0))
        st = fail_at(L, L->decls[i].path, oc_status_invalid_argument,
                     "gene family '%s' is declared both space-wide and in a stage",
                     L->decls[i].family);
    }
  }
  int32_t next = 0;
  for (int32_t f = 0; f < sp->n_families && st == oc_status_ok; f++) {
    sp->families[f].first = next;
    for (int32_t i = 0; i < n && st == oc_status_ok; i++) {
      if (fam_of[i] != f) continue;
      L->decls[i].gene = next;
      struct sp_gene *g = &sp->genes[next];
      g->family = f;
      g->stage = L->decls[i].stage;
      g->block = L->decls[i].block;
      st = build_choices(L, &L->decls[i], g);
      next++;
    }
    sp->families[f].count = next - sp->families[f].first;
  }
  sp->n_genes = next;
  for (int32_t i = 0; i < sp->n_genes && st == oc_status_ok; i++) {
    struct sp_gene *g = &sp->genes[i];
    const struct sp_family *f = &sp->families[g->family];
    g->name = f->count == 1 ? dupstr(f->name) : fmtstr("%s[%d]", f->name, (int)(i - f->first));
    if (g->name == NULL) st = oom(L);
  }
  free(fam_of);
  return st;
}

/* ---- expressions ---------------------------------------------------------------------- */

static void note_ref(struct env *E, int32_t gene) {
  if (E->L->refs) E->L->refs[gene] = true;
}

/* Genes read by an expression (added to the block's reference set). */
static void note_expr(struct env *E, const struct sp_expr *e) {
  if (e->kind == sp_gene || e->kind == sp_lookup) note_ref(E, e->gene);
  for (int32_t i = 0; i < e->n; i++) note_expr(E, &e->items[i]);
}

/* Resolves "name" or "name[i]" (text after '$', length len) to a gene. */
static enum oc_status resolve_gene(struct env *E, const char *text, size_t len, int32_t *gene) {
  struct loader *L = E->L;
  struct oc_space *sp = L->sp;
  char name[64];
  long index = -1;
  const char *br = memchr(text, '[', len);
  size_t nlen = br ? (size_t)(br - text) : len;
  if (nlen == 0 || nlen >= sizeof name) goto bad;
  memcpy(name, text, nlen);
  name[nlen] = '\0';
  if (!valid_name(name)) goto bad;
  if (br) {
    if (text[len - 1] != ']' || len - nlen < 3) goto bad;
    char num[16];
    size_t dl = len - nlen - 2;
    if (dl >= sizeof num) goto bad;
    memcpy(num, br + 1, dl);
    num[dl] = '\0';
    int64_t v;
    if (!oc__parse_i64(num, 0, SP_MAX_GENES, &v)) goto bad;
    index = (long)v;
  }
  int32_t f = -1;
  for (int32_t j = 0; j < sp->n_families; j++)
    if (strcmp(sp->families[j].name, name) == 0) f = j;
  if (f < 0) {
    char known[256] = "";
    for (int32_t j = 0; j < sp->n_families; j++) {
      size_t used = strlen(known);
      snprintf(known + used, sizeof known - used, "%s%s", j ? " " : "", sp->families[j].name);
    }
    return fail_at(L, E->path, oc_status_not_found, "unknown gene '%s' (genes: %s)", name,
                   known[0] ? known : "none declared");
  }
  const struct sp_family *fam = &sp->families[f];
  if (sp->genes[fam->first].stage >= 0) {
    /* A per-block family: this block's own member. */
    if (index >= 0)
      return fail_at(L, E->path, oc_status_invalid_argument,
                     "gene '%s' is declared per block; write '$%s' for this block's gene", name,
                     name);
    for (int32_t g = fam->first; g < fam->first + fam->count; g++) {
      if (sp->genes[g].stage == E->stage && sp->genes[g].block == E->block) {
        *gene = g;
        return oc_status_ok;
      }
    }
    return fail_at(L, E->path, oc_status_not_found,
                   "gene '%s' is not declared in this stage's \"genes\"", name);
  }
  if (index < 0) {
    if (fam->count != 1)
      return fail_at(L, E->path, oc_status_invalid_argument,
                     "gene '%s' has %d members; name one as '$%s[i]'", name, (int)fam->count, name);
    index = 0;
  }
  if (index >= fam->count)
    return fail_at(L, E->path, oc_status_not_found, "gene '%s[%ld]' does not exist ('%s' has %d)",
                   name, index, name, (int)fam->count);
  *gene = fam->first + (int32_t)index;
  return oc_status_ok;
bad:
  return fail_at(L, E->path, oc_status_parse_error, "'$%.*s' is not a gene reference", (int)len,
                 text);
}

static enum oc_status compile_expr(struct env *E, const json_t *v, struct sp_expr *out);

static enum oc_status compile_string(struct env *E, const char *s, struct sp_expr *out) {
  struct loader *L = E->L;
  struct oc_space *sp = L->sp;
  size_t len = strlen(s);
  if (s[0] == '$' && strstr(s, "${") == NULL) {
    int32_t g;
    enum oc_status st = resolve_gene(E, s + 1, len - 1, &g);
    if (st != oc_status_ok) return st;
    if (sp->genes[g].objects)
      return fail_at(L, E->path, oc_status_invalid_argument,
                     "gene '%s' chooses alternatives; use it as \"choice\": \"%s\"",
                     sp->genes[g].name, s);
    out->kind = sp_gene;
    out->gene = g;
    note_ref(E, g);
    return oc_status_ok;
  }
  if (s[0] == '@') {
    for (int32_t i = 0; i < E->n_vars; i++) {
      if (strcmp(E->vars[i].name, s + 1) == 0) {
        enum oc_status st = expr_copy(&E->vars[i].value, out);
        if (st == oc_status_ok) note_expr(E, out);
        return st;
      }
    }
    return fail_at(L, E->path, oc_status_not_found, "unknown variable '%s'%s", s,
                   E->n_vars ? "" : " (only stages define variables, in \"vars\")");
  }
  if (strstr(s, "${") == NULL) {
    out->kind = sp_str;
    out->str = dupstr(s);
    out->str_hash = oc__space_str_hash(s, &out->str_pow);
    return out->str ? oc_status_ok : oom(L);
  }
  /* Interpolation: constant pieces and ${gene} labels. */
  out->kind = sp_interp;
  size_t cap = 8, max_len = 0;
  out->items = calloc(cap, sizeof *out->items);
  if (out->items == NULL) return oom(L);
  const char *p = s;
  while (*p) {
    if ((size_t)out->n + 2 > cap) {
      struct sp_expr *items = realloc(out->items, 2 * cap * sizeof *items);
      if (items == NULL) return oom(L);
      memset(items + cap, 0, cap * sizeof *items);
      out->items = items;
      cap *= 2;
    }
    const char *start = strstr(p, "${");
    size_t lit = start ? (size_t)(start - p) : strlen(p);
    if (lit > 0) {
      struct sp_expr *piece = &out->items[out->n++];
      piece->kind = sp_str;
      piece->str = malloc(lit + 1);
      if (piece->str == NULL) return oom(L);
      memcpy(piece->str, p, lit);
      piece->str[lit] = '\0';
      piece->str_hash = oc__space_str_hash(piece->str, &piece->str_pow);
      max_len += lit;
    }
    if (start == NULL) break;
    const char *end = strchr(start, '}');
    if (end == NULL)
      return fail_at(L, E->path, oc_status_parse_error, "'%s': '${' without a closing '}'", s);
    int32_t g;
    enum oc_status st = resolve_gene(E, start + 2, (size_t)(end - start - 2), &g);
    if (st != oc_status_ok) return st;
    if (sp->genes[g].objects)
      return fail_at(L, E->path, oc_status_invalid_argument,
                     "gene '%s' chooses alternatives and cannot be interpolated",
                     sp->genes[g].name);
    struct sp_expr *piece = &out->items[out->n++];
    piece->kind = sp_gene;
    piece->gene = g;
    note_ref(E, g);
    size_t longest = 0;
    for (int32_t c = 0; c < sp->genes[g].n_choices; c++) {
      size_t l = strlen(sp->genes[g].choices[c].label);
      if (l > longest) longest = l;
    }
    max_len += longest;
    p = end + 1;
  }
  if (max_len >= SP_MAX_STRING)
    return fail_at(L, E->path, oc_status_invalid_argument,
                   "'%s' can grow to %zu characters, more than %d", s, max_len, SP_MAX_STRING - 1);
  return oc_status_ok;
}

static bool expr_numeric(const struct oc_space *sp, const struct sp_expr *e) {
  switch (e->kind) {
  case sp_int:
  case sp_num: return true;
  case sp_gene:
    for (int32_t c = 0; c < sp->genes[e->gene].n_choices; c++) {
      enum sp_vtype t = sp->genes[e->gene].choices[c].value.type;
      if (t != sv_int && t != sv_num) return false;
    }
    return true;
  case sp_lookup:
    for (int32_t i = 0; i < e->n; i++)
      if (!expr_numeric(sp, &e->items[i])) return false;
    return true;
  case sp_mul: return true;
  case sp_str:
  case sp_bool:
  case sp_interp: return false;
  }
  return false;
}

static enum oc_status compile_expr(struct env *E, const json_t *v, struct sp_expr *out) {
  struct loader *L = E->L;
  struct oc_space *sp = L->sp;
  char text[96];
  memset(out, 0, sizeof *out);
  if (json_is_integer(v)) {
    out->kind = sp_int;
    out->i = json_integer_value(v);
    return oc_status_ok;
  }
  if (json_is_real(v)) {
    out->kind = sp_num;
    out->num = json_real_value(v);
    return oc_status_ok;
  }
  if (json_is_boolean(v)) {
    out->kind = sp_bool;
    out->i = json_is_true(v);
    return oc_status_ok;
  }
  if (json_is_string(v)) return compile_string(E, json_string_value(v), out);
  if (json_is_object(v) && json_object_size(v) == 1) {
    const char *key = json_object_iter_key(json_object_iter((json_t *)v));
    const json_t *arg = json_object_iter_value(json_object_iter((json_t *)v));
    if (key[0] == '$') {
      int32_t g;
      enum oc_status st = resolve_gene(E, key + 1, strlen(key) - 1, &g);
      if (st != oc_status_ok) return st;
      const struct sp_gene *gene = &sp->genes[g];
      if (!json_is_array(arg) || json_array_size(arg) != (size_t)gene->n_choices)
        return fail_at(L, E->path, oc_status_invalid_argument,
                       "lookup {\"%s\": [..]} needs an array of %d values, one per choice of %s",
                       key, (int)gene->n_choices, gene->name);
      out->kind = sp_lookup;
      out->gene = g;
      note_ref(E, g);
      out->items = calloc((size_t)gene->n_choices, sizeof *out->items);
      if (out->items == NULL) return oom(L);
      out->n = gene->n_choices;
      for (int32_t i = 0; i < gene->n_choices; i++) {
        st = compile_expr(E, json_array_get(arg, (size_t)i), &out->items[i]);
        if (st != oc_status_ok) return st;
      }
      return oc_status_ok;
    }
    if (strcmp(key, "*") == 0) {
      if (!json_is_array(arg) || json_array_size(arg) != 2)
        return fail_at(L, E->path, oc_status_parse_error,
                       "{\"*\": [a, b]} multiplies exactly two values");
      out->kind = sp_mul;
      out->items = calloc(2, sizeof *out->items);
      if (out->items == NULL) return oom(L);
      out->n = 2;
      for (size_t i = 0; i < 2; i++) {
        enum oc_status st = compile_expr(E, json_array_get(arg, i), &out->items[i]);
        if (st != oc_status_ok) return st;
        if (!expr_numeric(sp, &out->items[i])) {
          value_text(json_array_get(arg, i), text, sizeof text);
          return fail_at(L, E->path, oc_status_invalid_argument,
                         "{\"*\": ..}: operand '%s' is not a number", text);
        }
      }
      return oc_status_ok;
    }
  }
  value_text(v, text, sizeof text);
  return fail_at(L, E->path, oc_status_parse_error,
                 "value '%s' is not a number, string, \"$gene\", {\"$gene\": [..]} or "
                 "{\"*\": [a, b]}",
                 text);
}

/* ---- layers, units, blocks --------------------------------------------------------- */

static int field_cmp(const void *a, const void *b) {
  return strcmp(((const struct sp_field *)a)->name, ((const struct sp_field *)b)->name);
}

static void layer_free(struct sp_layer *l) {
  free(l->op);
  for (int32_t i = 0; i < l->n_fields; i++) {
    free(l->fields[i].name);
    oc__space_expr_free(&l->fields[i].value);
  }
  free(l->fields);
  free(l->id);
  free(l->path);
}

/* Ids a layer's "inputs" may name while compiling one block instance. */
struct scope {
  struct idmap local[64];
  int32_t n_local;
  int32_t alt_start;  /* locals from here on belong to the alternative */
  const char *prefix; /* phenotype id prefix; NULL at top level (ids are global) */
  bool top_fixed;     /* a top-level layer without choice: its id is global */
};

static int32_t scope_find(const struct scope *S, const char *id) {
  for (int32_t i = S->n_local - 1; i >= 0; i--)
    if (strcmp(S->local[i].id, id) == 0) return S->local[i].slot;
  return -1;
}

static enum oc_status compile_layer(struct env *E, struct scope *S, const json_t *obj,
                                    struct sp_layer *l, int32_t *slot_counter) {
  struct loader *L = E->L;
  char text[96];
  memset(l, 0, sizeof *l);
  l->slot = -1;
  if (!json_is_object(obj))
    return fail_at(L, E->path, oc_status_parse_error, "a layer is a JSON object");
  if ((l->path = dupstr(E->path)) == NULL) return oom(L);
  const json_t *op = json_object_get(obj, "op");
  if (op == NULL) return fail_at(L, E->path, oc_status_parse_error, "field 'op' is missing");
  if (!json_is_string(op) || json_string_value(op)[0] == '$' || json_string_value(op)[0] == '@') {
    value_text(op, text, sizeof text);
    return fail_at(L, E->path, oc_status_parse_error,
                   "field 'op': value '%s' must be a literal string (choose ops with "
                   "\"choice\")",
                   text);
  }
  if ((l->op = dupstr(json_string_value(op))) == NULL) return oom(L);
  l->op_hash = oc__hash64_str(OC__HASH_SEED, l->op);
  if (*slot_counter >= SP_MAX_SLOTS)
    return fail_at(L, E->path, oc_status_invalid_argument, "more than %d layers in the template",
                   SP_MAX_SLOTS);
  l->slot = (*slot_counter)++;
  size_t nf = json_object_size(obj);
  l->fields = calloc(nf ? nf : 1, sizeof *l->fields);
  if (l->fields == NULL) return oom(L);
  const char *key;
  json_t *value;
  enum oc_status st = oc_status_ok;
  json_object_foreach((json_t *)obj, key, value) {
    if (strcmp(key, "op") == 0) continue;
    if (strcmp(key, "id") == 0) {
      if (!json_is_string(value) || !valid_name(json_string_value(value)))
        return fail_at(L, E->path, oc_status_parse_error,
                       "field 'id' must be a name (letters, digits, '_')");
      const char *id = json_string_value(value);
      if (S->top_fixed) {
        for (int32_t i = 0; i < L->n_globals; i++)
          if (strcmp(L->globals[i].id, id) == 0)
            return fail_at(L, E->path, oc_status_invalid_argument, "id '%s' is used twice", id);
        if ((l->id = dupstr(id)) == NULL) return oom(L);
        struct idmap *g = realloc(L->globals, (size_t)(L->n_globals + 1) * sizeof *g);
        if (g == NULL) return oom(L);
        L->globals = g;
        L->globals[L->n_globals].id = l->id;
        L->globals[L->n_globals].slot = l->slot;
        L->n_globals++;
      } else {
        for (int32_t i = S->alt_start; i < S->n_local; i++)
          if (strcmp(S->local[i].id, id) == 0)
            return fail_at(L, E->path, oc_status_invalid_argument, "id '%s' is used twice", id);
        if (S->n_local >= (int32_t)(sizeof S->local / sizeof S->local[0]))
          return fail_at(L, E->path, oc_status_invalid_argument, "more than 64 ids in a block");
        l->id = fmtstr("%s%s", S->prefix ? S->prefix : "", id);
        if (l->id == NULL) return oom(L);
        S->local[S->n_local].id = json_string_value(value);
        S->local[S->n_local].slot = l->slot;
        S->n_local++;
      }
      continue;
    }
    if (strcmp(key, "inputs") == 0) {
      if (!json_is_array(value) || json_array_size(value) < 1 || json_array_size(value) > 2)
        return fail_at(L, E->path, oc_status_parse_error,
                       "field 'inputs' must list one or two names");
      for (size_t i = 0; i < json_array_size(value); i++) {
        const json_t *in = json_array_get(value, i);
        if (!json_is_string(in))
          return fail_at(L, E->path, oc_status_parse_error, "field 'inputs': names are strings");
        const char *name = json_string_value(in);
        int32_t ref;
        if (strcmp(name, "input") == 0) {
          ref = SP_IN_NET;
        } else if (strcmp(name, "@in") == 0) {
          ref = S->prefix ? SP_IN_BLOCK : -100;
          if (ref == -100)
            return fail_at(L, E->path, oc_status_invalid_argument,
                           "field 'inputs': '@in' (the block's input) is only defined inside "
                           "stages and alternatives");
        } else if ((ref = scope_find(S, name)) < 0) {
          for (int32_t g = 0; g < L->n_globals; g++)
            if (strcmp(L->globals[g].id, name) == 0) ref = L->globals[g].slot;
          if (ref < 0)
            return fail_at(L, E->path, oc_status_not_found,
                           "field 'inputs': no earlier layer has id '%s'", name);
          l->global_refs = true;
        }
        l->inputs[l->n_inputs++] = ref;
      }
      continue;
    }
    if (strcmp(key, "choice") == 0 || strcmp(key, "label") == 0 || strcmp(key, "skip") == 0 ||
        strcmp(key, "layers") == 0)
      return fail_at(L, E->path, oc_status_parse_error,
                     "field '%s' belongs to a choice, not to a layer", key);
    struct sp_field *f = &l->fields[l->n_fields];
    if ((f->name = dupstr(key)) == NULL) return oom(L);
    l->n_fields++;
    f->name_hash = oc__hash64_str(OC__HASH_SEED ^ 0x5bd1e995u, key);
    char path[512];
    snprintf(path, sizeof path, "%s: field '%s'", l->path, key);
    const char *saved = E->path;
    E->path = path;
    st = compile_expr(E, value, &f->value);
    E->path = saved;
    if (st != oc_status_ok) return st;
  }
  qsort(l->fields, (size_t)l->n_fields, sizeof *l->fields, field_cmp);
  return oc_status_ok;
}

static enum oc_status push_unit(struct loader *L, struct sp_unit **u) {
  struct oc_space *sp = L->sp;
  if (sp->n_units == L->cap_units) {
    int32_t cap = L->cap_units ? 2 * L->cap_units : 64;
    struct sp_unit *p = realloc(sp->units, (size_t)cap * sizeof *p);
    if (p == NULL) return oom(L);
    sp->units = p;
    L->cap_units = cap;
  }
  *u = &sp->units[sp->n_units++];
  memset(*u, 0, sizeof **u);
  (*u)->choice_gene = -1;
  return oc_status_ok;
}

static enum oc_status compile_alt_layers(struct env *E, struct scope *S, const json_t *layers,
                                         struct sp_alt *alt, int32_t *slot_counter) {
  struct loader *L = E->L;
  if (!json_is_array(layers) || json_array_size(layers) == 0)
    return fail_at(L, E->path, oc_status_parse_error, "\"layers\" must be a non-empty array");
  size_t n = json_array_size(layers);
  alt->layers = calloc(n, sizeof *alt->layers);
  if (alt->layers == NULL) return oom(L);
  const char *base = E->path;
  enum oc_status st = oc_status_ok;
  for (size_t i = 0; i < n && st == oc_status_ok; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s.layers[%zu]", base, i);
    E->path = path;
    st = compile_layer(E, S, json_array_get(layers, i), &alt->layers[i], slot_counter);
    alt->n_layers = (int32_t)i + 1;
  }
  E->path = base;
  return st;
}

/* One template layer of a block: fixed, or chosen by a gene. */
static enum oc_status compile_unit(struct env *E, struct scope *S, const json_t *obj,
                                   int32_t *slot_counter) {
  struct loader *L = E->L;
  struct oc_space *sp = L->sp;
  struct sp_unit *u;
  enum oc_status st = push_unit(L, &u);
  if (st != oc_status_ok) return st;
  int32_t unit_index = sp->n_units - 1;
  if (!json_is_object(obj))
    return fail_at(L, E->path, oc_status_parse_error, "a layer is an object");
  const json_t *choice = json_object_get(obj, "choice");
  if (choice == NULL) {
    struct sp_alt *alt = calloc(1, sizeof *alt);
    if (alt == NULL) return oom(L);
    sp->units[unit_index].alts = alt;
    sp->units[unit_index].n_alts = 1;
    alt->layers = calloc(1, sizeof *alt->layers);
    if (alt->layers == NULL) return oom(L);
    alt->n_layers = 1;
    S->alt_start = 0;
    return compile_layer(E, S, obj, &alt->layers[0], slot_counter);
  }
  if (!json_is_string(choice) || json_string_value(choice)[0] != '$')
    return fail_at(L, E->path, oc_status_parse_error,
                   "field 'choice' must name a gene (\"$name\")");
  int32_t g;
  const char *cs = json_string_value(choice);
  st = resolve_gene(E, cs + 1, strlen(cs) - 1, &g);
  if (st != oc_status_ok) return st;
  const struct sp_gene *gene = &sp->genes[g];
  if (!gene->objects)
    return fail_at(L, E->path, oc_status_invalid_argument,
                   "field 'choice': gene '%s' has values, not alternatives (objects with a "
                   "\"label\")",
                   gene->name);
  note_ref(E, g);
  u = &sp->units[unit_index];
  u->choice_gene = g;
  u->alts = calloc((size_t)gene->n_choices, sizeof *u->alts);
  if (u->alts == NULL) return oom(L);
  u->n_alts = gene->n_choices;
  const char *base = E->path;
  int32_t saved_locals = S->n_local;
  for (int32_t c = 0; c < gene->n_choices && st == oc_status_ok; c++) {
    const json_t *alt_obj = gene->choices[c].object;
    struct sp_alt *alt = &sp->units[unit_index].alts[c];
    char path[512];
    snprintf(path, sizeof path, "%s (choice %s)", base, gene->choices[c].label);
    E->path = path;
    S->n_local = saved_locals;
    S->alt_start = saved_locals;
    const json_t *skip = json_object_get(alt_obj, "skip");
    const json_t *layers = json_object_get(alt_obj, "layers");
    if (skip != NULL) {
      if (!json_is_true(skip) || json_object_size(alt_obj) != 2)
        st = fail_at(L, path, oc_status_parse_error,
                     "a skip choice is {\"label\": .., \"skip\": true} and nothing else");
      alt->skip = true;
    } else if (layers != NULL) {
      if (json_object_size(obj) != 1)
        st = fail_at(L, path, oc_status_parse_error,
                     "a choice with \"layers\" replaces the whole layer: the layer may have "
                     "only \"choice\"");
      else if (json_object_size(alt_obj) != 2)
        st = fail_at(L, path, oc_status_parse_error,
                     "a choice with \"layers\" has only \"label\" and \"layers\"");
      else
        st = compile_alt_layers(E, S, layers, alt, slot_counter);
    } else {
      json_t *merged = json_deep_copy(obj);
      if (merged == NULL) {
        st = oom(L);
        break;
      }
      json_object_del(merged, "choice");
      const char *key;
      json_t *value;
      json_object_foreach((json_t *)alt_obj, key, value) {
        if (strcmp(key, "label") == 0) continue;
        if (json_object_get(merged, key) != NULL) {
          st = fail_at(L, path, oc_status_invalid_argument,
                       "field '%s' is set both by the layer and by the choice", key);
          break;
        }
        json_object_set(merged, key, value);
      }
      if (st == oc_status_ok) {
        alt->layers = calloc(1, sizeof *alt->layers);
        if (alt->layers == NULL)
          st = oom(L);
        else {
          alt->n_layers = 1;
          st = compile_layer(E, S, merged, &alt->layers[0], slot_counter);
        }
      }
      json_decref(merged);
    }
  }
  E->path = base;
  /* Ids inside alternatives are not visible to later layers of the block. */
  S->n_local = saved_locals;
  S->alt_start = saved_locals;
  return st;
}

static enum oc_status push_block(struct loader *L, int32_t stage, int32_t index, const char *path,
                                 struct sp_block **b) {
  struct oc_space *sp = L->sp;
  if (sp->n_blocks == L->cap_blocks) {
    int32_t cap = L->cap_blocks ? 2 * L->cap_blocks : 64;
    struct sp_block *p = realloc(sp->blocks, (size_t)cap * sizeof *p);
    if (p == NULL) return oom(L);
    sp->blocks = p;
    L->cap_blocks = cap;
  }
  *b = &sp->blocks[sp->n_blocks++];
  memset(*b, 0, sizeof **b);
  (*b)->stage = stage;
  (*b)->index = index;
  (*b)->first_unit = sp->n_units;
  (*b)->path = dupstr(path);
  return (*b)->path ? oc_status_ok : oom(L);
}

/* Records the genes the block reads (L->refs) and closes it. */
static enum oc_status finish_block(struct loader *L, int32_t b, int32_t first_slot, int32_t slots) {
  struct oc_space *sp = L->sp;
  struct sp_block *blk = &sp->blocks[b];
  blk->n_units = sp->n_units - blk->first_unit;
  blk->first_slot = first_slot;
  blk->n_slots = slots - first_slot;
  int32_t n = 0;
  for (int32_t g = 0; g < sp->n_genes; g++) n += L->refs[g];
  blk->genes = malloc((size_t)(n ? n : 1) * sizeof *blk->genes);
  if (blk->genes == NULL) return oom(L);
  for (int32_t g = 0; g < sp->n_genes; g++) {
    if (L->refs[g]) blk->genes[blk->n_genes++] = g;
    L->refs[g] = false;
  }
  for (int32_t u = blk->first_unit; u < blk->first_unit + blk->n_units; u++)
    for (int32_t a = 0; a < sp->units[u].n_alts; a++)
      for (int32_t i = 0; i < sp->units[u].alts[a].n_layers; i++)
        if (sp->units[u].alts[a].layers[i].global_refs) blk->global_refs = sp->global_refs = true;
  return oc_status_ok;
}

/* ---- stages ----------------------------------------------------------------------------- */

static enum oc_status stage_vars(struct env *E, const json_t *vars, const json_t *first,
                                 int32_t block, struct var **out, int32_t *n_out) {
  struct loader *L = E->L;
  size_t cap = json_object_size(vars) + json_object_size(first);
  struct var *v = calloc(cap ? cap : 1, sizeof *v);
  if (v == NULL) return oom(L);
  *out = v;
  *n_out = 0;
  const json_t *sources[2] = {vars, block == 0 ? first : NULL};
  const char *base = E->path;
  for (int s = 0; s < 2; s++) {
    if (sources[s] == NULL) continue;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)sources[s], key, value) {
      if (!valid_name(key) || strcmp(key, "in") == 0)
        return fail_at(L, base, oc_status_parse_error,
                       "variable '%s' must be a name other than 'in'", key);
      int32_t at = -1;
      for (int32_t i = 0; i < *n_out; i++)
        if (strcmp(v[i].name, key) == 0) at = i;
      if (at >= 0) {
        oc__space_expr_free(&v[at].value);
      } else {
        if (s == 1)
          return fail_at(L, base, oc_status_invalid_argument,
                         "\"first\" sets '%s', which \"vars\" does not define", key);
        at = (*n_out)++;
        v[at].name = key;
      }
      char path[512];
      snprintf(path, sizeof path, "%s.%s.%s", base, s ? "first" : "vars", key);
      E->path = path;
      /* Variables read only space-wide and this block's genes. */
      enum oc_status st = compile_expr(E, value, &v[at].value);
      E->path = base;
      if (st != oc_status_ok) return st;
    }
  }
  return oc_status_ok;
}

static void vars_free(struct var *v, int32_t n) {
  for (int32_t i = 0; i < n; i++) oc__space_expr_free(&v[i].value);
  free(v);
}

/* Collects the gene declarations of a stage (first pass). */
static enum oc_status collect_stage(struct loader *L, const json_t *st_obj, const char *path,
                                    int32_t stage, int32_t *blocks_out) {
  enum oc_status st =
      check_keys(L, st_obj, path, "name blocks depth genes first_genes vars first layers");
  if (st != oc_status_ok) return st;
  const json_t *blocks = json_object_get(st_obj, "blocks");
  if (!json_is_integer(blocks) || json_integer_value(blocks) < 1 ||
      json_integer_value(blocks) > SP_MAX_BLOCKS_PER_STAGE)
    return fail_at(L, path, oc_status_parse_error, "field 'blocks' must be an integer in [1, %d]",
                   SP_MAX_BLOCKS_PER_STAGE);
  int32_t nb = (int32_t)json_integer_value(blocks);
  *blocks_out = nb;
  const json_t *genes = json_object_get(st_obj, "genes");
  const json_t *first = json_object_get(st_obj, "first_genes");
  if (genes && !json_is_array(genes))
    return fail_at(L, path, oc_status_parse_error, "field 'genes' must be an array");
  if (first && !json_is_array(first))
    return fail_at(L, path, oc_status_parse_error, "field 'first_genes' must be an array");
  for (size_t i = 0; first && i < json_array_size(first); i++) {
    const json_t *fg = json_array_get(first, i);
    const json_t *fname = json_is_object(fg) ? json_object_get(fg, "name") : NULL;
    bool found = false;
    for (size_t j = 0; genes && j < json_array_size(genes); j++) {
      const json_t *gname = json_object_get(json_array_get(genes, j), "name");
      if (json_is_string(fname) && json_is_string(gname) && json_equal(fname, gname)) found = true;
    }
    if (!found)
      return fail_at(L, path, oc_status_invalid_argument,
                     "first_genes[%zu] replaces no gene of \"genes\" (same name)", i);
  }
  for (int32_t b = 0; b < nb; b++) {
    for (size_t i = 0; genes && i < json_array_size(genes); i++) {
      const json_t *g = json_array_get(genes, i);
      const json_t *gname = json_is_object(g) ? json_object_get(g, "name") : NULL;
      for (size_t j = 0; b == 0 && first && j < json_array_size(first); j++) {
        const json_t *fg = json_array_get(first, j);
        if (json_is_string(gname) && json_equal(json_object_get(fg, "name"), gname)) g = fg;
      }
      char gpath[512];
      snprintf(gpath, sizeof gpath, "%s.%s[%zu]", path,
               g == json_array_get(genes, i) ? "genes" : "first_genes", i);
      st = parse_decl(L, g, gpath, stage, b, false, NULL, NULL);
      if (st != oc_status_ok) return st;
    }
  }
  return oc_status_ok;
}

static enum oc_status compile_stage(struct loader *L, const json_t *st_obj, const char *path,
                                    int32_t stage, int32_t *slot_counter) {
  struct oc_space *sp = L->sp;
  struct sp_stage *S = &sp->stages[stage];
  const json_t *jname = json_object_get(st_obj, "name");
  if (jname && (!json_is_string(jname) || !valid_name(json_string_value(jname))))
    return fail_at(L, path, oc_status_parse_error, "field 'name' must be a name");
  S->name = jname ? dupstr(json_string_value(jname)) : fmtstr("stage%d", (int)stage);
  if (S->name == NULL) return oom(L);
  S->blocks = (int32_t)json_integer_value(json_object_get(st_obj, "blocks"));
  S->first_block = sp->n_blocks;
  S->depth_gene = -1;
  /* Depth: a constant, "$g" or a lookup over one space-wide gene. */
  struct env E = {L, -1, -1, NULL, 0, NULL};
  char dpath[512];
  snprintf(dpath, sizeof dpath, "%s: field 'depth'", path);
  E.path = dpath;
  const json_t *depth = json_object_get(st_obj, "depth");
  enum oc_status st;
  if (depth == NULL) {
    S->depth.kind = sp_int;
    S->depth.i = S->blocks;
  } else {
    bool *saved = L->refs;
    bool *depth_refs = calloc((size_t)sp->n_genes + 1, sizeof *depth_refs);
    if (depth_refs == NULL) return oom(L);
    L->refs = depth_refs;
    st = compile_expr(&E, depth, &S->depth);
    L->refs = saved;
    int32_t n = 0;
    for (int32_t g = 0; g < sp->n_genes; g++) {
      if (depth_refs[g]) {
        n++;
        S->depth_gene = g;
      }
    }
    free(depth_refs);
    if (st != oc_status_ok) return st;
    if (n > 1)
      return fail_at(L, dpath, oc_status_invalid_argument, "a depth may read one gene, not %d",
                     (int)n);
  }
  int32_t nd = S->depth_gene >= 0 ? sp->genes[S->depth_gene].n_choices : 1;
  S->depth_of = calloc((size_t)nd, sizeof *S->depth_of);
  if (S->depth_of == NULL) return oom(L);
  int32_t *probe = calloc((size_t)sp->n_genes + 1, sizeof *probe);
  if (probe == NULL) return oom(L);
  for (int32_t c = 0; c < nd; c++) {
    if (S->depth_gene >= 0) probe[S->depth_gene] = c;
    struct sp_value v;
    char buf[SP_MAX_STRING];
    oc__space_eval(sp, &S->depth, probe, &v, buf);
    int64_t d = v.type == sv_int ? v.i : -1;
    if (v.type == sv_num && v.num == floor(v.num)) d = (int64_t)v.num;
    if (d < 0 || d > S->blocks) {
      free(probe);
      return fail_at(
          L, dpath, oc_status_invalid_argument,
          "depth %s%s%s gives %s, not a whole number in [0, %d] (the blocks)",
          S->depth_gene >= 0 ? "for " : "", S->depth_gene >= 0 ? sp->genes[S->depth_gene].name : "",
          S->depth_gene >= 0 ? "" : "", v.type == sv_str ? v.str : "a value", (int)S->blocks);
    }
    S->depth_of[c] = (int32_t)d;
  }
  free(probe);
  const json_t *layers = json_object_get(st_obj, "layers");
  if (!json_is_array(layers) || json_array_size(layers) == 0)
    return fail_at(L, path, oc_status_parse_error, "field 'layers' must be a non-empty array");
  const json_t *vars = json_object_get(st_obj, "vars");
  const json_t *first = json_object_get(st_obj, "first");
  if ((vars && !json_is_object(vars)) || (first && !json_is_object(first)))
    return fail_at(L, path, oc_status_parse_error, "fields 'vars' and 'first' must be objects");
  for (int32_t b = 0; b < S->blocks; b++) {
    char bpath[512];
    snprintf(bpath, sizeof bpath, "%s (%s block %d)", path, S->name, (int)b);
    struct sp_block *blk;
    st = push_block(L, stage, b, bpath, &blk);
    if (st != oc_status_ok) return st;
    int32_t block_index = sp->n_blocks - 1;
    int32_t first_slot = *slot_counter;
    struct env BE = {L, stage, b, NULL, 0, bpath};
    struct var *v = NULL;
    int32_t nv = 0;
    st = stage_vars(&BE, vars, first, b, &v, &nv);
    BE.vars = v;
    BE.n_vars = nv;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "%s.%d.", S->name, (int)b);
    struct scope scope;
    memset(&scope, 0, sizeof scope);
    scope.prefix = prefix;
    for (size_t i = 0; i < json_array_size(layers) && st == oc_status_ok; i++) {
      char lpath[600];
      snprintf(lpath, sizeof lpath, "%s.layers[%zu]", bpath, i);
      BE.path = lpath;
      st = compile_unit(&BE, &scope, json_array_get(layers, i), slot_counter);
    }
    vars_free(v, nv);
    if (st == oc_status_ok) st = finish_block(L, block_index, first_slot, *slot_counter);
    if (st != oc_status_ok) return st;
  }
  return oc_status_ok;
}

/* ---- top level ------------------------------------------------------------------------- */

static enum oc_status parse_root(struct loader *L) {
  const json_t *root = L->root;
  struct oc_space *sp = L->sp;
  if (!json_is_object(root))
    return fail_at(L, NULL, oc_status_parse_error, "a space is a JSON object");
  enum oc_status st =
      check_keys(L, root, "top level",
                 "format name summary description source dtype genes choice_sets input layers");
  if (st != oc_status_ok) return st;
  const json_t *format = json_object_get(root, "format");
  if (format == NULL)
    return fail_at(L, NULL, oc_status_parse_error, "field 'format' is missing (expected \"%s\")",
                   OC_SPACE_FORMAT);
  if (!json_is_string(format) || strcmp(json_string_value(format), OC_SPACE_FORMAT) != 0) {
    char text[64];
    value_text(format, text, sizeof text);
    return fail_at(L, NULL, oc_status_incompatible, "field 'format': value '%s' is not \"%s\"",
                   text, OC_SPACE_FORMAT);
  }
  const json_t *name = json_object_get(root, "name");
  if (!json_is_string(name) || json_string_length(name) == 0 ||
      json_string_length(name) >= OC_NET_NAME_MAX)
    return fail_at(L, NULL, oc_status_parse_error,
                   "field 'name' must be a string of 1 to %d characters", OC_NET_NAME_MAX - 1);
  const json_t *summary = json_object_get(root, "summary");
  const json_t *source = json_object_get(root, "source");
  if ((summary && !json_is_string(summary)) || (source && !json_is_string(source)))
    return fail_at(L, NULL, oc_status_parse_error, "fields 'summary' and 'source' are strings");
  sp->name = dupstr(json_string_value(name));
  sp->summary = dupstr(summary ? json_string_value(summary) : "");
  sp->source = dupstr(source ? json_string_value(source) : "");
  if (!sp->name || !sp->summary || !sp->source) return oom(L);
  sp->dtype = oc_dtype_f32;
  const json_t *dtype = json_object_get(root, "dtype");
  if (dtype && (!json_is_string(dtype) ||
                oc_dtype_from_name(json_string_value(dtype), &sp->dtype) != oc_status_ok))
    return fail_at(L, NULL, oc_status_invalid_argument,
                   "field 'dtype' is not a dtype (f32 f16 qs8)");
  L->choice_sets = json_object_get(root, "choice_sets");
  if (L->choice_sets && !json_is_object(L->choice_sets))
    return fail_at(L, NULL, oc_status_parse_error, "field 'choice_sets' must be an object");
  /* Pass 1: gene declarations, space-wide then per stage block. */
  const json_t *genes = json_object_get(root, "genes");
  if (genes && !json_is_array(genes))
    return fail_at(L, NULL, oc_status_parse_error, "field 'genes' must be an array");
  for (size_t i = 0; genes && i < json_array_size(genes); i++) {
    char path[64];
    snprintf(path, sizeof path, "genes[%zu]", i);
    st = parse_decl(L, json_array_get(genes, i), path, -1, -1, true, NULL, NULL);
    if (st != oc_status_ok) return st;
  }
  const json_t *layers = json_object_get(root, "layers");
  if (!json_is_array(layers) || json_array_size(layers) == 0)
    return fail_at(L, NULL, oc_status_parse_error, "field 'layers' must be a non-empty array");
  size_t n_items = json_array_size(layers);
  for (size_t i = 0; i < n_items; i++) {
    const json_t *item = json_array_get(layers, i);
    const json_t *stage = json_is_object(item) ? json_object_get(item, "stage") : NULL;
    if (stage == NULL) continue;
    char path[64];
    snprintf(path, sizeof path, "layers[%zu].stage", i);
    if (json_object_size(item) != 1 || !json_is_object(stage))
      return fail_at(L, path, oc_status_parse_error,
                     "a stage item is {\"stage\": {..}} and nothing else");
    int32_t nb;
    st = collect_stage(L, stage, path, sp->n_stages, &nb);
    if (st != oc_status_ok) return st;
    sp->n_stages++;
  }
  st = build_genes(L);
  if (st != oc_status_ok) return st;
  L->refs = calloc((size_t)sp->n_genes + 1, sizeof *L->refs);
  sp->stages = calloc((size_t)sp->n_stages + 1, sizeof *sp->stages);
  if (L->refs == NULL || sp->stages == NULL) return oom(L);
  /* Input shape. */
  const json_t *input = json_object_get(root, "input");
  if (!json_is_object(input))
    return fail_at(L, NULL, oc_status_parse_error, "field 'input' must be {\"h\", \"w\", \"c\"}");
  st = check_keys(L, input, "input", "h w c");
  if (st != oc_status_ok) return st;
  const char *dims[3] = {"h", "w", "c"};
  for (int d = 0; d < 3; d++) {
    const json_t *v = json_object_get(input, dims[d]);
    char path[32];
    snprintf(path, sizeof path, "input.%s", dims[d]);
    if (v == NULL) return fail_at(L, path, oc_status_parse_error, "missing");
    struct env E = {L, -1, -1, NULL, 0, path};
    st = compile_expr(&E, v, &sp->input[d]);
    if (st != oc_status_ok) return st;
    if (!expr_numeric(sp, &sp->input[d]))
      return fail_at(L, path, oc_status_invalid_argument, "the input size must be a number");
  }
  sp->resolution_gene = sp->input[0].kind == sp_gene ? sp->input[0].gene : -1;
  int32_t n_in = 0;
  for (int32_t g = 0; g < sp->n_genes; g++) n_in += L->refs[g];
  sp->input_genes = malloc((size_t)(n_in ? n_in : 1) * sizeof *sp->input_genes);
  if (sp->input_genes == NULL) return oom(L);
  bool *used = calloc((size_t)sp->n_genes + 1, sizeof *used);
  if (used == NULL) return oom(L);
  for (int32_t g = 0; g < sp->n_genes; g++) {
    if (L->refs[g]) sp->input_genes[sp->n_input_genes++] = g;
    used[g] = L->refs[g];
    L->refs[g] = false;
  }
  /* Pass 2: compile layers and stages. */
  int32_t slots = 0, stage = 0;
  for (size_t i = 0; i < n_items && st == oc_status_ok; i++) {
    const json_t *item = json_array_get(layers, i);
    char path[64];
    if (json_is_object(item) && json_object_get(item, "stage")) {
      snprintf(path, sizeof path, "layers[%zu].stage", i);
      st = compile_stage(L, json_object_get(item, "stage"), path, stage++, &slots);
      continue;
    }
    snprintf(path, sizeof path, "layers[%zu]", i);
    struct sp_block *blk;
    st = push_block(L, -1, 0, path, &blk);
    if (st != oc_status_ok) break;
    int32_t b = sp->n_blocks - 1, first_slot = slots;
    struct env E = {L, -1, -1, NULL, 0, path};
    char prefix[32];
    snprintf(prefix, sizeof prefix, "L%zu.", i);
    struct scope scope;
    memset(&scope, 0, sizeof scope);
    bool chosen = json_is_object(item) && json_object_get(item, "choice") != NULL;
    scope.prefix = chosen ? prefix : NULL;
    scope.top_fixed = !chosen;
    st = compile_unit(&E, &scope, item, &slots);
    if (st == oc_status_ok) st = finish_block(L, b, first_slot, slots);
  }
  sp->n_slots = slots;
  if (st != oc_status_ok) {
    free(used);
    return st;
  }
  /* Every gene must be read somewhere; last reader per gene. */
  sp->last_block = malloc((size_t)(sp->n_genes ? sp->n_genes : 1) * sizeof *sp->last_block);
  if (sp->last_block == NULL) {
    free(used);
    return oom(L);
  }
  for (int32_t g = 0; g < sp->n_genes; g++) sp->last_block[g] = -1;
  for (int32_t b = 0; b < sp->n_blocks; b++) {
    for (int32_t i = 0; i < sp->blocks[b].n_genes; i++) {
      sp->last_block[sp->blocks[b].genes[i]] = b;
      used[sp->blocks[b].genes[i]] = true;
    }
    /* A depth gene is read by every block of its stages. */
    int32_t block_stage = sp->blocks[b].stage;
    int32_t dg = block_stage >= 0 ? sp->stages[block_stage].depth_gene : -1;
    if (dg >= 0) {
      if (sp->last_block[dg] < b) sp->last_block[dg] = b;
      used[dg] = true;
    }
  }
  for (int32_t g = 0; g < sp->n_genes; g++) {
    if (!used[g]) {
      const char *where = "";
      for (int32_t i = 0; i < L->n_decls; i++)
        if (L->decls[i].gene == g) where = L->decls[i].path;
      st =
          fail_at(L, where, oc_status_invalid_argument,
                  "gene '%s' is declared but no layer, depth or input reads it", sp->genes[g].name);
      break;
    }
  }
  free(used);
  return st;
}

/* ---- validation by decoding -------------------------------------------------------------- */

/* Decodes vectors that together use every choice of every gene (up to 64
 * per gene, and the last), with stages at full depth, plus the all-zero
 * vector. */
static enum oc_status validate(struct oc_space *sp, const char *source) {
  int32_t max_choices = 1;
  for (int32_t g = 0; g < sp->n_genes; g++)
    if (sp->genes[g].n_choices > max_choices) max_choices = sp->genes[g].n_choices;
  int32_t rounds = max_choices < 64 ? max_choices : 64;
  int32_t *genes = calloc((size_t)sp->n_genes + 1, sizeof *genes);
  if (genes == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", source);
  enum oc_status st = oc_status_ok;
  for (int32_t r = 0; r <= rounds && st == oc_status_ok; r++) {
    for (int32_t g = 0; g < sp->n_genes; g++) {
      int32_t n = sp->genes[g].n_choices;
      genes[g] = r == rounds ? 0 : (r < n ? r : n - 1);
      if (r == rounds - 1) genes[g] = n - 1;
    }
    if (r < rounds) {
      /* Full depth, so every block's genes are tried. */
      for (int32_t s = 0; s < sp->n_stages; s++) {
        const struct sp_stage *S = &sp->stages[s];
        if (S->depth_gene < 0) continue;
        int32_t best = 0;
        for (int32_t c = 0; c < sp->genes[S->depth_gene].n_choices; c++)
          if (S->depth_of[c] > S->depth_of[best]) best = c;
        genes[S->depth_gene] = best;
      }
    }
    struct oc_net *net = NULL;
    st = oc_space_decode(sp, genes, (size_t)sp->n_genes, &net);
    oc_net_free(net);
    if (st != oc_status_ok) {
      char text[512];
      if (oc_space_format_genes(sp, genes, (size_t)sp->n_genes, true, text, sizeof text) !=
          oc_status_ok)
        snprintf(text, sizeof text, "(long)");
      st = oc__fail_prefix(st, "%s: checking vector %s: ", source, text);
    }
  }
  free(genes);
  return st;
}

/* ---- public ------------------------------------------------------------------------------- */

static void loader_free(struct loader *L) {
  for (int32_t i = 0; i < L->n_decls; i++) {
    free(L->decls[i].family);
    free(L->decls[i].path);
  }
  free(L->decls);
  free(L->refs);
  free(L->globals);
}

enum oc_status oc_space_from_string(const char *text, const char *source, struct oc_space **space) {
  *space = NULL;
  if (source == NULL) source = "space";
  json_error_t err;
  json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
  if (root == NULL)
    return oc__fail(oc_status_parse_error, "%s: line %d, column %d: %s", source, err.line,
                    err.column, err.text);
  struct oc_space *sp = calloc(1, sizeof *sp);
  struct loader L;
  memset(&L, 0, sizeof L);
  L.source = source;
  L.root = root;
  L.sp = sp;
  enum oc_status st = sp ? oc_status_ok : oom(&L);
  if (st == oc_status_ok && (sp->origin = dupstr(source)) == NULL) st = oom(&L);
  if (st == oc_status_ok) st = oc__space_memo_init(sp);
  if (st == oc_status_ok) st = parse_root(&L);
  /* Alternatives are compiled: the choice objects are no longer needed. */
  for (int32_t g = 0; sp && g < sp->n_genes; g++)
    for (int32_t c = 0; c < sp->genes[g].n_choices; c++) {
      json_decref(sp->genes[g].choices[c].object);
      sp->genes[g].choices[c].object = NULL;
    }
  loader_free(&L);
  json_decref(root);
  if (st == oc_status_ok) st = validate(sp, source);
  if (st != oc_status_ok) {
    oc_space_free(sp);
    return st;
  }
  *space = sp;
  return oc_status_ok;
}

enum oc_status oc_space_load_file(const char *path, struct oc_space **space) {
  *space = NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL) return oc__fail(oc_status_io_error, "%s: cannot open: %s", path, strerror(errno));
  char *text = NULL;
  size_t len = 0, cap = 0;
  enum oc_status st = oc_status_ok;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? 2 * cap : 16384;
      if (cap > ((size_t)64 << 20)) {
        st = oc__fail(oc_status_invalid_argument, "%s: larger than 64 MiB", path);
        break;
      }
      char *p = realloc(text, cap);
      if (p == NULL) {
        st = oc__fail(oc_status_out_of_memory, "%s: out of memory", path);
        break;
      }
      text = p;
    }
    size_t got = fread(text + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0) break;
  }
  if (st == oc_status_ok && ferror(f)) st = oc__fail(oc_status_io_error, "%s: read error", path);
  fclose(f);
  if (st == oc_status_ok) {
    text[len] = '\0';
    st = oc_space_from_string(text, path, space);
  }
  free(text);
  return st;
}

void oc_space_free(struct oc_space *sp) {
  if (sp == NULL) return;
  oc__space_memo_free(sp);
  free(sp->name);
  free(sp->summary);
  free(sp->source);
  free(sp->origin);
  for (int d = 0; d < 3; d++) oc__space_expr_free(&sp->input[d]);
  for (int32_t g = 0; sp->genes && g < sp->n_genes; g++) {
    for (int32_t c = 0; c < sp->genes[g].n_choices; c++) {
      free(sp->genes[g].choices[c].label);
      json_decref(sp->genes[g].choices[c].object);
    }
    free(sp->genes[g].choices);
    free(sp->genes[g].name);
  }
  free(sp->genes);
  for (int32_t f = 0; sp->families && f < sp->n_families; f++) free(sp->families[f].name);
  free(sp->families);
  for (int32_t s = 0; sp->stages && s < sp->n_stages; s++) {
    free(sp->stages[s].name);
    oc__space_expr_free(&sp->stages[s].depth);
    free(sp->stages[s].depth_of);
  }
  free(sp->stages);
  for (int32_t b = 0; b < sp->n_blocks; b++) {
    free(sp->blocks[b].genes);
    free(sp->blocks[b].path);
  }
  free(sp->blocks);
  for (int32_t u = 0; u < sp->n_units; u++) {
    for (int32_t a = 0; a < sp->units[u].n_alts; a++) {
      for (int32_t i = 0; i < sp->units[u].alts[a].n_layers; i++)
        layer_free(&sp->units[u].alts[a].layers[i]);
      free(sp->units[u].alts[a].layers);
    }
    free(sp->units[u].alts);
  }
  free(sp->units);
  free(sp->input_genes);
  free(sp->last_block);
  free(sp);
}
