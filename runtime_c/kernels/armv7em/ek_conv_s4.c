/* ARMv7E-M DSP convolution with packed int4 weights (overrides kernels/ref/ek_conv_s4.c;
 * bit-exact with it). The int8 override's matrix product over im2col columns
 * (ek_nn_armv7em_conv.h: the same patches, scratch and requantization), with the weights
 * unpacked in registers: one word holds eight weights, masked and sign-extended by SXTB16 as
 * int16 pairs times 16 (ek_s4x8_unpack16); the columns of each group of eight are reordered to
 * meet them ((x0,x4),(x2,x6),(x1,x5),(x3,x7)), and each sum is shifted right by 4 (exact: the
 * products are multiples of 16) before the bias. Full blocks of five pixels run in
 * ek_armv7em_block5_s4 (per group of eight K steps 1 LDR + 3 mask + 4 SXTB16 + 10 LDRD + 20
 * SMLAD for 40 MACs). Grouped convs, K not a multiple of 8 (a filter row then starts inside a
 * byte) and K past the exactness bound take the reference loops; multipliers off the fast
 * path and the last partial block take block1 (C, one pixel at a time). */
#include "ek_nn.h"
#include "ek_nn_armv7em.h"
#include "ek_nn_armv7em_conv.h"
#include "ek_nn_ref.h"

#define K_MAX 65536 /* |16 * sum| < 2^31 (ek_s4x8_unpack16) */

static int32_t fast_shape(const ek_dims_t *in_dims, const ek_dims_t *filter_dims)
{
    const int32_t K = patch_len(filter_dims);
    return filter_dims->c == in_dims->c && (K & 7) == 0 && K <= K_MAX;
}

uint32_t ek_conv_s4_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    return fast_shape(in_dims, filter_dims) ? ek_armv7em_conv_scratch(in_dims, filter_dims, out_dims) : 0u;
}

/* The int8 layout of np slots (groups of four: (x0,x2),(x1,x3)) to the int4 one: per group of
 * eight, slot j's four words (x0,x4),(x2,x6),(x1,x5),(x3,x7) at col[(h * PX + j) * 4]. Both
 * layouts keep a group of eight in the same 4 * PX words. */
static void cols_to_s4(uint32_t *col, int32_t np, int32_t K)
{
    for (int32_t h = 0; h < K >> 3; h++, col += 4 * PX) {
        uint32_t t[4 * PX];
        for (int32_t i = 0; i < 4 * PX; i++) t[i] = col[i];
        for (int32_t j = 0; j < np; j++) {
            const uint32_t a = t[2 * j], b = t[2 * j + 1], c = t[2 * PX + 2 * j], d = t[2 * PX + 2 * j + 1];
            uint32_t *o = col + 4 * j;
            o[0] = (a & 0xFFFFu) | (c << 16);
            o[1] = (c & 0xFFFF0000u) | (a >> 16);
            o[2] = (b & 0xFFFFu) | (d << 16);
            o[3] = (d & 0xFFFF0000u) | (b >> 16);
        }
    }
}

/* All output channels of a full block: the job's n_iter is K / 32 (four groups of eight),
 * rest (K / 8) mod 4; the accumulators start at 0 and get bias + (sum >> 4). */
void ek_armv7em_block5_s4(blk5_t *k);
#define EK_P(A)                                               \
        "ldrd r0, r12, [r7], #8\n"                            \
        "smlad " A ", r10, r0, " A "\n"                       \
        "smlad " A ", r9, r12, " A "\n"                       \
        "ldrd r0, r12, [r7], #8\n"                            \
        "smlad " A ", r11, r0, " A "\n"                       \
        "smlad " A ", r8, r12, " A "\n"
#define EK_G8                                                 \
        "ldr r8, [r1], #4\n"                                  \
        "lsl r9, r8, #4\n"                                    \
        "and r9, r9, #0xF0F0F0F0\n"                           \
        "and r8, r8, #0xF0F0F0F0\n"                           \
        "sxtb16 r10, r9\n"                                    \
        "sxtb16 r9, r9, ror #8\n"                             \
        "sxtb16 r11, r8\n"                                    \
        "sxtb16 r8, r8, ror #8\n"                             \
        EK_P("r2") EK_P("r3") EK_P("r4") EK_P("r5") EK_P("r6")
