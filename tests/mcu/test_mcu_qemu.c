/* test_mcu_qemu.c - the mcu target end to end on QEMU's MPS2 boards (AN386
 * Cortex-M4, AN500 Cortex-M7): f32 kernels against the ref oracle, int8
 * kernels bit for bit against the quantised reference, memory figures
 * against the analytic ones and the ELF, the cycle proxy, and faults: QEMU
 * killed mid-run, garbage on the line in both directions, a stalled board
 * (timeouts) and a firmware fault, each ending in a clear error.
 *
 * Skips with the reason when qemu-system-arm or the firmware is missing.
 * Shapes stay small: the whole suite runs in seconds. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "opcost/mcu.h"
#include "targets/mcu/mcu_internal.h"
#include "targets/ref/ref.h"
#include "targets/targets_internal.h"

static void need_qemu(void) {
  char why[512];
  if (oc_target_mcu.probe(why, sizeof why) != oc_status_ok) cr_skip_test("mcu: %s", why);
  char path[512];
  if (!oc__mcu_qemu_path(path, sizeof path)) cr_skip_test("no qemu-system-arm");
  if (!oc__mcu_firmware_path("mps2-an500", path, sizeof path)) cr_skip_test("no %s", path);
}

static struct oc_target *open_board(const char *spec) {
  struct oc_target *t = NULL;
  enum oc_status st = oc_target_open(spec, NULL, &t);
  cr_assert_eq(st, oc_status_ok, "%s: %s", spec, oc_errmsg());
  return t;
}

static struct oc_op key(const char *text) {
  struct oc_op op;
  cr_assert_eq(oc_op_parse(text, &op), oc_status_ok, "%s: %s", text, oc_errmsg());
  return op;
}

/* Host buffers of one op, filled from a seed: f32 uniform in [-1, 1);
 * qs8 int8 codes over the whole range, int32 bias, f32 layernorm params. */
struct bufs {
  struct oc_op_shapes sh;
  void *in[2], *w, *b, *out, *expect;
  size_t out_bytes;
  struct oc_tensors t, ref;
};

static void fill(struct oc__rng *rng, void *p, int64_t n, enum oc_dtype dt, int kind) {
  for (int64_t i = 0; i < n; i++) {
    if (dt == oc_dtype_f32 || kind == 2)
      ((float *)p)[i] = (float)(oc__rng_double(rng) * 2.0 - 1.0);
    else if (kind == 1)
      ((int32_t *)p)[i] = (int32_t)oc__rng_below(rng, 4001) - 2000;
    else
      ((int8_t *)p)[i] = (int8_t)((int)oc__rng_below(rng, 256) - 128);
  }
}

static void make_bufs(const struct oc_op *op, uint64_t seed, struct bufs *b) {
  struct oc__rng rng;
  memset(b, 0, sizeof *b);
  oc__rng_seed(&rng, seed);
  cr_assert_eq(oc_op_shapes(op, &b->sh), oc_status_ok);
  size_t es = oc_dtype_size(op->dtype);
  bool ln = op->kind == oc_op_layernorm;
  for (int i = 0; i < b->sh.n_inputs; i++) {
    int64_t n = oc_tensor_elems(&b->sh.input[i]);
    b->in[i] = calloc((size_t)n, es);
    fill(&rng, b->in[i], n, op->dtype, 0);
  }
  if (b->sh.weight_elems) {
    b->w = calloc((size_t)b->sh.weight_elems, ln ? 4 : es);
    fill(&rng, b->w, b->sh.weight_elems, op->dtype, ln ? 2 : 0);
    b->b = calloc((size_t)b->sh.bias_elems, 4);
    fill(&rng, b->b, b->sh.bias_elems, op->dtype, ln ? 2 : 1);
  }
  b->out_bytes = (size_t)oc_tensor_elems(&b->sh.output) * es;
  b->out = calloc(1, b->out_bytes);
  b->expect = calloc(1, b->out_bytes);
  b->t.input[0] = b->in[0];
  b->t.input[1] = b->in[1];
  b->t.weights = b->w;
  b->t.bias = b->b;
  b->t.output = b->out;
  b->ref = b->t;
  b->ref.output = b->expect;
}

