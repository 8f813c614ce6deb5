/* gvsoc_startup.c (pulp-open --sim gvsoc) - reset on GVSoC's pulp-open: the fabric
 * controller starts the cluster and sleeps; cluster core 0 runs main() (the harness), the
 * other cluster cores park in ek_team_worker (runtime_c/parallel/ek_team_cluster.c) until a fork wakes them. So
 * every member of a team is a cluster core working on L1, as a PMSIS cluster task runs.
 *
 * GVSoC's ELF loader starts only the fabric controller (mhartid = 31 << 5), at the ELF
 * entry. It enables the cluster's shared instruction cache (the PULP runtimes do; without
 * it every fetch goes to L2), writes each cluster core's boot address to the cluster
 * controller and then the fetch-enable mask; cluster core c has mhartid c (cluster 0). Every core switches its
 * performance counters on (event mask CSR 0xCC0: cycles and instructions; mode CSR 0xCC1:
 * active; writing CSR 0x79F resets them all); ek_markers.c reads them.
 * Until core 0 first wakes it, a cluster core touches nothing but its own stack. */
#include <stdint.h>

#include "ek_cluster.h"
#include "ek_port.h"
#include "ek_protocol.h"

#define EK_WORKER_STACK_BYTES 1024          /* PMSIS's default for cluster worker cores */
#define EK_FC_CLUSTER_ID 31
#define EK_CLUSTER_CTRL 0x10200000u          /* fetch enable at +0x08, boot addresses at +0x40 */
#define EK_CLUSTER_ICACHE_CTRL 0x10201400u   /* +0x00: enable (off at reset, as on silicon) */
#define EK_STR_(x) #x
#define EK_STR(x) EK_STR_(x)

void ek_boot(void) __attribute__((noreturn));
void ek_trap(void) __attribute__((noreturn));
void ek_team_worker(uint32_t core) __attribute__((noreturn));

/* Cores 1..7; core c's stack top is worker_stacks + c * size. */
__attribute__((section(".noinit.ek_worker_stacks"), aligned(16), used))
static uint8_t worker_stacks[EK_CLUSTER_CORES - 1][EK_WORKER_STACK_BYTES];

/* Fabric controller: boot address and fetch enable for the 8 cluster cores, then sleep
 * for good (the run ends by semihosting exit from cluster core 0). No stack needed.
 * Cluster core c: counters on, a stack, then main (c = 0) or the team loop. */
__attribute__((naked, noreturn, section(".text.ek_start")))
void _start(void)
{
    __asm__ volatile(
        "la t0, ek_trap\n\t"
        "csrw mtvec, t0\n\t"
        "la tp, __ek_tls_base\n\t"
        "csrr a0, mhartid\n\t"
        "srli t1, a0, 5\n\t"
        "li t2, " EK_STR(EK_FC_CLUSTER_ID) "\n\t"
        "beq t1, t2, 3f\n\t"
        "andi a0, a0, 0x1f\n\t"
        "li t0, 3\n\t"
        "csrw 0xCC0, t0\n\t"                 /* count event 0 (cycles) and 1 (instructions) */
        "li t0, 1\n\t"
        "csrw 0xCC1, t0\n\t"                 /* counting on */
        "csrw 0x79F, zero\n\t"               /* all counters to 0 */
        "bnez a0, 1f\n\t"
        "la sp, __ek_stack_top\n\t"
        "j ek_boot\n"
        "1:\n\t"
        "li t0, " EK_STR(EK_CLUSTER_CORES) "\n\t"
        "bgeu a0, t0, 2f\n\t"
        "li t0, " EK_STR(EK_WORKER_STACK_BYTES) "\n\t"
        "mul t0, a0, t0\n\t"
        "la sp, worker_stacks\n\t"
        "add sp, sp, t0\n\t"
        "li t0, " EK_STR(EK_EU_MASK_OR_ADDR) "\n\t"
        "li t1, 1\n\t"
        "sw t1, 0(t0)\n\t"                 /* sleep until software event 0 (ek_cluster.h) */
        "j ek_team_worker\n"
        "2:\n\t"
        "wfi\n\t"
        "j 2b\n"
        "3:\n\t"                              /* fabric controller */
        "li t1, " EK_STR(EK_CLUSTER_ICACHE_CTRL) "\n\t"
        "li t2, -1\n\t"
        "sw t2, 0(t1)\n\t"
        "la t0, _start\n\t"
        "li t1, " EK_STR(EK_CLUSTER_CTRL) "\n\t"
        "li t2, 0\n\t"
        "li t3, " EK_STR(EK_CLUSTER_CORES) "\n"
        "4:\n\t"
        "sw t0, 0x40(t1)\n\t"
        "addi t1, t1, 4\n\t"
        "addi t2, t2, 1\n\t"
        "bltu t2, t3, 4b\n\t"
        "li t1, " EK_STR(EK_CLUSTER_CTRL) "\n\t"
        "li t2, 0xFF\n\t"
        "sw t2, 0x08(t1)\n"
        "5:\n\t"
        "wfi\n\t"
        "j 5b\n");
}