__asm__(".syntax unified\n"
        ".thumb\n"
        ".section .text.ek_armv7em_block5_s4,\"ax\",%progbits\n"
        ".align 2\n"
        ".global ek_armv7em_block5_s4\n"
        ".type ek_armv7em_block5_s4, %function\n"
        ".thumb_func\n"
        "ek_armv7em_block5_s4:\n"
        "push {r4-r11, lr}\n"
        "mov lr, r0\n"
        "ldr r1, [lr, #4]\n"                 /* w */
        "0:\n"
        "movs r2, #0\n"
        "movs r3, #0\n"
        "movs r4, #0\n"
        "movs r5, #0\n"
        "movs r6, #0\n"
        "ldr r7, [lr, #0]\n"                 /* columns */
        "push {lr}\n"                        /* lr counts the K steps */
        "ldr lr, [lr, #12]\n"                /* K / 32 */
        "cmp lr, #0\n"
        "beq 2f\n"
        "1:\n"
        EK_G8 EK_G8 EK_G8 EK_G8
        "subs lr, lr, #1\n"
        "bne 1b\n"
        "2:\n"
        "ldr lr, [sp]\n"
        "ldr lr, [lr, #40]\n"                /* K / 8 mod 4 */
        "cmp lr, #0\n"
        "beq 3f\n"
        "4:\n"
        EK_G8
        "subs lr, lr, #1\n"
        "bne 4b\n"
        "3:\n"
        "pop {lr}\n"
        "ldr r0, [lr, #8]\n"
        "ldr r10, [r0], #4\n"                /* bias */
        "str r0, [lr, #8]\n"
        "add r2, r10, r2, asr #4\n"
        "add r3, r10, r3, asr #4\n"
        "add r4, r10, r4, asr #4\n"
        "add r5, r10, r5, asr #4\n"
        "add r6, r10, r6, asr #4\n"
        EK_BLK5_TAIL
        "pop {r4-r11, pc}\n"
        ".size ek_armv7em_block5_s4, .-ek_armv7em_block5_s4\n"
        ".text\n");
#undef EK_G8
#undef EK_P

/* All output channels of slot j alone (the last, partial block; any multiplier). */
__attribute__((noinline)) static void block1(const uint32_t *col, int32_t j, int32_t K, const uint8_t *filter,
                                             const int32_t *bias, const ek_requant_t *q, const ek_conv_params_t *p,
                                             int32_t out_c, int8_t *out)
{
    for (int32_t oc = 0; oc < out_c; oc++) {
        const uint8_t *w = filter + oc * (K >> 1);
        const uint32_t *c = col + j * 4;
        int32_t a = 0;
        for (int32_t g = 0; g < K >> 3; g++, w += 4, c += 4 * PX) {
            uint32_t wv[4];
            ek_s4x8_unpack16(ek_ldr_u32(w), wv);
            a = ek_smlad(wv[0], c[0], a);
            a = ek_smlad(wv[1], c[1], a);
            a = ek_smlad(wv[2], c[2], a);
            a = ek_smlad(wv[3], c[3], a);
        }
        a = (bias ? bias[oc] : 0) + (a >> 4);
        const int32_t qc = q->n_channels == 1 ? 0 : oc;
        ek_rq_t rq;
        ek_rq_prep(&rq, q->multiplier[qc], q->shift[qc], p->output_offset, p->act_min, p->act_max);
        out[oc] = ek_rq(&rq, a);
    }
}

ek_status_t ek_conv_s4(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                       const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                       const uint8_t *packed_filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    const int32_t out_c = out_dims->c;
    if (!fast_shape(in_dims, filter_dims))
        return ek_conv_s4_ref(ctx, p, q, in_dims, in, filter_dims, packed_filter, bias, out_dims, out);
    if (filter_dims->n != out_c || (q->n_channels != 1 && q->n_channels != out_c)) return EK_ERR_ARG;
    if (ctx->scratch_bytes < ek_conv_s4_scratch_bytes(in_dims, filter_dims, out_dims)) return EK_ERR_SCRATCH;
    ek_im2col_t m;
    ek_im2col_init(&m, ctx->scratch, p, in_dims, in, filter_dims, out_dims);
    const int32_t K = m.K, n_pix = out_dims->h * out_dims->w;
    const int32_t use_asm = ek_rq_all_fast(q) && out_c > 0;
    ek_clamp4_t clamp;
    ek_clamp4_make(&clamp, p->output_offset, p->act_min, p->act_max);
    if (use_asm) ek_armv7em_conv_table(m.table, q, bias, out_c);
    for (int32_t b = 0; b < in_dims->n; b++) {
        int8_t *ob = out + b * n_pix * out_c;
        for (int32_t p0 = 0; p0 < n_pix; p0 += PX) {
            const int32_t np = n_pix - p0 < PX ? n_pix - p0 : PX;
            ek_im2col_block(&m, b, p0, np);
            cols_to_s4(m.col, np, K);
            if (np == PX && use_asm) {
                blk5_t k = {m.col, packed_filter, m.table, K >> 5, out_c, ob + p0 * out_c, out_c, clamp.zp, clamp.lo4,
                            clamp.hi4, (K >> 3) & 3};
                ek_armv7em_block5_s4(&k);
            } else {
                for (int32_t j = 0; j < np; j++)
                    block1(m.col, j, K, packed_filter, bias, q, p, out_c, ob + (p0 + j) * out_c);
            }
        }
    }
    return EK_OK;
}
