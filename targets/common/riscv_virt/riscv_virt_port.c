/* riscv_virt_port.c (gap8, pulp-open) - the port seam on QEMU virt: console on the 16550
 * UART, exit through the SiFive test device, stack high-water of hart 0 by painting.
 * Only hart 0 (the fabric controller, which runs the harness) calls these. */
#include <stdint.h>

#include "ek_port.h"

/* 16550 with byte-wide registers (reg-shift 0 on virt). */
#define UART_BASE 0x10000000u
#define UART_RBR (*(volatile uint8_t *)(UART_BASE + 0u))   /* read: receive buffer */
#define UART_THR (*(volatile uint8_t *)(UART_BASE + 0u))   /* write: transmit holding */
#define UART_IER (*(volatile uint8_t *)(UART_BASE + 1u))
#define UART_LCR (*(volatile uint8_t *)(UART_BASE + 3u))
#define UART_LSR (*(volatile uint8_t *)(UART_BASE + 5u))
#define LSR_DATA_READY 0x01u
#define LSR_THR_EMPTY 0x20u
#define LSR_TX_IDLE 0x40u                  /* holding and shift registers both empty */
#define LCR_8N1 0x03u

/* SiFive test device: (code << 16) | 0x3333 ends QEMU with exit status `code`. */
#define EXIT_DEVICE (*(volatile uint32_t *)0x00100000u)
#define EXIT_FAIL 0x3333u

/* QEMU needs nothing here; a real 16550 also needs its baud divisor (board-specific).
 * FCR stays untouched: switching the FIFOs on flushes them, losing input the host sent
 * before this point (the start of "EKIN"). */
void ek_port_setup(void)
{
    UART_IER = 0u;
    UART_LCR = LCR_8N1;
}

void ek_port_putc(char c)
{
    while (!(UART_LSR & LSR_THR_EMPTY))
        ;
    UART_THR = (uint8_t)c;
}

/* Bytes are written through: nothing is held back. */
void ek_port_flush(void)
{
}

/* A UART has no end of input: this blocks until a byte arrives and never returns -1. */
int ek_port_getc(void)
{
    while (!(UART_LSR & LSR_DATA_READY))
        ;
    return (int)UART_RBR;
}

/* Nonzero when a received byte waits (the board protocol drains the line between samples). */
int ek_port_rx_ready(void)
{
    return (UART_LSR & LSR_DATA_READY) != 0u;
}

/* The CLINT's mtime (10 MHz on QEMU virt, following the host's clock): microseconds. */
#define CLINT_MTIME_LO (*(volatile uint32_t *)0x0200BFF8u)
#define CLINT_MTIME_HI (*(volatile uint32_t *)0x0200BFFCu)
#define MTIME_TICKS_PER_US 10u

uint32_t ek_port_micros(void)
{
    uint32_t hi, lo;
    do {
        hi = CLINT_MTIME_HI;
        lo = CLINT_MTIME_LO;
    } while (hi != CLINT_MTIME_HI);
    return (uint32_t)((((uint64_t)hi << 32) | lo) / MTIME_TICKS_PER_US);
}

/* mcycle follows the host clock on QEMU without -icount: figures come from the
 * instruction-count plugin instead. */
uint32_t ek_port_cycles(void)
{
    return 0;
}

void ek_port_exit(int code)
{
    while (!(UART_LSR & LSR_TX_IDLE))    /* let the last byte leave */
        ;
    EXIT_DEVICE = ((uint32_t)code << 16) | EXIT_FAIL;
    for (;;)                            /* without the test device: stop here */
        __asm__ volatile("wfi");
}

/* The runner preloads samples here with `-device loader` (target.toml simulator.bulk_input,
 * which must agree): DRAM above the L2 and L1 budgets, far below the device tree QEMU puts
 * near the top of its 128 MiB. Zero there (nothing loaded) means: read the console. */
#define BULK_INPUT_ADDR 0x80100000u

const ek_bulk_input_t *ek_port_bulk_input(void)
{
    return (const ek_bulk_input_t *)BULK_INPUT_ADDR;
}
