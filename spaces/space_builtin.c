/* space_builtin.c - the built-in search spaces by name. Their definitions
 * are the JSON files of spaces/builtin/, embedded into the library when it
 * is configured (spaces/builtin/CMakeLists.txt), so that no space is C code
 * and the library needs no data directory at run time. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "spaces/space_internal.h"

size_t oc_space_builtin_count(void) { return oc__space_builtin_n; }

const char *oc_space_builtin_name(size_t index) {
  return index < oc__space_builtin_n ? oc__space_builtins[index].name : NULL;
}

const char *oc_space_builtin_text(const char *name) {
  for (size_t i = 0; i < oc__space_builtin_n; i++)
    if (strcmp(oc__space_builtins[i].name, name) == 0) return oc__space_builtins[i].json;
  return NULL;
}

enum oc_status oc_space_builtin(const char *name, struct oc_space **space) {
  *space = NULL;
  for (size_t i = 0; i < oc__space_builtin_n; i++) {
    if (strcmp(oc__space_builtins[i].name, name) != 0) continue;
    char source[160];
    snprintf(source, sizeof source, "builtin:%s", name);
    return oc_space_from_string(oc__space_builtins[i].json, source, space);
  }
  char known[1024] = "";
  for (size_t i = 0; i < oc__space_builtin_n; i++) {
    size_t used = strlen(known);
    snprintf(known + used, sizeof known - used, "%s%s", i ? " " : "", oc__space_builtins[i].name);
  }
  return oc__fail(oc_status_not_found, "unknown space '%s' (built-in spaces: %s)", name,
                  known[0] ? known : "none");
}

enum oc_status oc_space_open(const char *name_or_path, struct oc_space **space) {
  size_t len = strlen(name_or_path);
  bool path = strchr(name_or_path, '/') != NULL ||
              (len > 5 && strcmp(name_or_path + len - 5, ".json") == 0);
  return path ? oc_space_load_file(name_or_path, space) : oc_space_builtin(name_or_path, space);
}
