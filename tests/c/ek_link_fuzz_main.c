/* Standalone driver of ek_link_fuzz.c for compilers without libFuzzer (gcc + ASan/UBSan):
 * feeds random inputs biased towards near-valid frames (valid frames with bytes flipped,
 * truncated, duplicated, glued to garbage, oversize runs) and counts what was accepted.
 *   usage: ek_link_fuzz_main ITERATIONS SEED   -> prints "executions N accepted A" */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ek_link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t state;
static uint32_t rnd(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static uint8_t out[4096];
static uint32_t out_len;
static void put(uint8_t b)
{
    if (out_len < sizeof out) out[out_len++] = b;
}

int main(int argc, char **argv)
{
    const long iterations = argc > 1 ? atol(argv[1]) : 100000;
    state = argc > 2 ? (uint32_t)atol(argv[2]) | 1u : 1u;
    long accepted = 0;
    for (long it = 0; it < iterations; it++) {
        uint8_t raw[300];
        const uint32_t len = rnd() % 200u;
        for (uint32_t i = 0; i < len; i++) raw[EK_LINK_HEADER_BYTES + i] = (uint8_t)(rnd() % 4u ? rnd() : 0u);
        const uint32_t n = ek_link_seal(raw, (uint8_t)rnd(), (uint16_t)rnd(), len);
        out_len = 0;
        if (rnd() % 2u) { /* leading garbage */
            for (uint32_t g = rnd() % 40u; g > 0; g--) put((uint8_t)rnd());
        }
        ek_link_write(raw, n, put);
        switch (rnd() % 5u) {
        case 0: out[rnd() % out_len] ^= (uint8_t)(1u << (rnd() % 8u)); break; /* bit flip */
        case 1: out_len = rnd() % out_len; break;                             /* truncated */
        case 2: memcpy(out + out_len / 2, out, out_len / 2); break;           /* duplicated half */
        case 3: for (uint32_t g = 0; g < 300u && out_len < sizeof out; g++) out[out_len++] = 0x41; break;
        default: break;                                                       /* intact */
        }
        put(0u);
        if (out_len <= EK_LINK_ENCODED_CAP(96u + 8u)) accepted++;
        LLVMFuzzerTestOneInput(out, out_len);
    }
    printf("executions %ld fitting %ld\n", iterations, accepted);
    return 0;
}
