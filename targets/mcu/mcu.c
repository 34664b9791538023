/* mcu.c - the `mcu` backend: ops run on a Cortex-M microcontroller running
 * opcost's firmware (targets/mcu/firmware), over a serial line protocol.
 *
 *   -t mcu:port=/dev/ttyACM0,baud=115200,clock_hz=216000000   a real board
 *   -t mcu:qemu=mps2-an386   (or mps2-an500)   QEMU, started by the target
 *
 * Other arguments: firmware=PATH (ELF for QEMU), qemu_bin=PATH, icount=N
 * (QEMU's -icount shift, default 6), timeout_ms=N (per reply), warmup=N
 * (runs before the timed ones of each time_runs call, default 1).
 *
 * prepare uploads the op (load, weights and inputs in CRC-checked lines,
 * then a CRC of every whole buffer); the firmware holds one op at a time,
 * so running another prepared kernel uploads it again first (not timed).
 * time_runs returns the firmware's cycle counts divided by the clock. On a
 * real board with DWT or SysTick that is time on the device. Under QEMU it
 * is NOT: SysTick there counts virtual time that -icount derives from the
 * number of instructions executed (about instructions x 2^N / 40 ticks of
 * the 25 MHz clock), a deterministic instruction-count proxy; describe()
 * says so in the device name and runtime. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "targets/mcu/mcu_internal.h"
#include "targets/targets_internal.h"

#ifndef OPCOST_MCU_FIRMWARE_DIR
#define OPCOST_MCU_FIRMWARE_DIR ""
#endif

#define DEFAULT_MACHINE "mps2-an386"
#define DEFAULT_ICOUNT 6

struct mcu_state {
  struct oc__mcu_client client;
  struct oc__mcu_hello hello;
  bool qemu;
  char machine[32];   /* QEMU machine */
  char port[256];     /* serial device */
  char firmware[512]; /* ELF, when known */
  char qemu_version[48];
  int icount;
  int warmup;
  int64_t clock_hz;
  struct oc_mcu_firmware fw; /* footprint of the firmware */
  uint64_t next_id, loaded_id;
};

struct mcu_kernel {
  uint64_t id;
  struct oc_op op;
  struct oc_tensors tensors;
  struct oc_op_shapes sh;
  struct oc__mcu_quant q;
  int64_t sizes[oc__mcu_buf__count];
  void *table; /* qs8 qparams buffer, or NULL */
  char load[OC_MCU_LINE_MAX];
  int64_t arena_bytes; /* reported by the firmware at load */
  int64_t stack_bytes; /* high-water of the last run */
};

/* ---- paths and availability ---- */

static bool executable(const char *path) { return access(path, X_OK) == 0; }

bool oc__mcu_qemu_path(char *path, size_t size) {
  const char *env = getenv("OPCOST_QEMU_ARM");
  if (env && env[0]) {
    oc__strcpy(path, size, env);
    return executable(path);
  }
  const char *dirs = getenv("PATH");
  if (dirs == NULL) dirs = "/usr/local/bin:/usr/bin:/bin";
  while (*dirs) {
    size_t n = strcspn(dirs, ":");
    if (n > 0 && oc__strfmt(path, size, "%.*s/qemu-system-arm", (int)n, dirs) && executable(path))
      return true;
    dirs += n;
    if (*dirs == ':') dirs++;
  }
  oc__strcpy(path, size, "qemu-system-arm");
  return false;
}

bool oc__mcu_firmware_path(const char *machine, char *path, size_t size) {
  const char *dir = getenv("OPCOST_MCU_FIRMWARE_DIR");
  if (dir == NULL || dir[0] == '\0') dir = OPCOST_MCU_FIRMWARE_DIR;
  oc__strfmt(path, size, "%s/opcost-mcu-%s.elf", dir, machine);
  return access(path, R_OK) == 0;
}

static bool known_machine(const char *machine) {
  return strcmp(machine, "mps2-an386") == 0 || strcmp(machine, "mps2-an500") == 0;
}

