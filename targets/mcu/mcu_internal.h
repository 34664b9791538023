/* mcu_internal.h - internals of the mcu target shared by its host files:
 * the byte link (termios serial port, or QEMU's serial on a socket), the
 * protocol client on top of it, the qs8 quantisation convention and the
 * quantised reference kernels, and the ELF/memory helpers. Not public. */
#ifndef OPCOST_TARGETS_MCU_INTERNAL_H
#define OPCOST_TARGETS_MCU_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "opcost/mcu.h"
#include "opcost/op.h"
#include "opcost/target.h"
#include "targets/mcu/mcu_wire.h"

/* Default time to wait for one reply; runs of big ops on slow boards may
 * need more (the timeout_ms argument). */
#define OC__MCU_TIMEOUT_MS 10000
/* Times a request is sent again after a frame error or a lost reply. */
#define OC__MCU_RETRIES 2

/* ---- link: bytes to and from the board ---- */

struct oc__mcu_link;

/* Opens a serial device (8N1, raw, no flow control) at baud. */
enum oc_status oc__mcu_link_open_serial(const char *path, int baud, struct oc__mcu_link **link);
/* Starts `qemu_bin -M machine -kernel firmware -icount shift=N,...` with its
 * first serial port on a socket pair. */
enum oc_status oc__mcu_link_open_qemu(const char *qemu_bin, const char *machine,
                                      const char *firmware, int icount_shift,
                                      struct oc__mcu_link **link);
/* Wraps a connected descriptor (a pty or a socket; tests). The link owns it. */
enum oc_status oc__mcu_link_open_fd(int fd, struct oc__mcu_link **link);
void oc__mcu_link_close(struct oc__mcu_link *link); /* NULL-safe; stops QEMU */

enum oc_status oc__mcu_link_write(struct oc__mcu_link *link, const void *data, size_t len);
/* Next complete line (NUL-terminated, no newline) within timeout_ms.
 * Discarded garbage lines are counted in *garbage (may be NULL). timeout
 * when nothing arrives in time; device_error when the other end closed (for
 * QEMU, with how it exited). */
enum oc_status oc__mcu_link_read_line(struct oc__mcu_link *link, int timeout_ms, char *line,
                                      size_t size, int *garbage);
/* QEMU's process id, or -1 for a serial link. */
pid_t oc__mcu_link_pid(const struct oc__mcu_link *link);
/* What the link is ("/dev/ttyACM0 at 115200 baud", "QEMU mps2-an386"). */
const char *oc__mcu_link_name(const struct oc__mcu_link *link);

/* ---- protocol client ---- */

/* The firmware's hello reply. */
struct oc__mcu_hello {
  char proto[32], board[32], core[32], fpu[32], timer[16];
  int dsp;
  int64_t clock_hz, flash, static_ram, stack, arena;
};

struct oc__mcu_client {
  struct oc__mcu_link *link;
  int timeout_ms;
  uint32_t seq;
  int garbage_lines; /* lines discarded since open: garbage or bad CRC */
  int retries;       /* requests sent again */
  bool dead;         /* the firmware faulted: every request fails */
  char dead_why[160];
};

/* Sends "SEQ body" and waits for "SEQ ok ..." (reply gets what follows
 * "ok "). Lines of other sequence numbers and garbage are skipped; a frame
 * error from the device or a lost reply resends the request (at most
 * OC__MCU_RETRIES times). "SEQ err CODE TEXT" becomes a status: nomem ->
 * out_of_memory, unsupported -> unsupported, arg/cmd/state ->
 * invalid_argument, fault -> device_error. */
enum oc_status oc__mcu_request(struct oc__mcu_client *client, const char *body, char *reply,
                               size_t reply_size);
enum oc_status oc__mcu_hello(struct oc__mcu_client *client, struct oc__mcu_hello *hello);
/* Value of "key=" in a reply body; false when absent. */
bool oc__mcu_reply_value(const char *reply, const char *key, char *value, size_t size);

/* The protocol client of an open mcu target (NULL for another target): for
 * tests that inject faults (QEMU's pid, raw garbage, test commands). */
struct oc__mcu_client *oc__mcu_target_client(struct oc_target *target);

/* ---- qs8 convention and quantised reference (mcu_quant.c) ---- */

struct oc__mcu_quant {
  double s_in0, s_in1, s_out;  /* scales */
  int32_t zi0, zi1, zo;        /* zero points */
  int32_t lo, hi;              /* output clamp (fused relu/relu6) */
  int32_t m0, m1, r0;          /* per-tensor multipliers and shift */
};

/* The convention of docs/mcu.md for a qs8 op. unsupported for fused
 * activations other than none/relu/relu6 on conv2d, fc and add. */
enum oc_status oc__mcu_quant_make(const struct oc_op *op, struct oc__mcu_quant *q);
/* Weight scale of output channel o (conv2d, fc; symmetric, per channel). */
double oc__mcu_quant_weight_scale(int32_t o);
/* Real multiplier -> (mult in [2^30, 2^31), shift in [1, 62]). */
void oc__mcu_quant_multiplier(double real, int32_t *mult, int32_t *shift);
/* The qparams buffer of op (mcu_wire.h oc__mcu_buf_qparams): per-channel
 * (mult, shift) pairs, an act table or a softmax table; bytes must be
 * oc__mcu_buffer_sizes' size. */
void oc__mcu_quant_table(const struct oc_op *op, const struct oc__mcu_quant *q, void *bytes);
/* Computes the qs8 op on host buffers exactly as docs/mcu.md defines it
 * (the oracle of the int8 kernels). */
enum oc_status oc__mcu_qref_compute(const struct oc_op *op, const struct oc__mcu_quant *q,
                                    const struct oc_tensors *t);

/* ---- paths ---- */

/* Firmware ELF of a QEMU machine: $OPCOST_MCU_FIRMWARE_DIR, else the build
 * tree's firmware folder. False when not found (path still gets the place
 * looked at). */
bool oc__mcu_firmware_path(const char *machine, char *path, size_t size);
/* qemu-system-arm: $OPCOST_QEMU_ARM, else PATH. False when not found. */
bool oc__mcu_qemu_path(char *path, size_t size);

#endif
