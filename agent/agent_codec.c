/* agent_codec.c - what both ends of the agent protocol compute the same way:
 * base64 of tensor bytes (RFC 4648 alphabet, padded) and the build id of an
 * agent executable (FNV-1a 64 of its bytes), which the host compares with
 * the one a running agent reports to decide whether to push a new one. */
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "core/core.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t oc__b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

void oc__b64_encode(const void *data, size_t n, char *out) {
  const unsigned char *p = data;
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = alphabet[v >> 18 & 63];
    out[o++] = alphabet[v >> 12 & 63];
    out[o++] = alphabet[v >> 6 & 63];
    out[o++] = alphabet[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0u);
    out[o++] = alphabet[v >> 18 & 63];
    out[o++] = alphabet[v >> 12 & 63];
    out[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
}

static int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

enum oc_status oc__b64_decode(const char *text, size_t len, void *out, size_t size,
                              size_t *decoded) {
  unsigned char *o = out;
  size_t n = 0;
  if (len % 4 != 0)
    return oc__fail(oc_status_parse_error, "base64: length %zu is not a multiple of 4", len);
  for (size_t i = 0; i < len; i += 4) {
    int s[4];
    int pad = 0;
    for (int j = 0; j < 4; j++) {
      char c = text[i + (size_t)j];
      if (c == '=' && i + 4 == len && j >= 2) {
        s[j] = 0;
        pad++;
        continue;
      }
      s[j] = pad ? -1 : sextet(c);
      if (s[j] < 0)
        return oc__fail(oc_status_parse_error, "base64: bad character at offset %zu",
                        i + (size_t)j);
    }
    uint32_t v = (uint32_t)s[0] << 18 | (uint32_t)s[1] << 12 | (uint32_t)s[2] << 6 | (uint32_t)s[3];
    size_t bytes = 3 - (size_t)pad;
    if (n + bytes > size)
      return oc__fail(oc_status_overflow, "base64: more than the %zu bytes expected", size);
    o[n++] = (unsigned char)(v >> 16);
    if (bytes > 1) o[n++] = (unsigned char)(v >> 8 & 255);
    if (bytes > 2) o[n++] = (unsigned char)(v & 255);
  }
  *decoded = n;
  return oc_status_ok;
}

enum oc_status oc__agent_build_id(const char *path, char out[17]) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return oc__fail(oc_status_io_error, "cannot read the agent '%s'", path);
  uint64_t h = OC__HASH_SEED;
  unsigned char buf[65536];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) h = oc__hash64(h, buf, got);
  bool bad = ferror(f) != 0;
  fclose(f);
  if (bad) return oc__fail(oc_status_io_error, "error reading the agent '%s'", path);
  oc__strfmt(out, 17, "%016llx", (unsigned long long)h);
  return oc_status_ok;
}
