/* Reference kernel-SVM kernels. */
#include <math.h>
#include "ek_svm.h"

static float dot(const float *a, const float *b, uint32_t n)
{
    float acc = 0.0f;
    for (uint32_t i = 0; i < n; i++) acc += a[i] * b[i];
    return acc;
}

void ek_svm_kernel_f32(const ek_ctx_t *ctx, const ek_svm_t *m, const float *x, float *kvals)
{
    (void)ctx;
    const uint32_t nf = m->n_features;
    for (uint32_t i = 0; i < m->n_sv; i++) {
        const float *s = &m->sv[i * nf];
        float k;
        switch (m->kernel) {
        case EK_KERNEL_RBF: {
            float d2 = 0.0f;
            for (uint32_t f = 0; f < nf; f++) {
                const float d = s[f] - x[f];
                d2 += d * d;
            }
            k = expf(-m->gamma * d2);
            break;
        }
        case EK_KERNEL_POLY: {
            const float base = m->gamma * dot(s, x, nf) + m->coef0;
            k = 1.0f;
            for (uint32_t p = 0; p < m->degree; p++) k *= base;
            break;
        }
        case EK_KERNEL_SIGMOID:
            k = tanhf(m->gamma * dot(s, x, nf) + m->coef0);
            break;
        default:
            k = dot(s, x, nf);
            break;
        }
        kvals[i] = k;
    }
}

uint32_t ek_svm_scratch_bytes(uint32_t n_sv, uint32_t n_classes)
{
    const uint32_t n_pairs = n_classes * (n_classes > 0u ? n_classes - 1u : 0u) / 2u;
    return (n_sv + 2u * n_classes + n_pairs) * (uint32_t)sizeof(float);
}

/* One-vs-one decisions into dec[], libsvm's pair order (i < j). */
static void ovo_decisions(const ek_svm_t *m, const float *kvals, float *dec)
{
    const uint32_t nc = m->n_classes;
    uint32_t p = 0;
    for (uint32_t i = 0; i < nc; i++) {
        for (uint32_t j = i + 1u; j < nc; j++, p++) {
            float d = m->intercept[p];
            const float *ci = &m->dual_coef[(j - 1u) * m->n_sv];
            const float *cj = &m->dual_coef[i * m->n_sv];
            for (int32_t s = m->sv_start[i]; s < m->sv_start[i + 1u]; s++) d += ci[s] * kvals[s];
            for (int32_t s = m->sv_start[j]; s < m->sv_start[j + 1u]; s++) d += cj[s] * kvals[s];
            dec[p] = d;
        }
    }
}

int32_t ek_svm_classify_f32(const ek_ctx_t *ctx, const ek_svm_t *m, const float *x, float *dec)
{
    float *kvals = (float *)ctx->scratch;
    uint32_t *votes = (uint32_t *)&kvals[m->n_sv];
    const uint32_t nc = m->n_classes;
    const uint32_t n_pairs = nc * (nc - 1u) / 2u;
    if (m->kernel == EK_KERNEL_LINEAR_PRIMAL) {
        for (uint32_t p = 0; p < n_pairs; p++) dec[p] = m->intercept[p] + dot(&m->sv[p * m->n_features], x, m->n_features);
    } else {
        ek_svm_kernel_f32(ctx, m, x, kvals);
        if (nc == 2u) {
            float d = m->intercept[0];
            for (uint32_t s = 0; s < m->n_sv; s++) d += m->dual_coef[s] * kvals[s];
            dec[0] = d;
        } else {
            ovo_decisions(m, kvals, dec);
        }
    }
    if (nc == 2u) return dec[0] > 0.0f ? 1 : 0;
    for (uint32_t c = 0; c < nc; c++) votes[c] = 0u;
    uint32_t p = 0;
    for (uint32_t i = 0; i < nc; i++) {
        for (uint32_t j = i + 1u; j < nc; j++, p++) votes[dec[p] > 0.0f ? i : j]++;
    }
    uint32_t best = 0;
    for (uint32_t c = 1; c < nc; c++) {
        if (votes[c] > votes[best]) best = c; /* first class with most votes, as libsvm */
    }
    return (int32_t)best;
}

float ek_svm_regress_f32(const ek_ctx_t *ctx, const ek_svm_t *m, const float *x)
{
    if (m->kernel == EK_KERNEL_LINEAR_PRIMAL) return m->intercept[0] + dot(m->sv, x, m->n_features);
    float *kvals = (float *)ctx->scratch;
    ek_svm_kernel_f32(ctx, m, x, kvals);
    float d = m->intercept[0];
    for (uint32_t s = 0; s < m->n_sv; s++) d += m->dual_coef[s] * kvals[s];
    return d;
}

void ek_svm_ovr_from_ovo_f32(const float *dec, uint32_t n_classes, float *conf, float *out)
{
    /* sklearn.utils.multiclass._ovr_decision_function with predictions = dec < 0. */
    const uint32_t nc = n_classes;
    for (uint32_t c = 0; c < nc; c++) {
        out[c] = 0.0f;
        conf[c] = 0.0f;
    }
    uint32_t p = 0;
    for (uint32_t i = 0; i < nc; i++) {
        for (uint32_t j = i + 1u; j < nc; j++, p++) {
            conf[i] -= -dec[p];
            conf[j] += -dec[p];
            if (dec[p] < 0.0f) out[j] += 1.0f;
            else out[i] += 1.0f;
        }
    }
    for (uint32_t c = 0; c < nc; c++) out[c] += conf[c] / (3.0f * (fabsf(conf[c]) + 1.0f));
}