static void free_bufs(struct bufs *b) {
  free(b->in[0]);
  free(b->in[1]);
  free(b->w);
  free(b->b);
  free(b->out);
  free(b->expect);
}

/* Runs op on the target and checks it: f32 against ref within a relative
 * tolerance, qs8 bit-exact against the quantised reference (layernorm
 * within one step: float rounding). Returns the kernel's measured memory. */
static void check_op(struct oc_target *t, const char *text, struct oc_mcu_memory *mem_out) {
  struct oc_op op = key(text);
  struct bufs b;
  struct oc_kernel *k = NULL;
  make_bufs(&op, 42, &b);
  cr_assert_eq(oc_target_prepare(t, &op, &b.t, &k), oc_status_ok, "%s: %s", text, oc_errmsg());
  cr_assert_eq(oc_target_run(t, k), oc_status_ok, "%s: %s", text, oc_errmsg());
  cr_assert_eq(oc_target_read_output(t, k), oc_status_ok, "%s: %s", text, oc_errmsg());
  int64_t n = oc_tensor_elems(&b.sh.output);
  if (op.dtype == oc_dtype_f32) {
    cr_assert_eq(oc__ref_compute(&op, &b.ref), oc_status_ok, "%s", oc_errmsg());
    const float *got = b.out, *want = b.expect;
    for (int64_t i = 0; i < n; i++) {
      float tol = 2e-5f + 2e-5f * fabsf(want[i]) * sqrtf((float)(op.k * op.k * op.cin + op.k + op.c + 1));
      cr_assert(fabsf(got[i] - want[i]) <= tol, "%s: element %lld: %.9g, ref %.9g", text,
                (long long)i, (double)got[i], (double)want[i]);
    }
  } else {
    struct oc__mcu_quant q;
    cr_assert_eq(oc__mcu_quant_make(&op, &q), oc_status_ok);
    cr_assert_eq(oc__mcu_qref_compute(&op, &q, &b.ref), oc_status_ok, "%s", oc_errmsg());
    const int8_t *got = b.out, *want = b.expect;
    int distinct = 0;
    for (int64_t i = 0; i < n; i++) {
      int diff = abs(got[i] - want[i]);
      cr_assert_leq(diff, op.kind == oc_op_layernorm ? 1 : 0, "%s: element %lld: %d, qref %d",
                    text, (long long)i, got[i], want[i]);
      if (i > 0 && want[i] != want[0]) distinct++;
    }
    /* the convention must not saturate everything into one value */
    if (n > 4) cr_assert_gt(distinct, 0, "%s: output is constant %d", text, want[0]);
  }
  if (mem_out) cr_assert_eq(oc_mcu_kernel_memory(t, k, mem_out), oc_status_ok, "%s", oc_errmsg());
  oc_target_release(t, k);
  free_bufs(&b);
}

static const char *const f32_ops[] = {
    "conv2d.f32 h=7 w=6 cin=5 cout=6 k=3 s=2 g=1 d=1 act=relu6",
    "conv2d.f32 h=9 w=9 cin=8 cout=8 k=3 s=1 g=8 d=2 act=hswish",
    "fc.f32 m=3 cin=13 cout=7 act=gelu",
    "matmul.f32 b=2 m=3 k=5 n=4 tb=1",
    "avgpool2d.f32 h=7 w=7 c=3 k=3 s=2",
    "maxpool2d.f32 h=6 w=5 c=4 k=2 s=2",
    "gap.f32 h=5 w=3 c=6",
    "act.f32 h=3 w=5 c=7 act=sigmoid",
    "add.f32 h=3 w=3 c=5 act=relu",
    "mul.f32 h=4 w=2 c=3 bc=1",
    "layernorm.f32 h=1 w=5 c=13",
    "softmax.f32 h=1 w=3 c=11",
    "concat.f32 h=3 w=2 c=3 c2=5",
};

