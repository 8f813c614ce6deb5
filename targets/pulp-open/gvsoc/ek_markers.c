/* ek_markers.c (pulp-open --sim gvsoc) - replaces runtime_c/protocol/ek_markers.c (same file
 * name, so the project takes this one): the markers read each core's performance counters
 * (enabled at reset, gvsoc/ek_cluster.h: counter 0x780 cycles, 0x781 instructions) instead of being
 * seen by a QEMU plugin.
 *
 * Per core, over [ek_mark_begin, ek_mark_end): instructions, of which inside
 * [ek_mark_wait_begin, ek_mark_wait_end) (joins, barriers), and cycles. A worker adds its
 * work (instructions outside waiting) to its own running total; core 0, whose interval is
 * the whole inference, prints after the join
 *   EKPERF <cycles of core 0> <instructions of core 0> <work of core 0> ... <work of core 7>
 * where a worker's work is what its total grew by during the inference. Single writer per
 * word: no atomics. The reads cost a few instructions per interval, which are counted. */
#include <stdint.h>

#include "ek_cluster.h"
#include "ek_markers.h"
#include "ek_protocol.h"


typedef struct {
    uint32_t cycles, instructions, wait_begin, waiting;
    uint32_t work_total;                /* workers: running total over their intervals */
    uint32_t pad[3];                    /* one 32-byte slot per core */
} core_counts_t;

static volatile core_counts_t counts[EK_CLUSTER_CORES];
static uint32_t work_at_begin[EK_CLUSTER_CORES];  /* core 0's snapshot of the totals */

static inline uint32_t cycles(void)
{
    uint32_t v;
    __asm__ volatile("csrr %0, 0x780" : "=r"(v)::"memory");
    return v;
}

static inline uint32_t instructions(void)
{
    uint32_t v;
    __asm__ volatile("csrr %0, 0x781" : "=r"(v)::"memory");
    return v;
}

__attribute__((noinline, noipa)) void ek_mark_begin(void)
{
    const uint32_t c = ek_cluster_core();
    if (c == 0u)
        for (uint32_t w = 1u; w < (uint32_t)EK_CLUSTER_CORES; w++)
            work_at_begin[w] = counts[w].work_total;
    counts[c].waiting = 0u;
    counts[c].cycles = cycles();
    counts[c].instructions = instructions();
}

__attribute__((noinline, noipa)) void ek_mark_end(void)
{
    const uint32_t ins = instructions(), cyc = cycles();
    const uint32_t c = ek_cluster_core();
    const uint32_t total = ins - counts[c].instructions;
    const uint32_t work = total - counts[c].waiting;
    if (c != 0u) {
        counts[c].work_total += work;
        return;
    }
    ek_write_str("EKPERF ");
    ek_write_int((int32_t)(cyc - counts[0].cycles));
    ek_write_str(" ");
    ek_write_int((int32_t)total);
    ek_write_str(" ");
    ek_write_int((int32_t)work);
    for (uint32_t w = 1u; w < (uint32_t)EK_CLUSTER_CORES; w++) {
        ek_write_str(" ");
        ek_write_int((int32_t)(counts[w].work_total - work_at_begin[w]));
    }
    ek_write_str("\n");
}

__attribute__((noinline, noipa)) void ek_mark_wait_begin(void)
{
    counts[ek_cluster_core()].wait_begin = instructions();
}

__attribute__((noinline, noipa)) void ek_mark_wait_end(void)
{
    const uint32_t ins = instructions(), c = ek_cluster_core();
    counts[c].waiting += ins - counts[c].wait_begin;
}