static enum oc_status mcu_probe(char *why, size_t why_len) {
  char qemu[512], firmware[512];
  if (why_len > 0) why[0] = '\0';
  bool have_qemu = oc__mcu_qemu_path(qemu, sizeof qemu);
  bool have_fw = oc__mcu_firmware_path(DEFAULT_MACHINE, firmware, sizeof firmware);
  if (have_qemu && have_fw) return oc_status_ok;
  const char *port = getenv("OPCOST_MCU_PORT");
  if (port && port[0] && access(port, R_OK | W_OK) == 0) return oc_status_ok;
  oc__strfmt(why, why_len, "%s%s%s%s; no serial port given (set OPCOST_MCU_PORT for a board)",
             have_qemu ? "" : "no qemu-system-arm in PATH (or OPCOST_QEMU_ARM)",
             !have_qemu && !have_fw ? "; " : "", have_fw ? "" : "firmware not built: no ",
             have_fw ? "" : firmware);
  return oc_status_unavailable;
}

/* ---- arguments ---- */

static enum oc_status parse_int_arg(const char *name, const char *value, int64_t min, int64_t max,
                                    int64_t *out) {
  if (!oc__parse_i64(value, min, max, out))
    return oc__fail(oc_status_invalid_argument,
                    "mcu: argument '%s': value '%s' must be an integer in [%lld, %lld]", name,
                    value, (long long)min, (long long)max);
  return oc_status_ok;
}

struct mcu_args {
  char qemu[32], port[256], firmware[512], qemu_bin[512];
  int64_t baud, clock_hz, icount, timeout_ms, warmup;
};

static enum oc_status parse_args(const char *args, struct mcu_args *a) {
  memset(a, 0, sizeof *a);
  a->baud = 115200;
  a->icount = DEFAULT_ICOUNT;
  a->timeout_ms = OC__MCU_TIMEOUT_MS;
  a->warmup = 1;
  char copy[1024];
  if (!oc__strfmt(copy, sizeof copy, "%s", args))
    return oc__fail(oc_status_invalid_argument, "mcu: arguments longer than %zu characters",
                    sizeof copy - 1);
  for (char *item = strtok(copy, ","); item; item = strtok(NULL, ",")) {
    char *eq = strchr(item, '=');
    if (eq == NULL)
      return oc__fail(oc_status_invalid_argument, "mcu: argument '%s' is not NAME=VALUE", item);
    *eq = '\0';
    const char *v = eq + 1;
    enum oc_status st = oc_status_ok;
    if (strcmp(item, "qemu") == 0)
      oc__strcpy(a->qemu, sizeof a->qemu, v);
    else if (strcmp(item, "port") == 0)
      oc__strcpy(a->port, sizeof a->port, v);
    else if (strcmp(item, "firmware") == 0)
      oc__strcpy(a->firmware, sizeof a->firmware, v);
    else if (strcmp(item, "qemu_bin") == 0)
      oc__strcpy(a->qemu_bin, sizeof a->qemu_bin, v);
    else if (strcmp(item, "baud") == 0)
      st = parse_int_arg(item, v, 1, 10000000, &a->baud);
    else if (strcmp(item, "clock_hz") == 0)
      st = parse_int_arg(item, v, 1000, 10000000000, &a->clock_hz);
    else if (strcmp(item, "icount") == 0)
      st = parse_int_arg(item, v, 0, 10, &a->icount);
    else if (strcmp(item, "timeout_ms") == 0)
      st = parse_int_arg(item, v, 1, 3600000, &a->timeout_ms);
    else if (strcmp(item, "warmup") == 0)
      st = parse_int_arg(item, v, 0, 1000000, &a->warmup);
    else
      return oc__fail(oc_status_invalid_argument,
                      "mcu: unknown argument '%s' (known: qemu port baud clock_hz firmware "
                      "qemu_bin icount timeout_ms warmup)",
                      item);
    if (st != oc_status_ok) return st;
  }
  if (a->qemu[0] && a->port[0])
    return oc__fail(oc_status_invalid_argument, "mcu: give qemu= or port=, not both");
  if (a->qemu[0] && !known_machine(a->qemu))
    return oc__fail(oc_status_invalid_argument,
                    "mcu: qemu: value '%s' is not a supported board (mps2-an386, mps2-an500)",
                    a->qemu);
  if (!a->qemu[0] && !a->port[0]) {
    const char *port = getenv("OPCOST_MCU_PORT");
    char qemu[512], fw[512];
    if (oc__mcu_qemu_path(qemu, sizeof qemu) && oc__mcu_firmware_path(DEFAULT_MACHINE, fw, sizeof fw))
      oc__strcpy(a->qemu, sizeof a->qemu, DEFAULT_MACHINE);
    else if (port && port[0])
      oc__strcpy(a->port, sizeof a->port, port);
    else
      return oc__fail(oc_status_invalid_argument, "mcu: give qemu=BOARD or port=DEVICE");
  }
  return oc_status_ok;
}

