/* main.c - the firmware's serial protocol server (docs/mcu.md): reads
 * framed request lines, answers each with one framed reply line that starts
 * with the request's sequence token. One op is loaded at a time; its
 * buffers come from a static arena by a bump allocator that is reset on
 * every load, so the arena high-water of an op is exact.
 *
 * Requests (SEQ is any token the host chooses, echoed in the reply):
 *   SEQ hello                      identity, timer, memory sizes
 *   SEQ ping                       liveness
 *   SEQ load KIND DTYPE f=v ...    op fields, shape facts, qs8 parameters
 *   SEQ put BUF OFFSET HEX         payload bytes into a buffer
 *   SEQ crc BUF                    CRC-32 of a whole buffer
 *   SEQ run WARMUP N               time N runs after WARMUP runs
 *   SEQ get BUF OFFSET LEN         payload bytes out of a buffer
 *   SEQ noise N                    a line of N garbage bytes before the reply (tests)
 *   SEQ fault                      takes a bus fault (tests)
 * A line that fails its CRC or holds garbage gets "- err frame ...". */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "fw.h"

#ifndef FW_BOARD
#error "FW_BOARD must name the board"
#endif

#define MAX_TOKENS 48

static struct fw_op current;
static int loaded;
static uint32_t arena_used;

/* ---- reply formatting (no printf: keeps flash small and predictable) ---- */

static char reply[OC_MCU_LINE_MAX];
static size_t reply_len;

static void put_str(const char *s) {
  while (*s && reply_len + 1 < OC_MCU_LINE_MAX - 12) reply[reply_len++] = *s++;
  reply[reply_len] = '\0';
}

static void put_u64(uint64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v);
  char s[24];
  for (int i = 0; i < n; i++) s[i] = digits[n - 1 - i];
  s[n] = '\0';
  put_str(s);
}

static void put_kv(const char *key, uint64_t v) {
  put_str(" ");
  put_str(key);
  put_str("=");
  put_u64(v);
}

static void put_hex32(uint32_t v) {
  char s[9];
  for (int i = 0; i < 8; i++) s[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xfu];
  s[8] = '\0';
  put_str(s);
}

static void begin(const char *seq, const char *status) {
  reply_len = 0;
  put_str(seq);
  put_str(" ");
  put_str(status);
}

static void send_reply(void) {
  static char frame[OC_MCU_LINE_MAX];
  size_t n = oc__mcu_frame(reply, frame, sizeof frame);
  if (n) fw_uart_write(frame, n);
}

static void send_error(const char *seq, const char *code, const char *text) {
  begin(seq, "err ");
  put_str(code);
  put_str(" ");
  put_str(text);
  send_reply();
}

void fw_report_fault(uint32_t pc, uint32_t cfsr, uint32_t hfsr) {
  begin("-", "err fault pc=");
  put_hex32(pc);
  put_str(" cfsr=");
  put_hex32(cfsr);
  put_str(" hfsr=");
  put_hex32(hfsr);
  send_reply();
}

/* ---- what the kernels accept ---- */

int fw_supports(const struct fw_op *f, const char **why) {
  const struct oc_op *op = &f->op;
  const int32_t sizes[] = {op->h, op->w, op->c, op->cin, op->cout, op->m, op->n, op->b, op->k};
  for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    if (sizes[i] < 0) return *why = "negative size", 0;
  }
  if (op->kind == oc_op_conv2d && (op->cin % op->g || op->cout % op->g))
    return *why = "groups must divide cin and cout", 0;
  if ((op->kind == oc_op_conv2d || op->kind == oc_op_maxpool2d ||
       op->kind == oc_op_avgpool2d) &&
      (f->oh < 1 || f->ow < 1 || f->pt < 0 || f->pl < 0 || op->k < 1))
    return *why = "output size and padding (oh ow pt pl) are required", 0;
  if ((op->kind == oc_op_softmax || op->kind == oc_op_layernorm) && op->c < 1)
    return *why = "c must be >= 1", 0;
  if (op->dtype == oc_dtype_qs8 &&
      (op->kind == oc_op_conv2d || op->kind == oc_op_fc || op->kind == oc_op_add) &&
      op->act != oc_act_none && op->act != oc_act_relu && op->act != oc_act_relu6)
    return *why = "qs8 fuses only none, relu and relu6 (clamps)", 0;
  return 1;
}

/* ---- commands ---- */

