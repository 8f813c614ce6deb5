/* ek_mfcc_s32.c - integer MFCC (ek_mfcc.h): int16 PCM in, Q16 out, no floating point.
 * Bit-exact with quantize/nn/mfcc_fixed.py, whose docstring gives the arithmetic step by step. */
#include "ek_mfcc.h"

#define EK_MFCC_Q_WIN 30
#define EK_MFCC_Q_W 15
#define EK_MFCC_Q_LOG 24
#define EK_MFCC_Q_DCT 30
#define EK_MFCC_Q_OUT 16
#define EK_MFCC_LOG2_BITS 8
#define EK_MFCC_FFT_GAIN 1 /* the real-input FFT step computes 2 X[k] */

int32_t ek_mfcc_s32_scratch_bytes(int32_t fft_length, int32_t num_mel_bins) {
    return (int32_t)sizeof(int32_t) * (2 * fft_length + num_mel_bins);
}

static int32_t ek_bitlen64(uint64_t v) {
    int32_t n = 0;
    if (v >> 32) { n += 32; v >>= 32; }
    if (v >> 16) { n += 16; v >>= 16; }
    if (v >> 8) { n += 8; v >>= 8; }
    if (v >> 4) { n += 4; v >>= 4; }
    if (v >> 2) { n += 2; v >>= 2; }
    if (v >> 1) { n += 1; v >>= 1; }
    return n + (int32_t)v;
}

