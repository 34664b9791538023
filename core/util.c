/* util.c - checked arithmetic, hashing, the reproducible RNG and string
 * helpers of core.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

bool oc__mul64(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}

bool oc__add64(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_add_overflow(a, b, out);
}

uint64_t oc__hash64(uint64_t seed, const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t h = seed;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

uint64_t oc__hash64_str(uint64_t seed, const char *text) {
  return oc__hash64(seed, text, strlen(text));
}

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void oc__rng_seed(struct oc__rng *rng, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t oc__rng_next(struct oc__rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t oc__rng_below(struct oc__rng *rng, uint64_t bound) {
  if (bound <= 1) return 0;
  /* Rejection of the short top range keeps every value equally likely; the
   * loop ends with probability >= 1/2 per draw. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do {
    x = oc__rng_next(rng);
  } while (x >= limit);
  return x % bound;
}

double oc__rng_double(struct oc__rng *rng) {
  return (double)(oc__rng_next(rng) >> 11) * 0x1.0p-53;
}

bool oc__strfmt(char *buf, size_t size, const char *fmt, ...) {
  if (size == 0) return false;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n >= 0 && (size_t)n < size;
}

void oc__strcpy(char *dst, size_t size, const char *src) {
  if (size == 0) return;
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

bool oc__parse_i64(const char *text, int64_t min, int64_t max, int64_t *out) {
  if (text == NULL || *text == '\0') return false;
  const char *p = text;
  if (*p == '+' || *p == '-') p++;
  if (*p < '0' || *p > '9') return false;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno == ERANGE || end == text || *end != '\0') return false;
  if (v < min || v > max) return false;
  *out = (int64_t)v;
  return true;
}

void *oc__aligned_alloc(size_t alignment, size_t size) {
  void *p = NULL;
  if (size == 0) size = alignment;
  if (posix_memalign(&p, alignment, size) != 0) return NULL;
  return p;
}

void oc__aligned_free(void *ptr) { free(ptr); }