static void cmd_hello(const char *seq) {
  begin(seq, "ok hello proto=" OC_MCU_PROTO " board=" FW_BOARD " core=" FW_CORE " fpu=" FW_FPU);
  put_kv("dsp",
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
         1
#else
         0
#endif
  );
  put_str(" timer=");
  put_str(fw_timer_name());
  put_kv("clock_hz", FW_CLOCK_HZ);
  put_kv("flash", fw_flash_bytes());
  put_kv("static", fw_static_ram_bytes());
  put_kv("stack", fw_stack_bytes());
  put_kv("arena", fw_arena_bytes());
  send_reply();
}

static int field_index(const char *name) {
  static const char *const names[] = {
#define FW_FIELD_NAME(n, text) #n,
      OC_FIELD_MAP(FW_FIELD_NAME)
#undef FW_FIELD_NAME
  };
  for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
    if (strcmp(names[i], name) == 0) return i;
  }
  return -1;
}

static int32_t *op_field(struct oc_op *op, int index) {
  switch (index) {
#define FW_FIELD_PTR(n, text) \
  case oc_field_##n: return (int32_t *)&op->n;
    OC_FIELD_MAP(FW_FIELD_PTR)
#undef FW_FIELD_PTR
  default: return 0;
  }
}

static int kind_index(const char *name) {
  static const char *const names[] = {
#define OC_OP(n, inputs, weights, fields, summary) #n,
#include "opcost/ops.def"
#undef OC_OP
  };
  for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
    if (strcmp(names[i], name) == 0) return i;
  }
  return -1;
}

static int32_t *extra_field(struct fw_op *f, const char *name) {
  static const char *const names[] = {"oh", "ow", "pt", "pl", "zi0", "zi1",
                                      "zo", "lo", "hi", "m0", "m1",  "r0"};
  int32_t *const ptrs[] = {&f->oh, &f->ow, &f->pt, &f->pl, &f->zi0, &f->zi1,
                           &f->zo, &f->lo, &f->hi, &f->m0, &f->m1,  &f->r0};
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (strcmp(names[i], name) == 0) return ptrs[i];
  }
  return 0;
}

