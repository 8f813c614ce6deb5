/* mfcc_main.c - firmware for the MFCC kernels (tests/test_mfcc_c.py, benchmarks/nn_kws.py).
 * For each clip of mfcc_clips.h: ek_mfcc_s32 (+ its int8 model input) and, where
 * MFCC_RUN_F32 is 1, ek_mfcc_f32 on the same clip / 32768. Each kernel call sits between
 * instruction-count markers (s32, then f32). Output, one line per result:
 *   s32 <clip> <status> <hex int32 x frames*coefficients>
 *   s8 <clip> <status> <hex byte ...>      (ek_mfcc_q16_to_s8 of the s32 features)
 *   s8k <clip> <status> <hex byte ...>     (ek_mfcc_s8: the same, quantized on the fly)
 *   f32 <clip> <status> <hex float bits ...>
 * then "mfcc-done". */
#include <stdint.h>

#include "ek_markers.h"
#include "ek_mfcc.h"
#include "ek_mfcc_kws_tables.h"
#include "ek_port.h"
#include "mfcc_clips.h"

#ifndef MFCC_RUN_F32
#define MFCC_RUN_F32 1
#endif
#define N_FEATURES (49 * 10)

static int32_t q16[N_FEATURES];
static int8_t s8[N_FEATURES];
static uint32_t scratch[2 * 512 + 40];
#if MFCC_RUN_F32
static float audio_f32[16000];
static float f32[N_FEATURES];
#endif

static void put_str(const char *s) {
    while (*s) ek_port_putc(*s++);
}

static void put_hex(uint32_t v, int digits) {
    static const char hex[] = "0123456789abcdef";
    ek_port_putc(' ');
    for (int i = digits - 1; i >= 0; i--) ek_port_putc(hex[(v >> (4 * i)) & 0xFu]);
}

static void head(const char *tag, int clip, ek_status_t st) {
    put_str(tag);
    put_hex((uint32_t)clip, 2);
    put_hex((uint32_t)(int32_t)st, 8);
}

int main(void) {
    ek_port_setup();
    ek_ctx_t ctx = {1u, scratch, (uint32_t)sizeof scratch};
    if (ek_mfcc_s32_scratch_bytes(512, 40) > (int32_t)sizeof scratch ||
        ek_mfcc_f32_scratch_bytes(512, 40) > (int32_t)sizeof scratch) {
        put_str("mfcc-error scratch\n");
        ek_port_exit(3);
    }
    for (int c = 0; c < MFCC_N_CLIPS; c++) {
        ek_mark_begin();
        ek_status_t st = ek_mfcc_s32(&ctx, &ek_mfcc_kws_s32, mfcc_clips[c], q16);
        ek_mark_end();
        head("s32", c, st);
        for (int i = 0; i < N_FEATURES; i++) put_hex((uint32_t)q16[i], 8);
        put_str("\n");
        st = ek_mfcc_q16_to_s8(q16, N_FEATURES, MFCC_S8_MULTIPLIER, MFCC_S8_SHIFT, MFCC_S8_ZERO_POINT, s8);
        head("s8", c, st);
        for (int i = 0; i < N_FEATURES; i++) put_hex((uint32_t)(uint8_t)s8[i], 2);
        put_str("\n");
        const ek_mfcc_s8_quant_t q = {MFCC_S8_MULTIPLIER, MFCC_S8_SHIFT, MFCC_S8_ZERO_POINT};
        st = ek_mfcc_s8(&ctx, &ek_mfcc_kws_s32, &q, mfcc_clips[c], s8);
        head("s8k", c, st);
        for (int i = 0; i < N_FEATURES; i++) put_hex((uint32_t)(uint8_t)s8[i], 2);
        put_str("\n");
#if MFCC_RUN_F32
        for (int i = 0; i < 16000; i++) audio_f32[i] = (float)mfcc_clips[c][i] / 32768.0f;
        ek_mark_begin();
        st = ek_mfcc_f32(&ctx, &ek_mfcc_kws_f32, audio_f32, f32);
        ek_mark_end();
        head("f32", c, st);
        for (int i = 0; i < N_FEATURES; i++) {
            union { float f; uint32_t u; } b;
            b.f = f32[i];
            put_hex(b.u, 8);
        }
        put_str("\n");
#endif
    }
    /* bad arguments: one status line */
    ek_ctx_t small = {1u, scratch, 16u};
    head("err", 0, ek_mfcc_s32(&small, &ek_mfcc_kws_s32, mfcc_clips[0], q16));
    put_hex((uint32_t)(int32_t)ek_mfcc_s32(&ctx, &ek_mfcc_kws_s32, 0, q16), 8);
    put_str("\nmfcc-done\n");
    ek_port_flush();
    ek_port_exit(0);
}