static void qemu_version(const char *qemu_bin, char *out, size_t size) {
  char cmd[600], line[256];
  oc__strcpy(out, size, "QEMU");
  if (strchr(qemu_bin, '\'') != NULL) return;
  oc__strfmt(cmd, sizeof cmd, "'%s' --version 2>/dev/null", qemu_bin);
  FILE *p = popen(cmd, "r");
  if (p == NULL) return;
  if (fgets(line, sizeof line, p) != NULL) {
    /* "QEMU emulator version 7.2.22 (Debian ...)" -> "QEMU 7.2.22" */
    const char *v = strstr(line, "version ");
    if (v) {
      v += 8;
      oc__strfmt(out, size, "QEMU %.*s", (int)strcspn(v, " \n"), v);
    }
  }
  pclose(p);
}

/* ---- open / close / describe ---- */

static void mcu_close(void *state) {
  struct mcu_state *s = state;
  if (s == NULL) return;
  oc__mcu_link_close(s->client.link);
  free(s);
}

static enum oc_status mcu_open(const char *args, const struct oc_target_opts *opts,
                               void **state) {
  (void)opts;
  struct mcu_args a;
  enum oc_status st = parse_args(args ? args : "", &a);
  if (st != oc_status_ok) return st;
  struct mcu_state *s = calloc(1, sizeof *s);
  if (s == NULL) return oc__fail(oc_status_out_of_memory, "mcu: out of memory");
  s->client.timeout_ms = (int)a.timeout_ms;
  s->icount = (int)a.icount;
  s->warmup = (int)a.warmup;
  s->next_id = 1;
  if (a.qemu[0]) {
    char qemu_bin[512];
    s->qemu = true;
    oc__strcpy(s->machine, sizeof s->machine, a.qemu);
    if (a.qemu_bin[0])
      oc__strcpy(qemu_bin, sizeof qemu_bin, a.qemu_bin);
    else if (!oc__mcu_qemu_path(qemu_bin, sizeof qemu_bin)) {
      st = oc__fail(oc_status_unavailable, "mcu: no qemu-system-arm in PATH (or OPCOST_QEMU_ARM)");
      goto fail;
    }
    if (a.firmware[0])
      oc__strcpy(s->firmware, sizeof s->firmware, a.firmware);
    else if (!oc__mcu_firmware_path(a.qemu, s->firmware, sizeof s->firmware)) {
      st = oc__fail(oc_status_unavailable, "mcu: firmware for %s not built (no %s)", a.qemu,
                    s->firmware);
      goto fail;
    }
    if (access(s->firmware, R_OK) != 0) {
      st = oc__fail(oc_status_io_error, "mcu: firmware '%s' is not readable", s->firmware);
      goto fail;
    }
    qemu_version(qemu_bin, s->qemu_version, sizeof s->qemu_version);
    st = oc__mcu_link_open_qemu(qemu_bin, a.qemu, s->firmware, s->icount, &s->client.link);
  } else {
    oc__strcpy(s->port, sizeof s->port, a.port);
    if (a.firmware[0]) oc__strcpy(s->firmware, sizeof s->firmware, a.firmware);
    st = oc__mcu_link_open_serial(a.port, (int)a.baud, &s->client.link);
  }
  if (st != oc_status_ok) goto fail;
  st = oc__mcu_hello(&s->client, &s->hello);
  if (st != oc_status_ok) goto fail;
  s->clock_hz = a.clock_hz > 0 ? a.clock_hz : s->hello.clock_hz;
  /* Footprint: the ELF when we have it, else what the firmware reports. */
  s->fw.code_bytes = s->hello.flash;
  s->fw.static_ram_bytes = s->hello.static_ram;
  if (s->firmware[0]) {
    struct oc_mcu_firmware elf;
    st = oc_mcu_firmware_from_elf(s->firmware, &elf);
    if (st != oc_status_ok) goto fail;
    s->fw = elf;
  }
  *state = s;
  return oc_status_ok;
fail:
  mcu_close(s);
  return st;
}

