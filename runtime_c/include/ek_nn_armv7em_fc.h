/* ek_nn_armv7em_fc.h - the ARMv7E-M fully connected layer for int8 and packed int4 weights
 * (kernels/armv7em/ek_fc_s8.c and ek_fc_s4.c): two output features at a time, each input word
 * unpacked once for both rows as int16 (x + input offset) pairs, SMLAD per pair of weights
 * (int4: eight a word, ek_s4x8_unpack16, the columns reordered to meet them, the sum shifted
 * right by 4). The filter offset is folded out of the loop: sum (x + io)(w + fo) = sum (x + io) w
 * + fo * sum (x + io). The requantization stays the reference's (in double, as LiteRT does).
 * Rows that do not start on a word (int8: K % 4; int4: K % 8) and the tail of a row take the
 * reference arithmetic per element. No scratch. */
#ifndef EK_NN_ARMV7EM_FC_H
#define EK_NN_ARMV7EM_FC_H
#include "ek_nn.h"
#include "ek_nn_armv7em.h"
#include "ek_nn_ref.h"

/* sum_k (x[k] + io) * w[k] over k < K for rows r0, r1 (int8 weights, K a multiple of 4) */
static inline void fc_rows_s8(const int8_t *x, int32_t K, uint32_t off2, const int8_t *r0, const int8_t *r1,
                              int32_t *a0, int32_t *a1)
{
    int32_t s0 = 0, s1 = 0;
    for (int32_t k = 0; k < K; k += 4) {
        const uint32_t v = ek_ldr_u32(x + k), xe = ek_sxtab16(off2, v), xo = ek_sxtab16_ror8(off2, v);
        const uint32_t w0 = ek_ldr_u32(r0 + k), w1 = ek_ldr_u32(r1 + k);
        s0 = ek_smlad(ek_sxtb16(w0), xe, s0);
        s0 = ek_smlad(ek_sxtb16(ek_ror8(w0)), xo, s0);
        s1 = ek_smlad(ek_sxtb16(w1), xe, s1);
        s1 = ek_smlad(ek_sxtb16(ek_ror8(w1)), xo, s1);
    }
    *a0 = s0;
    *a1 = s1;
}

/* The same for packed int4 rows (byte pointers; K a multiple of 8). */
static inline void fc_rows_s4(const int8_t *x, int32_t K, uint32_t off2, const uint8_t *r0, const uint8_t *r1,
                              int32_t *a0, int32_t *a1)
{
    int32_t s0 = 0, s1 = 0;
    for (int32_t k = 0; k < K; k += 8, r0 += 4, r1 += 4) {
        const uint32_t v = ek_ldr_u32(x + k), u = ek_ldr_u32(x + k + 4);
        const uint32_t A = ek_sxtab16(off2, v), B = ek_sxtab16_ror8(off2, v);
        const uint32_t C = ek_sxtab16(off2, u), D = ek_sxtab16_ror8(off2, u);
        const uint32_t c0 = (A & 0xFFFFu) | (C << 16), c1 = (C & 0xFFFF0000u) | (A >> 16);
        const uint32_t c2 = (B & 0xFFFFu) | (D << 16), c3 = (D & 0xFFFF0000u) | (B >> 16);
        uint32_t w[4];
        ek_s4x8_unpack16(ek_ldr_u32(r0), w);
        s0 = ek_smlad(w[0], c0, s0);
        s0 = ek_smlad(w[1], c1, s0);
        s0 = ek_smlad(w[2], c2, s0);
        s0 = ek_smlad(w[3], c3, s0);
        ek_s4x8_unpack16(ek_ldr_u32(r1), w);
        s1 = ek_smlad(w[0], c0, s1);
        s1 = ek_smlad(w[1], c1, s1);
        s1 = ek_smlad(w[2], c2, s1);
        s1 = ek_smlad(w[3], c3, s1);
    }
    *a0 = s0 >> 4;
    *a1 = s1 >> 4;
}

/* sum_k (x[k] + io) * w[n, k] for rows n0 and n1 (n1 may equal n0: a lone last row). */
static inline __attribute__((always_inline)) void fc_pair(const int8_t *x, int32_t K, int32_t io, const void *w,
                                                          int32_t s4, int32_t fast, int32_t n0, int32_t n1,
                                                          int32_t *a0, int32_t *a1)
{
    const uint32_t off2 = ((uint32_t)io & 0xFFFFu) * 0x10001u;
    int32_t done = 0;
    *a0 = *a1 = 0;
    if (fast && s4) {
        const uint8_t *pw = (const uint8_t *)w;
        fc_rows_s4(x, K, off2, pw + n0 * (K >> 1), pw + n1 * (K >> 1), a0, a1);
        done = K;
    } else if (fast) {
        const int8_t *pw = (const int8_t *)w;
        fc_rows_s8(x, K & ~3, off2, pw + n0 * K, pw + n1 * K, a0, a1);
        done = K & ~3;
    }
    for (int32_t k = done; k < K; k++) {
        *a0 += ((int32_t)x[k] + io) * ek_w_at(w, n0 * K + k, s4);
        *a1 += ((int32_t)x[k] + io) * ek_w_at(w, n1 * K + k, s4);
    }
}

static inline __attribute__((always_inline)) ek_status_t ek_armv7em_fc(const ek_fc_params_t *p, const ek_requant_t *q,
                                                                       int32_t batches, int32_t K, int32_t N,
                                                                       const int8_t *in, const void *w, int32_t s4,
                                                                       const int32_t *bias, int8_t *out)
{
    if (q->scale == NULL || (q->n_channels != 1 && q->n_channels != N)) return EK_ERR_ARG;
    /* int4: whole words per row, and |16 * sum| < 2^31 (ek_s4x8_unpack16) */
    const int32_t fast = s4 ? (K & 7) == 0 && K <= 65536 : 1;
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *x = in + b * K;
        int32_t sx = 0; /* sum (x + io): the filter offset's term */
        if (p->filter_offset != 0) {
            for (int32_t k = 0; k < K; k++) sx += (int32_t)x[k] + p->input_offset;
        }
        for (int32_t n = 0; n < N; n += 2) {
            const int32_t n1 = n + 1 < N ? n + 1 : n;
            int32_t acc[2];
            fc_pair(x, K, p->input_offset, w, s4, fast, n, n1, &acc[0], &acc[1]);
            for (int32_t i = 0; i <= n1 - n; i++) {
                const int32_t a = (bias ? bias[n + i] : 0) + acc[i] + p->filter_offset * sx;
                const int32_t qc = q->n_channels == 1 ? 0 : n + i;
                out[b * N + n + i] = ek_requant_scale_s8(a, q->scale[qc], p->output_offset, p->act_min, p->act_max);
            }
        }
    }
    return EK_OK;
}

#endif