static void cmd_load(const char *seq, char **tok, int n) {
  loaded = 0;
  arena_used = 0;
  if (n < 2) return send_error(seq, "arg", "load needs KIND DTYPE");
  struct fw_op f;
  memset(&f, 0, sizeof f);
  f.lo = -128;
  f.hi = 127;
  f.r0 = 1;
  int kind = kind_index(tok[0]);
  if (kind < 0) return send_error(seq, "arg", "unknown kind");
  f.op.kind = (enum oc_op_kind)kind;
  if (strcmp(tok[1], "f32") == 0)
    f.op.dtype = oc_dtype_f32;
  else if (strcmp(tok[1], "qs8") == 0)
    f.op.dtype = oc_dtype_qs8;
  else
    return send_error(seq, "unsupported", "dtype");
  for (int i = 2; i < n; i++) {
    char *eq = strchr(tok[i], '=');
    if (!eq) return send_error(seq, "arg", "expected NAME=VALUE");
    *eq = '\0';
    const char *value = eq + 1;
    int64_t v;
    if (strcmp(tok[i], "act") == 0) {
      static const char *const acts[] = {
#define FW_ACT_NAME(name, flops) #name,
          OC_ACT_MAP(FW_ACT_NAME)
#undef FW_ACT_NAME
      };
      int found = -1;
      for (int a = 0; a < (int)(sizeof acts / sizeof acts[0]); a++) {
        if (strcmp(acts[a], value) == 0) found = a;
      }
      if (found < 0) return send_error(seq, "arg", "unknown act");
      f.op.act = (enum oc_act)found;
      continue;
    }
    if (strcmp(tok[i], "fi") == 0 || strcmp(tok[i], "fo") == 0) {
      uint8_t bytes[4];
      if (!oc__mcu_hex_decode(value, strlen(value), bytes, 4))
        return send_error(seq, "arg", "float scales are 8 hex digits");
      uint32_t bits = (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 |
                      (uint32_t)bytes[2] << 8 | bytes[3];
      memcpy(tok[i][1] == 'i' ? &f.fi : &f.fo, &bits, 4);
      continue;
    }
    if (!oc__mcu_parse_int(value, INT32_MIN, INT32_MAX, &v))
      return send_error(seq, "arg", "value is not an integer");
    int index = field_index(tok[i]);
    int32_t *dst = index >= 0 ? op_field(&f.op, index) : extra_field(&f, tok[i]);
    if (!dst) return send_error(seq, "arg", "unknown field");
    *dst = (int32_t)v;
  }
  if (f.op.g < 1) f.op.g = 1;
  if (f.op.s < 1) f.op.s = 1;
  if (f.op.d < 1) f.op.d = 1;
  if (f.r0 < 1 || f.r0 > 62) return send_error(seq, "arg", "r0 must be in 1..62");
  const char *why = 0;
  if (!fw_supports(&f, &why)) return send_error(seq, "unsupported", why);
  int64_t bytes[oc__mcu_buf__count];
  if (!oc__mcu_buffer_sizes(&f.op, f.oh, f.ow, bytes))
    return send_error(seq, "arg", "buffer sizes out of range");
  int64_t total = 0;
  for (int b = 0; b < oc__mcu_buf__count; b++) total += oc__mcu_align(bytes[b]);
  if (total > (int64_t)fw_arena_bytes()) {
    begin(seq, "err nomem need=");
    put_u64((uint64_t)total);
    put_kv("have", fw_arena_bytes());
    return send_reply();
  }
  uint8_t *arena = fw_arena_start();
  uint32_t used = 0;
  for (int b = 0; b < oc__mcu_buf__count; b++) {
    f.buf[b] = bytes[b] ? arena + used : 0;
    f.size[b] = (uint32_t)bytes[b];
    used += (uint32_t)oc__mcu_align(bytes[b]);
  }
  memset(arena, 0, used);
  current = f;
  loaded = 1;
  arena_used = used;
  begin(seq, "ok load");
  put_kv("arena", used);
  for (int b = 0; b < oc__mcu_buf__count; b++) put_kv(oc__mcu_buf_name((enum oc__mcu_buf)b), f.size[b]);
  send_reply();
}

/* Resolves "BUF OFFSET LEN" against the loaded op; 0 after replying an
 * error. */
static uint8_t *buffer_range(const char *seq, const char *name, const char *off_text,
                             int64_t len, uint32_t *offset) {
  if (!loaded) return send_error(seq, "state", "no op loaded"), (uint8_t *)0;
  enum oc__mcu_buf b = oc__mcu_buf_from_name(name);
  int64_t off;
  if (b == oc__mcu_buf__count) return send_error(seq, "arg", "unknown buffer"), (uint8_t *)0;
  if (!oc__mcu_parse_int(off_text, 0, INT32_MAX, &off) || len < 0 ||
      off + len > (int64_t)current.size[b])
    return send_error(seq, "arg", "range outside the buffer"), (uint8_t *)0;
  *offset = (uint32_t)off;
  return (uint8_t *)current.buf[b] + off;
}

static void cmd_put(const char *seq, char **tok, int n) {
  if (n != 3) return send_error(seq, "arg", "put needs BUF OFFSET HEX");
  size_t hex_len = strlen(tok[2]);
  if (hex_len % 2 || hex_len / 2 > OC_MCU_CHUNK) return send_error(seq, "arg", "bad payload length");
  uint32_t off;
  uint8_t *dst = buffer_range(seq, tok[0], tok[1], (int64_t)hex_len / 2, &off);
  if (!dst) return;
  if (!oc__mcu_hex_decode(tok[2], hex_len, dst, hex_len / 2))
    return send_error(seq, "arg", "payload is not hex");
  begin(seq, "ok put");
  send_reply();
}

static void cmd_get(const char *seq, char **tok, int n) {
  int64_t len;
  if (n != 3 || !oc__mcu_parse_int(tok[2], 1, OC_MCU_CHUNK, &len))
    return send_error(seq, "arg", "get needs BUF OFFSET LEN (LEN <= 240)");
  uint32_t off;
  uint8_t *src = buffer_range(seq, tok[0], tok[1], len, &off);
  if (!src) return;
  static char hex[2 * OC_MCU_CHUNK + 1];
  oc__mcu_hex_encode(src, (size_t)len, hex);
  begin(seq, "ok get ");
  put_str(hex);
  send_reply();
}

static void cmd_crc(const char *seq, char **tok, int n) {
  if (n != 1) return send_error(seq, "arg", "crc needs BUF");
  uint32_t off;
  enum oc__mcu_buf b = oc__mcu_buf_from_name(tok[0]);
  uint8_t *p = buffer_range(seq, tok[0], "0", 0, &off);
  if (!p) return;
  begin(seq, "ok crc ");
  put_hex32(oc__mcu_crc32(0, current.buf[b], current.size[b]));
  send_reply();
}

static void cmd_run(const char *seq, char **tok, int n) {
  int64_t warmup, runs;
  if (n != 2 || !oc__mcu_parse_int(tok[0], 0, 1000000, &warmup) ||
      !oc__mcu_parse_int(tok[1], 1, OC_MCU_MAX_SAMPLES, &runs))
    return send_error(seq, "arg", "run needs WARMUP N (1 <= N <= 32)");
  if (!loaded) return send_error(seq, "state", "no op loaded");
  int (*kernel)(const struct fw_op *) =
      current.op.dtype == oc_dtype_qs8 ? fw_kernel_s8 : fw_kernel_f32;
  uint64_t cycles[OC_MCU_MAX_SAMPLES];
  fw_stack_paint();
  for (int64_t i = 0; i < warmup; i++) kernel(&current);
  for (int64_t i = 0; i < runs; i++) {
    uint64_t t0 = fw_timer_now();
    kernel(&current);
    uint64_t t1 = fw_timer_now();
    cycles[i] = t1 - t0;
  }
  uint32_t stack = fw_stack_high_water();
  begin(seq, "ok run");
  put_kv("n", (uint64_t)runs);
  put_str(" timer=");
  put_str(fw_timer_name());
  put_kv("stack", stack);
  put_kv("arena", arena_used);
  put_str(" cycles=");
  for (int64_t i = 0; i < runs; i++) {
    if (i) put_str(",");
    put_u64(cycles[i]);
  }
  send_reply();
}

static void handle(char *line) {
  char *tok[MAX_TOKENS];
  enum oc__mcu_frame_check check = oc__mcu_unframe(line);
  if (check != oc__mcu_frame_ok)
    return send_error("-", "frame", check == oc__mcu_frame_bad_crc ? "crc mismatch" : "no crc");
  int n = oc__mcu_tokens(line, tok, MAX_TOKENS);
  if (n < 2) return send_error(n ? tok[0] : "-", "cmd", "expected SEQ COMMAND");
  const char *seq = tok[0], *cmd = tok[1];
  char **args = tok + 2;
  int nargs = n - 2;
  if (strcmp(cmd, "hello") == 0) return cmd_hello(seq);
  if (strcmp(cmd, "ping") == 0) {
    begin(seq, "ok ping");
    return send_reply();
  }
  if (strcmp(cmd, "load") == 0) return cmd_load(seq, args, nargs);
  if (strcmp(cmd, "put") == 0) return cmd_put(seq, args, nargs);
  if (strcmp(cmd, "get") == 0) return cmd_get(seq, args, nargs);
  if (strcmp(cmd, "crc") == 0) return cmd_crc(seq, args, nargs);
  if (strcmp(cmd, "run") == 0) return cmd_run(seq, args, nargs);
  if (strcmp(cmd, "noise") == 0) {
    int64_t count;
    if (nargs != 1 || !oc__mcu_parse_int(args[0], 0, 4096, &count))
      return send_error(seq, "arg", "noise needs N");
    for (int64_t i = 0; i < count; i++) {
      char c = (char)(0x80 | (i * 37 & 0x7f)); /* never a newline */
      fw_uart_write(&c, 1);
    }
    if (count) fw_uart_write("\n", 1); /* the reply starts a line of its own */
    begin(seq, "ok noise");
    return send_reply();
  }
  if (strcmp(cmd, "fault") == 0) {
    volatile uint32_t *bad = (volatile uint32_t *)0xF0000000u;
    *bad = 1; /* no device there: a bus fault, reported by the handler */
    return send_error(seq, "fault", "did not fault");
  }
  send_error(seq, "cmd", "unknown command");
}

int main(void) {
  static struct oc__mcu_lines lines;
  fw_board_init();
  oc__mcu_lines_reset(&lines);
  begin("-", "ok ready");
  send_reply();
  for (;;) {
    switch (oc__mcu_lines_feed(&lines, fw_uart_getc())) {
    case oc__mcu_feed_line: handle(lines.buf); break;
    case oc__mcu_feed_garbage: send_error("-", "frame", "garbage discarded"); break;
    case oc__mcu_feed_more: break;
    }
  }
}
