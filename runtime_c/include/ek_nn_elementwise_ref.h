/* ek_nn_elementwise_ref.h - pieces the elementwise reference kernels share (not part of the
 * contract): the broadcast walk, TFLite's int8 add of one element pair, the pad walk. */
#ifndef EK_NN_ELEMENTWISE_REF_H
#define EK_NN_ELEMENTWISE_REF_H
#include "ek_nn.h"
#include "ek_nn_math.h"

/* The output is walked as runs along its innermost dim: `n` elements at out + o, input 1 at
 * a + i * sa, input 2 at b + i * sb. Kernels loop
 *     if (!ek_bcast_begin(&it, bc)) return EK_ERR_ARG;
 *     do { ...run... } while (ek_bcast_next(&it, bc)); */
typedef struct {
    int32_t idx[EK_NN_MAX_DIMS];
    int32_t a, b, o, n, sa, sb;
} ek_bcast_iter_t;

static inline int ek_bcast_begin(ek_bcast_iter_t *it, const ek_bcast_t *bc)
{
    if (bc->rank < 1 || bc->rank > EK_NN_MAX_DIMS) return 0;
    for (int32_t d = 0; d < bc->rank; d++) {
        if (bc->out_dims[d] < 1) return 0;
        it->idx[d] = 0;
    }
    it->a = it->b = it->o = 0;
    it->n = bc->out_dims[bc->rank - 1];
    it->sa = bc->a_strides[bc->rank - 1];
    it->sb = bc->b_strides[bc->rank - 1];
    return 1;
}

static inline int ek_bcast_next(ek_bcast_iter_t *it, const ek_bcast_t *bc)
{
    it->o += it->n;
    for (int32_t d = bc->rank - 2; d >= 0; d--) {
        it->a += bc->a_strides[d];
        it->b += bc->b_strides[d];
        if (++it->idx[d] < bc->out_dims[d]) return 1;
        it->a -= bc->a_strides[d] * bc->out_dims[d];
        it->b -= bc->b_strides[d] * bc->out_dims[d];
        it->idx[d] = 0;
    }
    return 0;
}

/* reference_integer_ops::Add of one pair (SUB: input2_multiplier negated by Prepare). */
static inline int8_t ek_add_elem_s8(const ek_add_params_t *p, int32_t a, int32_t b)
{
    const int32_t x1 = (int32_t)((uint32_t)(a + p->input1_offset) << p->left_shift);
    const int32_t x2 = (int32_t)((uint32_t)(b + p->input2_offset) << p->left_shift);
    const int32_t s1 = ek_mbqm_smaller_than_one_exp(x1, p->input1_multiplier, p->input1_shift);
    const int32_t s2 = ek_mbqm_smaller_than_one_exp(x2, p->input2_multiplier, p->input2_shift);
    const int32_t raw = ek_mbqm_smaller_than_one_exp(s1 + s2, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ek_clamp_s32(raw, p->act_min, p->act_max);
}

static inline ek_status_t ek_add_sub_bcast_s8(const ek_add_params_t *p, const ek_bcast_t *bc, const int8_t *a,
                                              const int8_t *b, int8_t *out)
{
    ek_bcast_iter_t it;
    if (!ek_bcast_begin(&it, bc)) return EK_ERR_ARG;
    do {
        const int8_t *pa = a + it.a, *pb = b + it.b;
        int8_t *po = out + it.o;
        for (int32_t i = 0; i < it.n; i++) po[i] = ek_add_elem_s8(p, pa[i * it.sa], pb[i * it.sb]);
    } while (ek_bcast_next(&it, bc));
    return EK_OK;
}

/* float32 add/sub/mul with broadcasting: one IEEE operation per element (as onnxruntime),
 * then the fused activation's clamp. `op` is '+', '-' or '*'. */
static inline ek_status_t ek_binary_bcast_f32(const ek_binary_f32_params_t *p, const ek_bcast_t *bc, const float *a,
                                              const float *b, float *out, char op)
{
    ek_bcast_iter_t it;
    if (!ek_bcast_begin(&it, bc)) return EK_ERR_ARG;
    do {
        const float *pa = a + it.a, *pb = b + it.b;
        float *po = out + it.o;
        if (op == '+')
            for (int32_t i = 0; i < it.n; i++) po[i] = ek_clamp_f32(pa[i * it.sa] + pb[i * it.sb], p->act_min, p->act_max);
        else if (op == '-')
            for (int32_t i = 0; i < it.n; i++) po[i] = ek_clamp_f32(pa[i * it.sa] - pb[i * it.sb], p->act_min, p->act_max);
        else
            for (int32_t i = 0; i < it.n; i++) po[i] = ek_clamp_f32(pa[i * it.sa] * pb[i * it.sb], p->act_min, p->act_max);
    } while (ek_bcast_next(&it, bc));
    return EK_OK;
}

static inline void ek_fill_bytes(uint8_t *out, int32_t count, const uint8_t *value, uint32_t esize)
{
    for (int32_t i = 0; i < count; i++)
        for (uint32_t k = 0; k < esize; k++) *out++ = value[k];
}

/* Constant pad of elements of `esize` bytes: the output walked row by row (its innermost
 * dim); a row inside the input's box is its padding, one input row (inputs are read in
 * order) and padding, any other row is all padding. */
static inline ek_status_t ek_pad_bytes(const ek_pad_params_t *p, uint32_t esize, const uint8_t *in, uint8_t *out,
                                       const uint8_t *value)
{
    const int32_t r = p->rank;
    int32_t odims[EK_NN_MAX_DIMS], idx[EK_NN_MAX_DIMS];
    if (r < 1 || r > EK_NN_MAX_DIMS) return EK_ERR_ARG;
    for (int32_t d = 0; d < r; d++) {
        if (p->in_dims[d] < 1 || p->before[d] < 0 || p->after[d] < 0) return EK_ERR_ARG;
        odims[d] = p->before[d] + p->in_dims[d] + p->after[d];
        idx[d] = 0;
    }
    const int32_t last = r - 1;
    const uint32_t row_bytes = (uint32_t)p->in_dims[last] * esize;
    for (;;) {
        int inside = 1;
        for (int32_t d = 0; d < last; d++)
            if (idx[d] < p->before[d] || idx[d] >= p->before[d] + p->in_dims[d]) inside = 0;
        if (inside) {
            ek_fill_bytes(out, p->before[last], value, esize);
            out += (uint32_t)p->before[last] * esize;
            for (uint32_t k = 0; k < row_bytes; k++) out[k] = in[k];
            out += row_bytes;
            in += row_bytes;
            ek_fill_bytes(out, p->after[last], value, esize);
            out += (uint32_t)p->after[last] * esize;
        } else {
            ek_fill_bytes(out, odims[last], value, esize);
            out += (uint32_t)odims[last] * esize;
        }
        int32_t d = last - 1;
        while (d >= 0 && ++idx[d] == odims[d]) idx[d--] = 0;
        if (d < 0) break;
    }
    return EK_OK;
}

#endif
