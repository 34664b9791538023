/* mcu_wire.h - what the host and the Cortex-M firmware agree on: the framing
 * of the serial line protocol (CRC-32 per line, hex payloads, a line
 * assembler that resynchronises after garbage), the qs8 requantisation rule,
 * and the sizes of the buffers one op needs in the firmware's arena.
 *
 * This header and mcu_wire.c are compiled twice: into libopcost (host) and
 * into the firmware (arm-none-eabi, no libc beyond newlib's string.h), so
 * they use nothing but the C library's string functions and fixed-width
 * integers. docs/mcu.md is the user-facing description of the protocol. */
#ifndef OPCOST_TARGETS_MCU_WIRE_H
#define OPCOST_TARGETS_MCU_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opcost/op.h"

/* Protocol name and version, sent by the firmware in its hello reply. */
#define OC_MCU_PROTO "opcost-mcu/1"
/* Longest line on the wire, CRC suffix and newline included. Bounds the
 * buffers of both ends; a longer line is garbage and is discarded. */
#define OC_MCU_LINE_MAX 1024
/* Payload bytes per put/get line (hex doubles them). */
#define OC_MCU_CHUNK 240
/* Most samples one run command returns. */
#define OC_MCU_MAX_SAMPLES 32
/* Alignment of every buffer in the firmware's arena. */
#define OC_MCU_ALIGN 8

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) chained through crc;
 * start with 0. oc__mcu_crc32(0, "123456789", 9) == 0xCBF43926. */
uint32_t oc__mcu_crc32(uint32_t crc, const void *data, size_t len);

/* Frames body as "BODY *CCCCCCCC\n" (CRC-32 of BODY, 8 lower-case hex
 * digits) into out. Returns the frame's length, or 0 when body is empty,
 * holds a byte outside printable ASCII, or does not fit in out_size or in
 * OC_MCU_LINE_MAX. */
size_t oc__mcu_frame(const char *body, char *out, size_t out_size);

/* Results of oc__mcu_unframe. */
enum oc__mcu_frame_check {
  oc__mcu_frame_ok = 0,
  oc__mcu_frame_no_crc,  /* no " *CCCCCCCC" suffix: garbage or a truncated line */
  oc__mcu_frame_bad_crc, /* the suffix does not match the body */
};

/* Checks a received line (without its newline). On success cuts the
 * suffix, leaving the body NUL-terminated in line. */
enum oc__mcu_frame_check oc__mcu_unframe(char *line);

/* Line assembler: bytes in, whole lines out. A line ends at '\n'; '\r' is
 * dropped; a line holding any other byte outside printable ASCII, or longer
 * than OC_MCU_LINE_MAX, is discarded whole when its newline arrives, so the
 * next good line is read cleanly (resynchronisation). */
struct oc__mcu_lines {
  char buf[OC_MCU_LINE_MAX];
  size_t len;      /* bytes of the line being assembled */
  size_t line_len; /* length of the line just completed */
  bool bad;        /* the current line saw garbage or overflowed */
};

enum oc__mcu_feed {
  oc__mcu_feed_more = 0, /* line not complete yet */
  oc__mcu_feed_line,     /* buf holds a NUL-terminated line of line_len bytes,
                            valid until the next feed */
  oc__mcu_feed_garbage,  /* a bad line ended and was discarded */
};

void oc__mcu_lines_reset(struct oc__mcu_lines *lines);
enum oc__mcu_feed oc__mcu_lines_feed(struct oc__mcu_lines *lines, uint8_t byte);

/* Lower-case hex of n bytes into out (2n chars, then NUL). */
void oc__mcu_hex_encode(const void *data, size_t n, char *out);
/* Decodes exactly 2n hex digits of text into out; false on a bad digit or a
 * wrong length. */
bool oc__mcu_hex_decode(const char *text, size_t text_len, void *out, size_t n);

/* Splits a body into tokens at single spaces, in place; returns the count
 * (at most max). */
int oc__mcu_tokens(char *body, char **tokens, int max);

/* Decimal integer with optional sign in [min, max], whole token; false
 * otherwise. */
bool oc__mcu_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);

/* qs8 requantisation, the one rounding rule of every integer kernel:
 *   requant(acc, mult, shift) = (acc * mult + 2^(shift-1)) >> shift
 * in 64-bit arithmetic, with an arithmetic (flooring) right shift, i.e.
 * round half up. mult is in [0, 2^31), shift in [1, 62], |acc| < 2^31 so
 * the product fits. docs/mcu.md derives mult and shift from the scales. */
int32_t oc__mcu_requant(int64_t acc, int32_t mult, int32_t shift);

/* Divides and rounds half away from zero (the rule of qs8 average pools);
 * count >= 1. */
int32_t oc__mcu_div_round(int32_t sum, int32_t count);

/* The buffers one op needs in the firmware's arena, in bytes before
 * alignment. Index with enum oc__mcu_buf. The firmware allocates them in
 * this order, each rounded up to OC_MCU_ALIGN. */
enum oc__mcu_buf {
  oc__mcu_buf_weights, /* conv2d/fc weights; layernorm gamma (f32 always) */
  oc__mcu_buf_bias,    /* f32 bias, or qs8 int32 bias; layernorm beta (f32) */
  oc__mcu_buf_qparams, /* qs8: int32 (mult, shift) per output channel, or an
                          act lookup table (256 int8), or a softmax table
                          (256 uint32) */
  oc__mcu_buf_in0,
  oc__mcu_buf_in1,
  oc__mcu_buf_out,
  oc__mcu_buf_scratch, /* kernel workspace (im2col columns, accumulators) */
  oc__mcu_buf__count
};

/* Sizes of the buffers of op (f32 or qs8) with output height oh and width
 * ow (oc_op_shapes' output). False when a size exceeds 2^31 bytes or the
 * dtype is neither f32 nor qs8. */
bool oc__mcu_buffer_sizes(const struct oc_op *op, int32_t oh, int32_t ow,
                          int64_t bytes[oc__mcu_buf__count]);

/* Rounds up to OC_MCU_ALIGN. */
int64_t oc__mcu_align(int64_t bytes);

/* Short names of the buffers on the wire ("w", "b", "q", "in0", "in1",
 * "out", "scratch"); oc__mcu_buf__count for an unknown name. */
const char *oc__mcu_buf_name(enum oc__mcu_buf buf);
enum oc__mcu_buf oc__mcu_buf_from_name(const char *name);

#endif
