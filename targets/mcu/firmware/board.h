/* board.h - the little hardware the firmware uses: the CMSDK UART of the
 * MPS2 boards (serial link), the cycle timer (DWT CYCCNT when it counts,
 * SysTick otherwise), the painted stack and the board's identity. */
#ifndef FW_BOARD_H
#define FW_BOARD_H

#include <stddef.h>
#include <stdint.h>

void fw_board_init(void);

/* Blocking read of one byte from the serial link. */
uint8_t fw_uart_getc(void);
void fw_uart_write(const char *text, size_t len);

/* The cycle timer chosen at boot: "dwt" (DWT CYCCNT, verified to move) or
 * "systick" (24-bit SysTick on the core clock, extended to 64 bits by its
 * overflow interrupt). */
const char *fw_timer_name(void);
/* Core clock cycles since boot (either timer). */
uint64_t fw_timer_now(void);

/* Paints the unused part of the stack below the caller's frame, and after
 * the work measures how deep the stack went: bytes from the top of the
 * stack to the deepest word that changed. */
void fw_stack_paint(void);
uint32_t fw_stack_high_water(void);

/* Linker-script figures (mps2.ld). */
uint32_t fw_flash_bytes(void);      /* code + constants + .data image */
uint32_t fw_static_ram_bytes(void); /* .data + .bss */
uint32_t fw_stack_bytes(void);
uint8_t *fw_arena_start(void);
uint32_t fw_arena_bytes(void);

#endif