static enum oc_status mcu_describe(void *state, struct oc_device_info *info) {
  struct mcu_state *s = state;
  const struct oc__mcu_hello *h = &s->hello;
  if (s->qemu) {
    oc__strfmt(info->name, sizeof info->name,
               "%s (QEMU) %s: instruction-count proxy, not device time", h->board, h->core);
    oc__strfmt(info->runtime, sizeof info->runtime,
               "%s firmware on %s -icount shift=%d (%s ticks = instructions x 2^%d / 40)",
               h->proto, s->qemu_version, s->icount, h->timer, s->icount);
  } else {
    oc__strfmt(info->name, sizeof info->name, "%s %s on %s", h->board, h->core, s->port);
    oc__strfmt(info->runtime, sizeof info->runtime, "%s firmware, %s timer at %lld Hz", h->proto,
               h->timer, (long long)s->clock_hz);
  }
  oc__strcpy(info->vendor, sizeof info->vendor, "Arm");
  oc__strcpy(info->arch, sizeof info->arch, "armv7e-m");
  oc__strfmt(info->isa, sizeof info->isa, "%s%s %s", h->core, h->dsp ? " dsp" : "", h->fpu);
  info->cores_logical = 1;
  info->cores_physical = 1;
  info->threads = 1;
  info->memory_bytes = h->arena + h->stack + h->static_ram;
  return oc_status_ok;
}

/* ---- ops ---- */

static bool mcu_supports(void *state, const struct oc_op *op, char *why, size_t why_len) {
  struct mcu_state *s = state;
  if (why_len > 0) why[0] = '\0';
  if (op->dtype != oc_dtype_f32 && op->dtype != oc_dtype_qs8) {
    oc__strfmt(why, why_len, "dtype %s: the firmware runs f32 and qs8", oc_dtype_name(op->dtype));
    return false;
  }
  if (op->dtype == oc_dtype_qs8) {
    struct oc__mcu_quant q;
    if (oc__mcu_quant_make(op, &q) != oc_status_ok) {
      oc__strfmt(why, why_len, "%s", oc_errmsg());
      return false;
    }
    /* int32 accumulators: |x - z| <= 255 times |w| <= 128 per tap */
    int64_t taps = op->kind == oc_op_fc ? op->cin
                   : op->kind == oc_op_conv2d ? (int64_t)op->k * op->k * (op->cin / op->g)
                   : op->kind == oc_op_matmul ? op->k : 0;
    if (taps > 65000) {
      oc__strfmt(why, why_len, "qs8 with %lld taps could overflow the int32 accumulator",
                 (long long)taps);
      return false;
    }
  }
  struct oc_mcu_memory mem;
  if (oc_mcu_op_memory(op, NULL, &mem) != oc_status_ok) {
    oc__strfmt(why, why_len, "%s", oc_errmsg());
    return false;
  }
  if (mem.arena_bytes > s->hello.arena) {
    oc__strfmt(why, why_len, "needs %lld bytes of arena, the firmware on %s has %lld",
               (long long)mem.arena_bytes, s->hello.board, (long long)s->hello.arena);
    return false;
  }
  return true;
}

static void float_bits(double value, char out[9]) {
  float f = (float)value;
  uint32_t bits;
  memcpy(&bits, &f, 4);
  oc__strfmt(out, 9, "%08x", (unsigned)bits);
}

