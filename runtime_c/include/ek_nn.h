/* ek_nn.h - network kernels, CMSIS-NN style: one file per op and dtype under
 * runtime_c/kernels/ref/ (ek_conv_s8.c, ek_dwconv_s8.c, ek_fc_s4.c ...), optimized overrides
 * of the same file name under runtime_c/kernels/<family>/, status returns, and a
 * *_scratch_bytes() companion per kernel so the generator sizes scratch from the kernel that
 * is actually linked.
 *
 * Conventions (the IR's, docs/networks.md):
 * - activations are channel-last, NHWC; a 1-D tensor (NLC) is NHWC with h = 1.
 * - conv filters are [O, KH, KW, I/groups] (OHWI); depthwise filters are [1, KH, KW, C*M]
 *   (TFLite's layout: codegen permutes the IR's [C*M, KH, KW, 1] into it); fully-connected
 *   weights are [N, K] (row per output).
 * - int8 arithmetic is TFLite's reference arithmetic, bit for bit (quantize/nn/int8_reference.py
 *   is the golden model): acc = bias + sum (x + input_offset) * w, then
 *   MultiplyByQuantizedMultiplier(acc, multiplier, shift) + output_offset, clamped to
 *   [act_min, act_max]. `shift` is TFLite's exponent: > 0 shifts left, < 0 right.
 * - packed int4 weights (*_s4): two weights per byte, the even-indexed element in the low
 *   nibble, sign-extended; an odd count ends with a half-used byte.
 * Every kernel may use ctx->n_cores cores (ek_parallel.h) and ctx->scratch, and returns
 * EK_ERR_SCRATCH when ctx->scratch_bytes is below its *_scratch_bytes(). */
#ifndef EK_NN_H
#define EK_NN_H
#include "ek_common.h"

typedef struct {
    int32_t n, h, w, c;
} ek_dims_t;

/* Requantization: per output channel (n_channels = output channels) or per tensor (1).
 * Convolutions use multiplier/shift (TFLite's fixed-point form). Fully connected uses
 * `scale` instead: LiteRT's reference FULLY_CONNECTED computes round(acc * scale) in double,
 * half away from zero (scale = in * w[c] / out, quantize/nn/int8_reference.fc_requantize), and
 * that rounding differs from the fixed-point form in about 1 output in 640. */
typedef struct {
    const int32_t *multiplier;
    const int32_t *shift;
    int32_t n_channels;
    const double *scale; /* fully connected only; NULL elsewhere */
} ek_requant_t;

typedef struct {
    int32_t input_offset;  /* minus the input zero point */
    int32_t output_offset; /* the output zero point */
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left; /* begin padding; the end follows from the output dims */
    int32_t dilation_h, dilation_w;
    int32_t depth_multiplier;  /* depthwise only */
    int32_t act_min, act_max;
} ek_conv_params_t;

typedef struct {
    int32_t input_offset, filter_offset, output_offset;
    int32_t act_min, act_max;
} ek_fc_params_t;

typedef struct {
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t filter_h, filter_w;
    int32_t act_min, act_max;
    /* average pools: 0 divides by the in-bounds taps (TFLite, ONNX's default), 1 by
     * filter_h * filter_w (ONNX count_include_pad=1). Max pools ignore it. */
    int32_t count_include_pad;
} ek_pool_params_t;

/* TFLite's PrepareInt8AddSub: both inputs shifted left by left_shift, scaled to a common
 * scale, summed, rescaled to the output. */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t left_shift;
    int32_t act_min, act_max;
} ek_add_params_t;

/* reference_ops::Softmax for int8 in and out (output scale 1/256, zero point -128). */
typedef struct {
    int32_t input_multiplier, input_left_shift, diff_min;
} ek_softmax_params_t;

/* float32 kernels: the same geometry, a float activation range. */
typedef struct {
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t dilation_h, dilation_w;
    int32_t depth_multiplier;
    float act_min, act_max;
} ek_conv_f32_params_t;

/* ---- int8 ---- */
ek_status_t ek_conv_s8(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                       const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                       const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out);
uint32_t ek_conv_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims,
                                  const ek_dims_t *out_dims);

ek_status_t ek_dwconv_s8(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                         const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                         const int8_t *filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out);
uint32_t ek_dwconv_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims,
                                    const ek_dims_t *out_dims);

