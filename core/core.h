/* core.h - internal helpers shared by every module: recording a failure
 * message, checked integer arithmetic, hashing, a seeded RNG and small string
 * utilities. Not part of the public API. */
#ifndef OPCOST_CORE_H
#define OPCOST_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opcost/status.h"

#if defined(__GNUC__)
#define OC__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define OC__PRINTF(fmt, args)
#endif

/* Records a message for oc_errmsg() and returns status, so that a failure
 * reads `return oc__fail(oc_status_parse_error, "file %s: line %d: ...", ...)`. */
enum oc_status oc__fail(enum oc_status status, const char *fmt, ...) OC__PRINTF(2, 3);
enum oc_status oc__vfail(enum oc_status status, const char *fmt, va_list ap);
/* Prefixes the current message with more context ("net.json: layer 3: "). */
enum oc_status oc__fail_prefix(enum oc_status status, const char *fmt, ...)
    OC__PRINTF(2, 3);

/* a*b and a+b into *out; false on int64 overflow. */
bool oc__mul64(int64_t a, int64_t b, int64_t *out);
bool oc__add64(int64_t a, int64_t b, int64_t *out);

/* FNV-1a 64-bit hash, chained through `seed` (use OC__HASH_SEED to start). */
#define OC__HASH_SEED UINT64_C(0xcbf29ce484222325)
uint64_t oc__hash64(uint64_t seed, const void *data, size_t len);
uint64_t oc__hash64_str(uint64_t seed, const char *text);

/* splitmix64-seeded xoshiro256** generator: reproducible across machines. */
struct oc__rng {
  uint64_t s[4];
};
void oc__rng_seed(struct oc__rng *rng, uint64_t seed);
uint64_t oc__rng_next(struct oc__rng *rng);
/* Uniform in [0, bound), bound >= 1, without modulo bias. */
uint64_t oc__rng_below(struct oc__rng *rng, uint64_t bound);
/* Uniform in [0, 1). */
double oc__rng_double(struct oc__rng *rng);

/* snprintf that always terminates and reports truncation as false. */
bool oc__strfmt(char *buf, size_t size, const char *fmt, ...) OC__PRINTF(3, 4);
/* Copies src into dst (size bytes), always terminated. */
void oc__strcpy(char *dst, size_t size, const char *src);

/* Parses a whole decimal integer in [min, max]; false on junk or range. */
bool oc__parse_i64(const char *text, int64_t min, int64_t max, int64_t *out);

/* opcost's per-user cache directory: override when non-empty, else
 * $XDG_CACHE_HOME/opcost, else $HOME/.cache/opcost; created (with its
 * parents) when missing. false when there is none or it cannot be made. */
bool oc__cache_dir(const char *override, char *dir, size_t size);
/* A whole file of 1..max_bytes bytes, NUL-terminated (malloc'd; *size
 * excludes the NUL); NULL when missing, empty, larger or unreadable. */
void *oc__read_file(const char *path, long max_bytes, size_t *size);
/* Writes data to path through a temporary file renamed into place, so a
 * reader never sees half a file; false on failure (nothing left behind). */
bool oc__write_file_atomic(const char *path, const void *data, size_t size);

/* Aligned allocation that oc__aligned_free releases; NULL on failure. */
void *oc__aligned_alloc(size_t alignment, size_t size);
void oc__aligned_free(void *ptr);

#endif
