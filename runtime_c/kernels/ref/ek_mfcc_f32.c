/* ek_mfcc_f32.c - float32 MFCC (ek_mfcc.h); golden model quantize/nn/mfcc.py. */
#include <math.h>

#include "ek_mfcc.h"

int32_t ek_mfcc_f32_scratch_bytes(int32_t fft_length, int32_t num_mel_bins) {
    return (int32_t)sizeof(float) * (2 * fft_length + num_mel_bins);
}

static void ek_fft_f32(float *re, float *im, int32_t n, const float *tw_re, const float *tw_im) {
    int32_t i, j = 0;
    for (i = 1; i < n; i++) { /* bit-reversal permutation */
        int32_t bit = n >> 1;
        while (j & bit) {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if (i < j) {
            float t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (int32_t size = 2; size <= n; size <<= 1) {
        int32_t half = size >> 1, step = n / size;
        for (int32_t start = 0; start < n; start += size) {
            for (int32_t k = 0; k < half; k++) {
                float wr = tw_re[k * step], wi = tw_im[k * step];
                int32_t a = start + k, b = a + half;
                float tr = re[b] * wr - im[b] * wi;
                float ti = re[b] * wi + im[b] * wr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
    }
}

ek_status_t ek_mfcc_f32(const ek_ctx_t *ctx, const ek_mfcc_f32_params_t *p, const float *audio, float *features) {
    const ek_mfcc_shape_t *s = &p->s;
    if (ctx == 0 || audio == 0 || features == 0 || !ek_mfcc_shape_ok(s)) return EK_ERR_ARG;
    if (ctx->scratch == 0 || ctx->scratch_bytes < (uint32_t)ek_mfcc_f32_scratch_bytes(s->fft_length, s->num_mel_bins)) return EK_ERR_SCRATCH;
    float *re = (float *)ctx->scratch, *im = re + s->fft_length, *logmel = im + s->fft_length;
    /* x / max(x); where max(x) <= 0, x / max|x|; an all-zero clip stays zero */
    float top = audio[0], mag = 0.0f;
    for (int32_t i = 0; i < s->clip_samples; i++) {
        float a = audio[i];
        if (a > top) top = a;
        if (fabsf(a) > mag) mag = fabsf(a);
    }
    float d = top > 0.0f ? top : (mag > 0.0f ? mag : 1.0f);
    int32_t lo, hi; /* the FFT bins the bands read */
    if (!ek_mfcc_band_range(s, &lo, &hi)) return EK_ERR_ARG;
    for (int32_t f = 0; f < s->num_frames; f++) {
        const float *x = audio + f * s->frame_step;
        for (int32_t n = 0; n < s->fft_length; n++) {
            re[n] = n < s->frame_length ? (x[n] / d) * p->window[n] : 0.0f;
            im[n] = 0.0f;
        }
        ek_fft_f32(re, im, s->fft_length, p->twiddle_re, p->twiddle_im);
        /* |X_k| once per bin the bands read (bands overlap), in place of re[k] */
        for (int32_t k = lo; k < hi; k++) re[k] = sqrtf(re[k] * re[k] + im[k] * im[k]);
        const float *w = p->mel_weights;
        for (int32_t j = 0; j < s->num_mel_bins; j++) {
            float acc = 0.0f;
            for (int32_t c = 0; c < s->mel_count[j]; c++) acc += re[s->mel_start[j] + c] * w[c];
            w += s->mel_count[j];
            logmel[j] = logf(acc + p->log_offset);
        }
        for (int32_t k = 0; k < s->num_coefficients; k++) {
            const float *row = p->dct + k * s->num_mel_bins;
            float acc = 0.0f;
            for (int32_t j = 0; j < s->num_mel_bins; j++) acc += row[j] * logmel[j];
            features[f * s->num_coefficients + k] = acc;
        }
    }
    return EK_OK;
}