/* out[b, n] for b < batches, n < out_features; w is [out_features, in_features]. */
ek_status_t ek_fc_s8(const ek_ctx_t *ctx, const ek_fc_params_t *p, const ek_requant_t *q, int32_t batches,
                     int32_t in_features, int32_t out_features, const int8_t *in, const int8_t *w,
                     const int32_t *bias, int8_t *out);
uint32_t ek_fc_s8_scratch_bytes(int32_t in_features, int32_t out_features);

ek_status_t ek_avgpool_s8(const ek_ctx_t *ctx, const ek_pool_params_t *p, const ek_dims_t *in_dims,
                          const int8_t *in, const ek_dims_t *out_dims, int8_t *out);
uint32_t ek_avgpool_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *out_dims);
ek_status_t ek_maxpool_s8(const ek_ctx_t *ctx, const ek_pool_params_t *p, const ek_dims_t *in_dims,
                          const int8_t *in, const ek_dims_t *out_dims, int8_t *out);
uint32_t ek_maxpool_s8_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *out_dims);

ek_status_t ek_add_s8(const ek_ctx_t *ctx, const ek_add_params_t *p, const int8_t *a, const int8_t *b,
                      int32_t n, int8_t *out);

ek_status_t ek_softmax_s8(const ek_ctx_t *ctx, const ek_softmax_params_t *p, int32_t rows, int32_t row_size,
                          const int8_t *in, int8_t *out);

/* ---- packed int4 weights, int8 activations ---- */
ek_status_t ek_conv_s4(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                       const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                       const uint8_t *packed_filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out);
uint32_t ek_conv_s4_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims,
                                  const ek_dims_t *out_dims);
ek_status_t ek_dwconv_s4(const ek_ctx_t *ctx, const ek_conv_params_t *p, const ek_requant_t *q,
                         const ek_dims_t *in_dims, const int8_t *in, const ek_dims_t *filter_dims,
                         const uint8_t *packed_filter, const int32_t *bias, const ek_dims_t *out_dims, int8_t *out);
uint32_t ek_dwconv_s4_scratch_bytes(const ek_dims_t *in_dims, const ek_dims_t *filter_dims,
                                    const ek_dims_t *out_dims);
ek_status_t ek_fc_s4(const ek_ctx_t *ctx, const ek_fc_params_t *p, const ek_requant_t *q, int32_t batches,
                     int32_t in_features, int32_t out_features, const int8_t *in, const uint8_t *packed_w,
                     const int32_t *bias, int8_t *out);
uint32_t ek_fc_s4_scratch_bytes(int32_t in_features, int32_t out_features);

/* ---- float32 ---- */
ek_status_t ek_conv_f32(const ek_ctx_t *ctx, const ek_conv_f32_params_t *p, const ek_dims_t *in_dims,
                        const float *in, const ek_dims_t *filter_dims, const float *filter, const float *bias,
                        const ek_dims_t *out_dims, float *out);
ek_status_t ek_dwconv_f32(const ek_ctx_t *ctx, const ek_conv_f32_params_t *p, const ek_dims_t *in_dims,
                          const float *in, const ek_dims_t *filter_dims, const float *filter, const float *bias,
                          const ek_dims_t *out_dims, float *out);
ek_status_t ek_fc_f32(const ek_ctx_t *ctx, float act_min, float act_max, int32_t batches, int32_t in_features,
                      int32_t out_features, const float *in, const float *w, const float *bias, float *out);
ek_status_t ek_avgpool_f32(const ek_ctx_t *ctx, const ek_pool_params_t *p, float act_min, float act_max,
                           const ek_dims_t *in_dims, const float *in, const ek_dims_t *out_dims, float *out);
ek_status_t ek_maxpool_f32(const ek_ctx_t *ctx, const ek_pool_params_t *p, float act_min, float act_max,
                           const ek_dims_t *in_dims, const float *in, const ek_dims_t *out_dims, float *out);
ek_status_t ek_softmax_f32(const ek_ctx_t *ctx, int32_t rows, int32_t row_size, const float *in, float *out);

/* add/sub/mul with broadcasting, concat, pad */
#include "ek_nn_elementwise.h"

#endif
