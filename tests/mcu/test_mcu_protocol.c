/* test_mcu_protocol.c - the mcu target's serial protocol without a board or
 * an emulator: framing and CRC, the resynchronising line assembler, hex and
 * the qs8 rounding rule (mcu_wire.c), then the host client over a real pty
 * (the termios serial path) against a scripted fake device that drops
 * replies, sends garbage, stale and corrupted lines, frame errors, device
 * errors and fault reports, stays silent or hangs up. */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "targets/mcu/mcu_internal.h"

/* ---- wire ---- */

Test(mcu_wire, crc32_known_vector) {
  cr_assert_eq(oc__mcu_crc32(0, "123456789", 9), 0xCBF43926u);
  /* chaining equals one pass */
  uint32_t c = oc__mcu_crc32(0, "1234", 4);
  cr_assert_eq(oc__mcu_crc32(c, "56789", 5), 0xCBF43926u);
}

Test(mcu_wire, frame_roundtrip_and_damage) {
  char frame[128], line[128];
  size_t n = oc__mcu_frame("7 ping", frame, sizeof frame);
  cr_assert_eq(n, strlen("7 ping *") + 9);
  cr_assert_eq(frame[n - 1], '\n');
  memcpy(line, frame, n - 1);
  line[n - 1] = '\0';
  cr_assert_eq(oc__mcu_unframe(line), oc__mcu_frame_ok);
  cr_assert_str_eq(line, "7 ping");
  /* one flipped payload bit */
  memcpy(line, frame, n - 1);
  line[n - 1] = '\0';
  line[2] ^= 1;
  cr_assert_eq(oc__mcu_unframe(line), oc__mcu_frame_bad_crc);
  char bare[] = "7 ping";
  cr_assert_eq(oc__mcu_unframe(bare), oc__mcu_frame_no_crc);
  /* bodies with control characters or too long are refused */
  cr_assert_eq(oc__mcu_frame("a\tb", frame, sizeof frame), 0);
  cr_assert_eq(oc__mcu_frame("", frame, sizeof frame), 0);
  static char big[OC_MCU_LINE_MAX];
  memset(big, 'x', sizeof big - 1);
  static char out[OC_MCU_LINE_MAX * 2];
  cr_assert_eq(oc__mcu_frame(big, out, sizeof out), 0);
}

static enum oc__mcu_feed feed_text(struct oc__mcu_lines *l, const char *text, size_t len,
                                   int *garbage) {
  enum oc__mcu_feed last = oc__mcu_feed_more;
  for (size_t i = 0; i < len; i++) {
    last = oc__mcu_lines_feed(l, (uint8_t)text[i]);
    if (last == oc__mcu_feed_garbage) (*garbage)++;
  }
  return last;
}

Test(mcu_wire, line_assembler_resynchronises) {
  struct oc__mcu_lines l;
  int garbage = 0;
  oc__mcu_lines_reset(&l);
  const char noise[] = "\x01\xff\xfe binary\x80junk\n";
  feed_text(&l, noise, sizeof noise - 1, &garbage);
  cr_assert_eq(garbage, 1);
  cr_assert_eq(feed_text(&l, "1 ok\r\n", 6, &garbage), oc__mcu_feed_line);
  cr_assert_str_eq(l.buf, "1 ok");
  cr_assert_eq(l.line_len, 4);
  /* an over-long line is dropped whole, the next one is clean */
  for (int i = 0; i < OC_MCU_LINE_MAX + 10; i++) oc__mcu_lines_feed(&l, 'a');
  cr_assert_eq(oc__mcu_lines_feed(&l, '\n'), oc__mcu_feed_garbage);
  cr_assert_eq(feed_text(&l, "2 ok\n", 5, &garbage), oc__mcu_feed_line);
  cr_assert_str_eq(l.buf, "2 ok");
  /* blank lines are keep-alives, not lines */
  cr_assert_eq(oc__mcu_lines_feed(&l, '\n'), oc__mcu_feed_more);
}

