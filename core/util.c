/* util.c - checked arithmetic, hashing, the reproducible RNG and string
 * helpers of core.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static bool make_dirs(const char *path) {
  char buf[512];
  if (!oc__strfmt(buf, sizeof buf, "%s", path)) return false;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return false;
    *p = '/';
  }
  return mkdir(buf, 0755) == 0 || errno == EEXIST;
}

bool oc__cache_dir(const char *override, char *dir, size_t size) {
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  bool ok;
  if (override != NULL && override[0])
    ok = oc__strfmt(dir, size, "%s", override);
  else if (xdg && xdg[0] == '/')
    ok = oc__strfmt(dir, size, "%s/opcost", xdg);
  else if (home && home[0] == '/')
    ok = oc__strfmt(dir, size, "%s/.cache/opcost", home);
  else
    return false;
  return ok && make_dirs(dir);
}

void *oc__read_file(const char *path, long max_bytes, size_t *size) {
  FILE *f = fopen(path, "rb");
  void *data = NULL;
  long len = -1;
  if (f == NULL) return NULL;
  if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
  if (len <= 0 || len > max_bytes || fseek(f, 0, SEEK_SET) != 0) goto done;
  data = malloc((size_t)len + 1);
  if (data == NULL) goto done;
  if (fread(data, 1, (size_t)len, f) != (size_t)len) {
    free(data);
    data = NULL;
    goto done;
  }
  ((char *)data)[len] = '\0';
  *size = (size_t)len;
done:
  fclose(f);
  return data;
}

bool oc__write_file_atomic(const char *path, const void *data, size_t size) {
  char tmp[600];
  if (!oc__strfmt(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid())) return false;
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) return false;
  bool ok = fwrite(data, 1, size, f) == size;
  ok = (fclose(f) == 0) && ok;
  if (ok) ok = rename(tmp, path) == 0;
  if (!ok) remove(tmp);
  return ok;
}
