/* ek_nn_elementwise.h - elementwise and data-movement network kernels (included from ek_nn.h):
 * add, sub, mul with numpy broadcasting (int8 and float32), concat along any axis, constant pad.
 *
 * Broadcasting: codegen describes both inputs against the output shape with `ek_bcast_t`,
 * dims collapsed where they can be (a same-shape op is rank 1), each input's element strides
 * 0 where it repeats. int8 arithmetic is TFLite's reference (quantize/nn/int8_ops.py is the
 * golden model): ADD/SUB by PrepareInt8AddSub's parameters (SUB negates input 2's multiplier,
 * as sub.cc does), MUL by one multiplier of s1 * s2 / s_out. None of these kernels needs
 * scratch; they run on one core. */
#ifndef EK_NN_ELEMENTWISE_H
#define EK_NN_ELEMENTWISE_H
#include "ek_common.h"

#define EK_NN_MAX_DIMS 6

typedef struct {
    int32_t rank;                      /* 1..EK_NN_MAX_DIMS */
    int32_t out_dims[EK_NN_MAX_DIMS];  /* the output's dims, outermost first */
    int32_t a_strides[EK_NN_MAX_DIMS]; /* element strides of input 1 per output dim, 0 = repeated */
    int32_t b_strides[EK_NN_MAX_DIMS];
} ek_bcast_t;

/* reference_integer_ops::Mul: out = clamp(zo + MBQM((a + o1) * (b + o2), m, s)). */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} ek_mul_params_t;

/* float32 add/sub/mul: the fused activation's range. */
typedef struct {
    float act_min, act_max;
} ek_binary_f32_params_t;

/* concat: the output is `outer` rows, each the inputs' rows one after another; input i's
 * row holds inner[i] elements (its dims from the axis on, multiplied). */
typedef struct {
    int32_t n_inputs;
    int32_t outer;
    const int32_t *inner;
} ek_concat_params_t;

/* int8 concat input whose scale or zero point differs from the output's: requantized as
 * TFLite's QUANTIZE (int8 -> int8, reference_ops::Requantize) the converter puts in front. */
typedef struct {
    int32_t copy; /* 1: same scale and zero point, the bytes are copied */
    int32_t input_offset; /* minus the input zero point */
    int32_t multiplier, shift; /* QuantizeMultiplier(s_in / s_out) */
    int32_t output_offset;
} ek_concat_requant_t;

/* constant pad of a tensor of `rank` dims (outermost first). */
typedef struct {
    int32_t rank;
    int32_t in_dims[EK_NN_MAX_DIMS];
    int32_t before[EK_NN_MAX_DIMS];
    int32_t after[EK_NN_MAX_DIMS];
} ek_pad_params_t;

/* ---- int8 ---- */
ek_status_t ek_add_bcast_s8(const ek_ctx_t *ctx, const ek_add_params_t *p, const ek_bcast_t *bc, const int8_t *a,
                            const int8_t *b, int8_t *out);
ek_status_t ek_sub_s8(const ek_ctx_t *ctx, const ek_add_params_t *p, const ek_bcast_t *bc, const int8_t *a,
                      const int8_t *b, int8_t *out);
ek_status_t ek_mul_s8(const ek_ctx_t *ctx, const ek_mul_params_t *p, const ek_bcast_t *bc, const int8_t *a,
                      const int8_t *b, int8_t *out);
/* rq: one per input, or NULL when every input shares the output's scale and zero point. */
ek_status_t ek_concat_s8(const ek_ctx_t *ctx, const ek_concat_params_t *p, const ek_concat_requant_t *rq,
                         const int8_t *const *in, int8_t *out);
ek_status_t ek_pad_s8(const ek_ctx_t *ctx, const ek_pad_params_t *p, int8_t value, const int8_t *in, int8_t *out);

/* ---- float32 ---- */
ek_status_t ek_add_f32(const ek_ctx_t *ctx, const ek_binary_f32_params_t *p, const ek_bcast_t *bc, const float *a,
                       const float *b, float *out);
ek_status_t ek_sub_f32(const ek_ctx_t *ctx, const ek_binary_f32_params_t *p, const ek_bcast_t *bc, const float *a,
                       const float *b, float *out);
ek_status_t ek_mul_f32(const ek_ctx_t *ctx, const ek_binary_f32_params_t *p, const ek_bcast_t *bc, const float *a,
                       const float *b, float *out);
ek_status_t ek_concat_f32(const ek_ctx_t *ctx, const ek_concat_params_t *p, const float *const *in, float *out);
ek_status_t ek_pad_f32(const ek_ctx_t *ctx, const ek_pad_params_t *p, float value, const float *in, float *out);

#endif