Test(mcu_wire, hex_tokens_ints) {
  const uint8_t data[] = {0x00, 0x7f, 0x80, 0xff};
  char hex[9];
  uint8_t back[4];
  oc__mcu_hex_encode(data, 4, hex);
  cr_assert_str_eq(hex, "007f80ff");
  cr_assert(oc__mcu_hex_decode(hex, 8, back, 4));
  cr_assert_arr_eq(back, data, 4);
  cr_assert_not(oc__mcu_hex_decode("007f80f", 7, back, 4));
  cr_assert_not(oc__mcu_hex_decode("007g80ff", 8, back, 4));
  char body[] = "12 run  3 4";
  char *tok[8];
  cr_assert_eq(oc__mcu_tokens(body, tok, 8), 4);
  cr_assert_str_eq(tok[2], "3");
  int64_t v;
  cr_assert(oc__mcu_parse_int("-128", -128, 127, &v));
  cr_assert_eq(v, -128);
  cr_assert_not(oc__mcu_parse_int("128", -128, 127, &v));
  cr_assert_not(oc__mcu_parse_int("1x", 0, 9, &v));
  cr_assert_not(oc__mcu_parse_int("-", -9, 9, &v));
}

Test(mcu_wire, requant_rounds_half_up) {
  /* multiplier 0.5 = 2^30 / 2^31 */
  cr_assert_eq(oc__mcu_requant(3, 1 << 30, 31), 2);   /* 1.5 -> 2 */
  cr_assert_eq(oc__mcu_requant(-3, 1 << 30, 31), -1); /* -1.5 -> -1 (half up) */
  cr_assert_eq(oc__mcu_requant(5, 1 << 30, 31), 3);   /* 2.5 -> 3 */
  cr_assert_eq(oc__mcu_div_round(-5, 2), -3);         /* away from zero */
  cr_assert_eq(oc__mcu_div_round(5, 2), 3);
  cr_assert_eq(oc__mcu_div_round(4, 3), 1);
  int32_t m, s;
  oc__mcu_quant_multiplier(0.3, &m, &s);
  cr_assert(m >= (1 << 30));
  cr_assert_float_eq((double)m / (double)(1LL << s), 0.3, 1e-9);
  cr_assert_eq(oc__mcu_requant(1000, m, s), 300);
}

Test(mcu_wire, buffer_sizes) {
  struct oc_op op;
  int64_t b[oc__mcu_buf__count];
  oc_op_init(&op, oc_op_conv2d, oc_dtype_qs8);
  op.h = op.w = 5;
  op.cin = 3;
  op.cout = 4;
  op.k = 3;
  cr_assert(oc__mcu_buffer_sizes(&op, 5, 5, b));
  cr_assert_eq(b[oc__mcu_buf_weights], 4 * 9 * 3);
  cr_assert_eq(b[oc__mcu_buf_bias], 16);
  cr_assert_eq(b[oc__mcu_buf_qparams], 32);
  cr_assert_eq(b[oc__mcu_buf_scratch], 4 * 27);
  op.dtype = oc_dtype_f32;
  cr_assert(oc__mcu_buffer_sizes(&op, 5, 5, b));
  cr_assert_eq(b[oc__mcu_buf_out], 5 * 5 * 4 * 4);
  cr_assert_eq(b[oc__mcu_buf_scratch], 0);
  op.dtype = oc_dtype_f16;
  cr_assert_not(oc__mcu_buffer_sizes(&op, 5, 5, b));
}

/* ---- client over a pty against a scripted device ---- */

enum script {
  script_normal,
  script_drop_first,   /* first request unanswered: the host must resend */
  script_noisy,        /* garbage, a stale reply and a bad CRC before the answer */
  script_frame_error,  /* "- err frame" first: the host must resend */
  script_device_error, /* "SEQ err nomem ..." */
  script_fault,        /* "- err fault ..." */
  script_silent,       /* never answers */
  script_hangup,       /* closes the line on the first request */
};

