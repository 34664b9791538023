/* status.c - oc_status names and exit codes (generated from OC_STATUS_MAP) and
 * the per-thread failure message behind oc_errmsg(). A thread-local buffer is
 * the "per-context message" of STYLE.md for functions that have no handle of
 * their own to carry one (key parsing, JSON loading). */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

#define OC_ERRMSG_MAX 1024

static _Thread_local char errmsg[OC_ERRMSG_MAX];

const char *oc_status_str(enum oc_status status) {
  switch (status) {
#define OC_STATUS_STR(name, code, text) \
  case oc_status_##name:                \
    return text;
    OC_STATUS_MAP(OC_STATUS_STR)
#undef OC_STATUS_STR
  case oc_status__count:
    break;
  }
  return "unknown status";
}

const char *oc_status_name(enum oc_status status) {
  switch (status) {
#define OC_STATUS_NAME(name, code, text) \
  case oc_status_##name:                 \
    return #name;
    OC_STATUS_MAP(OC_STATUS_NAME)
#undef OC_STATUS_NAME
  case oc_status__count:
    break;
  }
  return "unknown";
}

int oc_status_exit_code(enum oc_status status) {
  switch (status) {
#define OC_STATUS_CODE(name, code, text) \
  case oc_status_##name:                 \
    return code;
    OC_STATUS_MAP(OC_STATUS_CODE)
#undef OC_STATUS_CODE
  case oc_status__count:
    break;
  }
  return 1;
}

const char *oc_errmsg(void) { return errmsg; }

void oc_errclear(void) { errmsg[0] = '\0'; }

enum oc_status oc__vfail(enum oc_status status, const char *fmt, va_list ap) {
  vsnprintf(errmsg, sizeof errmsg, fmt, ap);
  return status;
}

enum oc_status oc__fail(enum oc_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  oc__vfail(status, fmt, ap);
  va_end(ap);
  return status;
}

enum oc_status oc__fail_prefix(enum oc_status status, const char *fmt, ...) {
  char prefix[OC_ERRMSG_MAX];
  char old[OC_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, errmsg, sizeof old);
  const char *rest = old[0] ? old : oc_status_str(status);
  size_t plen = strlen(prefix);
  size_t rlen = strlen(rest);
  if (rlen > sizeof errmsg - 1 - plen) rlen = sizeof errmsg - 1 - plen; /* plen < OC_ERRMSG_MAX */
  memcpy(errmsg, prefix, plen);
  memcpy(errmsg + plen, rest, rlen);
  errmsg[plen + rlen] = '\0';
  return status;
}
