/* startup_stm32.c (cortex-m4 STM32 variants) - vector table and reset for the STM32F4 / L4
 * boards (docs/boards.md). As startup.c, plus one peripheral interrupt: the console UART's
 * receive interrupt (EK_STM32_UART_IRQ, set by the variant's cflags), which feeds the port's
 * receive ring (stm32_port.c). No other interrupt is enabled; their slots stay 0. */
#include <stdint.h>

#include "ek_port.h"

#ifndef EK_STM32_UART_IRQ
#error "EK_STM32_UART_IRQ: the variant's cflags name the console UART's interrupt number"
#endif
#define N_IRQ 128 /* covers F446 (97), F407 (82) and L4R5 (95) */

extern uint32_t __ek_data_load[], __ek_data_start[], __ek_data_end[];
extern uint32_t __ek_bss_start[], __ek_bss_end[];
extern uint32_t __ek_stack_top[];

int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void ek_stm32_uart_irq(void);

#define EK_EXIT_FAULT 250
#define EK_CPACR (*(volatile uint32_t *)0xE000ED88u)

__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns")))
void Reset_Handler(void)
{
    EK_CPACR |= 0xFu << 20; /* FPU on before any floating-point instruction */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    const uint32_t *src = __ek_data_load;
    for (uint32_t *dst = __ek_data_start; dst < __ek_data_end; )
        *dst++ = *src++;
    for (uint32_t *dst = __ek_bss_start; dst < __ek_bss_end; )
        *dst++ = 0;
    ek_port_exit(main());
}

void Default_Handler(void)
{
    ek_port_exit(EK_EXIT_FAULT);
}

typedef void (*vector_t)(void);

/* Designated initialisers put the one interrupt we use in its slot. */
__attribute__((section(".isr_vector"), used))
static const vector_t vectors[16 + N_IRQ] = {
    [0] = (vector_t)(uintptr_t)__ek_stack_top,
    [1] = Reset_Handler,
    [2] = Default_Handler,  /* NMI */
    [3] = Default_Handler,  /* HardFault */
    [4] = Default_Handler,  /* MemManage */
    [5] = Default_Handler,  /* BusFault */
    [6] = Default_Handler,  /* UsageFault */
    [11] = Default_Handler, /* SVCall */
    [12] = Default_Handler, /* DebugMonitor */
    [14] = Default_Handler, /* PendSV */
    [15] = Default_Handler, /* SysTick */
    [16 + EK_STM32_UART_IRQ] = ek_stm32_uart_irq,
};
