/* startup.c - reset and fault handling of the firmware: the vector table,
 * copying .data and clearing .bss, enabling the FPU, and fault handlers that
 * report the fault over the serial link (so the host ends with a clear
 * error rather than a timeout) before halting. */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "fw.h"

extern uint32_t __stack_top[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern const uint32_t __flash_data[];

void fw_reset(void);
void fw_fault(void);
void fw_systick(void);
void fw_default_irq(void);
int main(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)

typedef void (*fw_vector)(void);

__attribute__((section(".vectors"), used)) static const fw_vector vectors[16 + 32] = {
    (fw_vector)(uintptr_t)__stack_top,
    fw_reset,
    fw_fault, /* NMI */
    fw_fault, /* HardFault */
    fw_fault, /* MemManage */
    fw_fault, /* BusFault */
    fw_fault, /* UsageFault */
    0, 0, 0, 0,
    fw_default_irq, /* SVC */
    fw_default_irq, /* DebugMon */
    0,
    fw_default_irq, /* PendSV */
    fw_systick,
    [16 ... 47] = fw_default_irq,
};

void fw_reset(void) {
  size_t data = (size_t)((char *)__data_end - (char *)__data_start);
  memcpy(__data_start, __flash_data, data);
  memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
#if defined(__ARM_FP)
  SCB_CPACR |= 0xFu << 20; /* CP10 and CP11: full access to the FPU */
  __asm volatile("dsb\n isb");
#endif
  main();
  for (;;) {
  }
}

void fw_default_irq(void) {
  for (;;) {
  }
}

/* Reports the fault and the stacked PC, then halts: the host sees a clear
 * "fault" error instead of waiting for a reply that never comes. */
__attribute__((naked)) void fw_fault(void) {
  __asm volatile("tst lr, #4\n"
                 "ite eq\n"
                 "mrseq r0, msp\n"
                 "mrsne r0, psp\n"
                 "b fw_fault_report\n");
}

void fw_fault_report(const uint32_t *frame);
void fw_fault_report(const uint32_t *frame) {
  fw_report_fault(frame[6], SCB_CFSR, SCB_HFSR);
  for (;;) {
  }
}
