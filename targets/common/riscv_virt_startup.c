/* riscv_virt_startup.c (gap8, pulp-open) - reset for a PULP-style chip on QEMU virt: hart 0
 * is the fabric controller and runs main(); harts 1..EK_CLUSTER_PARKED are the cluster
 * cores and park in ek_team_worker (runtime_c/parallel/ek_team_cluster.c; without it, in
 * the weak one in riscv_boot.c). No C library startup: symbols come from
 * common/riscv_virt/riscv_virt.ld.j2.
 *
 * QEMU virt (-bios none) starts every hart at once at the start of DRAM, on zeroed RAM.
 * On silicon the fabric controller boots alone and starts the cluster later; to stay
 * equivalent, a cluster core touches nothing but its own stack (never .data/.bss, which
 * hart 0 is still initialising) until hart 0 first wakes it. */
#include <stdint.h>

#include "ek_cluster.h"
#include "ek_port.h"
#include "ek_protocol.h"

/* PMSIS gives the cluster's worker cores 1 KiB of stack by default; they live in L1 next
 * to the data they use. The cluster's size comes from the port's ek_cluster.h. */
#define EK_WORKER_STACK_BYTES 1024
#define EK_STR_(x) #x
#define EK_STR(x) EK_STR_(x)

void ek_boot(void) __attribute__((noreturn));
void ek_trap(void) __attribute__((noreturn));
void ek_team_worker(uint32_t hart) __attribute__((noreturn));

__attribute__((section(".noinit.ek_worker_stacks"), aligned(16), used))
static uint8_t worker_stacks[EK_CLUSTER_PARKED][EK_WORKER_STACK_BYTES];

/* mstatus.FS = Initial: without it the first float instruction traps (hard float only). */
#ifdef __riscv_flen
#define EK_FPU_ON "li t0, 0x2000\n\tcsrs mstatus, t0\n\tcsrw fcsr, zero\n\t"
#else
#define EK_FPU_ON ""
#endif

/* Every hart: trap vector, FPU, thread pointer; then a stack per hart. Hart h (1..8) gets
 * the top of worker_stacks[h-1], i.e. worker_stacks + h * size. Harts beyond the cluster
 * (a larger -smp) sleep forever without a stack. */
__attribute__((naked, noreturn, section(".text.ek_start")))
void _start(void)
{
    __asm__ volatile(
        "la t0, ek_trap\n\t"
        "csrw mtvec, t0\n\t"
        EK_FPU_ON
        "la tp, __ek_tls_base\n\t"
        "csrr a0, mhartid\n\t"
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
        "j ek_team_worker\n"
        "2:\n\t"
        "wfi\n\t"
        "j 2b\n");
}