static const char *const qs8_ops[] = {
    "conv2d.qs8 h=7 w=6 cin=5 cout=6 k=3 s=2 g=1 d=1 act=relu6",
    "conv2d.qs8 h=8 w=8 cin=16 cout=8 k=1 s=1 g=1 d=1 act=none",
    "conv2d.qs8 h=9 w=7 cin=6 cout=12 k=3 s=1 g=6 d=1 act=relu",
    "conv2d.qs8 h=6 w=6 cin=8 cout=8 k=3 s=1 g=2 d=1 act=none",
    "fc.qs8 m=2 cin=37 cout=9 act=none",
    "matmul.qs8 b=2 m=3 k=13 n=5 tb=0",
    "matmul.qs8 b=1 m=4 k=9 n=3 tb=1",
    "avgpool2d.qs8 h=7 w=7 c=3 k=3 s=2",
    "maxpool2d.qs8 h=6 w=5 c=4 k=3 s=1",
    "gap.qs8 h=5 w=3 c=6",
    "act.qs8 h=3 w=5 c=7 act=sigmoid",
    "act.qs8 h=2 w=3 c=9 act=gelu",
    "add.qs8 h=3 w=3 c=5 act=relu6",
    "mul.qs8 h=4 w=2 c=3 bc=1",
    "layernorm.qs8 h=1 w=5 c=13",
    "softmax.qs8 h=2 w=3 c=11",
    "concat.qs8 h=3 w=2 c=3 c2=5",
};

/* Every op on the Cortex-M4; on the Cortex-M7 (same kernels, another
 * compiler target and FPU) the int8 list and a few f32 ops. */
static void check_all(const char *spec, size_t f32_count) {
  struct oc_target *t = open_board(spec);
  for (size_t i = 0; i < f32_count; i++) check_op(t, f32_ops[i], NULL);
  for (size_t i = 0; i < sizeof qs8_ops / sizeof qs8_ops[0]; i++) check_op(t, qs8_ops[i], NULL);
  oc_target_close(t);
}

Test(mcu_qemu, kernels_cortex_m4) {
  need_qemu();
  check_all("mcu:qemu=mps2-an386", sizeof f32_ops / sizeof f32_ops[0]);
}

Test(mcu_qemu, kernels_cortex_m7) {
  need_qemu();
  check_all("mcu:qemu=mps2-an500", 4);
}

Test(mcu_qemu, device_info_says_proxy) {
  need_qemu();
  struct oc_target *t = open_board("mcu:qemu=mps2-an500");
  struct oc_device_info info;
  cr_assert_eq(oc_target_describe(t, &info), oc_status_ok);
  cr_assert(strstr(info.name, "instruction-count proxy") != NULL, "%s", info.name);
  cr_assert(strstr(info.name, "cortex-m7") != NULL, "%s", info.name);
  cr_assert(strstr(info.runtime, "icount shift=6") != NULL, "%s", info.runtime);
  cr_assert(strstr(info.isa, "dsp") != NULL, "%s", info.isa);
  cr_assert_str_eq(info.target, "mcu");
  oc_target_close(t);
}

Test(mcu_qemu, cycle_proxy_is_deterministic_and_scales) {
  need_qemu();
  struct oc_target *t = open_board("mcu:qemu=mps2-an386");
  double small[5], large[5];
  const char *keys[2] = {"conv2d.qs8 h=6 w=6 cin=4 cout=4 k=3 s=1 g=1 d=1 act=none",
                         "conv2d.qs8 h=12 w=12 cin=4 cout=4 k=3 s=1 g=1 d=1 act=none"};
  double *out[2] = {small, large};
  for (int i = 0; i < 2; i++) {
    struct oc_op op = key(keys[i]);
    struct bufs b;
    struct oc_kernel *k = NULL;
    make_bufs(&op, 7, &b);
    cr_assert_eq(oc_target_prepare(t, &op, &b.t, &k), oc_status_ok, "%s", oc_errmsg());
    cr_assert_eq(oc_target_time_runs(t, k, 5, out[i]), oc_status_ok, "%s", oc_errmsg());
    oc_target_release(t, k);
    free_bufs(&b);
  }
  for (int r = 0; r < 5; r++) {
    cr_assert_gt(small[r], 0.0);
    /* -icount makes every run of one kernel cost the same, within a tick */
    cr_assert_leq(fabs(small[r] - small[0]), 0.05, "%f vs %f us", small[r], small[0]);
  }
  /* four times the pixels: between 3.5 and 4.5 times the proxy time */
  cr_assert(large[0] > 3.5 * small[0] && large[0] < 4.5 * small[0], "%f vs %f", large[0],
            small[0]);
  oc_target_close(t);
}

