/* riscv_startup.c (gap8, pulp-open; QEMU virt and GVSoC) - reset for a PULP-style chip: the
 * core that runs the harness (core 0) sets up a stack and enters ek_boot (riscv_boot.c),
 * cluster cores 1..EK_CLUSTER_PARKED get a stack each and park in ek_team_worker
 * (runtime_c/parallel/ek_team_cluster.c; without it, in the weak one in riscv_boot.c), any
 * other core sleeps for good without a stack. No C library start-up: symbols come from the
 * target's linker script.
 *
 * What differs per simulator comes from the port's ek_cluster.h, as three pieces of
 * assembly (empty where nothing differs):
 *   EK_CLUSTER_START_EVERY    every core, a0 = mhartid; leaves a0 = this core's number
 *                             (GVSoC: sends the fabric controller to EK_CLUSTER_START_TAIL,
 *                             keeps the core bits, switches the performance counters on);
 *   EK_CLUSTER_START_PARKED   a parked core, a0 = its number, sp set (GVSoC: event mask);
 *   EK_CLUSTER_START_TAIL     code after the sleeping loop, labels 3..9 free
 *                             (GVSoC: the fabric controller starts the cluster).
 * Until core 0 first wakes it, a cluster core touches nothing but its own stack (never
 * .data/.bss, which core 0 may still be initialising): QEMU virt starts every hart at once
 * on zeroed RAM, silicon and GVSoC start the cluster after the fabric controller. */
#include <stdint.h>

#include "ek_cluster.h"
#include "ek_port.h"
#include "ek_protocol.h"

/* PMSIS gives the cluster's worker cores 1 KiB of stack by default; they live in L1 next
 * to the data they use. */
#define EK_WORKER_STACK_BYTES 1024
#define EK_STR_(x) #x
#define EK_STR(x) EK_STR_(x)

void ek_boot(void) __attribute__((noreturn));
void ek_trap(void) __attribute__((noreturn));
void ek_team_worker(uint32_t core) __attribute__((noreturn));

/* Core c (1..EK_CLUSTER_PARKED) gets the top of worker_stacks[c-1], i.e. worker_stacks +
 * c * size. */
__attribute__((section(".noinit.ek_worker_stacks"), aligned(16), used))
static uint8_t worker_stacks[EK_CLUSTER_PARKED][EK_WORKER_STACK_BYTES];

/* mstatus.FS = Initial: without it the first float instruction traps (hard float only). */
#ifdef __riscv_flen
#define EK_FPU_ON "li t0, 0x2000\n\tcsrs mstatus, t0\n\tcsrw fcsr, zero\n\t"
#else
#define EK_FPU_ON ""
#endif

/* Every core: trap vector, FPU, thread pointer; then its role by number. */
__attribute__((naked, noreturn, section(".text.ek_start")))
void _start(void)
{
    __asm__ volatile(
        "la t0, ek_trap\n\t"
        "csrw mtvec, t0\n\t"
        EK_FPU_ON
        "la tp, __ek_tls_base\n\t"
        "csrr a0, mhartid\n\t"
        EK_CLUSTER_START_EVERY
        "bnez a0, 1f\n\t"
        "la sp, __ek_stack_top\n\t"
        "j ek_boot\n"
        "1:\n\t"
        "li t0, " EK_STR(EK_CLUSTER_PARKED) "\n\t"
        "bgtu a0, t0, 2f\n\t"
        "li t0, " EK_STR(EK_WORKER_STACK_BYTES) "\n\t"
        "mul t0, a0, t0\n\t"
        "la sp, worker_stacks\n\t"
        "add sp, sp, t0\n\t"
        EK_CLUSTER_START_PARKED
        "j ek_team_worker\n"
        "2:\n\t"
        "wfi\n\t"
        "j 2b\n"
        EK_CLUSTER_START_TAIL);
}
