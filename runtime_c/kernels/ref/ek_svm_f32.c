/* Reference kernel-SVM kernels. */
#include <math.h>
#include "ek_parallel.h"
#include "ek_svm.h"

static float dot(const float *a, const float *b, uint32_t n)
{
    float acc = 0.0f;
    for (uint32_t i = 0; i < n; i++) acc += a[i] * b[i];
    return acc;
}

static float kernel_value(const ek_svm_t *m, const float *s, const float *x)
{
    const uint32_t nf = m->n_features;
    switch (m->kernel) {
    case EK_KERNEL_RBF: {
        float d2 = 0.0f;
        for (uint32_t f = 0; f < nf; f++) {
            const float d = s[f] - x[f];
            d2 += d * d;
        }
        return expf(-m->gamma * d2);
    }
    case EK_KERNEL_POLY: {
        const float base = m->gamma * dot(s, x, nf) + m->coef0;
        float k = 1.0f;
        for (uint32_t p = 0; p < m->degree; p++) k *= base;
        return k;
    }
    case EK_KERNEL_SIGMOID:
        return tanhf(m->gamma * dot(s, x, nf) + m->coef0);
    default:
        return dot(s, x, nf);
    }
}

typedef struct {
    const ek_svm_t *m;
    const float *x;
    float *out;
} svm_job_t;

/* Support vectors split across the team (LINEAR_PRIMAL: class pairs, one row each). */
static void kernel_rows(void *arg)
{
    const svm_job_t *j = (const svm_job_t *)arg;
    uint32_t begin, end;
    ek_team_slice(j->m->n_sv, &begin, &end);
    for (uint32_t i = begin; i < end; i++) {
        const float *s = &j->m->sv[i * j->m->n_features];
        j->out[i] = j->m->kernel == EK_KERNEL_LINEAR_PRIMAL ? j->m->intercept[i] + dot(s, j->x, j->m->n_features)
                                                             : kernel_value(j->m, s, j->x);
    }
}

void ek_svm_kernel_f32(const ek_ctx_t *ctx, const ek_svm_t *m, const float *x, float *kvals)
{
    svm_job_t job = {m, x, kvals};
    ek_team_fork(ctx->n_cores, kernel_rows, &job);
}

uint32_t ek_svm_scratch_bytes(uint32_t n_sv, uint32_t n_classes)
{
    const uint32_t n_pairs = n_classes * (n_classes > 0u ? n_classes - 1u : 0u) / 2u;
    return (n_sv + 2u * n_classes + n_pairs) * (uint32_t)sizeof(float);
}

typedef struct {
    const ek_svm_t *m;
    const float *kvals;
    float *dec;
} ovo_job_t;

/* One-vs-one decisions into dec[], libsvm's pair order (i < j); pairs split across the team,
 * each pair's sum in support-vector order. */
static void ovo_pairs(void *arg)
{
    const ovo_job_t *j = (const ovo_job_t *)arg;
    const ek_svm_t *m = j->m;
    const uint32_t nc = m->n_classes;
    uint32_t begin, end;
    ek_team_slice(nc * (nc - 1u) / 2u, &begin, &end);
    uint32_t p = 0;
    for (uint32_t i = 0; i < nc; i++) {
        for (uint32_t k = i + 1u; k < nc; k++, p++) {
            if (p < begin || p >= end) continue;
            float d = m->intercept[p];
            const float *ci = &m->dual_coef[(k - 1u) * m->n_sv];
            const float *ck = &m->dual_coef[i * m->n_sv];
            for (int32_t s = m->sv_start[i]; s < m->sv_start[i + 1u]; s++) d += ci[s] * j->kvals[s];
            for (int32_t s = m->sv_start[k]; s < m->sv_start[k + 1u]; s++) d += ck[s] * j->kvals[s];
            j->dec[p] = d;
        }
    }
}

static void ovo_decisions(const ek_ctx_t *ctx, const ek_svm_t *m, const float *kvals, float *dec)
{
    ovo_job_t job = {m, kvals, dec};
    ek_team_fork(ctx->n_cores, ovo_pairs, &job);
}

int32_t ek_svm_classify_f32(const ek_ctx_t *ctx, const ek_svm_t *m, const float *x, float *dec)
{
    float *kvals = (float *)ctx->scratch;
    uint32_t *votes = (uint32_t *)&kvals[m->n_sv];
    const uint32_t nc = m->n_classes;
    if (m->kernel == EK_KERNEL_LINEAR_PRIMAL) {
        ek_svm_kernel_f32(ctx, m, x, dec); /* one weight row per pair: the rows are the decisions */
    } else {
        ek_svm_kernel_f32(ctx, m, x, kvals);
        if (nc == 2u) {
            float d = m->intercept[0];
            for (uint32_t s = 0; s < m->n_sv; s++) d += m->dual_coef[s] * kvals[s];
            dec[0] = d;
        } else {
            ovo_decisions(ctx, m, kvals, dec);
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