Test(mcu_qemu, time_runs_batches_past_32) {
  need_qemu();
  struct oc_target *t = open_board("mcu:qemu=mps2-an386,warmup=2");
  struct oc_op op = key("add.f32 h=4 w=4 c=4 act=none");
  struct bufs b;
  struct oc_kernel *k = NULL;
  double us[40];
  make_bufs(&op, 3, &b);
  cr_assert_eq(oc_target_prepare(t, &op, &b.t, &k), oc_status_ok, "%s", oc_errmsg());
  for (int i = 0; i < 40; i++) us[i] = -1.0;
  cr_assert_eq(oc_target_time_runs(t, k, 40, us), oc_status_ok, "%s", oc_errmsg());
  for (int i = 0; i < 40; i++) cr_assert_gt(us[i], 0.0, "sample %d", i);
  oc_target_release(t, k);
  free_bufs(&b);
  oc_target_close(t);
}

Test(mcu_qemu, memory_matches_analytic_and_elf) {
  need_qemu();
  char elf[512];
  cr_assert(oc__mcu_firmware_path("mps2-an386", elf, sizeof elf));
  struct oc_mcu_firmware fw;
  cr_assert_eq(oc_mcu_firmware_from_elf(elf, &fw), oc_status_ok, "%s", oc_errmsg());
  cr_assert_gt(fw.code_bytes, 4096);
  cr_assert_lt(fw.code_bytes, 256 * 1024);
  cr_assert_gt(fw.static_ram_bytes, 0);
  cr_assert_lt(fw.static_ram_bytes, 64 * 1024); /* arena and stack left out */

  struct oc_target *t = open_board("mcu:qemu=mps2-an386");
  struct oc__mcu_client *c = oc__mcu_target_client(t);
  cr_assert_not_null(c);
  /* the firmware's own report of its image agrees with the ELF */
  struct oc__mcu_hello h;
  cr_assert_eq(oc__mcu_hello(c, &h), oc_status_ok);
  cr_assert_eq(h.flash, fw.code_bytes);
  cr_assert_eq(h.static_ram, fw.static_ram_bytes);

  const char *keys[] = {"conv2d.qs8 h=7 w=6 cin=5 cout=6 k=3 s=2 g=1 d=1 act=relu6",
                        "fc.f32 m=3 cin=13 cout=7 act=gelu", "softmax.qs8 h=2 w=3 c=11"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    struct oc_op op = key(keys[i]);
    struct oc_mcu_memory measured, analytic;
    check_op(t, keys[i], &measured);
    cr_assert_eq(oc_mcu_op_memory(&op, &fw, &analytic), oc_status_ok);
    cr_assert_eq(measured.arena_bytes, analytic.arena_bytes, "%s", keys[i]);
    cr_assert_eq(measured.weight_bytes, analytic.weight_bytes);
    cr_assert_eq(measured.flash_bytes, fw.code_bytes + analytic.weight_bytes);
    /* painted stack: the protocol loop plus the kernel, well under 64 KiB */
    cr_assert_gt(measured.stack_bytes, 64, "%s", keys[i]);
    cr_assert_lt(measured.stack_bytes, 8192, "%s", keys[i]);
    cr_assert_eq(measured.sram_bytes, fw.static_ram_bytes + analytic.activation_bytes +
                                          analytic.scratch_bytes + measured.stack_bytes);
  }
  struct oc_op conv = key("conv2d.qs8 h=7 w=6 cin=5 cout=6 k=3 s=2 g=1 d=1 act=relu6");
  struct oc_mcu_memory a;
  cr_assert_eq(oc_mcu_op_memory(&conv, NULL, &a), oc_status_ok);
  /* weights int8 + bias int32 + (mult, shift) pairs */
  cr_assert_eq(a.weight_bytes, 6 * 9 * 5 + 4 * 6 + 8 * 6);
  cr_assert_eq(a.activation_bytes, 7 * 6 * 5 + 4 * 3 * 6);
  cr_assert_eq(a.scratch_bytes, 4 * 45);
  oc_target_close(t);
}