struct device {
  int master;
  enum script script;
  int requests;
  pthread_t thread;
};

static void send_line(int fd, const char *body) {
  char frame[OC_MCU_LINE_MAX + 2];
  size_t n = oc__mcu_frame(body, frame, sizeof frame);
  if (n) (void)!write(fd, frame, n);
}

static void *device_main(void *arg) {
  struct device *d = arg;
  struct oc__mcu_lines lines;
  oc__mcu_lines_reset(&lines);
  for (;;) {
    struct pollfd pfd = {d->master, POLLIN, 0};
    if (poll(&pfd, 1, 3000) <= 0) return NULL;
    uint8_t buf[512];
    ssize_t n = read(d->master, buf, sizeof buf);
    if (n <= 0) return NULL;
    for (ssize_t i = 0; i < n; i++) {
      if (oc__mcu_lines_feed(&lines, buf[i]) != oc__mcu_feed_line) continue;
      if (oc__mcu_unframe(lines.buf) != oc__mcu_frame_ok) {
        send_line(d->master, "- err frame crc mismatch");
        continue;
      }
      char *tok[8];
      int nt = oc__mcu_tokens(lines.buf, tok, 8);
      if (nt < 2) continue;
      char reply[256];
      d->requests++;
      switch (d->script) {
      case script_drop_first:
        if (d->requests == 1) continue;
        break;
      case script_noisy: {
        const char junk[] = "\x15\x99\xfe\x01 partial reply\n";
        (void)!write(d->master, junk, sizeof junk - 1);
        send_line(d->master, "999 ok stale");         /* an earlier sequence number */
        (void)!write(d->master, "1 ok ping *00000000\n", 20); /* bad CRC */
        break;
      }
      case script_frame_error:
        if (d->requests == 1) {
          send_line(d->master, "- err frame garbage discarded");
          continue;
        }
        break;
      case script_device_error:
        snprintf(reply, sizeof reply, "%s err nomem need=9000000 have=3670016", tok[0]);
        send_line(d->master, reply);
        continue;
      case script_fault:
        send_line(d->master, "- err fault pc=000013c0 cfsr=00008200 hfsr=40000000");
        continue;
      case script_silent: continue;
      case script_hangup: close(d->master); return NULL;
      case script_normal: break;
      }
      if (strcmp(tok[1], "hello") == 0)
        snprintf(reply, sizeof reply,
                 "%s ok hello proto=%s board=fake core=cortex-m4 fpu=none dsp=1 timer=systick "
                 "clock_hz=1000000 flash=100 static=10 stack=2048 arena=4096",
                 tok[0], OC_MCU_PROTO);
      else
        snprintf(reply, sizeof reply, "%s ok %s", tok[0], tok[1]);
      send_line(d->master, reply);
    }
  }
}

static struct oc__mcu_client client;
static struct device dev;

static void start(enum script script, int timeout_ms) {
  memset(&client, 0, sizeof client);
  memset(&dev, 0, sizeof dev);
  dev.script = script;
  dev.master = posix_openpt(O_RDWR | O_NOCTTY);
  cr_assert(dev.master >= 0);
  cr_assert_eq(grantpt(dev.master), 0);
  cr_assert_eq(unlockpt(dev.master), 0);
  const char *slave = ptsname(dev.master);
  cr_assert_not_null(slave);
  cr_assert_eq(oc__mcu_link_open_serial(slave, 115200, &client.link), oc_status_ok, "%s",
               oc_errmsg());
  client.timeout_ms = timeout_ms;
  cr_assert_eq(pthread_create(&dev.thread, NULL, device_main, &dev), 0);
}

static void stop(void) {
  oc__mcu_link_close(client.link);
  pthread_join(dev.thread, NULL);
  if (dev.script != script_hangup) close(dev.master);
}

static int64_t ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