static enum oc_status build_load(struct mcu_kernel *k) {
  const struct oc_op *op = &k->op;
  char *p = k->load;
  size_t size = sizeof k->load;
  size_t used = 0;
#define APPEND(...)                                                                         \
  do {                                                                                      \
    if (!oc__strfmt(p + used, size - used, __VA_ARGS__))                                    \
      return oc__fail(oc_status_internal, "mcu: load line of the op does not fit a line");  \
    used = strlen(p);                                                                       \
  } while (0)
  APPEND("load %s %s", oc_op_kind_name(op->kind), oc_dtype_name(op->dtype));
  for (int f = 0; f < oc_field__count; f++) {
    if (!oc_op_kind_uses(op->kind, (enum oc_field)f)) continue;
    if (f == oc_field_act)
      APPEND(" act=%s", oc_act_name(op->act));
    else
      APPEND(" %s=%d", oc_field_name((enum oc_field)f), (int)oc_op_get(op, (enum oc_field)f));
  }
  APPEND(" oh=%d ow=%d pt=%d pl=%d", (int)k->sh.output.h, (int)k->sh.output.w,
         (int)k->sh.pad_top, (int)k->sh.pad_left);
  if (op->dtype == oc_dtype_qs8) {
    char fi[9], fo[9];
    float_bits(k->q.s_in0, fi);
    float_bits(k->q.s_out, fo);
    APPEND(" zi0=%d zi1=%d zo=%d lo=%d hi=%d m0=%d m1=%d r0=%d fi=%s fo=%s", (int)k->q.zi0,
           (int)k->q.zi1, (int)k->q.zo, (int)k->q.lo, (int)k->q.hi, (int)k->q.m0, (int)k->q.m1,
           (int)k->q.r0, fi, fo);
  }
#undef APPEND
  return oc_status_ok;
}

static enum oc_status put_buffer(struct mcu_state *s, enum oc__mcu_buf buf, const void *data,
                                 int64_t bytes) {
  char body[OC_MCU_LINE_MAX], hex[2 * OC_MCU_CHUNK + 1], reply[OC_MCU_LINE_MAX];
  const uint8_t *p = data;
  for (int64_t off = 0; off < bytes; off += OC_MCU_CHUNK) {
    size_t n = (size_t)(bytes - off < OC_MCU_CHUNK ? bytes - off : OC_MCU_CHUNK);
    oc__mcu_hex_encode(p + off, n, hex);
    oc__strfmt(body, sizeof body, "put %s %lld %s", oc__mcu_buf_name(buf), (long long)off, hex);
    enum oc_status st = oc__mcu_request(&s->client, body, reply, sizeof reply);
    if (st != oc_status_ok) return st;
  }
  /* End-to-end check of the whole buffer, on top of every line's CRC. */
  oc__strfmt(body, sizeof body, "crc %s", oc__mcu_buf_name(buf));
  enum oc_status st = oc__mcu_request(&s->client, body, reply, sizeof reply);
  if (st != oc_status_ok) return st;
  char want[16];
  oc__strfmt(want, sizeof want, "crc %08x", (unsigned)oc__mcu_crc32(0, data, (size_t)bytes));
  if (strcmp(reply, want) != 0)
    return oc__fail(oc_status_device_error,
                    "mcu: buffer '%s' (%lld bytes) arrived damaged: '%s' on the board, '%s' here",
                    oc__mcu_buf_name(buf), (long long)bytes, reply, want);
  return oc_status_ok;
}

/* Makes k the op the firmware holds: load, then every input buffer. */
static enum oc_status upload(struct mcu_state *s, struct mcu_kernel *k) {
  char reply[OC_MCU_LINE_MAX], value[32];
  if (s->loaded_id == k->id) return oc_status_ok;
  s->loaded_id = 0;
  enum oc_status st = oc__mcu_request(&s->client, k->load, reply, sizeof reply);
  if (st != oc_status_ok) return st;
  for (int b = 0; b < oc__mcu_buf__count; b++) {
    const char *name = oc__mcu_buf_name((enum oc__mcu_buf)b);
    int64_t got = -1;
    if (!oc__mcu_reply_value(reply, name, value, sizeof value) ||
        !oc__parse_i64(value, 0, INT64_MAX, &got) || got != k->sizes[b])
      return oc__fail(oc_status_incompatible,
                      "mcu: firmware sizes buffer '%s' as %lld bytes, the host as %lld: "
                      "rebuild the firmware",
                      name, (long long)got, (long long)k->sizes[b]);
  }
  if (oc__mcu_reply_value(reply, "arena", value, sizeof value))
    oc__parse_i64(value, 0, INT64_MAX, &k->arena_bytes);
  const void *data[oc__mcu_buf__count] = {k->tensors.weights, k->tensors.bias, k->table,
                                          k->tensors.input[0], k->tensors.input[1], NULL, NULL};
  for (int b = 0; b < oc__mcu_buf__count; b++) {
    /* A NULL bias stays zero: load clears the arena. */
    if (data[b] == NULL || k->sizes[b] == 0) continue;
    st = put_buffer(s, (enum oc__mcu_buf)b, data[b], k->sizes[b]);
    if (st != oc_status_ok) return st;
  }
  s->loaded_id = k->id;
  return oc_status_ok;
}