Test(mcu_memory, boards_and_fits) {
  const struct oc_mcu_board *f7 = oc_mcu_board_find("STM32F746");
  cr_assert_not_null(f7);
  cr_assert_eq(f7->sram_bytes, 320 * 1024);
  cr_assert_eq(f7->flash_bytes, 1024 * 1024);
  cr_assert_null(oc_mcu_board_find("pdp11"));
  cr_assert_gt(oc_mcu_board_count(), 3);
  struct oc_mcu_firmware fw = {30000, 4000, 2048};
  struct oc_mcu_memory m;
  struct oc_op small = key("conv2d.qs8 h=32 w=32 cin=16 cout=16 k=3 s=1 g=1 d=1 act=relu");
  cr_assert_eq(oc_mcu_op_memory(&small, &fw, &m), oc_status_ok);
  char why[256];
  cr_assert(oc_mcu_fits(&m, f7, why, sizeof why), "%s", why);
  struct oc_op big = key("conv2d.f32 h=112 w=112 cin=32 cout=32 k=3 s=1 g=1 d=1 act=relu");
  cr_assert_eq(oc_mcu_op_memory(&big, &fw, &m), oc_status_ok);
  cr_assert_not(oc_mcu_fits(&m, f7, why, sizeof why));
  cr_assert(strstr(why, "SRAM") != NULL && strstr(why, "stm32f746") != NULL, "%s", why);
  struct oc_op heavy = key("fc.f32 m=1 cin=1024 cout=1024 act=none"); /* 4 MiB of weights */
  cr_assert_eq(oc_mcu_op_memory(&heavy, &fw, &m), oc_status_ok);
  cr_assert_not(oc_mcu_fits(&m, f7, why, sizeof why));
  cr_assert(strstr(why, "flash") != NULL, "%s", why);
  struct oc_op half = key("conv2d.f16 h=8 w=8 cin=8 cout=8 k=3 s=1 g=1 d=1 act=relu");
  cr_assert_eq(oc_mcu_op_memory(&half, &fw, &m), oc_status_unsupported);
}

/* ---- faults ---- */

struct killer {
  pid_t pid;
  int delay_ms;
};

static void *kill_later(void *arg) {
  struct killer *k = arg;
  struct timespec ts = {k->delay_ms / 1000, (long)(k->delay_ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  kill(k->pid, SIGKILL);
  return NULL;
}

Test(mcu_faults, qemu_killed_mid_run) {
  need_qemu();
  /* a million warm-up runs keep the board busy far longer than the kill delay */
  struct oc_target *t = open_board("mcu:qemu=mps2-an386,warmup=1000000,timeout_ms=20000");
  struct oc_op op = key("add.f32 h=4 w=4 c=4 act=none");
  struct bufs b;
  struct oc_kernel *k = NULL;
  double us[4];
  make_bufs(&op, 1, &b);
  cr_assert_eq(oc_target_prepare(t, &op, &b.t, &k), oc_status_ok, "%s", oc_errmsg());
  struct killer killer = {oc__mcu_link_pid(oc__mcu_target_client(t)->link), 300};
  cr_assert_gt(killer.pid, 0);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, kill_later, &killer), 0);
  enum oc_status st = oc_target_time_runs(t, k, 4, us);
  pthread_join(th, NULL);
  cr_assert_eq(st, oc_status_device_error, "%s: %s", oc_status_name(st), oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "killed by signal 9") != NULL, "%s", oc_errmsg());
  /* everything after fails fast and clearly, nothing hangs */
  cr_assert_eq(oc_target_run(t, k), oc_status_device_error);
  oc_target_release(t, k);
  free_bufs(&b);
  oc_target_close(t);
}

Test(mcu_faults, garbage_both_ways) {
  need_qemu();
  struct oc_target *t = open_board("mcu:qemu=mps2-an500");
  struct oc__mcu_client *c = oc__mcu_target_client(t);
  char reply[256];
  /* host -> board: binary junk without a newline, then a normal request;
   * the firmware discards the junk line and the host resends */
  const char junk[] = "\x81\x82\x83 not a frame \xff";
  cr_assert_eq(oc__mcu_link_write(c->link, junk, sizeof junk - 1), oc_status_ok);
  cr_assert_eq(oc__mcu_request(c, "ping", reply, sizeof reply), oc_status_ok, "%s", oc_errmsg());
  cr_assert_geq(c->retries, 1);
  /* a line with a wrong CRC is refused by the firmware, not executed */
  cr_assert_eq(oc__mcu_link_write(c->link, "\n5 fault *00000000\n", 19), oc_status_ok);
  cr_assert_eq(oc__mcu_request(c, "ping", reply, sizeof reply), oc_status_ok, "%s", oc_errmsg());
  cr_assert_not(c->dead);
  /* board -> host: 500 bytes of garbage before the reply */
  int before = c->garbage_lines;
  cr_assert_eq(oc__mcu_request(c, "noise 500", reply, sizeof reply), oc_status_ok, "%s",
               oc_errmsg());
  cr_assert_gt(c->garbage_lines, before);
  /* the op path still works afterwards */
  check_op(t, "add.qs8 h=3 w=3 c=5 act=relu6", NULL);
  oc_target_close(t);
}

