/* fuzz_mcu_wire.c - the Cortex-M serial line protocol as the host reads it:
 * bytes through the line assembler (resynchronisation after garbage), each
 * line through the CRC check, tokens and numbers. A line that passes the
 * check frames back to the same line; hex round-trips. */
#include "targets/mcu/mcu_wire.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct oc__mcu_lines lines;
  oc__mcu_lines_reset(&lines);
  for (size_t i = 0; i < size; i++) {
    if (oc__mcu_lines_feed(&lines, data[i]) != oc__mcu_feed_line) continue;
    FUZZ_CHECK(lines.line_len < OC_MCU_LINE_MAX && strlen(lines.buf) == lines.line_len,
               "line of %zu bytes", lines.line_len);
    char line[OC_MCU_LINE_MAX + 1], framed[OC_MCU_LINE_MAX + 2];
    memcpy(line, lines.buf, lines.line_len + 1);
    if (oc__mcu_unframe(line) != oc__mcu_frame_ok) continue;
    /* The body frames back to the line (CRC digits in either case). */
    size_t n = oc__mcu_frame(line, framed, sizeof framed);
    if (n > 0) {
      FUZZ_CHECK(n == lines.line_len + 1 && strncasecmp(framed, lines.buf, lines.line_len) == 0,
                 "'%s' frames as '%s'", lines.buf, framed);
    }
    char *tokens[16];
    int count = oc__mcu_tokens(line, tokens, 16);
    for (int t = 0; t < count; t++) {
      int64_t v;
      (void)oc__mcu_parse_int(tokens[t], -1000000, 1000000, &v);
      size_t len = strlen(tokens[t]);
      uint8_t bytes[OC_MCU_CHUNK];
      if (len % 2 == 0 && len / 2 <= sizeof bytes &&
          oc__mcu_hex_decode(tokens[t], len, bytes, len / 2)) {
        char hex[2 * OC_MCU_CHUNK + 1];
        oc__mcu_hex_encode(bytes, len / 2, hex);
        FUZZ_CHECK(strncasecmp(hex, tokens[t], len) == 0, "hex '%s' re-encodes as '%s'",
                   tokens[t], hex);
      }
    }
  }
  return 0;
}
