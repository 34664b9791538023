/* board.c - UART, cycle timer and stack painting of the MPS2 boards.
 *
 * UART: CMSDK APB UART 0 at 0x40004000 (polled; on QEMU the baud divisor
 * has no effect). Timer: DWT CYCCNT when it exists and moves (it is unlocked
 * first: the Cortex-M7 needs the lock access register written); QEMU does
 * not model DWT, so there the check fails and SysTick on the core clock is
 * used, its 24 bits extended by counting wraps in the SysTick interrupt. */
#include <stdint.h>

#include "board.h"

#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TXFULL 1u
#define UART_STATE_RXFULL 2u

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)

#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)

#define STACK_PAINT 0x5A5AA5A5u

extern uint32_t __stack_bottom[], __stack_top[], __arena_start[], __arena_end[];
extern uint32_t __data_start[], __data_end[], __bss_start[], __bss_end[];
extern const uint32_t __flash_end[];

void fw_systick(void);

static volatile uint32_t systick_wraps;
static int use_dwt;
static uint32_t dwt_high, dwt_last; /* 32-bit CYCCNT extended on read */

void fw_systick(void) { systick_wraps++; }

static int dwt_moves(void) {
  DEMCR |= 1u << 24; /* TRCENA */
  DWT_LAR = 0xC5ACCE55u;
  DWT_CYCCNT = 0;
  DWT_CTRL |= 1u;
  uint32_t before = DWT_CYCCNT;
  for (volatile int i = 0; i < 64; i++) {
  }
  return DWT_CYCCNT != before;
}

void fw_board_init(void) {
  UART_BAUDDIV = 16;
  UART_CTRL = 3u; /* TX and RX enabled, no interrupts */
  use_dwt = dwt_moves();
  if (!use_dwt) {
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* enable, interrupt on wrap, processor clock */
  }
}

uint8_t fw_uart_getc(void) {
  while (!(UART_STATE & UART_STATE_RXFULL)) {
  }
  return (uint8_t)UART_DATA;
}

void fw_uart_write(const char *text, size_t len) {
  for (size_t i = 0; i < len; i++) {
    while (UART_STATE & UART_STATE_TXFULL) {
    }
    UART_DATA = (uint8_t)text[i];
  }
}

const char *fw_timer_name(void) { return use_dwt ? "dwt" : "systick"; }

uint64_t fw_timer_now(void) {
  if (use_dwt) {
    /* Called at least once per 2^32 cycles while timing, so one wrap at
     * most happened since the last read. */
    uint32_t now = DWT_CYCCNT;
    if (now < dwt_last) dwt_high++;
    dwt_last = now;
    return ((uint64_t)dwt_high << 32) | now;
  }
  /* Overflow-safe: the wrap count must not change while the current value
   * is read; a wrap whose interrupt is still pending is added by hand. */
  uint32_t wraps, value, pending;
  do {
    wraps = systick_wraps;
    value = SYST_CVR;
    pending = SCB_ICSR & ICSR_PENDSTSET;
  } while (wraps != systick_wraps);
  if (pending && value > 0x00800000u) wraps++;
  return ((uint64_t)wraps << 24) + (0x00FFFFFFu - value);
}

void fw_stack_paint(void) {
  uint32_t *sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t *p = __stack_bottom; p < sp - 16; p++) *p = STACK_PAINT;
}

uint32_t fw_stack_high_water(void) {
  uint32_t *p = __stack_bottom;
  while (p < __stack_top && *p == STACK_PAINT) p++;
  return (uint32_t)((char *)__stack_top - (char *)p);
}

uint32_t fw_flash_bytes(void) { return (uint32_t)(uintptr_t)__flash_end; }

uint32_t fw_static_ram_bytes(void) {
  return (uint32_t)(((char *)__data_end - (char *)__data_start) +
                    ((char *)__bss_end - (char *)__bss_start));
}

uint32_t fw_stack_bytes(void) { return (uint32_t)((char *)__stack_top - (char *)__stack_bottom); }

uint8_t *fw_arena_start(void) { return (uint8_t *)__arena_start; }

uint32_t fw_arena_bytes(void) { return (uint32_t)((char *)__arena_end - (char *)__arena_start); }