Test(mcu_client, hello_over_pty) {
  struct oc__mcu_hello h;
  start(script_normal, 2000);
  cr_assert_eq(oc__mcu_hello(&client, &h), oc_status_ok, "%s", oc_errmsg());
  cr_assert_str_eq(h.board, "fake");
  cr_assert_eq(h.arena, 4096);
  cr_assert_eq(h.clock_hz, 1000000);
  cr_assert_eq(client.retries, 0);
  stop();
}

Test(mcu_client, lost_reply_is_resent) {
  char reply[64];
  start(script_drop_first, 200);
  cr_assert_eq(oc__mcu_request(&client, "ping", reply, sizeof reply), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_str_eq(reply, "ping");
  cr_assert_eq(client.retries, 1);
  stop();
}

Test(mcu_client, garbage_stale_and_bad_crc_are_skipped) {
  char reply[64];
  start(script_noisy, 2000);
  cr_assert_eq(oc__mcu_request(&client, "ping", reply, sizeof reply), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_str_eq(reply, "ping");
  cr_assert_geq(client.garbage_lines, 2); /* the binary line and the bad CRC */
  cr_assert_eq(client.retries, 0);
  stop();
}

Test(mcu_client, frame_error_resends) {
  char reply[64];
  start(script_frame_error, 2000);
  cr_assert_eq(oc__mcu_request(&client, "ping", reply, sizeof reply), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_eq(client.retries, 1);
  stop();
}

Test(mcu_client, device_error_becomes_status) {
  char reply[64];
  start(script_device_error, 2000);
  cr_assert_eq(oc__mcu_request(&client, "load conv2d f32", reply, sizeof reply),
               oc_status_out_of_memory);
  cr_assert(strstr(oc_errmsg(), "nomem need=9000000") != NULL, "%s", oc_errmsg());
  stop();
}

Test(mcu_client, fault_report_ends_the_session) {
  char reply[64];
  start(script_fault, 2000);
  cr_assert_eq(oc__mcu_request(&client, "run 0 1", reply, sizeof reply), oc_status_device_error);
  cr_assert(strstr(oc_errmsg(), "faulted") != NULL, "%s", oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "pc=000013c0") != NULL, "%s", oc_errmsg());
  cr_assert(client.dead);
  cr_assert_eq(oc__mcu_request(&client, "ping", reply, sizeof reply), oc_status_device_error);
  stop();
}

Test(mcu_client, silence_times_out_with_a_bound) {
  char reply[64];
  struct timespec t0;
  start(script_silent, 150);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(oc__mcu_request(&client, "ping", reply, sizeof reply), oc_status_timeout);
  int64_t elapsed = ms_since(&t0);
  cr_assert_geq(elapsed, 3 * 150 - 20);
  cr_assert_lt(elapsed, 3000, "waited %lld ms", (long long)elapsed);
  cr_assert(strstr(oc_errmsg(), "'ping'") != NULL, "%s", oc_errmsg());
  cr_assert_eq(client.retries, OC__MCU_RETRIES);
  stop();
}

Test(mcu_client, hangup_is_a_device_error) {
  char reply[64];
  start(script_hangup, 2000);
  enum oc_status st = oc__mcu_request(&client, "ping", reply, sizeof reply);
  cr_assert_eq(st, oc_status_device_error, "%s: %s", oc_status_name(st), oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "closed") != NULL, "%s", oc_errmsg());
  stop();
}

Test(mcu_client, bad_serial_arguments) {
  struct oc__mcu_link *link = NULL;
  cr_assert_eq(oc__mcu_link_open_serial("/dev/null", 12345, &link), oc_status_invalid_argument);
  cr_assert_eq(oc__mcu_link_open_serial("/nonexistent/tty", 115200, &link), oc_status_io_error);
  cr_assert(strstr(oc_errmsg(), "/nonexistent/tty") != NULL);
  cr_assert_eq(oc__mcu_link_open_serial("/dev/null", 115200, &link), oc_status_io_error);
  cr_assert_null(link);
}
