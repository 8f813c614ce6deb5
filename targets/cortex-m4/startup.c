/* startup.c (cortex-m4) - vector table and reset for a Cortex-M4F, no C library startup.
 * Symbols come from linker.ld.j2. QEMU's -kernel loads the ELF by load address, so .data
 * arrives in flash and is copied here, exactly as on a flashed board. */
#include <stdint.h>

#include "ek_port.h"

extern uint32_t __ek_data_load[], __ek_data_start[], __ek_data_end[];
extern uint32_t __ek_bss_start[], __ek_bss_end[];
extern uint32_t __ek_stack_top[];

int main(void);
void Reset_Handler(void);
void Default_Handler(void);

/* Exit code reported when the CPU takes an unexpected exception (HardFault etc.), so a
 * crashed firmware ends the simulation instead of spinning forever. */
#define EK_EXIT_FAULT 250

/* CPACR bits 20..23: full access to coprocessors 10 and 11 (the FPU). */
#define EK_CPACR (*(volatile uint32_t *)0xE000ED88u)

/* optimize("no-tree-loop-distribute-patterns"): keep the copy loops from becoming
 * memcpy/memset calls, so startup does not depend on the C library. */
__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns")))
void Reset_Handler(void)
{
    /* The FPU must be on before any floating-point instruction, including ones the
     * compiler might schedule into the copy loops below. */
    EK_CPACR |= 0xFu << 20;
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

/* The 16 system exceptions; no peripheral interrupt is enabled, so no IRQ entries. */
__attribute__((section(".isr_vector"), used))
static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__ek_stack_top,  /* initial MSP */
    Reset_Handler,
    Default_Handler,                            /* NMI */
    Default_Handler,                            /* HardFault */
    Default_Handler,                            /* MemManage */
    Default_Handler,                            /* BusFault */
    Default_Handler,                            /* UsageFault */
    0, 0, 0, 0,                                 /* reserved */
    Default_Handler,                            /* SVCall */
    Default_Handler,                            /* DebugMonitor */
    0,                                          /* reserved */
    Default_Handler,                            /* PendSV */
    Default_Handler,                            /* SysTick */
};
