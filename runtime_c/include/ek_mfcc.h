/* ek_mfcc.h - MFCC front end for keyword spotting: a clip of audio samples -> [frames][coefficients].
 *
 * The steps are TensorFlow's (the MLPerf Tiny KWS pipeline, docs/networks.md "Audio"):
 * x / max(x) per clip, frames of frame_length every frame_step samples, periodic Hann window,
 * fft_length-point FFT magnitude, mel filterbank, ln(mel + log_offset), DCT-II scaled by
 * sqrt(2/num_mel_bins), the first num_coefficients kept.
 * - ek_mfcc_f32: float32, for targets with an FPU; golden model quantize/nn/mfcc.py.
 * - ek_mfcc_s32: integers only (int16 PCM in, Q16 int32 out; int64 inside), for soft-float
 *   targets; bit-exact with quantize/nn/mfcc_fixed.py.
 * The constant tables come from Python (quantize/nn/mfcc_fixed.tables), rendered into a header
 * such as ek_mfcc_kws_tables.h (the DS-CNN's front end). Each kernel needs
 * *_scratch_bytes(fft_length, num_mel_bins) bytes of ctx->scratch (4-byte aligned); ctx->n_cores
 * is not used. */
#ifndef EK_MFCC_H
#define EK_MFCC_H
#include "ek_common.h"

typedef struct {
    int32_t clip_samples, frame_length, frame_step, fft_length; /* fft_length: a power of two >= frame_length */
    int32_t num_frames, num_mel_bins, num_coefficients;
    const int16_t *mel_start; /* [num_mel_bins] first FFT bin of each band */
    const int16_t *mel_count; /* [num_mel_bins] bins in each band; the weights are stored band after band */
} ek_mfcc_shape_t;

typedef struct {
    ek_mfcc_shape_t s;
    const float *window;                   /* [frame_length] */
    const float *twiddle_re, *twiddle_im;  /* [fft_length / 2]: cos, -sin of 2 pi k / fft_length */
    const float *mel_weights;              /* [sum of mel_count] */
    const float *dct;                      /* [num_coefficients][num_mel_bins] */
    float log_offset;
} ek_mfcc_f32_params_t;

typedef struct {
    ek_mfcc_shape_t s;
    const int32_t *window_q30;                     /* [frame_length] Hann in Q30 */
    const int32_t *twiddle_re_q30, *twiddle_im_q30; /* [fft_length / 2] */
    const int32_t *mel_weights_q15;                /* [sum of mel_count] */
    const int32_t *log2_table_q24;                 /* [257] log2(1 + i/256) in Q24 */
    const int32_t *dct_q30;                        /* [num_coefficients][num_mel_bins], ln 2 folded in */
    int64_t log_offset_q50;                        /* round(log_offset * 2^50) */
    int32_t headroom_bits;                         /* 30 - bit_length(frame_length) */
} ek_mfcc_s32_params_t;

/* The geometry the kernels accept (one check for both). */
static inline int32_t ek_mfcc_shape_ok(const ek_mfcc_shape_t *s) {
    return s->fft_length >= 2 && (s->fft_length & (s->fft_length - 1)) == 0 && s->frame_length > 0 &&
           s->frame_length <= s->fft_length && s->frame_step > 0 && s->clip_samples >= s->frame_length &&
           s->num_frames == 1 + (s->clip_samples - s->frame_length) / s->frame_step && s->num_mel_bins > 0 &&
           s->num_coefficients > 0 && s->num_coefficients <= s->num_mel_bins && s->mel_start != 0 &&
           s->mel_count != 0;
}

/* The FFT bins [*lo, *hi) the bands read; 0 when a band lies outside the fft_length/2 + 1 bins. */
static inline int32_t ek_mfcc_band_range(const ek_mfcc_shape_t *s, int32_t *lo, int32_t *hi) {
    *lo = s->fft_length;
    *hi = 0;
    for (int32_t j = 0; j < s->num_mel_bins; j++) {
        if (s->mel_start[j] < 0 || s->mel_count[j] < 0 || s->mel_start[j] + s->mel_count[j] > s->fft_length / 2 + 1)
            return 0;
        if (s->mel_count[j] > 0 && s->mel_start[j] < *lo) *lo = s->mel_start[j];
        if (s->mel_start[j] + s->mel_count[j] > *hi) *hi = s->mel_start[j] + s->mel_count[j];
    }
    return 1;
}

/* Scratch of either kernel: 2 * fft_length + num_mel_bins words (4 bytes each). */
int32_t ek_mfcc_f32_scratch_bytes(int32_t fft_length, int32_t num_mel_bins);
/* audio: clip_samples floats; features: num_frames * num_coefficients floats. */
ek_status_t ek_mfcc_f32(const ek_ctx_t *ctx, const ek_mfcc_f32_params_t *p, const float *audio, float *features);

int32_t ek_mfcc_s32_scratch_bytes(int32_t fft_length, int32_t num_mel_bins);
/* audio: clip_samples int16 PCM; features_q16: num_frames * num_coefficients values in Q16. */
ek_status_t ek_mfcc_s32(const ek_ctx_t *ctx, const ek_mfcc_s32_params_t *p, const int16_t *audio,
                        int32_t *features_q16);

/* The int8 model input's quantization: (multiplier, shift) = mfcc_fixed.s8_multiplier(scale). */
typedef struct {
    int32_t multiplier, shift, zero_point;
} ek_mfcc_s8_quant_t;

/* ek_mfcc_s32's features quantized on the fly for an int8 model (as ek_mfcc_q16_to_s8 does);
 * the same scratch as ek_mfcc_s32. */
ek_status_t ek_mfcc_s8(const ek_ctx_t *ctx, const ek_mfcc_s32_params_t *p, const ek_mfcc_s8_quant_t *q,
                       const int16_t *audio, int8_t *features);

/* An int8 model's input from Q16 features: clamp(round(q * multiplier / 2^(16 + shift)) + zero_point),
 * rounding half away from zero; (multiplier, shift) = mfcc_fixed.s8_multiplier(input scale). */
ek_status_t ek_mfcc_q16_to_s8(const int32_t *features_q16, int32_t n, int32_t multiplier, int32_t shift,
                              int32_t zero_point, int8_t *out);

#endif
