/* status.h - the one status type every fallible opcost function returns.
 *
 * The list is an X-macro so that the enum, oc_status_str() and the CLI's exit
 * codes are generated from one place (libuv's UV_ERRNO_MAP does the same).
 * Details of a failure (the file, line, field or op key that was wrong) go to
 * a per-thread message read with oc_errmsg(); the status only says what kind
 * of failure it was. */
#ifndef OPCOST_STATUS_H
#define OPCOST_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, exit code of the CLI, description) */
#define OC_STATUS_MAP(X)                                                     \
  X(ok, 0, "success")                                                        \
  X(invalid_argument, 3, "invalid argument")                                 \
  X(parse_error, 4, "parse error")                                           \
  X(overflow, 5, "value out of range")                                       \
  X(unsupported, 6, "not supported by this target")                          \
  X(unavailable, 7, "unavailable on this machine")                           \
  X(not_found, 8, "not found")                                               \
  X(io_error, 9, "input/output error")                                       \
  X(out_of_memory, 10, "out of memory")                                      \
  X(device_error, 11, "device error")                                        \
  X(timeout, 12, "timed out")                                                \
  X(mismatch, 13, "results differ")                                          \
  X(incompatible, 14, "incompatible version or format")                      \
  X(interrupted, 15, "interrupted")                                          \
  X(internal, 16, "internal error")

enum oc_status {
#define OC_STATUS_ENUM(name, code, text) oc_status_##name,
  OC_STATUS_MAP(OC_STATUS_ENUM)
#undef OC_STATUS_ENUM
      oc_status__count
};

/* Short description of a status ("invalid argument"); never NULL. */
const char *oc_status_str(enum oc_status status);

/* Enumerator name without prefix ("invalid_argument"); never NULL. */
const char *oc_status_name(enum oc_status status);

/* Process exit code the CLI uses for this status (0 for ok, distinct per status). */
int oc_status_exit_code(enum oc_status status);

/* Message of the most recent failure on this thread, naming what was wrong
 * (for example "key 'conv2d.f32 h=0 ...': field 'h': value '0' must be >= 1").
 * Empty string when none has been recorded. Valid until the next opcost call
 * on this thread that fails. */
const char *oc_errmsg(void);

/* Clears the message of this thread. */
void oc_errclear(void);

#ifdef __cplusplus
}
#endif
#endif