static void mcu_release(void *state, void *kernel) {
  struct mcu_state *s = state;
  struct mcu_kernel *k = kernel;
  if (k == NULL) return;
  if (s && s->loaded_id == k->id) s->loaded_id = 0;
  free(k->table);
  free(k);
}

static enum oc_status mcu_prepare(void *state, const struct oc_op *op,
                                  const struct oc_tensors *tensors, void **kernel) {
  struct mcu_state *s = state;
  enum oc_status st = oc_status_ok;
  struct mcu_kernel *k = calloc(1, sizeof *k);
  if (k == NULL) return oc__fail(oc_status_out_of_memory, "mcu: out of memory for a kernel");
  k->id = s->next_id++;
  k->op = *op;
  k->tensors = *tensors;
  st = oc_op_shapes(op, &k->sh);
  if (st != oc_status_ok) goto fail;
  if (tensors->output == NULL || tensors->input[0] == NULL ||
      (k->sh.n_inputs > 1 && tensors->input[1] == NULL) ||
      (k->sh.weight_elems > 0 && tensors->weights == NULL)) {
    st = oc__fail(oc_status_invalid_argument, "mcu: an input, weight or output buffer is NULL");
    goto fail;
  }
  if (!oc__mcu_buffer_sizes(op, k->sh.output.h, k->sh.output.w, k->sizes)) {
    st = oc__fail(oc_status_overflow, "mcu: op buffers too large");
    goto fail;
  }
  if (op->dtype == oc_dtype_qs8) {
    st = oc__mcu_quant_make(op, &k->q);
    if (st != oc_status_ok) goto fail;
    if (k->sizes[oc__mcu_buf_qparams] > 0) {
      k->table = calloc(1, (size_t)k->sizes[oc__mcu_buf_qparams]);
      if (k->table == NULL) {
        st = oc__fail(oc_status_out_of_memory, "mcu: out of memory for tables");
        goto fail;
      }
      oc__mcu_quant_table(op, &k->q, k->table);
    }
  }
  st = build_load(k);
  if (st != oc_status_ok) goto fail;
  st = upload(s, k);
  if (st != oc_status_ok) goto fail;
  *kernel = k;
  return oc_status_ok;
fail:
  mcu_release(s, k);
  return st;
}

