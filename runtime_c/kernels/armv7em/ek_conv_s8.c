/* ARMv7E-M DSP int8 convolution (overrides kernels/ref/ek_conv_s8.c; bit-exact with it).
 *
 * Ungrouped convs (pointwise 1x1 included) run as a matrix product over im2col columns:
 * five output pixels at a time, their patches (K = KH*KW*C values, the input zero point
 * where the window leaves the input) written to scratch as int16 with the input offset
 * added, in the order SXTB16 unpacks weights ((k0,k2),(k1,k3) per group of four). Each
 * weight word is loaded and unpacked once for the five pixels (ek_armv7em_block5); one input
 * channel with 4-wide windows (the DS-CNN's first conv) reads a window row as one word
 * (patch_c1k4). The
 * requantization is ek_nn_armv7em.h's. Grouped convs take the reference loops (ek_nn_ref.h);
 * K not a multiple of 4, multipliers off the fast path and the last partial block take
 * block1 (C, one pixel at a time, still SMLAD). */
#include "ek_nn.h"
#include "ek_nn_armv7em.h"
#include "ek_nn_armv7em_conv.h"
#include "ek_nn_ref.h"

uint32_t ek_conv_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims, const ek_dims_t *out_dims)
{
    return ek_armv7em_conv_scratch(in_dims, filter_dims, out_dims);
}

/* All output channels of a full block of PX = 5 pixels in one assembly loop (K a multiple
 * of 4, every channel on the fast requantization). Per channel a row {bias, m2, e, rc} of
 * `table` (built once per call); per group of four K steps 1 LDR + 2 SXTB16 + 2 LDM + 1 LDRD
 * + 10 SMLAD for 20 MACs, then about 70 instructions of requantization, clamp and stores for
 * the five outputs (EK_BLK5_TAIL). The job's n_iter is K / 32 (eight groups of four), rest
 * (K / 4) mod 8. */

void ek_armv7em_block5(blk5_t *k);
#define EK_G                                                  \
        "ldr r8, [r1], #4\n"                                  \
        "ldm r7!, {r0, r10, r11, r12}\n"                      \
        "sxtb16 r9, r8\n"                                     \
        "sxtb16 r8, r8, ror #8\n"                             \
        "smlad r2, r9, r0, r2\n"                              \
        "smlad r2, r8, r10, r2\n"                             \
        "smlad r3, r9, r11, r3\n"                             \
        "smlad r3, r8, r12, r3\n"                             \
        "ldm r7!, {r0, r10, r11, r12}\n"                      \
        "smlad r4, r9, r0, r4\n"                              \
        "smlad r4, r8, r10, r4\n"                             \
        "smlad r5, r9, r11, r5\n"                             \
        "smlad r5, r8, r12, r5\n"                             \
        "ldrd r0, r10, [r7], #8\n"                            \
        "smlad r6, r9, r0, r6\n"                              \
        "smlad r6, r8, r10, r6\n"
__asm__(".syntax unified\n"
        ".thumb\n"
        ".section .text.ek_armv7em_block5,\"ax\",%progbits\n"
        ".align 2\n"
        ".global ek_armv7em_block5\n"
        ".type ek_armv7em_block5, %function\n"
        ".thumb_func\n"
        "ek_armv7em_block5:\n"
        "push {r4-r11, lr}\n"
        "mov lr, r0\n"
        "ldr r1, [lr, #4]\n"                 /* w */
        "0:\n"
        "ldr r0, [lr, #8]\n"                 /* table */
        "ldr r2, [r0], #4\n"                 /* bias */
        "str r0, [lr, #8]\n"
        "mov r3, r2\n"
        "mov r4, r2\n"
        "mov r5, r2\n"
        "mov r6, r2\n"
        "ldr r7, [lr, #0]\n"                 /* columns */
        "push {lr}\n"                        /* lr counts the K steps */
        "ldr lr, [lr, #12]\n"                /* K / 32 */
        "cmp lr, #0\n"
        "beq 2f\n"
        "1:\n"
        EK_G EK_G EK_G EK_G EK_G EK_G EK_G EK_G
        "subs lr, lr, #1\n"
        "bne 1b\n"
        "2:\n"
        "ldr lr, [sp]\n"
        "ldr lr, [lr, #40]\n"                /* K / 4 mod 8 */
        "cmp lr, #0\n"
        "beq 3f\n"
        "4:\n"
        EK_G
        "subs lr, lr, #1\n"
        "bne 4b\n"
        "3:\n"
        "pop {lr}\n"
        EK_BLK5_TAIL
        "pop {r4-r11, pc}\n"
        ".size ek_armv7em_block5, .-ek_armv7em_block5\n"
        ".text\n");
