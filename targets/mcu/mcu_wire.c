/* mcu_wire.c - framing, CRC, hex, tokens, the qs8 rounding rule and the
 * arena buffer sizes shared by the host side of the mcu target and its
 * firmware (see mcu_wire.h). Kept free of anything but string.h so that the
 * same file builds for the host and for arm-none-eabi. */
#include <string.h>

#include "targets/mcu/mcu_wire.h"

uint32_t oc__mcu_crc32(uint32_t crc, const void *data, size_t len) {
  const uint8_t *p = data;
  crc = ~crc;
  for (size_t i = 0; i < len; i++) {
    crc ^= p[i];
    for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static const char hex_digits[] = "0123456789abcdef";

static bool printable(uint8_t c) { return c >= 0x20 && c <= 0x7e; }

size_t oc__mcu_frame(const char *body, char *out, size_t out_size) {
  size_t len = strlen(body);
  /* body, " *", 8 digits, "\n", NUL */
  if (len == 0 || len + 12 > out_size || len + 11 > OC_MCU_LINE_MAX) return 0;
  for (size_t i = 0; i < len; i++) {
    if (!printable((uint8_t)body[i])) return 0;
  }
  uint32_t crc = oc__mcu_crc32(0, body, len);
  memmove(out, body, len);
  out[len] = ' ';
  out[len + 1] = '*';
  for (int i = 0; i < 8; i++) out[len + 2 + (size_t)i] = hex_digits[(crc >> (28 - 4 * i)) & 0xfu];
  out[len + 10] = '\n';
  out[len + 11] = '\0';
  return len + 11;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum oc__mcu_frame_check oc__mcu_unframe(char *line) {
  size_t len = strlen(line);
  if (len < 11 || line[len - 10] != ' ' || line[len - 9] != '*') return oc__mcu_frame_no_crc;
  uint32_t want = 0;
  for (size_t i = len - 8; i < len; i++) {
    int v = hex_value(line[i]);
    if (v < 0) return oc__mcu_frame_no_crc;
    want = (want << 4) | (uint32_t)v;
  }
  if (oc__mcu_crc32(0, line, len - 10) != want) return oc__mcu_frame_bad_crc;
  line[len - 10] = '\0';
  return oc__mcu_frame_ok;
}

void oc__mcu_lines_reset(struct oc__mcu_lines *lines) {
  lines->len = 0;
  lines->line_len = 0;
  lines->bad = false;
  lines->buf[0] = '\0';
}

enum oc__mcu_feed oc__mcu_lines_feed(struct oc__mcu_lines *lines, uint8_t byte) {
  if (byte == '\n') {
    bool bad = lines->bad;
    lines->buf[lines->len < OC_MCU_LINE_MAX ? lines->len : OC_MCU_LINE_MAX - 1] = '\0';
    size_t len = lines->len;
    lines->len = 0;
    lines->bad = false;
    if (bad) return oc__mcu_feed_garbage;
    if (len == 0) return oc__mcu_feed_more; /* blank lines are keep-alives */
    lines->line_len = len;
    return oc__mcu_feed_line;
  }
  if (byte == '\r') return oc__mcu_feed_more;
  if (!printable(byte) || lines->len + 1 >= OC_MCU_LINE_MAX) {
    lines->bad = true;
    return oc__mcu_feed_more;
  }
  if (!lines->bad) lines->buf[lines->len++] = (char)byte;
  return oc__mcu_feed_more;
}

void oc__mcu_hex_encode(const void *data, size_t n, char *out) {
  const uint8_t *p = data;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex_digits[p[i] >> 4];
    out[2 * i + 1] = hex_digits[p[i] & 0xfu];
  }
  out[2 * n] = '\0';
}

bool oc__mcu_hex_decode(const char *text, size_t text_len, void *out, size_t n) {
  uint8_t *p = out;
  if (text_len != 2 * n) return false;
  for (size_t i = 0; i < n; i++) {
    int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    p[i] = (uint8_t)((hi << 4) | lo);
  }
  return true;
}

int oc__mcu_tokens(char *body, char **tokens, int max) {
  int n = 0;
  char *p = body;
  while (*p != '\0' && n < max) {
    while (*p == ' ') p++;
    if (*p == '\0') break;
    tokens[n++] = p;
    while (*p != '\0' && *p != ' ') p++;
    if (*p == ' ') *p++ = '\0';
  }
  return n;
}

bool oc__mcu_parse_int(const char *text, int64_t min, int64_t max, int64_t *out) {
  const char *p = text;
  bool negative = false;
  if (*p == '-' || *p == '+') negative = *p++ == '-';
  if (*p == '\0') return false;
  int64_t value = 0;
  for (; *p != '\0'; p++) {
    if (*p < '0' || *p > '9') return false;
    if (value > (INT64_MAX - 9) / 10) return false;
    value = value * 10 + (*p - '0');
  }
  if (negative) value = -value;
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

int32_t oc__mcu_requant(int64_t acc, int32_t mult, int32_t shift) {
  int64_t product = acc * (int64_t)mult + ((int64_t)1 << (shift - 1));
  return (int32_t)(product >> shift);
}

int32_t oc__mcu_div_round(int32_t sum, int32_t count) {
  if (sum >= 0) return (sum + count / 2) / count;
  return -((-sum + count / 2) / count);
}

int64_t oc__mcu_align(int64_t bytes) {
  return (bytes + (OC_MCU_ALIGN - 1)) / OC_MCU_ALIGN * OC_MCU_ALIGN;
}

bool oc__mcu_buffer_sizes(const struct oc_op *op, int32_t oh, int32_t ow,
                          int64_t bytes[oc__mcu_buf__count]) {
  for (int i = 0; i < oc__mcu_buf__count; i++) bytes[i] = 0;
  bool q = op->dtype == oc_dtype_qs8;
  if (!q && op->dtype != oc_dtype_f32) return false;
  const int64_t es = q ? 1 : 4; /* element size of activations and weights */
  const int64_t hw = (int64_t)op->h * op->w;
  switch (op->kind) {
  case oc_op_conv2d: {
    int64_t cin_g = op->cin / (op->g > 0 ? op->g : 1);
    int64_t taps = (int64_t)op->k * op->k * cin_g;
    bytes[oc__mcu_buf_weights] = op->cout * taps * es;
    bytes[oc__mcu_buf_bias] = 4 * (int64_t)op->cout;
    bytes[oc__mcu_buf_qparams] = q ? 8 * (int64_t)op->cout : 0;
    bytes[oc__mcu_buf_in0] = hw * op->cin * es;
    bytes[oc__mcu_buf_out] = (int64_t)oh * ow * op->cout * es;
    /* qs8 im2col: two output columns of int16 taps; depthwise needs none */
    bytes[oc__mcu_buf_scratch] = q && cin_g > 1 ? 4 * taps : 0;
    break;
  }
  case oc_op_fc:
    bytes[oc__mcu_buf_weights] = (int64_t)op->cout * op->cin * es;
    bytes[oc__mcu_buf_bias] = 4 * (int64_t)op->cout;
    bytes[oc__mcu_buf_qparams] = q ? 8 * (int64_t)op->cout : 0;
    bytes[oc__mcu_buf_in0] = (int64_t)op->m * op->cin * es;
    bytes[oc__mcu_buf_out] = (int64_t)op->m * op->cout * es;
    bytes[oc__mcu_buf_scratch] = q ? 2 * (int64_t)op->cin : 0; /* one int16 row */
    break;
  case oc_op_matmul:
    bytes[oc__mcu_buf_in0] = (int64_t)op->b * op->m * op->k * es;
    bytes[oc__mcu_buf_in1] = (int64_t)op->b * op->k * op->n * es;
    bytes[oc__mcu_buf_out] = (int64_t)op->b * op->m * op->n * es;
    bytes[oc__mcu_buf_scratch] = q ? 2 * (int64_t)op->k : 0; /* one int16 column of B */
    break;
  case oc_op_maxpool2d:
  case oc_op_avgpool2d:
    bytes[oc__mcu_buf_in0] = hw * op->c * es;
    bytes[oc__mcu_buf_out] = (int64_t)oh * ow * op->c * es;
    bytes[oc__mcu_buf_scratch] = op->kind == oc_op_avgpool2d ? 4 * (int64_t)op->c : 0;
    break;
  case oc_op_gap:
    bytes[oc__mcu_buf_in0] = hw * op->c * es;
    bytes[oc__mcu_buf_out] = op->c * es;
    bytes[oc__mcu_buf_scratch] = 4 * (int64_t)op->c; /* one accumulator a channel */
    break;
  case oc_op_act:
    bytes[oc__mcu_buf_qparams] = q ? 256 : 0;
    bytes[oc__mcu_buf_in0] = hw * op->c * es;
    bytes[oc__mcu_buf_out] = hw * op->c * es;
    break;
  case oc_op_softmax:
    bytes[oc__mcu_buf_qparams] = q ? 256 * 4 : 0;
    bytes[oc__mcu_buf_in0] = hw * op->c * es;
    bytes[oc__mcu_buf_out] = hw * op->c * es;
    break;
  case oc_op_layernorm:
    bytes[oc__mcu_buf_weights] = 4 * (int64_t)op->c;
    bytes[oc__mcu_buf_bias] = 4 * (int64_t)op->c;
    bytes[oc__mcu_buf_in0] = hw * op->c * es;
    bytes[oc__mcu_buf_out] = hw * op->c * es;
    break;
  case oc_op_add:
  case oc_op_mul:
    bytes[oc__mcu_buf_in0] = hw * op->c * es;
    bytes[oc__mcu_buf_in1] = (op->kind == oc_op_mul && op->bc ? 1 : hw) * op->c * es;
    bytes[oc__mcu_buf_out] = hw * op->c * es;
    break;
  case oc_op_concat:
    bytes[oc__mcu_buf_in0] = hw * op->c * es;
    bytes[oc__mcu_buf_in1] = hw * op->c2 * es;
    bytes[oc__mcu_buf_out] = hw * ((int64_t)op->c + op->c2) * es;
    break;
  default: return false;
  }
  for (int i = 0; i < oc__mcu_buf__count; i++) {
    if (bytes[i] < 0 || bytes[i] > ((int64_t)1 << 31)) return false;
  }
  return true;
}

static const char *const buf_names[oc__mcu_buf__count] = {"w",   "b",   "q",      "in0",
                                                          "in1", "out", "scratch"};

const char *oc__mcu_buf_name(enum oc__mcu_buf buf) {
  return (unsigned)buf < oc__mcu_buf__count ? buf_names[buf] : "?";
}

enum oc__mcu_buf oc__mcu_buf_from_name(const char *name) {
  for (int i = 0; i < oc__mcu_buf__count; i++) {
    if (strcmp(name, buf_names[i]) == 0) return (enum oc__mcu_buf)i;
  }
  return oc__mcu_buf__count;
}