static uint32_t ek_isqrt32(uint32_t n) { /* floor(sqrt(n)), digit by digit */
    uint32_t res = 0, bit = (uint32_t)1 << 30;
    while (bit > n) bit >>= 2;
    while (bit) {
        if (n >= res + bit) {
            n -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return res;
}

/* |X| from re^2 + im^2 (< 2^62): isqrt(p >> e) << (e / 2), e the smallest even shift bringing p
 * under 2^32 (32-bit arithmetic; 16 significant bits). */
static int32_t ek_magnitude(uint64_t power) {
    int32_t e = ek_bitlen64(power) - 32;
    if (e < 0) e = 0;
    e += e & 1;
    return (int32_t)(ek_isqrt32((uint32_t)(power >> e)) << (e / 2));
}

/* log2(y) in Q24 for y >= 1: exponent + table of log2(1 + i/256), linear interpolation. */
static int64_t ek_log2_q24(uint64_t y, const int32_t *table) {
    int32_t p = ek_bitlen64(y) - 1;
    uint64_t mant = p >= 30 ? y >> (p - 30) : y << (30 - p);
    int64_t frac = (int64_t)mant - ((int64_t)1 << 30);
    int32_t idx = (int32_t)(frac >> (30 - EK_MFCC_LOG2_BITS));
    int64_t r = frac & (((int64_t)1 << (30 - EK_MFCC_LOG2_BITS)) - 1);
    int64_t lo = table[idx], hi = table[idx + 1];
    int64_t val = lo + (((hi - lo) * r + ((int64_t)1 << (30 - EK_MFCC_LOG2_BITS - 1))) >> (30 - EK_MFCC_LOG2_BITS));
    return (int64_t)p * ((int64_t)1 << EK_MFCC_Q_LOG) + val;
}

/* Radix-2 DIT FFT of n points in place; twiddle j of a stage of `size` points is table entry
 * j * (n / size) * tw_stride (the table is that of n * tw_stride points). */
static void ek_fft_s32(int32_t *re, int32_t *im, int32_t n, const int32_t *tw_re, const int32_t *tw_im,
                       int32_t tw_stride) {
    int32_t i, j = 0;
    for (i = 1; i < n; i++) { /* bit-reversal permutation */
        int32_t bit = n >> 1;
        while (j & bit) {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if (i < j) {
            int32_t t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    const int64_t rnd = (int64_t)1 << 29;
    for (int32_t size = 2; size <= n; size <<= 1) {
        int32_t half = size >> 1, step = n / size * tw_stride;
        for (int32_t start = 0; start < n; start += size) {
            for (int32_t k = 0; k < half; k++) {
                int64_t wr = tw_re[k * step], wi = tw_im[k * step];
                int32_t a = start + k, b = a + half;
                int32_t tr = (int32_t)(((int64_t)re[b] * wr - (int64_t)im[b] * wi + rnd) >> 30);
                int32_t ti = (int32_t)(((int64_t)re[b] * wi + (int64_t)im[b] * wr + rnd) >> 30);
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
    }
}

static int8_t ek_q16_to_s8_one(int32_t v, int32_t multiplier, int32_t total, int32_t zero_point) {
    int64_t x = (int64_t)v * multiplier, half = (int64_t)1 << (total - 1);
    int64_t r = (x >= 0 ? (x + half) >> total : -((-x + half) >> total)) + zero_point;
    return (int8_t)(r < -128 ? -128 : (r > 127 ? 127 : r));
}

static int32_t ek_s8_quant_ok(const ek_mfcc_s8_quant_t *q) {
    return q != 0 && q->multiplier > 0 && EK_MFCC_Q_OUT + q->shift >= 1 && EK_MFCC_Q_OUT + q->shift <= 62;
}

/* One pass for both outputs: Q16 features (q16) or, with q, the int8 model input (s8). */
static ek_status_t ek_mfcc_s32_run(const ek_ctx_t *ctx, const ek_mfcc_s32_params_t *p, const int16_t *audio,
                                   int32_t *features_q16, const ek_mfcc_s8_quant_t *q, int8_t *features_s8) {
    const ek_mfcc_shape_t *s = &p->s;
    if (ctx == 0 || audio == 0 || (features_q16 == 0 && features_s8 == 0) || !ek_mfcc_shape_ok(s) ||
        p->headroom_bits < 2 || p->headroom_bits > 30 || (features_s8 != 0 && !ek_s8_quant_ok(q)))
        return EK_ERR_ARG;
    if (ctx->scratch == 0 || ctx->scratch_bytes < (uint32_t)ek_mfcc_s32_scratch_bytes(s->fft_length, s->num_mel_bins)) return EK_ERR_SCRATCH;
    /* scratch (2 * fft_length + num_mel_bins words): Z = re + i im (fft_length / 2 each), the
     * magnitudes by bin (up to fft_length / 2 + 1), the log-mel energies */
    const int32_t half = s->fft_length / 2;
    int32_t *re = (int32_t *)ctx->scratch, *im = re + half, *bins = im + half, *logmel = re + 2 * s->fft_length;
    /* m = max(x); where max(x) <= 0, max|x|; an all-zero clip: 1 */
    int32_t top = audio[0], mag = 0;
    for (int32_t i = 0; i < s->clip_samples; i++) {
        int32_t a = audio[i];
        if (a > top) top = a;
        if ((a < 0 ? -a : a) > mag) mag = a < 0 ? -a : a;
    }
    int64_t m = top > 0 ? top : (mag > 0 ? mag : 1);
    int64_t log2m = ek_log2_q24((uint64_t)m, p->log2_table_q24);
    int64_t mk = m * p->log_offset_q50;
    const int32_t out_shift = EK_MFCC_Q_LOG + EK_MFCC_Q_DCT - EK_MFCC_Q_OUT;
    int32_t lo, hi; /* the FFT bins the bands read */
    if (!ek_mfcc_band_range(s, &lo, &hi)) return EK_ERR_ARG;
    for (int32_t f = 0; f < s->num_frames; f++) {
        const int16_t *x = audio + f * s->frame_step;
        uint64_t amax = 0;
        for (int32_t n = 0; n < s->frame_length; n++) {
            int64_t v = (int64_t)x[n] * p->window_q30[n];
            uint64_t a = (uint64_t)(v < 0 ? -v : v);
            if (a > amax) amax = a;
        }
        int32_t bits = ek_bitlen64(amax);
        int32_t sh = (bits > 1 ? bits : 1) - p->headroom_bits; /* block floating point */
        for (int32_t n = 0; n < s->fft_length; n++) { /* z[m] = v[2m] + i v[2m + 1] */
            int64_t v = n < s->frame_length ? (int64_t)x[n] * p->window_q30[n] : 0;
            int32_t q = sh > 0 ? (int32_t)((v + ((int64_t)1 << (sh - 1))) >> sh) : (int32_t)(v * ((int64_t)1 << -sh));
            if (n & 1)
                im[n >> 1] = q;
            else
                re[n >> 1] = q;
        }
        ek_fft_s32(re, im, half, p->twiddle_re_q30, p->twiddle_im_q30, 2);
        int32_t s2 = 50 - EK_MFCC_Q_WIN - EK_MFCC_Q_W - EK_MFCC_FFT_GAIN + sh; /* the log offset in mel's units */
        int64_t offset = s2 > 0 ? (mk + ((int64_t)1 << (s2 - 1))) >> s2 : mk * ((int64_t)1 << -s2);
        int64_t units = (int64_t)(sh - EK_MFCC_Q_WIN - EK_MFCC_Q_W - EK_MFCC_FFT_GAIN) * ((int64_t)1 << EK_MFCC_Q_LOG) - log2m;
        /* |X_k| once per bin the bands read (bands overlap), in place of re[k] */
        for (int32_t k = lo; k < hi; k++) { /* 2 X[k] = E + W^k (-i D), E/D = Z[k] +/- conj(Z[M - k]) */
            int32_t a = k % half, c = (half - k) % half;
            int64_t er = (int64_t)re[a] + re[c], ei = (int64_t)im[a] - im[c];
            int64_t orr = (int64_t)im[a] + im[c], oi = (int64_t)re[c] - re[a];
            int64_t wr = k < half ? p->twiddle_re_q30[k] : -(int64_t)p->twiddle_re_q30[0];
            int64_t wi = k < half ? p->twiddle_im_q30[k] : -(int64_t)p->twiddle_im_q30[0];
            const int64_t rnd = (int64_t)1 << 29;
            int64_t xr = er + ((orr * wr - oi * wi + rnd) >> 30);
            int64_t xi = ei + ((orr * wi + oi * wr + rnd) >> 30);
            bins[k] = ek_magnitude((uint64_t)(xr * xr + xi * xi));
        }
        const int32_t *w = p->mel_weights_q15;
        for (int32_t j = 0; j < s->num_mel_bins; j++) {
            int64_t acc = 0;
            for (int32_t c = 0; c < s->mel_count[j]; c++) acc += (int64_t)bins[s->mel_start[j] + c] * w[c];
            w += s->mel_count[j];
            logmel[j] = (int32_t)(ek_log2_q24((uint64_t)(acc + offset), p->log2_table_q24) + units);
        }
        for (int32_t k = 0; k < s->num_coefficients; k++) {
            const int32_t *row = p->dct_q30 + k * s->num_mel_bins;
            int64_t acc = 0;
            for (int32_t j = 0; j < s->num_mel_bins; j++) acc += (int64_t)row[j] * logmel[j];
            int32_t c = (int32_t)((acc + ((int64_t)1 << (out_shift - 1))) >> out_shift);
            if (features_s8 != 0)
                features_s8[f * s->num_coefficients + k] =
                    ek_q16_to_s8_one(c, q->multiplier, EK_MFCC_Q_OUT + q->shift, q->zero_point);
            else
                features_q16[f * s->num_coefficients + k] = c;
        }
    }
    return EK_OK;
}

ek_status_t ek_mfcc_s32(const ek_ctx_t *ctx, const ek_mfcc_s32_params_t *p, const int16_t *audio,
                        int32_t *features_q16) {
    if (features_q16 == 0) return EK_ERR_ARG;
    return ek_mfcc_s32_run(ctx, p, audio, features_q16, 0, 0);
}

ek_status_t ek_mfcc_s8(const ek_ctx_t *ctx, const ek_mfcc_s32_params_t *p, const ek_mfcc_s8_quant_t *q,
                       const int16_t *audio, int8_t *features) {
    if (features == 0) return EK_ERR_ARG;
    return ek_mfcc_s32_run(ctx, p, audio, 0, q, features);
}

ek_status_t ek_mfcc_q16_to_s8(const int32_t *features_q16, int32_t n, int32_t multiplier, int32_t shift,
                              int32_t zero_point, int8_t *out) {
    ek_mfcc_s8_quant_t q = {multiplier, shift, zero_point};
    if (features_q16 == 0 || out == 0 || n < 0 || !ek_s8_quant_ok(&q)) return EK_ERR_ARG;
    for (int32_t i = 0; i < n; i++) out[i] = ek_q16_to_s8_one(features_q16[i], multiplier, EK_MFCC_Q_OUT + shift, zero_point);
    return EK_OK;
}
