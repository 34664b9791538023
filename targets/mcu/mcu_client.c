/* mcu_client.c - the host end of the line protocol (docs/mcu.md): one
 * request, one reply, matched by a sequence token. Stale replies (a token
 * of an earlier request) and garbage are skipped; a lost reply or a frame
 * error reported by the firmware sends the request again, a bounded number
 * of times; a fault report from the firmware ends the session with the
 * faulting address in the message. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "targets/mcu/mcu_internal.h"

static enum oc_status device_status(const char *code) {
  if (strcmp(code, "nomem") == 0) return oc_status_out_of_memory;
  if (strcmp(code, "unsupported") == 0) return oc_status_unsupported;
  if (strcmp(code, "fault") == 0) return oc_status_device_error;
  return oc_status_invalid_argument;
}

/* First word of body (the command), for messages. */
static void command_of(const char *body, char *out, size_t size) {
  size_t n = strcspn(body, " ");
  if (n >= size) n = size - 1;
  memcpy(out, body, n);
  out[n] = '\0';
}

enum oc_status oc__mcu_request(struct oc__mcu_client *c, const char *body, char *reply,
                               size_t reply_size) {
  char cmd[32], line[OC_MCU_LINE_MAX + 16], frame[OC_MCU_LINE_MAX + 1], text[OC_MCU_LINE_MAX];
  command_of(body, cmd, sizeof cmd);
  if (c->dead) return oc__fail(oc_status_device_error, "mcu: %s", c->dead_why);
  bool resend = true;
  int attempt = 0;
  char seq_text[16] = "";
  while (resend) {
    resend = false;
    if (attempt > OC__MCU_RETRIES)
      return oc__fail(oc_status_timeout,
                      "mcu: '%s' got no valid reply from %s after %d tries (%d garbage lines "
                      "discarded)",
                      cmd, oc__mcu_link_name(c->link), attempt, c->garbage_lines);
    if (attempt > 0) c->retries++;
    attempt++;
    c->seq = c->seq % 999999u + 1u;
    oc__strfmt(seq_text, sizeof seq_text, "%u", (unsigned)c->seq);
    /* A leading newline ends whatever partial garbage the device holds, so
     * that this request is read as a line of its own. */
    frame[0] = '\n';
    if (!oc__strfmt(text, sizeof text, "%s %s", seq_text, body) ||
        oc__mcu_frame(text, frame + 1, sizeof frame - 1) == 0)
      return oc__fail(oc_status_internal, "mcu: request '%s' does not fit one line", cmd);
    enum oc_status st = oc__mcu_link_write(c->link, frame, strlen(frame));
    if (st != oc_status_ok) return oc__fail_prefix(st, "sending '%s': ", cmd);
    for (;;) {
      st = oc__mcu_link_read_line(c->link, c->timeout_ms, line, sizeof line, &c->garbage_lines);
      if (st == oc_status_timeout) {
        resend = true;
        break;
      }
      if (st != oc_status_ok) return oc__fail_prefix(st, "'%s': ", cmd);
      if (oc__mcu_unframe(line) != oc__mcu_frame_ok) {
        c->garbage_lines++;
        continue;
      }
      /* "SEQ STATUS TAIL...": split off the first two words only. */
      char *seq = line, *status = strchr(line, ' ');
      if (status == NULL) continue;
      *status++ = '\0';
      char *tail = strchr(status, ' ');
      if (tail != NULL)
        *tail++ = '\0';
      else
        tail = status + strlen(status);
      if (strcmp(seq, "-") == 0) {
        if (strcmp(status, "err") == 0 && strncmp(tail, "fault", 5) == 0) {
          c->dead = true;
          oc__strfmt(c->dead_why, sizeof c->dead_why, "firmware on %s faulted (%s)",
                     oc__mcu_link_name(c->link), tail);
          return oc__fail(oc_status_device_error, "mcu: '%s': %s", cmd, c->dead_why);
        }
        if (strcmp(status, "err") == 0 && strncmp(tail, "frame", 5) == 0) {
          resend = true;
          break;
        }
        continue; /* "- ok ready" after a reset, or other unsolicited lines */
      }
      if (strcmp(seq, seq_text) != 0) continue; /* a stale reply */
      if (strcmp(status, "ok") == 0) {
        oc__strcpy(reply, reply_size, tail);
        return oc_status_ok;
      }
      if (strcmp(status, "err") == 0) {
        char code[32];
        command_of(tail, code, sizeof code);
        return oc__fail(device_status(code), "mcu: '%s' refused by the firmware: %s", cmd, tail);
      }
    }
  }
  return oc__fail(oc_status_internal, "mcu: unreachable");
}

bool oc__mcu_reply_value(const char *reply, const char *key, char *value, size_t size) {
  size_t klen = strlen(key);
  for (const char *p = reply; (p = strstr(p, key)) != NULL; p += klen) {
    if ((p == reply || p[-1] == ' ') && p[klen] == '=') {
      const char *v = p + klen + 1;
      size_t n = strcspn(v, " ");
      if (n >= size) return false;
      memcpy(value, v, n);
      value[n] = '\0';
      return true;
    }
  }
  return false;
}

static bool reply_int(const char *reply, const char *key, int64_t *out) {
  char v[32];
  return oc__mcu_reply_value(reply, key, v, sizeof v) && oc__parse_i64(v, 0, INT64_MAX, out);
}

enum oc_status oc__mcu_hello(struct oc__mcu_client *c, struct oc__mcu_hello *h) {
  char reply[OC_MCU_LINE_MAX];
  enum oc_status st = oc__mcu_request(c, "hello", reply, sizeof reply);
  if (st != oc_status_ok) return st;
  memset(h, 0, sizeof *h);
  int64_t dsp = 0;
  if (!oc__mcu_reply_value(reply, "proto", h->proto, sizeof h->proto) ||
      !oc__mcu_reply_value(reply, "board", h->board, sizeof h->board) ||
      !oc__mcu_reply_value(reply, "core", h->core, sizeof h->core) ||
      !oc__mcu_reply_value(reply, "fpu", h->fpu, sizeof h->fpu) ||
      !oc__mcu_reply_value(reply, "timer", h->timer, sizeof h->timer) ||
      !reply_int(reply, "dsp", &dsp) || !reply_int(reply, "clock_hz", &h->clock_hz) ||
      !reply_int(reply, "flash", &h->flash) || !reply_int(reply, "static", &h->static_ram) ||
      !reply_int(reply, "stack", &h->stack) || !reply_int(reply, "arena", &h->arena))
    return oc__fail(oc_status_parse_error, "mcu: hello reply '%s' lacks a field", reply);
  h->dsp = (int)dsp;
  if (strcmp(h->proto, OC_MCU_PROTO) != 0)
    return oc__fail(oc_status_incompatible, "mcu: firmware speaks '%s', this host speaks '%s'",
                    h->proto, OC_MCU_PROTO);
  return oc_status_ok;
}
