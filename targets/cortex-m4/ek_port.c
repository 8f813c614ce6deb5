/* ek_port.c (cortex-m4) - the port seam on QEMU mps2-an386 (and CMSDK-based boards):
 * console on CMSDK APB UART0, exit by Arm semihosting, stack high-water by painting. */
#include <stdint.h>

#include "ek_port.h"

#define UART0_BASE 0x40004000u
#define UART_DATA  (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL  (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define STATE_TXFULL 0x1u
#define STATE_RXFULL 0x2u
#define CTRL_TX_RX_EN 0x3u
/* 25 MHz APB clock / 115200 baud on MPS2. QEMU ignores the rate but logs a guest error
 * if TX is enabled with a divider below 16 (its reset value is 0). */
#define UART_DIV_115200 217u

/* SysTick, used only to wake QEMU's main loop (see ek_port_getc). */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_ENABLE_CPUCLK 0x5u         /* ENABLE | CLKSOURCE=core, no interrupt */

/* CMSDK APB timer 0 of MPS2 (25 MHz, counting down): the microsecond clock. On QEMU it
 * follows the host's clock, so m-lap-us measures the emulator's time, not a chip's. */
#define TIMER0_BASE 0x40000000u
#define TIMER0_CTRL (*(volatile uint32_t *)(TIMER0_BASE + 0x00u))
#define TIMER0_VALUE (*(volatile uint32_t *)(TIMER0_BASE + 0x04u))
#define TIMER0_RELOAD (*(volatile uint32_t *)(TIMER0_BASE + 0x08u))
#define TIMER_TICKS_PER_US 25u

void ek_port_setup(void)
{
    /* The FPU is already on (startup.c enables it before any C code runs). */
    UART_BAUDDIV = UART_DIV_115200;
    UART_CTRL = CTRL_TX_RX_EN;
    TIMER0_RELOAD = 0xFFFFFFFFu;
    TIMER0_VALUE = 0xFFFFFFFFu;
    TIMER0_CTRL = 1u;
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = SYST_ENABLE_CPUCLK;
}

/* QEMU 7.2's CMSDK UART model does not tell the emulator's main loop when the guest
 * empties the receive register (nor when a blocked transmit could resume), so the next
 * byte waited for the main loop's 1 s poll timeout whenever nothing else woke it: seen at
 * boot and at random mid-stream. Rewriting SysTick's current value re-arms a QEMU timer,
 * which wakes the main loop. On a real chip it only restarts an unused counter. */
static void wake_emulator(void)
{
    SYST_CVR = 0u;
}

void ek_port_putc(char c)
{
    while (UART_STATE & STATE_TXFULL)
        wake_emulator();
    UART_DATA = (uint8_t)c;
}

/* Written through the one-byte holding register: only wait for it to drain. */
void ek_port_flush(void)
{
    while (UART_STATE & STATE_TXFULL)
        wake_emulator();
}

/* A UART has no end of input: this blocks until a byte arrives and never returns -1.
 * The host side must frame its input (e.g. a line or a length) rather than close it. */
int ek_port_getc(void)
{
    while (!(UART_STATE & STATE_RXFULL))
        wake_emulator();
    return (int)(UART_DATA & 0xFFu);
}

/* Nonzero when a received byte waits (the board protocol drains the line between samples). */
int ek_port_rx_ready(void)
{
    if (UART_STATE & STATE_RXFULL)
        return 1;
    wake_emulator();
    return 0;
}

/* DWT CYCCNT reads 0 on QEMU, and real figures come from the instruction-count plugin. */
uint32_t ek_port_cycles(void)
{
    return 0;
}

/* The timer's ticks since setup, extended past its 32-bit wrap (read at least every 171 s). */
uint32_t ek_port_micros(void)
{
    static uint32_t last = 0xFFFFFFFFu;
    static uint64_t ticks;
    const uint32_t now = TIMER0_VALUE;
    ticks += (uint32_t)(last - now);
    last = now;
    return (uint32_t)(ticks / TIMER_TICKS_PER_US);
}

/* Semihosting SYS_EXIT_EXTENDED: the simulator exits with `code` as its exit status. */
void ek_port_exit(int code)
{
    while (UART_STATE & STATE_TXFULL)   /* let the last byte leave */
        wake_emulator();
    static volatile uint32_t block[2];
    block[0] = 0x20026u;                /* ADP_Stopped_ApplicationExit */
    block[1] = (uint32_t)code;
    register uint32_t r0 __asm__("r0") = 0x20u;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;)                            /* without semihosting: stop here */
        ;
}

/* QEMU's mps2-an386 has 4 MiB of SSRAM1 at 0; the linker budget uses the first 1 MiB as
 * flash, and the runner preloads samples above it with `-device loader` (target.toml
 * simulator.bulk_input), because the CMSDK UART receives one byte per emulator main-loop
 * round (about 12 KB/s). Zero there (nothing loaded) means: read the console. */
#define BULK_INPUT_ADDR 0x00100000u

const ek_bulk_input_t *ek_port_bulk_input(void)
{
    return (const ek_bulk_input_t *)BULK_INPUT_ADDR;
}