/* One run command: warmup untimed runs, then n timed ones (n <= 32). */
static enum oc_status run_batch(struct mcu_state *s, struct mcu_kernel *k, int warmup, int n,
                                double *device_us) {
  char body[64], reply[OC_MCU_LINE_MAX], value[OC_MCU_LINE_MAX];
  enum oc_status st = upload(s, k);
  if (st != oc_status_ok) return st;
  oc__strfmt(body, sizeof body, "run %d %d", warmup, n);
  st = oc__mcu_request(&s->client, body, reply, sizeof reply);
  if (st != oc_status_ok) return st;
  int64_t stack = 0;
  if (!oc__mcu_reply_value(reply, "stack", value, sizeof value) ||
      !oc__parse_i64(value, 0, INT64_MAX, &stack) ||
      !oc__mcu_reply_value(reply, "cycles", value, sizeof value))
    return oc__fail(oc_status_parse_error, "mcu: run reply '%s' lacks stack= or cycles=", reply);
  k->stack_bytes = stack;
  char *save = NULL;
  int got = 0;
  for (char *item = strtok_r(value, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    int64_t cycles;
    if (got >= n || !oc__parse_i64(item, 0, INT64_MAX, &cycles))
      return oc__fail(oc_status_parse_error, "mcu: run reply: cycle count '%s' is not valid", item);
    if (device_us) device_us[got] = (double)cycles * 1e6 / (double)s->clock_hz;
    got++;
  }
  if (got != n)
    return oc__fail(oc_status_parse_error, "mcu: run reply has %d cycle counts, %d asked", got, n);
  return oc_status_ok;
}

static enum oc_status mcu_run(void *state, void *kernel) {
  return run_batch(state, kernel, 0, 1, NULL);
}

static enum oc_status mcu_time_runs(void *state, void *kernel, int runs, double *device_us) {
  struct mcu_state *s = state;
  for (int done = 0; done < runs;) {
    int n = runs - done < OC_MCU_MAX_SAMPLES ? runs - done : OC_MCU_MAX_SAMPLES;
    enum oc_status st = run_batch(s, kernel, done == 0 ? s->warmup : 0, n, device_us + done);
    if (st != oc_status_ok) return st;
    done += n;
  }
  return oc_status_ok;
}

static enum oc_status mcu_read_output(void *state, void *kernel) {
  struct mcu_state *s = state;
  struct mcu_kernel *k = kernel;
  char body[64], reply[OC_MCU_LINE_MAX];
  if (s->loaded_id != k->id) {
    /* Another op displaced this one: run it again (results are
     * deterministic) so that its output is on the board. */
    enum oc_status st = run_batch(s, k, 0, 1, NULL);
    if (st != oc_status_ok) return st;
  }
  uint8_t *out = k->tensors.output;
  const int64_t bytes = k->sizes[oc__mcu_buf_out];
  for (int64_t off = 0; off < bytes; off += OC_MCU_CHUNK) {
    int64_t n = bytes - off < OC_MCU_CHUNK ? bytes - off : OC_MCU_CHUNK;
    oc__strfmt(body, sizeof body, "get out %lld %lld", (long long)off, (long long)n);
    enum oc_status st = oc__mcu_request(&s->client, body, reply, sizeof reply);
    if (st != oc_status_ok) return st;
    if (strncmp(reply, "get ", 4) != 0 ||
        !oc__mcu_hex_decode(reply + 4, strlen(reply + 4), out + off, (size_t)n))
      return oc__fail(oc_status_parse_error, "mcu: get reply for bytes %lld..%lld is not %lld hex bytes",
                      (long long)off, (long long)(off + n), (long long)n);
  }
  return oc_status_ok;
}

enum oc_status oc_mcu_kernel_memory(struct oc_target *target, struct oc_kernel *kernel,
                                    struct oc_mcu_memory *mem) {
  memset(mem, 0, sizeof *mem);
  if (target == NULL || oc_target_vtab_of(target) != &oc_target_mcu)
    return oc__fail(oc_status_invalid_argument, "oc_mcu_kernel_memory: not an mcu target");
  struct mcu_state *s = oc__target_state(target);
  struct mcu_kernel *k = kernel ? oc__target_kernel_impl(kernel) : NULL;
  if (k == NULL)
    return oc__fail(oc_status_invalid_argument, "oc_mcu_kernel_memory: not an op kernel");
  enum oc_status st = oc_mcu_op_memory(&k->op, &s->fw, mem);
  if (st != oc_status_ok) return st;
  mem->arena_bytes = k->arena_bytes;
  mem->stack_bytes = k->stack_bytes;
  mem->sram_bytes =
      mem->static_ram_bytes + mem->activation_bytes + mem->scratch_bytes + mem->stack_bytes;
  return oc_status_ok;
}

struct oc__mcu_client *oc__mcu_target_client(struct oc_target *target) {
  if (target == NULL || oc_target_vtab_of(target) != &oc_target_mcu) return NULL;
  struct mcu_state *s = oc__target_state(target);
  return &s->client;
}

const struct oc_target_vtab oc_target_mcu = {
    .abi_version = OC_TARGET_ABI_VERSION,
    .name = "mcu",
    .summary = "Cortex-M firmware over a serial link (a board, or QEMU mps2: instruction-count "
               "proxy)",
    .caps = oc_cap_device_timer,
    .probe = mcu_probe,
    .open = mcu_open,
    .close = mcu_close,
    .describe = mcu_describe,
    .supports = mcu_supports,
    .prepare = mcu_prepare,
    .run = mcu_run,
    .read_output = mcu_read_output,
    .time_runs = mcu_time_runs,
    .release = mcu_release,
};
