/* ek_port.h - the three-file port seam every target implements (log, timer, setup/exit).
 * A target folder provides one C file (ek_port.c, plus startup code on bare metal)
 * implementing these functions. The harness and the runtime use nothing else from the
 * platform, so a new target is one new folder. */
#ifndef EK_PORT_H
#define EK_PORT_H
#include <stdint.h>

/* setup: clocks, FPU enable, UART init. Called first thing in main(). */
void ek_port_setup(void);
/* exit: report the code to the simulator/host and never return. */
void ek_port_exit(int code) __attribute__((noreturn));

/* log: byte I/O on the console (UART on boards and system emulators, stdio on Linux). */
void ek_port_putc(char c);
/* Blocking read of one byte; returns -1 at end of input. */
int ek_port_getc(void);
/* Nonzero when ek_port_getc() would return at once (a byte waits). Ports without a way to
 * tell keep the weak default in runtime_c/protocol/ek_link.c, which returns 0. */
int ek_port_rx_ready(void);
/* Push out bytes the port buffers (stdio on Linux); a no-op where putc writes through.
 * The board protocol (ek_link.h) calls it after each frame, whose end is no newline. */
void ek_port_flush(void);

/* timer: a free-running cycle counter where the platform has a usable one, else 0. */
uint32_t ek_port_cycles(void);
/* A microsecond clock for timestamps (EnergyRunner's m-lap-us); ports without one keep the
 * weak default in runtime_c/protocol/ek_energyrunner.c, which returns 0. */
uint32_t ek_port_micros(void);

/* Stack high-water measurement (bare metal only): paint the unused stack, then report how
 * many bytes below the painting point were touched. Ports without it return -1. */
void ek_port_stack_paint(void);
int32_t ek_port_stack_used(void);

/* Bulk input: where a simulator preloaded the samples into memory (QEMU's generic loader
 * device), as an ek_bulk_input_t; NULL where the port has no such area. The harness
 * falls back to reading the console when this is NULL or holds no valid header. */
#define EK_BULK_MAGIC 0x4E49424Bu /* "KBIN" little-endian */
typedef struct {
    uint32_t magic, n_samples, n_features, reserved;
    float data[]; /* n_samples x n_features */
} ek_bulk_input_t;
const ek_bulk_input_t *ek_port_bulk_input(void);

#endif
