/* ek_mfcc_f32.c - float32 MFCC (ek_mfcc.h); golden model quantize/nn/mfcc.py. */
#include <math.h>

#include "ek_mfcc.h"

int32_t ek_mfcc_f32_scratch_bytes(int32_t fft_length, int32_t num_mel_bins) {
    return (int32_t)sizeof(float) * (2 * fft_length + num_mel_bins);
}

/* Radix-2 DIT FFT of n points in place; twiddle j of a stage of `size` points is table entry
 * j * (n / size) * tw_stride (the table is that of n * tw_stride points). */
static void ek_fft_f32(float *re, float *im, int32_t n, const float *tw_re, const float *tw_im, int32_t tw_stride) {
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
        int32_t half = size >> 1, step = n / size * tw_stride;
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
    /* scratch (2 * fft_length + num_mel_bins floats): Z = re + i im (fft_length / 2 each), the
     * magnitudes by bin (up to fft_length / 2 + 1), the log-mel energies */
    const int32_t half = s->fft_length / 2;
    float *re = (float *)ctx->scratch, *im = re + half, *bins = im + half, *logmel = re + 2 * s->fft_length;
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
        for (int32_t m = 0; m < half; m++) { /* z[m] = v[2m] + i v[2m + 1] */
            int32_t n = 2 * m;
            re[m] = n < s->frame_length ? (x[n] / d) * p->window[n] : 0.0f;
            im[m] = n + 1 < s->frame_length ? (x[n + 1] / d) * p->window[n + 1] : 0.0f;
        }
        ek_fft_f32(re, im, half, p->twiddle_re, p->twiddle_im, 2);
        /* |X_k| once per bin the bands read (bands overlap), in place of re[k] */
        for (int32_t k = lo; k < hi; k++) { /* X[k] = (E + W^k (-i D)) / 2, E/D = Z[k] +/- conj(Z[M - k]) */
            int32_t a = k % half, c = (half - k) % half;
            float er = re[a] + re[c], ei = im[a] - im[c];
            float orr = im[a] + im[c], oi = re[c] - re[a];
            float wr = k < half ? p->twiddle_re[k] : -1.0f, wi = k < half ? p->twiddle_im[k] : 0.0f;
            float xr = 0.5f * (er + (orr * wr - oi * wi)), xi = 0.5f * (ei + (orr * wi + oi * wr));
            bins[k] = sqrtf(xr * xr + xi * xi);
        }
        const float *w = p->mel_weights;
        for (int32_t j = 0; j < s->num_mel_bins; j++) {
            float acc = 0.0f;
            for (int32_t c = 0; c < s->mel_count[j]; c++) acc += bins[s->mel_start[j] + c] * w[c];
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