Test(mcu_faults, stalled_board_times_out_then_recovers) {
  need_qemu();
  struct oc_target *t = open_board("mcu:qemu=mps2-an386,timeout_ms=200");
  struct oc__mcu_client *c = oc__mcu_target_client(t);
  pid_t pid = oc__mcu_link_pid(c->link);
  char reply[256];
  cr_assert_eq(kill(pid, SIGSTOP), 0);
  enum oc_status st = oc__mcu_request(c, "ping", reply, sizeof reply);
  kill(pid, SIGCONT);
  cr_assert_eq(st, oc_status_timeout, "%s: %s", oc_status_name(st), oc_errmsg());
  cr_assert(strstr(oc_errmsg(), "no valid reply") != NULL, "%s", oc_errmsg());
  /* the late replies to the timed-out requests are stale and skipped */
  c->timeout_ms = 5000;
  cr_assert_eq(oc__mcu_request(c, "hello", reply, sizeof reply), oc_status_ok, "%s", oc_errmsg());
  cr_assert(strstr(reply, "board=mps2-an386") != NULL, "%s", reply);
  oc_target_close(t);
}

Test(mcu_faults, firmware_fault_is_reported) {
  need_qemu();
  struct oc_target *t = open_board("mcu:qemu=mps2-an386");
  struct oc__mcu_client *c = oc__mcu_target_client(t);
  char reply[256];
  cr_assert_eq(oc__mcu_request(c, "fault", reply, sizeof reply), oc_status_device_error);
  cr_assert(strstr(oc_errmsg(), "faulted") != NULL && strstr(oc_errmsg(), "pc=") != NULL, "%s",
            oc_errmsg());
  cr_assert_eq(oc__mcu_request(c, "ping", reply, sizeof reply), oc_status_device_error);
  oc_target_close(t);
}

Test(mcu_faults, bad_arguments_and_unsupported) {
  need_qemu();
  struct oc_target *t = NULL;
  cr_assert_eq(oc_target_open("mcu:qemu=mps2-an999", NULL, &t), oc_status_invalid_argument);
  cr_assert(strstr(oc_errmsg(), "mps2-an999") != NULL, "%s", oc_errmsg());
  cr_assert_eq(oc_target_open("mcu:qemu=mps2-an386,port=/dev/null", NULL, &t),
               oc_status_invalid_argument);
  cr_assert_eq(oc_target_open("mcu:qemu=mps2-an386,firmware=/nonexistent.elf", NULL, &t),
               oc_status_io_error);
  cr_assert_eq(oc_target_open("mcu:speed=9", NULL, &t), oc_status_invalid_argument);
  t = open_board("mcu:qemu=mps2-an386");
  char why[256];
  struct oc_op op = key("conv2d.f16 h=8 w=8 cin=8 cout=8 k=3 s=1 g=1 d=1 act=relu");
  cr_assert_not(oc_target_supports(t, &op, why, sizeof why));
  cr_assert(strstr(why, "f16") != NULL, "%s", why);
  op = key("conv2d.qs8 h=8 w=8 cin=8 cout=8 k=3 s=1 g=1 d=1 act=gelu");
  cr_assert_not(oc_target_supports(t, &op, why, sizeof why));
  cr_assert(strstr(why, "relu6") != NULL, "%s", why);
  op = key("conv2d.f32 h=256 w=256 cin=16 cout=16 k=3 s=1 g=1 d=1 act=none"); /* 8 MiB */
  cr_assert_not(oc_target_supports(t, &op, why, sizeof why));
  cr_assert(strstr(why, "arena") != NULL, "%s", why);
  oc_target_close(t);
}
