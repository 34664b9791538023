/* mcu.h - memory of ops and networks on microcontrollers: flash (firmware
 * code + weights) and peak SRAM (static data + activations + kernel scratch
 * + stack), analytic or as measured by the mcu target's firmware, and
 * whether they fit a named board. A search uses oc_mcu_fits as a
 * constraint ("fits an STM32F746").
 *
 * The deployment model behind the figures (docs/mcu.md): weights, biases and
 * requantisation tables live in flash next to the code; SRAM holds the
 * firmware's .data/.bss, the op's inputs and output (for a network, the
 * largest set of tensors live at once), the kernel's scratch and the stack.
 *
 * qs8 tensors on the mcu target: activations and weights int8, bias int32
 * (scale input x weight, zero point 0), layernorm gamma and beta f32; the
 * quantisation parameters follow the fixed convention of docs/mcu.md. */
#ifndef OPCOST_MCU_H
#define OPCOST_MCU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opcost/op.h"
#include "opcost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct oc_net;    /* net.h */
struct oc_target; /* target.h */
struct oc_kernel; /* target.h */

/* A board a network may be deployed on. */
struct oc_mcu_board {
  const char *name;   /* "stm32f746" */
  const char *core;   /* "cortex-m7" */
  int64_t sram_bytes; /* all on-chip SRAM usable for data */
  int64_t flash_bytes;
  int64_t clock_hz;   /* nominal core clock */
};

size_t oc_mcu_board_count(void);
/* NULL past the end. */
const struct oc_mcu_board *oc_mcu_board_at(size_t index);
/* Case-insensitive; NULL when no board has that name. */
const struct oc_mcu_board *oc_mcu_board_find(const char *name);

/* What the firmware itself takes. */
struct oc_mcu_firmware {
  int64_t code_bytes;       /* flash image: code, constants, .data initial values */
  int64_t static_ram_bytes; /* .data + .bss, without the op arena and the stack */
  int64_t stack_bytes;      /* stack the kernels need (measured high-water, or an estimate) */
};

struct oc_mcu_memory {
  int64_t code_bytes;
  int64_t weight_bytes;     /* weights, bias, requantisation/lookup tables */
  int64_t flash_bytes;      /* code_bytes + weight_bytes */
  int64_t activation_bytes; /* op: inputs + output; network: peak live tensors */
  int64_t scratch_bytes;    /* largest kernel workspace */
  int64_t stack_bytes;
  int64_t static_ram_bytes;
  int64_t sram_bytes;       /* static + activations + scratch + stack */
  int64_t arena_bytes;      /* op: arena the firmware used (weights included, aligned) */
};

/* Reads the firmware figures from an ELF built for the mcu target (section
 * sizes; the .stack and .arena sections are left out of static RAM, and
 * stack_bytes is 0). oc_status_io_error when unreadable, parse_error when
 * not a 32-bit ELF. */
enum oc_status oc_mcu_firmware_from_elf(const char *path, struct oc_mcu_firmware *fw);

/* Analytic memory of one f32 or qs8 op in the firmware's layout; fw may be
 * NULL (code, static RAM and stack count 0). invalid_argument for an
 * invalid op, unsupported for another dtype. */
enum oc_status oc_mcu_op_memory(const struct oc_op *op, const struct oc_mcu_firmware *fw,
                                struct oc_mcu_memory *mem);

/* Analytic memory of a whole network run layer after layer: every op
 * kernel's weights in flash, the network's peak live activations (net.h's
 * liveness schedule), the largest scratch; fw as above. */
enum oc_status oc_mcu_net_memory(const struct oc_net *net, const struct oc_mcu_firmware *fw,
                                 struct oc_mcu_memory *mem);

/* True when flash_bytes and sram_bytes fit the board. Otherwise false, and
 * why says which does not fit and by how much. */
bool oc_mcu_fits(const struct oc_mcu_memory *mem, const struct oc_mcu_board *board, char *why,
                 size_t why_len);

/* Memory measured by the firmware for a kernel prepared on an open mcu
 * target: the arena it used, its split, and the stack high-water of the
 * last run (0 before any run). invalid_argument when target is not an mcu
 * target or kernel is a network. */
enum oc_status oc_mcu_kernel_memory(struct oc_target *target, struct oc_kernel *kernel,
                                    struct oc_mcu_memory *mem);

#ifdef __cplusplus
}
#endif
#endif
