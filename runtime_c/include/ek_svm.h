/* ek_svm.h - kernel SVM (libsvm semantics): kernel values against the support vectors,
 * one-vs-one decisions, votes. */
#ifndef EK_SVM_H
#define EK_SVM_H
#include "ek_common.h"

/* LINEAR_PRIMAL: the linear kernel folded at export time; `sv` then holds one weight
 * row per class pair and the decision is row . x + intercept. */
typedef enum {
    EK_KERNEL_LINEAR = 0, EK_KERNEL_RBF = 1, EK_KERNEL_POLY = 2, EK_KERNEL_SIGMOID = 3,
    EK_KERNEL_LINEAR_PRIMAL = 4
} ek_kernel_t;

typedef struct {
    ek_kernel_t kernel;
    float gamma, coef0;
    uint32_t degree;
    const float *sv;          /* n_sv x n_features, grouped by class */
    uint32_t n_sv, n_features;
    const float *dual_coef;   /* (n_classes-1) x n_sv, libsvm layout */
    const float *intercept;   /* one per class pair (or 1) */
    const int32_t *sv_start;  /* n_classes+1 offsets into sv */
    uint32_t n_classes;       /* 2+ for classifiers; 0 for regression */
} ek_svm_t;

/* Kernel values k(sv_i, x) for every support vector into kvals[n_sv]. */
void ek_svm_kernel_f32(const ek_ctx_t *ctx, const ek_svm_t *m, const float *x, float *kvals);

/* Classifier. dec receives the n_pairs one-vs-one decisions (libsvm order; for 2 classes
 * the single value whose sign selects class 1). Returns the class index. */
int32_t ek_svm_classify_f32(const ek_ctx_t *ctx, const ek_svm_t *m, const float *x, float *dec);

/* Regression (SVR): sum dual_coef * k + intercept. */
float ek_svm_regress_f32(const ek_ctx_t *ctx, const ek_svm_t *m, const float *x);

/* scikit-learn's 'ovr' shape from ovo decisions: votes plus bounded confidences. */
void ek_svm_ovr_from_ovo_f32(const float *dec, uint32_t n_classes, float *conf, float *out);

/* Scratch layout: kvals[n_sv] | votes[n_classes] | dec[n_pairs] | conf[n_classes]. */
uint32_t ek_svm_scratch_bytes(uint32_t n_sv, uint32_t n_classes);

#endif
