/* ek_common.h - types shared by every kernel: status codes and the kernel context. */
#ifndef EK_COMMON_H
#define EK_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include "ek_config.h" /* generated per project: core count, index widths */

typedef enum { EK_OK = 0, EK_ERR_ARG = -1, EK_ERR_SCRATCH = -2 } ek_status_t;

/* Passed to every kernel so parallel ports (PULP cluster, pthreads) and kernels needing
 * scratch memory arrive without changing kernel signatures. */
typedef struct {
    uint32_t n_cores;     /* cores the kernel may use; 1 on single-core targets */
    void *scratch;        /* caller-owned, at least the kernel's *_scratch_bytes() */
    uint32_t scratch_bytes;
} ek_ctx_t;

#ifndef EK_N_CORES
#define EK_N_CORES 1
#endif

#endif
