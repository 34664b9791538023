/* fw.h - the firmware's view of one loaded op: the op itself (struct oc_op
 * from the host's op.h, so kinds and activations are ops.def's), the shape
 * facts the host computed (output size, "same" padding), the qs8
 * quantisation parameters, and its buffers in the arena; plus the kernel
 * entry points of kernels_f32.c and kernels_s8.c. */
#ifndef FW_FW_H
#define FW_FW_H

#include <stdint.h>

#include "opcost/op.h"
#include "targets/mcu/mcu_wire.h"

struct fw_op {
  struct oc_op op;
  int32_t oh, ow;   /* output height and width */
  int32_t pt, pl;   /* padding at the top and on the left */
  /* qs8 (docs/mcu.md): zero points of the inputs and the output, the output
   * clamp (the fused activation), per-tensor multipliers and the shift,
   * and the float scales layernorm needs. */
  int32_t zi0, zi1, zo, lo, hi, m0, m1, r0;
  float fi, fo;
  void *buf[oc__mcu_buf__count];
  uint32_t size[oc__mcu_buf__count];
};

/* Runs the op once on its arena buffers. 0 on success; nonzero when the
 * kind/dtype pair has no kernel (rejected at load, so never while timing). */
int fw_kernel_f32(const struct fw_op *op);
int fw_kernel_s8(const struct fw_op *op);
/* Whether a kernel exists for this op; why names what is missing. */
int fw_supports(const struct fw_op *op, const char **why);

/* Sends a framed "- err fault ..." line (called from the fault handler). */
void fw_report_fault(uint32_t pc, uint32_t cfsr, uint32_t hfsr);

#endif