#undef EK_G

/* All output channels of slot j alone (the last, partial block). */
__attribute__((noinline)) static void block1(const uint32_t *col, int32_t j, int32_t K, const int8_t *filter, const int32_t *bias,
                   const ek_requant_t *q, const ek_conv_params_t *p, int32_t out_c, int8_t *out)
{
    const int32_t groups = K >> 2;
    for (int32_t oc = 0; oc < out_c; oc++) {
        const int8_t *w = filter + oc * K;
        int32_t a = bias ? bias[oc] : 0;
        const uint32_t *c = col + j * 2;
        for (int32_t g = 0; g < groups; g++) {
            const uint32_t v = ek_ldr_u32(w);
            w += 4;
            a = ek_smlad(ek_sxtb16(v), c[0], a);
            a = ek_smlad(ek_sxtb16(ek_ror8(v)), c[1], a);
            c += 2 * PX;
        }
        for (int32_t k = groups * 4; k < K; k++) a += (int32_t)*w++ * get16(col, j, k);
        const int32_t qc = q->n_channels == 1 ? 0 : oc;
        ek_rq_t rq;
        ek_rq_prep(&rq, q->multiplier[qc], q->shift[qc], p->output_offset, p->act_min, p->act_max);
        out[oc] = ek_rq(&rq, a);
    }
}

ek_status_t ek_conv_s8(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                       const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                       const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out)
{
    const int32_t out_c = out_dims->c;
    if (filter_dims->c != in_dims->c) return ek_conv_s8_ref(ctx, p, q, in_dims, in, filter_dims, filter, bias, out_dims, out);
    if (filter_dims->n != out_c || (q->n_channels != 1 && q->n_channels != out_c)) return EK_ERR_ARG;
    if (ctx->scratch_bytes < ek_conv_s8_scratch_bytes(in_dims, filter_dims, out_dims)) return EK_ERR_SCRATCH;
    ek_im2col_t m;
    ek_im2col_init(&m, ctx->scratch, p, in_dims, in, filter_dims, out_dims);
    const int32_t K = m.K, n_pix = out_dims->h * out_dims->w;
    const int32_t use_asm = ek_rq_all_fast(q) && (K & 3) == 0 && out_c > 0;
    ek_clamp4_t clamp;
    ek_clamp4_make(&clamp, p->output_offset, p->act_min, p->act_max);
    if (use_asm) ek_armv7em_conv_table(m.table, q, bias, out_c);
    for (int32_t b = 0; b < in_dims->n; b++) {
        int8_t *ob = out + b * n_pix * out_c;
        for (int32_t p0 = 0; p0 < n_pix; p0 += PX) {
            const int32_t np = n_pix - p0 < PX ? n_pix - p0 : PX;
            ek_im2col_block(&m, b, p0, np);
            if (np == PX && use_asm) {
                blk5_t k = {m.col, filter, m.table, K >> 5, out_c, ob + p0 * out_c, out_c, clamp.zp, clamp.lo4,
                            clamp.hi4, (K >> 2) & 7};
                ek_armv7em_block5(&k);
            } else {
                for (int32_t j = 0; j < np; j++) block1(m.col, j, K, filter, bias, q, p, out_c, ob + (p0 + j) * out_c);
            }
        }
    }
    return EK_OK;
}
